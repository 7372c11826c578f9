// objects: src/ml/xgb.o src/llm/llmutil.o src/vector/vecdist.o
/*
 * test_ml_xgb.c
 *	  Unit tests of the XGBoost algorithm (src/ml/xgb.c): predictions against
 *	  the Python package on three scikit-learn datasets, the save/load round
 *	  trip, malformed blobs, bad hyperparameters and cancellation.
 *
 * The datasets are test/data/ml's copies of scikit-learn's (the same
 * numbers), read from $ML_DATA_DIR when set.
 * XGB_VERBOSE=1 prints why each malformed blob was refused.
 *
 * The expected numbers came from python3-xgboost 1.7.4 (Debian, the same
 * libxgboost) with the script below; the parameters match Params() and each
 * case's overrides.
 *
 *	import gzip, numpy as np, xgboost as xgb
 *	D = "/usr/lib/python3/dist-packages/sklearn/datasets/data/"
 *	def csv(n):
 *		a = np.loadtxt(D + n, delimiter=",", skiprows=1); return a[:, :-1], a[:, -1]
 *	dia = (np.loadtxt(gzip.open(D + "diabetes_data_raw.csv.gz")),
 *		   np.loadtxt(gzip.open(D + "diabetes_target.csv.gz")))
 *	base = dict(tree_method="hist", nthread=1, seed=0, max_depth=6, eta=0.3,
 *				subsample=1, colsample_bytree=1, min_child_weight=1,
 *				max_bin=256, gamma=0, alpha=0, **{"lambda": 1})
 *	cases = [(csv("iris.csv"), dict(objective="multi:softprob", num_class=3,
 *				max_depth=3), 20),
 *			 (csv("breast_cancer.csv"), dict(objective="binary:logistic",
 *				max_depth=4, eta=0.2, subsample=0.8, colsample_bytree=0.7,
 *				**{"lambda": 2}), 30),
 *			 (dia, dict(objective="reg:squarederror", max_depth=3, eta=0.1,
 *				alpha=0.5, gamma=1, min_child_weight=2, max_bin=64), 50)]
 *	for (x, y), p, rounds in cases:
 *		b = xgb.train({**base, **p}, xgb.DMatrix(x, label=y), rounds)
 *		pr = b.predict(xgb.DMatrix(x))
 *		print([pr[r] for r in [0, 1, 7, 42, 77, 120, len(y) - 1]],
 *			  pr.mean(0, dtype=np.float64))
 *		# and the rows classified right: argmax, or p > 0.5
 */
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ml/ml.h"
#include "unit.h"

#define NROWS_CHECKED 7

/* a dataset: x rows x cols, y rows */
typedef struct Dataset
{
	MlData		data;
	int64_t		rows;
} Dataset;

/*
 * Read test/data/ml/NAME (or $ML_DATA_DIR/NAME): a header line, then rows
 * of id, features numbers, label.  false if missing or malformed.
 */
static bool
LoadTable(const char *name, int features, int n_classes, Dataset *ds)
{
	const char *dir = getenv("ML_DATA_DIR");
	char		path[1024];
	char		line[8192];
	FILE	   *f;
	int64_t		cap = 0;
	bool		ok = true;

	memset(ds, 0, sizeof(*ds));
	ds->data.x.cols = features;
	ds->data.n_classes = n_classes;
	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "test/data/ml", name);
	f = fopen(path, "r");
	if (f == NULL || fgets(line, sizeof(line), f) == NULL)
		ok = false;
	while (ok && fgets(line, sizeof(line), f) != NULL)
	{
		char	   *p = line;
		int64_t		r = ds->rows;

		if (r == cap)
		{
			cap = cap ? cap * 2 : 256;
			ds->data.x.x = realloc(ds->data.x.x,
								   cap * features * sizeof(double));
			ds->data.y = realloc(ds->data.y, cap * sizeof(double));
		}
		for (int c = -1; c <= features && ok; c++)
		{
			char	   *end;
			double		v = strtod(p, &end);

			if (end == p || (*end != ',' && c < features))
				ok = false;
			else if (c >= 0 && c < features)
				ds->data.x.x[r * features + c] = v;
			else if (c == features)
				ds->data.y[r] = v;
			p = end + 1;
		}
		ds->rows++;
	}
	if (f != NULL)
		fclose(f);
	ds->data.x.rows = ds->rows;
	if (!ok)
		printf("%s is missing or malformed\n", path);
	return ok && ds->rows > 0;
}

