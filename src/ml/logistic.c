/*-------------------------------------------------------------------------
 *
 * logistic.c
 *	  L2-penalized logistic regression fitted by L-BFGS, as scikit-learn's
 *	  LogisticRegression(penalty='l2', solver='lbfgs') does.
 *
 * Two classes give one coefficient vector with P(class 1) = sigmoid(x.w +
 * b); more give one row per class and a softmax (scikit-learn's
 * multinomial).  The objective is scikit-learn's own scaling,
 *
 *	 f(W, b) = sum_i logloss_i + 1 / (2 C) ||W||^2	  (b not penalized),
 *
 * which has the minimizer of C sum_i logloss_i + ||W||^2 / 2 and makes tol
 * bound the same gradient as in scikit-learn, so both stop at the same
 * point.  Starting from zero, as scikit-learn does, keeps the multinomial
 * intercepts summing to zero (the softmax leaves their common shift free).
 *
 * Each evaluation makes one pass over the data in blocks of rows small
 * enough to stay in cache: the block's scores come from one BLAS call
 * (dgemv for two classes, dgemm for more), the losses and residuals from a
 * numerically stable sigmoid or log-sum-exp, and the block's gradient from
 * a second BLAS call on the same, still cached, rows.
 *
 *-------------------------------------------------------------------------
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ml/ml.h"

/* bytes of design matrix per block of rows */
#define BLOCK_BYTES (256 * 1024)

/* the data and scratch space one objective evaluation needs */
typedef struct LogisticProblem
{
	const double *x;			/* (rows, d) row-major */
	const double *y;			/* class index per row */
	int64_t		rows;
	int			d;
	int			k;				/* outputs: 1 (binary) or n_classes */
	bool		intercept;
	double		inv_c;			/* penalty weight 1 / C */
	int			block;			/* rows per block */
	double	   *z;				/* (block, k) scores, then residuals */
} LogisticProblem;

/* add the L2 penalty of the k x d coefficients w to f and grad */
static double
AddPenalty(const LogisticProblem *p, const double *w, double *grad, double f)
{
	size_t		nw = (size_t) p->k * p->d;
	double		sq = 0.0;

	for (size_t j = 0; j < nw; j++)
	{
		sq += w[j] * w[j];
		grad[j] += p->inv_c * w[j];
	}
	return f + 0.5 * p->inv_c * sq;
}

/* binary objective: w = (w_0 .. w_{d-1}, b) */
static double
BinaryObjective(const double *w, double *grad, void *arg)
{
	const LogisticProblem *p = arg;
	int			d = p->d;
	double		b = p->intercept ? w[d] : 0.0;
	double		loss = 0.0;
	double		gb = 0.0;

	memset(grad, 0, sizeof(double) * (d + (p->intercept ? 1 : 0)));
	for (int64_t r0 = 0; r0 < p->rows; r0 += p->block)
	{
		int			nb = (int) ((p->rows - r0 < p->block) ? p->rows - r0 : p->block);
		const double *xb = p->x + r0 * d;
		const double *yb = p->y + r0;
		double	   *z = p->z;

		/* z = X_b w */
		cblas_dgemv(CblasRowMajor, CblasNoTrans, nb, d, 1.0, xb, d, w, 1,
					0.0, z, 1);
		for (int i = 0; i < nb; i++)
		{
			double		zi = z[i] + b;
			double		yi = yb[i];
			double		e,
						pr;

			/*
			 * log(1 + exp(z)) - y z, never exponentiating a positive.  log
			 * of 1 + e rather than log1p(e): its absolute error (which is
			 * what a sum of losses sees) is under 2^-53, at a quarter of
			 * the cost.
			 */
			if (zi >= 0.0)
			{
				e = exp(-zi);
				loss += zi * (1.0 - yi) + log(1.0 + e);
				pr = 1.0 / (1.0 + e);
			}
			else
			{
				e = exp(zi);
				loss += log(1.0 + e) - yi * zi;
				pr = e / (1.0 + e);
			}
			z[i] = pr - yi;
			gb += z[i];
		}
		/* grad += X_b' (p - y) */
		cblas_dgemv(CblasRowMajor, CblasTrans, nb, d, 1.0, xb, d, z, 1,
					1.0, grad, 1);
	}
	if (p->intercept)
		grad[d] = gb;
	return AddPenalty(p, w, grad, loss);
}

