/*-------------------------------------------------------------------------
 *
 * hnswscan.c
 *	  Index scans of an hnsw index: nearest neighbors in distance order.
 *
 * The first call searches the graph (greedy descent, then ef_search at
 * layer 0) and returns the results nearest first.  With
 * hnsw.iterative_scan, candidates that the search saw but did not keep
 * are remembered; when the results run out (a WHERE clause filtered them,
 * say) the search resumes from the nearest of those, until the LIMIT is
 * satisfied, hnsw.max_scan_tuples elements were visited, or the search
 * outgrows work_mem * hnsw.scan_mem_multiplier.  strict_order drops any
 * later result nearer than one already returned; relaxed_order keeps it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relscan.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/float.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/varbit.h"

#include "compat.h"
#include "hnsw/hnsw.h"
#include "vector/halfvec.h"
#include "vector/sparsevec.h"
#include "vector/vector.h"

typedef struct HnswScanOpaqueData
{
	MemoryContext scanCtx;		/* reset on rescan */
	HnswSearch	search;
	HnswHeap	results;		/* max-heap of the current batch */
	HnswHeap	discarded;		/* min-heap, iterative scans only */
	int		   *batch;			/* current batch, nearest first */
	int			nbatch;
	int			pos;			/* next candidate in batch */
	int			heaptidPos;		/* next heap TID of that candidate */
	bool		started;
	bool		done;
	Datum		query;
	float		lastDistance;
} HnswScanOpaqueData;

typedef HnswScanOpaqueData *HnswScanOpaque;

/*
 * Start a scan
 */
IndexScanDesc
hnswbeginscan(Relation index, int nkeys, int norderbys)
{
	IndexScanDesc scan = RelationGetIndexScan(index, nkeys, norderbys);
	HnswScanOpaque so = palloc0_object(HnswScanOpaqueData);

	so->scanCtx = AllocSetContextCreate(CurrentMemoryContext, "hnsw scan", ALLOCSET_DEFAULT_SIZES);
	scan->opaque = so;
	/* filled only when the executor must recheck (binary16 storage) */
	scan->xs_orderbyvals = palloc0_array(Datum, Max(norderbys, 1));
	scan->xs_orderbynulls = palloc_array(bool, Max(norderbys, 1));
	for (int i = 0; i < Max(norderbys, 1); i++)
		scan->xs_orderbynulls[i] = true;
	return scan;
}

/*
 * Restart a scan with new keys
 */
void
hnswrescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;

	if (keys && scan->numberOfKeys > 0)
		memmove(scan->keyData, keys, scan->numberOfKeys * sizeof(ScanKeyData));
	if (orderbys && scan->numberOfOrderBys > 0)
		memmove(scan->orderByData, orderbys, scan->numberOfOrderBys * sizeof(ScanKeyData));

	/* everything below lived in scanCtx */
	MemoryContextReset(so->scanCtx);
	memset(&so->results, 0, sizeof(HnswHeap));
	memset(&so->discarded, 0, sizeof(HnswHeap));
	so->batch = NULL;
	so->nbatch = 0;
	so->started = false;
	so->done = false;
}

/*
 * Raise the error the distance operator would raise for mismatched sizes
 */
static void
CheckQuery(HnswDistance dist, Datum query, uint32 dimensions)
{
	const char *p = DatumGetPointer(query);

	switch (dist->kind)
	{
		case HNSW_KIND_VECTOR:
			if (((const Vector *) p)->dim != (int) dimensions)
				VecCheckDims(dimensions, ((const Vector *) p)->dim);
			break;
		case HNSW_KIND_HALFVEC:
			if (((const HalfVector *) p)->dim != (int) dimensions)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_EXCEPTION),
						 errmsg("different halfvec dimensions %d and %d",
								(int) dimensions, ((const HalfVector *) p)->dim)));
			break;
		case HNSW_KIND_SPARSEVEC:
			if ((int32) dimensions >= 0 && ((const SparseVector *) p)->dim != (int32) dimensions)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_EXCEPTION),
						 errmsg("different sparsevec dimensions %d and %d",
								(int) dimensions, ((const SparseVector *) p)->dim)));
			break;
		case HNSW_KIND_BIT:
			if (VARBITLEN((const VarBit *) p) != (int) dimensions)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_EXCEPTION),
						 errmsg("different bit lengths %u and %u",
								dimensions, (uint32) VARBITLEN((const VarBit *) p))));
			break;
	}
}

