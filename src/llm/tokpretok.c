/*-------------------------------------------------------------------------
 *
 * tokpretok.c
 *	  Tokenizer pre-tokenizers: ByteLevel, Split with the GPT-2, Llama-3
 *	  and Qwen2 regexes, BertPreTokenizer, Whitespace, WhitespaceSplit,
 *	  Metaspace and Digits.
 *
 * The split regexes are not run by a regex engine: the three published
 * patterns are recognised by their exact text and matched by hand-written
 * scanners that reproduce the regex semantics (ordered alternation,
 * backtracking of \s+(?!\S) and \s*[\r\n]+).  Character classes come from
 * a branch-free ASCII path and ICU for the rest.  Any other pattern is
 * refused as unsupported rather than approximated.
 *
 * Pre-tokenizer steps run as a recursion over the flattened Sequence: a
 * step splits (or rewrites) its piece and hands each result to the next
 * step; the last step hands words to the model.  Nothing is materialised
 * for the whole text.
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>

#include <unicode/uchar.h>

#include "llm/llmjson.h"
#include "llm/tokinternal.h"

static const char *const GPT2_PATTERN =
"'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
static const char *const LLAMA3_PATTERN =
"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char *const QWEN2_PATTERN =
"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/* character classes of the split regexes */
#define CL_P	0				/* none of the others */
#define CL_L	1				/* \p{L} */
#define CL_N	2				/* \p{N} */
#define CL_S	3				/* \s */

/*
 * Class of the character at s[pos]; *next is the position after it
 */
static inline int
CharClass(const char *s, size_t len, size_t pos, size_t *next)
{
	unsigned char c = (unsigned char) s[pos];
	uint32_t	cp;
	int8_t		t;

	if (c < 0x80)
	{
		*next = pos + 1;
		if ((unsigned) ((c | 0x20) - 'a') < 26)
			return CL_L;
		if ((unsigned) (c - '0') < 10)
			return CL_N;
		if (c == ' ' || (c >= '\t' && c <= '\r'))
			return CL_S;
		return CL_P;
	}
	*next = pos + LlmUtf8Decode(s + pos, len - pos, &cp);
	t = u_charType(cp);
	switch (t)
	{
		case U_UPPERCASE_LETTER:
		case U_LOWERCASE_LETTER:
		case U_TITLECASE_LETTER:
		case U_MODIFIER_LETTER:
		case U_OTHER_LETTER:
			return CL_L;
		case U_DECIMAL_DIGIT_NUMBER:
		case U_LETTER_NUMBER:
		case U_OTHER_NUMBER:
			return CL_N;
		default:
			return u_isUWhiteSpace(cp) ? CL_S : CL_P;
	}
}

/*
 * End of the run of characters of class cl starting at pos (at most max
 * characters); *count gets the number of characters
 */
static inline size_t
ScanClass(const char *s, size_t len, size_t pos, int cl, int max, int *count)
{
	int			n = 0;

	while (pos < len && n < max)
	{
		size_t		next;

		if (CharClass(s, len, pos, &next) != cl)
			break;
		pos = next;
		n++;
	}
	if (count)
		*count = n;
	return pos;
}

/*
 * Match a contraction 's 't 're 've 'm 'll 'd at pos (s[pos] is the
 * apostrophe); returns its end or 0
 */
static size_t
Contraction(const char *s, size_t len, size_t pos, bool icase)
{
	unsigned char a,
				b;

	if (pos + 1 >= len)
		return 0;
	a = (unsigned char) s[pos + 1];
	b = pos + 2 < len ? (unsigned char) s[pos + 2] : 0;
	if (icase)
	{
		/* (?i) also folds U+017F (long s) to s */
		if (a == 0xC5 && b == 0xBF)
			return pos + 3;
		if (a < 0x80)
			a |= 0x20;
		if (b < 0x80 && b >= 'A')
			b |= 0x20;
	}
	if (a == 's' || a == 't' || a == 'm' || a == 'd')
		return pos + 2;
	if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
		return pos + 3;
	return 0;
}

/*
 * The shared tail of the patterns: whitespace at pos.  With newlines
 * (Llama-3, Qwen2), \s*[\r\n]+ ends after the run's last newline; then
 * \s+(?!\S) leaves the last space to the next word; then \s+
 */
