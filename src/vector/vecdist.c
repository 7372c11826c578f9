/*-------------------------------------------------------------------------
 *
 * vecdist.c
 *	  Distance kernels and their run-time dispatch.
 *
 * The portable versions here are the reference; VecDistInit() swaps in
 * SIMD versions where the CPU has them.  Plain C with no PostgreSQL header
 * (like the inference engine), so unit/test_vecdist.c links this file
 * alone, and the engine uses its binary16 conversions.
 *
 * The x86 kernels carry per-function target attributes rather than global
 * -m flags, so this file builds for any x86 CPU and only the dispatch in
 * VecDistSelect() decides what runs.  Three levels: "avx512" (AVX-512F,
 * plus VPOPCNTDQ and BW for the bit kernels when present), "avx2" (AVX2 +
 * FMA, F16C for binary16, POPCNT for bits) and "portable".  The float
 * kernels keep several independent accumulators so the FMA latency is
 * hidden, and finish any dimension with masked loads (never reading past
 * the end of the arrays).  Their summation order differs from the portable
 * loop, so results agree to rounding, not bit for bit.  Each operation is
 * written once, as a template (DEFINE_SUM_KERNEL, DEFINE_COSINE_KERNEL)
 * over the instruction set and the element loader, and instantiated for
 * float4 and binary16 at both levels.  Non-x86 builds, or builds with
 * VECDIST_PORTABLE_ONLY defined, have only the portable set.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <string.h>
#if (defined(__x86_64__) || defined(__i386__)) && !defined(VECDIST_PORTABLE_ONLY)
#define VECDIST_X86 1
#include <cpuid.h>
#include <immintrin.h>
#endif

#include "vector/vecdist.h"

/*
 * Portable sum((a-b)^2)
 */
static float
L2SquaredF32Portable(int dim, const float *a, const float *b)
{
	float		sum = 0.0f;

	for (int i = 0; i < dim; i++)
	{
		float		d = a[i] - b[i];

		sum += d * d;
	}
	return sum;
}

/*
 * Portable sum(a*b)
 */
static float
InnerProductF32Portable(int dim, const float *a, const float *b)
{
	float		sum = 0.0f;

	for (int i = 0; i < dim; i++)
		sum += a[i] * b[i];
	return sum;
}

/*
 * Portable sum(|a-b|)
 */
static float
L1F32Portable(int dim, const float *a, const float *b)
{
	float		sum = 0.0f;

	for (int i = 0; i < dim; i++)
		sum += fabsf(a[i] - b[i]);
	return sum;
}

/*
 * Portable a.b, a.a, b.b
 */
static void
CosinePartsF32Portable(int dim, const float *a, const float *b, float *ab, float *aa, float *bb)
{
	float		sab = 0.0f,
				saa = 0.0f,
				sbb = 0.0f;

	for (int i = 0; i < dim; i++)
	{
		sab += a[i] * b[i];
		saa += a[i] * a[i];
		sbb += b[i] * b[i];
	}
	*ab = sab;
	*aa = saa;
	*bb = sbb;
}

/*
 * binary16 bits to float
 */
float
VecHalfToFloat(half h)
{
	uint32_t	sign = (uint32_t) (h & 0x8000) << 16;
	uint32_t	exponent = (h >> 10) & 0x1f;
	uint32_t	mantissa = h & 0x3ff;
	uint32_t	bits;
	float		f;

	if (exponent == 0x1f)		/* inf or nan */
		bits = sign | 0x7f800000 | (mantissa << 13);
	else if (exponent != 0)		/* normal */
		bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
	else if (mantissa == 0)		/* zero */
		bits = sign;
	else
	{
		/* subnormal: value is mantissa * 2^-24 */
		f = (float) mantissa * (1.0f / 16777216.0f);
		return sign ? -f : f;
	}
	memcpy(&f, &bits, sizeof(f));
	return f;
}

/*
 * float to binary16 bits, rounding to nearest even; overflow gives inf
 */
