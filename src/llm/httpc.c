/*-------------------------------------------------------------------------
 *
 * httpc.c
 *	  JSON POST requests to remote LLM providers through libcurl.
 *
 * The transfer runs on a multi handle polled in 100 ms slices so that an
 * interrupt is seen promptly even while the server is silent; the
 * progress callback checks it too.  Callbacks only copy bytes or return
 * a flag: they never longjmp and never call back into PostgreSQL.
 *
 * A request is a stream: Open sends it (again after a 429 or 5xx) until
 * a 2xx reply begins, and the body is then read as it comes, in as many
 * pieces as the caller wants (LlmHttpStreamRead) or whole (LlmHttpPost).
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "llm/httpc.h"

#define POLL_SLICE_MS	100
#define SLEEP_SLICE_MS	50

/* state shared with the write and progress callbacks */
typedef struct Transfer
{
	char	   *data;			/* body bytes not yet handed out */
	size_t		len;
	size_t		cap;
	size_t		total;			/* body bytes of this attempt */
	size_t		max;
	bool		too_large;
	bool		nomem;
	bool		cancelled;
} Transfer;

/* one request: its handles, and its reply as it arrives */
struct LlmHttpStream
{
	CURL	   *easy;
	CURLM	   *multi;
	CURLU	   *url;
	struct curl_slist *headers;
	char	   *auth;			/* the Authorization header, wiped at close */
	const char *secret;			/* the caller's, masked in messages */
	long		timeout_ms;
	char		host[256];
	char		errbuf[CURL_ERROR_SIZE];
	Transfer	t;
	bool		attached;		/* easy is on multi */
	bool		handed;			/* t.data[0 .. t.len) was handed out */
	bool		done;			/* the transfer ended, with result */
	CURLcode	result;
	bool		stream;			/* timeout_ms bounds each wait, not the whole */
	bool		idle;			/* a wait for data lasted timeout_ms */
	double		deadline;		/* a stream's error reply: read by then */
	bool		late;			/* ... and it was not */
};

/* a monotonic clock in milliseconds */
static double
NowMs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static bool curl_ready = false;

/*
 * The connections (and host names) of this process's earlier requests,
 * kept for the next ones to the same scheme, host and port: one TCP (and
 * TLS) set-up per provider instead of one per call.  A backend is one
 * thread, so the share needs no locks.
 */
static CURLSH *curl_share = NULL;

/*
 * Defaults: 10 s to connect, 120 s per attempt, 64 MB of reply, three
 * attempts 500 ms and 1 s apart, a Retry-After of at most 30 s
 */
void
LlmHttpPolicyDefaults(LlmHttpPolicy *policy)
{
	memset(policy, 0, sizeof(*policy));
	policy->connect_timeout_ms = 10000;
	policy->timeout_ms = 120000;
	policy->max_response_bytes = 64 * 1024 * 1024;
	policy->max_attempts = 3;
	policy->backoff_base_ms = 500;
	policy->backoff_max_ms = 10000;
	policy->retry_after_max_ms = 30000;
}

