# Copyright (c) pgmlops authors
#
# t/020_hnsw_replica.pl: a streaming standby replays the hnsw index's WAL
# (build, inserts, deletes and VACUUM on the primary) and answers nearest
# neighbour queries through the index with the same rows as the primary.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $dim = 24;
my $gen = sub {
	my ($n) = @_;
	return "INSERT INTO items (embedding) SELECT (SELECT array_agg(random()::real) FROM generate_series(1, $dim) WHERE g > 0)::vector($dim) FROM generate_series(1, $n) g;";
};

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf(
	'postgresql.conf', qq{
log_statement = none
shared_buffers = 32MB
max_connections = 20
maintenance_work_mem = 64MB
});
$primary->start;
$primary->safe_psql(
	'postgres', qq{
CREATE EXTENSION pgmlops;
CREATE TABLE items (id bigserial PRIMARY KEY, embedding vector($dim));
SELECT setseed(0.125);
} . $gen->(3000));

# The standby starts before the index exists, so the build itself reaches
# it through WAL.
$primary->backup('bkp');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'bkp', has_streaming => 1);
$standby->start;

$primary->safe_psql('postgres',
	"CREATE INDEX items_embedding_idx ON items USING hnsw (embedding vector_l2_ops) WITH (m = 16, ef_construction = 64)"
);
$primary->safe_psql(
	'postgres', $gen->(2000) . qq{
DELETE FROM items WHERE id % 5 = 0;
VACUUM items;
} . $gen->(700) . qq{
UPDATE items SET embedding = (SELECT array_agg(random()::real) FROM generate_series(1, $dim) WHERE id > 0)::vector($dim)
 WHERE id % 7 = 0;
VACUUM items;
});
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
pass('standby caught up with the index build, inserts, deletes and vacuum');

my $settings = "SET enable_seqscan = off; SET enable_bitmapscan = off; SET hnsw.ef_search = 64;";

# Fixed query vectors, the same on both servers.
srand(7);
my @queries;
for my $q (1 .. 25)
{
	push @queries,
	  '[' . join(',', map { sprintf('%.4f', rand()) } 1 .. $dim) . ']';
}

for my $node ($primary, $standby)
{
	my $plan = $node->safe_psql('postgres',
		"$settings EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY embedding <-> '$queries[0]' LIMIT 10"
	);
	like($plan, qr/Index Scan using items_embedding_idx/,
		$node->name . ': the query uses the hnsw index');
}

my ($same, $nonempty) = (0, 0);
for my $q (@queries)
{
	my $sql =
	  "$settings SELECT string_agg(id::text, ',') FROM (SELECT id FROM items ORDER BY embedding <-> '$q' LIMIT 10) s";
	my $p = $primary->safe_psql('postgres', $sql);
	my $s = $standby->safe_psql('postgres', $sql);
	$same++ if $p eq $s;
	$nonempty++ if scalar(split /,/, $p) == 10;
	note "primary $p / standby $s" if $p ne $s;
}
is($nonempty, scalar @queries, 'primary returns 10 rows for every query');
is($same, scalar @queries,
	'standby returns the same top-10 as the primary for every query');

# The filtered, iterative form too.
my $fsql =
  "$settings SET hnsw.iterative_scan = relaxed_order; SELECT string_agg(id::text, ',') FROM (SELECT id FROM items WHERE id % 10 = 3 ORDER BY embedding <-> '$queries[1]' LIMIT 50) s";
my $fp = $primary->safe_psql('postgres', $fsql);
is($standby->safe_psql('postgres', $fsql), $fp,
	'standby answers a filtered iterative scan like the primary');
is(scalar(split /,/, $fp), 50, 'the filtered iterative scan returns the full LIMIT');

# On the standby the index agrees with exact search (an ORDER BY expression
# that is not a bare distance operator cannot use the index).
my $qlist = join(',', map { "'$_'::vector($dim)" } @queries[2 .. 11]);
my $agree = $standby->safe_psql(
	'postgres', qq{
SET hnsw.ef_search = 200;
SET enable_seqscan = off;
SELECT count(*) FROM unnest(ARRAY[$qlist]) q(v),
  LATERAL (SELECT id FROM items ORDER BY embedding <-> q.v LIMIT 10) a
 WHERE a.id IN (SELECT id FROM items ORDER BY (embedding <-> q.v) + 0 LIMIT 10);
});
cmp_ok($agree, '>=', 95,
	"standby index top-10 agrees with exact search ($agree of 100)");

$standby->stop;
$primary->stop;
done_testing();
