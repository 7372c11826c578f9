/*-------------------------------------------------------------------------
 *
 * providerstream.c
 *	  A chat whose reply is read as the provider generates it: OpenAI's
 *	  server-sent events ("data: {chunk}" lines, "data: [DONE]" at the
 *	  end; the text in choices[0].delta.content) and Ollama's JSON lines
 *	  (the text in message.content, "done": true at the end).
 *
 * The reply's bytes come from LlmHttpStreamRead in pieces that may end in
 * the middle of a line; a line is handled once it is whole (the last one
 * also without its line break: \n, \r\n or \r).  Each event gives at
 * most one piece of text; events without text (roles, usage, comments,
 * keep-alives) are skipped while waiting for the next, for at most the
 * provider's timeout_ms.  A reply must end with its end marker: a
 * connection closed in the middle of a reply fails (LLM_ERR_IO) rather
 * than pass for a short answer.  A reply that is not a stream of the
 * provider's kind (a web page, a plain JSON reply) fails with
 * LLM_ERR_FORMAT quoting its beginning, the secret masked; an "error"
 * member in an event fails as a provider error.
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <time.h>

#include "llm/providerint.h"

#define WHAT_EVENT	"provider event"

struct LlmChatStream
{
	LlmProviderKind kind;
	const char *secret;			/* the provider's, masked in messages */
	char	   *body;			/* the request, sent by http */
	char	   *url;
	LlmHttpStream *http;
	const char *pending;		/* read, not yet split into lines */
	size_t		pending_len;
	char	   *line;			/* an unfinished line */
	size_t		line_len;
	size_t		line_cap;
	bool		skip_lf;		/* the last line ended with \r */
	char	   *event;			/* OpenAI: the data lines of an event */
	size_t		event_len;
	size_t		event_cap;
	char	   *piece;			/* the last piece handed out */
	long		timeout_ms;		/* longest wait for an event; 0: none */
	uint64_t	events;			/* events handled so far */
	bool		any_event;
	bool		done;
	int64_t		prompt_tokens;
	int64_t		completion_tokens;
	char	   *finish_reason;
};

/* append bytes to a growing buffer (a line, an event), NUL-terminated */
static int
Append(char **buf, size_t *len, size_t *cap, const char *data, size_t n, LlmError *err)
{
	if (*len + n + 1 > *cap)
	{
		size_t		c = *cap > 0 ? *cap : 4096;
		char	   *p;

		while (c < *len + n + 1)
			c *= 2;
		if ((p = realloc(*buf, c)) == NULL)
			return LlmSetError(err, LLM_ERR_NOMEM, "out of memory reading a provider stream");
		*buf = p;
		*cap = c;
	}
	memcpy(*buf + *len, data, n);
	*len += n;
	(*buf)[*len] = '\0';
	return LLM_OK;
}

/* a stream with no request: LlmChatStreamLine can be fed by hand */
LlmChatStream *
LlmChatStreamForLines(LlmProviderKind kind, const char *secret, LlmError *err)
{
	LlmChatStream *s = LlmAllocZero(sizeof(LlmChatStream), err);

	if (s == NULL)
		return NULL;
	s->kind = kind;
	s->secret = secret;
	s->prompt_tokens = s->completion_tokens = -1;
	return s;
}

void
LlmChatStreamClose(LlmChatStream *s)
{
	if (s == NULL)
		return;
	LlmHttpStreamClose(s->http);
	free(s->body);
	free(s->url);
	free(s->line);
	free(s->event);
	free(s->piece);
	free(s->finish_reason);
	free(s);
}

int
LlmChatStreamOpen(const LlmProvider *prov, const LlmChatMessage *msgs, int n_msgs,
				  const LlmChatParams *params, LlmChatStream **out, LlmError *err)
{
	LlmChatParams p = *params;
	LlmHttpRequest req;
	LlmChatStream *s;
	int			rc;

	*out = NULL;
	if ((s = LlmChatStreamForLines(prov->kind, prov->secret, err)) == NULL)
		return LLM_ERR_NOMEM;
	s->timeout_ms = prov->policy.timeout_ms;
	p.stream = true;
	if ((s->url = LlmProviderUrl(prov, "/v1/chat/completions", "/api/chat", err)) == NULL)
		rc = err != NULL ? err->code : LLM_ERR_ARGUMENT;
	else
		rc = LlmProviderBuildChat(prov->kind, prov->model, msgs, n_msgs, &p, &s->body, err);
	if (rc == LLM_OK)
	{
		memset(&req, 0, sizeof(req));
		req.url = s->url;
		req.body = s->body;
		req.body_len = strlen(s->body);
		req.secret = prov->secret;
		req.stream = true;
		req.policy = prov->policy;
		rc = LlmHttpStreamOpen(&req, &s->http, err);
	}
	if (rc != LLM_OK)
	{
		LlmChatStreamClose(s);
		return rc;
	}
	*out = s;
	return LLM_OK;
}

