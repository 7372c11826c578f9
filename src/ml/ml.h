/*-------------------------------------------------------------------------
 *
 * ml.h
 *	  The machine-learning core: datasets, preprocessing, algorithms,
 *	  metrics and model artifacts, in plain C.
 *
 * Like the inference engine (src/llm/llm.h, whose error convention and
 * interrupt hook it shares), src/ml/ includes no PostgreSQL header: it owns
 * its memory (malloc/free), never exits or prints, and every fallible
 * function returns LLM_OK or an LLM_ERR_* code with a message in an
 * LlmError.  Long loops call LlmInterrupted() and stop with
 * LLM_ERR_CANCELLED.  The SQL glue (src/ml/mlsql*.c) reads rows through SPI,
 * fills an MlRawData, and turns errors into ereport(); unit tests and the
 * benchmark tools call the same functions.
 *
 * Data flow of training:
 *	 raw columns (MlRawData) --MlPrepFit/MlPrepTransform--> dense matrix
 *	 (MlMatrix, doubles, row-major) --MlFit--> MlModel --MlModelSave--> bytes
 * and of prediction:
 *	 bytes --MlModelLoad--> MlModel; raw row --MlPrepTransform--> features
 *	 --MlPredict / MlPredictProba--> value, class index or probabilities.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMLOPS_ML_ML_H
#define PGMLOPS_ML_ML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "llm/llm.h"
#include "llm/pcg.h"

/* ---------------------------------------------------------------- tasks */

typedef enum MlTask
{
	ML_TASK_REGRESSION,
	ML_TASK_CLASSIFICATION,
	ML_TASK_CLUSTERING
} MlTask;

/* "regression", "classification", "clustering"; -1 when unknown */
extern int	MlTaskFromName(const char *name);
extern const char *MlTaskName(MlTask task);

/* ------------------------------------------------------------ matrices */

/*
 * A dense row-major matrix of doubles: element (i, j) is x[i * cols + j].
 * Training data after preprocessing; NaN never appears in it.
 */
typedef struct MlMatrix
{
	int64_t		rows;
	int			cols;
	double	   *x;
} MlMatrix;

/*
 * A supervised training set: the design matrix and one target per row.
 * For classification, y holds class indexes 0 .. n_classes - 1 (as
 * doubles); for regression, the value; for clustering, y is NULL.
 */
typedef struct MlData
{
	MlMatrix	x;
	double	   *y;
	int			n_classes;		/* classification only, >= 2 */
} MlData;

/* ------------------------------------------------------ preprocessing */

/*
 * Kinds of input column.  Booleans are numeric 0/1; vector and real[]
 * columns are numeric with width > 1 (each element one feature).
 */
typedef enum MlColumnKind
{
	ML_COL_NUMERIC,
	ML_COL_BOOLEAN,
	ML_COL_CATEGORICAL,
	ML_COL_VECTOR
} MlColumnKind;

/*
 * Raw column data as read from the database, column by column.
 *	 numeric/boolean: num[row], NaN for NULL (width 1);
 *	 vector: num[row * width + k], all NaN for a NULL value;
 *	 categorical: str[row], NULL for NULL (strings malloc'ed, owned by the
 *	 column).
 */
typedef struct MlRawColumn
{
	char	   *name;			/* column name, malloc'ed */
	char	   *type_name;		/* SQL type as format_type() spells it */
	MlColumnKind kind;
	int			width;			/* 1, or the dimension of a vector column */
	double	   *num;
	char	  **str;
} MlRawColumn;

typedef struct MlRawData
{
	int64_t		rows;
	int64_t		capacity;		/* rows allocated in every column */
	int			ncols;
	MlRawColumn *cols;
} MlRawData;

/* mlraw.c: raw data container */
extern int	MlRawInit(MlRawData *raw, int ncols, LlmError *err);
extern int	MlRawReserve(MlRawData *raw, int64_t rows, LlmError *err);
extern size_t MlRawBytes(const MlRawData *raw);
extern void MlRawFree(MlRawData *raw);

