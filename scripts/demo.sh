#!/usr/bin/env bash
# scripts/demo.sh: the quick-start demo of pgmlops vector search.
#
# On a fresh Debian 12 machine, as root (or it re-runs itself with sudo):
# installs the packages it needs, builds and installs the extension, starts
# its own PostgreSQL server as an unprivileged user on its own port and
# socket, loads a table of clustered vectors, builds an HNSW index, runs
# nearest-neighbour searches (EXPLAIN shows the index), compares recall@10
# and query rates with exact search at a few hnsw.ef_search values, runs a
# filtered query with hnsw.iterative_scan, trains and registers two model
# versions (logistic regression and XGBoost) on the breast cancer data,
# deploys the better one, predicts row by row and in batch, rolls back,
# builds a feature store (an entity, a feature view, a point-in-time training
# set, a model trained on it, the online store, prediction by entity key,
# statistics and drift),
# tokenizes documents in SQL with
# the native tokenizers (a Llama-3-style BPE and a BERT WordPiece from the
# test fixtures), and stops the server again.
#
#   scripts/demo.sh [--n ROWS] [--dim D] [--keep] [--bindir DIR]
#
# --keep leaves the server running (the script prints how to connect);
# --bindir uses a PostgreSQL bin folder that already has pgmlops installed
# instead of building and installing it (for development).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/lib.sh"
require_root "$@"

n=50000
dim=128
nq=200
keep=0
BIN=$PG_BIN
prebuilt=0
W=${PGM_DEMO_DIR:-/tmp/pgmlops-demo}
PORT=${PGM_DEMO_PORT:-54338}
while [ $# -gt 0 ]; do
  case $1 in
    --n) n=$2; shift 2 ;;
    --dim) dim=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --bindir) BIN=$2; prebuilt=1; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1" ;;
  esac
done

SOCK=$W/sock
DATA=$W/data
workers=$(( $(nproc) - 1 )); [ "$workers" -gt 2 ] && workers=2; [ "$workers" -lt 0 ] && workers=0
started=$(date +%s)

log "installing packages (if missing) and the user $PGM_USER"
install_deps
ensure_user

stop_cluster "$DATA" "$BIN" 2>/dev/null || true
rm -rf "$W"
mkdir -p "$W"
chown "$PGM_USER" "$W"

if [ $prebuilt -eq 0 ]; then
  log "building and installing pgmlops"
  stage_tree "$here" "$W/src"
  build_and_install "$W/src" || die "build failed"
fi

log "starting PostgreSQL $PG_MAJOR as $PGM_USER (port $PORT, socket $SOCK)"
start_cluster "$DATA" "$PORT" "$SOCK" "$BIN" \
  "-c shared_buffers=512MB -c maintenance_work_mem=1GB -c max_parallel_maintenance_workers=$workers -c jit=off"
if [ $keep -eq 0 ]; then
  trap 'stop_cluster "$DATA" "$BIN"; echo; echo "server stopped"' EXIT
fi

export PGHOST=$SOCK PGPORT=$PORT
sql() { as_user env PGHOST="$SOCK" PGPORT="$PORT" "$BIN/psql" -X -v ON_ERROR_STOP=1 -q -P pager=off -d postgres "$@"; }
val() { sql -At "$@"; }
qps() {
  as_user env PGHOST="$SOCK" PGPORT="$PORT" PGOPTIONS="$1" "$BIN/pgbench" -n -M prepared -c 1 -T "$2" \
    -f "$W/query.sql" postgres 2>&1 | sed -n 's/^tps = \([0-9.]*\) .*/\1/p' | head -1 | xargs printf '%.0f'
}

log "generating $n clustered vectors of $dim dimensions and the exact top-10 of $nq queries"
cc -O2 -o "$W/vecgen" "$here/scripts/bench/vecgen.c" -lm -lpthread
mkdir -p "$W/gen"
"$W/vecgen" -n "$n" -d "$dim" -q "$nq" -k 10 -s 42 -f binary -o "$W/gen"
chown -R "$PGM_USER" "$W/gen"

