/*-------------------------------------------------------------------------
 *
 * llmserve.c
 *	  Registered generation and embedding models: what registration
 *	  checks (mlops._llm_inspect), resolving a reference to a location,
 *	  explicit loading and unloading, and mlops.worker_status.
 *
 * Models are rows of the model registry (sql/install/74_serve.sql):
 * mlops.models with task 'text-generation' or 'embedding', and one
 * mlops.model_versions row per registration, whose source is the model's
 * location and hyperparams its options.  Local options: "dtype" ("f32" or
 * "bf16": the precision of the matrix products on a GPU) and
 * "kv_cache_mb".
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>

#include "catalog/pg_type.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "llm/llmremote.h"
#include "llm/llmserve.h"
#include "llm/llmsql.h"
#include "ml/mlsql.h"

/* a text field of an SPI result row, or NULL, copied into mcxt */
static char *
SpiText(int col, MemoryContext mcxt)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col, &isnull);

	if (isnull)
		return NULL;
	return MemoryContextStrdup(mcxt, TextDatumGetCString(d));
}

/* look a reference up in the registry, into mcxt */
static void
LookUp(const char *ref, ServeModel *m, MemoryContext mcxt)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	char	   *task;
	bool		isnull;
	Datum		d;

	args[0] = CStringGetTextDatum(ref);
	SPI_connect();
	PG_TRY();
	{
		if (SPI_execute_with_args("SELECT r.model, r.version, m.task, v.source, v.hyperparams, v.algorithm, v.device"
								  " FROM mlops.resolve_model($1) r"
								  " JOIN mlops.models m ON m.name OPERATOR(pg_catalog.=) r.model"
								  " JOIN mlops.model_versions v ON v.model OPERATOR(pg_catalog.=) r.model"
								  " AND v.version OPERATOR(pg_catalog.=) r.version",
								  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT ||
			SPI_processed != 1)
			elog(ERROR, "could not resolve model \"%s\"", ref);
	}
	PG_CATCH();
	{
		/* resolve_model's error, without the internal query as context */
		ErrorData  *ed;

		MemoryContextSwitchTo(mcxt);
		ed = CopyErrorData();
		FlushErrorState();
		ereport(ERROR,
				(errcode(ed->sqlerrcode),
				 errmsg("%s", ed->message),
				 ed->hint ? errhint("%s", ed->hint) : 0));
	}
	PG_END_TRY();
	memset(m, 0, sizeof(*m));
	m->name = SpiText(1, mcxt);
	m->version = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	task = SpiText(3, mcxt);
	m->location = SpiText(4, mcxt);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5, &isnull);
	{
		MemoryContext old = MemoryContextSwitchTo(mcxt);

		m->options = DatumGetJsonbPCopy(d);
		MemoryContextSwitchTo(old);
	}
	m->remote = strcmp(SpiText(7, mcxt), "remote") == 0;
	m->provider = m->remote ? SpiText(6, mcxt) : MemoryContextStrdup(mcxt, "local");
	SPI_finish();

	if (strcmp(task, "text-generation") != 0 && strcmp(task, "embedding") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("model \"%s\" is a %s model, not a text-generation or embedding model",
						m->name, task),
				 errhint("Use mlops.predict for trained models.")));
	m->embedding = strcmp(task, "embedding") == 0;
}

/*
 * Resolved references of this backend, valid while the registry cache's
 * generation holds (it moves at every transaction end and when a registry
 * change is delivered): a statement that embeds many rows looks its model
 * up once
 */
#define SERVE_CACHE_SIZE 8

typedef struct ServeCacheEntry
{
	char	   *ref;
	ServeModel	m;
} ServeCacheEntry;

static MemoryContext serve_cache_cxt = NULL;
static ServeCacheEntry serve_cache[SERVE_CACHE_SIZE];
static int	serve_cache_n = 0;
static uint64 serve_cache_generation = 0;

