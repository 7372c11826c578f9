/*-------------------------------------------------------------------------
 *
 * hnswutils.c
 *	  Pages, buffers and the on-disk graph search shared by the scan,
 *	  insert and vacuum phases of the hnsw access method.
 *
 * The search keeps all candidates in one array per search and works with
 * indexes into it: the heaps, the result set and the "discarded" set for
 * iterative scans never allocate per element.  Loading a candidate reads
 * its element tuple and, when it sits on the same page, its neighbor
 * tuple, both under one share lock; the neighbors of the requested layer
 * are copied into the search's arena so that expanding the candidate
 * later needs no second page access.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "common/pg_prng.h"
#include "storage/bufmgr.h"
#include "utils/float.h"
#include "utils/rel.h"

#include "compat.h"
#include "hnsw/hnsw.h"

/*
 * ReadBuffer, trying the buffer that held the block last time first
 */
Buffer
HnswReadBuffer(Relation index, BlockNumber blkno)
{
	HnswCache  *cache = HnswGetCache(index);
	Buffer		buf;

	if (blkno < cache->nrecent && BufferIsValid(cache->recent[blkno]) &&
		COMPAT_READ_RECENT_BUFFER(index, blkno, cache->recent[blkno]))
		return cache->recent[blkno];

	buf = ReadBuffer(index, blkno);
	if (blkno >= cache->nrecent)
	{
		BlockNumber n = Max(Max(cache->nrecent * 2, blkno + 1), 64);

		if (cache->recent == NULL)
			cache->recent = MemoryContextAlloc(index->rd_indexcxt, sizeof(Buffer) * n);
		else
			cache->recent = repalloc(cache->recent, sizeof(Buffer) * n);
		for (BlockNumber i = cache->nrecent; i < n; i++)
			cache->recent[i] = InvalidBuffer;
		cache->nrecent = n;
	}
	cache->recent[blkno] = buf;
	return buf;
}

/*
 * Ask the CPU to fetch an element tuple's line pointer and first bytes,
 * if the block's buffer is known; a hint only, read without any lock
 */
static inline void
PrefetchElement(Relation index, ItemPointer tid, bool tuple)
{
	HnswCache  *cache = (HnswCache *) index->rd_amcache;
	BlockNumber blkno = ItemPointerGetBlockNumber(tid);
	OffsetNumber offno = ItemPointerGetOffsetNumber(tid);
	char	   *page;
	ItemIdData *lp;

	if (cache == NULL || blkno >= cache->nrecent || !BufferIsValid(cache->recent[blkno]) ||
		BufferIsLocal(cache->recent[blkno]) || offno < FirstOffsetNumber || offno > MaxOffsetNumber)
		return;
	page = BufferGetBlock(cache->recent[blkno]);
	lp = (ItemIdData *) (page + offsetof(PageHeaderData, pd_linp)) + (offno - 1);
	if (!tuple)
	{
		__builtin_prefetch(lp);
		return;
	}
	if (lp->lp_off >= SizeOfPageHeaderData && lp->lp_off < BLCKSZ)
	{
		char	   *t = page + lp->lp_off;
		char	   *end = page + Min(BLCKSZ, (Size) lp->lp_off + lp->lp_len);

		for (; t < end; t += 64)
			__builtin_prefetch(t);
	}
}

/*
 * qsort comparator: nearest first
 */
int
HnswPairCompare(const void *a, const void *b)
{
	float		da = ((const HnswPair *) a)->distance;
	float		db = ((const HnswPair *) b)->distance;

	return da < db ? -1 : da > db ? 1 : 0;
}

/*
 * Keep the candidates (sorted by distance to the base element) that are
 * nearer to the base than to every candidate kept before them, up to max;
 * the kept ones move to the front of cands.  This is HNSW's neighbor
 * selection heuristic: it spreads links across directions.
 */
int
HnswSelectNeighbors(HnswPair *cands, int ncands, int max, HnswPairDistFn fn, void *arg,
					bool fill)
{
	HnswPair	pruned[2 * HNSW_MAX_M]; /* at most max are ever needed */
	int			npruned = 0;
	int			kept = 0;

	Assert(max <= lengthof(pruned));
	for (int i = 0; i < ncands && kept < max; i++)
	{
		bool		good = true;

		for (int j = 0; j < kept; j++)
		{
			if (fn(arg, cands[i].id, cands[j].id) < cands[i].distance)
			{
				good = false;
				break;
			}
		}
		if (good)
			cands[kept++] = cands[i];
		else if (fill && npruned < max)
			pruned[npruned++] = cands[i];
	}
	for (int i = 0; i < npruned && kept < max; i++)
		cands[kept++] = pruned[i];
	return kept;
}

