/*-------------------------------------------------------------------------
 *
 * mlsqltrain.c
 *	  mlops.train and mlops.tune: read the source, split it, learn the
 *	  preprocessing, fit, measure on the held-out rows and register the
 *	  version with its lineage.
 *
 * Phases of one training (each a function below):
 *	 TrainSetup	   resolve the model, task, algorithm, hyperparameters and
 *				   columns, then read every row through SPI (caller's
 *				   privileges) and split
 *	 FitEvaluate   preprocessing + fit on some rows, metrics on others
 *	 Register	   the version row, and a first deployment
 * mlops.tune runs FitEvaluate once per candidate and fold, then once more
 * on the whole training split for the winner.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "catalog/namespace.h"
#include "utils/syscache.h"
#include "catalog/pg_class.h"
#include "commands/sequence.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "compat.h"
#include "ml/mlsql.h"

#define MAX_CLASSES 1000
#define MAX_LABEL_BYTES 255
#define MAX_VECTOR_WIDTH 65536
#define READ_BATCH_ROWS 10000
/* an integer target with at most this many distinct values is a class */
#define MAX_INFERRED_CLASSES 20

static int	train_memory_limit_kb = 1024 * 1024;

/* everything one training has read and decided */
typedef struct TrainSet
{
	char	   *model;
	MlTask		task;
	bool		model_exists;
	MlAlgorithm alg;
	MlSqlSource src;
	int			nfeatures;
	MlSqlColumn *features;
	char	   *target;
	char	   *target_type;
	/* data */
	MlRawData  *raw;
	int64		nrows;			/* rows read */
	int64		nvalid;			/* rows with a target */
	int64	   *valid;			/* their indexes in raw */
	double	   *y;				/* per raw row: value or class index */
	int			n_classes;
	char	  **labels;			/* classification: labels, in SQL order */
	uint64		checksum;
	char	   *snapshot_xmin;	/* of the snapshot the data was read in */
	char	   *snapshot_lsn;
	/* split, as raw row indexes */
	int64	   *train;
	int64		ntrain;
	int64	   *test;
	int64		ntest;
	double		test_fraction;
	int			seed;
} TrainSet;

/* result of fitting on some rows and measuring on others */
typedef struct FitResult
{
	MlModel    *model;
	MlPrep	   *prep;
	char	   *metrics;		/* JSON text, palloc'ed */
	double		score;			/* key metric, NaN when missing */
} FitResult;

/* text argument n, or NULL */
static char *
TextArgOrNull(FunctionCallInfo fcinfo, int n)
{
	return PG_ARGISNULL(n) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(n));
}

/* first column of the single row a query returns, as text; NULL if none */
static char *
QueryText(const char *sql, int nargs, Oid *types, Datum *values)
{
	bool		isnull;
	Datum		d;

	if (SPI_execute_with_args(sql, nargs, types, values, NULL, false, 1) < 0)
		elog(ERROR, "SPI failed: %s", sql);
	if (SPI_processed == 0)
		return NULL;
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		return NULL;
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	(void) d;
}

/* report a core error status */
static inline void
Check(int rc, const LlmError *err, const char *context)
{
	if (rc != LLM_OK)
		MlSqlReport(err, context);
}

/* comparison of two int64, for qsort */
static int
CompareInt64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

/*
 * The task: given, else the model's, else the algorithm's only task, else
 * from the target's type (text, boolean: classification; floating point:
 * regression; integers: classification when they take few values)
 */
static MlTask
ChooseTask(TrainSet *ts, const char *task_arg, const char *alg_name,
		   const MlSqlColumn *target)
{
	char	   *existing;
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	int			task = -1;

	args[0] = CStringGetTextDatum(ts->model);
	existing = QueryText("SELECT task FROM mlops.models WHERE name = $1", 1, argtypes, args);
	ts->model_exists = existing != NULL;
	if (task_arg)
	{
		task = MlTaskFromName(task_arg);
		if (task < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown task \"%s\"", task_arg),
					 errhint("Use regression, classification or clustering.")));
		if (existing && strcmp(existing, task_arg) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("model \"%s\" is a %s model, not %s", ts->model, existing, task_arg)));
		return (MlTask) task;
	}
	if (existing)
		return (MlTask) MlTaskFromName(existing);
	if (target == NULL)
	{
		int			alg = MlAlgorithmFromName(alg_name);

		if (alg >= 0 && !MlAlgorithmSupports((MlAlgorithm) alg, ML_TASK_CLUSTERING))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("algorithm %s needs a target column", alg_name)));
		return ML_TASK_CLUSTERING;
	}
	if (strcmp(alg_name, "auto") != 0)
	{
		int			alg = MlAlgorithmFromName(alg_name);
		int			n = 0;

		for (int t = ML_TASK_REGRESSION; alg >= 0 && t <= ML_TASK_CLUSTERING; t++)
			if (MlAlgorithmSupports((MlAlgorithm) alg, (MlTask) t) && t != ML_TASK_CLUSTERING)
			{
				task = t;
				n++;
			}
		if (n == 1)
			return (MlTask) task;
	}
	switch (target->type)
	{
		case FLOAT4OID:
		case FLOAT8OID:
		case NUMERICOID:
			return ML_TASK_REGRESSION;
		case INT2OID:
		case INT4OID:
		case INT8OID:
			{
				char	   *sql = psprintf("SELECT count(*) FROM (SELECT DISTINCT %s FROM %s LIMIT %d) d",
										   quote_identifier(target->name), ts->src.from,
										   MAX_INFERRED_CLASSES + 1);
				char	   *n = QueryText(sql, 0, NULL, NULL);

				return atoi(n) <= MAX_INFERRED_CLASSES ? ML_TASK_CLASSIFICATION : ML_TASK_REGRESSION;
			}
		default:
			return ML_TASK_CLASSIFICATION;
	}
}

/* the algorithm: named, or the task's default for 'auto' */
static MlAlgorithm
ChooseAlgorithm(const char *name, MlTask task)
{
	int			alg;

	if (strcmp(name, "auto") == 0)
		return task == ML_TASK_REGRESSION ? ML_ALG_LINEAR_REGRESSION :
			task == ML_TASK_CLASSIFICATION ? ML_ALG_LOGISTIC_REGRESSION : ML_ALG_KMEANS;
	alg = MlAlgorithmFromName(name);
	if (alg < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown algorithm \"%s\"", name),
				 errhint("Use auto, linear_regression, lasso, elastic_net, logistic_regression, kmeans or xgboost.")));
	if (!MlAlgorithmSupports((MlAlgorithm) alg, task))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("algorithm %s does not do %s", name, MlTaskName(task))));
	return (MlAlgorithm) alg;
}

