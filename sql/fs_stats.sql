-- feature statistics and drift (sql/install/86_stats.sql, src/fs/fsstats.c)

SET timezone = 'UTC';

-- a uniform 0..100 sequence in January; shifted copies in later months
CREATE TABLE fss_events (id int, ts timestamptz, x float8, cat text, flag bool, emb real[], day date);
INSERT INTO fss_events
SELECT g, '2024-01-01 00:00+00'::timestamptz + g * interval '1 hour', g,
	   (ARRAY['a', 'a', 'b', 'c'])[1 + g % 4], g % 5 = 0, ARRAY[3 * g, 4 * g]::real[],
	   '2024-01-01'::date + g
  FROM generate_series(0, 100) g;
-- five NULLs of x, one of cat
INSERT INTO fss_events
SELECT 1000 + g, '2024-01-02 00:00+00'::timestamptz, NULL, CASE WHEN g > 0 THEN 'a' END, NULL, NULL, NULL
  FROM generate_series(0, 4) g;
-- February: x shifted by 8 (a small shift), categories unchanged
INSERT INTO fss_events
SELECT g, '2024-02-01 00:00+00'::timestamptz + g * interval '1 hour', g + 8,
	   (ARRAY['a', 'a', 'b', 'c'])[1 + g % 4], g % 5 = 0, ARRAY[3 * g, 4 * g]::real[], '2024-02-01'::date
  FROM generate_series(0, 100) g;
-- March: x shifted by 50, categories mostly 'c', a new 'd'
INSERT INTO fss_events
SELECT g, '2024-03-01 00:00+00'::timestamptz + g * interval '1 hour', g + 50,
	   (ARRAY['c', 'c', 'c', 'd'])[1 + g % 4], g % 5 = 0, ARRAY[3 * g, 4 * g]::real[], '2024-03-01'::date
  FROM generate_series(0, 100) g;

SELECT mlops.create_entity('fss_thing', ARRAY['id']);
SELECT mlops.create_feature_view('fss', 'fss_thing', 'fss_events', 'ts',
								 ARRAY['x', 'cat', 'flag', 'emb', 'day', 'x * 2 AS x2']);

-- January alone
SELECT mlops.compute_feature_stats('fss', 'offline', '2024-01-01', '2024-02-01') AS jan \gset
SELECT view, version, source, start_ts, end_ts, row_count, computed_by = current_user AS by_me
  FROM mlops.feature_stats_snapshots WHERE id = :jan;
SELECT feature, type, kind, count, round(null_fraction::numeric, 6) AS null_fraction,
	   round(mean::numeric, 6) AS mean, round(std::numeric, 6) AS std, min, max
  FROM mlops.feature_stats WHERE snapshot_id = :jan ORDER BY feature;
-- the same figures from SQL aggregates
SELECT count(x), round(avg(x)::numeric, 6) AS mean, round(stddev(x)::numeric, 6) AS std,
	   round(stddev(x * 2)::numeric, 6) AS std_x2
  FROM fss_events WHERE ts < '2024-02-01';
-- percentiles of 0..100 are 0..100 exactly, and match percentile_cont
SELECT quantiles = (SELECT array_agg(g::float8 ORDER BY g) FROM generate_series(0, 100) g) AS exact,
	   (SELECT max(abs(q - p)) < 1e-9
		  FROM unnest(quantiles, (SELECT percentile_cont((SELECT array_agg(g / 100.0) FROM generate_series(0, 100) g))
									 WITHIN GROUP (ORDER BY x) FROM fss_events WHERE ts < '2024-02-01')) AS u(q, p))
		 AS as_percentile_cont,
	   array_length(quantiles, 1) AS n
  FROM mlops.feature_stats WHERE snapshot_id = :jan AND feature = 'x';
SELECT feature, (SELECT array_agg(round(e::numeric, 4)) FROM jsonb_array_elements_text(histogram->'edges') e) AS edges,
	   histogram->'counts' AS counts
  FROM mlops.feature_stats WHERE snapshot_id = :jan AND feature IN ('x', 'emb') ORDER BY feature;
-- the norm of (3g, 4g) is 5g; the interpolated percentiles of x2 are twice x's
SELECT feature, round(quantiles[51]::numeric, 6) AS p50, round(quantiles[100]::numeric, 6) AS p99,
	   round(quantiles[11]::numeric, 6) AS p10
  FROM mlops.feature_stats WHERE snapshot_id = :jan AND quantiles IS NOT NULL ORDER BY feature;
-- categories: a 51 + 4, b 25, c 25 of 105 values; booleans as true/false
SELECT feature, top_k->'distinct' AS distinct, top_k->'other_count' AS other,
	   (SELECT string_agg(format('%s:%s:%s', e->>'value', e->>'count', round((e->>'share')::numeric, 4)), ' ')
		  FROM jsonb_array_elements(top_k->'values') e) AS top
  FROM mlops.feature_stats WHERE snapshot_id = :jan AND kind = 'categorical' ORDER BY feature;

