/*-------------------------------------------------------------------------
 *
 * config.c
 *	  Read a Hugging Face model configuration into an LlmConfig.
 *
 * config.json names the architecture (model_type, or architectures[0] in
 * older files) and its sizes.  Rotary settings come in two spellings: the
 * transformers-5 "rope_parameters" object, and the older top-level
 * "rope_theta" with an optional "rope_scaling" object; both are read, the
 * newer one winning.  generation_config.json, when present, overrides the
 * special token ids.  A sentence-transformers model adds modules.json,
 * whose Pooling module (with its own config.json) and optional Normalize
 * module decide how token states become one embedding.
 *
 * Every number is bounded here so that later layers can multiply sizes
 * without overflow checks of their own.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm/llmjson.h"
#include "llm/model.h"

/* upper bound of every size in config.json */
#define CONFIG_MAX_DIM	(1 << 20)

/* architectures[0] spellings of the supported model types */
static const struct
{
	const char *class_name;
	const char *model_type;
}			ArchClasses[] =
{
	{"LlamaForCausalLM", "llama"},
	{"LlamaModel", "llama"},
	{"MistralForCausalLM", "mistral"},
	{"MistralModel", "mistral"},
	{"Qwen2ForCausalLM", "qwen2"},
	{"Qwen2Model", "qwen2"},
	{"BertModel", "bert"},
	{"BertForMaskedLM", "bert"},
	{"BertForPreTraining", "bert"},
};

/*
 * Map a model_type string to an LlmArch; false when unsupported
 */
static bool
ArchFromType(const char *type, LlmArch *arch)
{
	if (strcmp(type, "llama") == 0)
		*arch = LLM_ARCH_LLAMA;
	else if (strcmp(type, "mistral") == 0)
		*arch = LLM_ARCH_MISTRAL;
	else if (strcmp(type, "qwen2") == 0)
		*arch = LLM_ARCH_QWEN2;
	else if (strcmp(type, "bert") == 0)
		*arch = LLM_ARCH_BERT;
	else
		return false;
	return true;
}

/*
 * Decide the architecture from model_type, else from architectures[0]
 */
static int
ReadArch(const json_t *root, LlmConfig *cfg, LlmError *err)
{
	const char *type = NULL;
	json_t	   *classes;

	if (LlmJsonGetString(root, "model_type", &type, "config.json", err) != LLM_OK)
		return err ? err->code : LLM_ERR_FORMAT;
	if (type == NULL)
	{
		const char *cls;

		classes = json_object_get(root, "architectures");
		if (!json_is_array(classes) || json_array_size(classes) == 0 ||
			!json_is_string(json_array_get(classes, 0)))
			return LlmSetError(err, LLM_ERR_FORMAT,
							   "config.json names no architecture (no \"model_type\" or \"architectures\")");
		cls = json_string_value(json_array_get(classes, 0));
		for (size_t i = 0; i < sizeof(ArchClasses) / sizeof(ArchClasses[0]); i++)
			if (strcmp(cls, ArchClasses[i].class_name) == 0)
				type = ArchClasses[i].model_type;
		if (type == NULL)
			return LlmSetError(err, LLM_ERR_UNSUPPORTED,
							   "unsupported architecture \"%.100s\"", cls);
	}
	if (!ArchFromType(type, &cfg->arch))
		return LlmSetError(err, LLM_ERR_UNSUPPORTED,
						   "unsupported architecture \"%.100s\"", type);
	snprintf(cfg->model_type, sizeof(cfg->model_type), "%s", type);
	return LLM_OK;
}

/*
 * Read a size in [lo, CONFIG_MAX_DIM]; required unless *out already holds a
 * default (>= 0)
 */
static int
ReadSize(const json_t *root, const char *key, int lo, int *out, LlmError *err)
{
	int64_t		v = *out;

	if (LlmJsonGetInt(root, key, lo, CONFIG_MAX_DIM, &v, "config.json", err) != LLM_OK)
		return LLM_ERR_FORMAT;
	if (v < 0)
		return LlmSetError(err, LLM_ERR_FORMAT, "config.json: \"%s\" is missing", key);
	*out = (int) v;
	return LLM_OK;
}

