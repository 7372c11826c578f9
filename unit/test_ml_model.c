// objects: src/ml/mlmodel.o src/ml/mlparams.o src/ml/linear.o src/ml/cd.o src/ml/logistic.o src/ml/lbfgs.o src/ml/kmeans.o src/ml/xgb.o src/llm/llmutil.o src/vector/vecdist.o
/*
 * test_ml_model.c
 *	  Unit tests of mlmodel.c and mlparams.c: names, hyperparameter parsing,
 *	  training dispatch and its checks, prediction (one row and blocks,
 *	  against plain loops), and the artifact format: a round trip for every
 *	  algorithm, and damaged artifacts (every truncation, every flipped
 *	  byte, consistent hashes over bad headers) refused without a crash.
 *	  PGMLOPS_BENCH=1 prints prediction throughput.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ml/ml.h"
#include "unit.h"
#include "unitmath.h"

/* the xgboost blob follows the 32-byte header and its 8-byte length */
#define ARTIFACT_BLOB_START 40

/* -------------------------------------------------------------- helpers */

/* a reproducible value in [-1, 1) */
static double
Value(uint64_t *state)
{
	return 2.0 * PcgUniform(state) - 1.0;
}

/* rows x cols of Value() */
static MlMatrix
RandomMatrix(int64_t rows, int cols, uint64_t seed)
{
	MlMatrix	m = {rows, cols, malloc(sizeof(double) * rows * cols)};
	uint64_t	st;

	PcgSeed(&st, seed);
	for (int64_t i = 0; i < rows * cols; i++)
		m.x[i] = Value(&st);
	return m;
}

/* a linear-family or logistic model with random coefficients */
static MlModel
HandModel(MlAlgorithm alg, MlTask task, int f, int n_classes, double scale)
{
	MlModel		m;
	uint64_t	st;

	memset(&m, 0, sizeof(m));
	PcgSeed(&st, 1000 + alg * 10 + n_classes);
	m.algorithm = alg;
	m.task = task;
	m.n_features = f;
	m.n_classes = n_classes;
	m.n_iter = 17;
	if (alg == ML_ALG_KMEANS)
	{
		m.n_outputs = n_classes;
		m.centers = malloc(sizeof(double) * n_classes * f);
		for (int i = 0; i < n_classes * f; i++)
			m.centers[i] = scale * Value(&st);
		return m;
	}
	m.n_outputs = (task == ML_TASK_CLASSIFICATION && n_classes > 2) ? n_classes : 1;
	m.coef = malloc(sizeof(double) * m.n_outputs * f);
	m.intercept = malloc(sizeof(double) * m.n_outputs);
	for (int i = 0; i < m.n_outputs * f; i++)
		m.coef[i] = scale * Value(&st);
	for (int i = 0; i < m.n_outputs; i++)
		m.intercept[i] = scale * Value(&st);
	return m;
}

/* what the model predicts for one row, by the definition */
static void
Reference(const MlModel *m, const double *x, double *pred, double *proba)
{
	int			f = m->n_features;

	if (m->algorithm == ML_ALG_KMEANS)
	{
		double		best = HUGE_VAL;

		for (int c = 0; c < m->n_classes; c++)
		{
			double		d = 0;

			for (int j = 0; j < f; j++)
				d += (x[j] - m->centers[c * f + j]) * (x[j] - m->centers[c * f + j]);
			if (d < best)
			{
				best = d;
				*pred = c;
			}
		}
		return;
	}
	if (m->n_outputs == 1)
	{
		double		z = m->intercept[0];

		for (int j = 0; j < f; j++)
			z += x[j] * m->coef[j];
		if (m->task == ML_TASK_REGRESSION)
			*pred = z;
		else
		{
			*pred = z > 0;
			proba[1] = 1 / (1 + exp(-z));
			proba[0] = 1 - proba[1];
		}
		return;
	}
	else
	{
		int			k = m->n_outputs;
		double		mx = -HUGE_VAL;
		double		sum = 0;

		for (int c = 0; c < k; c++)
		{
			double		z = m->intercept[c];

			for (int j = 0; j < f; j++)
				z += x[j] * m->coef[c * f + j];
			proba[c] = z;
			if (z > mx)
			{
				mx = z;
				*pred = c;
			}
		}
		for (int c = 0; c < k; c++)
			sum += (proba[c] = exp(proba[c] - mx));
		for (int c = 0; c < k; c++)
			proba[c] /= sum;
	}
}

/* ---------------------------------------------------------------- names */

static void
TestNames(void)
{
	for (int a = 0; a < ML_ALG_COUNT; a++)
		CHECK(MlAlgorithmFromName(MlAlgorithmName(a)) == a);
	for (int t = 0; t <= ML_TASK_CLUSTERING; t++)
		CHECK(MlTaskFromName(MlTaskName(t)) == t);
	CHECK(MlAlgorithmFromName("xgboost") == ML_ALG_XGBOOST);
	CHECK(MlAlgorithmFromName("random_forest") == -1);
	CHECK(MlAlgorithmFromName("") == -1 && MlAlgorithmFromName(NULL) == -1);
	CHECK(MlTaskFromName("ranking") == -1 && MlTaskFromName(NULL) == -1);
	CHECK(strcmp(MlAlgorithmName(ML_ALG_COUNT), "unknown") == 0);

	CHECK(MlAlgorithmSupports(ML_ALG_LINEAR_REGRESSION, ML_TASK_REGRESSION));
	CHECK(!MlAlgorithmSupports(ML_ALG_LINEAR_REGRESSION, ML_TASK_CLASSIFICATION));
	CHECK(MlAlgorithmSupports(ML_ALG_LASSO, ML_TASK_REGRESSION));
	CHECK(MlAlgorithmSupports(ML_ALG_ELASTIC_NET, ML_TASK_REGRESSION));
	CHECK(!MlAlgorithmSupports(ML_ALG_ELASTIC_NET, ML_TASK_CLUSTERING));
	CHECK(MlAlgorithmSupports(ML_ALG_LOGISTIC_REGRESSION, ML_TASK_CLASSIFICATION));
	CHECK(!MlAlgorithmSupports(ML_ALG_LOGISTIC_REGRESSION, ML_TASK_REGRESSION));
	CHECK(MlAlgorithmSupports(ML_ALG_KMEANS, ML_TASK_CLUSTERING));
	CHECK(!MlAlgorithmSupports(ML_ALG_KMEANS, ML_TASK_CLASSIFICATION));
	CHECK(MlAlgorithmSupports(ML_ALG_XGBOOST, ML_TASK_REGRESSION));
	CHECK(MlAlgorithmSupports(ML_ALG_XGBOOST, ML_TASK_CLASSIFICATION));
	CHECK(!MlAlgorithmSupports(ML_ALG_XGBOOST, ML_TASK_CLUSTERING));
	CHECK(!MlAlgorithmSupports(ML_ALG_COUNT, ML_TASK_REGRESSION));
	for (int a = 0; a < ML_ALG_COUNT; a++)
		CHECK(MlAlgorithmStandardizes(a) == (a != ML_ALG_XGBOOST));
}

