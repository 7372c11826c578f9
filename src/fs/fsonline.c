/*-------------------------------------------------------------------------
 *
 * fsonline.c
 *	  Reading the online store: mlops.get_online_features.
 *
 * A request names features (view:feature, view@N:feature, view:* or a
 * feature service) and entity key objects.  Each backend caches what the
 * catalog says about them: a reference resolves to the features of one
 * feature view version, and each view version holds a prepared, kept SPI
 * plan that reads its online table by primary key (feature_ts and every
 * feature as jsonb).  Serving a key is then one index probe per view, run
 * with the caller's privileges, and the features of every view are merged
 * into one JSON object in the requested order.  A row stamped after the
 * transaction's start (now()) reads as absent, as does one older than the
 * view's ttl; a ttl reaching past the oldest timestamp means no cutoff.
 * The SQL built here names pg_catalog's functions and operators and each
 * key type's own equality operator, so it does not depend on the caller's
 * search_path.
 *
 * A feature view version never changes, but view:feature follows the
 * latest version and a service name its latest version.  Statement
 * triggers on mlops.feature_views and mlops.feature_services queue a
 * relcache invalidation at commit (mlops.registry_changed); our relcache
 * callback then marks the cache stale, and the next call drops it.  Plans
 * survive changes to the online table itself through the plan cache.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "compat.h"

#define ONLINE_REF_MAX (2 * NAMEDATALEN + 16)

typedef struct OnlineViewKey
{
	char		name[NAMEDATALEN];
	int			version;
} OnlineViewKey;

/* one online feature view version; lives in its own context */
typedef struct OnlineView
{
	OnlineViewKey key;
	MemoryContext cxt;
	int			nkeys;
	char	  **keys;			/* join key names */
	FmgrInfo   *key_in;			/* input functions of their types */
	Oid		   *key_ioparam;
	int			nfeatures;
	char	  **features;		/* feature names in definition order */
	bool		has_ttl;
	Interval	ttl;
	SPIPlanPtr	plan;			/* (feature_ts, to_jsonb(f1), ...) by key */
} OnlineView;

typedef struct OnlineViewEntry
{
	OnlineViewKey key;
	OnlineView *view;
} OnlineViewEntry;

/* what one reference names: some features of one view version */
typedef struct OnlineRefEntry
{
	char		ref[ONLINE_REF_MAX];
	OnlineView *view;
	int			ncolumns;
	int		   *columns;		/* indexes into view->features */
} OnlineRefEntry;

/* a service name (or name@N) and its pinned references */
typedef struct OnlineServiceEntry
{
	char		service[ONLINE_REF_MAX];
	int			nrefs;
	char	  **refs;
} OnlineServiceEntry;

/* one output feature of a request */
typedef struct RequestItem
{
	int			view;			/* index into the request's views */
	int			column;
	const char *name;
} RequestItem;

/*
 * Backend cache.  Reset point: Flush(), at the first call after an
 * invalidation of the feature catalogs.
 */
static MemoryContext cache_cxt = NULL;
static HTAB *view_cache = NULL;
static HTAB *ref_cache = NULL;
static HTAB *service_cache = NULL;
static bool flush_pending = false;
static bool callback_registered = false;
static Oid	catalog_rels[2] = {InvalidOid, InvalidOid};

/* relcache callback: a feature catalog changed (or everything did) */
static void
CatalogInvalidate(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == catalog_rels[0] || relid == catalog_rels[1])
		flush_pending = true;
}

/* drop every cached view, reference and service */
static void
Flush(void)
{
	if (view_cache)
	{
		HASH_SEQ_STATUS seq;
		OnlineViewEntry *e;

		hash_seq_init(&seq, view_cache);
		while ((e = hash_seq_search(&seq)) != NULL)
			SPI_freeplan(e->view->plan);
	}
	if (cache_cxt)
		MemoryContextReset(cache_cxt);
	view_cache = ref_cache = service_cache = NULL;
	flush_pending = false;
	/* the extension may have been dropped and created again */
	catalog_rels[0] = catalog_rels[1] = InvalidOid;
}

/*
 * Make the cache usable: drop it when stale, create the tables.  The
 * callback is registered at first use rather than in _PG_init so that the
 * online store needs no preloading.
 */
