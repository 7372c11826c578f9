// context.cu
//	  The backend context: stream, cuBLAS handle, device memory, copies and
//	  the step layout.
//
// Everything runs on one non-blocking stream, so ops queue behind each
// other.  Uploads, downloads and sync wait for the stream: uploads are rare
// (weights, constants) and the caller may then reuse its memory.  The step
// layout is packed into a pinned host buffer and copied asynchronously into
// one device buffer of int32 arrays; both grow to the largest step seen,
// and the next step waits on an event before rewriting the host side.
//
// CUDA graphs: a decode step of a given shape issues the same kernels with
// the same arguments every time, the tokens, positions and block tables
// being read from the layout buffer that begin_step refreshes.  Such a
// step is recorded once, after one direct run without error (which
// reserved every scratch buffer: nothing may be allocated while
// recording), and replayed by one launch afterwards.  Replacing or freeing
// a buffer, which recorded steps may point at, forgets them all.
#include <stdlib.h>
#include <string.h>

#include "common.cuh"

// bytes of the cuBLAS workspace (what cuBLAS asks for on Hopper)
#define KERNELS_CUBLAS_WORKSPACE ((size_t) 32 << 20)

// Append count ints of src at *dst and advance it
static void
CopyInts(int32_t **dst, const int32_t *src, size_t count)
{
	if (count > 0)
		memcpy(*dst, src, count * sizeof(int32_t));
	*dst += count;
}

// Pack the step's arrays into the context's pinned host buffer, in the
// order of the device buffer: tokens, positions, seq_start, seq_len,
// block_table, out_rows, row_seq, then the attention row list (see
// attn_rows); waits for the previous step's copy
static int
PackLayout(KernelsContext *ctx, const KernelsBatch *b, size_t *count)
{
	size_t		n_rows = (size_t) b->n_rows;
	size_t		n_seqs = (size_t) b->n_seqs;
	size_t		n_list = 0;
	size_t		total;
	int32_t    *p;

	// attention.cu: sequences with many rows take the tiled kernel, the
	// rows of the others are listed for the per-row kernel
	ctx->max_seq_rows = 0;
	ctx->few_rows = 0;
	for (size_t s = 0; s < n_seqs; s++)
	{
		int			rows = b->seq_start[s + 1] - b->seq_start[s];

		if (rows > ctx->max_seq_rows)
			ctx->max_seq_rows = rows;
		if (rows < KERNELS_ATTN_TILE_MIN_ROWS)
			ctx->few_rows += rows;
	}
	if (ctx->max_seq_rows >= KERNELS_ATTN_TILE_MIN_ROWS)
		n_list = (size_t) ctx->few_rows;

	total = 3 * n_rows + 2 * n_seqs + 1 + n_seqs * (size_t) b->max_blocks + (size_t) b->n_out +
		n_list;
	KERNELS_CHECK(cudaEventSynchronize(ctx->layout_copied));
	if (total > ctx->layout_host_count)
	{
		if (ctx->layout_host != NULL)
			KERNELS_CHECK(cudaFreeHost(ctx->layout_host));
		ctx->layout_host = NULL;
		ctx->layout_host_count = 0;
		KERNELS_CHECK(cudaMallocHost((void **) &ctx->layout_host, total * sizeof(int32_t)));
		ctx->layout_host_count = total;
	}
	p = ctx->layout_host;
	CopyInts(&p, b->tokens, n_rows);
	CopyInts(&p, b->positions, n_rows);
	CopyInts(&p, b->seq_start, n_seqs + 1);
	CopyInts(&p, b->seq_len, n_seqs);
	CopyInts(&p, b->block_table, n_seqs * (size_t) b->max_blocks);
	CopyInts(&p, b->out_rows, (size_t) b->n_out);
	CopyInts(&p, b->row_seq, n_rows);
	for (size_t s = 0; n_list > 0 && s < n_seqs; s++)
	{
		if (b->seq_start[s + 1] - b->seq_start[s] >= KERNELS_ATTN_TILE_MIN_ROWS)
			continue;
		for (int32_t r = b->seq_start[s]; r < b->seq_start[s + 1]; r++)
			*p++ = r;
	}
	*count = total;
	return KERNELS_OK;
}

// Forget one recorded step; an executable still running is freed when it
// completes
static void
DropGraph(KernelsGraph *g)
{
	if (g->exec != NULL)
		cudaGraphExecDestroy(g->exec);
	memset(g, 0, sizeof(*g));
}

