// objects: src/llm/chattemplate.o src/llm/chatlex.o src/llm/chatparse.o src/llm/chateval.o src/llm/chatfilter.o src/llm/chatmethod.o src/llm/chatvalue.o src/llm/utf8.o src/llm/llmjson.o src/llm/llmutil.o src/vector/vecdist.o
/*
 * test_chat_template.c
 *	  Unit tests for the chat-template interpreter.
 *
 * 1. Every case of the reference fixture chat_templates_golden.json (the
 *    Llama 3, Llama 3.1, Qwen3 and Gemma 3 templates rendered by
 *    transformers' apply_chat_template) must render byte-identically.
 * 2. RenderCases (chat_template_cases.h) cover the Jinja subset feature by feature, plus
 *    published Mistral and Llama 3.1 tool-calling templates; their
 *    expected output was produced by jinja2 3.1.6 configured as
 *    transformers configures it (ImmutableSandboxedEnvironment,
 *    trim_blocks, lstrip_blocks, loopcontrols, transformers' tojson and
 *    raise_exception), by a generator script kept out of the tree.
 * 3. Errors: raise_exception messages, syntax errors with line and
 *    column, runtime errors, and the limits that stop hostile templates.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "llm/chattemplate.h"
#include "llm/llmjson.h"
#include "chat_template_cases.h"

/* parse and render; returns the status, *out malloc'ed on success */
static int
RenderText(const char *tmpl, const char *messages, const char *extra, bool agp,
		   const char *bos, const char *eos, char **out, size_t *out_len, LlmError *err)
{
	ChatTemplate *t = NULL;
	json_t	   *msgs;
	json_t	   *ex = NULL;
	int			rc;

	*out = NULL;
	msgs = LlmJsonParse(messages, strlen(messages), "messages", err);
	if (msgs == NULL)
		return err->code;
	if (extra)
	{
		ex = LlmJsonParse(extra, strlen(extra), "extra", err);
		if (ex == NULL)
		{
			json_decref(msgs);
			return err->code;
		}
	}
	rc = ChatTemplateParse(tmpl, strlen(tmpl), &t, err);
	if (rc == LLM_OK)
		rc = ChatTemplateRender(t, msgs, agp, bos, eos, ex, out, out_len, err);
	ChatTemplateFree(t);
	json_decref(msgs);
	json_decref(ex);
	return rc;
}

/* show where two strings first differ */
static void
ShowDiff(const char *name, const char *got, size_t got_len, const char *want,
		 size_t want_len)
{
	size_t		i = 0;

	while (i < got_len && i < want_len && got[i] == want[i])
		i++;
	printf("  %s: differs at byte %zu (got %zu bytes, want %zu)\n", name, i, got_len, want_len);
	printf("    got:  \"%.80s\"\n    want: \"%.*s\"\n", got + i,
		   (int) (want_len - i < 80 ? want_len - i : 80), want + i);
}

/* one CHECK: did the render succeed with exactly want[0..want_len)? */
static bool
CheckOutput(const char *name, int rc, const LlmError *err, const char *out,
			size_t out_len, const char *want, size_t want_len)
{
	bool		matches = rc == LLM_OK && out_len == want_len && memcmp(out, want, want_len) == 0;

	CHECK(matches);
	if (rc != LLM_OK)
		printf("  %s: %s\n", name, err->message);
	else if (!matches)
		ShowDiff(name, out, out_len, want, want_len);
	return matches;
}

/*
 * Render a case with add_generation_prompt and, when prompt is set,
 * without it (expecting expected less prompt at its end): one CHECK a
 * render.  Adds the renders to *nrender; returns how many matched.
 */
static int
CheckCase(const char *name, const char *tmpl, const char *messages, const char *extra,
		  const char *bos, const char *eos, const char *expected, const char *prompt,
		  int *nrender)
{
	size_t		elen = strlen(expected);
	int			npass = 0;

	for (int agp = 1; agp >= (prompt ? 0 : 1); agp--)
	{
		LlmError	err = {0};
		char		label[256];
		char	   *out = NULL;
		size_t		out_len = 0;
		size_t		want_len = elen;
		int			rc;

		(*nrender)++;
		snprintf(label, sizeof(label), agp ? "%s" : "%s/noprompt", name);
		if (!agp)
		{
			size_t		plen = strlen(prompt);

			if (plen > elen || memcmp(expected + elen - plen, prompt, plen) != 0)
			{
				CHECK(false);
				printf("  %s: the expected output does not end with the prompt\n", label);
				continue;
			}
			want_len = elen - plen;
		}
		rc = RenderText(tmpl, messages, extra, agp, bos, eos, &out, &out_len, &err);
		if (CheckOutput(label, rc, &err, out, out_len, expected, want_len))
			npass++;
		free(out);
	}
	return npass;
}

