-- registry: models, immutable versions with lineage, aliases and their
-- history; training and prediction (src/ml/)
--
-- Privileges.  mlops_user may read the registry and predict; mlops_admin
-- (a member of mlops_user) may also train, deploy, move aliases and delete
-- versions.  Training reads its source with the caller's privileges, so an
-- admin cannot train on a table they cannot SELECT.  Aliases move only
-- through the functions below (SECURITY DEFINER, executable by mlops_admin),
-- which also write the alias history.

DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'mlops_user') THEN
		CREATE ROLE mlops_user NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'mlops_admin') THEN
		CREATE ROLE mlops_admin NOLOGIN;
	END IF;
	GRANT mlops_user TO mlops_admin;
END
$$;

CREATE TABLE mlops.models (
	name		text PRIMARY KEY
				CHECK (name ~ '^[A-Za-z_][A-Za-z0-9_.-]{0,62}$'),
	task		text NOT NULL
				CHECK (task IN ('regression', 'classification', 'clustering',
								'text-generation', 'embedding')),
	description text,
	owner		name NOT NULL DEFAULT current_user,
	created_at	timestamptz NOT NULL DEFAULT now(),
	last_version int NOT NULL DEFAULT 0	-- versions are never reused
);
COMMENT ON TABLE mlops.models IS 'registered models: a name and a task; their versions are in mlops.model_versions';

CREATE TABLE mlops.model_versions (
	model		text NOT NULL REFERENCES mlops.models (name),
	version		int NOT NULL CHECK (version > 0),
	algorithm	text NOT NULL,
	hyperparams jsonb NOT NULL,
	preprocessing jsonb NOT NULL,
	features	jsonb NOT NULL,
	target		text,
	target_type text,
	classes		jsonb,
	metrics		jsonb NOT NULL,
	artifact	bytea NOT NULL,
	status		text NOT NULL DEFAULT 'ready' CHECK (status IN ('ready', 'archived')),
	created_at	timestamptz NOT NULL DEFAULT now(),
	created_by	name NOT NULL DEFAULT current_user,
	-- lineage
	source		text NOT NULL,
	row_count	bigint NOT NULL,
	train_rows	bigint NOT NULL,
	test_rows	bigint NOT NULL,
	data_checksum text NOT NULL,
	snapshot_xmin xid8,
	snapshot_lsn pg_lsn,
	seed		int NOT NULL,
	test_fraction float8 NOT NULL,
	extension_version text NOT NULL,
	device		text NOT NULL,
	train_seconds float8 NOT NULL,
	tune_id		bigint,
	training_set text,			-- mlops.training_sets.name when trained on one
	online_features text[],		-- its pinned feature references (view@N:feature)
	PRIMARY KEY (model, version)
);
COMMENT ON TABLE mlops.model_versions IS 'model versions: immutable once written (only status may change); artifact is the trained model, preprocessing the learned input transformation, the rest is lineage';

CREATE TABLE mlops.model_aliases (
	model		text NOT NULL REFERENCES mlops.models (name),
	alias		text NOT NULL CHECK (alias ~ '^[A-Za-z_][A-Za-z0-9_.-]{0,62}$'),
	version		int NOT NULL,
	updated_at	timestamptz NOT NULL DEFAULT now(),
	updated_by	name NOT NULL DEFAULT current_user,
	PRIMARY KEY (model, alias),
	FOREIGN KEY (model, version) REFERENCES mlops.model_versions (model, version)
);
COMMENT ON TABLE mlops.model_aliases IS 'aliases (production, staging, ...) naming a version of a model; moved by mlops.set_alias, mlops.deploy and mlops.rollback';

CREATE TABLE mlops.alias_history (
	id			bigserial PRIMARY KEY,
	model		text NOT NULL,
	alias		text NOT NULL,
	from_version int,
	to_version	int NOT NULL,
	action		text NOT NULL CHECK (action IN ('set', 'deploy', 'rollback')),
	moved_at	timestamptz NOT NULL DEFAULT now(),
	moved_by	name NOT NULL DEFAULT session_user
);
COMMENT ON TABLE mlops.alias_history IS 'every alias move: who moved which alias of which model, when, from what version to what version';

