-- pgmlops install script.  Assembled by the Makefile from sql/install/*.sql
-- in name order; each fragment belongs to one subsystem.

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION pgmlops" to load this file. \quit

-- The ML and LLM API and catalogs live in schema mlops; the vector types,
-- operators and access method go to the schema the extension is created in.
CREATE SCHEMA mlops;
COMMENT ON SCHEMA mlops IS 'pgmlops: feature store, model registry, training and inference';
GRANT USAGE ON SCHEMA mlops TO PUBLIC;

CREATE FUNCTION mlops.compute_device() RETURNS text
	AS 'MODULE_PATHNAME', 'compute_device_name'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mlops.compute_device() IS 'device that mlops.device selects in this session: cpu, or cuda with the GPU name';
