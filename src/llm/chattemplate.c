/*-------------------------------------------------------------------------
 *
 * chattemplate.c
 *	  Entry points of the chat-template interpreter: parse a model's
 *	  Jinja chat_template once, render it for each conversation.
 *
 * Rendering binds the variables transformers' apply_chat_template binds:
 * messages, add_generation_prompt, bos_token and eos_token (left undefined
 * when NULL, as transformers leaves unset special tokens out), tools and
 * documents (None unless extra sets them), and every member of extra.
 * Errors inside the render longjmp back here; everything the render made
 * lives in one arena that is freed on every path.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>

#include "llm/chatinternal.h"
#include "llm/chatrender.h"
#include "llm/chattemplate.h"
#include "llm/llmjson.h"

struct ChatTemplate
{
	ChatArena	arena;			/* the tree and the normalized source */
	ChatNode  **body;
	int			nbody;
};

/* parse template source; syntax errors report line and column */
int
ChatTemplateParse(const char *source, size_t len, ChatTemplate **out, LlmError *err)
{
	ChatTemplate *t;
	ChatToken  *tokens;
	size_t		ntokens;
	int			rc;

	if (out == NULL || (source == NULL && len > 0))
		return LlmSetError(err, LLM_ERR_ARGUMENT, "chat template: no source");
	*out = NULL;
	t = LlmAllocZero(sizeof(ChatTemplate), err);
	if (t == NULL)
		return LLM_ERR_NOMEM;
	t->arena.limit = CHAT_MAX_ARENA;
	rc = ChatLex(source ? source : "", len, &t->arena, &tokens, &ntokens, err);
	if (rc == LLM_OK)
		rc = ChatParseTokens(tokens, ntokens, &t->arena, &t->body, &t->nbody, err);
	if (rc != LLM_OK)
	{
		ChatTemplateFree(t);
		return rc;
	}
	*out = t;
	return LLM_OK;
}

void
ChatTemplateFree(ChatTemplate *tmpl)
{
	if (tmpl == NULL)
		return;
	ChatArenaFree(&tmpl->arena);
	free(tmpl);
}

/* a value that lives for the whole render */
static ChatValue *
Singleton(ChatRender *r, ChatKind kind)
{
	return ChatNewValue(r, kind);
}

/* bind the render's variables in the root scope */
static void
BindVariables(ChatRender *r, ChatScope *root, const json_t *messages,
			  bool add_generation_prompt, const char *bos_token,
			  const char *eos_token, const json_t *extra)
{
	ChatScopeSet(r, root, "messages", ChatFromJson(r, messages, 0));
	ChatScopeSet(r, root, "add_generation_prompt", ChatBool(r, add_generation_prompt));
	ChatScopeSet(r, root, "tools", r->v_none);
	ChatScopeSet(r, root, "documents", r->v_none);
	if (bos_token != NULL)
		ChatScopeSet(r, root, "bos_token", ChatStrRef(r, bos_token, strlen(bos_token)));
	if (eos_token != NULL)
		ChatScopeSet(r, root, "eos_token", ChatStrRef(r, eos_token, strlen(eos_token)));
	if (extra != NULL)
	{
		const char *key;
		json_t	   *member;

		json_object_foreach((json_t *) extra, key, member)
		{
			size_t		n = strlen(key);
			char	   *name;

			if (strcmp(key, "messages") == 0 || strcmp(key, "add_generation_prompt") == 0)
				ChatFail(r, LLM_ERR_ARGUMENT, "extra must not set \"%s\"", key);
			name = ChatAlloc(r, n + 1);
			memcpy(name, key, n);
			ChatScopeSet(r, root, name, ChatFromJson(r, member, 0));
		}
	}
}

