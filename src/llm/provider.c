/*-------------------------------------------------------------------------
 *
 * provider.c
 *	  Chat and embedding requests to OpenAI-compatible and Ollama
 *	  servers: request bodies, reply parsing, embedding batches.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "llm/providerint.h"

#define WHAT_REPLY	"provider reply"

void
LlmProviderInit(LlmProvider *prov, LlmProviderKind kind, const char *base_url,
				const char *model)
{
	memset(prov, 0, sizeof(*prov));
	prov->kind = kind;
	prov->base_url = base_url;
	prov->model = model;
	LlmHttpPolicyDefaults(&prov->policy);
	prov->embed_batch_inputs = 64;
	prov->embed_batch_tokens = 8192;
}

void
LlmChatParamsInit(LlmChatParams *params)
{
	memset(params, 0, sizeof(*params));
	params->temperature = NAN;
	params->top_p = NAN;
}

void
LlmChatResultFree(LlmChatResult *res)
{
	if (res == NULL)
		return;
	free(res->text);
	free(res->finish_reason);
	memset(res, 0, sizeof(*res));
}

void
LlmEmbedResultFree(LlmEmbedResult *res)
{
	if (res == NULL)
		return;
	free(res->data);
	memset(res, 0, sizeof(*res));
}

/*
 * <base>/<path> for the provider's API: "/v1/..." for OpenAI (a base
 * already ending in /v1 keeps it), "/api/..." for Ollama
 */
char *
LlmProviderUrl(const LlmProvider *prov, const char *openai_path,
			   const char *ollama_path, LlmError *err)
{
	size_t		blen;
	const char *suffix;
	char	   *url;

	if (prov->base_url == NULL || prov->base_url[0] == '\0')
	{
		LlmSetError(err, LLM_ERR_ARGUMENT, "provider base URL is empty");
		return NULL;
	}
	blen = strlen(prov->base_url);
	while (blen > 0 && prov->base_url[blen - 1] == '/')
		blen--;
	if (prov->kind == LLM_PROVIDER_OPENAI)
	{
		suffix = openai_path;
		if (blen >= 3 && strncmp(prov->base_url + blen - 3, "/v1", 3) == 0)
			suffix += 3;		/* skip "/v1" of openai_path */
	}
	else
		suffix = ollama_path;
	url = LlmAlloc(blen + strlen(suffix) + 1, err);
	if (url == NULL)
		return NULL;
	memcpy(url, prov->base_url, blen);
	strcpy(url + blen, suffix);
	return url;
}

/* set key to a new string; false if s is not valid UTF-8 (or no memory) */
static bool
SetString(json_t *obj, const char *key, const char *s)
{
	json_t	   *v = json_string(s);

	return v != NULL && json_object_set_new(obj, key, v) == 0;
}

static int
DumpBody(json_t *root, char **body, LlmError *err)
{
	*body = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (*body == NULL)
		return LlmSetError(err, LLM_ERR_NOMEM, "out of memory building a request");
	return LLM_OK;
}

