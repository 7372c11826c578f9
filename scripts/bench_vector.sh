#!/usr/bin/env bash
# scripts/bench_vector.sh: the vector search benchmark (see docs/vector-benchmark.md).
#
# For each configuration it generates a deterministic clustered dataset and
# the exact top-10 of 1000 held-out queries (scripts/bench/vecgen.c), loads it
# into a PostgreSQL server of its own (started as the unprivileged user), and
# reports, as a markdown table:
#   - build seconds of CREATE INDEX ... USING hnsw (embedding vector_l2_ops)
#     WITH (m = 16, ef_construction = 64), and the index size in MB;
#   - QPS (pgbench, 1 client, prepared statement, random query id) and
#     recall@10 against the ground truth for hnsw.ef_search 10 20 40 80 160;
#   - the single-row insert rate into the indexed table (pgbench, 1 client).
#
#   scripts/bench_vector.sh                      N=100000, D=128
#   scripts/bench_vector.sh --n 100000 --dim 768
#   scripts/bench_vector.sh --all                100k x 128, 100k x 768, 1M x 128
#   scripts/bench_vector.sh --quick              20k x 64, short runs (smoke test)
#
# Options: --seconds S (pgbench time per ef_search, default 20), --insert-seconds S
# (default 20), --queries Q (default 1000), --m M, --ef-construction E,
# --workers W (max_parallel_maintenance_workers), --shared-buffers SIZE,
# --dir DIR (work folder, default /tmp/pgmlops-bench), --port P,
# --bindir DIR (use this PostgreSQL bin folder with pgmlops already
# installed; skips building), --out FILE (also write the table there), --keep
# (leave the server running).  Run as root (or it re-runs itself with sudo).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/lib.sh"
require_root "$@"

configs=()
seconds=20
insert_seconds=20
nqueries=1000
m=16
efc=64
W=/tmp/pgmlops-bench
PORT=54339
bindir=
out=
keep=0
workers=
shared_buffers=
ef_list="10 20 40 80 160"
n=100000
dim=128
explicit=0

while [ $# -gt 0 ]; do
  case $1 in
    --n) n=$2; explicit=1; shift 2 ;;
    --dim) dim=$2; explicit=1; shift 2 ;;
    --all) configs+=("100000 128" "100000 768" "1000000 128"); shift ;;
    --quick) configs+=("20000 64"); seconds=3; insert_seconds=3; nqueries=200; shift ;;
    --seconds) seconds=$2; shift 2 ;;
    --insert-seconds) insert_seconds=$2; shift 2 ;;
    --queries) nqueries=$2; shift 2 ;;
    --m) m=$2; shift 2 ;;
    --ef-construction) efc=$2; shift 2 ;;
    --workers) workers=$2; shift 2 ;;
    --shared-buffers) shared_buffers=$2; shift 2 ;;
    *) bench_option "$@"; shift "$BENCH_SHIFT" ;;
  esac
