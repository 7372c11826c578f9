/*-------------------------------------------------------------------------
 *
 * compute_cuda.c
 *	  The CUDA backend of the compute ops table, over the kernels in
 *	  kernels/ (plain C ABI, kernels.h).
 *
 * This file checks arguments on the host and turns kernel status codes
 * into LlmErrors; the kernels do the work on one stream.  begin_step
 * validates the step layout (sequence boundaries, positions, the block
 * table entries the positions reach, output rows) once, so that the
 * kernels that index the KV cache or a table by it can trust it: a cache
 * or table too small for the step is refused before any launch.
 *
 * Weights: matrices take the context's precision (f32, or bf16 with f32
 * accumulation in cuBLAS), converting on the host in chunks when the file
 * holds another type; vectors become f32.
 *
 * Fused products (matmul_add, matmul_qkv, matmul_swiglu): one kernel each
 * for decode-sized batches (kernels/gemv.cu), the cuBLAS products beyond.
 * PGMLOPS_CUDA_NO_FUSION=1, read when a context is created, makes them run
 * the unfused kernels instead (a debugging switch).
 *
 * Graphs: graph_begin/graph_end record a decode step as a CUDA graph and
 * replay it (context.cu).  A replayed step skips the ops and so their host
 * checks: the ops note the bounds they checked (token ids and positions
 * against the embedding tables, blocks against the KV cache) while a step
 * is recorded, and a later step replays only within those bounds.  Every
 * op marks a failure, so that a recording that missed an op is dropped.
 *
 * Compiled to nothing without USE_CUDA (make NVCC=).
 *
 *-------------------------------------------------------------------------
 */
#ifdef USE_CUDA

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "compute/computeops.h"
#include "kernels.h"

/* elements converted per upload in weight_load */
#define CUDA_CONVERT_CHUNK (1 << 20)

typedef struct CudaContext
{
	KernelsContext *kernels;
	ComputePrecision precision;
	bool		fusion;			/* fused products; off with PGMLOPS_CUDA_NO_FUSION=1 */

	/* the current step, as validated by begin_step */
	bool		have_step;
	int			n_rows;
	int			n_seqs;
	int			n_out;
	int32_t		min_token;		/* over the rows; 0 when there are none */
	int32_t		max_token;
	int32_t		max_position;
	int32_t		max_block;		/* largest physical block reached; -1 if none */
	int32_t    *row_seq;		/* (n_rows) host scratch */
	int			row_seq_cap;

	/* since graph_begin: an op failed; bounds the ops checked */
	bool		step_failed;
	int64_t		limits[KERNELS_GRAPH_LIMITS];
} CudaContext;

/* indices of CudaContext.limits (and of the step's needs) */
#define LIMIT_TOKEN 0			/* rows of the token embedding table */
#define LIMIT_POSITION 1		/* rows of the position embedding table */
#define LIMIT_BLOCK 2			/* blocks of the KV cache */


/*
 * Turn a failed kernels status into an LlmError naming the op
 */
static int
KernelsFail(int status, const char *op, LlmError *err)
{
	int			code;

	switch (status)
	{
		case KERNELS_ERR_NOMEM:
			code = LLM_ERR_NOMEM;
			break;
		case KERNELS_ERR_ARGUMENT:
			code = LLM_ERR_ARGUMENT;
			break;
		default:
			code = LLM_ERR_DEVICE;
			break;
	}
	return LlmSetError(err, code, "CUDA %s failed: %s", op, kernels_last_error());
}

#define CUDA_CALL(op, call) \
	do { \
		int			st_ = (call); \
		if (st_ != KERNELS_OK) \
			return KernelsFail(st_, (op), err); \
	} while (0)

/*
 * Refuse an op that needs the step layout before begin_step
 */
static int
NeedStep(const CudaContext *c, const char *op, LlmError *err)
{
	if (!c->have_step)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "%s called before begin_step", op);
	return LLM_OK;
}

/*
 * Note that the op just issued holds for values below bound only
 */
static void
LowerLimit(CudaContext *c, int which, int64_t bound)
{
	if (bound < c->limits[which])
		c->limits[which] = bound;
}

/*
 * Check that a loaded vector weight is f32 with dim elements (dim < 0:
 * any); sets *out_dim
 */
static int
CheckVector(const LlmTensor *t, const char *what, int64_t dim, int *out_dim, LlmError *err)
{
	if (t == NULL || t->data == NULL || t->ndim != 1 || t->dtype != LLM_DTYPE_F32)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "%s must be a loaded 1-D f32 weight", what);
	if (t->shape[0] <= 0 || t->shape[0] > INT_MAX || (dim >= 0 && t->shape[0] != dim))
		return LlmSetError(err, LLM_ERR_ARGUMENT, "%s has %lld elements, expected %lld",
						   what, (long long) t->shape[0], (long long) dim);
	if (out_dim != NULL)
		*out_dim = (int) t->shape[0];
	return LLM_OK;
}

/*
 * Check that a loaded matrix is f32 or bf16 with int-sized dimensions
 */
