/*-------------------------------------------------------------------------
 *
 * chatlex.c
 *	  Lexer of the chat-template interpreter: template source -> tokens.
 *
 * It follows Jinja's lexer as transformers configures it: trim_blocks
 * (the newline right after a block or comment tag is dropped),
 * lstrip_blocks (spaces and tabs between the start of a line and a block
 * or comment tag are dropped), "-" and "+" whitespace control on every
 * tag, newlines normalized to "\n" and one trailing newline of the source
 * removed (keep_trailing_newline off).  Inside a tag, the end of the tag is
 * only recognized when brackets are balanced, so "{{ {'a': {}} }}" works.
 * Comments produce no token; {% raw %} produces one text token.
 *
 *-------------------------------------------------------------------------
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "llm/chatinternal.h"

#define MAX_BRACKETS 256

typedef struct Lexer
{
	const char *src;			/* normalized source */
	size_t		len;
	size_t		pos;
	ChatArena  *arena;
	ChatToken  *toks;
	size_t		ntoks;
	size_t		cap;
	bool		line_starting;	/* the last match ended with a newline */
	/* line and column tracking: position of line_pos's line start */
	size_t		track_pos;
	size_t		line_start;
	int			line;
	char		brackets[MAX_BRACKETS];
	int			nbrackets;
	LlmError   *err;
} Lexer;

/* advance the line counter to byte offset pos (never backwards) */
static void
Track(Lexer *lx, size_t pos)
{
	while (lx->track_pos < pos)
	{
		if (lx->src[lx->track_pos] == '\n')
		{
			lx->line++;
			lx->line_start = lx->track_pos + 1;
		}
		lx->track_pos++;
	}
}

/* record a syntax error at byte offset pos */
static int
LexError(Lexer *lx, size_t pos, int code, const char *msg, const char *detail)
{
	Track(lx, pos);
	return LlmSetError(lx->err, code, "chat template syntax error at line %d, column %d: %s%s",
					   lx->line, (int) (pos - lx->line_start) + 1, msg, detail ? detail : "");
}

/* append a token starting at byte offset pos; NULL when out of memory */
static ChatToken *
Emit(Lexer *lx, ChatTokKind kind, size_t pos)
{
	ChatToken  *t;

	if (lx->ntoks == lx->cap)
	{
		size_t		ncap = lx->cap ? lx->cap * 2 : 256;
		ChatToken  *n = ChatArenaAlloc(lx->arena, ncap * sizeof(ChatToken));

		if (n == NULL)
		{
			LlmSetError(lx->err, LLM_ERR_NOMEM, "chat template: out of memory");
			return NULL;
		}
		if (lx->ntoks)
			memcpy(n, lx->toks, lx->ntoks * sizeof(ChatToken));
		lx->toks = n;
		lx->cap = ncap;
	}
	Track(lx, pos);
	t = &lx->toks[lx->ntoks++];
	memset(t, 0, sizeof(*t));
	t->kind = kind;
	t->line = lx->line;
	t->col = (int) (pos - lx->line_start) + 1;
	return t;
}

/* length of the whitespace character at p (Python \s), 0 if none */
static size_t
SpaceAt(const char *p, size_t len)
{
	uint32_t	cp;
	size_t		n;

	if (len == 0)
		return 0;
	if ((unsigned char) p[0] < 0x80)
		return ChatIsSpace((unsigned char) p[0]) ? 1 : 0;
	n = LlmUtf8DecodeLoose(p, len, &cp);
	return ChatIsSpace(cp) ? n : 0;
}

/* skip whitespace from pos; returns the new position */
static size_t
SkipSpace(const Lexer *lx, size_t pos)
{
	size_t		n;

	while ((n = SpaceAt(lx->src + pos, lx->len - pos)) > 0)
		pos += n;
	return pos;
}

/* length of text with trailing whitespace removed (Python rstrip) */
static size_t
RStripLen(const char *p, size_t len)
{
	while (len > 0)
	{
		size_t		start = len - 1;

		/* back up to the first byte of the last character */
		while (start > 0 && ((unsigned char) p[start] & 0xC0) == 0x80 && len - start < 4)
			start--;
		if (SpaceAt(p + start, len - start) != len - start)
			break;
		len = start;
	}
	return len;
}

/* does src at pos start with s? */
static bool
At(const Lexer *lx, size_t pos, const char *s)
{
	size_t		n = strlen(s);

	return pos <= lx->len && lx->len - pos >= n && memcmp(lx->src + pos, s, n) == 0;
}

