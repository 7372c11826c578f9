/*-------------------------------------------------------------------------
 *
 * lbfgs.c
 *	  Limited-memory BFGS minimization with a More-Thuente line search.
 *
 * The solver reproduces the unconstrained behaviour of the L-BFGS-B code
 * that SciPy wraps and scikit-learn's lbfgs solver calls, so that the
 * iterates, the stopping point and the iteration count agree with it:
 *
 *	 - ten correction pairs; the initial inverse Hessian is s'y / y'y of the
 *	   newest pair; a pair is skipped when its curvature s'y is not
 *	   positive enough;
 *	 - the first step is 1 / ||d|| (then 1), refined by the More-Thuente
 *	   search (sufficient decrease 1e-3, curvature 0.9, interval tolerance
 *	   0.1), at most 20 evaluations per search; a failed search restarts
 *	   from steepest descent once, and ends the run when that fails too;
 *	 - it stops when the gradient's max-norm is <= tol (SciPy's pgtol, the
 *	   projected gradient being the gradient without bounds), when the
 *	   relative decrease (f_old - f) / max(|f_old|, |f|, 1) is <= 1e7 *
 *	   DBL_EPSILON (SciPy's factr default), or after max_iter iterations.
 *
 * The correction pairs are kept in two ring buffers and applied with the
 * usual two-loop recursion, which for an unbounded problem gives the same
 * direction as L-BFGS-B's compact representation.
 *
 *-------------------------------------------------------------------------
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ml/ml.h"

#define LBFGS_M			10		/* correction pairs kept */
#define LBFGS_MAXLS		20		/* evaluations per line search */
#define LBFGS_FACTR		1e7		/* relative-decrease test, in DBL_EPSILON */
#define LS_FTOL			1e-3	/* sufficient decrease */
#define LS_GTOL			0.9		/* curvature condition */
#define LS_XTOL			0.1		/* relative width of the interval */
#define LS_STPMAX		1e10
#define LS_XTRAPL		1.1		/* extrapolation range while unbracketed */
#define LS_XTRAPU		4.0

/* state of one More-Thuente search along a direction */
typedef struct LineSearch
{
	double		finit;			/* f and f' at step 0 */
	double		ginit;
	double		gtest;			/* LS_FTOL * ginit */
	double		width;			/* interval widths of the last two steps */
	double		width1;
	bool		brackt;			/* a minimizer is bracketed */
	int			stage;			/* 1 until a step with psi <= 0, f' >= 0 */
	double		stx,
				fx,
				gx;				/* best step so far */
	double		sty,
				fy,
				gy;				/* other end of the interval */
	double		stmin,
				stmax;			/* current range of trial steps */
} LineSearch;

/* the larger of three numbers */
static inline double
Max3(double a, double b, double c)
{
	return fmax(a, fmax(b, c));
}

/*
 * One safeguarded step of More and Thuente: from the interval end stx
 * (best so far), the other end sty and the trial stp with their function
 * values and derivatives, choose the next trial step by cubic or quadratic
 * interpolation and shrink the interval.
 */
