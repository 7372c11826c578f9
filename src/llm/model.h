/*-------------------------------------------------------------------------
 *
 * model.h
 *	  Model directories in Hugging Face layout: configuration, weights
 *	  and the per-architecture binding of tensor names.
 *
 * Loading has three layers:
 *	 - config.c reads config.json (both the transformers-5 "rope_parameters"
 *	   and the older "rope_theta"/"rope_scaling" spellings),
 *	   generation_config.json and the sentence-transformers files
 *	   (modules.json, 1_Pooling/config.json) into an LlmConfig;
 *	 - weights.c maps the weight files read-only and builds a
 *	   format-neutral table name -> LlmTensor (safetensors.c parses
 *	   model.safetensors or a sharded index; a GGUF reader would fill the
 *	   same table);
 *	 - model.c checks every tensor an architecture needs, with its shape,
 *	   and fills LlmModel.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMLOPS_LLM_MODEL_H
#define PGMLOPS_LLM_MODEL_H

#include "llm/llm.h"

/* sizes that bound untrusted input */
#define LLM_MAX_CONFIG_BYTES	(4 * 1024 * 1024)
#define LLM_MAX_HEADER_BYTES	(100 * 1024 * 1024)
#define LLM_MAX_SHARDS			1024
#define LLM_MAX_EOS				8
#define LLM_MAX_LAYERS			1024

typedef enum LlmArch
{
	LLM_ARCH_LLAMA,
	LLM_ARCH_MISTRAL,
	LLM_ARCH_QWEN2,
	LLM_ARCH_BERT
} LlmArch;

typedef enum LlmRopeType
{
	LLM_ROPE_DEFAULT,
	LLM_ROPE_LINEAR,
	LLM_ROPE_LLAMA3
} LlmRopeType;

typedef enum LlmActivation
{
	LLM_ACT_SILU,
	LLM_ACT_GELU,				/* exact (erf) */
	LLM_ACT_GELU_TANH
} LlmActivation;

typedef enum LlmPooling
{
	LLM_POOL_NONE,				/* not a sentence-transformers model */
	LLM_POOL_MEAN,
	LLM_POOL_CLS
} LlmPooling;

typedef struct LlmConfig
{
	LlmArch		arch;
	char		model_type[32];
	int			vocab_size;
	int			hidden_size;
	int			intermediate_size;
	int			n_layers;
	int			n_heads;
	int			n_kv_heads;		/* = n_heads without GQA */
	int			head_dim;		/* hidden_size / n_heads unless given */
	int			max_position;	/* max_position_embeddings */
	float		norm_eps;		/* rms_norm_eps or layer_norm_eps */
	LlmActivation activation;
	bool		tie_embeddings;
	bool		attention_bias; /* q/k/v biases (qwen2: always) */
	bool		mlp_bias;
	int			sliding_window; /* 0: none */

	/* rotary embeddings */
	double		rope_theta;
	LlmRopeType rope_type;
	double		rope_factor;
	double		rope_low_freq_factor;
	double		rope_high_freq_factor;
	int			rope_original_max_position;

	/* encoders */
	int			type_vocab_size;
	LlmPooling	pooling;
	bool		normalize;		/* sentence-transformers Normalize module */

	/* generation_config.json (falls back to config.json) */
	int			bos_id;			/* -1: none */
	int			pad_id;			/* -1: none */
	int			n_eos;
	int			eos_ids[LLM_MAX_EOS];
} LlmConfig;

/* config.c: read config.json and the optional files beside it in dir */
extern int	LlmConfigLoad(const char *dir, LlmConfig *cfg, LlmError *err);

/* config.c: parse one config.json text (the fuzz target) */
extern int	LlmConfigParse(const char *json, size_t len, LlmConfig *cfg, LlmError *err);

/* one named tensor of a weight table */
typedef struct LlmWeightEntry
{
	char	   *name;
	LlmTensor	tensor;			/* data points into a read-only mapping */
} LlmWeightEntry;

