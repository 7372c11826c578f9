/*-------------------------------------------------------------------------
 *
 * mlsqltune.c
 *	  mlops.tune: grid or random search over hyperparameters with k-fold
 *	  cross-validation on the training split.  Every candidate is recorded
 *	  in mlops.tune_candidates; the best is refit on the whole training split
 *	  and registered as a version.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/syscache.h"

#include "compat.h"
#include "ml/mlsqltrain.h"

/* comparison of two int64, for qsort */
static int
CompareInt64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

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

		TrainParseParams(ts->alg, cand_json, ts->seed, &cp);
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
			fr = TrainFitEvaluate(ts, &cp, fold_fit, nf, fold_eval, ne, c + 1);
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
	fit = TrainFitEvaluate(ts, &params, ts->train, ts->ntrain, ts->test, ts->ntest, best);
	out->version = TrainRegister(ts, &fit, &params, TrainSeconds(start), tune_id);
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

	TrainRun(fcinfo, &ts, alg_name, TuneBody, &to, &out);
	values[0] = CStringGetTextDatum(ts.model);
	values[1] = Int32GetDatum(out.version);
	values[2] = DirectFunctionCall1(jsonb_in, CStringGetDatum(out.params));
	values[3] = Float8GetDatum(out.cv_score);
	values[4] = DirectFunctionCall1(jsonb_in, CStringGetDatum(out.metrics));
	PG_RETURN_DATUM(TrainResultRow(fcinfo, values));
}
