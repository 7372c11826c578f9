/*-------------------------------------------------------------------------
 *
 * veccommon.c
 *	  Logic shared by the vector, halfvec and sparsevec types: checks and
 *	  error reports, text and binary I/O pieces, type modifiers, array
 *	  casts, element-wise operations, comparisons and the avg() state.
 *
 * Every helper takes the type's VecTypeInfo (or the element kind of a
 * dense array), so each type keeps its own error texts and codes while the
 * logic exists once.  Elements are widened to float for arithmetic; halves
 * are rounded back to nearest even when stored.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"

#include "compat.h"
#include "vector/halfvec.h"
#include "vector/sparsevec.h"
#include "vector/veccommon.h"
#include "vector/vector.h"

const VecTypeInfo VecVectorInfo = {"vector", VECTOR_MAX_DIM, VEC_ELEM_FLOAT4};
const VecTypeInfo VecHalfvecInfo = {"halfvec", HALFVEC_MAX_DIM, VEC_ELEM_HALF};
const VecTypeInfo VecSparsevecInfo = {"sparsevec", SPARSEVEC_MAX_DIM, VEC_ELEM_FLOAT4};

StaticAssertDecl(offsetof(Vector, x) == offsetof(VecDenseData, x),
				 "vector and VecDenseData layouts differ");
StaticAssertDecl(offsetof(HalfVector, x) == offsetof(VecDenseData, x),
				 "halfvec and VecDenseData layouts differ");

/*
 * Bytes taken by one element of the given kind
 */
static inline Size
ElemSize(VecElemKind kind)
{
	return (kind == VEC_ELEM_HALF) ? sizeof(half) : sizeof(float);
}

/*
 * Reject a dimension count outside 1..t->maxdim
 */
void
VecCheckDimOf(const VecTypeInfo *t, int dim)
{
	if (dim < 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s must have at least 1 dimension", t->name)));

	if (dim > t->maxdim)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s cannot have more than %d dimensions", t->name, t->maxdim)));
}

/*
 * Reject two operands of a binary operation with different dimensions
 */
void
VecCheckDimsOf(const VecTypeInfo *t, int a, int b)
{
	if (a != b)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different %s dimensions %d and %d", t->name, a, b)));
}

/*
 * Reject NaN and infinite element values
 */
void
VecCheckFiniteOf(const VecTypeInfo *t, float value)
{
	if (isnan(value))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("NaN not allowed in %s", t->name)));

	if (isinf(value))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("infinite value not allowed in %s", t->name)));
}

/*
 * Reject a binary form whose reserved field is not zero
 */
void
VecCheckUnused(int unused)
{
	if (unused != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected unused to be 0, not %d", unused)));
}

/*
 * Report a malformed literal, optionally with a detail line
 */
void
VecReportBadLiteral(const VecTypeInfo *t, const char *lit, const char *detail)
{
	if (detail)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type %s: \"%s\"", t->name, lit),
				 errdetail("%s", detail)));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type %s: \"%s\"", t->name, lit)));
	pg_unreachable();
}

/*
 * Report a number (as text) that does not fit the type's elements
 */
void
VecReportOutOfRange(const VecTypeInfo *t, const char *text)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("\"%s\" is out of range for type %s", text, t->name)));
	pg_unreachable();
}

/*
 * Whether a finite float rounds to infinity in binary16
 */
static bool
HalfOverflows(float value, half h)
{
	return isinf(VecHalfToFloat(h)) && !isinf(value);
}

/*
 * Convert a float to binary16, failing when a finite value overflows
 *
 * Infinity and NaN pass through unchanged, for the finiteness check to
 * report with its own message.
 */
half
VecFloatToHalfChecked(float value)
{
	half		result = VecFloatToHalf(value);

	if (unlikely(HalfOverflows(value, result)))
	{
		char		buf[FLOAT_SHORTEST_DECIMAL_LEN];

		float_to_shortest_decimal_buf(value, buf);
		VecReportOutOfRange(&VecHalfvecInfo, buf);
	}
	return result;
}