/*
 * Draw a level with probability decaying by 1/m per layer
 */
int
HnswRandomLevel(int m)
{
	double		ml = 1.0 / log(m);
	double		r = pg_prng_double(&pg_global_prng_state);
	int			level;

	if (r <= 0)
		r = 1e-12;
	level = (int) floor(-log(r) * ml);
	return Min(level, HNSW_MAX_LEVEL);
}

/*
 * Initialize a data page
 */
void
HnswInitPage(Buffer buf, Page page)
{
	HnswPageOpaque opaque;

	PageInit(page, BufferGetPageSize(buf), sizeof(HnswPageOpaqueData));
	opaque = HnswPageGetOpaque(page);
	opaque->nextblkno = InvalidBlockNumber;
	opaque->page_id = HNSW_PAGE_ID;
}

/*
 * Copy the meta page
 */
void
HnswReadMeta(Relation index, HnswMetaPageData *meta)
{
	Buffer		buf = ReadBuffer(index, HNSW_METAPAGE_BLKNO);
	HnswMetaPage m;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	m = HnswPageGetMeta(BufferGetPage(buf));
	if (m->magicNumber != HNSW_MAGIC_NUMBER)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" is not a valid hnsw index", RelationGetRelationName(index))));
	if (m->version != HNSW_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("hnsw index \"%s\" has version %u, this build reads version %u",
						RelationGetRelationName(index), m->version, HNSW_VERSION),
				 errhint("REINDEX the index.")));
	*meta = *m;
	UnlockReleaseBuffer(buf);
}

/*
 * Visited set: open addressing over packed TIDs
 */
static inline uint64
PackTid(ItemPointer tid)
{
	return (((uint64) ItemPointerGetBlockNumberNoCheck(tid)) << 16 |
			ItemPointerGetOffsetNumberNoCheck(tid)) + 1;
}

static void
VisitedInit(HnswVisited *v, uint32 size)
{
	v->mask = size - 1;
	v->count = 0;
	v->slots = palloc0_array(uint64, size);
}

/*
 * Whether the set holds a TID
 */
bool
HnswVisitedContains(HnswVisited *v, ItemPointer tid)
{
	uint64		key = PackTid(tid);
	uint32		i;

	if (v->slots == NULL)
		return false;
	i = (uint32) ((key * UINT64CONST(0x9E3779B97F4A7C15)) >> 32) & v->mask;
	while (v->slots[i] != 0)
	{
		if (v->slots[i] == key)
			return true;
		i = (i + 1) & v->mask;
	}
	return false;
}

/*
 * Empty the set
 */
void
HnswVisitedClear(HnswVisited *v)
{
	if (v->count > 0)
	{
		memset(v->slots, 0, sizeof(uint64) * (v->mask + 1));
		v->count = 0;
	}
}

/*
 * Add a TID; false if it was there already
 */
bool
HnswVisitedAdd(HnswVisited *v, ItemPointer tid)
{
	uint64		key = PackTid(tid);
	uint32		i;

	if (v->slots == NULL)
		VisitedInit(v, 1024);
	if (v->count * 2 >= v->mask)
	{
		uint64	   *old = v->slots;
		uint32		oldsize = v->mask + 1;

		VisitedInit(v, oldsize * 2);
		for (uint32 j = 0; j < oldsize; j++)
		{
			if (old[j] == 0)
				continue;
			i = (uint32) ((old[j] * UINT64CONST(0x9E3779B97F4A7C15)) >> 32) & v->mask;
			while (v->slots[i] != 0)
				i = (i + 1) & v->mask;
			v->slots[i] = old[j];
			v->count++;
		}
		pfree(old);
	}

	i = (uint32) ((key * UINT64CONST(0x9E3779B97F4A7C15)) >> 32) & v->mask;
	while (v->slots[i] != 0)
	{
		if (v->slots[i] == key)
			return false;
		i = (i + 1) & v->mask;
	}
	v->slots[i] = key;
	v->count++;
	return true;
}

/*
 * Prepare a search; its memory lives in the current context
 */
