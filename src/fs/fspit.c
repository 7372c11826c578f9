/*-------------------------------------------------------------------------
 *
 * fspit.c
 *	  Point-in-time joins: mlops.get_historical_features and
 *	  mlops.historical_features_columns.
 *
 * For every entity row (join keys, an event timestamp, labels) and every
 * requested feature view, the join takes the view's row with the same key
 * and the latest feature_ts <= the event timestamp, and keeps it only when
 * feature_ts >= event timestamp - ttl.  Rows with the same key and
 * feature_ts: the one read last wins.
 *
 * The engine works in three phases, all with the caller's privileges
 * through SPI (rows stream into DestReceivers, never into SPI tuple
 * tables):
 *
 *	1. plan: resolve the feature references, check the catalog rows (a row
 *	   written by hand may hold anything), describe the entity source and
 *	   each view's normalized query, choose the type each key is compared in
 *	   (that of SQL's "view.key = entities.key", never a lossy cast into the
 *	   view's type), check columns and build the result type;
 *	2. read: the entity rows are kept as MinimalTuples, and each view's key
 *	   columns are hashed (an int64 table for a single integer key on both
 *	   sides, a TupleHashTable with the comparison types' hash and equality
 *	   functions otherwise, or an array when integer keys fall in a small
 *	   range) into
 *	   dense group numbers; then each view's rows are read (only the
 *	   entities' keys, WHERE key = ANY, when they are few integers), those
 *	   whose key no entity has are dropped, and the rest are kept as
 *	   (group, feature_ts, feature Datums);
 *	3. index and emit: a counting sort by group followed by a sort by
 *	   (feature_ts, read position) in each group gives every key a sorted
 *	   run of timestamps; the entity rows, taken in group order so that a
 *	   run stays in the cache, binary-search their key's run; the joined
 *	   rows go to a tuplestore (materialize mode) in entity order.
 *
 * Everything read lives in one memory context whose size is held under
 * mlops.feature_memory_limit.  The SQL built here names pg_catalog's
 * operators and types, so that the caller's search_path cannot change it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "access/htup_details.h"
#include "access/tupdesc.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/params.h"
#include "parser/parse_coerce.h"
#include "parser/parse_oper.h"
#include "pgtime.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
#include "utils/typcache.h"

#include "fs/fs.h"
#include "ml/mlsql.h"

int			fs_feature_memory_limit = 1024 * 1024;

#define PIT_NO_GROUP	UINT32_MAX
#define PIT_CHECK_EVERY 4096	/* rows between memory checks */
#define PIT_PUSH_KEYS	4096	/* at most this many integer keys: WHERE key = ANY */

/* int64 keys to dense group numbers */
typedef struct PitIntEntry
{
	int64		key;
	uint32		group;
	char		status;
} PitIntEntry;

/* the finalizer of splitmix64: a cheap, well-mixed hash of an int64 */
static inline uint32
MixInt64(uint64 x)
{
	x ^= x >> 30;
	x *= UINT64CONST(0xbf58476d1ce4e5b9);
	x ^= x >> 27;
	x *= UINT64CONST(0x94d049bb133111eb);
	x ^= x >> 31;
	return (uint32) x;
}

/* a feature row's timestamp and number, sorted by (group, ts, row) */
typedef struct PitTs
{
	TimestampTz ts;
	uint32		row;
} PitTs;

#define ST_SORT SortPitTs
#define ST_ELEMENT_TYPE PitTs
#define ST_COMPARE(a, b) \
	((a)->ts != (b)->ts ? ((a)->ts < (b)->ts ? -1 : 1) : \
	 ((a)->row < (b)->row ? -1 : ((a)->row > (b)->row ? 1 : 0)))
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

#define SH_PREFIX pitint
#define SH_ELEMENT_TYPE PitIntEntry
#define SH_KEY_TYPE int64
#define SH_KEY key
#define SH_HASH_KEY(tb, k) MixInt64((uint64) (k))
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/* one feature view version that the request reads */
typedef struct PitView
{
	char	   *name;
	int			version;
	char	   *query;			/* the version's normalized query */
	bool		has_ttl;
	Interval	ttl;
	bool		ttl_fixed;		/* ttl is ttl_usecs long at every instant */
	int64		ttl_usecs;
	int			nkeys;
	char	  **keys;			/* join key column names */
	int			nfeat;			/* requested features of this view */
	char	  **feats;
	TupleDesc	desc;			/* keys, feature_ts, feats (as the view has them) */
	int			ent_keycol;		/* 0-based column of its keys in the entity read */

	/* how keys are compared (PlanKeys) */
	Oid		   *ktype;			/* (nkeys) the type both sides are hashed in */
	char	  **vkey;			/* (nkeys) expression reading the view's key */
	char	  **ekey;			/* (nkeys) expression reading the entities' key */

	/* key hashing */
	bool		int_key;		/* one integer key on both sides: ihash */
	Oid			vint_type;		/* int_key: the view's key type */
	Oid			eint_type;		/* int_key: the entities' key type (as read) */
	pitint_hash *ihash;
	uint32	   *dense;			/* int keys in a small range: their groups */
	int64		dense_min;
	int64		dense_max;
	TupleHashTable thash;
	TupleDesc	keydesc;
	TupleTableSlot *keyslot;
	MemoryContext hash_tmp;
	uint32		ngroups;
	uint32	   *egroup;			/* (entity rows): group of each entity row */

	/* rows read, in read order */
	int64		nrows;
	int64		cap;
	uint32	   *rgroup;			/* (nrows) */
	TimestampTz *rts;			/* (nrows) */
	Size		stride;			/* bytes per row in rdata */
	char	   *rdata;			/* (nrows): Datum[nfeat] then bool[nfeat] */

	/* index: rows sorted by (group, feature_ts, read position) */
	uint32	   *gstart;			/* (ngroups + 1) */
	PitTs	   *sorted;			/* (nrows) */

	/* the row each entity row sees (PIT_NO_GROUP: none) */
	uint32	   *found;			/* (entity rows) */
} PitView;

/* the feature values and nulls of row r of a view */
#define PitRowValues(pv, r) ((Datum *) ((pv)->rdata + (Size) (r) * (pv)->stride))
#define PitRowNulls(pv, r) ((bool *) (PitRowValues(pv, r) + (pv)->nfeat))

/* one requested feature, in output order */
typedef struct PitFeature
{
	int			view;			/* index in views */
	int			col;			/* index in the view's feats */
	char	   *name;			/* feature name */
	char	   *outname;		/* output column name */
} PitFeature;

/* the state of one call */
typedef struct PitState
{
	MemoryContext cxt;			/* everything below; deleted at the end */
	int64		memory_limit;	/* bytes */
	const char *fname;			/* SQL function, for messages */

	MlSqlSource src;
	char	   *evcol;
	TupleDesc	entdesc;		/* entity columns */
	int			nent;

	int			nviews;
	PitView    *views;
	int			nfeatures;
	PitFeature *features;
	TupleDesc	outdesc;

	/* entity rows, in read order */
	int64		nrows;
	int64		cap;
	MinimalTuple *erows;		/* (nrows) */
	TimestampTz *ets;			/* (nrows) */
	bool	   *etsnull;		/* (nrows) */
} PitState;