half
VecFloatToHalf(float f)
{
	uint32_t	bits;
	uint32_t	sign;
	int			exponent;
	uint32_t	mantissa;

	memcpy(&bits, &f, sizeof(bits));
	sign = (bits >> 16) & 0x8000;
	exponent = (int) ((bits >> 23) & 0xff);
	mantissa = bits & 0x7fffff;

	if (exponent == 0xff)		/* inf or nan */
		return (half) (sign | 0x7c00 | (mantissa ? 0x200 : 0));

	exponent -= 127 - 15;
	if (exponent >= 0x1f)		/* overflow */
		return (half) (sign | 0x7c00);
	if (exponent <= 0)
	{
		/* subnormal or zero in binary16 */
		uint32_t	shift;
		uint32_t	value;
		uint32_t	rem;
		uint32_t	halfway;

		if (exponent < -10)
			return (half) sign;
		mantissa |= 0x800000;
		shift = (uint32_t) (14 - exponent);
		value = mantissa >> shift;
		rem = mantissa & ((1u << shift) - 1);
		halfway = 1u << (shift - 1);
		if (rem > halfway || (rem == halfway && (value & 1)))
			value++;
		return (half) (sign | value);
	}
	else
	{
		uint32_t	value = ((uint32_t) exponent << 10) | (mantissa >> 13);
		uint32_t	rem = mantissa & 0x1fff;

		/* a carry into the exponent is correct, up to and including inf */
		if (rem > 0x1000 || (rem == 0x1000 && (value & 1)))
			value++;
		return (half) (sign | value);
	}
}

/*
 * Portable binary16 sum((a-b)^2), converting and accumulating in float
 */
static float
L2SquaredF16Portable(int dim, const half *a, const half *b)
{
	float		sum = 0.0f;

	for (int i = 0; i < dim; i++)
	{
		float		d = VecHalfToFloat(a[i]) - VecHalfToFloat(b[i]);

		sum += d * d;
	}
	return sum;
}

/*
 * Portable binary16 sum(a*b)
 */
static float
InnerProductF16Portable(int dim, const half *a, const half *b)
{
	float		sum = 0.0f;

	for (int i = 0; i < dim; i++)
		sum += VecHalfToFloat(a[i]) * VecHalfToFloat(b[i]);
	return sum;
}

/*
 * Portable binary16 sum(|a-b|)
 */
static float
L1F16Portable(int dim, const half *a, const half *b)
{
	float		sum = 0.0f;

	for (int i = 0; i < dim; i++)
		sum += fabsf(VecHalfToFloat(a[i]) - VecHalfToFloat(b[i]));
	return sum;
}

/*
 * Portable binary16 a.b, a.a, b.b
 */
static void
CosinePartsF16Portable(int dim, const half *a, const half *b, float *ab, float *aa, float *bb)
{
	float		sab = 0.0f,
				saa = 0.0f,
				sbb = 0.0f;

	for (int i = 0; i < dim; i++)
	{
		float		x = VecHalfToFloat(a[i]);
		float		y = VecHalfToFloat(b[i]);

		sab += x * y;
		saa += x * x;
		sbb += y * y;
	}
	*ab = sab;
	*aa = saa;
	*bb = sbb;
}

/*
 * Portable binary16 array to float array
 */
static void
HalfToFloatArrayPortable(int n, const half *in, float *out)
{
	for (int i = 0; i < n; i++)
		out[i] = VecHalfToFloat(in[i]);
}

/*
 * Portable float array to binary16 array
 */
static void
FloatToHalfArrayPortable(int n, const float *in, half *out)
{
	for (int i = 0; i < n; i++)
		out[i] = VecFloatToHalf(in[i]);
}

/*
 * Portable popcount(a ^ b), eight bytes at a time
 */
static uint64_t
HammingBitsPortable(uint32_t nbytes, const unsigned char *a, const unsigned char *b)
{
	uint64_t	count = 0;
	uint32_t	i = 0;

	for (; i + 8 <= nbytes; i += 8)
	{
		uint64_t	x,
					y;

		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		count += __builtin_popcountll(x ^ y);
	}
	for (; i < nbytes; i++)
		count += __builtin_popcount(a[i] ^ b[i]);
	return count;
}

/*
 * Portable popcounts of a & b, a and b
 */
static void
JaccardBitsPortable(uint32_t nbytes, const unsigned char *a, const unsigned char *b,
					uint64_t *ab, uint64_t *aa, uint64_t *bb)
{
	uint64_t	sab = 0,
				saa = 0,
				sbb = 0;

	for (uint32_t i = 0; i < nbytes; i++)
	{
		sab += __builtin_popcount(a[i] & b[i]);
		saa += __builtin_popcount(a[i]);
		sbb += __builtin_popcount(b[i]);
	}
	*ab = sab;
	*aa = saa;
	*bb = sbb;
}

#ifdef VECDIST_X86

