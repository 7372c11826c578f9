/*-------------------------------------------------------------------------
 *
 * mlmodel.c
 *	  Algorithms and tasks by name, training dispatch, prediction and the
 *	  model artifact format.
 *
 * Prediction is on the hot path of mlops.predict and predict_batch: one
 * row is a plain loop with no allocation, a block of rows goes through
 * BLAS (dgemv for one output, dgemm for a multinomial model), in chunks so
 * that the sizes passed to BLAS stay within its int arguments.
 *
 * Artifact format (all integers and doubles little-endian):
 *	 "PGMLMDL1"						magic; the digit is the format version
 *	 u32 algorithm, u32 task
 *	 i32 n_features, n_classes, n_outputs, n_iter
 *	 linear family, logistic:		f64 coef[n_outputs * n_features],
 *									f64 intercept[n_outputs]
 *	 k-means:						f64 centers[n_classes * n_features]
 *	 xgboost:						u64 blob_len, blob bytes
 *	 u64 FNV-1a hash of every byte before it
 * Loading checks every field (known enums, sizes within bounds and equal
 * to what the length implies, finite numbers, the hash), so a damaged
 * artifact is LLM_ERR_FORMAT and never a crash or a wrong model.
 *
 *-------------------------------------------------------------------------
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ml/ml.h"

#define ARTIFACT_MAGIC		"PGMLMDL1"
#define ARTIFACT_MAGIC_LEN	8
#define ARTIFACT_HEADER_LEN (ARTIFACT_MAGIC_LEN + 6 * 4)
#define ARTIFACT_HASH_LEN	8

/* bounds on a model's shape (also refused by the loader) */
#define MAX_FEATURES	(1 << 24)
#define MAX_CLASSES		(1 << 20)

/* rows per BLAS call; multinomial scores use a buffer of this many rows */
#define PREDICT_CHUNK	4096

static const char *const task_names[] = {
	"regression", "classification", "clustering"
};

static const char *const algorithm_names[] = {
	"linear_regression", "lasso", "elastic_net", "logistic_regression",
	"kmeans", "xgboost"
};

/* task by name; -1 when unknown */
int
MlTaskFromName(const char *name)
{
	if (name == NULL)
		return -1;
	for (int i = 0; i < (int) (sizeof(task_names) / sizeof(task_names[0])); i++)
		if (strcmp(name, task_names[i]) == 0)
			return i;
	return -1;
}

/* name of a task */
const char *
MlTaskName(MlTask task)
{
	if ((int) task < 0 || (int) task >= (int) (sizeof(task_names) / sizeof(task_names[0])))
		return "unknown";
	return task_names[task];
}

/* algorithm by name; -1 when unknown */
int
MlAlgorithmFromName(const char *name)
{
	if (name == NULL)
		return -1;
	for (int i = 0; i < ML_ALG_COUNT; i++)
		if (strcmp(name, algorithm_names[i]) == 0)
			return i;
	return -1;
}

/* name of an algorithm */
const char *
MlAlgorithmName(MlAlgorithm alg)
{
	if ((int) alg < 0 || alg >= ML_ALG_COUNT)
		return "unknown";
	return algorithm_names[alg];
}

/* whether alg handles task */
bool
MlAlgorithmSupports(MlAlgorithm alg, MlTask task)
{
	switch (alg)
	{
		case ML_ALG_LINEAR_REGRESSION:
		case ML_ALG_LASSO:
		case ML_ALG_ELASTIC_NET:
			return task == ML_TASK_REGRESSION;
		case ML_ALG_LOGISTIC_REGRESSION:
			return task == ML_TASK_CLASSIFICATION;
		case ML_ALG_KMEANS:
			return task == ML_TASK_CLUSTERING;
		case ML_ALG_XGBOOST:
			return task == ML_TASK_REGRESSION ||
				task == ML_TASK_CLASSIFICATION;
		default:
			return false;
	}
}

/* whether alg's preprocessing standardizes numeric features (trees don't) */
bool
MlAlgorithmStandardizes(MlAlgorithm alg)
{
	return (int) alg >= 0 && alg < ML_ALG_COUNT && alg != ML_ALG_XGBOOST;
}

/* whether alg keeps coef and intercept */
static bool
IsLinearModel(MlAlgorithm alg)
{
	return alg == ML_ALG_LINEAR_REGRESSION || alg == ML_ALG_LASSO ||
		alg == ML_ALG_ELASTIC_NET || alg == ML_ALG_LOGISTIC_REGRESSION;
}

