/*-------------------------------------------------------------------------
 *
 * kmeans.c
 *	  k-means clustering: greedy k-means++ seeding and Lloyd iterations,
 *	  the best of n_init runs, as scikit-learn's KMeans does.
 *
 * Run r seeds PCG32 with params->seed + r.  Its first center is a uniformly
 * drawn row; each next one is the best of 2 + floor(ln k) rows drawn with
 * probability proportional to the squared distance to the nearest center
 * so far, "best" being the candidate that leaves the smallest total
 * squared distance.  Lloyd iterations then alternate assigning rows to
 * their nearest center and moving each center to its rows' mean, until no
 * label changes or the centers' total squared move is at most tol times
 * the mean variance of the features (scikit-learn's scaling of tol), or
 * max_iter iterations.  A cluster left empty takes the row farthest from
 * its center.  The run with the lowest inertia wins (the first on ties).
 *
 * Distances are computed a block of rows at a time as |x|^2 - 2 x.c +
 * |c|^2 with one dgemm per block, on rows centered by the feature means
 * (as scikit-learn centers its copy) to limit cancellation; the block is
 * centered on the fly, so the data is never copied whole.  k-means++ keeps
 * every row's distances to the current step's candidates (rows x trials
 * doubles) so that the chosen one's need no second pass.  The reported
 * inertia sums exact squared differences.
 *
 *-------------------------------------------------------------------------
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ml/ml.h"

/* bytes of centered rows per block */
#define BLOCK_BYTES (256 * 1024)
/* most k-means++ candidates per center: 2 + ln(k) for k < 2^31 */
#define MAX_TRIALS	24

/* data and scratch space shared by the runs */
typedef struct KMeansWork
{
	const double *x;			/* (rows, d) row-major, not centered */
	int64_t		rows;
	int			d;
	int			k;
	int			block;			/* rows per block */
	double	   *mean;			/* (d) feature means */
	double	   *xb;				/* (block, d) centered rows */
	double	   *xn;				/* (block) their squared norms */
	double	   *dist;			/* (block, max(k, MAX_TRIALS)) */
	double	   *cand;			/* (MAX_TRIALS, d) centered candidates */
	double	   *cn;				/* (max(k, MAX_TRIALS)) squared norms */
	double	   *centers;		/* (k, d) centered */
	double	   *sums;			/* (k, d) per-cluster sums, then new centers */
	double	   *counts;			/* (k) */
	double	   *mind;			/* (rows) squared distance to own center */
	double	   *cumsum;			/* (rows) k-means++ running potential */
	double	   *trial;			/* (rows, trials) distances to candidates */
	int			trials;			/* k-means++ candidates per center */
	int		   *labels;			/* (rows) */
} KMeansWork;

/* squared norms of the m rows of c (m x d) into out */
static void
RowNorms(const double *c, int m, int d, double *out)
{
	for (int j = 0; j < m; j++)
	{
		double		s = 0.0;

		for (int l = 0; l < d; l++)
			s += c[(size_t) j * d + l] * c[(size_t) j * d + l];
		out[j] = s;
	}
}

/*
 * Squared distances of rows r0 .. r0 + nb - 1 to the m centered points c
 * (norms cn) into dist (nb x m).  Leaves the centered rows in w->xb.
 */
static void
BlockDistances(KMeansWork *w, int64_t r0, int nb, const double *c,
			   const double *cn, int m, double *dist)
{
	int			d = w->d;
	const double *src = w->x + r0 * d;

	for (int i = 0; i < nb; i++)
	{
		double		s = 0.0;

		for (int l = 0; l < d; l++)
		{
			double		v = src[(size_t) i * d + l] - w->mean[l];

			w->xb[(size_t) i * d + l] = v;
			s += v * v;
		}
		w->xn[i] = s;
	}
	cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, m, d, -2.0,
				w->xb, d, c, d, 0.0, dist, m);
	for (int i = 0; i < nb; i++)
		for (int j = 0; j < m; j++)
		{
			double		v = dist[(size_t) i * m + j] + w->xn[i] + cn[j];

			dist[(size_t) i * m + j] = v > 0.0 ? v : 0.0;
		}
}

/* rows in the block starting at r0 */
static inline int
BlockRows(const KMeansWork *w, int64_t r0)
{
	return (int) (w->rows - r0 < w->block ? w->rows - r0 : w->block);
}

/* copy row r of x, centered, into out (d) */
static void
CenteredRow(const KMeansWork *w, int64_t r, double *out)
{
	for (int l = 0; l < w->d; l++)
		out[l] = w->x[r * w->d + l] - w->mean[l];
}