#define TARGET_AVX2 __attribute__((target("avx2,fma")))
#define TARGET_AVX2_F16C __attribute__((target("avx2,fma,f16c")))
#define TARGET_AVX512 __attribute__((target("avx512f")))
#define TARGET_AVX512_BITS __attribute__((target("avx512f,avx512bw,avx512vpopcntdq")))
#define TARGET_POPCNT __attribute__((target("popcnt")))

/* rem (1..7) leading -1 lanes of an AVX2 load/store mask */
static const int32_t avx2_tail_mask[16] = {
	-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0
};

/*
 * AVX2 mask selecting the first rem (1..7) of eight float lanes
 */
TARGET_AVX2
static inline __m256i
Avx2TailMask(int rem)
{
	return _mm256_loadu_si256((const __m256i *) (avx2_tail_mask + 8 - rem));
}

/*
 * Sum of the eight lanes of an AVX register
 */
TARGET_AVX2
static inline float
Avx2Hsum(__m256 v)
{
	__m128		lo = _mm256_castps256_ps128(v);
	__m128		hi = _mm256_extractf128_ps(v, 1);

	lo = _mm_add_ps(lo, hi);
	hi = _mm_movehl_ps(hi, lo);
	lo = _mm_add_ps(lo, hi);
	hi = _mm_movehdup_ps(lo);
	lo = _mm_add_ss(lo, hi);
	return _mm_cvtss_f32(lo);
}

/*
 * AVX-512 mask selecting min(rem, 16) lanes
 */
static inline __mmask16
Avx512Mask(int rem)
{
	return rem >= 16 ? (__mmask16) 0xffff : (__mmask16) ((1u << rem) - 1);
}

/*
 * Eight binary16 values as floats (F16C)
 */
TARGET_AVX2_F16C
static inline __m256
Avx2LoadHalf(const half *p)
{
	return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) p));
}

/*
 * The first n (1..7) binary16 values as floats, zeros after them; the copy
 * keeps the load inside the array
 */
TARGET_AVX2_F16C
static inline __m256
Avx2LoadHalfTail(const half *p, int n)
{
	half		buf[8] = {0};

	memcpy(buf, p, n * sizeof(half));
	return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) buf));
}

/*
 * Sixteen binary16 values as floats
 */
TARGET_AVX512
static inline __m512
Avx512LoadHalf(const half *p)
{
	return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *) p));
}

/*
 * The first n (1..15) binary16 values as floats, zeros after them
 */
TARGET_AVX512
static inline __m512
Avx512LoadHalfTail(const half *p, int n)
{
	half		buf[16] = {0};

	memcpy(buf, p, n * sizeof(half));
	return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *) buf));
}

/* the first n (1..7 or 1..15) floats, zeros after them, by a masked load */
#define AVX2_LOAD_FLOAT_TAIL(p, n) _mm256_maskload_ps((p), Avx2TailMask(n))
#define AVX512_LOAD_FLOAT_TAIL(p, n) _mm512_maskz_loadu_ps(Avx512Mask(n), (p))

/*
 * The vector operations the kernel templates below use, named by the
 * templates' ISA argument: register type, float lanes, zero, add,
 * subtract, multiply-add, absolute value and the sum of the lanes
 */
#define AVX2_VEC __m256
#define AVX2_W 8
#define AVX2_ZERO() _mm256_setzero_ps()
#define AVX2_ADD(x, y) _mm256_add_ps(x, y)
#define AVX2_SUB(x, y) _mm256_sub_ps(x, y)
#define AVX2_FMADD(x, y, s) _mm256_fmadd_ps(x, y, s)
#define AVX2_ABS(x) _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x)
#define AVX2_HSUM(x) Avx2Hsum(x)

#define AVX512_VEC __m512
#define AVX512_W 16
#define AVX512_ZERO() _mm512_setzero_ps()
#define AVX512_ADD(x, y) _mm512_add_ps(x, y)
#define AVX512_SUB(x, y) _mm512_sub_ps(x, y)
#define AVX512_FMADD(x, y, s) _mm512_fmadd_ps(x, y, s)
#define AVX512_ABS(x) _mm512_abs_ps(x)
#define AVX512_HSUM(x) _mm512_reduce_add_ps(x)

/* one accumulating step of each sum: s + f(x, y) */
#define STEP_L2(ISA, s, x, y) ISA##_FMADD(ISA##_SUB(x, y), ISA##_SUB(x, y), s)
#define STEP_IP(ISA, s, x, y) ISA##_FMADD(x, y, s)
#define STEP_L1(ISA, s, x, y) ISA##_ADD(s, ISA##_ABS(ISA##_SUB(x, y)))

