// gemv.cu
//	  Matrix products of a few activation rows (decode) with a weight
//	  matrix, reading the weights once, straight from memory.
//
// out(n, o) = x(n, i) . w(o, i)^T for n <= KERNELS_GEMV_MAX_ROWS.  At such
// sizes a product is bound by reading w, so one kernel does it all: no
// conversion of x to bf16, no GEMM tiles sized for large n.  Each block of
// GEMV_THREADS threads owns R consecutive rows of w (2 or 4) for all n
// rows of x: its threads stride over the columns in 16-byte vectors of w
// (8 bf16 or 4 f32 values), two vectors per row in flight per step, and
// multiply them with x kept in f32 (read through L1, where the n rows of
// x stay while the weights stream past).  Sums are f32; the block adds
// its threads' partial sums through shared memory and writes R x n
// results.  Rows past o reread the last row and write nothing; columns
// past the last whole vector (or all columns, when w or x is not 16-byte
// aligned or i is not a multiple of the vector) take a scalar loop.
//
// The same kernel fuses what the decoder does around its products: it
// adds to out instead of storing (the residual after o_proj and
// down_proj); it runs up to three products of one x in one launch, the
// block index picking the matrix and its output (q, k and v); and in
// swiglu form a block owns R / 2 outputs, reading those rows of both the
// gate and the up matrix, and writes silu(gate) * up.  Every output is
// summed in the same order as by the plain product (when all the weights
// are 16-byte aligned, as device allocations are), so the fused forms
// give exactly what the plain products followed by the separate add or
// silu_mul kernel give.
#include <limits.h>

#include "common.cuh"

// small blocks: a product of a few thousand rows runs in one wave of blocks
#define GEMV_THREADS 128
#define GEMV_WARPS (GEMV_THREADS / 32)

// 16 bytes of weights, read once: not kept in L1, no ordering constraint
static __device__ __forceinline__ int4
gemv_load(const int4 *p)
{
	int4		v;

	asm("ld.global.nc.L1::no_allocate.v4.s32 {%0, %1, %2, %3}, [%4];"
		: "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
		: "l"(p));
	return v;
}

// a += w . xv over one 16-byte vector of weights: 8 bf16 or 4 f32
template <bool BF16>
static __device__ __forceinline__ void
gemv_dot(float &a, const int4 &w, const float *xv)
{
	const unsigned int u[4] = {(unsigned int) w.x, (unsigned int) w.y,
							   (unsigned int) w.z, (unsigned int) w.w};

	if (BF16)
	{
		// element 2k is the low half of word k (little-endian)
#pragma unroll
		for (int k = 0; k < 4; k++)
		{
			a = fmaf(__uint_as_float(u[k] << 16), xv[2 * k], a);
			a = fmaf(__uint_as_float(u[k] & 0xffff0000u), xv[2 * k + 1], a);
		}
	}
	else
	{
#pragma unroll
		for (int k = 0; k < 4; k++)
			a = fmaf(__uint_as_float(u[k]), xv[k], a);
	}
}

// acc[r][j] += w row r . x row j over vector c of the columns
template <bool BF16, int N, int R>
static __device__ __forceinline__ void
gemv_chunk(float (&acc)[R][N], const int4 (&wv)[R], const float *__restrict__ x, int i, int c)
{
	constexpr int VEC = BF16 ? 8 : 4;

#pragma unroll
	for (int j = 0; j < N; j++)
	{
		const float4 *xp = reinterpret_cast<const float4 *>(x + (size_t) j * i +
															  (size_t) c * VEC);
		float		xv[VEC];

#pragma unroll
		for (int q = 0; q < VEC / 4; q++)
		{
			float4		t = xp[q];

			xv[4 * q] = t.x;
			xv[4 * q + 1] = t.y;
			xv[4 * q + 2] = t.z;
			xv[4 * q + 3] = t.w;
		}
#pragma unroll
		for (int r = 0; r < R; r++)
			gemv_dot<BF16>(acc[r][j], wv[r], xv);
	}
}

// Weight e of a row, as f32
template <bool BF16>
static __device__ __forceinline__ float
gemv_scalar(const char *row, int e)
{
	if (BF16)
		return __uint_as_float((unsigned int) ((const unsigned short *) row)[e] << 16);
	return ((const float *) row)[e];
}

// Products of one launch
#define GEMV_MAX_PARTS 3

