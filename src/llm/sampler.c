/*-------------------------------------------------------------------------
 *
 * sampler.c
 *	  Next-token selection: repetition penalty, temperature, top-k, top-p,
 *	  min-p and a seeded PCG32 draw, in Hugging Face's order.
 *
 * The filters keep prefixes of the tokens ordered by logit (highest first,
 * lowest id first among ties), so only as much of that order is built as
 * the filters need: top-k selects k tokens with a bounded heap, min-p is a
 * threshold that needs no order at all, and top-p sorts a growing prefix
 * (a few hundred tokens usually hold the nucleus) before falling back to a
 * full sort.  A 128k vocabulary therefore costs one pass of exp() and a
 * little heap work per token in the common cases.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdlib.h>

#include "llm/pcg.h"
#include "llm/sampler.h"

/* first prefix sorted when looking for the top-p nucleus */
#define TOP_P_FIRST_PREFIX 128
/* more candidates than this are sorted by radix rather than heap sort */
#define RADIX_SORT_MIN 2048

/* greedy, no filters, no penalty, seed 0 */
void
LlmSamplingDefaults(LlmSamplingParams *p)
{
	p->temperature = 0.0;
	p->top_k = 0;
	p->top_p = 1.0;
	p->min_p = 0.0;
	p->repetition_penalty = 1.0;
	p->seed = 0;
}

/* check every parameter's range; the message names the bad one */
int
LlmSamplingValidate(const LlmSamplingParams *p, LlmError *err)
{
	if (p == NULL)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "sampling parameters are missing");
	if (!(p->temperature >= 0.0) || !isfinite(p->temperature))
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "temperature must be a finite number >= 0, got %g",
						   p->temperature);
	if (p->top_k < 0)
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "top_k must be >= 0, got %d", p->top_k);
	if (!(p->top_p > 0.0 && p->top_p <= 1.0))
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "top_p must be in (0, 1], got %g", p->top_p);
	if (!(p->min_p >= 0.0 && p->min_p <= 1.0))
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "min_p must be in [0, 1], got %g", p->min_p);
	if (!(p->repetition_penalty > 0.0) || !isfinite(p->repetition_penalty))
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "repetition_penalty must be a finite number > 0, got %g",
						   p->repetition_penalty);
	return LLM_OK;
}

/* validate the parameters, seed the generator and allocate scratch */
int
LlmSamplerInit(LlmSampler *s, const LlmSamplingParams *p, int vocab,
			   LlmError *err)
{
	int			rc;

	memset(s, 0, sizeof(*s));
	if ((rc = LlmSamplingValidate(p, err)) != LLM_OK)
		return rc;
	if (vocab <= 0)
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "vocabulary size must be positive, got %d", vocab);
	s->order = LlmAlloc(sizeof(int32_t) * (size_t) vocab, err);
	s->probs = LlmAlloc(sizeof(float) * (size_t) vocab, err);
	s->sortbuf = LlmAlloc(sizeof(uint64_t) * 2 * (size_t) vocab, err);
	if (s->order == NULL || s->probs == NULL || s->sortbuf == NULL)
	{
		LlmSamplerFree(s);
		return LLM_ERR_NOMEM;
	}
	s->params = *p;
	s->vocab = vocab;
	PcgSeed(&s->state, p->seed);
	return LLM_OK;
}

/* free the scratch; the struct may be initialized again */
void
LlmSamplerFree(LlmSampler *s)
{
	if (s == NULL)
		return;
	free(s->order);
	free(s->probs);
	free(s->sortbuf);
	s->order = NULL;
	s->probs = NULL;
	s->sortbuf = NULL;
}

/* index of the largest value, lowest index among ties, NaN ignored */
int32_t
LlmArgmax(const float *x, int n)
{
	int32_t		best = -1;

	for (int i = 0; i < n; i++)
	{
		if (isnan(x[i]))
			continue;
		if (best < 0 || x[i] > x[best])
			best = i;
	}
	return best < 0 ? 0 : best;
}

/* does token a come after token b in the order (higher logit, lower id)? */
static inline bool
Worse(const float *l, int32_t a, int32_t b)
{
	return l[a] < l[b] || (l[a] == l[b] && a > b);
}

