// objects: src/ml/mlraw.o src/ml/prep.o src/ml/mlsplit.o src/llm/llmjson.o src/llm/llmutil.o src/vector/vecdist.o
/*
 * test_ml_prep.c
 *	  Unit tests of the ML core's raw data container, preprocessing (fit,
 *	  transform, JSON spec) and train/test split.
 *
 * The expected features are scikit-learn 1.2's SimpleImputer(strategy=
 * "mean") followed by StandardScaler on the same numbers, and the expected
 * split lists come from scripts/ml/mlsplit.py (see the comments by each
 * table).  The last check times MlPrepTransformRow on 20 numeric columns.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ml/ml.h"
#include "unit.h"

#define NROWS 6
#define NFEAT_ONEHOT 9			/* a, b, c x 3, v x 3, k */

/* strdup with malloc (the container frees with free) */
static char *
Dup(const char *s)
{
	char	   *d = malloc(strlen(s) + 1);

	strcpy(d, s);
	return d;
}

/*
 * The hand-made dataset: a numeric column with a NULL, a boolean with a
 * NULL, a categorical column (NULL in row 2, unseen "purple" in row 5), a
 * 3-wide vector (NULL in row 2, a NULL element in row 3) and a constant.
 * Rows 0-4 train; row 5 is only transformed.
 */
static void
BuildRaw(MlRawData *raw)
{
	static const double a[NROWS] = {1, 2, NAN, 4, 10, -3};
	static const double b[NROWS] = {1, 0, 1, NAN, 1, 0};
	static const char *const c[NROWS] = {"red", "blue", NULL, "red", "green", "purple"};
	static const double v[NROWS][3] = {{1, 2, 3}, {4, 5, 6}, {NAN, NAN, NAN},
	{7, NAN, 9}, {0, 0, 0}, {2, 2, 2}};
	static const char *const names[] = {"a", "b", "c", "v", "k"};
	static const char *const types[] = {"double precision", "boolean", "text", "vector(3)", "integer"};
	static const MlColumnKind kinds[] = {ML_COL_NUMERIC, ML_COL_BOOLEAN, ML_COL_CATEGORICAL,
	ML_COL_VECTOR, ML_COL_NUMERIC};
	LlmError	err;

	CHECK(MlRawInit(raw, 5, &err) == LLM_OK);
	for (int i = 0; i < 5; i++)
	{
		raw->cols[i].name = Dup(names[i]);
		raw->cols[i].type_name = Dup(types[i]);
		raw->cols[i].kind = kinds[i];
		raw->cols[i].width = kinds[i] == ML_COL_VECTOR ? 3 : 1;
	}
	for (int r = 0; r < NROWS; r++)
	{
		CHECK(MlRawReserve(raw, r + 1, &err) == LLM_OK);
		raw->cols[0].num[r] = a[r];
		raw->cols[1].num[r] = b[r];
		raw->cols[2].str[r] = c[r] ? Dup(c[r]) : NULL;
		for (int k = 0; k < 3; k++)
			raw->cols[3].num[r * 3 + k] = v[r][k];
		raw->cols[4].num[r] = 5;
		raw->rows = r + 1;
	}
}

/*
 * Standardized numeric features of all six rows (a, b, v0, v1, v2, k),
 * fitted on rows 0-4, from /usr/bin/python3 with scikit-learn 1.2:
 *   X = [[1,1,1,2,3,5],[2,0,4,5,6,5],[nan,1,nan,nan,nan,5],
 *        [4,nan,7,nan,9,5],[10,1,0,0,0,5],[-3,0,2,2,2,5]]
 *   imp = SimpleImputer(strategy="mean").fit(X[:5])
 *   sc = StandardScaler().fit(imp.transform(X[:5]))
 *   sc.transform(imp.transform(X))
 */
static const double SkStd[NROWS][6] = {
	{-1.0408329997330663, 0.6454972243679028, -0.8164965809277261, -0.20942695414584786, -0.5, 0.0},
	{-0.7205766921228921, -1.9364916731037083, 0.4082482904638631, 1.675415633166782, 0.5, 0.0},
	{0.0, 0.6454972243679028, 0.0, 0.0, 0.0, 0.0},
	{-0.08006407690254357, 0.0, 1.6329931618554523, 0.0, 1.5, 0.0},
	{1.841473768758502, 0.6454972243679028, -1.2247448713915892, -1.4659886790209344, -1.5, 0.0},
	{-2.3218582301737634, -1.9364916731037083, -0.4082482904638631, -0.20942695414584786, -0.8333333333333334, 0.0},
};
/* imp.statistics_ and sc.scale_ */
static const double SkMean[6] = {4.25, 0.75, 3.0, 2.3333333333333335, 4.5, 5.0};
static const double SkScale[6] = {3.122498999199199, 0.3872983346207417, 2.449489742783178,
1.591644851508443, 3.0, 1.0};