/*
 * Emit template text [start, end) after whitespace control for the tag
 * that follows: sign is '-', '+' or 0; lstrip applies to block and
 * comment tags only.
 */
static int
EmitText(Lexer *lx, size_t start, size_t end, char sign, bool lstrip)
{
	size_t		len = end - start;
	const char *p = lx->src + start;
	ChatToken  *t;

	if (sign == '-')
		len = RStripLen(p, len);
	else if (sign != '+' && lstrip)
	{
		size_t		lpos = 0;

		for (size_t i = len; i > 0; i--)
			if (p[i - 1] == '\n')
			{
				lpos = i;
				break;
			}
		if ((lpos > 0 || lx->line_starting) && lpos < len)
		{
			size_t		q = lpos;
			size_t		n;

			while (q < len && (n = SpaceAt(p + q, len - q)) > 0)
				q += n;
			if (q == len)
				len = lpos;
		}
	}
	if (len == 0)
		return LLM_OK;
	t = Emit(lx, TK_TEXT, start);
	if (t == NULL)
		return LLM_ERR_NOMEM;
	t->str = p;
	t->len = len;
	return LLM_OK;
}

/*
 * Match the end of a block tag at pos ("+%}", "-%}" plus whitespace, or
 * "%}" plus one newline); returns the position after it or 0.
 */
static size_t
BlockEndAt(const Lexer *lx, size_t pos)
{
	if (At(lx, pos, "+%}"))
		return pos + 3;
	if (At(lx, pos, "-%}"))
		return SkipSpace(lx, pos + 3);
	if (At(lx, pos, "%}"))
		return pos + 2 + (At(lx, pos + 2, "\n") ? 1 : 0);
	return 0;
}

/* decode the body of a string literal (Python unicode-escape rules) */
static int
Unescape(Lexer *lx, size_t start, size_t end, ChatToken *t)
{
	char	   *out = ChatArenaAlloc(lx->arena, end - start + 1);
	size_t		o = 0;
	size_t		i = start;
	const char *s = lx->src;

	if (out == NULL)
		return LlmSetError(lx->err, LLM_ERR_NOMEM, "chat template: out of memory");
	while (i < end)
	{
		char		c = s[i];
		uint32_t	cp = 0;
		int			ndig = 0;

		if (c != '\\' || i + 1 >= end)
		{
			out[o++] = c;
			i++;
			continue;
		}
		c = s[i + 1];
		i += 2;
		switch (c)
		{
			case '\n':
				continue;
			case '\\':
			case '\'':
			case '"':
				out[o++] = c;
				continue;
			case 'a':
				out[o++] = '\a';
				continue;
			case 'b':
				out[o++] = '\b';
				continue;
			case 'f':
				out[o++] = '\f';
				continue;
			case 'n':
				out[o++] = '\n';
				continue;
			case 'r':
				out[o++] = '\r';
				continue;
			case 't':
				out[o++] = '\t';
				continue;
			case 'v':
				out[o++] = '\v';
				continue;
			case 'x':
				ndig = 2;
				break;
			case 'u':
				ndig = 4;
				break;
			case 'U':
				ndig = 8;
				break;
			default:
				if (c >= '0' && c <= '7')
				{
					int			k = 0;

					cp = c - '0';
					while (k < 2 && i < end && s[i] >= '0' && s[i] <= '7')
					{
						cp = cp * 8 + (s[i++] - '0');
						k++;
					}
					/* an octal escape never needs more than its own bytes */
					o += LlmUtf8Encode(cp, out + o);
					continue;
				}
				out[o++] = '\\';
				out[o++] = c;
				continue;
		}
		for (int k = 0; k < ndig; k++)
		{
			char		h = i < end ? s[i] : 0;
			int			v;

			if (h >= '0' && h <= '9')
				v = h - '0';
			else if (h >= 'a' && h <= 'f')
				v = h - 'a' + 10;
			else if (h >= 'A' && h <= 'F')
				v = h - 'A' + 10;
			else
				return LexError(lx, i, LLM_ERR_FORMAT, "truncated escape in string literal", NULL);
			cp = cp * 16 + v;
			i++;
		}
		if (cp > 0x10FFFF)
			return LexError(lx, i, LLM_ERR_FORMAT, "illegal Unicode character in string literal", NULL);
		if (cp >= 0xD800 && cp <= 0xDFFF)
			cp = 0xFFFD;
		/* \xhh is 4 bytes of source for at most 2 of output, and so on */
		o += LlmUtf8Encode(cp, out + o);
	}
	out[o] = '\0';
	t->str = out;
	t->len = o;
	return LLM_OK;
}

