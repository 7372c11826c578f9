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

#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "fmgr.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/varbit.h"

#include "compat.h"
#include "vector/halfvec.h"
#include "vector/vecdist.h"
#include "vector/vector.h"

/* the characters pgvector accepts around elements (scanner_isspace) */
#define HALF_ISSPACE(c) \
	((c) == ' ' || (c) == '\t' || (c) == '\n' || (c) == '\r' || (c) == '\v' || (c) == '\f')

#define HALF_EXP_MASK	0x7c00
#define HALF_MAN_MASK	0x03ff
#define HALF_IS_NAN(h)	(((h) & HALF_EXP_MASK) == HALF_EXP_MASK && ((h) & HALF_MAN_MASK) != 0)
#define HALF_IS_INF(h)	(((h) & 0x7fff) == HALF_EXP_MASK)
#define HALF_IS_ZERO(h) (((h) & 0x7fff) == 0)

/*
 * Allocate a zero-filled halfvec of dim elements
 */
HalfVector *
VecInitHalfVector(int dim)
{
	Size		size = HALFVEC_SIZE(dim);
	HalfVector *result = (HalfVector *) palloc0(size);

	SET_VARSIZE(result, size);
	result->dim = dim;
	return result;
}

/*
 * Reject a dimension count outside 1..HALFVEC_MAX_DIM
 */
static void
CheckDim(int dim)
{
	if (dim < 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("halfvec must have at least 1 dimension")));

	if (dim > HALFVEC_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("halfvec cannot have more than %d dimensions", HALFVEC_MAX_DIM)));
}

/*
 * Reject two operands with different dimensions
 */
static void
CheckDims(const HalfVector *a, const HalfVector *b)
{
	if (a->dim != b->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different halfvec dimensions %d and %d", a->dim, b->dim)));
}

/*
 * Reject NaN and infinite elements
 */
static void
CheckElement(half value)
{
	if (HALF_IS_NAN(value))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("NaN not allowed in halfvec")));

	if (HALF_IS_INF(value))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("infinite value not allowed in halfvec")));
}

/*
 * Convert a float to binary16, failing when a finite value overflows
 *
 * Infinity and NaN pass through unchanged, for CheckElement to report with
 * its own message.
 */
static half
FloatToHalfChecked(float value)
{
	half		result = VecFloatToHalf(value);

	if (unlikely(HALF_IS_INF(result)) && !isinf(value))
	{
		char		buf[FLOAT_SHORTEST_DECIMAL_LEN];

		float_to_shortest_decimal_buf(value, buf);
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("\"%s\" is out of range for type halfvec", buf)));
	}
	return result;
}

/*
 * Report a malformed halfvec literal, optionally with a detail line
 */
static void
ReportBadLiteral(const char *lit, const char *detail)
{
	if (detail)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type halfvec: \"%s\"", lit),
				 errdetail("%s", detail)));
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type halfvec: \"%s\"", lit)));
}

/*
 * Parse the text form "[x1,x2,...]"
 *
 * Each element is read with strtof, as float4in does, then rounded to
 * binary16; that double rounding is what pgvector does too.
 */