static int
EnsureCurl(LlmError *err)
{
	if (!curl_ready)
	{
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return LlmSetError(err, LLM_ERR_IO, "could not initialize libcurl");
		curl_ready = true;
		/* without a share, each request connects anew (still correct) */
		curl_share = curl_share_init();
		if (curl_share != NULL &&
			(curl_share_setopt(curl_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) != CURLSHE_OK ||
			 curl_share_setopt(curl_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK))
		{
			curl_share_cleanup(curl_share);
			curl_share = NULL;
		}
	}
	return LLM_OK;
}

/*
 * Quote at most dstlen - 1 bytes of a reply: the secret masked (before
 * cutting, so that no prefix of it survives), bytes outside printable
 * ASCII replaced by '?'
 */
void
LlmHttpSnippet(char *dst, size_t dstlen, const char *data, size_t len,
			   const char *secret)
{
	size_t		slen = secret != NULL ? strlen(secret) : 0;
	size_t		n;
	char	   *buf;

	if (dstlen == 0)
		return;
	dst[0] = '\0';
	if (data == NULL)
		return;
	n = len < dstlen - 1 + slen ? len : dstlen - 1 + slen;
	buf = malloc(n + 1);
	if (buf == NULL)
		return;
	memcpy(buf, data, n);
	buf[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	if (slen > 0)
	{
		char	   *p = buf;

		while ((p = strstr(p, secret)) != NULL)
		{
			memset(p, '*', slen);
			p += slen;
		}
	}
	if (n > dstlen - 1)
		n = dstlen - 1;
	for (size_t i = 0; i < n; i++)
	{
		unsigned char c = (unsigned char) buf[i];

		dst[i] = (c >= 0x20 && c < 0x7f) ? (char) c : (c == '\n' || c == '\t' || c == '\r') ? ' ' : '?';
	}
	dst[n] = '\0';
	free(buf);
}

/*
 * Parse url into a CURLU handle and check its scheme and host; on success
 * *out holds the handle (the transfer uses the very URL that was checked)
 * and host[] its host name
 */
static int
ParseUrl(const char *url, const LlmHttpPolicy *policy, CURLU **out,
		 char *host, size_t hostlen, LlmError *err)
{
	CURLU	   *h;
	CURLUcode	uc;
	char	   *scheme = NULL;
	char	   *hname = NULL;
	char	   *port = NULL;
	bool		allowed = false;

	if (url == NULL || url[0] == '\0')
		return LlmSetError(err, LLM_ERR_ARGUMENT, "provider URL is empty");
	h = curl_url();
	if (h == NULL)
		return LlmSetError(err, LLM_ERR_NOMEM, "out of memory parsing a URL");
	uc = curl_url_set(h, CURLUPART_URL, url, 0);
	if (uc != CURLUE_OK)
	{
		curl_url_cleanup(h);
		return LlmSetError(err, LLM_ERR_ARGUMENT, "invalid provider URL: %s",
						   curl_url_strerror(uc));
	}
	if (curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
		(strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0))
	{
		curl_free(scheme);
		curl_url_cleanup(h);
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "provider URL must use http or https");
	}
	curl_free(scheme);
	if (curl_url_get(h, CURLUPART_HOST, &hname, 0) != CURLUE_OK ||
		hname[0] == '\0')
	{
		curl_free(hname);
		curl_url_cleanup(h);
		return LlmSetError(err, LLM_ERR_ARGUMENT, "provider URL has no host");
	}
	if (curl_url_get(h, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK)
	{
		curl_free(hname);
		curl_url_cleanup(h);
		return LlmSetError(err, LLM_ERR_ARGUMENT, "provider URL has no port");
	}
	for (int i = 0; i < policy->n_allowed_hosts && !allowed; i++)
		allowed = policy->allowed_hosts[i] != NULL &&
			LlmHttpHostAllowed(policy->allowed_hosts[i], hname, atoi(port));
	if (!allowed)
	{
		LlmSetError(err, LLM_ERR_ARGUMENT,
					"provider host \"%.200s\" port %s is not on the allowed hosts list", hname, port);
		curl_free(port);
		curl_free(hname);
		curl_url_cleanup(h);
		return LLM_ERR_ARGUMENT;
	}
	snprintf(host, hostlen, "%s", hname);
	curl_free(hname);
	curl_free(port);
	if (out != NULL)
		*out = h;
	else
		curl_url_cleanup(h);
	return LLM_OK;
}

int
LlmHttpSplitHostPort(const char *s, size_t len, size_t *host_len)
{
	const char *end = s + len;
	const char *host_end;
	long		port = 0;

	/* the port follows the host, after the "]" of an IPv6 address */
	if (len > 0 && s[0] == '[' && memchr(s, ']', len) != NULL)
		host_end = (const char *) memchr(s, ']', len) + 1;
	else if (memchr(s, ':', len) != NULL)
		host_end = memchr(s, ':', len);
	else
		host_end = end;
	*host_len = (size_t) (host_end - s);
	if (host_end == end)
		return 0;
	if (*host_end != ':' || host_end + 1 == end)
		return -1;
	for (const char *p = host_end + 1; p < end; p++)
	{
		if (*p < '0' || *p > '9' || port > 65535)
			return -1;
		port = port * 10 + (*p - '0');
	}
	return port >= 1 && port <= 65535 ? (int) port : -1;
}

bool
LlmHttpHostAllowed(const char *entry, const char *host, int port)
{
	size_t		len;
	int			p = LlmHttpSplitHostPort(entry, strlen(entry), &len);

	if (strlen(host) != len || strncasecmp(entry, host, len) != 0)
		return false;
	/* no port allows every port, a malformed one none */
	return p == 0 || p == port;
}

/*
 * Would a request to url be allowed?  Contacts nothing.
 */
int
LlmHttpCheckUrl(const char *url, const LlmHttpPolicy *policy, LlmError *err)
{
	char		host[256];

	return ParseUrl(url, policy, NULL, host, sizeof(host), err);
}

static size_t
WriteCallback(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	Transfer   *t = (Transfer *) userdata;
	size_t		n = size * nmemb;

	if (n > t->max - t->total)
	{
		t->too_large = true;
		return 0;
	}
	if (t->len + n + 1 > t->cap)
	{
		size_t		cap = t->cap > 0 ? t->cap : 16384;
		char	   *p;

		while (cap < t->len + n + 1)
			cap *= 2;
		p = realloc(t->data, cap);
		if (p == NULL)
		{
			t->nomem = true;
			return 0;
		}
		t->data = p;
		t->cap = cap;
	}
	memcpy(t->data + t->len, ptr, n);
	t->len += n;
	t->total += n;
	t->data[t->len] = '\0';
	return n;
}

static int
ProgressCallback(void *userdata, curl_off_t dltotal, curl_off_t dlnow,
				 curl_off_t ultotal, curl_off_t ulnow)
{
	Transfer   *t = (Transfer *) userdata;

	if (LlmInterrupted())
	{
		t->cancelled = true;
		return 1;
	}
	return 0;
}

/*
 * Sleep ms milliseconds in slices, giving up when interrupted
 */
static int
SleepInterruptible(long ms, LlmError *err)
{
	while (ms > 0)
	{
		long		slice = ms < SLEEP_SLICE_MS ? ms : SLEEP_SLICE_MS;
		struct timespec ts = {slice / 1000, (slice % 1000) * 1000000L};

		if (LlmInterrupted())
			return LlmSetError(err, LLM_ERR_CANCELLED, "request cancelled");
		nanosleep(&ts, NULL);
		ms -= slice;
	}
	if (LlmInterrupted())
		return LlmSetError(err, LLM_ERR_CANCELLED, "request cancelled");
	return LLM_OK;
}

/*
 * Run the transfer on its multi handle until it ends, or (until_data)
 * until body bytes wait in the buffer, or until an interrupt
 */
static void
Drive(LlmHttpStream *s, bool until_data)
{
	int			running = 1;
	size_t		seen = s->t.total;
	double		since = NowMs();

	while (!s->done && !s->t.cancelled)
	{
		/*
		 * A stream's limit is on each wait for data: the time its reader
		 * spends between reads does not count
		 */
		if (s->stream)
		{
			if (s->t.total != seen)
			{
				seen = s->t.total;
				since = NowMs();
			}
			else if (s->timeout_ms > 0 && NowMs() - since >= s->timeout_ms)
			{
				s->idle = true;
				break;
			}
			if (s->deadline > 0 && NowMs() >= s->deadline)
			{
				s->late = true;
				break;
			}
		}
		if (curl_multi_perform(s->multi, &running) != CURLM_OK || !running)
		{
			CURLMsg    *msg;
			int			left;

			s->done = true;
			s->result = CURLE_FAILED_INIT;
			while ((msg = curl_multi_info_read(s->multi, &left)) != NULL)
				if (msg->msg == CURLMSG_DONE && msg->easy_handle == s->easy)
					s->result = msg->data.result;
			break;
		}
		if (until_data && s->t.len > 0)
			break;
		if (LlmInterrupted())
		{
			s->t.cancelled = true;
			break;
		}
		if (curl_multi_poll(s->multi, NULL, 0, POLL_SLICE_MS, NULL) != CURLM_OK)
		{
			s->done = true;
			s->result = CURLE_FAILED_INIT;
		}
	}
}

/* the error of a transfer that stopped short (or ended badly), or LLM_OK */
static int
TransferError(LlmHttpStream *s, LlmError *err)
{
	char		snippet[LLM_HTTP_SNIPPET + 1];

	if (s->t.cancelled || (s->done && s->result == CURLE_ABORTED_BY_CALLBACK))
		return LlmSetError(err, LLM_ERR_CANCELLED, "request to %s cancelled", s->host);
	if (s->t.nomem || (s->done && s->result == CURLE_OUT_OF_MEMORY))
		return LlmSetError(err, LLM_ERR_NOMEM, "out of memory reading a reply from %s", s->host);
	if (s->t.too_large || (s->done && s->result == CURLE_FILESIZE_EXCEEDED))
		return LlmSetError(err, LLM_ERR_IO, "reply from %s is larger than %zu bytes",
						   s->host, s->t.max);
	if (s->idle)
		return LlmSetError(err, LLM_ERR_IO, "request to %s timed out (no data for %ld ms)",
						   s->host, s->timeout_ms);
	if (s->late)
		return LlmSetError(err, LLM_ERR_IO, "request to %s timed out (limit %ld ms)",
						   s->host, s->timeout_ms);
	if (!s->done || s->result == CURLE_OK)
		return LLM_OK;
	if (s->result == CURLE_OPERATION_TIMEDOUT)
		return LlmSetError(err, LLM_ERR_IO, "request to %s timed out (limit %ld ms)",
						   s->host, s->timeout_ms);
	LlmHttpSnippet(snippet, sizeof(snippet), s->errbuf, strlen(s->errbuf), s->secret);
	return LlmSetError(err, LLM_ERR_IO, "request to %s failed: %s",
					   s->host, snippet[0] ? snippet : curl_easy_strerror(s->result));
}

/* set up the handles of a request (nothing is sent yet) */
static int
Prepare(LlmHttpStream *s, const LlmHttpRequest *req, LlmError *err)
{
	const LlmHttpPolicy *pol = &req->policy;
	int			rc;

	if (req->body == NULL)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "request body is missing");
	if (req->secret != NULL && strpbrk(req->secret, "\r\n") != NULL)
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "provider secret contains a line break");
	if ((rc = ParseUrl(req->url, pol, &s->url, s->host, sizeof(s->host), err)) != LLM_OK)
		return rc;
	if ((rc = EnsureCurl(err)) != LLM_OK)
		return rc;
	s->secret = req->secret;
	s->timeout_ms = pol->timeout_ms;
	s->stream = req->stream;
	s->t.max = pol->max_response_bytes > 0 ? pol->max_response_bytes : SIZE_MAX - 1;

	s->easy = curl_easy_init();
	s->multi = curl_multi_init();
	s->headers = curl_slist_append(NULL, "Content-Type: application/json");
	s->headers = s->headers ? curl_slist_append(s->headers, req->stream ?
												"Accept: text/event-stream, application/x-ndjson, application/json" :
												"Accept: application/json") : NULL;
	s->headers = s->headers ? curl_slist_append(s->headers, "Expect:") : NULL;
	if (req->secret != NULL && req->secret[0] != '\0')
	{
		size_t		alen = strlen(req->secret) + sizeof("Authorization: Bearer ");

		s->auth = malloc(alen);
		if (s->auth != NULL)
		{
			snprintf(s->auth, alen, "Authorization: Bearer %s", req->secret);
			s->headers = s->headers ? curl_slist_append(s->headers, s->auth) : NULL;
		}
	}
	if (s->easy == NULL || s->multi == NULL || s->headers == NULL ||
		(req->secret != NULL && req->secret[0] != '\0' && s->auth == NULL))
		return LlmSetError(err, LLM_ERR_NOMEM, "out of memory preparing an HTTP request");

	curl_easy_setopt(s->easy, CURLOPT_CURLU, s->url);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(s->easy, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(s->easy, CURLOPT_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(s->easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(s->easy, CURLOPT_PROXY, "");
	curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->headers);
	curl_easy_setopt(s->easy, CURLOPT_POST, 1L);
	curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, req->body);
	curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) req->body_len);
	curl_easy_setopt(s->easy, CURLOPT_USERAGENT, "pgmlops");
	curl_easy_setopt(s->easy, CURLOPT_CONNECTTIMEOUT_MS, pol->connect_timeout_ms);
	if (!req->stream)
		curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, pol->timeout_ms);
	if (pol->max_response_bytes > 0)
		curl_easy_setopt(s->easy, CURLOPT_MAXFILESIZE_LARGE,
						 (curl_off_t) pol->max_response_bytes);
	curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, WriteCallback);
	curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, &s->t);
	curl_easy_setopt(s->easy, CURLOPT_XFERINFOFUNCTION, ProgressCallback);
	curl_easy_setopt(s->easy, CURLOPT_XFERINFODATA, &s->t);
	curl_easy_setopt(s->easy, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(s->easy, CURLOPT_ERRORBUFFER, s->errbuf);
	if (curl_share != NULL)
		curl_easy_setopt(s->easy, CURLOPT_SHARE, curl_share);
	return LLM_OK;
}