CREATE TABLE mlops.tune_candidates (
	tune_id		bigint NOT NULL,
	candidate	int NOT NULL,
	model		text NOT NULL,
	algorithm	text NOT NULL,
	hyperparams jsonb NOT NULL,
	cv_metrics	jsonb NOT NULL,
	score		float8,
	score_std	float8,
	chosen		bool NOT NULL DEFAULT false,
	created_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tune_id, candidate)
);
CREATE SEQUENCE mlops.tune_id_seq;
COMMENT ON TABLE mlops.tune_candidates IS 'every hyperparameter candidate mlops.tune evaluated, with its cross-validated metrics; the chosen one became a model version (model_versions.tune_id)';

GRANT SELECT ON mlops.models, mlops.model_versions, mlops.model_aliases,
	mlops.alias_history, mlops.tune_candidates TO mlops_user;
-- No role writes these tables directly: versions and their lineage come
-- only from mlops.train and mlops.tune (which write them as the registry's
-- owner), aliases only from the functions below.
GRANT USAGE ON SEQUENCE mlops.tune_id_seq TO mlops_admin;

-- Versions are immutable: only status changes.  Deletion goes through
-- mlops.delete_version.
CREATE FUNCTION mlops.model_versions_immutable() RETURNS trigger
	LANGUAGE plpgsql AS
$$
BEGIN
	IF (to_jsonb(NEW) - 'status') IS DISTINCT FROM (to_jsonb(OLD) - 'status') THEN
		RAISE EXCEPTION 'model version %@% is immutable', OLD.model, OLD.version
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Train a new version instead.';
	END IF;
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION mlops.model_versions_immutable() IS 'trigger: refuses changes to a model version other than its status';
CREATE TRIGGER model_versions_immutable BEFORE UPDATE ON mlops.model_versions
	FOR EACH ROW EXECUTE FUNCTION mlops.model_versions_immutable();

-- Every backend caches loaded models and resolved aliases.  A change to
-- the aliases or versions sends a cache invalidation at commit, which every
-- session processes before its next statement.
CREATE FUNCTION mlops.registry_changed() RETURNS trigger
	AS 'MODULE_PATHNAME', 'ml_registry_changed'
	LANGUAGE C;
COMMENT ON FUNCTION mlops.registry_changed() IS 'trigger: invalidates every session''s cache of resolved model aliases at commit';
CREATE TRIGGER model_aliases_changed AFTER INSERT OR UPDATE OR DELETE ON mlops.model_aliases
	FOR EACH STATEMENT EXECUTE FUNCTION mlops.registry_changed();
CREATE TRIGGER model_versions_changed AFTER UPDATE OR DELETE ON mlops.model_versions
	FOR EACH STATEMENT EXECUTE FUNCTION mlops.registry_changed();

-- name, name@3 or name@alias -> (model, version); NULL version when the
-- alias is not set
CREATE FUNCTION mlops.resolve_model(ref text, OUT model text, OUT version int)
	LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE AS
$$
DECLARE
	at int := strpos(ref, '@');
	v_alias text;
BEGIN
	IF at = 0 THEN
		model := ref;
		v_alias := 'production';
	ELSE
		model := left(ref, at - 1);
		v_alias := substr(ref, at + 1);
	END IF;
	IF NOT EXISTS (SELECT FROM mlops.models m WHERE m.name = model) THEN
		RAISE EXCEPTION 'model "%" does not exist', model
			USING ERRCODE = 'undefined_object';
	END IF;
	IF v_alias ~ '^[0-9]{1,9}$' THEN
		version := v_alias::int;
		IF NOT EXISTS (SELECT FROM mlops.model_versions v
					   WHERE v.model = resolve_model.model AND v.version = resolve_model.version) THEN
			RAISE EXCEPTION 'model "%" has no version %', model, version
				USING ERRCODE = 'undefined_object';
		END IF;
		RETURN;
	END IF;
	SELECT a.version INTO version FROM mlops.model_aliases a
	 WHERE a.model = resolve_model.model AND a.alias = v_alias;
	IF NOT FOUND THEN
		IF v_alias = 'production' THEN
			RAISE EXCEPTION 'model "%" has no alias "%"', model, v_alias
				USING ERRCODE = 'undefined_object',
					  HINT = 'Deploy a version with mlops.deploy(), or name one as ' || model || '@N.';
		END IF;
		RAISE EXCEPTION 'model "%" has no alias "%"', model, v_alias
			USING ERRCODE = 'undefined_object';
	END IF;
