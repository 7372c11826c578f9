// attention.cu
//	  Attention of the step's rows over the paged KV cache.
//
// Row r of sequence s at position p attends, for query head h, to kv head
// h / (n_heads / n_kv_heads) at context positions [start, end): causal
// rows see end = p + 1 and start = max(0, end - sliding_window) when a
// window is set (else 0); non-causal rows see all seq_len[s] positions.
//
// Two kernels share the work of one call.  Sequences with at least
// KERNELS_ATTN_TILE_MIN_ROWS rows in the step (prefill chunks) take the
// tiled kernel: one block per (sequence, query head, tile of ATTN_BQ query
// rows) keeps the query tile in shared memory and walks the tile's key
// range in tiles of ATTN_BK keys gathered from the paged cache; each thread
// computes a 4 x 8 block of scores in registers, applies the mask, keeps an
// online softmax (running max and sum, f32) for its 4 query rows and
// accumulates their outputs in registers.  Causal tiles stop at their last
// query position and start at their first row's window.
//
// The other rows (decode) take the per-row kernel, over the list of them
// that begin_step uploads with the layout (all rows when no sequence is
// tiled): one block per (row, head, split) walks its share of the context
// in tiles of ATTN_TILE keys with one warp per key score and an online
// softmax.  When the step has few (row, head) pairs the context is split
// across several blocks (flash-decoding), which write (m, l, acc) partials
// to scratch that a second kernel combines.  The number of splits depends only on the rows,
// heads and multiprocessors, so that decode steps of one shape launch the
// same arguments (CUDA graph replay); each split finds its share of the
// actual length on the device, and empty shares are harmless.
//
// PGMLOPS_CUDA_SIMPLE_ATTENTION=1 at context creation sends every row to
// the per-row kernel (a fallback while the tiled kernel is young).
#include <stdlib.h>
#include <string.h>

#include "common.cuh"

#define ATTN_THREADS 128
#define ATTN_TILE 64
#define ATTN_SLOTS (KERNELS_MAX_HEAD_DIM / ATTN_THREADS)
#define ATTN_MAX_SPLITS 32

// tiled kernel: query rows and keys per tile, threads per block
#define ATTN_BQ 64
#define ATTN_BK 64
#define ATTN_TILED_THREADS 128
// largest head_dim of the tiled kernel
#define ATTN_TILED_MAX_DIM 128

