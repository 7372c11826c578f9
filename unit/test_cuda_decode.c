// objects: src/compute/compute_cpu.o src/compute/compute_cuda.o src/llm/llmutil.o src/vector/vecdist.o
/*
 * test_cuda_decode.c
 *	  Unit tests of the CUDA decode path: the small-batch matrix product
 *	  (kernels/gemv.cu) and CUDA graphs of decode steps (graph_begin and
 *	  graph_end of the CUDA backend).
 *
 * Matmul: 1 to 8 rows (the custom kernel) and 9 and 16 (cuBLAS) against
 * the CPU backend, f32 and bf16 contexts, shapes with odd sizes (scalar
 * tails, rows past the end of a block), vector-sized ones and an x that is
 * not 16-byte aligned.  The weights hold bf16 values, so that every
 * backend multiplies the same numbers: with x kept in f32 the custom
 * kernel must agree to 1e-4 (relative) in both precisions.
 *
 * Fused products (matmul_add onto a non-zero out, matmul_qkv,
 * matmul_swiglu): 1, 2, 5, 8 (one gemv.cu launch), 9 and 64 rows (cuBLAS)
 * against the CPU backend's fused ops (which equal its unfused ones),
 * against the unfused ops on the same context (1e-6: the same sums), and
 * on a context made with PGMLOPS_CUDA_NO_FUSION=1 against the unfused ops.
 *
 * Graphs: a two-layer toy decoder (GQA, RoPE, paged KV cache) issues the
 * ops of forward.c (the fused products where the backend has them) for a
 * prefill and then decode steps of three sequences
 * whose positions cross a KV block, on a context with graphs and one
 * without; every step's logits must match (1e-6) and match the CPU (1e-3;
 * 2e-2 in bf16, whose prefill products take x as bf16),
 * steps must have been replayed, a step with an out-of-range token must
 * not replay (its embed fails), and a step with a wider block table must
 * not replay a recording made for another stride.  A fourth model, with
 * graphs and PGMLOPS_CUDA_NO_FUSION=1, must match the fused one (1e-5).
 *
 * Without a CUDA device (or in a build without CUDA) the test is skipped.
 * PGMLOPS_VERBOSE=1 prints every comparison; PGMLOPS_BENCH=1 times the
 * decode products of a Llama-3.2-1B-sized model (weight TB/s), and its
 * fused products against the unfused ops they replace.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compute/computeops.h"

#ifdef USE_CUDA
#include "kernels.h"
#include "unit.h"
#include "unitmath.h"

typedef struct Backend
{
	const ComputeOps *ops;
	void	   *ctx;
} Backend;

static Backend cpu;
static bool verbose;
static LlmError err;

/* compare two float arrays within tol, reporting under name */
static void
CheckClose(const char *name, const float *got, const float *want, size_t n, double tol)
{
	double		e = UnitRelErr(got, want, n);

	if (verbose || !(e <= tol))
		printf("%s %s: rel err %.3g (tol %.0e)\n", e <= tol ? "ok  " : "FAIL", name, e, tol);
	CHECK(e <= tol);
}

/* report an op failure */
static bool
Ok(const char *what, int rc)
{
	if (rc != LLM_OK)
		printf("FAIL %s: error %d: %s\n", what, rc, err.message);
	CHECK(rc == LLM_OK);
	return rc == LLM_OK;
}

/* a device buffer of n floats (plus pad), filled from host unless NULL */
static float *
DevFloats(Backend *be, const float *host, size_t n, size_t pad)
{
	void	   *p = NULL;

	if (!Ok("alloc", be->ops->alloc(be->ctx, (n + pad) * sizeof(float), &p, &err)))
		return NULL;
	if (host != NULL &&
		!Ok("upload", be->ops->upload(be->ctx, (float *) p + pad, host, n * sizeof(float), &err)))
		return NULL;
	return p;
}

/* out(n, o) = x . w^T on one backend; x placed `pad` floats into its buffer */
static float *
RunMatmul(Backend *be, const float *x, const LlmTensor *w, int n, size_t pad)
{
	LlmTensor	dw;
	float	   *dx;
	float	   *dout;
	float	   *out = NULL;
	size_t		count = (size_t) n * w->shape[0];

	if (!Ok("weight_load", be->ops->weight_load(be->ctx, &dw, w, &err)))
		return NULL;
	dx = DevFloats(be, x, (size_t) n * w->shape[1], pad);
	dout = DevFloats(be, NULL, count, 0);
	if (dx != NULL && dout != NULL &&
		Ok("matmul", be->ops->matmul(be->ctx, dout, dx + pad, &dw, n, &err)))
	{
		out = calloc(count, sizeof(float));
		Ok("download", be->ops->download(be->ctx, out, dout, count * sizeof(float), &err));
	}
	be->ops->free(be->ctx, dx);
	be->ops->free(be->ctx, dout);
	be->ops->weight_free(be->ctx, &dw);
	return out;
}

/* matmul of 1..8, 9 and 16 rows against the CPU */
static void
TestMatmul(Backend *gpu, ComputePrecision precision)
{
	/* (o, i, pad of x): tails, vector sizes, 4 rows per block, misaligned x */
	static const int shapes[][3] = {{37, 200, 0}, {37, 203, 0}, {96, 204, 0},
	{1030, 2056, 0}, {4500, 264, 0}, {130, 256, 1}};
	static const int rows[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 16};
	const char *pname = precision == COMPUTE_PRECISION_BF16 ? "bf16" : "f32";

	for (int si = 0; si < 6; si++)
	{
		int			o = shapes[si][0];
		int			in = shapes[si][1];
		size_t		pad = (size_t) shapes[si][2];
		float	   *wv = UnitRandArrayBf16((size_t) o * in, 0.1f);
		LlmTensor	w = UnitHostTensor(wv, LLM_DTYPE_BF16, 2, o, in);

		for (int ri = 0; ri < 10; ri++)
		{
			int			n = rows[ri];
			float	   *x = UnitRandArrayBf16((size_t) n * in, 1.0f);
			float	   *want = RunMatmul(&cpu, x, &w, n, 0);
			float	   *got = RunMatmul(gpu, x, &w, n, pad);
			char		name[96];
			double		tol;

			/* x stays f32 up to 8 rows; cuBLAS takes it as bf16 beyond */
			tol = (n > 8 && precision == COMPUTE_PRECISION_BF16) ? 2e-2 : 1e-4;
			snprintf(name, sizeof(name), "matmul %dx%dx%d%s [%s]", n, o, in,
					 pad ? " (x unaligned)" : "", pname);
			if (want != NULL && got != NULL)
				CheckClose(name, got, want, (size_t) n * o, tol);
			else
				CHECK(false);
			free(x);
			free(want);
			free(got);
		}
		free(wv);
		free(w.data);
	}
}

