/*-------------------------------------------------------------------------
 *
 * generate.h
 *	  Generating text for one prompt: prefill, then sample token after
 *	  token until EOS, a stop string or the token limit, streaming the
 *	  text as it becomes final.
 *
 * The loop runs one sequence on an LlmRuntime (its own LlmSeqOpen /
 * LlmSeqClose), so several generations can share a runtime one after
 * another; batching many sequences per step is the scheduler's job (next
 * issue), which reuses the sampler and LlmGenerateStream below.
 *
 * Text follows Hugging Face: the result text is
 * TokenizerDecode(generated ids without the final EOS, skip_special),
 * cut before the first occurrence of any stop string.  Streamed pieces
 * concatenate to exactly that text, and each is valid UTF-8: a piece
 * never ends inside a character and never holds text that may still turn
 * out to begin a stop string.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMLOPS_LLM_GENERATE_H
#define PGMLOPS_LLM_GENERATE_H

#include "llm/runtime.h"
#include "llm/sampler.h"
#include "llm/tokenizer.h"

#define LLM_MAX_STOP			16	/* stop strings per request */
#define LLM_MAX_STOP_BYTES		1024	/* bytes of one stop string */

typedef struct LlmGenerateParams
{
	LlmSamplingParams sampling;
	int			max_tokens;		/* new tokens at most (>= 0) */
	const char *const *stop;	/* stop strings (n_stop of them) */
	int			n_stop;
	/*
	 * tokens that end generation; eos_ids == NULL means the model's
	 * (generation_config.json, else config.json); a non-NULL pointer with
	 * n_eos == 0 disables EOS
	 */
	const int32_t *eos_ids;
	int			n_eos;
	bool		skip_special;	/* leave special tokens out of the text */
	int			prefill_chunk;	/* prompt tokens per step; 0 (or more than the runtime allows): the runtime's max_batch_rows */
} LlmGenerateParams;

typedef enum LlmFinishReason
{
	LLM_FINISH_LENGTH,			/* max_tokens or the model's context */
	LLM_FINISH_EOS,				/* an EOS id was generated */
	LLM_FINISH_STOP,			/* a stop string appeared */
	LLM_FINISH_CANCELLED		/* the callback asked to stop */
} LlmFinishReason;

typedef struct LlmGenerateResult
{
	int32_t    *ids;			/* (n_ids) generated ids, a final EOS included */
	int			n_ids;
	char	   *text;			/* NUL-terminated; NULL without a tokenizer */
	size_t		text_len;
	LlmFinishReason finish;
	int			prompt_tokens;
	int			completion_tokens;	/* = n_ids */
	double		ttft_s;			/* start to the first new token */
	double		total_s;		/* start to the end */
} LlmGenerateResult;

/*
 * Called once for every generated token, in order, with the text that
 * became final with it (len may be 0; piece is not NUL-terminated).
 * Returning nonzero ends generation with LLM_FINISH_CANCELLED.
 */
typedef int (*LlmTokenCallback) (void *arg, int32_t token,
								 const char *piece, size_t len);

/* generate.c */
/* greedy, 256 tokens, no stop strings, the model's EOS ids, skip special */
extern void LlmGenerateDefaults(LlmGenerateParams *p);

/*
 * Generate from prompt (n_prompt ids, at least one).  tok may be NULL
 * (ids only; then no stop strings); cb may be NULL.  On LLM_OK res holds
 * the result (free it with LlmGenerateResultFree); on error res is empty.
 * A cancelled generation returns LLM_OK with finish LLM_FINISH_CANCELLED.
 */
extern int	LlmGenerate(LlmRuntime *rt, const Tokenizer *tok,
						const int32_t *prompt, int n_prompt,
						const LlmGenerateParams *p, LlmTokenCallback cb,
						void *arg, LlmGenerateResult *res, LlmError *err);

extern void LlmGenerateResultFree(LlmGenerateResult *res);

/* "length", "eos", "stop", "cancelled" */
extern const char *LlmFinishReasonName(LlmFinishReason r);

/*
 * Incremental detokenizer with stop strings, for any loop that produces
 * tokens (LlmGenerate, and the batched scheduler of the worker).  Feed it
 * each generated token that is not an EOS; it appends the text that is
 * final to *piece.
 */
typedef struct LlmTextStream
{
	const Tokenizer *tok;
	bool		skip_special;
	const char *const *stop;
	int			n_stop;
	size_t		max_stop_len;
	int32_t    *ids;			/* tokens fed so far */
	int			n_ids;
	int			cap_ids;
	int			prefix_off;		/* ids decoded as context of the window */
	int			read_off;		/* ids whose text is in text */
	char	   *text;			/* decoded text so far (valid UTF-8) */
	size_t		text_len;
	size_t		text_cap;
	size_t		emitted;		/* bytes of text handed out */
	bool		stopped;		/* a stop string was found: text cut there */
} LlmTextStream;

extern int	LlmTextStreamInit(LlmTextStream *ts, const Tokenizer *tok,
							  bool skip_special, const char *const *stop,
							  int n_stop, LlmError *err);
extern void LlmTextStreamFree(LlmTextStream *ts);

/*
 * Add one token; *piece / *len receive the newly final text (pointing
 * into ts->text, valid until the next call).  Sets ts->stopped when a stop
 * string completes.
 */
extern int	LlmTextStreamPush(LlmTextStream *ts, int32_t token,
							  const char **piece, size_t *len, LlmError *err);

/* end of generation: release the held-back text (unless stopped) */
extern int	LlmTextStreamFinish(LlmTextStream *ts, const char **piece,
								size_t *len, LlmError *err);

#endif							/* PGMLOPS_LLM_GENERATE_H */
