/*-------------------------------------------------------------------------
 *
 * llmsvc.h
 *	  The inference service: shared memory between the sessions and the
 *	  inference workers, and the request protocol.
 *
 * A session puts a request into a dynamic shared memory segment: the
 * LlmSvcRequest header, the token ids, and a shm_mq on which the worker
 * answers.  It then takes a free slot of the shared slot array, naming
 * the segment, and sets the worker's latch.  The worker attaches the
 * segment, marks the slot ACCEPTED (RUNNING once its sequence is
 * admitted), and streams messages back: one per token, then DONE; or the
 * embeddings; or an ERROR.
 *
 * Cancellation is detachment: a session that stops waiting (error,
 * cancel, timeout, stop string, exit) detaches the segment, which frees
 * its slot; the worker sees the slot freed (or its next send fail) and
 * drops the request and its KV blocks at its next step.  A worker that
 * exits detaches from every segment, so waiting sessions see the queue
 * detached at once; its generation number tells them that a request it
 * had accepted is lost, while requests not yet accepted wait for the
 * restarted worker.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMLOPS_LLM_LLMSVC_H
#define PGMLOPS_LLM_LLMSVC_H

#include "datatype/timestamp.h"
#include "storage/dsm.h"
#include "storage/latch.h"
#include "storage/shm_mq.h"
#include "storage/spin.h"

#include "compute/computeops.h"
#include "llm/model.h"
#include "llm/sampler.h"

#define LLMSVC_MAX_WORKERS		8
#define LLMSVC_MAX_MODELS		16	/* loaded models one worker reports */
#define LLMSVC_RATE_SECONDS		60	/* tokens/s are averaged over this */

typedef enum LlmSvcKind
{
	LLMSVC_GENERATE,
	LLMSVC_EMBED,
	LLMSVC_LOAD,
	LLMSVC_UNLOAD
} LlmSvcKind;

typedef enum LlmSvcSlotState
{
	LLMSVC_SLOT_FREE,
	LLMSVC_SLOT_SUBMITTED,		/* waiting for the worker to take it */
	LLMSVC_SLOT_ACCEPTED,		/* the worker holds it, queued */
	LLMSVC_SLOT_RUNNING,		/* its sequence runs */
	LLMSVC_SLOT_FAILED			/* the worker could not take it (server log) */
} LlmSvcSlotState;

typedef struct LlmSvcSlot
{
	LlmSvcSlotState state;
	uint64		id;				/* request number, never reused */
	int			worker;
	dsm_handle	handle;
	uint64		worker_generation;	/* of the worker that accepted it */
} LlmSvcSlot;

/* a loaded model as a worker reports it */
typedef struct LlmSvcModelStatus
{
	char		name[NAMEDATALEN];
	int			version;
	bool		encoder;
	int64		weight_bytes;
	int64		kv_bytes;
	int			kv_blocks_used;
	int			kv_blocks_total;
	int			running;
	int			waiting;
	int64		preemptions;	/* requests that gave their KV pages back */
	TimestampTz loaded_at;
	TimestampTz last_used;
} LlmSvcModelStatus;

typedef struct LlmSvcWorker
{
	pid_t		pid;			/* 0 while not running */
	Latch	   *latch;
	uint64		generation;		/* incremented at each start */
	TimestampTz started_at;
	char		device[64];
	int64		memory_limit;	/* bytes */
	int			n_models;
	LlmSvcModelStatus models[LLMSVC_MAX_MODELS];
	int			queued;			/* requests accepted, not yet running */
	int			in_flight;		/* requests running */
	int64		tokens_total;
	/* tokens generated per second of the last minute */
	int64		rate_second[LLMSVC_RATE_SECONDS];
	int64		rate_tokens[LLMSVC_RATE_SECONDS];
} LlmSvcWorker;

typedef struct LlmSvcShared
{
	slock_t		mutex;			/* protects everything below */
	uint64		next_id;
	int			n_workers;
	LlmSvcWorker workers[LLMSVC_MAX_WORKERS];
	int			n_slots;
	LlmSvcSlot	slots[FLEXIBLE_ARRAY_MEMBER];
} LlmSvcShared;

/*
 * The request at the start of its segment; lens (n_inputs int32) and
 * then the ids follow at ids_offset, the shm_mq at mq_offset
 */
typedef struct LlmSvcRequest
{
	LlmSvcKind	kind;
	uint64		id;
	char		path[MAXPGPATH];	/* the model directory, resolved */
	char		name[NAMEDATALEN];	/* registered name, for the status */
	int			version;
	ComputePrecision precision;
	int64		kv_bytes;		/* KV cache of the model; 0: the default */
	LlmSamplingParams sampling;
	int			max_tokens;
	bool		flush_each;		/* the session reads each token as it comes
								 * (a stream, or stop strings to look for) */
	int			n_eos;			/* -1: the model's */
	int32		eos[LLM_MAX_EOS];
	int			n_inputs;
	int64		n_ids;
	Size		ids_offset;
	Size		mq_offset;
	Size		mq_size;
} LlmSvcRequest;

/* worker -> session messages: a header, then a payload */
#define LLMSVC_MSG_TOKEN	'T'		/* a: token */
#define LLMSVC_MSG_DONE		'D'		/* a: finish reason, b: completion tokens */
#define LLMSVC_MSG_EMBED	'E'		/* a: n, b: dim; n * dim float4 follow */
#define LLMSVC_MSG_OK		'K'		/* load/unload done; text follows */
#define LLMSVC_MSG_ERROR	'X'		/* a: LLM_ERR_* code; message follows */

typedef struct LlmSvcMsg
{
	char		tag;
	int32		a;
	int32		b;
} LlmSvcMsg;

/* llmworker.c */
extern LlmSvcShared *LlmSvc;	/* NULL unless preloaded */
extern int	llm_worker_count;
extern int	llm_queue_limit;
extern int	llm_queue_timeout;
extern void LlmWorkerInit(void);
extern PGDLLEXPORT void LlmWorkerMain(Datum arg);
/* the worker that serves a model directory */
extern int	LlmSvcWorkerFor(const char *path);

/* llmclient.c: one call from a session */
typedef struct LlmSvcCall
{
	dsm_segment *seg;
	LlmSvcRequest *req;
	shm_mq_handle *mqh;
	int			slot;
	uint64		id;
	int			worker;
	TimestampTz submitted_at;
	TimestampTz first_message_at;	/* 0 until one arrived */
	bool		ended;
} LlmSvcCall;

/*
 * Create a request of kind with room for n_inputs inputs of n_ids ids in
 * all and an answer queue of mq_size bytes; the caller fills call->req
 * and the lens / ids (LlmSvcLens / LlmSvcIds), then submits.
 */
extern void LlmSvcPrepare(LlmSvcCall *call, LlmSvcKind kind, int n_inputs,
						  int64 n_ids, Size mq_size);
extern int32 *LlmSvcLens(LlmSvcRequest *req);
extern int32 *LlmSvcIds(LlmSvcRequest *req);
/* hand the request to a worker (the worker follows from the model path) */
extern void LlmSvcSubmit(LlmSvcCall *call);

/*
 * Wait for the next message; raises the error of an LLMSVC_MSG_ERROR,
 * and errors for a lost worker, the queue timeout and interrupts.
 * *data (the payload after the header) stays valid until the next call.
 */
extern LlmSvcMsg LlmSvcReceive(LlmSvcCall *call, const char **data, Size *len);
/* stop: detach the segment, which frees the slot and cancels the request */
extern void LlmSvcEnd(LlmSvcCall *call);

#endif							/* PGMLOPS_LLM_LLMSVC_H */
