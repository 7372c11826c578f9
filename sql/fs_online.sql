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
-- idempotent: the same window again changes no value and writes no row
SELECT mlops.materialize('onl_cust', t0 - interval '60 hours', t0 - interval '36 hours') FROM onl_t0;
SELECT customer_id, feature_ts - t0 AS age, a, b, c, a2 FROM mlops_online.onl_cust_v1, onl_t0 ORDER BY 1;
-- windows that start after the watermark (none yet: -infinity) leave it alone
SELECT watermark - t0 AS watermark, rows FROM mlops.online_state, onl_t0 WHERE view = 'onl_cust';

-- incremental: from the watermark (-infinity) to now(), so customer 2's old
-- row too; the future row waits
SELECT mlops.materialize_incremental('onl_cust');
SELECT customer_id, feature_ts - t0 AS age, a, b, c FROM mlops_online.onl_cust_v1, onl_t0 ORDER BY 1;
SELECT watermark > t0 AS watermark_moved, last_run >= t0 AS ran FROM mlops.online_state, onl_t0
 WHERE view = 'onl_cust';
-- nothing new: no rows
SELECT mlops.materialize_incremental('onl_cust');

-- a late row older than the stored one never replaces it
INSERT INTO onl_src SELECT 1, t0 - interval '53 hours', 50, 50, 'late' FROM onl_t0;
SELECT mlops.materialize('onl_cust', t0 - interval '72 hours', t0 - interval '48 hours') FROM onl_t0;
-- an old window: customer 2's only row, already stored: nothing written
SELECT mlops.materialize('onl_cust', '-infinity', t0 - interval '240 hours') FROM onl_t0;
SELECT customer_id, feature_ts - t0 AS age, a, c FROM mlops_online.onl_cust_v1, onl_t0 ORDER BY 1;
-- a late row newer than the stored one, behind the watermark: incremental
-- (10 minutes of lookback) misses it, a longer lookback finds it
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

-- the watermark does not jump over a gap: a window ahead of it leaves it
-- alone, and the next incremental run reads the rows before the window
CREATE TABLE onl_gap (customer_id bigint, ts timestamptz, a int);
INSERT INTO onl_gap VALUES (1, '2024-01-05', 5), (2, '2024-01-10', 10), (3, '2024-01-20', 20);
SELECT mlops.create_feature_view('onl_gapv', 'onl_customer', 'onl_gap', 'ts', ARRAY['a']);
SELECT mlops.materialize('onl_gapv', '2024-01-09', '2024-01-11');
SELECT watermark FROM mlops.online_state WHERE view = 'onl_gapv';
SELECT mlops.materialize_incremental('onl_gapv');
SELECT customer_id, a FROM mlops_online.onl_gapv_v1 ORDER BY 1;
SELECT watermark > '2024-01-20' AS advanced FROM mlops.online_state WHERE view = 'onl_gapv';
-- a window from before the watermark moves it (never back); one after it does not
UPDATE mlops.online_state SET watermark = '2024-01-15' WHERE view = 'onl_gapv';
SELECT mlops.materialize('onl_gapv', '2024-01-01', '2024-01-18');
SELECT watermark FROM mlops.online_state WHERE view = 'onl_gapv';
SELECT mlops.materialize('onl_gapv', '2024-01-19', '2024-01-25');
SELECT watermark FROM mlops.online_state WHERE view = 'onl_gapv';
-- a lookback past the oldest timestamp reads from -infinity
SELECT mlops.materialize_incremental('onl_gapv', interval '300000 years');
SELECT start_ts FROM mlops.materializations WHERE view = 'onl_gapv' ORDER BY id DESC LIMIT 1;

-- the default lookback (10 minutes) reads the rows that a transaction still
-- running at the last run committed behind the watermark; older ones need
-- a longer lookback (t/070_fs_materialize.pl runs the two sessions)
INSERT INTO onl_gap SELECT 4, watermark - interval '5 minutes', 40 FROM mlops.online_state WHERE view = 'onl_gapv';
INSERT INTO onl_gap SELECT 5, watermark - interval '20 minutes', 50 FROM mlops.online_state WHERE view = 'onl_gapv';
SELECT mlops.materialize_incremental('onl_gapv');
SELECT customer_id, a FROM mlops_online.onl_gapv_v1 WHERE customer_id >= 4 ORDER BY 1;

-- rows stamped after now(): an explicit window does not load them (a row
-- stamped now() is loaded), and a stored one reads as absent
CREATE TABLE onl_fut (customer_id bigint, ts timestamptz, a int);
INSERT INTO onl_fut SELECT 1, t0 - interval '1 hour', 1 FROM onl_t0;
INSERT INTO onl_fut VALUES (1, '2099-01-01', 99), (2, '2099-01-01', 2099);
SELECT mlops.create_feature_view('onl_futv', 'onl_customer', 'onl_fut', 'ts', ARRAY['a']);
BEGIN;
INSERT INTO onl_fut VALUES (3, now(), 3);
SELECT mlops.materialize('onl_futv', '-infinity', 'infinity');
SELECT end_ts = now() + interval '1 microsecond' AS clamped FROM mlops.materializations
 WHERE view = 'onl_futv' ORDER BY id DESC LIMIT 1;
COMMIT;
SELECT customer_id, a FROM mlops_online.onl_futv_v1 ORDER BY 1;
SELECT mlops.materialize('onl_futv', '2098-01-01', '2100-01-01');
-- (a future row written by hand, as an earlier version could store it)
INSERT INTO mlops_online.onl_futv_v1 VALUES (2, '2099-01-01', 2099, now());
SELECT * FROM mlops.get_online_features(ARRAY['onl_futv:a'], '[{"customer_id": 1}, {"customer_id": 2}, {"customer_id": 3}]');