void
HnswSearchInit(HnswSearch *s, Relation index, HnswDistance dist, int m)
{
	s->index = index;
	s->dist = dist;
	s->m = m;
	/* small to start: inserts run many short searches; all of it grows */
	s->maxcands = 64;
	s->cands = palloc_array(HnswCandidate, s->maxcands);
	s->maxnbrs = 16 * 2 * m;
	s->nbrs = palloc_array(ItemPointerData, s->maxnbrs);
	VisitedInit(&s->visited, 128);
	s->keepValues = false;
	s->query = NULL;
	s->values = NULL;
	s->valuesSize = 0;
	HnswSearchReset(s);
}

/*
 * Forget all candidates and visited elements
 */
void
HnswSearchReset(HnswSearch *s)
{
	s->ncands = 0;
	s->nnbrs = 0;
	s->valuesUsed = 0;
	s->tuplesVisited = 0;
	HnswVisitedClear(&s->visited);
}

/*
 * Copy the neighbors of one layer from a neighbor tuple into the arena
 */
static void
CopyNeighbors(HnswSearch *s, HnswCandidate *c, HnswNeighborTuple ntup, int layer)
{
	int			start = HnswLayerStart(s->m, layer);
	int			cap = HnswLayerCapacity(s->m, layer);
	int			n = 0;

	if (start + cap > ntup->count)
		cap = Max(0, ntup->count - start);
	if (s->nnbrs + cap > s->maxnbrs)
	{
		s->maxnbrs = Max(s->maxnbrs * 2, s->nnbrs + cap);
		s->nbrs = repalloc_huge(s->nbrs, sizeof(ItemPointerData) * s->maxnbrs);
	}
	c->nbrOffset = s->nnbrs;
	for (int i = 0; i < cap; i++)
	{
		ItemPointer t = &ntup->indextids[start + i];

		if (!ItemPointerIsValid(t))
			break;
		s->nbrs[s->nnbrs + n++] = *t;
	}
	s->nnbrs += n;
	c->nbrCount = n;
	c->nbrLayer = layer;
}

/*
 * Read the neighbor tuple of candidate c for one layer (when it was not
 * on the element's page, or a different layer is needed)
 */
static void
LoadNeighbors(HnswSearch *s, HnswCandidate *c, ItemPointer ntid, int layer)
{
	Buffer		buf;
	Page		page;
	ItemId		itemid;

	c->nbrCount = 0;
	c->nbrLayer = layer;
	c->nbrOffset = s->nnbrs;
	if (!ItemPointerIsValid(ntid))
		return;
	buf = HnswReadBuffer(s->index, ItemPointerGetBlockNumber(ntid));
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	itemid = PageGetItemId(page, ItemPointerGetOffsetNumber(ntid));
	if (ItemPointerGetOffsetNumber(ntid) <= PageGetMaxOffsetNumber(page) && ItemIdIsNormal(itemid))
	{
		HnswNeighborTuple ntup = (HnswNeighborTuple) PageGetItem(page, itemid);

		if (ntup->type == HNSW_NEIGHBOR_TUPLE_TYPE)
			CopyNeighbors(s, c, ntup, layer);
	}
	UnlockReleaseBuffer(buf);
}

/*
 * Read an element, compute its distance to the query and add it as a
 * candidate; returns its index, or -1 if the TID holds no element.  When
 * the distance is below bound (the candidate can enter the results), its
 * value is copied if the search keeps values, and its neighbors at layer
 * too when they are on the same page (else LoadNeighbors reads them when
 * the candidate is expanded).
 */