/*
 * The number of features of a training set (mlops.create_training_set)
 * that src is, or 0 when it is none
 */
static int
TrainingSetFeatureCount(const MlSqlSource *src)
{
	Oid			types[1] = {OIDOID};
	Datum		args[1];
	char	   *n;

	if (src->is_query || QueryText("SELECT to_regclass('mlops.training_sets')::text", 0, NULL, NULL) == NULL)
		return 0;
	args[0] = ObjectIdGetDatum(src->relid);
	n = QueryText("SELECT jsonb_array_length(features) FROM mlops.training_sets WHERE relid = $1",
				  1, types, args);
	return n ? atoi(n) : 0;
}

/*
 * The feature columns: named ones, or every column but the target (of a
 * training set: its feature columns)
 */
static void
ChooseColumns(TrainSet *ts, ArrayType *features, MlSqlColumn **target_col)
{
	int			ncols;
	MlSqlColumn *cols = MlSqlDescribe(&ts->src, &ncols);

	*target_col = NULL;
	if (ts->target)
	{
		for (int i = 0; i < ncols; i++)
			if (strcmp(cols[i].name, ts->target) == 0)
				*target_col = &cols[i];
		if (*target_col == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("target column \"%s\" does not exist in the source", ts->target)));
	}
	ts->features = palloc0_array(MlSqlColumn, Max(ncols, 1));
	ts->nfeatures = 0;
	if (features)
	{
		Datum	   *elems;
		bool	   *nulls;
		int			n;

		deconstruct_array(features, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
		if (n == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("features must not be an empty array")));
		ts->features = palloc0_array(MlSqlColumn, n);
		for (int k = 0; k < n; k++)
		{
			char	   *name;
			MlSqlColumn *found = NULL;

			if (nulls[k])
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("features must not contain NULL")));
			name = TextDatumGetCString(elems[k]);
			for (int i = 0; i < ncols; i++)
				if (strcmp(cols[i].name, name) == 0)
					found = &cols[i];
			if (found == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("column \"%s\" does not exist in the source", name)));
			if (ts->target && strcmp(name, ts->target) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("the target \"%s\" cannot also be a feature", name)));
			for (int j = 0; j < ts->nfeatures; j++)
				if (strcmp(ts->features[j].name, name) == 0)
					ereport(ERROR,
							(errcode(ERRCODE_DUPLICATE_COLUMN),
							 errmsg("feature \"%s\" is named twice", name)));
			ts->features[ts->nfeatures++] = *found;
		}
	}
	else
	{
		/* a training set's features are its last columns, after the entity's */
		int			nset = TrainingSetFeatureCount(&ts->src);
		int			first = nset > 0 ? Max(ncols - nset, 0) : 0;

		for (int i = first; i < ncols; i++)
			if (!ts->target || strcmp(cols[i].name, ts->target) != 0)
				ts->features[ts->nfeatures++] = cols[i];
		if (ts->nfeatures == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the source has no column besides the target")));
	}
	for (int j = 0; j < ts->nfeatures; j++)
		if ((int) ts->features[j].kind < 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("column \"%s\" has type %s, which cannot be a feature",
							ts->features[j].name, ts->features[j].type_name),
					 errhint("Features are numbers, booleans, text, enums, vectors or numeric arrays; cast or leave out the others.")));
}

/* the dimension of a vector column: of its first non-NULL value */
static int
VectorWidth(const MlSqlSource *src, const MlSqlColumn *col)
{
	const char *q = quote_identifier(col->name);
	char	   *sql = psprintf("SELECT cardinality((%s)::%s) FROM %s WHERE %s IS NOT NULL LIMIT 1",
							   q, MlSqlIsVectorType(col->type, "vector") ? "real[]" :
							   MlSqlIsVectorType(col->type, "halfvec") ? "vector::real[]" : "float8[]",
							   src->from, q);
	char	   *n = QueryText(sql, 0, NULL, NULL);

	if (n == NULL || atoi(n) < 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("vector column \"%s\" has no non-empty value", col->name)));
	if (atoi(n) > MAX_VECTOR_WIDTH)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("vector column \"%s\" has %s dimensions; at most %d are supported",
						col->name, n, MAX_VECTOR_WIDTH)));
	return atoi(n);
}

/* one distinct class label while reading */
typedef struct LabelEntry
{
	char		key[MAX_LABEL_BYTES + 1];
	int			index;
} LabelEntry;

/*
 * The class of every row from the target values read (rows[r] text, or
 * NULL): labels are the distinct values, in the target type's order
 */
static void
LabelRows(TrainSet *ts, Datum *extra, bool *extra_null)
{
	HASHCTL		ctl;
	HTAB	   *seen;
	char		buf[MAX_LABEL_BYTES + 1];
	LabelEntry *e;
	bool		found;
	Datum	   *distinct;
	int			n = 0;
	ArrayType  *arr;
	Oid			argtypes[1] = {TEXTARRAYOID};
	Datum		args[1];
	char	   *sql;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = MAX_LABEL_BYTES + 1;
	ctl.entrysize = sizeof(LabelEntry);
	ctl.hcxt = CurrentMemoryContext;
	seen = hash_create("pgmlops class labels", 64, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	distinct = palloc_array(Datum, MAX_CLASSES);

	/* the distinct labels */
	for (int64 r = 0; r < ts->nrows; r++)
	{
		text	   *t;
		size_t		len;

		if (extra_null[r])
			continue;
		t = DatumGetTextPP(extra[r]);
		len = VARSIZE_ANY_EXHDR(t);
		if (len > MAX_LABEL_BYTES)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("a class label of \"%s\" is longer than %d bytes", ts->target, MAX_LABEL_BYTES)));
		memcpy(buf, VARDATA_ANY(t), len);
		buf[len] = '\0';
		e = hash_search(seen, buf, HASH_ENTER, &found);
		if (!found)
		{
			if (n == MAX_CLASSES)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("target \"%s\" has more than %d classes", ts->target, MAX_CLASSES)));
			distinct[n++] = CStringGetTextDatum(buf);
		}
	}

	/* their order: the target type's, as ORDER BY on the column gives */
	ts->n_classes = n;
	ts->labels = palloc_array(char *, Max(n, 1));
	if (n > 0)
	{
		arr = construct_array(distinct, n, TEXTOID, -1, false, TYPALIGN_INT);
		args[0] = PointerGetDatum(arr);
		sql = psprintf("SELECT l FROM unnest($1) AS l ORDER BY l::%s", ts->target_type);
		if (SPI_execute_with_args(sql, 1, argtypes, args, NULL, true, 0) != SPI_OK_SELECT ||
			SPI_processed != (uint64) n)
			elog(ERROR, "could not order the class labels");
		for (int i = 0; i < n; i++)
		{
			ts->labels[i] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
			e = hash_search(seen, ts->labels[i], HASH_FIND, NULL);
			e->index = i;
		}
	}

	/* each row's class */
	for (int64 r = 0; r < ts->nrows; r++)
	{
		text	   *t;
		size_t		len;

		if (extra_null[r])
			continue;
		t = DatumGetTextPP(extra[r]);
		len = VARSIZE_ANY_EXHDR(t);
		memcpy(buf, VARDATA_ANY(t), len);
		buf[len] = '\0';
		e = hash_search(seen, buf, HASH_FIND, NULL);
		ts->y[r] = e->index;
		ts->valid[ts->nvalid++] = r;
	}
	hash_destroy(seen);
}

