// argmax.cu
//	  Greedy decoding: the index of the largest logit of each row.
//
// Ties go to the lowest index, NaN never wins, and a row without a finite
// maximum gives index 0, as a sequential scan with ">" would.
#include "common.cuh"

// ids(n) = argmax of each row of logits(n, vocab), one block per row
static __global__ void
argmax_f32(int32_t *ids, const float *logits, int vocab)
{
	__shared__ float best_v[KERNELS_ROW_THREADS];
	__shared__ int best_i[KERNELS_ROW_THREADS];
	const float *row = logits + (size_t) blockIdx.x * vocab;
	float		bv = -INFINITY;
	int			bi = vocab;

	for (int i = threadIdx.x; i < vocab; i += blockDim.x)
	{
		float		v = row[i];

		if (v > bv || (v == bv && i < bi))
		{
			bv = v;
			bi = i;
		}
	}
	best_v[threadIdx.x] = bv;
	best_i[threadIdx.x] = bi;
	__syncthreads();
	for (int stride = blockDim.x / 2; stride > 0; stride >>= 1)
	{
		if (threadIdx.x < stride)
		{
			float		v = best_v[threadIdx.x + stride];
			int			i = best_i[threadIdx.x + stride];

			if (v > best_v[threadIdx.x] || (v == best_v[threadIdx.x] && i < best_i[threadIdx.x]))
			{
				best_v[threadIdx.x] = v;
				best_i[threadIdx.x] = i;
			}
		}
		__syncthreads();
	}
	if (threadIdx.x == 0)
		ids[blockIdx.x] = best_i[0] < vocab ? best_i[0] : 0;
}

// Launch argmax_f32 on stream
static int
argmax_f32_cuda(int32_t *ids, const float *logits, int n, int vocab, cudaStream_t stream)
{
	argmax_f32<<<n, KERNELS_ROW_THREADS, 0, stream>>>(ids, logits, vocab);
	KERNELS_CHECK(cudaGetLastError());
	return KERNELS_OK;
}

// ids(n), in host memory, = argmax of each row; waits for the result
extern "C" int
kernels_argmax(KernelsContext *ctx, int32_t *ids, const float *logits, int n, int vocab)
{
	int			status;

	KERNELS_REQUIRE(ctx != NULL && n >= 0 && vocab > 0);
	KERNELS_REQUIRE(n == 0 || (ids != NULL && logits != NULL));
	if (n == 0)
		return KERNELS_OK;
	status = kernels_buffer_reserve(ctx, &ctx->scratch_ids, (size_t) n * sizeof(int32_t));
	if (status != KERNELS_OK)
		return status;
	status = argmax_f32_cuda((int32_t *) ctx->scratch_ids.ptr, logits, n, vocab, ctx->stream);
	if (status != KERNELS_OK)
		return status;
	KERNELS_CHECK(cudaMemcpyAsync(ids, ctx->scratch_ids.ptr, (size_t) n * sizeof(int32_t),
								  cudaMemcpyDeviceToHost, ctx->stream));
	KERNELS_CHECK(cudaStreamSynchronize(ctx->stream));
	return KERNELS_OK;
}
