// objects: src/llm/sampler.o src/llm/llmutil.o src/vector/vecdist.o
/*
 * test_sampler.c
 *	  Unit tests of the token sampler: greedy, seeds, top-k/top-p/min-p
 *	  limits, repetition penalty, the drawn distribution and validation.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "llm/sampler.h"
#include "unit.h"

#define VOCAB 1000

/* deterministic pseudo-random logits in [-4, 4) */
static void
FillLogits(float *l, int n, unsigned seed)
{
	for (int i = 0; i < n; i++)
	{
		seed = seed * 1103515245u + 12345u;
		l[i] = ((float) ((seed >> 8) & 0xffff) / 65536.0f) * 8.0f - 4.0f;
	}
}

/* sample count tokens from fixed logits with params p into out */
static void
SampleMany(const LlmSamplingParams *p, const float *base, int vocab, int count,
		   int32_t *out)
{
	LlmSampler	s;
	LlmError	err;
	float	   *l = malloc(sizeof(float) * vocab);

	CHECK(LlmSamplerInit(&s, p, vocab, &err) == LLM_OK);
	for (int i = 0; i < count; i++)
	{
		memcpy(l, base, sizeof(float) * vocab);
		out[i] = LlmSample(&s, l, NULL, 0);
	}
	LlmSamplerFree(&s);
	free(l);
}

/* one sample from base (copied) with params p */
static int32_t
SampleOnce(const LlmSamplingParams *p, const float *base, int vocab,
		   const int32_t *hist, int n_hist)
{
	LlmSampler	s;
	LlmError	err;
	float	   *l = malloc(sizeof(float) * vocab);
	int32_t		t;

	memcpy(l, base, sizeof(float) * vocab);
	if (LlmSamplerInit(&s, p, vocab, &err) != LLM_OK)
	{
		free(l);
		return -1;
	}
	t = LlmSample(&s, l, hist, n_hist);
	LlmSamplerFree(&s);
	free(l);
	return t;
}

static void
TestGreedy(void)
{
	LlmSamplingParams p;
	float		l[VOCAB];
	float		ties[5] = {1.0f, 3.0f, NAN, 3.0f, -1.0f};
	int32_t		want;

	LlmSamplingDefaults(&p);
	FillLogits(l, VOCAB, 7);
	want = 0;
	for (int i = 1; i < VOCAB; i++)
		if (l[i] > l[want])
			want = i;
	CHECK(SampleOnce(&p, l, VOCAB, NULL, 0) == want);
	CHECK(LlmArgmax(l, VOCAB) == want);
	/* ties go to the lowest id, NaN never wins */
	CHECK(SampleOnce(&p, ties, 5, NULL, 0) == 1);
	ties[0] = NAN;
	ties[1] = NAN;
	CHECK(LlmArgmax(ties, 5) == 3);
}

static void
TestSeeds(void)
{
	LlmSamplingParams p;
	float		l[VOCAB];
	int32_t		a[64],
				b[64],
				c[64];
	int			same = 0;

	LlmSamplingDefaults(&p);
	p.temperature = 1.5;
	p.seed = 42;
	FillLogits(l, VOCAB, 11);
	SampleMany(&p, l, VOCAB, 64, a);
	SampleMany(&p, l, VOCAB, 64, b);
	CHECK(memcmp(a, b, sizeof(a)) == 0);
	p.seed = 43;
	SampleMany(&p, l, VOCAB, 64, c);
	for (int i = 0; i < 64; i++)
		same += (a[i] == c[i]);
	CHECK(same < 32);
	for (int i = 0; i < 64; i++)
		CHECK(a[i] >= 0 && a[i] < VOCAB);
}

static void
TestLimitsAreGreedy(void)
{
	LlmSamplingParams p;
	LlmSamplingParams g;
	float		l[VOCAB];
	int32_t		out[32];
	int32_t		want;

	LlmSamplingDefaults(&g);
	for (unsigned seed = 1; seed <= 5; seed++)
	{
		FillLogits(l, VOCAB, seed * 101);
		want = SampleOnce(&g, l, VOCAB, NULL, 0);

		LlmSamplingDefaults(&p);
		p.temperature = 2.0;
		p.seed = seed;
		p.top_k = 1;
		SampleMany(&p, l, VOCAB, 32, out);
		for (int i = 0; i < 32; i++)
			CHECK(out[i] == want);

		LlmSamplingDefaults(&p);
		p.temperature = 2.0;
		p.seed = seed;
		p.top_p = 1e-9;
		SampleMany(&p, l, VOCAB, 32, out);
		for (int i = 0; i < 32; i++)
			CHECK(out[i] == want);

		LlmSamplingDefaults(&p);
		p.temperature = 2.0;
		p.seed = seed;
		p.min_p = 1.0;
		SampleMany(&p, l, VOCAB, 32, out);
		for (int i = 0; i < 32; i++)
			CHECK(out[i] == want);
	}
}