/* XGBoost's defaults as ml.h lists them, one thread, seed 0 */
static MlParams
Params(void)
{
	MlParams	p;

	memset(&p, 0, sizeof(p));
	p.n_estimators = 100;
	p.max_depth = 6;
	p.learning_rate = 0.3;
	p.subsample = 1;
	p.colsample_bytree = 1;
	p.min_child_weight = 1;
	p.reg_lambda = 1;
	p.reg_alpha = 0;
	p.gamma = 0;
	p.max_bin = 256;
	p.nthread = 1;
	strcpy(p.tree_method, "hist");
	p.seed = 0;
	return p;
}

static const int check_rows[NROWS_CHECKED] = {0, 1, 7, 42, 77, 120, -1};

/* row r of check_rows in a table of rows rows */
static int64_t
CheckRow(int k, int64_t rows)
{
	return check_rows[k] < 0 ? rows - 1 : check_rows[k];
}

/* a model holding a copy of m's blob and header, not loaded */
static MlModel
BlobCopy(const MlModel *m)
{
	MlModel		c;

	memset(&c, 0, sizeof(c));
	c.algorithm = ML_ALG_XGBOOST;
	c.task = m->task;
	c.n_classes = m->n_classes;
	c.n_features = m->n_features;
	c.blob = malloc(m->blob_len);
	memcpy(c.blob, m->blob, m->blob_len);
	c.blob_len = m->blob_len;
	return c;
}

/* save -> load gives the same predictions, bit for bit */
static void
CheckRoundTrip(const MlModel *m, const MlMatrix *x, bool proba)
{
	LlmError	err = {0};
	MlModel		c = BlobCopy(m);
	int			width = proba ? m->n_classes : 1;
	double	   *a = malloc(x->rows * width * sizeof(double));
	double	   *b = malloc(x->rows * width * sizeof(double));
	int64_t		same = 0;

	CHECK(MlXgbLoad(&c, &err) == LLM_OK);
	if (err.code)
		printf("load: %s\n", err.message);
	CHECK(c.booster != NULL);
	CHECK(MlXgbPredict(m, x, a, proba, &err) == LLM_OK);
	CHECK(MlXgbPredict(&c, x, b, proba, &err) == LLM_OK);
	for (int64_t i = 0; i < x->rows * width; i++)
		same += a[i] == b[i];
	CHECK(same == x->rows * width);

	/* a header without the feature and class counts takes the booster's */
	MlXgbFree(&c);
	c = BlobCopy(m);
	c.n_features = 0;
	c.n_classes = 0;
	CHECK(MlXgbLoad(&c, &err) == LLM_OK);
	CHECK(c.n_features == m->n_features);
	CHECK(c.n_classes == m->n_classes);
	MlXgbFree(&c);
	CHECK(c.booster == NULL && c.blob == NULL && c.blob_len == 0);
	free(a);
	free(b);
}

/* iris: three classes, multi:softprob */
static void
TestIris(void)
{
	static const double want[NROWS_CHECKED][3] = {
		{0.991851151, 0.00543696666, 0.00271187117},
		{0.992132008, 0.00472125877, 0.00314673898},
		{0.991851151, 0.00543696666, 0.00271187117},
		{0.99256283, 0.00472330907, 0.00271381717},
		{0.0235893968, 0.684428453, 0.291982144},
		{0.00379057927, 0.00684092753, 0.989368498},
		{0.00552098826, 0.0350689664, 0.959410012},
	};
	static const double want_mean[3] = {0.334129052, 0.333571742, 0.332299206};
	Dataset		ds;
	MlParams	p = Params();
	MlModel		m;
	LlmError	err = {0};
	double	   *proba,
			   *cls;
	double		mean[3] = {0};
	int			correct = 0;

	CHECK(LoadTable("iris.csv", 4, 3, &ds));
	if (ds.rows != 150)
	{
		unit_failed++;
		return;
	}
	p.n_estimators = 20;
	p.max_depth = 3;
	memset(&m, 0, sizeof(m));
	CHECK(MlXgbFit(ML_TASK_CLASSIFICATION, &p, &ds.data, &m, &err) == LLM_OK);
	if (err.code)
		printf("%s\n", err.message);
	CHECK(m.booster != NULL && m.blob != NULL && m.blob_len > 0);
	CHECK(m.blob[0] == '{');
	CHECK(m.n_features == 4 && m.n_classes == 3 && m.n_outputs == 3);
	CHECK(m.task == ML_TASK_CLASSIFICATION && m.algorithm == ML_ALG_XGBOOST);

	proba = malloc(ds.rows * 3 * sizeof(double));
	cls = malloc(ds.rows * sizeof(double));
	CHECK(MlXgbPredict(&m, &ds.data.x, proba, true, &err) == LLM_OK);
	CHECK(MlXgbPredict(&m, &ds.data.x, cls, false, &err) == LLM_OK);
	for (int k = 0; k < NROWS_CHECKED; k++)
		for (int c = 0; c < 3; c++)
			CHECK_NEAR(proba[CheckRow(k, ds.rows) * 3 + c], want[k][c], 1e-5);
	for (int64_t i = 0; i < ds.rows; i++)
	{
		for (int c = 0; c < 3; c++)
			mean[c] += proba[i * 3 + c] / ds.rows;
		correct += cls[i] == ds.data.y[i];
	}
	for (int c = 0; c < 3; c++)
		CHECK_NEAR(mean[c], want_mean[c], 1e-5);
	CHECK(correct == 150);

	CheckRoundTrip(&m, &ds.data.x, true);
	CheckRoundTrip(&m, &ds.data.x, false);
	MlXgbFree(&m);
	free(proba);
	free(cls);
	free(ds.data.x.x);
	free(ds.data.y);
}

