// objects: src/llm/provider.o src/llm/providerstream.o src/llm/httpc.o src/llm/tokenizer.o src/llm/tokutil.o src/llm/utf8.o src/llm/toknorm.o src/llm/tokpretok.o src/llm/tokbpe.o src/llm/tokwordpiece.o src/llm/tokdecode.o src/llm/llmjson.o src/llm/llmutil.o src/vector/vecdist.o
/*
 * test_provider.c
 *	  The remote-provider client (httpc.c, provider.c) against the test
 *	  double t/llm_provider_double.py on 127.0.0.1: chat and embeddings
 *	  for the OpenAI and Ollama APIs, batching, retries (429 with
 *	  Retry-After, 5xx), bad replies, redirects, the allowlist, timeouts,
 *	  cancellation and secret hiding.  Skipped without python3.
 */
#include <signal.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "llm/llmjson.h"
#include "llm/provider.h"
#include "unit.h"

#define SECRET "sk-test-SECRET-4242"

static int	port;
static char base[64];
static const char *const local_hosts[] = {"127.0.0.1"};
static double cancel_at = 0;

static double
Now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool
CancelHook(void)
{
	return cancel_at > 0 && Now() >= cancel_at;
}

/* no error message ever holds the secret */
#define CHECK_ERR(call, want_code, err) \
	do { \
		int rc_ = (call); \
		CHECK(rc_ == (want_code)); \
		if (rc_ != (want_code)) \
			printf("  got %d: %s\n", rc_, (err).message); \
		CHECK(strstr((err).message, SECRET) == NULL); \
		CHECK(strstr((err).message, "SECRET") == NULL); \
	} while (0)

static size_t
CollectBody(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	char	  **buf = userdata;
	size_t		old = *buf ? strlen(*buf) : 0;
	char	   *p = realloc(*buf, old + size * nmemb + 1);

	if (p == NULL)
		return 0;
	memcpy(p + old, ptr, size * nmemb);
	p[old + size * nmemb] = '\0';
	*buf = p;
	return size * nmemb;
}

/* GET /_stats of the double */
static json_t *
Stats(void)
{
	CURL	   *c = curl_easy_init();
	char		url[128];
	char	   *buf = NULL;
	json_t	   *root = NULL;

	snprintf(url, sizeof(url), "%s/_stats", base);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, CollectBody);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &buf);
	if (curl_easy_perform(c) == CURLE_OK && buf != NULL)
		root = json_loads(buf, 0, NULL);
	curl_easy_cleanup(c);
	free(buf);
	return root;
}

/* a counter of the double's /_stats */
static int64_t
StatsCount(const char *key)
{
	json_t	   *s = Stats();
	int64_t		n = s ? json_integer_value(json_object_get(s, key)) : -1;

	json_decref(s);
	return n;
}

static int64_t
StatsRequests(void)
{
	return StatsCount("requests");
}

static void
Provider(LlmProvider *p, LlmProviderKind kind, const char *model)
{
	LlmProviderInit(p, kind, base, model);
	p->secret = SECRET;
	p->policy.allowed_hosts = local_hosts;
	p->policy.n_allowed_hosts = 1;
	p->policy.connect_timeout_ms = 2000;
	p->policy.timeout_ms = 5000;
	p->policy.backoff_base_ms = 50;
}

