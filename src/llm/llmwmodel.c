/*-------------------------------------------------------------------------
 *
 * llmwmodel.c
 *	  The models an inference worker holds: loading on first use, LRU
 *	  eviction under mlops.gpu_memory_limit, reloading when the files
 *	  changed on disk, and explicit unloading.
 *
 * A model is identified by its resolved directory and precision.  Its
 * memory is its weights plus its KV cache (counted whatever the device:
 * on the CPU the weights are mapped files, but they still occupy memory).
 * Only idle models (no request uses them) are evicted; a model that
 * cannot fit beside the busy ones is refused with an error.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>

#include "compute/compute.h"
#include "llm/llmworker.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

WorkerModel *worker_models = NULL;
int64		worker_memory_limit = 0;
int64		worker_kv_default = 0;

static char *device_label = NULL;
static const ComputeOps *device_ops = NULL;

/* choose the device once, in the worker (never in the postmaster) */
static const ComputeOps *
DeviceOps(void)
{
	if (device_ops == NULL)
	{
		ComputeDevice d = ComputeResolveDevice();

		device_label = MemoryContextStrdup(TopMemoryContext, ComputeDeviceLabel());
#ifdef USE_CUDA
		device_ops = d == COMPUTE_DEVICE_CUDA ? &ComputeCudaOps : &ComputeCpuOps;
#else
		(void) d;
		device_ops = &ComputeCpuOps;
#endif
	}
	return device_ops;
}

/* the device label */
const char *
WorkerDeviceName(void)
{
	DeviceOps();
	return device_label;
}

/* stat config.json and the weights (file or shard index) of a directory */
static bool
TakeStamp(const char *dir, WorkerStamp *st)
{
	static const char *const files[2] = {"config.json", "model.safetensors"};

	for (int i = 0; i < 2; i++)
	{
		char		path[MAXPGPATH];
		struct stat sb;

		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		if (stat(path, &sb) != 0)
		{
			snprintf(path, sizeof(path), "%s/%s.index.json", dir, files[i]);
			if (i == 0 || stat(path, &sb) != 0)
				return false;
		}
		st->ino[i] = sb.st_ino;
		st->size[i] = sb.st_size;
		st->mtime[i] = sb.st_mtime;
	}
	return true;
}

/* the loaded model of a path and precision, or NULL */
WorkerModel *
WorkerModelFind(const char *path, ComputePrecision precision)
{
	for (WorkerModel *m = worker_models; m != NULL; m = m->next)
		if (strcmp(m->path, path) == 0 && m->precision == precision)
			return m;
	return NULL;
}

/* free a model's engine objects and unlink it */
static void
FreeModel(WorkerModel *m)
{
	WorkerModel **pp = &worker_models;

	while (*pp != NULL && *pp != m)
		pp = &(*pp)->next;
	if (*pp == m)
		*pp = m->next;
	LlmSchedFree(m->sched);
	LlmRuntimeFree(m->rt);
	LlmModelFree(m->model);
	elog(LOG, "pgmlops inference worker: unloaded model \"%s\" version %d", m->name, m->version);
	pfree(m);
}

/* unload now unless busy */
bool
WorkerModelUnload(WorkerModel *m)
{
	if (m->active > 0)
		return false;
	FreeModel(m);
	return true;
}

/* memory of every loaded model */
static int64
MemoryUsed(void)
{
	int64		used = 0;

	for (WorkerModel *m = worker_models; m != NULL; m = m->next)
		used += m->weight_bytes + m->kv_bytes;
	return used;
}

/* evict idle models, least recently used first, until need fits */
static bool
MakeRoom(int64 need)
{
	while (worker_memory_limit > 0 && MemoryUsed() + need > worker_memory_limit)
	{
		WorkerModel *victim = NULL;

		for (WorkerModel *m = worker_models; m != NULL; m = m->next)
			if (m->active == 0 && (victim == NULL || m->last_used < victim->last_used))
				victim = m;
		if (victim == NULL)
			return false;
		FreeModel(victim);
	}
	return true;
}

/* bytes of a model's weights */
static int64
WeightBytes(const LlmModel *model)
{
	int64		n = 0;

	for (int i = 0; i < LlmWeightsCount(model->weights); i++)
	{
		const LlmTensor *t = &LlmWeightsEntry(model->weights, i)->tensor;

		n += LlmTensorCount(t) * (int64) LlmDTypeSize(t->dtype);
	}
	return n;
}

