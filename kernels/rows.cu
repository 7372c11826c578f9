// rows.cu
//	  Row selection: the output rows of a step (the rows whose logits are
//	  wanted) and per-sequence pooling (mean or first row) for encoders.
//
// Both may write over their input, as the CPU backend allows: one thread
// per output element would then read rows that others overwrite, so an
// overlapping output is assembled in scratch and copied.
#include "common.cuh"

// out(n_out, dim) = x[out_rows[i]]
static __global__ void
gather_rows_f32(float *out, const float *x, const int32_t *out_rows, int n_out, int dim)
{
	size_t		count = (size_t) n_out * dim;

	for (size_t idx = (size_t) blockIdx.x * blockDim.x + threadIdx.x; idx < count;
		 idx += (size_t) gridDim.x * blockDim.x)
	{
		int			i = (int) (idx / dim);
		int			d = (int) (idx % dim);

		out[idx] = x[(size_t) out_rows[i] * dim + d];
	}
}

// out(n_seqs, dim): mean of rows seq_start[s] .. seq_start[s+1]-1, or the
// first of them; 0 for a sequence without rows
static __global__ void
pool_f32(float *out, const float *x, const int32_t *seq_start, int n_seqs, int dim, int mean)
{
	size_t		count = (size_t) n_seqs * dim;

	for (size_t idx = (size_t) blockIdx.x * blockDim.x + threadIdx.x; idx < count;
		 idx += (size_t) gridDim.x * blockDim.x)
	{
		int			s = (int) (idx / dim);
		int			d = (int) (idx % dim);
		int			first = seq_start[s];
		int			last = seq_start[s + 1];
		float		v = 0.0f;

		if (last > first)
		{
			if (mean)
			{
				for (int r = first; r < last; r++)
					v += x[(size_t) r * dim + d];
				v /= (float) (last - first);
			}
			else
				v = x[(size_t) first * dim + d];
		}
		out[idx] = v;
	}
}

// Launch gather_rows_f32 on stream
static int
gather_rows_f32_cuda(float *out, const float *x, const int32_t *out_rows, int n_out, int dim,
					 cudaStream_t stream)
{
	size_t		count = (size_t) n_out * dim;

	gather_rows_f32<<<kernels_grid(count, 256), 256, 0, stream>>>(out, x, out_rows, n_out, dim);
	KERNELS_CHECK(cudaGetLastError());
	return KERNELS_OK;
}

// Launch pool_f32 on stream
static int
pool_f32_cuda(float *out, const float *x, const int32_t *seq_start, int n_seqs, int dim,
			  int mean, cudaStream_t stream)
{
	size_t		count = (size_t) n_seqs * dim;

	pool_f32<<<kernels_grid(count, 256), 256, 0, stream>>>(out, x, seq_start, n_seqs, dim, mean);
	KERNELS_CHECK(cudaGetLastError());
	return KERNELS_OK;
}

// out(n_out, dim) = the step's output rows of x; out may overlap x (the
// rows are then gathered into scratch and copied back)
extern "C" int
kernels_gather_rows(KernelsContext *ctx, float *out, const float *x, int dim)
{
	size_t		out_bytes;
	size_t		x_bytes;
	int			status;

	KERNELS_REQUIRE(ctx != NULL && dim > 0);
	KERNELS_REQUIRE(ctx->n_out == 0 || (out != NULL && x != NULL));
	if (ctx->n_out == 0)
		return KERNELS_OK;
	out_bytes = (size_t) ctx->n_out * dim * sizeof(float);
	x_bytes = (size_t) ctx->n_rows * dim * sizeof(float);
	if ((const char *) out >= (const char *) x + x_bytes ||
		(const char *) x >= (const char *) out + out_bytes)
		return gather_rows_f32_cuda(out, x, ctx->out_rows, ctx->n_out, dim, ctx->stream);

	status = kernels_buffer_reserve(ctx, &ctx->scratch_rows, out_bytes);
	if (status != KERNELS_OK)
		return status;
	status = gather_rows_f32_cuda((float *) ctx->scratch_rows.ptr, x, ctx->out_rows,
								  ctx->n_out, dim, ctx->stream);
	if (status != KERNELS_OK)
		return status;
	KERNELS_CHECK(cudaMemcpyAsync(out, ctx->scratch_rows.ptr, out_bytes,
								  cudaMemcpyDeviceToDevice, ctx->stream));
	return KERNELS_OK;
}

// out(n_seqs, dim) = mean or first row of each sequence of the step; out
// may overlap x, as for kernels_gather_rows
extern "C" int
kernels_pool(KernelsContext *ctx, float *out, const float *x, int dim, int mean)
{
	size_t		out_bytes;
	size_t		x_bytes;
	int			status;

	KERNELS_REQUIRE(ctx != NULL && dim > 0);
	KERNELS_REQUIRE(ctx->n_seqs == 0 || (out != NULL && x != NULL));
	if (ctx->n_seqs == 0)
		return KERNELS_OK;
	out_bytes = (size_t) ctx->n_seqs * dim * sizeof(float);
	x_bytes = (size_t) ctx->n_rows * dim * sizeof(float);
	if ((const char *) out >= (const char *) x + x_bytes ||
		(const char *) x >= (const char *) out + out_bytes)
		return pool_f32_cuda(out, x, ctx->seq_start, ctx->n_seqs, dim, mean != 0, ctx->stream);

	status = kernels_buffer_reserve(ctx, &ctx->scratch_rows, out_bytes);
	if (status != KERNELS_OK)
		return status;
	status = pool_f32_cuda((float *) ctx->scratch_rows.ptr, x, ctx->seq_start, ctx->n_seqs,
						   dim, mean != 0, ctx->stream);
	if (status != KERNELS_OK)
		return status;
	KERNELS_CHECK(cudaMemcpyAsync(out, ctx->scratch_rows.ptr, out_bytes,
								  cudaMemcpyDeviceToDevice, ctx->stream));
	return KERNELS_OK;
}
