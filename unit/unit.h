/*
 * unit.h
 *	  A minimal harness for the standalone C unit tests (no server needed).
 *
 * Each test file defines main(), calls CHECK(...) / CHECK_NEAR(...) and
 * ends with UNIT_DONE("name"), which prints "unit name: N passed, N failed"
 * and returns non-zero if anything failed.
 */
#ifndef PGMLOPS_UNIT_UNIT_H
#define PGMLOPS_UNIT_UNIT_H

#include <math.h>
#include <stdio.h>

static int	unit_passed = 0;
static int	unit_failed = 0;

#define CHECK(cond) \
	do { \
		if (cond) \
			unit_passed++; \
		else \
		{ \
			unit_failed++; \
			printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
		} \
	} while (0)

/* |got - want| <= tol * max(1, |want|) */
#define CHECK_NEAR(got, want, tol) \
	do { \
		double g_ = (got), w_ = (want); \
		if (fabs(g_ - w_) <= (tol) * fmax(1.0, fabs(w_))) \
			unit_passed++; \
		else \
		{ \
			unit_failed++; \
			printf("FAIL %s:%d: %s = %.9g, want %.9g\n", __FILE__, __LINE__, #got, g_, w_); \
		} \
	} while (0)

#define UNIT_DONE(name) \
	do { \
		printf("unit %s: %d passed, %d failed\n", (name), unit_passed, unit_failed); \
		return unit_failed != 0; \
	} while (0)

#endif							/* PGMLOPS_UNIT_UNIT_H */