static void
CacheBegin(void)
{
	HASHCTL		ctl;

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(CatalogInvalidate, (Datum) 0);
		callback_registered = true;
	}
	if (flush_pending)
		Flush();
	if (!OidIsValid(catalog_rels[0]))
	{
		Oid			nsp = get_namespace_oid("mlops", false);

		catalog_rels[0] = get_relname_relid("feature_views", nsp);
		catalog_rels[1] = get_relname_relid("feature_services", nsp);
	}
	if (view_cache != NULL)
		return;
	if (cache_cxt == NULL)
		cache_cxt = AllocSetContextCreate(CacheMemoryContext, "pgmlops online features",
										  ALLOCSET_SMALL_SIZES);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(OnlineViewKey);
	ctl.entrysize = sizeof(OnlineViewEntry);
	ctl.hcxt = cache_cxt;
	view_cache = hash_create("pgmlops online views", 16, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = ONLINE_REF_MAX;
	ctl.entrysize = sizeof(OnlineRefEntry);
	ctl.hcxt = cache_cxt;
	ref_cache = hash_create("pgmlops online references", 64, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = ONLINE_REF_MAX;
	ctl.entrysize = sizeof(OnlineServiceEntry);
	ctl.hcxt = cache_cxt;
	service_cache = hash_create("pgmlops online services", 16, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
}

/* a text[] datum as C strings in CurrentMemoryContext */
static char **
TextArrayStrings(Datum arr, int *n)
{
	Datum	   *elems;
	bool	   *nulls;
	char	  **out;

	deconstruct_array(DatumGetArrayTypeP(arr), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, n);
	out = palloc_array(char *, Max(*n, 1));
	for (int i = 0; i < *n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("feature references must not be NULL")));
		out[i] = TextDatumGetCString(elems[i]);
	}
	return out;
}

/* load a view version from the catalog and prepare its read (connected to SPI) */
static OnlineView *
LoadView(const OnlineViewKey *key)
{
	Oid			types[2] = {TEXTOID, INT4OID};
	Datum		args[2] = {CStringGetTextDatum(key->name), Int32GetDatum(key->version)};
	MemoryContext cxt,
				old;
	OnlineView *v;
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	Oid			relid;
	char	   *table;
	Oid		   *argtypes;
	StringInfoData sql;

	if (SPI_execute_with_args("SELECT e.join_keys, ARRAY(SELECT f OPERATOR(pg_catalog.->>) 'name'"
							  " FROM pg_catalog.jsonb_array_elements(fv.features) f),"
							  " fv.ttl, fv.online, mlops.online_table_name(fv.name, fv.version),"
							  " pg_catalog.to_regclass(pg_catalog.format('mlops_online.%I',"
							  " mlops.online_table_name(fv.name, fv.version)))::pg_catalog.oid"
							  " FROM mlops.feature_views fv JOIN mlops.entities e"
							  " ON e.name OPERATOR(pg_catalog.=) fv.entity"
							  " WHERE fv.name OPERATOR(pg_catalog.=) $1 AND fv.version OPERATOR(pg_catalog.=) $2",
							  2, types, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read feature view \"%s\"", key->name);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("feature view \"%s\" has no version %d", key->name, key->version)));
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	if (!DatumGetBool(SPI_getbinval(tup, desc, 4, &isnull)))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("feature view \"%s\" version %d is not online", key->name, key->version),
				 errhint("Define the view with online => true to materialize and serve it.")));
	table = SPI_getvalue(tup, desc, 5);
	relid = DatumGetObjectId(SPI_getbinval(tup, desc, 6, &isnull));
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("feature view \"%s\" version %d has not been materialized", key->name, key->version),
				 errhint("Run mlops.materialize_incremental('%s') to fill its online table.", key->name)));

	/* a private context, moved under the cache only once complete */
	cxt = AllocSetContextCreate(CurrentMemoryContext, "pgmlops online view", ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(cxt);
	v = palloc0_object(OnlineView);
	v->key = *key;
	v->cxt = cxt;
	v->keys = TextArrayStrings(SPI_getbinval(tup, desc, 1, &isnull), &v->nkeys);
	v->features = TextArrayStrings(SPI_getbinval(tup, desc, 2, &isnull), &v->nfeatures);
	{
		Datum		ttl = SPI_getbinval(tup, desc, 3, &isnull);

		v->has_ttl = !isnull;
		if (!isnull)
			v->ttl = *DatumGetIntervalP(ttl);
	}
	v->key_in = palloc0_array(FmgrInfo, v->nkeys);
	v->key_ioparam = palloc0_array(Oid, v->nkeys);
	argtypes = palloc0_array(Oid, v->nkeys);

	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT feature_ts");
	for (int f = 0; f < v->nfeatures; f++)
		appendStringInfo(&sql, ", pg_catalog.to_jsonb(%s)", quote_identifier(v->features[f]));
	appendStringInfo(&sql, " FROM mlops_online.%s WHERE ", quote_identifier(table));
	for (int k = 0; k < v->nkeys; k++)
	{
		AttrNumber	att = get_attnum(relid, v->keys[k]);
		Oid			typinput;
		TypeCacheEntry *tc;
		HeapTuple	optup;

		if (att == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("online table of feature view \"%s\" version %d has no column \"%s\"",
							key->name, key->version, v->keys[k])));
		argtypes[k] = get_atttype(relid, att);
		getTypeInputInfo(argtypes[k], &typinput, &v->key_ioparam[k]);
		fmgr_info_cxt(typinput, &v->key_in[k], cxt);
		/* the key type's equality, that of its primary key index */
		tc = lookup_type_cache(argtypes[k], TYPECACHE_EQ_OPR);
		if (!OidIsValid(tc->eq_opr))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FUNCTION),
					 errmsg("join key \"%s\" of type %s has no equality operator", v->keys[k],
							format_type_be(argtypes[k]))));
		optup = SearchSysCache1(OPEROID, ObjectIdGetDatum(tc->eq_opr));
		if (!HeapTupleIsValid(optup))
			elog(ERROR, "cache lookup failed for operator %u", tc->eq_opr);
		appendStringInfo(&sql, "%s%s OPERATOR(%s.=) $%d", k > 0 ? " AND " : "",
						 quote_identifier(v->keys[k]),
						 quote_identifier(get_namespace_name(((Form_pg_operator) GETSTRUCT(optup))->oprnamespace)),
						 k + 1);
		ReleaseSysCache(optup);
	}
	v->plan = SPI_prepare_cursor(sql.data, v->nkeys, argtypes, CURSOR_OPT_GENERIC_PLAN);
	if (v->plan == NULL)
		elog(ERROR, "could not prepare the online read of \"%s\": %s", key->name,
			 SPI_result_code_string(SPI_result));
	MemoryContextSwitchTo(old);
	if (SPI_keepplan(v->plan) != 0)
		elog(ERROR, "could not keep the online read plan");
	MemoryContextSetParent(cxt, cache_cxt);
	return v;
}

