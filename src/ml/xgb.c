/*-------------------------------------------------------------------------
 *
 * xgb.c
 *	  Gradient-boosted trees through the XGBoost C API (libxgboost 1.7).
 *
 * Training hands XGBoost the caller's row-major doubles as an
 * array-interface description (no copy to float here: XGBoost casts each
 * value to float while it builds its DMatrix, as the Python package does
 * with a float64 array, so both see the same numbers), sets the
 * hyperparameters with XGBoost's own names, and runs one boosting round at
 * a time so that a query cancel is honoured between rounds.  The trained
 * booster is serialized as XGBoost's JSON model; that blob is what the
 * model registry stores (and what xgboost.Booster can load), and MlXgbLoad
 * rebuilds a booster from it.
 *
 * XGBoost 1.7 trusts a model it loads: a truncated UBJ document, or a tree
 * whose child index is out of range, makes it read past its buffers and
 * crash the process.  A stored model is data a user may have written, so
 * MlXgbLoad checks the JSON with jansson first (strict syntax, no duplicate
 * keys, the structure of every tree) and only then hands it to XGBoost.
 * That is why the blob is JSON rather than the smaller UBJ.
 *
 * XGBoost reports every failure (a bad parameter, a malformed blob) by
 * throwing inside the library; the C API catches it and returns -1 with
 * the text in XGBGetLastError(), which becomes the LlmError message.  No
 * XGBoost call is left unchecked.  Logging is switched off (verbosity 0,
 * and a log callback that drops messages) so nothing reaches stderr.
 *
 * Threads: nthread (0 lets XGBoost use every core) bounds the OpenMP team
 * of training, loading and prediction; it is kept in the blob as a booster
 * attribute so a loaded model runs with the same bound.  The OpenMP pool
 * is created on first use, so only a backend that trains or predicts ever
 * starts it, never the postmaster (which forks the backends; libgomp does
 * not survive a fork with a live pool).  The pool's threads outlive the
 * call, idle; they are created while every asynchronous signal is blocked,
 * so they inherit that mask and PostgreSQL's signal handlers (query
 * cancel, die, timeouts) always run in the backend's own thread.  Signals
 * are blocked only around each XGBoost call: a cancel that arrives during
 * a boosting round is delivered before the next, where LlmInterrupted()
 * sees it.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <xgboost/c_api.h>

#include "ml/ml.h"

/* booster attribute that carries the prediction thread bound */
#define XGB_ATTR_NTHREAD "pgmlops_nthread"
/* classes a classifier may have (multi:softprob keeps rows x classes) */
#define XGB_MAX_CLASSES 100000
/* boosting rounds one fit may run */
#define XGB_MAX_ROUNDS 1000000
/* features a model may have (prediction keeps one row per thread) */
#define XGB_MAX_FEATURES (1 << 22)
/* threads a model may ask for */
#define XGB_MAX_THREADS 4096

/* the task's name in messages (kept here so xgb.o links on its own) */
static const char *
TaskWord(MlTask task)
{
	switch (task)
	{
		case ML_TASK_REGRESSION:
			return "regression";
		case ML_TASK_CLASSIFICATION:
			return "classification";
		case ML_TASK_CLUSTERING:
			return "clustering";
	}
	return "an unknown task";
}

/*
 * Block every asynchronous signal in this thread, saving the old mask:
 * threads XGBoost starts meanwhile inherit the full mask
 */
static void
BlockSignals(sigset_t *saved)
{
	sigset_t	all;

	sigfillset(&all);
	/* faults are delivered to the faulting thread whatever the mask */
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGILL);
	pthread_sigmask(SIG_BLOCK, &all, saved);
}

/* restore the mask BlockSignals saved; pending signals arrive now */
static void
RestoreSignals(const sigset_t *saved)
{
	pthread_sigmask(SIG_SETMASK, saved, NULL);
}

/* log callback that drops XGBoost's messages */
static void
DropLog(const char *msg)
{
	(void) msg;
}

/* silence XGBoost's logging for this thread; false if it refused */
static bool
QuietXgboost(void)
{
	if (XGBSetGlobalConfig("{\"verbosity\": 0}") != 0)
		return false;
	return XGBRegisterLogCallback(DropLog) == 0;
}

