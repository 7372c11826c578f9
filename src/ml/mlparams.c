/*-------------------------------------------------------------------------
 *
 * mlparams.c
 *	  Hyperparameters: defaults, parsing from JSON and the effective set
 *	  back as JSON.
 *
 * One table lists every hyperparameter with its type, its range and the
 * algorithms that take it, so parsing, validation and printing agree.
 * Names are scikit-learn's and XGBoost's, exactly; a name the algorithm
 * does not take is refused rather than ignored, so a typo never trains a
 * model with a silently different setting.  The seed is not a
 * hyperparameter: it is train's own argument.
 *
 *-------------------------------------------------------------------------
 */
#include <jansson.h>

#include "llm/llmjson.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ml/ml.h"

typedef enum ParamType
{
	PARAM_DOUBLE,
	PARAM_INT,
	PARAM_BOOL,
	PARAM_STRING
} ParamType;

/* which end of a range is open */
#define RANGE_MIN_OPEN	0x1		/* value > min rather than >= min */

#define ALG_BIT(a) (1u << (a))
#define ALGS_LINEAR (ALG_BIT(ML_ALG_LINEAR_REGRESSION) | ALG_BIT(ML_ALG_LASSO) | \
					 ALG_BIT(ML_ALG_ELASTIC_NET))
#define ALGS_CD (ALG_BIT(ML_ALG_LASSO) | ALG_BIT(ML_ALG_ELASTIC_NET))
#define ALGS_ITER (ALGS_CD | ALG_BIT(ML_ALG_LOGISTIC_REGRESSION) | \
				   ALG_BIT(ML_ALG_KMEANS))
#define ALGS_XGB ALG_BIT(ML_ALG_XGBOOST)

typedef struct ParamSpec
{
	const char *name;
	ParamType	type;
	size_t		offset;			/* of the field in MlParams */
	unsigned	algs;			/* ALG_BIT set of algorithms taking it */
	double		min;
	double		max;
	int			flags;
} ParamSpec;

#define FIELD(f) offsetof(MlParams, f)

/* every hyperparameter; the order is the order of MlParamsToJson */
static const ParamSpec param_specs[] = {
	{"alpha", PARAM_DOUBLE, FIELD(alpha), ALGS_LINEAR, 0, HUGE_VAL, 0},
	{"l1_ratio", PARAM_DOUBLE, FIELD(l1_ratio), ALG_BIT(ML_ALG_ELASTIC_NET), 0, 1, 0},
	{"C", PARAM_DOUBLE, FIELD(C), ALG_BIT(ML_ALG_LOGISTIC_REGRESSION), 0, HUGE_VAL, RANGE_MIN_OPEN},
	{"n_clusters", PARAM_INT, FIELD(n_clusters), ALG_BIT(ML_ALG_KMEANS), 1, 1e5, 0},
	{"max_iter", PARAM_INT, FIELD(max_iter), ALGS_ITER, 1, 1e6, 0},
	{"tol", PARAM_DOUBLE, FIELD(tol), ALGS_ITER, 0, HUGE_VAL, RANGE_MIN_OPEN},
	{"n_init", PARAM_INT, FIELD(n_init), ALG_BIT(ML_ALG_KMEANS), 1, 1000, 0},
	{"fit_intercept", PARAM_BOOL, FIELD(fit_intercept),
	ALGS_LINEAR | ALG_BIT(ML_ALG_LOGISTIC_REGRESSION), 0, 0, 0},
	{"n_estimators", PARAM_INT, FIELD(n_estimators), ALGS_XGB, 1, 1e5, 0},
	{"max_depth", PARAM_INT, FIELD(max_depth), ALGS_XGB, 1, 64, 0},
	{"learning_rate", PARAM_DOUBLE, FIELD(learning_rate), ALGS_XGB, 0, 1, RANGE_MIN_OPEN},
	{"subsample", PARAM_DOUBLE, FIELD(subsample), ALGS_XGB, 0, 1, RANGE_MIN_OPEN},
	{"colsample_bytree", PARAM_DOUBLE, FIELD(colsample_bytree), ALGS_XGB, 0, 1, RANGE_MIN_OPEN},
	{"min_child_weight", PARAM_DOUBLE, FIELD(min_child_weight), ALGS_XGB, 0, HUGE_VAL, 0},
	{"reg_lambda", PARAM_DOUBLE, FIELD(reg_lambda), ALGS_XGB, 0, HUGE_VAL, 0},
	{"reg_alpha", PARAM_DOUBLE, FIELD(reg_alpha), ALGS_XGB, 0, HUGE_VAL, 0},
	{"gamma", PARAM_DOUBLE, FIELD(gamma), ALGS_XGB, 0, HUGE_VAL, 0},
	{"max_bin", PARAM_INT, FIELD(max_bin), ALGS_XGB, 2, 65536, 0},
	{"nthread", PARAM_INT, FIELD(nthread), ALGS_XGB, 0, 1024, 0},
	{"tree_method", PARAM_STRING, FIELD(tree_method), ALGS_XGB, 0, 0, 0},
};

