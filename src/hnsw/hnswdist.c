/*-------------------------------------------------------------------------
 *
 * hnswdist.c
 *	  Distances and values of the hnsw access method: the distance
 *	  descriptor of an index and how values are prepared for it.
 *
 * A descriptor maps the opclass (value kind and support function) to a
 * SIMD kernel, found once per backend and index and kept in rd_amcache.
 * Values are detoasted, normalized for cosine opclasses, and quantized
 * when the column is too wide for full precision in a page; a quantized
 * value carries the norms that bound its error, from which the scan
 * derives a lower bound of the exact distance for the executor.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/genam.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/varbit.h"

#include "compat.h"
#include "hnsw/hnsw.h"
#include "vector/halfvec.h"
#include "vector/sparsevec.h"
#include "vector/vecdist.h"
#include "vector/vector.h"

/*
 * Kernels per (kind, metric).  Values are varlenas of the indexed type;
 * the index guarantees equal dimensions between elements and queries.
 */
static float
VectorL2(HnswDistance d, const char *a, const char *b)
{
	const Vector *x = (const Vector *) a;

	return VecL2SquaredF32(x->dim, x->x, ((const Vector *) b)->x);
}

static float
VectorIp(HnswDistance d, const char *a, const char *b)
{
	const Vector *x = (const Vector *) a;

	return -VecInnerProductF32(x->dim, x->x, ((const Vector *) b)->x);
}

static float
VectorL1(HnswDistance d, const char *a, const char *b)
{
	const Vector *x = (const Vector *) a;

	return VecL1F32(x->dim, x->x, ((const Vector *) b)->x);
}

static float
HalfvecL2(HnswDistance d, const char *a, const char *b)
{
	const HalfVector *x = (const HalfVector *) a;

	return VecL2SquaredF16(x->dim, x->x, ((const HalfVector *) b)->x);
}

static float
HalfvecIp(HnswDistance d, const char *a, const char *b)
{
	const HalfVector *x = (const HalfVector *) a;

	return -VecInnerProductF16(x->dim, x->x, ((const HalfVector *) b)->x);
}

static float
HalfvecL1(HnswDistance d, const char *a, const char *b)
{
	const HalfVector *x = (const HalfVector *) a;

	return VecL1F16(x->dim, x->x, ((const HalfVector *) b)->x);
}

/*
 * Quantized values: binary16 ones go straight to the binary16 kernels,
 * int8 ones are decoded into the descriptor's scratch space first
 */
static void
DecodeInt8(const HnswQuantValue *v, float *out)
{
	const int8 *x = (const int8 *) v->x;

	for (int i = 0; i < v->dim; i++)
		out[i] = v->offset + v->scale * (float) (x[i] + 128);
}

static float
QuantL2(HnswDistance d, const char *a, const char *b)
{
	const HnswQuantValue *x = (const HnswQuantValue *) a;
	const HnswQuantValue *y = (const HnswQuantValue *) b;

	if (x->format == HNSW_QUANT_HALF)
		return VecL2SquaredF16(x->dim, (const half *) x->x, (const half *) y->x);
	DecodeInt8(x, d->scratch);
	DecodeInt8(y, d->scratch + x->dim);
	return VecL2SquaredF32(x->dim, d->scratch, d->scratch + x->dim);
}

static float
QuantIp(HnswDistance d, const char *a, const char *b)
{
	const HnswQuantValue *x = (const HnswQuantValue *) a;
	const HnswQuantValue *y = (const HnswQuantValue *) b;

	if (x->format == HNSW_QUANT_HALF)
		return -VecInnerProductF16(x->dim, (const half *) x->x, (const half *) y->x);
	DecodeInt8(x, d->scratch);
	DecodeInt8(y, d->scratch + x->dim);
	return -VecInnerProductF32(x->dim, d->scratch, d->scratch + x->dim);
}

static float
QuantL1(HnswDistance d, const char *a, const char *b)
{
	const HnswQuantValue *x = (const HnswQuantValue *) a;
	const HnswQuantValue *y = (const HnswQuantValue *) b;

	if (x->format == HNSW_QUANT_HALF)
		return VecL1F16(x->dim, (const half *) x->x, (const half *) y->x);
	DecodeInt8(x, d->scratch);
	DecodeInt8(y, d->scratch + x->dim);
	return VecL1F32(x->dim, d->scratch, d->scratch + x->dim);
}

