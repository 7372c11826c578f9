/*-------------------------------------------------------------------------
 *
 * toknorm.c
 *	  Tokenizer normalizers: Prepend, Replace, BertNormalizer, Lowercase,
 *	  StripAccents, Strip and the Unicode normal forms (through ICU).
 *
 * A Sequence is flattened into Tokenizer.norm.  Each step rewrites the
 * whole segment into a buffer; pure-ASCII text skips ICU entirely.
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>

#include "llm/llmjson.h"
#include "llm/tokinternal.h"

/*
 * Read a {"String": s} pattern; a Regex pattern is unsupported
 */
static int
GetStringPattern(Tokenizer *tok, const json_t *node, const char *what,
				 char **out, LlmError *err)
{
	const json_t *pat = json_object_get(node, "pattern");
	const json_t *str = json_object_get(pat, "String");

	if (json_is_object(pat) && json_object_get(pat, "Regex") != NULL)
		return LlmSetError(err, LLM_ERR_UNSUPPORTED, "%s with a Regex pattern is not supported", what);
	if (!json_is_string(str))
		return LlmSetError(err, LLM_ERR_FORMAT, "tokenizer.json: %s without a String pattern", what);
	*out = TokArenaDup(tok, json_string_value(str), json_string_length(str), err);
	return *out ? LLM_OK : LLM_ERR_NOMEM;
}

/*
 * Parse one normalizer node (a Sequence recurses)
 */
static int
ParseNorm(Tokenizer *tok, const json_t *node, int depth, LlmError *err)
{
	const char *type = NULL;
	TokNormStep *st;
	int			rc;

	if (node == NULL || json_is_null(node))
		return LLM_OK;
	if (!json_is_object(node) || depth > 4)
		return LlmSetError(err, LLM_ERR_FORMAT, "tokenizer.json: bad normalizer");
	if ((rc = LlmJsonGetString(node, "type", &type, "normalizer", err)) != LLM_OK)
		return rc;
	if (type == NULL)
		return LlmSetError(err, LLM_ERR_FORMAT, "tokenizer.json: normalizer without type");
	if (strcmp(type, "Sequence") == 0)
	{
		const json_t *list = json_object_get(node, "normalizers");
		size_t		i;
		json_t	   *val;

		if (!json_is_array(list))
			return LlmSetError(err, LLM_ERR_FORMAT, "tokenizer.json: normalizer Sequence without normalizers");
		json_array_foreach(list, i, val)
			if ((rc = ParseNorm(tok, val, depth + 1, err)) != LLM_OK)
			return rc;
		return LLM_OK;
	}
	if (tok->n_norm >= TOK_MAX_STEPS)
		return LlmSetError(err, LLM_ERR_UNSUPPORTED, "more than %d normalizers", TOK_MAX_STEPS);
	st = &tok->norm[tok->n_norm];
	memset(st, 0, sizeof(*st));

	if (strcmp(type, "Prepend") == 0)
	{
		const char *s = NULL;

		st->type = TOK_NORM_PREPEND;
		if ((rc = LlmJsonGetString(node, "prepend", &s, "Prepend", err)) != LLM_OK)
			return rc;
		if (s == NULL)
			return LlmSetError(err, LLM_ERR_FORMAT, "tokenizer.json: Prepend without prepend");
		if ((st->a = TokArenaDup(tok, s, strlen(s), err)) == NULL)
			return LLM_ERR_NOMEM;
	}
	else if (strcmp(type, "Replace") == 0)
	{
		const char *s = NULL;

		st->type = TOK_NORM_REPLACE;
		if ((rc = GetStringPattern(tok, node, "Replace normalizer", &st->a, err)) != LLM_OK ||
			(rc = LlmJsonGetString(node, "content", &s, "Replace", err)) != LLM_OK)
			return rc;
		if (s == NULL)
			return LlmSetError(err, LLM_ERR_FORMAT, "tokenizer.json: Replace without content");
		if ((st->b = TokArenaDup(tok, s, strlen(s), err)) == NULL)
			return LLM_ERR_NOMEM;
	}
	else if (strcmp(type, "BertNormalizer") == 0)
	{
		const json_t *sa = json_object_get(node, "strip_accents");

		st->type = TOK_NORM_BERT;
		st->clean_text = true;
		st->chinese = true;
		st->lowercase = true;
		if ((rc = LlmJsonGetBool(node, "clean_text", &st->clean_text, "BertNormalizer", err)) != LLM_OK ||
			(rc = LlmJsonGetBool(node, "handle_chinese_chars", &st->chinese, "BertNormalizer", err)) != LLM_OK ||
			(rc = LlmJsonGetBool(node, "lowercase", &st->lowercase, "BertNormalizer", err)) != LLM_OK)
			return rc;
		/* strip_accents null follows lowercase */
		st->strip_accents = st->lowercase;
		if (sa != NULL && !json_is_null(sa))
		{
			if (!json_is_boolean(sa))
				return LlmSetError(err, LLM_ERR_FORMAT, "tokenizer.json: BertNormalizer strip_accents is not a boolean");
			st->strip_accents = json_is_true(sa);
		}
	}
	else if (strcmp(type, "Lowercase") == 0)
	{
		st->type = TOK_NORM_BERT;
		st->lowercase = true;
	}
	else if (strcmp(type, "StripAccents") == 0)
	{
		st->type = TOK_NORM_BERT;
		st->strip_accents = true;
	}
	else if (strcmp(type, "Strip") == 0)
	{
		st->type = TOK_NORM_STRIP;
		st->left = st->right = true;
		if ((rc = LlmJsonGetBool(node, "strip_left", &st->left, "Strip", err)) != LLM_OK ||
			(rc = LlmJsonGetBool(node, "strip_right", &st->right, "Strip", err)) != LLM_OK)
			return rc;
	}
	else if (strcmp(type, "NFC") == 0)
		st->type = TOK_NORM_NFC;
	else if (strcmp(type, "NFD") == 0)
		st->type = TOK_NORM_NFD;
	else if (strcmp(type, "NFKC") == 0)
		st->type = TOK_NORM_NFKC;
	else if (strcmp(type, "NFKD") == 0)
		st->type = TOK_NORM_NFKD;
	else
		return LlmSetError(err, LLM_ERR_UNSUPPORTED, "unsupported normalizer type \"%s\"", type);
	tok->n_norm++;
	return LLM_OK;
}

