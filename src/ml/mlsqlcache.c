/*-------------------------------------------------------------------------
 *
 * mlsqlcache.c
 *	  The per-backend cache of loaded model versions and resolved aliases,
 *	  and its invalidation across sessions.
 *
 * Versions are immutable, so a loaded version never goes stale; what moves
 * is the alias a reference names.  A statement trigger on mlops.model_aliases
 * and mlops.model_versions (mlops.registry_changed) queues a relcache
 * invalidation of the changed table, sent to every backend at commit.  Our
 * relcache callback marks the cache stale; MlSqlCacheSync, at the first
 * call of each statement, takes the waiting invalidations and drops the
 * resolved references and loaded versions of a stale cache, and callers
 * that kept a pointer (fn_extra) compare the generation before using it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "compat.h"
#include "ml/mlsql.h"
#include "stmtkey.h"

#define REF_MAX (2 * NAMEDATALEN + 16)

typedef struct LoadedKey
{
	char		model[NAMEDATALEN];
	int			version;
} LoadedKey;

typedef struct LoadedEntry
{
	LoadedKey	key;
	MlLoaded   *m;
} LoadedEntry;

typedef struct ResolvedEntry
{
	char		ref[REF_MAX];
	MlLoaded   *m;
} ResolvedEntry;

static MemoryContext cache_cxt = NULL;
static HTAB *loaded = NULL;
static HTAB *resolved = NULL;
static uint64 generation = 1;	/* bumped by invalidations, transaction ends */
static uint64 stmt_generation = 0;	/* generation when the statement began */
static bool flush_pending = false;
static Oid	registry_rels[2] = {InvalidOid, InvalidOid};

static void LookupRegistryRels(void);
static void Flush(void);

/*
 * relcache callback: a registry table changed (or everything did, or the
 * tables are not known yet: looking them up may bring invalidations in)
 */
static void
RegistryInvalidate(Datum arg, Oid relid)
{
	if (relid == InvalidOid || !OidIsValid(registry_rels[0]) ||
		relid == registry_rels[0] || relid == registry_rels[1])
	{
		generation++;
		flush_pending = true;
	}
}

/*
 * End of a transaction: forget resolved references (they were resolved
 * under its snapshots), keep loaded versions (immutable)
 */
static void
RegistryXactCallback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT)
	{
		generation++;
		if (resolved != NULL)
		{
			hash_destroy(resolved);
			resolved = NULL;
		}
	}
}

/* called from _PG_init */
void
MlSqlCacheInit(void)
{
	CacheRegisterRelcacheCallback(RegistryInvalidate, (Datum) 0);
	RegisterXactCallback(RegistryXactCallback, NULL);
}

/*
 * The generation as of the current statement's first MlSqlCacheSync: a
 * pointer from MlSqlLoad is valid while it holds
 */
uint64
MlSqlCacheGeneration(void)
{
	return stmt_generation;
}

/*
 * See mlsql.h.  A relcache invalidation from another session's commit is
 * otherwise taken only when this backend next locks a relation or starts
 * a transaction, so a read-committed transaction that kept predicting
 * from the cache would hold on to the old version until it ends; a query
 * of mlops.model_aliases would see the move at its next statement, and so
 * does the cache now.
 *
 * The cache changes only here, at the first call of a statement (see
 * stmtkey.h): an invalidation that arrives during a read-only statement
 * (the locks of a resolution bring them in) waits for the next one, so
 * that such a statement never mixes versions; a statement that can begin
 * between another session's commit and the delivery of its invalidation
 * predicts with the old version throughout, and the next one with the
 * new.  A function that deploys and then predicts sees its deploy (the
 * command id moves with every write), and stops seeing it when a
 * subtransaction that made it rolls back.
 */
void
MlSqlCacheSync(void)
{
	static StatementKey last;
	StatementKey now = StatementKeyNow();

	LookupRegistryRels();
	if (StatementKeyEqual(&now, &last))
		return;
	last = now;
	AcceptInvalidationMessages();
	if (flush_pending)
	{
		Flush();
		/* invalidations that match nothing known are taken as ours */
		LookupRegistryRels();
	}
	stmt_generation = generation;
}

/* free one loaded version */
static void
FreeLoaded(MlLoaded *m)
{
	MlModelFree(&m->model_obj);
	MlPrepFree(&m->prep);
}

/* drop everything (the memory context holds all but the core's mallocs) */
static void
Flush(void)
{
	if (loaded)
	{
		HASH_SEQ_STATUS seq;
		LoadedEntry *e;

		hash_seq_init(&seq, loaded);
		while ((e = hash_seq_search(&seq)) != NULL)
			FreeLoaded(e->m);
	}
	if (cache_cxt)
		MemoryContextReset(cache_cxt);
	loaded = NULL;
	resolved = NULL;
	flush_pending = false;
	/* the extension may have been dropped and created again */
	registry_rels[0] = registry_rels[1] = InvalidOid;
}

