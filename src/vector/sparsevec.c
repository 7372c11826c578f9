/*-------------------------------------------------------------------------
 *
 * sparsevec.c
 *	  The sparsevec type: I/O, casts, distances and comparisons.
 *
 * A sparsevec stores only its non-zero elements, as strictly increasing
 * 0-based indices followed by their float4 values, in pgvector's layout.
 * Every way a value can enter keeps three invariants the distance code
 * relies on: indices sorted and unique and below dim, values finite, and
 * no stored zeros.  The text form numbers elements from 1; the binary form
 * and the disk form from 0.
 *
 * Distances walk both index lists in one merge pass, accumulating in
 * double.  VecSparseL2Squared and friends are exported for the hnsw index.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>
#include <math.h>

#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "fmgr.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"

#include "compat.h"
#include "vector/halfvec.h"
#include "vector/sparsevec.h"
#include "vector/vecdist.h"
#include "vector/vector.h"

/* the characters pgvector accepts around tokens (scanner_isspace) */
#define SPARSE_ISSPACE(c) \
	((c) == ' ' || (c) == '\t' || (c) == '\n' || (c) == '\r' || (c) == '\v' || (c) == '\f')

/* one parsed "index:value" pair of the text form, index 0-based */
typedef struct SparseInputElement
{
	int32		index;
	float		value;
} SparseInputElement;

/*
 * Allocate a sparsevec with room for nnz elements, all zero
 */
SparseVector *
VecInitSparseVector(int dim, int nnz)
{
	Size		size = SPARSEVEC_SIZE(nnz);
	SparseVector *result = (SparseVector *) palloc0(size);

	SET_VARSIZE(result, size);
	result->dim = dim;
	result->nnz = nnz;
	return result;
}

/*
 * Reject a dimension count outside 1..SPARSEVEC_MAX_DIM
 */
static void
CheckDim(int dim)
{
	if (dim < 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("sparsevec must have at least 1 dimension")));

	if (dim > SPARSEVEC_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("sparsevec cannot have more than %d dimensions", SPARSEVEC_MAX_DIM)));
}

/*
 * Reject a non-zero count that is negative, too large, or above dim
 */
static void
CheckNnz(int nnz, int dim)
{
	if (nnz < 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("sparsevec cannot have negative number of elements")));

	if (nnz > SPARSEVEC_MAX_NNZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("sparsevec cannot have more than %d non-zero elements", SPARSEVEC_MAX_NNZ)));

	if (nnz > dim)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("sparsevec cannot have more elements than dimensions")));
}

/*
 * Reject index i of indices unless 0 <= index < dim and above its
 * predecessor
 */
static void
CheckIndex(const int32 *indices, int i, int dim)
{
	int32		index = indices[i];

	if (index < 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("index must be greater than zero")));

	if (index >= dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("index must be less than or equal to dimensions")));

	if (i > 0)
	{
		if (index < indices[i - 1])
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("indexes must be in ascending order")));

		if (index == indices[i - 1])
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("indexes must not contain duplicates")));
	}
}

/*
 * Reject NaN and infinite values
 */
static void
CheckElement(float value)
{
	if (isnan(value))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("NaN not allowed in sparsevec")));

	if (isinf(value))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("infinite value not allowed in sparsevec")));
}

/*
 * Reject two operands with different dimensions
 */
static void
CheckDims(const SparseVector *a, const SparseVector *b)
{
	if (a->dim != b->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different sparsevec dimensions %d and %d", a->dim, b->dim)));
}

/*
 * Report a malformed sparsevec literal, optionally with a detail line
 */
static void
ReportBadLiteral(const char *lit, const char *detail)
{
	if (detail)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type sparsevec: \"%s\"", lit),
				 errdetail("%s", detail)));
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type sparsevec: \"%s\"", lit)));
}

/*
 * qsort comparator: by index
 */
static int
CompareInputElements(const void *a, const void *b)
{
	int32		ia = ((const SparseInputElement *) a)->index;
	int32		ib = ((const SparseInputElement *) b)->index;

	return (ia > ib) - (ia < ib);
}

/*
 * Clamp a strtol result into int32, keeping it out of range on the same
 * side so the later range check reports the right message
 */
