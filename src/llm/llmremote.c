/*-------------------------------------------------------------------------
 *
 * llmremote.c
 *	  Registered models served by a remote provider: locations, options,
 *	  the mlops.allowed_hosts allowlist, secrets, and chat and embedding
 *	  calls that raise SQL errors.
 *
 * A call parses the model's location and options, checks the host against
 * mlops.allowed_hosts (before anything is read or sent), reads the named
 * secret, and hands a filled LlmProvider to the plain-C client
 * (provider.c, httpc.c).  The client never calls into PostgreSQL: it
 * polls LlmInterrupted() (the hook that LlmSqlInit installs) and returns
 * LLM_ERR_CANCELLED, after which CHECK_FOR_INTERRUPTS() raises the cancel
 * or termination.  Its results are malloc'ed; they are copied into the
 * caller's memory context under PG_FINALLY so that they are freed even
 * when the copy fails.
 *
 * Secrets.  mlops.secrets is readable by its owner (the extension owner)
 * only.  ReadSecret switches to that role with SetUserIdAndSecContext in a
 * security-restricted operation and reads one row with SPI, a query whose
 * names and operator are schema-qualified so that the caller's
 * search_path cannot redirect it.  No SQL-callable function returns a
 * value, so none can be granted by mistake.  The copy this file keeps
 * lives in palloc'ed memory for one call and is wiped afterwards (SPI's
 * tuple and libcurl's header list are freed without wiping).  It is never
 * put into a message: the client masks it in quoted replies (an exact
 * match only: a provider that echoes it escaped is not caught), and
 * nothing here quotes a location that has user information or a query.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <limits.h>
#include <math.h>

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/syscache.h"

#include "llm/llmremote.h"
#include "llm/llmserve.h"
#include "llm/llmsql.h"

#define MAX_HOST_LEN		253
#define MAX_LOCATION_LEN	2048
#define MAX_SECRET_NAME		63
#define TIMEOUT_MAX_MS		3600000 /* one hour per attempt */
#define ATTEMPTS_MAX		10
#define CONNECT_TIMEOUT_MS	10000

/* GUCs */
static char *allowed_hosts = NULL;
static int	http_timeout_ms = 60000;
static int	http_max_attempts = 3;

/* a parsed location; strings palloc'ed */
typedef struct RemoteLocation
{
	LlmProviderKind kind;
	const char *provider;		/* "openai" or "ollama" */
	char	   *base_url;		/* http[s]://host[:port][/prefix] */
	char	   *host;			/* as written; IPv6 in brackets */
	int			port;			/* as written, or the scheme's */
	char	   *model;			/* last path segment, percent-decoded */
} RemoteLocation;

/* parsed options; -1 (NULL) where not given */
typedef struct RemoteOptions
{
	char	   *api_key_secret;
	char	   *tokenizer;		/* a model under mlops.model_dir */
	int			timeout_ms;
	int			max_attempts;
	int			embed_batch_inputs;
	int			embed_batch_tokens;
} RemoteOptions;

/* the schemes, with the provider they name and the URL scheme they use */
static const struct
{
	const char *scheme;
	LlmProviderKind kind;
	const char *provider;
	const char *url_scheme;
}			schemes[] =
{
	{"openai+http", LLM_PROVIDER_OPENAI, "openai", "http"},
	{"openai", LLM_PROVIDER_OPENAI, "openai", "https"},
	{"ollama+http", LLM_PROVIDER_OLLAMA, "ollama", "http"},
	{"ollama", LLM_PROVIDER_OLLAMA, "ollama", "https"},
};

/* the integer options and their bounds */
static const struct
{
	const char *key;
	int			min;
	int			max;
	size_t		offset;
}			int_options[] =
{
	{"timeout_ms", 1, TIMEOUT_MAX_MS, offsetof(RemoteOptions, timeout_ms)},
	{"max_attempts", 1, ATTEMPTS_MAX, offsetof(RemoteOptions, max_attempts)},
	{"embed_batch_inputs", 1, 100000, offsetof(RemoteOptions, embed_batch_inputs)},
	{"embed_batch_tokens", 1, 16 * 1024 * 1024, offsetof(RemoteOptions, embed_batch_tokens)},
};