/* ------------------------------------------------------ hyperparameters */

/* parse json for alg; the return code */
static int
Parse(MlAlgorithm alg, const char *json, MlParams *p, LlmError *err)
{
	err->code = 0;
	err->message[0] = '\0';
	return MlParamsParse(alg, json, p, err);
}

/* whether parsing json for alg fails with a message containing want */
static bool
Refused(MlAlgorithm alg, const char *json, const char *want)
{
	MlParams	p;
	LlmError	err;
	int			rc = Parse(alg, json, &p, &err);

	if (rc != LLM_ERR_ARGUMENT || err.code != LLM_ERR_ARGUMENT ||
		strstr(err.message, want) == NULL)
	{
		printf("  %s %s: rc %d, \"%s\"\n", MlAlgorithmName(alg), json, rc, err.message);
		return false;
	}
	return true;
}

/* whether ToJson of alg's params is exactly want */
static bool
JsonIs(MlAlgorithm alg, const MlParams *p, const char *want)
{
	char	   *s = MlParamsToJson(alg, p);
	bool		ok = s != NULL && strcmp(s, want) == 0;

	if (!ok)
		printf("  got %s\n want %s\n", s ? s : "(null)", want);
	free(s);
	return ok;
}

static void
TestParams(void)
{
	MlParams	p;
	MlParams	q;
	LlmError	err;
	char	   *s;

	/* defaults */
	MlParamsDefault(ML_ALG_LINEAR_REGRESSION, &p);
	CHECK(p.alpha == 0.0 && p.fit_intercept);
	MlParamsDefault(ML_ALG_LASSO, &p);
	CHECK(p.alpha == 1.0 && p.max_iter == 1000 && p.tol == 1e-4);
	MlParamsDefault(ML_ALG_LOGISTIC_REGRESSION, &p);
	CHECK(p.C == 1.0 && p.max_iter == 100);
	MlParamsDefault(ML_ALG_KMEANS, &p);
	CHECK(p.n_clusters == 8 && p.max_iter == 300 && p.n_init == 10);
	MlParamsDefault(ML_ALG_XGBOOST, &p);
	CHECK(p.n_estimators == 100 && p.max_depth == 6 && p.learning_rate == 0.3 &&
		  p.max_bin == 256 && strcmp(p.tree_method, "hist") == 0 && p.nthread == 0);

	CHECK(JsonIs(ML_ALG_LINEAR_REGRESSION, (MlParamsDefault(ML_ALG_LINEAR_REGRESSION, &p), &p),
				 "{\"alpha\":0,\"fit_intercept\":true}"));
	CHECK(JsonIs(ML_ALG_ELASTIC_NET, (MlParamsDefault(ML_ALG_ELASTIC_NET, &p), &p),
				 "{\"alpha\":1,\"l1_ratio\":0.5,\"max_iter\":1000,\"tol\":0.0001,\"fit_intercept\":true}"));
	CHECK(JsonIs(ML_ALG_LOGISTIC_REGRESSION, (MlParamsDefault(ML_ALG_LOGISTIC_REGRESSION, &p), &p),
				 "{\"C\":1,\"max_iter\":100,\"tol\":0.0001,\"fit_intercept\":true}"));
	CHECK(JsonIs(ML_ALG_KMEANS, (MlParamsDefault(ML_ALG_KMEANS, &p), &p),
				 "{\"n_clusters\":8,\"max_iter\":300,\"tol\":0.0001,\"n_init\":10}"));
	CHECK(JsonIs(ML_ALG_XGBOOST, (MlParamsDefault(ML_ALG_XGBOOST, &p), &p),
				 "{\"n_estimators\":100,\"max_depth\":6,\"learning_rate\":0.3,"
				 "\"subsample\":1,\"colsample_bytree\":1,\"min_child_weight\":1,\"reg_lambda\":1,"
				 "\"reg_alpha\":0,\"gamma\":0,\"max_bin\":256,\"nthread\":0,\"tree_method\":\"hist\"}"));

	/* accepted: values applied over the defaults, integers as 5 or 5.0 */
	CHECK(Parse(ML_ALG_LASSO, "{\"alpha\": 0.1, \"max_iter\": 5000.0, \"fit_intercept\": false}", &p, &err) == LLM_OK);
	CHECK(p.alpha == 0.1 && p.max_iter == 5000 && !p.fit_intercept && p.tol == 1e-4);
	CHECK(Parse(ML_ALG_ELASTIC_NET, "{\"l1_ratio\": 0, \"alpha\": 0}", &p, &err) == LLM_OK &&
		  p.l1_ratio == 0 && p.alpha == 0);
	CHECK(Parse(ML_ALG_ELASTIC_NET, "{\"l1_ratio\": 1}", &p, &err) == LLM_OK && p.l1_ratio == 1);
	CHECK(Parse(ML_ALG_LOGISTIC_REGRESSION, "{\"C\": 1e-300, \"tol\": 1e-12, \"max_iter\": 1000000}", &p, &err) == LLM_OK &&
		  p.C == 1e-300 && p.max_iter == 1000000);
	CHECK(Parse(ML_ALG_KMEANS, "{\"n_clusters\": 100000, \"n_init\": 1}", &p, &err) == LLM_OK &&
		  p.n_clusters == 100000 && p.n_init == 1);
	CHECK(Parse(ML_ALG_XGBOOST,
				"{\"n_estimators\": 1, \"max_depth\": 64, \"learning_rate\": 1, \"subsample\": 0.5,"
				"\"colsample_bytree\": 0.25, \"min_child_weight\": 0, \"reg_lambda\": 0, \"reg_alpha\": 2,"
				"\"gamma\": 0.5, \"max_bin\": 65536, \"nthread\": 2, \"tree_method\": \"exact\"}",
				&p, &err) == LLM_OK);
	CHECK(p.n_estimators == 1 && p.max_depth == 64 && p.learning_rate == 1 && p.subsample == 0.5 &&
		  p.colsample_bytree == 0.25 && p.min_child_weight == 0 && p.reg_lambda == 0 &&
		  p.reg_alpha == 2 && p.gamma == 0.5 && p.max_bin == 65536 && p.nthread == 2 &&
		  strcmp(p.tree_method, "exact") == 0);
	CHECK(Parse(ML_ALG_XGBOOST, "{\"tree_method\": \"approx\", \"max_bin\": 2}", &p, &err) == LLM_OK &&
		  strcmp(p.tree_method, "approx") == 0 && p.n_estimators == 100);
	CHECK(Parse(ML_ALG_KMEANS, NULL, &p, &err) == LLM_OK && p.n_clusters == 8);
	CHECK(Parse(ML_ALG_KMEANS, "  ", &p, &err) == LLM_OK && p.n_clusters == 8);
	CHECK(Parse(ML_ALG_KMEANS, "{}", &p, &err) == LLM_OK && p.n_clusters == 8);

	/* round trip: the printed set parses back to the same values */
	CHECK(Parse(ML_ALG_ELASTIC_NET, "{\"alpha\": 0.1, \"l1_ratio\": 0.7, \"tol\": 3e-7}", &p, &err) == LLM_OK);
	s = MlParamsToJson(ML_ALG_ELASTIC_NET, &p);
	CHECK(s != NULL && strcmp(s, "{\"alpha\":0.1,\"l1_ratio\":0.7,\"max_iter\":1000,\"tol\":3e-07,\"fit_intercept\":true}") == 0);
	CHECK(Parse(ML_ALG_ELASTIC_NET, s, &q, &err) == LLM_OK && memcmp(&p, &q, sizeof(p)) == 0);
	free(s);
	CHECK(Parse(ML_ALG_XGBOOST, "{\"learning_rate\": 0.123456789012345678, \"gamma\": 1e-310}", &p, &err) == LLM_OK);
	s = MlParamsToJson(ML_ALG_XGBOOST, &p);
	CHECK(s != NULL && Parse(ML_ALG_XGBOOST, s, &q, &err) == LLM_OK &&
		  q.learning_rate == p.learning_rate && q.gamma == p.gamma);
	free(s);

	/* refused: names */
	CHECK(Refused(ML_ALG_LASSO, "{\"l1_ratio\": 0.5}", "unknown hyperparameter \"l1_ratio\" for algorithm lasso"));
	CHECK(Refused(ML_ALG_LINEAR_REGRESSION, "{\"max_iter\": 5}", "unknown hyperparameter \"max_iter\" for algorithm linear_regression"));
	CHECK(Refused(ML_ALG_KMEANS, "{\"fit_intercept\": true}", "unknown hyperparameter \"fit_intercept\" for algorithm kmeans"));
	CHECK(Refused(ML_ALG_XGBOOST, "{\"eta\": 0.1}", "unknown hyperparameter \"eta\" for algorithm xgboost"));
	CHECK(Refused(ML_ALG_XGBOOST, "{\"seed\": 1}", "unknown hyperparameter \"seed\""));
	CHECK(Refused(ML_ALG_LOGISTIC_REGRESSION, "{\"c\": 1}", "unknown hyperparameter \"c\""));
	CHECK(Refused(ML_ALG_LOGISTIC_REGRESSION, "{\"alpha\": 1}", "unknown hyperparameter \"alpha\""));
	/* types */
	CHECK(Refused(ML_ALG_LASSO, "{\"alpha\": \"0.1\"}", "\"alpha\" must be a number"));
	CHECK(Refused(ML_ALG_LASSO, "{\"alpha\": null}", "\"alpha\" must be a number"));
	CHECK(Refused(ML_ALG_LASSO, "{\"max_iter\": 10.5}", "\"max_iter\" must be an integer"));
	CHECK(Refused(ML_ALG_LASSO, "{\"fit_intercept\": 1}", "\"fit_intercept\" must be true or false"));
	CHECK(Refused(ML_ALG_XGBOOST, "{\"tree_method\": 1}", "\"tree_method\" must be a string"));
	CHECK(Refused(ML_ALG_XGBOOST, "{\"tree_method\": \"gpu_hist\"}", "\"tree_method\" must be \"hist\", \"approx\" or \"exact\""));
	/* ranges, at both sides of each bound */
	CHECK(Refused(ML_ALG_LASSO, "{\"alpha\": -1e-9}", "\"alpha\" must be >= 0"));
	CHECK(Refused(ML_ALG_ELASTIC_NET, "{\"l1_ratio\": 1.0000001}", "\"l1_ratio\" must be between 0 (inclusive) and 1"));
	CHECK(Refused(ML_ALG_ELASTIC_NET, "{\"l1_ratio\": -0.1}", "\"l1_ratio\""));
	CHECK(Refused(ML_ALG_LOGISTIC_REGRESSION, "{\"C\": 0}", "\"C\" must be > 0"));
	CHECK(Refused(ML_ALG_LOGISTIC_REGRESSION, "{\"tol\": 0}", "\"tol\" must be > 0"));
	CHECK(Refused(ML_ALG_LOGISTIC_REGRESSION, "{\"max_iter\": 0}", "\"max_iter\""));
	CHECK(Refused(ML_ALG_LOGISTIC_REGRESSION, "{\"max_iter\": 1000001}", "\"max_iter\""));
	CHECK(Refused(ML_ALG_KMEANS, "{\"n_clusters\": 0}", "\"n_clusters\""));
	CHECK(Refused(ML_ALG_KMEANS, "{\"n_clusters\": 100001}", "\"n_clusters\""));
	CHECK(Refused(ML_ALG_KMEANS, "{\"n_init\": 1001}", "\"n_init\""));
	CHECK(Refused(ML_ALG_KMEANS, "{\"n_clusters\": 1e300}", "\"n_clusters\""));
	CHECK(Refused(ML_ALG_XGBOOST, "{\"n_estimators\": 0}", "\"n_estimators\""));
	CHECK(Refused(ML_ALG_XGBOOST, "{\"n_estimators\": 100001}", "\"n_estimators\""));
	CHECK(Refused(ML_ALG_XGBOOST, "{\"max_depth\": 0}", "\"max_depth\""));
	CHECK(Refused(ML_ALG_XGBOOST, "{\"max_depth\": 65}", "\"max_depth\""));
	CHECK(Refused(ML_ALG_XGBOOST, "{\"learning_rate\": 0}", "\"learning_rate\" must be between 0 (exclusive) and 1"));
	CHECK(Refused(ML_ALG_XGBOOST, "{\"learning_rate\": 1.5}", "\"learning_rate\""));
	CHECK(Refused(ML_ALG_XGBOOST, "{\"subsample\": 0}", "\"subsample\""));
	CHECK(Refused(ML_ALG_XGBOOST, "{\"colsample_bytree\": 1.01}", "\"colsample_bytree\""));
	CHECK(Refused(ML_ALG_XGBOOST, "{\"min_child_weight\": -1}", "\"min_child_weight\""));
	CHECK(Refused(ML_ALG_XGBOOST, "{\"reg_lambda\": -1}", "\"reg_lambda\""));
	CHECK(Refused(ML_ALG_XGBOOST, "{\"reg_alpha\": -1}", "\"reg_alpha\""));
	CHECK(Refused(ML_ALG_XGBOOST, "{\"gamma\": -1}", "\"gamma\""));
	CHECK(Refused(ML_ALG_XGBOOST, "{\"max_bin\": 1}", "\"max_bin\""));
	CHECK(Refused(ML_ALG_XGBOOST, "{\"max_bin\": 65537}", "\"max_bin\""));
	CHECK(Refused(ML_ALG_XGBOOST, "{\"nthread\": -1}", "\"nthread\""));
	CHECK(Refused(ML_ALG_XGBOOST, "{\"nthread\": 1025}", "\"nthread\""));
	/* the document */
	CHECK(Refused(ML_ALG_LASSO, "[1, 2]", "must be a JSON object"));
	CHECK(Refused(ML_ALG_LASSO, "{\"alpha\": ", "not valid JSON"));
	CHECK(Refused(ML_ALG_LASSO, "{\"alpha\": 1, \"alpha\": 2}", "not valid JSON"));
	CHECK(Refused(ML_ALG_LASSO, "{\"alpha\": 1e999}", "not valid JSON"));
	CHECK(Refused(ML_ALG_COUNT, "{}", "unknown algorithm"));

	/* a refused document leaves the defaults */
	CHECK(Parse(ML_ALG_LASSO, "{\"alpha\": 5, \"bogus\": 1}", &p, &err) == LLM_ERR_ARGUMENT && p.alpha == 1.0);
}

