/*-------------------------------------------------------------------------
 *
 * cd.c
 *	  Lasso and elastic net by cyclic coordinate descent.
 *
 * The objective is scikit-learn's ElasticNet one,
 *	 (1 / 2n) ||y - Xw - b||^2 + alpha l1_ratio ||w||_1
 *		+ 0.5 alpha (1 - l1_ratio) ||w||^2
 * (Lasso is l1_ratio 1), with the intercept b unpenalized: X and y are
 * centered on their means when fit_intercept is set and b = mean(y) -
 * mean(X) . w afterwards.  Multiplied by n it becomes
 * 0.5 ||r||^2 + l1 ||w||_1 + 0.5 l2 ||w||^2 with l1 = n alpha l1_ratio and
 * l2 = n alpha (1 - l1_ratio), which is what the sweeps minimize.
 *
 * The solver follows scikit-learn's enet_coordinate_descent so that it
 * stops after the same sweep: features are visited in order starting from
 * w = 0, each one set to its exact minimizer soft(x_j . r_j, l1) /
 * (||x_j||^2 + l2) where r_j is the residual without feature j; after a
 * sweep whose largest coefficient change is below tol times the largest
 * coefficient (or that leaves w all zero, or the last allowed one), the
 * duality gap is computed and the fit stops when it is below
 * tol * ||y||^2 (y centered).  A sweep that changes no coefficient at all
 * also stops the fit: further sweeps would repeat it (scikit-learn keeps
 * going to max_iter then, for the same result).
 *
 * The data is copied once into a centered column-major matrix so that
 * every coordinate step reads one contiguous column, and the residual is
 * kept up to date, so a sweep costs two passes over the data (one dot
 * product and one axpy per feature).
 *
 *-------------------------------------------------------------------------
 */
#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "ml/ml.h"

/* one coordinate descent problem on centered, column-major data */
typedef struct CdProblem
{
	int			n;				/* rows */
	int			d;				/* features */
	double	   *xc;				/* (d, n): column j at xc + j*n, centered */
	double	   *yc;				/* (n) centered target */
	double	   *xmean;			/* (d) */
	double		ymean;
	double	   *norm2;			/* (d) squared norms of the columns */
} CdProblem;

/* free the buffers of a problem */
static void
CdProblemFree(CdProblem *p)
{
	free(p->xc);
	free(p->yc);
	free(p->xmean);
	free(p->norm2);
}

/*
 * Copy data into p: the column-major matrix, centered (a constant column
 * centers to exact zeros), the centered target and the column norms.
 * Every value must be finite.
 */
static int
CdProblemInit(CdProblem *p, const MlData *data, bool fit_intercept,
			  LlmError *err)
{
	int64_t		n = data->x.rows;
	int			d = data->x.cols;
	const double *x = data->x.x;
	double		ysum = 0.0;

	p->n = (int) n;
	p->d = d;
	p->xc = LlmAlloc(sizeof(double) * (size_t) n * d, err);
	p->yc = LlmAlloc(sizeof(double) * (size_t) n, err);
	p->xmean = LlmAlloc(sizeof(double) * (size_t) d, err);
	p->norm2 = LlmAlloc(sizeof(double) * (size_t) d, err);
	if (!p->xc || !p->yc || !p->xmean || !p->norm2)
		return LLM_ERR_NOMEM;

	for (int j = 0; j < d; j++)
		p->xmean[j] = 0.0;
	for (int64_t i = 0; i < n; i++)
	{
		const double *row = x + i * d;

		if (!isfinite(data->y[i]))
			return LlmSetError(err, LLM_ERR_ARGUMENT,
							   "target of row %lld is not a finite number",
							   (long long) i);
		ysum += data->y[i];
		p->yc[i] = data->y[i];
		for (int j = 0; j < d; j++)
		{
			if (!isfinite(row[j]))
				return LlmSetError(err, LLM_ERR_ARGUMENT,
								   "feature %d of row %lld is not a finite number",
								   j, (long long) i);
			p->xc[(size_t) j * n + i] = row[j];
			p->xmean[j] += row[j];
		}
	}

	p->ymean = fit_intercept ? ysum / (double) n : 0.0;
	for (int64_t i = 0; i < n; i++)
		p->yc[i] -= p->ymean;
	for (int j = 0; j < d; j++)
	{
		double	   *col = p->xc + (size_t) j * n;
		bool		constant = true;
		double		mean;

		if (!fit_intercept)
			mean = 0.0;
		else
		{
			for (int64_t i = 1; i < n && constant; i++)
				constant = (col[i] == col[0]);
			mean = constant ? col[0] : p->xmean[j] / (double) n;
			for (int64_t i = 0; i < n; i++)
				col[i] -= mean;
		}
		p->xmean[j] = mean;
		p->norm2[j] = cblas_ddot(p->n, col, 1, col, 1);
	}
	return LLM_OK;
}