/* a DestReceiver that hands rows to a PitState */
typedef struct PitReceiver
{
	DestReceiver pub;
	PitState   *st;
	PitView    *view;			/* NULL: the entity read */
	int64		seen;
} PitReceiver;

/*
 * Define mlops.feature_memory_limit
 */
void
FeatureStorePitInit(void)
{
	DefineCustomIntVariable("mlops.feature_memory_limit",
							"Largest amount of feature and entity data one point-in-time join may hold in memory.",
							"A larger join is refused with an error rather than swapped.",
							&fs_feature_memory_limit, 1024 * 1024, 1024, INT_MAX,
							PGC_SUSET, GUC_UNIT_KB, NULL, NULL, NULL);
}

/* raise the memory-limit error when the state holds too much */
static void
CheckMemory(PitState *st)
{
	Size		used = MemoryContextMemAllocated(st->cxt, true);

	if ((int64) used > st->memory_limit)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("point-in-time join needs more than mlops.feature_memory_limit (%lld kB)",
						(long long) (st->memory_limit / 1024)),
				 errhint("Raise mlops.feature_memory_limit, or join fewer entity rows or features at a time.")));
}

/* grow an array allocated in cxt to hold cap elements of size sz */
static void *
GrowArray(MemoryContext cxt, void *p, int64 cap, Size sz)
{
	if (p == NULL)
		return MemoryContextAllocHuge(cxt, cap * sz);
	return repalloc_huge(p, cap * sz);
}

/*
 * Run a read-only query (with the caller's privileges) whose rows go to a
 * receiver
 */
void
FeatureStoreRunQuery(const char *sql, ParamListInfo params, DestReceiver *dest)
{
	SPIExecuteOptions opts;
	int			rc;

	memset(&opts, 0, sizeof(opts));
	opts.read_only = true;
	opts.params = params;
	opts.dest = dest;
	rc = SPI_execute_extended(sql, &opts);
	/* a SELECT into a receiver that is not DestSPI reports SPI_OK_UTILITY */
	if (rc != SPI_OK_SELECT && rc != SPI_OK_UTILITY)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("source must be a table, a view or a query returning rows")));
}

/* the result type of a query, read from an empty run (copied into cxt) */
static TupleDesc
DescribeQuery(const char *sql, MemoryContext cxt)
{
	TupleDesc	desc;
	MemoryContext old;

	if (SPI_execute(sql, true, 1) != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("source must be a table, a view or a query returning rows")));
	old = MemoryContextSwitchTo(cxt);
	desc = CreateTupleDescCopy(SPI_tuptable->tupdesc);
	MemoryContextSwitchTo(old);
	SPI_freetuptable(SPI_tuptable);
	return desc;
}

/* 0-based column of a name in desc, or -1 */
static int
FindColumn(TupleDesc desc, const char *name)
{
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return i;
	}
	return -1;
}

/* the text of SPI column col of row r, copied into cxt (NULL stays NULL) */
static char *
GetText(int r, int col, MemoryContext cxt)
{
	char	   *v = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, col);

	return v ? MemoryContextStrdup(cxt, v) : NULL;
}

/* raise the error for a malformed row of mlops.feature_views or mlops.entities */
static void
CatalogCorrupted(const char *view, int version, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("feature view \"%s@%d\" has a malformed catalog row: %s",
					view, version, what),
			 errhint("Define feature views with mlops.create_feature_view, not by inserting into mlops.feature_views.")));
}

/* a name read from the catalog: not NULL, not empty, at most NAMEDATALEN - 1 bytes */
static bool
NameOk(const char *name)
{
	return name != NULL && name[0] != '\0' && strlen(name) < NAMEDATALEN;
}

/*
 * Resolve the feature references (service:NAME expanded) into views and
 * features, and load each view's definition.  Every value read from the
 * catalog is checked: a row inserted by hand may hold anything.
 */
static void
PlanFeatures(PitState *st, ArrayType *refs)
{
	Oid			argtypes[2] = {TEXTARRAYOID, INT4OID};
	Datum		args[2];
	int			n;
	MemoryContext cxt = st->cxt;

	args[0] = PointerGetDatum(refs);
	if (SPI_execute_with_args("SELECT r.view, r.version, r.feature, r.type"
							  "  FROM mlops.resolve_features(mlops._pit_expand_refs($1)) r"
							  " ORDER BY r.ordinal",
							  1, argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not resolve feature references");
	n = (int) SPI_processed;
	st->nfeatures = n;
	st->features = MemoryContextAllocZero(cxt, sizeof(PitFeature) * n);
	st->views = MemoryContextAllocZero(cxt, sizeof(PitView) * n);
	st->nviews = 0;
	for (int i = 0; i < n; i++)
	{
		char	   *view = GetText(i, 1, cxt);
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull);
		int			version = isnull ? 0 : DatumGetInt32(d);
		char	   *feature = GetText(i, 3, cxt);
		char	   *type = GetText(i, 4, cxt);
		PitFeature *f = &st->features[i];
		int			v;

		if (!NameOk(view) || isnull)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("a feature reference resolved to a feature view without a valid name or version")));
		if (!NameOk(feature))
			CatalogCorrupted(view, version, "a feature has no valid \"name\"");
		if (type == NULL || type[0] == '\0')
			CatalogCorrupted(view, version, psprintf("feature \"%s\" has no \"type\"", feature));
		for (v = 0; v < st->nviews; v++)
			if (strcmp(st->views[v].name, view) == 0 && st->views[v].version == version)
				break;
		if (v == st->nviews)
		{
			st->views[v].name = view;
			st->views[v].version = version;
			st->views[v].feats = MemoryContextAllocZero(cxt, sizeof(char *) * n);
			st->nviews++;
		}
		for (int j = 0; j < st->views[v].nfeat; j++)
			if (strcmp(st->views[v].feats[j], feature) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_COLUMN),
						 errmsg("feature \"%s:%s\" is requested twice", view, feature)));
		f->view = v;
		f->col = st->views[v].nfeat;
		f->name = feature;
		st->views[v].feats[st->views[v].nfeat++] = feature;
	}
	SPI_freetuptable(SPI_tuptable);

	/* each view's definition: normalized query, ttl, entity join keys */
	for (int v = 0; v < st->nviews; v++)
	{
		PitView    *pv = &st->views[v];
		Oid			types[2] = {TEXTOID, INT4OID};
		Datum		vargs[2];
		bool		isnull;
		Datum		d;
		ArrayType  *arr;
		Datum	   *keys;
		bool	   *keynulls;
		int			nkeys;

		vargs[0] = CStringGetTextDatum(pv->name);
		vargs[1] = Int32GetDatum(pv->version);
		if (SPI_execute_with_args("SELECT fv.query, fv.ttl, e.join_keys"
								  "  FROM mlops.feature_views fv"
								  "  LEFT JOIN mlops.entities e ON e.name OPERATOR(pg_catalog.=) fv.entity"
								  " WHERE fv.name OPERATOR(pg_catalog.=) $1"
								  "   AND fv.version OPERATOR(pg_catalog.=) $2",
								  2, types, vargs, NULL, true, 2) != SPI_OK_SELECT ||
			SPI_processed == 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("feature view \"%s@%d\" does not exist", pv->name, pv->version)));
		if (SPI_processed != 1)
			CatalogCorrupted(pv->name, pv->version, "the version appears twice");
		pv->query = GetText(0, 1, cxt);
		if (pv->query == NULL)
			CatalogCorrupted(pv->name, pv->version, "its query is NULL");
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
		pv->has_ttl = !isnull;
		if (!isnull)
		{
			Interval	zero = {0};

			pv->ttl = *DatumGetIntervalP(d);
			if (DatumGetBool(DirectFunctionCall2(interval_lt, IntervalPGetDatum(&pv->ttl),
												 IntervalPGetDatum(&zero))))
				CatalogCorrupted(pv->name, pv->version, "its ttl is negative");
		}
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull);
		if (isnull)
			CatalogCorrupted(pv->name, pv->version, "its entity does not exist or has no join keys");
		arr = DatumGetArrayTypeP(d);
		if (ARR_NDIM(arr) != 1 || ARR_ELEMTYPE(arr) != TEXTOID)
			CatalogCorrupted(pv->name, pv->version, "its entity's join keys are not a list of names");
		deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &keys, &keynulls, &nkeys);
		pv->nkeys = nkeys;
		pv->keys = MemoryContextAlloc(cxt, sizeof(char *) * nkeys);
		for (int k = 0; k < nkeys; k++)
		{
			pv->keys[k] = keynulls[k] ? NULL : MemoryContextStrdup(cxt, TextDatumGetCString(keys[k]));
			if (!NameOk(pv->keys[k]))
				CatalogCorrupted(pv->name, pv->version, "its entity has a NULL or invalid join key");
		}
		SPI_freetuptable(SPI_tuptable);
		/* a row written around the catalog's trigger: one SELECT, not volatile */
		FeatureStoreCheckQuery(pv->query, pv->name);
	}
}

