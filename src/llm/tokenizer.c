/*-------------------------------------------------------------------------
 *
 * tokenizer.c
 *	  Tokenizers read from a Hugging Face tokenizer.json: loading, added
 *	  tokens, the encoding driver, post-processor templates and the public
 *	  accessors.
 *
 * The pipeline pieces live in their own files: toknorm.c (normalizers),
 * tokpretok.c (pre-tokenizers and the hand-written split regexes),
 * tokbpe.c and tokwordpiece.c (models) and tokdecode.c (decoders).
 * A Tokenizer is immutable once built, so one may be shared by threads;
 * all encoding state lives in a TokEncodeState on the caller's stack.
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <unistd.h>

#include <unicode/uchar.h>

#include "llm/llmjson.h"
#include "llm/tokinternal.h"

/*
 * Record token s (len bytes) under id: the id -> text table and the
 * text -> id map
 */
int
TokVocabAdd(Tokenizer *tok, const char *s, size_t len, int64_t id,
			LlmError *err)
{
	char	   *copy;

	if (id < 0 || id >= tok->vocab_size)
		return LlmSetError(err, LLM_ERR_FORMAT, "token id %lld out of range",
						   (long long) id);
	if (tok->tokens[id] != NULL && tok->token_lens[id] == len &&
		memcmp(tok->tokens[id], s, len) == 0)
		return LLM_OK;
	copy = TokArenaDup(tok, s, len, err);
	if (copy == NULL)
		return LLM_ERR_NOMEM;
	tok->tokens[id] = copy;
	tok->token_lens[id] = (uint32_t) len;
	return TokStrMapPut(&tok->vocab, copy, len, (int32_t) id, err);
}

/*
 * Read one id from a JSON value
 */
static int
GetId(const json_t *v, int64_t *id, const char *what, LlmError *err)
{
	if (!json_is_integer(v))
		return LlmSetError(err, LLM_ERR_FORMAT, "%s: id is not an integer", what);
	*id = json_integer_value(v);
	if (*id < 0 || *id >= TOK_MAX_ID)
		return LlmSetError(err, LLM_ERR_FORMAT, "%s: id %lld out of range",
						   what, (long long) *id);
	return LLM_OK;
}

/*
 * Size the id tables from the vocabulary and the added tokens and fill
 * them
 */
static int
LoadVocab(Tokenizer *tok, const json_t *vocab, const json_t *added,
		  LlmError *err)
{
	const char *key;
	json_t	   *val;
	int64_t		max_id = -1;
	size_t		n_entries = 0;
	size_t		i;
	int			rc;

	if (!json_is_object(vocab))
		return LlmSetError(err, LLM_ERR_FORMAT, "tokenizer.json: model.vocab is not an object");
	if (added != NULL && !json_is_array(added))
		return LlmSetError(err, LLM_ERR_FORMAT, "tokenizer.json: added_tokens is not an array");

	json_object_foreach((json_t *) vocab, key, val)
	{
		int64_t		id;

		if ((rc = GetId(val, &id, "model.vocab", err)) != LLM_OK)
			return rc;
		if (id > max_id)
			max_id = id;
		n_entries++;
	}
	json_array_foreach(added, i, val)
	{
		int64_t		id;

		if (!json_is_object(val))
			return LlmSetError(err, LLM_ERR_FORMAT, "tokenizer.json: added token is not an object");
		if ((rc = GetId(json_object_get(val, "id"), &id, "added_tokens", err)) != LLM_OK)
			return rc;
		if (id > max_id)
			max_id = id;
		n_entries++;
	}
	if (max_id < 0)
		return LlmSetError(err, LLM_ERR_FORMAT, "tokenizer.json: empty vocabulary");
	if (max_id >= 8 * (int64_t) n_entries + 1024)
		return LlmSetError(err, LLM_ERR_FORMAT,
						   "tokenizer.json: id %lld is far beyond the %zu entries",
						   (long long) max_id, n_entries);

	tok->vocab_size = (int) max_id + 1;
	tok->tokens = calloc(tok->vocab_size, sizeof(char *));
	tok->token_lens = calloc(tok->vocab_size, sizeof(uint32_t));
	tok->special = calloc(tok->vocab_size, 1);
	if (tok->tokens == NULL || tok->token_lens == NULL || tok->special == NULL)
		return LlmSetError(err, LLM_ERR_NOMEM, "out of memory for the vocabulary");
	if ((rc = TokStrMapInit(&tok->vocab, n_entries, err)) != LLM_OK)
		return rc;

	json_object_foreach((json_t *) vocab, key, val)
	{
		if ((rc = TokVocabAdd(tok, key, strlen(key), json_integer_value(val), err)) != LLM_OK)
			return rc;
	}
	return LLM_OK;
}

