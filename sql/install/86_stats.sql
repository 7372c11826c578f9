-- feature statistics and drift
--
-- mlops.compute_feature_stats reads a feature view's data (offline: the
-- view's normalized query; online: its online table; a training set's
-- columns) with the caller's privileges and stores one snapshot: per
-- feature count, null fraction, mean, std, min, max, 101 percentiles, a
-- 20-bin histogram, or for categories the top 20 values.  The pass over the
-- data is src/fs/fsstats.c.  mlops.feature_drift compares two snapshots
-- (PSI and KS per feature) and appends every result to a history table.
--
-- The statistics show feature values (min, max, percentiles, top-k
-- categories) to every mlops_user, whatever their rights on the sources:
-- by design, as for the online tables.  The internal functions are for
-- mlops_admin only.  Queries built here name pg_catalog's functions, types
-- and operators, so they do not depend on the caller's search_path.

CREATE TABLE mlops.feature_stats_snapshots (
	id			bigserial PRIMARY KEY,
	view		text NOT NULL,
	version		int NOT NULL,
	-- offline, online or training_set:<name>
	source		text NOT NULL CHECK (source IN ('offline', 'online') OR source ~ '^training_set:.'),
	start_ts	timestamptz,
	end_ts		timestamptz,
	row_count	bigint NOT NULL,
	computed_at timestamptz NOT NULL DEFAULT now(),
	computed_by name NOT NULL DEFAULT current_user,
	FOREIGN KEY (view, version) REFERENCES mlops.feature_views (name, version)
);
CREATE INDEX ON mlops.feature_stats_snapshots (view, source, version, id);
COMMENT ON TABLE mlops.feature_stats_snapshots IS 'statistics snapshots: one per mlops.compute_feature_stats call (view version, source, time window, rows read)';

CREATE TABLE mlops.feature_stats (
	snapshot_id bigint NOT NULL REFERENCES mlops.feature_stats_snapshots (id) ON DELETE CASCADE,
	feature		text NOT NULL,
	type		text NOT NULL,
	-- numeric; epoch_seconds (times and dates); l2_norm (vectors and arrays); categorical
	kind		text NOT NULL CHECK (kind IN ('numeric', 'epoch_seconds', 'l2_norm', 'categorical')),
	count		bigint NOT NULL,
	null_fraction float8,
	mean		float8,
	std			float8,
	min			float8,
	max			float8,
	-- p0..p100 (101 values) of the numeric value
	quantiles	float8[],
	-- {"edges": [21 values], "counts": [20 values]} (one bin for a constant)
	histogram	jsonb,
	-- {"values": [{"value", "count", "share"}], "other_count", "other_share", "distinct"}
	top_k		jsonb,
	PRIMARY KEY (snapshot_id, feature)
);
COMMENT ON TABLE mlops.feature_stats IS 'per-feature statistics of a snapshot: count (non-NULL values), null fraction, moments, extremes, percentiles p0..p100 and histogram (numeric kinds) or top-k frequencies (categorical)';

CREATE TABLE mlops.feature_drift_history (
	id			bigserial PRIMARY KEY,
	computed_at timestamptz NOT NULL DEFAULT now(),
	view		text NOT NULL,
	version		int NOT NULL,
	feature		text NOT NULL,
	reference_snapshot bigint NOT NULL REFERENCES mlops.feature_stats_snapshots (id) ON DELETE CASCADE,
	current_snapshot bigint NOT NULL REFERENCES mlops.feature_stats_snapshots (id) ON DELETE CASCADE,
	psi			float8,
	ks			float8,
	status		text NOT NULL CHECK (status IN ('ok', 'warn', 'alert', 'missing')),
	thresholds	jsonb NOT NULL
);
CREATE INDEX ON mlops.feature_drift_history (view, feature, computed_at);
COMMENT ON TABLE mlops.feature_drift_history IS 'every result of mlops.feature_drift, to plot drift over time';