/*
 * Parse the dense text form "[x1,x2,...]" into a palloc'd float array
 *
 * Elements are read with strtof, as float4in does, so a literal reads back
 * to the bits the output function printed; for binary16 elements a value
 * that rounds to infinity is out of range (that double rounding is what
 * pgvector does too).  The buffer grows on demand rather than taking
 * maxdim floats up front.  The dimension count is checked against the
 * type's limits and typmod.
 */
float *
VecParseDenseLiteral(const VecTypeInfo *t, char *lit, int32 typmod, int *dim)
{
	char	   *pt = VecSkipSpace(lit);
	float	   *values;
	int			capacity = 16;
	int			n = 0;

	if (*pt != '[')
		VecReportBadLiteral(t, lit, "Vector contents must start with \"[\".");
	pt = VecSkipSpace(pt + 1);

	if (*pt == ']')
		VecCheckDimOf(t, 0);

	values = palloc_array(float, capacity);

	for (;;)
	{
		char	   *end;
		float		value;

		if (n == t->maxdim)
			VecCheckDimOf(t, n + 1);

		pt = VecSkipSpace(pt);

		/* strtof would skip other whitespace and accept an empty tail */
		if (*pt == '\0')
			VecReportBadLiteral(t, lit, NULL);

		errno = 0;
		value = strtof(pt, &end);
		if (end == pt)
			VecReportBadLiteral(t, lit, NULL);

		/* overflow of the float (as float4in reports it) or of its half */
		if ((errno == ERANGE && isinf(value)) ||
			(t->kind == VEC_ELEM_HALF && HalfOverflows(value, VecFloatToHalf(value))))
			VecReportOutOfRange(t, pnstrdup(pt, end - pt));

		VecCheckFiniteOf(t, value);

		if (n == capacity)
		{
			capacity *= 2;
			values = repalloc_array(values, float, capacity);
		}
		values[n++] = value;

		pt = VecSkipSpace(end);

		if (*pt == ',')
			pt++;
		else if (*pt == ']')
		{
			pt++;
			break;
		}
		else
			VecReportBadLiteral(t, lit, NULL);
	}

	if (*VecSkipSpace(pt) != '\0')
		VecReportBadLiteral(t, lit, "Junk after closing right brace.");

	VecCheckDimOf(t, n);
	VecCheckExpectedDim(typmod, n);

	*dim = n;
	return values;
}

/*
 * Print a dense element array as "[x1,x2,...]", each element with the
 * shortest float4 digits that read back to the same value
 */
char *
VecDenseOut(VecElemKind kind, const void *x, int dim)
{
	/* each element takes at most FLOAT_SHORTEST_DECIMAL_LEN - 1 characters */
	char	   *buf = palloc((Size) dim * FLOAT_SHORTEST_DECIMAL_LEN + 2);
	char	   *pt = buf;

	*pt++ = '[';
	for (int i = 0; i < dim; i++)
	{
		if (i > 0)
			*pt++ = ',';
		pt += float_to_shortest_decimal_bufn(VecElemAt(kind, x, i), pt);
	}
	*pt++ = ']';
	*pt = '\0';
	return buf;
}

/*
 * Allocate a zero-filled dense value of dim elements of the given kind
 */
VecDenseData *
VecInitDense(VecElemKind kind, int dim)
{
	Size		size = offsetof(VecDenseData, x) + ElemSize(kind) * dim;
	VecDenseData *result = (VecDenseData *) palloc0(size);

	SET_VARSIZE(result, size);
	result->dim = dim;
	return result;
}

/*
 * Read the binary form of a dense type: int16 dim, int16 unused, then dim
 * big-endian float4 values or binary16 bit patterns, each checked finite
 */