/*
 * Parse tokenizer.json's normalizer
 */
int
TokNormParse(Tokenizer *tok, const json_t *node, LlmError *err)
{
	return ParseNorm(tok, node, 0, err);
}

/*
 * Is s pure ASCII?
 */
static bool
IsAscii(const char *s, size_t len)
{
	size_t		i = 0;

	for (; i + 8 <= len; i += 8)
	{
		uint64_t	w;

		memcpy(&w, s + i, 8);
		if (w & 0x8080808080808080ULL)
			return false;
	}
	for (; i < len; i++)
		if ((unsigned char) s[i] & 0x80)
			return false;
	return true;
}

/*
 * Out of memory in a normalizer
 */
static int
NoMem(LlmError *err)
{
	return LlmSetError(err, LLM_ERR_NOMEM, "out of memory normalizing text");
}

/*
 * Replace every occurrence of pat by rep, left to right
 */
static int
ReplaceAll(const char *s, size_t len, const char *pat, const char *rep,
		   TokBuf *out, LlmError *err)
{
	size_t		plen = strlen(pat),
				rlen = strlen(rep);
	size_t		i = 0,
				last = 0;

	if (plen == 0 || plen > len)
		return TokBufAppend(out, s, len) ? LLM_OK : NoMem(err);
	while (i + plen <= len)
	{
		const char *hit = memchr(s + i, pat[0], len - plen + 1 - i);

		if (hit == NULL)
			break;
		i = hit - s;
		if (memcmp(hit, pat, plen) == 0)
		{
			if (!TokBufAppend(out, s + last, i - last) || !TokBufAppend(out, rep, rlen))
				return NoMem(err);
			i += plen;
			last = i;
		}
		else
			i++;
	}
	return TokBufAppend(out, s + last, len - last) ? LLM_OK : NoMem(err);
}

/*
 * A Unicode normal form through ICU
 */
static int
NormalForm(TokNormType type, const char *s, size_t len, TokBuf *out,
		   LlmError *err)
{
	UErrorCode	status = U_ZERO_ERROR;
	const UNormalizer2 *n2;
	uint16_t   *src;
	UChar	   *dst;
	int32_t		n,
				cap,
				m;
	int			rc;

	if (IsAscii(s, len))
		return TokBufAppend(out, s, len) ? LLM_OK : NoMem(err);
	n2 = type == TOK_NORM_NFC ? unorm2_getNFCInstance(&status) :
		type == TOK_NORM_NFD ? unorm2_getNFDInstance(&status) :
		type == TOK_NORM_NFKC ? unorm2_getNFKCInstance(&status) :
		unorm2_getNFKDInstance(&status);
	if (U_FAILURE(status))
		return LlmSetError(err, LLM_ERR_UNSUPPORTED, "ICU normalizer: %s", u_errorName(status));
	if ((rc = TokToUtf16(s, len, &src, &n, err)) != LLM_OK)
		return rc;
	cap = n * 4 + 16;			/* NFKD expands at most 18x; retried below */
	for (;;)
	{
		dst = malloc(sizeof(UChar) * cap);
		if (dst == NULL)
		{
			free(src);
			return NoMem(err);
		}
		status = U_ZERO_ERROR;
		m = unorm2_normalize(n2, (const UChar *) src, n, dst, cap, &status);
		if (status != U_BUFFER_OVERFLOW_ERROR)
			break;
		free(dst);
		cap = m + 16;
	}
	free(src);
	if (U_FAILURE(status))
	{
		free(dst);
		return LlmSetError(err, LLM_ERR_ARGUMENT, "ICU normalization failed: %s", u_errorName(status));
	}
	rc = TokFromUtf16((uint16_t *) dst, m, out, err);
	free(dst);
	return rc;
}

