-- The model registry: version numbers, immutable versions, aliases,
-- deploy (latest, specific, best), rollback, delete_version, the views,
-- model references in predict (name, name@N, name@alias), the per-session
-- cache following alias moves, and the mlops_user / mlops_admin roles.
\i test/data/ml/data.sql
\set SHOW_CONTEXT never
-- three diabetes models of known quality (held-out r2: bmi alone < all
-- ten features; age alone is worst)
\set all_src 'SELECT age, sex, bmi, bp, s1, s2, s3, s4, s5, s6, target FROM diabetes ORDER BY id'
SELECT model, version, round((metrics->>'r2')::numeric, 4) AS r2
  FROM mlops.train('reg_m', :'all_src', 'target', features => ARRAY['bmi'], seed => 42);
-- the first version is deployed to production
SELECT alias, version FROM mlops.model_aliases WHERE model = 'reg_m';
SELECT model, version, round((metrics->>'r2')::numeric, 4) AS r2
  FROM mlops.train('reg_m', :'all_src', 'target', seed => 42);
SELECT model, version, round((metrics->>'r2')::numeric, 4) AS r2
  FROM mlops.train('reg_m', :'all_src', 'target', features => ARRAY['age'], seed => 42);
-- later ones are not
SELECT alias, version FROM mlops.model_aliases WHERE model = 'reg_m';
-- a row to predict on, and the prediction of each version
CREATE TABLE reg_row AS SELECT age, sex, bmi, bp, s1, s2, s3, s4, s5, s6 FROM diabetes WHERE id = 1;
SELECT v, round(mlops.predict('reg_m@' || v, r)::numeric, 4) AS prediction
  FROM reg_row r, generate_series(1, 3) v ORDER BY v;

-- version numbers are monotonic and never reused
SELECT mlops.delete_version('reg_m', 3);
SELECT version FROM mlops.train('reg_m', :'all_src', 'target', features => ARRAY['age'], seed => 42);
SELECT array_agg(version ORDER BY version) AS versions FROM mlops.model_versions WHERE model = 'reg_m';
SELECT name, task, versions, latest_version, production_version FROM mlops.model_list WHERE name = 'reg_m';
SELECT mlops.predict('reg_m@3', r) FROM reg_row r;
SELECT mlops.delete_version('reg_m', 3);
SELECT mlops.delete_version('reg_nosuch', 1);

-- versions are immutable; only their status changes
UPDATE mlops.model_versions SET artifact = '\x00' WHERE model = 'reg_m' AND version = 1;
UPDATE mlops.model_versions SET metrics = '{"r2": 1}' WHERE model = 'reg_m' AND version = 1;
UPDATE mlops.model_versions SET version = 9 WHERE model = 'reg_m' AND version = 1;
UPDATE mlops.model_versions SET status = 'archived' WHERE model = 'reg_m' AND version = 4;
\set VERBOSITY terse
UPDATE mlops.model_versions SET status = 'gone' WHERE model = 'reg_m' AND version = 4;
\set VERBOSITY default
SELECT version, status FROM mlops.model_versions WHERE model = 'reg_m' ORDER BY version;
UPDATE mlops.model_versions SET status = 'ready' WHERE model = 'reg_m' AND version = 4;

-- aliases: set_alias, and references name, name@N, name@alias
SELECT mlops.set_alias('reg_m', 'staging', 2);
SELECT round(mlops.predict('reg_m', r)::numeric, 4) AS production,
	   round(mlops.predict('reg_m@production', r)::numeric, 4) AS at_production,
	   round(mlops.predict('reg_m@staging', r)::numeric, 4) AS at_staging,
	   round(mlops.predict('reg_m@2', r)::numeric, 4) AS at_2
  FROM reg_row r;