/*
 * The query that reads a view's keys (cast as PlanKeys decided, once it
 * has), feature_ts and requested features
 */
static char *
ViewReadQuery(PitView *pv)
{
	StringInfoData sql;

	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT ");
	for (int k = 0; k < pv->nkeys; k++)
		appendStringInfo(&sql, "%s, ", pv->vkey ? pv->vkey[k] : quote_identifier(pv->keys[k]));
	appendStringInfoString(&sql, "feature_ts");
	for (int f = 0; f < pv->nfeat; f++)
		appendStringInfo(&sql, ", %s", quote_identifier(pv->feats[f]));
	appendStringInfo(&sql, " FROM (%s\n) AS pgmlops_view", pv->query);
	return sql.data;
}

/* the query that reads the entity rows, the event timestamp and view keys */
static char *
EntityReadQuery(PitState *st)
{
	StringInfoData sql;

	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT *, (%s)::pg_catalog.timestamptz", quote_identifier(st->evcol));
	for (int v = 0; v < st->nviews; v++)
	{
		PitView    *pv = &st->views[v];

		for (int k = 0; k < pv->nkeys; k++)
			appendStringInfo(&sql, ", %s", pv->ekey[k]);
	}
	appendStringInfo(&sql, " FROM %s", st->src.from);
	return sql.data;
}

/* is t smallint, integer or bigint? */
static inline bool
IsIntType(Oid t)
{
	return t == INT2OID || t == INT4OID || t == INT8OID;
}

/*
 * A type's name for a cast in generated SQL: schema-qualified, so that the
 * search_path cannot change it, and without a type modifier ("bpchar", not
 * "character", which is char(1))
 */
static char *
TypeSql(Oid t)
{
	HeapTuple	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(t));
	Form_pg_type typ;
	char	   *name;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for type %u", t);
	typ = (Form_pg_type) GETSTRUCT(tup);
	name = quote_qualified_identifier(get_namespace_name(typ->typnamespace),
									  NameStr(typ->typname));
	ReleaseSysCache(tup);
	return name;
}

/*
 * The type in which key k of a view (type vt) and the entities' column (type
 * et) are compared: that of the operator "vt = et" resolves to among
 * pg_catalog's, or for a cross-type operator (integer = bigint, date =
 * timestamptz) the type both implicitly cast to, as in SQL
 */
static Oid
CompareType(PitView *pv, int k, Oid vt, Oid et)
{
	Operator	tup;
	Oid			l;
	Oid			r;
	Oid			c = InvalidOid;

	if (vt == et)
		return vt;
	tup = oper(NULL, list_make2(makeString("pg_catalog"), makeString("=")), vt, et, true, -1);
	if (tup != NULL)
	{
		l = ((Form_pg_operator) GETSTRUCT(tup))->oprleft;
		r = ((Form_pg_operator) GETSTRUCT(tup))->oprright;
		ReleaseSysCache(tup);
		if (l == r)
			c = l;
		else if (can_coerce_type(1, &l, &r, COERCION_IMPLICIT) &&
				 (!can_coerce_type(1, &r, &l, COERCION_IMPLICIT) ||
				  IsPreferredType(TypeCategory(r), r)))
			c = r;
		else if (can_coerce_type(1, &r, &l, COERCION_IMPLICIT))
			c = l;
	}
	if (!OidIsValid(c) || get_typtype(c) == TYPTYPE_PSEUDO ||
		!can_coerce_type(1, &vt, &c, COERCION_IMPLICIT) ||
		!can_coerce_type(1, &et, &c, COERCION_IMPLICIT))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("join key \"%s\" of feature view \"%s\" has type %s, which cannot be compared with the entities' %s",
						pv->keys[k], pv->name, format_type_be(vt), format_type_be(et)),
				 errhint("Cast the entities' column to %s.", format_type_be(vt))));
	return c;
}

/*
 * Decide how each key of a view is read on both sides.  The join matches
 * keys as "view.key = entities.key" does in SQL: both are read in the type
 * of that comparison, never cast into the view's type (which would truncate
 * a longer varchar or round a numeric into a match, or fail on a bigint
 * too large for an integer key).  A single integer key on both sides is
 * compared as int64 without a cast (the fast path); a numeric entity key
 * against an integer key is read as a bigint when it is an integer in
 * bigint's range, else NULL (it equals no integer).
 */
