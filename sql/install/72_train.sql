-- training and prediction (src/ml/mlsql*.c)
--
-- mlops.train and mlops.tune read their source with the caller's privileges
-- (SECURITY INVOKER, through SPI) and register a new version.  Prediction
-- through an alias is STABLE: the alias may move between statements, and
-- every session sees the move at its next statement.

CREATE FUNCTION mlops.train(model text, source text, target text,
							algorithm text DEFAULT 'auto', hyperparams jsonb DEFAULT '{}',
							features text[] DEFAULT NULL, test_fraction float8 DEFAULT 0.2,
							seed int DEFAULT 0, task text DEFAULT NULL)
	RETURNS TABLE (model text, version int, metrics jsonb)
	AS 'MODULE_PATHNAME', 'ml_train'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION mlops.train(text, text, text, text, jsonb, text[], float8, int, text) IS 'trains a new version of a model on a table, view or query, measures it on a held-out split, registers it, and deploys it when the model had no production version; target NULL for clustering';

CREATE FUNCTION mlops.tune(model text, source text, target text, algorithm text,
						   search_space jsonb, search text DEFAULT 'grid', n_iter int DEFAULT 10,
						   folds int DEFAULT 5, features text[] DEFAULT NULL,
						   test_fraction float8 DEFAULT 0.2, seed int DEFAULT 0, task text DEFAULT NULL)
	RETURNS TABLE (model text, version int, hyperparams jsonb, cv_score float8, metrics jsonb)
	AS 'MODULE_PATHNAME', 'ml_tune'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION mlops.tune(text, text, text, text, jsonb, text, int, int, text[], float8, int, text) IS 'grid or random search over hyperparameters with k-fold cross-validation on the training split; records every candidate in mlops.tune_candidates and registers the best as a new version';

CREATE FUNCTION mlops.predict(model text, features record)
	RETURNS float8
	AS 'MODULE_PATHNAME', 'ml_predict_record'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mlops.predict(text, record) IS 'prediction of a model (name, name@N or name@alias) for a row whose columns are the features, matched by name (by position for an anonymous ROW()): the value (regression), the class label (numeric labels) or the cluster';

CREATE FUNCTION mlops.predict(model text, features real[])
	RETURNS float8
	AS 'MODULE_PATHNAME', 'ml_predict_array'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mlops.predict(text, real[]) IS 'prediction of a model for features given in signature order (vector features expanded); models with categorical features need a row or jsonb';

CREATE FUNCTION mlops.predict(model text, features float8[])
	RETURNS float8
	AS 'MODULE_PATHNAME', 'ml_predict_array'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mlops.predict(text, float8[]) IS 'prediction of a model for features given in signature order (vector features expanded); models with categorical features need a row or jsonb';

CREATE FUNCTION mlops.predict(model text, features vector)
	RETURNS float8
	AS 'MODULE_PATHNAME', 'ml_predict_vector'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mlops.predict(text, vector) IS 'prediction of a model for features given as a vector in signature order';

-- features, or entity => keys: the model's features read from the online
-- store, exactly those of the training set it was trained on
CREATE FUNCTION mlops.predict(model text, features jsonb DEFAULT NULL, entity jsonb DEFAULT NULL)
	RETURNS float8
	AS 'MODULE_PATHNAME', 'ml_predict_jsonb'
	LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION mlops.predict(text, jsonb, jsonb) IS 'prediction of a model for features given as a JSON object keyed by feature name (null values are imputed; missing or extra keys are errors), or for entity => join keys, whose features are read from the online store (models trained on a training set)';

CREATE FUNCTION mlops.predict_label(model text, features record)
	RETURNS text
	AS 'MODULE_PATHNAME', 'ml_predict_label_record'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mlops.predict_label(text, record) IS 'class label (as text) that a classification model predicts for a row';

CREATE FUNCTION mlops.predict_label(model text, features real[])
	RETURNS text
	AS 'MODULE_PATHNAME', 'ml_predict_label_array'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mlops.predict_label(text, real[]) IS 'class label (as text) that a classification model predicts for features in signature order';

CREATE FUNCTION mlops.predict_label(model text, features float8[])
	RETURNS text
	AS 'MODULE_PATHNAME', 'ml_predict_label_array'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mlops.predict_label(text, float8[]) IS 'class label (as text) that a classification model predicts for features in signature order';

CREATE FUNCTION mlops.predict_label(model text, features vector)
	RETURNS text
	AS 'MODULE_PATHNAME', 'ml_predict_label_vector'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mlops.predict_label(text, vector) IS 'class label (as text) that a classification model predicts for features given as a vector in signature order';

CREATE FUNCTION mlops.predict_label(model text, features jsonb DEFAULT NULL, entity jsonb DEFAULT NULL)
	RETURNS text
	AS 'MODULE_PATHNAME', 'ml_predict_label_jsonb'
	LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION mlops.predict_label(text, jsonb, jsonb) IS 'class label (as text) that a classification model predicts for a JSON object of features, or for entity => join keys (features from the online store)';