/* the fused products and how many weights and outputs each takes */
typedef enum FusedOp
{
	FUSED_ADD,					/* out += x . w[0]^T */
	FUSED_QKV,					/* out[p] = x . w[p]^T, p < 3 */
	FUSED_SWIGLU				/* out = silu(x . w[0]^T) * (x . w[1]^T) */
} FusedOp;

static const int fused_weights[] = {1, 3, 2};
static const int fused_outs[] = {1, 3, 1};
static const char *const fused_names[] = {"matmul_add", "matmul_qkv", "matmul_swiglu"};

/*
 * Issue a fused op on device buffers, or (fused false) the unfused ops it
 * replaces; output p is (n, rows of w[p]); tmp holds (n, rows of w[0])
 */
static int
IssueFused(Backend *be, FusedOp op, bool fused, float **out, const float *x,
		   const LlmTensor *w, float *tmp, int n)
{
	const ComputeOps *ops = be->ops;
	void	   *ctx = be->ctx;
	size_t		count = (size_t) n * w[0].shape[0];
	int			rc;

	switch (op)
	{
		case FUSED_ADD:
			if (fused)
				return ops->matmul_add(ctx, out[0], x, &w[0], n, &err);
			rc = ops->matmul(ctx, tmp, x, &w[0], n, &err);
			return rc != LLM_OK ? rc : ops->add(ctx, out[0], tmp, count, &err);
		case FUSED_QKV:
			if (fused)
				return ops->matmul_qkv(ctx, out[0], out[1], out[2], x, &w[0], &w[1], &w[2], n,
									   &err);
			rc = ops->matmul(ctx, out[0], x, &w[0], n, &err);
			if (rc == LLM_OK)
				rc = ops->matmul(ctx, out[1], x, &w[1], n, &err);
			if (rc == LLM_OK)
				rc = ops->matmul(ctx, out[2], x, &w[2], n, &err);
			return rc;
		case FUSED_SWIGLU:
			if (fused)
				return ops->matmul_swiglu(ctx, out[0], x, &w[0], &w[1], n, &err);
			rc = ops->matmul(ctx, out[0], x, &w[0], n, &err);
			if (rc == LLM_OK)
				rc = ops->matmul(ctx, tmp, x, &w[1], n, &err);
			if (rc == LLM_OK)
				rc = ops->silu_mul(ctx, out[0], tmp, count, &err);
			return rc;
	}
	return LLM_ERR_ARGUMENT;
}

/*
 * Run a fused op (or its unfused ops) on one backend from host data: x
 * placed `pad` floats into its buffer, out of FUSED_ADD starting as base;
 * result[p] gets a host copy of output p (NULL on failure)
 */
static void
RunFused(Backend *be, FusedOp op, bool fused, const float *x, const LlmTensor *w, int n,
		 size_t pad, const float *base, float **result)
{
	const ComputeOps *ops = be->ops;
	LlmTensor	dw[3];
	float	   *dout[3] = {NULL, NULL, NULL};
	float	   *dx = NULL;
	float	   *tmp = NULL;
	int			loaded = 0;
	bool		ok = true;

	memset(dw, 0, sizeof(dw));
	for (int p = 0; p < 3; p++)
		result[p] = NULL;
	for (int p = 0; ok && p < fused_weights[op]; p++)
	{
		ok = Ok("weight_load", ops->weight_load(be->ctx, &dw[p], &w[p], &err));
		loaded += ok;
	}
	if (ok)
	{
		dx = DevFloats(be, x, (size_t) n * w[0].shape[1], pad);
		tmp = DevFloats(be, NULL, (size_t) n * w[0].shape[0], 0);
		ok = dx != NULL && tmp != NULL;
	}
	for (int p = 0; ok && p < fused_outs[op]; p++)
	{
		dout[p] = DevFloats(be, op == FUSED_ADD ? base : NULL, (size_t) n * w[p].shape[0], 0);
		ok = dout[p] != NULL;
	}
	if (ok)
		ok = Ok(fused_names[op], IssueFused(be, op, fused, dout, dx + pad, dw, tmp, n));
	for (int p = 0; ok && p < fused_outs[op]; p++)
	{
		size_t		count = (size_t) n * w[p].shape[0];

		result[p] = calloc(count, sizeof(float));
		ok = Ok("download", ops->download(be->ctx, result[p], dout[p], count * sizeof(float),
										  &err));
	}
	for (int p = 0; p < 3; p++)
		if (dout[p] != NULL)
			ops->free(be->ctx, dout[p]);
	if (dx != NULL)
		ops->free(be->ctx, dx);
	if (tmp != NULL)
		ops->free(be->ctx, tmp);
	for (int p = 0; p < loaded; p++)
		ops->weight_free(be->ctx, &dw[p]);
}

/*
 * The fused products against the CPU's and against the unfused ops, on
 * gpu and (when not NULL) on a context without fusion
 */
