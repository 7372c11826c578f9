// sources: src/llm/chattemplate.c src/llm/chatlex.c src/llm/chatparse.c src/llm/chateval.c src/llm/chatfilter.c src/llm/chatmethod.c src/llm/chatvalue.c src/llm/utf8.c src/llm/llmutil.c src/vector/vecdist.c
/*
 * fuzz_chat_template.c
 *	  libFuzzer target: parse arbitrary bytes as a chat template and render
 *	  it with a fixed small conversation (system, user, assistant with a
 *	  tool call, tool result) and a tools list.  Any status is fine; a
 *	  crash, a sanitizer report, a leak or a hang is a bug.
 */
#include <stdint.h>
#include <stdlib.h>

#include "llm/chattemplate.h"

static const char Messages[] =
"[{\"role\": \"system\", \"content\": \"Be brief.\"},"
" {\"role\": \"user\", \"content\": \"Caf\\u00e9 \\u2014 \\u6771\\u4eac  \"},"
" {\"role\": \"assistant\", \"content\": \"<think>\\nhm\\n</think>\\n\\nok\","
"  \"tool_calls\": [{\"id\": \"abcdefghi\", \"type\": \"function\","
"   \"function\": {\"name\": \"f\", \"arguments\": {\"x\": 1, \"y\": [true, null, 2.5]}}}]},"
" {\"role\": \"tool\", \"content\": \"{\\\"r\\\": 1}\"},"
" {\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"hi\"}, {\"type\": \"image\"}]}]";

static const char Extra[] =
"{\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"f\","
" \"parameters\": {\"type\": \"object\", \"properties\": {\"x\": {\"type\": \"integer\"}}}}}],"
" \"enable_thinking\": false, \"date_string\": \"26 Jul 2024\"}";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t	   *messages = json_loads(Messages, 0, NULL);
	json_t	   *extra = json_loads(Extra, 0, NULL);
	ChatTemplate *t = NULL;
	LlmError	err;
	char	   *out = NULL;
	size_t		len = 0;

	if (ChatTemplateParse((const char *) data, size, &t, &err) == LLM_OK)
	{
		if (ChatTemplateRender(t, messages, size % 2 == 0, "<s>", "</s>", extra,
							   &out, &len, &err) == LLM_OK)
		{
			if (out == NULL || out[len] != '\0')
				abort();
		}
		else if (out != NULL)
			abort();
		free(out);
		ChatTemplateFree(t);
	}
	else if (t != NULL)
		abort();
	json_decref(messages);
	json_decref(extra);
	return 0;
}