static int32
ClampToInt32(long value)
{
	if (value > INT_MAX)
		return INT_MAX;
	if (value < INT_MIN)
		return INT_MIN;
	return (int32) value;
}

/*
 * Parse the text form "{i1:v1,i2:v2,...}/dim" (1-based indices)
 *
 * Pairs may come in any order; they are sorted, and a repeated index is
 * an error.  Zero values are dropped.
 */
PG_FUNCTION_INFO_V1(sparsevec_in);
Datum
sparsevec_in(PG_FUNCTION_ARGS)
{
	char	   *lit = PG_GETARG_CSTRING(0);
	int32		typmod = PG_GETARG_INT32(2);
	char	   *pt = lit;
	char	   *end;
	int			maxnnz = 1;
	int			nnz = 0;
	int32		dim;
	SparseInputElement *elements;
	SparseVector *result;
	float	   *values;

	/* each pair but the last is followed by a comma: bound nnz up front */
	for (const char *c = lit; *c != '\0'; c++)
		if (*c == ',')
			maxnnz++;

	if (maxnnz > SPARSEVEC_MAX_NNZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("sparsevec cannot have more than %d non-zero elements", SPARSEVEC_MAX_NNZ)));

	elements = palloc_array(SparseInputElement, maxnnz);

	while (SPARSE_ISSPACE(*pt))
		pt++;

	if (*pt != '{')
		ReportBadLiteral(lit, "Vector contents must start with \"{\".");
	pt++;

	while (SPARSE_ISSPACE(*pt))
		pt++;

	if (*pt == '}')
		pt++;
	else
	{
		for (;;)
		{
			int32		index;
			float		value;

			while (SPARSE_ISSPACE(*pt))
				pt++;

			if (*pt == '\0')
				ReportBadLiteral(lit, NULL);

			errno = 0;
			index = ClampToInt32(strtol(pt, &end, 10));
			if (end == pt)
				ReportBadLiteral(lit, NULL);
			pt = end;

			while (SPARSE_ISSPACE(*pt))
				pt++;

			if (*pt != ':')
				ReportBadLiteral(lit, NULL);
			pt++;

			while (SPARSE_ISSPACE(*pt))
				pt++;

			errno = 0;
			value = strtof(pt, &end);
			if (end == pt)
				ReportBadLiteral(lit, NULL);

			/* overflow and underflow to zero, as float4in reports them */
			if (errno == ERANGE && (value == 0 || isinf(value)))
				ereport(ERROR,
						(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
						 errmsg("\"%s\" is out of range for type sparsevec",
								pnstrdup(pt, end - pt))));

			CheckElement(value);

			if (value != 0)
			{
				/* index 1 in text is 0 on disk; INT_MIN + 1 - 1 cannot wrap */
				elements[nnz].index = (index == INT_MIN ? INT_MIN : index - 1);
				elements[nnz].value = value;
				nnz++;
			}

			pt = end;
			while (SPARSE_ISSPACE(*pt))
				pt++;

			if (*pt == ',')
				pt++;
			else if (*pt == '}')
			{
				pt++;
				break;
			}
			else
				ReportBadLiteral(lit, NULL);
		}
	}

	while (SPARSE_ISSPACE(*pt))
		pt++;

	if (*pt != '/')
		ReportBadLiteral(lit, "Unexpected end of input.");
	pt++;

	while (SPARSE_ISSPACE(*pt))
		pt++;

	errno = 0;
	dim = ClampToInt32(strtol(pt, &end, 10));
	if (end == pt)
		ReportBadLiteral(lit, NULL);
	pt = end;

	while (SPARSE_ISSPACE(*pt))
		pt++;

	if (*pt != '\0')
		ReportBadLiteral(lit, "Junk after closing.");

	CheckDim(dim);
	VecCheckExpectedDim(typmod, dim);

	qsort(elements, nnz, sizeof(SparseInputElement), CompareInputElements);

	result = VecInitSparseVector(dim, nnz);
	values = SPARSEVEC_VALUES(result);
	for (int i = 0; i < nnz; i++)
	{
		result->indices[i] = elements[i].index;
		values[i] = elements[i].value;
		CheckIndex(result->indices, i, dim);
	}

	pfree(elements);
	PG_RETURN_SPARSEVEC_P(result);
}

/*
 * Print the text form with 1-based indices
 */
