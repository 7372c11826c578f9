/*-------------------------------------------------------------------------
 *
 * hnswgraph.c
 *	  The in-memory graph of an hnsw build, shared by parallel workers.
 *
 * The graph lives in one fixed area: local memory for a serial build, a
 * DSM segment for a parallel one, so everything in it is addressed by
 * offsets from the area's start.  Each element is one chunk of the arena:
 * a header, its neighbor ids for every layer, then its value; one table
 * maps element ids to chunks, and a second one to values, so that a
 * distance, and prefetching before it, need not read the header.  Taking an id and a chunk are atomic additions,
 * so processes insert concurrently.  An element is published (its table
 * slot set) only once its value and neighbor lists are written; neighbor
 * lists are then read and changed under the element's spinlock, and a
 * version number lets a process prune a full list without holding the
 * lock while it computes distances.
 *
 * An insert searches the graph first, with the value in local memory, and
 * takes space only when it knows it needs a new element (identical values
 * share one element's heap TIDs).  When the area is full, GraphInsert
 * returns false and the build decides what to do (hnswbuild.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/rel.h"

#include "compat.h"
#include "hnsw/hnsw.h"

#define GraphTable(g) ((uint64 *) ((char *) (g) + MAXALIGN(sizeof(HnswGraph))))
#define GraphValueTable(g) (GraphTable(g) + (g)->maxelements)
/* the value of a published element, found without touching its header */
#define GraphValueById(g, id) ((char *) (g) + GraphValueTable(g)[id])
#define GraphChunkValue(e, m) ((char *) (e) + MAXALIGN(offsetof(HnswGraphElement, nbrs) + HnswNeighborCount(m, (e)->level) * sizeof(int32)))

/*
 * Bytes of the area needed before the arena, for maxelements
 */
static Size
GraphHeaderSize(int32 maxelements)
{
	return MAXALIGN(sizeof(HnswGraph)) + MAXALIGN(2 * sizeof(uint64) * (Size) maxelements);
}

/*
 * Set up an empty graph in an area of size bytes
 */
void
HnswGraphInit(HnswGraph *g, Size size, int m, int efConstruction, Size valueSizeHint)
{
	Size		perElement = MAXALIGN(offsetof(HnswGraphElement, nbrs) + HnswNeighborCount(m, 0) * sizeof(int32)) +
		MAXALIGN(valueSizeHint) + 2 * sizeof(uint64);

	memset(g, 0, sizeof(HnswGraph));
	SpinLockInit(&g->lock);
	g->entry = -1;
	g->maxLevel = -1;
	g->m = m;
	g->efConstruction = efConstruction;
	g->maxelements = (int32) Min((Size) PG_INT32_MAX / 2, size / perElement);
	g->arenaStart = GraphHeaderSize(g->maxelements);
	g->size = size;
	pg_atomic_init_u32(&g->nelements, 0);
	pg_atomic_init_u64(&g->used, g->arenaStart);
	pg_atomic_init_u32(&g->full, 0);
	memset(GraphTable(g), 0, 2 * sizeof(uint64) * (Size) g->maxelements);
}

/*
 * The element behind an id, or NULL if it is not published
 */
HnswGraphElement *
HnswGraphGet(HnswGraph *g, int32 id)
{
	uint64		off = ((volatile uint64 *) GraphTable(g))[id];

	if (off == 0)
		return NULL;
	pg_read_barrier();
	return (HnswGraphElement *) ((char *) g + off);
}

/*
 * The value of an element
 */
char *
HnswGraphValue(HnswGraph *g, HnswGraphElement *e)
{
	return GraphChunkValue(e, g->m);
}

/*
 * Per-process search state over a graph
 */
