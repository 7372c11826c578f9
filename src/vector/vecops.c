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
 * The avg aggregate keeps a float8[] state {n, sum_1, ..., sum_dim}.
 * When called as an aggregate the transition function updates the state
 * in place instead of building a new array per row.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/float.h"
#include "utils/varbit.h"

#include "compat.h"
#include "vector/vecdist.h"
#include "vector/vector.h"

/* number of dimensions a float8[] aggregate state holds */
#define STATE_DIMS(arr) (ARR_DIMS(arr)[0] - 1)

/*
 * Squared Euclidean norm of a vector, accumulated in float8
 */
static double
NormSquared(const Vector *a)
{
	double		norm = 0.0;

	for (int i = 0; i < a->dim; i++)
		norm += (double) a->x[i] * (double) a->x[i];
	return norm;
}

/*
 * Cosine similarity of two vectors of equal dimension, clamped to [-1, 1]
 *
 * It is NaN when either vector has zero norm.
 */
static double
CosineSimilarity(const Vector *a, const Vector *b)
{
	float		ab;
	float		aa;
	float		bb;
	double		similarity;

	VecCosinePartsF32(a->dim, a->x, b->x, &ab, &aa, &bb);

	/* one square root of the product loses less than two */
	similarity = (double) ab / sqrt((double) aa * (double) bb);

	if (similarity > 1.0)
		similarity = 1.0;
	else if (similarity < -1.0)
		similarity = -1.0;
	return similarity;
}

/*
 * Euclidean distance
 */
PG_FUNCTION_INFO_V1(l2_distance);
Datum
l2_distance(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);

	VecCheckDims(a->dim, b->dim);
	PG_RETURN_FLOAT8(sqrt((double) VecL2SquaredF32(a->dim, a->x, b->x)));
}

/*
 * Squared Euclidean distance: the HNSW support function for <->
 */
PG_FUNCTION_INFO_V1(vector_l2_squared_distance);
Datum
vector_l2_squared_distance(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);

	VecCheckDims(a->dim, b->dim);
	PG_RETURN_FLOAT8((double) VecL2SquaredF32(a->dim, a->x, b->x));
}

/*
 * Inner product
 */
PG_FUNCTION_INFO_V1(inner_product);
Datum
inner_product(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);

	VecCheckDims(a->dim, b->dim);
	PG_RETURN_FLOAT8((double) VecInnerProductF32(a->dim, a->x, b->x));
}

/*
 * Negative inner product: the <#> operator and its HNSW support function
 */
PG_FUNCTION_INFO_V1(vector_negative_inner_product);
Datum
vector_negative_inner_product(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);

	VecCheckDims(a->dim, b->dim);
	PG_RETURN_FLOAT8(-(double) VecInnerProductF32(a->dim, a->x, b->x));
}

/*
 * Cosine distance, 1 - cosine similarity; NaN for a zero vector
 */
PG_FUNCTION_INFO_V1(cosine_distance);
Datum
cosine_distance(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);

	VecCheckDims(a->dim, b->dim);
	PG_RETURN_FLOAT8(1.0 - CosineSimilarity(a, b));
}

/*
 * Angular distance acos(a.b) / pi of two unit vectors, in [0, 1]
 *
 * The inner product is clamped first: rounding can push it just past 1.
 */
PG_FUNCTION_INFO_V1(vector_spherical_distance);
Datum
vector_spherical_distance(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);
	double		dp;

	VecCheckDims(a->dim, b->dim);
	dp = (double) VecInnerProductF32(a->dim, a->x, b->x);

	if (dp > 1.0)
		dp = 1.0;
	else if (dp < -1.0)
		dp = -1.0;
	PG_RETURN_FLOAT8(acos(dp) / M_PI);
}

/*
 * Taxicab (L1) distance
 */
PG_FUNCTION_INFO_V1(l1_distance);
Datum
l1_distance(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);

	VecCheckDims(a->dim, b->dim);
	PG_RETURN_FLOAT8((double) VecL1F32(a->dim, a->x, b->x));
}

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

	PG_RETURN_FLOAT8(sqrt(NormSquared(a)));
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
	double		norm = sqrt(NormSquared(a));

	if (norm > 0.0)
	{
		for (int i = 0; i < a->dim; i++)
		{
			result->x[i] = (float) (a->x[i] / norm);
			if (isinf(result->x[i]))
				float_overflow_error();
		}
	}

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
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	int32		start = PG_GETARG_INT32(1);
	int32		count = PG_GETARG_INT32(2);
	int64		end;
	int64		dim;
	Vector	   *result;

	if (count < 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("vector must have at least 1 dimension")));

	/* 64-bit arithmetic: start + count may overflow int32 */
	end = Min((int64) start + count, (int64) a->dim + 1);

	if (start < 1)
		start = 1;
	else if (start > a->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("vector must have at least 1 dimension")));

	dim = end - start;
	VecCheckDim(dim < 1 ? 0 : (int) dim);

	result = VecInitVector((int) dim);
	memcpy(result->x, a->x + (start - 1), sizeof(float) * dim);

	PG_RETURN_VECTOR_P(result);
}

