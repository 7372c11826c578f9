/*-------------------------------------------------------------------------
 *
 * compute_cpu.c
 *	  The CPU backend of the compute ops table: the reference
 *	  implementation that the CUDA backend is tested against.
 *
 * Plain loops with a shape comment on each op; matrix products with many
 * rows (prefill) go to OpenBLAS.  Weights stay memory-mapped in their file
 * format: a product with few rows (decoding) streams each weight row
 * through a dot product (AVX2 when the processor has it; bf16 and f16
 * converted on the fly), and a product with many rows converts blocks of
 * 16-bit weight rows to f32 and hands each block to sgemm.
 *
 * Device memory is host memory here, so alloc/upload/download are
 * malloc/memcpy and the step layout is used in place.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdlib.h>

#include <cblas.h>
#include <strings.h>

#include "compute/computeops.h"
#include "vector/vecdist.h"

/* weight rows converted to f32 per sgemm call in the many-rows path */
#define CPU_CONVERT_ROWS 64
/* products with at most this many rows use the row-by-row dot kernels */
#define CPU_DOT_MAX_ROWS 4

typedef struct CpuContext
{
	ComputeBatch batch;			/* the current step (caller's arrays) */
	int32_t    *row_seq;		/* (n_rows) sequence of each row */
	int			row_seq_cap;
	float	   *convert;		/* (CPU_CONVERT_ROWS, cols) scratch */
	size_t		convert_cap;
	float	   *fused;			/* (n, rows) product held by the fused ops */
	size_t		fused_cap;
} CpuContext;

/*
 * Set the number of OpenBLAS threads (1 inside PostgreSQL backends)
 */
void
ComputeCpuSetThreads(int n)
{
	openblas_set_num_threads(n > 0 ? n : 1);
}

static bool CpuAvx2(void);

/* OpenBLAS's kernel family */
const char *
ComputeCpuBlasCore(void)
{
	const char *name = openblas_get_corename();

	return name != NULL ? name : "unknown";
}

/* families without AVX2 kernels that OpenBLAS falls back to */
bool
ComputeCpuBlasUnderused(void)
{
	static const char *const old[] = {"Prescott", "Core2", "Penryn", "Dunnington",
	"Nehalem", "Atom", "Sandybridge", "Katmai", "Coppermine", "Northwood", "Banias"};
	const char *core = ComputeCpuBlasCore();

	if (!CpuAvx2())
		return false;
	for (size_t i = 0; i < sizeof(old) / sizeof(old[0]); i++)
		if (strcasecmp(core, old[i]) == 0)
			return true;
	return false;
}

static int
CpuInit(void **ctx, ComputePrecision precision, LlmError *err)
{
	CpuContext *c = LlmAllocZero(sizeof(CpuContext), err);

	if (c == NULL)
		return LLM_ERR_NOMEM;
	*ctx = c;
	return LLM_OK;
}

static void
CpuShutdown(void *ctx)
{
	CpuContext *c = ctx;

	if (c == NULL)
		return;
	free(c->row_seq);
	free(c->convert);
	free(c->fused);
	free(c);
}

static int
CpuAlloc(void *ctx, size_t bytes, void **ptr, LlmError *err)
{
	if (posix_memalign(ptr, 64, bytes > 0 ? bytes : 64) != 0)
	{
		*ptr = NULL;
		return LlmSetError(err, LLM_ERR_NOMEM, "out of memory allocating %zu bytes", bytes);
	}
	return LLM_OK;
}

static void
CpuFree(void *ctx, void *ptr)
{
	free(ptr);
}

static int
CpuCopy(void *ctx, void *dst, const void *src, size_t bytes, LlmError *err)
{
	memcpy(dst, src, bytes);
	return LLM_OK;
}

static int
CpuSync(void *ctx, LlmError *err)
{
	return LLM_OK;
}

/*
 * Matrices are used in place, in their stored dtype; vectors (norms,
 * biases) become owned f32 copies
 */
