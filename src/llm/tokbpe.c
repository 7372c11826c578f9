/*-------------------------------------------------------------------------
 *
 * tokbpe.c
 *	  The BPE model: merges, byte-level and SentencePiece-style words,
 *	  byte fallback and unknown tokens.
 *
 * Merges are kept in a hash map keyed by the pair of ids, so applying one
 * never builds a string.  A word starts as one symbol per byte (byte-level
 * BPE, through the GPT-2 byte -> character table) or per character, and
 * the pair of lowest rank (leftmost on ties) is merged until none is left.
 * Short words use a linear scan over a rank array; long ones (a whole text
 * without pre-tokenizer, as SentencePiece-style tokenizers have) use a
 * binary heap over a linked list of symbols, O(n log n).
 *
 * A SentencePiece-style vocabulary where "▁" (U+2581, a space) only begins
 * tokens, as Llama-2's and Mistral's do, has no merge across the point
 * before a "▁" that follows another character: no pair across it is ever
 * merged, so BPE gives the same result on the pieces as on the whole.
 * TokBpeFinish checks the merges; when that holds, a word is cut there
 * and each piece merged alone, with short linear scans instead of one heap
 * over the whole line.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>

#include "llm/llmjson.h"
#include "llm/tokinternal.h"

#define BPE_LINEAR_MAX	64		/* words up to this many symbols: linear scan */
#define BPE_NO_RANK		INT32_MAX
#define BPE_CACHE_SLOTS 4096	/* direct-mapped word cache of one call */
#define BPE_CACHE_WORD	30		/* longest cached word, bytes */
#define BPE_CACHE_IDS	16		/* most ids of a cached word */

/* a cached word and its ids */
typedef struct BpeCacheEntry
{
	uint64_t	hash;
	uint8_t		len;			/* 0: empty */
	uint8_t		n;
	char		word[BPE_CACHE_WORD];
	int32_t		ids[BPE_CACHE_IDS];
} BpeCacheEntry;

/*
 * Look up the two halves of a merge and record it with its rank
 */
static int
AddMerge(Tokenizer *tok, const char *a, size_t alen, const char *b, size_t blen,
		 int32_t rank, TokBuf *buf, LlmError *err)
{
	int32_t		ia = TokStrMapGet(&tok->vocab, a, alen);
	int32_t		ib = TokStrMapGet(&tok->vocab, b, blen);
	int32_t		im;

	buf->len = 0;
	if (!TokBufAppend(buf, a, alen) || !TokBufAppend(buf, b, blen))
		return LlmSetError(err, LLM_ERR_NOMEM, "out of memory for the merges");
	im = TokStrMapGet(&tok->vocab, buf->data, buf->len);
	if (ia < 0 || ib < 0 || im < 0)
		return LlmSetError(err, LLM_ERR_FORMAT,
						   "tokenizer.json: merge %d (\"%.*s\" \"%.*s\") uses a token missing from the vocabulary",
						   rank, (int) (alen > 64 ? 64 : alen), a, (int) (blen > 64 ? 64 : blen), b);
	TokPairMapPut(&tok->merges, ia, ib, rank, im);
	return LLM_OK;
}

/*
 * Read an optional string option into the arena
 */
static int
GetOptString(Tokenizer *tok, const json_t *model, const char *key, char **out,
			 LlmError *err)
{
	const char *s = NULL;
	int			rc;

	if ((rc = LlmJsonGetString(model, key, &s, "model", err)) != LLM_OK)
		return rc;
	if (s == NULL || s[0] == '\0')
	{
		*out = NULL;
		return LLM_OK;
	}
	*out = TokArenaDup(tok, s, strlen(s), err);
	return *out ? LLM_OK : LLM_ERR_NOMEM;
}

/*
 * Parse the BPE model: options and merges (as "a b" strings or [a, b]
 * pairs)
 */
