/*-------------------------------------------------------------------------
 *
 * metrics.c
 *	  Held-out metrics of a trained model, as scikit-learn 1.2 defines them.
 *
 * Regression: rmse, mae and r2 (1 for a perfect fit of a constant target,
 * 0 for an imperfect one, sklearn's force_finite convention).
 *
 * Classification: accuracy; precision, recall and f1 of class 1 for a
 * binary model, else macro averages over the classes that occur in y or
 * pred (sklearn's labels=None), a 0/0 ratio counting 0 (zero_division);
 * roc_auc of a binary model from the probability of class 1, ties getting
 * their average rank (the Mann-Whitney U statistic, which equals the area
 * under sklearn's ROC curve); log_loss with probabilities clipped to
 * [eps, 1 - eps], eps = DBL_EPSILON (sklearn 1.2's eps="auto" for float64),
 * and each row renormalized; the confusion matrix over all n_classes, true
 * class by row (up to CONFUSION_MAX_CLASSES classes).
 *
 * Clustering: inertia over all rows and the silhouette of a sample: with
 * more than SILHOUETTE_SAMPLE rows, the first SILHOUETTE_SAMPLE of a
 * partial Fisher-Yates shuffle (for i = 0 .. m-1, swap i with
 * i + PcgBounded(rows - i), PcgSeed(seed)), the silhouette then computed
 * on those rows alone, as sklearn's silhouette_score does on its sample.
 * A metric that is undefined (one class in y for roc_auc, fewer than two
 * or as many clusters as sampled rows for silhouette) is JSON null.
 *
 *-------------------------------------------------------------------------
 */
#include <float.h>
#include "llm/llmjson.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ml/ml.h"

/* rows the silhouette is computed on at most */
#define SILHOUETTE_SAMPLE 1000
/* the confusion matrix is left out beyond this many classes */
#define CONFUSION_MAX_CLASSES 1000

/* a (score, label) pair for ranking */
typedef struct ScoredLabel
{
	double		score;
	int			positive;
} ScoredLabel;

/* set key to v, or to null when v is not finite; false when out of memory */
static bool
SetReal(json_t *obj, const char *key, double v)
{
	json_t	   *j = isfinite(v) ? json_real(v) : json_null();

	return j != NULL && json_object_set_new(obj, key, j) == 0;
}

/* rmse, mae and r2 */
static bool
RegressionMetrics(json_t *obj, int64_t rows, const double *y,
				  const double *pred)
{
	double		mean = 0.0;
	double		ss_res = 0.0;
	double		ss_tot = 0.0;
	double		abs_err = 0.0;
	double		r2;

	for (int64_t i = 0; i < rows; i++)
		mean += y[i];
	mean /= rows;
	for (int64_t i = 0; i < rows; i++)
	{
		double		e = y[i] - pred[i];
		double		d = y[i] - mean;

		ss_res += e * e;
		abs_err += fabs(e);
		ss_tot += d * d;
	}
	if (ss_tot == 0.0)
		r2 = ss_res == 0.0 ? 1.0 : 0.0;
	else
		r2 = 1.0 - ss_res / ss_tot;
	return SetReal(obj, "rmse", sqrt(ss_res / rows)) &&
		SetReal(obj, "mae", abs_err / rows) &&
		SetReal(obj, "r2", r2);
}

/* order ScoredLabel by score */
static int
CompareScore(const void *a, const void *b)
{
	double		x = ((const ScoredLabel *) a)->score;
	double		y = ((const ScoredLabel *) b)->score;

	return (x > y) - (x < y);
}

/*
 * Area under the ROC curve from the probability of class 1; NaN when y has
 * one class only, -1 when out of memory
 */
static double
RocAuc(int64_t rows, const double *y, const double *proba)
{
	ScoredLabel *s = malloc(sizeof(ScoredLabel) * rows);
	double		n_pos = 0;
	double		rank_sum = 0.0;
	double		auc;

	if (s == NULL)
		return -1.0;
	for (int64_t i = 0; i < rows; i++)
	{
		s[i].score = proba[2 * i + 1];
		s[i].positive = y[i] == 1.0;
		n_pos += s[i].positive;
		if (isnan(s[i].score))
		{
			free(s);
			return NAN;
		}
	}
	qsort(s, rows, sizeof(ScoredLabel), CompareScore);
	for (int64_t i = 0; i < rows;)
	{
		int64_t		j = i;
		double		pos = 0;

		/* a run of tied scores shares the mean of ranks i+1 .. j */
		while (j < rows && s[j].score == s[i].score)
			pos += s[j++].positive;
		rank_sum += pos * ((double) (i + 1) + (double) j) / 2.0;
		i = j;
	}
	free(s);
	if (n_pos == 0 || n_pos == rows)
		return NAN;
	auc = (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * ((double) rows - n_pos));
	return auc;
}