/* a uniform row index in [0, rows) */
static int64_t
RandomRow(uint64_t *rng, int64_t rows)
{
	int64_t		r;

	if (rows <= (int64_t) UINT32_MAX)
		return (int64_t) PcgBounded(rng, (uint32_t) rows);
	r = (int64_t) (PcgUniform(rng) * (double) rows);
	return r < rows ? r : rows - 1;
}

/* greedy k-means++: fill w->centers (centered) */
static int
SeedCenters(KMeansWork *w, uint64_t *rng, LlmError *err)
{
	int			d = w->d;
	int			trials = w->trials;
	double	   *closest = w->mind;
	double		pot = 0.0;
	int64_t		first = RandomRow(rng, w->rows);

	CenteredRow(w, first, w->centers);
	RowNorms(w->centers, 1, d, w->cn);
	for (int64_t r0 = 0; r0 < w->rows; r0 += w->block)
	{
		int			nb = BlockRows(w, r0);

		BlockDistances(w, r0, nb, w->centers, w->cn, 1, closest + r0);
	}

	for (int c = 1; c < w->k; c++)
	{
		double		pots[MAX_TRIALS];
		double		acc = 0.0;
		int			best = 0;

		if (LlmInterrupted())
			return LlmSetError(err, LLM_ERR_CANCELLED, "k-means was cancelled");

		/* running potential, then candidates drawn in proportion to it */
		for (int64_t i = 0; i < w->rows; i++)
		{
			acc += closest[i];
			w->cumsum[i] = acc;
		}
		pot = acc;
		for (int t = 0; t < trials; t++)
		{
			double		target = PcgUniform(rng) * pot;
			int64_t		lo = 0,
						hi = w->rows - 1;

			/* first i with cumsum[i] >= target */
			while (lo < hi)
			{
				int64_t		mid = lo + (hi - lo) / 2;

				if (w->cumsum[mid] >= target)
					hi = mid;
				else
					lo = mid + 1;
			}
			CenteredRow(w, lo, w->cand + (size_t) t * d);
			pots[t] = 0.0;
		}
		RowNorms(w->cand, trials, d, w->cn);

		/* potential each candidate would leave */
		for (int64_t r0 = 0; r0 < w->rows; r0 += w->block)
		{
			int			nb = BlockRows(w, r0);
			double	   *td = w->trial + r0 * trials;

			BlockDistances(w, r0, nb, w->cand, w->cn, trials, td);
			for (int i = 0; i < nb; i++)
				for (int t = 0; t < trials; t++)
				{
					double		v = td[(size_t) i * trials + t];
					double		old = closest[r0 + i];

					pots[t] += v < old ? v : old;
				}
		}
		for (int t = 1; t < trials; t++)
			if (pots[t] < pots[best])
				best = t;

		memcpy(w->centers + (size_t) c * d, w->cand + (size_t) best * d,
			   sizeof(double) * d);
		for (int64_t i = 0; i < w->rows; i++)
		{
			double		v = w->trial[i * trials + best];

			if (v < closest[i])
				closest[i] = v;
		}
	}
	return LLM_OK;
}

/*
 * Assign every row to its nearest center (first on ties), recording its
 * squared distance in mind; with sums, accumulate the clusters' sums and
 * counts.  Returns the number of labels that changed.
 */
static int64_t
Assign(KMeansWork *w, bool sums)
{
	int			d = w->d;
	int			k = w->k;
	int64_t		changed = 0;

	RowNorms(w->centers, k, d, w->cn);
	if (sums)
	{
		memset(w->sums, 0, sizeof(double) * (size_t) k * d);
		memset(w->counts, 0, sizeof(double) * k);
	}
	for (int64_t r0 = 0; r0 < w->rows; r0 += w->block)
	{
		int			nb = BlockRows(w, r0);

		BlockDistances(w, r0, nb, w->centers, w->cn, k, w->dist);
		for (int i = 0; i < nb; i++)
		{
			const double *di = w->dist + (size_t) i * k;
			int			best = 0;

			for (int j = 1; j < k; j++)
				if (di[j] < di[best])
					best = j;
			if (w->labels[r0 + i] != best)
				changed++;
			w->labels[r0 + i] = best;
			w->mind[r0 + i] = di[best];
			if (sums)
			{
				double	   *s = w->sums + (size_t) best * d;
				const double *xi = w->xb + (size_t) i * d;

				for (int l = 0; l < d; l++)
					s[l] += xi[l];
				w->counts[best] += 1.0;
			}
		}
	}
	return changed;
}