// Per-row kernel: block (i, h, split) takes row rows[i] (row i when rows
// is NULL).  Partials of one (i, head, split): m, l and acc(head_dim).
static __global__ void
attention_f32(float *out, float *part, const float *q, const float *k_cache,
			  const float *v_cache, const int32_t *rows, const int32_t *positions,
			  const int32_t *row_seq, const int32_t *seq_len, const int32_t *block_table,
			  int max_blocks, int n_heads, int n_kv_heads, int head_dim, int causal,
			  int sliding_window, float scale)
{
	__shared__ float q_s[KERNELS_MAX_HEAD_DIM];
	__shared__ float scores[ATTN_TILE];
	__shared__ size_t kv_off[ATTN_TILE];
	__shared__ float red[32];
	int			r = rows != NULL ? rows[blockIdx.x] : (int) blockIdx.x;
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
		size_t		idx = ((size_t) blockIdx.x * n_heads + h) * n_splits + split;
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

// out of one (row, head) from its n_splits partials; block (i, h) as in
// attention_f32
static __global__ void
attention_combine_f32(float *out, const float *part, const int32_t *rows, int n_heads,
					  int head_dim, int n_splits)
{
	size_t		r = rows != NULL ? (size_t) rows[blockIdx.x] : blockIdx.x;
	size_t		idx = (size_t) blockIdx.x * n_heads + blockIdx.y;
	const float *pp = part + idx * n_splits * (head_dim + 2);
	float	   *o = out + (r * n_heads + blockIdx.y) * head_dim;
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

// Dynamic shared memory of the tiled kernel for head_dim up to D: the
// query, key and value tiles, rows padded to D + 4 floats; the weights
// (ATTN_BK x (ATTN_BQ + 4)) reuse the key tile
static constexpr size_t
TiledSharedBytes(int D)
{
	return (size_t) (ATTN_BQ + 2 * ATTN_BK) * (D + 4) * sizeof(float);
}

// Tiled kernel, head_dim <= D (D a multiple of 32, padding is zero).
// Block (h, y, s): query head h, sequence s, query tile gridDim.y - 1 - y
// (the longest causal tiles of every head start first).  Thread t owns query rows
// (t / 8) * 4 + i (i < 4); for scores, keys (t % 8) + 8 * j (j < 8) of the
// key tile; for outputs, dims (t % 8) * 4 + 32 * c + e (c < D / 32, e < 4).
// The 8 threads of one row group are adjacent lanes of one warp.
template <int D>
static __global__ void
__launch_bounds__(ATTN_TILED_THREADS)
attention_tiled_f32(float *out, const float *q, const float *k_cache, const float *v_cache,
					const int32_t *positions, const int32_t *seq_start,
					const int32_t *seq_len, const int32_t *block_table, int max_blocks,
					int n_heads, int n_kv_heads, int head_dim, int causal,
					int sliding_window, float scale, int min_rows)
{
	constexpr int LD = D + 4;	// row stride of the q, k and v tiles
	constexpr int LP = ATTN_BQ + 4; // row stride of the weights (key-major)
	constexpr int NC = D / 32;	// float4 output chunks per row and thread
	constexpr int JS = ATTN_TILED_THREADS / D;	// tile rows per pass of a load
	constexpr int UQ = ATTN_BQ / JS < 16 ? ATTN_BQ / JS : 16;	// passes in flight
	constexpr int UK = ATTN_BK / JS < 16 ? ATTN_BK / JS : 16;
	extern __shared__ float4 tiled_smem[];
	float	   *qs = (float *) tiled_smem;	// (ATTN_BQ, LD)
	float	   *ks = qs + ATTN_BQ * LD; // (ATTN_BK, LD)
	float	   *vs = ks + ATTN_BK * LD; // (ATTN_BK, LD)
	float	   *ps = ks;		// (ATTN_BK, LP) weights, over the key tile
	__shared__ int pos_s[ATTN_BQ];
	__shared__ size_t koff_s[ATTN_BK];
	__shared__ int range_s[2];
	int			tid = threadIdx.x;
	int			rg = tid >> 3;
	int			kg = tid & 7;
	int			ld_d = tid % D;	// the dim this thread loads
	int			ld_r = tid / D; // its first tile row, then every JS
	int			ld_dd;			// ld_d clamped into head_dim
	int			h = blockIdx.x;
	int			tile = gridDim.y - 1 - blockIdx.y;
	int			s = blockIdx.z;
	int			first = seq_start[s];
	int			n = seq_start[s + 1] - first;
	int			row0;
	int			nq;
	int			len;
	int			kvh;
	size_t		kv_width;
	const int32_t *table;
	int			lo;
	int			hi;
	int			rlo[4];
	int			rhi[4];
	float		m[4];
	float		l[4];
	float		o[4][4 * NC];

	static_assert(ATTN_TILED_THREADS % D == 0 && ATTN_BQ % (JS * UQ) == 0 &&
				  ATTN_BK % (JS * UK) == 0, "tile loads");
	if (n < min_rows || tile * ATTN_BQ >= n)
		return;
	ld_dd = min(ld_d, head_dim - 1);
	row0 = first + tile * ATTN_BQ;
	nq = min(ATTN_BQ, n - tile * ATTN_BQ);
	len = seq_len[s];
	kvh = h / (n_heads / n_kv_heads);
	kv_width = (size_t) n_kv_heads * head_dim;
	table = block_table + (size_t) s * max_blocks;

	// query tile, zero beyond head_dim and beyond the tile's rows; the
	// loads are batched without branches (clamped addresses, zero by select)
	for (int u0 = 0; u0 < ATTN_BQ / JS; u0 += UQ)
	{
		float		x[UQ];

#pragma unroll
		for (int u = 0; u < UQ; u++)
		{
			int			r = ld_r + JS * (u0 + u);

			x[u] = q[((size_t) (row0 + (r < nq ? r : 0)) * n_heads + h) * head_dim + ld_dd];
		}
#pragma unroll
		for (int u = 0; u < UQ; u++)
		{
			int			r = ld_r + JS * (u0 + u);

			qs[r * LD + ld_d] = (r < nq && ld_d < head_dim) ? x[u] : 0.0f;
		}
	}
	if (tid < ATTN_BQ)
		pos_s[tid] = tid < nq ? positions[row0 + tid] : -1;
	__syncthreads();

	// key range of the whole tile
	if (tid == 0)
	{
		int			a = 0;
		int			b = len;

		if (causal)
		{
			a = len;
			b = 0;
			for (int i = 0; i < nq; i++)
			{
				int			e = pos_s[i] + 1;
				int			st = (sliding_window > 0 && e > sliding_window) ? e - sliding_window : 0;

				a = min(a, st);
				b = max(b, e);
			}
		}
		range_s[0] = max(a, 0);
		range_s[1] = min(b, len);
	}

	// key range of each of the thread's rows; rows past the tile see none
	for (int i = 0; i < 4; i++)
	{
		int			p = pos_s[rg * 4 + i];

		m[i] = -INFINITY;
		l[i] = 0.0f;
		for (int c = 0; c < 4 * NC; c++)
			o[i][c] = 0.0f;
		if (p < 0)
		{
			rlo[i] = 0;
			rhi[i] = 0;
		}
		else if (causal)
		{
			rhi[i] = p + 1;
			rlo[i] = (sliding_window > 0 && p + 1 > sliding_window) ? p + 1 - sliding_window : 0;
		}
		else
		{
			rlo[i] = 0;
			rhi[i] = len;
		}
	}
	__syncthreads();
	lo = range_s[0];
	hi = range_s[1];

	for (int k0 = lo; k0 < hi; k0 += ATTN_BK)
	{
		int			nk = min(ATTN_BK, hi - k0);
		float		sc[4][8];

		// cache offsets of the tile's keys, then the key and value tiles
		if (tid < ATTN_BK)
		{
			size_t		off = 0;

			if (tid < nk)
			{
				int			pos = k0 + tid;
				size_t		slot = (size_t) table[pos / KERNELS_KV_BLOCK] * KERNELS_KV_BLOCK +
					pos % KERNELS_KV_BLOCK;

				off = slot * kv_width + (size_t) kvh * head_dim;
			}
			koff_s[tid] = off;
		}
		__syncthreads();
		// (keys past the range read offset 0, a valid slot, and store zero)
		for (int u0 = 0; u0 < ATTN_BK / JS; u0 += UK)
		{
			float		kx[UK];
			float		vx[UK];

#pragma unroll
			for (int u = 0; u < UK; u++)
			{
				size_t		off = koff_s[ld_r + JS * (u0 + u)] + ld_dd;

				kx[u] = k_cache[off];
				vx[u] = v_cache[off];
			}
#pragma unroll
			for (int u = 0; u < UK; u++)
			{
				int			j = ld_r + JS * (u0 + u);
				int			ok = j < nk && ld_d < head_dim;

				ks[j * LD + ld_d] = ok ? kx[u] : 0.0f;
				vs[j * LD + ld_d] = ok ? vx[u] : 0.0f;
			}
		}
		__syncthreads();

		// scores of the thread's 4 rows and 8 keys
		for (int i = 0; i < 4; i++)
			for (int j = 0; j < 8; j++)
				sc[i][j] = 0.0f;
		for (int d = 0; d < D; d += 4)
		{
			float4		qv[4];

			for (int i = 0; i < 4; i++)
				qv[i] = *(const float4 *) &qs[(rg * 4 + i) * LD + d];
			for (int j = 0; j < 8; j++)
			{
				float4		kv = *(const float4 *) &ks[(kg + 8 * j) * LD + d];

				for (int i = 0; i < 4; i++)
				{
					float		a = sc[i][j];

					a = fmaf(qv[i].x, kv.x, a);
					a = fmaf(qv[i].y, kv.y, a);
					a = fmaf(qv[i].z, kv.z, a);
					a = fmaf(qv[i].w, kv.w, a);
					sc[i][j] = a;
				}
			}
		}

		// mask, online softmax per row over the row's 8 threads
		for (int i = 0; i < 4; i++)
		{
			float		mx = -INFINITY;
			float		m_new;
			float		m_use;
			float		corr;
			float		sum = 0.0f;

			for (int j = 0; j < 8; j++)
			{
				int			key = k0 + kg + 8 * j;
				float		x = sc[i][j] * scale;

				if (key < rlo[i] || key >= rhi[i])
					x = -INFINITY;
				sc[i][j] = x;
				mx = fmaxf(mx, x);
			}
			mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
			mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
			mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 4));
			m_new = fmaxf(m[i], mx);
			// a row that has seen no key yet keeps weights 0, not NaN
			m_use = m_new == -INFINITY ? 0.0f : m_new;
			corr = expf(m[i] - m_use);
			for (int j = 0; j < 8; j++)
			{
				float		pj = expf(sc[i][j] - m_use);

				sc[i][j] = pj;
				sum += pj;
			}
			sum += __shfl_xor_sync(0xffffffffu, sum, 1);
			sum += __shfl_xor_sync(0xffffffffu, sum, 2);
			sum += __shfl_xor_sync(0xffffffffu, sum, 4);
			l[i] = l[i] * corr + sum;
			m[i] = m_new;
			for (int c = 0; c < 4 * NC; c++)
				o[i][c] *= corr;
		}

		// weights into shared memory (over the key tile, once all read it)
		__syncthreads();
		for (int j = 0; j < 8; j++)
			*(float4 *) &ps[(kg + 8 * j) * LP + rg * 4] =
				make_float4(sc[0][j], sc[1][j], sc[2][j], sc[3][j]);
		__syncthreads();

		// outputs += weights . values
#pragma unroll 4
		for (int j = 0; j < nk; j++)
		{
			float4		pv = *(const float4 *) &ps[j * LP + rg * 4];

			for (int c = 0; c < NC; c++)
			{
				float4		vv = *(const float4 *) &vs[j * LD + kg * 4 + 32 * c];

				o[0][4 * c + 0] = fmaf(pv.x, vv.x, o[0][4 * c + 0]);
				o[0][4 * c + 1] = fmaf(pv.x, vv.y, o[0][4 * c + 1]);
				o[0][4 * c + 2] = fmaf(pv.x, vv.z, o[0][4 * c + 2]);
				o[0][4 * c + 3] = fmaf(pv.x, vv.w, o[0][4 * c + 3]);
				o[1][4 * c + 0] = fmaf(pv.y, vv.x, o[1][4 * c + 0]);
				o[1][4 * c + 1] = fmaf(pv.y, vv.y, o[1][4 * c + 1]);
				o[1][4 * c + 2] = fmaf(pv.y, vv.z, o[1][4 * c + 2]);
				o[1][4 * c + 3] = fmaf(pv.y, vv.w, o[1][4 * c + 3]);
				o[2][4 * c + 0] = fmaf(pv.z, vv.x, o[2][4 * c + 0]);
				o[2][4 * c + 1] = fmaf(pv.z, vv.y, o[2][4 * c + 1]);
				o[2][4 * c + 2] = fmaf(pv.z, vv.z, o[2][4 * c + 2]);
				o[2][4 * c + 3] = fmaf(pv.z, vv.w, o[2][4 * c + 3]);
				o[3][4 * c + 0] = fmaf(pv.w, vv.x, o[3][4 * c + 0]);
				o[3][4 * c + 1] = fmaf(pv.w, vv.y, o[3][4 * c + 1]);
				o[3][4 * c + 2] = fmaf(pv.w, vv.z, o[3][4 * c + 2]);
				o[3][4 * c + 3] = fmaf(pv.w, vv.w, o[3][4 * c + 3]);
			}
		}
		// the next tile's first barrier (after the offsets) keeps its loads
		// behind these reads
	}

	for (int i = 0; i < 4; i++)
	{
		int			r = rg * 4 + i;
		float		inv = l[i] > 0.0f ? 1.0f / l[i] : 0.0f;
		float	   *orow;

		if (r >= nq)
			continue;
		orow = out + ((size_t) (row0 + r) * n_heads + h) * head_dim;
		for (int c = 0; c < NC; c++)
			for (int e = 0; e < 4; e++)
			{
				int			d = kg * 4 + 32 * c + e;

				if (d < head_dim)
					orow[d] = o[i][4 * c + e] * inv;
			}
	}
}

