/*-------------------------------------------------------------------------
 *
 * mlsqldata.c
 *	  Reading training and scoring data through SPI, with the caller's
 *	  privileges, in batches.
 *
 * A source is a table or view name or a query.  Every value is read with
 * a cast chosen by the column's kind (numbers and booleans as float8,
 * categories as text, vectors and arrays as float8[]), so that one reader
 * serves every type.  Callers are connected to SPI.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <math.h>

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "access/transam.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/syscache.h"

#include "compat.h"
#include "llm/llmsql.h"
#include "ml/mlsql.h"

/* does s start with keyword kw (case-insensitive) followed by a non-letter? */
static bool
StartsWithKeyword(const char *s, const char *kw)
{
	size_t		n = strlen(kw);

	return pg_strncasecmp(s, kw, n) == 0 &&
		!(isalnum((unsigned char) s[n]) || s[n] == '_');
}

/* skip white space and SQL comments */
static const char *
SkipSpaceAndComments(const char *s)
{
	for (;;)
	{
		while (isspace((unsigned char) *s))
			s++;
		if (s[0] == '-' && s[1] == '-')
		{
			while (*s && *s != '\n')
				s++;
		}
		else if (s[0] == '/' && s[1] == '*')
		{
			const char *end = strstr(s + 2, "*/");

			if (end == NULL)
				return s;
			s = end + 2;
		}
		else
			return s;
	}
}

/*
 * Refuse a query that is not exactly one SELECT (a source is pasted into
 * "SELECT ... FROM (source) AS s": a ")" and a ";" would otherwise append
 * statements of the caller's choosing)
 */
void
MlSqlCheckSingleSelect(const char *query)
{
	MemoryContext cxt = CurrentMemoryContext;
	List	   *stmts = NIL;

	/* a syntax error's position would point into the caller's statement */
	PG_TRY();
	{
		stmts = raw_parser(query, RAW_PARSE_DEFAULT);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("the source query does not parse: %s", edata->message)));
	}
	PG_END_TRY();
	if (list_length(stmts) != 1 ||
		!IsA(((RawStmt *) linitial(stmts))->stmt, SelectStmt))
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("a source query must be exactly one SELECT statement")));
}

PG_FUNCTION_INFO_V1(ml_check_single_select);

/*
 * mlops._check_single_select(query): the same check for SQL callers
 */
Datum
ml_check_single_select(PG_FUNCTION_ARGS)
{
	MlSqlCheckSingleSelect(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	PG_RETURN_VOID();
}

/*
 * Resolve a source: a query (SELECT, WITH, VALUES, TABLE or a parenthesized
 * query) or the name of a relation the caller can see
 */
void
MlSqlSourceInit(MlSqlSource *src, const char *text)
{
	const char *s = SkipSpaceAndComments(text);

	if (*s == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source must not be empty")));
	src->text = pstrdup(text);
	if (*s == '(' || StartsWithKeyword(s, "select") || StartsWithKeyword(s, "with") ||
		StartsWithKeyword(s, "values") || StartsWithKeyword(s, "table"))
	{
		char	   *q = pstrdup(s);
		size_t		len = strlen(q);

		/* a trailing semicolon would end the wrapping query */
		while (len > 0 && (isspace((unsigned char) q[len - 1]) || q[len - 1] == ';'))
			q[--len] = '\0';
		MlSqlCheckSingleSelect(q);
		src->is_query = true;
		src->relid = InvalidOid;
		src->from = psprintf("(%s\n) AS pgmlops_source", q);
	}
	else
	{
		List	   *names = stringToQualifiedNameList(s);
		RangeVar   *rv = makeRangeVarFromNameList(names);
		Oid			relid = RangeVarGetRelid(rv, AccessShareLock, true);

		if (!OidIsValid(relid))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("relation \"%s\" does not exist", s),
					 errhint("The source is a table or view name, or a query starting with SELECT, WITH, VALUES or TABLE.")));
		src->is_query = false;
		src->relid = relid;
		src->from = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
											   get_rel_name(relid));
	}
}

