// add.cu
//	  Residual additions and bias additions.
#include "common.cuh"

// x(count) += y(count)
static __global__ void
add_f32(float *x, const float *y, size_t count)
{
	for (size_t idx = (size_t) blockIdx.x * blockDim.x + threadIdx.x; idx < count;
		 idx += (size_t) gridDim.x * blockDim.x)
		x[idx] += y[idx];
}

// x(n, dim) += bias(dim) per row
static __global__ void
add_bias_f32(float *x, const float *bias, size_t count, int dim)
{
	for (size_t idx = (size_t) blockIdx.x * blockDim.x + threadIdx.x; idx < count;
		 idx += (size_t) gridDim.x * blockDim.x)
		x[idx] += bias[idx % (size_t) dim];
}

// Launch add_f32 on stream
static int
add_f32_cuda(float *x, const float *y, size_t count, cudaStream_t stream)
{
	add_f32<<<kernels_grid(count, 256), 256, 0, stream>>>(x, y, count);
	KERNELS_CHECK(cudaGetLastError());
	return KERNELS_OK;
}

// Launch add_bias_f32 on stream
static int
add_bias_f32_cuda(float *x, const float *bias, int n, int dim, cudaStream_t stream)
{
	size_t		count = (size_t) n * (size_t) dim;

	add_bias_f32<<<kernels_grid(count, 256), 256, 0, stream>>>(x, bias, count, dim);
	KERNELS_CHECK(cudaGetLastError());
	return KERNELS_OK;
}

// x(count) += y(count)
extern "C" int
kernels_add(KernelsContext *ctx, float *x, const float *y, size_t count)
{
	KERNELS_REQUIRE(ctx != NULL && (count == 0 || (x != NULL && y != NULL)));
	if (count == 0)
		return KERNELS_OK;
	return add_f32_cuda(x, y, count, ctx->stream);
}

// x(n, dim) += bias(dim) per row
extern "C" int
kernels_add_bias(KernelsContext *ctx, float *x, const float *bias, int n, int dim)
{
	KERNELS_REQUIRE(ctx != NULL && n >= 0 && dim > 0);
	KERNELS_REQUIRE(n == 0 || (x != NULL && bias != NULL));
	if (n == 0)
		return KERNELS_OK;
	return add_bias_f32_cuda(x, bias, n, dim, ctx->stream);
}
