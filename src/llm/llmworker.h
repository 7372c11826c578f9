/*-------------------------------------------------------------------------
 *
 * llmworker.h
 *	  Inside an inference worker: its loaded models (llmwmodel.c) and
 *	  its requests (llmworker.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMLOPS_LLM_LLMWORKER_H
#define PGMLOPS_LLM_LLMWORKER_H

#include <sys/stat.h>

#include "llm/llmsvc.h"
#include "llm/runtime.h"
#include "llm/sched.h"

/* what a model directory's files looked like when it was loaded */
typedef struct WorkerStamp
{
	ino_t		ino[2];
	off_t		size[2];
	time_t		mtime[2];
} WorkerStamp;

typedef struct WorkerRequest WorkerRequest;

typedef struct WorkerModel
{
	char		path[MAXPGPATH];
	ComputePrecision precision;
	char		name[NAMEDATALEN];
	int			version;
	WorkerStamp stamp;
	LlmModel   *model;
	LlmRuntime *rt;
	LlmSched   *sched;			/* decoders */
	WorkerRequest *embed_queue; /* encoders: requests waiting for LlmEncode */
	int64		weight_bytes;
	int64		kv_bytes;
	int			active;			/* requests that use it */
	bool		host_weights;	/* the device reads the mapped files */
	TimestampTz loaded_at;
	TimestampTz last_used;
	struct WorkerModel *next;
} WorkerModel;

/* a message waiting to be sent (its payload is copied) */
typedef struct WorkerOutMsg
{
	LlmSvcMsg	head;
	char	   *payload;
	Size		len;
} WorkerOutMsg;

#define WORKER_OUTBOX	4

/* a request the worker holds */
struct WorkerRequest
{
	uint64		id;
	int			slot;
	dsm_segment *seg;
	LlmSvcRequest *req;
	shm_mq_handle *mqh;
	WorkerModel *model;
	bool		running;		/* reported RUNNING in its slot */
	bool		paused;			/* its reader is behind: no steps */
	bool		finishing;		/* answered: ends when the outbox is sent */
	WorkerOutMsg out[WORKER_OUTBOX];	/* not yet in the queue */
	int			n_out;
	bool		partial;		/* out[0] was sent in part */
	int			tokens_sent;
	WorkerRequest *next;		/* all requests */
	WorkerRequest *next_embed;	/* the model's embed queue */
};

/* llmwmodel.c */
extern WorkerModel *worker_models;
extern int64 worker_memory_limit;	/* bytes */
extern int64 worker_kv_default;		/* bytes */

/*
 * The loaded model for a request, loading it (and evicting idle models
 * that do not fit beside it) when needed; NULL with err set on failure.
 * A model whose files changed or vanished since loading is unloaded
 * first when idle.
 */
extern WorkerModel *WorkerModelGet(const LlmSvcRequest *req, LlmError *err);
/* unload a model now; false when requests still use it */
extern bool WorkerModelUnload(WorkerModel *m);
/* the loaded model of a path, or NULL */
extern WorkerModel *WorkerModelFind(const char *path, ComputePrecision precision);
/* the device models run on ("cpu", "cuda: <name>") */
extern const char *WorkerDeviceName(void);

#endif							/* PGMLOPS_LLM_LLMWORKER_H */