/* mean log loss of the true class, probabilities clipped and renormalized */
static double
LogLoss(int64_t rows, const double *y, const double *proba, int k)
{
	double		total = 0.0;

	for (int64_t i = 0; i < rows; i++)
	{
		const double *p = proba + i * k;
		double		sum = 0.0;
		double		pt = 0.0;

		for (int c = 0; c < k; c++)
		{
			double		v = fmin(fmax(p[c], DBL_EPSILON), 1.0 - DBL_EPSILON);

			if (isnan(p[c]))
				return NAN;
			sum += v;
			if (c == (int) y[i])
				pt = v;
		}
		total -= log(pt / sum);
	}
	return total / rows;
}

/* a ratio that counts 0 when the denominator is 0 (zero_division=0) */
static inline double
Ratio(double num, double den)
{
	return den > 0 ? num / den : 0.0;
}

/* accuracy, precision, recall, f1, roc_auc, log_loss, confusion matrix */
static int
ClassificationMetrics(json_t *obj, int64_t rows, const double *y,
					  const double *pred, const double *proba, int k,
					  LlmError *err)
{
	int64_t    *tp = calloc(k, sizeof(int64_t));
	int64_t    *n_true = calloc(k, sizeof(int64_t));
	int64_t    *n_pred = calloc(k, sizeof(int64_t));
	int64_t    *cm = NULL;
	int64_t		correct = 0;
	double		precision = 0.0;
	double		recall = 0.0;
	double		f1 = 0.0;
	bool		ok = false;

	if (k <= CONFUSION_MAX_CLASSES)
		cm = calloc((size_t) k * k, sizeof(int64_t));
	if (tp == NULL || n_true == NULL || n_pred == NULL ||
		(k <= CONFUSION_MAX_CLASSES && cm == NULL))
		goto done;

	for (int64_t i = 0; i < rows; i++)
	{
		int			t = (int) y[i];
		int			p = (int) pred[i];

		n_true[t]++;
		n_pred[p]++;
		if (t == p)
		{
			tp[t]++;
			correct++;
		}
		if (cm != NULL)
			cm[(int64_t) t * k + p]++;
	}

	if (k == 2)
	{
		precision = Ratio(tp[1], n_pred[1]);
		recall = Ratio(tp[1], n_true[1]);
		f1 = Ratio(2 * precision * recall, precision + recall);
	}
	else
	{
		int			present = 0;

		for (int c = 0; c < k; c++)
		{
			double		pc;
			double		rc;

			if (n_true[c] == 0 && n_pred[c] == 0)
				continue;
			present++;
			pc = Ratio(tp[c], n_pred[c]);
			rc = Ratio(tp[c], n_true[c]);
			precision += pc;
			recall += rc;
			f1 += Ratio(2 * pc * rc, pc + rc);
		}
		precision /= present;
		recall /= present;
		f1 /= present;
	}

	if (!SetReal(obj, "accuracy", (double) correct / rows) ||
		!SetReal(obj, "precision", precision) ||
		!SetReal(obj, "recall", recall) ||
		!SetReal(obj, "f1", f1))
		goto done;
	if (proba != NULL)
	{
		if (k == 2)
		{
			double		auc = RocAuc(rows, y, proba);

			if (auc == -1.0 || !SetReal(obj, "roc_auc", auc))
				goto done;
		}
		if (!SetReal(obj, "log_loss", LogLoss(rows, y, proba, k)))
			goto done;
	}
	if (cm != NULL)
	{
		json_t	   *matrix = json_array();

		if (matrix == NULL || json_object_set_new(obj, "confusion_matrix", matrix) != 0)
			goto done;
		for (int t = 0; t < k; t++)
		{
			json_t	   *row = json_array();

			if (row == NULL || json_array_append_new(matrix, row) != 0)
				goto done;
			for (int p = 0; p < k; p++)
				if (json_array_append_new(row, json_integer(cm[(int64_t) t * k + p])) != 0)
					goto done;
		}
	}
	ok = true;

done:
	free(tp);
	free(n_true);
	free(n_pred);
	free(cm);
	return ok ? LLM_OK : LlmSetError(err, LLM_ERR_NOMEM, "out of memory computing metrics");
}

