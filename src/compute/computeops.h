/*-------------------------------------------------------------------------
 *
 * computeops.h
 *	  The batch-first operations table that the forward pass is written
 *	  against, with a CPU backend (compute_cpu.c, the reference) and a
 *	  CUDA backend (compute_cuda.c over kernels/).
 *
 * Plain C, no PostgreSQL headers: part of the engine.
 *
 * Every op works on a batch of rows (tokens) that may belong to many
 * sequences at different positions: a prefill chunk for some sequences
 * and one decode token for others, in one step.  begin_step() hands the
 * backend the step's layout (ComputeBatch) once; the ops that need
 * positions, sequence boundaries or KV-cache slots read it from there.
 *
 * Memory: activation buffers are f32 and live on the backend's device
 * (ComputeOps.alloc); for the CPU backend that is ordinary host memory.
 * Weights are LlmTensors made device-resident by weight_load (the CPU
 * backend uses the memory-mapped data in place).
 *
 * Every op returns LLM_OK or an LLM_ERR_* code and fills err.  Ops may run
 * asynchronously (CUDA stream order); download() and sync() wait.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMLOPS_COMPUTE_COMPUTEOPS_H
#define PGMLOPS_COMPUTE_COMPUTEOPS_H

#include "llm/llm.h"

/*
 * Paged KV cache: a pool of blocks of COMPUTE_KV_BLOCK token slots, shared
 * by all sequences.  A sequence's logical block b lives in physical block
 * block_table[s * max_blocks + b].  k and v are device buffers laid out as
 * (n_layers, n_blocks, COMPUTE_KV_BLOCK, n_kv_heads, head_dim), f32.
 */
#define COMPUTE_KV_BLOCK 16

typedef struct ComputeKvCache
{
	int			n_layers;
	int			n_kv_heads;
	int			head_dim;
	int			n_blocks;
	float	   *k;
	float	   *v;
} ComputeKvCache;

/*
 * One step's layout, in host memory; begin_step copies what it needs.
 * Rows of one sequence are contiguous and at consecutive positions:
 * sequence s owns rows seq_start[s] .. seq_start[s+1]-1, and after this
 * step holds seq_len[s] tokens, so its last row is at position
 * seq_len[s] - 1.
 */
typedef struct ComputeBatch
{
	int			n_rows;
	int			n_seqs;
	const int32_t *tokens;		/* (n_rows) token ids */
	const int32_t *positions;	/* (n_rows) position of each row */
	const int32_t *seq_start;	/* (n_seqs + 1) */
	const int32_t *seq_len;		/* (n_seqs) */
	const int32_t *block_table; /* (n_seqs, max_blocks) physical blocks */
	int			max_blocks;
	int			n_out;			/* rows whose output is wanted (logits) */
	const int32_t *out_rows;	/* (n_out) row indices */
} ComputeBatch;

/* what embed() indexes the table with */
typedef enum ComputeIndex
{
	COMPUTE_INDEX_TOKENS,		/* the batch's token ids */
	COMPUTE_INDEX_POSITIONS,	/* the batch's positions */
	COMPUTE_INDEX_ZERO			/* row 0 for every row (BERT token type 0) */
} ComputeIndex;

typedef enum ComputePrecision
{
	COMPUTE_PRECISION_F32,		/* weights f32: bit-for-bit-ish with the CPU */
	COMPUTE_PRECISION_BF16		/* weights and GEMM operands bf16, f32 accumulation */
} ComputePrecision;

