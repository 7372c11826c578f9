// objects: src/vector/vecdist.o
/*
 * test_vecdist.c
 *	  Unit tests for the distance kernels and binary16 conversions.
 *
 * For every instruction set the CPU supports, each kernel is compared with
 * the portable one on deterministic pseudo-random data.  SIMD kernels sum in
 * a different order, so float results must agree within REL_TOL times the
 * sum of the absolute values of the terms (a bound on the rounding error of
 * any summation order, far above what 2000 terms produce); integer and
 * conversion results must agree exactly.  Inputs sit against a PROT_NONE
 * page, so a kernel that reads past the end of its arrays crashes the test.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "unit.h"
#include "vector/vecdist.h"

#define REL_TOL 2e-5
#define MAX_DIM 2000
#define REGION_BYTES (64 * 1024)

/* the kernels of one instruction set */
typedef struct Kernels
{
	VecF32DistFn l2f;
	VecF32DistFn ipf;
	VecF32DistFn l1f;
	void		(*cos32) (int, const float *, const float *, float *, float *, float *);
	VecF16DistFn l2h;
	VecF16DistFn iph;
	VecF16DistFn l1h;
	void		(*cos16) (int, const half *, const half *, float *, float *, float *);
	uint64_t	(*hamming) (uint32_t, const unsigned char *, const unsigned char *);
	void		(*jaccard) (uint32_t, const unsigned char *, const unsigned char *, uint64_t *, uint64_t *, uint64_t *);
	void		(*h2f) (int, const half *, float *);
	void		(*f2h) (int, const float *, half *);
} Kernels;

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static unsigned char *region[2];

/*
 * Deterministic 64-bit pseudo-random numbers (splitmix64)
 */
