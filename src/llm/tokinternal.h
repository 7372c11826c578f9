/*-------------------------------------------------------------------------
 *
 * tokinternal.h
 *	  Internals shared by the tokenizer files: the Tokenizer struct, the
 *	  pipeline steps (normalizers, pre-tokenizers, decoders, post-processors)
 *	  and small helpers (hash maps, growable buffers; UTF-8 is in utf8.h).
 *
 * Encoding follows the Hugging Face order: added tokens are cut out of the
 * raw text, each remaining segment is normalized, split into words by the
 * pre-tokenizers and each word is tokenized by the model (BPE or
 * WordPiece).  Sequences of steps are flattened into arrays at load time.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMLOPS_LLM_TOKINTERNAL_H
#define PGMLOPS_LLM_TOKINTERNAL_H

#include <jansson.h>

#include "llm/tokenizer.h"
#include "llm/utf8.h"

#define TOK_MAX_STEPS		16		/* steps per flattened Sequence */
#define TOK_MAX_TEXT		((size_t) 1 << 30)	/* longest text to encode */
#define TOK_MAX_WORD		((size_t) 4 << 20)	/* longest single word for BPE:
												 * its merge heap takes about
												 * 60 bytes a byte */
#define TOK_MAX_ID			(1 << 24)
#define TOK_META			"\xE2\x96\x81"	/* "▁", U+2581 */
#define TOK_META_LEN		3
#define TOK_MAX_TOKEN_BYTES 4096	/* longest vocabulary entry */

/* block of the arena that owns every string of a tokenizer */
typedef struct TokArenaBlock
{
	struct TokArenaBlock *next;
	size_t		used;
	size_t		cap;
	char		data[];
} TokArenaBlock;

/* growable byte buffer */
typedef struct TokBuf
{
	char	   *data;
	size_t		len;
	size_t		cap;
} TokBuf;

/* growable id vector */
typedef struct TokIds
{
	int32_t    *v;
	size_t		n;
	size_t		cap;
} TokIds;

/* string -> id, open addressing; keys point into memory owned elsewhere */
typedef struct TokStrEntry
{
	uint64_t	hash;
	const char *key;
	uint32_t	len;
	int32_t		id;				/* -1: empty slot */
} TokStrEntry;

typedef struct TokStrMap
{
	TokStrEntry *e;
	uint32_t	mask;			/* capacity - 1 */
	uint32_t	count;
} TokStrMap;

/* (left id, right id) -> merge rank and merged id */
typedef struct TokPairEntry
{
	uint64_t	key;			/* UINT64_MAX: empty slot */
	int32_t		rank;
	int32_t		id;
} TokPairEntry;

typedef struct TokPairMap
{
	TokPairEntry *e;
	uint32_t	mask;
	uint32_t	count;
} TokPairMap;

/* normalizer steps */
typedef enum TokNormType
{
	TOK_NORM_PREPEND,
	TOK_NORM_REPLACE,
	TOK_NORM_BERT,
	TOK_NORM_LOWERCASE,
	TOK_NORM_STRIP,
	TOK_NORM_NFC,
	TOK_NORM_NFD,
	TOK_NORM_NFKC,
	TOK_NORM_NFKD
} TokNormType;

typedef struct TokNormStep
{
	TokNormType type;
	char	   *a;				/* prepend text / replace pattern */
	char	   *b;				/* replace content */
	bool		clean_text;		/* BertNormalizer flags */
	bool		chinese;
	bool		strip_accents;
	bool		lowercase;
	bool		left;			/* Strip */
	bool		right;
} TokNormStep;

/* pre-tokenizer steps */
typedef enum TokPreType
{
	TOK_PRE_REGEX,				/* Split (Isolated) with a known regex */
	TOK_PRE_BYTELEVEL,			/* byte mapping, optional prefix space */
	TOK_PRE_BERT,
	TOK_PRE_WHITESPACE,
	TOK_PRE_WHITESPACE_SPLIT,
	TOK_PRE_METASPACE,
	TOK_PRE_DIGITS
} TokPreType;

/* the regexes recognised by their exact pattern text */
typedef enum TokRegexKind
{
	TOK_RE_GPT2,
	TOK_RE_LLAMA3,
	TOK_RE_QWEN2
} TokRegexKind;

