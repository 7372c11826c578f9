/*-------------------------------------------------------------------------
 *
 * prep.c
 *	  Preprocessing: learn how raw columns become features (imputation,
 *	  standardization, category encoding), apply it, and store it as JSON.
 *
 * Numeric, boolean and vector columns give one feature per element: a
 * NULL (NaN) element becomes the training mean of that element, then, when
 * standardizing, the mean is subtracted and the result divided by the
 * population standard deviation of the imputed values.  As in
 * scikit-learn's StandardScaler, an element whose variance is within the
 * rounding error of the two-pass algorithm is treated as constant and gets
 * scale 1.  Without standardization center is 0 and scale 1, so the same
 * arithmetic applies either way and gives the value unchanged.
 *
 * Categorical columns keep the distinct values of the training rows,
 * sorted by strcmp; one-hot gives one 0/1 feature per category (all zeros
 * for NULL or a value not seen in training) and ordinal the category's
 * index (-1 for NULL or unseen).  Category features are never
 * standardized.  Lookups are binary searches, and the per-row transform
 * (used once per row by per-row prediction) allocates nothing.
 *
 * The learned state is stored with the model version as a JSON object
 * that people read too:
 *	 {"standardize": true, "encoding": "onehot", "n_features": 5,
 *	  "columns": [{"name": "x", "type": "double precision", "kind": "numeric",
 *				   "width": 1, "impute": [..], "center": [..], "scale": [..]},
 *				  {"name": "c", "type": "text", "kind": "categorical",
 *				   "width": 1, "categories": ["a", "b"]}]}
 * Each double is written with the fewest digits (15 to 17) that read back
 * to the same bits, and -0 is never stored (jsonb would lose its sign).
 * MlPrepFromJson checks everything, since the stored spec is a plain
 * jsonb value anyone can update.
 *
 *-------------------------------------------------------------------------
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm/llmjson.h"
#include "ml/ml.h"

/* bounds on a spec (whether learned or read) */
#define ML_PREP_MAX_COLUMNS		4096
#define ML_PREP_MAX_WIDTH		(1 << 20)
#define ML_PREP_MAX_FEATURES	(1 << 20)
#define ML_PREP_MAX_CATEGORIES	(1 << 20)
/* rows between two interrupt checks */
#define ML_PREP_CHECK_EVERY		65536

static const char *const KindNames[] = {"numeric", "boolean", "categorical", "vector"};

/* "numeric" ... for a kind */
static const char *
KindName(MlColumnKind kind)
{
	if ((int) kind >= 0 && (int) kind < 4)
		return KindNames[kind];
	return "?";
}

/* kind by name, or -1 */
static int
KindFromName(const char *name)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(KindNames[i], name) == 0)
			return i;
	return -1;
}

/* malloc'ed copy of s */
static char *
CopyString(const char *s, LlmError *err)
{
	size_t		len = strlen(s);
	char	   *copy = LlmAlloc(len + 1, err);

	if (copy)
		memcpy(copy, s, len + 1);
	return copy;
}

/* qsort comparator of string pointers */
static int
CompareStrings(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* index of s among the sorted categories of pc, or -1 */
static inline int
FindCategory(const MlPrepColumn *pc, const char *s)
{
	int			lo = 0;
	int			hi = pc->n_categories - 1;

	while (lo <= hi)
	{
		int			mid = lo + (hi - lo) / 2;
		int			cmp = strcmp(s, pc->categories[mid]);

		if (cmp == 0)
			return mid;
		if (cmp < 0)
			hi = mid - 1;
		else
			lo = mid + 1;
	}
	return -1;
}

/*
 * Features of one column: v holds width doubles (NaN = NULL; v NULL means
 * the whole value is NULL) for a numeric-like column, s the string (or
 * NULL) for a categorical one.  Writes pc->out_width values to out.
 */
static inline void
TransformColumn(const MlPrepColumn *pc, MlEncoding encoding, const double *v,
				const char *s, double *out)
{
	if (pc->kind != ML_COL_CATEGORICAL)
	{
		for (int k = 0; k < pc->width; k++)
		{
			double		x = v ? v[k] : NAN;

			if (isnan(x))
				x = pc->impute[k];
			out[k] = (x - pc->center[k]) / pc->scale[k];
		}
	}
	else
	{
		int			idx = s ? FindCategory(pc, s) : -1;

		if (encoding == ML_ENCODE_ORDINAL)
			out[0] = (double) idx;
		else
		{
			for (int k = 0; k < pc->n_categories; k++)
				out[k] = 0.0;
			if (idx >= 0)
				out[idx] = 1.0;
		}
	}
}

/*
 * Free everything prep owns; prep is left empty (freeing twice is fine)
 */
void
MlPrepFree(MlPrep *prep)
{
	if (prep->cols)
	{
		for (int c = 0; c < prep->ncols; c++)
		{
			MlPrepColumn *pc = &prep->cols[c];

			free(pc->name);
			free(pc->type_name);
			free(pc->impute);
			free(pc->center);
			free(pc->scale);
			if (pc->categories)
			{
				for (int i = 0; i < pc->n_categories; i++)
					free(pc->categories[i]);
				free(pc->categories);
			}
		}
		free(prep->cols);
	}
	memset(prep, 0, sizeof(*prep));
}

/*
 * Index of the column called name, or -1
 */
int
MlPrepColumnIndex(const MlPrep *prep, const char *name)
{
	if (name == NULL)
		return -1;
	for (int c = 0; c < prep->ncols; c++)
		if (prep->cols[c].name && strcmp(prep->cols[c].name, name) == 0)
			return c;
	return -1;
}

/* check the kind and width of raw column c */
static int
CheckRawColumn(const MlRawData *raw, int c, LlmError *err)
{
	const MlRawColumn *col = &raw->cols[c];
	const char *name = col->name ? col->name : "?";

	if ((int) col->kind < 0 || (int) col->kind > ML_COL_VECTOR)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "column \"%s\" has an unknown kind %d",
						   name, (int) col->kind);
	if (col->kind == ML_COL_VECTOR ?
		(col->width < 1 || col->width > ML_PREP_MAX_WIDTH) : col->width != 1)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "%s column \"%s\" has width %d",
						   KindName(col->kind), name, col->width);
	if (raw->rows > 0 &&
		(col->kind == ML_COL_CATEGORICAL ? col->str == NULL : col->num == NULL))
		return LlmSetError(err, LLM_ERR_ARGUMENT, "column \"%s\" has no data", name);
	return LLM_OK;
}

