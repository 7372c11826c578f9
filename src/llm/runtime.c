/*-------------------------------------------------------------------------
 *
 * runtime.c
 *	  A model made ready on one compute backend: device weights, the paged
 *	  KV cache with its free list, sequences, and the step entry points
 *	  that build a ComputeBatch for forward.c.
 *
 * KV memory is a fixed pool of blocks (COMPUTE_KV_BLOCK tokens each)
 * sized from the budget at creation.  A step first reserves the blocks
 * its sequences need; if the pool cannot supply them the step fails with
 * LLM_ERR_FULL before touching anything, and a step that fails later
 * gives the new blocks back, so a failed step never changes a sequence.
 *
 * Encoders (bert) attend within the step only: their cache has one layer
 * and its blocks are taken and returned inside LlmEncode.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdlib.h>

#include "llm/runtimeint.h"

/*
 * Default options: f32, 512 rows per step, 64 sequences, 256 MB of cache
 */
void
LlmRuntimeDefaults(LlmRuntimeOptions *opt)
{
	opt->precision = COMPUTE_PRECISION_F32;
	opt->max_batch_rows = 512;
	opt->max_seqs = 64;
	opt->kv_bytes = (size_t) 256 * 1024 * 1024;
}

/* load one tensor onto the device if the model has it */
static int
LoadWeight(LlmRuntime *rt, LlmTensor *dst, const LlmTensor *src, LlmError *err)
{
	memset(dst, 0, sizeof(*dst));
	if (src == NULL)
		return LLM_OK;
	return rt->ops->weight_load(rt->ctx, dst, src, err);
}

/* release one device tensor */
static void
FreeWeight(LlmRuntime *rt, LlmTensor *t)
{
	if (t->data != NULL)
		rt->ops->weight_free(rt->ctx, t);
}

/*
 * Rotary frequencies of the model's rope type: (head_dim / 2) on the host
 */
static void
RopeInvFreq(const LlmConfig *cfg, float *inv_freq)
{
	int			d = cfg->head_dim;

	for (int i = 0; i < d / 2; i++)
	{
		float		freq = (float) (1.0 / pow(cfg->rope_theta, (double) (2 * i) / d));

		if (cfg->rope_type == LLM_ROPE_LINEAR)
			freq = (float) (freq / cfg->rope_factor);
		else if (cfg->rope_type == LLM_ROPE_LLAMA3)
		{
			double		old_len = cfg->rope_original_max_position;
			double		low_wavelen = old_len / cfg->rope_low_freq_factor;
			double		high_wavelen = old_len / cfg->rope_high_freq_factor;
			double		wavelen = 2.0 * M_PI / freq;

			if (wavelen > low_wavelen)
				freq = (float) (freq / cfg->rope_factor);
			else if (wavelen >= high_wavelen)
			{
				double		smooth = (old_len / wavelen - cfg->rope_low_freq_factor) /
					(cfg->rope_high_freq_factor - cfg->rope_low_freq_factor);

				freq = (float) ((1.0 - smooth) * freq / cfg->rope_factor + smooth * freq);
			}
		}
		inv_freq[i] = freq;
	}
}

/* allocate one device buffer of count floats */
static int
AllocFloats(LlmRuntime *rt, float **p, size_t count, LlmError *err)
{
	return rt->ops->alloc(rt->ctx, count * sizeof(float), (void **) p, err);
}

