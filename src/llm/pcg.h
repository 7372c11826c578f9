/*-------------------------------------------------------------------------
 *
 * pcg.h
 *	  PCG32 (O'Neill): a small seeded generator shared by the sampler, the
 *	  train/test split and k-means++ initialization.
 *
 * The state is one uint64_t (fixed increment).  The same seed gives the
 * same stream on every platform, which the reference scripts rely on.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMLOPS_LLM_PCG_H
#define PGMLOPS_LLM_PCG_H

#include <stdint.h>

#define PCG_MULT	6364136223846793005ULL
#define PCG_INC		1442695040888963407ULL

/* next 32 random bits */
static inline uint32_t
Pcg32Next(uint64_t *state)
{
	uint64_t	old = *state;
	uint32_t	xorshifted;
	uint32_t	rot;

	*state = old * PCG_MULT + PCG_INC;
	xorshifted = (uint32_t) (((old >> 18) ^ old) >> 27);
	rot = (uint32_t) (old >> 59);
	return (xorshifted >> rot) | (xorshifted << ((32 - rot) & 31));
}

/* uniform double in [0, 1) with 53 random bits */
static inline double
PcgUniform(uint64_t *state)
{
	uint64_t	a = Pcg32Next(state) >> 5;	/* 27 bits */
	uint64_t	b = Pcg32Next(state) >> 6;	/* 26 bits */

	return ((double) a * 67108864.0 + (double) b) / 9007199254740992.0;
}

/* uniform integer in [0, bound), bound > 0, without modulo bias */
static inline uint32_t
PcgBounded(uint64_t *state, uint32_t bound)
{
	uint32_t	threshold = (uint32_t) (-bound) % bound;

	for (;;)
	{
		uint32_t	r = Pcg32Next(state);

		if (r >= threshold)
			return r % bound;
	}
}

/* seed the generator the way PCG's reference srandom does */
static inline void
PcgSeed(uint64_t *state, uint64_t seed)
{
	*state = 0;
	(void) Pcg32Next(state);
	*state += seed;
	(void) Pcg32Next(state);
}

#endif							/* PGMLOPS_LLM_PCG_H */
