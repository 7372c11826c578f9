// objects: src/compute/compute_cpu.o src/compute/compute_cuda.o src/llm/llmutil.o src/vector/vecdist.o
/*
 * test_compute.c
 *	  Unit tests of the CUDA backend of the compute ops table against the
 *	  CPU backend (the reference).
 *
 * Every op runs on the same pseudo-random inputs through ComputeCpuOps and
 * ComputeCudaOps, in both CUDA precisions, and the outputs are compared by
 * relative error ||cuda - cpu|| / ||cpu||: 1e-5 for elementwise ops and
 * norms, 1e-4 for matrix products and attention in f32, 2e-2 for what goes
 * through bf16 weights.  Integer results (argmax) and KV-cache contents
 * must match exactly.  The steps mix a prefill chunk with decode rows of
 * other sequences whose block tables are shuffled, with GQA, sliding
 * windows and non-causal attention, long single-token contexts that take
 * the split-context path, and prefill sequences (16 or more rows) that take
 * the tiled attention kernel, alone or next to decode rows.
 *
 * Without a CUDA device (or in a build without CUDA) the test is skipped.
 * PGMLOPS_VERBOSE=1 prints every comparison; PGMLOPS_BENCH=1 adds a few
 * timings (GEMM TFLOP/s, attention rows/s for decode and prefill).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compute/computeops.h"

#ifdef USE_CUDA
#include "kernels.h"
#include "vector/vecdist.h"
#include "unit.h"
#include "unitmath.h"

#define TOL_ELEM 1e-5
#define TOL_F32 1e-4
#define TOL_BF16 2e-2

typedef struct Backend
{
	const ComputeOps *ops;
	void	   *ctx;
} Backend;

typedef struct Step
{
	ComputeBatch b;
	int32_t    *tokens;
	int32_t    *positions;
	int32_t    *seq_start;
	int32_t    *seq_len;
	int32_t    *block_table;
	int32_t    *out_rows;
	int			n_blocks;		/* physical blocks the table draws from */
} Step;

static Backend cpu;
static Backend gpu;
static ComputePrecision precision;
static bool verbose;
static LlmError err;

