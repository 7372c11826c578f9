-- mlops.train and mlops.tune on the vendored datasets (test/data/ml/):
-- every algorithm with a fixed seed, held-out metrics to 4 decimals,
-- feature types, NULL imputation, lineage, search, and bad input that
-- must register nothing.  The dataset cases are those of
-- scripts/ml_reference.py (seed 42, test_fraction 0.2, rows ordered by id),
-- which checks the same numbers against scikit-learn and XGBoost.
\i test/data/ml/data.sql
\set SHOW_CONTEXT never
-- a metrics object with its numbers rounded to 4 decimals, keys sorted
CREATE FUNCTION pg_temp.m(j jsonb) RETURNS text LANGUAGE sql AS $$
	SELECT string_agg(key || '=' || CASE jsonb_typeof(value)
			WHEN 'number' THEN round(value::text::numeric, 4)::text
			ELSE value::text END, ' ' ORDER BY key)
	  FROM jsonb_each(j)
$$;
-- each dataset as a query of every column but id, ordered by id
SELECT max(src) FILTER (WHERE t = 'iris') AS iris,
	   max(src) FILTER (WHERE t = 'wine') AS wine,
	   max(src) FILTER (WHERE t = 'breast_cancer') AS bc,
	   max(src) FILTER (WHERE t = 'diabetes') AS diabetes
  FROM (SELECT table_name AS t,
			   format('SELECT %s FROM %I ORDER BY id',
					  string_agg(quote_ident(column_name::text), ', ' ORDER BY ordinal_position),
					  table_name) AS src
		  FROM information_schema.columns
		 WHERE table_schema = current_schema() AND column_name <> 'id'
		   AND table_name IN ('iris', 'wine', 'breast_cancer', 'diabetes')
		 GROUP BY table_name) s \gset
\echo :diabetes

-- regression: OLS, ridge (alpha), lasso, elastic net, XGBoost
SELECT model, version, pg_temp.m(metrics)
  FROM mlops.train('tr_diabetes', :'diabetes', 'target', 'linear_regression', seed => 42);
SELECT model, version, pg_temp.m(metrics)
  FROM mlops.train('tr_diabetes', :'diabetes', 'target', 'linear_regression', '{"alpha": 1.0}', seed => 42);
SELECT model, version, pg_temp.m(metrics)
  FROM mlops.train('tr_diabetes', :'diabetes', 'target', 'lasso', '{"alpha": 0.1}', seed => 42);
SELECT model, version, pg_temp.m(metrics)
  FROM mlops.train('tr_diabetes', :'diabetes', 'target', 'elastic_net', '{"alpha": 0.1, "l1_ratio": 0.5}', seed => 42);
SELECT model, version, pg_temp.m(metrics)
  FROM mlops.train('tr_diabetes', :'diabetes', 'target', 'xgboost',
				   '{"n_estimators": 50, "max_depth": 4, "nthread": 1}', seed => 42);
-- classification: binary (breast cancer) and multinomial (iris, wine)
SELECT model, version, pg_temp.m(metrics)
  FROM mlops.train('tr_bc', :'bc', 'target', 'logistic_regression', '{"C": 1.0}', seed => 42);
SELECT model, version, pg_temp.m(metrics)
  FROM mlops.train('tr_bc', :'bc', 'target', 'xgboost',
				   '{"n_estimators": 50, "max_depth": 4, "nthread": 1}', seed => 42);
SELECT model, version, pg_temp.m(metrics)
  FROM mlops.train('tr_iris', :'iris', 'species', 'logistic_regression', '{"C": 1.0}', seed => 42);
SELECT model, version, pg_temp.m(metrics)
  FROM mlops.train('tr_iris', :'iris', 'species', 'xgboost',
				   '{"n_estimators": 30, "max_depth": 3, "nthread": 1}', seed => 42);
SELECT model, version, pg_temp.m(metrics)
  FROM mlops.train('tr_wine', :'wine', 'class', 'logistic_regression', '{"C": 1.0}', seed => 42);
