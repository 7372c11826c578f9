// sources: src/llm/tokenizer.c src/llm/tokutil.c src/llm/utf8.c src/llm/toknorm.c src/llm/tokpretok.c src/llm/tokbpe.c src/llm/tokwordpiece.c src/llm/tokdecode.c src/llm/llmjson.c src/llm/llmutil.c src/vector/vecdist.c
/*
 * fuzz_tokenizer.c
 *	  libFuzzer target: TokenizerParse on arbitrary tokenizer.json text;
 *	  when it parses, encode and decode a few fixed strings.
 */
#include <stdlib.h>

#include "llm/tokenizer.h"

static const char *const texts[] = {
	"Hello world",
	"  leading and   multiple   spaces \r\n\n\t x ",
	"I'm 12345 caf\xc3\xa9 \xe6\x9d\xb1\xe4\xba\xac \xf0\x9f\x98\x80 <s>[CLS]<|endoftext|>",
	"",
	"a",
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Tokenizer  *tok = NULL;
	LlmError	err;

	if (TokenizerParse((const char *) data, size, &tok, &err) != LLM_OK)
		return 0;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
	{
		int32_t    *ids = NULL;
		int			n = 0;
		char	   *text = NULL;
		size_t		len;

		for (int special = 0; special < 2; special++)
		{
			if (TokenizerEncode(tok, texts[i], strlen(texts[i]), special, &ids, &n, &err) != LLM_OK)
				continue;
			if (TokenizerDecode(tok, ids, n, special, &text, &len, &err) == LLM_OK)
				free(text);
			free(ids);
		}
	}
	{
		/* every id, decoded alone */
		int			v = TokenizerVocabSize(tok);

		for (int32_t id = 0; id < v && id < 4096; id++)
		{
			char	   *text = NULL;
			size_t		len;

			(void) TokenizerIdToToken(tok, id);
			if (TokenizerDecode(tok, &id, 1, false, &text, &len, &err) == LLM_OK)
				free(text);
		}
	}
	TokenizerFree(tok);
	return 0;
}
