-- mlops.predict, predict_label, predict_proba and predict_batch: every
-- input form (row by name, anonymous ROW() by position, real[], float8[],
-- vector, jsonb), class labels, probabilities, per-row results equal to
-- the batch ones, unseen categories, and arity and type mismatches.
\i test/data/ml/data.sql
\set SHOW_CONTEXT never
-- models: numeric class labels, text class labels, regression, mixed
-- feature types, clustering, XGBoost
SELECT model, version, (metrics->>'accuracy')::numeric(6, 4) AS accuracy
  FROM mlops.train('pr_iris', 'SELECT sepal_length, sepal_width, petal_length, petal_width, species FROM iris ORDER BY id',
				   'species', 'logistic_regression', seed => 42);
CREATE TABLE pr_iris_text AS
SELECT id, sepal_length, sepal_width, petal_length, petal_width,
	   (ARRAY['setosa', 'versicolor', 'virginica'])[species + 1] AS species
  FROM iris ORDER BY id;
SELECT model, version, (metrics->>'accuracy')::numeric(6, 4) AS accuracy
  FROM mlops.train('pr_species', 'pr_iris_text', 'species', 'logistic_regression',
				   features => ARRAY['sepal_length', 'sepal_width', 'petal_length', 'petal_width'], seed => 42);
SELECT model, version, (metrics->>'r2')::numeric(6, 4) AS r2
  FROM mlops.train('pr_diab', 'SELECT age, sex, bmi, bp, s1, s2, s3, s4, s5, s6, target FROM diabetes ORDER BY id',
				   'target', seed => 42);
SELECT model, version, (metrics->>'accuracy')::numeric(6, 4) AS accuracy
  FROM mlops.train('pr_bc_xgb', 'breast_cancer', 'target', 'xgboost', '{"n_estimators": 20, "nthread": 1}',
				   features => ARRAY['mean_radius', 'mean_texture', 'worst_area', 'worst_concave_points'], seed => 42);
SELECT model, version
  FROM mlops.train('pr_wine_xgb', 'SELECT alcohol, flavanoids, color_intensity, proline, "class" FROM wine ORDER BY id',
				   'class', 'xgboost', '{"n_estimators": 20, "max_depth": 3, "nthread": 1}', seed => 42);
SELECT model, version
  FROM mlops.train('pr_km', 'SELECT petal_length, petal_width FROM iris ORDER BY id', NULL, 'kmeans',
				   '{"n_clusters": 3}', seed => 42);
CREATE TABLE pr_mixed AS
SELECT i AS id,
	   (i % 7) * 1.5 AS x,
	   (ARRAY['red', 'green', 'blue'])[i % 3 + 1] AS color,
	   i % 2 = 0 AS flag,
	   ARRAY[(i % 5)::real, (i % 4)::real] AS arr,
	   format('[%s,%s]', i % 3, i % 2)::vector AS emb,
	   (3.0 * (i % 7) + (ARRAY[4, -2, 1])[i % 3 + 1] + (i % 2) * 2 + (i % 5) - 0.5 * (i % 4)
		+ (i % 3) - (i % 2))::float8 AS y
  FROM generate_series(1, 90) i;
UPDATE pr_mixed SET x = NULL WHERE id % 10 = 0;
UPDATE pr_mixed SET color = NULL WHERE id % 11 = 0;
SELECT model, version, (metrics->>'r2')::numeric(6, 4) AS r2
  FROM mlops.train('pr_mixed', 'SELECT * FROM pr_mixed ORDER BY id', 'y', 'linear_regression',
				   features => ARRAY['x', 'color', 'flag', 'arr', 'emb'], seed => 42);
SELECT model, version
  FROM mlops.train('pr_numvec', 'SELECT arr, emb, y FROM pr_mixed ORDER BY id', 'y', 'linear_regression', seed => 42);

-- a row: columns matched by name, others ignored
SELECT id, species, mlops.predict('pr_iris', i) AS prediction, mlops.predict_label('pr_iris', i) AS label
  FROM iris i WHERE id IN (1, 51, 101, 120, 134) ORDER BY id;
SELECT id, species, mlops.predict_label('pr_species', i) AS label
  FROM pr_iris_text i WHERE id IN (1, 51, 101, 120, 134) ORDER BY id;
