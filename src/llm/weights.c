/*-------------------------------------------------------------------------
 *
 * weights.c
 *	  The weight table of a model directory: read-only mappings of the
 *	  weight files and a name -> tensor lookup.
 *
 * A directory holds either model.safetensors or
 * model.safetensors.index.json, whose "weight_map" names the shard that
 * holds each tensor.  Every file is mapped once, PROT_READ and
 * MAP_PRIVATE, so the page cache is shared between processes that load the
 * same model and nothing is copied.  The table itself is format-neutral: a
 * GGUF reader would append entries the same way safetensors.c does.
 * Lookups go through an open-addressing hash table built once at open.
 *
 * A mapped file that is truncated while mapped (an administrator copying
 * a new checkpoint over the old one in place) makes every read of a page
 * past its new end raise SIGBUS, which would kill the process.  Every
 * mapping is therefore registered with a SIGBUS handler that, for a fault
 * inside a registered mapping, replaces the whole mapping by zero pages
 * and marks it damaged: the read goes on, the results are garbage, and
 * the caller asks LlmWeightsDamaged after each use of the weights and
 * throws them away.  A fault anywhere else is left to the action that was
 * there before.  A copy in place that no read happens to cross while the
 * file is short is caught by LlmWeightsChanged instead, which compares the
 * size and modification time of the file at the mapped file's path (same
 * device and inode) with those it had when mapped.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "llm/llmjson.h"
#include "llm/model.h"

typedef struct WeightMapping
{
	void	   *addr;
	size_t		len;
	int			first;			/* index of the first entry of this file */
	int			guard;			/* its slot in guard_slots, or -1 */
	char	   *path;
	struct stat st;				/* the mapped file as it was when mapped */
} WeightMapping;

struct LlmWeights
{
	int			n_maps;
	WeightMapping *maps;		/* (n_maps) */
	int			n_entries;
	LlmWeightEntry *entries;	/* (n_entries) */
	uint32_t	mask;			/* hash slots - 1 */
	int32_t    *slots;			/* entry index or -1, (mask + 1) */
};

/*
 * The mappings the SIGBUS handler knows.  Slots are filled and emptied by
 * the thread that opens and closes weights, never while another thread
 * reads them; the handler only reads start and len and sets faulted.
 */
#define GUARD_SLOTS		4096

typedef struct GuardSlot
{
	uintptr_t	start;			/* 0: free */
	size_t		len;
	volatile sig_atomic_t faulted;
} GuardSlot;

static GuardSlot guard_slots[GUARD_SLOTS];
static int	guard_used = 0;		/* slots [0, guard_used) may be taken */
static bool guard_installed = false;
static struct sigaction guard_prev;

/*
 * SIGBUS: a fault past the end of a registered mapping's file (or a read
 * error of it) gets zero pages in place of the whole mapping, once; any
 * other SIGBUS, a kill -BUS included, goes to the previous action, and
 * the default action still ends the process.
 */
static void
GuardHandler(int signo, siginfo_t *info, void *context)
{
	int			save_errno = errno;
	uintptr_t	a = (uintptr_t) info->si_addr;

	for (int i = 0; (info->si_code == BUS_ADRERR || info->si_code == BUS_OBJERR) &&
		 i < __atomic_load_n(&guard_used, __ATOMIC_ACQUIRE); i++)
	{
		GuardSlot  *g = &guard_slots[i];
		uintptr_t	start = __atomic_load_n(&g->start, __ATOMIC_ACQUIRE);

		if (start == 0 || a < start || a - start >= g->len)
			continue;
		/*
		 * Another thread that faulted in the same mapping before it was
		 * replaced: its read finds the zero pages now (they do not fault)
		 */
		if (!g->faulted &&
			mmap((void *) start, g->len, PROT_READ,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
			break;
		g->faulted = 1;
		errno = save_errno;
		return;
	}
	errno = save_errno;
	if ((guard_prev.sa_flags & SA_SIGINFO) != 0)
		guard_prev.sa_sigaction(signo, info, context);
	else if (guard_prev.sa_handler != SIG_DFL && guard_prev.sa_handler != SIG_IGN)
		guard_prev.sa_handler(signo);
	else if (guard_prev.sa_handler == SIG_IGN && info->si_code <= 0)
		return;					/* sent by a process, and ignored before */
	else
	{
		/* delivered once this handler returns, with the default action */
		signal(SIGBUS, SIG_DFL);
		raise(SIGBUS);
	}
}

/* register a mapping (installing the handler the first time); -1 when full */
static int
GuardAdd(void *addr, size_t len)
{
	int			i;

	if (!guard_installed)
	{
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = GuardHandler;
		sa.sa_flags = SA_SIGINFO;
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGBUS, &sa, &guard_prev) != 0)
			return -1;
		guard_installed = true;
	}
	for (i = 0; i < guard_used; i++)
		if (guard_slots[i].start == 0)
			break;
	if (i == GUARD_SLOTS)
		return -1;
	guard_slots[i].len = len;
	guard_slots[i].faulted = 0;
	__atomic_store_n(&guard_slots[i].start, (uintptr_t) addr, __ATOMIC_RELEASE);
	if (i == guard_used)
		__atomic_store_n(&guard_used, i + 1, __ATOMIC_RELEASE);
	return i;
}

