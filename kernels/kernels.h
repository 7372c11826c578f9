/*
 * kernels.h
 *	  Plain-C interface to the CUDA kernels.
 *
 * No PostgreSQL and no CUDA headers: only pointers, sizes and int status
 * codes cross this line.  Every entry returns KERNELS_OK or an error code;
 * kernels_last_error() describes the most recent failure of this thread.
 *
 * The compute entries run on the stream of a KernelsContext and are
 * asynchronous unless they say otherwise.  Pointers named as device
 * pointers must come from kernels_alloc; float tensors are row-major f32
 * with the shape in the comment.  Entries check sizes, not the contents of
 * device memory: the caller (compute_cuda.c) validates indices on the host.
 */
#ifndef PGMLOPS_KERNELS_KERNELS_H
#define PGMLOPS_KERNELS_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C"
{
#endif

#define KERNELS_OK 0
#define KERNELS_ERR_NO_DEVICE 1
#define KERNELS_ERR_CUDA 2
#define KERNELS_ERR_ARGUMENT 3
#define KERNELS_ERR_NOMEM 4

/* tokens per KV-cache block (COMPUTE_KV_BLOCK) */
#define KERNELS_KV_BLOCK 16

/* what kernels_embed indexes the table with (ComputeIndex) */
#define KERNELS_INDEX_TOKENS 0
#define KERNELS_INDEX_POSITIONS 1
#define KERNELS_INDEX_ZERO 2

typedef struct KernelsContext KernelsContext;

/* one step's layout in host memory, validated by the caller */
typedef struct KernelsBatch
{
	int			n_rows;
	int			n_seqs;
	int			max_blocks;
	int			n_out;
	int			max_len;		/* largest seq_len */
	const int32_t *tokens;		/* (n_rows) */
	const int32_t *positions;	/* (n_rows) */
	const int32_t *seq_start;	/* (n_seqs + 1) */
	const int32_t *seq_len;		/* (n_seqs) */
	const int32_t *block_table; /* (n_seqs, max_blocks) */
	const int32_t *out_rows;	/* (n_out) */
	const int32_t *row_seq;		/* (n_rows) sequence of each row */
} KernelsBatch;

/* device.cu: number of usable devices, and the name of device 0 */
extern int	kernels_device_probe(int *count, char *name, size_t namelen);

/* device.cu: text of the last failure on this thread */
extern const char *kernels_last_error(void);

/* context.cu: stream and cuBLAS handle on device 0 */
extern int	kernels_context_create(KernelsContext **ctx);
extern void kernels_context_destroy(KernelsContext *ctx);

/* context.cu: device memory and copies (upload, download and sync wait) */
extern int	kernels_alloc(KernelsContext *ctx, size_t bytes, void **ptr);
extern void kernels_free(KernelsContext *ctx, void *ptr);
extern int	kernels_upload(KernelsContext *ctx, void *dst, const void *src, size_t bytes);
extern int	kernels_download(KernelsContext *ctx, void *dst, const void *src, size_t bytes);
extern int	kernels_sync(KernelsContext *ctx);

/* context.cu: copy the step's layout to the device */
extern int	kernels_begin_step(KernelsContext *ctx, const KernelsBatch *batch);

/*
 * context.cu: CUDA graphs of decode steps (ComputeOps.graph_begin/end).
 * kernels_graph_begin either replays the step recorded under key (sets
 * *replayed), opens a recording of the ops issued until kernels_graph_end
 * (when the key's previous step ran directly without error: that run
 * reserved every scratch buffer), or lets the step run directly.  A
 * recording replays only while the step layout has the same shape and
 * every need[k] of the step (its largest token id, position and KV block)
 * is below the limits[k] that kernels_graph_end stored with it (the bounds
 * the recorded ops checked).  failed: an op between the two failed, so the
 * recording is dropped (a direct run does not count as clean).
 * kernels_graph_end fails when the driver would not record or replay the
 * step: nothing of it ran, and graphs stay off for the context.
 */
#define KERNELS_GRAPH_LIMITS 3
extern int	kernels_graph_begin(KernelsContext *ctx, uint64_t key, const int64_t *need,
								int *replayed);
extern int	kernels_graph_end(KernelsContext *ctx, uint64_t key, int failed,
							  const int64_t *limits);

/* context.cu: steps replayed from a recording so far */
extern long long kernels_graph_replays(KernelsContext *ctx);

/* matmul.cu: out(n, o) = x(n, i) . w(o, i)^T; w f32, or bf16 if w_bf16 */
extern int	kernels_matmul(KernelsContext *ctx, float *out, const float *x, const void *w,
						   int w_bf16, int n, int o, int i);

/*
 * matmul.cu: fused products of the decoder, w f32 or bf16 like
 * kernels_matmul.  Few rows take one gemv.cu launch; fused == 0 runs the
 * unfused kernels (plain products, then add or silu_mul) at every size.
 *	matmul_add: out(n, o) += x(n, i) . w(o, i)^T
 *	matmul_qkv: q(n, oq), k(n, ok), v(n, ov) = x(n, i) . wq^T, wk^T, wv^T
 *	matmul_swiglu: out(n, o) = silu(x(n, i) . w_gate(o, i)^T) * (x . w_up(o, i)^T)
 */
extern int	kernels_matmul_add(KernelsContext *ctx, float *out, const float *x, const void *w,
							   int w_bf16, int n, int o, int i, int fused);
extern int	kernels_matmul_qkv(KernelsContext *ctx, float *q, float *k, float *v,
							   const float *x, const void *wq, const void *wk, const void *wv,
							   int w_bf16, int n, int oq, int ok, int ov, int i, int fused);
extern int	kernels_matmul_swiglu(KernelsContext *ctx, float *out, const float *x,
								  const void *w_gate, const void *w_up, int w_bf16, int n,
								  int o, int i, int fused);

/* add.cu: x(n, dim) += bias(dim) per row */
extern int	kernels_add_bias(KernelsContext *ctx, float *x, const float *bias, int n, int dim);

/* add.cu: x(count) += y(count) */
extern int	kernels_add(KernelsContext *ctx, float *x, const float *y, size_t count);

/* norm.cu: out(n, dim) = x / rms(x) * w */
extern int	kernels_rmsnorm(KernelsContext *ctx, float *out, const float *x, const float *w,
							int n, int dim, float eps);

/* norm.cu: out(n, dim) = (x - mean) / sqrt(var + eps) * w + b */
extern int	kernels_layernorm(KernelsContext *ctx, float *out, const float *x, const float *w,
							  const float *b, int n, int dim, float eps);

/* norm.cu: x(n, dim) /= max(||x||, 1e-12) per row */
extern int	kernels_l2norm(KernelsContext *ctx, float *x, int n, int dim);

/*
 * rope.cu: rotate-half rotary embedding at the step's positions;
 * q(n_rows, n_heads, head_dim), k(n_rows, n_kv_heads, head_dim),
 * inv_freq(head_dim / 2)
 */
extern int	kernels_rope(KernelsContext *ctx, float *q, float *k, int n_heads, int n_kv_heads,
						 int head_dim, const float *inv_freq);

/*
 * kvstore.cu: k, v (n_rows, n_kv_heads, head_dim) into one layer's cache
 * (n_blocks, KERNELS_KV_BLOCK, n_kv_heads, head_dim) at the step's slots
 */
extern int	kernels_kv_store(KernelsContext *ctx, float *k_cache, float *v_cache,
							 const float *k, const float *v, int n_kv_heads, int head_dim);

/*
 * attention.cu: out(n_rows, n_heads, head_dim) from q(n_rows, n_heads,
 * head_dim) over one layer's cache (see kernels_kv_store)
 */
extern int	kernels_attention(KernelsContext *ctx, float *out, const float *q,
							  const float *k_cache, const float *v_cache, int n_heads,
							  int n_kv_heads, int head_dim, int causal, int sliding_window,
							  float scale);

/* activation.cu: gate(count) = silu(gate) * up */
extern int	kernels_silu_mul(KernelsContext *ctx, float *gate, const float *up, size_t count);

/* activation.cu: x = gelu(x), erf form or tanh form */
extern int	kernels_gelu(KernelsContext *ctx, float *x, size_t count, int tanh_approx);

/*
 * embed.cu: out(n_rows, dim) (+)= table[index] per row; table (rows, dim)
 * f32, or bf16 if table_bf16
 */
extern int	kernels_embed(KernelsContext *ctx, float *out, const void *table, int table_bf16,
						  int dim, int index, int accumulate);

/* rows.cu: out(n_out, dim) = x[out_rows[i]] */
extern int	kernels_gather_rows(KernelsContext *ctx, float *out, const float *x, int dim);

/* rows.cu: out(n_seqs, dim) = mean of each sequence's rows, or its first */
extern int	kernels_pool(KernelsContext *ctx, float *out, const float *x, int dim, int mean);

/* argmax.cu: ids(n) (host memory) = argmax of each logits row (n, vocab); waits */
extern int	kernels_argmax(KernelsContext *ctx, int32_t *ids, const float *logits, int n,
						   int vocab);

#ifdef __cplusplus
}
#endif

#endif							/* PGMLOPS_KERNELS_KERNELS_H */
