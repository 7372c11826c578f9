// objects: src/llm/config.o src/llm/safetensors.o src/llm/weights.o src/llm/model.o src/llm/llmjson.o src/llm/llmutil.o src/vector/vecdist.o
/*
 * test_model_load.c
 *	  Loading of model directories: config.json in both rope spellings,
 *	  generation_config.json and sentence-transformers modules, the
 *	  safetensors parser, sharded weights and the per-architecture binding,
 *	  on the reference fixtures and on broken copies made in a temporary
 *	  directory.
 *
 * Reference tensor values were read from the fixture files with Python's
 * json and struct modules.
 */
#define _XOPEN_SOURCE 700
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "llm/model.h"
#include "unit.h"

static const char *fixtures;
static char tmpdir[256];

/* path of a fixture model directory */
static const char *
Fixture(const char *name)
{
	static char buf[1024];

	snprintf(buf, sizeof(buf), "%s/%s", fixtures, name);
	return buf;
}

/* first element of a tensor as f32 */
static float
First(const LlmTensor *t, int i)
{
	float		f = 0;

	if (t != NULL)
		LlmToF32(&f, (const char *) t->data + (size_t) i * LlmDTypeSize(t->dtype), t->dtype, 1);
	return f;
}

/* does tensor t have shape (d0[, d1])? */
static int
HasShape(const LlmTensor *t, int64_t d0, int64_t d1)
{
	if (t == NULL)
		return 0;
	if (d1 < 0)
		return t->ndim == 1 && t->shape[0] == d0;
	return t->ndim == 2 && t->shape[0] == d0 && t->shape[1] == d1;
}

/* write len bytes to path */
static void
WriteFile(const char *path, const void *data, size_t len)
{
	FILE	   *f = fopen(path, "wb");

	if (f == NULL)
	{
		printf("cannot write %s\n", path);
		return;
	}
	fwrite(data, 1, len, f);
	fclose(f);
}

/* write a string to dir/name */
static void
WriteText(const char *dir, const char *name, const char *text)
{
	char		path[1024];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	WriteFile(path, text, strlen(text));
}

/* read a whole file (test helper; NULL on failure) */
static char *
ReadAll(const char *path, size_t *len)
{
	char	   *data = NULL;
	LlmError	err;

	if (LlmReadFile(path, 64 << 20, &data, len, &err) != LLM_OK)
		return NULL;
	return data;
}

/* copy src_dir/name to dst_dir/name */
static void
CopyFile(const char *src_dir, const char *dst_dir, const char *name)
{
	char		path[1024];
	size_t		len;
	char	   *data;

	snprintf(path, sizeof(path), "%s/%s", src_dir, name);
	data = ReadAll(path, &len);
	if (data == NULL)
		return;
	snprintf(path, sizeof(path), "%s/%s", dst_dir, name);
	WriteFile(path, data, len);
	free(data);
}

/* make tmpdir/name and return its path */
static const char *
MakeDir(const char *name)
{
	static char bufs[4][1024];
	static int	next = 0;
	char	   *buf = bufs[next++ % 4];

	snprintf(buf, 1024, "%s/%s", tmpdir, name);
	mkdir(buf, 0700);
	return buf;
}

/*
 * safetensors file: 8-byte length, header text, data; hlen 0: the header
 * padded with spaces to a multiple of 8 bytes, as writers do
 */
static void
WriteRaw(const char *path, uint64_t hlen, const char *header, const void *data,
		 size_t data_len)
{
	size_t		h = strlen(header);
	uint8_t    *buf;

	if (hlen == 0)
		hlen = h = (h + 7) & ~(size_t) 7;
	buf = malloc(8 + h + data_len);
	memset(buf, ' ', 8 + h);
	for (int i = 0; i < 8; i++)
		buf[i] = (uint8_t) (hlen >> (8 * i));
	memcpy(buf + 8, header, strlen(header));
	if (data_len > 0)
		memcpy(buf + 8 + h, data, data_len);
	WriteFile(path, buf, 8 + h + data_len);
	free(buf);
}

/*
 * Write the tensors of w whose index i satisfies i % mod == rem (mod 0:
 * all, except the one named skip) as a safetensors file
 */
static void
WriteSubset(const char *path, const LlmWeights *w, int mod, int rem,
			const char *skip)
{
	size_t		cap = 1 << 16;
	char	   *hdr = malloc(cap);
	size_t		hl = 0;
	uint64_t	off = 0;
	uint8_t    *data = NULL;
	size_t		padded = 0;
	int			n = LlmWeightsCount(w);

	hl += snprintf(hdr + hl, cap - hl, "{\"__metadata__\":{\"format\":\"pt\"}");
	for (int pass = 0; pass < 2; pass++)
	{
		if (pass == 1)
		{
			hl += snprintf(hdr + hl, cap - hl, "}");
			padded = (hl + 7) & ~(size_t) 7;
			memset(hdr + hl, ' ', padded - hl);
			hdr[padded] = '\0';
			data = calloc(1, 8 + padded + off);
			for (int i = 0; i < 8; i++)
				data[i] = (uint8_t) ((uint64_t) padded >> (8 * i));
			memcpy(data + 8, hdr, padded);
			off = 0;
		}
		for (int i = 0; i < n; i++)
		{
			const LlmWeightEntry *e = LlmWeightsEntry(w, i);
			size_t		bytes = (size_t) LlmTensorCount(&e->tensor) * LlmDTypeSize(e->tensor.dtype);

			if ((mod > 0 && i % mod != rem) || (skip && strcmp(e->name, skip) == 0))
				continue;
			if (pass == 0)
			{
				hl += snprintf(hdr + hl, cap - hl,
							   ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", e->name,
							   LlmDTypeName(e->tensor.dtype));
				for (int d = 0; d < e->tensor.ndim; d++)
					hl += snprintf(hdr + hl, cap - hl, "%s%lld", d ? "," : "",
								   (long long) e->tensor.shape[d]);
				hl += snprintf(hdr + hl, cap - hl, "],\"data_offsets\":[%llu,%llu]}",
							   (unsigned long long) off, (unsigned long long) (off + bytes));
			}
			else
				memcpy(data + 8 + padded + off, e->tensor.data, bytes);
			off += (bytes + 7) & ~(size_t) 7;
		}
	}
	WriteFile(path, data, 8 + padded + off);
	free(data);
	free(hdr);
}

