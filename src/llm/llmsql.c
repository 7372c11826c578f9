/*-------------------------------------------------------------------------
 *
 * llmsql.c
 *	  SQL glue of the inference engine: mlops.model_dir, model names,
 *	  the tokenizer cache and mlops.tokenize/detokenize/count_tokens.
 *
 * A model is a directory below mlops.model_dir, a setting only superusers
 * may change.  Model names are relative paths: absolute names, ".." and
 * empty names are refused, and the name is resolved with realpath() and
 * must stay inside realpath(mlops.model_dir), so a symbolic link that
 * leads out of it is refused as well (the files a model is read from,
 * tokenizer.json and tokenizer_config.json, are checked the same way).
 * Whoever can write into mlops.model_dir could still swap a link between
 * the check and the open; that directory belongs to the administrator.
 *
 * Each backend keeps the last few tokenizers it loaded, keyed by the
 * resolved directory and validated against the identity, size and
 * modification time of the two files, so a model replaced on disk is
 * reloaded.  The paths and files are checked at the first use in a
 * statement (stmtkey.h) and at least once a second, not at every
 * call: for a short text that check costs ten times the tokenizing.  The
 * engine allocates with malloc: a tokenizer enters the cache only once it
 * loaded completely, and every engine buffer is copied into palloc'ed
 * memory and freed before anything can raise an error.
 *
 * The engine's other PostgreSQL glue is in the llm*.c files named in
 * docs/architecture.md; the engine itself includes no PostgreSQL header.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "llm/llmsql.h"
#include "llm/tokenizer.h"
#include "stmtkey.h"

/* GUC mlops.model_dir: absolute path, or empty when models are disabled */
static char *model_dir = NULL;

#define TOKENIZER_CACHE_SIZE 8

/* identity of a file at the time it was loaded */
typedef struct FileStamp
{
	bool		exists;
	dev_t		dev;
	ino_t		ino;
	off_t		size;
	struct timespec mtime;
} FileStamp;

typedef struct TokenizerCacheEntry
{
	Tokenizer  *tok;			/* NULL: free slot */
	char		dir[PATH_MAX];	/* resolved model directory */
	FileStamp	json;			/* tokenizer.json */
	FileStamp	config;			/* tokenizer_config.json */
	uint64		lastUsed;
	char		model[MAXPGPATH];	/* the name it was last asked by */
	StatementKey checked_in;	/* statement and time of the last check of */
	TimestampTz checked_at;		/* its files */
} TokenizerCacheEntry;

#define TOKENIZER_RECHECK_MS 1000	/* recheck at least this often */

/*
 * Per-backend cache.  Reset points: a slot is freed on eviction, when its
 * files changed, and all slots when mlops.model_dir changes (cacheModelDir
 * is the value the entries were resolved under).
 */
static TokenizerCacheEntry tokenizerCache[TOKENIZER_CACHE_SIZE];
static uint64 cacheClock = 0;
static char cacheModelDir[PATH_MAX] = "";

/*
 * GUC check hook: mlops.model_dir is empty or an absolute path
 */
static bool
CheckModelDir(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || (*newval)[0] == '\0')
		return true;
	if (!is_absolute_path(*newval))
	{
		GUC_check_errdetail("mlops.model_dir must be an absolute path.");
		return false;
	}
	if (strlen(*newval) >= PATH_MAX)
	{
		GUC_check_errdetail("mlops.model_dir is too long.");
		return false;
	}
	canonicalize_path(*newval);
	return true;
}

/*
 * The engine's interrupt hook: a query cancel, statement timeout or
 * termination is pending, or the client is gone (other interrupts do not
 * stop the engine)
 */