/* the one-hot of row r's category among blue, green, red */
static void
ExpectOneHot(const double *f, int r)
{
	static const int idx[NROWS] = {2, 0, -1, 2, 1, -1};

	for (int k = 0; k < 3; k++)
		CHECK(f[k] == (k == idx[r] ? 1.0 : 0.0));
}

/* bitwise equality of two preps */
static bool
SamePrep(const MlPrep *p, const MlPrep *q)
{
	if (p->ncols != q->ncols || p->n_features != q->n_features ||
		p->standardize != q->standardize || p->encoding != q->encoding)
		return false;
	for (int c = 0; c < p->ncols; c++)
	{
		const MlPrepColumn *a = &p->cols[c];
		const MlPrepColumn *b = &q->cols[c];

		if (strcmp(a->name, b->name) != 0 || strcmp(a->type_name, b->type_name) != 0 ||
			a->kind != b->kind || a->width != b->width || a->out_width != b->out_width ||
			a->n_categories != b->n_categories)
			return false;
		if (a->kind == ML_COL_CATEGORICAL)
		{
			for (int i = 0; i < a->n_categories; i++)
				if (strcmp(a->categories[i], b->categories[i]) != 0)
					return false;
		}
		else if (memcmp(a->impute, b->impute, sizeof(double) * a->width) != 0 ||
				 memcmp(a->center, b->center, sizeof(double) * a->width) != 0 ||
				 memcmp(a->scale, b->scale, sizeof(double) * a->width) != 0)
			return false;
	}
	return true;
}

/* transform row r of raw with MlPrepTransformRow */
static void
TransformRawRow(const MlPrep *prep, const MlRawData *raw, int64_t r, double *out)
{
	const double *values[8];
	const char *strs[8];

	for (int c = 0; c < raw->ncols; c++)
	{
		values[c] = raw->cols[c].num ? raw->cols[c].num + r * raw->cols[c].width : NULL;
		strs[c] = raw->cols[c].str ? raw->cols[c].str[r] : NULL;
	}
	MlPrepTransformRow(prep, values, strs, out);
}

/* fit on rows 0-4 with standardization and one-hot, against scikit-learn */
static void
TestStandardOneHot(void)
{
	MlRawData	raw;
	MlPrep		prep;
	MlPrep		back;
	MlMatrix	m;
	LlmError	err;
	int64_t		train[5] = {0, 1, 2, 3, 4};
	char	   *json;
	char	   *json2;
	double		row[NFEAT_ONEHOT];

	BuildRaw(&raw);
	CHECK(MlPrepFit(&prep, &raw, train, 5, true, ML_ENCODE_ONEHOT, &err) == LLM_OK);
	CHECK(prep.n_features == NFEAT_ONEHOT);
	CHECK(prep.cols[2].n_categories == 3);
	CHECK(strcmp(prep.cols[2].categories[0], "blue") == 0);
	CHECK(strcmp(prep.cols[2].categories[1], "green") == 0);
	CHECK(strcmp(prep.cols[2].categories[2], "red") == 0);
	CHECK(prep.cols[3].out_width == 3);
	CHECK(MlPrepColumnIndex(&prep, "v") == 3);
	CHECK(MlPrepColumnIndex(&prep, "nope") == -1);
	CHECK_NEAR(prep.cols[0].impute[0], SkMean[0], 1e-15);
	CHECK_NEAR(prep.cols[1].impute[0], SkMean[1], 1e-15);
	for (int k = 0; k < 3; k++)
	{
		CHECK_NEAR(prep.cols[3].impute[k], SkMean[2 + k], 1e-15);
		CHECK_NEAR(prep.cols[3].scale[k], SkScale[2 + k], 1e-14);
	}
	CHECK_NEAR(prep.cols[0].scale[0], SkScale[0], 1e-14);
	CHECK_NEAR(prep.cols[1].scale[0], SkScale[1], 1e-14);
	CHECK(prep.cols[4].scale[0] == 1.0);	/* constant column */
	CHECK(prep.cols[4].center[0] == 5.0);

	CHECK(MlPrepTransform(&prep, &raw, NULL, NROWS, &m, &err) == LLM_OK);
	CHECK(m.rows == NROWS && m.cols == NFEAT_ONEHOT);
	for (int r = 0; r < NROWS; r++)
	{
		const double *f = m.x + r * NFEAT_ONEHOT;

		CHECK_NEAR(f[0], SkStd[r][0], 1e-12);
		CHECK_NEAR(f[1], SkStd[r][1], 1e-12);
		ExpectOneHot(f + 2, r);
		for (int k = 0; k < 3; k++)
			CHECK_NEAR(f[5 + k], SkStd[r][2 + k], 1e-12);
		CHECK(f[8] == 0.0);
		/* the per-row path gives the same bits */
		TransformRawRow(&prep, &raw, r, row);
		CHECK(memcmp(row, f, sizeof(row)) == 0);
	}

	/* JSON round trip: bit-identical spec, same text again, same features */
	json = MlPrepToJson(&prep, &err);
	CHECK(json != NULL);
	if (json)
	{
		CHECK(strstr(json, "\"encoding\": \"onehot\"") != NULL);
		CHECK(strstr(json, "\"categories\": [\"blue\", \"green\", \"red\"]") != NULL);
		CHECK(strstr(json, "\"kind\": \"vector\"") != NULL);
		CHECK(strstr(json, "\"n_features\": 9") != NULL);
		CHECK(MlPrepFromJson(&back, json, &err) == LLM_OK);
		CHECK(SamePrep(&prep, &back));
		json2 = MlPrepToJson(&back, &err);
		CHECK(json2 != NULL && strcmp(json, json2) == 0);
		free(json2);
		for (int r = 0; r < NROWS; r++)
		{
			TransformRawRow(&back, &raw, r, row);
			CHECK(memcmp(row, m.x + r * NFEAT_ONEHOT, sizeof(row)) == 0);
		}
		MlPrepFree(&back);
		free(json);
	}
	free(m.x);

	/* the row list picks rows in its order */
	{
		int64_t		pick[2] = {5, 0};

		CHECK(MlPrepTransform(&prep, &raw, pick, 2, &m, &err) == LLM_OK);
		CHECK_NEAR(m.x[0], SkStd[5][0], 1e-12);
		CHECK_NEAR(m.x[NFEAT_ONEHOT], SkStd[0][0], 1e-12);
		free(m.x);
	}

	MlPrepFree(&prep);
	MlPrepFree(&prep);			/* twice is harmless */
	MlRawFree(&raw);
}