/* multinomial objective: w = (W (k x d) row-major, b (k)) */
static double
MultinomialObjective(const double *w, double *grad, void *arg)
{
	const LogisticProblem *p = arg;
	int			d = p->d;
	int			k = p->k;
	const double *b = p->intercept ? w + (size_t) k * d : NULL;
	double	   *gb = grad + (size_t) k * d;
	double		loss = 0.0;

	memset(grad, 0, sizeof(double) * ((size_t) k * d + (p->intercept ? k : 0)));
	for (int64_t r0 = 0; r0 < p->rows; r0 += p->block)
	{
		int			nb = (int) ((p->rows - r0 < p->block) ? p->rows - r0 : p->block);
		const double *xb = p->x + r0 * d;
		const double *yb = p->y + r0;
		double	   *z = p->z;

		/* Z (nb x k) = X_b W' */
		cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, k, d, 1.0,
					xb, d, w, d, 0.0, z, k);
		for (int i = 0; i < nb; i++)
		{
			double	   *zi = z + (size_t) i * k;
			int			yi = (int) yb[i];
			double		m = -INFINITY;
			double		sum = 0.0;

			if (b)
				for (int c = 0; c < k; c++)
					zi[c] += b[c];
			for (int c = 0; c < k; c++)
				m = fmax(m, zi[c]);
			loss += m - zi[yi];
			for (int c = 0; c < k; c++)
			{
				zi[c] = exp(zi[c] - m);
				sum += zi[c];
			}
			loss += log(sum);
			/* residual: softmax minus the one-hot target */
			for (int c = 0; c < k; c++)
				zi[c] /= sum;
			zi[yi] -= 1.0;
			if (b)
				for (int c = 0; c < k; c++)
					gb[c] += zi[c];
		}
		/* G (k x d) += R' X_b */
		cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, d, nb, 1.0,
					z, k, xb, d, 1.0, grad, d);
	}
	return AddPenalty(p, w, grad, loss);
}

/* fit the model (see ml.h); model is overwritten */
int
MlLogisticFit(const MlParams *params, const MlData *data, MlModel *model,
			  LlmError *err)
{
	LogisticProblem prob;
	const MlMatrix *x;
	int			k,
				nb,
				iters = 0,
				rc;
	size_t		nw,
				nvar;
	double	   *w = NULL;

	if (model == NULL || params == NULL || data == NULL)
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "logistic regression needs parameters, data and a model");
	memset(model, 0, sizeof(*model));
	x = &data->x;
	if (x->rows < 1 || x->cols < 1 || x->x == NULL || data->y == NULL)
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "logistic regression needs at least one row and one feature");
	if (data->n_classes < 2 || data->n_classes > 100000)
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "logistic regression needs between 2 and 100000 classes, not %d",
						   data->n_classes);
	if (!(params->C > 0.0) || !isfinite(params->C))
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "C must be a positive number");
	if (!(params->tol >= 0.0) || !isfinite(params->tol))
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "tol must be a non-negative number");
	if (params->max_iter < 0)
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "max_iter must not be negative");
	for (int64_t i = 0; i < x->rows; i++)
	{
		double		yi = data->y[i];

		if (!(yi >= 0.0 && yi < data->n_classes) || yi != floor(yi))
			return LlmSetError(err, LLM_ERR_ARGUMENT,
							   "class index %g of row %lld is not in 0 .. %d",
							   yi, (long long) i, data->n_classes - 1);
	}

	k = data->n_classes == 2 ? 1 : data->n_classes;
	nw = (size_t) k * x->cols;
	nvar = nw + (params->fit_intercept ? k : 0);
	if (nvar > INT32_MAX / 32)
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "logistic regression with %zu coefficients is too large", nvar);

	nb = BLOCK_BYTES / (int) (sizeof(double) * x->cols);
	if (nb < 64)
		nb = 64;
	if (nb > 4096)
		nb = 4096;
	if (nb > x->rows)
		nb = (int) x->rows;

	prob.x = x->x;
	prob.y = data->y;
	prob.rows = x->rows;
	prob.d = x->cols;
	prob.k = k;
	prob.intercept = params->fit_intercept;
	prob.inv_c = 1.0 / params->C;
	prob.block = nb;
	prob.z = LlmAlloc(sizeof(double) * (size_t) nb * k, err);
	w = LlmAllocZero(sizeof(double) * nvar, err);
	model->coef = LlmAlloc(sizeof(double) * nw, err);
	model->intercept = LlmAllocZero(sizeof(double) * k, err);
	if (prob.z == NULL || w == NULL || model->coef == NULL ||
		model->intercept == NULL)
	{
		rc = LLM_ERR_NOMEM;
		goto fail;
	}

	rc = MlLbfgsMinimize(k == 1 ? BinaryObjective : MultinomialObjective,
						 &prob, w, (int) nvar, params->max_iter, params->tol,
						 &iters, err);
	if (rc != LLM_OK)
		goto fail;
	for (size_t j = 0; j < nvar; j++)
		if (!isfinite(w[j]))
		{
			rc = LlmSetError(err, LLM_ERR_ARGUMENT,
							 "logistic regression diverged (non-finite coefficients)");
			goto fail;
		}

	memcpy(model->coef, w, sizeof(double) * nw);
	if (params->fit_intercept)
		memcpy(model->intercept, w + nw, sizeof(double) * k);
	model->algorithm = ML_ALG_LOGISTIC_REGRESSION;
	model->task = ML_TASK_CLASSIFICATION;
	model->n_features = x->cols;
	model->n_classes = data->n_classes;
	model->n_outputs = k;
	model->n_iter = iters;
	free(prob.z);
	free(w);
	return LLM_OK;

fail:
	free(prob.z);
	free(w);
	free(model->coef);
	free(model->intercept);
	model->coef = NULL;
	model->intercept = NULL;
	return rc;
}