/* compare two LlmConfigs field by field */
static int
ConfigEqual(const LlmConfig *a, const LlmConfig *b)
{
	return a->arch == b->arch && strcmp(a->model_type, b->model_type) == 0 &&
		a->vocab_size == b->vocab_size && a->hidden_size == b->hidden_size &&
		a->intermediate_size == b->intermediate_size && a->n_layers == b->n_layers &&
		a->n_heads == b->n_heads && a->n_kv_heads == b->n_kv_heads &&
		a->head_dim == b->head_dim && a->max_position == b->max_position &&
		a->norm_eps == b->norm_eps && a->activation == b->activation &&
		a->tie_embeddings == b->tie_embeddings && a->attention_bias == b->attention_bias &&
		a->mlp_bias == b->mlp_bias && a->sliding_window == b->sliding_window &&
		a->rope_theta == b->rope_theta && a->rope_type == b->rope_type &&
		a->rope_factor == b->rope_factor &&
		a->rope_low_freq_factor == b->rope_low_freq_factor &&
		a->rope_high_freq_factor == b->rope_high_freq_factor &&
		a->rope_original_max_position == b->rope_original_max_position &&
		a->type_vocab_size == b->type_vocab_size && a->pooling == b->pooling &&
		a->normalize == b->normalize && a->bos_id == b->bos_id &&
		a->pad_id == b->pad_id && a->n_eos == b->n_eos &&
		memcmp(a->eos_ids, b->eos_ids, sizeof(int) * a->n_eos) == 0;
}

/* config.json and config_legacy.json of a fixture parse to the same config */
static void
TestLegacyConfig(const char *name)
{
	char		path[1024];
	char	   *a;
	char	   *b;
	size_t		la;
	size_t		lb;
	LlmConfig	ca;
	LlmConfig	cb;
	LlmError	err;

	snprintf(path, sizeof(path), "%s/config.json", Fixture(name));
	a = ReadAll(path, &la);
	snprintf(path, sizeof(path), "%s/config_legacy.json", Fixture(name));
	b = ReadAll(path, &lb);
	CHECK(a != NULL && b != NULL);
	if (a == NULL || b == NULL)
		return;
	CHECK(LlmConfigParse(a, la, &ca, &err) == LLM_OK);
	CHECK(LlmConfigParse(b, lb, &cb, &err) == LLM_OK);
	CHECK(ConfigEqual(&ca, &cb));
	free(a);
	free(b);
}

/* load a fixture model, failing the test if it does not load */
static LlmModel *
Load(const char *name)
{
	LlmModel   *m = NULL;
	LlmError	err = {0};
	int			rc = LlmModelLoad(Fixture(name), &m, &err);

	CHECK(rc == LLM_OK);
	if (rc != LLM_OK)
		printf("  %s: %s\n", name, err.message);
	return m;
}

/* the decoder fixtures */
static void
TestDecoders(void)
{
	LlmModel   *m;
	const LlmConfig *c;

	m = Load("llama-tiny-f32");
	if (m)
	{
		c = &m->cfg;
		CHECK(c->arch == LLM_ARCH_LLAMA && strcmp(c->model_type, "llama") == 0);
		CHECK(c->vocab_size == 512 && c->hidden_size == 64 && c->intermediate_size == 176);
		CHECK(c->n_layers == 2 && c->n_heads == 4 && c->n_kv_heads == 2 && c->head_dim == 16);
		CHECK(c->max_position == 256 && c->activation == LLM_ACT_SILU);
		CHECK_NEAR(c->norm_eps, 1e-5, 1e-9);
		CHECK(!c->tie_embeddings && !c->attention_bias && !c->mlp_bias && c->sliding_window == 0);
		CHECK(c->rope_type == LLM_ROPE_DEFAULT && c->rope_theta == 10000.0);
		CHECK(c->bos_id == 1 && c->pad_id == -1 && c->n_eos == 1 && c->eos_ids[0] == 2);
		CHECK(c->pooling == LLM_POOL_NONE && !c->normalize);
		CHECK(m->lm_head != m->tok_embed);
		CHECK(HasShape(m->tok_embed, 512, 64) && HasShape(m->lm_head, 512, 64));
		CHECK(HasShape(m->layers[0].wk, 32, 64) && HasShape(m->layers[1].wo, 64, 64));
		CHECK(HasShape(m->layers[1].w_down, 64, 176) && HasShape(m->final_norm, 64, -1));
		CHECK(m->layers[0].bq == NULL && m->layers[0].bo == NULL && m->pos_embed == NULL);
		CHECK(m->tok_embed->dtype == LLM_DTYPE_F32);
		CHECK(First(m->tok_embed, 0) == 0.044580843299627304f);
		CHECK(First(m->tok_embed, 5) == -0.20091870427131653f);
		CHECK(First(m->lm_head, 0) == -0.06180897727608681f);
		CHECK(First(m->layers[1].w_down, 0) == -0.0178687684237957f);
		CHECK(LlmWeightsCount(m->weights) == 21);
		CHECK(LlmWeightsEntry(m->weights, -1) == NULL && LlmWeightsEntry(m->weights, 21) == NULL);
		CHECK(LlmWeightsFind(m->weights, "model.layers.2.mlp.up_proj.weight") == NULL);
		CHECK(LlmWeightsFind(m->weights, "model.norm.weight") == m->final_norm);
		LlmModelFree(m);
	}

	m = Load("llama-tiny-bf16");
	if (m)
	{
		CHECK(m->layers[0].wq->dtype == LLM_DTYPE_BF16);
		CHECK(HasShape(m->layers[0].wq, 64, 64));
		CHECK(First(m->layers[0].wq, 0) == -0.138671875f);
		CHECK(First(m->layers[0].wq, 5) == 0.0927734375f);
		LlmModelFree(m);
	}

	m = Load("llama3-tiny-f32");
	if (m)
	{
		c = &m->cfg;
		CHECK(c->rope_type == LLM_ROPE_LLAMA3 && c->rope_theta == 500000.0);
		CHECK(c->rope_factor == 8.0 && c->rope_low_freq_factor == 1.0 &&
			  c->rope_high_freq_factor == 4.0 && c->rope_original_max_position == 16);
		CHECK(c->max_position == 512 && c->tie_embeddings);
		CHECK(m->lm_head == m->tok_embed);
		CHECK(LlmWeightsFind(m->weights, "lm_head.weight") == NULL);
		CHECK(First(m->final_norm, 0) == 0.9176098108291626f);
		LlmModelFree(m);
	}

	m = Load("qwen2-tiny-f32");
	if (m)
	{
		c = &m->cfg;
		CHECK(c->arch == LLM_ARCH_QWEN2 && c->attention_bias && c->tie_embeddings);
		CHECK(c->rope_theta == 1000000.0 && c->sliding_window == 0);
		CHECK_NEAR(c->norm_eps, 1e-6, 1e-9);
		CHECK(c->bos_id == -1 && c->n_eos == 0 && c->pad_id == -1);
		CHECK(HasShape(m->layers[1].bq, 64, -1) && HasShape(m->layers[1].bk, 32, -1) &&
			  HasShape(m->layers[1].bv, 32, -1));
		CHECK(m->layers[1].bo == NULL);
		CHECK(First(m->layers[1].bk, 0) == 0.03806724771857262f);
		CHECK(First(m->layers[1].bk, 5) == -0.09030886739492416f);
		CHECK(m->lm_head == m->tok_embed);
		LlmModelFree(m);
	}

	m = Load("mistral-tiny-f32");
	if (m)
	{
		c = &m->cfg;
		CHECK(c->arch == LLM_ARCH_MISTRAL && c->sliding_window == 0 && !c->tie_embeddings);
		CHECK(First(m->layers[0].wv, 0) == -0.054702747613191605f);
		CHECK(m->lm_head != m->tok_embed);
		LlmModelFree(m);
	}

	TestLegacyConfig("llama-tiny-f32");
	TestLegacyConfig("llama-tiny-bf16");
	TestLegacyConfig("llama3-tiny-f32");
	TestLegacyConfig("qwen2-tiny-f32");
	TestLegacyConfig("mistral-tiny-f32");
}