/* top-k 3 only ever gives the 3 best; top-p/min-p only the expected sets */
static void
TestFilterSets(void)
{
	LlmSamplingParams p;
	/* probabilities (temperature 1): 0.5, 0.25, 0.125, 0.0625, 0.0625 */
	float		l[6] = {logf(0.0625f), logf(0.5f), logf(0.125f), logf(0.25f),
	logf(0.0625f), -INFINITY};
	int32_t		out[2000];
	int			count[6];

	LlmSamplingDefaults(&p);
	p.temperature = 1.0;
	p.seed = 5;
	p.top_k = 3;
	SampleMany(&p, l, 6, 2000, out);
	memset(count, 0, sizeof(count));
	for (int i = 0; i < 2000; i++)
		count[out[i]]++;
	CHECK(count[0] == 0 && count[4] == 0 && count[5] == 0);
	CHECK(count[1] > 0 && count[2] > 0 && count[3] > 0);

	/* top-p 0.7: 0.5 + 0.25 reaches it: tokens 1 and 3 */
	LlmSamplingDefaults(&p);
	p.temperature = 1.0;
	p.seed = 6;
	p.top_p = 0.7;
	SampleMany(&p, l, 6, 2000, out);
	memset(count, 0, sizeof(count));
	for (int i = 0; i < 2000; i++)
		count[out[i]]++;
	CHECK(count[1] + count[3] == 2000);
	CHECK_NEAR(count[1] / 2000.0, 2.0 / 3.0, 0.05);

	/* min-p 0.2: p >= 0.1 keeps 0.5, 0.25, 0.125 */
	LlmSamplingDefaults(&p);
	p.temperature = 1.0;
	p.seed = 7;
	p.min_p = 0.2;
	SampleMany(&p, l, 6, 2000, out);
	memset(count, 0, sizeof(count));
	for (int i = 0; i < 2000; i++)
		count[out[i]]++;
	CHECK(count[0] == 0 && count[4] == 0 && count[5] == 0);
	CHECK(count[2] > 0);
}

/* a large vocabulary with a flat tail: the nucleus search must grow */
static void
TestNucleusLarge(void)
{
	enum
	{
		V = 50000
	};
	LlmSamplingParams p;
	float	   *l = malloc(sizeof(float) * V);
	int32_t		out[100];
	int			high = 0;

	for (int i = 0; i < V; i++)
		l[i] = 0.0f;
	l[123] = 3.0f;
	LlmSamplingDefaults(&p);
	p.temperature = 1.0;
	p.top_p = 0.9;
	p.seed = 9;
	SampleMany(&p, l, V, 100, out);
	for (int i = 0; i < 100; i++)
	{
		CHECK(out[i] >= 0 && out[i] < V);
		high += (out[i] == 123);
	}
	/* p(123) = e^3 / (e^3 + 49999), tiny; most draws come from the tail */
	CHECK(high < 10);
	free(l);
}

static void
TestPenalty(void)
{
	LlmSamplingParams p;
	float		l[4] = {2.0f, 1.9f, -1.0f, 0.5f};
	float		copy[4];
	int32_t		hist[3] = {0, 0, 2};
	LlmSampler	s;
	LlmError	err;

	LlmSamplingDefaults(&p);
	CHECK(SampleOnce(&p, l, 4, hist, 3) == 0);
	p.repetition_penalty = 1.2;
	/* 2.0 / 1.2 = 1.667 < 1.9: token 1 wins */
	CHECK(SampleOnce(&p, l, 4, hist, 3) == 1);

	/* applied once per distinct token, negatives multiplied */
	CHECK(LlmSamplerInit(&s, &p, 4, &err) == LLM_OK);
	memcpy(copy, l, sizeof(l));
	(void) LlmSample(&s, copy, hist, 3);
	CHECK_NEAR(copy[0], 2.0 / 1.2, 1e-6);
	CHECK_NEAR(copy[1], 1.9, 1e-6);
	CHECK_NEAR(copy[2], -1.2, 1e-6);
	CHECK_NEAR(copy[3], 0.5, 1e-6);
	/* ids outside the vocabulary are ignored */
	hist[1] = 17;
	hist[2] = -3;
	memcpy(copy, l, sizeof(l));
	(void) LlmSample(&s, copy, hist, 3);
	CHECK_NEAR(copy[2], -1.0, 1e-6);
	LlmSamplerFree(&s);
}