#define N_PARAM_SPECS (sizeof(param_specs) / sizeof(param_specs[0]))

/* the values tree_method accepts */
static const char *const tree_methods[] = {"hist", "approx", "exact"};

/* defaults of alg: scikit-learn's and XGBoost's */
void
MlParamsDefault(MlAlgorithm alg, MlParams *params)
{
	memset(params, 0, sizeof(*params));
	params->alpha = (alg == ML_ALG_LINEAR_REGRESSION) ? 0.0 : 1.0;
	params->l1_ratio = 0.5;
	params->C = 1.0;
	params->tol = 1e-4;
	switch (alg)
	{
		case ML_ALG_LOGISTIC_REGRESSION:
			params->max_iter = 100;
			break;
		case ML_ALG_KMEANS:
			params->max_iter = 300;
			break;
		default:
			params->max_iter = 1000;
			break;
	}
	params->fit_intercept = true;
	params->n_clusters = 8;
	params->n_init = 10;
	params->n_estimators = 100;
	params->max_depth = 6;
	params->learning_rate = 0.3;
	params->subsample = 1.0;
	params->colsample_bytree = 1.0;
	params->min_child_weight = 1.0;
	params->reg_lambda = 1.0;
	params->reg_alpha = 0.0;
	params->gamma = 0.0;
	params->max_bin = 256;
	params->nthread = 0;
	strcpy(params->tree_method, "hist");
	params->seed = 0;
}

/* the spec called name, or NULL */
static const ParamSpec *
FindSpec(const char *name)
{
	for (size_t i = 0; i < N_PARAM_SPECS; i++)
		if (strcmp(param_specs[i].name, name) == 0)
			return &param_specs[i];
	return NULL;
}