/* the sentence-transformers fixtures */
static void
TestEncoders(void)
{
	LlmModel   *m;
	const LlmConfig *c;

	m = Load("bert-tiny-mean");
	if (m)
	{
		c = &m->cfg;
		CHECK(c->arch == LLM_ARCH_BERT && strcmp(c->model_type, "bert") == 0);
		CHECK(c->pooling == LLM_POOL_MEAN && c->normalize);
		CHECK(c->vocab_size == 1000 && c->hidden_size == 64 && c->intermediate_size == 128);
		CHECK(c->n_heads == 4 && c->n_kv_heads == 4 && c->head_dim == 16);
		CHECK(c->max_position == 64 && c->type_vocab_size == 2);
		CHECK(c->activation == LLM_ACT_GELU && c->pad_id == 0);
		CHECK_NEAR(c->norm_eps, 1e-12, 1e-15);
		CHECK(HasShape(m->tok_embed, 1000, 64) && HasShape(m->pos_embed, 64, 64) &&
			  HasShape(m->type_embed, 2, 64));
		CHECK(HasShape(m->embed_norm, 64, -1) && HasShape(m->embed_norm_b, 64, -1));
		CHECK(m->lm_head == NULL && m->final_norm == NULL);
		for (int l = 0; l < 2; l++)
		{
			const LlmLayerWeights *L = &m->layers[l];

			CHECK(HasShape(L->wq, 64, 64) && HasShape(L->bq, 64, -1) &&
				  HasShape(L->wk, 64, 64) && HasShape(L->bk, 64, -1) &&
				  HasShape(L->wv, 64, 64) && HasShape(L->bv, 64, -1) &&
				  HasShape(L->wo, 64, 64) && HasShape(L->bo, 64, -1));
			CHECK(HasShape(L->attn_norm, 64, -1) && HasShape(L->attn_norm_b, 64, -1) &&
				  HasShape(L->ffn_norm, 64, -1) && HasShape(L->ffn_norm_b, 64, -1));
			CHECK(HasShape(L->w_up, 128, 64) && HasShape(L->b_up, 128, -1) &&
				  HasShape(L->w_down, 64, 128) && HasShape(L->b_down, 64, -1));
			CHECK(L->w_gate == NULL);
		}
		CHECK(First(m->layers[1].wq, 0) == 0.03732971101999283f);
		CHECK(First(m->layers[1].wq, 5) == 0.1532782018184662f);
		CHECK(First(m->pos_embed, 0) == -0.026556093245744705f);
		CHECK(First(m->layers[0].ffn_norm, 0) == 1.0f);
		LlmModelFree(m);
	}

	m = Load("bert-tiny-cls");
	if (m)
	{
		CHECK(m->cfg.pooling == LLM_POOL_CLS && m->cfg.normalize);
		CHECK(First(m->tok_embed, 0) == 0.10945262759923935f);
		CHECK(First(m->tok_embed, 5) == -0.04896606504917145f);
		LlmModelFree(m);
	}
}

/* parse a config text, returning the status */
static int
Parse(const char *json, LlmConfig *cfg, LlmError *err)
{
	return LlmConfigParse(json, strlen(json), cfg, err);
}

#define BASE "\"vocab_size\": 100, \"hidden_size\": 64, \"intermediate_size\": 128, " \
	"\"num_hidden_layers\": 2, \"num_attention_heads\": 4"

