/*-------------------------------------------------------------------------
 *
 * llm.h
 *	  Common definitions of the inference engine: errors, element types,
 *	  tensors and small helpers.
 *
 * The engine (src/llm/ and the plain-C parts of src/compute/) includes no
 * PostgreSQL header.  It owns its memory (malloc/free), never exits and
 * never prints: every fallible function returns LLM_OK or an LLM_ERR_*
 * code and fills the caller's LlmError with a message.  The PostgreSQL glue
 * turns those into ereport() calls; unit tests, the benchmark tool and the
 * background worker use the same code unchanged.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMLOPS_LLM_LLM_H
#define PGMLOPS_LLM_LLM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* status codes */
#define LLM_OK				0
#define LLM_ERR_IO			1	/* file missing or unreadable */
#define LLM_ERR_FORMAT		2	/* malformed or truncated file, shape mismatch */
#define LLM_ERR_UNSUPPORTED 3	/* valid input this engine does not handle */
#define LLM_ERR_NOMEM		4	/* out of host or device memory */
#define LLM_ERR_ARGUMENT	5	/* bad input from the caller */
#define LLM_ERR_DEVICE		6	/* compute backend failure */
#define LLM_ERR_FULL		7	/* KV cache budget exhausted; retry later */

#define LLM_ERR_CANCELLED	8	/* the interrupt hook asked to stop */

typedef struct LlmError
{
	int			code;
	int			os_errno;		/* errno of a failed system call, else 0 */
	char		message[512];
} LlmError;

/*
 * Interrupt hook: long loops of the engine (tokenizing a large text,
 * decoding many ids) call LlmInterrupted() now and then and give up with
 * LLM_ERR_CANCELLED when it returns true.  The PostgreSQL glue installs a
 * hook that reports a pending query cancel or timeout; elsewhere it is
 * NULL.  Set once at start-up, never reset.
 */
extern bool (*LlmInterruptHook) (void);

static inline bool
LlmInterrupted(void)
{
	return LlmInterruptHook != NULL && LlmInterruptHook();
}

/* llmutil.c: record an error (err may be NULL); returns code */
extern int	LlmSetError(LlmError *err, int code, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));

/* llmutil.c: malloc/calloc that record LLM_ERR_NOMEM on failure */
extern void *LlmAlloc(size_t size, LlmError *err);
extern void *LlmAllocZero(size_t size, LlmError *err);

/*
 * llmutil.c: read a whole file into a malloc'ed buffer, NUL-terminated,
 * refusing files larger than max_bytes
 */
extern int	LlmReadFile(const char *path, size_t max_bytes, char **data,
						size_t *len, LlmError *err);

/* llmutil.c: join a directory and a file name into buf; false if too long */
extern bool LlmPathJoin(char *buf, size_t buflen, const char *dir,
						const char *name);

/*
 * Element types of weights.  Activations are always f32.  New formats
 * (GGUF block-quantized types) add entries here and a case in
 * LlmDTypeSize and in each backend's matmul.
 */
typedef enum LlmDType
{
	LLM_DTYPE_F32,
	LLM_DTYPE_F16,
	LLM_DTYPE_BF16
} LlmDType;

extern size_t LlmDTypeSize(LlmDType dtype);
extern const char *LlmDTypeName(LlmDType dtype);

#define LLM_MAX_DIMS 4

/*
 * A dense row-major tensor: shape[0] is the slowest dimension.  data is a
 * host pointer (memory-mapped from the weight file, or owned by whoever
 * created it) or, after ComputeOps.weight_load, a device pointer owned by
 * the compute backend.
 */
typedef struct LlmTensor
{
	LlmDType	dtype;
	int			ndim;
	int64_t		shape[LLM_MAX_DIMS];
	void	   *data;
} LlmTensor;

/* number of elements of t */
static inline int64_t
LlmTensorCount(const LlmTensor *t)
{
	int64_t		n = 1;

	for (int i = 0; i < t->ndim; i++)
		n *= t->shape[i];
	return n;
}

/* bf16 -> f32: the upper half of an IEEE single */
static inline float
LlmBf16ToF32(uint16_t h)
{
	uint32_t	u = (uint32_t) h << 16;
	float		f;

	memcpy(&f, &u, sizeof(f));
	return f;
}

/* f32 -> bf16, rounding to nearest even; NaN stays NaN */
static inline uint16_t
LlmF32ToBf16(float f)
{
	uint32_t	u;

	memcpy(&u, &f, sizeof(u));
	if ((u & 0x7fffffff) > 0x7f800000)
		return (uint16_t) ((u >> 16) | 0x40);
	u += 0x7fff + ((u >> 16) & 1);
	return (uint16_t) (u >> 16);
}

/* IEEE binary16 <-> f32: VecHalfToFloat and VecFloatToHalf (vector/vecdist.h) */

/* llmutil.c: convert count elements of any dtype to f32 */
extern void LlmToF32(float *dst, const void *src, LlmDType dtype, size_t count);

#endif							/* PGMLOPS_LLM_LLM_H */