/*
 * Read the added_tokens array (after the normalizer, which normalized
 * tokens go through)
 */
static int
LoadAdded(Tokenizer *tok, const json_t *added, LlmError *err)
{
	size_t		i;
	json_t	   *val;
	TokBuf		norm = {0},
				tmp = {0};
	int			rc = LLM_OK;

	if (added == NULL || json_array_size(added) == 0)
		return LLM_OK;
	tok->added = calloc(json_array_size(added), sizeof(TokAdded));
	if (tok->added == NULL)
		return LlmSetError(err, LLM_ERR_NOMEM, "out of memory for added tokens");

	json_array_foreach(added, i, val)
	{
		TokAdded   *a = &tok->added[tok->n_added];
		const char *content = NULL;
		int64_t		id = json_integer_value(json_object_get(val, "id"));

		if ((rc = LlmJsonGetString(val, "content", &content, "added token", err)) != LLM_OK)
			break;
		if (content == NULL)
		{
			rc = LlmSetError(err, LLM_ERR_FORMAT, "added token %lld has no content",
							 (long long) id);
			break;
		}
		a->id = (int32_t) id;
		a->special = false;
		if ((rc = LlmJsonGetBool(val, "special", &a->special, "added token", err)) != LLM_OK ||
			(rc = LlmJsonGetBool(val, "lstrip", &a->lstrip, "added token", err)) != LLM_OK ||
			(rc = LlmJsonGetBool(val, "rstrip", &a->rstrip, "added token", err)) != LLM_OK ||
			(rc = LlmJsonGetBool(val, "single_word", &a->single_word, "added token", err)) != LLM_OK)
			break;
		a->normalized = !a->special;
		if ((rc = LlmJsonGetBool(val, "normalized", &a->normalized, "added token", err)) != LLM_OK)
			break;
		if ((rc = TokVocabAdd(tok, content, strlen(content), id, err)) != LLM_OK)
			break;
		tok->special[id] = a->special;

		/* normalized tokens are matched in normalized text */
		if (a->normalized && tok->n_norm > 0)
		{
			norm.len = 0;
			if ((rc = TokNormalize(tok, content, strlen(content), &norm, &tmp, err)) != LLM_OK)
				break;
			a->content = TokArenaDup(tok, norm.data ? norm.data : "", norm.len, err);
		}
		else
			a->content = TokArenaDup(tok, content, strlen(content), err);
		if (a->content == NULL)
		{
			rc = LLM_ERR_NOMEM;
			break;
		}
		a->len = strlen(a->content);
		tok->n_added++;
	}
	free(norm.data);
	free(tmp.data);
	return rc;
}

/* the tokenizer whose added tokens qsort compares */
typedef struct AddedSortKey
{
	const TokAdded *added;
	int			index;
} AddedSortKey;

/*
 * Order added tokens by first byte, then longest first
 */
static int
CompareAdded(const void *a, const void *b)
{
	const AddedSortKey *x = a;
	const AddedSortKey *y = b;
	unsigned char cx = (unsigned char) x->added->content[0];
	unsigned char cy = (unsigned char) y->added->content[0];

	if (cx != cy)
		return cx < cy ? -1 : 1;
	if (x->added->len != y->added->len)
		return x->added->len > y->added->len ? -1 : 1;
	return x->index - y->index;
}

/*
 * Build the matcher of the added tokens whose normalized flag is as given
 */
static int
BuildMatcher(Tokenizer *tok, TokMatcher *m, bool normalized, LlmError *err)
{
	AddedSortKey *keys;
	int			n = 0;
	int			b = 0;

	keys = malloc(sizeof(AddedSortKey) * (tok->n_added + 1));
	m->order = malloc(sizeof(int) * (tok->n_added + 1));
	if (keys == NULL || m->order == NULL)
	{
		free(keys);
		return LlmSetError(err, LLM_ERR_NOMEM, "out of memory for added tokens");
	}
	for (int i = 0; i < tok->n_added; i++)
	{
		bool		norm = tok->added[i].normalized && tok->n_norm > 0;

		if (tok->added[i].len == 0 || norm != normalized)
			continue;
		keys[n].added = &tok->added[i];
		keys[n].index = i;
		n++;
	}
	qsort(keys, n, sizeof(AddedSortKey), CompareAdded);
	for (int i = 0; i < n; i++)
		m->order[i] = keys[i].index;
	/* first[c] = first position whose token starts with a byte >= c */
	for (int c = 0; c <= 256; c++)
	{
		while (b < n && (unsigned char) keys[b].added->content[0] < c)
			b++;
		m->first[c] = b;
	}
	m->n = n;
	free(keys);
	return LLM_OK;
}

