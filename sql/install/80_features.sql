-- features: entities, versioned feature views and services (catalog)
--
-- A feature view reads a source (table, view or query) keyed by its
-- entity's join keys and a timestamp column.  Each definition is stored as
-- a version; its normalized query (keys, feature_ts, features) is what
-- point-in-time joins, materialization and statistics read, always with the
-- caller's privileges.  The functions that read data (src/fs/) are declared
-- in later fragments.

CREATE TABLE mlops.entities (
	name		text PRIMARY KEY CHECK (name ~ '^[A-Za-z_][A-Za-z0-9_]{0,62}$'),
	join_keys	text[] NOT NULL CHECK (cardinality(join_keys) BETWEEN 1 AND 8),
	description text,
	created_at	timestamptz NOT NULL DEFAULT now(),
	created_by	name NOT NULL DEFAULT current_user
);
COMMENT ON TABLE mlops.entities IS 'entities: what features describe (a customer, a product), identified by join key columns';

CREATE TABLE mlops.feature_views (
	name		text NOT NULL CHECK (name ~ '^[A-Za-z_][A-Za-z0-9_]{0,62}$'),
	version		int NOT NULL CHECK (version > 0),
	entity		text NOT NULL REFERENCES mlops.entities (name),
	source		text NOT NULL,
	timestamp_column text NOT NULL,
	-- [{"name": ..., "expr": ..., "type": ...}] in order
	features	jsonb NOT NULL,
	ttl			interval CHECK (ttl IS NULL OR ttl >= interval '0'),
	online		bool NOT NULL DEFAULT true,
	description text,
	tags		jsonb NOT NULL DEFAULT '{}',
	-- SELECT <join keys>, <timestamp>::timestamptz AS feature_ts, <expr> AS <name>, ... FROM <source>
	query		text NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	created_by	name NOT NULL DEFAULT current_user,
	PRIMARY KEY (name, version)
);
COMMENT ON TABLE mlops.feature_views IS 'feature view definitions, one row per version; a redefinition adds a version and old versions stay readable';

CREATE TABLE mlops.feature_services (
	name		text NOT NULL CHECK (name ~ '^[A-Za-z_][A-Za-z0-9_]{0,62}$'),
	version		int NOT NULL CHECK (version > 0),
	-- [{"view": ..., "version": n, "feature": ...}] in order
	features	jsonb NOT NULL,
	description text,
	created_at	timestamptz NOT NULL DEFAULT now(),
	created_by	name NOT NULL DEFAULT current_user,
	PRIMARY KEY (name, version)
);
COMMENT ON TABLE mlops.feature_services IS 'feature services: named, versioned lists of view features that a model consumes';

GRANT SELECT ON mlops.entities, mlops.feature_views, mlops.feature_services TO mlops_user;
GRANT INSERT ON mlops.entities, mlops.feature_views, mlops.feature_services TO mlops_admin;
GRANT UPDATE (description, tags) ON mlops.feature_views TO mlops_admin;

-- feature types a view may serve
CREATE FUNCTION mlops._feature_type_ok(t regtype) RETURNS bool
	LANGUAGE sql STABLE STRICT PARALLEL SAFE
	RETURN t IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype, 'real'::regtype,
				 'double precision'::regtype, 'numeric'::regtype, 'boolean'::regtype,
				 'text'::regtype, 'character varying'::regtype, 'character'::regtype,
				 'timestamp with time zone'::regtype, 'timestamp without time zone'::regtype,
				 'date'::regtype, 'real[]'::regtype, 'double precision[]'::regtype,
				 'vector'::regtype)
		OR (SELECT typtype = 'e' FROM pg_type WHERE oid = t);
COMMENT ON FUNCTION mlops._feature_type_ok(regtype) IS 'internal: whether a feature may have this type (numbers, booleans, text, enums, times, vectors, real[] and float8[])';

-- FROM item of a source: a query in parentheses, or a relation that exists
CREATE FUNCTION mlops._source_from(source text) RETURNS text
	LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE AS