static int
CpuWeightLoad(void *ctx, LlmTensor *dst, const LlmTensor *src, LlmError *err)
{
	*dst = *src;
	if (src->ndim != 1)
		return LLM_OK;
	dst->dtype = LLM_DTYPE_F32;
	dst->data = LlmAlloc((size_t) src->shape[0] * sizeof(float), err);
	if (dst->data == NULL)
		return LLM_ERR_NOMEM;
	LlmToF32(dst->data, src->data, src->dtype, (size_t) src->shape[0]);
	return LLM_OK;
}

static void
CpuWeightFree(void *ctx, LlmTensor *t)
{
	if (t->ndim == 1)
		free(t->data);
	t->data = NULL;
}

/*
 * Keep the caller's layout for this step and index rows by sequence
 */
static int
CpuBeginStep(void *ctx, const ComputeBatch *batch, LlmError *err)
{
	CpuContext *c = ctx;

	if (batch->n_rows > c->row_seq_cap)
	{
		int32_t    *p = realloc(c->row_seq, (size_t) batch->n_rows * sizeof(int32_t));

		if (p == NULL)
			return LlmSetError(err, LLM_ERR_NOMEM, "out of memory for a step of %d rows", batch->n_rows);
		c->row_seq = p;
		c->row_seq_cap = batch->n_rows;
	}
	for (int s = 0; s < batch->n_seqs; s++)
		for (int r = batch->seq_start[s]; r < batch->seq_start[s + 1]; r++)
			c->row_seq[r] = s;
	c->batch = *batch;
	return LLM_OK;
}

/* dot product of a bf16 row with an f32 vector, portable */
static float
DotBf16(const uint16_t *w, const float *x, int64_t n)
{
	float		sum = 0.0f;

	for (int64_t i = 0; i < n; i++)
		sum += LlmBf16ToF32(w[i]) * x[i];
	return sum;
}

/* dot product of an f16 row with an f32 vector, portable */
static float
DotF16(const uint16_t *w, const float *x, int64_t n)
{
	float		sum = 0.0f;

	for (int64_t i = 0; i < n; i++)
		sum += VecHalfToFloat(w[i]) * x[i];
	return sum;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#define CPU_HAVE_AVX2_PATH 1

/*
 * Whether the CPU has AVX2, FMA and F16C; cpuid directly, since not every
 * compiler's __builtin_cpu_supports knows "f16c"
 */
static bool
CpuHasAvx2F16c(void)
{
	unsigned int eax,
				ebx,
				ecx,
				edx;
	bool		fma_f16c;

	if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx))
		return false;
	/* FMA (bit 12), OSXSAVE (27), AVX (28), F16C (29) */
	fma_f16c = (ecx & (1u << 12)) && (ecx & (1u << 27)) && (ecx & (1u << 28)) &&
		(ecx & (1u << 29));
	if (!fma_f16c)
		return false;
	/* the OS saves YMM state */
	{
		unsigned int lo,
					hi;

		__asm__ volatile ("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
		if ((lo & 6) != 6)
			return false;
	}
	/* AVX2: leaf 7, EBX bit 5 */
	if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx))
		return false;
	return (ebx & (1u << 5)) != 0;
}

/* horizontal sum of 8 floats */
__attribute__((target("avx2,fma")))
static inline float
HsumAvx2(__m256 v)
{
	__m128		lo = _mm256_castps256_ps128(v);
	__m128		hi = _mm256_extractf128_ps(v, 1);

	lo = _mm_add_ps(lo, hi);
	lo = _mm_hadd_ps(lo, lo);
	lo = _mm_hadd_ps(lo, lo);
	return _mm_cvtss_f32(lo);
}

/*
 * bf16 row . f32 vector with AVX2: widen 8 bf16 by shifting into f32.
 * Four accumulators and a prefetch 4 KB ahead (the best of 0.5-8 KB on the
 * development machine: 38 -> 61 tok/s for a 110M model) keep enough loads
 * in flight for one core to stream the weights near its bandwidth; a
 * prefetch past the end of the tensor is harmless.
 */
