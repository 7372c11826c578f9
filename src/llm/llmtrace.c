/*-------------------------------------------------------------------------
 *
 * llmtrace.c
 *	  Call tracing of embed, generate and chat: a ring in shared memory
 *	  and a background worker per database that writes mlops.llm_calls.
 *
 * A call is recorded by the backend that made it, possibly while its
 * transaction is aborting, so the record cannot be an INSERT of that
 * transaction.  LlmTraceCall() copies it into a fixed ring of slots in
 * shared memory (mlops.trace_buffer_calls slots, each with the prompt
 * truncated to TRACE_PROMPT_MAX bytes when mlops.log_prompts is on) and
 * makes sure a flusher runs for the caller's database: a dynamic
 * background worker connected to that database that moves the database's
 * records into mlops.llm_calls with SPI, pricing them from
 * mlops.model_prices, and exits after TRACE_IDLE_EXIT_MS without work (so
 * that DROP DATABASE, which waits 5 seconds for other sessions to leave,
 * is not blocked for long).  LlmTraceCall never raises an error: it takes
 * only a spinlock, hashes with its own SHA-256 and registers the worker
 * without a handle, none of which can fail with an ERROR.
 *
 * Slot life cycle (under TraceShared.mutex): FREE -> WRITING (a backend
 * reserved it and fills it without the lock) -> FILLED -> CLAIMED (the
 * flusher of the slot's database took it) -> FREE once the transaction
 * that inserted it committed.  A flusher that dies before its commit
 * (pg_terminate_backend, an error) returns its claimed slots to FILLED in
 * its exit callback, and the next call or mlops.flush_llm_calls() starts
 * a new flusher: a record is written once, never twice and never lost,
 * except when the ring is full (dropped and counted), when the database
 * does not have the extension (discarded and counted) or on a server
 * crash (shared memory is reinitialized).  At a clean shutdown the
 * postmaster, once every other process has exited, saves the records not
 * written yet to TRACE_DUMP_FILE; the next start loads them back into the
 * ring (and deletes the file), and the first inference worker launches
 * their flushers once recovery has ended (with no worker, the next traced
 * call does).
 *
 * Flusher table: at most one flusher per database, in a fixed table of
 * TRACE_MAX_FLUSHERS entries.  An entry is claimed by the backend that
 * launches the worker, with a generation number passed in bgw_extra; the
 * worker adopts the entry only if the generation still matches, so an
 * entry whose worker never started can be relaunched after
 * TRACE_START_TIMEOUT_MS without two flushers ever running for one
 * database.
 *
 * Without shared_preload_libraries there is no ring: LlmTraceCall does
 * nothing and the SQL functions raise an error that says so.  Calls on a
 * hot standby are not traced (nothing could write them).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "access/xlog_internal.h"
#include "catalog/namespace.h"
#include "catalog/pg_control.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/pg_crc32c.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "llm/llmtrace.h"

#define TRACE_PROMPT_MAX	8192	/* bytes of prompt kept per call */
#define TRACE_BUFFER_CALLS_MAX 8192	/* mlops.trace_buffer_calls at most (and
									 * the records a saved file may hold) */
#define TRACE_MODEL_MAX		128
#define TRACE_ERROR_MAX		1024
#define TRACE_WORD_MAX		32		/* function, provider, status */
#define TRACE_MAX_FLUSHERS	32		/* databases flushed at the same time */
#define TRACE_BATCH			128		/* records per flusher transaction */
#define TRACE_IDLE_EXIT_MS	2000	/* a flusher without work exits */
#define TRACE_START_TIMEOUT_MS 10000	/* a flusher that never started */
#define TRACE_FLUSH_POLL_MS 10
#define TRACE_DUMP_FILE		"pg_stat/pgmlops_llm_trace.stat"
#define TRACE_DUMP_MAGIC	0x504d4c54	/* "PMLT" */
#define TRACE_DUMP_VERSION	1

typedef enum TraceSlotState
{
	SLOT_FREE = 0,
	SLOT_WRITING,
	SLOT_FILLED,
	SLOT_CLAIMED
} TraceSlotState;

/* what the flusher scans: small, so that a scan under the spinlock is short */
typedef struct TraceSlotHead
{
	TraceSlotState state;
	Oid			dbid;
	uint64		seq;			/* order of the calls */
} TraceSlotHead;

/* one call; written by its owner (WRITING) or flusher (CLAIMED) only */
typedef struct TraceRecord
{
	Oid			roleid;
	TimestampTz started;
	int32		version;
	int64		tokens_in;
	int64		tokens_out;
	double		ttft_ms;
	double		total_ms;
	bool		has_hash;
	bool		has_prompt;
	bool		prompt_truncated;
	char		function[TRACE_WORD_MAX];
	char		provider[TRACE_WORD_MAX];
	char		status[TRACE_WORD_MAX];
	char		model[TRACE_MODEL_MAX];
	char		hash[65];		/* SHA-256, hex */
	char		error[TRACE_ERROR_MAX];
	char		prompt[TRACE_PROMPT_MAX + 1];
} TraceRecord;

/* a flusher: dbid InvalidOid when the entry is free */
typedef struct TraceFlusher
{
	Oid			dbid;
	bool		running;		/* false: registered, not started yet */
	uint32		generation;
	int			pid;
	Latch	   *latch;
	TimestampTz launched;
} TraceFlusher;

/* bgw_extra of a flusher: the entry it was launched for */
typedef struct TraceLaunchArg
{
	int			index;
	uint32		generation;
} TraceLaunchArg;

typedef struct TraceShared
{
	slock_t		mutex;
	int			nslots;
	int			nfree;			/* free slot numbers: freelist[0 .. nfree) */
	uint64		next_seq;
	uint64		dropped;		/* ring full */
	uint64		dropped_logged;
	uint64		discarded;		/* no extension in the database, or failed */
	uint64		written;
	bool		restored;		/* records loaded at start may lack a flusher */
	TraceFlusher flushers[TRACE_MAX_FLUSHERS];
	TraceSlotHead heads[FLEXIBLE_ARRAY_MEMBER];
	/* followed by int freelist[nslots] */
} TraceShared;