// One product of a launch: blocks from the previous part's end up to end
// own its rows
struct GemvPart
{
	float	   *out;			// (N, o)
	const char *w;				// (o, i); in swiglu form the gate matrix
	const char *w_up;			// (o, i) the up matrix of the swiglu form
	int			o;
	int			end;			// blocks of this part and of those before it
};

// The products of a launch; unused entries repeat the first and end with
// the last used one
struct GemvParts
{
	GemvPart	p[GEMV_MAX_PARTS];
};

// Each part's out(N, o) = (or +=) x(N, i) . w(o, i)^T; with SWIGLU,
// out(N, o) = silu(x . w^T) * (x . w_up^T).  The block's part owns rows
// (b - start of the part) * OUTS .. + OUTS - 1 of its outputs, reading R
// rows of w (of w and w_up when SWIGLU); the first nvec vectors of each
// row are read 16 bytes at a time
template <bool BF16, int N, int R, bool SWIGLU>
static __global__ void __launch_bounds__(GEMV_THREADS)
gemv_kernel(GemvParts parts, const float *__restrict__ x, int i, int nvec, int accumulate)
{
	constexpr int VEC = BF16 ? 8 : 4;
	constexpr size_t WSIZE = BF16 ? 2 : 4;
	constexpr int OUTS = SWIGLU ? R / 2 : R;
	__shared__ float partial[GEMV_WARPS][R * N];
	GemvPart	part = parts.p[0];
	int			first = 0;
	int			row0;
	const int	lane = threadIdx.x & 31;
	const int	warp = threadIdx.x >> 5;
	const char *wrow[R];
	float		acc[R][N];
	int			c = threadIdx.x;

#pragma unroll
	for (int k = 1; k < GEMV_MAX_PARTS; k++)
	{
		if ((int) blockIdx.x >= parts.p[k - 1].end)
		{
			first = parts.p[k - 1].end;
			part = parts.p[k];
		}
	}
	row0 = ((int) blockIdx.x - first) * OUTS;

#pragma unroll
	for (int r = 0; r < R; r++)
	{
		const char *base = (SWIGLU && r >= OUTS) ? part.w_up : part.w;

		wrow[r] = base + (size_t) min(row0 + r % OUTS, part.o - 1) * (size_t) i * WSIZE;
#pragma unroll
		for (int j = 0; j < N; j++)
			acc[r][j] = 0.0f;
	}

	// two vectors per row in flight, then the odd one out
	for (; c + GEMV_THREADS < nvec; c += 2 * GEMV_THREADS)
	{
		int4		wa[R];
		int4		wb[R];

#pragma unroll
		for (int r = 0; r < R; r++)
		{
			wa[r] = gemv_load(reinterpret_cast<const int4 *>(wrow[r]) + c);
			wb[r] = gemv_load(reinterpret_cast<const int4 *>(wrow[r]) + c + GEMV_THREADS);
		}
		gemv_chunk<BF16, N, R>(acc, wa, x, i, c);
		gemv_chunk<BF16, N, R>(acc, wb, x, i, c + GEMV_THREADS);
	}
	if (c < nvec)
	{
		int4		wa[R];

#pragma unroll
		for (int r = 0; r < R; r++)
			wa[r] = gemv_load(reinterpret_cast<const int4 *>(wrow[r]) + c);
		gemv_chunk<BF16, N, R>(acc, wa, x, i, c);
	}

	// columns after the last whole vector
	for (int e = nvec * VEC + threadIdx.x; e < i; e += GEMV_THREADS)
	{
		float		wf[R];

#pragma unroll
		for (int r = 0; r < R; r++)
			wf[r] = gemv_scalar<BF16>(wrow[r], e);
#pragma unroll
		for (int j = 0; j < N; j++)
		{
			float		xe = x[(size_t) j * i + e];

#pragma unroll
			for (int r = 0; r < R; r++)
				acc[r][j] = fmaf(wf[r], xe, acc[r][j]);
		}
	}

	// block sum of every (row, x row) pair
#pragma unroll
	for (int r = 0; r < R; r++)
	{
#pragma unroll
		for (int j = 0; j < N; j++)
		{
			float		v = kernels_warp_sum(acc[r][j]);

			if (lane == 0)
				partial[warp][r * N + j] = v;
		}
	}
	__syncthreads();
	if (threadIdx.x < OUTS * N)
	{
		int			r = threadIdx.x / N;
		int			j = threadIdx.x % N;
		float		s = 0.0f;

#pragma unroll
		for (int k = 0; k < GEMV_WARPS; k++)
			s += partial[k][threadIdx.x];
		if (row0 + r < part.o)
		{
			float	   *dst = part.out + (size_t) j * part.o + row0 + r;

			if (SWIGLU)
			{
				float		u = 0.0f;

				// the up row of output r is row r + OUTS of the block
#pragma unroll
				for (int k = 0; k < GEMV_WARPS; k++)
					u += partial[k][OUTS * N + threadIdx.x];
				*dst = s / (1.0f + expf(-s)) * u;
			}
			else
				*dst = accumulate ? *dst + s : s;
		}
	}
}