/* the cached view version (connected to SPI) */
static OnlineView *
GetView(const char *name, int version)
{
	OnlineViewKey key;
	OnlineViewEntry *e;
	OnlineView *v;
	bool		found;

	memset(&key, 0, sizeof(key));
	strlcpy(key.name, name, sizeof(key.name));
	key.version = version;
	e = hash_search(view_cache, &key, HASH_FIND, NULL);
	if (e != NULL)
		return e->view;
	v = LoadView(&key);
	e = hash_search(view_cache, &key, HASH_ENTER, &found);
	e->view = v;
	return v;
}

/* what a feature reference names, resolved and cached (connected to SPI) */
static OnlineRefEntry *
GetRef(const char *ref)
{
	Oid			types[1] = {TEXTOID};
	Datum		args[1];
	OnlineRefEntry *e;
	OnlineView *v = NULL;
	SPITupleTable *tt;
	uint64		nrows;
	int		   *columns;
	int			n = 0;
	bool		found;

	if (strlen(ref) >= ONLINE_REF_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("feature reference \"%s\" is too long", ref)));
	e = hash_search(ref_cache, ref, HASH_FIND, NULL);
	if (e != NULL)
		return e;

	args[0] = CStringGetTextDatum(ref);
	if (SPI_execute_with_args("SELECT view, version, feature FROM mlops.resolve_features(ARRAY[$1])",
							  1, types, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not resolve feature reference \"%s\"", ref);
	/* GetView runs queries of its own: keep this result */
	tt = SPI_tuptable;
	nrows = SPI_processed;
	columns = palloc_array(int, Max(nrows, 1));
	for (uint64 r = 0; r < nrows; r++)
	{
		char	   *feature = SPI_getvalue(tt->vals[r], tt->tupdesc, 3);
		int			c;

		/* a reference names one view */
		if (v == NULL)
			v = GetView(SPI_getvalue(tt->vals[r], tt->tupdesc, 1),
						atoi(SPI_getvalue(tt->vals[r], tt->tupdesc, 2)));
		for (c = 0; c < v->nfeatures; c++)
			if (strcmp(v->features[c], feature) == 0)
				break;
		if (c == v->nfeatures)
			elog(ERROR, "feature \"%s\" is missing from the definition of view \"%s\"",
				 feature, v->key.name);
		columns[n++] = c;
	}
	SPI_freetuptable(tt);
	if (v == NULL)
		elog(ERROR, "feature reference \"%s\" resolved to nothing", ref);
	e = hash_search(ref_cache, ref, HASH_ENTER, &found);
	e->view = v;
	e->ncolumns = n;
	e->columns = MemoryContextAlloc(cache_cxt, sizeof(int) * n);
	memcpy(e->columns, columns, sizeof(int) * n);
	return e;
}

