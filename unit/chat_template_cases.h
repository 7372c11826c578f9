/*
 * chat_template_cases.h
 *	  The feature, error and extra-conversation cases of
 *	  test_chat_template.c: data only, included by that file alone.
 *
 * Expected outputs of RenderCases and GoldenExtraCases were produced by
 * jinja2 3.1.6 configured as transformers configures it (see
 * test_chat_template.c).
 */
#ifndef PGMLOPS_UNIT_CHAT_TEMPLATE_CASES_H
#define PGMLOPS_UNIT_CHAT_TEMPLATE_CASES_H

typedef struct RenderCase
{
	const char *name;
	const char *tmpl;
	const char *messages;		/* JSON */
	const char *extra;			/* JSON object or NULL */
	const char *expected;		/* rendered with add_generation_prompt */
	const char *prompt;			/* NULL, or the end of expected that
								 * add_generation_prompt adds: the case is
								 * rendered without it too */
} RenderCase;

/* more conversations for the fixture's templates (tools, reasoning, images) */
typedef struct GoldenExtraCase
{
	const char *tmpl;			/* key in chat_templates_golden.json */
	const char *name;
	const char *messages;
	const char *extra;
	const char *expected;		/* as in RenderCase */
	const char *prompt;
} GoldenExtraCase;

typedef struct ErrorCase
{
	const char *name;
	const char *tmpl;
	const char *messages;
	const char *message;		/* the raise_exception text */
} ErrorCase;

/* the conversation most cases render */
static const char BasicConversation[] =
	"[{\"role\": \"system\", \"content\": \"Sys\"}, {\"role\": \"user\", \""
	"content\": \" Hi there \"}, {\"role\": \"assistant\", \"content\": \"H"
	"ello!\"}, {\"role\": \"user\", \"content\": \"Bye\\n\"}]";

/* a conversation with a tool call and its result */
static const char WeatherConversation[] =
	"[{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": \"user"
	"\", \"content\": \"Weather in Paris?\"}, {\"role\": \"assistant\", \"t"
	"ool_calls\": [{\"id\": \"abcdefghi\", \"type\": \"function\", \"functi"
	"on\": {\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}"
	"}}]}, {\"role\": \"tool\", \"tool_call_id\": \"abcdefghi\", \"content\""
	": \"{\\\"temp\\\": 21}\"}, {\"role\": \"assistant\", \"content\": \"21"
	" degrees.\"}, {\"role\": \"user\", \"content\": \"Thanks\"}]";

/* the tools of that conversation ("extra") */
static const char WeatherTools[] =
	"{\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"get_w"
	"eather\", \"description\": \"Get the weather \302\253now\302\273\", \""
	"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"typ"
	"e\": \"string\", \"description\": \"City name\"}, \"days\": {\"type\":"
	" \"integer\", \"default\": 1, \"enum\": [1, 2, 3]}}, \"required\": [\""
	"city\"]}}}]}";

/* Mistral's published tool-calling template */
static const char MistralToolsTemplate[] =
	"{%- if messages[0]['role'] == 'system' %}\n"
	"    {%- set system_message = messages[0]['content'] %}\n"
	"    {%- set loop_messages = messages[1:] %}\n"
	"{%- else %}\n"
	"    {%- set loop_messages = messages %}\n"
	"{%- endif %}\n"
	"{%- if not tools is defined %}\n"
	"    {%- set tools = none %}\n"
	"{%- endif %}\n"
	"{%- set user_messages = loop_messages | selectattr(\"role\", \"equalto"
	"\", \"user\") | list %}\n"
	"\n"
	"{%- for message in loop_messages | rejectattr(\"role\", \"equalto\", \""
	"tool\") | rejectattr(\"role\", \"equalto\", \"tool_results\") | select"
	"attr(\"tool_calls\", \"undefined\") %}\n"
	"    {%- if (message[\"role\"] == \"user\") != (loop.index0 % 2 == 0) %"
	"}\n"
	"        {{- raise_exception(\"After the optional system message, conve"
	"rsation roles must alternate user/assistant/user/assistant/...\") }}\n"
	"    {%- endif %}\n"
	"{%- endfor %}\n"
	"\n"
	"{{- bos_token }}\n"
	"{%- for message in loop_messages %}\n"
	"    {%- if message[\"role\"] == \"user\" %}\n"
	"        {%- if tools is not none and (message == user_messages[-1]) %}"
	"\n"
	"            {{- \"[AVAILABLE_TOOLS] [\" }}\n"
	"            {%- for tool in tools %}\n"
	"                {%- set tool = tool.function %}\n"
	"                {{- '{\"type\": \"function\", \"function\": {' }}\n"
	"                {%- for key, val in tool.items() if key != \"return\" "
	"%}\n"
	"                    {%- if val is string %}\n"
	"                        {{- '\"' + key + '\": \"' + val + '\"' }}\n"
	"                    {%- else %}\n"
	"                        {{- '\"' + key + '\": ' + val|tojson }}\n"
	"                    {%- endif %}\n"
	"                    {%- if not loop.last %}\n"
	"                        {{- \", \" }}\n"
	"                    {%- endif %}\n"
	"                {%- endfor %}\n"
	"                {{- \"}}\" }}\n"
	"                {%- if not loop.last %}\n"
	"                    {{- \", \" }}\n"
	"                {%- else %}\n"
	"                    {{- \"]\" }}\n"
	"                {%- endif %}\n"
	"            {%- endfor %}\n"
	"            {{- \"[/AVAILABLE_TOOLS]\" }}\n"
	"            {%- endif %}\n"
	"        {%- if loop.last and system_message is defined %}\n"
	"            {{- \"[INST] \" + system_message + \"\\n\\n\" + message[\""
	"content\"] + \"[/INST]\" }}\n"
	"        {%- else %}\n"
	"            {{- \"[INST] \" + message[\"content\"] + \"[/INST]\" }}\n"
	"        {%- endif %}\n"
	"    {%- elif message.tool_calls is defined and message.tool_calls is n"
	"ot none %}\n"
	"        {{- \"[TOOL_CALLS] [\" }}\n"
	"        {%- for tool_call in message.tool_calls %}\n"
	"            {%- set out = tool_call.function|tojson %}\n"
	"            {{- out[:-1] }}\n"
	"            {%- if not tool_call.id is defined or tool_call.id|length "
	"!= 9 %}\n"
	"                {{- raise_exception(\"Tool call IDs should be alphanum"
	"eric strings with length 9!\") }}\n"
	"            {%- endif %}\n"
	"            {{- ', \"id\": \"' + tool_call.id + '\"}' }}\n"
	"            {%- if not loop.last %}\n"
	"                {{- \", \" }}\n"
	"            {%- else %}\n"
	"                {{- \"]\" + eos_token }}\n"
	"            {%- endif %}\n"
	"        {%- endfor %}\n"
	"    {%- elif message[\"role\"] == \"assistant\" %}\n"
	"        {{- \" \" + message[\"content\"]|trim + eos_token}}\n"
	"    {%- elif message[\"role\"] == \"tool_results\" or message[\"role\""
	"] == \"tool\" %}\n"
	"        {%- if message.content is defined and message.content.content "
	"is defined %}\n"
	"            {%- set content = message.content.content %}\n"
	"        {%- else %}\n"
	"            {%- set content = message.content %}\n"
	"        {%- endif %}\n"
	"        {{- '[TOOL_RESULTS] {\"content\": ' + content|string + \", \" "
	"}}\n"
	"        {%- if not message.tool_call_id is defined or message.tool_cal"
	"l_id|length != 9 %}\n"
	"            {{- raise_exception(\"Tool call IDs should be alphanumeric"
	" strings with length 9!\") }}\n"
	"        {%- endif %}\n"
	"        {{- '\"call_id\": \"' + message.tool_call_id + '\"}[/TOOL_RESU"
	"LTS]' }}\n"
	"    {%- else %}\n"
	"        {{- raise_exception(\"Only user and assistant roles are suppor"
	"ted, with the exception of an initial optional system message!\") }}\n"
	"    {%- endif %}\n"
	"{%- endfor %}\n";

