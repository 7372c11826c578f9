/*-------------------------------------------------------------------------
 *
 * llmclient.c
 *	  The session's side of the inference service: build a request in a
 *	  DSM segment, hand it to a worker through a slot, wait for its
 *	  messages on the latch, and stop (see llmsvc.h for the protocol).
 *
 * The segment belongs to the current resource owner, so an error or a
 * cancel detaches it; its detach callback frees the slot, which is what
 * tells the worker to drop the request.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "pgstat.h"
#include "storage/proc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "llm/llmsql.h"
#include "llm/llmsvc.h"

/* how long a request may wait for a worker that is not running */
#define NO_WORKER_WAIT_MS	10000

/* calls one session may have open at once (the slots are sized for it) */
#define CALLS_PER_SESSION	2

static int	open_calls = 0;

/* raise the error that the inference service is not running */
static void
NotRunning(void)
{
	if (LlmSvc == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the pgmlops inference service is not running"),
				 errhint("Add pgmlops to shared_preload_libraries and restart the server.")));
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("the pgmlops inference service has no workers"),
			 errhint("Set mlops.worker_count to 1 or more and restart the server.")));
}

/* create the request's segment; see llmsvc.h */
void
LlmSvcPrepare(LlmSvcCall *call, LlmSvcKind kind, int n_inputs, int64 n_ids,
			  Size mq_size)
{
	Size		ids_offset = MAXALIGN(sizeof(LlmSvcRequest));
	Size		mq_offset;
	Size		total;
	LlmSvcRequest *req;
	shm_mq	   *mq;

	if (LlmSvc == NULL || LlmSvc->n_workers == 0)
		NotRunning();
	if (n_ids < 0 || n_ids > (int64) (MaxAllocHugeSize / sizeof(int32)) - n_inputs)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the request has too many tokens")));
	mq_offset = MAXALIGN(ids_offset + sizeof(int32) * (Size) (n_inputs + n_ids));
	mq_size = Max(MAXALIGN(mq_size), 8192);
	total = mq_offset + mq_size;

	memset(call, 0, sizeof(*call));
	call->slot = -1;
	call->seg = dsm_create(total, 0);
	req = dsm_segment_address(call->seg);
	memset(req, 0, sizeof(*req));
	req->kind = kind;
	req->n_inputs = n_inputs;
	req->n_ids = n_ids;
	req->ids_offset = ids_offset;
	req->mq_offset = mq_offset;
	req->mq_size = mq_size;
	req->n_eos = -1;
	mq = shm_mq_create((char *) req + mq_offset, mq_size);
	shm_mq_set_receiver(mq, MyProc);
	call->mqh = shm_mq_attach(mq, call->seg, NULL);
	call->req = req;
}

/* which slot a segment holds, for its detach callback */
typedef struct SlotClaim
{
	int			slot;
	uint64		id;
} SlotClaim;

/*
 * on_dsm_detach: free the slot if it is still this request's (the call
 * itself may be gone: this runs at error cleanup too)
 */
static void
ReleaseSlot(dsm_segment *seg, Datum arg)
{
	SlotClaim  *claim = (SlotClaim *) DatumGetPointer(arg);
	LlmSvcSlot *slot = &LlmSvc->slots[Max(claim->slot, 0)];

	if (claim->slot >= 0)
	{
		Latch	   *latch = NULL;

		SpinLockAcquire(&LlmSvc->mutex);
		if (slot->id == claim->id)
		{
			/* wake the worker: it drops the request at once */
			if (slot->state != LLMSVC_SLOT_SUBMITTED)
				latch = LlmSvc->workers[slot->worker].latch;
			slot->state = LLMSVC_SLOT_FREE;
			slot->id = 0;
		}
		SpinLockRelease(&LlmSvc->mutex);
		if (latch != NULL)
			SetLatch(latch);
		open_calls--;
	}
	pfree(claim);
}

/* hand the request to its worker; see llmsvc.h */
void
LlmSvcSubmit(LlmSvcCall *call)
{
	int			worker = LlmSvcWorkerFor(call->req->path);
	int			waiting = 0;
	int			free_slot = -1;
	Latch	   *latch;
	SlotClaim  *claim;

	if (open_calls >= CALLS_PER_SESSION)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("a session may have at most %d inference calls open at once", CALLS_PER_SESSION),
				 errhint("Read or close open generate_stream cursors first.")));
	/* the detach callback is in place before the slot is taken */
	claim = MemoryContextAlloc(TopMemoryContext, sizeof(SlotClaim));
	claim->slot = -1;
	claim->id = 0;
	on_dsm_detach(call->seg, ReleaseSlot, PointerGetDatum(claim));

	SpinLockAcquire(&LlmSvc->mutex);
	for (int i = 0; i < LlmSvc->n_slots; i++)
	{
		LlmSvcSlot *s = &LlmSvc->slots[i];

		if (s->state == LLMSVC_SLOT_FREE)
		{
			if (free_slot < 0)
				free_slot = i;
		}
		else if (s->worker == worker && s->state != LLMSVC_SLOT_RUNNING)
			waiting++;
	}
	if (free_slot >= 0 && waiting < llm_queue_limit)
	{
		LlmSvcSlot *s = &LlmSvc->slots[free_slot];

		call->id = LlmSvc->next_id++;
		s->state = LLMSVC_SLOT_SUBMITTED;
		s->id = call->id;
		s->worker = worker;
		s->handle = dsm_segment_handle(call->seg);
		call->req->id = call->id;
		call->slot = free_slot;
		claim->slot = free_slot;
		claim->id = call->id;
		open_calls++;
	}
	latch = LlmSvc->workers[worker].latch;
	SpinLockRelease(&LlmSvc->mutex);

	if (call->slot < 0 && free_slot < 0)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("every inference request slot is taken"),
				 errhint("Retry later: the server has %d slots.", LlmSvc->n_slots)));
	if (call->slot < 0)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("the inference queue is full: %d requests wait for the worker", waiting),
				 errhint("Retry later, or raise mlops.queue_limit.")));
	call->worker = worker;
	call->submitted_at = GetCurrentTimestamp();
	if (latch != NULL)
		SetLatch(latch);
}

