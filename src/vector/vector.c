/*-------------------------------------------------------------------------
 *
 * vector.c
 *	  The vector type: text and binary I/O, type modifier, casts, checks.
 *
 * A vector is a varlena holding an int16 dimension count, an int16 that is
 * always zero and dim float4 elements, the layout pgvector uses on disk and
 * on the wire.  Every element is finite: each way a value can enter (text,
 * binary, arrays, arithmetic) goes through VecCheckElement, so the distance
 * code never sees NaN or infinity in its inputs.
 *
 * Operators, distances and aggregates live in vecops.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "libpq/pqformat.h"
#include "utils/array.h"

#include "compat.h"
#include "vector/veccommon.h"
#include "vector/vector.h"

/*
 * Allocate a zero-filled vector of dim elements
 */
Vector *
VecInitVector(int dim)
{
	return (Vector *) VecInitDense(VEC_ELEM_FLOAT4, dim);
}

/*
 * Reject a dimension count outside 1..VECTOR_MAX_DIM
 */
void
VecCheckDim(int dim)
{
	VecCheckDimOf(&VecVectorInfo, dim);
}

/*
 * Reject a vector whose dimension count differs from its column's typmod
 */
void
VecCheckExpectedDim(int32 typmod, int dim)
{
	if (typmod != -1 && typmod != dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", typmod, dim)));
}

/*
 * Reject NaN and infinite elements
 */
void
VecCheckElement(float value)
{
	VecCheckFiniteOf(&VecVectorInfo, value);
}

/*
 * Reject two operands of a binary operation with different dimensions
 */
void
VecCheckDims(int a, int b)
{
	VecCheckDimsOf(&VecVectorInfo, a, b);
}

/*
 * Build a vector from dim checked floats, freeing them
 */
static Vector *
VectorFromFloats(float *values, int dim)
{
	Vector	   *result = VecInitVector(dim);

	memcpy(result->x, values, sizeof(float) * dim);
	pfree(values);
	return result;
}

/*
 * Parse the text form "[x1,x2,...]"
 */
PG_FUNCTION_INFO_V1(vector_in);
Datum
vector_in(PG_FUNCTION_ARGS)
{
	int			dim;
	float	   *values = VecParseDenseLiteral(&VecVectorInfo, PG_GETARG_CSTRING(0),
											  PG_GETARG_INT32(2), &dim);

	PG_RETURN_VECTOR_P(VectorFromFloats(values, dim));
}

/*
 * Print a vector as "[x1,x2,...]" with the shortest exact float4 digits
 */
PG_FUNCTION_INFO_V1(vector_out);
Datum
vector_out(PG_FUNCTION_ARGS)
{
	Vector	   *vec = PG_GETARG_VECTOR_P(0);
	char	   *buf = VecDenseOut(VEC_ELEM_FLOAT4, vec->x, vec->dim);

	PG_FREE_IF_COPY(vec, 0);
	PG_RETURN_CSTRING(buf);
}

/*
 * Parse the type modifier of vector(n)
 */
PG_FUNCTION_INFO_V1(vector_typmod_in);
Datum
vector_typmod_in(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(VecTypmodIn(&VecVectorInfo, PG_GETARG_ARRAYTYPE_P(0)));
}

/*
 * Print the type modifier as "(n)", or nothing when there is none
 */
PG_FUNCTION_INFO_V1(vector_typmod_out);
Datum
vector_typmod_out(PG_FUNCTION_ARGS)
{
	PG_RETURN_CSTRING(VecTypmodOut(PG_GETARG_INT32(0)));
}

/*
 * Read the binary form: int16 dim, int16 unused, dim big-endian float4
 */
PG_FUNCTION_INFO_V1(vector_recv);
Datum
vector_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);

	PG_RETURN_VECTOR_P((Vector *) VecRecvDense(&VecVectorInfo, buf, PG_GETARG_INT32(2)));
}

/*
 * Write the binary form read by vector_recv
 */
PG_FUNCTION_INFO_V1(vector_send);
Datum
vector_send(PG_FUNCTION_ARGS)
{
	Vector	   *vec = PG_GETARG_VECTOR_P(0);
	bytea	   *result = VecSendDense(VEC_ELEM_FLOAT4, (VecDenseData *) vec);

	PG_FREE_IF_COPY(vec, 0);
	PG_RETURN_BYTEA_P(result);
}

/*
 * Apply a vector(n) type modifier: the cast vector -> vector(n)
 */
PG_FUNCTION_INFO_V1(vector);
Datum
vector(PG_FUNCTION_ARGS)
{
	Vector	   *vec = PG_GETARG_VECTOR_P(0);
	int32		typmod = PG_GETARG_INT32(1);

	VecCheckExpectedDim(typmod, vec->dim);

	PG_RETURN_VECTOR_P(vec);
}

/*
 * Convert an integer[], real[], double precision[] or numeric[] to a vector
 */
PG_FUNCTION_INFO_V1(array_to_vector);
Datum
array_to_vector(PG_FUNCTION_ARGS)
{
	int			dim;
	float	   *values = VecArrayToFloats(&VecVectorInfo, PG_GETARG_ARRAYTYPE_P(0),
										  PG_GETARG_INT32(1), &dim);

	PG_RETURN_VECTOR_P(VectorFromFloats(values, dim));
}

/*
 * Convert a vector to real[]
 */
PG_FUNCTION_INFO_V1(vector_to_float4);
Datum
vector_to_float4(PG_FUNCTION_ARGS)
{
	Vector	   *vec = PG_GETARG_VECTOR_P(0);
	ArrayType  *result = VecDenseToFloat4Array(VEC_ELEM_FLOAT4, vec->x, vec->dim);

	PG_FREE_IF_COPY(vec, 0);
	PG_RETURN_POINTER(result);
}