/* LlmConfigParse on hand-written configs */
static void
TestConfigParse(void)
{
	LlmConfig	c;
	LlmError	err = {0};

	CHECK(Parse("{\"model_type\": \"gpt2\", " BASE "}", &c, &err) == LLM_ERR_UNSUPPORTED);
	CHECK(strcmp(err.message, "unsupported architecture \"gpt2\"") == 0);
	CHECK(Parse("{\"architectures\": [\"GPT2LMHeadModel\"], " BASE "}", &c, &err) == LLM_ERR_UNSUPPORTED);
	CHECK(strstr(err.message, "\"GPT2LMHeadModel\"") != NULL);
	CHECK(Parse("{" BASE "}", &c, &err) == LLM_ERR_FORMAT);
	CHECK(Parse("{\"architectures\": [\"Qwen2ForCausalLM\"], " BASE "}", &c, &err) == LLM_OK);
	CHECK(c.arch == LLM_ARCH_QWEN2 && c.attention_bias && strcmp(c.model_type, "qwen2") == 0);
	CHECK(c.n_kv_heads == 4 && c.head_dim == 16 && c.rope_theta == 10000.0);

	/* defaults */
	CHECK(Parse("{\"model_type\": \"llama\", " BASE "}", &c, &err) == LLM_OK);
	CHECK(c.bos_id == -1 && c.n_eos == 0 && c.rope_type == LLM_ROPE_DEFAULT);
	CHECK(c.max_position == 2048 && !c.tie_embeddings && c.activation == LLM_ACT_SILU);

	/* rope spellings */
	CHECK(Parse("{\"model_type\": \"llama\", " BASE ", \"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0}}",
				&c, &err) == LLM_OK);
	CHECK(c.rope_type == LLM_ROPE_LINEAR && c.rope_factor == 2.0);
	CHECK(Parse("{\"model_type\": \"llama\", " BASE ", \"rope_scaling\": {\"type\": \"dynamic\", \"factor\": 2.0}}",
				&c, &err) == LLM_ERR_UNSUPPORTED);
	CHECK(strstr(err.message, "dynamic") != NULL);
	CHECK(Parse("{\"model_type\": \"llama\", " BASE ", \"rope_parameters\": {\"rope_type\": \"yarn\", \"factor\": 4.0, \"rope_theta\": 1e6}}",
				&c, &err) == LLM_ERR_UNSUPPORTED);
	CHECK(Parse("{\"model_type\": \"llama\", " BASE ", \"rope_theta\": 5e5, \"rope_scaling\": null}",
				&c, &err) == LLM_OK);
	CHECK(c.rope_theta == 5e5 && c.rope_type == LLM_ROPE_DEFAULT);
	CHECK(Parse("{\"model_type\": \"llama\", " BASE ", \"rope_theta\": -1}", &c, &err) == LLM_ERR_FORMAT);
	CHECK(Parse("{\"model_type\": \"llama\", " BASE ", \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8, "
				"\"low_freq_factor\": 4, \"high_freq_factor\": 1}}", &c, &err) == LLM_ERR_FORMAT);
	CHECK(Parse("{\"model_type\": \"llama\", " BASE ", \"rope_scaling\": 3}", &c, &err) == LLM_ERR_FORMAT);

	/* sizes */
	CHECK(Parse("{\"model_type\": \"llama\", " BASE ", \"num_key_value_heads\": 3}", &c, &err) == LLM_ERR_FORMAT);
	CHECK(Parse("{\"model_type\": \"llama\", " BASE ", \"num_key_value_heads\": 8}", &c, &err) == LLM_ERR_FORMAT);
	CHECK(Parse("{\"model_type\": \"llama\", " BASE ", \"num_key_value_heads\": 1, \"head_dim\": 32}", &c, &err) == LLM_OK);
	CHECK(c.n_kv_heads == 1 && c.head_dim == 32);
	CHECK(Parse("{\"model_type\": \"llama\", \"vocab_size\": 100, \"hidden_size\": 65, \"intermediate_size\": 128, "
				"\"num_hidden_layers\": 2, \"num_attention_heads\": 4}", &c, &err) == LLM_ERR_FORMAT);
	CHECK(Parse("{\"model_type\": \"llama\", \"vocab_size\": 100, \"hidden_size\": 64, \"intermediate_size\": 128, "
				"\"num_hidden_layers\": 2000, \"num_attention_heads\": 4}", &c, &err) == LLM_ERR_FORMAT);
	CHECK(Parse("{\"model_type\": \"llama\", \"vocab_size\": 0, \"hidden_size\": 64, \"intermediate_size\": 128, "
				"\"num_hidden_layers\": 2, \"num_attention_heads\": 4}", &c, &err) == LLM_ERR_FORMAT);
	CHECK(Parse("{\"model_type\": \"llama\", \"vocab_size\": 100, \"hidden_size\": 64, \"intermediate_size\": 99999999, "
				"\"num_hidden_layers\": 2, \"num_attention_heads\": 4}", &c, &err) == LLM_ERR_FORMAT);
	CHECK(Parse("{\"model_type\": \"llama\", \"vocab_size\": 100, \"hidden_size\": \"64\", \"intermediate_size\": 128, "
				"\"num_hidden_layers\": 2, \"num_attention_heads\": 4}", &c, &err) == LLM_ERR_FORMAT);
	CHECK(Parse("{\"model_type\": \"llama\", \"hidden_size\": 64, \"intermediate_size\": 128, "
				"\"num_hidden_layers\": 2, \"num_attention_heads\": 4}", &c, &err) == LLM_ERR_FORMAT);
	CHECK(strstr(err.message, "vocab_size") != NULL);
	CHECK(Parse("{\"model_type\": \"llama\", " BASE ", \"num_attention_heads\": 4}", &c, &err) == LLM_ERR_FORMAT);

	/* token ids */
	CHECK(Parse("{\"model_type\": \"llama\", " BASE ", \"eos_token_id\": [2, 7], \"bos_token_id\": 0, \"pad_token_id\": -1}",
				&c, &err) == LLM_OK);
	CHECK(c.n_eos == 2 && c.eos_ids[0] == 2 && c.eos_ids[1] == 7 && c.bos_id == 0 && c.pad_id == -1);
	CHECK(Parse("{\"model_type\": \"llama\", " BASE ", \"eos_token_id\": [1,2,3,4,5,6,7,8,9]}", &c, &err) == LLM_ERR_FORMAT);
	CHECK(Parse("{\"model_type\": \"llama\", " BASE ", \"eos_token_id\": \"2\"}", &c, &err) == LLM_ERR_FORMAT);
	CHECK(Parse("{\"model_type\": \"llama\", " BASE ", \"bos_token_id\": [1]}", &c, &err) == LLM_ERR_FORMAT);

	/* activations, sliding windows */
	CHECK(Parse("{\"model_type\": \"llama\", " BASE ", \"hidden_act\": \"relu\"}", &c, &err) == LLM_ERR_UNSUPPORTED);
	CHECK(Parse("{\"model_type\": \"llama\", " BASE ", \"hidden_act\": \"gelu_pytorch_tanh\"}", &c, &err) == LLM_OK);
	CHECK(c.activation == LLM_ACT_GELU_TANH);
	CHECK(Parse("{\"model_type\": \"mistral\", " BASE ", \"sliding_window\": 4096}", &c, &err) == LLM_OK);
	CHECK(c.sliding_window == 4096);
	CHECK(Parse("{\"model_type\": \"mistral\", " BASE "}", &c, &err) == LLM_OK);
	CHECK(c.sliding_window == 4096 && c.max_position == 131072);
	CHECK(Parse("{\"model_type\": \"mistral\", " BASE ", \"sliding_window\": null}", &c, &err) == LLM_OK);
	CHECK(c.sliding_window == 0);
	CHECK(Parse("{\"model_type\": \"mistral\", " BASE ", \"sliding_window\": 4096, \"use_sliding_window\": false}",
				&c, &err) == LLM_OK);
	CHECK(c.sliding_window == 0);
	CHECK(Parse("{\"model_type\": \"qwen2\", " BASE ", \"sliding_window\": 128, \"use_sliding_window\": true, "
				"\"max_window_layers\": 0}", &c, &err) == LLM_OK);
	CHECK(c.sliding_window == 128);
	CHECK(Parse("{\"model_type\": \"qwen2\", " BASE ", \"sliding_window\": 128, \"use_sliding_window\": true, "
				"\"max_window_layers\": 28}", &c, &err) == LLM_OK);
	CHECK(c.sliding_window == 0);
	CHECK(Parse("{\"model_type\": \"qwen2\", " BASE ", \"sliding_window\": 128, \"use_sliding_window\": true, "
				"\"max_window_layers\": 1}", &c, &err) == LLM_ERR_UNSUPPORTED);
	/* qwen2: no window unless use_sliding_window says so; layer_types decides which layers */
	CHECK(Parse("{\"model_type\": \"qwen2\", " BASE ", \"sliding_window\": 128, \"max_window_layers\": 0}",
				&c, &err) == LLM_OK);
	CHECK(c.sliding_window == 0);
	CHECK(Parse("{\"model_type\": \"qwen2\", " BASE ", \"sliding_window\": 128, \"use_sliding_window\": true, "
				"\"layer_types\": [\"sliding_attention\", \"sliding_attention\"]}", &c, &err) == LLM_OK);
	CHECK(c.sliding_window == 128);
	CHECK(Parse("{\"model_type\": \"qwen2\", " BASE ", \"sliding_window\": 128, \"use_sliding_window\": true, "
				"\"layer_types\": [\"full_attention\", \"full_attention\"]}", &c, &err) == LLM_OK);
	CHECK(c.sliding_window == 0);
	CHECK(Parse("{\"model_type\": \"qwen2\", " BASE ", \"sliding_window\": 128, \"use_sliding_window\": true, "
				"\"layer_types\": [\"full_attention\", \"sliding_attention\"]}", &c, &err) == LLM_ERR_UNSUPPORTED);
	/* rotary embeddings need an even head_dim */
	CHECK(Parse("{\"model_type\": \"llama\", " BASE ", \"head_dim\": 15}", &c, &err) == LLM_ERR_FORMAT);
	CHECK(strstr(err.message, "odd") != NULL);

	/* bert */
	CHECK(Parse("{\"model_type\": \"bert\", " BASE ", \"hidden_act\": \"gelu_new\", \"type_vocab_size\": 1}",
				&c, &err) == LLM_OK);
	CHECK(c.activation == LLM_ACT_GELU_TANH && c.type_vocab_size == 1 && c.max_position == 512);
	CHECK(Parse("{\"model_type\": \"bert\", " BASE ", \"position_embedding_type\": \"relative_key\"}",
				&c, &err) == LLM_ERR_UNSUPPORTED);

	/* not JSON, not an object */
	CHECK(Parse("{\"model_type\": \"llama\", ", &c, &err) == LLM_ERR_FORMAT);
	CHECK(Parse("[1, 2]", &c, &err) == LLM_ERR_FORMAT);
	CHECK(LlmConfigParse("", 0, &c, &err) == LLM_ERR_FORMAT);
}

