# Copyright (c) pgmlops authors
#
# t/061_ml_registry.pl: the model registry across sessions.
# - A session that keeps its connection sees every alias move (deploy,
#   rollback, set_alias) made by another session at its next statement,
#   through its cache of loaded models, also inside a read-committed
#   transaction; a function that deploys or rolls back sees the move at
#   its next query, and not one a rolled back subtransaction made; a
#   REPEATABLE READ transaction keeps the version its snapshot names until
#   it ends.
# - pgbench clients predict while another session deploys and rolls back
#   50 times: every prediction is one of the two versions' values, never an
#   error, and both are seen.
# - A long training is listed in mlops.training_progress while it runs, is
#   cancelled (pg_cancel_backend, statement_timeout) with "canceling
#   statement", and registers nothing.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('ml_registry');
$node->init;
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'pgmlops'
log_statement = none
max_connections = 20
});
$node->start;

# two versions of model m that predict differently for the same input
$node->safe_psql(
	'postgres', q{
CREATE EXTENSION pgmlops;
CREATE TABLE d1 AS SELECT i::float8 AS x1, (i % 7)::float8 AS x2, (2 * i + 3 * (i % 7) + 1)::float8 AS y
  FROM generate_series(1, 200) i;
CREATE TABLE d2 AS SELECT x1, x2, (-y + 500)::float8 AS y FROM d1;
SELECT version FROM mlops.train('m', 'd1', 'y', 'linear_regression');
SELECT version FROM mlops.train('m', 'd2', 'y', 'linear_regression');
CREATE TABLE seen (p float8);
});
my $input = 'ARRAY[10, 3]::float8[]';
my $v1 = $node->safe_psql('postgres', "SELECT mlops.predict('m\@1', $input)");
my $v2 = $node->safe_psql('postgres', "SELECT mlops.predict('m\@2', $input)");
isnt($v1, $v2, "versions 1 and 2 predict differently ($v1, $v2)");
is($node->safe_psql('postgres', "SELECT version FROM mlops.model_aliases WHERE model = 'm' AND alias = 'production'"),
	'1', 'the first version is in production');

# --- cache invalidation across sessions ---------------------------------
my $a = $node->background_psql('postgres');
my $predict = "SELECT mlops.predict('m', $input)";
is($a->query_safe($predict), $v1, 'session A predicts with version 1');
# load more references into A's cache
is($a->query_safe("SELECT mlops.predict('m\@2', $input)"), $v2, 'session A predicts with m@2');

$node->safe_psql('postgres', "SELECT mlops.deploy('m', 2)");
is($a->query_safe($predict), $v2, 'A sees the deployment of version 2 without reconnecting');
$node->safe_psql('postgres', "SELECT mlops.rollback('m')");
is($a->query_safe($predict), $v1, 'A sees the rollback to version 1');
$node->safe_psql('postgres', "SELECT mlops.set_alias('m', 'staging', 2)");
is($a->query_safe("SELECT mlops.predict('m\@staging', $input)"), $v2, 'A sees a new alias');
$node->safe_psql('postgres', "SELECT mlops.set_alias('m', 'staging', 1)");
is($a->query_safe("SELECT mlops.predict('m\@staging', $input)"), $v1, 'A sees the alias move');

# per-row predict in a query over many rows, in a session that already
# predicted (the call site's state is rebuilt when the alias moves)
my $many = "SELECT count(DISTINCT mlops.predict('m', ROW(10::float8, 3::float8))) || ':' || "
  . "min(mlops.predict('m', ROW(10::float8, 3::float8))) FROM generate_series(1, 1000)";
is($a->query_safe($many), "1:$v1", 'a 1000-row query predicts with version 1');
$node->safe_psql('postgres', "SELECT mlops.deploy('m', 2)");
is($a->query_safe($many), "1:$v2", 'the next 1000-row query predicts with version 2');
is($a->query_safe("SELECT min(prediction) FROM mlops.predict_batch('m', 'SELECT 10::float8 AS x1, 3::float8 AS x2')"),
	$v2, 'predict_batch in A uses version 2');