static void
LineSearchStep(double *stx, double *fx, double *dx, double *sty, double *fy,
			   double *dy, double *stp, double fp, double dp, bool *brackt,
			   double stpmin, double stpmax)
{
	double		sgnd = dp * (*dx / fabs(*dx));
	double		theta,
				s,
				gamma,
				p,
				q,
				r,
				stpc,
				stpq,
				stpf;

	if (fp > *fx)
	{
		/* higher value: the minimizer lies between stx and stp */
		theta = 3.0 * (*fx - fp) / (*stp - *stx) + *dx + dp;
		s = Max3(fabs(theta), fabs(*dx), fabs(dp));
		gamma = s * sqrt(fmax(0.0, (theta / s) * (theta / s) -
							  (*dx / s) * (dp / s)));
		if (*stp < *stx)
			gamma = -gamma;
		p = (gamma - *dx) + theta;
		q = ((gamma - *dx) + gamma) + dp;
		r = p / q;
		stpc = *stx + r * (*stp - *stx);
		stpq = *stx + ((*dx / ((*fx - fp) / (*stp - *stx) + *dx)) / 2.0) *
			(*stp - *stx);
		if (fabs(stpc - *stx) < fabs(stpq - *stx))
			stpf = stpc;
		else
			stpf = stpc + (stpq - stpc) / 2.0;
		*brackt = true;
	}
	else if (sgnd < 0.0)
	{
		/* derivatives of opposite sign: bracketed */
		theta = 3.0 * (*fx - fp) / (*stp - *stx) + *dx + dp;
		s = Max3(fabs(theta), fabs(*dx), fabs(dp));
		gamma = s * sqrt(fmax(0.0, (theta / s) * (theta / s) -
							  (*dx / s) * (dp / s)));
		if (*stp > *stx)
			gamma = -gamma;
		p = (gamma - dp) + theta;
		q = ((gamma - dp) + gamma) + *dx;
		r = p / q;
		stpc = *stp + r * (*stx - *stp);
		stpq = *stp + (dp / (dp - *dx)) * (*stx - *stp);
		if (fabs(stpc - *stp) > fabs(stpq - *stp))
			stpf = stpc;
		else
			stpf = stpq;
		*brackt = true;
	}
	else if (fabs(dp) < fabs(*dx))
	{
		/* same sign, the derivative's magnitude decreases */
		theta = 3.0 * (*fx - fp) / (*stp - *stx) + *dx + dp;
		s = Max3(fabs(theta), fabs(*dx), fabs(dp));
		gamma = s * sqrt(fmax(0.0, (theta / s) * (theta / s) -
							  (*dx / s) * (dp / s)));
		if (*stp > *stx)
			gamma = -gamma;
		p = (gamma - dp) + theta;
		q = (gamma + (*dx - dp)) + gamma;
		r = p / q;
		if (r < 0.0 && gamma != 0.0)
			stpc = *stp + r * (*stx - *stp);
		else if (*stp > *stx)
			stpc = stpmax;
		else
			stpc = stpmin;
		stpq = *stp + (dp / (dp - *dx)) * (*stx - *stp);
		if (*brackt)
		{
			if (fabs(stpc - *stp) < fabs(stpq - *stp))
				stpf = stpc;
			else
				stpf = stpq;
			if (*stp > *stx)
				stpf = fmin(*stp + 0.66 * (*sty - *stp), stpf);
			else
				stpf = fmax(*stp + 0.66 * (*sty - *stp), stpf);
		}
		else
		{
			if (fabs(stpc - *stp) > fabs(stpq - *stp))
				stpf = stpc;
			else
				stpf = stpq;
			stpf = fmin(stpmax, stpf);
			stpf = fmax(stpmin, stpf);
		}
	}
	else
	{
		/* same sign, the derivative does not decrease */
		if (*brackt)
		{
			theta = 3.0 * (fp - *fy) / (*sty - *stp) + *dy + dp;
			s = Max3(fabs(theta), fabs(*dy), fabs(dp));
			gamma = s * sqrt(fmax(0.0, (theta / s) * (theta / s) -
								  (*dy / s) * (dp / s)));
			if (*stp > *sty)
				gamma = -gamma;
			p = (gamma - dp) + theta;
			q = ((gamma - dp) + gamma) + *dy;
			r = p / q;
			stpf = *stp + r * (*sty - *stp);
		}
		else if (*stp > *stx)
			stpf = stpmax;
		else
			stpf = stpmin;
	}

	/* update the interval that holds a minimizer */
	if (fp > *fx)
	{
		*sty = *stp;
		*fy = fp;
		*dy = dp;
	}
	else
	{
		if (sgnd < 0.0)
		{
			*sty = *stx;
			*fy = *fx;
			*dy = *dx;
		}
		*stx = *stp;
		*fx = fp;
		*dx = dp;
	}
	*stp = stpf;
}

/* start a search from f(0) = f, f'(0) = g (< 0) with first trial stp */
static void
LineSearchStart(LineSearch *ls, double f, double g, double stp)
{
	ls->finit = f;
	ls->ginit = g;
	ls->gtest = LS_FTOL * g;
	ls->width = LS_STPMAX;
	ls->width1 = 2.0 * LS_STPMAX;
	ls->brackt = false;
	ls->stage = 1;
	ls->stx = 0.0;
	ls->fx = f;
	ls->gx = g;
	ls->sty = 0.0;
	ls->fy = f;
	ls->gy = g;
	ls->stmin = 0.0;
	ls->stmax = stp + LS_XTRAPU * stp;
}

/*
 * Take f and f' at the trial step *stp.  Returns true when the step is
 * accepted (strong Wolfe conditions hold, or the interval cannot shrink
 * further: both are what L-BFGS-B accepts), else sets the next *stp.
 */
