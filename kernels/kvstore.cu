// kvstore.cu
//	  Writing the step's keys and values into the paged KV cache.
//
// Row r of sequence s at position p goes to physical block
// block_table[s * max_blocks + p / KERNELS_KV_BLOCK], slot
// p % KERNELS_KV_BLOCK.  One layer's cache is (n_blocks, KERNELS_KV_BLOCK,
// n_kv_heads, head_dim); the caller checked that every block is in range.
#include "common.cuh"

// Copy k, v (n_rows, n_kv_heads, head_dim) into their cache slots
static __global__ void
kv_store_f32(float *k_cache, float *v_cache, const float *k, const float *v,
			 const int32_t *positions, const int32_t *row_seq, const int32_t *block_table,
			 int max_blocks, int n_rows, int width)
{
	size_t		count = (size_t) n_rows * width;

	for (size_t idx = (size_t) blockIdx.x * blockDim.x + threadIdx.x; idx < count;
		 idx += (size_t) gridDim.x * blockDim.x)
	{
		int			r = (int) (idx / width);
		int			e = (int) (idx % width);
		int			p = positions[r];
		int			block = block_table[(size_t) row_seq[r] * max_blocks + p / KERNELS_KV_BLOCK];
		size_t		slot = (size_t) block * KERNELS_KV_BLOCK + p % KERNELS_KV_BLOCK;

		k_cache[slot * width + e] = k[idx];
		v_cache[slot * width + e] = v[idx];
	}
}

// Launch kv_store_f32 on stream
static int
kv_store_f32_cuda(float *k_cache, float *v_cache, const float *k, const float *v,
				  const KernelsContext *ctx, int width)
{
	size_t		count = (size_t) ctx->n_rows * width;

	kv_store_f32<<<kernels_grid(count, 256), 256, 0, ctx->stream>>>(k_cache, v_cache, k, v,
																	ctx->positions, ctx->row_seq,
																	ctx->block_table,
																	ctx->max_blocks,
																	ctx->n_rows, width);
	KERNELS_CHECK(cudaGetLastError());
	return KERNELS_OK;
}

// Store the step's keys and values into one layer's cache
extern "C" int
kernels_kv_store(KernelsContext *ctx, float *k_cache, float *v_cache, const float *k,
				 const float *v, int n_kv_heads, int head_dim)
{
	KERNELS_REQUIRE(ctx != NULL && n_kv_heads > 0 && head_dim > 0);
	KERNELS_REQUIRE((size_t) n_kv_heads * head_dim <= (size_t) INT32_MAX);
	KERNELS_REQUIRE(ctx->n_rows == 0 ||
					(k_cache != NULL && v_cache != NULL && k != NULL && v != NULL));
	if (ctx->n_rows == 0)
		return KERNELS_OK;
	return kv_store_f32_cuda(k_cache, v_cache, k, v, ctx, n_kv_heads * head_dim);
}