/* shortest "%.Ng" text of v that reads back as exactly v */
static void
FormatDouble(char *buf, size_t len, double v)
{
	for (int prec = 15; prec <= 17; prec++)
	{
		snprintf(buf, len, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

/* check a number against spec's range; the message names it */
static int
CheckRange(const ParamSpec *spec, double v, LlmError *err)
{
	char		lo[32];
	char		hi[32];
	bool		ok;

	ok = isfinite(v) &&
		((spec->flags & RANGE_MIN_OPEN) ? v > spec->min : v >= spec->min) &&
		v <= spec->max;
	if (ok)
		return LLM_OK;
	FormatDouble(lo, sizeof(lo), spec->min);
	FormatDouble(hi, sizeof(hi), spec->max);
	if (spec->max == HUGE_VAL)
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "hyperparameter \"%s\" must be %s %s, not %.17g",
						   spec->name,
						   (spec->flags & RANGE_MIN_OPEN) ? ">" : ">=", lo, v);
	return LlmSetError(err, LLM_ERR_ARGUMENT,
					   "hyperparameter \"%s\" must be between %s (%s) and %s, not %.17g",
					   spec->name, lo,
					   (spec->flags & RANGE_MIN_OPEN) ? "exclusive" : "inclusive",
					   hi, v);
}

/* store one JSON value into the field spec names */
static int
ApplyValue(const ParamSpec *spec, json_t *value, MlParams *params,
		   LlmError *err)
{
	char	   *field = (char *) params + spec->offset;
	double		v;
	int			rc;

	switch (spec->type)
	{
		case PARAM_BOOL:
			if (!json_is_boolean(value))
				return LlmSetError(err, LLM_ERR_ARGUMENT,
								   "hyperparameter \"%s\" must be true or false",
								   spec->name);
			*(bool *) field = json_is_true(value);
			return LLM_OK;
		case PARAM_STRING:
			if (!json_is_string(value))
				return LlmSetError(err, LLM_ERR_ARGUMENT,
								   "hyperparameter \"%s\" must be a string",
								   spec->name);
			for (size_t i = 0; i < sizeof(tree_methods) / sizeof(tree_methods[0]); i++)
			{
				if (strcmp(json_string_value(value), tree_methods[i]) == 0)
				{
					strcpy(field, tree_methods[i]);
					return LLM_OK;
				}
			}
			return LlmSetError(err, LLM_ERR_ARGUMENT,
							   "hyperparameter \"%s\" must be \"hist\", \"approx\" or \"exact\", not \"%.64s\"",
							   spec->name, json_string_value(value));
		case PARAM_DOUBLE:
		case PARAM_INT:
			/* integers were decoded as reals (JSON_DECODE_INT_AS_REAL) */
			if (!json_is_number(value))
				return LlmSetError(err, LLM_ERR_ARGUMENT,
								   "hyperparameter \"%s\" must be a number",
								   spec->name);
			v = json_number_value(value);
			if (spec->type == PARAM_INT && (!isfinite(v) || v != floor(v)))
				return LlmSetError(err, LLM_ERR_ARGUMENT,
								   "hyperparameter \"%s\" must be an integer, not %.17g",
								   spec->name, v);
			rc = CheckRange(spec, v, err);
			if (rc != LLM_OK)
				return rc;
			if (spec->type == PARAM_INT)
				*(int *) field = (int) v;
			else
				*(double *) field = v;
			return LLM_OK;
	}
	return LlmSetError(err, LLM_ERR_ARGUMENT, "bad hyperparameter type");
}

/*
 * Parse a JSON object of hyperparameters: params becomes alg's defaults
 * with the object's values applied (NULL or empty text: the defaults).  On
 * error params still holds the defaults.
 */
int
MlParamsParse(MlAlgorithm alg, const char *json, MlParams *params,
			  LlmError *err)
{
	json_t	   *root;
	json_error_t jerr;
	const char *key;
	json_t	   *value;
	MlParams	work;
	int			rc = LLM_OK;

	MlParamsDefault(alg, params);
	if ((int) alg < 0 || alg >= ML_ALG_COUNT)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "unknown algorithm %d",
						   (int) alg);
	if (json == NULL || json[strspn(json, " \t\r\n")] == '\0')
		return LLM_OK;

	root = json_loads(json, JSON_DECODE_INT_AS_REAL | JSON_REJECT_DUPLICATES,
					  &jerr);
	if (root == NULL)
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "hyperparameters are not valid JSON: %s", jerr.text);
	if (!json_is_object(root))
	{
		json_decref(root);
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "hyperparameters must be a JSON object");
	}

	work = *params;
	json_object_foreach(root, key, value)
	{
		const ParamSpec *spec = FindSpec(key);

		if (spec == NULL || (spec->algs & ALG_BIT(alg)) == 0)
		{
			if (strcmp(key, "seed") == 0)
				rc = LlmSetError(err, LLM_ERR_ARGUMENT,
								 "unknown hyperparameter \"seed\" for algorithm %s (the seed is train's seed argument)",
								 MlAlgorithmName(alg));
			else
				rc = LlmSetError(err, LLM_ERR_ARGUMENT,
								 "unknown hyperparameter \"%.64s\" for algorithm %s",
								 key, MlAlgorithmName(alg));
			break;
		}
		rc = ApplyValue(spec, value, &work, err);
		if (rc != LLM_OK)
			break;
	}
	json_decref(root);
	if (rc == LLM_OK)
		*params = work;
	return rc;
}

/*
 * The hyperparameters alg takes, with their effective values, as a compact
 * JSON object (malloc'ed; NULL when out of memory).  Reals are written with
 * the fewest digits that read back exactly.
 */
char *
MlParamsToJson(MlAlgorithm alg, const MlParams *params)
{
	/* at most 20 entries of a name and a number: far below 2 KB */
	char		buf[2048];
	size_t		len = 0;
	char	   *out;

	buf[len++] = '{';
	for (size_t i = 0; i < N_PARAM_SPECS; i++)
	{
		const ParamSpec *spec = &param_specs[i];
		const char *field = (const char *) params + spec->offset;
		char		num[40];
		const char *text = num;
		int			n;

		if ((int) alg < 0 || alg >= ML_ALG_COUNT ||
			(spec->algs & ALG_BIT(alg)) == 0)
			continue;
		switch (spec->type)
		{
			case PARAM_DOUBLE:
				FormatDouble(num, sizeof(num), *(const double *) field);
				if (!isfinite(*(const double *) field))
					text = "null";
				break;
			case PARAM_INT:
				snprintf(num, sizeof(num), "%d", *(const int *) field);
				break;
			case PARAM_BOOL:
				text = *(const bool *) field ? "true" : "false";
				break;
			case PARAM_STRING:
				/* one of tree_methods: no character needs escaping */
				snprintf(num, sizeof(num), "\"%.15s\"", field);
				break;
		}
		n = snprintf(buf + len, sizeof(buf) - len, "%s\"%s\":%s",
					 len > 1 ? "," : "", spec->name, text);
		if (n < 0 || (size_t) n >= sizeof(buf) - len)
			return NULL;
		len += n;
	}
	if (len + 2 > sizeof(buf))
		return NULL;
	buf[len++] = '}';
	buf[len] = '\0';
	out = malloc(len + 1);
	if (out != NULL)
		memcpy(out, buf, len + 1);
	return out;
}