static void
TestUrls(void)
{
	LlmHttpPolicy pol;
	LlmError	err = {0};
	const char *const hosts[] = {"LocalHost", "127.0.0.1", "api.example.com"};

	LlmHttpPolicyDefaults(&pol);
	pol.allowed_hosts = hosts;
	pol.n_allowed_hosts = 3;
	CHECK(LlmHttpCheckUrl("http://127.0.0.1:8080/v1", &pol, &err) == LLM_OK);
	CHECK(LlmHttpCheckUrl("http://localhost/", &pol, &err) == LLM_OK);
	CHECK(LlmHttpCheckUrl("HTTPS://API.EXAMPLE.COM/v1", &pol, &err) == LLM_OK);
	CHECK(LlmHttpCheckUrl("http://user:pw@127.0.0.1/", &pol, &err) == LLM_OK);
	CHECK(LlmHttpCheckUrl("ftp://127.0.0.1/", &pol, &err) == LLM_ERR_ARGUMENT);
	CHECK(LlmHttpCheckUrl("file:///etc/passwd", &pol, &err) == LLM_ERR_ARGUMENT);
	CHECK(LlmHttpCheckUrl("127.0.0.1:80", &pol, &err) == LLM_ERR_ARGUMENT);
	CHECK(LlmHttpCheckUrl("", &pol, &err) == LLM_ERR_ARGUMENT);
	CHECK(LlmHttpCheckUrl("http://127.0.0.1.evil.com/", &pol, &err) == LLM_ERR_ARGUMENT);
	CHECK(strstr(err.message, "not on the allowed hosts list") != NULL);
	CHECK(LlmHttpCheckUrl("http://evil.com#@127.0.0.1/", &pol, &err) == LLM_ERR_ARGUMENT);
	CHECK(LlmHttpCheckUrl("http://127.0.0.1@evil.com/", &pol, &err) == LLM_ERR_ARGUMENT);
	CHECK(LlmHttpCheckUrl("http://api.example.com.:80/", &pol, &err) == LLM_ERR_ARGUMENT);
	pol.n_allowed_hosts = 0;
	CHECK(LlmHttpCheckUrl("http://127.0.0.1/", &pol, &err) == LLM_ERR_ARGUMENT);

	/* entries with a port allow that port only, the scheme's by default */
	{
		const char *const ported[] = {"h.example:8000", "[::1]:11434", "LOCALHOST:443"};

		pol.allowed_hosts = ported;
		pol.n_allowed_hosts = 3;
		CHECK(LlmHttpCheckUrl("http://h.example:8000/v1", &pol, &err) == LLM_OK);
		CHECK(LlmHttpCheckUrl("http://h.example:8001/v1", &pol, &err) == LLM_ERR_ARGUMENT);
		CHECK(strstr(err.message, "port 8001") != NULL);
		CHECK(LlmHttpCheckUrl("http://h.example/v1", &pol, &err) == LLM_ERR_ARGUMENT);
		CHECK(LlmHttpCheckUrl("http://[::1]:11434/api", &pol, &err) == LLM_OK);
		CHECK(LlmHttpCheckUrl("http://[::1]/api", &pol, &err) == LLM_ERR_ARGUMENT);
		CHECK(LlmHttpCheckUrl("https://localhost/v1", &pol, &err) == LLM_OK);
		CHECK(LlmHttpCheckUrl("http://localhost/v1", &pol, &err) == LLM_ERR_ARGUMENT);
	}
	CHECK(LlmHttpHostAllowed("[::1]", "[::1]", 8080));
	CHECK(LlmHttpHostAllowed("Api.Example.com", "api.example.COM", 1));
	CHECK(!LlmHttpHostAllowed("api.example.com", "api.example.com.evil", 443));
	CHECK(!LlmHttpHostAllowed("api.example.com:443", "api.example.co", 443));
	CHECK(!LlmHttpHostAllowed("[::1]:80", "[::1]", 8080));
	CHECK(!LlmHttpHostAllowed("h:80x", "h", 80));
	CHECK(!LlmHttpHostAllowed("h:+80", "h", 80));
	CHECK(!LlmHttpHostAllowed("h:", "h", 0));
	CHECK(LlmHttpHostAllowed("h:0080", "h", 80));
	CHECK(!LlmHttpHostAllowed("h:65536", "h", 65536));
	CHECK(!LlmHttpHostAllowed("h:0", "h", 0));

	/* the one splitter behind the allowlist, its check and the locations */
	{
		static const struct
		{
			const char *s;
			size_t		host_len;
			int			port;
		}			cases[] = {
			{"h", 1, 0}, {"h:80", 1, 80}, {"h:65535", 1, 65535}, {"h:65536", 1, -1},
			{"h:0", 1, -1}, {"h:", 1, -1}, {"h:8x", 1, -1}, {"h:-1", 1, -1},
			{"h:99999999999", 1, -1}, {"[::1]", 5, 0}, {"[::1]:11434", 5, 11434},
			{"[::1]x", 5, -1}, {"[::1", 1, -1}, {"::1", 0, -1}, {"a:b:c", 1, -1},
			{"", 0, 0},
		};

		for (int i = 0; i < (int) (sizeof(cases) / sizeof(cases[0])); i++)
		{
			size_t		host_len = 99;
			int			port = LlmHttpSplitHostPort(cases[i].s, strlen(cases[i].s), &host_len);

			CHECK(port == cases[i].port && host_len == cases[i].host_len);
			if (port != cases[i].port || host_len != cases[i].host_len)
				printf("  split \"%s\": host %zu port %d\n", cases[i].s, host_len, port);
		}
	}
}

static void
TestSnippet(void)
{
	char		s[LLM_HTTP_SNIPPET + 1];
	char		big[600];

	LlmHttpSnippet(s, sizeof(s), "key " SECRET " bad\n\x01\xc3\xa9", 30, SECRET);
	CHECK(strstr(s, SECRET) == NULL);
	CHECK(strncmp(s, "key *******************", 23) == 0);
	CHECK(strchr(s, '\n') == NULL && strchr(s, '\x01') == NULL);
	/* a secret across the cut: no prefix of it survives */
	memset(big, 'x', sizeof(big));
	memcpy(big + LLM_HTTP_SNIPPET - 5, SECRET, strlen(SECRET));
	LlmHttpSnippet(s, sizeof(s), big, sizeof(big), SECRET);
	CHECK(strlen(s) == LLM_HTTP_SNIPPET);
	CHECK(strstr(s, "sk-te") == NULL);
	CHECK(strcmp(s + LLM_HTTP_SNIPPET - 5, "*****") == 0);
}

