-- LLM call tracing: mlops.llm_calls, mlops.model_prices, mlops.llm_stats.
-- The calls are made by llm_trace_test, a test-support entry point of the
-- library that records one call built from its arguments.
SET timezone = 'UTC';
CREATE FUNCTION pg_temp.trace(function text, model text, version int, provider text,
	prompt text, tokens_in bigint, tokens_out bigint, ttft_ms float8, total_ms float8,
	status text, error text, started timestamptz)
	RETURNS void AS '$libdir/pgmlops', 'llm_trace_test' LANGUAGE C VOLATILE;

INSERT INTO mlops.model_prices (model, input_per_1k, output_per_1k) VALUES ('trace-gpt', 0.5, 1.5);

-- a call is logged even when its transaction rolls back or fails
BEGIN;
SELECT pg_temp.trace('generate', 'trace-gpt', 1, 'openai', 'hello', 10, 20, 5, 50, 'ok', NULL,
	'2026-01-01 10:00:00+00');
ROLLBACK;
DO $$
BEGIN
	PERFORM pg_temp.trace('chat', 'trace-gpt', 2, 'openai', '[{"role":"user"}]', 7, NULL, NULL, 12.5,
		'error', 'provider answered 500', '2026-01-01 10:01:00+00');
	RAISE EXCEPTION 'the caller fails';
END
$$;
-- unknown values are NULL, no price gives no cost
SELECT pg_temp.trace('embed', 'trace-e5', 0, 'local', NULL, NULL, NULL, NULL, 3, 'cancelled', NULL,
	'2026-01-01 10:02:00+00');
SELECT mlops.flush_llm_calls();
SELECT called_at, role = current_user AS mine, function, model, version, provider,
	prompt_hash, prompt, prompt_truncated, tokens_in, tokens_out, ttft_ms, total_ms, cost,
	status, error
FROM mlops.llm_calls WHERE model LIKE 'trace-%' ORDER BY id;

-- the prompt text only with mlops.log_prompts; the hash always, the same
SHOW mlops.log_prompts;
SELECT pg_temp.trace('generate', 'trace-gpt', 1, 'openai', 'the same prompt', 1, 1, 1, 1, 'ok', NULL, NULL);
SET mlops.log_prompts = on;
SELECT pg_temp.trace('generate', 'trace-gpt', 1, 'openai', 'the same prompt', 1, 1, 1, 1, 'ok', NULL, NULL);
-- longer than 8 kB: cut on a character boundary, flagged, hashed whole
SELECT pg_temp.trace('generate', 'trace-gpt', 1, 'openai', repeat('é', 5000), 1, 1, 1, 1, 'ok', NULL, NULL);
RESET mlops.log_prompts;
SELECT mlops.flush_llm_calls();
SELECT prompt, prompt_truncated, prompt_hash = encode(sha256('the same prompt'), 'hex') AS hash_ok
FROM mlops.llm_calls WHERE prompt_hash = encode(sha256('the same prompt'), 'hex') ORDER BY id;
SELECT octet_length(prompt), prompt = repeat('é', 4096) AS prefix, prompt_truncated,
	prompt_hash = encode(sha256(convert_to(repeat('é', 5000), 'UTF8')), 'hex') AS hash_ok
FROM mlops.llm_calls WHERE prompt_truncated;