/* make the device weights */
static int
LoadWeights(LlmRuntime *rt, LlmError *err)
{
	const LlmModel *m = rt->model;
	int			rc;

	if ((rc = LoadWeight(rt, &rt->tok_embed, m->tok_embed, err)) ||
		(rc = LoadWeight(rt, &rt->pos_embed, m->pos_embed, err)) ||
		(rc = LoadWeight(rt, &rt->type_embed, m->type_embed, err)) ||
		(rc = LoadWeight(rt, &rt->embed_norm, m->embed_norm, err)) ||
		(rc = LoadWeight(rt, &rt->embed_norm_b, m->embed_norm_b, err)) ||
		(rc = LoadWeight(rt, &rt->final_norm, m->final_norm, err)))
		return rc;
	if (m->lm_head != NULL && m->lm_head == m->tok_embed)
	{
		rt->lm_head = rt->tok_embed;
		rt->lm_head_shared = true;
	}
	else if ((rc = LoadWeight(rt, &rt->lm_head, m->lm_head, err)))
		return rc;

	for (int l = 0; l < m->cfg.n_layers; l++)
	{
		const LlmLayerWeights *src = &m->layers[l];
		LlmDeviceLayer    *dst = &rt->layers[l];

		if ((rc = LoadWeight(rt, &dst->attn_norm, src->attn_norm, err)) ||
			(rc = LoadWeight(rt, &dst->attn_norm_b, src->attn_norm_b, err)) ||
			(rc = LoadWeight(rt, &dst->wq, src->wq, err)) ||
			(rc = LoadWeight(rt, &dst->wk, src->wk, err)) ||
			(rc = LoadWeight(rt, &dst->wv, src->wv, err)) ||
			(rc = LoadWeight(rt, &dst->wo, src->wo, err)) ||
			(rc = LoadWeight(rt, &dst->bq, src->bq, err)) ||
			(rc = LoadWeight(rt, &dst->bk, src->bk, err)) ||
			(rc = LoadWeight(rt, &dst->bv, src->bv, err)) ||
			(rc = LoadWeight(rt, &dst->bo, src->bo, err)) ||
			(rc = LoadWeight(rt, &dst->ffn_norm, src->ffn_norm, err)) ||
			(rc = LoadWeight(rt, &dst->ffn_norm_b, src->ffn_norm_b, err)) ||
			(rc = LoadWeight(rt, &dst->w_gate, src->w_gate, err)) ||
			(rc = LoadWeight(rt, &dst->w_up, src->w_up, err)) ||
			(rc = LoadWeight(rt, &dst->w_down, src->w_down, err)) ||
			(rc = LoadWeight(rt, &dst->b_up, src->b_up, err)) ||
			(rc = LoadWeight(rt, &dst->b_down, src->b_down, err)))
			return rc;
	}
	return LLM_OK;
}