/* refuse a training split with a single class */
static void
CheckTrainingClasses(const TrainSet *ts)
{
	int			first = (int) ts->y[ts->train[0]];

	for (int64 i = 1; i < ts->ntrain; i++)
		if ((int) ts->y[ts->train[i]] != first)
			return;
	ereport(ERROR,
			(errcode(ERRCODE_DATA_EXCEPTION),
			 errmsg("the training rows hold a single class of \"%s\"", ts->target),
			 errhint("Classification needs at least two classes among the rows trained on.")));
}

/*
 * Read and split everything mlops.train needs
 */
static void
TrainSetup(TrainSet *ts, FunctionCallInfo fcinfo, int arg_features, int arg_fraction,
		   int arg_seed, int arg_task, const char *alg_name)
{
	MlSqlColumn *target_col;
	MlSqlRead	rd = {0};
	LlmError	err;
	int64	   *tr,
			   *te;
	int64		ntr,
				nte;

	ts->test_fraction = PG_ARGISNULL(arg_fraction) ? 0.2 : PG_GETARG_FLOAT8(arg_fraction);
	if (!(ts->test_fraction >= 0.0 && ts->test_fraction < 1.0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("test_fraction must be at least 0 and below 1")));
	ts->seed = PG_ARGISNULL(arg_seed) ? 0 : PG_GETARG_INT32(arg_seed);

	ChooseColumns(ts, PG_ARGISNULL(arg_features) ? NULL : PG_GETARG_ARRAYTYPE_P(arg_features),
				  &target_col);
	ts->task = ChooseTask(ts, TextArgOrNull(fcinfo, arg_task), alg_name, target_col);
	ts->alg = ChooseAlgorithm(alg_name, ts->task);
	if (ts->task == ML_TASK_CLUSTERING && ts->target)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("clustering takes no target"),
				 errhint("Pass target => NULL.")));
	if (ts->task != ML_TASK_CLUSTERING && !ts->target)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s needs a target column", MlTaskName(ts->task))));
	if (target_col)
	{
		MlColumnKind kind;

		ts->target_type = target_col->type_name;
		if (ts->task == ML_TASK_REGRESSION &&
			!(MlSqlColumnKindOf(target_col->type, &kind) &&
			  (kind == ML_COL_NUMERIC || kind == ML_COL_BOOLEAN)))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("regression needs a numeric target; \"%s\" is %s",
							ts->target, target_col->type_name)));
	}

	/* the raw columns */
	ts->raw = MlSqlHoldRaw();
	if (MlRawInit(ts->raw, ts->nfeatures, &err) != LLM_OK)
		MlSqlReport(&err, NULL);
	for (int c = 0; c < ts->nfeatures; c++)
	{
		MlRawColumn *col = &ts->raw->cols[c];

		col->name = strdup(ts->features[c].name);
		col->type_name = strdup(ts->features[c].type_name);
		if (col->name == NULL || col->type_name == NULL)
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
		col->kind = ts->features[c].kind;
		col->width = col->kind == ML_COL_VECTOR ? VectorWidth(&ts->src, &ts->features[c]) : 1;
	}

	/* read */
	MlSqlProgressPhase("reading", 0, 0);
	rd.src = &ts->src;
	rd.cols = ts->features;
	rd.append = true;
	rd.want_checksum = true;
	rd.batch_rows = READ_BATCH_ROWS;
	rd.memory_limit = (int64) train_memory_limit_kb * 1024;
	if (ts->target)
	{
		rd.extra_expr = psprintf(ts->task == ML_TASK_REGRESSION ? "(%s)::float8" : "(%s)::text",
								 quote_identifier(ts->target));
		rd.extra_type = ts->task == ML_TASK_REGRESSION ? FLOAT8OID : TEXTOID;
	}
	/* lineage: where the data stood when it was read */
	if (SPI_execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text, "
					"CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END",
					true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the snapshot");
	ts->snapshot_xmin = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	ts->snapshot_lsn = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	MlSqlReadData(&rd, ts->raw);
	ts->nrows = rd.rows;
	ts->checksum = rd.checksum;
	if (ts->nrows == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("the source has no rows")));

	/* targets; rows without one are left out */
	ts->valid = palloc_extended(sizeof(int64) * ts->nrows, MCXT_ALLOC_HUGE);
	ts->y = ts->target ? palloc_extended(sizeof(double) * ts->nrows, MCXT_ALLOC_HUGE) : NULL;
	ts->nvalid = 0;
	if (ts->task == ML_TASK_CLASSIFICATION)
		LabelRows(ts, rd.extra, rd.extra_null);
	else
		for (int64 r = 0; r < ts->nrows; r++)
		{
			if (ts->target)
			{
				if (rd.extra_null[r])
					continue;
				ts->y[r] = DatumGetFloat8(rd.extra[r]);
				if (!isfinite(ts->y[r]))
					ereport(ERROR,
							(errcode(ERRCODE_DATA_EXCEPTION),
							 errmsg("target \"%s\" holds a value that is not finite", ts->target)));
			}
			ts->valid[ts->nvalid++] = r;
		}
	if (ts->nvalid == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("the source has no rows with a non-NULL target")));
	if (ts->task == ML_TASK_CLASSIFICATION && ts->n_classes < 2)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("classification needs at least two classes; \"%s\" has %d",
						ts->target, ts->n_classes)));

	/* split */
	if (MlSplit(ts->nvalid, ts->test_fraction, (uint64) (uint32) ts->seed,
				&tr, &ntr, &te, &nte, &err) != LLM_OK)
		MlSqlReport(&err, NULL);
	MlSqlHoldMalloc(tr);
	MlSqlHoldMalloc(te);
	if (ntr == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("no rows left to train on after holding out test_fraction")));
	ts->train = palloc_extended(sizeof(int64) * Max(ntr, 1), MCXT_ALLOC_HUGE);
	ts->test = palloc_extended(sizeof(int64) * Max(nte, 1), MCXT_ALLOC_HUGE);
	for (int64 i = 0; i < ntr; i++)
		ts->train[i] = ts->valid[tr[i]];
	for (int64 i = 0; i < nte; i++)
		ts->test[i] = ts->valid[te[i]];
	ts->ntrain = ntr;
	ts->ntest = nte;
	if (ts->task == ML_TASK_CLASSIFICATION)
		CheckTrainingClasses(ts);
}

