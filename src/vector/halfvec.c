/*-------------------------------------------------------------------------
 *
 * halfvec.c
 *	  The halfvec type: I/O, casts, distances, arithmetic and aggregates.
 *
 * A halfvec stores IEEE binary16 elements in pgvector's layout (int16 dim,
 * int16 unused, dim halves).  Every way a value can enter (text, binary,
 * arrays, casts, arithmetic) checks that each element is finite, so the
 * distance kernels of vecdist.h never see NaN or infinity.  Values are
 * widened to float for all arithmetic and rounded back to nearest even;
 * a finite float that does not fit in binary16 is an error, not infinity.
 *
 * Distances go through the run-time chosen kernels of vecdist.h, which
 * the hnsw index calls too, so an index and a sequential scan agree.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/varbit.h"

#include "compat.h"
#include "vector/halfvec.h"
#include "vector/veccommon.h"
#include "vector/vecdist.h"
#include "vector/vector.h"

/*
 * Allocate a zero-filled halfvec of dim elements
 */
HalfVector *
VecInitHalfVector(int dim)
{
	return (HalfVector *) VecInitDense(VEC_ELEM_HALF, dim);
}

/*
 * Reject NaN and infinite elements
 */
static void
CheckElement(half value)
{
	VecCheckFiniteOf(&VecHalfvecInfo, VecHalfToFloat(value));
}

/*
 * Build a halfvec from dim floats known to fit binary16, freeing them
 */
static HalfVector *
HalfvecFromFloats(float *values, int dim)
{
	HalfVector *result = VecInitHalfVector(dim);

	/* the values were checked finite and in binary16 range */
	VecFloatToHalfArray(dim, values, result->x);
	pfree(values);
	return result;
}

/*
 * Parse the text form "[x1,x2,...]"
 */
PG_FUNCTION_INFO_V1(halfvec_in);
Datum
halfvec_in(PG_FUNCTION_ARGS)
{
	int			dim;
	float	   *values = VecParseDenseLiteral(&VecHalfvecInfo, PG_GETARG_CSTRING(0),
											  PG_GETARG_INT32(2), &dim);

	PG_RETURN_HALFVEC_P(HalfvecFromFloats(values, dim));
}

/*
 * Print the text form: each element as the shortest float4 text that
 * reads back to the same value
 */
PG_FUNCTION_INFO_V1(halfvec_out);
Datum
halfvec_out(PG_FUNCTION_ARGS)
{
	HalfVector *vec = PG_GETARG_HALFVEC_P(0);
	char	   *buf = VecDenseOut(VEC_ELEM_HALF, vec->x, vec->dim);

	PG_FREE_IF_COPY(vec, 0);
	PG_RETURN_CSTRING(buf);
}

/*
 * Parse the type modifier: halfvec(n), 1 <= n <= HALFVEC_MAX_DIM
 */
PG_FUNCTION_INFO_V1(halfvec_typmod_in);
Datum
halfvec_typmod_in(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(VecTypmodIn(&VecHalfvecInfo, PG_GETARG_ARRAYTYPE_P(0)));
}

/*
 * Print the type modifier as "(n)"
 */
PG_FUNCTION_INFO_V1(halfvec_typmod_out);
Datum
halfvec_typmod_out(PG_FUNCTION_ARGS)
{
	PG_RETURN_CSTRING(VecTypmodOut(PG_GETARG_INT32(0)));
}

/*
 * Read the binary form: int16 dim, int16 unused, dim binary16 bit patterns
 */
PG_FUNCTION_INFO_V1(halfvec_recv);
Datum
halfvec_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);

	PG_RETURN_HALFVEC_P((HalfVector *) VecRecvDense(&VecHalfvecInfo, buf, PG_GETARG_INT32(2)));
}

/*
 * Write the binary form, big-endian
 */
PG_FUNCTION_INFO_V1(halfvec_send);
Datum
halfvec_send(PG_FUNCTION_ARGS)
{
	HalfVector *vec = PG_GETARG_HALFVEC_P(0);
	bytea	   *result = VecSendDense(VEC_ELEM_HALF, (VecDenseData *) vec);

	PG_FREE_IF_COPY(vec, 0);
	PG_RETURN_BYTEA_P(result);
}

/*
 * Apply a type modifier (the halfvec -> halfvec(n) cast)
 */
PG_FUNCTION_INFO_V1(halfvec);
Datum
halfvec(PG_FUNCTION_ARGS)
{
	HalfVector *vec = PG_GETARG_HALFVEC_P(0);
	int32		typmod = PG_GETARG_INT32(1);

	VecCheckExpectedDim(typmod, vec->dim);

	PG_RETURN_HALFVEC_P(vec);
}

/*
 * Convert an integer[], real[], double precision[] or numeric[] to halfvec
 */
PG_FUNCTION_INFO_V1(array_to_halfvec);
Datum
array_to_halfvec(PG_FUNCTION_ARGS)
{
	int			dim;
	float	   *values = VecArrayToFloats(&VecHalfvecInfo, PG_GETARG_ARRAYTYPE_P(0),
										  PG_GETARG_INT32(1), &dim);

	PG_RETURN_HALFVEC_P(HalfvecFromFloats(values, dim));
}

