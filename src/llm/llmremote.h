/*-------------------------------------------------------------------------
 *
 * llmremote.h
 *	  Registered models served by a remote provider: their locations,
 *	  secrets, the mlops.allowed_hosts allowlist, and calls through the
 *	  provider client (provider.h) that raise SQL errors.
 *
 * A remote model's location, as given to mlops.register_model, is
 *	  openai://host[:port][/prefix]/model			(https)
 *	  openai+http://host[:port][/prefix]/model		(plain http)
 *	  ollama://... and ollama+http://...		(Ollama's native API)
 * The last path segment is the provider's model name (percent-decoded, so
 * %2F puts a slash in it); what precedes it is the base URL.  Options (the
 * registered jsonb) may name a secret ("api_key_secret") from
 * mlops.secrets, set "timeout_ms", "max_attempts", "embed_batch_inputs"
 * and "embed_batch_tokens", and name a "tokenizer" (a model under
 * mlops.model_dir) that counts the tokens of embedding inputs; any other
 * key is an error.
 *
 * PostgreSQL side: results are palloc'ed, errors are ereport'ed (never
 * with the secret in them).  Call these in a backend inside a transaction:
 * a named secret is read with SPI.  A host not on mlops.allowed_hosts
 * fails the call before anything is sent; a cancel raises the query-cancel
 * error.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMLOPS_LLM_LLMREMOTE_H
#define PGMLOPS_LLM_LLMREMOTE_H

#include "lib/stringinfo.h"
#include "utils/jsonb.h"

#include "llm/provider.h"

/* llmremote.c */
extern void LlmRemoteInit(void);	/* GUCs, from _PG_init */

/*
 * true if location is a URL (scheme://...); LlmRemoteValidate refuses any
 * scheme but the four above
 */
extern bool LlmRemoteIsLocation(const char *location);

/*
 * Check a remote location and its options at registration: the scheme,
 * host and model name, the options' keys and types, that a named secret
 * exists; raises an error otherwise.  Returns the provider name
 * ("openai" or "ollama").
 */
extern const char *LlmRemoteValidate(const char *location, Jsonb *options);

/* chat; out's strings are palloc'ed */
extern void LlmRemoteChat(const char *location, Jsonb *options,
						  const LlmChatMessage *msgs, int n_msgs,
						  const LlmChatParams *params, LlmChatResult *out);

/*
 * A chat read as the provider generates it.  Open raises the errors of
 * LlmRemoteChat; the stream lives in CurrentMemoryContext and must be
 * closed (also after an error) before that context goes away.
 */
typedef struct LlmRemoteStream LlmRemoteStream;
extern LlmRemoteStream *LlmRemoteChatStreamOpen(const char *location, Jsonb *options,
												const LlmChatMessage *msgs, int n_msgs,
												const LlmChatParams *params);
/* the next piece of text (UTF-8) into piece; false at the end */
extern bool LlmRemoteChatStreamNext(LlmRemoteStream *rs, StringInfo piece);
/* the tokens the provider counted (-1: unknown), once the end was read */
extern void LlmRemoteChatStreamUsage(LlmRemoteStream *rs, int64 *prompt_tokens,
									 int64 *completion_tokens);
extern void LlmRemoteChatStreamClose(LlmRemoteStream *rs);

/* embeddings of n inputs, batched under the provider's limits; palloc'ed */
extern void LlmRemoteEmbed(const char *location, Jsonb *options,
						   const char *const *inputs, int n_inputs,
						   LlmEmbedResult *out);

#endif							/* PGMLOPS_LLM_LLMREMOTE_H */
