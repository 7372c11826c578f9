// objects: src/ml/metrics.o src/llm/llmutil.o src/vector/vecdist.o
/*
 * test_ml_metrics.c
 *	  Unit tests of the held-out metrics (metrics.c) against scikit-learn.
 *
 * The expected numbers were produced once with Debian's python3-sklearn
 * 1.2.1 on the same small arrays:
 *	 mean_squared_error (square-rooted), mean_absolute_error, r2_score;
 *	 accuracy_score, precision_score, recall_score, f1_score (binary, and
 *	 average='macro'), roc_auc_score, log_loss (labels=range(k) for the
 *	 multiclass case), confusion_matrix(labels=range(k));
 *	 silhouette_score, on a sample drawn with a Python copy of pcg.h's
 *	 partial Fisher-Yates shuffle for the 1,500-row case.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "ml/ml.h"
#include "unit.h"

#define TOL 1e-12

/* the metrics object of one call, parsed; NULL when the call failed */
static json_t *
Metrics(MlTask task, int64_t rows, const double *y, const double *pred,
		const double *proba, int k, const MlMatrix *x, const double *centers,
		uint64_t seed, LlmError *err)
{
	char	   *text = MlMetricsJson(task, rows, y, pred, proba, k, x, centers,
									 seed, err);
	json_t	   *j;

	if (text == NULL)
		return NULL;
	j = json_loads(text, 0, NULL);
	free(text);
	return j;
}

/* a number member, NaN when missing or null */
static double
Num(json_t *obj, const char *key)
{
	json_t	   *v = json_object_get(obj, key);

	return json_is_number(v) ? json_number_value(v) : NAN;
}

/* whether obj's confusion matrix equals want (k x k) */
static bool
SameMatrix(json_t *obj, const int *want, int k)
{
	json_t	   *cm = json_object_get(obj, "confusion_matrix");

	if (!json_is_array(cm) || (int) json_array_size(cm) != k)
		return false;
	for (int t = 0; t < k; t++)
	{
		json_t	   *row = json_array_get(cm, t);

		if (!json_is_array(row) || (int) json_array_size(row) != k)
			return false;
		for (int p = 0; p < k; p++)
			if (json_integer_value(json_array_get(row, p)) != want[t * k + p])
				return false;
	}
	return true;
}

/* rmse, mae, r2, and r2 on a constant target */
static void
TestRegression(void)
{
	double		y[] = {3, -0.5, 2, 7, 4.2};
	double		pred[] = {2.5, 0.0, 2, 8, 4.0};
	double		cy[] = {2, 2, 2};
	double		cperfect[] = {2, 2, 2};
	double		cwrong[] = {2, 2, 3};
	LlmError	err;
	json_t	   *m;

	m = Metrics(ML_TASK_REGRESSION, 5, y, pred, NULL, 0, NULL, NULL, 0, &err);
	CHECK(m != NULL);
	CHECK_NEAR(Num(m, "rmse"), 0.5549774770204643, TOL);
	CHECK_NEAR(Num(m, "mae"), 0.44000000000000006, TOL);
	CHECK_NEAR(Num(m, "r2"), 0.9496600418410042, TOL);
	CHECK(json_object_size(m) == 3);
	json_decref(m);

	m = Metrics(ML_TASK_REGRESSION, 3, cy, cperfect, NULL, 0, NULL, NULL, 0, &err);
	CHECK(Num(m, "r2") == 1.0 && Num(m, "rmse") == 0.0);
	json_decref(m);
	m = Metrics(ML_TASK_REGRESSION, 3, cy, cwrong, NULL, 0, NULL, NULL, 0, &err);
	CHECK(Num(m, "r2") == 0.0);
	json_decref(m);

	/* no rows, no y */
	CHECK(MlMetricsJson(ML_TASK_REGRESSION, 0, y, pred, NULL, 0, NULL, NULL, 0, &err) == NULL &&
		  err.code == LLM_ERR_ARGUMENT);
	CHECK(MlMetricsJson(ML_TASK_REGRESSION, 5, NULL, pred, NULL, 0, NULL, NULL, 0, &err) == NULL);
}