/* forget a mapping before it is unmapped */
static void
GuardRemove(int i)
{
	if (i >= 0)
		__atomic_store_n(&guard_slots[i].start, 0, __ATOMIC_RELEASE);
}

/*
 * FNV-1a hash of a tensor name
 */
static uint32_t
HashName(const char *s)
{
	uint32_t	h = 2166136261u;

	for (; *s; s++)
	{
		h ^= (uint8_t) *s;
		h *= 16777619u;
	}
	return h;
}

/*
 * Index of the entry named name, or -1
 */
static int
FindIndex(const LlmWeights *w, const char *name)
{
	uint32_t	i;

	if (w->slots == NULL)
		return -1;
	for (i = HashName(name) & w->mask;; i = (i + 1) & w->mask)
	{
		int32_t		e = w->slots[i];

		if (e < 0)
			return -1;
		if (strcmp(w->entries[e].name, name) == 0)
			return e;
	}
}

/*
 * Build the hash table; a name that appears twice is an error
 */
static int
BuildIndex(LlmWeights *w, LlmError *err)
{
	uint32_t	size = 16;

	while (size < (uint32_t) w->n_entries * 2)
		size *= 2;
	w->slots = LlmAlloc(size * sizeof(int32_t), err);
	if (w->slots == NULL)
		return LLM_ERR_NOMEM;
	memset(w->slots, 0xff, size * sizeof(int32_t));
	w->mask = size - 1;
	for (int e = 0; e < w->n_entries; e++)
	{
		uint32_t	i;

		for (i = HashName(w->entries[e].name) & w->mask;; i = (i + 1) & w->mask)
		{
			int32_t		other = w->slots[i];

			if (other < 0)
				break;
			if (strcmp(w->entries[other].name, w->entries[e].name) == 0)
				return LlmSetError(err, LLM_ERR_FORMAT,
								   "tensor \"%.200s\" appears twice in the weight files",
								   w->entries[e].name);
		}
		w->slots[i] = e;
	}
	return LLM_OK;
}

/*
 * Map one safetensors file and append its tensors to the table
 */
static int
MapFile(LlmWeights *w, const char *path, LlmError *err)
{
	int			fd;
	struct stat st;
	void	   *addr;
	WeightMapping *m;
	int			rc;

	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);	/* a FIFO must not hang us */
	if (fd < 0)
		return LlmSetError(err, LLM_ERR_IO, "could not open file \"%s\": %s",
						   path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
	{
		close(fd);
		return LlmSetError(err, LLM_ERR_IO, "\"%s\" is not a regular file", path);
	}
	if (st.st_size < 8)
	{
		close(fd);
		return LlmSetError(err, LLM_ERR_FORMAT,
						   "safetensors file \"%s\" is too short (%lld bytes)",
						   path, (long long) st.st_size);
	}
	addr = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (addr == MAP_FAILED)
		return LlmSetError(err, LLM_ERR_IO, "could not map file \"%s\": %s",
						   path, strerror(errno));

	m = &w->maps[w->n_maps++];
	m->addr = addr;
	m->len = (size_t) st.st_size;
	m->first = w->n_entries;
	m->st = st;
	/* registered before the header is read: the file may shrink already */
	m->guard = GuardAdd(addr, m->len);
	m->path = strdup(path);
	if (m->path == NULL)
		return LlmSetError(err, LLM_ERR_NOMEM, "out of memory");
	rc = LlmSafetensorsParse(addr, m->len, &w->entries, &w->n_entries, err);
	if (rc != LLM_OK)
	{
		/* prefix the file name to the parser's message */
		if (err != NULL)
		{
			char		msg[sizeof(err->message)];

			snprintf(msg, sizeof(msg), "%s", err->message);
			snprintf(err->message, sizeof(err->message), "%s: %s", path, msg);
		}
		return rc;
	}
	return LLM_OK;
}