/* ----------------------------------------------------------- prediction */

/* MlPredict/MlPredictProba of model on x against Reference, row by row */
static void
CheckPredictions(const MlModel *m, const MlMatrix *x)
{
	double	   *pred = malloc(sizeof(double) * x->rows);
	double	   *proba = malloc(sizeof(double) * x->rows * (m->n_classes > 2 ? m->n_classes : 2));
	double		one;
	double		one_proba[16];
	double		ref = 0;
	double		ref_proba[16];
	LlmError	err;
	int			k = m->n_classes;
	bool		clf = m->task == ML_TASK_CLASSIFICATION;
	int			bad = 0;

	CHECK(MlPredict(m, x, pred, &err) == LLM_OK);
	if (clf)
		CHECK(MlPredictProba(m, x, proba, &err) == LLM_OK);
	for (int64_t i = 0; i < x->rows; i++)
	{
		MlMatrix	row = {1, x->cols, x->x + i * x->cols};

		Reference(m, row.x, &ref, ref_proba);
		if (MlPredict(m, &row, &one, &err) != LLM_OK)
			bad++;
		if (m->task == ML_TASK_REGRESSION)
		{
			/* BLAS sums in another order than the loops */
			if (fabs(pred[i] - ref) > 1e-12 * fmax(1, fabs(ref)) ||
				fabs(one - ref) > 1e-12 * fmax(1, fabs(ref)))
				bad++;
		}
		else if (pred[i] != ref || one != ref)
		{
			printf("  row %lld: block %g, one %g, reference %g\n", (long long) i, pred[i], one, ref);
			bad++;
		}
		if (clf)
		{
			double		sum = 0;

			if (MlPredictProba(m, &row, one_proba, &err) != LLM_OK)
				bad++;
			for (int c = 0; c < k; c++)
			{
				sum += proba[i * k + c];
				if (fabs(proba[i * k + c] - ref_proba[c]) > 1e-12 ||
					fabs(one_proba[c] - proba[i * k + c]) > 1e-12)
				{
					printf("  row %lld class %d: block %.17g, one %.17g, reference %.17g\n",
						   (long long) i, c, proba[i * k + c], one_proba[c], ref_proba[c]);
					bad++;
				}
			}
			if (fabs(sum - 1) > 1e-12)
				bad++;
		}
	}
	CHECK(bad == 0);
	if (bad)
		printf("  %s: %d mismatches\n", MlAlgorithmName(m->algorithm), bad);
	free(pred);
	free(proba);
}