static void
TestFused(Backend *gpu, Backend *nofuse, ComputePrecision precision)
{
	/* op, rows of w[0], of w[1] and w[2] (qkv), columns, pad of x */
	static const int cases[][5] = {
		{FUSED_ADD, 37, 0, 200, 0}, {FUSED_ADD, 130, 0, 256, 1}, {FUSED_ADD, 4500, 0, 264, 0},
		{FUSED_QKV, 48, 16, 200, 0}, {FUSED_QKV, 37, 13, 203, 0}, {FUSED_QKV, 64, 32, 256, 1},
		{FUSED_QKV, 3000, 1000, 264, 0},
		{FUSED_SWIGLU, 37, 0, 200, 0}, {FUSED_SWIGLU, 96, 0, 64, 1},
		{FUSED_SWIGLU, 2200, 0, 264, 0}};
	/* 65 and 128: the bf16 products beyond the split path (plain GEMM, beta 1) */
	static const int rows[] = {1, 2, 5, 8, 9, 64, 65, 128};
	const char *pname = precision == COMPUTE_PRECISION_BF16 ? "bf16" : "f32";

	for (size_t ci = 0; ci < sizeof(cases) / sizeof(cases[0]); ci++)
	{
		FusedOp		op = (FusedOp) cases[ci][0];
		int			in = cases[ci][3];
		size_t		pad = (size_t) cases[ci][4];
		LlmTensor	w[3];

		for (int p = 0; p < fused_weights[op]; p++)
		{
			int			o = (op == FUSED_QKV && p > 0) ? cases[ci][2] : cases[ci][1];
			float	   *wv = UnitRandArrayBf16((size_t) o * in, 0.1f);

			w[p] = UnitHostTensor(wv, LLM_DTYPE_BF16, 2, o, in);
			free(wv);
		}
		for (size_t ri = 0; ri < sizeof(rows) / sizeof(rows[0]); ri++)
		{
			int			n = rows[ri];
			float	   *x = UnitRandArrayBf16((size_t) n * in, 1.0f);
			float	   *base = UnitRandArrayBf16((size_t) n * w[0].shape[0], 0.5f);
			float	   *want[3];
			float	   *got[3];
			float	   *unfused[3];
			float	   *nofused[3] = {NULL, NULL, NULL};

			/* x stays f32 up to 8 rows; cuBLAS takes it as bf16 beyond */
			double		tol = (n > 8 && precision == COMPUTE_PRECISION_BF16) ? 2e-2 : 1e-4;

			RunFused(&cpu, op, true, x, w, n, 0, base, want);
			RunFused(gpu, op, true, x, w, n, pad, base, got);
			RunFused(gpu, op, false, x, w, n, pad, base, unfused);
			if (nofuse != NULL)
				RunFused(nofuse, op, true, x, w, n, pad, base, nofused);
			for (int p = 0; p < fused_outs[op]; p++)
			{
				size_t		count = (size_t) n * w[p].shape[0];
				char		name[128];

				snprintf(name, sizeof(name), "%s[%d] %dx%dx%d%s [%s]", fused_names[op], p, n,
						 (int) w[p].shape[0], in, pad ? " (x unaligned)" : "", pname);
				CHECK(want[p] != NULL && got[p] != NULL && unfused[p] != NULL);
				if (want[p] == NULL || got[p] == NULL || unfused[p] == NULL)
					continue;
				CheckClose(name, got[p], want[p], count, tol);
				strncat(name, " vs unfused", sizeof(name) - strlen(name) - 1);
				CheckClose(name, got[p], unfused[p], count, 1e-6);
				if (nofuse != NULL)
				{
					strncat(name, " (fusion off)", sizeof(name) - strlen(name) - 1);
					CHECK(nofused[p] != NULL);
					if (nofused[p] != NULL)
						CheckClose(name, nofused[p], unfused[p], count, 1e-6);
				}
			}
			for (int p = 0; p < 3; p++)
			{
				free(want[p]);
				free(got[p]);
				free(unfused[p]);
				free(nofused[p]);
			}
			free(x);
			free(base);
		}
		for (int p = 0; p < fused_weights[op]; p++)
			free(w[p].data);
	}
}

/* the toy decoder */
#define M_HIDDEN 64
#define M_HEADS 4
#define M_KV_HEADS 2
#define M_HEAD_DIM 16
#define M_FF 96
#define M_VOCAB 50
#define M_LAYERS 2
#define M_SEQS 3
#define M_PREFILL 14			/* rows per sequence in the prefill */
#define M_BLOCKS 8
#define M_ROWS (M_SEQS * M_PREFILL)
#define M_STEPS 6

/* host weights of the toy decoder, as the file would hold them */
typedef struct HostModel
{
	LlmTensor	embed;
	LlmTensor	norm[2 * M_LAYERS + 1];
	LlmTensor	wq[M_LAYERS];
	LlmTensor	wk[M_LAYERS];
	LlmTensor	wv[M_LAYERS];
	LlmTensor	wo[M_LAYERS];
	LlmTensor	gate[M_LAYERS];
	LlmTensor	up[M_LAYERS];
	LlmTensor	down[M_LAYERS];
	LlmTensor	lm_head;
	float		inv_freq[M_HEAD_DIM / 2];
} HostModel;

/* the toy decoder on one backend */
typedef struct Model
{
	Backend		be;
	LlmTensor	embed;
	LlmTensor	norm[2 * M_LAYERS + 1];
	LlmTensor	wq[M_LAYERS];
	LlmTensor	wk[M_LAYERS];
	LlmTensor	wv[M_LAYERS];
	LlmTensor	wo[M_LAYERS];
	LlmTensor	gate[M_LAYERS];
	LlmTensor	up[M_LAYERS];
	LlmTensor	down[M_LAYERS];
	LlmTensor	lm_head;
	float	   *inv_freq;
	ComputeKvCache cache;
	float	   *x;
	float	   *xn;
	float	   *q;
	float	   *k;
	float	   *v;
	float	   *att;
	float	   *h1;
	float	   *h2;
	float	   *logits;
} Model;

/* a random f32 matrix (o, i) */
static LlmTensor
RandMatrix(int64_t o, int64_t i, float scale)
{
	float	   *v = UnitRandArrayBf16((size_t) (o * i), scale);
	LlmTensor	t = UnitHostTensor(v, LLM_DTYPE_F32, 2, o, i);

	free(v);
	return t;
}