// Launch gemv_kernel for N rows of x
template <bool BF16, int N, int R, bool SWIGLU>
static int
gemv_launch(const GemvParts &parts, const float *x, int i, int nvec, int accumulate,
			cudaStream_t stream)
{
	unsigned int blocks = (unsigned int) parts.p[GEMV_MAX_PARTS - 1].end;

	gemv_kernel<BF16, N, R, SWIGLU><<<blocks, GEMV_THREADS, 0, stream>>>(parts, x, i, nvec,
																		  accumulate);
	KERNELS_CHECK(cudaGetLastError());
	return KERNELS_OK;
}

// Give count parts their blocks (R rows of w each) and launch the
// instance for n (1 .. KERNELS_GEMV_MAX_ROWS) rows of x
template <bool BF16, int R, bool SWIGLU>
static int
gemv_run(GemvParts parts, int count, const float *x, int n, int i, int nvec, int accumulate,
		 cudaStream_t stream)
{
	constexpr int OUTS = SWIGLU ? R / 2 : R;
	size_t		blocks = 0;

	for (int k = 0; k < GEMV_MAX_PARTS; k++)
	{
		if (k < count)
			blocks += ((size_t) parts.p[k].o + OUTS - 1) / OUTS;
		else
			parts.p[k] = parts.p[0];
		parts.p[k].end = (int) (blocks < (size_t) INT_MAX ? blocks : (size_t) INT_MAX);
	}
	if (blocks >= (size_t) INT_MAX)
	{
		kernels_set_message("invalid argument: gemv of too many rows");
		return KERNELS_ERR_ARGUMENT;
	}
	switch (n)
	{
		case 1:
			return gemv_launch<BF16, 1, R, SWIGLU>(parts, x, i, nvec, accumulate, stream);
		case 2:
			return gemv_launch<BF16, 2, R, SWIGLU>(parts, x, i, nvec, accumulate, stream);
		case 3:
			return gemv_launch<BF16, 3, R, SWIGLU>(parts, x, i, nvec, accumulate, stream);
		case 4:
			return gemv_launch<BF16, 4, R, SWIGLU>(parts, x, i, nvec, accumulate, stream);
		case 5:
			return gemv_launch<BF16, 5, R, SWIGLU>(parts, x, i, nvec, accumulate, stream);
		case 6:
			return gemv_launch<BF16, 6, R, SWIGLU>(parts, x, i, nvec, accumulate, stream);
		case 7:
			return gemv_launch<BF16, 7, R, SWIGLU>(parts, x, i, nvec, accumulate, stream);
		case 8:
			return gemv_launch<BF16, 8, R, SWIGLU>(parts, x, i, nvec, accumulate, stream);
	}
	kernels_set_message("invalid argument: gemv rows");
	return KERNELS_ERR_ARGUMENT;
}

// Run count products of x in one launch (swiglu: one part, gate and up):
// 4 rows of w per block when that still gives every SM 8 blocks, else 2
template <bool SWIGLU>
static int
gemv_parts(KernelsContext *ctx, const GemvParts &parts, int count, const float *x, int w_bf16,
		   int n, int i, int accumulate)
{
	int			vec = w_bf16 ? 8 : 4;
	int			aligned = ((uintptr_t) x & 15) == 0;
	int			nvec = 0;
	size_t		rows = 0;
	size_t		per_sm;

	for (int k = 0; k < count; k++)
	{
		aligned = aligned && ((uintptr_t) parts.p[k].w & 15) == 0 &&
			(!SWIGLU || ((uintptr_t) parts.p[k].w_up & 15) == 0);
		rows += (size_t) parts.p[k].o * (SWIGLU ? 2 : 1);
	}
	if (i % vec == 0 && aligned)
		nvec = i / vec;

	per_sm = (rows + 3) / 4 / (size_t) (ctx->sm_count > 0 ? ctx->sm_count : 1);
	if (per_sm >= 8)
		return w_bf16 ?
			gemv_run<true, 4, SWIGLU>(parts, count, x, n, i, nvec, accumulate, ctx->stream) :
			gemv_run<false, 4, SWIGLU>(parts, count, x, n, i, nvec, accumulate, ctx->stream);
	return w_bf16 ?
		gemv_run<true, 2, SWIGLU>(parts, count, x, n, i, nvec, accumulate, ctx->stream) :
		gemv_run<false, 2, SWIGLU>(parts, count, x, n, i, nvec, accumulate, ctx->stream);
}