__attribute__((target("avx2,fma")))
static float
DotBf16Avx2(const uint16_t *w, const float *x, int64_t n)
{
	__m256		acc0 = _mm256_setzero_ps();
	__m256		acc1 = _mm256_setzero_ps();
	__m256		acc2 = _mm256_setzero_ps();
	__m256		acc3 = _mm256_setzero_ps();
	int64_t		i = 0;
	float		sum;

	for (; i + 32 <= n; i += 32)
	{
		__m256i		a = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *) (w + i)));
		__m256i		b = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *) (w + i + 8)));
		__m256i		c = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *) (w + i + 16)));
		__m256i		d = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *) (w + i + 24)));

		_mm_prefetch((const char *) (w + i + 2048), _MM_HINT_T0);
		acc0 = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_slli_epi32(a, 16)),
							   _mm256_loadu_ps(x + i), acc0);
		acc1 = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_slli_epi32(b, 16)),
							   _mm256_loadu_ps(x + i + 8), acc1);
		acc2 = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_slli_epi32(c, 16)),
							   _mm256_loadu_ps(x + i + 16), acc2);
		acc3 = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_slli_epi32(d, 16)),
							   _mm256_loadu_ps(x + i + 24), acc3);
	}
	for (; i + 8 <= n; i += 8)
	{
		__m256i		a = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *) (w + i)));

		acc0 = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_slli_epi32(a, 16)),
							   _mm256_loadu_ps(x + i), acc0);
	}
	sum = HsumAvx2(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
	for (; i < n; i++)
		sum += LlmBf16ToF32(w[i]) * x[i];
	return sum;
}

/* f16 row . f32 vector with F16C */
__attribute__((target("avx2,fma,f16c")))
static float
DotF16Avx2(const uint16_t *w, const float *x, int64_t n)
{
	__m256		acc = _mm256_setzero_ps();
	int64_t		i = 0;
	float		sum;

	for (; i + 8 <= n; i += 8)
		acc = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) (w + i))),
							  _mm256_loadu_ps(x + i), acc);
	sum = HsumAvx2(acc);
	for (; i < n; i++)
		sum += VecHalfToFloat(w[i]) * x[i];
	return sum;
}
/* f32 row . f32 vector with AVX2: four accumulators, prefetch 4 KB ahead */
__attribute__((target("avx2,fma")))
static float
DotF32Avx2(const float *w, const float *x, int64_t n)
{
	__m256		acc0 = _mm256_setzero_ps();
	__m256		acc1 = _mm256_setzero_ps();
	__m256		acc2 = _mm256_setzero_ps();
	__m256		acc3 = _mm256_setzero_ps();
	int64_t		i = 0;
	float		sum;

	for (; i + 32 <= n; i += 32)
	{
		_mm_prefetch((const char *) (w + i + 1024), _MM_HINT_T0);
		acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), acc0);
		acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 8), _mm256_loadu_ps(x + i + 8), acc1);
		acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 16), _mm256_loadu_ps(x + i + 16), acc2);
		acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 24), _mm256_loadu_ps(x + i + 24), acc3);
	}
	for (; i + 8 <= n; i += 8)
		acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), acc0);
	sum = HsumAvx2(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
	for (; i < n; i++)
		sum += w[i] * x[i];
	return sum;
}
#endif

/* whether the AVX2 kernels can run here (probed once; never reset) */
static bool
CpuAvx2(void)
{
#ifdef CPU_HAVE_AVX2_PATH
	static int	have = -1;

	if (have < 0)
		have = CpuHasAvx2F16c();
	return have != 0;
#else
	return false;
#endif
}

typedef float (*DotFunc) (const uint16_t *w, const float *x, int64_t n);

/* the best dot kernel for a 16-bit weight dtype on this processor */
static DotFunc
SelectDot(LlmDType dtype)
{
#ifdef CPU_HAVE_AVX2_PATH
	if (CpuAvx2())
		return dtype == LLM_DTYPE_BF16 ? DotBf16Avx2 : DotF16Avx2;
#endif
	return dtype == LLM_DTYPE_BF16 ? DotBf16 : DotF16;
}

/*
 * out(n, o) (+)= x(n, i) . w(o, i)^T for a 16-bit w, one dot product per
 * output
 */
