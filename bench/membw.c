/*-------------------------------------------------------------------------
 *
 * membw.c
 *	  Memory read bandwidth of this machine: the floor that CPU decoding
 *	  is measured against (every decode step reads all weights once).
 *
 * Sums a large array (much larger than the caches) with one thread and
 * with T threads, each thread its own contiguous slice, and reports the
 * best of R passes for each as
 *	 RESULT membw threads=1 mb=... gb_s=...
 *	 RESULT membw threads=T mb=... gb_s=...
 * GB/s counts bytes read, 1e9 bytes per GB.
 *
 * Build: cc -O3 -march=native -o membw membw.c -lpthread
 * Usage: membw [--mb MB] [--threads T] [--repeat R]
 *	 defaults: 1024 MB, all online processors, 5 passes
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/*
 * eight 64-bit lanes (one cache line): the compiler keeps them in vector
 * registers; build with -O3 -march=native for the widest loads
 */
typedef uint64_t lanes __attribute__((vector_size(64)));

/* one thread's share of a pass */
typedef struct Slice
{
	const lanes *data;
	size_t		count;			/* lanes elements */
	pthread_barrier_t *start;
	pthread_barrier_t *done;
	int			passes;
	uint64_t	sink;
} Slice;

/* seconds on the monotonic clock */
static double
Now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* sum count elements with four independent accumulators */
static uint64_t
SumLanes(const lanes *p, size_t count)
{
	lanes		a = {0},
				b = {0},
				c = {0},
				d = {0};
	size_t		i = 0;
	uint64_t	s = 0;

	for (; i + 4 <= count; i += 4)
	{
		a += p[i];
		b += p[i + 1];
		c += p[i + 2];
		d += p[i + 3];
	}
	for (; i < count; i++)
		a += p[i];
	a += b + c + d;
	for (int k = 0; k < 8; k++)
		s += a[k];
	return s;
}

/* worker: wait at the start barrier, sum the slice, meet at the done barrier */
static void *
Worker(void *arg)
{
	Slice	   *sl = arg;

	for (int p = 0; p < sl->passes; p++)
	{
		pthread_barrier_wait(sl->start);
		sl->sink += SumLanes(sl->data, sl->count);
		pthread_barrier_wait(sl->done);
	}
	return NULL;
}

/* best bandwidth (GB/s) of passes with nthreads over the array */
static double
Measure(const lanes *data, size_t count, int nthreads, int passes)
{
	pthread_t  *th = calloc(nthreads, sizeof(pthread_t));
	Slice	   *sl = calloc(nthreads, sizeof(Slice));
	pthread_barrier_t start;
	pthread_barrier_t done;
	double		best = 1e30;
	uint64_t	sink = 0;

	if (th == NULL || sl == NULL)
	{
		fprintf(stderr, "membw: out of memory\n");
		exit(1);
	}
	pthread_barrier_init(&start, NULL, nthreads + 1);
	pthread_barrier_init(&done, NULL, nthreads + 1);
	for (int t = 0; t < nthreads; t++)
	{
		size_t		lo = count * t / nthreads;
		size_t		hi = count * (t + 1) / nthreads;

		sl[t].data = data + lo;
		sl[t].count = hi - lo;
		sl[t].start = &start;
		sl[t].done = &done;
		sl[t].passes = passes;
		if (pthread_create(&th[t], NULL, Worker, &sl[t]) != 0)
		{
			fprintf(stderr, "membw: cannot start a thread\n");
			exit(1);
		}
	}
	for (int p = 0; p < passes; p++)
	{
		double		t0;
		double		dt;

		pthread_barrier_wait(&start);
		t0 = Now();
		pthread_barrier_wait(&done);
		dt = Now() - t0;
		if (dt < best)
			best = dt;
	}
	for (int t = 0; t < nthreads; t++)
	{
		pthread_join(th[t], NULL);
		sink += sl[t].sink;
	}
	pthread_barrier_destroy(&start);
	pthread_barrier_destroy(&done);
	free(th);
	free(sl);
	/* keep the sums alive */
	if (sink == 42)
		fprintf(stderr, " ");
	return count * sizeof(lanes) / best / 1e9;
}

/* parse a positive integer option value or exit */
static long
ParsePositive(const char *opt, const char *val)
{
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(val, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > 1000000)
	{
		fprintf(stderr, "membw: %s: expected a positive integer, got \"%s\"\n", opt, val);
		exit(2);
	}
	return v;
}

int
main(int argc, char **argv)
{
	long		mb = 1024;
	long		nthreads = sysconf(_SC_NPROCESSORS_ONLN);
	long		passes = 5;
	size_t		count;
	lanes	   *data;

	for (int i = 1; i < argc; i++)
	{
		if (i + 1 >= argc)
		{
			fprintf(stderr, "usage: membw [--mb MB] [--threads T] [--repeat R]\n");
			return 2;
		}
		if (strcmp(argv[i], "--mb") == 0)
			mb = ParsePositive(argv[i], argv[i + 1]);
		else if (strcmp(argv[i], "--threads") == 0)
			nthreads = ParsePositive(argv[i], argv[i + 1]);
		else if (strcmp(argv[i], "--repeat") == 0)
			passes = ParsePositive(argv[i], argv[i + 1]);
		else
		{
			fprintf(stderr, "membw: unknown option %s\n", argv[i]);
			return 2;
		}
		i++;
	}
	if (nthreads < 1)
		nthreads = 1;

	count = (size_t) mb * 1024 * 1024 / sizeof(lanes);
	data = aligned_alloc(64, count * sizeof(lanes));
	if (data == NULL)
	{
		fprintf(stderr, "membw: cannot allocate %ld MB\n", mb);
		return 1;
	}
	/* touch every page, with distinct values */
	for (size_t i = 0; i < count; i++)
		data[i] = (lanes) {i, i + 1, i + 2, i + 3, i + 4, i + 5, i + 6, i + 7};

	printf("RESULT membw threads=1 mb=%ld gb_s=%.2f\n", mb,
		   Measure(data, count, 1, (int) passes));
	fflush(stdout);
	if (nthreads > 1)
		printf("RESULT membw threads=%ld mb=%ld gb_s=%.2f\n", nthreads, mb,
			   Measure(data, count, (int) nthreads, (int) passes));
	free(data);
	return 0;
}
