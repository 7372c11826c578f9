/*-------------------------------------------------------------------------
 *
 * hnswbuild.c
 *	  Build an hnsw index, serially or with parallel workers.
 *
 * The build has two phases.  While the graph fits in maintenance_work_mem,
 * tuples from the heap scan go into the in-memory graph of hnswgraph.c,
 * where a distance is one kernel call on two pointers and no buffer is
 * touched.  At the end the graph is written out page by page in one
 * sequential pass and WAL-logged as whole pages.
 *
 * Parallel build: with max_parallel_maintenance_workers > 0 the graph is
 * put in a DSM segment of maintenance_work_mem, and the leader and the
 * workers each take blocks of a parallel heap scan and insert into it
 * concurrently.  The leader writes the pages once all are done.
 *
 * When the graph outgrows maintenance_work_mem: a serial build writes out
 * what it has, with a NOTICE, and inserts the remaining tuples through the
 * ordinary on-disk path (hnswinsert.c), slower but never failing for lack
 * of memory; a parallel build starts over serially, which then does that.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xloginsert.h"
#include "catalog/index.h"
#include "commands/progress.h"
#include "miscadmin.h"
#include "optimizer/optimizer.h"
#include "optimizer/plancat.h"
#include "storage/bufmgr.h"
#include "tcop/tcopprot.h"
#include "utils/backend_progress.h"
#include "utils/backend_status.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "compat.h"
#include "hnsw/hnsw.h"

#define PROGRESS_HNSW_PHASE_LOAD 2

/* tuples per parallel worker when the heap's size says nothing (TOAST) */
#define HNSW_PARALLEL_TUPLES 20000

#define PARALLEL_KEY_HNSW_SHARED UINT64CONST(0xA000000000000001)
#define PARALLEL_KEY_HNSW_GRAPH UINT64CONST(0xA000000000000002)
#define PARALLEL_KEY_QUERY_TEXT UINT64CONST(0xA000000000000003)

/* What the leader shares with the workers; a parallel table scan follows */
typedef struct HnswShared
{
	Oid			heaprelid;
	Oid			indexrelid;
	bool		isconcurrent;
	Size		graphSize;

	slock_t		mutex;			/* protects the totals below */
	double		reltuples;
	double		indtuples;
} HnswShared;

#define ParallelTableScanFromHnswShared(shared) \
	((ParallelTableScanDesc) ((char *) (shared) + BUFFERALIGN(sizeof(HnswShared))))

typedef struct HnswBuildState
{
	Relation	heap;
	Relation	index;
	HnswDistance dist;
	bool		leader;			/* reports progress */
	bool		parallel;
	bool		inMemory;		/* still adding to the graph */
	double		indtuples;
	HnswGraph  *graph;
	HnswGraphSearch gs;
	MemoryContext tmpCtx;
} HnswBuildState;

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
 * The type information of the index's opclass
 */
static const HnswTypeInfo *
GetTypeInfo(Relation index)
{
	return (const HnswTypeInfo *) DatumGetPointer(OidFunctionCall0(index_getprocid(index, 1, HNSW_TYPE_INFO_PROC)));
}

/*
 * Check the column's dimensions against what the index can hold
 */
