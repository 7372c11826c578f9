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

// out(N, o) = x(N, i) . w(o, i)^T; block b owns rows b * R .. b * R + R - 1;
// the first nvec vectors of each row are read 16 bytes at a time
template <bool BF16, int N, int R>
static __global__ void __launch_bounds__(GEMV_THREADS)
gemv_kernel(float *__restrict__ out, const float *__restrict__ x, const char *__restrict__ w,
			int o, int i, int nvec)
{
	constexpr int VEC = BF16 ? 8 : 4;
	constexpr size_t WSIZE = BF16 ? 2 : 4;
	__shared__ float partial[GEMV_WARPS][R * N];
	const int	row0 = blockIdx.x * R;
	const int	lane = threadIdx.x & 31;
	const int	warp = threadIdx.x >> 5;
	const char *wrow[R];
	float		acc[R][N];
	int			c = threadIdx.x;

#pragma unroll
	for (int r = 0; r < R; r++)
	{
		wrow[r] = w + (size_t) min(row0 + r, o - 1) * (size_t) i * WSIZE;
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
	if (threadIdx.x < R * N)
	{
		int			r = threadIdx.x / N;
		int			j = threadIdx.x % N;
		float		s = 0.0f;

#pragma unroll
		for (int k = 0; k < GEMV_WARPS; k++)
			s += partial[k][threadIdx.x];
		if (row0 + r < o)
			out[(size_t) j * o + row0 + r] = s;
	}
}

// Launch gemv_kernel for N rows of x, R rows of w per block
template <bool BF16, int N, int R>
static int
gemv_launch(float *out, const float *x, const void *w, int o, int i, int nvec,
			cudaStream_t stream)
{
	unsigned int blocks = (unsigned int) (((size_t) o + R - 1) / R);

	gemv_kernel<BF16, N, R><<<blocks, GEMV_THREADS, 0, stream>>>(out, x, (const char *) w,
																   o, i, nvec);
	KERNELS_CHECK(cudaGetLastError());
	return KERNELS_OK;
}

// Launch the instance for n (1 .. KERNELS_GEMV_MAX_ROWS) rows of x
template <bool BF16, int R>
static int
gemv_launch_n(float *out, const float *x, const void *w, int n, int o, int i, int nvec,
			  cudaStream_t stream)
{
	switch (n)
	{
		case 1:
			return gemv_launch<BF16, 1, R>(out, x, w, o, i, nvec, stream);
		case 2:
			return gemv_launch<BF16, 2, R>(out, x, w, o, i, nvec, stream);
		case 3:
			return gemv_launch<BF16, 3, R>(out, x, w, o, i, nvec, stream);
		case 4:
			return gemv_launch<BF16, 4, R>(out, x, w, o, i, nvec, stream);
		case 5:
			return gemv_launch<BF16, 5, R>(out, x, w, o, i, nvec, stream);
		case 6:
			return gemv_launch<BF16, 6, R>(out, x, w, o, i, nvec, stream);
		case 7:
			return gemv_launch<BF16, 7, R>(out, x, w, o, i, nvec, stream);
		case 8:
			return gemv_launch<BF16, 8, R>(out, x, w, o, i, nvec, stream);
	}
	kernels_set_message("invalid argument: gemv rows");
	return KERNELS_ERR_ARGUMENT;
}

// out(n, o) = x(n, i) . w(o, i)^T for 1 <= n <= KERNELS_GEMV_MAX_ROWS
int
kernels_gemv(KernelsContext *ctx, float *out, const float *x, const void *w, int w_bf16,
			 int n, int o, int i)
{
	int			vec = w_bf16 ? 8 : 4;
	int			nvec = 0;
	size_t		per_sm;

	KERNELS_REQUIRE(ctx != NULL && out != NULL && x != NULL && w != NULL);
	KERNELS_REQUIRE(n >= 1 && n <= KERNELS_GEMV_MAX_ROWS && o > 0 && i > 0);
	if (i % vec == 0 && ((uintptr_t) w & 15) == 0 && ((uintptr_t) x & 15) == 0)
		nvec = i / vec;

	// 4 rows per block when that still gives every SM 8 blocks, else 2
	per_sm = ((size_t) o + 3) / 4 / (size_t) (ctx->sm_count > 0 ? ctx->sm_count : 1);
	if (per_sm >= 8)
		return w_bf16 ? gemv_launch_n<true, 4>(out, x, w, n, o, i, nvec, ctx->stream) :
			gemv_launch_n<false, 4>(out, x, w, n, o, i, nvec, ctx->stream);
	return w_bf16 ? gemv_launch_n<true, 2>(out, x, w, n, o, i, nvec, ctx->stream) :
		gemv_launch_n<false, 2>(out, x, w, n, o, i, nvec, ctx->stream);
}
