/*-------------------------------------------------------------------------
 *
 * runtimeint.h
 *	  Internal state of an LlmRuntime, shared by runtime.c (weights,
 *	  KV blocks, sequences) and forward.c (the step).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMLOPS_LLM_RUNTIMEINT_H
#define PGMLOPS_LLM_RUNTIMEINT_H

#include "llm/runtime.h"

/* a layer's weights on the backend's device; data == NULL where absent */
typedef struct LlmDeviceLayer
{
	LlmTensor	attn_norm,
				attn_norm_b,
				wq,
				wk,
				wv,
				wo,
				bq,
				bk,
				bv,
				bo,
				ffn_norm,
				ffn_norm_b,
				w_gate,
				w_up,
				w_down,
				b_up,
				b_down;
} LlmDeviceLayer;

typedef struct LlmSeqState
{
	bool		open;
	int			len;			/* tokens in the cache */
	int			n_blocks;
	int32_t    *blocks;			/* (max_blocks) physical blocks */
} LlmSeqState;

struct LlmRuntime
{
	const LlmModel *model;
	const ComputeOps *ops;
	void	   *ctx;
	LlmRuntimeOptions opt;
	bool		encoder;		/* bert: no causal cache across steps */

	/* weights on the device */
	LlmTensor	tok_embed,
				pos_embed,
				type_embed,
				embed_norm,
				embed_norm_b,
				final_norm,
				lm_head;
	bool		lm_head_shared; /* lm_head is tok_embed */
	LlmDeviceLayer    *layers;			/* (n_layers) */
	float	   *inv_freq;		/* (head_dim / 2) device */

	/* paged KV cache and its free list */
	ComputeKvCache cache;
	int32_t    *free_blocks;	/* stack of free physical blocks */
	int			n_free;
	int			max_blocks;		/* per sequence */

	LlmSeqState	   *seqs;			/* (max_seqs) */

	/* activations on the device, (max_batch_rows, width) each */
	float	   *x,
			   *xn,
			   *q,
			   *k,
			   *v,
			   *att,
			   *h1,
			   *h2;
	float	   *logits;			/* (max_seqs, vocab) device */

	/* the step layout on the host */
	int32_t    *b_tokens;		/* (max_batch_rows) */
	int32_t    *b_positions;	/* (max_batch_rows) */
	int32_t    *b_seq_start;	/* (max_seqs + 1) */
	int32_t    *b_seq_len;		/* (max_seqs) */
	int32_t    *b_block_table;	/* (max_seqs, max_blocks) */
	int32_t    *b_out_rows;		/* (max_seqs) */
};

/* forward.c: run the decoder layers for the layout in rt->b_*; logits of the out rows land in rt->logits */
extern int	LlmForwardDecoder(LlmRuntime *rt, const ComputeBatch *batch, LlmError *err);
/* forward.c: run the encoder for the layout; x holds the last hidden state */
extern int	LlmForwardEncoder(LlmRuntime *rt, const ComputeBatch *batch, LlmError *err);

#endif							/* PGMLOPS_LLM_RUNTIMEINT_H */
