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
#include "vector/veccommon.h"
#include "vector/vecdist.h"
#include "vector/vector.h"

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
	char	   *pt;
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

	pt = VecSkipSpace(lit);

	if (*pt != '{')
		VecReportBadLiteral(&VecSparsevecInfo, lit, "Vector contents must start with \"{\".");
	pt++;

	pt = VecSkipSpace(pt);

	if (*pt == '}')
		pt++;
	else
	{
		for (;;)
		{
			int32		index;
			float		value;

			pt = VecSkipSpace(pt);

			if (*pt == '\0')
				VecReportBadLiteral(&VecSparsevecInfo, lit, NULL);

			errno = 0;
			index = ClampToInt32(strtol(pt, &end, 10));
			if (end == pt)
				VecReportBadLiteral(&VecSparsevecInfo, lit, NULL);
			pt = VecSkipSpace(end);

			if (*pt != ':')
				VecReportBadLiteral(&VecSparsevecInfo, lit, NULL);
			pt++;

			pt = VecSkipSpace(pt);

			errno = 0;
			value = strtof(pt, &end);
			if (end == pt)
				VecReportBadLiteral(&VecSparsevecInfo, lit, NULL);

			/* overflow and underflow to zero, as float4in reports them */
			if (errno == ERANGE && (value == 0 || isinf(value)))
				VecReportOutOfRange(&VecSparsevecInfo, pnstrdup(pt, end - pt));

			VecCheckFiniteOf(&VecSparsevecInfo, value);

			if (value != 0)
			{
				/* index 1 in text is 0 on disk; INT_MIN + 1 - 1 cannot wrap */
				elements[nnz].index = (index == INT_MIN ? INT_MIN : index - 1);
				elements[nnz].value = value;
				nnz++;
			}

			pt = VecSkipSpace(end);

			if (*pt == ',')
				pt++;
			else if (*pt == '}')
			{
				pt++;
				break;
			}
			else
				VecReportBadLiteral(&VecSparsevecInfo, lit, NULL);
		}
	}

	pt = VecSkipSpace(pt);

	if (*pt != '/')
		VecReportBadLiteral(&VecSparsevecInfo, lit, "Unexpected end of input.");
	pt++;

	pt = VecSkipSpace(pt);

	errno = 0;
	dim = ClampToInt32(strtol(pt, &end, 10));
	if (end == pt)
		VecReportBadLiteral(&VecSparsevecInfo, lit, NULL);
	pt = VecSkipSpace(end);

	if (*pt != '\0')
		VecReportBadLiteral(&VecSparsevecInfo, lit, "Junk after closing.");

	VecCheckDimOf(&VecSparsevecInfo, dim);
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
	PG_RETURN_INT32(VecTypmodIn(&VecSparsevecInfo, PG_GETARG_ARRAYTYPE_P(0)));
}

/*
 * Print the type modifier as "(n)"
 */
PG_FUNCTION_INFO_V1(sparsevec_typmod_out);
Datum
sparsevec_typmod_out(PG_FUNCTION_ARGS)
{
	PG_RETURN_CSTRING(VecTypmodOut(PG_GETARG_INT32(0)));
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

	VecCheckDimOf(&VecSparsevecInfo, dim);
	CheckNnz(nnz, dim);
	VecCheckExpectedDim(typmod, dim);

	VecCheckUnused(unused);

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
		VecCheckFiniteOf(&VecSparsevecInfo, values[i]);
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

	VecCheckDimOf(&VecSparsevecInfo, vec->dim);
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

	VecCheckDimOf(&VecSparsevecInfo, vec->dim);
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
	int			dim;
	float	   *x = VecArrayToFloats(&VecSparsevecInfo, array, typmod, &dim);
	SparseVector *result = SparseFromDense(x, dim);

	pfree(x);
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

	VecCheckDimOf(&VecHalfvecInfo, svec->dim);
	VecCheckExpectedDim(typmod, svec->dim);

	result = VecInitHalfVector(svec->dim);
	for (int i = 0; i < svec->nnz; i++)
		result->x[svec->indices[i]] = VecFloatToHalfChecked(values[i]);

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
 * A distance between the two sparsevec arguments of fcinfo, in double
 */
static double
SparseDistance(FunctionCallInfo fcinfo, const VecTypeInfo *t, VecMetric metric)
{
	SparseVector *a = PG_GETARG_SPARSEVEC_P(0);
	SparseVector *b = PG_GETARG_SPARSEVEC_P(1);

	VecCheckDimsOf(t, a->dim, b->dim);

	switch (metric)
	{
		case VEC_METRIC_L2:
			return sqrt(SparseL2SquaredDouble(a, b));
		case VEC_METRIC_L2_SQUARED:
			return SparseL2SquaredDouble(a, b);
		case VEC_METRIC_INNER:
			return SparseInnerProductDouble(a, b);
		case VEC_METRIC_NEG_INNER:
			return -SparseInnerProductDouble(a, b);
		case VEC_METRIC_COSINE:
			return VecCosineDistance(SparseInnerProductDouble(a, b),
									 SparseSquaredNormDouble(a),
									 SparseSquaredNormDouble(b));
		case VEC_METRIC_L1:
			return SparseL1Double(a, b);
		case VEC_METRIC_SPHERICAL:
			break;
	}
	elog(ERROR, "unsupported sparsevec metric %d", (int) metric);
	pg_unreachable();
}

/*
 * Euclidean distance
 */
VEC_DISTANCE_FUNCTION(sparsevec_l2_distance, SparseDistance, &VecSparsevecInfo, VEC_METRIC_L2)

/*
 * Squared Euclidean distance (hnsw support: orders like l2_distance)
 */
VEC_DISTANCE_FUNCTION(sparsevec_l2_squared_distance, SparseDistance, &VecSparsevecInfo, VEC_METRIC_L2_SQUARED)

/*
 * Inner product
 */
VEC_DISTANCE_FUNCTION(sparsevec_inner_product, SparseDistance, &VecSparsevecInfo, VEC_METRIC_INNER)

/*
 * Negative inner product (the <#> operator and hnsw support)
 */
VEC_DISTANCE_FUNCTION(sparsevec_negative_inner_product, SparseDistance, &VecSparsevecInfo, VEC_METRIC_NEG_INNER)

/*
 * Cosine distance, 1 - cos(a, b); NaN when either norm is zero
 */
VEC_DISTANCE_FUNCTION(sparsevec_cosine_distance, SparseDistance, &VecSparsevecInfo, VEC_METRIC_COSINE)

/*
 * Taxicab distance
 */
VEC_DISTANCE_FUNCTION(sparsevec_l1_distance, SparseDistance, &VecSparsevecInfo, VEC_METRIC_L1)

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
CompareSparseVectors(const void *va, const void *vb)
{
	const SparseVector *a = va;
	const SparseVector *b = vb;
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
VEC_COMPARISON_FUNCTIONS(sparsevec, CompareSparseVectors)