/* breast cancer: binary:logistic with row and column subsampling */
static void
TestCancer(void)
{
	static const double want[NROWS_CHECKED] = {
		0.055957552, 0.0142786587, 0.00815197919, 0.00699594663,
		0.0397607945, 0.993441045, 0.985275149
	};
	Dataset		ds;
	MlParams	p = Params();
	MlModel		m;
	LlmError	err = {0};
	double	   *proba,
			   *cls;
	double		mean = 0;
	int			correct = 0;

	CHECK(LoadTable("breast_cancer.csv", 30, 2, &ds));
	if (ds.rows != 569)
	{
		unit_failed++;
		return;
	}
	p.n_estimators = 30;
	p.max_depth = 4;
	p.learning_rate = 0.2;
	p.subsample = 0.8;
	p.colsample_bytree = 0.7;
	p.reg_lambda = 2;
	memset(&m, 0, sizeof(m));
	CHECK(MlXgbFit(ML_TASK_CLASSIFICATION, &p, &ds.data, &m, &err) == LLM_OK);
	CHECK(m.n_classes == 2 && m.n_outputs == 1 && m.n_features == 30);

	proba = malloc(ds.rows * 2 * sizeof(double));
	cls = malloc(ds.rows * sizeof(double));
	CHECK(MlXgbPredict(&m, &ds.data.x, proba, true, &err) == LLM_OK);
	CHECK(MlXgbPredict(&m, &ds.data.x, cls, false, &err) == LLM_OK);
	for (int k = 0; k < NROWS_CHECKED; k++)
	{
		int64_t		r = CheckRow(k, ds.rows);

		CHECK_NEAR(proba[r * 2 + 1], want[k], 1e-5);
		CHECK_NEAR(proba[r * 2], 1 - want[k], 1e-5);
	}
	for (int64_t i = 0; i < ds.rows; i++)
	{
		mean += proba[i * 2 + 1] / ds.rows;
		correct += cls[i] == ds.data.y[i];
		CHECK(cls[i] == (proba[i * 2 + 1] > 0.5));
	}
	CHECK_NEAR(mean, 0.627309671, 1e-5);
	CHECK(correct == 566);

	/* the same seed gives the same subsampled model again */
	{
		MlModel		m2;

		memset(&m2, 0, sizeof(m2));
		CHECK(MlXgbFit(ML_TASK_CLASSIFICATION, &p, &ds.data, &m2, &err) == LLM_OK);
		CHECK(m2.blob_len == m.blob_len &&
			  memcmp(m2.blob, m.blob, m.blob_len) == 0);
		MlXgbFree(&m2);
	}

	CheckRoundTrip(&m, &ds.data.x, true);
	MlXgbFree(&m);
	free(proba);
	free(cls);
	free(ds.data.x.x);
	free(ds.data.y);
}

/*
 * Garbage in place of a blob: each is LLM_ERR_FORMAT with a message, and
 * the model is left without a booster
 */
