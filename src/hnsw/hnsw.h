/*-------------------------------------------------------------------------
 *
 * hnsw.h
 *	  Shared definitions of the hnsw access method.
 *
 * On-disk layout.  Block 0 is the meta page.  Every other block is a data
 * page holding element tuples (the indexed value, its level and heap TIDs)
 * and neighbor tuples (one list of index TIDs per graph layer).  An element
 * and its neighbor tuple are placed on the same page whenever they fit, so
 * a search reads both under one buffer lock: when it computes the distance
 * to an element it also copies out the element's layer-0 neighbors, and
 * expanding that element later costs no further page access.
 *
 * Searches keep several entries per layer on the way down rather
 * than one: on clustered data a single greedy path often ends in the wrong
 * cluster, and a few more entries route into the right one at little cost.
 *
 * Distances are computed by the SIMD kernels of vector/vecdist.h through
 * an HnswDistance descriptor chosen once per index from the opclass, with
 * the opclass's fmgr support function as a fallback.  Values of cosine
 * opclasses are normalized on the way in, so cosine becomes inner product.
 *
 * A vector column wider than HNSW_FULL_VECTOR_DIM does not fit a page in
 * float4, nor a halfvec wider than HNSW_FULL_HALFVEC_DIM in binary16.
 * Their indexes store every value (and quantize every query) in binary16
 * or int8 respectively, with the norms of the rounding residual
 * (HnswQuantValue).  The graph is searched on the quantized values, and the
 * scan hands the executor, with each row, a lower bound of the exact
 * distance derived from those residuals: the executor recomputes the exact
 * distance from the heap row and reorders (xs_recheckorderby), so the rows
 * come out in exact order.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMLOPS_HNSW_HNSW_H
#define PGMLOPS_HNSW_HNSW_H

#include "access/amapi.h"
#include "access/generic_xlog.h"
#include "access/itup.h"
#include "fmgr.h"
#include "nodes/execnodes.h"
#include "port/atomics.h"
#include "storage/bufmgr.h"
#include "storage/dsm.h"
#include "storage/shm_toc.h"
#include "storage/spin.h"
#include "utils/relcache.h"

#define HNSW_MAGIC_NUMBER 0x504D4C48	/* "HLMP" */
#define HNSW_VERSION 1

#define HNSW_METAPAGE_BLKNO 0
#define HNSW_HEAD_BLKNO 1		/* first data page */

#define HNSW_DEFAULT_M 16
#define HNSW_MIN_M 2
#define HNSW_MAX_M 100
#define HNSW_DEFAULT_EF_CONSTRUCTION 64
#define HNSW_MIN_EF_CONSTRUCTION 4
#define HNSW_MAX_EF_CONSTRUCTION 1000
#define HNSW_DEFAULT_EF_SEARCH 40
#define HNSW_MIN_EF_SEARCH 1
#define HNSW_MAX_EF_SEARCH 1000

#define HNSW_MAX_LEVEL 15
#define HNSW_SCAN_UPPER_EF 16	/* entries a scan keeps per layer above layer 0 */
#define HNSW_BUILD_UPPER_EF 16	/* entries a build insert keeps per layer above its own */
#define HNSW_INSERT_UPPER_EF 4	/* the same for an insert after the build (latency) */
#define HNSW_FULL_VECTOR_DIM 2000	/* widest vector stored in float4 */
#define HNSW_MAX_VECTOR_DIM 4000	/* widest vector, stored in binary16 */
#define HNSW_FULL_HALFVEC_DIM 4000	/* widest halfvec stored in binary16 */
#define HNSW_MAX_HALFVEC_DIM 8000	/* widest halfvec, stored in int8 */
#define HNSW_MAX_NNZ 1000		/* sparsevec non-zero elements */
#define HNSW_HEAPTIDS 2			/* heap TIDs one element can carry (duplicates) */

/* Support functions of an opclass */
#define HNSW_DISTANCE_PROC 1
#define HNSW_NORM_PROC 2
#define HNSW_TYPE_INFO_PROC 3