/* Llama 3.1's published tool-calling template */
static const char Llama31ToolsTemplate[] =
	"{{- bos_token }}\n"
	"{%- if custom_tools is defined %}\n"
	"    {%- set tools = custom_tools %}\n"
	"{%- endif %}\n"
	"{%- if not tools_in_user_message is defined %}\n"
	"    {%- set tools_in_user_message = true %}\n"
	"{%- endif %}\n"
	"{%- if not date_string is defined %}\n"
	"    {%- set date_string = \"26 Jul 2024\" %}\n"
	"{%- endif %}\n"
	"{%- if not tools is defined %}\n"
	"    {%- set tools = none %}\n"
	"{%- endif %}\n"
	"\n"
	"{#- This block extracts the system message, so we can slot it into the"
	" right place. #}\n"
	"{%- if messages[0]['role'] == 'system' %}\n"
	"    {%- set system_message = messages[0]['content']|trim %}\n"
	"    {%- set messages = messages[1:] %}\n"
	"{%- else %}\n"
	"    {%- set system_message = \"\" %}\n"
	"{%- endif %}\n"
	"\n"
	"{#- System message + builtin tools #}\n"
	"{{- \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}\n"
	"{%- if builtin_tools is defined or tools is not none %}\n"
	"    {{- \"Environment: ipython\\n\" }}\n"
	"{%- endif %}\n"
	"{%- if builtin_tools is defined %}\n"
	"    {{- \"Tools: \" + builtin_tools | reject('equalto', 'code_interpre"
	"ter') | join(\", \") + \"\\n\\n\"}}\n"
	"{%- endif %}\n"
	"{{- \"Cutting Knowledge Date: December 2023\\n\" }}\n"
	"{{- \"Today Date: \" + date_string + \"\\n\\n\" }}\n"
	"{%- if tools is not none and not tools_in_user_message %}\n"
	"    {{- \"You have access to the following functions. To call a functi"
	"on, please respond with JSON for a function call.\" }}\n"
	"    {{- 'Respond in the format {\"name\": function name, \"parameters\""
	": dictionary of argument name and its value}.' }}\n"
	"    {{- \"Do not use variables.\\n\\n\" }}\n"
	"    {%- for t in tools %}\n"
	"        {{- t | tojson(indent=4) }}\n"
	"        {{- \"\\n\\n\" }}\n"
	"    {%- endfor %}\n"
	"{%- endif %}\n"
	"{{- system_message }}\n"
	"{{- \"<|eot_id|>\" }}\n"
	"\n"
	"{#- Custom tools are passed in a user message with some extra guidance"
	" #}\n"
	"{%- if tools_in_user_message and not tools is none %}\n"
	"    {#- Extract the first user message so we can plug it in here #}\n"
	"    {%- if messages | length != 0 %}\n"
	"        {%- set first_user_message = messages[0]['content']|trim %}\n"
	"        {%- set messages = messages[1:] %}\n"
	"    {%- else %}\n"
	"        {{- raise_exception(\"Cannot put tools in the first user messa"
	"ge when there's no first user message!\") }}\n"
	"{%- endif %}\n"
	"    {{- '<|start_header_id|>user<|end_header_id|>\\n\\n' -}}\n"
	"    {{- \"Given the following functions, please respond with a JSON fo"
	"r a function call \" }}\n"
	"    {{- \"with its proper arguments that best answers the given prompt"
	".\\n\\n\" }}\n"
	"    {{- 'Respond in the format {\"name\": function name, \"parameters\""
	": dictionary of argument name and its value}.' }}\n"
	"    {{- \"Do not use variables.\\n\\n\" }}\n"
	"    {%- for t in tools %}\n"
	"        {{- t | tojson(indent=4) }}\n"
	"        {{- \"\\n\\n\" }}\n"
	"    {%- endfor %}\n"
	"    {{- first_user_message + \"<|eot_id|>\"}}\n"
	"{%- endif %}\n"
	"\n"
	"{%- for message in messages %}\n"
	"    {%- if not (message.role == 'ipython' or message.role == 'tool' or"
	" 'tool_calls' in message) %}\n"
	"        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id"
	"|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}\n"
	"    {%- elif 'tool_calls' in message %}\n"
	"        {%- if not message.tool_calls|length == 1 %}\n"
	"            {{- raise_exception(\"This model only supports single tool"
	"-calls at once!\") }}\n"
	"        {%- endif %}\n"
	"        {%- set tool_call = message.tool_calls[0].function %}\n"
	"        {%- if builtin_tools is defined and tool_call.name in builtin_"
	"tools %}\n"
	"            {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' "
	"-}}\n"
	"            {{- \"<|python_tag|>\" + tool_call.name + \".call(\" }}\n"
	"            {%- for arg_name, arg_val in tool_call.arguments | items %"
	"}\n"
	"                {{- arg_name + '=\"' + arg_val + '\"' }}\n"
	"                {%- if not loop.last %}\n"
	"                    {{- \", \" }}\n"
	"                {%- endif %}\n"
	"                {%- endfor %}\n"
	"            {{- \")\" }}\n"
	"        {%- else  %}\n"
	"            {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' "
	"-}}\n"
	"            {{- '{\"name\": \"' + tool_call.name + '\", ' }}\n"
	"            {{- '\"parameters\": ' }}\n"
	"            {{- tool_call.arguments | tojson }}\n"
	"            {{- \"}\" }}\n"
	"        {%- endif %}\n"
	"        {%- if builtin_tools is defined %}\n"
	"            {#- This means we're in ipython mode #}\n"
	"            {{- \"<|eom_id|>\" }}\n"
	"        {%- else %}\n"
	"            {{- \"<|eot_id|>\" }}\n"
	"        {%- endif %}\n"
	"    {%- elif message.role == \"tool\" or message.role == \"ipython\" %"
	"}\n"
	"        {{- \"<|start_header_id|>ipython<|end_header_id|>\\n\\n\" }}\n"
	"        {%- if message.content is mapping or message.content is iterab"
	"le %}\n"
	"            {{- message.content | tojson }}\n"
	"        {%- else %}\n"
	"            {{- message.content }}\n"
	"        {%- endif %}\n"
	"        {{- \"<|eot_id|>\" }}\n"
	"    {%- endif %}\n"
	"{%- endfor %}\n"
	"{%- if add_generation_prompt %}\n"
	"    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}\n"
	"{%- endif %}\n";