static void
TestPredict(void)
{
	MlMatrix	x = RandomMatrix(9000, 7, 5);	/* crosses two chunk edges */
	MlMatrix	wide = {3, 8, x.x};
	MlMatrix	empty = {0, 7, NULL};
	MlModel		models[5];
	LlmError	err;
	double		out[16];

	models[0] = HandModel(ML_ALG_LINEAR_REGRESSION, ML_TASK_REGRESSION, 7, 0, 3.0);
	models[1] = HandModel(ML_ALG_LOGISTIC_REGRESSION, ML_TASK_CLASSIFICATION, 7, 2, 2.0);
	models[2] = HandModel(ML_ALG_LOGISTIC_REGRESSION, ML_TASK_CLASSIFICATION, 7, 4, 2.0);
	models[3] = HandModel(ML_ALG_KMEANS, ML_TASK_CLUSTERING, 7, 5, 1.0);
	/* scores in the thousands: softmax and sigmoid must not overflow */
	models[4] = HandModel(ML_ALG_LOGISTIC_REGRESSION, ML_TASK_CLASSIFICATION, 7, 3, 2000.0);
	for (int i = 0; i < 5; i++)
		CheckPredictions(&models[i], &x);
	{
		MlModel		big = HandModel(ML_ALG_LOGISTIC_REGRESSION, ML_TASK_CLASSIFICATION, 7, 2, 2000.0);

		CheckPredictions(&big, &x);
		MlModelFree(&big);
	}

	/* wrong width, no rows, proba of a regressor or of k-means */
	CHECK(MlPredict(&models[0], &wide, out, &err) == LLM_ERR_ARGUMENT);
	CHECK(MlPredictProba(&models[1], &wide, out, &err) == LLM_ERR_ARGUMENT);
	CHECK(MlPredict(&models[2], &empty, out, &err) == LLM_OK);
	CHECK(MlPredictProba(&models[2], &empty, out, &err) == LLM_OK);
	CHECK(MlPredictProba(&models[0], &x, out, &err) == LLM_ERR_ARGUMENT);
	CHECK(MlPredictProba(&models[3], &x, out, &err) == LLM_ERR_ARGUMENT);

	for (int i = 0; i < 5; i++)
		MlModelFree(&models[i]);
	free(x.x);
}