-- a ttl: inclusive bound, calendar months as in SQL; a ttl past the oldest
-- timestamp means no cutoff
CREATE TABLE onl_ttl (customer_id bigint, ts timestamptz, a int);
SELECT mlops.create_feature_view('onl_ttlm', 'onl_customer', 'onl_ttl', 'ts', ARRAY['a'],
								 ttl => interval '1 month 2 days 03:00');
SELECT mlops.create_feature_view('onl_ttlh', 'onl_customer', 'onl_ttl', 'ts', ARRAY['a AS b'],
								 ttl => interval '200000 years');
BEGIN;
INSERT INTO onl_ttl VALUES (1, now() - interval '1 month 2 days 03:00', 1),
	(2, now() - interval '1 month 2 days 03:00' - interval '1 microsecond', 2), (3, '4000-01-01 BC', 3);
SELECT mlops.materialize('onl_ttlm', '-infinity', 'infinity');
SELECT mlops.materialize('onl_ttlh', '-infinity', 'infinity');
SELECT * FROM mlops.get_online_features(ARRAY['onl_ttlm:a', 'onl_ttlh:b'],
	'[{"customer_id": 1}, {"customer_id": 2}, {"customer_id": 3}]');
COMMIT;

-- statistics at the ends of float8's range and beyond it: materialization
-- and statistics succeed; numerics past float8 count as not finite
CREATE TABLE onl_huge (customer_id bigint, ts timestamptz, x float8, n numeric);
INSERT INTO onl_huge SELECT 1, t0 - interval '1 hour', 1e308, 1e400 FROM onl_t0;
INSERT INTO onl_huge SELECT 2, t0 - interval '1 hour', -1e308, -1e-400 FROM onl_t0;
INSERT INTO onl_huge SELECT 3, t0 - interval '1 hour', 0, 'NaN' FROM onl_t0;
INSERT INTO onl_huge SELECT 4, t0 - interval '1 hour', 1, 7 FROM onl_t0;
SELECT mlops.create_feature_view('onl_hugev', 'onl_customer', 'onl_huge', 'ts', ARRAY['x', 'n']);
SELECT mlops.materialize_incremental('onl_hugev');
SELECT feature, count, null_fraction, mean, round((std / CASE WHEN std > 1e300 THEN 1e300 ELSE 1 END)::numeric, 3) AS std_or_e300, min, max,
	   quantiles[1] AS p0, quantiles[51] AS p50, quantiles[101] AS p100,
	   (histogram->'edges'->>0)::float8 AS e0, (histogram->'edges'->>10)::float8 AS e10,
	   (histogram->'edges'->>20)::float8 AS e20, histogram->'counts' AS counts, histogram->'nonfinite' AS nonfinite
  FROM mlops.feature_stats
 WHERE snapshot_id = (SELECT max(id) FROM mlops.feature_stats_snapshots WHERE view = 'onl_hugev')
 ORDER BY feature;
SELECT mlops.compute_feature_stats('onl_hugev') IS NOT NULL AS offline_too;
-- statistics are best effort: when they fail, the run still commits
ALTER TABLE mlops.feature_stats ADD CONSTRAINT onl_no_stats CHECK (feature <> 'x') NOT VALID;
UPDATE onl_huge SET ts = ts + interval '1 minute', x = 2 WHERE customer_id = 4;
SELECT mlops.materialize_incremental('onl_hugev', interval '1 day');
ALTER TABLE mlops.feature_stats DROP CONSTRAINT onl_no_stats;
SELECT x FROM mlops_online.onl_hugev_v1 WHERE customer_id = 4;

-- generated SQL does not depend on the caller's search_path: an = operator
-- and a to_jsonb function found first change nothing
CREATE SCHEMA onl_evil;
CREATE FUNCTION onl_evil.never(bigint, bigint) RETURNS bool LANGUAGE sql IMMUTABLE RETURN false;
CREATE OPERATOR onl_evil.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = onl_evil.never);
CREATE FUNCTION onl_evil.never(timestamptz, timestamptz) RETURNS bool LANGUAGE sql IMMUTABLE RETURN false;
CREATE OPERATOR onl_evil.>= (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = onl_evil.never);
CREATE FUNCTION onl_evil.to_jsonb(int) RETURNS jsonb LANGUAGE sql IMMUTABLE RETURN '"evil"'::jsonb;
SELECT mlops.create_feature_view('onl_path', 'onl_customer', 'onl_gap', 'ts', ARRAY['a']);
SET search_path = onl_evil, pg_catalog, public;
SELECT mlops.materialize('onl_path', '-infinity', 'infinity');
SELECT * FROM mlops.get_online_features(ARRAY['onl_path:a'], '{"customer_id": 2}');
SELECT mlops.compute_feature_stats('onl_path', 'online', '2024-01-01', '2024-02-01') IS NOT NULL AS stats;
RESET search_path;
SELECT row_count FROM mlops.feature_stats_snapshots
 WHERE view = 'onl_path' AND start_ts IS NOT NULL ORDER BY id DESC LIMIT 1;
DROP SCHEMA onl_evil CASCADE;

-- a catalog row with a feature named materialized_at (definitions refuse
-- it; a row written before they did) is refused with a hint
SELECT mlops.create_feature_view('onl_mat', 'onl_customer', 'onl_gap', 'ts', ARRAY['a AS mat_at']);
UPDATE mlops.feature_views SET features = replace(features::text, '"mat_at"', '"materialized_at"')::jsonb,
	   query = replace(query, 'AS mat_at', 'AS materialized_at')
 WHERE name = 'onl_mat';
SELECT mlops.materialize('onl_mat', '-infinity', 'infinity');
SELECT to_regclass('mlops_online.onl_mat_v1') AS no_table;

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