/*
 * Duality gap of the scaled problem at w with residual r (scikit-learn's
 * formula); xta is (d) scratch
 */
static double
DualityGap(const CdProblem *p, const double *w, const double *r, double l1,
		   double l2, double *xta)
{
	double		dual_norm = 0.0;
	double		r_norm2;
	double		w_norm2;
	double		w_l1;
	double		scale;
	double		gap;

	for (int j = 0; j < p->d; j++)
	{
		xta[j] = cblas_ddot(p->n, p->xc + (size_t) j * p->n, 1, r, 1) - l2 * w[j];
		dual_norm = fmax(dual_norm, fabs(xta[j]));
	}
	r_norm2 = cblas_ddot(p->n, r, 1, r, 1);
	w_norm2 = cblas_ddot(p->d, w, 1, w, 1);
	w_l1 = cblas_dasum(p->d, w, 1);
	if (dual_norm > l1)
	{
		scale = l1 / dual_norm;
		gap = 0.5 * (r_norm2 + r_norm2 * scale * scale);
	}
	else
	{
		scale = 1.0;
		gap = r_norm2;
	}
	gap += l1 * w_l1 - scale * cblas_ddot(p->n, r, 1, p->yc, 1) +
		0.5 * l2 * (1.0 + scale * scale) * w_norm2;
	return gap;
}

/*
 * Cyclic coordinate descent from w = 0; w is (d), r (n) the residual;
 * *iters gets the number of sweeps run
 */
static int
CoordinateDescent(const CdProblem *p, double l1, double l2, int max_iter,
				  double tol, double *w, double *r, int *iters,
				  LlmError *err)
{
	double	   *xta;
	double		gap_tol = tol * cblas_ddot(p->n, p->yc, 1, p->yc, 1);
	int			sweep;

	xta = LlmAlloc(sizeof(double) * (size_t) p->d, err);
	if (xta == NULL)
		return LLM_ERR_NOMEM;
	for (int j = 0; j < p->d; j++)
		w[j] = 0.0;
	cblas_dcopy(p->n, p->yc, 1, r, 1);

	for (sweep = 0; sweep < max_iter; sweep++)
	{
		double		w_max = 0.0;
		double		dw_max = 0.0;

		if (LlmInterrupted())
		{
			free(xta);
			return LlmSetError(err, LLM_ERR_CANCELLED, "training was cancelled");
		}
		for (int j = 0; j < p->d; j++)
		{
			const double *col = p->xc + (size_t) j * p->n;
			double		w_old = w[j];
			double		rho;
			double		w_new;

			if (p->norm2[j] == 0.0)
				continue;
			/* x_j . (r + w_old x_j): the fit without feature j */
			rho = cblas_ddot(p->n, col, 1, r, 1) + w_old * p->norm2[j];
			w_new = copysign(fmax(fabs(rho) - l1, 0.0), rho) / (p->norm2[j] + l2);
			if (w_new != w_old)
				cblas_daxpy(p->n, w_old - w_new, col, 1, r, 1);
			w[j] = w_new;
			dw_max = fmax(dw_max, fabs(w_new - w_old));
			w_max = fmax(w_max, fabs(w_new));
		}
		if (w_max == 0.0 || dw_max / w_max < tol || sweep == max_iter - 1)
		{
			if (DualityGap(p, w, r, l1, l2, xta) < gap_tol)
				break;
		}
		if (dw_max == 0.0)
			break;
	}
	free(xta);
	*iters = sweep < max_iter ? sweep + 1 : max_iter;
	return LLM_OK;
}