-- columns in another order
SELECT mlops.predict_label('pr_species', r)
  FROM (SELECT petal_width, petal_length, 'x' AS note, sepal_width, sepal_length FROM iris WHERE id = 51) r;
-- an anonymous ROW() by position, arrays, a vector and jsonb agree
SELECT mlops.predict('pr_iris', ROW(6.3, 3.3, 6.0, 2.5)) AS by_row,
	   mlops.predict('pr_iris', ARRAY[6.3, 3.3, 6.0, 2.5]::real[]) AS by_real,
	   mlops.predict('pr_iris', ARRAY[6.3, 3.3, 6.0, 2.5]::float8[]) AS by_float8,
	   mlops.predict('pr_iris', '[6.3, 3.3, 6.0, 2.5]'::vector) AS by_vector,
	   mlops.predict('pr_iris', '{"sepal_length": 6.3, "sepal_width": 3.3, "petal_length": 6.0, "petal_width": 2.5}'::jsonb) AS by_jsonb;
SELECT round(mlops.predict('pr_diab', d)::numeric, 4) AS by_row,
	   round(mlops.predict('pr_diab', ROW(d.age, d.sex, d.bmi, d.bp, d.s1, d.s2, d.s3, d.s4, d.s5, d.s6))::numeric, 4) AS by_position,
	   round(mlops.predict('pr_diab', ARRAY[d.age, d.sex, d.bmi, d.bp, d.s1, d.s2, d.s3, d.s4, d.s5, d.s6])::numeric, 4) AS by_float8,
	   round(mlops.predict('pr_diab', to_jsonb(d) - 'id' - 'target')::numeric, 4) AS by_jsonb
  FROM diabetes d WHERE id = 1;
-- integer and numeric columns are numbers too
SELECT round(mlops.predict('pr_diab', ROW(59, 2, 32.1, 101, 157, 93.2, 38, 4, 4.8598, 87))::numeric, 4) AS mixed_types;
SELECT mlops.predict_label('pr_species', '{"sepal_length": 6.3, "sepal_width": 3.3, "petal_length": 6.0, "petal_width": 2.5}'::jsonb);
SELECT mlops.predict_label('pr_species', ARRAY[6.3, 3.3, 6.0, 2.5]::real[]) AS from_real,
	   mlops.predict_label('pr_species', ARRAY[6.3, 3.3, 6.0, 2.5]::float8[]) AS from_float8,
	   mlops.predict_label('pr_species', '[6.3, 3.3, 6.0, 2.5]'::vector) AS from_vector;

-- probabilities: one per class in the version's order, summing to 1, the
-- largest one the predicted class
SELECT classes FROM mlops.model_versions WHERE model IN ('pr_iris', 'pr_species', 'pr_bc_xgb') ORDER BY model;
SELECT id, array_length(p, 1) AS n, round((p[1] + p[2] + p[3])::numeric, 12) AS total,
	   array_position(p, (SELECT max(x) FROM unnest(p) x)) - 1 = mlops.predict('pr_iris', i) AS argmax_ok
  FROM iris i, LATERAL (SELECT mlops.predict_proba('pr_iris', i) AS p) s
 WHERE id IN (1, 51, 101, 120, 134) ORDER BY id;
SELECT count(*) AS rows,
	   count(*) FILTER (WHERE abs(p[1] + p[2] + p[3] - 1) < 1e-12) AS sum_to_1,
	   count(*) FILTER (WHERE p[array_position(ARRAY['setosa', 'versicolor', 'virginica'], mlops.predict_label('pr_species', i))]
						  = (SELECT max(x) FROM unnest(p) x)) AS argmax_is_label
  FROM pr_iris_text i, LATERAL (SELECT mlops.predict_proba('pr_species', i) AS p) s;
SELECT count(*) FILTER (WHERE abs(p[1] + p[2] - 1) < 1e-6) AS binary_sum_to_1, count(*) AS rows
  FROM breast_cancer b, LATERAL (SELECT mlops.predict_proba('pr_bc_xgb', b) AS p) s;
