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
 * IEEE binary16 -> f32, including subnormals, infinities and NaN
 */
float
LlmF16ToF32(uint16_t h)
{
	uint32_t	sign = (uint32_t) (h & 0x8000) << 16;
	uint32_t	exp = (h >> 10) & 0x1f;
	uint32_t	mant = h & 0x3ff;
	uint32_t	u;
	float		f;

	if (exp == 0x1f)
		u = sign | 0x7f800000 | (mant << 13);
	else if (exp != 0)
		u = sign | ((exp + 112) << 23) | (mant << 13);
	else if (mant == 0)
		u = sign;
	else
	{
		/* subnormal: normalize the mantissa */
		exp = 113;
		while ((mant & 0x400) == 0)
		{
			mant <<= 1;
			exp--;
		}
		u = sign | (exp << 23) | ((mant & 0x3ff) << 13);
	}
	memcpy(&f, &u, sizeof(f));
	return f;
}

/*
 * f32 -> IEEE binary16, rounding to nearest even, overflow to infinity
 */
uint16_t
LlmF32ToF16(float f)
{
	uint32_t	u;
	uint32_t	sign;
	int32_t		exp;
	uint32_t	mant;

	memcpy(&u, &f, sizeof(u));
	sign = (u >> 16) & 0x8000;
	exp = (int32_t) ((u >> 23) & 0xff) - 127 + 15;
	mant = u & 0x7fffff;
	if (((u >> 23) & 0xff) == 0xff)
		return (uint16_t) (sign | 0x7c00 | (mant ? 0x200 : 0));
	if (exp >= 31)
		return (uint16_t) (sign | 0x7c00);
	if (exp <= 0)
	{
		uint32_t	shift;
		uint32_t	m;
		uint32_t	rounded;

		if (exp < -10)
			return (uint16_t) sign;
		m = mant | 0x800000;
		shift = (uint32_t) (14 - exp);
		rounded = m >> shift;
		if ((m >> (shift - 1)) & 1 && ((m & ((1u << (shift - 1)) - 1)) || (rounded & 1)))
			rounded++;
		return (uint16_t) (sign | rounded);
	}
	{
		uint32_t	h = sign | ((uint32_t) exp << 10) | (mant >> 13);

		if ((mant & 0x1000) && ((mant & 0x2fff) != 0))
			h++;				/* may carry into the exponent: correct */
		return (uint16_t) h;
	}
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
				dst[i] = LlmF16ToF32(h[i]);
			break;
	}
}
