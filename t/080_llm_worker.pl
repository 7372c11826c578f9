# Copyright (c) pgmlops authors
#
# t/080_llm_worker.pl: the inference worker under concurrency and failure.
# - Four pgbench clients get exactly the greedy generations (llama, qwen2,
#   mistral fixtures) and embeddings that one session gets alone: batching
#   does not change results.
# - pg_cancel_backend, statement_timeout, closing a stream's cursor and a
#   client that disconnects end a request at once: it leaves the worker's
#   queue and its KV pages are freed.
# - kill -9 of the worker under load: the waiting sessions get an error
#   (PostgreSQL restarts the cluster), and later calls give the same
#   results; SIGTERM of the worker: waiting sessions get "the pgmlops
#   inference worker exited", the worker is back within seconds.
# - Queue saturation: beyond mlops.queue_limit a request is refused with
#   SQLSTATE 53400; mlops.queue_timeout ends a request that waits too long.
# - A model whose weights are deleted while loaded gives a clear error, and
#   the worker goes on serving the other models.  One whose weight file is
#   truncated in place under a running generation (a copy over it) fails
#   that generation with a clear error and is unloaded: the worker does not
#   die of SIGBUS (which would reset the cluster), and the new file loads.
# - Without pgmlops in shared_preload_libraries, or with
#   mlops.worker_count = 0, the functions raise a clear error with a hint.
#
# Requests that must stay alive long enough to be cancelled use "slow": a
# Llama made here with the fixture tokenizer, 6 layers of width 512 and a
# 4096-token context (5 ms or more a token on a CPU).  Its weights are zero
# except that every position predicts token 315 ("X"), so a generation of
# n tokens is n X's.
use strict;
use warnings;

use File::Basename qw(dirname);
use File::Copy qw(copy);
use File::Find;
use File::Path qw(make_path);
use File::Spec;
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::RecursiveCopy;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep utime);

my $fixtures = File::Spec->rel2abs(dirname(__FILE__) . '/../test/data/fixtures');
my $json = JSON::PP->new->canonical;

my $node = PostgreSQL::Test::Cluster->new('llm_worker');
$node->init;
my $base = File::Spec->rel2abs($node->basedir);
my $models = "$base/models";
make_path($models);

# writable copies of the fixtures the test uses (the fixtures are read-only)
for my $m ('llama-tiny-f32', 'qwen2-tiny-f32', 'mistral-tiny-f32', 'bert-tiny-mean')
{
	PostgreSQL::Test::RecursiveCopy::copypath("$fixtures/$m", "$models/$m");
}
PostgreSQL::Test::RecursiveCopy::copypath("$fixtures/llama-tiny-f32", "$models/gone");
find(sub { chmod((-d $_ ? 0755 : 0644), $_) }, $models);

# the slow model; see the header
sub make_slow
{
	my ($dir) = @_;
	my ($hidden, $inter, $layers, $ctx, $x) = (512, 1536, 6, 4096, 315);
	my $src = "$fixtures/llama-tiny-f32";
	make_path($dir);
	my $cfg = $json->decode(slurp_file("$src/config.json"));
	@$cfg{
		qw(hidden_size intermediate_size num_hidden_layers max_position_embeddings
		  num_attention_heads num_key_value_heads head_dim)
	} = ($hidden, $inter, $layers, $ctx, $hidden / 64, $hidden / 128, 64);
	open my $f, '>', "$dir/config.json" or die "$dir/config.json: $!";
	print $f $json->encode($cfg);
	close $f;
	for my $file ('tokenizer.json', 'tokenizer_config.json', 'generation_config.json')
	{
		copy("$src/$file", "$dir/$file") or die "copy $file: $!";
		chmod 0644, "$dir/$file";
	}
	my $vocab = $cfg->{vocab_size};
	my $kv = $hidden / 2;
	my @tensors = (
		[ 'lm_head.weight', [ $vocab, $hidden ] ],
		[ 'model.embed_tokens.weight', [ $vocab, $hidden ] ],
		[ 'model.norm.weight', [$hidden] ]);
	for my $l (0 .. $layers - 1)
	{
		my $p = "model.layers.$l";
		push @tensors,
		  [ "$p.input_layernorm.weight", [$hidden] ],
		  [ "$p.post_attention_layernorm.weight", [$hidden] ],
		  [ "$p.mlp.down_proj.weight", [ $hidden, $inter ] ],
		  [ "$p.mlp.gate_proj.weight", [ $inter, $hidden ] ],
		  [ "$p.mlp.up_proj.weight", [ $inter, $hidden ] ],
		  [ "$p.self_attn.q_proj.weight", [ $hidden, $hidden ] ],
		  [ "$p.self_attn.k_proj.weight", [ $kv, $hidden ] ],
		  [ "$p.self_attn.v_proj.weight", [ $kv, $hidden ] ],
		  [ "$p.self_attn.o_proj.weight", [ $hidden, $hidden ] ];
	}
	my %header = (__metadata__ => { format => 'pt' });
	my $offset = 0;
	for my $t (@tensors)
	{
		my $bytes = 4;
		$bytes *= $_ for @{ $t->[1] };
		$header{ $t->[0] } =
		  { dtype => 'F32', shape => $t->[1], data_offsets => [ $offset, $offset + $bytes ] };
		$offset += $bytes;
	}
	my $h = $json->encode(\%header);
	$h .= ' ' x ((8 - length($h) % 8) % 8);
	open $f, '>:raw', "$dir/model.safetensors" or die "$dir/model.safetensors: $!";
	print $f pack('Q<', length $h), $h;
	# lm_head: only row $x is non-zero; embeddings and the final norm: ones
	print $f pack('f<*', (0) x ($x * $hidden)), pack('f<*', (1) x $hidden),
	  pack('f<*', (0) x (($vocab - $x - 1) * $hidden));
	print $f pack('f<*', (1) x ($vocab * $hidden)), pack('f<*', (1) x $hidden);
	close $f;
	# the layers are zeros: a hole
	truncate("$dir/model.safetensors", 8 + length($h) + $offset) or die "truncate: $!";
	return;
}
make_slow("$models/slow");
make_slow("$models/slowq");
make_slow("$models/shrink");

