/*-------------------------------------------------------------------------
 *
 * llmjson.c
 *	  The engine's JSON helpers: parsing with positioned errors and typed
 *	  member lookups that reject wrong types instead of guessing.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdlib.h>

#include "llm/llmjson.h"

/*
 * Parse len bytes of JSON
 */
json_t *
LlmJsonParse(const char *data, size_t len, const char *what, LlmError *err)
{
	json_error_t jerr;
	json_t	   *root;

	root = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (root == NULL)
		LlmSetError(err, LLM_ERR_FORMAT, "invalid JSON in %s at line %d, column %d: %s",
					what, jerr.line, jerr.column, jerr.text);
	return root;
}

/*
 * Read and parse a JSON file
 */
json_t *
LlmJsonLoadFile(const char *path, size_t max_bytes, LlmError *err)
{
	char	   *data;
	size_t		len;
	json_t	   *root;

	if (LlmReadFile(path, max_bytes, &data, &len, err) != LLM_OK)
		return NULL;
	root = LlmJsonParse(data, len, path, err);
	free(data);
	return root;
}

/*
 * Integer member within [min, max]; integral reals such as 2.0 are accepted
 */
int
LlmJsonGetInt(const json_t *obj, const char *key, int64_t min, int64_t max,
			  int64_t *out, const char *what, LlmError *err)
{
	json_t	   *v = json_object_get(obj, key);
	int64_t		n;

	if (v == NULL || json_is_null(v))
		return LLM_OK;
	if (json_is_integer(v))
		n = json_integer_value(v);
	else if (json_is_real(v) && fabs(json_real_value(v)) < 9.0e18 &&
			 json_real_value(v) == (double) (int64_t) json_real_value(v))
		n = (int64_t) json_real_value(v);
	else
		return LlmSetError(err, LLM_ERR_FORMAT, "%s: \"%s\" must be an integer", what, key);
	if (n < min || n > max)
		return LlmSetError(err, LLM_ERR_FORMAT, "%s: \"%s\" is %lld, outside [%lld, %lld]",
						   what, key, (long long) n, (long long) min, (long long) max);
	*out = n;
	return LLM_OK;
}

/*
 * Numeric member
 */
int
LlmJsonGetDouble(const json_t *obj, const char *key, double *out,
				 const char *what, LlmError *err)
{
	json_t	   *v = json_object_get(obj, key);

	if (v == NULL || json_is_null(v))
		return LLM_OK;
	if (!json_is_number(v))
		return LlmSetError(err, LLM_ERR_FORMAT, "%s: \"%s\" must be a number", what, key);
	*out = json_number_value(v);
	return LLM_OK;
}

/*
 * Boolean member
 */
int
LlmJsonGetBool(const json_t *obj, const char *key, bool *out,
			   const char *what, LlmError *err)
{
	json_t	   *v = json_object_get(obj, key);

	if (v == NULL || json_is_null(v))
		return LLM_OK;
	if (!json_is_boolean(v))
		return LlmSetError(err, LLM_ERR_FORMAT, "%s: \"%s\" must be true or false", what, key);
	*out = json_is_true(v);
	return LLM_OK;
}

/*
 * String member
 */
int
LlmJsonGetString(const json_t *obj, const char *key, const char **out,
				 const char *what, LlmError *err)
{
	json_t	   *v = json_object_get(obj, key);

	if (v == NULL || json_is_null(v))
		return LLM_OK;
	if (!json_is_string(v))
		return LlmSetError(err, LLM_ERR_FORMAT, "%s: \"%s\" must be a string", what, key);
	*out = json_string_value(v);
	return LLM_OK;
}