/*
 * Send the request until a reply with a 2xx status begins (its body may
 * still be coming), retrying 429 and 5xx; resp gets the status and the
 * number of attempts, also on failure
 */
static int
Open(LlmHttpStream *s, const LlmHttpRequest *req, LlmHttpResponse *resp, LlmError *err)
{
	const LlmHttpPolicy *pol = &req->policy;
	int			max_attempts = pol->max_attempts > 0 ? pol->max_attempts : 1;
	int			rc;

	if ((rc = Prepare(s, req, err)) != LLM_OK)
		return rc;
	for (int attempt = 1;; attempt++)
	{
		char		snippet[LLM_HTTP_SNIPPET + 1];
		long		status = 0;
		curl_off_t	retry_after = 0;
		long		wait_ms;

		if (LlmInterrupted())
			return LlmSetError(err, LLM_ERR_CANCELLED, "request cancelled");
		s->t.len = s->t.total = 0;
		if (s->t.data != NULL)
			s->t.data[0] = '\0';
		s->t.too_large = s->t.nomem = s->t.cancelled = false;
		s->errbuf[0] = '\0';
		s->done = s->idle = s->late = false;
		s->result = CURLE_OK;
		resp->attempts = attempt;
		if (curl_multi_add_handle(s->multi, s->easy) != CURLM_OK)
			return LlmSetError(err, LLM_ERR_NOMEM, "could not start a request to %s", s->host);
		s->attached = true;

		Drive(s, true);
		if ((rc = TransferError(s, err)) != LLM_OK)
			return rc;
		curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
		resp->status = status;
		if (status >= 200 && status < 300)
			return LLM_OK;

		/* an error reply: read it whole for the message (a stream's within timeout_ms) */
		if (s->stream && s->timeout_ms > 0)
			s->deadline = NowMs() + s->timeout_ms;
		Drive(s, false);
		s->deadline = 0;
		if ((rc = TransferError(s, err)) != LLM_OK)
			return rc;
		curl_multi_remove_handle(s->multi, s->easy);
		s->attached = false;
		LlmHttpSnippet(snippet, sizeof(snippet), s->t.data, s->t.len, req->secret);
		if (status >= 300 && status < 400)
			return LlmSetError(err, LLM_ERR_IO,
							   "HTTP %ld from %s: redirects are not followed", status, s->host);
		if ((status != 429 && status < 500) || status > 599 || attempt >= max_attempts)
		{
			if (status == 429 || status >= 500)
				return LlmSetError(err, LLM_ERR_IO, "HTTP %ld from %s after %d attempts: %s",
								   status, s->host, attempt, snippet);
			return LlmSetError(err, LLM_ERR_IO, "HTTP %ld from %s: %s",
							   status, s->host, snippet);
		}

		/* retry: the server's Retry-After (capped), else exponential */
		curl_easy_getinfo(s->easy, CURLINFO_RETRY_AFTER, &retry_after);
		if (retry_after > 0)
			wait_ms = retry_after > pol->retry_after_max_ms / 1000 ?
				pol->retry_after_max_ms : (long) retry_after * 1000;
		else
		{
			wait_ms = pol->backoff_base_ms;
			for (int i = 1; i < attempt && wait_ms < pol->backoff_max_ms; i++)
				wait_ms *= 2;
			if (wait_ms > pol->backoff_max_ms)
				wait_ms = pol->backoff_max_ms;
		}
		if ((rc = SleepInterruptible(wait_ms, err)) != LLM_OK)
			return rc;
	}
}