int
LlmProviderBuildChat(LlmProviderKind kind, const char *model,
					 const LlmChatMessage *msgs, int n_msgs,
					 const LlmChatParams *params, char **body, LlmError *err)
{
	json_t	   *root;
	json_t	   *messages;
	json_t	   *opts;

	*body = NULL;
	if (model == NULL || model[0] == '\0')
		return LlmSetError(err, LLM_ERR_ARGUMENT, "provider model name is empty");
	if (n_msgs <= 0 || msgs == NULL)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "chat needs at least one message");
	if (params->n_stop < 0 || (params->n_stop > 0 && params->stop == NULL))
		return LlmSetError(err, LLM_ERR_ARGUMENT, "invalid stop list");
	if (!isnan(params->temperature) &&
		!(params->temperature >= 0.0 && params->temperature <= 2.0))
		return LlmSetError(err, LLM_ERR_ARGUMENT, "temperature must be between 0 and 2");
	if (!isnan(params->top_p) && !(params->top_p > 0.0 && params->top_p <= 1.0))
		return LlmSetError(err, LLM_ERR_ARGUMENT, "top_p must be in (0, 1]");

	root = LlmJsonObject();
	messages = json_array();
	opts = kind == LLM_PROVIDER_OLLAMA ? LlmJsonObject() : root;
	if (root == NULL || messages == NULL || opts == NULL)
	{
		json_decref(root);
		json_decref(messages);
		if (opts != root)
			json_decref(opts);
		return LlmSetError(err, LLM_ERR_NOMEM, "out of memory building a request");
	}
	json_object_set_new(root, "messages", messages);
	if (opts != root)
		json_object_set_new(root, "options", opts);
	if (!SetString(root, "model", model))
	{
		json_decref(root);
		return LlmSetError(err, LLM_ERR_ARGUMENT, "provider model name is not valid UTF-8");
	}
	for (int i = 0; i < n_msgs; i++)
	{
		json_t	   *m = LlmJsonObject();

		if (msgs[i].role == NULL || msgs[i].content == NULL)
		{
			json_decref(m);
			json_decref(root);
			return LlmSetError(err, LLM_ERR_ARGUMENT, "message %d has no role or content", i);
		}
		if (m == NULL || json_array_append_new(messages, m) != 0 ||
			!SetString(m, "role", msgs[i].role) ||
			!SetString(m, "content", msgs[i].content))
		{
			json_decref(root);
			return LlmSetError(err, LLM_ERR_ARGUMENT, "message %d is not valid UTF-8", i);
		}
	}
	if (kind == LLM_PROVIDER_OLLAMA || params->stream)
		json_object_set_new(root, "stream", json_boolean(params->stream));
	if (kind == LLM_PROVIDER_OPENAI && params->stream)
	{
		json_t	   *so = LlmJsonObject();

		/* the last event then says how many tokens there were */
		if (so == NULL || json_object_set_new(so, "include_usage", json_true()) != 0 ||
			json_object_set_new(root, "stream_options", so) != 0)
		{
			json_decref(root);
			return LlmSetError(err, LLM_ERR_NOMEM, "out of memory building a request");
		}
	}
	if (params->max_tokens > 0)
		json_object_set_new(opts, kind == LLM_PROVIDER_OLLAMA ? "num_predict" : "max_tokens",
							json_integer(params->max_tokens));
	if (!isnan(params->temperature))
		json_object_set_new(opts, "temperature", json_real(params->temperature));
	if (!isnan(params->top_p))
		json_object_set_new(opts, "top_p", json_real(params->top_p));
	if (params->has_seed)
		json_object_set_new(opts, "seed", json_integer(params->seed));
	if (params->n_stop > 0)
	{
		json_t	   *stop = json_array();

		json_object_set_new(opts, "stop", stop);
		for (int i = 0; i < params->n_stop; i++)
		{
			json_t	   *s = params->stop[i] != NULL ? json_string(params->stop[i]) : NULL;

			if (stop == NULL || s == NULL || json_array_append_new(stop, s) != 0)
			{
				json_decref(root);
				return LlmSetError(err, LLM_ERR_ARGUMENT, "stop string %d is missing or not valid UTF-8", i);
			}
		}
	}
	return DumpBody(root, body, err);
}