/* resolve a reference; see llmserve.h */
void
ServeResolve(const char *ref, ServeModel *m)
{
	MemoryContext mcxt = CurrentMemoryContext;
	ServeCacheEntry *e = NULL;

	/*
	 * Another session's deploy is seen at the next statement; the
	 * generation does not change within one
	 */
	MlSqlCacheSync();
	if (serve_cache_cxt == NULL)
		serve_cache_cxt = AllocSetContextCreate(TopMemoryContext, "pgmlops served models",
												ALLOCSET_SMALL_SIZES);
	if (serve_cache_generation != MlSqlCacheGeneration())
	{
		MemoryContextReset(serve_cache_cxt);
		serve_cache_n = 0;
		serve_cache_generation = MlSqlCacheGeneration();
	}
	for (int i = 0; i < serve_cache_n && e == NULL; i++)
		if (strcmp(serve_cache[i].ref, ref) == 0)
			e = &serve_cache[i];
	if (e == NULL)
	{
		ServeModel	found;

		/* errors leave the cache as it was */
		LookUp(ref, &found, mcxt);
		if (serve_cache_n == SERVE_CACHE_SIZE)
		{
			*m = found;			/* no room: no caching */
			return;
		}
		e = &serve_cache[serve_cache_n++];
		e->ref = MemoryContextStrdup(serve_cache_cxt, ref);
		e->m = found;
		e->m.name = MemoryContextStrdup(serve_cache_cxt, found.name);
		e->m.location = MemoryContextStrdup(serve_cache_cxt, found.location);
		e->m.provider = MemoryContextStrdup(serve_cache_cxt, found.provider);
		e->m.options = MemoryContextAlloc(serve_cache_cxt, VARSIZE(found.options));
		memcpy(e->m.options, found.options, VARSIZE(found.options));
		*m = found;
		return;
	}
	/* a copy: the cache may be reset while the caller still uses it */
	*m = e->m;
	m->name = MemoryContextStrdup(mcxt, e->m.name);
	m->location = MemoryContextStrdup(mcxt, e->m.location);
	m->provider = MemoryContextStrdup(mcxt, e->m.provider);
	m->options = MemoryContextAlloc(mcxt, VARSIZE(e->m.options));
	memcpy(m->options, e->m.options, VARSIZE(e->m.options));
}

/* check local options: only "dtype" and "kv_cache_mb" */
static void
CheckLocalOptions(Jsonb *options, ComputePrecision *precision, int64 *kv_bytes)
{
	LlmOptionIter o;
	char	   *key;
	JsonbValue	val;

	*precision = COMPUTE_PRECISION_F32;
	*kv_bytes = 0;
	LlmOptionsBegin(&o, options, "options");
	while (LlmOptionsNext(&o, &key, &val))
	{
		if (strcmp(key, "dtype") == 0)
		{
			char	   *s = LlmOptionString(&val, key, "\"f32\" or \"bf16\"");

			if (strcmp(s, "f32") == 0)
				*precision = COMPUTE_PRECISION_F32;
			else if (strcmp(s, "bf16") == 0)
				*precision = COMPUTE_PRECISION_BF16;
			else
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"dtype\" must be \"f32\" or \"bf16\"")));
		}
		else if (strcmp(key, "kv_cache_mb") == 0)
			*kv_bytes = LlmOptionInt(&val, key, 1, 1024 * 1024) * 1024 * 1024;
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown option \"%s\" for a local model", key),
					 errhint("Local models take \"dtype\" and \"kv_cache_mb\".")));
	}
}

/* the model part of a local request; see llmserve.h */
void
ServeFillRequest(const ServeModel *m, LlmSvcRequest *req)
{
	char	   *dir = LlmSqlResolveModel(m->location);

	if (strlen(dir) >= sizeof(req->path))
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("the directory of model \"%s\" has too long a path", m->name)));
	strlcpy(req->path, dir, sizeof(req->path));
	strlcpy(req->name, m->name, sizeof(req->name));
	req->version = m->version;
	CheckLocalOptions(m->options, &req->precision, &req->kv_bytes);
}

/* sha256 of a file, hex, appended to buf; false if unreadable */
static bool
HashFile(const char *path, pg_cryptohash_ctx *ctx)
{
	FILE	   *f = AllocateFile(path, "rb");
	char		buf[65536];
	size_t		n;

	if (f == NULL)
		return false;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
	{
		CHECK_FOR_INTERRUPTS();
		pg_cryptohash_update(ctx, (uint8 *) buf, n);
	}
	FreeFile(f);
	return true;
}

