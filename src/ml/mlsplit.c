/*-------------------------------------------------------------------------
 *
 * mlsplit.c
 *	  The seeded train/test split.
 *
 * A Fisher-Yates shuffle of 0 .. rows-1 driven by PCG32 (llm/pcg.h): for i
 * from rows-1 down to 1, swap element i with element PcgBounded(i + 1).
 * The first round(rows * test_fraction) elements of the permutation are
 * the test rows, the others the training rows, each list in ascending
 * order.  scripts/ml/mlsplit.py reimplements exactly this, so the reference
 * script trains scikit-learn on the same rows.  PcgBounded takes a 32-bit
 * bound, hence at most 2^32 - 1 rows.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdlib.h>

#include "ml/ml.h"

/* swaps between two interrupt checks */
#define ML_SPLIT_CHECK_EVERY 65536

/*
 * Split 0 .. rows-1 into *train (*ntrain rows) and *test (*ntest rows),
 * both malloc'ed (never NULL on success, even when empty) and sorted
 */
int
MlSplit(int64_t rows, double test_fraction, uint64_t seed,
		int64_t **train, int64_t *ntrain, int64_t **test,
		int64_t *ntest, LlmError *err)
{
	uint64_t	state;
	uint32_t   *perm;
	uint8_t    *in_test;
	int64_t		n_test;
	int64_t		nt = 0;
	int64_t		nr = 0;
	int			rc = LLM_ERR_NOMEM;

	*train = NULL;
	*test = NULL;
	*ntrain = 0;
	*ntest = 0;
	if (rows < 0 || rows > (int64_t) UINT32_MAX)
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "cannot split %lld rows: the split handles 0 to %u rows",
						   (long long) rows, UINT32_MAX);
	if (!(test_fraction >= 0.0 && test_fraction < 1.0))
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "test fraction %g is outside [0, 1)", test_fraction);
	n_test = (int64_t) round((double) rows * test_fraction);

	perm = LlmAlloc(sizeof(uint32_t) * (size_t) (rows > 0 ? rows : 1), err);
	in_test = LlmAllocZero((size_t) (rows > 0 ? rows : 1), err);
	*train = LlmAlloc(sizeof(int64_t) * (size_t) (rows - n_test > 0 ? rows - n_test : 1), err);
	*test = LlmAlloc(sizeof(int64_t) * (size_t) (n_test > 0 ? n_test : 1), err);
	if (perm == NULL || in_test == NULL || *train == NULL || *test == NULL)
		goto fail;

	for (int64_t i = 0; i < rows; i++)
		perm[i] = (uint32_t) i;
	PcgSeed(&state, seed);
	for (int64_t i = rows - 1; i >= 1; i--)
	{
		uint32_t	j = PcgBounded(&state, (uint32_t) (i + 1));
		uint32_t	t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
		if (i % ML_SPLIT_CHECK_EVERY == 0 && LlmInterrupted())
		{
			rc = LlmSetError(err, LLM_ERR_CANCELLED, "train/test split cancelled");
			goto fail;
		}
	}

	/* mark the test rows, then read both lists off in ascending order */
	for (int64_t i = 0; i < n_test; i++)
		in_test[perm[i]] = 1;
	for (int64_t r = 0; r < rows; r++)
	{
		if (in_test[r])
			(*test)[nt++] = r;
		else
			(*train)[nr++] = r;
	}
	free(perm);
	free(in_test);
	*ntrain = nr;
	*ntest = nt;
	return LLM_OK;

fail:
	free(perm);
	free(in_test);
	free(*train);
	free(*test);
	*train = NULL;
	*test = NULL;
	return rc;
}