$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'pgmlops'
mlops.model_dir = '$models'
max_connections = 30
log_statement = none
log_min_messages = log
restart_after_crash = on
});
$node->start;

$node->safe_psql(
	'postgres', q{
CREATE EXTENSION pgmlops;
SELECT mlops.register_model('llama', 'llama-tiny-f32', task => 'text-generation');
SELECT mlops.register_model('qwen2', 'qwen2-tiny-f32', task => 'text-generation');
SELECT mlops.register_model('mistral', 'mistral-tiny-f32', task => 'text-generation');
SELECT mlops.register_model('enc', 'bert-tiny-mean', task => 'embedding');
SELECT mlops.register_model('slow', 'slow', task => 'text-generation');
SELECT mlops.register_model('slowq', 'slowq', task => 'text-generation', options => '{"kv_cache_mb": 16}');
SELECT mlops.register_model('gone', 'gone', task => 'text-generation');
SELECT mlops.register_model('shrink', 'shrink', task => 'text-generation');
});

# a SQL string literal
sub lit
{
	my ($s) = @_;
	$s =~ s/'/''/g;
	return "'$s'";
}

# a generation call
sub gen
{
	my ($model, $prompt, $max) = @_;
	return "mlops.generate('$model', " . lit($prompt)
	  . ", max_tokens => $max, options => '{\"ignore_eos\": true}')";
}

# a generation of the slow model that lasts long (tens of seconds alone)
my $long = gen('slow', 'hello', 3000);

# wait up to $seconds for a query to return $expected; seconds waited or undef
sub wait_for
{
	my ($sql, $expected, $seconds) = @_;
	my $start = time;
	while (time - $start < $seconds)
	{
		# (psql may fail to connect while the server restarts)
		my ($ret, $out) = eval { $node->psql('postgres', $sql) };
		return time - $start if defined $ret && $ret == 0 && $out eq $expected;
		usleep(20_000);
	}
	my ($ret, $out, $err) = eval { $node->psql('postgres', $sql) };
	diag("after $seconds s, $sql still returns " . ($out // '') . ' ' . ($err // $@));
	return undef;
}

# wait until a model's request runs (it holds KV pages)
sub wait_running
{
	my ($model, $n) = @_;
	$n //= 1;
	return wait_for(
		"SELECT count(*) FILTER (WHERE model_running >= $n AND kv_pages_used > 0) > 0 "
		  . "FROM mlops.worker_status WHERE model = '$model'", 't', 20);
}

# wait until nothing is queued or running and the model's KV pages are free
sub wait_idle
{
	my ($model, $seconds) = @_;
	return wait_for(
		"SELECT bool_and(queue_depth = 0 AND in_flight = 0) AND "
		  . "coalesce(bool_and(kv_pages_used = 0) FILTER (WHERE model = '$model'), true) "
		  . "FROM mlops.worker_status", 't', $seconds);
}

# wait until a background session's stderr matches; seconds waited or undef
sub wait_error
{
	my ($bg, $re, $seconds) = @_;
	my $start = time;
	my $timer = IPC::Run::timer($seconds);
	my $waited;

	pump_until($bg->{run}, $timer, \$bg->{stderr}, $re);
	$waited = time - $start if $bg->{stderr} =~ $re;
	diag("stderr: $bg->{stderr}") unless defined $waited;
	# let the session finish the statement's output, then forget it
	$bg->query('SELECT 1');
	$bg->{stdout} = '';
	$bg->{stderr} = '';
	return $waited;
}

# start a query in a background session without waiting for its end
sub start_query
{
	my ($bg, $sql) = @_;
	$bg->{stdout} = '';
	$bg->{stderr} = '';
	$bg->query_until(qr/started\n/, "\\echo started\n$sql;\n");
	return;
}

# a background session with verbose errors (SQLSTATEs) and its pid
sub session
{
	my $bg = $node->background_psql('postgres', on_error_stop => 0);
	$bg->set_query_timer_restart;
	$bg->query_safe('\set VERBOSITY verbose');
	return ($bg, $bg->query_safe('SELECT pg_backend_pid()'));
}

# psql in the background with its own output; the handle and output refs
sub start_psql
{
	my ($sql) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ 'psql', '-X', '-A', '-t', '-v', 'VERBOSITY=verbose', '-d', $node->connstr('postgres'), '-c', $sql ],
		'<', \undef, '>', \$out, '2>', \$err);
	return { h => $h, out => \$out, err => \$err };
}

