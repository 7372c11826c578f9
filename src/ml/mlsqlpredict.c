/*-------------------------------------------------------------------------
 *
 * mlsqlpredict.c
 *	  mlops.predict, predict_label, predict_proba and predict_batch.
 *
 * Per-row prediction keeps, in fn_extra, the loaded version, the mapping
 * from the argument's columns to the model's inputs and every buffer, so
 * that a row costs a deform, the preprocessing and one dot product, with
 * no allocation.  The state is rebuilt when the registry generation moves
 * (an alias moved in any session) or the row type changes.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/memutils.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"

#include "compat.h"
#include "ml/mlsql.h"
#include "vector/halfvec.h"
#include "vector/vecdist.h"
#include "vector/vector.h"

/* how one model input column is read from a row's attribute */
typedef struct InputMap
{
	int			attno;			/* 0-based attribute of the row */
	Oid			type;
	Oid			outfunc;		/* for enums and other text-like types */
	char		vec;			/* 'v' vector, 'h' halfvec, else 0 (by type, once) */
} InputMap;

/* per-call-site state */
typedef struct PredictState
{
	MemoryContext cxt;			/* everything below; reset on reload */
	uint64		generation;
	char	   *ref;
	MlLoaded   *m;
	/* row mapping */
	Oid			rowtype;
	int32		rowtypmod;
	int			natts;
	InputMap   *map;
	Datum	   *values;
	bool	   *nulls;
	/* buffers */
	double	   *inputs;			/* n_inputs raw values */
	const double **valptrs;		/* per column, into inputs */
	const char **strs;			/* per column, categorical values */
	char	  **strbufs;		/* per categorical column */
	size_t	   *catlen;			/* bytes kept of a category value */
	double	   *features;		/* n_features */
	double	   *proba;			/* n_classes */
} PredictState;

/* the state for model reference argument 0, (re)loaded when stale */
static PredictState *
GetState(FunctionCallInfo fcinfo)
{
	PredictState *st = (PredictState *) fcinfo->flinfo->fn_extra;
	text	   *reft = PG_GETARG_TEXT_PP(0);
	size_t		len = VARSIZE_ANY_EXHDR(reft);
	MemoryContext cxt;
	uint64		gen;
	MlLoaded   *m;
	int			off = 0;

	MlSqlCacheSync();
	if (st && st->generation == MlSqlCacheGeneration() &&
		strlen(st->ref) == len && memcmp(st->ref, VARDATA_ANY(reft), len) == 0)
		return st;

	gen = MlSqlCacheGeneration();
	m = MlSqlLoad(text_to_cstring(reft));
	if (st != NULL && st->m == m && strlen(st->ref) == len &&
		memcmp(st->ref, VARDATA_ANY(reft), len) == 0)
	{
		/* the same version (a new transaction re-resolved it) */
		st->generation = gen;
		return st;
	}
	if (st == NULL)
	{
		st = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(PredictState));
		st->cxt = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt, "pgmlops predict",
										ALLOCSET_SMALL_SIZES);
	}
	else
	{
		/* buffers are sized by the model: drop them */
		MemoryContextReset(st->cxt);
		st->rowtype = InvalidOid;
		st->natts = 0;
	}
	cxt = st->cxt;
	st->generation = gen;
	st->ref = MemoryContextStrdup(cxt, text_to_cstring(reft));
	st->m = m;
	st->inputs = MemoryContextAllocZero(cxt, sizeof(double) * Max(m->n_inputs, 1));
	st->valptrs = MemoryContextAllocZero(cxt, sizeof(double *) * Max(m->prep.ncols, 1));
	st->strs = MemoryContextAllocZero(cxt, sizeof(char *) * Max(m->prep.ncols, 1));
	st->strbufs = MemoryContextAllocZero(cxt, sizeof(char *) * Max(m->prep.ncols, 1));
	st->catlen = MemoryContextAllocZero(cxt, sizeof(size_t) * Max(m->prep.ncols, 1));
	st->features = MemoryContextAllocZero(cxt, sizeof(double) * Max(m->prep.n_features, 1));
	st->proba = MemoryContextAllocZero(cxt, sizeof(double) * Max(m->n_classes, 1));
	for (int c = 0; c < m->prep.ncols; c++)
	{
		st->valptrs[c] = st->inputs + off;
		off += m->prep.cols[c].width;
		if (m->prep.cols[c].kind == ML_COL_CATEGORICAL)
		{
			/*
			 * Room for the longest category and one byte more: a longer
			 * value, cut there, still matches none of them
			 */
			size_t		longest = 0;

			for (int k = 0; k < m->prep.cols[c].n_categories; k++)
				longest = Max(longest, strlen(m->prep.cols[c].categories[k]));
			st->catlen[c] = longest + 1;
			st->strbufs[c] = MemoryContextAlloc(cxt, longest + 2);
		}
	}
	fcinfo->flinfo->fn_extra = st;
	return st;
}