SELECT count(*) FILTER (WHERE abs(p[1] + p[2] + p[3] - 1) < 1e-6) AS multiclass_sum_to_1, count(*) AS rows
  FROM wine w, LATERAL (SELECT mlops.predict_proba('pr_wine_xgb', w) AS p) s;
SELECT round((p[1] + p[2] + p[3])::numeric, 12) AS total
  FROM (SELECT mlops.predict_proba('pr_iris', ARRAY[5.9, 3.0, 5.1, 1.8]::real[]) AS p) s;
SELECT round((p[1] + p[2] + p[3])::numeric, 12) AS total
  FROM (SELECT mlops.predict_proba('pr_iris', '{"sepal_length": 5.9, "sepal_width": 3.0, "petal_length": 5.1, "petal_width": 1.8}'::jsonb) AS p) s;
SELECT mlops.predict_proba('pr_iris', '{"sepal_length": 5.9, "sepal_width": 3.0, "petal_length": 5.1, "petal_width": 1.8}'::jsonb)
	 = mlops.predict_proba('pr_iris', ROW(5.9, 3.0, 5.1, 1.8)) AS same_proba;

-- a model with text labels has no numeric prediction
SELECT mlops.predict('pr_species', i) FROM pr_iris_text i WHERE id = 1;
SELECT mlops.predict('pr_species', '{"sepal_length": 6.3, "sepal_width": 3.3, "petal_length": 6.0, "petal_width": 2.5}'::jsonb);
-- labels and probabilities are for classification
SELECT mlops.predict_label('pr_diab', d) FROM diabetes d WHERE id = 1;
SELECT mlops.predict_proba('pr_diab', d) FROM diabetes d WHERE id = 1;
SELECT mlops.predict_proba('pr_km', ARRAY[1.4, 0.2]::real[]);
-- clustering predicts the cluster
SELECT count(DISTINCT mlops.predict('pr_km', i)) AS clusters,
	   min(mlops.predict('pr_km', i)) AS lo, max(mlops.predict('pr_km', i)) AS hi
  FROM iris i;

-- mixed feature types: a row, jsonb; NULLs are imputed
SELECT round(mlops.predict('pr_mixed', m)::numeric, 4) AS by_row,
	   round(mlops.predict('pr_mixed', ROW(m.x, m.color, m.flag, m.arr, m.emb))::numeric, 4) AS by_position,
	   round(mlops.predict('pr_mixed', jsonb_build_object('x', m.x, 'color', m.color, 'flag', m.flag,
														'arr', m.arr, 'emb', m.emb::real[]))::numeric, 4) AS by_jsonb
  FROM pr_mixed m WHERE id = 7;
SELECT round(mlops.predict('pr_mixed', '{"x": null, "color": null, "flag": null, "arr": null, "emb": null}'::jsonb)::numeric, 4) AS all_null;
-- an unseen category is encoded like a NULL one (every one-hot column 0)
SELECT mlops.predict('pr_mixed', ROW(3.0, 'purple'::text, true, ARRAY[1, 2]::real[], '[1,0]'::vector))
	 = mlops.predict('pr_mixed', ROW(3.0, NULL::text, true, ARRAY[1, 2]::real[], '[1,0]'::vector)) AS unseen_is_null,
	   mlops.predict('pr_mixed', ROW(3.0, 'purple'::text, true, ARRAY[1, 2]::real[], '[1,0]'::vector))
	 <> mlops.predict('pr_mixed', ROW(3.0, 'red'::text, true, ARRAY[1, 2]::real[], '[1,0]'::vector)) AS seen_differs;
SELECT round(mlops.predict('pr_mixed', '{"x": 3, "color": "purple", "flag": true, "arr": [1, 2], "emb": [1, 0]}'::jsonb)::numeric, 4) AS unseen_jsonb;
-- vector and array features, flattened in signature order
SELECT round(mlops.predict('pr_numvec', m)::numeric, 4) AS by_row,
	   round(mlops.predict('pr_numvec', (m.arr || m.emb::real[]))::numeric, 4) AS by_real,
	   round(mlops.predict('pr_numvec', (m.arr || m.emb::real[])::vector)::numeric, 4) AS by_vector
  FROM pr_mixed m WHERE id = 7;