log "loading them (binary COPY, the pgvector bulk-load path)"
sql <<EOF
CREATE EXTENSION pgmlops;
CREATE TABLE items (id bigserial PRIMARY KEY, embedding vector($dim), category int);
CREATE TABLE queries (id int PRIMARY KEY, embedding vector($dim));
CREATE TABLE truth (id int PRIMARY KEY, ids bigint[]);
\copy items (id, embedding) FROM '$W/gen/base.copy' WITH (FORMAT binary)
\copy queries FROM '$W/gen/queries.tsv'
\copy truth FROM '$W/gen/truth.tsv'
UPDATE items SET category = id % 50;
VACUUM ANALYZE;
\echo
SELECT count(*) AS rows, pg_size_pretty(pg_table_size('items')) AS table_size FROM items;
SELECT id, left(embedding::text, 60) || '...' AS embedding FROM items ORDER BY id LIMIT 3;
EOF

log "building the HNSW index"
sql <<EOF
\echo CREATE INDEX ON items USING hnsw (embedding vector_l2_ops) WITH (m = 16, ef_construction = 64);
\timing on
CREATE INDEX items_embedding_idx ON items USING hnsw (embedding vector_l2_ops) WITH (m = 16, ef_construction = 64);
\timing off
SELECT pg_size_pretty(pg_relation_size('items_embedding_idx')) AS index_size;
EOF

log "nearest neighbours of query 1: the plan uses the index"
sql <<EOF
EXPLAIN (COSTS OFF)
SELECT id FROM items ORDER BY embedding <-> (SELECT embedding FROM queries WHERE id = 1) LIMIT 10;
\timing on
SELECT id, round((embedding <-> (SELECT embedding FROM queries WHERE id = 1))::numeric, 4) AS l2_distance
  FROM items ORDER BY embedding <-> (SELECT embedding FROM queries WHERE id = 1) LIMIT 10;
\timing off
\echo exact top-10 ids (brute force, computed outside the database):
SELECT ids FROM truth WHERE id = 1;
EOF

cat > "$W/query.sql" <<EOF
\set qid random(1, $nq)
SELECT id FROM items ORDER BY embedding <-> (SELECT embedding FROM queries WHERE id = :qid) LIMIT 10;
EOF
chown "$PGM_USER" "$W/query.sql"

log "recall@10 and queries per second (1 client, prepared statement, 3 s each)"
exact=$(qps "-c enable_indexscan=off" 3)
printf '%-28s %8s %10s\n' "search" "recall@10" "QPS"
printf '%-28s %8s %10s\n' "exact (sequential scan)" "1.000" "$exact"
for ef in 10 40 100; do
  recall=$(val <<EOF
SET hnsw.ef_search = $ef;
SELECT to_char(avg(r.hits) / 10.0, 'FM0.000')
  FROM queries q JOIN truth t USING (id)
  CROSS JOIN LATERAL (
    SELECT count(*) AS hits
      FROM (SELECT id FROM items ORDER BY embedding <-> q.embedding LIMIT 10) s
     WHERE s.id = ANY (t.ids)) r;
EOF
)
  printf '%-28s %8s %10s\n' "hnsw, ef_search = $ef" "$recall" "$(qps "-c hnsw.ef_search=$ef" 3)"
done

log "a filtered query: category = 7 (2% of the rows), LIMIT 10"
sql <<EOF
\echo hnsw.iterative_scan = off: the index returns its ef_search nearest rows, then the filter drops most
SET hnsw.iterative_scan = off;
SELECT count(*) AS rows_returned FROM (
  SELECT id FROM items WHERE category = 7
   ORDER BY embedding <-> (SELECT embedding FROM queries WHERE id = 2) LIMIT 10) s;