/*
 * Read a token id that may be null, an integer or (for eos) a list;
 * negative ids mean "none"
 */
static int
ReadTokenIds(const json_t *obj, const char *key, int *ids, int max_ids,
			 int *n_ids, const char *what, LlmError *err)
{
	json_t	   *v = json_object_get(obj, key);
	size_t		n;

	if (v == NULL)
		return LLM_OK;
	if (json_is_null(v))
	{
		*n_ids = 0;
		return LLM_OK;
	}
	if (json_is_integer(v))
	{
		json_int_t	id = json_integer_value(v);

		if (id > CONFIG_MAX_DIM * 4 || id < INT32_MIN)
			return LlmSetError(err, LLM_ERR_FORMAT, "%s: \"%s\" is out of range", what, key);
		*n_ids = 0;
		if (id >= 0)
			ids[(*n_ids)++] = (int) id;
		return LLM_OK;
	}
	if (!json_is_array(v) || max_ids == 1)
		return LlmSetError(err, LLM_ERR_FORMAT, "%s: \"%s\" must be an integer%s",
						   what, key, max_ids > 1 ? " or a list of integers" : "");
	n = json_array_size(v);
	if (n > (size_t) max_ids)
		return LlmSetError(err, LLM_ERR_FORMAT, "%s: \"%s\" has %zu ids, at most %d are supported",
						   what, key, n, max_ids);
	*n_ids = 0;
	for (size_t i = 0; i < n; i++)
	{
		json_t	   *e = json_array_get(v, i);
		json_int_t	id;

		if (!json_is_integer(e))
			return LlmSetError(err, LLM_ERR_FORMAT, "%s: \"%s\" must hold integers", what, key);
		id = json_integer_value(e);
		if (id < 0 || id > CONFIG_MAX_DIM * 4)
			return LlmSetError(err, LLM_ERR_FORMAT, "%s: \"%s\" holds an id out of range", what, key);
		ids[(*n_ids)++] = (int) id;
	}
	return LLM_OK;
}

/*
 * Read bos, eos and pad ids from config.json or generation_config.json
 */
static int
ReadSpecialTokens(const json_t *obj, LlmConfig *cfg, const char *what, LlmError *err)
{
	int			n;

	n = cfg->bos_id >= 0 ? 1 : 0;
	if (ReadTokenIds(obj, "bos_token_id", &cfg->bos_id, 1, &n, what, err) != LLM_OK)
		return LLM_ERR_FORMAT;
	if (n == 0)
		cfg->bos_id = -1;
	n = cfg->pad_id >= 0 ? 1 : 0;
	if (ReadTokenIds(obj, "pad_token_id", &cfg->pad_id, 1, &n, what, err) != LLM_OK)
		return LLM_ERR_FORMAT;
	if (n == 0)
		cfg->pad_id = -1;
	if (ReadTokenIds(obj, "eos_token_id", cfg->eos_ids, LLM_MAX_EOS, &cfg->n_eos,
					 what, err) != LLM_OK)
		return LLM_ERR_FORMAT;
	return LLM_OK;
}

/*
 * Read the rope type and its parameters from one object (rope_scaling or
 * rope_parameters)
 */
static int
ReadRopeObject(const json_t *obj, const char *what, LlmConfig *cfg, LlmError *err)
{
	const char *type = NULL;
	int64_t		orig = cfg->rope_original_max_position;

	if (!json_is_object(obj))
		return LlmSetError(err, LLM_ERR_FORMAT, "config.json: \"%s\" must be an object", what);
	if (LlmJsonGetString(obj, "rope_type", &type, what, err) != LLM_OK ||
		(type == NULL && LlmJsonGetString(obj, "type", &type, what, err) != LLM_OK) ||
		LlmJsonGetDouble(obj, "rope_theta", &cfg->rope_theta, what, err) != LLM_OK ||
		LlmJsonGetDouble(obj, "factor", &cfg->rope_factor, what, err) != LLM_OK ||
		LlmJsonGetDouble(obj, "low_freq_factor", &cfg->rope_low_freq_factor, what, err) != LLM_OK ||
		LlmJsonGetDouble(obj, "high_freq_factor", &cfg->rope_high_freq_factor, what, err) != LLM_OK ||
		LlmJsonGetInt(obj, "original_max_position_embeddings", 1, CONFIG_MAX_DIM,
					  &orig, what, err) != LLM_OK)
		return LLM_ERR_FORMAT;
	cfg->rope_original_max_position = (int) orig;
	if (type == NULL || strcmp(type, "default") == 0)
		cfg->rope_type = LLM_ROPE_DEFAULT;
	else if (strcmp(type, "linear") == 0)
		cfg->rope_type = LLM_ROPE_LINEAR;
	else if (strcmp(type, "llama3") == 0)
		cfg->rope_type = LLM_ROPE_LLAMA3;
	else
		return LlmSetError(err, LLM_ERR_UNSUPPORTED,
						   "unsupported rope type \"%.64s\"", type);
	return LLM_OK;
}

