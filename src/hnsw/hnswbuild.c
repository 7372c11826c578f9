/*-------------------------------------------------------------------------
 *
 * hnswbuild.c
 *	  Build an hnsw index.
 *
 * The build has two phases.  While the graph fits in maintenance_work_mem,
 * tuples from the heap scan are inserted into an in-memory graph made of
 * flat arrays (element records, one arena of values, one arena of int32
 * neighbor ids), where a distance is one kernel call on two pointers and
 * no lock or buffer is touched.  At the end the graph is written out page
 * by page in one sequential pass and WAL-logged as whole pages.
 *
 * If the graph outgrows maintenance_work_mem, it is written out at that
 * point with a NOTICE, and the remaining tuples go through the ordinary
 * on-disk insert path (hnswinsert.c): slower, but the build never fails
 * for lack of memory.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>

#include "access/genam.h"
#include "access/tableam.h"
#include "access/xloginsert.h"
#include "catalog/index.h"
#include "commands/progress.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/smgr.h"
#include "utils/backend_progress.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "compat.h"
#include "hnsw/hnsw.h"

#define PROGRESS_HNSW_PHASE_LOAD 2

/* One element of the in-memory graph */
typedef struct BuildElement
{
	ItemPointerData heaptids[HNSW_HEAPTIDS];
	uint8		level;
	Size		valueOffset;	/* into values */
	Size		nbrOffset;		/* into nbrs: HnswNeighborCount(m, level) ids, -1 = empty */
	ItemPointerData tid;		/* element tuple, once placed */
	ItemPointerData ntid;		/* neighbor tuple, once placed */
} BuildElement;

typedef struct HnswBuildState
{
	Relation	heap;
	Relation	index;
	HnswDistance dist;
	int			m;
	int			efConstruction;
	int			dimensions;
	double		reltuples;
	double		indtuples;
	MemoryContext tmpCtx;

	/* the in-memory graph */
	bool		inMemory;
	Size		memLimit;
	BuildElement *elements;		/* (nelements) */
	int32		nelements;
	int32		maxelements;
	char	   *values;			/* MAXALIGNed varlenas */
	Size		valuesUsed;
	Size		valuesSize;
	int32	   *nbrs;			/* neighbor ids per element and layer */
	Size		nbrsUsed;
	Size		nbrsSize;
	int32		entry;			/* -1 while empty */
	int			maxLevel;

	/* search scratch */
	uint32	   *visited;		/* epoch per element */
	uint32		epoch;
	HnswPair  *pending;		/* (maxelements) */
	HnswPair  *results;
	HnswPair  *scratch;			/* the new element's candidates */
	HnswPair  *pruning;			/* a full neighbor list being pruned */
} HnswBuildState;

#define BuildValue(bs, i) ((bs)->values + (bs)->elements[i].valueOffset)
#define BuildNeighbors(bs, i, layer) ((bs)->nbrs + (bs)->elements[i].nbrOffset + HnswLayerStart((bs)->m, layer))

/*
 * Pair heaps: results is a max-heap (worst on top), pending a min-heap
 */
static inline bool
PairBefore(HnswPair a, HnswPair b, bool maxHeap)
{
	return maxHeap ? a.distance > b.distance : a.distance < b.distance;
}

static void
PairPush(HnswPair *h, int *count, HnswPair item, bool maxHeap)
{
	int			i = (*count)++;

	while (i > 0)
	{
		int			parent = (i - 1) / 2;

		if (!PairBefore(item, h[parent], maxHeap))
			break;
		h[i] = h[parent];
		i = parent;
	}
	h[i] = item;
}

static HnswPair
PairPop(HnswPair *h, int *count, bool maxHeap)
{
	HnswPair	top = h[0];
	HnswPair	last = h[--(*count)];
	int			i = 0;

	for (;;)
	{
		int			child = 2 * i + 1;

		if (child >= *count)
			break;
		if (child + 1 < *count && PairBefore(h[child + 1], h[child], maxHeap))
			child++;
		if (!PairBefore(h[child], last, maxHeap))
			break;
		h[i] = h[child];
		i = child;
	}
	if (*count > 0)
		h[i] = last;
	return top;
}

/*
 * Distance between two in-memory elements
 */