#define OPTIONS_HINT "Valid options are api_key_secret, timeout_ms, max_attempts, embed_batch_inputs, embed_batch_tokens and tokenizer."

/* is c a character of a host name (IPv6 addresses are bracketed apart)? */
static bool
IsHostChar(char c)
{
	/* '_' too: container and compose service names use it */
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

/* is c allowed in a path segment (unreserved, ':', '+', '%')? */
static bool
IsPathChar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
		c == '~' || c == ':' || c == '+' || c == '%';
}

static int
HexValue(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Is the address of family af between p and p + len written the way
 * inet_ntop writes it (what libcurl turns any other spelling into)?
 */
static bool
CanonicalAddress(int af, const char *p, size_t len)
{
	char		text[INET6_ADDRSTRLEN];
	char		back[INET6_ADDRSTRLEN];
	unsigned char addr[sizeof(struct in6_addr)];

	if (len >= sizeof(text))
		return false;
	memcpy(text, p, len);
	text[len] = '\0';
	return inet_pton(af, text, addr) == 1 &&
		inet_ntop(af, addr, back, sizeof(back)) != NULL &&
		pg_strcasecmp(text, back) == 0;
}

/*
 * Check a host as written in a location or on the allowlist: a name of
 * letters, digits, dots and hyphens, or an IPv6 address in brackets.
 * Returns NULL if fine, else why not.
 */
static const char *
CheckHost(const char *host, size_t len)
{
	const char *last;

	if (len == 0)
		return "The host is empty.";
	if (len > MAX_HOST_LEN)
		return "The host name is too long.";
	if (host[0] == '[')
	{
		if (len < 3 || host[len - 1] != ']')
			return "An IPv6 address must be enclosed in brackets.";
		for (size_t i = 1; i < len - 1; i++)
			if (HexValue(host[i]) < 0 && host[i] != ':' && host[i] != '.')
				return "The IPv6 address has an invalid character.";
		if (!CanonicalAddress(AF_INET6, host + 1, len - 2))
			return "Write an IPv6 address in its shortest form, as in [::1] or [2001:db8::1].";
		return NULL;
	}
	for (size_t i = 0; i < len; i++)
		if (!IsHostChar(host[i]))
			return host[i] == ':' ?
				"Write an IPv6 address in brackets, as in [::1]." :
				"A host name may only have letters, digits, dots and hyphens.";
	if (host[0] == '.' || host[0] == '-')
		return "A host name must start with a letter or digit.";
	/* a last label that starts with a digit makes it an IPv4 address */
	for (last = host + len; last > host && last[-1] != '.'; last--)
		;
	if (last < host + len && last[0] >= '0' && last[0] <= '9' && !CanonicalAddress(AF_INET, host, len))
		return "Write an IPv4 address as four decimal numbers, as in 127.0.0.1.";
	return NULL;
}

/*
 * Check an entry of mlops.allowed_hosts: a host, with an optional port
 */
static const char *
CheckHostEntry(const char *entry, size_t len)
{
	size_t		host_len;
	int			port = LlmHttpSplitHostPort(entry, len, &host_len);
	const char *why;
	bool		bracketed = len > 0 && entry[0] == '[' && memchr(entry, ']', len) != NULL;

	if (!bracketed && host_len < len &&
		memchr(entry + host_len + 1, ':', len - host_len - 1) != NULL)
		return "Write an IPv6 address in brackets, as in [::1].";
	if ((why = CheckHost(entry, host_len)) != NULL)
		return why;
	if (port < 0)
		return "A port must be a number between 1 and 65535, after a colon.";
	return NULL;
}

/*
 * Parse a location; on failure returns false and sets *why (a full
 * sentence that never quotes the location)
 */
static bool
ParseLocation(const char *location, RemoteLocation *loc, const char **why)
{
	const char *p;
	const char *auth;
	const char *auth_end;
	const char *host_end;
	const char *last;
	const char *path;
	size_t		host_len;
	int			si = -1;
	size_t		len = strlen(location);
	StringInfoData buf;

	memset(loc, 0, sizeof(*loc));
	for (int i = 0; i < (int) lengthof(schemes); i++)
	{
		size_t		n = strlen(schemes[i].scheme);

		if (pg_strncasecmp(location, schemes[i].scheme, n) == 0 &&
			strncmp(location + n, "://", 3) == 0)
		{
			si = i;
			break;
		}
	}
	if (si < 0)
	{
		*why = "A remote location starts with openai://, openai+http://, ollama:// or ollama+http://.";
		return false;
	}
	if (len > MAX_LOCATION_LEN)
	{
		*why = "The location is too long.";
		return false;
	}
	for (p = location; *p; p++)
	{
		unsigned char c = (unsigned char) *p;

		if (c <= 0x20 || c >= 0x7f)
		{
			*why = "The location has a space, a control character or a non-ASCII character.";
			return false;
		}
		if (c == '?' || c == '#')
		{
			*why = "The location may not have a query or a fragment; put API keys in mlops.secrets and name them with the \"api_key_secret\" option.";
			return false;
		}
		if (c == '\\')
		{
			*why = "The location may not have a backslash.";
			return false;
		}
	}

	auth = location + strlen(schemes[si].scheme) + 3;
	auth_end = strchr(auth, '/');
	if (auth_end == NULL)
		auth_end = auth + strlen(auth);
	if (memchr(auth, '@', auth_end - auth) != NULL)
	{
		*why = "The location may not have a user name or password; put API keys in mlops.secrets (mlops.set_secret) and name them with the \"api_key_secret\" option.";
		return false;
	}
	loc->port = LlmHttpSplitHostPort(auth, auth_end - auth, &host_len);
	host_end = auth + host_len;
	if ((*why = CheckHost(auth, host_len)) != NULL)
		return false;
	if (loc->port < 0)
	{
		*why = "The port must be a number between 1 and 65535, after a colon.";
		return false;
	}
	if (loc->port == 0)
		loc->port = strcmp(schemes[si].url_scheme, "https") == 0 ? 443 : 80;

	/* the path: /[prefix/]model, segments non-empty, no dot segments */
	path = auth_end;
	if (*path != '/' || path[1] == '\0')
	{
		*why = "The location must end with the provider's model name, as in openai://api.openai.com/gpt-4o-mini.";
		return false;
	}
	last = path;
	for (p = path; *p; p++)
	{
		if (*p == '/')
		{
			const char *next = strchr(p + 1, '/');
			size_t		seglen = next != NULL ? (size_t) (next - p - 1) : strlen(p + 1);

			if (seglen == 0 ||
				(seglen == 1 && p[1] == '.') ||
				(seglen == 2 && p[1] == '.' && p[2] == '.'))
			{
				*why = "The location's path has an empty, \".\" or \"..\" segment.";
				return false;
			}
			last = p;
		}
		else if (!IsPathChar(*p))
		{
			*why = "The location's path may only have letters, digits and the characters - . _ ~ : + %; percent-encode others (a slash in a model name is %2F).";
			return false;
		}
		else if (*p == '%' && (HexValue(p[1]) < 0 || HexValue(p[2]) < 0))
		{
			*why = "The location has a % that does not start a percent-encoded byte.";
			return false;
		}
	}

	/* the model: the last segment, percent-decoded */
	initStringInfo(&buf);
	for (p = last + 1; *p; p++)
	{
		if (*p == '%')
		{
			int			c = HexValue(p[1]) * 16 + HexValue(p[2]);

			if (c < 0x20 || c == 0x7f)
			{
				pfree(buf.data);
				*why = "The model name has a control character.";
				return false;
			}
			appendStringInfoChar(&buf, (char) c);
			p += 2;
		}
		else
			appendStringInfoChar(&buf, *p);
	}
	loc->model = buf.data;
	loc->kind = schemes[si].kind;
	loc->provider = schemes[si].provider;
	loc->host = pnstrdup(auth, host_end - auth);
	loc->base_url = psprintf("%s://%.*s", schemes[si].url_scheme,
							 (int) (last - auth), auth);
	return true;
}

/*
 * Parse a location or raise an error that does not quote it (it may hold
 * a password or a key)
 */
static void
ParseLocationOrError(const char *location, RemoteLocation *loc)
{
	const char *why = NULL;

	if (!ParseLocation(location, loc, &why))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid remote model location"),
				 errdetail("%s", why),
				 errhint("A remote location is openai://host[:port][/prefix]/model, openai+http://..., ollama://... or ollama+http://....")));
}