/* how categorical columns become numbers */
typedef enum MlEncoding
{
	ML_ENCODE_ONEHOT,			/* one 0/1 feature per category seen in
								 * training; an unseen or NULL category
								 * is all zeros */
	ML_ENCODE_ORDINAL			/* category index (sorted by value); unseen
								 * or NULL is -1 */
} MlEncoding;

/*
 * Learned preprocessing of one input column.  Stored with the model
 * version (as JSON, MlPrepToJson) and applied identically at prediction.
 */
typedef struct MlPrepColumn
{
	char	   *name;
	char	   *type_name;
	MlColumnKind kind;
	int			width;			/* input width (vector dimension, else 1) */
	int			out_width;		/* features this column produces */
	/* numeric, boolean, vector: per element, width entries each */
	double	   *impute;			/* value that replaces NULL/NaN: the
								 * training mean */
	double	   *center;			/* subtracted when standardizing, else 0 */
	double	   *scale;			/* divided by when standardizing, else 1 */
	/* categorical */
	int			n_categories;
	char	  **categories;		/* sorted (strcmp), distinct */
} MlPrepColumn;

typedef struct MlPrep
{
	int			ncols;
	MlPrepColumn *cols;
	int			n_features;		/* sum of out_width */
	bool		standardize;
	MlEncoding	encoding;
} MlPrep;

/*
 * prep.c: learn the preprocessing from the rows listed in rows[0..nrows-1]
 * (the training split) of raw.  Numeric NULLs are imputed with the mean
 * (0 when a column is all NULL); categories are those seen in those rows;
 * with standardize, center/scale are the mean and the population standard
 * deviation (scale 1 when it is 0) of the imputed values.  One-hot
 * features are not standardized.
 */
extern int	MlPrepFit(MlPrep *prep, const MlRawData *raw, const int64_t *rows,
					  int64_t nrows, bool standardize, MlEncoding encoding,
					  LlmError *err);

/* prep.c: transform rows[0..nrows-1] of raw into out (nrows x n_features) */
extern int	MlPrepTransform(const MlPrep *prep, const MlRawData *raw,
							const int64_t *rows, int64_t nrows, MlMatrix *out,
							LlmError *err);

/*
 * prep.c: transform one row given column by column: values[c] points to
 * width doubles (NaN = NULL) for numeric/boolean/vector columns, strs[c]
 * to the string (or NULL) for categorical ones.  out gets n_features.
 */
extern void MlPrepTransformRow(const MlPrep *prep, const double *const *values,
							   const char *const *strs, double *out);

/* index of name among prep's columns, or -1 */
extern int	MlPrepColumnIndex(const MlPrep *prep, const char *name);

/* prep.c: JSON text (malloc'ed) and back; the JSON is the stored spec */
extern char *MlPrepToJson(const MlPrep *prep, LlmError *err);
extern int	MlPrepFromJson(MlPrep *prep, const char *json, LlmError *err);
extern void MlPrepFree(MlPrep *prep);

/* ----------------------------------------------------------- algorithms */

typedef enum MlAlgorithm
{
	ML_ALG_LINEAR_REGRESSION,
	ML_ALG_LASSO,
	ML_ALG_ELASTIC_NET,
	ML_ALG_LOGISTIC_REGRESSION,
	ML_ALG_KMEANS,
	ML_ALG_XGBOOST,
	ML_ALG_COUNT
} MlAlgorithm;

/* mlmodel.c: "linear_regression" ...; -1 when unknown */
extern int	MlAlgorithmFromName(const char *name);
extern const char *MlAlgorithmName(MlAlgorithm alg);
/* tasks an algorithm supports */
extern bool MlAlgorithmSupports(MlAlgorithm alg, MlTask task);
/* whether its preprocessing standardizes numeric features */
extern bool MlAlgorithmStandardizes(MlAlgorithm alg);

