/*-------------------------------------------------------------------------
 *
 * provider.h
 *	  Remote LLM providers: chat and embeddings over HTTP, for the
 *	  OpenAI-compatible API (OpenAI, vLLM, llama.cpp server, LiteLLM,
 *	  Ollama's /v1) and Ollama's native API.
 *
 *	  OpenAI:	POST <base>/v1/chat/completions, POST <base>/v1/embeddings
 *	  Ollama:	POST <base>/api/chat, POST <base>/api/embed
 *
 * A chat's reply is read whole (stream false) or as it is generated
 * (LlmChatStream: server-sent events for OpenAI, JSON lines for Ollama).
 *
 * The base URL is scheme, host, port and an optional path prefix; a
 * trailing "/v1" of an OpenAI base is not doubled.  Each call builds the
 * request body, sends it with LlmHttpPost (allowlist, secret, timeouts,
 * retries: httpc.h) and parses the reply.  A reply that is not JSON, or
 * JSON of the wrong shape, fails with LLM_ERR_FORMAT and a short message
 * quoting at most LLM_HTTP_SNIPPET bytes of it, the secret masked.
 *
 * The Build and Parse functions are exported for tests that need no
 * server.  Plain C: no PostgreSQL header, malloc/free, never prints.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMLOPS_LLM_PROVIDER_H
#define PGMLOPS_LLM_PROVIDER_H

#include "llm/httpc.h"
#include "llm/tokenizer.h"

#define LLM_PROVIDER_MAX_DIM	65536	/* largest embedding accepted */

typedef enum LlmProviderKind
{
	LLM_PROVIDER_OPENAI,
	LLM_PROVIDER_OLLAMA
} LlmProviderKind;

typedef struct LlmProvider
{
	LlmProviderKind kind;
	const char *base_url;
	const char *model;
	const char *secret;			/* bearer token, or NULL */
	LlmHttpPolicy policy;
	int			embed_batch_inputs; /* inputs per request; <= 0: no limit */
	size_t		embed_batch_tokens; /* input tokens per request; 0: no limit */
	const Tokenizer *tokenizer; /* counts an input's tokens; NULL: its
								 * bytes count (a byte-level BPE makes at
								 * most one token of each byte) */
} LlmProvider;

typedef struct LlmChatMessage
{
	const char *role;			/* "system", "user", "assistant" */
	const char *content;
} LlmChatMessage;

/* sampling parameters; NAN / has_seed false / 0 mean "provider default" */
typedef struct LlmChatParams
{
	int			max_tokens;		/* <= 0: provider default */
	double		temperature;
	double		top_p;
	bool		has_seed;
	int64_t		seed;
	const char *const *stop;
	int			n_stop;
	bool		stream;			/* ask for the reply as events */
} LlmChatParams;

/* a chat whose reply is read piece by piece (providerstream.c) */
typedef struct LlmChatStream LlmChatStream;

typedef struct LlmChatResult
{
	char	   *text;			/* malloc'ed */
	char	   *finish_reason;	/* malloc'ed, or NULL */
	int64_t		prompt_tokens;	/* -1 when the provider did not say */
	int64_t		completion_tokens;
} LlmChatResult;

typedef struct LlmEmbedResult
{
	int			n;				/* vectors, one per input, in input order */
	int			dim;
	float	   *data;			/* [n][dim], malloc'ed */
	int64_t		prompt_tokens;	/* -1 when the provider did not say */
} LlmEmbedResult;

/* provider.c */
extern void LlmProviderInit(LlmProvider *prov, LlmProviderKind kind,
							const char *base_url, const char *model);
extern void LlmChatParamsInit(LlmChatParams *params);
extern int	LlmProviderChat(const LlmProvider *prov, const LlmChatMessage *msgs,
							int n_msgs, const LlmChatParams *params,
							LlmChatResult *out, LlmError *err);
extern int	LlmProviderEmbed(const LlmProvider *prov, const char *const *inputs,
							 int n_inputs, LlmEmbedResult *out, LlmError *err);
extern void LlmChatResultFree(LlmChatResult *res);
extern void LlmEmbedResultFree(LlmEmbedResult *res);

/* request bodies (malloc'ed JSON text) and reply parsers */
extern int	LlmProviderBuildChat(LlmProviderKind kind, const char *model,
								 const LlmChatMessage *msgs, int n_msgs,
								 const LlmChatParams *params, char **body,
								 LlmError *err);
extern int	LlmProviderBuildEmbed(LlmProviderKind kind, const char *model,
								  const char *const *inputs, int n_inputs,
								  char **body, LlmError *err);
extern int	LlmProviderParseChat(LlmProviderKind kind, const char *data,
								 size_t len, const char *secret,
								 LlmChatResult *out, LlmError *err);
/* appends n_inputs vectors at out->data[out->n * dim ...] */
extern int	LlmProviderParseEmbed(LlmProviderKind kind, const char *data,
								  size_t len, int n_inputs, const char *secret,
								  LlmEmbedResult *out, LlmError *err);


/* providerstream.c */
/*
 * Send a chat asking for a streamed reply (OpenAI server-sent events,
 * Ollama JSON lines); returns once the reply begins
 */
extern int	LlmChatStreamOpen(const LlmProvider *prov, const LlmChatMessage *msgs,
							  int n_msgs, const LlmChatParams *params,
							  LlmChatStream **out, LlmError *err);
/*
 * The next non-empty piece of the reply's text (valid until the next
 * call), waiting for it; *piece NULL at the end of the reply
 */
extern int	LlmChatStreamNext(LlmChatStream *s, const char **piece, size_t *len,
							  LlmError *err);
/* what the provider said at the end: tokens (-1: unknown), finish reason */
extern void LlmChatStreamUsage(const LlmChatStream *s, int64_t *prompt_tokens,
							   int64_t *completion_tokens, const char **finish_reason);
extern void LlmChatStreamClose(LlmChatStream *s);
/* one line of a streamed reply (exported for tests) */
extern int	LlmChatStreamLine(LlmChatStream *s, const char *line, size_t len,
							  const char **piece, size_t *piece_len, LlmError *err);
extern LlmChatStream *LlmChatStreamForLines(LlmProviderKind kind, const char *secret,
											LlmError *err);

#endif							/* PGMLOPS_LLM_PROVIDER_H */