PG_FUNCTION_INFO_V1(sparsevec_out);
Datum
sparsevec_out(PG_FUNCTION_ARGS)
{
	SparseVector *svec = PG_GETARG_SPARSEVEC_P(0);
	float	   *values = SPARSEVEC_VALUES(svec);

	/* per pair: 10 digits, ':', a float, ','; then "{}/", 10 digits, NUL */
	char	   *buf = palloc((Size) svec->nnz * (12 + FLOAT_SHORTEST_DECIMAL_LEN) + 16);
	char	   *ptr = buf;

	*ptr++ = '{';
	for (int i = 0; i < svec->nnz; i++)
	{
		if (i > 0)
			*ptr++ = ',';
		ptr += pg_ltoa(svec->indices[i] + 1, ptr);
		*ptr++ = ':';
		ptr += float_to_shortest_decimal_bufn(values[i], ptr);
	}
	*ptr++ = '}';
	*ptr++ = '/';
	ptr += pg_ltoa(svec->dim, ptr);
	*ptr = '\0';

	PG_FREE_IF_COPY(svec, 0);
	PG_RETURN_CSTRING(buf);
}

/*
 * Parse the type modifier: sparsevec(n), 1 <= n <= SPARSEVEC_MAX_DIM
 */
PG_FUNCTION_INFO_V1(sparsevec_typmod_in);
Datum
sparsevec_typmod_in(PG_FUNCTION_ARGS)
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
				 errmsg("dimensions for type sparsevec must be at least 1")));

	if (*tl > SPARSEVEC_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dimensions for type sparsevec cannot exceed %d", SPARSEVEC_MAX_DIM)));

	PG_RETURN_INT32(*tl);
}

/*
 * Print the type modifier as "(n)"
 */
PG_FUNCTION_INFO_V1(sparsevec_typmod_out);
Datum
sparsevec_typmod_out(PG_FUNCTION_ARGS)
{
	int32		typmod = PG_GETARG_INT32(0);

	if (typmod < 0)
		PG_RETURN_CSTRING(pstrdup(""));
	PG_RETURN_CSTRING(psprintf("(%d)", typmod));
}

/*
 * Read the binary form: int32 dim, nnz, unused, nnz 0-based int32 indices,
 * nnz float4 values
 */
PG_FUNCTION_INFO_V1(sparsevec_recv);
Datum
sparsevec_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int32		typmod = PG_GETARG_INT32(2);
	int32		dim;
	int32		nnz;
	int32		unused;
	SparseVector *result;
	float	   *values;

	dim = (int32) pq_getmsgint(buf, sizeof(int32));
	nnz = (int32) pq_getmsgint(buf, sizeof(int32));
	unused = (int32) pq_getmsgint(buf, sizeof(int32));

	CheckDim(dim);
	CheckNnz(nnz, dim);
	VecCheckExpectedDim(typmod, dim);

	if (unused != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected unused to be 0, not %d", unused)));

	result = VecInitSparseVector(dim, nnz);
	values = SPARSEVEC_VALUES(result);

	for (int i = 0; i < nnz; i++)
	{
		result->indices[i] = (int32) pq_getmsgint(buf, sizeof(int32));
		CheckIndex(result->indices, i, dim);
	}

	for (int i = 0; i < nnz; i++)
	{
		values[i] = pq_getmsgfloat4(buf);
		CheckElement(values[i]);
		if (values[i] == 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("binary representation of sparsevec cannot contain zero values")));
	}

	PG_RETURN_SPARSEVEC_P(result);
}

/*
 * Write the binary form, big-endian
 */
