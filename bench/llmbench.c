/*-------------------------------------------------------------------------
 *
 * llmbench.c
 *	  Command-line benchmark of the inference engine, outside PostgreSQL:
 *	  writes models of published shapes with random weights, and times
 *	  decode, prefill and encoder steps on the CPU or CUDA backend.
 *
 *	 llmbench make-model DIR --shape llama-1b|llama-110m|minilm|tiny
 *						 [--dtype bf16|f32|f16] [--seed N]
 *	 llmbench decode DIR [--device cpu|cuda] [--precision f32|bf16]
 *						 [--batch B] [--tokens N] [--prompt P]
 *	 llmbench prefill DIR [--device ...] [--precision ...] [--tokens T]
 *	 llmbench encode DIR [--device ...] [--precision ...] [--batch B] [--seq S]
 *	 common options: --kv-mb MB (KV cache budget; default: what the case
 *	 needs), --threads N (OpenBLAS threads), --repeat R, --seed S,
 *	 --bw-gbs G (memory bandwidth from membw: decode also reports the
 *	 bandwidth floor and the fraction of it reached)
 *
 * Each measurement prints one machine-readable line
 *	 RESULT <case> device=... precision=... key=value ...
 * that scripts/bench_llm.sh collects; other output is informational.
 *
 * Models are written as Hugging Face directories: config.json in the
 * pre-transformers-5 spelling (rope_theta, rope_scaling), which every
 * transformers version reads, model.safetensors, and for the MiniLM shape
 * the sentence-transformers files (mean pooling, normalize).  Weights are
 * approximately normal(0, 0.02) from a fixed-seed generator, norms are 1
 * and biases 0.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "compute/computeops.h"
#include "llm/llm.h"
#include "llm/model.h"
#include "llm/runtime.h"
#include "vector/vecdist.h"

/* a model shape that make-model can write */
typedef struct BenchShape
{
	const char *name;
	bool		bert;
	int			hidden;
	int			layers;
	int			heads;
	int			kv_heads;
	int			head_dim;
	int			inter;
	int			vocab;
	int			max_pos;
	int			type_vocab;
	bool		tied;
	double		rope_theta;
	bool		llama3_rope;
	int			bos;
	int			eos;
} BenchShape;

static const BenchShape shapes[] = {
	/* Llama-3.2-1B */
	{"llama-1b", false, 2048, 16, 32, 8, 64, 8192, 128256, 131072, 0, true,
	500000.0, true, 128000, 128001},
	/* a ~110M-parameter Llama (llama2.c's stories110M shape, longer context) */
	{"llama-110m", false, 768, 12, 12, 12, 64, 2048, 32000, 2048, 0, false,
	10000.0, false, 1, 2},
	/* sentence-transformers/all-MiniLM-L6-v2 */
	{"minilm", true, 384, 6, 12, 12, 32, 1536, 30522, 512, 2, false,
	0.0, false, -1, -1},
	/* the shape of the test fixtures: a smoke test in milliseconds */
	{"tiny", false, 64, 2, 4, 2, 16, 176, 512, 512, 0, false,
	10000.0, false, 1, 2},
};

/* how make-model fills a tensor */
typedef enum BenchFill
{
	FILL_RANDOM,
	FILL_ONES,
	FILL_ZEROS
} BenchFill;

/* one tensor of the file being written */
typedef struct BenchTensor
{
	char		name[96];
	int			ndim;
	int64_t		shape[2];
	BenchFill	fill;
	uint64_t	offset;			/* into the data section */
	uint64_t	bytes;
} BenchTensor;

/* parsed command line */
typedef struct BenchArgs
{
	const char *cmd;
	const char *dir;
	const char *shape;
	LlmDType	dtype;
	bool		cuda;
	ComputePrecision precision;
	int			batch;
	int			tokens;
	int			prompt;
	int			seq;
	int			repeat;
	int			threads;
	double		kv_mb;
	double		bw_gbs;
	uint64_t	seed;
} BenchArgs;

/* print a message and exit: the tool's only failure path */
static void
Die(const char *fmt,...)
__attribute__((format(printf, 1, 2), noreturn));