int
TokBpeParse(Tokenizer *tok, const json_t *model, LlmError *err)
{
	const json_t *merges = json_object_get(model, "merges");
	const char *unk = NULL;
	TokBuf		buf = {0};
	size_t		i;
	json_t	   *m;
	int			rc;

	if ((rc = LlmJsonGetBool(model, "fuse_unk", &tok->fuse_unk, "model", err)) != LLM_OK ||
		(rc = LlmJsonGetBool(model, "byte_fallback", &tok->byte_fallback, "model", err)) != LLM_OK ||
		(rc = LlmJsonGetBool(model, "ignore_merges", &tok->ignore_merges, "model", err)) != LLM_OK ||
		(rc = LlmJsonGetString(model, "unk_token", &unk, "model", err)) != LLM_OK ||
		(rc = GetOptString(tok, model, "continuing_subword_prefix", &tok->cont_prefix, err)) != LLM_OK ||
		(rc = GetOptString(tok, model, "end_of_word_suffix", &tok->word_suffix, err)) != LLM_OK)
		return rc;
	if (unk != NULL)
		tok->unk_id = TokStrMapGet(&tok->vocab, unk, strlen(unk));
	if (merges == NULL || json_is_null(merges))
		merges = json_array();
	else
		json_incref((json_t *) merges);
	if (!json_is_array(merges))
	{
		json_decref((json_t *) merges);
		return LlmSetError(err, LLM_ERR_FORMAT, "tokenizer.json: model.merges is not an array");
	}
	if ((rc = TokPairMapInit(&tok->merges, json_array_size(merges), err)) != LLM_OK)
	{
		json_decref((json_t *) merges);
		return rc;
	}
	json_array_foreach(merges, i, m)
	{
		if (json_is_string(m))
		{
			const char *s = json_string_value(m);
			size_t		len = json_string_length(m);
			const char *sp = memchr(s, ' ', len);

			if (sp == NULL || memchr(sp + 1, ' ', len - (sp + 1 - s)) != NULL)
				rc = LlmSetError(err, LLM_ERR_FORMAT, "tokenizer.json: merge %zu is not \"a b\"", i);
			else
				rc = AddMerge(tok, s, sp - s, sp + 1, len - (sp + 1 - s), (int32_t) i, &buf, err);
		}
		else if (json_is_array(m) && json_array_size(m) == 2 &&
				 json_is_string(json_array_get(m, 0)) && json_is_string(json_array_get(m, 1)))
		{
			const json_t *a = json_array_get(m, 0);
			const json_t *b = json_array_get(m, 1);

			rc = AddMerge(tok, json_string_value(a), json_string_length(a),
						  json_string_value(b), json_string_length(b), (int32_t) i, &buf, err);
		}
		else
			rc = LlmSetError(err, LLM_ERR_FORMAT, "tokenizer.json: merge %zu is neither \"a b\" nor [a, b]", i);
		if (rc != LLM_OK)
			break;
	}
	free(buf.data);
	json_decref((json_t *) merges);
	return rc;
}

/*
 * May words be cut before "▁"?  Symbols on the two sides of a cut are
 * ids: on the left, one whose text ends with another character (a
 * vocabulary string, the unknown token or a fallback byte); on the right,
 * one whose text starts with "▁".  Cutting is exact when no merge joins
 * two such ids, and when "▁" is a token (never unknown: fuse_unk could
 * fuse it with an unknown character before the cut).  Only for plain
 * character BPE.  Flags are per id over every vocabulary string, so two
 * strings with one id are both counted.
 */
