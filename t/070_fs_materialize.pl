# Copyright (c) pgmlops authors
#
# t/070_fs_materialize.pl: materialization concurrent with online reads.
# Every run of the writer sets all features of every entity to one run
# number, then materializes; a second session re-materializes the same view
# at the same time (serialized with the writer).  pgbench readers fetch 50
# keys at once and fail on any torn read: all 250 values of one call must
# come from one run.  No statement may fail, and the readers must see
# several runs.
#
# Then a writer whose transaction is still running at a run commits rows
# stamped before that run's watermark: the default lookback (10 minutes)
# loads them at the next incremental run, a lookback of 0 would not.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $seconds = $ENV{PGMLOPS_CONCURRENCY_SECONDS} || 8;
my $keys = 2000;

my $node = PostgreSQL::Test::Cluster->new('materialize');
$node->init;
$node->append_conf(
	'postgresql.conf', qq{
log_statement = none
max_connections = 20
});
$node->start;

$node->safe_psql(
	'postgres', qq{
CREATE EXTENSION pgmlops;
CREATE SEQUENCE run;
CREATE TABLE src (id int, ts timestamptz, f1 bigint, f2 bigint, f3 bigint, f4 bigint, f5 bigint);
INSERT INTO src SELECT i, now(), 0, 0, 0, 0, 0 FROM generate_series(1, $keys) i;
CREATE TABLE seen (r bigint);
SELECT mlops.create_entity('thing', ARRAY['id']);
SELECT mlops.create_feature_view('tv', 'thing', 'src', 'ts', ARRAY['f1', 'f2', 'f3', 'f4', 'f5']);
SELECT mlops.create_feature_service('tsvc', ARRAY['tv:*']);
SELECT mlops.materialize('tv', '-infinity', 'infinity');
});

is( $node->safe_psql(
		'postgres',
		"SELECT feature_values FROM mlops.get_online_features('tsvc', '{\"id\": 7}')"),
	'{"f1": 0, "f2": 0, "f3": 0, "f4": 0, "f5": 0}',
	'the first materialization is readable');

my $dir = $node->basedir;

# the writer: a new run number in every row and a materialization, in one
# transaction
PostgreSQL::Test::Utils::append_to_file(
	"$dir/writer.sql", q{
BEGIN;
UPDATE src SET ts = now(), f1 = s.r, f2 = s.r, f3 = s.r, f4 = s.r, f5 = s.r
  FROM (SELECT nextval('run') AS r) s;
SELECT mlops.materialize('tv', now() - interval '1 hour', 'infinity');
COMMIT;
});
# another session re-materializes the whole source
PostgreSQL::Test::Utils::append_to_file("$dir/again.sql",
	"SELECT mlops.materialize('tv', '-infinity', 'infinity');\n");

my %bg;
for my $job ([ 'writer', 1 ], [ 'again', 1 ])
{
	my ($name, $clients) = @$job;
	my ($out, $err) = ('', '');
	$bg{$name} = [
		IPC::Run::start(
			[
				'pgbench', '-n', '-c', $clients, '-T', $seconds,
				'-f', "$dir/$name.sql", '-h', $node->host,
				'-p', $node->port, 'postgres'
			],
			'>', \$out, '2>', \$err),
		\$out, \$err
	];
}

# readers: 50 consecutive keys per call; 1 / 0 on a torn read
$node->pgbench(
	"--no-vacuum --client=2 --jobs=2 --time=$seconds",
	0,
	[ qr{processed: [1-9]\d*}, qr{number of failed transactions: 0 } ],
	[],
	'online reads during materializations never fail nor tear',
	{
		'read@3' => "\\set k random(1, $keys - 49)\n"
		  . "INSERT INTO seen SELECT CASE WHEN count(DISTINCT v.value) = 1 AND count(*) = 250 "
		  . "THEN min(v.value::text::bigint) ELSE 1 / (count(*) * 0) END "
		  . "FROM mlops.get_online_features('tsvc', "
		  . "(SELECT jsonb_agg(jsonb_build_object('id', i)) FROM generate_series(:k, :k + 49) i)) g, "
		  . "jsonb_each(g.feature_values) v;\n",
		'read_one@1' => "\\set k random(1, $keys)\n"
		  . "SELECT CASE WHEN count(DISTINCT v.value) = 1 AND count(*) = 5 THEN 1 ELSE 1 / (count(*) * 0) END "
		  . "FROM mlops.get_online_features('tsvc', jsonb_build_object('id', :k)) g, "
		  . "jsonb_each(g.feature_values) v;\n",
	});

for my $name (sort keys %bg)
{
	my ($h, $out, $err) = @{ $bg{$name} };
	ok($h->finish, "the $name session ran without errors")
	  or diag("pgbench ($name) stdout:\n$$out\nstderr:\n$$err");
	like($$out, qr{number of failed transactions: 0 }, "no failed $name transaction");
}

my $runs = $node->safe_psql('postgres', "SELECT last_value FROM run");
cmp_ok($runs, '>=', 3, "the writer ran several times ($runs)");
my $seen = $node->safe_psql('postgres', 'SELECT count(DISTINCT r) FROM seen');
cmp_ok($seen, '>=', 2, "readers saw several runs ($seen)");

# the end state: every key holds the last run
is( $node->safe_psql(
		'postgres',
		"SELECT count(*) FILTER (WHERE f1 = $runs AND f5 = $runs) || '/' || count(*) FROM mlops_online.tv_v1"),
	"$keys/$keys",
	'every online row holds the last run');
is( $node->safe_psql(
		'postgres',
		"SELECT count(*) >= $runs FROM mlops.materializations WHERE view = 'tv'"),
	't',
	'every run is recorded');

# a transaction that started before an incremental run and commits after it
$node->safe_psql(
	'postgres', q{
CREATE TABLE late (id int, ts timestamptz, v int);
INSERT INTO late VALUES (1, now() - interval '1 hour', 1);
SELECT mlops.create_feature_view('lv', 'thing', 'late', 'ts', ARRAY['v']);
SELECT mlops.create_feature_view('lv0', 'thing', 'late', 'ts', ARRAY['v AS w']);
SELECT mlops.materialize_incremental('lv');
SELECT mlops.materialize_incremental('lv0', interval '0');
});
my $w = $node->background_psql('postgres');
$w->query_safe('BEGIN');
$w->query_safe("INSERT INTO late VALUES (2, now(), 2)");
is( $node->safe_psql(
		'postgres',
		"SELECT mlops.materialize_incremental('lv') || '/' || mlops.materialize_incremental('lv0', interval '0')"),
	'0/0',
	'runs while the writer is open see nothing new');
$w->query_safe('COMMIT');
$w->quit;
is( $node->safe_psql(
		'postgres',
		"SELECT bool_and(ts < watermark) FROM late, mlops.online_state WHERE id = 2 AND view IN ('lv', 'lv0')"),
	't',
	'the committed row is behind both watermarks');
is( $node->safe_psql(
		'postgres',
		"SELECT mlops.materialize_incremental('lv') || '/' || mlops.materialize_incremental('lv0', interval '0')"),
	'1/0',
	'the default lookback loads it, none does not');
is( $node->safe_psql(
		'postgres',
		"SELECT feature_values FROM mlops.get_online_features(ARRAY['lv:v', 'lv0:w'], '{\"id\": 2}')"),
	'{"v": 2, "w": null}',
	'the late row is served');

$node->stop;
done_testing();