static void
CheckBadBlob(const MlModel *m, const uint8_t *bytes, size_t len,
			 const char *label)
{
	MlModel		c;
	LlmError	err = {0};
	int			rc;

	memset(&c, 0, sizeof(c));
	c.algorithm = ML_ALG_XGBOOST;
	c.task = m->task;
	c.n_classes = m->n_classes;
	c.n_features = m->n_features;
	c.blob = malloc(len ? len : 1);
	memcpy(c.blob, bytes, len);
	c.blob_len = len;
	rc = MlXgbLoad(&c, &err);
	if (rc != LLM_ERR_FORMAT || err.message[0] == '\0' || c.booster != NULL)
	{
		printf("FAIL bad blob %s (len %zu): rc %d, %s\n", label, len, rc,
			   err.message);
		unit_failed++;
		MlXgbFree(&c);
		return;
	}
	unit_passed++;
	if (getenv("XGB_VERBOSE"))
		printf("%s: %s\n", label, err.message);
	MlXgbFree(&c);
}

/*
 * m's blob with the first occurrence of from replaced by to, as a bad
 * blob that must be refused
 */
static void
CheckTampered(const MlModel *m, const char *from, const char *to)
{
	const char *at = memmem(m->blob, m->blob_len, from, strlen(from));
	size_t		pre,
				len;
	uint8_t    *b;

	if (at == NULL)
	{
		printf("FAIL tampering: \"%s\" not in the model\n", from);
		unit_failed++;
		return;
	}
	pre = at - (const char *) m->blob;
	len = m->blob_len - strlen(from) + strlen(to);
	b = malloc(len);
	memcpy(b, m->blob, pre);
	memcpy(b + pre, to, strlen(to));
	memcpy(b + pre + strlen(to), at + strlen(from),
		   m->blob_len - pre - strlen(from));
	CheckBadBlob(m, b, len, to);
	free(b);
}