// Splits per (row, head) of the per-row kernel: about two blocks per
// multiprocessor when the step has few (row, head) pairs, from the pairs
// and the device only.  Then pairs * splits < 4 * multiprocessors.
static int
AttentionSplits(const KernelsContext *ctx, size_t pairs)
{
	size_t		target = 2 * (size_t) (ctx->sm_count > 0 ? ctx->sm_count : 1);
	size_t		n;

	if (pairs == 0 || pairs >= target)
		return 1;
	n = (target + pairs - 1) / pairs;
	return n < ATTN_MAX_SPLITS ? (int) n : ATTN_MAX_SPLITS;
}

// Bytes of split partials for any step (see AttentionSplits)
static size_t
SplitScratchBytes(const KernelsContext *ctx)
{
	size_t		sms = (size_t) (ctx->sm_count > 0 ? ctx->sm_count : 1);

	return 4 * sms * (KERNELS_MAX_HEAD_DIM + 2) * sizeof(float);
}

// Launch the per-row kernel (and the combine step when split) over the
// n_list rows of list, or over all the step's rows when list is NULL
static int
attention_f32_cuda(KernelsContext *ctx, float *out, const float *q, const float *k_cache,
				   const float *v_cache, int n_heads, int n_kv_heads, int head_dim,
				   int causal, int sliding_window, float scale, const int32_t *list,
				   int n_list)
{
	int			n = list != NULL ? n_list : ctx->n_rows;
	size_t		pairs = (size_t) n * n_heads;
	int			n_splits = AttentionSplits(ctx, pairs);
	float	   *part = NULL;
	dim3		grid;

	if (n_splits > 1)
	{
		int			status;

		// reserved at its largest by kernels_attention_init: no allocation
		status = kernels_buffer_reserve(ctx, &ctx->scratch_attn,
										pairs * n_splits * (head_dim + 2) * sizeof(float));
		if (status != KERNELS_OK)
			return status;
		part = (float *) ctx->scratch_attn.ptr;
	}

	if (n == 0)
		return KERNELS_OK;
	grid = dim3((unsigned int) n, (unsigned int) n_heads, (unsigned int) n_splits);
	attention_f32<<<grid, ATTN_THREADS, 0, ctx->stream>>>(out, part, q, k_cache, v_cache, list,
														  ctx->positions, ctx->row_seq,
														  ctx->seq_len, ctx->block_table,
														  ctx->max_blocks, n_heads,
														  n_kv_heads, head_dim, causal,
														  sliding_window, scale);
	KERNELS_CHECK(cudaGetLastError());
	if (n_splits > 1)
	{
		grid = dim3((unsigned int) n, (unsigned int) n_heads, 1);
		attention_combine_f32<<<grid, ATTN_THREADS, 0, ctx->stream>>>(out, part, list, n_heads,
																	   head_dim, n_splits);
		KERNELS_CHECK(cudaGetLastError());
	}
	return KERNELS_OK;
}