/* no standardization, and ordinal categories */
static void
TestPlainOrdinal(void)
{
	static const double imputed_a[NROWS] = {1, 2, 4.25, 4, 10, -3};
	static const double ordinal[NROWS] = {2, 0, -1, 2, 1, -1};
	MlRawData	raw;
	MlPrep		prep;
	MlPrep		back;
	MlMatrix	m;
	LlmError	err;
	char	   *json;

	BuildRaw(&raw);
	CHECK(MlPrepFit(&prep, &raw, NULL, 5, false, ML_ENCODE_ORDINAL, &err) == LLM_OK);
	CHECK(prep.n_features == 7);
	CHECK(prep.cols[2].out_width == 1);
	CHECK(MlPrepTransform(&prep, &raw, NULL, NROWS, &m, &err) == LLM_OK);
	for (int r = 0; r < NROWS; r++)
	{
		const double *f = m.x + r * 7;

		CHECK(f[0] == imputed_a[r]);
		CHECK(f[1] == (r == 3 ? 0.75 : (double) (r == 0 || r == 2 || r == 4)));
		CHECK(f[2] == ordinal[r]);
		CHECK(f[6] == 5.0);
	}
	/* vector row 3: element 1 is NULL, imputed with the mean of 2, 5, 0 */
	CHECK(m.x[3 * 7 + 3] == 7.0);
	CHECK(m.x[3 * 7 + 4] == 7.0 / 3.0);
	CHECK(m.x[3 * 7 + 5] == 9.0);
	/* a NULL vector takes every element's mean */
	CHECK(m.x[2 * 7 + 3] == 3.0);
	free(m.x);

	json = MlPrepToJson(&prep, &err);
	CHECK(json != NULL && strstr(json, "\"encoding\": \"ordinal\"") != NULL);
	CHECK(json != NULL && strstr(json, "\"standardize\": false") != NULL);
	CHECK(MlPrepFromJson(&back, json, &err) == LLM_OK);
	CHECK(SamePrep(&prep, &back));
	MlPrepFree(&back);
	free(json);
	MlPrepFree(&prep);
	MlRawFree(&raw);
}

/* a one-column raw dataset of n numeric values */
static void
NumericRaw(MlRawData *raw, const double *x, int n)
{
	LlmError	err;

	CHECK(MlRawInit(raw, 1, &err) == LLM_OK);
	raw->cols[0].name = Dup("x");
	raw->cols[0].kind = ML_COL_NUMERIC;
	raw->cols[0].width = 1;
	CHECK(MlRawReserve(raw, n, &err) == LLM_OK);
	memcpy(raw->cols[0].num, x, sizeof(double) * n);
	raw->rows = n;
}

