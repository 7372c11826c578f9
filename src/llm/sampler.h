/*-------------------------------------------------------------------------
 *
 * sampler.h
 *	  Choosing the next token from logits: greedy, temperature, top-k,
 *	  top-p, min-p and repetition penalty, with a seeded generator.
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
	int32_t    *order;			/* (vocab) scratch */
	float	   *probs;			/* (vocab) scratch */
} LlmSampler;

extern void LlmSamplingDefaults(LlmSamplingParams *p);
/* check ranges; LLM_ERR_ARGUMENT names the bad parameter */
extern int	LlmSamplingValidate(const LlmSamplingParams *p, LlmError *err);
extern int	LlmSamplerInit(LlmSampler *s, const LlmSamplingParams *p, int vocab,
						   LlmError *err);
extern void LlmSamplerFree(LlmSampler *s);

/*
 * Pick a token from logits (vocab); logits are modified (penalty,
 * temperature).  history holds the tokens seen so far, for the penalty.
 */
extern int32_t LlmSample(LlmSampler *s, float *logits, const int32_t *history,
						 int n_history);

#endif							/* PGMLOPS_LLM_SAMPLER_H */
