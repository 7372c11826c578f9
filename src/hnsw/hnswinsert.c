/*-------------------------------------------------------------------------
 *
 * hnswinsert.c
 *	  Insert one value into an hnsw index on disk.
 *
 * The whole search happens first, under share locks only: descend to the
 * new element's level, search each layer below with ef_construction, and
 * choose its neighbors with the selection heuristic.  Then the element and
 * its neighbor tuple are written to a page with room (or a new one), the
 * neighbors get back-links, and the entry point moves up if the element is
 * the highest.  Every page change goes through generic WAL.
 *
 * A back-link to a full neighbor list needs distances between that
 * neighbor and its current neighbors.  They are computed with no lock
 * held (holding an exclusive buffer lock while reading other pages could
 * deadlock with another inserter); the list is then rewritten only if it
 * did not change meanwhile, else the work is redone once and otherwise
 * skipped, which leaves the graph valid, with one link fewer.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/freespace.h"
#include "storage/lmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "compat.h"
#include "hnsw/hnsw.h"

/* The neighbors chosen for the new element, per layer */
typedef struct InsertLayer
{
	HnswPair   *chosen;			/* candidate indexes into the search */
	int			nchosen;
} InsertLayer;

typedef struct InsertState
{
	Relation	index;
	HnswDistance dist;
	HnswSearch	search;
	HnswMetaPageData meta;
	int			m;
	int			level;
	const char *value;
	Size		valueSize;
	ItemPointerData ntid;		/* the new element's neighbor tuple */
	InsertLayer layers[HNSW_MAX_LEVEL + 1];
} InsertState;

#define CandidateValue(s, i) ((s)->values + (s)->cands[i].valueOffset)

/*
 * Search every layer from the top and choose the new element's neighbors
 */
static void
FindNeighbors(InsertState *is)
{
	HnswSearch *s = &is->search;
	HnswHeap	results;
	ItemPointerData entry;
	int			top = Min(is->level, is->meta.entryLevel);

	ItemPointerSet(&entry, is->meta.entryBlkno, is->meta.entryOffno);
	HnswHeapInit(&results, is->meta.efConstruction + 1, true);
	if (!HnswDescend(s, is->value, &entry, is->meta.entryLevel, top, HNSW_INSERT_UPPER_EF, &results))
		return;

	for (int layer = top; layer >= 0; layer--)
	{
		int			cap = HnswLayerCapacity(is->m, layer);
		HnswPair   *pairs;
		int			n = 0;

		HnswVisitedClear(&s->visited);
		for (int i = 0; i < results.count; i++)
			HnswVisitedAdd(&s->visited, &s->cands[results.items[i]].tid);
		HnswSearchLayer(s, is->value, &results, NULL, is->meta.efConstruction, layer);

		pairs = palloc_array(HnswPair, results.count);
		for (int i = 0; i < results.count; i++)
		{
			HnswCandidate *c = &s->cands[results.items[i]];

			/* deleted elements are not linked to */
			if (c->deleted)
				continue;
			pairs[n].id = results.items[i];
			pairs[n].distance = c->distance;
			n++;
		}
		qsort(pairs, n, sizeof(HnswPair), HnswPairCompare);
		is->layers[layer].nchosen = HnswSelectNeighbors(pairs, n, cap, HnswKeptPairDistance, s,
														false);
		is->layers[layer].chosen = pairs;
	}
}

/*
 * Add the heap TID to an identical element that has a free slot; true if done
 */
