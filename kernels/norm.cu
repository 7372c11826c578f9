// norm.cu
//	  Per-row normalizations: RMSNorm, LayerNorm and L2 normalization.
//
// One block per row; sums are f32, reduced over the block.  LayerNorm
// takes two passes over the row (mean, then variance of the deviations),
// which is more accurate than E[x^2] - E[x]^2.
#include "common.cuh"

// out(n, dim) = x / sqrt(mean(x^2) + eps) * w
static __global__ void
rmsnorm_f32(float *out, const float *x, const float *w, int dim, float eps)
{
	__shared__ float red[32];
	const float *xr = x + (size_t) blockIdx.x * dim;
	float	   *outr = out + (size_t) blockIdx.x * dim;
	float		ss = 0.0f;
	float		scale;

	for (int d = threadIdx.x; d < dim; d += blockDim.x)
		ss += xr[d] * xr[d];
	ss = kernels_block_sum(ss, red);
	scale = 1.0f / sqrtf(ss / (float) dim + eps);
	for (int d = threadIdx.x; d < dim; d += blockDim.x)
		outr[d] = xr[d] * scale * w[d];
}

// out(n, dim) = (x - mean) / sqrt(var + eps) * w + b (b may be NULL)
static __global__ void
layernorm_f32(float *out, const float *x, const float *w, const float *b, int dim, float eps)
{
	__shared__ float red[32];
	const float *xr = x + (size_t) blockIdx.x * dim;
	float	   *outr = out + (size_t) blockIdx.x * dim;
	float		sum = 0.0f;
	float		mean;
	float		var = 0.0f;
	float		scale;

	for (int d = threadIdx.x; d < dim; d += blockDim.x)
		sum += xr[d];
	mean = kernels_block_sum(sum, red) / (float) dim;
	for (int d = threadIdx.x; d < dim; d += blockDim.x)
	{
		float		dev = xr[d] - mean;

		var += dev * dev;
	}
	var = kernels_block_sum(var, red) / (float) dim;
	scale = 1.0f / sqrtf(var + eps);
	for (int d = threadIdx.x; d < dim; d += blockDim.x)
	{
		float		y = (xr[d] - mean) * scale * w[d];

		outr[d] = b != NULL ? y + b[d] : y;
	}
}

// x(n, dim) /= max(||x||, 1e-12) per row
static __global__ void
l2norm_f32(float *x, int dim)
{
	__shared__ float red[32];
	float	   *xr = x + (size_t) blockIdx.x * dim;
	float		ss = 0.0f;
	float		norm;

	for (int d = threadIdx.x; d < dim; d += blockDim.x)
		ss += xr[d] * xr[d];
	norm = fmaxf(sqrtf(kernels_block_sum(ss, red)), 1e-12f);
	for (int d = threadIdx.x; d < dim; d += blockDim.x)
		xr[d] = xr[d] / norm;
}

// Launch rmsnorm_f32 on stream
static int
rmsnorm_f32_cuda(float *out, const float *x, const float *w, int n, int dim, float eps,
				 cudaStream_t stream)
{
	rmsnorm_f32<<<n, KERNELS_ROW_THREADS, 0, stream>>>(out, x, w, dim, eps);
	KERNELS_CHECK(cudaGetLastError());
	return KERNELS_OK;
}

// Launch layernorm_f32 on stream
static int
layernorm_f32_cuda(float *out, const float *x, const float *w, const float *b, int n,
				   int dim, float eps, cudaStream_t stream)
{
	layernorm_f32<<<n, KERNELS_ROW_THREADS, 0, stream>>>(out, x, w, b, dim, eps);
	KERNELS_CHECK(cudaGetLastError());
	return KERNELS_OK;
}

// Launch l2norm_f32 on stream
static int
l2norm_f32_cuda(float *x, int n, int dim, cudaStream_t stream)
{
	l2norm_f32<<<n, KERNELS_ROW_THREADS, 0, stream>>>(x, dim);
	KERNELS_CHECK(cudaGetLastError());
	return KERNELS_OK;
}

// out(n, dim) = x / rms(x) * w
extern "C" int
kernels_rmsnorm(KernelsContext *ctx, float *out, const float *x, const float *w, int n,
				int dim, float eps)
{
	KERNELS_REQUIRE(ctx != NULL && n >= 0 && dim > 0);
	KERNELS_REQUIRE(n == 0 || (out != NULL && x != NULL && w != NULL));
	if (n == 0)
		return KERNELS_OK;
	return rmsnorm_f32_cuda(out, x, w, n, dim, eps, ctx->stream);
}

// out(n, dim) = (x - mean) / sqrt(var + eps) * w + b
extern "C" int
kernels_layernorm(KernelsContext *ctx, float *out, const float *x, const float *w,
				  const float *b, int n, int dim, float eps)
{
	KERNELS_REQUIRE(ctx != NULL && n >= 0 && dim > 0);
	KERNELS_REQUIRE(n == 0 || (out != NULL && x != NULL && w != NULL));
	if (n == 0)
		return KERNELS_OK;
	return layernorm_f32_cuda(out, x, w, b, n, dim, eps, ctx->stream);
}

// x(n, dim) /= ||x|| per row
extern "C" int
kernels_l2norm(KernelsContext *ctx, float *x, int n, int dim)
{
	KERNELS_REQUIRE(ctx != NULL && n >= 0 && dim > 0);
	KERNELS_REQUIRE(n == 0 || x != NULL);
	if (n == 0)
		return KERNELS_OK;
	return l2norm_f32_cuda(x, n, dim, ctx->stream);
}