/*
 * Convert a halfvec to real[]
 */
PG_FUNCTION_INFO_V1(halfvec_to_float4);
Datum
halfvec_to_float4(PG_FUNCTION_ARGS)
{
	HalfVector *vec = PG_GETARG_HALFVEC_P(0);
	ArrayType  *result = VecDenseToFloat4Array(VEC_ELEM_HALF, vec->x, vec->dim);

	PG_FREE_IF_COPY(vec, 0);
	PG_RETURN_POINTER(result);
}

/*
 * Convert a vector to halfvec, failing on elements beyond binary16 range
 */
PG_FUNCTION_INFO_V1(vector_to_halfvec);
Datum
vector_to_halfvec(PG_FUNCTION_ARGS)
{
	Vector	   *vec = PG_GETARG_VECTOR_P(0);
	int32		typmod = PG_GETARG_INT32(1);
	HalfVector *result;

	VecCheckDimOf(&VecHalfvecInfo, vec->dim);
	VecCheckExpectedDim(typmod, vec->dim);

	result = VecInitHalfVector(vec->dim);
	for (int i = 0; i < vec->dim; i++)
		result->x[i] = VecFloatToHalfChecked(vec->x[i]);

	PG_FREE_IF_COPY(vec, 0);
	PG_RETURN_HALFVEC_P(result);
}

/*
 * Convert a halfvec to vector (exact: every binary16 value is a float4)
 */
PG_FUNCTION_INFO_V1(halfvec_to_vector);
Datum
halfvec_to_vector(PG_FUNCTION_ARGS)
{
	HalfVector *vec = PG_GETARG_HALFVEC_P(0);
	int32		typmod = PG_GETARG_INT32(1);
	Vector	   *result;

	VecCheckDim(vec->dim);
	VecCheckExpectedDim(typmod, vec->dim);

	result = VecInitVector(vec->dim);
	VecHalfToFloatArray(vec->dim, vec->x, result->x);

	PG_FREE_IF_COPY(vec, 0);
	PG_RETURN_VECTOR_P(result);
}

/*
 * Euclidean distance
 */
VEC_DISTANCE_FUNCTION(halfvec_l2_distance, VecDenseDistance, &VecHalfvecInfo, VEC_METRIC_L2)

/*
 * Squared Euclidean distance (hnsw support: orders like l2_distance, no sqrt)
 */
VEC_DISTANCE_FUNCTION(halfvec_l2_squared_distance, VecDenseDistance, &VecHalfvecInfo, VEC_METRIC_L2_SQUARED)

/*
 * Inner product
 */
VEC_DISTANCE_FUNCTION(halfvec_inner_product, VecDenseDistance, &VecHalfvecInfo, VEC_METRIC_INNER)

/*
 * Negative inner product (the <#> operator and hnsw support)
 */
VEC_DISTANCE_FUNCTION(halfvec_negative_inner_product, VecDenseDistance, &VecHalfvecInfo, VEC_METRIC_NEG_INNER)

/*
 * Cosine distance, 1 - cos(a, b); NaN when either norm is zero
 */
VEC_DISTANCE_FUNCTION(halfvec_cosine_distance, VecDenseDistance, &VecHalfvecInfo, VEC_METRIC_COSINE)

/*
 * Angle between unit vectors divided by pi (hnsw support for cosine on
 * normalized values): a true metric, in [0, 1]
 */
VEC_DISTANCE_FUNCTION(halfvec_spherical_distance, VecDenseDistance, &VecHalfvecInfo, VEC_METRIC_SPHERICAL)

/*
 * Taxicab distance
 */
VEC_DISTANCE_FUNCTION(halfvec_l1_distance, VecDenseDistance, &VecHalfvecInfo, VEC_METRIC_L1)

/*
 * Number of dimensions
 */
PG_FUNCTION_INFO_V1(halfvec_vector_dims);
Datum
halfvec_vector_dims(PG_FUNCTION_ARGS)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);

	PG_RETURN_INT32(a->dim);
}

/*
 * Euclidean norm
 */
PG_FUNCTION_INFO_V1(halfvec_l2_norm);
Datum
halfvec_l2_norm(PG_FUNCTION_ARGS)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);

	PG_RETURN_FLOAT8(sqrt(VecSquaredNorm(VEC_ELEM_HALF, a->x, a->dim)));
}

/*
 * Scale to unit Euclidean norm; a zero vector stays zero
 */
PG_FUNCTION_INFO_V1(halfvec_l2_normalize);
Datum
halfvec_l2_normalize(PG_FUNCTION_ARGS)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);
	HalfVector *result = VecInitHalfVector(a->dim);

	VecNormalize(VEC_ELEM_HALF, a->x, a->dim, result->x);
	PG_RETURN_HALFVEC_P(result);
}

/*
 * Quantize to one bit per element: 1 where the element is positive
 */
