/*-------------------------------------------------------------------------
 *
 * hnswvacuum.c
 *	  Remove dead heap TIDs from an hnsw index and repair the graph.
 *
 * Three passes over the data pages:
 *   1. drop dead heap TIDs from element tuples; an element left with none
 *      is dead, and is remembered with its neighbor tuple;
 *   2. for every live element with a dead neighbor, rebuild that layer's
 *      list from its live neighbors plus the live neighbors of the dead
 *      ones (a local repair: no graph search), and move the entry point
 *      to the highest live element if it died;
 *   3. delete the dead elements and their neighbor tuples from the pages,
 *      so that inserts reuse the space.
 * Searches that still hold a link to a deleted element find an unused
 * line pointer, or a new element, and go on.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "commands/vacuum.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/freespace.h"
#include "storage/indexfsm.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "compat.h"
#include "hnsw/hnsw.h"

typedef struct VacuumState
{
	Relation	index;
	HnswDistance dist;
	HnswMetaPageData meta;
	BufferAccessStrategy strategy;
	HnswVisited dead;			/* dead element TIDs */
	ItemPointerData *deadNtids; /* their neighbor tuples, (ndead) */
	ItemPointerData *deadTids;
	int			ndead;
	int			maxdead;
	ItemPointerData *farNtids;	/* dead ones' neighbor tuples on another page, sorted */
	int			nfar;
	ItemPointerData highest;	/* a live element of the highest level */
	int			highestLevel;
	MemoryContext tmpCtx;
} VacuumState;

/*
 * Pass 1: remove dead heap TIDs, collect dead elements
 */
static void
RemoveHeapTids(VacuumState *vs, IndexBulkDeleteResult *stats,
			   IndexBulkDeleteCallback callback, void *callback_state)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(vs->index);

	for (BlockNumber blkno = HNSW_HEAD_BLKNO; blkno < nblocks; blkno++)
	{
		Buffer		buf;
		Page		page;
		GenericXLogState *state;
		bool		changed = false;

		vacuum_delay_point();
		buf = ReadBufferExtended(vs->index, MAIN_FORKNUM, blkno, RBM_NORMAL, vs->strategy);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		state = GenericXLogStart(vs->index);
		page = GenericXLogRegisterBuffer(state, buf, 0);

		for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
		{
			ItemId		itemid = PageGetItemId(page, off);
			HnswElementTuple etup;
			int			live = 0;

			if (!ItemIdIsNormal(itemid))
				continue;
			etup = (HnswElementTuple) PageGetItem(page, itemid);
			if (etup->type != HNSW_ELEMENT_TUPLE_TYPE)
				continue;

			/*
			 * An element marked deleted by a vacuum that did not finish is
			 * dead too (its heap TIDs are already gone)
			 */
			for (int i = 0; i < HNSW_HEAPTIDS && !etup->deleted; i++)
			{
				if (!ItemPointerIsValid(&etup->heaptids[i]))
					continue;
				if (callback(&etup->heaptids[i], callback_state))
				{
					ItemPointerSetInvalid(&etup->heaptids[i]);
					stats->tuples_removed++;
					changed = true;
				}
				else
				{
					/* keep live TIDs at the front */
					if (live != i)
					{
						etup->heaptids[live] = etup->heaptids[i];
						ItemPointerSetInvalid(&etup->heaptids[i]);
					}
					live++;
					stats->num_index_tuples++;
				}
			}

			if (live == 0)
			{
				ItemPointerData tid;

				ItemPointerSet(&tid, blkno, off);
				if (!etup->deleted)
				{
					etup->deleted = 1;
					changed = true;
				}
				if (vs->ndead == vs->maxdead)
				{
					vs->maxdead *= 2;
					vs->deadTids = repalloc_huge(vs->deadTids, sizeof(ItemPointerData) * vs->maxdead);
					vs->deadNtids = repalloc_huge(vs->deadNtids, sizeof(ItemPointerData) * vs->maxdead);
				}
				vs->deadTids[vs->ndead] = tid;
				vs->deadNtids[vs->ndead] = etup->neighbortid;
				vs->ndead++;
				HnswVisitedAdd(&vs->dead, &tid);
			}
			else if (etup->level > vs->highestLevel)
			{
				vs->highestLevel = etup->level;
				ItemPointerSet(&vs->highest, blkno, off);
			}
		}

		if (changed)
			GenericXLogFinish(state);
		else
			GenericXLogAbort(state);
		UnlockReleaseBuffer(buf);
	}
}