static void
DotRows(float *out, const float *x, const LlmTensor *w, int n, bool accumulate)
{
	DotFunc		dot = SelectDot(w->dtype);
	const uint16_t *wd = w->data;
	int64_t		o = w->shape[0];
	int64_t		in = w->shape[1];

	for (int64_t j = 0; j < o; j++)
		for (int r = 0; r < n; r++)
		{
			float		d = dot(wd + j * in, x + (int64_t) r * in, in);
			float	   *dst = out + (int64_t) r * o + j;

			*dst = accumulate ? *dst + d : d;
		}
}

/*
 * out(n, o) = x(n, i) . w(o, i)^T
 */
static int
CpuMatmul(void *ctx, float *out, const float *x, const LlmTensor *w, int n,
		   LlmError *err)
{
	CpuContext *c = ctx;
	int64_t		o = w->shape[0];
	int64_t		in = w->shape[1];

	if (w->ndim != 2)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "matmul needs a 2-D weight");
	if (n <= 0)
		return LLM_OK;
	if (w->dtype == LLM_DTYPE_F32)
	{
#ifdef CPU_HAVE_AVX2_PATH
		/* decode rows: one streaming dot product per output beats sgemv */
		if (n <= CPU_DOT_MAX_ROWS && CpuAvx2())
		{
			const float *wd = w->data;

			for (int64_t j = 0; j < o; j++)
				for (int r = 0; r < n; r++)
					out[(int64_t) r * o + j] = DotF32Avx2(wd + j * in, x + (int64_t) r * in, in);
			return LLM_OK;
		}
#endif
		if (n == 1)
			cblas_sgemv(CblasRowMajor, CblasNoTrans, (int) o, (int) in, 1.0f,
						w->data, (int) in, x, 1, 0.0f, out, 1);
		else
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, (int) o, (int) in,
						1.0f, x, (int) in, w->data, (int) in, 0.0f, out, (int) o);
		return LLM_OK;
	}
	if (n <= CPU_DOT_MAX_ROWS)
	{
		DotRows(out, x, w, n, false);
		return LLM_OK;
	}

	/* many rows: convert CPU_CONVERT_ROWS weight rows at a time, then sgemm */
	if (c->convert_cap < (size_t) (CPU_CONVERT_ROWS * in))
	{
		float	   *p = realloc(c->convert, (size_t) (CPU_CONVERT_ROWS * in) * sizeof(float));

		if (p == NULL)
			return LlmSetError(err, LLM_ERR_NOMEM, "out of memory for weight conversion");
		c->convert = p;
		c->convert_cap = (size_t) (CPU_CONVERT_ROWS * in);
	}
	for (int64_t j0 = 0; j0 < o; j0 += CPU_CONVERT_ROWS)
	{
		int64_t		rows = o - j0 < CPU_CONVERT_ROWS ? o - j0 : CPU_CONVERT_ROWS;

		LlmToF32(c->convert, (const uint16_t *) w->data + j0 * in, w->dtype,
				 (size_t) (rows * in));
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, (int) rows, (int) in,
					1.0f, x, (int) in, c->convert, (int) in, 0.0f, out + j0, (int) o);
	}
	return LLM_OK;
}

/*
 * Make the fused ops' scratch hold count floats
 */
static int
ReserveFused(CpuContext *c, size_t count, LlmError *err)
{
	float	   *p;

	if (count <= c->fused_cap)
		return LLM_OK;
	p = realloc(c->fused, count * sizeof(float));
	if (p == NULL)
		return LlmSetError(err, LLM_ERR_NOMEM, "out of memory for a product of %zu values",
						   count);
	c->fused = p;
	c->fused_cap = count;
	return LLM_OK;
}

/*
 * out(n, o) += x(n, i) . w(o, i)^T: the product, then the sum, as matmul
 * and add would do them
 */