/* check the row list against raw (rows NULL stands for 0 .. nrows-1) */
static int
CheckRows(const MlRawData *raw, const int64_t *rows, int64_t nrows, LlmError *err)
{
	if (nrows < 0)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "negative row count %lld",
						   (long long) nrows);
	if (raw->rows < 0 || raw->rows > raw->capacity)
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "dataset has %lld rows but room for %lld",
						   (long long) raw->rows, (long long) raw->capacity);
	if (rows == NULL)
	{
		if (nrows > raw->rows)
			return LlmSetError(err, LLM_ERR_ARGUMENT,
							   "%lld rows asked of a dataset of %lld",
							   (long long) nrows, (long long) raw->rows);
		return LLM_OK;
	}
	for (int64_t i = 0; i < nrows; i++)
		if (rows[i] < 0 || rows[i] >= raw->rows)
			return LlmSetError(err, LLM_ERR_ARGUMENT,
							   "row %lld is outside the dataset's %lld rows",
							   (long long) rows[i], (long long) raw->rows);
	return LLM_OK;
}

/* row i of the list */
static inline int64_t
RowAt(const int64_t *rows, int64_t i)
{
	return rows ? rows[i] : i;
}

/*
 * Learn imputation and scaling of a numeric-like column from nrows rows
 */
static int
FitNumeric(MlPrepColumn *pc, const MlRawColumn *col, const int64_t *rows,
		   int64_t nrows, bool standardize, LlmError *err)
{
	int			w = col->width;
	double	   *sum;
	double	   *sd;
	int64_t    *cnt;
	double		n = (double) nrows;
	int			rc = LLM_OK;

	pc->impute = LlmAlloc(sizeof(double) * w, err);
	pc->center = LlmAlloc(sizeof(double) * w, err);
	pc->scale = LlmAlloc(sizeof(double) * w, err);
	sum = LlmAllocZero(sizeof(double) * w, err);
	sd = LlmAllocZero(sizeof(double) * w, err);
	cnt = LlmAllocZero(sizeof(int64_t) * w, err);
	if (!pc->impute || !pc->center || !pc->scale || !sum || !sd || !cnt)
	{
		rc = LLM_ERR_NOMEM;
		goto done;
	}

	/* pass 1: the means of the values present */
	for (int64_t i = 0; i < nrows; i++)
	{
		const double *x = col->num + RowAt(rows, i) * w;

		if ((i + 1) % ML_PREP_CHECK_EVERY == 0 && LlmInterrupted())
		{
			rc = LlmSetError(err, LLM_ERR_CANCELLED, "preprocessing cancelled");
			goto done;
		}
		for (int k = 0; k < w; k++)
		{
			double		v = x[k];

			if (isnan(v))
				continue;
			if (isinf(v))
			{
				rc = LlmSetError(err, LLM_ERR_ARGUMENT,
								 "column \"%s\" has an infinite value (row %lld)",
								 pc->name, (long long) RowAt(rows, i) + 1);
				goto done;
			}
			sum[k] += v;
			cnt[k]++;
		}
	}
	for (int k = 0; k < w; k++)
	{
		/* + 0.0 turns -0 into +0 */
		double		mean = cnt[k] > 0 ? sum[k] / (double) cnt[k] + 0.0 : 0.0;

		if (!isfinite(mean))
		{
			rc = LlmSetError(err, LLM_ERR_ARGUMENT,
							 "the values of column \"%s\" are too large to average",
							 pc->name);
			goto done;
		}
		pc->impute[k] = mean;
		pc->center[k] = standardize ? mean : 0.0;
		pc->scale[k] = 1.0;
		sum[k] = 0.0;
	}
	if (!standardize)
		goto done;

	/*
	 * pass 2: the population variance of the imputed values (an imputed
	 * value adds nothing), with the two-pass correction term
	 */
	for (int64_t i = 0; i < nrows; i++)
	{
		const double *x = col->num + RowAt(rows, i) * w;

		if ((i + 1) % ML_PREP_CHECK_EVERY == 0 && LlmInterrupted())
		{
			rc = LlmSetError(err, LLM_ERR_CANCELLED, "preprocessing cancelled");
			goto done;
		}
		for (int k = 0; k < w; k++)
		{
			double		d = x[k] - pc->center[k];

			if (isnan(d))
				continue;
			sum[k] += d * d;
			sd[k] += d;
		}
	}
	for (int k = 0; k < w; k++)
	{
		double		var = (sum[k] - sd[k] * sd[k] / n) / n;
		double		mean = pc->center[k];

		if (var < 0.0)
			var = 0.0;
		if (!isfinite(var))
		{
			rc = LlmSetError(err, LLM_ERR_ARGUMENT,
							 "the values of column \"%s\" are too large to standardize",
							 pc->name);
			goto done;
		}
		/* scikit-learn's test for a constant feature */
		if (var <= n * DBL_EPSILON * var + (n * mean * DBL_EPSILON) * (n * mean * DBL_EPSILON))
			pc->scale[k] = 1.0;
		else
			pc->scale[k] = sqrt(var);
	}

done:
	free(sum);
	free(sd);
	free(cnt);
	return rc;
}

