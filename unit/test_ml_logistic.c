// objects: src/ml/lbfgs.o src/ml/logistic.o src/llm/llmutil.o src/vector/vecdist.o
/*
 * test_ml_logistic.c
 *	  L-BFGS and L2 logistic regression against scikit-learn 1.2.
 *
 * The expected numbers come from scikit-learn 1.2.1 (Debian
 * python3-sklearn) run once on the same data:
 *
 *	 X = (X - X.mean(0)) / X.std(0)		# population std
 *	 m = LogisticRegression(C=C, tol=tol, max_iter=max_iter).fit(X, y)
 *	 m.coef_, m.intercept_, m.n_iter_, m.predict_proba(X)[rows]
 *
 * with tol=1e-8, max_iter=10000 (scikit-learn then stops on SciPy's
 * relative-reduction test, as this solver does) on iris (3 classes,
 * multinomial) and breast cancer (binary), and on small hand-made sets.
 * The datasets are scikit-learn's CSVs, read from $PGMLOPS_ML_DATA or
 * test/data/ml/ (the vendored copies), else from scikit-learn's own data
 * directory.
 */
#include <stdlib.h>
#include <string.h>

#include "ml/ml.h"
#include "unit.h"

/* a dataset read from one of scikit-learn's CSVs, standardized */
typedef struct Csv
{
	int			rows;
	int			cols;
	double	   *x;
	double	   *y;
} Csv;

/* open name in the first data directory that has it */
static FILE *
OpenData(const char *name)
{
	const char *dirs[] = {getenv("PGMLOPS_ML_DATA"), "test/data/ml",
	"/usr/lib/python3/dist-packages/sklearn/datasets/data"};

	for (int i = 0; i < 3; i++)
	{
		char		path[1024];
		FILE	   *f;

		if (dirs[i] == NULL)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dirs[i], name);
		f = fopen(path, "r");
		if (f)
			return f;
	}
	printf("cannot find %s (set PGMLOPS_ML_DATA)\n", name);
	return NULL;
}

/*
 * Read features and class of every row of a dataset, then standardize.
 * The vendored copy has a header of column names and an id column first,
 * scikit-learn's own a header "rows,cols,class names".
 */
static bool
ReadCsv(const char *name, Csv *csv)
{
	FILE	   *f = OpenData(name);
	bool		vendored;
	char		line[8192];
	int			cap = 1024;

	memset(csv, 0, sizeof(*csv));
	if (f == NULL || !fgets(line, sizeof(line), f))
	{
		if (f)
			fclose(f);
		return false;
	}
	/* vendored: id, features, label; else features, label */
	vendored = !(line[0] >= '0' && line[0] <= '9');
	for (char *c = line; *c; c++)
		csv->cols += (*c == ',');
	if (vendored)
		csv->cols--;
	else if (sscanf(line, "%*d,%d", &csv->cols) != 1)
		csv->cols = -1;
	if (csv->cols < 1)
	{
		fclose(f);
		return false;
	}
	csv->x = malloc(sizeof(double) * cap * csv->cols);
	csv->y = malloc(sizeof(double) * cap);
	while (fgets(line, sizeof(line), f))
	{
		char	   *p = line;

		if (csv->rows == cap)
		{
			cap *= 2;
			csv->x = realloc(csv->x, sizeof(double) * cap * csv->cols);
			csv->y = realloc(csv->y, sizeof(double) * cap);
		}
		if (vendored)
		{
			(void) strtod(p, &p);
			if (*p == ',')
				p++;
		}
		for (int j = 0; j <= csv->cols; j++)
		{
			double		v = strtod(p, &p);

			if (j < csv->cols)
				csv->x[csv->rows * csv->cols + j] = v;
			else
				csv->y[csv->rows] = v;
			if (*p == ',')
				p++;
		}
		csv->rows++;
	}
	fclose(f);

	/* standardize with the population standard deviation */
	for (int j = 0; j < csv->cols; j++)
	{
		double		mean = 0.0,
					var = 0.0;

		for (int i = 0; i < csv->rows; i++)
			mean += csv->x[i * csv->cols + j];
		mean /= csv->rows;
		for (int i = 0; i < csv->rows; i++)
		{
			double		v = csv->x[i * csv->cols + j] - mean;

			var += v * v;
		}
		var = sqrt(var / csv->rows);
		for (int i = 0; i < csv->rows; i++)
			csv->x[i * csv->cols + j] = (csv->x[i * csv->cols + j] - mean) / var;
	}
	return true;
}

