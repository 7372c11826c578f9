/*-------------------------------------------------------------------------
 *
 * vecgen.c
 *	  Deterministic clustered vector data and exact ground truth for the
 *	  vector benchmark and the demo.
 *
 * Draws points from a mixture of Gaussian clusters (cluster centres,
 * weights and spreads are random too, all from one seed); each cluster is
 * stretched along its own random rank-r subspace, so the data has the low
 * intrinsic dimension of real embeddings rather than being isotropic noise.
 * Writes, into an output folder:
 *
 *	 base.copy	  N rows "id, embedding" for COPY ... FROM (binary or text)
 *	 queries.tsv  Q held-out query rows "id<TAB>[...]" (same mixture, own stream)
 *	 truth.tsv	  "qid<TAB>{id1,...,idK}": exact top-K base ids by L2, nearest first
 *	 extra.tsv	  E more rows "id<TAB>[...]" for the insert benchmark
 *
 * Usage: vecgen -n N -d DIM [-q Q] [-k K] [-e E] [-c CLUSTERS] [-r RANK] [-s SEED]
 *				 [-t THREADS] [-f binary|text] -o DIR
 *
 * Ids are 1-based.  Elements are float4 written with 9 significant digits,
 * so the text form round-trips exactly.  Ground truth is brute force over
 * all base rows, split across threads by query.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct Rng
{
	uint64_t	s[4];
	int			have_spare;
	double		spare;
} Rng;

typedef struct Mixture
{
	int			nclusters;
	int			dim;
	int			rank;			/* latent dimensions per cluster */
	float	   *centres;		/* nclusters x dim */
	float	   *basis;			/* nclusters x dim x rank, N(0, 1/rank) */
	double	   *cumweight;		/* nclusters, cumulative, last = 1 */
	double	   *sigma;			/* nclusters */
} Mixture;

typedef struct TruthJob
{
	const float *base;
	const float *queries;
	long		n;
	int			dim;
	int			k;
	int			q_from;
	int			q_to;
	long	   *result;			/* nq x k ids */
} TruthJob;

/* Seed a xoshiro256** state from one integer with splitmix64. */
static void
RngSeed(Rng *rng, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
	{
		uint64_t	z = (seed += 0x9e3779b97f4a7c15ULL);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		rng->s[i] = z ^ (z >> 31);
	}
	rng->have_spare = 0;
}

/* Next 64 random bits (xoshiro256**). */
static uint64_t
RngNext(Rng *rng)
{
	uint64_t   *s = rng->s;
	uint64_t	x = s[1] * 5;
	uint64_t	result = ((x << 7) | (x >> 57)) * 9;
	uint64_t	t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = (s[3] << 45) | (s[3] >> 19);
	return result;
}

/* Uniform double in [0, 1). */
static double
RngUniform(Rng *rng)
{
	return (RngNext(rng) >> 11) * (1.0 / 9007199254740992.0);
}

/* Standard normal deviate (polar Box-Muller). */
static double
RngNormal(Rng *rng)
{
	double		u,
				v,
				r;

	if (rng->have_spare)
	{
		rng->have_spare = 0;
		return rng->spare;
	}
	do
	{
		u = 2.0 * RngUniform(rng) - 1.0;
		v = 2.0 * RngUniform(rng) - 1.0;
		r = u * u + v * v;
	} while (r >= 1.0 || r == 0.0);
	r = sqrt(-2.0 * log(r) / r);
	rng->spare = v * r;
	rng->have_spare = 1;
	return u * r;
}

/*
 * Build the mixture: centres N(0,1), weights U(0.5,1.5), spreads U(0.35,0.75),
 * and for each cluster a random rank-r basis, so that points lie near an
 * r-dimensional subspace as real embeddings do (low intrinsic dimension).
 */
