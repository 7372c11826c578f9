/*-------------------------------------------------------------------------
 *
 * tokdecode.c
 *	  Tokenizer decoders: ByteLevel, Replace, ByteFallback, Fuse, Strip,
 *	  WordPiece and Metaspace, alone or in a Sequence.
 *
 * As in Hugging Face, decoders work on the list of token strings: each
 * step maps the list to a new one (some fuse it into a single string) and
 * the final list is concatenated.
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>

#include "llm/llmjson.h"
#include "llm/tokinternal.h"

/* a list of strings stored back to back in one buffer */
typedef struct DecList
{
	TokBuf		text;
	size_t	   *off;
	size_t	   *len;
	int			n;
	int			cap;
} DecList;

/*
 * Start a new (empty) entry of the list
 */
static bool
ListOpen(DecList *l)
{
	if (l->n == l->cap)
	{
		int			cap = l->cap ? l->cap * 2 : 64;
		size_t	   *off = realloc(l->off, sizeof(size_t) * cap);
		size_t	   *len;

		if (off == NULL)
			return false;
		l->off = off;
		len = realloc(l->len, sizeof(size_t) * cap);
		if (len == NULL)
			return false;
		l->len = len;
		l->cap = cap;
	}
	l->off[l->n] = l->text.len;
	l->len[l->n] = 0;
	l->n++;
	return true;
}

/*
 * Append bytes to the last entry
 */
static bool
ListAppend(DecList *l, const char *s, size_t len)
{
	if (!TokBufAppend(&l->text, s, len))
		return false;
	l->len[l->n - 1] += len;
	return true;
}

/*
 * Add a whole entry
 */
static bool
ListPush(DecList *l, const char *s, size_t len)
{
	return ListOpen(l) && ListAppend(l, s, len);
}

/*
 * Free a list's memory
 */
static void
ListFree(DecList *l)
{
	free(l->text.data);
	free(l->off);
	free(l->len);
	memset(l, 0, sizeof(*l));
}

/*
 * Entry i of a list (a list of empty entries may have no text buffer)
 */
static inline const char *
ListAt(const DecList *l, int i)
{
	return l->text.data ? l->text.data + l->off[i] : "";
}

/*
 * ByteLevel: map characters back to bytes and fuse into one string
 */
static bool
DecodeByteLevel(const DecList *in, DecList *out)
{
	uint32_t	chars[256];
	int16_t		inverse[324];
	TokBuf		bytes = {0};
	bool		ok = true;

	TokByteLevelChars(chars);
	for (int c = 0; c < 324; c++)
		inverse[c] = -1;
	for (int b = 0; b < 256; b++)
		inverse[chars[b]] = (int16_t) b;
	for (int i = 0; i < in->n && ok; i++)
	{
		const char *t = ListAt(in, i);
		size_t		len = in->len[i],
					pos = 0,
					mark = bytes.len;

		while (pos < len && ok)
		{
			uint32_t	c;
			char		byte;

			pos += LlmUtf8Decode(t + pos, len - pos, &c);
			if (c >= 324 || inverse[c] < 0)
			{
				/* a character outside the table: keep the token as is */
				bytes.len = mark;
				ok = TokBufAppend(&bytes, t, len);
				break;
			}
			byte = (char) inverse[c];
			ok = TokBufAppend(&bytes, &byte, 1);
		}
	}
	if (ok)
		ok = ListOpen(out);
	if (ok)
	{
		size_t		before = out->text.len;

		TokAppendLossy(&out->text, bytes.data ? bytes.data : "", bytes.len, &ok);
		out->len[out->n - 1] = out->text.len - before;
	}
	free(bytes.data);
	return ok;
}

/*
 * Replace every occurrence of a by b in each token
 */
static bool
DecodeReplace(const TokDecStep *d, const DecList *in, DecList *out)
{
	size_t		alen = strlen(d->a),
				blen = strlen(d->b);

	for (int i = 0; i < in->n; i++)
	{
		const char *t = ListAt(in, i);
		size_t		len = in->len[i],
					last = 0;

		if (!ListOpen(out))
			return false;
		for (size_t p = 0; alen > 0 && p + alen <= len;)
		{
			if (memcmp(t + p, d->a, alen) == 0)
			{
				if (!ListAppend(out, t + last, p - last) || !ListAppend(out, d->b, blen))
					return false;
				p += alen;
				last = p;
			}
			else
				p++;
		}
		if (!ListAppend(out, t + last, len - last))
			return false;
	}
	return true;
}

/*
 * Value of a <0xNN> token, or -1
 */