static void
TestBuildParse(void)
{
	LlmChatMessage msgs[] = {{"system", "be brief"}, {"user", "hi there"}};
	const char *const stop[] = {"\n\n", "END"};
	const char *const inputs[] = {"a", "bb"};
	LlmChatParams params;
	LlmChatResult cr;
	LlmEmbedResult er;
	LlmError	err = {0};
	char	   *body;
	json_t	   *j;

	LlmChatParamsInit(&params);
	params.max_tokens = 16;
	params.temperature = 0.5;
	params.top_p = 0.9;
	params.has_seed = true;
	params.seed = 42;
	params.stop = stop;
	params.n_stop = 2;

	CHECK(LlmProviderBuildChat(LLM_PROVIDER_OPENAI, "m", msgs, 2, &params, &body, &err) == LLM_OK);
	j = json_loads(body, 0, NULL);
	CHECK(json_integer_value(json_object_get(j, "max_tokens")) == 16);
	CHECK_NEAR(json_real_value(json_object_get(j, "temperature")), 0.5, 1e-12);
	CHECK_NEAR(json_real_value(json_object_get(j, "top_p")), 0.9, 1e-12);
	CHECK(json_integer_value(json_object_get(j, "seed")) == 42);
	CHECK(json_array_size(json_object_get(j, "stop")) == 2);
	CHECK(json_array_size(json_object_get(j, "messages")) == 2);
	CHECK(json_object_get(j, "stream") == NULL);
	json_decref(j);
	free(body);

	CHECK(LlmProviderBuildChat(LLM_PROVIDER_OLLAMA, "m", msgs, 2, &params, &body, &err) == LLM_OK);
	j = json_loads(body, 0, NULL);
	CHECK(json_is_false(json_object_get(j, "stream")));
	CHECK(json_integer_value(json_object_get(json_object_get(j, "options"), "num_predict")) == 16);
	CHECK(json_integer_value(json_object_get(json_object_get(j, "options"), "seed")) == 42);
	CHECK(json_object_get(j, "max_tokens") == NULL);
	json_decref(j);
	free(body);

	/* defaults send nothing */
	LlmChatParamsInit(&params);
	CHECK(LlmProviderBuildChat(LLM_PROVIDER_OPENAI, "m", msgs, 2, &params, &body, &err) == LLM_OK);
	CHECK(strstr(body, "temperature") == NULL && strstr(body, "seed") == NULL &&
		  strstr(body, "max_tokens") == NULL);
	free(body);

	/* bad arguments */
	params.temperature = 3.0;
	CHECK_ERR(LlmProviderBuildChat(LLM_PROVIDER_OPENAI, "m", msgs, 2, &params, &body, &err),
			  LLM_ERR_ARGUMENT, err);
	LlmChatParamsInit(&params);
	CHECK_ERR(LlmProviderBuildChat(LLM_PROVIDER_OPENAI, "m", msgs, 0, &params, &body, &err),
			  LLM_ERR_ARGUMENT, err);
	msgs[1].content = "bad \xff utf8";
	CHECK_ERR(LlmProviderBuildChat(LLM_PROVIDER_OPENAI, "m", msgs, 2, &params, &body, &err),
			  LLM_ERR_ARGUMENT, err);
	CHECK(LlmProviderBuildEmbed(LLM_PROVIDER_OPENAI, "m", inputs, 2, &body, &err) == LLM_OK);
	CHECK(strstr(body, "\"encoding_format\":\"float\"") != NULL);
	free(body);

#define PARSE_CHAT(kind, s) LlmProviderParseChat(kind, s, strlen(s), SECRET, &cr, &err)
	CHECK_ERR(PARSE_CHAT(LLM_PROVIDER_OPENAI, "<html>" SECRET "</html>"), LLM_ERR_FORMAT, err);
	CHECK(strstr(err.message, "not a JSON object") != NULL);
	CHECK_ERR(PARSE_CHAT(LLM_PROVIDER_OPENAI, ""), LLM_ERR_FORMAT, err);
	CHECK_ERR(PARSE_CHAT(LLM_PROVIDER_OPENAI, "[1,2]"), LLM_ERR_FORMAT, err);
	CHECK_ERR(PARSE_CHAT(LLM_PROVIDER_OPENAI, "{\"choices\":[]}"), LLM_ERR_FORMAT, err);
	CHECK_ERR(PARSE_CHAT(LLM_PROVIDER_OPENAI, "{\"choices\":[{\"message\":{\"content\":null}}]}"),
			  LLM_ERR_FORMAT, err);
	CHECK_ERR(PARSE_CHAT(LLM_PROVIDER_OPENAI,
						 "{\"choices\":[{\"message\":{\"content\":\"x\"}}],\"usage\":{\"prompt_tokens\":\"3\"}}"),
			  LLM_ERR_FORMAT, err);
	CHECK_ERR(PARSE_CHAT(LLM_PROVIDER_OLLAMA, "{\"message\":\"x\"}"), LLM_ERR_FORMAT, err);
	CHECK_ERR(PARSE_CHAT(LLM_PROVIDER_OLLAMA, "{\"error\":\"model not found\"}"), LLM_ERR_IO, err);
	CHECK(strstr(err.message, "model not found") != NULL);
	CHECK(PARSE_CHAT(LLM_PROVIDER_OPENAI, "{\"choices\":[{\"message\":{\"content\":\"ok\"}}]}") == LLM_OK);
	CHECK(strcmp(cr.text, "ok") == 0 && cr.prompt_tokens == -1 && cr.finish_reason == NULL);
	LlmChatResultFree(&cr);

#define PARSE_EMBED(kind, s, n) \
	(memset(&er, 0, sizeof(er)), \
	 LlmProviderParseEmbed(kind, s, strlen(s), n, SECRET, &er, &err))
	CHECK_ERR(PARSE_EMBED(LLM_PROVIDER_OLLAMA, "{\"embeddings\":[[1,2],[3]]}", 2), LLM_ERR_FORMAT, err);
	CHECK(strstr(err.message, "different dimensions") != NULL);
	LlmEmbedResultFree(&er);
	CHECK_ERR(PARSE_EMBED(LLM_PROVIDER_OLLAMA, "{\"embeddings\":[[1,2]]}", 2), LLM_ERR_FORMAT, err);
	CHECK(strstr(err.message, "1 embeddings for 2 inputs") != NULL);
	LlmEmbedResultFree(&er);
	CHECK_ERR(PARSE_EMBED(LLM_PROVIDER_OLLAMA, "{\"embeddings\":[[1,\"a\"]]}", 1), LLM_ERR_FORMAT, err);
	LlmEmbedResultFree(&er);
	CHECK_ERR(PARSE_EMBED(LLM_PROVIDER_OLLAMA, "{\"embeddings\":[[1e300]]}", 1), LLM_ERR_FORMAT, err);
	LlmEmbedResultFree(&er);
	CHECK_ERR(PARSE_EMBED(LLM_PROVIDER_OPENAI,
						  "{\"data\":[{\"index\":0,\"embedding\":[1]},{\"index\":0,\"embedding\":[2]}]}", 2),
			  LLM_ERR_FORMAT, err);
	CHECK(strstr(err.message, "twice") != NULL);
	LlmEmbedResultFree(&er);
	CHECK_ERR(PARSE_EMBED(LLM_PROVIDER_OPENAI, "{\"data\":[{\"index\":5,\"embedding\":[1]}]}", 1),
			  LLM_ERR_FORMAT, err);
	LlmEmbedResultFree(&er);
	CHECK(PARSE_EMBED(LLM_PROVIDER_OPENAI,
					  "{\"data\":[{\"index\":1,\"embedding\":[1,2]},{\"index\":0,\"embedding\":[3,4]}]}", 2) == LLM_OK);
	CHECK(er.n == 2 && er.dim == 2 && er.data[0] == 3 && er.data[3] == 2);
	LlmEmbedResultFree(&er);
}

