// sources: src/llm/provider.c src/llm/providerstream.c src/llm/httpc.c src/llm/tokenizer.c src/llm/tokutil.c src/llm/utf8.c src/llm/toknorm.c src/llm/tokpretok.c src/llm/tokbpe.c src/llm/tokwordpiece.c src/llm/tokdecode.c src/llm/llmjson.c src/llm/llmutil.c src/vector/vecdist.c
/*
 * fuzz_provider_reply.c
 *	  libFuzzer target: what a remote provider sends back.  The first byte
 *	  picks the API (even: OpenAI, odd: Ollama); the rest is read as a
 *	  whole chat reply, as an embedding reply of two inputs, and line by
 *	  line as a streamed chat reply.  Pieces must be as long as they say,
 *	  and no error message may hold the secret.
 */
#include <stdlib.h>
#include <string.h>

#include "llm/provider.h"

#define SECRET "sk-fuzz-SECRET"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* an error must have a message, and the message must not hold the secret */
static void
CheckError(int rc, const LlmError *err)
{
	if (rc != LLM_OK && (err->message[0] == '\0' || strstr(err->message, SECRET) != NULL))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	LlmProviderKind kind;
	const char *text;
	size_t		len;
	LlmChatResult chat;
	LlmEmbedResult emb;
	LlmChatStream *cs;
	LlmError	err;
	int			rc;

	if (size < 1)
		return 0;
	kind = data[0] % 2 == 0 ? LLM_PROVIDER_OPENAI : LLM_PROVIDER_OLLAMA;
	text = (const char *) data + 1;
	len = size - 1;

	memset(&err, 0, sizeof(err));
	rc = LlmProviderParseChat(kind, text, len, SECRET, &chat, &err);
	CheckError(rc, &err);
	if (rc == LLM_OK)
	{
		if (chat.text == NULL)
			abort();
		LlmChatResultFree(&chat);
	}

	memset(&err, 0, sizeof(err));
	memset(&emb, 0, sizeof(emb));
	rc = LlmProviderParseEmbed(kind, text, len, 2, SECRET, &emb, &err);
	CheckError(rc, &err);
	if (rc == LLM_OK && (emb.n != 2 || emb.dim <= 0 || emb.data == NULL))
		abort();
	LlmEmbedResultFree(&emb);

	memset(&err, 0, sizeof(err));
	cs = LlmChatStreamForLines(kind, SECRET, &err);
	if (cs == NULL)
		return 0;
	while (len > 0)
	{
		const char *nl = memchr(text, '\n', len);
		size_t		n = nl != NULL ? (size_t) (nl - text) : len;
		const char *piece;
		size_t		plen;

		rc = LlmChatStreamLine(cs, text, n, &piece, &plen, &err);
		CheckError(rc, &err);
		if (rc == LLM_OK && piece != NULL && (plen == 0 || strlen(piece) != plen))
			abort();
		text += n;
		len -= n;
		if (nl != NULL)
			text++, len--;
	}
	LlmChatStreamClose(cs);
	return 0;
}