/*
 * Hyperparameters, with scikit-learn's and XGBoost's names and defaults:
 *	 linear_regression: alpha (0 = OLS, > 0 = ridge), fit_intercept
 *	 lasso:				alpha (1.0), max_iter (1000), tol (1e-4), fit_intercept
 *	 elastic_net:		alpha (1.0), l1_ratio (0.5), max_iter, tol, fit_intercept
 *	 logistic_regression: C (1.0), max_iter (100), tol (1e-4), fit_intercept
 *	 kmeans:			n_clusters (8), max_iter (300), tol (1e-4), n_init (10)
 *	 xgboost:			n_estimators (100), max_depth (6), learning_rate (0.3),
 *						subsample (1), colsample_bytree (1), min_child_weight
 *						(1), reg_lambda (1), reg_alpha (0), gamma (0),
 *						max_bin (256), nthread (0 = all cores), tree_method
 *						("hist")
 * Unset fields keep the default from MlParamsDefault.
 */
typedef struct MlParams
{
	double		alpha;
	double		l1_ratio;
	double		C;
	double		tol;
	int			max_iter;
	bool		fit_intercept;
	int			n_clusters;
	int			n_init;
	/* xgboost */
	int			n_estimators;
	int			max_depth;
	double		learning_rate;
	double		subsample;
	double		colsample_bytree;
	double		min_child_weight;
	double		reg_lambda;
	double		reg_alpha;
	double		gamma;
	int			max_bin;
	int			nthread;
	char		tree_method[16];
	uint64_t	seed;
} MlParams;

/* mlparams.c: defaults of alg */
extern void MlParamsDefault(MlAlgorithm alg, MlParams *params);

/*
 * mlparams.c: apply a JSON object of hyperparameters (text) over the
 * defaults.  An unknown name, a wrong type or an out-of-range value is
 * LLM_ERR_ARGUMENT with a message naming it.
 */
extern int	MlParamsParse(MlAlgorithm alg, const char *json, MlParams *params,
						  LlmError *err);

/* mlparams.c: the effective hyperparameters as a JSON object (malloc'ed) */
extern char *MlParamsToJson(MlAlgorithm alg, const MlParams *params);

/*
 * A trained model.  Linear family and logistic regression: coef is
 * n_outputs x n_features, intercept n_outputs (n_outputs 1 for regression
 * and binary classification, n_classes for multinomial).  k-means: centers
 * is n_clusters x n_features.  XGBoost: booster is the library's handle
 * and blob its serialized form.
 */
typedef struct MlModel
{
	MlAlgorithm algorithm;
	MlTask		task;
	int			n_features;
	int			n_classes;		/* classification; clusters for k-means */
	int			n_outputs;
	double	   *coef;
	double	   *intercept;
	double	   *centers;
	int			n_iter;			/* iterations the solver ran */
	void	   *booster;
	uint8_t    *blob;
	size_t		blob_len;
} MlModel;

/*
 * mlmodel.c: train alg on data for task.  Dispatches to linear.c, cd.c,
 * logistic.c, kmeans.c or xgb.c.  Checks LlmInterrupted() between passes.
 */
extern int	MlFit(MlAlgorithm alg, MlTask task, const MlParams *params,
				  const MlData *data, MlModel *model, LlmError *err);

/*
 * mlmodel.c: predict rows of x.  out[i] is the value (regression), the
 * class index (classification) or the cluster index (clustering).
 */
extern int	MlPredict(const MlModel *model, const MlMatrix *x, double *out,
					  LlmError *err);

/* mlmodel.c: class probabilities, rows x n_classes (classification only) */
extern int	MlPredictProba(const MlModel *model, const MlMatrix *x,
						   double *proba, LlmError *err);

/* mlmodel.c: serialize to a malloc'ed buffer / load from one */
extern int	MlModelSave(const MlModel *model, uint8_t **buf, size_t *len,
						LlmError *err);
