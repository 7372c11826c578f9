#!/usr/bin/env bash
# scripts/bench_pit.sh: the point-in-time join benchmark of issue 4 (see
# docs/feature-store.md).
#
# Starts a PostgreSQL server of its own, generates an entity table (join key,
# event timestamp, label) and three feature views over three source tables
# with (key, timestamp) btree indexes (VACUUM ANALYZE), then times in the
# same run:
#   (a) count(*) over mlops.get_historical_features against count(*) over
#       the LATERAL (... ORDER BY ts DESC LIMIT 1) query a user would write,
#       one per view, with the same ttl conditions;
#   (b) mlops.create_training_set (checksum included) against CREATE TABLE
#       AS of the LATERAL query;
# checks that both tables hold identical rows (EXCEPT ALL both ways) and
# prints a markdown table with the ratios.
#
#   scripts/bench_pit.sh                       1M entity rows, 10M source rows
#   scripts/bench_pit.sh --entities 100000 --rows 1000000   a smaller run
#
# Options: --keys K (distinct entity keys, default 100000), --shared-buffers
# SIZE, --dir DIR (work folder, default /tmp/pgmlops-bench-pit), --port P,
# --bindir DIR (a PostgreSQL bin folder with pgmlops already installed;
# skips building), --out FILE (also write the table there), --keep (leave
# the server running).  Without --bindir the tree is built and installed
# into a private copy of PostgreSQL under DIR (nothing is installed into the
# system).  Run as root (or it re-runs itself with sudo).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/lib.sh"
require_root "$@"

entities=1000000
rows=10000000
keys=100000
W=/tmp/pgmlops-bench-pit
PORT=54342
bindir=
out=
keep=0
shared_buffers=

while [ $# -gt 0 ]; do
  case $1 in
    --entities) entities=$2; shift 2 ;;
    --rows) rows=$2; shift 2 ;;
    --keys) keys=$2; shift 2 ;;
    --shared-buffers) shared_buffers=$2; shift 2 ;;
    *) bench_option "$@"; shift "$BENCH_SHIFT" ;;
  esac
done
for v in "$entities" "$rows" "$keys"; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || die "--entities, --rows and --keys take positive integers"
done

install_deps
ensure_user

ncpu=$(nproc)
mem_mb=$(awk '/^MemTotal/ {print int($2 / 1024)}' /proc/meminfo)
[ -n "$shared_buffers" ] || shared_buffers=$(bench_shared_buffers)

bench_server "$W" "$PORT" "$bindir" "$keep" "-c shared_buffers=$shared_buffers -c work_mem=64MB -c max_wal_size=8GB -c checkpoint_timeout=30min -c jit=off"

sql() { as_user env PGHOST="$SOCK" PGPORT="$PORT" "$BIN/psql" -X -v ON_ERROR_STOP=1 -qAt -d "$@"; }
# seconds a statement takes (the connection is opened first, not timed)
timed() {
  sql bench_pit -c '\timing on' -c "$1" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1 |
    awk '{printf "%.2f", $1 / 1000}'
}

sql postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS bench_pit" -c "CREATE DATABASE bench_pit"
sql bench_pit -c "CREATE EXTENSION pgmlops"
pgver=$(sql postgres -c "SHOW server_version")
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)

# Three sources of rows/3 rows each over $keys keys.  Each key's rows fall
# in disjoint slots of one year (append order is time order, as in an event
# log) with a pseudo-random offset inside the slot, so (key, ts) is unique
# and the LATERAL query's answer is well defined.  Entity keys run 5% past
# the feature keys (some entities have no features); event times are
# uniform over the year.
per=$(( rows / 3 ))
log "generating $entities entity rows and 3 x $per source rows over $keys keys"
sql bench_pit <<SQL
SET client_min_messages = warning;
SELECT setseed(0.5);
CREATE TABLE src_orders (customer_id bigint, ts timestamptz, amount float8, items int);
CREATE TABLE src_sessions (customer_id bigint, ts timestamptz, minutes float8, mobile bool);
CREATE TABLE src_support (customer_id bigint, ts timestamptz, tickets int);
INSERT INTO src_orders
SELECT i % $keys, timestamptz '2024-01-01' + (i / $keys) * (interval '365 days' / ceil($per::float8 / $keys))
		+ random() * (interval '365 days' / ceil($per::float8 / $keys) - interval '1 second'),
	   round((random() * 500)::numeric, 2)::float8, (random() * 10)::int
  FROM generate_series(0, $per - 1) i;
INSERT INTO src_sessions
SELECT i % $keys, timestamptz '2024-01-01' + (i / $keys) * (interval '365 days' / ceil($per::float8 / $keys))
		+ random() * (interval '365 days' / ceil($per::float8 / $keys) - interval '1 second'),
	   round((random() * 120)::numeric, 1)::float8, random() < 0.5
  FROM generate_series(0, $per - 1) i;
INSERT INTO src_support
SELECT i % $keys, timestamptz '2024-01-01' + (i / $keys) * (interval '365 days' / ceil($per::float8 / $keys))
		+ random() * (interval '365 days' / ceil($per::float8 / $keys) - interval '1 second'),
	   CASE WHEN random() < 0.05 THEN NULL ELSE (random() * 3)::int END
  FROM generate_series(0, $per - 1) i;
CREATE TABLE entities AS
SELECT i AS id, (random() * $keys * 1.05)::bigint AS customer_id,
	   timestamptz '2024-01-01' + random() * interval '365 days' AS event_timestamp,
	   random() < 0.3 AS label
  FROM generate_series(1, $entities) i;
