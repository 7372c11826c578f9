# Copyright (c) pgmlops authors
#
# t/030_hnsw_concurrency.pl: for a minute, pgbench runs concurrent inserts,
# updates, deletes, searches (plain and filtered iterative) and VACUUMs on a
# table with an hnsw index; no statement may fail.  Afterwards the index
# still agrees with exact search and reaches the rows of the heap.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $dim = 16;
my $duration = $ENV{PGMLOPS_CONCURRENCY_SECONDS} || 60;
my $randvec = "(SELECT array_agg(random()::real)::vector($dim) FROM generate_series(1, $dim))";

my $node = PostgreSQL::Test::Cluster->new('concurrency');
$node->init;
$node->append_conf(
	'postgresql.conf', qq{
log_statement = none
max_connections = 30
shared_buffers = 64MB
work_mem = 64MB
autovacuum_naptime = 1s
});
$node->start;

$node->safe_psql(
	'postgres', qq{
CREATE EXTENSION pgmlops;
CREATE TABLE items (id bigserial PRIMARY KEY, embedding vector($dim));
SELECT setseed(0.75);
INSERT INTO items (embedding)
  SELECT (SELECT array_agg(random()::real) FROM generate_series(1, $dim) WHERE g > 0)::vector($dim)
  FROM generate_series(1, 3000) g;
CREATE INDEX items_embedding_idx ON items USING hnsw (embedding vector_l2_ops);
ALTER DATABASE postgres SET enable_seqscan = off;
});

# One client runs VACUUM every couple of seconds for the whole minute.
my $dir = $node->basedir;
PostgreSQL::Test::Utils::append_to_file("$dir/vacuum.sql",
	"VACUUM items;\n\\sleep 2 s\n");
my ($vout, $verr) = ('', '');
my $vacuum = IPC::Run::start(
	[
		'pgbench', '-n', '-c', '1', '-T', $duration, '-f', "$dir/vacuum.sql",
		'-h', $node->host, '-p', $node->port, 'postgres'
	],
	'>', \$vout, '2>', \$verr);

# Four clients mix writes and searches, weighted.
$node->pgbench(
	"--no-vacuum --client=4 --jobs=2 --time=$duration",
	0,
	[ qr{processed: [1-9]\d*}, qr{number of failed transactions: 0 } ],
	[],
	'a minute of concurrent inserts, updates, deletes, searches and vacuum',
	{
		'insert@10' => "INSERT INTO items (embedding) SELECT $randvec;\n",
		'insert_batch@2' =>
		  "INSERT INTO items (embedding) SELECT (SELECT array_agg(random()::real) FROM generate_series(1, $dim) WHERE g > 0)::vector($dim) FROM generate_series(1, 10) g;\n",
		'update@3' => "\\set id random(1, 40000)\n"
		  . "UPDATE items SET embedding = $randvec WHERE id = :id;\n",
		'delete@5' => "\\set id random(1, 40000)\n"
		  . "DELETE FROM items WHERE id IN (SELECT id FROM items WHERE id >= :id ORDER BY id LIMIT 4);\n",
		'search@10' =>
		  "SELECT id FROM items ORDER BY embedding <-> $randvec LIMIT 10;\n",
		'search_filtered@4' => "BEGIN;\n"
		  . "SET LOCAL hnsw.iterative_scan = relaxed_order;\n"
		  . "SELECT id FROM items WHERE id % 7 = 1 ORDER BY embedding <-> $randvec LIMIT 10;\n"
		  . "COMMIT;\n",
		'search_strict@2' => "BEGIN;\n"
		  . "SET LOCAL hnsw.iterative_scan = strict_order;\n"
		  . "SET LOCAL hnsw.ef_search = 20;\n"
		  . "SELECT id FROM items ORDER BY embedding <-> $randvec LIMIT 30;\n"
		  . "COMMIT;\n",
	});

ok($vacuum->finish, 'the vacuum client ran without errors')
  or diag("pgbench (vacuum) stdout:\n$vout\nstderr:\n$verr");
like($vout, qr{number of failed transactions: 0 }, 'no failed VACUUM');

$node->safe_psql('postgres', 'VACUUM items');

# relaxed_order: a strict_order scan drops rows it finds after a farther
# row was returned (as pgvector does), so only relaxed_order must reach all.
my $settings = qq{
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SET hnsw.iterative_scan = relaxed_order;
SET hnsw.max_scan_tuples = 1000000;
SET hnsw.scan_mem_multiplier = 100;
};
my $plan = $node->safe_psql('postgres',
	"$settings EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY embedding <-> $randvec LIMIT 5"
);
like($plan, qr/Index Scan using items_embedding_idx/,
	'searches use the hnsw index');

# Top-10 through the index agrees with the exact ORDER BY on a sample.
my $agree = $node->safe_psql(
	'postgres', qq{
SET hnsw.ef_search = 100;
SET enable_sort = off;
SELECT setseed(0.5);
SELECT count(*) FROM
  (SELECT (SELECT array_agg(random()::real) FROM generate_series(1, $dim) WHERE g > 0)::vector($dim) AS v
     FROM generate_series(1, 20) g) q,
  LATERAL (SELECT id FROM items ORDER BY embedding <-> q.v LIMIT 10) a
 WHERE a.id IN (SELECT id FROM items ORDER BY (embedding <-> q.v) + 0 LIMIT 10);
});
($agree) = $agree =~ /(\d+)\s*\z/;	# after setseed's empty row
cmp_ok($agree, '>=', 180,
	"index top-10 agrees with exact search after the run ($agree of 200)");

# After deletes and vacuum the graph still reaches (almost) every live row.
my $reach = $node->safe_psql(
	'postgres', qq{$settings
SELECT (SELECT count(*) FROM items) || ' ' || count(DISTINCT id) || ' ' || count(*)
  FROM (SELECT id FROM items ORDER BY embedding <-> $randvec LIMIT 10000000) s;
});
my ($heap, $seen, $returned) = split / /, $reach;
note "heap rows $heap, reached through the index $seen";
cmp_ok($seen, '>=', $heap - int($heap / 500),
	"an iterative index scan reaches the live rows ($seen of $heap)");
is($returned, $seen, 'the index returns no row twice');

$node->stop;
done_testing();