// A part for out(n, o) = x . w^T (w_up for swiglu)
static GemvPart
gemv_part(float *out, const void *w, const void *w_up, int o)
{
	GemvPart	p;

	p.out = out;
	p.w = (const char *) w;
	p.w_up = (const char *) w_up;
	p.o = o;
	p.end = 0;
	return p;
}

// out(n, o) (+)= x(n, i) . w(o, i)^T
static int
gemv_one(KernelsContext *ctx, float *out, const float *x, const void *w, int w_bf16, int n,
		 int o, int i, int accumulate)
{
	GemvParts	parts;

	KERNELS_REQUIRE(ctx != NULL && out != NULL && x != NULL && w != NULL);
	KERNELS_REQUIRE(n >= 1 && n <= KERNELS_GEMV_MAX_ROWS && o > 0 && i > 0);
	parts.p[0] = gemv_part(out, w, NULL, o);
	return gemv_parts<false>(ctx, parts, 1, x, w_bf16, n, i, accumulate);
}

// out(n, o) = x(n, i) . w(o, i)^T for 1 <= n <= KERNELS_GEMV_MAX_ROWS
int
kernels_gemv(KernelsContext *ctx, float *out, const float *x, const void *w, int w_bf16,
			 int n, int o, int i)
{
	return gemv_one(ctx, out, x, w, w_bf16, n, o, i, 0);
}

// out(n, o) += x(n, i) . w(o, i)^T for 1 <= n <= KERNELS_GEMV_MAX_ROWS
int
kernels_gemv_add(KernelsContext *ctx, float *out, const float *x, const void *w, int w_bf16,
				 int n, int o, int i)
{
	return gemv_one(ctx, out, x, w, w_bf16, n, o, i, 1);
}

// q(n, oq), k(n, ok), v(n, ov) = x(n, i) . wq^T, wk^T, wv^T in one launch
int
kernels_gemv_qkv(KernelsContext *ctx, float *q, float *k, float *v, const float *x,
				 const void *wq, const void *wk, const void *wv, int w_bf16, int n, int oq,
				 int ok, int ov, int i)
{
	GemvParts	parts;

	KERNELS_REQUIRE(ctx != NULL && q != NULL && k != NULL && v != NULL && x != NULL);
	KERNELS_REQUIRE(wq != NULL && wk != NULL && wv != NULL);
	KERNELS_REQUIRE(n >= 1 && n <= KERNELS_GEMV_MAX_ROWS && oq > 0 && ok > 0 && ov > 0 &&
					i > 0);
	parts.p[0] = gemv_part(q, wq, NULL, oq);
	parts.p[1] = gemv_part(k, wk, NULL, ok);
	parts.p[2] = gemv_part(v, wv, NULL, ov);
	return gemv_parts<false>(ctx, parts, 3, x, w_bf16, n, i, 0);
}

// out(n, o) = silu(x . w_gate^T) * (x . w_up^T), x(n, i), w_gate and w_up
// (o, i), in one launch
int
kernels_gemv_swiglu(KernelsContext *ctx, float *out, const float *x, const void *w_gate,
					const void *w_up, int w_bf16, int n, int o, int i)
{
	GemvParts	parts;

	KERNELS_REQUIRE(ctx != NULL && out != NULL && x != NULL && w_gate != NULL &&
					w_up != NULL);
	KERNELS_REQUIRE(n >= 1 && n <= KERNELS_GEMV_MAX_ROWS && o > 0 && i > 0);
	parts.p[0] = gemv_part(out, w_gate, w_up, o);
	return gemv_parts<true>(ctx, parts, 1, x, w_bf16, n, i, 0);
}