/*
 * Order of dead elements by TID, for FindDead
 */
static int
CompareDead(const void *a, const void *b)
{
	return ItemPointerCompare((ItemPointer) a, (ItemPointer) b);
}

/*
 * Sort the dead elements by TID, carrying their neighbor tuples along, and
 * list apart the neighbor tuples that are not on their element's page
 */
static void
SortDead(VacuumState *vs)
{
	ItemPointerData *pairs = palloc_array(ItemPointerData, 2 * (Size) vs->ndead);

	for (int i = 0; i < vs->ndead; i++)
	{
		pairs[2 * i] = vs->deadTids[i];
		pairs[2 * i + 1] = vs->deadNtids[i];
	}
	qsort(pairs, vs->ndead, 2 * sizeof(ItemPointerData), CompareDead);
	vs->farNtids = palloc_array(ItemPointerData, vs->ndead);
	vs->nfar = 0;
	for (int i = 0; i < vs->ndead; i++)
	{
		vs->deadTids[i] = pairs[2 * i];
		vs->deadNtids[i] = pairs[2 * i + 1];
		if (ItemPointerGetBlockNumber(&vs->deadNtids[i]) != ItemPointerGetBlockNumber(&vs->deadTids[i]))
			vs->farNtids[vs->nfar++] = vs->deadNtids[i];
	}
	qsort(vs->farNtids, vs->nfar, sizeof(ItemPointerData), CompareDead);
	pfree(pairs);
}

/*
 * Position of a dead element in the sorted dead arrays, or -1
 */
static int
FindDead(VacuumState *vs, ItemPointer tid)
{
	ItemPointerData *found = bsearch(tid, vs->deadTids, vs->ndead, sizeof(ItemPointerData), CompareDead);

	return found ? (int) (found - vs->deadTids) : -1;
}

/*
 * Rebuild one layer of a live element's neighbors around its dead ones
 */
static void
RepairLayer(VacuumState *vs, ItemPointer self, ItemPointer ntid, const char *value, int layer)
{
	int			m = vs->meta.m;
	int			cap = HnswLayerCapacity(m, layer);
	ItemPointerData *current = palloc_array(ItemPointerData, cap);
	ItemPointerData *cands = palloc_array(ItemPointerData, cap * (cap + 1));
	ItemPointerData *deadnbrs = palloc_array(ItemPointerData, cap);
	int			n = 0;
	bool		anyDead = false;

	if (!HnswReadLayer(vs->index, ntid, m, layer, current))
		return;
	for (int i = 0; i < cap && ItemPointerIsValid(&current[i]); i++)
	{
		int			d;

		if (!HnswVisitedContains(&vs->dead, &current[i]))
		{
			cands[n++] = current[i];
			continue;
		}
		anyDead = true;
		d = FindDead(vs, &current[i]);
		if (d >= 0 && HnswReadLayer(vs->index, &vs->deadNtids[d], m, layer, deadnbrs))
			for (int j = 0; j < cap && ItemPointerIsValid(&deadnbrs[j]); j++)
				if (!ItemPointerEquals(&deadnbrs[j], self))
					cands[n++] = deadnbrs[j];
	}
	if (!anyDead)
		return;
	HnswChooseNeighbors(vs->index, vs->dist, m, value, cands, n, cap, true);
	HnswWriteLayer(vs->index, ntid, m, layer, current, cands);
}

/*
 * Pass 2: repair the neighbor lists that point to dead elements
 */
