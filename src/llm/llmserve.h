/*-------------------------------------------------------------------------
 *
 * llmserve.h
 *	  The SQL functions of the inference service: registered models
 *	  (llmserve.c), the calls (llmcall.c: embed, generate, chat,
 *	  generate_stream) and their options objects (llmoption.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMLOPS_LLM_LLMSERVE_H
#define PGMLOPS_LLM_LLMSERVE_H

#include "utils/jsonb.h"

#include "llm/llmsvc.h"

/* a registered generation or embedding model, resolved from a reference */
typedef struct ServeModel
{
	char	   *name;
	int			version;
	bool		embedding;		/* task 'embedding', else 'text-generation' */
	char	   *location;		/* directory under mlops.model_dir, or a URL */
	Jsonb	   *options;		/* as registered */
	char	   *provider;		/* "local", "openai", "ollama" */
	bool		remote;
} ServeModel;

/* llmoption.c: a walk over the keys of an options object */
typedef struct LlmOptionIter
{
	JsonbIterator *it;
} LlmOptionIter;

extern void LlmOptionsBegin(LlmOptionIter *o, Jsonb *options, const char *what);
extern bool LlmOptionsNext(LlmOptionIter *o, char **key, JsonbValue *val);
extern double LlmOptionNumber(const JsonbValue *v, const char *key);
extern int64 LlmOptionInt(const JsonbValue *v, const char *key, int64 min, int64 max);
extern char *LlmOptionString(const JsonbValue *v, const char *key, const char *must);

/* llmserve.c */
/* resolve name, name@N or name@alias; errors for other tasks */
extern void ServeResolve(const char *ref, ServeModel *m);
/* fill the model part of a request for a local model */
extern void ServeFillRequest(const ServeModel *m, LlmSvcRequest *req);

#endif							/* PGMLOPS_LLM_LLMSERVE_H */
