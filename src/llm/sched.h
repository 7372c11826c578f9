/*-------------------------------------------------------------------------
 *
 * sched.h
 *	  Continuous batching: many generation requests share one LlmRuntime,
 *	  and every step runs one decode token of each request that is
 *	  decoding plus prefill chunks of requests that are reading their
 *	  prompt, up to the runtime's rows per step.
 *
 * Requests are admitted in arrival order when a sequence slot is free and
 * the KV cache has room for their prompt; the others wait in the queue.
 * When the requests that run need more KV blocks than are free, the
 * youngest is preempted: it waits again, keeping its tokens, and reads
 * them again when readmitted (sched.c).  A request must fit the cache
 * alone (prompt + max_tokens, capped at the context), so the oldest one
 * always progresses and every request finishes.  A long prompt is read a
 * chunk per step, so it never stalls the decoding of the others.
 *
 * Each request samples with its own LlmSampler (greedy rows use the
 * device's argmax when the whole step is greedy), and stops at an EOS id,
 * at max_tokens or at the model's context.  Stop strings and text are the
 * caller's business (LlmTextStream in generate.h): the scheduler deals in
 * token ids.  A request's tokens do not depend on what else shares its
 * steps (up to the floating-point order of the matrix products).
 *
 * Plain C, like the rest of the engine; the inference worker drives it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMLOPS_LLM_SCHED_H
#define PGMLOPS_LLM_SCHED_H

#include "llm/generate.h"

typedef struct LlmSched LlmSched;

typedef enum LlmSchedEventKind
{
	LLM_SCHED_TOKEN,			/* a new token (not an EOS) */
	LLM_SCHED_DONE,				/* finished: finish says why; token is the
								 * last one generated: an EOS when finish is
								 * LLM_FINISH_EOS, else a token to use */
	LLM_SCHED_ERROR				/* failed: code and message */
} LlmSchedEventKind;

typedef struct LlmSchedEvent
{
	LlmSchedEventKind kind;
	void	   *tag;			/* the request's tag, as given to LlmSchedAdd */
	int32_t		token;
	LlmFinishReason finish;
	int			completion_tokens;	/* tokens generated so far, a final EOS
									 * included */
	int			code;			/* LLM_ERR_* for LLM_SCHED_ERROR */
	char		message[256];
} LlmSchedEvent;

/* sched.c */
extern int	LlmSchedCreate(LlmRuntime *rt, LlmSched **out, LlmError *err);
extern void LlmSchedFree(LlmSched *s);

/*
 * Queue a request.  prompt is copied; tag identifies it in events and in
 * LlmSchedCancel.  Fails with LLM_ERR_ARGUMENT for a bad prompt or
 * sampling value or max_tokens < 1, and with LLM_ERR_FULL when the
 * request could never fit in the KV cache even alone.  n_eos < 0 means
 * the model's EOS ids.
 */
extern int	LlmSchedAdd(LlmSched *s, void *tag, const int32_t *prompt,
						int n_prompt, const LlmSamplingParams *sampling,
						int max_tokens, const int32_t *eos_ids, int n_eos,
						LlmError *err);

/* drop a request (queued or running) and free its KV blocks; no event */
extern void LlmSchedCancel(LlmSched *s, void *tag);

/*
 * Pause or resume a request: a paused request keeps its place but takes no
 * part in steps (the worker pauses a request whose reader is slow, so that
 * its answer queue never blocks the others).  It keeps its KV blocks
 * until another request needs them: then it is preempted first.
 */
extern void LlmSchedSetPaused(LlmSched *s, void *tag, bool paused);

/* requests that a step would run or admit (not paused) */
extern int	LlmSchedRunnable(const LlmSched *s);

/* has the request been admitted (its sequence runs)? */
extern bool LlmSchedIsRunning(const LlmSched *s, void *tag);

/* requests running and waiting */
extern void LlmSchedCounts(const LlmSched *s, int *running, int *waiting);

/* requests preempted so far (each time one gave its KV blocks back) */
extern int64_t LlmSchedPreemptions(const LlmSched *s);

/*
 * Admit what fits, preempt what must give way, and run one step.  Events
 * (at most one per request that took part) are written to
 * events[0..*n_events), which must have room for LlmSchedMaxEvents(s).
 * Finished and failed requests are removed.
 * Returns LLM_OK, or an error of the step itself (a device failure):
 * then every request of the step got an LLM_SCHED_ERROR event and was
 * removed.
 */
extern int	LlmSchedStep(LlmSched *s, LlmSchedEvent *events, int *n_events,
						 LlmError *err);
extern int	LlmSchedMaxEvents(const LlmSched *s);

#endif							/* PGMLOPS_LLM_SCHED_H */