/*
 * Read and check the rotary embedding settings (both spellings)
 */
static int
ReadRope(const json_t *root, LlmConfig *cfg, LlmError *err)
{
	json_t	   *scaling = json_object_get(root, "rope_scaling");
	json_t	   *params = json_object_get(root, "rope_parameters");

	cfg->rope_theta = 10000.0;
	cfg->rope_type = LLM_ROPE_DEFAULT;
	cfg->rope_factor = 1.0;
	cfg->rope_low_freq_factor = 1.0;
	cfg->rope_high_freq_factor = 4.0;
	cfg->rope_original_max_position = cfg->max_position;

	if (LlmJsonGetDouble(root, "rope_theta", &cfg->rope_theta, "config.json", err) != LLM_OK)
		return LLM_ERR_FORMAT;
	if (scaling != NULL && !json_is_null(scaling))
	{
		int			rc = ReadRopeObject(scaling, "rope_scaling", cfg, err);

		if (rc != LLM_OK)
			return rc;
	}
	if (params != NULL && !json_is_null(params))
	{
		int			rc = ReadRopeObject(params, "rope_parameters", cfg, err);

		if (rc != LLM_OK)
			return rc;
	}

	if (!(cfg->rope_theta > 0.0 && isfinite(cfg->rope_theta)))
		return LlmSetError(err, LLM_ERR_FORMAT, "config.json: rope_theta must be positive");
	if (cfg->rope_type != LLM_ROPE_DEFAULT &&
		!(cfg->rope_factor > 0.0 && isfinite(cfg->rope_factor)))
		return LlmSetError(err, LLM_ERR_FORMAT, "config.json: the rope scaling factor must be positive");
	if (cfg->rope_type == LLM_ROPE_LLAMA3 &&
		!(cfg->rope_low_freq_factor > 0.0 &&
		  cfg->rope_high_freq_factor > cfg->rope_low_freq_factor &&
		  isfinite(cfg->rope_high_freq_factor)))
		return LlmSetError(err, LLM_ERR_FORMAT,
						   "config.json: llama3 rope needs 0 < low_freq_factor < high_freq_factor");
	return LLM_OK;
}

/*
 * Map hidden_act to an LlmActivation
 */
static int
ReadActivation(const json_t *root, LlmConfig *cfg, LlmError *err)
{
	const char *act = cfg->arch == LLM_ARCH_BERT ? "gelu" : "silu";

	if (LlmJsonGetString(root, "hidden_act", &act, "config.json", err) != LLM_OK)
		return LLM_ERR_FORMAT;
	if (strcmp(act, "silu") == 0 || strcmp(act, "swish") == 0)
		cfg->activation = LLM_ACT_SILU;
	else if (strcmp(act, "gelu") == 0)
		cfg->activation = LLM_ACT_GELU;
	else if (strcmp(act, "gelu_new") == 0 || strcmp(act, "gelu_pytorch_tanh") == 0)
		cfg->activation = LLM_ACT_GELU_TANH;
	else
		return LlmSetError(err, LLM_ERR_UNSUPPORTED,
						   "unsupported activation \"%.64s\"", act);
	return LLM_OK;
}

/*
 * Sliding-window attention: mistral applies it to every layer (4096 when
 * the key is absent, none when it is null); qwen2 only with
 * use_sliding_window (default false, as in transformers), to the layers
 * that layer_types marks "sliding_attention" or else to those from
 * max_window_layers (default 28) on.  Only all or none of the layers is
 * supported here.
 */
