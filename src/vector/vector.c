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

#include <math.h>

#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "fmgr.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"

#include "compat.h"
#include "vector/vector.h"

/* the characters scanner_isspace() and pgvector accept around elements */
#define VEC_ISSPACE(c) \
	((c) == ' ' || (c) == '\t' || (c) == '\n' || (c) == '\r' || (c) == '\v' || (c) == '\f')

/*
 * Allocate a zero-filled vector of dim elements
 */
Vector *
VecInitVector(int dim)
{
	Size		size = VECTOR_SIZE(dim);
	Vector	   *result = (Vector *) palloc0(size);

	SET_VARSIZE(result, size);
	result->dim = dim;
	return result;
}

/*
 * Reject a dimension count outside 1..VECTOR_MAX_DIM
 */
void
VecCheckDim(int dim)
{
	if (dim < 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("vector must have at least 1 dimension")));

	if (dim > VECTOR_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("vector cannot have more than %d dimensions", VECTOR_MAX_DIM)));
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
	if (isnan(value))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("NaN not allowed in vector")));

	if (isinf(value))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("infinite value not allowed in vector")));
}

/*
 * Reject two operands of a binary operation with different dimensions
 */
void
VecCheckDims(int a, int b)
{
	if (a != b)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different vector dimensions %d and %d", a, b)));
}

/*
 * Report a malformed vector literal, optionally with a detail line
 */
static void
ReportBadLiteral(const char *lit, const char *detail)
{
	if (detail)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type vector: \"%s\"", lit),
				 errdetail("%s", detail)));
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type vector: \"%s\"", lit)));
}

/*
 * Parse the text form "[x1,x2,...]"
 *
 * Elements are parsed with strtof, as float4in does, so a literal reads
 * back to the same bits that vector_out printed.  They are collected into
 * a buffer that grows on demand rather than a VECTOR_MAX_DIM stack array.
 */
PG_FUNCTION_INFO_V1(vector_in);
Datum
vector_in(PG_FUNCTION_ARGS)
{
	char	   *lit = PG_GETARG_CSTRING(0);
	int32		typmod = PG_GETARG_INT32(2);
	char	   *pt = lit;
	float	   *values;
	int			capacity = 16;
	int			dim = 0;
	Vector	   *result;

	while (VEC_ISSPACE(*pt))
		pt++;

	if (*pt != '[')
		ReportBadLiteral(lit, "Vector contents must start with \"[\".");
	pt++;

	while (VEC_ISSPACE(*pt))
		pt++;

	if (*pt == ']')
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("vector must have at least 1 dimension")));

	values = palloc_array(float, capacity);

	for (;;)
	{
		char	   *end;
		float		value;

		if (dim == VECTOR_MAX_DIM)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("vector cannot have more than %d dimensions", VECTOR_MAX_DIM)));

		while (VEC_ISSPACE(*pt))
			pt++;

		/* strtof would skip other whitespace and accept an empty tail */
		if (*pt == '\0')
			ReportBadLiteral(lit, NULL);

		errno = 0;
		value = strtof(pt, &end);
		if (end == pt)
			ReportBadLiteral(lit, NULL);

		/* overflow, as float4in reports it; underflow to zero is accepted */
		if (errno == ERANGE && isinf(value))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("\"%s\" is out of range for type vector",
							pnstrdup(pt, end - pt))));

		VecCheckElement(value);

		if (dim == capacity)
		{
			capacity *= 2;
			values = repalloc_array(values, float, capacity);
		}
		values[dim++] = value;

		pt = end;
		while (VEC_ISSPACE(*pt))
			pt++;

		if (*pt == ',')
			pt++;
		else if (*pt == ']')
		{
			pt++;
			break;
		}
		else
			ReportBadLiteral(lit, NULL);
	}

	while (VEC_ISSPACE(*pt))
		pt++;

	if (*pt != '\0')
		ReportBadLiteral(lit, "Junk after closing right brace.");

	VecCheckDim(dim);
	VecCheckExpectedDim(typmod, dim);

	result = VecInitVector(dim);
	memcpy(result->x, values, sizeof(float) * dim);
	pfree(values);

	PG_RETURN_VECTOR_P(result);
}

/*
 * Print a vector as "[x1,x2,...]" with the shortest exact float4 digits
 */
