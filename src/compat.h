/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  Shims between the PostgreSQL versions pgmlops builds against.
 *
 * Every PG_VERSION_NUM test in the project lives here and nowhere else.
 * The primary target is PostgreSQL 15.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMLOPS_COMPAT_H
#define PGMLOPS_COMPAT_H

#if PG_VERSION_NUM < 150000
#error "pgmlops requires PostgreSQL 15 or later"
#endif

/* palloc_array and friends arrived in PostgreSQL 16 */
#ifndef palloc_array
#define palloc_array(type, count) ((type *) palloc(sizeof(type) * (count)))
#define palloc0_array(type, count) ((type *) palloc0(sizeof(type) * (count)))
#define repalloc_array(pointer, type, count) ((type *) repalloc(pointer, sizeof(type) * (count)))
#endif
#ifndef palloc_object
#define palloc_object(type) ((type *) palloc(sizeof(type)))
#define palloc0_object(type) ((type *) palloc0(sizeof(type)))
#endif

/* this backend's local transaction id moved into MyProc->vxid in PostgreSQL 17 */
#if PG_VERSION_NUM >= 170000
#define COMPAT_MY_LXID() (MyProc != NULL ? MyProc->vxid.lxid : InvalidLocalTransactionId)
#else
#define COMPAT_MY_LXID() (MyProc != NULL ? MyProc->lxid : InvalidLocalTransactionId)
#endif

/* amcanbuildparallel became an IndexAmRoutine field in PostgreSQL 17 */
#if PG_VERSION_NUM >= 170000
#define COMPAT_SET_AMCANBUILDPARALLEL(amroutine, value) ((amroutine)->amcanbuildparallel = (value))
#else
#define COMPAT_SET_AMCANBUILDPARALLEL(amroutine, value) ((void) 0)
#endif

/* ReadRecentBuffer takes a RelFileLocator from PostgreSQL 16 on */
#if PG_VERSION_NUM >= 160000
#define COMPAT_READ_RECENT_BUFFER(rel, blkno, buf) \
	ReadRecentBuffer((rel)->rd_locator, MAIN_FORKNUM, (blkno), (buf))
#else
#define COMPAT_READ_RECENT_BUFFER(rel, blkno, buf) \
	ReadRecentBuffer((rel)->rd_node, MAIN_FORKNUM, (blkno), (buf))
#endif

/*
 * pq_check_connection() (PostgreSQL 14 and later) is declared in
 * libpq/libpq.h, which includes libpq-be.h and with it gssapi/gssapi.h, a
 * header that Debian's postgresql-server-dev package does not pull in
 */
extern bool pq_check_connection(void);

#endif							/* PGMLOPS_COMPAT_H */