typedef struct ComputeOps
{
	const char *name;

	/* create a backend context (device, stream, BLAS handle) */
	int			(*init) (void **ctx, ComputePrecision precision, LlmError *err);
	void		(*shutdown) (void *ctx);

	/* device memory */
	int			(*alloc) (void *ctx, size_t bytes, void **ptr, LlmError *err);
	void		(*free) (void *ctx, void *ptr);
	int			(*upload) (void *ctx, void *dst, const void *src, size_t bytes, LlmError *err);
	int			(*download) (void *ctx, void *dst, const void *src, size_t bytes, LlmError *err);
	int			(*sync) (void *ctx, LlmError *err);

	/*
	 * Make a weight tensor usable by this backend.  Matrices (ndim 2) keep
	 * or take the context's precision; vectors (norms, biases) become f32.
	 * The CPU backend points at src->data when no conversion is needed.
	 * weight_free releases what weight_load allocated.
	 */
	int			(*weight_load) (void *ctx, LlmTensor *dst, const LlmTensor *src, LlmError *err);
	void		(*weight_free) (void *ctx, LlmTensor *t);

	/* start a step: copy the layout to the device */
	int			(*begin_step) (void *ctx, const ComputeBatch *batch, LlmError *err);

	/* out(n, rows of w) = x(n, cols of w) . w^T; w is a loaded weight */
	int			(*matmul) (void *ctx, float *out, const float *x, const LlmTensor *w,
						   int n, LlmError *err);
	/* x(n, dim) += bias(dim) per row */
	int			(*add_bias) (void *ctx, float *x, const LlmTensor *bias, int n, LlmError *err);
	/* x(count) += y(count) */
	int			(*add) (void *ctx, float *x, const float *y, size_t count, LlmError *err);
	/* out(n, dim) = x / rms(x) * w, per row */
	int			(*rmsnorm) (void *ctx, float *out, const float *x, const LlmTensor *w,
							int n, float eps, LlmError *err);
	/* out(n, dim) = (x - mean) / sqrt(var + eps) * w + b, per row */
	int			(*layernorm) (void *ctx, float *out, const float *x, const LlmTensor *w,
							  const LlmTensor *b, int n, float eps, LlmError *err);

	/*
	 * Rotary embedding in place, rotate-half layout (pairs i, i + d/2),
	 * at the batch's positions.  q(n_rows, n_heads, head_dim),
	 * k(n_rows, n_kv_heads, head_dim); inv_freq(head_dim / 2) is a device
	 * buffer.
	 */
	int			(*rope) (void *ctx, float *q, float *k, int n_heads, int n_kv_heads,
						 int head_dim, const float *inv_freq, LlmError *err);

	/* write k, v (n_rows, n_kv_heads, head_dim) into the batch's cache slots */
	int			(*kv_store) (void *ctx, ComputeKvCache *cache, int layer,
							 const float *k, const float *v, LlmError *err);

	/*
	 * out(n_rows, n_heads, head_dim) = softmax(q k^T * scale) v over the
	 * cache of each row's sequence: positions 0..p with causal (p = the
	 * row's position; only the last sliding_window of them when that is
	 * > 0), else all seq_len positions.  GQA: head h reads kv head
	 * h / (n_heads / n_kv_heads).
	 */
	int			(*attention) (void *ctx, float *out, const float *q,
							  const ComputeKvCache *cache, int layer, int n_heads,
							  bool causal, int sliding_window, float scale,
							  LlmError *err);

	/* gate(n, dim) = silu(gate) * up */
	int			(*silu_mul) (void *ctx, float *gate, const float *up, size_t count, LlmError *err);
	/* x = gelu(x), exact erf form (tanh form when tanh_approx) */
	int			(*gelu) (void *ctx, float *x, size_t count, bool tanh_approx, LlmError *err);

	/* out(n_rows, dim) (+)= table[index] per row */
	int			(*embed) (void *ctx, float *out, const LlmTensor *table, ComputeIndex index,
						  bool accumulate, LlmError *err);

	/* out(n_out, dim) = x[out_rows[i]] */
	int			(*gather_rows) (void *ctx, float *out, const float *x, int dim, LlmError *err);

	/* out(n_seqs, dim): mean over each sequence's rows, or its first row */
	int			(*pool) (void *ctx, float *out, const float *x, int dim, bool mean,
						 LlmError *err);

	/* x(n, dim) /= ||x|| per row */
	int			(*l2norm) (void *ctx, float *x, int n, int dim, LlmError *err);

	/* ids[i] = argmax of logits row i, (n, vocab); ids is host memory */
	int			(*argmax) (void *ctx, int32_t *ids, const float *logits, int n, int vocab,
						   LlmError *err);

	/*
	 * Optional (NULL where unsupported): record the ops issued between
	 * graph_begin and graph_end once, as a unit keyed by the step's shape,
	 * and replay it on later steps with the same key.  graph_begin sets
	 * *replayed when it launched a recorded unit; the caller then issues
	 * no ops and calls graph_end at once.  Only steps whose ops take the
	 * same arguments for equal keys may use it: the caller keys on every
	 * count it passes, and the backend reads everything else (tokens,
	 * positions, block tables, lengths) from the device copy that
	 * begin_step refreshed.  graph_end returns the error of a failed
	 * recording and forgets that key.
	 */
	int			(*graph_begin) (void *ctx, uint64_t key, bool *replayed, LlmError *err);
	int			(*graph_end) (void *ctx, uint64_t key, LlmError *err);

	/*
	 * Optional fused products (NULL where unsupported), each equal to the
	 * ops it replaces up to rounding; the decoder uses them when present.
	 * x is never one of the outputs.
	 */
	/* out(n, rows of w) += x(n, cols of w) . w^T (matmul, then add) */
	int			(*matmul_add) (void *ctx, float *out, const float *x, const LlmTensor *w,
							   int n, LlmError *err);
	/*
	 * q(n, rows of wq), k(n, rows of wk), v(n, rows of wv) = x(n, cols) .
	 * wq^T, wk^T, wv^T: three matmuls of one x (the three weights have the
	 * same columns)
	 */
	int			(*matmul_qkv) (void *ctx, float *q, float *k, float *v, const float *x,
							   const LlmTensor *wq, const LlmTensor *wk, const LlmTensor *wv,
							   int n, LlmError *err);
	/*
	 * out(n, rows of w_gate) = silu(x . w_gate^T) * (x . w_up^T): two
	 * matmuls of one x and silu_mul (w_gate and w_up have the same shape)
	 */
	int			(*matmul_swiglu) (void *ctx, float *out, const float *x,
								  const LlmTensor *w_gate, const LlmTensor *w_up, int n,
								  LlmError *err);
} ComputeOps;

extern const ComputeOps ComputeCpuOps;
#ifdef USE_CUDA
extern const ComputeOps ComputeCudaOps;

/* compute_cuda.c: decode steps replayed from a recorded graph (tests) */
extern long long ComputeCudaGraphReplays(void *ctx);
#endif

/* compute_cpu.c: BLAS threads for the CPU backend (1 inside PostgreSQL) */
extern void ComputeCpuSetThreads(int n);

/*
 * compute_cpu.c: the OpenBLAS kernel family in use (OPENBLAS_CORETYPE or
 * its own CPU detection), and whether this CPU could run AVX2 kernels that
 * it does not use (an older family picked on an unknown CPU)
 */
extern const char *ComputeCpuBlasCore(void);
extern bool ComputeCpuBlasUnderused(void);

#endif							/* PGMLOPS_COMPUTE_COMPUTEOPS_H */
