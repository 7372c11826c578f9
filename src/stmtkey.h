/*-------------------------------------------------------------------------
 *
 * stmtkey.h
 *	  What identifies the statement running now, for the backend caches
 *	  that keep a lookup for the rest of a statement (the registry cache
 *	  in ml/mlsqlcache.c, the tokenizer cache in llm/llmsql.c).
 *
 * A new statement is a new start time (one client message), a new local
 * transaction (a procedure that commits), a new subtransaction (one that
 * rolled back what the lookup saw) or a new command id (a write, which a
 * function's next query must see).  The read-only statements of one
 * multi-statement query string share all four: they count as one.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMLOPS_STMTKEY_H
#define PGMLOPS_STMTKEY_H

#include "access/xact.h"
#include "storage/proc.h"
#include "utils/timestamp.h"

#include "compat.h"

typedef struct StatementKey
{
	TimestampTz start;
	LocalTransactionId lxid;
	SubTransactionId subid;
	CommandId	cid;
} StatementKey;

/* the key of the statement running now (in a transaction) */
static inline StatementKey
StatementKeyNow(void)
{
	StatementKey k;

	k.start = GetCurrentStatementStartTimestamp();
	k.lxid = COMPAT_MY_LXID();
	k.subid = GetCurrentSubTransactionId();
	k.cid = GetCurrentCommandId(false);
	return k;
}

static inline bool
StatementKeyEqual(const StatementKey *a, const StatementKey *b)
{
	return a->start == b->start && a->lxid == b->lxid &&
		a->subid == b->subid && a->cid == b->cid;
}

#endif							/* PGMLOPS_STMTKEY_H */