static void
TestChat(LlmProviderKind kind)
{
	LlmProvider prov;
	LlmChatMessage msgs[] = {{"system", "be brief"}, {"user", "hello remote world"}};
	LlmChatParams params;
	LlmChatResult res;
	LlmError	err = {0};
	json_t	   *s;
	json_t	   *sent;

	Provider(&prov, kind, "echo");
	LlmChatParamsInit(&params);
	params.max_tokens = 7;
	params.has_seed = true;
	params.seed = 1234;
	CHECK_ERR(LlmProviderChat(&prov, msgs, 2, &params, &res, &err), LLM_OK, err);
	CHECK(res.text != NULL && strcmp(res.text, "echo: hello remote world") == 0);
	CHECK(res.prompt_tokens == 5);
	CHECK(res.completion_tokens == 4);
	CHECK(res.finish_reason != NULL && strcmp(res.finish_reason, "stop") == 0);
	LlmChatResultFree(&res);

	/* the secret was sent as a bearer token, and the parameters too */
	s = Stats();
	CHECK(s != NULL);
	CHECK(strcmp(json_string_value(json_object_get(s, "auth")) ?: "", "Bearer " SECRET) == 0);
	sent = json_loads(json_string_value(json_object_get(s, "body")) ?: "", 0, NULL);
	if (kind == LLM_PROVIDER_OPENAI)
		CHECK(json_integer_value(json_object_get(sent, "seed")) == 1234 &&
			  json_integer_value(json_object_get(sent, "max_tokens")) == 7);
	else
		CHECK(json_integer_value(json_object_get(json_object_get(sent, "options"), "seed")) == 1234);
	json_decref(sent);
	json_decref(s);

	/*
	 * requests to one provider share a connection: three calls open at most
	 * one (each /_stats query opens its own, without the share)
	 */
	{
		int64_t		c0 = StatsCount("connections");

		for (int i = 0; i < 3; i++)
		{
			CHECK_ERR(LlmProviderChat(&prov, msgs, 2, &params, &res, &err), LLM_OK, err);
			LlmChatResultFree(&res);
		}
		CHECK(StatsCount("connections") - c0 <= 2);
	}

	/* a base URL ending in /v1 (OpenAI) or a slash is not doubled */
	{
		char		b2[80];

		snprintf(b2, sizeof(b2), "%s%s", base, kind == LLM_PROVIDER_OPENAI ? "/v1/" : "/");
		prov.base_url = b2;
		CHECK_ERR(LlmProviderChat(&prov, msgs, 2, &params, &res, &err), LLM_OK, err);
		LlmChatResultFree(&res);
	}
}

/* read a whole stream: its pieces joined, and how many there were */
static int
ReadStream(LlmChatStream *cs, char *text, size_t size, int *n_pieces, LlmError *err)
{
	size_t		used = 0;
	int			rc;

	*n_pieces = 0;
	text[0] = '\0';
	for (;;)
	{
		const char *piece;
		size_t		len;

		if ((rc = LlmChatStreamNext(cs, &piece, &len, err)) != LLM_OK)
			return rc;
		if (piece == NULL)
			return LLM_OK;
		CHECK(len > 0 && strlen(piece) == len);
		if (used + len < size)
		{
			memcpy(text + used, piece, len);
			used += len;
			text[used] = '\0';
		}
		(*n_pieces)++;
	}
}

