/*-------------------------------------------------------------------------
 *
 * mlsqlprogress.c
 *	  Training progress in shared memory, shown by mlops.training_progress.
 *
 * One slot per backend, written only by its owner and read by anyone
 * under a spinlock.  The slots exist when pgmlops is in
 * shared_preload_libraries; otherwise training runs without reporting and
 * the view explains why it cannot show anything.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "ml/mlsql.h"

typedef struct ProgressSlot
{
	int			pid;			/* 0 when free */
	char		model[NAMEDATALEN];
	char		phase[16];
	int64		rows;
	int			step;
	TimestampTz started;
} ProgressSlot;

typedef struct ProgressShared
{
	slock_t		mutex;
	int			nslots;
	ProgressSlot slots[FLEXIBLE_ARRAY_MEMBER];
} ProgressShared;

static ProgressShared *progress = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* bytes of the shared state */
static Size
ProgressSize(void)
{
	return add_size(offsetof(ProgressShared, slots),
					mul_size(MaxBackends, sizeof(ProgressSlot)));
}

/* shmem_request_hook: reserve the slots */
static void
ProgressShmemRequest(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(ProgressSize());
}

/* shmem_startup_hook: create or attach the slots */
static void
ProgressShmemStartup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	progress = ShmemInitStruct("pgmlops training progress", ProgressSize(), &found);
	if (!found)
	{
		SpinLockInit(&progress->mutex);
		progress->nslots = MaxBackends;
		memset(progress->slots, 0, sizeof(ProgressSlot) * MaxBackends);
	}
	LWLockRelease(AddinShmemInitLock);
}

/* called from _PG_init: install the hooks when preloaded */
void
MlSqlProgressInit(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = ProgressShmemRequest;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = ProgressShmemStartup;
}

/* this backend's slot, or NULL without shared memory */
static ProgressSlot *
MySlot(void)
{
	if (progress == NULL || MyProc == NULL)
		return NULL;
	return &progress->slots[MyProc->pgprocno % progress->nslots];
}

/* backend exit (FATAL included, where no PG_FINALLY runs): free the slot */
static void
ProgressAtExit(int code, Datum arg)
{
	MlSqlProgressEnd();
}

/* a training starts in this backend */
void
MlSqlProgressStart(const char *model)
{
	static bool exit_hook = false;
	ProgressSlot *s = MySlot();

	if (s == NULL)
		return;
	if (!exit_hook)
	{
		before_shmem_exit(ProgressAtExit, (Datum) 0);
		exit_hook = true;
	}
	SpinLockAcquire(&progress->mutex);
	s->pid = MyProcPid;
	strlcpy(s->model, model, sizeof(s->model));
	strlcpy(s->phase, "reading", sizeof(s->phase));
	s->rows = 0;
	s->step = 0;
	s->started = GetCurrentTimestamp();
	SpinLockRelease(&progress->mutex);
}

/* the training moves to a phase; rows read so far, tuning candidate */
void
MlSqlProgressPhase(const char *phase, int64 rows, int step)
{
	ProgressSlot *s = MySlot();

	if (s == NULL)
		return;
	SpinLockAcquire(&progress->mutex);
	strlcpy(s->phase, phase, sizeof(s->phase));
	s->rows = rows;
	s->step = step;
	SpinLockRelease(&progress->mutex);
}

/* the training ends (or failed; also called at backend exit) */
void
MlSqlProgressEnd(void)
{
	ProgressSlot *s = MySlot();

	if (s == NULL)
		return;
	SpinLockAcquire(&progress->mutex);
	s->pid = 0;
	SpinLockRelease(&progress->mutex);
}

PG_FUNCTION_INFO_V1(ml_training_progress);

/*
 * mlops.training_progress(): one row per running training
 */
Datum
ml_training_progress(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			n;
	ProgressSlot *copy;

	if (progress == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("training progress needs pgmlops in shared_preload_libraries"),
				 errhint("Add pgmlops to shared_preload_libraries in postgresql.conf and restart the server.")));

	InitMaterializedSRF(fcinfo, 0);
	n = progress->nslots;
	copy = palloc_array(ProgressSlot, n);
	SpinLockAcquire(&progress->mutex);
	memcpy(copy, progress->slots, sizeof(ProgressSlot) * n);
	SpinLockRelease(&progress->mutex);
	for (int i = 0; i < n; i++)
	{
		Datum		values[6];
		bool		nulls[6] = {0};

		if (copy[i].pid == 0)
			continue;
		values[0] = Int32GetDatum(copy[i].pid);
		values[1] = CStringGetTextDatum(copy[i].model);
		values[2] = CStringGetTextDatum(copy[i].phase);
		values[3] = Int64GetDatum(copy[i].rows);
		values[4] = Int32GetDatum(copy[i].step);
		values[5] = TimestampTzGetDatum(copy[i].started);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