static inline float
ElementDistance(HnswBuildState *bs, int32 a, int32 b)
{
	return bs->dist->fn(bs->dist, BuildValue(bs, a), BuildValue(bs, b));
}

/*
 * The same as an HnswPairDistFn for neighbor selection
 */
static float
ElementPairDistance(void *arg, int32 a, int32 b)
{
	return ElementDistance((HnswBuildState *) arg, a, b);
}

/*
 * Search one layer of the in-memory graph for the ef elements closest to
 * element q, starting from the nresults pairs in bs->results; returns the
 * number of results (a max-heap in bs->results)
 */
static int
SearchLayerInMemory(HnswBuildState *bs, int32 q, int nresults, int ef, int layer)
{
	const char *query = BuildValue(bs, q);
	int			npending = 0;
	int			cap = HnswLayerCapacity(bs->m, layer);

	bs->epoch++;
	bs->visited[q] = bs->epoch;
	for (int i = 0; i < nresults; i++)
	{
		bs->visited[bs->results[i].id] = bs->epoch;
		PairPush(bs->pending, &npending, bs->results[i], false);
	}

	while (npending > 0)
	{
		HnswPair	c = PairPop(bs->pending, &npending, false);
		int32	   *nbrs;

		if (nresults >= ef && c.distance > bs->results[0].distance)
			break;

		nbrs = BuildNeighbors(bs, c.id, layer);
		for (int i = 0; i < cap && nbrs[i] >= 0; i++)
		{
			int32		e = nbrs[i];
			HnswPair	p;

			if (bs->visited[e] == bs->epoch)
				continue;
			bs->visited[e] = bs->epoch;
			p.id = e;
			p.distance = bs->dist->fn(bs->dist, query, BuildValue(bs, e));
			if (nresults < ef || p.distance < bs->results[0].distance)
			{
				PairPush(bs->pending, &npending, p, false);
				PairPush(bs->results, &nresults, p, true);
				if (nresults > ef)
					PairPop(bs->results, &nresults, true);
			}
		}
	}
	return nresults;
}

/*
 * Add q to e's neighbors at one layer, pruning e's list when full
 */
static void
AddBacklink(HnswBuildState *bs, int32 e, int32 q, float distance, int layer)
{
	int			cap = HnswLayerCapacity(bs->m, layer);
	int32	   *nbrs = BuildNeighbors(bs, e, layer);
	HnswPair  *cands = bs->pruning;
	int			n = 0;
	int			kept;

	while (n < cap && nbrs[n] >= 0)
		n++;
	if (n < cap)
	{
		nbrs[n] = q;
		return;
	}

	for (int i = 0; i < cap; i++)
	{
		cands[i].id = nbrs[i];
		cands[i].distance = ElementDistance(bs, e, nbrs[i]);
	}
	cands[cap].id = q;
	cands[cap].distance = distance;
	qsort(cands, cap + 1, sizeof(HnswPair), HnswPairCompare);
	kept = HnswSelectNeighbors(cands, cap + 1, cap, ElementPairDistance, bs);
	for (int i = 0; i < cap; i++)
		nbrs[i] = i < kept ? cands[i].id : -1;
}

/*
 * Grow an arena so that it takes need more bytes
 */
static void *
GrowArena(void *arena, Size *size, Size used, Size need)
{
	Size		newsize = Max(*size, 1024);

	if (used + need <= *size)
		return arena;
	while (newsize < used + need)
		newsize *= 2;
	arena = arena ? repalloc_huge(arena, newsize) : MemoryContextAllocHuge(CurrentMemoryContext, newsize);
	*size = newsize;
	return arena;
}

/*
 * Bytes the in-memory graph would take after adding one more element
 */
static Size
MemoryNeeded(HnswBuildState *bs, Size valueSize)
{
	Size		elems = (Size) (bs->nelements + 1) * (sizeof(BuildElement) + sizeof(uint32));
	Size		nbrs = (bs->nbrsUsed + HnswNeighborCount(bs->m, HNSW_MAX_LEVEL)) * sizeof(int32);

	return elems + nbrs + bs->valuesUsed + MAXALIGN(valueSize);
}

/*
 * Insert one value into the in-memory graph
 */
