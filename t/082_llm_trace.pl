# Copyright (c) pgmlops authors
#
# t/082_llm_trace.pl: LLM call tracing across databases and flusher restarts.
# - Calls made in two databases are written by one flusher per database,
#   each into its own mlops.llm_calls; the flushers leave when idle, so
#   DROP DATABASE right after calls succeeds.
# - Calls made in a database without the extension are discarded and
#   counted.
# - A flusher terminated (pg_terminate_backend) while it writes leaves its
#   records pending; the next call starts a new flusher, and every record
#   is written exactly once.
# - A clean shutdown saves the records not written yet; the next start
#   writes them; an immediate stop saves nothing; a copy of the data
#   directory that starts in recovery ignores them.
# The calls are made by the test-support entry point llm_trace_test.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PostgreSQL::Test::RecursiveCopy;
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('llm_trace');
$node->init(allows_streaming => 1);
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'pgmlops'
mlops.trace_buffer_calls = 4096
max_prepared_transactions = 2
log_statement = none
});
$node->start;

my $trace_fn = q{
CREATE FUNCTION trace(function text, model text, version int, provider text,
	prompt text, tokens_in bigint, tokens_out bigint, ttft_ms float8, total_ms float8,
	status text, error text, started timestamptz)
	RETURNS void AS '$libdir/pgmlops', 'llm_trace_test' LANGUAGE C VOLATILE;
};
for my $db ('db1', 'db2', 'db3')
{
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, 'CREATE EXTENSION pgmlops') unless $db eq 'db3';
	$node->safe_psql($db, $trace_fn);
}

# n calls of models PREFIX1 .. PREFIXn, with a prompt of plen bytes
sub calls
{
	my ($db, $prefix, $n, $plen) = @_;
	$node->safe_psql($db,
		"SET mlops.log_prompts = on; SELECT count(trace('generate', '$prefix' || i, 1, 'local', "
		  . "repeat('p', $plen) || i, 1, 1, 1, 1, 'ok', NULL, NULL)) FROM generate_series(1, $n) i");
}

sub status
{
	my ($field) = @_;
	return $node->safe_psql('db1', "SELECT $field FROM mlops.llm_trace_status()");
}

sub flushers
{
	my ($db) = @_;
	return $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pgmlops trace flusher' AND datname = '$db'"
	);
}

# --- two databases ------------------------------------------------------
calls('db1', 'a', 300, 100);
calls('db2', 'b', 200, 100);
is($node->safe_psql('db1', 'SELECT mlops.flush_llm_calls(20000)'), '0', 'db1 flushed');
is($node->safe_psql('db2', 'SELECT mlops.flush_llm_calls(20000)'), '0', 'db2 flushed');
is( $node->safe_psql('db1',
		"SELECT count(*) || ' ' || count(DISTINCT model) || ' ' || count(*) FILTER (WHERE model LIKE 'a%') FROM mlops.llm_calls"
	),
	'300 300 300',
	'db1 holds its 300 calls and none of db2');
is( $node->safe_psql('db2',
		"SELECT count(*) || ' ' || count(DISTINCT model) || ' ' || count(*) FILTER (WHERE model LIKE 'b%') FROM mlops.llm_calls"
	),
	'200 200 200',
	'db2 holds its 200 calls and none of db1');

# idle flushers exit, so the database can be dropped
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pgmlops trace flusher'"),
	'idle flushers exit');
calls('db2', 'c', 10, 10);
is($node->safe_psql('db2', 'SELECT mlops.flush_llm_calls(20000)'), '0', 'db2 flushed again');
$node->safe_psql('postgres', 'DROP DATABASE db2');
pass('DROP DATABASE right after calls waits for the flusher to leave');

# --- a database without the extension -----------------------------------
my $discarded = status('discarded');
calls('db3', 'd', 5, 10);
ok($node->poll_query_until('db1', "SELECT discarded = $discarded + 5 FROM mlops.llm_trace_status()"),
	'calls in a database without the extension are discarded and counted');