PG_FUNCTION_INFO_V1(halfvec_in);
Datum
halfvec_in(PG_FUNCTION_ARGS)
{
	char	   *lit = PG_GETARG_CSTRING(0);
	int32		typmod = PG_GETARG_INT32(2);
	char	   *pt = lit;
	half	   *x;
	int			cap = 64;
	int			dim = 0;
	HalfVector *result;

	while (HALF_ISSPACE(*pt))
		pt++;

	if (*pt != '[')
		ReportBadLiteral(lit, "Vector contents must start with \"[\".");
	pt++;

	while (HALF_ISSPACE(*pt))
		pt++;

	if (*pt == ']')
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("halfvec must have at least 1 dimension")));

	x = palloc_array(half, cap);
	for (;;)
	{
		char	   *end;
		float		value;

		if (dim == HALFVEC_MAX_DIM)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("halfvec cannot have more than %d dimensions", HALFVEC_MAX_DIM)));

		while (HALF_ISSPACE(*pt))
			pt++;

		if (*pt == '\0')
			ReportBadLiteral(lit, NULL);

		errno = 0;
		value = strtof(pt, &end);
		if (end == pt)
			ReportBadLiteral(lit, NULL);

		if (dim == cap)
		{
			cap *= 2;
			x = repalloc_array(x, half, cap);
		}
		x[dim] = VecFloatToHalf(value);

		/* overflow of the float itself, or of the half it rounds to */
		if ((errno == ERANGE && isinf(value)) ||
			(HALF_IS_INF(x[dim]) && !isinf(value)))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("\"%s\" is out of range for type halfvec",
							pnstrdup(pt, end - pt))));

		CheckElement(x[dim]);
		dim++;
		pt = end;

		while (HALF_ISSPACE(*pt))
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

	while (HALF_ISSPACE(*pt))
		pt++;

	if (*pt != '\0')
		ReportBadLiteral(lit, "Junk after closing right brace.");

	CheckDim(dim);
	VecCheckExpectedDim(typmod, dim);

	result = VecInitHalfVector(dim);
	memcpy(result->x, x, sizeof(half) * dim);
	pfree(x);

	PG_RETURN_HALFVEC_P(result);
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
	char	   *buf = palloc((Size) vec->dim * FLOAT_SHORTEST_DECIMAL_LEN + 3);
	char	   *ptr = buf;

	*ptr++ = '[';
	for (int i = 0; i < vec->dim; i++)
	{
		if (i > 0)
			*ptr++ = ',';
		ptr += float_to_shortest_decimal_bufn(VecHalfToFloat(vec->x[i]), ptr);
	}
	*ptr++ = ']';
	*ptr = '\0';

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
	ArrayType  *ta = PG_GETARG_ARRAYTYPE_P(0);
	int32	   *tl;
	int			n;

	tl = ArrayGetIntegerTypmods(ta, &n);

	if (n != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid type modifier")));

	if (*tl < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dimensions for type halfvec must be at least 1")));

	if (*tl > HALFVEC_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dimensions for type halfvec cannot exceed %d", HALFVEC_MAX_DIM)));

	PG_RETURN_INT32(*tl);
}

/*
 * Print the type modifier as "(n)"
 */
PG_FUNCTION_INFO_V1(halfvec_typmod_out);
Datum
halfvec_typmod_out(PG_FUNCTION_ARGS)
{
	int32		typmod = PG_GETARG_INT32(0);

	if (typmod < 0)
		PG_RETURN_CSTRING(pstrdup(""));
	PG_RETURN_CSTRING(psprintf("(%d)", typmod));
}

/*
 * Read the binary form: int16 dim, int16 unused, dim binary16 bit patterns
 */
PG_FUNCTION_INFO_V1(halfvec_recv);
Datum
halfvec_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int32		typmod = PG_GETARG_INT32(2);
	int16		dim;
	int16		unused;
	HalfVector *result;

	dim = (int16) pq_getmsgint(buf, sizeof(int16));
	unused = (int16) pq_getmsgint(buf, sizeof(int16));

	CheckDim(dim);
	VecCheckExpectedDim(typmod, dim);

	if (unused != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected unused to be 0, not %d", unused)));

	result = VecInitHalfVector(dim);
	for (int i = 0; i < dim; i++)
	{
		result->x[i] = (half) pq_getmsgint(buf, sizeof(half));
		CheckElement(result->x[i]);
	}

	PG_RETURN_HALFVEC_P(result);
}

/*
 * Write the binary form, big-endian
 */
PG_FUNCTION_INFO_V1(halfvec_send);
Datum
halfvec_send(PG_FUNCTION_ARGS)
{
	HalfVector *vec = PG_GETARG_HALFVEC_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint16(&buf, vec->dim);
	pq_sendint16(&buf, vec->unused);
	for (int i = 0; i < vec->dim; i++)
		pq_sendint16(&buf, vec->x[i]);

	PG_FREE_IF_COPY(vec, 0);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
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
 * Deconstruct a 1-D integer[], real[], double precision[] or numeric[]
 * without nulls; the element type is returned in *elemtype
 */
Datum *
VecArrayElements(ArrayType *array, Oid *elemtype, int *nelems)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;

	*elemtype = ARR_ELEMTYPE(array);

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("array must be 1-D")));

	if (array_contains_nulls(array))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("array must not contain nulls")));

	if (*elemtype != INT4OID && *elemtype != FLOAT4OID &&
		*elemtype != FLOAT8OID && *elemtype != NUMERICOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("unsupported array type")));

	get_typlenbyvalalign(*elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(array, *elemtype, typlen, typbyval, typalign,
					  &elems, NULL, nelems);
	return elems;
}