/* every case of the reference fixture */
static void
TestGolden(void)
{
	const char *dir = getenv("PGMLOPS_FIXTURES");
	char		path[1024];
	LlmError	err = {0};
	json_t	   *golden;
	const char *tname;
	json_t	   *tdef;
	int			ncases = 0;
	int			npass = 0;
	int			nextra = 0;
	int			npass_extra = 0;

	snprintf(path, sizeof(path), "%s/chat_templates_golden.json", dir ? dir : "test/data/fixtures");
	golden = LlmJsonLoadFile(path, 16 * 1024 * 1024, &err);
	CHECK(golden != NULL);
	if (golden == NULL)
	{
		printf("  cannot load %s: %s\n", path, err.message);
		return;
	}
	json_object_foreach(golden, tname, tdef)
	{
		const char *src = json_string_value(json_object_get(tdef, "chat_template"));
		const char *bos = json_string_value(json_object_get(tdef, "bos_token"));
		const char *eos = json_string_value(json_object_get(tdef, "eos_token"));
		json_t	   *cases = json_object_get(tdef, "cases");
		ChatTemplate *t = NULL;
		size_t		i;
		json_t	   *c;
		int			rc;

		CHECK(src != NULL && json_is_array(cases));
		if (src == NULL || !json_is_array(cases))
			continue;
		rc = ChatTemplateParse(src, strlen(src), &t, &err);
		CHECK(rc == LLM_OK);
		if (rc != LLM_OK)
		{
			printf("  %s: %s\n", tname, err.message);
			continue;
		}
		json_array_foreach(cases, i, c)
		{
			json_t	   *extra = LlmJsonObject();
			const char *want = json_string_value(json_object_get(c, "rendered"));
			json_t	   *tools = json_object_get(c, "tools");
			json_t	   *more = json_object_get(c, "extra");
			char		label[256];
			char	   *out = NULL;
			size_t		out_len = 0;

			if (tools)
				json_object_set(extra, "tools", tools);
			if (json_is_object(more))
				json_object_update(extra, more);
			rc = ChatTemplateRender(t, json_object_get(c, "messages"),
									json_is_true(json_object_get(c, "add_generation_prompt")),
									bos, eos, extra, &out, &out_len, &err);
			ncases++;
			CHECK(rc == LLM_OK);
			snprintf(label, sizeof(label), "%s/%s", tname,
					 json_string_value(json_object_get(c, "name")));
			if (rc != LLM_OK)
				printf("  %s: %s\n", label, err.message);
			else if (CheckOutput(label, rc, &err, out, out_len, want ? want : "",
								 want ? strlen(want) : 0))
				npass++;
			free(out);
			json_decref(extra);
		}
		for (size_t k = 0; k < sizeof(GoldenExtraCases) / sizeof(GoldenExtraCases[0]); k++)
		{
			const GoldenExtraCase *x = &GoldenExtraCases[k];
			char		label[256];

			if (strcmp(x->tmpl, tname) != 0)
				continue;
			snprintf(label, sizeof(label), "%s/%s", tname, x->name);
			npass_extra += CheckCase(label, src, x->messages, x->extra, bos, eos,
									 x->expected, x->prompt, &nextra);
		}
		if (strcmp(tname, "gemma3") == 0)
		{
			json_t	   *msgs = json_loads("[{\"role\": \"user\", \"content\": \"a\"},"
										  " {\"role\": \"user\", \"content\": \"b\"}]", 0, NULL);
			char	   *out = NULL;

			rc = ChatTemplateRender(t, msgs, true, bos, eos, NULL, &out, NULL, &err);
			CHECK(rc == LLM_ERR_ARGUMENT);
			CHECK(out == NULL);
			CHECK(strcmp(err.message, "Conversation roles must alternate user/assistant/user/assistant/...") == 0);
			json_decref(msgs);
		}
		ChatTemplateFree(t);
	}
	printf("  golden: %d of %d cases byte-identical\n", npass, ncases);
	printf("  golden templates, more conversations: %d of %d match jinja2\n", npass_extra, nextra);
	CHECK(ncases == 32);
	json_decref(golden);
}