static size_t
Whitespace(const char *s, size_t len, size_t pos, bool newlines)
{
	size_t		p = pos,
				last_start = pos,
				after_nl = 0;
	int			n = 0;

	while (p < len)
	{
		size_t		next;

		if (CharClass(s, len, p, &next) != CL_S)
			break;
		if (newlines && (s[p] == '\r' || s[p] == '\n'))
			after_nl = next;
		last_start = p;
		p = next;
		n++;
	}
	if (after_nl > 0)
		return after_nl;
	if (p == len || n < 2)
		return p;
	return last_start;
}

/*
 * One match of the GPT-2 pattern at pos; returns its end (> pos)
 */
static size_t
MatchGpt2(const char *s, size_t len, size_t pos)
{
	size_t		start = pos,
				next,
				end;
	int			cl;

	if (s[pos] == '\'' && (end = Contraction(s, len, pos, false)) > 0)
		return end;
	if (s[pos] == ' ' && pos + 1 < len)
	{
		cl = CharClass(s, len, pos + 1, &next);
		if (cl != CL_S)
			start = pos + 1;
		else
			cl = CL_S;
	}
	else
		cl = CharClass(s, len, pos, &next);
	if (cl == CL_S)
		return Whitespace(s, len, pos, false);
	return ScanClass(s, len, start, cl, INT32_MAX, NULL);
}

/*
 * One match of the Llama-3 (max_digits 3) or Qwen2 (1) pattern at pos
 */
static size_t
MatchLlama3(const char *s, size_t len, size_t pos, int max_digits)
{
	size_t		next,
				next2,
				end;
	int			cl;

	if (s[pos] == '\'' && (end = Contraction(s, len, pos, true)) > 0)
		return end;
	cl = CharClass(s, len, pos, &next);
	/* [^\r\n\p{L}\p{N}]?\p{L}+ */
	if (cl == CL_L)
		return ScanClass(s, len, next, CL_L, INT32_MAX, NULL);
	if (cl != CL_N && s[pos] != '\r' && s[pos] != '\n' && next < len &&
		CharClass(s, len, next, &next2) == CL_L)
		return ScanClass(s, len, next2, CL_L, INT32_MAX, NULL);
	/* \p{N}{1,max} */
	if (cl == CL_N)
		return ScanClass(s, len, next, CL_N, max_digits - 1, NULL);
	/* ' ?[^\s\p{L}\p{N}]+[\r\n]*' */
	if (s[pos] == ' ' && next < len && CharClass(s, len, next, &next2) == CL_P)
		cl = CL_P;
	else if (cl == CL_P)
		next = pos;
	if (cl == CL_P)
	{
		end = ScanClass(s, len, next, CL_P, INT32_MAX, NULL);
		while (end < len && (s[end] == '\r' || s[end] == '\n'))
			end++;
		return end;
	}
	return Whitespace(s, len, pos, true);
}

/*
 * Run the regex of kind over s and pass each match to the next step
 */
static int
SplitRegex(TokEncodeState *st, int step, TokRegexKind kind, const char *s,
		   size_t len)
{
	size_t		pos = 0;

	while (pos < len)
	{
		size_t		end;
		int			rc;

		switch (kind)
		{
			case TOK_RE_GPT2:
				end = MatchGpt2(s, len, pos);
				break;
			case TOK_RE_LLAMA3:
				end = MatchLlama3(s, len, pos, 3);
				break;
			default:
				end = MatchLlama3(s, len, pos, 1);
				break;
		}
		if (end <= pos)			/* cannot happen; never loop forever */
			end = pos + 1;
		if ((rc = TokPreTokenize(st, step + 1, s + pos, end - pos)) != LLM_OK)
			return rc;
		pos = end;
	}
	return LLM_OK;
}

/*
 * BERT punctuation: ASCII punctuation or a Unicode P* category
 */
static bool
IsBertPunct(int c)
{
	if (c < 0x80)
		return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) ||
			(c >= 91 && c <= 96) || (c >= 123 && c <= 126);
	return u_ispunct(c);
}

/*
 * Rust's char::is_whitespace (White_Space), tab/CR/LF included
 */
static inline bool
IsSpace(int c)
{
	if (c < 0x80)
		return c == ' ' || (c >= '\t' && c <= '\r');
	return u_isUWhiteSpace(c);
}

/*
 * Regex \w: alphabetic, marks, decimal digits, connector punctuation
 */
