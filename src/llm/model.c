/*-------------------------------------------------------------------------
 *
 * model.c
 *	  Load a model directory: configuration, weights and the binding of
 *	  tensor names to the slots of LlmModel.
 *
 * Each architecture lists the tensors it needs under their Hugging Face
 * names together with the shape the configuration implies.  A tensor that
 * is missing or has another shape fails the load with a message naming
 * it, so a forward pass never meets a surprise.  Element types may differ
 * between tensors (norms in f32 next to bf16 matrices, say); the compute
 * backends convert on use.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm/model.h"

/* longest tensor name this file builds */
#define NAME_LEN 256

/*
 * Write "[a, b]" for a shape into buf
 */
static void
FormatShape(char *buf, size_t len, int ndim, const int64_t *shape)
{
	size_t		off = 0;

	off += snprintf(buf + off, len - off, "[");
	for (int i = 0; i < ndim && off < len; i++)
		off += snprintf(buf + off, len - off, "%s%lld", i > 0 ? ", " : "",
						(long long) shape[i]);
	if (off < len)
		snprintf(buf + off, len - off, "]");
}

/*
 * Look up name and check its shape (d1 < 0: one dimension); *out is NULL
 * and LLM_OK is returned for an absent optional tensor
 */
static int
BindTensor(const LlmWeights *w, const char *name, int64_t d0, int64_t d1,
		   bool optional, const LlmTensor **out, LlmError *err)
{
	const LlmTensor *t = LlmWeightsFind(w, name);
	int64_t		want[2] = {d0, d1};
	int			ndim = d1 < 0 ? 1 : 2;

	*out = NULL;
	if (t == NULL)
	{
		if (optional)
			return LLM_OK;
		return LlmSetError(err, LLM_ERR_FORMAT, "missing tensor \"%s\"", name);
	}
	if (t->ndim != ndim || t->shape[0] != d0 || (ndim == 2 && t->shape[1] != d1))
	{
		char		got[128];
		char		exp[64];

		FormatShape(got, sizeof(got), t->ndim, t->shape);
		FormatShape(exp, sizeof(exp), ndim, want);
		return LlmSetError(err, LLM_ERR_FORMAT, "tensor \"%s\" has shape %s, expected %s",
						   name, got, exp);
	}
	*out = t;
	return LLM_OK;
}

/*
 * BindTensor on prefix + "." + suffix
 */
static int
BindPart(const LlmWeights *w, const char *prefix, const char *suffix,
		 int64_t d0, int64_t d1, bool optional, const LlmTensor **out,
		 LlmError *err)
{
	char		name[NAME_LEN];

	snprintf(name, sizeof(name), "%s%s", prefix, suffix);
	return BindTensor(w, name, d0, d1, optional, out, err);
}

/*
 * A LayerNorm's weight and bias, also under the old gamma/beta names
 */
static int
BindLayerNorm(const LlmWeights *w, const char *prefix, int64_t hidden,
			  const LlmTensor **weight, const LlmTensor **bias, LlmError *err)
{
	char		name[NAME_LEN];
	const char *wname = "weight";
	const char *bname = "bias";
	int			rc;

	snprintf(name, sizeof(name), "%sweight", prefix);
	if (LlmWeightsFind(w, name) == NULL)
	{
		snprintf(name, sizeof(name), "%sgamma", prefix);
		if (LlmWeightsFind(w, name) != NULL)
		{
			wname = "gamma";
			bname = "beta";
		}
	}
	rc = BindPart(w, prefix, wname, hidden, -1, false, weight, err);
	if (rc == LLM_OK)
		rc = BindPart(w, prefix, bname, hidden, -1, false, bias, err);
	return rc;
}

/*
 * Bind a llama, mistral or qwen2 decoder
 */