static const RenderCase RenderCases[] = {
	{"ws_trim_lstrip",
		"{% for m in messages %}\n"
		"    {% if m.role == 'user' %}\n"
		"  U:{{ m.content }}\n"
		"    {% endif %}\n"
		"{% endfor %}\n"
		"end\n",
		BasicConversation,
		NULL,
		"  U: Hi there \n"
		"  U:Bye\n"
		"\n"
		"end"},
	{"ws_dash",
		"a  {%- if true -%}  b  {%- endif -%}\n"
		"  c {{- ' d ' -}} e\n"
		"{#- comment -#}  f",
		BasicConversation,
		NULL,
		"abc d ef"},
	{"ws_plus",
		"x  \n"
		"  {%+ if true +%}\n"
		"y{% endif %}\n"
		"  {# c #}\n"
		"z",
		BasicConversation,
		NULL,
		"x  \n"
		"  \n"
		"yz"},
	{"ws_var_no_lstrip",
		"  {{ 'a' }}\n"
		"  {% set x = 1 %}\n"
		"{{ x }}\n",
		BasicConversation,
		NULL,
		"  a\n"
		"1"},
	{"ws_raw",
		"{% raw %}{{ not parsed }} {% if %}{% endraw %}|\n"
		"  {%- raw -%}  x  {%- endraw -%}  |",
		BasicConversation,
		NULL,
		"{{ not parsed }} {% if %}|x|"},
	{"ws_comment_lstrip",
		"a\n"
		"    {# only a comment #}\n"
		"b\n"
		"{#- x #}   c",
		BasicConversation,
		NULL,
		"a\n"
		"b   c"},
	{"ws_crlf",
		"a\r\n"
		"{% if true %}\r\n"
		"b\r\n"
		"{% endif %}\r\n"
		"c\r\n",
		BasicConversation,
		NULL,
		"a\n"
		"b\n"
		"c"},
	{"ws_trailing_newlines",
		"a\n"
		"\n",
		BasicConversation,
		NULL,
		"a\n"},
	{"loop_vars",
		"{% for m in messages %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.revi"
		"ndex }}/{{ loop.revindex0 }}/{{ loop.length }}/{{ loop.first }}/{{ loo"
		"p.last }}/{{ loop.cycle('odd', 'even') }};{% endfor %}",
		BasicConversation,
		NULL,
		"1/0/4/3/4/True/False/odd;2/1/3/2/4/False/False/even;3/2/2/1/4/False/Fa"
		"lse/odd;4/3/1/0/4/False/True/even;"},
	{"loop_prev_next",
		"{% for x in [1, 2, 3] %}[{{ loop.previtem }}|{{ loop.nextitem }}]{% en"
		"dfor %}",
		BasicConversation,
		NULL,
		"[|2][1|3][2|]"},
	{"loop_else",
		"{% for x in [] %}no{% else %}empty{% endfor %}{% for x in messages if "
		"x.role == 'tool' %}{{ x }}{% else %} none{% endfor %}",
		BasicConversation,
		NULL,
		"empty none"},
	{"loop_filter",
		"{% for m in messages if m.role == 'user' %}{{ loop.index }}:{{ m.conte"
		"nt|trim }}{{ ',' if not loop.last }}{% endfor %}",
		BasicConversation,
		NULL,
		"1:Hi there,2:Bye"},
	{"loop_break_continue",
		"{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if "
		"i > 5 %}{% break %}{% endif %}{{ i }}{% endfor %}",
		BasicConversation,
		NULL,
		"01345"},
	{"loop_dict",
		"{% for k in {'b': 1, 'a': 2} %}{{ k }}{% endfor %};{% for k, v in {'b'"
		": 1, 'a': [2]}.items() %}{{ k }}={{ v }};{% endfor %}{% for k, v in {'"
		"x': 'y'}|items %}{{ k ~ v }}{% endfor %}",
		BasicConversation,
		NULL,
		"ba;b=1;a=[2];xy"},
	{"loop_string_nested",
		"{% for c in 'h\303\251llo' %}{{ c }}.{% endfor %}{% for a in [[1, 2], "
		"[3, 4]] %}{% for b in a %}{{ loop.index }}{{ b }}{% endfor %}{{ loop.i"
		"ndex }}|{% endfor %}",
		BasicConversation,
		NULL,
		"h.\303\251.l.l.o.11221|13242|"},
	{"loop_range",
		"{{ range(3)|list }} {{ range(1, 10, 3)|list }} {{ range(5, 0, -2)|list"
		" }} {{ range(0)|list }}",
		BasicConversation,
		NULL,
		"[0, 1, 2] [1, 4, 7] [5, 3, 1] []"},
	{"scope_loop",
		"{% set x = 1 %}{% for i in [1, 2] %}{% set x = x + i %}{{ x }}{% endfo"
		"r %}{{ x }}{% if true %}{% set x = 9 %}{% endif %}{{ x }}",
		BasicConversation,
		NULL,
		"2319"},
	{"namespace",
		"{% set ns = namespace(found=false, n=0, last='') %}{% for m in message"
		"s %}{% if m.role == 'user' %}{% set ns.found = true %}{% set ns.n = ns"
		".n + 1 %}{% set ns.last = m.content %}{% endif %}{% endfor %}{{ ns.fou"
		"nd }} {{ ns.n }} [{{ ns.last }}] {{ ns.missing is defined }}",
		BasicConversation,
		NULL,
		"True 2 [Bye\n"
		"] False"},
	{"set_block",
		"{% set greeting | upper %}hello {{ messages[0].content }}{% endset %}["
		"{{ greeting }}]{% set plain %}  x  {% endset %}[{{ plain }}]",
		BasicConversation,
		NULL,
		"[HELLO SYS][  x  ]"},
	{"set_tuple",
		"{% set a, b = 1, 'two' %}{{ a }}{{ b }}{% set c = (3, 4) %}{{ c[1] }}{"
		"% set d = [5] %}{{ d }}",
		BasicConversation,
		NULL,
		"1two4[5]"},
	{"with_block",
		"{% with x = 2, y = 3 %}{{ x * y }}{% endwith %}[{{ x }}]",
		BasicConversation,
		NULL,
		"6[]"},
	{"macro",
		"{% macro render(m, prefix='> ', suffix='') %}{{ prefix }}{{ m.role }}:"
		" {{ m.content|trim }}{{ suffix }}{% endmacro %}{% for m in messages %}"
		"{{ render(m) }}|{{ render(m, suffix='!') }}|{{ render(m, '* ') }}\n"
		"{% endfor %}",
		BasicConversation,
		NULL,
		"> system: Sys|> system: Sys!|* system: Sys\n"
		"> user: Hi there|> user: Hi there!|* user: Hi there\n"
		"> assistant: Hello!|> assistant: Hello!!|* assistant: Hello!\n"
		"> user: Bye|> user: Bye!|* user: Bye\n"},
	{"macro_recursive",
		"{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n }}*{{ fact(n - 1) }}"
		"{% endif %}{% endmacro %}{{ fact(5) }}",
		BasicConversation,
		NULL,
		"5*4*3*2*1"},
	{"arith",
		"{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 "
		"}} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 2 ** 3 ** 2 }} {{ 7 / 2 }} {{ 6 / 3 }"
		"} {{ 1.5 + 1 }} {{ -3 }} {{ - -3 }} {{ 10 - 2 - 3 }} {{ 2 * 3.0 }} {{ "
		"7.5 // 2 }} {{ -7.5 % 2 }} {{ 2 ** -1 }}",
		BasicConversation,
		NULL,
		"7 9 3 -4 1 2 1024 64 3.5 2.0 2.5 -3 3 5 6.0 3.0 0.5 0.5"},
	{"concat",
		"{{ 'a' ~ 1 ~ none ~ true ~ 1.5 }} {{ 'a' + 'b' }} {{ [1] + [2, 3] }} {"
		"{ 'ab' * 3 }} {{ 3 * [0] }} {{ 'x' ~ undefined_var ~ 'y' }}",
		BasicConversation,
		NULL,
		"a1NoneTrue1.5 ab [1, 2, 3] ababab [0, 0, 0] xy"},
	{"compare",
		"{{ 1 < 2 < 3 }} {{ 1 < 3 < 2 }} {{ 1 == 1.0 }} {{ 'a' < 'b' }} {{ [1, "
		"2] < [1, 3] }} {{ 'a' != 'a' }} {{ 2 >= 2 }} {{ true == 1 }} {{ none ="
		"= none }} {{ 'ab' in 'cabd' }} {{ 3 not in [1, 2] }} {{ 'role' in mess"
		"ages[0] }} {{ 'x' in {'x': 1} }}",
		BasicConversation,
		NULL,
		"True False True True True False True True True True True True True"},
	{"logic",
		"{{ 0 or 'default' }} {{ 'a' and 'b' }} {{ '' and 'b' }} {{ not none }}"
		" {{ none or [] or 0 }} {{ 1 if true }} [{{ 1 if false }}] {{ 'y' if me"
		"ssages else 'n' }} {{ not 1 == 2 }}",
		BasicConversation,
		NULL,
		"default b  True 0 1 [] y True"},
	{"literals",
		"{{ [1, 'two', 3.0, none, true, [false]] }} {{ {'a': 1, 'b': {'c': 'd'}"
		"} }} {{ (1, 2) }} {{ () }} {{ 'it\\'s' }} {{ \"say \\\"hi\\\"\" }} {{ "
		"'tab\\there\\n' }} {{ 'a' 'b' }} {{ 0x1F }} {{ 1_000 }} {{ 1e3 }} {{ 0"
		".5 if false else 2.50 }}",
		BasicConversation,
		NULL,
		"[1, 'two', 3.0, None, True, [False]] {'a': 1, 'b': {'c': 'd'}} (1, 2) "
		"() it's say \"hi\" tab\there\n"
		" ab 31 1000 1000.0 2.5"},
	{"float_repr",
		"{{ 0.1 + 0.2 }} {{ 1e20 }} {{ 1e16 }} {{ 1e15 }} {{ 0.0001 }} {{ 0.000"
		"01 }} {{ 1/3 }} {{ -0.0 }} {{ 123456789.125 }} {{ 2.5e-7 }} {{ 100.0 }"
		"}",
		BasicConversation,
		NULL,
		"0.30000000000000004 1e+20 1e+16 1000000000000000.0 0.0001 1e-05 0.3333"
		"333333333333 -0.0 123456789.125 2.5e-07 100.0"},
	{"repr",
		"{{ ['it\\'s', \"q\\\"\", 'both\\'\"', 'nl\\n', '\303\251'] }} {{ {'k':"
		" none, 1: true} }} {{ messages[1] }}",
		BasicConversation,
		NULL,
		"[\"it's\", 'q\"', 'both\\'\"', 'nl\\n', '\303\251'] {'k': None, 1: Tru"
		"e} {'role': 'user', 'content': ' Hi there '}"},
	{"subscript",
		"{{ messages[0]['role'] }} {{ messages[-1].content }} {{ messages[10] i"
		"s defined }} {{ messages[0].nope is defined }} {{ messages.0.role }} {"
		"{ 'hello'[1] }} {{ 'h\303\251llo'[1] }} {{ 'abc'[-1] }} {{ messages[1]"
		"['content'][0] }}",
		BasicConversation,
		NULL,
		"system Bye\n"
		" False False system e \303\251 c  "},
	{"slices",
		"{{ messages[1:]|length }} {{ messages[:1][0].role }} {{ messages[::-1]"
		"[0].role }} {{ [1, 2, 3, 4, 5][1:4] }} {{ [1, 2, 3, 4, 5][::2] }} {{ ["
		"1, 2, 3, 4, 5][-2:] }} {{ [1, 2, 3, 4, 5][4:1:-1] }} {{ 'h\303\251llo "
		"w\303\266rld'[1:4] }} {{ 'h\303\251llo'[::-1] }} {{ 'abcdef'[-3:-1] }}"
		" {{ [1, 2][5:] }} {{ 'abc'[10:] }}",
		BasicConversation,
		NULL,
		"3 system user [2, 3, 4] [1, 3, 5] [4, 5] [5, 4, 3] \303\251ll oll\303\251"
		"h de [] "},
	{"tests",
		"{{ x is defined }} {{ x is undefined }} {{ none is none }} {{ 'a' is s"
		"tring }} {{ 1 is string }} {{ {} is mapping }} {{ [] is mapping }} {{ "
		"[] is iterable }} {{ 'a' is iterable }} {{ 1 is iterable }} {{ 1 is nu"
		"mber }} {{ 1.5 is number }} {{ 'a' is number }} {{ [] is sequence }} {"
		"{ true is true }} {{ 1 is true }} {{ false is false }} {{ 1 is integer"
		" }} {{ 1.0 is float }} {{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibl"
		"eby 3 }} {{ 9 is divisibleby(4) }} {{ true is sameas true }} {{ 'a' is"
		" in 'cat' }} {{ 2 is in [1, 2] }} {{ 1 is eq 1 }} {{ 'abc' is lower }}"
		" {{ 'ABC' is upper }} {{ true is boolean }} {{ 1 is not none }} {{ mes"
		"sages is not string }} {{ range is callable }} {{ 3 is gt 2 }} {{ 3 is"
		" lessthan 2 }}",
		BasicConversation,
		NULL,
		"False True True True False True False True True False True True False "
		"True True False True True True True True True False True True True Tru"
		"e True True True True True True True False"},
	{"f_basic",
		"[{{ '  x y  '|trim }}] [{{ 'xxhixx'|trim('x') }}] {{ messages|length }"
		"} {{ 'h\303\251llo'|length }} {{ {'a': 1}|count }} {{ 'MiXeD'|upper }}"
		" {{ 'MiXeD'|lower }} {{ 'hello world-wide (x)'|title }} {{ 'hELLO ther"
		"e'|capitalize }} {{ 'a b  c'|wordcount }}",
		BasicConversation,
		NULL,
		"[x y] [hi] 4 5 1 MIXED mixed Hello World-Wide (X) Hello there 3"},
	{"f_default",
		"[{{ missing|default('d') }}] [{{ ''|default('d') }}] [{{ ''|default('d"
		"', true) }}] [{{ none|default('d') }}] [{{ missing|d }}] [{{ 0|default"
		"(5, boolean=true) }}]",
		BasicConversation,
		NULL,
		"[d] [] [d] [None] [] [5]"},
	{"f_first_last",
		"{{ messages|first }} {{ (messages|last).role }} {{ 'abc'|first }} {{ '"
		"abc'|last }} {{ [1, 2, 3]|first }} [{{ []|first }}]",
		BasicConversation,
		NULL,
		"{'role': 'system', 'content': 'Sys'} user a c 1 []"},
	{"f_join",
		"{{ [1, 2, 3]|join(', ') }} {{ messages|map(attribute='role')|join('|')"
		" }} {{ messages|join(',', attribute='role') }} {{ ['a', 'b']|join }}",
		BasicConversation,
		NULL,
		"1, 2, 3 system|user|assistant|user system,user,assistant,user ab"},
	{"f_replace",
		"{{ 'a-b-c'|replace('-', '+') }} {{ 'a-b-c'|replace('-', '', 1) }} {{ '"
		"abc'|replace('', '.') }} {{ 'aaa'|replace('a', 'bb') }}",
		BasicConversation,
		NULL,
		"a+b+c ab-c .a.b.c. bbbbbb"},
	{"f_conv",
		"{{ '42'|int + 1 }} {{ '4.7'|int }} {{ 'x'|int }} {{ 'x'|int(7) }} {{ 3"
		".9|int }} {{ '0x1A'|int(0, 16) }} {{ '1.5'|float + 1 }} {{ 'x'|float }"
		"} {{ 42|string ~ '!' }} {{ 'ab'|list }} {{ none|string }} {{ true|int "
		"}} {{ ' 12 '|int }}",
		BasicConversation,
		NULL,
		"43 4 0 7 3 26 2.5 0.0 42! ['a', 'b'] None 1 12"},
	{"f_items_dictsort",
		"{{ {'b': 1, 'A': 2, 'c': 0}|dictsort }} {{ {'b': 1, 'A': 2, 'c': 0}|di"
		"ctsort(true) }} {{ {'b': 1, 'a': 2}|dictsort(by='value', reverse=true)"
		" }} {{ {'x': 1, 'y': [2]}|items|list }}",
		BasicConversation,
		NULL,
		"[('A', 2), ('b', 1), ('c', 0)] [('A', 2), ('b', 1), ('c', 0)] [('a', 2"
		"), ('b', 1)] [('x', 1), ('y', [2])]"},
	{"f_select",
		"{{ messages|selectattr('role', 'equalto', 'user')|map(attribute='conte"
		"nt')|list }} {{ messages|rejectattr('role', 'eq', 'user')|list|length "
		"}} {{ [0, 1, 2, '', 'a']|select|list }} {{ [1, 2, 3, 4]|select('odd')|"
		"list }} {{ [1, 2, 3, 4]|reject('even')|list }} {{ messages|selectattr("
		"'tool_calls')|list|length }} {{ messages|selectattr('role', 'in', ['sy"
		"stem', 'assistant'])|map(attribute='role')|list }}",
		BasicConversation,
		NULL,
		"[' Hi there ', 'Bye\\n'] 2 [1, 2, 'a'] [1, 3] [1, 3] 0 ['system', 'ass"
		"istant']"},
	{"f_map",
		"{{ ['a', 'B']|map('upper')|list }} {{ ['1', '2']|map('int')|sum }} {{ "
		"messages|map(attribute='missing', default='?')|list }} {{ [' x ', 'y '"
		"]|map('trim')|join }} {{ ['a', 'b']|map('replace', 'a', 'z')|list }}",
		BasicConversation,
		NULL,
		"['A', 'B'] 3 ['?', '?', '?', '?'] xy ['z', 'b']"},
	{"f_sort_unique",
		"{{ [3, 1, 2]|sort }} {{ [3, 1, 2]|sort(reverse=true) }} {{ ['b', 'A', "
		"'c']|sort }} {{ ['b', 'A', 'c']|sort(case_sensitive=true) }} {{ messag"
		"es|sort(attribute='role')|map(attribute='role')|list }} {{ [1, 2, 1, 3"
		", 2]|unique|list }} {{ ['a', 'A', 'b']|unique|list }}",
		BasicConversation,
		NULL,
		"[1, 2, 3] [3, 2, 1] ['A', 'b', 'c'] ['A', 'b', 'c'] ['assistant', 'sys"
		"tem', 'user', 'user'] [1, 2, 3] ['a', 'b']"},
	{"f_numeric",
		"{{ [1, 2, 3]|sum }} {{ [1.5, 2]|sum }} {{ messages|map(attribute='cont"
		"ent')|map('length')|sum }} {{ [3, 1, 2]|min }} {{ [3, 1, 2]|max }} {{ "
		"['b', 'A']|min }} {{ -3|abs }} {{ (-2.5)|abs }} {{ 2.567|round(2) }} {"
		"{ 2.5|round }} {{ 3.5|round }} {{ 2.1|round(0, 'ceil') }} {{ 2.9|round"
		"(method='floor') }} {{ [1, 2, 3]|reverse|list }} {{ 'abc'|reverse }}",
		BasicConversation,
		NULL,
		"6 3.5 23 1 3 A 3 2.5 2.57 2.0 4.0 3.0 2.0 [3, 2, 1] cba"},
	{"f_tojson",
		"{{ messages|tojson }}\n"
		"{{ {'a': [1, 2.5, none, true, '\303\251\"\\\\\\n\\t\\u0001'], 'b': {}}"
		" | tojson }}\n"
		"{{ {'b': 1, 'a': [1, {'c': []}]}|tojson(indent=2) }}\n"
		"{{ {'b': 1, 'a': 2}|tojson(sort_keys=true) }}\n"
		"{{ '\303\251\360\237\230\200'|tojson(ensure_ascii=true) }}\n"
		"{{ [1, 2]|tojson(separators=(',', ':')) }}\n"
		"{{ 1.0|tojson }} {{ 1e100|tojson }} {{ 'x'|tojson }}",
		BasicConversation,
		NULL,
		"[{\"role\": \"system\", \"content\": \"Sys\"}, {\"role\": \"user\", \""
		"content\": \" Hi there \"}, {\"role\": \"assistant\", \"content\": \"H"
		"ello!\"}, {\"role\": \"user\", \"content\": \"Bye\\n\"}]\n"
		"{\"a\": [1, 2.5, null, true, \"\303\251\\\"\\\\\\n\\t\\u0001\"], \"b\""
		": {}}\n"
		"{\n"
		"  \"b\": 1,\n"
		"  \"a\": [\n"
		"    1,\n"
		"    {\n"
		"      \"c\": []\n"
		"    }\n"
		"  ]\n"
		"}\n"
		"{\"a\": 2, \"b\": 1}\n"
		"\"\\u00e9\\ud83d\\ude00\"\n"
		"[1,2]\n"
		"1.0 1e+100 \"x\""},
	{"f_misc",
		"{{ 'line1\\nline2\\n\\nline3'|indent(2) }}|{{ 'a\\nb'|indent(2, true) "
		"}}|{{ 'a\\n\\nb'|indent(width='> ', blank=true) }}|{{ '<a href=\"x\">&"
		"\\'</a>'|e }}|{{ 'x'|safe }}|{{ '%s is %d%%'|format('x', 5) }}|{{ {'a'"
		": 'b'}|attr('a') }}",
		BasicConversation,
		NULL,
		"line1\n"
		"  line2\n"
		"\n"
		"  line3|  a\n"
		"  b|a\n"
		"> \n"
		"> b|&lt;a href=&#34;x&#34;&gt;&amp;&#39;&lt;/a&gt;|x|x is 5%|"},
	{"f_filter_block",
		"{% filter upper %}hello {{ messages[0].content }}{% endfilter %}|{% fi"
		"lter trim|replace('a', 'b') %}  aaa  {% endfilter %}",
		BasicConversation,
		NULL,
		"HELLO SYS|bbb"},
	{"s_strip",
		"[{{ '  x  '.strip() }}][{{ '  x  '.lstrip() }}][{{ '  x  '.rstrip() }}"
		"][{{ '\\n\\nx\\n'.strip('\\n') }}][{{ 'xyhixy'.strip('xy') }}][{{ '\302"
		"\240x\343\200\200'.strip() }}][{{ '\303\251\303\251x\303\251'.lstrip('"
		"\303\251') }}]",
		BasicConversation,
		NULL,
		"[x][x  ][  x][x][hi][x][x\303\251]"},
	{"s_split",
		"{{ 'a,b,,c'.split(',') }} {{ '  a  b c '.split() }} {{ 'a,b,c'.split('"
		",', 1) }} {{ 'a b c'.split(none, 1) }} {{ 'a<think>b</think>c'.split('"
		"</think>')[-1] }} {{ 'a,b,c'.rsplit(',', 1) }} {{ 'x'.split('y') }} {{"
		" ''.split() }} {{ ''.split(',') }} {{ 'l1\\nl2\\r\\nl3'.splitlines() }"
		"}",
		BasicConversation,
		NULL,
		"['a', 'b', '', 'c'] ['a', 'b', 'c'] ['a', 'b,c'] ['a', 'b c'] c ['a,b'"
		", 'c'] ['x'] [] [''] ['l1', 'l2', 'l3']"},
	{"s_affix",
		"{{ 'hello'.startswith('he') }} {{ 'hello'.endswith('lo') }} {{ 'hello'"
		".startswith(('x', 'h')) }} {{ 'hello'.endswith('x') }} {{ ''.startswit"
		"h('') }}",
		BasicConversation,
		NULL,
		"True True True False True"},
	{"s_case",
		"{{ 'hello wORLD'.title() }} {{ 'they\\'re bill\\'s'.title() }} {{ 'ab'"
		".upper() }} {{ '\303\211COLE'.lower() }} {{ 'stra\303\237e'.upper() }}"
		" {{ 'hello WORLD'.capitalize() }}",
		BasicConversation,
		NULL,
		"Hello World They'Re Bill'S AB \303\251cole STRASSE Hello world"},
	{"s_other",
		"{{ 'a-b-c'.replace('-', '+', 1) }} {{ 'hello'.find('l') }} {{ 'hello'."
		"find('z') }} {{ 'hello'.rfind('l') }} {{ 'hello'.count('l') }} {{ ', '"
		".join(['a', 'b']) }} {{ '123'.isdigit() }} {{ '12a'.isdigit() }} {{ '{"
		"} and {}'.format('x', 1) }} {{ '{0}{0}{name}'.format('a', name='b') }}"
		" {{ 'h\303\251llo'.index('l') }}",
		BasicConversation,
		NULL,
		"a+b-c 2 -1 3 2 a, b True False x and 1 aab 2"},
	{"d_methods",
		"{{ messages[0].get('role') }} {{ messages[0].get('nope') }} {{ message"
		"s[0].get('nope', 'dflt') }} {{ messages[0].keys()|list }} {{ messages["
		"0].values()|list }} {% for k, v in messages[0].items() %}{{ k }}={{ v "
		"}} {% endfor %}",
		BasicConversation,
		NULL,
		"system None dflt ['role', 'content'] ['system', 'Sys'] role=system con"
		"tent=Sys "},
	{"print_values",
		"{{ none }} {{ true }} {{ false }} {{ 1 }} {{ 1.0 }} {{ -0 }} {{ undefi"
		"ned_thing }} {{ [none, true] }} {{ {'x': 1.5} }} {{ messages[0] }}",
		BasicConversation,
		NULL,
		"None True False 1 1.0 0  [None, True] {'x': 1.5} {'role': 'system', 'c"
		"ontent': 'Sys'}"},
	{"unicode",
		"{{ messages[0].content }} {{ messages[0].content|length }} {{ messages"
		"[0].content|upper }} {{ messages[0].content[:4] }} {{ messages[0].cont"
		"ent|tojson }} {{ messages[0].content.split(' ') }}",
		"[{\"role\": \"user\", \"content\": \"Caf\303\251 \342\200\224 \346\235"
		"\261\344\272\254 \360\237\230\200\"}]",
		NULL,
		"Caf\303\251 \342\200\224 \346\235\261\344\272\254 \360\237\230\200 11 "
		"CAF\303\211 \342\200\224 \346\235\261\344\272\254 \360\237\230\200 Caf"
		"\303\251 \"Caf\303\251 \342\200\224 \346\235\261\344\272\254 \360\237\230"
		"\200\" ['Caf\303\251', '\342\200\224', '\346\235\261\344\272\254', '\360"
		"\237\230\200']"},
	{"extra_vars",
		"{{ date_string }} {{ enable_thinking }} {{ tools|length }} {{ custom.n"
		"ested[1] }} {{ documents is none }}",
		BasicConversation,
		"{\"date_string\": \"26 Jul 2024\", \"enable_thinking\": false, \"tools"
		"\": [{\"type\": \"function\", \"function\": {\"name\": \"get_weather\""
		", \"description\": \"Get the weather \302\253now\302\273\", \"paramete"
		"rs\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"s"
		"tring\", \"description\": \"City name\"}, \"days\": {\"type\": \"integ"
		"er\", \"default\": 1, \"enum\": [1, 2, 3]}}, \"required\": [\"city\"]}"
		"}}], \"custom\": {\"nested\": [1, \"two\"]}}",
		"26 Jul 2024 False 1 two True"},
	{"tools_default_none",
		"{{ tools is none }} {{ tools is defined }} {{ documents is none }} {{ "
		"bos_token }}{{ eos_token }}",
		BasicConversation,
		NULL,
		"True True True <s></s>"},
	{"generation_tag",
		"{% for m in messages %}{% if m.role == 'assistant' %}{% generation %}{"
		"{ m.content }}{% endgeneration %}{% else %}{{ m.role }}{% endif %}{% e"
		"ndfor %}",
		BasicConversation,
		NULL,
		"systemuserHello!user"},
	{"nested_dict_literal",
		"{{ {'a': {'b': {'c': 1}}}['a']['b'] }}{{ {'x': [1, {'y': 2}]}.x[1].y }"
		"}",
		BasicConversation,
		NULL,
		"{'c': 1}2"},
	{"real_chatml",
		"{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n"
		"' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_g"
		"eneration_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
		BasicConversation,
		NULL,
		"<|im_start|>system\n"
		"Sys<|im_end|>\n"
		"<|im_start|>user\n"
		" Hi there <|im_end|>\n"
		"<|im_start|>assistant\n"
		"Hello!<|im_end|>\n"
		"<|im_start|>user\n"
		"Bye\n"
		"<|im_end|>\n"
		"<|im_start|>assistant\n",
		"<|im_start|>assistant\n"},
	{"real_mistral_tools",
		MistralToolsTemplate,
		WeatherConversation,
		WeatherTools,
		"<s>[INST] Weather in Paris?[/INST][TOOL_CALLS] [{\"name\": \"get_weath"
		"er\", \"arguments\": {\"city\": \"Paris\"}, \"id\": \"abcdefghi\"}]</s"
		">[TOOL_RESULTS] {\"content\": {\"temp\": 21}, \"call_id\": \"abcdefghi"
		"\"}[/TOOL_RESULTS] 21 degrees.</s>[AVAILABLE_TOOLS] [{\"type\": \"func"
		"tion\", \"function\": {\"name\": \"get_weather\", \"description\": \"G"
		"et the weather \302\253now\302\273\", \"parameters\": {\"type\": \"obj"
		"ect\", \"properties\": {\"city\": {\"type\": \"string\", \"description"
		"\": \"City name\"}, \"days\": {\"type\": \"integer\", \"default\": 1, "
		"\"enum\": [1, 2, 3]}}, \"required\": [\"city\"]}}}][/AVAILABLE_TOOLS]["
		"INST] Be brief.\n"
		"\n"
		"Thanks[/INST]",
		""},
	{"real_mistral_plain",
		MistralToolsTemplate,
		"[{\"role\": \"user\", \"content\": \" Hi there \"}, {\"role\": \"assis"
		"tant\", \"content\": \"Hello!\"}, {\"role\": \"user\", \"content\": \""
		"Bye\\n\"}]",
		NULL,
		"<s>[INST]  Hi there [/INST] Hello!</s>[INST] Bye\n"
		"[/INST]",
		""},
	{"real_llama31_tools",
		Llama31ToolsTemplate,
		WeatherConversation,
		WeatherTools,
		"<s><|start_header_id|>system<|end_header_id|>\n"
		"\n"
		"Environment: ipython\n"
		"Cutting Knowledge Date: December 2023\n"
		"Today Date: 26 Jul 2024\n"
		"\n"
		"Be brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n"
		"\n"
		"Given the following functions, please respond with a JSON for a functi"
		"on call with its proper arguments that best answers the given prompt.\n"
		"\n"
		"Respond in the format {\"name\": function name, \"parameters\": dictio"
		"nary of argument name and its value}.Do not use variables.\n"
		"\n"
		"{\n"
		"    \"type\": \"function\",\n"
		"    \"function\": {\n"
		"        \"name\": \"get_weather\",\n"
		"        \"description\": \"Get the weather \302\253now\302\273\",\n"
		"        \"parameters\": {\n"
		"            \"type\": \"object\",\n"
		"            \"properties\": {\n"
		"                \"city\": {\n"
		"                    \"type\": \"string\",\n"
		"                    \"description\": \"City name\"\n"
		"                },\n"
		"                \"days\": {\n"
		"                    \"type\": \"integer\",\n"
		"                    \"default\": 1,\n"
		"                    \"enum\": [\n"
		"                        1,\n"
		"                        2,\n"
		"                        3\n"
		"                    ]\n"
		"                }\n"
		"            },\n"
		"            \"required\": [\n"
		"                \"city\"\n"
		"            ]\n"
		"        }\n"
		"    }\n"
		"}\n"
		"\n"
		"Weather in Paris?<|eot_id|><|start_header_id|>assistant<|end_header_id"
		"|>\n"
		"\n"
		"{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}<|eo"
		"t_id|><|start_header_id|>ipython<|end_header_id|>\n"
		"\n"
		"\"{\\\"temp\\\": 21}\"<|eot_id|><|start_header_id|>assistant<|end_head"
		"er_id|>\n"
		"\n"
		"21 degrees.<|eot_id|><|start_header_id|>user<|end_header_id|>\n"
		"\n"
		"Thanks<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n"
		"\n",
		"<|start_header_id|>assistant<|end_header_id|>\n\n"},
	{"real_llama31_plain",
		Llama31ToolsTemplate,
		BasicConversation,
		"{\"date_string\": \"01 Jan 2025\"}",
		"<s><|start_header_id|>system<|end_header_id|>\n"
		"\n"
		"Cutting Knowledge Date: December 2023\n"
		"Today Date: 01 Jan 2025\n"
		"\n"
		"Sys<|eot_id|><|start_header_id|>user<|end_header_id|>\n"
		"\n"
		"Hi there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n"
		"\n"
		"Hello!<|eot_id|><|start_header_id|>user<|end_header_id|>\n"
		"\n"
		"Bye<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n"
		"\n",
		"<|start_header_id|>assistant<|end_header_id|>\n\n"},
	{"real_llama31_builtin",
		Llama31ToolsTemplate,
		"[{\"role\": \"user\", \"content\": \"search\"}, {\"role\": \"assistant"
		"\", \"tool_calls\": [{\"function\": {\"name\": \"brave_search\", \"arg"
		"uments\": {\"query\": \"x\"}}}]}, {\"role\": \"ipython\", \"content\":"
		" {\"r\": [1]}}]",
		"{\"builtin_tools\": [\"brave_search\", \"code_interpreter\"]}",
		"<s><|start_header_id|>system<|end_header_id|>\n"
		"\n"
		"Environment: ipython\n"
		"Tools: brave_search\n"
		"\n"
		"Cutting Knowledge Date: December 2023\n"
		"Today Date: 26 Jul 2024\n"
		"\n"
		"<|eot_id|><|start_header_id|>user<|end_header_id|>\n"
		"\n"
		"search<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n"
		"\n"
		"<|python_tag|>brave_search.call(query=\"x\")<|eom_id|><|start_header_i"
		"d|>ipython<|end_header_id|>\n"
		"\n"
		"{\"r\": [1]}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n"
		"\n",
		"<|start_header_id|>assistant<|end_header_id|>\n\n"},
};