static void
PlanKeys(PitState *st, PitView *pv)
{
	MemoryContext cxt = st->cxt;
	Oid			vt0 = InvalidOid;
	Oid			et0 = InvalidOid;
	char	   *eexpr0 = NULL;

	pv->ktype = MemoryContextAlloc(cxt, sizeof(Oid) * pv->nkeys);
	pv->vkey = MemoryContextAlloc(cxt, sizeof(char *) * pv->nkeys);
	pv->ekey = MemoryContextAlloc(cxt, sizeof(char *) * pv->nkeys);
	for (int k = 0; k < pv->nkeys; k++)
	{
		const char *name = quote_identifier(pv->keys[k]);
		int			ecol = FindColumn(st->entdesc, pv->keys[k]);
		Oid			vt = getBaseType(TupleDescAttr(pv->desc, k)->atttypid);
		Oid			et = getBaseType(TupleDescAttr(st->entdesc, ecol)->atttypid);
		char	   *eexpr = psprintf("(%s)", name);
		Oid			c;

		if (IsIntType(vt) && et == NUMERICOID)
		{
			eexpr = psprintf("(CASE WHEN %s OPERATOR(pg_catalog.=) pg_catalog.trunc(%s)"
							 " AND %s OPERATOR(pg_catalog.>=) '-9223372036854775808'::pg_catalog.numeric"
							 " AND %s OPERATOR(pg_catalog.<=) '9223372036854775807'::pg_catalog.numeric"
							 " THEN (%s)::pg_catalog.int8 END)",
							 name, name, name, name, name);
			et = INT8OID;
		}
		if (k == 0)
		{
			vt0 = vt;
			et0 = et;
			eexpr0 = eexpr;
		}
		c = CompareType(pv, k, vt, et);
		pv->ktype[k] = c;
		pv->vkey[k] = MemoryContextStrdup(cxt, c == vt ? name
										  : psprintf("(%s)::%s", name, TypeSql(c)));
		pv->ekey[k] = MemoryContextStrdup(cxt, c == et ? eexpr
										  : psprintf("%s::%s", eexpr, TypeSql(c)));
	}
	pv->int_key = pv->nkeys == 1 && IsIntType(vt0) && IsIntType(et0);
	if (pv->int_key)
	{
		/* each side in its own integer type: no cast */
		pv->vint_type = vt0;
		pv->eint_type = et0;
		pv->vkey[0] = MemoryContextStrdup(cxt, quote_identifier(pv->keys[0]));
		pv->ekey[0] = MemoryContextStrdup(cxt, eexpr0);
	}
}

/*
 * Describe the entity source and the views, check the columns, and build
 * the result type
 */
static void
PlanColumns(PitState *st)
{
	int			evatt;
	Oid			evtype;
	int			col;
	int			natts;
	MemoryContext old;

	st->entdesc = DescribeQuery(psprintf("SELECT * FROM %s LIMIT 0", st->src.from), st->cxt);
	st->nent = st->entdesc->natts;
	for (int i = 0; i < st->entdesc->natts; i++)
		if (TupleDescAttr(st->entdesc, i)->attisdropped)
			elog(ERROR, "unexpected dropped column in a query result");

	evatt = FindColumn(st->entdesc, st->evcol);
	if (evatt < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("event timestamp column \"%s\" does not exist in the entities", st->evcol),
				 errhint("Name the column with event_timestamp_column.")));
	evtype = TupleDescAttr(st->entdesc, evatt)->atttypid;
	if (evtype != TIMESTAMPTZOID && evtype != TIMESTAMPOID && evtype != DATEOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("event timestamp column \"%s\" is %s, not a timestamp",
						st->evcol, format_type_be(evtype)),
				 errhint("The event timestamp is a timestamptz, timestamp or date column.")));

	col = st->nent + 1;
	for (int v = 0; v < st->nviews; v++)
	{
		PitView    *pv = &st->views[v];

		for (int k = 0; k < pv->nkeys; k++)
			if (FindColumn(st->entdesc, pv->keys[k]) < 0)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("join key \"%s\" of feature view \"%s\" is missing from the entities",
								pv->keys[k], pv->name),
						 errhint("The entities need every join key of the view's entity.")));
		pv->desc = DescribeQuery(psprintf("%s LIMIT 0", ViewReadQuery(pv)), st->cxt);
		if (TupleDescAttr(pv->desc, pv->nkeys)->atttypid != TIMESTAMPTZOID)
			CatalogCorrupted(pv->name, pv->version, "the feature_ts of its query is not a timestamptz");
		PlanKeys(st, pv);
		pv->ent_keycol = col;
		col += pv->nkeys;
	}

	/* output names: the feature name, or view__feature when it clashes */
	for (int i = 0; i < st->nfeatures; i++)
	{
		PitFeature *f = &st->features[i];
		bool		clash = FindColumn(st->entdesc, f->name) >= 0;

		for (int j = 0; j < st->nfeatures && !clash; j++)
			if (j != i && strcmp(st->features[j].name, f->name) == 0)
				clash = true;
		f->outname = clash ? psprintf("%s__%s", st->views[f->view].name, f->name) : f->name;
		f->outname = MemoryContextStrdup(st->cxt, f->outname);
	}
	for (int i = 0; i < st->nfeatures; i++)
	{
		bool		dup = FindColumn(st->entdesc, st->features[i].outname) >= 0;

		for (int j = 0; j < i && !dup; j++)
			dup = strcmp(st->features[i].outname, st->features[j].outname) == 0;
		if (dup)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_COLUMN),
					 errmsg("result column \"%s\" would appear twice", st->features[i].outname),
					 errhint("Request one version of a view's feature at a time, or rename the entity column.")));
	}

	natts = st->nent + st->nfeatures;
	old = MemoryContextSwitchTo(st->cxt);
	st->outdesc = CreateTemplateTupleDesc(natts);
	for (int i = 0; i < st->nent; i++)
	{
		Form_pg_attribute att = TupleDescAttr(st->entdesc, i);

		TupleDescInitEntry(st->outdesc, i + 1, NameStr(att->attname), att->atttypid,
						   att->atttypmod, 0);
		TupleDescInitEntryCollation(st->outdesc, i + 1, att->attcollation);
	}
	for (int i = 0; i < st->nfeatures; i++)
	{
		PitFeature *f = &st->features[i];
		PitView    *pv = &st->views[f->view];
		Form_pg_attribute att = TupleDescAttr(pv->desc, pv->nkeys + 1 + f->col);

		TupleDescInitEntry(st->outdesc, st->nent + i + 1, f->outname, att->atttypid,
						   att->atttypmod, 0);
		TupleDescInitEntryCollation(st->outdesc, st->nent + i + 1, att->attcollation);
	}
	MemoryContextSwitchTo(old);
}

/* the column definition list of the result: name type, ... */
static char *
ColumnList(TupleDesc desc)
{
	StringInfoData s;

	initStringInfo(&s);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		appendStringInfo(&s, "%s%s %s", i ? ", " : "", quote_identifier(NameStr(att->attname)),
						 format_type_with_typemod(att->atttypid, att->atttypmod));
	}
	return s.data;
}