VecDenseData *
VecRecvDense(const VecTypeInfo *t, StringInfo buf, int32 typmod)
{
	int16		dim = (int16) pq_getmsgint(buf, sizeof(int16));
	int16		unused = (int16) pq_getmsgint(buf, sizeof(int16));
	VecDenseData *result;

	VecCheckDimOf(t, dim);
	VecCheckExpectedDim(typmod, dim);
	VecCheckUnused(unused);

	/* a short message fails in pq_getmsg* before we read past it */
	result = VecInitDense(t->kind, dim);
	for (int i = 0; i < dim; i++)
	{
		if (t->kind == VEC_ELEM_HALF)
			((half *) result->x)[i] = (half) pq_getmsgint(buf, sizeof(half));
		else
			((float *) result->x)[i] = pq_getmsgfloat4(buf);
		VecCheckFiniteOf(t, VecElemAt(t->kind, result->x, i));
	}
	return result;
}

/*
 * Write the binary form VecRecvDense reads
 */
bytea *
VecSendDense(VecElemKind kind, const VecDenseData *v)
{
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint16(&buf, v->dim);
	pq_sendint16(&buf, v->unused);
	for (int i = 0; i < v->dim; i++)
	{
		if (kind == VEC_ELEM_HALF)
			pq_sendint16(&buf, ((const half *) v->x)[i]);
		else
			pq_sendfloat4(&buf, ((const float *) v->x)[i]);
	}
	return pq_endtypsend(&buf);
}

/*
 * Parse a type modifier "(n)", 1 <= n <= t->maxdim
 */
int32
VecTypmodIn(const VecTypeInfo *t, ArrayType *ta)
{
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
				 errmsg("dimensions for type %s must be at least 1", t->name)));

	if (tl[0] > t->maxdim)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dimensions for type %s cannot exceed %d", t->name, t->maxdim)));

	return tl[0];
}

/*
 * Print a type modifier as "(n)", or nothing when there is none
 */
char *
VecTypmodOut(int32 typmod)
{
	if (typmod < 0)
		return pstrdup("");
	return psprintf("(%d)", typmod);
}

/*
 * Convert one array element to float, as the float4 casts do
 */
static float
ArrayElementToFloat(Oid elemtype, Datum value)
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
 * Convert a 1-D integer[], real[], double precision[] or numeric[] without
 * nulls to a palloc'd float array for type t
 *
 * The dimension count is checked against t's limits and typmod.  Each
 * element must be finite; for binary16 every element is first checked to
 * fit (as the cast rounds them all) and only then to be finite.
 */
float *
VecArrayToFloats(const VecTypeInfo *t, ArrayType *array, int32 typmod, int *dim)
{
	Oid			elemtype = ARR_ELEMTYPE(array);
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;
	int			nelems;
	float	   *result;

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

	VecCheckDimOf(t, nelems);
	VecCheckExpectedDim(typmod, nelems);

	result = palloc_array(float, nelems);
	for (int i = 0; i < nelems; i++)
	{
		result[i] = ArrayElementToFloat(elemtype, elems[i]);
		if (t->kind == VEC_ELEM_HALF)
			(void) VecFloatToHalfChecked(result[i]);
		else
			VecCheckFiniteOf(t, result[i]);
	}
	if (t->kind == VEC_ELEM_HALF)
	{
		for (int i = 0; i < nelems; i++)
			VecCheckFiniteOf(t, result[i]);
	}

	/* the elements of a by-reference array point into the array itself */
	pfree(elems);

	*dim = nelems;
	return result;
}

/*
 * Convert a dense element array to real[]
 */
ArrayType *
VecDenseToFloat4Array(VecElemKind kind, const void *x, int dim)
{
	Datum	   *datums = palloc_array(Datum, dim);
	ArrayType  *result;

	for (int i = 0; i < dim; i++)
		datums[i] = Float4GetDatum(VecElemAt(kind, x, i));

	result = construct_array(datums, dim, FLOAT4OID, sizeof(float4),
							 true, TYPALIGN_INT);
	pfree(datums);
	return result;
}

/*
 * Sum of squares of a dense element array, accumulated in float8
 */
double
VecSquaredNorm(VecElemKind kind, const void *x, int dim)
{
	double		sum = 0.0;

	for (int i = 0; i < dim; i++)
	{
		double		v = VecElemAt(kind, x, i);

		sum += v * v;
	}
	return sum;
}

