/*-------------------------------------------------------------------------
 *
 * tokwordpiece.c
 *	  The WordPiece model (BERT): greedy longest-match-first over the
 *	  vocabulary, with "##" marking pieces inside a word.
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>

#include "llm/llmjson.h"
#include "llm/tokinternal.h"

/*
 * Parse the WordPiece model options
 */
int
TokWordPieceParse(Tokenizer *tok, const json_t *model, LlmError *err)
{
	const char *unk = NULL;
	const char *prefix = "##";
	int64_t		max_chars = 100;
	int			rc;

	if ((rc = LlmJsonGetString(model, "unk_token", &unk, "model", err)) != LLM_OK ||
		(rc = LlmJsonGetString(model, "continuing_subword_prefix", &prefix, "model", err)) != LLM_OK ||
		(rc = LlmJsonGetInt(model, "max_input_chars_per_word", 0, INT32_MAX, &max_chars, "model", err)) != LLM_OK)
		return rc;
	if (unk != NULL)
		tok->unk_id = TokStrMapGet(&tok->vocab, unk, strlen(unk));
	tok->wp_prefix = TokArenaDup(tok, prefix, strlen(prefix), err);
	if (tok->wp_prefix == NULL)
		return LLM_ERR_NOMEM;
	tok->wp_max_chars = (int) max_chars;
	return LLM_OK;
}

/*
 * Append the unknown token (a word WordPiece cannot cover)
 */
static int
PushUnk(TokEncodeState *st)
{
	if (st->tok->unk_id < 0)
		return LlmSetError(st->err, LLM_ERR_ARGUMENT,
						   "a word cannot be tokenized and the tokenizer has no unknown token");
	return TokIdsPush(&st->ids, st->tok->unk_id) ? LLM_OK :
		LlmSetError(st->err, LLM_ERR_NOMEM, "out of memory for token ids");
}

/*
 * Tokenize one word with WordPiece and append its ids
 */
int
TokWordPieceWord(TokEncodeState *st, const char *s, size_t len)
{
	const Tokenizer *tok = st->tok;
	size_t		plen = strlen(tok->wp_prefix);
	size_t		n_chars = 0,
				start = 0,
				first_id = st->ids.n;
	TokBuf	   *b = &st->word_buf;

	for (size_t i = 0; i < len; i++)
		if (((unsigned char) s[i] & 0xC0) != 0x80)
			n_chars++;
	if (n_chars > (size_t) tok->wp_max_chars)
		return PushUnk(st);

	while (start < len)
	{
		size_t		end = len;
		int32_t		id = -1;
		const char *base = s + start;
		size_t		extra = 0;

		/* pieces after the first carry the prefix: build prefix + rest once */
		if (start > 0)
		{
			b->len = 0;
			if (!TokBufAppend(b, tok->wp_prefix, plen) || !TokBufAppend(b, s + start, len - start))
				return LlmSetError(st->err, LLM_ERR_NOMEM, "out of memory in WordPiece");
			base = b->data;
			extra = plen;
		}
		while (end > start)
		{
			id = TokStrMapGet(&tok->vocab, base, extra + end - start);
			if (id >= 0)
				break;
			/* back off one character */
			end--;
			while (end > start && ((unsigned char) s[end] & 0xC0) == 0x80)
				end--;
		}
		if (id < 0)
		{
			st->ids.n = first_id;
			return PushUnk(st);
		}
		if (!TokIdsPush(&st->ids, id))
			return LlmSetError(st->err, LLM_ERR_NOMEM, "out of memory for token ids");
		start = end;
	}
	return LLM_OK;
}