/* is name a valid secret name (as mlops.set_secret checks it)? */
static bool
ValidSecretName(const char *name)
{
	size_t		len = strlen(name);

	if (len == 0 || len > MAX_SECRET_NAME)
		return false;
	if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z') ||
		  name[0] == '_'))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!IsHostChar(name[i]) && name[i] != '_')
			return false;
	return true;
}

/*
 * Parse and check the options of a remote model (NULL: none)
 */
static void
ParseOptions(Jsonb *options, RemoteOptions *opts)
{
	LlmOptionIter o;
	char	   *key;
	JsonbValue	v;

	opts->api_key_secret = opts->tokenizer = NULL;
	opts->timeout_ms = opts->max_attempts = -1;
	opts->embed_batch_inputs = opts->embed_batch_tokens = -1;
	LlmOptionsBegin(&o, options, "options of a remote model");
	while (LlmOptionsNext(&o, &key, &v))
	{
		if (strcmp(key, "api_key_secret") == 0)
		{
			opts->api_key_secret = LlmOptionString(&v, key, "a string naming a secret");
			if (!ValidSecretName(opts->api_key_secret))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"api_key_secret\" is not a valid secret name"),
						 errhint("Name the secret, not its value: mlops.set_secret(name, value) stores a value under a name.")));
		}
		else if (strcmp(key, "tokenizer") == 0)
			opts->tokenizer = LlmOptionString(&v, key, "a string naming a model directory under mlops.model_dir");
		else
		{
			int			i;

			for (i = 0; i < (int) lengthof(int_options); i++)
				if (strcmp(key, int_options[i].key) == 0)
					break;
			if (i == (int) lengthof(int_options))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("unknown option \"%s\" for a remote model", key),
						 errhint(OPTIONS_HINT)));
			*(int *) ((char *) opts + int_options[i].offset) =
				(int) LlmOptionInt(&v, key, int_options[i].min, int_options[i].max);
		}
	}
}