/* restore the heap property below i in heap[0..n): the root is the worst */
static void
SiftDown(int32_t *heap, int n, int i, const float *l)
{
	for (;;)
	{
		int			c = 2 * i + 1;
		int32_t		t;

		if (c >= n)
			break;
		if (c + 1 < n && Worse(l, heap[c + 1], heap[c]))
			c++;
		if (!Worse(l, heap[c], heap[i]))
			break;
		t = heap[c];
		heap[c] = heap[i];
		heap[i] = t;
		i = c;
	}
}

/*
 * Move the m best of idx[0..n) to idx[0..m), best first; the rest of idx
 * stays a permutation of the other candidates, so a later call with a
 * larger m works on the same array.  O(n log m), usually close to O(n).
 */
static void
SelectBest(int32_t *idx, int n, int m, const float *l)
{
	int32_t		t;

	if (m > n)
		m = n;
	if (m <= 0)
		return;
	for (int i = m / 2 - 1; i >= 0; i--)
		SiftDown(idx, m, i, l);
	for (int i = m; i < n; i++)
	{
		if (Worse(l, idx[0], idx[i]))
		{
			t = idx[0];
			idx[0] = idx[i];
			idx[i] = t;
			SiftDown(idx, m, 0, l);
		}
	}
	/* heap sort: the worst goes to the end each time */
	for (int end = m - 1; end > 0; end--)
	{
		t = idx[0];
		idx[0] = idx[end];
		idx[end] = t;
		SiftDown(idx, end, 0, l);
	}
}

/*
 * Sort ids[0..n), given in increasing id order, by descending l with a
 * stable LSD radix sort on the float bits (three passes of 11 bits), so
 * ties keep the lowest id first: the order SelectBest gives, in O(n).
 * buf holds 2 * n entries.
 */
static void
RadixSortDesc(int32_t *ids, int n, const float *l, uint64_t *buf)
{
	uint64_t   *a = buf;
	uint64_t   *b = buf + n;
	uint64_t   *t;
	static const int shift[3] = {32, 43, 54};
	static const int bits[3] = {11, 11, 10};

	for (int i = 0; i < n; i++)
	{
		uint32_t	u;
		float		f = l[ids[i]];

		if (f == 0.0f)
			f = 0.0f;			/* -0 sorts with +0 */
		memcpy(&u, &f, sizeof(u));
		u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);	/* ascending */
		a[i] = ((uint64_t) (~u) << 32) | (uint32_t) ids[i];	/* descending */
	}
	for (int pass = 0; pass < 3; pass++)
	{
		int			count[2048];
		int			mask = (1 << bits[pass]) - 1;
		int			sum = 0;

		memset(count, 0, sizeof(count));
		for (int i = 0; i < n; i++)
			count[(a[i] >> shift[pass]) & mask]++;
		for (int d = 0; d <= mask; d++)
		{
			int			c = count[d];

			count[d] = sum;
			sum += c;
		}
		for (int i = 0; i < n; i++)
			b[count[(a[i] >> shift[pass]) & mask]++] = a[i];
		t = a;
		a = b;
		b = t;
	}
	for (int i = 0; i < n; i++)
		ids[i] = (int32_t) (uint32_t) a[i];
}

/*
 * Length of the top-p nucleus of the sorted prefix order[0..n): tokens
 * are taken while the probability before them is below target; *reached
 * says whether the nucleus ended inside the prefix
 */
static int
NucleusLength(const int32_t *order, int n, const float *w, double target,
			  bool *reached)
{
	double		cum = 0.0;
	int			k = 0;

	while (k < n && cum < target)
		cum += w[order[k++]];
	*reached = cum >= target;
	return k;
}