/*
 * Is the code point that ends at s[pos) (before) or starts at s[pos]
 * (after) a word character?
 */
static bool
WordCharAt(const char *s, size_t len, size_t pos, bool before)
{
	size_t		p;
	uint32_t	c;

	if (before)
	{
		if (pos == 0)
			return false;
		p = pos - 1;
		while (p > 0 && ((unsigned char) s[p] & 0xC0) == 0x80)
			p--;
	}
	else
	{
		if (pos >= len)
			return false;
		p = pos;
	}
	LlmUtf8Decode(s + p, len - p, &c);
	return c == '_' || u_isalnum(c);
}

/*
 * Is s[pos] an ASCII or Unicode whitespace character?  Returns its length
 * (0 when not)
 */
static int
SpaceAt(const char *s, size_t len, size_t pos)
{
	uint32_t	c;
	size_t		n;

	if (pos >= len)
		return 0;
	n = LlmUtf8Decode(s + pos, len - pos, &c);
	return u_isUWhiteSpace(c) ? (int) n : 0;
}

/*
 * Find the next added token in s[from..len): leftmost, then longest.
 * Returns the index into tok->added or -1, with the matched span (lstrip
 * and rstrip included) in *mstart / *mend
 */
static int
NextAdded(const Tokenizer *tok, const TokMatcher *m, const char *s, size_t len,
		  size_t from, size_t *mstart, size_t *mend)
{
	if (m->n == 0)
		return -1;
	for (size_t i = from; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		for (int k = m->first[c]; k < m->first[c + 1]; k++)
		{
			const TokAdded *a = &tok->added[m->order[k]];
			size_t		start = i,
						end = i + a->len;

			if (a->len > len - i || memcmp(s + i, a->content, a->len) != 0)
				continue;
			if (a->single_word &&
				(WordCharAt(s, len, start, true) || WordCharAt(s, len, end, false)))
				continue;
			if (a->lstrip)
			{
				while (start > from)
				{
					size_t		p = start - 1;
					int			n;

					while (p > from && ((unsigned char) s[p] & 0xC0) == 0x80)
						p--;
					n = SpaceAt(s, len, p);
					if (n == 0 || p + n != start)
						break;
					start = p;
				}
			}
			if (a->rstrip)
			{
				int			n;

				while ((n = SpaceAt(s, len, end)) > 0)
					end += n;
			}
			*mstart = start;
			*mend = end;
			return m->order[k];
		}
	}
	return -1;
}

/* does s hold "▁" at i, after another character (a cut point)? */
static inline bool
MetaCut(const char *s, size_t i, size_t len)
{
	return i + TOK_META_LEN <= len && memcmp(s + i, TOK_META, TOK_META_LEN) == 0 &&
		!(i >= TOK_META_LEN && memcmp(s + i - TOK_META_LEN, TOK_META, TOK_META_LEN) == 0);
}

/*
 * Tokenize one word, or one piece of a word, with the model
 */
static int
ModelPiece(TokEncodeState *st, const char *s, size_t len)
{
	if (len == 0)
		return LLM_OK;
	st->work += len;
	if (st->work >= TOK_INTERRUPT_BYTES)
	{
		st->work = 0;
		if (LlmInterrupted())
			return LlmSetError(st->err, LLM_ERR_CANCELLED, "tokenizing was interrupted");
	}
	if (st->tok->model == TOK_MODEL_WORDPIECE)
		return TokWordPieceWord(st, s, len);
	return TokBpeWord(st, s, len);
}

/*
 * Tokenize one word with the model: piece by piece, cut before each "▁"
 * that follows another character, where the vocabulary allows it
 * (split_meta: no merge crosses such a cut, so the ids are the same)
 */
int
TokModelWord(TokEncodeState *st, const char *s, size_t len)
{
	size_t		start = 0;
	int			rc;

	if (!st->tok->split_meta)
		return ModelPiece(st, s, len);
	for (size_t i = 1; i < len; i++)
	{
		if (!MetaCut(s, i, len))
			continue;
		if ((rc = ModelPiece(st, s + start, i - start)) != LLM_OK)
			return rc;
		start = i;
	}
	return ModelPiece(st, s + start, len - start);
}

/*
 * Pre-tokenize and tokenize a normalized piece of text
 */
static int
EncodeNormalized(TokEncodeState *st, const char *s, size_t len)
{
	const Tokenizer *tok = st->tok;
	size_t		pos = 0;

	while (pos < len)
	{
		size_t		ms,
					me;
		int			k = NextAdded(tok, &tok->norm_matcher, s, len, pos, &ms, &me);
		int			rc;

		if (k < 0)
			ms = me = len;
		if (ms > pos && (rc = TokPreTokenize(st, 0, s + pos, ms - pos)) != LLM_OK)
			return rc;
		if (k >= 0 && !TokIdsPush(&st->ids, tok->added[k].id))
			return LlmSetError(st->err, LLM_ERR_NOMEM, "out of memory for token ids");
		pos = me;
	}
	return LLM_OK;
}