/* linear predictions per second, one block and row by row (20 features) */
static void
BenchPredict(void)
{
	int64_t		n = 1000000;
	MlMatrix	x = RandomMatrix(n, 20, 9);
	MlModel		m = HandModel(ML_ALG_LINEAR_REGRESSION, ML_TASK_REGRESSION, 20, 0, 1.0);
	MlModel		lr = HandModel(ML_ALG_LOGISTIC_REGRESSION, ML_TASK_CLASSIFICATION, 20, 2, 1.0);
	double	   *out = malloc(sizeof(double) * n);
	LlmError	err;
	double		t0;
	double		block;
	double		rows;
	double		sum = 0;

	t0 = UnitNow();
	CHECK(MlPredict(&m, &x, out, &err) == LLM_OK);
	block = UnitNow() - t0;
	t0 = UnitNow();
	for (int64_t i = 0; i < n; i++)
	{
		MlMatrix	row = {1, 20, x.x + i * 20};

		MlPredict(&lr, &row, &out[i], &err);
		sum += out[i];
	}
	rows = UnitNow() - t0;
	printf("predict, 1M rows x 20 features: block %.1f M/s, row by row (logistic) %.1f M/s (%g)\n",
		   n / block / 1e6, n / rows / 1e6, sum);
	MlModelFree(&m);
	MlModelFree(&lr);
	free(out);
	free(x.x);
}

/* ------------------------------------------------------------- training */

/* a training set: x random, y from a linear rule (classes by quantile) */
static MlData
MakeData(int64_t rows, int f, MlTask task, int k, uint64_t seed)
{
	MlData		d;
	uint64_t	st;

	memset(&d, 0, sizeof(d));
	d.x = RandomMatrix(rows, f, seed);
	PcgSeed(&st, seed + 1);
	if (task == ML_TASK_CLUSTERING)
		return d;
	d.y = malloc(sizeof(double) * rows);
	d.n_classes = task == ML_TASK_CLASSIFICATION ? k : 0;
	for (int64_t i = 0; i < rows; i++)
	{
		double		z = 0.3 * Value(&st);

		for (int j = 0; j < f; j++)
			z += (j + 1) * 0.5 * d.x.x[i * f + j];
		if (task == ML_TASK_REGRESSION)
			d.y[i] = z + 1.5;
		else
		{
			/* z is roughly in [-4, 4]; k equal-width bins */
			int			c = (int) floor((z + 2.0) / 4.0 * k);

			d.y[i] = c < 0 ? 0 : c >= k ? k - 1 : c;
		}
	}
	return d;
}