-- SHA-256 on both sides of every block boundary, against PostgreSQL's
-- (tokens_out carries the prompt's length)
SELECT count(pg_temp.trace('embed', 'trace-sha', 1, 'local', repeat(chr(65 + n % 26), n), 1, n, NULL, 1,
	'ok', NULL, NULL))
FROM generate_series(0, 200) n;
SELECT mlops.flush_llm_calls();
SELECT count(*) AS calls,
	count(*) FILTER (WHERE prompt_hash = encode(sha256(convert_to(
		repeat(chr(65 + tokens_out::int % 26), tokens_out::int), 'UTF8')), 'hex')) AS equal
FROM mlops.llm_calls WHERE model = 'trace-sha';

-- statistics per model and hour
INSERT INTO mlops.model_prices (model, input_per_1k, output_per_1k, currency) VALUES ('trace-stats', 1, 2, 'EUR');
SELECT pg_temp.trace('generate', 'trace-stats', 1, 'local', 'p', 100, 10 * i, 1, 10 * i,
	CASE i WHEN 2 THEN 'error' WHEN 3 THEN 'cancelled' ELSE 'ok' END, NULL,
	'2026-01-01 10:00:00+00'::timestamptz + i * interval '10 minutes')
FROM generate_series(1, 6) i;
SELECT mlops.flush_llm_calls();
-- (the calls made with a fixed time)
SELECT * FROM mlops.llm_stats
WHERE model LIKE 'trace-%' AND hour < '2026-01-02' ORDER BY model, hour;

-- privileges: own rows only for mlops_user, every row for mlops_admin
CREATE ROLE regress_trace_alice IN ROLE mlops_user;
CREATE ROLE regress_trace_bob IN ROLE mlops_user;
CREATE ROLE regress_trace_admin IN ROLE mlops_admin;
SET mlops.log_prompts = on;
SET ROLE regress_trace_alice;
SELECT pg_temp.trace('chat', 'trace-gpt', 1, 'openai', 'alice''s secret', 1, 1, 1, 1, 'ok', NULL, NULL);
RESET ROLE;
SET ROLE regress_trace_bob;
SELECT pg_temp.trace('chat', 'trace-gpt', 1, 'openai', 'bob''s question', 1, 1, 1, 1, 'ok', NULL, NULL);
SELECT mlops.flush_llm_calls();
SELECT role, prompt FROM mlops.llm_calls ORDER BY id;
SELECT count(*) FROM mlops.llm_calls WHERE prompt LIKE 'alice%';
SELECT model, hour, calls FROM mlops.llm_stats WHERE model = 'trace-stats' ORDER BY hour;
SELECT model, input_per_1k FROM mlops.model_prices WHERE model LIKE 'trace-%' ORDER BY model;
SET mlops.log_prompts = off;
INSERT INTO mlops.model_prices (model, input_per_1k, output_per_1k) VALUES ('cheap', 0, 0);
DELETE FROM mlops.llm_calls;
UPDATE mlops.llm_calls SET prompt = NULL;
RESET ROLE;
RESET mlops.log_prompts;
SET ROLE regress_trace_admin;
SELECT role, prompt FROM mlops.llm_calls WHERE role::text LIKE 'regress_trace%' ORDER BY id;
UPDATE mlops.model_prices SET output_per_1k = 2 WHERE model = 'trace-gpt';
DELETE FROM mlops.llm_calls WHERE role = 'regress_trace_alice';
RESET ROLE;
SELECT role FROM mlops.llm_calls WHERE role::text LIKE 'regress_trace%';
DROP ROLE regress_trace_alice, regress_trace_bob, regress_trace_admin;
-- a role created later under a dropped role's name does not see its calls
CREATE ROLE regress_trace_bob IN ROLE mlops_user;
SELECT count(*) AS bob_rows FROM mlops.llm_calls WHERE role = 'regress_trace_bob';
SET ROLE regress_trace_bob;
SELECT count(*) AS seen_by_new_bob FROM mlops.llm_calls;
SELECT pg_temp.trace('chat', 'trace-gpt', 1, 'openai', 'new bob', 1, 1, 1, 1, 'ok', NULL, NULL);
SELECT mlops.flush_llm_calls();
SELECT prompt_hash IS NOT NULL AS own_call FROM mlops.llm_calls;
RESET ROLE;
DELETE FROM mlops.llm_calls WHERE role = 'regress_trace_bob';
DROP ROLE regress_trace_bob;

-- a full buffer drops calls without an error, and counts them
SELECT capacity, dropped AS dropped_before FROM mlops.llm_trace_status() \gset
SELECT count(pg_temp.trace('embed', 'trace-flood', 1, 'local', 'x', 1, 0, NULL, 1, 'ok', NULL, NULL))
	= 8 * :capacity AS all_called
FROM generate_series(1, 8 * :capacity);
SELECT mlops.flush_llm_calls();
SELECT s.dropped > :dropped_before AS some_dropped,
	(SELECT count(*) FROM mlops.llm_calls WHERE model = 'trace-flood') + s.dropped - :dropped_before
		= 8 * :capacity AS written_or_dropped,
	s.pending
FROM mlops.llm_trace_status() s;

-- bad input
SELECT mlops.flush_llm_calls(-1);
SELECT mlops.flush_llm_calls(NULL);