# wait for background psql processes to end; seconds waited or undef
sub wait_psqls
{
	my ($seconds, @ps) = @_;
	my $start = time;
	while (time - $start < $seconds)
	{
		my $running = 0;
		for my $p (@ps)
		{
			next unless $p->{h}->pumpable;
			$p->{h}->pump_nb;
			$running++ if $p->{h}->pumpable;
		}
		if (!$running)
		{
			$_->{h}->finish for @ps;
			return time - $start;
		}
		usleep(20_000);
	}
	$_->{h}->kill_kill for @ps;
	return undef;
}

# the pid of the (only) inference worker
sub worker_pid
{
	return $node->safe_psql('postgres', 'SELECT max(pid) FROM mlops.worker_status');
}

# ---------------------------------------------------------------------------
# 1. one session alone: the fixtures' greedy tokens and the embeddings
# ---------------------------------------------------------------------------
my %fixture = (llama => 'llama-tiny-f32', qwen2 => 'qwen2-tiny-f32', mistral => 'mistral-tiny-f32');
my @calls;     # generations: [SQL expression, md5 of its value alone]
my @checks;    # generations and embeddings: SQL true when the value is as alone
for my $model (sort keys %fixture)
{
	my $golden = $json->decode(slurp_file("$fixtures/$fixture{$model}/golden.json"));
	for my $case (@{ $golden->{cases} })
	{
		my $ids = '{' . join(',', @{ $case->{greedy_new_ids} }) . '}';
		my $call = gen($model, $case->{prompt}, scalar @{ $case->{greedy_new_ids} });
		my ($got, $want) = split /\|/, $node->safe_psql('postgres',
			"SELECT md5($call), md5(mlops.detokenize('$fixture{$model}', '$ids', true))"), 2;
		is($got, $want, "$model alone: the fixture's greedy tokens for \"" . substr($case->{prompt}, 0, 12) . '"');
		push @calls, [ $call, $got ];
		# a long generation too (the context is 256)
		$call = gen($model, $case->{prompt}, 200);
		push @calls, [ $call, $node->safe_psql('postgres', "SELECT md5($call)") ];
	}
}
push @checks, map { "md5($_->[0]) = '$_->[1]'" } @calls;
# Embeddings are compared to the bit: the worker encodes each request on
# its own, so what other sessions ask never changes a result.  (Within one
# request, an input's embedding in an array may differ in its last bits
# from the same text alone: the sums of a matrix product with more rows
# run in another order; checked within 1e-6 below.)
my $golden_enc = $json->decode(slurp_file("$fixtures/bert-tiny-mean/golden.json"));
my @texts = map { $_->{text} } @{ $golden_enc->{cases} };
for my $t (@texts)
{
	my $call = "mlops.embed('enc', " . lit($t) . ')';
	my $alone = $node->safe_psql('postgres', "SELECT $call");
	push @checks, "${call}::text = '$alone'";
}
{
	my $call = "mlops.embed('enc', ARRAY[" . join(', ', map { lit($_) } @texts) . '])';
	my $alone = $node->safe_psql('postgres', "SELECT $call");
	push @checks, "${call}::text = '$alone'";
	push @checks, "(SELECT count(*) = " . scalar(@texts) . " FROM unnest($call))";
	# the first embedding within 1e-4 of the fixture's
	my $ref = '[' . join(',', @{ $golden_enc->{cases}[0]{embedding} }) . ']';
	is( $node->safe_psql('postgres',
			"SELECT mlops.embed('enc', " . lit($texts[0]) . ") <-> '$ref'::vector < 1e-4"),
		't', 'enc alone: the fixture embedding');
}
is( $node->safe_psql('postgres',
		"SELECT (mlops.embed('enc', ARRAY[" . lit($texts[0]) . ", 'short']))[2] <-> mlops.embed('enc', 'short') < 1e-6"),
	't', 'the embedding of a text in an array is within 1e-6 of the same text alone');