/*
 * Learn the sorted distinct categories of a column from nrows rows
 */
static int
FitCategorical(MlPrepColumn *pc, const MlRawColumn *col, const int64_t *rows,
			   int64_t nrows, LlmError *err)
{
	const char **vals;
	int64_t		nvals = 0;
	int64_t		ndistinct = 0;

	vals = LlmAlloc(sizeof(char *) * (size_t) (nrows > 0 ? nrows : 1), err);
	if (vals == NULL)
		return LLM_ERR_NOMEM;
	for (int64_t i = 0; i < nrows; i++)
	{
		const char *s = col->str[RowAt(rows, i)];

		if (s)
			vals[nvals++] = s;
	}
	if (LlmInterrupted())
	{
		free(vals);
		return LlmSetError(err, LLM_ERR_CANCELLED, "preprocessing cancelled");
	}
	qsort(vals, (size_t) nvals, sizeof(char *), CompareStrings);
	for (int64_t i = 0; i < nvals; i++)
		if (i == 0 || strcmp(vals[i], vals[ndistinct - 1]) != 0)
			vals[ndistinct++] = vals[i];
	if (ndistinct > ML_PREP_MAX_CATEGORIES)
	{
		free(vals);
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "column \"%s\" has %lld distinct values, more than the %d a categorical column may have",
						   pc->name, (long long) ndistinct, ML_PREP_MAX_CATEGORIES);
	}
	pc->categories = LlmAllocZero(sizeof(char *) * (size_t) (ndistinct > 0 ? ndistinct : 1), err);
	if (pc->categories == NULL)
	{
		free(vals);
		return LLM_ERR_NOMEM;
	}
	for (int64_t i = 0; i < ndistinct; i++)
	{
		pc->categories[i] = CopyString(vals[i], err);
		if (pc->categories[i] == NULL)
		{
			pc->n_categories = (int) i;
			free(vals);
			return LLM_ERR_NOMEM;
		}
	}
	pc->n_categories = (int) ndistinct;
	free(vals);
	return LLM_OK;
}

/* fail with code unless every name is distinct */
static int
CheckDistinctNames(char **names, int n, int code, LlmError *err)
{
	char	  **sorted = LlmAlloc(sizeof(char *) * (size_t) (n > 0 ? n : 1), err);

	if (sorted == NULL)
		return LLM_ERR_NOMEM;
	memcpy(sorted, names, sizeof(char *) * (size_t) n);
	qsort(sorted, (size_t) n, sizeof(char *), CompareStrings);
	for (int i = 1; i < n; i++)
		if (strcmp(sorted[i - 1], sorted[i]) == 0)
		{
			int			rc = LlmSetError(err, code,
										 "column name \"%s\" appears more than once",
										 sorted[i]);

			free(sorted);
			return rc;
		}
	free(sorted);
	return LLM_OK;
}

/*
 * Learn the preprocessing of every column of raw from the rows listed in
 * rows[0..nrows-1] (rows NULL: the first nrows rows).  On failure prep is
 * left empty.
 */