PG_FUNCTION_INFO_V1(sparsevec_send);
Datum
sparsevec_send(PG_FUNCTION_ARGS)
{
	SparseVector *svec = PG_GETARG_SPARSEVEC_P(0);
	float	   *values = SPARSEVEC_VALUES(svec);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint32(&buf, svec->dim);
	pq_sendint32(&buf, svec->nnz);
	pq_sendint32(&buf, svec->unused);
	for (int i = 0; i < svec->nnz; i++)
		pq_sendint32(&buf, svec->indices[i]);
	for (int i = 0; i < svec->nnz; i++)
		pq_sendfloat4(&buf, values[i]);

	PG_FREE_IF_COPY(svec, 0);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/*
 * Apply a type modifier (the sparsevec -> sparsevec(n) cast)
 */
PG_FUNCTION_INFO_V1(sparsevec);
Datum
sparsevec(PG_FUNCTION_ARGS)
{
	SparseVector *svec = PG_GETARG_SPARSEVEC_P(0);
	int32		typmod = PG_GETARG_INT32(1);

	VecCheckExpectedDim(typmod, svec->dim);

	PG_RETURN_SPARSEVEC_P(svec);
}

/*
 * Build a sparsevec from dim dense float values, dropping zeros
 */
static SparseVector *
SparseFromDense(const float *x, int dim)
{
	SparseVector *result;
	float	   *values;
	int			nnz = 0;
	int			j = 0;

	for (int i = 0; i < dim; i++)
		if (x[i] != 0)
			nnz++;

	CheckNnz(nnz, dim);

	result = VecInitSparseVector(dim, nnz);
	values = SPARSEVEC_VALUES(result);
	for (int i = 0; i < dim; i++)
	{
		if (x[i] != 0)
		{
			result->indices[j] = i;
			values[j] = x[i];
			j++;
		}
	}
	return result;
}

/*
 * Convert a vector to sparsevec
 */
PG_FUNCTION_INFO_V1(vector_to_sparsevec);
Datum
vector_to_sparsevec(PG_FUNCTION_ARGS)
{
	Vector	   *vec = PG_GETARG_VECTOR_P(0);
	int32		typmod = PG_GETARG_INT32(1);

	CheckDim(vec->dim);
	VecCheckExpectedDim(typmod, vec->dim);

	PG_RETURN_SPARSEVEC_P(SparseFromDense(vec->x, vec->dim));
}

/*
 * Convert a halfvec to sparsevec (exact)
 */
PG_FUNCTION_INFO_V1(halfvec_to_sparsevec);
Datum
halfvec_to_sparsevec(PG_FUNCTION_ARGS)
{
	HalfVector *vec = PG_GETARG_HALFVEC_P(0);
	int32		typmod = PG_GETARG_INT32(1);
	float	   *x;
	SparseVector *result;

	CheckDim(vec->dim);
	VecCheckExpectedDim(typmod, vec->dim);

	x = palloc_array(float, vec->dim);
	VecHalfToFloatArray(vec->dim, vec->x, x);
	result = SparseFromDense(x, vec->dim);
	pfree(x);

	PG_RETURN_SPARSEVEC_P(result);
}

/*
 * Convert an integer[], real[], double precision[] or numeric[] to
 * sparsevec
 */
PG_FUNCTION_INFO_V1(array_to_sparsevec);
Datum
array_to_sparsevec(PG_FUNCTION_ARGS)
{
	ArrayType  *array = PG_GETARG_ARRAYTYPE_P(0);
	int32		typmod = PG_GETARG_INT32(1);
	Oid			elemtype;
	Datum	   *elems;
	int			nelems;
	float	   *x;
	SparseVector *result;

	elems = VecArrayElements(array, &elemtype, &nelems);

	CheckDim(nelems);
	VecCheckExpectedDim(typmod, nelems);

	x = palloc_array(float, nelems);
	for (int i = 0; i < nelems; i++)
	{
		x[i] = VecArrayElementToFloat(elemtype, elems[i]);
		CheckElement(x[i]);
	}
	result = SparseFromDense(x, nelems);

	pfree(x);
	pfree(elems);
	PG_RETURN_SPARSEVEC_P(result);
}

/*
 * Convert a sparsevec to vector; dim must fit the vector type
 */
PG_FUNCTION_INFO_V1(sparsevec_to_vector);
Datum
sparsevec_to_vector(PG_FUNCTION_ARGS)
{
	SparseVector *svec = PG_GETARG_SPARSEVEC_P(0);
	int32		typmod = PG_GETARG_INT32(1);
	float	   *values = SPARSEVEC_VALUES(svec);
	Vector	   *result;

	VecCheckDim(svec->dim);
	VecCheckExpectedDim(typmod, svec->dim);

	result = VecInitVector(svec->dim);
	for (int i = 0; i < svec->nnz; i++)
		result->x[svec->indices[i]] = values[i];

	PG_FREE_IF_COPY(svec, 0);
	PG_RETURN_VECTOR_P(result);
}

/*
 * Convert a sparsevec to halfvec; dim and values must fit binary16 limits
 */
PG_FUNCTION_INFO_V1(sparsevec_to_halfvec);
Datum
sparsevec_to_halfvec(PG_FUNCTION_ARGS)
{
	SparseVector *svec = PG_GETARG_SPARSEVEC_P(0);
	int32		typmod = PG_GETARG_INT32(1);
	float	   *values = SPARSEVEC_VALUES(svec);
	HalfVector *result;

	if (svec->dim > HALFVEC_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("halfvec cannot have more than %d dimensions", HALFVEC_MAX_DIM)));
	VecCheckExpectedDim(typmod, svec->dim);

	result = VecInitHalfVector(svec->dim);
	for (int i = 0; i < svec->nnz; i++)
	{
		half		h = VecFloatToHalf(values[i]);

		if (unlikely((h & 0x7fff) == 0x7c00))
		{
			char		buf[FLOAT_SHORTEST_DECIMAL_LEN];

			float_to_shortest_decimal_buf(values[i], buf);
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("\"%s\" is out of range for type halfvec", buf)));
		}
		result->x[svec->indices[i]] = h;
	}

	PG_FREE_IF_COPY(svec, 0);
	PG_RETURN_HALFVEC_P(result);
}

