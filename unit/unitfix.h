/*
 * unitfix.h
 *	  Loading a causal reference fixture for the engine's unit tests: its
 *	  model, a CPU runtime and golden.json (tests that link the engine).
 */
#ifndef PGMLOPS_UNIT_UNITFIX_H
#define PGMLOPS_UNIT_UNITFIX_H

#include <stdio.h>
#include <stdlib.h>

#include "compute/computeops.h"
#include "llm/llmjson.h"
#include "llm/runtime.h"

/* json array of ints -> malloc'ed int32 array */
static int32_t *
UnitIntArray(const json_t *a, int *n)
{
	int32_t    *ids = malloc(sizeof(int32_t) * (json_array_size(a) + 1));

	*n = (int) json_array_size(a);
	for (int i = 0; i < *n; i++)
		ids[i] = (int32_t) json_integer_value(json_array_get(a, i));
	return ids;
}

/*
 * Load fixtures/name: the model, a CPU runtime with opt and golden.json;
 * on failure print it, count it and return false (nothing to free)
 */
static bool
UnitLoadFixture(const char *fixtures, const char *name, const LlmRuntimeOptions *opt,
				LlmModel **model, LlmRuntime **rt, json_t **golden)
{
	char		dir[1100];
	char		path[1200];
	LlmError	err = {0};

	*model = NULL;
	*rt = NULL;
	*golden = NULL;
	snprintf(dir, sizeof(dir), "%s/%s", fixtures, name);
	snprintf(path, sizeof(path), "%s/golden.json", dir);
	if (LlmModelLoad(dir, model, &err) == LLM_OK &&
		(*golden = LlmJsonLoadFile(path, 64 * 1024 * 1024, &err)) != NULL &&
		LlmRuntimeCreate(*model, &ComputeCpuOps, opt, rt, &err) == LLM_OK)
		return true;
	printf("FAIL load %s: %s\n", name, err.message);
	unit_failed++;
	json_decref(*golden);
	LlmModelFree(*model);
	*model = NULL;
	*golden = NULL;
	return false;
}

#endif							/* PGMLOPS_UNIT_UNITFIX_H */