/* the feature-by-feature cases */
static void
TestRenderCases(void)
{
	int			npass = 0;
	int			nrender = 0;

	for (size_t i = 0; i < sizeof(RenderCases) / sizeof(RenderCases[0]); i++)
	{
		const RenderCase *c = &RenderCases[i];

		npass += CheckCase(c->name, c->tmpl, c->messages, c->extra, "<s>", "</s>",
						   c->expected, c->prompt, &nrender);
	}
	printf("  features: %d of %d cases match jinja2\n", npass, nrender);
}

/* expect an error with code and a message containing want */
static void
ExpectError(const char *tmpl, const char *messages, int code, const char *want)
{
	LlmError	err = {0};
	char	   *out = NULL;
	size_t		out_len;
	int			rc;

	rc = RenderText(tmpl, messages, NULL, true, "<s>", "</s>", &out, &out_len, &err);
	CHECK(rc == code);
	CHECK(out == NULL);
	CHECK(strstr(err.message, want) != NULL);
	if (rc != code || strstr(err.message, want) == NULL)
		printf("  template %.60s: rc %d, message \"%s\", want %d \"%s\"\n",
			   tmpl, rc, err.message, code, want);
	free(out);
}

/* raise_exception, syntax errors, runtime errors, limits */
static void
TestErrors(void)
{
	const char *m = "[{\"role\": \"user\", \"content\": \"hi\"}]";
	int			n = (int) (sizeof(RaiseCases) / sizeof(RaiseCases[0]));

	/* raise_exception: the message exactly */
	for (int i = 0; i < n; i++)
	{
		LlmError	err = {0};
		char	   *out = NULL;
		size_t		out_len;
		int			rc;

		rc = RenderText(RaiseCases[i].tmpl, RaiseCases[i].messages, NULL, true, "<s>", "</s>",
						&out, &out_len, &err);
		CHECK(rc == LLM_ERR_ARGUMENT);
		CHECK(strcmp(err.message, RaiseCases[i].message) == 0);
		if (strcmp(err.message, RaiseCases[i].message) != 0)
			printf("  %s: \"%s\"\n", RaiseCases[i].name, err.message);
		free(out);
	}

	/* syntax errors, with line and column */
	ExpectError("{% if true %}x", m, LLM_ERR_FORMAT,
				"line 1, column 15: unexpected end of template, expected 'elif' or 'else' or 'endif'");
	ExpectError("a\n  {{ x ", m, LLM_ERR_FORMAT,
				"line 2, column 8: unexpected end of template, expected '}}'");
	ExpectError("line one\n{{ messages | nope }}", m, LLM_ERR_FORMAT,
				"line 2, column 15: no filter named 'nope'");
	ExpectError("{% if x is frobbed %}{% endif %}", m, LLM_ERR_FORMAT, "no test named 'frobbed'");
	ExpectError("{% for x in y %}{% endif %}", m, LLM_ERR_FORMAT, "line 1, column 20: unexpected 'endif'");
	ExpectError("{{ 'abc }}", m, LLM_ERR_FORMAT, "unterminated string literal");
	ExpectError("{# never closed", m, LLM_ERR_FORMAT, "missing end of comment tag");
	ExpectError("{{ (1 + 2 }}", m, LLM_ERR_FORMAT, "unexpected '}'");
	ExpectError("{{ 1 + }}", m, LLM_ERR_FORMAT, "line 1, column 8: unexpected '}}'");
	ExpectError("{% include 'x' %}", m, LLM_ERR_UNSUPPORTED, "unsupported tag 'include'");
	ExpectError("{% break %}", m, LLM_ERR_FORMAT, "'break' outside of a loop");
	ExpectError("{{ 'a' $ 'b' }}", m, LLM_ERR_FORMAT, "unexpected character '$'");
	ExpectError("{{ 99999999999999999999 }}", m, LLM_ERR_UNSUPPORTED, "integer literal too large");

	/* runtime errors */
	ExpectError("{{ nope.attr }}", m, LLM_ERR_ARGUMENT, "'nope' is undefined");
	ExpectError("\n{{ 'a' + 1 }}", m, LLM_ERR_ARGUMENT,
				"line 2, column 8: unsupported operand type(s) for +: 'str' and 'int'");
	ExpectError("{{ 1 / 0 }}", m, LLM_ERR_ARGUMENT, "division by zero");
	ExpectError("{{ messages.append(1) }}", m, LLM_ERR_ARGUMENT, "unsafe");
	ExpectError("{{ 'x' < 1 }}", m, LLM_ERR_ARGUMENT, "not supported between");
	ExpectError("{{ none | tojson }}{{ nope | tojson }}", m, LLM_ERR_ARGUMENT, "not JSON serializable");
	ExpectError("{{ 9223372036854775807 + 1 }}", m, LLM_ERR_ARGUMENT, "integer overflow");
	ExpectError("{% set x = 1 %}{% set x.a = 2 %}", m, LLM_ERR_ARGUMENT, "non-namespace");
	ExpectError("{{ range(200000) | length }}", m, LLM_ERR_ARGUMENT, "Range too big");

	/* limits */
	ExpectError("{% set r = range(100000) %}{% for i in r %}{% for j in r %}{% endfor %}{% endfor %}",
				m, LLM_ERR_ARGUMENT, "steps");
	ExpectError("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}", m, LLM_ERR_ARGUMENT,
				"output longer than");
	ExpectError("{% set ns = namespace(s='xy') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
				m, LLM_ERR_ARGUMENT, "longer than");
	ExpectError("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", m, LLM_ERR_ARGUMENT,
				"macro calls nested");
	{
		/* deep nesting and long operator chains are refused at parse time */
		char	   *deep = malloc(4096);
		char	   *chain = malloc(40000);
		size_t		o = 0;

		o += sprintf(deep + o, "{{ ");
		for (int i = 0; i < 1000; i++)
			deep[o++] = '(';
		deep[o++] = '1';
		for (int i = 0; i < 1000; i++)
			deep[o++] = ')';
		sprintf(deep + o, " }}");
		ExpectError(deep, m, LLM_ERR_FORMAT, "nested too deeply");
		o = sprintf(chain, "{{ 1");
		for (int i = 0; i < 5000; i++)
			o += sprintf(chain + o, " + 1");
		sprintf(chain + o, " }}");
		ExpectError(chain, m, LLM_ERR_FORMAT, "nested too deeply");
		o = 0;
		for (int i = 0; i < 500; i++)
			o += sprintf(chain + o, "{%% if true %%}");
		ExpectError(chain, m, LLM_ERR_FORMAT, "nested too deeply");
		free(deep);
		free(chain);
	}
	{
		/* a template can be rendered many times, and bad arguments are refused */
		ChatTemplate *t = NULL;
		LlmError	err = {0};
		json_t	   *msgs = json_loads(m, 0, NULL);
		json_t	   *notarray = LlmJsonObject();
		char	   *out = NULL;
		size_t		len = 0;
		int			ok = 0;

		const char *src = "{{ messages[0].content }}{{ bos_token is defined }}";

		CHECK(ChatTemplateParse(src, strlen(src), &t, &err) == LLM_OK);
		for (int i = 0; i < 100; i++)
		{
			if (ChatTemplateRender(t, msgs, false, NULL, NULL, NULL, &out, &len, &err) == LLM_OK &&
				strcmp(out, "hiFalse") == 0 && len == 7)
				ok++;
			free(out);
		}
		CHECK(ok == 100);
		CHECK(ChatTemplateRender(t, notarray, false, NULL, NULL, NULL, &out, &len, &err) ==
			  LLM_ERR_ARGUMENT);
		CHECK(ChatTemplateRender(t, msgs, false, NULL, NULL, msgs, &out, &len, &err) ==
			  LLM_ERR_ARGUMENT);
		ChatTemplateFree(t);
		ChatTemplateFree(NULL);
		json_decref(msgs);
		json_decref(notarray);
	}
}

int
main(void)
{
	TestGolden();
	TestRenderCases();
	TestErrors();
	UNIT_DONE("chat_template");
}