static int
CpuMatmulAdd(void *ctx, float *out, const float *x, const LlmTensor *w, int n,
			 LlmError *err)
{
	CpuContext *c = ctx;
	size_t		count;
	int			rc;

	if (w->ndim != 2)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "matmul_add needs a 2-D weight");
	if (n <= 0)
		return LLM_OK;
	if (w->dtype != LLM_DTYPE_F32 && n <= CPU_DOT_MAX_ROWS)
	{
		DotRows(out, x, w, n, true);
		return LLM_OK;
	}
	count = (size_t) n * (size_t) w->shape[0];
	rc = ReserveFused(c, count, err);
	if (rc == LLM_OK)
		rc = CpuMatmul(ctx, c->fused, x, w, n, err);
	if (rc != LLM_OK)
		return rc;
	for (size_t i = 0; i < count; i++)
		out[i] += c->fused[i];
	return LLM_OK;
}

/*
 * q(n, oq), k(n, ok), v(n, ov) = x(n, i) . wq^T, wk^T, wv^T
 */
static int
CpuMatmulQkv(void *ctx, float *q, float *k, float *v, const float *x,
			 const LlmTensor *wq, const LlmTensor *wk, const LlmTensor *wv, int n,
			 LlmError *err)
{
	int			rc;

	if (wq->ndim != 2 || wk->ndim != 2 || wv->ndim != 2 ||
		wk->shape[1] != wq->shape[1] || wv->shape[1] != wq->shape[1])
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "matmul_qkv needs three 2-D weights with the same columns");
	rc = CpuMatmul(ctx, q, x, wq, n, err);
	if (rc == LLM_OK)
		rc = CpuMatmul(ctx, k, x, wk, n, err);
	if (rc == LLM_OK)
		rc = CpuMatmul(ctx, v, x, wv, n, err);
	return rc;
}

/*
 * out(n, o) = silu(x . w_gate^T) * (x . w_up^T): the up product in the
 * scratch, then silu_mul
 */
static int
CpuMatmulSwiglu(void *ctx, float *out, const float *x, const LlmTensor *w_gate,
				const LlmTensor *w_up, int n, LlmError *err)
{
	CpuContext *c = ctx;
	size_t		count;
	int			rc;

	if (w_gate->ndim != 2 || w_up->ndim != 2 || w_up->shape[0] != w_gate->shape[0] ||
		w_up->shape[1] != w_gate->shape[1])
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "matmul_swiglu needs two 2-D weights of the same shape");
	if (n <= 0)
		return LLM_OK;
	count = (size_t) n * (size_t) w_gate->shape[0];
	rc = ReserveFused(c, count, err);
	if (rc == LLM_OK)
		rc = CpuMatmul(ctx, out, x, w_gate, n, err);
	if (rc == LLM_OK)
		rc = CpuMatmul(ctx, c->fused, x, w_up, n, err);
	if (rc != LLM_OK)
		return rc;
	for (size_t i = 0; i < count; i++)
		out[i] = out[i] / (1.0f + expf(-out[i])) * c->fused[i];
	return LLM_OK;
}

/*
 * x(n, dim) += bias(dim)
 */
static int
CpuAddBias(void *ctx, float *x, const LlmTensor *bias, int n, LlmError *err)
{
	int64_t		dim = bias->shape[0];
	const float *b = bias->data;

	for (int r = 0; r < n; r++)
		for (int64_t i = 0; i < dim; i++)
			x[r * dim + i] += b[i];
	return LLM_OK;
}

/*
 * x(count) += y(count)
 */
static int
CpuAdd(void *ctx, float *x, const float *y, size_t count, LlmError *err)
{
	for (size_t i = 0; i < count; i++)
		x[i] += y[i];
	return LLM_OK;
}

/*
 * out(n, dim) = x / sqrt(mean(x^2) + eps) * w
 */
static int
CpuRmsnorm(void *ctx, float *out, const float *x, const LlmTensor *w, int n,
			float eps, LlmError *err)
{
	int64_t		dim = w->shape[0];
	const float *wd = w->data;

	for (int r = 0; r < n; r++)
	{
		const float *xr = x + r * dim;
		float	   *or = out + r * dim;
		double		ss = 0.0;
		float		scale;

		for (int64_t i = 0; i < dim; i++)
			ss += (double) xr[i] * xr[i];
		scale = (float) (1.0 / sqrt(ss / dim + eps));
		for (int64_t i = 0; i < dim; i++)
			or[i] = xr[i] * scale * wd[i];
	}
	return LLM_OK;
}