/* what a caller must do once it released the spinlock */
typedef struct FlusherAction
{
	Latch	   *wake;			/* set this latch */
	int			launch;			/* or launch this entry; -1: nothing */
	uint32		generation;
} FlusherAction;

PGDLLEXPORT void LlmTraceFlusherMain(Datum main_arg);
static int	CompareSlotSeq(const void *a, const void *b);

/* GUC mlops.log_prompts: keep the prompt text (superuser-only setting) */
static bool log_prompts = false;

/* GUC mlops.trace_buffer_calls: slots of the ring (postmaster start) */
static int	trace_buffer_calls = 512;

static TraceShared *trace = NULL;
static TraceRecord *records = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/*
 * Flusher process state, set once when the worker starts; claimed[] lists
 * the slots this flusher holds (-1 once released), for the exit callback.
 */
static int	my_flusher = -1;
static uint32 my_generation = 0;
static bool flusher_connected = false;
static int *claimed = NULL;
static int	nclaimed = 0;
static volatile sig_atomic_t flusher_terminated = false;
static SPIPlanPtr insert_plan = NULL;

#define FREELIST(s) ((int *) &(s)->heads[(s)->nslots])

/* bytes of the shared header with its slot heads and free list */
static Size
TraceSharedSize(void)
{
	Size		size = offsetof(TraceShared, heads);

	size = add_size(size, mul_size(trace_buffer_calls, sizeof(TraceSlotHead)));
	return add_size(size, mul_size(trace_buffer_calls, sizeof(int)));
}

/* shmem_request_hook: reserve the ring */
static void
TraceShmemRequest(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(TraceSharedSize());
	RequestAddinShmemSpace(mul_size(trace_buffer_calls, sizeof(TraceRecord)));
}

/* the header of TRACE_DUMP_FILE, followed by count TraceDumpEntry */
typedef struct TraceDumpHeader
{
	uint32		magic;
	uint32		version;
	uint32		entry_size;
	uint32		count;
	pg_crc32c	crc;			/* of the entries */
} TraceDumpHeader;

typedef struct TraceDumpEntry
{
	Oid			dbid;
	TraceRecord record;
} TraceDumpEntry;


/*
 * Did the server shut down cleanly (pg_control says so once the shutdown
 * checkpoint is written; an immediate stop leaves it "in production")?
 * Reads the file itself: an ERROR cannot be raised in the postmaster's exit.
 */
static bool
ShutDownCleanly(void)
{
	ControlFileData control;
	pg_crc32c	crc;
	int			fd = open(XLOG_CONTROL_FILE, O_RDONLY | PG_BINARY, 0);
	bool		ok;

	if (fd < 0)
		return false;
	ok = read(fd, &control, sizeof(control)) == sizeof(control);
	close(fd);
	if (!ok)
		return false;
	INIT_CRC32C(crc);
	COMP_CRC32C(crc, &control, offsetof(ControlFileData, crc));
	FIN_CRC32C(crc);
	return EQ_CRC32C(crc, control.crc) &&
		(control.state == DB_SHUTDOWNED || control.state == DB_SHUTDOWNED_IN_RECOVERY);
}

/*
 * on_shmem_exit of the postmaster: save the records not written yet, in
 * call order.  Only after a clean shutdown: every other process has
 * exited, so no slot changes any more (a flusher's exit returned its
 * claimed slots to FILLED).  After an immediate stop or a crash the
 * pending records are lost, like the statistics.  Nothing here may raise
 * an ERROR (malloc and stdio, failures logged).
 */
static void
TraceSave(int code, Datum arg)
{
	TraceDumpHeader hdr = {TRACE_DUMP_MAGIC, TRACE_DUMP_VERSION, sizeof(TraceDumpEntry), 0, 0};
	TraceDumpEntry *entries;
	int		   *idx;
	FILE	   *file;
	bool		ok;

	if (code != 0 || trace == NULL || !ShutDownCleanly())
		return;
	idx = malloc(sizeof(int) * trace->nslots);
	if (idx == NULL)
	{
		ereport(LOG, (errmsg("pgmlops could not save its LLM call records: out of memory")));
		return;
	}
	for (int i = 0; i < trace->nslots; i++)
		if (trace->heads[i].state == SLOT_FILLED)
			idx[hdr.count++] = i;
	/* zeroed: the padding after dbid goes into the checksum and the file */
	entries = hdr.count > 0 ? calloc(hdr.count, sizeof(TraceDumpEntry)) : NULL;
	if (entries == NULL)
	{
		if (hdr.count > 0)
			ereport(LOG, (errmsg("pgmlops could not save its LLM call records: out of memory")));
		free(idx);
		return;
	}
	qsort(idx, hdr.count, sizeof(int), CompareSlotSeq);
	for (uint32 k = 0; k < hdr.count; k++)
	{
		entries[k].dbid = trace->heads[idx[k]].dbid;
		entries[k].record = records[idx[k]];
	}
	free(idx);
	INIT_CRC32C(hdr.crc);
	COMP_CRC32C(hdr.crc, entries, sizeof(TraceDumpEntry) * hdr.count);
	FIN_CRC32C(hdr.crc);

	file = fopen(TRACE_DUMP_FILE ".tmp", PG_BINARY_W);
	ok = file != NULL && fwrite(&hdr, sizeof(hdr), 1, file) == 1 &&
		fwrite(entries, sizeof(TraceDumpEntry), hdr.count, file) == hdr.count;
	if (file != NULL && fclose(file) != 0)
		ok = false;
	if (!ok)
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("pgmlops could not save %u LLM call records to \"%s\": %m",
						hdr.count, TRACE_DUMP_FILE ".tmp")));
		unlink(TRACE_DUMP_FILE ".tmp");
	}
	/* durable_rename logs its own failure */
	else if (durable_rename(TRACE_DUMP_FILE ".tmp", TRACE_DUMP_FILE, LOG) == 0)
		ereport(LOG,
				(errmsg("pgmlops saved %u LLM call records not yet written to mlops.llm_calls",
						hdr.count)));
	free(entries);
}