static bool
AddToDuplicate(InsertState *is, ItemPointer heaptid)
{
	HnswSearch *s = &is->search;

	if (is->layers[0].chosen == NULL)
		return false;
	for (int i = 0; i < is->layers[0].nchosen; i++)
	{
		int			ci = is->layers[0].chosen[i].id;
		HnswCandidate *c = &s->cands[ci];
		Buffer		buf;
		Page		page;
		GenericXLogState *state;
		HnswElementTuple etup;
		ItemId		itemid;
		bool		done = false;

		/* an identical value is at the nearest distance (not 0 for inner product) */
		if (c->distance != s->cands[is->layers[0].chosen[0].id].distance)
			break;
		if (VARSIZE_ANY(CandidateValue(s, ci)) != is->valueSize ||
			memcmp(CandidateValue(s, ci), is->value, is->valueSize) != 0)
			continue;

		buf = ReadBuffer(is->index, ItemPointerGetBlockNumber(&c->tid));
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		state = GenericXLogStart(is->index);
		page = GenericXLogRegisterBuffer(state, buf, 0);
		itemid = PageGetItemId(page, ItemPointerGetOffsetNumber(&c->tid));
		etup = (HnswElementTuple) PageGetItem(page, itemid);
		if (ItemIdIsNormal(itemid) && etup->type == HNSW_ELEMENT_TUPLE_TYPE && !etup->deleted &&
			ItemPointerIsValid(&etup->heaptids[0]))
		{
			for (int j = 1; j < HNSW_HEAPTIDS && !done; j++)
			{
				if (!ItemPointerIsValid(&etup->heaptids[j]))
				{
					etup->heaptids[j] = *heaptid;
					done = true;
				}
			}
		}
		if (done)
			GenericXLogFinish(state);
		else
			GenericXLogAbort(state);
		UnlockReleaseBuffer(buf);
		if (done)
			return true;
	}
	return false;
}

/*
 * An exclusively locked page with need bytes free: the page inserts went
 * to last, a page the free space map knows, or a new one (*newPage)
 */
static Buffer
GetPageWithRoom(InsertState *is, Size need, bool *newPage)
{
	BlockNumber blkno = is->meta.insertPage;
	Buffer		buf = InvalidBuffer;

	*newPage = false;
	if (blkno != InvalidBlockNumber && blkno != HNSW_METAPAGE_BLKNO)
	{
		buf = ReadBuffer(is->index, blkno);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		if (PageGetExactFreeSpace(BufferGetPage(buf)) < need)
		{
			UnlockReleaseBuffer(buf);
			buf = InvalidBuffer;
		}
	}
	while (!BufferIsValid(buf))
	{
		blkno = GetPageWithFreeSpace(is->index, need);
		if (blkno == InvalidBlockNumber)
			break;
		buf = ReadBuffer(is->index, blkno);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		if (PageGetExactFreeSpace(BufferGetPage(buf)) < need)
		{
			RecordPageWithFreeSpace(is->index, blkno, PageGetExactFreeSpace(BufferGetPage(buf)));
			UnlockReleaseBuffer(buf);
			buf = InvalidBuffer;
		}
	}
	if (!BufferIsValid(buf))
	{
		LockRelationForExtension(is->index, ExclusiveLock);
		buf = ReadBuffer(is->index, P_NEW);
		UnlockRelationForExtension(is->index, ExclusiveLock);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		*newPage = true;
	}
	return buf;
}

/*
 * Add tuples to a page with room for all of them, WAL-logged; their TIDs
 * go to tids.  A new page becomes the meta page's insert page.
 */
static void
AddTuples(InsertState *is, Item *items, Size *sizes, int n, ItemPointer tids)
{
	Size		need = 0;
	bool		newPage;
	Buffer		buf;
	Buffer		metabuf = InvalidBuffer;
	GenericXLogState *state;
	Page		page;

	for (int i = 0; i < n; i++)
		need += MAXALIGN(sizes[i]) + sizeof(ItemIdData);
	buf = GetPageWithRoom(is, need, &newPage);

	state = GenericXLogStart(is->index);
	page = GenericXLogRegisterBuffer(state, buf, newPage ? GENERIC_XLOG_FULL_IMAGE : 0);
	if (newPage)
		HnswInitPage(buf, page);
	for (int i = 0; i < n; i++)
	{
		OffsetNumber off = PageAddItem(page, items[i], sizes[i], InvalidOffsetNumber, false, false);

		if (off == InvalidOffsetNumber)
			elog(ERROR, "failed to add hnsw tuple to index \"%s\"", RelationGetRelationName(is->index));
		ItemPointerSet(&tids[i], BufferGetBlockNumber(buf), off);
		/* the element points at its neighbor tuple, added just before it */
		if (i == 0 && n == 2)
			((HnswElementTuple) items[1])->neighbortid = tids[0];
	}
	if (newPage)
	{
		HnswMetaPage meta;

		metabuf = ReadBuffer(is->index, HNSW_METAPAGE_BLKNO);
		LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
		meta = HnswPageGetMeta(GenericXLogRegisterBuffer(state, metabuf, 0));
		meta->insertPage = BufferGetBlockNumber(buf);
		is->meta.insertPage = meta->insertPage;
	}
	GenericXLogFinish(state);
	if (BufferIsValid(metabuf))
		UnlockReleaseBuffer(metabuf);
	UnlockReleaseBuffer(buf);
}