/*
 * out(n, dim) = (x - mean) / sqrt(var + eps) * w + b
 */
static int
CpuLayernorm(void *ctx, float *out, const float *x, const LlmTensor *w,
			  const LlmTensor *b, int n, float eps, LlmError *err)
{
	int64_t		dim = w->shape[0];
	const float *wd = w->data;
	const float *bd = b->data;

	for (int r = 0; r < n; r++)
	{
		const float *xr = x + r * dim;
		float	   *or = out + r * dim;
		double		mean = 0.0;
		double		var = 0.0;
		float		scale;

		for (int64_t i = 0; i < dim; i++)
			mean += xr[i];
		mean /= dim;
		for (int64_t i = 0; i < dim; i++)
			var += (xr[i] - mean) * (xr[i] - mean);
		scale = (float) (1.0 / sqrt(var / dim + eps));
		for (int64_t i = 0; i < dim; i++)
			or[i] = (float) (xr[i] - mean) * scale * wd[i] + bd[i];
	}
	return LLM_OK;
}

/* rotate the pairs (i, i + half) of one head by position * inv_freq[i] */
static void
RopeHead(float *v, int head_dim, int32_t pos, const float *inv_freq)
{
	int			half = head_dim / 2;

	for (int i = 0; i < half; i++)
	{
		float		angle = (float) pos * inv_freq[i];
		float		cs = cosf(angle);
		float		sn = sinf(angle);
		float		a = v[i];
		float		b = v[i + half];

		v[i] = a * cs - b * sn;
		v[i + half] = b * cs + a * sn;
	}
}

/*
 * q(n_rows, n_heads, head_dim), k(n_rows, n_kv_heads, head_dim) rotated in
 * place at the batch's positions
 */
static int
CpuRope(void *ctx, float *q, float *k, int n_heads, int n_kv_heads,
		 int head_dim, const float *inv_freq, LlmError *err)
{
	CpuContext *c = ctx;

	for (int r = 0; r < c->batch.n_rows; r++)
	{
		int32_t		pos = c->batch.positions[r];

		for (int h = 0; h < n_heads; h++)
			RopeHead(q + ((int64_t) r * n_heads + h) * head_dim, head_dim, pos, inv_freq);
		for (int h = 0; h < n_kv_heads; h++)
			RopeHead(k + ((int64_t) r * n_kv_heads + h) * head_dim, head_dim, pos, inv_freq);
	}
	return LLM_OK;
}

/* offset of (layer, position of sequence s) in the cache buffers */
static inline int64_t
KvOffset(const ComputeKvCache *cache, const ComputeBatch *b, int layer, int s,
		  int32_t pos)
{
	int32_t		block = b->block_table[(int64_t) s * b->max_blocks + pos / COMPUTE_KV_BLOCK];
	int64_t		slot = (int64_t) block * COMPUTE_KV_BLOCK + pos % COMPUTE_KV_BLOCK;
	int64_t		row = (int64_t) cache->n_kv_heads * cache->head_dim;

	return ((int64_t) layer * cache->n_blocks * COMPUTE_KV_BLOCK + slot) * row;
}

/*
 * Store k, v (n_rows, n_kv_heads, head_dim) at each row's cache slot
 */
static int
CpuKvStore(void *ctx, ComputeKvCache *cache, int layer, const float *k,
			 const float *v, LlmError *err)
{
	CpuContext *c = ctx;
	int64_t		row = (int64_t) cache->n_kv_heads * cache->head_dim;

	for (int r = 0; r < c->batch.n_rows; r++)
	{
		int64_t		off = KvOffset(cache, &c->batch, layer, c->row_seq[r],
									c->batch.positions[r]);

		memcpy(cache->k + off, k + r * row, row * sizeof(float));
		memcpy(cache->v + off, v + r * row, row * sizeof(float));
	}
	return LLM_OK;
}

/*
 * out(n_rows, n_heads, head_dim): softmax(q k^T * scale) v over each row's
 * visible cache positions
 */
