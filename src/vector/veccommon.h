/*-------------------------------------------------------------------------
 *
 * veccommon.h
 *	  Code shared by the vector, halfvec and sparsevec types.
 *
 * Each type is described by a VecTypeInfo (its SQL name for messages, its
 * dimension limit and how a dense type stores its elements); the helpers
 * here take that descriptor, or an element kind and an element array, so
 * one piece of logic serves every type with each type's own error texts.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMLOPS_VECTOR_VECCOMMON_H
#define PGMLOPS_VECTOR_VECCOMMON_H

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/varbit.h"

#include "vector/vecdist.h"

/* how a dense type stores its elements */
typedef enum VecElemKind
{
	VEC_ELEM_FLOAT4,			/* float */
	VEC_ELEM_HALF				/* IEEE binary16 bit patterns */
} VecElemKind;

/* what the shared helpers need to know about one type */
typedef struct VecTypeInfo
{
	const char *name;			/* SQL type name, as error messages spell it */
	int			maxdim;			/* largest dimension count */
	VecElemKind kind;			/* element storage (dense types) */
} VecTypeInfo;

extern const VecTypeInfo VecVectorInfo;
extern const VecTypeInfo VecHalfvecInfo;
extern const VecTypeInfo VecSparsevecInfo;

/* element-wise arithmetic operators */
typedef enum VecArithOp
{
	VEC_ARITH_ADD,
	VEC_ARITH_SUB,
	VEC_ARITH_MUL
} VecArithOp;

/* distance functions of the dense types */
typedef enum VecMetric
{
	VEC_METRIC_L2,				/* Euclidean */
	VEC_METRIC_L2_SQUARED,		/* squared Euclidean (hnsw support) */
	VEC_METRIC_INNER,			/* inner product */
	VEC_METRIC_NEG_INNER,		/* negative inner product (<#>) */
	VEC_METRIC_COSINE,			/* 1 - cosine similarity */
	VEC_METRIC_SPHERICAL,		/* angle of unit vectors / pi (hnsw support) */
	VEC_METRIC_L1				/* taxicab */
} VecMetric;

/* the layout vector and halfvec share: a header, then dim elements */
typedef struct VecDenseData
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	int16		dim;			/* number of dimensions */
	int16		unused;			/* reserved, always zero */
	char		x[FLEXIBLE_ARRAY_MEMBER];	/* (dim) elements of the type's kind */
} VecDenseData;

/* three-way comparison of two detoasted values of one type */
typedef int (*VecCompareFn) (const void *a, const void *b);

/* the characters scanner_isspace() and pgvector accept around tokens */
#define VEC_ISSPACE(c) \
	((c) == ' ' || (c) == '\t' || (c) == '\n' || (c) == '\r' || (c) == '\v' || (c) == '\f')

/*
 * Skip the white space VEC_ISSPACE accepts
 */
static inline char *
VecSkipSpace(char *pt)
{
	while (VEC_ISSPACE(*pt))
		pt++;
	return pt;
}

/*
 * Element i of a dense element array, widened to float
 */
static inline float
VecElemAt(VecElemKind kind, const void *x, int i)
{
	if (kind == VEC_ELEM_HALF)
		return VecHalfToFloat(((const half *) x)[i]);
	return ((const float *) x)[i];
}

/*
 * Clamp a cosine or inner product of unit vectors into [-1, 1]
 */
static inline double
VecClampUnit(double value)
{
	if (value > 1.0)
		return 1.0;
	if (value < -1.0)
		return -1.0;
	return value;
}

/* checks and error reports */
extern void VecCheckDimOf(const VecTypeInfo *t, int dim);
extern void VecCheckDimsOf(const VecTypeInfo *t, int a, int b);
extern void VecCheckFiniteOf(const VecTypeInfo *t, float value);
extern void VecCheckUnused(int unused);
extern void VecReportBadLiteral(const VecTypeInfo *t, const char *lit,
								const char *detail) pg_attribute_noreturn();
extern void VecReportOutOfRange(const VecTypeInfo *t,
								const char *text) pg_attribute_noreturn();
extern half VecFloatToHalfChecked(float value);

/* I/O, type modifiers and casts */
extern float *VecParseDenseLiteral(const VecTypeInfo *t, char *lit,
								   int32 typmod, int *dim);
