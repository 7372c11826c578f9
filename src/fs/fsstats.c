/*-------------------------------------------------------------------------
 *
 * fsstats.c
 *	  Feature statistics in one pass over a query, and the distribution
 *	  distances (PSI, KS) that drift detection compares them with.
 *
 * mlops.compute_feature_stats (sql/install/86_stats.sql) resolves a feature
 * view and a source to a query whose columns are the features, already cast
 * by kind: float8 (numbers; epoch seconds for times), float8[] (vectors and
 * arrays: summarized by their L2 norm) or text (categories).  The scan here
 * runs that query through SPI with the caller's privileges into a
 * DestReceiver, so no tuple is copied: each row updates running moments
 * (Welford) and extremes and keeps the numeric value in an array, or counts
 * the category in a hash table.  At the end the moments are recomputed in
 * two passes over the kept values when they are all the values, each
 * numeric array is sorted once, and the 101 percentiles (percentile_cont's
 * interpolation) and a 20-bin equal-width histogram come from the sorted
 * values.
 *
 * Memory is bounded: the numeric columns share maintenance_work_mem (at
 * least 256 MB: 32M values, so a few million rows stay exact); past
 * their share they keep a uniform reservoir sample (fixed seed), so that
 * quantiles and the histogram describe the sample while count, mean, std,
 * min and max stay exact.  A categorical column counts at most
 * FS_STATS_MAX_DISTINCT distinct values exactly; later new values go to
 * "other".
 *
 * Values near the ends of float8's range stay usable: the moments and the
 * histogram are computed on values scaled by a power of two when their
 * span or squares would overflow, and a mean or deviation that does not fit
 * a float8 is left NULL, so that no figure is infinite or NaN (jsonb has
 * neither).
 *
 * The drift side (fs_stats_numeric_drift) rebuilds a piecewise-linear CDF
 * from each snapshot's 101 percentiles and walks both CDFs once, in
 * ascending order.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "common/pg_prng.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/json.h"
#include "utils/memutils.h"

#include "compat.h"

#define FS_STATS_PERCENTILES	101 /* p0..p100 */
#define FS_STATS_BINS			20	/* equal-width histogram bins */
#define FS_STATS_TOP_K			20	/* categories listed by frequency */
#define FS_STATS_MAX_DISTINCT	100000	/* categories counted exactly */
#define FS_STATS_MIN_KEEP		10000	/* numeric values kept at least */
#define FS_STATS_MIN_BUDGET		(INT64CONST(256) * 1024 * 1024) /* bytes */
#define FS_STATS_SEED			UINT64CONST(0x5eed5eed5eed5eed)

/* sort_float8s: an inlined sort of doubles */
#define ST_SORT sort_float8s
#define ST_ELEMENT_TYPE double
#define ST_COMPARE(a, b) ((*(a) > *(b)) - (*(a) < *(b)))
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

/* one category and its count */
typedef struct CatEntry
{
	char	   *key;			/* NUL-terminated, in the column's context */
	uint32		hash;
	char		status;
	int64		count;
} CatEntry;

#define SH_PREFIX cattab
#define SH_ELEMENT_TYPE CatEntry
#define SH_KEY_TYPE char *
#define SH_KEY key
#define SH_HASH_KEY(tb, k) hash_bytes((const unsigned char *) (k), strlen(k))
#define SH_EQUAL(tb, a, b) (strcmp((a), (b)) == 0)
#define SH_STORE_HASH
#define SH_GET_HASH(tb, a) ((a)->hash)
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

typedef enum FsStatsKind
{
	FS_KIND_NUMERIC,			/* float8 */
	FS_KIND_NORM,				/* float8[]: the L2 norm */
	FS_KIND_CATEGORICAL			/* text */
} FsStatsKind;

/* running statistics of one column */
typedef struct FsColumnStats
{
	char	   *name;
	FsStatsKind kind;
	int64		count;			/* non-NULL (and, numeric: finite) values */
	int64		nulls;
	int64		nonfinite;		/* NaN and infinities, counted as missing */
	/* numeric */
	double		mean;			/* Welford */
	double		m2;
	double		std;			/* at the end; NaN when below 2 values */
	double		min;
	double		max;
	double	   *values;			/* kept values (all, or a reservoir) */
	int64		nkept;
	int64		cap;			/* allocated */
	int64		keep_max;		/* reservoir size */
	/* categorical */
	cattab_hash *cats;
	int64		untracked;		/* values of categories past the cap */
	StringInfoData buf;			/* the current value, NUL-terminated */
} FsColumnStats;