static int
CpuAttention(void *ctx, float *out, const float *q, const ComputeKvCache *cache,
			  int layer, int n_heads, bool causal, int sliding_window, float scale,
			  LlmError *err)
{
	CpuContext *c = ctx;
	const ComputeBatch *b = &c->batch;
	int			hd = cache->head_dim;
	int			group = n_heads / cache->n_kv_heads;
	int			max_len = 0;
	float	   *scores;

	for (int s = 0; s < b->n_seqs; s++)
		if (b->seq_len[s] > max_len)
			max_len = b->seq_len[s];
	scores = LlmAlloc((size_t) (max_len > 0 ? max_len : 1) * sizeof(float), err);
	if (scores == NULL)
		return LLM_ERR_NOMEM;

	for (int r = 0; r < b->n_rows; r++)
	{
		int			s = c->row_seq[r];
		int32_t		pos = b->positions[r];
		int32_t		first = 0;
		int32_t		last = causal ? pos : b->seq_len[s] - 1;

		if (causal && sliding_window > 0 && pos - sliding_window + 1 > 0)
			first = pos - sliding_window + 1;
		for (int h = 0; h < n_heads; h++)
		{
			const float *qh = q + ((int64_t) r * n_heads + h) * hd;
			float	   *oh = out + ((int64_t) r * n_heads + h) * hd;
			int64_t		head_off = (int64_t) (h / group) * hd;
			float		maxv = -INFINITY;
			double		denom = 0.0;

			for (int32_t j = first; j <= last; j++)
			{
				const float *kj = cache->k + KvOffset(cache, b, layer, s, j) + head_off;
				float		dot = 0.0f;

				for (int i = 0; i < hd; i++)
					dot += qh[i] * kj[i];
				scores[j] = dot * scale;
				if (scores[j] > maxv)
					maxv = scores[j];
			}
			for (int i = 0; i < hd; i++)
				oh[i] = 0.0f;
			for (int32_t j = first; j <= last; j++)
			{
				const float *vj = cache->v + KvOffset(cache, b, layer, s, j) + head_off;
				float		p = expf(scores[j] - maxv);

				denom += p;
				for (int i = 0; i < hd; i++)
					oh[i] += p * vj[i];
			}
			for (int i = 0; i < hd; i++)
				oh[i] = (float) (oh[i] / denom);
		}
	}
	free(scores);
	return LLM_OK;
}

/*
 * gate(count) = silu(gate) * up
 */