static int
CheckMatrix(const LlmTensor *t, const char *what, LlmError *err)
{
	if (t == NULL || t->data == NULL || t->ndim != 2 ||
		(t->dtype != LLM_DTYPE_F32 && t->dtype != LLM_DTYPE_BF16))
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "%s must be a 2-D weight loaded by the CUDA backend", what);
	if (t->shape[0] <= 0 || t->shape[0] > INT_MAX || t->shape[1] <= 0 || t->shape[1] > INT_MAX)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "%s has a bad shape (%lld, %lld)",
						   what, (long long) t->shape[0], (long long) t->shape[1]);
	return LLM_OK;
}

/*
 * Check a KV cache and a layer index against the step's block table
 */
static int
CheckCache(const CudaContext *c, const ComputeKvCache *cache, int layer, LlmError *err)
{
	if (cache == NULL || cache->k == NULL || cache->v == NULL)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "KV cache is not allocated");
	if (cache->n_layers <= 0 || cache->n_kv_heads <= 0 || cache->head_dim <= 0 ||
		cache->n_blocks <= 0)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "KV cache has a bad shape");
	if (layer < 0 || layer >= cache->n_layers)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "layer %d outside the KV cache's %d layers",
						   layer, cache->n_layers);
	if (c->max_block >= cache->n_blocks)
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "block table refers to block %d of a KV cache of %d blocks",
						   c->max_block, cache->n_blocks);
	return LLM_OK;
}

/* offset of one layer in a cache buffer, in floats */
static size_t
LayerOffset(const ComputeKvCache *cache, int layer)
{
	return (size_t) layer * (size_t) cache->n_blocks * COMPUTE_KV_BLOCK *
		(size_t) cache->n_kv_heads * (size_t) cache->head_dim;
}

/*
 * True when environment variable name is set to something other than ""
 * or "0"
 */
static bool
EnvFlag(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && v[0] != '\0' && strcmp(v, "0") != 0;
}

static int
cuda_init(void **ctx, ComputePrecision precision, LlmError *err)
{
	CudaContext *c;
	int			status;

	*ctx = NULL;
	if (precision != COMPUTE_PRECISION_F32 && precision != COMPUTE_PRECISION_BF16)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "unknown compute precision %d", (int) precision);
	c = LlmAllocZero(sizeof(CudaContext), err);
	if (c == NULL)
		return LLM_ERR_NOMEM;
	c->precision = precision;
	c->fusion = !EnvFlag("PGMLOPS_CUDA_NO_FUSION");
	c->max_block = -1;
	status = kernels_context_create(&c->kernels);
	if (status != KERNELS_OK)
	{
		free(c);
		if (status == KERNELS_ERR_NO_DEVICE)
			return LlmSetError(err, LLM_ERR_DEVICE, "no CUDA device: %s", kernels_last_error());
		return KernelsFail(status, "init", err);
	}
	*ctx = c;
	return LLM_OK;
}

static void
cuda_shutdown(void *ctx)
{
	CudaContext *c = ctx;

	if (c == NULL)
		return;
	kernels_context_destroy(c->kernels);
	free(c->row_seq);
	free(c);
}

static int
cuda_alloc(void *ctx, size_t bytes, void **ptr, LlmError *err)
{
	CudaContext *c = ctx;
	int			status = kernels_alloc(c->kernels, bytes, ptr);

	if (status != KERNELS_OK)
	{
		*ptr = NULL;
		if (status == KERNELS_ERR_NOMEM)
			return LlmSetError(err, LLM_ERR_NOMEM, "out of GPU memory allocating %zu bytes", bytes);
		return KernelsFail(status, "alloc", err);
	}
	return LLM_OK;
}

static void
cuda_free(void *ctx, void *ptr)
{
	CudaContext *c = ctx;

	kernels_free(c->kernels, ptr);
}

static int
cuda_upload(void *ctx, void *dst, const void *src, size_t bytes, LlmError *err)
{
	CudaContext *c = ctx;

	CUDA_CALL("upload", kernels_upload(c->kernels, dst, src, bytes));
	return LLM_OK;
}

static int
cuda_download(void *ctx, void *dst, const void *src, size_t bytes, LlmError *err)
{
	CudaContext *c = ctx;

	CUDA_CALL("download", kernels_download(c->kernels, dst, src, bytes));
	return LLM_OK;
}

static int
cuda_sync(void *ctx, LlmError *err)
{
	CudaContext *c = ctx;

	CUDA_CALL("sync", kernels_sync(c->kernels));
	return LLM_OK;
}

/*
 * Upload count elements of src (dtype) to dst as f32 or bf16, converting
 * through a host buffer of CUDA_CONVERT_CHUNK elements
 */