/* size and allocate the KV pool, the sequences and the activations */
static int
AllocBuffers(LlmRuntime *rt, LlmError *err)
{
	const LlmConfig *cfg = &rt->model->cfg;
	int			rows = rt->opt.max_batch_rows;
	int			nseq = rt->opt.max_seqs;
	size_t		row_kv = (size_t) cfg->n_kv_heads * cfg->head_dim;
	size_t		q_dim = (size_t) cfg->n_heads * cfg->head_dim;
	size_t		block_bytes;
	int64_t		n_blocks;
	size_t		kv_floats;
	int			rc;

	rt->max_blocks = (cfg->max_position + COMPUTE_KV_BLOCK - 1) / COMPUTE_KV_BLOCK;
	rt->cache.n_kv_heads = cfg->n_kv_heads;
	rt->cache.head_dim = cfg->head_dim;
	if (rt->encoder)
	{
		/* one layer, enough blocks for any step */
		rt->cache.n_layers = 1;
		n_blocks = rows / COMPUTE_KV_BLOCK + nseq;
	}
	else
	{
		rt->cache.n_layers = cfg->n_layers;
		block_bytes = 2 * (size_t) cfg->n_layers * COMPUTE_KV_BLOCK * row_kv * sizeof(float);
		n_blocks = (int64_t) (rt->opt.kv_bytes / block_bytes);
		if (n_blocks < 1)
			return LlmSetError(err, LLM_ERR_ARGUMENT,
							   "a KV cache budget of %zu bytes holds no block (a block needs %zu bytes)",
							   rt->opt.kv_bytes, block_bytes);
		if (n_blocks > INT32_MAX / COMPUTE_KV_BLOCK)
			n_blocks = INT32_MAX / COMPUTE_KV_BLOCK;
	}
	rt->cache.n_blocks = (int) n_blocks;
	kv_floats = (size_t) rt->cache.n_layers * n_blocks * COMPUTE_KV_BLOCK * row_kv;
	if ((rc = AllocFloats(rt, &rt->cache.k, kv_floats, err)) ||
		(rc = AllocFloats(rt, &rt->cache.v, kv_floats, err)))
		return rc;

	rt->free_blocks = LlmAlloc((size_t) n_blocks * sizeof(int32_t), err);
	rt->seqs = LlmAllocZero((size_t) nseq * sizeof(LlmSeqState), err);
	if (rt->free_blocks == NULL || rt->seqs == NULL)
		return LLM_ERR_NOMEM;
	/* hand out low block numbers first */
	for (int64_t i = 0; i < n_blocks; i++)
		rt->free_blocks[i] = (int32_t) (n_blocks - 1 - i);
	rt->n_free = (int) n_blocks;
	for (int s = 0; s < nseq; s++)
	{
		rt->seqs[s].blocks = LlmAlloc((size_t) rt->max_blocks * sizeof(int32_t), err);
		if (rt->seqs[s].blocks == NULL)
			return LLM_ERR_NOMEM;
	}

	if ((rc = AllocFloats(rt, &rt->x, (size_t) rows * cfg->hidden_size, err)) ||
		(rc = AllocFloats(rt, &rt->xn, (size_t) rows * cfg->hidden_size, err)) ||
		(rc = AllocFloats(rt, &rt->q, (size_t) rows * q_dim, err)) ||
		(rc = AllocFloats(rt, &rt->k, (size_t) rows * row_kv, err)) ||
		(rc = AllocFloats(rt, &rt->v, (size_t) rows * row_kv, err)) ||
		(rc = AllocFloats(rt, &rt->att, (size_t) rows * q_dim, err)) ||
		(rc = AllocFloats(rt, &rt->h1, (size_t) rows * cfg->intermediate_size, err)) ||
		(rc = AllocFloats(rt, &rt->logits, (size_t) nseq * cfg->vocab_size, err)))
		return rc;
	/* the up projection's own buffer, unless the backend fuses SwiGLU */
	if (!rt->encoder && rt->ops->matmul_swiglu == NULL &&
		(rc = AllocFloats(rt, &rt->h2, (size_t) rows * cfg->intermediate_size, err)))
		return rc;

	rt->b_tokens = LlmAlloc((size_t) rows * sizeof(int32_t), err);
	rt->b_positions = LlmAlloc((size_t) rows * sizeof(int32_t), err);
	rt->b_seq_start = LlmAlloc((size_t) (nseq + 1) * sizeof(int32_t), err);
	rt->b_seq_len = LlmAlloc((size_t) nseq * sizeof(int32_t), err);
	rt->b_block_table = LlmAllocZero((size_t) nseq * rt->max_blocks * sizeof(int32_t), err);
	rt->b_out_rows = LlmAlloc((size_t) nseq * sizeof(int32_t), err);
	if (!rt->b_tokens || !rt->b_positions || !rt->b_seq_start || !rt->b_seq_len ||
		!rt->b_block_table || !rt->b_out_rows)
		return LLM_ERR_NOMEM;
	return LLM_OK;
}

/*
 * Make model ready on ops' device
 */