-- every row (no window), and windows that select February and March
SELECT mlops.compute_feature_stats('fss') AS all_rows \gset
SELECT mlops.compute_feature_stats('fss@1', 'offline', '2024-02-01', '2024-03-01') AS feb \gset
SELECT mlops.compute_feature_stats('fss', 'offline', NULL, '2024-01-01') AS empty \gset
SELECT mlops.compute_feature_stats('fss', 'offline', '2024-03-01') AS mar \gset
SELECT id = :all_rows AS all_rows, id = :empty AS empty, row_count, start_ts, end_ts
  FROM mlops.feature_stats_snapshots WHERE id IN (:all_rows, :feb, :mar, :empty) ORDER BY id;
SELECT feature, count, null_fraction, mean, quantiles, histogram, top_k
  FROM mlops.feature_stats WHERE snapshot_id = :empty ORDER BY feature;

-- drift: identical snapshots
SELECT feature, round(psi::numeric, 6) AS psi, round(ks::numeric, 6) AS ks, status
  FROM mlops.feature_drift('fss', :'jan', :'jan');
-- February: x and x2 shifted by 8% of the range: PSI (0.02-0.1)ln(0.2) + (0.18-0.1)ln(1.8) = 0.1758, warn
SELECT feature, round(psi::numeric, 4) AS psi, round(ks::numeric, 4) AS ks, status
  FROM mlops.feature_drift('fss', :'jan', :'feb');
-- March: x shifted by half its range, categories moved: alert
SELECT feature, round(psi::numeric, 4) AS psi, round(ks::numeric, 4) AS ks, status
  FROM mlops.feature_drift('fss', :'jan', 'latest:offline');
-- nothing to compare with an empty snapshot
SELECT feature, psi, ks, status FROM mlops.feature_drift('fss', :'jan', :'empty') WHERE feature IN ('x', 'cat');
-- thresholds per call: a KS of 0.08 alerts at ks_alert 0.05
SELECT feature, status FROM mlops.feature_drift('fss', :'jan', :'feb', 0.1, 0.25, 0.01, 0.05)
 WHERE feature IN ('x', 'cat');
-- March's categorical PSI by hand: a 55/105 -> 0, b 25/105 -> 0, c 25/105 -> 76/101, d 0 -> 25/101
SELECT round((mlops._psi_term(55 / 105.0, 0) + mlops._psi_term(25 / 105.0, 0)
			  + mlops._psi_term(25 / 105.0, 76 / 101.0) + mlops._psi_term(0, 25 / 101.0)
			  + mlops._psi_term(0, 0))::numeric, 4) AS cat_psi_by_hand;
-- ties: a constant reference against itself and against another constant;
-- a two-valued one (deciles 0 and 1: bins (-inf, 0], (0, 1], (1, inf) with
-- expected shares 0.49, 0.51, 0) against itself and against 20% zeros
SELECT round(psi::numeric, 4) AS psi, round(ks::numeric, 4) AS ks
  FROM mlops._feature_drift_numeric(array_fill(5::float8, ARRAY[101]), array_fill(5::float8, ARRAY[101]));
SELECT round(psi::numeric, 4) AS psi, round(ks::numeric, 4) AS ks
  FROM mlops._feature_drift_numeric(array_fill(5::float8, ARRAY[101]), array_fill(6::float8, ARRAY[101]));
SELECT round(psi::numeric, 4) AS psi, round(ks::numeric, 4) AS ks
  FROM mlops._feature_drift_numeric(array_fill(0::float8, ARRAY[50]) || array_fill(1::float8, ARRAY[51]),
									array_fill(0::float8, ARRAY[50]) || array_fill(1::float8, ARRAY[51]));
SELECT round(psi::numeric, 4) AS psi, round(ks::numeric, 4) AS ks
  FROM mlops._feature_drift_numeric(array_fill(0::float8, ARRAY[50]) || array_fill(1::float8, ARRAY[51]),
									array_fill(0::float8, ARRAY[20]) || array_fill(1::float8, ARRAY[81]));
-- the percentile arrays must hold p0..p100: a long array is refused at once
-- (the distances walk both arrays once, in O(n))
SELECT * FROM mlops._feature_drift_numeric((SELECT array_agg(g::float8) FROM generate_series(1, 20000) g),
										   (SELECT array_agg(g::float8) FROM generate_series(1, 20000) g));
