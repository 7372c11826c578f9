/*-------------------------------------------------------------------------
 *
 * linear.c
 *	  Ordinary least squares and ridge regression in closed form.
 *
 * The objective is scikit-learn's Ridge one, ||y - Xw - b||^2 +
 * alpha ||w||^2 (alpha 0 is LinearRegression), with the intercept b left
 * unpenalized: when fit_intercept is set, X and y are centered on their
 * means and b = mean(y) - mean(X) . w afterwards.
 *
 * The fast path forms the normal equations in one pass over the data: each
 * block of rows is centered into a small buffer and folded into X'X with
 * dsyrk and into X'y with dgemv, so memory stays O(d^2) whatever the row
 * count.  The system is then scaled to a unit diagonal (which makes the
 * condition estimate meaningful whatever the features' units) and solved
 * by Cholesky.  Constant columns (exactly zero after centering) get
 * coefficient 0 and stay out of the system.
 *
 * When the Cholesky factorization fails or the system is too ill
 * conditioned for the normal equations to keep ~6 digits (duplicate or
 * collinear columns, one-hot groups next to an intercept, fewer rows than
 * features), the fit falls back to a minimum-norm least-squares solve of
 * the centered data itself with LAPACK's dgelsd, as LinearRegression does.
 * Singular values below eps * max(rows, features) times the largest count
 * as zero (numpy.linalg.lstsq's default cutoff): scipy's cutoff of eps
 * alone, which LinearRegression uses, keeps the rounding-level singular
 * value of an exactly duplicated column once there are many rows, and
 * gives that pair of columns opposite coefficients of order 1e10; here
 * they share the weight, which is the minimum-norm answer.
 * For ridge the fallback solves the equivalent augmented problem
 * [X; sqrt(alpha) I] w = [y; 0].  The fallback needs a column-major copy
 * of the data.
 *
 *-------------------------------------------------------------------------
 */
#include <cblas.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "ml/ml.h"

/* rows centered and folded into X'X at a time */
#define LINEAR_BLOCK_ROWS	2048
/* blocks between two interrupt checks */
#define LINEAR_CHECK_BLOCKS 64
/* the d x d system must stay small enough for LAPACK's int sizes */
#define LINEAR_MAX_FEATURES 20000
/* below this reciprocal condition number the normal equations lose too much */
#define LINEAR_MIN_RCOND	1e-9

/* LAPACK (Fortran ABI, in libopenblas); trailing size_t: hidden CHARACTER length */
extern void dpotrf_(const char *uplo, const int *n, double *a, const int *lda,
					int *info, size_t uplo_len);
extern void dpotrs_(const char *uplo, const int *n, const int *nrhs,
					const double *a, const int *lda, double *b, const int *ldb,
					int *info, size_t uplo_len);
extern void dpocon_(const char *uplo, const int *n, const double *a,
					const int *lda, const double *anorm, double *rcond,
					double *work, int *iwork, int *info, size_t uplo_len);
extern void dgelsd_(const int *m, const int *n, const int *nrhs, double *a,
					const int *lda, double *b, const int *ldb, double *s,
					const double *rcond, int *rank, double *work,
					const int *lwork, int *iwork, int *info);

/*
 * Means of the columns of X and of y (zero without an intercept), checking
 * that every value is finite.  A constant column's mean is its value
 * exactly, so that it centers to exact zeros.
 */
static int
DataMeans(const MlData *data, bool fit_intercept, double *xmean,
		  double *ymean, LlmError *err)
{
	int64_t		n = data->x.rows;
	int			d = data->x.cols;
	const double *x = data->x.x;
	const double *first = x;
	bool	   *varies;
	double		ysum = 0.0;

	varies = LlmAllocZero(sizeof(bool) * (size_t) d, err);
	if (varies == NULL)
		return LLM_ERR_NOMEM;
	for (int j = 0; j < d; j++)
		xmean[j] = 0.0;
	for (int64_t i = 0; i < n; i++)
	{
		const double *row = x + i * d;

		if (!isfinite(data->y[i]))
		{
			free(varies);
			return LlmSetError(err, LLM_ERR_ARGUMENT,
							   "target of row %lld is not a finite number",
							   (long long) i);
		}
		ysum += data->y[i];
		for (int j = 0; j < d; j++)
		{
			if (!isfinite(row[j]))
			{
				free(varies);
				return LlmSetError(err, LLM_ERR_ARGUMENT,
								   "feature %d of row %lld is not a finite number",
								   j, (long long) i);
			}
			xmean[j] += row[j];
			varies[j] |= (row[j] != first[j]);
		}
	}
	for (int j = 0; j < d; j++)
	{
		if (!fit_intercept)
			xmean[j] = 0.0;
		else if (varies[j])
			xmean[j] /= (double) n;
		else
			xmean[j] = first[j];
	}
	*ymean = fit_intercept ? ysum / (double) n : 0.0;
	free(varies);
	return LLM_OK;
}

