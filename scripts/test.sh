#!/usr/bin/env bash
# scripts/test.sh: the whole test suite on a fresh Debian 12 machine.
#
# Installs the packages it needs, builds and installs the extension, starts
# its own PostgreSQL server as an unprivileged user, and runs:
#   1. the C unit tests (unit/, no server), and each libFuzzer target
#      (fuzz/) for a few seconds on its seed corpus,
#   2. pg_regress (sql/ + expected/) against that server,
#   3. the TAP tests (t/: crash recovery, replication, concurrency, clients),
#      each of which starts its own servers with PostgreSQL::Test::Cluster.
# Ends with one line "tests: N passed, N failed" and exits non-zero on failure.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/lib.sh"
require_root "$@"

W=${PGM_TEST_DIR:-/tmp/pgmlops-test}
PORT=${PGM_TEST_PORT:-54329}
passed=0; failed=0
tally() { passed=$((passed + $1)); failed=$((failed + $2)); }

install_deps
ensure_user
stop_cluster "$W/data" 2>/dev/null
rm -rf "$W"
stage_tree "$here" "$W/src"

log "building and installing"
build_and_install "$W/src" || die "build failed"

log "unit tests"
out=$(as_user make -C "$W/src" -s unitcheck 2>&1); rc=$?
printf '%s\n' "$out"
p=$(printf '%s\n' "$out" | sed -n 's/^.*: \([0-9]*\) passed, \([0-9]*\) failed.*$/\1/p' | awk '{s+=$1} END {print s+0}')
f=$(printf '%s\n' "$out" | sed -n 's/^.*: \([0-9]*\) passed, \([0-9]*\) failed.*$/\2/p' | awk '{s+=$1} END {print s+0}')
tally "${p:-0}" "${f:-0}"
[ $rc -ne 0 ] && [ "${f:-0}" -eq 0 ] && tally 0 1

log "fuzz smoke tests"
if as_user make -C "$W/src" -s fuzz >"$W/fuzz-build.log" 2>&1; then
  for b in "$W"/src/fuzz/fuzz_*.bin; do
    name=$(basename "$b" .bin); name=${name#fuzz_}
    corpus=$W/fuzz-corpus/$name
    mkdir -p "$corpus"
    [ -d "$W/src/fuzz/corpus/$name" ] && cp -r "$W/src/fuzz/corpus/$name/." "$corpus/"
    chown -R "$PGM_USER" "$W/fuzz-corpus"
    if as_user "$b" -max_total_time="${PGM_FUZZ_SECONDS:-10}" -rss_limit_mb=2048 \
         -artifact_prefix="$W/fuzz-corpus/$name-" "$corpus" >"$W/fuzz-$name.log" 2>&1; then
      echo "fuzz $name: ok ($(grep -o 'Done [0-9]* runs' "$W/fuzz-$name.log"))"; tally 1 0
    else
      echo "fuzz $name: FAILED"; tail -30 "$W/fuzz-$name.log"; tally 0 1
    fi
  done
else
  echo "fuzz targets did not build"; tail -20 "$W/fuzz-build.log"; tally 0 1
fi

log "pg_regress"
start_cluster "$W/data" "$PORT" "$W/sock" "$PG_BIN"
out=$(as_user env PGHOST="$W/sock" PGPORT="$PORT" make -C "$W/src" -s installcheck TAP_TESTS= 2>&1); rc=$?
printf '%s\n' "$out"
tally "$(printf '%s\n' "$out" | grep -cE '\.\.\. ok|^ok ')" "$(printf '%s\n' "$out" | grep -cE 'FAILED|^not ok ')"
if [ $rc -ne 0 ]; then
  [ -f "$W/src/regression.diffs" ] && head -300 "$W/src/regression.diffs"
  [ "$(printf '%s\n' "$out" | grep -cE 'FAILED|^not ok ')" -eq 0 ] && tally 0 1
fi
stop_cluster "$W/data"

log "TAP tests"
if [ -d "$here/t/client" ] && command -v npm >/dev/null; then
  # the client test is required then: a failed install is a failure
  export PGMLOPS_REQUIRE_CLIENT=1
  (cd "$W/src/t/client" && as_user npm install --no-audit --no-fund --silent) || { log "npm install failed"; tally 0 1; }
fi
out=$(cd "$W/src" && as_user env PATH="$PG_BIN:$PATH" PGMLOPS_REQUIRE_CLIENT="${PGMLOPS_REQUIRE_CLIENT:-}" \
        PG_REGRESS=/usr/lib/postgresql/$PG_MAJOR/lib/pgxs/src/test/regress/pg_regress \
        PERL5LIB=/usr/lib/postgresql/$PG_MAJOR/lib/pgxs/src/test/perl \
        PGMLOPS_SRC="$W/src" prove t/*.pl 2>&1); rc=$?
printf '%s\n' "$out"
n=$(printf '%s\n' "$out" | sed -n 's/^Files=[0-9]*, Tests=\([0-9]*\),.*/\1/p')
bad=$(printf '%s\n' "$out" | sed -n 's/^Failed \([0-9]*\)\/[0-9]* subtests.*/\1/p' | awk '{s+=$1} END {print s+0}')
bad=${bad:-0}
[ $rc -ne 0 ] && [ "$bad" -eq 0 ] && bad=1
if [ $rc -ne 0 ]; then
  for f in "$W"/src/tmp_check/log/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -40 "$f"; }; done
fi
tally $(( ${n:-0} - bad < 0 ? 0 : ${n:-0} - bad )) "$bad"

echo
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