/*
 * Record XGBoost's last error as code: "xgboost WHAT: message", keeping
 * the first line of the message without its "[time] file:line: " prefix
 */
static int
XgbError(LlmError *err, int code, const char *what)
{
	const char *msg = XGBGetLastError();
	const char *p;
	size_t		len;

	if (msg == NULL || *msg == '\0')
		msg = "unknown error";
	if (msg[0] == '[' && (p = strchr(msg, ']')) != NULL)
	{
		/* skip "[hh:mm:ss] path:line: " when it is there */
		const char *colon = strstr(p, ": ");

		if (colon != NULL && memchr(p, '\n', colon - p) == NULL)
			msg = colon + 2;
	}
	len = strcspn(msg, "\n");
	return LlmSetError(err, code, "xgboost %s: %.*s", what, (int) len, msg);
}

/* set one booster parameter, reporting the name on failure */
static int
SetParam(BoosterHandle booster, const char *name, const char *value,
		 LlmError *err)
{
	if (XGBoosterSetParam(booster, name, value) != 0)
	{
		char		what[96];

		snprintf(what, sizeof(what), "parameter %s=%s", name, value);
		return XgbError(err, LLM_ERR_ARGUMENT, what);
	}
	return LLM_OK;
}

/* set an integer parameter */
static int
SetParamInt(BoosterHandle booster, const char *name, int64_t value,
			LlmError *err)
{
	char		buf[32];

	snprintf(buf, sizeof(buf), "%" PRId64, value);
	return SetParam(booster, name, buf, err);
}

/* set a floating-point parameter, written with every significant digit */
static int
SetParamDouble(BoosterHandle booster, const char *name, double value,
			   LlmError *err)
{
	char		buf[40];

	if (!isfinite(value))
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "xgboost parameter %s must be finite", name);
	snprintf(buf, sizeof(buf), "%.17g", value);
	return SetParam(booster, name, buf, err);
}

/*
 * Describe x (rows x cols doubles, row-major) as a NumPy-style array
 * interface, which XGBoost reads in place
 */
static int
ArrayInterface(const MlMatrix *x, char *buf, size_t buflen, LlmError *err)
{
	int			n;

	if (x->rows <= 0 || x->cols <= 0 || x->x == NULL)
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "xgboost needs a non-empty matrix (got %" PRId64
						   " x %d)", x->rows, x->cols);
	if ((uint64_t) x->rows > SIZE_MAX / sizeof(double) / (uint64_t) x->cols)
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "xgboost matrix of %" PRId64 " x %d is too large",
						   x->rows, x->cols);
	n = snprintf(buf, buflen,
				 "{\"data\": [%" PRIuPTR ", true], \"shape\": [%" PRId64
				 ", %d], \"strides\": null, \"typestr\": \"<f8\", "
				 "\"version\": 3}",
				 (uintptr_t) x->x, x->rows, x->cols);
	if (n < 0 || (size_t) n >= buflen)
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "xgboost array description too long");
	return LLM_OK;
}

/* check the targets: finite values, or class indexes below n_classes */
static int
CheckTargets(MlTask task, const MlData *data, LlmError *err)
{
	for (int64_t i = 0; i < data->x.rows; i++)
	{
		double		y = data->y[i];

		if (!isfinite(y))
			return LlmSetError(err, LLM_ERR_ARGUMENT,
							   "xgboost target of row %" PRId64
							   " is not finite", i);
		if (task == ML_TASK_CLASSIFICATION &&
			(y < 0 || y >= data->n_classes || y != floor(y)))
			return LlmSetError(err, LLM_ERR_ARGUMENT,
							   "xgboost class of row %" PRId64 " is %g, "
							   "not an index below %d", i, y,
							   data->n_classes);
	}
	return LLM_OK;
}