/*
 * SQL: check a model for registration and describe it:
 * {"algorithm", "device", "checksum"}.  A local model's
 * config, weights and tokenizer must load, and its architecture must fit
 * the task; the checksum is the sha256 of config.json, tokenizer.json and
 * the weights' file (or shard index).
 */
PG_FUNCTION_INFO_V1(llm_inspect);
Datum
llm_inspect(PG_FUNCTION_ARGS)
{
	char	   *path = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *task = text_to_cstring(PG_GETARG_TEXT_PP(1));
	Jsonb	   *options = PG_GETARG_JSONB_P(2);
	bool		embedding = strcmp(task, "embedding") == 0;
	StringInfoData out;

	if (!embedding && strcmp(task, "text-generation") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("task must be \"text-generation\" or \"embedding\", not \"%s\"", task)));
	initStringInfo(&out);
	if (LlmRemoteIsLocation(path))
	{
		const char *provider = LlmRemoteValidate(path, options);

		appendStringInfoString(&out, "{\"algorithm\": ");
		escape_json(&out, provider);
		appendStringInfoString(&out, ", \"device\": \"remote\", \"checksum\": \"\"}");
	}
	else
	{
		char	   *dir = LlmSqlResolveModel(path);
		LlmConfig	cfg;
		LlmModel   *model = NULL;
		LlmError	err = {0};
		ComputePrecision precision;
		int64		kv_bytes;
		pg_cryptohash_ctx *ctx;
		uint8		digest[PG_SHA256_DIGEST_LENGTH];
		char		hex[2 * PG_SHA256_DIGEST_LENGTH + 1];
		static const char *const files[] = {"config.json", "tokenizer.json",
		"model.safetensors.index.json", "model.safetensors"};
		bool		have_weights = false;

		CheckLocalOptions(options, &precision, &kv_bytes);
		if (LlmConfigLoad(dir, &cfg, &err) != LLM_OK)
			LlmSqlReportError(&err, path, dir, "register a model");
		if (embedding != (cfg.arch == LLM_ARCH_BERT))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("model \"%s\" is a %s model, which does not fit task \"%s\"",
							path, cfg.model_type, task),
					 errhint(embedding ? "Embedding models are BERT-family sentence encoders." :
							 "Text generation needs a llama, mistral or qwen2 model.")));
		/* the weights must bind, and the tokenizer must load */
		if (LlmModelLoad(dir, &model, &err) != LLM_OK)
			LlmSqlReportError(&err, path, dir, "register a model");
		LlmModelFree(model);
		(void) LlmSqlGetTokenizer(path);

		ctx = pg_cryptohash_create(PG_SHA256);
		if (pg_cryptohash_init(ctx) < 0)
			elog(ERROR, "could not initialize a sha256 context");
		for (int i = 0; i < lengthof(files); i++)
		{
			char		fp[MAXPGPATH];

			if (i == 3 && have_weights)
				break;
			snprintf(fp, sizeof(fp), "%s/%s", dir, files[i]);
			if (HashFile(fp, ctx) && i >= 2)
				have_weights = true;
		}
		if (pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
			elog(ERROR, "could not finish a sha256 digest");
		pg_cryptohash_free(ctx);
		hex_encode((char *) digest, sizeof(digest), hex);
		hex[sizeof(hex) - 1] = '\0';
		appendStringInfoString(&out, "{\"algorithm\": ");
		escape_json(&out, cfg.model_type);
		appendStringInfo(&out, ", \"device\": \"local\", \"checksum\": \"%s\"}", hex);
	}
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(out.data)));
}

/* run a LOAD or UNLOAD request and wait for its answer */
static bool
LoadOrUnload(const char *ref, LlmSvcKind kind)
{
	ServeModel	m;
	LlmSvcCall	call;
	LlmSvcMsg	msg;
	const char *data;
	Size		len;

	ServeResolve(ref, &m);
	if (m.remote)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("model \"%s\" is served by a remote provider; it is not loaded here", m.name)));
	LlmSvcPrepare(&call, kind, 0, 0, 8192);
	ServeFillRequest(&m, call.req);
	LlmSvcSubmit(&call);
	msg = LlmSvcReceive(&call, &data, &len);
	LlmSvcEnd(&call);
	return msg.tag == LLMSVC_MSG_OK && msg.a == 1;
}