END
$$;
COMMENT ON FUNCTION mlops.resolve_model(text) IS 'the model and version that a reference names: name (its production alias), name@N (version N) or name@alias';

-- the move itself, shared by set_alias, deploy and rollback
CREATE FUNCTION mlops._move_alias(p_model text, p_alias text, p_version int, p_action text)
	RETURNS int
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
	old int;
BEGIN
	PERFORM 1 FROM mlops.models WHERE name = p_model FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'model "%" does not exist', p_model USING ERRCODE = 'undefined_object';
	END IF;
	IF NOT EXISTS (SELECT FROM mlops.model_versions WHERE model = p_model AND version = p_version) THEN
		RAISE EXCEPTION 'model "%" has no version %', p_model, p_version USING ERRCODE = 'undefined_object';
	END IF;
	IF EXISTS (SELECT FROM mlops.model_versions WHERE model = p_model AND version = p_version
			   AND status = 'archived') THEN
		RAISE EXCEPTION 'version % of model "%" is archived', p_version, p_model
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Mark it ready with mlops.set_version_status() first.';
	END IF;
	SELECT version INTO old FROM mlops.model_aliases WHERE model = p_model AND alias = p_alias;
	-- already there: nothing moves, nothing is recorded
	IF old = p_version THEN
		RETURN p_version;
	END IF;
	INSERT INTO mlops.model_aliases AS a (model, alias, version, updated_at, updated_by)
		VALUES (p_model, p_alias, p_version, now(), session_user)
		ON CONFLICT (model, alias) DO UPDATE
		SET version = excluded.version, updated_at = excluded.updated_at, updated_by = excluded.updated_by;
	INSERT INTO mlops.alias_history (model, alias, from_version, to_version, action)
		VALUES (p_model, p_alias, old, p_version, p_action);
	RETURN p_version;
END
$$;
COMMENT ON FUNCTION mlops._move_alias(text, text, int, text) IS 'internal: moves an alias and records the move in mlops.alias_history';
REVOKE ALL ON FUNCTION mlops._move_alias(text, text, int, text) FROM PUBLIC;

CREATE FUNCTION mlops.set_alias(model text, alias text, version int)
	RETURNS int
	LANGUAGE sql VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	BEGIN ATOMIC
		SELECT mlops._move_alias(model, alias, version, 'set');
	END;
COMMENT ON FUNCTION mlops.set_alias(text, text, int) IS 'points an alias of a model at a version (recorded in mlops.alias_history); returns the version';

CREATE FUNCTION mlops.deploy(model text, version int DEFAULT NULL, alias text DEFAULT 'production',
							 strategy text DEFAULT 'specific')
	RETURNS int
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
	v int := version;
	cur int;
	task text;
	key text;
	higher bool;
	cand float8;
	curscore float8;
BEGIN
	IF model IS NULL OR alias IS NULL OR strategy IS NULL THEN
		RAISE EXCEPTION 'model, alias and strategy must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT m.task INTO task FROM mlops.models m WHERE m.name = deploy.model;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'model "%" does not exist', model USING ERRCODE = 'undefined_object';
	END IF;
	IF v IS NULL THEN
		SELECT max(mv.version) INTO v FROM mlops.model_versions mv WHERE mv.model = deploy.model;
		IF v IS NULL THEN
			RAISE EXCEPTION 'model "%" has no versions', model USING ERRCODE = 'undefined_object';
		END IF;
	END IF;
	IF NOT EXISTS (SELECT FROM mlops.model_versions mv WHERE mv.model = deploy.model AND mv.version = v) THEN
		RAISE EXCEPTION 'model "%" has no version %', model, v USING ERRCODE = 'undefined_object';
	END IF;
	IF strategy = 'best' THEN
		key := mlops._key_metric(task);
		IF key IS NULL THEN
			RAISE EXCEPTION 'strategy "best" compares metrics, and % models have none', task
				USING ERRCODE = 'feature_not_supported', HINT = 'Deploy a version by number.';
		END IF;
		higher := true;
		SELECT (mv.metrics ->> key)::float8 INTO cand FROM mlops.model_versions mv
		 WHERE mv.model = deploy.model AND mv.version = v;
		SELECT a.version INTO cur FROM mlops.model_aliases a
		 WHERE a.model = deploy.model AND a.alias = deploy.alias;
		IF cur IS NOT NULL THEN
			SELECT (mv.metrics ->> key)::float8 INTO curscore FROM mlops.model_versions mv
			 WHERE mv.model = deploy.model AND mv.version = cur;
			IF cand IS NULL OR (curscore IS NOT NULL AND cand <= curscore) THEN
				-- 6 decimals: the last digits of a metric depend on the BLAS kernels
				RAISE NOTICE 'version % of "%" not deployed: its % (%) does not beat version % (%)',
					v, model, key, round(cand::numeric, 6), cur, round(curscore::numeric, 6);
				RETURN cur;
			END IF;
		END IF;
	ELSIF strategy <> 'specific' THEN
		RAISE EXCEPTION 'unknown deployment strategy "%"', strategy
			USING ERRCODE = 'invalid_parameter_value', HINT = 'Use ''specific'' or ''best''.';
	END IF;
	RETURN mlops._move_alias(model, alias, v, 'deploy');
