-- llm serving: generation and embedding models in the model registry,
-- served by the inference workers (or a remote provider)
--
-- A registration is a version of a model of task 'text-generation' or
-- 'embedding' in mlops.models / mlops.model_versions: source is the
-- model's location (a directory under mlops.model_dir, or a provider URL
-- such as openai://host/model), hyperparams its options, algorithm its
-- architecture (llama, qwen2, bert...) or provider, device 'local' or
-- 'remote', data_checksum the sha256 of its config, tokenizer and
-- weights.  The first version of a model becomes its production alias;
-- later ones are deployed with mlops.deploy like trained models.

CREATE FUNCTION mlops._llm_inspect(path text, task text, options jsonb)
	RETURNS jsonb
	AS 'MODULE_PATHNAME', 'llm_inspect'
	LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION mlops._llm_inspect(text, text, jsonb) IS 'internal: checks a model for mlops.register_model (it loads) and describes it';
REVOKE ALL ON FUNCTION mlops._llm_inspect(text, text, jsonb) FROM PUBLIC;

CREATE FUNCTION mlops.register_model(name text, path text, task text, options jsonb DEFAULT '{}')
	RETURNS int
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
	info jsonb;
	v int;
	old_task text;
BEGIN
	IF name IS NULL OR path IS NULL OR task IS NULL OR options IS NULL THEN
		RAISE EXCEPTION 'name, path, task and options must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF task NOT IN ('text-generation', 'embedding') THEN
		RAISE EXCEPTION 'task must be "text-generation" or "embedding", not "%"', task
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Trained models are registered by mlops.train.';
	END IF;
	IF name !~ '^[A-Za-z_][A-Za-z0-9_.-]{0,62}$' THEN
		RAISE EXCEPTION 'invalid model name "%"', name USING ERRCODE = 'invalid_name',
			HINT = 'A name starts with a letter or _ and holds letters, digits, _, . and - (at most 63).';
	END IF;
	info := mlops._llm_inspect(path, task, options);
	SELECT m.task INTO old_task FROM mlops.models m WHERE m.name = register_model.name FOR UPDATE;
	IF NOT FOUND THEN
		INSERT INTO mlops.models (name, task, owner) VALUES (register_model.name, task, session_user);
	ELSIF old_task <> task THEN
		RAISE EXCEPTION 'model "%" has task "%", not "%"', name, old_task, task
			USING ERRCODE = 'wrong_object_type';
	END IF;
	UPDATE mlops.models m SET last_version = m.last_version + 1
	 WHERE m.name = register_model.name RETURNING m.last_version INTO v;
	INSERT INTO mlops.model_versions
		(model, version, algorithm, hyperparams, preprocessing, features, metrics, artifact,
		 created_by, source, row_count, train_rows, test_rows, data_checksum, seed, test_fraction,
		 extension_version, device, train_seconds)
	VALUES (register_model.name, v, info ->> 'algorithm', options, '{}', '[]', '{}', '\x',
			session_user, path, 0, 0, 0, info ->> 'checksum', 0, 0,
			(SELECT extversion FROM pg_extension WHERE extname = 'pgmlops'),
			info ->> 'device', 0);
	IF NOT EXISTS (SELECT FROM mlops.model_aliases a
				   WHERE a.model = register_model.name AND a.alias = 'production') THEN
		PERFORM mlops._move_alias(register_model.name, 'production', v, 'deploy');
	END IF;
	RETURN v;
END
$$;
COMMENT ON FUNCTION mlops.register_model(text, text, text, jsonb) IS 'registers a new version of a text-generation or embedding model: path is a directory under mlops.model_dir or a provider location (openai://host/model, ollama+http://host:port/model); options: dtype and kv_cache_mb (local) or api_key_secret, timeout_ms, max_attempts, embed_batch_inputs, embed_batch_tokens, tokenizer (remote); returns the version, which becomes production if the model had none';

CREATE FUNCTION mlops.load_model(model text)
	RETURNS bool
	AS 'MODULE_PATHNAME', 'llm_load_model'
	LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION mlops.load_model(text) IS 'loads a registered local model (name, name@N or name@alias) into its inference worker now, instead of at its first use';

CREATE FUNCTION mlops.unload_model(model text)
	RETURNS bool
	AS 'MODULE_PATHNAME', 'llm_unload_model'
	LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION mlops.unload_model(text) IS 'unloads a local model from its inference worker; false if it was not loaded, an error while requests use it';