/*
 * Split mlops.allowed_hosts into its entries (palloc'ed); with check,
 * returns false and sets the GUC error detail on a bad entry (a list of
 * blanks is an empty list)
 */
static bool
SplitHosts(const char *list, List **hosts, bool check)
{
	const char *p = list != NULL ? list : "";

	*hosts = NIL;
	if (p[strspn(p, " \t")] == '\0')
		return true;
	for (;;)
	{
		const char *start = p + strspn(p, " \t");
		const char *comma = strchr(start, ',');
		const char *end = comma != NULL ? comma : start + strlen(start);
		const char *why;

		p = comma != NULL ? comma + 1 : end;
		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if (check && end == start)
		{
			GUC_check_errdetail("mlops.allowed_hosts has an empty entry.");
			return false;
		}
		if (check && end - start == 1 && *start == '*')
		{
			GUC_check_errdetail("Wildcards are not supported: list each host name.");
			return false;
		}
		if (check && (why = CheckHostEntry(start, end - start)) != NULL)
		{
			GUC_check_errdetail("Entry \"%.*s\": %s", (int) (end - start), start, why);
			return false;
		}
		if (end > start)
			*hosts = lappend(*hosts, pnstrdup(start, end - start));
		if (comma == NULL)
			break;
	}
	return true;
}