/*
 * Scale a dense element array to unit Euclidean norm into out (zeroed by
 * the caller); a zero array stays zero
 */
void
VecNormalize(VecElemKind kind, const void *x, int dim, void *out)
{
	double		norm = sqrt(VecSquaredNorm(kind, x, dim));

	if (norm <= 0.0)
		return;

	for (int i = 0; i < dim; i++)
	{
		float		value = (float) (VecElemAt(kind, x, i) / norm);

		if (kind == VEC_ELEM_HALF)
			((half *) out)[i] = VecFloatToHalf(value);
		else
			((float *) out)[i] = value;
		if (isinf(value))
			float_overflow_error();
	}
}

/*
 * Quantize to one bit per element: bit i is set when element i is positive
 */
VarBit *
VecBinaryQuantize(VecElemKind kind, const void *x, int dim)
{
	int			size = VARBITTOTALLEN(dim);
	VarBit	   *result = (VarBit *) palloc0(size);
	bits8	   *bits = VARBITS(result);

	SET_VARSIZE(result, size);
	VARBITLEN(result) = dim;

	for (int i = 0; i < dim; i++)
	{
		if (VecElemAt(kind, x, i) > 0)
			bits[i / BITS_PER_BYTE] |= (bits8) (0x80 >> (i % BITS_PER_BYTE));
	}
	return result;
}

/*
 * Elements start .. start + count - 1 (1-based) of a dense value
 *
 * Like substring, a start before 1 shortens the result instead of failing;
 * a result with no elements is an error.
 */
VecDenseData *
VecSubvector(const VecTypeInfo *t, const VecDenseData *a, int32 start,
			 int32 count)
{
	int64		end;
	int64		n;
	VecDenseData *result;

	if (count < 1)
		VecCheckDimOf(t, 0);

	/* 64-bit arithmetic: start + count may overflow int32 */
	end = Min((int64) start + count, (int64) a->dim + 1);

	if (start < 1)
		start = 1;
	else if (start > a->dim)
		VecCheckDimOf(t, 0);

	n = end - start;
	VecCheckDimOf(t, n < 1 ? 0 : (int) n);

	result = VecInitDense(t->kind, (int) n);
	memcpy(result->x, a->x + ElemSize(t->kind) * (start - 1),
		   ElemSize(t->kind) * n);
	return result;
}

/*
 * Concatenation of two dense values
 */
VecDenseData *
VecConcat(const VecTypeInfo *t, const VecDenseData *a, const VecDenseData *b)
{
	Size		elemsize = ElemSize(t->kind);
	VecDenseData *result;

	VecCheckDimOf(t, a->dim + b->dim);
	result = VecInitDense(t->kind, a->dim + b->dim);
	memcpy(result->x, a->x, elemsize * a->dim);
	memcpy(result->x + elemsize * a->dim, b->x, elemsize * b->dim);
	return result;
}

/*
 * out = a op b element by element, failing on overflow and, for products
 * of non-zero factors, on underflow to zero (as float4 arithmetic does)
 */
void
VecArith(VecElemKind kind, VecArithOp op, int dim,
		 const void *a, const void *b, void *out)
{
	for (int i = 0; i < dim; i++)
	{
		float		x = VecElemAt(kind, a, i);
		float		y = VecElemAt(kind, b, i);
		float		r;

		switch (op)
		{
			case VEC_ARITH_ADD:
				r = x + y;
				break;
			case VEC_ARITH_SUB:
				r = x - y;
				break;
			default:
				r = x * y;
				break;
		}

		/* the value stored, after rounding for binary16 */
		if (kind == VEC_ELEM_HALF)
		{
			half		h = VecFloatToHalf(r);

			((half *) out)[i] = h;
			r = VecHalfToFloat(h);
		}
		else
			((float *) out)[i] = r;

		/* finite inputs can only become infinite by overflow */
		if (unlikely(isinf(r)))
			float_overflow_error();
		if (op == VEC_ARITH_MUL && unlikely(r == 0) && x != 0 && y != 0)
			float_underflow_error();
	}
}