static int
UploadConverted(CudaContext *c, void *dst, LlmDType target, const void *src, LlmDType dtype,
				size_t count, LlmError *err)
{
	size_t		in_size = LlmDTypeSize(dtype);
	size_t		out_size = LlmDTypeSize(target);
	float	   *f32;
	uint16_t   *b16 = NULL;
	int			status = KERNELS_OK;

	f32 = LlmAlloc(CUDA_CONVERT_CHUNK * sizeof(float), err);
	if (f32 == NULL)
		return LLM_ERR_NOMEM;
	if (target == LLM_DTYPE_BF16)
	{
		b16 = LlmAlloc(CUDA_CONVERT_CHUNK * sizeof(uint16_t), err);
		if (b16 == NULL)
		{
			free(f32);
			return LLM_ERR_NOMEM;
		}
	}
	for (size_t done = 0; done < count && status == KERNELS_OK; done += CUDA_CONVERT_CHUNK)
	{
		size_t		n = count - done < CUDA_CONVERT_CHUNK ? count - done : CUDA_CONVERT_CHUNK;
		const void *host = f32;

		LlmToF32(f32, (const char *) src + done * in_size, dtype, n);
		if (b16 != NULL)
		{
			for (size_t i = 0; i < n; i++)
				b16[i] = LlmF32ToBf16(f32[i]);
			host = b16;
		}
		/* synchronous: the host buffers are reused for the next chunk */
		status = kernels_upload(c->kernels, (char *) dst + done * out_size, host, n * out_size);
	}
	free(f32);
	free(b16);
	if (status != KERNELS_OK)
		return KernelsFail(status, "weight upload", err);
	return LLM_OK;
}

/*
 * Copy a weight to the device: matrices in the context's precision,
 * vectors as f32
 */
static int
cuda_weight_load(void *ctx, LlmTensor *dst, const LlmTensor *src, LlmError *err)
{
	CudaContext *c = ctx;
	LlmTensor	t = *src;
	LlmDType	target;
	int64_t		count;
	void	   *dev = NULL;
	int			rc;

	if (t.ndim < 1 || t.ndim > 2)
		return LlmSetError(err, LLM_ERR_UNSUPPORTED, "CUDA weights must have 1 or 2 dimensions, not %d",
						   t.ndim);
	if (t.dtype != LLM_DTYPE_F32 && t.dtype != LLM_DTYPE_F16 && t.dtype != LLM_DTYPE_BF16)
		return LlmSetError(err, LLM_ERR_UNSUPPORTED, "CUDA weights of type %d are not supported",
						   (int) t.dtype);
	for (int i = 0; i < t.ndim; i++)
		if (t.shape[i] <= 0 || t.shape[i] > INT_MAX)
			return LlmSetError(err, LLM_ERR_ARGUMENT, "weight dimension %d is %lld",
							   i, (long long) t.shape[i]);
	count = LlmTensorCount(&t);
	if (count > ((int64_t) 1 << 40))
		return LlmSetError(err, LLM_ERR_ARGUMENT, "weight of %lld elements is too large",
						   (long long) count);
	if (t.data == NULL)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "weight has no data");

	target = (t.ndim == 1 || c->precision == COMPUTE_PRECISION_F32) ?
		LLM_DTYPE_F32 : LLM_DTYPE_BF16;
	rc = cuda_alloc(c, (size_t) count * LlmDTypeSize(target), &dev, err);
	if (rc != LLM_OK)
		return rc;
	if (t.dtype == target)
	{
		int			status = kernels_upload(c->kernels, dev, t.data,
											(size_t) count * LlmDTypeSize(target));

		rc = status == KERNELS_OK ? LLM_OK : KernelsFail(status, "weight upload", err);
	}
	else
		rc = UploadConverted(c, dev, target, t.data, t.dtype, (size_t) count, err);
	if (rc != LLM_OK)
	{
		kernels_free(c->kernels, dev);
		return rc;
	}
	*dst = t;
	dst->dtype = target;
	dst->data = dev;
	return LLM_OK;
}

static void
cuda_weight_free(void *ctx, LlmTensor *t)
{
	CudaContext *c = ctx;

	if (t == NULL)
		return;
	kernels_free(c->kernels, t->data);
	t->data = NULL;
}

/*
 * Validate the step layout, index rows by sequence and copy it to the
 * device
 */