// Forget every recorded step (before a buffer they point at goes away)
static void
ResetGraphs(KernelsContext *ctx)
{
	for (int k = 0; k < KERNELS_MAX_GRAPHS; k++)
		DropGraph(&ctx->graphs[k]);
}

// Make buf hold at least bytes; waits for the stream before replacing it.
// Recorded steps may point at the old buffer: they are forgotten.  Refused
// while a step is being recorded (no allocation may happen there).
int
kernels_buffer_reserve(KernelsContext *ctx, KernelsBuffer *buf, size_t bytes)
{
	if (bytes <= buf->bytes && buf->ptr != NULL)
		return KERNELS_OK;
	if (ctx->graph_capturing)
	{
		ctx->graph_spoiled = 1;
		kernels_set_message("a scratch buffer had to grow while a CUDA graph was recorded");
		return KERNELS_ERR_CUDA;
	}
	if (bytes < 4096)
		bytes = 4096;
	KERNELS_CHECK(cudaStreamSynchronize(ctx->stream));
	if (buf->ptr != NULL)
	{
		ResetGraphs(ctx);
		KERNELS_CHECK(cudaFree(buf->ptr));
		buf->ptr = NULL;
		buf->bytes = 0;
	}
	KERNELS_CHECK(cudaMalloc(&buf->ptr, bytes));
	buf->bytes = bytes;
	return KERNELS_OK;
}

// Free one buffer, ignoring errors (teardown)
static void
ReleaseBuffer(KernelsBuffer *buf)
{
	if (buf->ptr != NULL)
		cudaFree(buf->ptr);
	buf->ptr = NULL;
	buf->bytes = 0;
}

// True when environment variable name is set to something other than "" or "0"
static int
EnvFlag(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && v[0] != '\0' && strcmp(v, "0") != 0;
}

// Create the stream and cuBLAS handle on device 0
extern "C" int
kernels_context_create(KernelsContext **result)
{
	KernelsContext *ctx;
	int			count = 0;
	cudaError_t err;
	cublasStatus_t st;
	int			status;

	KERNELS_REQUIRE(result != NULL);
	*result = NULL;
	err = cudaGetDeviceCount(&count);
	if (err != cudaSuccess || count == 0)
	{
		kernels_set_error("cudaGetDeviceCount", err == cudaSuccess ? cudaErrorNoDevice : err);
		return KERNELS_ERR_NO_DEVICE;
	}
	KERNELS_CHECK(cudaSetDevice(0));

	ctx = (KernelsContext *) calloc(1, sizeof(KernelsContext));
	if (ctx == NULL)
	{
		kernels_set_message("out of host memory for the CUDA context");
		return KERNELS_ERR_NOMEM;
	}
	err = cudaDeviceGetAttribute(&ctx->sm_count, cudaDevAttrMultiProcessorCount, 0);
	if (err != cudaSuccess)
	{
		kernels_set_error("cudaDeviceGetAttribute", err);
		free(ctx);
		return kernels_status(err);
	}
	err = cudaStreamCreateWithFlags(&ctx->stream, cudaStreamNonBlocking);
	if (err != cudaSuccess)
	{
		kernels_set_error("cudaStreamCreateWithFlags", err);
		free(ctx);
		return kernels_status(err);
	}
	err = cudaEventCreateWithFlags(&ctx->layout_copied, cudaEventDisableTiming);
	if (err != cudaSuccess)
	{
		kernels_set_error("cudaEventCreateWithFlags", err);
		cudaStreamDestroy(ctx->stream);
		free(ctx);
		return kernels_status(err);
	}
	st = cublasCreate(&ctx->cublas);
	if (st != CUBLAS_STATUS_SUCCESS)
	{
		kernels_set_cublas_error("cublasCreate", st);
		cudaEventDestroy(ctx->layout_copied);
		cudaStreamDestroy(ctx->stream);
		free(ctx);
		return st == CUBLAS_STATUS_ALLOC_FAILED ? KERNELS_ERR_NOMEM : KERNELS_ERR_CUDA;
	}
	st = cublasSetStream(ctx->cublas, ctx->stream);
	if (st == CUBLAS_STATUS_SUCCESS)
		st = cublasSetMathMode(ctx->cublas, CUBLAS_DEFAULT_MATH);
	if (st != CUBLAS_STATUS_SUCCESS)
	{
		kernels_set_cublas_error("cublasSetStream/cublasSetMathMode", st);
		cublasDestroy(ctx->cublas);
		cudaEventDestroy(ctx->layout_copied);
		cudaStreamDestroy(ctx->stream);
		free(ctx);
		return KERNELS_ERR_CUDA;
	}

	// cuBLAS takes this workspace (set after the stream, which resets it)
	// instead of allocating inside graph recordings
	ctx->graphs_enabled = !EnvFlag("PGMLOPS_CUDA_NO_GRAPHS");
	ctx->gemv_enabled = !EnvFlag("PGMLOPS_CUDA_NO_GEMV");
	err = cudaMalloc(&ctx->cublas_workspace, KERNELS_CUBLAS_WORKSPACE);
	if (err != cudaSuccess)
	{
		kernels_set_error("cudaMalloc of the cuBLAS workspace", err);
		ctx->cublas_workspace = NULL;
		kernels_context_destroy(ctx);
		return kernels_status(err);
	}
	st = cublasSetWorkspace(ctx->cublas, ctx->cublas_workspace, KERNELS_CUBLAS_WORKSPACE);
	if (st != CUBLAS_STATUS_SUCCESS)
	{
		kernels_set_cublas_error("cublasSetWorkspace", st);
		kernels_context_destroy(ctx);
		return KERNELS_ERR_CUDA;
	}
	status = kernels_attention_init(ctx);
	if (status != KERNELS_OK)
	{
		kernels_context_destroy(ctx);
		return status;
	}
	*result = ctx;
	return KERNELS_OK;
}

