/*
 * unitmath.h
 *	  Random inputs, error measures and a clock shared by the unit tests of
 *	  the compute backends.
 *
 * Header-only (static inline): each test gets its own generator state,
 * seeded with UnitSeed() where a test wants its own sequence.
 */
#ifndef PGMLOPS_UNIT_UNITMATH_H
#define PGMLOPS_UNIT_UNITMATH_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "llm/llm.h"
#include "vector/vecdist.h"

static uint64_t unit_rng = 0x9e3779b97f4a7c15ull;

/* restart the generator (0 is not a valid state) */
static inline void
UnitSeed(uint64_t seed)
{
	unit_rng = seed != 0 ? seed : 1;
}

/* xorshift64* pseudo-random 32 bits */
static inline uint32_t
UnitRandU32(void)
{
	unit_rng ^= unit_rng >> 12;
	unit_rng ^= unit_rng << 25;
	unit_rng ^= unit_rng >> 27;
	return (uint32_t) ((unit_rng * 0x2545f4914f6cdd1dull) >> 32);
}

/* uniform in [-scale, scale) */
static inline float
UnitRandF(float scale)
{
	return scale * ((float) (UnitRandU32() >> 8) / 8388608.0f - 1.0f);
}

/* n floats uniform in [-scale, scale) (malloc'ed) */
static inline float *
UnitRandArray(size_t n, float scale)
{
	float	   *a = malloc((n > 0 ? n : 1) * sizeof(float));

	for (size_t i = 0; i < n; i++)
		a[i] = UnitRandF(scale);
	return a;
}

/*
 * The same rounded to bf16 values, so that a bf16 copy of them is exact
 * (malloc'ed)
 */
static inline float *
UnitRandArrayBf16(size_t n, float scale)
{
	float	   *a = UnitRandArray(n, scale);

	for (size_t i = 0; i < n; i++)
		a[i] = LlmBf16ToF32(LlmF32ToBf16(a[i]));
	return a;
}

/* ||got - want|| / ||want||; infinite when either holds a NaN */
static inline double
UnitRelErr(const float *got, const float *want, size_t n)
{
	double		diff = 0.0;
	double		norm = 0.0;

	for (size_t i = 0; i < n; i++)
	{
		double		d = (double) got[i] - want[i];

		if (isnan(got[i]) || isnan(want[i]))
			return INFINITY;
		diff += d * d;
		norm += (double) want[i] * want[i];
	}
	return sqrt(diff) / (norm > 0.0 ? sqrt(norm) : 1.0);
}

/* a host tensor of dtype from f32 values; data is malloc'ed */
static inline LlmTensor
UnitHostTensor(const float *v, LlmDType dtype, int ndim, int64_t d0, int64_t d1)
{
	LlmTensor	t;
	size_t		n = (size_t) (ndim == 1 ? d0 : d0 * d1);

	memset(&t, 0, sizeof(t));
	t.dtype = dtype;
	t.ndim = ndim;
	t.shape[0] = d0;
	t.shape[1] = ndim == 2 ? d1 : 0;
	t.data = malloc((n > 0 ? n : 1) * LlmDTypeSize(dtype));
	for (size_t i = 0; i < n; i++)
	{
		if (dtype == LLM_DTYPE_F32)
			((float *) t.data)[i] = v[i];
		else if (dtype == LLM_DTYPE_BF16)
			((uint16_t *) t.data)[i] = LlmF32ToBf16(v[i]);
		else
			((uint16_t *) t.data)[i] = VecFloatToHalf(v[i]);
	}
	return t;
}

/* seconds on a monotonic clock */
static inline double
UnitNow(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

#endif							/* PGMLOPS_UNIT_UNITMATH_H */