/*
 * One pass over the rows: gram = Xc'Xc (upper triangle, row-major d x d)
 * and xty = Xc'yc, where Xc and yc are the centered data
 */
static int
NormalEquations(const MlData *data, const double *xmean, double ymean,
				double *gram, double *xty, LlmError *err)
{
	int64_t		n = data->x.rows;
	int			d = data->x.cols;
	double	   *buf;			/* (LINEAR_BLOCK_ROWS, d) */
	double	   *ybuf;			/* (LINEAR_BLOCK_ROWS) */
	int64_t		blocks = 0;

	buf = LlmAlloc(sizeof(double) * LINEAR_BLOCK_ROWS * (size_t) d, err);
	ybuf = LlmAlloc(sizeof(double) * LINEAR_BLOCK_ROWS, err);
	if (buf == NULL || ybuf == NULL)
	{
		free(buf);
		free(ybuf);
		return LLM_ERR_NOMEM;
	}
	for (size_t k = 0; k < (size_t) d * d; k++)
		gram[k] = 0.0;
	for (int j = 0; j < d; j++)
		xty[j] = 0.0;

	for (int64_t r0 = 0; r0 < n; r0 += LINEAR_BLOCK_ROWS)
	{
		int			nb = (int) (n - r0 < LINEAR_BLOCK_ROWS ? n - r0 : LINEAR_BLOCK_ROWS);

		if (++blocks % LINEAR_CHECK_BLOCKS == 0 && LlmInterrupted())
		{
			free(buf);
			free(ybuf);
			return LlmSetError(err, LLM_ERR_CANCELLED, "training was cancelled");
		}
		for (int i = 0; i < nb; i++)
		{
			const double *row = data->x.x + (r0 + i) * d;
			double	   *out = buf + (size_t) i * d;

			for (int j = 0; j < d; j++)
				out[j] = row[j] - xmean[j];
			ybuf[i] = data->y[r0 + i] - ymean;
		}
		cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, nb, 1.0,
					buf, d, 1.0, gram, d);
		cblas_dgemv(CblasRowMajor, CblasTrans, nb, d, 1.0, buf, d, ybuf, 1,
					1.0, xty, 1);
	}
	free(buf);
	free(ybuf);
	return LLM_OK;
}

/*
 * Solve (gram + alpha I) w = xty by Cholesky on the columns with a nonzero
 * diagonal, scaled to a unit diagonal.  Returns LLM_OK with *solved false
 * when the system is singular or too ill conditioned (coef untouched).
 */