/* diabetes: regression, then the error cases on its model */
static void
TestDiabetes(void)
{
	static const double want[NROWS_CHECKED] = {
		202.357834, 80.0439606, 94.752861, 102.360939, 128.944946,
		117.349701, 70.6274872
	};
	Dataset		ds;
	MlParams	p = Params();
	MlModel		m,
				c;
	LlmError	err = {0};
	double	   *pred;
	double		mean = 0;
	uint8_t    *junk;
	uint64_t	state = 42;

	CHECK(LoadTable("diabetes.csv", 10, 0, &ds));
	if (ds.rows != 442)
	{
		unit_failed++;
		return;
	}
	p.n_estimators = 50;
	p.max_depth = 3;
	p.learning_rate = 0.1;
	p.reg_alpha = 0.5;
	p.gamma = 1;
	p.min_child_weight = 2;
	p.max_bin = 64;
	memset(&m, 0, sizeof(m));
	CHECK(MlXgbFit(ML_TASK_REGRESSION, &p, &ds.data, &m, &err) == LLM_OK);
	CHECK(m.n_outputs == 1 && m.n_features == 10 && m.n_iter == 50);

	pred = malloc(ds.rows * sizeof(double));
	CHECK(MlXgbPredict(&m, &ds.data.x, pred, false, &err) == LLM_OK);
	for (int k = 0; k < NROWS_CHECKED; k++)
		CHECK_NEAR(pred[CheckRow(k, ds.rows)], want[k], 1e-5);
	for (int64_t i = 0; i < ds.rows; i++)
		mean += pred[i] / ds.rows;
	CHECK_NEAR(mean, 151.254281, 1e-5);
	CheckRoundTrip(&m, &ds.data.x, false);

	/* prediction errors */
	CHECK(MlXgbPredict(&m, &ds.data.x, pred, true, &err) == LLM_ERR_ARGUMENT);
	{
		MlMatrix	narrow = ds.data.x;

		narrow.cols = 9;
		CHECK(MlXgbPredict(&m, &narrow, pred, false, &err) == LLM_ERR_ARGUMENT);
		narrow.cols = 10;
		narrow.rows = 0;
		CHECK(MlXgbPredict(&m, &narrow, pred, false, &err) == LLM_ERR_ARGUMENT);
	}

	/* a header that disagrees with the booster */
	c = BlobCopy(&m);
	c.task = ML_TASK_CLASSIFICATION;
	c.n_classes = 2;
	CHECK(MlXgbLoad(&c, &err) == LLM_ERR_FORMAT && c.booster == NULL);
	MlXgbFree(&c);
	c = BlobCopy(&m);
	c.n_features = 11;
	CHECK(MlXgbLoad(&c, &err) == LLM_ERR_FORMAT && c.booster == NULL);
	CHECK(strstr(err.message, "features") != NULL);
	MlXgbFree(&c);

	/* garbage, random bytes, a JSON-looking prefix, truncations, flips */
	CheckBadBlob(&m, (const uint8_t *) "", 0, "empty");
	CheckBadBlob(&m, (const uint8_t *) "garbage", 7, "text");
	CheckBadBlob(&m, (const uint8_t *) "{", 1, "brace");
	CheckBadBlob(&m, (const uint8_t *) "{\"learner\": 1}", 14, "json");
	CheckBadBlob(&m, (const uint8_t *) "{\"learner\": {}}", 15, "json2");
	/* well-formed JSON that is not a sound model */
	CheckTampered(&m, "\"left_children\":[1,", "\"left_children\":[0,");
	CheckTampered(&m, "\"left_children\":[1,", "\"left_children\":[99999,");
	CheckTampered(&m, "\"right_children\":[2,", "\"right_children\":[1,");
	CheckTampered(&m, "\"parents\":[2147483647,", "\"parents\":[3,");
	CheckTampered(&m, "\"split_indices\":[", "\"split_indices\":[10");
	CheckTampered(&m, "\"split_type\":[0", "\"split_type\":[1");
	CheckTampered(&m, "\"num_nodes\":\"", "\"num_nodes\":\"1");
	CheckTampered(&m, "\"num_trees\":\"", "\"num_trees\":\"1");
	CheckTampered(&m, "\"tree_info\":[0", "\"tree_info\":[1");
	CheckTampered(&m, "\"categories\":[]", "\"categories\":[1]");
	CheckTampered(&m, "\"num_feature\":\"10\"", "\"num_feature\":\"99999999\"");
	CheckTampered(&m, "reg:squarederror", "reg:pseudohubererror");
	CheckTampered(&m, "\"name\":\"gbtree\"", "\"name\":\"dart\"");
	CheckTampered(&m, "\"num_class\":\"0\"", "\"num_class\":\"3\"");
	CheckTampered(&m, "{\"learner\":", "{\"version\":[1],\"learner\":");
	CheckTampered(&m, "\"learner\":", "\"learnerx\":");

	junk = malloc(m.blob_len);
	for (size_t i = 0; i < m.blob_len; i++)
		junk[i] = (uint8_t) Pcg32Next(&state);
	CheckBadBlob(&m, junk, m.blob_len, "random");
	junk[0] = '{';
	CheckBadBlob(&m, junk, m.blob_len, "random after a brace");
	for (size_t len = 1; len < m.blob_len; len += (len < 256 ? 1 : 61))
		CheckBadBlob(&m, m.blob, len, "truncated");
	for (int t = 0; t < 600; t++)
	{
		MlModel		f = BlobCopy(&m);
		size_t		at = 1 + Pcg32Next(&state) % (m.blob_len - 1);
		int			rc;

		/*
		 * A changed byte, or (two times in three) a digit changed to
		 * another, which keeps the JSON valid and reaches the tree checks,
		 * may still load (a changed leaf value): no crash either way.
		 */
		if (t % 3 == 0)
			f.blob[at] ^= (uint8_t) (1 + Pcg32Next(&state) % 255);
		else
		{
			while (at + 1 < f.blob_len && (f.blob[at] < '0' || f.blob[at] > '9'))
				at++;
			f.blob[at] = '0' + Pcg32Next(&state) % 10;
		}
		rc = MlXgbLoad(&f, &err);
		CHECK(rc == LLM_OK || rc == LLM_ERR_FORMAT);
		if (getenv("XGB_VERBOSE"))
			printf("flip at %zu: %s\n", at, rc ? err.message : "loads");
		if (rc == LLM_OK)
			CHECK(MlXgbPredict(&f, &ds.data.x, pred, false, &err) == LLM_OK ||
				  err.code != LLM_OK);
		MlXgbFree(&f);
	}
	free(junk);

	MlXgbFree(&m);
	free(pred);
	free(ds.data.x.x);
	free(ds.data.y);
}

static int	interrupt_after;

/* interrupt hook that fires after interrupt_after calls */
static bool
InterruptSoon(void)
{
	return --interrupt_after < 0;
}