/* apply the repetition penalty once to each distinct valid history token */
static void
ApplyPenalty(LlmSampler *s, float *logits, const int32_t *history, int n_history)
{
	float		penalty = (float) s->params.repetition_penalty;
	float	   *mark = s->probs;	/* scratch, free at this point */

	for (int i = 0; i < n_history; i++)
		if (history[i] >= 0 && history[i] < s->vocab)
			mark[history[i]] = 0.0f;
	for (int i = 0; i < n_history; i++)
	{
		int32_t		t = history[i];

		if (t < 0 || t >= s->vocab || mark[t] != 0.0f)
			continue;
		mark[t] = 1.0f;
		if (logits[t] < 0.0f)
			logits[t] *= penalty;
		else
			logits[t] /= penalty;
	}
}

/* choose the next token; see sampler.h */
int32_t
LlmSample(LlmSampler *s, float *logits, const int32_t *history, int n_history)
{
	const LlmSamplingParams *p = &s->params;
	int			vocab = s->vocab;
	int32_t    *order = s->order;
	float	   *w = s->probs;
	float		maxl = -INFINITY;
	float		temp = (float) p->temperature;
	int			n = 0;
	bool		sorted = false;
	double		z = 0.0;
	double		r;
	double		acc;

	if (p->repetition_penalty != 1.0 && history != NULL && n_history > 0)
		ApplyPenalty(s, logits, history, n_history);

	if (p->temperature == 0.0)
		return LlmArgmax(logits, vocab);

	/* temperature, relative to the maximum so nothing overflows */
	for (int i = 0; i < vocab; i++)
		if (logits[i] > maxl)
			maxl = logits[i];	/* NaN never compares greater */
	if (maxl == -INFINITY || maxl == INFINITY)
		return LlmArgmax(logits, vocab);
	for (int i = 0; i < vocab; i++)
	{
		float		x = (logits[i] - maxl) / temp;

		logits[i] = isnan(x) ? -INFINITY : x;
		if (x > -INFINITY)
			order[n++] = i;
	}
	if (n == 0)
		return LlmArgmax(logits, vocab);

	/* top-k */
	if (p->top_k > 0 && p->top_k < n)
	{
		SelectBest(order, n, p->top_k, logits);
		n = p->top_k;
		sorted = true;
	}

	/* probabilities up to the normalizer z; the maximum has weight 1 */
	for (int j = 0; j < n; j++)
	{
		w[order[j]] = expf(logits[order[j]]);
		z += w[order[j]];
	}

	/*
	 * min-p: p < min_p * p_max is w < min_p.  It is a prefix of the order
	 * like top-p, and top-p sees the distribution before it, so applying it
	 * first only bounds how far the nucleus search has to look.
	 */
	if (p->min_p > 0.0)
	{
		int			kept = 0;

		for (int j = 0; j < n; j++)
		{
			if (w[order[j]] >= (float) p->min_p)
			{
				int32_t		t = order[kept];

				order[kept++] = order[j];
				order[j] = t;
			}
			else if (sorted)
				break;
		}
		n = kept;
	}

	/* top-p: sort a growing prefix until it holds the nucleus */
	if (p->top_p < 1.0)
	{
		double		target = p->top_p * z;
		bool		reached = false;
		int			len;

		if (sorted)
			len = NucleusLength(order, n, w, target, &reached);
		else
		{
			int			m = n < TOP_P_FIRST_PREFIX ? n : TOP_P_FIRST_PREFIX;

			SelectBest(order, n, m, logits);
			len = NucleusLength(order, m, w, target, &reached);
			if (!reached && m < n)
			{
				if (n < RADIX_SORT_MIN)
					SelectBest(order, n, n, logits);
				else
				{
					/* the candidates again, in id order, then sorted */
					int			k = 0;

					for (int i = 0; i < vocab && k < n; i++)
						if (logits[i] > -INFINITY &&
							(p->min_p <= 0.0 || w[i] >= (float) p->min_p))
							order[k++] = i;
					RadixSortDesc(order, k, logits, s->sortbuf);
				}
				len = NucleusLength(order, n, w, target, &reached);
			}
		}
		n = len;
	}

	/* draw from what is left */
	z = 0.0;
	for (int j = 0; j < n; j++)
		z += w[order[j]];
	r = PcgUniform(&s->state) * z;
	acc = 0.0;
	for (int j = 0; j < n; j++)
	{
		acc += w[order[j]];
		if (r < acc)
			return order[j];
	}
	return order[n - 1];
}