/* save model, load it back, and check both predict the same */
static void
RoundTrip(const MlModel *m, const MlMatrix *x)
{
	uint8_t    *buf = NULL;
	size_t		len = 0;
	MlModel		back;
	LlmError	err;
	double	   *p1 = malloc(sizeof(double) * x->rows * (m->n_classes > 2 ? m->n_classes : 2));
	double	   *p2 = malloc(sizeof(double) * x->rows * (m->n_classes > 2 ? m->n_classes : 2));
	int			rc;

	rc = MlModelSave(m, &buf, &len, &err);
	CHECK(rc == LLM_OK && buf != NULL && len > 40 && memcmp(buf, "PGMLMDL1", 8) == 0);
	if (rc != LLM_OK)
	{
		printf("  save %s: %s\n", MlAlgorithmName(m->algorithm), err.message);
		return;
	}
	rc = MlModelLoad(&back, buf, len, &err);
	CHECK(rc == LLM_OK);
	if (rc != LLM_OK)
	{
		printf("  load %s: %s\n", MlAlgorithmName(m->algorithm), err.message);
		free(buf);
		return;
	}
	CHECK(back.algorithm == m->algorithm && back.task == m->task &&
		  back.n_features == m->n_features && back.n_classes == m->n_classes &&
		  back.n_outputs == m->n_outputs && back.n_iter == m->n_iter);
	if (m->coef)
		CHECK(memcmp(back.coef, m->coef, sizeof(double) * m->n_outputs * m->n_features) == 0 &&
			  memcmp(back.intercept, m->intercept, sizeof(double) * m->n_outputs) == 0);
	if (m->centers)
		CHECK(memcmp(back.centers, m->centers, sizeof(double) * m->n_classes * m->n_features) == 0);
	if (m->blob)
		CHECK(back.blob_len == m->blob_len && memcmp(back.blob, m->blob, m->blob_len) == 0 &&
			  back.booster != NULL);
	CHECK(MlPredict(m, x, p1, &err) == LLM_OK && MlPredict(&back, x, p2, &err) == LLM_OK &&
		  memcmp(p1, p2, sizeof(double) * x->rows) == 0);
	if (m->task == ML_TASK_CLASSIFICATION)
		CHECK(MlPredictProba(m, x, p1, &err) == LLM_OK && MlPredictProba(&back, x, p2, &err) == LLM_OK &&
			  memcmp(p1, p2, sizeof(double) * x->rows * m->n_classes) == 0);

	/* the same model saves to the same bytes */
	{
		uint8_t    *buf2 = NULL;
		size_t		len2 = 0;

		CHECK(MlModelSave(&back, &buf2, &len2, &err) == LLM_OK && len2 == len &&
			  memcmp(buf, buf2, len) == 0);
		free(buf2);
	}
	MlModelFree(&back);
	CHECK(back.coef == NULL && back.booster == NULL && back.blob == NULL);
	free(buf);
	free(p1);
	free(p2);
}

/* train alg for task; checks it worked and round-trips the model */
static void
FitAndRoundTrip(MlAlgorithm alg, MlTask task, int k, const char *json)
{
	MlData		d = MakeData(300, 4, task, k, 11 + alg);
	MlParams	p;
	MlModel		m;
	LlmError	err;
	int			rc;

	CHECK(MlParamsParse(alg, json, &p, &err) == LLM_OK);
	p.seed = 3;
	rc = MlFit(alg, task, &p, &d, &m, &err);
	CHECK(rc == LLM_OK);
	if (rc != LLM_OK)
		printf("  fit %s: %s\n", MlAlgorithmName(alg), err.message);
	else
	{
		double	   *pred = malloc(sizeof(double) * d.x.rows);
		int64_t		right = 0;

		CHECK(m.algorithm == alg && m.task == task && m.n_features == 4);
		CHECK(MlPredict(&m, &d.x, pred, &err) == LLM_OK);
		if (task == ML_TASK_CLASSIFICATION)
		{
			for (int64_t i = 0; i < d.x.rows; i++)
				right += pred[i] == d.y[i];
			/* the classes are a noisy linear rule: far above chance */
			CHECK(right > d.x.rows * 0.7);
		}
		else if (task == ML_TASK_REGRESSION)
		{
			double		sse = 0;
			double		sst = 0;

			for (int64_t i = 0; i < d.x.rows; i++)
			{
				sse += (pred[i] - d.y[i]) * (pred[i] - d.y[i]);
				sst += (d.y[i] - 1.5) * (d.y[i] - 1.5);
			}
			CHECK(sse < 0.5 * sst);
		}
		free(pred);
		RoundTrip(&m, &d.x);
		MlModelFree(&m);
	}
	free(d.x.x);
	free(d.y);
}