SELECT * FROM mlops.resolve_model('reg_m');
SELECT * FROM mlops.resolve_model('reg_m@staging');
SELECT * FROM mlops.resolve_model('reg_m@4');
SELECT mlops.predict('reg_m@canary', r) FROM reg_row r;
SELECT mlops.predict('reg_nosuch@1', r) FROM reg_row r;
SELECT mlops.set_alias('reg_m', 'staging', 3);
SELECT mlops.set_alias('reg_nosuch', 'staging', 1);
\set VERBOSITY terse
SELECT mlops.set_alias('reg_m', 'not an alias', 1);
\set VERBOSITY default
-- a model without a production alias
SELECT mlops.create_model('reg_empty', 'regression', 'no versions yet');
SELECT mlops.create_model('reg_empty2', 'ranking');
SELECT mlops.predict('reg_empty', r) FROM reg_row r;
SELECT mlops.deploy('reg_empty');
SELECT mlops.rollback('reg_empty');

-- deploy: the latest version by default, or a given one; in the same
-- session the next prediction uses it
SELECT mlops.deploy('reg_m');
SELECT round(mlops.predict('reg_m', r)::numeric, 4) FROM reg_row r;
SELECT mlops.deploy('reg_m', 2);
SELECT round(mlops.predict('reg_m', r)::numeric, 4) FROM reg_row r;
SELECT mlops.deploy('reg_m', 3);
SELECT mlops.deploy('reg_nosuch');
SELECT mlops.deploy('reg_m', 1, strategy => 'newest');
SELECT mlops.deploy('reg_m', 1, alias => NULL);
-- a deployment rolled back with its transaction is not seen
BEGIN;
SELECT mlops.deploy('reg_m', 1);
SELECT round(mlops.predict('reg_m', r)::numeric, 4) FROM reg_row r;
ROLLBACK;
SELECT round(mlops.predict('reg_m', r)::numeric, 4) FROM reg_row r;

-- deploy strategy 'best': only when the key metric (r2 here) beats the
-- deployed version's
SELECT key_metric, version, round(key_metric_value::numeric, 4) AS r2
  FROM mlops.version_list WHERE model = 'reg_m' ORDER BY version;
SELECT mlops.deploy('reg_m', 1, strategy => 'best');
SELECT mlops.deploy('reg_m', 4, strategy => 'best');
SELECT alias, version FROM mlops.model_aliases WHERE model = 'reg_m' AND alias = 'production';
-- an alias nobody holds yet takes any version
SELECT mlops.deploy('reg_m', 4, alias => 'champion', strategy => 'best');
SELECT mlops.deploy('reg_m', 2, alias => 'champion', strategy => 'best');
SELECT mlops.deploy('reg_m', 1, alias => 'champion', strategy => 'best');
SELECT alias, version FROM mlops.model_aliases WHERE model = 'reg_m' ORDER BY alias;

-- rollback: the alias's moves form a stack; each rollback undoes one
SELECT version FROM mlops.train('reg_r', :'all_src', 'target', features => ARRAY['bmi']);
SELECT version FROM mlops.train('reg_r', :'all_src', 'target', features => ARRAY['bmi', 's5']);
SELECT version FROM mlops.train('reg_r', :'all_src', 'target');
SELECT mlops.deploy('reg_r', 2);
SELECT mlops.deploy('reg_r');
SELECT mlops.predict('reg_r', r) = mlops.predict('reg_r@3', r) AS uses_3 FROM reg_row r;
SELECT mlops.rollback('reg_r');
SELECT mlops.predict('reg_r', r) = mlops.predict('reg_r@2', r) AS uses_2 FROM reg_row r;
SELECT mlops.rollback('reg_r');
SELECT mlops.predict('reg_r', r) = mlops.predict('reg_r@1', r) AS uses_1 FROM reg_row r;
SELECT mlops.rollback('reg_r');
SELECT alias, version FROM mlops.model_aliases WHERE model = 'reg_r';
-- deploying again pushes onto what is left
SELECT mlops.deploy('reg_r', 3);
SELECT mlops.rollback('reg_r');
SELECT mlops.rollback('reg_r');
-- reg_m's production went 1, 4, 2 and champion 4, 2
SELECT mlops.rollback('reg_m');
SELECT mlops.rollback('reg_m');
SELECT mlops.rollback('reg_m');
SELECT mlops.rollback('reg_m', 'champion');
SELECT mlops.rollback('reg_m', 'champion');
SELECT mlops.rollback('reg_m', 'canary');
SELECT mlops.rollback('reg_nosuch');
SELECT alias, version FROM mlops.model_aliases WHERE model = 'reg_m' ORDER BY alias;
-- a version deleted since is skipped, and stays skipped
SELECT version FROM mlops.train('reg_d', :'all_src', 'target', features => ARRAY['bmi']);
SELECT version FROM mlops.train('reg_d', :'all_src', 'target', features => ARRAY['bmi', 's5']);
SELECT version FROM mlops.train('reg_d', :'all_src', 'target');
SELECT mlops.deploy('reg_d', 2);
SELECT mlops.deploy('reg_d', 3);
SELECT mlops.delete_version('reg_d', 2);
SELECT mlops.rollback('reg_d');
SELECT mlops.rollback('reg_d');
SELECT alias, version FROM mlops.model_aliases WHERE model = 'reg_d';