/* the scan: a DestReceiver that folds each row into the columns */
typedef struct FsStatsScan
{
	DestReceiver pub;
	int			ncols;
	FsColumnStats *cols;
	int64		rows;
	MemoryContext cxt;			/* the columns' (outlives the query) */
	MemoryContext row_cxt;		/* detoasted values, reset per row */
	pg_prng_state prng;
} FsStatsScan;

/* keep one finite numeric value of a column */
static void
AddNumeric(FsStatsScan *scan, FsColumnStats *col, double v)
{
	double		delta;

	if (!isfinite(v))
	{
		col->nonfinite++;
		return;
	}
	col->count++;
	delta = v - col->mean;
	col->mean += delta / col->count;
	col->m2 += delta * (v - col->mean);
	if (col->count == 1 || v < col->min)
		col->min = v;
	if (col->count == 1 || v > col->max)
		col->max = v;

	if (col->nkept < col->keep_max)
	{
		if (col->nkept >= col->cap)
		{
			int64		cap = Min(Max(col->cap * 2, 1024), col->keep_max);

			col->values = col->cap == 0
				? MemoryContextAllocHuge(scan->cxt, cap * sizeof(double))
				: repalloc_huge(col->values, cap * sizeof(double));
			col->cap = cap;
		}
		col->values[col->nkept++] = v;
	}
	else
	{
		/* reservoir sampling (Algorithm R): value number count replaces a kept one */
		uint64		j = pg_prng_uint64_range(&scan->prng, 0, col->count - 1);

		if (j < (uint64) col->keep_max)
			col->values[j] = v;
	}
}

/* the L2 norm of a float8[] value, false when an element is NULL */
static bool
ArrayNorm(Datum d, double *norm)
{
	ArrayType  *arr = DatumGetArrayTypeP(d);
	int			n = ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));
	const double *x = (const double *) ARR_DATA_PTR(arr);
	double		s = 0;

	if (ARR_HASNULL(arr))
		return false;
	for (int i = 0; i < n; i++)
		s += x[i] * x[i];
	*norm = sqrt(s);
	return true;
}

/* count one category of a column */
static void
AddCategory(FsStatsScan *scan, FsColumnStats *col, Datum d)
{
	text	   *t = DatumGetTextPP(d);
	CatEntry   *e;

	col->count++;
	resetStringInfo(&col->buf);
	appendBinaryStringInfo(&col->buf, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
	e = cattab_lookup(col->cats, col->buf.data);
	if (e == NULL)
	{
		bool		found;

		if (col->cats->members >= FS_STATS_MAX_DISTINCT)
		{
			col->untracked++;
			return;
		}
		e = cattab_insert(col->cats, col->buf.data, &found);
		e->key = MemoryContextStrdup(scan->cxt, col->buf.data);
		e->count = 0;
	}
	e->count++;
}

/* DestReceiver: fold one row into every column */
static bool
ScanReceiveSlot(TupleTableSlot *slot, DestReceiver *self)
{
	FsStatsScan *scan = (FsStatsScan *) self;
	MemoryContext old = MemoryContextSwitchTo(scan->row_cxt);

	slot_getallattrs(slot);
	for (int c = 0; c < scan->ncols; c++)
	{
		FsColumnStats *col = &scan->cols[c];
		Datum		d = slot->tts_values[c];
		double		v;

		if (slot->tts_isnull[c])
		{
			col->nulls++;
			continue;
		}
		switch (col->kind)
		{
			case FS_KIND_NUMERIC:
				AddNumeric(scan, col, DatumGetFloat8(d));
				break;
			case FS_KIND_NORM:
				if (ArrayNorm(d, &v))
					AddNumeric(scan, col, v);
				else
					col->nulls++;
				break;
			case FS_KIND_CATEGORICAL:
				AddCategory(scan, col, d);
				break;
		}
	}
	scan->rows++;
	MemoryContextSwitchTo(old);
	MemoryContextReset(scan->row_cxt);
	if ((scan->rows & 0xFFFF) == 0)
		CHECK_FOR_INTERRUPTS();
	return true;
}

/*
 * DestReceiver startup: set up the columns from the result's types.  The
 * numeric columns share maintenance_work_mem (at least 256 MB) for their
 * kept values.
 */
static void
ScanStartup(DestReceiver *self, int operation, TupleDesc desc)
{
	FsStatsScan *scan = (FsStatsScan *) self;
	MemoryContext old;
	int			nnumeric = 0;
	int64		budget;

	if (scan->cols != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("statistics query must be a single SELECT")));
	old = MemoryContextSwitchTo(scan->cxt);
	scan->ncols = desc->natts;
	scan->cols = palloc0_array(FsColumnStats, Max(desc->natts, 1));
	for (int c = 0; c < desc->natts; c++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, c);
		FsColumnStats *col = &scan->cols[c];

		col->name = pstrdup(NameStr(att->attname));
		switch (att->atttypid)
		{
			case FLOAT8OID:
				col->kind = FS_KIND_NUMERIC;
				nnumeric++;
				break;
			case FLOAT8ARRAYOID:
				col->kind = FS_KIND_NORM;
				nnumeric++;
				break;
			case TEXTOID:
				col->kind = FS_KIND_CATEGORICAL;
				col->cats = cattab_create(scan->cxt, 256, NULL);
				initStringInfo(&col->buf);
				break;
			default:
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("statistics column \"%s\" has type %s", col->name,
								format_type_be(att->atttypid)),
						 errdetail("Statistics read float8, float8[] or text columns.")));
		}
	}
	budget = Max((int64) maintenance_work_mem * 1024, FS_STATS_MIN_BUDGET) / (int64) sizeof(double);
	for (int c = 0; c < scan->ncols; c++)
		scan->cols[c].keep_max = Max(budget / Max(nnumeric, 1), FS_STATS_MIN_KEEP);
	MemoryContextSwitchTo(old);
}