/*
 * Binary quantization: bit i is set when element i is positive
 */
PG_FUNCTION_INFO_V1(binary_quantize);
Datum
binary_quantize(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	int			size = VARBITTOTALLEN(a->dim);
	VarBit	   *result = (VarBit *) palloc0(size);
	bits8	   *bits;

	SET_VARSIZE(result, size);
	VARBITLEN(result) = a->dim;
	bits = VARBITS(result);

	for (int i = 0; i < a->dim; i++)
	{
		if (a->x[i] > 0)
			bits[i / 8] |= (bits8) (0x80 >> (i % 8));
	}

	PG_RETURN_VARBIT_P(result);
}

/*
 * Element-wise sum
 */
PG_FUNCTION_INFO_V1(vector_add);
Datum
vector_add(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);
	Vector	   *result;

	VecCheckDims(a->dim, b->dim);
	result = VecInitVector(a->dim);

	for (int i = 0; i < a->dim; i++)
		result->x[i] = a->x[i] + b->x[i];

	/* finite inputs can only become infinite by overflow */
	for (int i = 0; i < a->dim; i++)
	{
		if (isinf(result->x[i]))
			float_overflow_error();
	}

	PG_RETURN_VECTOR_P(result);
}

/*
 * Element-wise difference
 */
PG_FUNCTION_INFO_V1(vector_sub);
Datum
vector_sub(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);
	Vector	   *result;

	VecCheckDims(a->dim, b->dim);
	result = VecInitVector(a->dim);

	for (int i = 0; i < a->dim; i++)
		result->x[i] = a->x[i] - b->x[i];

	for (int i = 0; i < a->dim; i++)
	{
		if (isinf(result->x[i]))
			float_overflow_error();
	}

	PG_RETURN_VECTOR_P(result);
}

/*
 * Element-wise product
 */
PG_FUNCTION_INFO_V1(vector_mul);
Datum
vector_mul(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);
	Vector	   *result;

	VecCheckDims(a->dim, b->dim);
	result = VecInitVector(a->dim);

	for (int i = 0; i < a->dim; i++)
		result->x[i] = a->x[i] * b->x[i];

	for (int i = 0; i < a->dim; i++)
	{
		if (isinf(result->x[i]))
			float_overflow_error();
		/* a zero product of nonzero factors is an underflow, as in float4mul */
		if (result->x[i] == 0 && a->x[i] != 0 && b->x[i] != 0)
			float_underflow_error();
	}

	PG_RETURN_VECTOR_P(result);
}

/*
 * Concatenation
 */
PG_FUNCTION_INFO_V1(vector_concat);
Datum
vector_concat(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);
	Vector	   *result;

	VecCheckDim(a->dim + b->dim);
	result = VecInitVector(a->dim + b->dim);
	memcpy(result->x, a->x, sizeof(float) * a->dim);
	memcpy(result->x + a->dim, b->x, sizeof(float) * b->dim);

	PG_RETURN_VECTOR_P(result);
}

/*
 * Three-way comparison: elements first, then dimension count
 *
 * Comparing elements before lengths orders vectors the way Postgres
 * orders arrays, so a prefix sorts first.
 */
static int
VectorCompare(const Vector *a, const Vector *b)
{
	int			dim = Min(a->dim, b->dim);

	for (int i = 0; i < dim; i++)
	{
		if (a->x[i] < b->x[i])
			return -1;
		if (a->x[i] > b->x[i])
			return 1;
	}

	if (a->dim < b->dim)
		return -1;
	if (a->dim > b->dim)
		return 1;
	return 0;
}

/*
 * Compare two vector arguments and free detoasted copies
 */
static int
CompareArgs(FunctionCallInfo fcinfo)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);
	int			cmp = VectorCompare(a, b);

	PG_FREE_IF_COPY(a, 0);
	PG_FREE_IF_COPY(b, 1);
	return cmp;
}

/*
 * a < b
 */
PG_FUNCTION_INFO_V1(vector_lt);
Datum
vector_lt(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(CompareArgs(fcinfo) < 0);
}

/*
 * a <= b
 */
PG_FUNCTION_INFO_V1(vector_le);
Datum
vector_le(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(CompareArgs(fcinfo) <= 0);
}

/*
 * a = b
 */
PG_FUNCTION_INFO_V1(vector_eq);
Datum
vector_eq(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(CompareArgs(fcinfo) == 0);
}

/*
 * a <> b
 */
PG_FUNCTION_INFO_V1(vector_ne);
Datum
vector_ne(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(CompareArgs(fcinfo) != 0);
}

/*
 * a >= b
 */
PG_FUNCTION_INFO_V1(vector_ge);
Datum
vector_ge(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(CompareArgs(fcinfo) >= 0);
}

/*
 * a > b
 */
PG_FUNCTION_INFO_V1(vector_gt);
Datum
vector_gt(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(CompareArgs(fcinfo) > 0);
}

/*
 * Btree support: -1, 0 or 1
 */