int
LlmProviderBuildEmbed(LlmProviderKind kind, const char *model,
					  const char *const *inputs, int n_inputs, char **body,
					  LlmError *err)
{
	json_t	   *root;
	json_t	   *arr;

	*body = NULL;
	if (model == NULL || model[0] == '\0')
		return LlmSetError(err, LLM_ERR_ARGUMENT, "provider model name is empty");
	if (n_inputs <= 0 || inputs == NULL)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "embedding needs at least one input");
	root = LlmJsonObject();
	arr = json_array();
	if (root == NULL || arr == NULL)
	{
		json_decref(root);
		json_decref(arr);
		return LlmSetError(err, LLM_ERR_NOMEM, "out of memory building a request");
	}
	json_object_set_new(root, "input", arr);
	if (!SetString(root, "model", model))
	{
		json_decref(root);
		return LlmSetError(err, LLM_ERR_ARGUMENT, "provider model name is not valid UTF-8");
	}
	if (kind == LLM_PROVIDER_OPENAI)
		json_object_set_new(root, "encoding_format", json_string("float"));
	for (int i = 0; i < n_inputs; i++)
	{
		json_t	   *s = inputs[i] != NULL ? json_string(inputs[i]) : NULL;

		if (s == NULL || json_array_append_new(arr, s) != 0)
		{
			json_decref(root);
			return LlmSetError(err, LLM_ERR_ARGUMENT, "input %d is missing or not valid UTF-8", i);
		}
	}
	return DumpBody(root, body, err);
}

/*
 * Parse a reply that must be a JSON object; a JSON "error" member (both
 * APIs use one) becomes the error
 */
json_t *
LlmProviderParseObject(const char *data, size_t len, const char *secret, LlmError *err)
{
	char		snippet[LLM_HTTP_SNIPPET + 1];
	json_t	   *root;
	json_t	   *e;
	json_error_t jerr;

	root = data != NULL ? json_loadb(data, len, 0, &jerr) : NULL;
	if (root == NULL || !json_is_object(root))
	{
		json_decref(root);
		LlmHttpSnippet(snippet, sizeof(snippet), data, len, secret);
		LlmSetError(err, LLM_ERR_FORMAT, "%s is not a JSON object: \"%s\"",
					WHAT_REPLY, snippet);
		return NULL;
	}
	e = json_object_get(root, "error");
	if (e != NULL && !json_is_null(e))
	{
		json_t	   *msg = json_is_object(e) ? json_object_get(e, "message") : e;
		const char *s = json_is_string(msg) ? json_string_value(msg) : "(no message)";

		LlmHttpSnippet(snippet, sizeof(snippet), s, strlen(s), secret);
		LlmSetError(err, LLM_ERR_IO, "provider returned an error: %s", snippet);
		json_decref(root);
		return NULL;
	}
	return root;
}

int
LlmProviderUsage(LlmProviderKind kind, const json_t *usage, int64_t *prompt_tokens,
				 int64_t *completion_tokens, LlmError *err)
{
	const char *pk = kind == LLM_PROVIDER_OPENAI ? "prompt_tokens" : "prompt_eval_count";
	const char *ck = kind == LLM_PROVIDER_OPENAI ? "completion_tokens" : "eval_count";
	int			rc;

	if (!json_is_object(usage))
		return LLM_OK;
	if ((rc = LlmJsonGetInt(usage, pk, 0, INT64_MAX, prompt_tokens, WHAT_REPLY, err)) != LLM_OK)
		return rc;
	return LlmJsonGetInt(usage, ck, 0, INT64_MAX, completion_tokens, WHAT_REPLY, err);
}

static char *
DupString(const char *s, LlmError *err)
{
	size_t		n = strlen(s);
	char	   *p = LlmAlloc(n + 1, err);

	if (p != NULL)
		memcpy(p, s, n + 1);
	return p;
}