/* error for a value that does not fit an input column */
static void
MismatchError(const MlPrepColumn *pc, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("feature \"%s\" of the model is %s, but %s was given",
					pc->name, pc->type_name, what)));
}

/* a numeric datum of a type as double */
static double
NumberFromDatum(Datum d, Oid type, const MlPrepColumn *pc)
{
	switch (type)
	{
		case INT2OID:
			return DatumGetInt16(d);
		case INT4OID:
			return DatumGetInt32(d);
		case INT8OID:
			return (double) DatumGetInt64(d);
		case FLOAT4OID:
			return DatumGetFloat4(d);
		case FLOAT8OID:
			return DatumGetFloat8(d);
		case NUMERICOID:
			return DatumGetFloat8(DirectFunctionCall1(numeric_float8, d));
		case BOOLOID:
			return DatumGetBool(d) ? 1.0 : 0.0;
	}
	MismatchError(pc, format_type_be(type));
	return 0;					/* keep compiler quiet */
}

/* store a vector-like datum (vector, halfvec: vec, numeric array) into dst[width] */
static void
VectorFromDatum(Datum d, Oid type, char vec, const MlPrepColumn *pc, double *dst)
{
	if (type == FLOAT4ARRAYOID || type == FLOAT8ARRAYOID)
	{
		ArrayType  *arr = DatumGetArrayTypeP(d);
		int			n = ARR_NDIM(arr) == 0 ? 0 : ARR_DIMS(arr)[0];

		if (ARR_NDIM(arr) > 1 || ARR_HASNULL(arr) || n != pc->width)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("feature \"%s\" takes %d values without NULLs", pc->name, pc->width)));
		for (int k = 0; k < n; k++)
			dst[k] = type == FLOAT4ARRAYOID ? ((float *) ARR_DATA_PTR(arr))[k]
				: ((double *) ARR_DATA_PTR(arr))[k];
		return;
	}
	if (type == INT2ARRAYOID || type == INT4ARRAYOID || type == INT8ARRAYOID ||
		type == NUMERICARRAYOID)
	{
		ArrayType  *arr = DatumGetArrayTypeP(d);
		Oid			elem = ARR_ELEMTYPE(arr);
		int16		typlen;
		bool		typbyval;
		char		typalign;
		Datum	   *elems;
		bool	   *nulls;
		int			n;

		get_typlenbyvalalign(elem, &typlen, &typbyval, &typalign);
		deconstruct_array(arr, elem, typlen, typbyval, typalign, &elems, &nulls, &n);
		if (ARR_NDIM(arr) > 1 || ARR_HASNULL(arr) || n != pc->width)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("feature \"%s\" takes %d values without NULLs", pc->name, pc->width)));
		for (int k = 0; k < n; k++)
			dst[k] = NumberFromDatum(elems[k], elem, pc);
		return;
	}
	if (vec == 'h')
	{
		HalfVector *v = DatumGetHalfVector(d);

		if (v->dim != pc->width)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("feature \"%s\" takes %d dimensions, not %d", pc->name, pc->width, v->dim)));
		for (int k = 0; k < v->dim; k++)
			dst[k] = VecHalfToFloat(v->x[k]);
		return;
	}
	if (vec == 'v')
	{
		Vector	   *v = DatumGetVector(d);

		if (v->dim != pc->width)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("feature \"%s\" takes %d dimensions, not %d", pc->name, pc->width, v->dim)));
		for (int k = 0; k < v->dim; k++)
			dst[k] = v->x[k];
		return;
	}
	MismatchError(pc, format_type_be(type));
}