/*
 * Is name a plain file name inside the model directory?
 */
static bool
SafeFileName(const char *name)
{
	return name[0] != '\0' && strchr(name, '/') == NULL &&
		strstr(name, "..") == NULL && strcmp(name, ".") != 0;
}

/*
 * Open the shards named by model.safetensors.index.json and check that
 * every tensor in its weight_map is in the shard it names
 */
static int
OpenSharded(LlmWeights *w, const char *dir, const char *index_path, LlmError *err)
{
	json_t	   *root;
	json_t	   *map;
	const char *tensor;
	json_t	   *shard;
	const char **names = NULL;
	int			n_names = 0;
	int			last = -1;
	int			rc = LLM_OK;

	root = LlmJsonLoadFile(index_path, LLM_MAX_HEADER_BYTES, err);
	if (root == NULL)
		return err ? err->code : LLM_ERR_FORMAT;
	map = json_object_get(root, "weight_map");
	if (!json_is_object(map) || json_object_size(map) == 0)
	{
		json_decref(root);
		return LlmSetError(err, LLM_ERR_FORMAT,
						   "%s has no \"weight_map\" object", index_path);
	}
	names = LlmAlloc(LLM_MAX_SHARDS * sizeof(char *), err);
	if (names == NULL)
	{
		json_decref(root);
		return LLM_ERR_NOMEM;
	}

	/* the distinct shard names, in order of first appearance */
	json_object_foreach(map, tensor, shard)
	{
		const char *s;
		int			i;

		if (!json_is_string(shard) || !SafeFileName(json_string_value(shard)))
		{
			rc = LlmSetError(err, LLM_ERR_FORMAT,
							 "%s: tensor \"%.200s\" names a bad shard file (a plain file name is needed)",
							 index_path, tensor);
			break;
		}
		s = json_string_value(shard);
		if (last >= 0 && strcmp(names[last], s) == 0)
			continue;
		for (i = 0; i < n_names; i++)
			if (strcmp(names[i], s) == 0)
				break;
		if (i == n_names)
		{
			if (n_names == LLM_MAX_SHARDS)
			{
				rc = LlmSetError(err, LLM_ERR_UNSUPPORTED,
								 "%s names more than %d shards", index_path, LLM_MAX_SHARDS);
				break;
			}
			names[n_names++] = s;
		}
		last = i;
	}

	if (rc == LLM_OK)
	{
		w->maps = LlmAllocZero((size_t) n_names * sizeof(WeightMapping), err);
		if (w->maps == NULL)
			rc = LLM_ERR_NOMEM;
	}
	for (int i = 0; rc == LLM_OK && i < n_names; i++)
	{
		char		path[4096];

		if (!LlmPathJoin(path, sizeof(path), dir, names[i]))
			rc = LlmSetError(err, LLM_ERR_ARGUMENT, "model path is too long");
		else
			rc = MapFile(w, path, err);
	}
	if (rc == LLM_OK)
		rc = BuildIndex(w, err);

	/* every listed tensor must be where the index says */
	if (rc == LLM_OK)
	{
		json_object_foreach(map, tensor, shard)
		{
			int			e = FindIndex(w, tensor);
			const char *s = json_string_value(shard);
			int			i;

			if (e < 0)
			{
				rc = LlmSetError(err, LLM_ERR_FORMAT,
								 "tensor \"%.200s\" listed in %s is not in \"%s\"",
								 tensor, index_path, s);
				break;
			}
			for (i = 0; i < n_names; i++)
				if (strcmp(names[i], s) == 0)
					break;
			if (i >= n_names || e < w->maps[i].first ||
				(i + 1 < n_names && e >= w->maps[i + 1].first))
			{
				rc = LlmSetError(err, LLM_ERR_FORMAT,
								 "tensor \"%.200s\" is not in \"%s\" as %s says",
								 tensor, s, index_path);
				break;
			}
		}
	}
	free(names);
	json_decref(root);
	return rc;
}