int
LlmProviderParseChat(LlmProviderKind kind, const char *data, size_t len,
					 const char *secret, LlmChatResult *out, LlmError *err)
{
	json_t	   *root;
	json_t	   *msg;
	json_t	   *usage = NULL;
	const char *content = NULL;
	const char *finish = NULL;
	const char *where;
	int			rc;

	memset(out, 0, sizeof(*out));
	out->prompt_tokens = out->completion_tokens = -1;
	if ((root = LlmProviderParseObject(data, len, secret, err)) == NULL)
		return err != NULL ? err->code : LLM_ERR_FORMAT;

	if (kind == LLM_PROVIDER_OPENAI)
	{
		json_t	   *choices = json_object_get(root, "choices");
		json_t	   *c0 = json_array_get(choices, 0);

		where = "choices[0].message.content";
		msg = json_object_get(c0, "message");
		if (json_is_object(c0) &&
			(rc = LlmJsonGetString(c0, "finish_reason", &finish, WHAT_REPLY, err)) != LLM_OK)
			goto fail;
		usage = json_object_get(root, "usage");
		if (usage != NULL && !json_is_null(usage) && !json_is_object(usage))
		{
			rc = LlmSetError(err, LLM_ERR_FORMAT, "%s: \"usage\" must be an object", WHAT_REPLY);
			goto fail;
		}
	}
	else
	{
		where = "message.content";
		msg = json_object_get(root, "message");
		if ((rc = LlmJsonGetString(root, "done_reason", &finish, WHAT_REPLY, err)) != LLM_OK)
			goto fail;
		usage = root;
	}
	if (!json_is_object(msg) || !json_is_string(json_object_get(msg, "content")))
	{
		rc = LlmSetError(err, LLM_ERR_FORMAT, "%s has no %s string", WHAT_REPLY, where);
		goto fail;
	}
	content = json_string_value(json_object_get(msg, "content"));
	if ((rc = LlmProviderUsage(kind, usage, &out->prompt_tokens,
							   &out->completion_tokens, err)) != LLM_OK)
		goto fail;
	if ((out->text = DupString(content, err)) == NULL ||
		(finish != NULL && (out->finish_reason = DupString(finish, err)) == NULL))
	{
		rc = LLM_ERR_NOMEM;
		goto fail;
	}
	json_decref(root);
	return LLM_OK;

fail:
	json_decref(root);
	LlmChatResultFree(out);
	return rc;
}

/* copy one JSON array of numbers into dst[dim] */
static int
CopyVector(const json_t *arr, float *dst, int dim, int i, LlmError *err)
{
	for (int j = 0; j < dim; j++)
	{
		json_t	   *v = json_array_get(arr, j);

		if (!json_is_number(v))
			return LlmSetError(err, LLM_ERR_FORMAT,
							   "%s: embedding %d has a non-number at %d", WHAT_REPLY, i, j);
		dst[j] = (float) json_number_value(v);
		if (!isfinite(dst[j]))
			return LlmSetError(err, LLM_ERR_FORMAT,
							   "%s: embedding %d has a value out of float range at %d",
							   WHAT_REPLY, i, j);
	}
	return LLM_OK;
}

