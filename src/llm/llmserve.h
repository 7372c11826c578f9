/*-------------------------------------------------------------------------
 *
 * llmserve.h
 *	  The SQL functions of the inference service: registered models
 *	  (llmserve.c) and the calls (llmcall.c: embed, generate, chat,
 *	  generate_stream).
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

/* llmserve.c */
/* resolve name, name@N or name@alias; errors for other tasks */
extern void ServeResolve(const char *ref, ServeModel *m);
/* fill the model part of a request for a local model */
extern void ServeFillRequest(const ServeModel *m, LlmSvcRequest *req);

#endif							/* PGMLOPS_LLM_LLMSERVE_H */
