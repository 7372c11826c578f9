/*-------------------------------------------------------------------------
 *
 * httpc.h
 *	  A small HTTP client for remote LLM providers (on top of libcurl):
 *	  one JSON POST with an allowlist of hosts, a bearer secret, timeouts,
 *	  a response size cap and retries with exponential backoff, its reply
 *	  read whole or as a stream.
 *
 * Rules that the callers rely on:
 *	- the URL's host must be on the allowlist (exact, case-insensitive)
 *	  or nothing is sent: LLM_ERR_ARGUMENT before any connection;
 *	- only http and https; redirects are never followed (a 3xx fails);
 *	- proxies from the environment are not used (a proxy would be a host
 *	  that is not on the allowlist);
 *	- the secret goes only into the Authorization header: it is never in
 *	  an error message, and it is masked in any piece of a reply that an
 *	  error message quotes;
 *	- 429 and 5xx are retried with exponential backoff, honouring a
 *	  Retry-After header (capped); other failures are not retried;
 *	- LlmInterrupted() is checked during transfers and waits (at least
 *	  every 100 ms): LLM_ERR_CANCELLED.  No libcurl callback longjmps;
 *	- the connections of a process are kept and reused by its later
 *	  requests to the same scheme, host and port (the allowlist is still
 *	  checked at every request).
 *
 * Plain C: no PostgreSQL header, malloc/free, never prints.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMLOPS_LLM_HTTPC_H
#define PGMLOPS_LLM_HTTPC_H

#include "llm/llm.h"

#define LLM_HTTP_SNIPPET	200	/* bytes of a reply quoted in an error */

/* what may be contacted, and how patiently */
typedef struct LlmHttpPolicy
{
	const char *const *allowed_hosts;	/* "host" or "host:port" entries;
										 * none: refuse all */
	int			n_allowed_hosts;
	long		connect_timeout_ms;
	long		timeout_ms;		/* whole transfer, per attempt; for a
								 * stream, each wait for more of it */
	size_t		max_response_bytes;
	int			max_attempts;	/* >= 1; retries only on 429 and 5xx */
	long		backoff_base_ms;	/* wait after attempt k: base * 2^(k-1) */
	long		backoff_max_ms;
	long		retry_after_max_ms; /* cap on a server's Retry-After */
} LlmHttpPolicy;

typedef struct LlmHttpRequest
{
	const char *url;
	const char *body;			/* JSON */
	size_t		body_len;
	const char *secret;			/* bearer token, or NULL */
	bool		stream;			/* the reply is an event stream (Accept,
								 * timeout_ms per wait) */
	LlmHttpPolicy policy;
} LlmHttpRequest;

/* a request whose reply is read as it arrives */
typedef struct LlmHttpStream LlmHttpStream;

typedef struct LlmHttpResponse
{
	long		status;			/* final HTTP status */
	char	   *body;			/* malloc'ed, NUL-terminated */
	size_t		body_len;
	int			attempts;		/* requests sent */
} LlmHttpResponse;

/* httpc.c */
extern void LlmHttpPolicyDefaults(LlmHttpPolicy *policy);

/*
 * Does an allowlist entry ("host", "[v6]", either with ":port") allow host
 * (as in a URL, IPv6 in brackets) on port?  Host names compare without
 * case; an entry without a port allows every port, a malformed port none.
 */
extern bool LlmHttpHostAllowed(const char *entry, const char *host, int port);

/*
 * Split "host[:port]" (s[0..len), IPv6 in brackets) at the end of the host,
 * stored in *host_len; returns the port, 0 when none is written, -1 when
 * what follows the host is not ":" and a decimal number from 1 to 65535
 */
extern int	LlmHttpSplitHostPort(const char *s, size_t len, size_t *host_len);
extern int	LlmHttpCheckUrl(const char *url, const LlmHttpPolicy *policy,
							LlmError *err);
extern int	LlmHttpPost(const LlmHttpRequest *req, LlmHttpResponse *resp,
						LlmError *err);
extern void LlmHttpResponseFree(LlmHttpResponse *resp);

/*
 * Send a request as LlmHttpPost does (the same checks, errors and
 * retries) and return once a 2xx reply begins.  The request's strings
 * (body, secret) must outlive the stream.
 */
extern int	LlmHttpStreamOpen(const LlmHttpRequest *req, LlmHttpStream **out,
							  LlmError *err);
/*
 * The reply's next bytes, waiting for them (interruptible): *data[0 ..
 * *len) is valid until the next call; *len is 0 at the end of the reply.
 * An error of the transfer (timeout, reset, cancel) is an error here.
 */
extern int	LlmHttpStreamRead(LlmHttpStream *s, const char **data, size_t *len,
							  LlmError *err);
extern void LlmHttpStreamClose(LlmHttpStream *s);
extern void LlmHttpSnippet(char *dst, size_t dstlen, const char *data,
						   size_t len, const char *secret);

#endif							/* PGMLOPS_LLM_HTTPC_H */