/*
 * 1 - cos(a, b) from a.b, |a|^2 and |b|^2; NaN when either norm is zero
 */
double
VecCosineDistance(double ab, double aa, double bb)
{
	if (aa == 0 || bb == 0)
		return get_float8_nan();

	/* sqrt(aa * bb) rather than sqrt(aa) * sqrt(bb): one rounding less */
	return 1.0 - VecClampUnit(ab / sqrt(aa * bb));
}

/*
 * A distance between the two dense arguments of fcinfo, both of type t,
 * computed by the run-time chosen kernels of vecdist.h
 *
 * The kernels accumulate in float4 and the result is widened to float8,
 * as pgvector does.  Vector cosine has no zero-norm test: 0/0 is its NaN.
 */
double
VecDenseDistance(FunctionCallInfo fcinfo, const VecTypeInfo *t, VecMetric metric)
{
	const VecDenseData *a = (const VecDenseData *) PG_GETARG_VARLENA_P(0);
	const VecDenseData *b = (const VecDenseData *) PG_GETARG_VARLENA_P(1);
	bool		half16 = (t->kind == VEC_ELEM_HALF);
	int			dim = a->dim;
	const float *af = (const float *) a->x;
	const float *bf = (const float *) b->x;
	const half *ah = (const half *) a->x;
	const half *bh = (const half *) b->x;
	float		ab,
				aa,
				bb;

	VecCheckDimsOf(t, a->dim, b->dim);

	switch (metric)
	{
		case VEC_METRIC_L2:
			return sqrt((double) (half16 ? VecL2SquaredF16(dim, ah, bh) :
								  VecL2SquaredF32(dim, af, bf)));
		case VEC_METRIC_L2_SQUARED:
			return (double) (half16 ? VecL2SquaredF16(dim, ah, bh) :
							 VecL2SquaredF32(dim, af, bf));
		case VEC_METRIC_INNER:
			return (double) (half16 ? VecInnerProductF16(dim, ah, bh) :
							 VecInnerProductF32(dim, af, bf));
		case VEC_METRIC_NEG_INNER:
			return -(double) (half16 ? VecInnerProductF16(dim, ah, bh) :
							  VecInnerProductF32(dim, af, bf));
		case VEC_METRIC_COSINE:
			if (half16)
			{
				VecCosinePartsF16(dim, ah, bh, &ab, &aa, &bb);
				return VecCosineDistance(ab, aa, bb);
			}
			VecCosinePartsF32(dim, af, bf, &ab, &aa, &bb);
			/* one square root of the product loses less than two */
			return 1.0 - VecClampUnit((double) ab / sqrt((double) aa * (double) bb));
		case VEC_METRIC_SPHERICAL:
			return VecSphericalDistance((double) (half16 ? VecInnerProductF16(dim, ah, bh) :
												  VecInnerProductF32(dim, af, bf)));
		case VEC_METRIC_L1:
			return (double) (half16 ? VecL1F16(dim, ah, bh) : VecL1F32(dim, af, bf));
	}
	pg_unreachable();
}

/*
 * Angle between unit vectors divided by pi, from their inner product
 *
 * The inner product is clamped first: rounding can push it just past 1.
 */
double
VecSphericalDistance(double dp)
{
	return acos(VecClampUnit(dp)) / M_PI;
}

/*
 * Three-way comparison of dense element arrays: elements first, then the
 * dimension count, so a prefix sorts first (the way Postgres orders arrays)
 */
int
VecCompareDense(VecElemKind kind, const void *ax, int adim,
				const void *bx, int bdim)
{
	int			dim = Min(adim, bdim);

	for (int i = 0; i < dim; i++)
	{
		float		x = VecElemAt(kind, ax, i);
		float		y = VecElemAt(kind, bx, i);

		if (x < y)
			return -1;
		if (x > y)
			return 1;
	}

	if (adim < bdim)
		return -1;
	if (adim > bdim)
		return 1;
	return 0;
}

/*
 * Compare the two arguments of fcinfo with cmp and free detoasted copies
 */
