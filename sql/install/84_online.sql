-- features: the online store (materialization and low-latency reads)
--
-- Each online feature view version has one table mlops_online.<view>_v<N>:
-- the join keys (primary key), feature_ts, the features and
-- materialized_at.  mlops.materialize upserts the latest row per entity of
-- a time window in one transaction, so readers see the table before or
-- after a run, never in between.  A row is replaced only by one whose
-- feature_ts is at least as recent (and, at the same feature_ts, only when
-- it differs), so runs are idempotent and a late window never overwrites
-- newer values.  Rows stamped after now() are neither loaded nor served.
-- The watermark moves only when a run's window starts at or before it, so
-- a window ahead of it leaves no gap for incremental runs; they re-read 10
-- minutes behind the watermark by default, for rows of transactions that
-- were still running at the previous run.
--
-- Privileges.  Schema mlops_online: USAGE for mlops_user, CREATE for
-- mlops_admin (materialize creates the table with the caller's rights and
-- gives it to the view's creator when the caller may).  Reading online
-- features needs SELECT on the online table, granted to mlops_user at
-- creation: by design, any mlops_user reads the online values even without
-- access to the view's source.  Materializing needs mlops_admin (the state
-- tables) and read access to the view's source.  SQL built here names
-- pg_catalog's functions and operators, whatever the caller's search_path.

CREATE SCHEMA mlops_online;
COMMENT ON SCHEMA mlops_online IS 'pgmlops online store: one table per materialized feature view version (<view>_v<version>)';
GRANT USAGE ON SCHEMA mlops_online TO mlops_user;
GRANT CREATE ON SCHEMA mlops_online TO mlops_admin;

CREATE TABLE mlops.online_state (
	view		text NOT NULL,
	version		int NOT NULL,
	watermark	timestamptz,
	last_run	timestamptz,
	rows		bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (view, version),
	FOREIGN KEY (view, version) REFERENCES mlops.feature_views (name, version)
);
COMMENT ON TABLE mlops.online_state IS 'per online feature view version: the watermark incremental materialization starts from, the last run and the rows it wrote';

CREATE TABLE mlops.materializations (
	id			bigserial PRIMARY KEY,
	view		text NOT NULL,
	version		int NOT NULL,
	start_ts	timestamptz NOT NULL,
	end_ts		timestamptz NOT NULL,
	rows		bigint NOT NULL,
	started_at	timestamptz NOT NULL,
	finished_at timestamptz NOT NULL,
	FOREIGN KEY (view, version) REFERENCES mlops.feature_views (name, version)
);
CREATE INDEX ON mlops.materializations (view, version, id);
COMMENT ON TABLE mlops.materializations IS 'every materialization run: the feature_ts window [start_ts, end_ts) and the rows it inserted or replaced';

GRANT SELECT ON mlops.online_state, mlops.materializations TO mlops_user;
GRANT INSERT, UPDATE ON mlops.online_state TO mlops_admin;
GRANT INSERT ON mlops.materializations TO mlops_admin;
GRANT USAGE ON SEQUENCE mlops.materializations_id_seq TO mlops_admin;

-- Sessions cache resolved references and prepared reads of online tables
-- (src/fs/fsonline.c); a new view or service version invalidates them at
-- commit in every session.
CREATE TRIGGER feature_views_changed AFTER INSERT OR UPDATE OR DELETE ON mlops.feature_views
	FOR EACH STATEMENT EXECUTE FUNCTION mlops.registry_changed();
CREATE TRIGGER feature_services_changed AFTER INSERT OR UPDATE OR DELETE ON mlops.feature_services
	FOR EACH STATEMENT EXECUTE FUNCTION mlops.registry_changed();

-- the online table's name: <view>_v<version>, shortened with a hash of the
-- view name when that exceeds an identifier's 63 bytes
CREATE FUNCTION mlops.online_table_name(view text, version int) RETURNS text
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	RETURN CASE WHEN octet_length(view || '_v' || version) <= 63 THEN view || '_v' || version
				ELSE left(view, 63 - 10 - length('_v' || version)) || '_' || left(md5(view), 8)
					 || '_v' || version END;