int
LlmHttpStreamOpen(const LlmHttpRequest *req, LlmHttpStream **out, LlmError *err)
{
	LlmHttpResponse resp;
	LlmHttpStream *s;
	int			rc;

	*out = NULL;
	memset(&resp, 0, sizeof(resp));
	s = LlmAllocZero(sizeof(LlmHttpStream), err);
	if (s == NULL)
		return LLM_ERR_NOMEM;
	if ((rc = Open(s, req, &resp, err)) != LLM_OK)
	{
		LlmHttpStreamClose(s);
		return rc;
	}
	*out = s;
	return LLM_OK;
}

int
LlmHttpStreamRead(LlmHttpStream *s, const char **data, size_t *len, LlmError *err)
{
	int			rc;

	*data = NULL;
	*len = 0;
	/* the bytes handed out last time are the caller's no more */
	if (s->handed)
	{
		s->t.len = 0;
		s->handed = false;
	}
	if (s->t.len == 0 && !s->done)
		Drive(s, true);
	/* bytes that came before a failure are handed out first */
	if ((s->t.len == 0 || s->t.cancelled || s->t.too_large || s->t.nomem) &&
		(rc = TransferError(s, err)) != LLM_OK)
		return rc;
	*data = s->t.data;
	*len = s->t.len;
	s->handed = s->t.len > 0;
	return LLM_OK;
}

