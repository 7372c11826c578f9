// activation.cu
//	  Elementwise activations of the feed-forward blocks: SwiGLU's
//	  silu(gate) * up, and GELU in its erf and tanh forms.
#include "common.cuh"

// gate(count) = silu(gate) * up
static __global__ void
silu_mul_f32(float *gate, const float *up, size_t count)
{
	for (size_t idx = (size_t) blockIdx.x * blockDim.x + threadIdx.x; idx < count;
		 idx += (size_t) gridDim.x * blockDim.x)
	{
		float		g = gate[idx];

		gate[idx] = g / (1.0f + expf(-g)) * up[idx];
	}
}

// x(count) = gelu(x), erf form, or tanh form when tanh_approx
static __global__ void
gelu_f32(float *x, size_t count, int tanh_approx)
{
	for (size_t idx = (size_t) blockIdx.x * blockDim.x + threadIdx.x; idx < count;
		 idx += (size_t) gridDim.x * blockDim.x)
	{
		float		v = x[idx];

		if (tanh_approx)
			x[idx] = 0.5f * v * (1.0f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
		else
			x[idx] = 0.5f * v * (1.0f + erff(v * 0.7071067811865476f));
	}
}

// Launch silu_mul_f32 on stream
static int
silu_mul_f32_cuda(float *gate, const float *up, size_t count, cudaStream_t stream)
{
	silu_mul_f32<<<kernels_grid(count, 256), 256, 0, stream>>>(gate, up, count);
	KERNELS_CHECK(cudaGetLastError());
	return KERNELS_OK;
}

// Launch gelu_f32 on stream
static int
gelu_f32_cuda(float *x, size_t count, int tanh_approx, cudaStream_t stream)
{
	gelu_f32<<<kernels_grid(count, 256), 256, 0, stream>>>(x, count, tanh_approx);
	KERNELS_CHECK(cudaGetLastError());
	return KERNELS_OK;
}

// gate(count) = silu(gate) * up
extern "C" int
kernels_silu_mul(KernelsContext *ctx, float *gate, const float *up, size_t count)
{
	KERNELS_REQUIRE(ctx != NULL && (count == 0 || (gate != NULL && up != NULL)));
	if (count == 0)
		return KERNELS_OK;
	return silu_mul_f32_cuda(gate, up, count, ctx->stream);
}

// x(count) = gelu(x)
extern "C" int
kernels_gelu(KernelsContext *ctx, float *x, size_t count, int tanh_approx)
{
	KERNELS_REQUIRE(ctx != NULL && (count == 0 || x != NULL));
	if (count == 0)
		return KERNELS_OK;
	return gelu_f32_cuda(x, count, tanh_approx != 0, ctx->stream);
}
