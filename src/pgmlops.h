/*-------------------------------------------------------------------------
 *
 * pgmlops.h
 *	  Entry points that _PG_init calls, one per subsystem.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMLOPS_PGMLOPS_H
#define PGMLOPS_PGMLOPS_H

/* src/vector/vecdist.c */
extern void VecDistInit(void);

/* src/hnsw/hnsw.c */
extern void HnswInit(void);

/* src/compute/compute.c */
extern void ComputeInit(void);

#endif							/* PGMLOPS_PGMLOPS_H */