void
HnswGraphSearchInit(HnswGraphSearch *gs, HnswGraph *g, HnswDistance dist)
{
	gs->graph = g;
	gs->dist = dist;
	gs->epoch = 0;
	gs->visited = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(uint32) * (Size) g->maxelements);
	memset(gs->visited, 0, sizeof(uint32) * (Size) g->maxelements);
	/* each element enters one search's pending heap at most once */
	gs->pending = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(HnswPair) * (Size) g->maxelements);
	/* a layer's search starts from up to HNSW_BUILD_UPPER_EF entries */
	gs->results = palloc_array(HnswPair, Max(g->efConstruction, HNSW_BUILD_UPPER_EF) + 2);
	gs->pruning = palloc_array(HnswPair, 2 * g->m + 1);
	gs->nbrbuf = palloc_array(int32, 2 * g->m);
	for (int i = 0; i <= HNSW_MAX_LEVEL; i++)
		gs->chosen[i] = palloc_array(HnswPair, Max(g->efConstruction, HNSW_BUILD_UPPER_EF) + 2);
}

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
 * Distance between two published elements
 */
static float
ElementPairDistance(void *arg, int32 a, int32 b)
{
	HnswGraphSearch *gs = (HnswGraphSearch *) arg;
	HnswGraph  *g = gs->graph;

	return gs->dist->fn(gs->dist, GraphValueById(g, a), GraphValueById(g, b));
}

/*
 * Copy one layer's neighbor ids of an element under its lock; returns
 * the count and, in *version, the list's version
 */
static int
ReadNeighbors(HnswGraph *g, HnswGraphElement *e, int layer, int32 *out, uint32 *version)
{
	int			cap = HnswLayerCapacity(g->m, layer);
	int32	   *nbrs = e->nbrs + HnswLayerStart(g->m, layer);
	int			n = 0;

	SpinLockAcquire(&e->lock);
	while (n < cap && nbrs[n] >= 0)
	{
		out[n] = nbrs[n];
		n++;
	}
	if (version)
		*version = e->version;
	SpinLockRelease(&e->lock);
	return n;
}

/*
 * Search one layer for the ef elements nearest to query, from the
 * nresults pairs in gs->results; returns the number of results
 */
static int
SearchLayer(HnswGraphSearch *gs, const char *query, int nresults, int ef, int layer)
{
	HnswGraph  *g = gs->graph;
	int			npending = 0;

	gs->epoch++;
	for (int i = 0; i < nresults; i++)
	{
		gs->visited[gs->results[i].id] = gs->epoch;
		PairPush(gs->pending, &npending, gs->results[i], false);
	}

	while (npending > 0)
	{
		HnswPair	c = PairPop(gs->pending, &npending, false);
		int			n;

		if (nresults >= ef && c.distance > gs->results[0].distance)
			break;

		n = ReadNeighbors(g, HnswGraphGet(g, c.id), layer, gs->nbrbuf, NULL);
		/* start fetching the values this step will compare */
		for (int i = 0; i < n; i++)
			if (gs->visited[gs->nbrbuf[i]] != gs->epoch)
			{
				const char *v = GraphValueById(g, gs->nbrbuf[i]);

				__builtin_prefetch(v);
				__builtin_prefetch(v + 64);
			}
		for (int i = 0; i < n; i++)
		{
			int32		e = gs->nbrbuf[i];
			HnswPair	p;

			if (gs->visited[e] == gs->epoch)
				continue;
			gs->visited[e] = gs->epoch;
			p.id = e;
			p.distance = gs->dist->fn(gs->dist, query, GraphValueById(g, e));
			if (nresults < ef || p.distance < gs->results[0].distance)
			{
				PairPush(gs->pending, &npending, p, false);
				PairPush(gs->results, &nresults, p, true);
				if (nresults > ef)
					PairPop(gs->results, &nresults, true);
			}
		}
	}
	return nresults;
}

/*
 * Add q to e's neighbors at one layer, pruning e's list when full
 */