SELECT model, version, pg_temp.m(metrics)
  FROM mlops.train('tr_wine', :'wine', 'class', 'xgboost',
				   '{"n_estimators": 30, "max_depth": 3, "nthread": 1}', seed => 42);
-- clustering: no target
SELECT model, version, pg_temp.m(metrics)
  FROM mlops.train('tr_kmeans', 'SELECT sepal_length, sepal_width, petal_length, petal_width FROM iris ORDER BY id',
				   NULL, 'kmeans', '{"n_clusters": 3}', seed => 42);
SELECT name, task FROM mlops.models WHERE name LIKE 'tr\_%' ORDER BY name;

-- the effective hyperparameters (defaults filled in) are stored
SELECT version, algorithm, hyperparams FROM mlops.model_versions
 WHERE model = 'tr_diabetes' ORDER BY version;
SELECT model, version, algorithm, hyperparams FROM mlops.model_versions
 WHERE model IN ('tr_bc', 'tr_kmeans') ORDER BY model, version;

-- algorithm 'auto' and the task follow the target: float8 -> regression
-- (linear_regression), a few integers -> classification
-- (logistic_regression), no target -> clustering (kmeans)
SELECT version, pg_temp.m(metrics) FROM mlops.train('tr_auto_reg', :'diabetes', 'target', seed => 42);
SELECT version, pg_temp.m(metrics) FROM mlops.train('tr_auto_cls', :'iris', 'species', seed => 42);
SELECT version FROM mlops.train('tr_auto_km', 'SELECT petal_length, petal_width FROM iris ORDER BY id', NULL);
SELECT m.name, m.task, v.algorithm, v.target, v.target_type, v.classes
  FROM mlops.models m JOIN mlops.model_versions v ON v.model = m.name
 WHERE m.name LIKE 'tr\_auto\_%' ORDER BY m.name;
-- an explicit task overrides the inference; it must agree with the model's
SELECT version, pg_temp.m(metrics)
  FROM mlops.train('tr_iris_reg', :'iris', 'species', task => 'regression', seed => 42);
SELECT * FROM mlops.train('tr_iris_reg', :'iris', 'species', task => 'classification');

-- lineage
SELECT version, source, row_count, train_rows, test_rows, seed, test_fraction,
	   extension_version = (SELECT extversion FROM pg_extension WHERE extname = 'pgmlops') AS ext_ok,
	   device, created_by = current_user AS by_me, snapshot_xmin IS NOT NULL AS xmin_set,
	   snapshot_lsn IS NOT NULL AS lsn_set, train_seconds >= 0 AS timed, tune_id,
	   length(data_checksum) AS checksum_len, status
  FROM mlops.model_versions WHERE model = 'tr_auto_km';
SELECT features FROM mlops.model_versions WHERE model = 'tr_auto_km';
-- the same data gives the same checksum, other data another one; the
-- checksum covers the rows read, whatever the split
SELECT version FROM mlops.train('tr_lineage', 'SELECT age, bmi, target FROM diabetes ORDER BY id', 'target');
SELECT version FROM mlops.train('tr_lineage', 'SELECT age, bmi, target FROM diabetes ORDER BY id', 'target',
								 seed => 7, test_fraction => 0.5);
SELECT version FROM mlops.train('tr_lineage', 'SELECT age, bmi, target FROM diabetes WHERE id > 1 ORDER BY id', 'target');
SELECT version, row_count, train_rows, test_rows, seed, test_fraction,
	   data_checksum = first_value(data_checksum) OVER (ORDER BY version) AS same_checksum
  FROM mlops.model_versions WHERE model = 'tr_lineage' ORDER BY version;
-- test_fraction 0: no held-out rows, the metrics are on the training rows
SELECT version, pg_temp.m(metrics)
  FROM mlops.train('tr_lineage', 'SELECT age, bmi, target FROM diabetes ORDER BY id', 'target',
				   test_fraction => 0);
SELECT version, row_count, train_rows, test_rows FROM mlops.model_versions
 WHERE model = 'tr_lineage' AND version = 4;