int
MlPrepFit(MlPrep *prep, const MlRawData *raw, const int64_t *rows,
		  int64_t nrows, bool standardize, MlEncoding encoding, LlmError *err)
{
	char	  **names = NULL;
	int64_t		n_features = 0;
	int			rc;

	memset(prep, 0, sizeof(*prep));
	if (encoding != ML_ENCODE_ONEHOT && encoding != ML_ENCODE_ORDINAL)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "unknown category encoding %d",
						   (int) encoding);
	if (raw->ncols < 1 || raw->ncols > ML_PREP_MAX_COLUMNS)
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "a model takes between 1 and %d input columns, not %d",
						   ML_PREP_MAX_COLUMNS, raw->ncols);
	if (nrows < 1)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "no training rows");
	rc = CheckRows(raw, rows, nrows, err);
	if (rc != LLM_OK)
		return rc;
	for (int c = 0; c < raw->ncols; c++)
	{
		rc = CheckRawColumn(raw, c, err);
		if (rc != LLM_OK)
			return rc;
		if (raw->cols[c].name == NULL)
			return LlmSetError(err, LLM_ERR_ARGUMENT, "column %d has no name", c + 1);
	}

	prep->standardize = standardize;
	prep->encoding = encoding;
	prep->cols = LlmAllocZero(sizeof(MlPrepColumn) * (size_t) raw->ncols, err);
	names = LlmAlloc(sizeof(char *) * (size_t) raw->ncols, err);
	if (prep->cols == NULL || names == NULL)
	{
		rc = LLM_ERR_NOMEM;
		goto fail;
	}
	prep->ncols = raw->ncols;
	for (int c = 0; c < raw->ncols; c++)
		names[c] = raw->cols[c].name;
	rc = CheckDistinctNames(names, raw->ncols, LLM_ERR_ARGUMENT, err);
	if (rc != LLM_OK)
		goto fail;

	for (int c = 0; c < raw->ncols; c++)
	{
		const MlRawColumn *col = &raw->cols[c];
		MlPrepColumn *pc = &prep->cols[c];

		pc->kind = col->kind;
		pc->width = col->width;
		pc->name = CopyString(col->name, err);
		pc->type_name = CopyString(col->type_name ? col->type_name : "", err);
		if (pc->name == NULL || pc->type_name == NULL)
		{
			rc = LLM_ERR_NOMEM;
			goto fail;
		}
		if (col->kind == ML_COL_CATEGORICAL)
		{
			rc = FitCategorical(pc, col, rows, nrows, err);
			pc->out_width = encoding == ML_ENCODE_ONEHOT ? pc->n_categories : 1;
		}
		else
		{
			rc = FitNumeric(pc, col, rows, nrows, standardize, err);
			pc->out_width = pc->width;
		}
		if (rc != LLM_OK)
			goto fail;
		n_features += pc->out_width;
		if (n_features > ML_PREP_MAX_FEATURES)
		{
			rc = LlmSetError(err, LLM_ERR_ARGUMENT,
							 "the input columns give more than %d features (column \"%s\" has %d)",
							 ML_PREP_MAX_FEATURES, pc->name, pc->out_width);
			goto fail;
		}
	}
	if (n_features == 0)
	{
		rc = LlmSetError(err, LLM_ERR_ARGUMENT,
						 "no features: every input column is categorical and NULL in all training rows");
		goto fail;
	}
	prep->n_features = (int) n_features;
	free(names);
	return LLM_OK;

fail:
	free(names);
	MlPrepFree(prep);
	return rc;
}

/*
 * Transform rows[0..nrows-1] of raw (rows NULL: the first nrows rows) into
 * out, whose x this allocates (nrows x n_features; the caller frees it).
 * raw must have prep's columns in prep's order (kinds and widths are
 * checked).  An infinite input, or a value that overflows when scaled, is
 * an error, so the matrix never holds NaN or infinity.
 */