static bool
MetaSplitIsExact(const Tokenizer *tok)
{
	uint8_t    *flags;			/* bit 1: a string ends with another character;
								 * bit 2: a string starts with "▁" */
	bool		exact = true;

	if (tok->byte_level || tok->ignore_merges || tok->cont_prefix || tok->word_suffix ||
		tok->vocab_size <= 0 || TokStrMapGet(&tok->vocab, TOK_META, TOK_META_LEN) < 0 ||
		(flags = calloc(tok->vocab_size, 1)) == NULL)
		return false;
	for (uint32_t j = 0; j <= tok->vocab.mask; j++)
	{
		const TokStrEntry *e = &tok->vocab.e[j];

		if (e->id < 0 || e->id >= tok->vocab_size || e->len == 0)
			continue;
		if (e->len < TOK_META_LEN || memcmp(e->key + e->len - TOK_META_LEN, TOK_META, TOK_META_LEN) != 0)
			flags[e->id] |= 1;
		if (e->len >= TOK_META_LEN && memcmp(e->key, TOK_META, TOK_META_LEN) == 0)
			flags[e->id] |= 2;
	}
	if (tok->unk_id >= 0 && tok->unk_id < tok->vocab_size)
		flags[tok->unk_id] |= 1;
	for (int b = 0; b < 256; b++)
		if (tok->byte_token[b] >= 0 && tok->byte_token[b] < tok->vocab_size)
			flags[tok->byte_token[b]] |= 1;
	for (uint32_t j = 0; j <= tok->merges.mask && exact && tok->merges.e != NULL; j++)
	{
		const TokPairEntry *e = &tok->merges.e[j];
		int32_t		left = (int32_t) (e->key >> 32);
		int32_t		right = (int32_t) (uint32_t) e->key;

		if (e->key == UINT64_MAX || left < 0 || right < 0 ||
			left >= tok->vocab_size || right >= tok->vocab_size)
			continue;
		exact = !((flags[left] & 1) && (flags[right] & 2));
	}
	free(flags);
	return exact;
}

/*
 * Build the byte tables (and the raw-byte vocabulary for ignore_merges)
 * once the vocabulary and added tokens are known
 */
int
TokBpeFinish(Tokenizer *tok, LlmError *err)
{
	uint32_t	chars[256];
	int			rc;

	TokByteLevelChars(chars);
	for (int b = 0; b < 256; b++)
	{
		char		name[8];
		char		utf8[4];
		int			n;

		snprintf(name, sizeof(name), "<0x%02X>", b);
		tok->byte_token[b] = tok->byte_fallback ?
			TokStrMapGet(&tok->vocab, name, strlen(name)) : -1;
		n = LlmUtf8Encode(chars[b], utf8);
		tok->byte_char[b] = tok->byte_level ? TokStrMapGet(&tok->vocab, utf8, n) : -1;
		if (b < 128)
		{
			char		c = (char) b;

			tok->ascii_char[b] = tok->byte_level || tok->cont_prefix || tok->word_suffix ?
				-1 : TokStrMapGet(&tok->vocab, &c, 1);
		}
	}
	tok->split_meta = MetaSplitIsExact(tok);
	if (!tok->byte_level || !tok->ignore_merges)
		return LLM_OK;

	/* raw bytes of every token whose characters are all byte-level ones */
	if ((rc = TokStrMapInit(&tok->raw_vocab, tok->vocab.count, err)) != LLM_OK)
		return rc;
	{
		TokBuf		raw = {0};
		int32_t		inverse[324];

		for (int c = 0; c < 324; c++)
			inverse[c] = -1;
		for (int b = 0; b < 256; b++)
			inverse[chars[b]] = b;
		for (int id = 0; id < tok->vocab_size && rc == LLM_OK; id++)
		{
			const char *t = tok->tokens[id];
			size_t		len = tok->token_lens[id],
						pos = 0;
			bool		ok = t != NULL;
			char	   *key;

			raw.len = 0;
			while (ok && pos < len)
			{
				uint32_t	c;
				char		byte;

				pos += LlmUtf8Decode(t + pos, len - pos, &c);
				if (c >= 324 || inverse[c] < 0)
					ok = false;
				else
				{
					byte = (char) inverse[c];
					if (!TokBufAppend(&raw, &byte, 1))
						rc = LlmSetError(err, LLM_ERR_NOMEM, "out of memory for the vocabulary");
				}
			}
			if (!ok || rc != LLM_OK || raw.len == 0)
				continue;
			key = TokArenaDup(tok, raw.data, raw.len, err);
			if (key == NULL)
				rc = LLM_ERR_NOMEM;
			else
				rc = TokStrMapPut(&tok->raw_vocab, key, raw.len, id, err);
		}
		free(raw.data);
	}
	return rc;
}

/*
 * Make room for n symbols
 */
static bool
ReserveSyms(TokEncodeState *st, size_t n)
{
	if (n > st->syms_cap)
	{
		size_t		cap = st->syms_cap ? st->syms_cap : 256;
		int32_t    *p;

		while (cap < n)
			cap *= 2;
		p = realloc(st->syms, cap * sizeof(int32_t));
		if (p == NULL)
			return false;
		st->syms = p;
		st->syms_cap = cap;
	}
	return true;
}