static int
BindDecoder(LlmModel *m, LlmError *err)
{
	const LlmConfig *c = &m->cfg;
	const LlmWeights *w = m->weights;
	int64_t		hidden = c->hidden_size;
	int64_t		q_dim = (int64_t) c->n_heads * c->head_dim;
	int64_t		kv_dim = (int64_t) c->n_kv_heads * c->head_dim;
	int64_t		inter = c->intermediate_size;
	int			rc;

	if (c->mlp_bias)
		return LlmSetError(err, LLM_ERR_UNSUPPORTED, "MLP biases (mlp_bias) are not supported");
	if ((rc = BindTensor(w, "model.embed_tokens.weight", c->vocab_size, hidden, false,
						 &m->tok_embed, err)) != LLM_OK ||
		(rc = BindTensor(w, "model.norm.weight", hidden, -1, false,
						 &m->final_norm, err)) != LLM_OK ||
		(rc = BindTensor(w, "lm_head.weight", c->vocab_size, hidden, c->tie_embeddings,
						 &m->lm_head, err)) != LLM_OK)
		return rc;
	if (m->lm_head == NULL)
		m->lm_head = m->tok_embed;

	for (int l = 0; l < c->n_layers; l++)
	{
		LlmLayerWeights *L = &m->layers[l];
		char		p[NAME_LEN];

		snprintf(p, sizeof(p), "model.layers.%d.", l);
		if ((rc = BindPart(w, p, "input_layernorm.weight", hidden, -1, false, &L->attn_norm, err)) ||
			(rc = BindPart(w, p, "self_attn.q_proj.weight", q_dim, hidden, false, &L->wq, err)) ||
			(rc = BindPart(w, p, "self_attn.k_proj.weight", kv_dim, hidden, false, &L->wk, err)) ||
			(rc = BindPart(w, p, "self_attn.v_proj.weight", kv_dim, hidden, false, &L->wv, err)) ||
			(rc = BindPart(w, p, "self_attn.o_proj.weight", hidden, q_dim, false, &L->wo, err)) ||
			(rc = BindPart(w, p, "post_attention_layernorm.weight", hidden, -1, false, &L->ffn_norm, err)) ||
			(rc = BindPart(w, p, "mlp.gate_proj.weight", inter, hidden, false, &L->w_gate, err)) ||
			(rc = BindPart(w, p, "mlp.up_proj.weight", inter, hidden, false, &L->w_up, err)) ||
			(rc = BindPart(w, p, "mlp.down_proj.weight", hidden, inter, false, &L->w_down, err)))
			return rc;
		if (c->attention_bias &&
			((rc = BindPart(w, p, "self_attn.q_proj.bias", q_dim, -1, false, &L->bq, err)) ||
			 (rc = BindPart(w, p, "self_attn.k_proj.bias", kv_dim, -1, false, &L->bk, err)) ||
			 (rc = BindPart(w, p, "self_attn.v_proj.bias", kv_dim, -1, false, &L->bv, err))))
			return rc;
		/* llama's attention_bias also covers o_proj; qwen2 has none there */
		if (c->arch == LLM_ARCH_LLAMA && c->attention_bias &&
			(rc = BindPart(w, p, "self_attn.o_proj.bias", hidden, -1, false, &L->bo, err)))
			return rc;
	}
	return LLM_OK;
}

/*
 * Bind a BERT encoder (tensor names with or without the "bert." prefix)
 */
