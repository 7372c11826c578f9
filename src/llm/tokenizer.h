/*-------------------------------------------------------------------------
 *
 * tokenizer.h
 *	  Tokenizers read from a Hugging Face tokenizer.json: byte-level BPE
 *	  (GPT-2, Llama-3, Qwen2), SentencePiece-style BPE (Llama-2, Mistral)
 *	  and WordPiece (BERT), with added/special tokens, post-processor
 *	  templates and decoding.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMLOPS_LLM_TOKENIZER_H
#define PGMLOPS_LLM_TOKENIZER_H

#include "llm/llm.h"

#define TOKENIZER_MAX_JSON_BYTES	(256 * 1024 * 1024)

typedef struct Tokenizer Tokenizer;		/* opaque */

/*
 * Load dir/tokenizer.json, and dir/tokenizer_config.json when present
 * (bos/eos names, add_bos_token, chat_template)
 */
extern int	TokenizerLoad(const char *dir, Tokenizer **out, LlmError *err);

/* Build from tokenizer.json text alone (the fuzz target) */
extern int	TokenizerParse(const char *json, size_t len, Tokenizer **out, LlmError *err);

extern void TokenizerFree(Tokenizer *tok);

/*
 * Encode len bytes of UTF-8 text.  With add_special, the post-processor
 * template adds its special tokens ([CLS] ... [SEP], <s> ...).  *ids is
 * malloc'ed by the tokenizer and freed by the caller with free().
 * Invalid UTF-8 is an LLM_ERR_ARGUMENT error.
 */
extern int	TokenizerEncode(const Tokenizer *tok, const char *text, size_t len,
							bool add_special, int32_t **ids, int *n_ids,
							LlmError *err);

/*
 * Decode ids to text (malloc'ed, NUL-terminated, *len without the NUL).
 * With skip_special, special added tokens are left out.  An id outside
 * the vocabulary is an LLM_ERR_ARGUMENT error.
 */
extern int	TokenizerDecode(const Tokenizer *tok, const int32_t *ids, int n_ids,
							bool skip_special, char **text, size_t *len,
							LlmError *err);

/* vocabulary size (the largest id + 1, added tokens included) */
extern int	TokenizerVocabSize(const Tokenizer *tok);

/* the token string of id (as in tokenizer.json), or NULL if out of range */
extern const char *TokenizerIdToToken(const Tokenizer *tok, int32_t id);

/* id of an exact token string (vocabulary or added), or -1 */
extern int32_t TokenizerTokenToId(const Tokenizer *tok, const char *token);

/* tokenizer_config.json's chat_template, or NULL */
extern const char *TokenizerChatTemplate(const Tokenizer *tok);

/* tokenizer_config.json's bos_token / eos_token strings, or NULL */
extern const char *TokenizerBosToken(const Tokenizer *tok);
extern const char *TokenizerEosToken(const Tokenizer *tok);

#endif							/* PGMLOPS_LLM_TOKENIZER_H */