/* s = STEP(s, x, y), each load evaluated once */
#define SUM_ACC(ISA, STEP, s, xload, yload) \
	do { \
		ISA##_VEC	vx_ = (xload); \
		ISA##_VEC	vy_ = (yload); \
		\
		(s) = STEP(ISA, s, vx_, vy_); \
	} while (0)

/*
 * Define NAME(dim, a, b): the sum of STEP over dim elements of type ELEM,
 * loaded as floats by LOAD (one register) and LOAD_TAIL (the last partial
 * register).  UNROLL (2 or 4) accumulators take blocks of UNROLL registers;
 * whole registers left over go to the first, the partial one to accumulator
 * TAIL (0 or 1).  Each kernel's accumulation order is part of its result,
 * bit for bit, so these choices are per kernel.  The branches on the
 * constant arguments fold away; everything inlines into NAME.
 */
#define DEFINE_SUM_KERNEL(NAME, TARGET, ISA, ELEM, LOAD, LOAD_TAIL, STEP, UNROLL, TAIL) \
TARGET \
static float \
NAME(int dim, const ELEM *a, const ELEM *b) \
{ \
	const int	w = ISA##_W; \
	ISA##_VEC	s0 = ISA##_ZERO(); \
	ISA##_VEC	s1 = ISA##_ZERO(); \
	ISA##_VEC	s2 = ISA##_ZERO(); \
	ISA##_VEC	s3 = ISA##_ZERO(); \
	int			i = 0; \
	\
	for (; i + (UNROLL) * w <= dim; i += (UNROLL) * w) \
	{ \
		SUM_ACC(ISA, STEP, s0, LOAD(a + i), LOAD(b + i)); \
		SUM_ACC(ISA, STEP, s1, LOAD(a + i + w), LOAD(b + i + w)); \
		if ((UNROLL) == 4) \
		{ \
			SUM_ACC(ISA, STEP, s2, LOAD(a + i + 2 * w), LOAD(b + i + 2 * w)); \
			SUM_ACC(ISA, STEP, s3, LOAD(a + i + 3 * w), LOAD(b + i + 3 * w)); \
		} \
	} \
	for (; i + w <= dim; i += w) \
		SUM_ACC(ISA, STEP, s0, LOAD(a + i), LOAD(b + i)); \
	if (i < dim && (TAIL) == 0) \
		SUM_ACC(ISA, STEP, s0, LOAD_TAIL(a + i, dim - i), LOAD_TAIL(b + i, dim - i)); \
	else if (i < dim) \
		SUM_ACC(ISA, STEP, s1, LOAD_TAIL(a + i, dim - i), LOAD_TAIL(b + i, dim - i)); \
	if ((UNROLL) == 4) \
		return ISA##_HSUM(ISA##_ADD(ISA##_ADD(s0, s1), ISA##_ADD(s2, s3))); \
	return ISA##_HSUM(ISA##_ADD(s0, s1)); \
}

/* abK, aaK, bbK += x*y, x*x, y*y, each load evaluated once */
#define COSINE_ACC(ISA, K, xload, yload) \
	do { \
		ISA##_VEC	vx_ = (xload); \
		ISA##_VEC	vy_ = (yload); \
		\
		ab##K = ISA##_FMADD(vx_, vy_, ab##K); \
		aa##K = ISA##_FMADD(vx_, vx_, aa##K); \
		bb##K = ISA##_FMADD(vy_, vy_, bb##K); \
	} while (0)

/*
 * Define NAME(dim, a, b, ab, aa, bb): a.b, a.a and b.b, as
 * DEFINE_SUM_KERNEL but with UNROLL (1 or 2) sets of three accumulators
 */
