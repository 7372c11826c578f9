/*-------------------------------------------------------------------------
 *
 * utf8.c
 *	  UTF-8 decoding, encoding, validation and lossy repair, strict and
 *	  loose (see utf8.h for the two readings).
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "llm/utf8.h"

/*
 * Scan the strict UTF-8 character at s[0..len), len > 0.  Returns its
 * length (1 to 4), 0 when it is invalid, -1 when the bytes run out
 * before it ends with all of them valid so far; *prefix is the number of
 * leading bytes that do form the start of a valid character (0 when the
 * first byte cannot start one).
 */
static int
Scan(const unsigned char *s, size_t len, size_t *prefix)
{
	unsigned char c = s[0];
	int			n;
	unsigned char lo = 0x80,
				hi = 0xBF;

	*prefix = 1;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF)
	{
		n = 3;
		if (c == 0xE0)
			lo = 0xA0;			/* no overlongs */
		else if (c == 0xED)
			hi = 0x9F;			/* no surrogates */
	}
	else if (c >= 0xF0 && c <= 0xF4)
	{
		n = 4;
		if (c == 0xF0)
			lo = 0x90;			/* no overlongs */
		else if (c == 0xF4)
			hi = 0x8F;			/* nothing above U+10FFFF */
	}
	else
	{
		*prefix = 0;
		return 0;
	}
	for (int i = 1; i < n; i++)
	{
		if ((size_t) i >= len)
			return -1;
		if (s[i] < (i == 1 ? lo : 0x80) || s[i] > (i == 1 ? hi : 0xBF))
			return 0;
		*prefix = i + 1;
	}
	return n;
}

/*
 * Length of the strict UTF-8 character at s[0..len), len > 0: 1 to 4, 0
 * when invalid, -1 when it is a valid but incomplete prefix
 */
int
LlmUtf8SeqLen(const char *s, size_t len)
{
	size_t		prefix;

	return Scan((const unsigned char *) s, len, &prefix);
}

/*
 * Decode the strict character at s[0..len) into *cp; returns its length.
 * A byte that does not start a valid character decodes as U+FFFD with
 * length 1.
 */
size_t
LlmUtf8Decode(const char *s, size_t len, uint32_t *cp)
{
	const unsigned char *p = (const unsigned char *) s;

	if (len == 0)
	{
		*cp = 0xFFFD;
		return 0;
	}
	switch (LlmUtf8SeqLen(s, len))
	{
		case 1:
			*cp = p[0];
			return 1;
		case 2:
			*cp = ((uint32_t) (p[0] & 0x1F) << 6) | (p[1] & 0x3F);
			return 2;
		case 3:
			*cp = ((uint32_t) (p[0] & 0x0F) << 12) | ((uint32_t) (p[1] & 0x3F) << 6) |
				(p[2] & 0x3F);
			return 3;
		case 4:
			*cp = ((uint32_t) (p[0] & 0x07) << 18) | ((uint32_t) (p[1] & 0x3F) << 12) |
				((uint32_t) (p[2] & 0x3F) << 6) | (p[3] & 0x3F);
			return 4;
		default:
			*cp = 0xFFFD;
			return 1;
	}
}

/*
 * Decode the loose character at s[0..len) into *cp; returns its length.
 * Any byte that does not start one decodes as itself (U+0080..U+00FF)
 * with length 1.
 */
size_t
LlmUtf8DecodeLoose(const char *s, size_t len, uint32_t *cp)
{
	const unsigned char *p = (const unsigned char *) s;
	uint32_t	c;
	size_t		n;

	if (len == 0)
	{
		*cp = 0;
		return 0;
	}
	c = p[0];
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4;
	else
		n = 1;
	if (n == 1 || n > len)
	{
		*cp = c;
		return 1;
	}
	c &= (n == 2) ? 0x1F : (n == 3) ? 0x0F : 0x07;
	for (size_t i = 1; i < n; i++)
	{
		if ((p[i] & 0xC0) != 0x80)
		{
			*cp = p[0];
			return 1;
		}
		c = (c << 6) | (p[i] & 0x3F);
	}
	*cp = c;
	return n;
}

/*
 * Encode a code point into out (room for 4 bytes); returns the byte
 * count (1 to 4)
 */
int
LlmUtf8Encode(uint32_t cp, char *out)
{
	if (cp < 0x80)
	{
		out[0] = (char) cp;
		return 1;
	}
	if (cp < 0x800)
	{
		out[0] = (char) (0xC0 | (cp >> 6));
		out[1] = (char) (0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000)
	{
		out[0] = (char) (0xE0 | (cp >> 12));
		out[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char) (0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char) (0xF0 | (cp >> 18));
	out[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char) (0x80 | (cp & 0x3F));
	return 4;
}

/*
 * Is s[0..len) strict UTF-8?  On failure *bad (when not NULL) is the
 * offset of the first character that is not
 */
bool
LlmUtf8Valid(const char *s, size_t len, size_t *bad)
{
	const unsigned char *p = (const unsigned char *) s;
	size_t		i = 0;

	while (i < len)
	{
		int			n;

		/* ASCII fast path, 8 bytes at a time */
		while (i + 8 <= len)
		{
			uint64_t	w;

			memcpy(&w, p + i, 8);
			if (w & 0x8080808080808080ULL)
				break;
			i += 8;
		}
		if (i >= len)
			break;
		if (p[i] < 0x80)
		{
			i++;
			continue;
		}
		n = LlmUtf8SeqLen(s + i, len - i);
		if (n <= 0)
		{
			if (bad)
				*bad = i;
			return false;
		}
		i += n;
	}
	return true;
}

/*
 * Copy s[0..len) to out with U+FFFD in place of what is not strict UTF-8,
 * as how says; out needs room for 3 * len bytes.  Returns the bytes
 * written (no NUL).
 */
size_t
LlmUtf8Lossy(const char *s, size_t len, char *out, LlmUtf8Replace how)
{
	const unsigned char *p = (const unsigned char *) s;
	size_t		i = 0,
				o = 0;

	while (i < len)
	{
		size_t		prefix;
		int			n = Scan(p + i, len - i, &prefix);

		if (n > 0)
		{
			memcpy(out + o, s + i, n);
			o += n;
			i += n;
			continue;
		}
		memcpy(out + o, LLM_UTF8_REPLACEMENT, 3);
		o += 3;
		if (n < 0)
			i = len;			/* a character cut off at the end */
		else if (how == LLM_UTF8_REPLACE_BYTE || prefix == 0)
			i++;
		else
			i += prefix;
	}
	return o;
}

/*
 * Number of loose characters in s[0..len) (an invalid byte counts as one)
 */
size_t
LlmUtf8Count(const char *s, size_t len)
{
	size_t		n = 0;
	size_t		i = 0;
	uint32_t	cp;

	while (i < len)
	{
		if ((unsigned char) s[i] < 0x80)
			i++;
		else
			i += LlmUtf8DecodeLoose(s + i, len - i, &cp);
		n++;
	}
	return n;
}

/*
 * Byte offset of loose character idx of s[0..len), len when past the end
 */
size_t
LlmUtf8Offset(const char *s, size_t len, size_t idx)
{
	size_t		i = 0;
	uint32_t	cp;

	while (idx > 0 && i < len)
	{
		i += LlmUtf8DecodeLoose(s + i, len - i, &cp);
		idx--;
	}
	return i;
}