/* scikit-learn's near-constant rule, bad data, bad arguments */
static void
TestFitEdges(void)
{
	double		tenth[10];
	/* StandardScaler().fit([[1e9], [1e9 + 1e-6], [1e9]]).scale_ == [1.0] */
	double		big[3] = {1e9, 1e9 + 1e-6, 1e9};
	double		inf[3] = {1, INFINITY, 2};
	double		huge[2] = {1e308, 1.7e308};
	double		nulls[2] = {NAN, NAN};
	MlRawData	raw;
	MlPrep		prep;
	LlmError	err;
	int64_t		bad_rows[2] = {0, 10};

	for (int i = 0; i < 10; i++)
		tenth[i] = 0.1;
	NumericRaw(&raw, tenth, 10);
	CHECK(MlPrepFit(&prep, &raw, NULL, 10, true, ML_ENCODE_ONEHOT, &err) == LLM_OK);
	CHECK(prep.cols[0].scale[0] == 1.0);
	MlPrepFree(&prep);
	CHECK(MlPrepFit(&prep, &raw, NULL, 0, true, ML_ENCODE_ONEHOT, &err) == LLM_ERR_ARGUMENT);
	CHECK(MlPrepFit(&prep, &raw, bad_rows, 2, true, ML_ENCODE_ONEHOT, &err) == LLM_ERR_ARGUMENT);
	CHECK(MlPrepFit(&prep, &raw, NULL, 11, true, ML_ENCODE_ONEHOT, &err) == LLM_ERR_ARGUMENT);
	CHECK(MlPrepFit(&prep, &raw, NULL, 10, true, (MlEncoding) 7, &err) == LLM_ERR_ARGUMENT);
	CHECK(prep.cols == NULL);
	MlRawFree(&raw);

	NumericRaw(&raw, big, 3);
	CHECK(MlPrepFit(&prep, &raw, NULL, 3, true, ML_ENCODE_ONEHOT, &err) == LLM_OK);
	CHECK(prep.cols[0].scale[0] == 1.0);
	MlPrepFree(&prep);
	MlRawFree(&raw);

	NumericRaw(&raw, inf, 3);
	CHECK(MlPrepFit(&prep, &raw, NULL, 3, true, ML_ENCODE_ONEHOT, &err) == LLM_ERR_ARGUMENT);
	CHECK(strstr(err.message, "infinite") != NULL);
	/* fitted without the infinite row, transforming it is an error */
	{
		int64_t		ok_rows[2] = {0, 2};
		MlMatrix	m;

		CHECK(MlPrepFit(&prep, &raw, ok_rows, 2, true, ML_ENCODE_ONEHOT, &err) == LLM_OK);
		CHECK(MlPrepTransform(&prep, &raw, NULL, 3, &m, &err) == LLM_ERR_ARGUMENT);
		CHECK(m.x == NULL);
		MlPrepFree(&prep);
	}
	MlRawFree(&raw);

	NumericRaw(&raw, huge, 2);
	CHECK(MlPrepFit(&prep, &raw, NULL, 2, true, ML_ENCODE_ONEHOT, &err) == LLM_ERR_ARGUMENT);
	MlRawFree(&raw);

	/* all NULL: imputed with 0 */
	NumericRaw(&raw, nulls, 2);
	CHECK(MlPrepFit(&prep, &raw, NULL, 2, true, ML_ENCODE_ONEHOT, &err) == LLM_OK);
	CHECK(prep.cols[0].impute[0] == 0.0 && prep.cols[0].scale[0] == 1.0);
	MlPrepFree(&prep);
	MlRawFree(&raw);

	/* an all-NULL categorical column gives no features */
	CHECK(MlRawInit(&raw, 1, &err) == LLM_OK);
	raw.cols[0].name = Dup("c");
	raw.cols[0].kind = ML_COL_CATEGORICAL;
	raw.cols[0].width = 1;
	CHECK(MlRawReserve(&raw, 2, &err) == LLM_OK);
	raw.rows = 2;
	CHECK(MlPrepFit(&prep, &raw, NULL, 2, true, ML_ENCODE_ONEHOT, &err) == LLM_ERR_ARGUMENT);
	CHECK(MlPrepFit(&prep, &raw, NULL, 2, true, ML_ENCODE_ORDINAL, &err) == LLM_OK);
	CHECK(prep.n_features == 1 && prep.cols[0].n_categories == 0);
	MlPrepFree(&prep);
	/* a category that is not UTF-8 cannot go into the JSON spec */
	raw.cols[0].str[0] = Dup("caf\xe9");
	CHECK(MlPrepFit(&prep, &raw, NULL, 2, true, ML_ENCODE_ONEHOT, &err) == LLM_OK);
	CHECK(MlPrepToJson(&prep, &err) == NULL && err.code == LLM_ERR_ARGUMENT);
	MlPrepFree(&prep);
	MlRawFree(&raw);

	/* duplicate column names; a transform with the wrong layout */
	BuildRaw(&raw);
	free(raw.cols[1].name);
	raw.cols[1].name = Dup("a");
	CHECK(MlPrepFit(&prep, &raw, NULL, 5, true, ML_ENCODE_ONEHOT, &err) == LLM_ERR_ARGUMENT);
	free(raw.cols[1].name);
	raw.cols[1].name = Dup("b");
	CHECK(MlPrepFit(&prep, &raw, NULL, 5, true, ML_ENCODE_ONEHOT, &err) == LLM_OK);
	{
		MlMatrix	m;

		raw.cols[3].width = 2;
		CHECK(MlPrepTransform(&prep, &raw, NULL, 5, &m, &err) == LLM_ERR_ARGUMENT);
		raw.cols[3].width = 3;
		raw.ncols = 4;
		CHECK(MlPrepTransform(&prep, &raw, NULL, 5, &m, &err) == LLM_ERR_ARGUMENT);
		raw.ncols = 5;
	}
	MlPrepFree(&prep);
	MlRawFree(&raw);
}