# --- a flusher terminated while it writes --------------------------------
# A first batch is written; a session then locks mlops.llm_calls, so that
# the flusher of the second batch waits inside its INSERT, holding its
# records, when it is terminated.
my $first = 200;
my $total = 2200;
calls('db1', 'k', $first, 8000);
is($node->safe_psql('db1', 'SELECT mlops.flush_llm_calls(20000)'), '0', 'a first batch is written');
my $locker = $node->background_psql('db1');
$locker->query_safe('BEGIN; LOCK TABLE mlops.llm_calls IN EXCLUSIVE MODE');
$node->safe_psql('db1',
	"SET mlops.log_prompts = on; SELECT count(trace('generate', 'k' || i, 1, 'local', "
	  . "repeat('p', 8000) || i, 1, 1, 1, 1, 'ok', NULL, NULL)) FROM generate_series($first + 1, $total) i");
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pgmlops trace flusher' "
		  . "AND datname = 'db1' AND wait_event_type = 'Lock'"),
	'the flusher waits inside its INSERT');
my $pid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'pgmlops trace flusher' AND datname = 'db1'");
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
ok($node->poll_query_until('postgres', "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $pid"),
	'the flusher is terminated');
$locker->query_safe('COMMIT');
$locker->quit;
is($node->safe_psql('db1', "SELECT count(*) FROM mlops.llm_calls WHERE model LIKE 'k%'"),
	$first, 'only the first batch is written');
is(status('pending'), $total - $first, 'the records of the terminated flusher are pending again');
usleep(300_000);
is(flushers('db1'), '0', 'no flusher runs until the next call');
is(status('pending'), $total - $first, 'the records wait');

# the next call starts a new flusher, which writes everything once
calls('db1', 'z', 1, 10);
ok($node->poll_query_until('db1', 'SELECT pending = 0 FROM mlops.llm_trace_status()'),
	'the next call starts a flusher that writes the pending records');
is( $node->safe_psql('db1',
		"SELECT count(*) || ' ' || count(DISTINCT model) FROM mlops.llm_calls WHERE model LIKE 'k%'"),
	"$total $total",
	'every call is written exactly once');
is(status('dropped'), '0', 'nothing was dropped');

my $log = slurp_file($node->logfile);
like($log, qr/terminating background worker "pgmlops trace flusher"/, 'the termination is in the log');
unlike($log, qr/discarded an LLM call record/, 'no record failed to be written');

$node->safe_psql('postgres', 'CREATE DATABASE db4');
$node->safe_psql('db4', 'CREATE EXTENSION pgmlops');
$node->safe_psql('db4', $trace_fn);
# The flusher is a superuser: it resolves no name through the database's
# search_path, where the database owner could have put a type or operator
$node->safe_psql('db4', q{
CREATE TABLE public.pwned (who text);
CREATE FUNCTION public.pwn(text) RETURNS bool LANGUAGE sql
	AS $$INSERT INTO public.pwned VALUES (current_user) RETURNING true$$;
CREATE DOMAIN public.name AS text CHECK (public.pwn(VALUE));
CREATE FUNCTION public.mul(bigint, numeric) RETURNS numeric LANGUAGE sql
	AS $$INSERT INTO public.pwned VALUES (current_user) RETURNING $1::numeric * $2$$;
CREATE OPERATOR public.* (LEFTARG = bigint, RIGHTARG = numeric, FUNCTION = public.mul);
INSERT INTO mlops.model_prices (model, input_per_1k, output_per_1k) VALUES ('sp1', 1, 2);
ALTER DATABASE db4 SET search_path = public, pg_catalog;
});
calls('db4', 'sp', 3, 5);
ok($node->poll_query_until('db4', 'SELECT pending = 0 FROM mlops.llm_trace_status()'),
	'calls in a database with a hostile search_path are written');
is($node->safe_psql('db4', "SELECT count(*) || ' ' || sum(cost) FROM mlops.llm_calls WHERE model LIKE 'sp%'"),
	'3 0.003', 'with their cost (1 token in at 1, 1 out at 2, per 1000)');
is($node->safe_psql('db4', 'SELECT count(*) FROM public.pwned'), '0',
	'the flusher ran none of the database owner\'s functions');