/*
 * SQL: load a model into its worker now; true when done (it may have
 * been loaded already)
 */
PG_FUNCTION_INFO_V1(llm_load_model);
Datum
llm_load_model(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(LoadOrUnload(text_to_cstring(PG_GETARG_TEXT_PP(0)), LLMSVC_LOAD));
}

/* SQL: unload a model; false when it was not loaded */
PG_FUNCTION_INFO_V1(llm_unload_model);
Datum
llm_unload_model(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(LoadOrUnload(text_to_cstring(PG_GETARG_TEXT_PP(0)), LLMSVC_UNLOAD));
}

/* tokens per second over the last minute of one worker (mutex held) */
static double
TokensPerSecond(const LlmSvcWorker *w, int64 now_sec)
{
	int64		sum = 0;

	for (int b = 0; b < LLMSVC_RATE_SECONDS; b++)
		if (w->rate_second[b] > now_sec - LLMSVC_RATE_SECONDS && w->rate_second[b] < now_sec)
			sum += w->rate_tokens[b];
	return (double) sum / (LLMSVC_RATE_SECONDS - 1);
}

/*
 * SQL: one row per loaded model of each worker (one with NULL model for
 * a worker without models): the columns of mlops.worker_status
 */
PG_FUNCTION_INFO_V1(llm_worker_status);
Datum
llm_worker_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int64		now_sec = (int64) (GetCurrentTimestamp() / USECS_PER_SEC);

	InitMaterializedSRF(fcinfo, 0);
	if (LlmSvc == NULL)
		PG_RETURN_VOID();
	for (int w = 0; w < LlmSvc->n_workers; w++)
	{
		LlmSvcWorker copy;
		double		rate;
		int64		used = 0;

		SpinLockAcquire(&LlmSvc->mutex);
		memcpy(&copy, &LlmSvc->workers[w], sizeof(copy));
		rate = TokensPerSecond(&LlmSvc->workers[w], now_sec);
		SpinLockRelease(&LlmSvc->mutex);
		for (int i = 0; i < copy.n_models; i++)
			used += copy.models[i].weight_bytes + copy.models[i].kv_bytes;
		for (int i = 0; i < Max(copy.n_models, 1); i++)
		{
			Datum		values[18];
			bool		nulls[18];
			LlmSvcModelStatus *s = i < copy.n_models ? &copy.models[i] : NULL;

			memset(nulls, 0, sizeof(nulls));
			values[0] = Int32GetDatum(w);
			values[1] = Int32GetDatum(copy.pid);
			nulls[1] = copy.pid == 0;
			values[2] = CStringGetTextDatum(copy.device);
			nulls[2] = copy.device[0] == '\0';
			values[3] = Int64GetDatum(used);
			values[4] = Int64GetDatum(copy.memory_limit - used);
			nulls[4] = copy.memory_limit == 0;
			values[5] = Int32GetDatum(copy.queued);
			values[6] = Int32GetDatum(copy.in_flight);
			values[7] = Float8GetDatum(rate);
			if (s != NULL)
			{
				values[8] = CStringGetTextDatum(s->name);
				values[9] = Int32GetDatum(s->version);
				values[10] = CStringGetTextDatum(s->encoder ? "embedding" : "text-generation");
				values[11] = Int64GetDatum(s->weight_bytes);
				values[12] = Int64GetDatum(s->kv_bytes);
				values[13] = Int32GetDatum(s->kv_blocks_used);
				values[14] = Int32GetDatum(s->kv_blocks_total);
				values[15] = Int32GetDatum(s->running);
				values[16] = TimestampTzGetDatum(s->last_used);
				values[17] = Int64GetDatum(s->preemptions);
				nulls[17] = s->encoder;
			}
			else
				for (int k = 8; k < 18; k++)
					nulls[k] = true;
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	PG_RETURN_VOID();
}
