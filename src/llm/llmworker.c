/*-------------------------------------------------------------------------
 *
 * llmworker.c
 *	  The inference workers: background processes started when pgmlops is
 *	  in shared_preload_libraries.  They own the loaded models (and the
 *	  CUDA context, which only they ever create) and serve every session
 *	  through the slots and segments of llmsvc.h.
 *
 * The main loop takes new requests, drops the cancelled ones, encodes
 * the queued embedding requests of each encoder (one LlmEncode for all
 * of them), runs one continuous-batching step of each decoder that has
 * work (sched.c), sends what it produced, publishes its status and
 * sleeps on its latch when idle.  Requests of one model go to one worker
 * (hash of the model directory), so a model is loaded once.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xlog.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/pmsignal.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "llm/llmtrace.h"
#include "llm/llmworker.h"

LlmSvcShared *LlmSvc = NULL;
int			llm_worker_count = 1;
int			llm_queue_limit = 64;
int			llm_queue_timeout = 0;
static int	memory_limit_mb = 8192;
static int	kv_cache_mb = 256;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static int	my_index = -1;
static WorkerRequest *requests = NULL;
static LlmSchedEvent *events = NULL;	/* room for one step's events */
static int	max_events = 0;

/* slots: two per possible backend, so a session can hold a stream and a call */
static int
SlotCount(void)
{
	return 2 * MaxBackends + 16;
}

static Size
SvcSize(void)
{
	return add_size(offsetof(LlmSvcShared, slots),
					mul_size(SlotCount(), sizeof(LlmSvcSlot)));
}

/* shmem_request_hook */
static void
SvcShmemRequest(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(SvcSize());
}