static int
SolveCholesky(const double *gram, const double *xty, int d, double alpha,
			  double *coef, bool *solved, LlmError *err)
{
	int		   *active;
	double	   *scale;
	double	   *s;				/* (k, k), symmetric */
	double	   *rhs;
	double	   *work;
	int		   *iwork;
	int			k = 0;
	int			info = 0;
	int			one = 1;
	double		anorm = 0.0;
	double		rcond = 0.0;
	int			rc = LLM_OK;

	*solved = false;
	active = LlmAlloc(sizeof(int) * (size_t) d, err);
	scale = LlmAlloc(sizeof(double) * (size_t) d, err);
	s = LlmAlloc(sizeof(double) * (size_t) d * d, err);
	rhs = LlmAlloc(sizeof(double) * (size_t) d, err);
	work = LlmAlloc(sizeof(double) * 3 * (size_t) d, err);
	iwork = LlmAlloc(sizeof(int) * (size_t) d, err);
	if (!active || !scale || !s || !rhs || !work || !iwork)
	{
		rc = LLM_ERR_NOMEM;
		goto done;
	}

	for (int j = 0; j < d; j++)
	{
		coef[j] = 0.0;
		if (gram[(size_t) j * d + j] > 0.0)
		{
			active[k] = j;
			scale[k] = sqrt(gram[(size_t) j * d + j] + alpha);
			k++;
		}
	}
	if (k == 0)
	{
		*solved = true;
		goto done;
	}

	/* gram holds the upper triangle: element (a, b) with a <= b */
	for (int p = 0; p < k; p++)
	{
		for (int q = p; q < k; q++)
		{
			double		v = gram[(size_t) active[p] * d + active[q]];

			if (p == q)
				v += alpha;
			v /= scale[p] * scale[q];
			s[(size_t) p * k + q] = v;
			s[(size_t) q * k + p] = v;
		}
		rhs[p] = xty[active[p]] / scale[p];
	}
	for (int q = 0; q < k; q++)
	{
		double		colsum = 0.0;

		for (int p = 0; p < k; p++)
			colsum += fabs(s[(size_t) p * k + q]);
		anorm = fmax(anorm, colsum);
	}

	dpotrf_("U", &k, s, &k, &info, 1);
	if (info != 0)
		goto done;
	dpocon_("U", &k, s, &k, &anorm, &rcond, work, iwork, &info, 1);
	if (info != 0 || !(rcond >= LINEAR_MIN_RCOND))
		goto done;
	dpotrs_("U", &k, &one, s, &k, rhs, &k, &info, 1);
	if (info != 0)
		goto done;
	for (int p = 0; p < k; p++)
		coef[active[p]] = rhs[p] / scale[p];
	*solved = true;

done:
	free(active);
	free(scale);
	free(s);
	free(rhs);
	free(work);
	free(iwork);
	return rc;
}

/*
 * Minimum-norm least squares of the centered data with dgelsd; for ridge,
 * of the data augmented with sqrt(alpha) I under X and zeros under y
 */
static int
SolveLeastSquares(const MlData *data, const double *xmean, double ymean,
				  double alpha, double *coef, LlmError *err)
{
	int64_t		n = data->x.rows;
	int			d = data->x.cols;
	int64_t		m64 = n + (alpha > 0.0 ? d : 0);
	int			m;
	int			ldb;
	int			nrhs = 1;
	int			rank = 0;
	int			info = 0;
	int			lwork = -1;
	int			iwsize = 0;
	double		rcond;
	double		wsize = 0.0;
	double	   *a = NULL;		/* (d, m) column-major: column j at a + j*m */
	double	   *b = NULL;
	double	   *sv = NULL;
	double	   *work = NULL;
	int		   *iwork = NULL;
	int			rc = LLM_OK;

	if (m64 > INT_MAX || m64 * d > (int64_t) (SIZE_MAX / sizeof(double)))
		return LlmSetError(err, LLM_ERR_UNSUPPORTED,
						   "the design matrix is rank deficient and too large (%lld rows) for the least-squares fallback",
						   (long long) n);
	m = (int) m64;
	ldb = m > d ? m : d;
	rcond = DBL_EPSILON * ldb;
	a = LlmAlloc(sizeof(double) * (size_t) m * d, err);
	b = LlmAllocZero(sizeof(double) * (size_t) ldb, err);
	sv = LlmAlloc(sizeof(double) * (size_t) (m < d ? m : d), err);
	if (a == NULL || b == NULL || sv == NULL)
	{
		rc = LLM_ERR_NOMEM;
		goto done;
	}
	for (int64_t i = 0; i < n; i++)
	{
		const double *row = data->x.x + i * d;

		for (int j = 0; j < d; j++)
			a[(size_t) j * m + i] = row[j] - xmean[j];
		b[i] = data->y[i] - ymean;
	}
	if (m > n)
	{
		double		r = sqrt(alpha);

		for (int j = 0; j < d; j++)
			for (int i = 0; i < d; i++)
				a[(size_t) j * m + n + i] = (i == j) ? r : 0.0;
	}
	if (LlmInterrupted())
	{
		rc = LlmSetError(err, LLM_ERR_CANCELLED, "training was cancelled");
		goto done;
	}

	dgelsd_(&m, &d, &nrhs, a, &m, b, &ldb, sv, &rcond, &rank, &wsize, &lwork,
			&iwsize, &info);
	if (info != 0 || !(wsize >= 1.0) || wsize > (double) INT_MAX || iwsize < 1)
	{
		rc = LlmSetError(err, LLM_ERR_UNSUPPORTED,
						 "least-squares workspace query failed (info %d)", info);
		goto done;
	}
	lwork = (int) wsize;
	work = LlmAlloc(sizeof(double) * (size_t) lwork, err);
	iwork = LlmAlloc(sizeof(int) * (size_t) iwsize, err);
	if (work == NULL || iwork == NULL)
	{
		rc = LLM_ERR_NOMEM;
		goto done;
	}
	dgelsd_(&m, &d, &nrhs, a, &m, b, &ldb, sv, &rcond, &rank, work, &lwork,
			iwork, &info);
	if (info != 0)
	{
		rc = LlmSetError(err, LLM_ERR_UNSUPPORTED,
						 "least-squares solve did not converge (info %d)", info);
		goto done;
	}
	for (int j = 0; j < d; j++)
		coef[j] = b[j];

done:
	free(a);
	free(b);
	free(sv);
	free(work);
	free(iwork);
	return rc;
}