/* read the saved entries into *entries (malloc'ed); a reason when unusable */
static const char *
ReadDump(FILE *file, TraceDumpHeader *hdr, TraceDumpEntry **entries)
{
	pg_crc32c	crc;

	*entries = NULL;
	if (fread(hdr, sizeof(*hdr), 1, file) != 1 || hdr->magic != TRACE_DUMP_MAGIC ||
		hdr->version != TRACE_DUMP_VERSION || hdr->entry_size != sizeof(TraceDumpEntry) ||
		hdr->count > TRACE_BUFFER_CALLS_MAX)
		return "not a trace file of this build";
	*entries = malloc(sizeof(TraceDumpEntry) * Max(hdr->count, 1));
	if (*entries == NULL)
		return "out of memory";
	if (fread(*entries, sizeof(TraceDumpEntry), hdr->count, file) != hdr->count)
		return "truncated";
	INIT_CRC32C(crc);
	COMP_CRC32C(crc, *entries, sizeof(TraceDumpEntry) * hdr->count);
	FIN_CRC32C(crc);
	if (!EQ_CRC32C(crc, hdr->crc))
		return "checksum mismatch";
	return NULL;
}

/*
 * At postmaster start, with a fresh ring: load the records the last clean
 * shutdown saved.  The file is deleted first (nothing is loaded twice, a
 * crash restart included) and ignored on a server that starts as a standby
 * or in recovery (a copy of the data directory: its primary writes them).
 * Records the ring cannot hold are counted as dropped.
 */
static void
TraceRestore(void)
{
	TraceDumpHeader hdr;
	TraceDumpEntry *entries = NULL;
	struct stat st;
	FILE	   *file = fopen(TRACE_DUMP_FILE, PG_BINARY_R);
	const char *why;
	uint32		loaded = 0;

	if (file == NULL)
	{
		if (errno != ENOENT)
			ereport(LOG,
					(errcode_for_file_access(),
					 errmsg("pgmlops could not read \"%s\": %m", TRACE_DUMP_FILE)));
		return;
	}
	if (unlink(TRACE_DUMP_FILE) != 0)
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("pgmlops ignored \"%s\": it could not be removed: %m", TRACE_DUMP_FILE)));
		fclose(file);
		return;
	}
	if (stat(STANDBY_SIGNAL_FILE, &st) == 0 || stat(RECOVERY_SIGNAL_FILE, &st) == 0)
		why = "the server starts as a standby or in recovery";
	else
		why = ReadDump(file, &hdr, &entries);
	fclose(file);
	if (why != NULL)
	{
		ereport(LOG, (errmsg("pgmlops ignored \"%s\": %s", TRACE_DUMP_FILE, why)));
		free(entries);
		return;
	}
	for (uint32 k = 0; k < hdr.count; k++)
	{
		TraceRecord *r;
		int			idx;

		if (trace->nfree == 0)
		{
			trace->dropped += hdr.count - k;
			break;
		}
		if (!IS_VALID_TIMESTAMP(entries[k].record.started))
		{
			trace->discarded++;
			continue;
		}
		idx = FREELIST(trace)[--trace->nfree];
		r = &records[idx];
		*r = entries[k].record;
		/* terminated strings whatever the file held */
		r->function[TRACE_WORD_MAX - 1] = r->provider[TRACE_WORD_MAX - 1] =
			r->status[TRACE_WORD_MAX - 1] = r->model[TRACE_MODEL_MAX - 1] = r->hash[sizeof(r->hash) - 1] =
			r->error[TRACE_ERROR_MAX - 1] = r->prompt[TRACE_PROMPT_MAX] = '\0';
		trace->heads[idx].state = SLOT_FILLED;
		trace->heads[idx].dbid = entries[k].dbid;
		trace->heads[idx].seq = trace->next_seq++;
		loaded++;
	}
	free(entries);
	if (loaded > 0)
	{
		trace->restored = true;
		ereport(LOG,
				(errmsg("pgmlops loaded %u LLM call records saved at the last shutdown", loaded)));
	}
}

/* shmem_startup_hook: create or attach the ring */
static void
TraceShmemStartup(void)
{
	bool		found;
	bool		found_records;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	trace = ShmemInitStruct("pgmlops llm trace", TraceSharedSize(), &found);
	records = ShmemInitStruct("pgmlops llm trace records",
							  mul_size(trace_buffer_calls, sizeof(TraceRecord)),
							  &found_records);
	if (!found)
	{
		int		   *freelist;

		memset(trace, 0, TraceSharedSize());
		SpinLockInit(&trace->mutex);
		trace->nslots = trace_buffer_calls;
		freelist = FREELIST(trace);
		/* pop from the end: slot 0 first */
		for (int i = 0; i < trace->nslots; i++)
			freelist[i] = trace->nslots - 1 - i;
		trace->nfree = trace->nslots;
		trace->next_seq = 1;
	}
	LWLockRelease(AddinShmemInitLock);

	/* the postmaster: records of the last clean shutdown, and the next */
	if (!IsUnderPostmaster)
	{
		if (!found)
			TraceRestore();
		on_shmem_exit(TraceSave, (Datum) 0);
	}
}

