/*-------------------------------------------------------------------------
 *
 * llmutil.c
 *	  Errors, allocation, file reading and element conversions shared by
 *	  the whole inference engine.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "llm/llm.h"
#include "vector/vecdist.h"

bool		(*LlmInterruptHook) (void) = NULL;

/*
 * Record an error for the caller; returns code so callers can write
 * "return LlmSetError(...)"
 */
int
LlmSetError(LlmError *err, int code, const char *fmt,...)
{
	va_list		ap;

	if (err == NULL)
		return code;
	err->code = code;
	err->os_errno = 0;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return code;
}

/*
 * malloc that records an out-of-memory error
 */
void *
LlmAlloc(size_t size, LlmError *err)
{
	void	   *p = malloc(size > 0 ? size : 1);

	if (p == NULL)
		LlmSetError(err, LLM_ERR_NOMEM, "out of memory allocating %zu bytes", size);
	return p;
}

/*
 * calloc that records an out-of-memory error
 */
void *
LlmAllocZero(size_t size, LlmError *err)
{
	void	   *p = calloc(1, size > 0 ? size : 1);

	if (p == NULL)
		LlmSetError(err, LLM_ERR_NOMEM, "out of memory allocating %zu bytes", size);
	return p;
}

/*
 * Read a whole regular file into a NUL-terminated malloc'ed buffer.  The
 * file is opened without blocking and checked on the open descriptor, so
 * a FIFO or device planted under the name fails instead of hanging.
 */
int
LlmReadFile(const char *path, size_t max_bytes, char **data, size_t *len,
			LlmError *err)
{
	int			fd;
	struct stat st;
	char	   *buf;
	size_t		got = 0;

	*data = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
	{
		int			save = errno;

		LlmSetError(err, LLM_ERR_IO, "could not open file \"%s\": %s", path, strerror(save));
		if (err != NULL)
			err->os_errno = save;
		return LLM_ERR_IO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
	{
		close(fd);
		return LlmSetError(err, LLM_ERR_IO, "\"%s\" is not a regular file", path);
	}
	if ((uint64_t) st.st_size > max_bytes)
	{
		close(fd);
		return LlmSetError(err, LLM_ERR_FORMAT,
						   "file \"%s\" is too large (%lld bytes, limit %zu)",
						   path, (long long) st.st_size, max_bytes);
	}
	buf = LlmAlloc((size_t) st.st_size + 1, err);
	if (buf == NULL)
	{
		close(fd);
		return LLM_ERR_NOMEM;
	}
	while (got < (size_t) st.st_size)
	{
		ssize_t		n = read(fd, buf + got, (size_t) st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
		{
			int			save = n < 0 ? errno : 0;

			free(buf);
			close(fd);
			LlmSetError(err, LLM_ERR_IO, "could not read file \"%s\"%s%s", path,
						save ? ": " : " (it shrank while being read)",
						save ? strerror(save) : "");
			if (err != NULL)
				err->os_errno = save;
			return LLM_ERR_IO;
		}
		got += (size_t) n;
	}
	close(fd);
	buf[got] = '\0';
	*data = buf;
	*len = got;
	return LLM_OK;
}

/*
 * dir + "/" + name into buf; false if it does not fit
 */
bool
LlmPathJoin(char *buf, size_t buflen, const char *dir, const char *name)
{
	int			n = snprintf(buf, buflen, "%s/%s", dir, name);

	return n >= 0 && (size_t) n < buflen;
}

/*
 * Bytes per element
 */
size_t
LlmDTypeSize(LlmDType dtype)
{
	switch (dtype)
	{
		case LLM_DTYPE_F32:
			return 4;
		case LLM_DTYPE_F16:
		case LLM_DTYPE_BF16:
			return 2;
	}
	return 0;
}

/*
 * Name of a dtype, as safetensors spells it
 */
const char *
LlmDTypeName(LlmDType dtype)
{
	switch (dtype)
	{
		case LLM_DTYPE_F32:
			return "F32";
		case LLM_DTYPE_F16:
			return "F16";
		case LLM_DTYPE_BF16:
			return "BF16";
	}
	return "?";
}

/*
 * Convert count elements of dtype at src to f32
 */
void
LlmToF32(float *dst, const void *src, LlmDType dtype, size_t count)
{
	const uint16_t *h = src;

	switch (dtype)
	{
		case LLM_DTYPE_F32:
			memcpy(dst, src, count * sizeof(float));
			break;
		case LLM_DTYPE_BF16:
			for (size_t i = 0; i < count; i++)
				dst[i] = LlmBf16ToF32(h[i]);
			break;
		case LLM_DTYPE_F16:
			for (size_t i = 0; i < count; i++)
				dst[i] = VecHalfToFloat(h[i]);
			break;
	}
}