/* compare two float arrays within tol, reporting under name */
static void
CheckClose(const char *name, const float *got, const float *want, size_t n, double tol)
{
	double		e = UnitRelErr(got, want, n);

	if (verbose || !(e <= tol))
		printf("%s %s [%s]: rel err %.3g (tol %.0e)\n", e <= tol ? "ok  " : "FAIL", name,
			   precision == COMPUTE_PRECISION_BF16 ? "bf16" : "f32", e, tol);
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

/* a device buffer of n floats, filled from host (or left as is if NULL) */
static float *
DevFloats(Backend *be, const float *host, size_t n)
{
	void	   *p = NULL;

	if (!Ok("alloc", be->ops->alloc(be->ctx, n * sizeof(float), &p, &err)))
		return NULL;
	if (host != NULL && !Ok("upload", be->ops->upload(be->ctx, p, host, n * sizeof(float), &err)))
		return NULL;
	return p;
}

/* copy n floats of a device buffer to a new host array */
static float *
HostFloats(Backend *be, const float *dev, size_t n)
{
	float	   *h = calloc(n > 0 ? n : 1, sizeof(float));

	Ok("download", be->ops->download(be->ctx, h, dev, n * sizeof(float), &err));
	return h;
}

/* tolerance of an op whose weights take the context's precision */
static double
WeightTol(double f32_tol)
{
	return precision == COMPUTE_PRECISION_BF16 ? TOL_BF16 : f32_tol;
}

/*
 * A step of n_seqs sequences: sequence s has count[s] rows starting at
 * position first[s]; its blocks come from a shuffled pool of n_blocks
 */
static void
MakeStep(Step *st, int n_seqs, const int *first, const int *count, int n_blocks, int vocab)
{
	int			n_rows = 0;
	int			max_blocks = 1;
	int		   *pool = malloc(n_blocks * sizeof(int));
	int			used = 0;

	memset(st, 0, sizeof(*st));
	for (int s = 0; s < n_seqs; s++)
	{
		int			need = (first[s] + count[s] + COMPUTE_KV_BLOCK - 1) / COMPUTE_KV_BLOCK;

		n_rows += count[s];
		if (need > max_blocks)
			max_blocks = need;
	}
	max_blocks += 2;			/* unused entries stay -1 */
	for (int i = 0; i < n_blocks; i++)
		pool[i] = i;
	for (int i = n_blocks - 1; i > 0; i--)
	{
		int			j = (int) (UnitRandU32() % (uint32_t) (i + 1));
		int			t = pool[i];

		pool[i] = pool[j];
		pool[j] = t;
	}

	st->tokens = malloc(n_rows * sizeof(int32_t) + 4);
	st->positions = malloc(n_rows * sizeof(int32_t) + 4);
	st->seq_start = malloc((n_seqs + 1) * sizeof(int32_t));
	st->seq_len = malloc(n_seqs * sizeof(int32_t) + 4);
	st->block_table = malloc((size_t) n_seqs * max_blocks * sizeof(int32_t) + 4);
	st->out_rows = malloc(n_seqs * sizeof(int32_t) + 4);
	n_rows = 0;
	for (int s = 0; s < n_seqs; s++)
	{
		int			len = first[s] + count[s];
		int			need = (len + COMPUTE_KV_BLOCK - 1) / COMPUTE_KV_BLOCK;

		st->seq_start[s] = n_rows;
		st->seq_len[s] = len;
		for (int i = 0; i < count[s]; i++)
		{
			st->tokens[n_rows + i] = (int32_t) (UnitRandU32() % (uint32_t) vocab);
			st->positions[n_rows + i] = first[s] + i;
		}
		for (int i = 0; i < max_blocks; i++)
			st->block_table[s * max_blocks + i] =
				i < need && used + i < n_blocks ? pool[used + i] : -1;
		used += need;
		n_rows += count[s];
		st->out_rows[s] = n_rows - 1;
	}
	st->seq_start[n_seqs] = n_rows;
	if (used > n_blocks)
	{
		printf("FAIL test setup: %d blocks needed, pool of %d\n", used, n_blocks);
		unit_failed++;
	}
	free(pool);

	st->n_blocks = n_blocks;
	st->b.n_rows = n_rows;
	st->b.n_seqs = n_seqs;
	st->b.tokens = st->tokens;
	st->b.positions = st->positions;
	st->b.seq_start = st->seq_start;
	st->b.seq_len = st->seq_len;
	st->b.block_table = st->block_table;
	st->b.max_blocks = max_blocks;
	st->b.n_out = n_seqs;
	st->b.out_rows = st->out_rows;
}

/* release a step's arrays */
static void
FreeStep(Step *st)
{
	free(st->tokens);
	free(st->positions);
	free(st->seq_start);
	free(st->seq_len);
	free(st->block_table);
	free(st->out_rows);
}

/* begin the step on both backends */
static bool
BeginBoth(const Step *st)
{
	return Ok("cpu begin_step", cpu.ops->begin_step(cpu.ctx, &st->b, &err)) &&
		Ok("cuda begin_step", gpu.ops->begin_step(gpu.ctx, &st->b, &err));
}

/* out(n, o) = x . w^T on one backend; returns the host result */
static float *
RunMatmul(Backend *be, const float *x, const LlmTensor *w, int n)
{
	LlmTensor	dw;
	float	   *dx;
	float	   *dout;
	float	   *out = NULL;

	if (!Ok("weight_load", be->ops->weight_load(be->ctx, &dw, w, &err)))
		return NULL;
	dx = DevFloats(be, x, (size_t) n * w->shape[1]);
	dout = DevFloats(be, NULL, (size_t) n * w->shape[0]);
	if (Ok("matmul", be->ops->matmul(be->ctx, dout, dx, &dw, n, &err)))
		out = HostFloats(be, dout, (size_t) n * w->shape[0]);
	be->ops->free(be->ctx, dx);
	be->ops->free(be->ctx, dout);
	be->ops->weight_free(be->ctx, &dw);
	return out;
}

/* matmul of every weight dtype and a few shapes */
static void
TestMatmul(void)
{
	static const int shapes[][3] = {{1, 96, 160}, {3, 96, 160}, {37, 130, 200}, {64, 512, 1024}};
	static const LlmDType dtypes[] = {LLM_DTYPE_F32, LLM_DTYPE_BF16, LLM_DTYPE_F16};

	for (int si = 0; si < 4; si++)
		for (int di = 0; di < 3; di++)
		{
			int			n = shapes[si][0];
			int			o = shapes[si][1];
			int			in = shapes[si][2];
			float	   *x = UnitRandArray((size_t) n * in, 1.0f);
			float	   *wv = UnitRandArray((size_t) o * in, 0.1f);
			LlmTensor	w = UnitHostTensor(wv, dtypes[di], 2, o, in);
			float	   *want = RunMatmul(&cpu, x, &w, n);
			float	   *got = RunMatmul(&gpu, x, &w, n);
			char		name[64];

			snprintf(name, sizeof(name), "matmul %dx%dx%d %s", n, o, in,
					 LlmDTypeName(dtypes[di]));
			if (want != NULL && got != NULL)
				CheckClose(name, got, want, (size_t) n * o, WeightTol(TOL_F32));
			free(x);
			free(wv);
			free(w.data);
			free(want);
			free(got);
		}
}

/* the elementwise ops, norms and l2norm on one backend; results concatenated */
static float *
RunElementwise(Backend *be, int n, int dim, const float *x, const float *y,
			   const LlmTensor *w, const LlmTensor *b, size_t *total)
{
	size_t		count = (size_t) n * dim;
	LlmTensor	dw;
	LlmTensor	db;
	float	   *dx;
	float	   *dy;
	float	   *dout;
	float	   *res = calloc(8 * count, sizeof(float));
	float	   *h;

	*total = 8 * count;
	if (!Ok("weight_load", be->ops->weight_load(be->ctx, &dw, w, &err)) ||
		!Ok("weight_load", be->ops->weight_load(be->ctx, &db, b, &err)))
		return res;
	dx = DevFloats(be, x, count);
	dy = DevFloats(be, y, count);
	dout = DevFloats(be, NULL, count);

	Ok("rmsnorm", be->ops->rmsnorm(be->ctx, dout, dx, &dw, n, 1e-6f, &err));
	h = HostFloats(be, dout, count);
	memcpy(res, h, count * sizeof(float));
	free(h);
	Ok("layernorm", be->ops->layernorm(be->ctx, dout, dx, &dw, &db, n, 1e-5f, &err));
	h = HostFloats(be, dout, count);
	memcpy(res + count, h, count * sizeof(float));
	free(h);
	/* in place, as the forward pass may do */
	be->ops->upload(be->ctx, dout, x, count * sizeof(float), &err);
	Ok("rmsnorm in place", be->ops->rmsnorm(be->ctx, dout, dout, &dw, n, 1e-5f, &err));
	h = HostFloats(be, dout, count);
	memcpy(res + 2 * count, h, count * sizeof(float));
	free(h);

	be->ops->upload(be->ctx, dout, x, count * sizeof(float), &err);
	Ok("add", be->ops->add(be->ctx, dout, dy, count, &err));
	Ok("add_bias", be->ops->add_bias(be->ctx, dout, &db, n, &err));
	h = HostFloats(be, dout, count);
	memcpy(res + 3 * count, h, count * sizeof(float));
	free(h);

	be->ops->upload(be->ctx, dout, x, count * sizeof(float), &err);
	Ok("silu_mul", be->ops->silu_mul(be->ctx, dout, dy, count, &err));
	h = HostFloats(be, dout, count);
	memcpy(res + 4 * count, h, count * sizeof(float));
	free(h);

	be->ops->upload(be->ctx, dout, x, count * sizeof(float), &err);
	Ok("gelu", be->ops->gelu(be->ctx, dout, count, false, &err));
	h = HostFloats(be, dout, count);
	memcpy(res + 5 * count, h, count * sizeof(float));
	free(h);

	be->ops->upload(be->ctx, dout, x, count * sizeof(float), &err);
	Ok("gelu tanh", be->ops->gelu(be->ctx, dout, count, true, &err));
	h = HostFloats(be, dout, count);
	memcpy(res + 6 * count, h, count * sizeof(float));
	free(h);

	be->ops->upload(be->ctx, dout, x, count * sizeof(float), &err);
	Ok("l2norm", be->ops->l2norm(be->ctx, dout, n, dim, &err));
	h = HostFloats(be, dout, count);
	memcpy(res + 7 * count, h, count * sizeof(float));
	free(h);

	be->ops->free(be->ctx, dx);
	be->ops->free(be->ctx, dy);
	be->ops->free(be->ctx, dout);
	be->ops->weight_free(be->ctx, &dw);
	be->ops->weight_free(be->ctx, &db);
	return res;
}

/* norms, residual and bias additions, activations and l2norm */
static void
TestElementwise(void)
{
	static const char *names[] = {"rmsnorm", "layernorm", "rmsnorm in place", "add + add_bias",
	"silu_mul", "gelu", "gelu tanh", "l2norm"};
	static const int shapes[][2] = {{1, 64}, {7, 384}, {33, 2048}, {5, 1000}};

	for (int si = 0; si < 4; si++)
	{
		int			n = shapes[si][0];
		int			dim = shapes[si][1];
		size_t		count = (size_t) n * dim;
		float	   *x = UnitRandArray(count, 3.0f);
		float	   *y = UnitRandArray(count, 2.0f);
		float	   *wv = UnitRandArray(dim, 1.0f);
		float	   *bv = UnitRandArray(dim, 0.5f);
		LlmTensor	w = UnitHostTensor(wv, LLM_DTYPE_F32, 1, dim, 0);
		LlmTensor	b = UnitHostTensor(bv, LLM_DTYPE_BF16, 1, dim, 0);	/* becomes f32 */
		size_t		total;
		float	   *want = RunElementwise(&cpu, n, dim, x, y, &w, &b, &total);
		float	   *got = RunElementwise(&gpu, n, dim, x, y, &w, &b, &total);

		for (int k = 0; k < 8; k++)
		{
			char		name[64];

			snprintf(name, sizeof(name), "%s %dx%d", names[k], n, dim);
			CheckClose(name, got + k * count, want + k * count, count, TOL_ELEM);
		}
		free(x);
		free(y);
		free(wv);
		free(bv);
		free(w.data);
		free(b.data);
		free(want);
		free(got);
	}
}

/* argmax of logits rows, including ties and a long vocabulary */
static void
TestArgmax(void)
{
	static const int shapes[][2] = {{1, 7}, {5, 1000}, {3, 128256}};

	for (int si = 0; si < 3; si++)
	{
		int			n = shapes[si][0];
		int			vocab = shapes[si][1];
		float	   *logits = UnitRandArray((size_t) n * vocab, 10.0f);
		int32_t		want[8];
		int32_t		got[8];
		float	   *d_cpu;
		float	   *d_gpu;

		/* a tie for the maximum in row 0: the lower index wins */
		if (vocab > 5)
		{
			logits[2] = 100.0f;
			logits[5] = 100.0f;
		}
		d_cpu = DevFloats(&cpu, logits, (size_t) n * vocab);
		d_gpu = DevFloats(&gpu, logits, (size_t) n * vocab);
		Ok("argmax", cpu.ops->argmax(cpu.ctx, want, d_cpu, n, vocab, &err));
		Ok("argmax", gpu.ops->argmax(gpu.ctx, got, d_gpu, n, vocab, &err));
		for (int r = 0; r < n; r++)
			CHECK(got[r] == want[r]);
		if (vocab > 5)
			CHECK(got[0] == 2);
		cpu.ops->free(cpu.ctx, d_cpu);
		gpu.ops->free(gpu.ctx, d_gpu);
		free(logits);
	}
}

/* embed (three indexings), gather_rows and pool of a step on one backend */
static float *
RunRows(Backend *be, const Step *st, const LlmTensor *tok_table, const LlmTensor *pos_table,
		const float *x, int dim, size_t *total)
{
	int			n_rows = st->b.n_rows;
	size_t		rows_sz = (size_t) n_rows * dim;
	size_t		out_sz = (size_t) st->b.n_out * dim;
	size_t		seq_sz = (size_t) st->b.n_seqs * dim;
	LlmTensor	dt;
	LlmTensor	dp;
	float	   *dx;
	float	   *dout;
	float	   *res;
	float	   *h;
	size_t		at = 0;

	*total = 2 * rows_sz + 2 * out_sz + 3 * seq_sz;
	res = calloc(*total, sizeof(float));
	if (!Ok("weight_load", be->ops->weight_load(be->ctx, &dt, tok_table, &err)) ||
		!Ok("weight_load", be->ops->weight_load(be->ctx, &dp, pos_table, &err)))
		return res;
	dx = DevFloats(be, x, rows_sz);
	dout = DevFloats(be, NULL, rows_sz);

	Ok("embed tokens", be->ops->embed(be->ctx, dout, &dt, COMPUTE_INDEX_TOKENS, false, &err));
	Ok("embed positions", be->ops->embed(be->ctx, dout, &dp, COMPUTE_INDEX_POSITIONS, true, &err));
	h = HostFloats(be, dout, rows_sz);
	memcpy(res + at, h, rows_sz * sizeof(float));
	at += rows_sz;
	free(h);
	be->ops->upload(be->ctx, dout, x, rows_sz * sizeof(float), &err);
	Ok("embed zero", be->ops->embed(be->ctx, dout, &dt, COMPUTE_INDEX_ZERO, true, &err));
	h = HostFloats(be, dout, rows_sz);
	memcpy(res + at, h, rows_sz * sizeof(float));
	at += rows_sz;
	free(h);

	Ok("gather_rows", be->ops->gather_rows(be->ctx, dout, dx, dim, &err));
	h = HostFloats(be, dout, out_sz);
	memcpy(res + at, h, out_sz * sizeof(float));
	at += out_sz;
	free(h);
	/* in place */
	be->ops->upload(be->ctx, dout, x, rows_sz * sizeof(float), &err);
	Ok("gather_rows in place", be->ops->gather_rows(be->ctx, dout, dout, dim, &err));
	h = HostFloats(be, dout, out_sz);
	memcpy(res + at, h, out_sz * sizeof(float));
	at += out_sz;
	free(h);

	Ok("pool mean", be->ops->pool(be->ctx, dout, dx, dim, true, &err));
	h = HostFloats(be, dout, seq_sz);
	memcpy(res + at, h, seq_sz * sizeof(float));
	at += seq_sz;
	free(h);
	Ok("pool first", be->ops->pool(be->ctx, dout, dx, dim, false, &err));
	h = HostFloats(be, dout, seq_sz);
	memcpy(res + at, h, seq_sz * sizeof(float));
	at += seq_sz;
	free(h);
	be->ops->upload(be->ctx, dout, x, rows_sz * sizeof(float), &err);
	Ok("pool mean in place", be->ops->pool(be->ctx, dout, dout, dim, true, &err));
	h = HostFloats(be, dout, seq_sz);
	memcpy(res + at, h, seq_sz * sizeof(float));
	free(h);

	be->ops->free(be->ctx, dx);
	be->ops->free(be->ctx, dout);
	be->ops->weight_free(be->ctx, &dt);
	be->ops->weight_free(be->ctx, &dp);
	return res;
}

/* embeddings, output rows and pooling over a mixed step */
static void
TestRows(void)
{
	static const int first[] = {20, 100, 0, 0, 700};
	static const int count[] = {20, 1, 7, 1, 1};
	int			dim = 96;
	int			vocab = 500;
	Step		st;
	float	   *tv = UnitRandArray((size_t) vocab * dim, 1.0f);
	float	   *pv = UnitRandArray((size_t) 1024 * dim, 1.0f);
	LlmTensor	tok_bf16 = UnitHostTensor(tv, LLM_DTYPE_BF16, 2, vocab, dim);
	LlmTensor	tok_f32 = UnitHostTensor(tv, LLM_DTYPE_F32, 2, vocab, dim);
	LlmTensor	pos = UnitHostTensor(pv, LLM_DTYPE_F16, 2, 1024, dim);
	float	   *x;

	MakeStep(&st, 5, first, count, 64, vocab);
	x = UnitRandArray((size_t) st.b.n_rows * dim, 2.0f);
	if (BeginBoth(&st))
	{
		for (int t = 0; t < 2; t++)
		{
			const LlmTensor *table = t == 0 ? &tok_bf16 : &tok_f32;
			size_t		total;
			float	   *want = RunRows(&cpu, &st, table, &pos, x, dim, &total);
			float	   *got = RunRows(&gpu, &st, table, &pos, x, dim, &total);
			size_t		rows_sz = (size_t) st.b.n_rows * dim;
			size_t		out_sz = (size_t) st.b.n_out * dim;
			size_t		seq_sz = (size_t) st.b.n_seqs * dim;
			double		emb_tol = t == 0 ? TOL_ELEM : WeightTol(TOL_ELEM);

			/* bf16 tables are exact in bf16; f16 and f32 ones round in bf16 precision */
			CheckClose("embed tokens + positions", got, want, rows_sz,
					   precision == COMPUTE_PRECISION_BF16 ? TOL_BF16 : TOL_ELEM);
			CheckClose("embed zero", got + rows_sz, want + rows_sz, rows_sz, emb_tol);
			CheckClose("gather_rows", got + 2 * rows_sz, want + 2 * rows_sz, out_sz, 0.0);
			CheckClose("gather_rows in place", got + 2 * rows_sz + out_sz,
					   want + 2 * rows_sz + out_sz, out_sz, 0.0);
			CheckClose("pool mean", got + 2 * rows_sz + 2 * out_sz,
					   want + 2 * rows_sz + 2 * out_sz, seq_sz, TOL_ELEM);
			CheckClose("pool first", got + 2 * rows_sz + 2 * out_sz + seq_sz,
					   want + 2 * rows_sz + 2 * out_sz + seq_sz, seq_sz, 0.0);
			CheckClose("pool mean in place", got + 2 * rows_sz + 2 * out_sz + 2 * seq_sz,
					   want + 2 * rows_sz + 2 * out_sz + 2 * seq_sz, seq_sz, TOL_ELEM);
			free(want);
			free(got);
		}
	}
	FreeStep(&st);
	free(x);
	free(tv);
	free(pv);
	free(tok_bf16.data);
	free(tok_f32.data);
	free(pos.data);
}

typedef struct AttnCase
{
	const char *name;
	int			n_seqs;
	const int  *first;
	const int  *count;
	int			n_heads;
	int			n_kv_heads;
	int			head_dim;
} AttnCase;

/* attention runs per case: causal, windows 5, 50, non-causal twice, window 40 */
#define ATTN_RUNS 6

/*
 * rope, kv_store and attention (causal, windowed, non-causal) of a step on
 * one backend; results concatenated, the cache after kv_store last
 */
static float *
RunAttention(Backend *be, const Step *st, const AttnCase *ac, const float *q, const float *k,
			 const float *v, const float *kv_init, const float *inv_freq, size_t cache_sz,
			 size_t *total)
{
	int			n_rows = st->b.n_rows;
	size_t		q_sz = (size_t) n_rows * ac->n_heads * ac->head_dim;
	size_t		k_sz = (size_t) n_rows * ac->n_kv_heads * ac->head_dim;
	static const int windows[ATTN_RUNS][2] = {{1, 0}, {1, 5}, {1, 50}, {0, 0}, {0, 7}, {1, 40}};
	ComputeKvCache cache;
	float	   *dq;
	float	   *dk;
	float	   *dv;
	float	   *dfreq;
	float	   *dout;
	float	   *res;
	float	   *h;
	size_t		at = 0;
	int			layer = 1;

	*total = 2 * q_sz + ATTN_RUNS * q_sz + 2 * cache_sz;
	res = calloc(*total, sizeof(float));
	cache.n_layers = 2;
	cache.n_kv_heads = ac->n_kv_heads;
	cache.head_dim = ac->head_dim;
	cache.n_blocks = st->n_blocks;
	cache.k = DevFloats(be, kv_init, cache_sz);
	cache.v = DevFloats(be, kv_init + cache_sz, cache_sz);
	dq = DevFloats(be, q, q_sz);
	dk = DevFloats(be, k, k_sz);
	dv = DevFloats(be, v, k_sz);
	dfreq = DevFloats(be, inv_freq, ac->head_dim / 2);
	dout = DevFloats(be, NULL, q_sz);

	Ok("rope", be->ops->rope(be->ctx, dq, dk, ac->n_heads, ac->n_kv_heads, ac->head_dim,
							 dfreq, &err));
	h = HostFloats(be, dq, q_sz);
	memcpy(res + at, h, q_sz * sizeof(float));
	at += q_sz;
	free(h);
	h = HostFloats(be, dk, k_sz);
	memcpy(res + at, h, k_sz * sizeof(float));
	at += q_sz;
	free(h);

	Ok("kv_store", be->ops->kv_store(be->ctx, &cache, layer, dk, dv, &err));
	for (int wi = 0; wi < ATTN_RUNS; wi++)
	{
		Ok("attention", be->ops->attention(be->ctx, dout, dq, &cache, layer, ac->n_heads,
										   windows[wi][0], windows[wi][1],
										   1.0f / sqrtf((float) ac->head_dim), &err));
		h = HostFloats(be, dout, q_sz);
		memcpy(res + at, h, q_sz * sizeof(float));
		at += q_sz;
		free(h);
	}
	h = HostFloats(be, cache.k, cache_sz);
	memcpy(res + at, h, cache_sz * sizeof(float));
	at += cache_sz;
	free(h);
	h = HostFloats(be, cache.v, cache_sz);
	memcpy(res + at, h, cache_sz * sizeof(float));
	free(h);

	be->ops->free(be->ctx, cache.k);
	be->ops->free(be->ctx, cache.v);
	be->ops->free(be->ctx, dq);
	be->ops->free(be->ctx, dk);
	be->ops->free(be->ctx, dv);
	be->ops->free(be->ctx, dfreq);
	be->ops->free(be->ctx, dout);
	return res;
}

/*
 * rope, paged KV store and attention of one case on both backends,
 * compared; label prefixes the names of the comparisons
 */
static void
CheckAttnCase(const AttnCase *ac, const char *label)
{
	static const char *names[] = {"rope q", "rope k", "attention causal",
		"attention window 5", "attention window 50", "attention non-causal",
	"attention non-causal (window ignored)", "attention window 40"};
	Step		st;
	int			n_blocks;
	int			need = 0;
	size_t		q_sz;
	size_t		k_sz;
	size_t		cache_sz;
	float	   *q;
	float	   *k;
	float	   *v;
	float	   *kv_init;
	float	   *inv_freq;
	float	   *want;
	float	   *got;
	size_t		total;

	for (int s = 0; s < ac->n_seqs; s++)
		need += (ac->first[s] + ac->count[s] + COMPUTE_KV_BLOCK - 1) / COMPUTE_KV_BLOCK;
	n_blocks = need + 9;
	MakeStep(&st, ac->n_seqs, ac->first, ac->count, n_blocks, 1000);
	q_sz = (size_t) st.b.n_rows * ac->n_heads * ac->head_dim;
	k_sz = (size_t) st.b.n_rows * ac->n_kv_heads * ac->head_dim;
	cache_sz = (size_t) 2 * n_blocks * COMPUTE_KV_BLOCK * ac->n_kv_heads * ac->head_dim;
	q = UnitRandArray(q_sz, 2.0f);
	k = UnitRandArray(k_sz, 2.0f);
	v = UnitRandArray(k_sz, 1.0f);
	kv_init = UnitRandArray(2 * cache_sz, 2.0f);
	inv_freq = malloc(ac->head_dim / 2 * sizeof(float));
	for (int j = 0; j < ac->head_dim / 2; j++)
		inv_freq[j] = powf(10000.0f, -2.0f * j / ac->head_dim);

	if (BeginBoth(&st))
	{
		want = RunAttention(&cpu, &st, ac, q, k, v, kv_init, inv_freq, cache_sz, &total);
		got = RunAttention(&gpu, &st, ac, q, k, v, kv_init, inv_freq, cache_sz, &total);
		for (int i = 0; i < 2 + ATTN_RUNS; i++)
		{
			char		name[128];
			size_t		n = i == 1 ? k_sz : q_sz;

			snprintf(name, sizeof(name), "%s%s %s", label, names[i], ac->name);
			CheckClose(name, got + i * q_sz, want + i * q_sz, n,
					   i < 2 ? TOL_ELEM : TOL_F32);
		}
		/* k went through rope: the cache matches to rounding, not bitwise */
		{
			char		name[128];

			snprintf(name, sizeof(name), "%skv cache %s", label, ac->name);
			CheckClose(name, got + (2 + ATTN_RUNS) * q_sz, want + (2 + ATTN_RUNS) * q_sz,
					   2 * cache_sz, TOL_ELEM);
		}
		free(want);
		free(got);
	}
	FreeStep(&st);
	free(q);
	free(k);
	free(v);
	free(kv_init);
	free(inv_freq);
}

/*
 * rope, paged KV store and attention over mixed steps.  Sequences with 16
 * or more rows in a step take the tiled prefill kernel (tiles of 64 query
 * rows and 64 keys), the others the per-row kernel; the "tiled" cases mix
 * both, with row counts off the tile boundaries, chunked prefill over a
 * cached context, GQA, head_dim 128 and non-causal (BERT-like) batches.
 * The last case runs again in a context created with
 * PGMLOPS_CUDA_SIMPLE_ATTENTION=1 (per-row kernel for every row).
 */
static void
TestAttention(void)
{
	static const int mixed_first[] = {20, 100, 0, 0, 700};
	static const int mixed_count[] = {20, 1, 7, 1, 1};
	static const int decode_first[] = {0, 16, 299, 1499};
	static const int decode_count[] = {1, 1, 1, 1};
	static const int long_first[] = {2047};
	static const int long_count[] = {1};
	static const int prefill_first[] = {0, 5};
	static const int prefill_count[] = {64, 11};
	static const int single_first[] = {0};
	static const int single_count[] = {300};
	static const int chunk_first[] = {100};
	static const int chunk_count[] = {150};
	static const int two_first[] = {0, 37, 500, 9, 40};
	static const int two_count[] = {130, 70, 1, 15, 16};
	static const int hd128_first[] = {0, 64};
	static const int hd128_count[] = {200, 65};
	static const int bert_first[] = {0, 0, 0};
	static const int bert_count[] = {128, 77, 5};
	static const AttnCase cases[] = {
		{"mixed gqa", 5, mixed_first, mixed_count, 8, 2, 64},
		{"mixed mha hd128", 5, mixed_first, mixed_count, 4, 4, 128},
		{"mixed hd80", 5, mixed_first, mixed_count, 6, 3, 80},
		{"decode splits", 4, decode_first, decode_count, 8, 2, 64},
		{"long decode", 1, long_first, long_count, 4, 1, 256},
		{"prefill", 2, prefill_first, prefill_count, 8, 4, 32},
		{"tiled prefill 300 gqa 32/8", 1, single_first, single_count, 32, 8, 64},
		{"tiled chunk 100+150 mha 12/12", 1, chunk_first, chunk_count, 12, 12, 64},
		{"tiled hd128 200+65", 2, hd128_first, hd128_count, 4, 2, 128},
		{"tiled bert 128/77/5", 3, bert_first, bert_count, 12, 12, 64},
		{"tiled two prefills + decode", 5, two_first, two_count, 8, 2, 64},
	};
	int			n_cases = (int) (sizeof(cases) / sizeof(cases[0]));
	Backend		saved = gpu;
	Backend		simple = gpu;

	for (int ci = 0; ci < n_cases; ci++)
		CheckAttnCase(&cases[ci], "");

	/* the per-row kernel alone, as the switch makes it */
	setenv("PGMLOPS_CUDA_SIMPLE_ATTENTION", "1", 1);
	if (Ok("cuda init (simple attention)", gpu.ops->init(&simple.ctx, precision, &err)))
	{
		gpu = simple;
		CheckAttnCase(&cases[n_cases - 1], "simple ");
		gpu = saved;
		simple.ops->shutdown(simple.ctx);
	}
	unsetenv("PGMLOPS_CUDA_SIMPLE_ATTENTION");
}

/* bad layouts, tables and caches are refused before any launch */
static void
TestErrors(void)
{
	static const int first[] = {30, 0};
	static const int count[] = {2, 3};
	Step		st;
	ComputeKvCache cache;
	float	   *buf;
	float	   *table_v = UnitRandArray(10 * 8, 1.0f);
	LlmTensor	table = UnitHostTensor(table_v, LLM_DTYPE_F32, 2, 10, 8);
	LlmTensor	dt;
	int32_t		saved;

	MakeStep(&st, 2, first, count, 8, 10);
	buf = DevFloats(&gpu, NULL, 4096);

	/* a position beyond the sequence length */
	saved = st.positions[0];
	st.positions[0] = 40;
	CHECK(gpu.ops->begin_step(gpu.ctx, &st.b, &err) == LLM_ERR_ARGUMENT);
	st.positions[0] = saved;
	/* a missing block in the table */
	saved = st.block_table[1];
	st.block_table[1] = -1;
	CHECK(gpu.ops->begin_step(gpu.ctx, &st.b, &err) == LLM_ERR_ARGUMENT);
	st.block_table[1] = saved;
	/* sequence starts that run past the rows */
	st.seq_start[1] = 9;
	CHECK(gpu.ops->begin_step(gpu.ctx, &st.b, &err) == LLM_ERR_ARGUMENT);
	st.seq_start[1] = 2;
	/* an output row outside the step */
	st.out_rows[0] = 5;
	CHECK(gpu.ops->begin_step(gpu.ctx, &st.b, &err) == LLM_ERR_ARGUMENT);
	st.out_rows[0] = 1;
	CHECK(gpu.ops->begin_step(gpu.ctx, &st.b, &err) == LLM_OK);

	/* a token outside the table */
	st.tokens[0] = 10;
	CHECK(gpu.ops->begin_step(gpu.ctx, &st.b, &err) == LLM_OK);
	if (Ok("weight_load", gpu.ops->weight_load(gpu.ctx, &dt, &table, &err)))
	{
		CHECK(gpu.ops->embed(gpu.ctx, buf, &dt, COMPUTE_INDEX_TOKENS, false, &err) ==
			  LLM_ERR_ARGUMENT);
		/* positions up to 31 do not fit a table of 10 rows either */
		CHECK(gpu.ops->embed(gpu.ctx, buf, &dt, COMPUTE_INDEX_POSITIONS, false, &err) ==
			  LLM_ERR_ARGUMENT);
		CHECK(gpu.ops->embed(gpu.ctx, buf, &dt, COMPUTE_INDEX_ZERO, false, &err) == LLM_OK);
		gpu.ops->weight_free(gpu.ctx, &dt);
	}

	/* a cache with fewer blocks than the table refers to, a bad layer */
	cache.n_layers = 1;
	cache.n_kv_heads = 1;
	cache.head_dim = 8;
	cache.n_blocks = 1;
	cache.k = buf;
	cache.v = buf;
	CHECK(gpu.ops->kv_store(gpu.ctx, &cache, 0, buf, buf, &err) == LLM_ERR_ARGUMENT);
	cache.n_blocks = 8;
	CHECK(gpu.ops->kv_store(gpu.ctx, &cache, 1, buf, buf, &err) == LLM_ERR_ARGUMENT);
	/* query heads that do not share the KV heads evenly */
	cache.n_kv_heads = 2;
	CHECK(gpu.ops->attention(gpu.ctx, buf, buf, &cache, 0, 3, true, 0, 1.0f, &err) ==
		  LLM_ERR_ARGUMENT);
	CHECK(gpu.ops->sync(gpu.ctx, &err) == LLM_OK);

	gpu.ops->free(gpu.ctx, buf);
	FreeStep(&st);
	free(table_v);
	free(table.data);
}

/* GEMM throughput and attention rates on the GPU (uninitialized inputs) */
static void
Bench(void)
{
	static const int gemm[][3] = {{2048, 2048, 2048}, {2048, 8192, 2048}, {1, 8192, 2048},
	{64, 8192, 2048}};
	/* (sequences, rows per sequence): decode of 1 and 64, a 2048-token prefill */
	static const int attn[][2] = {{1, 1}, {64, 1}, {1, 2048}};

	for (int gi = 0; gi < 4; gi++)
	{
		int			n = gemm[gi][0];
		int			o = gemm[gi][1];
		int			in = gemm[gi][2];
		float	   *wv = UnitRandArray((size_t) o * in, 0.05f);
		LlmTensor	w = UnitHostTensor(wv, LLM_DTYPE_BF16, 2, o, in);
		LlmTensor	dw;
		float	   *dx = DevFloats(&gpu, NULL, (size_t) n * in);
		float	   *dout = DevFloats(&gpu, NULL, (size_t) n * o);
		int			iters = 20;
		double		t0;
		double		dt;

		if (Ok("weight_load", gpu.ops->weight_load(gpu.ctx, &dw, &w, &err)))
		{
			Ok("bench matmul", gpu.ops->matmul(gpu.ctx, dout, dx, &dw, n, &err));
			gpu.ops->sync(gpu.ctx, &err);
			t0 = UnitNow();
			for (int i = 0; i < iters; i++)
				gpu.ops->matmul(gpu.ctx, dout, dx, &dw, n, &err);
			gpu.ops->sync(gpu.ctx, &err);
			dt = (UnitNow() - t0) / iters;
			printf("bench [%s] matmul n=%d o=%d i=%d: %.3f ms, %.1f TFLOP/s, %.0f GB/s of weights\n",
				   precision == COMPUTE_PRECISION_BF16 ? "bf16" : "f32", n, o, in, dt * 1e3,
				   2.0 * n * o * in / dt / 1e12,
				   (double) o * in * LlmDTypeSize(dw.dtype) / dt / 1e9);
			gpu.ops->weight_free(gpu.ctx, &dw);
		}
		gpu.ops->free(gpu.ctx, dx);
		gpu.ops->free(gpu.ctx, dout);
		free(wv);
		free(w.data);
	}

	for (int ai = 0; ai < 3; ai++)
	{
		int			n_seqs = attn[ai][0];
		int			rows = attn[ai][1];
		int			ctx_len = rows > 1 ? rows : 1024;
		int		   *first = malloc(n_seqs * sizeof(int));
		int		   *count = malloc(n_seqs * sizeof(int));
		int			n_heads = 32;
		int			n_kv = 8;
		int			hd = 64;
		int			n_blocks;
		Step		st;
		ComputeKvCache cache;
		float	   *dq;
		float	   *dout;
		int			iters = 50;
		double		t0;
		double		dt;

		for (int s = 0; s < n_seqs; s++)
		{
			first[s] = ctx_len - rows;
			count[s] = rows;
		}
		n_blocks = n_seqs * ((ctx_len + COMPUTE_KV_BLOCK - 1) / COMPUTE_KV_BLOCK);
		MakeStep(&st, n_seqs, first, count, n_blocks, 1000);
		cache.n_layers = 1;
		cache.n_kv_heads = n_kv;
		cache.head_dim = hd;
		cache.n_blocks = n_blocks;
		cache.k = DevFloats(&gpu, NULL, (size_t) n_blocks * COMPUTE_KV_BLOCK * n_kv * hd);
		cache.v = DevFloats(&gpu, NULL, (size_t) n_blocks * COMPUTE_KV_BLOCK * n_kv * hd);
		dq = DevFloats(&gpu, NULL, (size_t) n_seqs * rows * n_heads * hd);
		dout = DevFloats(&gpu, NULL, (size_t) n_seqs * rows * n_heads * hd);
		if (Ok("begin_step", gpu.ops->begin_step(gpu.ctx, &st.b, &err)))
		{
			Ok("bench attention",
			   gpu.ops->attention(gpu.ctx, dout, dq, &cache, 0, n_heads, true, 0, 0.125f, &err));
			gpu.ops->sync(gpu.ctx, &err);
			t0 = UnitNow();
			for (int i = 0; i < iters; i++)
				gpu.ops->attention(gpu.ctx, dout, dq, &cache, 0, n_heads, true, 0, 0.125f, &err);
			gpu.ops->sync(gpu.ctx, &err);
			dt = (UnitNow() - t0) / iters;
			printf("bench attention %d seqs x %d rows, context %d (32/8 heads, hd 64): %.3f ms per layer, %.0f rows/s\n",
				   n_seqs, rows, ctx_len, dt * 1e3, n_seqs * rows / dt);
		}
		gpu.ops->free(gpu.ctx, cache.k);
		gpu.ops->free(gpu.ctx, cache.v);
		gpu.ops->free(gpu.ctx, dq);
		gpu.ops->free(gpu.ctx, dout);
		FreeStep(&st);
		free(first);
		free(count);
	}
}

int
main(void)
{
	int			count = 0;
	char		name[256];
	const char *env;

	if (kernels_device_probe(&count, name, sizeof(name)) != KERNELS_OK)
	{
		printf("unit compute: skipped (no CUDA device)\n");
		return 0;
	}
	env = getenv("PGMLOPS_VERBOSE");
	verbose = env != NULL && strcmp(env, "1") == 0;
	if (verbose)
		printf("device: %s\n", name);

	cpu.ops = &ComputeCpuOps;
	gpu.ops = &ComputeCudaOps;
	if (!Ok("cpu init", cpu.ops->init(&cpu.ctx, COMPUTE_PRECISION_F32, &err)))
		UNIT_DONE("compute");
	for (int p = 0; p < 2; p++)
	{
		precision = p == 0 ? COMPUTE_PRECISION_F32 : COMPUTE_PRECISION_BF16;
		if (!Ok("cuda init", gpu.ops->init(&gpu.ctx, precision, &err)))
			break;
		TestMatmul();
		TestElementwise();
		TestArgmax();
		TestRows();
		TestAttention();
		TestErrors();
		env = getenv("PGMLOPS_BENCH");
		if (env != NULL && strcmp(env, "1") == 0)
			Bench();
		gpu.ops->shutdown(gpu.ctx);
		gpu.ctx = NULL;
	}
	cpu.ops->shutdown(cpu.ctx);
	UNIT_DONE("compute");
}

#else							/* !USE_CUDA */

int
main(void)
{
	printf("unit compute: skipped (no CUDA device)\n");
	return 0;
}

#endif							/* USE_CUDA */