/* the hyperparameters of a fit, in XGBoost's names */
static int
SetTrainParams(BoosterHandle booster, MlTask task, int n_classes,
			   const MlParams *p, LlmError *err)
{
	const char *objective;
	const char *tree_method;
	int			rc;

	if (task == ML_TASK_REGRESSION)
		objective = "reg:squarederror";
	else if (n_classes == 2)
		objective = "binary:logistic";
	else
		objective = "multi:softprob";
	if (memchr(p->tree_method, '\0', sizeof(p->tree_method)) == NULL)
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "xgboost tree_method is not terminated");
	tree_method = p->tree_method[0] != '\0' ? p->tree_method : "hist";

	if ((rc = SetParam(booster, "objective", objective, err)) != LLM_OK ||
		(task == ML_TASK_CLASSIFICATION && n_classes > 2 &&
		 (rc = SetParamInt(booster, "num_class", n_classes, err)) != LLM_OK) ||
		(rc = SetParam(booster, "tree_method", tree_method, err)) != LLM_OK ||
		(rc = SetParamInt(booster, "max_depth", p->max_depth, err)) != LLM_OK ||
		(rc = SetParamDouble(booster, "eta", p->learning_rate, err)) != LLM_OK ||
		(rc = SetParamDouble(booster, "subsample", p->subsample, err)) != LLM_OK ||
		(rc = SetParamDouble(booster, "colsample_bytree", p->colsample_bytree,
							 err)) != LLM_OK ||
		(rc = SetParamDouble(booster, "min_child_weight", p->min_child_weight,
							 err)) != LLM_OK ||
		(rc = SetParamDouble(booster, "lambda", p->reg_lambda, err)) != LLM_OK ||
		(rc = SetParamDouble(booster, "alpha", p->reg_alpha, err)) != LLM_OK ||
		(rc = SetParamDouble(booster, "gamma", p->gamma, err)) != LLM_OK ||
		(rc = SetParamInt(booster, "max_bin", p->max_bin, err)) != LLM_OK ||
		(rc = SetParamInt(booster, "nthread", p->nthread, err)) != LLM_OK ||
		/* XGBoost's seed is a signed 64-bit integer */
		(rc = SetParamInt(booster, "seed", (int64_t) (p->seed & INT64_MAX),
						  err)) != LLM_OK)
		return rc;
	return LLM_OK;
}

/* copy the booster's JSON serialization into model->blob */
static int
SaveBlob(MlModel *model, LlmError *err)
{
	bst_ulong	len = 0;
	const char *buf = NULL;

	if (XGBoosterSaveModelToBuffer(model->booster, "{\"format\": \"json\"}",
								   &len, &buf) != 0)
		return XgbError(err, LLM_ERR_DEVICE, "saving the model");
	if (len == 0 || buf == NULL || len > SIZE_MAX)
		return LlmSetError(err, LLM_ERR_DEVICE,
						   "xgboost saved an empty model");
	model->blob = LlmAlloc((size_t) len, err);
	if (model->blob == NULL)
		return LLM_ERR_NOMEM;
	memcpy(model->blob, buf, (size_t) len);
	model->blob_len = (size_t) len;
	return LLM_OK;
}