static bool
IsWordChar(int c)
{
	int8_t		t;

	if (c < 0x80)
		return (unsigned) ((c | 0x20) - 'a') < 26 || (unsigned) (c - '0') < 10 || c == '_';
	if (u_hasBinaryProperty(c, UCHAR_ALPHABETIC))
		return true;
	t = u_charType(c);
	return t == U_NON_SPACING_MARK || t == U_ENCLOSING_MARK || t == U_COMBINING_SPACING_MARK ||
		t == U_DECIMAL_DIGIT_NUMBER || t == U_CONNECTOR_PUNCTUATION ||
		c == 0x200C || c == 0x200D;
}

/*
 * Split on whitespace (dropped); with bert, each punctuation character is
 * a word; with words (Whitespace), runs of \w and runs of other
 * characters are words
 */
static int
SplitSpaces(TokEncodeState *st, int step, const char *s, size_t len,
			TokPreType type)
{
	size_t		pos = 0,
				start = 0;
	int			prev_kind = -1; /* Whitespace: 1 word run, 2 other run */
	int			rc;

	while (pos < len)
	{
		size_t		cstart = pos;
		uint32_t	c;

		pos += LlmUtf8Decode(s + pos, len - pos, &c);

		if (IsSpace(c))
		{
			if (cstart > start && (rc = TokPreTokenize(st, step + 1, s + start, cstart - start)) != LLM_OK)
				return rc;
			start = pos;
			prev_kind = -1;
		}
		else if (type == TOK_PRE_BERT && IsBertPunct(c))
		{
			if (cstart > start && (rc = TokPreTokenize(st, step + 1, s + start, cstart - start)) != LLM_OK)
				return rc;
			if ((rc = TokPreTokenize(st, step + 1, s + cstart, pos - cstart)) != LLM_OK)
				return rc;
			start = pos;
		}
		else if (type == TOK_PRE_WHITESPACE)
		{
			int			kind = IsWordChar(c) ? 1 : 2;

			if (prev_kind >= 0 && kind != prev_kind && cstart > start)
			{
				if ((rc = TokPreTokenize(st, step + 1, s + start, cstart - start)) != LLM_OK)
					return rc;
				start = cstart;
			}
			prev_kind = kind;
		}
	}
	if (len > start)
		return TokPreTokenize(st, step + 1, s + start, len - start);
	return LLM_OK;
}

/*
 * Digits: runs of \p{N} (or each digit alone) are split off
 */
static int
SplitDigits(TokEncodeState *st, int step, const char *s, size_t len,
			bool individual)
{
	size_t		pos = 0,
				start = 0;
	int			rc;
	bool		prev_digit = false;

	while (pos < len)
	{
		size_t		next;
		bool		digit = CharClass(s, len, pos, &next) == CL_N;

		if (pos > start && (digit != prev_digit || (digit && individual)))
		{
			if ((rc = TokPreTokenize(st, step + 1, s + start, pos - start)) != LLM_OK)
				return rc;
			start = pos;
		}
		prev_digit = digit;
		pos = next;
	}
	if (len > start)
		return TokPreTokenize(st, step + 1, s + start, len - start);
	return LLM_OK;
}

/*
 * Metaspace: spaces become the replacement, which may be prepended; with
 * split, each replacement starts a new word
 */
static int
Metaspace(TokEncodeState *st, int step, const TokPreStep *ps, const char *s,
		  size_t len)
{
	TokBuf	   *b = &st->scratch[step];
	size_t		rlen = strlen(ps->replacement);
	size_t		start = 0;
	int			rc;

	/* no prepend when the text starts with a space (it becomes one) */
	b->len = 0;
	if ((ps->prepend == 2 || (ps->prepend == 1 && st->first_segment)) &&
		!(len >= rlen && memcmp(s, ps->replacement, rlen) == 0) &&
		!(len > 0 && s[0] == ' ') &&
		!TokBufAppend(b, ps->replacement, rlen))
		return LlmSetError(st->err, LLM_ERR_NOMEM, "out of memory in the pre-tokenizer");
	for (size_t i = 0; i < len; i++)
	{
		bool		ok = s[i] == ' ' ? TokBufAppend(b, ps->replacement, rlen) :
			TokBufAppend(b, s + i, 1);

		if (!ok)
			return LlmSetError(st->err, LLM_ERR_NOMEM, "out of memory in the pre-tokenizer");
	}
	if (!ps->split)
		return TokPreTokenize(st, step + 1, b->data, b->len);
	for (size_t i = rlen; i + rlen <= b->len; i++)
	{
		if (memcmp(b->data + i, ps->replacement, rlen) == 0)
		{
			if ((rc = TokPreTokenize(st, step + 1, b->data + start, i - start)) != LLM_OK)
				return rc;
			start = i;
			i += rlen - 1;
		}
	}
	if (b->len > start)
		return TokPreTokenize(st, step + 1, b->data + start, b->len - start);
	return LLM_OK;
}