/*
 * Write the element and its neighbor tuple, on one page when both fit
 * (the common case, which searches rely on), else on two; sets the
 * element's TID
 */
static void
WriteElement(InsertState *is, ItemPointer heaptid, ItemPointer etid)
{
	HnswSearch *s = &is->search;
	Size		sizes[2];
	Item		items[2];
	ItemPointerData tids[2];
	HnswElementTuple etup;
	HnswNeighborTuple ntup;

	sizes[0] = HNSW_NEIGHBOR_TUPLE_SIZE(is->level, is->m);
	sizes[1] = HNSW_ELEMENT_TUPLE_SIZE(is->valueSize);
	ntup = palloc0(sizes[0]);
	etup = palloc0(sizes[1]);
	items[0] = (Item) ntup;
	items[1] = (Item) etup;

	ntup->type = HNSW_NEIGHBOR_TUPLE_TYPE;
	ntup->count = HnswNeighborCount(is->m, is->level);
	for (int i = 0; i < ntup->count; i++)
		ItemPointerSetInvalid(&ntup->indextids[i]);
	for (int layer = 0; layer <= is->level; layer++)
	{
		int			start = HnswLayerStart(is->m, layer);

		for (int i = 0; i < is->layers[layer].nchosen; i++)
			ntup->indextids[start + i] = s->cands[is->layers[layer].chosen[i].id].tid;
	}
	etup->type = HNSW_ELEMENT_TUPLE_TYPE;
	etup->level = is->level;
	etup->heaptids[0] = *heaptid;
	for (int i = 1; i < HNSW_HEAPTIDS; i++)
		ItemPointerSetInvalid(&etup->heaptids[i]);
	memcpy(etup->data, is->value, is->valueSize);

	if (MAXALIGN(sizes[0]) + MAXALIGN(sizes[1]) + sizeof(ItemIdData) <= HNSW_MAX_TUPLE_SIZE)
		AddTuples(is, items, sizes, 2, tids);
	else
	{
		AddTuples(is, &items[0], &sizes[0], 1, &tids[0]);
		etup->neighbortid = tids[0];
		AddTuples(is, &items[1], &sizes[1], 1, &tids[1]);
	}
	*etid = tids[1];
	is->ntid = tids[0];
}

/*
 * Make the new element the entry point if it is above the current one (or
 * there is none); false if it did not become the entry point
 */
static bool
UpdateEntryPoint(InsertState *is, ItemPointer etid)
{
	bool		updated = false;

	Buffer		metabuf = ReadBuffer(is->index, HNSW_METAPAGE_BLKNO);
	GenericXLogState *state;
	HnswMetaPage meta;

	LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
	state = GenericXLogStart(is->index);
	meta = HnswPageGetMeta(GenericXLogRegisterBuffer(state, metabuf, 0));
	if (meta->entryBlkno == InvalidBlockNumber || is->level > meta->entryLevel)
	{
		meta->entryBlkno = ItemPointerGetBlockNumber(etid);
		meta->entryOffno = ItemPointerGetOffsetNumber(etid);
		meta->entryLevel = is->level;
		GenericXLogFinish(state);
		updated = true;
	}
	else
		GenericXLogAbort(state);
	UnlockReleaseBuffer(metabuf);
	return updated;
}

/*
 * Link the new element etid from neighbor candidate ci at one layer
 */
static void
AddBacklink(InsertState *is, int ci, int layer, ItemPointer etid)
{
	HnswSearch *s = &is->search;
	int			cap = HnswLayerCapacity(is->m, layer);
	ItemPointerData *current = palloc_array(ItemPointerData, cap);
	ItemPointerData *updated = palloc_array(ItemPointerData, cap + 1);
	ItemPointerData ntid = s->cands[ci].ntid;

	for (int attempt = 0; attempt < 2; attempt++)
	{
		int			n = 0;

		if (!HnswReadLayer(is->index, &ntid, is->m, layer, current))
			return;
		while (n < cap && ItemPointerIsValid(&current[n]))
			n++;
		memcpy(updated, current, cap * sizeof(ItemPointerData));
		updated[n] = *etid;
		/* full: keep the best of the current neighbors and the new element */
		if (n == cap)
			HnswChooseNeighbors(is->index, is->dist, is->m, CandidateValue(s, ci),
								updated, cap + 1, cap, false);
		if (HnswWriteLayer(is->index, &ntid, is->m, layer, current, updated))
			return;
	}
}