/* class probabilities of row xi (d features) under model m */
static void
Proba(const MlModel *m, const double *xi, double *p)
{
	int			d = m->n_features;

	if (m->n_outputs == 1)
	{
		double		z = m->intercept[0];

		for (int j = 0; j < d; j++)
			z += m->coef[j] * xi[j];
		p[1] = 1.0 / (1.0 + exp(-z));
		p[0] = 1.0 - p[1];
		return;
	}
	{
		double		mx = -INFINITY,
					s = 0.0;

		for (int c = 0; c < m->n_outputs; c++)
		{
			p[c] = m->intercept[c];
			for (int j = 0; j < d; j++)
				p[c] += m->coef[c * d + j] * xi[j];
			mx = fmax(mx, p[c]);
		}
		for (int c = 0; c < m->n_outputs; c++)
			s += (p[c] = exp(p[c] - mx));
		for (int c = 0; c < m->n_outputs; c++)
			p[c] /= s;
	}
}

/* C, tol 1e-8, max_iter 10000, with intercept */
static MlParams
Params(double C)
{
	MlParams	p;

	memset(&p, 0, sizeof(p));
	p.C = C;
	p.tol = 1e-8;
	p.max_iter = 10000;
	p.fit_intercept = true;
	return p;
}

/* expected probabilities of one row */
typedef struct RowProba
{
	int			row;
	double		p[3];
} RowProba;

/* fit and compare with scikit-learn's coefficients and probabilities */
static void
CheckFit(const char *what, const MlParams *params, const MlData *data,
		 const double *coef, const double *intercept, int sk_iter,
		 const RowProba *rows, int nrows)
{
	MlModel		m;
	LlmError	err = {0};
	int			rc = MlLogisticFit(params, data, &m, &err);
	int			k = data->n_classes == 2 ? 1 : data->n_classes;
	int			d = data->x.cols;
	double		maxdc = 0.0,
				maxdp = 0.0;

	CHECK(rc == LLM_OK);
	if (rc != LLM_OK)
	{
		printf("%s: %s\n", what, err.message);
		return;
	}
	CHECK(m.n_outputs == k && m.n_features == d);
	CHECK(m.algorithm == ML_ALG_LOGISTIC_REGRESSION);
	CHECK(m.task == ML_TASK_CLASSIFICATION);
	for (int j = 0; j < k * d; j++)
	{
		CHECK_NEAR(m.coef[j], coef[j], 1e-3);
		maxdc = fmax(maxdc, fabs(m.coef[j] - coef[j]));
	}
	for (int c = 0; c < k; c++)
	{
		CHECK_NEAR(m.intercept[c], intercept[c], 1e-3);
		maxdc = fmax(maxdc, fabs(m.intercept[c] - intercept[c]));
	}
	for (int r = 0; r < nrows; r++)
	{
		double		p[3];

		Proba(&m, data->x.x + (size_t) rows[r].row * d, p);
		for (int c = 0; c < data->n_classes; c++)
		{
			CHECK(fabs(p[c] - rows[r].p[c]) <= 1e-4);
			maxdp = fmax(maxdp, fabs(p[c] - rows[r].p[c]));
		}
	}
	/* the same iterates as SciPy's L-BFGS-B: the same stopping point */
	CHECK(abs(m.n_iter - sk_iter) <= 2);
	printf("%s: %d iterations (scikit-learn %d), max |coef diff| %.2g, "
		   "max |proba diff| %.2g\n", what, m.n_iter, sk_iter, maxdc, maxdp);
	free(m.coef);
	free(m.intercept);
}

