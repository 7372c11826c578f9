/*-------------------------------------------------------------------------
 *
 * llmoption.c
 *	  The "options" jsonb objects of the inference service's functions and
 *	  registered models: one walk over their keys and the typed readers
 *	  that every caller's errors share.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "llm/llmserve.h"

/* start a walk over options; NULL: no keys; what names them in the error */
void
LlmOptionsBegin(LlmOptionIter *o, Jsonb *options, const char *what)
{
	o->it = NULL;
	if (options == NULL)
		return;
	if (!JB_ROOT_IS_OBJECT(options))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a JSON object", what)));
	o->it = JsonbIteratorInit(&options->root);
}

/* the next key (palloc'ed) and its value; false after the last */
bool
LlmOptionsNext(LlmOptionIter *o, char **key, JsonbValue *val)
{
	JsonbIteratorToken tok;
	JsonbValue	v;

	if (o->it == NULL)
		return false;
	while ((tok = JsonbIteratorNext(&o->it, &v, true)) != WJB_DONE)
	{
		if (tok != WJB_KEY)
			continue;
		*key = pnstrdup(v.val.string.val, v.val.string.len);
		/* with skipNested, an array or object value is one jbvBinary */
		(void) JsonbIteratorNext(&o->it, val, true);
		return true;
	}
	o->it = NULL;
	return false;
}

/* a number, or an error naming key (also beyond the range of float8) */
double
LlmOptionNumber(const JsonbValue *v, const char *key)
{
	double		d;

	if (v->type != jbvNumeric)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" must be a number", key)));
	/* 1e400 gives infinity, 1e-400 zero */
	d = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
										   NumericGetDatum(v->val.numeric)));
	if (isinf(d))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" is out of range", key)));
	return d;
}

/* an integer within [min, max], or an error naming key and the range */
int64
LlmOptionInt(const JsonbValue *v, const char *key, int64 min, int64 max)
{
	double		d = NAN;

	/* integral as a numeric (1e-400 is not), then in range as a float8 */
	if (v->type == jbvNumeric &&
		DatumGetBool(DirectFunctionCall2(numeric_eq, NumericGetDatum(v->val.numeric),
										 DirectFunctionCall1(numeric_floor,
															 NumericGetDatum(v->val.numeric)))))
		d = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
											   NumericGetDatum(v->val.numeric)));
	if (isnan(d) || d < (double) min || d > (double) max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" must be an integer from " INT64_FORMAT " to " INT64_FORMAT,
						key, min, max)));
	return (int64) d;
}

/* a string (palloc'ed), or an error saying what it must be */
char *
LlmOptionString(const JsonbValue *v, const char *key, const char *must)
{
	if (v->type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" must be %s", key, must)));
	return pnstrdup(v->val.string.val, v->val.string.len);
}
