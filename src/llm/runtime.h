/*-------------------------------------------------------------------------
 *
 * runtime.h
 *	  A loaded model on one compute backend: weights made device-resident,
 *	  a paged KV cache within a fixed budget, sequences, and the batched
 *	  forward step (forward.c), written once against ComputeOps.
 *
 * A step takes any mix of sequences: a prefill chunk of many tokens for
 * some, one decode token for others.  Each sequence's tokens are appended
 * at its current length.  When the KV cache has no free block left, the
 * step fails with LLM_ERR_FULL and changes nothing, so a scheduler can
 * retry it later (continuous batching, next issue).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMLOPS_LLM_RUNTIME_H
#define PGMLOPS_LLM_RUNTIME_H

#include "compute/computeops.h"
#include "llm/model.h"

typedef struct LlmRuntimeOptions
{
	ComputePrecision precision;
	int			max_batch_rows; /* most tokens in one step */
	int			max_seqs;		/* most sequences open at once */
	size_t		kv_bytes;		/* KV cache budget in bytes */
} LlmRuntimeOptions;

typedef struct LlmRuntime LlmRuntime;

/* defaults: f32, 512 rows, 64 sequences, 256 MB of KV cache */
extern void LlmRuntimeDefaults(LlmRuntimeOptions *opt);

/* make model's weights usable on ops' device; the model must outlive it */
extern int	LlmRuntimeCreate(const LlmModel *model, const ComputeOps *ops,
							 const LlmRuntimeOptions *opt, LlmRuntime **out,
							 LlmError *err);
extern void LlmRuntimeFree(LlmRuntime *rt);
extern const LlmModel *LlmRuntimeModel(const LlmRuntime *rt);

/* the most tokens one step may hold (LlmRuntimeOptions.max_batch_rows) */
extern int	LlmRuntimeMaxBatchRows(const LlmRuntime *rt);

/* the most sequences open at once (LlmRuntimeOptions.max_seqs) */
extern int	LlmRuntimeMaxSeqs(const LlmRuntime *rt);

/* KV blocks free and total */
extern void LlmRuntimeKvUsage(const LlmRuntime *rt, int *free_blocks, int *total_blocks);

/* open an empty sequence; *seq is its handle */
extern int	LlmSeqOpen(LlmRuntime *rt, int *seq, LlmError *err);
/* close a sequence and free its KV blocks */
extern void LlmSeqClose(LlmRuntime *rt, int seq);
/* tokens the sequence holds */
extern int	LlmSeqLength(const LlmRuntime *rt, int seq);

/* one sequence's part of a step */
typedef struct LlmStepSeq
{
	int			seq;
	const int32_t *tokens;
	int			n_tokens;
	bool		want_logits;	/* logits of its last token */
} LlmStepSeq;

/*
 * Run one decoder step.  logits (host) receives one row of vocab_size
 * floats for each entry with want_logits, in order.
 */
extern int	LlmStep(LlmRuntime *rt, const LlmStepSeq *seqs, int n,
					float *logits, LlmError *err);

/* like LlmStep, but only the greedy token of each wanted row (on the device) */
extern int	LlmStepArgmax(LlmRuntime *rt, const LlmStepSeq *seqs, int n,
						  int32_t *ids, LlmError *err);

/*
 * Encoders: sentence embeddings (n, hidden) into out (host), pooled and
 * normalized as the model's sentence-transformers modules say; with
 * hidden != NULL also the last hidden state of each sequence's first
 * token (n, hidden).
 */
extern int	LlmEncode(LlmRuntime *rt, const int32_t *const *ids, const int *lens,
					  int n, float *out, float *hidden, LlmError *err);

#endif							/* PGMLOPS_LLM_RUNTIME_H */