$$
DECLARE
	s text := btrim(source, E' \t\r\n;');
BEGIN
	IF s = '' THEN
		RAISE EXCEPTION 'source must not be empty' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF s ~* '^\s*(\(|select\M|with\M|values\M|table\M)' THEN
		PERFORM mlops._check_single_select(s);
		RETURN '(' || s || E'\n) AS fs_source';
	END IF;
	IF to_regclass(s) IS NULL THEN
		RAISE EXCEPTION 'relation "%" does not exist', s USING ERRCODE = 'undefined_table',
			HINT = 'The source is a table or view name, or a query starting with SELECT, WITH, VALUES or TABLE.';
	END IF;
	-- schema-qualified: readers' search_path must not pick another table
	RETURN (SELECT format('%I.%I', n.nspname, c.relname)
			  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
			 WHERE c.oid = to_regclass(s));
END
$$;
COMMENT ON FUNCTION mlops._source_from(text) IS 'internal: the FROM item that reads a source (table, view or query)';

CREATE FUNCTION mlops._check_feature_query(query text, view text) RETURNS void
	AS 'MODULE_PATHNAME', 'fs_check_feature_query'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mlops._check_feature_query(text, text) IS 'internal: raises an error unless a feature view query is one SELECT without volatile functions';

-- Catalog rows record who defined them, whatever the INSERT says, and a
-- feature view row must be well formed, however it was written.
CREATE FUNCTION mlops._catalog_row_check() RETURNS trigger
	LANGUAGE plpgsql AS
$$
BEGIN
	NEW.created_by := current_user;
	NEW.created_at := now();
	IF TG_TABLE_NAME = 'feature_views' THEN
		IF jsonb_typeof(NEW.features) <> 'array' OR jsonb_array_length(NEW.features) = 0
			OR EXISTS (SELECT FROM jsonb_array_elements(NEW.features) f
					   WHERE jsonb_typeof(f) <> 'object' OR jsonb_typeof(f->'name') IS DISTINCT FROM 'string'
						  OR jsonb_typeof(f->'expr') IS DISTINCT FROM 'string'
						  OR jsonb_typeof(f->'type') IS DISTINCT FROM 'string') THEN
			RAISE EXCEPTION 'feature view "%" has malformed features', NEW.name
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		PERFORM mlops._check_feature_query(NEW.query, NEW.name);
	END IF;
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION mlops._catalog_row_check() IS 'trigger: sets created_by and created_at, and checks a feature view row''s features and query';
CREATE TRIGGER entities_check BEFORE INSERT ON mlops.entities
	FOR EACH ROW EXECUTE FUNCTION mlops._catalog_row_check();
CREATE TRIGGER feature_views_check BEFORE INSERT ON mlops.feature_views
	FOR EACH ROW EXECUTE FUNCTION mlops._catalog_row_check();
CREATE TRIGGER feature_services_check BEFORE INSERT ON mlops.feature_services
	FOR EACH ROW EXECUTE FUNCTION mlops._catalog_row_check();

CREATE FUNCTION mlops.create_entity(name text, join_keys text[], description text DEFAULT NULL)
	RETURNS text
	LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS
$$
BEGIN
	IF name IS NULL OR join_keys IS NULL THEN
		RAISE EXCEPTION 'name and join_keys must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF name !~ '^[A-Za-z_][A-Za-z0-9_]{0,62}$' THEN
		RAISE EXCEPTION 'invalid entity name "%"', name USING ERRCODE = 'invalid_name',
			HINT = 'Use letters, digits and underscores, starting with a letter or underscore.';
	END IF;
	IF cardinality(join_keys) = 0 OR array_position(join_keys, NULL) IS NOT NULL
		OR (SELECT count(DISTINCT k) FROM unnest(join_keys) k) <> cardinality(join_keys) THEN
		RAISE EXCEPTION 'join_keys must be distinct, non-NULL column names' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF EXISTS (SELECT FROM mlops.entities e WHERE e.name = create_entity.name) THEN
		RAISE EXCEPTION 'entity "%" already exists', name USING ERRCODE = 'duplicate_object';
	END IF;
	INSERT INTO mlops.entities (name, join_keys, description) VALUES (name, join_keys, description);
	RETURN name;
