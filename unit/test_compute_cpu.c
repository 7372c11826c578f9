// objects: src/compute/compute_cpu.o src/llm/llmutil.o src/vector/vecdist.o
/*
 * test_compute_cpu.c
 *	  Unit tests of the CPU backend's fused products (matmul_add,
 *	  matmul_qkv, matmul_swiglu): each must give exactly what the ops it
 *	  replaces give (matmul then add; three matmuls; two matmuls then
 *	  silu_mul), since the CPU is the reference of the forward pass, and
 *	  agree with a plain double-precision product.
 *
 * Rows 1, 2, 5, 8, 9 and 64 (the dot-product path and the sgemm paths),
 * odd shapes (37 x 200 and friends), weights in f32, bf16 and f16, and
 * matmul_add onto a non-zero out.  Mismatched weight shapes are refused.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compute/computeops.h"
#include "vector/vecdist.h"
#include "unit.h"
#include "unitmath.h"

static const ComputeOps *ops = &ComputeCpuOps;
static void *ctx;
static LlmError err;
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

/* uniform in [-scale, scale) from a xorshift64* generator */
static float
RandF(float scale)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return scale * ((float) ((rng_state * 0x2545f4914f6cdd1dull) >> 40) / 8388608.0f - 1.0f);
}

/* n random floats in [-scale, scale) */
static float *
RandArray(size_t n, float scale)
{
	float	   *a = malloc(n * sizeof(float));

	for (size_t i = 0; i < n; i++)
		a[i] = RandF(scale);
	return a;
}

/* a random (o, i) weight stored as dtype */
static LlmTensor
RandWeight(LlmDType dtype, int64_t o, int64_t in)
{
	size_t		count = (size_t) (o * in);
	float	   *v = malloc(count * sizeof(float));
	LlmTensor	t;

	for (size_t i = 0; i < count; i++)
		v[i] = RandF(0.1f);
	t = UnitHostTensor(v, dtype, 2, o, in);
	free(v);
	return t;
}

/* ref(n, o) = x(n, i) . w^T in double */
static double *
RefProduct(const float *x, const LlmTensor *w, int n)
{
	int64_t		o = w->shape[0];
	int64_t		in = w->shape[1];
	float	   *wf = malloc((size_t) (o * in) * sizeof(float));
	double	   *ref = malloc((size_t) (n * o) * sizeof(double));

	LlmToF32(wf, w->data, w->dtype, (size_t) (o * in));
	for (int r = 0; r < n; r++)
		for (int64_t j = 0; j < o; j++)
		{
			double		s = 0.0;

			for (int64_t e = 0; e < in; e++)
				s += (double) x[r * in + e] * wf[j * in + e];
			ref[r * o + j] = s;
		}
	free(wf);
	return ref;
}

/* ||got - want|| / ||want|| */
static double
RelErr(const float *got, const double *want, size_t n)
{
	double		diff = 0.0;
	double		norm = 0.0;

	for (size_t i = 0; i < n; i++)
	{
		if (isnan(got[i]))
			return INFINITY;
		diff += (got[i] - want[i]) * (got[i] - want[i]);
		norm += want[i] * want[i];
	}
	return sqrt(diff) / (norm > 0.0 ? sqrt(norm) : 1.0);
}

/* exact equality and closeness to the double reference, reported by name */
static void
Compare(const char *name, const float *fused, const float *unfused, const double *ref,
		size_t count)
{
	bool		same = memcmp(fused, unfused, count * sizeof(float)) == 0;
	double		e = RelErr(fused, ref, count);

	if (!same || !(e <= 1e-5))
		printf("FAIL %s: %s, rel err %.3g against double\n", name,
			   same ? "same as unfused" : "differs from unfused", e);
	CHECK(same);
	CHECK(e <= 1e-5);
}

/* matmul_add against matmul + add, onto a non-zero out */
static void
TestMatmulAdd(LlmDType dtype, int n, int o, int in)
{
	LlmTensor	w = RandWeight(dtype, o, in);
	size_t		count = (size_t) n * o;
	float	   *x = RandArray((size_t) n * in, 1.0f);
	float	   *base = RandArray(count, 1.0f);
	float	   *fused = malloc(count * sizeof(float));
	float	   *unfused = malloc(count * sizeof(float));
	float	   *prod = malloc(count * sizeof(float));
	double	   *ref = RefProduct(x, &w, n);
	char		name[96];

	memcpy(fused, base, count * sizeof(float));
	memcpy(unfused, base, count * sizeof(float));
	CHECK(ops->matmul_add(ctx, fused, x, &w, n, &err) == LLM_OK);
	CHECK(ops->matmul(ctx, prod, x, &w, n, &err) == LLM_OK);
	CHECK(ops->add(ctx, unfused, prod, count, &err) == LLM_OK);
	for (size_t k = 0; k < count; k++)
		ref[k] += base[k];
	snprintf(name, sizeof(name), "matmul_add %dx%dx%d [%s]", n, o, in, LlmDTypeName(dtype));
	Compare(name, fused, unfused, ref, count);
	free(w.data);
	free(x);
	free(base);
	free(fused);
	free(unfused);
	free(prod);
	free(ref);
}