SELECT * FROM mlops._feature_drift_numeric(array_fill(1::float8, ARRAY[100]), array_fill(1::float8, ARRAY[101]));
SELECT * FROM mlops._feature_drift_numeric(array_fill(1::float8, ARRAY[101]), ARRAY[[1::float8]]);
-- percentiles at the ends of float8's range: gaps beyond it stay finite
-- (uniform on [-1e308, 1e308] against its upper half, and against a point mass at 0)
SELECT round(psi::numeric, 4) AS psi, round(ks::numeric, 4) AS ks
  FROM mlops._feature_drift_numeric((SELECT array_agg((k - 50) * 2e306::float8 ORDER BY k) FROM generate_series(0, 100) k),
									(SELECT array_agg(k * 1e306::float8 ORDER BY k) FROM generate_series(0, 100) k));
SELECT round(psi::numeric, 4) AS psi, round(ks::numeric, 4) AS ks
  FROM mlops._feature_drift_numeric((SELECT array_agg((k - 50) * 2e306::float8 ORDER BY k) FROM generate_series(0, 100) k),
									array_fill(0::float8, ARRAY[101]));

-- history: one row per feature and call, with the thresholds
SELECT count(*) AS rows, count(DISTINCT current_snapshot) AS currents,
	   count(*) FILTER (WHERE status = 'alert') AS alerts
  FROM mlops.feature_drift_history WHERE view = 'fss';
SELECT feature, version, reference_snapshot = :jan AS ref_jan, current_snapshot = :feb AS cur_feb, status, thresholds
  FROM mlops.feature_drift_history WHERE view = 'fss' AND feature = 'x' ORDER BY id DESC LIMIT 1;

-- a new version adds a feature: missing from the old snapshot
SELECT mlops.create_feature_view('fss', 'fss_thing', 'fss_events', 'ts',
								 ARRAY['x', 'cat', 'flag', 'emb', 'day', 'x * 2 AS x2', 'x + 1 AS x1']);
SELECT mlops.compute_feature_stats('fss', 'offline', '2024-01-01', '2024-02-01') AS jan2 \gset
SELECT feature, round(psi::numeric, 4) AS psi, round(ks::numeric, 4) AS ks, status
  FROM mlops.feature_drift('fss', :'jan', :'jan2') WHERE feature IN ('x', 'x1');
SELECT version FROM mlops.feature_stats_snapshots WHERE id = :jan2;
-- fss@1 names the version: its latest offline snapshot is March's
SELECT feature, status FROM mlops.feature_drift('fss@1', :'jan', 'latest:offline') WHERE feature = 'x';

-- online: the online table of a view (built here by hand)
SET client_min_messages = warning;
CREATE SCHEMA IF NOT EXISTS mlops_online;
RESET client_min_messages;
SELECT mlops.create_feature_view('fss_on', 'fss_thing', 'fss_events', 'ts', ARRAY['x', 'cat'], online => false);
CREATE TABLE mlops_online.fss_on_v1 (id int PRIMARY KEY, feature_ts timestamptz, x float8, cat text,
									 materialized_at timestamptz DEFAULT now());
INSERT INTO mlops_online.fss_on_v1 (id, feature_ts, x, cat)
SELECT g, '2024-03-01 00:00+00'::timestamptz + g * interval '1 hour', g + 50, (ARRAY['c', 'c', 'c', 'd'])[1 + g % 4]
  FROM generate_series(0, 100) g;
SELECT mlops.compute_feature_stats('fss_on', 'offline', '2024-01-01', '2024-02-01') IS NOT NULL AS ok;
SELECT mlops.compute_feature_stats('fss_on', 'online') IS NOT NULL AS ok;
SELECT row_count FROM mlops.feature_stats_snapshots WHERE view = 'fss_on' AND source = 'online';
SELECT feature, round(psi::numeric, 4) AS psi, round(ks::numeric, 4) AS ks, status
  FROM mlops.feature_drift('fss_on', 'latest:offline', 'latest:online');
-- a service over two views, per view
-- (fss@1's latest offline snapshot is March's, fss_on's January's)
SELECT mlops.create_feature_service('fss_svc', ARRAY['fss@1:x2', 'fss@1:cat', 'fss_on:x']);
SELECT feature, round(psi::numeric, 4) AS psi, round(ks::numeric, 4) AS ks, status
  FROM mlops.feature_drift('fss_svc', 'latest:offline', 'latest:offline');

-- a training set (point-in-time join at January 10th: x = 0..100 as in
-- January); x of both views clashes, so its columns are fss__x and fss_on__x
CREATE TABLE fss_labels AS
SELECT g AS id, '2024-01-10 00:00+00'::timestamptz AS event_timestamp, g % 2 AS label
  FROM generate_series(0, 100) g;