static int
cuda_begin_step(void *ctx, const ComputeBatch *b, LlmError *err)
{
	CudaContext *c = ctx;
	static const int32_t zero = 0;
	KernelsBatch kb;
	int32_t		min_token = 0;
	int32_t		max_token = 0;
	int32_t		max_position = 0;
	int32_t		max_block = -1;
	int			max_len = 0;

	c->have_step = false;
	if (b == NULL || b->n_rows < 0 || b->n_seqs < 0 || b->max_blocks < 0 || b->n_out < 0)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "bad step layout sizes");
	if ((b->n_rows > 0 && (b->tokens == NULL || b->positions == NULL)) ||
		(b->n_seqs > 0 && (b->seq_start == NULL || b->seq_len == NULL)) ||
		(b->n_seqs > 0 && b->max_blocks > 0 && b->block_table == NULL) ||
		(b->n_out > 0 && b->out_rows == NULL))
		return LlmSetError(err, LLM_ERR_ARGUMENT, "step layout is missing an array");
	if ((int64_t) b->n_seqs * b->max_blocks > INT_MAX)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "block table of %d x %d entries is too large",
						   b->n_seqs, b->max_blocks);
	if (b->n_seqs == 0 && b->n_rows > 0)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "%d rows belong to no sequence", b->n_rows);
	if (b->n_seqs > 0 && (b->seq_start[0] != 0 || b->seq_start[b->n_seqs] != b->n_rows))
		return LlmSetError(err, LLM_ERR_ARGUMENT, "sequence starts do not cover the %d rows",
						   b->n_rows);
	for (int s = 0; s < b->n_seqs; s++)
		if (b->seq_start[s + 1] < b->seq_start[s])
			return LlmSetError(err, LLM_ERR_ARGUMENT, "sequence %d ends before it starts", s);

	if (b->n_rows > c->row_seq_cap)
	{
		int32_t    *p = realloc(c->row_seq, (size_t) b->n_rows * sizeof(int32_t));

		if (p == NULL)
			return LlmSetError(err, LLM_ERR_NOMEM, "out of memory for a step of %d rows",
							   b->n_rows);
		c->row_seq = p;
		c->row_seq_cap = b->n_rows;
	}

	for (int s = 0; s < b->n_seqs; s++)
	{
		int32_t		first = b->seq_start[s];
		int32_t		last = b->seq_start[s + 1];
		int32_t		len = b->seq_len[s];
		int32_t		n_blocks;

		if (len < last - first)
			return LlmSetError(err, LLM_ERR_ARGUMENT, "sequence %d has %d rows but length %d",
							   s, last - first, len);
		n_blocks = len > 0 ? (len - 1) / COMPUTE_KV_BLOCK + 1 : 0;
		if (n_blocks > b->max_blocks)
			return LlmSetError(err, LLM_ERR_ARGUMENT,
							   "sequence %d of length %d needs %d blocks, the table has %d",
							   s, len, n_blocks, b->max_blocks);
		for (int i = 0; i < n_blocks; i++)
		{
			int32_t		blk = b->block_table[(int64_t) s * b->max_blocks + i];

			if (blk < 0)
				return LlmSetError(err, LLM_ERR_ARGUMENT, "sequence %d has no block %d", s, i);
			if (blk > max_block)
				max_block = blk;
		}
		if (len > max_len)
			max_len = len;
		for (int32_t r = first; r < last; r++)
		{
			if (b->positions[r] < 0 || b->positions[r] >= len)
				return LlmSetError(err, LLM_ERR_ARGUMENT,
								   "row %d is at position %d outside its sequence of length %d",
								   r, b->positions[r], len);
			c->row_seq[r] = s;
		}
	}
	for (int r = 0; r < b->n_rows; r++)
	{
		if (r == 0 || b->tokens[r] < min_token)
			min_token = b->tokens[r];
		if (r == 0 || b->tokens[r] > max_token)
			max_token = b->tokens[r];
		if (b->positions[r] > max_position)
			max_position = b->positions[r];
	}
	for (int i = 0; i < b->n_out; i++)
		if (b->out_rows[i] < 0 || b->out_rows[i] >= b->n_rows)
			return LlmSetError(err, LLM_ERR_ARGUMENT, "output row %d outside the %d rows",
							   b->out_rows[i], b->n_rows);

	kb.n_rows = b->n_rows;
	kb.n_seqs = b->n_seqs;
	kb.max_blocks = b->max_blocks;
	kb.n_out = b->n_out;
	kb.max_len = max_len;
	kb.tokens = b->tokens;
	kb.positions = b->positions;
	kb.seq_start = b->n_seqs > 0 ? b->seq_start : &zero;
	kb.seq_len = b->seq_len;
	kb.block_table = b->block_table;
	kb.out_rows = b->out_rows;
	kb.row_seq = c->row_seq;
	CUDA_CALL("begin_step", kernels_begin_step(c->kernels, &kb));

	c->n_rows = b->n_rows;
	c->n_seqs = b->n_seqs;
	c->n_out = b->n_out;
	c->min_token = min_token;
	c->max_token = max_token;
	c->max_position = max_position;
	c->max_block = max_block;
	c->have_step = true;
	return LLM_OK;
}

/*
 * out(n, o) = x(n, i) . w(o, i)^T
 */
static int
cuda_matmul(void *ctx, float *out, const float *x, const LlmTensor *w, int n, LlmError *err)
{
	CudaContext *c = ctx;
	int			rc = CheckMatrix(w, "matmul weight", err);

	if (rc != LLM_OK)
		return rc;
	if (n < 0)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "matmul of %d rows", n);
	CUDA_CALL("matmul", kernels_matmul(c->kernels, out, x, w->data, w->dtype == LLM_DTYPE_BF16,
									   n, (int) w->shape[0], (int) w->shape[1]));
	return LLM_OK;
}

/*
 * out(n, o) += x(n, i) . w(o, i)^T
 */
