/*-------------------------------------------------------------------------
 *
 * mlsqlregister.c
 *	  The last phase of a training: the version row with its lineage, and a
 *	  first deployment.
 *
 * Roles may read the registry but not write it: the rows are written here
 * with the registry owner's privileges, so versions, their numbers and
 * lineage come only from training.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/syscache.h"

#include "compat.h"
#include "ml/mlsqltrain.h"

/* the feature signature as JSON text */
static char *
SignatureJson(const TrainSet *ts)
{
	StringInfoData buf;
	static const char *const kinds[] = {"numeric", "boolean", "categorical", "vector"};

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	for (int c = 0; c < ts->nfeatures; c++)
	{
		appendStringInfoString(&buf, c ? ", {\"name\": " : "{\"name\": ");
		escape_json(&buf, ts->features[c].name);
		appendStringInfoString(&buf, ", \"type\": ");
		escape_json(&buf, ts->features[c].type_name);
		appendStringInfo(&buf, ", \"kind\": \"%s\", \"width\": %d}",
						 kinds[ts->features[c].kind], ts->raw->cols[c].width);
	}
	appendStringInfoChar(&buf, ']');
	return buf.data;
}

/* the class labels as a JSON array, or NULL */
static char *
LabelsJson(const TrainSet *ts)
{
	StringInfoData buf;

	if (ts->task != ML_TASK_CLASSIFICATION)
		return NULL;
	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	for (int i = 0; i < ts->n_classes; i++)
	{
		if (i)
			appendStringInfoString(&buf, ", ");
		escape_json(&buf, ts->labels[i]);
	}
	appendStringInfoChar(&buf, ']');
	return buf.data;
}

/* nullable text Datum */
static Datum
TextOrNull(const char *s, char *nulls, int i)
{
	nulls[i] = s ? ' ' : 'n';
	return s ? CStringGetTextDatum(s) : (Datum) 0;
}

/*
 * Registry rows are written with the privileges of the registry's owner:
 * roles may read the registry but not write it directly, so versions,
 * their numbers and lineage come only from training.  The statements run
 * in between are the glue's own (no user SQL).  An error restores the
 * caller's identity with the transaction's abort.  This becomes the owner
 * of mlops.model_versions.
 */
void
RegistryWriterBegin(RegistryWriter *rw)
{
	Oid			relid = get_relname_relid("model_versions", get_namespace_oid("mlops", false));
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	GetUserIdAndSecContext(&rw->save_uid, &rw->save_sec);
	rw->caller = GetUserNameFromId(rw->save_uid, false);
	SetUserIdAndSecContext(owner, rw->save_sec | SECURITY_LOCAL_USERID_CHANGE);
}

/* back to the caller */
void
RegistryWriterEnd(RegistryWriter *rw)
{
	SetUserIdAndSecContext(rw->save_uid, rw->save_sec);
}

/*
 * The training set (mlops.create_training_set) the source is, if any, and
 * its pinned feature references as a text[] literal: the features that
 * mlops.predict(model, entity => keys) fetches online
 */