/* binary: tied scores across the classes, probabilities of exactly 0 and 1 */
static void
TestBinary(void)
{
	double		y[] = {0, 1, 1, 0, 1, 0, 1, 1, 0, 0, 1, 0};
	double		p1[] = {0.1, 0.4, 0.35, 0.8, 0.8, 0.4, 0.9, 0.65, 0.3, 0.8, 1.0, 0.0};
	double		pred[12];
	double		proba[24];
	int			cm[] = {4, 2, 2, 4};
	LlmError	err;
	json_t	   *m;

	for (int i = 0; i < 12; i++)
	{
		pred[i] = p1[i] > 0.5;
		proba[2 * i] = 1 - p1[i];
		proba[2 * i + 1] = p1[i];
	}
	m = Metrics(ML_TASK_CLASSIFICATION, 12, y, pred, proba, 2, NULL, NULL, 0, &err);
	CHECK(m != NULL);
	CHECK_NEAR(Num(m, "accuracy"), 0.6666666666666666, TOL);
	CHECK_NEAR(Num(m, "precision"), 0.6666666666666666, TOL);
	CHECK_NEAR(Num(m, "recall"), 0.6666666666666666, TOL);
	CHECK_NEAR(Num(m, "f1"), 0.6666666666666666, TOL);
	CHECK_NEAR(Num(m, "roc_auc"), 0.7638888888888888, TOL);
	CHECK_NEAR(Num(m, "log_loss"), 0.5764280623056728, TOL);
	CHECK(SameMatrix(m, cm, 2));
	json_decref(m);

	/* without probabilities: no roc_auc, no log_loss */
	m = Metrics(ML_TASK_CLASSIFICATION, 12, y, pred, NULL, 2, NULL, NULL, 0, &err);
	CHECK(m != NULL && json_object_get(m, "roc_auc") == NULL &&
		  json_object_get(m, "log_loss") == NULL && json_object_size(m) == 5);
	json_decref(m);

	/* class 1 never predicted: precision and f1 are 0 (zero_division) */
	{
		double		zy[] = {0, 1, 1};
		double		zp[] = {0, 0, 0};

		m = Metrics(ML_TASK_CLASSIFICATION, 3, zy, zp, NULL, 2, NULL, NULL, 0, &err);
		CHECK(Num(m, "precision") == 0.0 && Num(m, "f1") == 0.0 && Num(m, "recall") == 0.0);
		json_decref(m);
	}

	/* one class only in y: roc_auc is undefined, so null */
	{
		double		oy[] = {1, 1, 1};
		double		op[] = {1, 0, 1};
		double		opr[] = {0.2, 0.8, 0.6, 0.4, 0.1, 0.9};

		m = Metrics(ML_TASK_CLASSIFICATION, 3, oy, op, opr, 2, NULL, NULL, 0, &err);
		CHECK(m != NULL && json_is_null(json_object_get(m, "roc_auc")));
		json_decref(m);
	}

	/* bad class indexes are refused */
	{
		double		by[] = {0, 2, 1};
		double		bp[] = {0, 0.5, 1};

		CHECK(MlMetricsJson(ML_TASK_CLASSIFICATION, 3, by, pred, NULL, 2, NULL, NULL, 0, &err) == NULL &&
			  err.code == LLM_ERR_ARGUMENT);
		CHECK(MlMetricsJson(ML_TASK_CLASSIFICATION, 3, y, bp, NULL, 2, NULL, NULL, 0, &err) == NULL);
		CHECK(MlMetricsJson(ML_TASK_CLASSIFICATION, 3, y, pred, NULL, 1, NULL, NULL, 0, &err) == NULL);
	}
}

/* multiclass: class 3 is never predicted, class 4 never occurs */
static void
TestMulticlass(void)
{
	double		y[] = {0, 1, 2, 3, 0, 1, 2, 0, 1, 2, 3};
	double		pred[] = {0, 2, 2, 0, 0, 1, 1, 0, 1, 2, 1};
	double		proba[] = {
		.7, .1, .1, .05, .05,
		.1, .3, .5, .1, 0,
		.2, .2, .6, 0, 0,
		.5 * 1.3, .2 * 1.3, .1 * 1.3, .15 * 1.3, .05 * 1.3,	/* sums to 1.3 */
		.9, .05, .05, 0, 0,
		.1, .6, .2, .1, 0,
		.2, .4, .3, .1, 0,
		.8, .1, .05, .05, 0,
		.1, .7, .1, .1, 0,
		0, 0, 1, 0, 0,
		.1, .5, .2, .3, 0
	};
	int			cm[] = {
		3, 0, 0, 0, 0,
		0, 2, 1, 0, 0,
		0, 1, 2, 0, 0,
		1, 1, 0, 0, 0,
		0, 0, 0, 0, 0
	};
	LlmError	err;
	json_t	   *m;

	m = Metrics(ML_TASK_CLASSIFICATION, 11, y, pred, proba, 5, NULL, NULL, 0, &err);
	CHECK(m != NULL);
	CHECK_NEAR(Num(m, "accuracy"), 0.6363636363636364, TOL);
	CHECK_NEAR(Num(m, "precision"), 0.47916666666666663, TOL);
	CHECK_NEAR(Num(m, "recall"), 0.5833333333333333, TOL);
	CHECK_NEAR(Num(m, "f1"), 0.5238095238095238, TOL);
	CHECK_NEAR(Num(m, "log_loss"), 0.6970776163681364, TOL);
	CHECK(json_object_get(m, "roc_auc") == NULL);
	CHECK(SameMatrix(m, cm, 5));
	json_decref(m);
}