/* a service's pinned references, cached (connected to SPI) */
static OnlineServiceEntry *
GetService(const char *service)
{
	Oid			types[1] = {TEXTOID};
	Datum		args[1];
	OnlineServiceEntry *e;
	MemoryContext old;
	bool		isnull;
	char	  **refs;
	int			n;

	if (strlen(service) >= ONLINE_REF_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("feature service name \"%s\" is too long", service)));
	e = hash_search(service_cache, service, HASH_FIND, NULL);
	if (e != NULL)
		return e;
	args[0] = CStringGetTextDatum(service);
	if (SPI_execute_with_args("SELECT mlops.service_features($1)", 1, types, args, NULL, true, 1)
		!= SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read feature service \"%s\"", service);
	old = MemoryContextSwitchTo(cache_cxt);
	refs = TextArrayStrings(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull), &n);
	MemoryContextSwitchTo(old);
	e = hash_search(service_cache, service, HASH_ENTER, NULL);
	e->nrefs = n;
	e->refs = refs;
	return e;
}

/* the datum of join key k of view v from a JSON value */
static Datum
KeyDatum(const OnlineView *v, int k, const JsonbValue *val)
{
	char	   *s;

	switch (val->type)
	{
		case jbvString:
			s = pnstrdup(val->val.string.val, val->val.string.len);
			break;
		case jbvNumeric:
			s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(val->val.numeric)));
			break;
		case jbvBool:
			s = val->val.boolean ? "true" : "false";
			break;
		case jbvNull:
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("join key \"%s\" must not be null", v->keys[k])));
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("join key \"%s\" must be a JSON string, number or boolean", v->keys[k])));
			break;
	}
	return InputFunctionCall(&v->key_in[k], s, v->key_ioparam[k], -1);
}

/*
 * now - ttl, computed as timestamptz_mi_interval does (months, then days in
 * the session time zone, then the time part); false when that falls outside
 * the timestamp range, where timestamptz_mi_interval raises an error
 */
static bool
TtlCutoff(TimestampTz now, const Interval *ttl, TimestampTz *cutoff)
{
	TimestampTz ts = now;
	struct pg_tm tt,
			   *tm = &tt;
	fsec_t		fsec;
	int			tz;

	if (ttl->month != 0)
	{
		int64		mon;

		if (timestamp2tm(ts, &tz, tm, &fsec, NULL, NULL) != 0)
			return false;
		/* months since January of year 0, less the ttl's; floor division */
		mon = (int64) tm->tm_year * MONTHS_PER_YEAR + (tm->tm_mon - 1) - ttl->month;
		tm->tm_year = (int) (mon >= 0 ? mon / MONTHS_PER_YEAR : -((-mon - 1) / MONTHS_PER_YEAR) - 1);
		tm->tm_mon = (int) (mon - (int64) tm->tm_year * MONTHS_PER_YEAR) + 1;
		if (tm->tm_mday > day_tab[isleap(tm->tm_year)][tm->tm_mon - 1])
			tm->tm_mday = day_tab[isleap(tm->tm_year)][tm->tm_mon - 1];
		tz = DetermineTimeZoneOffset(tm, session_timezone);
		if (tm2timestamp(tm, fsec, &tz, &ts) != 0)
			return false;
	}
	if (ttl->day != 0)
	{
		int64		julian;

		if (timestamp2tm(ts, &tz, tm, &fsec, NULL, NULL) != 0)
			return false;
		julian = (int64) date2j(tm->tm_year, tm->tm_mon, tm->tm_mday) - ttl->day;
		if (julian < 0 || julian > PG_INT32_MAX)
			return false;
		j2date((int) julian, &tm->tm_year, &tm->tm_mon, &tm->tm_mday);
		tz = DetermineTimeZoneOffset(tm, session_timezone);
		if (tm2timestamp(tm, fsec, &tz, &ts) != 0)
			return false;
	}
	if (pg_sub_s64_overflow(ts, ttl->time, &ts) || !IS_VALID_TIMESTAMP(ts))
		return false;
	*cutoff = ts;
	return true;
}