// Wait for the stream and release everything the context holds
extern "C" void
kernels_context_destroy(KernelsContext *ctx)
{
	if (ctx == NULL)
		return;
	if (ctx->graph_capturing)
	{
		cudaGraph_t graph = NULL;

		// a recording left open: close the stream's capture, drop it
		if (cudaStreamEndCapture(ctx->stream, &graph) == cudaSuccess && graph != NULL)
			cudaGraphDestroy(graph);
		ctx->graph_capturing = 0;
		(void) cudaGetLastError();
	}
	cudaStreamSynchronize(ctx->stream);
	ReleaseBuffer(&ctx->layout);
	ReleaseBuffer(&ctx->scratch_bf16);
	ReleaseBuffer(&ctx->scratch_split);
	ReleaseBuffer(&ctx->scratch_attn);
	ReleaseBuffer(&ctx->scratch_ids);
	ReleaseBuffer(&ctx->scratch_rows);
	if (ctx->layout_host != NULL)
		cudaFreeHost(ctx->layout_host);
	ResetGraphs(ctx);
	cublasDestroy(ctx->cublas);
	if (ctx->cublas_workspace != NULL)
		cudaFree(ctx->cublas_workspace);
	cudaEventDestroy(ctx->layout_copied);
	cudaStreamDestroy(ctx->stream);
	free(ctx);
}

// Allocate device memory
extern "C" int
kernels_alloc(KernelsContext *ctx, size_t bytes, void **ptr)
{
	KERNELS_REQUIRE(ctx != NULL && ptr != NULL);
	*ptr = NULL;
	KERNELS_CHECK(cudaMalloc(ptr, bytes > 0 ? bytes : 1));
	return KERNELS_OK;
}

// Free device memory from kernels_alloc
extern "C" void
kernels_free(KernelsContext *ctx, void *ptr)
{
	if (ctx == NULL || ptr == NULL)
		return;
	// work queued on ptr finishes first; recorded steps may point at it
	cudaStreamSynchronize(ctx->stream);
	ResetGraphs(ctx);
	cudaFree(ptr);
}

// Copy host memory to the device and wait, so src may be reused at once
extern "C" int
kernels_upload(KernelsContext *ctx, void *dst, const void *src, size_t bytes)
{
	KERNELS_REQUIRE(ctx != NULL && (bytes == 0 || (dst != NULL && src != NULL)));
	if (bytes == 0)
		return KERNELS_OK;
	KERNELS_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, ctx->stream));
	KERNELS_CHECK(cudaStreamSynchronize(ctx->stream));
	return KERNELS_OK;
}

// Copy device memory to the host and wait
extern "C" int
kernels_download(KernelsContext *ctx, void *dst, const void *src, size_t bytes)
{
	KERNELS_REQUIRE(ctx != NULL && (bytes == 0 || (dst != NULL && src != NULL)));
	if (bytes > 0)
		KERNELS_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, ctx->stream));
	KERNELS_CHECK(cudaStreamSynchronize(ctx->stream));
	return KERNELS_OK;
}

