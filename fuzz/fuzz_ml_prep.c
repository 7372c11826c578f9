// sources: src/ml/prep.c src/llm/llmjson.c src/llm/llmutil.c src/vector/vecdist.c
/*
 * fuzz_ml_prep.c
 *	  libFuzzer target: MlPrepFromJson on arbitrary text (the stored
 *	  preprocessing spec is a jsonb value anyone can update).  A spec that
 *	  loads must satisfy the bounds the transform relies on, write back to
 *	  the same text, and transform a row of NULLs and strings.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ml/ml.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check what the transform relies on; abort if broken */
static void
CheckSpec(const MlPrep *prep)
{
	int64_t		n = 0;

	if (prep->ncols < 1 || prep->n_features < 1 || prep->n_features > (1 << 20))
		abort();
	for (int c = 0; c < prep->ncols; c++)
	{
		const MlPrepColumn *pc = &prep->cols[c];

		if (pc->width < 1 || pc->out_width < 0)
			abort();
		if (pc->kind == ML_COL_CATEGORICAL)
		{
			if (pc->width != 1 || pc->n_categories < 0 ||
				pc->out_width != (prep->encoding == ML_ENCODE_ONEHOT ? pc->n_categories : 1))
				abort();
			for (int i = 1; i < pc->n_categories; i++)
				if (strcmp(pc->categories[i - 1], pc->categories[i]) >= 0)
					abort();
		}
		else
		{
			if (pc->out_width != pc->width)
				abort();
			for (int k = 0; k < pc->width; k++)
				if (!isfinite(pc->impute[k]) || !isfinite(pc->center[k]) ||
					!isfinite(pc->scale[k]) || !(pc->scale[k] > 0))
					abort();
		}
		if (MlPrepColumnIndex(prep, pc->name) != c)
			abort();
		n += pc->out_width;
	}
	if (n != prep->n_features)
		abort();
}

/* transform one row: all NULL, then each column's first category */
static void
TransformSome(const MlPrep *prep)
{
	const double **values = calloc(prep->ncols, sizeof(double *));
	const char **strs = calloc(prep->ncols, sizeof(char *));
	double	   *out = malloc(sizeof(double) * prep->n_features);

	if (values == NULL || strs == NULL || out == NULL)
		abort();
	MlPrepTransformRow(prep, values, strs, out);
	for (int c = 0; c < prep->ncols; c++)
		if (prep->cols[c].kind == ML_COL_CATEGORICAL)
			strs[c] = prep->cols[c].n_categories > 0 ? prep->cols[c].categories[0] : "x";
	MlPrepTransformRow(prep, values, strs, out);
	for (int i = 0; i < prep->n_features; i++)
		if (isnan(out[i]))
			abort();
	free(values);
	free(strs);
	free(out);
}

/*
 * One input: load it as a spec; if it loads, check it, transform, and
 * round-trip it through MlPrepToJson
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *text = malloc(size + 1);
	char	   *json;
	char	   *json2;
	MlPrep		prep;
	MlPrep		back;
	LlmError	err;

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	err.message[0] = '\0';
	if (MlPrepFromJson(&prep, text, &err) != LLM_OK)
	{
		if (err.message[0] == '\0' || prep.cols != NULL)
			abort();
		free(text);
		return 0;
	}
	CheckSpec(&prep);
	TransformSome(&prep);
	json = MlPrepToJson(&prep, &err);
	if (json == NULL)
		abort();
	if (MlPrepFromJson(&back, json, &err) != LLM_OK)
		abort();
	json2 = MlPrepToJson(&back, &err);
	if (json2 == NULL || strcmp(json, json2) != 0)
		abort();
	free(json2);
	free(json);
	MlPrepFree(&back);
	MlPrepFree(&prep);
	free(text);
	return 0;
}
