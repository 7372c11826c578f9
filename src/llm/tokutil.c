/*-------------------------------------------------------------------------
 *
 * tokutil.c
 *	  Helpers of the tokenizer: the string arena, hash maps for the
 *	  vocabulary and the merges, growable buffers, lossy UTF-8 and UTF-16.
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>

#include <unicode/ustring.h>

#include "llm/tokinternal.h"

#define TOK_ARENA_BLOCK (256 * 1024)

/*
 * Copy len bytes of s (plus a NUL) into the tokenizer's arena
 */
char *
TokArenaDup(Tokenizer *tok, const char *s, size_t len, LlmError *err)
{
	TokArenaBlock *b = tok->arena;
	char	   *p;

	if (b == NULL || b->cap - b->used < len + 1)
	{
		size_t		cap = len + 1 > TOK_ARENA_BLOCK ? len + 1 : TOK_ARENA_BLOCK;

		b = malloc(sizeof(TokArenaBlock) + cap);
		if (b == NULL)
		{
			LlmSetError(err, LLM_ERR_NOMEM, "out of memory in the tokenizer");
			return NULL;
		}
		b->used = 0;
		b->cap = cap;
		b->next = tok->arena;
		tok->arena = b;
	}
	p = b->data + b->used;
	if (len > 0)
		memcpy(p, s, len);
	p[len] = '\0';
	b->used += len + 1;
	return p;
}

/*
 * Free every block of the arena
 */
void
TokArenaFree(Tokenizer *tok)
{
	TokArenaBlock *b = tok->arena;

	while (b != NULL)
	{
		TokArenaBlock *next = b->next;

		free(b);
		b = next;
	}
	tok->arena = NULL;
}

/*
 * A fast 64-bit hash of a short string (8 bytes at a time)
 */
uint64_t
TokHash(const char *s, size_t len)
{
	uint64_t	h = 0x9E3779B97F4A7C15ULL ^ (len * 0xff51afd7ed558ccdULL);
	size_t		i = 0;

	for (; i + 8 <= len; i += 8)
	{
		uint64_t	w;

		memcpy(&w, s + i, 8);
		h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
		h ^= h >> 31;
	}
	if (i < len)
	{
		uint64_t	w = 0;

		memcpy(&w, s + i, len - i);
		h = (h ^ w) * 0x94d049bb133111ebULL;
	}
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 32;
	return h;
}

/*
 * Capacity for n entries at a load of at most 1/2
 */
static uint32_t
MapCapacity(size_t n)
{
	uint32_t	cap = 16;

	while (cap < 2 * n + 2)
		cap <<= 1;
	return cap;
}

/*
 * Create an empty string map sized for n keys
 */
int
TokStrMapInit(TokStrMap *m, size_t n, LlmError *err)
{
	uint32_t	cap;

	if (n > TOK_MAX_ID)
		return LlmSetError(err, LLM_ERR_FORMAT, "tokenizer vocabulary too large");
	cap = MapCapacity(n);
	m->e = malloc(sizeof(TokStrEntry) * cap);
	if (m->e == NULL)
		return LlmSetError(err, LLM_ERR_NOMEM, "out of memory for the vocabulary");
	for (uint32_t i = 0; i < cap; i++)
		m->e[i].id = -1;
	m->mask = cap - 1;
	m->count = 0;
	return LLM_OK;
}

/*
 * Grow a string map to twice its capacity
 */
static int
StrMapGrow(TokStrMap *m, LlmError *err)
{
	TokStrMap	n;

	if (TokStrMapInit(&n, (size_t) (m->mask + 1), err) != LLM_OK)
		return err ? err->code : LLM_ERR_NOMEM;
	for (uint32_t i = 0; i <= m->mask; i++)
	{
		TokStrEntry *e = &m->e[i];
		uint32_t	j;

		if (e->id < 0)
			continue;
		j = (uint32_t) e->hash & n.mask;
		while (n.e[j].id >= 0)
			j = (j + 1) & n.mask;
		n.e[j] = *e;
		n.count++;
	}
	free(m->e);
	*m = n;
	return LLM_OK;
}