static const ErrorCase RaiseCases[] = {
	{"err_raise",
		"{% if messages|length > 1 %}{{ raise_exception('Too many: ' ~ messages"
		"|length) }}{% endif %}",
		BasicConversation,
		"Too many: 4"},
	{"err_mistral_alternate",
		MistralToolsTemplate,
		"[{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"user\", \"cont"
		"ent\": \"b\"}]",
		"After the optional system message, conversation roles must alternate u"
		"ser/assistant/user/assistant/..."},
};

/*
 * Qwen3 cases: a conversation with a tool call (the messages after "["),
 * the system text Qwen3 renders for WeatherTools and the turns it
 * renders for that conversation
 */
#define QWEN3_WEATHER_MESSAGES \
	"{\"role\": \"user\", \"content\": \"Weather in Paris?\"}, {\"role\":" \
	" \"assistant\", \"content\": \"\", \"tool_calls\": [{\"type\": \"fun" \
	"ction\", \"function\": {\"name\": \"get_weather\", \"arguments\": {" \
	"\"city\": \"Paris\", \"days\": 2}}}]}, {\"role\": \"tool\", \"conten" \
	"t\": \"{\\\"temp\\\": 21.5}\"}, {\"role\": \"tool\", \"content\": \"" \
	"sunny\"}, {\"role\": \"assistant\", \"content\": \"<think>\\nIt is w" \
	"arm.\\n</think>\\n\\nIt is 21.5 \302\260C and sunny.\"}, {\"role\": " \
	"\"user\", \"content\": \"Thanks\"}]"