static void
MixtureInit(Mixture *mix, int nclusters, int dim, int rank, uint64_t seed)
{
	Rng			rng;
	double		total = 0;

	RngSeed(&rng, seed);
	mix->nclusters = nclusters;
	mix->dim = dim;
	mix->rank = rank;
	mix->centres = malloc(sizeof(float) * (size_t) nclusters * dim);
	mix->basis = malloc(sizeof(float) * (size_t) nclusters * dim * rank);
	mix->cumweight = malloc(sizeof(double) * nclusters);
	mix->sigma = malloc(sizeof(double) * nclusters);
	if (!mix->centres || !mix->basis || !mix->cumweight || !mix->sigma)
	{
		fprintf(stderr, "vecgen: out of memory\n");
		exit(1);
	}
	for (int c = 0; c < nclusters; c++)
	{
		for (int j = 0; j < dim; j++)
			mix->centres[(size_t) c * dim + j] = (float) RngNormal(&rng);
		for (size_t j = 0; j < (size_t) dim * rank; j++)
			mix->basis[(size_t) c * dim * rank + j] = (float) (RngNormal(&rng) / sqrt(rank));
		total += 0.5 + RngUniform(&rng);
		mix->cumweight[c] = total;
		mix->sigma[c] = 0.35 + 0.4 * RngUniform(&rng);
	}
	for (int c = 0; c < nclusters; c++)
		mix->cumweight[c] /= total;
	mix->cumweight[nclusters - 1] = 1.0;
}

/*
 * Draw one point of the mixture into out[dim]: centre + sigma * (B z + 0.2 e)
 * with z ~ N(0, I_rank) and isotropic noise e ~ N(0, I_dim).
 */
static void
MixtureDraw(const Mixture *mix, Rng *rng, float *out)
{
	double		z[256];
	const float *basis;
	double		u = RngUniform(rng);
	int			lo = 0,
				hi = mix->nclusters - 1;
	const float *centre;

	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (mix->cumweight[mid] > u)
			hi = mid;
		else
			lo = mid + 1;
	}
	centre = mix->centres + (size_t) lo * mix->dim;
	basis = mix->basis + (size_t) lo * mix->dim * mix->rank;
	for (int r = 0; r < mix->rank; r++)
		z[r] = RngNormal(rng);
	for (int j = 0; j < mix->dim; j++)
	{
		double		x = 0.2 * RngNormal(rng);

		for (int r = 0; r < mix->rank; r++)
			x += basis[(size_t) j * mix->rank + r] * z[r];
		out[j] = (float) (centre[j] + mix->sigma[lo] * x);
	}
}

/* Open DIR/NAME for writing or die. */
static FILE *
OpenOut(const char *dir, const char *name)
{
	char		path[4096];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (f == NULL)
	{
		fprintf(stderr, "vecgen: cannot open %s: %s\n", path, strerror(errno));
		exit(1);
	}
	setvbuf(f, NULL, _IOFBF, 1 << 20);
	return f;
}

/* Write one "id<TAB>[x,...]" line. */
static void
WriteTextRow(FILE *f, long id, const float *v, int dim)
{
	fprintf(f, "%ld\t[", id);
	for (int j = 0; j < dim; j++)
		fprintf(f, j ? ",%.9g" : "%.9g", v[j]);
	fputs("]\n", f);
}

/* Write big-endian integers of 2, 4 or 8 bytes. */
static void
WriteBE(FILE *f, uint64_t x, int bytes)
{
	unsigned char b[8];

	for (int i = 0; i < bytes; i++)
		b[i] = (unsigned char) (x >> (8 * (bytes - 1 - i)));
	fwrite(b, 1, bytes, f);
}

/* Write one binary COPY tuple (bigint id, vector) in pgvector's wire layout. */
static void
WriteBinaryRow(FILE *f, long id, const float *v, int dim)
{
	WriteBE(f, 2, 2);			/* field count */
	WriteBE(f, 8, 4);
	WriteBE(f, (uint64_t) id, 8);
	WriteBE(f, 4 + 4 * (uint64_t) dim, 4);
	WriteBE(f, (uint64_t) dim, 2);
	WriteBE(f, 0, 2);
	for (int j = 0; j < dim; j++)
	{
		uint32_t	bits;

		memcpy(&bits, &v[j], 4);
		WriteBE(f, bits, 4);
	}
}