/* a text-like datum into the column's buffer; returns it */
static const char *
CategoryFromDatum(PredictState *st, int c, Datum d, const InputMap *im)
{
	char	   *s;
	size_t		len;

	if (im->type == TEXTOID || im->type == VARCHAROID || im->type == BPCHAROID)
	{
		text	   *t = DatumGetTextPP(d);

		len = Min(VARSIZE_ANY_EXHDR(t), st->catlen[c]);
		memcpy(st->strbufs[c], VARDATA_ANY(t), len);
		st->strbufs[c][len] = '\0';
		return st->strbufs[c];
	}
	s = OidOutputFunctionCall(im->outfunc, d);
	strlcpy(st->strbufs[c], s, st->catlen[c] + 1);
	pfree(s);
	return st->strbufs[c];
}

/* the row's type is new: map the model's inputs to its attributes */
static void
MapRow(PredictState *st, Oid rowtype, int32 typmod, MemoryContext cxt)
{
	TupleDesc	desc = lookup_rowtype_tupdesc(rowtype, typmod);
	const MlPrep *prep = &st->m->prep;
	bool		by_name = true;

	st->map = MemoryContextAllocZero(cxt, sizeof(InputMap) * Max(prep->ncols, 1));
	for (int c = 0; c < prep->ncols && by_name; c++)
	{
		st->map[c].attno = -1;
		for (int a = 0; a < desc->natts; a++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, a);

			if (!att->attisdropped && strcmp(NameStr(att->attname), prep->cols[c].name) == 0)
				st->map[c].attno = a;
		}
		if (st->map[c].attno < 0)
			by_name = false;
	}
	if (!by_name)
	{
		/* an anonymous ROW(...) of exactly the inputs: by position */
		int			matched = 0;

		for (int c = 0; c < prep->ncols; c++)
			for (int a = 0; a < desc->natts; a++)
				if (strcmp(NameStr(TupleDescAttr(desc, a)->attname), prep->cols[c].name) == 0)
					matched++;
		if (rowtype == RECORDOID && matched == 0 && desc->natts != prep->ncols)
		{
			int			natts = desc->natts;

			ReleaseTupleDesc(desc);
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("model \"%s\" takes %d features, but the row has %d columns",
							st->m->model, prep->ncols, natts)));
		}
		if (rowtype != RECORDOID || matched > 0)
		{
			int			missing = 0;

			for (int c = 0; c < prep->ncols; c++)
				if (st->map[c].attno < 0)
				{
					missing = c;
					break;
				}
			ReleaseTupleDesc(desc);
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("the row has no column \"%s\", a feature of model \"%s\"",
							prep->cols[missing].name, st->m->model),
					 errhint("Pass a row with the model's feature names, or an anonymous ROW() of its %d features in order.",
							 prep->ncols)));
		}
		for (int c = 0; c < prep->ncols; c++)
			st->map[c].attno = c;
	}
	for (int c = 0; c < prep->ncols; c++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, st->map[c].attno);
		MlColumnKind kind;
		bool		isvarlena;

		st->map[c].type = att->atttypid;
		if (!MlSqlColumnKindOf(att->atttypid, &kind) ||
			(kind == ML_COL_CATEGORICAL) != (prep->cols[c].kind == ML_COL_CATEGORICAL) ||
			(kind == ML_COL_VECTOR) != (prep->cols[c].kind == ML_COL_VECTOR))
		{
			char	   *t = format_type_be(att->atttypid);

			ReleaseTupleDesc(desc);
			MismatchError(&prep->cols[c], t);
		}
		if (kind == ML_COL_CATEGORICAL)
			getTypeOutputInfo(att->atttypid, &st->map[c].outfunc, &isvarlena);
		st->map[c].vec = MlSqlIsVectorType(att->atttypid, "vector") ? 'v' :
			MlSqlIsVectorType(att->atttypid, "halfvec") ? 'h' : 0;
	}
	st->natts = desc->natts;
	st->values = MemoryContextAlloc(cxt, sizeof(Datum) * Max(desc->natts, 1));
	st->nulls = MemoryContextAlloc(cxt, sizeof(bool) * Max(desc->natts, 1));
	st->rowtype = rowtype;
	st->rowtypmod = typmod;
	ReleaseTupleDesc(desc);
}