/* check hook of mlops.allowed_hosts */
static bool
CheckAllowedHosts(char **newval, void **extra, GucSource source)
{
	List	   *hosts;
	bool		ok = SplitHosts(*newval, &hosts, true);

	list_free_deep(hosts);
	return ok;
}

/*
 * Define the GUCs of remote providers
 */
void
LlmRemoteInit(void)
{
	DefineCustomStringVariable("mlops.allowed_hosts",
							   "Hosts that remote models may contact.",
							   "A comma-separated list of host names (IPv6 addresses in brackets), "
							   "each with an optional :port, compared exactly and without DNS lookups. "
							   "An entry without a port allows every port. Empty allows none.",
							   &allowed_hosts, "", PGC_SUSET, 0,
							   CheckAllowedHosts, NULL, NULL);
	DefineCustomIntVariable("mlops.http_timeout_ms",
							"Time limit of one request to a remote provider.",
							"Per attempt (for a streamed reply, per wait for more of it); a model's \"timeout_ms\" option takes precedence.",
							&http_timeout_ms, 60000, 100, TIMEOUT_MAX_MS,
							PGC_USERSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("mlops.http_max_attempts",
							"Attempts of a request to a remote provider that answers 429 or 5xx.",
							"A model's \"max_attempts\" option takes precedence.",
							&http_max_attempts, 3, 1, ATTEMPTS_MAX,
							PGC_USERSET, 0, NULL, NULL, NULL);
}

/*
 * Is location meant for a remote provider?  Any URL (scheme://...) is, so
 * that LlmRemoteValidate refuses an unknown scheme such as http:// with the
 * list of schemes, instead of it being looked up as a model directory.
 */
bool
LlmRemoteIsLocation(const char *location)
{
	const char *p = location;

	if (p == NULL ||
		!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
		return false;
	while (IsHostChar(*p) || *p == '+')
		p++;
	return strncmp(p, "://", 3) == 0;
}

/*
 * Read a secret's value as the owner of mlops.secrets; NULL if there is no
 * such secret.  The value is palloc'ed in the caller's context.
 */
static char *
ReadSecret(const char *name)
{
	Oid			nsp = get_namespace_oid("mlops", false);
	Oid			relid = get_relname_relid("secrets", nsp);
	Oid			owner;
	Oid			save_userid;
	int			save_sec;
	HeapTuple	tup;
	MemoryContext callercxt = CurrentMemoryContext;
	char	   *value = NULL;

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table mlops.secrets does not exist"),
				 errhint("Update the extension: ALTER EXTENSION pgmlops UPDATE.")));
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	PG_TRY();
	{
		Oid			argtypes[1] = {TEXTOID};
		Datum		args[1];
		int			rc;

		args[0] = CStringGetTextDatum(name);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		rc = SPI_execute_with_args("SELECT s.value FROM mlops.secrets s "
								   "WHERE s.name OPERATOR(pg_catalog.=) $1",
								   1, argtypes, args, NULL, true, 1);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "reading mlops.secrets failed: %s", SPI_result_code_string(rc));
		if (SPI_processed == 1)
		{
			bool		isnull;
			Datum		d = SPI_getbinval(SPI_tuptable->vals[0],
										  SPI_tuptable->tupdesc, 1, &isnull);

			if (!isnull)
			{
				text	   *t = DatumGetTextPP(d);
				MemoryContext old = MemoryContextSwitchTo(callercxt);

				value = text_to_cstring(t);
				MemoryContextSwitchTo(old);
			}
		}
		SPI_finish();
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_userid, save_sec);
	}
	PG_END_TRY();
	return value;
}