void
LlmHttpStreamClose(LlmHttpStream *s)
{
	if (s == NULL)
		return;
	if (s->attached)
		curl_multi_remove_handle(s->multi, s->easy);
	if (s->easy != NULL)
		curl_easy_cleanup(s->easy);
	if (s->multi != NULL)
		curl_multi_cleanup(s->multi);
	curl_slist_free_all(s->headers);
	if (s->auth != NULL)
	{
		memset(s->auth, 0, strlen(s->auth));
		free(s->auth);
	}
	curl_url_cleanup(s->url);
	free(s->t.data);
	free(s);
}

/*
 * POST req->body to req->url and collect the reply.  Succeeds only on a
 * 2xx status; resp is then the caller's to free with LlmHttpResponseFree.
 */
int
LlmHttpPost(const LlmHttpRequest *req, LlmHttpResponse *resp, LlmError *err)
{
	LlmHttpStream *s;
	int			rc;

	memset(resp, 0, sizeof(*resp));
	s = LlmAllocZero(sizeof(LlmHttpStream), err);
	if (s == NULL)
		return LLM_ERR_NOMEM;
	rc = Open(s, req, resp, err);
	if (rc == LLM_OK)
	{
		Drive(s, false);
		rc = TransferError(s, err);
	}
	if (rc == LLM_OK && s->t.data == NULL)
	{
		s->t.data = malloc(1);
		if (s->t.data == NULL)
			rc = LlmSetError(err, LLM_ERR_NOMEM, "out of memory reading a reply from %s", s->host);
		else
			s->t.data[0] = '\0';
	}
	if (rc == LLM_OK)
	{
		resp->body = s->t.data;
		resp->body_len = s->t.len;
		s->t.data = NULL;
	}
	LlmHttpStreamClose(s);
	return rc;
}

void
LlmHttpResponseFree(LlmHttpResponse *resp)
{
	if (resp == NULL)
		return;
	free(resp->body);
	memset(resp, 0, sizeof(*resp));
}