/*
 * Normalize, pre-tokenize and tokenize one segment of raw text between
 * added tokens
 */
static int
EncodeSegment(TokEncodeState *st, const char *s, size_t len)
{
	const Tokenizer *tok = st->tok;
	int			rc;

	if (len == 0)
		return LLM_OK;
	if (tok->n_norm == 0)
		return EncodeNormalized(st, s, len);
	st->norm_buf.len = 0;
	if ((rc = TokNormalize(tok, s, len, &st->norm_buf, &st->norm_tmp, st->err)) != LLM_OK)
		return rc;
	if (st->norm_buf.len == 0)
		return LLM_OK;
	return EncodeNormalized(st, st->norm_buf.data, st->norm_buf.len);
}

/*
 * Free the buffers of an encoding state (not its ids)
 */
static void
FreeState(TokEncodeState *st)
{
	for (int i = 0; i <= TOK_MAX_STEPS; i++)
		free(st->scratch[i].data);
	free(st->norm_buf.data);
	free(st->norm_tmp.data);
	free(st->word_buf.data);
	free(st->syms);
	free(st->cache);
}

/*
 * Encode len bytes of UTF-8 text into token ids
 */
int
TokenizerEncode(const Tokenizer *tok, const char *text, size_t len,
				bool add_special, int32_t **ids, int *n_ids, LlmError *err)
{
	TokEncodeState st;
	size_t		bad;
	size_t		pos = 0;
	int			rc = LLM_OK;

	if (ids == NULL || n_ids == NULL || tok == NULL || (text == NULL && len > 0))
		return LlmSetError(err, LLM_ERR_ARGUMENT, "TokenizerEncode: NULL argument");
	*ids = NULL;
	*n_ids = 0;
	if (len > TOK_MAX_TEXT)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "text of %zu bytes is too long to tokenize", len);
	if (!LlmUtf8Valid(text, len, &bad))
		return LlmSetError(err, LLM_ERR_ARGUMENT, "invalid UTF-8 at byte %zu of the text", bad);

	memset(&st, 0, sizeof(st));
	st.tok = tok;
	st.err = err;
	st.first_segment = true;
	st.use_cache = len >= 2048;

	if (add_special)
		for (int i = 0; i < tok->n_post_prefix; i++)
			if (!TokIdsPush(&st.ids, tok->post_prefix[i]))
				rc = LlmSetError(err, LLM_ERR_NOMEM, "out of memory for token ids");

	while (rc == LLM_OK && pos < len)
	{
		size_t		ms,
					me;
		int			k = NextAdded(tok, &tok->raw_matcher, text, len, pos, &ms, &me);

		if (k < 0)
			ms = me = len;
		st.first_segment = (pos == 0);
		if (ms > pos)
			rc = EncodeSegment(&st, text + pos, ms - pos);
		if (rc == LLM_OK && k >= 0 && !TokIdsPush(&st.ids, tok->added[k].id))
			rc = LlmSetError(err, LLM_ERR_NOMEM, "out of memory for token ids");
		pos = me;
	}

	if (rc == LLM_OK && add_special)
		for (int i = 0; i < tok->n_post_suffix; i++)
			if (!TokIdsPush(&st.ids, tok->post_suffix[i]))
				rc = LlmSetError(err, LLM_ERR_NOMEM, "out of memory for token ids");
	if (rc == LLM_OK && st.ids.n > INT32_MAX)
		rc = LlmSetError(err, LLM_ERR_ARGUMENT, "too many tokens");
	if (rc == LLM_OK && st.ids.v == NULL &&
		(st.ids.v = malloc(sizeof(int32_t))) == NULL)
		rc = LlmSetError(err, LLM_ERR_NOMEM, "out of memory for token ids");
	FreeState(&st);
	if (rc != LLM_OK)
	{
		free(st.ids.v);
		return rc;
	}
	*ids = st.ids.v;
	*n_ids = (int) st.ids.n;
	return LLM_OK;
}

/*
 * Decode ids to text
 */