/*
 * Convert one element from VecArrayElements to float, as float4 casts do
 */
float
VecArrayElementToFloat(Oid elemtype, Datum value)
{
	switch (elemtype)
	{
		case INT4OID:
			return (float) DatumGetInt32(value);
		case FLOAT4OID:
			return DatumGetFloat4(value);
		case FLOAT8OID:
			return (float) DatumGetFloat8(value);
		default:
			/* numeric_float4 reports out-of-range values itself */
			return DatumGetFloat4(DirectFunctionCall1(numeric_float4, value));
	}
}

/*
 * Convert an integer[], real[], double precision[] or numeric[] to halfvec
 */
PG_FUNCTION_INFO_V1(array_to_halfvec);
Datum
array_to_halfvec(PG_FUNCTION_ARGS)
{
	ArrayType  *array = PG_GETARG_ARRAYTYPE_P(0);
	int32		typmod = PG_GETARG_INT32(1);
	Oid			elemtype;
	Datum	   *elems;
	int			nelems;
	HalfVector *result;

	elems = VecArrayElements(array, &elemtype, &nelems);

	CheckDim(nelems);
	VecCheckExpectedDim(typmod, nelems);

	result = VecInitHalfVector(nelems);
	for (int i = 0; i < nelems; i++)
		result->x[i] = FloatToHalfChecked(VecArrayElementToFloat(elemtype, elems[i]));
	for (int i = 0; i < nelems; i++)
		CheckElement(result->x[i]);

	pfree(elems);
	PG_RETURN_HALFVEC_P(result);
}

/*
 * Convert a halfvec to real[]
 */
PG_FUNCTION_INFO_V1(halfvec_to_float4);
Datum
halfvec_to_float4(PG_FUNCTION_ARGS)
{
	HalfVector *vec = PG_GETARG_HALFVEC_P(0);
	Datum	   *datums = palloc_array(Datum, vec->dim);
	ArrayType  *result;

	for (int i = 0; i < vec->dim; i++)
		datums[i] = Float4GetDatum(VecHalfToFloat(vec->x[i]));

	result = construct_array(datums, vec->dim, FLOAT4OID, sizeof(float4),
							 true, TYPALIGN_INT);

	pfree(datums);
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

	CheckDim(vec->dim);
	VecCheckExpectedDim(typmod, vec->dim);

	result = VecInitHalfVector(vec->dim);
	for (int i = 0; i < vec->dim; i++)
		result->x[i] = FloatToHalfChecked(vec->x[i]);

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
PG_FUNCTION_INFO_V1(halfvec_l2_distance);
Datum
halfvec_l2_distance(PG_FUNCTION_ARGS)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);
	HalfVector *b = PG_GETARG_HALFVEC_P(1);

	CheckDims(a, b);
	PG_RETURN_FLOAT8(sqrt((double) VecL2SquaredF16(a->dim, a->x, b->x)));
}