static void
AddBacklink(HnswGraphSearch *gs, int32 e, int32 q, float distance, int layer)
{
	HnswGraph  *g = gs->graph;
	HnswGraphElement *ee = HnswGraphGet(g, e);
	int			cap = HnswLayerCapacity(g->m, layer);
	int32	   *nbrs = ee->nbrs + HnswLayerStart(g->m, layer);
	HnswPair   *cands = gs->pruning;

	for (int attempt = 0; attempt < 3; attempt++)
	{
		uint32		version;
		int			n;
		int			kept;
		bool		done = false;

		/* room left: append under the lock */
		SpinLockAcquire(&ee->lock);
		for (n = 0; n < cap && nbrs[n] >= 0; n++)
			;
		if (n < cap)
		{
			nbrs[n] = q;
			ee->version++;
			done = true;
		}
		SpinLockRelease(&ee->lock);
		if (done)
			return;

		/* full: choose among the current neighbors and q without the lock */
		n = ReadNeighbors(g, ee, layer, gs->nbrbuf, &version);
		for (int i = 0; i < n; i++)
		{
			cands[i].id = gs->nbrbuf[i];
			cands[i].distance = ElementPairDistance(gs, e, gs->nbrbuf[i]);
		}
		cands[n].id = q;
		cands[n].distance = distance;
		qsort(cands, n + 1, sizeof(HnswPair), HnswPairCompare);
		kept = HnswSelectNeighbors(cands, n + 1, cap, ElementPairDistance, gs, false);

		SpinLockAcquire(&ee->lock);
		if (ee->version == version)
		{
			for (int i = 0; i < cap; i++)
				nbrs[i] = i < kept ? cands[i].id : -1;
			ee->version++;
			done = true;
		}
		SpinLockRelease(&ee->lock);
		if (done)
			return;
	}
}

/*
 * Take an id and a chunk for a new element and write it; NULL when the
 * area is full
 */
static HnswGraphElement *
NewElement(HnswGraph *g, int level, const char *value, Size vsize, ItemPointer heaptid, int32 *id)
{
	Size		hsize = MAXALIGN(offsetof(HnswGraphElement, nbrs) + HnswNeighborCount(g->m, level) * sizeof(int32));
	Size		chunk = hsize + MAXALIGN(vsize);
	uint64		off;
	HnswGraphElement *e;

	if (pg_atomic_read_u32(&g->full))
		return NULL;
	*id = (int32) pg_atomic_fetch_add_u32(&g->nelements, 1);
	if (*id >= g->maxelements)
	{
		pg_atomic_write_u32(&g->full, 1);
		return NULL;
	}
	off = pg_atomic_fetch_add_u64(&g->used, chunk);
	if (off + chunk > g->size)
	{
		pg_atomic_write_u32(&g->full, 1);
		return NULL;
	}

	e = (HnswGraphElement *) ((char *) g + off);
	memset(e, 0, hsize);
	SpinLockInit(&e->lock);
	e->level = level;
	e->heaptids[0] = *heaptid;
	for (int i = 1; i < HNSW_HEAPTIDS; i++)
		ItemPointerSetInvalid(&e->heaptids[i]);
	for (int i = 0; i < HnswNeighborCount(g->m, level); i++)
		e->nbrs[i] = -1;
	memcpy(GraphChunkValue(e, g->m), value, vsize);
	return e;
}

/*
 * Make an element visible to other processes
 */
static void
Publish(HnswGraph *g, HnswGraphElement *e, int32 id)
{
	GraphValueTable(g)[id] = (uint64) (HnswGraphValue(g, e) - (char *) g);
	pg_write_barrier();
	GraphTable(g)[id] = (uint64) ((char *) e - (char *) g);
}

/*
 * Give an identical element the heap TID if it has room; true if done
 */