/*
 * Learn the preprocessing and fit on rows fit_rows, then measure on
 * eval_rows (the training rows themselves when there are none)
 */
static FitResult
FitEvaluate(const TrainSet *ts, const MlParams *params, const int64 *fit_rows,
			int64 nfit, const int64 *eval_rows, int64 neval, int step)
{
	FitResult	res = {0};
	MlMatrix	xfit,
				xeval;
	MlData		data;
	LlmError	err;
	double	   *pred,
			   *yeval = NULL,
			   *proba = NULL;
	char	   *json;
	const char *key;
	bool		higher;

	if (neval == 0)
	{
		eval_rows = fit_rows;
		neval = nfit;
	}
	MlSqlProgressPhase("preprocessing", ts->nrows, step);
	res.prep = MlSqlHoldPrep();
	Check(MlPrepFit(res.prep, ts->raw, fit_rows, nfit, MlAlgorithmStandardizes(ts->alg),
					ML_ENCODE_ONEHOT, &err), &err, NULL);
	Check(MlPrepTransform(res.prep, ts->raw, fit_rows, nfit, &xfit, &err), &err, NULL);
	MlSqlHoldMalloc(xfit.x);

	data.x = xfit;
	data.n_classes = ts->task == ML_TASK_CLASSIFICATION ? ts->n_classes : 0;
	data.y = NULL;
	if (ts->y)
	{
		data.y = palloc_extended(sizeof(double) * Max(nfit, 1), MCXT_ALLOC_HUGE);
		for (int64 i = 0; i < nfit; i++)
			data.y[i] = ts->y[fit_rows[i]];
	}
	res.model = MlSqlHoldModel();
	MlSqlProgressPhase("fitting", ts->nrows, step);
	Check(MlFit(ts->alg, ts->task, params, &data, res.model, &err), &err, NULL);

	MlSqlProgressPhase("evaluating", ts->nrows, step);
	Check(MlPrepTransform(res.prep, ts->raw, eval_rows, neval, &xeval, &err), &err, NULL);
	MlSqlHoldMalloc(xeval.x);
	pred = palloc_extended(sizeof(double) * neval, MCXT_ALLOC_HUGE);
	Check(MlPredict(res.model, &xeval, pred, &err), &err, NULL);
	if (ts->y)
	{
		yeval = palloc_extended(sizeof(double) * neval, MCXT_ALLOC_HUGE);
		for (int64 i = 0; i < neval; i++)
			yeval[i] = ts->y[eval_rows[i]];
	}
	if (ts->task == ML_TASK_CLASSIFICATION)
	{
		proba = palloc_extended(sizeof(double) * neval * ts->n_classes, MCXT_ALLOC_HUGE);
		Check(MlPredictProba(res.model, &xeval, proba, &err), &err, NULL);
	}
	json = MlMetricsJson(ts->task, neval, yeval, pred, proba,
						 ts->task == ML_TASK_CLUSTERING ? res.model->n_classes : ts->n_classes, &xeval,
						 res.model->centers, (uint64) (uint32) ts->seed, &err);
	if (json == NULL)
		MlSqlReport(&err, NULL);
	res.metrics = pstrdup(json);
	free(json);

	/* the key metric */
	key = MlKeyMetric(ts->task, &higher);
	res.score = NAN;
	{
		Jsonb	   *jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(res.metrics)));
		JsonbValue	k,
				   *v;

		k.type = jbvString;
		k.val.string.val = (char *) key;
		k.val.string.len = strlen(key);
		v = findJsonbValueFromContainer(&jb->root, JB_FOBJECT, &k);
		if (v && v->type == jbvNumeric)
			res.score = DatumGetFloat8(DirectFunctionCall1(numeric_float8,
														   NumericGetDatum(v->val.numeric)));
		if (!higher)
			res.score = -res.score;
	}
	return res;
}

/* escape a C string as a JSON string literal into buf */
static void
AppendJsonString(StringInfo buf, const char *s)
{
	escape_json(buf, s);
}

/* the feature signature as JSON text */
static char *
SignatureJson(const TrainSet *ts)
{
	StringInfoData buf;
	static const char *const kinds[] = {"numeric", "boolean", "categorical", "vector"};

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	for (int c = 0; c < ts->nfeatures; c++)
	{
		appendStringInfoString(&buf, c ? ", {\"name\": " : "{\"name\": ");
		AppendJsonString(&buf, ts->features[c].name);
		appendStringInfoString(&buf, ", \"type\": ");
		AppendJsonString(&buf, ts->features[c].type_name);
		appendStringInfo(&buf, ", \"kind\": \"%s\", \"width\": %d}",
						 kinds[ts->features[c].kind], ts->raw->cols[c].width);
	}
	appendStringInfoChar(&buf, ']');
	return buf.data;
}

/* the class labels as a JSON array, or NULL */
static char *
LabelsJson(const TrainSet *ts)
{
	StringInfoData buf;

	if (ts->task != ML_TASK_CLASSIFICATION)
		return NULL;
	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	for (int i = 0; i < ts->n_classes; i++)
	{
		if (i)
			appendStringInfoString(&buf, ", ");
		AppendJsonString(&buf, ts->labels[i]);
	}
	appendStringInfoChar(&buf, ']');
	return buf.data;
}

/* nullable text Datum */
static Datum
TextOrNull(const char *s, char *nulls, int i)
{
	nulls[i] = s ? ' ' : 'n';
	return s ? CStringGetTextDatum(s) : (Datum) 0;
}

/*
 * Registry rows are written with the privileges of the registry's owner:
 * roles may read the registry but not write it directly, so versions,
 * their numbers and lineage come only from training.  The statements run
 * in between are the glue's own (no user SQL).  An error restores the
 * caller's identity with the transaction's abort.
 */
typedef struct RegistryWriter
{
	Oid			save_uid;
	int			save_sec;
	char	   *caller;			/* the caller's role name */
} RegistryWriter;

/* become the owner of mlops.model_versions */
static void
RegistryWriterBegin(RegistryWriter *rw)
{
	Oid			relid = get_relname_relid("model_versions", get_namespace_oid("mlops", false));
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	GetUserIdAndSecContext(&rw->save_uid, &rw->save_sec);
	rw->caller = GetUserNameFromId(rw->save_uid, false);
	SetUserIdAndSecContext(owner, rw->save_sec | SECURITY_LOCAL_USERID_CHANGE);
}