int
HnswLoadCandidate(HnswSearch *s, const char *query, ItemPointer tid, int layer, float bound)
{
	BlockNumber blkno = ItemPointerGetBlockNumber(tid);
	OffsetNumber offno = ItemPointerGetOffsetNumber(tid);
	Buffer		buf;
	Page		page;
	ItemId		itemid;
	HnswElementTuple etup;
	HnswCandidate *c;
	ItemPointerData ntid;
	bool		haveNeighbors = false;

	if (s->ncands == s->maxcands)
	{
		s->maxcands *= 2;
		s->cands = repalloc_huge(s->cands, sizeof(HnswCandidate) * s->maxcands);
	}
	c = &s->cands[s->ncands];

	buf = HnswReadBuffer(s->index, blkno);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	if (offno > PageGetMaxOffsetNumber(page))
	{
		UnlockReleaseBuffer(buf);
		return -1;
	}
	itemid = PageGetItemId(page, offno);
	etup = ItemIdIsNormal(itemid) ? (HnswElementTuple) PageGetItem(page, itemid) : NULL;
	if (etup == NULL || etup->type != HNSW_ELEMENT_TUPLE_TYPE)
	{
		UnlockReleaseBuffer(buf);
		return -1;
	}

	c->tid = *tid;
	c->level = etup->level;
	c->deleted = etup->deleted;
	c->distance = query ? s->dist->fn(s->dist, query, etup->data) : 0;
	for (int i = 0; i < HNSW_HEAPTIDS; i++)
		c->heaptids[i] = etup->heaptids[i];
	c->nbrOffset = -1;
	c->nbrCount = 0;
	c->nbrLayer = -1;
	c->valueOffset = 0;
	if (s->query != NULL)
		c->bound = HnswExactLowerBound(s->dist, s->query, (const HnswQuantValue *) etup->data, c->distance);
	ntid = etup->neighbortid;
	/* only candidates that can be kept need their value (for selection) */
	if (s->keepValues && c->distance < bound)
	{
		Size		vsize = VARSIZE_ANY(etup->data);

		if (s->valuesUsed + MAXALIGN(vsize) > s->valuesSize)
		{
			s->valuesSize = Max(s->valuesSize * 2, s->valuesUsed + MAXALIGN(vsize));
			s->values = s->values ? repalloc_huge(s->values, s->valuesSize) : palloc(s->valuesSize);
		}
		c->valueOffset = s->valuesUsed;
		memcpy(s->values + s->valuesUsed, etup->data, vsize);
		s->valuesUsed += MAXALIGN(vsize);
	}

	if (layer <= etup->level && c->distance < bound && ItemPointerGetBlockNumber(&ntid) == blkno &&
		ItemPointerGetOffsetNumber(&ntid) <= PageGetMaxOffsetNumber(page))
	{
		ItemId		nitemid = PageGetItemId(page, ItemPointerGetOffsetNumber(&ntid));

		if (ItemIdIsNormal(nitemid))
		{
			HnswNeighborTuple ntup = (HnswNeighborTuple) PageGetItem(page, nitemid);

			if (ntup->type == HNSW_NEIGHBOR_TUPLE_TYPE)
			{
				CopyNeighbors(s, c, ntup, layer);
				haveNeighbors = true;
			}
		}
	}
	UnlockReleaseBuffer(buf);

	c->ntid = ntid;
	if (!haveNeighbors)
		c->nbrOffset = -1;
	s->tuplesVisited++;
	return s->ncands++;
}

/*
 * Binary heap of candidate indexes, min- or max-ordered by distance
 */
void
HnswHeapInit(HnswHeap *h, int capacity, bool maxHeap)
{
	h->capacity = Max(capacity, 16);
	h->items = palloc_array(int, h->capacity);
	h->count = 0;
	h->maxHeap = maxHeap;
}

static inline bool
HeapBefore(HnswSearch *s, HnswHeap *h, int a, int b)
{
	float		da = s->cands[a].distance;
	float		db = s->cands[b].distance;

	return h->maxHeap ? da > db : da < db;
}

void
HnswHeapPush(HnswSearch *s, HnswHeap *h, int item)
{
	int			i;

	if (h->count == h->capacity)
	{
		h->capacity *= 2;
		h->items = repalloc_huge(h->items, sizeof(int) * h->capacity);
	}
	i = h->count++;
	while (i > 0)
	{
		int			parent = (i - 1) / 2;

		if (!HeapBefore(s, h, item, h->items[parent]))
			break;
		h->items[i] = h->items[parent];
		i = parent;
	}
	h->items[i] = item;
}

int
HnswHeapPop(HnswSearch *s, HnswHeap *h)
{
	int			top = h->items[0];
	int			last = h->items[--h->count];
	int			i = 0;

	if (h->count == 0)
		return top;
	for (;;)
	{
		int			child = 2 * i + 1;

		if (child >= h->count)
			break;
		if (child + 1 < h->count && HeapBefore(s, h, h->items[child + 1], h->items[child]))
			child++;
		if (!HeapBefore(s, h, h->items[child], last))
			break;
		h->items[i] = h->items[child];
		i = child;
	}
	h->items[i] = last;
	return top;
}

int
HnswHeapTop(HnswHeap *h)
{
	return h->items[0];
}