/* temperature 1 on a fixed 4-token distribution: frequencies match */
static void
TestDistribution(void)
{
	LlmSamplingParams p;
	double		probs[4] = {0.1, 0.2, 0.3, 0.4};
	float		l[4];
	int32_t    *out = malloc(sizeof(int32_t) * 20000);
	int			count[4] = {0, 0, 0, 0};

	for (int i = 0; i < 4; i++)
		l[i] = (float) log(probs[i]) + 1.5f;
	LlmSamplingDefaults(&p);
	p.temperature = 1.0;
	p.seed = 1234;
	SampleMany(&p, l, 4, 20000, out);
	for (int i = 0; i < 20000; i++)
		count[out[i]]++;
	for (int i = 0; i < 4; i++)
		CHECK(fabs(count[i] / 20000.0 - probs[i]) < 0.02);

	/* temperature 0.5 squares the probabilities: 1, 4, 9, 16 over 30 */
	p.temperature = 0.5;
	SampleMany(&p, l, 4, 20000, out);
	memset(count, 0, sizeof(count));
	for (int i = 0; i < 20000; i++)
		count[out[i]]++;
	for (int i = 0; i < 4; i++)
		CHECK(fabs(count[i] / 20000.0 - (i + 1) * (i + 1) / 30.0) < 0.02);
	free(out);
}

static void
TestValidation(void)
{
	LlmSamplingParams p;
	LlmError	err;
	LlmSampler	s;

	LlmSamplingDefaults(&p);
	CHECK(LlmSamplingValidate(&p, &err) == LLM_OK);

	p.temperature = -0.1;
	CHECK(LlmSamplingValidate(&p, &err) == LLM_ERR_ARGUMENT);
	CHECK(strstr(err.message, "temperature") != NULL);
	p.temperature = INFINITY;
	CHECK(LlmSamplingValidate(&p, &err) == LLM_ERR_ARGUMENT);
	p.temperature = NAN;
	CHECK(LlmSamplingValidate(&p, &err) == LLM_ERR_ARGUMENT);
	LlmSamplingDefaults(&p);

	p.top_p = 0.0;
	CHECK(LlmSamplingValidate(&p, &err) == LLM_ERR_ARGUMENT);
	CHECK(strstr(err.message, "top_p") != NULL);
	p.top_p = 1.01;
	CHECK(LlmSamplingValidate(&p, &err) == LLM_ERR_ARGUMENT);
	LlmSamplingDefaults(&p);

	p.min_p = -0.01;
	CHECK(LlmSamplingValidate(&p, &err) == LLM_ERR_ARGUMENT);
	CHECK(strstr(err.message, "min_p") != NULL);
	p.min_p = 1.5;
	CHECK(LlmSamplingValidate(&p, &err) == LLM_ERR_ARGUMENT);
	LlmSamplingDefaults(&p);

	p.top_k = -1;
	CHECK(LlmSamplingValidate(&p, &err) == LLM_ERR_ARGUMENT);
	CHECK(strstr(err.message, "top_k") != NULL);
	LlmSamplingDefaults(&p);

	p.repetition_penalty = 0.0;
	CHECK(LlmSamplingValidate(&p, &err) == LLM_ERR_ARGUMENT);
	CHECK(strstr(err.message, "repetition_penalty") != NULL);
	p.repetition_penalty = NAN;
	CHECK(LlmSamplingValidate(&p, &err) == LLM_ERR_ARGUMENT);
	CHECK(LlmSamplerInit(&s, &p, 10, &err) == LLM_ERR_ARGUMENT);
	LlmSamplingDefaults(&p);
	CHECK(LlmSamplerInit(&s, &p, 0, &err) == LLM_ERR_ARGUMENT);
}

/* all logits -inf or NaN: still a valid id */
static void
TestDegenerate(void)
{
	LlmSamplingParams p;
	float		l[3] = {-INFINITY, NAN, -INFINITY};

	LlmSamplingDefaults(&p);
	p.temperature = 1.0;
	p.top_p = 0.5;
	p.min_p = 0.1;
	CHECK(SampleOnce(&p, l, 3, NULL, 0) >= 0);
	l[1] = NAN;
	p.temperature = 0.0;
	CHECK(SampleOnce(&p, l, 3, NULL, 0) == 0);
}

int
main(void)
{
	TestGreedy();
	TestSeeds();
	TestLimitsAreGreedy();
	TestFilterSets();
	TestNucleusLarge();
	TestPenalty();
	TestDistribution();
	TestValidation();
	TestDegenerate();
	UNIT_DONE("sampler");
}