/* read a secret that must exist */
static char *
ReadSecretOrError(const char *name)
{
	char	   *value = ReadSecret(name);

	if (value == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("secret \"%s\" does not exist", name),
				 errhint("An administrator stores it with mlops.set_secret(name, value).")));
	return value;
}

/* wipe and free a secret */
static void
WipeSecret(char *value)
{
	if (value != NULL)
	{
		explicit_bzero(value, strlen(value));
		pfree(value);
	}
}

/*
 * A secret travels only over https, or over plain http to this machine:
 * a bearer token in clear text on a network is readable by anyone on the
 * path
 */
static void
CheckSecretTransport(const RemoteLocation *loc, const RemoteOptions *opts)
{
	if (opts->api_key_secret == NULL || strncmp(loc->base_url, "http://", 7) != 0)
		return;
	if (pg_strcasecmp(loc->host, "localhost") == 0 || strcmp(loc->host, "127.0.0.1") == 0 ||
		strcmp(loc->host, "[::1]") == 0)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("option \"api_key_secret\" needs an https location"),
			 errdetail("A secret is sent over plain http only to localhost, 127.0.0.1 or [::1]."),
			 errhint("Use openai:// or ollama:// (https) for host \"%s\".", loc->host)));
}

/*
 * Is the location's host and port on mlops.allowed_hosts?  *hosts gets the
 * list's entries; *other_port says whether an entry names the host with
 * another port.
 */
static bool
HostIsAllowed(const RemoteLocation *loc, List **hosts, bool *other_port)
{
	ListCell   *lc;
	size_t		len = strlen(loc->host);
	bool		allowed = false;

	SplitHosts(allowed_hosts, hosts, false);
	*other_port = false;
	foreach(lc, *hosts)
	{
		const char *entry = lfirst(lc);

		size_t		host_len;

		if (LlmHttpHostAllowed(entry, loc->host, loc->port))
			allowed = true;
		else if (LlmHttpSplitHostPort(entry, strlen(entry), &host_len) > 0 &&
				 host_len == len && pg_strncasecmp(entry, loc->host, len) == 0)
			*other_port = true;
	}
	return allowed;
}

/*
 * Check a remote model at registration
 */
const char *
LlmRemoteValidate(const char *location, Jsonb *options)
{
	RemoteLocation loc;
	RemoteOptions opts;
	List	   *hosts;
	bool		other_port;

	ParseLocationOrError(location, &loc);
	ParseOptions(options, &opts);
	CheckSecretTransport(&loc, &opts);
	if (opts.api_key_secret != NULL)
		WipeSecret(ReadSecretOrError(opts.api_key_secret));
	if (opts.tokenizer != NULL)
		(void) LlmSqlGetTokenizer(opts.tokenizer);

	/* the host may be allowed later: warn only */
	if (!HostIsAllowed(&loc, &hosts, &other_port))
		ereport(WARNING,
				(other_port ?
				 errmsg("port %d of provider host \"%s\" is not on mlops.allowed_hosts", loc.port, loc.host) :
				 errmsg("provider host \"%s\" is not on mlops.allowed_hosts", loc.host),
				 errdetail("Calls to this model fail until a superuser adds the host.")));
	return loc.provider;
}

/*
 * The provider for a call: location, options and settings, the allowlist
 * checked; the secret is read last (the caller wipes it with WipeSecret)
 */