static void
InsertInMemory(HnswBuildState *bs, Datum value, ItemPointer heaptid)
{
	Size		vsize = HnswValueSize(value);
	int32		q = bs->nelements;
	BuildElement *qe;
	int			level = HnswRandomLevel(bs->m);
	int			nslots = HnswNeighborCount(bs->m, level);
	int32		cur;
	int			nresults;

	if (bs->nelements == bs->maxelements)
	{
		bs->maxelements = Max(1024, bs->maxelements * 2);
		bs->elements = bs->elements ? repalloc_huge(bs->elements, sizeof(BuildElement) * bs->maxelements)
			: MemoryContextAllocHuge(CurrentMemoryContext, sizeof(BuildElement) * bs->maxelements);
		bs->visited = bs->visited ? repalloc_huge(bs->visited, sizeof(uint32) * bs->maxelements)
			: MemoryContextAllocHuge(CurrentMemoryContext, sizeof(uint32) * bs->maxelements);
		/* each element enters a search's pending heap at most once */
		bs->pending = bs->pending ? repalloc_huge(bs->pending, sizeof(HnswPair) * bs->maxelements)
			: MemoryContextAllocHuge(CurrentMemoryContext, sizeof(HnswPair) * bs->maxelements);
		memset(bs->visited + bs->nelements, 0, sizeof(uint32) * (bs->maxelements - bs->nelements));
	}
	bs->values = GrowArena(bs->values, &bs->valuesSize, bs->valuesUsed, MAXALIGN(vsize));
	bs->nbrs = GrowArena(bs->nbrs, &bs->nbrsSize, bs->nbrsUsed * sizeof(int32), nslots * sizeof(int32));

	qe = &bs->elements[q];
	memset(qe, 0, sizeof(BuildElement));
	qe->level = level;
	qe->heaptids[0] = *heaptid;
	for (int i = 1; i < HNSW_HEAPTIDS; i++)
		ItemPointerSetInvalid(&qe->heaptids[i]);
	qe->valueOffset = bs->valuesUsed;
	memcpy(bs->values + bs->valuesUsed, DatumGetPointer(value), vsize);
	qe->nbrOffset = bs->nbrsUsed;
	for (int i = 0; i < nslots; i++)
		bs->nbrs[bs->nbrsUsed + i] = -1;

	if (bs->entry < 0)
	{
		bs->entry = q;
		bs->maxLevel = level;
		bs->valuesUsed += MAXALIGN(vsize);
		bs->nbrsUsed += nslots;
		bs->nelements++;
		return;
	}

	/* greedy descent through the layers above the element's level */
	cur = bs->entry;
	bs->results[0].id = cur;
	bs->results[0].distance = ElementDistance(bs, q, cur);
	nresults = 1;
	for (int layer = bs->maxLevel; layer > level; layer--)
		nresults = SearchLayerInMemory(bs, q, nresults, 1, layer);

	for (int layer = Min(level, bs->maxLevel); layer >= 0; layer--)
	{
		int			cap = HnswLayerCapacity(bs->m, layer);
		HnswPair  *sorted = bs->scratch;
		int			kept;
		int32	   *qnbrs;

		nresults = SearchLayerInMemory(bs, q, nresults, bs->efConstruction, layer);

		/*
		 * An identical value already in the graph takes the heap TID.  Only
		 * for level-0 elements: nothing links to them before this point.
		 */
		if (level == 0)
		{
			for (int i = 0; i < nresults; i++)
			{
				BuildElement *d = &bs->elements[bs->results[i].id];

				if (bs->results[i].distance == 0 &&
					memcmp(BuildValue(bs, bs->results[i].id), DatumGetPointer(value), vsize) == 0 &&
					VARSIZE_ANY(BuildValue(bs, bs->results[i].id)) == vsize)
				{
					for (int j = 1; j < HNSW_HEAPTIDS; j++)
					{
						if (!ItemPointerIsValid(&d->heaptids[j]))
						{
							d->heaptids[j] = *heaptid;
							return; /* nothing was linked yet at layer 0 */
						}
					}
				}
			}
		}

		memcpy(sorted, bs->results, sizeof(HnswPair) * nresults);
		qsort(sorted, nresults, sizeof(HnswPair), HnswPairCompare);
		kept = HnswSelectNeighbors(sorted, nresults, cap, ElementPairDistance, bs);
		qnbrs = bs->nbrs + qe->nbrOffset + HnswLayerStart(bs->m, layer);
		for (int i = 0; i < kept; i++)
			qnbrs[i] = sorted[i].id;
		for (int i = 0; i < kept; i++)
			AddBacklink(bs, sorted[i].id, q, sorted[i].distance, layer);
	}

	bs->valuesUsed += MAXALIGN(vsize);
	bs->nbrsUsed += nslots;
	bs->nelements++;
	if (level > bs->maxLevel)
	{
		bs->entry = q;
		bs->maxLevel = level;
	}
}