/* fit with p and expect rc; err gets the message */
static int
FitExpect(MlTask task, const MlParams *p, const MlData *d, int want,
		  LlmError *err)
{
	MlModel		m;
	int			rc;

	memset(&m, 0, sizeof(m));
	memset(err, 0, sizeof(*err));
	rc = MlXgbFit(task, p, d, &m, err);
	if (rc != want)
		printf("FAIL fit: rc %d, want %d (%s)\n", rc, want, err->message);
	else if (rc != LLM_OK && (m.booster != NULL || m.blob != NULL))
		printf("FAIL fit: a failed fit left a booster\n");
	else if (rc != LLM_OK && err->message[0] == '\0')
		printf("FAIL fit: no message\n");
	else
	{
		unit_passed++;
		MlXgbFree(&m);
		return rc;
	}
	unit_failed++;
	MlXgbFree(&m);
	return rc;
}

/* bad hyperparameters and data, and a cancelled fit */
static void
TestErrors(void)
{
	double		x[40],
				y[20];
	MlData		d;
	MlParams	p;
	LlmError	err;

	for (int i = 0; i < 20; i++)
	{
		x[2 * i] = i;
		x[2 * i + 1] = (i * 7) % 5;
		y[i] = i % 2;
	}
	memset(&d, 0, sizeof(d));
	d.x.rows = 20;
	d.x.cols = 2;
	d.x.x = x;
	d.y = y;
	d.n_classes = 2;

	p = Params();
	p.n_estimators = 5;
	FitExpect(ML_TASK_CLASSIFICATION, &p, &d, LLM_OK, &err);

	/* XGBoost itself rejects these: an error, never an abort */
	p.max_depth = -1;
	FitExpect(ML_TASK_CLASSIFICATION, &p, &d, LLM_ERR_ARGUMENT, &err);
	CHECK(strstr(err.message, "max_depth") != NULL);
	printf("max_depth=-1: %s\n", err.message);
	p = Params();
	strcpy(p.tree_method, "bogus");
	FitExpect(ML_TASK_CLASSIFICATION, &p, &d, LLM_ERR_ARGUMENT, &err);
	printf("tree_method=bogus: %s\n", err.message);
	p = Params();
	p.learning_rate = -1;
	FitExpect(ML_TASK_CLASSIFICATION, &p, &d, LLM_ERR_ARGUMENT, &err);
	p = Params();
	p.subsample = 2;
	FitExpect(ML_TASK_CLASSIFICATION, &p, &d, LLM_ERR_ARGUMENT, &err);
	p = Params();
	p.max_bin = 1;
	FitExpect(ML_TASK_CLASSIFICATION, &p, &d, LLM_ERR_ARGUMENT, &err);

	/* checked before XGBoost is called */
	p = Params();
	p.n_estimators = 0;
	FitExpect(ML_TASK_CLASSIFICATION, &p, &d, LLM_ERR_ARGUMENT, &err);
	p = Params();
	p.nthread = -1;
	FitExpect(ML_TASK_CLASSIFICATION, &p, &d, LLM_ERR_ARGUMENT, &err);
	p = Params();
	p.gamma = NAN;
	FitExpect(ML_TASK_CLASSIFICATION, &p, &d, LLM_ERR_ARGUMENT, &err);
	p = Params();
	FitExpect(ML_TASK_CLUSTERING, &p, &d, LLM_ERR_UNSUPPORTED, &err);
	y[3] = 2;
	FitExpect(ML_TASK_CLASSIFICATION, &p, &d, LLM_ERR_ARGUMENT, &err);
	y[3] = 0.5;
	FitExpect(ML_TASK_CLASSIFICATION, &p, &d, LLM_ERR_ARGUMENT, &err);
	y[3] = NAN;
	FitExpect(ML_TASK_REGRESSION, &p, &d, LLM_ERR_ARGUMENT, &err);
	y[3] = 1;
	d.n_classes = 1;
	FitExpect(ML_TASK_CLASSIFICATION, &p, &d, LLM_ERR_ARGUMENT, &err);
	d.n_classes = 2;
	d.x.rows = 0;
	FitExpect(ML_TASK_REGRESSION, &p, &d, LLM_ERR_ARGUMENT, &err);
	d.x.rows = 20;

	/* a cancel between rounds frees everything and says so */
	p = Params();
	p.n_estimators = 50;
	interrupt_after = 5;
	LlmInterruptHook = InterruptSoon;
	FitExpect(ML_TASK_REGRESSION, &p, &d, LLM_ERR_CANCELLED, &err);
	LlmInterruptHook = NULL;
	CHECK(strstr(err.message, "cancelled after 5 rounds") != NULL);

	/* more than two classes: softprob rows sum to 1 */
	{
		MlModel		m;
		double		proba[60];

		for (int i = 0; i < 20; i++)
			y[i] = i % 3;
		d.n_classes = 3;
		memset(&m, 0, sizeof(m));
		p = Params();
		p.n_estimators = 3;
		CHECK(MlXgbFit(ML_TASK_CLASSIFICATION, &p, &d, &m, &err) == LLM_OK);
		CHECK(MlXgbPredict(&m, &d.x, proba, true, &err) == LLM_OK);
		for (int i = 0; i < 20; i++)
			CHECK_NEAR(proba[3 * i] + proba[3 * i + 1] + proba[3 * i + 2], 1.0,
					   1e-6);
		MlXgbFree(&m);
	}

	/* an unloaded model */
	{
		MlModel		m;
		double		out[20];

		memset(&m, 0, sizeof(m));
		m.n_features = 2;
		CHECK(MlXgbPredict(&m, &d.x, out, false, &err) == LLM_ERR_ARGUMENT);
		CHECK(MlXgbLoad(&m, &err) == LLM_ERR_FORMAT);
		MlXgbFree(&m);
	}
}