/* perfect predictions with one-hot probabilities */
static void
TestPerfect(void)
{
	double		y[] = {0, 1, 1, 0};
	double		proba[] = {1, 0, 0, 1, 0, 1, 1, 0};
	LlmError	err;
	json_t	   *m;

	m = Metrics(ML_TASK_CLASSIFICATION, 4, y, y, proba, 2, NULL, NULL, 0, &err);
	CHECK(m != NULL);
	CHECK(Num(m, "accuracy") == 1.0 && Num(m, "precision") == 1.0 &&
		  Num(m, "recall") == 1.0 && Num(m, "f1") == 1.0 && Num(m, "roc_auc") == 1.0);
	CHECK_NEAR(Num(m, "log_loss"), 2.2204460492503136e-16, TOL);
	json_decref(m);
}

/* the rows of the sampled-silhouette case, also written in the script */
static void
BigClusters(double *x, double *label, int rows, int f)
{
	for (int i = 0; i < rows; i++)
	{
		label[i] = (i * i) % 4;
		for (int j = 0; j < f; j++)
			x[i * f + j] = ((i * 7 + j * 13 + (i * i) % 17) % 101) / 10.0;
		x[i * f] += 6.0 * label[i];
	}
}

/* inertia and silhouette, all rows and a seeded sample of 1,000 */
static void
TestClustering(void)
{
	double		xv[] = {0, 0, 0, 1, 1, 0, 5, 5, 5, 6, 6, 5, 10, 0};
	double		lab[] = {0, 0, 0, 1, 1, 1, 2};
	double		centers[] = {1.0 / 3, 1.0 / 3, 16.0 / 3, 16.0 / 3, 10, 0};
	MlMatrix	x = {7, 2, xv};
	LlmError	err;
	json_t	   *m;
	double	   *bx = malloc(sizeof(double) * 1500 * 3);
	double	   *blab = malloc(sizeof(double) * 1500);
	double		bc[12] = {0};
	MlMatrix	big = {1500, 3, bx};
	double		s1;
	double		s2;

	m = Metrics(ML_TASK_CLUSTERING, 7, NULL, lab, NULL, 3, &x, centers, 0, &err);
	CHECK(m != NULL);
	CHECK_NEAR(Num(m, "inertia"), 2.666666666666667, TOL);
	CHECK_NEAR(Num(m, "silhouette"), 0.7163280643624282, TOL);
	json_decref(m);

	/* one cluster: silhouette undefined */
	{
		double		one[] = {0, 0, 0, 0, 0, 0, 0};

		m = Metrics(ML_TASK_CLUSTERING, 7, NULL, one, NULL, 3, &x, centers, 0, &err);
		CHECK(m != NULL && json_is_null(json_object_get(m, "silhouette")));
		json_decref(m);
	}
	/* cluster index out of range */
	{
		double		bad[] = {0, 0, 0, 1, 1, 1, 3};

		CHECK(MlMetricsJson(ML_TASK_CLUSTERING, 7, NULL, bad, NULL, 3, &x, centers, 0, &err) == NULL &&
			  err.code == LLM_ERR_ARGUMENT);
	}

	BigClusters(bx, blab, 1500, 3);
	m = Metrics(ML_TASK_CLUSTERING, 1500, NULL, blab, NULL, 4, &big, bc, 42, &err);
	CHECK(m != NULL);
	s1 = Num(m, "silhouette");
	CHECK_NEAR(s1, 0.2709628695656962, 1e-9);	/* sklearn computes distances as sqrt(aa - 2ab + bb) */
	json_decref(m);
	/* the same seed again gives the same number, another seed another one */
	m = Metrics(ML_TASK_CLUSTERING, 1500, NULL, blab, NULL, 4, &big, bc, 42, &err);
	CHECK(Num(m, "silhouette") == s1);
	json_decref(m);
	m = Metrics(ML_TASK_CLUSTERING, 1500, NULL, blab, NULL, 4, &big, bc, 7, &err);
	s2 = Num(m, "silhouette");
	CHECK(s2 != s1 && fabs(s2 - 0.2637150356736896) < 0.02);
	json_decref(m);
	/* 1,000 rows or fewer: all of them */
	big.rows = 1000;
	m = Metrics(ML_TASK_CLUSTERING, 1000, NULL, blab, NULL, 4, &big, bc, 1, &err);
	s1 = Num(m, "silhouette");
	json_decref(m);
	m = Metrics(ML_TASK_CLUSTERING, 1000, NULL, blab, NULL, 4, &big, bc, 2, &err);
	CHECK(Num(m, "silhouette") == s1);
	json_decref(m);
	free(bx);
	free(blab);
}

/* the key metric of each task */
static void
TestKeyMetric(void)
{
	bool		higher = false;

	CHECK(strcmp(MlKeyMetric(ML_TASK_REGRESSION, &higher), "r2") == 0 && higher);
	higher = false;
	CHECK(strcmp(MlKeyMetric(ML_TASK_CLASSIFICATION, &higher), "f1") == 0 && higher);
	higher = false;
	CHECK(strcmp(MlKeyMetric(ML_TASK_CLUSTERING, &higher), "silhouette") == 0 && higher);
}

int
main(void)
{
	TestRegression();
	TestBinary();
	TestMulticlass();
	TestPerfect();
	TestClustering();
	TestKeyMetric();
	UNIT_DONE("ml_metrics");
}
