# Copyright (c) pgmlops authors
#
# t/081_llm_remote.pl: models served by a remote provider, against the test
# double t/llm_provider_double.py on 127.0.0.1.  Models are registered by a
# member of mlops_admin (mlops.register_model with a provider location) and
# called by a member of mlops_user (mlops.chat, mlops.generate, mlops.embed).
# - Chat, generation and embeddings (one text and an array) through the
#   OpenAI-compatible and Ollama APIs; chat's usage comes from the provider;
#   embedding inputs are batched under embed_batch_inputs and
#   embed_batch_tokens, their tokens counted by a named tokenizer or else as
#   bytes.
# - generate_stream streams from both APIs (server-sent events, JSON lines):
#   one row per piece, the first while the provider is still generating;
#   a stream that turns into a web page or an error event fails clearly;
#   closing the cursor or statement_timeout ends the transfer.
# - Retries on 429 (Retry-After) and 500; always 503 fails after the
#   attempts; HTML and wrongly shaped replies, redirects and timeouts give
#   clear errors with their SQLSTATE.
# - Registration: only mlops_admin registers; a bad location or option, or
#   a missing secret, fails and registers nothing.
# - mlops.allowed_hosts: a host not on it, or a port not on an entry with
#   a port, is refused with nothing sent; an ordinary role cannot change it.
# - Secrets: ordinary roles, mlops_user and mlops_admin cannot read
#   mlops.secrets; the secret is sent as the bearer token, but is in no
#   error message, nowhere in the server log (log_statement = all) and not
#   in mlops.llm_calls.
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
use File::Spec;

my $src = $ENV{PGMLOPS_SRC} // '.';
my $fixtures = File::Spec->rel2abs("$src/test/data/fixtures");

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
mlops.model_dir = '$fixtures'
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

