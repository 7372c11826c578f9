/*-------------------------------------------------------------------------
 *
 * vector.h
 *	  The vector type: float4 elements, pgvector's on-disk and wire layout.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMLOPS_VECTOR_VECTOR_H
#define PGMLOPS_VECTOR_VECTOR_H

#include "fmgr.h"

#define VECTOR_MAX_DIM 16000

#define DatumGetVector(x)		((Vector *) PG_DETOAST_DATUM(x))
#define PG_GETARG_VECTOR_P(x)	DatumGetVector(PG_GETARG_DATUM(x))
#define PG_RETURN_VECTOR_P(x)	PG_RETURN_POINTER(x)

typedef struct Vector
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	int16		dim;			/* number of dimensions */
	int16		unused;			/* reserved, always zero */
	float		x[FLEXIBLE_ARRAY_MEMBER];	/* (dim) */
} Vector;

/* vector.c */
extern Vector *VecInitVector(int dim);
extern void VecCheckDim(int dim);
extern void VecCheckExpectedDim(int32 typmod, int dim);
extern void VecCheckElement(float value);
extern void VecCheckDims(int a, int b);

#endif							/* PGMLOPS_VECTOR_VECTOR_H */