typedef struct TokPreStep
{
	TokPreType	type;
	TokRegexKind regex;
	bool		prefix_space;	/* ByteLevel add_prefix_space */
	bool		use_regex;		/* ByteLevel: split with the GPT-2 regex */
	int			prepend;		/* Metaspace: 0 never, 1 first, 2 always */
	bool		split;			/* Metaspace split on the replacement */
	bool		individual;		/* Digits individual_digits */
	char		replacement[8]; /* Metaspace replacement (UTF-8) */
} TokPreStep;

/* decoder steps */
typedef enum TokDecType
{
	TOK_DEC_BYTELEVEL,
	TOK_DEC_REPLACE,
	TOK_DEC_BYTEFALLBACK,
	TOK_DEC_FUSE,
	TOK_DEC_STRIP,
	TOK_DEC_WORDPIECE,
	TOK_DEC_METASPACE
} TokDecType;

typedef struct TokDecStep
{
	TokDecType	type;
	char	   *a;				/* replace pattern / wordpiece prefix /
								 * metaspace replacement */
	char	   *b;				/* replace content */
	int			start;			/* Strip */
	int			stop;
	bool		cleanup;		/* WordPiece */
	bool		prefix_space;	/* Metaspace: strip the first space */
} TokDecStep;

/* an added token */
typedef struct TokAdded
{
	char	   *content;		/* as matched (normalized when normalized) */
	size_t		len;
	int32_t		id;
	bool		special;
	bool		lstrip;
	bool		rstrip;
	bool		single_word;
	bool		normalized;
} TokAdded;

/* leftmost-longest matcher over a set of added tokens */
typedef struct TokMatcher
{
	int			n;
	int		   *order;			/* indexes into Tokenizer.added, by first
								 * byte then longest first */
	int			first[257];		/* order[first[b] .. first[b+1]) start
								 * with byte b */
} TokMatcher;

typedef enum TokModelType
{
	TOK_MODEL_BPE,
	TOK_MODEL_WORDPIECE
} TokModelType;

struct Tokenizer
{
	TokArenaBlock *arena;		/* owns all strings below */
	int			vocab_size;		/* largest id + 1 */
	char	  **tokens;			/* (vocab_size) token text, NULL for holes */
	uint32_t   *token_lens;		/* (vocab_size) */
	uint8_t    *special;		/* (vocab_size) 1 if a special added token */
	TokStrMap	vocab;			/* model vocabulary and added tokens */

	TokAdded   *added;
	int			n_added;
	TokMatcher	raw_matcher;	/* added tokens matched before normalizing */
	TokMatcher	norm_matcher;	/* added tokens matched after normalizing */

	/* model */
	TokModelType model;
	int32_t		unk_id;			/* -1 when none */
	/* BPE */
	TokPairMap	merges;
	bool		fuse_unk;
	bool		byte_fallback;
	bool		ignore_merges;
	char	   *cont_prefix;	/* continuing_subword_prefix, or NULL */
	char	   *word_suffix;	/* end_of_word_suffix, or NULL */
	int32_t		byte_token[256];	/* <0xNN> ids for byte fallback, or -1 */
	int32_t		byte_char[256]; /* id of the byte-level char of each byte */
	int32_t		ascii_char[128];	/* id of each ASCII character as a token
									 * (character BPE without affixes), or -1 */
	TokStrMap	raw_vocab;		/* byte-level vocabulary keyed by raw bytes
								 * (for ignore_merges) */
	bool		split_meta;		/* a word may be cut before each "▁" that
								 * follows another character (set by
								 * TokBpeFinish, cut by TokModelWord) */
	/* WordPiece */
	char	   *wp_prefix;
	int			wp_max_chars;

	/* pipeline */
	TokNormStep norm[TOK_MAX_STEPS];
	int			n_norm;
	TokPreStep	pre[TOK_MAX_STEPS];
	int			n_pre;
	bool		byte_level;		/* a ByteLevel pre-tokenizer maps bytes */
	TokDecStep	dec[TOK_MAX_STEPS];
	int			n_dec;
	bool		has_dec;
	int32_t    *post_prefix;	/* ids the template puts before $A */
	int			n_post_prefix;
	int32_t    *post_suffix;	/* ids after $A */
	int			n_post_suffix;

	/* tokenizer_config.json */
	char	   *chat_template;
	char	   *bos_token;
	char	   *eos_token;
};