/*
 * Is type the extension's vector (name "vector") or halfvec type?  Told
 * by the name of its input function, which is ours.
 */
bool
MlSqlIsVectorType(Oid type, const char *name)
{
	Oid			infunc;
	Oid			ioparam;
	char	   *fname;
	char		want[NAMEDATALEN];
	bool		result;

	if (type < FirstNormalObjectId)
		return false;
	getTypeInputInfo(type, &infunc, &ioparam);
	fname = get_func_name(infunc);
	snprintf(want, sizeof(want), "%s_in", name);
	result = fname != NULL && strcmp(fname, want) == 0;
	if (fname)
		pfree(fname);
	return result;
}

/*
 * The kind of feature a column type gives: numbers, booleans, categories
 * (text-like types and enums), vectors (vector, halfvec and numeric arrays)
 */
bool
MlSqlColumnKindOf(Oid type, MlColumnKind *kind)
{
	switch (type)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case FLOAT4OID:
		case FLOAT8OID:
		case NUMERICOID:
			*kind = ML_COL_NUMERIC;
			return true;
		case BOOLOID:
			*kind = ML_COL_BOOLEAN;
			return true;
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
		case NAMEOID:
		case CHAROID:
			*kind = ML_COL_CATEGORICAL;
			return true;
		case INT2ARRAYOID:
		case INT4ARRAYOID:
		case INT8ARRAYOID:
		case FLOAT4ARRAYOID:
		case FLOAT8ARRAYOID:
		case NUMERICARRAYOID:
			*kind = ML_COL_VECTOR;
			return true;
	}
	if (type_is_enum(type))
	{
		*kind = ML_COL_CATEGORICAL;
		return true;
	}
	if (MlSqlIsVectorType(type, "vector") || MlSqlIsVectorType(type, "halfvec"))
	{
		*kind = ML_COL_VECTOR;
		return true;
	}
	return false;
}

/*
 * The columns of a source, from a plan of SELECT * (no rows are read)
 */
MlSqlColumn *
MlSqlDescribe(const MlSqlSource *src, int *ncols)
{
	char	   *sql = psprintf("SELECT * FROM %s LIMIT 0", src->from);
	SPIPlanPtr	plan = SPI_prepare(sql, 0, NULL);
	TupleDesc	desc;
	MlSqlColumn *cols;
	int			n = 0;

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	if (SPI_execute_plan(plan, NULL, NULL, true, 0) != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("source must be a table, a view or a query returning rows")));
	desc = SPI_tuptable->tupdesc;
	cols = palloc0_array(MlSqlColumn, Max(desc->natts, 1));
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped)
			continue;
		cols[n].name = pstrdup(NameStr(att->attname));
		cols[n].type = att->atttypid;
		cols[n].type_name = format_type_be(att->atttypid);
		if (!MlSqlColumnKindOf(att->atttypid, &cols[n].kind))
			cols[n].kind = (MlColumnKind) -1;
		n++;
	}
	SPI_freetuptable(SPI_tuptable);
	SPI_freeplan(plan);
	*ncols = n;
	return cols;
}

/* the expression that reads a column of a kind */
static char *
ReadExpression(const MlSqlColumn *col)
{
	const char *q = quote_identifier(col->name);

	switch (col->kind)
	{
		case ML_COL_NUMERIC:
			return psprintf("(%s)::float8", q);
		case ML_COL_BOOLEAN:
			return psprintf("(%s)::int::float8", q);
		case ML_COL_CATEGORICAL:
			return psprintf("(%s)::text", q);
		case ML_COL_VECTOR:
			if (MlSqlIsVectorType(col->type, "vector"))
				return psprintf("(%s)::real[]::float8[]", q);
			if (MlSqlIsVectorType(col->type, "halfvec"))
				return psprintf("(%s)::vector::real[]::float8[]", q);
			return psprintf("(%s)::float8[]", q);
	}
	elog(ERROR, "unexpected column kind %d", (int) col->kind);
	return NULL;				/* keep compiler quiet */
}

/*
 * Raise the error for a core status, first honouring a pending cancel
 */
