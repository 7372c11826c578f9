/*-------------------------------------------------------------------------
 *
 * chattemplate.h
 *	  Rendering a model's Jinja chat_template with a Jinja-subset
 *	  interpreter (the subset real chat templates use).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMLOPS_LLM_CHATTEMPLATE_H
#define PGMLOPS_LLM_CHATTEMPLATE_H

#include <jansson.h>

#include "llm/llm.h"

typedef struct ChatTemplate ChatTemplate;	/* opaque: the parsed template */

/* parse template source; syntax errors report line and column */
extern int	ChatTemplateParse(const char *source, size_t len, ChatTemplate **out,
							  LlmError *err);
extern void ChatTemplateFree(ChatTemplate *tmpl);

/*
 * Render with the variables of transformers' apply_chat_template:
 * messages (a JSON array of {role, content, ...}), add_generation_prompt,
 * bos_token, eos_token, plus every member of extra (tools, date_string,
 * enable_thinking...; may be NULL).  raise_exception() in the template
 * becomes an LLM_ERR_ARGUMENT error with its message.  *out is malloc'ed
 * and NUL-terminated.
 */
extern int	ChatTemplateRender(const ChatTemplate *tmpl, const json_t *messages,
							   bool add_generation_prompt, const char *bos_token,
							   const char *eos_token, const json_t *extra,
							   char **out, size_t *out_len, LlmError *err);

#endif							/* PGMLOPS_LLM_CHATTEMPLATE_H */