/* encoding state of one TokenizerEncode call */
typedef struct TokEncodeState
{
	const Tokenizer *tok;
	TokIds		ids;
	TokBuf		scratch[TOK_MAX_STEPS + 1]; /* per pre-tokenizer depth */
	TokBuf		norm_buf;
	TokBuf		norm_tmp;
	TokBuf		word_buf;
	int32_t    *syms;			/* BPE working symbols */
	size_t		syms_cap;
	void	   *cache;			/* BPE word -> ids cache, lazily allocated */
	bool		use_cache;		/* the text is long enough for a cache */
	bool		first_segment;	/* Metaspace prepend_scheme "first" */
	size_t		work;			/* bytes handed to the model since the last
								 * interrupt check */
	LlmError   *err;
} TokEncodeState;

/* bytes of model work between two calls of LlmInterrupted() */
#define TOK_INTERRUPT_BYTES		(256 * 1024)

/*
 * Look up the merge of a pair of ids, NULL when none (inline: the BPE
 * inner loop)
 */
static inline const TokPairEntry *
TokPairMapGet(const TokPairMap *m, int32_t a, int32_t b)
{
	uint64_t	key = ((uint64_t) (uint32_t) a << 32) | (uint32_t) b;
	uint32_t	j;

	if (m->e == NULL)
		return NULL;
	j = (uint32_t) ((key * 0x9E3779B97F4A7C15ULL) >> 32) & m->mask;
	while (m->e[j].key != UINT64_MAX)
	{
		if (m->e[j].key == key)
			return &m->e[j];
		j = (j + 1) & m->mask;
	}
	return NULL;
}

/* tokutil.c */
extern uint64_t TokHash(const char *s, size_t len);
extern int	TokStrMapInit(TokStrMap *m, size_t n, LlmError *err);
extern int	TokStrMapPut(TokStrMap *m, const char *key, size_t len, int32_t id,
						 LlmError *err);
extern int32_t TokStrMapGet(const TokStrMap *m, const char *key, size_t len);
extern void TokStrMapFree(TokStrMap *m);
extern int	TokPairMapInit(TokPairMap *m, size_t n, LlmError *err);
extern void TokPairMapPut(TokPairMap *m, int32_t a, int32_t b, int32_t rank,
						  int32_t id);
extern void TokPairMapFree(TokPairMap *m);
extern bool TokBufReserve(TokBuf *b, size_t extra);
extern bool TokBufAppend(TokBuf *b, const char *s, size_t len);
extern bool TokIdsPush(TokIds *v, int32_t id);
extern void TokAppendLossy(TokBuf *out, const char *s, size_t len, bool *ok);
extern char *TokArenaDup(Tokenizer *tok, const char *s, size_t len,
						 LlmError *err);
extern void TokArenaFree(Tokenizer *tok);
extern int	TokToUtf16(const char *s, size_t len, uint16_t **out, int32_t *out_len,
					   LlmError *err);
extern int	TokFromUtf16(const uint16_t *s, int32_t len, TokBuf *out, LlmError *err);
extern void TokByteLevelChars(uint32_t map[256]);

/* toknorm.c */
extern int	TokNormParse(Tokenizer *tok, const json_t *node, LlmError *err);
extern int	TokNormalize(const Tokenizer *tok, const char *s, size_t len,
						 TokBuf *out, TokBuf *tmp, LlmError *err);

/* tokpretok.c */
extern int	TokPreParse(Tokenizer *tok, const json_t *node, LlmError *err);
extern int	TokPreTokenize(TokEncodeState *st, int step, const char *s, size_t len);

/* tokbpe.c */
extern int	TokBpeParse(Tokenizer *tok, const json_t *model, LlmError *err);
extern int	TokBpeFinish(Tokenizer *tok, LlmError *err);
extern int	TokBpeWord(TokEncodeState *st, const char *s, size_t len);

/* tokwordpiece.c */
extern int	TokWordPieceParse(Tokenizer *tok, const json_t *model, LlmError *err);
extern int	TokWordPieceWord(TokEncodeState *st, const char *s, size_t len);

/* tokdecode.c */
extern int	TokDecParse(Tokenizer *tok, const json_t *node, LlmError *err);
extern int	TokDecodeTokens(const Tokenizer *tok, const int32_t *ids, int n,
							TokBuf *out, LlmError *err);

/* tokenizer.c */
extern int	TokModelWord(TokEncodeState *st, const char *s, size_t len);
extern int	TokVocabAdd(Tokenizer *tok, const char *s, size_t len, int64_t id,
						LlmError *err);

#endif							/* PGMLOPS_LLM_TOKINTERNAL_H */