GRANT SELECT ON mlops.feature_stats_snapshots, mlops.feature_stats, mlops.feature_drift_history TO mlops_user;
GRANT INSERT ON mlops.feature_stats_snapshots, mlops.feature_stats, mlops.feature_drift_history TO mlops_admin;
GRANT USAGE ON SEQUENCE mlops.feature_stats_snapshots_id_seq, mlops.feature_drift_history_id_seq TO mlops_admin;

CREATE FUNCTION mlops._feature_stats_scan(query text)
	RETURNS TABLE (feature text, kind text, row_count bigint, count bigint, missing bigint,
				   mean float8, std float8, min float8, max float8, quantiles float8[],
				   histogram jsonb, top_k jsonb)
	AS 'MODULE_PATHNAME', 'fs_stats_scan'
	LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION mlops._feature_stats_scan(text) IS 'internal: statistics of every column (float8, float8[] as L2 norm, text) of a query, in one pass, with the caller''s privileges';

CREATE FUNCTION mlops._feature_drift_numeric(reference float8[], current float8[],
											 OUT psi float8, OUT ks float8)
	AS 'MODULE_PATHNAME', 'fs_stats_numeric_drift'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mlops._feature_drift_numeric(float8[], float8[]) IS 'internal: PSI over the reference''s deciles and KS between two distributions given by their 101 percentiles (p0..p100)';

-- one PSI term, shares floored at 1e-4
CREATE FUNCTION mlops._psi_term(expected float8, actual float8) RETURNS float8
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	RETURN (greatest(actual, 1e-4) - greatest(expected, 1e-4)) * ln(greatest(actual, 1e-4) / greatest(expected, 1e-4));
COMMENT ON FUNCTION mlops._psi_term(float8, float8) IS 'internal: one bin''s population stability index term, shares floored at 1e-4';

-- PSI over the union of both top-k lists plus "other"
CREATE FUNCTION mlops._categorical_psi(reference jsonb, current jsonb) RETURNS float8
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
BEGIN ATOMIC
	WITH r AS (SELECT e->>'value' AS v, (e->>'share')::float8 AS s FROM jsonb_array_elements(reference->'values') e),
		 c AS (SELECT e->>'value' AS v, (e->>'share')::float8 AS s FROM jsonb_array_elements(current->'values') e),
		 u AS (SELECT coalesce(r.s, 0) AS rs, coalesce(c.s, 0) AS cs FROM r FULL JOIN c ON r.v = c.v)
	SELECT sum(mlops._psi_term(rs, cs)) + mlops._psi_term(1 - sum(rs), 1 - sum(cs)) FROM u;
END;
COMMENT ON FUNCTION mlops._categorical_psi(jsonb, jsonb) IS 'internal: PSI between two top-k frequency lists over their union plus "other" (a category missing from a list counts in its "other")';

-- how statistics read a column of a type: the expression and the kind
CREATE FUNCTION mlops._feature_stats_expr(col text, type regtype, OUT expr text, OUT kind text)
	LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE AS
$$
BEGIN
	IF type IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype, 'real'::regtype,
				'double precision'::regtype) THEN
		expr := format('(%I)::pg_catalog.float8', col);
		kind := 'numeric';
	ELSIF type = 'numeric'::regtype THEN
		-- beyond float8's range (and NaN, infinities): NaN, counted as not
		-- finite; below its smallest normal value: 0
		expr := format('CASE WHEN pg_catalog.abs(%1$I) OPERATOR(pg_catalog.<) 2.2250738585072014e-308 THEN 0::pg_catalog.float8'
					   ' WHEN pg_catalog.abs(%1$I) OPERATOR(pg_catalog.<=) 1.7976931348623157e308 THEN (%1$I)::pg_catalog.float8'
					   ' WHEN %1$I IS NOT NULL THEN ''NaN''::pg_catalog.float8 END', col);
		kind := 'numeric';
	ELSIF type IN ('timestamp with time zone'::regtype, 'timestamp without time zone'::regtype,
				   'date'::regtype) THEN
		-- (the EXTRACT syntax always calls pg_catalog.extract)
		expr := format('extract(epoch FROM %I)::pg_catalog.float8', col);
		kind := 'epoch_seconds';
	ELSIF type IN ('real[]'::regtype, 'double precision[]'::regtype) THEN
		expr := format('(%I)::pg_catalog.float8[]', col);
		kind := 'l2_norm';
	ELSIF (SELECT typname = 'vector' FROM pg_type WHERE oid = type) THEN
		expr := format('(%I)::pg_catalog.float4[]::pg_catalog.float8[]', col);
		kind := 'l2_norm';
	ELSE
		-- booleans, text types and enums
		expr := format('(%I)::pg_catalog.text', col);
		kind := 'categorical';
	END IF;