/*
 * Insert or replace key -> id; the key must outlive the map
 */
int
TokStrMapPut(TokStrMap *m, const char *key, size_t len, int32_t id,
			 LlmError *err)
{
	uint64_t	h = TokHash(key, len);
	uint32_t	j;

	if ((size_t) (m->count + 1) * 2 > (size_t) m->mask + 1 &&
		StrMapGrow(m, err) != LLM_OK)
		return LLM_ERR_NOMEM;
	j = (uint32_t) h & m->mask;
	while (m->e[j].id >= 0)
	{
		TokStrEntry *e = &m->e[j];

		if (e->hash == h && e->len == len && memcmp(e->key, key, len) == 0)
		{
			e->id = id;
			return LLM_OK;
		}
		j = (j + 1) & m->mask;
	}
	m->e[j].hash = h;
	m->e[j].key = key;
	m->e[j].len = (uint32_t) len;
	m->e[j].id = id;
	m->count++;
	return LLM_OK;
}

/*
 * Look up a key; -1 when absent
 */
int32_t
TokStrMapGet(const TokStrMap *m, const char *key, size_t len)
{
	uint64_t	h;
	uint32_t	j;

	if (m->e == NULL)
		return -1;
	h = TokHash(key, len);
	j = (uint32_t) h & m->mask;
	while (m->e[j].id >= 0)
	{
		const TokStrEntry *e = &m->e[j];

		if (e->hash == h && e->len == len && memcmp(e->key, key, len) == 0)
			return e->id;
		j = (j + 1) & m->mask;
	}
	return -1;
}

/*
 * Free a string map (not its keys)
 */
void
TokStrMapFree(TokStrMap *m)
{
	free(m->e);
	m->e = NULL;
}

/*
 * Slot of a pair key (the same mix as TokPairMapGet)
 */
static inline uint32_t
PairSlot(uint64_t key, uint32_t mask)
{
	return (uint32_t) ((key * 0x9E3779B97F4A7C15ULL) >> 32) & mask;
}

/*
 * Create an empty merge map for n merges
 */
int
TokPairMapInit(TokPairMap *m, size_t n, LlmError *err)
{
	uint32_t	cap;

	if (n > TOK_MAX_ID)
		return LlmSetError(err, LLM_ERR_FORMAT, "too many merges");
	cap = MapCapacity(n);
	m->e = malloc(sizeof(TokPairEntry) * cap);
	if (m->e == NULL)
		return LlmSetError(err, LLM_ERR_NOMEM, "out of memory for the merges");
	for (uint32_t i = 0; i < cap; i++)
		m->e[i].key = UINT64_MAX;
	m->mask = cap - 1;
	m->count = 0;
	return LLM_OK;
}

/*
 * Insert a merge; the first one of a pair wins, as in Hugging Face
 */
void
TokPairMapPut(TokPairMap *m, int32_t a, int32_t b, int32_t rank, int32_t id)
{
	uint64_t	key = ((uint64_t) (uint32_t) a << 32) | (uint32_t) b;
	uint32_t	j = PairSlot(key, m->mask);

	while (m->e[j].key != UINT64_MAX)
	{
		if (m->e[j].key == key)
			return;
		j = (j + 1) & m->mask;
	}
	m->e[j].key = key;
	m->e[j].rank = rank;
	m->e[j].id = id;
	m->count++;
}

/*
 * Free a merge map
 */
void
TokPairMapFree(TokPairMap *m)
{
	free(m->e);
	m->e = NULL;
}

/*
 * Make room for extra more bytes (plus a NUL)
 */