static int
cuda_matmul_add(void *ctx, float *out, const float *x, const LlmTensor *w, int n,
				LlmError *err)
{
	CudaContext *c = ctx;
	int			rc = CheckMatrix(w, "matmul_add weight", err);

	if (rc != LLM_OK)
		return rc;
	if (n < 0)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "matmul_add of %d rows", n);
	CUDA_CALL("matmul_add", kernels_matmul_add(c->kernels, out, x, w->data,
											   w->dtype == LLM_DTYPE_BF16, n,
											   (int) w->shape[0], (int) w->shape[1],
											   c->fusion));
	return LLM_OK;
}

/*
 * Check that b is a loaded matrix of a's dtype and column count (and row
 * count when same_rows)
 */
static int
CheckSibling(const LlmTensor *a, const LlmTensor *b, const char *what, bool same_rows,
			 LlmError *err)
{
	int			rc = CheckMatrix(b, what, err);

	if (rc != LLM_OK)
		return rc;
	if (b->dtype != a->dtype || b->shape[1] != a->shape[1] ||
		(same_rows && b->shape[0] != a->shape[0]))
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "%s (%lld, %lld) does not match the other weight (%lld, %lld)",
						   what, (long long) b->shape[0], (long long) b->shape[1],
						   (long long) a->shape[0], (long long) a->shape[1]);
	return LLM_OK;
}

/*
 * q(n, oq), k(n, ok), v(n, ov) = x(n, i) . wq^T, wk^T, wv^T
 */
static int
cuda_matmul_qkv(void *ctx, float *q, float *k, float *v, const float *x, const LlmTensor *wq,
				const LlmTensor *wk, const LlmTensor *wv, int n, LlmError *err)
{
	CudaContext *c = ctx;
	int			rc = CheckMatrix(wq, "q weight", err);

	if (rc == LLM_OK)
		rc = CheckSibling(wq, wk, "k weight", false, err);
	if (rc == LLM_OK)
		rc = CheckSibling(wq, wv, "v weight", false, err);
	if (rc != LLM_OK)
		return rc;
	if (n < 0)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "matmul_qkv of %d rows", n);
	CUDA_CALL("matmul_qkv", kernels_matmul_qkv(c->kernels, q, k, v, x, wq->data, wk->data,
											   wv->data, wq->dtype == LLM_DTYPE_BF16, n,
											   (int) wq->shape[0], (int) wk->shape[0],
											   (int) wv->shape[0], (int) wq->shape[1],
											   c->fusion));
	return LLM_OK;
}

/*
 * out(n, o) = silu(x . w_gate^T) * (x . w_up^T)
 */
static int
cuda_matmul_swiglu(void *ctx, float *out, const float *x, const LlmTensor *w_gate,
				   const LlmTensor *w_up, int n, LlmError *err)
{
	CudaContext *c = ctx;
	int			rc = CheckMatrix(w_gate, "gate weight", err);

	if (rc == LLM_OK)
		rc = CheckSibling(w_gate, w_up, "up weight", true, err);
	if (rc != LLM_OK)
		return rc;
	if (n < 0)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "matmul_swiglu of %d rows", n);
	CUDA_CALL("matmul_swiglu", kernels_matmul_swiglu(c->kernels, out, x, w_gate->data,
													 w_up->data,
													 w_gate->dtype == LLM_DTYPE_BF16, n,
													 (int) w_gate->shape[0],
													 (int) w_gate->shape[1], c->fusion));
	return LLM_OK;
}

/*
 * x(n, dim) += bias(dim)
 */
static int
cuda_add_bias(void *ctx, float *x, const LlmTensor *bias, int n, LlmError *err)
{
	CudaContext *c = ctx;
	int			dim = 0;
	int			rc = CheckVector(bias, "bias", -1, &dim, err);

	if (rc != LLM_OK)
		return rc;
	if (n < 0)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "add_bias of %d rows", n);
	CUDA_CALL("add_bias", kernels_add_bias(c->kernels, x, bias->data, n, dim));
	return LLM_OK;
}

/*
 * x(count) += y(count)
 */
static int
cuda_add(void *ctx, float *x, const float *y, size_t count, LlmError *err)
{
	CudaContext *c = ctx;

	CUDA_CALL("add", kernels_add(c->kernels, x, y, count));
	return LLM_OK;
}

/*
 * out(n, dim) = x / rms(x) * w
 */
static int
cuda_rmsnorm(void *ctx, float *out, const float *x, const LlmTensor *w, int n, float eps,
			 LlmError *err)
{
	CudaContext *c = ctx;
	int			dim = 0;
	int			rc = CheckVector(w, "rmsnorm weight", -1, &dim, err);

	if (rc != LLM_OK)
		return rc;
	if (n < 0)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "rmsnorm of %d rows", n);
	CUDA_CALL("rmsnorm", kernels_rmsnorm(c->kernels, out, x, w->data, n, dim, eps));
	return LLM_OK;
}

/*
 * out(n, dim) = (x - mean) / sqrt(var + eps) * w + b
 */