PG_FUNCTION_INFO_V1(halfvec_binary_quantize);
Datum
halfvec_binary_quantize(PG_FUNCTION_ARGS)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);

	PG_RETURN_VARBIT_P(VecBinaryQuantize(VEC_ELEM_HALF, a->x, a->dim));
}

/*
 * Elements start .. start + count - 1 (1-based, clipped like substring)
 */
PG_FUNCTION_INFO_V1(halfvec_subvector);
Datum
halfvec_subvector(PG_FUNCTION_ARGS)
{
	VecDenseData *a = (VecDenseData *) PG_GETARG_HALFVEC_P(0);

	PG_RETURN_HALFVEC_P((HalfVector *) VecSubvector(&VecHalfvecInfo, a, PG_GETARG_INT32(1), PG_GETARG_INT32(2)));
}

/*
 * Element-wise a op b of two halfvecs of the same dimension
 */
static HalfVector *
Arith(VecArithOp op, FunctionCallInfo fcinfo)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);
	HalfVector *b = PG_GETARG_HALFVEC_P(1);
	HalfVector *result;

	VecCheckDimsOf(&VecHalfvecInfo, a->dim, b->dim);
	result = VecInitHalfVector(a->dim);
	VecArith(VEC_ELEM_HALF, op, a->dim, a->x, b->x, result->x);
	return result;
}

/*
 * Element-wise sum
 */
PG_FUNCTION_INFO_V1(halfvec_add);
Datum
halfvec_add(PG_FUNCTION_ARGS)
{
	PG_RETURN_HALFVEC_P(Arith(VEC_ARITH_ADD, fcinfo));
}

/*
 * Element-wise difference
 */
PG_FUNCTION_INFO_V1(halfvec_sub);
Datum
halfvec_sub(PG_FUNCTION_ARGS)
{
	PG_RETURN_HALFVEC_P(Arith(VEC_ARITH_SUB, fcinfo));
}

/*
 * Element-wise product, failing on overflow and on underflow to zero
 */
PG_FUNCTION_INFO_V1(halfvec_mul);
Datum
halfvec_mul(PG_FUNCTION_ARGS)
{
	PG_RETURN_HALFVEC_P(Arith(VEC_ARITH_MUL, fcinfo));
}

/*
 * Concatenation
 */
PG_FUNCTION_INFO_V1(halfvec_concat);
Datum
halfvec_concat(PG_FUNCTION_ARGS)
{
	VecDenseData *a = (VecDenseData *) PG_GETARG_HALFVEC_P(0);
	VecDenseData *b = (VecDenseData *) PG_GETARG_HALFVEC_P(1);

	PG_RETURN_HALFVEC_P((HalfVector *) VecConcat(&VecHalfvecInfo, a, b));
}

/*
 * Three-way comparison: element by element, then the shorter first
 */
static int
CompareHalfVectors(const void *a, const void *b)
{
	const HalfVector *ha = a;
	const HalfVector *hb = b;

	return VecCompareDense(VEC_ELEM_HALF, ha->x, ha->dim, hb->x, hb->dim);
}

/* Comparison functions for the operators and the btree opclass */
VEC_COMPARISON_FUNCTIONS(halfvec, CompareHalfVectors)

/*
 * avg(halfvec) transition: add one value to the running sums
 */
PG_FUNCTION_INFO_V1(halfvec_accum);
Datum
halfvec_accum(PG_FUNCTION_ARGS)
{
	ArrayType  *state = PG_GETARG_ARRAYTYPE_P(0);
	HalfVector *val = PG_GETARG_HALFVEC_P(1);

	PG_RETURN_ARRAYTYPE_P(VecStateAccum(fcinfo, state, "halfvec_accum",
										VEC_ELEM_HALF, val->x, val->dim));
}

/*
 * avg(halfvec) combine: merge two partial states
 */
PG_FUNCTION_INFO_V1(halfvec_combine);
Datum
halfvec_combine(PG_FUNCTION_ARGS)
{
	PG_RETURN_ARRAYTYPE_P(VecStateCombine(fcinfo, PG_GETARG_ARRAYTYPE_P(0),
										  PG_GETARG_ARRAYTYPE_P(1),
										  "halfvec_combine"));
}

/*
 * avg(halfvec) final: sums / n, NULL when no rows were seen
 */
PG_FUNCTION_INFO_V1(halfvec_avg);
Datum
halfvec_avg(PG_FUNCTION_ARGS)
{
	int			dim;
	float8	   *sums = VecStateSums(&VecHalfvecInfo, PG_GETARG_ARRAYTYPE_P(0),
									"halfvec_avg", &dim);
	HalfVector *result;

	if (sums == NULL)
		PG_RETURN_NULL();

	result = VecInitHalfVector(dim);
	for (int i = 0; i < dim; i++)
	{
		result->x[i] = VecFloatToHalfChecked((float) (sums[i + 1] / sums[0]));
		CheckElement(result->x[i]);
	}

	PG_RETURN_HALFVEC_P(result);
}