/* train a booster on data; model gets the booster and its blob */
int
MlXgbFit(MlTask task, const MlParams *params, const MlData *data,
		 MlModel *model, LlmError *err)
{
	char		array[256];
	char		nthread[32];
	DMatrixHandle dtrain = NULL;
	BoosterHandle booster = NULL;
	float	   *labels = NULL;
	int			n_classes = 0;
	sigset_t	saved;
	int			status;
	int			rc;

	if (task != ML_TASK_REGRESSION && task != ML_TASK_CLASSIFICATION)
		return LlmSetError(err, LLM_ERR_UNSUPPORTED,
						   "xgboost supports regression and classification, "
						   "not %s", TaskWord(task));
	if (data->y == NULL)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "xgboost needs targets");
	if (task == ML_TASK_CLASSIFICATION)
	{
		n_classes = data->n_classes;
		if (n_classes < 2 || n_classes > XGB_MAX_CLASSES)
			return LlmSetError(err, LLM_ERR_ARGUMENT,
							   "xgboost needs 2 to %d classes, not %d",
							   XGB_MAX_CLASSES, n_classes);
	}
	if (params->n_estimators < 1 || params->n_estimators > XGB_MAX_ROUNDS)
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "xgboost n_estimators must be between 1 and %d, "
						   "not %d", XGB_MAX_ROUNDS, params->n_estimators);
	if (params->nthread < 0 || params->nthread > XGB_MAX_THREADS)
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "xgboost nthread must be between 0 (all cores) "
						   "and %d, not %d", XGB_MAX_THREADS, params->nthread);
	if (data->x.cols > XGB_MAX_FEATURES)
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "xgboost takes at most %d features, not %d",
						   XGB_MAX_FEATURES, data->x.cols);
	if ((rc = ArrayInterface(&data->x, array, sizeof(array), err)) != LLM_OK ||
		(rc = CheckTargets(task, data, err)) != LLM_OK)
		return rc;
	if ((uint64_t) data->x.rows > SIZE_MAX / sizeof(float))
		return LlmSetError(err, LLM_ERR_ARGUMENT, "xgboost: too many rows");
	if (!QuietXgboost())
		return XgbError(err, LLM_ERR_DEVICE, "configuration");

	labels = LlmAlloc((size_t) data->x.rows * sizeof(float), err);
	if (labels == NULL)
		return LLM_ERR_NOMEM;
	for (int64_t i = 0; i < data->x.rows; i++)
		labels[i] = (float) data->y[i];

	snprintf(nthread, sizeof(nthread),
			 "{\"missing\": NaN, \"nthread\": %d}", params->nthread);
	BlockSignals(&saved);
	status = XGDMatrixCreateFromDense(array, nthread, &dtrain);
	RestoreSignals(&saved);
	if (status != 0)
	{
		rc = XgbError(err, LLM_ERR_ARGUMENT, "reading the training data");
		dtrain = NULL;
		goto done;
	}
	if (XGDMatrixSetFloatInfo(dtrain, "label", labels,
							  (bst_ulong) data->x.rows) != 0)
	{
		rc = XgbError(err, LLM_ERR_ARGUMENT, "setting the targets");
		goto done;
	}
	free(labels);
	labels = NULL;

	if (XGBoosterCreate(&dtrain, 1, &booster) != 0)
	{
		rc = XgbError(err, LLM_ERR_DEVICE, "creating the booster");
		booster = NULL;
		goto done;
	}
	if ((rc = SetTrainParams(booster, task, n_classes, params, err)) != LLM_OK)
		goto done;

	for (int iter = 0; iter < params->n_estimators; iter++)
	{
		if (LlmInterrupted())
		{
			rc = LlmSetError(err, LLM_ERR_CANCELLED,
							 "xgboost training cancelled after %d rounds",
							 iter);
			goto done;
		}
		/* parameters are checked here, on the first round */
		BlockSignals(&saved);
		status = XGBoosterUpdateOneIter(booster, iter, dtrain);
		RestoreSignals(&saved);
		if (status != 0)
		{
			rc = XgbError(err, LLM_ERR_ARGUMENT, "training");
			goto done;
		}
	}

	/* the training matrix is no longer needed: free it before saving */
	XGDMatrixFree(dtrain);
	dtrain = NULL;

	snprintf(nthread, sizeof(nthread), "%d", params->nthread);
	if (XGBoosterSetAttr(booster, XGB_ATTR_NTHREAD, nthread) != 0)
	{
		rc = XgbError(err, LLM_ERR_DEVICE, "setting an attribute");
		goto done;
	}

	model->algorithm = ML_ALG_XGBOOST;
	model->task = task;
	model->n_features = data->x.cols;
	model->n_classes = n_classes;
	model->n_outputs = n_classes > 2 ? n_classes : 1;
	model->n_iter = params->n_estimators;
	model->booster = booster;
	model->blob = NULL;
	model->blob_len = 0;
	if ((rc = SaveBlob(model, err)) != LLM_OK)
	{
		model->booster = NULL;
		goto done;
	}
	booster = NULL;				/* owned by model now */
	rc = LLM_OK;

done:
	free(labels);
	if (dtrain != NULL)
		XGDMatrixFree(dtrain);
	if (booster != NULL)
		XGBoosterFree(booster);
	return rc;
}

/* a string-encoded integer field such as "num_feature": "3", in [lo, hi] */
static bool
StrInt(json_t *obj, const char *key, long long lo, long long hi,
	   long long *out)
{
	json_t	   *v = json_object_get(obj, key);
	const char *s;
	char	   *end;
	long long	n;

	if (!json_is_string(v))
		return false;
	s = json_string_value(v);
	errno = 0;
	n = strtoll(s, &end, 10);
	if (end == s || *end != '\0' || errno != 0 || n < lo || n > hi)
		return false;
	*out = n;
	return true;
}