int
LlmProviderParseEmbed(LlmProviderKind kind, const char *data, size_t len,
					  int n_inputs, const char *secret, LlmEmbedResult *out,
					  LlmError *err)
{
	json_t	   *root;
	json_t	   *list;
	json_t	   *usage;
	bool	   *seen = NULL;
	float	   *grown;
	int			dim = out->dim;
	int			n;
	int			rc = LLM_OK;

	if ((root = LlmProviderParseObject(data, len, secret, err)) == NULL)
		return err != NULL ? err->code : LLM_ERR_FORMAT;
	list = json_object_get(root, kind == LLM_PROVIDER_OPENAI ? "data" : "embeddings");
	if (!json_is_array(list))
	{
		rc = LlmSetError(err, LLM_ERR_FORMAT, "%s has no \"%s\" array", WHAT_REPLY,
						 kind == LLM_PROVIDER_OPENAI ? "data" : "embeddings");
		goto done;
	}
	n = (int) json_array_size(list);
	if (n != n_inputs)
	{
		rc = LlmSetError(err, LLM_ERR_FORMAT, "provider returned %d embeddings for %d inputs",
						 n, n_inputs);
		goto done;
	}
	for (int i = 0; i < n; i++)
	{
		json_t	   *item = json_array_get(list, i);
		json_t	   *vec = kind == LLM_PROVIDER_OPENAI ? json_object_get(item, "embedding") : item;
		int			d;

		if (!json_is_array(vec))
		{
			rc = LlmSetError(err, LLM_ERR_FORMAT, "%s: embedding %d is not an array of numbers",
							 WHAT_REPLY, i);
			goto done;
		}
		d = (int) json_array_size(vec);
		if (d <= 0 || d > LLM_PROVIDER_MAX_DIM)
		{
			rc = LlmSetError(err, LLM_ERR_FORMAT, "%s: embedding %d has %d dimensions",
							 WHAT_REPLY, i, d);
			goto done;
		}
		if (dim == 0)
			dim = d;
		else if (d != dim)
		{
			rc = LlmSetError(err, LLM_ERR_FORMAT,
							 "%s: embeddings have different dimensions (%d and %d)",
							 WHAT_REPLY, dim, d);
			goto done;
		}
	}

	grown = realloc(out->data, (size_t) (out->n + n) * dim * sizeof(float));
	seen = calloc(n, sizeof(bool));
	if (grown == NULL || seen == NULL)
	{
		if (grown != NULL)
			out->data = grown;
		rc = LlmSetError(err, LLM_ERR_NOMEM, "out of memory reading embeddings");
		goto done;
	}
	out->data = grown;
	for (int i = 0; i < n; i++)
	{
		json_t	   *item = json_array_get(list, i);
		json_t	   *vec = kind == LLM_PROVIDER_OPENAI ? json_object_get(item, "embedding") : item;
		int64_t		at = i;

		/* OpenAI numbers the vectors; order by that number */
		if (kind == LLM_PROVIDER_OPENAI &&
			(rc = LlmJsonGetInt(item, "index", 0, n - 1, &at, WHAT_REPLY, err)) != LLM_OK)
			goto done;
		if (seen[at])
		{
			rc = LlmSetError(err, LLM_ERR_FORMAT, "%s: embedding index %lld appears twice",
							 WHAT_REPLY, (long long) at);
			goto done;
		}
		seen[at] = true;
		if ((rc = CopyVector(vec, out->data + (size_t) (out->n + at) * dim, dim, i, err)) != LLM_OK)
			goto done;
	}

	usage = kind == LLM_PROVIDER_OPENAI ? json_object_get(root, "usage") : root;
	if (json_is_object(usage))
	{
		int64_t		tokens = -1;

		if ((rc = LlmJsonGetInt(usage, kind == LLM_PROVIDER_OPENAI ? "prompt_tokens" : "prompt_eval_count",
								0, INT64_MAX, &tokens, WHAT_REPLY, err)) != LLM_OK)
			goto done;
		if (tokens >= 0)
			out->prompt_tokens = (out->prompt_tokens > 0 ? out->prompt_tokens : 0) + tokens;
	}
	out->dim = dim;
	out->n += n;

done:
	free(seen);
	json_decref(root);
	return rc;
}

/* POST body to url with the provider's secret and policy */
static int
Post(const LlmProvider *prov, const char *url, const char *body,
	 LlmHttpResponse *resp, LlmError *err)
{
	LlmHttpRequest req;

	memset(&req, 0, sizeof(req));
	req.url = url;
	req.body = body;
	req.body_len = strlen(body);
	req.secret = prov->secret;
	req.policy = prov->policy;
	return LlmHttpPost(&req, resp, err);
}

int
LlmProviderChat(const LlmProvider *prov, const LlmChatMessage *msgs, int n_msgs,
				const LlmChatParams *params, LlmChatResult *out, LlmError *err)
{
	LlmHttpResponse resp;
	char	   *body = NULL;
	char	   *url;
	int			rc;

	memset(out, 0, sizeof(*out));
	if ((url = LlmProviderUrl(prov, "/v1/chat/completions", "/api/chat", err)) == NULL)
		return err != NULL ? err->code : LLM_ERR_ARGUMENT;
	rc = LlmProviderBuildChat(prov->kind, prov->model, msgs, n_msgs, params, &body, err);
	if (rc == LLM_OK)
		rc = Post(prov, url, body, &resp, err);
	if (rc == LLM_OK)
	{
		rc = LlmProviderParseChat(prov->kind, resp.body, resp.body_len, prov->secret, out, err);
		LlmHttpResponseFree(&resp);
	}
	free(body);
	free(url);
	return rc;
}