int
MlPrepTransform(const MlPrep *prep, const MlRawData *raw, const int64_t *rows,
				int64_t nrows, MlMatrix *out, LlmError *err)
{
	int			rc;
	size_t		cells;

	out->rows = 0;
	out->cols = 0;
	out->x = NULL;
	if (raw->ncols != prep->ncols)
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "the model takes %d input columns, not %d",
						   prep->ncols, raw->ncols);
	rc = CheckRows(raw, rows, nrows, err);
	if (rc != LLM_OK)
		return rc;
	for (int c = 0; c < prep->ncols; c++)
	{
		const MlRawColumn *col = &raw->cols[c];
		const MlPrepColumn *pc = &prep->cols[c];

		rc = CheckRawColumn(raw, c, err);
		if (rc != LLM_OK)
			return rc;
		if ((col->kind == ML_COL_CATEGORICAL) != (pc->kind == ML_COL_CATEGORICAL) ||
			col->width != pc->width)
			return LlmSetError(err, LLM_ERR_ARGUMENT,
							   "input column %d is %s of width %d, but the model expects %s \"%s\" of width %d",
							   c + 1, KindName(col->kind), col->width,
							   KindName(pc->kind), pc->name, pc->width);
	}
	if (prep->n_features < 1 ||
		(uint64_t) nrows > SIZE_MAX / sizeof(double) / (size_t) prep->n_features)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "%lld rows of %d features do not fit in memory",
						   (long long) nrows, prep->n_features);
	cells = (size_t) nrows * (size_t) prep->n_features;
	out->x = LlmAlloc(sizeof(double) * cells, err);
	if (out->x == NULL)
		return LLM_ERR_NOMEM;

	for (int64_t i = 0; i < nrows; i++)
	{
		int64_t		r = RowAt(rows, i);
		double	   *o = out->x + (size_t) i * (size_t) prep->n_features;

		if ((i + 1) % ML_PREP_CHECK_EVERY == 0 && LlmInterrupted())
		{
			rc = LlmSetError(err, LLM_ERR_CANCELLED, "preprocessing cancelled");
			goto fail;
		}
		for (int c = 0; c < prep->ncols; c++)
		{
			const MlPrepColumn *pc = &prep->cols[c];
			const MlRawColumn *col = &raw->cols[c];

			if (pc->kind == ML_COL_CATEGORICAL)
				TransformColumn(pc, prep->encoding, NULL, col->str[r], o);
			else
			{
				TransformColumn(pc, prep->encoding, col->num + r * pc->width, NULL, o);
				for (int k = 0; k < pc->width; k++)
					if (!isfinite(o[k]))
					{
						rc = LlmSetError(err, LLM_ERR_ARGUMENT,
										 "column \"%s\" has a value out of range (row %lld)",
										 pc->name, (long long) r + 1);
						goto fail;
					}
			}
			o += pc->out_width;
		}
	}
	out->rows = nrows;
	out->cols = prep->n_features;
	return LLM_OK;

fail:
	free(out->x);
	out->x = NULL;
	return rc;
}

/*
 * Transform one row given column by column into out (n_features).  No
 * checks and no allocation: the caller gives prep's columns in its order.
 * Only NaN counts as NULL; an infinite input gives an infinite feature.
 */
void
MlPrepTransformRow(const MlPrep *prep, const double *const *values,
				   const char *const *strs, double *out)
{
	for (int c = 0; c < prep->ncols; c++)
	{
		const MlPrepColumn *pc = &prep->cols[c];

		if (pc->kind == ML_COL_CATEGORICAL)
			TransformColumn(pc, prep->encoding, NULL, strs[c], out);
		else
			TransformColumn(pc, prep->encoding, values[c], NULL, out);
		out += pc->out_width;
	}
}

/* ------------------------------------------------------------------ JSON */

/*
 * The writer builds the text itself so that each double gets the fewest
 * digits that read back to the same bits ("0.1", not
 * "0.10000000000000001"); jansson only escapes the strings.
 */
typedef struct JsonOut
{
	char	   *buf;
	size_t		len;
	size_t		cap;
	int			rc;				/* first error, or LLM_OK */
} JsonOut;

/* make room for n more bytes (and a NUL); false on failure */
static bool
OutReserve(JsonOut *o, size_t n, LlmError *err)
{
	if (o->rc != LLM_OK)
		return false;
	if (o->len + n + 1 > o->cap)
	{
		size_t		cap = o->cap ? o->cap : 1024;
		char	   *b;

		while (cap < o->len + n + 1)
			cap *= 2;
		b = realloc(o->buf, cap);
		if (b == NULL)
		{
			o->rc = LlmSetError(err, LLM_ERR_NOMEM,
								"out of memory writing the preprocessing spec");
			return false;
		}
		o->buf = b;
		o->cap = cap;
	}
	return true;
}