/*
 * Squared Euclidean distance (hnsw support: orders like l2_distance, no sqrt)
 */
PG_FUNCTION_INFO_V1(halfvec_l2_squared_distance);
Datum
halfvec_l2_squared_distance(PG_FUNCTION_ARGS)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);
	HalfVector *b = PG_GETARG_HALFVEC_P(1);

	CheckDims(a, b);
	PG_RETURN_FLOAT8((double) VecL2SquaredF16(a->dim, a->x, b->x));
}

/*
 * Inner product
 */
PG_FUNCTION_INFO_V1(halfvec_inner_product);
Datum
halfvec_inner_product(PG_FUNCTION_ARGS)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);
	HalfVector *b = PG_GETARG_HALFVEC_P(1);

	CheckDims(a, b);
	PG_RETURN_FLOAT8((double) VecInnerProductF16(a->dim, a->x, b->x));
}

/*
 * Negative inner product (the <#> operator and hnsw support)
 */
PG_FUNCTION_INFO_V1(halfvec_negative_inner_product);
Datum
halfvec_negative_inner_product(PG_FUNCTION_ARGS)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);
	HalfVector *b = PG_GETARG_HALFVEC_P(1);

	CheckDims(a, b);
	PG_RETURN_FLOAT8(-(double) VecInnerProductF16(a->dim, a->x, b->x));
}

/*
 * Cosine distance, 1 - cos(a, b); NaN when either norm is zero
 */
PG_FUNCTION_INFO_V1(halfvec_cosine_distance);
Datum
halfvec_cosine_distance(PG_FUNCTION_ARGS)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);
	HalfVector *b = PG_GETARG_HALFVEC_P(1);
	float		ab,
				aa,
				bb;
	double		similarity;

	CheckDims(a, b);
	VecCosinePartsF16(a->dim, a->x, b->x, &ab, &aa, &bb);

	if (aa == 0 || bb == 0)
		PG_RETURN_FLOAT8(get_float8_nan());

	/* sqrt(aa * bb) rather than sqrt(aa) * sqrt(bb): one rounding less */
	similarity = (double) ab / sqrt((double) aa * (double) bb);

	/* rounding can push the cosine slightly outside [-1, 1] */
	if (similarity > 1)
		similarity = 1;
	else if (similarity < -1)
		similarity = -1;

	PG_RETURN_FLOAT8(1 - similarity);
}

/*
 * Angle between unit vectors divided by pi (hnsw support for cosine on
 * normalized values): a true metric, in [0, 1]
 */
PG_FUNCTION_INFO_V1(halfvec_spherical_distance);
Datum
halfvec_spherical_distance(PG_FUNCTION_ARGS)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);
	HalfVector *b = PG_GETARG_HALFVEC_P(1);
	double		dp;

	CheckDims(a, b);
	dp = (double) VecInnerProductF16(a->dim, a->x, b->x);

	if (dp > 1)
		dp = 1;
	else if (dp < -1)
		dp = -1;

	PG_RETURN_FLOAT8(acos(dp) / M_PI);
}

/*
 * Taxicab distance
 */
PG_FUNCTION_INFO_V1(halfvec_l1_distance);
Datum
halfvec_l1_distance(PG_FUNCTION_ARGS)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);
	HalfVector *b = PG_GETARG_HALFVEC_P(1);

	CheckDims(a, b);
	PG_RETURN_FLOAT8((double) VecL1F16(a->dim, a->x, b->x));
}

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
 * Sum of squares, accumulated in double
 */
static double
SquaredNorm(const HalfVector *a)
{
	double		sum = 0.0;

	for (int i = 0; i < a->dim; i++)
	{
		double		v = VecHalfToFloat(a->x[i]);

		sum += v * v;
	}
	return sum;
}

/*
 * Euclidean norm
 */