END
$$;
COMMENT ON FUNCTION mlops._feature_stats_expr(text, regtype) IS 'internal: the expression that statistics read a feature column with (float8, epoch seconds, float8[] for the L2 norm, or text) and its kind';

-- a training set's recorded name: schema-qualified, as create_training_set writes it
CREATE FUNCTION mlops._training_set_name(name text) RETURNS text
	LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE AS
$$
DECLARE
	parts text[];
BEGIN
	BEGIN
		parts := parse_ident(name);
	EXCEPTION WHEN invalid_parameter_value THEN
		RAISE EXCEPTION 'invalid training set name "%"', name USING ERRCODE = 'invalid_name';
	END;
	IF cardinality(parts) = 1 THEN
		RETURN format('%I.%I', current_schema(), parts[1]);
	ELSIF cardinality(parts) = 2 THEN
		RETURN format('%I.%I', parts[1], parts[2]);
	END IF;
	RAISE EXCEPTION 'invalid training set name "%"', name USING ERRCODE = 'invalid_name',
		HINT = 'Write table or schema.table.';
END
$$;
COMMENT ON FUNCTION mlops._training_set_name(text) IS 'internal: the schema-qualified name under which mlops.training_sets records a training set';

CREATE FUNCTION mlops.compute_feature_stats(view text, source text DEFAULT 'offline',
											start_ts timestamptz DEFAULT NULL,
											end_ts timestamptz DEFAULT NULL)
	RETURNS bigint
	LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS
$$
DECLARE
	m text[];
	vname text;
	ver int;
	fv record;
	f record;
	tsname text;
	tsfeats jsonb;
	rel regclass;
	coltype regtype;
	colname text;
	vers int[];
	e record;
	names text[] := '{}';
	types text[] := '{}';
	kinds text[] := '{}';
	exprs text[] := '{}';
	q text;
	snap bigint;