/*
 * Initial symbols of a non-byte-level word: one per character, with
 * byte fallback and (fused) unknown tokens
 */
static int
CharSymbols(TokEncodeState *st, const char *s, size_t len, size_t *n_out)
{
	const Tokenizer *tok = st->tok;
	size_t		pos = 0,
				n = 0;
	bool		pending_unk = false;
	TokBuf	   *b = &st->word_buf;

	while (pos < len)
	{
		size_t		start = pos;
		int32_t		id;
		const char *key = s + start;
		size_t		klen;
		uint32_t	cp;

		/* ASCII characters that are tokens: a table instead of a lookup */
		if ((unsigned char) s[pos] < 0x80 && tok->ascii_char[(unsigned char) s[pos]] >= 0)
		{
			st->syms[n++] = tok->ascii_char[(unsigned char) s[pos++]];
			pending_unk = false;
			continue;
		}
		pos += LlmUtf8Decode(s + pos, len - pos, &cp);
		klen = pos - start;
		if ((tok->cont_prefix && start > 0) || (tok->word_suffix && pos == len))
		{
			b->len = 0;
			if ((tok->cont_prefix && start > 0 &&
				 !TokBufAppend(b, tok->cont_prefix, strlen(tok->cont_prefix))) ||
				!TokBufAppend(b, s + start, pos - start) ||
				(tok->word_suffix && pos == len &&
				 !TokBufAppend(b, tok->word_suffix, strlen(tok->word_suffix))))
				return LlmSetError(st->err, LLM_ERR_NOMEM, "out of memory in BPE");
			key = b->data;
			klen = b->len;
		}
		id = TokStrMapGet(&tok->vocab, key, klen);
		if (id >= 0)
		{
			st->syms[n++] = id;
			pending_unk = false;
			continue;
		}
		if (tok->byte_fallback)
		{
			bool		all = true;

			for (size_t k = start; k < pos; k++)
				if (tok->byte_token[(unsigned char) s[k]] < 0)
					all = false;
			if (all)
			{
				for (size_t k = start; k < pos; k++)
					st->syms[n++] = tok->byte_token[(unsigned char) s[k]];
				pending_unk = false;
				continue;
			}
		}
		if (tok->unk_id >= 0 && !(pending_unk && tok->fuse_unk))
		{
			st->syms[n++] = tok->unk_id;
			pending_unk = true;
		}
	}
	*n_out = n;
	return LLM_OK;
}

/*
 * Merge with a linear scan over the adjacent pairs (short words)
 */
static size_t
MergeLinear(const Tokenizer *tok, int32_t *sym, size_t n)
{
	int32_t		rank[BPE_LINEAR_MAX];
	int32_t		merged[BPE_LINEAR_MAX];

	for (size_t i = 0; i + 1 < n; i++)
	{
		const TokPairEntry *e = TokPairMapGet(&tok->merges, sym[i], sym[i + 1]);

		rank[i] = e ? e->rank : BPE_NO_RANK;
		merged[i] = e ? e->id : -1;
	}
	while (n > 1)
	{
		int32_t		best = BPE_NO_RANK;
		size_t		bi = 0;

		for (size_t i = 0; i + 1 < n; i++)
			if (rank[i] < best)
			{
				best = rank[i];
				bi = i;
			}
		if (best == BPE_NO_RANK)
			break;
		sym[bi] = merged[bi];
		/* drop symbol bi + 1 and the pair it started */
		for (size_t i = bi + 1; i + 1 < n; i++)
		{
			sym[i] = sym[i + 1];
			rank[i] = rank[i + 1];
			merged[i] = merged[i + 1];
		}
		n--;
		if (bi > 0)
		{
			const TokPairEntry *e = TokPairMapGet(&tok->merges, sym[bi - 1], sym[bi]);

			rank[bi - 1] = e ? e->rank : BPE_NO_RANK;
			merged[bi - 1] = e ? e->id : -1;
		}
		if (bi + 1 < n)
		{
			const TokPairEntry *e = TokPairMapGet(&tok->merges, sym[bi], sym[bi + 1]);

			rank[bi] = e ? e->rank : BPE_NO_RANK;
			merged[bi] = e ? e->id : -1;
		}
	}
	return n;
}