/* back to the caller */
static void
RegistryWriterEnd(RegistryWriter *rw)
{
	SetUserIdAndSecContext(rw->save_uid, rw->save_sec);
}

/*
 * The training set (mlops.create_training_set) the source is, if any, and
 * its pinned feature references as a text[] literal: the features that
 * mlops.predict(model, entity => keys) fetches online
 */
static void
TrainingSetOf(const TrainSet *ts, char **name, char **refs)
{
	Oid			types[1] = {OIDOID};
	Datum		args[1];
	char	   *exists;

	*name = *refs = NULL;
	if (ts->src.is_query)
		return;
	exists = QueryText("SELECT to_regclass('mlops.training_sets')::text", 0, NULL, NULL);
	if (exists == NULL)
		return;
	args[0] = ObjectIdGetDatum(ts->src.relid);
	if (SPI_execute_with_args("SELECT t.name, (SELECT array_agg(format('%s@%s:%s', e->>'view', e->>'version', e->>'feature')"
							  " ORDER BY o) FROM jsonb_array_elements(t.features) WITH ORDINALITY AS x(e, o))::text"
							  " FROM mlops.training_sets t WHERE t.relid = $1",
							  1, types, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read mlops.training_sets");
	if (SPI_processed == 1)
	{
		*name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		*refs = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	}
}

/*
 * Register the version; deploy it when the model has no production
 * version.  Returns the version number.
 */
static int
Register(const TrainSet *ts, const FitResult *fit, const MlParams *params,
		 double seconds, int64 tune_id)
{
	static const char *sql =
		"INSERT INTO mlops.model_versions (model, version, algorithm, hyperparams, preprocessing,"
		" features, target, target_type, classes, metrics, artifact, source, row_count,"
		" train_rows, test_rows, data_checksum, snapshot_xmin, snapshot_lsn, seed, test_fraction,"
		" extension_version, device, train_seconds, tune_id, training_set, online_features,"
		" created_by)"
		" VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6::jsonb, $7, $8, $9::jsonb, $10::jsonb, $11,"
		" $12, $13, $14, $15, $16, $21::xid8, $22::pg_lsn,"
		" $17, $18, (SELECT extversion FROM pg_extension WHERE extname = 'pgmlops'),"
		" 'cpu', $19, $20, $23, $24::text[], $25)";
	Oid			types[25] = {TEXTOID, INT4OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
		TEXTOID, TEXTOID, TEXTOID, BYTEAOID, TEXTOID, INT8OID, INT8OID, INT8OID, TEXTOID,
	INT4OID, FLOAT8OID, FLOAT8OID, INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		v[25];
	char		n[26];
	RegistryWriter rw;
	char	   *training_set = NULL;
	char	   *online_features = NULL;
	Oid			t1[1] = {TEXTOID};
	Datum		a1[1];
	Oid			t2[2] = {TEXTOID, TEXTOID};
	Datum		a2[2];
	char	   *s;
	int			version;
	uint8_t    *artifact;
	size_t		artifact_len;
	bytea	   *ba;
	char	   *prep_json,
			   *params_json;
	LlmError	err;

	MlSqlProgressPhase("registering", ts->nrows, 0);
	memset(n, ' ', sizeof(n));
	n[25] = '\0';
	TrainingSetOf(ts, &training_set, &online_features);

	/*
	 * The model row, then the next version number (the UPDATE locks the
	 * model row; a concurrent first training of another task loses here)
	 */
	RegistryWriterBegin(&rw);
	a2[0] = CStringGetTextDatum(ts->model);
	a2[1] = CStringGetTextDatum(MlTaskName(ts->task));
	if (SPI_execute_with_args(psprintf("INSERT INTO mlops.models (name, task, owner) VALUES ($1, $2, %s) "
									   "ON CONFLICT (name) DO NOTHING", quote_literal_cstr(rw.caller)),
							  2, t2, a2, NULL, false, 0) < 0)
		elog(ERROR, "could not register model");
	a1[0] = a2[0];
	s = QueryText("UPDATE mlops.models SET last_version = last_version + 1 WHERE name = $1 "
				  "RETURNING last_version || ' ' || task", 1, t1, a1);
	if (s == NULL)
		elog(ERROR, "model \"%s\" vanished", ts->model);
	version = atoi(s);
	if (strcmp(strchr(s, ' ') + 1, MlTaskName(ts->task)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("model \"%s\" is a %s model, not %s", ts->model, strchr(s, ' ') + 1,
						MlTaskName(ts->task))));

	Check(MlModelSave(fit->model, &artifact, &artifact_len, &err), &err, NULL);
	MlSqlHoldMalloc(artifact);
	ba = palloc_extended(VARHDRSZ + artifact_len, MCXT_ALLOC_HUGE);
	SET_VARSIZE(ba, VARHDRSZ + artifact_len);
	memcpy(VARDATA(ba), artifact, artifact_len);
	prep_json = MlPrepToJson(fit->prep, &err);
	if (prep_json == NULL)
		MlSqlReport(&err, NULL);
	MlSqlHoldMalloc(prep_json);
	params_json = MlParamsToJson(ts->alg, params);
	if (params_json == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	MlSqlHoldMalloc(params_json);

	v[0] = a2[0];
	v[1] = Int32GetDatum(version);
	v[2] = CStringGetTextDatum(MlAlgorithmName(ts->alg));
	v[3] = CStringGetTextDatum(params_json);
	v[4] = CStringGetTextDatum(prep_json);
	v[5] = CStringGetTextDatum(SignatureJson(ts));
	v[6] = TextOrNull(ts->target, n, 6);
	v[7] = TextOrNull(ts->target_type, n, 7);
	v[8] = TextOrNull(LabelsJson(ts), n, 8);
	v[9] = CStringGetTextDatum(fit->metrics);
	v[10] = PointerGetDatum(ba);
	v[11] = CStringGetTextDatum(ts->src.text);
	v[12] = Int64GetDatum(ts->nvalid);
	v[13] = Int64GetDatum(ts->ntrain);
	v[14] = Int64GetDatum(ts->ntest);
	v[15] = CStringGetTextDatum(psprintf("%016llx", (unsigned long long) ts->checksum));
	v[16] = Int32GetDatum(ts->seed);
	v[17] = Float8GetDatum(ts->test_fraction);
	v[18] = Float8GetDatum(seconds);
	v[19] = Int64GetDatum(tune_id);
	n[19] = tune_id > 0 ? ' ' : 'n';
	v[20] = TextOrNull(ts->snapshot_xmin, n, 20);
	v[21] = TextOrNull(ts->snapshot_lsn, n, 21);
	v[22] = TextOrNull(training_set, n, 22);
	v[23] = TextOrNull(online_features, n, 23);
	v[24] = CStringGetTextDatum(rw.caller);
	if (SPI_execute_with_args(sql, 25, types, v, n, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not register the model version");
	RegistryWriterEnd(&rw);

	/* a first version goes to production */
	s = QueryText("SELECT version FROM mlops.model_aliases WHERE model = $1 AND alias = 'production'",
				  1, t1, a1);
	if (s == NULL)
	{
		Oid			t3[2] = {TEXTOID, INT4OID};
		Datum		a3[2] = {a1[0], Int32GetDatum(version)};

		if (SPI_execute_with_args("SELECT mlops.deploy($1, $2)", 2, t3, a3, NULL, false, 0) < 0)
			elog(ERROR, "could not deploy the first version");
	}
	return version;
}

/* the hyperparameters: defaults, the JSON object over them, the seed */
static void
ParseParams(MlAlgorithm alg, const char *json, int seed, MlParams *params)
{
	LlmError	err;

	MlParamsDefault(alg, params);
	if (MlParamsParse(alg, json, params, &err) != LLM_OK)
		MlSqlReport(&err, NULL);
	params->seed = (uint64) (uint32) seed;
}

/* jsonb argument as text ('{}' when NULL) */
static char *
JsonbArgText(FunctionCallInfo fcinfo, int n)
{
	if (PG_ARGISNULL(n))
		return pstrdup("{}");
	return JsonbToCString(NULL, &PG_GETARG_JSONB_P(n)->root, 0);
}

/* elapsed seconds since start */
static double
Seconds(instr_time start)
{
	instr_time	now;

	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, start);
	return INSTR_TIME_GET_DOUBLE(now);
}

/* a model name as mlops.models accepts it: [A-Za-z_][A-Za-z0-9_.-]{0,62} */
static bool
ValidModelName(const char *name)
{
	size_t		len = strlen(name);

	if (len == 0 || len > 63 || !(isalpha((unsigned char) name[0]) || name[0] == '_'))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!(isalnum((unsigned char) name[i]) || strchr("_.-", name[i]) != NULL))
			return false;
	return true;
}

/* common start of train and tune: arguments 0-2 are model, source, target */
static void
BeginTraining(TrainSet *ts, FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model and source must not be NULL")));
	ts->model = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (!ValidModelName(ts->model))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid model name \"%s\"", ts->model),
				 errhint("Use at most 63 letters, digits, underscores, dots and hyphens, starting with a letter or underscore (name@N refers to a version when predicting).")));
	ts->target = TextArgOrNull(fcinfo, 2);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	MlSqlSourceInit(&ts->src, text_to_cstring(PG_GETARG_TEXT_PP(1)));
	MlSqlProgressStart(ts->model);
}

/* what train and tune return */
typedef struct TrainOutput
{
	int			version;
	char	   *metrics;
	char	   *params;
	double		cv_score;
} TrainOutput;

/* the part of train or tune that runs connected to SPI */
typedef void (*TrainBodyFn) (FunctionCallInfo fcinfo, TrainSet *ts, const char *alg_name,
							 const void *opts, instr_time start, MemoryContext upper,
							 TrainOutput *out);

/*
 * Connect to SPI, run body with training progress shown, and disconnect;
 * out's strings are in the caller's context
 */
static void
RunTraining(FunctionCallInfo fcinfo, TrainSet *ts, const char *alg_name, TrainBodyFn body,
			const void *opts, TrainOutput *out)
{
	instr_time	start;
	MemoryContext upper = CurrentMemoryContext;

	INSTR_TIME_SET_CURRENT(start);
	BeginTraining(ts, fcinfo);
	PG_TRY();
	{
		body(fcinfo, ts, alg_name, opts, start, upper, out);
	}
	PG_FINALLY();
	{
		MlSqlProgressEnd();
	}
	PG_END_TRY();
	SPI_finish();
}

/* the result row of train or tune */
static Datum
ResultRow(FunctionCallInfo fcinfo, Datum *values)
{
	TupleDesc	desc;
	bool		nulls[8] = {0};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	desc = BlessTupleDesc(desc);
	return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
}

/* the body of mlops.train, between SPI_connect and SPI_finish */
static void
TrainBody(FunctionCallInfo fcinfo, TrainSet *ts, const char *alg_name,
		  const void *opts, instr_time start, MemoryContext upper, TrainOutput *out)
{
	MlParams	params;
	FitResult	fit;

	TrainSetup(ts, fcinfo, 5, 6, 7, 8, alg_name);
	ParseParams(ts->alg, JsonbArgText(fcinfo, 4), ts->seed, &params);
	fit = FitEvaluate(ts, &params, ts->train, ts->ntrain, ts->test, ts->ntest, 0);
	out->version = Register(ts, &fit, &params, Seconds(start), 0);
	out->metrics = MemoryContextStrdup(upper, fit.metrics);
}

PG_FUNCTION_INFO_V1(ml_train);

/*
 * mlops.train(model, source, target, algorithm, hyperparams, features,
 *			   test_fraction, seed, task)
 */
Datum
ml_train(PG_FUNCTION_ARGS)
{
	TrainSet	ts = {0};
	TrainOutput out = {0};
	char	   *alg_name;
	Datum		values[3];

	alg_name = PG_ARGISNULL(3) ? pstrdup("auto") : text_to_cstring(PG_GETARG_TEXT_PP(3));
	RunTraining(fcinfo, &ts, alg_name, TrainBody, NULL, &out);
	values[0] = CStringGetTextDatum(ts.model);
	values[1] = Int32GetDatum(out.version);
	values[2] = DirectFunctionCall1(jsonb_in, CStringGetDatum(out.metrics));
	PG_RETURN_DATUM(ResultRow(fcinfo, values));
}

/* ---------------------------------------------------------------- tune */

/* the search options of mlops.tune */
typedef struct TuneOptions
{
	bool		random;
	int			n_iter;
	int			folds;
} TuneOptions;

/* one hyperparameter dimension of the search space */
typedef struct Dimension
{
	char	   *name;
	int			nvalues;
	char	  **values;			/* JSON texts of the listed values */
	bool		range;			/* {"min":..,"max":..[,"log":true]} */
	double		min,
				max;
	bool		log;
	bool		integer;
} Dimension;

/* parse the search space: {"name": [v, ...] | {"min": a, "max": b, "log": bool}} */
static Dimension *
ParseSearchSpace(Jsonb *space, int *ndims, bool random)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	Dimension  *dims;
	int			n = 0;
	int			cap;

	if (!JB_ROOT_IS_OBJECT(space) || JB_ROOT_COUNT(space) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("search_space must be a non-empty JSON object")));
	cap = JB_ROOT_COUNT(space);
	dims = palloc0_array(Dimension, cap);
	it = JsonbIteratorInit(&space->root);
	tok = JsonbIteratorNext(&it, &v, false);	/* WJB_BEGIN_OBJECT */
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		Dimension  *d;

		if (tok != WJB_KEY)
			continue;
		d = &dims[n++];
		d->name = pnstrdup(v.val.string.val, v.val.string.len);
		tok = JsonbIteratorNext(&it, &v, true);
		if (v.type != jbvBinary)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("search_space entry \"%s\" must be an array of values or an object with min and max",
							d->name)));
		if (JsonContainerIsArray(v.val.binary.data))
		{
			JsonbIterator *ai = JsonbIteratorInit(v.val.binary.data);
			JsonbValue	e;
			int			k = 0;
			int			count = JsonContainerSize(v.val.binary.data);

			if (count == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("search_space entry \"%s\" has no values", d->name)));
			d->values = palloc_array(char *, count);
			while ((tok = JsonbIteratorNext(&ai, &e, true)) != WJB_DONE)
			{
				JsonbValue	wrapped;
				Jsonb	   *jb;

				if (tok != WJB_ELEM)
					continue;
				if (e.type == jbvBinary)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("search_space entry \"%s\" must list scalar values", d->name)));
				wrapped = e;
				jb = JsonbValueToJsonb(&wrapped);
				d->values[k++] = JsonbToCString(NULL, &jb->root, 0);
			}
			d->nvalues = k;
		}
		else
		{
			Jsonb	   *obj = JsonbValueToJsonb(&v);
			JsonbValue *lo,
					   *hi,
					   *lg;

			lo = getKeyJsonValueFromContainer(&obj->root, "min", 3, NULL);
			hi = getKeyJsonValueFromContainer(&obj->root, "max", 3, NULL);
			lg = getKeyJsonValueFromContainer(&obj->root, "log", 3, NULL);
			if (!random)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("grid search needs a list of values for \"%s\"", d->name),
						 errhint("Ranges {\"min\": a, \"max\": b} are for search => 'random'.")));
			if (lo == NULL || hi == NULL || lo->type != jbvNumeric || hi->type != jbvNumeric)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("search_space range \"%s\" needs numeric min and max", d->name)));
			d->range = true;
			d->min = DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(lo->val.numeric)));
			d->max = DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(hi->val.numeric)));
			d->log = lg != NULL && lg->type == jbvBool && lg->val.boolean;
			d->integer = d->min == floor(d->min) && d->max == floor(d->max) && !d->log &&
				strchr(numeric_normalize(lo->val.numeric), '.') == NULL &&
				strchr(numeric_normalize(hi->val.numeric), '.') == NULL;
			if (!(d->min <= d->max) || (d->log && d->min <= 0))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("search_space range \"%s\" needs min <= max (and min > 0 with log)", d->name)));
		}
	}
	*ndims = n;
	return dims;
}