#define DEFINE_COSINE_KERNEL(NAME, TARGET, ISA, ELEM, LOAD, LOAD_TAIL, UNROLL, TAIL) \
TARGET \
static void \
NAME(int dim, const ELEM *a, const ELEM *b, float *ab, float *aa, float *bb) \
{ \
	const int	w = ISA##_W; \
	ISA##_VEC	ab0 = ISA##_ZERO(); \
	ISA##_VEC	ab1 = ISA##_ZERO(); \
	ISA##_VEC	aa0 = ISA##_ZERO(); \
	ISA##_VEC	aa1 = ISA##_ZERO(); \
	ISA##_VEC	bb0 = ISA##_ZERO(); \
	ISA##_VEC	bb1 = ISA##_ZERO(); \
	int			i = 0; \
	\
	for (; (UNROLL) == 2 && i + 2 * w <= dim; i += 2 * w) \
	{ \
		COSINE_ACC(ISA, 0, LOAD(a + i), LOAD(b + i)); \
		COSINE_ACC(ISA, 1, LOAD(a + i + w), LOAD(b + i + w)); \
	} \
	for (; i + w <= dim; i += w) \
		COSINE_ACC(ISA, 0, LOAD(a + i), LOAD(b + i)); \
	if (i < dim && (TAIL) == 0) \
		COSINE_ACC(ISA, 0, LOAD_TAIL(a + i, dim - i), LOAD_TAIL(b + i, dim - i)); \
	else if (i < dim) \
		COSINE_ACC(ISA, 1, LOAD_TAIL(a + i, dim - i), LOAD_TAIL(b + i, dim - i)); \
	if ((UNROLL) == 2) \
	{ \
		ab0 = ISA##_ADD(ab0, ab1); \
		aa0 = ISA##_ADD(aa0, aa1); \
		bb0 = ISA##_ADD(bb0, bb1); \
	} \
	*ab = ISA##_HSUM(ab0); \
	*aa = ISA##_HSUM(aa0); \
	*bb = ISA##_HSUM(bb0); \
}

/*
 * Define L2SquaredF32<SUFFIX>, InnerProductF32<SUFFIX>, L1F32<SUFFIX> and
 * CosinePartsF32<SUFFIX> for one level: four accumulators for each sum,
 * two sets for cosine, the partial register into accumulator TAIL
 */