/* the blocked-signal mask of thread tid, from /proc; false if unreadable */
static bool
ThreadSigBlk(const char *tid, unsigned long long *mask)
{
	char		path[300];
	char		line[256];
	FILE	   *f;
	bool		found = false;

	snprintf(path, sizeof(path), "/proc/self/task/%s/status", tid);
	f = fopen(path, "r");
	if (f == NULL)
		return false;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "SigBlk: %llx", mask) == 1)
			found = true;
	fclose(f);
	return found;
}

/*
 * XGBoost's OpenMP threads block every asynchronous signal (PostgreSQL's
 * handlers must run in the backend's thread); the caller's mask is restored
 */
static void
TestThreadSignals(void)
{
	double		x[400],
				y[200],
				out[200];
	MlData		d;
	MlParams	p = Params();
	MlModel		m;
	LlmError	err = {0};
	DIR		   *dir;
	struct dirent *e;
	char		self[32];
	int			others = 0;
	unsigned long long want = (1ULL << (SIGINT - 1)) | (1ULL << (SIGTERM - 1)) |
		(1ULL << (SIGUSR1 - 1)) | (1ULL << (SIGALRM - 1)) |
		(1ULL << (SIGQUIT - 1));
	unsigned long long mask;
	sigset_t	now;

	for (int i = 0; i < 200; i++)
	{
		x[2 * i] = i % 17;
		x[2 * i + 1] = (i * 7) % 11;
		y[i] = x[2 * i] * 0.5 - x[2 * i + 1];
	}
	memset(&d, 0, sizeof(d));
	d.x.rows = 200;
	d.x.cols = 2;
	d.x.x = x;
	d.y = y;
	p.n_estimators = 5;
	p.nthread = 2;
	memset(&m, 0, sizeof(m));
	CHECK(MlXgbFit(ML_TASK_REGRESSION, &p, &d, &m, &err) == LLM_OK);
	CHECK(MlXgbPredict(&m, &d.x, out, false, &err) == LLM_OK);
	MlXgbFree(&m);

	snprintf(self, sizeof(self), "%d", (int) getpid());
	dir = opendir("/proc/self/task");
	CHECK(dir != NULL);
	while (dir != NULL && (e = readdir(dir)) != NULL)
	{
		if (e->d_name[0] == '.')
			continue;
		CHECK(ThreadSigBlk(e->d_name, &mask));
		if (strcmp(e->d_name, self) == 0)
			CHECK((mask & (1ULL << (SIGINT - 1))) == 0);
		else
		{
			others++;
			CHECK((mask & want) == want);
		}
	}
	if (dir != NULL)
		closedir(dir);
	CHECK(others >= 1);
	CHECK(pthread_sigmask(SIG_SETMASK, NULL, &now) == 0);
	CHECK(!sigismember(&now, SIGINT) && !sigismember(&now, SIGTERM));
}

int
main(void)
{
	TestThreadSignals();
	TestIris();
	TestCancer();
	TestDiabetes();
	TestErrors();
	UNIT_DONE("ml_xgb");
}