/* DestReceiver callbacks with nothing to do */
static void
ScanShutdown(DestReceiver *self)
{
}

static void
ScanDestroy(DestReceiver *self)
{
}

/*
 * The final mean and std of a column.  When the kept values are all the
 * values, two passes over them: exact where Welford's running update
 * rounds (the mean of 0..100 is 50, not 49.99999999999998), and on values
 * scaled by a power of two (exact) when their squares could overflow.  A
 * figure that does not fit a float8 becomes NaN (stored as NULL).
 */
static void
FinishMoments(FsColumnStats *col)
{
	long double sum = 0,
				m2 = 0,
				mean;
	double		scale = 1;

	if (col->nkept == col->count)
	{
		if (Max(fabs(col->min), fabs(col->max)) > 1e150)
			scale = ldexp(1.0, -ilogb(Max(fabs(col->min), fabs(col->max))));
		for (int64 i = 0; i < col->nkept; i++)
		{
			sum += col->values[i] * scale;
			if ((i & 0xFFFFF) == 0xFFFFF)
				CHECK_FOR_INTERRUPTS();
		}
		mean = sum / col->nkept;
		for (int64 i = 0; i < col->nkept; i++)
		{
			m2 += (col->values[i] * scale - mean) * (col->values[i] * scale - mean);
			if ((i & 0xFFFFF) == 0xFFFFF)
				CHECK_FOR_INTERRUPTS();
		}
		col->mean = (double) mean;
		col->m2 = (double) m2;
	}
	col->std = col->count > 1 ? sqrt(col->m2 / (col->count - 1)) / scale : get_float8_nan();
	col->mean /= scale;
	if (!isfinite(col->mean))
		col->mean = get_float8_nan();
	if (!isfinite(col->std))
		col->std = get_float8_nan();
}

/* append a float8 as JSON (shortest exact form; null when not finite) */
static void
AppendFloat(StringInfo s, double v)
{
	appendStringInfoString(s, isfinite(v) ? float8out_internal(v) : "null");
}

/*
 * Percentile k/m of sorted values, interpolated as percentile_cont; the
 * position k(n-1)/m is exact for integers
 */
static double
Percentile(const double *x, int64 n, int k, int m)
{
	double		pos = (double) k * (n - 1) / m;
	int64		lo = (int64) floor(pos);
	double		frac = pos - lo;
	double		gap;

	if (lo >= n - 1 || frac == 0)
		return x[Min(lo, n - 1)];
	gap = x[lo + 1] - x[lo];
	/* a gap beyond float8's range: the same point, without the difference */
	if (!isfinite(gap))
		return x[lo] * (1 - frac) + x[lo + 1] * frac;
	return x[lo] + frac * gap;
}