/*
 * sum((a-b)^2) over the union of both index lists, in double
 */
static double
SparseL2SquaredDouble(const SparseVector *a, const SparseVector *b)
{
	const float *ax = SPARSEVEC_VALUES(a);
	const float *bx = SPARSEVEC_VALUES(b);
	double		sum = 0.0;
	int			i = 0,
				j = 0;

	while (i < a->nnz && j < b->nnz)
	{
		if (a->indices[i] == b->indices[j])
		{
			double		d = (double) ax[i++] - (double) bx[j++];

			sum += d * d;
		}
		else if (a->indices[i] < b->indices[j])
		{
			sum += (double) ax[i] * ax[i];
			i++;
		}
		else
		{
			sum += (double) bx[j] * bx[j];
			j++;
		}
	}
	for (; i < a->nnz; i++)
		sum += (double) ax[i] * ax[i];
	for (; j < b->nnz; j++)
		sum += (double) bx[j] * bx[j];
	return sum;
}

/*
 * sum(a*b) over the indices both have, in double
 */
static double
SparseInnerProductDouble(const SparseVector *a, const SparseVector *b)
{
	const float *ax = SPARSEVEC_VALUES(a);
	const float *bx = SPARSEVEC_VALUES(b);
	double		sum = 0.0;
	int			i = 0,
				j = 0;

	while (i < a->nnz && j < b->nnz)
	{
		if (a->indices[i] == b->indices[j])
			sum += (double) ax[i++] * bx[j++];
		else if (a->indices[i] < b->indices[j])
			i++;
		else
			j++;
	}
	return sum;
}

/*
 * sum(|a-b|) over the union of both index lists, in double
 */
static double
SparseL1Double(const SparseVector *a, const SparseVector *b)
{
	const float *ax = SPARSEVEC_VALUES(a);
	const float *bx = SPARSEVEC_VALUES(b);
	double		sum = 0.0;
	int			i = 0,
				j = 0;

	while (i < a->nnz && j < b->nnz)
	{
		if (a->indices[i] == b->indices[j])
			sum += fabs((double) ax[i++] - (double) bx[j++]);
		else if (a->indices[i] < b->indices[j])
			sum += fabs((double) ax[i++]);
		else
			sum += fabs((double) bx[j++]);
	}
	for (; i < a->nnz; i++)
		sum += fabs((double) ax[i]);
	for (; j < b->nnz; j++)
		sum += fabs((double) bx[j]);
	return sum;
}

/*
 * sum(a^2), in double
 */
static double
SparseSquaredNormDouble(const SparseVector *a)
{
	const float *ax = SPARSEVEC_VALUES(a);
	double		sum = 0.0;

	for (int i = 0; i < a->nnz; i++)
		sum += (double) ax[i] * ax[i];
	return sum;
}

/*
 * Squared Euclidean distance (for the hnsw index; dims already checked)
 */