/* create the hash tables */
static void
CreateTables(void)
{
	HASHCTL		ctl;

	if (cache_cxt == NULL)
		cache_cxt = AllocSetContextCreate(TopMemoryContext, "pgmlops model cache",
										  ALLOCSET_DEFAULT_SIZES);
	if (loaded == NULL)
	{
		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(LoadedKey);
		ctl.entrysize = sizeof(LoadedEntry);
		ctl.hcxt = cache_cxt;
		loaded = hash_create("pgmlops loaded versions", 16, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	if (resolved == NULL)
	{
		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = REF_MAX;
		ctl.entrysize = sizeof(ResolvedEntry);
		ctl.hcxt = cache_cxt;
		resolved = hash_create("pgmlops resolved references", 16, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	}
}

/* a copy of a (detoasted) varlena in cxt */
void *
MlSqlCopyVarlena(MemoryContext cxt, void *ptr)
{
	struct varlena *v = pg_detoast_datum_packed((struct varlena *) ptr);
	Size		len = VARSIZE_ANY(v);
	void	   *copy = MemoryContextAlloc(cxt, len);

	memcpy(copy, v, len);
	return copy;
}

/* numeric SQL types whose labels predict() returns as numbers */
static bool
NumericTypeName(const char *t)
{
	return strcmp(t, "smallint") == 0 || strcmp(t, "integer") == 0 ||
		strcmp(t, "bigint") == 0 || strcmp(t, "real") == 0 ||
		strcmp(t, "double precision") == 0 || strcmp(t, "numeric") == 0 ||
		strcmp(t, "boolean") == 0;
}

/* read the class labels (a JSON array of strings) into m, allocated in cxt */
static void
ParseLabels(MlLoaded *m, const char *json, const char *target_type, MemoryContext cxt)
{
	Jsonb	   *jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(json)));
	int			n = JB_ROOT_IS_ARRAY(jb) ? JB_ROOT_COUNT(jb) : 0;

	m->n_classes = n;
	m->labels = MemoryContextAllocZero(cxt, sizeof(char *) * Max(n, 1));
	m->label_values = MemoryContextAllocZero(cxt, sizeof(double) * Max(n, 1));
	m->labels_numeric = target_type && NumericTypeName(target_type);
	for (int i = 0; i < n; i++)
	{
		JsonbValue *v = getIthJsonbValueFromContainer(&jb->root, i);

		if (v == NULL || v->type != jbvString)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("model version has malformed class labels")));
		m->labels[i] = MemoryContextStrdup(cxt, pnstrdup(v->val.string.val, v->val.string.len));
		if (m->labels_numeric)
		{
			if (strcmp(m->labels[i], "true") == 0)
				m->label_values[i] = 1;
			else if (strcmp(m->labels[i], "false") == 0)
				m->label_values[i] = 0;
			else
				m->label_values[i] = float8in_internal(m->labels[i], NULL, "double precision",
													   m->labels[i]);
		}
	}
}

/* load version (model, version) from the registry into cxt */
static MlLoaded *
LoadVersion(const char *model, int version, MemoryContext cxt)
{
	Oid			types[2] = {TEXTOID, INT4OID};
	Datum		args[2] = {CStringGetTextDatum(model), Int32GetDatum(version)};
	MlLoaded   *m;
	bool		isnull;
	char	   *task,
			   *prep,
			   *classes,
			   *target_type;
	bytea	   *artifact;
	LlmError	err;
	HeapTuple	tup;
	TupleDesc	desc;

	if (SPI_execute_with_args("SELECT m.task, v.preprocessing::text, v.classes::text, v.target_type, v.artifact,"
							  " v.online_features"
							  " FROM mlops.model_versions v JOIN mlops.models m ON m.name = v.model"
							  " WHERE v.model = $1 AND v.version = $2",
							  2, types, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the model version");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" has no version %d", model, version)));
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	task = SPI_getvalue(tup, desc, 1);
	prep = SPI_getvalue(tup, desc, 2);
	classes = SPI_getvalue(tup, desc, 3);
	target_type = SPI_getvalue(tup, desc, 4);
	artifact = DatumGetByteaPP(SPI_getbinval(tup, desc, 5, &isnull));

	if (MlTaskFromName(task) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("model \"%s\" is a %s model; mlops.predict serves trained models", model, task),
				 errhint("Use mlops.generate, mlops.chat or mlops.embed.")));
	m = MemoryContextAllocZero(cxt, sizeof(MlLoaded));
	strlcpy(m->model, model, sizeof(m->model));
	m->version = version;
	m->task = (MlTask) MlTaskFromName(task);
	/* the parts that raise errors without holding malloc'ed memory first */
	if (classes)
		ParseLabels(m, classes, target_type, cxt);
	if (MlModelLoad(&m->model_obj, (const uint8_t *) VARDATA_ANY(artifact),
					VARSIZE_ANY_EXHDR(artifact), &err) != LLM_OK)
		MlSqlReport(&err, psprintf("model \"%s\" version %d", model, version));
	if (MlPrepFromJson(&m->prep, prep, &err) != LLM_OK)
	{
		MlModelFree(&m->model_obj);
		MlSqlReport(&err, psprintf("model \"%s\" version %d", model, version));
	}
	/* a registry row inconsistent with its artifact is refused, not trusted */
	if ((int) m->model_obj.task != (int) m->task ||
		m->prep.n_features != m->model_obj.n_features ||
		(m->task == ML_TASK_CLASSIFICATION && m->n_classes != m->model_obj.n_classes))
	{
		FreeLoaded(m);
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("version %d of model \"%s\" does not match its artifact", version, model)));
	}
	{
		Datum		refs = SPI_getbinval(tup, desc, 6, &isnull);

		m->online_features = isnull ? (Datum) 0 :
			PointerGetDatum(MlSqlCopyVarlena(cxt, DatumGetPointer(refs)));
	}
	for (int c = 0; c < m->prep.ncols; c++)
		m->n_inputs += m->prep.cols[c].width;
	return m;
}