END
$$;
COMMENT ON FUNCTION mlops.deploy(text, int, text, text) IS 'points an alias (default production) at a version (default the latest); strategy ''best'' deploys only if the version''s key metric beats the current one''s; returns the version the alias names afterwards';

CREATE FUNCTION mlops.rollback(model text, alias text DEFAULT 'production')
	RETURNS int
	LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
	stack int[] := '{}';
	h record;
	v_target int;
BEGIN
	PERFORM 1 FROM mlops.models m WHERE m.name = rollback.model FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'model "%" does not exist', model USING ERRCODE = 'undefined_object';
	END IF;
	-- replay the history: set and deploy push a version, rollback pops one
	FOR h IN SELECT ah.to_version, ah.action FROM mlops.alias_history ah
			  WHERE ah.model = rollback.model AND ah.alias = rollback.alias ORDER BY ah.id
	LOOP
		IF h.action = 'rollback' THEN
			stack := stack[1:cardinality(stack) - 1];
		ELSE
			stack := stack || h.to_version;
		END IF;
	END LOOP;
	-- versions deleted since cannot come back
	stack := ARRAY(SELECT s.v FROM unnest(stack) WITH ORDINALITY AS s(v, i)
				   WHERE EXISTS (SELECT FROM mlops.model_versions mv
								 WHERE mv.model = rollback.model AND mv.version = s.v)
				   ORDER BY s.i);
	-- with versions gone, neighbours can repeat: a move to itself is no move
	stack := ARRAY(SELECT s.v FROM unnest(stack) WITH ORDINALITY AS s(v, i)
				   WHERE s.i = 1 OR s.v IS DISTINCT FROM stack[s.i - 1]
				   ORDER BY s.i);
	IF cardinality(stack) < 2 THEN
		RAISE EXCEPTION 'alias "%" of model "%" has no previous version to roll back to', alias, model
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	v_target := stack[cardinality(stack) - 1];
	RETURN mlops._move_alias(model, alias, v_target, 'rollback');
END
$$;
COMMENT ON FUNCTION mlops.rollback(text, text) IS 'moves an alias (default production) back to the version it named before its last move; returns that version';

CREATE FUNCTION mlops.delete_version(model text, version int)
	RETURNS void
	LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
	aliases text;
BEGIN
	PERFORM 1 FROM mlops.models m WHERE m.name = delete_version.model FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'model "%" does not exist', model USING ERRCODE = 'undefined_object';
	END IF;
	SELECT string_agg(a.alias, ', ' ORDER BY a.alias) INTO aliases FROM mlops.model_aliases a
	 WHERE a.model = delete_version.model AND a.version = delete_version.version;
	IF aliases IS NOT NULL THEN
		RAISE EXCEPTION 'version % of model "%" is in use by alias %', version, model, aliases
			USING ERRCODE = 'dependent_objects_still_exist',
				  HINT = 'Move the alias to another version first.';
	END IF;
	DELETE FROM mlops.model_versions mv WHERE mv.model = delete_version.model AND mv.version = delete_version.version;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'model "%" has no version %', model, version USING ERRCODE = 'undefined_object';
	END IF;