-- other numeric arrays and halfvec columns read like real[] and vector
SELECT round(mlops.predict('pr_numvec', r)::numeric, 4) AS int_array
  FROM (SELECT ARRAY[2, 3] AS arr, '[1,1]'::vector AS emb) r;
SELECT round(mlops.predict('pr_numvec', r)::numeric, 4) AS numeric_array
  FROM (SELECT ARRAY[2, 3]::numeric[] AS arr, '[1,1]'::vector AS emb) r;
SELECT round(mlops.predict('pr_numvec', r)::numeric, 4) AS halfvec
  FROM (SELECT ARRAY[2, 3]::real[] AS arr, '[1,1]'::halfvec AS emb) r;
SELECT round(mlops.predict('pr_numvec', ARRAY[2, 3, 1, 1]::real[])::numeric, 4) AS flat;

-- predict_batch: the row number as id, or id_column's value
SELECT * FROM mlops.predict_batch('pr_species', 'SELECT * FROM pr_iris_text ORDER BY id') LIMIT 3;
SELECT * FROM mlops.predict_batch('pr_species', 'pr_iris_text', 'id') WHERE id::int IN (1, 51, 101) ORDER BY id::int;
SELECT * FROM mlops.predict_batch('pr_iris', 'SELECT * FROM iris WHERE id IN (1, 51, 101) ORDER BY id', 'species');
SELECT id, round(prediction::numeric, 4), label FROM mlops.predict_batch('pr_diab', 'diabetes', 'id') ORDER BY id::int LIMIT 3;
SELECT count(*) FROM mlops.predict_batch('pr_diab', 'SELECT * FROM diabetes WHERE false');
-- every row scores as predict scores it alone
SELECT count(*) AS rows, count(*) FILTER (WHERE b.prediction = mlops.predict('pr_iris', i)
										  AND b.label = mlops.predict_label('pr_iris', i)) AS same
  FROM iris i JOIN mlops.predict_batch('pr_iris', 'iris', 'id') b ON b.id::int = i.id;
SELECT count(*) AS rows, count(*) FILTER (WHERE b.label = mlops.predict_label('pr_species', i)) AS same
  FROM pr_iris_text i JOIN mlops.predict_batch('pr_species', 'pr_iris_text', 'id') b ON b.id::int = i.id;
SELECT count(*) AS rows, count(*) FILTER (WHERE abs(b.prediction - mlops.predict('pr_diab', d)) < 1e-9) AS same
  FROM diabetes d JOIN mlops.predict_batch('pr_diab', 'diabetes', 'id') b ON b.id::int = d.id;
SELECT count(*) AS rows, count(*) FILTER (WHERE abs(b.prediction - mlops.predict('pr_mixed', m)) < 1e-9) AS same
  FROM pr_mixed m JOIN mlops.predict_batch('pr_mixed', 'pr_mixed', 'id') b ON b.id::int = m.id;
SELECT count(*) AS rows, count(*) FILTER (WHERE b.prediction = mlops.predict('pr_km', i)) AS same
  FROM iris i JOIN mlops.predict_batch('pr_km', 'iris', 'id') b ON b.id::int = i.id;
SELECT count(*) AS rows, count(*) FILTER (WHERE b.prediction = mlops.predict('pr_bc_xgb', c)) AS same
  FROM breast_cancer c JOIN mlops.predict_batch('pr_bc_xgb', 'breast_cancer', 'id') b ON b.id::int = c.id;
-- predict_batch needs the model's features in the source, with their types
SELECT * FROM mlops.predict_batch('pr_iris', 'SELECT sepal_length, sepal_width, petal_length FROM iris');
SELECT * FROM mlops.predict_batch('pr_iris', 'SELECT sepal_length, sepal_width, petal_length, petal_width::text FROM iris');
SELECT * FROM mlops.predict_batch('pr_mixed', 'SELECT x, 1 AS color, flag, arr, emb FROM pr_mixed');
SELECT * FROM mlops.predict_batch('pr_nosuch', 'iris');
SELECT * FROM mlops.predict_batch('pr_iris', 'pr_nosuch_table');
SELECT * FROM mlops.predict_batch('pr_iris', NULL);