static void
MakeHostModel(HostModel *h)
{
	float		ones[M_HIDDEN];

	h->embed = RandMatrix(M_VOCAB, M_HIDDEN, 1.0f);
	for (int i = 0; i < M_HIDDEN; i++)
		ones[i] = 1.0f + UnitRandF(0.2f);
	for (int l = 0; l < 2 * M_LAYERS + 1; l++)
		h->norm[l] = UnitHostTensor(ones, LLM_DTYPE_F32, 1, M_HIDDEN, 0);
	for (int l = 0; l < M_LAYERS; l++)
	{
		h->wq[l] = RandMatrix(M_HEADS * M_HEAD_DIM, M_HIDDEN, 0.15f);
		h->wk[l] = RandMatrix(M_KV_HEADS * M_HEAD_DIM, M_HIDDEN, 0.15f);
		h->wv[l] = RandMatrix(M_KV_HEADS * M_HEAD_DIM, M_HIDDEN, 0.15f);
		h->wo[l] = RandMatrix(M_HIDDEN, M_HEADS * M_HEAD_DIM, 0.1f);
		h->gate[l] = RandMatrix(M_FF, M_HIDDEN, 0.15f);
		h->up[l] = RandMatrix(M_FF, M_HIDDEN, 0.15f);
		h->down[l] = RandMatrix(M_HIDDEN, M_FF, 0.1f);
	}
	h->lm_head = RandMatrix(M_VOCAB, M_HIDDEN, 0.2f);
	for (int i = 0; i < M_HEAD_DIM / 2; i++)
		h->inv_freq[i] = powf(10000.0f, -2.0f * i / M_HEAD_DIM);
}

static void
FreeHostModel(HostModel *h)
{
	free(h->embed.data);
	for (int l = 0; l < 2 * M_LAYERS + 1; l++)
		free(h->norm[l].data);
	for (int l = 0; l < M_LAYERS; l++)
	{
		free(h->wq[l].data);
		free(h->wk[l].data);
		free(h->wv[l].data);
		free(h->wo[l].data);
		free(h->gate[l].data);
		free(h->up[l].data);
		free(h->down[l].data);
	}
	free(h->lm_head.data);
}

/* load one weight; false on failure */
static bool
Load(Model *m, LlmTensor *dst, const LlmTensor *src)
{
	return Ok("weight_load", m->be.ops->weight_load(m->be.ctx, dst, src, &err));
}

/* load the toy decoder and allocate its buffers and KV cache */
static bool
LoadModel(Model *m, const HostModel *h)
{
	size_t		cache_floats = (size_t) M_LAYERS * M_BLOCKS * COMPUTE_KV_BLOCK *
		M_KV_HEADS * M_HEAD_DIM;
	float	   *zeros = calloc(cache_floats, sizeof(float));
	bool		ok = true;

	ok = ok && Load(m, &m->embed, &h->embed) && Load(m, &m->lm_head, &h->lm_head);
	for (int l = 0; ok && l < 2 * M_LAYERS + 1; l++)
		ok = Load(m, &m->norm[l], &h->norm[l]);
	for (int l = 0; ok && l < M_LAYERS; l++)
		ok = Load(m, &m->wq[l], &h->wq[l]) && Load(m, &m->wk[l], &h->wk[l]) &&
			Load(m, &m->wv[l], &h->wv[l]) && Load(m, &m->wo[l], &h->wo[l]) &&
			Load(m, &m->gate[l], &h->gate[l]) && Load(m, &m->up[l], &h->up[l]) &&
			Load(m, &m->down[l], &h->down[l]);
	if (ok)
	{
		m->inv_freq = DevFloats(&m->be, h->inv_freq, M_HEAD_DIM / 2, 0);
		m->cache.n_layers = M_LAYERS;
		m->cache.n_kv_heads = M_KV_HEADS;
		m->cache.head_dim = M_HEAD_DIM;
		m->cache.n_blocks = M_BLOCKS;
		m->cache.k = DevFloats(&m->be, zeros, cache_floats, 0);
		m->cache.v = DevFloats(&m->be, zeros, cache_floats, 0);
		m->x = DevFloats(&m->be, NULL, (size_t) M_ROWS * M_HIDDEN, 0);
		m->xn = DevFloats(&m->be, NULL, (size_t) M_ROWS * M_HIDDEN, 0);
		m->q = DevFloats(&m->be, NULL, (size_t) M_ROWS * M_HEADS * M_HEAD_DIM, 0);
		m->k = DevFloats(&m->be, NULL, (size_t) M_ROWS * M_KV_HEADS * M_HEAD_DIM, 0);
		m->v = DevFloats(&m->be, NULL, (size_t) M_ROWS * M_KV_HEADS * M_HEAD_DIM, 0);
		m->att = DevFloats(&m->be, NULL, (size_t) M_ROWS * M_HEADS * M_HEAD_DIM, 0);
		m->h1 = DevFloats(&m->be, NULL, (size_t) M_ROWS * M_FF, 0);
		m->h2 = DevFloats(&m->be, NULL, (size_t) M_ROWS * M_FF, 0);
		m->logits = DevFloats(&m->be, NULL, (size_t) M_ROWS * M_VOCAB, 0);
		ok = m->inv_freq && m->cache.k && m->cache.v && m->x && m->xn && m->q && m->k &&
			m->v && m->att && m->h1 && m->h2 && m->logits;
	}
	free(zeros);
	return ok;
}

/* release what LoadModel loaded and allocated */
static void
FreeModel(Model *m)
{
	const ComputeOps *ops = m->be.ops;
	void	   *ctx = m->be.ctx;
	LlmTensor  *weights[2 + 2 * M_LAYERS + 1 + 7 * M_LAYERS];
	float	   *buffers[] = {m->inv_freq, m->cache.k, m->cache.v, m->x, m->xn, m->q, m->k,
	m->v, m->att, m->h1, m->h2, m->logits};
	int			nw = 0;

	if (ctx == NULL)
		return;
	weights[nw++] = &m->embed;
	weights[nw++] = &m->lm_head;
	for (int l = 0; l < 2 * M_LAYERS + 1; l++)
		weights[nw++] = &m->norm[l];
	for (int l = 0; l < M_LAYERS; l++)
	{
		weights[nw++] = &m->wq[l];
		weights[nw++] = &m->wk[l];
		weights[nw++] = &m->wv[l];
		weights[nw++] = &m->wo[l];
		weights[nw++] = &m->gate[l];
		weights[nw++] = &m->up[l];
		weights[nw++] = &m->down[l];
	}
	for (int i = 0; i < nw; i++)
		if (weights[i]->data != NULL)
			ops->weight_free(ctx, weights[i]);
	for (size_t i = 0; i < sizeof(buffers) / sizeof(buffers[0]); i++)
		if (buffers[i] != NULL)
			ops->free(ctx, buffers[i]);
}