/* key's array when it has n elements, all integers (or all numbers) */
static json_t *
NodeArray(json_t *tree, const char *key, size_t n, bool integers)
{
	json_t	   *a = json_object_get(tree, key);
	json_t	   *v;
	size_t		i;

	if (!json_is_array(a) || json_array_size(a) != n)
		return NULL;
	json_array_foreach(a, i, v)
	{
		if (integers ? !json_is_integer(v) : !json_is_number(v))
			return NULL;
	}
	return a;
}

/* element i of an array of integers */
static long long
IntAt(json_t *a, size_t i)
{
	return json_integer_value(json_array_get(a, i));
}

/*
 * Check tree number t: consistent node arrays, and from the root a proper
 * binary tree (each node reached once, children pointing back at their
 * parent, split features below num_feature, numerical splits only).
 * Nodes the root does not reach (deleted by pruning) are not looked at.
 */
static int
CheckTree(json_t *tree, size_t t, long long num_feature, LlmError *err)
{
	static const char *const numbers[] = {
		"split_conditions", "base_weights", "loss_changes", "sum_hessian"
	};
	static const char *const empty[] = {
		"categories", "categories_nodes", "categories_segments",
		"categories_sizes"
	};
	json_t	   *param = json_object_get(tree, "tree_param");
	json_t	   *left,
			   *right,
			   *parents,
			   *split,
			   *dleft,
			   *stype;
	long long	n,
				v;
	uint8_t    *seen = NULL;
	int64_t    *stack = NULL;
	int64_t		depth = 0;
	int			rc = LLM_OK;

	if (!json_is_object(tree) || !json_is_object(param) ||
		!json_is_integer(json_object_get(tree, "id")) ||
		json_integer_value(json_object_get(tree, "id")) != (long long) t ||
		!StrInt(param, "num_nodes", 1, INT32_MAX - 1, &n) ||
		!StrInt(param, "num_deleted", 0, n - 1, &v) ||
		!StrInt(param, "size_leaf_vector", 0, 0, &v) ||
		!StrInt(param, "num_feature", num_feature, num_feature, &v))
		return LlmSetError(err, LLM_ERR_FORMAT,
						   "xgboost model: tree %zu has a bad tree_param", t);
	left = NodeArray(tree, "left_children", n, true);
	right = NodeArray(tree, "right_children", n, true);
	parents = NodeArray(tree, "parents", n, true);
	split = NodeArray(tree, "split_indices", n, true);
	dleft = NodeArray(tree, "default_left", n, true);
	stype = NodeArray(tree, "split_type", n, true);
	if (!left || !right || !parents || !split || !dleft || !stype)
		return LlmSetError(err, LLM_ERR_FORMAT,
						   "xgboost model: tree %zu has a missing or "
						   "mis-sized node array", t);
	for (int k = 0; k < 4; k++)
		if (NodeArray(tree, numbers[k], n, false) == NULL)
			return LlmSetError(err, LLM_ERR_FORMAT,
							   "xgboost model: tree %zu has a bad %s",
							   t, numbers[k]);
	for (int k = 0; k < 4; k++)
		if (NodeArray(tree, empty[k], 0, true) == NULL)
			return LlmSetError(err, LLM_ERR_FORMAT,
							   "xgboost model: tree %zu has categorical "
							   "splits", t);

	seen = LlmAllocZero((size_t) n, err);
	stack = LlmAlloc((size_t) n * sizeof(int64_t), err);
	if (seen == NULL || stack == NULL)
	{
		rc = LLM_ERR_NOMEM;
		goto done;
	}
	v = IntAt(parents, 0);
	if (v != -1 && v != INT32_MAX)
		goto bad;
	seen[0] = 1;
	stack[depth++] = 0;
	while (depth > 0)
	{
		int64_t		i = stack[--depth];
		long long	l = IntAt(left, i);
		long long	r = IntAt(right, i);

		if (IntAt(dleft, i) != 0 && IntAt(dleft, i) != 1)
			goto bad;
		if (l == -1 && r == -1)
			continue;			/* a leaf */
		if (l < 1 || l >= n || r < 1 || r >= n || l == r ||
			seen[l] || seen[r] ||
			IntAt(parents, l) != i || IntAt(parents, r) != i ||
			IntAt(split, i) < 0 || IntAt(split, i) >= num_feature ||
			IntAt(stype, i) != 0)
			goto bad;
		seen[l] = seen[r] = 1;
		stack[depth++] = l;
		stack[depth++] = r;
	}
	goto done;

bad:
	rc = LlmSetError(err, LLM_ERR_FORMAT,
					 "xgboost model: tree %zu is not a well-formed tree", t);
done:
	free(seen);
	free(stack);
	return rc;
}