int
LlmRuntimeCreate(const LlmModel *model, const ComputeOps *ops,
				 const LlmRuntimeOptions *opt, LlmRuntime **out, LlmError *err)
{
	const LlmConfig *cfg = &model->cfg;
	LlmRuntime *rt;
	float	   *inv_freq;
	int			rc;

	*out = NULL;
	if (opt->max_batch_rows < 1 || opt->max_batch_rows > (1 << 20) ||
		opt->max_seqs < 1 || opt->max_seqs > (1 << 16))
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "max_batch_rows must be in [1, 1048576] and max_seqs in [1, 65536]");
	rt = LlmAllocZero(sizeof(LlmRuntime), err);
	if (rt == NULL)
		return LLM_ERR_NOMEM;
	rt->model = model;
	rt->ops = ops;
	rt->opt = *opt;
	rt->encoder = cfg->arch == LLM_ARCH_BERT;
	rt->layers = LlmAllocZero((size_t) cfg->n_layers * sizeof(LlmDeviceLayer), err);
	if (rt->layers == NULL)
	{
		free(rt);
		return LLM_ERR_NOMEM;
	}
	if ((rc = ops->init(&rt->ctx, opt->precision, err)) != LLM_OK)
	{
		free(rt->layers);
		free(rt);
		return rc;
	}
	if ((rc = LoadWeights(rt, err)) || (rc = AllocBuffers(rt, err)))
	{
		LlmRuntimeFree(rt);
		return rc;
	}
	if (!rt->encoder)
	{
		inv_freq = LlmAlloc((size_t) (cfg->head_dim / 2) * sizeof(float), err);
		if (inv_freq == NULL)
		{
			LlmRuntimeFree(rt);
			return LLM_ERR_NOMEM;
		}
		RopeInvFreq(cfg, inv_freq);
		rc = AllocFloats(rt, &rt->inv_freq, cfg->head_dim / 2, err);
		if (rc == LLM_OK)
			rc = ops->upload(rt->ctx, rt->inv_freq, inv_freq,
							 (size_t) (cfg->head_dim / 2) * sizeof(float), err);
		free(inv_freq);
		if (rc != LLM_OK)
		{
			LlmRuntimeFree(rt);
			return rc;
		}
	}
	*out = rt;
	return LLM_OK;
}

/*
 * Release everything the runtime holds (not the model)
 */
void
LlmRuntimeFree(LlmRuntime *rt)
{
	const LlmConfig *cfg;
	float	   *bufs[12];

	if (rt == NULL)
		return;
	cfg = &rt->model->cfg;
	if (rt->ctx != NULL)
	{
		FreeWeight(rt, &rt->tok_embed);
		FreeWeight(rt, &rt->pos_embed);
		FreeWeight(rt, &rt->type_embed);
		FreeWeight(rt, &rt->embed_norm);
		FreeWeight(rt, &rt->embed_norm_b);
		FreeWeight(rt, &rt->final_norm);
		if (!rt->lm_head_shared)
			FreeWeight(rt, &rt->lm_head);
		for (int l = 0; l < cfg->n_layers; l++)
		{
			LlmDeviceLayer    *L = &rt->layers[l];
			LlmTensor  *all[] = {&L->attn_norm, &L->attn_norm_b, &L->wq, &L->wk, &L->wv,
				&L->wo, &L->bq, &L->bk, &L->bv, &L->bo, &L->ffn_norm, &L->ffn_norm_b,
			&L->w_gate, &L->w_up, &L->w_down, &L->b_up, &L->b_down};

			for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
				FreeWeight(rt, all[i]);
		}
		bufs[0] = rt->cache.k;
		bufs[1] = rt->cache.v;
		bufs[2] = rt->x;
		bufs[3] = rt->xn;
		bufs[4] = rt->q;
		bufs[5] = rt->k;
		bufs[6] = rt->v;
		bufs[7] = rt->att;
		bufs[8] = rt->h1;
		bufs[9] = rt->h2;
		bufs[10] = rt->logits;
		bufs[11] = rt->inv_freq;
		for (int i = 0; i < 12; i++)
			if (bufs[i] != NULL)
				rt->ops->free(rt->ctx, bufs[i]);
		rt->ops->shutdown(rt->ctx);
	}
	if (rt->seqs != NULL)
		for (int s = 0; s < rt->opt.max_seqs; s++)
			free(rt->seqs[s].blocks);
	free(rt->seqs);
	free(rt->free_blocks);
	free(rt->layers);
	free(rt->b_tokens);
	free(rt->b_positions);
	free(rt->b_seq_start);
	free(rt->b_seq_len);
	free(rt->b_block_table);
	free(rt->b_out_rows);
	free(rt);
}

/* the model the runtime was made from */
const LlmModel *
LlmRuntimeModel(const LlmRuntime *rt)
{
	return rt->model;
}

/* the most tokens one step may hold */
int
LlmRuntimeMaxBatchRows(const LlmRuntime *rt)
{
	return rt->opt.max_batch_rows;
}