/* a streamed chat gives the reply of a whole one, in pieces, with its usage */
static void
TestChatStream(LlmProviderKind kind)
{
	LlmProvider prov;
	LlmChatMessage msgs[] = {{"system", "be brief"}, {"user", "hello remote world"}};
	LlmChatParams params;
	LlmChatStream *cs = NULL;
	LlmError	err = {0};
	char		text[4096];
	int			n = 0;
	int64_t		pt,
				ct;
	const char *finish;
	json_t	   *st;
	json_t	   *sent;
	double		t0;

	Provider(&prov, kind, "echo");
	LlmChatParamsInit(&params);
	params.max_tokens = 7;
	CHECK_ERR(LlmChatStreamOpen(&prov, msgs, 2, &params, &cs, &err), LLM_OK, err);
	if (cs != NULL)
	{
		CHECK_ERR(ReadStream(cs, text, sizeof(text), &n, &err), LLM_OK, err);
		CHECK(strcmp(text, "echo: hello remote world") == 0 && n == 4);
		LlmChatStreamUsage(cs, &pt, &ct, &finish);
		CHECK(pt == 5 && ct == 4);
		CHECK(finish != NULL && strcmp(finish, "stop") == 0);
		LlmChatStreamClose(cs);
	}
	/* what was asked */
	st = Stats();
	sent = json_loads(json_string_value(json_object_get(st, "body")) ?: "", 0, NULL);
	CHECK(json_is_true(json_object_get(sent, "stream")));
	if (kind == LLM_PROVIDER_OPENAI)
		CHECK(json_is_true(json_object_get(json_object_get(sent, "stream_options"), "include_usage")));
	json_decref(sent);
	json_decref(st);

	/* pieces arrive as they are generated: the first long before the last */
	Provider(&prov, kind, "slow-stream");
	t0 = Now();
	CHECK_ERR(LlmChatStreamOpen(&prov, msgs, 2, &params, &cs, &err), LLM_OK, err);
	if (cs != NULL)
	{
		const char *piece;
		size_t		len;

		CHECK_ERR(LlmChatStreamNext(cs, &piece, &len, &err), LLM_OK, err);
		CHECK(piece != NULL && strcmp(piece, "echo:") == 0);
		CHECK(Now() - t0 < 1.0);
		/* cancelled in the middle */
		LlmInterruptHook = CancelHook;
		cancel_at = Now() + 0.4;
		CHECK_ERR(ReadStream(cs, text, sizeof(text), &n, &err), LLM_ERR_CANCELLED, err);
		CHECK(n >= 1 && n < 10);
		cancel_at = 0;
		LlmInterruptHook = NULL;
		LlmChatStreamClose(cs);
	}

	/* a stream's time limit is on each wait: a reader's pause does not count */
	Provider(&prov, kind, "slow-stream");
	prov.policy.timeout_ms = 1000;
	CHECK_ERR(LlmChatStreamOpen(&prov, msgs, 2, &params, &cs, &err), LLM_OK, err);
	if (cs != NULL)
	{
		const char *piece;
		size_t		len;
		struct timespec pause = {1, 500000000};

		CHECK_ERR(LlmChatStreamNext(cs, &piece, &len, &err), LLM_OK, err);
		nanosleep(&pause, NULL);
		CHECK_ERR(LlmChatStreamNext(cs, &piece, &len, &err), LLM_OK, err);
		CHECK(piece != NULL && strcmp(piece, " tick") == 0);
		LlmChatStreamClose(cs);
	}
	/* but a provider silent for longer than the limit times out */
	Provider(&prov, kind, "stall-stream");
	prov.policy.timeout_ms = 1000;
	t0 = Now();
	CHECK_ERR(LlmChatStreamOpen(&prov, msgs, 2, &params, &cs, &err), LLM_OK, err);
	if (cs != NULL)
	{
		CHECK_ERR(ReadStream(cs, text, sizeof(text), &n, &err), LLM_ERR_IO, err);
		CHECK(n == 1 && strstr(err.message, "timed out (no data for 1000 ms)") != NULL);
		CHECK(Now() - t0 < 2.5);
		LlmChatStreamClose(cs);
	}
	/* and keep-alives without events do not keep a stalled stream going */
	Provider(&prov, kind, "ping-stream");
	prov.policy.timeout_ms = 1000;
	t0 = Now();
	CHECK_ERR(LlmChatStreamOpen(&prov, msgs, 2, &params, &cs, &err), LLM_OK, err);
	if (cs != NULL)
	{
		CHECK_ERR(ReadStream(cs, text, sizeof(text), &n, &err), LLM_ERR_IO, err);
		CHECK(n == 1 && strstr(err.message, "no event for 1000 ms") != NULL);
		CHECK(Now() - t0 < 2.5);
		LlmChatStreamClose(cs);
	}
	/* an error reply that trickles in is read within the limit */
	Provider(&prov, kind, "slow-error");
	prov.policy.timeout_ms = 500;
	prov.policy.max_attempts = 1;
	t0 = Now();
	CHECK_ERR(LlmChatStreamOpen(&prov, msgs, 2, &params, &cs, &err), LLM_ERR_IO, err);
	CHECK(cs == NULL && strstr(err.message, "timed out (limit 500 ms)") != NULL);
	CHECK(Now() - t0 < 1.5);

	/* a stream that turns into a web page, one that reports an error */
	Provider(&prov, kind, "broken-stream");
	CHECK_ERR(LlmChatStreamOpen(&prov, msgs, 2, &params, &cs, &err), LLM_OK, err);
	if (cs != NULL)
	{
		CHECK_ERR(ReadStream(cs, text, sizeof(text), &n, &err), LLM_ERR_FORMAT, err);
		CHECK(n == 2 && strstr(err.message, "Bad Gateway") != NULL);
		LlmChatStreamClose(cs);
	}
	Provider(&prov, kind, "error-stream");
	CHECK_ERR(LlmChatStreamOpen(&prov, msgs, 2, &params, &cs, &err), LLM_OK, err);
	if (cs != NULL)
	{
		CHECK_ERR(ReadStream(cs, text, sizeof(text), &n, &err), LLM_ERR_IO, err);
		CHECK(n == 1 && strstr(err.message, "overloaded while streaming") != NULL);
		LlmChatStreamClose(cs);
	}
	/* a plain page answered to a streamed request */
	Provider(&prov, kind, "html");
	CHECK_ERR(LlmChatStreamOpen(&prov, msgs, 2, &params, &cs, &err), LLM_OK, err);
	if (cs != NULL)
	{
		CHECK_ERR(ReadStream(cs, text, sizeof(text), &n, &err), LLM_ERR_FORMAT, err);
		CHECK(n == 0 && strstr(err.message, "Welcome to nginx") != NULL);
		LlmChatStreamClose(cs);
	}
	/* errors before the reply begins: as for a whole reply, after retries */
	Provider(&prov, kind, "flaky-500");
	prov.policy.backoff_base_ms = 50;
	CHECK_ERR(LlmChatStreamOpen(&prov, msgs, 2, &params, &cs, &err), LLM_OK, err);
	if (cs != NULL)
	{
		CHECK_ERR(ReadStream(cs, text, sizeof(text), &n, &err), LLM_OK, err);
		CHECK(strcmp(text, "echo: hello remote world") == 0);
		LlmChatStreamClose(cs);
	}
	/* lines and events cut anywhere between reads, \r\n, a long line */
	Provider(&prov, kind, "chunky-stream");
	CHECK_ERR(LlmChatStreamOpen(&prov, msgs, 2, &params, &cs, &err), LLM_OK, err);
	if (cs != NULL)
	{
		static char big[65536];

		CHECK_ERR(ReadStream(cs, big, sizeof(big), &n, &err), LLM_OK, err);
		CHECK(strncmp(big, "echo: hello remote world x", 26) == 0 && n == 5);
		CHECK(strlen(big) == 24 + 1 + 40000 && strspn(big + 25, "x") == 40000);
		LlmChatStreamUsage(cs, &pt, &ct, &finish);
		CHECK(ct == 5);
		LlmChatStreamClose(cs);
	}
	/* the size cap counts the whole stream, not what one read holds */
	prov.policy.max_response_bytes = 20000;
	CHECK_ERR(LlmChatStreamOpen(&prov, msgs, 2, &params, &cs, &err), LLM_OK, err);
	if (cs != NULL)
	{
		CHECK_ERR(ReadStream(cs, text, sizeof(text), &n, &err), LLM_ERR_IO, err);
		CHECK(strstr(err.message, "larger than 20000 bytes") != NULL);
		LlmChatStreamClose(cs);
	}
	/* a connection closed in the middle of the reply is an error */
	for (int cut = 0; cut < 2; cut++)
	{
		Provider(&prov, kind, cut == 0 ? "cut-stream" : "midline-stream");
		CHECK_ERR(LlmChatStreamOpen(&prov, msgs, 2, &params, &cs, &err), LLM_OK, err);
		if (cs != NULL)
		{
			CHECK_ERR(ReadStream(cs, text, sizeof(text), &n, &err), LLM_ERR_IO, err);
			CHECK(n == 2 && strstr(err.message, "ended before its end marker") != NULL);
			LlmChatStreamClose(cs);
		}
	}

	Provider(&prov, kind, "always-503");
	prov.policy.max_attempts = 2;
	CHECK_ERR(LlmChatStreamOpen(&prov, msgs, 2, &params, &cs, &err), LLM_ERR_IO, err);
	CHECK(cs == NULL && strstr(err.message, "HTTP 503") != NULL && strstr(err.message, "2 attempts") != NULL);
	Provider(&prov, kind, "echo-auth");
	CHECK_ERR(LlmChatStreamOpen(&prov, msgs, 2, &params, &cs, &err), LLM_ERR_IO, err);
}