static void
TestFit(void)
{
	MlData		d = MakeData(50, 3, ML_TASK_CLASSIFICATION, 3, 99);
	MlParams	p;
	MlModel		m;
	LlmError	err;
	double		saved;

	FitAndRoundTrip(ML_ALG_LINEAR_REGRESSION, ML_TASK_REGRESSION, 0, "{}");
	FitAndRoundTrip(ML_ALG_LINEAR_REGRESSION, ML_TASK_REGRESSION, 0, "{\"alpha\": 2}");
	FitAndRoundTrip(ML_ALG_LASSO, ML_TASK_REGRESSION, 0, "{\"alpha\": 0.01}");
	FitAndRoundTrip(ML_ALG_ELASTIC_NET, ML_TASK_REGRESSION, 0, "{\"alpha\": 0.01}");
	FitAndRoundTrip(ML_ALG_LOGISTIC_REGRESSION, ML_TASK_CLASSIFICATION, 2, "{}");
	FitAndRoundTrip(ML_ALG_LOGISTIC_REGRESSION, ML_TASK_CLASSIFICATION, 3, "{}");
	FitAndRoundTrip(ML_ALG_KMEANS, ML_TASK_CLUSTERING, 0, "{\"n_clusters\": 3, \"n_init\": 2}");
	FitAndRoundTrip(ML_ALG_XGBOOST, ML_TASK_REGRESSION, 0, "{\"n_estimators\": 20, \"nthread\": 1}");
	FitAndRoundTrip(ML_ALG_XGBOOST, ML_TASK_CLASSIFICATION, 2, "{\"n_estimators\": 20, \"nthread\": 1}");
	FitAndRoundTrip(ML_ALG_XGBOOST, ML_TASK_CLASSIFICATION, 3, "{\"n_estimators\": 20, \"nthread\": 1}");

	/* the checks before any algorithm runs */
	MlParamsDefault(ML_ALG_LOGISTIC_REGRESSION, &p);
	CHECK(MlFit(ML_ALG_LOGISTIC_REGRESSION, ML_TASK_REGRESSION, &p, &d, &m, &err) == LLM_ERR_ARGUMENT &&
		  strstr(err.message, "does not support") != NULL);
	CHECK(MlFit(ML_ALG_KMEANS, ML_TASK_CLASSIFICATION, &p, &d, &m, &err) == LLM_ERR_ARGUMENT);
	CHECK(MlFit(ML_ALG_COUNT, ML_TASK_CLASSIFICATION, &p, &d, &m, &err) == LLM_ERR_ARGUMENT);
	d.n_classes = 1;
	CHECK(MlFit(ML_ALG_LOGISTIC_REGRESSION, ML_TASK_CLASSIFICATION, &p, &d, &m, &err) == LLM_ERR_ARGUMENT &&
		  strstr(err.message, "two classes") != NULL);
	d.n_classes = 3;
	saved = d.y[7];
	d.y[7] = 3;
	CHECK(MlFit(ML_ALG_LOGISTIC_REGRESSION, ML_TASK_CLASSIFICATION, &p, &d, &m, &err) == LLM_ERR_ARGUMENT &&
		  strstr(err.message, "row 7") != NULL);
	d.y[7] = 0.5;
	CHECK(MlFit(ML_ALG_XGBOOST, ML_TASK_CLASSIFICATION, &p, &d, &m, &err) == LLM_ERR_ARGUMENT);
	d.y[7] = NAN;
	CHECK(MlFit(ML_ALG_LINEAR_REGRESSION, ML_TASK_REGRESSION, &p, &d, &m, &err) == LLM_ERR_ARGUMENT);
	d.y[7] = saved;
	d.x.x[5] = INFINITY;
	CHECK(MlFit(ML_ALG_LOGISTIC_REGRESSION, ML_TASK_CLASSIFICATION, &p, &d, &m, &err) == LLM_ERR_ARGUMENT);
	d.x.x[5] = 0;
	d.x.rows = 0;
	CHECK(MlFit(ML_ALG_LOGISTIC_REGRESSION, ML_TASK_CLASSIFICATION, &p, &d, &m, &err) == LLM_ERR_ARGUMENT &&
		  strstr(err.message, "no rows") != NULL);
	d.x.rows = 50;
	d.x.cols = 0;
	CHECK(MlFit(ML_ALG_LOGISTIC_REGRESSION, ML_TASK_CLASSIFICATION, &p, &d, &m, &err) == LLM_ERR_ARGUMENT &&
		  strstr(err.message, "no features") != NULL);
	d.x.cols = 3;
	MlParamsDefault(ML_ALG_KMEANS, &p);
	p.n_clusters = 51;
	CHECK(MlFit(ML_ALG_KMEANS, ML_TASK_CLUSTERING, &p, &d, &m, &err) == LLM_ERR_ARGUMENT);
	CHECK(m.coef == NULL && m.centers == NULL);
	free(d.x.x);
	free(d.y);
}

/* ------------------------------------------------------------- artifact */

/* FNV-1a, as the format defines its trailer */
static uint64_t
Fnv(const uint8_t *p, size_t n)
{
	uint64_t	h = 14695981039346656037ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h;
}

/* rewrite the trailing hash after editing an artifact */
static void
Rehash(uint8_t *buf, size_t len)
{
	uint64_t	h = Fnv(buf, len - 8);

	for (int i = 0; i < 8; i++)
		buf[len - 8 + i] = (uint8_t) (h >> (8 * i));
}

static void
PutLe32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t) (v >> (8 * i));
}

/* whether loading len bytes of buf fails with LLM_ERR_FORMAT, cleanly */
static bool
LoadFails(const uint8_t *buf, size_t len)
{
	MlModel		m;
	LlmError	err;
	uint8_t    *copy = malloc(len ? len : 1);	/* exact size: ASan/valgrind see overreads */
	int			rc;

	memcpy(copy, buf, len);
	rc = MlModelLoad(&m, copy, len, &err);
	free(copy);
	if (rc == LLM_OK)
	{
		MlModelFree(&m);
		return false;
	}
	return rc == LLM_ERR_FORMAT && err.code == LLM_ERR_FORMAT && m.coef == NULL &&
		m.centers == NULL && m.blob == NULL && m.booster == NULL;
}

/* every truncation and every flipped byte of a valid artifact is refused */
static void
Damage(const MlModel *model)
{
	uint8_t    *buf;
	size_t		len;
	LlmError	err;
	int			bad = 0;

	CHECK(MlModelSave(model, &buf, &len, &err) == LLM_OK);
	for (size_t n = 0; n < len; n++)
		if (!LoadFails(buf, n))
			bad++;
	for (size_t i = 0; i < len; i++)
	{
		static const uint8_t masks[] = {0x01, 0x80, 0xff};

		for (int k = 0; k < 3; k++)
		{
			buf[i] ^= masks[k];
			if (!LoadFails(buf, len))
				bad++;
			buf[i] ^= masks[k];
		}
	}
	/* one byte too many */
	{
		uint8_t    *longer = malloc(len + 1);

		memcpy(longer, buf, len);
		longer[len] = 0;
		if (!LoadFails(longer, len + 1))
			bad++;
		free(longer);
	}
	CHECK(bad == 0);
	if (bad)
		printf("  %s: %d damaged artifacts loaded\n", MlAlgorithmName(model->algorithm), bad);
	free(buf);
}

