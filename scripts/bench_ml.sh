#!/usr/bin/env bash
# scripts/bench_ml.sh: the in-database ML benchmark (see docs/ml-benchmark.md).
#
# Loads make_classification(1M x 20, random_state=0) into a table of a
# PostgreSQL server of its own (started as the unprivileged user; lib.sh
# preloads pgmlops, so mlops.training_progress times the phases) and
# runs scripts/bench/ml_baseline.py, which measures in the same run:
#   (a) psycopg COPY export + sklearn LogisticRegression(lbfgs) against
#       mlops.train(..., 'logistic_regression'): end to end, fit only,
#       held-out accuracy;
#   (b) python xgboost (hist, 100 rounds, depth 6, 2 threads) with the
#       export against mlops.train(..., 'xgboost', ...);
#   (c) mlops.predict_batch rows/s, per-row mlops.predict in a SELECT against
#       the same arithmetic in SQL and a bare count(*);
#   (d) sklearn's predict in memory;
# and prints a markdown table with the ratios.
#
#   scripts/bench_ml.sh                 1M rows
#   scripts/bench_ml.sh --rows 100000   a smaller run (smoke test)
#
# Options: --repeat R (best of R for the prediction timings, default 3),
# --xgb-nthread N (XGBoost threads on both sides, default 2),
# --shared-buffers SIZE, --dir DIR (work folder, default /tmp/pgmlops-bench-ml),
# --port P, --bindir DIR (a PostgreSQL bin folder with pgmlops already
# installed; skips building), --out FILE (also write the table there), --keep
# (leave the server running).  Without --bindir the tree is built and
# installed into a private copy of PostgreSQL under DIR (nothing is
# installed into the system).  Run as root (or it re-runs itself with sudo).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/lib.sh"
require_root "$@"

rows=1000000
repeat=3
xgb_nthread=2
W=/tmp/pgmlops-bench-ml
PORT=54341
bindir=
out=
keep=0
shared_buffers=

while [ $# -gt 0 ]; do
  case $1 in
    --rows) rows=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --xgb-nthread) xgb_nthread=$2; shift 2 ;;
    --shared-buffers) shared_buffers=$2; shift 2 ;;
    *) bench_option "$@"; shift "$BENCH_SHIFT" ;;
  esac
done

install_deps
ensure_user

# Debian's python3-sklearn, python3-xgboost and python3-psycopg are in
# /usr/bin/python3's path (another python3 first in PATH may lack them)
PY=${PYTHON:-/usr/bin/python3}
"$PY" -c 'import sklearn, xgboost, psycopg' || die "$PY lacks sklearn, xgboost or psycopg"

ncpu=$(nproc)
mem_mb=$(awk '/^MemTotal/ {print int($2 / 1024)}' /proc/meminfo)
[ -n "$shared_buffers" ] || shared_buffers=$(bench_shared_buffers)

bench_server "$W" "$PORT" "$bindir" "$keep" "-c shared_buffers=$shared_buffers -c work_mem=64MB -c max_wal_size=8GB -c checkpoint_timeout=30min -c jit=off"

sql() { as_user env PGHOST="$SOCK" PGPORT="$PORT" "$BIN/psql" -X -v ON_ERROR_STOP=1 -qAt -d "$@"; }
py() { as_user env PGHOST="$SOCK" PGPORT="$PORT" PGDATABASE=bench_ml "$PY" "$here/scripts/bench/ml_baseline.py" "$@"; }

sql postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS bench_ml" -c "CREATE DATABASE bench_ml"
sql bench_ml -c "CREATE EXTENSION pgmlops"
pgver=$(sql postgres -c "SHOW server_version")
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)

log "loading $rows rows"
py load --rows "$rows"
sql bench_ml -c "CHECKPOINT"

log "measuring"
table=$W/table.md
rm -f "$table"
py run --repeat "$repeat" --xgb-nthread "$xgb_nthread" --out "$table"

report=$W/results-$(date +%Y%m%d-%H%M%S).md
{
  echo "## pgmlops ML benchmark"
  echo
  echo "- machine: $ncpu cores ($cpu), $(( mem_mb / 1024 )) GiB memory"
  echo "- PostgreSQL $pgver; shared_buffers=$shared_buffers"
  cat "$table"
} > "$report"
echo
cat "$report"
[ -n "$out" ] && cp "$report" "$out"
echo
echo "(saved in $report)"