\echo hnsw.iterative_scan = relaxed_order: the scan continues until LIMIT rows pass the filter
SET hnsw.iterative_scan = relaxed_order;
SELECT id, category, round((embedding <-> (SELECT embedding FROM queries WHERE id = 2))::numeric, 4) AS l2_distance
  FROM items WHERE category = 7
 ORDER BY embedding <-> (SELECT embedding FROM queries WHERE id = 2) LIMIT 10;
EOF

log "training and the model registry: breast cancer data (scikit-learn's, vendored in test/data/ml)"
sql < "$here/test/data/ml/data.sql"
sql <<EOF
\echo train a logistic regression; 20% of the rows are held out and measured; the first version is deployed
SELECT model, version, round((metrics->>'accuracy')::numeric, 4) AS accuracy,
       round((metrics->>'roc_auc')::numeric, 4) AS roc_auc
  FROM mlops.train('cancer', 'breast_cancer', 'target', 'logistic_regression',
                   features => ARRAY['mean_radius', 'mean_texture', 'mean_smoothness', 'worst_concavity', 'worst_area']);
\echo a second version with XGBoost on every column but the id; deploy it only if its F1 beats production
SELECT model, version, round((metrics->>'accuracy')::numeric, 4) AS accuracy,
       round((metrics->>'roc_auc')::numeric, 4) AS roc_auc
  FROM mlops.train('cancer', 'SELECT * FROM breast_cancer', 'target', 'xgboost',
                   '{"n_estimators": 50, "max_depth": 4, "nthread": 2}',
                   features => (SELECT array_agg(column_name::text ORDER BY ordinal_position)
                                  FROM information_schema.columns
                                 WHERE table_name = 'breast_cancer' AND column_name NOT IN ('id', 'target')));
SELECT mlops.deploy('cancer', strategy => 'best') AS production_version;
\echo name version 2 staging: name@staging, name@2 and name (production) all work in predict
SELECT mlops.set_alias('cancer', 'staging', 2);
\echo the registry: versions with metrics, aliases and lineage
SELECT model, version, algorithm, aliases, key_metric, round(key_metric_value::numeric, 4) AS value,
       row_count, data_checksum
  FROM mlops.version_list WHERE model = 'cancer' ORDER BY version;
\echo predict row by row through the production alias, and score the whole table in one call
SELECT id, target, mlops.predict('cancer', b) AS predicted,
       round((mlops.predict_proba('cancer', b))[2]::numeric, 4) AS p_benign,
       mlops.predict('cancer@staging', b) AS staging_predicts
  FROM breast_cancer b ORDER BY id LIMIT 5;
SELECT count(*) FILTER (WHERE p.prediction = b.target) AS correct, count(*) AS rows
  FROM mlops.predict_batch('cancer', 'breast_cancer', 'id') p JOIN breast_cancer b ON b.id = p.id::int;
\echo deploy version 2 anyway, then roll production back; every session predicts with the new production version from its next statement
SELECT mlops.deploy('cancer', 2) AS production_version;
SELECT mlops.rollback('cancer') AS production_version;
SELECT model, alias, from_version, to_version, action FROM mlops.deployment_history WHERE model = 'cancer' ORDER BY moved_at;
EOF

log "features: an entity, a versioned feature view, a point-in-time training set, the online store"
sql <<EOF
-- orders of 500 customers over the last 120 days; customers with id % 4 = 0
-- order less and churn more (a labelled event per customer every 30 days)
CREATE TABLE customer_orders AS
SELECT c AS customer_id,
       date_trunc('day', now()) - interval '120 days' + (d || ' days')::interval
         + (c % 24 || ' hours')::interval AS ordered_at,
       round((20 + (c * 37 + d * 11) % 80)::numeric, 2)::float8 AS amount,
       1 + (c + d) % 5 AS items
  FROM generate_series(1, 500) c, generate_series(0, 119) d
 WHERE ((c % 4 <> 0 AND (c + d) % 3 = 0) OR (c % 4 = 0 AND (c + d) % 11 = 0))
   AND NOT (c % 50 = 0 AND d > 100);   -- every 50th customer stopped ordering 20 days ago