#define QWEN3_WEATHER_TOOLS \
	"# Tools\n" \
	"\n" \
	"You may call one or more functions to assist with the user query.\n" \
	"\n" \
	"You are provided with function signatures within <tools></tools> XML t" \
	"ags:\n" \
	"<tools>\n" \
	"{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"d" \
	"escription\": \"Get the weather \302\253now\302\273\", \"parameters\":" \
	" {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string" \
	"\", \"description\": \"City name\"}, \"days\": {\"type\": \"integer\"," \
	" \"default\": 1, \"enum\": [1, 2, 3]}}, \"required\": [\"city\"]}}}\n" \
	"</tools>\n" \
	"\n" \
	"For each function call, return a json object with function name and ar" \
	"guments within <tool_call></tool_call> XML tags:\n" \
	"<tool_call>\n" \
	"{\"name\": <function-name>, \"arguments\": <args-json-object>}\n" \
	"</tool_call><|im_end|>\n"
#define QWEN3_WEATHER_TURNS \
	"<|im_start|>user\n" \
	"Weather in Paris?<|im_end|>\n" \
	"<|im_start|>assistant\n" \
	"<tool_call>\n" \
	"{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"day" \
	"s\": 2}}\n" \
	"</tool_call><|im_end|>\n" \
	"<|im_start|>user\n" \
	"<tool_response>\n" \
	"{\"temp\": 21.5}\n" \
	"</tool_response>\n" \
	"<tool_response>\n" \
	"sunny\n" \
	"</tool_response><|im_end|>\n" \
	"<|im_start|>assistant\n" \
	"It is 21.5 \302\260C and sunny.<|im_end|>\n" \
	"<|im_start|>user\n" \
	"Thanks<|im_end|>\n" \
	"<|im_start|>assistant\n"