/* whether all n values are finite */
static bool
AllFinite(const double *v, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		if (!isfinite(v[i]))
			return false;
	return true;
}

/*
 * Check that a model's fields fit together (the same rules for a freshly
 * trained model, one about to be saved and one just loaded): code is the
 * error to report (LLM_ERR_FORMAT for an artifact).
 */
static int
CheckModel(const MlModel *m, int code, LlmError *err)
{
	int64_t		n;

	if ((int) m->algorithm < 0 || m->algorithm >= ML_ALG_COUNT)
		return LlmSetError(err, code, "model has unknown algorithm %d",
						   (int) m->algorithm);
	if ((int) m->task < 0 || m->task > ML_TASK_CLUSTERING)
		return LlmSetError(err, code, "model has unknown task %d", (int) m->task);
	if (!MlAlgorithmSupports(m->algorithm, m->task))
		return LlmSetError(err, code, "algorithm %s does not do %s",
						   MlAlgorithmName(m->algorithm), MlTaskName(m->task));
	if (m->n_features < 1 || m->n_features > MAX_FEATURES)
		return LlmSetError(err, code, "model has %d features", m->n_features);
	if (m->n_iter < 0)
		return LlmSetError(err, code, "model has %d iterations", m->n_iter);
	if (m->task == ML_TASK_CLASSIFICATION &&
		(m->n_classes < 2 || m->n_classes > MAX_CLASSES))
		return LlmSetError(err, code, "classifier has %d classes", m->n_classes);
	if (m->task == ML_TASK_CLUSTERING &&
		(m->n_classes < 1 || m->n_classes > MAX_CLASSES))
		return LlmSetError(err, code, "k-means model has %d clusters",
						   m->n_classes);
	if (m->task == ML_TASK_REGRESSION &&
		(m->n_classes < 0 || m->n_classes > MAX_CLASSES))
		return LlmSetError(err, code, "regressor has %d classes", m->n_classes);

	if (IsLinearModel(m->algorithm))
	{
		int			want = 1;

		if (m->algorithm == ML_ALG_LOGISTIC_REGRESSION && m->n_classes > 2)
			want = m->n_classes;
		if (m->n_outputs != want)
			return LlmSetError(err, code, "%s model has %d outputs, not %d",
							   MlAlgorithmName(m->algorithm), m->n_outputs,
							   want);
		if (m->coef == NULL || m->intercept == NULL)
			return LlmSetError(err, code, "%s model has no coefficients",
							   MlAlgorithmName(m->algorithm));
		n = (int64_t) m->n_outputs * m->n_features;
		if (!AllFinite(m->coef, n) || !AllFinite(m->intercept, m->n_outputs))
			return LlmSetError(err, code, "%s model has a non-finite coefficient",
							   MlAlgorithmName(m->algorithm));
	}
	else if (m->algorithm == ML_ALG_KMEANS)
	{
		if (m->n_outputs < 0 || m->n_outputs > m->n_classes)
			return LlmSetError(err, code, "k-means model has %d outputs",
							   m->n_outputs);
		if (m->centers == NULL)
			return LlmSetError(err, code, "k-means model has no centers");
		n = (int64_t) m->n_classes * m->n_features;
		if (!AllFinite(m->centers, n))
			return LlmSetError(err, code, "k-means model has a non-finite center");
	}
	else
	{
		if (m->n_outputs < 0 || m->n_outputs > (m->n_classes > 1 ? m->n_classes : 1))
			return LlmSetError(err, code, "xgboost model has %d outputs",
							   m->n_outputs);
		if (m->blob == NULL || m->blob_len == 0)
			return LlmSetError(err, code, "xgboost model has no booster");
	}
	return LLM_OK;
}

/* ------------------------------------------------------------ training */

