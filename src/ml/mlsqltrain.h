/*-------------------------------------------------------------------------
 *
 * mlsqltrain.h
 *	  What the phases of mlops.train and mlops.tune share: the training
 *	  set, a fit's result, and the functions of each phase's file.
 *
 *	 mlsqltrain.c	  reading and splitting the source, preprocessing + fit +
 *					  metrics (TrainFitEvaluate), running a training, mlops.train
 *	 mlsqlregister.c  the version row with its lineage, as the registry's owner
 *	 mlsqltune.c	  mlops.tune: search space, k-fold cross-validation
 *
 * Internal to src/ml/mlsql*.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMLOPS_ML_MLSQLTRAIN_H
#define PGMLOPS_ML_MLSQLTRAIN_H

#include "portability/instr_time.h"
#include "utils/palloc.h"

#include "ml/mlsql.h"

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
 * Registry rows are written with the privileges of the registry's owner
 * (mlsqlregister.c): see RegistryWriterBegin
 */
typedef struct RegistryWriter
{
	Oid			save_uid;
	int			save_sec;
	char	   *caller;			/* the caller's role name */
} RegistryWriter;

/* report a core error status */
static inline void
Check(int rc, const LlmError *err, const char *context)
{
	if (rc != LLM_OK)
		MlSqlReport(err, context);
}

/* mlsqltrain.c */
extern void TrainSetup(TrainSet *ts, FunctionCallInfo fcinfo, int arg_features,
					   int arg_fraction, int arg_seed, int arg_task, const char *alg_name);
extern char *TrainQueryText(const char *sql, int nargs, Oid *types, Datum *values);
extern FitResult TrainFitEvaluate(const TrainSet *ts, const MlParams *params,
								  const int64 *fit_rows, int64 nfit,
								  const int64 *eval_rows, int64 neval, int step);
extern void TrainParseParams(MlAlgorithm alg, const char *json, int seed, MlParams *params);
extern double TrainSeconds(instr_time start);
extern void TrainRun(FunctionCallInfo fcinfo, TrainSet *ts, const char *alg_name,
					 TrainBodyFn body, const void *opts, TrainOutput *out);
extern Datum TrainResultRow(FunctionCallInfo fcinfo, Datum *values);

/* mlsqlregister.c */
extern void RegistryWriterBegin(RegistryWriter *rw);
extern void RegistryWriterEnd(RegistryWriter *rw);
extern int	TrainRegister(const TrainSet *ts, const FitResult *fit, const MlParams *params,
						  double seconds, int64 tune_id);

#endif							/* PGMLOPS_ML_MLSQLTRAIN_H */