/* everything a render does that can fail; errors longjmp out of it */
static void
RenderInner(ChatRender *r, const ChatTemplate *tmpl, const json_t *messages,
			bool add_generation_prompt, const char *bos_token,
			const char *eos_token, const json_t *extra)
{
	ChatScope  *root;

	r->v_none = Singleton(r, CK_NONE);
	r->v_true = Singleton(r, CK_BOOL);
	r->v_true->u.b = true;
	r->v_false = Singleton(r, CK_BOOL);
	r->v_undef = Singleton(r, CK_UNDEF);
	r->v_empty = ChatStrRef(r, "", 0);
	root = ChatNewScope(r, NULL);
	BindVariables(r, root, messages, add_generation_prompt, bos_token, eos_token, extra);
	r->out = ChatAlloc(r, sizeof(ChatBuf));
	ChatExecBody(r, tmpl->body, tmpl->nbody, root);
}

/*
 * Render with the variables of transformers' apply_chat_template; *out is
 * malloc'ed and NUL-terminated
 */
int
ChatTemplateRender(const ChatTemplate *tmpl, const json_t *messages,
				   bool add_generation_prompt, const char *bos_token,
				   const char *eos_token, const json_t *extra,
				   char **out, size_t *out_len, LlmError *err)
{
	ChatRender *r;
	char	   *result;
	size_t		len;

	if (tmpl == NULL || out == NULL)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "chat template: no template or output");
	*out = NULL;
	if (out_len)
		*out_len = 0;
	if (messages == NULL || !json_is_array(messages))
		return LlmSetError(err, LLM_ERR_ARGUMENT, "chat template: messages must be a JSON array");
	if (extra != NULL && !json_is_object(extra))
		return LlmSetError(err, LLM_ERR_ARGUMENT, "chat template: extra must be a JSON object");

	r = LlmAllocZero(sizeof(ChatRender), err);
	if (r == NULL)
		return LLM_ERR_NOMEM;
	r->arena.limit = CHAT_MAX_ARENA;
	r->err = err;
	if (setjmp(r->jump) != 0)
	{
		int			rc = r->errcode;

		ChatArenaFree(&r->arena);
		free(r);
		return rc;
	}
	RenderInner(r, tmpl, messages, add_generation_prompt, bos_token, eos_token, extra);

	len = r->out->len;
	result = malloc(len + 1);
	if (result == NULL)
	{
		ChatArenaFree(&r->arena);
		free(r);
		return LlmSetError(err, LLM_ERR_NOMEM, "out of memory allocating %zu bytes", len + 1);
	}
	if (len)
		memcpy(result, r->out->data, len);
	result[len] = '\0';
	*out = result;
	if (out_len)
		*out_len = len;
	ChatArenaFree(&r->arena);
	free(r);
	return LLM_OK;
}

/* parse and render a template for role/content messages; see chatrender.h */
int
ChatRenderMessages(const char *source, const LlmChatMessage *msgs, int n_msgs,
				   const char *bos_token, const char *eos_token, char **out,
				   size_t *out_len, LlmError *err)
{
	ChatTemplate *tmpl = NULL;
	json_t	   *array = json_array();
	int			rc;

	*out = NULL;
	if (array == NULL)
		return LlmSetError(err, LLM_ERR_NOMEM, "out of memory for chat messages");
	for (int i = 0; i < n_msgs; i++)
	{
		json_t	   *m = LlmJsonObject();
		bool		ok;

		/* the _new functions take the reference even when they fail */
		ok = m != NULL &&
			json_object_set_new(m, "role", json_string(msgs[i].role)) == 0 &&
			json_object_set_new(m, "content", json_string(msgs[i].content)) == 0;
		if (!ok)
			json_decref(m);
		if (!ok || json_array_append_new(array, m) != 0)
		{
			json_decref(array);
			return LlmSetError(err, LLM_ERR_ARGUMENT,
							   "message %d is not valid UTF-8 text", i + 1);
		}
	}
	rc = ChatTemplateParse(source, strlen(source), &tmpl, err);
	if (rc == LLM_OK)
		rc = ChatTemplateRender(tmpl, array, true, bos_token, eos_token, NULL,
								out, out_len, err);
	ChatTemplateFree(tmpl);
	json_decref(array);
	return rc;
}