/* a header field set to v, with a correct hash: refused all the same */
static bool
BadField(const uint8_t *buf, size_t len, int offset, uint32_t v)
{
	uint8_t    *copy = malloc(len);
	bool		ok;

	memcpy(copy, buf, len);
	PutLe32(copy + offset, v);
	Rehash(copy, len);
	ok = LoadFails(copy, len);
	free(copy);
	return ok;
}

static void
TestArtifact(void)
{
	MlModel		lin = HandModel(ML_ALG_LASSO, ML_TASK_REGRESSION, 3, 0, 1.0);
	MlModel		bin = HandModel(ML_ALG_LOGISTIC_REGRESSION, ML_TASK_CLASSIFICATION, 3, 2, 1.0);
	MlModel		multi = HandModel(ML_ALG_LOGISTIC_REGRESSION, ML_TASK_CLASSIFICATION, 2, 3, 1.0);
	MlModel		km = HandModel(ML_ALG_KMEANS, ML_TASK_CLUSTERING, 2, 3, 1.0);
	MlMatrix	x = RandomMatrix(100, 3, 77);
	MlMatrix	x2 = RandomMatrix(100, 2, 78);
	uint8_t    *buf;
	size_t		len;
	LlmError	err;
	MlModel		m;

	RoundTrip(&lin, &x);
	RoundTrip(&bin, &x);
	RoundTrip(&multi, &x2);
	RoundTrip(&km, &x2);
	Damage(&lin);
	Damage(&bin);
	Damage(&multi);
	Damage(&km);

	/* a small xgboost model: its blob goes through the same checks */
	{
		MlData		d = MakeData(60, 2, ML_TASK_CLASSIFICATION, 2, 5);
		MlParams	p;
		MlModel		xm;

		MlParamsParse(ML_ALG_XGBOOST, "{\"n_estimators\": 2, \"max_depth\": 2, \"nthread\": 1}", &p, &err);
		if (MlFit(ML_ALG_XGBOOST, ML_TASK_CLASSIFICATION, &p, &d, &xm, &err) == LLM_OK)
		{
			Damage(&xm);
			/* a blob that is not a booster, behind a correct hash */
			CHECK(MlModelSave(&xm, &buf, &len, &err) == LLM_OK);
			buf[ARTIFACT_BLOB_START] = 'x';
			Rehash(buf, len);
			CHECK(MlModelLoad(&m, buf, len, &err) != LLM_OK && m.blob == NULL);
			free(buf);
			MlModelFree(&xm);
		}
		else
			CHECK(!"xgboost fit");
		free(d.x.x);
		free(d.y);
	}

	/* consistent hashes over inconsistent headers */
	CHECK(MlModelSave(&multi, &buf, &len, &err) == LLM_OK);
	CHECK(BadField(buf, len, 8, ML_ALG_COUNT));	/* algorithm */
	CHECK(BadField(buf, len, 8, ML_ALG_KMEANS));
	CHECK(BadField(buf, len, 8, 0xffffffff));
	CHECK(BadField(buf, len, 12, ML_TASK_REGRESSION));	/* task */
	CHECK(BadField(buf, len, 12, 7));
	CHECK(BadField(buf, len, 16, 0));	/* n_features */
	CHECK(BadField(buf, len, 16, 3));
	CHECK(BadField(buf, len, 16, 0x7fffffff));
	CHECK(BadField(buf, len, 16, 0x80000000));
	CHECK(BadField(buf, len, 20, 2));	/* n_classes: 2 needs 1 output */
	CHECK(BadField(buf, len, 20, 1));
	CHECK(BadField(buf, len, 20, 0xffffffff));
	CHECK(BadField(buf, len, 24, 1));	/* n_outputs */
	CHECK(BadField(buf, len, 24, 0x40000000));
	CHECK(BadField(buf, len, 28, 0xffffffff));	/* n_iter */
	/* a NaN or infinite coefficient */
	{
		uint8_t    *copy = malloc(len);
		double		bad[] = {NAN, INFINITY, -INFINITY};

		for (int i = 0; i < 3; i++)
		{
			memcpy(copy, buf, len);
			memcpy(copy + 32 + 8, &bad[i], 8);	/* little-endian host */
			Rehash(copy, len);
			CHECK(LoadFails(copy, len));
		}
		/* another format version */
		memcpy(copy, buf, len);
		copy[7] = '2';
		Rehash(copy, len);
		CHECK(MlModelLoad(&m, copy, len, &err) == LLM_ERR_FORMAT && strstr(err.message, "version") != NULL);
		free(copy);
	}
	CHECK(MlModelLoad(&m, NULL, 0, &err) == LLM_ERR_FORMAT);
	CHECK(MlModelLoad(&m, (const uint8_t *) "hello, world, this is not a model at all", 40, &err) == LLM_ERR_FORMAT);
	free(buf);

	/* an inconsistent model is not saved */
	multi.n_outputs = 1;
	CHECK(MlModelSave(&multi, &buf, &len, &err) == LLM_ERR_ARGUMENT && buf == NULL);
	multi.n_outputs = 3;
	multi.coef[1] = NAN;
	CHECK(MlModelSave(&multi, &buf, &len, &err) == LLM_ERR_ARGUMENT);

	MlModelFree(&lin);
	MlModelFree(&bin);
	MlModelFree(&multi);
	MlModelFree(&km);
	MlModelFree(&km);			/* a freed model frees again harmlessly */
	free(x.x);
	free(x2.x);
}

int
main(void)
{
	TestNames();
	TestParams();
	TestPredict();
	TestFit();
	TestArtifact();
	if (getenv("PGMLOPS_BENCH") != NULL)
		BenchPredict();
	UNIT_DONE("ml_model");
}