/* shmem_startup_hook: create (or attach to) the slots */
static void
SvcShmemStartup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	LlmSvc = ShmemInitStruct("pgmlops inference service", SvcSize(), &found);
	if (!found)
	{
		memset(LlmSvc, 0, SvcSize());
		SpinLockInit(&LlmSvc->mutex);
		LlmSvc->next_id = 1;
		LlmSvc->n_workers = llm_worker_count;
		LlmSvc->n_slots = SlotCount();
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * Define the GUCs of the service and, when preloaded, reserve its shared
 * memory and register the workers
 */
void
LlmWorkerInit(void)
{
	DefineCustomIntVariable("mlops.gpu_memory_limit",
							"Memory that the models of one inference worker may use (weights and KV cache).",
							"Idle models are unloaded, least recently used first, to stay under it. 0: no limit.",
							&memory_limit_mb, 8192, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MB, NULL, NULL, NULL);
	DefineCustomIntVariable("mlops.kv_cache_memory",
							"KV cache of each loaded generation model, unless its registration says otherwise.",
							"When a model's cache is full, new requests wait until running ones end.",
							&kv_cache_mb, 256, 1, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MB, NULL, NULL, NULL);
	DefineCustomIntVariable("mlops.queue_limit",
							"Most requests that may wait for one inference worker.",
							"A request beyond it is refused at once.",
							&llm_queue_limit, 64, 1, 100000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("mlops.queue_timeout",
							"Longest wait of a request before the inference worker starts it.",
							"0 waits as long as the statement may.",
							&llm_queue_timeout, 0, 0, INT_MAX,
							PGC_USERSET, GUC_UNIT_MS, NULL, NULL, NULL);

	/* the rest exists only with the library preloaded */
	if (!process_shared_preload_libraries_in_progress)
		return;
	DefineCustomIntVariable("mlops.worker_count",
							"Number of inference workers started with the server.",
							"Each loaded model lives in one of them. 0 disables the inference service.",
							&llm_worker_count, 1, 0, LLMSVC_MAX_WORKERS,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = SvcShmemRequest;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = SvcShmemStartup;

	for (int i = 0; i < llm_worker_count; i++)
	{
		BackgroundWorker bgw;

		memset(&bgw, 0, sizeof(bgw));
		bgw.bgw_flags = BGWORKER_SHMEM_ACCESS;
		bgw.bgw_start_time = BgWorkerStart_PostmasterStart;
		bgw.bgw_restart_time = 1;
		snprintf(bgw.bgw_library_name, BGW_MAXLEN, "pgmlops");
		snprintf(bgw.bgw_function_name, BGW_MAXLEN, "LlmWorkerMain");
		snprintf(bgw.bgw_name, BGW_MAXLEN, "pgmlops inference worker %d", i);
		snprintf(bgw.bgw_type, BGW_MAXLEN, "pgmlops inference worker");
		bgw.bgw_main_arg = Int32GetDatum(i);
		RegisterBackgroundWorker(&bgw);
	}
}

/*
 * Queue a message for a request (payload copied); without memory for a
 * large payload the message becomes an error
 */
static void
Queue(WorkerRequest *r, char tag, int32 a, int32 b, const void *payload, Size len)
{
	WorkerOutMsg *m;

	if (r->n_out == WORKER_OUTBOX)
		elog(ERROR, "inference worker outbox overflow");
	m = &r->out[r->n_out];
	memset(m, 0, sizeof(*m));
	m->head.tag = tag;
	m->head.a = a;
	m->head.b = b;
	if (len > 0)
	{
		/* shm_mq sends at most MaxAllocSize bytes in one message */
		if (len > MaxAllocSize - sizeof(LlmSvcMsg) ||
			(m->payload = MemoryContextAllocExtended(TopMemoryContext, len,
													 MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM)) == NULL)
		{
			static const char oom[] = "the answer is too large, or the inference worker is out of memory for it";

			m->head.tag = LLMSVC_MSG_ERROR;
			m->head.a = LLM_ERR_NOMEM;
			m->payload = MemoryContextStrdup(TopMemoryContext, oom);
			len = sizeof(oom);
		}
		else
			memcpy(m->payload, payload, len);
	}
	m->len = len;
	r->n_out++;
}

typedef enum FlushResult
{
	FLUSH_DONE,					/* everything is in the queue */
	FLUSH_BLOCKED,				/* the queue is full: the session reads slowly */
	FLUSH_GONE					/* the session detached */
} FlushResult;

/* send what the outbox holds, never waiting */
static FlushResult
Flush(WorkerRequest *r)
{
	while (r->n_out > 0)
	{
		WorkerOutMsg *m = &r->out[0];
		shm_mq_iovec iov[2];
		shm_mq_result res;

		iov[0].data = (const char *) &m->head;
		iov[0].len = sizeof(m->head);
		iov[1].data = m->payload;
		iov[1].len = m->len;
		/*
		 * Wake the session for every token only when it reads them as they
		 * come (a stream, stop strings): waking a process is a signal,
		 * which costs more than a step of a small model.  Otherwise it
		 * wakes at the first token (its time to first token), when the
		 * queue is a quarter full, and at the end.
		 */
		res = shm_mq_sendv(r->mqh, iov, m->len > 0 ? 2 : 1, true,
						   m->head.tag != LLMSVC_MSG_TOKEN || r->req->flush_each ||
						   r->tokens_sent == 0);
		if (res == SHM_MQ_SUCCESS && m->head.tag == LLMSVC_MSG_TOKEN)
			r->tokens_sent++;
		if (res == SHM_MQ_WOULD_BLOCK)
		{
			r->partial = true;	/* out[0] may be half in the queue */
			return FLUSH_BLOCKED;
		}
		r->partial = false;
		if (m->payload != NULL)
			pfree(m->payload);
		r->n_out--;
		memmove(r->out, r->out + 1, sizeof(WorkerOutMsg) * r->n_out);
		if (res == SHM_MQ_DETACHED)
			return FLUSH_GONE;
	}
	return FLUSH_DONE;
}

/* queue an error; the request ends once it is sent */
static void
SendError(WorkerRequest *r, int code, const char *message)
{
	Queue(r, LLMSVC_MSG_ERROR, code, 0, message, strlen(message) + 1);
	r->finishing = true;
}

/* queue the last answer of a request */
static void
SendFinal(WorkerRequest *r, char tag, int32 a, int32 b, const void *payload, Size len)
{
	Queue(r, tag, a, b, payload, len);
	r->finishing = true;
}

/* take a request off its model (its scheduler or embed queue) */
static void
Detach(WorkerRequest *r)
{
	if (r->model == NULL)
		return;
	if (r->model->sched != NULL)
		LlmSchedCancel(r->model->sched, r);
	else
	{
		WorkerRequest **ep = &r->model->embed_queue;

		while (*ep != NULL && *ep != r)
			ep = &(*ep)->next_embed;
		if (*ep == r)
			*ep = r->next_embed;
	}
	r->model->active--;
	r->model->last_used = GetCurrentTimestamp();
	r->model = NULL;
}

/* forget a request: detach its segment (freeing the slot is the session's) */
static void
Finish(WorkerRequest *r)
{
	WorkerRequest **pp = &requests;

	Detach(r);
	while (*pp != NULL && *pp != r)
		pp = &(*pp)->next;
	if (*pp == r)
		*pp = r->next;
	for (int i = 0; i < r->n_out; i++)
		if (r->out[i].payload != NULL)
			pfree(r->out[i].payload);
	/* frees the queue handle (TopMemoryContext) and tells the session */
	shm_mq_detach(r->mqh);
	dsm_detach(r->seg);
	pfree(r);
}

static void SetSlotState(int slot, uint64 id, LlmSvcSlotState state);

/* report a request RUNNING in its slot (the queue timeout stops there) */
static void
MarkSlotRunning(WorkerRequest *r)
{
	r->running = true;
	SetSlotState(r->slot, r->id, LLMSVC_SLOT_RUNNING);
}

/* the worker a model path goes to */
int
LlmSvcWorkerFor(const char *path)
{
	uint32		h = 2166136261u;

	for (const char *p = path; *p; p++)
		h = (h ^ (unsigned char) *p) * 16777619u;
	return (int) (h % (uint32) Max(LlmSvc->n_workers, 1));
}

/* act on a new request: queue it on its model, or answer it */
static void
Dispatch(WorkerRequest *r)
{
	LlmSvcRequest *req = r->req;
	LlmError	err = {0};
	WorkerModel *m;

	if (req->kind != LLMSVC_GENERATE)
		MarkSlotRunning(r);
	if (req->kind == LLMSVC_UNLOAD)
	{
		m = WorkerModelFind(req->path, req->precision);
		if (m == NULL)
			SendFinal(r, LLMSVC_MSG_OK, 0, 0, "not loaded", 11);
		else if (WorkerModelUnload(m))
			SendFinal(r, LLMSVC_MSG_OK, 1, 0, "unloaded", 9);
		else
			SendError(r, LLM_ERR_ARGUMENT, "the model is in use by running requests");
		return;
	}
	m = WorkerModelGet(req, &err);
	if (m == NULL)
	{
		SendError(r, err.code, err.message);
		return;
	}
	if (req->kind == LLMSVC_LOAD)
	{
		SendFinal(r, LLMSVC_MSG_OK, 1, 0, "loaded", 7);
		return;
	}
	if ((req->kind == LLMSVC_EMBED) != (m->sched == NULL))
	{
		SendError(r, LLM_ERR_ARGUMENT, req->kind == LLMSVC_EMBED ?
				  "the model generates text; it does not embed" :
				  "the model is an encoder; it does not generate text");
		return;
	}
	r->model = m;
	m->active++;
	if (req->kind == LLMSVC_EMBED)
	{
		WorkerRequest **ep = &m->embed_queue;

		while (*ep != NULL)
			ep = &(*ep)->next_embed;
		*ep = r;
		return;
	}
	if (LlmSchedAdd(m->sched, r, LlmSvcIds(req), (int) req->n_ids, &req->sampling,
					req->max_tokens, req->eos, req->n_eos, &err) != LLM_OK)
		SendError(r, err.code, err.message);
}

/* set a slot's state if it still holds request id */
static void
SetSlotState(int slot, uint64 id, LlmSvcSlotState state)
{
	SpinLockAcquire(&LlmSvc->mutex);
	if (LlmSvc->slots[slot].id == id)
		LlmSvc->slots[slot].state = state;
	SpinLockRelease(&LlmSvc->mutex);
}

static dsm_segment *accepting_seg = NULL;	/* attached by Accept, not yet owned */

/*
 * Attach a claimed slot's segment and put its request at the head of the
 * request list; nothing when the session is gone already
 */
static void
Accept(int slot, dsm_handle handle, uint64 id)
{
	WorkerRequest *r;
	shm_mq	   *mq;
	MemoryContext old;

	accepting_seg = dsm_attach(handle);
	if (accepting_seg == NULL)
	{
		/* the session gave up already: its slot must not stay taken */
		SetSlotState(slot, id, LLMSVC_SLOT_FREE);
		return;
	}
	r = MemoryContextAllocZero(TopMemoryContext, sizeof(WorkerRequest));
	r->seg = accepting_seg;
	r->req = dsm_segment_address(accepting_seg);
	r->slot = slot;
	r->id = id;
	if (r->req->id != id)
	{
		pfree(r);
		dsm_detach(accepting_seg);
		accepting_seg = NULL;
		SetSlotState(slot, id, LLMSVC_SLOT_FREE);
		return;
	}
	mq = (shm_mq *) ((char *) r->req + r->req->mq_offset);
	shm_mq_set_sender(mq, MyProc);
	/* the handle lives as long as the request, not the pass */
	old = MemoryContextSwitchTo(TopMemoryContext);
	r->mqh = shm_mq_attach(mq, accepting_seg, NULL);
	MemoryContextSwitchTo(old);
	r->next = requests;
	requests = r;
	accepting_seg = NULL;
}

/* Accept, turning an error into a FAILED slot (the worker goes on) */
static void
TryAccept(int slot, dsm_handle handle, uint64 id)
{
	PG_TRY();
	{
		Accept(slot, handle, id);
	}
	PG_CATCH();
	{
		/* the session gets an error instead of waiting on a slot no one serves */
		ErrorData  *ed;

		MemoryContextSwitchTo(TopMemoryContext);
		ed = CopyErrorData();
		FlushErrorState();
		elog(LOG, "pgmlops inference worker %d could not take a request: %s",
			 my_index, ed->message);
		FreeErrorData(ed);
		if (accepting_seg != NULL)
			dsm_detach(accepting_seg);
		accepting_seg = NULL;
		SetSlotState(slot, id, LLMSVC_SLOT_FAILED);
	}
	PG_END_TRY();
}

/* take the slots submitted to this worker */
static void
Intake(void)
{
	LlmSvcWorker *me = &LlmSvc->workers[my_index];

	for (int i = 0; i < LlmSvc->n_slots; i++)
	{
		LlmSvcSlot *slot = &LlmSvc->slots[i];
		WorkerRequest *before = requests;
		dsm_handle	handle;
		uint64		id;

		if (slot->state != LLMSVC_SLOT_SUBMITTED || slot->worker != my_index)
			continue;
		SpinLockAcquire(&LlmSvc->mutex);
		if (slot->state != LLMSVC_SLOT_SUBMITTED || slot->worker != my_index)
		{
			SpinLockRelease(&LlmSvc->mutex);
			continue;
		}
		slot->state = LLMSVC_SLOT_ACCEPTED;
		slot->worker_generation = me->generation;
		handle = slot->handle;
		id = slot->id;
		SpinLockRelease(&LlmSvc->mutex);

		TryAccept(i, handle, id);
		if (requests != before)
			Dispatch(requests);
	}
}

/* drop requests whose session stopped waiting (their slot moved on) */
static void
DropCancelled(void)
{
	WorkerRequest *next;

	for (WorkerRequest *r = requests; r != NULL; r = next)
	{
		LlmSvcSlot *slot = &LlmSvc->slots[r->slot];
		bool		gone;

		next = r->next;
		SpinLockAcquire(&LlmSvc->mutex);
		gone = slot->id != r->id || slot->state == LLMSVC_SLOT_FREE;
		SpinLockRelease(&LlmSvc->mutex);
		if (gone)
			Finish(r);
	}
}

/*
 * After a use of m's weights: when one of its files shrank under its
 * mapping meanwhile (weights.c), or was written in place while the CPU
 * reads it there, what that use computed is garbage.  Fail every request
 * of the model that is not answered yet and unload the model, so that the
 * next request loads the files as they are then.  True when that happened.
 */
static bool
DropDamaged(WorkerModel *m)
{
	const char *path = LlmWeightsDamaged(m->model->weights);
	const char *file;
	char		message[512];

	if (path == NULL && m->host_weights)
		path = LlmWeightsChanged(m->model->weights);
	if (path == NULL)
		return false;
	file = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	snprintf(message, sizeof(message),
			 "weight file \"%s\" of model \"%s\" was changed in place while the model was loaded; the model was unloaded",
			 file, m->name);
	elog(LOG, "pgmlops inference worker %d: %s (\"%s\")", my_index, message, path);
	for (WorkerRequest *r = requests; r != NULL; r = r->next)
		if (r->model == m)
		{
			bool		answered = r->finishing;

			Detach(r);
			/* an answer queued before is sent as it is */
			if (!answered)
				SendError(r, LLM_ERR_IO, message);
		}
	(void) WorkerModelUnload(m);
	return true;
}

/*
 * Encode the first queued embedding request of an encoder: its inputs in
 * one LlmEncode call.  Requests are not merged, so that what one session
 * gets never depends on what others ask at the same time (the order of a
 * matrix product's sums changes with its number of rows).
 */
static void
RunEmbeddings(WorkerModel *m)
{
	WorkerRequest *r = m->embed_queue;
	int			n = r->req->n_inputs;
	int			dim = m->model->cfg.hidden_size;
	int			max_len = m->model->cfg.max_position;
	const int32 **ids = palloc(sizeof(int32 *) * Max(n, 1));
	int		   *lens = palloc(sizeof(int) * Max(n, 1));
	int32	   *l = LlmSvcLens(r->req);
	int32	   *p = LlmSvcIds(r->req);
	float	   *out;
	LlmError	err = {0};
	int			rc;

	for (int i = 0; i < n; i++)
	{
		ids[i] = p;
		/* too long: keep the head and the closing special token */
		lens[i] = Min(l[i], max_len);
		if (l[i] > max_len)
			p[max_len - 1] = p[l[i] - 1];
		p += l[i];
	}
	out = MemoryContextAllocExtended(CurrentMemoryContext, sizeof(float) * (Size) Max(n, 1) * dim,
									 MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
	if (out == NULL)
		rc = LlmSetError(&err, LLM_ERR_NOMEM, "out of memory for %d embeddings", n);
	else
		rc = LlmEncode(m->rt, ids, lens, n, out, NULL, &err);
	if (DropDamaged(m))
		return;

	m->embed_queue = r->next_embed;
	r->model = NULL;			/* off the queue */
	m->active--;
	m->last_used = GetCurrentTimestamp();
	if (rc == LLM_OK)
		SendFinal(r, LLMSVC_MSG_EMBED, n, dim, out, sizeof(float) * (Size) n * dim);
	else
		SendError(r, err.code, err.message);
}

/* count tokens in the per-second ring */
static void
CountTokens(int n)
{
	LlmSvcWorker *me = &LlmSvc->workers[my_index];
	int64		sec = (int64) (GetCurrentTimestamp() / USECS_PER_SEC);
	int			b = (int) (sec % LLMSVC_RATE_SECONDS);

	SpinLockAcquire(&LlmSvc->mutex);
	if (me->rate_second[b] != sec)
	{
		me->rate_second[b] = sec;
		me->rate_tokens[b] = 0;
	}
	me->rate_tokens[b] += n;
	me->tokens_total += n;
	SpinLockRelease(&LlmSvc->mutex);
}

/* one step of a decoder; queue its tokens */
static void
RunStep(WorkerModel *m, LlmSchedEvent *events)
{
	LlmError	err = {0};
	int			n = 0;
	int			tokens = 0;

	LlmSchedStep(m->sched, events, &n, &err);
	if (DropDamaged(m))
		return;
	for (int i = 0; i < n; i++)
	{
		LlmSchedEvent *ev = &events[i];
		WorkerRequest *r = ev->tag;

		if (ev->kind == LLM_SCHED_ERROR)
		{
			SendError(r, ev->code, ev->message);
			continue;
		}
		tokens++;
		if (ev->kind == LLM_SCHED_TOKEN || ev->finish != LLM_FINISH_EOS)
			Queue(r, LLMSVC_MSG_TOKEN, ev->token, 0, NULL, 0);
		if (ev->kind == LLM_SCHED_DONE)
			SendFinal(r, LLMSVC_MSG_DONE, (int32) ev->finish, ev->completion_tokens, NULL, 0);
	}
	if (tokens > 0)
		CountTokens(tokens);
}

/*
 * Send every request's outbox: end the answered ones, pause those whose
 * reader is behind (resume them when it caught up), drop the detached
 */
static void
FlushAll(void)
{
	WorkerRequest *next;

	for (WorkerRequest *r = requests; r != NULL; r = next)
	{
		FlushResult res = Flush(r);
		bool		pause = res == FLUSH_BLOCKED;

		next = r->next;
		if (res == FLUSH_GONE || (res == FLUSH_DONE && r->finishing))
		{
			Finish(r);
			continue;
		}
		if (pause != r->paused && r->model != NULL && r->model->sched != NULL)
			LlmSchedSetPaused(r->model->sched, r, pause);
		r->paused = pause;
	}
}

/* mark admitted requests RUNNING in their slots */
static void
MarkRunning(void)
{
	for (WorkerRequest *r = requests; r != NULL; r = r->next)
		if (!r->running && r->model != NULL && r->model->sched != NULL &&
			LlmSchedIsRunning(r->model->sched, r))
			MarkSlotRunning(r);
}

/* publish the loaded models and counters for mlops.worker_status */
static void
PublishStatus(void)
{
	LlmSvcWorker *me = &LlmSvc->workers[my_index];
	LlmSvcModelStatus models[LLMSVC_MAX_MODELS];
	int			n = 0;
	int			queued = 0;
	int			in_flight = 0;

	for (WorkerModel *m = worker_models; m != NULL && n < LLMSVC_MAX_MODELS; m = m->next)
	{
		LlmSvcModelStatus *s = &models[n++];
		int			free_blocks = 0;

		memset(s, 0, sizeof(*s));
		strlcpy(s->name, m->name, sizeof(s->name));
		s->version = m->version;
		s->encoder = m->sched == NULL;
		s->weight_bytes = m->weight_bytes;
		s->kv_bytes = m->kv_bytes;
		s->loaded_at = m->loaded_at;
		s->last_used = m->last_used;
		if (m->sched != NULL)
		{
			LlmRuntimeKvUsage(m->rt, &free_blocks, &s->kv_blocks_total);
			s->kv_blocks_used = s->kv_blocks_total - free_blocks;
			LlmSchedCounts(m->sched, &s->running, &s->waiting);
			s->preemptions = LlmSchedPreemptions(m->sched);
		}
		else
			for (WorkerRequest *r = m->embed_queue; r != NULL; r = r->next_embed)
				s->waiting++;
		queued += s->waiting;
		in_flight += s->running;
	}
	SpinLockAcquire(&LlmSvc->mutex);
	memcpy(me->models, models, sizeof(LlmSvcModelStatus) * n);
	me->n_models = n;
	me->queued = queued;
	me->in_flight = in_flight;
	me->memory_limit = worker_memory_limit;
	SpinLockRelease(&LlmSvc->mutex);
}

/* has any model work to do now (paused requests wait for their reader)? */
static bool
HaveWork(void)
{
	for (WorkerModel *m = worker_models; m != NULL; m = m->next)
	{
		if (m->embed_queue != NULL)
			return true;
		if (m->sched != NULL && LlmSchedRunnable(m->sched) > 0)
			return true;
	}
	return false;
}

/* before_shmem_exit: say that this worker is gone */
static void
WorkerExit(int code, Datum arg)
{
	LlmSvcWorker *me = &LlmSvc->workers[my_index];

	SpinLockAcquire(&LlmSvc->mutex);
	me->pid = 0;
	me->latch = NULL;
	me->n_models = 0;
	me->queued = me->in_flight = 0;
	SpinLockRelease(&LlmSvc->mutex);
}

/* read the settings that a reload may change */
static void
ApplySettings(void)
{
	worker_memory_limit = (int64) memory_limit_mb * 1024 * 1024;
	worker_kv_default = (int64) kv_cache_mb * 1024 * 1024;
}

/* one pass of the main loop */
static void
Iterate(void)
{
	Intake();
	DropCancelled();
	for (WorkerModel *m = worker_models, *next; m != NULL; m = next)
	{
		/* either may unload m (DropDamaged) */
		next = m->next;
		if (m->embed_queue != NULL)
			RunEmbeddings(m);
		else if (m->sched != NULL && LlmSchedRunnable(m->sched) > 0)
		{
			if (LlmSchedMaxEvents(m->sched) > max_events)
			{
				max_events = LlmSchedMaxEvents(m->sched);
				events = events ? repalloc(events, sizeof(LlmSchedEvent) * max_events) :
					MemoryContextAlloc(TopMemoryContext, sizeof(LlmSchedEvent) * max_events);
			}
			RunStep(m, events);
		}
	}
	FlushAll();
	MarkRunning();
	PublishStatus();
}

/*
 * An error escaped a pass (out of memory, a segment that cannot be
 * mapped...): fail every request the worker holds rather than exit and
 * lose the loaded models
 */
static void
FailAll(const char *message)
{
	char		text[512];
	WorkerRequest *next;

	snprintf(text, sizeof(text), "the inference worker failed: %s", message);
	for (WorkerRequest *r = requests; r != NULL; r = next)
	{
		/* a half-sent message must be finished before another one */
		int			keep = r->partial ? 1 : 0;

		next = r->next;
		for (int i = keep; i < r->n_out; i++)
			if (r->out[i].payload != NULL)
				pfree(r->out[i].payload);
		r->n_out = Min(r->n_out, keep);
		SendError(r, LLM_ERR_DEVICE, text);
		(void) Flush(r);
		Finish(r);
	}
}

/*
 * Main function of an inference worker
 */
void
LlmWorkerMain(Datum arg)
{
	LlmSvcWorker *me;
	MemoryContext pass_cxt;
	volatile bool trace_launched = false;	/* (PG_TRY in the loop) */

	my_index = DatumGetInt32(arg);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	if (LlmSvc == NULL || my_index < 0 || my_index >= LlmSvc->n_workers)
		proc_exit(1);
	ApplySettings();
	pass_cxt = AllocSetContextCreate(TopMemoryContext, "pgmlops inference pass",
									 ALLOCSET_DEFAULT_SIZES);

	me = &LlmSvc->workers[my_index];
	before_shmem_exit(WorkerExit, (Datum) 0);
	SpinLockAcquire(&LlmSvc->mutex);
	me->pid = MyProcPid;
	me->latch = MyLatch;
	me->generation++;
	me->started_at = GetCurrentTimestamp();
	SpinLockRelease(&LlmSvc->mutex);
	/* choosing the device creates no context: models are loaded on demand */
	strlcpy(me->device, WorkerDeviceName(), sizeof(me->device));
	elog(LOG, "pgmlops inference worker %d started on %s (OpenBLAS kernels: %s)",
		 my_index, me->device, ComputeCpuBlasCore());
	if (ComputeCpuBlasUnderused())
		ereport(WARNING,
				(errmsg("OpenBLAS uses its %s kernels on a CPU that has AVX2", ComputeCpuBlasCore()),
				 errdetail("Products of many rows (prefill, batched decoding, training) run several times slower than they could."),
				 errhint("Start the server with OPENBLAS_CORETYPE=Haswell (or SkylakeX on a CPU with AVX-512) in its environment.")));

	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		if (!PostmasterIsAlive())
			proc_exit(1);
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			ApplySettings();
		}
		/*
		 * once the server accepts writes, records that the last clean
		 * shutdown saved get flushers (a server that starts as a standby
		 * loads none)
		 */
		if (!trace_launched && my_index == 0 && !RecoveryInProgress())
		{
			LlmTraceLaunchWaiting();
			trace_launched = true;
		}
		ResetLatch(MyLatch);
		MemoryContextReset(pass_cxt);
		MemoryContextSwitchTo(pass_cxt);
		PG_TRY();
		{
			Iterate();
		}
		PG_CATCH();
		{
			ErrorData  *ed;

			MemoryContextSwitchTo(TopMemoryContext);
			ed = CopyErrorData();
			FlushErrorState();
			elog(LOG, "pgmlops inference worker %d: %s", my_index, ed->message);
			FailAll(ed->message);
			FreeErrorData(ed);
		}
		PG_END_TRY();
		MemoryContextSwitchTo(TopMemoryContext);
		if (!HaveWork())
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 1000, PG_WAIT_EXTENSION);
	}
}

/* the lens and ids of a request */
int32 *
LlmSvcLens(LlmSvcRequest *req)
{
	return (int32 *) ((char *) req + req->ids_offset);
}

int32 *
LlmSvcIds(LlmSvcRequest *req)
{
	return LlmSvcLens(req) + req->n_inputs;
}
