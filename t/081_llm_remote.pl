# Copyright (c) pgmlops authors
#
# t/081_llm_remote.pl: models served by a remote provider, against the test
# double t/llm_provider_double.py on 127.0.0.1.
# - Chat and embeddings through the OpenAI-compatible and Ollama APIs
#   (embedding inputs batched under embed_batch_inputs).
# - Retries on 429 (Retry-After) and 500; always 503 fails after the
#   attempts; HTML and wrongly shaped replies, redirects and timeouts give
#   clear errors with their SQLSTATE.
# - mlops.allowed_hosts: a host not on it is refused with nothing sent; an
#   ordinary role cannot change it.
# - Secrets: ordinary roles and mlops_admin cannot read mlops.secrets; the
#   secret is sent as the bearer token, but is in no error message and
#   nowhere in the server log (log_statement = all).
# - pg_cancel_backend and statement_timeout end a call to a slow provider
#   within a second.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use HTTP::Tiny;
use JSON::PP;
use Time::HiRes qw(time sleep);

my $src = $ENV{PGMLOPS_SRC} // '.';

# --- the provider double ---------------------------------------------------
my ($out, $err) = ('', '');
my $double = IPC::Run::start([ 'python3', "$src/t/llm_provider_double.py", '0', '180' ],
	'>', \$out, '2>', \$err);
my $until = time + 10;
$double->pump_nb while $out !~ /port (\d+) pid/ && time < $until && sleep(0.05) >= 0;
my ($port) = $out =~ /port (\d+) pid/;
die "the provider double did not start: $err" unless $port;
my $http = HTTP::Tiny->new(timeout => 5);

sub stats
{
	my $r = $http->get("http://127.0.0.1:$port/_stats");
	die "GET /_stats failed: $r->{status}" unless $r->{success};
	return decode_json($r->{content});
}

# --- the node ----------------------------------------------------------------
my $node = PostgreSQL::Test::Cluster->new('llm_remote');
$node->init;
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'pgmlops'
mlops.allowed_hosts = '127.0.0.1'
log_statement = all
log_min_error_statement = error
max_connections = 20
});
$node->start;

my $secret = 'sk-TopSecret4711xyz';
my $admin_secret = 'sk-AdminKey0815abc';
my $oa = "openai+http://127.0.0.1:$port";
my $ol = "ollama+http://127.0.0.1:$port";
my $hi = q{'[{"role": "user", "content": "hi there"}]'};

$node->safe_psql(
	'postgres', q{
CREATE EXTENSION pgmlops;
CREATE ROLE alice LOGIN;
CREATE ROLE bob LOGIN IN ROLE mlops_admin;
-- the documented way to keep set_secret's literal out of the log
ALTER ROLE bob SET log_statement = 'none';
ALTER ROLE bob SET log_min_error_statement = 'panic';
-- the SQLSTATE and message of a failing statement
CREATE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	st text;
	msg text;
	det text;
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN others THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
	RETURN st || ' ' || msg || ' | ' || coalesce(det, '');
END
$$;
});
# the superuser sets its secret with statement logging off in its session
$node->safe_psql('postgres',
	"SET log_statement = 'none'; SELECT mlops.set_secret('k1', '$secret')");

sub chat
{
	my ($loc, $opts) = @_;
	$opts //= '{}';
	return "SELECT mlops._remote_chat('$loc', '$opts', $hi)";
}

