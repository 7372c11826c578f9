-- trace: the call log of embed, generate and chat, prices and statistics
-- (src/llm/llmtrace.c)
--
-- A call is not inserted by the session that made it: it goes into a
-- buffer in shared memory and a background worker of the database (the
-- flusher, connected as the bootstrap superuser) writes it, so a call
-- whose transaction rolls back is logged too.  Rows appear a moment after
-- the call; mlops.flush_llm_calls() waits for them.
--
-- Privileges.  mlops.llm_calls has row security: a member of mlops_user
-- reads the calls it made (its name and OID), prompts included, and
-- no other role's rows; a member of mlops_admin reads and deletes every
-- row.  Nobody but the flusher inserts or updates.  The statistics view
-- mlops.llm_stats aggregates every role's calls (its owner bypasses row
-- security) and is readable by mlops_user: counts, latencies, tokens and
-- cost per model, never a prompt.  Prices are written by mlops_admin and
-- read by mlops_user.  Whether prompt text is stored at all is decided by
-- mlops.log_prompts, a superuser-only setting (ALTER ROLE or ALTER
-- DATABASE ... SET mlops.log_prompts = on): users can neither start nor
-- stop the logging of their own prompts.

CREATE TABLE mlops.llm_calls (
	id			bigserial PRIMARY KEY,
	called_at	timestamptz NOT NULL,
	role		name,
	role_id		oid,
	function	text NOT NULL,
	model		text,
	version		int,
	provider	text,
	prompt_hash text,
	prompt		text,
	prompt_truncated bool NOT NULL DEFAULT false,
	tokens_in	bigint,
	tokens_out	bigint,
	ttft_ms		float8,
	total_ms	float8 NOT NULL,
	cost		numeric,
	status		text NOT NULL,
	error		text
);
CREATE INDEX llm_calls_called_at ON mlops.llm_calls (called_at);
COMMENT ON TABLE mlops.llm_calls IS 'every embed, generate and chat call, local or remote, successful or not, written by a background worker (also when the calling transaction rolled back); members of mlops_user see their own calls, members of mlops_admin all calls';
COMMENT ON COLUMN mlops.llm_calls.called_at IS 'when the call began';
COMMENT ON COLUMN mlops.llm_calls.role IS 'current_user of the call; NULL if the role was dropped before the call was written';
COMMENT ON COLUMN mlops.llm_calls.role_id IS 'OID of current_user of the call: a role sees a call only when both its name and its OID match, so a role created later under a dropped role''s name does not see its calls (nor does a role in a restored copy of the database, where OIDs differ)';
COMMENT ON COLUMN mlops.llm_calls.function IS 'embed, generate, chat or generate_stream';
COMMENT ON COLUMN mlops.llm_calls.model IS 'registered model name';
COMMENT ON COLUMN mlops.llm_calls.version IS 'model version used; NULL when the call failed before resolving it';
COMMENT ON COLUMN mlops.llm_calls.provider IS 'local, or the remote provider (openai, ollama)';
COMMENT ON COLUMN mlops.llm_calls.prompt_hash IS 'SHA-256 (hex) of the whole prompt (for chat, of the messages JSON): equal prompts have equal hashes, with or without mlops.log_prompts';
COMMENT ON COLUMN mlops.llm_calls.prompt IS 'prompt text, only when mlops.log_prompts was on for the call; at most 8 kB';
COMMENT ON COLUMN mlops.llm_calls.prompt_truncated IS 'the prompt was longer than 8 kB and prompt holds its beginning';
COMMENT ON COLUMN mlops.llm_calls.tokens_in IS 'prompt tokens; NULL when unknown';
COMMENT ON COLUMN mlops.llm_calls.tokens_out IS 'generated tokens; NULL when unknown';
COMMENT ON COLUMN mlops.llm_calls.ttft_ms IS 'time to the first generated token in milliseconds; NULL when not applicable (embeddings)';
COMMENT ON COLUMN mlops.llm_calls.total_ms IS 'latency of the whole call in milliseconds';
COMMENT ON COLUMN mlops.llm_calls.cost IS 'tokens priced by mlops.model_prices when the call was written, in that row''s currency; NULL without a price';
COMMENT ON COLUMN mlops.llm_calls.status IS 'ok, error or cancelled';
COMMENT ON COLUMN mlops.llm_calls.error IS 'error message of a failed call (at most 1 kB)';