/*
 * Search one layer from the candidates already in results (a max-heap of
 * at most ef); candidates that fall out go to discarded (a min-heap) when
 * given, for iterative scans to resume from.
 */
void
HnswSearchLayer(HnswSearch *s, const char *query, HnswHeap *results,
				HnswHeap *discarded, int ef, int layer)
{
	HnswHeap	pending;

	HnswHeapInit(&pending, Max(results->count, 64), false);
	for (int i = 0; i < results->count; i++)
		HnswHeapPush(s, &pending, results->items[i]);
	/* more entries than ef (from the layers above): keep the nearest ef */
	while (results->count > ef)
	{
		int			out = HnswHeapPop(s, results);

		if (discarded != NULL)
			HnswHeapPush(s, discarded, out);
	}

	while (pending.count > 0)
	{
		int			ci = HnswHeapPop(s, &pending);
		int			offset;
		int			count;

		if (results->count >= ef &&
			s->cands[ci].distance > s->cands[HnswHeapTop(results)].distance)
			break;

		if (s->cands[ci].nbrLayer != layer || s->cands[ci].nbrOffset < 0)
		{
			ItemPointerData ntid = s->cands[ci].ntid;

			LoadNeighbors(s, &s->cands[ci], &ntid, layer);
		}
		offset = s->cands[ci].nbrOffset;
		count = s->cands[ci].nbrCount;

		/* fetch the line pointers, then the tuples, of the unvisited ones */
		for (int pass = 0; pass < 2; pass++)
			for (int i = 0; i < count; i++)
				if (!HnswVisitedContains(&s->visited, &s->nbrs[offset + i]))
					PrefetchElement(s->index, &s->nbrs[offset + i], pass == 1);

		for (int i = 0; i < count; i++)
		{
			ItemPointerData etid = s->nbrs[offset + i];
			int			ei;
			float		bound;

			if (!HnswVisitedAdd(&s->visited, &etid))
				continue;
			bound = results->count < ef ? get_float4_infinity() :
				s->cands[HnswHeapTop(results)].distance;
			ei = HnswLoadCandidate(s, query, &etid, layer, bound);
			if (ei < 0)
				continue;

			if (results->count < ef ||
				s->cands[ei].distance < s->cands[HnswHeapTop(results)].distance)
			{
				HnswHeapPush(s, &pending, ei);
				HnswHeapPush(s, results, ei);
				if (results->count > ef)
				{
					int			out = HnswHeapPop(s, results);

					if (discarded != NULL)
						HnswHeapPush(s, discarded, out);
				}
			}
			else if (discarded != NULL)
				HnswHeapPush(s, discarded, ei);
		}
	}
	pfree(pending.items);
}

/*
 * Walk from the entry point down to the layer above targetLayer, keeping
 * the ef nearest elements of each layer as the entries of the next;
 * results (a max-heap) holds those of the last layer.  False if the entry
 * point is gone.
 */
bool
HnswDescend(HnswSearch *s, const char *query, ItemPointer entry,
			int entryLevel, int targetLayer, int ef, HnswHeap *results)
{
	int			first;

	HnswVisitedAdd(&s->visited, entry);
	first = HnswLoadCandidate(s, query, entry, entryLevel, get_float4_infinity());
	if (first < 0)
		return false;
	HnswHeapPush(s, results, first);
	for (int layer = entryLevel; layer > targetLayer; layer--)
	{
		/* each layer is a separate graph: forget what the last one visited */
		HnswVisitedClear(&s->visited);
		for (int i = 0; i < results->count; i++)
			HnswVisitedAdd(&s->visited, &s->cands[results->items[i]].tid);
		HnswSearchLayer(s, query, results, NULL, ef, layer);
	}
	return true;
}

/*
 * Copy the neighbor TIDs of one layer of a neighbor tuple; false if the
 * tuple is gone
 */