static bool
CancelPending(void)
{
	static TimestampTz last_check = 0;

	if (InterruptPending && (QueryCancelPending || ProcDiePending))
		return true;

	/*
	 * A regular backend also gives up when its client went away (checked at
	 * most every 100 ms): CHECK_FOR_INTERRUPTS then ends the session
	 */
	if (MyProcPort != NULL)
	{
		TimestampTz now = GetCurrentTimestamp();

		if (now - last_check >= 100 * 1000)
		{
			last_check = now;
			if (!pq_check_connection())
			{
				ClientConnectionLost = 1;
				InterruptPending = 1;
				return true;
			}
		}
	}
	return false;
}

/*
 * Define the GUCs of the inference engine's SQL side and install the
 * engine's interrupt hook
 */
void
LlmSqlInit(void)
{
	LlmInterruptHook = CancelPending;

	DefineCustomStringVariable("mlops.model_dir",
							   "Directory that holds the models that SQL functions may load.",
							   "A model name is a directory relative to this one. Empty disables models.",
							   &model_dir, "", PGC_SUSET, 0,
							   CheckModelDir, NULL, NULL);
}

/*
 * Is path (a realpath result) strictly below root (another one)?
 */
static bool
PathIsInside(const char *path, const char *root)
{
	size_t		rootlen = strlen(root);

	if (rootlen == 1 && root[0] == '/')
		return path[0] == '/' && path[1] != '\0';
	return strncmp(path, root, rootlen) == 0 && path[rootlen] == '/' &&
		path[rootlen + 1] != '\0';
}

/*
 * Refuse model names that are empty, absolute or contain a ".." component
 */
static void
CheckModelName(const char *model)
{
	const char *p = model;

	if (model[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model name must not be empty")));
	if (strlen(model) >= MAXPGPATH)
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("model name is too long")));
	if (model[0] == '/')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model name \"%s\" must be relative to mlops.model_dir", model)));
	while (*p)
	{
		size_t		n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("model name \"%s\" must not contain \"..\"", model)));
		p += n;
		if (*p == '/')
			p++;
	}
}

/*
 * realpath(mlops.model_dir) into root (PATH_MAX bytes), or an error when
 * models are disabled or the directory is unusable
 */
static void
ResolveModelRoot(char *root)
{
	struct stat st;

	if (model_dir == NULL || model_dir[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("mlops.model_dir is not set"),
				 errhint("A superuser must set mlops.model_dir to the directory that holds the models.")));
	if (realpath(model_dir, root) == NULL)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not access mlops.model_dir \"%s\": %m", model_dir)));
	if (stat(root, &st) != 0 || !S_ISDIR(st.st_mode))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FILE),
				 errmsg("mlops.model_dir \"%s\" is not a directory", model_dir)));
}

/*
 * Resolve model below root into dir (PATH_MAX bytes)
 */
static void
ResolveModelDir(const char *model, const char *root, char *dir)
{
	char		joined[PATH_MAX];
	struct stat st;

	CheckModelName(model);
	if (snprintf(joined, sizeof(joined), "%s/%s", root, model) >= (int) sizeof(joined))
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("model name is too long")));
	if (realpath(joined, dir) == NULL)
	{
		if (errno == ENOENT || errno == ENOTDIR)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("model \"%s\" not found", model),
					 errdetail("There is no directory \"%s\" in mlops.model_dir.", model)));
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not resolve model \"%s\": %m", model)));
	}
	if (strcmp(dir, root) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model name \"%s\" names mlops.model_dir itself", model),
				 errhint("A model is a directory inside mlops.model_dir.")));
	if (!PathIsInside(dir, root))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model \"%s\" is outside mlops.model_dir", model),
				 errdetail("Symbolic links that lead out of mlops.model_dir are not followed.")));
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" not found", model),
				 errdetail("\"%s\" is not a directory.", model)));
}

/*
 * Resolve a model name to the real path of its directory (palloc'ed)
 */
char *
LlmSqlResolveModel(const char *model)
{
	char		root[PATH_MAX];
	char		dir[PATH_MAX];

	ResolveModelRoot(root);
	ResolveModelDir(model, root, dir);
	return pstrdup(dir);
}

/*
 * Check one file of a model: it must resolve inside root and be a regular
 * file.  A missing file is an error unless missing_ok, which returns with
 * stamp->exists false.
 */