/*
 * Fit lasso or elastic_net (alg) with params->alpha, l1_ratio (elastic net
 * only), max_iter, tol and fit_intercept.  On success model holds
 * n_outputs 1, coef[n_features] and intercept[1] (malloc'ed) and the
 * number of sweeps in n_iter; on failure model is left untouched.
 */
int
MlCoordinateDescentFit(MlAlgorithm alg, const MlParams *params,
					   const MlData *data, MlModel *model, LlmError *err)
{
	CdProblem	p = {0};
	double		l1_ratio;
	double		l1;
	double		l2;
	double	   *coef = NULL;
	double	   *intercept = NULL;
	double	   *r = NULL;
	int			iters = 0;
	int			rc;

	if (alg != ML_ALG_LASSO && alg != ML_ALG_ELASTIC_NET)
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "coordinate descent fits lasso and elastic_net only");
	if (params == NULL || data == NULL || model == NULL)
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "coordinate descent needs parameters, data and a model");
	if (data->x.rows < 1)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "coordinate descent needs at least one training row");
	if (data->x.rows > INT_MAX)
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "coordinate descent supports at most %d rows, got %lld",
						   INT_MAX, (long long) data->x.rows);
	if (data->x.cols < 1)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "coordinate descent needs at least one feature");
	if ((uint64_t) data->x.rows * (uint64_t) data->x.cols > SIZE_MAX / sizeof(double))
		return LlmSetError(err, LLM_ERR_ARGUMENT, "the design matrix is too large");
	if (data->x.x == NULL || data->y == NULL)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "coordinate descent needs a design matrix and a target");
	if (!(params->alpha >= 0.0) || !isfinite(params->alpha))
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "alpha must be a finite number >= 0, got %g", params->alpha);
	l1_ratio = (alg == ML_ALG_LASSO) ? 1.0 : params->l1_ratio;
	if (!(l1_ratio >= 0.0 && l1_ratio <= 1.0))
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "l1_ratio must be in [0, 1], got %g", l1_ratio);
	if (!(params->tol >= 0.0) || !isfinite(params->tol))
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "tol must be a finite number >= 0, got %g", params->tol);
	if (params->max_iter < 1)
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "max_iter must be >= 1, got %d", params->max_iter);

	rc = CdProblemInit(&p, data, params->fit_intercept, err);
	if (rc != LLM_OK)
		goto fail;
	coef = LlmAlloc(sizeof(double) * (size_t) p.d, err);
	intercept = LlmAlloc(sizeof(double), err);
	r = LlmAlloc(sizeof(double) * (size_t) p.n, err);
	if (!coef || !intercept || !r)
	{
		rc = LLM_ERR_NOMEM;
		goto fail;
	}

	l1 = params->alpha * l1_ratio * p.n;
	l2 = params->alpha * (1.0 - l1_ratio) * p.n;
	rc = CoordinateDescent(&p, l1, l2, params->max_iter, params->tol, coef, r,
						   &iters, err);
	if (rc != LLM_OK)
		goto fail;
	intercept[0] = params->fit_intercept ?
		p.ymean - cblas_ddot(p.d, p.xmean, 1, coef, 1) : 0.0;

	model->algorithm = alg;
	model->task = ML_TASK_REGRESSION;
	model->n_features = p.d;
	model->n_classes = 0;
	model->n_outputs = 1;
	model->coef = coef;
	model->intercept = intercept;
	model->centers = NULL;
	model->n_iter = iters;
	free(r);
	CdProblemFree(&p);
	return LLM_OK;

fail:
	free(coef);
	free(intercept);
	free(r);
	CdProblemFree(&p);
	return rc;
}