/* a candidate merge in the heap */
typedef struct HeapItem
{
	int32_t		rank;
	int32_t		pos;			/* left symbol */
	int32_t		left;			/* ids when pushed, to detect stale items */
	int32_t		right;
} HeapItem;

/*
 * Heap order: lower rank first, then leftmost
 */
static inline bool
HeapLess(const HeapItem *a, const HeapItem *b)
{
	return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

/*
 * Push onto a binary min-heap
 */
static void
HeapPush(HeapItem *h, size_t *n, HeapItem it)
{
	size_t		i = (*n)++;

	while (i > 0)
	{
		size_t		p = (i - 1) / 2;

		if (!HeapLess(&it, &h[p]))
			break;
		h[i] = h[p];
		i = p;
	}
	h[i] = it;
}

/*
 * Pop the smallest item of a binary min-heap
 */
static HeapItem
HeapPop(HeapItem *h, size_t *n)
{
	HeapItem	top = h[0];
	HeapItem	last = h[--(*n)];
	size_t		i = 0;

	for (;;)
	{
		size_t		c = 2 * i + 1;

		if (c >= *n)
			break;
		if (c + 1 < *n && HeapLess(&h[c + 1], &h[c]))
			c++;
		if (!HeapLess(&h[c], &last))
			break;
		h[i] = h[c];
		i = c;
	}
	if (*n > 0)
		h[i] = last;
	return top;
}

/*
 * Push the merge of symbols a and b, if there is one
 */
static void
PushPair(const Tokenizer *tok, HeapItem *h, size_t *hn, const int32_t *sym,
		 int32_t a, int32_t b)
{
	const TokPairEntry *e;
	HeapItem	it;

	if (a < 0 || b < 0)
		return;
	e = TokPairMapGet(&tok->merges, sym[a], sym[b]);
	if (e == NULL)
		return;
	it.rank = e->rank;
	it.pos = a;
	it.left = sym[a];
	it.right = sym[b];
	HeapPush(h, hn, it);
}

/*
 * Merge with a heap over a linked list of symbols (long words)
 */
static int
MergeHeap(TokEncodeState *st, int32_t *sym, size_t n, size_t *n_out)
{
	const Tokenizer *tok = st->tok;
	int32_t    *next = malloc(sizeof(int32_t) * n);
	int32_t    *prev = malloc(sizeof(int32_t) * n);
	HeapItem   *heap = malloc(sizeof(HeapItem) * (3 * n + 1));
	size_t		hn = 0,
				k = 0;

	if (next == NULL || prev == NULL || heap == NULL)
	{
		free(next);
		free(prev);
		free(heap);
		return LlmSetError(st->err, LLM_ERR_NOMEM, "out of memory in BPE");
	}
	for (size_t i = 0; i < n; i++)
	{
		next[i] = i + 1 < n ? (int32_t) (i + 1) : -1;
		prev[i] = (int32_t) i - 1;
	}
	for (size_t i = 0; i + 1 < n; i++)
		PushPair(tok, heap, &hn, sym, (int32_t) i, (int32_t) (i + 1));
	while (hn > 0)
	{
		HeapItem	it;
		int32_t		r;
		const TokPairEntry *e;

		/* one long word (a text with no pre-tokenizer) can take seconds */
		if ((++k & 0xFFFFF) == 0 && LlmInterrupted())
		{
			free(next);
			free(prev);
			free(heap);
			return LlmSetError(st->err, LLM_ERR_CANCELLED, "tokenizing was interrupted");
		}
		it = HeapPop(heap, &hn);
		r = next[it.pos];

		/* stale: the left symbol was merged away or changed */
		if (sym[it.pos] != it.left || r < 0 || sym[r] != it.right)
			continue;
		e = TokPairMapGet(&tok->merges, it.left, it.right);
		sym[it.pos] = e->id;
		sym[r] = -1;
		next[it.pos] = next[r];
		if (next[r] >= 0)
			prev[next[r]] = it.pos;
		PushPair(tok, heap, &hn, sym, prev[it.pos], it.pos);
		PushPair(tok, heap, &hn, sym, it.pos, next[it.pos]);
	}
	k = 0;
	for (int32_t i = 0; i >= 0; i = next[i])
		sym[k++] = sym[i];
	free(next);
	free(prev);
	free(heap);
	*n_out = k;
	return LLM_OK;
}

/*
 * Append n ids to the result
 */
static int
PushIds(TokEncodeState *st, const int32_t *ids, size_t n)
{
	if (n == 0)
		return LLM_OK;
	if (st->ids.n + n > st->ids.cap)
	{
		for (size_t i = 0; i < n; i++)
			if (!TokIdsPush(&st->ids, ids[i]))
				return LlmSetError(st->err, LLM_ERR_NOMEM, "out of memory for token ids");
		return LLM_OK;
	}
	memcpy(st->ids.v + st->ids.n, ids, n * sizeof(int32_t));
	st->ids.n += n;
	return LLM_OK;
}

/*
 * Tokenize one word (or a piece of one: TokModelWord) with BPE and append
 * its ids.  Long texts repeat their words, so a call over one caches short
 * words (its state, so a shared Tokenizer stays read-only)
 */
int
TokBpeWord(TokEncodeState *st, const char *s, size_t len)
{
	const Tokenizer *tok = st->tok;
	size_t		n = 0;
	int			rc;
	BpeCacheEntry *ce = NULL;
	uint64_t	h = 0;

	if (len > TOK_MAX_WORD)
		return LlmSetError(st->err, LLM_ERR_ARGUMENT,
						   "a word of %zu bytes (a stretch of text this tokenizer does not "
						   "split) is too long to tokenize (limit %zu)",
						   len, TOK_MAX_WORD);

	if (st->use_cache && len <= BPE_CACHE_WORD)
	{
		if (st->cache == NULL)
			st->cache = calloc(BPE_CACHE_SLOTS, sizeof(BpeCacheEntry));
		if (st->cache != NULL)
		{
			h = TokHash(s, len);
			ce = (BpeCacheEntry *) st->cache + (h & (BPE_CACHE_SLOTS - 1));
			if (ce->len == len && ce->hash == h && memcmp(ce->word, s, len) == 0)
				return PushIds(st, ce->ids, ce->n);
		}
	}

	if (tok->ignore_merges)
	{
		int32_t		id = tok->byte_level ? TokStrMapGet(&tok->raw_vocab, s, len) :
			TokStrMapGet(&tok->vocab, s, len);

		if (id >= 0)
			return TokIdsPush(&st->ids, id) ? LLM_OK :
				LlmSetError(st->err, LLM_ERR_NOMEM, "out of memory for token ids");
	}
	if (!ReserveSyms(st, len + 1))
		return LlmSetError(st->err, LLM_ERR_NOMEM, "out of memory in BPE");
	if (tok->byte_level)
	{
		bool		pending_unk = false;

		for (size_t i = 0; i < len; i++)
		{
			int32_t		id = tok->byte_char[(unsigned char) s[i]];

			if (id >= 0)
			{
				st->syms[n++] = id;
				pending_unk = false;
			}
			else if (tok->unk_id >= 0 && !(pending_unk && tok->fuse_unk))
			{
				st->syms[n++] = tok->unk_id;
				pending_unk = true;
			}
		}
	}
	else if ((rc = CharSymbols(st, s, len, &n)) != LLM_OK)
		return rc;

	if (n > 1)
	{
		if (n <= BPE_LINEAR_MAX)
			n = MergeLinear(tok, st->syms, n);
		else if ((rc = MergeHeap(st, st->syms, n, &n)) != LLM_OK)
			return rc;
	}
	if (ce != NULL && n <= BPE_CACHE_IDS)
	{
		ce->hash = h;
		ce->len = (uint8_t) len;
		ce->n = (uint8_t) n;
		memcpy(ce->word, s, len);
		memcpy(ce->ids, st->syms, n * sizeof(int32_t));
	}
	return PushIds(st, st->syms, n);
}