COMMENT ON FUNCTION mlops.online_table_name(text, int) IS 'name of the online table of a feature view version, in schema mlops_online';

-- name or name@N -> the view version; refuses unknown and offline views
CREATE FUNCTION mlops._online_view(ref text, OUT name text, OUT version int, OUT keys text[],
								   OUT features jsonb, OUT query text, OUT created_by name, OUT latest bool)
	LANGUAGE plpgsql STABLE STRICT AS
$$
DECLARE
	m text[] := regexp_match(ref, '^([^@]+)(?:@([0-9]+))?$');
	on_line bool;
BEGIN
	SELECT fv.name, fv.version, e.join_keys, fv.features, fv.query, fv.created_by, fv.online,
		   fv.version = (SELECT max(v.version) FROM mlops.feature_views v WHERE v.name = fv.name)
	  INTO name, version, keys, features, query, created_by, on_line, latest
	  FROM mlops.feature_views fv JOIN mlops.entities e ON e.name = fv.entity
	 WHERE fv.name = m[1] AND fv.version = coalesce(m[2]::int,
		   (SELECT max(v.version) FROM mlops.feature_views v WHERE v.name = m[1]));
	IF NOT FOUND THEN
		RAISE EXCEPTION 'feature view "%" does not exist', ref USING ERRCODE = 'undefined_object';
	END IF;
	IF NOT on_line THEN
		RAISE EXCEPTION 'feature view "%" version % is not online', name, version
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Define the view with online => true to materialize and serve it.';
	END IF;
	-- it runs as the caller: no volatile code, even if a function changed since
	PERFORM mlops._check_feature_query(query, name);
