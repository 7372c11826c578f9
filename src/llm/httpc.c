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
	char	   *data;
	size_t		len;
	size_t		cap;
	size_t		max;
	bool		too_large;
	bool		nomem;
	bool		cancelled;
} Transfer;

static bool curl_ready = false;

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

	if (n > t->max - t->len)
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
 * One attempt: run the transfer to completion on a multi handle.  Returns
 * the libcurl result; t tells whether we stopped it ourselves.
 */
static CURLcode
Perform(CURL *easy, Transfer *t)
{
	CURLM	   *multi = curl_multi_init();
	CURLcode	res = CURLE_FAILED_INIT;
	int			running = 1;

	if (multi == NULL)
		return CURLE_OUT_OF_MEMORY;
	if (curl_multi_add_handle(multi, easy) != CURLM_OK)
	{
		curl_multi_cleanup(multi);
		return CURLE_FAILED_INIT;
	}
	while (running)
	{
		if (curl_multi_perform(multi, &running) != CURLM_OK)
			break;
		if (!running)
			break;
		if (LlmInterrupted())
		{
			t->cancelled = true;
			res = CURLE_ABORTED_BY_CALLBACK;
			break;
		}
		if (curl_multi_poll(multi, NULL, 0, POLL_SLICE_MS, NULL) != CURLM_OK)
			break;
	}
	if (!t->cancelled)
	{
		CURLMsg    *msg;
		int			left;

		while ((msg = curl_multi_info_read(multi, &left)) != NULL)
			if (msg->msg == CURLMSG_DONE && msg->easy_handle == easy)
				res = msg->data.result;
	}
	curl_multi_remove_handle(multi, easy);
	curl_multi_cleanup(multi);
	return res;
}

/*
 * POST req->body to req->url and collect the reply.  Succeeds only on a
 * 2xx status; resp is then the caller's to free with LlmHttpResponseFree.
 */
