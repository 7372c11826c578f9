/*-------------------------------------------------------------------------
 *
 * llmsql.h
 *	  The PostgreSQL side of the inference engine: the mlops.model_dir
 *	  setting, model name resolution and the per-backend tokenizer cache.
 *
 * Only llmsql.c includes PostgreSQL headers among src/llm; this header
 * does not, so that it can sit next to the engine headers.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMLOPS_LLM_LLMSQL_H
#define PGMLOPS_LLM_LLMSQL_H

#include "llm/tokenizer.h"

/* llmsql.c */
extern void LlmSqlInit(void);

/* the SQL error code (ERRCODE_*) for an LLM_ERR_* status */
extern int	LlmSqlErrcode(int code);

/*
 * Resolve a model name (a directory relative to mlops.model_dir) to the
 * real path of that directory, palloc'ed; raises an error for names that
 * escape mlops.model_dir and for missing directories
 */
extern char *LlmSqlResolveModel(const char *model);

/*
 * The tokenizer of a model, from the backend's cache (loaded on a miss or
 * when tokenizer.json changed).  The cache owns it: it stays valid until
 * the next call of this function.
 */
extern const Tokenizer *LlmSqlGetTokenizer(const char *model);

/*
 * err's message with every occurrence of the directory dir replaced by
 * the model's name (server paths stay out of messages); palloc'ed
 */
extern char *LlmSqlEngineMessage(const LlmError *err, const char *dir,
								 const char *model);

/* raise "could not <what> with model" with the engine's message as detail */
extern void LlmSqlReportError(const LlmError *err, const char *model,
							  const char *dir, const char *what);

#endif							/* PGMLOPS_LLM_LLMSQL_H */