/*
 * Page space accounting for placing tuples in order
 */
typedef struct Placement
{
	BlockNumber blkno;
	Size		lower;
	Size		upper;
	OffsetNumber nextoff;
} Placement;

static void
PlacementNewPage(Placement *p)
{
	p->blkno++;
	p->lower = SizeOfPageHeaderData;
	p->upper = BLCKSZ - MAXALIGN(sizeof(HnswPageOpaqueData));
	p->nextoff = FirstOffsetNumber;
}

static inline bool
PlacementFits(Placement *p, Size size)
{
	return p->lower + sizeof(ItemIdData) + MAXALIGN(size) <= p->upper;
}

static void
PlacementTake(Placement *p, Size size, ItemPointer tid)
{
	if (!PlacementFits(p, size))
		PlacementNewPage(p);
	ItemPointerSet(tid, p->blkno, p->nextoff);
	p->nextoff++;
	p->lower += sizeof(ItemIdData);
	p->upper -= MAXALIGN(size);
}

/*
 * Write the in-memory graph to the data pages, in one sequential pass
 */
static void
FlushGraph(HnswBuildState *bs)
{
	Placement	p;
	Buffer		buf = InvalidBuffer;
	Page		page = NULL;
	BlockNumber curblk = InvalidBlockNumber;
	char	   *etupbuf = palloc0(HNSW_MAX_TUPLE_SIZE);
	char	   *ntupbuf = palloc0(HNSW_MAX_TUPLE_SIZE);
	Buffer		metabuf;
	HnswMetaPage meta;

	/* assign every tuple its place: the element, then its neighbors */
	p.blkno = HNSW_HEAD_BLKNO - 1;
	PlacementNewPage(&p);
	for (int32 i = 0; i < bs->nelements; i++)
	{
		BuildElement *e = &bs->elements[i];
		Size		esize = HNSW_ELEMENT_TUPLE_SIZE(VARSIZE_ANY(BuildValue(bs, i)));
		Size		nsize = HNSW_NEIGHBOR_TUPLE_SIZE(e->level, bs->m);

		if (!PlacementFits(&p, esize + nsize + sizeof(ItemIdData)) && p.nextoff > FirstOffsetNumber)
			PlacementNewPage(&p);
		PlacementTake(&p, esize, &e->tid);
		PlacementTake(&p, nsize, &e->ntid);
	}

	/* build the pages in block order */
	for (int32 i = 0; i < bs->nelements; i++)
	{
		BuildElement *e = &bs->elements[i];
		const char *value = BuildValue(bs, i);
		Size		vsize = VARSIZE_ANY(value);
		Size		esize = HNSW_ELEMENT_TUPLE_SIZE(vsize);
		Size		nsize = HNSW_NEIGHBOR_TUPLE_SIZE(e->level, bs->m);
		HnswElementTuple etup = (HnswElementTuple) etupbuf;
		HnswNeighborTuple ntup = (HnswNeighborTuple) ntupbuf;
		int			nslots = HnswNeighborCount(bs->m, e->level);

		memset(etupbuf, 0, esize);
		etup->type = HNSW_ELEMENT_TUPLE_TYPE;
		etup->level = e->level;
		for (int j = 0; j < HNSW_HEAPTIDS; j++)
			etup->heaptids[j] = e->heaptids[j];
		etup->neighbortid = e->ntid;
		memcpy(etup->data, value, vsize);

		memset(ntupbuf, 0, nsize);
		ntup->type = HNSW_NEIGHBOR_TUPLE_TYPE;
		ntup->count = nslots;
		for (int j = 0; j < nslots; j++)
		{
			int32		id = bs->nbrs[e->nbrOffset + j];

			if (id >= 0)
				ntup->indextids[j] = bs->elements[id].tid;
			else
				ItemPointerSetInvalid(&ntup->indextids[j]);
		}

		for (int k = 0; k < 2; k++)
		{
			ItemPointer tid = k == 0 ? &e->tid : &e->ntid;
			Item		item = k == 0 ? (Item) etup : (Item) ntup;
			Size		size = k == 0 ? esize : nsize;

			while (curblk != ItemPointerGetBlockNumber(tid))
			{
				if (BufferIsValid(buf))
				{
					MarkBufferDirty(buf);
					UnlockReleaseBuffer(buf);
				}
				buf = ReadBufferExtended(bs->index, MAIN_FORKNUM, P_NEW, RBM_NORMAL, NULL);
				LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
				page = BufferGetPage(buf);
				HnswInitPage(buf, page);
				curblk = BufferGetBlockNumber(buf);
			}
			if (PageAddItem(page, item, size, ItemPointerGetOffsetNumber(tid), false, false) !=
				ItemPointerGetOffsetNumber(tid))
				elog(ERROR, "failed to add hnsw tuple to index \"%s\"", RelationGetRelationName(bs->index));
		}
		CHECK_FOR_INTERRUPTS();
	}
	if (BufferIsValid(buf))
	{
		MarkBufferDirty(buf);
		UnlockReleaseBuffer(buf);
	}

	/* point the meta page at the entry element */
	metabuf = ReadBuffer(bs->index, HNSW_METAPAGE_BLKNO);
	LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
	meta = HnswPageGetMeta(BufferGetPage(metabuf));
	if (bs->entry >= 0)
	{
		meta->entryBlkno = ItemPointerGetBlockNumber(&bs->elements[bs->entry].tid);
		meta->entryOffno = ItemPointerGetOffsetNumber(&bs->elements[bs->entry].tid);
		meta->entryLevel = bs->maxLevel;
	}
	meta->insertPage = BufferIsValid(buf) ? curblk : HNSW_METAPAGE_BLKNO;
	MarkBufferDirty(metabuf);
	UnlockReleaseBuffer(metabuf);

	pfree(etupbuf);
	pfree(ntupbuf);
}