/* iris, three classes, multinomial */
static void
TestIris(void)
{
	static const double coef[] = {
		-1.074041486, 1.160063422, -1.930628659, -1.811688726,
		0.587800507, -0.3618237689, -0.3634627421, -0.826192889,
		0.4862409788, -0.7982396528, 2.294091401, 2.637881615};
	static const double intercept[] = {-0.2053168097, 2.074865246, -1.869548436};
	static const RowProba rows[] = {
		{0, {0.9846947466, 0.01530519137, 6.202455901e-08}},
		{50, {0.004729244077, 0.8648953853, 0.1303753707}},
		{70, {0.01200931541, 0.4403240638, 0.5476666208}},
		{83, {0.001678459574, 0.4372518234, 0.5610697171}},
		{100, {1.491585073e-05, 0.006224893568, 0.9937601906}},
		{133, {0.001980313761, 0.5840094795, 0.4140102067}},
		{149, {0.00304500579, 0.2938940089, 0.7030609853}}};
	Csv			csv;
	MlParams	p = Params(1.0);
	MlData		data;

	CHECK(ReadCsv("iris.csv", &csv));
	if (csv.x == NULL)
		return;
	data.x.rows = csv.rows;
	data.x.cols = csv.cols;
	data.x.x = csv.x;
	data.y = csv.y;
	data.n_classes = 3;
	CheckFit("iris", &p, &data, coef, intercept, 25, rows, 7);
	/* scikit-learn's defaults stop at the same point here */
	p.tol = 1e-4;
	p.max_iter = 100;
	CheckFit("iris tol=1e-4", &p, &data, coef, intercept, 25, rows, 7);
	free(csv.x);
	free(csv.y);
}

/* breast cancer, binary */
static void
TestBreastCancer(void)
{
	static const double coef[] = {
		-0.3631707188, -0.387702991, -0.3511144376, -0.4355589606,
		-0.1617649321, 0.562595484, -0.8598975867, -0.9622217513,
		0.07616774714, 0.322185853, -1.291034792, 0.2689252642,
		-0.6598868526, -1.012500874, -0.2771704614, 0.7362824023,
		0.1105264667, -0.3335098977, 0.2959022504, 0.6809152777,
		-1.029361141, -1.314593119, -0.8233170629, -1.010593557,
		-0.6707313505, 0.0446588768, -0.873300639, -0.9119581542,
		-0.8878969366, -0.4798313711};
	static const double intercept[] = {0.2145657309};
	static const RowProba rows[] = {
		{0, {0.9999999988, 1.208166339e-09}},
		{19, {0.07386819555, 0.9261318044}},
		{40, {0.1142028714, 0.8857971286}},
		{135, {0.1711919066, 0.8288080934}},
		{297, {0.006582643233, 0.9934173568}},
		{568, {1.97458032e-05, 0.9999802542}}};
	Csv			csv;
	MlParams	p = Params(1.0);
	MlData		data;

	CHECK(ReadCsv("breast_cancer.csv", &csv));
	if (csv.x == NULL)
		return;
	data.x.rows = csv.rows;
	data.x.cols = csv.cols;
	data.x.x = csv.x;
	data.y = csv.y;
	data.n_classes = 2;
	CheckFit("breast cancer", &p, &data, coef, intercept, 34, rows, 6);
	free(csv.x);
	free(csv.y);
}

/* small sets: separable, one feature, no intercept */
static void
TestSmall(void)
{
	static double sx[] = {-3, 1, -2, 0.5, -1, 2, 1, -1, 2, 0, 3, 1.5};
	static double sy[] = {0, 0, 0, 1, 1, 1};
	static const double sep_coef[] = {1.026649954, -0.4562801982};
	static const double sep_int[] = {0.2490032064};
	static const RowProba sep_rows[] = {
		{0, {0.9639880078, 0.03601199222}}, {3, {0.150340449, 0.849659551}}};
	static const double sep100_coef[] = {2.74363624, -1.628904612};
	static const double sep100_int[] = {0.7572711588};
	static const RowProba sep100_rows[] = {
		{0, {0.9998886301, 0.0001113698904}}, {3, {0.005882859984, 0.99411714}}};
	static double ox[] = {0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0};
	static double oy[] = {0, 0, 1, 0, 1, 1, 0, 1};
	static const double one_coef[] = {0.4413694869};
	static const double one_int[] = {-0.9930812805};
	static const RowProba one_rows[] = {
		{0, {0.6840390847, 0.3159609153}}, {7, {0.3159608872, 0.6840391128}}};
	static const double noint_coef[] = {0.1375616286};
	static const double noint_int[] = {0.0};
	static const RowProba noint_rows[] = {
		{0, {0.4828115721, 0.5171884279}}, {7, {0.3658072177, 0.6341927823}}};
	MlData		sep = {{6, 2, sx}, sy, 2};
	MlData		one = {{8, 1, ox}, oy, 2};
	MlParams	p = Params(1.0);

	/* separable: the L2 penalty keeps the coefficients finite */
	CheckFit("separable C=1", &p, &sep, sep_coef, sep_int, 9, sep_rows, 2);
	p.C = 100.0;
	CheckFit("separable C=100", &p, &sep, sep100_coef, sep100_int, 14,
			 sep100_rows, 2);
	p.C = 0.5;
	CheckFit("one feature", &p, &one, one_coef, one_int, 6, one_rows, 2);
	p.fit_intercept = false;
	CheckFit("no intercept", &p, &one, noint_coef, noint_int, 3, noint_rows, 2);
}