int
VecCompareArgs(FunctionCallInfo fcinfo, VecCompareFn cmp)
{
	struct varlena *a = PG_GETARG_VARLENA_P(0);
	struct varlena *b = PG_GETARG_VARLENA_P(1);
	int			result = cmp(a, b);

	PG_FREE_IF_COPY(a, 0);
	PG_FREE_IF_COPY(b, 1);
	return result;
}

/*
 * Validate an avg state array and return its elements {n, sums...}
 */
float8 *
VecStateCheck(ArrayType *state, const char *caller)
{
	if (ARR_NDIM(state) != 1 ||
		ARR_DIMS(state)[0] < 1 ||
		ARR_HASNULL(state) ||
		ARR_ELEMTYPE(state) != FLOAT8OID)
		elog(ERROR, "%s: expected state array", caller);
	return (float8 *) ARR_DATA_PTR(state);
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
 * The state to update: in place inside an aggregate (the state belongs to
 * the aggregate's memory context, as for float8_accum), else a copy, so a
 * direct call leaves its argument alone
 */
static ArrayType *
WritableState(FunctionCallInfo fcinfo, ArrayType *state)
{
	if (AggCheckCallContext(fcinfo, NULL))
		return state;
	return DatumGetArrayTypePCopy(PointerGetDatum(state));
}

/*
 * avg transition: add the dense element array x to the state {n, sums...}
 *
 * The first value replaces the initial state {0} with one of the right
 * size, which nodeAgg copies into the aggregate context.
 */
ArrayType *
VecStateAccum(FunctionCallInfo fcinfo, ArrayType *state, const char *caller,
			  VecElemKind kind, const void *x, int dim)
{
	float8	   *sums = VecStateCheck(state, caller);
	ArrayType  *result;

	if (sums[0] == 0.0)
	{
		result = NewStateArray(dim);
		sums = (float8 *) ARR_DATA_PTR(result);
		sums[0] = 1.0;
		for (int i = 0; i < dim; i++)
			sums[i + 1] = VecElemAt(kind, x, i);
		return result;
	}

	VecCheckExpectedDim(ARR_DIMS(state)[0] - 1, dim);

	result = WritableState(fcinfo, state);
	sums = (float8 *) ARR_DATA_PTR(result);
	sums[0] += 1.0;
	for (int i = 0; i < dim; i++)
	{
		sums[i + 1] += VecElemAt(kind, x, i);
		if (isinf(sums[i + 1]))
			float_overflow_error();
	}
	return result;
}

/*
 * avg combine: merge two partial states, into the first in place when
 * called as an aggregate
 */
ArrayType *
VecStateCombine(FunctionCallInfo fcinfo, ArrayType *state1, ArrayType *state2,
				const char *caller)
{
	float8	   *sums1 = VecStateCheck(state1, caller);
	float8	   *sums2 = VecStateCheck(state2, caller);
	ArrayType  *result;
	float8	   *sums;
	int			dim;

	if (sums2[0] == 0.0)
		return state1;
	if (sums1[0] == 0.0)
		return state2;

	dim = ARR_DIMS(state1)[0] - 1;
	VecCheckExpectedDim(dim, ARR_DIMS(state2)[0] - 1);

	result = WritableState(fcinfo, state1);
	sums = (float8 *) ARR_DATA_PTR(result);
	for (int i = 0; i <= dim; i++)
	{
		sums[i] += sums2[i];
		if (isinf(sums[i]))
			float_overflow_error();
	}
	return result;
}

/*
 * avg final: the state's elements {n, sums...}, or NULL when no rows were
 * seen; *dim is set to the dimension count, checked against t's limits
 */
float8 *
VecStateSums(const VecTypeInfo *t, ArrayType *state, const char *caller,
			 int *dim)
{
	float8	   *sums = VecStateCheck(state, caller);

	if (sums[0] == 0.0)
		return NULL;

	*dim = ARR_DIMS(state)[0] - 1;
	VecCheckDimOf(t, *dim);
	return sums;
}