/* the lines of streamed replies, without a server */
static void
TestStreamLines(void)
{
	LlmError	err = {0};
	LlmChatStream *cs = LlmChatStreamForLines(LLM_PROVIDER_OPENAI, SECRET, &err);
	const char *piece;
	size_t		len;
	int64_t		pt,
				ct;
	const char *finish;
	static const char *const skipped[] = {"", "\r", ": ping", "event: message", "id: 7",
		"retry: 100", "data: {\"choices\": [{\"delta\": {\"role\": \"assistant\"}}]}", "",
	"data: {\"choices\": [{\"delta\": {\"content\": null}}]}", ""};

	for (int i = 0; i < (int) (sizeof(skipped) / sizeof(skipped[0])); i++)
	{
		CHECK_ERR(LlmChatStreamLine(cs, skipped[i], strlen(skipped[i]), &piece, &len, &err), LLM_OK, err);
		CHECK(piece == NULL);
	}
#define LINE(s) LlmChatStreamLine(cs, s, strlen(s), &piece, &len, &err)
	/* an event ends at its blank line */
	CHECK_ERR(LINE("data:{\"choices\": [{\"delta\": {\"content\": \"h\\u00e9\"}}]}\r"), LLM_OK, err);
	CHECK(piece == NULL);
	CHECK_ERR(LINE(""), LLM_OK, err);
	CHECK(piece != NULL && len == 3 && strcmp(piece, "h\xc3\xa9") == 0);
	/* its data lines are joined */
	CHECK_ERR(LINE("data: {\"choices\": [{\"delta\":"), LLM_OK, err);
	CHECK_ERR(LINE("data: {\"content\": \"two lines\"}, \"finish_reason\": \"length\"}]}"), LLM_OK, err);
	CHECK(piece == NULL);
	CHECK_ERR(LINE(""), LLM_OK, err);
	CHECK(piece != NULL && strcmp(piece, "two lines") == 0);
	CHECK_ERR(LINE("data: {\"choices\": [{\"delta\": {\"content\": 3}}]}"), LLM_OK, err);
	CHECK_ERR(LINE(""), LLM_ERR_FORMAT, err);
	CHECK_ERR(LINE("data: nope"), LLM_OK, err);
	CHECK_ERR(LINE(""), LLM_ERR_FORMAT, err);
	CHECK_ERR(LINE("data: {\"error\": {\"message\": \"bad key " SECRET "\"}}"), LLM_OK, err);
	CHECK_ERR(LINE(""), LLM_ERR_IO, err);
	CHECK(strstr(err.message, "bad key ***") != NULL);
	CHECK_ERR(LINE("{\"error\": {\"message\": \"bad key " SECRET "\"}}"), LLM_ERR_IO, err);
	CHECK_ERR(LINE("{\"id\": 1}"), LLM_ERR_FORMAT, err);
	CHECK_ERR(LINE("<!DOCTYPE html>"), LLM_ERR_FORMAT, err);
	CHECK(strstr(err.message, "not an event stream: \"<!DOCTYPE html>\"") != NULL);
	CHECK_ERR(LINE("data: {\"choices\": [], \"usage\": {\"prompt_tokens\": 3, \"completion_tokens\": 9}}"), LLM_OK, err);
	CHECK_ERR(LINE(""), LLM_OK, err);
	CHECK_ERR(LINE("data: [DONE]"), LLM_OK, err);
	CHECK_ERR(LINE(""), LLM_OK, err);
	LlmChatStreamUsage(cs, &pt, &ct, &finish);
	CHECK(pt == 3 && ct == 9 && finish != NULL && strcmp(finish, "length") == 0);
	/* nothing after the end */
	CHECK_ERR(LINE("<html>"), LLM_OK, err);
	LlmChatStreamClose(cs);

	cs = LlmChatStreamForLines(LLM_PROVIDER_OLLAMA, SECRET, &err);
	CHECK_ERR(LINE("{\"message\": {\"role\": \"assistant\", \"content\": \"ab\"}, \"done\": false}"), LLM_OK, err);
	CHECK(piece != NULL && strcmp(piece, "ab") == 0);
	CHECK_ERR(LINE(""), LLM_OK, err);
	CHECK_ERR(LINE("data: {}"), LLM_ERR_FORMAT, err);
	CHECK_ERR(LINE("{\"error\": \"model not found\"}"), LLM_ERR_IO, err);
	CHECK_ERR(LINE("{\"message\": {\"content\": \"\"}, \"done\": true, \"done_reason\": \"length\", "
				   "\"prompt_eval_count\": 4, \"eval_count\": 2}"), LLM_OK, err);
	CHECK(piece == NULL);
	LlmChatStreamUsage(cs, &pt, &ct, &finish);
	CHECK(pt == 4 && ct == 2 && finish != NULL && strcmp(finish, "length") == 0);
#undef LINE
	LlmChatStreamClose(cs);
}

