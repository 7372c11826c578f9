# Copyright (c) pgmlops authors
#
# t/010_hnsw_crash.pl: kill -9 the whole server while several sessions insert
# into a table with an hnsw index, restart (crash recovery replays the
# index's WAL), and check that the index returns every committed row and
# agrees with an exact ORDER BY on the heap.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(usleep);

my $dim = 16;
my $randvec = "(SELECT array_agg(random()::real)::vector($dim) FROM generate_series(1, $dim))";

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->append_conf(
	'postgresql.conf', qq{
log_statement = none
max_connections = 30
shared_buffers = 32MB
work_mem = 64MB
});
$node->start;

$node->safe_psql(
	'postgres', qq{
CREATE EXTENSION pgmlops;
CREATE TABLE items (id bigserial PRIMARY KEY, embedding vector($dim));
SELECT setseed(0.25);
INSERT INTO items (embedding)
  SELECT (SELECT array_agg(random()::real) FROM generate_series(1, $dim) WHERE g > 0)::vector($dim)
  FROM generate_series(1, 2000) g;
CREATE INDEX items_embedding_idx ON items USING hnsw (embedding vector_l2_ops)
  WITH (m = 16, ef_construction = 64);
});
pass('index built on 2000 rows');

# Four sessions insert single rows, one inserts batches of 20, until killed.
my $dir = $node->basedir;
PostgreSQL::Test::Utils::append_to_file("$dir/insert_one.sql",
	"INSERT INTO items (embedding) SELECT $randvec;\n");
PostgreSQL::Test::Utils::append_to_file("$dir/insert_batch.sql",
	"INSERT INTO items (embedding) SELECT (SELECT array_agg(random()::real) FROM generate_series(1, $dim) WHERE g > 0)::vector($dim) FROM generate_series(1, 20) g;\n"
);
my ($out, $err) = ('', '');
my $bench = IPC::Run::start(
	[
		'pgbench', '-n', '-c', '5', '-j', '5', '-T', '300',
		'-f', "$dir/insert_one.sql\@4", '-f', "$dir/insert_batch.sql\@1",
		'-h', $node->host, '-p', $node->port, 'postgres'
	],
	'>', \$out, '2>', \$err);

# Let them run until a few thousand rows are in.
my $before = 0;
for (my $i = 0; $i < 300; $i++)
{
	usleep(100_000);
	$before = $node->safe_psql('postgres', 'SELECT count(*) FROM items');
	last if $before >= 6000;
}
ok($before > 2000, "concurrent inserts committed rows before the crash ($before)");

# kill -9 the whole server: freeze the postmaster so that it forks no more
# children, note its children, then SIGKILL the postmaster and every child.
my $pmpid = (split /\n/, slurp_file($node->data_dir . '/postmaster.pid'))[0];
kill 'STOP', $pmpid;
my @children;
opendir(my $proc, '/proc') or die "no /proc: $!";
for my $p (grep { /^\d+$/ } readdir $proc)
{
	open(my $fh, '<', "/proc/$p/stat") or next;
	my $stat = <$fh>;
	close $fh;
	next unless defined $stat && $stat =~ /^\d+ \(.*\) \S (\d+) /;
	push @children, $p if $1 == $pmpid;
}
closedir $proc;
$node->kill9;
kill 'KILL', @children;
note 'killed postmaster ' . $pmpid . ' and ' . scalar(@children) . ' children';
for my $p ($pmpid, @children)
{
	my $tries = 0;
	usleep(50_000) while -e "/proc/$p" && $tries++ < 200;
}
$bench->kill_kill;
$bench->finish;

my $log_offset = -s $node->logfile;
$node->start;
pass('server restarted after kill -9');
like(
	substr(slurp_file($node->logfile), $log_offset),
	qr/database system was not properly shut down; automatic recovery in progress/,
	'the restart ran crash recovery');