void
MlSqlReport(const LlmError *err, const char *context)
{
	if (err->code == LLM_ERR_CANCELLED)
		CHECK_FOR_INTERRUPTS();
	if (context)
		ereport(ERROR,
				(errcode(LlmSqlErrcode(err->code)),
				 errmsg("%s: %s", context, err->message)));
	ereport(ERROR,
			(errcode(LlmSqlErrcode(err->code)),
			 errmsg("%s", err->message)));
}

/* store one vector value (float8[] datum) of column c at row r */
static void
StoreVector(MlRawColumn *col, int64 r, Datum d)
{
	ArrayType  *arr = DatumGetArrayTypeP(d);
	int			n;
	const double *v;

	if (ARR_NDIM(arr) > 1 || ARR_HASNULL(arr))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("column \"%s\" has an array that is not one-dimensional or holds NULLs",
						col->name)));
	n = ARR_NDIM(arr) == 0 ? 0 : ARR_DIMS(arr)[0];
	if (n != col->width)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("column \"%s\" has values of %d dimensions, expected %d",
						col->name, n, col->width)));
	v = (const double *) ARR_DATA_PTR(arr);
	for (int k = 0; k < n; k++)
	{
		if (!isfinite(v[k]))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("column \"%s\" holds a value that is not finite", col->name)));
		col->num[r * n + k] = v[k];
	}
}

/* fold bytes into the running checksum */
static inline uint64
Mix(uint64 h, const void *p, size_t len)
{
	return hash_bytes_extended((const unsigned char *) p, (int) len, h);
}

/* forget raw's rows, freeing their strings (rows are then reused) */
static void
ForgetRows(MlRawData *raw)
{
	for (int c = 0; c < raw->ncols; c++)
		if (raw->cols[c].str)
			for (int64 r = 0; r < raw->rows; r++)
			{
				free(raw->cols[c].str[r]);
				raw->cols[c].str[r] = NULL;
			}
	raw->rows = 0;
}

/*
 * The reader is a DestReceiver: the executor hands it each row's slot,
 * which it stores straight into the raw columns (no copy of the tuple).
 */
typedef struct ReadReceiver
{
	DestReceiver pub;
	MlSqlRead  *rd;
	MlRawData  *raw;
	int64		batch_start;	/* first row of the current batch in raw */
	int64		extra_cap;
	MemoryContext cxt;			/* the caller's: outlives the query */
	MemoryContext batch_cxt;	/* per batch: extra values when not appending */
	MemoryContext extra_cxt;
} ReadReceiver;

/* checksum of rows [from, raw->rows) of every column, column-wise */
static void
ChecksumBatch(ReadReceiver *rr)
{
	MlSqlRead  *rd = rr->rd;
	MlRawData  *raw = rr->raw;
	int64		from = rr->batch_start;
	int64		n = raw->rows - from;

	for (int c = 0; c < raw->ncols; c++)
	{
		MlRawColumn *col = &raw->cols[c];

		if (col->kind == ML_COL_CATEGORICAL)
			for (int64 r = from; r < raw->rows; r++)
				rd->checksum = col->str[r] ? Mix(rd->checksum, col->str[r], strlen(col->str[r]) + 1)
					: Mix(rd->checksum, "", 1);
		else
			rd->checksum = Mix(rd->checksum, col->num + from * col->width,
							   sizeof(double) * n * col->width);
	}
}

/* refuse data over the memory limit */
static void
CheckMemoryLimit(const MlSqlRead *rd, const MlRawData *raw)
{
	if (rd->memory_limit > 0 && (int64) MlRawBytes(raw) > rd->memory_limit)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("training data needs more than mlops.train_memory_limit (%lld kB)",
						(long long) (rd->memory_limit / 1024)),
				 errhint("Raise mlops.train_memory_limit, or train on a sample of the source.")));
}