static bool
AddToDuplicate(HnswGraphSearch *gs, const char *value, Size vsize, ItemPointer heaptid, int nchosen)
{
	HnswGraph  *g = gs->graph;

	/* an identical value is at the nearest distance (not 0 for inner product) */
	for (int i = 0; i < nchosen && gs->chosen[0][i].distance == gs->chosen[0][0].distance; i++)
	{
		HnswGraphElement *d = HnswGraphGet(g, gs->chosen[0][i].id);
		const char *dv = HnswGraphValue(g, d);
		bool		done = false;

		if (VARSIZE_ANY(dv) != vsize || memcmp(dv, value, vsize) != 0)
			continue;
		SpinLockAcquire(&d->lock);
		for (int j = 1; j < HNSW_HEAPTIDS && !done; j++)
		{
			if (!ItemPointerIsValid(&d->heaptids[j]))
			{
				d->heaptids[j] = *heaptid;
				done = true;
			}
		}
		SpinLockRelease(&d->lock);
		if (done)
			return true;
	}
	return false;
}

/*
 * Insert a prepared value; false when the graph is full
 */
bool
HnswGraphInsert(HnswGraphSearch *gs, Datum value, ItemPointer heaptid)
{
	HnswGraph  *g = gs->graph;
	const char *v = DatumGetPointer(value);
	Size		vsize = VARSIZE_ANY(v);
	int			level = HnswRandomLevel(g->m);
	int32		entry;
	int			maxLevel;
	int			nresults;
	int			nchosen[HNSW_MAX_LEVEL + 1];
	HnswGraphElement *qe = NULL;
	int32		q = -1;

	SpinLockAcquire(&g->lock);
	entry = g->entry;
	maxLevel = g->maxLevel;
	SpinLockRelease(&g->lock);

	if (entry < 0)
	{
		qe = NewElement(g, level, v, vsize, heaptid, &q);
		if (qe == NULL)
			return false;
		Publish(g, qe, q);
		SpinLockAcquire(&g->lock);
		if (g->entry < 0)
		{
			g->entry = q;
			g->maxLevel = level;
		}
		entry = g->entry;
		maxLevel = g->maxLevel;
		SpinLockRelease(&g->lock);
		if (entry == q)
			return true;
		/* another process was first: link this element like any other */
	}

	/* search every layer from the top, the value in local memory */
	gs->results[0].id = entry;
	gs->results[0].distance = gs->dist->fn(gs->dist, v, GraphValueById(g, entry));
	nresults = 1;
	for (int layer = maxLevel; layer > level; layer--)
		nresults = SearchLayer(gs, v, nresults, HNSW_BUILD_UPPER_EF, layer);
	for (int layer = Min(level, maxLevel); layer >= 0; layer--)
	{
		HnswPair   *sorted = gs->chosen[layer];

		nresults = SearchLayer(gs, v, nresults, g->efConstruction, layer);
		memcpy(sorted, gs->results, sizeof(HnswPair) * nresults);
		qsort(sorted, nresults, sizeof(HnswPair), HnswPairCompare);
		nchosen[layer] = nresults;
	}
	if (qe == NULL && AddToDuplicate(gs, v, vsize, heaptid, nchosen[0]))
		return true;

	for (int layer = Min(level, maxLevel); layer >= 0; layer--)
		nchosen[layer] = HnswSelectNeighbors(gs->chosen[layer], nchosen[layer],
											 HnswLayerCapacity(g->m, layer),
											 ElementPairDistance, gs, false);

	if (qe == NULL)
	{
		qe = NewElement(g, level, v, vsize, heaptid, &q);
		if (qe == NULL)
			return false;
	}
	else
	{
		/* published already: other processes may be linking to it */
		SpinLockAcquire(&qe->lock);
	}
	for (int layer = Min(level, maxLevel); layer >= 0; layer--)
	{
		int			k = 0;

		for (int i = 0; i < nchosen[layer]; i++)
			if (gs->chosen[layer][i].id != q)
				qe->nbrs[HnswLayerStart(g->m, layer) + k++] = gs->chosen[layer][i].id;
	}
	if (GraphTable(g)[q] == 0)
		Publish(g, qe, q);
	else
		SpinLockRelease(&qe->lock);

	for (int layer = Min(level, maxLevel); layer >= 0; layer--)
		for (int i = 0; i < nchosen[layer]; i++)
			if (gs->chosen[layer][i].id != q)
				AddBacklink(gs, gs->chosen[layer][i].id, q, gs->chosen[layer][i].distance, layer);

	if (level > maxLevel)
	{
		SpinLockAcquire(&g->lock);
		if (level > g->maxLevel)
		{
			g->entry = q;
			g->maxLevel = level;
		}
		SpinLockRelease(&g->lock);
	}
	return true;
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
 * Write the graph to the index's data pages in one sequential pass, and
 * point the meta page at its entry.  Only one process does this, after
 * all inserts ended.
 */
void
HnswGraphFlush(HnswGraph *g, Relation index)
{
	int32		n = Min((int32) pg_atomic_read_u32(&g->nelements), g->maxelements);
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
	for (int32 i = 0; i < n; i++)
	{
		HnswGraphElement *e = HnswGraphGet(g, i);
		Size		esize;
		Size		nsize;

		if (e == NULL)
			continue;
		esize = HNSW_ELEMENT_TUPLE_SIZE(VARSIZE_ANY(HnswGraphValue(g, e)));
		nsize = HNSW_NEIGHBOR_TUPLE_SIZE(e->level, g->m);
		if (!PlacementFits(&p, esize + nsize + sizeof(ItemIdData)) && p.nextoff > FirstOffsetNumber)
			PlacementNewPage(&p);
		PlacementTake(&p, esize, &e->tid);
		PlacementTake(&p, nsize, &e->ntid);
	}

	/* build the pages in block order */
	for (int32 i = 0; i < n; i++)
	{
		HnswGraphElement *e = HnswGraphGet(g, i);
		const char *value;
		Size		vsize;
		Size		esize;
		Size		nsize;
		HnswElementTuple etup = (HnswElementTuple) etupbuf;
		HnswNeighborTuple ntup = (HnswNeighborTuple) ntupbuf;
		int			nslots;

		if (e == NULL)
			continue;
		value = HnswGraphValue(g, e);
		vsize = VARSIZE_ANY(value);
		esize = HNSW_ELEMENT_TUPLE_SIZE(vsize);
		nsize = HNSW_NEIGHBOR_TUPLE_SIZE(e->level, g->m);
		nslots = HnswNeighborCount(g->m, e->level);

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
			HnswGraphElement *nb = e->nbrs[j] >= 0 ? HnswGraphGet(g, e->nbrs[j]) : NULL;

			if (nb != NULL)
				ntup->indextids[j] = nb->tid;
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
				buf = ReadBufferExtended(index, MAIN_FORKNUM, P_NEW, RBM_NORMAL, NULL);
				LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
				page = BufferGetPage(buf);
				HnswInitPage(buf, page);
				curblk = BufferGetBlockNumber(buf);
			}
			if (PageAddItem(page, item, size, ItemPointerGetOffsetNumber(tid), false, false) !=
				ItemPointerGetOffsetNumber(tid))
				elog(ERROR, "failed to add hnsw tuple to index \"%s\"", RelationGetRelationName(index));
		}
		CHECK_FOR_INTERRUPTS();
	}
	if (BufferIsValid(buf))
	{
		MarkBufferDirty(buf);
		UnlockReleaseBuffer(buf);
	}

	metabuf = ReadBuffer(index, HNSW_METAPAGE_BLKNO);
	LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
	meta = HnswPageGetMeta(BufferGetPage(metabuf));
	if (g->entry >= 0)
	{
		HnswGraphElement *e = HnswGraphGet(g, g->entry);

		meta->entryBlkno = ItemPointerGetBlockNumber(&e->tid);
		meta->entryOffno = ItemPointerGetOffsetNumber(&e->tid);
		meta->entryLevel = g->maxLevel;
	}
	meta->insertPage = BufferIsValid(buf) ? curblk : InvalidBlockNumber;
	MarkBufferDirty(metabuf);
	UnlockReleaseBuffer(metabuf);

	pfree(etupbuf);
	pfree(ntupbuf);
}