static int
CheckDimensions(Relation index)
{
	int			dimensions = TupleDescAttr(RelationGetDescr(index), 0)->atttypmod;
	const HnswTypeInfo *typeinfo = GetTypeInfo(index);

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
 * Expected bytes of one value, to size the graph's id table
 */
static Size
ValueSizeHint(Relation index, int dimensions)
{
	switch (GetTypeInfo(index)->kind)
	{
		case HNSW_KIND_VECTOR:
			if (dimensions > HNSW_FULL_VECTOR_DIM)
				return HNSW_QUANT_SIZE(HNSW_QUANT_HALF, dimensions);
			return 8 + 4 * (Size) dimensions;
		case HNSW_KIND_HALFVEC:
			if (dimensions > HNSW_FULL_HALFVEC_DIM)
				return HNSW_QUANT_SIZE(HNSW_QUANT_INT8, dimensions);
			return 8 + 2 * (Size) dimensions;
		case HNSW_KIND_BIT:
			return VARHDRSZ + sizeof(int32) + ((Size) dimensions + 7) / 8;
		case HNSW_KIND_SPARSEVEC:
			break;
	}
	return 256;
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
	/* a parallel build that ran out of room will start over */
	if (bs->parallel && pg_atomic_read_u32(&bs->graph->full))
		return;

	oldCtx = MemoryContextSwitchTo(bs->tmpCtx);
	value = HnswPrepareValue(bs->dist, values[0], &ok);
	if (ok)
	{
		HnswCheckValue(bs->dist, value);
		if (bs->inMemory && !HnswGraphInsert(&bs->gs, value, tid) && !bs->parallel)
		{
			ereport(NOTICE,
					(errmsg("hnsw graph no longer fits into maintenance_work_mem after " INT64_FORMAT " tuples",
							(int64) bs->indtuples),
					 errdetail("Building will take significantly more time."),
					 errhint("Increase maintenance_work_mem to speed up builds.")));
			HnswGraphFlush(bs->graph, index);
			bs->inMemory = false;
		}
		if (!bs->inMemory)
			HnswInsertValue(index, bs->dist, value, tid);
		bs->indtuples++;
		if (bs->leader)
			pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, (int64) bs->indtuples);
	}
	MemoryContextSwitchTo(oldCtx);
	MemoryContextReset(bs->tmpCtx);
}

/*
 * Prepare a build state over a graph
 */
static void
InitBuildState(HnswBuildState *bs, Relation heap, Relation index, HnswGraph *graph,
			   bool leader, bool parallel)
{
	memset(bs, 0, sizeof(HnswBuildState));
	bs->heap = heap;
	bs->index = index;
	bs->dist = HnswGetDistance(index);
	bs->leader = leader;
	bs->parallel = parallel;
	bs->inMemory = true;
	bs->graph = graph;
	HnswGraphSearchInit(&bs->gs, graph, bs->dist);
	bs->tmpCtx = AllocSetContextCreate(CurrentMemoryContext, "hnsw build tuple", ALLOCSET_DEFAULT_SIZES);
}

/*
 * Scan this participant's share of the heap into the shared graph
 */
static void
ParallelScanAndInsert(Relation heap, Relation index, HnswShared *shared, HnswGraph *graph,
					  bool leader)
{
	HnswBuildState bs;
	IndexInfo  *indexInfo;
	TableScanDesc scan;
	double		reltuples;

	InitBuildState(&bs, heap, index, graph, leader, true);
	indexInfo = BuildIndexInfo(index);
	indexInfo->ii_Concurrent = shared->isconcurrent;
	scan = table_beginscan_parallel(heap, ParallelTableScanFromHnswShared(shared));
	reltuples = table_index_build_scan(heap, index, indexInfo, true, leader,
									   BuildCallback, (void *) &bs, scan);

	SpinLockAcquire(&shared->mutex);
	shared->reltuples += reltuples;
	shared->indtuples += bs.indtuples;
	SpinLockRelease(&shared->mutex);
	MemoryContextDelete(bs.tmpCtx);
}

/*
 * Entry point of a parallel build worker
 */
void
HnswParallelBuildMain(dsm_segment *seg, shm_toc *toc)
{
	HnswShared *shared = shm_toc_lookup(toc, PARALLEL_KEY_HNSW_SHARED, false);
	HnswGraph  *graph = shm_toc_lookup(toc, PARALLEL_KEY_HNSW_GRAPH, false);
	char	   *sharedquery = shm_toc_lookup(toc, PARALLEL_KEY_QUERY_TEXT, true);
	LOCKMODE	heapLockmode;
	LOCKMODE	indexLockmode;
	Relation	heap;
	Relation	index;

	debug_query_string = sharedquery;
	pgstat_report_activity(STATE_RUNNING, debug_query_string);

	/* the lock modes index.c took in the leader */
	if (!shared->isconcurrent)
	{
		heapLockmode = ShareLock;
		indexLockmode = AccessExclusiveLock;
	}
	else
	{
		heapLockmode = ShareUpdateExclusiveLock;
		indexLockmode = RowExclusiveLock;
	}
	heap = table_open(shared->heaprelid, heapLockmode);
	index = index_open(shared->indexrelid, indexLockmode);

	ParallelScanAndInsert(heap, index, shared, graph, false);

	index_close(index, indexLockmode);
	table_close(heap, heapLockmode);
}