static int
cuda_layernorm(void *ctx, float *out, const float *x, const LlmTensor *w, const LlmTensor *b,
			   int n, float eps, LlmError *err)
{
	CudaContext *c = ctx;
	int			dim = 0;
	int			rc = CheckVector(w, "layernorm weight", -1, &dim, err);

	if (rc == LLM_OK && b != NULL)
		rc = CheckVector(b, "layernorm bias", dim, NULL, err);
	if (rc != LLM_OK)
		return rc;
	if (n < 0)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "layernorm of %d rows", n);
	CUDA_CALL("layernorm", kernels_layernorm(c->kernels, out, x, w->data,
											 b != NULL ? b->data : NULL, n, dim, eps));
	return LLM_OK;
}

/*
 * Rotary embedding of q(n_rows, n_heads, head_dim) and k(n_rows,
 * n_kv_heads, head_dim) at the step's positions
 */
static int
cuda_rope(void *ctx, float *q, float *k, int n_heads, int n_kv_heads, int head_dim,
		  const float *inv_freq, LlmError *err)
{
	CudaContext *c = ctx;
	int			rc = NeedStep(c, "rope", err);

	if (rc != LLM_OK)
		return rc;
	if (n_heads <= 0 || n_kv_heads < 0 || head_dim <= 0 || head_dim % 2 != 0)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "rope of %d/%d heads of dimension %d",
						   n_heads, n_kv_heads, head_dim);
	CUDA_CALL("rope", kernels_rope(c->kernels, q, k, n_heads, n_kv_heads, head_dim, inv_freq));
	return LLM_OK;
}

/*
 * Store k, v (n_rows, n_kv_heads, head_dim) at the step's cache slots
 */
static int
cuda_kv_store(void *ctx, ComputeKvCache *cache, int layer, const float *k, const float *v,
			  LlmError *err)
{
	CudaContext *c = ctx;
	size_t		off;
	int			rc = NeedStep(c, "kv_store", err);

	if (rc == LLM_OK)
		rc = CheckCache(c, cache, layer, err);
	if (rc != LLM_OK)
		return rc;
	LowerLimit(c, LIMIT_BLOCK, cache->n_blocks);
	off = LayerOffset(cache, layer);
	CUDA_CALL("kv_store", kernels_kv_store(c->kernels, cache->k + off, cache->v + off, k, v,
										   cache->n_kv_heads, cache->head_dim));
	return LLM_OK;
}

/*
 * out(n_rows, n_heads, head_dim) = attention of each row over its
 * sequence's cache
 */
static int
cuda_attention(void *ctx, float *out, const float *q, const ComputeKvCache *cache, int layer,
			   int n_heads, bool causal, int sliding_window, float scale, LlmError *err)
{
	CudaContext *c = ctx;
	size_t		off;
	int			rc = NeedStep(c, "attention", err);

	if (rc == LLM_OK)
		rc = CheckCache(c, cache, layer, err);
	if (rc != LLM_OK)
		return rc;
	if (n_heads <= 0 || n_heads % cache->n_kv_heads != 0)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "%d heads do not share %d KV heads evenly",
						   n_heads, cache->n_kv_heads);
	if (cache->head_dim > 256)
		return LlmSetError(err, LLM_ERR_UNSUPPORTED,
						   "CUDA attention supports head_dim up to 256, not %d", cache->head_dim);
	LowerLimit(c, LIMIT_BLOCK, cache->n_blocks);
	off = LayerOffset(cache, layer);
	CUDA_CALL("attention", kernels_attention(c->kernels, out, q, cache->k + off, cache->v + off,
											 n_heads, cache->n_kv_heads, cache->head_dim,
											 causal, sliding_window, scale));
	return LLM_OK;
}

/*
 * gate(count) = silu(gate) * up
 */
static int
cuda_silu_mul(void *ctx, float *gate, const float *up, size_t count, LlmError *err)
{
	CudaContext *c = ctx;

	CUDA_CALL("silu_mul", kernels_silu_mul(c->kernels, gate, up, count));
	return LLM_OK;
}

/*
 * x(count) = gelu(x)
 */
static int
cuda_gelu(void *ctx, float *x, size_t count, bool tanh_approx, LlmError *err)
{
	CudaContext *c = ctx;

	CUDA_CALL("gelu", kernels_gelu(c->kernels, x, count, tanh_approx));
	return LLM_OK;
}

/*
 * out(n_rows, dim) (+)= table[index of row]
 */