/* the most sequences open at once */
int
LlmRuntimeMaxSeqs(const LlmRuntime *rt)
{
	return rt->opt.max_seqs;
}

/* KV blocks free and in the pool */
void
LlmRuntimeKvUsage(const LlmRuntime *rt, int *free_blocks, int *total_blocks)
{
	*free_blocks = rt->n_free;
	*total_blocks = rt->cache.n_blocks;
}

/*
 * Open an empty sequence
 */
int
LlmSeqOpen(LlmRuntime *rt, int *seq, LlmError *err)
{
	for (int s = 0; s < rt->opt.max_seqs; s++)
	{
		if (!rt->seqs[s].open)
		{
			rt->seqs[s].open = true;
			rt->seqs[s].len = 0;
			rt->seqs[s].n_blocks = 0;
			*seq = s;
			return LLM_OK;
		}
	}
	return LlmSetError(err, LLM_ERR_FULL, "all %d sequence slots are in use", rt->opt.max_seqs);
}

/* give the blocks of seq beyond keep back to the pool */
static void
ReleaseBlocks(LlmRuntime *rt, LlmSeqState *seq, int keep)
{
	while (seq->n_blocks > keep)
		rt->free_blocks[rt->n_free++] = seq->blocks[--seq->n_blocks];
}

/*
 * Close a sequence and free its blocks; unknown handles are ignored
 */
void
LlmSeqClose(LlmRuntime *rt, int seq)
{
	if (seq < 0 || seq >= rt->opt.max_seqs || !rt->seqs[seq].open)
		return;
	ReleaseBlocks(rt, &rt->seqs[seq], 0);
	rt->seqs[seq].open = false;
	rt->seqs[seq].len = 0;
}

/* tokens held by seq, or -1 for a bad handle */
int
LlmSeqLength(const LlmRuntime *rt, int seq)
{
	if (seq < 0 || seq >= rt->opt.max_seqs || !rt->seqs[seq].open)
		return -1;
	return rt->seqs[seq].len;
}

/* point a ComputeBatch at the runtime's host layout arrays */
static void
PointBatch(LlmRuntime *rt, ComputeBatch *b, int rows, int n_seqs, int n_out)
{
	b->n_rows = rows;
	b->n_seqs = n_seqs;
	b->tokens = rt->b_tokens;
	b->positions = rt->b_positions;
	b->seq_start = rt->b_seq_start;
	b->seq_len = rt->b_seq_len;
	b->block_table = rt->b_block_table;
	b->max_blocks = rt->max_blocks;
	b->n_out = n_out;
	b->out_rows = rt->b_out_rows;
}

/*
 * Check a step, reserve its KV blocks and fill the layout.  On failure
 * nothing has changed.  old_blocks (n) receives each sequence's block
 * count before the step, for rollback.
 */