PG_FUNCTION_INFO_V1(halfvec_l2_norm);
Datum
halfvec_l2_norm(PG_FUNCTION_ARGS)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);

	PG_RETURN_FLOAT8(sqrt(SquaredNorm(a)));
}

/*
 * Scale to unit Euclidean norm; a zero vector stays zero
 */
PG_FUNCTION_INFO_V1(halfvec_l2_normalize);
Datum
halfvec_l2_normalize(PG_FUNCTION_ARGS)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);
	double		norm = sqrt(SquaredNorm(a));
	HalfVector *result = VecInitHalfVector(a->dim);

	/* |x| / norm <= 1, so no element can overflow */
	if (norm > 0)
	{
		for (int i = 0; i < a->dim; i++)
			result->x[i] = VecFloatToHalf((float) (VecHalfToFloat(a->x[i]) / norm));
	}

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
	VarBit	   *result = (VarBit *) palloc0(VARBITTOTALLEN(a->dim));
	bits8	   *bits = VARBITS(result);

	SET_VARSIZE(result, VARBITTOTALLEN(a->dim));
	VARBITLEN(result) = a->dim;

	for (int i = 0; i < a->dim; i++)
	{
		half		h = a->x[i];

		/* sign bit clear and not zero; elements are never NaN */
		if ((h & 0x8000) == 0 && !HALF_IS_ZERO(h))
			bits[i / BITS_PER_BYTE] |= (bits8) (0x80 >> (i % BITS_PER_BYTE));
	}

	PG_RETURN_VARBIT_P(result);
}

/*
 * Elements start .. start + count - 1 (1-based, clipped like substring)
 */
PG_FUNCTION_INFO_V1(halfvec_subvector);
Datum
halfvec_subvector(PG_FUNCTION_ARGS)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);
	int32		start = PG_GETARG_INT32(1);
	int32		count = PG_GETARG_INT32(2);
	int32		end;
	int			dim;
	HalfVector *result;

	if (count < 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("halfvec must have at least 1 dimension")));

	/* end = min(start + count, dim + 1), without overflowing int32 */
	if (start > a->dim - count)
		end = a->dim + 1;
	else
		end = start + count;

	if (start < 1)
		start = 1;
	else if (start > a->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("halfvec must have at least 1 dimension")));

	dim = end - start;
	CheckDim(dim);

	result = VecInitHalfVector(dim);
	memcpy(result->x, a->x + (start - 1), sizeof(half) * dim);

	PG_RETURN_HALFVEC_P(result);
}

/*
 * Round a float result of arithmetic, failing on overflow
 */
static inline half
ArithResult(float value)
{
	half		h = VecFloatToHalf(value);

	if (unlikely(HALF_IS_INF(h)))
		float_overflow_error();
	return h;
}

/*
 * Element-wise sum
 */
PG_FUNCTION_INFO_V1(halfvec_add);
Datum
halfvec_add(PG_FUNCTION_ARGS)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);
	HalfVector *b = PG_GETARG_HALFVEC_P(1);
	HalfVector *result;

	CheckDims(a, b);
	result = VecInitHalfVector(a->dim);
	for (int i = 0; i < a->dim; i++)
		result->x[i] = ArithResult(VecHalfToFloat(a->x[i]) + VecHalfToFloat(b->x[i]));

	PG_RETURN_HALFVEC_P(result);
}

/*
 * Element-wise difference
 */
PG_FUNCTION_INFO_V1(halfvec_sub);
Datum
halfvec_sub(PG_FUNCTION_ARGS)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);
	HalfVector *b = PG_GETARG_HALFVEC_P(1);
	HalfVector *result;

	CheckDims(a, b);
	result = VecInitHalfVector(a->dim);
	for (int i = 0; i < a->dim; i++)
		result->x[i] = ArithResult(VecHalfToFloat(a->x[i]) - VecHalfToFloat(b->x[i]));

	PG_RETURN_HALFVEC_P(result);
}

