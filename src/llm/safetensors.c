/*-------------------------------------------------------------------------
 *
 * safetensors.c
 *	  Parse the header of a safetensors file.
 *
 * A safetensors file is an 8-byte little-endian header length, a JSON
 * header mapping each tensor name to {dtype, shape, data_offsets}, and the
 * data area, whose offsets are relative to the end of the header.  The
 * whole file is untrusted: every length, offset and shape is checked
 * against the buffer before a pointer into it is handed out, so a tensor
 * that parses here can be read in full without further checks.
 *
 * Tensor data must be aligned to its element size (the safetensors writer
 * pads the header to a multiple of 8 bytes, so real files always are);
 * a misaligned tensor is rejected with LLM_ERR_FORMAT rather than copied,
 * so that every kernel may assume aligned loads.
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "llm/llmjson.h"
#include "llm/model.h"

/*
 * Map a safetensors dtype name to an LlmDType; false when unsupported
 */
static bool
DTypeFromName(const char *name, LlmDType *dtype)
{
	if (strcmp(name, "F32") == 0)
		*dtype = LLM_DTYPE_F32;
	else if (strcmp(name, "F16") == 0)
		*dtype = LLM_DTYPE_F16;
	else if (strcmp(name, "BF16") == 0)
		*dtype = LLM_DTYPE_BF16;
	else
		return false;
	return true;
}

/*
 * Check one header entry and fill *t; data points into the data area
 */
static int
ParseTensor(const char *name, const json_t *desc, const uint8_t *data,
			uint64_t data_len, LlmTensor *t, LlmError *err)
{
	json_t	   *jdtype = json_object_get(desc, "dtype");
	json_t	   *jshape = json_object_get(desc, "shape");
	json_t	   *joffsets = json_object_get(desc, "data_offsets");
	const char *dtname;
	size_t		ndim;
	uint64_t	count = 1;
	uint64_t	elsize;
	json_int_t	begin;
	json_int_t	end;

	if (!json_is_object(desc) || !json_is_string(jdtype) ||
		!json_is_array(jshape) || !json_is_array(joffsets))
		return LlmSetError(err, LLM_ERR_FORMAT,
						   "safetensors: tensor \"%.200s\" needs \"dtype\", \"shape\" and \"data_offsets\"",
						   name);
	dtname = json_string_value(jdtype);
	if (!DTypeFromName(dtname, &t->dtype))
		return LlmSetError(err, LLM_ERR_UNSUPPORTED,
						   "safetensors: tensor \"%.200s\" has unsupported dtype %.16s",
						   name, dtname);
	elsize = LlmDTypeSize(t->dtype);

	ndim = json_array_size(jshape);
	if (ndim > LLM_MAX_DIMS)
		return LlmSetError(err, LLM_ERR_UNSUPPORTED,
						   "safetensors: tensor \"%.200s\" has %zu dimensions, at most %d are supported",
						   name, ndim, LLM_MAX_DIMS);
	t->ndim = (int) ndim;
	for (size_t i = 0; i < ndim; i++)
	{
		json_t	   *d = json_array_get(jshape, i);
		json_int_t	n;

		if (!json_is_integer(d) || (n = json_integer_value(d)) < 0)
			return LlmSetError(err, LLM_ERR_FORMAT,
							   "safetensors: tensor \"%.200s\" has a bad shape", name);
		/* data_len bounds the product, so stopping above it avoids overflow */
		if (n != 0 && count > data_len / (uint64_t) n)
			count = data_len + 1;
		else
			count *= (uint64_t) n;
		t->shape[i] = n;
	}
	for (size_t i = ndim; i < LLM_MAX_DIMS; i++)
		t->shape[i] = 0;

	if (json_array_size(joffsets) != 2 ||
		!json_is_integer(json_array_get(joffsets, 0)) ||
		!json_is_integer(json_array_get(joffsets, 1)))
		return LlmSetError(err, LLM_ERR_FORMAT,
						   "safetensors: tensor \"%.200s\" has bad data_offsets", name);
	begin = json_integer_value(json_array_get(joffsets, 0));
	end = json_integer_value(json_array_get(joffsets, 1));
	if (begin < 0 || end < begin || (uint64_t) end > data_len)
		return LlmSetError(err, LLM_ERR_FORMAT,
						   "safetensors: tensor \"%.200s\" has data_offsets [%lld, %lld] outside the %llu-byte data area",
						   name, (long long) begin, (long long) end,
						   (unsigned long long) data_len);
	if (count > data_len || count * elsize != (uint64_t) (end - begin))
		return LlmSetError(err, LLM_ERR_FORMAT,
						   "safetensors: tensor \"%.200s\" has %lld data bytes, its shape needs %llu",
						   name, (long long) (end - begin),
						   count > data_len ? (unsigned long long) UINT64_MAX :
						   (unsigned long long) (count * elsize));
	t->data = (void *) (data + begin);
	if (((uintptr_t) t->data) % elsize != 0)
		return LlmSetError(err, LLM_ERR_FORMAT,
						   "safetensors: tensor \"%.200s\" data is not aligned to its %llu-byte elements",
						   name, (unsigned long long) elsize);
	return LLM_OK;
}

