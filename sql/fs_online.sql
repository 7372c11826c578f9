-- The online store: materialize windows, idempotence, late rows, the
-- incremental watermark, TTL online, many keys at once, services, the
-- per-session cache following new view versions, and bad input.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
-- times relative to one base (TTL is relative to now())
CREATE TABLE onl_t0 AS SELECT date_trunc('second', now()) AS t0;
CREATE TABLE onl_src (customer_id bigint, ts timestamptz, a int, b float8, c text);
INSERT INTO onl_src SELECT 1, t0 - interval '72 hours', 1, 1.5, 'x' FROM onl_t0;
INSERT INTO onl_src SELECT 1, t0 - interval '48 hours', 2, 2.5, 'y' FROM onl_t0;
INSERT INTO onl_src SELECT 1, t0 - interval '24 hours', 3, NULL, 'z' FROM onl_t0;
INSERT INTO onl_src SELECT 1, t0 + interval '24 hours', 99, 99, 'future' FROM onl_t0;
INSERT INTO onl_src SELECT 2, t0 - interval '480 hours', 10, 10, 'old' FROM onl_t0;
INSERT INTO onl_src SELECT 3, t0 - interval '48 hours', 30, 30, 'c3' FROM onl_t0;
INSERT INTO onl_src SELECT NULL, t0 - interval '48 hours', -1, -1, 'no key' FROM onl_t0;
SELECT mlops.create_entity('onl_customer', ARRAY['customer_id']);
SELECT mlops.create_feature_view('onl_cust', 'onl_customer', 'onl_src', 'ts',
								 ARRAY['a', 'b', 'c', 'a * 2 AS a2'], ttl => interval '7 days');

-- nothing to read before the first materialization
SELECT * FROM mlops.get_online_features(ARRAY['onl_cust:a'], '{"customer_id": 1}');

-- a window [start, end): the latest row per key inside it; NULL keys skipped
SELECT mlops.materialize('onl_cust', t0 - interval '60 hours', t0 - interval '36 hours') FROM onl_t0;
\d mlops_online.onl_cust_v1
SELECT customer_id, feature_ts - t0 AS age, a, b, c, a2 FROM mlops_online.onl_cust_v1, onl_t0 ORDER BY 1;
SELECT * FROM mlops.get_online_features(ARRAY['onl_cust:a', 'onl_cust:c'], '{"customer_id": 1}');
-- the end is exclusive
SELECT mlops.materialize('onl_cust', t0 - interval '72 hours', t0 - interval '48 hours') FROM onl_t0;
SELECT customer_id, feature_ts - t0 AS age, a FROM mlops_online.onl_cust_v1, onl_t0 ORDER BY 1;
-- idempotent: the same window again changes no value
SELECT mlops.materialize('onl_cust', t0 - interval '60 hours', t0 - interval '36 hours') FROM onl_t0;
SELECT customer_id, feature_ts - t0 AS age, a, b, c, a2 FROM mlops_online.onl_cust_v1, onl_t0 ORDER BY 1;
SELECT watermark - t0 AS watermark, rows FROM mlops.online_state, onl_t0 WHERE view = 'onl_cust';

-- incremental: from the watermark to now(); the future row waits
SELECT mlops.materialize_incremental('onl_cust');
SELECT customer_id, feature_ts - t0 AS age, a, b, c FROM mlops_online.onl_cust_v1, onl_t0 ORDER BY 1;
SELECT watermark > t0 AS watermark_moved, last_run >= t0 AS ran FROM mlops.online_state, onl_t0
 WHERE view = 'onl_cust';
-- nothing new: no rows
SELECT mlops.materialize_incremental('onl_cust');