/* a batch is complete: account for it and hand it over */
static void
FinishBatch(ReadReceiver *rr)
{
	MlSqlRead  *rd = rr->rd;
	MlRawData  *raw = rr->raw;
	int64		n = raw->rows - rr->batch_start;
	MemoryContext old;

	if (n == 0)
		return;
	/* the executor's memory is per query; the callback's must last */
	old = MemoryContextSwitchTo(rr->cxt);
	if (rd->want_checksum)
		ChecksumBatch(rr);
	CheckMemoryLimit(rd, raw);
	if (rd->batch_fn)
		rd->batch_fn(raw, rd->append ? rd->extra + rr->batch_start : rd->extra,
					 rd->append ? rd->extra_null + rr->batch_start : rd->extra_null,
					 n, rd->arg);
	if (!rd->append)
	{
		ForgetRows(raw);
		MemoryContextReset(rr->batch_cxt);
	}
	rr->batch_start = raw->rows;
	MemoryContextSwitchTo(old);
}

/* make room for one more row (and its extra value) */
static void
ReserveRow(ReadReceiver *rr)
{
	MlSqlRead  *rd = rr->rd;
	MlRawData  *raw = rr->raw;
	LlmError	err;

	if (raw->rows >= raw->capacity)
	{
		if (MlRawReserve(raw, raw->rows + 1, &err) != LLM_OK)
			MlSqlReport(&err, NULL);
		/* the arrays just grew: check the limit before filling them */
		CheckMemoryLimit(rd, raw);
	}
	if (rd->extra_expr && raw->rows >= rr->extra_cap)
	{
		int64		cap = Max(rr->extra_cap * 2, Max(raw->capacity, 1024));

		rd->extra = rr->extra_cap ? repalloc_huge(rd->extra, cap * sizeof(Datum))
			: MemoryContextAllocHuge(rr->cxt, cap * sizeof(Datum));
		rd->extra_null = rr->extra_cap ? repalloc_huge(rd->extra_null, cap * sizeof(bool))
			: MemoryContextAllocHuge(rr->cxt, cap * sizeof(bool));
		rr->extra_cap = cap;
	}
}

/* DestReceiver: store one row */
static bool
ReadReceiveSlot(TupleTableSlot *slot, DestReceiver *self)
{
	ReadReceiver *rr = (ReadReceiver *) self;
	MlSqlRead  *rd = rr->rd;
	MlRawData  *raw = rr->raw;
	int64		r = raw->rows;
	Datum	   *values;
	bool	   *nulls;

	ReserveRow(rr);
	slot_getallattrs(slot);
	values = slot->tts_values;
	nulls = slot->tts_isnull;
	for (int c = 0; c < raw->ncols; c++)
	{
		MlRawColumn *col = &raw->cols[c];

		switch (col->kind)
		{
			case ML_COL_NUMERIC:
			case ML_COL_BOOLEAN:
				if (nulls[c])
					col->num[r] = NAN;
				else
				{
					double		v = DatumGetFloat8(values[c]);

					if (!isfinite(v))
						ereport(ERROR,
								(errcode(ERRCODE_DATA_EXCEPTION),
								 errmsg("column \"%s\" holds a value that is not finite",
										col->name)));
					col->num[r] = v;
				}
				break;
			case ML_COL_CATEGORICAL:
				if (nulls[c])
					col->str[r] = NULL;
				else
				{
					text	   *t = DatumGetTextPP(values[c]);
					size_t		len = VARSIZE_ANY_EXHDR(t);
					char	   *str = malloc(len + 1);

					if (str == NULL)
						ereport(ERROR,
								(errcode(ERRCODE_OUT_OF_MEMORY),
								 errmsg("out of memory reading training data")));
					memcpy(str, VARDATA_ANY(t), len);
					str[len] = '\0';
					col->str[r] = str;
				}
				break;
			case ML_COL_VECTOR:
				if (nulls[c])
					for (int k = 0; k < col->width; k++)
						col->num[r * col->width + k] = NAN;
				else
					StoreVector(col, r, values[c]);
				break;
		}
	}
	if (rd->extra_expr)
	{
		int			e = raw->ncols;
		int64		slotno = rd->append ? r : r - rr->batch_start;

		rd->extra_null[slotno] = nulls[e];
		if (nulls[e])
			rd->extra[slotno] = (Datum) 0;
		else if (rd->extra_type == FLOAT8OID)
		{
			double		v = DatumGetFloat8(values[e]);

			rd->extra[slotno] = Float8GetDatum(v);
			if (rd->want_checksum)
				rd->checksum = Mix(rd->checksum, &v, sizeof(v));
		}
		else
		{
			MemoryContext old = MemoryContextSwitchTo(rr->extra_cxt);
			text	   *t = DatumGetTextPCopy(values[e]);

			MemoryContextSwitchTo(old);
			rd->extra[slotno] = PointerGetDatum(t);
			if (rd->want_checksum)
				rd->checksum = Mix(rd->checksum, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
		}
	}
	raw->rows = r + 1;
	rd->rows++;
	if (raw->rows - rr->batch_start >= rd->batch_rows)
		FinishBatch(rr);
	return true;
}

/* DestReceiver startup: the rows must have the columns the reader asked for */
static void
ReadStartup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
	ReadReceiver *rr = (ReadReceiver *) self;
	MlSqlRead  *rd = rr->rd;
	MlRawData  *raw = rr->raw;
	int			n = raw->ncols + (rd->extra_expr ? 1 : 0);
	bool		ok = typeinfo->natts == n;

	for (int c = 0; ok && c < raw->ncols; c++)
	{
		Oid			t = TupleDescAttr(typeinfo, c)->atttypid;

		ok = t == (raw->cols[c].kind == ML_COL_CATEGORICAL ? TEXTOID :
				   raw->cols[c].kind == ML_COL_VECTOR ? FLOAT8ARRAYOID : FLOAT8OID);
	}
	if (ok && rd->extra_expr)
		ok = TupleDescAttr(typeinfo, raw->ncols)->atttypid == rd->extra_type;
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("the source returned rows of an unexpected shape")));
}

