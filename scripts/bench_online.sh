#!/usr/bin/env bash
# scripts/bench_online.sh: online feature serving latency (issue 4 target:
# p50 <= 0.3 ms for 10 features of one key over a prepared statement).
#
# Starts a PostgreSQL server of its own, creates a feature view with 10
# features over --keys entities (three source rows each), materializes it,
# then runs pgbench -M prepared with one client for --seconds seconds:
#   SELECT * FROM mlops.get_online_features(ARRAY[<10 refs>],
#                                           jsonb_build_object('customer_id', :k::bigint))
# with a random key per transaction, and the same through a feature service, logs every transaction's latency
# (pgbench -l) and prints p50, p95, p99 and the mean, together with the
# same statement against a plain primary-key SELECT of the 10 columns from
# the online table (the floor: parse-free round trip plus one index probe).
#
#   scripts/bench_online.sh                 100k keys, 10 s
#   scripts/bench_online.sh --keys 10000 --seconds 3    (smoke test)
#
# Options: --dir DIR (default /tmp/pgmlops-bench-online), --port P,
# --bindir DIR (a PostgreSQL bin folder with pgmlops installed; skips
# building), --out FILE (also write the table there), --keep (leave the
# server running).  Run as root (or it re-runs itself with sudo).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/lib.sh"
require_root "$@"

keys=100000
seconds=10
W=/tmp/pgmlops-bench-online
PORT=54351
bindir=
out=
keep=0

while [ $# -gt 0 ]; do
  case $1 in
    --keys) keys=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    *) bench_option "$@"; shift "$BENCH_SHIFT" ;;
  esac
done

install_deps
ensure_user
bench_server "$W" "$PORT" "$bindir" "$keep" "-c shared_buffers=256MB -c jit=off"

sql() { as_user env PGHOST="$SOCK" PGPORT="$PORT" "$BIN/psql" -X -v ON_ERROR_STOP=1 -qAt -d "$@"; }
sql postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS bench_online" \
  -c "CREATE DATABASE bench_online"
sql bench_online -c "CREATE EXTENSION pgmlops"

log "loading $keys keys x 3 rows and materializing"
t0=$(date +%s)
sql bench_online >/dev/null <<SQL
CREATE TABLE customer_stats AS
SELECT k AS customer_id, now() - (d || ' hours')::interval AS ts,
       random() AS f0, random() AS f1, random() AS f2, random() AS f3, random() AS f4,
       (random() * 100)::int AS f5, (random() * 100)::int AS f6, (random() * 1000)::bigint AS f7,
       md5(k::text || d) AS f8, random() < 0.5 AS f9
  FROM generate_series(1, $keys) k, generate_series(1, 3) d;
CREATE INDEX ON customer_stats (customer_id, ts);
ANALYZE customer_stats;
SELECT mlops.create_entity('customer', ARRAY['customer_id']);
SELECT mlops.create_feature_view('cust', 'customer', 'customer_stats', 'ts',
  ARRAY['f0','f1','f2','f3','f4','f5','f6','f7','f8','f9'], ttl => interval '30 days');
SELECT mlops.create_feature_service('cust_svc', ARRAY['cust:*']);
SELECT mlops.materialize_incremental('cust');
VACUUM ANALYZE mlops_online.cust_v1;
SQL
mat_s=$(( $(date +%s) - t0 ))
rows=$(sql bench_online -c "SELECT count(*) FROM mlops_online.cust_v1")

# pgbench takes :name in a script for a variable, even inside a literal, so
# the references' colon is spelled chr(58); the constant folds at planning
refs="translate('{cust/f0,cust/f1,cust/f2,cust/f3,cust/f4,cust/f5,cust/f6,cust/f7,cust/f8,cust/f9}', '/', chr(58))::text[]"
cat > "$W/online.sql" <<SQL
\\set k random(1, $keys)
SELECT * FROM mlops.get_online_features($refs, jsonb_build_object('customer_id', :k::bigint));
SQL
cat > "$W/service.sql" <<SQL
\\set k random(1, $keys)
SELECT * FROM mlops.get_online_features('cust_svc', jsonb_build_object('customer_id', :k::bigint));
SQL
cat > "$W/plain.sql" <<SQL
\\set k random(1, $keys)
SELECT f0, f1, f2, f3, f4, f5, f6, f7, f8, f9 FROM mlops_online.cust_v1 WHERE customer_id = :k;
SQL
chown "$PGM_USER" "$W"/*.sql

# one pgbench run: prints "p50 p95 p99 mean tps" in ms
run_pgbench() {
  local name=$1 logdir=$W/log-$1
  rm -rf "$logdir"; mkdir -p "$logdir"; chown "$PGM_USER" "$logdir"
  (cd "$logdir" && as_user env PGHOST="$SOCK" PGPORT="$PORT" "$BIN/pgbench" -n -M prepared -c 1 -j 1 \
     -T "$seconds" -f "$W/$name.sql" -l --log-prefix="$logdir/tx" bench_online > "$logdir/summary.txt" 2>&1) \
    || { cat "$logdir/summary.txt"; die "pgbench failed"; }
  # log lines: client_id transaction_no time(us) script_no time_epoch time_us
  cat "$logdir"/tx.* | awk '{print $3}' | sort -n | awk '
    { v[NR] = $1; s += $1 }
    END {
      printf "%.3f %.3f %.3f %.3f %d\n", v[int(NR * 0.50) + 1] / 1000, v[int(NR * 0.95) + 1] / 1000,
             v[int(NR * 0.99) + 1] / 1000, s / NR / 1000, NR
    }'
}

log "warming up"
sql bench_online -c "SELECT count(*) FROM mlops_online.cust_v1" >/dev/null
as_user env PGHOST="$SOCK" PGPORT="$PORT" "$BIN/pgbench" -n -M prepared -c 1 -T 2 -f "$W/online.sql" bench_online >/dev/null

log "measuring get_online_features ($seconds s)"
read -r o50 o95 o99 omean on <<<"$(run_pgbench online)"
log "measuring get_online_features of a service ($seconds s)"
read -r s50 s95 s99 smean sn <<<"$(run_pgbench service)"
log "measuring the plain primary-key SELECT ($seconds s)"
read -r p50 p95 p99 pmean pn <<<"$(run_pgbench plain)"

pgver=$(sql postgres -c "SHOW server_version")
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
report=$W/results-$(date +%Y%m%d-%H%M%S).md
{
  echo "## pgmlops online serving benchmark"
  echo
  echo "- machine: $(nproc) cores ($cpu); PostgreSQL $pgver"
  echo "- $keys keys x 3 source rows; materialize_incremental wrote $rows online rows (load + materialize ${mat_s} s)"
  echo "- pgbench -M prepared -c 1 -T $seconds, a random key per transaction; latency per transaction from pgbench -l"
  echo
  echo "| statement | transactions | p50 ms | p95 ms | p99 ms | mean ms |"
  echo "|---|---:|---:|---:|---:|---:|"
  echo "| get_online_features, 10 features, 1 key | $on | $o50 | $o95 | $o99 | $omean |"
  echo "| get_online_features, service of the same 10 features, 1 key | $sn | $s50 | $s95 | $s99 | $smean |"
  echo "| plain SELECT of the 10 columns by primary key | $pn | $p50 | $p95 | $p99 | $pmean |"
} > "$report"
echo
cat "$report"
[ -n "$out" ] && cp "$report" "$out"
echo
echo "(saved in $report)"
