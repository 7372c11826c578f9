/*-------------------------------------------------------------------------
 *
 * hnsw.h
 *	  Shared definitions of the hnsw access method.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMLOPS_HNSW_HNSW_H
#define PGMLOPS_HNSW_HNSW_H

#define HNSW_DEFAULT_EF_SEARCH 40
#define HNSW_MIN_EF_SEARCH 1
#define HNSW_MAX_EF_SEARCH 1000

typedef enum HnswIterativeScanMode
{
	HNSW_ITERATIVE_SCAN_OFF,
	HNSW_ITERATIVE_SCAN_RELAXED,
	HNSW_ITERATIVE_SCAN_STRICT
} HnswIterativeScanMode;

/* hnsw.c */
extern int	hnsw_ef_search;
extern int	hnsw_iterative_scan;
extern int	hnsw_max_scan_tuples;
extern double hnsw_scan_mem_multiplier;
extern void HnswInit(void);

#endif							/* PGMLOPS_HNSW_HNSW_H */