PG_FUNCTION_INFO_V1(vector_cmp);
Datum
vector_cmp(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(CompareArgs(fcinfo));
}

/*
 * Validate an avg state array and return its elements {n, sums...}
 */
static float8 *
CheckStateArray(ArrayType *statearray, const char *caller)
{
	if (ARR_NDIM(statearray) != 1 ||
		ARR_DIMS(statearray)[0] < 1 ||
		ARR_HASNULL(statearray) ||
		ARR_ELEMTYPE(statearray) != FLOAT8OID)
		elog(ERROR, "%s: expected state array", caller);
	return (float8 *) ARR_DATA_PTR(statearray);
}

/*
 * Build a state array {n, sums...} for dim dimensions, all zero
 */
static ArrayType *
NewStateArray(int dim)
{
	Datum	   *datums = palloc_array(Datum, dim + 1);
	ArrayType  *result;

	for (int i = 0; i <= dim; i++)
		datums[i] = Float8GetDatum(0.0);
	result = construct_array(datums, dim + 1, FLOAT8OID, sizeof(float8),
							 FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
	pfree(datums);
	return result;
}

/*
 * avg transition: add one vector to the state {n, sums...}
 *
 * Inside an aggregate the state belongs to the aggregate's memory context
 * and is updated in place, as float8_accum does; called directly it
 * returns a new array and leaves its argument alone.  The first vector
 * replaces the initial state {0} with one of the right size, which nodeAgg
 * copies into the aggregate context.
 */
PG_FUNCTION_INFO_V1(vector_accum);
Datum
vector_accum(PG_FUNCTION_ARGS)
{
	ArrayType  *statearray = PG_GETARG_ARRAYTYPE_P(0);
	Vector	   *value = PG_GETARG_VECTOR_P(1);
	float8	   *state = CheckStateArray(statearray, "vector_accum");
	ArrayType  *result;
	float8	   *sums;

	if (state[0] == 0.0)
	{
		result = NewStateArray(value->dim);
		sums = (float8 *) ARR_DATA_PTR(result);
		sums[0] = 1.0;
		for (int i = 0; i < value->dim; i++)
			sums[i + 1] = value->x[i];
		PG_RETURN_ARRAYTYPE_P(result);
	}

	VecCheckExpectedDim(STATE_DIMS(statearray), value->dim);

	if (AggCheckCallContext(fcinfo, NULL))
		result = statearray;
	else
		result = DatumGetArrayTypePCopy(PointerGetDatum(statearray));

	sums = (float8 *) ARR_DATA_PTR(result);
	sums[0] += 1.0;
	for (int i = 0; i < value->dim; i++)
	{
		sums[i + 1] += value->x[i];
		if (isinf(sums[i + 1]))
			float_overflow_error();
	}

	PG_RETURN_ARRAYTYPE_P(result);
}

/*
 * avg combine: merge two partial states
 *
 * Like vector_accum, it adds into the first state in place when called
 * as an aggregate.
 */
PG_FUNCTION_INFO_V1(vector_combine);
Datum
vector_combine(PG_FUNCTION_ARGS)
{
	ArrayType  *statearray1 = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *statearray2 = PG_GETARG_ARRAYTYPE_P(1);
	float8	   *state1 = CheckStateArray(statearray1, "vector_combine");
	float8	   *state2 = CheckStateArray(statearray2, "vector_combine");
	ArrayType  *result;
	float8	   *sums;
	int			dim;

	if (state2[0] == 0.0)
		PG_RETURN_ARRAYTYPE_P(statearray1);
	if (state1[0] == 0.0)
		PG_RETURN_ARRAYTYPE_P(statearray2);

	dim = STATE_DIMS(statearray1);
	VecCheckExpectedDim(dim, STATE_DIMS(statearray2));

	if (AggCheckCallContext(fcinfo, NULL))
		result = statearray1;
	else
		result = DatumGetArrayTypePCopy(PointerGetDatum(statearray1));

	sums = (float8 *) ARR_DATA_PTR(result);
	for (int i = 0; i <= dim; i++)
	{
		sums[i] += state2[i];
		if (isinf(sums[i]))
			float_overflow_error();
	}

	PG_RETURN_ARRAYTYPE_P(result);
}

/*
 * avg final: the mean vector, or NULL when no rows were seen
 */
PG_FUNCTION_INFO_V1(vector_avg);
Datum
vector_avg(PG_FUNCTION_ARGS)
{
	ArrayType  *statearray = PG_GETARG_ARRAYTYPE_P(0);
	float8	   *state = CheckStateArray(statearray, "vector_avg");
	float8		n = state[0];
	int			dim;
	Vector	   *result;

	if (n == 0.0)
		PG_RETURN_NULL();

	dim = STATE_DIMS(statearray);
	VecCheckDim(dim);

	result = VecInitVector(dim);
	for (int i = 0; i < dim; i++)
	{
		result->x[i] = (float) (state[i + 1] / n);
		VecCheckElement(result->x[i]);
	}

	PG_RETURN_VECTOR_P(result);
}