/*
 * Run pre-tokenizer step (and the following ones) over one piece; after
 * the last step the piece is a word for the model
 */
int
TokPreTokenize(TokEncodeState *st, int step, const char *s, size_t len)
{
	const TokPreStep *ps;

	if (len == 0)
		return LLM_OK;
	if (step >= st->tok->n_pre)
		return TokModelWord(st, s, len);
	ps = &st->tok->pre[step];
	switch (ps->type)
	{
		case TOK_PRE_REGEX:
			return SplitRegex(st, step, ps->regex, s, len);
		case TOK_PRE_BYTELEVEL:
			if (ps->prefix_space && s[0] != ' ')
			{
				TokBuf	   *b = &st->scratch[step];

				b->len = 0;
				if (!TokBufAppend(b, " ", 1) || !TokBufAppend(b, s, len))
					return LlmSetError(st->err, LLM_ERR_NOMEM, "out of memory in the pre-tokenizer");
				s = b->data;
				len = b->len;
			}
			if (ps->use_regex)
				return SplitRegex(st, step, TOK_RE_GPT2, s, len);
			return TokPreTokenize(st, step + 1, s, len);
		case TOK_PRE_BERT:
		case TOK_PRE_WHITESPACE:
		case TOK_PRE_WHITESPACE_SPLIT:
			return SplitSpaces(st, step, s, len, ps->type);
		case TOK_PRE_DIGITS:
			return SplitDigits(st, step, s, len, ps->individual);
		case TOK_PRE_METASPACE:
			return Metaspace(st, step, ps, s, len);
	}
	return LlmSetError(st->err, LLM_ERR_UNSUPPORTED, "unknown pre-tokenizer step");
}

/*
 * Metaspace's replacement character and prepend scheme
 */
static int
ParseMetaspace(TokPreStep *ps, const json_t *node, LlmError *err)
{
	const char *rep = "\xE2\x96\x81";
	const char *scheme = NULL;
	bool		add_prefix = true;
	int			rc;

	ps->split = true;
	if ((rc = LlmJsonGetString(node, "replacement", &rep, "Metaspace", err)) != LLM_OK ||
		(rc = LlmJsonGetString(node, "prepend_scheme", &scheme, "Metaspace", err)) != LLM_OK ||
		(rc = LlmJsonGetBool(node, "add_prefix_space", &add_prefix, "Metaspace", err)) != LLM_OK ||
		(rc = LlmJsonGetBool(node, "split", &ps->split, "Metaspace", err)) != LLM_OK)
		return rc;
	if (strlen(rep) == 0 || strlen(rep) >= sizeof(ps->replacement))
		return LlmSetError(err, LLM_ERR_FORMAT, "tokenizer.json: bad Metaspace replacement");
	strcpy(ps->replacement, rep);
	ps->prepend = add_prefix ? 2 : 0;
	if (scheme != NULL)
	{
		if (strcmp(scheme, "always") == 0)
			ps->prepend = 2;
		else if (strcmp(scheme, "first") == 0)
			ps->prepend = 1;
		else if (strcmp(scheme, "never") == 0)
			ps->prepend = 0;
		else
			return LlmSetError(err, LLM_ERR_UNSUPPORTED, "Metaspace prepend_scheme \"%s\"", scheme);
	}
	return LLM_OK;
}

/*
 * Split with a Regex pattern: only the known patterns, behavior Isolated
 */