END
$$;
COMMENT ON FUNCTION mlops.delete_version(text, int) IS 'deletes a model version that no alias names';

CREATE FUNCTION mlops.set_version_status(model text, version int, status text)
	RETURNS void
	LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
	IF status NOT IN ('ready', 'archived') THEN
		RAISE EXCEPTION 'unknown version status "%"', status
			USING ERRCODE = 'invalid_parameter_value', HINT = 'Use ready or archived.';
	END IF;
	UPDATE mlops.model_versions mv SET status = set_version_status.status
	 WHERE mv.model = set_version_status.model AND mv.version = set_version_status.version;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'model "%" has no version %', model, version USING ERRCODE = 'undefined_object';
	END IF;
END
$$;
COMMENT ON FUNCTION mlops.set_version_status(text, int, text) IS 'marks a model version ready or archived (the only change a version allows)';

CREATE FUNCTION mlops.create_model(name text, task text, description text DEFAULT NULL)
	RETURNS text
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
	IF name IS NULL OR task IS NULL THEN
		RAISE EXCEPTION 'name and task must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF task NOT IN ('regression', 'classification', 'clustering') THEN
		RAISE EXCEPTION 'unknown task "%"', task USING ERRCODE = 'invalid_parameter_value',
			HINT = 'Use regression, classification or clustering.';
	END IF;
	INSERT INTO mlops.models (name, task, description, owner) VALUES (name, task, description, session_user);
	RETURN name;
END
$$;
COMMENT ON FUNCTION mlops.create_model(text, text, text) IS 'registers a model name with its task (regression, classification or clustering); mlops.train creates it when missing';

-- the metric deploy(strategy => 'best') and tune compare; higher is better
CREATE FUNCTION mlops._key_metric(task text) RETURNS text
	AS 'MODULE_PATHNAME', 'ml_key_metric'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mlops._key_metric(text) IS 'internal: the metric that compares versions of a task (higher is better); NULL for text-generation and embedding';

REVOKE ALL ON FUNCTION mlops.set_alias(text, text, int), mlops.deploy(text, int, text, text),
	mlops.rollback(text, text), mlops.delete_version(text, int),
	mlops.set_version_status(text, int, text), mlops.create_model(text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mlops.set_alias(text, text, int), mlops.deploy(text, int, text, text),
	mlops.rollback(text, text), mlops.delete_version(text, int),
	mlops.set_version_status(text, int, text), mlops.create_model(text, text, text) TO mlops_admin;

CREATE VIEW mlops.model_list AS
SELECT m.name, m.task, m.description, m.owner, m.created_at,
	   (SELECT count(*) FROM mlops.model_versions v WHERE v.model = m.name) AS versions,
	   (SELECT max(v.version) FROM mlops.model_versions v WHERE v.model = m.name) AS latest_version,
	   (SELECT a.version FROM mlops.model_aliases a WHERE a.model = m.name AND a.alias = 'production') AS production_version
  FROM mlops.models m;
COMMENT ON VIEW mlops.model_list IS 'every model with its number of versions, latest version and production version';

CREATE VIEW mlops.version_list AS
SELECT v.model, v.version, v.algorithm, v.status, v.metrics,
	   v.metrics ->> mlops._key_metric(m.task) AS key_metric_value,
	   mlops._key_metric(m.task) AS key_metric,
	   (SELECT array_agg(a.alias ORDER BY a.alias) FROM mlops.model_aliases a
		 WHERE a.model = v.model AND a.version = v.version) AS aliases,
	   v.hyperparams, v.source, v.row_count, v.data_checksum, v.created_at, v.created_by,
	   v.train_seconds, v.device
  FROM mlops.model_versions v JOIN mlops.models m ON m.name = v.model;
COMMENT ON VIEW mlops.version_list IS 'every model version with its metrics, the aliases naming it and its lineage';

CREATE VIEW mlops.deployment_history AS
SELECT h.model, h.alias, h.from_version, h.to_version, h.action, h.moved_at, h.moved_by
  FROM mlops.alias_history h;
COMMENT ON VIEW mlops.deployment_history IS 'every alias move (deploy, set, rollback), oldest first by id';

GRANT SELECT ON mlops.model_list, mlops.version_list, mlops.deployment_history TO mlops_user;