static void
PrepareProvider(const char *location, Jsonb *options, bool embedding,
				RemoteLocation *loc, LlmProvider *prov, char **secret)
{
	RemoteOptions opts;
	List	   *hosts;
	ListCell   *lc;
	const char **list;
	int			n = 0;
	bool		other_port;

	/* the engine's transfers poll this hook to honour cancels */
	if (LlmInterruptHook == NULL)
		elog(ERROR, "the inference engine's interrupt hook is not installed");

	ParseLocationOrError(location, loc);
	ParseOptions(options, &opts);
	CheckSecretTransport(loc, &opts);

	if (!HostIsAllowed(loc, &hosts, &other_port))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 other_port ?
				 errmsg("port %d of provider host \"%s\" is not on mlops.allowed_hosts", loc->port, loc->host) :
				 errmsg("provider host \"%s\" is not on mlops.allowed_hosts", loc->host),
				 errdetail("Nothing was sent."),
				 errhint("A superuser can allow it: ALTER SYSTEM SET mlops.allowed_hosts = '...'; SELECT pg_reload_conf();")));
	list = palloc(sizeof(char *) * (list_length(hosts) + 1));
	foreach(lc, hosts)
		list[n++] = lfirst(lc);

	LlmProviderInit(prov, loc->kind, loc->base_url, loc->model);
	prov->policy.allowed_hosts = list;
	prov->policy.n_allowed_hosts = n;
	prov->policy.timeout_ms = opts.timeout_ms > 0 ? opts.timeout_ms : http_timeout_ms;
	prov->policy.connect_timeout_ms = Min(prov->policy.timeout_ms, CONNECT_TIMEOUT_MS);
	prov->policy.max_attempts = opts.max_attempts > 0 ? opts.max_attempts : http_max_attempts;
	if (opts.embed_batch_inputs > 0)
		prov->embed_batch_inputs = opts.embed_batch_inputs;
	if (opts.embed_batch_tokens > 0)
		prov->embed_batch_tokens = opts.embed_batch_tokens;
	/* only embeddings count tokens; the cache keeps it for the call */
	if (opts.tokenizer != NULL && embedding)
		prov->tokenizer = LlmSqlGetTokenizer(opts.tokenizer);

	*secret = opts.api_key_secret != NULL ? ReadSecretOrError(opts.api_key_secret) : NULL;
	prov->secret = *secret;
}

/*
 * The SQL error code of a failed remote call.  The client reports both
 * network failures and HTTP error statuses as LLM_ERR_IO; its messages for
 * the latter start with "HTTP " or "provider returned".
 */
static int
RemoteErrcode(const LlmError *err)
{
	switch (err->code)
	{
		case LLM_ERR_IO:
			if (strncmp(err->message, "HTTP ", 5) == 0 ||
				strncmp(err->message, "provider returned", 17) == 0)
				return ERRCODE_EXTERNAL_ROUTINE_EXCEPTION;
			return ERRCODE_CONNECTION_FAILURE;
		case LLM_ERR_FORMAT:
			return ERRCODE_EXTERNAL_ROUTINE_EXCEPTION;
		default:
			return LlmSqlErrcode(err->code);
	}
}

/*
 * Raise the error of a failed call (the message is the client's, with any
 * quoted reply masked); a cancel raises the query-cancel error itself
 */
static void
ReportRemoteError(const LlmError *err, const RemoteLocation *loc, const char *what)
{
	if (err->code == LLM_ERR_CANCELLED)
		CHECK_FOR_INTERRUPTS();
	ereport(ERROR,
			(errcode(RemoteErrcode(err)),
			 errmsg("%s request to %s provider at \"%s\" failed", what,
					loc->provider, loc->host),
			 errdetail("%s", err->message),
			 err->code == LLM_ERR_FORMAT && strstr(err->message, ": \"<") != NULL ?
			 errhint("The reply looks like a web page: check the location's host, port and path prefix.") : 0));
}

/*
 * Chat with a remote model
 */
void
LlmRemoteChat(const char *location, Jsonb *options,
			  const LlmChatMessage *msgs, int n_msgs,
			  const LlmChatParams *params, LlmChatResult *out)
{
	RemoteLocation loc;
	LlmProvider prov;
	LlmChatResult res;
	LlmError	err;
	char	   *secret;
	int			rc;

	PrepareProvider(location, options, false, &loc, &prov, &secret);
	memset(&err, 0, sizeof(err));
	rc = LlmProviderChat(&prov, msgs, n_msgs, params, &res, &err);
	WipeSecret(secret);
	if (rc != LLM_OK)
		ReportRemoteError(&err, &loc, "chat");

	memset(out, 0, sizeof(*out));
	PG_TRY();
	{
		out->text = pstrdup(res.text);
		out->finish_reason = res.finish_reason != NULL ? pstrdup(res.finish_reason) : NULL;
		out->prompt_tokens = res.prompt_tokens;
		out->completion_tokens = res.completion_tokens;
	}
	PG_FINALLY();
	{
		LlmChatResultFree(&res);
	}
	PG_END_TRY();
}