-- a subset of the columns as features
SELECT version, pg_temp.m(metrics)
  FROM mlops.train('tr_subset', :'diabetes', 'target', features => ARRAY['bmi', 's5'], seed => 42);
SELECT features FROM mlops.model_versions WHERE model = 'tr_subset';
SELECT round(mlops.predict('tr_subset', d)::numeric, 4) FROM diabetes d WHERE id = 1;
-- a column of an unsupported type is fine when it is not a feature
CREATE TABLE tr_dates AS SELECT id, age, date '2020-01-01' + id AS d, target FROM diabetes;
SELECT version FROM mlops.train('tr_dates', 'tr_dates', 'target', features => ARRAY['age']);

-- numbers, booleans, text categories, real[] and vector columns, with
-- NULLs; rows whose target is NULL are left out
CREATE TABLE tr_mixed AS
SELECT i AS id,
	   (i % 7) + (i % 3) * 0.5 AS x1,
	   (i % 4)::int AS n2,
	   (ARRAY['red', 'green', 'blue'])[i % 3 + 1] AS color,
	   i % 2 = 0 AS flag,
	   ARRAY[(i % 5)::real, (i % 4)::real] AS arr,
	   format('[%s,%s]', i % 3, i % 2)::vector AS emb,
	   (2.0 * (i % 7) + (ARRAY[5, -3, 0])[i % 3 + 1] + (i % 2) * 1.5 + (i % 5) * 0.25
		- (i % 4) + (i % 3) * 0.5)::float8 AS y
  FROM generate_series(1, 80) i;
UPDATE tr_mixed SET x1 = NULL WHERE id % 10 = 0;
UPDATE tr_mixed SET color = NULL WHERE id % 11 = 0;
UPDATE tr_mixed SET flag = NULL WHERE id % 13 = 0;
UPDATE tr_mixed SET arr = NULL WHERE id % 17 = 0;
UPDATE tr_mixed SET y = NULL WHERE id IN (5, 6);
SELECT version, pg_temp.m(metrics)
  FROM mlops.train('tr_mixed', 'SELECT * FROM tr_mixed ORDER BY id', 'y', 'linear_regression',
				   features => ARRAY['x1', 'n2', 'color', 'flag', 'arr', 'emb'], seed => 1);
SELECT row_count, train_rows, test_rows FROM mlops.model_versions WHERE model = 'tr_mixed';
SELECT f->>'name' AS name, f->>'type' AS type, f->>'kind' AS kind, f->>'width' AS width
  FROM mlops.model_versions, jsonb_array_elements(features) f WHERE model = 'tr_mixed';
-- the learned preprocessing: categories, and the training means that
-- impute NULLs
SELECT c->>'name' AS name, c->>'kind' AS kind, c->'categories' AS categories,
	   (SELECT array_agg(round(x::numeric, 4)) FROM jsonb_array_elements_text(c->'impute') x) AS impute
  FROM mlops.model_versions, jsonb_array_elements(preprocessing->'columns') c
 WHERE model = 'tr_mixed';
SELECT preprocessing->'n_features' AS n_features, preprocessing->'standardize' AS standardize
  FROM mlops.model_versions WHERE model = 'tr_mixed';
-- a NULL input predicts as its imputed value
SELECT round(mlops.predict('tr_mixed', ROW(NULL::float8, 1, 'red'::text, true, NULL::real[], '[1,0]'::vector))::numeric, 6)
	 = round(mlops.predict('tr_mixed', ROW(
		 (SELECT (c->'impute'->>0)::float8 FROM mlops.model_versions, jsonb_array_elements(preprocessing->'columns') c
		   WHERE model = 'tr_mixed' AND c->>'name' = 'x1'),
		 1, 'red'::text, true,
		 (SELECT ARRAY[(c->'impute'->>0)::real, (c->'impute'->>1)::real]
			FROM mlops.model_versions, jsonb_array_elements(preprocessing->'columns') c
		   WHERE model = 'tr_mixed' AND c->>'name' = 'arr'),
		 '[1,0]'::vector))::numeric, 6) AS imputed_alike;
