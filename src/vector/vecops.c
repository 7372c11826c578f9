/*-------------------------------------------------------------------------
 *
 * vecops.c
 *	  Operators on the vector type: distances, norms, arithmetic,
 *	  comparisons and the avg/sum aggregates.
 *
 * Distances call the kernels in vecdist.h, which VecDistInit() points at
 * the best SIMD code for this CPU; they accumulate in float4 and return
 * float8, as pgvector does, so results match pgvector's for the same
 * inputs.  Norms accumulate in float8.
 *
 * The avg aggregate keeps a float8[] state {n, sum_1, ..., sum_dim},
 * handled by the helpers in veccommon.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "utils/array.h"
#include "utils/varbit.h"

#include "compat.h"
#include "vector/veccommon.h"
#include "vector/vecdist.h"
#include "vector/vector.h"

/*
 * Euclidean distance
 */
VEC_DISTANCE_FUNCTION(l2_distance, VecDenseDistance, &VecVectorInfo, VEC_METRIC_L2)

/*
 * Squared Euclidean distance: the HNSW support function for <->
 */
VEC_DISTANCE_FUNCTION(vector_l2_squared_distance, VecDenseDistance, &VecVectorInfo, VEC_METRIC_L2_SQUARED)

/*
 * Inner product
 */
VEC_DISTANCE_FUNCTION(inner_product, VecDenseDistance, &VecVectorInfo, VEC_METRIC_INNER)

/*
 * Negative inner product: the <#> operator and its HNSW support function
 */
VEC_DISTANCE_FUNCTION(vector_negative_inner_product, VecDenseDistance, &VecVectorInfo, VEC_METRIC_NEG_INNER)

/*
 * Cosine distance, 1 - cosine similarity; NaN for a zero vector
 */
VEC_DISTANCE_FUNCTION(cosine_distance, VecDenseDistance, &VecVectorInfo, VEC_METRIC_COSINE)

/*
 * Angular distance acos(a.b) / pi of two unit vectors, in [0, 1]
 *
 * The inner product is clamped first: rounding can push it just past 1.
 */
VEC_DISTANCE_FUNCTION(vector_spherical_distance, VecDenseDistance, &VecVectorInfo, VEC_METRIC_SPHERICAL)

/*
 * Taxicab (L1) distance
 */
VEC_DISTANCE_FUNCTION(l1_distance, VecDenseDistance, &VecVectorInfo, VEC_METRIC_L1)

/*
 * Number of dimensions
 */
PG_FUNCTION_INFO_V1(vector_dims);
Datum
vector_dims(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);

	PG_RETURN_INT32(a->dim);
}

/*
 * Euclidean norm
 */
PG_FUNCTION_INFO_V1(vector_norm);
Datum
vector_norm(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);

	PG_RETURN_FLOAT8(sqrt(VecSquaredNorm(VEC_ELEM_FLOAT4, a->x, a->dim)));
}

/*
 * Scale a vector to unit Euclidean norm; a zero vector stays zero
 */
PG_FUNCTION_INFO_V1(l2_normalize);
Datum
l2_normalize(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *result = VecInitVector(a->dim);

	VecNormalize(VEC_ELEM_FLOAT4, a->x, a->dim, result->x);
	PG_RETURN_VECTOR_P(result);
}

/*
 * Elements from start (1-based) for count elements, clipped to the vector
 *
 * Like substring, a start before 1 shortens the result instead of failing;
 * a result with no elements is an error.
 */
PG_FUNCTION_INFO_V1(subvector);
Datum
subvector(PG_FUNCTION_ARGS)
{
	VecDenseData *a = (VecDenseData *) PG_GETARG_VECTOR_P(0);

	PG_RETURN_VECTOR_P((Vector *) VecSubvector(&VecVectorInfo, a, PG_GETARG_INT32(1), PG_GETARG_INT32(2)));
}

/*
 * Binary quantization: bit i is set when element i is positive
 */