-- delete_version refuses a version an alias names
SELECT alias, version FROM mlops.model_aliases WHERE model = 'reg_m' ORDER BY alias;
SELECT mlops.delete_version('reg_m', 1);
SELECT mlops.delete_version('reg_m', 2);
SELECT count(*) FROM mlops.model_versions WHERE model = 'reg_m';

-- the views
SELECT name, task, description, owner = current_user AS mine, versions, latest_version, production_version
  FROM mlops.model_list WHERE name LIKE 'reg\_%' ORDER BY name;
SELECT model, version, algorithm, status, key_metric, round(key_metric_value::numeric, 4) AS value,
	   aliases, row_count, device, created_by = current_user AS mine
  FROM mlops.version_list WHERE model LIKE 'reg\_%' ORDER BY model, version;
SELECT model, alias, from_version, to_version, action, moved_by = session_user AS by_me
  FROM mlops.deployment_history WHERE model LIKE 'reg\_%' ORDER BY moved_at, model, alias;

-- prediction through an alias is STABLE, training and deployment VOLATILE
SELECT proname, array_agg(DISTINCT provolatile) AS volatility
  FROM pg_proc WHERE pronamespace = 'mlops'::regnamespace
   AND proname IN ('predict', 'predict_label', 'predict_proba', 'predict_batch', 'resolve_model',
				   'train', 'tune', 'deploy', 'rollback', 'set_alias', 'delete_version')
 GROUP BY proname ORDER BY proname;