/* Neighbors of an element per layer: 2m at layer 0, m above */
#define HnswLayerCapacity(m, layer) ((layer) == 0 ? (m) * 2 : (m))
#define HnswNeighborCount(m, level) (((level) + 2) * (m))
#define HnswLayerStart(m, layer) ((layer) == 0 ? 0 : ((layer) + 1) * (m))

typedef enum HnswIterativeScanMode
{
	HNSW_ITERATIVE_SCAN_OFF,
	HNSW_ITERATIVE_SCAN_RELAXED,
	HNSW_ITERATIVE_SCAN_STRICT
} HnswIterativeScanMode;

/* What the type-info support function returns */
typedef enum HnswValueKind
{
	HNSW_KIND_VECTOR,			/* vector: float4 */
	HNSW_KIND_HALFVEC,			/* halfvec: binary16 */
	HNSW_KIND_SPARSEVEC,		/* sparsevec */
	HNSW_KIND_BIT				/* bit(n) */
} HnswValueKind;

typedef struct HnswTypeInfo
{
	HnswValueKind kind;
	int			maxDimensions;	/* for vector/halfvec/bit; nnz for sparsevec */
} HnswTypeInfo;

typedef enum HnswMetric
{
	HNSW_METRIC_L2,				/* squared L2 */
	HNSW_METRIC_IP,				/* negative inner product (also cosine) */
	HNSW_METRIC_L1,
	HNSW_METRIC_HAMMING,
	HNSW_METRIC_JACCARD,
	HNSW_METRIC_FMGR			/* unknown support function: call it */
} HnswMetric;

typedef struct HnswDistanceData *HnswDistance;
typedef float (*HnswDistFn) (HnswDistance d, const char *a, const char *b);

/*
 * How to compare two values of one index: values are plain varlena datums
 * of the indexed type, never toasted or compressed
 */
typedef struct HnswDistanceData
{
	HnswValueKind kind;
	HnswMetric	metric;
	bool		normalize;		/* cosine opclass */
	uint8		quant;			/* HNSW_QUANT_*: values stored as HnswQuantValue */
	int			dimensions;		/* the column's, -1 if none */
	float	   *scratch;		/* int8: (2 * dimensions) floats to decode into */
	HnswDistFn	fn;
	FmgrInfo   *procinfo;		/* distance support function */
	FmgrInfo   *normprocinfo;	/* norm support function, if any */
	Oid			collation;
} HnswDistanceData;

#define HNSW_QUANT_NONE 0
#define HNSW_QUANT_HALF 1		/* binary16 elements */
#define HNSW_QUANT_INT8 2		/* offset + scale * (int8 + 128) */

/*
 * A value quantized for the index, with what bounds the error: the L2 and
 * L1 norms of (value - quantized) and the L2 norm of the quantized value.
 * A varlena, so that it is stored and compared like any value.
 */
typedef struct HnswQuantValue
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	float		errL2;
	float		errL1;
	float		norm;
	float		offset;			/* int8 only */
	float		scale;			/* int8 only */
	int16		dim;
	uint8		format;			/* HNSW_QUANT_HALF or HNSW_QUANT_INT8 */
	uint8		unused;
	char		x[FLEXIBLE_ARRAY_MEMBER];	/* (dim) binary16 or int8 */
} HnswQuantValue;

#define HNSW_QUANT_SIZE(format, dim) \
	(offsetof(HnswQuantValue, x) + (Size) (dim) * ((format) == HNSW_QUANT_HALF ? sizeof(uint16) : sizeof(int8)))

/*
 * What a backend keeps per hnsw index in rd_amcache: the distance
 * descriptor, and the shared buffer that last held each block, so that
 * most page reads skip the buffer mapping table (ReadRecentBuffer).  The
 * relcache may free it at any invalidation, so callers copy the
 * descriptor and look the cache up again for every read.
 */
typedef struct HnswCache
{
	HnswDistanceData dist;
	BlockNumber nrecent;
	Buffer	   *recent;			/* (nrecent), InvalidBuffer if unknown */
} HnswCache;