static int
ParseSplit(TokPreStep *ps, const json_t *node, LlmError *err)
{
	const json_t *pat = json_object_get(node, "pattern");
	const json_t *re = json_object_get(pat, "Regex");
	const char *behavior = NULL;
	bool		invert = false;
	const char *text;
	int			rc;

	if ((rc = LlmJsonGetString(node, "behavior", &behavior, "Split", err)) != LLM_OK ||
		(rc = LlmJsonGetBool(node, "invert", &invert, "Split", err)) != LLM_OK)
		return rc;
	if (!json_is_string(re))
		return LlmSetError(err, LLM_ERR_UNSUPPORTED, "Split pre-tokenizer without a Regex pattern is not supported");
	text = json_string_value(re);
	if (strcmp(text, GPT2_PATTERN) == 0)
		ps->regex = TOK_RE_GPT2;
	else if (strcmp(text, LLAMA3_PATTERN) == 0)
		ps->regex = TOK_RE_LLAMA3;
	else if (strcmp(text, QWEN2_PATTERN) == 0)
		ps->regex = TOK_RE_QWEN2;
	else
		return LlmSetError(err, LLM_ERR_UNSUPPORTED, "unsupported Split regex \"%.200s\"", text);
	if (behavior == NULL || strcmp(behavior, "Isolated") != 0 || invert)
		return LlmSetError(err, LLM_ERR_UNSUPPORTED, "Split behavior \"%s\"%s is not supported",
						   behavior ? behavior : "(none)", invert ? " (inverted)" : "");
	ps->type = TOK_PRE_REGEX;
	return LLM_OK;
}

/*
 * Parse one pre-tokenizer node (a Sequence recurses)
 */
static int
ParsePre(Tokenizer *tok, const json_t *node, int depth, LlmError *err)
{
	const char *type = NULL;
	TokPreStep *ps;
	int			rc;

	if (node == NULL || json_is_null(node))
		return LLM_OK;
	if (!json_is_object(node) || depth > 4)
		return LlmSetError(err, LLM_ERR_FORMAT, "tokenizer.json: bad pre_tokenizer");
	if ((rc = LlmJsonGetString(node, "type", &type, "pre_tokenizer", err)) != LLM_OK)
		return rc;
	if (type == NULL)
		return LlmSetError(err, LLM_ERR_FORMAT, "tokenizer.json: pre_tokenizer without type");
	if (strcmp(type, "Sequence") == 0)
	{
		const json_t *list = json_object_get(node, "pretokenizers");
		size_t		i;
		json_t	   *val;

		if (!json_is_array(list))
			return LlmSetError(err, LLM_ERR_FORMAT, "tokenizer.json: pre_tokenizer Sequence without pretokenizers");
		json_array_foreach(list, i, val)
			if ((rc = ParsePre(tok, val, depth + 1, err)) != LLM_OK)
			return rc;
		return LLM_OK;
	}
	if (tok->n_pre >= TOK_MAX_STEPS)
		return LlmSetError(err, LLM_ERR_UNSUPPORTED, "more than %d pre-tokenizers", TOK_MAX_STEPS);
	ps = &tok->pre[tok->n_pre];
	memset(ps, 0, sizeof(*ps));

	if (strcmp(type, "ByteLevel") == 0)
	{
		ps->type = TOK_PRE_BYTELEVEL;
		ps->use_regex = true;
		if ((rc = LlmJsonGetBool(node, "add_prefix_space", &ps->prefix_space, "ByteLevel", err)) != LLM_OK ||
			(rc = LlmJsonGetBool(node, "use_regex", &ps->use_regex, "ByteLevel", err)) != LLM_OK)
			return rc;
		tok->byte_level = true;
	}
	else if (strcmp(type, "Split") == 0)
	{
		if ((rc = ParseSplit(ps, node, err)) != LLM_OK)
			return rc;
	}
	else if (strcmp(type, "BertPreTokenizer") == 0)
		ps->type = TOK_PRE_BERT;
	else if (strcmp(type, "Whitespace") == 0)
		ps->type = TOK_PRE_WHITESPACE;
	else if (strcmp(type, "WhitespaceSplit") == 0)
		ps->type = TOK_PRE_WHITESPACE_SPLIT;
	else if (strcmp(type, "Digits") == 0)
	{
		ps->type = TOK_PRE_DIGITS;
		if ((rc = LlmJsonGetBool(node, "individual_digits", &ps->individual, "Digits", err)) != LLM_OK)
			return rc;
	}
	else if (strcmp(type, "Metaspace") == 0)
	{
		ps->type = TOK_PRE_METASPACE;
		if ((rc = ParseMetaspace(ps, node, err)) != LLM_OK)
			return rc;
	}
	else
		return LlmSetError(err, LLM_ERR_UNSUPPORTED, "unsupported pre_tokenizer type \"%s\"", type);
	tok->n_pre++;
	return LLM_OK;
}

/*
 * Parse tokenizer.json's pre_tokenizer
 */
int
TokPreParse(Tokenizer *tok, const json_t *node, LlmError *err)
{
	return ParsePre(tok, node, 0, err);
}