/* Squared L2 distance with 8 independent partial sums (vectorizes). */
static float
L2Squared(const float *a, const float *b, int dim)
{
	float		s[8] = {0};
	float		total = 0;
	int			j = 0;

	for (; j + 8 <= dim; j += 8)
		for (int l = 0; l < 8; l++)
		{
			float		d = a[j + l] - b[j + l];

			s[l] += d * d;
		}
	for (; j < dim; j++)
	{
		float		d = a[j] - b[j];

		total += d * d;
	}
	for (int l = 0; l < 8; l++)
		total += s[l];
	return total;
}

/* Exact top-k for the queries [q_from, q_to) of one job. */
static void *
TruthWorker(void *arg)
{
	TruthJob   *job = arg;
	float	   *bestd = malloc(sizeof(float) * job->k);
	long	   *besti = malloc(sizeof(long) * job->k);

	for (int q = job->q_from; q < job->q_to; q++)
	{
		const float *qv = job->queries + (size_t) q * job->dim;
		int			have = 0;

		for (long i = 0; i < job->n; i++)
		{
			float		d = L2Squared(qv, job->base + (size_t) i * job->dim, job->dim);
			int			p;

			if (have == job->k && d >= bestd[have - 1])
				continue;
			p = have < job->k ? have++ : have - 1;
			while (p > 0 && bestd[p - 1] > d)
			{
				bestd[p] = bestd[p - 1];
				besti[p] = besti[p - 1];
				p--;
			}
			bestd[p] = d;
			besti[p] = i + 1;
		}
		for (int r = 0; r < job->k; r++)
			job->result[(size_t) q * job->k + r] = r < have ? besti[r] : 0;
	}
	free(bestd);
	free(besti);
	return NULL;
}

