/*-------------------------------------------------------------------------
 *
 * vecdist.c
 *	  Distance kernels and their run-time dispatch.
 *
 * The portable versions here are the reference; VecDistInit() swaps in
 * SIMD versions where the CPU has them.  No PostgreSQL runtime calls, so
 * unit/test_vecdist.c links this file alone.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <string.h>

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
 * Portable half-precision kernels: convert and accumulate in float
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

static float
InnerProductF16Portable(int dim, const half *a, const half *b)
{
	float		sum = 0.0f;

	for (int i = 0; i < dim; i++)
		sum += VecHalfToFloat(a[i]) * VecHalfToFloat(b[i]);
	return sum;
}

static float
L1F16Portable(int dim, const half *a, const half *b)
{
	float		sum = 0.0f;

	for (int i = 0; i < dim; i++)
		sum += fabsf(VecHalfToFloat(a[i]) - VecHalfToFloat(b[i]));
	return sum;
}

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

static void
HalfToFloatArrayPortable(int n, const half *in, float *out)
{
	for (int i = 0; i < n; i++)
		out[i] = VecHalfToFloat(in[i]);
}

/*
 * Portable bit kernels, eight bytes at a time
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
	current_isa = "portable";
}

/*
 * Choose the best kernels for this CPU
 */
void
VecDistInit(void)
{
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