/*
 * Give each empty cluster the row farthest from its center (largest
 * first), taking it out of its old cluster's sum.
 */
static void
RelocateEmpty(KMeansWork *w)
{
	int			d = w->d;

	for (int j = 0; j < w->k; j++)
	{
		int64_t		far = -1;
		int			old;

		if (w->counts[j] > 0.0)
			continue;
		for (int64_t i = 0; i < w->rows; i++)
			if (w->mind[i] >= 0.0 && (far < 0 || w->mind[i] > w->mind[far]))
				far = i;
		if (far < 0)
			return;
		old = w->labels[far];
		for (int l = 0; l < d; l++)
		{
			double		v = w->x[far * d + l] - w->mean[l];

			w->sums[(size_t) old * d + l] -= v;
			w->sums[(size_t) j * d + l] = v;
		}
		w->counts[old] -= 1.0;
		w->counts[j] = 1.0;
		w->mind[far] = -1.0;	/* taken */
	}
}

/*
 * Lloyd iterations from the seeded centers; returns iterations run, or -1
 * when cancelled.
 */
static int
Lloyd(KMeansWork *w, int max_iter, double tol)
{
	int			d = w->d;
	int			k = w->k;
	int			iter;

	for (int64_t i = 0; i < w->rows; i++)
		w->labels[i] = -1;
	for (iter = 0; iter < max_iter; iter++)
	{
		int64_t		changed;
		double		shift = 0.0;

		if (LlmInterrupted())
			return -1;
		changed = Assign(w, true);
		RelocateEmpty(w);
		for (int j = 0; j < k; j++)
		{
			double	   *s = w->sums + (size_t) j * d;
			double	   *c = w->centers + (size_t) j * d;

			/* a cluster emptied by a relocation keeps its center */
			if (w->counts[j] > 0.0)
				for (int l = 0; l < d; l++)
					s[l] /= w->counts[j];
			else
				memcpy(s, c, sizeof(double) * d);
			for (int l = 0; l < d; l++)
				shift += (s[l] - c[l]) * (s[l] - c[l]);
		}
		memcpy(w->centers, w->sums, sizeof(double) * (size_t) k * d);
		if (changed == 0)
		{
			iter++;
			break;
		}
		if (shift <= tol)
		{
			iter++;
			break;
		}
	}
	return iter;
}

/* sum of exact squared distances of the rows to their labels' centers */
static double
Inertia(const KMeansWork *w)
{
	int			d = w->d;
	double		total = 0.0;

	for (int64_t i = 0; i < w->rows; i++)
	{
		const double *c = w->centers + (size_t) w->labels[i] * d;
		const double *xi = w->x + i * d;

		for (int l = 0; l < d; l++)
		{
			double		v = xi[l] - w->mean[l] - c[l];

			total += v * v;
		}
	}
	return total;
}