/*
 * Build the graph with parallel workers; false if it did not fit (nothing
 * is written then)
 */
static bool
ParallelBuild(Relation heap, Relation index, IndexInfo *indexInfo, int nworkers,
			  Size graphSize, int m, int efConstruction, Size valueSizeHint,
			  double *reltuples, double *indtuples)
{
	ParallelContext *pcxt;
	Snapshot	snapshot;
	Size		estshared;
	HnswShared *shared;
	HnswGraph  *graph;
	char	   *sharedquery;
	int			querylen = debug_query_string ? strlen(debug_query_string) : 0;
	bool		fitted = false;

	EnterParallelMode();
	pcxt = CreateParallelContext("pgmlops", "HnswParallelBuildMain", nworkers);
	snapshot = indexInfo->ii_Concurrent ? RegisterSnapshot(GetTransactionSnapshot()) : SnapshotAny;

	estshared = add_size(BUFFERALIGN(sizeof(HnswShared)), table_parallelscan_estimate(heap, snapshot));
	shm_toc_estimate_chunk(&pcxt->estimator, estshared);
	shm_toc_estimate_chunk(&pcxt->estimator, graphSize);
	shm_toc_estimate_chunk(&pcxt->estimator, querylen + 1);
	shm_toc_estimate_keys(&pcxt->estimator, 3);

	InitializeParallelDSM(pcxt);
	if (pcxt->seg == NULL)
	{
		if (IsMVCCSnapshot(snapshot))
			UnregisterSnapshot(snapshot);
		DestroyParallelContext(pcxt);
		ExitParallelMode();
		return false;
	}

	shared = shm_toc_allocate(pcxt->toc, estshared);
	shared->heaprelid = RelationGetRelid(heap);
	shared->indexrelid = RelationGetRelid(index);
	shared->isconcurrent = indexInfo->ii_Concurrent;
	shared->graphSize = graphSize;
	SpinLockInit(&shared->mutex);
	shared->reltuples = 0;
	shared->indtuples = 0;
	table_parallelscan_initialize(heap, ParallelTableScanFromHnswShared(shared), snapshot);
	shm_toc_insert(pcxt->toc, PARALLEL_KEY_HNSW_SHARED, shared);

	graph = shm_toc_allocate(pcxt->toc, graphSize);
	HnswGraphInit(graph, graphSize, m, efConstruction, valueSizeHint);
	shm_toc_insert(pcxt->toc, PARALLEL_KEY_HNSW_GRAPH, graph);

	sharedquery = shm_toc_allocate(pcxt->toc, querylen + 1);
	if (querylen > 0)
		memcpy(sharedquery, debug_query_string, querylen);
	sharedquery[querylen] = '\0';
	shm_toc_insert(pcxt->toc, PARALLEL_KEY_QUERY_TEXT, sharedquery);

	LaunchParallelWorkers(pcxt);
	ParallelScanAndInsert(heap, index, shared, graph, true);
	WaitForParallelWorkersToFinish(pcxt);

	if (!pg_atomic_read_u32(&graph->full))
	{
		HnswGraphFlush(graph, index);
		*reltuples = shared->reltuples;
		*indtuples = shared->indtuples;
		fitted = true;
	}
	else
		ereport(NOTICE,
				(errmsg("hnsw graph no longer fits into maintenance_work_mem, building serially"),
				 errhint("Increase maintenance_work_mem to speed up builds.")));

	if (IsMVCCSnapshot(snapshot))
		UnregisterSnapshot(snapshot);
	DestroyParallelContext(pcxt);
	ExitParallelMode();
	return fitted;
}

/*
 * Build the graph in this process, continuing on disk if memory runs out
 */