/* fill the inputs from a row */
static void
InputsFromRecord(FunctionCallInfo fcinfo, PredictState *st)
{
	HeapTupleHeader td = PG_GETARG_HEAPTUPLEHEADER(1);
	Oid			rowtype = HeapTupleHeaderGetTypeId(td);
	int32		typmod = HeapTupleHeaderGetTypMod(td);
	HeapTupleData tuple;
	TupleDesc	desc;
	const MlPrep *prep = &st->m->prep;

	if (st->rowtype != rowtype || st->rowtypmod != typmod || st->natts == 0)
		MapRow(st, rowtype, typmod, st->cxt);
	tuple.t_len = HeapTupleHeaderGetDatumLength(td);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = td;
	desc = lookup_rowtype_tupdesc(rowtype, typmod);
	heap_deform_tuple(&tuple, desc, st->values, st->nulls);
	ReleaseTupleDesc(desc);

	for (int c = 0; c < prep->ncols; c++)
	{
		const MlPrepColumn *pc = &prep->cols[c];
		const InputMap *im = &st->map[c];
		double	   *dst = (double *) st->valptrs[c];
		Datum		d = st->values[im->attno];

		st->strs[c] = NULL;
		if (st->nulls[im->attno])
		{
			for (int k = 0; k < pc->width; k++)
				dst[k] = NAN;
			continue;
		}
		switch (pc->kind)
		{
			case ML_COL_NUMERIC:
			case ML_COL_BOOLEAN:
				dst[0] = NumberFromDatum(d, im->type, pc);
				break;
			case ML_COL_CATEGORICAL:
				st->strs[c] = CategoryFromDatum(st, c, d, im);
				break;
			case ML_COL_VECTOR:
				VectorFromDatum(d, im->type, im->vec, pc, dst);
				break;
		}
	}
}

/* fill the inputs from a flat list of numbers in signature order */
static void
InputsFromNumbers(PredictState *st, const double *x, const float *xf, int n)
{
	const MlPrep *prep = &st->m->prep;

	for (int c = 0; c < prep->ncols; c++)
		if (prep->cols[c].kind == ML_COL_CATEGORICAL)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("model \"%s\" has a categorical feature \"%s\"; pass a row or jsonb",
							st->m->model, prep->cols[c].name)));
	if (n != st->m->n_inputs)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("model \"%s\" takes %d features, not %d", st->m->model, st->m->n_inputs, n)));
	for (int i = 0; i < n; i++)
		st->inputs[i] = x ? x[i] : xf[i];
	for (int c = 0; c < prep->ncols; c++)
		st->strs[c] = NULL;
}

/*
 * Fill the inputs from a JSON object keyed by feature name; keys that are
 * not features are an error unless allow_extra (features read by entity)
 */
static void
InputsFromJsonb(PredictState *st, Jsonb *jb, bool allow_extra)
{
	const MlPrep *prep = &st->m->prep;
	int			used = 0;

	if (!JB_ROOT_IS_OBJECT(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("features must be a JSON object keyed by feature name")));
	for (int c = 0; c < prep->ncols; c++)
	{
		const MlPrepColumn *pc = &prep->cols[c];
		double	   *dst = (double *) st->valptrs[c];
		JsonbValue *v = getKeyJsonValueFromContainer(&jb->root, pc->name, strlen(pc->name), NULL);

		st->strs[c] = NULL;
		if (v == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("feature \"%s\" of model \"%s\" is missing from the JSON object",
							pc->name, st->m->model),
					 errhint("Give it as null to have it imputed.")));
		used++;
		if (v->type == jbvNull)
		{
			for (int k = 0; k < pc->width; k++)
				dst[k] = NAN;
			continue;
		}
		switch (pc->kind)
		{
			case ML_COL_NUMERIC:
			case ML_COL_BOOLEAN:
				if (v->type == jbvNumeric)
					dst[0] = DatumGetFloat8(DirectFunctionCall1(numeric_float8,
																NumericGetDatum(v->val.numeric)));
				else if (v->type == jbvBool)
					dst[0] = v->val.boolean ? 1.0 : 0.0;
				else
					MismatchError(pc, "a JSON value that is not a number");
				break;
			case ML_COL_CATEGORICAL:
				if (v->type == jbvString)
				{
					size_t		len = Min((size_t) v->val.string.len, st->catlen[c]);

					memcpy(st->strbufs[c], v->val.string.val, len);
					st->strbufs[c][len] = '\0';
				}
				else if (v->type == jbvNumeric)
					strlcpy(st->strbufs[c], numeric_normalize(v->val.numeric), st->catlen[c] + 1);
				else if (v->type == jbvBool)
					strlcpy(st->strbufs[c], v->val.boolean ? "true" : "false", st->catlen[c] + 1);
				else
					MismatchError(pc, "a JSON value that is not a string");
				st->strs[c] = st->strbufs[c];
				break;
			case ML_COL_VECTOR:
				if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data) ||
					JsonContainerSize(v->val.binary.data) != pc->width)
					MismatchError(pc, "a JSON value that is not an array of that many numbers");
				for (int k = 0; k < pc->width; k++)
				{
					JsonbValue *e = getIthJsonbValueFromContainer(v->val.binary.data, k);

					if (e == NULL || e->type != jbvNumeric)
						MismatchError(pc, "an array holding a non-number");
					dst[k] = DatumGetFloat8(DirectFunctionCall1(numeric_float8,
																NumericGetDatum(e->val.numeric)));
				}
				break;
		}
	}
	if (!allow_extra && used != (int) JB_ROOT_COUNT(jb))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("the JSON object has keys that are not features of model \"%s\"", st->m->model)));
}