/* lex a number at pos; returns the position after it or 0 on error */
static size_t
LexNumber(Lexer *lx, size_t pos, ChatToken *t)
{
	const char *s = lx->src;
	size_t		i = pos;
	char		buf[128];
	size_t		b = 0;
	bool		isfloat = false;
	int			base = 10;

	/* prefixed integers */
	if (s[i] == '0' && i + 1 < lx->len && strchr("bBoOxX", s[i + 1]) != NULL && s[i + 1])
	{
		char		p = s[i + 1] | 0x20;

		base = p == 'b' ? 2 : p == 'o' ? 8 : 16;
		i += 2;
		while (i < lx->len && b < sizeof(buf) - 1 &&
			   (s[i] == '_' || (base == 16 ? isxdigit((unsigned char) s[i]) :
								(s[i] >= '0' && s[i] < '0' + base))))
		{
			if (s[i] != '_')
				buf[b++] = s[i];
			i++;
		}
		if (b == 0)
		{
			LexError(lx, pos, LLM_ERR_FORMAT, "malformed number", NULL);
			return 0;
		}
	}
	else
	{
		while (i < lx->len && (isdigit((unsigned char) s[i]) || (s[i] == '_' && i + 1 < lx->len && isdigit((unsigned char) s[i + 1]))) && b < sizeof(buf) - 8)
		{
			if (s[i] != '_')
				buf[b++] = s[i];
			i++;
		}
		/* a fraction needs digits after the dot, and no dot before us */
		if (i + 1 < lx->len && s[i] == '.' && isdigit((unsigned char) s[i + 1]) &&
			!(pos > 0 && s[pos - 1] == '.'))
		{
			isfloat = true;
			buf[b++] = s[i++];
			while (i < lx->len && (isdigit((unsigned char) s[i]) || (s[i] == '_' && i + 1 < lx->len && isdigit((unsigned char) s[i + 1]))) && b < sizeof(buf) - 8)
			{
				if (s[i] != '_')
					buf[b++] = s[i];
				i++;
			}
		}
		if (i < lx->len && (s[i] == 'e' || s[i] == 'E') && !(pos > 0 && s[pos - 1] == '.'))
		{
			size_t		j = i + 1;

			if (j < lx->len && (s[j] == '+' || s[j] == '-'))
				j++;
			if (j < lx->len && isdigit((unsigned char) s[j]))
			{
				isfloat = true;
				buf[b++] = 'e';
				if (s[i + 1] == '-')
					buf[b++] = '-';
				i = j;
				while (i < lx->len && (isdigit((unsigned char) s[i]) || s[i] == '_') && b < sizeof(buf) - 1)
				{
					if (s[i] != '_')
						buf[b++] = s[i];
					i++;
				}
			}
		}
	}
	if (b >= sizeof(buf) - 8)
	{
		LexError(lx, pos, LLM_ERR_FORMAT, "number literal too long", NULL);
		return 0;
	}
	buf[b] = '\0';
	errno = 0;
	if (isfloat)
	{
		t->kind = TK_FLOAT;
		t->fval = strtod(buf, NULL);
	}
	else
	{
		unsigned long long v = strtoull(buf, NULL, base);

		if (errno == ERANGE || v > INT64_MAX)
		{
			LexError(lx, pos, LLM_ERR_UNSUPPORTED, "integer literal too large", NULL);
			return 0;
		}
		t->kind = TK_INT;
		t->ival = (int64_t) v;
	}
	return i;
}

/* operators of two characters and their codes */
static const struct
{
	const char *text;
	int			op;
}			TwoCharOps[] =
{
	{"//", OP_FLOORDIV},
	{"**", OP_POW},
	{"==", OP_EQ},
	{"!=", OP_NE},
	{">=", OP_GE},
	{"<=", OP_LE},
};

/*
 * Tokenize the inside of a {{ }} or {% %} tag starting at pos; on success
 * lx->pos is after the end tag
 */