END
$$;
COMMENT ON FUNCTION mlops.create_entity(text, text[], text) IS 'registers an entity and the columns that identify it';

-- one feature spec: a column name, or "expression AS name"
CREATE FUNCTION mlops._parse_feature(spec text, OUT expr text, OUT fname text)
	LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS
$$
DECLARE
	m text[];
BEGIN
	m := regexp_match(spec, '^(.*\S)\s+as\s+("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)\s*$', 'is');
	IF m IS NULL THEN
		expr := quote_ident(btrim(spec));
		fname := btrim(spec);
	ELSE
		expr := m[1];
		fname := CASE WHEN left(m[2], 1) = '"' THEN replace(substr(m[2], 2, length(m[2]) - 2), '""', '"')
					  ELSE lower(m[2]) END;
	END IF;
	IF fname = '' THEN
		RAISE EXCEPTION 'empty feature in "%"', spec USING ERRCODE = 'invalid_parameter_value';
	END IF;
END
$$;
COMMENT ON FUNCTION mlops._parse_feature(text) IS 'internal: the SQL expression and name of a feature spec (a column, or "expression AS name")';

CREATE FUNCTION mlops.create_feature_view(name text, entity text, source text, timestamp_column text,
										  features text[], ttl interval DEFAULT NULL,
										  online bool DEFAULT true, description text DEFAULT NULL,
										  tags jsonb DEFAULT '{}')
	RETURNS int
	LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS
$$
DECLARE
	keys text[];
	src text;
	spec text;
	p record;
	feats jsonb := '[]';
	names text[] := '{}';
	cols text;
	q text;
	tstype regtype;
	rec record;
	v int;
	last record;