/* generation_config.json and sentence-transformers files */
static void
TestConfigLoad(void)
{
	const char *d;
	LlmConfig	c;
	LlmError	err = {0};

	d = MakeDir("gen");
	WriteText(d, "config.json", "{\"model_type\": \"llama\", " BASE ", \"eos_token_id\": 2, \"bos_token_id\": 1}");
	WriteText(d, "generation_config.json", "{\"eos_token_id\": [5, 6], \"bos_token_id\": 9}");
	CHECK(LlmConfigLoad(d, &c, &err) == LLM_OK);
	CHECK(c.bos_id == 9 && c.n_eos == 2 && c.eos_ids[0] == 5 && c.eos_ids[1] == 6);
	CHECK(c.pooling == LLM_POOL_NONE);
	WriteText(d, "generation_config.json", "{\"eos_token_id\": ");
	CHECK(LlmConfigLoad(d, &c, &err) == LLM_ERR_FORMAT);
	CHECK(strstr(err.message, "generation_config.json") != NULL);

	d = MakeDir("st");
	WriteText(d, "config.json", "{\"model_type\": \"bert\", " BASE "}");
	WriteText(d, "modules.json",
			  "[{\"type\": \"sentence_transformers.models.Transformer\", \"path\": \"\"},"
			  " {\"type\": \"sentence_transformers.models.Pooling\", \"path\": \"1_Pooling\"}]");
	MakeDir("st/1_Pooling");
	WriteText(d, "1_Pooling/config.json",
			  "{\"pooling_mode_cls_token\": true, \"pooling_mode_mean_tokens\": false}");
	CHECK(LlmConfigLoad(d, &c, &err) == LLM_OK);
	CHECK(c.pooling == LLM_POOL_CLS && !c.normalize);
	WriteText(d, "1_Pooling/config.json", "{\"pooling_mode\": \"max\"}");
	CHECK(LlmConfigLoad(d, &c, &err) == LLM_ERR_UNSUPPORTED);
	WriteText(d, "1_Pooling/config.json", "{\"pooling_mode_max_tokens\": true}");
	CHECK(LlmConfigLoad(d, &c, &err) == LLM_ERR_UNSUPPORTED);
	WriteText(d, "modules.json",
			  "[{\"type\": \"sentence_transformers.models.Pooling\", \"path\": \"../st/1_Pooling\"}]");
	CHECK(LlmConfigLoad(d, &c, &err) == LLM_ERR_FORMAT);
	WriteText(d, "modules.json",
			  "[{\"type\": \"sentence_transformers.models.Dense\", \"path\": \"2_Dense\"}]");
	CHECK(LlmConfigLoad(d, &c, &err) == LLM_ERR_UNSUPPORTED);
	WriteText(d, "modules.json", "{}");
	CHECK(LlmConfigLoad(d, &c, &err) == LLM_ERR_FORMAT);

	CHECK(LlmConfigLoad(MakeDir("empty"), &c, &err) == LLM_ERR_IO);
}

/* LlmSafetensorsParse on a header and data held in memory */
static int
ParseST(const char *header, uint64_t hlen, size_t data_len, int *n_out, LlmError *err)
{
	size_t		h = (strlen(header) + 7) & ~(size_t) 7;
	uint8_t    *buf = aligned_alloc(64, (8 + h + data_len + 63) & ~(size_t) 63);
	LlmWeightEntry *entries = NULL;
	int			n = 0;
	int			rc;

	if (hlen == 0)
		hlen = h;
	for (int i = 0; i < 8; i++)
		buf[i] = (uint8_t) (hlen >> (8 * i));
	memset(buf + 8, ' ', h);
	memcpy(buf + 8, header, strlen(header));
	memset(buf + 8 + h, 0, data_len);
	rc = LlmSafetensorsParse(buf, 8 + h + data_len, &entries, &n, err);
	if (n_out)
		*n_out = n;
	for (int i = 0; i < n; i++)
		free(entries[i].name);
	free(entries);
	free(buf);
	return rc;
}

#define ST(hdr, data_len, n, err) ParseST((hdr), 0, (data_len), (n), (err))

