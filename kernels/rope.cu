// rope.cu
//	  Rotary position embedding, rotate-half layout, in place on q and k.
//
// For pair j < head_dim / 2 of a head at position p, with angle
// p * inv_freq[j]: (x[j], x[j + d/2]) becomes
// (x[j] cos - x[j + d/2] sin, x[j + d/2] cos + x[j] sin).  One thread per
// pair; q heads and k heads of a row are numbered together.
#include "common.cuh"

// Rotate every pair of q(n_rows, n_heads, head_dim) and k(n_rows,
// n_kv_heads, head_dim) at positions(n_rows)
static __global__ void
rope_f32(float *q, float *k, const int32_t *positions, const float *inv_freq, int n_rows,
		 int n_heads, int n_kv_heads, int head_dim)
{
	int			half = head_dim / 2;
	size_t		per_row = (size_t) (n_heads + n_kv_heads) * half;
	size_t		count = per_row * (size_t) n_rows;

	for (size_t idx = (size_t) blockIdx.x * blockDim.x + threadIdx.x; idx < count;
		 idx += (size_t) gridDim.x * blockDim.x)
	{
		int			r = (int) (idx / per_row);
		int			rem = (int) (idx % per_row);
		int			h = rem / half;
		int			j = rem % half;
		float	   *x;
		float		angle;
		float		s;
		float		c;
		float		x0;
		float		x1;

		if (h < n_heads)
			x = q + ((size_t) r * n_heads + h) * head_dim;
		else
			x = k + ((size_t) r * n_kv_heads + (h - n_heads)) * head_dim;
		angle = (float) positions[r] * inv_freq[j];
		sincosf(angle, &s, &c);
		x0 = x[j];
		x1 = x[j + half];
		x[j] = x0 * c - x1 * s;
		x[j + half] = x1 * c + x0 * s;
	}
}

// Launch rope_f32 on stream
static int
rope_f32_cuda(float *q, float *k, const int32_t *positions, const float *inv_freq, int n_rows,
			  int n_heads, int n_kv_heads, int head_dim, cudaStream_t stream)
{
	size_t		count = (size_t) n_rows * (n_heads + n_kv_heads) * (head_dim / 2);

	rope_f32<<<kernels_grid(count, 256), 256, 0, stream>>>(q, k, positions, inv_freq, n_rows,
														   n_heads, n_kv_heads, head_dim);
	KERNELS_CHECK(cudaGetLastError());
	return KERNELS_OK;
}

// Rotary embedding of the step's rows at their positions
extern "C" int
kernels_rope(KernelsContext *ctx, float *q, float *k, int n_heads, int n_kv_heads,
			 int head_dim, const float *inv_freq)
{
	KERNELS_REQUIRE(ctx != NULL && n_heads > 0 && n_kv_heads >= 0);
	KERNELS_REQUIRE(head_dim > 0 && head_dim % 2 == 0);
	KERNELS_REQUIRE(ctx->n_rows == 0 || (q != NULL && inv_freq != NULL));
	KERNELS_REQUIRE(ctx->n_rows == 0 || n_kv_heads == 0 || k != NULL);
	if (ctx->n_rows == 0)
		return KERNELS_OK;
	return rope_f32_cuda(q, k, ctx->positions, inv_freq, ctx->n_rows, n_heads, n_kv_heads,
						 head_dim, ctx->stream);
}
