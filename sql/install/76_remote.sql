-- remote: secrets (API keys) of the models that a remote provider serves
-- (src/llm/llmremote.c)
--
-- mlops.secrets is readable by its owner (the extension owner) only: not
-- by PUBLIC, not by mlops_user, not even by mlops_admin.  mlops_admin
-- writes it through mlops.set_secret and mlops.drop_secret (SECURITY
-- DEFINER) and lists it, values left out, through mlops.secret_list.  The
-- C code that calls a provider reads a value as the table's owner (with
-- SetUserIdAndSecContext, in a security-restricted operation), so no SQL
-- function that returns a value exists that anyone could be granted.
--
-- A value never appears in an error message: set_secret checks its
-- arguments itself and raises errors that do not quote them, because a
-- constraint violation would print the whole row in its DETAIL.  The table
-- is not marked for pg_dump (pg_extension_config_dump): dumps leave the
-- values out, and secrets are set again after a restore.  The call text of
-- set_secret, with its literal, is logged when log_statement = 'all' or on
-- an error (log_min_error_statement): docs/llm-serving.md says how to pass
-- the value as a bind parameter instead.

CREATE TABLE mlops.secrets (
	name		text PRIMARY KEY,
	value		text NOT NULL,
	created_by	name NOT NULL DEFAULT session_user,
	created_at	timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE mlops.secrets IS 'API keys of remote providers, by name; readable by the extension owner only (use mlops.secret_list)';
REVOKE ALL ON mlops.secrets FROM PUBLIC;

CREATE FUNCTION mlops.set_secret(name text, value text) RETURNS void
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
	-- the value is never quoted in a message
	IF name IS NULL OR name !~ '^[A-Za-z_][A-Za-z0-9_.-]{0,62}$' THEN
		RAISE EXCEPTION 'invalid secret name'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'A secret name starts with a letter or underscore and has at most 63 letters, digits, underscores, dots and hyphens.';
	END IF;
	IF value IS NULL OR value = '' THEN
		RAISE EXCEPTION 'secret value is empty'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- it goes into an HTTP header: printable ASCII only, no line breaks
	IF value !~ '^[\x21-\x7e]+$' THEN
		RAISE EXCEPTION 'secret value must be printable ASCII without spaces'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF octet_length(value) > 8192 THEN
		RAISE EXCEPTION 'secret value is longer than 8192 bytes'
			USING ERRCODE = 'program_limit_exceeded';
	END IF;
	INSERT INTO mlops.secrets AS s (name, value, created_by, created_at)
		VALUES (set_secret.name, set_secret.value, session_user, now())
		ON CONFLICT ON CONSTRAINT secrets_pkey DO UPDATE
		SET value = excluded.value, created_by = excluded.created_by,
			created_at = excluded.created_at;
END
$$;
COMMENT ON FUNCTION mlops.set_secret(text, text) IS 'stores (or replaces) a provider API key under a name, for a remote model''s "api_key_secret" option; pass the value as a bind parameter so that it is not logged with the statement';

CREATE FUNCTION mlops.drop_secret(name text) RETURNS void
	LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
	DELETE FROM mlops.secrets s WHERE s.name = drop_secret.name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'secret "%" does not exist', drop_secret.name
			USING ERRCODE = 'undefined_object';
	END IF;
END
$$;
COMMENT ON FUNCTION mlops.drop_secret(text) IS 'deletes a provider API key; models that name it fail until it is set again';

REVOKE ALL ON FUNCTION mlops.set_secret(text, text), mlops.drop_secret(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mlops.set_secret(text, text), mlops.drop_secret(text) TO mlops_admin;

-- the view runs with its owner's rights: mlops_admin sees names, never values
CREATE VIEW mlops.secret_list AS
SELECT name, created_by, created_at FROM mlops.secrets;
COMMENT ON VIEW mlops.secret_list IS 'names of the stored provider API keys, who set them and when (values left out)';
REVOKE ALL ON mlops.secret_list FROM PUBLIC;
GRANT SELECT ON mlops.secret_list TO mlops_admin;