static void
RepairGraph(VacuumState *vs)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(vs->index);
	/* not in tmpCtx, which each repair resets */
	char	   *value = MemoryContextAlloc(MemoryContextGetParent(vs->tmpCtx), BLCKSZ);

	for (BlockNumber blkno = HNSW_HEAD_BLKNO; blkno < nblocks; blkno++)
	{
		Buffer		buf;
		Page		page;
		OffsetNumber maxoff;

		vacuum_delay_point();
		for (OffsetNumber off = FirstOffsetNumber;; off++)
		{
			ItemId		itemid;
			HnswElementTuple etup;
			ItemPointerData self;
			ItemPointerData ntid;
			int			level;

			/* copy one element out, then repair with no lock held */
			buf = ReadBufferExtended(vs->index, MAIN_FORKNUM, blkno, RBM_NORMAL, vs->strategy);
			LockBuffer(buf, BUFFER_LOCK_SHARE);
			page = BufferGetPage(buf);
			maxoff = PageGetMaxOffsetNumber(page);
			if (off > maxoff)
			{
				UnlockReleaseBuffer(buf);
				break;
			}
			itemid = PageGetItemId(page, off);
			etup = ItemIdIsNormal(itemid) ? (HnswElementTuple) PageGetItem(page, itemid) : NULL;
			if (etup == NULL || etup->type != HNSW_ELEMENT_TUPLE_TYPE || etup->deleted)
			{
				UnlockReleaseBuffer(buf);
				continue;
			}
			memcpy(value, etup->data, VARSIZE_ANY(etup->data));
			ntid = etup->neighbortid;
			level = etup->level;
			UnlockReleaseBuffer(buf);

			ItemPointerSet(&self, blkno, off);
			for (int layer = 0; layer <= level; layer++)
			{
				RepairLayer(vs, &self, &ntid, value, layer);
				MemoryContextReset(vs->tmpCtx);
			}
		}
	}
}

/*
 * Point the meta page at a live entry element if the entry died
 */
static void
RepairEntryPoint(VacuumState *vs)
{
	Buffer		metabuf;
	GenericXLogState *state;
	HnswMetaPage meta;
	ItemPointerData entry;

	if (vs->meta.entryBlkno == InvalidBlockNumber)
		return;
	ItemPointerSet(&entry, vs->meta.entryBlkno, vs->meta.entryOffno);
	if (!HnswVisitedContains(&vs->dead, &entry))
		return;

	metabuf = ReadBuffer(vs->index, HNSW_METAPAGE_BLKNO);
	LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
	state = GenericXLogStart(vs->index);
	meta = HnswPageGetMeta(GenericXLogRegisterBuffer(state, metabuf, 0));
	if (meta->entryBlkno == vs->meta.entryBlkno && meta->entryOffno == vs->meta.entryOffno)
	{
		if (vs->highestLevel >= 0)
		{
			meta->entryBlkno = ItemPointerGetBlockNumber(&vs->highest);
			meta->entryOffno = ItemPointerGetOffsetNumber(&vs->highest);
			meta->entryLevel = vs->highestLevel;
		}
		else
		{
			meta->entryBlkno = InvalidBlockNumber;
			meta->entryOffno = InvalidOffsetNumber;
			meta->entryLevel = -1;
		}
	}
	GenericXLogFinish(state);
	UnlockReleaseBuffer(metabuf);
}

/*
 * Pass 3: delete dead elements and their neighbor tuples from the pages
 */
