// matmul.cu
//	  Matrix products of activations with weight matrices: a few rows
//	  (decode) in gemv.cu, more on cuBLAS.
//
// Tensors are row-major: out(n, o) = x(n, i) . w(o, i)^T.  cuBLAS is
// column-major, where the same memory reads as out^T(o, n), w^T(i, o) and
// x^T(i, n), so out^T = op_T(w^T) . x^T is one GEMM with m = o, n = n and
// k = i and leading dimensions i, i and o.  f32 weights use cublasSgemm in
// the default math mode (no TF32).  bf16 weights take x converted to bf16
// in the context's scratch buffer, accumulate in f32 and write f32.  Up to
// KERNELS_GEMV_MAX_ROWS rows take kernels_gemv instead (unless the context
// turned it off), which reads the weights directly and keeps x in f32.
// Up to KERNELS_SPLIT_MAX_ROWS rows, x is split into hi = bf16(x) and
// lo = bf16(x - hi) and one GEMM of 2n rows computes both products, which
// are then added: about 16 bits of x survive instead of 8, for a GEMM that
// reads the same weights once (small batches are bound by that read).
//
// Fused products for the decoder: matmul_add adds the product to out
// (GEMM with beta = 1, or the split halves added to out); matmul_qkv and
// matmul_swiglu take one gemv.cu launch for few rows and otherwise run
// the plain products (swiglu holding the up product in scratch_rows, then
// silu_mul).  With fused == 0 every size runs the unfused kernels: plain
// products, then the add or silu_mul kernel.
#include "common.cuh"

// y(count) = bf16(x(count)), rounding to nearest even
static __global__ void
convert_bf16(__nv_bfloat16 *y, const float *x, size_t count)
{
	for (size_t idx = (size_t) blockIdx.x * blockDim.x + threadIdx.x; idx < count;
		 idx += (size_t) gridDim.x * blockDim.x)
		y[idx] = __float2bfloat16_rn(x[idx]);
}

// y(2, count): y[0] = bf16(x), y[1] = bf16(x - y[0])
static __global__ void
split_bf16(__nv_bfloat16 *y, const float *x, size_t count)
{
	for (size_t idx = (size_t) blockIdx.x * blockDim.x + threadIdx.x; idx < count;
		 idx += (size_t) gridDim.x * blockDim.x)
	{
		__nv_bfloat16 hi = __float2bfloat16_rn(x[idx]);

		y[idx] = hi;
		y[count + idx] = __float2bfloat16_rn(x[idx] - __bfloat162float(hi));
	}
}

// out(count) = (or +=) part(0, count) + part(1, count)
static __global__ void
add_halves(float *out, const float *part, size_t count, int accumulate)
{
	for (size_t idx = (size_t) blockIdx.x * blockDim.x + threadIdx.x; idx < count;
		 idx += (size_t) gridDim.x * blockDim.x)
	{
		float		s = part[idx] + part[count + idx];

		out[idx] = accumulate ? out[idx] + s : s;
	}
}

// Launch convert_bf16 on stream
static int
convert_bf16_cuda(__nv_bfloat16 *y, const float *x, size_t count, cudaStream_t stream)
{
	convert_bf16<<<kernels_grid(count, 256), 256, 0, stream>>>(y, x, count);
	KERNELS_CHECK(cudaGetLastError());
	return KERNELS_OK;
}