// Wait for everything queued
extern "C" int
kernels_sync(KernelsContext *ctx)
{
	KERNELS_REQUIRE(ctx != NULL);
	KERNELS_CHECK(cudaStreamSynchronize(ctx->stream));
	return KERNELS_OK;
}

// Copy the step layout to the device and point the context at it
extern "C" int
kernels_begin_step(KernelsContext *ctx, const KernelsBatch *b)
{
	int32_t    *dev;
	size_t		count;
	int			status;

	KERNELS_REQUIRE(ctx != NULL && b != NULL);
	KERNELS_REQUIRE(b->n_rows >= 0 && b->n_seqs >= 0 && b->max_blocks >= 0 && b->n_out >= 0);
	KERNELS_REQUIRE(b->seq_start != NULL);
	KERNELS_REQUIRE(b->n_rows == 0 ||
					(b->tokens != NULL && b->positions != NULL && b->row_seq != NULL));
	KERNELS_REQUIRE(b->n_seqs == 0 || b->seq_len != NULL);
	KERNELS_REQUIRE(b->n_seqs == 0 || b->max_blocks == 0 || b->block_table != NULL);
	KERNELS_REQUIRE(b->n_out == 0 || b->out_rows != NULL);

	status = PackLayout(ctx, b, &count);
	if (status != KERNELS_OK)
		return status;
	status = kernels_buffer_reserve(ctx, &ctx->layout, count * sizeof(int32_t));
	if (status != KERNELS_OK)
		return status;
	dev = (int32_t *) ctx->layout.ptr;
	KERNELS_CHECK(cudaMemcpyAsync(dev, ctx->layout_host, count * sizeof(int32_t),
								  cudaMemcpyHostToDevice, ctx->stream));
	KERNELS_CHECK(cudaEventRecord(ctx->layout_copied, ctx->stream));

	ctx->n_rows = b->n_rows;
	ctx->n_seqs = b->n_seqs;
	ctx->max_blocks = b->max_blocks;
	ctx->n_out = b->n_out;
	ctx->max_len = b->max_len;
	ctx->tokens = dev;
	ctx->positions = dev + b->n_rows;
	ctx->seq_start = dev + 2 * (size_t) b->n_rows;
	ctx->seq_len = ctx->seq_start + b->n_seqs + 1;
	ctx->block_table = ctx->seq_len + b->n_seqs;
	ctx->out_rows = ctx->block_table + (size_t) b->n_seqs * b->max_blocks;
	ctx->row_seq = ctx->out_rows + b->n_out;
	ctx->attn_rows = NULL;
	if (ctx->max_seq_rows >= KERNELS_ATTN_TILE_MIN_ROWS && ctx->few_rows > 0)
		ctx->attn_rows = ctx->row_seq + b->n_rows;
	return KERNELS_OK;
}

// Find key's entry, or take a free one or the least recently used
static KernelsGraph *
FindGraph(KernelsContext *ctx, uint64_t key, int *found)
{
	KernelsGraph *victim = NULL;

	for (int k = 0; k < KERNELS_MAX_GRAPHS; k++)
	{
		KernelsGraph *g = &ctx->graphs[k];

		if (g->used && g->key == key)
		{
			*found = 1;
			return g;
		}
		if (victim == NULL ||
			(victim->used && (!g->used || g->last_use < victim->last_use)))
			victim = g;
	}
	*found = 0;
	return victim;
}

// Does g's recording take the current step layout's shape and buffer?
static int
GraphMatches(const KernelsContext *ctx, const KernelsGraph *g)
{
	return g->layout == ctx->layout.ptr && g->n_rows == ctx->n_rows &&
		g->n_seqs == ctx->n_seqs && g->n_out == ctx->n_out &&
		g->max_blocks == ctx->max_blocks;
}

// Make g a fresh entry for key at the current step layout
static void
StartGraph(KernelsContext *ctx, KernelsGraph *g, uint64_t key)
{
	DropGraph(g);
	g->used = 1;
	g->key = key;
	g->last_use = ctx->graph_clock;
	g->layout = ctx->layout.ptr;
	g->n_rows = ctx->n_rows;
	g->n_seqs = ctx->n_seqs;
	g->n_out = ctx->n_out;
	g->max_blocks = ctx->max_blocks;
}