/*
 * Link an element written as the first of an empty index, when another
 * insert became the entry point first: search from that entry point and
 * fill in the element's own neighbor lists, which are still empty
 */
static void
LinkLateElement(InsertState *is, ItemPointer etid)
{
	HnswReadMeta(is->index, &is->meta);
	HnswSearchInit(&is->search, is->index, is->dist, is->m);
	is->search.keepValues = true;
	HnswVisitedAdd(&is->search.visited, etid);
	FindNeighbors(is);

	for (int layer = 0; layer <= Min(is->level, is->meta.entryLevel); layer++)
	{
		int			cap = HnswLayerCapacity(is->m, layer);
		ItemPointerData *empty = palloc_array(ItemPointerData, cap);
		ItemPointerData *chosen = palloc_array(ItemPointerData, cap);
		int			n = 0;

		for (int i = 0; i < cap; i++)
		{
			ItemPointerSetInvalid(&empty[i]);
			ItemPointerSetInvalid(&chosen[i]);
		}
		for (int i = 0; i < is->layers[layer].nchosen; i++)
		{
			ItemPointer tid = &is->search.cands[is->layers[layer].chosen[i].id].tid;

			if (!ItemPointerEquals(tid, etid))
				chosen[n++] = *tid;
		}
		HnswWriteLayer(is->index, &is->ntid, is->m, layer, empty, chosen);
	}
}

/*
 * Insert a prepared value (detoasted, normalized) with its heap TID
 */
void
HnswInsertValue(Relation index, HnswDistance dist, Datum value, ItemPointer heaptid)
{
	InsertState is;
	ItemPointerData etid;

	memset(&is, 0, sizeof(is));
	is.index = index;
	is.dist = dist;
	HnswReadMeta(index, &is.meta);
	is.m = is.meta.m;
	is.level = HnswRandomLevel(is.m);
	is.value = DatumGetPointer(value);
	is.valueSize = HnswValueSize(value);

	if (is.meta.entryBlkno != InvalidBlockNumber)
	{
		HnswSearchInit(&is.search, index, dist, is.m);
		is.search.keepValues = true;
		FindNeighbors(&is);
		if (AddToDuplicate(&is, heaptid))
			return;
	}

	WriteElement(&is, heaptid, &etid);

	/* the index was empty, and a concurrent insert was first after all */
	if (is.meta.entryBlkno == InvalidBlockNumber && !UpdateEntryPoint(&is, &etid))
		LinkLateElement(&is, &etid);

	for (int layer = 0; layer <= is.level; layer++)
	{
		for (int i = 0; i < is.layers[layer].nchosen; i++)
		{
			HnswPair   *p = &is.layers[layer].chosen[i];

			AddBacklink(&is, p->id, layer, &etid);
		}
	}

	if (is.level > is.meta.entryLevel)
		UpdateEntryPoint(&is, &etid);
}

/*
 * aminsert: add one heap tuple's value
 */
bool
hnswinsert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid,
		   Relation heap, IndexUniqueCheck checkUnique, bool indexUnchanged,
		   IndexInfo *indexInfo)
{
	MemoryContext insertCtx;
	MemoryContext oldCtx;
	HnswDistance dist;
	Datum		value;
	bool		ok;

	if (isnull[0])
		return false;

	dist = HnswGetDistance(index);
	insertCtx = AllocSetContextCreate(CurrentMemoryContext, "hnsw insert", ALLOCSET_DEFAULT_SIZES);
	oldCtx = MemoryContextSwitchTo(insertCtx);

	value = HnswPrepareValue(dist, values[0], &ok);
	if (ok)
	{
		HnswCheckValue(dist, value);
		HnswInsertValue(index, dist, value, heap_tid);
	}

	MemoryContextSwitchTo(oldCtx);
	MemoryContextDelete(insertCtx);
	return false;
}