// out(n, o) = (or +=) x(n, i) . w(o, i)^T, w f32 or bf16, n > 0
static int
matmul(KernelsContext *ctx, float *out, const float *x, const void *w, int w_bf16, int n,
	   int o, int i, int accumulate)
{
	const float alpha = 1.0f;
	const float beta = accumulate ? 1.0f : 0.0f;
	const float zero = 0.0f;

	if (n <= KERNELS_GEMV_MAX_ROWS && ctx->gemv_enabled)
		return accumulate ? kernels_gemv_add(ctx, out, x, w, w_bf16, n, o, i) :
			kernels_gemv(ctx, out, x, w, w_bf16, n, o, i);

	if (!w_bf16)
	{
		KERNELS_CHECK_CUBLAS(cublasSgemm(ctx->cublas, CUBLAS_OP_T, CUBLAS_OP_N, o, n, i,
										 &alpha, (const float *) w, i, x, i,
										 &beta, out, o));
	}
	else
	{
		size_t		count = (size_t) n * (size_t) i;
		int			split = n <= KERNELS_SPLIT_MAX_ROWS;
		__nv_bfloat16 *xb;
		float	   *dst = out;
		int			status;

		status = kernels_buffer_reserve(ctx, &ctx->scratch_bf16,
										(split ? 2 : 1) * count * sizeof(__nv_bfloat16));
		if (status != KERNELS_OK)
			return status;
		xb = (__nv_bfloat16 *) ctx->scratch_bf16.ptr;
		if (split)
		{
			status = kernels_buffer_reserve(ctx, &ctx->scratch_split,
											2 * (size_t) n * (size_t) o * sizeof(float));
			if (status != KERNELS_OK)
				return status;
			dst = (float *) ctx->scratch_split.ptr;
			split_bf16<<<kernels_grid(count, 256), 256, 0, ctx->stream>>>(xb, x, count);
			KERNELS_CHECK(cudaGetLastError());
		}
		else
		{
			status = convert_bf16_cuda(xb, x, count, ctx->stream);
			if (status != KERNELS_OK)
				return status;
		}
		KERNELS_CHECK_CUBLAS(cublasGemmEx(ctx->cublas, CUBLAS_OP_T, CUBLAS_OP_N, o,
										  split ? 2 * n : n, i,
										  &alpha, w, CUDA_R_16BF, i, xb, CUDA_R_16BF, i,
										  split ? &zero : &beta, dst, CUDA_R_32F, o,
										  CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
		if (split)
		{
			size_t		outs = (size_t) n * (size_t) o;

			add_halves<<<kernels_grid(outs, 256), 256, 0, ctx->stream>>>(out, dst, outs,
																		 accumulate);
			KERNELS_CHECK(cudaGetLastError());
		}
	}
	return KERNELS_OK;
}

// out(n, o) = x(n, i) . w(o, i)^T, w f32 or bf16
extern "C" int
kernels_matmul(KernelsContext *ctx, float *out, const float *x, const void *w, int w_bf16,
			   int n, int o, int i)
{
	KERNELS_REQUIRE(ctx != NULL && n >= 0 && o > 0 && i > 0);
	KERNELS_REQUIRE(n == 0 || (out != NULL && x != NULL && w != NULL));
	if (n == 0)
		return KERNELS_OK;
	return matmul(ctx, out, x, w, w_bf16, n, o, i, 0);
}

// Make scratch_rows hold n * o floats and point *p at it
static int
reserve_product(KernelsContext *ctx, int n, int o, float **p)
{
	int			status = kernels_buffer_reserve(ctx, &ctx->scratch_rows,
												(size_t) n * (size_t) o * sizeof(float));

	*p = (float *) ctx->scratch_rows.ptr;
	return status;
}

// out(n, o) += x(n, i) . w(o, i)^T; unfused: the product, then an add
extern "C" int
kernels_matmul_add(KernelsContext *ctx, float *out, const float *x, const void *w,
				   int w_bf16, int n, int o, int i, int fused)
{
	float	   *prod;
	int			status;

	KERNELS_REQUIRE(ctx != NULL && n >= 0 && o > 0 && i > 0);
	KERNELS_REQUIRE(n == 0 || (out != NULL && x != NULL && w != NULL));
	if (n == 0)
		return KERNELS_OK;
	if (fused)
		return matmul(ctx, out, x, w, w_bf16, n, o, i, 1);
	status = reserve_product(ctx, n, o, &prod);
	if (status == KERNELS_OK)
		status = matmul(ctx, prod, x, w, w_bf16, n, o, i, 0);
	if (status == KERNELS_OK)
		status = kernels_add(ctx, out, prod, (size_t) n * (size_t) o);
	return status;
}

// q(n, oq), k(n, ok), v(n, ov) = x(n, i) . wq^T, wk^T, wv^T; one launch
// for few rows when fused
extern "C" int
kernels_matmul_qkv(KernelsContext *ctx, float *q, float *k, float *v, const float *x,
				   const void *wq, const void *wk, const void *wv, int w_bf16, int n,
				   int oq, int ok, int ov, int i, int fused)
{
	int			status;

	KERNELS_REQUIRE(ctx != NULL && n >= 0 && oq > 0 && ok > 0 && ov > 0 && i > 0);
	KERNELS_REQUIRE(n == 0 || (q != NULL && k != NULL && v != NULL && x != NULL &&
							   wq != NULL && wk != NULL && wv != NULL));
	if (n == 0)
		return KERNELS_OK;
	if (fused && n <= KERNELS_GEMV_MAX_ROWS && ctx->gemv_enabled)
		return kernels_gemv_qkv(ctx, q, k, v, x, wq, wk, wv, w_bf16, n, oq, ok, ov, i);
	status = matmul(ctx, q, x, wq, w_bf16, n, oq, i, 0);
	if (status == KERNELS_OK)
		status = matmul(ctx, k, x, wk, w_bf16, n, ok, i, 0);
	if (status == KERNELS_OK)
		status = matmul(ctx, v, x, wv, w_bf16, n, ov, i, 0);
	return status;
}

// out(n, o) = silu(x(n, i) . w_gate(o, i)^T) * (x . w_up(o, i)^T); one
// launch for few rows when fused, else the up product in scratch_rows and
// silu_mul
extern "C" int
kernels_matmul_swiglu(KernelsContext *ctx, float *out, const float *x, const void *w_gate,
					  const void *w_up, int w_bf16, int n, int o, int i, int fused)
{
	float	   *up;
	int			status;

	KERNELS_REQUIRE(ctx != NULL && n >= 0 && o > 0 && i > 0);
	KERNELS_REQUIRE(n == 0 || (out != NULL && x != NULL && w_gate != NULL && w_up != NULL));
	if (n == 0)
		return KERNELS_OK;
	if (fused && n <= KERNELS_GEMV_MAX_ROWS && ctx->gemv_enabled)
		return kernels_gemv_swiglu(ctx, out, x, w_gate, w_up, w_bf16, n, o, i);
	status = reserve_product(ctx, n, o, &up);
	if (status == KERNELS_OK)
		status = matmul(ctx, out, x, w_gate, w_bf16, n, o, i, 0);
	if (status == KERNELS_OK)
		status = matmul(ctx, up, x, w_up, w_bf16, n, o, i, 0);
	if (status == KERNELS_OK)
		status = kernels_silu_mul(ctx, out, up, (size_t) n * (size_t) o);
	return status;
}