static void
StampModelFile(const char *model, const char *dir, const char *root,
			   const char *name, bool missing_ok, FileStamp *stamp)
{
	char		path[PATH_MAX];
	char		real[PATH_MAX];
	struct stat st;

	memset(stamp, 0, sizeof(*stamp));
	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int) sizeof(path))
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("model name is too long")));
	if (realpath(path, real) == NULL)
	{
		if (errno == ENOENT && missing_ok)
			return;
		if (errno == ENOENT)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FILE),
					 errmsg("model \"%s\" has no %s", model, name)));
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not resolve file \"%s\" of model \"%s\": %m", name, model)));
	}
	if (!PathIsInside(real, root))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("file \"%s\" of model \"%s\" is outside mlops.model_dir", name, model),
				 errdetail("Symbolic links that lead out of mlops.model_dir are not followed.")));
	if (stat(real, &st) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat file \"%s\" of model \"%s\": %m", name, model)));
	if (!S_ISREG(st.st_mode))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("file \"%s\" of model \"%s\" is not a regular file", name, model)));
	stamp->exists = true;
	stamp->dev = st.st_dev;
	stamp->ino = st.st_ino;
	stamp->size = st.st_size;
	stamp->mtime = st.st_mtim;
}

/*
 * Do two stamps describe the same file contents?
 */