/* called from _PG_init: GUCs, and the shared memory hooks when preloaded */
void
LlmTraceInit(void)
{
	DefineCustomBoolVariable("mlops.log_prompts",
							 "Stores the prompt text of LLM calls in mlops.llm_calls.",
							 "Off: only the SHA-256 of the prompt is stored. "
							 "Prompts longer than 8 kB are truncated.",
							 &log_prompts,
							 false,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	if (!process_shared_preload_libraries_in_progress)
		return;

	DefineCustomIntVariable("mlops.trace_buffer_calls",
							"Number of LLM calls the shared trace buffer holds until they are written.",
							"When the buffer is full, calls are not traced and are counted as dropped. "
							"Each slot takes about 9.5 kB of shared memory.",
							&trace_buffer_calls,
							512, 16, TRACE_BUFFER_CALLS_MAX,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = TraceShmemRequest;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = TraceShmemStartup;
}

/* ---- SHA-256 (FIPS 180-4): cannot fail, unlike pg_cryptohash ---------- */

static const uint32 sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
};

#define ROTR32(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

/* one 64-byte block into the state h[8] */
static void
Sha256Block(uint32 *h, const unsigned char *p)
{
	uint32		w[64];
	uint32		a = h[0],
				b = h[1],
				c = h[2],
				d = h[3],
				e = h[4],
				f = h[5],
				g = h[6],
				k = h[7];

	for (int i = 0; i < 16; i++)
		w[i] = ((uint32) p[4 * i] << 24) | ((uint32) p[4 * i + 1] << 16) |
			((uint32) p[4 * i + 2] << 8) | (uint32) p[4 * i + 3];
	for (int i = 16; i < 64; i++)
	{
		uint32		s0 = ROTR32(w[i - 15], 7) ^ ROTR32(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32		s1 = ROTR32(w[i - 2], 17) ^ ROTR32(w[i - 2], 19) ^ (w[i - 2] >> 10);

		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	for (int i = 0; i < 64; i++)
	{
		uint32		t1 = k + (ROTR32(e, 6) ^ ROTR32(e, 11) ^ ROTR32(e, 25)) +
			((e & f) ^ (~e & g)) + sha256_k[i] + w[i];
		uint32		t2 = (ROTR32(a, 2) ^ ROTR32(a, 13) ^ ROTR32(a, 22)) +
			((a & b) ^ (a & c) ^ (b & c));

		k = g;
		g = f;
		f = e;
		e = d + t1;
		d = c;
		c = b;
		b = a;
		a = t1 + t2;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
	h[5] += f;
	h[6] += g;
	h[7] += k;
}

/* hex SHA-256 of data[0 .. len) into hex[65] */
static void
Sha256Hex(const char *data, size_t len, char *hex)
{
	static const char digits[] = "0123456789abcdef";
	uint32		h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
	unsigned char tail[128];
	size_t		full = len & ~(size_t) 63;
	size_t		rest = len - full;
	size_t		ntail = rest < 56 ? 64 : 128;
	uint64		bits = (uint64) len * 8;

	for (size_t off = 0; off < full; off += 64)
		Sha256Block(h, (const unsigned char *) data + off);
	memcpy(tail, data + full, rest);
	tail[rest] = 0x80;
	memset(tail + rest + 1, 0, ntail - rest - 1);
	for (int i = 0; i < 8; i++)
		tail[ntail - 1 - i] = (unsigned char) (bits >> (8 * i));
	for (size_t off = 0; off < ntail; off += 64)
		Sha256Block(h, tail + off);
	for (int i = 0; i < 32; i++)
	{
		unsigned char byte = (unsigned char) (h[i / 4] >> (24 - 8 * (i % 4)));

		hex[2 * i] = digits[byte >> 4];
		hex[2 * i + 1] = digits[byte & 15];
	}
	hex[64] = '\0';
}

/* ---- recording a call (any backend; never raises an error) ------------ */

/*
 * Copy at most dstsize - 1 bytes of src[0 .. srclen) into dst, cut on a
 * character boundary of the database encoding; true when cut
 */
static bool
CopyClipped(char *dst, size_t dstsize, const char *src, size_t srclen)
{
	size_t		n = srclen;

	if (src == NULL)
	{
		dst[0] = '\0';
		return false;
	}
	if (n >= dstsize)
		n = pg_mbcliplen(src, (int) dstsize, (int) dstsize - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
	return n < srclen;
}

/* a NUL-terminated string into a fixed field */
static void
CopyString(char *dst, size_t dstsize, const char *src)
{
	(void) CopyClipped(dst, dstsize, src, src ? strlen(src) : 0);
}

/* fill a reserved slot from an entry */
static void
FillRecord(TraceRecord *r, const LlmTraceEntry *e)
{
	r->roleid = GetUserId();
	r->started = e->started;
	r->version = e->version;
	r->tokens_in = e->tokens_in;
	r->tokens_out = e->tokens_out;
	r->ttft_ms = e->ttft_ms;
	r->total_ms = e->total_ms;
	CopyString(r->function, sizeof(r->function), e->function);
	CopyString(r->provider, sizeof(r->provider), e->provider);
	CopyString(r->status, sizeof(r->status), e->status);
	CopyString(r->model, sizeof(r->model), e->model);
	CopyString(r->error, sizeof(r->error), e->error);
	r->has_hash = e->prompt != NULL;
	if (r->has_hash)
		Sha256Hex(e->prompt, e->prompt_len, r->hash);
	r->has_prompt = e->prompt != NULL && log_prompts;
	r->prompt_truncated = false;
	if (r->has_prompt)
		r->prompt_truncated = CopyClipped(r->prompt, sizeof(r->prompt),
										  e->prompt, e->prompt_len);
}

/*
 * Under the mutex: what to do so that a flusher runs for dbid.  Wake the
 * running one, wait for one that is starting, or claim an entry (a fresh
 * one, or a stale starting one with a new generation) for the caller to
 * launch.  With all entries busy, the records wait for a later call.
 */
static FlusherAction
PlanFlusher(Oid dbid, TimestampTz now)
{
	FlusherAction act = {NULL, -1, 0};
	int			free_entry = -1;

	for (int i = 0; i < TRACE_MAX_FLUSHERS; i++)
	{
		TraceFlusher *f = &trace->flushers[i];

		if (f->dbid == dbid)
		{
			if (f->running)
				act.wake = f->latch;
			else if (TimestampDifferenceExceeds(f->launched, now, TRACE_START_TIMEOUT_MS))
			{
				f->generation++;
				f->launched = now;
				act.launch = i;
				act.generation = f->generation;
			}
			return act;
		}
		if (f->dbid == InvalidOid && free_entry < 0)
			free_entry = i;
	}
	if (free_entry >= 0)
	{
		TraceFlusher *f = &trace->flushers[free_entry];

		f->dbid = dbid;
		f->running = false;
		f->generation++;
		f->pid = 0;
		f->latch = NULL;
		f->launched = now;
		act.launch = free_entry;
		act.generation = f->generation;
	}
	return act;
}

/* register the worker of a claimed entry; free the entry if that fails */
static void
LaunchFlusher(Oid dbid, int index, uint32 generation)
{
	BackgroundWorker worker;
	TraceLaunchArg arg = {index, generation};

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(worker.bgw_library_name, "pgmlops", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "LlmTraceFlusherMain", BGW_MAXLEN);
	snprintf(worker.bgw_name, BGW_MAXLEN, "pgmlops trace flusher for database %u", dbid);
	strlcpy(worker.bgw_type, "pgmlops trace flusher", BGW_MAXLEN);
	worker.bgw_main_arg = ObjectIdGetDatum(dbid);
	memcpy(worker.bgw_extra, &arg, sizeof(arg));
	worker.bgw_notify_pid = 0;

	/* no handle: registering then cannot palloc, hence cannot fail by ERROR */
	if (RegisterDynamicBackgroundWorker(&worker, NULL))
		return;
	SpinLockAcquire(&trace->mutex);
	if (trace->flushers[index].generation == generation && !trace->flushers[index].running)
		trace->flushers[index].dbid = InvalidOid;
	SpinLockRelease(&trace->mutex);
}

/*
 * Under the mutex: a database other than self whose records wait with no
 * flusher entry at all (its flusher was terminated, or could not be
 * launched), or InvalidOid.  A flusher launched for a dropped database
 * fails to connect and discards its records.
 */
static Oid
FindOrphanDb(Oid self)
{
	for (int i = 0; i < trace->nslots; i++)
	{
		Oid			dbid = trace->heads[i].dbid;
		bool		served = false;

		if (trace->heads[i].state != SLOT_FILLED || dbid == self)
			continue;
		for (int k = 0; k < TRACE_MAX_FLUSHERS && !served; k++)
			served = trace->flushers[k].dbid == dbid;
		if (!served)
			return dbid;
	}
	return InvalidOid;
}

/* carry out a FlusherAction, outside the mutex */
static void
RunFlusherAction(const FlusherAction *act, Oid dbid)
{
	if (act->wake != NULL)
		SetLatch(act->wake);
	else if (act->launch >= 0)
		LaunchFlusher(dbid, act->launch, act->generation);
}

/*
 * Record one call.  Never raises an error (it may be called while an
 * error is being handled); a full ring drops the record and counts it.
 */
void
LlmTraceCall(const LlmTraceEntry *e)
{
	Oid			dbid = MyDatabaseId;
	int			idx;
	FlusherAction act;
	FlusherAction orphan_act;
	Oid			orphan;
	TimestampTz now;

	if (trace == NULL || e == NULL || !OidIsValid(dbid) || RecoveryInProgress())
		return;

	SpinLockAcquire(&trace->mutex);
	if (trace->nfree == 0)
	{
		trace->dropped++;
		SpinLockRelease(&trace->mutex);
		return;
	}
	idx = FREELIST(trace)[--trace->nfree];
	trace->heads[idx].state = SLOT_WRITING;
	trace->heads[idx].dbid = dbid;
	SpinLockRelease(&trace->mutex);

	FillRecord(&records[idx], e);

	now = GetCurrentTimestamp();
	SpinLockAcquire(&trace->mutex);
	trace->heads[idx].seq = trace->next_seq++;
	trace->heads[idx].state = SLOT_FILLED;
	act = PlanFlusher(dbid, now);
	/*
	 * now and then, records that no flusher will take (its end lost them);
	 * and once at the first call after records were loaded at start
	 */
	orphan = trace->heads[idx].seq % 64 == 0 || trace->restored ? FindOrphanDb(dbid) : InvalidOid;
	trace->restored = false;
	if (OidIsValid(orphan))
		orphan_act = PlanFlusher(orphan, now);
	SpinLockRelease(&trace->mutex);
	RunFlusherAction(&act, dbid);
	if (OidIsValid(orphan))
		RunFlusherAction(&orphan_act, orphan);
}

/*
 * Launch the flushers of every database whose records wait without one
 * (the records loaded at start); the first inference worker calls this
 * once recovery has ended.  At most one launch per database.
 */
void
LlmTraceLaunchWaiting(void)
{
	TimestampTz now = GetCurrentTimestamp();

	if (trace == NULL)
		return;
	for (int n = 0; n < TRACE_MAX_FLUSHERS; n++)
	{
		FlusherAction act = {NULL, -1, 0};
		Oid			dbid;

		SpinLockAcquire(&trace->mutex);
		dbid = FindOrphanDb(InvalidOid);
		if (OidIsValid(dbid))
			act = PlanFlusher(dbid, now);
		else
			trace->restored = false;
		SpinLockRelease(&trace->mutex);
		/* all entries busy: later calls pick the rest up */
		if (!OidIsValid(dbid) || act.launch < 0)
			break;
		RunFlusherAction(&act, dbid);
	}
}

/* ---- the flusher (a background worker per database) ------------------ */

/* under the mutex: put a slot back on the free list */
static void
FreeSlot(int idx)
{
	trace->heads[idx].state = SLOT_FREE;
	trace->heads[idx].dbid = InvalidOid;
	FREELIST(trace)[trace->nfree++] = idx;
}

/* order of claimed slots: the order of the calls */
static int
CompareSlotSeq(const void *a, const void *b)
{
	uint64		sa = trace->heads[*(const int *) a].seq;
	uint64		sb = trace->heads[*(const int *) b].seq;

	return sa < sb ? -1 : sa > sb ? 1 : 0;
}

/* under the mutex: free this flusher's entry if it still holds it */
static void
GiveUpEntry(void)
{
	TraceFlusher *f = &trace->flushers[my_flusher];

	if (f->generation == my_generation && f->pid == MyProcPid)
	{
		f->dbid = InvalidOid;
		f->running = false;
		f->pid = 0;
		f->latch = NULL;
	}
	my_flusher = -1;
}

/*
 * Claim every filled slot of dbid into claimed[], in call order; when
 * there is none and retire is set, give up the flusher entry in the same
 * critical section (a call that comes later sees no flusher and launches
 * one) and return -1
 */
static int
ClaimRecords(Oid dbid, bool retire)
{
	int			n = 0;

	SpinLockAcquire(&trace->mutex);
	for (int i = 0; i < trace->nslots; i++)
	{
		if (trace->heads[i].state == SLOT_FILLED && trace->heads[i].dbid == dbid)
		{
			trace->heads[i].state = SLOT_CLAIMED;
			claimed[n++] = i;
		}
	}
	nclaimed = n;
	if (n == 0 && retire)
	{
		GiveUpEntry();
		SpinLockRelease(&trace->mutex);
		return -1;
	}
	SpinLockRelease(&trace->mutex);
	if (n > 1)
		qsort(claimed, n, sizeof(int), CompareSlotSeq);
	return n;
}

/* free claimed slots that were written (or discarded), and count them */
static void
ReleaseClaimed(int *idx, int n, bool written)
{
	SpinLockAcquire(&trace->mutex);
	for (int k = 0; k < n; k++)
	{
		FreeSlot(idx[k]);
		idx[k] = -1;
	}
	if (written)
		trace->written += n;
	else
		trace->discarded += n;
	SpinLockRelease(&trace->mutex);
}

/* whether this database has the extension and its call table */
static bool
TraceTableExists(void)
{
	Oid			nsp;

	if (!OidIsValid(get_extension_oid("pgmlops", true)))
		return false;
	nsp = get_namespace_oid("mlops", true);
	return OidIsValid(nsp) && OidIsValid(get_relname_relid("llm_calls", nsp));
}

/* a text parameter, NULL when empty */
static void
TextParam(const char *s, Datum *value, char *isnull)
{
	if (s == NULL || s[0] == '\0')
	{
		*value = (Datum) 0;
		*isnull = 'n';
	}
	else
	{
		*value = CStringGetTextDatum(s);
		*isnull = ' ';
	}
}

/* INSERT one record into mlops.llm_calls (inside a transaction, SPI) */
static void
InsertRecord(const TraceRecord *r)
{
	Datum		values[16];
	char		nulls[16];
	int			ret;

	if (insert_plan == NULL)
	{
		Oid			types[16] = {TIMESTAMPTZOID, TEXTOID, TEXTOID, TEXTOID, INT4OID,
			TEXTOID, TEXTOID, TEXTOID, BOOLOID, INT8OID, INT8OID, FLOAT8OID,
		FLOAT8OID, TEXTOID, TEXTOID, OIDOID};
		SPIPlanPtr	plan;

		plan = SPI_prepare("INSERT INTO mlops.llm_calls (called_at, role, function, model, version,"
						   " provider, prompt_hash, prompt, prompt_truncated, tokens_in, tokens_out,"
						   " ttft_ms, total_ms, cost, status, error, role_id)"
						   " SELECT $1, $2::pg_catalog.name, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,"
						   " (SELECT ((coalesce($10, 0)::pg_catalog.numeric OPERATOR(pg_catalog.*) p.input_per_1k)"
						   "          OPERATOR(pg_catalog.+) (coalesce($11, 0)::pg_catalog.numeric"
						   "          OPERATOR(pg_catalog.*) p.output_per_1k)) OPERATOR(pg_catalog.*) 0.001"
						   "    FROM mlops.model_prices p WHERE p.model OPERATOR(pg_catalog.=) $4),"
						   " $14, $15, $16",
						   16, types);
		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		insert_plan = plan;
	}

	memset(nulls, ' ', sizeof(nulls));
	values[0] = TimestampTzGetDatum(r->started);
	TextParam(GetUserNameFromId(r->roleid, true), &values[1], &nulls[1]);
	TextParam(r->function, &values[2], &nulls[2]);
	TextParam(r->model, &values[3], &nulls[3]);
	values[4] = Int32GetDatum(r->version);
	nulls[4] = r->version > 0 ? ' ' : 'n';
	TextParam(r->provider, &values[5], &nulls[5]);
	TextParam(r->has_hash ? r->hash : NULL, &values[6], &nulls[6]);
	values[7] = r->has_prompt ? CStringGetTextDatum(r->prompt) : (Datum) 0;
	nulls[7] = r->has_prompt ? ' ' : 'n';
	values[8] = BoolGetDatum(r->prompt_truncated);
	values[9] = Int64GetDatum(r->tokens_in);
	nulls[9] = r->tokens_in >= 0 ? ' ' : 'n';
	values[10] = Int64GetDatum(r->tokens_out);
	nulls[10] = r->tokens_out >= 0 ? ' ' : 'n';
	values[11] = Float8GetDatum(r->ttft_ms);
	nulls[11] = r->ttft_ms >= 0 ? ' ' : 'n';
	values[12] = Float8GetDatum(r->total_ms);
	TextParam(r->status, &values[13], &nulls[13]);
	TextParam(r->error, &values[14], &nulls[14]);
	values[15] = ObjectIdGetDatum(r->roleid);

	ret = SPI_execute_plan(insert_plan, values, nulls, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "inserting into mlops.llm_calls failed: %s", SPI_result_code_string(ret));
}

/*
 * Write claimed slots idx[0 .. n) in one transaction and release them
 * after the commit; false (nothing released) when an error rolled it back.
 * No interrupt is processed between the commit and the release, so a
 * terminated flusher never leaves committed records claimed.
 */
static int	last_sqlerrcode = 0;	/* of the last failed WriteRecords */

static bool
WriteRecords(int *idx, int n)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	volatile bool ok = true;
	volatile bool installed = false;

	PG_TRY();
	{
		StartTransactionCommand();
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, "writing mlops.llm_calls");
		installed = TraceTableExists();
		if (installed)
		{
			for (int k = 0; k < n; k++)
				InsertRecord(&records[idx[k]]);
		}
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		last_sqlerrcode = edata->sqlerrcode;
		FreeErrorData(edata);
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		ok = false;
	}
	PG_END_TRY();
	if (ok)
		ReleaseClaimed(idx, n, installed);
	pgstat_report_activity(STATE_IDLE, NULL);
	return ok;
}

/*
 * Write the claimed slots in batches; a batch that fails is retried one
 * record per transaction, and a record that fails alone is discarded (the
 * error is in the server log)
 */
static bool
Retryable(int sqlerrcode)
{
	return sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE ||
		sqlerrcode == ERRCODE_QUERY_CANCELED ||
		sqlerrcode == ERRCODE_READ_ONLY_SQL_TRANSACTION ||
		sqlerrcode == ERRCODE_T_R_SERIALIZATION_FAILURE ||
		sqlerrcode == ERRCODE_T_R_DEADLOCK_DETECTED;
}

/* put claimed slots back to FILLED: a later pass writes them */
static void
Unclaim(int *idx, int n)
{
	SpinLockAcquire(&trace->mutex);
	for (int k = 0; k < n; k++)
	{
		if (idx[k] >= 0 && trace->heads[idx[k]].state == SLOT_CLAIMED)
			trace->heads[idx[k]].state = SLOT_FILLED;
		idx[k] = -1;
	}
	SpinLockRelease(&trace->mutex);
}

static void
WriteClaimed(int n)
{
	for (int start = 0; start < n; start += TRACE_BATCH)
	{
		int			len = Min(TRACE_BATCH, n - start);

		if (WriteRecords(&claimed[start], len))
			continue;
		if (Retryable(last_sqlerrcode))
		{
			/* a lock or timeout: keep the records and try again later */
			Unclaim(&claimed[start], n - start);
			nclaimed = 0;
			(void) WaitLatch(MyLatch, WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 1000, PG_WAIT_EXTENSION);
			return;
		}
		for (int k = start; k < start + len; k++)
		{
			if (!WriteRecords(&claimed[k], 1))
			{
				ereport(LOG,
						(errmsg("pgmlops trace flusher discarded an LLM call record that could not be written")));
				ReleaseClaimed(&claimed[k], 1, false);
			}
		}
	}
	nclaimed = 0;
}

/* log how many records the full ring dropped since the last report */
static void
ReportDropped(void)
{
	uint64		delta;

	SpinLockAcquire(&trace->mutex);
	delta = trace->dropped - trace->dropped_logged;
	trace->dropped_logged = trace->dropped;
	SpinLockRelease(&trace->mutex);
	if (delta > 0)
		ereport(LOG,
				(errmsg("pgmlops dropped %llu LLM call records: the trace buffer was full",
						(unsigned long long) delta),
				 errhint("Raise mlops.trace_buffer_calls.")));
}

/* SIGTERM of a flusher: remember it (see FlusherAtExit), then die() */
static void
FlusherTerminate(SIGNAL_ARGS)
{
	flusher_terminated = true;
	die(postgres_signal_arg);
}

/*
 * Flusher exit (normal, FATAL or terminated): return the slots it still
 * holds, free its entry; if it could not connect (the database is gone,
 * not a termination, as at shutdown), discard the database's records so
 * that they do not fill the ring
 */
static void
FlusherAtExit(int code, Datum arg)
{
	Oid			dbid = DatumGetObjectId(arg);
	uint64		discarded = 0;

	SpinLockAcquire(&trace->mutex);
	for (int k = 0; k < nclaimed; k++)
	{
		if (claimed[k] >= 0 && trace->heads[claimed[k]].state == SLOT_CLAIMED)
			trace->heads[claimed[k]].state = SLOT_FILLED;
		claimed[k] = -1;
	}
	nclaimed = 0;
	if (!flusher_connected && !flusher_terminated && my_flusher >= 0)
	{
		for (int i = 0; i < trace->nslots; i++)
		{
			if (trace->heads[i].state == SLOT_FILLED && trace->heads[i].dbid == dbid)
			{
				FreeSlot(i);
				discarded++;
			}
		}
		trace->discarded += discarded;
	}
	if (my_flusher >= 0)
		GiveUpEntry();
	SpinLockRelease(&trace->mutex);
}

/* take over the entry this worker was launched for; false if it is stale */
static bool
AdoptFlusherEntry(Oid dbid, const TraceLaunchArg *arg)
{
	TraceFlusher *f;
	bool		ok;

	if (arg->index < 0 || arg->index >= TRACE_MAX_FLUSHERS)
		return false;
	f = &trace->flushers[arg->index];
	SpinLockAcquire(&trace->mutex);
	ok = f->dbid == dbid && f->generation == arg->generation && !f->running;
	if (ok)
	{
		f->running = true;
		f->pid = MyProcPid;
		f->latch = &MyProc->procLatch;
	}
	SpinLockRelease(&trace->mutex);
	if (ok)
	{
		my_flusher = arg->index;
		my_generation = arg->generation;
	}
	return ok;
}

/*
 * Background worker entry point: flush the records of one database until
 * there has been nothing to do for TRACE_IDLE_EXIT_MS
 */
void
LlmTraceFlusherMain(Datum main_arg)
{
	Oid			dbid = DatumGetObjectId(main_arg);
	TraceLaunchArg arg;
	TimestampTz last_work;

	memcpy(&arg, MyBgworkerEntry->bgw_extra, sizeof(arg));
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, FlusherTerminate);
	BackgroundWorkerUnblockSignals();

	if (trace == NULL)
		proc_exit(0);
	/* the exit callback is in place before the entry is adopted */
	claimed = MemoryContextAlloc(TopMemoryContext, sizeof(int) * trace->nslots);
	before_shmem_exit(FlusherAtExit, ObjectIdGetDatum(dbid));
	if (!AdoptFlusherEntry(dbid, &arg))
		proc_exit(0);

	/* bootstrap superuser: writes past the row security of mlops.llm_calls */
	BackgroundWorkerInitializeConnectionByOid(dbid, InvalidOid, BGWORKER_BYPASS_ALLOWCONN);
	flusher_connected = true;

	/*
	 * A superuser must not resolve names through the database's search_path
	 * (its owner could put an operator or a type there); and a table locked
	 * by someone else must not hold the records of every database
	 */
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("lock_timeout", "5s", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("statement_timeout", "60s", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("default_transaction_read_only", "off", PGC_SUSET, PGC_S_OVERRIDE);

	last_work = GetCurrentTimestamp();
	for (;;)
	{
		long		idle_ms;
		int			n;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		idle_ms = TimestampDifferenceMilliseconds(last_work, GetCurrentTimestamp());
		n = ClaimRecords(dbid, idle_ms >= TRACE_IDLE_EXIT_MS);
		if (n < 0)
			break;
		if (n > 0)
		{
			WriteClaimed(n);
			ReportDropped();
			last_work = GetCurrentTimestamp();
			continue;
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Max(TRACE_IDLE_EXIT_MS - idle_ms, 1), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
	proc_exit(0);
}

/* ---- SQL functions ---------------------------------------------------- */

/* error when the ring does not exist */
static void
RequireTrace(void)
{
	if (trace == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("LLM call tracing needs pgmlops in shared_preload_libraries"),
				 errhint("Add pgmlops to shared_preload_libraries in postgresql.conf and restart the server.")));
}

/* under the mutex: records of dbid not written yet; *filled: waiting ones */
static int
CountPending(Oid dbid, int *filled)
{
	int			n = 0;

	*filled = 0;
	for (int i = 0; i < trace->nslots; i++)
	{
		if (trace->heads[i].state != SLOT_FREE && trace->heads[i].dbid == dbid)
		{
			n++;
			if (trace->heads[i].state == SLOT_FILLED)
				(*filled)++;
		}
	}
	return n;
}

PG_FUNCTION_INFO_V1(flush_llm_calls);

/*
 * mlops.flush_llm_calls(timeout_ms): wait until this database's traced
 * calls are in mlops.llm_calls; the number still pending at the timeout
 */
Datum
flush_llm_calls(PG_FUNCTION_ARGS)
{
	int32		timeout_ms = PG_GETARG_INT32(0);
	TimestampTz deadline;

	RequireTrace();
	if (timeout_ms < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("timeout_ms must not be negative")));
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
	for (;;)
	{
		TimestampTz now = GetCurrentTimestamp();
		FlusherAction act = {NULL, -1, 0};
		int			pending;
		int			filled;

		SpinLockAcquire(&trace->mutex);
		pending = CountPending(MyDatabaseId, &filled);
		/* records left by a terminated flusher need a new one */
		if (filled > 0 && !RecoveryInProgress())
			act = PlanFlusher(MyDatabaseId, now);
		SpinLockRelease(&trace->mutex);
		RunFlusherAction(&act, MyDatabaseId);

		if (pending == 0 || now >= deadline)
			PG_RETURN_INT64(pending);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 TRACE_FLUSH_POLL_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

PG_FUNCTION_INFO_V1(llm_trace_status);

/*
 * mlops.llm_trace_status(): size and counters of the trace buffer
 */
Datum
llm_trace_status(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[7];
	bool		nulls[7] = {0};
	int			filled;
	int			pending;
	int			in_use;
	int			flushers = 0;
	uint64		dropped;
	uint64		discarded;
	uint64		written;

	RequireTrace();
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	SpinLockAcquire(&trace->mutex);
	pending = CountPending(MyDatabaseId, &filled);
	in_use = trace->nslots - trace->nfree;
	for (int i = 0; i < TRACE_MAX_FLUSHERS; i++)
		if (trace->flushers[i].dbid != InvalidOid)
			flushers++;
	dropped = trace->dropped;
	discarded = trace->discarded;
	written = trace->written;
	SpinLockRelease(&trace->mutex);

	values[0] = Int32GetDatum(trace->nslots);
	values[1] = Int32GetDatum(pending);
	values[2] = Int32GetDatum(in_use);
	values[3] = Int64GetDatum((int64) dropped);
	values[4] = Int64GetDatum((int64) discarded);
	values[5] = Int64GetDatum((int64) written);
	values[6] = Int32GetDatum(flushers);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* text argument n as a C string, or NULL */
static const char *
OptionalText(FunctionCallInfo fcinfo, int n)
{
	return PG_ARGISNULL(n) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(n));
}

PG_FUNCTION_INFO_V1(llm_trace_test);

/*
 * Test support, not in the install script: records one call made of its
 * arguments with LlmTraceCall, so that the regression tests exercise
 * tracing without a model.  A test creates it as a C function of
 * $libdir/pgmlops (superusers only); arguments: function, model, version,
 * provider, prompt, tokens_in, tokens_out, ttft_ms, total_ms, status,
 * error, started (NULL: now).
 */
Datum
llm_trace_test(PG_FUNCTION_ARGS)
{
	LlmTraceEntry e;

	memset(&e, 0, sizeof(e));
	e.function = OptionalText(fcinfo, 0);
	e.model = OptionalText(fcinfo, 1);
	e.version = PG_ARGISNULL(2) ? 0 : PG_GETARG_INT32(2);
	e.provider = OptionalText(fcinfo, 3);
	e.prompt = OptionalText(fcinfo, 4);
	e.prompt_len = e.prompt ? strlen(e.prompt) : 0;
	e.tokens_in = PG_ARGISNULL(5) ? -1 : PG_GETARG_INT64(5);
	e.tokens_out = PG_ARGISNULL(6) ? -1 : PG_GETARG_INT64(6);
	e.ttft_ms = PG_ARGISNULL(7) ? -1 : PG_GETARG_FLOAT8(7);
	e.total_ms = PG_ARGISNULL(8) ? 0 : PG_GETARG_FLOAT8(8);
	e.status = OptionalText(fcinfo, 9);
	e.error = OptionalText(fcinfo, 10);
	e.started = PG_ARGISNULL(11) ? GetCurrentTimestamp() : PG_GETARG_TIMESTAMPTZ(11);
	LlmTraceCall(&e);
	PG_RETURN_VOID();
}