-- arity and type mismatches
SELECT mlops.predict('pr_iris', ARRAY[6.3, 3.3, 6.0]::real[]);
SELECT mlops.predict('pr_iris', ARRAY[6.3, 3.3, 6.0, 2.5, 1]::float8[]);
SELECT mlops.predict('pr_iris', '[6.3, 3.3, 6.0]'::vector);
SELECT mlops.predict('pr_iris', '{}'::real[]);
SELECT mlops.predict('pr_iris', ARRAY[[6.3, 3.3], [6.0, 2.5]]::real[]);
SELECT mlops.predict('pr_iris', ARRAY[6.3, 3.3, 6.0, NULL]::real[]);
SELECT mlops.predict('pr_iris', ARRAY[6.3, 3.3, 6.0, 'Infinity']::float8[]);
SELECT mlops.predict('pr_iris', ROW(6.3, 3.3, 6.0));
SELECT mlops.predict('pr_iris', ROW(6.3, 3.3, 6.0, 2.5, 1.0));
SELECT mlops.predict('pr_iris', ROW(6.3, 'wide'::text, 6.0, 2.5));
SELECT mlops.predict('pr_iris', ROW(6.3, 3.3, 6.0, ARRAY[2.5]::real[]));
SELECT mlops.predict('pr_iris', ROW(6.3, 3.3, 6.0, date '2020-01-01'));
SELECT mlops.predict('pr_iris', r) FROM (SELECT sepal_length, sepal_width, petal_length FROM iris WHERE id = 1) r;
SELECT mlops.predict('pr_iris', r) FROM (SELECT sepal_length, sepal_width, petal_length, petal_width::text FROM iris WHERE id = 1) r;
SELECT mlops.predict('pr_iris', '{"sepal_length": 6.3, "sepal_width": 3.3, "petal_length": 6.0}'::jsonb);
SELECT mlops.predict('pr_iris', '{"sepal_length": 6.3, "sepal_width": 3.3, "petal_length": 6.0, "petal_width": 2.5, "stem": 1}'::jsonb);
SELECT mlops.predict('pr_iris', '{"sepal_length": 6.3, "sepal_width": "wide", "petal_length": 6.0, "petal_width": 2.5}'::jsonb);
SELECT mlops.predict('pr_iris', '[6.3, 3.3, 6.0, 2.5]'::jsonb);
SELECT mlops.predict('pr_mixed', ARRAY[1, 2, 3, 4, 5, 6, 7]::real[]);
SELECT mlops.predict('pr_mixed', ROW(3.0, 1, true, ARRAY[1, 2]::real[], '[1,0]'::vector));
SELECT mlops.predict('pr_mixed', ROW(3.0, 'red'::text, true, ARRAY[1, 2, 3]::real[], '[1,0]'::vector));
SELECT mlops.predict('pr_mixed', ROW(3.0, 'red'::text, true, ARRAY[1, 2]::real[], '[1,0,1]'::vector));
SELECT mlops.predict('pr_mixed', ROW(3.0, 'red'::text, true, ARRAY[1, NULL]::real[], '[1,0]'::vector));
SELECT mlops.predict('pr_mixed', '{"x": 3, "color": "red", "flag": true, "arr": [1], "emb": [1, 0]}'::jsonb);
SELECT mlops.predict('pr_mixed', '{"x": 3, "color": "red", "flag": true, "arr": [1, "a"], "emb": [1, 0]}'::jsonb);
SELECT mlops.predict('pr_mixed', '{"x": 3, "color": ["red"], "flag": true, "arr": [1, 2], "emb": [1, 0]}'::jsonb);
-- unknown models and versions
SELECT mlops.predict('pr_nosuch', ARRAY[1]::real[]);
SELECT mlops.predict('pr_iris@7', ARRAY[6.3, 3.3, 6.0, 2.5]::real[]);
SELECT mlops.predict('pr_iris@staging', ARRAY[6.3, 3.3, 6.0, 2.5]::real[]);
-- NULL arguments give NULL
SELECT mlops.predict('pr_iris', NULL::real[]) IS NULL AS null_features, mlops.predict(NULL, ARRAY[1]::real[]) IS NULL AS null_model;

DROP TABLE pr_iris_text, pr_mixed;