static bool
StampsEqual(const FileStamp *a, const FileStamp *b)
{
	if (a->exists != b->exists)
		return false;
	if (!a->exists)
		return true;
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
		a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/*
 * Free the tokenizer of a cache slot and mark the slot free
 */
static void
ReleaseCacheEntry(TokenizerCacheEntry *entry)
{
	if (entry->tok != NULL)
		TokenizerFree(entry->tok);
	entry->tok = NULL;
	entry->dir[0] = '\0';
}

/*
 * SQL error code for an engine status
 */
int
LlmSqlErrcode(int code)
{
	switch (code)
	{
		case LLM_ERR_IO:
			return ERRCODE_UNDEFINED_FILE;
		case LLM_ERR_FORMAT:
			/* a bad model file; not XX001, which means database corruption */
			return ERRCODE_DATA_EXCEPTION;
		case LLM_ERR_CANCELLED:
			return ERRCODE_QUERY_CANCELED;
		case LLM_ERR_UNSUPPORTED:
			return ERRCODE_FEATURE_NOT_SUPPORTED;
		case LLM_ERR_NOMEM:
			return ERRCODE_OUT_OF_MEMORY;
		case LLM_ERR_ARGUMENT:
			return ERRCODE_INVALID_PARAMETER_VALUE;
		case LLM_ERR_FULL:
			return ERRCODE_CONFIGURATION_LIMIT_EXCEEDED;
		default:
			return ERRCODE_INTERNAL_ERROR;
	}
}

/*
 * The engine's message with the server path of the model directory
 * replaced by the model name, so that errors do not show server paths
 */
char *
LlmSqlEngineMessage(const LlmError *err, const char *dir, const char *model)
{
	StringInfoData buf;
	const char *p = err->message;
	const char *hit;
	size_t		dirlen = dir != NULL ? strlen(dir) : 0;

	if (dirlen == 0)
		return pstrdup(err->message);
	initStringInfo(&buf);
	while ((hit = strstr(p, dir)) != NULL)
	{
		appendBinaryStringInfo(&buf, p, hit - p);
		appendStringInfoString(&buf, model);
		p = hit + dirlen;
	}

	/*
	 * A message cut at the size of LlmError.message may end inside the
	 * path: drop a tail that is the start of it
	 */
	if (strlen(err->message) == sizeof(err->message) - 1)
	{
		size_t		rest = strlen(p);

		for (size_t k = rest < dirlen ? rest : dirlen - 1; k > 1; k--)
		{
			if (memcmp(p + rest - k, dir, k) == 0)
			{
				appendBinaryStringInfo(&buf, p, rest - k);
				appendStringInfoString(&buf, model);
				appendStringInfoString(&buf, "...");
				return buf.data;
			}
		}
	}
	appendStringInfoString(&buf, p);
	return buf.data;
}

/*
 * Raise the error an engine call returned
 */
void
LlmSqlReportError(const LlmError *err, const char *model, const char *dir,
				  const char *what)
{
	bool		file_errno = err->code == LLM_ERR_IO && err->os_errno != 0;

	/* a pending cancel or termination raises its own error here */
	if (err->code == LLM_ERR_CANCELLED)
		CHECK_FOR_INTERRUPTS();
	/* errstart() saves errno for errcode_for_file_access() */
	if (file_errno)
		errno = err->os_errno;
	ereport(ERROR,
			(file_errno ? errcode_for_file_access() : errcode(LlmSqlErrcode(err->code)),
			 errmsg("could not %s with model \"%s\"", what, model),
			 errdetail("%s", LlmSqlEngineMessage(err, dir, model))));
}

/* note that an entry's files were checked now */
static void
MarkChecked(TokenizerCacheEntry *entry)
{
	entry->checked_in = StatementKeyNow();
	entry->checked_at = GetCurrentTimestamp();
}

/* were an entry's files checked in this statement (stmtkey.h), lately? */
static bool
CheckedRecently(const TokenizerCacheEntry *entry)
{
	StatementKey now = StatementKeyNow();

	return StatementKeyEqual(&entry->checked_in, &now) &&
		!TimestampDifferenceExceeds(entry->checked_at, GetCurrentTimestamp(), TOKENIZER_RECHECK_MS);
}

/*
 * The tokenizer of a model, loading it on a cache miss
 */
const Tokenizer *
LlmSqlGetTokenizer(const char *model)
{
	char		root[PATH_MAX];
	char		dir[PATH_MAX];
	FileStamp	json;
	FileStamp	config;
	TokenizerCacheEntry *slot = NULL;
	Tokenizer  *tok = NULL;
	LlmError	err;

	/* settings changed since the entries were resolved: start afresh */
	if (strcmp(cacheModelDir, model_dir != NULL ? model_dir : "") != 0)
	{
		for (int i = 0; i < TOKENIZER_CACHE_SIZE; i++)
			ReleaseCacheEntry(&tokenizerCache[i]);
		strlcpy(cacheModelDir, model_dir != NULL ? model_dir : "", sizeof(cacheModelDir));
	}

	/*
	 * Paths and files are checked again at a new statement (stmtkey.h) or
	 * a second after the last check, not at every call:
	 * resolving them costs far more than tokenizing a short text
	 */
	for (int i = 0; i < TOKENIZER_CACHE_SIZE; i++)
	{
		TokenizerCacheEntry *entry = &tokenizerCache[i];

		if (entry->tok != NULL && strcmp(entry->model, model) == 0 && CheckedRecently(entry))
		{
			entry->lastUsed = ++cacheClock;
			return entry->tok;
		}
	}

	ResolveModelRoot(root);
	ResolveModelDir(model, root, dir);
	StampModelFile(model, dir, root, "tokenizer.json", false, &json);
	StampModelFile(model, dir, root, "tokenizer_config.json", true, &config);

	for (int i = 0; i < TOKENIZER_CACHE_SIZE; i++)
	{
		TokenizerCacheEntry *entry = &tokenizerCache[i];

		if (entry->tok == NULL || strcmp(entry->dir, dir) != 0)
			continue;
		if (StampsEqual(&entry->json, &json) && StampsEqual(&entry->config, &config))
		{
			entry->lastUsed = ++cacheClock;
			strlcpy(entry->model, model, sizeof(entry->model));
			MarkChecked(entry);
			return entry->tok;
		}
		/* the files changed on disk: drop the old one and reload below */
		ReleaseCacheEntry(entry);
	}

	memset(&err, 0, sizeof(err));
	if (TokenizerLoad(dir, &tok, &err) != LLM_OK)
	{
		if (tok != NULL)
			TokenizerFree(tok);
		LlmSqlReportError(&err, model, dir, "load the tokenizer");
	}

	/* a free slot, or else the least recently used one */
	for (int i = 0; i < TOKENIZER_CACHE_SIZE; i++)
	{
		TokenizerCacheEntry *entry = &tokenizerCache[i];

		if (entry->tok == NULL)
		{
			slot = entry;
			break;
		}
		if (slot == NULL || entry->lastUsed < slot->lastUsed)
			slot = entry;
	}
	ReleaseCacheEntry(slot);
	slot->tok = tok;
	strlcpy(slot->dir, dir, sizeof(slot->dir));
	slot->json = json;
	slot->config = config;
	slot->lastUsed = ++cacheClock;
	strlcpy(slot->model, model, sizeof(slot->model));
	MarkChecked(slot);
	elog(DEBUG1, "pgmlops: loaded the tokenizer of model \"%s\"", model);
	return tok;
}

/*
 * Encode a text argument with a model's tokenizer; *ids is malloc'ed by the
 * engine and must be freed by the caller before it raises any error
 */
static void
EncodeText(const char *model, text *input, bool add_special,
		   int32_t **ids, int *n_ids)
{
	const Tokenizer *tok = LlmSqlGetTokenizer(model);
	const char *data = VARDATA_ANY(input);
	int			len = VARSIZE_ANY_EXHDR(input);
	const char *utf8;
	LlmError	err;

	/* the engine reads UTF-8: convert from other server encodings */
	utf8 = (const char *) pg_server_to_any(data, len, PG_UTF8);
	if (utf8 != data)
		len = strlen(utf8);

	*ids = NULL;
	*n_ids = 0;
	memset(&err, 0, sizeof(err));
	if (TokenizerEncode(tok, utf8, (size_t) len, add_special, ids, n_ids, &err) != LLM_OK)
	{
		free(*ids);
		*ids = NULL;
		LlmSqlReportError(&err, model, NULL, "tokenize the input");
	}
}

/*
 * SQL: token ids of a text
 */
PG_FUNCTION_INFO_V1(llm_tokenize);
Datum
llm_tokenize(PG_FUNCTION_ARGS)
{
	char	   *model = text_to_cstring(PG_GETARG_TEXT_PP(0));
	text	   *input = PG_GETARG_TEXT_PP(1);
	bool		add_special = PG_GETARG_BOOL(2);
	int32_t    *ids;
	int			n_ids;
	ArrayType  *result;
	Size		nbytes;

	EncodeText(model, input, add_special, &ids, &n_ids);
	if (n_ids <= 0)
	{
		free(ids);
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(INT4OID));
	}

	/* build the int4[] directly: construct_array would need a Datum per id */
	nbytes = ARR_OVERHEAD_NONULLS(1) + (Size) n_ids * sizeof(int32);
	if ((Size) n_ids > MaxArraySize || nbytes > MaxAllocSize)
	{
		free(ids);
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("input of %d tokens is too long for an array", n_ids)));
	}
	result = (ArrayType *) palloc_extended(nbytes, MCXT_ALLOC_ZERO | MCXT_ALLOC_NO_OOM);
	if (result == NULL)
	{
		free(ids);
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("Failed on request of size %zu.", nbytes)));
	}
	SET_VARSIZE(result, nbytes);
	result->ndim = 1;
	result->dataoffset = 0;
	result->elemtype = INT4OID;
	ARR_DIMS(result)[0] = n_ids;
	ARR_LBOUND(result)[0] = 1;
	memcpy(ARR_DATA_PTR(result), ids, (Size) n_ids * sizeof(int32));
	free(ids);
	PG_RETURN_ARRAYTYPE_P(result);
}

