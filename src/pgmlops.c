/*-------------------------------------------------------------------------
 *
 * pgmlops.c
 *	  Module magic and _PG_init: the one file that knows every subsystem.
 *
 * _PG_init only reserves the GUC prefixes and calls each subsystem's init
 * function.  Nothing here touches CUDA: when the library is preloaded,
 * _PG_init runs in the postmaster, and a CUDA context does not survive
 * fork().
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "pgmlops.h"
#include "llm/llmremote.h"
#include "llm/llmsql.h"
#include "llm/llmsvc.h"
#include "llm/llmtrace.h"
#include "fs/fs.h"
#include "ml/mlsql.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/*
 * Module load callback
 */
void
_PG_init(void)
{
	VecDistInit();
	HnswInit();
	ComputeInit();
	LlmSqlInit();
	LlmRemoteInit();
	LlmWorkerInit();
	LlmTraceInit();
	MlSqlTrainInit();
	MlSqlCacheInit();
	MlSqlProgressInit();
	FeatureStorePitInit();

	MarkGUCPrefixReserved("hnsw");
	MarkGUCPrefixReserved("mlops");
}