/* the reply is not a stream of this kind: quote the line */
static int
NotAStream(const LlmChatStream *s, const char *line, size_t len, LlmError *err)
{
	char		snippet[LLM_HTTP_SNIPPET + 1];

	LlmHttpSnippet(snippet, sizeof(snippet), line, len, s->secret);
	return LlmSetError(err, LLM_ERR_FORMAT, "provider reply is not %s: \"%s\"",
					   s->kind == LLM_PROVIDER_OPENAI ? "an event stream" : "a stream of JSON lines",
					   snippet);
}

/*
 * One JSON event: its text (choices[0].delta.content or message.content),
 * its end (finish_reason, done) and its token counts
 */
static int
Event(LlmChatStream *s, const char *data, size_t len, const char **piece,
	  size_t *piece_len, LlmError *err)
{
	json_t	   *root = LlmProviderParseObject(data, len, s->secret, err);
	json_t	   *holder;
	json_t	   *text;
	json_t	   *usage;
	const char *finish = NULL;
	int			rc = LLM_OK;

	if (root == NULL)
		return err != NULL ? err->code : LLM_ERR_FORMAT;
	s->any_event = true;
	s->events++;
	if (s->kind == LLM_PROVIDER_OPENAI)
	{
		json_t	   *c0 = json_array_get(json_object_get(root, "choices"), 0);

		holder = json_object_get(c0, "delta");
		usage = json_object_get(root, "usage");
		if (json_is_object(c0))
			rc = LlmJsonGetString(c0, "finish_reason", &finish, WHAT_EVENT, err);
	}
	else
	{
		holder = json_object_get(root, "message");
		usage = json_is_true(json_object_get(root, "done")) ? root : NULL;
		rc = LlmJsonGetString(root, "done_reason", &finish, WHAT_EVENT, err);
		if (usage != NULL)
			s->done = true;
	}
	if (rc == LLM_OK)
		rc = LlmProviderUsage(s->kind, usage, &s->prompt_tokens, &s->completion_tokens, err);
	if (rc == LLM_OK && finish != NULL)
	{
		free(s->finish_reason);
		s->finish_reason = LlmAlloc(strlen(finish) + 1, err);
		if (s->finish_reason == NULL)
			rc = LLM_ERR_NOMEM;
		else
			strcpy(s->finish_reason, finish);
	}
	text = json_object_get(holder, "content");
	if (rc == LLM_OK && json_is_string(text) && json_string_length(text) > 0)
	{
		free(s->piece);
		s->piece = LlmAlloc(json_string_length(text) + 1, err);
		if (s->piece == NULL)
			rc = LLM_ERR_NOMEM;
		else
		{
			memcpy(s->piece, json_string_value(text), json_string_length(text) + 1);
			*piece = s->piece;
			*piece_len = json_string_length(text);
		}
	}
	else if (rc == LLM_OK && text != NULL && !json_is_string(text) && !json_is_null(text))
		rc = LlmSetError(err, LLM_ERR_FORMAT, "%s: \"content\" must be a string", WHAT_EVENT);
	json_decref(root);
	return rc;
}

/*
 * One whole line of the reply (without its line break); *piece is set
 * when it completes a piece of text.  OpenAI's events are server-sent
 * events: their "data:" lines are joined and the event is handled at the
 * blank line that ends it.
 */
int
LlmChatStreamLine(LlmChatStream *s, const char *line, size_t len,
				  const char **piece, size_t *piece_len, LlmError *err)
{
	*piece = NULL;
	*piece_len = 0;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (s->done)
		return LLM_OK;
	if (s->kind == LLM_PROVIDER_OLLAMA)
	{
		if (len == 0)
			return LLM_OK;
		return line[0] == '{' ? Event(s, line, len, piece, piece_len, err) :
			NotAStream(s, line, len, err);
	}

	/* server-sent events: "field: value"; a comment starts with ":" */
	if (len == 0)
	{
		size_t		n = s->event_len;

		if (n == 0)
			return LLM_OK;
		s->event_len = 0;		/* the bytes stay until the next Append */
		if (n == 6 && memcmp(s->event, "[DONE]", 6) == 0)
		{
			s->any_event = true;
			s->events++;
			s->done = true;
			return LLM_OK;
		}
		return Event(s, s->event, n, piece, piece_len, err);
	}
	if (line[0] == ':')
		return LLM_OK;
	if (len >= 5 && memcmp(line, "data:", 5) == 0)
	{
		const char *v = line + 5;
		size_t		vlen = len - 5;

		if (vlen > 0 && v[0] == ' ')
			v++, vlen--;
		if (s->event_len > 0 &&
			Append(&s->event, &s->event_len, &s->event_cap, "\n", 1, err) != LLM_OK)
			return LLM_ERR_NOMEM;
		if (Append(&s->event, &s->event_len, &s->event_cap, v, vlen, err) != LLM_OK)
			return LLM_ERR_NOMEM;
		return LLM_OK;
	}
	if ((len >= 6 && memcmp(line, "event:", 6) == 0) ||
		(len >= 3 && memcmp(line, "id:", 3) == 0) ||
		(len >= 6 && memcmp(line, "retry:", 6) == 0))
		return LLM_OK;
	/* a plain JSON reply: its error is the error */
	if (line[0] == '{')
	{
		json_t	   *root = LlmProviderParseObject(line, len, s->secret, err);

		if (root == NULL)
			return err != NULL ? err->code : LLM_ERR_FORMAT;
		json_decref(root);
	}
	return NotAStream(s, line, len, err);
}