static int
LexTag(Lexer *lx, size_t pos, bool block)
{
	const char *s = lx->src;

	lx->nbrackets = 0;
	for (;;)
	{
		ChatToken  *t;
		char		c;

		pos = SkipSpace(lx, pos);
		if (pos >= lx->len)
			return LexError(lx, pos, LLM_ERR_FORMAT, "unexpected end of template, expected ",
							block ? "'%}'" : "'}}'");
		if (lx->nbrackets == 0)
		{
			size_t		end = 0;

			if (block)
				end = BlockEndAt(lx, pos);
			else if (At(lx, pos, "-}}"))
				end = SkipSpace(lx, pos + 3);
			else if (At(lx, pos, "}}"))
				end = pos + 2;
			if (end)
			{
				if (Emit(lx, block ? TK_BLOCK_END : TK_VAR_END, pos) == NULL)
					return LLM_ERR_NOMEM;
				lx->pos = end;
				lx->line_starting = s[end - 1] == '\n';
				return LLM_OK;
			}
		}
		c = s[pos];
		t = Emit(lx, TK_OP, pos);
		if (t == NULL)
			return LLM_ERR_NOMEM;
		if (isdigit((unsigned char) c))
		{
			pos = LexNumber(lx, pos, t);
			if (pos == 0)
				return lx->err ? lx->err->code : LLM_ERR_FORMAT;
			continue;
		}
		if (isalpha((unsigned char) c) || c == '_')
		{
			size_t		start = pos;

			while (pos < lx->len && (isalnum((unsigned char) s[pos]) || s[pos] == '_'))
				pos++;
			t->kind = TK_NAME;
			t->str = s + start;
			t->len = pos - start;
			continue;
		}
		if (c == '\'' || c == '"')
		{
			size_t		start = pos + 1;
			size_t		i = start;
			int			rc;

			while (i < lx->len && s[i] != c)
				i += (s[i] == '\\' && i + 1 < lx->len) ? 2 : 1;
			if (i >= lx->len)
				return LexError(lx, pos, LLM_ERR_FORMAT, "unterminated string literal", NULL);
			t->kind = TK_STRING;
			rc = Unescape(lx, start, i, t);
			if (rc != LLM_OK)
				return rc;
			pos = i + 1;
			continue;
		}
		t->op = 0;
		for (size_t k = 0; k < sizeof(TwoCharOps) / sizeof(TwoCharOps[0]); k++)
			if (At(lx, pos, TwoCharOps[k].text))
			{
				t->op = TwoCharOps[k].op;
				pos += 2;
				break;
			}
		if (t->op)
			continue;
		if (strchr("+-/*%~[](){}=.:|,;<>", c) == NULL || c == '\0')
		{
			char		detail[8];

			snprintf(detail, sizeof(detail), "'%c'", (c >= 0x20 && c < 0x7f) ? c : '?');
			return LexError(lx, pos, LLM_ERR_FORMAT, "unexpected character ", detail);
		}
		if (c == '(' || c == '[' || c == '{')
		{
			if (lx->nbrackets >= MAX_BRACKETS)
				return LexError(lx, pos, LLM_ERR_FORMAT, "brackets nested too deeply", NULL);
			lx->brackets[lx->nbrackets++] = c == '(' ? ')' : c == '[' ? ']' : '}';
		}
		else if (c == ')' || c == ']' || c == '}')
		{
			char		detail[8];

			snprintf(detail, sizeof(detail), "'%c'", c);
			if (lx->nbrackets == 0 || lx->brackets[lx->nbrackets - 1] != c)
				return LexError(lx, pos, LLM_ERR_FORMAT, "unexpected ", detail);
			lx->nbrackets--;
		}
		t->op = c;
		pos++;
	}
}

/* after "{%" + sign at pos: is this "raw %}"?  returns the end or 0 */
static size_t
RawBeginAt(const Lexer *lx, size_t pos)
{
	pos = SkipSpace(lx, pos);
	if (!At(lx, pos, "raw"))
		return 0;
	pos = SkipSpace(lx, pos + 3);
	if (At(lx, pos, "-%}"))
		return SkipSpace(lx, pos + 3);
	if (At(lx, pos, "%}"))
		return pos + 2;
	return 0;
}

/*
 * From pos, find "{%" [sign] endraw "%}"; sets *text_end (where the tag
 * starts), *sign and returns the position after the tag, 0 if none
 */
static size_t
RawEndFrom(const Lexer *lx, size_t pos, size_t *text_end, char *sign)
{
	for (size_t i = pos; i + 1 < lx->len; i++)
	{
		size_t		q;

		if (lx->src[i] != '{' || lx->src[i + 1] != '%')
			continue;
		q = i + 2;
		*sign = 0;
		if (q < lx->len && (lx->src[q] == '-' || lx->src[q] == '+'))
			*sign = lx->src[q++];
		q = SkipSpace(lx, q);
		if (!At(lx, q, "endraw"))
			continue;
		q = BlockEndAt(lx, SkipSpace(lx, q + 6));
		if (q)
		{
			*text_end = i;
			return q;
		}
	}
	return 0;
}