#define DEFINE_FLOAT4_KERNELS(SUFFIX, TARGET, ISA, LOAD, LOAD_TAIL, TAIL) \
DEFINE_SUM_KERNEL(L2SquaredF32##SUFFIX, TARGET, ISA, float, LOAD, LOAD_TAIL, STEP_L2, 4, TAIL) \
DEFINE_SUM_KERNEL(InnerProductF32##SUFFIX, TARGET, ISA, float, LOAD, LOAD_TAIL, STEP_IP, 4, TAIL) \
DEFINE_SUM_KERNEL(L1F32##SUFFIX, TARGET, ISA, float, LOAD, LOAD_TAIL, STEP_L1, 4, TAIL) \
DEFINE_COSINE_KERNEL(CosinePartsF32##SUFFIX, TARGET, ISA, float, LOAD, LOAD_TAIL, 2, TAIL)

/*
 * Define L2SquaredF16<SUFFIX>, InnerProductF16<SUFFIX>, L1F16<SUFFIX> and
 * CosinePartsF16<SUFFIX> for one level: four accumulators for L2 and inner
 * product, two for L1, one set for cosine
 */
#define DEFINE_HALF_KERNELS(SUFFIX, TARGET, ISA, LOAD, LOAD_TAIL) \
DEFINE_SUM_KERNEL(L2SquaredF16##SUFFIX, TARGET, ISA, half, LOAD, LOAD_TAIL, STEP_L2, 4, 1) \
DEFINE_SUM_KERNEL(InnerProductF16##SUFFIX, TARGET, ISA, half, LOAD, LOAD_TAIL, STEP_IP, 4, 1) \
DEFINE_SUM_KERNEL(L1F16##SUFFIX, TARGET, ISA, half, LOAD, LOAD_TAIL, STEP_L1, 2, 1) \
DEFINE_COSINE_KERNEL(CosinePartsF16##SUFFIX, TARGET, ISA, half, LOAD, LOAD_TAIL, 1, 0)

/* AVX2 + FMA float4 kernels, and F16C + FMA binary16 kernels */
DEFINE_FLOAT4_KERNELS(Avx2, TARGET_AVX2, AVX2, _mm256_loadu_ps, AVX2_LOAD_FLOAT_TAIL, 1)
DEFINE_HALF_KERNELS(Avx2, TARGET_AVX2_F16C, AVX2, Avx2LoadHalf, Avx2LoadHalfTail)

/* AVX-512 float4 and binary16 kernels */
DEFINE_FLOAT4_KERNELS(Avx512, TARGET_AVX512, AVX512, _mm512_loadu_ps, AVX512_LOAD_FLOAT_TAIL, 0)
DEFINE_HALF_KERNELS(Avx512, TARGET_AVX512, AVX512, Avx512LoadHalf, Avx512LoadHalfTail)

/*
 * F16C binary16 array to float array
 */
TARGET_AVX2_F16C
static void
HalfToFloatArrayF16c(int n, const half *in, float *out)
{
	int			i = 0;

	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(out + i, Avx2LoadHalf(in + i));
	if (i < n)
		_mm256_maskstore_ps(out + i, Avx2TailMask(n - i), Avx2LoadHalfTail(in + i, n - i));
}

/*
 * AVX-512 binary16 array to float array
 */
TARGET_AVX512
static void
HalfToFloatArrayAvx512(int n, const half *in, float *out)
{
	int			i = 0;

	for (; i + 16 <= n; i += 16)
		_mm512_storeu_ps(out + i, Avx512LoadHalf(in + i));
	if (i < n)
		_mm512_mask_storeu_ps(out + i, Avx512Mask(n - i), Avx512LoadHalfTail(in + i, n - i));
}

/*
 * F16C float array to binary16 array, rounding to nearest even
 */
TARGET_AVX2_F16C
static void
FloatToHalfArrayF16c(int n, const float *in, half *out)
{
	int			i = 0;

	for (; i + 8 <= n; i += 8)
		_mm_storeu_si128((__m128i *) (out + i),
						 _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT));
	if (i < n)
	{
		half		buf[8];
		__m256		x = _mm256_maskload_ps(in + i, Avx2TailMask(n - i));

		_mm_storeu_si128((__m128i *) buf, _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT));
		memcpy(out + i, buf, (n - i) * sizeof(half));
	}
}

/*
 * AVX-512 float array to binary16 array, rounding to nearest even
 */
TARGET_AVX512
static void
FloatToHalfArrayAvx512(int n, const float *in, half *out)
{
	int			i = 0;

	for (; i + 16 <= n; i += 16)
		_mm256_storeu_si256((__m256i *) (out + i),
							_mm512_cvtps_ph(_mm512_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT));
	if (i < n)
	{
		half		buf[16];
		__m512		x = _mm512_maskz_loadu_ps(Avx512Mask(n - i), in + i);

		_mm256_storeu_si256((__m256i *) buf, _mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT));
		memcpy(out + i, buf, (n - i) * sizeof(half));
	}
}

/*
 * Up to eight bytes as a little word, zero-padded
 */
static inline uint64_t
LoadBytes(const unsigned char *p, uint32_t n)
{
	uint64_t	x = 0;

	memcpy(&x, p, n);
	return x;
}

/*
 * POPCNT popcount(a ^ b)
 */
TARGET_POPCNT
static uint64_t
HammingBitsPopcnt(uint32_t nbytes, const unsigned char *a, const unsigned char *b)
{
	uint64_t	c0 = 0,
				c1 = 0,
				c2 = 0,
				c3 = 0;
	uint32_t	i = 0;

	for (; i + 32 <= nbytes; i += 32)
	{
		c0 += __builtin_popcountll(LoadBytes(a + i, 8) ^ LoadBytes(b + i, 8));
		c1 += __builtin_popcountll(LoadBytes(a + i + 8, 8) ^ LoadBytes(b + i + 8, 8));
		c2 += __builtin_popcountll(LoadBytes(a + i + 16, 8) ^ LoadBytes(b + i + 16, 8));
		c3 += __builtin_popcountll(LoadBytes(a + i + 24, 8) ^ LoadBytes(b + i + 24, 8));
	}
	for (; i + 8 <= nbytes; i += 8)
		c0 += __builtin_popcountll(LoadBytes(a + i, 8) ^ LoadBytes(b + i, 8));
	if (i < nbytes)
		c1 += __builtin_popcountll(LoadBytes(a + i, nbytes - i) ^ LoadBytes(b + i, nbytes - i));
	return c0 + c1 + c2 + c3;
}

/*
 * POPCNT popcounts of a & b, a and b
 */
TARGET_POPCNT
static void
JaccardBitsPopcnt(uint32_t nbytes, const unsigned char *a, const unsigned char *b,
				  uint64_t *ab, uint64_t *aa, uint64_t *bb)
{
	uint64_t	sab = 0,
				saa = 0,
				sbb = 0;
	uint32_t	i = 0;

	while (i < nbytes)
	{
		uint32_t	n = nbytes - i < 8 ? nbytes - i : 8;
		uint64_t	x = LoadBytes(a + i, n);
		uint64_t	y = LoadBytes(b + i, n);

		sab += __builtin_popcountll(x & y);
		saa += __builtin_popcountll(x);
		sbb += __builtin_popcountll(y);
		i += n;
	}
	*ab = sab;
	*aa = saa;
	*bb = sbb;
}

/*
 * AVX-512 mask selecting min(rem, 64) bytes
 */
static inline __mmask64
Avx512ByteMask(uint32_t rem)
{
	return rem >= 64 ? ~(__mmask64) 0 : (((__mmask64) 1) << rem) - 1;
}

/*
 * AVX-512 VPOPCNTDQ popcount(a ^ b), 64 bytes at a time
 */
TARGET_AVX512_BITS
static uint64_t
HammingBitsAvx512(uint32_t nbytes, const unsigned char *a, const unsigned char *b)
{
	__m512i		c0 = _mm512_setzero_si512();
	__m512i		c1 = _mm512_setzero_si512();
	uint32_t	i = 0;

	for (; i + 128 <= nbytes; i += 128)
	{
		c0 = _mm512_add_epi64(c0, _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_loadu_si512(a + i), _mm512_loadu_si512(b + i))));
		c1 = _mm512_add_epi64(c1, _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_loadu_si512(a + i + 64), _mm512_loadu_si512(b + i + 64))));
	}
	for (; i < nbytes; i += 64)
	{
		__mmask64	m = Avx512ByteMask(nbytes - i);

		c0 = _mm512_add_epi64(c0, _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_maskz_loadu_epi8(m, a + i), _mm512_maskz_loadu_epi8(m, b + i))));
	}
	return (uint64_t) _mm512_reduce_add_epi64(_mm512_add_epi64(c0, c1));
}