PG_FUNCTION_INFO_V1(vector_out);
Datum
vector_out(PG_FUNCTION_ARGS)
{
	Vector	   *vec = PG_GETARG_VECTOR_P(0);
	int			dim = vec->dim;
	char	   *buf;
	char	   *pt;

	/* each element takes at most FLOAT_SHORTEST_DECIMAL_LEN - 1 characters */
	buf = palloc((Size) dim * FLOAT_SHORTEST_DECIMAL_LEN + 2);
	pt = buf;

	*pt++ = '[';
	for (int i = 0; i < dim; i++)
	{
		if (i > 0)
			*pt++ = ',';
		pt += float_to_shortest_decimal_bufn(vec->x[i], pt);
	}
	*pt++ = ']';
	*pt = '\0';

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
	ArrayType  *ta = PG_GETARG_ARRAYTYPE_P(0);
	int32	   *tl;
	int			n;

	tl = ArrayGetIntegerTypmods(ta, &n);

	if (n != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid type modifier")));

	if (tl[0] < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dimensions for type vector must be at least 1")));

	if (tl[0] > VECTOR_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dimensions for type vector cannot exceed %d", VECTOR_MAX_DIM)));

	PG_RETURN_INT32(tl[0]);
}

/*
 * Print the type modifier as "(n)", or nothing when there is none
 */
PG_FUNCTION_INFO_V1(vector_typmod_out);
Datum
vector_typmod_out(PG_FUNCTION_ARGS)
{
	int32		typmod = PG_GETARG_INT32(0);

	if (typmod < 0)
		PG_RETURN_CSTRING(pstrdup(""));
	PG_RETURN_CSTRING(psprintf("(%d)", typmod));
}

/*
 * Read the binary form: int16 dim, int16 unused, dim big-endian float4
 */
PG_FUNCTION_INFO_V1(vector_recv);
Datum
vector_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int32		typmod = PG_GETARG_INT32(2);
	int16		dim;
	int16		unused;
	Vector	   *result;

	dim = (int16) pq_getmsgint(buf, sizeof(int16));
	unused = (int16) pq_getmsgint(buf, sizeof(int16));

	VecCheckDim(dim);
	VecCheckExpectedDim(typmod, dim);

	if (unused != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected unused to be 0, not %d", unused)));

	/* a short message fails in pq_getmsgfloat4 before we read past it */
	result = VecInitVector(dim);
	for (int i = 0; i < dim; i++)
	{
		result->x[i] = pq_getmsgfloat4(buf);
		VecCheckElement(result->x[i]);
	}

	PG_RETURN_VECTOR_P(result);
}

/*
 * Write the binary form read by vector_recv
 */
PG_FUNCTION_INFO_V1(vector_send);
Datum
vector_send(PG_FUNCTION_ARGS)
{
	Vector	   *vec = PG_GETARG_VECTOR_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint16(&buf, vec->dim);
	pq_sendint16(&buf, vec->unused);
	for (int i = 0; i < vec->dim; i++)
		pq_sendfloat4(&buf, vec->x[i]);

	PG_FREE_IF_COPY(vec, 0);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
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
	ArrayType  *array = PG_GETARG_ARRAYTYPE_P(0);
	int32		typmod = PG_GETARG_INT32(1);
	Oid			elemtype = ARR_ELEMTYPE(array);
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;
	int			nelems;
	Vector	   *result;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("array must be 1-D")));

	if (array_contains_nulls(array))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("array must not contain nulls")));

	if (elemtype != INT4OID && elemtype != FLOAT4OID &&
		elemtype != FLOAT8OID && elemtype != NUMERICOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("unsupported array type")));

	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(array, elemtype, typlen, typbyval, typalign,
					  &elems, NULL, &nelems);

	VecCheckDim(nelems);
	VecCheckExpectedDim(typmod, nelems);

	result = VecInitVector(nelems);
	for (int i = 0; i < nelems; i++)
	{
		switch (elemtype)
		{
			case INT4OID:
				result->x[i] = (float) DatumGetInt32(elems[i]);
				break;
			case FLOAT4OID:
				result->x[i] = DatumGetFloat4(elems[i]);
				break;
			case FLOAT8OID:
				result->x[i] = (float) DatumGetFloat8(elems[i]);
				break;
			default:
				/* numeric_float4 reports out-of-range values itself */
				result->x[i] = DatumGetFloat4(DirectFunctionCall1(numeric_float4,
																  elems[i]));
				break;
		}
		VecCheckElement(result->x[i]);
	}

	/* the elements of a by-reference array point into the array itself */
	pfree(elems);

	PG_RETURN_VECTOR_P(result);
}

/*
 * Convert a vector to real[]
 */
PG_FUNCTION_INFO_V1(vector_to_float4);
Datum
vector_to_float4(PG_FUNCTION_ARGS)
{
	Vector	   *vec = PG_GETARG_VECTOR_P(0);
	Datum	   *datums = palloc_array(Datum, vec->dim);
	ArrayType  *result;

	for (int i = 0; i < vec->dim; i++)
		datums[i] = Float4GetDatum(vec->x[i]);

	result = construct_array(datums, vec->dim, FLOAT4OID, sizeof(float4),
							 true, TYPALIGN_INT);

	pfree(datums);
	PG_FREE_IF_COPY(vec, 0);
	PG_RETURN_POINTER(result);
}