/* the lexer's main loop over text and tags */
static int
LexAll(Lexer *lx)
{
	const char *s = lx->src;
	int			rc;

	lx->line_starting = true;
	while (lx->pos < lx->len)
	{
		size_t		tag = lx->pos;
		char		type = 0;
		char		sign = 0;
		size_t		after;

		/* find the next tag start */
		while (tag + 1 < lx->len)
		{
			if (s[tag] == '{' && (s[tag + 1] == '{' || s[tag + 1] == '%' || s[tag + 1] == '#'))
				break;
			tag++;
		}
		if (tag + 1 >= lx->len)
			return EmitText(lx, lx->pos, lx->len, 0, false);
		type = s[tag + 1];
		after = tag + 2;
		if (after < lx->len && (s[after] == '-' || s[after] == '+'))
			sign = s[after++];

		if (type == '%' && RawBeginAt(lx, after))
		{
			size_t		body = RawBeginAt(lx, after);
			size_t		text_end;
			char		esign;
			size_t		end;

			rc = EmitText(lx, lx->pos, tag, sign, true);
			if (rc != LLM_OK)
				return rc;
			lx->line_starting = s[body - 1] == '\n';
			end = RawEndFrom(lx, body, &text_end, &esign);
			if (end == 0)
				return LexError(lx, tag, LLM_ERR_FORMAT, "missing end of raw directive", NULL);
			rc = EmitText(lx, body, text_end, esign, true);
			if (rc != LLM_OK)
				return rc;
			lx->pos = end;
			lx->line_starting = s[end - 1] == '\n';
			continue;
		}

		rc = EmitText(lx, lx->pos, tag, sign, type != '{');
		if (rc != LLM_OK)
			return rc;

		if (type == '#')
		{
			size_t		i = after;
			size_t		end = 0;

			for (; i + 1 < lx->len; i++)
			{
				if ((s[i] == '+' || s[i] == '-') && At(lx, i + 1, "#}"))
				{
					end = s[i] == '+' ? i + 3 : SkipSpace(lx, i + 3);
					break;
				}
				if (At(lx, i, "#}"))
				{
					end = i + 2 + (At(lx, i + 2, "\n") ? 1 : 0);
					break;
				}
			}
			if (end == 0)
				return LexError(lx, tag, LLM_ERR_FORMAT, "missing end of comment tag", NULL);
			lx->pos = end;
			lx->line_starting = s[end - 1] == '\n';
			continue;
		}
		if (Emit(lx, type == '%' ? TK_BLOCK_BEGIN : TK_VAR_BEGIN, tag) == NULL)
			return LLM_ERR_NOMEM;
		rc = LexTag(lx, after, type == '%');
		if (rc != LLM_OK)
			return rc;
	}
	return LLM_OK;
}

/*
 * Tokenize a template.  Newlines are normalized first ("\r\n" and "\r"
 * become "\n") and one trailing newline is dropped, as Jinja does.
 */
int
ChatLex(const char *src, size_t len, ChatArena *arena, ChatToken **tokens,
		size_t *ntokens, LlmError *err)
{
	Lexer		lx;
	char	   *norm;
	size_t		n = 0;
	int			rc;
	ChatToken  *eof;

	if (len > CHAT_MAX_SOURCE)
		return LlmSetError(err, LLM_ERR_FORMAT, "chat template is larger than %d bytes",
						   CHAT_MAX_SOURCE);
	norm = ChatArenaAlloc(arena, len + 1);
	if (norm == NULL)
		return LlmSetError(err, LLM_ERR_NOMEM, "chat template: out of memory");
	for (size_t i = 0; i < len; i++)
	{
		if (src[i] == '\r')
		{
			norm[n++] = '\n';
			if (i + 1 < len && src[i + 1] == '\n')
				i++;
		}
		else
			norm[n++] = src[i];
	}
	if (n > 0 && norm[n - 1] == '\n')
		n--;
	norm[n] = '\0';

	memset(&lx, 0, sizeof(lx));
	lx.src = norm;
	lx.len = n;
	lx.arena = arena;
	lx.line = 1;
	lx.err = err;
	rc = LexAll(&lx);
	if (rc != LLM_OK)
		return rc;
	eof = Emit(&lx, TK_EOF, lx.len);
	if (eof == NULL)
		return LLM_ERR_NOMEM;
	*tokens = lx.toks;
	*ntokens = lx.ntoks;
	return LLM_OK;
}