/* the join keys of a view, for messages */
static char *
KeyList(const OnlineView *v)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int k = 0; k < v->nkeys; k++)
		appendStringInfo(&buf, "%s%s", k > 0 ? ", " : "", quote_identifier(v->keys[k]));
	return buf.data;
}

/* the container of the i-th key object of entity_keys */
static JsonbContainer *
KeyObject(Jsonb *keys, int i, bool single)
{
	JsonbValue *val;

	if (single)
		return &keys->root;
	val = getIthJsonbValueFromContainer(&keys->root, i);
	if (val == NULL || val->type != jbvBinary || !JsonContainerIsObject(val->val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("element %d of entity_keys is not a JSON object", i + 1),
				 errhint("Pass one key object such as {\"customer_id\": 42}, or an array of them.")));
	return val->val.binary.data;
}

/*
 * Serve the requested references for every key object: one output row
 * (entity, features) per key, in input order
 */
static void
Serve(FunctionCallInfo fcinfo, char **refs, int nrefs, Jsonb *keys)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext keycxt;
	MemoryContext old;
	OnlineView **views;
	SPITupleTable **rows;
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	TimestampTz *cutoff;
	RequestItem *items;
	int			nviews = 0;
	int			nitems = 0;
	int			maxitems = 16;
	int			nkeyobjs;
	bool		single;

	if (JB_ROOT_IS_SCALAR(keys))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("entity_keys must be a JSON object or an array of objects"),
				 errhint("Pass one key object such as {\"customer_id\": 42}, or an array of them.")));
	single = JB_ROOT_IS_OBJECT(keys);
	nkeyobjs = single ? 1 : JB_ROOT_COUNT(keys);

	InitMaterializedSRF(fcinfo, 0);
	keycxt = AllocSetContextCreate(CurrentMemoryContext, "pgmlops online key", ALLOCSET_DEFAULT_SIZES);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/* the request: views and output features, names distinct */
	views = palloc_array(OnlineView *, nrefs);
	items = palloc_array(RequestItem, maxitems);
	for (int r = 0; r < nrefs; r++)
	{
		OnlineRefEntry *e = GetRef(refs[r]);
		int			vi;

		for (vi = 0; vi < nviews; vi++)
			if (views[vi] == e->view)
				break;
		if (vi == nviews)
			views[nviews++] = e->view;
		for (int c = 0; c < e->ncolumns; c++)
		{
			const char *name = e->view->features[e->columns[c]];
			bool		dup = false;

			for (int i = 0; i < nitems; i++)
			{
				if (strcmp(items[i].name, name) != 0)
					continue;
				if (items[i].view != vi || items[i].column != e->columns[c])
					ereport(ERROR,
							(errcode(ERRCODE_DUPLICATE_COLUMN),
							 errmsg("feature \"%s\" is requested from two feature views", name),
							 errdetail("It is in \"%s\" version %d and \"%s\" version %d.",
									   views[items[i].view]->key.name, views[items[i].view]->key.version,
									   e->view->key.name, e->view->key.version),
							 errhint("Features are returned by name; request one of them.")));
				dup = true;
				break;
			}
			if (dup)
				continue;
			if (nitems == maxitems)
			{
				maxitems *= 2;
				items = repalloc_array(items, RequestItem, maxitems);
			}
			items[nitems].view = vi;
			items[nitems].column = e->columns[c];
			items[nitems].name = name;
			nitems++;
		}
	}

	/* a value older than now() - ttl reads as NULL; no cutoff past the oldest time */
	cutoff = palloc_array(TimestampTz, nviews);
	for (int vi = 0; vi < nviews; vi++)
		if (!views[vi]->has_ttl || !TtlCutoff(now, &views[vi]->ttl, &cutoff[vi]))
			cutoff[vi] = DT_NOBEGIN;
	rows = palloc0_array(SPITupleTable *, nviews);

	for (int i = 0; i < nkeyobjs; i++)
	{
		JsonbContainer *obj = KeyObject(keys, i, single);
		JsonbParseState *state = NULL;
		JsonbValue *res;
		Datum		values[2];
		bool		nulls[2] = {false, false};

		CHECK_FOR_INTERRUPTS();
		old = MemoryContextSwitchTo(keycxt);
		for (int vi = 0; vi < nviews; vi++)
		{
			OnlineView *v = views[vi];
			Datum		args[INDEX_MAX_KEYS];
			bool		isnull;

			for (int k = 0; k < v->nkeys; k++)
			{
				JsonbValue	val;

				if (getKeyJsonValueFromContainer(obj, v->keys[k], strlen(v->keys[k]), &val) == NULL)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("entity key %d has no join key \"%s\"", i + 1, v->keys[k]),
							 errdetail("Feature view \"%s\" is keyed by %s.", v->key.name, KeyList(v))));
				args[k] = KeyDatum(v, k, &val);
			}
			if (SPI_execute_plan(v->plan, args, NULL, true, 1) != SPI_OK_SELECT)
				elog(ERROR, "could not read the online table of \"%s\"", v->key.name);
			rows[vi] = NULL;
			if (SPI_processed == 1)
			{
				TimestampTz ts = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0],
																   SPI_tuptable->tupdesc, 1, &isnull));

				/* neither expired nor from the future */
				if (ts >= cutoff[vi] && ts <= now)
					rows[vi] = SPI_tuptable;
			}
			if (rows[vi] == NULL)
				SPI_freetuptable(SPI_tuptable);
		}

		pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
		for (int f = 0; f < nitems; f++)
		{
			SPITupleTable *tt = rows[items[f].view];
			JsonbValue	key;
			JsonbValue	val;
			bool		isnull = true;
			Datum		d = (Datum) 0;

			key.type = jbvString;
			key.val.string.val = (char *) items[f].name;
			key.val.string.len = strlen(items[f].name);
			pushJsonbValue(&state, WJB_KEY, &key);
			if (tt != NULL)
				d = SPI_getbinval(tt->vals[0], tt->tupdesc, items[f].column + 2, &isnull);
			if (isnull)
				val.type = jbvNull;
			else
			{
				Jsonb	   *jb = DatumGetJsonbP(d);

				val.type = jbvBinary;
				val.val.binary.data = &jb->root;
				val.val.binary.len = VARSIZE(jb) - VARHDRSZ;
			}
			pushJsonbValue(&state, WJB_VALUE, &val);
		}
		res = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
		values[0] = single ? JsonbPGetDatum(keys) :
			JsonbPGetDatum(JsonbValueToJsonb(getIthJsonbValueFromContainer(&keys->root, i)));
		values[1] = JsonbPGetDatum(JsonbValueToJsonb(res));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);

		for (int vi = 0; vi < nviews; vi++)
			if (rows[vi] != NULL)
				SPI_freetuptable(rows[vi]);
		MemoryContextSwitchTo(old);
		MemoryContextReset(keycxt);
	}
	SPI_finish();
	MemoryContextDelete(keycxt);
}

PG_FUNCTION_INFO_V1(fs_get_online_features);

/*
 * mlops.get_online_features(features text[], entity_keys jsonb)
 */
Datum
fs_get_online_features(PG_FUNCTION_ARGS)
{
	Jsonb	   *keys = PG_GETARG_JSONB_P(1);
	char	  **refs;
	int			nrefs;

	refs = TextArrayStrings(PG_GETARG_DATUM(0), &nrefs);
	if (nrefs == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no features requested")));
	CacheBegin();
	Serve(fcinfo, refs, nrefs, keys);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(fs_get_online_features_service);

/*
 * mlops.get_online_features(service text, entity_keys jsonb)
 */
Datum
fs_get_online_features_service(PG_FUNCTION_ARGS)
{
	char	   *service = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Jsonb	   *keys = PG_GETARG_JSONB_P(1);
	OnlineServiceEntry *e;

	CacheBegin();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	e = GetService(service);
	SPI_finish();
	Serve(fcinfo, e->refs, e->nrefs, keys);
	return (Datum) 0;
}
