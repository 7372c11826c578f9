# Copyright (c) pgmlops authors
#
# t/060_ml_reference.pl: mlops.train against scikit-learn and XGBoost.
# Runs scripts/ml_reference.py against a fresh node: each case trains a
# model on a vendored dataset (test/data/ml/), fits the reference on the
# same split, hyperparameters and preprocessing, and compares the held-out
# metrics (within 1e-3 for the deterministic algorithms) and the
# predict_batch predictions.  One TAP test per case.
#
# Skipped when no python3 imports sklearn, xgboost and psycopg, unless the
# environment variable CI is set (CI installs them: then it fails).  Set
# PYTHON to choose the interpreter.
use strict;
use warnings;

use File::Basename qw(dirname);
use File::Spec;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $root = File::Spec->rel2abs(dirname(__FILE__) . '/..');
my $script = "$root/scripts/ml_reference.py";

# the first interpreter that has the reference libraries
my $python;
for my $candidate (grep { defined } ($ENV{PYTHON}, '/usr/bin/python3', 'python3'))
{
	my ($out, $err) = ('', '');
	my $ok = eval {
		IPC::Run::run([ $candidate, '-c', 'import sklearn, xgboost, psycopg, numpy' ],
			'>', \$out, '2>', \$err);
	};
	if ($ok)
	{
		$python = $candidate;
		last;
	}
}
if (!defined $python)
{
	plan skip_all => 'python3 with sklearn, xgboost and psycopg is not available'
	  unless $ENV{CI};
	fail('CI is set, so python3 must import sklearn, xgboost and psycopg');
	done_testing();
	exit 0;
}

my $node = PostgreSQL::Test::Cluster->new('ml_reference');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pgmlops');

my ($out, $err) = ('', '');
{
	local $ENV{PGHOST} = $node->host;
	local $ENV{PGPORT} = $node->port;
	local $ENV{PGDATABASE} = 'postgres';
	delete local $ENV{PGSERVICE};
	IPC::Run::run([ $python, $script ], '>', \$out, '2>', \$err);
}
my $rc = $? >> 8;
note($out);
diag($err) if $err ne '';

my $cases = 0;
for my $line (split /\n/, $out)
{
	next unless $line =~ /^CASE (\S+) (PASS|FAIL)\s*(.*)$/;
	$cases++;
	ok($2 eq 'PASS', "$1 matches the reference") or diag("$1: $3");
}
ok($cases >= 12, "every reference case ran ($cases)");
is($rc, 0, 'ml_reference.py exits 0');

$node->stop;
done_testing();