# --- a clean shutdown saves the records not written yet ------------------
# A prepared transaction holds a lock on mlops.llm_calls across stops, so
# the records of db1 stay pending: at a clean stop the flusher dies waiting
# for the lock, its records go back to the ring, and the postmaster saves
# them; the next start loads them, and they are written once the lock goes.
sub hold_lock
{
	$node->safe_psql('db1',
		"BEGIN; LOCK TABLE mlops.llm_calls IN EXCLUSIVE MODE; PREPARE TRANSACTION 'hold'");
}
my $dump = '/pg_stat/pgmlops_llm_trace.stat';
hold_lock();
calls('db1', 'sd', 40, 100);
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pgmlops trace flusher' "
		  . "AND datname = 'db1' AND wait_event_type = 'Lock'"),
	'a flusher waits for the lock as the server stops');
is(status('pending'), '40', 'with 40 records pending');
my $log_offset = -s $node->logfile;
$node->stop('fast');
like(slurp_file($node->logfile, $log_offset), qr/pgmlops saved 40 LLM call records not yet written/,
	'the postmaster saved them at shutdown');
ok(-f $node->data_dir . $dump, "into $dump");
$log_offset = -s $node->logfile;
$node->start;
like(slurp_file($node->logfile, $log_offset), qr/pgmlops loaded 40 LLM call records saved at the last shutdown/,
	'the next start loads them');
ok(!-e $node->data_dir . $dump, 'and deletes the file');
is(status('pending'), '40', 'they are pending again');
$node->safe_psql('db1', "ROLLBACK PREPARED 'hold'");
ok($node->poll_query_until('db1', "SELECT count(*) = 40 FROM mlops.llm_calls WHERE model LIKE 'sd%'"),
	'and written once the lock goes, with no call made');
is( $node->safe_psql('db1',
		"SELECT count(DISTINCT model) || ' ' || min(length(prompt)) FROM mlops.llm_calls WHERE model LIKE 'sd%'"),
	'40 101', 'each once, whole');

# an immediate stop (a crash) saves nothing
hold_lock();
calls('db1', 'im', 5, 10);
$node->stop('immediate');
ok(!-e $node->data_dir . $dump, 'an immediate stop saves nothing');
$node->start;
$node->safe_psql('db1', "ROLLBACK PREPARED 'hold'");
is($node->safe_psql('db1', 'SELECT mlops.flush_llm_calls(3000)'), '0', 'nothing is pending after the restart');
is($node->safe_psql('db1', "SELECT count(*) FROM mlops.llm_calls WHERE model LIKE 'im%'"), '0',
	'and its pending records are lost, as documented');

# a saved file is ignored by a server that starts as a standby (a copy of a
# stopped primary's data directory)
hold_lock();
calls('db1', 'sb', 3, 10);
$node->stop('fast');
ok(-f $node->data_dir . $dump, 'a clean stop saved the records');
my $copy = PostgreSQL::Test::Cluster->new('llm_trace_copy');
PostgreSQL::Test::RecursiveCopy::copypath($node->data_dir, $copy->data_dir);
chmod 0700, $copy->data_dir;
$copy->append_conf('postgresql.conf', 'port = ' . $copy->port);
$copy->append_conf('postgresql.conf', "unix_socket_directories = '" . $copy->host . "'");
open my $sig, '>', $copy->data_dir . '/standby.signal' or die "standby.signal: $!";
close $sig;
$copy->start;
ok(!-e $copy->data_dir . $dump, 'the copy that starts as a standby deletes the file');
like(slurp_file($copy->logfile), qr/pgmlops ignored ".*": the server starts as a standby or in recovery/,
	'without loading it');
$copy->promote;
$copy->poll_query_until('db1', 'SELECT NOT pg_is_in_recovery()');
$copy->safe_psql('db1', "ROLLBACK PREPARED 'hold'");
is($copy->safe_psql('db1', 'SELECT mlops.flush_llm_calls(3000)'), '0', 'so nothing is pending there');
is($copy->safe_psql('db1', "SELECT count(*) FROM mlops.llm_calls WHERE model LIKE 'sb%'"), '0',
	'and the copy writes none of them');
$copy->stop;
$node->start;
$node->safe_psql('db1', "ROLLBACK PREPARED 'hold'");
ok($node->poll_query_until('db1', "SELECT count(*) = 3 FROM mlops.llm_calls WHERE model LIKE 'sb%'"),
	'the original writes them');

$node->stop;
done_testing();