/* random bit patterns (every finite double kind) survive the JSON spec */
static void
TestJsonDoubles(void)
{
	enum
	{
		W = 3000
	};
	MlPrep		prep;
	MlPrep		back;
	MlPrepColumn *pc;
	LlmError	err;
	uint64_t	state;
	char	   *json;
	double	   *arrays[3];

	memset(&prep, 0, sizeof(prep));
	prep.ncols = 1;
	prep.cols = calloc(1, sizeof(MlPrepColumn));
	prep.standardize = true;
	prep.encoding = ML_ENCODE_ONEHOT;
	prep.n_features = W;
	pc = &prep.cols[0];
	pc->name = Dup("emb\"\\\n\x01");	/* needs escaping */
	pc->type_name = Dup("real[]");
	pc->kind = ML_COL_VECTOR;
	pc->width = W;
	pc->out_width = W;
	pc->impute = malloc(sizeof(double) * W);
	pc->center = malloc(sizeof(double) * W);
	pc->scale = malloc(sizeof(double) * W);
	arrays[0] = pc->impute;
	arrays[1] = pc->center;
	arrays[2] = pc->scale;
	PcgSeed(&state, 2024);
	for (int a = 0; a < 3; a++)
		for (int k = 0; k < W; k++)
		{
			double		x;

			do
			{
				uint64_t	bits = ((uint64_t) Pcg32Next(&state) << 32) | Pcg32Next(&state);

				/* a third of them small integers or short decimals */
				if (k % 3 == 0)
					x = (double) (int) (bits % 2001) / 8.0 - 125.0;
				else if (k % 3 == 1)
					x = (double) (bits % 100000) / 1000.0;
				else
					memcpy(&x, &bits, sizeof(x));
				if (a == 2)
					x = fabs(x);
			} while (!isfinite(x) || (a == 2 && x == 0.0) || x == 0.0);
			arrays[a][k] = x;
		}
	pc->impute[1] = 4.9406564584124654e-324;	/* smallest denormal */
	pc->center[2] = -1.7976931348623157e308;
	pc->scale[5] = 0.1;
	json = MlPrepToJson(&prep, &err);
	CHECK(json != NULL);
	CHECK(json != NULL && strstr(json, "0.1,") != NULL);
	CHECK(json != NULL && MlPrepFromJson(&back, json, &err) == LLM_OK);
	if (json != NULL && back.cols != NULL)
	{
		CHECK(SamePrep(&prep, &back));
		MlPrepFree(&back);
	}
	free(json);
	MlPrepFree(&prep);
}