/*
 * Set up the key hash of each view (before the entity rows are read)
 */
static void
SetupKeyHashes(PitState *st)
{
	MemoryContext old = MemoryContextSwitchTo(st->cxt);

	for (int v = 0; v < st->nviews; v++)
	{
		PitView    *pv = &st->views[v];
		AttrNumber *cols;
		Oid		   *eqfuncs;
		Oid		   *colls;
		FmgrInfo   *hashfns;

		pv->stride = MAXALIGN(pv->nfeat * (sizeof(Datum) + sizeof(bool)));
		if (pv->int_key)
		{
			pv->ihash = pitint_create(st->cxt, 1024, NULL);
			continue;
		}
		pv->keydesc = CreateTemplateTupleDesc(pv->nkeys);
		cols = palloc(sizeof(AttrNumber) * pv->nkeys);
		eqfuncs = palloc(sizeof(Oid) * pv->nkeys);
		colls = palloc(sizeof(Oid) * pv->nkeys);
		hashfns = palloc0(sizeof(FmgrInfo) * pv->nkeys);
		for (int k = 0; k < pv->nkeys; k++)
		{
			Oid			t = pv->ktype[k];
			Oid			coll = TupleDescAttr(pv->desc, k)->attcollation;
			TypeCacheEntry *tc = lookup_type_cache(t, TYPECACHE_EQ_OPR | TYPECACHE_HASH_PROC);

			if (!OidIsValid(tc->eq_opr) || !OidIsValid(tc->hash_proc))
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_FUNCTION),
						 errmsg("join key \"%s\" of feature view \"%s\" has type %s, which cannot be hashed",
								pv->keys[k], pv->name, format_type_be(t))));
			/* the view's collation, or the default one for a key cast to text */
			if (!type_is_collatable(t))
				coll = InvalidOid;
			else if (!OidIsValid(coll))
				coll = DEFAULT_COLLATION_OID;
			TupleDescInitEntry(pv->keydesc, k + 1, pv->keys[k], t, -1, 0);
			TupleDescInitEntryCollation(pv->keydesc, k + 1, coll);
			cols[k] = k + 1;
			eqfuncs[k] = get_opcode(tc->eq_opr);
			colls[k] = coll;
			fmgr_info_cxt(tc->hash_proc, &hashfns[k], st->cxt);
		}
		pv->hash_tmp = AllocSetContextCreate(st->cxt, "pgmlops pit hash", ALLOCSET_SMALL_SIZES);
		pv->thash = BuildTupleHashTableExt(NULL, pv->keydesc, pv->nkeys, cols, eqfuncs, hashfns,
										   colls, 1024, 0, st->cxt, st->cxt, pv->hash_tmp, false);
		pv->keyslot = MakeSingleTupleTableSlot(pv->keydesc, &TTSOpsVirtual);
	}
	MemoryContextSwitchTo(old);
}

/* an integer key Datum of type t as int64 */
static inline int64
IntKey(Datum d, Oid t)
{
	if (t == INT8OID)
		return DatumGetInt64(d);
	if (t == INT4OID)
		return DatumGetInt32(d);
	return DatumGetInt16(d);
}

/*
 * The group of the key in values[first..first + nkeys) (PIT_NO_GROUP when a
 * key is NULL, or when it is new and !insert)
 */
static uint32
KeyGroup(PitView *pv, Datum *values, bool *nulls, int first, bool insert, Oid inttype)
{
	for (int k = 0; k < pv->nkeys; k++)
		if (nulls[first + k])
			return PIT_NO_GROUP;
	if (pv->int_key)
	{
		int64		key = IntKey(values[first], inttype);
		PitIntEntry *e;
		bool		found;

		if (!insert && pv->dense)
			return key < pv->dense_min || key > pv->dense_max ? PIT_NO_GROUP
				: pv->dense[(uint64) key - (uint64) pv->dense_min];
		if (!insert)
		{
			e = pitint_lookup(pv->ihash, key);
			return e ? e->group : PIT_NO_GROUP;
		}
		e = pitint_insert(pv->ihash, key, &found);
		if (!found)
			e->group = pv->ngroups++;
		return e->group;
	}
	else
	{
		TupleTableSlot *slot = pv->keyslot;
		TupleHashEntry e;
		bool		isnew;

		ExecClearTuple(slot);
		memcpy(slot->tts_values, values + first, sizeof(Datum) * pv->nkeys);
		memset(slot->tts_isnull, 0, sizeof(bool) * pv->nkeys);
		ExecStoreVirtualTuple(slot);
		e = LookupTupleHashEntry(pv->thash, slot, insert ? &isnew : NULL, NULL);
		MemoryContextReset(pv->hash_tmp);
		if (e == NULL)
			return PIT_NO_GROUP;
		if (insert && isnew)
			e->additional = (void *) (uintptr_t) pv->ngroups++;
		return (uint32) (uintptr_t) e->additional;
	}
}

/*
 * The capacity a row array grows to from n rows (row numbers stay below
 * PIT_NO_GROUP)
 */
static int64
NextCapacity(int64 n, const char *what)
{
	if (n >= (int64) PIT_NO_GROUP - 1)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("point-in-time join cannot hold more than %u %s", PIT_NO_GROUP - 1, what)));
	return Min(Max(n * 2, 1024), (int64) PIT_NO_GROUP - 1);
}

/* DestReceiver: keep one entity row and the group of its keys per view */
static bool
EntityReceiveSlot(TupleTableSlot *slot, DestReceiver *self)
{
	PitReceiver *pr = (PitReceiver *) self;
	PitState   *st = pr->st;
	MemoryContext old = MemoryContextSwitchTo(st->cxt);
	int64		r = st->nrows;
	Datum	   *values;
	bool	   *nulls;

	slot_getallattrs(slot);
	values = slot->tts_values;
	nulls = slot->tts_isnull;
	if (r >= st->cap)
	{
		int64		cap = NextCapacity(r, "entity rows");

		st->erows = GrowArray(st->cxt, st->erows, cap, sizeof(MinimalTuple));
		st->ets = GrowArray(st->cxt, st->ets, cap, sizeof(TimestampTz));
		st->etsnull = GrowArray(st->cxt, st->etsnull, cap, sizeof(bool));
		for (int v = 0; v < st->nviews; v++)
			st->views[v].egroup = GrowArray(st->cxt, st->views[v].egroup, cap, sizeof(uint32));
		st->cap = cap;
	}
	st->erows[r] = heap_form_minimal_tuple(st->entdesc, values, nulls);
	st->etsnull[r] = nulls[st->nent];
	st->ets[r] = nulls[st->nent] ? 0 : DatumGetTimestampTz(values[st->nent]);
	for (int v = 0; v < st->nviews; v++)
	{
		PitView    *pv = &st->views[v];

		pv->egroup[r] = KeyGroup(pv, values, nulls, pv->ent_keycol, true, pv->eint_type);
	}
	st->nrows = r + 1;
	if (++pr->seen % PIT_CHECK_EVERY == 0)
		CheckMemory(st);
	MemoryContextSwitchTo(old);
	return true;
}