// Launch the tiled kernel over the sequences with min_rows or more rows
static int
attention_tiled_cuda(KernelsContext *ctx, float *out, const float *q, const float *k_cache,
					 const float *v_cache, int n_heads, int n_kv_heads, int head_dim,
					 int causal, int sliding_window, float scale, int min_rows)
{
	unsigned int tiles = (unsigned int) ((ctx->max_seq_rows + ATTN_BQ - 1) / ATTN_BQ);
	dim3		grid((unsigned int) n_heads, tiles, (unsigned int) ctx->n_seqs);

	if (head_dim <= 64)
		attention_tiled_f32<64><<<grid, ATTN_TILED_THREADS, TiledSharedBytes(64), ctx->stream>>>(
			out, q, k_cache, v_cache, ctx->positions, ctx->seq_start, ctx->seq_len,
			ctx->block_table, ctx->max_blocks, n_heads, n_kv_heads, head_dim, causal,
			sliding_window, scale, min_rows);
	else
		attention_tiled_f32<128><<<grid, ATTN_TILED_THREADS, TiledSharedBytes(128), ctx->stream>>>(
			out, q, k_cache, v_cache, ctx->positions, ctx->seq_start, ctx->seq_len,
			ctx->block_table, ctx->max_blocks, n_heads, n_kv_heads, head_dim, causal,
			sliding_window, scale, min_rows);
	KERNELS_CHECK(cudaGetLastError());
	return KERNELS_OK;
}

