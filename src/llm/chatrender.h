/*-------------------------------------------------------------------------
 *
 * chatrender.h
 *	  Rendering a chat template for a list of role/content messages,
 *	  without jansson in the caller (PostgreSQL's builtins.h declares a
 *	  json_object() of its own, so the SQL glue cannot include jansson.h).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMLOPS_LLM_CHATRENDER_H
#define PGMLOPS_LLM_CHATRENDER_H

#include "llm/provider.h"

/*
 * chattemplate.c: parse source and render it for msgs with
 * add_generation_prompt; *out is malloc'ed and NUL-terminated
 */
extern int	ChatRenderMessages(const char *source, const LlmChatMessage *msgs,
							   int n_msgs, const char *bos_token,
							   const char *eos_token, char **out, size_t *out_len,
							   LlmError *err);

#endif							/* PGMLOPS_LLM_CHATRENDER_H */