static float
SparsevecL2(HnswDistance d, const char *a, const char *b)
{
	return VecSparseL2Squared((const SparseVector *) a, (const SparseVector *) b);
}

static float
SparsevecIp(HnswDistance d, const char *a, const char *b)
{
	return -VecSparseInnerProduct((const SparseVector *) a, (const SparseVector *) b);
}

static float
SparsevecL1(HnswDistance d, const char *a, const char *b)
{
	return VecSparseL1((const SparseVector *) a, (const SparseVector *) b);
}

static float
BitHamming(HnswDistance d, const char *a, const char *b)
{
	const VarBit *x = (const VarBit *) a;

	return (float) VecHammingBits(VARBITBYTES(x), VARBITS(x), VARBITS((const VarBit *) b));
}

static float
BitJaccard(HnswDistance d, const char *a, const char *b)
{
	const VarBit *x = (const VarBit *) a;
	uint64_t	ab,
				aa,
				bb;

	VecJaccardBits(VARBITBYTES(x), VARBITS(x), VARBITS((const VarBit *) b), &ab, &aa, &bb);
	if (ab == 0)
		return 1.0f;
	return 1.0f - (float) ((double) ab / (double) (aa + bb - ab));
}

static float
FmgrDistance(HnswDistance d, const char *a, const char *b)
{
	return (float) DatumGetFloat8(FunctionCall2Coll(d->procinfo, d->collation,
													PointerGetDatum(a),
													PointerGetDatum(b)));
}


/*
 * The index's cache, built on first use
 */
HnswCache *
HnswGetCache(Relation index)
{
	HnswCache  *cache;
	HnswDistance d;
	const HnswTypeInfo *typeinfo;
	char	   *procname;
	int			dimensions;
	static const struct
	{
		const char *name;
		HnswMetric	metric;
	}			known[] =
	{
		{"vector_l2_squared_distance", HNSW_METRIC_L2},
		{"vector_negative_inner_product", HNSW_METRIC_IP},
		{"l1_distance", HNSW_METRIC_L1},
		{"halfvec_l2_squared_distance", HNSW_METRIC_L2},
		{"halfvec_negative_inner_product", HNSW_METRIC_IP},
		{"sparsevec_l2_squared_distance", HNSW_METRIC_L2},
		{"sparsevec_negative_inner_product", HNSW_METRIC_IP},
		{"hamming_distance", HNSW_METRIC_HAMMING},
		{"jaccard_distance", HNSW_METRIC_JACCARD},
	};

	if (index->rd_amcache != NULL)
		return (HnswCache *) index->rd_amcache;

	cache = MemoryContextAllocZero(index->rd_indexcxt, sizeof(HnswCache));
	d = &cache->dist;
	d->procinfo = index_getprocinfo(index, 1, HNSW_DISTANCE_PROC);
	d->collation = index->rd_indcollation[0];
	if (OidIsValid(index_getprocid(index, 1, HNSW_NORM_PROC)))
	{
		d->normprocinfo = index_getprocinfo(index, 1, HNSW_NORM_PROC);
		d->normalize = true;
	}
	typeinfo = (const HnswTypeInfo *) DatumGetPointer(OidFunctionCall0(index_getprocid(index, 1, HNSW_TYPE_INFO_PROC)));
	d->kind = typeinfo->kind;

	d->metric = HNSW_METRIC_FMGR;
	procname = get_func_name(index_getprocid(index, 1, HNSW_DISTANCE_PROC));
	for (int i = 0; procname != NULL && i < lengthof(known); i++)
		if (strcmp(procname, known[i].name) == 0)
			d->metric = known[i].metric;

	d->fn = FmgrDistance;
	dimensions = TupleDescAttr(RelationGetDescr(index), 0)->atttypmod;
	d->dimensions = dimensions;
	if (d->kind == HNSW_KIND_VECTOR && dimensions > HNSW_FULL_VECTOR_DIM)
		d->quant = HNSW_QUANT_HALF;
	else if (d->kind == HNSW_KIND_HALFVEC && dimensions > HNSW_FULL_HALFVEC_DIM)
		d->quant = HNSW_QUANT_INT8;
	if (d->quant != HNSW_QUANT_NONE)
		d->fn = d->metric == HNSW_METRIC_L2 ? QuantL2 :
			d->metric == HNSW_METRIC_IP ? QuantIp : QuantL1;
	switch (d->kind)
	{
		case HNSW_KIND_VECTOR:
			if (d->quant == HNSW_QUANT_NONE)
				d->fn = d->metric == HNSW_METRIC_L2 ? VectorL2 :
					d->metric == HNSW_METRIC_IP ? VectorIp :
					d->metric == HNSW_METRIC_L1 ? VectorL1 : FmgrDistance;
			break;
		case HNSW_KIND_HALFVEC:
			if (d->quant == HNSW_QUANT_NONE)
				d->fn = d->metric == HNSW_METRIC_L2 ? HalfvecL2 :
				d->metric == HNSW_METRIC_IP ? HalfvecIp :
				d->metric == HNSW_METRIC_L1 ? HalfvecL1 : FmgrDistance;
			break;
		case HNSW_KIND_SPARSEVEC:
			d->fn = d->metric == HNSW_METRIC_L2 ? SparsevecL2 :
				d->metric == HNSW_METRIC_IP ? SparsevecIp :
				d->metric == HNSW_METRIC_L1 ? SparsevecL1 : FmgrDistance;
			break;
		case HNSW_KIND_BIT:
			d->fn = d->metric == HNSW_METRIC_HAMMING ? BitHamming :
				d->metric == HNSW_METRIC_JACCARD ? BitJaccard : FmgrDistance;
			break;
	}
	index->rd_amcache = cache;
	return cache;
}