static int
ReadSlidingWindow(const json_t *root, LlmConfig *cfg, LlmError *err)
{
	bool		use = cfg->arch != LLM_ARCH_QWEN2;
	int64_t		window = 0;
	int64_t		max_window_layers = 28;
	json_t	   *types = json_object_get(root, "layer_types");

	cfg->sliding_window = 0;
	if (cfg->arch == LLM_ARCH_BERT)
		return LLM_OK;
	/* transformers' MistralConfig default, used when the key is absent */
	if (cfg->arch == LLM_ARCH_MISTRAL && json_object_get(root, "sliding_window") == NULL)
		window = 4096;
	if (LlmJsonGetBool(root, "use_sliding_window", &use, "config.json", err) != LLM_OK ||
		LlmJsonGetInt(root, "sliding_window", 0, INT32_MAX, &window, "config.json", err) != LLM_OK)
		return LLM_ERR_FORMAT;
	if (!use || window == 0)
		return LLM_OK;
	if (cfg->arch == LLM_ARCH_QWEN2 && json_is_array(types))
	{
		size_t		n_sliding = 0;

		for (size_t i = 0; i < json_array_size(types); i++)
			if (json_is_string(json_array_get(types, i)) &&
				strcmp(json_string_value(json_array_get(types, i)), "sliding_attention") == 0)
				n_sliding++;
		if (n_sliding == 0)
			return LLM_OK;
		if (n_sliding != json_array_size(types))
			return LlmSetError(err, LLM_ERR_UNSUPPORTED,
							   "sliding-window attention on only some layers is not supported");
	}
	else if (cfg->arch == LLM_ARCH_QWEN2)
	{
		if (LlmJsonGetInt(root, "max_window_layers", 0, INT32_MAX, &max_window_layers,
						  "config.json", err) != LLM_OK)
			return LLM_ERR_FORMAT;
		if (max_window_layers >= cfg->n_layers)
			return LLM_OK;
		if (max_window_layers > 0)
			return LlmSetError(err, LLM_ERR_UNSUPPORTED,
							   "sliding-window attention on only some layers is not supported");
	}
	cfg->sliding_window = (int) window;
	return LLM_OK;
}

/*
 * Fill cfg from a parsed config.json
 */
