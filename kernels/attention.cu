// attention.cu
//	  Attention of the step's rows over the paged KV cache.
//
// Row r of sequence s at position p attends, for query head h, to kv head
// h / (n_heads / n_kv_heads) at context positions [start, end): causal
// rows see end = p + 1 and start = max(0, end - sliding_window) when a
// window is set (else 0); non-causal rows see all seq_len[s] positions.
//
// One block per (row, head, split).  The block walks its share of the
// context in tiles of ATTN_TILE keys: one warp per key computes the score
// into shared memory, then an online softmax (running max m and sum l, f32)
// rescales the accumulator each thread keeps for its head_dim slots and
// adds the tile's weighted values.  When the step has few rows (decode of
// a small batch), the context is split across several blocks per (row,
// head) so that the whole GPU works on long contexts (flash-decoding); the
// blocks then write (m, l, acc) partials to scratch and a second kernel
// combines them.  With one split the first kernel writes the output.
#include "common.cuh"

#define ATTN_THREADS 128
#define ATTN_TILE 64
#define ATTN_SLOTS (KERNELS_MAX_HEAD_DIM / ATTN_THREADS)

// Partials of one (row, head, split): m, l and acc(head_dim)
static __global__ void
attention_f32(float *out, float *part, const float *q, const float *k_cache,
			  const float *v_cache, const int32_t *positions, const int32_t *row_seq,
			  const int32_t *seq_len, const int32_t *block_table, int max_blocks,
			  int n_heads, int n_kv_heads, int head_dim, int causal, int sliding_window,
			  float scale)
{
	__shared__ float q_s[KERNELS_MAX_HEAD_DIM];
	__shared__ float scores[ATTN_TILE];
	__shared__ size_t kv_off[ATTN_TILE];
	__shared__ float red[32];
	int			r = blockIdx.x;
	int			h = blockIdx.y;
	int			split = blockIdx.z;
	int			n_splits = gridDim.z;
	int			lane = threadIdx.x & 31;
	int			warp = threadIdx.x >> 5;
	int			nwarps = blockDim.x >> 5;
	int			s = row_seq[r];
	int			p = positions[r];
	int			kvh = h / (n_heads / n_kv_heads);
	size_t		kv_width = (size_t) n_kv_heads * head_dim;
	const int32_t *table = block_table + (size_t) s * max_blocks;
	int			start;
	int			end;
	int			chunk;
	int			lo;
	int			hi;
	float		m = -INFINITY;
	float		l = 0.0f;
	float		acc[ATTN_SLOTS];

	if (causal)
	{
		end = p + 1;
		start = (sliding_window > 0 && end > sliding_window) ? end - sliding_window : 0;
	}
	else
	{
		start = 0;
		end = seq_len[s];
	}
	chunk = (end - start + n_splits - 1) / n_splits;
	lo = start + split * chunk;
	hi = min(end, lo + chunk);

	for (int d = threadIdx.x; d < head_dim; d += blockDim.x)
		q_s[d] = q[((size_t) r * n_heads + h) * head_dim + d];
	for (int t = 0; t < ATTN_SLOTS; t++)
		acc[t] = 0.0f;
	__syncthreads();

	for (int t0 = lo; t0 < hi; t0 += ATTN_TILE)
	{
		int			nt = min(ATTN_TILE, hi - t0);
		float		v;
		float		tile_max;
		float		m_new;
		float		corr;
		float		pj = 0.0f;

		// scores of the tile, one warp per key
		for (int j = warp; j < nt; j += nwarps)
		{
			int			pos = t0 + j;
			size_t		slot = (size_t) table[pos / KERNELS_KV_BLOCK] * KERNELS_KV_BLOCK +
				pos % KERNELS_KV_BLOCK;
			size_t		off = slot * kv_width + (size_t) kvh * head_dim;
			const float *krow = k_cache + off;
			float		dot = 0.0f;

			for (int d = lane; d < head_dim; d += 32)
				dot += q_s[d] * krow[d];
			dot = kernels_warp_sum(dot);
			if (lane == 0)
			{
				scores[j] = dot * scale;
				kv_off[j] = off;
			}
		}
		__syncthreads();

		// online softmax: new running max, rescale, weights of the tile
		v = threadIdx.x < nt ? scores[threadIdx.x] : -INFINITY;
		tile_max = kernels_block_max(v, red);
		m_new = fmaxf(m, tile_max);
		corr = expf(m - m_new);
		if (threadIdx.x < nt)
		{
			pj = expf(v - m_new);
			scores[threadIdx.x] = pj;
		}
		l = l * corr + kernels_block_sum(pj, red);
		m = m_new;

		// weighted values
		for (int t = 0; t < ATTN_SLOTS; t++)
		{
			int			d = threadIdx.x + t * ATTN_THREADS;
			float		a = acc[t] * corr;

			if (d < head_dim)
			{
				for (int j = 0; j < nt; j++)
					a += scores[j] * v_cache[kv_off[j] + d];
			}
			acc[t] = a;
		}
		__syncthreads();
	}

	if (n_splits == 1)
	{
		float		inv = l > 0.0f ? 1.0f / l : 0.0f;
		float	   *o = out + ((size_t) r * n_heads + h) * head_dim;

		for (int t = 0; t < ATTN_SLOTS; t++)
		{
			int			d = threadIdx.x + t * ATTN_THREADS;

			if (d < head_dim)
				o[d] = acc[t] * inv;
		}
	}
	else
	{
		size_t		idx = ((size_t) r * n_heads + h) * n_splits + split;
		float	   *pp = part + idx * (head_dim + 2);

		if (threadIdx.x == 0)
		{
			pp[0] = m;
			pp[1] = l;
		}
		for (int t = 0; t < ATTN_SLOTS; t++)
		{
			int			d = threadIdx.x + t * ATTN_THREADS;

			if (d < head_dim)
				pp[2 + d] = acc[t];
		}
	}
}