/* the raw container: growth, accounting, limits */
static void
TestRaw(void)
{
	MlRawData	raw;
	LlmError	err;
	size_t		bytes;

	CHECK(MlRawInit(&raw, -1, &err) == LLM_ERR_ARGUMENT);
	CHECK(MlRawInit(&raw, 2, &err) == LLM_OK);
	raw.cols[0].kind = ML_COL_VECTOR;
	raw.cols[0].width = 4;
	raw.cols[1].kind = ML_COL_CATEGORICAL;
	raw.cols[1].width = 1;
	CHECK(MlRawReserve(&raw, 1, &err) == LLM_OK);
	CHECK(raw.capacity >= 1);
	for (int64_t r = 0; r < 1000; r++)
	{
		int64_t		before = raw.capacity;

		CHECK(MlRawReserve(&raw, r + 1, &err) == LLM_OK);
		if (raw.capacity != before)
			CHECK(raw.capacity >= 2 * before);
		raw.cols[0].num[r * 4] = (double) r;
		if (r % 2 == 0)
			raw.cols[1].str[r] = Dup("abc");
		raw.rows = r + 1;
	}
	CHECK(raw.cols[0].num[999 * 4] == 999.0);
	CHECK(raw.cols[1].str[1] == NULL);
	bytes = MlRawBytes(&raw);
	CHECK(bytes >= (size_t) raw.capacity * (32 + 8) + 500 * (4 + 16));
	CHECK(bytes < (size_t) raw.capacity * (32 + 8) + 500 * (4 + 16) + 1024);
	/* more rows than memory can address; a bad width */
	CHECK(MlRawReserve(&raw, INT64_MAX / 2, &err) == LLM_ERR_ARGUMENT);
	CHECK(MlRawReserve(&raw, -1, &err) == LLM_ERR_ARGUMENT);
	raw.cols[1].width = 2;
	CHECK(MlRawReserve(&raw, raw.capacity + 1, &err) == LLM_ERR_ARGUMENT);
	raw.cols[1].width = 1;
	CHECK(raw.cols[0].num[999 * 4] == 999.0);
	MlRawFree(&raw);
	CHECK(raw.cols == NULL && raw.ncols == 0);
	MlRawFree(&raw);
}

/* specs that must be refused (each a variation of a valid one) */
static void
TestHostileJson(void)
{
	static const char *const good =
	"{\"standardize\": true, \"encoding\": \"onehot\", \"n_features\": 5, \"columns\": ["
	"{\"name\": \"x\", \"type\": \"real\", \"kind\": \"numeric\", \"width\": 1,"
	" \"impute\": [1.5], \"center\": [1.5], \"scale\": [2]},"
	"{\"name\": \"c\", \"type\": \"text\", \"kind\": \"categorical\", \"width\": 1,"
	" \"categories\": [\"a\", \"b\"]},"
	"{\"name\": \"v\", \"type\": \"vector(2)\", \"kind\": \"vector\", \"width\": 2,"
	" \"impute\": [0, -0.0], \"center\": [0, 1e-300], \"scale\": [1, 3.5]}]}";
	/* pairs: text to replace in good, replacement */
	static const char *const edits[][2] = {
		{"\"kind\": \"numeric\", \"width\": 1", "\"kind\": \"numeric\", \"width\": 2"},
		{"\"width\": 2", "\"width\": 3"},
		{"\"width\": 2", "\"width\": 100000000"},
		{"\"width\": 2", "\"width\": -1"},
		{"\"width\": 2", "\"width\": \"2\""},
		{"\"width\": 2", "\"width\": 2.0"},
		{"[1.5], \"center\"", "[NaN], \"center\""},
		{"[1.5], \"center\"", "[1e999], \"center\""},
		{"[1.5], \"center\"", "[\"1.5\"], \"center\""},
		{"[1.5], \"center\"", "[null], \"center\""},
		{"[1.5], \"center\"", "[1.5, 2], \"center\""},
		{"[1.5], \"center\"", "1.5, \"center\""},
		{"\"scale\": [2]", "\"scale\": [0]"},
		{"\"scale\": [2]", "\"scale\": [-2]"},
		{"\"scale\": [2]", "\"scale\": []"},
		{"\"scale\": [2]", "\"scales\": [2]"},
		{"\"scale\": [2]", "\"scale\": [2], \"extra\": 1"},
		{"[\"a\", \"b\"]", "[\"b\", \"a\"]"},
		{"[\"a\", \"b\"]", "[\"a\", \"a\"]"},
		{"[\"a\", \"b\"]", "[\"a\", 2]"},
		{"[\"a\", \"b\"]", "\"a\""},
		{"[\"a\", \"b\"]", "[\"a\\u0000z\", \"b\"]"},
		{"\"n_features\": 5", "\"n_features\": 4"},
		{"\"n_features\": 5", "\"n_features\": 1099511627776"},
		{"\"n_features\": 5", "\"n_features\": \"5\""},
		{"\"encoding\": \"onehot\"", "\"encoding\": \"binary\""},
		{"\"encoding\": \"onehot\"", "\"encoding\": 1"},
		{"\"standardize\": true", "\"standardize\": 1"},
		{"\"standardize\": true", "\"standardise\": true"},
		{"\"standardize\": true", "\"standardize\": false"},	/* center != 0 */
		{"\"kind\": \"numeric\"", "\"kind\": \"text\""},
		{"\"kind\": \"numeric\"", "\"kind\": \"categorical\""},
		{"\"name\": \"v\"", "\"name\": \"x\""},
		{"\"name\": \"v\"", "\"name\": \"\""},
		{"\"name\": \"v\"", "\"name\": null"},
		{"\"type\": \"text\", ", ""},
		{"\"name\": \"x\"", "\"name\": \"x\", \"name\": \"y\""},
		{"\"columns\": [", "\"columns\": [1, "},
		{"\"columns\": [", "\"columns\": [[], "},
		{"]}]}", "]}]"},
	};
	static const char *const whole[] = {
		"", "null", "[]", "42", "\"spec\"", "{}",
		"{\"standardize\": true, \"encoding\": \"onehot\", \"n_features\": 0, \"columns\": []}",
		"{\"standardize\": true, \"encoding\": \"onehot\", \"n_features\": 0, \"columns\": {}}",
		"{\"standardize\": true, \"encoding\": \"onehot\", \"n_features\": 0, \"columns\": ["
		"{\"name\": \"c\", \"type\": \"text\", \"kind\": \"categorical\", \"width\": 1, \"categories\": []}]}",
	};
	MlPrep		prep;
	LlmError	err;
	char	   *deep;

	CHECK(MlPrepFromJson(&prep, good, &err) == LLM_OK);
	CHECK(prep.n_features == 5 && prep.cols[2].width == 2);
	CHECK(prep.cols[2].impute[1] == 0.0 && !signbit(prep.cols[2].impute[1]));
	MlPrepFree(&prep);

	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++)
	{
		const char *at = strstr(good, edits[i][0]);
		char		buf[2048];
		size_t		pre;

		CHECK(at != NULL);
		if (at == NULL)
			continue;
		pre = (size_t) (at - good);
		snprintf(buf, sizeof(buf), "%.*s%s%s", (int) pre, good, edits[i][1],
				 at + strlen(edits[i][0]));
		memset(&prep, 0x7f, sizeof(prep));
		if (MlPrepFromJson(&prep, buf, &err) == LLM_OK)
		{
			printf("FAIL accepted: %s\n", buf);
			CHECK(false);
			MlPrepFree(&prep);
		}
		else
			CHECK(err.code == LLM_ERR_FORMAT && prep.cols == NULL && prep.ncols == 0);
	}
	for (size_t i = 0; i < sizeof(whole) / sizeof(whole[0]); i++)
	{
		CHECK(MlPrepFromJson(&prep, whole[i], &err) == LLM_ERR_FORMAT);
		CHECK(prep.cols == NULL);
	}
	CHECK(MlPrepFromJson(&prep, NULL, &err) == LLM_ERR_ARGUMENT);

	/* 100,000 nested arrays */
	deep = malloc(200001);
	memset(deep, '[', 100000);
	memset(deep + 100000, ']', 100000);
	deep[200000] = '\0';
	CHECK(MlPrepFromJson(&prep, deep, &err) == LLM_ERR_FORMAT);
	free(deep);
}