int
TokenizerDecode(const Tokenizer *tok, const int32_t *ids, int n_ids,
				bool skip_special, char **text, size_t *len, LlmError *err)
{
	TokBuf		out = {0};
	int32_t    *keep;
	int			n = 0;
	int			rc;

	if (tok == NULL || text == NULL || len == NULL || n_ids < 0 || (ids == NULL && n_ids > 0))
		return LlmSetError(err, LLM_ERR_ARGUMENT, "TokenizerDecode: bad argument");
	*text = NULL;
	*len = 0;
	keep = malloc(sizeof(int32_t) * ((size_t) n_ids + 1));
	if (keep == NULL)
		return LlmSetError(err, LLM_ERR_NOMEM, "out of memory decoding tokens");
	for (int i = 0; i < n_ids; i++)
	{
		int32_t		id = ids[i];

		if (id < 0 || id >= tok->vocab_size || tok->tokens[id] == NULL)
		{
			free(keep);
			return LlmSetError(err, LLM_ERR_ARGUMENT, "token id %d is not in the vocabulary (size %d)",
							   id, tok->vocab_size);
		}
		if (skip_special && tok->special[id])
			continue;
		keep[n++] = id;
	}
	rc = TokDecodeTokens(tok, keep, n, &out, err);
	free(keep);
	if (rc == LLM_OK && out.data == NULL && !TokBufAppend(&out, "", 0))
		rc = LlmSetError(err, LLM_ERR_NOMEM, "out of memory decoding tokens");
	if (rc != LLM_OK)
	{
		free(out.data);
		return rc;
	}
	*text = out.data;
	*len = out.len;
	return LLM_OK;
}

/*
 * Append the ids of one TemplateProcessing special token
 */
static int
TemplateSpecial(const json_t *specials, const char *name, int32_t **v, int *n,
				LlmError *err)
{
	const json_t *sp = json_object_get(specials, name);
	const json_t *list = json_object_get(sp, "ids");
	size_t		i;
	json_t	   *val;
	int32_t    *p;

	if (!json_is_array(list))
		return LlmSetError(err, LLM_ERR_FORMAT,
						   "tokenizer.json: template special token \"%s\" has no ids", name);
	if (json_array_size(list) > 64)
		return LlmSetError(err, LLM_ERR_FORMAT, "tokenizer.json: template too long");
	p = realloc(*v, sizeof(int32_t) * (*n + json_array_size(list) + 1));
	if (p == NULL)
		return LlmSetError(err, LLM_ERR_NOMEM, "out of memory for the template");
	*v = p;
	json_array_foreach(list, i, val)
	{
		int64_t		id;
		int			rc;

		if ((rc = GetId(val, &id, "template", err)) != LLM_OK)
			return rc;
		p[(*n)++] = (int32_t) id;
	}
	return LLM_OK;
}

/*
 * Append one id to a template part
 */
static int
AppendTemplateId(int32_t **v, int *n, int64_t id, LlmError *err)
{
	int32_t    *p = realloc(*v, sizeof(int32_t) * (*n + 1));

	if (p == NULL)
		return LlmSetError(err, LLM_ERR_NOMEM, "out of memory for the template");
	*v = p;
	p[(*n)++] = (int32_t) id;
	return LLM_OK;
}

/*
 * One post-processor: its prefix and suffix wrap what the earlier ones
 * produced
 */