/*
 * Order of a batch under binary16 storage: by lower bound of the exact distance
 */
static int
CompareBounds(const void *a, const void *b, void *arg)
{
	HnswSearch *s = (HnswSearch *) arg;
	float		ba = s->cands[*(const int *) a].bound;
	float		bb = s->cands[*(const int *) b].bound;

	return ba < bb ? -1 : ba > bb ? 1 : 0;
}

/*
 * Sort the candidates of the current result heap into a batch, nearest first
 */
static void
TakeBatch(HnswScanOpaque so)
{
	HnswSearch *s = &so->search;
	int			n = so->results.count;

	so->batch = so->batch ? repalloc(so->batch, sizeof(int) * Max(n, 1)) : palloc(sizeof(int) * Max(n, 1));
	for (int i = n - 1; i >= 0; i--)
		so->batch[i] = HnswHeapPop(s, &so->results);
	/* the executor needs the bounds it gets in non-decreasing order */
	if (s->query != NULL)
		qsort_arg(so->batch, n, sizeof(int), CompareBounds, s);
	so->nbatch = n;
	so->pos = 0;
	so->heaptidPos = 0;
}

/*
 * The key that orders returned rows: the distance, or its lower bound
 */
static inline float
OrderKey(HnswScanOpaque so, HnswCandidate *c)
{
	return so->search.query != NULL ? c->bound : c->distance;
}

/*
 * First search: descend from the entry point, then search layer 0
 */
static void
StartSearch(IndexScanDesc scan)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	Relation	index = scan->indexRelation;
	HnswMetaPageData meta;
	HnswDistance dist = HnswGetDistance(index);
	ItemPointerData entry;
	bool		ok;
	int			best;
	bool		iterative = hnsw_iterative_scan != HNSW_ITERATIVE_SCAN_OFF;

	so->started = true;
	so->done = true;
	so->lastDistance = -get_float4_infinity();

	if (scan->orderByData == NULL)
		return;

	HnswReadMeta(index, &meta);
	if (meta.entryBlkno == InvalidBlockNumber)
		return;
	ItemPointerSet(&entry, meta.entryBlkno, meta.entryOffno);
	HnswSearchInit(&so->search, index, dist, meta.m);

	ok = false;
	if (!(scan->orderByData->sk_flags & SK_ISNULL))
	{
		so->query = PointerGetDatum(PG_DETOAST_DATUM(scan->orderByData->sk_argument));
		CheckQuery(dist, so->query, meta.dimensions);
		so->query = HnswPrepareValue(dist, so->query, &ok);
	}
	if (!ok)
	{
		/*
		 * A NULL query, or a zero vector under cosine: every distance is
		 * NULL or NaN, so any order is right.  Search around the entry
		 * point, with its value as the query.
		 */
		const char *v;
		char	   *copy;

		so->search.keepValues = true;
		best = HnswLoadCandidate(&so->search, NULL, &entry, HNSW_MAX_LEVEL + 1, get_float4_infinity());
		so->search.keepValues = false;
		if (best < 0)
			return;
		v = so->search.values + so->search.cands[best].valueOffset;
		copy = palloc(VARSIZE_ANY(v));
		memcpy(copy, v, VARSIZE_ANY(v));
		so->query = PointerGetDatum(copy);
		HnswSearchReset(&so->search);
	}

	if (dist->quant != HNSW_QUANT_NONE)
		so->search.query = (const HnswQuantValue *) DatumGetPointer(so->query);
	HnswHeapInit(&so->results, hnsw_ef_search + 1, true);
	if (iterative)
		HnswHeapInit(&so->discarded, 1024, false);

	if (!HnswDescend(&so->search, DatumGetPointer(so->query), &entry, meta.entryLevel, 0,
					 HNSW_SCAN_UPPER_EF, &so->results))
		return;

	HnswVisitedClear(&so->search.visited);
	for (int i = 0; i < so->results.count; i++)
		HnswVisitedAdd(&so->search.visited, &so->search.cands[so->results.items[i]].tid);
	HnswSearchLayer(&so->search, DatumGetPointer(so->query), &so->results,
					iterative ? &so->discarded : NULL, hnsw_ef_search, 0);
	TakeBatch(so);
	so->done = false;
}