struct LlmRemoteStream
{
	RemoteLocation loc;
	LlmProvider prov;
	char	   *secret;			/* kept to mask it in the stream's errors */
	LlmChatStream *cs;
};

/*
 * Start a streamed chat with a remote model
 */
LlmRemoteStream *
LlmRemoteChatStreamOpen(const char *location, Jsonb *options,
						const LlmChatMessage *msgs, int n_msgs,
						const LlmChatParams *params)
{
	LlmRemoteStream *rs = palloc0(sizeof(LlmRemoteStream));
	LlmError	err;
	int			rc;

	PrepareProvider(location, options, false, &rs->loc, &rs->prov, &rs->secret);
	memset(&err, 0, sizeof(err));
	rc = LlmChatStreamOpen(&rs->prov, msgs, n_msgs, params, &rs->cs, &err);
	if (rc != LLM_OK)
	{
		LlmRemoteChatStreamClose(rs);
		ReportRemoteError(&err, &rs->loc, "chat");
	}
	return rs;
}

bool
LlmRemoteChatStreamNext(LlmRemoteStream *rs, StringInfo piece)
{
	const char *data;
	size_t		len;
	LlmError	err;

	memset(&err, 0, sizeof(err));
	if (rs->cs == NULL)
		elog(ERROR, "the remote stream is closed");
	if (LlmChatStreamNext(rs->cs, &data, &len, &err) != LLM_OK)
		ReportRemoteError(&err, &rs->loc, "chat");
	if (data == NULL)
		return false;
	resetStringInfo(piece);
	appendBinaryStringInfo(piece, data, (int) len);
	return true;
}

void
LlmRemoteChatStreamUsage(LlmRemoteStream *rs, int64 *prompt_tokens,
						 int64 *completion_tokens)
{
	int64_t		pt = -1,
				ct = -1;
	const char *finish;

	if (rs->cs != NULL)
		LlmChatStreamUsage(rs->cs, &pt, &ct, &finish);
	*prompt_tokens = pt;
	*completion_tokens = ct;
}

void
LlmRemoteChatStreamClose(LlmRemoteStream *rs)
{
	LlmChatStreamClose(rs->cs);
	rs->cs = NULL;
	WipeSecret(rs->secret);
	rs->secret = NULL;
}

/*
 * Embeddings of n_inputs texts from a remote model
 */
void
LlmRemoteEmbed(const char *location, Jsonb *options,
			   const char *const *inputs, int n_inputs,
			   LlmEmbedResult *out)
{
	RemoteLocation loc;
	LlmProvider prov;
	LlmEmbedResult res;
	LlmError	err;
	char	   *secret;
	int			rc;

	PrepareProvider(location, options, true, &loc, &prov, &secret);
	memset(&err, 0, sizeof(err));
	rc = LlmProviderEmbed(&prov, inputs, n_inputs, &res, &err);
	WipeSecret(secret);
	if (rc != LLM_OK)
		ReportRemoteError(&err, &loc, "embedding");

	memset(out, 0, sizeof(*out));
	PG_TRY();
	{
		Size		bytes = (Size) res.n * res.dim * sizeof(float);

		out->data = MemoryContextAllocHuge(CurrentMemoryContext, Max(bytes, 1));
		memcpy(out->data, res.data, bytes);
		out->n = res.n;
		out->dim = res.dim;
		out->prompt_tokens = res.prompt_tokens;
	}
	PG_FINALLY();
	{
		LlmEmbedResultFree(&res);
	}
	PG_END_TRY();
}