BEGIN
	IF name IS NULL OR entity IS NULL OR source IS NULL OR timestamp_column IS NULL OR features IS NULL THEN
		RAISE EXCEPTION 'name, entity, source, timestamp_column and features must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF name !~ '^[A-Za-z_][A-Za-z0-9_]{0,62}$' THEN
		RAISE EXCEPTION 'invalid feature view name "%"', name USING ERRCODE = 'invalid_name',
			HINT = 'Use letters, digits and underscores, starting with a letter or underscore.';
	END IF;
	SELECT e.join_keys INTO keys FROM mlops.entities e WHERE e.name = create_feature_view.entity;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'entity "%" does not exist', entity USING ERRCODE = 'undefined_object';
	END IF;
	IF ttl < interval '0' THEN
		RAISE EXCEPTION 'ttl must not be negative' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF cardinality(features) = 0 THEN
		RAISE EXCEPTION 'a feature view needs at least one feature' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	src := mlops._source_from(source);

	-- the join keys and the timestamp column must exist in the source
	FOR rec IN SELECT k FROM unnest(keys || timestamp_column) k LOOP
		BEGIN
			EXECUTE format('SELECT %I FROM %s LIMIT 0', rec.k, src);
		EXCEPTION WHEN undefined_column THEN
			RAISE EXCEPTION 'column "%" does not exist in the source of feature view "%"', rec.k, name
				USING ERRCODE = 'undefined_column';
		END;
	END LOOP;
	-- the type of a column without rows: from a typed NULL row
	EXECUTE format('SELECT pg_typeof(t.%I) FROM (SELECT * FROM %s LIMIT 0) t RIGHT JOIN (SELECT 1) o ON true',
				   timestamp_column, src) INTO tstype;
	IF tstype NOT IN ('timestamp with time zone'::regtype, 'timestamp without time zone'::regtype, 'date'::regtype) THEN
		RAISE EXCEPTION 'timestamp_column "%" is %, not a timestamp', timestamp_column, tstype
			USING ERRCODE = 'datatype_mismatch';
	END IF;

	-- features: names distinct, not a key, types supported
	FOREACH spec IN ARRAY features LOOP
		IF spec IS NULL THEN
			RAISE EXCEPTION 'features must not contain NULL' USING ERRCODE = 'null_value_not_allowed';
		END IF;
		p := mlops._parse_feature(spec);
		IF p.fname = ANY (names) THEN
			RAISE EXCEPTION 'feature "%" is defined twice', p.fname USING ERRCODE = 'duplicate_column';
		END IF;
		IF p.fname = ANY (keys) OR p.fname IN ('feature_ts', 'materialized_at') THEN
			RAISE EXCEPTION 'feature "%" has the name of a join key, of feature_ts or of materialized_at', p.fname
				USING ERRCODE = 'duplicate_column';
		END IF;
		BEGIN
			EXECUTE format('SELECT pg_typeof(%s) FROM (SELECT * FROM %s LIMIT 0) t RIGHT JOIN (SELECT 1) o ON true',
						   p.expr, src) INTO tstype;
		EXCEPTION WHEN undefined_column THEN
			RAISE EXCEPTION 'feature "%": %', p.fname, SQLERRM USING ERRCODE = 'undefined_column';
		END;
		IF NOT mlops._feature_type_ok(tstype) THEN
			RAISE EXCEPTION 'feature "%" has type %, which a feature view cannot serve', p.fname, tstype
				USING ERRCODE = 'feature_not_supported',
					  HINT = 'Features are numbers, booleans, text, enums, timestamps, dates, vectors, real[] or float8[]; cast the others.';
		END IF;
		names := names || p.fname;
		feats := feats || jsonb_build_object('name', p.fname, 'expr', p.expr, 'type', tstype::text);
	END LOOP;

	SELECT string_agg(format('%I', k), ', ') INTO cols FROM unnest(keys) k;
	q := format('SELECT %s, (%I)::pg_catalog.timestamptz AS feature_ts', cols, timestamp_column);
	FOR p IN SELECT f->>'expr' AS expr, f->>'name' AS fname FROM jsonb_array_elements(feats) f LOOP
		q := q || format(', (%s) AS %I', p.expr, p.fname);
	END LOOP;
	q := q || ' FROM ' || src;
	PERFORM mlops._check_feature_query(q, name);
	EXECUTE q || ' LIMIT 0';		-- it must run

	-- same definition as the latest version: nothing new
	PERFORM pg_advisory_xact_lock(hashtext('mlops.feature_views'), hashtext(name));
	SELECT * INTO last FROM mlops.feature_views fv WHERE fv.name = create_feature_view.name
	 ORDER BY version DESC LIMIT 1;
	IF FOUND AND last.entity = entity AND last.source = source AND last.timestamp_column = timestamp_column
		AND last.features = feats AND last.ttl IS NOT DISTINCT FROM ttl AND last.online = online THEN
		-- the same features: a new description or tags change no data, no version
		IF last.description IS DISTINCT FROM description OR last.tags <> coalesce(tags, '{}') THEN
			UPDATE mlops.feature_views fv SET description = create_feature_view.description,
											 tags = coalesce(create_feature_view.tags, '{}')
			 WHERE fv.name = create_feature_view.name AND fv.version = last.version;
		END IF;
		RETURN last.version;
	END IF;
	v := coalesce(last.version, 0) + 1;
	INSERT INTO mlops.feature_views (name, version, entity, source, timestamp_column, features, ttl,
									 online, description, tags, query)
		VALUES (name, v, entity, source, timestamp_column, feats, ttl, online, description,
				coalesce(tags, '{}'), q);
	RETURN v;
END
$$;
COMMENT ON FUNCTION mlops.create_feature_view(text, text, text, text, text[], interval, bool, text, jsonb) IS 'defines a feature view (a new version when its data definition changed; a new description or tags update the latest version); features are column names or "expression AS name" without volatile functions; returns the version';