static int
ParsePost(Tokenizer *tok, const json_t *node, int depth, LlmError *err)
{
	const char *type = NULL;
	int32_t    *pre = NULL,
			   *suf = NULL;
	int			n_pre = 0,
				n_suf = 0;
	int			rc = LLM_OK;

	if (node == NULL || json_is_null(node))
		return LLM_OK;
	if (!json_is_object(node) || depth > 4)
		return LlmSetError(err, LLM_ERR_FORMAT, "tokenizer.json: bad post_processor");
	if ((rc = LlmJsonGetString(node, "type", &type, "post_processor", err)) != LLM_OK)
		return rc;
	if (type == NULL)
		return LlmSetError(err, LLM_ERR_FORMAT, "tokenizer.json: post_processor without type");

	if (strcmp(type, "ByteLevel") == 0)
		return LLM_OK;
	if (strcmp(type, "Sequence") == 0)
	{
		const json_t *list = json_object_get(node, "processors");
		size_t		i;
		json_t	   *val;

		if (!json_is_array(list))
			return LlmSetError(err, LLM_ERR_FORMAT, "tokenizer.json: post_processor Sequence without processors");
		json_array_foreach(list, i, val)
			if ((rc = ParsePost(tok, val, depth + 1, err)) != LLM_OK)
			return rc;
		return LLM_OK;
	}
	if (strcmp(type, "TemplateProcessing") == 0)
	{
		const json_t *single = json_object_get(node, "single");
		const json_t *specials = json_object_get(node, "special_tokens");
		bool		seen_a = false;
		size_t		i;
		json_t	   *item;

		if (!json_is_array(single) || !json_is_object(specials))
			return LlmSetError(err, LLM_ERR_FORMAT, "tokenizer.json: TemplateProcessing without single or special_tokens");
		json_array_foreach(single, i, item)
		{
			const json_t *sp = json_object_get(item, "SpecialToken");
			const json_t *seq = json_object_get(item, "Sequence");
			const char *name = NULL;

			if (json_is_object(seq))
			{
				if (seen_a)
					rc = LlmSetError(err, LLM_ERR_FORMAT, "tokenizer.json: template with two sequences");
				seen_a = true;
			}
			else if (json_is_object(sp))
			{
				rc = LlmJsonGetString(sp, "id", &name, "template", err);
				if (rc == LLM_OK && name == NULL)
					rc = LlmSetError(err, LLM_ERR_FORMAT, "tokenizer.json: template special token without id");
				if (rc == LLM_OK)
					rc = seen_a ? TemplateSpecial(specials, name, &suf, &n_suf, err) :
						TemplateSpecial(specials, name, &pre, &n_pre, err);
			}
			else
				rc = LlmSetError(err, LLM_ERR_FORMAT, "tokenizer.json: bad template item");
			if (rc != LLM_OK)
				break;
		}
		if (rc == LLM_OK && !seen_a)
			rc = LlmSetError(err, LLM_ERR_FORMAT, "tokenizer.json: template without $A");
	}
	else if (strcmp(type, "BertProcessing") == 0 || strcmp(type, "RobertaProcessing") == 0)
	{
		const json_t *cls = json_object_get(node, "cls");
		const json_t *sep = json_object_get(node, "sep");
		int64_t		cls_id,
					sep_id;

		if (!json_is_array(cls) || !json_is_array(sep) ||
			(rc = GetId(json_array_get(cls, 1), &cls_id, "post_processor cls", err)) != LLM_OK ||
			(rc = GetId(json_array_get(sep, 1), &sep_id, "post_processor sep", err)) != LLM_OK)
			return rc != LLM_OK ? rc :
				LlmSetError(err, LLM_ERR_FORMAT, "tokenizer.json: %s without cls/sep", type);
		rc = AppendTemplateId(&pre, &n_pre, cls_id, err);
		if (rc == LLM_OK)
			rc = AppendTemplateId(&suf, &n_suf, sep_id, err);
	}
	else
		return LlmSetError(err, LLM_ERR_UNSUPPORTED, "unsupported post_processor type \"%s\"", type);

	/* wrap: new prefix goes before the old one, new suffix after */
	if (rc == LLM_OK && n_pre + n_suf > 0)
	{
		int32_t    *p = malloc(sizeof(int32_t) * (n_pre + tok->n_post_prefix + 1));
		int32_t    *s = malloc(sizeof(int32_t) * (n_suf + tok->n_post_suffix + 1));

		if (p == NULL || s == NULL)
		{
			free(p);
			free(s);
			rc = LlmSetError(err, LLM_ERR_NOMEM, "out of memory for the template");
		}
		else
		{
			if (n_pre > 0)
				memcpy(p, pre, sizeof(int32_t) * n_pre);
			if (tok->n_post_prefix > 0)
				memcpy(p + n_pre, tok->post_prefix, sizeof(int32_t) * tok->n_post_prefix);
			if (tok->n_post_suffix > 0)
				memcpy(s, tok->post_suffix, sizeof(int32_t) * tok->n_post_suffix);
			if (n_suf > 0)
				memcpy(s + tok->n_post_suffix, suf, sizeof(int32_t) * n_suf);
			free(tok->post_prefix);
			free(tok->post_suffix);
			tok->post_prefix = p;
			tok->post_suffix = s;
			tok->n_post_prefix += n_pre;
			tok->n_post_suffix += n_suf;
		}
	}
	free(pre);
	free(suf);
	return rc;
}

/*
 * Check that the post-processor's ids exist
 */
static int
CheckPostIds(const Tokenizer *tok, LlmError *err)
{
	for (int i = 0; i < tok->n_post_prefix + tok->n_post_suffix; i++)
	{
		int32_t		id = i < tok->n_post_prefix ? tok->post_prefix[i] :
			tok->post_suffix[i - tok->n_post_prefix];

		if (id >= tok->vocab_size || tok->tokens[id] == NULL)
			return LlmSetError(err, LLM_ERR_FORMAT,
							   "tokenizer.json: post_processor id %d is not in the vocabulary", id);
	}
	return LLM_OK;
}

/*
 * Build the model named by model.type (inferred when absent)
 */