/*
 * Check a JSON model before XGBoost parses it.  XGBoost 1.7 trusts its
 * input (a truncated UBJ document or a child index out of range makes it
 * read past its buffers), and a model comes from a table a user may write,
 * so the document must be strict JSON without duplicate keys, a gbtree of
 * an objective this extension trains, and well-formed trees.  The task,
 * class count and feature count must agree with model's header; a header
 * count left 0 is filled in.  *nthread gets the thread bound stored with
 * the model, or -1.
 */
static int
CheckModelJson(MlModel *model, int *nthread, LlmError *err)
{
	json_error_t jerr;
	json_t	   *root;
	json_t	   *learner,
			   *lmp,
			   *gbm,
			   *trees,
			   *info,
			   *names,
			   *v;
	const char *objective;
	long long	num_feature,
				num_class,
				num_trees,
				x;
	long long	groups;
	json_t	   *attrs;
	MlTask		task;
	int			classes = 0;
	size_t		i;
	int			rc = LLM_OK;

	*nthread = -1;
	root = json_loadb((const char *) model->blob, model->blob_len,
					  JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return LlmSetError(err, LLM_ERR_FORMAT,
						   "xgboost model is not valid JSON: %s (at byte %d)",
						   jerr.text, jerr.position);

	learner = json_object_get(root, "learner");
	lmp = json_object_get(learner, "learner_model_param");
	objective = json_string_value(json_object_get(json_object_get(learner,
																  "objective"),
												  "name"));
	if (!json_is_object(lmp) ||
		!StrInt(lmp, "num_feature", 1, XGB_MAX_FEATURES, &num_feature) ||
		!StrInt(lmp, "num_class", 0, XGB_MAX_CLASSES, &num_class) ||
		(json_object_get(lmp, "num_target") != NULL &&
		 !StrInt(lmp, "num_target", 1, 1, &x)) || objective == NULL)
	{
		rc = LlmSetError(err, LLM_ERR_FORMAT,
						 "xgboost model has no valid learner parameters");
		goto done;
	}

	if (strcmp(objective, "reg:squarederror") == 0 && num_class == 0)
		task = ML_TASK_REGRESSION;
	else if (strcmp(objective, "binary:logistic") == 0 && num_class == 0)
	{
		task = ML_TASK_CLASSIFICATION;
		classes = 2;
	}
	else if (strcmp(objective, "multi:softprob") == 0 && num_class >= 2)
	{
		task = ML_TASK_CLASSIFICATION;
		classes = (int) num_class;
	}
	else
	{
		rc = LlmSetError(err, LLM_ERR_FORMAT,
						 "xgboost model's objective \"%s\" (%lld classes) "
						 "is not one this extension trains",
						 objective, num_class);
		goto done;
	}

	attrs = json_object_get(learner, "attributes");
	if (attrs != NULL && !json_is_object(attrs))
	{
		rc = LlmSetError(err, LLM_ERR_FORMAT,
						 "xgboost model has bad attributes");
		goto done;
	}
	if (json_object_get(attrs, XGB_ATTR_NTHREAD) != NULL)
	{
		if (!StrInt(attrs, XGB_ATTR_NTHREAD, 0, XGB_MAX_THREADS, &x))
		{
			rc = LlmSetError(err, LLM_ERR_FORMAT,
							 "xgboost model has a bad thread count");
			goto done;
		}
		*nthread = (int) x;
	}

	names = json_object_get(learner, "feature_names");
	v = json_object_get(learner, "feature_types");
	if ((names != NULL && (!json_is_array(names) ||
						   json_array_size(names) != 0)) ||
		(v != NULL && (!json_is_array(v) || json_array_size(v) != 0)))
	{
		rc = LlmSetError(err, LLM_ERR_FORMAT,
						 "xgboost model has feature names or types");
		goto done;
	}

	gbm = json_object_get(learner, "gradient_booster");
	v = json_object_get(gbm, "name");
	if (!json_is_string(v) || strcmp(json_string_value(v), "gbtree") != 0)
	{
		rc = LlmSetError(err, LLM_ERR_FORMAT,
						 "xgboost model is not a gbtree booster");
		goto done;
	}
	gbm = json_object_get(gbm, "model");
	v = json_object_get(gbm, "gbtree_model_param");
	trees = json_object_get(gbm, "trees");
	info = json_object_get(gbm, "tree_info");
	if (!json_is_object(v) ||
		!StrInt(v, "num_trees", 0, INT32_MAX, &num_trees) ||
		!StrInt(v, "num_parallel_tree", 1, 1, &x) ||
		(json_object_get(v, "size_leaf_vector") != NULL &&
		 !StrInt(v, "size_leaf_vector", 0, 0, &x)) ||
		!json_is_array(trees) ||
		json_array_size(trees) != (size_t) num_trees ||
		NodeArray(gbm, "tree_info", (size_t) num_trees, true) == NULL)
	{
		rc = LlmSetError(err, LLM_ERR_FORMAT,
						 "xgboost model has no valid tree list");
		goto done;
	}
	groups = num_class > 0 ? num_class : 1;
	json_array_foreach(info, i, v)
	{
		if (json_integer_value(v) < 0 || json_integer_value(v) >= groups)
		{
			rc = LlmSetError(err, LLM_ERR_FORMAT,
							 "xgboost model: tree %zu has a bad output group",
							 i);
			goto done;
		}
	}
	json_array_foreach(trees, i, v)
	{
		if ((rc = CheckTree(v, i, num_feature, err)) != LLM_OK)
			goto done;
	}

	/* the model's header must describe the same model */
	if (model->task != task)
		rc = LlmSetError(err, LLM_ERR_FORMAT,
						 "xgboost model is for %s, its header says %s",
						 TaskWord(task), TaskWord(model->task));
	else if (model->n_features > 0 && model->n_features != num_feature)
		rc = LlmSetError(err, LLM_ERR_FORMAT,
						 "xgboost model has %lld features, its header says %d",
						 num_feature, model->n_features);
	else if (task == ML_TASK_CLASSIFICATION && model->n_classes > 0 &&
			 model->n_classes != classes)
		rc = LlmSetError(err, LLM_ERR_FORMAT,
						 "xgboost model has %d classes, its header says %d",
						 classes, model->n_classes);
	else
	{
		model->n_features = (int) num_feature;
		model->n_classes = classes;
		model->n_outputs = classes > 2 ? classes : 1;
	}

done:
	json_decref(root);
	return rc;
}

/*
 * Build model->booster from model->blob (JSON, checked first).  The header
 * fields (task, n_classes, n_features) must agree with the model.
 */
int
MlXgbLoad(MlModel *model, LlmError *err)
{
	BoosterHandle booster = NULL;
	bst_ulong	nfeat = 0;
	int			nthread;
	sigset_t	saved;
	int			status;
	int			rc;

	if (model->blob == NULL || model->blob_len == 0)
		return LlmSetError(err, LLM_ERR_FORMAT, "xgboost model is empty");
	if ((rc = CheckModelJson(model, &nthread, err)) != LLM_OK)
		return rc;
	if (!QuietXgboost())
		return XgbError(err, LLM_ERR_DEVICE, "configuration");
	if (XGBoosterCreate(NULL, 0, &booster) != 0)
		return XgbError(err, LLM_ERR_DEVICE, "creating the booster");
	/*
	 * XGBoost parses the trees in parallel, with the thread count of the
	 * booster's context, which a parameter only reaches when the booster
	 * is configured; reading the configuration back configures it (an
	 * empty booster needs the feature count for that).
	 */
	if (nthread > 0)
	{
		bst_ulong	len = 0;
		const char *config = NULL;

		if ((rc = SetParamInt(booster, "nthread", nthread, err)) != LLM_OK ||
			(rc = SetParamInt(booster, "num_feature", model->n_features,
							  err)) != LLM_OK)
			goto fail;
		BlockSignals(&saved);
		status = XGBoosterSaveJsonConfig(booster, &len, &config);
		RestoreSignals(&saved);
		if (status != 0)
		{
			rc = XgbError(err, LLM_ERR_DEVICE, "configuring the booster");
			goto fail;
		}
	}
	BlockSignals(&saved);
	status = XGBoosterLoadModelFromBuffer(booster, model->blob,
										  (bst_ulong) model->blob_len);
	RestoreSignals(&saved);
	if (status != 0)
	{
		rc = XgbError(err, LLM_ERR_FORMAT, "loading the model");
		goto fail;
	}
	if (XGBoosterGetNumFeature(booster, &nfeat) != 0)
	{
		rc = XgbError(err, LLM_ERR_FORMAT, "reading the model");
		goto fail;
	}
	if (nfeat != (bst_ulong) model->n_features)
	{
		rc = LlmSetError(err, LLM_ERR_FORMAT,
						 "xgboost model has %" PRIu64 " features, not %d",
						 (uint64_t) nfeat, model->n_features);
		goto fail;
	}
	if (model->booster != NULL)
		XGBoosterFree(model->booster);
	model->booster = booster;
	model->algorithm = ML_ALG_XGBOOST;
	return LLM_OK;

fail:
	XGBoosterFree(booster);
	return rc;
}

/*
 * Predict the rows of x.  out gets one value per row (regression), the
 * class index (classification: argmax, or p > 0.5 for two classes, as
 * XGBClassifier decides), or with proba n_classes probabilities per row
 * ([1 - p, p] for two classes).
 */
int
MlXgbPredict(const MlModel *model, const MlMatrix *x, double *out,
			 bool proba, LlmError *err)
{
	char		array[256];
	const bst_ulong *shape = NULL;
	bst_ulong	dim = 0;
	const float *res = NULL;
	uint64_t	per_row;
	sigset_t	saved;
	int			status;
	int			rc;

	if (model->booster == NULL)
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "xgboost model is not loaded");
	if (proba && model->task != ML_TASK_CLASSIFICATION)
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "probabilities need a classification model");
	if (x->cols != model->n_features)
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "xgboost model takes %d features, not %d",
						   model->n_features, x->cols);
	if ((rc = ArrayInterface(x, array, sizeof(array), err)) != LLM_OK)
		return rc;
	if (!QuietXgboost())
		return XgbError(err, LLM_ERR_DEVICE, "configuration");
	BlockSignals(&saved);
	status = XGBoosterPredictFromDense(model->booster, array,
									   "{\"type\": 0, \"training\": false, "
									   "\"iteration_begin\": 0, "
									   "\"iteration_end\": 0, "
									   "\"strict_shape\": false, "
									   "\"cache_id\": 0, \"missing\": NaN}",
									   NULL, &shape, &dim, &res);
	RestoreSignals(&saved);
	if (status != 0)
		return XgbError(err, LLM_ERR_ARGUMENT, "prediction");

	per_row = (model->task == ML_TASK_CLASSIFICATION && model->n_classes > 2)
		? (uint64_t) model->n_classes : 1;
	if (res == NULL || shape == NULL || dim < 1 || dim > 2 ||
		shape[0] != (bst_ulong) x->rows ||
		(dim == 2 ? shape[1] : 1) != per_row)
		return LlmSetError(err, LLM_ERR_FORMAT,
						   "xgboost prediction has an unexpected shape");

	for (int64_t i = 0; i < x->rows; i++)
	{
		if (model->task == ML_TASK_REGRESSION)
			out[i] = res[i];
		else if (per_row == 1)
		{
			double		p = res[i];

			if (proba)
			{
				out[2 * i] = 1.0 - p;
				out[2 * i + 1] = p;
			}
			else
				out[i] = p > 0.5 ? 1.0 : 0.0;
		}
		else
		{
			const float *row = res + (uint64_t) i * per_row;

			if (proba)
			{
				for (uint64_t k = 0; k < per_row; k++)
					out[(uint64_t) i * per_row + k] = row[k];
			}
			else
			{
				uint64_t	best = 0;

				for (uint64_t k = 1; k < per_row; k++)
					if (row[k] > row[best])
						best = k;
				out[i] = (double) best;
			}
		}
	}
	return LLM_OK;
}

/* free the booster and the blob */
void
MlXgbFree(MlModel *model)
{
	if (model->booster != NULL)
		XGBoosterFree(model->booster);
	model->booster = NULL;
	free(model->blob);
	model->blob = NULL;
	model->blob_len = 0;
}