int
LlmHttpPost(const LlmHttpRequest *req, LlmHttpResponse *resp, LlmError *err)
{
	const LlmHttpPolicy *pol = &req->policy;
	char		host[256];
	char		errbuf[CURL_ERROR_SIZE];
	char		snippet[LLM_HTTP_SNIPPET + 1];
	char	   *auth = NULL;
	CURLU	   *url = NULL;
	CURL	   *easy = NULL;
	struct curl_slist *headers = NULL;
	Transfer	t;
	int			rc = LLM_OK;
	int			max_attempts = pol->max_attempts > 0 ? pol->max_attempts : 1;

	memset(resp, 0, sizeof(*resp));
	memset(&t, 0, sizeof(t));
	t.max = pol->max_response_bytes > 0 ? pol->max_response_bytes : SIZE_MAX - 1;

	if (req->body == NULL)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "request body is missing");
	if (req->secret != NULL && strpbrk(req->secret, "\r\n") != NULL)
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "provider secret contains a line break");
	if ((rc = ParseUrl(req->url, pol, &url, host, sizeof(host), err)) != LLM_OK)
		return rc;
	if ((rc = EnsureCurl(err)) != LLM_OK)
		goto done;

	easy = curl_easy_init();
	headers = curl_slist_append(headers, "Content-Type: application/json");
	headers = headers ? curl_slist_append(headers, "Accept: application/json") : NULL;
	headers = headers ? curl_slist_append(headers, "Expect:") : NULL;
	if (req->secret != NULL && req->secret[0] != '\0')
	{
		size_t		alen = strlen(req->secret) + sizeof("Authorization: Bearer ");

		auth = malloc(alen);
		if (auth != NULL)
		{
			snprintf(auth, alen, "Authorization: Bearer %s", req->secret);
			headers = headers ? curl_slist_append(headers, auth) : NULL;
		}
	}
	if (easy == NULL || headers == NULL ||
		(req->secret != NULL && req->secret[0] != '\0' && auth == NULL))
	{
		rc = LlmSetError(err, LLM_ERR_NOMEM, "out of memory preparing an HTTP request");
		goto done;
	}

	curl_easy_setopt(easy, CURLOPT_CURLU, url);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(easy, CURLOPT_PROXY, "");
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(easy, CURLOPT_POST, 1L);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDS, req->body);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) req->body_len);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, "pgmlops");
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, pol->connect_timeout_ms);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, pol->timeout_ms);
	if (pol->max_response_bytes > 0)
		curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE,
						 (curl_off_t) pol->max_response_bytes);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, WriteCallback);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, &t);
	curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, ProgressCallback);
	curl_easy_setopt(easy, CURLOPT_XFERINFODATA, &t);
	curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);

	for (int attempt = 1;; attempt++)
	{
		CURLcode	res;
		long		status = 0;
		curl_off_t	retry_after = 0;
		long		wait_ms;

		if (LlmInterrupted())
		{
			rc = LlmSetError(err, LLM_ERR_CANCELLED, "request cancelled");
			goto done;
		}
		t.len = 0;
		if (t.data != NULL)
			t.data[0] = '\0';
		t.too_large = t.nomem = t.cancelled = false;
		errbuf[0] = '\0';
		resp->attempts = attempt;

		res = Perform(easy, &t);
		if (t.cancelled || res == CURLE_ABORTED_BY_CALLBACK)
		{
			rc = LlmSetError(err, LLM_ERR_CANCELLED, "request to %s cancelled", host);
			goto done;
		}
		if (t.nomem || res == CURLE_OUT_OF_MEMORY)
		{
			rc = LlmSetError(err, LLM_ERR_NOMEM, "out of memory reading a reply from %s", host);
			goto done;
		}
		if (t.too_large || res == CURLE_FILESIZE_EXCEEDED)
		{
			rc = LlmSetError(err, LLM_ERR_IO, "reply from %s is larger than %zu bytes",
							 host, pol->max_response_bytes);
			goto done;
		}
		if (res == CURLE_OPERATION_TIMEDOUT)
		{
			rc = LlmSetError(err, LLM_ERR_IO, "request to %s timed out (limit %ld ms)",
							 host, pol->timeout_ms);
			goto done;
		}
		if (res != CURLE_OK)
		{
			LlmHttpSnippet(snippet, sizeof(snippet), errbuf, strlen(errbuf), req->secret);
			rc = LlmSetError(err, LLM_ERR_IO, "request to %s failed: %s",
							 host, snippet[0] ? snippet : curl_easy_strerror(res));
			goto done;
		}
		curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
		resp->status = status;
		if (status >= 200 && status < 300)
			break;

		LlmHttpSnippet(snippet, sizeof(snippet), t.data, t.len, req->secret);
		if (status >= 300 && status < 400)
		{
			rc = LlmSetError(err, LLM_ERR_IO,
							 "HTTP %ld from %s: redirects are not followed", status, host);
			goto done;
		}
		if ((status != 429 && status < 500) || status > 599 || attempt >= max_attempts)
		{
			if (status == 429 || status >= 500)
				rc = LlmSetError(err, LLM_ERR_IO, "HTTP %ld from %s after %d attempts: %s",
								 status, host, attempt, snippet);
			else
				rc = LlmSetError(err, LLM_ERR_IO, "HTTP %ld from %s: %s",
								 status, host, snippet);
			goto done;
		}

		/* retry: the server's Retry-After (capped), else exponential */
		curl_easy_getinfo(easy, CURLINFO_RETRY_AFTER, &retry_after);
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
			goto done;
	}

	if (t.data == NULL)
	{
		t.data = malloc(1);
		if (t.data == NULL)
		{
			rc = LlmSetError(err, LLM_ERR_NOMEM, "out of memory reading a reply from %s", host);
			goto done;
		}
		t.data[0] = '\0';
	}
	resp->body = t.data;
	resp->body_len = t.len;
	t.data = NULL;
	rc = LLM_OK;

done:
	if (easy != NULL)
		curl_easy_cleanup(easy);
	curl_slist_free_all(headers);
	if (auth != NULL)
	{
		memset(auth, 0, strlen(auth));
		free(auth);
	}
	curl_url_cleanup(url);
	free(t.data);
	if (rc != LLM_OK)
	{
		int			attempts = resp->attempts;
		long		status = resp->status;

		memset(resp, 0, sizeof(*resp));
		resp->attempts = attempts;
		resp->status = status;
	}
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
