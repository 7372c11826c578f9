/*-------------------------------------------------------------------------
 *
 * fs.h
 *	  The feature store's shared declarations (src/fs/).
 *
 * The catalog (entities, feature views, services) is SQL
 * (sql/install/80_features.sql); the C files read feature data with the
 * caller's privileges.  Keep this header small: only what more than one
 * file, or _PG_init, needs.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMLOPS_FS_FS_H
#define PGMLOPS_FS_FS_H

#include "nodes/params.h"
#include "tcop/dest.h"

/* fspit.c: point-in-time joins ----------------------------------------- */

/* mlops.feature_memory_limit, in kB: feature rows one call may hold */
extern int	fs_feature_memory_limit;

/* define the point-in-time GUCs (called from _PG_init) */
extern void FeatureStorePitInit(void);

/* run a read-only query through SPI (connected), its rows into dest */
extern void FeatureStoreRunQuery(const char *sql, ParamListInfo params, DestReceiver *dest);

/* set up a DestReceiver that only receives slots (no startup or cleanup) */
extern void FeatureStoreReceiverInit(DestReceiver *self,
									 bool (*receive) (TupleTableSlot *slot,
													  DestReceiver *self));

/* fscatalog.c: refuse a feature view query with volatile code (view names it) */
extern void FeatureStoreCheckQuery(const char *sql, const char *view);

#endif							/* PGMLOPS_FS_FS_H */
