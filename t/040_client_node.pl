# Copyright (c) pgmlops authors
#
# t/040_client_node.pl: run t/client/test.js, which uses the real npm
# packages `pg` and `pgvector` unchanged, against a fresh server over its
# unix socket.  Each "ok"/"not ok" line of the node script becomes a test.
use strict;
use warnings;

use File::Basename qw(dirname);
use File::Spec;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $client_dir = File::Spec->rel2abs(dirname(__FILE__) . '/client');
my $node_bin;
for my $cand (qw(node nodejs))
{
	chomp(my $path = `command -v $cand 2>/dev/null`);
	if ($path ne '')
	{
		$node_bin = $path;
		last;
	}
}
plan skip_all => 'node is not installed' unless defined $node_bin;
my $have_modules = -d "$client_dir/node_modules/pg" && -d "$client_dir/node_modules/pgvector";
# scripts/test.sh installs the packages and then requires this test to run
BAIL_OUT("npm packages are missing in $client_dir although the suite installed them")
  if !$have_modules && $ENV{PGMLOPS_REQUIRE_CLIENT};
plan skip_all =>
  "npm packages are not installed (run npm install in $client_dir)"
  unless $have_modules;

my $node = PostgreSQL::Test::Cluster->new('client');
$node->init;
$node->append_conf('postgresql.conf', "log_statement = none\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pgmlops');

# COPY in binary format, the documented bulk path of pgvector clients: the
# exact bytes out, and the same bytes back in.
my $copy_header = '5047434f50590aff0d0a00' . '00000000' . '00000000';
my ($bin, $cerr) = ('', '');
IPC::Run::run(
	[
		'psql', '-XAtq', '-d', $node->connstr('postgres'), '-c',
		"COPY (SELECT '[1,2]'::vector) TO STDOUT (FORMAT binary)"
	],
	'>', \$bin, '2>', \$cerr);
is( unpack('H*', $bin),
	$copy_header . '0001' . '0000000c' . '000200003f80000040000000' . 'ffff',
	'COPY TO (FORMAT binary) writes pgvector\'s vector layout');
$node->safe_psql('postgres', 'CREATE TABLE copy_in (v vector(2))');
IPC::Run::run(
	[
		'psql', '-XAtq', '-d', $node->connstr('postgres'), '-c',
		'COPY copy_in FROM STDIN (FORMAT binary)'
	],
	'<', \$bin, '>', \my $cout, '2>', \$cerr);
is($node->safe_psql('postgres', 'SELECT v::text FROM copy_in'),
	'[1,2]', 'COPY FROM (FORMAT binary) reads it back');

my $user = getpwuid($<);
my ($stdout, $stderr) = ('', '');
my $ok = IPC::Run::run(
	[ $node_bin, "$client_dir/test.js" ],
	'>', \$stdout, '2>', \$stderr,
	init => sub {
		$ENV{PGHOST} = $node->host;
		$ENV{PGPORT} = $node->port;
		$ENV{PGDATABASE} = 'postgres';
		$ENV{PGUSER} = $user;
		delete $ENV{PGPASSWORD};
		delete $ENV{PGSERVICE};
	});

my $checks = 0;
for my $line (split /\n/, $stdout)
{
	if ($line =~ /^(not )?ok \d+ - (.*)$/)
	{
		ok(!defined $1, "node pgvector client: $2");
		$checks++;
	}
	elsif ($line =~ /^#/)
	{
		diag($line);
	}
}
cmp_ok($checks, '>=', 10, "the client script ran all its checks ($checks)");
ok($ok, 'node exited with status 0') or diag("stderr:\n$stderr");

$node->stop;
done_testing();