static bool
LineSearchNext(LineSearch *ls, double *stp, double f, double g)
{
	double		ftest = ls->finit + *stp * ls->gtest;

	if (ls->stage == 1 && f <= ftest && g >= 0.0)
		ls->stage = 2;

	/* rounding errors or an interval below tolerance: keep this step */
	if (ls->brackt && (*stp <= ls->stmin || *stp >= ls->stmax))
		return true;
	if (ls->brackt && ls->stmax - ls->stmin <= LS_XTOL * ls->stmax)
		return true;
	if (*stp >= LS_STPMAX && f <= ftest && g <= ls->gtest)
		return true;
	if (*stp <= 0.0 && (f > ftest || g >= ls->gtest))
		return true;
	if (f <= ftest && fabs(g) <= LS_GTOL * (-ls->ginit))
		return true;

	if (ls->stage == 1 && f <= ls->fx && f > ftest)
	{
		/* work on the modified function psi(t) = f(t) - f(0) - gtest t */
		double		fm = f - *stp * ls->gtest;
		double		fxm = ls->fx - ls->stx * ls->gtest;
		double		fym = ls->fy - ls->sty * ls->gtest;
		double		gm = g - ls->gtest;
		double		gxm = ls->gx - ls->gtest;
		double		gym = ls->gy - ls->gtest;

		LineSearchStep(&ls->stx, &fxm, &gxm, &ls->sty, &fym, &gym, stp, fm, gm,
					   &ls->brackt, ls->stmin, ls->stmax);
		ls->fx = fxm + ls->stx * ls->gtest;
		ls->fy = fym + ls->sty * ls->gtest;
		ls->gx = gxm + ls->gtest;
		ls->gy = gym + ls->gtest;
	}
	else
		LineSearchStep(&ls->stx, &ls->fx, &ls->gx, &ls->sty, &ls->fy, &ls->gy,
					   stp, f, g, &ls->brackt, ls->stmin, ls->stmax);

	/* force a sufficient decrease of the interval */
	if (ls->brackt)
	{
		if (fabs(ls->sty - ls->stx) >= 0.66 * ls->width1)
			*stp = ls->stx + 0.5 * (ls->sty - ls->stx);
		ls->width1 = ls->width;
		ls->width = fabs(ls->sty - ls->stx);
		ls->stmin = fmin(ls->stx, ls->sty);
		ls->stmax = fmax(ls->stx, ls->sty);
	}
	else
	{
		ls->stmin = *stp + LS_XTRAPL * (*stp - ls->stx);
		ls->stmax = *stp + LS_XTRAPU * (*stp - ls->stx);
	}

	*stp = fmax(*stp, 0.0);
	*stp = fmin(*stp, LS_STPMAX);

	/* without further progress possible, try the best step so far */
	if ((ls->brackt && (*stp <= ls->stmin || *stp >= ls->stmax)) ||
		(ls->brackt && ls->stmax - ls->stmin <= LS_XTOL * ls->stmax))
		*stp = ls->stx;
	return false;
}