my $after = $node->safe_psql('postgres', 'SELECT count(*) FROM items');
cmp_ok($after, '>=', $before,
	"every row committed before the crash is still there ($after >= $before)");

# relaxed_order: a strict_order scan drops rows it finds after a farther
# row was returned (as pgvector does), so only relaxed_order must reach all.
my $settings = qq{
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SET hnsw.iterative_scan = relaxed_order;
SET hnsw.max_scan_tuples = 1000000;
SET hnsw.scan_mem_multiplier = 100;
};

sub check_index
{
	my ($label) = @_;

	my $plan = $node->safe_psql('postgres',
		"$settings EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY embedding <-> $randvec LIMIT 5"
	);
	like($plan, qr/Index Scan using items_embedding_idx/,
		"$label: the query uses the hnsw index");

	# An iterative scan through the index must reach every row of the heap.
	my $missing = $node->safe_psql(
		'postgres', qq{$settings
CREATE TEMP TABLE via_index AS
  SELECT id FROM items ORDER BY embedding <-> $randvec LIMIT 10000000;
SELECT (SELECT count(*) FROM items) || ' ' ||
       (SELECT count(*) FROM via_index) || ' ' ||
       (SELECT count(*) FROM (SELECT id FROM items EXCEPT SELECT id FROM via_index) s) || ' ' ||
       (SELECT count(*) - count(DISTINCT id) FROM via_index) || ' ' ||
       (SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '-') FROM
          (SELECT id FROM items EXCEPT SELECT id FROM via_index LIMIT 20) s);
});
	my ($heap, $seen, $lost, $dups, $ids) = split / /, $missing;
	is($lost, 0, "$label: the index returns every one of the $heap rows")
	  or diag("rows the iterative scan did not return (first 20 ids): $ids; "
		  . "ids above 2000 were inserted concurrently");
	is($dups, 0, "$label: the index returns no row twice");

	# Each row's own vector finds that row first.
	my $self_miss = $node->safe_psql(
		'postgres', qq{$settings
SET hnsw.iterative_scan = off;
SET hnsw.ef_search = 100;
SELECT count(*) FROM items i
 WHERE i.id <> (SELECT j.id FROM items j ORDER BY j.embedding <-> i.embedding LIMIT 1);
});
	cmp_ok($self_miss, '<=', int($heap / 500),
		"$label: each row's vector finds its own row ($self_miss misses of $heap)");

	# Top-10 through the index agrees with the exact ORDER BY on the heap.
	my $agree = $node->safe_psql(
		'postgres', qq{
SELECT setseed(0.5);
CREATE TEMP TABLE queries AS
  SELECT g AS qid, (SELECT array_agg(random()::real) FROM generate_series(1, $dim) WHERE g > 0)::vector($dim) AS v
  FROM generate_series(1, 20) g;
SET enable_seqscan = off;
SET hnsw.ef_search = 200;
CREATE TEMP TABLE approx AS
  SELECT q.qid, s.id FROM queries q,
    LATERAL (SELECT id FROM items ORDER BY embedding <-> q.v LIMIT 10) s;
RESET enable_seqscan;
SET enable_indexscan = off;
CREATE TEMP TABLE exact AS
  SELECT q.qid, s.id FROM queries q,
    LATERAL (SELECT id FROM items ORDER BY embedding <-> q.v LIMIT 10) s;
SELECT count(*) FROM approx JOIN exact USING (qid, id);
});
	$agree = (split /\n/, $agree)[-1];
	cmp_ok($agree, '>=', 190,
		"$label: index top-10 agrees with exact search ($agree of 200)");
}

check_index('after crash recovery');

# The recovered index still takes inserts.
$node->safe_psql('postgres',
	"INSERT INTO items (embedding) SELECT (SELECT array_agg(random()::real) FROM generate_series(1, $dim) WHERE g > 0)::vector($dim) FROM generate_series(1, 500) g"
);
check_index('after more inserts');

$node->stop;
done_testing();