/*
 * Element-wise product, failing on overflow and on underflow to zero
 */
PG_FUNCTION_INFO_V1(halfvec_mul);
Datum
halfvec_mul(PG_FUNCTION_ARGS)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);
	HalfVector *b = PG_GETARG_HALFVEC_P(1);
	HalfVector *result;

	CheckDims(a, b);
	result = VecInitHalfVector(a->dim);
	for (int i = 0; i < a->dim; i++)
	{
		result->x[i] = ArithResult(VecHalfToFloat(a->x[i]) * VecHalfToFloat(b->x[i]));

		if (unlikely(HALF_IS_ZERO(result->x[i])) &&
			!HALF_IS_ZERO(a->x[i]) && !HALF_IS_ZERO(b->x[i]))
			float_underflow_error();
	}

	PG_RETURN_HALFVEC_P(result);
}

/*
 * Concatenation
 */
PG_FUNCTION_INFO_V1(halfvec_concat);
Datum
halfvec_concat(PG_FUNCTION_ARGS)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);
	HalfVector *b = PG_GETARG_HALFVEC_P(1);
	HalfVector *result;

	CheckDim(a->dim + b->dim);
	result = VecInitHalfVector(a->dim + b->dim);
	memcpy(result->x, a->x, sizeof(half) * a->dim);
	memcpy(result->x + a->dim, b->x, sizeof(half) * b->dim);

	PG_RETURN_HALFVEC_P(result);
}

/*
 * Three-way comparison: element by element, then the shorter first
 */
static int
CompareHalfVectors(const HalfVector *a, const HalfVector *b)
{
	int			dim = Min(a->dim, b->dim);

	for (int i = 0; i < dim; i++)
	{
		float		x = VecHalfToFloat(a->x[i]);
		float		y = VecHalfToFloat(b->x[i]);

		if (x < y)
			return -1;
		if (x > y)
			return 1;
	}

	if (a->dim < b->dim)
		return -1;
	if (a->dim > b->dim)
		return 1;
	return 0;
}

/* Comparison functions for the operators and the btree opclass */
#define HALFVEC_COMPARE_FN(name, test) \
PG_FUNCTION_INFO_V1(name); \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	HalfVector *a = PG_GETARG_HALFVEC_P(0); \
	HalfVector *b = PG_GETARG_HALFVEC_P(1); \
	int			cmp = CompareHalfVectors(a, b); \
\
	PG_FREE_IF_COPY(a, 0); \
	PG_FREE_IF_COPY(b, 1); \
	test; \
}

HALFVEC_COMPARE_FN(halfvec_lt, PG_RETURN_BOOL(cmp < 0))
HALFVEC_COMPARE_FN(halfvec_le, PG_RETURN_BOOL(cmp <= 0))
HALFVEC_COMPARE_FN(halfvec_eq, PG_RETURN_BOOL(cmp == 0))
HALFVEC_COMPARE_FN(halfvec_ne, PG_RETURN_BOOL(cmp != 0))
HALFVEC_COMPARE_FN(halfvec_ge, PG_RETURN_BOOL(cmp >= 0))
HALFVEC_COMPARE_FN(halfvec_gt, PG_RETURN_BOOL(cmp > 0))
HALFVEC_COMPARE_FN(halfvec_cmp, PG_RETURN_INT32(cmp))

/*
 * Validate an avg() state array: float8[] {n, sum_1, ..., sum_dim}
 */
static float8 *
CheckStateArray(ArrayType *state, const char *caller)
{
	if (ARR_NDIM(state) != 1 || ARR_DIMS(state)[0] < 1 ||
		ARR_HASNULL(state) || ARR_ELEMTYPE(state) != FLOAT8OID)
		elog(ERROR, "%s: expected state array", caller);
	return (float8 *) ARR_DATA_PTR(state);
}