/* run the model on st's inputs: the raw prediction (value or class index) */
static double
RunModel(PredictState *st, bool proba)
{
	MlMatrix	x;
	double		out;
	LlmError	err;

	for (int i = 0; i < st->m->n_inputs; i++)
		if (isinf(st->inputs[i]))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("features must be finite")));
	MlPrepTransformRow(&st->m->prep, st->valptrs, st->strs, st->features);
	x.rows = 1;
	x.cols = st->m->prep.n_features;
	x.x = st->features;
	if (proba)
	{
		if (st->m->task != ML_TASK_CLASSIFICATION)
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("model \"%s\" is a %s model; probabilities are for classification",
							st->m->model, MlTaskName(st->m->task))));
		if (MlPredictProba(&st->m->model_obj, &x, st->proba, &err) != LLM_OK)
			MlSqlReport(&err, NULL);
		return 0;
	}
	if (MlPredict(&st->m->model_obj, &x, &out, &err) != LLM_OK)
		MlSqlReport(&err, NULL);
	return out;
}

/* the class label text of a prediction */
static text *
LabelOf(PredictState *st, double pred)
{
	if (st->m->task != ML_TASK_CLASSIFICATION)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("model \"%s\" is a %s model; labels are for classification",
						st->m->model, MlTaskName(st->m->task))));
	return cstring_to_text(st->m->labels[(int) pred]);
}

/* the probabilities as float8[] */
static ArrayType *
ProbaArray(PredictState *st)
{
	Datum	   *d = palloc_array(Datum, st->m->n_classes);

	for (int i = 0; i < st->m->n_classes; i++)
		d[i] = Float8GetDatum(st->proba[i]);
	return construct_array(d, st->m->n_classes, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
}

/* inputs from a real[] or float8[] argument */
static void
InputsFromArray(FunctionCallInfo fcinfo, PredictState *st)
{
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(1);
	int			n = ARR_NDIM(arr) == 0 ? 0 : ARR_DIMS(arr)[0];

	if (ARR_NDIM(arr) > 1 || ARR_HASNULL(arr))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("features must be a one-dimensional array without NULLs")));
	if (ARR_ELEMTYPE(arr) == FLOAT8OID)
		InputsFromNumbers(st, (double *) ARR_DATA_PTR(arr), NULL, n);
	else
		InputsFromNumbers(st, NULL, (float *) ARR_DATA_PTR(arr), n);
}

PG_FUNCTION_INFO_V1(ml_predict_record);
PG_FUNCTION_INFO_V1(ml_predict_array);
PG_FUNCTION_INFO_V1(ml_predict_vector);
PG_FUNCTION_INFO_V1(ml_predict_jsonb);
PG_FUNCTION_INFO_V1(ml_predict_label_record);
PG_FUNCTION_INFO_V1(ml_predict_label_jsonb);
PG_FUNCTION_INFO_V1(ml_predict_label_array);
PG_FUNCTION_INFO_V1(ml_predict_label_vector);
PG_FUNCTION_INFO_V1(ml_predict_proba_record);
PG_FUNCTION_INFO_V1(ml_predict_proba_array);
PG_FUNCTION_INFO_V1(ml_predict_proba_jsonb);
PG_FUNCTION_INFO_V1(ml_predict_proba_vector);

/* mlops.predict(model, record) */
Datum
ml_predict_record(PG_FUNCTION_ARGS)
{
	PredictState *st = GetState(fcinfo);

	InputsFromRecord(fcinfo, st);
	PG_RETURN_FLOAT8(MlSqlPredictionValue(st->m, RunModel(st, false)));
}