static int
ParseModel(Tokenizer *tok, const json_t *model, LlmError *err)
{
	const char *type = NULL;
	int			rc;

	if ((rc = LlmJsonGetString(model, "type", &type, "model", err)) != LLM_OK)
		return rc;
	if (type == NULL)
	{
		if (json_object_get(model, "merges") != NULL)
			type = "BPE";
		else if (json_object_get(model, "max_input_chars_per_word") != NULL)
			type = "WordPiece";
		else
			return LlmSetError(err, LLM_ERR_FORMAT, "tokenizer.json: model without type");
	}
	if (strcmp(type, "BPE") == 0)
	{
		tok->model = TOK_MODEL_BPE;
		return TokBpeParse(tok, model, err);
	}
	if (strcmp(type, "WordPiece") == 0)
	{
		tok->model = TOK_MODEL_WORDPIECE;
		return TokWordPieceParse(tok, model, err);
	}
	return LlmSetError(err, LLM_ERR_UNSUPPORTED, "unsupported tokenizer model type \"%s\"", type);
}

/*
 * Build a tokenizer from a parsed tokenizer.json
 */
static int
BuildFromJson(Tokenizer *tok, const json_t *root, LlmError *err)
{
	const json_t *model = json_object_get(root, "model");
	const json_t *added = json_object_get(root, "added_tokens");
	int			rc;

	if (!json_is_object(root))
		return LlmSetError(err, LLM_ERR_FORMAT, "tokenizer.json is not a JSON object");
	if (!json_is_object(model))
		return LlmSetError(err, LLM_ERR_FORMAT, "tokenizer.json has no model object");
	if (json_is_null(added))
		added = NULL;
	tok->unk_id = -1;

	if ((rc = LoadVocab(tok, json_object_get(model, "vocab"), added, err)) != LLM_OK ||
		(rc = ParseModel(tok, model, err)) != LLM_OK ||
		(rc = TokNormParse(tok, json_object_get(root, "normalizer"), err)) != LLM_OK ||
		(rc = TokPreParse(tok, json_object_get(root, "pre_tokenizer"), err)) != LLM_OK ||
		(rc = ParsePost(tok, json_object_get(root, "post_processor"), 0, err)) != LLM_OK ||
		(rc = CheckPostIds(tok, err)) != LLM_OK ||
		(rc = TokDecParse(tok, json_object_get(root, "decoder"), err)) != LLM_OK ||
		(rc = LoadAdded(tok, added, err)) != LLM_OK ||
		(rc = BuildMatcher(tok, &tok->raw_matcher, false, err)) != LLM_OK ||
		(rc = BuildMatcher(tok, &tok->norm_matcher, true, err)) != LLM_OK)
		return rc;
	if (tok->model == TOK_MODEL_BPE)
		return TokBpeFinish(tok, err);
	return LLM_OK;
}

/*
 * Build from tokenizer.json text
 */
int
TokenizerParse(const char *json, size_t len, Tokenizer **out, LlmError *err)
{
	Tokenizer  *tok;
	json_t	   *root;
	int			rc;

	if (out == NULL || (json == NULL && len > 0))
		return LlmSetError(err, LLM_ERR_ARGUMENT, "TokenizerParse: NULL argument");
	*out = NULL;
	if (len > TOKENIZER_MAX_JSON_BYTES)
		return LlmSetError(err, LLM_ERR_FORMAT, "tokenizer.json is larger than %d bytes",
						   TOKENIZER_MAX_JSON_BYTES);
	root = LlmJsonParse(json, len, "tokenizer.json", err);
	if (root == NULL)
		return err ? err->code : LLM_ERR_FORMAT;
	tok = calloc(1, sizeof(Tokenizer));
	if (tok == NULL)
	{
		json_decref(root);
		return LlmSetError(err, LLM_ERR_NOMEM, "out of memory for the tokenizer");
	}
	rc = BuildFromJson(tok, root, err);
	json_decref(root);
	if (rc != LLM_OK)
	{
		TokenizerFree(tok);
		return rc;
	}
	*out = tok;
	return LLM_OK;
}

/*
 * A special-token entry of tokenizer_config.json: a string or an object
 * with "content"
 */