-- XGBoost and logistic regression take the same mixed columns
SELECT version, pg_temp.m(metrics)
  FROM mlops.train('tr_mixed_xgb', 'SELECT * FROM tr_mixed ORDER BY id', 'y', 'xgboost',
				   '{"n_estimators": 20, "nthread": 1}',
				   features => ARRAY['x1', 'n2', 'color', 'flag', 'arr', 'emb'], seed => 1);
SELECT version, pg_temp.m(metrics)
  FROM mlops.train('tr_mixed_cls', 'SELECT x1, n2, arr, emb, color FROM tr_mixed WHERE color IS NOT NULL ORDER BY id',
				   'color', 'logistic_regression', seed => 1);
SELECT classes, target_type FROM mlops.model_versions WHERE model = 'tr_mixed_cls';

-- search: grid over C with 3-fold cross-validation
SELECT model, version, hyperparams, round(cv_score::numeric, 4) AS cv_score, pg_temp.m(metrics)
  FROM mlops.tune('tr_tune', :'iris', 'species', 'logistic_regression', '{"C": [0.01, 0.1, 1, 10]}',
				  folds => 3, seed => 42);
SELECT candidate, hyperparams->'C' AS c, round(score::numeric, 4) AS score,
	   round(score_std::numeric, 4) AS score_std, jsonb_array_length(cv_metrics->'folds') AS folds,
	   cv_metrics->>'key_metric' AS key_metric, chosen
  FROM mlops.tune_candidates
 WHERE tune_id = (SELECT tune_id FROM mlops.model_versions WHERE model = 'tr_tune' AND version = 1)
 ORDER BY candidate;
-- the version names its search; the chosen candidate's hyperparameters
-- are the version's
SELECT v.version, c.candidate, c.hyperparams = v.hyperparams AS same_params
  FROM mlops.model_versions v JOIN mlops.tune_candidates c ON c.tune_id = v.tune_id AND c.chosen
 WHERE v.model = 'tr_tune';
-- random search: ranges (integer, log scale) and lists, n_iter draws
SELECT model, version, round(cv_score::numeric, 4) AS cv_score
  FROM mlops.tune('tr_tune', :'iris', 'species', 'xgboost',
				  '{"max_depth": {"min": 1, "max": 4}, "learning_rate": {"min": 0.05, "max": 0.5, "log": true},
					"n_estimators": [5, 10], "nthread": [1]}',
				  search => 'random', n_iter => 3, folds => 3, seed => 42);
SELECT count(*) AS candidates, count(*) FILTER (WHERE chosen) AS chosen,
	   bool_and((hyperparams->>'max_depth')::int BETWEEN 1 AND 4) AS depth_in_range,
	   bool_and((hyperparams->>'learning_rate')::float8 BETWEEN 0.05 AND 0.5) AS rate_in_range,
	   bool_and(hyperparams->>'n_estimators' IN ('5', '10')) AS listed
  FROM mlops.tune_candidates
 WHERE tune_id = (SELECT tune_id FROM mlops.model_versions WHERE model = 'tr_tune' AND version = 2);
SELECT count(DISTINCT tune_id) AS searches FROM mlops.model_versions WHERE model = 'tr_tune';
-- bad searches
SELECT * FROM mlops.tune('tr_tune', :'iris', 'species', 'xgboost', '{"max_depth": {"min": 1, "max": 4}}');
SELECT * FROM mlops.tune('tr_tune', :'iris', 'species', 'xgboost', '{"max_depth": [2]}', search => 'bayes');
SELECT * FROM mlops.tune('tr_tune', :'iris', 'species', 'xgboost', '{"max_depth": [2]}', folds => 1);
SELECT * FROM mlops.tune('tr_tune', :'iris', 'species', 'xgboost', '{}');
SELECT * FROM mlops.tune('tr_tune', :'iris', 'species', 'xgboost', '{"depth": [2]}');