/* the decoder ops of forward.c after begin_step (rows n, n_out outputs) */
static int
DecoderOps(Model *m, int n, int n_out)
{
	const ComputeOps *ops = m->be.ops;
	void	   *ctx = m->be.ctx;
	float		scale = 1.0f / sqrtf((float) M_HEAD_DIM);
	int			rc;

#define TRY(call) do { if ((rc = (call)) != LLM_OK) return rc; } while (0)
	TRY(ops->embed(ctx, m->x, &m->embed, COMPUTE_INDEX_TOKENS, false, &err));
	for (int l = 0; l < M_LAYERS; l++)
	{
		TRY(ops->rmsnorm(ctx, m->xn, m->x, &m->norm[2 * l], n, 1e-5f, &err));
		if (ops->matmul_qkv != NULL)
			TRY(ops->matmul_qkv(ctx, m->q, m->k, m->v, m->xn, &m->wq[l], &m->wk[l], &m->wv[l],
								n, &err));
		else
		{
			TRY(ops->matmul(ctx, m->q, m->xn, &m->wq[l], n, &err));
			TRY(ops->matmul(ctx, m->k, m->xn, &m->wk[l], n, &err));
			TRY(ops->matmul(ctx, m->v, m->xn, &m->wv[l], n, &err));
		}
		TRY(ops->rope(ctx, m->q, m->k, M_HEADS, M_KV_HEADS, M_HEAD_DIM, m->inv_freq, &err));
		TRY(ops->kv_store(ctx, &m->cache, l, m->k, m->v, &err));
		TRY(ops->attention(ctx, m->att, m->q, &m->cache, l, M_HEADS, true, 0, scale, &err));
		if (ops->matmul_add != NULL)
			TRY(ops->matmul_add(ctx, m->x, m->att, &m->wo[l], n, &err));
		else
		{
			TRY(ops->matmul(ctx, m->xn, m->att, &m->wo[l], n, &err));
			TRY(ops->add(ctx, m->x, m->xn, (size_t) n * M_HIDDEN, &err));
		}
		TRY(ops->rmsnorm(ctx, m->xn, m->x, &m->norm[2 * l + 1], n, 1e-5f, &err));
		if (ops->matmul_swiglu != NULL)
			TRY(ops->matmul_swiglu(ctx, m->h1, m->xn, &m->gate[l], &m->up[l], n, &err));
		else
		{
			TRY(ops->matmul(ctx, m->h1, m->xn, &m->gate[l], n, &err));
			TRY(ops->matmul(ctx, m->h2, m->xn, &m->up[l], n, &err));
			TRY(ops->silu_mul(ctx, m->h1, m->h2, (size_t) n * M_FF, &err));
		}
		if (ops->matmul_add != NULL)
			TRY(ops->matmul_add(ctx, m->x, m->h1, &m->down[l], n, &err));
		else
		{
			TRY(ops->matmul(ctx, m->xn, m->h1, &m->down[l], n, &err));
			TRY(ops->add(ctx, m->x, m->xn, (size_t) n * M_HIDDEN, &err));
		}
	}
	TRY(ops->gather_rows(ctx, m->xn, m->x, M_HIDDEN, &err));
	TRY(ops->rmsnorm(ctx, m->x, m->xn, &m->norm[2 * M_LAYERS], n_out, 1e-5f, &err));
	TRY(ops->matmul(ctx, m->logits, m->x, &m->lm_head, n_out, &err));
#undef TRY
	return LLM_OK;
}

/*
 * One step as forward.c runs it: keyed (graphs) when every sequence has
 * one row; logits (n_out, vocab) into host memory.  *replayed tells.
 */
static int
RunStep(Model *m, const ComputeBatch *b, float *logits, bool *replayed)
{
	const ComputeOps *ops = m->be.ops;
	uint64_t	key = 0;
	int			rc;

	*replayed = false;
	rc = ops->begin_step(m->be.ctx, b, &err);
	if (rc != LLM_OK)
		return rc;
	if (ops->graph_begin != NULL && b->n_rows == b->n_seqs)
	{
		key = (uint64_t) b->n_rows << 32 | (uint64_t) b->n_out;
		rc = ops->graph_begin(m->be.ctx, key, replayed, &err);
		if (rc != LLM_OK)
			return rc;
	}
	if (!*replayed)
		rc = DecoderOps(m, b->n_rows, b->n_out);
	if (key != 0)
	{
		int			rc2 = ops->graph_end(m->be.ctx, key, &err);

		if (rc == LLM_OK)
			rc = rc2;
	}
	if (rc != LLM_OK)
		return rc;
	return ops->download(m->be.ctx, logits, m->logits,
						 (size_t) b->n_out * M_VOCAB * sizeof(float), &err);
}

/* the layout arrays of a step */
typedef struct StepData
{
	ComputeBatch b;
	int32_t		tokens[M_ROWS];
	int32_t		positions[M_ROWS];
	int32_t		seq_start[M_SEQS + 1];
	int32_t		seq_len[M_SEQS];
	int32_t		block_table[M_SEQS * M_BLOCKS];
	int32_t		out_rows[M_SEQS];
} StepData;

/*
 * rows rows per sequence ending at position last; sequence s keeps its
 * blocks at physical 7 - 2s and 6 - 2s (table width max_blocks)
 */