/*
 * A copy of the index's distance descriptor, in the current context
 */
HnswDistance
HnswGetDistance(Relation index)
{
	HnswDistance d = palloc_object(HnswDistanceData);

	*d = HnswGetCache(index)->dist;
	if (d->quant == HNSW_QUANT_INT8)
		d->scratch = palloc_array(float, 2 * (Size) d->dimensions);
	return d;
}
/*
 * Scale a value to unit norm for cosine opclasses
 */
static Datum
NormalizeValue(HnswDistance d, struct varlena *v, bool *ok)
{
	double		norm = DatumGetFloat8(FunctionCall1Coll(d->normprocinfo, d->collation,
														PointerGetDatum(v)));

	*ok = norm > 0;
	if (!*ok)
		return PointerGetDatum(v);

	switch (d->kind)
	{
		case HNSW_KIND_VECTOR:
			{
				Vector	   *x = (Vector *) v;
				Vector	   *r = VecInitVector(x->dim);

				for (int i = 0; i < x->dim; i++)
					r->x[i] = (float) (x->x[i] / norm);
				return PointerGetDatum(r);
			}
		case HNSW_KIND_HALFVEC:
			{
				HalfVector *x = (HalfVector *) v;
				HalfVector *r = VecInitHalfVector(x->dim);

				for (int i = 0; i < x->dim; i++)
					r->x[i] = VecFloatToHalf((float) (VecHalfToFloat(x->x[i]) / norm));
				return PointerGetDatum(r);
			}
		case HNSW_KIND_SPARSEVEC:
			{
				SparseVector *x = (SparseVector *) v;
				SparseVector *r = (SparseVector *) palloc(VARSIZE(x));
				float	   *values;

				memcpy(r, x, VARSIZE(x));
				values = SPARSEVEC_VALUES(r);
				for (int i = 0; i < r->nnz; i++)
					values[i] = (float) (values[i] / norm);
				return PointerGetDatum(r);
			}
		case HNSW_KIND_BIT:
			break;
	}
	return PointerGetDatum(v);
}

/*
 * Quantize float elements to binary16 or int8, recording the residual's norms
 */