$node->safe_psql('postgres', "SELECT mlops.rollback('m')");

# a REPEATABLE READ transaction keeps its snapshot's version
$a->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
is($a->query_safe($predict), $v1, 'A (repeatable read) predicts with version 1');
$node->safe_psql('postgres', "SELECT mlops.deploy('m', 2)");
is($a->query_safe($predict), $v1, 'A keeps version 1 inside its snapshot');
$a->query_safe('COMMIT');
is($a->query_safe($predict), $v2, 'A predicts with version 2 after its transaction');
# a move rolled back in another session is never seen
$node->psql('postgres', "BEGIN; SELECT mlops.rollback('m'); ROLLBACK;");
is($a->query_safe($predict), $v2, 'A does not see a rolled back move');
$node->safe_psql('postgres', "SELECT mlops.rollback('m')");
is($a->query_safe($predict), $v1, 'A is back on version 1');

# a READ COMMITTED transaction sees another session's deploy at its next
# statement, as a query of mlops.model_aliases would
$a->query_safe('BEGIN');
is($a->query_safe($predict), $v1, 'A (read committed transaction) predicts with version 1');
$node->safe_psql('postgres', "SELECT mlops.deploy('m', 2)");
is($a->query_safe($predict), $v2, 'A sees the deployment at its next statement, in the same transaction');
$a->query_safe('COMMIT');
$node->safe_psql('postgres', "SELECT mlops.rollback('m')");