-- a feature reference: view:feature, view@N:feature or view:* (N: version)
CREATE FUNCTION mlops.resolve_features(refs text[])
	RETURNS TABLE (view text, version int, feature text, type text, ordinal int)
	LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE AS
$$
DECLARE
	r text;
	m text[];
	v int;
	n int := 0;
	f jsonb;
	found_one bool;
BEGIN
	IF cardinality(refs) = 0 THEN
		RAISE EXCEPTION 'no features requested' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	FOREACH r IN ARRAY refs LOOP
		IF r IS NULL THEN
			RAISE EXCEPTION 'feature references must not be NULL' USING ERRCODE = 'null_value_not_allowed';
		END IF;
		m := regexp_match(r, '^([A-Za-z_][A-Za-z0-9_]*)(?:@([0-9]+))?:(\*|.+)$');
		IF m IS NULL THEN
			RAISE EXCEPTION 'invalid feature reference "%"', r USING ERRCODE = 'invalid_parameter_value',
				HINT = 'Write view:feature, view@version:feature or view:*.';
		END IF;
		IF m[2] IS NULL THEN
			SELECT max(fv.version) INTO v FROM mlops.feature_views fv WHERE fv.name = m[1];
		ELSE
			SELECT fv.version INTO v FROM mlops.feature_views fv WHERE fv.name = m[1] AND fv.version = m[2]::int;
		END IF;
		IF v IS NULL THEN
			RAISE EXCEPTION 'feature view "%" does not exist', m[1] || coalesce('@' || m[2], '')
				USING ERRCODE = 'undefined_object';
		END IF;
		found_one := false;
		FOR f IN SELECT e FROM mlops.feature_views fv, jsonb_array_elements(fv.features) e
				  WHERE fv.name = m[1] AND fv.version = v LOOP
			IF m[3] = '*' OR f->>'name' = m[3] THEN
				n := n + 1;
				view := m[1]; version := v; feature := f->>'name'; type := f->>'type'; ordinal := n;
				found_one := true;
				RETURN NEXT;
			END IF;
		END LOOP;
		IF NOT found_one THEN
			RAISE EXCEPTION 'feature view "%" has no feature "%"', m[1], m[3] USING ERRCODE = 'undefined_column';
		END IF;
	END LOOP;
END
$$;
COMMENT ON FUNCTION mlops.resolve_features(text[]) IS 'the view, version, name and type of each feature that references (view:feature, view@N:feature, view:*) name';

CREATE FUNCTION mlops.create_feature_service(name text, features text[], description text DEFAULT NULL)
	RETURNS int
	LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS
$$
DECLARE
	feats jsonb;
	last record;
	v int;
BEGIN
	IF name IS NULL OR features IS NULL THEN
		RAISE EXCEPTION 'name and features must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF name !~ '^[A-Za-z_][A-Za-z0-9_]{0,62}$' THEN
		RAISE EXCEPTION 'invalid feature service name "%"', name USING ERRCODE = 'invalid_name';
	END IF;
	SELECT jsonb_agg(jsonb_build_object('view', r.view, 'version', r.version, 'feature', r.feature)
					 ORDER BY r.ordinal)
	  INTO feats FROM mlops.resolve_features(features) r;
	IF (SELECT count(*) FROM jsonb_array_elements(feats) e) <>
	   (SELECT count(DISTINCT e->>'feature') FROM jsonb_array_elements(feats) e) THEN
		RAISE EXCEPTION 'feature service "%" names one feature name twice', name
			USING ERRCODE = 'duplicate_column';
	END IF;
	PERFORM pg_advisory_xact_lock(hashtext('mlops.feature_services'), hashtext(name));
	SELECT * INTO last FROM mlops.feature_services fs WHERE fs.name = create_feature_service.name
	 ORDER BY version DESC LIMIT 1;
	IF FOUND AND last.features = feats AND last.description IS NOT DISTINCT FROM description THEN
		RETURN last.version;
	END IF;
	v := coalesce(last.version, 0) + 1;
	INSERT INTO mlops.feature_services (name, version, features, description)
		VALUES (name, v, feats, description);
	RETURN v;
