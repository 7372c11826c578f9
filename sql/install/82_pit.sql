-- point-in-time joins and training sets (src/fs/fspit.c)
--
-- get_historical_features joins an entity source (join keys, an event
-- timestamp, labels) with feature views: each feature gets the value of the
-- latest row at or before the event timestamp, within the view's ttl.  A
-- feature list may name services as 'service:NAME' or 'service:NAME@N'.
-- create_training_set materializes such a join into a table and records
-- the pinned view versions, the row count and a checksum.  SQL that these
-- functions build names pg_catalog's functions and operators, so that the
-- caller's search_path cannot redirect them.

-- feature references with each 'service:NAME[@N]' replaced by its pinned features
CREATE FUNCTION mlops._pit_expand_refs(refs text[]) RETURNS text[]
	LANGUAGE sql STABLE PARALLEL SAFE
	RETURN (SELECT coalesce(array_agg(s.x ORDER BY u.o, s.o2), '{}')
			  FROM unnest(refs) WITH ORDINALITY AS u(r, o),
				   LATERAL unnest(CASE WHEN u.r LIKE 'service:%' THEN mlops.service_features(substr(u.r, 9))
									   ELSE ARRAY[u.r] END) WITH ORDINALITY AS s(x, o2));
COMMENT ON FUNCTION mlops._pit_expand_refs(text[]) IS 'internal: feature references with each service:NAME[@N] replaced by the service''s pinned references';

CREATE FUNCTION mlops.get_historical_features(entities text, features text[],
											  event_timestamp_column text DEFAULT 'event_timestamp')
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'get_historical_features'
	LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION mlops.get_historical_features(text, text[], text) IS 'point-in-time join: every entity row with, for each feature, the value of the latest row at or before its event timestamp and within the view''s ttl (else NULL); needs AS t(...) as mlops.historical_features_columns gives it';

CREATE FUNCTION mlops.historical_features_columns(entities text, features text[],
												  event_timestamp_column text DEFAULT 'event_timestamp')
	RETURNS text
	AS 'MODULE_PATHNAME', 'historical_features_columns'
	LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION mlops.historical_features_columns(text, text[], text) IS 'the column definition list (name type, ...) that get_historical_features needs for these arguments';

CREATE TABLE mlops.training_sets (
	name		text PRIMARY KEY,		-- the table's schema-qualified name
	relid		oid NOT NULL,
	entities	text NOT NULL,
	-- [{"view": ..., "version": n, "feature": ...}] in output order
	features	jsonb NOT NULL,
	event_timestamp_column text NOT NULL,
	row_count	bigint NOT NULL,
	checksum	text NOT NULL,			-- mlops.training_set_checksum at creation
	created_at	timestamptz NOT NULL DEFAULT now(),
	created_by	name NOT NULL DEFAULT current_user
);
COMMENT ON TABLE mlops.training_sets IS 'training sets that create_training_set materialized: the pinned feature view versions, row count and checksum';
GRANT SELECT ON mlops.training_sets TO mlops_user;
GRANT INSERT, UPDATE ON mlops.training_sets TO mlops_admin;

-- the sums of two 64-bit hashes of each row's stored values (src/fs/fspitsum.c)
CREATE FUNCTION mlops.training_set_checksum(tbl regclass) RETURNS text
	AS 'MODULE_PATHNAME', 'training_set_checksum'
	LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION mlops.training_set_checksum(regclass) IS 'order-independent checksum of a table''s rows (32 hex digits: sums of two 64-bit hashes of each row''s stored values; no session setting changes it); compare with mlops.training_sets.checksum';

CREATE FUNCTION mlops.create_training_set(name text, entities text, features text[],
										  event_timestamp_column text DEFAULT 'event_timestamp')
	RETURNS bigint
	LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS
$$
DECLARE
	parts text[];
	qname text;
	pinned text[];
	pinned_json jsonb;
	cols text;
	n bigint;
	rel oid;
BEGIN
	IF name IS NULL OR entities IS NULL OR features IS NULL OR event_timestamp_column IS NULL THEN
		RAISE EXCEPTION 'name, entities, features and event_timestamp_column must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	parts := pg_catalog.parse_ident(name);
	IF pg_catalog.cardinality(parts) OPERATOR(pg_catalog.=) 1 THEN
		qname := pg_catalog.format('%I.%I', pg_catalog.current_schema(), parts[1]);
	ELSIF pg_catalog.cardinality(parts) OPERATOR(pg_catalog.=) 2 THEN
		qname := pg_catalog.format('%I.%I', parts[1], parts[2]);
	ELSE
		RAISE EXCEPTION 'invalid training set name "%"', name USING ERRCODE = 'invalid_name',
			HINT = 'Write table or schema.table.';
	END IF;
	IF pg_catalog.current_schema() IS NULL AND pg_catalog.cardinality(parts) OPERATOR(pg_catalog.=) 1 THEN
		RAISE EXCEPTION 'no schema has been selected to create the training set in'
			USING ERRCODE = 'invalid_schema_name';
	END IF;
	IF pg_catalog.to_regclass(qname) IS NOT NULL THEN
		RAISE EXCEPTION 'relation "%" already exists', qname USING ERRCODE = 'duplicate_table',
			HINT = 'Choose another name, or drop the table first.';
	END IF;

	-- pin the view versions first: the join reads exactly what is recorded
	SELECT pg_catalog.array_agg(pg_catalog.format('%s@%s:%s', r.view, r.version, r.feature) ORDER BY r.ordinal),
		   pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('view', r.view, 'version', r.version, 'feature', r.feature)
					 ORDER BY r.ordinal)
	  INTO pinned, pinned_json
	  FROM mlops.resolve_features(mlops._pit_expand_refs(features)) r;
	cols := mlops.historical_features_columns(entities, pinned, event_timestamp_column);
	EXECUTE pg_catalog.format('CREATE TABLE %s AS SELECT * FROM mlops.get_historical_features(%L, %L, %L) AS t(%s)',
				   qname, entities, pinned, event_timestamp_column, cols);
	GET DIAGNOSTICS n = ROW_COUNT;
	rel := pg_catalog.to_regclass(qname);

	-- a record left by a table that was dropped since is replaced
	INSERT INTO mlops.training_sets AS ts (name, relid, entities, features, event_timestamp_column,
										   row_count, checksum)
		VALUES (qname, rel, entities, pinned_json, event_timestamp_column, n,
				mlops.training_set_checksum(rel))
		ON CONFLICT ON CONSTRAINT training_sets_pkey DO UPDATE
		SET relid = EXCLUDED.relid, entities = EXCLUDED.entities, features = EXCLUDED.features,
			event_timestamp_column = EXCLUDED.event_timestamp_column,
			row_count = EXCLUDED.row_count, checksum = EXCLUDED.checksum,
			created_at = pg_catalog.now(), created_by = current_user;
	RETURN n;
END
$$;
COMMENT ON FUNCTION mlops.create_training_set(text, text, text[], text) IS 'materializes a point-in-time join into a new table (usable as a mlops.train source) and records it in mlops.training_sets; returns the row count';

REVOKE ALL ON FUNCTION mlops.get_historical_features(text, text[], text),
	mlops.historical_features_columns(text, text[], text),
	mlops.training_set_checksum(regclass),
	mlops.create_training_set(text, text, text[], text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mlops.get_historical_features(text, text[], text),
	mlops.historical_features_columns(text, text[], text),
	mlops.training_set_checksum(regclass) TO mlops_user;
GRANT EXECUTE ON FUNCTION mlops.create_training_set(text, text, text[], text) TO mlops_admin;
