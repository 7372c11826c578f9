/*-------------------------------------------------------------------------
 *
 * llmjson.h
 *	  The engine's one set of JSON helpers (on top of jansson).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMLOPS_LLM_LLMJSON_H
#define PGMLOPS_LLM_LLMJSON_H

#include <jansson.h>

#include "llm/llm.h"

/*
 * The PostgreSQL server exports a function named json_object (the SQL
 * function's C entry point), and the dynamic linker binds a loaded
 * library's calls of jansson's json_object() to it: a crash.  Make new
 * objects with LlmJsonObject() (jansson's own internal calls are bound
 * inside libjansson and are safe).  The poison makes a new use of
 * json_object() a compile error in every file that includes this header.
 */
static inline json_t *
LlmJsonObject(void)
{
	return json_pack("{}");
}

#pragma GCC poison json_object

/* parse a buffer; the error names what (a file name) and the position */
extern json_t *LlmJsonParse(const char *data, size_t len, const char *what,
							LlmError *err);

/* read and parse a file of at most max_bytes */
extern json_t *LlmJsonLoadFile(const char *path, size_t max_bytes, LlmError *err);

/*
 * Typed member lookups.  Each returns LLM_OK and sets *out when the member
 * exists with the right type, leaves *out alone and returns LLM_OK when it
 * is absent or null (the caller's default stays), and fails with
 * LLM_ERR_FORMAT when it has another type or does not fit.
 */
extern int	LlmJsonGetInt(const json_t *obj, const char *key, int64_t min,
						  int64_t max, int64_t *out, const char *what, LlmError *err);
extern int	LlmJsonGetDouble(const json_t *obj, const char *key, double *out,
							 const char *what, LlmError *err);
extern int	LlmJsonGetBool(const json_t *obj, const char *key, bool *out,
						   const char *what, LlmError *err);
/* *out points into obj (valid while obj lives) */
extern int	LlmJsonGetString(const json_t *obj, const char *key, const char **out,
							 const char *what, LlmError *err);

#endif							/* PGMLOPS_LLM_LLMJSON_H */