static int
ParseConfigObject(const json_t *root, LlmConfig *cfg, LlmError *err)
{
	bool		bert;
	int			rc;
	int64_t		type_vocab = 2;
	int64_t		head_dim = -1;
	double		eps;

	memset(cfg, 0, sizeof(*cfg));
	cfg->bos_id = -1;
	cfg->pad_id = -1;
	cfg->pooling = LLM_POOL_NONE;

	if (!json_is_object(root))
		return LlmSetError(err, LLM_ERR_FORMAT, "config.json must hold a JSON object");
	if ((rc = ReadArch(root, cfg, err)) != LLM_OK)
		return rc;
	bert = cfg->arch == LLM_ARCH_BERT;

	/* sizes; max_position_embeddings defaults as transformers does */
	cfg->vocab_size = cfg->hidden_size = cfg->intermediate_size = -1;
	cfg->n_layers = cfg->n_heads = -1;
	switch (cfg->arch)
	{
		case LLM_ARCH_LLAMA:
			cfg->max_position = 2048;
			break;
		case LLM_ARCH_MISTRAL:
			cfg->max_position = 131072;
			break;
		case LLM_ARCH_QWEN2:
			cfg->max_position = 32768;
			break;
		case LLM_ARCH_BERT:
			cfg->max_position = 512;
			break;
	}
	if (ReadSize(root, "vocab_size", 1, &cfg->vocab_size, err) != LLM_OK ||
		ReadSize(root, "hidden_size", 1, &cfg->hidden_size, err) != LLM_OK ||
		ReadSize(root, "intermediate_size", 1, &cfg->intermediate_size, err) != LLM_OK ||
		ReadSize(root, "num_hidden_layers", 1, &cfg->n_layers, err) != LLM_OK ||
		ReadSize(root, "num_attention_heads", 1, &cfg->n_heads, err) != LLM_OK ||
		ReadSize(root, "max_position_embeddings", 1, &cfg->max_position, err) != LLM_OK)
		return LLM_ERR_FORMAT;
	if (cfg->n_layers > LLM_MAX_LAYERS)
		return LlmSetError(err, LLM_ERR_FORMAT,
						   "config.json: %d layers, at most %d are supported",
						   cfg->n_layers, LLM_MAX_LAYERS);

	cfg->n_kv_heads = cfg->n_heads;
	if (!bert && ReadSize(root, "num_key_value_heads", 1, &cfg->n_kv_heads, err) != LLM_OK)
		return LLM_ERR_FORMAT;
	if (cfg->n_kv_heads > cfg->n_heads || cfg->n_heads % cfg->n_kv_heads != 0)
		return LlmSetError(err, LLM_ERR_FORMAT,
						   "config.json: %d attention heads are not a multiple of %d key/value heads",
						   cfg->n_heads, cfg->n_kv_heads);
	if (!bert && LlmJsonGetInt(root, "head_dim", 1, CONFIG_MAX_DIM, &head_dim,
							   "config.json", err) != LLM_OK)
		return LLM_ERR_FORMAT;
	if (head_dim <= 0)
	{
		if (cfg->hidden_size % cfg->n_heads != 0)
			return LlmSetError(err, LLM_ERR_FORMAT,
							   "config.json: hidden_size %d is not a multiple of %d attention heads",
							   cfg->hidden_size, cfg->n_heads);
		head_dim = cfg->hidden_size / cfg->n_heads;
	}
	cfg->head_dim = (int) head_dim;
	if ((int64_t) cfg->n_heads * cfg->head_dim > CONFIG_MAX_DIM)
		return LlmSetError(err, LLM_ERR_FORMAT,
						   "config.json: %d heads of %d dimensions are too many",
						   cfg->n_heads, cfg->head_dim);
	if (!bert && cfg->head_dim % 2 != 0)
		return LlmSetError(err, LLM_ERR_FORMAT,
						   "config.json: head_dim %d is odd; rotary embeddings need an even one",
						   cfg->head_dim);
	if (bert && cfg->head_dim * cfg->n_heads != cfg->hidden_size)
		return LlmSetError(err, LLM_ERR_FORMAT,
						   "config.json: hidden_size %d is not a multiple of %d attention heads",
						   cfg->hidden_size, cfg->n_heads);

	/* norms, activation, biases */
	eps = bert ? 1e-12 : 1e-6;
	if (LlmJsonGetDouble(root, bert ? "layer_norm_eps" : "rms_norm_eps", &eps,
						 "config.json", err) != LLM_OK)
		return LLM_ERR_FORMAT;
	if (!(eps >= 0.0 && eps < 1.0))
		return LlmSetError(err, LLM_ERR_FORMAT, "config.json: the norm epsilon must be in [0, 1)");
	cfg->norm_eps = (float) eps;
	if ((rc = ReadActivation(root, cfg, err)) != LLM_OK)
		return rc;
	cfg->tie_embeddings = bert;
	if (LlmJsonGetBool(root, "tie_word_embeddings", &cfg->tie_embeddings, "config.json", err) != LLM_OK)
		return LLM_ERR_FORMAT;
	if (cfg->arch == LLM_ARCH_LLAMA &&
		(LlmJsonGetBool(root, "attention_bias", &cfg->attention_bias, "config.json", err) != LLM_OK ||
		 LlmJsonGetBool(root, "mlp_bias", &cfg->mlp_bias, "config.json", err) != LLM_OK))
		return LLM_ERR_FORMAT;
	if (cfg->arch == LLM_ARCH_QWEN2)
		cfg->attention_bias = true;
	if (bert)
	{
		const char *pos = "absolute";

		cfg->attention_bias = true;
		cfg->mlp_bias = true;
		if (LlmJsonGetInt(root, "type_vocab_size", 1, CONFIG_MAX_DIM, &type_vocab,
						  "config.json", err) != LLM_OK ||
			LlmJsonGetString(root, "position_embedding_type", &pos, "config.json", err) != LLM_OK)
			return LLM_ERR_FORMAT;
		if (strcmp(pos, "absolute") != 0)
			return LlmSetError(err, LLM_ERR_UNSUPPORTED,
							   "unsupported position embedding type \"%.64s\"", pos);
		cfg->type_vocab_size = (int) type_vocab;
	}

	if ((rc = ReadSlidingWindow(root, cfg, err)) != LLM_OK)
		return rc;
	if (!bert && (rc = ReadRope(root, cfg, err)) != LLM_OK)
		return rc;
	if (bert)
	{
		cfg->rope_theta = 10000.0;
		cfg->rope_factor = 1.0;
	}
	return ReadSpecialTokens(root, cfg, "config.json", err);
}