static void
MakeStep(StepData *st, int rows, int last, int max_blocks)
{
	int			r = 0;

	memset(st, 0, sizeof(*st));
	for (int s = 0; s < M_SEQS; s++)
	{
		st->seq_start[s] = r;
		st->seq_len[s] = last + 1;
		for (int b = 0; b < max_blocks; b++)
			st->block_table[s * max_blocks + b] = b < 2 ? 7 - 2 * s - b : 0;
		for (int p = last - rows + 1; p <= last; p++, r++)
		{
			st->tokens[r] = (int32_t) (UnitRandU32() % M_VOCAB);
			st->positions[r] = p;
		}
		st->out_rows[s] = r - 1;
	}
	st->seq_start[M_SEQS] = r;
	st->b.n_rows = r;
	st->b.n_seqs = M_SEQS;
	st->b.tokens = st->tokens;
	st->b.positions = st->positions;
	st->b.seq_start = st->seq_start;
	st->b.seq_len = st->seq_len;
	st->b.block_table = st->block_table;
	st->b.max_blocks = max_blocks;
	st->b.n_out = M_SEQS;
	st->b.out_rows = st->out_rows;
}

/*
 * The same step on the CPU, the GPU without graphs, with graphs, and with
 * graphs and no fusion; compares
 */
static void
CompareStep(Model *models, const StepData *st, const char *what, int *replays, double tol)
{
	float		want[M_SEQS * M_VOCAB];
	float		direct[M_SEQS * M_VOCAB];
	float		graphed[M_SEQS * M_VOCAB];
	float		unfused[M_SEQS * M_VOCAB];
	bool		replayed;
	bool		unfused_replayed;
	char		name[96];
	size_t		count = (size_t) M_SEQS * M_VOCAB;

	if (!Ok(what, RunStep(&models[0], &st->b, want, &replayed)) ||
		!Ok(what, RunStep(&models[1], &st->b, direct, &replayed)) ||
		!Ok(what, RunStep(&models[3], &st->b, unfused, &unfused_replayed)) ||
		!Ok(what, RunStep(&models[2], &st->b, graphed, &replayed)))
		return;
	if (replayed)
		(*replays)++;
	snprintf(name, sizeof(name), "%s: direct vs CPU", what);
	CheckClose(name, direct, want, count, tol);
	snprintf(name, sizeof(name), "%s: graph%s vs direct", what, replayed ? " (replayed)" : "");
	CheckClose(name, graphed, direct, count, 1e-6);
	snprintf(name, sizeof(name), "%s: no fusion%s vs fused", what,
			 unfused_replayed ? " (replayed)" : "");
	CheckClose(name, unfused, graphed, count, 1e-5);
}

/* decode steps through graphs against the same steps without */
static void
TestGraphs(ComputePrecision precision)
{
	HostModel	h;
	Model		models[4];
	StepData	st;
	const char *no_graphs = getenv("PGMLOPS_CUDA_NO_GRAPHS");
	const char *no_fusion = getenv("PGMLOPS_CUDA_NO_FUSION");
	bool		graphs_off = no_graphs != NULL && no_graphs[0] != '\0' &&
		strcmp(no_graphs, "0") != 0;
	int			replays = 0;
	char		what[64];
	bool		ok = true;

	/* against the CPU: bf16 prefill products take x as bf16 (cuBLAS) */
	double		tol = precision == COMPUTE_PRECISION_BF16 ? 2e-2 : 1e-3;

	memset(models, 0, sizeof(models));
	MakeHostModel(&h);
	models[0].be = cpu;
	models[1].be.ops = &ComputeCudaOps;
	models[2].be.ops = &ComputeCudaOps;
	/* models[1]: a context without graphs */
	setenv("PGMLOPS_CUDA_NO_GRAPHS", "1", 1);
	ok = Ok("cuda init", ComputeCudaOps.init(&models[1].be.ctx, precision, &err));
	if (no_graphs != NULL)
		setenv("PGMLOPS_CUDA_NO_GRAPHS", no_graphs, 1);
	else
		unsetenv("PGMLOPS_CUDA_NO_GRAPHS");
	ok = ok && Ok("cuda init", ComputeCudaOps.init(&models[2].be.ctx, precision, &err));
	/* models[3]: with graphs, without fusion */
	models[3].be.ops = &ComputeCudaOps;
	setenv("PGMLOPS_CUDA_NO_FUSION", "1", 1);
	ok = ok && Ok("cuda init", ComputeCudaOps.init(&models[3].be.ctx, precision, &err));
	if (no_fusion != NULL)
		setenv("PGMLOPS_CUDA_NO_FUSION", no_fusion, 1);
	else
		unsetenv("PGMLOPS_CUDA_NO_FUSION");
	for (int i = 0; ok && i < 4; i++)
		ok = LoadModel(&models[i], &h);

	if (ok)
	{
		/* prefill positions 0 .. M_PREFILL - 1 (not keyed) */
		MakeStep(&st, M_PREFILL, M_PREFILL - 1, 2);
		CompareStep(models, &st, "prefill", &replays, tol);

		/* decode steps, crossing into each sequence's second block */
		for (int t = 0; t < M_STEPS; t++)
		{
			MakeStep(&st, 1, M_PREFILL + t, 2);
			snprintf(what, sizeof(what), "decode step %d", t);
			CompareStep(models, &st, what, &replays, tol);
		}
		if (!graphs_off)
		{
			if (verbose || replays < 3)
				printf("%s graphs: %d of %d decode steps replayed\n",
					   replays >= 3 ? "ok  " : "FAIL", replays, M_STEPS);
			CHECK(replays >= 3);
			CHECK(ComputeCudaGraphReplays(models[2].be.ctx) == replays);
		}

		/* a token outside the table: no replay, embed refuses it */
		{
			bool		replayed = true;
			const ComputeOps *ops = models[2].be.ops;
			void	   *ctx = models[2].be.ctx;
			uint64_t	key = (uint64_t) M_SEQS << 32 | M_SEQS;
			int			rc;

			MakeStep(&st, 1, M_PREFILL + M_STEPS, 2);
			st.tokens[1] = M_VOCAB;
			Ok("begin_step", ops->begin_step(ctx, &st.b, &err));
			Ok("graph_begin", ops->graph_begin(ctx, key, &replayed, &err));
			CHECK(!replayed);
			rc = DecoderOps(&models[2], st.b.n_rows, st.b.n_out);
			CHECK(rc == LLM_ERR_ARGUMENT);
			CHECK(strstr(err.message, "outside the table") != NULL);
			Ok("graph_end", ops->graph_end(ctx, key, &err));
		}

		/* the same position again with valid tokens: replays */
		MakeStep(&st, 1, M_PREFILL + M_STEPS, 2);
		CompareStep(models, &st, "decode after a refused step", &replays, tol);

		/* a wider block table (another stride) must not replay */
		for (int t = 1; t < 4; t++)
		{
			MakeStep(&st, 1, M_PREFILL + M_STEPS + t, 3);
			snprintf(what, sizeof(what), "decode step, block table of 3, %d", t);
			CompareStep(models, &st, what, &replays, tol);
		}
		if (!graphs_off)
			CHECK(ComputeCudaGraphReplays(models[2].be.ctx) == replays);
	}

	for (int i = 0; i < 4; i++)
		FreeModel(&models[i]);
	for (int i = 1; i < 4; i++)
		if (models[i].be.ctx != NULL)
			ComputeCudaOps.shutdown(models[i].be.ctx);
	FreeHostModel(&h);
}