/* Meta page */
typedef struct HnswMetaPageData
{
	uint32		magicNumber;
	uint32		version;
	uint32		dimensions;
	uint16		m;
	uint16		efConstruction;
	BlockNumber entryBlkno;		/* entry point element, or InvalidBlockNumber */
	OffsetNumber entryOffno;
	int16		entryLevel;
	BlockNumber insertPage;		/* where inserts look for space first */
} HnswMetaPageData;

typedef HnswMetaPageData *HnswMetaPage;

#define HnswPageGetMeta(page) ((HnswMetaPage) PageGetContents(page))

/* Special space of every page */
typedef struct HnswPageOpaqueData
{
	BlockNumber nextblkno;
	uint16		unused;
	uint16		page_id;		/* for identification of hnsw pages */
} HnswPageOpaqueData;

typedef HnswPageOpaqueData *HnswPageOpaque;

#define HNSW_PAGE_ID 0xFF91
#define HnswPageGetOpaque(page) ((HnswPageOpaque) PageGetSpecialPointer(page))

#define HNSW_ELEMENT_TUPLE_TYPE 1
#define HNSW_NEIGHBOR_TUPLE_TYPE 2

/* One graph node: the value and where its neighbors are */
typedef struct HnswElementTupleData
{
	uint8		type;			/* HNSW_ELEMENT_TUPLE_TYPE */
	uint8		level;
	uint8		deleted;
	uint8		unused;
	ItemPointerData heaptids[HNSW_HEAPTIDS];	/* invalid when unused */
	ItemPointerData neighbortid;	/* the neighbor tuple */
	uint16		unused2;
	char		data[FLEXIBLE_ARRAY_MEMBER];	/* the value, a varlena */
} HnswElementTupleData;

typedef HnswElementTupleData *HnswElementTuple;

#define HNSW_ELEMENT_TUPLE_SIZE(valuesize) MAXALIGN(offsetof(HnswElementTupleData, data) + (valuesize))

/* Neighbor lists of one element: layer 0 first (2m), then m per layer */
typedef struct HnswNeighborTupleData
{
	uint8		type;			/* HNSW_NEIGHBOR_TUPLE_TYPE */
	uint8		unused;
	uint16		count;			/* slots, HnswNeighborCount(m, level) */
	ItemPointerData indextids[FLEXIBLE_ARRAY_MEMBER];	/* invalid when empty */
} HnswNeighborTupleData;

typedef HnswNeighborTupleData *HnswNeighborTuple;

#define HNSW_NEIGHBOR_TUPLE_SIZE(level, m) MAXALIGN(offsetof(HnswNeighborTupleData, indextids) + HnswNeighborCount(m, level) * sizeof(ItemPointerData))

/* Reloptions */
typedef struct HnswOptions
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	int			m;
	int			efConstruction;
} HnswOptions;

/*
 * A candidate during an on-disk search.  Candidates live in one array per
 * search; heaps and the result list hold indexes into it.  nbrOffset is
 * where the element's copied layer-0 (or current layer) neighbors start in
 * the search's neighbor arena, or -1 if not copied.
 */
typedef struct HnswCandidate
{
	ItemPointerData tid;		/* element tuple */
	float		distance;
	uint8		level;
	bool		deleted;		/* all heap TIDs gone: route through it only */
	int8		nbrLayer;		/* layer of the copied neighbors, -1 if none */
	int16		nbrCount;
	int32		nbrOffset;
	Size		valueOffset;	/* in the search's value arena, if kept */
	ItemPointerData ntid;		/* the element's neighbor tuple */
	ItemPointerData heaptids[HNSW_HEAPTIDS];
	float		bound;			/* half storage: lower bound of the exact distance */
} HnswCandidate;

/* A set of visited element TIDs (open addressing) */
typedef struct HnswVisited
{
	uint64	   *slots;			/* 0 = empty, else packed TID + 1 */
	uint32		mask;
	uint32		count;
} HnswVisited;

