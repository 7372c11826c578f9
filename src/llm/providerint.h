/*-------------------------------------------------------------------------
 *
 * providerint.h
 *	  What provider.c shares with providerstream.c: URLs, JSON replies and
 *	  token counts.  It includes jansson, so PostgreSQL-side files (whose
 *	  server headers declare another json_object) must not include it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMLOPS_LLM_PROVIDERINT_H
#define PGMLOPS_LLM_PROVIDERINT_H

#include "llm/llmjson.h"
#include "llm/provider.h"

/* <base>/<path> of an API: openai_path or ollama_path; malloc'ed */
extern char *LlmProviderUrl(const LlmProvider *prov, const char *openai_path,
							const char *ollama_path, LlmError *err);
/* a reply (or event) that must be a JSON object; its "error" is the error */
extern json_t *LlmProviderParseObject(const char *data, size_t len,
									  const char *secret, LlmError *err);
/* token counts of a usage object (OpenAI "usage", an Ollama reply); NULL: none */
extern int	LlmProviderUsage(LlmProviderKind kind, const json_t *usage,
							 int64_t *prompt_tokens, int64_t *completion_tokens,
							 LlmError *err);

#endif							/* PGMLOPS_LLM_PROVIDERINT_H */
