/*-------------------------------------------------------------------------
 *
 * mlsqltrain.c
 *	  mlops.train: read the source, split it, learn the preprocessing, fit
 *	  and measure on the held-out rows; then register (mlsqlregister.c).
 *
 * Phases of one training:
 *	 TrainSetup		  resolve the model, task, algorithm, hyperparameters and
 *					  columns, then read every row through SPI (caller's
 *					  privileges) and split
 *	 TrainFitEvaluate preprocessing + fit on some rows, metrics on others
 *	 TrainRegister	  the version row, and a first deployment (mlsqlregister.c)
 * mlops.tune (mlsqltune.c) runs TrainFitEvaluate once per candidate and
 * fold, then once more on the whole training split for the winner.
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
#include "ml/mlsqltrain.h"

#define MAX_CLASSES 1000
#define MAX_LABEL_BYTES 255
#define MAX_VECTOR_WIDTH 65536
#define READ_BATCH_ROWS 10000
/* an integer target with at most this many distinct values is a class */
#define MAX_INFERRED_CLASSES 20

static int	train_memory_limit_kb = 1024 * 1024;

/* text argument n, or NULL */
static char *
TextArgOrNull(FunctionCallInfo fcinfo, int n)
{
	return PG_ARGISNULL(n) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(n));
}

/* first column of the single row a query returns, as text; NULL if none */
char *
TrainQueryText(const char *sql, int nargs, Oid *types, Datum *values)
{
	if (SPI_execute_with_args(sql, nargs, types, values, NULL, false, 1) < 0)
		elog(ERROR, "SPI failed: %s", sql);
	if (SPI_processed == 0)
		return NULL;
	/* SPI_getvalue gives NULL for a NULL value */
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
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
	existing = TrainQueryText("SELECT task FROM mlops.models WHERE name = $1", 1, argtypes, args);
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
				char	   *n = TrainQueryText(sql, 0, NULL, NULL);

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

	if (src->is_query || TrainQueryText("SELECT to_regclass('mlops.training_sets')::text", 0, NULL, NULL) == NULL)
		return 0;
	args[0] = ObjectIdGetDatum(src->relid);
	n = TrainQueryText("SELECT jsonb_array_length(features) FROM mlops.training_sets WHERE relid = $1",
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
	char	   *n = TrainQueryText(sql, 0, NULL, NULL);

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

/* a target value (text) as a hash key in buf; too long a label is an error */
static void
LabelKey(const TrainSet *ts, Datum value, char *buf)
{
	text	   *t = DatumGetTextPP(value);
	size_t		len = VARSIZE_ANY_EXHDR(t);

	if (len > MAX_LABEL_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a class label of \"%s\" is longer than %d bytes", ts->target, MAX_LABEL_BYTES)));
	memcpy(buf, VARDATA_ANY(t), len);
	buf[len] = '\0';
}

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
		if (extra_null[r])
			continue;
		LabelKey(ts, extra[r], buf);
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
		if (extra_null[r])
			continue;
		LabelKey(ts, extra[r], buf);
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
void
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
FitResult
TrainFitEvaluate(const TrainSet *ts, const MlParams *params, const int64 *fit_rows,
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

/* the hyperparameters: defaults, the JSON object over them, the seed */
void
TrainParseParams(MlAlgorithm alg, const char *json, int seed, MlParams *params)
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
double
TrainSeconds(instr_time start)
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

/*
 * Connect to SPI, run body with training progress shown, and disconnect;
 * out's strings are in the caller's context
 */
void
TrainRun(FunctionCallInfo fcinfo, TrainSet *ts, const char *alg_name, TrainBodyFn body,
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
Datum
TrainResultRow(FunctionCallInfo fcinfo, Datum *values)
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
	TrainParseParams(ts->alg, JsonbArgText(fcinfo, 4), ts->seed, &params);
	fit = TrainFitEvaluate(ts, &params, ts->train, ts->ntrain, ts->test, ts->ntest, 0);
	out->version = TrainRegister(ts, &fit, &params, TrainSeconds(start), 0);
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
	TrainRun(fcinfo, &ts, alg_name, TrainBody, NULL, &out);
	values[0] = CStringGetTextDatum(ts.model);
	values[1] = Int32GetDatum(out.version);
	values[2] = DirectFunctionCall1(jsonb_in, CStringGetDatum(out.metrics));
	PG_RETURN_DATUM(TrainResultRow(fcinfo, values));
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