/* squared Euclidean distance over n features */
static inline double
SquaredDistance(const double *a, const double *b, int n)
{
	double		s = 0.0;

	for (int j = 0; j < n; j++)
	{
		double		d = a[j] - b[j];

		s += d * d;
	}
	return s;
}

/*
 * Mean silhouette of the sampled rows into *out (NaN when undefined):
 * s(i) = (b - a) / max(a, b), a the mean distance to the other members of
 * i's cluster, b the smallest mean distance to another cluster; 0 for a
 * single-member cluster
 */
static int
Silhouette(const MlMatrix *x, const double *pred, uint64_t seed,
		   double *out, LlmError *err)
{
	int64_t		rows = x->rows;
	int			m = rows < SILHOUETTE_SAMPLE ? (int) rows : SILHOUETTE_SAMPLE;
	int			f = x->cols;
	int64_t    *idx = NULL;
	int		   *label = NULL;
	int		   *count = NULL;
	double	   *sum = NULL;
	double	   *dist = NULL;
	int64_t    *clusters = NULL;
	int			n_labels = 0;
	double		total = 0.0;
	int			rc = LLM_OK;

	*out = NAN;
	idx = malloc(sizeof(int64_t) * (rows > m ? rows : m));
	label = malloc(sizeof(int) * m);
	count = calloc(m, sizeof(int));
	sum = malloc(sizeof(double) * m);
	dist = malloc(sizeof(double) * m * m);
	clusters = malloc(sizeof(int64_t) * m);
	if (!idx || !label || !count || !sum || !dist || !clusters)
	{
		rc = LlmSetError(err, LLM_ERR_NOMEM, "out of memory computing the silhouette");
		goto done;
	}

	for (int64_t i = 0; i < rows; i++)
		idx[i] = i;
	if (rows > m)
	{
		uint64_t	state;

		PcgSeed(&state, seed);
		for (int i = 0; i < m; i++)
		{
			int64_t		left = rows - i;
			int64_t		j;
			int64_t		t;

			if (left <= (int64_t) UINT32_MAX)
				j = i + PcgBounded(&state, (uint32_t) left);
			else
				j = i + (int64_t) (PcgUniform(&state) * (double) left);
			t = idx[i];
			idx[i] = idx[j];
			idx[j] = t;
		}
	}

	/* sampled labels renumbered 0 .. n_labels-1 in order of appearance */
	for (int i = 0; i < m; i++)
	{
		int64_t		c = (int64_t) pred[idx[i]];
		int			l;

		for (l = 0; l < n_labels && clusters[l] != c; l++)
			;
		if (l == n_labels)
			clusters[n_labels++] = c;
		label[i] = l;
		count[l]++;
	}
	if (n_labels < 2 || n_labels > m - 1)
		goto done;

	for (int i = 0; i < m; i++)
	{
		const double *xi = x->x + idx[i] * f;

		if (LlmInterrupted())
		{
			rc = LlmSetError(err, LLM_ERR_CANCELLED, "metrics cancelled");
			goto done;
		}
		dist[(int64_t) i * m + i] = 0.0;
		for (int j = i + 1; j < m; j++)
		{
			double		d = sqrt(SquaredDistance(xi, x->x + idx[j] * f, f));

			dist[(int64_t) i * m + j] = d;
			dist[(int64_t) j * m + i] = d;
		}
	}
	for (int i = 0; i < m; i++)
	{
		double		a;
		double		b = HUGE_VAL;

		if (count[label[i]] == 1)
			continue;			/* silhouette 0 */
		memset(sum, 0, sizeof(double) * n_labels);
		for (int j = 0; j < m; j++)
			sum[label[j]] += dist[(int64_t) i * m + j];
		a = sum[label[i]] / (count[label[i]] - 1);
		for (int l = 0; l < n_labels; l++)
			if (l != label[i] && sum[l] / count[l] < b)
				b = sum[l] / count[l];
		if (fmax(a, b) > 0)
			total += (b - a) / fmax(a, b);
	}
	*out = total / m;

done:
	free(idx);
	free(label);
	free(count);
	free(sum);
	free(dist);
	free(clusters);
	return rc;
}

