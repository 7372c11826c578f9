/*-------------------------------------------------------------------------
 *
 * utf8.h
 *	  UTF-8 helpers shared by the tokenizers, the chat-template
 *	  interpreter and the generation loop.
 *
 * Two readings of bytes that are not UTF-8:
 *
 * - strict (the tokenizers, generation): well-formed UTF-8 only, as the
 *	 Unicode standard defines it: no overlong forms, no surrogates, nothing
 *	 above U+10FFFF.  LlmUtf8SeqLen, LlmUtf8Decode (an invalid byte reads
 *	 as U+FFFD), LlmUtf8Valid and LlmUtf8Lossy follow it.
 * - loose (the chat templates, which must render whatever text they are
 *	 given unchanged): a lead byte C2..F4 followed by the right number of
 *	 continuation bytes is one character, whatever it encodes; any other
 *	 byte reads as itself (a code point U+0080..U+00FF).
 *	 LlmUtf8DecodeLoose, LlmUtf8Count and LlmUtf8Offset follow it.
 *
 * Both readings agree on valid UTF-8, and both consume at least one byte
 * of any non-empty input.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMLOPS_LLM_UTF8_H
#define PGMLOPS_LLM_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* the replacement character U+FFFD, encoded */
#define LLM_UTF8_REPLACEMENT	"\xEF\xBF\xBD"

/* what LlmUtf8Lossy replaces by one U+FFFD */
typedef enum LlmUtf8Replace
{
	LLM_UTF8_REPLACE_SUBPART,	/* each maximal invalid subpart (Unicode's
								 * recommended practice, Rust's
								 * from_utf8_lossy) */
	LLM_UTF8_REPLACE_BYTE		/* each invalid byte, but an incomplete
								 * character at the very end as a whole */
} LlmUtf8Replace;

extern int	LlmUtf8SeqLen(const char *s, size_t len);
extern size_t LlmUtf8Decode(const char *s, size_t len, uint32_t *cp);
extern size_t LlmUtf8DecodeLoose(const char *s, size_t len, uint32_t *cp);
extern int	LlmUtf8Encode(uint32_t cp, char *out);
extern bool LlmUtf8Valid(const char *s, size_t len, size_t *bad);
extern size_t LlmUtf8Lossy(const char *s, size_t len, char *out, LlmUtf8Replace how);
extern size_t LlmUtf8Count(const char *s, size_t len);
extern size_t LlmUtf8Offset(const char *s, size_t len, size_t idx);

#endif							/* PGMLOPS_LLM_UTF8_H */