/* check a training set for task; the message says what is wrong */
static int
CheckData(MlAlgorithm alg, MlTask task, const MlParams *params,
		  const MlData *data, LlmError *err)
{
	const MlMatrix *x = &data->x;

	if (x->rows < 1)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "the training set has no rows");
	if (x->cols < 1)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "the training set has no features");
	if (x->cols > MAX_FEATURES)
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "the training set has %d features, more than the limit of %d",
						   x->cols, MAX_FEATURES);
	if (x->x == NULL)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "the training set has no values");
	if (!AllFinite(x->x, x->rows * (int64_t) x->cols))
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "the training set has a non-finite feature value");

	if (task == ML_TASK_CLUSTERING)
	{
		if (params->n_clusters < 1)
			return LlmSetError(err, LLM_ERR_ARGUMENT,
							   "n_clusters must be at least 1, not %d",
							   params->n_clusters);
		if (x->rows < params->n_clusters)
			return LlmSetError(err, LLM_ERR_ARGUMENT,
							   "%lld rows are fewer than n_clusters = %d",
							   (long long) x->rows, params->n_clusters);
		return LLM_OK;
	}

	if (data->y == NULL)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "the training set has no target");
	if (task == ML_TASK_CLASSIFICATION)
	{
		if (data->n_classes < 2)
			return LlmSetError(err, LLM_ERR_ARGUMENT,
							   "classification needs at least two classes, the training set has %d",
							   data->n_classes);
		if (data->n_classes > MAX_CLASSES)
			return LlmSetError(err, LLM_ERR_ARGUMENT,
							   "%d classes are more than the limit of %d",
							   data->n_classes, MAX_CLASSES);
		for (int64_t i = 0; i < x->rows; i++)
		{
			double		c = data->y[i];

			if (!(c >= 0 && c < data->n_classes && c == floor(c)))
				return LlmSetError(err, LLM_ERR_ARGUMENT,
								   "target of row %lld is %g, not a class index below %d",
								   (long long) i, c, data->n_classes);
		}
	}
	else if (!AllFinite(data->y, x->rows))
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "the training set has a non-finite target");
	(void) alg;
	return LLM_OK;
}

/*
 * Train alg for task on data into model (zeroed first; freed again on
 * failure), then check that the algorithm left a consistent model.
 */
int
MlFit(MlAlgorithm alg, MlTask task, const MlParams *params,
	  const MlData *data, MlModel *model, LlmError *err)
{
	int			rc;

	memset(model, 0, sizeof(*model));
	if ((int) alg < 0 || alg >= ML_ALG_COUNT)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "unknown algorithm %d", (int) alg);
	if ((int) task < 0 || task > ML_TASK_CLUSTERING)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "unknown task %d", (int) task);
	if (!MlAlgorithmSupports(alg, task))
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "algorithm %s does not support task %s",
						   MlAlgorithmName(alg), MlTaskName(task));
	if (params == NULL || data == NULL)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "no hyperparameters or data");
	rc = CheckData(alg, task, params, data, err);
	if (rc != LLM_OK)
		return rc;
	if (LlmInterrupted())
		return LlmSetError(err, LLM_ERR_CANCELLED, "training cancelled");

	model->algorithm = alg;
	model->task = task;
	model->n_features = data->x.cols;
	model->n_classes = task == ML_TASK_CLASSIFICATION ? data->n_classes :
		task == ML_TASK_CLUSTERING ? params->n_clusters : 0;

	switch (alg)
	{
		case ML_ALG_LINEAR_REGRESSION:
			rc = MlLinearFit(params, data, model, err);
			break;
		case ML_ALG_LASSO:
		case ML_ALG_ELASTIC_NET:
			rc = MlCoordinateDescentFit(alg, params, data, model, err);
			break;
		case ML_ALG_LOGISTIC_REGRESSION:
			rc = MlLogisticFit(params, data, model, err);
			break;
		case ML_ALG_KMEANS:
			rc = MlKMeansFit(params, &data->x, model, err);
			break;
		case ML_ALG_XGBOOST:
			rc = MlXgbFit(task, params, data, model, err);
			break;
		default:
			rc = LlmSetError(err, LLM_ERR_ARGUMENT, "unknown algorithm");
			break;
	}
	if (rc == LLM_OK)
	{
		/* the algorithms may leave these alone; they are ours */
		model->algorithm = alg;
		model->task = task;
		model->n_features = data->x.cols;
		if (task == ML_TASK_CLASSIFICATION)
			model->n_classes = data->n_classes;
		else if (task == ML_TASK_REGRESSION)
			model->n_classes = 0;
		rc = CheckModel(model, LLM_ERR_ARGUMENT, err);
	}
	if (rc != LLM_OK)
		MlModelFree(model);
	return rc;
}

/* ---------------------------------------------------------- prediction */