// Replay key's recorded step, open its recording, or let it run directly
extern "C" int
kernels_graph_begin(KernelsContext *ctx, uint64_t key, const int64_t *need, int *replayed)
{
	KernelsGraph *g;
	int			found;
	cudaError_t err;

	KERNELS_REQUIRE(ctx != NULL && need != NULL && replayed != NULL);
	*replayed = 0;
	if (!ctx->graphs_enabled)
		return KERNELS_OK;
	if (ctx->graph_capturing)
	{
		kernels_set_message("graph_begin while a step is being recorded");
		return KERNELS_ERR_ARGUMENT;
	}
	ctx->graph_clock++;
	g = FindGraph(ctx, key, &found);
	if (!found || !GraphMatches(ctx, g))
	{
		// first run of this shape: direct, reserving what it needs
		StartGraph(ctx, g, key);
		return KERNELS_OK;
	}
	g->last_use = ctx->graph_clock;

	if (g->exec != NULL)
	{
		// out of the recorded bounds: run directly, so the ops check it
		for (int k = 0; k < KERNELS_GRAPH_LIMITS; k++)
			if (need[k] >= g->limits[k])
				return KERNELS_OK;
		err = cudaGraphLaunch(g->exec, ctx->stream);
		if (err != cudaSuccess)
		{
			kernels_set_error("cudaGraphLaunch", err);
			DropGraph(g);
			return kernels_status(err);
		}
		ctx->graph_replays++;
		*replayed = 1;
		return KERNELS_OK;
	}
	if (!g->clean)
		return KERNELS_OK;

	err = cudaStreamBeginCapture(ctx->stream, cudaStreamCaptureModeThreadLocal);
	if (err != cudaSuccess)
	{
		// the driver will not record: every step runs directly from now on
		(void) cudaGetLastError();
		ResetGraphs(ctx);
		ctx->graphs_enabled = 0;
		return KERNELS_OK;
	}
	ctx->graph_capturing = 1;
	ctx->graph_spoiled = 0;
	ctx->graph_slot = (int) (g - ctx->graphs);
	return KERNELS_OK;
}

// Close a recording: keep it and launch it (nothing of it has run yet);
// after a direct run, note that it ran clean
extern "C" int
kernels_graph_end(KernelsContext *ctx, uint64_t key, int failed, const int64_t *limits)
{
	KernelsGraph *g;
	cudaGraph_t graph = NULL;
	cudaGraphExec_t exec = NULL;
	const char *what = NULL;
	cudaError_t err;
	int			found;

	KERNELS_REQUIRE(ctx != NULL && limits != NULL);
	if (!ctx->graph_capturing)
	{
		if (ctx->graphs_enabled && !failed)
		{
			g = FindGraph(ctx, key, &found);
			if (found && g->exec == NULL && GraphMatches(ctx, g))
				g->clean = 1;
		}
		return KERNELS_OK;
	}

	g = &ctx->graphs[ctx->graph_slot];
	ctx->graph_capturing = 0;
	err = cudaStreamEndCapture(ctx->stream, &graph);
	if (err != cudaSuccess)
		what = "cudaStreamEndCapture";
	else if (!failed && !ctx->graph_spoiled && g->used && g->key == key)
	{
		err = cudaGraphInstantiate(&exec, graph, 0);
		if (err != cudaSuccess)
		{
			what = "cudaGraphInstantiate";
			exec = NULL;
		}
		else
		{
			err = cudaGraphLaunch(exec, ctx->stream);
			if (err != cudaSuccess)
				what = "cudaGraphLaunch";
		}
	}
	if (graph != NULL)
		cudaGraphDestroy(graph);
	if (what == NULL && exec != NULL)
	{
		g->exec = exec;
		memcpy(g->limits, limits, sizeof(g->limits));
		return KERNELS_OK;
	}

	// dropped: an op failed (and said why), or the driver refused
	if (exec != NULL)
		cudaGraphExecDestroy(exec);
	DropGraph(g);
	if (what == NULL)
		return KERNELS_OK;
	(void) cudaGetLastError();
	kernels_set_error(what, err);
	ResetGraphs(ctx);
	ctx->graphs_enabled = 0;
	return kernels_status(err);
}

// Steps replayed from a recording so far
extern "C" long long
kernels_graph_replays(KernelsContext *ctx)
{
	return ctx != NULL ? ctx->graph_replays : 0;
}
