/*-------------------------------------------------------------------------
 *
 * halfvec.h
 *	  The halfvec type: IEEE binary16 elements, pgvector's layout.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMLOPS_VECTOR_HALFVEC_H
#define PGMLOPS_VECTOR_HALFVEC_H

#include "fmgr.h"
#include "utils/array.h"

#include "vector/vecdist.h"

#define HALFVEC_MAX_DIM 16000

#define DatumGetHalfVector(x)	((HalfVector *) PG_DETOAST_DATUM(x))
#define PG_GETARG_HALFVEC_P(x)	DatumGetHalfVector(PG_GETARG_DATUM(x))
#define PG_RETURN_HALFVEC_P(x)	PG_RETURN_POINTER(x)

typedef struct HalfVector
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	int16		dim;			/* number of dimensions */
	int16		unused;			/* reserved, always zero */
	half		x[FLEXIBLE_ARRAY_MEMBER];	/* (dim) */
} HalfVector;

/* halfvec.c */
extern HalfVector *VecInitHalfVector(int dim);

#endif							/* PGMLOPS_VECTOR_HALFVEC_H */