static void
FreeDeadElements(VacuumState *vs, IndexBulkDeleteResult *stats)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(vs->index);
	BlockNumber firstFreed = InvalidBlockNumber;
	int			nextFar = 0;

	for (BlockNumber blkno = HNSW_HEAD_BLKNO; blkno < nblocks; blkno++)
	{
		Buffer		buf;
		Page		page;
		GenericXLogState *state;
		OffsetNumber dead[MaxOffsetNumber];
		int			ndead = 0;

		vacuum_delay_point();
		buf = ReadBufferExtended(vs->index, MAIN_FORKNUM, blkno, RBM_NORMAL, vs->strategy);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		state = GenericXLogStart(vs->index);
		page = GenericXLogRegisterBuffer(state, buf, 0);

		for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
		{
			ItemId		itemid = PageGetItemId(page, off);
			HnswElementTuple etup;

			if (!ItemIdIsNormal(itemid))
				continue;
			etup = (HnswElementTuple) PageGetItem(page, itemid);
			if (etup->type != HNSW_ELEMENT_TUPLE_TYPE || !etup->deleted)
				continue;
			dead[ndead++] = off;
			/* its neighbor tuple, when on this page (else below) */
			if (ItemPointerGetBlockNumber(&etup->neighbortid) == blkno)
				dead[ndead++] = ItemPointerGetOffsetNumber(&etup->neighbortid);
		}
		/* neighbor tuples of dead elements on other pages (sorted by block) */
		while (nextFar < vs->nfar && ItemPointerGetBlockNumber(&vs->farNtids[nextFar]) < blkno)
			nextFar++;
		while (nextFar < vs->nfar && ItemPointerGetBlockNumber(&vs->farNtids[nextFar]) == blkno)
			dead[ndead++] = ItemPointerGetOffsetNumber(&vs->farNtids[nextFar++]);

		if (ndead > 0)
		{
			Size		freespace;

			/* NoCompact keeps every other offset on the page stable */
			for (int i = 0; i < ndead; i++)
				PageIndexTupleDeleteNoCompact(page, dead[i]);
			freespace = PageGetExactFreeSpace(page);
			GenericXLogFinish(state);
			UnlockReleaseBuffer(buf);
			RecordPageWithFreeSpace(vs->index, blkno, freespace);
			if (firstFreed == InvalidBlockNumber)
				firstFreed = blkno;
			continue;
		}
		GenericXLogAbort(state);
		UnlockReleaseBuffer(buf);
	}
	IndexFreeSpaceMapVacuum(vs->index);

	/* inserts fill the first page that got room, then ask the free space map */
	if (firstFreed != InvalidBlockNumber)
	{
		Buffer		metabuf = ReadBuffer(vs->index, HNSW_METAPAGE_BLKNO);
		GenericXLogState *state;
		HnswMetaPage meta;

		LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
		state = GenericXLogStart(vs->index);
		meta = HnswPageGetMeta(GenericXLogRegisterBuffer(state, metabuf, 0));
		meta->insertPage = firstFreed;
		GenericXLogFinish(state);
		UnlockReleaseBuffer(metabuf);
	}
}

/*
 * ambulkdelete
 */
IndexBulkDeleteResult *
hnswbulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
			   IndexBulkDeleteCallback callback, void *callback_state)
{
	VacuumState vs;
	MemoryContext vacCtx;
	MemoryContext oldCtx;

	if (stats == NULL)
		stats = palloc0_object(IndexBulkDeleteResult);

	vacCtx = AllocSetContextCreate(CurrentMemoryContext, "hnsw vacuum", ALLOCSET_DEFAULT_SIZES);
	oldCtx = MemoryContextSwitchTo(vacCtx);

	memset(&vs, 0, sizeof(vs));
	vs.index = info->index;
	vs.dist = HnswGetDistance(info->index);
	vs.strategy = info->strategy;
	HnswReadMeta(info->index, &vs.meta);
	vs.maxdead = 1024;
	vs.deadTids = palloc_array(ItemPointerData, vs.maxdead);
	vs.deadNtids = palloc_array(ItemPointerData, vs.maxdead);
	vs.highestLevel = -1;
	vs.tmpCtx = AllocSetContextCreate(vacCtx, "hnsw vacuum repair", ALLOCSET_DEFAULT_SIZES);

	stats->num_index_tuples = 0;
	RemoveHeapTids(&vs, stats, callback, callback_state);
	if (vs.ndead > 0)
	{
		SortDead(&vs);
		MemoryContextSwitchTo(vs.tmpCtx);
		RepairGraph(&vs);
		MemoryContextSwitchTo(vacCtx);
		RepairEntryPoint(&vs);
		FreeDeadElements(&vs, stats);
	}

	MemoryContextSwitchTo(oldCtx);
	MemoryContextDelete(vacCtx);
	stats->num_pages = RelationGetNumberOfBlocks(info->index);
	return stats;
}

/*
 * amvacuumcleanup
 */
IndexBulkDeleteResult *
hnswvacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	if (info->analyze_only)
		return stats;
	if (stats == NULL)
	{
		stats = palloc0_object(IndexBulkDeleteResult);
		stats->num_index_tuples = info->num_heap_tuples;
		stats->estimated_count = true;
	}
	stats->num_pages = RelationGetNumberOfBlocks(info->index);
	return stats;
}
