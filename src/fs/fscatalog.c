/*-------------------------------------------------------------------------
 *
 * fscatalog.c
 *	  Checks on feature view queries: they must not run volatile code.
 *
 * A feature view's query is written by an mlops_admin and run by whoever
 * reads features (point-in-time joins, materialization, statistics), with
 * that reader's privileges.  Code that writes needs a volatile function (a
 * non-volatile PL function runs read-only), so a query with no volatile
 * function, checked when it is defined and again each time it runs, cannot
 * act with the reader's privileges beyond reading.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "nodes/parsenodes.h"
#include "optimizer/optimizer.h"
#include "parser/analyze.h"
#include "parser/parser.h"
#include "rewrite/rewriteHandler.h"
#include "utils/builtins.h"

#include "fs/fs.h"

/*
 * Refuse a feature view query that is not one SELECT, or that calls a
 * volatile function anywhere, views it reads included
 */
void
FeatureStoreCheckQuery(const char *sql, const char *view)
{
	List	   *raw = raw_parser(sql, RAW_PARSE_DEFAULT);
	RawStmt    *stmt;
	Query	   *query;
	List	   *rewritten;
	ListCell   *lc;

	if (list_length(raw) != 1 || !IsA(((RawStmt *) linitial(raw))->stmt, SelectStmt))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the query of feature view \"%s\" is not one SELECT statement", view)));
	stmt = (RawStmt *) linitial(raw);
	query = parse_analyze_fixedparams(stmt, sql, NULL, 0, NULL);
	rewritten = QueryRewrite(query);
	foreach(lc, rewritten)
	{
		if (contain_volatile_functions((Node *) lfirst(lc)))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("feature view \"%s\" calls a volatile function", view),
					 errdetail("Feature view queries run with the privileges of whoever reads the features, so they may not call volatile functions."),
					 errhint("Use stable or immutable expressions; compute volatile values in the source table.")));
	}
}

PG_FUNCTION_INFO_V1(fs_check_feature_query);

/*
 * mlops._check_feature_query(query, view): the check for SQL callers
 */
Datum
fs_check_feature_query(PG_FUNCTION_ARGS)
{
	FeatureStoreCheckQuery(text_to_cstring(PG_GETARG_TEXT_PP(0)),
						   text_to_cstring(PG_GETARG_TEXT_PP(1)));
	PG_RETURN_VOID();
}