static int
ByteToken(const char *t, size_t len)
{
	int			v = 0;

	if (len != 6 || memcmp(t, "<0x", 3) != 0 || t[5] != '>')
		return -1;
	for (int i = 3; i < 5; i++)
	{
		char		c = t[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else
			return -1;
	}
	return v;
}

/*
 * Flush collected fallback bytes: one string when valid UTF-8, else one
 * U+FFFD per byte
 */
static bool
FlushBytes(TokBuf *bytes, DecList *out)
{
	bool		ok = true;

	if (bytes->len == 0)
		return true;
	if (LlmUtf8Valid(bytes->data, bytes->len, NULL))
		ok = ListPush(out, bytes->data, bytes->len);
	else
		for (size_t i = 0; i < bytes->len && ok; i++)
			ok = ListPush(out, LLM_UTF8_REPLACEMENT, 3);
	bytes->len = 0;
	return ok;
}

/*
 * ByteFallback: runs of <0xNN> tokens become the text they encode
 */
static bool
DecodeByteFallback(const DecList *in, DecList *out)
{
	TokBuf		bytes = {0};
	bool		ok = true;

	for (int i = 0; i < in->n && ok; i++)
	{
		int			v = ByteToken(ListAt(in, i), in->len[i]);

		if (v >= 0)
		{
			char		c = (char) v;

			ok = TokBufAppend(&bytes, &c, 1);
			continue;
		}
		ok = FlushBytes(&bytes, out) && ListPush(out, ListAt(in, i), in->len[i]);
	}
	if (ok)
		ok = FlushBytes(&bytes, out);
	free(bytes.data);
	return ok;
}

/*
 * Strip: drop up to start leading and stop trailing copies of a character
 */
static bool
DecodeStrip(const TokDecStep *d, const DecList *in, DecList *out)
{
	size_t		clen = strlen(d->a);

	for (int i = 0; i < in->n; i++)
	{
		const char *t = ListAt(in, i);
		size_t		b = 0,
					e = in->len[i];

		for (int k = 0; k < d->start && clen > 0 && b + clen <= e &&
			 memcmp(t + b, d->a, clen) == 0; k++)
			b += clen;
		for (int k = 0; k < d->stop && clen > 0 && e >= b + clen &&
			 memcmp(t + e - clen, d->a, clen) == 0; k++)
			e -= clen;
		if (!ListPush(out, t + b, e - b))
			return false;
	}
	return true;
}

/*
 * Replace every occurrence of pat by rep inside the last list entry
 */
static bool
CleanupReplace(DecList *l, const char *pat, const char *rep)
{
	size_t		plen = strlen(pat),
				rlen = strlen(rep);
	size_t		start = l->off[l->n - 1];
	size_t		len = l->len[l->n - 1];
	char	   *copy;
	size_t		last = 0;

	if (len < plen)
		return true;
	copy = malloc(len + 1);
	if (copy == NULL)
		return false;
	memcpy(copy, l->text.data + start, len);
	l->text.len = start;
	l->len[l->n - 1] = 0;
	for (size_t p = 0; p + plen <= len;)
	{
		if (memcmp(copy + p, pat, plen) == 0)
		{
			if (!ListAppend(l, copy + last, p - last) || !ListAppend(l, rep, rlen))
			{
				free(copy);
				return false;
			}
			p += plen;
			last = p;
		}
		else
			p++;
	}
	if (!ListAppend(l, copy + last, len - last))
	{
		free(copy);
		return false;
	}
	free(copy);
	return true;
}

/*
 * WordPiece: pieces with the prefix join the previous one, others get a
 * space; cleanup removes spaces before punctuation and contractions
 */
static bool
DecodeWordPiece(const TokDecStep *d, const DecList *in, DecList *out)
{
	static const char *const cleanup[][2] = {
		{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
		{" n't", "n't"}, {" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"},
		{" 've", "'ve"}, {" 're", "'re"}
	};
	size_t		plen = strlen(d->a);

	for (int i = 0; i < in->n; i++)
	{
		const char *t = ListAt(in, i);
		size_t		len = in->len[i];

		if (!ListOpen(out))
			return false;
		if (i > 0)
		{
			if (plen > 0 && len >= plen && memcmp(t, d->a, plen) == 0)
			{
				t += plen;
				len -= plen;
			}
			else if (!ListAppend(out, " ", 1))
				return false;
		}
		if (!ListAppend(out, t, len))
			return false;
		if (d->cleanup)
			for (size_t k = 0; k < sizeof(cleanup) / sizeof(cleanup[0]); k++)
				if (!CleanupReplace(out, cleanup[k][0], cleanup[k][1]))
					return false;
	}
	return true;
}

/*
 * Metaspace: the replacement becomes a space; the first token loses its
 * leading one when a prefix was added
 */
static bool
DecodeMetaspace(const TokDecStep *d, const DecList *in, DecList *out)
{
	size_t		rlen = strlen(d->a);

	for (int i = 0; i < in->n; i++)
	{
		const char *t = ListAt(in, i);
		size_t		len = in->len[i],
					p = 0;

		if (!ListOpen(out))
			return false;
		if (i == 0 && d->prefix_space && len >= rlen && memcmp(t, d->a, rlen) == 0)
			p = rlen;
		while (p < len)
		{
			bool		ok;

			if (p + rlen <= len && memcmp(t + p, d->a, rlen) == 0)
			{
				ok = ListAppend(out, " ", 1);
				p += rlen;
			}
			else
				ok = ListAppend(out, t + p++, 1);
			if (!ok)
				return false;
		}
	}
	return true;
}

/*
 * Run one step from in to out
 */
static bool
DecodeStep(const TokDecStep *d, const DecList *in, DecList *out)
{
	switch (d->type)
	{
		case TOK_DEC_BYTELEVEL:
			return DecodeByteLevel(in, out);
		case TOK_DEC_REPLACE:
			return DecodeReplace(d, in, out);
		case TOK_DEC_BYTEFALLBACK:
			return DecodeByteFallback(in, out);
		case TOK_DEC_FUSE:
			{
				bool		ok = ListOpen(out);

				for (int i = 0; i < in->n && ok; i++)
					ok = ListAppend(out, ListAt(in, i), in->len[i]);
				return ok;
			}
		case TOK_DEC_STRIP:
			return DecodeStrip(d, in, out);
		case TOK_DEC_WORDPIECE:
			return DecodeWordPiece(d, in, out);
		case TOK_DEC_METASPACE:
			return DecodeMetaspace(d, in, out);
	}
	return false;
}

/*
 * Decode the token strings of ids (already checked) into out
 */
int
TokDecodeTokens(const Tokenizer *tok, const int32_t *ids, int n, TokBuf *out,
				LlmError *err)
{
	DecList		lists[2] = {{{0}}, {{0}}};
	DecList    *cur = &lists[0];
	bool		ok = true;
	bool		cancelled = false;

	for (int i = 0; i < n && ok; i++)
	{
		if ((i & 0xFFFFF) == 0xFFFFF && LlmInterrupted())
			ok = !(cancelled = true);
		else
			ok = ListPush(cur, tok->tokens[ids[i]], tok->token_lens[ids[i]]);
	}
	for (int k = 0; k < tok->n_dec && ok; k++)
	{
		DecList    *next = cur == &lists[0] ? &lists[1] : &lists[0];

		if (LlmInterrupted())
		{
			ok = !(cancelled = true);
			break;
		}
		ListFree(next);
		ok = DecodeStep(&tok->dec[k], cur, next);
		cur = next;
	}
	for (int i = 0; i < cur->n && ok; i++)
	{
		if (!tok->has_dec && i > 0)
			ok = TokBufAppend(out, " ", 1);
		if (ok)
			ok = TokBufAppend(out, ListAt(cur, i), cur->len[i]);
	}
	ListFree(&lists[0]);
	ListFree(&lists[1]);
	if (cancelled)
		return LlmSetError(err, LLM_ERR_CANCELLED, "decoding was interrupted");
	if (!ok)
		return LlmSetError(err, LLM_ERR_NOMEM, "out of memory decoding tokens");
	return LLM_OK;
}

/*
 * Copy a string option into the arena
 */
static int
DupOpt(Tokenizer *tok, const char *s, char **out, LlmError *err)
{
	*out = TokArenaDup(tok, s, strlen(s), err);
	return *out ? LLM_OK : LLM_ERR_NOMEM;
}

/*
 * Parse one decoder node (a Sequence recurses)
 */
static int
ParseDec(Tokenizer *tok, const json_t *node, int depth, LlmError *err)
{
	const char *type = NULL;
	TokDecStep *d;
	int			rc;

	if (node == NULL || json_is_null(node))
		return LLM_OK;
	if (!json_is_object(node) || depth > 4)
		return LlmSetError(err, LLM_ERR_FORMAT, "tokenizer.json: bad decoder");
	if ((rc = LlmJsonGetString(node, "type", &type, "decoder", err)) != LLM_OK)
		return rc;
	if (type == NULL)
		return LlmSetError(err, LLM_ERR_FORMAT, "tokenizer.json: decoder without type");
	tok->has_dec = true;
	if (strcmp(type, "Sequence") == 0)
	{
		const json_t *list = json_object_get(node, "decoders");
		size_t		i;
		json_t	   *val;

		if (!json_is_array(list))
			return LlmSetError(err, LLM_ERR_FORMAT, "tokenizer.json: decoder Sequence without decoders");
		json_array_foreach(list, i, val)
			if ((rc = ParseDec(tok, val, depth + 1, err)) != LLM_OK)
			return rc;
		return LLM_OK;
	}
	if (tok->n_dec >= TOK_MAX_STEPS)
		return LlmSetError(err, LLM_ERR_UNSUPPORTED, "more than %d decoders", TOK_MAX_STEPS);
	d = &tok->dec[tok->n_dec];
	memset(d, 0, sizeof(*d));

	if (strcmp(type, "ByteLevel") == 0)
		d->type = TOK_DEC_BYTELEVEL;
	else if (strcmp(type, "Replace") == 0)
	{
		const json_t *pat = json_object_get(node, "pattern");
		const json_t *str = json_object_get(pat, "String");
		const char *content = NULL;

		d->type = TOK_DEC_REPLACE;
		if (!json_is_string(str))
			return LlmSetError(err, LLM_ERR_UNSUPPORTED, "Replace decoder without a String pattern is not supported");
		if ((rc = LlmJsonGetString(node, "content", &content, "Replace", err)) != LLM_OK)
			return rc;
		if (content == NULL)
			return LlmSetError(err, LLM_ERR_FORMAT, "tokenizer.json: Replace decoder without content");
		if ((rc = DupOpt(tok, json_string_value(str), &d->a, err)) != LLM_OK ||
			(rc = DupOpt(tok, content, &d->b, err)) != LLM_OK)
			return rc;
	}
	else if (strcmp(type, "ByteFallback") == 0)
		d->type = TOK_DEC_BYTEFALLBACK;
	else if (strcmp(type, "Fuse") == 0)
		d->type = TOK_DEC_FUSE;
	else if (strcmp(type, "Strip") == 0)
	{
		const char *content = " ";
		int64_t		start = 0,
					stop = 0;

		d->type = TOK_DEC_STRIP;
		if ((rc = LlmJsonGetString(node, "content", &content, "Strip", err)) != LLM_OK ||
			(rc = LlmJsonGetInt(node, "start", 0, 1 << 20, &start, "Strip", err)) != LLM_OK ||
			(rc = LlmJsonGetInt(node, "stop", 0, 1 << 20, &stop, "Strip", err)) != LLM_OK ||
			(rc = DupOpt(tok, content, &d->a, err)) != LLM_OK)
			return rc;
		d->start = (int) start;
		d->stop = (int) stop;
	}
	else if (strcmp(type, "WordPiece") == 0)
	{
		const char *prefix = "##";

		d->type = TOK_DEC_WORDPIECE;
		d->cleanup = true;
		if ((rc = LlmJsonGetString(node, "prefix", &prefix, "WordPiece", err)) != LLM_OK ||
			(rc = LlmJsonGetBool(node, "cleanup", &d->cleanup, "WordPiece", err)) != LLM_OK ||
			(rc = DupOpt(tok, prefix, &d->a, err)) != LLM_OK)
			return rc;
	}
	else if (strcmp(type, "Metaspace") == 0)
	{
		const char *rep = "\xE2\x96\x81";
		const char *scheme = NULL;

		d->type = TOK_DEC_METASPACE;
		d->prefix_space = true;
		if ((rc = LlmJsonGetString(node, "replacement", &rep, "Metaspace", err)) != LLM_OK ||
			(rc = LlmJsonGetString(node, "prepend_scheme", &scheme, "Metaspace", err)) != LLM_OK ||
			(rc = LlmJsonGetBool(node, "add_prefix_space", &d->prefix_space, "Metaspace", err)) != LLM_OK)
			return rc;
		if (scheme != NULL)
			d->prefix_space = strcmp(scheme, "never") != 0;
		if (rep[0] == '\0')
			return LlmSetError(err, LLM_ERR_FORMAT, "tokenizer.json: empty Metaspace replacement");
		if ((rc = DupOpt(tok, rep, &d->a, err)) != LLM_OK)
			return rc;
	}
	else
		return LlmSetError(err, LLM_ERR_UNSUPPORTED, "unsupported decoder type \"%s\"", type);
	tok->n_dec++;
	return LLM_OK;
}

/*
 * Parse tokenizer.json's decoder
 */
int
TokDecParse(Tokenizer *tok, const json_t *node, LlmError *err)
{
	return ParseDec(tok, node, 0, err);
}