static void
TrainingSetOf(const TrainSet *ts, char **name, char **refs)
{
	Oid			types[1] = {OIDOID};
	Datum		args[1];
	char	   *exists;

	*name = *refs = NULL;
	if (ts->src.is_query)
		return;
	exists = TrainQueryText("SELECT to_regclass('mlops.training_sets')::text", 0, NULL, NULL);
	if (exists == NULL)
		return;
	args[0] = ObjectIdGetDatum(ts->src.relid);
	if (SPI_execute_with_args("SELECT t.name, (SELECT array_agg(format('%s@%s:%s', e->>'view', e->>'version', e->>'feature')"
							  " ORDER BY o) FROM jsonb_array_elements(t.features) WITH ORDINALITY AS x(e, o))::text"
							  " FROM mlops.training_sets t WHERE t.relid = $1",
							  1, types, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read mlops.training_sets");
	if (SPI_processed == 1)
	{
		*name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		*refs = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	}
}

/*
 * Register the version; deploy it when the model has no production
 * version.  Returns the version number.
 */
int
TrainRegister(const TrainSet *ts, const FitResult *fit, const MlParams *params,
		 double seconds, int64 tune_id)
{
	static const char *sql =
		"INSERT INTO mlops.model_versions (model, version, algorithm, hyperparams, preprocessing,"
		" features, target, target_type, classes, metrics, artifact, source, row_count,"
		" train_rows, test_rows, data_checksum, snapshot_xmin, snapshot_lsn, seed, test_fraction,"
		" extension_version, device, train_seconds, tune_id, training_set, online_features,"
		" created_by)"
		" VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6::jsonb, $7, $8, $9::jsonb, $10::jsonb, $11,"
		" $12, $13, $14, $15, $16, $21::xid8, $22::pg_lsn,"
		" $17, $18, (SELECT extversion FROM pg_extension WHERE extname = 'pgmlops'),"
		" 'cpu', $19, $20, $23, $24::text[], $25)";
	Oid			types[25] = {TEXTOID, INT4OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
		TEXTOID, TEXTOID, TEXTOID, BYTEAOID, TEXTOID, INT8OID, INT8OID, INT8OID, TEXTOID,
	INT4OID, FLOAT8OID, FLOAT8OID, INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		v[25];
	char		n[26];
	RegistryWriter rw;
	char	   *training_set = NULL;
	char	   *online_features = NULL;
	Oid			t1[1] = {TEXTOID};
	Datum		a1[1];
	Oid			t2[2] = {TEXTOID, TEXTOID};
	Datum		a2[2];
	char	   *s;
	int			version;
	uint8_t    *artifact;
	size_t		artifact_len;
	bytea	   *ba;
	char	   *prep_json,
			   *params_json;
	LlmError	err;

	MlSqlProgressPhase("registering", ts->nrows, 0);
	memset(n, ' ', sizeof(n));
	n[25] = '\0';
	TrainingSetOf(ts, &training_set, &online_features);

	/*
	 * The model row, then the next version number (the UPDATE locks the
	 * model row; a concurrent first training of another task loses here)
	 */
	RegistryWriterBegin(&rw);
	a2[0] = CStringGetTextDatum(ts->model);
	a2[1] = CStringGetTextDatum(MlTaskName(ts->task));
	if (SPI_execute_with_args(psprintf("INSERT INTO mlops.models (name, task, owner) VALUES ($1, $2, %s) "
									   "ON CONFLICT (name) DO NOTHING", quote_literal_cstr(rw.caller)),
							  2, t2, a2, NULL, false, 0) < 0)
		elog(ERROR, "could not register model");
	a1[0] = a2[0];
	s = TrainQueryText("UPDATE mlops.models SET last_version = last_version + 1 WHERE name = $1 "
				  "RETURNING last_version || ' ' || task", 1, t1, a1);
	if (s == NULL)
		elog(ERROR, "model \"%s\" vanished", ts->model);
	version = atoi(s);
	if (strcmp(strchr(s, ' ') + 1, MlTaskName(ts->task)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("model \"%s\" is a %s model, not %s", ts->model, strchr(s, ' ') + 1,
						MlTaskName(ts->task))));

	Check(MlModelSave(fit->model, &artifact, &artifact_len, &err), &err, NULL);
	MlSqlHoldMalloc(artifact);
	ba = palloc_extended(VARHDRSZ + artifact_len, MCXT_ALLOC_HUGE);
	SET_VARSIZE(ba, VARHDRSZ + artifact_len);
	memcpy(VARDATA(ba), artifact, artifact_len);
	prep_json = MlPrepToJson(fit->prep, &err);
	if (prep_json == NULL)
		MlSqlReport(&err, NULL);
	MlSqlHoldMalloc(prep_json);
	params_json = MlParamsToJson(ts->alg, params);
	if (params_json == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	MlSqlHoldMalloc(params_json);

	v[0] = a2[0];
	v[1] = Int32GetDatum(version);
	v[2] = CStringGetTextDatum(MlAlgorithmName(ts->alg));
	v[3] = CStringGetTextDatum(params_json);
	v[4] = CStringGetTextDatum(prep_json);
	v[5] = CStringGetTextDatum(SignatureJson(ts));
	v[6] = TextOrNull(ts->target, n, 6);
	v[7] = TextOrNull(ts->target_type, n, 7);
	v[8] = TextOrNull(LabelsJson(ts), n, 8);
	v[9] = CStringGetTextDatum(fit->metrics);
	v[10] = PointerGetDatum(ba);
	v[11] = CStringGetTextDatum(ts->src.text);
	v[12] = Int64GetDatum(ts->nvalid);
	v[13] = Int64GetDatum(ts->ntrain);
	v[14] = Int64GetDatum(ts->ntest);
	v[15] = CStringGetTextDatum(psprintf("%016llx", (unsigned long long) ts->checksum));
	v[16] = Int32GetDatum(ts->seed);
	v[17] = Float8GetDatum(ts->test_fraction);
	v[18] = Float8GetDatum(seconds);
	v[19] = Int64GetDatum(tune_id);
	n[19] = tune_id > 0 ? ' ' : 'n';
	v[20] = TextOrNull(ts->snapshot_xmin, n, 20);
	v[21] = TextOrNull(ts->snapshot_lsn, n, 21);
	v[22] = TextOrNull(training_set, n, 22);
	v[23] = TextOrNull(online_features, n, 23);
	v[24] = CStringGetTextDatum(rw.caller);
	if (SPI_execute_with_args(sql, 25, types, v, n, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not register the model version");
	RegistryWriterEnd(&rw);

	/* a first version goes to production */
	s = TrainQueryText("SELECT version FROM mlops.model_aliases WHERE model = $1 AND alias = 'production'",
				  1, t1, a1);
	if (s == NULL)
	{
		Oid			t3[2] = {TEXTOID, INT4OID};
		Datum		a3[2] = {a1[0], Int32GetDatum(version)};

		if (SPI_execute_with_args("SELECT mlops.deploy($1, $2)", 2, t3, a3, NULL, false, 0) < 0)
			elog(ERROR, "could not deploy the first version");
	}
	return version;
}