/* the 101 percentiles of a column's sorted kept values */
static Datum
PercentileArray(const FsColumnStats *col)
{
	Datum		q[FS_STATS_PERCENTILES];

	for (int k = 0; k < FS_STATS_PERCENTILES; k++)
		q[k] = Float8GetDatum(Percentile(col->values, col->nkept, k, FS_STATS_PERCENTILES - 1));
	return PointerGetDatum(construct_array(q, FS_STATS_PERCENTILES, FLOAT8OID,
										   sizeof(double), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * The equal-width histogram of the kept values between min and max (the
 * last bin includes max): {"edges": [...], "counts": [...]}, plus "sample"
 * when the values are a reservoir sample and "nonfinite" when values were
 * NaN or infinite.  A constant column has one bin.  When max - min, times
 * the bin count, would overflow, the bins are computed on values scaled by
 * 2^-10 (exact), so that the edges and the bins stay finite.
 */
static Datum
HistogramJson(const FsColumnStats *col)
{
	StringInfoData s;
	int			nbins = col->max > col->min ? FS_STATS_BINS : 1;
	int64		counts[FS_STATS_BINS] = {0};
	double		scale = col->max - col->min < DBL_MAX / FS_STATS_BINS ? 1 : ldexp(1.0, -10);
	double		lo = col->min * scale;
	double		span = col->max * scale - lo;

	for (int64 i = 0; i < col->nkept; i++)
	{
		int			b = nbins == 1 ? 0
			: (int) floor((col->values[i] * scale - lo) * nbins / span);

		counts[Min(Max(b, 0), nbins - 1)]++;
		if ((i & 0xFFFFF) == 0xFFFFF)
			CHECK_FOR_INTERRUPTS();
	}
	initStringInfo(&s);
	appendStringInfoString(&s, "{\"edges\": [");
	for (int b = 0; b <= nbins; b++)
	{
		if (b > 0)
			appendStringInfoString(&s, ", ");
		AppendFloat(&s, b == nbins ? col->max : (lo + span * b / nbins) / scale);
	}
	appendStringInfoString(&s, "], \"counts\": [");
	for (int b = 0; b < nbins; b++)
		appendStringInfo(&s, "%s" INT64_FORMAT, b ? ", " : "", counts[b]);
	appendStringInfoChar(&s, ']');
	if (col->nkept < col->count)
		appendStringInfo(&s, ", \"sample\": " INT64_FORMAT, col->nkept);
	if (col->nonfinite > 0)
		appendStringInfo(&s, ", \"nonfinite\": " INT64_FORMAT, col->nonfinite);
	appendStringInfoChar(&s, '}');
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(s.data));
}

/* categories by count descending, then by value */
static int
CompareCatEntries(const void *a, const void *b)
{
	const CatEntry *x = *(const CatEntry *const *) a;
	const CatEntry *y = *(const CatEntry *const *) b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return strcmp(x->key, y->key);
}

/*
 * The top-k categories: {"values": [{"value", "count", "share"}...],
 * "other_count", "other_share", "distinct"}; shares of the non-NULL
 * values; "distinct" is a lower bound when "capped" is true.
 */
static Datum
TopKJson(const FsColumnStats *col)
{
	StringInfoData s;
	CatEntry  **all = palloc_array(CatEntry *, Max(col->cats->members, 1));
	cattab_iterator it;
	CatEntry   *e;
	int64		n = 0;
	int64		listed = 0;
	int			k;

	cattab_start_iterate(col->cats, &it);
	while ((e = cattab_iterate(col->cats, &it)) != NULL)
		all[n++] = e;
	qsort(all, n, sizeof(CatEntry *), CompareCatEntries);
	k = (int) Min(n, FS_STATS_TOP_K);

	initStringInfo(&s);
	appendStringInfoString(&s, "{\"values\": [");
	for (int i = 0; i < k; i++)
	{
		appendStringInfo(&s, "%s{\"value\": ", i ? ", " : "");
		escape_json(&s, all[i]->key);
		appendStringInfo(&s, ", \"count\": " INT64_FORMAT ", \"share\": ", all[i]->count);
		AppendFloat(&s, (double) all[i]->count / col->count);
		appendStringInfoChar(&s, '}');
		listed += all[i]->count;
	}
	appendStringInfo(&s, "], \"other_count\": " INT64_FORMAT ", \"other_share\": ",
					 col->count - listed);
	AppendFloat(&s, (double) (col->count - listed) / col->count);
	appendStringInfo(&s, ", \"distinct\": " INT64_FORMAT, n);
	if (col->untracked > 0)
		appendStringInfoString(&s, ", \"capped\": true");
	appendStringInfoChar(&s, '}');
	pfree(all);
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(s.data));
}

/*
 * Statistics of every column of a query: one row per column with its
 * name, kind, the query's row count, count of values, NULLs, moments,
 * extremes, percentiles, histogram and top-k
 */
PG_FUNCTION_INFO_V1(fs_stats_scan);
Datum
fs_stats_scan(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *query = text_to_cstring(PG_GETARG_TEXT_PP(0));
	FsStatsScan scan;
	SPIExecuteOptions opts;
	MemoryContext cxt;
	int			rc;

	InitMaterializedSRF(fcinfo, 0);
	cxt = AllocSetContextCreate(CurrentMemoryContext, "fs_stats_scan",
								ALLOCSET_DEFAULT_SIZES);
	memset(&scan, 0, sizeof(scan));
	scan.pub.receiveSlot = ScanReceiveSlot;
	scan.pub.rStartup = ScanStartup;
	scan.pub.rShutdown = ScanShutdown;
	scan.pub.rDestroy = ScanDestroy;
	scan.pub.mydest = DestNone;
	scan.cxt = cxt;
	scan.row_cxt = AllocSetContextCreate(cxt, "fs_stats_scan row", ALLOCSET_DEFAULT_SIZES);
	pg_prng_seed(&scan.prng, FS_STATS_SEED);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	memset(&opts, 0, sizeof(opts));
	opts.read_only = true;
	opts.dest = (DestReceiver *) &scan;
	rc = SPI_execute_extended(query, &opts);
	/* a SELECT into a receiver that is not DestSPI reports SPI_OK_UTILITY */
	if (rc != SPI_OK_SELECT && rc != SPI_OK_UTILITY)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("statistics query must return rows")));
	SPI_finish();

	for (int c = 0; c < scan.ncols; c++)
	{
		FsColumnStats *col = &scan.cols[c];
		Datum		values[12];
		bool		nulls[12] = {0};
		bool		numeric = col->kind != FS_KIND_CATEGORICAL;
		int64		missing = col->nulls + col->nonfinite;

		CHECK_FOR_INTERRUPTS();
		values[0] = CStringGetTextDatum(col->name);
		values[1] = CStringGetTextDatum(col->kind == FS_KIND_NUMERIC ? "numeric"
										: col->kind == FS_KIND_NORM ? "l2_norm" : "categorical");
		values[2] = Int64GetDatum(scan.rows);
		values[3] = Int64GetDatum(col->count);
		values[4] = Int64GetDatum(missing);
		nulls[5] = nulls[6] = nulls[7] = nulls[8] = nulls[9] = nulls[10] = nulls[11] = true;
		if (numeric && col->count > 0)
		{
			FinishMoments(col);
			sort_float8s(col->values, col->nkept);
			values[5] = Float8GetDatum(col->mean);
			values[6] = Float8GetDatum(col->std);
			values[7] = Float8GetDatum(col->min);
			values[8] = Float8GetDatum(col->max);
			values[9] = PercentileArray(col);
			values[10] = HistogramJson(col);
			nulls[5] = isnan(col->mean);
			nulls[6] = isnan(col->std);
			nulls[7] = nulls[8] = nulls[9] = nulls[10] = false;
		}
		else if (!numeric && col->count > 0)
		{
			values[11] = TopKJson(col);
			nulls[11] = false;
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	MemoryContextDelete(cxt);
	return (Datum) 0;
}

/*
 * (x - lo) / (hi - lo) for lo <= x <= hi, lo < hi, all finite: computed on
 * halves when the difference overflows
 */
static double
Fraction(double lo, double x, double hi)
{
	if (isfinite(hi - lo))
		return (x - lo) / (hi - lo);
	return (x / 2 - lo / 2) / (hi / 2 - lo / 2);
}

/*
 * A walk along the piecewise-linear CDF whose percentiles (p = k/(n-1))
 * are q, at ascending x: its right-continuous values, or its left limits.
 * Runs of equal percentiles are point masses.  The index only moves
 * forward, so that a walk over m points costs O(n + m).
 */
typedef struct CdfWalk
{
	const double *q;
	int			n;
	bool		left;
	int			k;
} CdfWalk;

/* a walk from the start */
static void
CdfWalkInit(CdfWalk *w, const double *q, int n, bool left)
{
	w->q = q;
	w->n = n;
	w->left = left;
	w->k = 0;
}

/* the CDF (or its left limit) at x, no smaller than the previous x */
static double
CdfAt(CdfWalk *w, double x)
{
	const double *q = w->q;
	int			n = w->n;

	if (w->left ? x <= q[0] : x < q[0])
		return 0;
	if (w->left ? x > q[n - 1] : x >= q[n - 1])
		return 1;
	if (!w->left)
	{
		/* the largest k with q[k] <= x; then q[k] <= x < q[k + 1] */
		while (q[w->k + 1] <= x)
			w->k++;
		return (w->k + Fraction(q[w->k], x, q[w->k + 1])) / (n - 1);
	}
	/* the smallest k with q[k] >= x; then q[k - 1] < x <= q[k] */
	while (q[w->k] < x)
		w->k++;
	return (w->k - 1 + Fraction(q[w->k - 1], x, q[w->k])) / (n - 1);
}

/* the values of a float8[] percentile array, checked */
static double *
PercentileValues(ArrayType *arr, const char *what, int *n)
{
	double	   *q;

	if (ARR_NDIM(arr) != 1 || ARR_HASNULL(arr) || ARR_ELEMTYPE(arr) != FLOAT8OID ||
		ARR_DIMS(arr)[0] != FS_STATS_PERCENTILES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s percentiles must be a one-dimensional float8 array of %d values without NULLs",
						what, FS_STATS_PERCENTILES),
				 errdetail("Statistics snapshots store p0..p100.")));
	*n = ARR_DIMS(arr)[0];
	q = (double *) ARR_DATA_PTR(arr);
	for (int k = 0; k < *n; k++)
		if (!isfinite(q[k]) || (k > 0 && q[k] < q[k - 1]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s percentiles must be finite and ascending", what)));
	return q;
}

/* PSI term of one bin, shares floored at epsilon */
static double
PsiTerm(double expected, double actual)
{
	const double eps = 1e-4;

	expected = Max(expected, eps);
	actual = Max(actual, eps);
	return (actual - expected) * log(actual / expected);
}

/*
 * PSI and KS between a reference and a current numeric distribution, each
 * given by its 101 percentiles.  PSI bins are the reference's deciles
 * (equal edges merged, so ties form one bin whose expected share is its
 * mass); KS is the largest CDF gap over both grids, left limits included,
 * found by merging the grids: O(n).
 */
PG_FUNCTION_INFO_V1(fs_stats_numeric_drift);
Datum
fs_stats_numeric_drift(PG_FUNCTION_ARGS)
{
	int			nr,
				nc;
	double	   *qr = PercentileValues(PG_GETARG_ARRAYTYPE_P(0), "reference", &nr);
	double	   *qc = PercentileValues(PG_GETARG_ARRAYTYPE_P(1), "current", &nc);
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {0};
	double		edges[11];
	int			nedges = 0;
	double		psi = 0,
				ks = 0,
				prev_r = 0,
				prev_c = 0;
	CdfWalk		wr,
				wc,
				wr_left,
				wc_left;
	int			ir = 0,
				ic = 0;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	/* interior deciles of the reference, distinct */
	for (int d = 1; d < 10; d++)
	{
		double		e = Percentile(qr, nr, d, 10);

		if (nedges == 0 || e > edges[nedges - 1])
			edges[nedges++] = e;
	}
	CdfWalkInit(&wr, qr, nr, false);
	CdfWalkInit(&wc, qc, nc, false);
	for (int i = 0; i <= nedges; i++)
	{
		double		fr = i < nedges ? CdfAt(&wr, edges[i]) : 1;
		double		fc = i < nedges ? CdfAt(&wc, edges[i]) : 1;

		psi += PsiTerm(fr - prev_r, fc - prev_c);
		prev_r = fr;
		prev_c = fc;
	}

	/* both grids in ascending order, each point's values and left limits */
	CdfWalkInit(&wr, qr, nr, false);
	CdfWalkInit(&wc, qc, nc, false);
	CdfWalkInit(&wr_left, qr, nr, true);
	CdfWalkInit(&wc_left, qc, nc, true);
	while (ir < nr || ic < nc)
	{
		double		x = ic >= nc || (ir < nr && qr[ir] <= qc[ic]) ? qr[ir++] : qc[ic++];

		ks = Max(ks, fabs(CdfAt(&wr, x) - CdfAt(&wc, x)));
		ks = Max(ks, fabs(CdfAt(&wr_left, x) - CdfAt(&wc_left, x)));
	}
	values[0] = Float8GetDatum(psi);
	values[1] = Float8GetDatum(ks);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