/*
 * Write the meta page (block 0) of an empty index
 */
static void
CreateMetaPage(Relation index, int dimensions, int m, int efConstruction, ForkNumber forknum)
{
	Buffer		buf;
	Page		page;
	HnswMetaPage meta;

	buf = ReadBufferExtended(index, forknum, P_NEW, RBM_NORMAL, NULL);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	page = BufferGetPage(buf);
	HnswInitPage(buf, page);
	meta = HnswPageGetMeta(page);
	meta->magicNumber = HNSW_MAGIC_NUMBER;
	meta->version = HNSW_VERSION;
	meta->dimensions = dimensions;
	meta->m = m;
	meta->efConstruction = efConstruction;
	meta->entryBlkno = InvalidBlockNumber;
	meta->entryOffno = InvalidOffsetNumber;
	meta->entryLevel = -1;
	meta->insertPage = InvalidBlockNumber;
	((PageHeader) page)->pd_lower = ((char *) meta + sizeof(HnswMetaPageData)) - (char *) page;
	MarkBufferDirty(buf);
	if (forknum == INIT_FORKNUM)
		log_newpage_buffer(buf, true);
	UnlockReleaseBuffer(buf);
}

/*
 * Check the column's dimensions against what the index can hold
 */
static int
CheckDimensions(Relation index)
{
	int			dimensions = TupleDescAttr(RelationGetDescr(index), 0)->atttypmod;
	const HnswTypeInfo *typeinfo;

	typeinfo = (const HnswTypeInfo *) DatumGetPointer(OidFunctionCall0(index_getprocid(index, 1, HNSW_TYPE_INFO_PROC)));
	if (typeinfo->kind == HNSW_KIND_SPARSEVEC)
		return dimensions;
	if (dimensions < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("column does not have dimensions")));
	if (dimensions > typeinfo->maxDimensions)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("column cannot have more than %d dimensions for hnsw index", typeinfo->maxDimensions)));
	return dimensions;
}

/*
 * Heap scan callback: add one tuple
 */