BEGIN
	IF view IS NULL OR source IS NULL THEN
		RAISE EXCEPTION 'view and source must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF start_ts >= end_ts THEN
		RAISE EXCEPTION 'start_ts must be before end_ts' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	m := regexp_match(view, '^([A-Za-z_][A-Za-z0-9_]*)(?:@([0-9]+))?$');
	IF m IS NULL THEN
		RAISE EXCEPTION 'invalid feature view "%"', view USING ERRCODE = 'invalid_parameter_value',
			HINT = 'Name a feature view, or view@version.';
	END IF;
	vname := m[1];
	ver := m[2]::int;
	IF source NOT IN ('offline', 'online') AND source !~ '^training_set:.' THEN
		RAISE EXCEPTION 'invalid statistics source "%"', source USING ERRCODE = 'invalid_parameter_value',
			HINT = 'The source is offline, online or training_set:<name>.';
	END IF;

	IF source LIKE 'training\_set:%' THEN
		tsname := substr(source, length('training_set:') + 1);
		IF start_ts IS NOT NULL OR end_ts IS NOT NULL THEN
			RAISE EXCEPTION 'start_ts and end_ts apply to the offline and online sources only'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		tsname := mlops._training_set_name(tsname);
		SELECT t.relid::regclass, t.features INTO rel, tsfeats FROM mlops.training_sets t WHERE t.name = tsname;
		IF rel IS NULL OR to_regclass(rel::text) IS NULL THEN
			RAISE EXCEPTION 'training set "%" does not exist', tsname USING ERRCODE = 'undefined_object';
		END IF;
		-- the version of this view that the training set holds
		SELECT array_agg(DISTINCT (x->>'version')::int) INTO vers
		  FROM jsonb_array_elements(tsfeats) x WHERE x->>'view' = vname;
		IF vers IS NULL THEN
			RAISE EXCEPTION 'training set "%" has no features of feature view "%"', tsname, vname
				USING ERRCODE = 'undefined_object';
		ELSIF ver IS NULL AND cardinality(vers) > 1 THEN
			RAISE EXCEPTION 'training set "%" holds several versions of feature view "%"', tsname, vname
				USING ERRCODE = 'invalid_parameter_value', HINT = 'Name one as view@version.';
		ELSIF ver IS NOT NULL AND NOT ver = ANY (vers) THEN
			RAISE EXCEPTION 'training set "%" has no features of feature view "%"', tsname, view
				USING ERRCODE = 'undefined_object',
					  DETAIL = format('It holds version %s.', array_to_string(vers, ', '));
		END IF;
		ver := coalesce(ver, vers[1]);
	ELSIF ver IS NULL THEN
		SELECT max(v.version) INTO ver FROM mlops.feature_views v WHERE v.name = vname;
	END IF;
	SELECT * INTO fv FROM mlops.feature_views v WHERE v.name = vname AND v.version = ver;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'feature view "%" does not exist', view USING ERRCODE = 'undefined_object';
	END IF;
	IF source = 'offline' THEN
		-- it runs as the caller: no volatile code, even if a function changed since
		PERFORM mlops._check_feature_query(fv.query, vname);
	END IF;

	IF source = 'online' THEN
		IF to_regprocedure('mlops.online_table_name(text,int)') IS NOT NULL THEN
			EXECUTE 'SELECT pg_catalog.format(''mlops_online.%I'', mlops.online_table_name($1, $2))'
				INTO q USING vname, ver;
		ELSE
			q := format('mlops_online.%I', vname || '_v' || ver);
		END IF;
		rel := to_regclass(q);
		IF rel IS NULL THEN
			RAISE EXCEPTION 'feature view "%@%" has no online table', vname, ver
				USING ERRCODE = 'undefined_object',
					  HINT = 'Materialize the view first (mlops.materialize).';
		END IF;
	END IF;

	-- the features to read, and how
	FOR f IN SELECT x->>'name' AS name, x->>'type' AS type FROM jsonb_array_elements(fv.features) x LOOP
		colname := f.name;
		IF tsname IS NOT NULL THEN
			CONTINUE WHEN NOT EXISTS (SELECT FROM jsonb_array_elements(tsfeats) x
									   WHERE x->>'view' = vname AND (x->>'version')::int = ver
										 AND x->>'feature' = f.name);
			-- the column is named view__feature when the name clashed
			IF EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = rel AND a.attnum > 0
						AND NOT a.attisdropped AND a.attname = vname || '__' || f.name) THEN
				colname := vname || '__' || f.name;
			END IF;
		END IF;
		IF rel IS NULL THEN
			coltype := f.type::regtype;
		ELSE
			SELECT a.atttypid::regtype INTO coltype FROM pg_attribute a
			 WHERE a.attrelid = rel AND a.attname = colname AND a.attnum > 0 AND NOT a.attisdropped;
			IF NOT FOUND THEN
				RAISE EXCEPTION 'column "%" of feature "%" is missing from %', colname, f.name, rel
					USING ERRCODE = 'undefined_column';
			END IF;
		END IF;
		SELECT * INTO e FROM mlops._feature_stats_expr(colname, coltype);
		names := names || f.name;
		types := types || f.type;
		kinds := kinds || e.kind;
		exprs := exprs || format('%s AS %I', e.expr, f.name);
	END LOOP;

	q := format('SELECT %s FROM %s fs_q', array_to_string(exprs, ', '),
				CASE WHEN rel IS NULL THEN '(' || fv.query || ')' ELSE rel::text END);
	IF start_ts IS NOT NULL OR end_ts IS NOT NULL THEN
		q := q || format(' WHERE fs_q.feature_ts OPERATOR(pg_catalog.>=) %L::pg_catalog.timestamptz'
						 ' AND fs_q.feature_ts OPERATOR(pg_catalog.<) %L::pg_catalog.timestamptz',
						 coalesce(start_ts, '-infinity'), coalesce(end_ts, 'infinity'));
	END IF;

	WITH s AS MATERIALIZED (SELECT * FROM mlops._feature_stats_scan(q)),
		 sn AS (INSERT INTO mlops.feature_stats_snapshots (view, version, source, start_ts, end_ts, row_count)
				SELECT vname, ver, coalesce('training_set:' || tsname, source), start_ts, end_ts,
					   coalesce(max(s.row_count), 0) FROM s
				RETURNING id),
		 ins AS (INSERT INTO mlops.feature_stats (snapshot_id, feature, type, kind, count, null_fraction,
												  mean, std, min, max, quantiles, histogram, top_k)
				 SELECT sn.id, s.feature, d.type, d.kind, s.count,
						s.missing::float8 / nullif(s.row_count, 0), s.mean, s.std, s.min, s.max,
						s.quantiles, s.histogram, s.top_k
				   FROM s JOIN unnest(names, types, kinds) AS d(name, type, kind) ON d.name = s.feature, sn)
	SELECT sn.id INTO snap FROM sn;
	RETURN snap;
