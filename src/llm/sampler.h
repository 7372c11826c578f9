/*-------------------------------------------------------------------------
 *
 * sampler.h
 *	  Choosing the next token from logits: greedy, temperature, top-k,
 *	  top-p, min-p and repetition penalty, with a seeded generator.
 *
 * The logits are processed in the order Hugging Face generate() applies
 * them: repetition penalty (every distinct token of the history, prompt
 * included: positive logits divided by the penalty, negative ones
 * multiplied), then temperature, top-k, top-p (the smallest set of most
 * likely tokens whose probability reaches top_p, at least one) and min-p
 * (tokens less likely than min_p times the most likely one are dropped),
 * and a draw from what is left, renormalized.  Temperature 0 is greedy:
 * the highest logit after the penalty, the lowest id among ties.
 *
 * The generator is PCG32 seeded from params.seed: the same seed, logits
 * and history give the same tokens on every machine.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMLOPS_LLM_SAMPLER_H
#define PGMLOPS_LLM_SAMPLER_H

#include "llm/llm.h"

typedef struct LlmSamplingParams
{
	double		temperature;	/* 0: greedy */
	int			top_k;			/* 0: off */
	double		top_p;			/* 1: off */
	double		min_p;			/* 0: off */
	double		repetition_penalty; /* 1: off */
	uint64_t	seed;
} LlmSamplingParams;

typedef struct LlmSampler
{
	LlmSamplingParams params;
	uint64_t	state;			/* PCG state */
	int			vocab;
	int32_t    *order;			/* (vocab) scratch: candidate ids */
	float	   *probs;			/* (vocab) scratch */
	uint64_t   *sortbuf;		/* (2 * vocab) scratch for a full sort */
} LlmSampler;

/* sampler.c */
/* greedy, no top-k/top-p/min-p, no penalty, seed 0 */
extern void LlmSamplingDefaults(LlmSamplingParams *p);
/* check ranges; LLM_ERR_ARGUMENT names the bad parameter */
extern int	LlmSamplingValidate(const LlmSamplingParams *p, LlmError *err);
/* validate p and allocate scratch for vocab logits */
extern int	LlmSamplerInit(LlmSampler *s, const LlmSamplingParams *p, int vocab,
						   LlmError *err);
extern void LlmSamplerFree(LlmSampler *s);

/*
 * Pick a token from logits (vocab); logits are modified (penalty,
 * temperature).  history holds the tokens seen so far, for the penalty
 * (ids outside the vocabulary are ignored).  NaN logits count as -inf.
 * Always returns an id in [0, vocab).
 */
extern int32_t LlmSample(LlmSampler *s, float *logits, const int32_t *history,
						 int n_history);

/* index of the largest of n values, the lowest among ties (NaN never wins) */
extern int32_t LlmArgmax(const float *x, int n);

#endif							/* PGMLOPS_LLM_SAMPLER_H */
