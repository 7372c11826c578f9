# Copyright (c) pgmlops authors
#
# t/050_model_dir.pl: models are directories inside mlops.model_dir.
# Symbolic links that stay inside it are followed, links that lead out of it
# (to a model directory or to one of its files) are refused; only superusers
# set mlops.model_dir; a backend's cached tokenizer is reloaded when its
# files are replaced on disk, and serves from memory while they are not.
use strict;
use warnings;

use File::Basename qw(dirname);
use File::Copy qw(copy);
use File::Path qw(make_path);
use File::Spec;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $fixtures = File::Spec->rel2abs(dirname(__FILE__) . '/../test/data/fixtures');

# ids of "Hello world" with special tokens, from tokenizer_golden.json
my $gpt2_ids = '{40,69,328,79,287,266,448}';
my $wordpiece_ids = '{2,540,398,65,130,86,107,3}';

my $node = PostgreSQL::Test::Cluster->new('model_dir');
$node->init;
my $base = File::Spec->rel2abs($node->basedir);
my $models = "$base/models";
my $outside = "$base/outside";

# copy a fixture tokenizer (writable copies: the fixtures are read-only)
sub copy_tokenizer
{
	my ($from, $to) = @_;
	make_path($to);
	for my $f ('tokenizer.json', 'tokenizer_config.json')
	{
		unlink("$to/$f");    # a read-only copy of a fixture may be there
		copy("$fixtures/$from/$f", "$to/$f") or die "copy $from/$f: $!";
		chmod 0644, "$to/$f";
	}
	return;
}

copy_tokenizer('tok-gpt2', "$models/gpt2");
copy_tokenizer('tok-gpt2', "$models/swap");
copy_tokenizer('tok-wordpiece', "$outside/wordpiece");
symlink("$models/gpt2", "$models/absolute-link") or die "symlink: $!";
symlink('gpt2', "$models/relative-link") or die "symlink: $!";
make_path("$models/nested");
symlink('../gpt2', "$models/nested/up-link") or die "symlink: $!";
symlink("$outside/wordpiece", "$models/escape") or die "symlink: $!";
symlink('../outside/wordpiece', "$models/relative-escape") or die "symlink: $!";
make_path("$models/file-escape");
symlink("$outside/wordpiece/tokenizer.json", "$models/file-escape/tokenizer.json")
  or die "symlink: $!";
symlink($models, "$base/models-link") or die "symlink: $!";

