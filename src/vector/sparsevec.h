/*-------------------------------------------------------------------------
 *
 * sparsevec.h
 *	  The sparsevec type: sorted (index, value) pairs, pgvector's layout.
 *
 * Indices are stored 0-based and strictly increasing; the text form is
 * 1-based ("{1:1.5,3:2}/5").  Values follow the indices array.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMLOPS_VECTOR_SPARSEVEC_H
#define PGMLOPS_VECTOR_SPARSEVEC_H

#include "fmgr.h"

#define SPARSEVEC_MAX_DIM 1000000000
#define SPARSEVEC_MAX_NNZ 16000

#define SPARSEVEC_SIZE(_nnz)	(offsetof(SparseVector, indices) + (_nnz) * (sizeof(int32) + sizeof(float)))
#define SPARSEVEC_VALUES(v)		((float *) (((char *) (v)) + offsetof(SparseVector, indices) + (v)->nnz * sizeof(int32)))
#define DatumGetSparseVector(x) ((SparseVector *) PG_DETOAST_DATUM(x))
#define PG_GETARG_SPARSEVEC_P(x) DatumGetSparseVector(PG_GETARG_DATUM(x))
#define PG_RETURN_SPARSEVEC_P(x) PG_RETURN_POINTER(x)

typedef struct SparseVector
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	int32		dim;			/* number of dimensions */
	int32		nnz;			/* number of non-zero elements */
	int32		unused;			/* reserved, always zero */
	int32		indices[FLEXIBLE_ARRAY_MEMBER]; /* (nnz), then float values (nnz) */
} SparseVector;

/* sparsevec.c */
extern SparseVector *VecInitSparseVector(int dim, int nnz);
extern float VecSparseL2Squared(const SparseVector *a, const SparseVector *b);
extern float VecSparseInnerProduct(const SparseVector *a, const SparseVector *b);
extern float VecSparseL1(const SparseVector *a, const SparseVector *b);

#endif							/* PGMLOPS_VECTOR_SPARSEVEC_H */