/*
 * Resume an iterative scan from the nearest discarded candidates; false
 * when nothing is left or a limit is reached
 */
static bool
ResumeSearch(IndexScanDesc scan)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	HnswSearch *s = &so->search;
	Size		memUsed = (Size) s->ncands * sizeof(HnswCandidate) + (Size) s->nnbrs * sizeof(ItemPointerData) +
		(Size) s->visited.mask * sizeof(uint64);
	Size		memLimit = (Size) (work_mem * 1024.0 * hnsw_scan_mem_multiplier);

	if (hnsw_iterative_scan == HNSW_ITERATIVE_SCAN_OFF || so->discarded.count == 0)
		return false;
	if (s->tuplesVisited >= hnsw_max_scan_tuples || memUsed >= memLimit)
		return false;

	so->results.count = 0;
	while (so->discarded.count > 0 && so->results.count < hnsw_ef_search)
		HnswHeapPush(s, &so->results, HnswHeapPop(s, &so->discarded));
	HnswSearchLayer(s, DatumGetPointer(so->query), &so->results, &so->discarded,
					hnsw_ef_search, 0);
	TakeBatch(so);
	return so->nbatch > 0;
}

/*
 * Return the next heap TID in distance order
 */
bool
hnswgettuple(IndexScanDesc scan, ScanDirection dir)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	MemoryContext oldCtx;

	if (!ScanDirectionIsForward(dir))
		elog(ERROR, "hnsw index scans support only forward scans");

	oldCtx = MemoryContextSwitchTo(so->scanCtx);
	if (!so->started)
	{
		StartSearch(scan);
		pgstat_count_index_scan(scan->indexRelation);
	}

	while (!so->done)
	{
		HnswCandidate *c;

		if (so->pos >= so->nbatch)
		{
			CHECK_FOR_INTERRUPTS();
			if (!ResumeSearch(scan))
			{
				so->done = true;
				break;
			}
			continue;
		}

		c = &so->search.cands[so->batch[so->pos]];
		if (so->heaptidPos == 0 && hnsw_iterative_scan == HNSW_ITERATIVE_SCAN_STRICT)
		{
			if (OrderKey(so, c) < so->lastDistance)
			{
				so->pos++;
				continue;
			}
		}
		while (so->heaptidPos < HNSW_HEAPTIDS && !ItemPointerIsValid(&c->heaptids[so->heaptidPos]))
			so->heaptidPos++;
		if (c->deleted || so->heaptidPos >= HNSW_HEAPTIDS)
		{
			so->pos++;
			so->heaptidPos = 0;
			continue;
		}

		scan->xs_heaptid = c->heaptids[so->heaptidPos++];
		scan->xs_recheck = false;
		so->lastDistance = OrderKey(so, c);
		if (so->search.query != NULL)
		{
			/* the executor computes the exact distance and reorders */
			scan->xs_recheckorderby = true;
			scan->xs_orderbyvals[0] = Float8GetDatum((double) c->bound);
			scan->xs_orderbynulls[0] = false;
		}
		else
			scan->xs_recheckorderby = false;
		MemoryContextSwitchTo(oldCtx);
		return true;
	}

	MemoryContextSwitchTo(oldCtx);
	return false;
}

/*
 * End a scan
 */
void
hnswendscan(IndexScanDesc scan)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;

	MemoryContextDelete(so->scanCtx);
	pfree(so);
	scan->opaque = NULL;
}