static int
CpuSiluMul(void *ctx, float *gate, const float *up, size_t count, LlmError *err)
{
	for (size_t i = 0; i < count; i++)
		gate[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
	return LLM_OK;
}

/*
 * x(count) = gelu(x)
 */
static int
CpuGelu(void *ctx, float *x, size_t count, bool tanh_approx, LlmError *err)
{
	for (size_t i = 0; i < count; i++)
	{
		float		v = x[i];

		if (tanh_approx)
			x[i] = 0.5f * v * (1.0f + tanhf(0.7978845608f * (v + 0.044715f * v * v * v)));
		else
			x[i] = 0.5f * v * (1.0f + erff(v * 0.70710678118f));
	}
	return LLM_OK;
}

/*
 * out(n_rows, dim) (+)= table[index of row]
 */
static int
CpuEmbed(void *ctx, float *out, const LlmTensor *table, ComputeIndex index,
		  bool accumulate, LlmError *err)
{
	CpuContext *c = ctx;
	int64_t		dim = table->shape[1];
	size_t		esize = LlmDTypeSize(table->dtype);
	float	   *tmp = NULL;

	if (accumulate)
	{
		tmp = LlmAlloc((size_t) dim * sizeof(float), err);
		if (tmp == NULL)
			return LLM_ERR_NOMEM;
	}
	for (int r = 0; r < c->batch.n_rows; r++)
	{
		int64_t		id = index == COMPUTE_INDEX_TOKENS ? c->batch.tokens[r] :
			index == COMPUTE_INDEX_POSITIONS ? c->batch.positions[r] : 0;
		const char *src;

		if (id < 0 || id >= table->shape[0])
		{
			free(tmp);
			return LlmSetError(err, LLM_ERR_ARGUMENT, "index %lld outside the table of %lld rows",
							   (long long) id, (long long) table->shape[0]);
		}
		src = (const char *) table->data + id * dim * esize;
		if (!accumulate)
			LlmToF32(out + r * dim, src, table->dtype, (size_t) dim);
		else
		{
			LlmToF32(tmp, src, table->dtype, (size_t) dim);
			for (int64_t i = 0; i < dim; i++)
				out[r * dim + i] += tmp[i];
		}
	}
	free(tmp);
	return LLM_OK;
}

/*
 * out(n_out, dim) = x[out_rows]
 */
static int
CpuGatherRows(void *ctx, float *out, const float *x, int dim, LlmError *err)
{
	CpuContext *c = ctx;

	for (int i = 0; i < c->batch.n_out; i++)
		memmove(out + (int64_t) i * dim, x + (int64_t) c->batch.out_rows[i] * dim,
				dim * sizeof(float));
	return LLM_OK;
}

/*
 * out(n_seqs, dim): mean of each sequence's rows, or its first row
 */
static int
CpuPool(void *ctx, float *out, const float *x, int dim, bool mean, LlmError *err)
{
	CpuContext *c = ctx;

	for (int s = 0; s < c->batch.n_seqs; s++)
	{
		int			r0 = c->batch.seq_start[s];
		int			r1 = mean ? c->batch.seq_start[s + 1] : r0 + 1;

		for (int i = 0; i < dim; i++)
		{
			double		sum = 0.0;

			for (int r = r0; r < r1; r++)
				sum += x[(int64_t) r * dim + i];
			out[(int64_t) s * dim + i] = (float) (sum / (r1 - r0));
		}
	}
	return LLM_OK;
}

/*
 * x(n, dim) /= max(||x||, 1e-12) per row
 */
static int
CpuL2norm(void *ctx, float *x, int n, int dim, LlmError *err)
{
	for (int r = 0; r < n; r++)
	{
		float	   *xr = x + (int64_t) r * dim;
		double		ss = 0.0;
		double		norm;

		for (int i = 0; i < dim; i++)
			ss += (double) xr[i] * xr[i];
		norm = sqrt(ss);
		if (norm < 1e-12)
			norm = 1e-12;
		for (int i = 0; i < dim; i++)
			xr[i] = (float) (xr[i] / norm);
	}
	return LLM_OK;
}

/*
 * ids(n) = argmax of each logits row (vocab); ties go to the lowest id
 */
static int
CpuArgmax(void *ctx, int32_t *ids, const float *logits, int n, int vocab,
		   LlmError *err)
{
	for (int r = 0; r < n; r++)
	{
		const float *row = logits + (int64_t) r * vocab;
		int32_t		best = 0;

		for (int i = 1; i < vocab; i++)
			if (row[i] > row[best])
				best = i;
		ids[r] = best;
	}
	return LLM_OK;
}

const ComputeOps ComputeCpuOps = {
	.name = "cpu",
	.init = CpuInit,
	.shutdown = CpuShutdown,
	.alloc = CpuAlloc,
	.free = CpuFree,
	.upload = CpuCopy,
	.download = CpuCopy,
	.sync = CpuSync,
	.weight_load = CpuWeightLoad,
	.weight_free = CpuWeightFree,
	.begin_step = CpuBeginStep,
	.matmul = CpuMatmul,
	.add_bias = CpuAddBias,
	.add = CpuAdd,
	.rmsnorm = CpuRmsnorm,
	.layernorm = CpuLayernorm,
	.rope = CpuRope,
	.kv_store = CpuKvStore,
	.attention = CpuAttention,
	.silu_mul = CpuSiluMul,
	.gelu = CpuGelu,
	.embed = CpuEmbed,
	.gather_rows = CpuGatherRows,
	.pool = CpuPool,
	.l2norm = CpuL2norm,
	.argmax = CpuArgmax,
	.matmul_add = CpuMatmulAdd,
	.matmul_qkv = CpuMatmulQkv,
	.matmul_swiglu = CpuMatmulSwiglu,
};