/* DestReceiver callbacks with nothing to do */

static void
ReadShutdown(DestReceiver *self)
{
}

static void
ReadDestroy(DestReceiver *self)
{
}

/*
 * Read the source's features (and the extra expression) into raw
 */
void
MlSqlReadData(MlSqlRead *rd, MlRawData *raw)
{
	StringInfoData sql;
	ReadReceiver rr;
	SPIExecuteOptions opts;
	int			rc;

	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT ");
	for (int c = 0; c < raw->ncols; c++)
		appendStringInfo(&sql, "%s%s", c ? ", " : "", ReadExpression(&rd->cols[c]));
	if (rd->extra_expr)
		appendStringInfo(&sql, "%s%s", raw->ncols ? ", " : "", rd->extra_expr);
	appendStringInfo(&sql, " FROM %s", rd->src->from);

	memset(&rr, 0, sizeof(rr));
	rr.pub.receiveSlot = ReadReceiveSlot;
	rr.pub.rStartup = ReadStartup;
	rr.pub.rShutdown = ReadShutdown;
	rr.pub.rDestroy = ReadDestroy;
	rr.pub.mydest = DestNone;
	rr.rd = rd;
	rr.raw = raw;
	rr.cxt = CurrentMemoryContext;
	rr.batch_cxt = AllocSetContextCreate(CurrentMemoryContext, "pgmlops batch",
										 ALLOCSET_DEFAULT_SIZES);
	rr.extra_cxt = rd->append ? CurrentMemoryContext : rr.batch_cxt;
	rd->rows = 0;
	rd->checksum = 0;
	rd->extra = NULL;
	rd->extra_null = NULL;
	if (!rd->append)
		ForgetRows(raw);
	rr.batch_start = raw->rows;

	memset(&opts, 0, sizeof(opts));
	opts.read_only = true;
	opts.dest = (DestReceiver *) &rr;
	rc = SPI_execute_extended(sql.data, &opts);
	/* a SELECT into a receiver that is not DestSPI reports SPI_OK_UTILITY */
	if (rc != SPI_OK_SELECT && rc != SPI_OK_UTILITY)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("source must be a table, a view or a query returning rows")));
	FinishBatch(&rr);
	MemoryContextDelete(rr.batch_cxt);
}