/* the OIDs of the registry tables whose changes invalidate the cache */
static void
LookupRegistryRels(void)
{
	if (!OidIsValid(registry_rels[0]))
	{
		Oid			nsp = get_namespace_oid("mlops", false);

		registry_rels[0] = get_relname_relid("model_aliases", nsp);
		registry_rels[1] = get_relname_relid("model_versions", nsp);
	}
}

/* the model and version a reference names (connected to SPI) */
static void
Resolve(const char *ref, char **model, char **version)
{
	Oid			types[1] = {TEXTOID};
	Datum		args[1];

	args[0] = CStringGetTextDatum(ref);
	if (SPI_execute_with_args("SELECT model, version FROM mlops.resolve_model($1)",
							  1, types, args, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not resolve model reference");
	*model = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	*version = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
}

/* reset callback of a private copy */
static void
FreePrivate(void *arg)
{
	FreeLoaded((MlLoaded *) arg);
}

/*
 * A private copy of the version a reference names, in CurrentMemoryContext
 * and freed with it: for callers that run queries (which may flush the
 * cache) while they use the model
 */
MlLoaded *
MlSqlLoadPrivate(const char *ref)
{
	MemoryContext cxt = CurrentMemoryContext;
	MemoryContextCallback *cb;
	char	   *model,
			   *version;
	MlLoaded   *m;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	Resolve(ref, &model, &version);
	m = LoadVersion(model, atoi(version), cxt);
	SPI_finish();
	cb = MemoryContextAlloc(cxt, sizeof(MemoryContextCallback));
	cb->func = FreePrivate;
	cb->arg = m;
	MemoryContextRegisterResetCallback(cxt, cb);
	return m;
}

/*
 * The loaded version a reference names
 */
MlLoaded *
MlSqlLoad(const char *ref)
{
	ResolvedEntry *r;
	LoadedEntry *l;
	LoadedKey	key;
	bool		found;
	char	   *model,
			   *version;
	MlLoaded   *m;

	if (strlen(ref) >= REF_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("model reference is too long")));
	MlSqlCacheSync();
	if (loaded == NULL || resolved == NULL)
		CreateTables();
	r = hash_search(resolved, ref, HASH_FIND, NULL);
	if (r != NULL)
		return r->m;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* an invalidation its locks bring in is for the next statement */
	Resolve(ref, &model, &version);
	memset(&key, 0, sizeof(key));
	strlcpy(key.model, model, sizeof(key.model));
	key.version = atoi(version);
	l = hash_search(loaded, &key, HASH_FIND, NULL);
	if (l != NULL)
		m = l->m;
	else
	{
		m = LoadVersion(key.model, key.version, cache_cxt);
		l = hash_search(loaded, &key, HASH_ENTER, &found);
		l->m = m;
	}
	SPI_finish();
	r = hash_search(resolved, ref, HASH_ENTER, &found);
	r->m = m;
	return m;
}

/*
 * What predict returns for a model's output: the value, the numeric class
 * label, or the cluster
 */
double
MlSqlPredictionValue(const MlLoaded *m, double pred)
{
	if (m->task != ML_TASK_CLASSIFICATION)
		return pred;
	if (!m->labels_numeric)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("model \"%s\" predicts text labels", m->model),
				 errhint("Use mlops.predict_label() for the label, or mlops.predict_proba() for the probabilities.")));
	return m->label_values[(int) pred];
}

PG_FUNCTION_INFO_V1(ml_registry_changed);

/*
 * Trigger on the registry tables: queue a relcache invalidation of the
 * table, delivered to every backend at commit
 */
Datum
ml_registry_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("mlops.registry_changed() must be called as a trigger")));
	CacheInvalidateRelcache(trigdata->tg_relation);
	return PointerGetDatum(NULL);
}

PG_FUNCTION_INFO_V1(ml_key_metric);

/*
 * mlops._key_metric(task): the metric that compares versions; NULL for
 * served models (text-generation, embedding), which have no metrics
 */
Datum
ml_key_metric(PG_FUNCTION_ARGS)
{
	char	   *task = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int			t = MlTaskFromName(task);

	if (strcmp(task, "text-generation") == 0 || strcmp(task, "embedding") == 0)
		PG_RETURN_NULL();
	if (t < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown task \"%s\"", task)));
	PG_RETURN_TEXT_P(cstring_to_text(MlKeyMetric((MlTask) t, NULL)));
}