sub try
{
	my ($sql, %args) = @_;
	$sql =~ s/'/''/g;
	return $node->safe_psql('postgres', ($args{pre} // '') . "SELECT try('$sql')");
}

# --- chat and embeddings -------------------------------------------------------
my $j = decode_json($node->safe_psql('postgres', chat("$oa/m1")));
is($j->{text}, 'echo: hi there', 'OpenAI chat answers');
is_deeply([ $j->{finish_reason}, $j->{prompt_tokens}, $j->{completion_tokens} ],
	[ 'stop', 2, 3 ], 'OpenAI chat reports finish reason and usage');
is(stats()->{paths}[-1], '/v1/chat/completions', 'OpenAI chat posts to /v1/chat/completions');
like(stats()->{body}, qr/"model":"m1"/, 'the model name is the last path segment');

$j = decode_json($node->safe_psql('postgres', chat("$ol/m1")));
is_deeply([ $j->{text}, $j->{prompt_tokens}, $j->{completion_tokens} ],
	[ 'echo: hi there', 2, 3 ], 'Ollama chat answers with usage');
is(stats()->{paths}[-1], '/api/chat', 'Ollama chat posts to /api/chat');

# a prefix ending in /v1 is not doubled; %2F puts a slash into a model name
$node->safe_psql('postgres', chat("$oa/v1/org%2Fm2"));
is(stats()->{paths}[-1], '/v1/chat/completions', 'a /v1 prefix is not doubled');
like(stats()->{body}, qr{"model":"org/m2"}, 'a percent-encoded slash reaches the model name');

is($node->safe_psql('postgres', "SELECT mlops._remote_embed('$oa/e', '{}', ARRAY['ab', 'abcd', 'x'])"),
	'{{2,1,1,-2},{4,2,1,-4},{1,0.5,1,-1}}', 'OpenAI embeddings in input order');
is(stats()->{paths}[-1], '/v1/embeddings', 'OpenAI embeddings post to /v1/embeddings');
my $before = stats()->{requests};
is( $node->safe_psql('postgres',
		"SELECT mlops._remote_embed('$ol/e', '{\"embed_batch_inputs\": 2}', ARRAY['ab', 'abcd', 'x'])"),
	'{{2,1,1,-2},{4,2,1,-4},{1,0.5,1,-1}}', 'Ollama embeddings in input order');
is(stats()->{requests} - $before, 2, 'three inputs in batches of two take two requests');
is(stats()->{paths}[-1], '/api/embed', 'Ollama embeddings post to /api/embed');

# --- retries and failures ----------------------------------------------------------
$before = stats()->{requests};
my $t0 = time;
$j = decode_json($node->safe_psql('postgres', chat("$oa/flaky-429")));
my $took = time - $t0;
is($j->{text}, 'echo: hi there', 'a 429 is retried');
is(stats()->{requests} - $before, 2, 'the 429 took two requests');
ok($took >= 0.9, sprintf('Retry-After: 1 was honoured (%.2f s)', $took));

$before = stats()->{requests};
is(decode_json($node->safe_psql('postgres', chat("$ol/flaky-500")))->{text},
	'echo: hi there', 'a 500 is retried');
is(stats()->{requests} - $before, 2, 'the 500 took two requests');

$before = stats()->{requests};
like(try(chat("$oa/always-503")),
	qr/^38000 chat request to openai provider at "127.0.0.1" failed \| HTTP 503 from 127.0.0.1 after 3 attempts: .*overloaded/,
	'always 503 fails after mlops.http_max_attempts (3) attempts');
is(stats()->{requests} - $before, 3, 'three requests were sent');
$before = stats()->{requests};
like(try(chat("$oa/always-503"), pre => 'SET mlops.http_max_attempts = 1;'),
	qr/after 1 attempts/, 'mlops.http_max_attempts is a user setting');
like(try(chat("$oa/always-503", '{"max_attempts": 2}')),
	qr/after 2 attempts/, 'a model\'s max_attempts option sets the attempts');
is(stats()->{requests} - $before, 3, 'one and two requests were sent');

like(try(chat("$oa/html")),
	qr/^38000 .*\| provider reply is not a JSON object: "<html><body><h1>Welcome to nginx!/,
	'an HTML reply gives a clear error quoting it');
like(try(chat("$oa/bad-shape")), qr/^38000 .*\| provider reply has no choices\[0\]\.message\.content string/,
	'a chat reply of the wrong shape gives a clear error');
like(try("SELECT mlops._remote_embed('$ol/bad-shape', '{}', ARRAY['a'])"),
	qr/^38000 embedding request .*\| provider reply has no "embeddings" array/,
	'an embedding reply of the wrong shape gives a clear error');
like(try("SELECT mlops._remote_embed('$oa/short-embed', '{}', ARRAY['a', 'b'])"),
	qr/returned 1 embeddings for 2 inputs/, 'missing embeddings are an error');
like(try(chat("$oa/redirect")), qr/^38000 .*\| HTTP 302 from 127.0.0.1: redirects are not followed/,
	'a redirect is refused');
like(try(chat("$oa/slow", '{"timeout_ms": 300}')), qr/^08006 .*timed out \(limit 300 ms\)/,
	'the timeout_ms option bounds a request');
like(try(chat("openai+http://127.0.0.1:1/m")), qr/^08006 .*Failed to connect/,
	'a refused connection is a connection failure');

# --- the allowlist -----------------------------------------------------------------------
$before = stats()->{requests};
like(try(chat("openai+http://localhost:$port/m")),
	qr/^42501 provider host "localhost" is not on mlops.allowed_hosts \| Nothing was sent/,
	'a host not on mlops.allowed_hosts is refused');
like(try(chat("$oa/m"), pre => "SET mlops.allowed_hosts = '';"),
	qr/^42501 provider host "127.0.0.1" is not on/, 'an empty allowlist allows nothing');
like(try(chat("$oa/m"), pre => "SET mlops.allowed_hosts = 'a.example, [::1]';"),
	qr/^42501/, 'the allowlist is read at call time');
is(stats()->{requests} - $before, 0, 'nothing was sent to a host that is not allowed');

my ($ret, $stdout, $stderr) = $node->psql('postgres', "SET mlops.allowed_hosts = '127.0.0.1, evil.example'",
	extra_params => [ '-U', 'alice' ]);
like($stderr, qr/permission denied to set parameter "mlops.allowed_hosts"/,
	'an ordinary role cannot set mlops.allowed_hosts');
($ret, $stdout, $stderr) = $node->psql('postgres', "SET mlops.allowed_hosts = '*'");
like($stderr, qr/Wildcards are not supported/, 'wildcards are refused');

# --- secrets ------------------------------------------------------------------------------
for my $role ('alice', 'bob')
{
	($ret, $stdout, $stderr) = $node->psql('postgres', 'SELECT * FROM mlops.secrets',
		extra_params => [ '-U', $role ]);
	like($stderr, qr/permission denied for table secrets/, "$role cannot read mlops.secrets");
	($ret, $stdout, $stderr) = $node->psql('postgres', chat("$oa/m", '{"api_key_secret": "k1"}'),
		extra_params => [ '-U', $role ]);
	like($stderr, qr/permission denied for function _remote_chat/, "$role cannot call the test entry point");
}
($ret, $stdout, $stderr) = $node->psql('postgres', "SELECT mlops.set_secret('k3', 'x')",
	extra_params => [ '-U', 'alice' ]);
like($stderr, qr/permission denied for function set_secret/, 'alice cannot set a secret');
($ret, $stdout, $stderr) = $node->psql('postgres', 'SELECT name FROM mlops.secret_list',
	extra_params => [ '-U', 'alice' ]);
like($stderr, qr/permission denied for view secret_list/, 'alice cannot list secrets');

$node->safe_psql('postgres', "SELECT mlops.set_secret('k2', '$admin_secret')", extra_params => [ '-U', 'bob' ]);
is($node->safe_psql('postgres', q{SELECT string_agg(name || ':' || created_by, ',' ORDER BY name) FROM mlops.secret_list},
		extra_params => [ '-U', 'bob' ]),
	'k1:' . $node->safe_psql('postgres', 'SELECT current_user') . ',k2:bob', 'mlops_admin lists secrets without values');
($ret, $stdout, $stderr) = $node->psql('postgres', "SELECT mlops.set_secret('bad name', '$admin_secret')",
	extra_params => [ '-U', 'bob' ]);
like($stderr, qr/invalid secret name/, 'set_secret refuses a bad name');
unlike($stderr, qr/\Q$admin_secret\E/, 'without quoting the value');
($ret, $stdout, $stderr) = $node->psql('postgres', "SELECT mlops.set_secret('k4', 'two words')",
	extra_params => [ '-U', 'bob' ]);
like($stderr, qr/printable ASCII without spaces/, 'set_secret refuses a value with a space');
unlike($stderr, qr/two words/, 'without quoting the value');

$node->safe_psql('postgres', chat("$oa/m", '{"api_key_secret": "k1"}'));
is(stats()->{auth}, "Bearer $secret", 'the secret is sent as the bearer token');
$node->safe_psql('postgres', chat("$ol/m", '{"api_key_secret": "k2"}'));
is(stats()->{auth}, "Bearer $admin_secret", 'a secret set by mlops_admin is used');
$node->safe_psql('postgres', chat("$oa/m"));
is(stats()->{auth}, undef, 'no secret, no Authorization header');

my $echo = try(chat("$oa/echo-auth", '{"api_key_secret": "k1"}'));
like($echo, qr/^38000 .*HTTP 401 from 127.0.0.1: .*Incorrect API key provided: Bearer \*+/,
	'a provider quoting the key gives an error');
unlike($echo, qr/\Q$secret\E|TopSecret/, 'the error message masks the secret');
# uncaught, so that the server logs it
($ret, $stdout, $stderr) = $node->psql('postgres', chat("$oa/echo-auth", '{"api_key_secret": "k1"}'));
like($stderr, qr/DETAIL:  HTTP 401 from 127.0.0.1: .*Bearer \*+/, 'the client gets the masked reply');
unlike($stderr, qr/TopSecret/, 'and not the secret');
like(try(chat("$oa/m", '{"api_key_secret": "nokey"}')), qr/^42704 secret "nokey" does not exist/,
	'a missing secret is an error');
like(try(chat("$oa/m", '{"api_key_secret": "sk-Value!"}')), qr/^22023 .*not a valid secret name/,
	'a value given in place of a name is refused');
my $bad = try(chat("openai+http://user:pw-Hidden99\@127.0.0.1:$port/m"));
like($bad, qr/^22023 invalid remote model location \| The location may not have a user name or password/,
	'a password in the location is refused');
unlike($bad, qr/Hidden99/, 'without quoting it');
$node->safe_psql('postgres', "SELECT mlops.drop_secret('k2')", extra_params => [ '-U', 'bob' ]);
like(try(chat("$ol/m", '{"api_key_secret": "k2"}')), qr/secret "k2" does not exist/, 'a dropped secret is gone');

# --- bad locations and options --------------------------------------------------------------
like(try(chat("openai+http://127.0.0.1:$port")), qr/^22023 .*must end with the provider's model name/,
	'a location without a model is refused');
like(try(chat("openai+http://:$port/m")), qr/^22023 .*The host is empty/, 'an empty host is refused');
like(try(chat("$oa/m?x=1")), qr/^22023 .*query or a fragment/, 'a query is refused');
like(try(chat("$oa/m#x")), qr/^22023 .*query or a fragment/, 'a fragment is refused');
like(try(chat("$oa/a b")), qr/^22023 .*a space/, 'a space is refused');
like(try(chat("$oa/../m")), qr/^22023 .*segment/, 'a dot segment is refused');
like(try(chat("http://127.0.0.1:$port/m")), qr/^22023 .*starts with openai/, 'an unknown scheme is refused');
like(try(chat("$oa/m", '{"temperature": 1}')), qr/^22023 unknown option "temperature"/, 'an unknown option is refused');
like(try(chat("$oa/m", '{"timeout_ms": "60s"}')), qr/^22023 option "timeout_ms" must be an integer/,
	'an option of the wrong type is refused');
like(try(chat("$oa/m", '{"max_attempts": 11}')), qr/^22023 option "max_attempts" must be an integer between 1 and 10/,
	'an option out of range is refused');
like(try(chat("$oa/m", '[]')), qr/^22023 options of a remote model must be a JSON object/,
	'options must be an object');

# --- cancel ----------------------------------------------------------------------------------
my $s = $node->background_psql('postgres', on_error_stop => 0);
my $pid = $s->query_safe('SELECT pg_backend_pid()');
$before = stats()->{requests};
$s->query_until(qr/calling/, "\\echo calling\n" . chat("$oa/slow") . ";\n");
$until = time + 10;
sleep(0.05) while stats()->{requests} == $before && time < $until;
is(stats()->{requests} - $before, 1, 'the slow request reached the provider');
$t0 = time;
$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
$s->query('SELECT 1');
$took = time - $t0;
like($s->{stderr}, qr/canceling statement due to user request/, 'pg_cancel_backend cancels the call');
ok($took < 1.0, sprintf('within a second (%.2f s)', $took));
$s->{stderr} = '';
$s->query('SET statement_timeout = 300');
$t0 = time;
$s->query(chat("$oa/slow"));
$took = time - $t0;
like($s->{stderr}, qr/canceling statement due to statement timeout/, 'statement_timeout ends the call');
ok($took < 1.3, sprintf('promptly (%.2f s)', $took));
$s->{stderr} = '';
$s->query_safe('RESET statement_timeout');
is(decode_json($s->query_safe(chat("$oa/m")))->{text}, 'echo: hi there', 'the session calls again after a cancel');
$s->quit;

# --- the server log -----------------------------------------------------------------------
my $log = slurp_file($node->logfile);
like($log, qr/Incorrect API key provided: Bearer \*+/, 'the log has the masked provider error');
like($log, qr/_remote_chat/, 'statements were logged');
unlike($log, qr/\Q$secret\E|TopSecret/, 'the superuser\'s secret is nowhere in the server log');
unlike($log, qr/\Q$admin_secret\E|AdminKey/, 'the admin\'s secret is nowhere in the server log');

$node->stop;
$double->kill_kill;
done_testing();