CREATE INDEX ON src_orders (customer_id, ts);
CREATE INDEX ON src_sessions (customer_id, ts);
CREATE INDEX ON src_support (customer_id, ts);
VACUUM ANALYZE src_orders, src_sessions, src_support, entities;
SELECT mlops.create_entity('customer', ARRAY['customer_id']);
SELECT mlops.create_feature_view('orders', 'customer', 'src_orders', 'ts', ARRAY['amount', 'items'],
								 ttl => interval '30 days');
SELECT mlops.create_feature_view('sessions', 'customer', 'src_sessions', 'ts', ARRAY['minutes', 'mobile']);
SELECT mlops.create_feature_view('support', 'customer', 'src_support', 'ts', ARRAY['tickets'],
								 ttl => interval '7 days');
CHECKPOINT;
SQL

features="ARRAY['orders:amount', 'orders:items', 'sessions:minutes', 'sessions:mobile', 'support:tickets']"
cols="id int, customer_id bigint, event_timestamp timestamptz, label bool, amount float8, items int, minutes float8, mobile bool, tickets int"
pit="SELECT * FROM mlops.get_historical_features('entities', $features) AS t($cols)"
lateral="SELECT e.*, o.amount, o.items, s.minutes, s.mobile, p.tickets
  FROM entities e
  LEFT JOIN LATERAL (SELECT x.amount, x.items FROM src_orders x
                      WHERE x.customer_id = e.customer_id AND x.ts <= e.event_timestamp
                        AND x.ts >= e.event_timestamp - interval '30 days'
                      ORDER BY x.ts DESC LIMIT 1) o ON true
  LEFT JOIN LATERAL (SELECT x.minutes, x.mobile FROM src_sessions x
                      WHERE x.customer_id = e.customer_id AND x.ts <= e.event_timestamp
                      ORDER BY x.ts DESC LIMIT 1) s ON true
  LEFT JOIN LATERAL (SELECT x.tickets FROM src_support x
                      WHERE x.customer_id = e.customer_id AND x.ts <= e.event_timestamp
                        AND x.ts >= e.event_timestamp - interval '7 days'
                      ORDER BY x.ts DESC LIMIT 1) p ON true"

log "warming the caches"
sql bench_pit -c "SELECT count(*) FROM src_orders" -c "SELECT count(*) FROM src_sessions" \
  -c "SELECT count(*) FROM src_support" -c "SELECT count(*) FROM entities" >/dev/null

log "timing count(*)"
t_pit=$(timed "SELECT count(*) FROM ($pit) q")
t_lat=$(timed "SELECT count(*) FROM ($lateral) q")
log "timing the materialized tables"
t_pit_ts=$(timed "SELECT mlops.create_training_set('ts_pit', 'entities', $features)")
t_lat_ts=$(timed "CREATE TABLE ts_lateral AS $lateral")

log "comparing"
diff_rows=$(sql bench_pit -c "SELECT (SELECT count(*) FROM (TABLE ts_pit EXCEPT ALL TABLE ts_lateral) a)
                                   + (SELECT count(*) FROM (TABLE ts_lateral EXCEPT ALL TABLE ts_pit) b)")
nrows=$(sql bench_pit -c "SELECT count(*) FROM ts_pit")
found=$(sql bench_pit -c "SELECT round(100.0 * count(amount) / count(*), 1) || '% / ' ||
                                 round(100.0 * count(minutes) / count(*), 1) || '% / ' ||
                                 round(100.0 * count(tickets) / count(*), 1) || '%' FROM ts_pit")
plan=$(sql bench_pit -c "EXPLAIN (COSTS OFF) $lateral" | grep -c "Scan Backward" || true)
gathers=$(sql bench_pit -c "EXPLAIN (COSTS OFF) $lateral" | grep -c "Gather" || true)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0) printf "%.2fx", b / a; else print "-" }'; }

table=$W/table.md
{
  echo "| measurement | get_historical_features | LATERAL ... LIMIT 1 | speed-up |"
  echo "|---|---|---|---|"
  echo "| count(*) over the join | ${t_pit} s | ${t_lat} s | $(ratio "$t_pit" "$t_lat") |"
  echo "| materialized table (create_training_set, checksum included / CREATE TABLE AS) | ${t_pit_ts} s | ${t_lat_ts} s | $(ratio "$t_pit_ts" "$t_lat_ts") |"
  echo
  echo "- $entities entity rows, 3 views x $per source rows over $keys keys (ttl 30 days, none, 7 days)"
  echo "- rows: $nrows; rows that differ (EXCEPT ALL both ways): $diff_rows; non-NULL features (orders / sessions / support): $found"
  echo "- LATERAL plan: $plan backward index scans on (customer_id, ts), $gathers Gather nodes (0: one process, like get_historical_features)"
} > "$table"

report=$W/results-$(date +%Y%m%d-%H%M%S).md
{
  echo "## pgmlops point-in-time join benchmark"
  echo
  echo "- machine: $ncpu cores ($cpu), $(( mem_mb / 1024 )) GiB memory"
  echo "- PostgreSQL $pgver; shared_buffers=$shared_buffers, work_mem=64MB, default parallel settings"
  echo
  cat "$table"
} > "$report"
echo
cat "$report"
[ -n "$out" ] && cp "$report" "$out"
echo
echo "(saved in $report)"
[ "$diff_rows" = 0 ] || die "the two joins differ in $diff_rows rows"
