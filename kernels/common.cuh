// common.cuh
//	  Shared helpers for the CUDA kernels: status-returning error checks,
//	  the backend context and small device reductions.
//
// Kernels never abort or exit: a failed CUDA or cuBLAS call records its
// message for kernels_last_error() and makes the entry point return an
// error code.
#ifndef PGMLOPS_KERNELS_COMMON_CUH
#define PGMLOPS_KERNELS_COMMON_CUH

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "kernels.h"

// Record a CUDA failure for kernels_last_error(); defined in device.cu
void		kernels_set_error(const char *what, cudaError_t err);

// Record a cuBLAS failure for kernels_last_error(); defined in device.cu
void		kernels_set_cublas_error(const char *what, cublasStatus_t status);

// Record an argument failure for kernels_last_error(); defined in device.cu
void		kernels_set_message(const char *message);

// Status of a failed CUDA call: out of memory is told apart
static inline int
kernels_status(cudaError_t err)
{
	return err == cudaErrorMemoryAllocation ? KERNELS_ERR_NOMEM : KERNELS_ERR_CUDA;
}

#define KERNELS_CHECK(call) \
	do { \
		cudaError_t err_ = (call); \
		if (err_ != cudaSuccess) \
		{ \
			kernels_set_error(#call, err_); \
			return kernels_status(err_); \
		} \
	} while (0)

#define KERNELS_CHECK_CUBLAS(call) \
	do { \
		cublasStatus_t st_ = (call); \
		if (st_ != CUBLAS_STATUS_SUCCESS) \
		{ \
			kernels_set_cublas_error(#call, st_); \
			return st_ == CUBLAS_STATUS_ALLOC_FAILED ? KERNELS_ERR_NOMEM : KERNELS_ERR_CUDA; \
		} \
	} while (0)

// Fail an entry point on a bad argument, with a message
#define KERNELS_REQUIRE(cond) \
	do { \
		if (!(cond)) \
		{ \
			kernels_set_message("invalid argument: " #cond); \
			return KERNELS_ERR_ARGUMENT; \
		} \
	} while (0)

// Threads per block of the row kernels (norms, argmax, attention)
#define KERNELS_ROW_THREADS 256

// Largest head_dim the attention kernel holds in registers
#define KERNELS_MAX_HEAD_DIM 256

// A device buffer that grows on demand; freed with the context
typedef struct KernelsBuffer
{
	void	   *ptr;
	size_t		bytes;
} KernelsBuffer;

// Recorded decode steps kept per context (least recently used goes first)
#define KERNELS_MAX_GRAPHS 64

// One key's recorded step (context.cu), with the context state its kernels
// took as arguments: it replays only while that state is the same
typedef struct KernelsGraph
{
	int			used;
	int			clean;			// an unrecorded run of it finished without error
	uint64_t	key;
	uint64_t	last_use;		// graph_clock of its last step
	cudaGraphExec_t exec;		// NULL until recorded
	const void *layout;			// the step layout buffer and its shape
	int			n_rows;
	int			n_seqs;
	int			n_out;
	int			max_blocks;
	int64_t		limits[KERNELS_GRAPH_LIMITS];	// bounds the recorded ops checked
} KernelsGraph;

// The backend context: one stream, one cuBLAS handle and the step layout
struct KernelsContext
{
	cudaStream_t stream;
	cublasHandle_t cublas;
	int			sm_count;		// multiprocessors of the device

	// the step's layout, one device buffer of int32 arrays, copied from a
	// pinned host buffer that may be rewritten once layout_copied is done
	KernelsBuffer layout;
	int32_t    *layout_host;
	size_t		layout_host_count;
	cudaEvent_t layout_copied;
	int			n_rows;
	int			n_seqs;
	int			max_blocks;
	int			n_out;
	int			max_len;		// largest seq_len of the step
	const int32_t *tokens;		// (n_rows)
	const int32_t *positions;	// (n_rows)
	const int32_t *seq_start;	// (n_seqs + 1)
	const int32_t *seq_len;		// (n_seqs)
	const int32_t *block_table; // (n_seqs, max_blocks)
	const int32_t *out_rows;	// (n_out)
	const int32_t *row_seq;		// (n_rows) sequence of each row

	KernelsBuffer scratch_bf16; // activations converted for bf16 GEMMs
	KernelsBuffer scratch_split; // f32 products of split bf16 activations
	KernelsBuffer scratch_attn; // split-context partial results
	KernelsBuffer scratch_ids;	// argmax results
	KernelsBuffer scratch_rows; // in-place row gathers

	// attention.cu: kernel choice, set at creation and by begin_step
	int			simple_attention;	// per-row kernel for every row (env switch)
	int			max_seq_rows;	// most rows of one sequence in the step
	int			few_rows;		// rows of sequences with fewer than
								// KERNELS_ATTN_TILE_MIN_ROWS rows
	const int32_t *attn_rows;	// (few_rows) those rows, in steps where
								// max_seq_rows reaches the minimum, else NULL

	// context.cu: CUDA graphs of decode steps and the cuBLAS workspace
	int			graphs_enabled; // off with PGMLOPS_CUDA_NO_GRAPHS=1
	int			graph_capturing;	// a recording is open on the stream
	int			graph_spoiled;	// a buffer had to grow during the recording
	int			graph_slot;		// the entry being recorded
	uint64_t	graph_clock;	// counts graph_begin calls
	long long	graph_replays;	// steps replayed
	void	   *cublas_workspace;	// fixed: cuBLAS never allocates in a recording
	KernelsGraph graphs[KERNELS_MAX_GRAPHS];

	// matmul.cu: custom kernel for few rows; off with PGMLOPS_CUDA_NO_GEMV=1
	int			gemv_enabled;
};

// Sequences with at least this many rows in a step take the tiled
// (prefill) attention kernel, the others the per-row (decode) kernel
#define KERNELS_ATTN_TILE_MIN_ROWS 16

// Read the attention switches, reserve the attention scratch; attention.cu
int			kernels_attention_init(KernelsContext *ctx);

// Make buf hold at least bytes (old contents are lost); defined in context.cu
int			kernels_buffer_reserve(KernelsContext *ctx, KernelsBuffer *buf, size_t bytes);

// Most rows of x that kernels_gemv takes; larger products go to cuBLAS
#define KERNELS_GEMV_MAX_ROWS 8

// bf16 products of at most this many rows split x into two bf16 terms
// (matmul.cu), which keeps small batches close to f32 accuracy at the cost
// of twice the rows in a GEMM that is still bound by reading the weights
#define KERNELS_SPLIT_MAX_ROWS 64

// out(n, o) = x(n, i) . w(o, i)^T for n <= KERNELS_GEMV_MAX_ROWS; gemv.cu
int			kernels_gemv(KernelsContext *ctx, float *out, const float *x, const void *w,
						 int w_bf16, int n, int o, int i);

// out(n, o) += x(n, i) . w(o, i)^T for n <= KERNELS_GEMV_MAX_ROWS; gemv.cu
int			kernels_gemv_add(KernelsContext *ctx, float *out, const float *x, const void *w,
							 int w_bf16, int n, int o, int i);

// q(n, oq), k(n, ok), v(n, ov) = x(n, i) . wq^T, wk^T, wv^T for n <=
// KERNELS_GEMV_MAX_ROWS, one launch; gemv.cu
int			kernels_gemv_qkv(KernelsContext *ctx, float *q, float *k, float *v,
							 const float *x, const void *wq, const void *wk, const void *wv,
							 int w_bf16, int n, int oq, int ok, int ov, int i);

// out(n, o) = silu(x(n, i) . w_gate(o, i)^T) * (x . w_up(o, i)^T) for n <=
// KERNELS_GEMV_MAX_ROWS, one launch; gemv.cu
int			kernels_gemv_swiglu(KernelsContext *ctx, float *out, const float *x,
								const void *w_gate, const void *w_up, int w_bf16, int n,
								int o, int i);

// The fused products' other paths (matmul.cu: cuBLAS beyond
// KERNELS_GEMV_MAX_ROWS, and every size when fusion is off) hold an
// intermediate product in scratch_rows, which, like the row gathers of
// rows.cu, they use only within one entry point

// Blocks for a grid-stride loop over count elements
static inline unsigned int
kernels_grid(size_t count, unsigned int threads)
{
	size_t		blocks = (count + threads - 1) / threads;

	if (blocks > 65535u * 16u)
		blocks = 65535u * 16u;
	return blocks == 0 ? 1u : (unsigned int) blocks;
}

// Sum of v over the warp, in every lane
static __device__ __forceinline__ float
kernels_warp_sum(float v)
{
	for (int o = 16; o > 0; o >>= 1)
		v += __shfl_xor_sync(0xffffffffu, v, o);
	return v;
}

// Max of v over the warp, in every lane
static __device__ __forceinline__ float
kernels_warp_max(float v)
{
	for (int o = 16; o > 0; o >>= 1)
		v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
	return v;
}

// Sum of v over the block (blockDim.x a multiple of 32, at most 1024), in
// every thread; shared holds 32 floats and may be reused after the call
static __device__ __forceinline__ float
kernels_block_sum(float v, float *shared)
{
	int			lane = threadIdx.x & 31;
	int			warp = threadIdx.x >> 5;
	int			nwarps = blockDim.x >> 5;

	v = kernels_warp_sum(v);
	__syncthreads();
	if (lane == 0)
		shared[warp] = v;
	__syncthreads();
	v = lane < nwarps ? shared[lane] : 0.0f;
	return kernels_warp_sum(v);
}

// Max of v over the block, like kernels_block_sum
static __device__ __forceinline__ float
kernels_block_max(float v, float *shared)
{
	int			lane = threadIdx.x & 31;
	int			warp = threadIdx.x >> 5;
	int			nwarps = blockDim.x >> 5;

	v = kernels_warp_max(v);
	__syncthreads();
	if (lane == 0)
		shared[warp] = v;
	__syncthreads();
	v = lane < nwarps ? shared[lane] : -INFINITY;
	return kernels_warp_max(v);
}

#endif							// PGMLOPS_KERNELS_COMMON_CUH