/* mlops.predict(model, real[] | float8[]) */
Datum
ml_predict_array(PG_FUNCTION_ARGS)
{
	PredictState *st = GetState(fcinfo);

	InputsFromArray(fcinfo, st);
	PG_RETURN_FLOAT8(MlSqlPredictionValue(st->m, RunModel(st, false)));
}

/* mlops.predict(model, vector) */
Datum
ml_predict_vector(PG_FUNCTION_ARGS)
{
	PredictState *st = GetState(fcinfo);
	Vector	   *v = PG_GETARG_VECTOR_P(1);

	InputsFromNumbers(st, NULL, v->x, v->dim);
	PG_RETURN_FLOAT8(MlSqlPredictionValue(st->m, RunModel(st, false)));
}

/*
 * The features of the jsonb functions (model, features, entity): given,
 * or read from the online store for entity => keys.  NULL when both are
 * NULL (the result is then NULL).
 */
static Jsonb *
FeaturesOrEntity(FunctionCallInfo fcinfo, PredictState *st, bool *by_entity)
{
	Oid			types[2] = {TEXTARRAYOID, JSONBOID};
	Datum		args[2];
	bool		isnull;
	Jsonb	   *features;
	MemoryContext upper = CurrentMemoryContext;

	*by_entity = !PG_ARGISNULL(2);
	if (!PG_ARGISNULL(1) && !PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("give features or entity, not both")));
	if (!PG_ARGISNULL(1))
		return PG_GETARG_JSONB_P(1);
	if (PG_ARGISNULL(2))
		return NULL;
	if (st->m->online_features == (Datum) 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("version %d of model \"%s\" was not trained on a training set of the feature store",
						st->m->version, st->m->model),
				 errhint("Pass its features instead, or train it on a table made by mlops.create_training_set().")));
	if (!JB_ROOT_IS_OBJECT(PG_GETARG_JSONB_P(2)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("entity must be one JSON object of join keys")));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	args[0] = st->m->online_features;
	args[1] = PG_GETARG_DATUM(2);
	/*
	 * The entity's keys, its online features, and each feature again under
	 * view__feature: the name a training set gives a feature whose name
	 * clashes
	 */
	if (SPI_execute_with_args("SELECT $2 OPERATOR(pg_catalog.||) g.feature_values OPERATOR(pg_catalog.||)"
							  " coalesce((SELECT pg_catalog.jsonb_object_agg("
							  "   pg_catalog.split_part(r, '@', 1) OPERATOR(pg_catalog.||) '__'"
							  "     OPERATOR(pg_catalog.||) pg_catalog.substr(r, pg_catalog.strpos(r, ':') + 1),"
							  "   g.feature_values OPERATOR(pg_catalog.->) pg_catalog.substr(r, pg_catalog.strpos(r, ':') + 1))"
							  "   FROM pg_catalog.unnest($1) r), '{}')"
							  " FROM mlops.get_online_features($1, $2) g",
							  2, types, args, NULL, true, 2) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "mlops.get_online_features did not return one row");
	features = DatumGetJsonbP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (isnull)
		elog(ERROR, "mlops.get_online_features returned NULL features");
	features = (Jsonb *) MlSqlCopyVarlena(upper, features);
	SPI_finish();
	return features;
}

/*
 * The state of a jsonb prediction (model, features, entity) with its
 * inputs filled; NULL when the result is NULL
 */
static PredictState *
JsonbInputs(FunctionCallInfo fcinfo)
{
	PredictState *st;
	Jsonb	   *features;
	bool		by_entity;

	if (PG_ARGISNULL(0))
		return NULL;
	st = GetState(fcinfo);
	features = FeaturesOrEntity(fcinfo, st, &by_entity);
	if (features == NULL)
		return NULL;
	InputsFromJsonb(st, features, by_entity);
	return st;
}

/* mlops.predict(model, features jsonb, entity jsonb) */
Datum
ml_predict_jsonb(PG_FUNCTION_ARGS)
{
	PredictState *st = JsonbInputs(fcinfo);

	if (st == NULL)
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(MlSqlPredictionValue(st->m, RunModel(st, false)));
}