/* State of one search on disk, reusable across calls */
typedef struct HnswSearch
{
	Relation	index;
	HnswDistance dist;
	int			m;
	HnswCandidate *cands;		/* (ncands) */
	int			ncands;
	int			maxcands;
	ItemPointerData *nbrs;		/* neighbor arena (nnbrs) */
	int			nnbrs;
	int			maxnbrs;
	HnswVisited visited;
	int64		tuplesVisited;
	bool		keepValues;		/* copy each candidate's value (inserts) */
	const HnswQuantValue *query;	/* quantized storage: the query, for bounds */
	char	   *values;			/* value arena (valuesUsed) */
	Size		valuesUsed;
	Size		valuesSize;
} HnswSearch;

/* A (distance, id) pair for neighbor selection */
typedef struct HnswPair
{
	float		distance;
	int32		id;
} HnswPair;

/* distance between the elements behind two ids of a selection */
typedef float (*HnswPairDistFn) (void *arg, int32 a, int32 b);

/* Largest tuple a data page takes */
#define HNSW_MAX_TUPLE_SIZE MAXALIGN_DOWN(BLCKSZ - MAXALIGN(SizeOfPageHeaderData + sizeof(ItemIdData)) - MAXALIGN(sizeof(HnswPageOpaqueData)))

/* A binary heap of candidate indexes ordered by distance */
typedef struct HnswHeap
{
	int		   *items;
	int			count;
	int			capacity;
	bool		maxHeap;
} HnswHeap;

/*
 * The in-memory graph of a build (hnswgraph.c): one area, local or in DSM,
 * addressed by offsets.  Element ids index a table of chunk offsets.
 */
typedef struct HnswGraph
{
	slock_t		lock;			/* protects entry and maxLevel */
	int32		entry;			/* -1 while empty */
	int			maxLevel;
	int			m;
	int			efConstruction;
	int32		maxelements;	/* size of the id table */
	Size		arenaStart;		/* where chunks start */
	Size		size;			/* of the whole area */
	pg_atomic_uint32 nelements; /* ids taken */
	pg_atomic_uint64 used;		/* arena bytes taken, from the area's start */
	pg_atomic_uint32 full;		/* an insert found no room */
} HnswGraph;

typedef struct HnswGraphElement
{
	slock_t		lock;			/* protects nbrs, version and heaptids */
	uint8		level;
	uint32		version;		/* bumped at every change of nbrs */
	ItemPointerData heaptids[HNSW_HEAPTIDS];
	ItemPointerData tid;		/* element tuple, once placed by the flush */
	ItemPointerData ntid;		/* neighbor tuple, likewise */
	int32		nbrs[FLEXIBLE_ARRAY_MEMBER];	/* (HnswNeighborCount), -1 = empty; value follows */
} HnswGraphElement;

/* One process's search state over a graph */
typedef struct HnswGraphSearch
{
	HnswGraph  *graph;
	HnswDistance dist;
	uint32	   *visited;		/* (maxelements) epoch of last visit */
	uint32		epoch;
	HnswPair   *pending;		/* (maxelements) */
	HnswPair   *results;		/* (max(efConstruction, HNSW_BUILD_UPPER_EF) + 2) */
	HnswPair   *pruning;		/* (2m + 1) */
	int32	   *nbrbuf;			/* (2m) */
	HnswPair   *chosen[HNSW_MAX_LEVEL + 1]; /* per layer, as results */
} HnswGraphSearch;

/* hnsw.c */
extern int	hnsw_ef_search;
extern int	hnsw_iterative_scan;
extern int	hnsw_max_scan_tuples;
extern double hnsw_scan_mem_multiplier;
extern void HnswInit(void);
extern int	HnswGetM(Relation index);
extern int	HnswGetEfConstruction(Relation index);

/* hnswgraph.c */
extern void HnswGraphInit(HnswGraph *g, Size size, int m, int efConstruction, Size valueSizeHint);
extern HnswGraphElement *HnswGraphGet(HnswGraph *g, int32 id);
extern char *HnswGraphValue(HnswGraph *g, HnswGraphElement *e);
extern void HnswGraphSearchInit(HnswGraphSearch *gs, HnswGraph *g, HnswDistance dist);
extern bool HnswGraphInsert(HnswGraphSearch *gs, Datum value, ItemPointer heaptid);
extern void HnswGraphFlush(HnswGraph *g, Relation index);