/* DestReceiver: keep one view row whose key an entity row has */
static bool
ViewReceiveSlot(TupleTableSlot *slot, DestReceiver *self)
{
	PitReceiver *pr = (PitReceiver *) self;
	PitState   *st = pr->st;
	PitView    *pv = pr->view;
	MemoryContext old;
	Datum	   *values;
	bool	   *nulls;
	uint32		g;
	int64		r;
	int			nf = pv->nfeat;
	Datum	   *rvals;
	bool	   *rnulls;

	slot_getallattrs(slot);
	values = slot->tts_values;
	nulls = slot->tts_isnull;
	if (++pr->seen % PIT_CHECK_EVERY == 0)
		CheckMemory(st);
	/* a NULL key or feature_ts matches no entity row (as in SQL) */
	if (nulls[pv->nkeys])
		return true;
	g = KeyGroup(pv, values, nulls, 0, false, pv->vint_type);
	if (g == PIT_NO_GROUP)
		return true;

	old = MemoryContextSwitchTo(st->cxt);
	r = pv->nrows;
	if (r >= pv->cap)
	{
		int64		cap = NextCapacity(r, "feature rows per view");

		pv->rgroup = GrowArray(st->cxt, pv->rgroup, cap, sizeof(uint32));
		pv->rts = GrowArray(st->cxt, pv->rts, cap, sizeof(TimestampTz));
		pv->rdata = GrowArray(st->cxt, pv->rdata, cap, pv->stride);
		pv->cap = cap;
	}
	pv->rgroup[r] = g;
	pv->rts[r] = DatumGetTimestampTz(values[pv->nkeys]);
	rvals = PitRowValues(pv, r);
	rnulls = PitRowNulls(pv, r);
	for (int f = 0; f < nf; f++)
	{
		int			c = pv->nkeys + 1 + f;
		Form_pg_attribute att = TupleDescAttr(pv->desc, c);
		Datum		d = values[c];

		rnulls[f] = nulls[c];
		if (nulls[c] || att->attbyval)
			rvals[f] = nulls[c] ? (Datum) 0 : d;
		else if (att->attlen == -1)
			rvals[f] = PointerGetDatum(PG_DETOAST_DATUM_COPY(d));
		else
			rvals[f] = datumCopy(d, false, att->attlen);
	}
	pv->nrows = r + 1;
	MemoryContextSwitchTo(old);
	return true;
}

/* DestReceiver callbacks with nothing to do */
static void
NoStartup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
}

static void
NoShutdown(DestReceiver *self)
{
}

/*
 * Set up a DestReceiver (embedded in a caller's struct) whose only work is
 * receiveSlot; it lives on the caller's stack, so destroying does nothing
 */
void
FeatureStoreReceiverInit(DestReceiver *self,
						 bool (*receive) (TupleTableSlot *slot, DestReceiver *self))
{
	self->receiveSlot = receive;
	self->rStartup = NoStartup;
	self->rShutdown = NoShutdown;
	self->rDestroy = NoShutdown;
	self->mydest = DestNone;
}

/* read rows of sql into the state (view NULL: the entity rows) */
static void
ReadRows(PitState *st, PitView *view, const char *sql, ParamListInfo params)
{
	PitReceiver pr;

	memset(&pr, 0, sizeof(pr));
	FeatureStoreReceiverInit(&pr.pub, view ? ViewReceiveSlot : EntityReceiveSlot);
	pr.st = st;
	pr.view = view;
	FeatureStoreRunQuery(sql, params, (DestReceiver *) &pr);
	CheckMemory(st);
}

/*
 * Read a view's rows.  When the entity rows have few distinct integer keys,
 * the query asks for those keys only (WHERE key = ANY ($1)), so that the
 * planner can use a (key, timestamp) index instead of reading every row.
 */
static void
ReadView(PitState *st, PitView *pv)
{
	char	   *sql = ViewReadQuery(pv);
	ParamListInfo params = NULL;

	if (pv->ngroups == 0)
		return;					/* no entity row has a key: nothing to read */
	if (pv->int_key && pv->ngroups <= PIT_PUSH_KEYS)
	{
		Datum	   *keys = palloc(sizeof(Datum) * pv->ngroups);
		pitint_iterator it;
		PitIntEntry *e;
		int			n = 0;

		pitint_start_iterate(pv->ihash, &it);
		while ((e = pitint_iterate(pv->ihash, &it)) != NULL)
			keys[n++] = Int64GetDatum(e->key);
		params = makeParamList(1);
		params->numParams = 1;
		params->params[0].value = PointerGetDatum(construct_array(keys, n, INT8OID, 8,
																  FLOAT8PASSBYVAL,
																  TYPALIGN_DOUBLE));
		params->params[0].isnull = false;
		params->params[0].pflags = PARAM_FLAG_CONST;
		params->params[0].ptype = INT8ARRAYOID;
		sql = psprintf("%s WHERE %s OPERATOR(pg_catalog.=) ANY ($1)", sql,
					   quote_identifier(pv->keys[0]));
	}
	ReadRows(st, pv, sql, params);
}

/*
 * When a view's integer keys fall in a small range, map them with an array
 * instead of the hash table (called after the entity rows are read)
 */
static void
MakeDense(PitState *st, PitView *pv)
{
	pitint_iterator it;
	PitIntEntry *e;
	int64		lo = PG_INT64_MAX;
	int64		hi = PG_INT64_MIN;
	int64		span;
	uint64		range;

	if (!pv->int_key || pv->ngroups == 0)
		return;
	pitint_start_iterate(pv->ihash, &it);
	while ((e = pitint_iterate(pv->ihash, &it)) != NULL)
	{
		lo = Min(lo, e->key);
		hi = Max(hi, e->key);
	}
	/* keys spread over more than int64 can count stay in the hash table */
	if (pg_sub_s64_overflow(hi, lo, &span))
		return;
	range = (uint64) span + 1;
	if (range > Max((uint64) pv->ngroups * 4, 65536) || range > (uint64) 1 << 28)
		return;
	pv->dense = MemoryContextAllocHuge(st->cxt, sizeof(uint32) * range);
	memset(pv->dense, 0xff, sizeof(uint32) * range);	/* PIT_NO_GROUP */
	pitint_start_iterate(pv->ihash, &it);
	while ((e = pitint_iterate(pv->ihash, &it)) != NULL)
		pv->dense[(uint64) e->key - (uint64) lo] = e->group;
	pv->dense_min = lo;
	pv->dense_max = hi;
}

/*
 * Index a view's rows: a stable counting sort by group, then each group's
 * rows by (feature_ts, read position)
 */
