/*-------------------------------------------------------------------------
 *
 * llmtrace.h
 *	  Call tracing of embed, generate and chat (mlops.llm_calls).
 *
 * Every call, local or remote, successful or not, is recorded with
 * LlmTraceCall().  The record must survive the caller's transaction
 * aborting (a failed or cancelled call is logged too), so it goes into a
 * ring in shared memory, and a background worker connected to the
 * caller's database appends it to mlops.llm_calls (llmtrace.c).
 *
 * PostgreSQL side (this header includes only postgres.h types).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMLOPS_LLM_LLMTRACE_H
#define PGMLOPS_LLM_LLMTRACE_H

#include "datatype/timestamp.h"

typedef struct LlmTraceEntry
{
	TimestampTz started;		/* when the call began */
	const char *function;		/* "embed", "generate", "chat", "generate_stream" */
	const char *model;			/* registered name */
	int			version;		/* registered version, 0 if unresolved */
	const char *provider;		/* "local", "openai", "ollama" */
	const char *prompt;			/* prompt text (messages JSON for chat); hashed */
	size_t		prompt_len;
	int64		tokens_in;		/* -1: unknown */
	int64		tokens_out;		/* -1: unknown */
	double		ttft_ms;		/* -1: not applicable */
	double		total_ms;
	const char *status;			/* "ok", "error", "cancelled" */
	const char *error;			/* message, or NULL */
} LlmTraceEntry;

/* llmtrace.c */
extern void LlmTraceInit(void);	/* GUCs, shared memory hooks, from _PG_init */
extern void LlmTraceLaunchWaiting(void);	/* flushers for records loaded at start */

/*
 * Record one call.  Never raises an error (it may be called while an
 * error is being handled); a full ring drops the record and counts it.
 */
extern void LlmTraceCall(const LlmTraceEntry *e);

#endif							/* PGMLOPS_LLM_LLMTRACE_H */
