/*-------------------------------------------------------------------------
 *
 * mlsql.h
 *	  The PostgreSQL side of the ML core: reading training and scoring data
 *	  through SPI, the registry, training progress and the model cache.
 *
 * Only src/ml/mlsql*.c include PostgreSQL headers among src/ml.  Memory
 * the plain-C core malloc()s is tied to a memory context with a reset
 * callback (MlSqlHold*), so an error or a cancel in the middle of training
 * frees it with the context.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMLOPS_ML_MLSQL_H
#define PGMLOPS_ML_MLSQL_H

#include "postgres.h"

#include "fmgr.h"
#include "ml/ml.h"

/* mlsqldata.c --------------------------------------------------------- */

/* A data source: a table or view name, or a query. */
typedef struct MlSqlSource
{
	char	   *text;			/* as the user gave it (lineage) */
	char	   *from;			/* the FROM item: a quoted name or (query) */
	bool		is_query;
	Oid			relid;			/* the relation, when not a query */
} MlSqlSource;

extern void MlSqlSourceInit(MlSqlSource *src, const char *text);

/* refuse a query that is not exactly one SELECT statement */
extern void MlSqlCheckSingleSelect(const char *query);

/* One column to read, with the expression that reads it. */
typedef struct MlSqlColumn
{
	char	   *name;
	Oid			type;
	char	   *type_name;		/* format_type_be */
	MlColumnKind kind;
} MlSqlColumn;

/*
 * The columns of a source, in order (the caller picks features from them).
 * Raises an error for an unsupported type only when such a column is
 * picked (MlSqlColumnKindOf).
 */
extern MlSqlColumn *MlSqlDescribe(const MlSqlSource *src, int *ncols);

/* is type the extension's "vector" or "halfvec" (name) type? */
extern bool MlSqlIsVectorType(Oid type, const char *name);

/* kind of a column type; false when the type cannot be a feature */
extern bool MlSqlColumnKindOf(Oid type, MlColumnKind *kind);

/*
 * Read features (and optionally one extra expression per row: the
 * target or an id, read as text or float8) in batches of batch_rows.
 * For each batch, raw holds exactly the batch's rows (reset between
 * batches) unless append is set, in which case rows accumulate in raw.
 * batch_fn (when not NULL) is called after each batch with that batch's
 * rows and extra values.  Vector widths are
 * fixed by raw's columns when set (prediction) or by the first non-NULL
 * value (training).  The memory limit applies to raw's size.
 */
typedef void (*MlSqlBatchFn) (MlRawData *raw, Datum *extra, bool *extra_null,
							  int64 nrows, void *arg);

typedef struct MlSqlRead
{
	const MlSqlSource *src;
	const MlSqlColumn *cols;	/* feature columns, raw->ncols of them */
	const char *extra_expr;		/* SQL expression over the source, or NULL */
	Oid			extra_type;		/* TEXTOID or FLOAT8OID */
	bool		append;
	int			batch_rows;
	int64		memory_limit;	/* bytes, 0 = none */
	bool		want_checksum;	/* compute checksum (training lineage) */
	MlSqlBatchFn batch_fn;
	void	   *arg;
	/* results */
	int64		rows;
	uint64		checksum;		/* of every value read, in order */
	Datum	   *extra;			/* append mode: one per row */
	bool	   *extra_null;
} MlSqlRead;

extern void MlSqlReadData(MlSqlRead *rd, MlRawData *raw);

/* Raise the ereport for a core error. */
extern void MlSqlReport(const LlmError *err, const char *context) pg_attribute_noreturn();

/* mlsqlmem.c: tie malloc'ed core objects to CurrentMemoryContext */
extern MlRawData *MlSqlHoldRaw(void);
extern MlPrep *MlSqlHoldPrep(void);
extern MlModel *MlSqlHoldModel(void);
extern void *MlSqlHoldMalloc(void *ptr);

/* mlsqltrain.c: the mlops.train_memory_limit setting */
extern void MlSqlTrainInit(void);

/* mlsqlprogress.c ----------------------------------------------------- */

extern void MlSqlProgressInit(void);
extern void MlSqlProgressStart(const char *model);
extern void MlSqlProgressPhase(const char *phase, int64 rows, int step);
extern void MlSqlProgressEnd(void);

/* mlsqlcache.c: loaded versions, shared by predict and predict_batch */

typedef struct MlLoaded
{
	char		model[NAMEDATALEN];
	int			version;
	MlTask		task;
	MlModel		model_obj;
	MlPrep		prep;
	int			n_classes;
	char	  **labels;			/* classification: class labels as text */
	double	   *label_values;	/* their numeric values, when numeric */
	bool		labels_numeric;
	int			n_inputs;		/* raw input values: sum of prep widths */
	Datum		online_features;	/* text[] of the training set's feature
									 * references (view@N:feature), or 0 */
} MlLoaded;

extern void MlSqlCacheInit(void);

/* a copy of a (detoasted) varlena in cxt */
extern void *MlSqlCopyVarlena(MemoryContext cxt, void *ptr);
extern uint64 MlSqlCacheGeneration(void);
/*
 * Before using a cached lookup: make registry changes bump the generation
 * and, at the first call of a statement, take the changes other sessions
 * committed since the last one (a version stays the same within a
 * statement)
 */
extern void MlSqlCacheSync(void);

/*
 * The version a reference (name, name@N, name@alias) names, loaded: from
 * the cache (valid while MlSqlCacheGeneration() holds), or a private copy
 * freed with CurrentMemoryContext
 */
extern MlLoaded *MlSqlLoad(const char *ref);
extern MlLoaded *MlSqlLoadPrivate(const char *ref);

/* the version's value as predict returns it (regression value, numeric
 * label, cluster); raises for text labels */
extern double MlSqlPredictionValue(const MlLoaded *m, double pred);

#endif							/* PGMLOPS_ML_MLSQL_H */