/* append n bytes */
static void
OutBytes(JsonOut *o, const char *s, size_t n, LlmError *err)
{
	if (!OutReserve(o, n, err))
		return;
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

/* append a C string */
static void
OutText(JsonOut *o, const char *s, LlmError *err)
{
	OutBytes(o, s, strlen(s), err);
}

/* append s as a JSON string; what names it in the error if not UTF-8 */
static void
OutString(JsonOut *o, const char *s, const char *what, LlmError *err)
{
	json_t	   *str;
	size_t		n;

	if (o->rc != LLM_OK)
		return;
	str = json_string(s);
	if (str == NULL)
	{
		o->rc = LlmSetError(err, LLM_ERR_ARGUMENT, "%s is not valid UTF-8", what);
		return;
	}
	n = json_dumpb(str, NULL, 0, JSON_ENCODE_ANY);
	if (n == 0 || !OutReserve(o, n, err) ||
		json_dumpb(str, o->buf + o->len, n, JSON_ENCODE_ANY) != n)
	{
		if (o->rc == LLM_OK)
			o->rc = LlmSetError(err, LLM_ERR_NOMEM,
								"out of memory writing the preprocessing spec");
	}
	else
	{
		o->len += n;
		o->buf[o->len] = '\0';
	}
	json_decref(str);
}

/* append an array of n finite doubles, each in its shortest exact form */
static void
OutDoubles(JsonOut *o, const double *v, int n, const char *name, LlmError *err)
{
	OutText(o, "[", err);
	for (int i = 0; i < n && o->rc == LLM_OK; i++)
	{
		char		num[40];
		double		x = v[i] + 0.0; /* no -0: jsonb would drop the sign */

		if (!isfinite(x))
		{
			o->rc = LlmSetError(err, LLM_ERR_ARGUMENT,
								"column \"%s\" has a value that is not finite", name);
			return;
		}
		for (int digits = 15; digits <= 17; digits++)
		{
			snprintf(num, sizeof(num), "%.*g", digits, x);
			if (strtod(num, NULL) == x)
				break;
		}
		if (i > 0)
			OutText(o, ", ", err);
		OutText(o, num, err);
	}
	OutText(o, "]", err);
}

/* append the object of one column */
static void
OutColumn(JsonOut *o, const MlPrepColumn *pc, LlmError *err)
{
	char		width[16];

	OutText(o, "{\"name\": ", err);
	OutString(o, pc->name, "a column name", err);
	OutText(o, ", \"type\": ", err);
	OutString(o, pc->type_name, "a column type", err);
	OutText(o, ", \"kind\": \"", err);
	OutText(o, KindName(pc->kind), err);
	snprintf(width, sizeof(width), "%d", pc->width);
	OutText(o, "\", \"width\": ", err);
	OutText(o, width, err);
	if (pc->kind == ML_COL_CATEGORICAL)
	{
		OutText(o, ", \"categories\": [", err);
		for (int i = 0; i < pc->n_categories; i++)
		{
			if (i > 0)
				OutText(o, ", ", err);
			OutString(o, pc->categories[i], "a category", err);
		}
		OutText(o, "]}", err);
		return;
	}
	OutText(o, ", \"impute\": ", err);
	OutDoubles(o, pc->impute, pc->width, pc->name, err);
	OutText(o, ", \"center\": ", err);
	OutDoubles(o, pc->center, pc->width, pc->name, err);
	OutText(o, ", \"scale\": ", err);
	OutDoubles(o, pc->scale, pc->width, pc->name, err);
	OutText(o, "}", err);
}

/*
 * The spec as JSON text (malloc'ed, NUL-terminated), or NULL with err set
 */
char *
MlPrepToJson(const MlPrep *prep, LlmError *err)
{
	JsonOut		o = {NULL, 0, 0, LLM_OK};
	char		head[160];

	snprintf(head, sizeof(head),
			 "{\"standardize\": %s, \"encoding\": \"%s\", \"n_features\": %d, \"columns\": [",
			 prep->standardize ? "true" : "false",
			 prep->encoding == ML_ENCODE_ORDINAL ? "ordinal" : "onehot",
			 prep->n_features);
	OutText(&o, head, err);
	for (int c = 0; c < prep->ncols; c++)
	{
		if (c > 0)
			OutText(&o, ", ", err);
		OutColumn(&o, &prep->cols[c], err);
	}
	OutText(&o, "]}", err);
	if (o.rc != LLM_OK)
	{
		free(o.buf);
		return NULL;
	}
	return o.buf;
}

/* fail unless obj has only the listed keys (NULL-terminated list) */
static int
CheckKeys(json_t *obj, const char *const *allowed, const char *what, LlmError *err)
{
	const char *key;
	json_t	   *value;

	json_object_foreach(obj, key, value)
	{
		bool		found = false;

		for (int i = 0; allowed[i]; i++)
			if (strcmp(key, allowed[i]) == 0)
				found = true;
		if (!found)
			return LlmSetError(err, LLM_ERR_FORMAT,
							   "preprocessing spec: unknown key \"%.64s\" in %s", key, what);
	}
	return LLM_OK;
}

/* a required string member without NUL bytes */
static int
GetString(json_t *obj, const char *key, const char **out, const char *what,
		  LlmError *err)
{
	json_t	   *v = json_object_get(obj, key);

	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
		return LlmSetError(err, LLM_ERR_FORMAT,
						   "preprocessing spec: %s needs \"%s\" as a string", what, key);
	*out = json_string_value(v);
	return LLM_OK;
}

/* read a required array of exactly n finite numbers into a new array */
static int
GetDoubles(json_t *obj, const char *key, int n, double **out, const char *name,
		   LlmError *err)
{
	json_t	   *arr = json_object_get(obj, key);

	if (!json_is_array(arr) || json_array_size(arr) != (size_t) n)
		return LlmSetError(err, LLM_ERR_FORMAT,
						   "preprocessing spec: column \"%.64s\" needs \"%s\" as an array of %d numbers",
						   name, key, n);
	*out = LlmAlloc(sizeof(double) * (size_t) n, err);
	if (*out == NULL)
		return LLM_ERR_NOMEM;
	for (int i = 0; i < n; i++)
	{
		json_t	   *v = json_array_get(arr, i);

		if (!json_is_number(v) || !isfinite(json_number_value(v)))
			return LlmSetError(err, LLM_ERR_FORMAT,
							   "preprocessing spec: \"%s\"[%d] of column \"%.64s\" is not a finite number",
							   key, i, name);
		(*out)[i] = json_number_value(v) + 0.0;	/* no -0 */
	}
	return LLM_OK;
}

/* read one column object into pc */
static int
ColumnFromJson(MlPrepColumn *pc, json_t *obj, int c, bool standardize,
			   MlEncoding encoding, LlmError *err)
{
	static const char *const numeric_keys[] =
	{"name", "type", "kind", "width", "impute", "center", "scale", NULL};
	static const char *const categorical_keys[] =
	{"name", "type", "kind", "width", "categories", NULL};
	char		what[32];
	const char *name;
	const char *type;
	const char *kind;
	json_t	   *width;
	int			k;
	int			rc;

	snprintf(what, sizeof(what), "column %d", c + 1);
	if (!json_is_object(obj))
		return LlmSetError(err, LLM_ERR_FORMAT, "preprocessing spec: %s is not an object", what);
	if ((rc = GetString(obj, "name", &name, what, err)) != LLM_OK ||
		(rc = GetString(obj, "type", &type, what, err)) != LLM_OK ||
		(rc = GetString(obj, "kind", &kind, what, err)) != LLM_OK)
		return rc;
	if (name[0] == '\0')
		return LlmSetError(err, LLM_ERR_FORMAT, "preprocessing spec: %s has an empty name", what);
	k = KindFromName(kind);
	if (k < 0)
		return LlmSetError(err, LLM_ERR_FORMAT,
						   "preprocessing spec: column \"%.64s\" has an unknown kind \"%.32s\"",
						   name, kind);
	pc->kind = (MlColumnKind) k;
	rc = CheckKeys(obj, pc->kind == ML_COL_CATEGORICAL ? categorical_keys : numeric_keys,
				   what, err);
	if (rc != LLM_OK)
		return rc;
	pc->name = CopyString(name, err);
	pc->type_name = CopyString(type, err);
	if (pc->name == NULL || pc->type_name == NULL)
		return LLM_ERR_NOMEM;

	width = json_object_get(obj, "width");
	if (!json_is_integer(width) ||
		json_integer_value(width) < 1 ||
		json_integer_value(width) > (pc->kind == ML_COL_VECTOR ? ML_PREP_MAX_WIDTH : 1))
		return LlmSetError(err, LLM_ERR_FORMAT,
						   "preprocessing spec: column \"%.64s\" needs \"width\" as an integer %s",
						   name, pc->kind == ML_COL_VECTOR ? "from 1 to 1048576" : "equal to 1");
	pc->width = (int) json_integer_value(width);

	if (pc->kind == ML_COL_CATEGORICAL)
	{
		json_t	   *cats = json_object_get(obj, "categories");
		size_t		n;

		if (!json_is_array(cats))
			return LlmSetError(err, LLM_ERR_FORMAT,
							   "preprocessing spec: column \"%.64s\" needs \"categories\" as an array",
							   name);
		n = json_array_size(cats);
		if (n > ML_PREP_MAX_CATEGORIES)
			return LlmSetError(err, LLM_ERR_FORMAT,
							   "preprocessing spec: column \"%.64s\" has more than %d categories",
							   name, ML_PREP_MAX_CATEGORIES);
		pc->categories = LlmAllocZero(sizeof(char *) * (n > 0 ? n : 1), err);
		if (pc->categories == NULL)
			return LLM_ERR_NOMEM;
		for (size_t i = 0; i < n; i++)
		{
			json_t	   *v = json_array_get(cats, i);
			const char *s;

			if (!json_is_string(v) ||
				strlen(json_string_value(v)) != json_string_length(v))
				return LlmSetError(err, LLM_ERR_FORMAT,
								   "preprocessing spec: category %zu of column \"%.64s\" is not a string",
								   i + 1, name);
			s = json_string_value(v);
			if (i > 0 && strcmp(pc->categories[i - 1], s) >= 0)
				return LlmSetError(err, LLM_ERR_FORMAT,
								   "preprocessing spec: the categories of column \"%.64s\" are not sorted and distinct",
								   name);
			pc->categories[i] = CopyString(s, err);
			if (pc->categories[i] == NULL)
				return LLM_ERR_NOMEM;
			pc->n_categories = (int) i + 1;
		}
		pc->out_width = encoding == ML_ENCODE_ONEHOT ? pc->n_categories : 1;
		return LLM_OK;
	}

	if ((rc = GetDoubles(obj, "impute", pc->width, &pc->impute, name, err)) != LLM_OK ||
		(rc = GetDoubles(obj, "center", pc->width, &pc->center, name, err)) != LLM_OK ||
		(rc = GetDoubles(obj, "scale", pc->width, &pc->scale, name, err)) != LLM_OK)
		return rc;
	for (int i = 0; i < pc->width; i++)
	{
		if (!(pc->scale[i] > 0.0))
			return LlmSetError(err, LLM_ERR_FORMAT,
							   "preprocessing spec: \"scale\"[%d] of column \"%.64s\" is not positive",
							   i, name);
		if (!standardize && (pc->center[i] != 0.0 || pc->scale[i] != 1.0))
			return LlmSetError(err, LLM_ERR_FORMAT,
							   "preprocessing spec: column \"%.64s\" has a center or scale but \"standardize\" is false",
							   name);
	}
	pc->out_width = pc->width;
	return LLM_OK;
}

/*
 * Read a spec written by MlPrepToJson, checking everything.  On failure
 * prep is left empty.
 */
int
MlPrepFromJson(MlPrep *prep, const char *json, LlmError *err)
{
	static const char *const root_keys[] =
	{"standardize", "encoding", "n_features", "columns", NULL};
	json_t	   *root;
	json_t	   *v;
	json_t	   *cols;
	const char *encoding;
	char	  **names = NULL;
	int64_t		n_features = 0;
	size_t		ncols;
	int			rc;

	memset(prep, 0, sizeof(*prep));
	if (json == NULL)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "no preprocessing spec");
	root = LlmJsonParse(json, strlen(json), "the preprocessing spec", err);
	if (root == NULL)
		return LLM_ERR_FORMAT;
	if (!json_is_object(root))
	{
		rc = LlmSetError(err, LLM_ERR_FORMAT, "preprocessing spec: not a JSON object");
		goto fail;
	}
	if ((rc = CheckKeys(root, root_keys, "the spec", err)) != LLM_OK)
		goto fail;

	v = json_object_get(root, "standardize");
	if (!json_is_boolean(v))
	{
		rc = LlmSetError(err, LLM_ERR_FORMAT,
						 "preprocessing spec: \"standardize\" must be true or false");
		goto fail;
	}
	prep->standardize = json_is_true(v);
	if ((rc = GetString(root, "encoding", &encoding, "the spec", err)) != LLM_OK)
		goto fail;
	if (strcmp(encoding, "onehot") == 0)
		prep->encoding = ML_ENCODE_ONEHOT;
	else if (strcmp(encoding, "ordinal") == 0)
		prep->encoding = ML_ENCODE_ORDINAL;
	else
	{
		rc = LlmSetError(err, LLM_ERR_FORMAT,
						 "preprocessing spec: \"encoding\" must be \"onehot\" or \"ordinal\"");
		goto fail;
	}

	cols = json_object_get(root, "columns");
	ncols = json_is_array(cols) ? json_array_size(cols) : 0;
	if (ncols < 1 || ncols > ML_PREP_MAX_COLUMNS)
	{
		rc = LlmSetError(err, LLM_ERR_FORMAT,
						 "preprocessing spec: \"columns\" must be an array of 1 to %d columns",
						 ML_PREP_MAX_COLUMNS);
		goto fail;
	}
	prep->cols = LlmAllocZero(sizeof(MlPrepColumn) * ncols, err);
	names = LlmAlloc(sizeof(char *) * ncols, err);
	if (prep->cols == NULL || names == NULL)
	{
		rc = LLM_ERR_NOMEM;
		goto fail;
	}
	prep->ncols = (int) ncols;
	for (size_t c = 0; c < ncols; c++)
	{
		rc = ColumnFromJson(&prep->cols[c], json_array_get(cols, c), (int) c,
							prep->standardize, prep->encoding, err);
		if (rc != LLM_OK)
			goto fail;
		names[c] = prep->cols[c].name;
		n_features += prep->cols[c].out_width;
		if (n_features > ML_PREP_MAX_FEATURES)
		{
			rc = LlmSetError(err, LLM_ERR_FORMAT,
							 "preprocessing spec: more than %d features",
							 ML_PREP_MAX_FEATURES);
			goto fail;
		}
	}
	rc = CheckDistinctNames(names, prep->ncols, LLM_ERR_FORMAT, err);
	if (rc != LLM_OK)
		goto fail;

	v = json_object_get(root, "n_features");
	if (!json_is_integer(v) || json_integer_value(v) != n_features || n_features < 1)
	{
		rc = LlmSetError(err, LLM_ERR_FORMAT,
						 "preprocessing spec: \"n_features\" must be %lld, the features the columns give%s",
						 (long long) n_features, n_features < 1 ? " (at least 1)" : "");
		goto fail;
	}
	prep->n_features = (int) n_features;
	free(names);
	json_decref(root);
	return LLM_OK;

fail:
	free(names);
	json_decref(root);
	MlPrepFree(prep);
	return rc;
}