typedef struct LlmWeights LlmWeights;	/* opaque: mappings and the table */

/*
 * weights.c: map model.safetensors, or every shard named by
 * model.safetensors.index.json, in dir
 */
extern int	LlmWeightsOpen(const char *dir, LlmWeights **out, LlmError *err);
extern void LlmWeightsClose(LlmWeights *w);
extern int	LlmWeightsCount(const LlmWeights *w);
extern const LlmWeightEntry *LlmWeightsEntry(const LlmWeights *w, int i);
/* NULL when absent */
extern const LlmTensor *LlmWeightsFind(const LlmWeights *w, const char *name);
/*
 * The path of a file that shrank (or failed to read) under its mapping
 * since it was opened: its tensors read as zeros now and every result
 * computed from them is garbage; NULL while all are intact
 */
extern const char *LlmWeightsDamaged(const LlmWeights *w);
/*
 * The path of a mapped file whose size or modification time changed since
 * it was mapped (written in place); NULL while none did
 */
extern const char *LlmWeightsChanged(const LlmWeights *w);

/*
 * safetensors.c: parse the header of one safetensors file held in
 * buf[0..len) (the whole file, as mapped) and append its tensors to a
 * table; the fuzz target calls this on arbitrary bytes
 */
extern int	LlmSafetensorsParse(const uint8_t *buf, size_t len,
								LlmWeightEntry **entries, int *n_entries,
								LlmError *err);

/* per-layer weights; NULL where the architecture has none */
typedef struct LlmLayerWeights
{
	/* decoders (llama, mistral, qwen2) */
	const LlmTensor *attn_norm; /* (hidden) */
	const LlmTensor *wq;		/* (n_heads*head_dim, hidden) */
	const LlmTensor *wk;		/* (n_kv_heads*head_dim, hidden) */
	const LlmTensor *wv;		/* (n_kv_heads*head_dim, hidden) */
	const LlmTensor *wo;		/* (hidden, n_heads*head_dim) */
	const LlmTensor *bq;		/* (n_heads*head_dim) */
	const LlmTensor *bk;		/* (n_kv_heads*head_dim) */
	const LlmTensor *bv;		/* (n_kv_heads*head_dim) */
	const LlmTensor *bo;		/* (hidden) bert */
	const LlmTensor *ffn_norm;	/* (hidden) */
	const LlmTensor *w_gate;	/* (intermediate, hidden) */
	const LlmTensor *w_up;		/* (intermediate, hidden) */
	const LlmTensor *w_down;	/* (hidden, intermediate) */
	/* encoders (bert): post-norms with biases, MLP biases */
	const LlmTensor *attn_norm_b;	/* (hidden) */
	const LlmTensor *ffn_norm_b;	/* (hidden) */
	const LlmTensor *b_up;		/* (intermediate) */
	const LlmTensor *b_down;	/* (hidden) */
} LlmLayerWeights;

typedef struct LlmModel
{
	char	   *dir;
	LlmConfig	cfg;
	LlmWeights *weights;
	const LlmTensor *tok_embed; /* (vocab, hidden) */
	const LlmTensor *pos_embed; /* (max_position, hidden) bert */
	const LlmTensor *type_embed;	/* (type_vocab, hidden) bert */
	const LlmTensor *embed_norm;	/* (hidden) bert */
	const LlmTensor *embed_norm_b;	/* (hidden) bert */
	const LlmTensor *final_norm;	/* (hidden) decoders */
	const LlmTensor *lm_head;	/* (vocab, hidden); = tok_embed when tied */
	LlmLayerWeights *layers;	/* (n_layers) */
} LlmModel;

/* model.c: config, weights and binding; the model owns everything */
extern int	LlmModelLoad(const char *dir, LlmModel **out, LlmError *err);
extern void LlmModelFree(LlmModel *m);

#endif							/* PGMLOPS_LLM_MODEL_H */