static uint64_t
Next(void)
{
	uint64_t	z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/*
 * Uniform float in [-scale, scale)
 */
static float
RandFloat(float scale)
{
	return (float) ((double) (Next() >> 11) / 9007199254740992.0 * 2.0 - 1.0) * scale;
}

/*
 * Snapshot of the kernel pointers now selected
 */
static Kernels
Current(void)
{
	Kernels		k;

	k.l2f = VecL2SquaredF32;
	k.ipf = VecInnerProductF32;
	k.l1f = VecL1F32;
	k.cos32 = VecCosinePartsF32;
	k.l2h = VecL2SquaredF16;
	k.iph = VecInnerProductF16;
	k.l1h = VecL1F16;
	k.cos16 = VecCosinePartsF16;
	k.hamming = VecHammingBits;
	k.jaccard = VecJaccardBits;
	k.h2f = VecHalfToFloatArray;
	k.f2h = VecFloatToHalfArray;
	return k;
}

/*
 * Two regions, each followed by an inaccessible guard page
 */
static void
SetupGuardedRegions(void)
{
	long		page = sysconf(_SC_PAGESIZE);

	for (int r = 0; r < 2; r++)
	{
		unsigned char *p = mmap(NULL, REGION_BYTES + page, PROT_READ | PROT_WRITE,
								MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED || mprotect(p + REGION_BYTES, page, PROT_NONE) != 0)
		{
			perror("mmap");
			exit(2);
		}
		region[r] = p;
	}
}

/*
 * A pointer to bytes that end exactly at region r's guard page
 */
static void *
AtEnd(int r, size_t bytes)
{
	return region[r] + REGION_BYTES - bytes;
}

/*
 * got is within REL_TOL * bound of want
 */
static void
CheckClose(const char *what, const char *isa, int dim, double got, double want, double bound)
{
	if (fabs(got - want) <= REL_TOL * bound + 1e-30)
		unit_passed++;
	else
	{
		unit_failed++;
		printf("FAIL %s [%s] dim %d: %.9g, portable %.9g (bound %.3g)\n",
			   what, isa, dim, got, want, bound);
	}
}

/*
 * Float kernels of one ISA against the portable ones at one dimension
 */
static void
CompareF32(const Kernels *ref, const Kernels *k, const char *isa, int dim, float scale)
{
	float	   *a = AtEnd(0, dim * sizeof(float));
	float	   *b = AtEnd(1, dim * sizeof(float));
	double		l2b = 0,
				ipb = 0,
				l1b = 0,
				aab = 0,
				bbb = 0;
	float		ab1,
				aa1,
				bb1,
				ab2,
				aa2,
				bb2;

	for (int i = 0; i < dim; i++)
	{
		a[i] = RandFloat(scale);
		b[i] = RandFloat(scale);
		l2b += ((double) a[i] - b[i]) * ((double) a[i] - b[i]);
		ipb += fabs((double) a[i] * b[i]);
		l1b += fabs((double) a[i] - b[i]);
		aab += (double) a[i] * a[i];
		bbb += (double) b[i] * b[i];
	}
	CheckClose("l2 f32", isa, dim, k->l2f(dim, a, b), ref->l2f(dim, a, b), l2b);
	CheckClose("ip f32", isa, dim, k->ipf(dim, a, b), ref->ipf(dim, a, b), ipb);
	CheckClose("l1 f32", isa, dim, k->l1f(dim, a, b), ref->l1f(dim, a, b), l1b);
	ref->cos32(dim, a, b, &ab1, &aa1, &bb1);
	k->cos32(dim, a, b, &ab2, &aa2, &bb2);
	CheckClose("cos ab f32", isa, dim, ab2, ab1, ipb);
	CheckClose("cos aa f32", isa, dim, aa2, aa1, aab);
	CheckClose("cos bb f32", isa, dim, bb2, bb1, bbb);
}

/*
 * binary16 kernels of one ISA against the portable ones at one dimension
 */
static void
CompareF16(const Kernels *ref, const Kernels *k, const char *isa, int dim, float scale)
{
	half	   *a = AtEnd(0, dim * sizeof(half));
	half	   *b = AtEnd(1, dim * sizeof(half));
	double		l2b = 0,
				ipb = 0,
				l1b = 0,
				aab = 0,
				bbb = 0;
	float		ab1,
				aa1,
				bb1,
				ab2,
				aa2,
				bb2;

	for (int i = 0; i < dim; i++)
	{
		double		x,
					y;

		a[i] = VecFloatToHalf(RandFloat(scale));
		b[i] = VecFloatToHalf(RandFloat(scale));
		x = VecHalfToFloat(a[i]);
		y = VecHalfToFloat(b[i]);
		l2b += (x - y) * (x - y);
		ipb += fabs(x * y);
		l1b += fabs(x - y);
		aab += x * x;
		bbb += y * y;
	}
	CheckClose("l2 f16", isa, dim, k->l2h(dim, a, b), ref->l2h(dim, a, b), l2b);
	CheckClose("ip f16", isa, dim, k->iph(dim, a, b), ref->iph(dim, a, b), ipb);
	CheckClose("l1 f16", isa, dim, k->l1h(dim, a, b), ref->l1h(dim, a, b), l1b);
	ref->cos16(dim, a, b, &ab1, &aa1, &bb1);
	k->cos16(dim, a, b, &ab2, &aa2, &bb2);
	CheckClose("cos ab f16", isa, dim, ab2, ab1, ipb);
	CheckClose("cos aa f16", isa, dim, aa2, aa1, aab);
	CheckClose("cos bb f16", isa, dim, bb2, bb1, bbb);
}

/*
 * Identical bits, or both NaN
 */
static int
SameFloat(float x, float y)
{
	if (isnan(x) || isnan(y))
		return isnan(x) && isnan(y);
	return memcmp(&x, &y, sizeof(float)) == 0;
}

/*
 * binary16 bits h is a NaN
 */
static int
HalfIsNan(half h)
{
	return (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0;
}

/*
 * Identical bits, or both NaN
 */
static int
SameHalf(half x, half y)
{
	if (HalfIsNan(x) || HalfIsNan(y))
		return HalfIsNan(x) && HalfIsNan(y);
	return x == y;
}

/* floats waiting to go through one ISA's float-to-half array converter */
static float fbatch[65536];
static half hbatch[65536];

/*
 * Convert the batch with the ISA's converter; the number that differ from
 * the scalar conversion
 */
static int
FlushFloatBits(const Kernels *k, int *n)
{
	int			bad = 0;

	k->f2h(*n, fbatch, hbatch);
	for (int i = 0; i < *n; i++)
		if (!SameHalf(hbatch[i], VecFloatToHalf(fbatch[i])))
		{
			if (bad++ < 5)
				printf("FAIL float-to-half of %a: %04x, scalar %04x\n",
					   fbatch[i], hbatch[i], VecFloatToHalf(fbatch[i]));
		}
	*n = 0;
	return bad;
}

/*
 * Queue one float bit pattern for FlushFloatBits(), flushing when full
 */
static int
AddFloatBits(const Kernels *k, uint32_t bits, int *n)
{
	memcpy(&fbatch[*n], &bits, sizeof(float));
	if (++*n == 65536)
		return FlushFloatBits(k, n);
	return 0;
}

/*
 * Array conversions of one ISA against the scalar conversions
 */
static void
CheckArrayConversions(const Kernels *k, const char *isa)
{
	static half hall[65536];
	static float fall[65536];
	int			bad = 0;
	int			nf;

	/* every binary16 pattern, through the array converter */
	for (int i = 0; i < 65536; i++)
		hall[i] = (half) i;
	k->h2f(65536, hall, fall);
	for (int i = 0; i < 65536; i++)
		if (!SameFloat(fall[i], VecHalfToFloat((half) i)))
			bad++;
	CHECK(bad == 0);

	/* float bit patterns: a stride over all, rounding boundaries, ties */
	bad = 0;
	nf = 0;
	for (uint64_t u = 0; u <= 0xffffffffULL; u += 4099)
		bad += AddFloatBits(k, (uint32_t) u, &nf);
	for (uint32_t e = 0; e < 256; e++)
	{
		static const uint32_t low[] = {0, 1, 0xfff, 0x1000, 0x1001, 0x1fff};

		for (uint32_t m = 0; m < 1024; m += 7)
			for (int j = 0; j < 6; j++)
				bad += AddFloatBits(k, (e << 23) | (m << 13) | low[j] | ((m & 1) << 31), &nf);
	}
	for (int j = 0; j <= 8192; j++)
	{
		float		x = ldexpf((float) j, -26);
		uint32_t	bits;

		memcpy(&bits, &x, sizeof(bits));
		bad += AddFloatBits(k, bits, &nf);
		bad += AddFloatBits(k, bits | 0x80000000u, &nf);
	}
	bad += FlushFloatBits(k, &nf);
	CHECK(bad == 0);

	/* every length up to 40, against a guard page and with a sentinel */
	bad = 0;
	for (int n = 0; n <= 40; n++)
	{
		half	   *h = AtEnd(0, n * sizeof(half));
		float	   *f = AtEnd(1, n * sizeof(float));
		float		fout[41];
		half		hout[41];

		for (int i = 0; i < n; i++)
		{
			h[i] = (half) Next();
			f[i] = RandFloat(70000.0f);
		}
		fout[n] = 12345.0f;
		hout[n] = 0x1234;
		k->h2f(n, h, fout);
		k->f2h(n, f, hout);
		for (int i = 0; i < n; i++)
		{
			if (!SameFloat(fout[i], VecHalfToFloat(h[i])))
				bad++;
			if (!SameHalf(hout[i], VecFloatToHalf(f[i])))
				bad++;
		}
		if (fout[n] != 12345.0f || hout[n] != 0x1234)
			bad++;
		/* kernels write nothing but out[0..n-1]: converting into the guarded region */
		k->h2f(n, h, AtEnd(1, n * sizeof(float)));
		k->f2h(n, f, AtEnd(0, n * sizeof(half)));
	}
	CHECK(bad == 0);
}

/*
 * Popcount of one byte, a bit at a time
 */
static int
NaiveBits(unsigned char x)
{
	int			c = 0;

	for (int i = 0; i < 8; i++)
		c += (x >> i) & 1;
	return c;
}

/*
 * Hamming and Jaccard counts of one ISA against a naive bit loop
 */
static void
CheckBits(const Kernels *k, const char *isa)
{
	int			bad = 0;

	for (uint32_t n = 0; n <= 200; n++)
	{
		unsigned char *a = AtEnd(0, n);
		unsigned char *b = AtEnd(1, n);
		uint64_t	h = 0,
					ab = 0,
					aa = 0,
					bb = 0;
		uint64_t	gab,
					gaa,
					gbb;

		for (uint32_t i = 0; i < n; i++)
		{
			/* sparse, dense and uniform bytes */
			uint64_t	r = Next();

			a[i] = (unsigned char) (n % 3 == 0 ? r & (r >> 8) : n % 3 == 1 ? r | (r >> 8) : r);
			b[i] = (unsigned char) (r >> 16);
			h += NaiveBits(a[i] ^ b[i]);
			ab += NaiveBits(a[i] & b[i]);
			aa += NaiveBits(a[i]);
			bb += NaiveBits(b[i]);
		}
		if (k->hamming(n, a, b) != h)
		{
			bad++;
			printf("FAIL hamming [%s] %u bytes\n", isa, n);
		}
		k->jaccard(n, a, b, &gab, &gaa, &gbb);
		if (gab != ab || gaa != aa || gbb != bb)
		{
			bad++;
			printf("FAIL jaccard [%s] %u bytes\n", isa, n);
		}
	}
	CHECK(bad == 0);
}

/*
 * Scalar binary16 conversions: exhaustive round trip and rounding cases
 */
static void
CheckScalarConversions(void)
{
	int			bad = 0;

	for (int i = 0; i < 65536; i++)
	{
		half		h = (half) i;
		float		f = VecHalfToFloat(h);

		if (HalfIsNan(h) != (isnan(f) != 0))
			bad++;
		else if (HalfIsNan(h) ? !HalfIsNan(VecFloatToHalf(f)) : VecFloatToHalf(f) != h)
			bad++;
	}
	CHECK(bad == 0);

	CHECK(VecHalfToFloat(0x3c00) == 1.0f);
	CHECK(VecHalfToFloat(0x7bff) == 65504.0f);
	CHECK(VecHalfToFloat(0x0001) == ldexpf(1.0f, -24));
	CHECK(VecHalfToFloat(0x03ff) == 1023 * ldexpf(1.0f, -24));
	CHECK(VecHalfToFloat(0x0400) == ldexpf(1.0f, -14));
	CHECK(VecHalfToFloat(0xc000) == -2.0f);
	CHECK(isinf(VecHalfToFloat(0x7c00)) && VecHalfToFloat(0x7c00) > 0);
	CHECK(isinf(VecHalfToFloat(0xfc00)) && VecHalfToFloat(0xfc00) < 0);
	CHECK(signbit(VecHalfToFloat(0x8000)) && VecHalfToFloat(0x8000) == 0.0f);

	CHECK(VecFloatToHalf(1.0f) == 0x3c00);
	CHECK(VecFloatToHalf(-2.0f) == 0xc000);
	CHECK(VecFloatToHalf(0.0f) == 0x0000);
	CHECK(VecFloatToHalf(-0.0f) == 0x8000);
	/* ties to even between 1 and 1 + 2^-10, and between 1 + 2^-10 and 1 + 2^-9 */
	CHECK(VecFloatToHalf(1.0f + ldexpf(1.0f, -11)) == 0x3c00);
	CHECK(VecFloatToHalf(1.0f + 3 * ldexpf(1.0f, -11)) == 0x3c02);
	CHECK(VecFloatToHalf(1.0f + ldexpf(1.0f, -11) + ldexpf(1.0f, -20)) == 0x3c01);
	CHECK(VecFloatToHalf(1.0f + ldexpf(1.0f, -11) - ldexpf(1.0f, -20)) == 0x3c00);
	CHECK(VecFloatToHalf(-1.0f - 3 * ldexpf(1.0f, -11)) == 0xbc02);
	/* a tie that carries into the exponent: 2 - 2^-11 rounds to 2 */
	CHECK(VecFloatToHalf(2.0f - ldexpf(1.0f, -11)) == 0x4000);
	/* subnormals */
	CHECK(VecFloatToHalf(ldexpf(1.0f, -24)) == 0x0001);
	CHECK(VecFloatToHalf(-ldexpf(1.0f, -24)) == 0x8001);
	CHECK(VecFloatToHalf(ldexpf(1.0f, -25)) == 0x0000);
	CHECK(VecFloatToHalf(ldexpf(1.0f, -25) * 1.0001f) == 0x0001);
	CHECK(VecFloatToHalf(3 * ldexpf(1.0f, -25)) == 0x0002);
	CHECK(VecFloatToHalf(5 * ldexpf(1.0f, -25)) == 0x0002);
	CHECK(VecFloatToHalf(ldexpf(1.0f, -26)) == 0x0000);
	CHECK(VecFloatToHalf(1e-10f) == 0x0000);
	CHECK(VecFloatToHalf(-1e-10f) == 0x8000);
	CHECK(VecFloatToHalf(1023 * ldexpf(1.0f, -24)) == 0x03ff);
	CHECK(VecFloatToHalf(ldexpf(1.0f, -14) - ldexpf(1.0f, -25)) == 0x0400);
	CHECK(VecFloatToHalf(ldexpf(1.0f, -14)) == 0x0400);
	/* the top of the range and overflow */
	CHECK(VecFloatToHalf(65504.0f) == 0x7bff);
	CHECK(VecFloatToHalf(-65504.0f) == 0xfbff);
	CHECK(VecFloatToHalf(65519.99f) == 0x7bff);
	CHECK(VecFloatToHalf(65520.0f) == 0x7c00);
	CHECK(VecFloatToHalf(-65520.0f) == 0xfc00);
	CHECK(VecFloatToHalf(65536.0f) == 0x7c00);
	CHECK(VecFloatToHalf(1e6f) == 0x7c00);
	CHECK(VecFloatToHalf(3.0e38f) == 0x7c00);
	CHECK(VecFloatToHalf(INFINITY) == 0x7c00);
	CHECK(VecFloatToHalf(-INFINITY) == 0xfc00);
	CHECK(HalfIsNan(VecFloatToHalf(NAN)));
	CHECK(HalfIsNan(VecFloatToHalf(-NAN)));
}

int
main(void)
{
	static const char *const isas[] = {"portable", "avx2", "avx512"};
	static const int extra_dims[] = {63, 64, 65, 127, 128, 129, 768, 1536, 2000};
	Kernels		ref;
	const char *best;

	SetupGuardedRegions();

	VecDistInit();
	best = VecDistIsa();
	printf("vecdist: best instruction set %s\n", best);
	CHECK(strcmp(best, "portable") == 0 || strcmp(best, "avx2") == 0 ||
		  strcmp(best, "avx512") == 0);
	CHECK(!VecDistSelect("sse9"));
	CHECK(!VecDistSelect(NULL));
	CHECK(strcmp(VecDistIsa(), best) == 0);

	CHECK(VecDistSelect("portable"));
	CHECK(strcmp(VecDistIsa(), "portable") == 0);
	ref = Current();

	CheckScalarConversions();

	for (int s = 0; s < 3; s++)
	{
		const char *isa = isas[s];
		Kernels		k;
		int			before = unit_failed;

		if (!VecDistSelect(isa))
		{
			printf("vecdist: %s not supported by this CPU, skipped\n", isa);
			continue;
		}
		CHECK(strcmp(VecDistIsa(), isa) == 0);
		k = Current();

		for (int dim = 1; dim <= 40; dim++)
		{
			CompareF32(&ref, &k, isa, dim, 1.0f);
			CompareF16(&ref, &k, isa, dim, 1.0f);
		}
		for (int j = 0; j < (int) (sizeof(extra_dims) / sizeof(extra_dims[0])); j++)
		{
			CompareF32(&ref, &k, isa, extra_dims[j], 1.0f);
			CompareF32(&ref, &k, isa, extra_dims[j], 1000.0f);
			CompareF16(&ref, &k, isa, extra_dims[j], 1.0f);
			CompareF16(&ref, &k, isa, extra_dims[j], 100.0f);
		}
		/* dimension 0: every sum is empty */
		CHECK(k.l2f(0, AtEnd(0, 0), AtEnd(1, 0)) == 0.0f);
		CHECK(k.ipf(0, AtEnd(0, 0), AtEnd(1, 0)) == 0.0f);
		CHECK(k.l1h(0, AtEnd(0, 0), AtEnd(1, 0)) == 0.0f);

		CheckArrayConversions(&k, isa);
		CheckBits(&k, isa);
		printf("vecdist: %s checked%s\n", isa, unit_failed == before ? "" : " WITH FAILURES");
	}

	VecDistInit();
	CHECK(strcmp(VecDistIsa(), best) == 0);
	UNIT_DONE("vecdist");
}