/*
 * MlSplit against scripts/ml/mlsplit.py, e.g.
 *   python3 -c 'import sys; sys.path.insert(0, "scripts/ml");
 *     from mlsplit import ml_split; print(ml_split(10, 0.3, 42))'
 */
static void
TestSplit(void)
{
	static const int64_t test_10[] = {4, 5, 9};
	static const int64_t train_10[] = {0, 1, 2, 3, 6, 7, 8};
	static const int64_t test_17[] = {1, 8, 12, 16};
	static const int64_t test_7[] = {1, 4, 5, 6};	/* round(3.5) = 4 */
	static const int64_t test_100[] = {6, 10, 19, 21, 22, 23, 24, 40, 41, 43,
	45, 47, 50, 51, 67, 73, 84, 86, 92, 99};
	int64_t    *train;
	int64_t    *test;
	int64_t		ntrain;
	int64_t		ntest;
	LlmError	err;
	uint64_t	state;

	/* Pcg32(42).next32() three times, from mlsplit.py */
	PcgSeed(&state, 42);
	CHECK(Pcg32Next(&state) == 3270867926u);
	CHECK(Pcg32Next(&state) == 1795671209u);
	CHECK(Pcg32Next(&state) == 1924641435u);

	CHECK(MlSplit(10, 0.3, 42, &train, &ntrain, &test, &ntest, &err) == LLM_OK);
	CHECK(ntest == 3 && ntrain == 7);
	CHECK(memcmp(test, test_10, sizeof(test_10)) == 0);
	CHECK(memcmp(train, train_10, sizeof(train_10)) == 0);
	free(train);
	free(test);

	CHECK(MlSplit(17, 0.25, 0, &train, &ntrain, &test, &ntest, &err) == LLM_OK);
	CHECK(ntest == 4 && ntrain == 13);
	CHECK(memcmp(test, test_17, sizeof(test_17)) == 0);
	free(train);
	free(test);

	CHECK(MlSplit(7, 0.5, 1, &train, &ntrain, &test, &ntest, &err) == LLM_OK);
	CHECK(ntest == 4 && memcmp(test, test_7, sizeof(test_7)) == 0);
	free(train);
	free(test);

	CHECK(MlSplit(100, 0.2, UINT64_C(12345678901234567890), &train, &ntrain, &test,
				  &ntest, &err) == LLM_OK);
	CHECK(ntest == 20 && ntrain == 80);
	CHECK(memcmp(test, test_100, sizeof(test_100)) == 0);
	/* train is the complement, ascending */
	for (int64_t i = 1; i < ntrain; i++)
		CHECK(train[i - 1] < train[i]);
	free(train);
	free(test);

	/* edges: one row all in test (round(0.5) = 1), no test rows, no rows */
	CHECK(MlSplit(1, 0.5, 7, &train, &ntrain, &test, &ntest, &err) == LLM_OK);
	CHECK(ntrain == 0 && ntest == 1 && test[0] == 0 && train != NULL);
	free(train);
	free(test);
	CHECK(MlSplit(5, 0.0, 3, &train, &ntrain, &test, &ntest, &err) == LLM_OK);
	CHECK(ntrain == 5 && ntest == 0 && train[4] == 4);
	free(train);
	free(test);
	CHECK(MlSplit(0, 0.2, 3, &train, &ntrain, &test, &ntest, &err) == LLM_OK);
	CHECK(ntrain == 0 && ntest == 0);
	free(train);
	free(test);

	CHECK(MlSplit(10, 1.0, 3, &train, &ntrain, &test, &ntest, &err) == LLM_ERR_ARGUMENT);
	CHECK(MlSplit(10, -0.1, 3, &train, &ntrain, &test, &ntest, &err) == LLM_ERR_ARGUMENT);
	CHECK(MlSplit(10, NAN, 3, &train, &ntrain, &test, &ntest, &err) == LLM_ERR_ARGUMENT);
	CHECK(MlSplit(-1, 0.2, 3, &train, &ntrain, &test, &ntest, &err) == LLM_ERR_ARGUMENT);
	CHECK(MlSplit(INT64_C(4294967296), 0.2, 3, &train, &ntrain, &test, &ntest, &err) ==
		  LLM_ERR_ARGUMENT);
	CHECK(train == NULL && test == NULL);
}