/*
 * SQL: number of tokens of a text
 */
PG_FUNCTION_INFO_V1(llm_count_tokens);
Datum
llm_count_tokens(PG_FUNCTION_ARGS)
{
	char	   *model = text_to_cstring(PG_GETARG_TEXT_PP(0));
	text	   *input = PG_GETARG_TEXT_PP(1);
	bool		add_special = PG_GETARG_BOOL(2);
	int32_t    *ids;
	int			n_ids;

	EncodeText(model, input, add_special, &ids, &n_ids);
	free(ids);
	PG_RETURN_INT32(n_ids);
}

/*
 * SQL: text of a sequence of token ids
 */
PG_FUNCTION_INFO_V1(llm_detokenize);
Datum
llm_detokenize(PG_FUNCTION_ARGS)
{
	char	   *model = text_to_cstring(PG_GETARG_TEXT_PP(0));
	ArrayType  *array = PG_GETARG_ARRAYTYPE_P(1);
	bool		skip_special = PG_GETARG_BOOL(2);
	const Tokenizer *tok;
	const int32 *ids;
	int			n_ids;
	int			vocab;
	char	   *decoded = NULL;
	size_t		len = 0;
	char	   *copy;
	char	   *server;
	uint64		bound = 0;
	LlmError	err;

	if (ARR_ELEMTYPE(array) != INT4OID)
		elog(ERROR, "detokenize expects an int4 array");
	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("token ids must be a one-dimensional array")));
	n_ids = ArrayGetNItems(ARR_NDIM(array), ARR_DIMS(array));
	if (ARR_HASNULL(array) && array_contains_nulls(array))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("token ids must not contain nulls")));
	ids = (const int32 *) ARR_DATA_PTR(array);

	tok = LlmSqlGetTokenizer(model);
	if (n_ids == 0)
		PG_RETURN_TEXT_P(cstring_to_text(""));
	vocab = TokenizerVocabSize(tok);
	for (int i = 0; i < n_ids; i++)
	{
		const char *piece;

		if ((i & 0xffff) == 0)
			CHECK_FOR_INTERRUPTS();
		if (ids[i] < 0 || ids[i] >= vocab ||
			(piece = TokenizerIdToToken(tok, ids[i])) == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("token id %d is out of range for model \"%s\"", ids[i], model),
					 errdetail("Token ids run from 0 to %d.", vocab - 1)));

		/*
		 * A token decodes to at most twice its string's bytes plus a
		 * separator (a lone byte becomes a 3-byte replacement character);
		 * refuse before the engine builds text PostgreSQL could not hold
		 */
		bound += 2 * (uint64) strlen(piece) + 1;
		if (bound > MaxAllocSize)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("the text of %d token ids could exceed the maximum text size", n_ids)));
	}

	memset(&err, 0, sizeof(err));
	if (TokenizerDecode(tok, ids, n_ids, skip_special, &decoded, &len, &err) != LLM_OK)
	{
		free(decoded);
		LlmSqlReportError(&err, model, NULL, "decode the token ids");
	}
	if (len > MaxAllocSize - VARHDRSZ - 1)
	{
		free(decoded);
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("decoded text of %zu bytes is too long", len)));
	}
	copy = palloc_extended(len + 1, MCXT_ALLOC_NO_OOM);
	if (copy == NULL)
	{
		free(decoded);
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("Failed on request of size %zu.", len + 1)));
	}
	if (len > 0)
		memcpy(copy, decoded, len);
	copy[len] = '\0';
	free(decoded);

	/* the engine writes valid UTF-8, but a text value cannot hold NUL */
	if (memchr(copy, '\0', len) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNTRANSLATABLE_CHARACTER),
				 errmsg("decoded text contains a NUL byte"),
				 errdetail("A text value cannot hold the byte 0x00 that these token ids decode to.")));
	(void) pg_verify_mbstr(PG_UTF8, copy, (int) len, false);
	server = (char *) pg_any_to_server(copy, (int) len, PG_UTF8);
	if (server != copy)
		len = strlen(server);
	PG_RETURN_TEXT_P(cstring_to_text_with_len(server, (int) len));
}