static void
TestEmbed(LlmProviderKind kind, const Tokenizer *tok)
{
	LlmProvider prov;
	const char *const inputs[] = {"a", "bb", "ccc", "dddd", "eeeee"};
	LlmEmbedResult res;
	LlmError	err = {0};
	int64_t		before;
	bool		ok = true;

	Provider(&prov, kind, "embed");
	before = StatsRequests();
	prov.embed_batch_inputs = 2;
	CHECK_ERR(LlmProviderEmbed(&prov, inputs, 5, &res, &err), LLM_OK, err);
	CHECK(StatsRequests() - before == 3);
	CHECK(res.n == 5 && res.dim == 4);
	for (int i = 0; i < res.n && res.data != NULL; i++)
	{
		float		n = (float) (i + 1);

		ok = ok && res.data[i * 4] == n && res.data[i * 4 + 1] == n / 2 &&
			res.data[i * 4 + 2] == 1 && res.data[i * 4 + 3] == -n;
	}
	CHECK(ok);
	CHECK(res.prompt_tokens == 5);
	LlmEmbedResultFree(&res);

	/* a token budget of 7 without a tokenizer, a byte a token: 1+2+3 | 4 | 5 */
	before = StatsRequests();
	prov.embed_batch_inputs = 0;
	prov.embed_batch_tokens = 7;
	CHECK_ERR(LlmProviderEmbed(&prov, inputs, 5, &res, &err), LLM_OK, err);
	CHECK(StatsRequests() - before == 3);
	CHECK(res.n == 5 && res.data[16] == 5);
	LlmEmbedResultFree(&res);

	/*
	 * counted by the GPT-2 fixture's tokenizer, "dddd" is two tokens ("dd"
	 * twice): 1+2+3 | 2+5
	 */
	before = StatsRequests();
	prov.tokenizer = tok;
	CHECK_ERR(LlmProviderEmbed(&prov, inputs, 5, &res, &err), LLM_OK, err);
	CHECK(StatsRequests() - before == 2);
	CHECK(res.n == 5 && res.data[12] == 4 && res.data[16] == 5);
	LlmEmbedResultFree(&res);
	prov.tokenizer = NULL;

	/* one request for all */
	before = StatsRequests();
	prov.embed_batch_tokens = 0;
	CHECK_ERR(LlmProviderEmbed(&prov, inputs, 5, &res, &err), LLM_OK, err);
	CHECK(StatsRequests() - before == 1 && res.n == 5);
	LlmEmbedResultFree(&res);

	prov.model = "short-embed";
	CHECK_ERR(LlmProviderEmbed(&prov, inputs, 4, &res, &err), LLM_ERR_FORMAT, err);
	CHECK(strstr(err.message, "3 embeddings for 4 inputs") != NULL);
	CHECK(res.data == NULL && res.n == 0);
	prov.model = "bad-shape";
	CHECK_ERR(LlmProviderEmbed(&prov, inputs, 4, &res, &err), LLM_ERR_FORMAT, err);
}

/* raw POST of a chat body to the double with model m */
static int
RawPost(const char *model, LlmHttpPolicy *pol, LlmHttpResponse *resp, LlmError *err)
{
	char		url[128];
	char		body[256];
	LlmHttpRequest req;

	snprintf(url, sizeof(url), "%s/v1/chat/completions", base);
	snprintf(body, sizeof(body),
			 "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", model);
	memset(&req, 0, sizeof(req));
	req.url = url;
	req.body = body;
	req.body_len = strlen(body);
	req.secret = SECRET;
	req.policy = *pol;
	return LlmHttpPost(&req, resp, err);
}