/*
 * Parse one config.json text
 */
int
LlmConfigParse(const char *json, size_t len, LlmConfig *cfg, LlmError *err)
{
	json_t	   *root;
	int			rc;

	memset(cfg, 0, sizeof(*cfg));
	root = LlmJsonParse(json, len, "config.json", err);
	if (root == NULL)
		return LLM_ERR_FORMAT;
	rc = ParseConfigObject(root, cfg, err);
	json_decref(root);
	return rc;
}

/*
 * Does a file exist (any type)?
 */
static bool
FileExists(const char *path)
{
	FILE	   *f = fopen(path, "rb");

	if (f == NULL)
		return false;
	fclose(f);
	return true;
}

/*
 * Read a sentence-transformers Pooling module's config.json
 */
static int
ReadPooling(const char *path, LlmConfig *cfg, LlmError *err)
{
	json_t	   *root;
	const char *mode = NULL;
	int			rc = LLM_OK;

	root = LlmJsonLoadFile(path, LLM_MAX_CONFIG_BYTES, err);
	if (root == NULL)
		return err ? err->code : LLM_ERR_FORMAT;
	if (!json_is_object(root))
		rc = LlmSetError(err, LLM_ERR_FORMAT, "%s must hold a JSON object", path);
	else if (LlmJsonGetString(root, "pooling_mode", &mode, path, err) != LLM_OK)
		rc = LLM_ERR_FORMAT;
	else if (mode != NULL)
	{
		if (strcmp(mode, "mean") == 0)
			cfg->pooling = LLM_POOL_MEAN;
		else if (strcmp(mode, "cls") == 0)
			cfg->pooling = LLM_POOL_CLS;
		else
			rc = LlmSetError(err, LLM_ERR_UNSUPPORTED,
							 "unsupported pooling mode \"%.64s\"", mode);
	}
	else
	{
		/* the older spelling: one boolean per mode */
		static const char *const other[] = {
			"pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens",
			"pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"
		};
		bool		mean = false;
		bool		cls = false;

		if (LlmJsonGetBool(root, "pooling_mode_mean_tokens", &mean, path, err) != LLM_OK ||
			LlmJsonGetBool(root, "pooling_mode_cls_token", &cls, path, err) != LLM_OK)
			rc = LLM_ERR_FORMAT;
		for (size_t i = 0; rc == LLM_OK && i < sizeof(other) / sizeof(other[0]); i++)
		{
			bool		on = false;

			if (LlmJsonGetBool(root, other[i], &on, path, err) != LLM_OK)
				rc = LLM_ERR_FORMAT;
			else if (on)
				rc = LlmSetError(err, LLM_ERR_UNSUPPORTED,
								 "unsupported pooling mode \"%s\"", other[i]);
		}
		if (rc == LLM_OK)
		{
			if (mean && cls)
				rc = LlmSetError(err, LLM_ERR_UNSUPPORTED,
								 "combined mean and CLS pooling is not supported");
			else if (mean)
				cfg->pooling = LLM_POOL_MEAN;
			else if (cls)
				cfg->pooling = LLM_POOL_CLS;
			else
				rc = LlmSetError(err, LLM_ERR_FORMAT, "%s sets no pooling mode", path);
		}
	}
	json_decref(root);
	return rc;
}

/*
 * Does a module type name end with the given class name?
 */
static bool
TypeIs(const char *type, const char *cls)
{
	size_t		lt = strlen(type);
	size_t		lc = strlen(cls);

	return lt >= lc && strcmp(type + lt - lc, cls) == 0 &&
		(lt == lc || type[lt - lc - 1] == '.');
}