static int
PrepareStep(LlmRuntime *rt, const LlmStepSeq *seqs, int n, ComputeBatch *b,
			 int *old_blocks, LlmError *err)
{
	const LlmConfig *cfg = &rt->model->cfg;
	int			rows = 0;
	int			need = 0;
	int			n_out = 0;

	if (n < 1 || n > rt->opt.max_seqs)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "a step takes 1 to %d sequences, not %d",
						   rt->opt.max_seqs, n);
	for (int i = 0; i < n; i++)
	{
		const LlmStepSeq *e = &seqs[i];
		LlmSeqState	   *s;

		if (e->seq < 0 || e->seq >= rt->opt.max_seqs || !rt->seqs[e->seq].open)
			return LlmSetError(err, LLM_ERR_ARGUMENT, "sequence %d is not open", e->seq);
		for (int j = 0; j < i; j++)
			if (seqs[j].seq == e->seq)
				return LlmSetError(err, LLM_ERR_ARGUMENT, "sequence %d appears twice in one step", e->seq);
		s = &rt->seqs[e->seq];
		if (e->n_tokens < 1 || e->tokens == NULL)
			return LlmSetError(err, LLM_ERR_ARGUMENT, "sequence %d has no tokens in this step", e->seq);
		if (e->n_tokens > rt->opt.max_batch_rows - rows)
			return LlmSetError(err, LLM_ERR_ARGUMENT,
							   "the step has more than %d tokens", rt->opt.max_batch_rows);
		if (e->n_tokens > cfg->max_position - s->len)
			return LlmSetError(err, LLM_ERR_ARGUMENT,
							   "sequence %d would exceed the model's %d positions",
							   e->seq, cfg->max_position);
		for (int t = 0; t < e->n_tokens; t++)
			if (e->tokens[t] < 0 || e->tokens[t] >= cfg->vocab_size)
				return LlmSetError(err, LLM_ERR_ARGUMENT,
								   "token id %d is outside the vocabulary of %d",
								   e->tokens[t], cfg->vocab_size);
		rows += e->n_tokens;
		need += (s->len + e->n_tokens + COMPUTE_KV_BLOCK - 1) / COMPUTE_KV_BLOCK - s->n_blocks;
	}
	if (need > rt->n_free)
		return LlmSetError(err, LLM_ERR_FULL,
						   "the KV cache has %d free blocks and the step needs %d",
						   rt->n_free, need);

	/* commit: reserve blocks and lay out rows */
	rows = 0;
	for (int i = 0; i < n; i++)
	{
		const LlmStepSeq *e = &seqs[i];
		LlmSeqState	   *s = &rt->seqs[e->seq];
		int			want = (s->len + e->n_tokens + COMPUTE_KV_BLOCK - 1) / COMPUTE_KV_BLOCK;

		old_blocks[i] = s->n_blocks;
		while (s->n_blocks < want)
			s->blocks[s->n_blocks++] = rt->free_blocks[--rt->n_free];
		rt->b_seq_start[i] = rows;
		rt->b_seq_len[i] = s->len + e->n_tokens;
		memcpy(rt->b_block_table + (size_t) i * rt->max_blocks, s->blocks,
			   (size_t) s->n_blocks * sizeof(int32_t));
		for (int t = 0; t < e->n_tokens; t++)
		{
			rt->b_tokens[rows] = e->tokens[t];
			rt->b_positions[rows] = s->len + t;
			rows++;
		}
		if (e->want_logits)
			rt->b_out_rows[n_out++] = rows - 1;
	}
	rt->b_seq_start[n] = rows;
	PointBatch(rt, b, rows, n, n_out);
	return LLM_OK;
}

/* run a prepared decoder step; on failure give the new blocks back */
static int
RunStep(LlmRuntime *rt, const LlmStepSeq *seqs, int n, ComputeBatch *b,
		 int *old_blocks, LlmError *err)
{
	int			rc = LlmForwardDecoder(rt, b, err);

	for (int i = 0; i < n; i++)
	{
		LlmSeqState	   *s = &rt->seqs[seqs[i].seq];

		if (rc == LLM_OK)
			s->len += seqs[i].n_tokens;
		else
			ReleaseBlocks(rt, s, old_blocks[i]);
	}
	return rc;
}

/* common part of LlmStep and LlmStepArgmax */
static int
DecoderStep(LlmRuntime *rt, const LlmStepSeq *seqs, int n, ComputeBatch *b, LlmError *err)
{
	int		   *old_blocks;
	int			rc;

	if (rt->encoder)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "an encoder model has no decoding steps");
	old_blocks = LlmAlloc((size_t) (n > 0 ? n : 1) * sizeof(int), err);
	if (old_blocks == NULL)
		return LLM_ERR_NOMEM;
	rc = PrepareStep(rt, seqs, n, b, old_blocks, err);
	if (rc == LLM_OK)
		rc = RunStep(rt, seqs, n, b, old_blocks, err);
	free(old_blocks);
	return rc;
}

/*
 * One decoder step; logits of the wanted rows to the host
 */
int
LlmStep(LlmRuntime *rt, const LlmStepSeq *seqs, int n, float *logits, LlmError *err)
{
	ComputeBatch b;
	int			rc = DecoderStep(rt, seqs, n, &b, err);

	if (rc != LLM_OK || b.n_out == 0)
		return rc;
	return rt->ops->download(rt->ctx, logits, rt->logits,
							 (size_t) b.n_out * rt->model->cfg.vocab_size * sizeof(float), err);
}

