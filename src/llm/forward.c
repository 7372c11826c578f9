/*-------------------------------------------------------------------------
 *
 * forward.c
 *	  The transformer forward pass, written once against ComputeOps: the
 *	  pre-norm decoder of llama, mistral and qwen2, and the post-norm BERT
 *	  encoder with pooling.
 *
 * Every op runs on the whole step (all rows of all sequences); only the
 * final norm and the LM head run on the rows whose logits are wanted.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>

#include "llm/runtimeint.h"

/* evaluate an op call and return its status if it failed */
#define TRY(call) \
	do { \
		int rc_ = (call); \
		if (rc_ != LLM_OK) \
			return rc_; \
	} while (0)

static int	DecoderLayers(LlmRuntime *rt, const ComputeBatch *b, LlmError *err);

/* out = x . w^T (+ b) */
static int
Linear(LlmRuntime *rt, float *out, const float *x, const LlmTensor *w,
	   const LlmTensor *b, int n, LlmError *err)
{
	TRY(rt->ops->matmul(rt->ctx, out, x, w, n, err));
	if (b->data != NULL)
		TRY(rt->ops->add_bias(rt->ctx, out, b, n, err));
	return LLM_OK;
}

/*
 * Decoder step: x(rows, hidden) through every layer, then the final norm
 * and LM head of the wanted rows into rt->logits (n_out, vocab)
 */
int
LlmForwardDecoder(LlmRuntime *rt, const ComputeBatch *b, LlmError *err)
{
	const ComputeOps *ops = rt->ops;
	void	   *ctx = rt->ctx;
	int			n = b->n_rows;
	uint64_t	key = 0;
	bool		replayed = false;
	bool		one_row_each = n == b->n_seqs;
	int			rc;

	TRY(ops->begin_step(ctx, b, err));
	for (int s = 0; s < b->n_seqs && one_row_each; s++)
		one_row_each = b->seq_start[s + 1] - b->seq_start[s] == 1;

	/*
	 * Decode steps (one row per sequence) of the same shape issue the same
	 * ops with the same arguments: let the backend record them once and
	 * replay them (CUDA graphs), which removes the launch overhead that
	 * dominates small-batch decoding.
	 */
	if (ops->graph_begin != NULL && one_row_each)
	{
		key = (uint64_t) n << 32 | (uint64_t) b->n_out;
		TRY(ops->graph_begin(ctx, key, &replayed, err));
		if (replayed)
			return ops->graph_end(ctx, key, err);
	}
	rc = DecoderLayers(rt, b, err);
	if (key != 0)
	{
		/* end a recording even after a failed op, so the backend resets */
		int			rc2 = ops->graph_end(ctx, key, err);

		if (rc == LLM_OK)
			rc = rc2;
	}
	return rc;
}

/*
 * The ops of one decoder step after begin_step: embeddings, every layer,
 * final norm and LM head of the wanted rows
 */
static int
DecoderLayers(LlmRuntime *rt, const ComputeBatch *b, LlmError *err)
{
	const ComputeOps *ops = rt->ops;
	void	   *ctx = rt->ctx;
	const LlmConfig *cfg = &rt->model->cfg;
	int			n = b->n_rows;
	size_t		hidden = (size_t) n * cfg->hidden_size;
	float		scale = 1.0f / sqrtf((float) cfg->head_dim);

	TRY(ops->embed(ctx, rt->x, &rt->tok_embed, COMPUTE_INDEX_TOKENS, false, err));

	for (int l = 0; l < cfg->n_layers; l++)
	{
		LlmDeviceLayer    *L = &rt->layers[l];

		/* attention block: x += wo . attn(rope(q), rope(k), v) of norm(x) */
		TRY(ops->rmsnorm(ctx, rt->xn, rt->x, &L->attn_norm, n, cfg->norm_eps, err));
		if (ops->matmul_qkv != NULL)
		{
			TRY(ops->matmul_qkv(ctx, rt->q, rt->k, rt->v, rt->xn, &L->wq, &L->wk, &L->wv,
								n, err));
			if (L->bq.data != NULL)
				TRY(ops->add_bias(ctx, rt->q, &L->bq, n, err));
			if (L->bk.data != NULL)
				TRY(ops->add_bias(ctx, rt->k, &L->bk, n, err));
			if (L->bv.data != NULL)
				TRY(ops->add_bias(ctx, rt->v, &L->bv, n, err));
		}
		else
		{
			TRY(Linear(rt, rt->q, rt->xn, &L->wq, &L->bq, n, err));
			TRY(Linear(rt, rt->k, rt->xn, &L->wk, &L->bk, n, err));
			TRY(Linear(rt, rt->v, rt->xn, &L->wv, &L->bv, n, err));
		}
		TRY(ops->rope(ctx, rt->q, rt->k, cfg->n_heads, cfg->n_kv_heads, cfg->head_dim,
					  rt->inv_freq, err));
		TRY(ops->kv_store(ctx, &rt->cache, l, rt->k, rt->v, err));
		TRY(ops->attention(ctx, rt->att, rt->q, &rt->cache, l, cfg->n_heads, true,
						   cfg->sliding_window, scale, err));
		if (ops->matmul_add != NULL && L->bo.data == NULL)
			TRY(ops->matmul_add(ctx, rt->x, rt->att, &L->wo, n, err));
		else
		{
			TRY(Linear(rt, rt->xn, rt->att, &L->wo, &L->bo, n, err));
			TRY(ops->add(ctx, rt->x, rt->xn, hidden, err));
		}

		/* MLP block: x += down(silu(gate(norm(x))) * up(norm(x))) */
		TRY(ops->rmsnorm(ctx, rt->xn, rt->x, &L->ffn_norm, n, cfg->norm_eps, err));
		if (ops->matmul_swiglu != NULL)
			TRY(ops->matmul_swiglu(ctx, rt->h1, rt->xn, &L->w_gate, &L->w_up, n, err));
		else
		{
			TRY(ops->matmul(ctx, rt->h1, rt->xn, &L->w_gate, n, err));
			TRY(ops->matmul(ctx, rt->h2, rt->xn, &L->w_up, n, err));
			TRY(ops->silu_mul(ctx, rt->h1, rt->h2, (size_t) n * cfg->intermediate_size,
							  err));
		}
		if (ops->matmul_add != NULL)
			TRY(ops->matmul_add(ctx, rt->x, rt->h1, &L->w_down, n, err));
		else
		{
			TRY(ops->matmul(ctx, rt->xn, rt->h1, &L->w_down, n, err));
			TRY(ops->add(ctx, rt->x, rt->xn, hidden, err));
		}
	}

	if (b->n_out == 0)
		return LLM_OK;
	TRY(ops->gather_rows(ctx, rt->xn, rt->x, cfg->hidden_size, err));
	TRY(ops->rmsnorm(ctx, rt->x, rt->xn, &rt->final_norm, b->n_out, cfg->norm_eps, err));
	TRY(ops->matmul(ctx, rt->logits, rt->x, &rt->lm_head, b->n_out, err));
	return LLM_OK;
}