static int
cuda_embed(void *ctx, float *out, const LlmTensor *table, ComputeIndex index, bool accumulate,
		   LlmError *err)
{
	CudaContext *c = ctx;
	int64_t		lo;
	int64_t		hi;
	int			kind;
	int			rc = NeedStep(c, "embed", err);

	if (rc == LLM_OK)
		rc = CheckMatrix(table, "embedding table", err);
	if (rc != LLM_OK)
		return rc;
	switch (index)
	{
		case COMPUTE_INDEX_TOKENS:
			kind = KERNELS_INDEX_TOKENS;
			lo = c->min_token;
			hi = c->max_token;
			break;
		case COMPUTE_INDEX_POSITIONS:
			kind = KERNELS_INDEX_POSITIONS;
			lo = 0;
			hi = c->max_position;
			break;
		case COMPUTE_INDEX_ZERO:
			kind = KERNELS_INDEX_ZERO;
			lo = 0;
			hi = 0;
			break;
		default:
			return LlmSetError(err, LLM_ERR_ARGUMENT, "unknown embedding index %d", (int) index);
	}
	if (c->n_rows > 0 && (lo < 0 || hi >= table->shape[0]))
		return LlmSetError(err, LLM_ERR_ARGUMENT, "index %lld outside the table of %lld rows",
						   (long long) (lo < 0 ? lo : hi), (long long) table->shape[0]);
	if (index == COMPUTE_INDEX_TOKENS)
		LowerLimit(c, LIMIT_TOKEN, table->shape[0]);
	else if (index == COMPUTE_INDEX_POSITIONS)
		LowerLimit(c, LIMIT_POSITION, table->shape[0]);
	CUDA_CALL("embed", kernels_embed(c->kernels, out, table->data,
									 table->dtype == LLM_DTYPE_BF16, (int) table->shape[1],
									 kind, accumulate));
	return LLM_OK;
}

/*
 * out(n_out, dim) = x[out_rows]
 */
static int
cuda_gather_rows(void *ctx, float *out, const float *x, int dim, LlmError *err)
{
	CudaContext *c = ctx;
	int			rc = NeedStep(c, "gather_rows", err);

	if (rc != LLM_OK)
		return rc;
	if (dim <= 0)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "gather_rows of dimension %d", dim);
	CUDA_CALL("gather_rows", kernels_gather_rows(c->kernels, out, x, dim));
	return LLM_OK;
}

/*
 * out(n_seqs, dim): mean of each sequence's rows, or its first row
 */
static int
cuda_pool(void *ctx, float *out, const float *x, int dim, bool mean, LlmError *err)
{
	CudaContext *c = ctx;
	int			rc = NeedStep(c, "pool", err);

	if (rc != LLM_OK)
		return rc;
	if (dim <= 0)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "pool of dimension %d", dim);
	CUDA_CALL("pool", kernels_pool(c->kernels, out, x, dim, mean));
	return LLM_OK;
}

/*
 * x(n, dim) /= max(||x||, 1e-12) per row
 */
static int
cuda_l2norm(void *ctx, float *x, int n, int dim, LlmError *err)
{
	CudaContext *c = ctx;

	if (n < 0 || dim <= 0)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "l2norm of %d rows of dimension %d", n, dim);
	CUDA_CALL("l2norm", kernels_l2norm(c->kernels, x, n, dim));
	return LLM_OK;
}

/*
 * ids(n), host memory, = argmax of each logits row (vocab)
 */
static int
cuda_argmax(void *ctx, int32_t *ids, const float *logits, int n, int vocab, LlmError *err)
{
	CudaContext *c = ctx;

	if (n < 0 || vocab <= 0)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "argmax of %d rows of %d logits", n, vocab);
	CUDA_CALL("argmax", kernels_argmax(c->kernels, ids, logits, n, vocab));
	return LLM_OK;
}

/*
 * Replay the step recorded under key, or start recording it, or let it run
 * directly (context.cu decides)
 */
static int
cuda_graph_begin(void *ctx, uint64_t key, bool *replayed, LlmError *err)
{
	CudaContext *c = ctx;
	int64_t		need[KERNELS_GRAPH_LIMITS];
	int			replay = 0;
	int			rc = NeedStep(c, "graph_begin", err);

	*replayed = false;
	if (rc != LLM_OK)
		return rc;
	need[LIMIT_TOKEN] = c->min_token < 0 ? INT64_MAX : c->max_token;
	need[LIMIT_POSITION] = c->max_position;
	need[LIMIT_BLOCK] = c->max_block;
	c->step_failed = false;
	for (int k = 0; k < KERNELS_GRAPH_LIMITS; k++)
		c->limits[k] = INT64_MAX;
	CUDA_CALL("graph replay", kernels_graph_begin(c->kernels, key, need, &replay));
	*replayed = replay != 0;
	return LLM_OK;
}

/*
 * Close the step: keep and launch a recording, dropping it when an op
 * failed (whose error then stands)
 */
static int
cuda_graph_end(void *ctx, uint64_t key, LlmError *err)
{
	CudaContext *c = ctx;
	bool		failed = c->step_failed;
	int			status;

	c->step_failed = false;
	status = kernels_graph_end(c->kernels, key, failed, c->limits);
	if (status != KERNELS_OK && !failed)
		return KernelsFail(status, "graph recording", err);
	return LLM_OK;
}

/*
 * Steps replayed from a recording so far (for tests)
 */
long long
ComputeCudaGraphReplays(void *ctx)
{
	CudaContext *c = ctx;

	return c != NULL ? kernels_graph_replays(c->kernels) : 0;
}