/* x . w over n features */
static inline double
Dot(const double *x, const double *w, int n)
{
	double		s = 0.0;

	for (int j = 0; j < n; j++)
		s += x[j] * w[j];
	return s;
}

/* the logistic function, without overflow warnings for large |z| */
static inline double
Sigmoid(double z)
{
	if (z >= 0)
		return 1.0 / (1.0 + exp(-z));
	else
	{
		double		e = exp(z);

		return e / (1.0 + e);
	}
}

/* index of the largest of n scores, the first among ties */
static inline int
ArgMax(const double *s, int n)
{
	int			best = 0;

	for (int k = 1; k < n; k++)
		if (s[k] > s[best])
			best = k;
	return best;
}

/* in-place softmax of n scores, shifted by the largest for stability */
static inline void
Softmax(double *s, int n)
{
	double		mx = s[ArgMax(s, n)];
	double		sum = 0.0;

	for (int k = 0; k < n; k++)
	{
		s[k] = exp(s[k] - mx);
		sum += s[k];
	}
	for (int k = 0; k < n; k++)
		s[k] /= sum;
}

/*
 * rows x n_outputs scores x . W^T + b into out (row stride ld), for a
 * chunk of at most PREDICT_CHUNK rows
 */
static void
LinearScores(const MlModel *m, const double *x, int rows, double *out,
			 int ld)
{
	int			f = m->n_features;
	int			k = m->n_outputs;

	if (rows == 1)
	{
		for (int c = 0; c < k; c++)
			out[c] = Dot(x, m->coef + (int64_t) c * f, f) + m->intercept[c];
		return;
	}
	for (int i = 0; i < rows; i++)
		for (int c = 0; c < k; c++)
			out[(int64_t) i * ld + c] = m->intercept[c];
	if (k == 1)
		cblas_dgemv(CblasRowMajor, CblasNoTrans, rows, f, 1.0, x, f,
					m->coef, 1, 1.0, out, ld);
	else
		cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, k, f,
					1.0, x, f, m->coef, f, 1.0, out, ld);
}

/* index of the center nearest to x (squared Euclidean), first among ties */
static inline int
NearestCenter(const MlModel *m, const double *x)
{
	int			f = m->n_features;
	int			best = 0;
	double		best_d = HUGE_VAL;

	for (int c = 0; c < m->n_classes; c++)
	{
		const double *ctr = m->centers + (int64_t) c * f;
		double		d = 0.0;

		for (int j = 0; j < f && d < best_d; j++)
		{
			double		t = x[j] - ctr[j];

			d += t * t;
		}
		if (d < best_d)
		{
			best_d = d;
			best = c;
		}
	}
	return best;
}

/* check that x fits the model */
static int
CheckInput(const MlModel *model, const MlMatrix *x, LlmError *err)
{
	if (model == NULL || x == NULL)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "no model or input");
	if (x->cols != model->n_features)
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "the model takes %d features, the input has %d",
						   model->n_features, x->cols);
	if (x->rows < 0 || (x->rows > 0 && x->x == NULL))
		return LlmSetError(err, LLM_ERR_ARGUMENT, "bad input matrix");
	if (model->algorithm == ML_ALG_XGBOOST && model->booster == NULL)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "the xgboost model is not loaded");
	if (IsLinearModel(model->algorithm) &&
		(model->coef == NULL || model->intercept == NULL))
		return LlmSetError(err, LLM_ERR_ARGUMENT, "the model has no coefficients");
	if (model->algorithm == ML_ALG_KMEANS && model->centers == NULL)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "the model has no centers");
	return LLM_OK;
}

/*
 * Predict every row of x into out: the value, the class index (sklearn's
 * rule for binary logistic regression: class 1 when the score is > 0, i.e.
 * p > 0.5) or the nearest cluster.
 */