static void
Die(const char *fmt,...)
{
	va_list		ap;

	fflush(stdout);
	va_start(ap, fmt);
	fputs("llmbench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* exit with the engine's message when rc is not LLM_OK */
static void
Check(int rc, const LlmError *err, const char *what)
{
	if (rc != LLM_OK)
		Die("%s failed (code %d): %s", what, rc, err->message);
}

/* seconds on the monotonic clock */
static double
Now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* splitmix64: one step of a fast 64-bit generator */
static uint64_t
Next64(uint64_t *state)
{
	uint64_t	z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/*
 * Approximately normal(0, 1): the sum of four 16-bit uniforms (Irwin-Hall,
 * variance 1/3), centred and scaled
 */
static float
NextNormal(uint64_t *state)
{
	uint64_t	r = Next64(state);
	uint32_t	s = (uint32_t) (r & 0xffff) + (uint32_t) ((r >> 16) & 0xffff) +
		(uint32_t) ((r >> 32) & 0xffff) + (uint32_t) (r >> 48);

	return ((float) s - 131070.0f) * (1.7320508f / 65536.0f);
}

/* FNV-1a hash of a name, to give each tensor its own stream */
static uint64_t
HashName(const char *s)
{
	uint64_t	h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char) *s) * 1099511628211ULL;
	return h;
}

/* a uniform integer in [lo, hi) */
static int32_t
NextToken(uint64_t *state, int lo, int hi)
{
	return lo + (int32_t) (Next64(state) % (uint64_t) (hi - lo));
}

/* parse a positive integer option value */
static int
ParseInt(const char *opt, const char *val, int lo, int hi)
{
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(val, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		Die("%s: expected an integer in [%d, %d], got \"%s\"", opt, lo, hi, val);
	return (int) v;
}

/* parse a non-negative number option value */
static double
ParseDouble(const char *opt, const char *val)
{
	char	   *end;
	double		v;

	errno = 0;
	v = strtod(val, &end);
	if (errno != 0 || *end != '\0' || !(v >= 0.0) || v > 1e9)
		Die("%s: expected a non-negative number, got \"%s\"", opt, val);
	return v;
}

/* print the usage text and exit */
static void
Usage(void)
{
	fputs("usage:\n"
		  "  llmbench make-model DIR --shape llama-1b|llama-110m|minilm|tiny"
		  " [--dtype bf16|f32|f16] [--seed N]\n"
		  "  llmbench decode DIR [--device cpu|cuda] [--precision f32|bf16]"
		  " [--batch B] [--tokens N] [--prompt P]\n"
		  "  llmbench prefill DIR [--device cpu|cuda] [--precision f32|bf16]"
		  " [--tokens T]\n"
		  "  llmbench encode DIR [--device cpu|cuda] [--precision f32|bf16]"
		  " [--batch B] [--seq S]\n"
		  "  common: --kv-mb MB --threads N --repeat R --seed S --bw-gbs G\n"
		  "  llmbench cuda-available   exit status 0 when built with CUDA\n",
		  stderr);
	exit(2);
}

/* fill args from argv; defaults depend on the subcommand */
static void
ParseArgs(int argc, char **argv, BenchArgs *a)
{
	memset(a, 0, sizeof(*a));
	if (argc < 2)
		Usage();
	a->cmd = argv[1];
	a->dtype = LLM_DTYPE_BF16;
	a->precision = COMPUTE_PRECISION_F32;
	a->batch = strcmp(a->cmd, "encode") == 0 ? 256 : 1;
	a->tokens = strcmp(a->cmd, "prefill") == 0 ? 2048 : 128;
	a->prompt = 16;
	a->seq = 128;
	a->repeat = strcmp(a->cmd, "decode") == 0 ? 1 : 5;
	a->seed = 42;
	if (strcmp(a->cmd, "cuda-available") == 0)
		return;
	if (argc < 3 || argv[2][0] == '-')
		Usage();
	a->dir = argv[2];

	for (int i = 3; i < argc; i++)
	{
		const char *opt = argv[i];
		const char *val;

		if (i + 1 >= argc)
			Die("option %s needs a value", opt);
		val = argv[++i];
		if (strcmp(opt, "--shape") == 0)
			a->shape = val;
		else if (strcmp(opt, "--dtype") == 0)
		{
			if (strcmp(val, "bf16") == 0)
				a->dtype = LLM_DTYPE_BF16;
			else if (strcmp(val, "f32") == 0)
				a->dtype = LLM_DTYPE_F32;
			else if (strcmp(val, "f16") == 0)
				a->dtype = LLM_DTYPE_F16;
			else
				Die("--dtype: bf16, f32 or f16, not \"%s\"", val);
		}
		else if (strcmp(opt, "--device") == 0)
		{
			if (strcmp(val, "cpu") == 0)
				a->cuda = false;
			else if (strcmp(val, "cuda") == 0)
				a->cuda = true;
			else
				Die("--device: cpu or cuda, not \"%s\"", val);
		}
		else if (strcmp(opt, "--precision") == 0)
		{
			if (strcmp(val, "f32") == 0)
				a->precision = COMPUTE_PRECISION_F32;
			else if (strcmp(val, "bf16") == 0)
				a->precision = COMPUTE_PRECISION_BF16;
			else
				Die("--precision: f32 or bf16 (the engine has no f16 compute), not \"%s\"", val);
		}
		else if (strcmp(opt, "--batch") == 0)
			a->batch = ParseInt(opt, val, 1, 65536);
		else if (strcmp(opt, "--tokens") == 0)
			a->tokens = ParseInt(opt, val, 1, 1 << 20);
		else if (strcmp(opt, "--prompt") == 0)
			a->prompt = ParseInt(opt, val, 1, 1 << 20);
		else if (strcmp(opt, "--seq") == 0)
			a->seq = ParseInt(opt, val, 1, 1 << 20);
		else if (strcmp(opt, "--repeat") == 0)
			a->repeat = ParseInt(opt, val, 1, 1000);
		else if (strcmp(opt, "--threads") == 0)
			a->threads = ParseInt(opt, val, 1, 1024);
		else if (strcmp(opt, "--seed") == 0)
			a->seed = (uint64_t) ParseInt(opt, val, 0, 2147483647);
		else if (strcmp(opt, "--kv-mb") == 0)
			a->kv_mb = ParseDouble(opt, val);
		else if (strcmp(opt, "--bw-gbs") == 0)
			a->bw_gbs = ParseDouble(opt, val);
		else
			Die("unknown option %s", opt);
	}
}

/*
 * make-model
 */

/* append a tensor description to the list */
static void
AddTensor(BenchTensor *list, int *n, int cap, BenchFill fill, int64_t d0,
		  int64_t d1, const char *fmt,...)
__attribute__((format(printf, 7, 8)));

static void
AddTensor(BenchTensor *list, int *n, int cap, BenchFill fill, int64_t d0,
		  int64_t d1, const char *fmt,...)
{
	BenchTensor *t;
	va_list		ap;

	if (*n >= cap)
		Die("too many tensors");
	t = &list[(*n)++];
	memset(t, 0, sizeof(*t));
	va_start(ap, fmt);
	vsnprintf(t->name, sizeof(t->name), fmt, ap);
	va_end(ap);
	t->fill = fill;
	t->shape[0] = d0;
	t->shape[1] = d1;
	t->ndim = d1 > 0 ? 2 : 1;
}

/* the tensors of a Llama decoder, as transformers names them */
static void
ListLlama(const BenchShape *s, BenchTensor *t, int *n, int cap)
{
	int			q = s->heads * s->head_dim;
	int			kv = s->kv_heads * s->head_dim;

	AddTensor(t, n, cap, FILL_RANDOM, s->vocab, s->hidden, "model.embed_tokens.weight");
	for (int l = 0; l < s->layers; l++)
	{
		AddTensor(t, n, cap, FILL_ONES, s->hidden, 0, "model.layers.%d.input_layernorm.weight", l);
		AddTensor(t, n, cap, FILL_RANDOM, q, s->hidden, "model.layers.%d.self_attn.q_proj.weight", l);
		AddTensor(t, n, cap, FILL_RANDOM, kv, s->hidden, "model.layers.%d.self_attn.k_proj.weight", l);
		AddTensor(t, n, cap, FILL_RANDOM, kv, s->hidden, "model.layers.%d.self_attn.v_proj.weight", l);
		AddTensor(t, n, cap, FILL_RANDOM, s->hidden, q, "model.layers.%d.self_attn.o_proj.weight", l);
		AddTensor(t, n, cap, FILL_ONES, s->hidden, 0, "model.layers.%d.post_attention_layernorm.weight", l);
		AddTensor(t, n, cap, FILL_RANDOM, s->inter, s->hidden, "model.layers.%d.mlp.gate_proj.weight", l);
		AddTensor(t, n, cap, FILL_RANDOM, s->inter, s->hidden, "model.layers.%d.mlp.up_proj.weight", l);
		AddTensor(t, n, cap, FILL_RANDOM, s->hidden, s->inter, "model.layers.%d.mlp.down_proj.weight", l);
	}
	AddTensor(t, n, cap, FILL_ONES, s->hidden, 0, "model.norm.weight");
	if (!s->tied)
		AddTensor(t, n, cap, FILL_RANDOM, s->vocab, s->hidden, "lm_head.weight");
}

/* the tensors of a BertModel (no "bert." prefix, as sentence-transformers saves it) */
static void
ListBert(const BenchShape *s, BenchTensor *t, int *n, int cap)
{
	int			h = s->hidden;

	AddTensor(t, n, cap, FILL_RANDOM, s->vocab, h, "embeddings.word_embeddings.weight");
	AddTensor(t, n, cap, FILL_RANDOM, s->max_pos, h, "embeddings.position_embeddings.weight");
	AddTensor(t, n, cap, FILL_RANDOM, s->type_vocab, h, "embeddings.token_type_embeddings.weight");
	AddTensor(t, n, cap, FILL_ONES, h, 0, "embeddings.LayerNorm.weight");
	AddTensor(t, n, cap, FILL_ZEROS, h, 0, "embeddings.LayerNorm.bias");
	for (int l = 0; l < s->layers; l++)
	{
		static const char *const qkv[] = {"query", "key", "value"};

		for (int j = 0; j < 3; j++)
		{
			AddTensor(t, n, cap, FILL_RANDOM, h, h, "encoder.layer.%d.attention.self.%s.weight", l, qkv[j]);
			AddTensor(t, n, cap, FILL_ZEROS, h, 0, "encoder.layer.%d.attention.self.%s.bias", l, qkv[j]);
		}
		AddTensor(t, n, cap, FILL_RANDOM, h, h, "encoder.layer.%d.attention.output.dense.weight", l);
		AddTensor(t, n, cap, FILL_ZEROS, h, 0, "encoder.layer.%d.attention.output.dense.bias", l);
		AddTensor(t, n, cap, FILL_ONES, h, 0, "encoder.layer.%d.attention.output.LayerNorm.weight", l);
		AddTensor(t, n, cap, FILL_ZEROS, h, 0, "encoder.layer.%d.attention.output.LayerNorm.bias", l);
		AddTensor(t, n, cap, FILL_RANDOM, s->inter, h, "encoder.layer.%d.intermediate.dense.weight", l);
		AddTensor(t, n, cap, FILL_ZEROS, s->inter, 0, "encoder.layer.%d.intermediate.dense.bias", l);
		AddTensor(t, n, cap, FILL_RANDOM, h, s->inter, "encoder.layer.%d.output.dense.weight", l);
		AddTensor(t, n, cap, FILL_ZEROS, h, 0, "encoder.layer.%d.output.dense.bias", l);
		AddTensor(t, n, cap, FILL_ONES, h, 0, "encoder.layer.%d.output.LayerNorm.weight", l);
		AddTensor(t, n, cap, FILL_ZEROS, h, 0, "encoder.layer.%d.output.LayerNorm.bias", l);
	}
	AddTensor(t, n, cap, FILL_RANDOM, h, h, "pooler.dense.weight");
	AddTensor(t, n, cap, FILL_ZEROS, h, 0, "pooler.dense.bias");
}

/* transformers' name of a dtype (config.json "torch_dtype") */
static const char *
TorchDType(LlmDType dtype)
{
	switch (dtype)
	{
		case LLM_DTYPE_F32:
			return "float32";
		case LLM_DTYPE_F16:
			return "float16";
		case LLM_DTYPE_BF16:
			return "bfloat16";
	}
	return "?";
}

/* open path for writing or die */
static FILE *
OpenOut(const char *dir, const char *name)
{
	char		path[4096];
	FILE	   *f;

	if (!LlmPathJoin(path, sizeof(path), dir, name))
		Die("path too long: %s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL)
		Die("cannot create %s: %s", path, strerror(errno));
	return f;
}

/* close f, dying on a write error */
static void
CloseOut(FILE *f, const char *what)
{
	if (ferror(f) || fclose(f) != 0)
		Die("cannot write %s: %s", what, strerror(errno));
}

/* create a directory (and accept one that exists) */
static void
MakeDir(const char *path)
{
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		Die("cannot create directory %s: %s", path, strerror(errno));
}

/* config.json (and generation_config.json) of a decoder */
static void
WriteLlamaConfig(const BenchShape *s, const char *dir, LlmDType dtype)
{
	FILE	   *f = OpenOut(dir, "config.json");

	fprintf(f,
			"{\n"
			"  \"architectures\": [\"LlamaForCausalLM\"],\n"
			"  \"attention_bias\": false,\n"
			"  \"attention_dropout\": 0.0,\n"
			"  \"bos_token_id\": %d,\n"
			"  \"eos_token_id\": %d,\n"
			"  \"head_dim\": %d,\n"
			"  \"hidden_act\": \"silu\",\n"
			"  \"hidden_size\": %d,\n"
			"  \"initializer_range\": 0.02,\n"
			"  \"intermediate_size\": %d,\n"
			"  \"max_position_embeddings\": %d,\n"
			"  \"mlp_bias\": false,\n"
			"  \"model_type\": \"llama\",\n"
			"  \"num_attention_heads\": %d,\n"
			"  \"num_hidden_layers\": %d,\n"
			"  \"num_key_value_heads\": %d,\n"
			"  \"pretraining_tp\": 1,\n"
			"  \"rms_norm_eps\": 1e-05,\n",
			s->bos, s->eos, s->head_dim, s->hidden, s->inter, s->max_pos,
			s->heads, s->layers, s->kv_heads);
	if (s->llama3_rope)
		fprintf(f,
				"  \"rope_scaling\": {\n"
				"    \"factor\": 32.0,\n"
				"    \"high_freq_factor\": 4.0,\n"
				"    \"low_freq_factor\": 1.0,\n"
				"    \"original_max_position_embeddings\": 8192,\n"
				"    \"rope_type\": \"llama3\"\n"
				"  },\n");
	fprintf(f,
			"  \"rope_theta\": %.1f,\n"
			"  \"tie_word_embeddings\": %s,\n"
			"  \"torch_dtype\": \"%s\",\n"
			"  \"use_cache\": true,\n"
			"  \"vocab_size\": %d\n"
			"}\n",
			s->rope_theta, s->tied ? "true" : "false", TorchDType(dtype), s->vocab);
	CloseOut(f, "config.json");

	f = OpenOut(dir, "generation_config.json");
	fprintf(f, "{\n  \"bos_token_id\": %d,\n  \"eos_token_id\": %d,\n"
			"  \"do_sample\": false\n}\n", s->bos, s->eos);
	CloseOut(f, "generation_config.json");
}

/*
 * config.json of a BERT encoder and the sentence-transformers files, as
 * all-MiniLM-L6-v2 publishes them
 */
static void
WriteBertConfig(const BenchShape *s, const char *dir, LlmDType dtype)
{
	char		sub[4096];
	FILE	   *f = OpenOut(dir, "config.json");

	fprintf(f,
			"{\n"
			"  \"architectures\": [\"BertModel\"],\n"
			"  \"attention_probs_dropout_prob\": 0.1,\n"
			"  \"classifier_dropout\": null,\n"
			"  \"gradient_checkpointing\": false,\n"
			"  \"hidden_act\": \"gelu\",\n"
			"  \"hidden_dropout_prob\": 0.1,\n"
			"  \"hidden_size\": %d,\n"
			"  \"initializer_range\": 0.02,\n"
			"  \"intermediate_size\": %d,\n"
			"  \"layer_norm_eps\": 1e-12,\n"
			"  \"max_position_embeddings\": %d,\n"
			"  \"model_type\": \"bert\",\n"
			"  \"num_attention_heads\": %d,\n"
			"  \"num_hidden_layers\": %d,\n"
			"  \"pad_token_id\": 0,\n"
			"  \"position_embedding_type\": \"absolute\",\n"
			"  \"torch_dtype\": \"%s\",\n"
			"  \"type_vocab_size\": %d,\n"
			"  \"use_cache\": true,\n"
			"  \"vocab_size\": %d\n"
			"}\n",
			s->hidden, s->inter, s->max_pos, s->heads, s->layers,
			TorchDType(dtype), s->type_vocab, s->vocab);
	CloseOut(f, "config.json");

	f = OpenOut(dir, "modules.json");
	fputs("[\n"
		  "  {\"idx\": 0, \"name\": \"0\", \"path\": \"\", "
		  "\"type\": \"sentence_transformers.models.Transformer\"},\n"
		  "  {\"idx\": 1, \"name\": \"1\", \"path\": \"1_Pooling\", "
		  "\"type\": \"sentence_transformers.models.Pooling\"},\n"
		  "  {\"idx\": 2, \"name\": \"2\", \"path\": \"2_Normalize\", "
		  "\"type\": \"sentence_transformers.models.Normalize\"}\n"
		  "]\n", f);
	CloseOut(f, "modules.json");

	f = OpenOut(dir, "sentence_bert_config.json");
	fputs("{\n  \"max_seq_length\": 256,\n  \"do_lower_case\": false\n}\n", f);
	CloseOut(f, "sentence_bert_config.json");

	if (!LlmPathJoin(sub, sizeof(sub), dir, "1_Pooling"))
		Die("path too long: %s", dir);
	MakeDir(sub);
	f = OpenOut(sub, "config.json");
	fprintf(f,
			"{\n"
			"  \"word_embedding_dimension\": %d,\n"
			"  \"pooling_mode_cls_token\": false,\n"
			"  \"pooling_mode_mean_tokens\": true,\n"
			"  \"pooling_mode_max_tokens\": false,\n"
			"  \"pooling_mode_mean_sqrt_len_tokens\": false\n"
			"}\n", s->hidden);
	CloseOut(f, "1_Pooling/config.json");

	if (!LlmPathJoin(sub, sizeof(sub), dir, "2_Normalize"))
		Die("path too long: %s", dir);
	MakeDir(sub);
}

/* convert count f32 values into dtype at dst */
static void
StoreAs(void *dst, const float *src, size_t count, LlmDType dtype)
{
	if (dtype == LLM_DTYPE_F32)
		memcpy(dst, src, count * sizeof(float));
	else if (dtype == LLM_DTYPE_BF16)
	{
		uint16_t   *d = dst;

		for (size_t i = 0; i < count; i++)
			d[i] = LlmF32ToBf16(src[i]);
	}
	else
	{
		uint16_t   *d = dst;

		for (size_t i = 0; i < count; i++)
			d[i] = VecFloatToHalf(src[i]);
	}
}

#define CHUNK_ELEMS (1 << 16)

/* write model.safetensors: header, then each tensor's data in order */
static void
WriteSafetensors(const char *dir, BenchTensor *t, int n, LlmDType dtype,
				 uint64_t seed)
{
	size_t		esize = LlmDTypeSize(dtype);
	size_t		hcap = 256 + (size_t) n * 200;
	char	   *header = malloc(hcap);
	size_t		hlen = 0;
	uint64_t	offset = 0;
	uint64_t	hlen64;
	float	   *fbuf = malloc(CHUNK_ELEMS * sizeof(float));
	uint8_t    *obuf = malloc(CHUNK_ELEMS * 4);
	FILE	   *f;
	double		t0 = Now();

	if (header == NULL || fbuf == NULL || obuf == NULL)
		Die("out of memory");

	hlen += snprintf(header + hlen, hcap - hlen,
					 "{\"__metadata__\":{\"format\":\"pt\"}");
	for (int i = 0; i < n; i++)
	{
		int64_t		count = t[i].shape[0] * (t[i].ndim == 2 ? t[i].shape[1] : 1);

		t[i].offset = offset;
		t[i].bytes = (uint64_t) count * esize;
		offset += t[i].bytes;
		if (t[i].ndim == 2)
			hlen += snprintf(header + hlen, hcap - hlen,
							 ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%lld,%lld],"
							 "\"data_offsets\":[%llu,%llu]}",
							 t[i].name, LlmDTypeName(dtype),
							 (long long) t[i].shape[0], (long long) t[i].shape[1],
							 (unsigned long long) t[i].offset,
							 (unsigned long long) offset);
		else
			hlen += snprintf(header + hlen, hcap - hlen,
							 ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%lld],"
							 "\"data_offsets\":[%llu,%llu]}",
							 t[i].name, LlmDTypeName(dtype),
							 (long long) t[i].shape[0],
							 (unsigned long long) t[i].offset,
							 (unsigned long long) offset);
		if (hlen + 8 >= hcap)
			Die("header overflow");
	}
	header[hlen++] = '}';
	/* pad with spaces so that the data starts 8-byte aligned */
	while ((8 + hlen) % 8 != 0)
		header[hlen++] = ' ';

	f = OpenOut(dir, "model.safetensors");
	setvbuf(f, NULL, _IOFBF, 4 << 20);
	hlen64 = hlen;
	fwrite(&hlen64, 8, 1, f);	/* little-endian hosts only (x86-64, arm64) */
	fwrite(header, 1, hlen, f);

	for (int i = 0; i < n; i++)
	{
		uint64_t	state = seed ^ HashName(t[i].name);
		int64_t		left = (int64_t) (t[i].bytes / esize);

		while (left > 0)
		{
			size_t		m = left < CHUNK_ELEMS ? (size_t) left : CHUNK_ELEMS;

			for (size_t j = 0; j < m; j++)
				fbuf[j] = t[i].fill == FILL_RANDOM ? 0.02f * NextNormal(&state) :
					t[i].fill == FILL_ONES ? 1.0f : 0.0f;
			StoreAs(obuf, fbuf, m, dtype);
			if (fwrite(obuf, esize, m, f) != m)
				Die("cannot write model.safetensors: %s", strerror(errno));
			left -= m;
		}
	}
	CloseOut(f, "model.safetensors");
	printf("INFO wrote %s/model.safetensors: %d tensors, %.1f MB of %s, %.1f s\n",
		   dir, n, offset / 1e6, LlmDTypeName(dtype), Now() - t0);
	free(header);
	free(fbuf);
	free(obuf);
}

/* llmbench make-model */
static int
CmdMakeModel(const BenchArgs *a)
{
	const BenchShape *s = NULL;
	int			cap = 64 + 24 * 1024;
	BenchTensor *t;
	int			n = 0;
	int64_t		params = 0;

	if (a->shape == NULL)
		Die("make-model needs --shape");
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
		if (strcmp(shapes[i].name, a->shape) == 0)
			s = &shapes[i];
	if (s == NULL)
		Die("unknown shape \"%s\" (llama-1b, llama-110m, minilm, tiny)", a->shape);

	t = calloc(cap, sizeof(BenchTensor));
	if (t == NULL)
		Die("out of memory");
	MakeDir(a->dir);
	if (s->bert)
	{
		ListBert(s, t, &n, cap);
		WriteBertConfig(s, a->dir, a->dtype);
	}
	else
	{
		ListLlama(s, t, &n, cap);
		WriteLlamaConfig(s, a->dir, a->dtype);
	}
	for (int i = 0; i < n; i++)
		params += t[i].shape[0] * (t[i].ndim == 2 ? t[i].shape[1] : 1);
	printf("INFO shape %s: %.1fM parameters\n", s->name, params / 1e6);
	WriteSafetensors(a->dir, t, n, a->dtype, a->seed);
	free(t);
	return 0;
}

/*
 * Timed cases
 */

/* a loaded model on a backend */
typedef struct BenchEngine
{
	LlmModel   *model;
	LlmRuntime *rt;
	const ComputeOps *ops;
	double		load_s;
} BenchEngine;

/* KV bytes one token takes over all layers (f32 k and v) */
static double
KvBytesPerToken(const LlmConfig *c)
{
	return 2.0 * c->n_layers * c->n_kv_heads * c->head_dim * sizeof(float);
}

/* a KV budget for n_seqs sequences of seq_tokens tokens, with some slack */
static size_t
KvBudget(const BenchArgs *a, const LlmConfig *c, int n_seqs, int seq_tokens)
{
	double		blocks;

	if (a->kv_mb > 0)
		return (size_t) (a->kv_mb * 1024 * 1024);
	blocks = (double) n_seqs * ((seq_tokens + COMPUTE_KV_BLOCK - 1) / COMPUTE_KV_BLOCK + 1) + 4;
	return (size_t) (blocks * COMPUTE_KV_BLOCK * KvBytesPerToken(c) * 1.05);
}

/* load the model (config only first, to size the runtime) and create the runtime */
static void
EngineOpen(const BenchArgs *a, BenchEngine *e, int max_rows, int max_seqs,
		   int seq_tokens)
{
	LlmError	err = {0};
	LlmRuntimeOptions opt;
	double		t0 = Now();
	int			rc;

	memset(e, 0, sizeof(*e));
	if (a->cuda)
	{
#ifdef USE_CUDA
		e->ops = &ComputeCudaOps;
#else
		Die("this llmbench was built without CUDA (rebuild with nvcc on the PATH)");
#endif
	}
	else
	{
		e->ops = &ComputeCpuOps;
		if (a->threads > 0)
			ComputeCpuSetThreads(a->threads);
	}

	rc = LlmModelLoad(a->dir, &e->model, &err);
	Check(rc, &err, "LlmModelLoad");

	LlmRuntimeDefaults(&opt);
	opt.precision = a->precision;
	opt.max_batch_rows = max_rows;
	opt.max_seqs = max_seqs;
	opt.kv_bytes = KvBudget(a, &e->model->cfg, max_seqs, seq_tokens);
	rc = LlmRuntimeCreate(e->model, e->ops, &opt, &e->rt, &err);
	Check(rc, &err, "LlmRuntimeCreate");
	e->load_s = Now() - t0;
	printf("INFO %s on %s: loaded in %.2f s, max_batch_rows %d, max_seqs %d, KV budget %.1f MB\n",
		   a->dir, e->ops->name, e->load_s, max_rows, max_seqs,
		   opt.kv_bytes / (1024.0 * 1024.0));
	fflush(stdout);
}

/* free the runtime and the model */
static void
EngineClose(BenchEngine *e)
{
	LlmRuntimeFree(e->rt);
	LlmModelFree(e->model);
}

/* qsort comparator for doubles */
static int
CompareDouble(const void *x, const void *y)
{
	double		a = *(const double *) x;
	double		b = *(const double *) y;

	return (a > b) - (a < b);
}

/* median of n values (sorts them) */
static double
Median(double *v, int n)
{
	qsort(v, n, sizeof(double), CompareDouble);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* the case's common key=value fields */
static void
PrintHead(const char *what, const BenchArgs *a)
{
	printf("RESULT %s impl=pgmlops device=%s precision=%s", what,
		   a->cuda ? "cuda" : "cpu",
		   a->precision == COMPUTE_PRECISION_BF16 ? "bf16" : "f32");
}

/*
 * Bytes of weights one decode step reads: every matrix once (embedding
 * lookups read a row, not the table), at the runtime's precision
 */
static double
DecodeWeightBytes(const LlmModel *m, ComputePrecision precision)
{
	double		esize = precision == COMPUTE_PRECISION_BF16 ? 2.0 : 4.0;
	double		elems = 0;

	for (int l = 0; l < m->cfg.n_layers; l++)
	{
		const LlmLayerWeights *w = &m->layers[l];
		const LlmTensor *mats[] = {w->wq, w->wk, w->wv, w->wo, w->w_gate, w->w_up, w->w_down};

		for (size_t i = 0; i < sizeof(mats) / sizeof(mats[0]); i++)
			if (mats[i] != NULL)
				elems += (double) LlmTensorCount(mats[i]);
	}
	if (m->lm_head != NULL)
		elems += (double) LlmTensorCount(m->lm_head);
	return elems * esize;
}

/* llmbench decode: B sequences, P prompt tokens each, then N greedy steps */
static int
CmdDecode(const BenchArgs *a)
{
	BenchEngine e;
	LlmError	err = {0};
	int			B = a->batch;
	int			P = a->prompt;
	int			N = a->tokens;
	int			max_rows;
	int			per_chunk;
	int		   *seqs;
	int32_t    *prompt;
	int32_t    *ids;
	int32_t    *first_tokens;
	LlmStepSeq *step;
	double	   *times;
	uint64_t	rng = a->seed;
	double		t0;
	double		prefill_s;
	double		total = 0;
	double		weight_bytes;
	int			vocab;
	int			rc;

	/* prefill chunks of whole prompts, at most 4096 rows (or one prompt) */
	max_rows = B * P < 4096 ? B * P : 4096;
	if (max_rows < P)
		max_rows = P;
	if (max_rows < B)
		max_rows = B;
	EngineOpen(a, &e, max_rows, B, P + N + 1);
	if (e.model->cfg.arch == LLM_ARCH_BERT)
		Die("decode needs a decoder model, not %s", e.model->cfg.model_type);
	vocab = e.model->cfg.vocab_size;
	weight_bytes = DecodeWeightBytes(e.model, a->precision);

	seqs = malloc(sizeof(int) * B);
	prompt = malloc(sizeof(int32_t) * (size_t) B * P);
	ids = malloc(sizeof(int32_t) * B);
	step = malloc(sizeof(LlmStepSeq) * B);
	times = malloc(sizeof(double) * N);
	first_tokens = malloc(sizeof(int32_t) * N);
	if (!seqs || !prompt || !ids || !step || !times || !first_tokens)
		Die("out of memory");

	for (size_t i = 0; i < (size_t) B * P; i++)
		prompt[i] = NextToken(&rng, 0, vocab);
	for (int s = 0; s < B; s++)
	{
		rc = LlmSeqOpen(e.rt, &seqs[s], &err);
		Check(rc, &err, "LlmSeqOpen");
	}

	/* prefill */
	per_chunk = max_rows / P;
	if (per_chunk < 1)
		per_chunk = 1;
	t0 = Now();
	for (int s0 = 0; s0 < B; s0 += per_chunk)
	{
		int			n = B - s0 < per_chunk ? B - s0 : per_chunk;

		for (int j = 0; j < n; j++)
		{
			step[j].seq = seqs[s0 + j];
			step[j].tokens = prompt + (size_t) (s0 + j) * P;
			step[j].n_tokens = P;
			step[j].want_logits = true;
		}
		rc = LlmStepArgmax(e.rt, step, n, ids + s0, &err);
		Check(rc, &err, "LlmStepArgmax (prefill)");
	}
	prefill_s = Now() - t0;

	/* one untimed decode step (first use of the one-row shapes), then N timed */
	for (int it = -1; it < N; it++)
	{
		for (int s = 0; s < B; s++)
		{
			step[s].seq = seqs[s];
			step[s].tokens = &ids[s];
			step[s].n_tokens = 1;
			step[s].want_logits = true;
		}
		t0 = Now();
		rc = LlmStepArgmax(e.rt, step, B, ids, &err);
		Check(rc, &err, "LlmStepArgmax (decode)");
		if (it >= 0)
		{
			times[it] = Now() - t0;
			total += times[it];
			first_tokens[it] = ids[0];
		}
		for (int s = 0; s < B; s++)
			if (ids[s] < 0 || ids[s] >= vocab)
				Die("decode step returned token %d outside the vocabulary", ids[s]);
	}

	printf("TOKENS decode seq0:");
	for (int i = 0; i < N && i < 32; i++)
		printf(" %d", first_tokens[i]);
	printf("\n");

	PrintHead("decode", a);
	printf(" batch=%d tokens=%d prompt=%d tok_s=%.1f ms_per_step=%.3f ms_per_step_p50=%.3f"
		   " prefill_tok_s=%.1f weight_mb=%.1f",
		   B, N, P, (double) B * N / total, 1e3 * total / N, 1e3 * Median(times, N),
		   (double) B * P / prefill_s, weight_bytes / 1e6);
	if (a->bw_gbs > 0)
	{
		/* every step reads the weights once, whatever the batch */
		double		floor_tok_s = a->bw_gbs * 1e9 / weight_bytes * B;

		printf(" bw_gbs=%.1f floor_tok_s=%.1f floor_frac=%.3f", a->bw_gbs,
			   floor_tok_s, ((double) B * N / total) / floor_tok_s);
	}
	printf("\n");
	fflush(stdout);

	for (int s = 0; s < B; s++)
		LlmSeqClose(e.rt, seqs[s]);
	free(seqs);
	free(prompt);
	free(ids);
	free(step);
	free(times);
	free(first_tokens);
	EngineClose(&e);
	return 0;
}

/* llmbench prefill: one sequence, one step of T tokens; warm-up, then repeat */
static int
CmdPrefill(const BenchArgs *a)
{
	BenchEngine e;
	LlmError	err = {0};
	int			T = a->tokens;
	int32_t    *tokens;
	double	   *times;
	double		best = 1e30;
	uint64_t	rng = a->seed;
	int			rc;

	EngineOpen(a, &e, T, 1, T);
	if (e.model->cfg.arch == LLM_ARCH_BERT)
		Die("prefill needs a decoder model, not %s", e.model->cfg.model_type);
	tokens = malloc(sizeof(int32_t) * T);
	times = malloc(sizeof(double) * a->repeat);
	if (!tokens || !times)
		Die("out of memory");
	for (int i = 0; i < T; i++)
		tokens[i] = NextToken(&rng, 0, e.model->cfg.vocab_size);

	for (int it = -1; it < a->repeat; it++)
	{
		LlmStepSeq step;
		int			seq;
		int32_t		id;
		double		t0;
		double		dt;

		rc = LlmSeqOpen(e.rt, &seq, &err);
		Check(rc, &err, "LlmSeqOpen");
		step.seq = seq;
		step.tokens = tokens;
		step.n_tokens = T;
		step.want_logits = true;
		t0 = Now();
		rc = LlmStepArgmax(e.rt, &step, 1, &id, &err);
		Check(rc, &err, "LlmStepArgmax (prefill)");
		dt = Now() - t0;
		LlmSeqClose(e.rt, seq);
		if (it >= 0)
		{
			times[it] = dt;
			if (dt < best)
				best = dt;
		}
	}

	PrintHead("prefill", a);
	printf(" batch=1 tokens=%d tok_s=%.1f tok_s_median=%.1f ms=%.3f repeat=%d\n",
		   T, T / best, T / Median(times, a->repeat), 1e3 * best, a->repeat);
	fflush(stdout);
	free(tokens);
	free(times);
	EngineClose(&e);
	return 0;
}

/* llmbench encode: LlmEncode of B sequences of S tokens; warm-up, then repeat */
static int
CmdEncode(const BenchArgs *a)
{
	BenchEngine e;
	LlmError	err = {0};
	int			B = a->batch;
	int			S = a->seq;
	int32_t    *tokens;
	const int32_t **ids;
	int		   *lens;
	float	   *out;
	double	   *times;
	double		best = 1e30;
	double		norm = 0;
	uint64_t	rng = a->seed;
	int			hidden;
	int			rc;

	if ((int64_t) B * S > (1 << 26))
		Die("--batch x --seq is too large");
	EngineOpen(a, &e, B * S, B, S);
	if (e.model->cfg.arch != LLM_ARCH_BERT)
		Die("encode needs an encoder model (BERT), not %s", e.model->cfg.model_type);
	if (S > e.model->cfg.max_position)
		Die("--seq %d exceeds the model's %d positions", S, e.model->cfg.max_position);
	hidden = e.model->cfg.hidden_size;

	tokens = malloc(sizeof(int32_t) * (size_t) B * S);
	ids = malloc(sizeof(int32_t *) * B);
	lens = malloc(sizeof(int) * B);
	out = malloc(sizeof(float) * (size_t) B * hidden);
	times = malloc(sizeof(double) * a->repeat);
	if (!tokens || !ids || !lens || !out || !times)
		Die("out of memory");
	/* random ids past the special tokens, every sequence full length */
	for (size_t i = 0; i < (size_t) B * S; i++)
		tokens[i] = NextToken(&rng, e.model->cfg.vocab_size > 1000 ? 1000 : 1,
							  e.model->cfg.vocab_size);
	for (int s = 0; s < B; s++)
	{
		ids[s] = tokens + (size_t) s * S;
		lens[s] = S;
	}

	for (int it = -1; it < a->repeat; it++)
	{
		double		t0 = Now();
		double		dt;

		rc = LlmEncode(e.rt, ids, lens, B, out, NULL, &err);
		Check(rc, &err, "LlmEncode");
		dt = Now() - t0;
		if (it >= 0)
		{
			times[it] = dt;
			if (dt < best)
				best = dt;
		}
	}
	for (int j = 0; j < hidden; j++)
		norm += (double) out[j] * out[j];
	if (!isfinite(norm))
		Die("encode produced a non-finite embedding");

	PrintHead("encode", a);
	printf(" batch=%d seq=%d seq_s=%.1f seq_s_median=%.1f tok_s=%.1f ms=%.3f repeat=%d norm0=%.4f\n",
		   B, S, B / best, B / Median(times, a->repeat), (double) B * S / best,
		   1e3 * best, a->repeat, sqrt(norm));
	fflush(stdout);
	free(tokens);
	free(ids);
	free(lens);
	free(out);
	free(times);
	EngineClose(&e);
	return 0;
}

int
main(int argc, char **argv)
{
	BenchArgs	a;

	ParseArgs(argc, argv, &a);
	if (strcmp(a.cmd, "cuda-available") == 0)
	{
#ifdef USE_CUDA
		return 0;
#else
		return 1;
#endif
	}
	if (strcmp(a.cmd, "make-model") == 0)
		return CmdMakeModel(&a);
	if (strcmp(a.cmd, "decode") == 0)
		return CmdDecode(&a);
	if (strcmp(a.cmd, "prefill") == 0)
		return CmdPrefill(&a);
	if (strcmp(a.cmd, "encode") == 0)
		return CmdEncode(&a);
	Usage();
	return 2;
}