bool
HnswReadLayer(Relation index, ItemPointer ntid, int m, int layer, ItemPointerData *out)
{
	Buffer		buf = HnswReadBuffer(index, ItemPointerGetBlockNumber(ntid));
	Page		page;
	int			start = HnswLayerStart(m, layer);
	int			cap = HnswLayerCapacity(m, layer);
	bool		ok = false;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	if (ItemPointerGetOffsetNumber(ntid) <= PageGetMaxOffsetNumber(page))
	{
		ItemId		itemid = PageGetItemId(page, ItemPointerGetOffsetNumber(ntid));
		HnswNeighborTuple ntup = ItemIdIsNormal(itemid) ? (HnswNeighborTuple) PageGetItem(page, itemid) : NULL;

		if (ntup && ntup->type == HNSW_NEIGHBOR_TUPLE_TYPE && start + cap <= ntup->count)
		{
			memcpy(out, &ntup->indextids[start], cap * sizeof(ItemPointerData));
			ok = true;
		}
	}
	UnlockReleaseBuffer(buf);
	return ok;
}

/*
 * Replace one layer of a neighbor tuple, WAL-logged, if it still equals
 * expected; false if it changed meanwhile
 */
bool
HnswWriteLayer(Relation index, ItemPointer ntid, int m, int layer,
			   const ItemPointerData *expected, const ItemPointerData *replacement)
{
	Buffer		buf = HnswReadBuffer(index, ItemPointerGetBlockNumber(ntid));
	GenericXLogState *state;
	Page		page;
	int			start = HnswLayerStart(m, layer);
	int			cap = HnswLayerCapacity(m, layer);
	bool		ok = false;

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	state = GenericXLogStart(index);
	page = GenericXLogRegisterBuffer(state, buf, 0);
	if (ItemPointerGetOffsetNumber(ntid) <= PageGetMaxOffsetNumber(page))
	{
		ItemId		itemid = PageGetItemId(page, ItemPointerGetOffsetNumber(ntid));
		HnswNeighborTuple ntup = ItemIdIsNormal(itemid) ? (HnswNeighborTuple) PageGetItem(page, itemid) : NULL;

		if (ntup && ntup->type == HNSW_NEIGHBOR_TUPLE_TYPE && start + cap <= ntup->count &&
			memcmp(&ntup->indextids[start], expected, cap * sizeof(ItemPointerData)) == 0)
		{
			memcpy(&ntup->indextids[start], replacement, cap * sizeof(ItemPointerData));
			ok = true;
		}
	}
	if (ok)
		GenericXLogFinish(state);
	else
		GenericXLogAbort(state);
	UnlockReleaseBuffer(buf);
	return ok;
}

/*
 * Distance between two candidates whose values the search kept
 */
float
HnswKeptPairDistance(void *arg, int32 a, int32 b)
{
	HnswSearch *s = (HnswSearch *) arg;

	return s->dist->fn(s->dist, s->values + s->cands[a].valueOffset,
					   s->values + s->cands[b].valueOffset);
}

/*
 * Choose at most cap neighbors for the element with value base among the
 * n elements in tids, with the selection heuristic; deleted and vanished
 * elements are dropped.  With fill, slots the heuristic leaves empty take
 * the nearest candidates it pruned: repairs use it, since redundant links
 * keep elements reachable when their neighbors die.  The choice is written
 * to tids[0..cap), padded with invalid TIDs; returns how many were kept.
 * Reads with share locks only, so the caller must hold no buffer lock.
 */
int
HnswChooseNeighbors(Relation index, HnswDistance dist, int m, const char *base,
					ItemPointerData *tids, int n, int cap, bool fill)
{
	HnswSearch	sub;
	HnswPair   *pairs = palloc_array(HnswPair, n);
	int			npairs = 0;
	int			kept;

	HnswSearchInit(&sub, index, dist, m);
	sub.keepValues = true;
	for (int i = 0; i < n; i++)
	{
		int			k;

		if (!ItemPointerIsValid(&tids[i]) || !HnswVisitedAdd(&sub.visited, &tids[i]))
			continue;
		/* a layer above any level: copy no neighbors */
		k = HnswLoadCandidate(&sub, base, &tids[i], HNSW_MAX_LEVEL + 1, get_float4_infinity());
		if (k < 0 || sub.cands[k].deleted)
			continue;
		pairs[npairs].id = k;
		pairs[npairs].distance = sub.cands[k].distance;
		npairs++;
	}
	qsort(pairs, npairs, sizeof(HnswPair), HnswPairCompare);
	kept = HnswSelectNeighbors(pairs, npairs, cap, HnswKeptPairDistance, &sub, fill);
	for (int i = 0; i < cap; i++)
	{
		if (i < kept)
			tids[i] = sub.cands[pairs[i].id].tid;
		else
			ItemPointerSetInvalid(&tids[i]);
	}
	return kept;
}