# inside one top-level statement, a function sees each of its own moves at
# its next query, and not a move that a rolled back subtransaction made
$node->safe_psql(
	'postgres', q{
CREATE FUNCTION moves(v int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	r text;
BEGIN
	r := mlops.predict('m', ARRAY[10, 3]::float8[])::text;
	PERFORM mlops.deploy('m', v);
	r := r || ' ' || mlops.predict('m', ARRAY[10, 3]::float8[]);
	PERFORM mlops.rollback('m');
	r := r || ' ' || mlops.predict('m', ARRAY[10, 3]::float8[]);
	BEGIN
		PERFORM mlops.deploy('m', v);
		r := r || ' ' || mlops.predict('m', ARRAY[10, 3]::float8[]);
		RAISE EXCEPTION 'undo';
	EXCEPTION WHEN raise_exception THEN
		r := r || ' ' || mlops.predict('m', ARRAY[10, 3]::float8[]);
	END;
	RETURN r;
END
$$;
});
is($a->query_safe('SELECT moves(2)'), "$v1 $v2 $v1 $v2 $v1",
	'a function predicts with each of its own deploys and rollbacks, and not with a rolled back one');

# --- concurrent predict during deploy ------------------------------------
# Every prediction must be exactly version 1's or version 2's value (else
# a division by zero, written so that the planner does not fold it).
my $deploys = 50;
my $script = '';
for my $i (1 .. $deploys / 2)
{
	$script .= "SELECT mlops.deploy('m', 2);\nSELECT pg_sleep(0.08);\n";
	$script .= "SELECT mlops.rollback('m');\nSELECT pg_sleep(0.08);\n";
}
my $dir = $node->basedir;
PostgreSQL::Test::Utils::append_to_file("$dir/deploy.sql", $script);
my ($dout, $derr) = ('', '');
my $deployer = IPC::Run::start(
	[
		'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', "$dir/deploy.sql",
		'-d', $node->connstr('postgres')
	],
	'>', \$dout, '2>', \$derr);
$node->pgbench(
	'--no-vacuum --client=2 --jobs=2 --time=10',
	0,
	[ qr{processed: [1-9]\d*}, qr{number of failed transactions: 0 } ],
	[],
	'predictions during 50 deploys and rollbacks never fail',
	{
		'predict@4' => "SELECT CASE WHEN p IN ($v1, $v2) THEN 1 ELSE 1 / (p * 0) END "
		  . "FROM (SELECT mlops.predict('m', $input) AS p) s;\n",
		'predict_row@2' => "SELECT CASE WHEN p IN ($v1, $v2) THEN 1 ELSE 1 / (p * 0) END "
		  . "FROM (SELECT mlops.predict('m', ROW(10::float8, 3::float8)) AS p) s;\n",
		'record@1' => "INSERT INTO seen SELECT CASE WHEN p IN ($v1, $v2) THEN p ELSE 1 / (p * 0) END "
		  . "FROM (SELECT mlops.predict('m', $input) AS p) s;\n",
	});
ok($deployer->finish, "the deployer moved the alias $deploys times without errors")
  or diag("deployer stderr:\n$derr");
is($node->safe_psql('postgres', "SELECT count(*) FROM mlops.alias_history WHERE model = 'm' AND alias = 'production'"),
	11 + $deploys, 'every move is in the alias history');
is($node->safe_psql('postgres', 'SELECT count(DISTINCT p) FROM seen'), '2', 'clients saw both versions');
is($a->query_safe($predict), $v1, 'A follows the last rollback');
$a->quit;

# --- cancel ----------------------------------------------------------------
$node->safe_psql(
	'postgres', q{
CREATE TABLE big AS SELECT (i % 1000)::float8 AS a, ((i * 7) % 13)::float8 AS b, (i % 97)::float8 AS y
  FROM generate_series(1, 300000) i;
});
my $long_train = q{SELECT * FROM mlops.train('big', 'big', 'y', 'xgboost', '{"n_estimators": 100000, "nthread": 1}');};
my $t = $node->background_psql('postgres', on_error_stop => 0);
my $pid = $t->query_safe('SELECT pg_backend_pid()');
$t->query_until(qr/training/, "\\echo training\n$long_train\n");
ok( $node->poll_query_until(
		'postgres',
		"SELECT phase = 'fitting' FROM mlops.training_progress WHERE pid = $pid"),
	'the training reaches the fitting phase');
is($node->safe_psql('postgres', "SELECT model, rows_read, started_at <= now() FROM mlops.training_progress WHERE pid = $pid"),
	'big|300000|t', 'training_progress shows the training from another session');
ok($node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)"), 'cancel sent');
$t->query('SELECT 1');
like($t->{stderr}, qr/canceling statement due to user request/, 'the training is cancelled');
$t->{stderr} = '';
is($t->query_safe("SELECT count(*) FROM mlops.model_versions WHERE model = 'big'"), '0',
	'a cancelled training registers no version');
is($t->query_safe("SELECT count(*) FROM mlops.models WHERE name = 'big'"), '0',
	'a cancelled training registers no model');
is($t->query_safe('SELECT count(*) FROM mlops.training_progress'), '0', 'training_progress is empty again');

# statement_timeout, on k-means (its own cancel checks)
$t->query("SET statement_timeout = '1s'");
$t->query(q{SELECT * FROM mlops.train('big', 'big', NULL, 'kmeans', '{"n_clusters": 50, "n_init": 1000, "max_iter": 1000000}')});
like($t->{stderr}, qr/canceling statement due to statement timeout/, 'statement_timeout stops a k-means training');
$t->{stderr} = '';
$t->query(q{SELECT * FROM mlops.train('big', 'big', 'y', 'xgboost', '{"n_estimators": 100000, "nthread": 1}')});
like($t->{stderr}, qr/canceling statement due to statement timeout/, 'statement_timeout stops an XGBoost training');
$t->{stderr} = '';
$t->query_safe('RESET statement_timeout');
is($t->query_safe("SELECT count(*) FROM mlops.model_versions WHERE model = 'big'"), '0',
	'timed out trainings register nothing');
is($t->query_safe('SELECT count(*) FROM mlops.training_progress'), '0', 'no training is listed');
# the session still trains and predicts
is($t->query_safe("SELECT version FROM mlops.train('small', 'd1', 'y', 'linear_regression')"), '1',
	'the session trains again after a cancel');
$t->quit;

$node->stop;
done_testing();