static void
BuildCallback(Relation index, ItemPointer tid, Datum *values, bool *isnull,
			  bool tupleIsAlive, void *state)
{
	HnswBuildState *bs = (HnswBuildState *) state;
	MemoryContext oldCtx;
	Datum		value;
	bool		ok;

	if (isnull[0])
		return;

	oldCtx = MemoryContextSwitchTo(bs->tmpCtx);
	value = HnswPrepareValue(bs->dist, values[0], &ok);
	if (ok)
	{
		HnswCheckValue(bs->dist, value);
		if (bs->inMemory && MemoryNeeded(bs, HnswValueSize(value)) > bs->memLimit)
		{
			ereport(NOTICE,
					(errmsg("hnsw graph no longer fits into maintenance_work_mem after " INT64_FORMAT " tuples", (int64) bs->indtuples),
					 errdetail("Building will take significantly more time."),
					 errhint("Increase maintenance_work_mem to speed up builds.")));
			MemoryContextSwitchTo(oldCtx);
			FlushGraph(bs);
			MemoryContextSwitchTo(bs->tmpCtx);
			bs->inMemory = false;
		}
		if (bs->inMemory)
		{
			MemoryContextSwitchTo(oldCtx);
			InsertInMemory(bs, value, tid);
			MemoryContextSwitchTo(bs->tmpCtx);
		}
		else
			HnswInsertValue(index, bs->dist, value, tid);
		bs->indtuples++;
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64) bs->indtuples);
	}
	MemoryContextSwitchTo(oldCtx);
	MemoryContextReset(bs->tmpCtx);
}

/*
 * Build the index for the whole table
 */
IndexBuildResult *
hnswbuild(Relation heap, Relation index, IndexInfo *indexInfo)
{
	IndexBuildResult *result;
	HnswBuildState bs;
	MemoryContext buildCtx;
	MemoryContext oldCtx;
	int			maxcands;

	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data", RelationGetRelationName(index));

	memset(&bs, 0, sizeof(bs));
	bs.heap = heap;
	bs.index = index;
	bs.m = HnswGetM(index);
	bs.efConstruction = HnswGetEfConstruction(index);
	if (bs.efConstruction < 2 * bs.m)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ef_construction must be greater than or equal to 2 * m")));
	bs.dimensions = CheckDimensions(index);
	bs.dist = HnswGetDistance(index);
	bs.entry = -1;
	bs.maxLevel = -1;
	bs.inMemory = true;
	bs.memLimit = (Size) maintenance_work_mem * 1024;

	buildCtx = AllocSetContextCreate(CurrentMemoryContext, "hnsw build graph", ALLOCSET_DEFAULT_SIZES);
	bs.tmpCtx = AllocSetContextCreate(CurrentMemoryContext, "hnsw build tuple", ALLOCSET_DEFAULT_SIZES);
	oldCtx = MemoryContextSwitchTo(buildCtx);

	maxcands = Max(bs.efConstruction, 2 * bs.m) + 2;
	bs.results = palloc_array(HnswPair, maxcands + 1);
	bs.scratch = palloc_array(HnswPair, maxcands + 2 * bs.m + 2);
	bs.pruning = palloc_array(HnswPair, 2 * bs.m + 1);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PROGRESS_CREATEIDX_SUBPHASE_INITIALIZE);
	CreateMetaPage(index, bs.dimensions, bs.m, bs.efConstruction, MAIN_FORKNUM);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PROGRESS_HNSW_PHASE_LOAD);
	bs.reltuples = table_index_build_scan(heap, index, indexInfo, true, true,
										  BuildCallback, (void *) &bs, NULL);

	if (bs.inMemory)
		FlushGraph(&bs);

	if (RelationNeedsWAL(index))
		log_newpage_range(index, MAIN_FORKNUM, 0, RelationGetNumberOfBlocks(index), true);

	MemoryContextSwitchTo(oldCtx);
	MemoryContextDelete(buildCtx);
	MemoryContextDelete(bs.tmpCtx);

	result = palloc_object(IndexBuildResult);
	result->heap_tuples = bs.reltuples;
	result->index_tuples = bs.indtuples;
	return result;
}

/*
 * Build an empty index for the init fork of an unlogged table
 */
void
hnswbuildempty(Relation index)
{
	int			m = HnswGetM(index);
	int			efConstruction = HnswGetEfConstruction(index);

	CreateMetaPage(index, CheckDimensions(index), m, efConstruction, INIT_FORKNUM);
}