-- a late row older than the stored one never replaces it
INSERT INTO onl_src SELECT 1, t0 - interval '53 hours', 50, 50, 'late' FROM onl_t0;
SELECT mlops.materialize('onl_cust', t0 - interval '72 hours', t0 - interval '48 hours') FROM onl_t0;
-- an old window: customer 2's only row
SELECT mlops.materialize('onl_cust', '-infinity', t0 - interval '240 hours') FROM onl_t0;
SELECT customer_id, feature_ts - t0 AS age, a, c FROM mlops_online.onl_cust_v1, onl_t0 ORDER BY 1;
-- a late row newer than the stored one, behind the watermark: incremental
-- misses it, a lookback finds it
INSERT INTO onl_src SELECT 3, t0 - interval '1 hour', 31, 31, 'late c3' FROM onl_t0;
SELECT mlops.materialize_incremental('onl_cust');
SELECT mlops.materialize_incremental('onl_cust', lookback => interval '48 hours');
SELECT customer_id, feature_ts - t0 AS age, a, c FROM mlops_online.onl_cust_v1, onl_t0 ORDER BY 1;
-- every run is recorded
SELECT count(*) AS runs, sum(rows) AS rows FROM mlops.materializations WHERE view = 'onl_cust';
SELECT view, version, online, online_table, watermark IS NOT NULL AS has_watermark, last_rows
  FROM mlops.online_list WHERE view = 'onl_cust';

-- TTL online: customer 2's only value is 20 days old (ttl 7 days)
SELECT * FROM mlops.get_online_features(ARRAY['onl_cust:a', 'onl_cust:b'], '{"customer_id": 2}');
SELECT a FROM mlops_online.onl_cust_v1 WHERE customer_id = 2;

-- many keys at once, in input order; unknown keys read as NULL; key values
-- as numbers or strings; extra members ignored
SELECT * FROM mlops.get_online_features(ARRAY['onl_cust:*'],
	'[{"customer_id": 3}, {"customer_id": 999}, {"customer_id": "1", "x": 0}, {"customer_id": 2}, {"customer_id": 3}]');
SELECT count(*), count(*) FILTER (WHERE feature_values->>'a' IS NULL) AS missing
  FROM mlops.get_online_features(ARRAY['onl_cust:a'],
	(SELECT jsonb_agg(jsonb_build_object('customer_id', i)) FROM generate_series(1, 1000) i));
SELECT * FROM mlops.get_online_features(ARRAY['onl_cust:a'], '[]');

-- two views of one entity, a service, a second entity
CREATE TABLE onl_orders (customer_id bigint, store text, ts timestamptz, n int);
INSERT INTO onl_orders SELECT 1, 's1', t0 - interval '1 hour', 5 FROM onl_t0;
INSERT INTO onl_orders SELECT 3, 's1', t0 - interval '1 hour', 7 FROM onl_t0;
SELECT mlops.create_feature_view('onl_ord', 'onl_customer', 'onl_orders', 'ts', ARRAY['n AS n_orders', 'store']);
SELECT mlops.materialize_incremental('onl_ord');
SELECT mlops.create_entity('onl_store', ARRAY['store']);
CREATE TABLE onl_stores (store varchar(10), ts date, revenue numeric(10,2));
INSERT INTO onl_stores VALUES ('s1', current_date - 1, 1234.5);
SELECT mlops.create_feature_view('onl_st', 'onl_store', 'onl_stores', 'ts', ARRAY['revenue']);
SELECT mlops.materialize_incremental('onl_st');
SELECT * FROM mlops.get_online_features(ARRAY['onl_cust:a', 'onl_ord:n_orders', 'onl_st:revenue'],
	'[{"customer_id": 1, "store": "s1"}, {"customer_id": 3, "store": "s2"}]');
SELECT mlops.create_feature_service('onl_svc', ARRAY['onl_ord:n_orders', 'onl_cust:a2', 'onl_cust:c']);
SELECT * FROM mlops.get_online_features('onl_svc', '{"customer_id": 3}');
SELECT * FROM mlops.get_online_features('onl_svc@1', '[{"customer_id": 1}]');

-- a new view version: view:feature follows it at once in this session;
-- the old version stays readable
SELECT mlops.create_feature_view('onl_cust', 'onl_customer', 'onl_src', 'ts',
								 ARRAY['a', 'b + 1 AS b'], ttl => interval '7 days');