/*
 * Weight TB/s of the decode products of a Llama-3.2-1B-sized model, with
 * enough copies of each weight to miss L2 (uninitialized memory)
 */
static void
Bench(Backend *gpu, ComputePrecision precision, const char *label)
{
	static const int shapes[][3] = {{1, 8192, 2048}, {1, 2048, 8192}, {1, 128256, 2048},
	{1, 2048, 2048}, {1, 512, 2048}, {2, 8192, 2048}, {4, 8192, 2048}, {8, 8192, 2048},
	{8, 2048, 8192}, {16, 8192, 2048}, {64, 8192, 2048}};
	LlmDType	dtype = precision == COMPUTE_PRECISION_BF16 ? LLM_DTYPE_BF16 : LLM_DTYPE_F32;

	for (int si = 0; si < 11; si++)
	{
		int			n = shapes[si][0];
		int			o = shapes[si][1];
		int			in = shapes[si][2];
		size_t		bytes = (size_t) o * in * LlmDTypeSize(dtype);
		int			copies = (int) ((((size_t) 384 << 20) + bytes - 1) / bytes);
		int			iters = bytes >= ((size_t) 256 << 20) ? 20 : 200;
		void	   *w[64];
		LlmTensor	t;
		float	   *x;
		float	   *out;
		double		t0;
		double		secs;
		bool		ok = true;

		if (copies > 64)
			copies = 64;
		memset(&t, 0, sizeof(t));
		t.dtype = dtype;
		t.ndim = 2;
		t.shape[0] = o;
		t.shape[1] = in;
		for (int c = 0; c < copies; c++)
			ok = ok && Ok("alloc", gpu->ops->alloc(gpu->ctx, bytes, &w[c], &err));
		x = DevFloats(gpu, NULL, (size_t) n * in, 0);
		out = DevFloats(gpu, NULL, (size_t) n * o, 0);
		if (!ok || x == NULL || out == NULL)
			return;
		/* warm up (and let cuBLAS pick its kernels) */
		for (int c = 0; c < copies; c++)
		{
			t.data = w[c];
			ok = ok && Ok("matmul", gpu->ops->matmul(gpu->ctx, out, x, &t, n, &err));
		}
		Ok("sync", gpu->ops->sync(gpu->ctx, &err));
		t0 = UnitNow();
		for (int it = 0; ok && it < iters; it++)
		{
			t.data = w[it % copies];
			ok = Ok("matmul", gpu->ops->matmul(gpu->ctx, out, x, &t, n, &err));
		}
		Ok("sync", gpu->ops->sync(gpu->ctx, &err));
		secs = UnitNow() - t0;
		if (ok)
			printf("bench %s matmul n=%d o=%d i=%d %s: %.1f us, %.2f TB/s of weights\n",
				   label, n, o, in, LlmDTypeName(dtype), secs / iters * 1e6,
				   (double) bytes * iters / secs / 1e12);
		for (int c = 0; c < copies; c++)
			gpu->ops->free(gpu->ctx, w[c]);
		gpu->ops->free(gpu->ctx, x);
		gpu->ops->free(gpu->ctx, out);
	}
}

/*
 * Time the fused products of a Llama-3.2-1B-sized layer against the
 * unfused ops they replace, with enough copies of the weights to miss L2
 */