CREATE INDEX ON customer_orders (customer_id, ordered_at);
CREATE TABLE churn_events AS
SELECT c AS customer_id,
       date_trunc('day', now()) - interval '120 days' + (m * 30 || ' days')::interval AS event_timestamp,
       (c % 4 = 0) <> (c % 17 = 0) AS churned
  FROM generate_series(1, 500) c, generate_series(1, 3) m;

SELECT mlops.create_entity('customer', ARRAY['customer_id'], 'a customer');
\echo a feature view over a query: the spend of the last 7 orders; features expire after 14 days
SELECT mlops.create_feature_view('customer_spend', 'customer',
  'SELECT customer_id, ordered_at, amount, items,
          avg(amount) OVER (PARTITION BY customer_id ORDER BY ordered_at ROWS 6 PRECEDING) AS avg_amount_7
     FROM customer_orders', 'ordered_at',
  ARRAY['amount AS last_amount', 'items AS last_items', 'avg_amount_7'], ttl => interval '14 days') AS version;
SELECT view, version, feature, type, expression FROM mlops.feature_list ORDER BY position;

\echo a point-in-time training set: each event gets the latest feature values at or before its time
SELECT mlops.create_training_set('churn_training', 'churn_events', ARRAY['customer_spend:*']) AS rows;
SELECT customer_id, churned, last_amount, last_items, round(avg_amount_7::numeric, 2) AS avg_amount_7
  FROM churn_training ORDER BY customer_id, event_timestamp LIMIT 4;

\echo train on it; the version records the training set and the feature view versions it used
SELECT model, version, round((metrics->>'accuracy')::numeric, 4) AS accuracy
  FROM mlops.train('churn', 'churn_training', 'churned', 'logistic_regression',
                   features => ARRAY['last_amount', 'last_items', 'avg_amount_7']);
SELECT training_set, online_features FROM mlops.model_versions WHERE model = 'churn';

\echo materialize the latest values into the online store, then serve and predict by entity key
\echo (customer 50 last ordered 20 days ago: its features have expired, and read as null)
SELECT mlops.materialize_incremental('customer_spend') AS rows;
SELECT entity, feature_values FROM mlops.get_online_features(ARRAY['customer_spend:*'],
  '[{"customer_id": 7}, {"customer_id": 8}, {"customer_id": 50}]');
SELECT round((mlops.predict_proba('churn', entity => '{"customer_id": 7}'))[2]::numeric, 4) AS p_churn_7,
       round((mlops.predict_proba('churn', entity => '{"customer_id": 8}'))[2]::numeric, 4) AS p_churn_8;

\echo statistics of the training set and of the online data, and their drift
SELECT mlops.compute_feature_stats('customer_spend', 'training_set:churn_training') AS snapshot;
SELECT feature, round(psi::numeric, 4) AS psi, round(ks::numeric, 4) AS ks, status
  FROM mlops.feature_drift('customer_spend', 'latest:training_set:churn_training', 'latest:online')
 ORDER BY feature;
EOF

log "documents and tokens: the native tokenizers in SQL (models under mlops.model_dir)"
mkdir -p "$W/models"
cp -r "$here/test/data/fixtures/tok-llama3" "$here/test/data/fixtures/tok-wordpiece" "$W/models/"
chown -R "$PGM_USER" "$W/models"
sql <<EOF
SET mlops.model_dir = '$W/models';
CREATE TABLE docs (id int PRIMARY KEY, body text);
INSERT INTO docs VALUES
  (1, 'PostgreSQL keeps the data, the features and the models in one place.'),
  (2, 'Vector search finds the nearest neighbours of an embedding.'),
  (3, 'Tokenizers turn text into the integer ids that a transformer reads.');