/* the safetensors parser on good and broken headers */
static void
TestSafetensors(void)
{
	LlmError	err = {0};
	int			n;
	uint8_t		buf[64];
	LlmWeightEntry *entries = NULL;
	int			n_entries = 0;
	const char *good = "{\"__metadata__\": {\"format\": \"pt\"}, "
		"\"a\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 24]}, "
		"\"b\": {\"dtype\": \"BF16\", \"shape\": [3], \"data_offsets\": [24, 30]}, "
		"\"c\": {\"dtype\": \"F16\", \"shape\": [], \"data_offsets\": [30, 32]}, "
		"\"z\": {\"dtype\": \"F32\", \"shape\": [0, 4], \"data_offsets\": [32, 32]}}    ";

	CHECK(ST(good, 32, &n, &err) == LLM_OK && n == 4);
	CHECK(ST(good, 31, &n, &err) == LLM_ERR_FORMAT);	/* "z" and "c" past the end */
	CHECK(ST("{}", 0, &n, &err) == LLM_OK && n == 0);
	CHECK(ParseST("{}", 2, 0, &n, &err) == LLM_OK && n == 0);
	CHECK(ParseST("{}", 100, 0, &n, &err) == LLM_ERR_FORMAT);	/* header length beyond file */
	CHECK(strstr(err.message, "past the end") != NULL);
	CHECK(ParseST("{}", (uint64_t) LLM_MAX_HEADER_BYTES + 1, 0, &n, &err) == LLM_ERR_FORMAT);
	CHECK(ParseST("{}", UINT64_MAX, 0, &n, &err) == LLM_ERR_FORMAT);
	CHECK(ST("{\"a\": {\"dtype\": \"F32\", ", 0, &n, &err) == LLM_ERR_FORMAT);	/* bad JSON */
	CHECK(ST("[1]", 0, &n, &err) == LLM_ERR_FORMAT);
	CHECK(ST("{\"a\": 1}", 0, &n, &err) == LLM_ERR_FORMAT);
	CHECK(ST("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}", 4, &n, &err)
		  == LLM_ERR_FORMAT);	/* offsets out of range */
	CHECK(strstr(err.message, "\"a\"") != NULL);
	CHECK(ST("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [8, 4]}}", 16, &n, &err)
		  == LLM_ERR_FORMAT);
	CHECK(ST("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [-8, 0]}}", 16, &n, &err)
		  == LLM_ERR_FORMAT);
	CHECK(ST("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0]}}", 16, &n, &err)
		  == LLM_ERR_FORMAT);
	CHECK(ST("{\"a\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 8]}}", 16, &n, &err)
		  == LLM_ERR_FORMAT);	/* shape/size mismatch */
	CHECK(ST("{\"a\": {\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296], \"data_offsets\": [0, 0]}}",
			 16, &n, &err) == LLM_ERR_FORMAT);
	CHECK(ST("{\"a\": {\"dtype\": \"F32\", \"shape\": [-2], \"data_offsets\": [0, 8]}}", 16, &n, &err)
		  == LLM_ERR_FORMAT);
	CHECK(ST("{\"a\": {\"dtype\": \"F32\", \"shape\": [2.0], \"data_offsets\": [0, 8]}}", 16, &n, &err)
		  == LLM_ERR_FORMAT);
	CHECK(ST("{\"a\": {\"dtype\": \"F32\", \"shape\": [1,1,1,1,2], \"data_offsets\": [0, 8]}}", 16, &n, &err)
		  == LLM_ERR_UNSUPPORTED);
	CHECK(ST("{\"w8\": {\"dtype\": \"I8\", \"shape\": [2], \"data_offsets\": [0, 2]}}", 16, &n, &err)
		  == LLM_ERR_UNSUPPORTED);
	CHECK(strstr(err.message, "\"w8\"") != NULL && strstr(err.message, "I8") != NULL);
	CHECK(ST("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [2, 10]}}", 16, &n, &err)
		  == LLM_ERR_FORMAT);	/* misaligned */
	CHECK(strstr(err.message, "aligned") != NULL);
	CHECK(ST("{\"a\": {\"shape\": [2], \"data_offsets\": [0, 8]}}", 16, &n, &err) == LLM_ERR_FORMAT);

	/* appending; a failure leaves the table as it was */
	memset(buf, 0, sizeof(buf));
	{
		const char *h = "{\"x\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}";
		const char *bad = "{\"y\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}, "
			"\"q\": {\"dtype\": \"F32\", \"shape\": [9], \"data_offsets\": [0, 8]}}";
		uint8_t    *f = aligned_alloc(64, 256);

		for (int pass = 0; pass < 3; pass++)
		{
			const char *hh = pass == 1 ? bad : h;
			size_t		hl = (strlen(hh) + 7) & ~(size_t) 7;

			memset(f, ' ', 256);
			for (int i = 0; i < 8; i++)
				f[i] = (uint8_t) ((uint64_t) hl >> (8 * i));
			memcpy(f + 8, hh, strlen(hh));
			memset(f + 8 + hl, 0, 8);
			CHECK(LlmSafetensorsParse(f, 8 + hl + 8, &entries, &n_entries, &err) ==
				  (pass == 1 ? LLM_ERR_FORMAT : LLM_OK));
		}
		CHECK(n_entries == 2 && strcmp(entries[0].name, "x") == 0 &&
			  strcmp(entries[1].name, "x") == 0);
		for (int i = 0; i < n_entries; i++)
			free(entries[i].name);
		free(entries);
		free(f);
	}
	CHECK(LlmSafetensorsParse(buf, 5, &entries, &n_entries, &err) == LLM_ERR_FORMAT);
}

/* a directory holding a copy of llama-tiny-f32's config files */
static const char *
LlamaCopy(const char *name)
{
	const char *d = MakeDir(name);

	CopyFile(Fixture("llama-tiny-f32"), d, "config.json");
	CopyFile(Fixture("llama-tiny-f32"), d, "generation_config.json");
	return d;
}

/* load dir, expecting status rc and (if msg) a message containing msg */
static void
ExpectLoad(const char *dir, int rc, const char *msg)
{
	LlmModel   *m = NULL;
	LlmError	err = {0};
	int			got = LlmModelLoad(dir, &m, &err);

	CHECK(got == rc);
	CHECK(msg == NULL || strstr(err.message, msg) != NULL);
	if (got != rc || (msg && strstr(err.message, msg) == NULL))
		printf("  %s: got %d \"%s\"\n", dir, got, err.message);
	CHECK((m != NULL) == (rc == LLM_OK));
	LlmModelFree(m);
}

/* broken model directories */
static void
TestModelErrors(const LlmWeights *ref)
{
	char		path[1024];
	char	   *data;
	size_t		len;
	const char *d;

	/* truncated weights */
	d = LlamaCopy("truncated");
	snprintf(path, sizeof(path), "%s/model.safetensors", Fixture("llama-tiny-f32"));
	data = ReadAll(path, &len);
	snprintf(path, sizeof(path), "%s/model.safetensors", d);
	WriteFile(path, data, len / 2);
	ExpectLoad(d, LLM_ERR_FORMAT, "outside");
	WriteFile(path, data, 1000);
	ExpectLoad(d, LLM_ERR_FORMAT, "past the end");
	WriteFile(path, data, 4);
	ExpectLoad(d, LLM_ERR_FORMAT, "too short");
	free(data);

	/* header broken in several ways */
	d = LlamaCopy("header");
	snprintf(path, sizeof(path), "%s/model.safetensors", d);
	WriteRaw(path, 1000, "{\"a\": {\"dtype\": \"F32\", \"sha", NULL, 0);
	ExpectLoad(d, LLM_ERR_FORMAT, "past the end");
	WriteRaw(path, 26, "{\"a\": {\"dtype\": \"F32\", \"sh", NULL, 0);
	ExpectLoad(d, LLM_ERR_FORMAT, "invalid JSON");
	WriteRaw(path, 0, "{\"w\": {\"dtype\": \"I8\", \"shape\": [2], \"data_offsets\": [0, 2]}}", "\0\0\0\0\0\0\0", 8);
	ExpectLoad(d, LLM_ERR_UNSUPPORTED, "\"w\"");

	/* a missing tensor, a wrong shape, a missing untied lm_head */
	d = LlamaCopy("missing");
	snprintf(path, sizeof(path), "%s/model.safetensors", d);
	WriteSubset(path, ref, 0, 0, "model.layers.1.mlp.up_proj.weight");
	ExpectLoad(d, LLM_ERR_FORMAT, "missing tensor \"model.layers.1.mlp.up_proj.weight\"");
	WriteSubset(path, ref, 0, 0, "lm_head.weight");
	ExpectLoad(d, LLM_ERR_FORMAT, "missing tensor \"lm_head.weight\"");
	WriteSubset(path, ref, 0, 0, NULL);
	ExpectLoad(d, LLM_OK, NULL);

	d = MakeDir("shape");
	WriteText(d, "config.json", "{\"model_type\": \"llama\", \"vocab_size\": 512, \"hidden_size\": 64, "
			  "\"intermediate_size\": 177, \"num_hidden_layers\": 2, \"num_attention_heads\": 4, "
			  "\"num_key_value_heads\": 2}");
	snprintf(path, sizeof(path), "%s/model.safetensors", d);
	WriteSubset(path, ref, 0, 0, NULL);
	ExpectLoad(d, LLM_ERR_FORMAT,
			   "tensor \"model.layers.0.mlp.gate_proj.weight\" has shape [176, 64], expected [177, 64]");

	d = MakeDir("arch");
	WriteText(d, "config.json", "{\"model_type\": \"gpt_neox\", " BASE "}");
	ExpectLoad(d, LLM_ERR_UNSUPPORTED, "unsupported architecture \"gpt_neox\"");

	ExpectLoad(LlamaCopy("noweights"), LLM_ERR_IO, "no model.safetensors");
	ExpectLoad(MakeDir("nothing"), LLM_ERR_IO, "config.json");
}