/*
 * Map the weights of a model directory
 */
int
LlmWeightsOpen(const char *dir, LlmWeights **out, LlmError *err)
{
	char		path[4096];
	struct stat st;
	LlmWeights *w;
	int			rc;

	*out = NULL;
	w = LlmAllocZero(sizeof(LlmWeights), err);
	if (w == NULL)
		return LLM_ERR_NOMEM;

	if (!LlmPathJoin(path, sizeof(path), dir, "model.safetensors"))
		rc = LlmSetError(err, LLM_ERR_ARGUMENT, "model path is too long");
	else if (stat(path, &st) == 0)
	{
		w->maps = LlmAllocZero(sizeof(WeightMapping), err);
		rc = w->maps == NULL ? LLM_ERR_NOMEM : MapFile(w, path, err);
		if (rc == LLM_OK)
			rc = BuildIndex(w, err);
	}
	else if (!LlmPathJoin(path, sizeof(path), dir, "model.safetensors.index.json"))
		rc = LlmSetError(err, LLM_ERR_ARGUMENT, "model path is too long");
	else if (stat(path, &st) == 0)
		rc = OpenSharded(w, dir, path, err);
	else
		rc = LlmSetError(err, LLM_ERR_IO,
						 "no model.safetensors or model.safetensors.index.json in \"%s\"",
						 dir);

	if (rc != LLM_OK)
	{
		LlmWeightsClose(w);
		return rc;
	}
	*out = w;
	return LLM_OK;
}

/*
 * Unmap the files and free the table
 */
void
LlmWeightsClose(LlmWeights *w)
{
	if (w == NULL)
		return;
	/*
	 * No other thread may read the weights now: a fault racing with the
	 * unmapping could otherwise map zeros over whatever reuses the range
	 */
	for (int i = 0; i < w->n_maps; i++)
	{
		GuardRemove(w->maps[i].guard);
		munmap(w->maps[i].addr, w->maps[i].len);
		free(w->maps[i].path);
	}
	for (int i = 0; i < w->n_entries; i++)
		free(w->entries[i].name);
	free(w->entries);
	free(w->maps);
	free(w->slots);
	free(w);
}

/*
 * The path of a weight file that was truncated (or could not be read)
 * while mapped, whose tensors now read as zeros; NULL when none was
 */
const char *
LlmWeightsDamaged(const LlmWeights *w)
{
	if (w == NULL)
		return NULL;
	for (int i = 0; i < w->n_maps; i++)
		if (w->maps[i].guard >= 0 && guard_slots[w->maps[i].guard].faulted)
			return w->maps[i].path;
	return NULL;
}

/*
 * The path of a mapped file that was written, truncated or extended in
 * place since it was mapped (what its mapping reads may then mix old and
 * new bytes); NULL when none was.  A file deleted, or replaced by another
 * under its name (another inode), is not changed: the mapping keeps the
 * old one.  A write that restores the modification time goes unseen, and
 * touch counts as a change.
 */
const char *
LlmWeightsChanged(const LlmWeights *w)
{
	if (w == NULL)
		return NULL;
	for (int i = 0; i < w->n_maps; i++)
	{
		const struct stat *a = &w->maps[i].st;
		struct stat b;

		if (stat(w->maps[i].path, &b) != 0 || b.st_dev != a->st_dev || b.st_ino != a->st_ino)
			continue;
		if (b.st_size != a->st_size || b.st_mtim.tv_sec != a->st_mtim.tv_sec ||
			b.st_mtim.tv_nsec != a->st_mtim.tv_nsec)
			return w->maps[i].path;
	}
	return NULL;
}

/*
 * Number of tensors
 */
int
LlmWeightsCount(const LlmWeights *w)
{
	return w->n_entries;
}

/*
 * The i-th tensor, in file order; NULL when out of range
 */
const LlmWeightEntry *
LlmWeightsEntry(const LlmWeights *w, int i)
{
	if (i < 0 || i >= w->n_entries)
		return NULL;
	return &w->entries[i];
}

/*
 * The tensor called name, or NULL
 */
const LlmTensor *
LlmWeightsFind(const LlmWeights *w, const char *name)
{
	int			e = FindIndex(w, name);

	return e < 0 ? NULL : &w->entries[e].tensor;
}
