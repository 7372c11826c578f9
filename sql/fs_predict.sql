-- prediction by entity key: a model trained on a training set reads the
-- features it was trained on from the online store
SET client_min_messages = warning;
\set VERBOSITY terse
CREATE TABLE fp_orders (customer_id int, ts timestamptz, amount float8, items int);
-- customers 1..40: amount grows with the id; the label is id > 20
INSERT INTO fp_orders
SELECT c, now() - interval '3 days' + (k || ' hours')::interval, c * 10 + k, c % 5
  FROM generate_series(1, 40) c, generate_series(0, 2) k;
-- the entity table has a column named like a feature: the training set
-- names that feature fp_spend__amount
CREATE TABLE fp_events AS
SELECT c AS customer_id, now() - interval '1 hour' AS event_timestamp, c > 20 AS big, c AS amount
  FROM generate_series(1, 40) c;
SELECT mlops.create_entity('fp_customer', ARRAY['customer_id']);
SELECT mlops.create_feature_view('fp_spend', 'fp_customer', 'fp_orders', 'ts', ARRAY['amount', 'items']);
SELECT mlops.create_training_set('fp_train', 'fp_events', ARRAY['fp_spend:*']);
SELECT column_name FROM information_schema.columns WHERE table_name = 'fp_train' ORDER BY ordinal_position;
-- without features =>, a training set's feature columns are the features
SELECT model, version FROM mlops.train('fp_model', 'fp_train', 'big', 'logistic_regression', test_fraction => 0);
SELECT features->0->>'name' AS f1, features->1->>'name' AS f2, training_set, online_features
  FROM mlops.model_versions WHERE model = 'fp_model';
SELECT mlops.materialize('fp_spend', '-infinity', now()) > 0 AS materialized;
SELECT mlops.predict('fp_model', entity => '{"customer_id": 3}') AS small,
	   mlops.predict('fp_model', entity => '{"customer_id": 38}') AS big,
	   mlops.predict_label('fp_model', entity => '{"customer_id": 38}') AS label,
	   array_length(mlops.predict_proba('fp_model', entity => '{"customer_id": 38}'), 1) AS classes;
-- the same as passing the online values by hand
SELECT mlops.predict('fp_model', entity => '{"customer_id": 38}') =
	   mlops.predict('fp_model', (SELECT jsonb_build_object('fp_spend__amount', amount, 'items', items)
								  FROM mlops_online.fp_spend_v1 WHERE customer_id = 38)) AS same;
-- an unknown customer has no online row: its features are imputed
SELECT mlops.predict('fp_model', entity => '{"customer_id": 999}') IS NOT NULL AS imputed;
-- bad calls
SELECT mlops.predict('fp_model', '{"items": 1}'::jsonb, entity => '{"customer_id": 3}');
SELECT mlops.predict('fp_model', entity => '[{"customer_id": 3}]');
SELECT mlops.predict('fp_model', entity => '{"id": 3}');
SELECT model FROM mlops.train('fp_plain', 'SELECT amount, items, items > 2 AS y FROM fp_orders', 'y', 'logistic_regression');
SELECT mlops.predict('fp_plain', entity => '{"customer_id": 3}');
SELECT mlops.predict(NULL, entity => '{"customer_id": 3}') IS NULL AS null_model,
	   mlops.predict('fp_model', NULL::jsonb) IS NULL AS null_features;
-- a function a view uses that turns volatile later is refused when it runs
CREATE FUNCTION fp_double(x float8) RETURNS float8 LANGUAGE sql IMMUTABLE RETURN x * 2;
SELECT mlops.create_feature_view('fp_doubled', 'fp_customer', 'fp_orders', 'ts', ARRAY['fp_double(amount) AS doubled']);
ALTER FUNCTION fp_double(float8) VOLATILE;
SELECT mlops.materialize('fp_doubled', '-infinity', now());
SELECT * FROM mlops.get_historical_features('fp_events', ARRAY['fp_doubled:doubled'])
	AS t(customer_id int, event_timestamp timestamptz, big bool, amount int, doubled float8);
SELECT mlops.compute_feature_stats('fp_doubled');
DROP TABLE fp_orders, fp_events, fp_train;
DROP FUNCTION fp_double(float8);