/*
 * AVX-512 VPOPCNTDQ popcounts of a & b, a and b
 */
TARGET_AVX512_BITS
static void
JaccardBitsAvx512(uint32_t nbytes, const unsigned char *a, const unsigned char *b,
				  uint64_t *ab, uint64_t *aa, uint64_t *bb)
{
	__m512i		sab = _mm512_setzero_si512();
	__m512i		saa = _mm512_setzero_si512();
	__m512i		sbb = _mm512_setzero_si512();

	for (uint32_t i = 0; i < nbytes; i += 64)
	{
		__mmask64	m = Avx512ByteMask(nbytes - i);
		__m512i		x = _mm512_maskz_loadu_epi8(m, a + i);
		__m512i		y = _mm512_maskz_loadu_epi8(m, b + i);

		sab = _mm512_add_epi64(sab, _mm512_popcnt_epi64(_mm512_and_si512(x, y)));
		saa = _mm512_add_epi64(saa, _mm512_popcnt_epi64(x));
		sbb = _mm512_add_epi64(sbb, _mm512_popcnt_epi64(y));
	}
	*ab = (uint64_t) _mm512_reduce_add_epi64(sab);
	*aa = (uint64_t) _mm512_reduce_add_epi64(saa);
	*bb = (uint64_t) _mm512_reduce_add_epi64(sbb);
}

#endif							/* VECDIST_X86 */

VecF32DistFn VecL2SquaredF32 = L2SquaredF32Portable;
VecF32DistFn VecInnerProductF32 = InnerProductF32Portable;
VecF32DistFn VecL1F32 = L1F32Portable;
void		(*VecCosinePartsF32) (int, const float *, const float *, float *, float *, float *) = CosinePartsF32Portable;
VecF16DistFn VecL2SquaredF16 = L2SquaredF16Portable;
VecF16DistFn VecInnerProductF16 = InnerProductF16Portable;
VecF16DistFn VecL1F16 = L1F16Portable;
void		(*VecCosinePartsF16) (int, const half *, const half *, float *, float *, float *) = CosinePartsF16Portable;
uint64_t	(*VecHammingBits) (uint32_t, const unsigned char *, const unsigned char *) = HammingBitsPortable;
void		(*VecJaccardBits) (uint32_t, const unsigned char *, const unsigned char *, uint64_t *, uint64_t *, uint64_t *) = JaccardBitsPortable;
void		(*VecHalfToFloatArray) (int, const half *, float *) = HalfToFloatArrayPortable;
void		(*VecFloatToHalfArray) (int, const float *, half *) = FloatToHalfArrayPortable;

/* set only by VecDistUsePortable() and VecDistSelect() */
static const char *current_isa = "portable";

/*
 * Point every kernel at its portable version
 */
void
VecDistUsePortable(void)
{
	VecL2SquaredF32 = L2SquaredF32Portable;
	VecInnerProductF32 = InnerProductF32Portable;
	VecL1F32 = L1F32Portable;
	VecCosinePartsF32 = CosinePartsF32Portable;
	VecL2SquaredF16 = L2SquaredF16Portable;
	VecInnerProductF16 = InnerProductF16Portable;
	VecL1F16 = L1F16Portable;
	VecCosinePartsF16 = CosinePartsF16Portable;
	VecHammingBits = HammingBitsPortable;
	VecJaccardBits = JaccardBitsPortable;
	VecHalfToFloatArray = HalfToFloatArrayPortable;
	VecFloatToHalfArray = FloatToHalfArrayPortable;
	current_isa = "portable";
}