CREATE FUNCTION mlops.predict_proba(model text, features record)
	RETURNS float8[]
	AS 'MODULE_PATHNAME', 'ml_predict_proba_record'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mlops.predict_proba(text, record) IS 'class probabilities of a classification model for a row, in the order of the version''s classes';

CREATE FUNCTION mlops.predict_proba(model text, features real[])
	RETURNS float8[]
	AS 'MODULE_PATHNAME', 'ml_predict_proba_array'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mlops.predict_proba(text, real[]) IS 'class probabilities of a classification model for features in signature order';

CREATE FUNCTION mlops.predict_proba(model text, features float8[])
	RETURNS float8[]
	AS 'MODULE_PATHNAME', 'ml_predict_proba_array'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mlops.predict_proba(text, float8[]) IS 'class probabilities of a classification model for features in signature order';

CREATE FUNCTION mlops.predict_proba(model text, features vector)
	RETURNS float8[]
	AS 'MODULE_PATHNAME', 'ml_predict_proba_vector'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mlops.predict_proba(text, vector) IS 'class probabilities of a classification model for features given as a vector in signature order';

CREATE FUNCTION mlops.predict_proba(model text, features jsonb DEFAULT NULL, entity jsonb DEFAULT NULL)
	RETURNS float8[]
	AS 'MODULE_PATHNAME', 'ml_predict_proba_jsonb'
	LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION mlops.predict_proba(text, jsonb, jsonb) IS 'class probabilities of a classification model for a JSON object of features, or for entity => join keys (features from the online store)';

CREATE FUNCTION mlops.predict_batch(model text, source text, id_column text DEFAULT NULL)
	RETURNS TABLE (id text, prediction float8, label text)
	AS 'MODULE_PATHNAME', 'ml_predict_batch'
	LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION mlops.predict_batch(text, text, text) IS 'scores every row of a table, view or query in blocks: id is id_column''s value (the row number when NULL), prediction the value, numeric label or class index, label the class label of classification models';

CREATE FUNCTION mlops.training_progress()
	RETURNS TABLE (pid int, model text, phase text, rows_read bigint, step int,
				   started_at timestamptz)
	AS 'MODULE_PATHNAME', 'ml_training_progress'
	LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION mlops.training_progress() IS 'the trainings running now (needs pgmlops in shared_preload_libraries)';
CREATE VIEW mlops.training_progress AS SELECT * FROM mlops.training_progress();
COMMENT ON VIEW mlops.training_progress IS 'the trainings running now, one row per backend: phase (reading, preprocessing, fitting, evaluating, registering), rows read, and in mlops.tune the candidate being evaluated (step)';

CREATE FUNCTION mlops._check_single_select(query text) RETURNS void
	AS 'MODULE_PATHNAME', 'ml_check_single_select'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mlops._check_single_select(text) IS 'internal: raises an error unless the text is exactly one SELECT statement';

-- prediction is for mlops_user (and mlops_admin, a member)
REVOKE ALL ON FUNCTION mlops.predict(text, record), mlops.predict(text, real[]),
	mlops.predict(text, float8[]), mlops.predict(text, vector), mlops.predict(text, jsonb, jsonb),
	mlops.predict_label(text, record), mlops.predict_label(text, jsonb, jsonb),
	mlops.predict_label(text, real[]), mlops.predict_label(text, float8[]),
	mlops.predict_label(text, vector),
	mlops.predict_proba(text, record), mlops.predict_proba(text, real[]),
	mlops.predict_proba(text, float8[]), mlops.predict_proba(text, vector),
	mlops.predict_proba(text, jsonb, jsonb), mlops.predict_batch(text, text, text),
	mlops.training_progress() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mlops.predict(text, record), mlops.predict(text, real[]),
	mlops.predict(text, float8[]), mlops.predict(text, vector), mlops.predict(text, jsonb, jsonb),
	mlops.predict_label(text, record), mlops.predict_label(text, jsonb, jsonb),
	mlops.predict_label(text, real[]), mlops.predict_label(text, float8[]),
	mlops.predict_label(text, vector),
	mlops.predict_proba(text, record), mlops.predict_proba(text, real[]),
	mlops.predict_proba(text, float8[]), mlops.predict_proba(text, vector),
	mlops.predict_proba(text, jsonb, jsonb), mlops.predict_batch(text, text, text),
	mlops.training_progress() TO mlops_user;

REVOKE ALL ON FUNCTION mlops.train(text, text, text, text, jsonb, text[], float8, int, text),
	mlops.tune(text, text, text, text, jsonb, text, int, int, text[], float8, int, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mlops.train(text, text, text, text, jsonb, text[], float8, int, text),
	mlops.tune(text, text, text, text, jsonb, text, int, int, text[], float8, int, text) TO mlops_admin;
GRANT SELECT ON mlops.training_progress TO mlops_user;