/* mlops.predict_label(model, record) */
Datum
ml_predict_label_record(PG_FUNCTION_ARGS)
{
	PredictState *st = GetState(fcinfo);

	InputsFromRecord(fcinfo, st);
	PG_RETURN_TEXT_P(LabelOf(st, RunModel(st, false)));
}

/* mlops.predict_label(model, real[] | float8[]) */
Datum
ml_predict_label_array(PG_FUNCTION_ARGS)
{
	PredictState *st = GetState(fcinfo);

	InputsFromArray(fcinfo, st);
	PG_RETURN_TEXT_P(LabelOf(st, RunModel(st, false)));
}

/* mlops.predict_label(model, vector) */
Datum
ml_predict_label_vector(PG_FUNCTION_ARGS)
{
	PredictState *st = GetState(fcinfo);
	Vector	   *v = PG_GETARG_VECTOR_P(1);

	InputsFromNumbers(st, NULL, v->x, v->dim);
	PG_RETURN_TEXT_P(LabelOf(st, RunModel(st, false)));
}

/* mlops.predict_label(model, features jsonb, entity jsonb) */
Datum
ml_predict_label_jsonb(PG_FUNCTION_ARGS)
{
	PredictState *st = JsonbInputs(fcinfo);

	if (st == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(LabelOf(st, RunModel(st, false)));
}

/* mlops.predict_proba(model, record) */
Datum
ml_predict_proba_record(PG_FUNCTION_ARGS)
{
	PredictState *st = GetState(fcinfo);

	InputsFromRecord(fcinfo, st);
	RunModel(st, true);
	PG_RETURN_ARRAYTYPE_P(ProbaArray(st));
}

/* mlops.predict_proba(model, real[]) */
Datum
ml_predict_proba_array(PG_FUNCTION_ARGS)
{
	PredictState *st = GetState(fcinfo);

	InputsFromArray(fcinfo, st);
	RunModel(st, true);
	PG_RETURN_ARRAYTYPE_P(ProbaArray(st));
}

/* mlops.predict_proba(model, vector) */
Datum
ml_predict_proba_vector(PG_FUNCTION_ARGS)
{
	PredictState *st = GetState(fcinfo);
	Vector	   *v = PG_GETARG_VECTOR_P(1);

	InputsFromNumbers(st, NULL, v->x, v->dim);
	RunModel(st, true);
	PG_RETURN_ARRAYTYPE_P(ProbaArray(st));
}

/* mlops.predict_proba(model, features jsonb, entity jsonb) */
Datum
ml_predict_proba_jsonb(PG_FUNCTION_ARGS)
{
	PredictState *st = JsonbInputs(fcinfo);

	if (st == NULL)
		PG_RETURN_NULL();
	RunModel(st, true);
	PG_RETURN_ARRAYTYPE_P(ProbaArray(st));
}

/* ---------------------------------------------------------- predict_batch */

#define BATCH_ROWS 8192

typedef struct BatchState
{
	MlLoaded   *m;
	ReturnSetInfo *rsinfo;
	bool		has_id;
	int64		rownum;
	double	   *pred;
	int64		pred_cap;
	Datum	   *labels;			/* class labels as text datums */
	text	   *idbuf;			/* the row number as text, reused */
} BatchState;

/* score one batch and emit its rows */
static void
ScoreBatch(MlRawData *raw, Datum *extra, bool *extra_null, int64 nrows, void *arg)
{
	BatchState *bs = (BatchState *) arg;
	MlMatrix	x;
	LlmError	err;

	int			rc;

	if (MlPrepTransform(&bs->m->prep, raw, NULL, nrows, &x, &err) != LLM_OK)
		MlSqlReport(&err, NULL);
	if (nrows > bs->pred_cap)
	{
		bs->pred = bs->pred ? repalloc(bs->pred, sizeof(double) * nrows) : palloc(sizeof(double) * nrows);
		bs->pred_cap = nrows;
	}
	rc = MlPredict(&bs->m->model_obj, &x, bs->pred, &err);
	free(x.x);
	if (rc != LLM_OK)
		MlSqlReport(&err, NULL);
	for (int64 i = 0; i < nrows; i++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, true};

		bs->rownum++;
		if (bs->has_id)
		{
			nulls[0] = extra_null[i];
			values[0] = extra[i];
		}
		else
		{
			char		buf[MAXINT8LEN + 1];
			int			len = pg_lltoa(bs->rownum, buf);

			SET_VARSIZE(bs->idbuf, VARHDRSZ + len);
			memcpy(VARDATA(bs->idbuf), buf, len);
			values[0] = PointerGetDatum(bs->idbuf);
		}
		if (bs->m->task == ML_TASK_CLASSIFICATION)
		{
			int			k = (int) bs->pred[i];

			values[1] = Float8GetDatum(bs->m->labels_numeric ? bs->m->label_values[k] : (double) k);
			values[2] = bs->labels[k];
			nulls[2] = false;
		}
		else
			values[1] = Float8GetDatum(bs->pred[i]);
		tuplestore_putvalues(bs->rsinfo->setResult, bs->rsinfo->setDesc, values, nulls);
	}
}

