// embed.cu
//	  Embedding lookups: one table row per step row, indexed by the step's
//	  tokens, its positions or row 0, written or added to the output.
//
// The caller checked that every index is a row of the table.
#include "common.cuh"

// out(n_rows, dim) (+)= table[index of the row], table f32 or bf16
template<typename T>
static __global__ void
embed_rows(float *out, const T *table, const int32_t *indices, int n_rows, int dim,
		   int accumulate)
{
	size_t		count = (size_t) n_rows * dim;

	for (size_t idx = (size_t) blockIdx.x * blockDim.x + threadIdx.x; idx < count;
		 idx += (size_t) gridDim.x * blockDim.x)
	{
		int			r = (int) (idx / dim);
		int			d = (int) (idx % dim);
		size_t		row = indices != NULL ? (size_t) indices[r] : 0;
		float		v = (float) table[row * dim + d];

		out[idx] = accumulate ? out[idx] + v : v;
	}
}

// Launch embed_rows for the table's element type on stream
static int
embed_rows_cuda(float *out, const void *table, int table_bf16, const int32_t *indices,
				int n_rows, int dim, int accumulate, cudaStream_t stream)
{
	size_t		count = (size_t) n_rows * dim;
	unsigned int grid = kernels_grid(count, 256);

	if (table_bf16)
		embed_rows<__nv_bfloat16><<<grid, 256, 0, stream>>>(out,
															 (const __nv_bfloat16 *) table,
															 indices, n_rows, dim,
															 accumulate);
	else
		embed_rows<float><<<grid, 256, 0, stream>>>(out, (const float *) table, indices,
													n_rows, dim, accumulate);
	KERNELS_CHECK(cudaGetLastError());
	return KERNELS_OK;
}

// out(n_rows, dim) (+)= table[index] per row of the step
extern "C" int
kernels_embed(KernelsContext *ctx, float *out, const void *table, int table_bf16, int dim,
			  int index, int accumulate)
{
	const int32_t *indices;

	KERNELS_REQUIRE(ctx != NULL && dim > 0);
	KERNELS_REQUIRE(index == KERNELS_INDEX_TOKENS || index == KERNELS_INDEX_POSITIONS ||
					index == KERNELS_INDEX_ZERO);
	KERNELS_REQUIRE(ctx->n_rows == 0 || (out != NULL && table != NULL));
	if (ctx->n_rows == 0)
		return KERNELS_OK;
	indices = index == KERNELS_INDEX_TOKENS ? ctx->tokens :
		index == KERNELS_INDEX_POSITIONS ? ctx->positions : NULL;
	return embed_rows_cuda(out, table, table_bf16 != 0, indices, ctx->n_rows, dim,
						   accumulate != 0, ctx->stream);
}