/*
 * The step ops as the table holds them: a failure is noted for graph_end
 */
static int
Track(void *ctx, int rc)
{
	if (rc != LLM_OK)
		((CudaContext *) ctx)->step_failed = true;
	return rc;
}

#define TRACKED(op, params, args) \
	static int tracked_##op params { return Track(ctx, cuda_##op args); }

TRACKED(matmul, (void *ctx, float *out, const float *x, const LlmTensor *w, int n,
				 LlmError *err), (ctx, out, x, w, n, err))
TRACKED(add_bias, (void *ctx, float *x, const LlmTensor *bias, int n, LlmError *err),
		(ctx, x, bias, n, err))
TRACKED(add, (void *ctx, float *x, const float *y, size_t count, LlmError *err),
		(ctx, x, y, count, err))
TRACKED(rmsnorm, (void *ctx, float *out, const float *x, const LlmTensor *w, int n, float eps,
				  LlmError *err), (ctx, out, x, w, n, eps, err))
TRACKED(layernorm, (void *ctx, float *out, const float *x, const LlmTensor *w,
					const LlmTensor *b, int n, float eps, LlmError *err),
		(ctx, out, x, w, b, n, eps, err))
TRACKED(rope, (void *ctx, float *q, float *k, int n_heads, int n_kv_heads, int head_dim,
			   const float *inv_freq, LlmError *err),
		(ctx, q, k, n_heads, n_kv_heads, head_dim, inv_freq, err))
TRACKED(kv_store, (void *ctx, ComputeKvCache *cache, int layer, const float *k,
				   const float *v, LlmError *err), (ctx, cache, layer, k, v, err))
TRACKED(attention, (void *ctx, float *out, const float *q, const ComputeKvCache *cache,
					int layer, int n_heads, bool causal, int sliding_window, float scale,
					LlmError *err),
		(ctx, out, q, cache, layer, n_heads, causal, sliding_window, scale, err))
TRACKED(silu_mul, (void *ctx, float *gate, const float *up, size_t count, LlmError *err),
		(ctx, gate, up, count, err))
TRACKED(gelu, (void *ctx, float *x, size_t count, bool tanh_approx, LlmError *err),
		(ctx, x, count, tanh_approx, err))
TRACKED(embed, (void *ctx, float *out, const LlmTensor *table, ComputeIndex index,
				bool accumulate, LlmError *err), (ctx, out, table, index, accumulate, err))
TRACKED(gather_rows, (void *ctx, float *out, const float *x, int dim, LlmError *err),
		(ctx, out, x, dim, err))
TRACKED(pool, (void *ctx, float *out, const float *x, int dim, bool mean, LlmError *err),
		(ctx, out, x, dim, mean, err))
TRACKED(l2norm, (void *ctx, float *x, int n, int dim, LlmError *err), (ctx, x, n, dim, err))
TRACKED(argmax, (void *ctx, int32_t *ids, const float *logits, int n, int vocab,
				 LlmError *err), (ctx, ids, logits, n, vocab, err))
TRACKED(matmul_add, (void *ctx, float *out, const float *x, const LlmTensor *w, int n,
					 LlmError *err), (ctx, out, x, w, n, err))
TRACKED(matmul_qkv, (void *ctx, float *q, float *k, float *v, const float *x,
					 const LlmTensor *wq, const LlmTensor *wk, const LlmTensor *wv, int n,
					 LlmError *err), (ctx, q, k, v, x, wq, wk, wv, n, err))
TRACKED(matmul_swiglu, (void *ctx, float *out, const float *x, const LlmTensor *w_gate,
						const LlmTensor *w_up, int n, LlmError *err),
		(ctx, out, x, w_gate, w_up, n, err))

const ComputeOps ComputeCudaOps = {
	.name = "cuda",
	.init = cuda_init,
	.shutdown = cuda_shutdown,
	.alloc = cuda_alloc,
	.free = cuda_free,
	.upload = cuda_upload,
	.download = cuda_download,
	.sync = cuda_sync,
	.weight_load = cuda_weight_load,
	.weight_free = cuda_weight_free,
	.begin_step = cuda_begin_step,
	.matmul = tracked_matmul,
	.add_bias = tracked_add_bias,
	.add = tracked_add,
	.rmsnorm = tracked_rmsnorm,
	.layernorm = tracked_layernorm,
	.rope = tracked_rope,
	.kv_store = tracked_kv_store,
	.attention = tracked_attention,
	.silu_mul = tracked_silu_mul,
	.gelu = tracked_gelu,
	.embed = tracked_embed,
	.gather_rows = tracked_gather_rows,
	.pool = tracked_pool,
	.l2norm = tracked_l2norm,
	.argmax = tracked_argmax,
	.graph_begin = cuda_graph_begin,
	.graph_end = cuda_graph_end,
	.matmul_add = tracked_matmul_add,
	.matmul_qkv = tracked_matmul_qkv,
	.matmul_swiglu = tracked_matmul_swiglu,
};

#endif							/* USE_CUDA */