static void
BenchFused(Backend *gpu, ComputePrecision precision)
{
	/* op, rows of w[0], of w[1] and w[2] (qkv), columns */
	static const int cases[][4] = {{FUSED_QKV, 2048, 512, 2048}, {FUSED_SWIGLU, 8192, 0, 2048},
	{FUSED_ADD, 2048, 0, 2048}, {FUSED_ADD, 2048, 0, 8192}};
	static const int rows[] = {1, 8};
	LlmDType	dtype = precision == COMPUTE_PRECISION_BF16 ? LLM_DTYPE_BF16 : LLM_DTYPE_F32;

	for (int ci = 0; ci < 4; ci++)
		for (int ri = 0; ri < 2; ri++)
		{
			FusedOp		op = (FusedOp) cases[ci][0];
			int			n = rows[ri];
			int			in = cases[ci][3];
			int			nw = fused_weights[op];
			LlmTensor	t[32][3];
			float	   *out[3] = {NULL, NULL, NULL};
			float	   *x;
			float	   *tmp;
			size_t		bytes = 0;
			int			copies;
			double		us[2] = {0.0, 0.0};
			bool		ok = true;

			memset(t, 0, sizeof(t));
			for (int p = 0; p < nw; p++)
			{
				t[0][p].dtype = dtype;
				t[0][p].ndim = 2;
				t[0][p].shape[0] = (op == FUSED_QKV && p > 0) ? cases[ci][2] : cases[ci][1];
				t[0][p].shape[1] = in;
				bytes += (size_t) t[0][p].shape[0] * in * LlmDTypeSize(dtype);
			}
			copies = (int) ((((size_t) 384 << 20) + bytes - 1) / bytes);
			if (copies > 32)
				copies = 32;
			for (int c = 0; c < copies; c++)
				for (int p = 0; p < nw; p++)
				{
					t[c][p] = t[0][p];
					t[c][p].data = NULL;
				}
			for (int c = 0; ok && c < copies; c++)
				for (int p = 0; ok && p < nw; p++)
					ok = Ok("alloc", gpu->ops->alloc(gpu->ctx, (size_t) t[c][p].shape[0] * in *
													 LlmDTypeSize(dtype), &t[c][p].data, &err));
			x = DevFloats(gpu, NULL, (size_t) n * in, 0);
			tmp = DevFloats(gpu, NULL, (size_t) n * t[0][0].shape[0], 0);
			for (int p = 0; p < fused_outs[op]; p++)
				out[p] = DevFloats(gpu, NULL, (size_t) n * t[0][p].shape[0], 0);
			ok = ok && x != NULL && tmp != NULL && out[0] != NULL &&
				(op != FUSED_QKV || (out[1] != NULL && out[2] != NULL));

			/* mode 0 fused, mode 1 unfused; a warm-up pass over the copies first */
			for (int mode = 0; ok && mode < 2; mode++)
			{
				int			iters = 200;
				double		t0;

				for (int c = 0; ok && c < copies; c++)
					ok = Ok("bench", IssueFused(gpu, op, mode == 0, out, x, t[c], tmp, n));
				ok = ok && Ok("sync", gpu->ops->sync(gpu->ctx, &err));
				t0 = UnitNow();
				for (int it = 0; ok && it < iters; it++)
					ok = Ok("bench", IssueFused(gpu, op, mode == 0, out, x, t[it % copies], tmp,
												n));
				ok = ok && Ok("sync", gpu->ops->sync(gpu->ctx, &err));
				us[mode] = (UnitNow() - t0) / iters * 1e6;
			}
			if (ok)
				printf("bench fused %s n=%d o=%d%s i=%d %s: fused %.1f us (%.2f TB/s), "
					   "unfused %.1f us (%.2f TB/s)\n",
					   fused_names[op], n, (int) t[0][0].shape[0],
					   op == FUSED_QKV ? "+512+512" : op == FUSED_SWIGLU ? " x2" : "", in,
					   LlmDTypeName(dtype), us[0], bytes / us[0] / 1e6, us[1],
					   bytes / us[1] / 1e6);
			for (int c = 0; c < copies; c++)
				for (int p = 0; p < nw; p++)
					if (t[c][p].data != NULL)
						gpu->ops->free(gpu->ctx, t[c][p].data);
			if (x != NULL)
				gpu->ops->free(gpu->ctx, x);
			if (tmp != NULL)
				gpu->ops->free(gpu->ctx, tmp);
			for (int p = 0; p < 3; p++)
				if (out[p] != NULL)
					gpu->ops->free(gpu->ctx, out[p]);
		}
}

int
main(void)
{
	int			count = 0;
	char		name[256];
	const char *env;
	bool		bench;

	if (kernels_device_probe(&count, name, sizeof(name)) != KERNELS_OK)
	{
		printf("unit cuda_decode: skipped (no CUDA device)\n");
		return 0;
	}
	UnitSeed(0x2545f4914f6cdd1dull);
	env = getenv("PGMLOPS_VERBOSE");
	verbose = env != NULL && strcmp(env, "1") == 0;
	env = getenv("PGMLOPS_BENCH");
	bench = env != NULL && strcmp(env, "1") == 0;
	if (verbose)
		printf("device: %s\n", name);

	cpu.ops = &ComputeCpuOps;
	if (!Ok("cpu init", cpu.ops->init(&cpu.ctx, COMPUTE_PRECISION_F32, &err)))
		UNIT_DONE("cuda_decode");
	for (int p = 0; p < 2; p++)
	{
		ComputePrecision precision = p == 0 ? COMPUTE_PRECISION_F32 : COMPUTE_PRECISION_BF16;
		Backend		gpu = {&ComputeCudaOps, NULL};

		if (!Ok("cuda init", gpu.ops->init(&gpu.ctx, precision, &err)))
			break;
		TestMatmul(&gpu, precision);
		if (bench)
			Bench(&gpu, precision, "gemv");

		/* fused products, also on a context without fusion */
		{
			Backend		nofuse = {&ComputeCudaOps, NULL};

			env = getenv("PGMLOPS_CUDA_NO_FUSION");
			setenv("PGMLOPS_CUDA_NO_FUSION", "1", 1);
			if (Ok("cuda init", nofuse.ops->init(&nofuse.ctx, precision, &err)))
			{
				TestFused(&gpu, &nofuse, precision);
				nofuse.ops->shutdown(nofuse.ctx);
			}
			if (env != NULL)
				setenv("PGMLOPS_CUDA_NO_FUSION", env, 1);
			else
				unsetenv("PGMLOPS_CUDA_NO_FUSION");
		}
		if (bench)
			BenchFused(&gpu, precision);
		gpu.ops->shutdown(gpu.ctx);

		/* the same products on cuBLAS alone, for comparison */
		if (bench)
		{
			env = getenv("PGMLOPS_CUDA_NO_GEMV");
			setenv("PGMLOPS_CUDA_NO_GEMV", "1", 1);
			if (Ok("cuda init", gpu.ops->init(&gpu.ctx, precision, &err)))
			{
				Bench(&gpu, precision, "cublas");
				gpu.ops->shutdown(gpu.ctx);
			}
			if (env != NULL)
				setenv("PGMLOPS_CUDA_NO_GEMV", env, 1);
			else
				unsetenv("PGMLOPS_CUDA_NO_GEMV");
		}
		TestGraphs(precision);
	}
	cpu.ops->shutdown(cpu.ctx);
	UNIT_DONE("cuda_decode");
}

#else							/* !USE_CUDA */

int
main(void)
{
	printf("unit cuda_decode: skipped (no CUDA device)\n");
	return 0;
}

#endif							/* USE_CUDA */