static void
IndexView(PitState *st, PitView *pv)
{
	uint32	   *pos;
	int64		n = pv->nrows;
	Size		gbytes = sizeof(uint32) * ((Size) pv->ngroups + 1);

	pv->gstart = MemoryContextAllocHuge(st->cxt, gbytes);
	memset(pv->gstart, 0, gbytes);
	pv->sorted = MemoryContextAllocHuge(st->cxt, sizeof(PitTs) * Max(n, 1));
	pos = MemoryContextAllocHuge(st->cxt, gbytes);
	CheckMemory(st);

	for (int64 r = 0; r < n; r++)
		pv->gstart[pv->rgroup[r] + 1]++;
	for (uint32 g = 0; g < pv->ngroups; g++)
		pv->gstart[g + 1] += pv->gstart[g];
	memcpy(pos, pv->gstart, gbytes);
	for (int64 r = 0; r < n; r++)
	{
		PitTs	   *t = &pv->sorted[pos[pv->rgroup[r]]++];

		t->ts = pv->rts[r];
		t->row = (uint32) r;
	}
	pfree(pos);
	/* no row kept (no entity key is in the view): nothing was allocated */
	if (pv->rgroup != NULL)
		pfree(pv->rgroup);
	if (pv->rts != NULL)
		pfree(pv->rts);
	pv->rgroup = NULL;
	pv->rts = NULL;

	for (uint32 g = 0; g < pv->ngroups; g++)
	{
		uint32		lo = pv->gstart[g];
		uint32		cnt = pv->gstart[g + 1] - lo;

		if ((g & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		if (cnt > 1)
			SortPitTs(pv->sorted + lo, cnt);
	}
}

/*
 * *cutoff = ts - ttl, computed as timestamptz_mi_interval does (months,
 * then days in the session's time zone, then the time); false when it
 * leaves the timestamp range (which SQL reports as an error), so that the
 * caller can treat the cutoff as none: every row is recent enough
 */
static bool
TtlCutoff(TimestampTz ts, const Interval *ttl, TimestampTz *cutoff)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int			tz;

	if (ttl->month != 0)
	{
		int64		mon;

		if (timestamp2tm(ts, &tz, &tm, &fsec, NULL, NULL) != 0)
			return false;
		mon = (int64) tm.tm_year * MONTHS_PER_YEAR + (tm.tm_mon - 1) - ttl->month;
		if (mon < (int64) INT_MIN || mon > (int64) INT_MAX)
			return false;
		/* floor division: a month before year 1 (tm_year 1 BC is 0) */
		tm.tm_year = (int) (mon >= 0 ? mon / MONTHS_PER_YEAR
							: -((-mon + MONTHS_PER_YEAR - 1) / MONTHS_PER_YEAR));
		tm.tm_mon = (int) (mon - (int64) tm.tm_year * MONTHS_PER_YEAR) + 1;
		/* the 31st of a month less long is its last day */
		if (tm.tm_mday > day_tab[isleap(tm.tm_year)][tm.tm_mon - 1])
			tm.tm_mday = day_tab[isleap(tm.tm_year)][tm.tm_mon - 1];
		tz = DetermineTimeZoneOffset(&tm, session_timezone);
		if (tm2timestamp(&tm, fsec, &tz, &ts) != 0)
			return false;
	}
	if (ttl->day != 0)
	{
		int64		julian;

		if (timestamp2tm(ts, &tz, &tm, &fsec, NULL, NULL) != 0)
			return false;
		julian = (int64) date2j(tm.tm_year, tm.tm_mon, tm.tm_mday) - ttl->day;
		if (julian < 0 || julian > (int64) INT_MAX)
			return false;
		j2date((int) julian, &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
		tz = DetermineTimeZoneOffset(&tm, session_timezone);
		if (tm2timestamp(&tm, fsec, &tz, &ts) != 0)
			return false;
	}
	if (pg_sub_s64_overflow(ts, ttl->time, &ts) || !IS_VALID_TIMESTAMP(ts))
		return false;
	*cutoff = ts;
	return true;
}

/*
 * The row of group g that an event at ts sees: the last with feature_ts
 * <= ts, and >= ts - ttl when the view has a ttl; -1 when none
 */
static int64
FindRow(PitView *pv, uint32 g, TimestampTz ts)
{
	uint32		lo = pv->gstart[g];
	uint32		hi = pv->gstart[g + 1];
	int64		p;

	/* first position in [lo, hi) with sts > ts */
	while (lo < hi)
	{
		uint32		mid = lo + (hi - lo) / 2;

		if (pv->sorted[mid].ts <= ts)
			lo = mid + 1;
		else
			hi = mid;
	}
	p = (int64) lo - 1;
	if (p < (int64) pv->gstart[g])
		return -1;
	if (pv->has_ttl)
	{
		TimestampTz oldest;

		if (TIMESTAMP_NOT_FINITE(ts))
			oldest = ts;
		else if (pv->ttl_fixed)
		{
			if (pg_sub_s64_overflow(ts, pv->ttl_usecs, &oldest))
				oldest = DT_NOBEGIN;
		}
		else if (!TtlCutoff(ts, &pv->ttl, &oldest))
			oldest = DT_NOBEGIN;
		if (pv->sorted[p].ts < oldest)
			return -1;
	}
	return pv->sorted[p].row;
}

/*
 * Find the row each entity row sees in a view.  Entity rows are taken in
 * group order, so that each group's sorted run is searched while it is in
 * the cache; then the index is freed.
 */
static void
ResolveView(PitState *st, PitView *pv)
{
	Size		gbytes = sizeof(uint32) * ((Size) pv->ngroups + 1);
	uint32	   *start = MemoryContextAllocHuge(st->cxt, gbytes);
	uint32	   *eorder;
	uint32		n;

	memset(start, 0, gbytes);
	pv->found = MemoryContextAllocHuge(st->cxt, sizeof(uint32) * Max(st->nrows, 1));
	memset(pv->found, 0xff, sizeof(uint32) * Max(st->nrows, 1));	/* PIT_NO_GROUP */
	for (int64 i = 0; i < st->nrows; i++)
		if (pv->egroup[i] != PIT_NO_GROUP && !st->etsnull[i])
			start[pv->egroup[i] + 1]++;
	for (uint32 g = 0; g < pv->ngroups; g++)
		start[g + 1] += start[g];
	n = start[pv->ngroups];
	eorder = MemoryContextAllocHuge(st->cxt, sizeof(uint32) * Max(n, 1));
	CheckMemory(st);
	for (int64 i = 0; i < st->nrows; i++)
		if (pv->egroup[i] != PIT_NO_GROUP && !st->etsnull[i])
			eorder[start[pv->egroup[i]]++] = (uint32) i;
	/* start[g] is now the end of group g's entity rows */
	for (uint32 g = 0, p = 0; g < pv->ngroups; g++)
	{
		if ((g & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		for (; p < start[g]; p++)
		{
			uint32		i = eorder[p];
			int64		r = FindRow(pv, g, st->ets[i]);

			if (r >= 0)
				pv->found[i] = (uint32) r;
		}
	}
	pfree(eorder);
	pfree(start);
	pfree(pv->sorted);
	pfree(pv->gstart);
	pv->sorted = NULL;
	pv->gstart = NULL;
}

/* join every entity row and write it to the tuplestore */
static void
Emit(PitState *st, Tuplestorestate *ts, TupleDesc desc)
{
	int			natts = st->nent + st->nfeatures;
	Datum	   *values = palloc(sizeof(Datum) * natts);
	bool	   *nulls = palloc(sizeof(bool) * natts);
	TupleTableSlot *slot = MakeSingleTupleTableSlot(st->entdesc, &TTSOpsMinimalTuple);
	uint32	   *rows = palloc(sizeof(uint32) * Max(st->nviews, 1));

	for (int64 i = 0; i < st->nrows; i++)
	{
		if ((i & 4095) == 0)
			CHECK_FOR_INTERRUPTS();
		ExecStoreMinimalTuple(st->erows[i], slot, false);
		slot_getallattrs(slot);
		memcpy(values, slot->tts_values, sizeof(Datum) * st->nent);
		memcpy(nulls, slot->tts_isnull, sizeof(bool) * st->nent);
		for (int v = 0; v < st->nviews; v++)
			rows[v] = st->views[v].found[i];
		for (int f = 0; f < st->nfeatures; f++)
		{
			PitFeature *pf = &st->features[f];
			PitView    *pv = &st->views[pf->view];
			uint32		r = rows[pf->view];
			int			c = st->nent + f;

			if (r == PIT_NO_GROUP)
			{
				values[c] = (Datum) 0;
				nulls[c] = true;
			}
			else
			{
				values[c] = PitRowValues(pv, r)[pf->col];
				nulls[c] = PitRowNulls(pv, r)[pf->col];
			}
		}
		tuplestore_putvalues(ts, desc, values, nulls);
		ExecClearTuple(slot);
	}
	ExecDropSingleTupleTableSlot(slot);
}

/* check the arguments and plan a call (connected to SPI) */
static PitState *
PlanCall(FunctionCallInfo fcinfo, const char *fname)
{
	PitState   *st;
	MemoryContext cxt;
	ArrayType  *refs;

	for (int i = 0; i < 3; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s: entities, features and event_timestamp_column must not be NULL",
							fname)));
	refs = PG_GETARG_ARRAYTYPE_P(1);
	if (ARR_NDIM(refs) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("features must be a one-dimensional array")));

	cxt = AllocSetContextCreate(CurrentMemoryContext, "pgmlops point-in-time join",
								ALLOCSET_DEFAULT_SIZES);
	st = MemoryContextAllocZero(cxt, sizeof(PitState));
	st->cxt = cxt;
	st->fname = fname;
	st->memory_limit = (int64) fs_feature_memory_limit * 1024;
	st->evcol = MemoryContextStrdup(cxt, text_to_cstring(PG_GETARG_TEXT_PP(2)));
	MlSqlSourceInit(&st->src, text_to_cstring(PG_GETARG_TEXT_PP(0)));

	PlanFeatures(st, refs);
	PlanColumns(st);
	return st;
}

/*
 * The point-in-time join of an entity source with feature views
 */
PG_FUNCTION_INFO_V1(get_historical_features);
Datum
get_historical_features(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext caller = CurrentMemoryContext;
	PitState   *st;
	TupleDesc	expected;
	Tuplestorestate *tupstore;
	MemoryContext old;

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		(rsinfo->allowedModes & SFRM_Materialize) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("get_historical_features must be called in a context that accepts a set")));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	st = PlanCall(fcinfo, "get_historical_features");

	/* the caller's column definition list must match the result */
	expected = rsinfo->expectedDesc;
	if (expected == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("get_historical_features needs a column definition list"),
				 errhint("Call it as SELECT * FROM mlops.get_historical_features(...) AS t(%s); mlops.historical_features_columns(...) returns this list.",
						 ColumnList(st->outdesc))));
	for (int i = 0; i < Max(expected->natts, st->outdesc->natts); i++)
	{
		Form_pg_attribute e = i < expected->natts ? TupleDescAttr(expected, i) : NULL;
		Form_pg_attribute o = i < st->outdesc->natts ? TupleDescAttr(st->outdesc, i) : NULL;

		if (e == NULL || o == NULL || e->atttypid != o->atttypid ||
			(e->atttypmod >= 0 && e->atttypmod != o->atttypmod))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("the column definition list does not match the result of get_historical_features"),
					 o == NULL ? errdetail("The list has %d columns, the result %d.",
										   expected->natts, st->outdesc->natts)
					 : errdetail("Column %d is \"%s\" of type %s.", i + 1,
								 NameStr(o->attname),
								 format_type_with_typemod(o->atttypid, o->atttypmod)),
					 errhint("Write AS t(%s).", ColumnList(st->outdesc))));
	}

	SetupKeyHashes(st);
	ReadRows(st, NULL, EntityReadQuery(st), NULL);
	for (int v = 0; v < st->nviews; v++)
	{
		PitView    *pv = &st->views[v];
		long		gmtoff;

		/* days are 24 hours long unless the time zone has DST changes */
		pv->ttl_fixed = pv->has_ttl && pv->ttl.month == 0 &&
			(pv->ttl.day == 0 || pg_get_timezone_offset(session_timezone, &gmtoff)) &&
			!pg_mul_s64_overflow((int64) pv->ttl.day, USECS_PER_DAY, &pv->ttl_usecs) &&
			!pg_add_s64_overflow(pv->ttl_usecs, pv->ttl.time, &pv->ttl_usecs);
		MakeDense(st, &st->views[v]);
		ReadView(st, &st->views[v]);
		IndexView(st, &st->views[v]);
		ResolveView(st, &st->views[v]);
	}

	old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	tupstore = tuplestore_begin_heap((rsinfo->allowedModes & SFRM_Materialize_Random) != 0,
									 false, work_mem);
	expected = CreateTupleDescCopy(expected);
	MemoryContextSwitchTo(old);
	Emit(st, tupstore, expected);

	MemoryContextDelete(st->cxt);
	SPI_finish();
	MemoryContextSwitchTo(caller);

	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = tupstore;
	rsinfo->setDesc = expected;
	return (Datum) 0;
}

/*
 * The column definition list that get_historical_features needs
 */
PG_FUNCTION_INFO_V1(historical_features_columns);
Datum
historical_features_columns(PG_FUNCTION_ARGS)
{
	MemoryContext caller = CurrentMemoryContext;
	PitState   *st;
	char	   *list;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	st = PlanCall(fcinfo, "historical_features_columns");
	list = MemoryContextStrdup(caller, ColumnList(st->outdesc));
	MemoryContextDelete(st->cxt);
	SPI_finish();
	PG_RETURN_TEXT_P(cstring_to_text(list));
}