extern int	MlModelLoad(MlModel *model, const uint8_t *buf, size_t len,
						LlmError *err);
extern void MlModelFree(MlModel *model);

/* per-algorithm entry points (called by mlmodel.c) */
extern int	MlLinearFit(const MlParams *params, const MlData *data,
						MlModel *model, LlmError *err);	/* linear.c */
extern int	MlCoordinateDescentFit(MlAlgorithm alg, const MlParams *params,
								   const MlData *data, MlModel *model,
								   LlmError *err);	/* cd.c */
extern int	MlLogisticFit(const MlParams *params, const MlData *data,
						  MlModel *model, LlmError *err);	/* logistic.c */
extern int	MlKMeansFit(const MlParams *params, const MlMatrix *x,
						MlModel *model, LlmError *err);	/* kmeans.c */
/* xgb.c */
extern int	MlXgbFit(MlTask task, const MlParams *params, const MlData *data,
					 MlModel *model, LlmError *err);
extern int	MlXgbPredict(const MlModel *model, const MlMatrix *x,
						 double *out, bool proba, LlmError *err);
extern int	MlXgbLoad(MlModel *model, LlmError *err);	/* booster from blob */
extern void MlXgbFree(MlModel *model);

/*
 * lbfgs.c: minimize f over n variables from x (updated in place).
 * fg(x, grad, arg) returns f(x) and fills grad.  Stops when the projected
 * gradient's max-norm <= tol (scipy's pgtol convention, which
 * scikit-learn's lbfgs uses), after max_iter iterations, or on a failed
 * line search.  Returns LLM_OK (or LLM_ERR_CANCELLED), with *iters set.
 */
typedef double (*MlObjective) (const double *x, double *grad, void *arg);
extern int	MlLbfgsMinimize(MlObjective fg, void *arg, double *x, int n,
							int max_iter, double tol, int *iters,
							LlmError *err);

/* ------------------------------------------------------------- metrics */

/*
 * metrics.c: fill a JSON object (malloc'ed text) with the held-out metrics.
 *	 regression: rmse, mae, r2
 *	 classification: accuracy, precision, recall, f1 (macro when more than
 *	   two classes; of the positive class 1 otherwise), roc_auc (binary),
 *	   log_loss (needs proba), confusion_matrix (array of arrays, true class
 *	   by row)
 *	 clustering: inertia (sum of squared distances to the assigned center),
 *	   silhouette (mean over at most 1000 rows sampled with seed)
 * y: true values or class indexes; pred: predicted values, class or
 * cluster indexes; proba: rows x n_classes or NULL; x and centers for
 * clustering.
 */
extern char *MlMetricsJson(MlTask task, int64_t rows, const double *y,
						   const double *pred, const double *proba,
						   int n_classes, const MlMatrix *x,
						   const double *centers, uint64_t seed,
						   LlmError *err);

/* the metric that strategy 'best' and mlops.tune compare, and its sense */
extern const char *MlKeyMetric(MlTask task, bool *higher_is_better);

/* ---------------------------------------------------------- randomness */

/*
 * Random numbers come from llm/pcg.h (PcgSeed, PcgUniform, PcgBounded):
 * the split, k-means++ and the silhouette sample are deterministic per
 * seed.
 */

/*
 * mlsplit.c: the train/test split.  Shuffles 0..rows-1 (Fisher-Yates with
 * PcgBounded, i from rows-1 down to 1, seeded with seed) and puts the
 * first round(rows * test_fraction) in test, the rest in train, each list
 * then sorted ascending.  The reference script reimplements exactly this.
 */
extern int	MlSplit(int64_t rows, double test_fraction, uint64_t seed,
					int64_t **train, int64_t *ntrain, int64_t **test,
					int64_t *ntest, LlmError *err);

#endif							/* PGMLOPS_ML_ML_H */