/*
 * Build a fresh float8[] state of len elements from values
 */
static ArrayType *
MakeStateArray(const float8 *values, int len)
{
	Datum	   *datums = palloc_array(Datum, len);
	ArrayType  *result;

	for (int i = 0; i < len; i++)
		datums[i] = Float8GetDatum(values[i]);
	result = construct_array(datums, len, FLOAT8OID, sizeof(float8),
							 FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
	pfree(datums);
	return result;
}

/*
 * avg(halfvec) transition: add one value to the running sums
 *
 * Called as an aggregate, a state that already has its final length is
 * updated in place (as float8_accum does); the first value replaces the
 * initial {0} with a new array.
 */
PG_FUNCTION_INFO_V1(halfvec_accum);
Datum
halfvec_accum(PG_FUNCTION_ARGS)
{
	ArrayType  *state = PG_GETARG_ARRAYTYPE_P(0);
	HalfVector *val = PG_GETARG_HALFVEC_P(1);
	float8	   *sums = CheckStateArray(state, "halfvec_accum");
	int			len = ARR_DIMS(state)[0];
	float8	   *values;

	if (sums[0] == 0)
		len = val->dim + 1;
	else
		VecCheckExpectedDim(len - 1, val->dim);

	if (sums[0] != 0 && AggCheckCallContext(fcinfo, NULL))
		values = sums;
	else
	{
		values = palloc0_array(float8, len);
		if (sums[0] != 0)
			memcpy(values, sums, sizeof(float8) * len);
	}

	values[0] += 1.0;
	for (int i = 0; i < val->dim; i++)
		values[i + 1] += (double) VecHalfToFloat(val->x[i]);

	if (values == sums)
		PG_RETURN_ARRAYTYPE_P(state);
	PG_RETURN_ARRAYTYPE_P(MakeStateArray(values, len));
}

/*
 * avg(halfvec) combine: merge two partial states
 */
PG_FUNCTION_INFO_V1(halfvec_combine);
Datum
halfvec_combine(PG_FUNCTION_ARGS)
{
	ArrayType  *state1 = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *state2 = PG_GETARG_ARRAYTYPE_P(1);
	float8	   *sums1 = CheckStateArray(state1, "halfvec_combine");
	float8	   *sums2 = CheckStateArray(state2, "halfvec_combine");
	int			len1 = ARR_DIMS(state1)[0];
	int			len2 = ARR_DIMS(state2)[0];
	float8	   *values;

	if (sums2[0] == 0)
		PG_RETURN_ARRAYTYPE_P(MakeStateArray(sums1, len1));
	if (sums1[0] == 0)
		PG_RETURN_ARRAYTYPE_P(MakeStateArray(sums2, len2));

	VecCheckExpectedDim(len1 - 1, len2 - 1);

	values = palloc_array(float8, len1);
	for (int i = 0; i < len1; i++)
		values[i] = sums1[i] + sums2[i];

	PG_RETURN_ARRAYTYPE_P(MakeStateArray(values, len1));
}

/*
 * avg(halfvec) final: sums / n, NULL when no rows were seen
 */
PG_FUNCTION_INFO_V1(halfvec_avg);
Datum
halfvec_avg(PG_FUNCTION_ARGS)
{
	ArrayType  *state = PG_GETARG_ARRAYTYPE_P(0);
	float8	   *sums = CheckStateArray(state, "halfvec_avg");
	float8		n = sums[0];
	int			dim = ARR_DIMS(state)[0] - 1;
	HalfVector *result;

	if (n == 0)
		PG_RETURN_NULL();

	CheckDim(dim);
	result = VecInitHalfVector(dim);
	for (int i = 0; i < dim; i++)
	{
		result->x[i] = FloatToHalfChecked((float) (sums[i + 1] / n));
		CheckElement(result->x[i]);
	}

	PG_RETURN_HALFVEC_P(result);
}