END
$$;
COMMENT ON FUNCTION mlops._online_view(text) IS 'internal: the online feature view version a reference (name or name@N) names';
REVOKE ALL ON FUNCTION mlops._online_view(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mlops._online_view(text) TO mlops_admin;

-- one run: upsert the latest row per entity with feature_ts in [start_ts, end_ts)
-- and not after now()
CREATE FUNCTION mlops._materialize(ref text, start_ts timestamptz, end_ts timestamptz,
								   incremental bool, lookback interval)
	RETURNS bigint
	LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS
$$
DECLARE
	v record;
	tbl text;
	keys text;
	keyed text;
	cols text;
	sets text;
	olds text;
	news text;
	st record;
	n bigint;
	advance bool;
	started timestamptz := clock_timestamp();
BEGIN
	IF ref IS NULL THEN
		RAISE EXCEPTION 'view must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF lookback IS NULL OR lookback < interval '0' THEN
		RAISE EXCEPTION 'lookback must be a non-negative interval' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	v := mlops._online_view(ref);
	IF v.features @> '[{"name": "materialized_at"}]' THEN
		RAISE EXCEPTION 'feature view "%" version % has a feature named materialized_at, a column of every online table',
						v.name, v.version
			USING ERRCODE = 'duplicate_column',
				  HINT = 'Define a new version of the view that names the feature otherwise (expression AS other_name).';
	END IF;

	-- one materialization of a view at a time; the state read after the lock
	PERFORM pg_advisory_xact_lock(hashtext('mlops.materialize'), hashtext(v.name));
	SELECT * INTO st FROM mlops.online_state s WHERE s.view = v.name AND s.version = v.version;
	IF incremental THEN
		BEGIN
			start_ts := coalesce(st.watermark - lookback, '-infinity');
		EXCEPTION WHEN datetime_field_overflow THEN
			start_ts := '-infinity';	-- a lookback past the oldest timestamp
		END;
		end_ts := now();
	ELSIF start_ts IS NULL OR end_ts IS NULL THEN
		RAISE EXCEPTION 'start_ts and end_ts must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF start_ts > end_ts THEN
		RAISE EXCEPTION 'start_ts % is after end_ts %', start_ts, end_ts USING ERRCODE = 'invalid_parameter_value';
	ELSE
		-- a row stamped after now() is not loaded: [start_ts, now()] at most
		end_ts := greatest(start_ts, least(end_ts, now() + interval '1 microsecond'));
	END IF;
	-- a window that starts after the watermark leaves the watermark alone:
	-- incremental runs must still read the gap before it
	advance := start_ts <= coalesce(st.watermark, '-infinity');

	tbl := format('mlops_online.%I', mlops.online_table_name(v.name, v.version));
	SELECT string_agg(format('%I', k), ', '), string_agg(format('%I IS NOT NULL', k), ' AND ')
	  INTO keys, keyed FROM unnest(v.keys) k;
	SELECT string_agg(format('%I', f->>'name'), ', '),
		   string_agg(format('%1$I = EXCLUDED.%1$I', f->>'name'), ', '),
		   string_agg(format('o.%I', f->>'name'), ', '),
		   string_agg(format('EXCLUDED.%I', f->>'name'), ', ')
	  INTO cols, sets, olds, news FROM jsonb_array_elements(v.features) f;

	IF to_regclass(tbl) IS NULL THEN
		-- the source's own key and feature types (typmods included)
		EXECUTE format('CREATE TABLE %s WITH (fillfactor = 90) AS SELECT %s, feature_ts, %s, pg_catalog.now() AS materialized_at'
					   ' FROM (%s) q WITH NO DATA', tbl, keys, cols, v.query);
		EXECUTE format('ALTER TABLE %s ADD PRIMARY KEY (%s), ALTER feature_ts SET NOT NULL,'
					   ' ALTER materialized_at SET NOT NULL', tbl, keys);
		EXECUTE format('COMMENT ON TABLE %s IS %L', tbl,
					   format('online store of feature view %s version %s', v.name, v.version));
		EXECUTE format('GRANT SELECT ON %s TO mlops_user', tbl);
		IF v.created_by <> current_user AND EXISTS (SELECT FROM pg_roles WHERE rolname = v.created_by)
		   AND pg_has_role(v.created_by, 'USAGE')
		   AND has_schema_privilege(v.created_by, 'mlops_online', 'CREATE') THEN
			EXECUTE format('ALTER TABLE %s OWNER TO %I', tbl, v.created_by);
		END IF;
	END IF;

	-- newer wins; at the same feature_ts only a different row is written
	-- (re-reads write nothing); a stored row from the future always yields
	EXECUTE format($q$INSERT INTO %1$s AS o (%2$s, feature_ts, %3$s, materialized_at)
SELECT DISTINCT ON (%2$s) %2$s, feature_ts, %3$s, $3
  FROM (%4$s) q
 WHERE feature_ts OPERATOR(pg_catalog.>=) $1 AND feature_ts OPERATOR(pg_catalog.<) $2 AND %5$s
 ORDER BY %2$s, feature_ts DESC
ON CONFLICT (%2$s) DO UPDATE SET feature_ts = EXCLUDED.feature_ts, %6$s, materialized_at = EXCLUDED.materialized_at
 WHERE EXCLUDED.feature_ts OPERATOR(pg_catalog.>) o.feature_ts OR o.feature_ts OPERATOR(pg_catalog.>) $3
    OR (EXCLUDED.feature_ts OPERATOR(pg_catalog.=) o.feature_ts
        AND NOT pg_catalog.record_image_eq(ROW(%7$s), ROW(%8$s)))$q$,
				   tbl, keys, cols, v.query, keyed, sets, olds, news)
		USING start_ts, end_ts, now();
	GET DIAGNOSTICS n = ROW_COUNT;

	-- the watermark never moves back, nor past now(), nor over a gap
	INSERT INTO mlops.online_state AS s (view, version, watermark, last_run, rows)
		VALUES (v.name, v.version, CASE WHEN advance THEN least(end_ts, now()) END, now(), n)
	ON CONFLICT (view, version) DO UPDATE
		SET watermark = CASE WHEN advance THEN greatest(s.watermark, EXCLUDED.watermark) ELSE s.watermark END,
			last_run = EXCLUDED.last_run, rows = EXCLUDED.rows;
	INSERT INTO mlops.materializations (view, version, start_ts, end_ts, rows, started_at, finished_at)
		VALUES (v.name, v.version, start_ts, end_ts, n, started, clock_timestamp());

	-- statistics of the online data (src/fs statistics), when installed:
	-- best effort, they never undo the run
	IF n > 0 AND to_regprocedure('mlops.compute_feature_stats(text,text,timestamptz,timestamptz)') IS NOT NULL THEN
		BEGIN
			EXECUTE 'SELECT mlops.compute_feature_stats($1, ''online'')' USING v.name || '@' || v.version;
		EXCEPTION WHEN OTHERS THEN
			RAISE WARNING 'statistics of feature view "%" version % were not computed: %', v.name, v.version, SQLERRM
				USING HINT = format('The materialization succeeded. Retry with mlops.compute_feature_stats(%L, %L).',
									v.name || '@' || v.version, 'online');
		END;
	END IF;
	RETURN n;
END
$$;
COMMENT ON FUNCTION mlops._materialize(text, timestamptz, timestamptz, bool, interval) IS 'internal: one materialization run of a feature view version';

CREATE FUNCTION mlops.materialize(view text, start_ts timestamptz, end_ts timestamptz)
	RETURNS bigint
	LANGUAGE sql VOLATILE SECURITY INVOKER
	RETURN mlops._materialize(view, start_ts, end_ts, false, interval '0');
COMMENT ON FUNCTION mlops.materialize(text, timestamptz, timestamptz) IS 'upserts into the online table the latest row per entity with feature_ts in [start_ts, end_ts) and not after now() of a feature view (name or name@N); returns the rows inserted or replaced';

CREATE FUNCTION mlops.materialize_incremental(view text, lookback interval DEFAULT interval '10 minutes')
	RETURNS bigint
	LANGUAGE sql VOLATILE SECURITY INVOKER
	RETURN mlops._materialize(view, NULL, NULL, true, lookback);
COMMENT ON FUNCTION mlops.materialize_incremental(text, interval) IS 'materializes a feature view from its watermark less lookback (10 minutes by default, for rows of transactions still running at the last run; -infinity on the first run) to now(); returns the rows inserted or replaced';

REVOKE ALL ON FUNCTION mlops._materialize(text, timestamptz, timestamptz, bool, interval),
	mlops.materialize(text, timestamptz, timestamptz), mlops.materialize_incremental(text, interval)
	FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mlops._materialize(text, timestamptz, timestamptz, bool, interval),
	mlops.materialize(text, timestamptz, timestamptz), mlops.materialize_incremental(text, interval)
	TO mlops_admin;

-- (the references are feature_refs: an input and an output column cannot share a name)
CREATE FUNCTION mlops.get_online_features(features text[], entity_keys jsonb)
	RETURNS TABLE (entity jsonb, feature_values jsonb)
	AS 'MODULE_PATHNAME', 'fs_get_online_features'
	LANGUAGE C STABLE STRICT PARALLEL SAFE ROWS 1;
COMMENT ON FUNCTION mlops.get_online_features(text[], jsonb) IS 'current online values of features (view:feature, view@N:feature, view:*) for one entity key object or an array of them: one row per key, in order; NULL where the entity has no row, its value is older than the view''s ttl or stamped after now()';

CREATE FUNCTION mlops.get_online_features(service text, entity_keys jsonb)
	RETURNS TABLE (entity jsonb, feature_values jsonb)
	AS 'MODULE_PATHNAME', 'fs_get_online_features_service'
	LANGUAGE C STABLE STRICT PARALLEL SAFE ROWS 1;
COMMENT ON FUNCTION mlops.get_online_features(text, jsonb) IS 'current online values of a feature service''s features (service or service@N) for one entity key object or an array of them';

CREATE VIEW mlops.online_list AS
SELECT fv.name AS view, fv.version, fv.online,
	   to_regclass(format('mlops_online.%I', mlops.online_table_name(fv.name, fv.version))) AS online_table,
	   s.watermark, s.last_run, s.rows AS last_rows
  FROM mlops.feature_views fv
  LEFT JOIN mlops.online_state s ON s.view = fv.name AND s.version = fv.version
 WHERE fv.online;
COMMENT ON VIEW mlops.online_list IS 'online feature view versions with their online table, watermark and last materialization';
GRANT SELECT ON mlops.online_list TO mlops_user;
