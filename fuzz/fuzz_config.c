// sources: src/llm/config.c src/llm/llmjson.c src/llm/llmutil.c src/vector/vecdist.c
/*
 * fuzz_config.c
 *	  libFuzzer target: LlmConfigParse on arbitrary text.  A config that
 *	  parses must satisfy the bounds the rest of the engine relies on.
 */
#include <stdlib.h>

#include "llm/model.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * One input: parse it as config.json and check the invariants
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	LlmConfig	cfg;
	LlmError	err;

	err.message[0] = '\0';
	if (LlmConfigParse((const char *) data, size, &cfg, &err) != LLM_OK)
	{
		if (err.message[0] == '\0')
			abort();
		return 0;
	}
	if (cfg.vocab_size <= 0 || cfg.hidden_size <= 0 || cfg.intermediate_size <= 0 ||
		cfg.n_layers <= 0 || cfg.n_layers > LLM_MAX_LAYERS ||
		cfg.n_heads <= 0 || cfg.n_kv_heads <= 0 || cfg.n_heads % cfg.n_kv_heads != 0 ||
		cfg.head_dim <= 0 || (int64_t) cfg.n_heads * cfg.head_dim > (1 << 20) ||
		cfg.max_position <= 0 || cfg.n_eos < 0 || cfg.n_eos > LLM_MAX_EOS ||
		!(cfg.rope_theta > 0) || cfg.sliding_window < 0)
		abort();
	return 0;
}