/* hnswbuild.c */
extern IndexBuildResult *hnswbuild(Relation heap, Relation index, IndexInfo *indexInfo);
extern void hnswbuildempty(Relation index);
extern PGDLLEXPORT void HnswParallelBuildMain(dsm_segment *seg, shm_toc *toc);

/* hnswinsert.c */
extern bool hnswinsert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid,
					   Relation heap, IndexUniqueCheck checkUnique, bool indexUnchanged,
					   IndexInfo *indexInfo);
extern void HnswInsertValue(Relation index, HnswDistance dist, Datum value, ItemPointer heaptid);

/* hnswscan.c */
extern IndexScanDesc hnswbeginscan(Relation index, int nkeys, int norderbys);
extern void hnswrescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys);
extern bool hnswgettuple(IndexScanDesc scan, ScanDirection dir);
extern void hnswendscan(IndexScanDesc scan);

/* hnswvacuum.c */
extern IndexBulkDeleteResult *hnswbulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
											 IndexBulkDeleteCallback callback, void *callback_state);
extern IndexBulkDeleteResult *hnswvacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats);

/* hnswdist.c */
extern HnswCache *HnswGetCache(Relation index);
extern HnswDistance HnswGetDistance(Relation index);
extern Datum HnswPrepareValue(HnswDistance dist, Datum value, bool *ok);
extern Size HnswValueSize(Datum value);
extern float HnswExactLowerBound(HnswDistance dist, const HnswQuantValue *q, const HnswQuantValue *x,
								 float distance);
extern void HnswCheckValue(HnswDistance dist, Datum value);

/* hnswutils.c */
extern int	HnswPairCompare(const void *a, const void *b);
extern int	HnswSelectNeighbors(HnswPair *cands, int ncands, int max, HnswPairDistFn fn, void *arg,
								bool fill);
extern int	HnswRandomLevel(int m);
extern void HnswInitPage(Buffer buf, Page page);
extern void HnswReadMeta(Relation index, HnswMetaPageData *meta);
extern void HnswSearchInit(HnswSearch *s, Relation index, HnswDistance dist, int m);
extern void HnswSearchReset(HnswSearch *s);
extern int	HnswLoadCandidate(HnswSearch *s, const char *query, ItemPointer tid, int layer,
							  float bound);
extern Buffer HnswReadBuffer(Relation index, BlockNumber blkno);
extern void HnswSearchLayer(HnswSearch *s, const char *query, HnswHeap *results,
							HnswHeap *discarded, int ef, int layer);
extern bool HnswDescend(HnswSearch *s, const char *query, ItemPointer entry,
						int entryLevel, int targetLayer, int ef, HnswHeap *results);
extern void HnswHeapInit(HnswHeap *h, int capacity, bool maxHeap);
extern void HnswHeapPush(HnswSearch *s, HnswHeap *h, int item);
extern int	HnswHeapPop(HnswSearch *s, HnswHeap *h);
extern int	HnswHeapTop(HnswHeap *h);
extern bool HnswVisitedAdd(HnswVisited *v, ItemPointer tid);
extern void HnswVisitedClear(HnswVisited *v);
extern bool HnswVisitedContains(HnswVisited *v, ItemPointer tid);
extern bool HnswReadLayer(Relation index, ItemPointer ntid, int m, int layer, ItemPointerData *out);
extern bool HnswWriteLayer(Relation index, ItemPointer ntid, int m, int layer,
						   const ItemPointerData *expected, const ItemPointerData *replacement);
extern float HnswKeptPairDistance(void *arg, int32 a, int32 b);
extern int	HnswChooseNeighbors(Relation index, HnswDistance dist, int m, const char *base,
								ItemPointerData *tids, int n, int cap, bool fill);

#endif							/* PGMLOPS_HNSW_HNSW_H */