/* the first line break (\n or \r) in p[0 .. n), or NULL */
static const char *
FindBreak(const char *p, size_t n)
{
	const char *nl = memchr(p, '\n', n);
	const char *cr = memchr(p, '\r', nl != NULL ? (size_t) (nl - p) : n);

	return cr != NULL ? cr : nl;
}

/*
 * The reply ended: its last line and event, then its end marker, which
 * a connection closed in the middle of a reply lacks
 */
static int
EndOfReply(LlmChatStream *s, const char **piece, size_t *len, LlmError *err)
{
	int			rc;

	rc = LlmChatStreamLine(s, s->line, s->line_len, piece, len, err);
	s->line_len = 0;
	if (rc == LLM_OK && *piece == NULL)
		rc = LlmChatStreamLine(s, "", 0, piece, len, err);
	/* a stream cut in the middle of its last line: the cut is the error */
	if (rc == LLM_ERR_FORMAT && s->any_event && !s->done)
		rc = LLM_OK;
	else if (rc != LLM_OK || *piece != NULL || s->done)
		return rc;
	if (!s->any_event)
		return LlmSetError(err, LLM_ERR_FORMAT, "provider reply is empty");
	/* some OpenAI-compatible servers end with a finish reason, no [DONE] */
	if (s->kind == LLM_PROVIDER_OPENAI && s->finish_reason != NULL)
	{
		s->done = true;
		return LLM_OK;
	}
	return LlmSetError(err, LLM_ERR_IO,
					   "the provider's stream ended before its end marker (%s): the connection was closed",
					   s->kind == LLM_PROVIDER_OPENAI ? "a finish reason or [DONE]" : "\"done\": true");
}

/* milliseconds of a monotonic clock */
static double
ClockMs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

int
LlmChatStreamNext(LlmChatStream *s, const char **piece, size_t *len, LlmError *err)
{
	uint64_t	events = s->events;
	double		since = ClockMs();
	int			rc;

	*piece = NULL;
	*len = 0;
	while (!s->done)
	{
		const char *data;
		size_t		n;

		/*
		 * Bytes that make no event (keep-alive comments from a proxy in
		 * front of a stalled server) do not count as progress
		 */
		if (s->events != events)
		{
			events = s->events;
			since = ClockMs();
		}
		else if (s->timeout_ms > 0 && ClockMs() - since >= s->timeout_ms)
			return LlmSetError(err, LLM_ERR_IO, "the provider sent no event for %ld ms",
							   s->timeout_ms);

		/* the whole lines of what was read */
		while (s->pending_len > 0)
		{
			const char *br;
			size_t		take;

			/* the \n of a \r\n, maybe in the next read */
			if (s->skip_lf)
			{
				s->skip_lf = false;
				if (s->pending[0] == '\n')
				{
					s->pending++;
					s->pending_len--;
					continue;
				}
			}
			br = FindBreak(s->pending, s->pending_len);
			take = br != NULL ? (size_t) (br - s->pending) : s->pending_len;
			if ((rc = Append(&s->line, &s->line_len, &s->line_cap, s->pending, take, err)) != LLM_OK)
				return rc;
			s->pending += take;
			s->pending_len -= take;
			if (br == NULL)
				break;
			s->skip_lf = *br == '\r';
			s->pending++;
			s->pending_len--;
			rc = LlmChatStreamLine(s, s->line, s->line_len, piece, len, err);
			s->line_len = 0;
			if (rc != LLM_OK || *piece != NULL)
				return rc;
			if (s->done)
				return LLM_OK;
		}

		if ((rc = LlmHttpStreamRead(s->http, &data, &n, err)) != LLM_OK)
			return rc;
		if (n > 0)
		{
			s->pending = data;
			s->pending_len = n;
			continue;
		}
		if ((rc = EndOfReply(s, piece, len, err)) != LLM_OK || *piece != NULL)
			return rc;
	}
	return LLM_OK;
}

void
LlmChatStreamUsage(const LlmChatStream *s, int64_t *prompt_tokens,
				   int64_t *completion_tokens, const char **finish_reason)
{
	*prompt_tokens = s->prompt_tokens;
	*completion_tokens = s->completion_tokens;
	*finish_reason = s->finish_reason;
}