// out of one (row, head) from its n_splits partials
static __global__ void
attention_combine_f32(float *out, const float *part, int n_heads, int head_dim, int n_splits)
{
	size_t		idx = (size_t) blockIdx.x * n_heads + blockIdx.y;
	const float *pp = part + idx * n_splits * (head_dim + 2);
	float	   *o = out + idx * head_dim;
	float		m = -INFINITY;
	float		l = 0.0f;

	for (int i = 0; i < n_splits; i++)
		m = fmaxf(m, pp[i * (head_dim + 2)]);
	if (m == -INFINITY)
	{
		for (int d = threadIdx.x; d < head_dim; d += blockDim.x)
			o[d] = 0.0f;
		return;
	}
	for (int i = 0; i < n_splits; i++)
		l += expf(pp[i * (head_dim + 2)] - m) * pp[i * (head_dim + 2) + 1];
	for (int d = threadIdx.x; d < head_dim; d += blockDim.x)
	{
		float		a = 0.0f;

		for (int i = 0; i < n_splits; i++)
			a += expf(pp[i * (head_dim + 2)] - m) * pp[i * (head_dim + 2) + 2 + d];
		o[d] = l > 0.0f ? a / l : 0.0f;
	}
}

// Launch attention_f32 (and the combine step when split) on the context's stream
static int
attention_f32_cuda(KernelsContext *ctx, float *out, const float *q, const float *k_cache,
				   const float *v_cache, int n_heads, int n_kv_heads, int head_dim,
				   int causal, int sliding_window, float scale)
{
	size_t		pairs = (size_t) ctx->n_rows * n_heads;
	size_t		target = (size_t) 2 * (ctx->sm_count > 0 ? ctx->sm_count : 1);
	int			n_splits = 1;
	float	   *part = NULL;
	dim3		grid;

	if (pairs < target)
	{
		size_t		by_blocks = (target + pairs - 1) / pairs;
		size_t		by_len = ((size_t) ctx->max_len + 255) / 256;

		n_splits = (int) (by_blocks < by_len ? by_blocks : by_len);
		if (n_splits > 64)
			n_splits = 64;
		if (n_splits < 1)
			n_splits = 1;
	}
	if (n_splits > 1)
	{
		int			status;

		status = kernels_buffer_reserve(ctx, &ctx->scratch_attn,
										pairs * n_splits * (head_dim + 2) * sizeof(float));
		if (status != KERNELS_OK)
			return status;
		part = (float *) ctx->scratch_attn.ptr;
	}

	grid = dim3((unsigned int) ctx->n_rows, (unsigned int) n_heads, (unsigned int) n_splits);
	attention_f32<<<grid, ATTN_THREADS, 0, ctx->stream>>>(out, part, q, k_cache, v_cache,
														  ctx->positions, ctx->row_seq,
														  ctx->seq_len, ctx->block_table,
														  ctx->max_blocks, n_heads,
														  n_kv_heads, head_dim, causal,
														  sliding_window, scale);
	KERNELS_CHECK(cudaGetLastError());
	if (n_splits > 1)
	{
		grid = dim3((unsigned int) ctx->n_rows, (unsigned int) n_heads, 1);
		attention_combine_f32<<<grid, ATTN_THREADS, 0, ctx->stream>>>(out, part, n_heads,
																	   head_dim, n_splits);
		KERNELS_CHECK(cudaGetLastError());
	}
	return KERNELS_OK;
}

// Attention of the step's rows over one layer's cache
extern "C" int
kernels_attention(KernelsContext *ctx, float *out, const float *q, const float *k_cache,
				  const float *v_cache, int n_heads, int n_kv_heads, int head_dim, int causal,
				  int sliding_window, float scale)
{
	KERNELS_REQUIRE(ctx != NULL && n_heads > 0 && n_kv_heads > 0);
	KERNELS_REQUIRE(n_heads % n_kv_heads == 0 && n_heads <= 65535);
	KERNELS_REQUIRE(head_dim > 0 && head_dim <= KERNELS_MAX_HEAD_DIM);
	KERNELS_REQUIRE(ctx->n_rows == 0 ||
					(out != NULL && q != NULL && k_cache != NULL && v_cache != NULL));
	if (ctx->n_rows == 0)
		return KERNELS_OK;
	return attention_f32_cuda(ctx, out, q, k_cache, v_cache, n_heads, n_kv_heads, head_dim,
							  causal != 0, sliding_window, scale);
}