\echo token ids of a document (byte-level BPE, Llama-3 split rules) and the text they decode to:
SELECT mlops.tokenize('tok-llama3', body) AS ids,
       mlops.detokenize('tok-llama3', mlops.tokenize('tok-llama3', body)) AS decoded
  FROM docs WHERE id = 1;
\echo tokens per document with two tokenizers (WordPiece with [CLS] ... [SEP]):
SELECT id, mlops.count_tokens('tok-llama3', body) AS llama3_tokens,
       mlops.count_tokens('tok-wordpiece', body, add_special_tokens => true) AS bert_tokens
  FROM docs ORDER BY id;
EOF

log "embeddings, vector search and generation: models served by the inference worker"
cp -r "$here/test/data/fixtures/bert-tiny-mean" "$here/test/data/fixtures/llama3-chat-f32" "$W/models/"
chown -R "$PGM_USER" "$W/models"
sql <<EOF
SET mlops.model_dir = '$W/models';
\echo the fixtures are tiny models with random weights: the embeddings are real computations, the text is noise
SELECT mlops.register_model('encoder', 'bert-tiny-mean', task => 'embedding') AS encoder_version,
       mlops.register_model('chat', 'llama3-chat-f32', task => 'text-generation') AS chat_version;
\echo embed every document in one batched request, and index the vectors:
ALTER TABLE docs ADD COLUMN embedding vector(64);
UPDATE docs d SET embedding = e.v
  FROM unnest(mlops.embed('encoder', (SELECT array_agg(body ORDER BY id) FROM docs))) WITH ORDINALITY AS e(v, i)
 WHERE d.id = e.i;
CREATE INDEX ON docs USING hnsw (embedding vector_cosine_ops);
\echo the document nearest to a question:
SELECT id, body, round((embedding <=> mlops.embed('encoder', 'Where are my features and models?'))::numeric, 4) AS distance
  FROM docs ORDER BY embedding <=> mlops.embed('encoder', 'Where are my features and models?') LIMIT 1;
\echo chat with the nearest document as context, rendered with the Llama 3 chat template of the model:
SELECT r -> 'usage' AS usage, r ->> 'finish_reason' AS finish, round((r ->> 'total_ms')::numeric, 1) AS ms
  FROM mlops.chat('chat', jsonb_build_array(
         jsonb_build_object('role', 'system', 'content',
           'Answer from this document: ' || (SELECT body FROM docs ORDER BY embedding <=> mlops.embed('encoder', 'Where are my features and models?') LIMIT 1)),
         jsonb_build_object('role', 'user', 'content', 'Where are my features and models?')),
       '{"max_tokens": 12}') AS r;
\echo generation streamed one piece per row, and the worker that served it all:
SELECT count(*) AS pieces, sum(length(p)) AS characters
  FROM mlops.generate_stream('chat', 'Once upon a time', max_tokens => 24, options => '{"ignore_eos": true}') AS p;
SELECT worker, device, model, task, kv_pages_total, pg_size_pretty(memory_used) AS memory
  FROM mlops.worker_status ORDER BY model;
\echo every call is traced (mlops.llm_calls, written by a background worker even when the caller rolls back):
SELECT mlops.flush_llm_calls() AS pending;
SELECT function, model, status, tokens_in, tokens_out, round(ttft_ms::numeric, 2) AS ttft_ms,
       round(total_ms::numeric, 2) AS total_ms
  FROM mlops.llm_calls ORDER BY id;
SELECT model, calls, errors, tokens_in, tokens_out FROM mlops.llm_stats ORDER BY model;
EOF

echo
echo "demo finished in $(( $(date +%s) - started )) s"
if [ $keep -eq 1 ]; then
  echo "the server is still running: sudo -u $PGM_USER psql -h $SOCK -p $PORT postgres"
  echo "stop it with: sudo -u $PGM_USER $BIN/pg_ctl -D $DATA stop"
fi