static volatile sig_atomic_t prev_bus_calls = 0;

/* the SIGBUS action that was there before the weights' guard */
static void
PrevBus(int signo)
{
	prev_bus_calls++;
}

/*
 * A weight file truncated while mapped: reads past its new end give zeros
 * instead of killing the process, the weights say which file it was, and
 * another model's mappings and other SIGBUS signals are left alone
 */
static void
TestTruncatedWhileMapped(void)
{
	char		path[1024];
	char	   *data;
	size_t		len;
	const char *d = LlamaCopy("shrinking");
	const char *d2 = LlamaCopy("intact");
	LlmModel   *m = NULL;
	LlmModel   *m2 = NULL;
	LlmError	err = {0};
	const LlmTensor *last = NULL;
	float		before;

	snprintf(path, sizeof(path), "%s/model.safetensors", Fixture("llama-tiny-f32"));
	data = ReadAll(path, &len);
	CHECK(data != NULL && len > 64 * 1024);
	if (data == NULL)
		return;
	snprintf(path, sizeof(path), "%s/model.safetensors", d2);
	WriteFile(path, data, len);
	snprintf(path, sizeof(path), "%s/model.safetensors", d);
	WriteFile(path, data, len);
	free(data);
	CHECK(LlmModelLoad(d, &m, &err) == LLM_OK);
	CHECK(LlmModelLoad(d2, &m2, &err) == LLM_OK);
	if (m == NULL || m2 == NULL)
		return;
	for (int i = 0; i < LlmWeightsCount(m->weights); i++)
	{
		const LlmTensor *t = &LlmWeightsEntry(m->weights, i)->tensor;

		if (last == NULL || (char *) t->data > (char *) last->data)
			last = t;
	}
	CHECK(last->dtype == LLM_DTYPE_F32);
	before = ((volatile float *) last->data)[LlmTensorCount(last) - 1];
	CHECK(before != 0.0f);
	CHECK(LlmWeightsDamaged(m->weights) == NULL);

	/* an administrator copies a new file over the old one in place */
	CHECK(truncate(path, 4096) == 0);
	CHECK(((volatile float *) last->data)[LlmTensorCount(last) - 1] == 0.0f);
	CHECK(LlmWeightsDamaged(m->weights) != NULL &&
		  strcmp(LlmWeightsDamaged(m->weights), path) == 0);
	/* the whole mapping reads as zeros now, its first page included */
	CHECK(((volatile float *) m->tok_embed->data)[0] == 0.0f);
	CHECK(LlmWeightsChanged(m->weights) != NULL);
	CHECK(LlmWeightsDamaged(m2->weights) == NULL && LlmWeightsChanged(m2->weights) == NULL);
	CHECK(((volatile float *) LlmWeightsFind(m2->weights, "model.norm.weight")->data)[0] != 0.0f);

	/* a SIGBUS that is not a fault in a mapping goes to the previous action */
	raise(SIGBUS);
	CHECK(prev_bus_calls == 1);

	LlmModelFree(m);
	LlmModelFree(m2);
}

/*
 * A weight file rewritten in place with its length kept is seen through
 * its size and modification time; one replaced under its name is not a
 * change (the mapping keeps the old file)
 */
static void
TestRewrittenWhileMapped(void)
{
	char		path[1024];
	char		other[1024];
	char	   *data;
	size_t		len;
	const char *d = LlamaCopy("rewritten");
	LlmModel   *m = NULL;
	LlmError	err = {0};
	struct timespec times[2];

	snprintf(path, sizeof(path), "%s/model.safetensors", Fixture("llama-tiny-f32"));
	data = ReadAll(path, &len);
	if (data == NULL)
	{
		CHECK(data != NULL);
		return;
	}
	snprintf(path, sizeof(path), "%s/model.safetensors", d);
	WriteFile(path, data, len);
	/* an old modification time, so that any write changes it */
	times[0].tv_sec = times[1].tv_sec = 1000000000;
	times[0].tv_nsec = times[1].tv_nsec = 0;
	CHECK(utimensat(AT_FDCWD, path, times, 0) == 0);
	CHECK(LlmModelLoad(d, &m, &err) == LLM_OK);
	if (m == NULL)
	{
		free(data);
		return;
	}
	CHECK(LlmWeightsChanged(m->weights) == NULL);

	/* a new file renamed over the old one: the mapping keeps the old one */
	snprintf(other, sizeof(other), "%s/new.safetensors", d);
	WriteFile(other, data, len);
	CHECK(rename(other, path) == 0);
	CHECK(LlmWeightsChanged(m->weights) == NULL);
	LlmModelFree(m);
	m = NULL;

	/* the same length written in place */
	CHECK(utimensat(AT_FDCWD, path, times, 0) == 0);
	CHECK(LlmModelLoad(d, &m, &err) == LLM_OK);
	if (m != NULL)
	{
		FILE	   *f = fopen(path, "r+b");

		CHECK(LlmWeightsChanged(m->weights) == NULL);
		CHECK(f != NULL);
		if (f != NULL)
		{
			fseek(f, (long) len - 4, SEEK_SET);
			fwrite("\0\0\0\0", 1, 4, f);
			fclose(f);
		}
		CHECK(LlmWeightsChanged(m->weights) != NULL &&
			  strcmp(LlmWeightsChanged(m->weights), path) == 0);
		CHECK(LlmWeightsDamaged(m->weights) == NULL);
		LlmModelFree(m);
	}
	free(data);
}