-- roles: mlops_user reads and predicts; mlops_admin also trains and
-- deploys, but reads sources with its own privileges
SET client_min_messages = warning;
DROP ROLE IF EXISTS regress_ml_user, regress_ml_admin;
RESET client_min_messages;
CREATE ROLE regress_ml_user;
CREATE ROLE regress_ml_admin;
GRANT mlops_user TO regress_ml_user;
GRANT mlops_admin TO regress_ml_admin;
CREATE TABLE reg_secret AS SELECT age, bmi, target FROM diabetes;
CREATE TABLE reg_open AS SELECT age, bmi, target FROM diabetes;
GRANT SELECT ON reg_row, reg_open TO regress_ml_user, regress_ml_admin;
SET ROLE regress_ml_user;
SELECT * FROM mlops.train('reg_u', 'reg_open', 'target');
SELECT * FROM mlops.tune('reg_u', 'reg_open', 'target', 'lasso', '{"alpha": [1]}');
SELECT mlops.deploy('reg_m', 1);
SELECT mlops.rollback('reg_m');
SELECT mlops.set_alias('reg_m', 'staging', 1);
SELECT mlops.delete_version('reg_m', 4);
SELECT mlops.create_model('reg_u', 'regression');
INSERT INTO mlops.model_aliases (model, alias, version) VALUES ('reg_m', 'mine', 1);
UPDATE mlops.model_aliases SET version = 1 WHERE model = 'reg_m';
DELETE FROM mlops.model_versions WHERE model = 'reg_m';
SELECT round(mlops.predict('reg_m', r)::numeric, 4) FROM reg_row r;
SELECT round(mlops.predict('reg_m@staging', r)::numeric, 4) FROM reg_row r;
SELECT count(*) > 0 AS reads_models FROM mlops.model_list;
SELECT count(*) > 0 AS reads_versions FROM mlops.version_list;
SELECT count(*) > 0 AS reads_history FROM mlops.deployment_history;
SELECT * FROM mlops.training_progress;
RESET ROLE;
SET ROLE regress_ml_admin;
SELECT * FROM mlops.train('reg_a', 'reg_secret', 'target');
SELECT * FROM mlops.train('reg_a', 'SELECT * FROM reg_secret', 'target');
SELECT * FROM mlops.tune('reg_a', 'reg_secret', 'target', 'lasso', '{"alpha": [1]}');
SELECT * FROM mlops.predict_batch('reg_m', 'reg_secret');
SELECT model, version FROM mlops.train('reg_a', 'reg_open', 'target');
SELECT mlops.deploy('reg_m', 2);
SELECT mlops.rollback('reg_m');
SELECT mlops.set_alias('reg_a', 'staging', 1);
SELECT mlops.delete_version('reg_m', 4);
INSERT INTO mlops.model_aliases (model, alias, version) VALUES ('reg_m', 'mine', 1);
SELECT * FROM mlops.training_progress;
RESET ROLE;
SELECT name, owner FROM mlops.models WHERE name = 'reg_a';
SELECT model, version, created_by FROM mlops.model_versions WHERE model = 'reg_a';
SELECT model, alias, to_version, action FROM mlops.deployment_history WHERE model = 'reg_a' ORDER BY moved_at;

-- registry rows come only from training: no direct writes, even for admins
SET ROLE regress_ml_admin;
INSERT INTO mlops.model_versions (model, version, algorithm, hyperparams, preprocessing, features,
	metrics, artifact, source, row_count, train_rows, test_rows, data_checksum, seed,
	test_fraction, extension_version, device, train_seconds)
SELECT model, 99, algorithm, hyperparams, preprocessing, features, metrics, artifact, source,
	row_count, train_rows, test_rows, data_checksum, seed, test_fraction, extension_version,
	device, train_seconds FROM mlops.model_versions WHERE model = 'reg_a' AND version = 1;
UPDATE mlops.models SET last_version = 0 WHERE name = 'reg_a';
RESET ROLE;
-- a role outside mlops_user cannot predict, even after others did in this session
CREATE ROLE regress_ml_nobody;
SELECT round(mlops.predict('reg_m', r)::numeric, 4) IS NOT NULL AS predicted FROM reg_row r;
SET ROLE regress_ml_nobody;
SELECT mlops.predict('reg_m', '{}'::jsonb);
SELECT * FROM mlops.training_progress();
RESET ROLE;
DROP ROLE regress_ml_nobody;
-- a source is one SELECT: no statement can be appended
SELECT * FROM mlops.predict_batch('reg_m', $$SELECT 1 AS x) AS s; SELECT 12345::int8; SELECT 1 AS x FROM (SELECT 1$$);
SELECT * FROM mlops.predict_batch('reg_m', $$SELECT 1 AS x; SELECT 2 AS x$$);
SELECT * FROM mlops.train('reg_inj', $$SELECT 1 AS x, 2 AS target) s; DROP TABLE reg_row; SELECT 1 AS x, 2 AS target FROM (SELECT 1$$, 'target');
SELECT count(*) AS reg_row_still_there FROM reg_row;
-- archived versions cannot be deployed; deploy checks the version first
SELECT mlops.set_version_status('reg_a', 1, 'archived');
SELECT mlops.deploy('reg_a', 1, 'canary');
SELECT mlops.set_version_status('reg_a', 1, 'ready');
SELECT mlops.deploy('reg_a', 999, strategy => 'best');
SELECT mlops.predict('reg_a@99999999999', r) FROM reg_row r;

DROP TABLE reg_row, reg_secret, reg_open;
DROP ROLE regress_ml_user, regress_ml_admin;