-- bad input: a clear error, and nothing registered
SELECT count(*) AS versions_before FROM mlops.model_versions \gset
SELECT count(*) AS models_before FROM mlops.models \gset
SELECT mlops.predict('tr_nosuch', ARRAY[1, 2]::real[]);
SELECT mlops.predict('tr_diabetes@99', d) FROM diabetes d WHERE id = 1;
SELECT * FROM mlops.train('tr_bad', 'diabetes', 'nosuch');
SELECT * FROM mlops.train('tr_bad', 'diabetes', 'target', features => ARRAY['age', 'nosuch']);
SELECT * FROM mlops.train('tr_bad', 'diabetes', 'target', features => ARRAY['age', 'target']);
SELECT * FROM mlops.train('tr_bad', 'diabetes', 'target', features => ARRAY['age', 'age']);
SELECT * FROM mlops.train('tr_bad', 'tr_nosuch_table', 'target');
CREATE TABLE tr_text_target AS
SELECT id, age, bmi, CASE WHEN target > 150 THEN 'high' ELSE 'low' END AS t FROM diabetes;
SELECT * FROM mlops.train('tr_bad', 'tr_text_target', 't', 'linear_regression');
SELECT * FROM mlops.train('tr_bad', 'tr_text_target', 't', task => 'regression');
SELECT * FROM mlops.train('tr_bad', 'SELECT * FROM iris WHERE species = 1', 'species', 'logistic_regression');
SELECT * FROM mlops.train('tr_bad', 'SELECT * FROM iris WHERE false', 'species');
CREATE TABLE tr_empty (a float8, b float8);
SELECT * FROM mlops.train('tr_bad', 'tr_empty', 'b', 'linear_regression');
SELECT * FROM mlops.train('tr_bad', 'SELECT age, NULL::float8 AS y FROM diabetes', 'y', 'linear_regression');
SELECT * FROM mlops.train('tr_bad', 'diabetes', 'target', 'random_forest');
SELECT * FROM mlops.train('tr_bad', 'diabetes', 'target', 'kmeans');
SELECT * FROM mlops.train('tr_bad', 'diabetes', 'target', 'lasso', '{"alpha": 0.1, "foo": 1}');
SELECT * FROM mlops.train('tr_bad', 'diabetes', 'target', 'lasso', '{"seed": 1}');
SELECT * FROM mlops.train('tr_bad', 'diabetes', 'target', 'lasso', '{"alpha": -1}');
SELECT * FROM mlops.train('tr_bad', 'diabetes', 'target', 'lasso', '{"alpha": "big"}');
SELECT * FROM mlops.train('tr_bad', 'diabetes', 'target', 'xgboost', '{"tree_method": "magic"}');
SELECT * FROM mlops.train('tr_bad', 'diabetes', 'target', 'lasso', '[1]');
SELECT * FROM mlops.train('tr_bad', 'diabetes', 'target', test_fraction => 1);
SELECT * FROM mlops.train('tr_bad', 'diabetes', 'target', test_fraction => -0.1);
SELECT * FROM mlops.train('tr_bad', 'diabetes', NULL, task => 'regression');
SELECT * FROM mlops.train('tr_bad', 'diabetes', 'target', task => 'clustering');
SELECT * FROM mlops.train('tr_bad', 'diabetes', 'target', task => 'ranking');
SELECT * FROM mlops.train('tr_bad@2', 'diabetes', 'target');
SELECT * FROM mlops.train(NULL, 'diabetes', 'target');
SELECT * FROM mlops.train('tr_diabetes', 'SELECT * FROM iris', 'species', 'logistic_regression');
SELECT * FROM mlops.train('tr_bad', 'tr_dates', 'target');
-- a training set over mlops.train_memory_limit is refused
SET mlops.train_memory_limit = 1024;
SHOW mlops.train_memory_limit;
SELECT * FROM mlops.train('tr_bad', 'SELECT i::float8 AS a, (i % 7)::float8 AS b FROM generate_series(1, 200000) i',
						  'b', 'linear_regression');
RESET mlops.train_memory_limit;
SELECT count(*) - :versions_before AS new_versions, (SELECT count(*) FROM mlops.models) - :models_before AS new_models
  FROM mlops.model_versions;
SELECT * FROM mlops.training_progress;

DROP TABLE tr_mixed, tr_text_target, tr_empty, tr_dates;