int
MlPredict(const MlModel *model, const MlMatrix *x, double *out,
		  LlmError *err)
{
	int			rc = CheckInput(model, x, err);
	int			f;
	double	   *scores = NULL;

	if (rc != LLM_OK)
		return rc;
	f = model->n_features;
	if (model->algorithm == ML_ALG_XGBOOST)
		return x->rows == 0 ? LLM_OK : MlXgbPredict(model, x, out, false, err);

	/* one row: plain loops, no allocation */
	if (x->rows == 1)
	{
		if (model->algorithm == ML_ALG_KMEANS)
			out[0] = NearestCenter(model, x->x);
		else if (model->n_outputs == 1)
		{
			double		z = Dot(x->x, model->coef, f) + model->intercept[0];

			out[0] = model->task == ML_TASK_REGRESSION ? z : (z > 0 ? 1.0 : 0.0);
		}
		else
		{
			int			best = 0;
			double		best_z = -HUGE_VAL;

			for (int c = 0; c < model->n_outputs; c++)
			{
				double		z = Dot(x->x, model->coef + (int64_t) c * f, f) +
					model->intercept[c];

				if (z > best_z || c == 0)
				{
					best_z = z;
					best = c;
				}
			}
			out[0] = best;
		}
		return LLM_OK;
	}

	if (IsLinearModel(model->algorithm) && model->n_outputs > 1)
	{
		scores = LlmAlloc(sizeof(double) * PREDICT_CHUNK * model->n_outputs, err);
		if (scores == NULL)
			return LLM_ERR_NOMEM;
	}
	for (int64_t start = 0; start < x->rows; start += PREDICT_CHUNK)
	{
		int			n = (int) (x->rows - start < PREDICT_CHUNK ?
							   x->rows - start : PREDICT_CHUNK);
		const double *xs = x->x + start * f;
		double	   *o = out + start;

		if (start > 0 && LlmInterrupted())
		{
			free(scores);
			return LlmSetError(err, LLM_ERR_CANCELLED, "prediction cancelled");
		}
		if (model->algorithm == ML_ALG_KMEANS)
		{
			for (int i = 0; i < n; i++)
				o[i] = NearestCenter(model, xs + (int64_t) i * f);
		}
		else if (model->n_outputs == 1)
		{
			LinearScores(model, xs, n, o, 1);
			if (model->task == ML_TASK_CLASSIFICATION)
				for (int i = 0; i < n; i++)
					o[i] = o[i] > 0 ? 1.0 : 0.0;
		}
		else
		{
			int			k = model->n_outputs;

			LinearScores(model, xs, n, scores, k);
			for (int i = 0; i < n; i++)
				o[i] = ArgMax(scores + (int64_t) i * k, k);
		}
	}
	free(scores);
	return LLM_OK;
}

/*
 * Class probabilities of every row (rows x n_classes into proba): the
 * sigmoid of the score for binary logistic regression, the softmax of the
 * scores for multinomial, the booster's for xgboost.
 */
int
MlPredictProba(const MlModel *model, const MlMatrix *x, double *proba,
			   LlmError *err)
{
	int			rc = CheckInput(model, x, err);

	if (rc != LLM_OK)
		return rc;
	if (model->task != ML_TASK_CLASSIFICATION)
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "class probabilities need a classification model, this one does %s",
						   MlTaskName(model->task));
	if (model->algorithm == ML_ALG_XGBOOST)
		return x->rows == 0 ? LLM_OK : MlXgbPredict(model, x, proba, true, err);

	for (int64_t start = 0; start < x->rows; start += PREDICT_CHUNK)
	{
		int			n = (int) (x->rows - start < PREDICT_CHUNK ?
							   x->rows - start : PREDICT_CHUNK);
		const double *xs = x->x + start * model->n_features;
		int			k = model->n_classes;
		double	   *p = proba + start * k;

		if (start > 0 && LlmInterrupted())
			return LlmSetError(err, LLM_ERR_CANCELLED, "prediction cancelled");
		if (model->n_outputs == 1)
		{
			/* the score goes to column 1, then becomes [1 - p, p] */
			LinearScores(model, xs, n, p + 1, 2);
			for (int i = 0; i < n; i++)
			{
				double		p1 = Sigmoid(p[2 * i + 1]);

				p[2 * i] = 1.0 - p1;
				p[2 * i + 1] = p1;
			}
		}
		else
		{
			LinearScores(model, xs, n, p, k);
			for (int i = 0; i < n; i++)
				Softmax(p + (int64_t) i * k, k);
		}
	}
	return LLM_OK;
}

/* ------------------------------------------------------------ artifact */

/* FNV-1a over n bytes */
static uint64_t
HashBytes(const uint8_t *p, size_t n)
{
	uint64_t	h = 14695981039346656037ULL;

	for (size_t i = 0; i < n; i++)
	{
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static inline void
PutU32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t) (v >> (8 * i));
}

static inline void
PutU64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t) (v >> (8 * i));
}