done
[ $explicit -eq 1 ] && configs+=("$n $dim")
[ ${#configs[@]} -eq 0 ] && configs=("$n $dim")

install_deps
ensure_user

ncpu=$(nproc)
mem_mb=$(awk '/^MemTotal/ {print int($2 / 1024)}' /proc/meminfo)
if [ -z "$workers" ]; then
  workers=$(( ncpu - 1 )); [ "$workers" -gt 2 ] && workers=2; [ "$workers" -lt 0 ] && workers=0
fi
if [ -z "$shared_buffers" ]; then
  sb=$(( mem_mb / 4 )); [ "$sb" -gt 4096 ] && sb=4096; [ "$sb" -lt 128 ] && sb=128
  shared_buffers=${sb}MB
fi
mwm=2GB
[ "$mem_mb" -lt 8192 ] && mwm=$(( mem_mb / 4 ))MB

mkdir -p "$W"
chown "$PGM_USER" "$W"

# The server: the system PostgreSQL with the extension built and installed
# from this tree, or an existing installation given with --bindir.
if [ -n "$bindir" ]; then
  BIN=$bindir
else
  BIN=$PG_BIN
  log "building and installing pgmlops"
  stage_tree "$here" "$W/src"
  build_and_install "$W/src" || die "build failed"
fi
[ -x "$BIN/postgres" ] || die "no postgres in $BIN"

log "compiling the data generator"
cc -O2 -Wall -o "$W/vecgen" "$here/scripts/bench/vecgen.c" -lm -lpthread

SOCK=$W/sock
DATA=$W/data
stop_cluster "$DATA" "$BIN" 2>/dev/null || true
rm -rf "$DATA"
log "starting PostgreSQL (shared_buffers=$shared_buffers, maintenance_work_mem=$mwm, max_parallel_maintenance_workers=$workers)"
start_cluster "$DATA" "$PORT" "$SOCK" "$BIN" \
  "-c shared_buffers=$shared_buffers -c maintenance_work_mem=$mwm \
   -c max_parallel_maintenance_workers=$workers -c work_mem=64MB \
   -c effective_cache_size=$(( mem_mb / 2 ))MB -c max_wal_size=8GB \
   -c checkpoint_timeout=30min -c jit=off"
[ $keep -eq 1 ] || trap 'stop_cluster "$DATA" "$BIN"' EXIT

# psql / pgbench against the benchmark server as the unprivileged user.
sql() { local db=$1; shift; as_user env PGHOST="$SOCK" PGPORT="$PORT" "$BIN/psql" -X -v ON_ERROR_STOP=1 -qAt -d "$db" "$@"; }
bench() {
  local db=$1 opts=$2; shift 2
  as_user env PGHOST="$SOCK" PGPORT="$PORT" PGOPTIONS="$opts" "$BIN/pgbench" -n -M prepared -c 1 "$@" "$db" 2>&1
}
tps_of() { sed -n 's/^tps = \([0-9.]*\) .*/\1/p' | head -1; }
now() { date +%s.%N; }

pgver=$(sql postgres -c "SHOW server_version")
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
report=$W/results-$(date +%Y%m%d-%H%M%S).md
{
  echo "## pgmlops vector benchmark"
  echo
  echo "- machine: $ncpu cores ($cpu), $(( mem_mb / 1024 )) GiB memory"
  echo "- PostgreSQL $pgver; shared_buffers=$shared_buffers, maintenance_work_mem=$mwm, max_parallel_maintenance_workers=$workers"
  echo "- index: hnsw (embedding vector_l2_ops) WITH (m = $m, ef_construction = $efc)"
  echo "- QPS: pgbench -M prepared, 1 client, ${seconds} s per ef_search, random query of $nqueries; recall@10 over all $nqueries queries"
  echo "- inserts: pgbench -M prepared, 1 client, ${insert_seconds} s, one row per transaction"
  echo
} > "$report"
summary_head="| dataset | build s | index MB |"
summary_sep="|---|---|---|"
for ef in $ef_list; do summary_head+=" ef_search $ef: QPS / recall |"; summary_sep+="---|"; done
summary_head+=" inserts/s |"; summary_sep+="---|"
summary=()

for cfg in "${configs[@]}"; do
  read -r n dim <<<"$cfg"
  label="${n}x${dim}"
  db="bench_${n}_${dim}"
  gen=$W/gen/$label-q$nqueries
  extra=20000

  if [ ! -s "$gen/truth.tsv" ]; then
    log "$label: generating data and exact top-10 ground truth"
    rm -rf "$gen"; mkdir -p "$gen"
    "$W/vecgen" -n "$n" -d "$dim" -q "$nqueries" -k 10 -e "$extra" -s 42 -f binary -o "$gen"
    chown -R "$PGM_USER" "$W/gen"
  fi

  log "$label: loading"
  sql postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  sql "$db" <<EOF
CREATE EXTENSION pgmlops;
CREATE EXTENSION pg_prewarm;
CREATE TABLE items (id bigserial PRIMARY KEY, embedding vector($dim));
CREATE TABLE queries (id int PRIMARY KEY, embedding vector($dim));
CREATE TABLE truth (id int PRIMARY KEY, ids bigint[]);
CREATE TABLE pool (id int PRIMARY KEY, embedding vector($dim));
\copy items (id, embedding) FROM '$gen/base.copy' WITH (FORMAT binary)
\copy queries FROM '$gen/queries.tsv'
\copy truth FROM '$gen/truth.tsv'
\copy pool FROM '$gen/extra.tsv'
DO \$\$ BEGIN PERFORM setval('items_id_seq', (SELECT max(id) FROM items)); END \$\$;
VACUUM ANALYZE;
CHECKPOINT;
EOF

  log "$label: building the index"
  t0=$(now)
  notice=$(sql "$db" -c "CREATE INDEX items_embedding_idx ON items USING hnsw (embedding vector_l2_ops) WITH (m = $m, ef_construction = $efc)" 2>&1) \
    || die "CREATE INDEX failed: $notice"
  t1=$(now)
  build_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}')
  [ -n "$notice" ] && printf '%s\n' "$notice"
  index_mb=$(sql "$db" -c "SELECT round(pg_relation_size('items_embedding_idx') / 1048576.0, 1)")
  echo "build ${build_s} s, index ${index_mb} MB"
  sql "$db" -c "CHECKPOINT" -c "SELECT pg_prewarm('items_embedding_idx') + pg_prewarm('items') + pg_prewarm('queries')" >/dev/null

  plan=$(sql "$db" -c "EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY embedding <-> (SELECT embedding FROM queries WHERE id = 1) LIMIT 10")
  printf '%s\n' "$plan" | grep -q "Index Scan using items_embedding_idx" \
    || { printf '%s\n' "$plan"; die "the query does not use the hnsw index"; }

  qfile=$W/query-$label.sql
  cat > "$qfile" <<EOF
\set qid random(1, $nqueries)
SELECT id FROM items ORDER BY embedding <-> (SELECT embedding FROM queries WHERE id = :qid) LIMIT 10;
EOF
  ifile=$W/insert-$label.sql
  cat > "$ifile" <<EOF
\set r random(1, $extra)
INSERT INTO items (embedding) SELECT embedding FROM pool WHERE id = :r;
EOF
  chown "$PGM_USER" "$qfile" "$ifile"

  {
    echo "### N=$n, D=$dim"
    echo
    echo "| measure | value |"
    echo "|---|---|"
    echo "| build | $build_s s |"
    echo "| index size | $index_mb MB |"
  } >> "$report"
  row="| $n × $dim | $build_s | $index_mb |"

  for ef in $ef_list; do
    recall=$(sql "$db" <<EOF
SET hnsw.ef_search = $ef;
SET enable_seqscan = off;
SELECT round(avg(r.hits) / 10.0, 4)
  FROM queries q JOIN truth t USING (id)
  CROSS JOIN LATERAL (
    SELECT count(*) AS hits
      FROM (SELECT id FROM items ORDER BY embedding <-> q.embedding LIMIT 10) s
     WHERE s.id = ANY (t.ids)) r;
EOF
)
    res=$(bench "$db" "-c hnsw.ef_search=$ef" -T "$seconds" -f "$qfile")
    qps=$(printf '%s\n' "$res" | tps_of)
    [ -n "$qps" ] || { printf '%s\n' "$res"; die "pgbench failed"; }
    qps=$(printf '%.0f' "$qps")
    echo "ef_search $ef: $qps QPS, recall@10 $recall"
    echo "| ef_search $ef | $qps QPS, recall@10 $recall |" >> "$report"
    row+=" $qps / $recall |"
  done

  log "$label: single-row inserts"
  res=$(bench "$db" "" -T "$insert_seconds" -f "$ifile")
  ins=$(printf '%s\n' "$res" | tps_of)
  [ -n "$ins" ] || { printf '%s\n' "$res"; die "pgbench failed"; }
  ins=$(printf '%.0f' "$ins")
  echo "inserts: $ins rows/s"
  index_after=$(sql "$db" -c "SELECT round(pg_relation_size('items_embedding_idx') / 1048576.0, 1)")
  {
    echo "| inserts | $ins single-row inserts/s |"
    echo
  } >> "$report"
  row+=" $ins |"
  summary+=("$row")
  echo "index size after the inserts: $index_after MB"
  sql postgres -c "DROP DATABASE $db"
done

{
  echo "### Summary"
  echo
  echo "$summary_head"
  echo "$summary_sep"
  for r in "${summary[@]}"; do echo "$r"; done
} >> "$report"

echo
cat "$report"
[ -n "$out" ] && cp "$report" "$out"
echo
echo "(saved in $report)"