/* matmul_qkv against three matmuls */
static void
TestMatmulQkv(LlmDType dtype, int n, int oq, int okv, int in)
{
	LlmTensor	w[3] = {RandWeight(dtype, oq, in), RandWeight(dtype, okv, in),
	RandWeight(dtype, okv, in)};
	float	   *x = RandArray((size_t) n * in, 1.0f);
	float	   *fused[3];
	float	   *unfused[3];
	char		name[96];

	for (int p = 0; p < 3; p++)
	{
		size_t		count = (size_t) n * w[p].shape[0];

		fused[p] = malloc(count * sizeof(float));
		unfused[p] = malloc(count * sizeof(float));
		CHECK(ops->matmul(ctx, unfused[p], x, &w[p], n, &err) == LLM_OK);
	}
	CHECK(ops->matmul_qkv(ctx, fused[0], fused[1], fused[2], x, &w[0], &w[1], &w[2], n,
						  &err) == LLM_OK);
	for (int p = 0; p < 3; p++)
	{
		double	   *ref = RefProduct(x, &w[p], n);

		snprintf(name, sizeof(name), "matmul_qkv %c %dx%dx%d [%s]", "qkv"[p], n,
				 (int) w[p].shape[0], in, LlmDTypeName(dtype));
		Compare(name, fused[p], unfused[p], ref, (size_t) n * w[p].shape[0]);
		free(ref);
		free(fused[p]);
		free(unfused[p]);
		free(w[p].data);
	}
	free(x);
}

/* matmul_swiglu against two matmuls and silu_mul */
static void
TestMatmulSwiglu(LlmDType dtype, int n, int o, int in)
{
	LlmTensor	gate = RandWeight(dtype, o, in);
	LlmTensor	up = RandWeight(dtype, o, in);
	size_t		count = (size_t) n * o;
	float	   *x = RandArray((size_t) n * in, 1.0f);
	float	   *fused = malloc(count * sizeof(float));
	float	   *unfused = malloc(count * sizeof(float));
	float	   *h2 = malloc(count * sizeof(float));
	double	   *ref = RefProduct(x, &gate, n);
	double	   *ref_up = RefProduct(x, &up, n);
	char		name[96];

	CHECK(ops->matmul_swiglu(ctx, fused, x, &gate, &up, n, &err) == LLM_OK);
	CHECK(ops->matmul(ctx, unfused, x, &gate, n, &err) == LLM_OK);
	CHECK(ops->matmul(ctx, h2, x, &up, n, &err) == LLM_OK);
	CHECK(ops->silu_mul(ctx, unfused, h2, count, &err) == LLM_OK);
	for (size_t k = 0; k < count; k++)
		ref[k] = ref[k] / (1.0 + exp(-ref[k])) * ref_up[k];
	snprintf(name, sizeof(name), "matmul_swiglu %dx%dx%d [%s]", n, o, in,
			 LlmDTypeName(dtype));
	Compare(name, fused, unfused, ref, count);
	free(gate.data);
	free(up.data);
	free(x);
	free(fused);
	free(unfused);
	free(h2);
	free(ref);
	free(ref_up);
}

/* weights whose shapes do not fit together are refused */
static void
TestBadShapes(void)
{
	LlmTensor	a = RandWeight(LLM_DTYPE_F32, 8, 16);
	LlmTensor	b = RandWeight(LLM_DTYPE_F32, 8, 12);
	LlmTensor	c = RandWeight(LLM_DTYPE_F32, 6, 16);
	float		x[16] = {0};
	float		out[3][8];

	CHECK(ops->matmul_qkv(ctx, out[0], out[1], out[2], x, &a, &b, &a, 1, &err) ==
		  LLM_ERR_ARGUMENT);
	CHECK(ops->matmul_swiglu(ctx, out[0], x, &a, &c, 1, &err) == LLM_ERR_ARGUMENT);
	CHECK(ops->matmul_swiglu(ctx, out[0], x, &a, &b, 1, &err) == LLM_ERR_ARGUMENT);
	free(a.data);
	free(b.data);
	free(c.data);
}

int
main(void)
{
	static const int rows[] = {1, 2, 5, 8, 9, 64};
	static const LlmDType dtypes[] = {LLM_DTYPE_F32, LLM_DTYPE_BF16, LLM_DTYPE_F16};

	ComputeCpuSetThreads(1);
	if (ops->init(&ctx, COMPUTE_PRECISION_F32, &err) != LLM_OK)
	{
		printf("FAIL cpu init: %s\n", err.message);
		return 1;
	}
	CHECK(ops->matmul_add != NULL && ops->matmul_qkv != NULL && ops->matmul_swiglu != NULL);
	for (int d = 0; d < 3; d++)
		for (int r = 0; r < 6; r++)
		{
			TestMatmulAdd(dtypes[d], rows[r], 37, 200);
			TestMatmulAdd(dtypes[d], rows[r], 130, 256);
			TestMatmulQkv(dtypes[d], rows[r], 48, 16, 200);
			TestMatmulQkv(dtypes[d], rows[r], 37, 13, 203);
			TestMatmulSwiglu(dtypes[d], rows[r], 37, 200);
			TestMatmulSwiglu(dtypes[d], rows[r], 96, 64);
		}
	TestBadShapes();
	ops->shutdown(ctx);
	UNIT_DONE("compute_cpu");
}