static void
SerialBuild(Relation heap, Relation index, IndexInfo *indexInfo, Size graphSize,
			int m, int efConstruction, Size valueSizeHint,
			double *reltuples, double *indtuples)
{
	HnswBuildState bs;
	HnswGraph  *graph;

	graph = MemoryContextAllocExtended(CurrentMemoryContext, graphSize, MCXT_ALLOC_HUGE);
	HnswGraphInit(graph, graphSize, m, efConstruction, valueSizeHint);
	InitBuildState(&bs, heap, index, graph, true, false);

	*reltuples = table_index_build_scan(heap, index, indexInfo, true, true,
										BuildCallback, (void *) &bs, NULL);
	if (bs.inMemory)
		HnswGraphFlush(graph, index);
	*indtuples = bs.indtuples;
	MemoryContextDelete(bs.tmpCtx);
	pfree(graph);
}

/*
 * How many workers to ask for.  The planner sizes a build by heap pages,
 * but wide vectors live in TOAST, so a table of a few MB can hold a long
 * build: when the planner says none, count tuples instead, for a plain
 * column of a regular table.
 */
static int
PlanWorkers(Relation heap, Relation index, IndexInfo *indexInfo)
{
	int			nworkers = plan_create_index_workers(RelationGetRelid(heap), RelationGetRelid(index));
	BlockNumber pages;
	double		tuples;
	double		allvisfrac;

	if (nworkers > 0 || max_parallel_maintenance_workers == 0 ||
		indexInfo->ii_Expressions != NIL || indexInfo->ii_Predicate != NIL ||
		RelationUsesLocalBuffers(heap))
		return nworkers;
	estimate_rel_size(heap, NULL, &pages, &tuples, &allvisfrac);
	return Min(max_parallel_maintenance_workers, (int) (tuples / HNSW_PARALLEL_TUPLES));
}

/*
 * Build the index for the whole table
 */
IndexBuildResult *
hnswbuild(Relation heap, Relation index, IndexInfo *indexInfo)
{
	IndexBuildResult *result;
	MemoryContext buildCtx;
	MemoryContext oldCtx;
	int			m = HnswGetM(index);
	int			efConstruction = HnswGetEfConstruction(index);
	int			dimensions;
	Size		graphSize;
	Size		valueSizeHint;
	int			nworkers = 0;
	double		reltuples = 0;
	double		indtuples = 0;
	bool		built = false;

	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data", RelationGetRelationName(index));
	if (efConstruction < 2 * m)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ef_construction must be greater than or equal to 2 * m")));
	dimensions = CheckDimensions(index);
	valueSizeHint = ValueSizeHint(index, dimensions);
	graphSize = Max((Size) maintenance_work_mem * 1024, (Size) 1024 * 1024);

	buildCtx = AllocSetContextCreate(CurrentMemoryContext, "hnsw build", ALLOCSET_DEFAULT_SIZES);
	oldCtx = MemoryContextSwitchTo(buildCtx);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PROGRESS_CREATEIDX_SUBPHASE_INITIALIZE);
	CreateMetaPage(index, dimensions, m, efConstruction, MAIN_FORKNUM);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, PROGRESS_HNSW_PHASE_LOAD);
	if (heap->rd_rel->reltuples > 0)
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, (int64) heap->rd_rel->reltuples);
	if (IsUnderPostmaster && !IsParallelWorker())
		nworkers = PlanWorkers(heap, index, indexInfo);
	if (nworkers > 0)
		built = ParallelBuild(heap, index, indexInfo, nworkers, graphSize, m, efConstruction,
							  valueSizeHint, &reltuples, &indtuples);
	if (!built)
		SerialBuild(heap, index, indexInfo, graphSize, m, efConstruction, valueSizeHint,
					&reltuples, &indtuples);

	if (RelationNeedsWAL(index))
		log_newpage_range(index, MAIN_FORKNUM, 0, RelationGetNumberOfBlocks(index), true);

	MemoryContextSwitchTo(oldCtx);
	MemoryContextDelete(buildCtx);

	result = palloc_object(IndexBuildResult);
	result->heap_tuples = reltuples;
	result->index_tuples = indtuples;
	return result;
}

/*
 * Build an empty index for the init fork of an unlogged table
 */
void
hnswbuildempty(Relation index)
{
	CreateMetaPage(index, CheckDimensions(index), HnswGetM(index),
				   HnswGetEfConstruction(index), INIT_FORKNUM);
}