static inline uint32_t
GetU32(const uint8_t *p)
{
	uint32_t	v = 0;

	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static inline uint64_t
GetU64(const uint8_t *p)
{
	uint64_t	v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* write n doubles at p, little-endian; returns the end */
static uint8_t *
PutDoubles(uint8_t *p, const double *v, int64_t n)
{
	for (int64_t i = 0; i < n; i++, p += 8)
	{
		uint64_t	u;

		memcpy(&u, &v[i], 8);
		PutU64(p, u);
	}
	return p;
}

/* read n doubles from p into a new array */
static double *
GetDoubles(const uint8_t *p, int64_t n, LlmError *err)
{
	double	   *v = LlmAlloc(sizeof(double) * (n > 0 ? n : 1), err);

	if (v == NULL)
		return NULL;
	for (int64_t i = 0; i < n; i++, p += 8)
	{
		uint64_t	u = GetU64(p);

		memcpy(&v[i], &u, 8);
	}
	return v;
}

/* bytes of the arrays section (after the header) of a checked model */
static uint64_t
ArraysLength(const MlModel *m)
{
	if (IsLinearModel(m->algorithm))
		return 8 * ((uint64_t) m->n_outputs * m->n_features + m->n_outputs);
	if (m->algorithm == ML_ALG_KMEANS)
		return 8 * (uint64_t) m->n_classes * m->n_features;
	return 8 + (uint64_t) m->blob_len;
}

/* serialize a model into a malloc'ed buffer */
int
MlModelSave(const MlModel *model, uint8_t **buf, size_t *len,
			LlmError *err)
{
	int			rc;
	uint64_t	total;
	uint8_t    *out;
	uint8_t    *p;

	*buf = NULL;
	*len = 0;
	rc = CheckModel(model, LLM_ERR_ARGUMENT, err);
	if (rc != LLM_OK)
		return rc;
	total = ARTIFACT_HEADER_LEN + ArraysLength(model) + ARTIFACT_HASH_LEN;
	if (total > (uint64_t) SIZE_MAX / 2)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "model is too large to save");
	out = LlmAlloc(total, err);
	if (out == NULL)
		return LLM_ERR_NOMEM;

	memcpy(out, ARTIFACT_MAGIC, ARTIFACT_MAGIC_LEN);
	p = out + ARTIFACT_MAGIC_LEN;
	PutU32(p, (uint32_t) model->algorithm);
	PutU32(p + 4, (uint32_t) model->task);
	PutU32(p + 8, (uint32_t) model->n_features);
	PutU32(p + 12, (uint32_t) model->n_classes);
	PutU32(p + 16, (uint32_t) model->n_outputs);
	PutU32(p + 20, (uint32_t) model->n_iter);
	p += 24;
	if (IsLinearModel(model->algorithm))
	{
		p = PutDoubles(p, model->coef, (int64_t) model->n_outputs * model->n_features);
		p = PutDoubles(p, model->intercept, model->n_outputs);
	}
	else if (model->algorithm == ML_ALG_KMEANS)
		p = PutDoubles(p, model->centers, (int64_t) model->n_classes * model->n_features);
	else
	{
		PutU64(p, (uint64_t) model->blob_len);
		memcpy(p + 8, model->blob, model->blob_len);
		p += 8 + model->blob_len;
	}
	PutU64(p, HashBytes(out, p - out));
	*buf = out;
	*len = (size_t) total;
	return LLM_OK;
}

/*
 * Load a model from an artifact; every field is checked before use, and
 * model is left zeroed on failure.  An xgboost booster is created from the
 * blob (MlXgbLoad).
 */
int
MlModelLoad(MlModel *model, const uint8_t *buf, size_t len, LlmError *err)
{
	MlModel		m;
	const uint8_t *p;
	const uint8_t *end;
	uint64_t	body;
	uint64_t	want;
	int			rc;

	memset(model, 0, sizeof(*model));
	memset(&m, 0, sizeof(m));
	if (buf == NULL || len < ARTIFACT_MAGIC_LEN ||
		memcmp(buf, ARTIFACT_MAGIC, ARTIFACT_MAGIC_LEN - 1) != 0)
		return LlmSetError(err, LLM_ERR_FORMAT, "not a pgmlops model artifact");
	if (buf[ARTIFACT_MAGIC_LEN - 1] != ARTIFACT_MAGIC[ARTIFACT_MAGIC_LEN - 1])
		return LlmSetError(err, LLM_ERR_FORMAT,
						   "model artifact format version '%c' is not supported (this build reads '1')",
						   buf[ARTIFACT_MAGIC_LEN - 1] >= 0x20 && buf[ARTIFACT_MAGIC_LEN - 1] < 0x7f ?
						   buf[ARTIFACT_MAGIC_LEN - 1] : '?');
	if (len < ARTIFACT_HEADER_LEN + ARTIFACT_HASH_LEN)
		return LlmSetError(err, LLM_ERR_FORMAT,
						   "model artifact is truncated (%zu bytes)", len);
	end = buf + len - ARTIFACT_HASH_LEN;
	if (GetU64(end) != HashBytes(buf, end - buf))
		return LlmSetError(err, LLM_ERR_FORMAT,
						   "model artifact is corrupted (checksum mismatch)");

	p = buf + ARTIFACT_MAGIC_LEN;
	m.algorithm = (MlAlgorithm) (int) GetU32(p);
	m.task = (MlTask) (int) GetU32(p + 4);
	m.n_features = (int) GetU32(p + 8);
	m.n_classes = (int) GetU32(p + 12);
	m.n_outputs = (int) GetU32(p + 16);
	m.n_iter = (int) GetU32(p + 20);
	p += 24;
	body = (uint64_t) (end - p);

	/* the shape before any array is read or allocated */
	if ((int) m.algorithm < 0 || m.algorithm >= ML_ALG_COUNT ||
		(int) m.task < 0 || m.task > ML_TASK_CLUSTERING ||
		!MlAlgorithmSupports(m.algorithm, m.task) ||
		m.n_features < 1 || m.n_features > MAX_FEATURES ||
		m.n_classes < 0 || m.n_classes > MAX_CLASSES ||
		m.n_outputs < 0 || m.n_outputs > MAX_CLASSES)
		return LlmSetError(err, LLM_ERR_FORMAT,
						   "model artifact has a bad header (algorithm %d, task %d, %d features, %d classes, %d outputs)",
						   (int) m.algorithm, (int) m.task, m.n_features,
						   m.n_classes, m.n_outputs);
	if (m.algorithm == ML_ALG_XGBOOST)
	{
		if (body < 8)
			return LlmSetError(err, LLM_ERR_FORMAT, "model artifact is truncated");
		m.blob_len = (size_t) GetU64(p);
		want = 8 + GetU64(p);
		if (GetU64(p) > body)
			want = UINT64_MAX;
	}
	else
		want = ArraysLength(&m);
	if (want != body)
		return LlmSetError(err, LLM_ERR_FORMAT,
						   "model artifact has %llu bytes of data where its header implies %llu",
						   (unsigned long long) body, (unsigned long long) want);

	rc = LLM_ERR_NOMEM;
	if (IsLinearModel(m.algorithm))
	{
		int64_t		n = (int64_t) m.n_outputs * m.n_features;

		m.coef = GetDoubles(p, n, err);
		m.intercept = m.coef ? GetDoubles(p + 8 * n, m.n_outputs, err) : NULL;
		if (m.intercept == NULL)
			goto fail;
	}
	else if (m.algorithm == ML_ALG_KMEANS)
	{
		m.centers = GetDoubles(p, (int64_t) m.n_classes * m.n_features, err);
		if (m.centers == NULL)
			goto fail;
	}
	else
	{
		m.blob = LlmAlloc(m.blob_len > 0 ? m.blob_len : 1, err);
		if (m.blob == NULL)
			goto fail;
		memcpy(m.blob, p + 8, m.blob_len);
	}
	rc = CheckModel(&m, LLM_ERR_FORMAT, err);
	if (rc != LLM_OK)
		goto fail;
	if (m.algorithm == ML_ALG_XGBOOST)
	{
		rc = MlXgbLoad(&m, err);
		if (rc != LLM_OK)
			goto fail;
	}
	*model = m;
	return LLM_OK;

fail:
	MlModelFree(&m);
	return rc;
}

/* free a model's arrays and booster; the struct is zeroed */
void
MlModelFree(MlModel *model)
{
	if (model == NULL)
		return;
	if (model->booster != NULL)
		MlXgbFree(model);
	free(model->coef);
	free(model->intercept);
	free(model->centers);
	free(model->blob);
	memset(model, 0, sizeof(*model));
}