static int
BindBert(LlmModel *m, LlmError *err)
{
	const LlmConfig *c = &m->cfg;
	const LlmWeights *w = m->weights;
	int64_t		hidden = c->hidden_size;
	int64_t		q_dim = (int64_t) c->n_heads * c->head_dim;
	int64_t		inter = c->intermediate_size;
	const char *pre = "";
	char		p[NAME_LEN];
	int			rc;

	if (LlmWeightsFind(w, "embeddings.word_embeddings.weight") == NULL &&
		LlmWeightsFind(w, "bert.embeddings.word_embeddings.weight") != NULL)
		pre = "bert.";

	snprintf(p, sizeof(p), "%sembeddings.", pre);
	if ((rc = BindPart(w, p, "word_embeddings.weight", c->vocab_size, hidden, false,
					   &m->tok_embed, err)) ||
		(rc = BindPart(w, p, "position_embeddings.weight", c->max_position, hidden, false,
					   &m->pos_embed, err)) ||
		(rc = BindPart(w, p, "token_type_embeddings.weight", c->type_vocab_size, hidden, false,
					   &m->type_embed, err)))
		return rc;
	snprintf(p, sizeof(p), "%sembeddings.LayerNorm.", pre);
	if ((rc = BindLayerNorm(w, p, hidden, &m->embed_norm, &m->embed_norm_b, err)) != LLM_OK)
		return rc;

	for (int l = 0; l < c->n_layers; l++)
	{
		LlmLayerWeights *L = &m->layers[l];

		snprintf(p, sizeof(p), "%sencoder.layer.%d.", pre, l);
		if ((rc = BindPart(w, p, "attention.self.query.weight", q_dim, hidden, false, &L->wq, err)) ||
			(rc = BindPart(w, p, "attention.self.query.bias", q_dim, -1, false, &L->bq, err)) ||
			(rc = BindPart(w, p, "attention.self.key.weight", q_dim, hidden, false, &L->wk, err)) ||
			(rc = BindPart(w, p, "attention.self.key.bias", q_dim, -1, false, &L->bk, err)) ||
			(rc = BindPart(w, p, "attention.self.value.weight", q_dim, hidden, false, &L->wv, err)) ||
			(rc = BindPart(w, p, "attention.self.value.bias", q_dim, -1, false, &L->bv, err)) ||
			(rc = BindPart(w, p, "attention.output.dense.weight", hidden, q_dim, false, &L->wo, err)) ||
			(rc = BindPart(w, p, "attention.output.dense.bias", hidden, -1, false, &L->bo, err)) ||
			(rc = BindPart(w, p, "intermediate.dense.weight", inter, hidden, false, &L->w_up, err)) ||
			(rc = BindPart(w, p, "intermediate.dense.bias", inter, -1, false, &L->b_up, err)) ||
			(rc = BindPart(w, p, "output.dense.weight", hidden, inter, false, &L->w_down, err)) ||
			(rc = BindPart(w, p, "output.dense.bias", hidden, -1, false, &L->b_down, err)))
			return rc;
		snprintf(p, sizeof(p), "%sencoder.layer.%d.attention.output.LayerNorm.", pre, l);
		if ((rc = BindLayerNorm(w, p, hidden, &L->attn_norm, &L->attn_norm_b, err)) != LLM_OK)
			return rc;
		snprintf(p, sizeof(p), "%sencoder.layer.%d.output.LayerNorm.", pre, l);
		if ((rc = BindLayerNorm(w, p, hidden, &L->ffn_norm, &L->ffn_norm_b, err)) != LLM_OK)
			return rc;
	}
	return LLM_OK;
}

/*
 * Load the model in dir; on success *out owns the configuration, the
 * mappings and the binding
 */
int
LlmModelLoad(const char *dir, LlmModel **out, LlmError *err)
{
	LlmModel   *m;
	int			rc;

	*out = NULL;
	m = LlmAllocZero(sizeof(LlmModel), err);
	if (m == NULL)
		return LLM_ERR_NOMEM;
	m->dir = strdup(dir);
	if (m->dir == NULL)
	{
		free(m);
		return LlmSetError(err, LLM_ERR_NOMEM, "out of memory");
	}
	rc = LlmConfigLoad(dir, &m->cfg, err);
	if (rc == LLM_OK)
		rc = LlmWeightsOpen(dir, &m->weights, err);
	if (rc == LLM_OK)
	{
		m->layers = LlmAllocZero((size_t) m->cfg.n_layers * sizeof(LlmLayerWeights), err);
		if (m->layers == NULL)
			rc = LLM_ERR_NOMEM;
	}
	if (rc == LLM_OK)
		rc = m->cfg.arch == LLM_ARCH_BERT ? BindBert(m, err) : BindDecoder(m, err);
	if (rc != LLM_OK)
	{
		LlmModelFree(m);
		return rc;
	}
	*out = m;
	return LLM_OK;
}

/*
 * Free a model and unmap its weights
 */
void
LlmModelFree(LlmModel *m)
{
	if (m == NULL)
		return;
	LlmWeightsClose(m->weights);
	free(m->layers);
	free(m->dir);
	free(m);
}