/* Print usage and exit. */
static void
Usage(void)
{
	fprintf(stderr,
			"usage: vecgen -n N -d DIM [-q QUERIES=1000] [-k K=10] [-e EXTRA=0]\n"
			"              [-c CLUSTERS] [-r RANK=16] [-s SEED=42] [-t THREADS] [-f binary|text] -o DIR\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	long		n = 0;
	int			dim = 0,
				nq = 1000,
				k = 10,
				nclusters = 0,
				nthreads = 0,
				rank = 16,
				binary = 1;
	long		nextra = 0;
	uint64_t	seed = 42;
	const char *dir = NULL;
	int			opt;
	Mixture		mix;
	Rng			rng;
	float	   *base,
			   *queries;
	long	   *truth;
	FILE	   *f;

	while ((opt = getopt(argc, argv, "n:d:q:k:e:c:r:s:t:f:o:")) != -1)
	{
		switch (opt)
		{
			case 'n':
				n = atol(optarg);
				break;
			case 'd':
				dim = atoi(optarg);
				break;
			case 'q':
				nq = atoi(optarg);
				break;
			case 'k':
				k = atoi(optarg);
				break;
			case 'e':
				nextra = atol(optarg);
				break;
			case 'c':
				nclusters = atoi(optarg);
				break;
			case 'r':
				rank = atoi(optarg);
				break;
			case 's':
				seed = strtoull(optarg, NULL, 10);
				break;
			case 't':
				nthreads = atoi(optarg);
				break;
			case 'f':
				binary = strcmp(optarg, "text") != 0;
				break;
			case 'o':
				dir = optarg;
				break;
			default:
				Usage();
		}
	}
	if (n < 1 || dim < 1 || dim > 16000 || nq < 0 || k < 1 || nextra < 0 ||
		rank < 1 || rank > 256 || dir == NULL)
		Usage();
	if (nclusters <= 0)
	{
		/* about one cluster per thousand points, between 16 and 1024 */
		nclusters = (int) (n / 1000);
		nclusters = nclusters < 16 ? 16 : nclusters > 1024 ? 1024 : nclusters;
	}
	if (nthreads <= 0)
		nthreads = (int) sysconf(_SC_NPROCESSORS_ONLN);
	if (nthreads < 1)
		nthreads = 1;
	if (nq > 0 && nthreads > nq)
		nthreads = nq;

	MixtureInit(&mix, nclusters, dim, rank < dim ? rank : dim, seed);
	base = malloc(sizeof(float) * (size_t) n * dim);
	queries = malloc(sizeof(float) * ((size_t) nq + 1) * dim);
	truth = malloc(sizeof(long) * ((size_t) nq + 1) * k);
	if (!base || !queries || !truth)
	{
		fprintf(stderr, "vecgen: out of memory\n");
		return 1;
	}

	/* base rows: stream seed+1 */
	RngSeed(&rng, seed + 1);
	f = OpenOut(dir, "base.copy");
	if (binary)
	{
		fwrite("PGCOPY\n\377\r\n\0", 1, 11, f);
		WriteBE(f, 0, 4);		/* flags */
		WriteBE(f, 0, 4);		/* header extension length */
	}
	for (long i = 0; i < n; i++)
	{
		float	   *v = base + (size_t) i * dim;

		MixtureDraw(&mix, &rng, v);
		if (binary)
			WriteBinaryRow(f, i + 1, v, dim);
		else
			WriteTextRow(f, i + 1, v, dim);
	}
	if (binary)
		WriteBE(f, 0xffff, 2);	/* trailer: -1 */
	if (fclose(f) != 0)
	{
		perror("vecgen: base.copy");
		return 1;
	}

	/* held-out queries: stream seed+2 */
	RngSeed(&rng, seed + 2);
	f = OpenOut(dir, "queries.tsv");
	for (int q = 0; q < nq; q++)
	{
		MixtureDraw(&mix, &rng, queries + (size_t) q * dim);
		WriteTextRow(f, q + 1, queries + (size_t) q * dim, dim);
	}
	fclose(f);

	/* rows for the insert benchmark: stream seed+3 */
	RngSeed(&rng, seed + 3);
	f = OpenOut(dir, "extra.tsv");
	for (long i = 0; i < nextra; i++)
	{
		MixtureDraw(&mix, &rng, queries + (size_t) nq * dim);
		WriteTextRow(f, i + 1, queries + (size_t) nq * dim, dim);
	}
	fclose(f);

	/* exact ground truth */
	if (nq > 0)
	{
		pthread_t  *threads = malloc(sizeof(pthread_t) * nthreads);
		TruthJob   *jobs = malloc(sizeof(TruthJob) * nthreads);

		for (int t = 0; t < nthreads; t++)
		{
			jobs[t] = (TruthJob)
			{
				base, queries, n, dim, k,
					(int) ((long) nq * t / nthreads),
					(int) ((long) nq * (t + 1) / nthreads),
					truth
			};
			if (pthread_create(&threads[t], NULL, TruthWorker, &jobs[t]) != 0)
			{
				fprintf(stderr, "vecgen: cannot start thread\n");
				return 1;
			}
		}
		for (int t = 0; t < nthreads; t++)
			pthread_join(threads[t], NULL);
		free(threads);
		free(jobs);
	}
	f = OpenOut(dir, "truth.tsv");
	for (int q = 0; q < nq; q++)
	{
		fprintf(f, "%d\t{", q + 1);
		for (int r = 0; r < k; r++)
			fprintf(f, r ? ",%ld" : "%ld", truth[(size_t) q * k + r]);
		fputs("}\n", f);
	}
	fclose(f);

	fprintf(stderr, "vecgen: %ld base rows, %d queries, %ld extra rows, dim %d, "
			"%d clusters of rank %d, seed %llu, top-%d truth with %d threads\n",
			n, nq, nextra, dim, nclusters, mix.rank, (unsigned long long) seed, k, nthreads);
	return 0;
}
