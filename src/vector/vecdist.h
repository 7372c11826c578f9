/*-------------------------------------------------------------------------
 *
 * vecdist.h
 *	  Distance kernels on raw element arrays, chosen at run time by CPU.
 *
 * These are plain C: no palloc, no ereport, so the unit tests link them
 * without a server.  VecDistInit() probes the CPU once (AVX-512, AVX2 +
 * FMA, F16C) and points each kernel at the best implementation; before it
 * runs they point at the portable versions.  The SQL distance functions
 * and the HNSW index both call through these pointers.  VecDistIsa() names
 * the chosen set ("avx512", "avx2" or "portable"); VecDistSelect() forces
 * one, for tests and benchmarks.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMLOPS_VECTOR_VECDIST_H
#define PGMLOPS_VECTOR_VECDIST_H

#include <stdbool.h>
#include <stdint.h>

/* IEEE 754 binary16, stored as its bit pattern */
typedef uint16_t half;

typedef float (*VecF32DistFn) (int dim, const float *a, const float *b);
typedef float (*VecF16DistFn) (int dim, const half *a, const half *b);

/* sum((a-b)^2), sum(a*b), sum(|a-b|) over float4 elements */
extern VecF32DistFn VecL2SquaredF32;
extern VecF32DistFn VecInnerProductF32;
extern VecF32DistFn VecL1F32;
/* a.b, a.a and b.b in one pass, for cosine */
extern void (*VecCosinePartsF32) (int dim, const float *a, const float *b,
								  float *ab, float *aa, float *bb);

/* the same over binary16 elements (accumulated in float) */
extern VecF16DistFn VecL2SquaredF16;
extern VecF16DistFn VecInnerProductF16;
extern VecF16DistFn VecL1F16;
extern void (*VecCosinePartsF16) (int dim, const half *a, const half *b,
								  float *ab, float *aa, float *bb);

/* popcount(a ^ b), and popcount of a & b, a, b (for Jaccard) over bytes */
extern uint64_t (*VecHammingBits) (uint32_t nbytes, const unsigned char *a,
								   const unsigned char *b);
extern void (*VecJaccardBits) (uint32_t nbytes, const unsigned char *a,
							   const unsigned char *b, uint64_t *ab,
							   uint64_t *aa, uint64_t *bb);

/* scalar and array conversions between float and binary16 (round to nearest even) */
extern float VecHalfToFloat(half h);
extern half VecFloatToHalf(float f);
extern void (*VecHalfToFloatArray) (int n, const half *in, float *out);
extern void (*VecFloatToHalfArray) (int n, const float *in, half *out);

/* vecdist.c */
extern void VecDistInit(void);
extern void VecDistUsePortable(void);
extern const char *VecDistIsa(void);
extern bool VecDistSelect(const char *isa);

#endif							/* PGMLOPS_VECTOR_VECDIST_H */