-- Embedding is STABLE: the result depends on the registry (an alias may
-- move) and on files on the server, not on the transaction's data.
CREATE FUNCTION mlops.embed(model text, input text)
	RETURNS vector
	AS 'MODULE_PATHNAME', 'llm_embed'
	LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION mlops.embed(text, text) IS 'sentence embedding of a text by a registered embedding model (local: the inference worker; remote: its provider)';

CREATE FUNCTION mlops.embed(model text, inputs text[])
	RETURNS vector[]
	AS 'MODULE_PATHNAME', 'llm_embed_array'
	LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION mlops.embed(text, text[]) IS 'sentence embeddings of many texts in one batched request, in input order';

-- Generation samples: VOLATILE, even when greedy.
CREATE FUNCTION mlops.generate(model text, prompt text, max_tokens int DEFAULT 256,
							   temperature float8 DEFAULT 0, top_p float8 DEFAULT 1,
							   seed int DEFAULT NULL, stop text[] DEFAULT NULL,
							   options jsonb DEFAULT '{}')
	RETURNS text
	AS 'MODULE_PATHNAME', 'llm_generate'
	LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION mlops.generate(text, text, int, float8, float8, int, text[], jsonb) IS 'text generated from a prompt by a registered text-generation model; options: top_k, min_p, repetition_penalty, ignore_eos; NULL model or prompt gives NULL';

CREATE FUNCTION mlops.generate_stream(model text, prompt text, max_tokens int DEFAULT 256,
									  temperature float8 DEFAULT 0, top_p float8 DEFAULT 1,
									  seed int DEFAULT NULL, stop text[] DEFAULT NULL,
									  options jsonb DEFAULT '{}')
	RETURNS SETOF text
	AS 'MODULE_PATHNAME', 'llm_generate_stream'
	LANGUAGE C VOLATILE PARALLEL RESTRICTED ROWS 256;
COMMENT ON FUNCTION mlops.generate_stream(text, text, int, float8, float8, int, text[], jsonb) IS 'like mlops.generate, one row per piece of text as the tokens are produced (call it in the select list, or through a cursor, to see rows arrive); local models only';

CREATE FUNCTION mlops.chat(model text, messages jsonb, options jsonb DEFAULT '{}')
	RETURNS jsonb
	AS 'MODULE_PATHNAME', 'llm_chat'
	LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION mlops.chat(text, jsonb, jsonb) IS 'the reply of a registered text-generation model to messages ([{"role", "content"}...], rendered with the model''s chat template): {model, version, message, finish_reason, usage, ttft_ms, total_ms}; options: max_tokens, temperature, top_p, top_k, min_p, repetition_penalty, seed, stop, ignore_eos';

CREATE FUNCTION mlops._worker_status(
	OUT worker int, OUT pid int, OUT device text, OUT memory_used bigint, OUT memory_free bigint,
	OUT queue_depth int, OUT in_flight int, OUT tokens_per_second float8,
	OUT model text, OUT version int, OUT task text, OUT weight_bytes bigint, OUT kv_cache_bytes bigint,
	OUT kv_pages_used int, OUT kv_pages_total int, OUT model_running int, OUT last_used timestamptz,
	OUT preemptions bigint)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'llm_worker_status'
	LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION mlops._worker_status() IS 'internal: the rows of mlops.worker_status';

CREATE VIEW mlops.worker_status AS SELECT * FROM mlops._worker_status();
COMMENT ON VIEW mlops.worker_status IS 'inference workers: one row per loaded model (or one with NULL model): device, memory used and free (bytes, under mlops.gpu_memory_limit), requests queued and in flight, tokens/s over the last minute, and per model its KV pages (16 tokens each) in use and how many times a request was preempted (gave its pages back, to read its tokens again later)';

REVOKE ALL ON FUNCTION mlops.register_model(text, text, text, jsonb), mlops.load_model(text),
	mlops.unload_model(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mlops.register_model(text, text, text, jsonb), mlops.load_model(text),
	mlops.unload_model(text) TO mlops_admin;
REVOKE ALL ON FUNCTION mlops.embed(text, text), mlops.embed(text, text[]),
	mlops.generate(text, text, int, float8, float8, int, text[], jsonb),
	mlops.generate_stream(text, text, int, float8, float8, int, text[], jsonb),
	mlops.chat(text, jsonb, jsonb), mlops._worker_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mlops.embed(text, text), mlops.embed(text, text[]),
	mlops.generate(text, text, int, float8, float8, int, text[], jsonb),
	mlops.generate_stream(text, text, int, float8, float8, int, text[], jsonb),
	mlops.chat(text, jsonb, jsonb), mlops._worker_status() TO mlops_user;
GRANT SELECT ON mlops.worker_status TO mlops_user;