/*
 * Is c a CJK ideograph (BERT's definition)?
 */
static bool
IsChinese(int c)
{
	return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
		(c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
		(c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
		(c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

/*
 * BERT's control characters: category C*, except tab, CR and LF
 */
static bool
IsControl(int c)
{
	int8_t		t;

	if (c == '\t' || c == '\n' || c == '\r')
		return false;
	t = u_charType(c);
	return t == U_CONTROL_CHAR || t == U_FORMAT_CHAR || t == U_SURROGATE ||
		t == U_PRIVATE_USE_CHAR || t == U_UNASSIGNED;
}

/*
 * Strip accents (NFD, drop Mn) and/or lowercase non-ASCII text via UTF-16
 */
static int
AccentsLower(const char *s, size_t len, bool strip, bool lower, TokBuf *out,
			 LlmError *err)
{
	UErrorCode	status = U_ZERO_ERROR;
	uint16_t   *src;
	UChar	   *buf = NULL;
	int32_t		n,
				cap;
	int			rc;

	if ((rc = TokToUtf16(s, len, &src, &n, err)) != LLM_OK)
		return rc;
	if (strip)
	{
		const UNormalizer2 *nfd = unorm2_getNFDInstance(&status);
		int32_t		m,
					k = 0;

		cap = n * 4 + 16;
		buf = malloc(sizeof(UChar) * cap);
		if (buf == NULL || U_FAILURE(status))
		{
			free(src);
			free(buf);
			return NoMem(err);
		}
		m = unorm2_normalize(nfd, (const UChar *) src, n, buf, cap, &status);
		if (U_FAILURE(status))
		{
			free(src);
			free(buf);
			return LlmSetError(err, LLM_ERR_ARGUMENT, "ICU normalization failed: %s", u_errorName(status));
		}
		/* drop nonspacing marks, keeping surrogate pairs whole */
		for (int32_t i = 0; i < m;)
		{
			UChar32		c;
			int32_t		start = i;

			U16_NEXT(buf, i, m, c);
			if (u_charType(c) == U_NON_SPACING_MARK)
				continue;
			while (start < i)
				buf[k++] = buf[start++];
		}
		free(src);
		src = (uint16_t *) buf;
		n = k;
		buf = NULL;
	}
	if (lower)
	{
		int32_t		m;

		cap = n * 3 + 16;
		buf = malloc(sizeof(UChar) * cap);
		if (buf == NULL)
		{
			free(src);
			return NoMem(err);
		}
		status = U_ZERO_ERROR;
		m = u_strToLower(buf, cap, (const UChar *) src, n, "", &status);
		free(src);
		if (U_FAILURE(status))
		{
			free(buf);
			return LlmSetError(err, LLM_ERR_ARGUMENT, "ICU lowercasing failed: %s", u_errorName(status));
		}
		src = (uint16_t *) buf;
		n = m;
	}
	rc = TokFromUtf16(src, n, out, err);
	free(src);
	return rc;
}

/*
 * BertNormalizer (also Lowercase and StripAccents alone)
 */
static int
BertNorm(const TokNormStep *st, const char *s, size_t len, TokBuf *out,
		 TokBuf *tmp, LlmError *err)
{
	if (IsAscii(s, len))
	{
		if (!TokBufReserve(out, len))
			return NoMem(err);
		for (size_t i = 0; i < len; i++)
		{
			unsigned char c = (unsigned char) s[i];

			if (st->clean_text)
			{
				if (c == '\t' || c == '\n' || c == '\r')
					c = ' ';
				else if (c < 0x20 || c == 0x7F)
					continue;
			}
			if (st->lowercase && c >= 'A' && c <= 'Z')
				c += 'a' - 'A';
			out->data[out->len++] = (char) c;
		}
		out->data[out->len] = '\0';
		return LLM_OK;
	}

	tmp->len = 0;
	if (st->clean_text || st->chinese)
	{
		size_t		i = 0;

		while (i < len)
		{
			size_t		start = i;
			uint32_t	c;
			bool		ok = true;

			i += LlmUtf8Decode(s + i, len - i, &c);

			if (st->clean_text)
			{
				if (c == 0 || c == 0xFFFD || IsControl(c))
					continue;
				if (c == '\t' || c == '\n' || c == '\r' || u_isUWhiteSpace(c))
				{
					ok = TokBufAppend(tmp, " ", 1);
					if (!ok)
						return NoMem(err);
					continue;
				}
			}
			if (st->chinese && IsChinese(c))
				ok = TokBufAppend(tmp, " ", 1) && TokBufAppend(tmp, s + start, i - start) &&
					TokBufAppend(tmp, " ", 1);
			else
				ok = TokBufAppend(tmp, s + start, i - start);
			if (!ok)
				return NoMem(err);
		}
		s = tmp->data ? tmp->data : "";
		len = tmp->len;
	}
	if (!st->strip_accents && !st->lowercase)
		return TokBufAppend(out, s, len) ? LLM_OK : NoMem(err);
	if (IsAscii(s, len))
	{
		const TokNormStep lower = {.lowercase = st->lowercase};

		return BertNorm(&lower, s, len, out, NULL, err);
	}
	return AccentsLower(s, len, st->strip_accents, st->lowercase, out, err);
}

/*
 * Strip leading/trailing whitespace
 */
static int
StripNorm(const TokNormStep *st, const char *s, size_t len, TokBuf *out,
		  LlmError *err)
{
	size_t		start = 0,
				end = len;

	if (st->left)
		while (start < len)
		{
			uint32_t	c;
			size_t		n = LlmUtf8Decode(s + start, len - start, &c);

			if (!u_isUWhiteSpace(c))
				break;
			start += n;
		}
	if (st->right)
		while (end > start)
		{
			size_t		p = end - 1;
			uint32_t	c;

			while (p > start && ((unsigned char) s[p] & 0xC0) == 0x80)
				p--;
			LlmUtf8Decode(s + p, len - p, &c);
			if (!u_isUWhiteSpace(c))
				break;
			end = p;
		}
	return TokBufAppend(out, s + start, end - start) ? LLM_OK : NoMem(err);
}

/*
 * Apply one step from s into out
 */
static int
NormStep(const TokNormStep *st, const char *s, size_t len, TokBuf *out,
		 TokBuf *tmp, LlmError *err)
{
	switch (st->type)
	{
		case TOK_NORM_PREPEND:
			if (len == 0)
				return LLM_OK;
			if (!TokBufAppend(out, st->a, strlen(st->a)) || !TokBufAppend(out, s, len))
				return NoMem(err);
			return LLM_OK;
		case TOK_NORM_REPLACE:
			return ReplaceAll(s, len, st->a, st->b, out, err);
		case TOK_NORM_BERT:
		case TOK_NORM_LOWERCASE:
			return BertNorm(st, s, len, out, tmp, err);
		case TOK_NORM_STRIP:
			return StripNorm(st, s, len, out, err);
		case TOK_NORM_NFC:
		case TOK_NORM_NFD:
		case TOK_NORM_NFKC:
		case TOK_NORM_NFKD:
			return NormalForm(st->type, s, len, out, err);
	}
	return LlmSetError(err, LLM_ERR_UNSUPPORTED, "unknown normalizer step");
}

/*
 * Run the normalizer steps over s; the result is appended to out (tmp is
 * scratch)
 */
int
TokNormalize(const Tokenizer *tok, const char *s, size_t len, TokBuf *out,
			 TokBuf *tmp, LlmError *err)
{
	TokBuf		bufs[2] = {{0}, {0}};
	const char *cur = s;
	size_t		cur_len = len;
	int			rc = LLM_OK;

	if (tok->n_norm == 0)
		return TokBufAppend(out, s, len) ? LLM_OK : NoMem(err);
	for (int k = 0; k < tok->n_norm && rc == LLM_OK; k++)
	{
		TokBuf	   *dst = &bufs[k & 1];

		dst->len = 0;
		rc = NormStep(&tok->norm[k], cur, cur_len, dst, tmp, err);
		cur = dst->data ? dst->data : "";
		cur_len = dst->len;
	}
	if (rc == LLM_OK && !TokBufAppend(out, cur, cur_len))
		rc = NoMem(err);
	free(bufs[0].data);
	free(bufs[1].data);
	return rc;
}