/* cost of MlPrepTransformRow with 20 numeric columns (printed, not checked) */
static void
TimeTransformRow(void)
{
	enum
	{
		NCOL = 20, NR = 4096, REPS = 250
	};
	MlRawData	raw;
	MlPrep		prep;
	LlmError	err;
	const double *values[NCOL];
	double		out[NCOL];
	double		sink = 0;
	struct timespec t0,
				t1;
	double		ns;

	CHECK(MlRawInit(&raw, NCOL, &err) == LLM_OK);
	for (int c = 0; c < NCOL; c++)
	{
		char		name[16];

		snprintf(name, sizeof(name), "x%d", c);
		raw.cols[c].name = Dup(name);
		raw.cols[c].kind = ML_COL_NUMERIC;
		raw.cols[c].width = 1;
	}
	CHECK(MlRawReserve(&raw, NR, &err) == LLM_OK);
	for (int r = 0; r < NR; r++)
		for (int c = 0; c < NCOL; c++)
			raw.cols[c].num[r] = (r * 7 + c * 13) % 101 == 0 ? NAN : (double) ((r * 31 + c) % 97);
	raw.rows = NR;
	CHECK(MlPrepFit(&prep, &raw, NULL, NR, true, ML_ENCODE_ONEHOT, &err) == LLM_OK);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int rep = 0; rep < REPS; rep++)
		for (int r = 0; r < NR; r++)
		{
			for (int c = 0; c < NCOL; c++)
				values[c] = raw.cols[c].num + r;
			MlPrepTransformRow(&prep, values, NULL, out);
			sink += out[r % NCOL];
		}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ns = ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / ((double) REPS * NR);
	printf("MlPrepTransformRow, 20 numeric columns: %.1f ns/row (%d rows; checksum %g)\n",
		   ns, REPS * NR, sink);
	CHECK(isfinite(sink));
	MlPrepFree(&prep);
	MlRawFree(&raw);
}

int
main(void)
{
	TestRaw();
	TestStandardOneHot();
	TestPlainOrdinal();
	TestFitEdges();
	TestHostileJson();
	TestJsonDoubles();
	TestSplit();
	TimeTransformRow();
	UNIT_DONE("ml_prep");
}