float
VecSparseL2Squared(const SparseVector *a, const SparseVector *b)
{
	return (float) SparseL2SquaredDouble(a, b);
}

/*
 * Inner product (for the hnsw index; dims already checked)
 */
float
VecSparseInnerProduct(const SparseVector *a, const SparseVector *b)
{
	return (float) SparseInnerProductDouble(a, b);
}

/*
 * Taxicab distance (for the hnsw index; dims already checked)
 */
float
VecSparseL1(const SparseVector *a, const SparseVector *b)
{
	return (float) SparseL1Double(a, b);
}

/*
 * Euclidean norm (for the hnsw index)
 */
float
VecSparseNorm(const SparseVector *a)
{
	return (float) sqrt(SparseSquaredNormDouble(a));
}

/*
 * Euclidean distance
 */
PG_FUNCTION_INFO_V1(sparsevec_l2_distance);
Datum
sparsevec_l2_distance(PG_FUNCTION_ARGS)
{
	SparseVector *a = PG_GETARG_SPARSEVEC_P(0);
	SparseVector *b = PG_GETARG_SPARSEVEC_P(1);

	CheckDims(a, b);
	PG_RETURN_FLOAT8(sqrt(SparseL2SquaredDouble(a, b)));
}

/*
 * Squared Euclidean distance (hnsw support: orders like l2_distance)
 */
PG_FUNCTION_INFO_V1(sparsevec_l2_squared_distance);
Datum
sparsevec_l2_squared_distance(PG_FUNCTION_ARGS)
{
	SparseVector *a = PG_GETARG_SPARSEVEC_P(0);
	SparseVector *b = PG_GETARG_SPARSEVEC_P(1);

	CheckDims(a, b);
	PG_RETURN_FLOAT8(SparseL2SquaredDouble(a, b));
}

/*
 * Inner product
 */
PG_FUNCTION_INFO_V1(sparsevec_inner_product);
Datum
sparsevec_inner_product(PG_FUNCTION_ARGS)
{
	SparseVector *a = PG_GETARG_SPARSEVEC_P(0);
	SparseVector *b = PG_GETARG_SPARSEVEC_P(1);

	CheckDims(a, b);
	PG_RETURN_FLOAT8(SparseInnerProductDouble(a, b));
}

/*
 * Negative inner product (the <#> operator and hnsw support)
 */
PG_FUNCTION_INFO_V1(sparsevec_negative_inner_product);
Datum
sparsevec_negative_inner_product(PG_FUNCTION_ARGS)
{
	SparseVector *a = PG_GETARG_SPARSEVEC_P(0);
	SparseVector *b = PG_GETARG_SPARSEVEC_P(1);

	CheckDims(a, b);
	PG_RETURN_FLOAT8(-SparseInnerProductDouble(a, b));
}

/*
 * Cosine distance, 1 - cos(a, b); NaN when either norm is zero
 */
PG_FUNCTION_INFO_V1(sparsevec_cosine_distance);
Datum
sparsevec_cosine_distance(PG_FUNCTION_ARGS)
{
	SparseVector *a = PG_GETARG_SPARSEVEC_P(0);
	SparseVector *b = PG_GETARG_SPARSEVEC_P(1);
	double		aa,
				bb,
				similarity;

	CheckDims(a, b);
	aa = SparseSquaredNormDouble(a);
	bb = SparseSquaredNormDouble(b);

	if (aa == 0 || bb == 0)
		PG_RETURN_FLOAT8(get_float8_nan());

	similarity = SparseInnerProductDouble(a, b) / sqrt(aa * bb);

	/* rounding can push the cosine slightly outside [-1, 1] */
	if (similarity > 1)
		similarity = 1;
	else if (similarity < -1)
		similarity = -1;

	PG_RETURN_FLOAT8(1 - similarity);
}

/*
 * Taxicab distance
 */
PG_FUNCTION_INFO_V1(sparsevec_l1_distance);
Datum
sparsevec_l1_distance(PG_FUNCTION_ARGS)
{
	SparseVector *a = PG_GETARG_SPARSEVEC_P(0);
	SparseVector *b = PG_GETARG_SPARSEVEC_P(1);

	CheckDims(a, b);
	PG_RETURN_FLOAT8(SparseL1Double(a, b));
}