extern char *VecDenseOut(VecElemKind kind, const void *x, int dim);
extern VecDenseData *VecInitDense(VecElemKind kind, int dim);
extern VecDenseData *VecRecvDense(const VecTypeInfo *t, StringInfo buf, int32 typmod);
extern bytea *VecSendDense(VecElemKind kind, const VecDenseData *v);
extern int32 VecTypmodIn(const VecTypeInfo *t, ArrayType *ta);
extern char *VecTypmodOut(int32 typmod);
extern float *VecArrayToFloats(const VecTypeInfo *t, ArrayType *array,
							   int32 typmod, int *dim);
extern ArrayType *VecDenseToFloat4Array(VecElemKind kind, const void *x, int dim);

/* operations on dense element arrays */
extern double VecSquaredNorm(VecElemKind kind, const void *x, int dim);
extern void VecNormalize(VecElemKind kind, const void *x, int dim, void *out);
extern VarBit *VecBinaryQuantize(VecElemKind kind, const void *x, int dim);
extern VecDenseData *VecSubvector(const VecTypeInfo *t, const VecDenseData *a,
								  int32 start, int32 count);
extern VecDenseData *VecConcat(const VecTypeInfo *t, const VecDenseData *a,
							   const VecDenseData *b);
extern void VecArith(VecElemKind kind, VecArithOp op, int dim,
					 const void *a, const void *b, void *out);
extern double VecCosineDistance(double ab, double aa, double bb);
extern double VecDenseDistance(FunctionCallInfo fcinfo, const VecTypeInfo *t,
							   VecMetric metric);
extern double VecSphericalDistance(double dp);

/* comparisons */
extern int	VecCompareDense(VecElemKind kind, const void *ax, int adim,
							const void *bx, int bdim);
extern int	VecCompareArgs(FunctionCallInfo fcinfo, VecCompareFn cmp);

/* avg() aggregate state: float8[] {n, sum_1, ..., sum_dim} */
extern float8 *VecStateCheck(ArrayType *state, const char *caller);
extern ArrayType *VecStateAccum(FunctionCallInfo fcinfo, ArrayType *state,
								const char *caller, VecElemKind kind,
								const void *x, int dim);
extern ArrayType *VecStateCombine(FunctionCallInfo fcinfo, ArrayType *state1,
								  ArrayType *state2, const char *caller);
extern float8 *VecStateSums(const VecTypeInfo *t, ArrayType *state,
							const char *caller, int *dim);

/* one comparison function: cmp is the three-way result of cmpfn */
#define VEC_COMPARISON_FN(name, cmpfn, result) \
PG_FUNCTION_INFO_V1(name); \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	int			cmp = VecCompareArgs(fcinfo, cmpfn); \
\
	result; \
}

/* a distance function: distfn(fcinfo, t, metric), e.g. VecDenseDistance */
#define VEC_DISTANCE_FUNCTION(name, distfn, t, metric) \
PG_FUNCTION_INFO_V1(name); \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	PG_RETURN_FLOAT8(distfn(fcinfo, t, metric)); \
}

/* prefix_lt .. prefix_gt and prefix_cmp for the operators and btree */
#define VEC_COMPARISON_FUNCTIONS(prefix, cmpfn) \
VEC_COMPARISON_FN(prefix##_lt, cmpfn, PG_RETURN_BOOL(cmp < 0)) \
VEC_COMPARISON_FN(prefix##_le, cmpfn, PG_RETURN_BOOL(cmp <= 0)) \
VEC_COMPARISON_FN(prefix##_eq, cmpfn, PG_RETURN_BOOL(cmp == 0)) \
VEC_COMPARISON_FN(prefix##_ne, cmpfn, PG_RETURN_BOOL(cmp != 0)) \
VEC_COMPARISON_FN(prefix##_ge, cmpfn, PG_RETURN_BOOL(cmp >= 0)) \
VEC_COMPARISON_FN(prefix##_gt, cmpfn, PG_RETURN_BOOL(cmp > 0)) \
VEC_COMPARISON_FN(prefix##_cmp, cmpfn, PG_RETURN_INT32(cmp))

#endif							/* PGMLOPS_VECTOR_VECCOMMON_H */