/* bad arguments are refused with a message */
static void
TestErrors(void)
{
	static double x[] = {0, 1, 2, 3};
	static double y[] = {0, 1, 2, 1};
	static double ybad[] = {0, 1, 0.5, 1};
	MlData		data = {{4, 1, x}, y, 2};
	MlParams	p = Params(1.0);
	MlModel		m;
	LlmError	err = {0};

	CHECK(MlLogisticFit(&p, &data, &m, &err) == LLM_ERR_ARGUMENT);
	CHECK(strstr(err.message, "class index") != NULL);
	data.y = ybad;
	data.n_classes = 3;
	CHECK(MlLogisticFit(&p, &data, &m, &err) == LLM_ERR_ARGUMENT);
	data.y = y;
	p.C = 0.0;
	CHECK(MlLogisticFit(&p, &data, &m, &err) == LLM_ERR_ARGUMENT);
	p.C = 1.0;
	data.n_classes = 1;
	CHECK(MlLogisticFit(&p, &data, &m, &err) == LLM_ERR_ARGUMENT);
	data.n_classes = 3;
	data.x.rows = 0;
	CHECK(MlLogisticFit(&p, &data, &m, &err) == LLM_ERR_ARGUMENT);
	data.x.rows = 4;
	CHECK(MlLogisticFit(&p, &data, &m, &err) == LLM_OK);
	CHECK(m.n_outputs == 3);
	free(m.coef);
	free(m.intercept);
}

/* Rosenbrock's function and its gradient */
static double
Rosenbrock(const double *x, double *g, void *arg)
{
	double		a = 1.0 - x[0],
				b = x[1] - x[0] * x[0];

	(*(int *) arg)++;
	g[0] = -2.0 * a - 400.0 * x[0] * b;
	g[1] = 200.0 * b;
	return a * a + 100.0 * b * b;
}

/* an interrupt hook that always fires */
static bool
AlwaysInterrupt(void)
{
	return true;
}

/* the optimizer on its own */
static void
TestLbfgs(void)
{
	double		x[2] = {-1.2, 1.0};
	int			evals = 0,
				iters = 0;
	LlmError	err = {0};

	/*
	 * SciPy 1.10 (minimize(rosen, [-1.2, 1], jac=rosen_der,
	 * method='L-BFGS-B', options={'gtol': 1e-10})) stops on the relative
	 * reduction test after 36 iterations and 44 evaluations at (0.99999895,
	 * 0.99999802).
	 */
	CHECK(MlLbfgsMinimize(Rosenbrock, &evals, x, 2, 1000, 1e-10, &iters, &err) == LLM_OK);
	CHECK_NEAR(x[0], 0.99999895, 1e-7);
	CHECK_NEAR(x[1], 0.99999802, 1e-7);
	CHECK(abs(iters - 36) <= 1 && abs(evals - 44) <= 2);
	printf("rosenbrock: %d iterations, %d evaluations (SciPy 36, 44)\n", iters, evals);

	x[0] = -1.2;
	x[1] = 1.0;
	CHECK(MlLbfgsMinimize(Rosenbrock, &evals, x, 2, 3, 1e-10, &iters, &err) == LLM_OK);
	CHECK(iters == 3);
	CHECK(MlLbfgsMinimize(Rosenbrock, &evals, x, 0, 3, 1e-10, &iters, &err) == LLM_ERR_ARGUMENT);

	LlmInterruptHook = AlwaysInterrupt;
	CHECK(MlLbfgsMinimize(Rosenbrock, &evals, x, 2, 100, 1e-10, &iters, &err) == LLM_ERR_CANCELLED);
	LlmInterruptHook = NULL;
}

int
main(void)
{
	TestLbfgs();
	TestIris();
	TestBreastCancer();
	TestSmall();
	TestErrors();
	UNIT_DONE("ml_logistic");
}