# ---------------------------------------------------------------------------
# 2. four clients at once get the same results (a division by zero else)
# ---------------------------------------------------------------------------
my @scripts;
for my $i (0 .. $#checks)
{
	my $file = "$base/check$i.sql";
	PostgreSQL::Test::Utils::append_to_file($file, "SELECT 1 / ($checks[$i])::int;\n");
	push @scripts, '-f', "$file\@1";
}
my ($bout, $berr) = ('', '');
IPC::Run::run(
	[
		'pgbench', '--no-vacuum', '--client=4', '--jobs=4', '--transactions=50', @scripts,
		'-h', $node->host, '-p', $node->port, 'postgres'
	],
	'>', \$bout, '2>', \$berr);
like($bout, qr{processed: 200/200}, 'four clients at once get what one session gets alone (generate and embed, 3 architectures)')
  or diag("pgbench stderr:\n$berr\nscripts (from 0):\n" . join("\n", @checks));

# ---------------------------------------------------------------------------
# 3. cancel, statement_timeout, closing a stream, client disconnect
# ---------------------------------------------------------------------------
my ($a, $apid) = session();
start_query($a, "SELECT length($long)");
ok(wait_running('slow'), 'a long generation runs and holds KV pages');
$node->safe_psql('postgres', "SELECT pg_cancel_backend($apid)");
my $t = wait_error($a, qr/ERROR:  57014: canceling statement due to user request/, 10);
ok(defined $t && $t < 1, 'pg_cancel_backend ends the waiting generate within 1 s')
  or diag('after ' . ($t // 'more than 10') . ' s');
ok(wait_idle('slow', 1), 'the cancelled request leaves the worker: nothing queued or in flight, no KV page used');
# the session works on
is($a->query_safe("SELECT $calls[0][0] IS NOT NULL"), 't', 'the cancelled session generates again');

# statement_timeout
$a->query_safe("SET statement_timeout = '400ms'");
start_query($a, "SELECT length($long)");
$t = wait_error($a, qr/ERROR:  57014: canceling statement due to statement timeout/, 10);
ok(defined $t && $t < 1.5, 'statement_timeout ends a generate')
  or diag('after ' . ($t // 'more than 10') . ' s');
ok(wait_idle('slow', 1), 'the timed-out request leaves the worker and frees its KV pages');
$a->query_safe('RESET statement_timeout');

# a stream read through a cursor keeps its request; CLOSE ends it
$a->query_safe('BEGIN');
$a->query_safe("DECLARE c NO SCROLL CURSOR FOR SELECT mlops.generate_stream('slow', 'hello', "
	  . "max_tokens => 3000, options => '{\"ignore_eos\": true}')");
is($a->query_safe('FETCH 2 FROM c'), "X\nX", 'a stream gives its first tokens');
ok(wait_running('slow'), 'the stream\'s request runs');
$a->query_safe('CLOSE c');
ok(wait_idle('slow', 1), 'closing the cursor ends the stream\'s request and frees its KV pages');
$a->query_safe('COMMIT');

# cancel while reading a stream
$a->query_safe('BEGIN');
$a->query_safe("DECLARE c NO SCROLL CURSOR FOR SELECT mlops.generate_stream('slow', 'hello', "
	  . "max_tokens => 3000, options => '{\"ignore_eos\": true}')");
$a->query_safe('FETCH 1 FROM c');
start_query($a, 'FETCH ALL FROM c');
ok(wait_running('slow'), 'FETCH ALL waits for the stream');
$node->safe_psql('postgres', "SELECT pg_cancel_backend($apid)");
$t = wait_error($a, qr/ERROR:  57014: canceling statement due to user request/, 10);
ok(defined $t && $t < 1, 'pg_cancel_backend ends a session reading a stream')
  or diag('after ' . ($t // 'more than 10') . ' s');
ok(wait_idle('slow', 1), 'the cancelled stream leaves the worker');
$a->query('ROLLBACK');
$a->quit;

# a client that disconnects while it holds a stream
my ($d) = session();
$d->query_safe('BEGIN');
$d->query_safe("DECLARE c NO SCROLL CURSOR FOR SELECT mlops.generate_stream('slow', 'hello', "
	  . "max_tokens => 3000, options => '{\"ignore_eos\": true}')");
is($d->query_safe('FETCH 1 FROM c'), 'X', 'a client that will disconnect reads a stream');
ok(wait_running('slow'), 'its request runs');
$d->{run}->kill_kill;
ok(wait_idle('slow', 1.5), 'a client that disconnects while holding a stream: its request ends, its KV pages are freed');

# a client that disconnects while waiting in generate, with
# client_connection_check_interval
my $p = start_psql("SET client_connection_check_interval = '100ms'; SELECT length($long);");
ok(wait_running('slow'), 'a generate in a client that will disconnect runs');
$p->{h}->kill_kill;
ok(wait_idle('slow', 1.5), 'a client that disconnects while waiting in generate: its request ends');

# the same with the default settings: the call itself watches its client
$p = start_psql("SELECT length($long);");
ok(wait_running('slow'), 'a generate in a client that will disconnect runs (default settings)');
$p->{h}->kill_kill;
ok(wait_idle('slow', 1.5), 'a client that disconnects while waiting in generate (default settings): its request ends');
# (if it did not, end its backend)
$node->safe_psql('postgres',
	"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%length(mlops.generate(%' AND pid <> pg_backend_pid()");
ok(wait_idle('slow', 2), 'the worker is idle again');

# ---------------------------------------------------------------------------
# 4. SIGTERM and kill -9 of the worker
# ---------------------------------------------------------------------------
my $pid = worker_pid();
ok($pid > 0, 'the worker runs');
my @ps = map { start_psql("SELECT length($long)") } 1 .. 3;
ok(wait_running('slow', 3), 'three long generations run together');
kill 'TERM', $pid;
$t = wait_psqls(10, @ps);
ok(defined $t && $t < 2, 'SIGTERM of the worker: the waiting sessions end within 2 s')
  or diag('after ' . ($t // 'more than 10') . ' s');
for my $i (0 .. $#ps)
{
	like(${ $ps[$i]{err} }, qr/ERROR:  58000: the pgmlops inference worker exited while it ran this request/,
		"session $i gets the worker-exited error");
}
ok(wait_for("SELECT max(pid) > 0 AND max(pid) <> $pid FROM mlops.worker_status", 't', 3),
	'a new worker runs within 3 s');
is($node->safe_psql('postgres', "SELECT md5($calls[0][0]), length(" . gen('slow', 'hi', 50) . ')'),
	"$calls[0][1]|50", 'after SIGTERM, calls give the same results');

$pid = worker_pid();
@ps = map { start_psql("SELECT length($long)") } 1 .. 3;
ok(wait_running('slow', 3), 'three long generations run together');
kill 'KILL', $pid;
$t = wait_psqls(10, @ps);
ok(defined $t && $t < 3, 'kill -9 of the worker: the waiting sessions end within 3 s')
  or diag('after ' . ($t // 'more than 10') . ' s');
for my $i (0 .. $#ps)
{
	like(${ $ps[$i]{err} }, qr/terminating connection because of crash of another server process|server closed the connection|worker exited/,
		"session $i gets an error");
}
ok(wait_for('SELECT max(pid) > 0 FROM mlops.worker_status', 't', 30), 'the server and the worker are back after the crash');
isnt(worker_pid(), $pid, 'the worker is a new process');
my @differ = grep { $node->safe_psql('postgres', "SELECT $_") ne 't' } @checks;
is(scalar @differ, 0, 'after kill -9 every call gives the same result as before')
  or diag(join("\n", @differ));

# ---------------------------------------------------------------------------
# 5. queue saturation: slowq's KV cache (16 MB, about 1,360 tokens) holds
# one prompt of 60% of it; admission counts prompts, so the requests behind
# the first one wait
# ---------------------------------------------------------------------------
$node->safe_psql('postgres', "SELECT mlops.load_model('slowq')");
my $slowq_tokens = 16 * $node->safe_psql('postgres',
	q{SELECT kv_pages_total FROM mlops.worker_status WHERE model = 'slowq'});
my $hello_tokens = $node->safe_psql('postgres', q{SELECT mlops.count_tokens('slowq', repeat('hello ', 100))}) / 100;

# a prompt of about n tokens of the slow model
sub prompt_of
{
	my ($n) = @_;
	return 'hello ' x int($n / $hello_tokens);
}
my $qprompt = prompt_of(0.6 * $slowq_tokens);
my $longq = gen('slowq', $qprompt, int(0.38 * $slowq_tokens));
$node->safe_psql('postgres', 'ALTER SYSTEM SET mlops.queue_limit = 2; SELECT pg_reload_conf();');
my ($q1, $q1pid) = session();
my ($q2, $q2pid) = session();
my ($q3, $q3pid) = session();
start_query($q1, "SELECT length($longq)");
ok(wait_running('slowq'), 'the first request runs');
start_query($q2, "SELECT length($longq)");
start_query($q3, "SELECT length($longq)");
ok(wait_for("SELECT max(queue_depth) || ' ' || max(in_flight) FROM mlops.worker_status", '2 1', 5),
	'two requests wait for KV pages for their prompts');
my ($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\nSELECT $longq");
like($err, qr/ERROR:  53400: the inference queue is full/, 'a third waiting request is refused: the queue is full');
($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\nSELECT $calls[0][0]");
like($err, qr/ERROR:  53400: the inference queue is full/, 'the queue is per worker: another model is refused too');
# cancel one waiting request: its place is free
$node->safe_psql('postgres', "SELECT pg_cancel_backend($q3pid)");
ok(defined wait_error($q3, qr/canceling statement due to user request/, 2), 'a waiting request is cancelled');
ok(wait_for("SELECT max(queue_depth) FROM mlops.worker_status", '1', 5), 'the cancelled request leaves the queue');
# mlops.queue_timeout
my $start = time;
($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\nSET mlops.queue_timeout = 300;\nSELECT $longq");
my $waited = time - $start;
like($err, qr/ERROR:  57014: the request waited in the inference queue longer than mlops.queue_timeout \(300 ms\)/,
	'mlops.queue_timeout ends a request that waits');
ok($waited < 2, "... after about 300 ms ($waited s)");
$node->safe_psql('postgres', "SELECT pg_cancel_backend($q1pid)");
ok(defined wait_error($q1, qr/canceling statement due to user request/, 2), 'the running request is cancelled');
ok(wait_running('slowq'), 'the waiting request starts');
$node->safe_psql('postgres', "SELECT pg_cancel_backend($q2pid)");
ok(defined wait_error($q2, qr/canceling statement due to user request/, 2), 'it is cancelled too');
ok(wait_idle('slowq', 5), 'nothing is left in the worker');
$_->quit for $q1, $q2, $q3;
$node->safe_psql('postgres', 'ALTER SYSTEM RESET mlops.queue_limit; SELECT pg_reload_conf();');

# ---------------------------------------------------------------------------
# 5b. a slow reader: a stream fetched once fills its answer queue (16 kB,
# about 680 tokens); the worker pauses that request instead of waiting and
# does not spin meanwhile.  A request whose prompt does not fit beside the
# paused one preempts it and runs; the stream then resumes unchanged when
# it is read (its request reads its tokens again)
# ---------------------------------------------------------------------------
# CPU ticks the worker used so far
sub worker_ticks
{
	my @f = split ' ', slurp_file('/proc/' . worker_pid() . '/stat');
	return $f[13] + $f[14];
}
my ($sa, $sapid) = session();
$sa->query_safe('BEGIN');
$sa->query_safe("DECLARE c CURSOR FOR SELECT mlops.generate_stream('slowq', 'hello', 1200, "
	  . q{options => '{"ignore_eos": true}') AS p});
is($sa->query_safe('FETCH 1 FROM c'), 'X', 'a stream of the slow model starts');
# the request is paused once its pages stop growing
my ($pages, $last) = (-1, -2);
for (1 .. 150)
{
	$last = $pages;
	$pages = $node->safe_psql('postgres', q{SELECT kv_pages_used FROM mlops.worker_status WHERE model = 'slowq'});
	last if $pages == $last && $pages > 40;
	usleep(200_000);
}
ok($pages == $last && $pages > 40 && $pages < 1200 / 16,
	"the unread stream is paused after filling its queue ($pages pages)");
my $t0 = worker_ticks();
usleep(1_000_000);
my $ticks = worker_ticks() - $t0;
ok($ticks < 30, "the worker sleeps meanwhile ($ticks ticks of CPU in 1 s)");
# a prompt that fits the cache only without the paused request's pages
my ($sb, $sbpid) = session();
my $big = gen('slowq', prompt_of($slowq_tokens - 16 * ($pages - 2)), 200);
my $preempted = $node->safe_psql('postgres', q{SELECT preemptions FROM mlops.worker_status WHERE model = 'slowq'});
start_query($sb, "SELECT length($big)");
ok(wait_for(q{SELECT preemptions FROM mlops.worker_status WHERE model = 'slowq'}, $preempted + 1, 5),
	'a request whose prompt does not fit beside the paused stream preempts it (mlops.worker_status counts it)');
is($node->safe_psql('postgres', q{SELECT queue_depth || ' ' || in_flight FROM mlops.worker_status WHERE model = 'slowq'}),
	'1 1', 'the stream waits, the new request runs');
pump_until($sb->{run}, IPC::Run::timer(60), \$sb->{stdout}, qr/^\s*200\s*$/m);
like($sb->{stdout}, qr/^\s*200\s*$/m, 'it gives its 200 tokens');
my $rest = $sa->query_safe('FETCH ALL FROM c');
$rest =~ s/\n//g;
is(length($rest) + 1, 1200, 'the preempted stream resumes and gives every token') or diag(length $rest);
like($rest, qr/^X+$/, 'the same token as before its preemption');
$sa->query_safe('COMMIT');
ok(wait_idle('slowq', 30), 'nothing is left in the worker');
$_->quit for $sa, $sb;

# ---------------------------------------------------------------------------
# 5c. a session caches what a reference resolves to; another session's
# deploy reaches it at its next statement (the registry's invalidation)
# ---------------------------------------------------------------------------
$node->safe_psql('postgres',
	q{SELECT mlops.register_model('moving', 'llama-tiny-f32', task => 'text-generation')});
my ($mv, $mvpid) = session();
my $moving = gen('moving', 'The quick brown fox', 8);
my $llama_text = $node->safe_psql('postgres', 'SELECT ' . gen('llama', 'The quick brown fox', 8));
my $qwen_text = $node->safe_psql('postgres', 'SELECT ' . gen('qwen2', 'The quick brown fox', 8));
isnt($llama_text, $qwen_text, 'the two fixtures generate different text');
is($mv->query_safe("SELECT $moving"), $llama_text, 'a session generates with version 1');
is($mv->query_safe("SELECT $moving"), $llama_text, '... twice (from its cache)');
$node->safe_psql('postgres',
	q{SELECT mlops.register_model('moving', 'qwen2-tiny-f32', task => 'text-generation'); SELECT mlops.deploy('moving', 2)});
is($mv->query_safe("SELECT $moving"), $qwen_text, 'after a deploy by another session, it generates with version 2');
$node->safe_psql('postgres', q{SELECT mlops.rollback('moving')});
is($mv->query_safe("SELECT $moving"), $llama_text, 'and after a rollback with version 1 again');
# inside one read-committed transaction too: the invalidation arrives at the next statement
$mv->query_safe('BEGIN');
is($mv->query_safe("SELECT $moving"), $llama_text, 'in a transaction: version 1');
$node->safe_psql('postgres', q{SELECT mlops.deploy('moving', 2)});
is($mv->query_safe("SELECT $moving"), $qwen_text, '... and version 2 once another session deployed it');
$mv->query_safe('COMMIT');
$mv->quit;

# ---------------------------------------------------------------------------
# 6. a model's weights deleted while it is loaded
# ---------------------------------------------------------------------------
my $gone = $calls[0][0] =~ s/'llama'/'gone'/r;
is($node->safe_psql('postgres', "SELECT md5($gone)"), $calls[0][1], 'a copy of the llama fixture generates');
$pid = worker_pid();
unlink("$models/gone/model.safetensors") or die "unlink: $!";
($ret, $out, $err) = $node->psql('postgres', "SELECT md5($gone)");
ok(($ret == 0 && $out eq $calls[0][1]) || $err =~ /ERROR:  the files of model "gone" are missing/,
	'deleted weights: the loaded model serves from memory, or a clear error') or diag($err);
($ret, $out, $err) = $node->psql('postgres', "SELECT mlops.unload_model('gone'); SELECT md5($gone)");
like($err, qr/ERROR:  the files of model "gone" are missing/, 'once unloaded, a model without weights gives a clear error');
rename("$models/gone", "$models/gone-renamed") or die "rename: $!";
($ret, $out, $err) = $node->psql('postgres', "SELECT md5($gone)");
like($err, qr/ERROR:  .*gone/, 'a renamed model directory gives an error');
is(worker_pid(), $pid, 'the worker did not crash');
is($node->safe_psql('postgres', "SELECT md5($calls[0][0])"), $calls[0][1], 'the worker serves the other models');

# a weight file truncated in place under a running generation (the first
# step of copying a new checkpoint over the old one)
my ($sh, $sh_pid) = session();
start_query($sh, 'SELECT length(' . gen('shrink', 'hello', 3000) . ')');
ok(wait_running('shrink'), 'a long generation of "shrink" runs');
truncate("$models/shrink/model.safetensors", 4096) or die "truncate: $!";
ok(defined wait_error($sh, qr/ERROR:  .*weight file "model.safetensors" of model "shrink" was changed in place while the model was loaded; the model was unloaded/, 20),
	'a weight file truncated under a generation: a clear error');
is(worker_pid(), $pid, 'the worker did not die of SIGBUS');
is($sh->query_safe('SELECT pg_backend_pid()'), $sh_pid, 'the cluster was not reset: the session lives');
is($node->safe_psql('postgres', q{SELECT count(*) FROM mlops.worker_status WHERE model = 'shrink'}), '0',
	'the damaged model is unloaded');
ok(wait_idle('shrink', 2), 'its request left the worker');
($ret, $out, $err) = $node->psql('postgres', 'SELECT ' . gen('shrink', 'hello', 3));
like($err, qr/ERROR:  .*shrink/, 'while the file stays short, loading it fails with an error');
make_slow("$models/shrink");
is($node->safe_psql('postgres', 'SELECT ' . gen('shrink', 'hello', 3)), 'XXX', 'once the new file is written, the model loads again');
$sh->quit;

# an encoder whose weight file is written in place within the second the
# worker stamped it (so the stamp still matches): the encode after the
# write fails with the same error, and the next call reloads the file
my $encw = "$models/bert-tiny-mean/model.safetensors";
utime(1_700_000_000, 1_700_000_000, $encw) or die "utime: $!";
$node->safe_psql('postgres', q{SELECT mlops.unload_model('enc')});
is($node->safe_psql('postgres', "SELECT vector_dims(mlops.embed('enc', 'hello'))"), '64',
	'the encoder loads with a known modification time');
{
	open my $f, '+<:raw', $encw or die "$encw: $!";
	my $bytes = do { local $/; <$f> };
	seek($f, 0, 0);
	print $f $bytes;
	close $f;
}
utime(1_700_000_000.5, 1_700_000_000.5, $encw) or die "utime: $!";
($ret, $out, $err) = $node->psql('postgres', "SELECT mlops.embed('enc', 'hello')");
like($err, qr/ERROR:  weight file "model.safetensors" of model "enc" was changed in place while the model was loaded; the model was unloaded/,
	'an encoder whose weight file was written in place: a clear error');
is($node->safe_psql('postgres', "SELECT vector_dims(mlops.embed('enc', 'hello'))"), '64',
	'the next call loads the file again');
is(worker_pid(), $pid, 'the worker is the same');

# ---------------------------------------------------------------------------
# 6b. LRU eviction under mlops.gpu_memory_limit: room for one tiny decoder
# (0.6 MB of weights + 8 MB of KV cache) but not two
# ---------------------------------------------------------------------------
$node->safe_psql('postgres',
	q{SELECT mlops.unload_model(m) FROM unnest(ARRAY['llama', 'qwen2', 'mistral', 'enc', 'slow', 'slowq', 'shrink']) m});
is($node->safe_psql('postgres', 'SELECT count(model) FROM mlops.worker_status'), '0', 'every model is unloaded');
$node->safe_psql('postgres',
	"ALTER SYSTEM SET mlops.kv_cache_memory = '8MB'; ALTER SYSTEM SET mlops.gpu_memory_limit = '12MB'; SELECT pg_reload_conf();");
# the worker reads the settings at its next pass after the reload signal
my $applied = 0;
for (1 .. 50)
{
	$node->safe_psql('postgres', q{SELECT mlops.unload_model('llama')});
	$node->safe_psql('postgres', q{SELECT mlops.load_model('llama')});
	$applied = $node->safe_psql('postgres',
		q{SELECT kv_cache_bytes = 8 * 1024 * 1024 FROM mlops.worker_status WHERE model = 'llama'}) eq 't';
	last if $applied;
	usleep(100_000);
}
ok($applied, 'the worker applies the reloaded settings to a newly loaded model');
$node->safe_psql('postgres', q{SELECT mlops.load_model('qwen2')});
is($node->safe_psql('postgres', q{SELECT string_agg(model, ',') FROM mlops.worker_status}), 'qwen2',
	'loading a second model evicts the idle first one');
is($node->safe_psql('postgres', "SELECT md5($calls[0][0])"), $calls[0][1], 'the evicted model reloads at its next use');
is($node->safe_psql('postgres', q{SELECT string_agg(model, ',') FROM mlops.worker_status}), 'llama',
	'and evicts the other, least recently used');
ok($node->safe_psql('postgres', q{SELECT memory_used <= 12 * 1024 * 1024 AND memory_free >= 0 FROM mlops.worker_status}) eq 't',
	'memory used stays under the limit');
$node->safe_psql('postgres',
	'ALTER SYSTEM RESET mlops.kv_cache_memory; ALTER SYSTEM RESET mlops.gpu_memory_limit; SELECT pg_reload_conf();');

# ---------------------------------------------------------------------------
# 7. without shared_preload_libraries; with no workers
# ---------------------------------------------------------------------------
$node->stop;
my $plain = PostgreSQL::Test::Cluster->new('no_preload');
$plain->init;
$plain->append_conf('postgresql.conf', "mlops.model_dir = '$models'\n");
$plain->start;
($ret, $out, $err) = $plain->psql('postgres', 'CREATE EXTENSION pgmlops');
is($ret, 0, 'without shared_preload_libraries, CREATE EXTENSION pgmlops works')
  or diag("loading pgmlops outside shared_preload_libraries fails: $err");
SKIP:
{
	skip 'the extension cannot be created', 3 if $ret != 0;
	$plain->safe_psql('postgres',
		"SELECT mlops.register_model('llama', 'llama-tiny-f32', task => 'text-generation'); "
		  . "SELECT mlops.register_model('enc', 'bert-tiny-mean', task => 'embedding')");
	($ret, $out, $err) = $plain->psql('postgres', "SELECT $calls[0][0]");
	like($err, qr/ERROR:  the pgmlops inference service is not running\nHINT:  Add pgmlops to shared_preload_libraries/,
		'without shared_preload_libraries: generate says how to start the service');
	($ret, $out, $err) = $plain->psql('postgres', "SELECT mlops.embed('enc', 'x')");
	like($err, qr/ERROR:  the pgmlops inference service is not running/, '... embed too');
	($ret, $out, $err) = $plain->psql('postgres', "SELECT count(*) FROM mlops.worker_status");
	ok($ret == 0 || $err =~ /ERROR:  the pgmlops inference service is not running/, 'worker_status works or says so')
	  or diag($err);
}
$plain->stop;

$node->append_conf('postgresql.conf', "mlops.worker_count = 0\n");
$node->start;
($ret, $out, $err) = $node->psql('postgres', "SELECT $calls[0][0]");
like($err, qr/ERROR:  the pgmlops inference service has no workers\nHINT:  Set mlops.worker_count/,
	'mlops.worker_count = 0: generate says that there are no workers');

$node->stop;
done_testing();