/* inertia and silhouette */
static int
ClusteringMetrics(json_t *obj, const MlMatrix *x, const double *pred,
				  const double *centers, int k, uint64_t seed, LlmError *err)
{
	double		inertia = 0.0;
	double		sil;
	int			rc;

	for (int64_t i = 0; i < x->rows; i++)
		inertia += SquaredDistance(x->x + i * x->cols,
								   centers + (int64_t) pred[i] * x->cols, x->cols);
	rc = Silhouette(x, pred, seed, &sil, err);
	if (rc != LLM_OK)
		return rc;
	if (!SetReal(obj, "inertia", inertia) || !SetReal(obj, "silhouette", sil))
		return LlmSetError(err, LLM_ERR_NOMEM, "out of memory computing metrics");
	return LLM_OK;
}

/* whether every value is an integral index in [0, k) */
static bool
ValidIndexes(const double *v, int64_t rows, int k)
{
	for (int64_t i = 0; i < rows; i++)
		if (!(v[i] >= 0 && v[i] < k && v[i] == floor(v[i])))
			return false;
	return true;
}

/*
 * The held-out metrics of task as compact JSON text (malloc'ed), numbers
 * with 17 significant digits; NULL with err set on bad input
 */
char *
MlMetricsJson(MlTask task, int64_t rows, const double *y,
			  const double *pred, const double *proba, int n_classes,
			  const MlMatrix *x, const double *centers, uint64_t seed,
			  LlmError *err)
{
	json_t	   *obj;
	char	   *text = NULL;
	int			rc = LLM_OK;

	if (rows < 1 || pred == NULL)
	{
		LlmSetError(err, LLM_ERR_ARGUMENT, "metrics need at least one row");
		return NULL;
	}
	obj = LlmJsonObject();
	if (obj == NULL)
	{
		LlmSetError(err, LLM_ERR_NOMEM, "out of memory computing metrics");
		return NULL;
	}
	switch (task)
	{
		case ML_TASK_REGRESSION:
			if (y == NULL)
				rc = LlmSetError(err, LLM_ERR_ARGUMENT, "regression metrics need y");
			else if (!RegressionMetrics(obj, rows, y, pred))
				rc = LlmSetError(err, LLM_ERR_NOMEM, "out of memory computing metrics");
			break;
		case ML_TASK_CLASSIFICATION:
			if (y == NULL || n_classes < 2)
				rc = LlmSetError(err, LLM_ERR_ARGUMENT,
								 "classification metrics need y and at least two classes");
			else if (!ValidIndexes(y, rows, n_classes) ||
					 !ValidIndexes(pred, rows, n_classes))
				rc = LlmSetError(err, LLM_ERR_ARGUMENT,
								 "classification metrics need class indexes below %d",
								 n_classes);
			else
				rc = ClassificationMetrics(obj, rows, y, pred, proba, n_classes, err);
			break;
		case ML_TASK_CLUSTERING:
			if (x == NULL || x->x == NULL || x->rows != rows || x->cols < 1 ||
				centers == NULL || n_classes < 1)
				rc = LlmSetError(err, LLM_ERR_ARGUMENT,
								 "clustering metrics need the rows and the centers");
			else if (!ValidIndexes(pred, rows, n_classes))
				rc = LlmSetError(err, LLM_ERR_ARGUMENT,
								 "clustering metrics need cluster indexes below %d",
								 n_classes);
			else
				rc = ClusteringMetrics(obj, x, pred, centers, n_classes, seed, err);
			break;
		default:
			rc = LlmSetError(err, LLM_ERR_ARGUMENT, "unknown task %d", (int) task);
			break;
	}
	if (rc == LLM_OK)
	{
		text = json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(17));
		if (text == NULL)
			LlmSetError(err, LLM_ERR_NOMEM, "out of memory computing metrics");
	}
	json_decref(obj);
	return text;
}

/* the metric strategy 'best' and tuning compare: f1, r2 or silhouette */
const char *
MlKeyMetric(MlTask task, bool *higher_is_better)
{
	if (higher_is_better != NULL)
		*higher_is_better = true;
	switch (task)
	{
		case ML_TASK_REGRESSION:
			return "r2";
		case ML_TASK_CLASSIFICATION:
			return "f1";
		case ML_TASK_CLUSTERING:
			return "silhouette";
	}
	return "r2";
}