/* load a model for req */
static WorkerModel *
Load(const LlmSvcRequest *req, LlmError *err)
{
	LlmRuntimeOptions opt;
	WorkerModel *m;
	LlmModel   *model = NULL;
	LlmRuntime *rt = NULL;
	LlmSched   *sched = NULL;
	WorkerStamp stamp;
	int64		weights;
	const char *changed;
	const ComputeOps *ops = DeviceOps();

	if (!TakeStamp(req->path, &stamp))
	{
		LlmSetError(err, LLM_ERR_IO, "the files of model \"%s\" are missing from \"%s\"",
					req->name, req->path);
		return NULL;
	}
	if (LlmModelLoad(req->path, &model, err) != LLM_OK)
		return NULL;
	weights = WeightBytes(model);
	LlmRuntimeDefaults(&opt);
	opt.precision = req->precision;
	if (model->cfg.arch == LLM_ARCH_BERT)
	{
		opt.max_batch_rows = Max(2048, model->cfg.max_position);
		opt.kv_bytes = 0;
	}
	else
		opt.kv_bytes = req->kv_bytes > 0 ? req->kv_bytes : worker_kv_default;
	if (!MakeRoom(weights + (int64) opt.kv_bytes))
	{
		LlmSetError(err, LLM_ERR_FULL,
					"model \"%s\" needs %lld MB, more than mlops.gpu_memory_limit leaves beside the models in use",
					req->name, (long long) ((weights + (int64) opt.kv_bytes) >> 20));
		LlmModelFree(model);
		return NULL;
	}
	if (LlmRuntimeCreate(model, ops, &opt, &rt, err) != LLM_OK ||
		(model->cfg.arch != LLM_ARCH_BERT && LlmSchedCreate(rt, &sched, err) != LLM_OK))
	{
		LlmRuntimeFree(rt);
		LlmModelFree(model);
		return NULL;
	}
	/* a file written in place while the runtime copied or converted weights */
	if ((changed = LlmWeightsDamaged(model->weights)) != NULL ||
		(changed = LlmWeightsChanged(model->weights)) != NULL)
	{
		LlmSetError(err, LLM_ERR_IO,
					"weight file \"%s\" of model \"%s\" was changed in place while it was loading",
					strrchr(changed, '/') ? strrchr(changed, '/') + 1 : changed, req->name);
		LlmSchedFree(sched);
		LlmRuntimeFree(rt);
		LlmModelFree(model);
		return NULL;
	}
	m = MemoryContextAllocZero(TopMemoryContext, sizeof(WorkerModel));
	strlcpy(m->path, req->path, sizeof(m->path));
	strlcpy(m->name, req->name, sizeof(m->name));
	m->version = req->version;
	m->precision = req->precision;
	m->stamp = stamp;
	m->model = model;
	m->rt = rt;
	m->sched = sched;
	m->weight_bytes = weights;
	m->host_weights = ops == &ComputeCpuOps;
	m->kv_bytes = (int64) opt.kv_bytes;
	m->loaded_at = m->last_used = GetCurrentTimestamp();
	m->next = worker_models;
	worker_models = m;
	elog(LOG, "pgmlops inference worker: loaded model \"%s\" version %d from \"%s\" on %s",
		 m->name, m->version, m->path, WorkerDeviceName());
	return m;
}

/* the model for a request; see llmworker.h */
WorkerModel *
WorkerModelGet(const LlmSvcRequest *req, LlmError *err)
{
	WorkerModel *m = WorkerModelFind(req->path, req->precision);

	if (m != NULL)
	{
		WorkerStamp now;

		memset(&now, 0, sizeof(now));
		if (TakeStamp(m->path, &now) && memcmp(&now, &m->stamp, sizeof(now)) == 0)
		{
			m->last_used = GetCurrentTimestamp();
			/* a new registration of the same files takes over the name */
			strlcpy(m->name, req->name, sizeof(m->name));
			m->version = req->version;
			return m;
		}
		if (m->active > 0)
		{
			LlmSetError(err, LLM_ERR_IO,
						"the files of model \"%s\" changed on disk while requests use it; retry when they end",
						req->name);
			return NULL;
		}
		FreeModel(m);
	}
	return Load(req, err);
}