PG_FUNCTION_INFO_V1(ml_predict_batch);

/*
 * mlops.predict_batch(model, source, id_column)
 */
Datum
ml_predict_batch(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	BatchState	bs = {0};
	MlSqlSource src;
	MlSqlColumn *srccols;
	MlSqlColumn *cols;
	int			nsrc;
	MlRawData  *raw;
	MlSqlRead	rd = {0};
	LlmError	err;
	const MlPrep *prep;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model and source must not be NULL")));
	InitMaterializedSRF(fcinfo, 0);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* the source query may predict too, and flush the cache: a copy */
	bs.m = MlSqlLoadPrivate(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	bs.rsinfo = rsinfo;
	prep = &bs.m->prep;
	bs.idbuf = palloc(VARHDRSZ + MAXINT8LEN + 1);
	bs.labels = palloc_array(Datum, Max(bs.m->n_classes, 1));
	for (int k = 0; k < bs.m->n_classes; k++)
		bs.labels[k] = CStringGetTextDatum(bs.m->labels[k]);
	MlSqlSourceInit(&src, text_to_cstring(PG_GETARG_TEXT_PP(1)));
	srccols = MlSqlDescribe(&src, &nsrc);

	/* the model's inputs among the source's columns */
	cols = palloc0_array(MlSqlColumn, Max(prep->ncols, 1));
	raw = MlSqlHoldRaw();
	if (MlRawInit(raw, prep->ncols, &err) != LLM_OK)
		MlSqlReport(&err, NULL);
	for (int c = 0; c < prep->ncols; c++)
	{
		const MlPrepColumn *pc = &prep->cols[c];
		MlSqlColumn *found = NULL;

		for (int i = 0; i < nsrc; i++)
			if (strcmp(srccols[i].name, pc->name) == 0)
				found = &srccols[i];
		if (found == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("the source has no column \"%s\", a feature of model \"%s\"",
							pc->name, bs.m->model)));
		if ((int) found->kind < 0 ||
			(found->kind == ML_COL_CATEGORICAL) != (pc->kind == ML_COL_CATEGORICAL) ||
			(found->kind == ML_COL_VECTOR) != (pc->kind == ML_COL_VECTOR))
			MismatchError(pc, found->type_name);
		cols[c] = *found;
		/* booleans and numbers read alike; the model's kind decides */
		if (pc->kind != ML_COL_CATEGORICAL && pc->kind != ML_COL_VECTOR &&
			found->kind != ML_COL_BOOLEAN)
			cols[c].kind = ML_COL_NUMERIC;
		raw->cols[c].name = strdup(pc->name);
		raw->cols[c].type_name = strdup(pc->type_name);
		if (raw->cols[c].name == NULL || raw->cols[c].type_name == NULL)
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
		raw->cols[c].kind = pc->kind;
		raw->cols[c].width = pc->width;
	}
	rd.src = &src;
	rd.cols = cols;
	rd.batch_rows = BATCH_ROWS;
	rd.batch_fn = ScoreBatch;
	rd.arg = &bs;
	if (!PG_ARGISNULL(2))
	{
		char	   *id = text_to_cstring(PG_GETARG_TEXT_PP(2));
		bool		found = false;

		for (int i = 0; i < nsrc; i++)
			found |= strcmp(srccols[i].name, id) == 0;
		if (!found)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("id column \"%s\" does not exist in the source", id)));
		bs.has_id = true;
		rd.extra_expr = psprintf("(%s)::text", quote_identifier(text_to_cstring(PG_GETARG_TEXT_PP(2))));
		rd.extra_type = TEXTOID;
	}
	MlSqlReadData(&rd, raw);
	SPI_finish();
	return (Datum) 0;
}