bool
TokBufReserve(TokBuf *b, size_t extra)
{
	size_t		need = b->len + extra + 1;

	if (need > b->cap)
	{
		size_t		cap = b->cap ? b->cap : 64;
		char	   *p;

		while (cap < need)
			cap *= 2;
		p = realloc(b->data, cap);
		if (p == NULL)
			return false;
		b->data = p;
		b->cap = cap;
	}
	return true;
}

/*
 * Append len bytes, keeping the buffer NUL-terminated
 */
bool
TokBufAppend(TokBuf *b, const char *s, size_t len)
{
	if (!TokBufReserve(b, len))
		return false;
	if (len > 0)
		memcpy(b->data + b->len, s, len);
	b->len += len;
	b->data[b->len] = '\0';
	return true;
}

/*
 * Append one id
 */
bool
TokIdsPush(TokIds *v, int32_t id)
{
	if (v->n == v->cap)
	{
		size_t		cap = v->cap ? v->cap * 2 : 64;
		int32_t    *p = realloc(v->v, cap * sizeof(int32_t));

		if (p == NULL)
			return false;
		v->v = p;
		v->cap = cap;
	}
	v->v[v->n++] = id;
	return true;
}

/*
 * Append bytes as UTF-8, replacing each maximal invalid subpart by U+FFFD
 * (the rule of Rust's from_utf8_lossy); *ok becomes false when out of memory
 */
void
TokAppendLossy(TokBuf *out, const char *s, size_t len, bool *ok)
{
	/* each byte grows to at most 3 */
	if (len > (SIZE_MAX - out->len - 1) / 3 || !TokBufReserve(out, len * 3))
	{
		*ok = false;
		return;
	}
	out->len += LlmUtf8Lossy(s, len, out->data + out->len, LLM_UTF8_REPLACE_SUBPART);
	out->data[out->len] = '\0';
}

/*
 * UTF-8 -> malloc'ed UTF-16 (for ICU)
 */
int
TokToUtf16(const char *s, size_t len, uint16_t **out, int32_t *out_len,
		   LlmError *err)
{
	UErrorCode	status = U_ZERO_ERROR;
	UChar	   *buf;
	int32_t		n;

	if (len > INT32_MAX / 2)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "text too long");
	buf = malloc(sizeof(UChar) * (len + 1));
	if (buf == NULL)
		return LlmSetError(err, LLM_ERR_NOMEM, "out of memory in the tokenizer");
	u_strFromUTF8(buf, (int32_t) len + 1, &n, s, (int32_t) len, &status);
	if (U_FAILURE(status))
	{
		free(buf);
		return LlmSetError(err, LLM_ERR_ARGUMENT, "invalid UTF-8: %s",
						   u_errorName(status));
	}
	*out = (uint16_t *) buf;
	*out_len = n;
	return LLM_OK;
}

/*
 * Append UTF-16 text to out as UTF-8
 */
int
TokFromUtf16(const uint16_t *s, int32_t len, TokBuf *out, LlmError *err)
{
	UErrorCode	status = U_ZERO_ERROR;
	int32_t		n;

	if (!TokBufReserve(out, (size_t) len * 3))
		return LlmSetError(err, LLM_ERR_NOMEM, "out of memory in the tokenizer");
	u_strToUTF8(out->data + out->len, (int32_t) (out->cap - out->len), &n,
				(const UChar *) s, len, &status);
	if (U_FAILURE(status))
		return LlmSetError(err, LLM_ERR_ARGUMENT, "UTF-16 conversion failed: %s",
						   u_errorName(status));
	out->len += n;
	out->data[out->len] = '\0';
	return LLM_OK;
}

/*
 * The GPT-2 byte -> code point table: printable bytes map to themselves,
 * the others to 256, 257, ... in byte order
 */
void
TokByteLevelChars(uint32_t map[256])
{
	uint32_t	next = 256;

	for (int b = 0; b < 256; b++)
	{
		if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174))
			map[b] = b;
		else
			map[b] = next++;
	}
}