/*
 * One decoder step; greedy token of each wanted row to the host
 */
int
LlmStepArgmax(LlmRuntime *rt, const LlmStepSeq *seqs, int n, int32_t *ids, LlmError *err)
{
	ComputeBatch b;
	int			rc = DecoderStep(rt, seqs, n, &b, err);

	if (rc != LLM_OK || b.n_out == 0)
		return rc;
	return rt->ops->argmax(rt->ctx, ids, rt->logits, b.n_out, rt->model->cfg.vocab_size, err);
}

/*
 * Lay out sequences [first, last) of an encode call as one step, using
 * blocks from the pool in order
 */
static void
EncodeLayout(LlmRuntime *rt, const int *lens, int first, int last, ComputeBatch *b)
{
	int			rows = 0;
	int			block = 0;
	int			n = last - first;

	for (int i = 0; i < n; i++)
	{
		int			len = lens[first + i];
		int			nb = (len + COMPUTE_KV_BLOCK - 1) / COMPUTE_KV_BLOCK;

		rt->b_seq_start[i] = rows;
		rt->b_seq_len[i] = len;
		for (int j = 0; j < nb; j++)
			rt->b_block_table[(size_t) i * rt->max_blocks + j] = block++;
		for (int t = 0; t < len; t++)
			rt->b_positions[rows + t] = t;
		rt->b_out_rows[i] = rows;	/* first token: CLS */
		rows += len;
	}
	rt->b_seq_start[n] = rows;
	PointBatch(rt, b, rows, n, n);
}

/*
 * Sentence embeddings of n token sequences, in steps of at most
 * max_batch_rows rows and max_seqs sequences
 */
int
LlmEncode(LlmRuntime *rt, const int32_t *const *ids, const int *lens, int n,
		  float *out, float *hidden, LlmError *err)
{
	const LlmConfig *cfg = &rt->model->cfg;
	int			dim = cfg->hidden_size;
	int			first = 0;

	if (!rt->encoder)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "LlmEncode needs an encoder model");
	for (int i = 0; i < n; i++)
	{
		if (lens[i] < 1 || lens[i] > cfg->max_position || lens[i] > rt->opt.max_batch_rows)
			return LlmSetError(err, LLM_ERR_ARGUMENT,
							   "input %d has %d tokens; the model takes 1 to %d",
							   i, lens[i], cfg->max_position < rt->opt.max_batch_rows ?
							   cfg->max_position : rt->opt.max_batch_rows);
		for (int t = 0; t < lens[i]; t++)
			if (ids[i][t] < 0 || ids[i][t] >= cfg->vocab_size)
				return LlmSetError(err, LLM_ERR_ARGUMENT,
								   "token id %d is outside the vocabulary of %d",
								   ids[i][t], cfg->vocab_size);
	}
	while (first < n)
	{
		int			last = first;
		int			rows = 0;
		ComputeBatch b;
		int			rc;

		while (last < n && last - first < rt->opt.max_seqs &&
			   rows + lens[last] <= rt->opt.max_batch_rows)
		{
			memcpy(rt->b_tokens + rows, ids[last], (size_t) lens[last] * sizeof(int32_t));
			rows += lens[last];
			last++;
		}
		EncodeLayout(rt, lens, first, last, &b);
		if ((rc = LlmForwardEncoder(rt, &b, err)) != LLM_OK)
			return rc;
		/* pooled (n, dim) in xn, CLS rows in att */
		if ((rc = rt->ops->download(rt->ctx, out + (size_t) first * dim, rt->xn,
									(size_t) (last - first) * dim * sizeof(float), err)))
			return rc;
		if (hidden != NULL &&
			(rc = rt->ops->download(rt->ctx, hidden + (size_t) first * dim, rt->att,
									(size_t) (last - first) * dim * sizeof(float), err)))
			return rc;
		first = last;
	}
	return LLM_OK;
}