SELECT mlops.create_training_set('fss_ts', 'fss_labels', ARRAY['fss@1:x', 'fss@1:cat', 'fss_on:x']);
SELECT mlops.compute_feature_stats('fss', 'training_set:fss_ts') AS ts1 \gset
SELECT mlops.compute_feature_stats('fss_on', 'training_set:public.fss_ts') AS ts2 \gset
SELECT view, version, source, row_count FROM mlops.feature_stats_snapshots WHERE id IN (:ts1, :ts2) ORDER BY id;
SELECT snapshot_id = :ts1 AS fss, feature, count, mean, min, max, top_k->'distinct' AS distinct
  FROM mlops.feature_stats WHERE snapshot_id IN (:ts1, :ts2) ORDER BY snapshot_id, feature;
-- training against January, and the service's training set against its latest offline data
SELECT feature, round(psi::numeric, 4) AS psi, round(ks::numeric, 4) AS ks, status
  FROM mlops.feature_drift('fss@1', 'latest:training_set:fss_ts', :'jan');
SELECT feature, round(psi::numeric, 4) AS psi, round(ks::numeric, 4) AS ks, status
  FROM mlops.feature_drift('fss_svc', 'latest:training_set:fss_ts', 'latest:offline');

-- bad input: clear errors, nothing stored
\set SHOW_CONTEXT never
SELECT count(*) AS snapshots_before FROM mlops.feature_stats_snapshots \gset
SELECT mlops.compute_feature_stats('nope');
SELECT mlops.compute_feature_stats('fss@9');
SELECT mlops.compute_feature_stats('fss; DROP TABLE x');
SELECT mlops.compute_feature_stats('fss', 'bogus');
SELECT mlops.compute_feature_stats('fss', 'offline', '2024-02-01', '2024-01-01');
SELECT mlops.compute_feature_stats('fss', 'training_set:ts', '2024-02-01');
SELECT mlops.compute_feature_stats(NULL);
SELECT mlops.compute_feature_stats('fss@2', 'training_set:fss_ts');
SELECT mlops.compute_feature_stats('fss', 'training_set:nope');
SELECT mlops.compute_feature_stats('fss', 'training_set:a.b.c');
SELECT count(*) = :snapshots_before AS nothing_stored FROM mlops.feature_stats_snapshots;
SELECT count(*) AS history_before FROM mlops.feature_drift_history \gset
SELECT * FROM mlops.feature_drift('nope', 'latest:offline', 'latest:offline');
SELECT * FROM mlops.feature_drift('fss', '99999999', 'latest:offline');
DO $$
BEGIN
	PERFORM mlops.feature_drift('fss_on', (SELECT max(id) FROM mlops.feature_stats_snapshots WHERE view = 'fss')::text,
								'latest:offline');
EXCEPTION WHEN invalid_parameter_value THEN
	RAISE NOTICE '%', regexp_replace(SQLERRM, '[0-9]+', 'N');	-- the id
END
$$;
SELECT * FROM mlops.feature_drift('fss', 'latest:somewhere', 'latest:offline');
SELECT * FROM mlops.feature_drift('fss', 'latest:training_set:nope', 'latest:offline');
SELECT * FROM mlops.feature_drift('fss_svc', :'jan', 'latest:offline');
SELECT * FROM mlops.feature_drift('fss_svc', 'latest:online', 'latest:offline');
SELECT * FROM mlops.feature_drift('fss', :'jan', :'feb', 0.3, 0.2);
SELECT * FROM mlops.feature_drift('fss', :'jan', :'feb', -0.1);
SELECT * FROM mlops.feature_drift('fss', :'jan', :'feb', ks_alert => NULL);
SELECT count(*) = :history_before AS nothing_recorded FROM mlops.feature_drift_history;

-- privileges: mlops_user reads the statistics, mlops_admin computes them
SET client_min_messages = warning;
DROP ROLE IF EXISTS fss_reader;
RESET client_min_messages;
CREATE ROLE fss_reader IN ROLE mlops_user;
SET ROLE fss_reader;
SELECT count(*) > 0 AS can_read FROM mlops.feature_stats;
SELECT mlops.compute_feature_stats('fss');
SELECT * FROM mlops.feature_drift('fss', 'latest:offline', 'latest:offline');
SELECT * FROM mlops._feature_drift_numeric(array_fill(5::float8, ARRAY[101]), array_fill(5::float8, ARRAY[101]));
RESET ROLE;
-- no internal function of the statistics or the online store is PUBLIC
SELECT p.oid::regprocedure AS function, has_function_privilege('fss_reader', p.oid, 'EXECUTE') AS user_may,
	   has_function_privilege('mlops_admin', p.oid, 'EXECUTE') AS admin_may
  FROM pg_proc p
 WHERE p.pronamespace = 'mlops'::regnamespace
   AND p.proname IN ('_feature_stats_scan', '_feature_drift_numeric', '_psi_term', '_categorical_psi',
					 '_feature_stats_expr', '_training_set_name', '_stats_snapshot', '_online_view', '_materialize')
 ORDER BY 1::text;
DROP ROLE fss_reader;