/* the JSON object of candidate number c of a grid, or a random draw */
static char *
CandidateJson(const Dimension *dims, int ndims, int64 c, bool random, uint64 *rng)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (int i = 0; i < ndims; i++)
	{
		const Dimension *d = &dims[i];

		if (i)
			appendStringInfoString(&buf, ", ");
		escape_json(&buf, d->name);
		appendStringInfoString(&buf, ": ");
		if (!random)
		{
			appendStringInfoString(&buf, d->values[c % d->nvalues]);
			c /= d->nvalues;
		}
		else if (!d->range)
			appendStringInfoString(&buf, d->values[PcgBounded(rng, (uint32) d->nvalues)]);
		else
		{
			double		u = PcgUniform(rng);
			double		x = d->log ? exp(log(d->min) + u * (log(d->max) - log(d->min)))
				: d->min + u * (d->max - d->min);

			if (d->integer)
				appendStringInfo(&buf, "%.0f", Min(floor(x), d->max));
			else
				appendStringInfo(&buf, "%.17g", x);
		}
	}
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/* record one candidate */
static void
RecordCandidate(int64 tune_id, int cand, const TrainSet *ts, const char *params_json,
				const char *cv_json, double score, double score_std)
{
	Oid			types[7] = {INT8OID, INT4OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, FLOAT8OID};
	Datum		v[8];
	char		n[9] = "        ";
	Oid			t8[8];
	RegistryWriter rw;

	memcpy(t8, types, sizeof(types));
	t8[7] = FLOAT8OID;
	v[0] = Int64GetDatum(tune_id);
	v[1] = Int32GetDatum(cand);
	v[2] = CStringGetTextDatum(ts->model);
	v[3] = CStringGetTextDatum(MlAlgorithmName(ts->alg));
	v[4] = CStringGetTextDatum(params_json);
	v[5] = CStringGetTextDatum(cv_json);
	v[6] = Float8GetDatum(score);
	v[7] = Float8GetDatum(score_std);
	if (isnan(score))
		n[6] = n[7] = 'n';
	RegistryWriterBegin(&rw);
	if (SPI_execute_with_args("INSERT INTO mlops.tune_candidates (tune_id, candidate, model, algorithm,"
							  " hyperparams, cv_metrics, score, score_std)"
							  " VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7, $8)",
							  8, t8, v, n, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not record a tuning candidate");
	RegistryWriterEnd(&rw);
}

#define MAX_CANDIDATES 1000

/* the body of mlops.tune, between SPI_connect and SPI_finish */
static void
TuneBody(FunctionCallInfo fcinfo, TrainSet *ts, const char *alg_name, const void *opts,
		 instr_time start, MemoryContext upper, TrainOutput *out)
{
	const TuneOptions *to = (const TuneOptions *) opts;
	bool		random = to->random;
	int			n_iter = to->n_iter;
	int			folds = to->folds;
	Dimension  *dims;
	int			ndims;
	int64		ncand;
	uint64		rng;
	int64		tune_id;
	int			best = -1;
	double		best_score = -INFINITY;
	char	   *best_json = NULL;
	double		best_cv = NAN;
	MlParams	params;
	FitResult	fit;
	int64	   *fold_fit;
	int64	   *fold_eval;
	int64	   *perm;

	TrainSetup(ts, fcinfo, 8, 9, 10, 11, alg_name);
	dims = ParseSearchSpace(PG_GETARG_JSONB_P(4), &ndims, random);
	if (random)
		ncand = n_iter;
	else
	{
		ncand = 1;
		for (int i = 0; i < ndims; i++)
		{
			ncand *= dims[i].nvalues;
			if (ncand > MAX_CANDIDATES)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("the grid has more than %d candidates", MAX_CANDIDATES)));
		}
	}
	if (ts->ntrain < folds)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%lld training rows cannot make %d folds", (long long) ts->ntrain, folds)));
	tune_id = DatumGetInt64(DirectFunctionCall1(nextval,
												CStringGetTextDatum("mlops.tune_id_seq")));

	/* folds: a seeded permutation of the training rows, cut in k parts */
	perm = palloc_extended(sizeof(int64) * ts->ntrain, MCXT_ALLOC_HUGE);
	memcpy(perm, ts->train, sizeof(int64) * ts->ntrain);
	PcgSeed(&rng, (uint64) (uint32) ts->seed + 1);
	for (int64 i = ts->ntrain - 1; i > 0; i--)
	{
		int64		j = PcgBounded(&rng, (uint32) (i + 1));
		int64		t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}
	fold_fit = palloc_extended(sizeof(int64) * ts->ntrain, MCXT_ALLOC_HUGE);
	fold_eval = palloc_extended(sizeof(int64) * ts->ntrain, MCXT_ALLOC_HUGE);
	PcgSeed(&rng, (uint64) (uint32) ts->seed + 2);

	for (int c = 0; c < ncand; c++)
	{
		char	   *cand_json = CandidateJson(dims, ndims, c, random, &rng);
		MlParams	cp;
		double		sum = 0,
					sumsq = 0;
		int			nscored = 0;
		StringInfoData cv;
		MemoryContext cand_cxt = AllocSetContextCreate(CurrentMemoryContext, "pgmlops tune candidate",
													   ALLOCSET_DEFAULT_SIZES);
		MemoryContext old;
		double		mean,
					sd;
		char	   *eff;

		ParseParams(ts->alg, cand_json, ts->seed, &cp);
		initStringInfo(&cv);
		appendStringInfoString(&cv, "{\"folds\": [");
		for (int f = 0; f < folds; f++)
		{
			int64		nf = 0,
						ne = 0;
			int64		lo = ts->ntrain * f / folds,
						hi = ts->ntrain * (f + 1) / folds;
			FitResult	fr;

			for (int64 i = 0; i < ts->ntrain; i++)
			{
				if (i >= lo && i < hi)
					fold_eval[ne++] = perm[i];
				else
					fold_fit[nf++] = perm[i];
			}
			/* the row lists must be ascending for the core */
			qsort(fold_fit, nf, sizeof(int64), CompareInt64);
			qsort(fold_eval, ne, sizeof(int64), CompareInt64);
			old = MemoryContextSwitchTo(cand_cxt);
			fr = FitEvaluate(ts, &cp, fold_fit, nf, fold_eval, ne, c + 1);
			MemoryContextSwitchTo(old);
			appendStringInfo(&cv, "%s%s", f ? ", " : "", fr.metrics);
			if (!isnan(fr.score))
			{
				sum += fr.score;
				sumsq += fr.score * fr.score;
				nscored++;
			}
			MemoryContextReset(cand_cxt);
		}
		mean = nscored ? sum / nscored : NAN;
		sd = nscored ? sqrt(Max(sumsq / nscored - mean * mean, 0.0)) : NAN;
		appendStringInfo(&cv, "], \"key_metric\": \"%s\"}", MlKeyMetric(ts->task, NULL));
		eff = MlParamsToJson(ts->alg, &cp);
		RecordCandidate(tune_id, c + 1, ts, eff ? eff : cand_json, cv.data, mean, sd);
		if (!isnan(mean) && (best < 0 || mean > best_score))
		{
			best = c + 1;
			best_score = mean;
			best_cv = mean;
			best_json = pstrdup(eff ? eff : cand_json);
			params = cp;
		}
		free(eff);
		MemoryContextDelete(cand_cxt);
	}
	if (best < 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("no candidate could be scored")));

	/* the winner, refit on the whole training split */
	fit = FitEvaluate(ts, &params, ts->train, ts->ntrain, ts->test, ts->ntest, best);
	out->version = Register(ts, &fit, &params, Seconds(start), tune_id);
	{
		Oid			t2[2] = {INT8OID, INT4OID};
		Datum		a2[2] = {Int64GetDatum(tune_id), Int32GetDatum(best)};
		RegistryWriter rw;

		RegistryWriterBegin(&rw);
		if (SPI_execute_with_args("UPDATE mlops.tune_candidates SET chosen = true"
								  " WHERE tune_id = $1 AND candidate = $2",
								  2, t2, a2, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not mark the chosen candidate");
		RegistryWriterEnd(&rw);
	}
	out->metrics = MemoryContextStrdup(upper, fit.metrics);
	out->params = MemoryContextStrdup(upper, best_json);
	out->cv_score = best_cv;
}

PG_FUNCTION_INFO_V1(ml_tune);

/*
 * mlops.tune(model, source, target, algorithm, search_space, search,
 *			  n_iter, folds, features, test_fraction, seed, task)
 */
Datum
ml_tune(PG_FUNCTION_ARGS)
{
	TrainSet	ts = {0};
	char	   *alg_name;
	char	   *search;
	TuneOptions to;
	TrainOutput out = {0};
	Datum		values[5];

	if (PG_ARGISNULL(3) || PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("algorithm and search_space must not be NULL")));
	alg_name = text_to_cstring(PG_GETARG_TEXT_PP(3));
	search = PG_ARGISNULL(5) ? pstrdup("grid") : text_to_cstring(PG_GETARG_TEXT_PP(5));
	if (strcmp(search, "grid") != 0 && strcmp(search, "random") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown search \"%s\"", search),
				 errhint("Use grid or random.")));
	to.random = strcmp(search, "random") == 0;
	to.n_iter = PG_ARGISNULL(6) ? 10 : PG_GETARG_INT32(6);
	to.folds = PG_ARGISNULL(7) ? 5 : PG_GETARG_INT32(7);
	if (to.folds < 2 || to.folds > 100)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("folds must be between 2 and 100")));
	if (to.random && (to.n_iter < 1 || to.n_iter > MAX_CANDIDATES))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("n_iter must be between 1 and %d", MAX_CANDIDATES)));

	RunTraining(fcinfo, &ts, alg_name, TuneBody, &to, &out);
	values[0] = CStringGetTextDatum(ts.model);
	values[1] = Int32GetDatum(out.version);
	values[2] = DirectFunctionCall1(jsonb_in, CStringGetDatum(out.params));
	values[3] = Float8GetDatum(out.cv_score);
	values[4] = DirectFunctionCall1(jsonb_in, CStringGetDatum(out.metrics));
	PG_RETURN_DATUM(ResultRow(fcinfo, values));
}

/* define the training settings (called from _PG_init) */
void
MlSqlTrainInit(void)
{
	DefineCustomIntVariable("mlops.train_memory_limit",
							"Largest training set mlops.train may hold in memory.",
							"A larger source is refused with an error rather than swapped.",
							&train_memory_limit_kb, 1024 * 1024, 1024, INT_MAX,
							PGC_SUSET, GUC_UNIT_KB, NULL, NULL, NULL);
}