static Datum
Quantize(const float *x, int dim, uint8 format)
{
	HnswQuantValue *h = palloc0(HNSW_QUANT_SIZE(format, dim));
	double		errL2 = 0;
	double		errL1 = 0;
	double		norm = 0;
	float		lo = x[0];
	float		hi = x[0];

	SET_VARSIZE(h, HNSW_QUANT_SIZE(format, dim));
	h->dim = dim;
	h->format = format;
	if (format == HNSW_QUANT_INT8)
	{
		for (int i = 1; i < dim; i++)
		{
			lo = Min(lo, x[i]);
			hi = Max(hi, x[i]);
		}
		h->offset = lo;
		h->scale = hi > lo ? (hi - lo) / 255.0f : 1.0f;
	}
	for (int i = 0; i < dim; i++)
	{
		double		q;

		if (format == HNSW_QUANT_HALF)
		{
			((half *) h->x)[i] = VecFloatToHalf(x[i]);
			q = VecHalfToFloat(((half *) h->x)[i]);
		}
		else
		{
			long		code = lround((x[i] - h->offset) / h->scale);

			code = Max(0, Min(255, code));
			((int8 *) h->x)[i] = (int8) (code - 128);
			/* exactly as DecodeInt8 computes it */
			q = h->offset + h->scale * (float) code;
		}
		errL2 += (x[i] - q) * (x[i] - q);
		errL1 += fabs(x[i] - q);
		norm += q * q;
	}
	/* round the bounds up, never down */
	h->errL2 = (float) (sqrt(errL2) * (1 + 1e-6) + 1e-12);
	h->errL1 = (float) (errL1 * (1 + 1e-6) + 1e-12);
	h->norm = (float) (sqrt(norm) * (1 + 1e-6));
	return PointerGetDatum(h);
}

/*
 * Detoast a value, normalize it when the opclass asks and quantize it when
 * the index stores quantized values; *ok is false for values the index
 * does not hold (zero vectors under cosine)
 */
Datum
HnswPrepareValue(HnswDistance dist, Datum value, bool *ok)
{
	struct varlena *v = PG_DETOAST_DATUM(value);
	Datum		prepared = PointerGetDatum(v);

	*ok = true;
	if (dist->normalize)
		prepared = NormalizeValue(dist, v, ok);
	if (dist->quant == HNSW_QUANT_HALF && *ok)
	{
		/* a value that does not fit binary16 cannot be bounded */
		const Vector *x = (const Vector *) DatumGetPointer(prepared);

		for (int i = 0; i < x->dim; i++)
			if (fabsf(x->x[i]) > 65504.0f)
				ereport(ERROR,
						(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
						 errmsg("vector elements of an hnsw index over %d dimensions must lie within half-precision range",
								HNSW_FULL_VECTOR_DIM)));
		prepared = Quantize(x->x, x->dim, HNSW_QUANT_HALF);
	}
	else if (dist->quant == HNSW_QUANT_INT8 && *ok)
	{
		const HalfVector *x = (const HalfVector *) DatumGetPointer(prepared);
		float	   *f = palloc_array(float, x->dim);

		VecHalfToFloatArray(x->dim, x->x, f);
		prepared = Quantize(f, x->dim, HNSW_QUANT_INT8);
		pfree(f);
	}
	return prepared;
}

/*
 * A lower bound of the exact distance, in the units of the opclass's
 * operator, between the query and an element of a binary16 index whose
 * quantized distance is distance (see hnsw.h)
 */
float
HnswExactLowerBound(HnswDistance dist, const HnswQuantValue *q, const HnswQuantValue *x, float distance)
{
	double		slack;
	double		bound;

	switch (dist->metric)
	{
		case HNSW_METRIC_L2:
			slack = (double) q->errL2 + x->errL2;
			bound = sqrt(Max(distance, 0)) - slack;
			bound -= 1e-4 * fabs(bound) + 1e-6;
			return (float) Max(bound, 0);
		case HNSW_METRIC_L1:
			slack = (double) q->errL1 + x->errL1;
			bound = distance - slack;
			break;
		default:
			/* |q.x - qh.xh| <= |q - qh| |x| + |qh| |x - xh| */
			slack = (double) q->errL2 * (x->norm + x->errL2) + (double) q->norm * x->errL2;
			bound = distance - slack;
			if (dist->normalize)
				bound += 1;		/* cosine distance = 1 - q.x */
			break;
	}
	return (float) (bound - (1e-4 * fabs(bound) + 1e-6));
}

/*
 * Bytes a prepared value takes in an element tuple
 */
Size
HnswValueSize(Datum value)
{
	return VARSIZE_ANY(DatumGetPointer(value));
}

/*
 * Reject values the index cannot hold
 */
void
HnswCheckValue(HnswDistance dist, Datum value)
{
	if (dist->kind == HNSW_KIND_SPARSEVEC &&
		((SparseVector *) DatumGetPointer(value))->nnz > HNSW_MAX_NNZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("sparsevec cannot have more than %d non-zero elements for hnsw index", HNSW_MAX_NNZ)));
	if (HNSW_ELEMENT_TUPLE_SIZE(HnswValueSize(value)) > HNSW_MAX_TUPLE_SIZE)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("value too large for hnsw index")));
}