ALTER TABLE mlops.llm_calls ENABLE ROW LEVEL SECURITY;
CREATE POLICY llm_calls_own ON mlops.llm_calls FOR SELECT TO mlops_user
	USING (role = current_user AND
		   role_id = (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = current_user));
COMMENT ON POLICY llm_calls_own ON mlops.llm_calls IS 'a member of mlops_user reads the calls it made';
CREATE POLICY llm_calls_admin ON mlops.llm_calls TO mlops_admin
	USING (true);
COMMENT ON POLICY llm_calls_admin ON mlops.llm_calls IS 'a member of mlops_admin reads and deletes every call';
REVOKE ALL ON mlops.llm_calls FROM PUBLIC;
GRANT SELECT ON mlops.llm_calls TO mlops_user;
GRANT DELETE ON mlops.llm_calls TO mlops_admin;

CREATE TABLE mlops.model_prices (
	model		text PRIMARY KEY,
	input_per_1k numeric NOT NULL CHECK (input_per_1k >= 0),
	output_per_1k numeric NOT NULL CHECK (output_per_1k >= 0),
	currency	text NOT NULL DEFAULT 'USD',
	updated_at	timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE mlops.model_prices IS 'price per 1000 prompt and generated tokens of a registered model; mlops.llm_calls.cost is computed from it when a call is written';
COMMENT ON COLUMN mlops.model_prices.model IS 'registered model name, as in mlops.llm_calls.model';
COMMENT ON COLUMN mlops.model_prices.input_per_1k IS 'price of 1000 prompt tokens';
COMMENT ON COLUMN mlops.model_prices.output_per_1k IS 'price of 1000 generated tokens';
COMMENT ON COLUMN mlops.model_prices.currency IS 'currency of the prices and of the costs computed from them';
COMMENT ON COLUMN mlops.model_prices.updated_at IS 'when the price was set';
REVOKE ALL ON mlops.model_prices FROM PUBLIC;
GRANT SELECT ON mlops.model_prices TO mlops_user;
GRANT INSERT, UPDATE, DELETE ON mlops.model_prices TO mlops_admin;

-- call log and prices are user data: kept by pg_dump
SELECT pg_catalog.pg_extension_config_dump('mlops.llm_calls', '');
SELECT pg_catalog.pg_extension_config_dump('mlops.llm_calls_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mlops.model_prices', '');

CREATE VIEW mlops.llm_stats AS
SELECT model,
	date_trunc('hour', called_at) AS hour,
	count(*) AS calls,
	count(*) FILTER (WHERE status = 'error') AS errors,
	count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
	percentile_cont(0.5) WITHIN GROUP (ORDER BY total_ms) AS p50_ms,
	percentile_cont(0.95) WITHIN GROUP (ORDER BY total_ms) AS p95_ms,
	sum(tokens_in) AS tokens_in,
	sum(tokens_out) AS tokens_out,
	sum(cost) AS cost
FROM mlops.llm_calls
GROUP BY model, date_trunc('hour', called_at);
COMMENT ON VIEW mlops.llm_stats IS 'LLM calls of every role per model and hour (in the session time zone): calls, errors, cancellations, median and 95th percentile of the total latency in milliseconds, tokens and cost';
GRANT SELECT ON mlops.llm_stats TO mlops_user;

CREATE FUNCTION mlops.flush_llm_calls(timeout_ms int DEFAULT 5000) RETURNS bigint
	AS 'MODULE_PATHNAME', 'flush_llm_calls'
	LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION mlops.flush_llm_calls(int) IS 'waits up to timeout_ms until the traced calls of this database are in mlops.llm_calls (visible to the next statement); returns how many are still pending';

CREATE FUNCTION mlops.llm_trace_status(OUT capacity int, OUT pending int, OUT in_use int,
		OUT dropped bigint, OUT discarded bigint, OUT written bigint, OUT flushers int)
	AS 'MODULE_PATHNAME', 'llm_trace_status'
	LANGUAGE C VOLATILE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mlops.llm_trace_status() IS 'the shared buffer of traced calls: capacity (mlops.trace_buffer_calls), calls of this database not written yet, slots in use by every database, and since the server started the calls dropped (buffer full), discarded (database without the extension, or not writable) and written, and the flushers running';

REVOKE ALL ON FUNCTION mlops.flush_llm_calls(int), mlops.llm_trace_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mlops.flush_llm_calls(int), mlops.llm_trace_status() TO mlops_user;