END
$$;
COMMENT ON FUNCTION mlops.compute_feature_stats(text, text, timestamptz, timestamptz) IS 'computes and stores a statistics snapshot of a feature view (view or view@N) from its offline query, its online table or a training set (training_set:<name>), optionally for feature_ts in [start_ts, end_ts); returns the snapshot id';

-- the snapshot a reference names for a view: an id, or latest:<source>
CREATE FUNCTION mlops._stats_snapshot(spec text, vname text, ver int)
	RETURNS bigint
	LANGUAGE plpgsql STABLE PARALLEL SAFE AS
$$
DECLARE
	snap record;
	m text[];
BEGIN
	IF spec IS NULL THEN
		RAISE EXCEPTION 'snapshot references must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF spec ~ '^[0-9]{1,18}$' THEN
		SELECT * INTO snap FROM mlops.feature_stats_snapshots s WHERE s.id = spec::bigint;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'statistics snapshot % does not exist', spec USING ERRCODE = 'undefined_object';
		END IF;
		IF snap.view <> vname THEN
			RAISE EXCEPTION 'statistics snapshot % is of feature view "%", not "%"', spec, snap.view, vname
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		RETURN snap.id;
	END IF;
	m := regexp_match(spec, '^latest:(offline|online|training_set:.+)$');
	IF m IS NULL THEN
		RAISE EXCEPTION 'invalid snapshot reference "%"', spec USING ERRCODE = 'invalid_parameter_value',
			HINT = 'Name a snapshot id, latest:offline, latest:online or latest:training_set:<name>.';
	END IF;
	IF m[1] LIKE 'training\_set:%' THEN
		m[1] := 'training_set:' || mlops._training_set_name(substr(m[1], length('training_set:') + 1));
	END IF;
	SELECT * INTO snap FROM mlops.feature_stats_snapshots s
	 WHERE s.view = vname AND s.source = m[1] AND (ver IS NULL OR s.version = ver)
	 ORDER BY s.id DESC LIMIT 1;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'feature view "%" has no % statistics', vname || coalesce('@' || ver, ''), m[1]
			USING ERRCODE = 'undefined_object',
				  HINT = 'Compute them with mlops.compute_feature_stats.';
	END IF;
	RETURN snap.id;