static const GoldenExtraCase GoldenExtraCases[] = {
	{"qwen3", "tools",
		"[" QWEN3_WEATHER_MESSAGES,
		WeatherTools,
		"<|im_start|>system\n"
		QWEN3_WEATHER_TOOLS
		QWEN3_WEATHER_TURNS,
		"<|im_start|>assistant\n"},
	{"qwen3", "tools_system",
		"[{\"role\": \"system\", \"content\": \"S\"}, " QWEN3_WEATHER_MESSAGES,
		WeatherTools,
		"<|im_start|>system\n"
		"S\n"
		"\n"
		QWEN3_WEATHER_TOOLS
		QWEN3_WEATHER_TURNS,
		"<|im_start|>assistant\n"},
	{"qwen3", "tool_calls_reasoning",
		"[{\"role\": \"user\", \"content\": \"Call it\"}, {\"role\": \"assistan"
		"t\", \"content\": \"Sure\", \"reasoning_content\": \"need tool\", \"to"
		"ol_calls\": [{\"id\": \"1\", \"function\": {\"name\": \"f\", \"argumen"
		"ts\": \"{\\\"a\\\": 1}\"}}, {\"function\": {\"name\": \"g\", \"argumen"
		"ts\": {}}}]}, {\"role\": \"tool\", \"content\": \"ok\"}]",
		NULL,
		"<|im_start|>user\n"
		"Call it<|im_end|>\n"
		"<|im_start|>assistant\n"
		"<think>\n"
		"need tool\n"
		"</think>\n"
		"\n"
		"Sure\n"
		"<tool_call>\n"
		"{\"name\": \"f\", \"arguments\": {\"a\": 1}}\n"
		"</tool_call>\n"
		"<tool_call>\n"
		"{\"name\": \"g\", \"arguments\": {}}\n"
		"</tool_call><|im_end|>\n"
		"<|im_start|>user\n"
		"<tool_response>\n"
		"ok\n"
		"</tool_response><|im_end|>\n"
		"<|im_start|>assistant\n",
		"<|im_start|>assistant\n"},
	{"qwen3", "thinking_off",
		"[{\"role\": \"user\", \"content\": \"hi\"}]",
		"{\"enable_thinking\": false}",
		"<|im_start|>user\n"
		"hi<|im_end|>\n"
		"<|im_start|>assistant\n"
		"<think>\n"
		"\n"
		"</think>\n"
		"\n",
		"<|im_start|>assistant\n<think>\n\n</think>\n\n"},
	{"qwen3", "thinking_history",
		"[{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"assistant\", \""
		"content\": \"<think>x</think>b\"}, {\"role\": \"user\", \"content\": \""
		"c\"}, {\"role\": \"assistant\", \"content\": \"<think>\\ny\\n</think>\\"
		"n\\nd\"}]",
		NULL,
		"<|im_start|>user\n"
		"a<|im_end|>\n"
		"<|im_start|>assistant\n"
		"b<|im_end|>\n"
		"<|im_start|>user\n"
		"c<|im_end|>\n"
		"<|im_start|>assistant\n"
		"<think>\n"
		"y\n"
		"</think>\n"
		"\n"
		"d<|im_end|>\n"
		"<|im_start|>assistant\n",
		"<|im_start|>assistant\n"},
	{"gemma3", "multimodal",
		"[{\"role\": \"system\", \"content\": [{\"type\": \"text\", \"text\": \""
		"Sys list \"}]}, {\"role\": \"user\", \"content\": [{\"type\": \"image\""
		"}, {\"type\": \"text\", \"text\": \" Describe \"}]}, {\"role\": \"assi"
		"stant\", \"content\": \"A cat.\"}, {\"role\": \"user\", \"content\": \""
		"More\"}]",
		NULL,
		"<bos><start_of_turn>user\n"
		"Sys list \n"
		"\n"
		"<start_of_image>Describe<end_of_turn>\n"
		"<start_of_turn>model\n"
		"A cat.<end_of_turn>\n"
		"<start_of_turn>user\n"
		"More<end_of_turn>\n"
		"<start_of_turn>model\n",
		"<start_of_turn>model\n"},
	{"llama3_1", "tools_ignored",
		"[{\"role\": \"user\", \"content\": \"Weather in Paris?\"}]",
		WeatherTools,
		"<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n"
		"\n"
		"Weather in Paris?<|eot_id|><|start_header_id|>assistant<|end_header_id"
		"|>\n"
		"\n",
		"<|start_header_id|>assistant<|end_header_id|>\n\n"},
};

#endif							/* PGMLOPS_UNIT_CHAT_TEMPLATE_CASES_H */