// Read PGMLOPS_CUDA_SIMPLE_ATTENTION, let the tiled kernel use its shared
// memory and reserve the split scratch at its largest, so that the decode
// path (which CUDA graphs may capture) never allocates; called by
// kernels_context_create
int
kernels_attention_init(KernelsContext *ctx)
{
	const char *env = getenv("PGMLOPS_CUDA_SIMPLE_ATTENTION");
	cudaError_t e64;
	cudaError_t e128;

	ctx->simple_attention = env != NULL && strcmp(env, "1") == 0;
	e64 = cudaFuncSetAttribute(attention_tiled_f32<64>,
							   cudaFuncAttributeMaxDynamicSharedMemorySize,
							   (int) TiledSharedBytes(64));
	e128 = cudaFuncSetAttribute(attention_tiled_f32<128>,
								cudaFuncAttributeMaxDynamicSharedMemorySize,
								(int) TiledSharedBytes(128));
	if (e64 != cudaSuccess || e128 != cudaSuccess)
	{
		// not that much shared memory: the per-row kernel does everything
		(void) cudaGetLastError();
		ctx->simple_attention = 1;
	}
	return kernels_buffer_reserve(ctx, &ctx->scratch_attn, SplitScratchBytes(ctx));
}

// Attention of the step's rows over one layer's cache
extern "C" int
kernels_attention(KernelsContext *ctx, float *out, const float *q, const float *k_cache,
				  const float *v_cache, int n_heads, int n_kv_heads, int head_dim, int causal,
				  int sliding_window, float scale)
{
	int			tiled;
	int			status;

	KERNELS_REQUIRE(ctx != NULL && n_heads > 0 && n_kv_heads > 0);
	KERNELS_REQUIRE(n_heads % n_kv_heads == 0 && n_heads <= 65535);
	KERNELS_REQUIRE(head_dim > 0 && head_dim <= KERNELS_MAX_HEAD_DIM);
	KERNELS_REQUIRE(ctx->n_rows == 0 ||
					(out != NULL && q != NULL && k_cache != NULL && v_cache != NULL));
	if (ctx->n_rows == 0)
		return KERNELS_OK;
	causal = causal != 0;

	// prefill chunks to the tiled kernel, the other rows to the per-row one
	tiled = !ctx->simple_attention && head_dim <= ATTN_TILED_MAX_DIM &&
		ctx->n_seqs <= 65535 && ctx->max_seq_rows / ATTN_BQ < 65535 &&
		ctx->max_seq_rows >= KERNELS_ATTN_TILE_MIN_ROWS;
	if (!tiled)
		return attention_f32_cuda(ctx, out, q, k_cache, v_cache, n_heads, n_kv_heads,
								  head_dim, causal, sliding_window, scale, NULL, 0);
	status = attention_tiled_cuda(ctx, out, q, k_cache, v_cache, n_heads, n_kv_heads,
								  head_dim, causal, sliding_window, scale,
								  KERNELS_ATTN_TILE_MIN_ROWS);
	if (status != KERNELS_OK || ctx->few_rows == 0)
		return status;
	// the other rows, listed by begin_step
	KERNELS_REQUIRE(ctx->attn_rows != NULL);
	return attention_f32_cuda(ctx, out, q, k_cache, v_cache, n_heads, n_kv_heads, head_dim,
							  causal, sliding_window, scale, ctx->attn_rows, ctx->few_rows);
}