END
$$;
COMMENT ON FUNCTION mlops._stats_snapshot(text, text, int) IS 'internal: the statistics snapshot id that a reference (an id, latest:offline, latest:online, latest:training_set:<name>) names for a feature view (any version when ver is NULL)';

CREATE FUNCTION mlops.feature_drift(view_or_service text, reference text, current text,
									psi_warn float8 DEFAULT 0.1, psi_alert float8 DEFAULT 0.25,
									ks_warn float8 DEFAULT 0.1, ks_alert float8 DEFAULT 0.2)
	RETURNS TABLE (feature text, psi float8, ks float8, status text)
	LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS
$$
#variable_conflict use_column
DECLARE
	m text[];
	t record;
	ref_id bigint;
	cur_id bigint;
	r record;
	c record;
	d record;
	fname text;
	thresholds jsonb;
	targets jsonb;
	cur_version int;
BEGIN
	IF view_or_service IS NULL THEN
		RAISE EXCEPTION 'view_or_service must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF psi_warn IS NULL OR psi_alert IS NULL OR ks_warn IS NULL OR ks_alert IS NULL
		OR NOT (0 <= psi_warn AND psi_warn <= psi_alert AND psi_alert < 'infinity')
		OR NOT (0 <= ks_warn AND ks_warn <= ks_alert AND ks_alert < 'infinity') THEN
		RAISE EXCEPTION 'invalid drift thresholds' USING ERRCODE = 'invalid_parameter_value',
			DETAIL = format('psi_warn %s, psi_alert %s, ks_warn %s, ks_alert %s.',
							coalesce(psi_warn::text, 'NULL'), coalesce(psi_alert::text, 'NULL'),
							coalesce(ks_warn::text, 'NULL'), coalesce(ks_alert::text, 'NULL')),
			HINT = 'Thresholds must satisfy 0 <= warn <= alert.';
	END IF;
	thresholds := jsonb_build_object('psi_warn', psi_warn, 'psi_alert', psi_alert,
									 'ks_warn', ks_warn, 'ks_alert', ks_alert);
	m := regexp_match(view_or_service, '^([A-Za-z_][A-Za-z0-9_]*)(?:@([0-9]+))?$');
	IF m IS NULL THEN
		RAISE EXCEPTION 'invalid feature view or service "%"', view_or_service
			USING ERRCODE = 'invalid_parameter_value';
	END IF;

	-- targets: (view, version or NULL = any, features or NULL = every one in the snapshots)
	SELECT jsonb_build_array(jsonb_build_object('view', m[1], 'version', m[2]::int)) INTO targets
	 WHERE EXISTS (SELECT FROM mlops.feature_views v WHERE v.name = m[1] AND (m[2] IS NULL OR v.version = m[2]::int));
	IF targets IS NULL AND NOT EXISTS (SELECT FROM mlops.feature_views v WHERE v.name = m[1]) THEN
		SELECT jsonb_agg(jsonb_build_object('view', g.view, 'version', g.version, 'features', g.features)
						 ORDER BY g.view) INTO targets
		  FROM (SELECT x->>'view' AS view, (x->>'version')::int AS version,
					   array_agg(x->>'feature' ORDER BY o) AS features
				  FROM mlops.feature_services s, jsonb_array_elements(s.features) WITH ORDINALITY AS y(x, o)
				 WHERE s.name = m[1]
				   AND s.version = coalesce(m[2]::int, (SELECT max(s2.version) FROM mlops.feature_services s2
														  WHERE s2.name = m[1]))
				 GROUP BY 1, 2) g;
		IF jsonb_array_length(targets) > 1 AND (reference ~ '^[0-9]+$' OR current ~ '^[0-9]+$') THEN
			RAISE EXCEPTION 'feature service "%" spans several feature views', view_or_service
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Name its snapshots as latest:offline, latest:online or latest:training_set:<name>.';
		END IF;
	END IF;
	IF targets IS NULL THEN
		RAISE EXCEPTION 'feature view or service "%" does not exist', view_or_service
			USING ERRCODE = 'undefined_object';
	END IF;

	FOR t IN SELECT * FROM jsonb_to_recordset(targets) AS x(view text, version int, features text[]) LOOP
		ref_id := mlops._stats_snapshot(reference, t.view, t.version);
		cur_id := mlops._stats_snapshot(current, t.view, t.version);
		SELECT s.version INTO cur_version FROM mlops.feature_stats_snapshots s WHERE s.id = cur_id;

		FOR fname IN
			SELECT u.f FROM unnest(t.features) WITH ORDINALITY AS u(f, o) WHERE t.features IS NOT NULL
			UNION ALL
			SELECT * FROM (SELECT fs.feature FROM mlops.feature_stats fs
							WHERE t.features IS NULL AND fs.snapshot_id IN (ref_id, cur_id)
							GROUP BY fs.feature ORDER BY fs.feature) a
		LOOP
			SELECT * INTO r FROM mlops.feature_stats fs WHERE fs.snapshot_id = ref_id AND fs.feature = fname;
			SELECT * INTO c FROM mlops.feature_stats fs WHERE fs.snapshot_id = cur_id AND fs.feature = fname;
			feature := fname;
			psi := NULL;
			ks := NULL;
			IF r.snapshot_id IS NULL OR c.snapshot_id IS NULL OR r.count = 0 OR c.count = 0
				OR (r.kind = 'categorical') <> (c.kind = 'categorical') THEN
				status := 'missing';
			ELSE
				IF r.kind = 'categorical' THEN
					psi := mlops._categorical_psi(r.top_k, c.top_k);
				ELSE
					d := mlops._feature_drift_numeric(r.quantiles, c.quantiles);
					psi := d.psi;
					ks := d.ks;
				END IF;
				status := CASE WHEN psi >= psi_alert OR ks >= ks_alert THEN 'alert'
							   WHEN psi >= psi_warn OR ks >= ks_warn THEN 'warn'
							   ELSE 'ok' END;
			END IF;
			INSERT INTO mlops.feature_drift_history (view, version, feature, reference_snapshot,
													 current_snapshot, psi, ks, status, thresholds)
				VALUES (t.view, cur_version, fname, ref_id, cur_id, psi, ks, status, thresholds);
			RETURN NEXT;
		END LOOP;
	END LOOP;