/*
 * Parse the header of one safetensors file held in buf[0..len) and append
 * its tensors to *entries; on failure the table is left as it was
 */
int
LlmSafetensorsParse(const uint8_t *buf, size_t len, LlmWeightEntry **entries,
					int *n_entries, LlmError *err)
{
	uint64_t	hlen = 0;
	json_t	   *root;
	const char *name;
	json_t	   *desc;
	size_t		n_new;
	int			n0 = *n_entries;
	int			n = n0;
	LlmWeightEntry *table;
	int			rc = LLM_OK;

	if (len < 8)
		return LlmSetError(err, LLM_ERR_FORMAT,
						   "safetensors: file of %zu bytes is too short", len);
	for (int i = 7; i >= 0; i--)
		hlen = (hlen << 8) | buf[i];
	if (hlen > LLM_MAX_HEADER_BYTES)
		return LlmSetError(err, LLM_ERR_FORMAT,
						   "safetensors: header of %llu bytes exceeds the limit of %d",
						   (unsigned long long) hlen, LLM_MAX_HEADER_BYTES);
	if (hlen > len - 8)
		return LlmSetError(err, LLM_ERR_FORMAT,
						   "safetensors: header of %llu bytes runs past the end of the %zu-byte file",
						   (unsigned long long) hlen, len);

	root = LlmJsonParse((const char *) buf + 8, (size_t) hlen, "safetensors header", err);
	if (root == NULL)
		return LLM_ERR_FORMAT;
	if (!json_is_object(root))
	{
		json_decref(root);
		return LlmSetError(err, LLM_ERR_FORMAT, "safetensors: the header is not a JSON object");
	}

	n_new = json_object_size(root);
	if (n_new > (size_t) (INT32_MAX - n0))
	{
		json_decref(root);
		return LlmSetError(err, LLM_ERR_FORMAT, "safetensors: too many tensors");
	}
	table = realloc(*entries, ((size_t) n0 + n_new + 1) * sizeof(LlmWeightEntry));
	if (table == NULL)
	{
		json_decref(root);
		return LlmSetError(err, LLM_ERR_NOMEM, "out of memory for %zu tensor entries", n_new);
	}
	*entries = table;

	json_object_foreach(root, name, desc)
	{
		LlmWeightEntry *e = &table[n];

		if (strcmp(name, "__metadata__") == 0)
			continue;
		memset(e, 0, sizeof(*e));
		rc = ParseTensor(name, desc, buf + 8 + hlen, (uint64_t) (len - 8 - hlen),
						 &e->tensor, err);
		if (rc != LLM_OK)
			break;
		e->name = strdup(name);
		if (e->name == NULL)
		{
			rc = LlmSetError(err, LLM_ERR_NOMEM, "out of memory");
			break;
		}
		n++;
	}
	json_decref(root);

	if (rc != LLM_OK)
	{
		for (int i = n0; i < n; i++)
			free(table[i].name);
		return rc;
	}
	*n_entries = n;
	return LLM_OK;
}
