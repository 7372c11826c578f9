// sources: src/llm/safetensors.c src/llm/llmjson.c src/llm/llmutil.c src/vector/vecdist.c
/*
 * fuzz_safetensors.c
 *	  libFuzzer target: LlmSafetensorsParse on arbitrary bytes.  Each parsed
 *	  tensor is read in full, so a pointer or size the parser let through
 *	  outside the buffer shows up as an ASan report.
 */
#include <stdlib.h>
#include <string.h>

#include "llm/model.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * One input: parse it as a whole safetensors file
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	LlmWeightEntry *entries = NULL;
	int			n = 0;
	LlmError	err;
	uint8_t    *buf;
	volatile uint8_t sink = 0;

	/* an aligned private copy, as an mmap'ed file would be */
	buf = aligned_alloc(64, (size + 63) & ~(size_t) 63);
	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	if (LlmSafetensorsParse(buf, size, &entries, &n, &err) == LLM_OK)
	{
		for (int i = 0; i < n; i++)
		{
			const LlmTensor *t = &entries[i].tensor;
			size_t		bytes = (size_t) LlmTensorCount(t) * LlmDTypeSize(t->dtype);

			for (size_t b = 0; b < bytes; b++)
				sink ^= ((const uint8_t *) t->data)[b];
			free(entries[i].name);
		}
	}
	else if (n != 0 || err.message[0] == '\0')
		abort();				/* failures leave the table alone and explain */
	free(entries);
	free(buf);
	(void) sink;
	return 0;
}