/*
 * Encoder step: embeddings, post-norm layers, then the pooled sentence
 * embedding of each sequence into rt->xn (n_seqs, hidden) and each
 * sequence's first-row hidden state into rt->att (n_seqs, hidden)
 */
int
LlmForwardEncoder(LlmRuntime *rt, const ComputeBatch *b, LlmError *err)
{
	const ComputeOps *ops = rt->ops;
	void	   *ctx = rt->ctx;
	const LlmConfig *cfg = &rt->model->cfg;
	int			n = b->n_rows;
	size_t		hidden = (size_t) n * cfg->hidden_size;
	float		scale = 1.0f / sqrtf((float) cfg->head_dim);
	bool		tanh_gelu = cfg->activation == LLM_ACT_GELU_TANH;

	TRY(ops->begin_step(ctx, b, err));
	TRY(ops->embed(ctx, rt->xn, &rt->tok_embed, COMPUTE_INDEX_TOKENS, false, err));
	TRY(ops->embed(ctx, rt->xn, &rt->pos_embed, COMPUTE_INDEX_POSITIONS, true, err));
	if (rt->type_embed.data != NULL)
		TRY(ops->embed(ctx, rt->xn, &rt->type_embed, COMPUTE_INDEX_ZERO, true, err));
	TRY(ops->layernorm(ctx, rt->x, rt->xn, &rt->embed_norm, &rt->embed_norm_b, n,
					   cfg->norm_eps, err));

	for (int l = 0; l < cfg->n_layers; l++)
	{
		LlmDeviceLayer    *L = &rt->layers[l];

		/* x = norm(x + wo . attn(q, k, v)) */
		TRY(Linear(rt, rt->q, rt->x, &L->wq, &L->bq, n, err));
		TRY(Linear(rt, rt->k, rt->x, &L->wk, &L->bk, n, err));
		TRY(Linear(rt, rt->v, rt->x, &L->wv, &L->bv, n, err));
		TRY(ops->kv_store(ctx, &rt->cache, 0, rt->k, rt->v, err));
		TRY(ops->attention(ctx, rt->att, rt->q, &rt->cache, 0, cfg->n_heads, false, 0,
						   scale, err));
		TRY(Linear(rt, rt->xn, rt->att, &L->wo, &L->bo, n, err));
		TRY(ops->add(ctx, rt->xn, rt->x, hidden, err));
		TRY(ops->layernorm(ctx, rt->x, rt->xn, &L->attn_norm, &L->attn_norm_b, n,
						   cfg->norm_eps, err));

		/* x = norm(x + down(gelu(up(x)))) */
		TRY(Linear(rt, rt->h1, rt->x, &L->w_up, &L->b_up, n, err));
		TRY(ops->gelu(ctx, rt->h1, (size_t) n * cfg->intermediate_size, tanh_gelu, err));
		TRY(Linear(rt, rt->xn, rt->h1, &L->w_down, &L->b_down, n, err));
		TRY(ops->add(ctx, rt->xn, rt->x, hidden, err));
		TRY(ops->layernorm(ctx, rt->x, rt->xn, &L->ffn_norm, &L->ffn_norm_b, n,
						   cfg->norm_eps, err));
	}

	TRY(ops->gather_rows(ctx, rt->att, rt->x, cfg->hidden_size, err));
	TRY(ops->pool(ctx, rt->xn, rt->x, cfg->hidden_size, cfg->pooling != LLM_POOL_CLS, err));
	if (cfg->normalize)
		TRY(ops->l2norm(ctx, rt->xn, b->n_seqs, cfg->hidden_size, err));
	return LLM_OK;
}
