-- llm: tokenizers of the models kept in mlops.model_dir
--
-- A model is named by its directory relative to mlops.model_dir, a setting
-- only superusers may change; names that lead out of it are refused.  The
-- functions are STABLE, not IMMUTABLE: their results depend on files on the
-- server and on mlops.model_dir, and a model replaced on disk is reloaded by
-- the next call.  They are PARALLEL SAFE: each process keeps its own cache
-- of loaded tokenizers.

CREATE FUNCTION mlops.tokenize(model text, input text, add_special_tokens bool DEFAULT false)
	RETURNS int[]
	AS 'MODULE_PATHNAME', 'llm_tokenize'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mlops.tokenize(text, text, bool) IS 'token ids of a text under the tokenizer of a model in mlops.model_dir; add_special_tokens adds what the tokenizer''s post-processor adds (BOS, [CLS] ... [SEP])';

-- Special tokens are kept by default, as in Hugging Face decode().
CREATE FUNCTION mlops.detokenize(model text, ids int[], skip_special_tokens bool DEFAULT false)
	RETURNS text
	AS 'MODULE_PATHNAME', 'llm_detokenize'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mlops.detokenize(text, int[], bool) IS 'text of a sequence of token ids under the tokenizer of a model in mlops.model_dir; skip_special_tokens leaves special tokens out';

CREATE FUNCTION mlops.count_tokens(model text, input text, add_special_tokens bool DEFAULT false)
	RETURNS int
	AS 'MODULE_PATHNAME', 'llm_count_tokens'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION mlops.count_tokens(text, text, bool) IS 'number of tokens of a text under the tokenizer of a model in mlops.model_dir (the length of mlops.tokenize)';