#ifdef VECDIST_X86

/*
 * Whether the CPU (and OS) can run the AVX2 + FMA kernels
 */
static bool
CpuHasAvx2(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

/*
 * Whether the CPU (and OS) can run the AVX-512F kernels
 */
static bool
CpuHasAvx512(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512f");
}

/*
 * Whether the CPU has F16C; cpuid directly, since not every compiler's
 * __builtin_cpu_supports knows the name.  The OS side (saved YMM state)
 * is covered by the AVX2 check that comes first.
 */
static bool
CpuHasF16c(void)
{
	unsigned int eax,
				ebx,
				ecx,
				edx;

	if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx))
		return false;
	return (ecx & bit_F16C) != 0;
}

/*
 * Point the bit kernels at the best popcount the CPU has; AVX-512 VPOPCNTDQ
 * only when the AVX-512 level is chosen
 */
static void
SelectBitKernels(bool avx512)
{
	if (avx512 && __builtin_cpu_supports("avx512bw") &&
		__builtin_cpu_supports("avx512vpopcntdq"))
	{
		VecHammingBits = HammingBitsAvx512;
		VecJaccardBits = JaccardBitsAvx512;
	}
	else if (__builtin_cpu_supports("popcnt"))
	{
		VecHammingBits = HammingBitsPopcnt;
		VecJaccardBits = JaccardBitsPopcnt;
	}
}

/*
 * Point the kernels at the AVX2 + FMA (and F16C, POPCNT) versions
 */
static void
UseAvx2(void)
{
	VecDistUsePortable();
	VecL2SquaredF32 = L2SquaredF32Avx2;
	VecInnerProductF32 = InnerProductF32Avx2;
	VecL1F32 = L1F32Avx2;
	VecCosinePartsF32 = CosinePartsF32Avx2;
	if (CpuHasF16c())
	{
		VecL2SquaredF16 = L2SquaredF16Avx2;
		VecInnerProductF16 = InnerProductF16Avx2;
		VecL1F16 = L1F16Avx2;
		VecCosinePartsF16 = CosinePartsF16Avx2;
		VecHalfToFloatArray = HalfToFloatArrayF16c;
		VecFloatToHalfArray = FloatToHalfArrayF16c;
	}
	SelectBitKernels(false);
	current_isa = "avx2";
}

/*
 * Point the kernels at the AVX-512 versions
 */
static void
UseAvx512(void)
{
	VecDistUsePortable();
	VecL2SquaredF32 = L2SquaredF32Avx512;
	VecInnerProductF32 = InnerProductF32Avx512;
	VecL1F32 = L1F32Avx512;
	VecCosinePartsF32 = CosinePartsF32Avx512;
	VecL2SquaredF16 = L2SquaredF16Avx512;
	VecInnerProductF16 = InnerProductF16Avx512;
	VecL1F16 = L1F16Avx512;
	VecCosinePartsF16 = CosinePartsF16Avx512;
	VecHalfToFloatArray = HalfToFloatArrayAvx512;
	VecFloatToHalfArray = FloatToHalfArrayAvx512;
	SelectBitKernels(true);
	current_isa = "avx512";
}
#endif							/* VECDIST_X86 */

/*
 * Force one instruction set ("portable", "avx2" or "avx512"); false, with
 * nothing changed, when the name is unknown or the CPU lacks it
 */
bool
VecDistSelect(const char *isa)
{
	if (isa == NULL)
		return false;
	if (strcmp(isa, "portable") == 0)
	{
		VecDistUsePortable();
		return true;
	}
#ifdef VECDIST_X86
	if (strcmp(isa, "avx2") == 0 && CpuHasAvx2())
	{
		UseAvx2();
		return true;
	}
	if (strcmp(isa, "avx512") == 0 && CpuHasAvx512())
	{
		UseAvx512();
		return true;
	}
#endif
	return false;
}

/*
 * Choose the best kernels for this CPU
 */
void
VecDistInit(void)
{
	if (!VecDistSelect("avx512") && !VecDistSelect("avx2"))
		VecDistUsePortable();
}

/*
 * Name of the instruction set the kernels use now
 */
const char *
VecDistIsa(void)
{
	return current_isa;
}