/*
 * Read modules.json of a sentence-transformers model, if there is one
 */
static int
ReadModules(const char *dir, LlmConfig *cfg, LlmError *err)
{
	char		path[4096];
	json_t	   *root;
	int			rc = LLM_OK;

	if (!LlmPathJoin(path, sizeof(path), dir, "modules.json"))
		return LlmSetError(err, LLM_ERR_ARGUMENT, "model path is too long");
	if (!FileExists(path))
		return LLM_OK;
	root = LlmJsonLoadFile(path, LLM_MAX_CONFIG_BYTES, err);
	if (root == NULL)
		return err ? err->code : LLM_ERR_FORMAT;
	if (!json_is_array(root))
		rc = LlmSetError(err, LLM_ERR_FORMAT, "modules.json must hold a JSON array");
	for (size_t i = 0; rc == LLM_OK && i < json_array_size(root); i++)
	{
		json_t	   *mod = json_array_get(root, i);
		const char *type = NULL;
		const char *sub = "";

		if (!json_is_object(mod))
		{
			rc = LlmSetError(err, LLM_ERR_FORMAT, "modules.json: module %zu is not an object", i);
			break;
		}
		if (LlmJsonGetString(mod, "type", &type, "modules.json", err) != LLM_OK ||
			LlmJsonGetString(mod, "path", &sub, "modules.json", err) != LLM_OK)
		{
			rc = LLM_ERR_FORMAT;
			break;
		}
		if (type == NULL)
			rc = LlmSetError(err, LLM_ERR_FORMAT, "modules.json: module %zu has no type", i);
		else if (TypeIs(type, "Transformer"))
			continue;
		else if (TypeIs(type, "Normalize"))
			cfg->normalize = true;
		else if (TypeIs(type, "Pooling"))
		{
			char		subdir[4096];

			if (sub[0] == '\0' || sub[0] == '/' || strstr(sub, "..") != NULL)
				rc = LlmSetError(err, LLM_ERR_FORMAT,
								 "modules.json: bad module path \"%.100s\"", sub);
			else if (!LlmPathJoin(subdir, sizeof(subdir), dir, sub) ||
					 !LlmPathJoin(path, sizeof(path), subdir, "config.json"))
				rc = LlmSetError(err, LLM_ERR_ARGUMENT, "model path is too long");
			else
				rc = ReadPooling(path, cfg, err);
		}
		else
			rc = LlmSetError(err, LLM_ERR_UNSUPPORTED,
							 "unsupported sentence-transformers module \"%.100s\"", type);
	}
	json_decref(root);
	return rc;
}

/*
 * Read config.json, generation_config.json and modules.json from dir
 */
int
LlmConfigLoad(const char *dir, LlmConfig *cfg, LlmError *err)
{
	char		path[4096];
	char	   *data;
	size_t		len;
	int			rc;

	memset(cfg, 0, sizeof(*cfg));
	if (!LlmPathJoin(path, sizeof(path), dir, "config.json"))
		return LlmSetError(err, LLM_ERR_ARGUMENT, "model path is too long");
	if ((rc = LlmReadFile(path, LLM_MAX_CONFIG_BYTES, &data, &len, err)) != LLM_OK)
		return rc;
	rc = LlmConfigParse(data, len, cfg, err);
	free(data);
	if (rc != LLM_OK)
		return rc;

	if (!LlmPathJoin(path, sizeof(path), dir, "generation_config.json"))
		return LlmSetError(err, LLM_ERR_ARGUMENT, "model path is too long");
	if (FileExists(path))
	{
		json_t	   *gen = LlmJsonLoadFile(path, LLM_MAX_CONFIG_BYTES, err);

		if (gen == NULL)
			return err ? err->code : LLM_ERR_FORMAT;
		if (!json_is_object(gen))
			rc = LlmSetError(err, LLM_ERR_FORMAT,
							 "generation_config.json must hold a JSON object");
		else
			rc = ReadSpecialTokens(gen, cfg, "generation_config.json", err);
		json_decref(gen);
		if (rc != LLM_OK)
			return rc;
	}
	return ReadModules(dir, cfg, err);
}