/* dot product of two n-vectors */
static double
Dot(const double *a, const double *b, int n)
{
	double		s = 0.0;

	for (int i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

/* max-norm of an n-vector (NaN propagates as "not small") */
static double
MaxNorm(const double *a, int n)
{
	double		m = 0.0;

	for (int i = 0; i < n; i++)
	{
		double		v = fabs(a[i]);

		if (!(v <= m))
			m = v;
	}
	return m;
}

/*
 * d = -H g by the two-loop recursion over the ncorr newest pairs (newest
 * at ring index newest); H0 = gamma I.
 */
static void
Direction(double *d, const double *g, int n, const double *s, const double *y,
		  const double *rho, double *alpha, int ncorr, int newest,
		  double gamma)
{
	for (int j = 0; j < n; j++)
		d[j] = -g[j];
	for (int k = 0; k < ncorr; k++)
	{
		int			i = (newest - k + LBFGS_M) % LBFGS_M;
		const double *si = s + (size_t) i * n;
		const double *yi = y + (size_t) i * n;
		double		a = rho[i] * Dot(si, d, n);

		alpha[i] = a;
		for (int j = 0; j < n; j++)
			d[j] -= a * yi[j];
	}
	for (int j = 0; j < n; j++)
		d[j] *= gamma;
	for (int k = ncorr - 1; k >= 0; k--)
	{
		int			i = (newest - k + LBFGS_M) % LBFGS_M;
		const double *si = s + (size_t) i * n;
		const double *yi = y + (size_t) i * n;
		double		b = rho[i] * Dot(yi, d, n);

		for (int j = 0; j < n; j++)
			d[j] += (alpha[i] - b) * si[j];
	}
}

/* minimize fg from x (see ml.h); the memory is malloc'ed per call */
int
MlLbfgsMinimize(MlObjective fg, void *arg, double *x, int n, int max_iter,
				double tol, int *iters, LlmError *err)
{
	double	   *buf;
	double	   *g,
			   *d,
			   *xold,
			   *gold,
			   *s,
			   *y,
			   *rho,
			   *alpha;
	double		f,
				fold = 0.0,
				gamma = 1.0;
	int			ncorr = 0;
	int			newest = LBFGS_M - 1;
	int			iter = 0;
	int			rc = LLM_OK;
	const double ftol = LBFGS_FACTR * DBL_EPSILON;

	if (iters)
		*iters = 0;
	if (fg == NULL || x == NULL || n <= 0)
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "L-BFGS needs an objective and at least one variable");
	if (max_iter < 0 || !(tol >= 0.0))
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "L-BFGS needs max_iter >= 0 and tol >= 0");
	if ((size_t) n > (SIZE_MAX / sizeof(double) - 2 * LBFGS_M) / (4 + 2 * LBFGS_M))
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "L-BFGS problem of %d variables is too large", n);

	buf = LlmAlloc(sizeof(double) * ((size_t) n * (4 + 2 * LBFGS_M) +
									 2 * LBFGS_M), err);
	if (buf == NULL)
		return LLM_ERR_NOMEM;
	g = buf;
	d = g + n;
	xold = d + n;
	gold = xold + n;
	s = gold + n;
	y = s + (size_t) LBFGS_M * n;
	rho = y + (size_t) LBFGS_M * n;
	alpha = rho + LBFGS_M;

	f = fg(x, g, arg);
	if (!isfinite(f))
	{
		rc = LlmSetError(err, LLM_ERR_ARGUMENT,
						 "objective is not finite at the starting point");
		goto done;
	}

	while (iter < max_iter && MaxNorm(g, n) > tol)
	{
		LineSearch ls;
		double		gd,
					stp,
					fnew = f,
					ys,
					yy;
		int			nfev = 0;
		bool		ok = false;

		if (LlmInterrupted())
		{
			rc = LlmSetError(err, LLM_ERR_CANCELLED, "L-BFGS was cancelled");
			goto done;
		}

		Direction(d, g, n, s, y, rho, alpha, ncorr, newest, gamma);
		gd = Dot(g, d, n);
		if (gd < 0.0)
		{
			/* first iteration or after a restart: scale to unit length */
			stp = (ncorr == 0) ? fmin(1.0 / sqrt(Dot(d, d, n)), LS_STPMAX) : 1.0;
			memcpy(xold, x, sizeof(double) * n);
			memcpy(gold, g, sizeof(double) * n);
			fold = f;
			LineSearchStart(&ls, f, gd, stp);
			while (nfev < LBFGS_MAXLS)
			{
				double		gstp;

				for (int j = 0; j < n; j++)
					x[j] = xold[j] + stp * d[j];
				fnew = fg(x, g, arg);
				nfev++;
				if (!isfinite(fnew))
				{
					/* overflow: retreat towards the best step so far */
					stp = ls.stx + 0.5 * (stp - ls.stx);
					continue;
				}
				gstp = Dot(g, d, n);
				if (LineSearchNext(&ls, &stp, fnew, gstp))
				{
					ok = true;
					break;
				}
			}
		}

		if (!ok)
		{
			/* back to the last iterate; restart once from steepest descent */
			if (gd < 0.0)
			{
				memcpy(x, xold, sizeof(double) * n);
				memcpy(g, gold, sizeof(double) * n);
				f = fold;
			}
			if (ncorr == 0)
				break;
			ncorr = 0;
			gamma = 1.0;
			continue;
		}

		iter++;
		f = fnew;
		if (MaxNorm(g, n) <= tol)
			break;
		if (fold - f <= ftol * Max3(fabs(fold), fabs(f), 1.0))
			break;

		/* new correction pair s = x - xold, y = g - gold */
		{
			int			next = (newest + 1) % LBFGS_M;
			double	   *sn = s + (size_t) next * n;
			double	   *yn = y + (size_t) next * n;

			for (int j = 0; j < n; j++)
			{
				sn[j] = stp * d[j];
				yn[j] = g[j] - gold[j];
			}
			ys = Dot(yn, sn, n);
			yy = Dot(yn, yn, n);
			if (ys > DBL_EPSILON * (-gd * stp) && yy > 0.0)
			{
				newest = next;
				rho[next] = 1.0 / ys;
				gamma = ys / yy;
				if (ncorr < LBFGS_M)
					ncorr++;
			}
		}
	}

done:
	if (iters)
		*iters = iter;
	free(buf);
	return rc;
}