PG_FUNCTION_INFO_V1(binary_quantize);
Datum
binary_quantize(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);

	PG_RETURN_VARBIT_P(VecBinaryQuantize(VEC_ELEM_FLOAT4, a->x, a->dim));
}

/*
 * Element-wise a op b of two vectors of the same dimension
 */
static Vector *
Arith(VecArithOp op, FunctionCallInfo fcinfo)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);
	Vector	   *result;

	VecCheckDims(a->dim, b->dim);
	result = VecInitVector(a->dim);
	VecArith(VEC_ELEM_FLOAT4, op, a->dim, a->x, b->x, result->x);
	return result;
}

/*
 * Element-wise sum
 */
PG_FUNCTION_INFO_V1(vector_add);
Datum
vector_add(PG_FUNCTION_ARGS)
{
	PG_RETURN_VECTOR_P(Arith(VEC_ARITH_ADD, fcinfo));
}

/*
 * Element-wise difference
 */
PG_FUNCTION_INFO_V1(vector_sub);
Datum
vector_sub(PG_FUNCTION_ARGS)
{
	PG_RETURN_VECTOR_P(Arith(VEC_ARITH_SUB, fcinfo));
}

/*
 * Element-wise product; a zero product of nonzero factors is an underflow,
 * as in float4mul
 */
PG_FUNCTION_INFO_V1(vector_mul);
Datum
vector_mul(PG_FUNCTION_ARGS)
{
	PG_RETURN_VECTOR_P(Arith(VEC_ARITH_MUL, fcinfo));
}

/*
 * Concatenation
 */
PG_FUNCTION_INFO_V1(vector_concat);
Datum
vector_concat(PG_FUNCTION_ARGS)
{
	VecDenseData *a = (VecDenseData *) PG_GETARG_VECTOR_P(0);
	VecDenseData *b = (VecDenseData *) PG_GETARG_VECTOR_P(1);

	PG_RETURN_VECTOR_P((Vector *) VecConcat(&VecVectorInfo, a, b));
}

/*
 * Three-way comparison: elements first, then dimension count
 */
static int
VectorCompare(const void *a, const void *b)
{
	const Vector *va = a;
	const Vector *vb = b;

	return VecCompareDense(VEC_ELEM_FLOAT4, va->x, va->dim, vb->x, vb->dim);
}

/* Comparison functions for the operators and the btree opclass */
VEC_COMPARISON_FUNCTIONS(vector, VectorCompare)

/*
 * avg transition: add one vector to the state {n, sums...}
 */
PG_FUNCTION_INFO_V1(vector_accum);
Datum
vector_accum(PG_FUNCTION_ARGS)
{
	ArrayType  *statearray = PG_GETARG_ARRAYTYPE_P(0);
	Vector	   *value = PG_GETARG_VECTOR_P(1);

	PG_RETURN_ARRAYTYPE_P(VecStateAccum(fcinfo, statearray, "vector_accum",
										VEC_ELEM_FLOAT4, value->x, value->dim));
}

/*
 * avg combine: merge two partial states
 */
PG_FUNCTION_INFO_V1(vector_combine);
Datum
vector_combine(PG_FUNCTION_ARGS)
{
	PG_RETURN_ARRAYTYPE_P(VecStateCombine(fcinfo, PG_GETARG_ARRAYTYPE_P(0),
										  PG_GETARG_ARRAYTYPE_P(1),
										  "vector_combine"));
}

/*
 * avg final: the mean vector, or NULL when no rows were seen
 */
PG_FUNCTION_INFO_V1(vector_avg);
Datum
vector_avg(PG_FUNCTION_ARGS)
{
	int			dim;
	float8	   *state = VecStateSums(&VecVectorInfo, PG_GETARG_ARRAYTYPE_P(0),
									 "vector_avg", &dim);
	Vector	   *result;

	if (state == NULL)
		PG_RETURN_NULL();

	result = VecInitVector(dim);
	for (int i = 0; i < dim; i++)
	{
		result->x[i] = (float) (state[i + 1] / state[0]);
		VecCheckElement(result->x[i]);
	}

	PG_RETURN_VECTOR_P(result);
}