SELECT * FROM mlops.get_online_features(ARRAY['onl_cust:a'], '{"customer_id": 1}');
SELECT * FROM mlops.get_online_features(ARRAY['onl_cust@1:a'], '{"customer_id": 1}');
SELECT mlops.materialize_incremental('onl_cust');
SELECT * FROM mlops.get_online_features(ARRAY['onl_cust:a', 'onl_cust:b'], '{"customer_id": 1}');
SELECT * FROM mlops.get_online_features(ARRAY['onl_cust@2:b', 'onl_cust@1:c'], '{"customer_id": 1}');
-- the service pinned version 1
SELECT * FROM mlops.get_online_features('onl_svc', '{"customer_id": 1}');

-- bad input: each is a clear error and changes nothing
SELECT count(*) AS runs_before FROM mlops.materializations;
SELECT mlops.materialize('onl_nope', '-infinity', 'infinity');
SELECT mlops.materialize('onl_cust@7', '-infinity', 'infinity');
SELECT mlops.materialize('onl_cust', 'infinity', '-infinity');
SELECT mlops.materialize('onl_cust', NULL, now());
SELECT mlops.materialize(NULL, NULL, now());
SELECT mlops.materialize_incremental('onl_cust', interval '-1 day');
SELECT mlops.create_feature_view('onl_off', 'onl_customer', 'onl_src', 'ts', ARRAY['a'], online => false);
SELECT mlops.materialize_incremental('onl_off');
SELECT * FROM mlops.get_online_features(ARRAY['onl_off:a'], '{"customer_id": 1}');
SELECT count(*) AS runs_after FROM mlops.materializations;
SELECT to_regclass('mlops_online.onl_off_v1') AS no_table;
SELECT * FROM mlops.get_online_features(ARRAY['onl_nope:a'], '{"customer_id": 1}');
SELECT * FROM mlops.get_online_features(ARRAY['onl_cust:nope'], '{"customer_id": 1}');
SELECT * FROM mlops.get_online_features(ARRAY['bad ref'], '{"customer_id": 1}');
SELECT * FROM mlops.get_online_features(ARRAY[]::text[], '{"customer_id": 1}');
SELECT * FROM mlops.get_online_features(ARRAY[NULL], '{"customer_id": 1}');
SELECT * FROM mlops.get_online_features('onl_nosvc', '{"customer_id": 1}');
SELECT * FROM mlops.get_online_features(ARRAY['onl_cust:a'], '{"id": 1}');
SELECT * FROM mlops.get_online_features(ARRAY['onl_cust:a'], '[{"customer_id": 1}, {"cust": 1}]');
SELECT * FROM mlops.get_online_features(ARRAY['onl_cust:a'], '[{"customer_id": 1}, 5]');
SELECT * FROM mlops.get_online_features(ARRAY['onl_cust:a'], '42');
SELECT * FROM mlops.get_online_features(ARRAY['onl_cust:a'], '{"customer_id": null}');
SELECT * FROM mlops.get_online_features(ARRAY['onl_cust:a'], '{"customer_id": [1]}');
SELECT * FROM mlops.get_online_features(ARRAY['onl_cust:a'], '{"customer_id": "abc"}');
SELECT * FROM mlops.get_online_features(ARRAY['onl_cust:a'], '{"customer_id": 1.5}');
SELECT * FROM mlops.get_online_features(ARRAY['onl_cust:a', 'onl_cust@1:a'], '{"customer_id": 1}');
-- a duplicate reference is harmless
SELECT * FROM mlops.get_online_features(ARRAY['onl_cust:a', 'onl_cust:a', 'onl_cust:*'], '{"customer_id": 1}');

-- privileges: mlops_user reads, only mlops_admin materializes
DROP ROLE IF EXISTS onl_reader;
CREATE ROLE onl_reader IN ROLE mlops_user;
SET ROLE onl_reader;
SELECT * FROM mlops.get_online_features(ARRAY['onl_cust:a'], '{"customer_id": 1}');
SELECT mlops.materialize_incremental('onl_cust');
RESET ROLE;
DROP ROLE onl_reader;