/* fit k-means on x (see ml.h); model is overwritten */
int
MlKMeansFit(const MlParams *params, const MlMatrix *x, MlModel *model,
			LlmError *err)
{
	KMeansWork w;
	int			k,
				d,
				wide,
				rc = LLM_OK,
				best_iter = 0;
	double		tol,
				best_inertia = INFINITY;
	double	   *best = NULL;

	if (model == NULL || params == NULL || x == NULL)
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "k-means needs parameters, data and a model");
	memset(model, 0, sizeof(*model));
	memset(&w, 0, sizeof(w));
	if (x->rows < 1 || x->cols < 1 || x->x == NULL)
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "k-means needs at least one row and one feature");
	if (params->n_clusters < 1)
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "n_clusters must be at least 1, not %d",
						   params->n_clusters);
	if (params->n_clusters > x->rows)
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "n_clusters (%d) is larger than the number of rows (%lld)",
						   params->n_clusters, (long long) x->rows);
	if (params->n_init < 1 || params->max_iter < 1)
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "n_init and max_iter must be at least 1");
	if (!(params->tol >= 0.0) || !isfinite(params->tol))
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "tol must be a non-negative number");
	if (x->rows > INT64_MAX / x->cols ||
		x->rows > (int64_t) (SIZE_MAX / sizeof(double) / MAX_TRIALS))
		return LlmSetError(err, LLM_ERR_ARGUMENT, "k-means data is too large");

	k = params->n_clusters;
	d = x->cols;
	if ((size_t) k * d > (size_t) INT32_MAX / 8)
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "k-means with %d clusters of %d features is too large", k, d);
	wide = k > MAX_TRIALS ? k : MAX_TRIALS;
	w.x = x->x;
	w.rows = x->rows;
	w.d = d;
	w.k = k;
	w.trials = 2 + (int) log((double) k);
	if (w.trials > MAX_TRIALS)
		w.trials = MAX_TRIALS;
	w.block = BLOCK_BYTES / (int) (sizeof(double) * (d > wide ? d : wide));
	if (w.block < 16)
		w.block = 16;
	if (w.block > x->rows)
		w.block = (int) x->rows;

	w.mean = LlmAllocZero(sizeof(double) * d, err);
	w.xb = LlmAlloc(sizeof(double) * (size_t) w.block * d, err);
	w.xn = LlmAlloc(sizeof(double) * w.block, err);
	w.dist = LlmAlloc(sizeof(double) * (size_t) w.block * wide, err);
	w.cand = LlmAlloc(sizeof(double) * (size_t) MAX_TRIALS * d, err);
	w.cn = LlmAlloc(sizeof(double) * wide, err);
	w.centers = LlmAlloc(sizeof(double) * (size_t) k * d, err);
	w.sums = LlmAlloc(sizeof(double) * (size_t) k * d, err);
	w.counts = LlmAlloc(sizeof(double) * k, err);
	w.mind = LlmAlloc(sizeof(double) * (size_t) x->rows, err);
	w.cumsum = LlmAlloc(sizeof(double) * (size_t) x->rows, err);
	w.labels = LlmAlloc(sizeof(int) * (size_t) x->rows, err);
	w.trial = k > 1 ? LlmAlloc(sizeof(double) * (size_t) x->rows * w.trials, err) : NULL;
	best = LlmAlloc(sizeof(double) * (size_t) k * d, err);
	if (!w.mean || !w.xb || !w.xn || !w.dist || !w.cand || !w.cn ||
		!w.centers || !w.sums || !w.counts || !w.mind || !w.cumsum ||
		!w.labels || !best || (k > 1 && !w.trial))
	{
		rc = LLM_ERR_NOMEM;
		goto done;
	}

	/* feature means, then tol scaled by the mean (population) variance */
	for (int64_t i = 0; i < x->rows; i++)
		for (int l = 0; l < d; l++)
		{
			double		v = x->x[i * d + l];

			if (!isfinite(v))
			{
				rc = LlmSetError(err, LLM_ERR_ARGUMENT,
								 "k-means data has a non-finite value in row %lld",
								 (long long) i);
				goto done;
			}
			w.mean[l] += v;
		}
	for (int l = 0; l < d; l++)
		w.mean[l] /= (double) x->rows;
	tol = 0.0;
	for (int64_t i = 0; i < x->rows; i++)
		for (int l = 0; l < d; l++)
		{
			double		v = x->x[i * d + l] - w.mean[l];

			tol += v * v;
		}
	tol = params->tol * tol / ((double) x->rows * d);

	for (int run = 0; run < params->n_init; run++)
	{
		uint64_t	rng;
		int			iters;
		double		inertia;

		PcgSeed(&rng, params->seed + (uint64_t) run);
		rc = SeedCenters(&w, &rng, err);
		if (rc != LLM_OK)
			goto done;
		iters = Lloyd(&w, params->max_iter, tol);
		if (iters < 0)
		{
			rc = LlmSetError(err, LLM_ERR_CANCELLED, "k-means was cancelled");
			goto done;
		}
		/* labels that match the final centers, then the exact inertia */
		(void) Assign(&w, false);
		inertia = Inertia(&w);
		if (run == 0 || inertia < best_inertia)
		{
			best_inertia = inertia;
			best_iter = iters;
			memcpy(best, w.centers, sizeof(double) * (size_t) k * d);
		}
	}

	for (int j = 0; j < k; j++)
		for (int l = 0; l < d; l++)
			best[(size_t) j * d + l] += w.mean[l];
	model->algorithm = ML_ALG_KMEANS;
	model->task = ML_TASK_CLUSTERING;
	model->n_features = d;
	model->n_classes = k;
	model->n_outputs = k;
	model->centers = best;
	model->n_iter = best_iter;
	best = NULL;

done:
	free(best);
	free(w.mean);
	free(w.xb);
	free(w.xn);
	free(w.dist);
	free(w.cand);
	free(w.cn);
	free(w.centers);
	free(w.sums);
	free(w.counts);
	free(w.mind);
	free(w.cumsum);
	free(w.labels);
	free(w.trial);
	return rc;
}