/*
 * Fit linear_regression: OLS when params->alpha is 0, ridge when it is
 * positive.  On success model holds n_outputs 1, coef[n_features] and
 * intercept[1] (malloc'ed); on failure model is left untouched.
 */
int
MlLinearFit(const MlParams *params, const MlData *data, MlModel *model,
			LlmError *err)
{
	int			d;
	double		alpha;
	double	   *xmean = NULL;
	double	   *gram = NULL;	/* (d, d), upper triangle */
	double	   *xty = NULL;
	double	   *coef = NULL;
	double	   *intercept = NULL;
	double		ymean = 0.0;
	bool		solved = false;
	int			rc;

	if (params == NULL || data == NULL || model == NULL)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "linear regression needs parameters, data and a model");
	if (data->x.rows < 1)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "linear regression needs at least one training row");
	if (data->x.cols < 1)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "linear regression needs at least one feature");
	if (data->x.cols > LINEAR_MAX_FEATURES)
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "linear regression supports at most %d features, got %d",
						   LINEAR_MAX_FEATURES, data->x.cols);
	if (data->x.x == NULL || data->y == NULL)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "linear regression needs a design matrix and a target");
	if (!(params->alpha >= 0.0) || !isfinite(params->alpha))
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "alpha must be a finite number >= 0, got %g", params->alpha);

	d = data->x.cols;
	alpha = params->alpha;
	xmean = LlmAlloc(sizeof(double) * (size_t) d, err);
	gram = LlmAlloc(sizeof(double) * (size_t) d * d, err);
	xty = LlmAlloc(sizeof(double) * (size_t) d, err);
	coef = LlmAlloc(sizeof(double) * (size_t) d, err);
	intercept = LlmAlloc(sizeof(double), err);
	if (!xmean || !gram || !xty || !coef || !intercept)
	{
		rc = LLM_ERR_NOMEM;
		goto fail;
	}

	rc = DataMeans(data, params->fit_intercept, xmean, &ymean, err);
	if (rc != LLM_OK)
		goto fail;
	rc = NormalEquations(data, xmean, ymean, gram, xty, err);
	if (rc != LLM_OK)
		goto fail;
	rc = SolveCholesky(gram, xty, d, alpha, coef, &solved, err);
	if (rc != LLM_OK)
		goto fail;
	free(gram);
	gram = NULL;
	if (!solved)
	{
		rc = SolveLeastSquares(data, xmean, ymean, alpha, coef, err);
		if (rc != LLM_OK)
			goto fail;
	}

	intercept[0] = 0.0;
	if (params->fit_intercept)
		intercept[0] = ymean - cblas_ddot(d, xmean, 1, coef, 1);

	model->algorithm = ML_ALG_LINEAR_REGRESSION;
	model->task = ML_TASK_REGRESSION;
	model->n_features = d;
	model->n_classes = 0;
	model->n_outputs = 1;
	model->coef = coef;
	model->intercept = intercept;
	model->centers = NULL;
	model->n_iter = 1;
	free(xmean);
	free(xty);
	return LLM_OK;

fail:
	free(xmean);
	free(gram);
	free(xty);
	free(coef);
	free(intercept);
	return rc;
}