/* check the worker and the queue timeout while waiting */
static void
CheckProgress(LlmSvcCall *call)
{
	LlmSvcSlot *slot = &LlmSvc->slots[call->slot];
	LlmSvcWorker *w = &LlmSvc->workers[call->worker];
	LlmSvcSlotState state;
	uint64		accepted_by;
	uint64		generation;
	pid_t		pid;
	long		waited_ms;

	SpinLockAcquire(&LlmSvc->mutex);
	state = slot->state;
	accepted_by = slot->worker_generation;
	generation = w->generation;
	pid = w->pid;
	SpinLockRelease(&LlmSvc->mutex);

	if (state == LLMSVC_SLOT_FAILED)
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("the pgmlops inference worker could not take this request"),
				 errhint("See the server log for the cause.")));
	if (state != LLMSVC_SLOT_SUBMITTED && (pid == 0 || accepted_by != generation))
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("the pgmlops inference worker exited while it ran this request"),
				 errhint("The worker restarts by itself; see the server log for the cause.")));
	waited_ms = (long) ((GetCurrentTimestamp() - call->submitted_at) / 1000);
	if (state == LLMSVC_SLOT_SUBMITTED && pid == 0 && waited_ms > NO_WORKER_WAIT_MS)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("no pgmlops inference worker has been running for %d s", NO_WORKER_WAIT_MS / 1000),
				 errhint("See the server log for why the worker does not start.")));
	if (llm_queue_timeout > 0 && state != LLMSVC_SLOT_RUNNING &&
		call->first_message_at == 0 && waited_ms > llm_queue_timeout)
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("the request waited in the inference queue longer than mlops.queue_timeout (%d ms)",
						llm_queue_timeout)));
}

/*
 * Every 100 ms of a call, a regular backend checks its client's socket: a
 * client that went away terminates the session as PostgreSQL does for a
 * lost client, which drops the request with the segment (otherwise only
 * client_connection_check_interval would notice during a long call)
 */
static void
CheckClient(void)
{
	static TimestampTz last_check = 0;
	TimestampTz now;

	if (MyProcPort == NULL)
		return;
	now = GetCurrentTimestamp();
	if (now - last_check < 100 * 1000)
		return;
	last_check = now;
	if (!pq_check_connection())
	{
		ClientConnectionLost = 1;
		InterruptPending = 1;
		CHECK_FOR_INTERRUPTS();
	}
}

/* wait for the next message; see llmsvc.h */
LlmSvcMsg
LlmSvcReceive(LlmSvcCall *call, const char **data, Size *len)
{
	LlmSvcMsg	msg;

	for (;;)
	{
		Size		nbytes;
		void	   *p;
		shm_mq_result res;

		CHECK_FOR_INTERRUPTS();
		CheckClient();
		if (call->ended || call->slot < 0)
			elog(ERROR, "the inference request has ended");
		res = shm_mq_receive(call->mqh, &nbytes, &p, true);
		if (res == SHM_MQ_SUCCESS)
		{
			if (nbytes < sizeof(LlmSvcMsg))
				elog(ERROR, "malformed message from the inference worker");
			memcpy(&msg, p, sizeof(msg));
			*data = (const char *) p + sizeof(msg);
			*len = nbytes - sizeof(msg);
			if (call->first_message_at == 0)
				call->first_message_at = GetCurrentTimestamp();
			if (msg.tag == LLMSVC_MSG_ERROR)
			{
				LlmError	err;

				/* the worker's message, without the server's paths */
				memset(&err, 0, sizeof(err));
				err.code = msg.a;
				strlcpy(err.message, *data, Min(*len, sizeof(err.message)));
				ereport(ERROR,
						(errcode(LlmSqlErrcode(msg.a)),
						 errmsg("%s", LlmSqlEngineMessage(&err, call->req->path,
														  call->req->name))));
			}
			return msg;
		}
		if (res == SHM_MQ_DETACHED)
			ereport(ERROR,
					(errcode(ERRCODE_SYSTEM_ERROR),
					 errmsg("the pgmlops inference worker exited while it ran this request"),
					 errhint("The worker restarts by itself; see the server log for the cause.")));
		CheckProgress(call);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 100, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* stop; see llmsvc.h */
void
LlmSvcEnd(LlmSvcCall *call)
{
	if (call->seg != NULL)
	{
		dsm_segment *seg = call->seg;

		call->seg = NULL;
		dsm_detach(seg);
	}
	call->ended = true;
}