/*
 * Euclidean norm
 */
PG_FUNCTION_INFO_V1(sparsevec_l2_norm);
Datum
sparsevec_l2_norm(PG_FUNCTION_ARGS)
{
	SparseVector *a = PG_GETARG_SPARSEVEC_P(0);

	PG_RETURN_FLOAT8(sqrt(SparseSquaredNormDouble(a)));
}

/*
 * Scale to unit Euclidean norm; values that underflow to zero are dropped
 */
PG_FUNCTION_INFO_V1(sparsevec_l2_normalize);
Datum
sparsevec_l2_normalize(PG_FUNCTION_ARGS)
{
	SparseVector *a = PG_GETARG_SPARSEVEC_P(0);
	const float *ax = SPARSEVEC_VALUES(a);
	double		norm = sqrt(SparseSquaredNormDouble(a));
	float	   *scaled = palloc_array(float, Max(a->nnz, 1));
	int			nnz = 0;
	int			j = 0;
	SparseVector *result;
	float	   *rx;

	/* stored values are non-zero, so norm > 0 whenever nnz > 0 */
	for (int i = 0; i < a->nnz; i++)
	{
		scaled[i] = (float) (ax[i] / norm);
		if (scaled[i] != 0)
			nnz++;
	}

	result = VecInitSparseVector(a->dim, nnz);
	rx = SPARSEVEC_VALUES(result);
	for (int i = 0; i < a->nnz; i++)
	{
		if (scaled[i] != 0)
		{
			result->indices[j] = a->indices[i];
			rx[j] = scaled[i];
			j++;
		}
	}

	pfree(scaled);
	PG_RETURN_SPARSEVEC_P(result);
}

/*
 * Three-way comparison with the order of the equivalent dense vectors:
 * the first differing element among the common dimensions decides, then
 * the shorter vector sorts first
 */
static int
CompareSparseVectors(const SparseVector *a, const SparseVector *b)
{
	const float *ax = SPARSEVEC_VALUES(a);
	const float *bx = SPARSEVEC_VALUES(b);
	int32		common = Min(a->dim, b->dim);
	int			i = 0,
				j = 0;

	while (i < a->nnz || j < b->nnz)
	{
		int32		ai = i < a->nnz ? a->indices[i] : INT_MAX;
		int32		bj = j < b->nnz ? b->indices[j] : INT_MAX;

		if (Min(ai, bj) >= common)
			break;

		if (ai == bj)
		{
			if (ax[i] != bx[j])
				return ax[i] < bx[j] ? -1 : 1;
			i++;
			j++;
		}
		else if (ai < bj)
			return ax[i] < 0 ? -1 : 1;	/* b is zero there */
		else
			return bx[j] < 0 ? 1 : -1;	/* a is zero there */
	}

	if (a->dim < b->dim)
		return -1;
	if (a->dim > b->dim)
		return 1;
	return 0;
}

/* Comparison functions for the operators and the btree opclass */
#define SPARSEVEC_COMPARE_FN(name, test) \
PG_FUNCTION_INFO_V1(name); \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	SparseVector *a = PG_GETARG_SPARSEVEC_P(0); \
	SparseVector *b = PG_GETARG_SPARSEVEC_P(1); \
	int			cmp = CompareSparseVectors(a, b); \
\
	PG_FREE_IF_COPY(a, 0); \
	PG_FREE_IF_COPY(b, 1); \
	test; \
}

SPARSEVEC_COMPARE_FN(sparsevec_lt, PG_RETURN_BOOL(cmp < 0))
SPARSEVEC_COMPARE_FN(sparsevec_le, PG_RETURN_BOOL(cmp <= 0))
SPARSEVEC_COMPARE_FN(sparsevec_eq, PG_RETURN_BOOL(cmp == 0))
SPARSEVEC_COMPARE_FN(sparsevec_ne, PG_RETURN_BOOL(cmp != 0))
SPARSEVEC_COMPARE_FN(sparsevec_ge, PG_RETURN_BOOL(cmp >= 0))
SPARSEVEC_COMPARE_FN(sparsevec_gt, PG_RETURN_BOOL(cmp > 0))
SPARSEVEC_COMPARE_FN(sparsevec_cmp, PG_RETURN_INT32(cmp))