static void
TestFailures(void)
{
	LlmHttpPolicy pol;
	LlmHttpResponse resp;
	LlmError	err = {0};
	LlmProvider prov;
	LlmChatMessage msg = {"user", "hi"};
	LlmChatParams params;
	LlmChatResult res;
	double		t0;
	int64_t		before;

	LlmHttpPolicyDefaults(&pol);
	pol.allowed_hosts = local_hosts;
	pol.n_allowed_hosts = 1;
	pol.backoff_base_ms = 50;
	pol.timeout_ms = 5000;
	LlmChatParamsInit(&params);

	/* 429 with Retry-After: 1 is retried after a second */
	t0 = Now();
	CHECK_ERR(RawPost("flaky-429", &pol, &resp, &err), LLM_OK, err);
	CHECK(resp.attempts == 2 && resp.status == 200);
	CHECK(Now() - t0 >= 0.9 && Now() - t0 < 3.0);
	LlmHttpResponseFree(&resp);

	/* a cap on Retry-After */
	pol.retry_after_max_ms = 100;
	t0 = Now();
	CHECK_ERR(RawPost("flaky-429", &pol, &resp, &err), LLM_OK, err);
	CHECK(resp.attempts == 2 && Now() - t0 < 0.8);
	LlmHttpResponseFree(&resp);
	pol.retry_after_max_ms = 30000;

	/* 500 then OK, exponential backoff from 50 ms */
	CHECK_ERR(RawPost("flaky-500", &pol, &resp, &err), LLM_OK, err);
	CHECK(resp.attempts == 2);
	LlmHttpResponseFree(&resp);

	/* always 503: gives up after max_attempts */
	pol.max_attempts = 3;
	before = StatsRequests();
	CHECK_ERR(RawPost("always-503", &pol, &resp, &err), LLM_ERR_IO, err);
	CHECK(StatsRequests() - before == 3);
	CHECK(strstr(err.message, "HTTP 503") != NULL && strstr(err.message, "3 attempts") != NULL);
	CHECK(strstr(err.message, "overloaded") != NULL);

	/* a redirect is refused */
	CHECK_ERR(RawPost("redirect", &pol, &resp, &err), LLM_ERR_IO, err);
	CHECK(strstr(err.message, "302") != NULL &&
		  strstr(err.message, "redirects are not followed") != NULL);
	CHECK(resp.body == NULL);

	/* a 401 quoting the key: masked */
	CHECK_ERR(RawPost("echo-auth", &pol, &resp, &err), LLM_ERR_IO, err);
	CHECK(strstr(err.message, "HTTP 401") != NULL && strstr(err.message, "Bearer ***") != NULL);

	/* a response size cap */
	pol.max_response_bytes = 20;
	CHECK_ERR(RawPost("echo", &pol, &resp, &err), LLM_ERR_IO, err);
	CHECK(strstr(err.message, "larger than 20 bytes") != NULL);
	pol.max_response_bytes = 1 << 20;

	/* a host not on the allowlist: refused, nothing sent */
	{
		char		url[128];
		LlmHttpRequest req;

		snprintf(url, sizeof(url), "http://localhost:%d/v1/chat/completions", port);
		memset(&req, 0, sizeof(req));
		req.url = url;
		req.body = "{}";
		req.body_len = 2;
		req.secret = SECRET;
		req.policy = pol;
		before = StatsRequests();
		CHECK_ERR(LlmHttpPost(&req, &resp, &err), LLM_ERR_ARGUMENT, err);
		CHECK(strstr(err.message, "\"localhost\" port") != NULL && strstr(err.message, "is not on the allowed hosts list") != NULL);
		CHECK(StatsRequests() == before);
		/* a secret with a line break would inject a header */
		req.url = url + 0;
		req.policy.allowed_hosts = (const char *const[]) {"localhost"};
		req.secret = "abc\r\nX-Evil: 1";
		CHECK_ERR(LlmHttpPost(&req, &resp, &err), LLM_ERR_ARGUMENT, err);
		CHECK(StatsRequests() == before);
	}

	/* HTML and JSON of the wrong shape: format errors */
	Provider(&prov, LLM_PROVIDER_OPENAI, "html");
	CHECK_ERR(LlmProviderChat(&prov, &msg, 1, &params, &res, &err), LLM_ERR_FORMAT, err);
	CHECK(strstr(err.message, "Welcome to nginx") != NULL);
	Provider(&prov, LLM_PROVIDER_OLLAMA, "html");
	CHECK_ERR(LlmProviderChat(&prov, &msg, 1, &params, &res, &err), LLM_ERR_FORMAT, err);
	Provider(&prov, LLM_PROVIDER_OPENAI, "bad-shape");
	CHECK_ERR(LlmProviderChat(&prov, &msg, 1, &params, &res, &err), LLM_ERR_FORMAT, err);
	CHECK(strstr(err.message, "choices[0].message.content") != NULL);
	Provider(&prov, LLM_PROVIDER_OLLAMA, "bad-shape");
	CHECK_ERR(LlmProviderChat(&prov, &msg, 1, &params, &res, &err), LLM_ERR_FORMAT, err);

	/* an unknown endpoint (404) */
	Provider(&prov, LLM_PROVIDER_OPENAI, "echo");
	{
		char		b2[80];

		snprintf(b2, sizeof(b2), "%s/nothing", base);
		prov.base_url = b2;
		CHECK_ERR(LlmProviderChat(&prov, &msg, 1, &params, &res, &err), LLM_ERR_IO, err);
		CHECK(strstr(err.message, "HTTP 404") != NULL);
	}

	/* a timeout */
	pol.timeout_ms = 500;
	t0 = Now();
	CHECK_ERR(RawPost("slow", &pol, &resp, &err), LLM_ERR_IO, err);
	CHECK(strstr(err.message, "timed out") != NULL);
	CHECK(Now() - t0 < 2.0);
	pol.timeout_ms = 10000;

	/* cancelled during a transfer */
	LlmInterruptHook = CancelHook;
	t0 = Now();
	cancel_at = t0 + 0.3;
	CHECK_ERR(RawPost("slow", &pol, &resp, &err), LLM_ERR_CANCELLED, err);
	CHECK(Now() - t0 < 1.0);

	/* cancelled while waiting for a retry (flaky-429 answers 429 next) */
	t0 = Now();
	cancel_at = t0 + 0.3;
	CHECK_ERR(RawPost("flaky-429", &pol, &resp, &err), LLM_ERR_CANCELLED, err);
	CHECK(resp.attempts == 1);
	CHECK(Now() - t0 < 0.8);

	/* cancelled before anything is sent */
	cancel_at = Now() - 1;
	before = StatsRequests();
	CHECK_ERR(RawPost("echo", &pol, &resp, &err), LLM_ERR_CANCELLED, err);
	cancel_at = 0;
	CHECK(StatsRequests() == before);
	LlmInterruptHook = NULL;
}

int
main(void)
{
	FILE	   *f;
	int			pid = 0;
	const char *fixtures = getenv("PGMLOPS_FIXTURES");
	char		dir[1024];
	Tokenizer  *tok = NULL;
	LlmError	err = {0};

	TestUrls();
	TestSnippet();
	TestBuildParse();
	TestStreamLines();

	if (system("command -v python3 >/dev/null 2>&1") != 0)
	{
		printf("unit provider: skipped (no python3)\n");
		return 0;
	}
	f = popen("exec python3 t/llm_provider_double.py 0 60", "r");
	if (f == NULL || fscanf(f, "port %d pid %d", &port, &pid) != 2)
	{
		printf("FAIL: could not start t/llm_provider_double.py\n");
		return 1;
	}
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
	curl_global_init(CURL_GLOBAL_DEFAULT);

	TestChat(LLM_PROVIDER_OPENAI);
	TestChat(LLM_PROVIDER_OLLAMA);
	TestChatStream(LLM_PROVIDER_OPENAI);
	TestChatStream(LLM_PROVIDER_OLLAMA);
	/* a tokenizer to count embedding inputs by */
	snprintf(dir, sizeof(dir), "%s/tok-gpt2", fixtures != NULL ? fixtures : "test/data/fixtures");
	CHECK_ERR(TokenizerLoad(dir, &tok, &err), LLM_OK, err);
	if (tok != NULL)
	{
		TestEmbed(LLM_PROVIDER_OPENAI, tok);
		TestEmbed(LLM_PROVIDER_OLLAMA, tok);
		TokenizerFree(tok);
	}
	TestFailures();

	kill(pid, SIGTERM);
	pclose(f);
	UNIT_DONE("provider");
}