$node->append_conf('postgresql.conf', "mlops.model_dir = '$models'\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pgmlops; CREATE ROLE alice LOGIN;');

# run SQL, returning (stdout, stderr)
sub run_sql
{
	my ($sql, @extra) = @_;
	my ($out, $err) = ('', '');
	$node->psql(
		'postgres', $sql,
		stdout => \$out,
		stderr => \$err,
		on_error_stop => 0,
		@extra);
	return ($out, $err);
}

sub tokenize_ok
{
	my ($model, $expected, $name) = @_;
	my ($out, $err) = run_sql("SELECT mlops.tokenize('$model', 'Hello world', true)");
	is($out, $expected, $name) or diag($err);
	return;
}

sub tokenize_fails
{
	my ($model, $pattern, $name) = @_;
	my ($out, $err) = run_sql("SELECT mlops.tokenize('$model', 'Hello world', true)");
	like($err, $pattern, $name);
	unlike($err, qr/\Q$base\E/, "$name: the error shows no server path")
	  unless $model =~ m{^/};
	return;
}

# links inside mlops.model_dir
tokenize_ok('gpt2', $gpt2_ids, 'a model directory');
tokenize_ok('absolute-link', $gpt2_ids, 'an absolute symbolic link to a model inside');
tokenize_ok('relative-link', $gpt2_ids, 'a relative symbolic link to a model inside');
tokenize_ok('nested/up-link', $gpt2_ids, 'a link in a subdirectory that points back up, inside');

# links out of it
tokenize_fails('escape', qr/model "escape" is outside mlops.model_dir/,
	'a symbolic link to a directory outside is refused');
tokenize_fails('relative-escape', qr/model "relative-escape" is outside mlops.model_dir/,
	'a relative symbolic link out is refused');
tokenize_fails('file-escape',
	qr/file "tokenizer.json" of model "file-escape" is outside mlops.model_dir/,
	'a tokenizer.json that links out is refused');
tokenize_fails('../outside/wordpiece', qr/must not contain "\.\."/, '".." is refused');
tokenize_fails("$outside/wordpiece", qr/must be relative to mlops.model_dir/,
	'an absolute name is refused');

# mlops.model_dir may itself be reached through a link
my ($out, $err) = run_sql(
	"SET mlops.model_dir = '$base/models-link'; SELECT mlops.tokenize('relative-link', 'Hello world', true)"
);
is($out, $gpt2_ids, 'mlops.model_dir through a symbolic link') or diag($err);

# Only superusers set mlops.model_dir; others may use the models.  Before
# the library is loaded, a SET only makes a placeholder, which the library
# drops when it loads.
($out, $err) = run_sql(
	"SET mlops.model_dir = '$outside'; SELECT mlops.tokenize('wordpiece', 'x'); SELECT mlops.tokenize('gpt2', 'Hello world', true)",
	extra_params => [ '-U', 'alice' ]);
like($err, qr/WARNING:  permission denied to set parameter "mlops.model_dir"/,
	'a non-superuser\'s SET before the library loads is dropped');
like($err, qr/model "wordpiece" not found/, 'the dropped setting does not take effect');
is($out, $gpt2_ids, 'a non-superuser uses the models') or diag($err);
($out, $err) = run_sql(
	"SELECT mlops.count_tokens('gpt2', 'x'); SET mlops.model_dir = '$outside'",
	extra_params => [ '-U', 'alice' ]);
like($err, qr/ERROR:  permission denied to set parameter "mlops.model_dir"/,
	'a non-superuser cannot SET mlops.model_dir');
($out, $err) = run_sql("SELECT mlops.tokenize('escape', 'x')", extra_params => [ '-U', 'alice' ]);
like($err, qr/is outside mlops.model_dir/, 'a non-superuser cannot follow a link out either');
($out, $err) = run_sql("SELECT mlops.count_tokens('gpt2', 'x'); SET mlops.model_dir = 'models'");
like($err, qr/ERROR:  invalid value for parameter "mlops.model_dir": "models"/,
	'a relative mlops.model_dir is refused');

# One session: the cached tokenizer is reloaded when its files are
# replaced (as a deployment would: a new file renamed over the old one),
# and an unreadable but unchanged file is served from the cache.
my $swap = "$models/swap";
($out, $err) = run_sql(
	qq~SELECT mlops.tokenize('swap', 'Hello world', true);
\\! cp $fixtures/tok-wordpiece/tokenizer.json $swap/new.json && mv -f $swap/new.json $swap/tokenizer.json
\\! cp $fixtures/tok-wordpiece/tokenizer_config.json $swap/new.json && mv -f $swap/new.json $swap/tokenizer_config.json
SELECT mlops.tokenize('swap', 'Hello world', true);
\\! chmod 000 $swap/tokenizer.json
SELECT mlops.tokenize('swap', 'Hello world', true);
~);
is($out, "$gpt2_ids\n$wordpiece_ids\n$wordpiece_ids",
	'a replaced model is reloaded; an unchanged one is served from the cache')
  or diag($err);

# Files are not checked at every call: a replacement during a statement
# (here by the function itself, within a second) is seen by the next
# statement.
chmod 0644, "$swap/tokenizer.json";
($out, $err) = run_sql(
	qq~CREATE FUNCTION pg_temp.swap_mid_statement(fixture text, wait float8) RETURNS text LANGUAGE plpgsql AS \$\$
DECLARE
	before int[] := mlops.tokenize('swap', 'Hello world', true);
BEGIN
	EXECUTE format('COPY (SELECT 1) TO PROGRAM %L',
		format('cp $fixtures/%s/tokenizer.json $swap/new.json && mv -f $swap/new.json $swap/tokenizer.json && cp $fixtures/%s/tokenizer_config.json $swap/new.json && mv -f $swap/new.json $swap/tokenizer_config.json', fixture, fixture));
	PERFORM pg_sleep(wait);
	RETURN (before = mlops.tokenize('swap', 'Hello world', true))::text;
END
\$\$;
SELECT mlops.tokenize('swap', 'Hello world', true);
SELECT pg_temp.swap_mid_statement('tok-gpt2', 0);
SELECT mlops.tokenize('swap', 'Hello world', true);
SELECT pg_temp.swap_mid_statement('tok-wordpiece', 1.2);
~);
is($out, "$wordpiece_ids\ntrue\n$gpt2_ids\nfalse",
	'calls in a statement share a check of the files; the next statement, or a call a second later, sees the replaced files'
) or diag($err);
copy_tokenizer('tok-wordpiece', $swap);
chmod 000, "$swap/tokenizer.json";

($out, $err) = run_sql("SELECT mlops.tokenize('swap', 'Hello world', true)");
like($err, qr/could not load the tokenizer with model "swap"/,
	'a new session cannot read the unreadable file');
unlike($err, qr/\Q$base\E/, 'the engine error shows no server path');
chmod 0644, "$swap/tokenizer.json";

($out, $err) = run_sql(
	qq~SELECT mlops.tokenize('swap', 'Hello world', true);
\\! rm $swap/tokenizer.json
SELECT mlops.tokenize('swap', 'Hello world', true);
\\! echo '{"model": ' > $swap/tokenizer.json
SELECT mlops.tokenize('swap', 'Hello world', true);
\\! cp $fixtures/tok-gpt2/tokenizer.json $swap/tokenizer.json
SELECT mlops.tokenize('swap', 'Hello world', true);
~);
is($out, "$wordpiece_ids\n$gpt2_ids", 'the cache follows a removed, corrupted and restored file')
  or diag($err);
like($err, qr/model "swap" has no tokenizer.json/, 'a removed tokenizer.json is noticed');
like($err, qr/could not load the tokenizer with model "swap"/, 'a corrupted tokenizer.json is refused');
unlike($err, qr/\Q$base\E/, 'the errors show no server path');

# A database in another encoding: text goes to the tokenizer as UTF-8 and
# comes back in the database encoding.
$node->safe_psql('postgres',
	"CREATE DATABASE latin1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0");
$node->safe_psql('latin1', 'CREATE EXTENSION pgmlops');
my $utf8_ids = $node->safe_psql('postgres', "SELECT mlops.tokenize('gpt2', 'Café naïve')");
my $latin1_ids = $node->safe_psql('latin1',
	"SET client_encoding = 'UTF8'; SELECT mlops.tokenize('gpt2', 'Café naïve')");
is($latin1_ids, $utf8_ids, 'a LATIN1 database tokenizes the same characters');
is( $node->safe_psql(
		'latin1',
		"SET client_encoding = 'UTF8'; SELECT mlops.detokenize('gpt2', '$utf8_ids') = 'Café naïve'"),
	't', 'and decodes them back to LATIN1');
my $emoji_ids = $node->safe_psql('postgres', "SELECT mlops.tokenize('gpt2', U&'\\+01F600')");
($out, $err) = ('', '');
$node->psql('latin1', "SELECT mlops.detokenize('gpt2', '$emoji_ids')", stderr => \$err);
like($err, qr/has no equivalent in encoding "LATIN1"/,
	'a decoded character that LATIN1 lacks is an error');

$node->stop;
done_testing();