static const char *
ConfigToken(const json_t *cfg, const char *key)
{
	const json_t *v = json_object_get(cfg, key);

	if (json_is_object(v))
		v = json_object_get(v, "content");
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/*
 * chat_template: a string, or a list of {name, template} (the "default"
 * one, else the first)
 */
static const char *
ConfigTemplate(const json_t *cfg)
{
	const json_t *v = json_object_get(cfg, "chat_template");
	const char *first = NULL;
	size_t		i;
	json_t	   *item;

	if (json_is_string(v))
		return json_string_value(v);
	if (!json_is_array(v))
		return NULL;
	json_array_foreach(v, i, item)
	{
		const json_t *name = json_object_get(item, "name");
		const json_t *tmpl = json_object_get(item, "template");

		if (!json_is_string(tmpl))
			continue;
		if (json_is_string(name) && strcmp(json_string_value(name), "default") == 0)
			return json_string_value(tmpl);
		if (first == NULL)
			first = json_string_value(tmpl);
	}
	return first;
}

/*
 * Read the optional tokenizer_config.json
 */
static int
LoadConfig(Tokenizer *tok, const char *dir, LlmError *err)
{
	char		path[4096];
	json_t	   *cfg;
	const char *s;
	int			rc = LLM_OK;

	if (!LlmPathJoin(path, sizeof(path), dir, "tokenizer_config.json"))
		return LlmSetError(err, LLM_ERR_ARGUMENT, "tokenizer directory name too long");
	if (access(path, F_OK) != 0)
		return LLM_OK;
	cfg = LlmJsonLoadFile(path, TOKENIZER_MAX_JSON_BYTES, err);
	if (cfg == NULL)
		return err ? err->code : LLM_ERR_FORMAT;
	if (!json_is_object(cfg))
		rc = LlmSetError(err, LLM_ERR_FORMAT, "%s is not a JSON object", path);
	if (rc == LLM_OK && (s = ConfigToken(cfg, "bos_token")) != NULL &&
		(tok->bos_token = TokArenaDup(tok, s, strlen(s), err)) == NULL)
		rc = LLM_ERR_NOMEM;
	if (rc == LLM_OK && (s = ConfigToken(cfg, "eos_token")) != NULL &&
		(tok->eos_token = TokArenaDup(tok, s, strlen(s), err)) == NULL)
		rc = LLM_ERR_NOMEM;
	if (rc == LLM_OK && (s = ConfigTemplate(cfg)) != NULL &&
		(tok->chat_template = TokArenaDup(tok, s, strlen(s), err)) == NULL)
		rc = LLM_ERR_NOMEM;
	json_decref(cfg);
	return rc;
}

/*
 * Load dir/tokenizer.json and dir/tokenizer_config.json
 */
int
TokenizerLoad(const char *dir, Tokenizer **out, LlmError *err)
{
	char		path[4096];
	char	   *data;
	size_t		len;
	int			rc;

	if (dir == NULL || out == NULL)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "TokenizerLoad: NULL argument");
	*out = NULL;
	if (!LlmPathJoin(path, sizeof(path), dir, "tokenizer.json"))
		return LlmSetError(err, LLM_ERR_ARGUMENT, "tokenizer directory name too long");
	if ((rc = LlmReadFile(path, TOKENIZER_MAX_JSON_BYTES, &data, &len, err)) != LLM_OK)
		return rc;
	rc = TokenizerParse(data, len, out, err);
	free(data);
	if (rc != LLM_OK)
		return rc;
	if ((rc = LoadConfig(*out, dir, err)) != LLM_OK)
	{
		TokenizerFree(*out);
		*out = NULL;
	}
	return rc;
}

/*
 * Free a tokenizer and everything it owns
 */
void
TokenizerFree(Tokenizer *tok)
{
	if (tok == NULL)
		return;
	free(tok->tokens);
	free(tok->token_lens);
	free(tok->special);
	free(tok->added);
	free(tok->raw_matcher.order);
	free(tok->norm_matcher.order);
	free(tok->post_prefix);
	free(tok->post_suffix);
	TokStrMapFree(&tok->vocab);
	TokStrMapFree(&tok->raw_vocab);
	TokPairMapFree(&tok->merges);
	TokArenaFree(tok);
	free(tok);
}

/*
 * Vocabulary size: the largest id + 1
 */
int
TokenizerVocabSize(const Tokenizer *tok)
{
	return tok ? tok->vocab_size : 0;
}

/*
 * Token text of an id, NULL when out of range
 */
const char *
TokenizerIdToToken(const Tokenizer *tok, int32_t id)
{
	if (tok == NULL || id < 0 || id >= tok->vocab_size)
		return NULL;
	return tok->tokens[id];
}

/*
 * Id of an exact token text, -1 when unknown
 */
int32_t
TokenizerTokenToId(const Tokenizer *tok, const char *token)
{
	if (tok == NULL || token == NULL)
		return -1;
	return TokStrMapGet(&tok->vocab, token, strlen(token));
}

/*
 * chat_template of tokenizer_config.json
 */
const char *
TokenizerChatTemplate(const Tokenizer *tok)
{
	return tok ? tok->chat_template : NULL;
}

/*
 * bos_token of tokenizer_config.json
 */
const char *
TokenizerBosToken(const Tokenizer *tok)
{
	return tok ? tok->bos_token : NULL;
}

/*
 * eos_token of tokenizer_config.json
 */
const char *
TokenizerEosToken(const Tokenizer *tok)
{
	return tok ? tok->eos_token : NULL;
}