END
$$;
COMMENT ON FUNCTION mlops.feature_drift(text, text, text, float8, float8, float8, float8) IS 'compares two statistics snapshots of a feature view or of each view of a feature service (snapshot id or latest:<source>): PSI and KS per feature with status ok, warn, alert or missing; appends every row to mlops.feature_drift_history';

-- the internal functions too: no role outside mlops_admin may run them
REVOKE ALL ON FUNCTION mlops._feature_stats_scan(text),
	mlops._feature_drift_numeric(float8[], float8[]), mlops._psi_term(float8, float8),
	mlops._categorical_psi(jsonb, jsonb), mlops._feature_stats_expr(text, regtype),
	mlops._training_set_name(text), mlops._stats_snapshot(text, text, int),
	mlops.compute_feature_stats(text, text, timestamptz, timestamptz),
	mlops.feature_drift(text, text, text, float8, float8, float8, float8) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mlops._feature_stats_scan(text),
	mlops._feature_drift_numeric(float8[], float8[]), mlops._psi_term(float8, float8),
	mlops._categorical_psi(jsonb, jsonb), mlops._feature_stats_expr(text, regtype),
	mlops._training_set_name(text), mlops._stats_snapshot(text, text, int),
	mlops.compute_feature_stats(text, text, timestamptz, timestamptz),
	mlops.feature_drift(text, text, text, float8, float8, float8, float8) TO mlops_admin;