/*
 * The tokens of each input as the provider's limit counts them: through its
 * tokenizer, or else its bytes, which no byte-level BPE exceeds (also for
 * an input the tokenizer refuses: the provider judges it); *cost is
 * malloc'ed.  Fails only when cancelled or out of memory.
 */
static int
InputCosts(const LlmProvider *prov, const char *const *inputs, int n_inputs,
		   size_t **cost, LlmError *err)
{
	*cost = malloc(sizeof(size_t) * n_inputs);
	if (*cost == NULL)
		return LlmSetError(err, LLM_ERR_NOMEM, "out of memory");
	for (int i = 0; i < n_inputs; i++)
	{
		int32_t    *ids = NULL;
		int			n_ids = 0;
		int			rc;

		(*cost)[i] = strlen(inputs[i]);
		if (prov->tokenizer == NULL)
			continue;
		rc = TokenizerEncode(prov->tokenizer, inputs[i], (*cost)[i], false, &ids, &n_ids, err);
		free(ids);
		if (rc == LLM_ERR_CANCELLED)
		{
			free(*cost);
			*cost = NULL;
			return rc;
		}
		if (rc == LLM_OK)
			(*cost)[i] = n_ids;
		else if (err != NULL)
			memset(err, 0, sizeof(*err));	/* no error: the bytes count */
	}
	return LLM_OK;
}

/*
 * Embed n_inputs texts, in requests of at most embed_batch_inputs inputs
 * and embed_batch_tokens tokens (a single larger input goes alone)
 */
int
LlmProviderEmbed(const LlmProvider *prov, const char *const *inputs, int n_inputs,
				 LlmEmbedResult *out, LlmError *err)
{
	char	   *url;
	size_t	   *cost;
	int			rc = LLM_OK;
	int			start = 0;

	memset(out, 0, sizeof(*out));
	out->prompt_tokens = -1;
	if (n_inputs <= 0 || inputs == NULL)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "embedding needs at least one input");
	for (int i = 0; i < n_inputs; i++)
		if (inputs[i] == NULL)
			return LlmSetError(err, LLM_ERR_ARGUMENT, "input %d is missing", i);
	if ((rc = InputCosts(prov, inputs, n_inputs, &cost, err)) != LLM_OK)
		return rc;
	if ((url = LlmProviderUrl(prov, "/v1/embeddings", "/api/embed", err)) == NULL)
	{
		free(cost);
		return err != NULL ? err->code : LLM_ERR_ARGUMENT;
	}

	while (start < n_inputs && rc == LLM_OK)
	{
		LlmHttpResponse resp;
		char	   *body = NULL;
		size_t		tokens = cost[start];
		int			end = start + 1;

		while (end < n_inputs &&
			   (prov->embed_batch_inputs <= 0 || end - start < prov->embed_batch_inputs) &&
			   (prov->embed_batch_tokens == 0 ||
				tokens + cost[end] <= prov->embed_batch_tokens))
			tokens += cost[end++];

		rc = LlmProviderBuildEmbed(prov->kind, prov->model, inputs + start, end - start,
								   &body, err);
		if (rc == LLM_OK)
			rc = Post(prov, url, body, &resp, err);
		if (rc == LLM_OK)
		{
			rc = LlmProviderParseEmbed(prov->kind, resp.body, resp.body_len, end - start,
									   prov->secret, out, err);
			LlmHttpResponseFree(&resp);
		}
		free(body);
		start = end;
	}
	free(url);
	free(cost);
	if (rc != LLM_OK)
		LlmEmbedResultFree(out);
	return rc;
}