/*
 * With the default SIGBUS action before the guard, a SIGBUS that is not
 * a fault in a mapping (kill -BUS) still ends the process: run in a child
 */
static int
KillBusChild(void)
{
	LlmModel   *m = NULL;
	LlmError	err = {0};

	if (LlmModelLoad(Fixture("llama-tiny-f32"), &m, &err) != LLM_OK)
		return 2;
	kill(getpid(), SIGBUS);
	return 3;					/* survived */
}

static void
TestKillBus(void)
{
	pid_t		pid = fork();
	int			status = 0;

	if (pid == 0)
	{
		execl("/proc/self/exe", "test_model_load", "--kill-bus", (char *) NULL);
		_exit(4);
	}
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS);
	if (!WIFSIGNALED(status))
		printf("  kill -BUS child: exit status %d\n", WEXITSTATUS(status));
}

/* a two-shard copy of llama-tiny-f32 and broken indexes */
static void
TestSharded(const LlmWeights *ref)
{
	char		path[1024];
	char		index[65536];
	size_t		il = 0;
	const char *d = LlamaCopy("sharded");
	LlmModel   *m = NULL;
	LlmError	err = {0};
	int			n = LlmWeightsCount(ref);
	int			same = 0;

	snprintf(path, sizeof(path), "%s/model-00001-of-00002.safetensors", d);
	WriteSubset(path, ref, 2, 0, NULL);
	snprintf(path, sizeof(path), "%s/model-00002-of-00002.safetensors", d);
	WriteSubset(path, ref, 2, 1, NULL);
	il += snprintf(index + il, sizeof(index) - il, "{\"metadata\": {}, \"weight_map\": {");
	for (int i = 0; i < n; i++)
		il += snprintf(index + il, sizeof(index) - il, "%s\"%s\": \"model-0000%d-of-00002.safetensors\"",
					   i ? ", " : "", LlmWeightsEntry(ref, i)->name, i % 2 + 1);
	snprintf(index + il, sizeof(index) - il, "}}");
	WriteText(d, "model.safetensors.index.json", index);

	CHECK(LlmModelLoad(d, &m, &err) == LLM_OK);
	if (m)
	{
		CHECK(LlmWeightsCount(m->weights) == n);
		for (int i = 0; i < n; i++)
		{
			const LlmWeightEntry *e = LlmWeightsEntry(ref, i);
			const LlmTensor *t = LlmWeightsFind(m->weights, e->name);

			if (t && t->ndim == e->tensor.ndim && t->dtype == e->tensor.dtype &&
				memcmp(t->shape, e->tensor.shape, sizeof(t->shape)) == 0 &&
				memcmp(t->data, e->tensor.data,
					   LlmTensorCount(t) * LlmDTypeSize(t->dtype)) == 0)
				same++;
		}
		CHECK(same == n);
		CHECK(First(m->tok_embed, 0) == 0.044580843299627304f);
		LlmModelFree(m);
	}
	else
		printf("  sharded: %s\n", err.message);

	/* a shard name escaping the directory */
	d = LlamaCopy("shardesc");
	WriteText(d, "model.safetensors.index.json",
			  "{\"weight_map\": {\"model.norm.weight\": \"../sharded/model-00001-of-00002.safetensors\"}}");
	ExpectLoad(d, LLM_ERR_FORMAT, "bad shard");
	WriteText(d, "model.safetensors.index.json",
			  "{\"weight_map\": {\"model.norm.weight\": \"/etc/passwd\"}}");
	ExpectLoad(d, LLM_ERR_FORMAT, "bad shard");
	WriteText(d, "model.safetensors.index.json", "{\"weight_map\": []}");
	ExpectLoad(d, LLM_ERR_FORMAT, "weight_map");

	/* the index names the wrong shard, a tensor no shard has, a missing shard */
	snprintf(path, sizeof(path), "%s/sharded/model.safetensors.index.json", tmpdir);
	snprintf(index, sizeof(index), "{\"weight_map\": {\"%s\": \"model-00002-of-00002.safetensors\", "
			 "\"%s\": \"model-00001-of-00002.safetensors\"}}",
			 LlmWeightsEntry(ref, 0)->name, LlmWeightsEntry(ref, 1)->name);
	WriteFile(path, index, strlen(index));
	snprintf(path, sizeof(path), "%s/sharded", tmpdir);
	ExpectLoad(path, LLM_ERR_FORMAT, "is not in");
	snprintf(index, sizeof(index), "{\"weight_map\": {\"nope\": \"model-00001-of-00002.safetensors\"}}");
	WriteText(path, "model.safetensors.index.json", index);
	ExpectLoad(path, LLM_ERR_FORMAT, "\"nope\"");
	snprintf(index, sizeof(index), "{\"weight_map\": {\"x\": \"model-00003-of-00002.safetensors\"}}");
	WriteText(path, "model.safetensors.index.json", index);
	ExpectLoad(path, LLM_ERR_IO, "model-00003");

	/* the same tensor in two shards */
	d = LlamaCopy("twice");
	snprintf(path, sizeof(path), "%s/a.safetensors", d);
	WriteSubset(path, ref, 0, 0, NULL);
	snprintf(path, sizeof(path), "%s/b.safetensors", d);
	WriteSubset(path, ref, 2, 0, NULL);
	WriteText(d, "model.safetensors.index.json",
			  "{\"weight_map\": {\"lm_head.weight\": \"a.safetensors\", \"model.norm.weight\": \"b.safetensors\"}}");
	ExpectLoad(d, LLM_ERR_FORMAT, "appears twice");
}

/* remove one file or directory (nftw callback) */
static int
RemoveOne(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void) st;
	(void) flag;
	(void) ftw;
	return remove(path);
}

int
main(int argc, char **argv)
{
	LlmWeights *ref = NULL;
	LlmError	err = {0};

	fixtures = getenv("PGMLOPS_FIXTURES");
	if (fixtures == NULL)
		fixtures = "test/data/fixtures";
	if (argc > 1 && strcmp(argv[1], "--kill-bus") == 0)
		return KillBusChild();
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/pgmlops_model_XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
	{
		printf("mkdtemp failed\n");
		return 1;
	}

	/* before the first mapping installs the weights' SIGBUS handler */
	signal(SIGBUS, PrevBus);
	TestDecoders();
	TestEncoders();
	TestConfigParse();
	TestConfigLoad();
	TestSafetensors();
	CHECK(LlmWeightsOpen(Fixture("llama-tiny-f32"), &ref, &err) == LLM_OK);
	if (ref)
	{
		TestModelErrors(ref);
		TestSharded(ref);
		LlmWeightsClose(ref);
	}
	TestTruncatedWhileMapped();
	TestRewrittenWhileMapped();
	TestKillBus();

	nftw(tmpdir, RemoveOne, 16, FTW_DEPTH | FTW_PHYS);
	UNIT_DONE("model_load");
}