# alice: no rights; bob: mlops_admin (registers models, sets secrets);
# carol: mlops_user (calls models)
$node->safe_psql(
	'postgres', q{
CREATE EXTENSION pgmlops;
CREATE ROLE alice LOGIN;
CREATE ROLE bob LOGIN IN ROLE mlops_admin;
CREATE ROLE carol LOGIN IN ROLE mlops_user;
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

my $su = $node->safe_psql('postgres', 'SELECT current_user');

# run sql as a role (default carol, the mlops_user); dies on an error
sub q_as
{
	my ($sql, $role) = @_;
	return $node->safe_psql('postgres', $sql, extra_params => [ '-U', $role // 'carol' ]);
}

# the stderr of sql run as a role
sub err_as
{
	my ($sql, $role) = @_;
	my ($ret, $stdout, $stderr) = $node->psql('postgres', $sql, extra_params => [ '-U', $role ]);
	return $stderr;
}

# "SQLSTATE message | detail" of sql run as a role (default carol), or "ok"
sub try
{
	my ($sql, %args) = @_;
	$sql =~ s/'/''/g;
	return $node->safe_psql('postgres', ($args{pre} // '') . "SELECT try('$sql')",
		extra_params => [ '-U', $args{as} // 'carol' ]);
}

sub register_sql
{
	my ($name, $loc, $opts, $task) = @_;
	return "SELECT mlops.register_model('$name', '$loc', '$task', '$opts')";
}

# the name of a model registered by bob for a location, options and task
my %models;
sub model
{
	my ($loc, $opts, $task) = @_;
	$opts //= '{}';
	$task //= 'text-generation';
	my $key = "$task $loc $opts";
	return $models{$key} if $models{$key};
	my $name = sprintf('r%02d', scalar(keys %models) + 1);
	q_as(register_sql($name, $loc, $opts, $task), 'bob');
	return $models{$key} = $name;
}

# a chat call of a generation model at a location
sub chat
{
	my ($loc, $opts) = @_;
	return 'SELECT mlops.chat(\'' . model($loc, $opts) . "', $hi)";
}

# embeddings of an array of texts by an embedding model at a location
sub embed
{
	my ($loc, $opts, $inputs) = @_;
	return 'SELECT mlops.embed(\'' . model($loc, $opts, 'embedding') . "', $inputs)";
}

# --- registration ---------------------------------------------------------------
my $versions = 'SELECT count(*) || \' \' || coalesce(sum(version), 0) FROM mlops.model_versions';
like(err_as(register_sql('x', "$oa/m", '{}', 'text-generation'), 'alice'),
	qr/permission denied for function register_model/, 'an ordinary role cannot register a model');
like(err_as(register_sql('x', "$oa/m", '{}', 'text-generation'), 'carol'),
	qr/permission denied for function register_model/, 'mlops_user cannot register a model');
like(err_as(chat("$oa/m1"), 'alice'), qr/permission denied for function chat/,
	'an ordinary role cannot chat');
is( q_as("SELECT v.algorithm || ' ' || v.device || ' ' || v.source || ' ' || m.task"
		  . " FROM mlops.model_versions v JOIN mlops.models m ON m.name = v.model WHERE v.model = 'r01'"),
	"openai remote $oa/m1 text-generation",
	'a remote model is registered with its provider and location');

# --- chat, generation and embeddings ----------------------------------------------
my $j = decode_json(q_as(chat("$oa/m1")));
is($j->{message}{content}, 'echo: hi there', 'OpenAI chat answers');
is_deeply([ $j->{model}, $j->{version}, $j->{message}{role}, $j->{finish_reason} ],
	[ 'r01', 1, 'assistant', 'stop' ], 'OpenAI chat reports the model, version, role and finish reason');
is_deeply($j->{usage}, { prompt_tokens => 2, completion_tokens => 3, total_tokens => 5 },
	'OpenAI chat reports usage');
ok($j->{total_ms} >= 0, 'and the total time');
is(stats()->{paths}[-1], '/v1/chat/completions', 'OpenAI chat posts to /v1/chat/completions');
like(stats()->{body}, qr/"model":"m1"/, 'the model name is the last path segment');

# usage as the provider counts it (words), not as a local tokenizer would
my $three = q{'[{"role": "system", "content": "a b c d e f g"}, }
  . q{{"role": "user", "content": "x"}, {"role": "assistant", "content": "y z"}, }
  . q{{"role": "user", "content": "say one two"}]'};
$j = decode_json(q_as("SELECT mlops.chat('" . model("$oa/m1") . "', $three)"));
is_deeply([ $j->{message}{content}, $j->{usage} ],
	[ 'echo: say one two', { prompt_tokens => 13, completion_tokens => 4, total_tokens => 17 } ],
	'chat usage comes from the OpenAI provider');
like(stats()->{body}, qr/"messages":\[\{"role":"system","content":"a b c d e f g"\},.*"role":"assistant"/,
	'every message is sent with its role');

$j = decode_json(q_as(chat("$ol/m1")));
is_deeply([ $j->{message}{content}, $j->{finish_reason}, $j->{usage} ],
	[ 'echo: hi there', 'stop', { prompt_tokens => 2, completion_tokens => 3, total_tokens => 5 } ],
	'Ollama chat answers with usage');
is(stats()->{paths}[-1], '/api/chat', 'Ollama chat posts to /api/chat');
$j = decode_json(q_as("SELECT mlops.chat('" . model("$ol/m1") . "', $three)"));
is_deeply($j->{usage}, { prompt_tokens => 13, completion_tokens => 4, total_tokens => 17 },
	'chat usage comes from the Ollama provider');

is(q_as("SELECT mlops.generate('" . model("$oa/m1") . "', 'tell me', max_tokens => 5, seed => 7, stop => ARRAY['END'])"),
	'echo: tell me', 'OpenAI generation answers');
like(stats()->{body}, qr/^(?=.*"messages":\[\{"role":"user","content":"tell me"\}\])(?=.*"max_tokens":5)(?=.*"seed":7)(?=.*"stop":\["END"\])/,
	'generate sends the prompt as a user message, max_tokens, seed and stop');
is(q_as("SELECT mlops.generate('" . model("$ol/m1") . "', 'tell me', max_tokens => 6)"),
	'echo: tell me', 'Ollama generation answers');
like(stats()->{body}, qr/"num_predict":6/, 'max_tokens is Ollama\'s num_predict');
like(try("SELECT mlops.chat('" . model("$oa/m1") . "', $hi, '{\"top_k\": 5}')"),
	qr/^0A000 top_k, min_p, repetition_penalty and ignore_eos are not sent/,
	'sampling options a provider does not take are refused');

# --- streaming -------------------------------------------------------------------
for my $api ([ 'OpenAI', $oa ], [ 'Ollama', $ol ])
{
	my ($name, $loc) = @$api;
	my $m = model("$loc/m1");
	is( q_as(
			"SELECT string_agg(t, '' ORDER BY n) || '|' || count(*) FROM "
			  . "mlops.generate_stream('$m', 'tell me more', max_tokens => 9) WITH ORDINALITY AS s(t, n)"),
		'echo: tell me more|4', "$name generate_stream returns the reply, one row per piece");
	like(stats()->{body}, qr/"stream":true/, "$name: the request asks for a stream");
	like(try("SELECT * FROM mlops.generate_stream('" . model("$loc/broken-stream") . "', 'tell me more')"),
		qr/^38000 chat request to \w+ provider at "127.0.0.1" failed \| provider reply is not (an event stream|a stream of JSON lines): "<html><body>Bad Gateway/,
		"$name: a stream that turns into a web page fails with a clear error");
	like(try("SELECT * FROM mlops.generate_stream('" . model("$loc/error-stream") . "', 'hi')"),
		qr/^38000 chat request to \w+ provider at "127.0.0.1" failed \| provider returned an error: overloaded while streaming/,
		"$name: an error event in the stream fails the call");
	like(try("SELECT * FROM mlops.generate_stream('" . model("$loc/cut-stream") . "', 'tell me more')"),
		qr/^08006 chat request to \w+ provider at "127.0.0.1" failed \| the provider's stream ended before its end marker/,
		"$name: a stream cut off before its end fails, not a short answer");
	like(try("SELECT * FROM mlops.generate_stream('" . model("$loc/html") . "', 'hi')"),
		qr/^38000 .* provider reply is not .*Welcome to nginx/, "$name: a web page instead of a stream");
	like(try("SELECT * FROM mlops.generate_stream('$m', 'hi', options => '{\"top_k\": 2}')"),
		qr/^0A000 top_k, min_p, repetition_penalty and ignore_eos are not sent/,
		"$name: streaming refuses the options a provider does not take");
}
is(q_as("SELECT string_agg(t, '') FROM mlops.generate_stream('" . model("$oa/flaky-500") . "', 'again') AS s(t)"),
	'echo: again', 'a 500 before the stream begins is retried');

# pieces reach the client as the provider sends them
{
	my $m = model("$oa/slow-stream");
	my $bg = $node->background_psql('postgres', on_error_stop => 0, extra_params => [ '-U', 'carol' ]);
	$bg->query_safe("BEGIN; DECLARE c NO SCROLL CURSOR FOR SELECT mlops.generate_stream('$m', 'x')");
	my $t = time;
	is($bg->query_safe('FETCH 1 FROM c'), 'echo:', 'the first piece of a slow stream');
	ok(time - $t < 2, sprintf('arrives at once (%.2f s; the whole stream takes 10 s)', time - $t));
	is($bg->query_safe('FETCH 2 FROM c'), " tick\n tick", 'the next pieces follow');
	$t = time;
	$bg->query_safe('CLOSE c; COMMIT');
	ok(time - $t < 1, 'closing the cursor ends the stream at once');
	$bg->query('SET statement_timeout = 600');
	$t = time;
	$bg->query("SELECT count(*) FROM mlops.generate_stream('$m', 'x')");
	like($bg->{stderr}, qr/canceling statement due to statement timeout/, 'statement_timeout ends a stream');
	ok(time - $t < 1.5, sprintf('promptly (%.2f s)', time - $t));
	$bg->quit;
}
my $before;

# a prefix ending in /v1 is not doubled; %2F puts a slash into a model name
q_as(chat("$oa/v1/org%2Fm2"));
is(stats()->{paths}[-1], '/v1/chat/completions', 'a /v1 prefix is not doubled');
like(stats()->{body}, qr{"model":"org/m2"}, 'a percent-encoded slash reaches the model name');

is(q_as(embed("$oa/e", '{}', q{ARRAY['ab', 'abcd', 'x']})),
	'{"[2,1,1,-2]","[4,2,1,-4]","[1,0.5,1,-1]"}', 'OpenAI embeddings in input order');
is(stats()->{paths}[-1], '/v1/embeddings', 'OpenAI embeddings post to /v1/embeddings');
is(q_as(embed("$oa/e", '{}', q{'abc'})), '[3,1.5,1,-3]', 'OpenAI embedding of one text');
$before = stats()->{requests};
is(q_as(embed("$ol/e", '{"embed_batch_inputs": 2}', q{ARRAY['ab', 'abcd', 'x']})),
	'{"[2,1,1,-2]","[4,2,1,-4]","[1,0.5,1,-1]"}', 'Ollama embeddings in input order');
is(stats()->{requests} - $before, 2, 'three inputs in batches of two take two requests');
is(stats()->{paths}[-1], '/api/embed', 'Ollama embeddings post to /api/embed');
is(q_as(embed("$ol/e", '{"embed_batch_inputs": 2}', q{'abc'})), '[3,1.5,1,-3]',
	'Ollama embedding of one text');

# a token budget: bytes count without a tokenizer (1+2+3 | 4 | 5); with
# the GPT-2 fixture's, "dddd" is two tokens ("dd" twice): 1+2+3 | 2+5
my $five = q{ARRAY['a', 'bb', 'ccc', 'dddd', 'eeeee']};
for my $case ([ '{"embed_batch_tokens": 7}', 3, 'a byte per token without a tokenizer' ],
	[ '{"embed_batch_tokens": 7, "tokenizer": "tok-gpt2"}', 2, 'tokens counted by the tokenizer' ])
{
	$before = stats()->{requests};
	is(q_as(embed("$oa/e", $case->[0], $five)),
		'{"[1,0.5,1,-1]","[2,1,1,-2]","[3,1.5,1,-3]","[4,2,1,-4]","[5,2.5,1,-5]"}',
		"$case->[2]: embeddings in input order");
	is(stats()->{requests} - $before, $case->[1], "$case->[2]: $case->[1] requests under 7 tokens");
}
like(stats()->{body}, qr/"input":\["dddd","eeeee"\]/, 'the last request held the last two inputs');

# --- retries and failures ----------------------------------------------------------
$before = stats()->{requests};
my $t0 = time;
$j = decode_json(q_as(chat("$oa/flaky-429")));
my $took = time - $t0;
is($j->{message}{content}, 'echo: hi there', 'a 429 is retried');
is(stats()->{requests} - $before, 2, 'the 429 took two requests');
ok($took >= 0.9, sprintf('Retry-After: 1 was honoured (%.2f s)', $took));

$before = stats()->{requests};
is(decode_json(q_as(chat("$ol/flaky-500")))->{message}{content}, 'echo: hi there', 'a 500 is retried');
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
like(try(embed("$ol/bad-shape", '{}', q{ARRAY['a']})),
	qr/^38000 embedding request .*\| provider reply has no "embeddings" array/,
	'an embedding reply of the wrong shape gives a clear error');
like(try(embed("$oa/short-embed", '{}', q{ARRAY['a', 'b']})),
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
like(try(embed("ollama+http://localhost:$port/e", '{}', q{'a'})),
	qr/^42501 provider host "localhost" is not on/, 'also for embeddings');
like(try(chat("$oa/m"), as => $su, pre => "SET mlops.allowed_hosts = '';"),
	qr/^42501 provider host "127.0.0.1" is not on/, 'an empty allowlist allows nothing');
like(try(chat("$oa/m"), as => $su, pre => "SET mlops.allowed_hosts = 'a.example, [::1]';"),
	qr/^42501/, 'the allowlist is read at call time');
like(try(chat("$oa/m"), as => $su, pre => "SET mlops.allowed_hosts = '127.0.0.1:1';"),
	qr/^42501 port $port of provider host "127.0.0.1" is not on mlops.allowed_hosts/,
	'an entry with a port allows only that port');
like(try(chat("$oa/m"), as => $su, pre => "SET mlops.allowed_hosts = '[::1]:$port, localhost';"),
	qr/^42501 provider host "127.0.0.1" is not on/, 'a port of another host allows nothing');
is(stats()->{requests} - $before, 0, 'nothing was sent to a host that is not allowed');
like(try(chat("$oa/m"), as => $su, pre => "SET mlops.allowed_hosts = 'a.example:443, 127.0.0.1:$port';"),
	qr/^ok/, 'an entry with the location\'s port allows it');
like(try(chat("openai://a.example/m"), as => $su, pre => "SET mlops.allowed_hosts = 'a.example:80';"),
	qr/^42501 port 443 of provider host "a.example"/, 'openai:// is port 443');
for my $bad ([ '::1', 'brackets' ], [ '127.0.0.1:0', 'between 1 and 65535' ], [ '127.1', 'four decimal' ],
	[ '[::0:1]:80', 'shortest form' ],
	[ '127.0.0.1:', 'between 1 and 65535' ], [ 'h:80x', 'between 1 and 65535' ],
	[ '[::1]x', 'between 1 and 65535' ])
{
	like(err_as("SET mlops.allowed_hosts = '$bad->[0]'", $su), qr/\Q$bad->[1]\E/,
		"entry \"$bad->[0]\" is refused");
}

like(err_as("SET mlops.allowed_hosts = '127.0.0.1, evil.example'", 'alice'),
	qr/permission denied to set parameter "mlops.allowed_hosts"/,
	'an ordinary role cannot set mlops.allowed_hosts');
like(err_as("SET mlops.allowed_hosts = '127.0.0.1, evil.example'", 'bob'),
	qr/permission denied to set parameter "mlops.allowed_hosts"/, 'nor can mlops_admin');
like(err_as("SET mlops.allowed_hosts = '*'", $su), qr/Wildcards are not supported/,
	'wildcards are refused');

# --- secrets ------------------------------------------------------------------------------
for my $role ('alice', 'carol', 'bob')
{
	like(err_as('SELECT * FROM mlops.secrets', $role), qr/permission denied for table secrets/,
		"$role cannot read mlops.secrets");
}
like(err_as("SELECT mlops.set_secret('k3', 'x')", 'alice'), qr/permission denied for function set_secret/,
	'alice cannot set a secret');
like(err_as("SELECT mlops.set_secret('k3', 'x')", 'carol'), qr/permission denied for function set_secret/,
	'mlops_user cannot set a secret');
like(err_as('SELECT name FROM mlops.secret_list', 'alice'), qr/permission denied for view secret_list/,
	'alice cannot list secrets');

q_as("SELECT mlops.set_secret('k2', '$admin_secret')", 'bob');
is(q_as(q{SELECT string_agg(name || ':' || created_by, ',' ORDER BY name) FROM mlops.secret_list}, 'bob'),
	"k1:$su,k2:bob",
	'mlops_admin lists secrets without values');
my $stderr = err_as("SELECT mlops.set_secret('bad name', '$admin_secret')", 'bob');
like($stderr, qr/invalid secret name/, 'set_secret refuses a bad name');
unlike($stderr, qr/\Q$admin_secret\E/, 'without quoting the value');
$stderr = err_as("SELECT mlops.set_secret('k4', 'two words')", 'bob');
like($stderr, qr/printable ASCII without spaces/, 'set_secret refuses a value with a space');
unlike($stderr, qr/two words/, 'without quoting the value');

q_as(chat("$oa/m", '{"api_key_secret": "k1"}'));
is(stats()->{auth}, "Bearer $secret", 'the secret is sent as the bearer token (to a call by mlops_user)');
q_as(embed("$oa/e", '{"api_key_secret": "k1"}', q{'a'}));
is(stats()->{auth}, "Bearer $secret", 'also for embeddings');
q_as(chat("$ol/m", '{"api_key_secret": "k2"}'));
is(stats()->{auth}, "Bearer $admin_secret", 'a secret set by mlops_admin is used');
q_as(chat("$oa/m"));
is(stats()->{auth}, undef, 'no secret, no Authorization header');

my $echo = try(chat("$oa/echo-auth", '{"api_key_secret": "k1"}'));
like($echo, qr/^38000 .*HTTP 401 from 127.0.0.1: .*Incorrect API key provided: Bearer \*+/,
	'a provider quoting the key gives an error');
unlike($echo, qr/\Q$secret\E|TopSecret/, 'the error message masks the secret');
# uncaught, so that the server logs it
$stderr = err_as(chat("$oa/echo-auth", '{"api_key_secret": "k1"}'), 'carol');
like($stderr, qr/DETAIL:  HTTP 401 from 127.0.0.1: .*Bearer \*+/, 'the client gets the masked reply');
unlike($stderr, qr/TopSecret/, 'and not the secret');
like(try(chat("$ol/m2", '{"api_key_secret": "k2"}')), qr/^ok/, 'a model naming k2');
q_as("SELECT mlops.drop_secret('k2')", 'bob');
like(try(chat("$ol/m2", '{"api_key_secret": "k2"}')), qr/^42704 secret "k2" does not exist/,
	'fails once k2 is dropped');

# --- bad registrations ------------------------------------------------------------------------
# each is refused, as mlops_admin, and registers nothing
my $nversions = q_as($versions, $su);
my $nmodels = q_as('SELECT count(*) FROM mlops.models', $su);
sub bad_register
{
	my ($loc, $opts, $task) = @_;
	return try(register_sql('bad', $loc, $opts // '{}', $task // 'text-generation'), as => 'bob');
}
like(bad_register("$oa/m", '{"api_key_secret": "nokey"}'), qr/^42704 secret "nokey" does not exist/,
	'a missing secret is refused');
like(bad_register("$oa/m", '{"api_key_secret": "sk-Value!"}'), qr/^22023 .*not a valid secret name/,
	'a value given in place of a secret name is refused');
my $bad = bad_register("openai+http://user:pw-Hidden99\@127.0.0.1:$port/m");
like($bad, qr/^22023 invalid remote model location \| The location may not have a user name or password/,
	'a password in the location is refused');
unlike($bad, qr/Hidden99/, 'without quoting it');
like(bad_register("openai+http://127.0.0.1:$port"), qr/^22023 .*must end with the provider's model name/,
	'a location without a model is refused');
like(bad_register("openai+http://:$port/m"), qr/^22023 .*The host is empty/, 'an empty host is refused');
like(bad_register("openai+http://127.0.0.1:99999/m"), qr/^22023 .*port must be a number/,
	'a bad port is refused');
like(bad_register("openai+http://127.0.0.1:/m"), qr/^22023 .*port must be a number/,
	'an empty port is refused');
like(bad_register("openai+http://[::1]x/m"), qr/^22023 .*port must be a number/,
	'something other than a port after an IPv6 address is refused');
like(bad_register("openai+http://127.0.0.1:0/m"), qr/^22023 .*port must be a number/,
	'port 0 is refused');
like(bad_register("openai+http://vllm.example:8000/m", '{"api_key_secret": "k1"}'),
	qr/^42501 option "api_key_secret" needs an https location/,
	'a secret is not sent over plain http to another machine');
like(bad_register("$oa/m?x=1"), qr/^22023 .*query or a fragment/, 'a query is refused');
like(bad_register("$oa/m#x"), qr/^22023 .*query or a fragment/, 'a fragment is refused');
like(bad_register("$oa/a b"), qr/^22023 .*a space/, 'a space is refused');
like(bad_register("$oa/../m"), qr/^22023 .*segment/, 'a dot segment is refused');
like(bad_register("$oa/m%0A"), qr/^22023 .*control character/, 'an encoded control character is refused');
like(bad_register("http://127.0.0.1:$port/m"), qr/^22023 .*starts with openai/, 'an unknown scheme is refused');
# addresses spelled otherwise than libcurl sends them would pass the SQL
# check and fail in the client: refused at once
like(bad_register("openai+http://127.1:$port/m"), qr/^22023 .*four decimal numbers/,
	'a short IPv4 address is refused');
like(bad_register("openai+http://2130706433:$port/m"), qr/^22023 .*four decimal numbers/,
	'an IPv4 address as one number is refused');
like(bad_register("openai+http://[0:0:0:0:0:0:0:1]:$port/m"), qr/^22023 .*shortest form/,
	'a long IPv6 address is refused');
like(bad_register("$oa/m", '{"temperature": 1}'), qr/^22023 unknown option "temperature"/,
	'an unknown option is refused');
like(bad_register("$oa/m", '{"dtype": "bf16"}'), qr/^22023 unknown option "dtype"/,
	'a local model\'s option is refused');
like(bad_register("$oa/m", '{"timeout_ms": "60s"}'), qr/^22023 option "timeout_ms" must be an integer/,
	'an option of the wrong type is refused');
like(bad_register("$oa/m", '{"max_attempts": 11}'),
	qr/^22023 option "max_attempts" must be an integer from 1 to 10/, 'an option out of range is refused');
like(bad_register("$oa/m", '[]'), qr/^22023 options of a remote model must be a JSON object/,
	'options must be an object');
like(bad_register("$oa/m", '{"tokenizer": 5}', 'embedding'),
	qr/^22023 option "tokenizer" must be a string naming a model directory/, 'a tokenizer must be named');
like(bad_register("$oa/m", '{"tokenizer": "no-such-model"}', 'embedding'),
	qr/^42704 model "no-such-model" not found/, 'a missing tokenizer is refused');
like(bad_register("$oa/m", '{"tokenizer": "../tok-gpt2"}', 'embedding'),
	qr/^22023 /, 'a tokenizer outside mlops.model_dir is refused');
like(bad_register("$oa/m", '{"embed_batch_bytes": 100}', 'embedding'),
	qr/^22023 unknown option "embed_batch_bytes"/, 'budgets are in tokens, not bytes');
like(try(register_sql('r01', "$oa/m", '{"temperature": 1}', 'text-generation'), as => 'bob'),
	qr/^22023 unknown option "temperature"/, 'a bad new version of a model is refused');
is(q_as($versions, $su), $nversions, 'no bad registration made a version');
is(q_as('SELECT count(*) FROM mlops.models', $su), $nmodels, 'nor a model');
is(q_as(q{SELECT last_version FROM mlops.models WHERE name = 'r01'}, $su), '1',
	'the refused version did not advance last_version');
is(try(register_sql('compose', "openai+http://my_vllm:8000/m", '{}', 'text-generation'), as => 'bob'),
	'ok', 'a host name with an underscore (a compose service) is accepted');

# --- cancel ----------------------------------------------------------------------------------
my $s = $node->background_psql('postgres', on_error_stop => 0, extra_params => [ '-U', 'carol' ]);
my $pid = $s->query_safe('SELECT pg_backend_pid()');
my $slow = chat("$oa/slow");
$before = stats()->{requests};
$s->query_until(qr/calling/, "\\echo calling\n$slow;\n");
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
$s->query($slow);
$took = time - $t0;
like($s->{stderr}, qr/canceling statement due to statement timeout/, 'statement_timeout ends the call');
ok($took < 1.3, sprintf('promptly (%.2f s)', $took));
$s->{stderr} = '';
$s->query_safe('RESET statement_timeout');
is(decode_json($s->query_safe(chat("$oa/m")))->{message}{content}, 'echo: hi there',
	'the session calls again after a cancel');
$s->quit;

# --- the call log and the server log -----------------------------------------------------
SKIP:
{
	skip 'no call log (mlops.llm_calls)', 5
	  unless q_as(q{SELECT to_regproc('mlops.flush_llm_calls') IS NOT NULL}, $su) eq 't';
	is(q_as('SELECT mlops.flush_llm_calls(10000)', $su), '0', 'the call log is written');
	is( q_as(
			q{SELECT string_agg(DISTINCT provider || ' ' || tokens_in || ' ' || tokens_out, ', ')}
			  . q{ FROM mlops.llm_calls WHERE status = 'ok' AND function = 'chat' AND tokens_in = 13},
			$su),
		'ollama 13 4, openai 13 4',
		'the call log has the provider\'s usage');
	is( q_as(
			q{SELECT string_agg(provider || ' ' || tokens_in || ' ' || tokens_out, ', ' ORDER BY provider)}
			  . q{ FROM mlops.llm_calls WHERE status = 'ok' AND function = 'generate_stream'}
			  . q{ AND tokens_out = 4 AND ttft_ms <= total_ms},
			$su),
		'ollama 3 4, openai 3 4',
		'streamed calls are logged with the provider\'s usage and a time to the first piece');
	my $m = model("$oa/echo-auth", '{"api_key_secret": "k1"}');
	is( q_as(
			"SELECT count(*) || ' ' || min(role) || ' ' || min(error) FROM mlops.llm_calls"
			  . " WHERE model = '$m' AND status = 'error'",
			$su),
		'2 carol chat request to openai provider at "127.0.0.1" failed',
		'the call log has the failed calls');
	# (statement logging off: the pattern would put the secrets into the log)
	is( q_as(
			"SET log_statement = 'none'; SELECT count(*) FROM mlops.llm_calls c"
			  . " WHERE c::text ~ '$secret|$admin_secret|Hidden99'",
			$su),
		'0',
		'no secret is in the call log');
}

my $log = slurp_file($node->logfile);
like($log, qr/Incorrect API key provided: Bearer \*+/, 'the log has the masked provider error');
like($log, qr/mlops\.chat\('r\d+'/, 'statements were logged');
unlike($log, qr/\Q$secret\E|TopSecret/, 'the superuser\'s secret is nowhere in the server log');
unlike($log, qr/\Q$admin_secret\E|AdminKey/, 'the admin\'s secret is nowhere in the server log');
unlike($log, qr/Hidden99/, 'nor the password of a refused location');

$node->stop;
$double->kill_kill;
done_testing();