END
$$;
COMMENT ON FUNCTION mlops.create_feature_service(text, text[], text) IS 'defines a feature service (a new version when its features changed), pinning each referenced view''s version; returns the version';

-- a service's feature references, pinned: service or service@N
CREATE FUNCTION mlops.service_features(service text) RETURNS text[]
	LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE AS
$$
DECLARE
	m text[] := regexp_match(service, '^([^@]+)(?:@([0-9]+))?$');
	refs text[];
BEGIN
	SELECT array_agg(format('%s@%s:%s', e->>'view', e->>'version', e->>'feature') ORDER BY o)
	  INTO refs
	  FROM mlops.feature_services fs, jsonb_array_elements(fs.features) WITH ORDINALITY AS x(e, o)
	 WHERE fs.name = m[1]
	   AND fs.version = coalesce(m[2]::int, (SELECT max(version) FROM mlops.feature_services WHERE name = m[1]));
	IF refs IS NULL THEN
		RAISE EXCEPTION 'feature service "%" does not exist', service USING ERRCODE = 'undefined_object';
	END IF;
	RETURN refs;
END
$$;
COMMENT ON FUNCTION mlops.service_features(text) IS 'the pinned feature references (view@N:feature) of a feature service (name or name@N)';

REVOKE ALL ON FUNCTION mlops.create_entity(text, text[], text),
	mlops.create_feature_view(text, text, text, text, text[], interval, bool, text, jsonb),
	mlops.create_feature_service(text, text[], text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mlops.create_entity(text, text[], text),
	mlops.create_feature_view(text, text, text, text, text[], interval, bool, text, jsonb),
	mlops.create_feature_service(text, text[], text) TO mlops_admin;

CREATE VIEW mlops.entity_list AS
SELECT e.name, e.join_keys, e.description, e.created_at, e.created_by,
	   (SELECT count(DISTINCT fv.name) FROM mlops.feature_views fv WHERE fv.entity = e.name) AS feature_views
  FROM mlops.entities e;
COMMENT ON VIEW mlops.entity_list IS 'entities with their join keys and number of feature views';

CREATE VIEW mlops.feature_view_list AS
SELECT fv.name, fv.version,
	   fv.version = max(fv.version) OVER (PARTITION BY fv.name) AS latest,
	   fv.entity, fv.source, fv.timestamp_column, jsonb_array_length(fv.features) AS features,
	   fv.ttl, fv.online, fv.description, fv.tags, fv.created_at, fv.created_by
  FROM mlops.feature_views fv;
COMMENT ON VIEW mlops.feature_view_list IS 'every version of every feature view; latest marks the version that view:feature references use';

CREATE VIEW mlops.feature_list AS
SELECT fv.name AS view, fv.version, f.o::int AS position, f.e->>'name' AS feature,
	   f.e->>'type' AS type, f.e->>'expr' AS expression,
	   fv.version = max(fv.version) OVER (PARTITION BY fv.name) AS latest
  FROM mlops.feature_views fv, jsonb_array_elements(fv.features) WITH ORDINALITY AS f(e, o);
COMMENT ON VIEW mlops.feature_list IS 'every feature of every feature view version, with its type and expression';

CREATE VIEW mlops.feature_service_list AS
SELECT fs.name, fs.version, fs.description, fs.created_at,
	   array_agg(format('%s@%s:%s', e->>'view', e->>'version', e->>'feature') ORDER BY o) AS features
  FROM mlops.feature_services fs, jsonb_array_elements(fs.features) WITH ORDINALITY AS x(e, o)
 GROUP BY fs.name, fs.version, fs.description, fs.created_at;
COMMENT ON VIEW mlops.feature_service_list IS 'every version of every feature service with its pinned feature references';

GRANT SELECT ON mlops.entity_list, mlops.feature_view_list, mlops.feature_list,
	mlops.feature_service_list TO mlops_user;
