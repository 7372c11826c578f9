/*-------------------------------------------------------------------------
 *
 * llmcall.c
 *	  mlops.embed, mlops.generate, mlops.generate_stream and mlops.chat:
 *	  local models through the inference worker, remote ones through
 *	  their provider, every call traced (llmtrace.h).
 *
 * For a local model the session does the text work and the worker the
 * token work: the session renders the chat template, tokenizes (its
 * tokenizer cache), and turns the streamed token ids back into text with
 * LlmTextStream, which also finds stop strings; when one appears the
 * session ends the request, and the worker drops it at its next step.
 * A generation prompt is tokenized with the tokenizer's special tokens
 * (BOS), a rendered chat template without (the template has them), as
 * transformers does.  For a remote model, generate_stream asks the
 * provider for a streamed reply and returns each piece of text as it
 * arrives (llmremote.h).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/pg_prng.h"
#include "mb/pg_wchar.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "llm/chatrender.h"
#include "llm/generate.h"
#include "llm/llmremote.h"
#include "llm/llmserve.h"
#include "llm/llmsql.h"
#include "llm/llmtrace.h"
#include "vector/vector.h"

#define MAX_NEW_TOKENS	1000000
#define MAX_EMBED_INPUTS 65536	/* texts in one mlops.embed call */

/* sampling and limits of one generation */
typedef struct GenParams
{
	LlmSamplingParams sampling;
	int			max_tokens;
	bool		has_seed;
	const char *stop[LLM_MAX_STOP];
	int			n_stop;
	bool		ignore_eos;
} GenParams;

/* what a call reports to mlops.llm_calls */
typedef struct CallTrace
{
	TimestampTz started;
	const char *function;
	ServeModel *model;
	const char *prompt;
	size_t		prompt_len;
	int64		tokens_in;
	int64		tokens_out;
	TimestampTz first_token;
	const char *ref;			/* the model as the caller named it */
} CallTrace;

/* a local generation in progress */
typedef struct GenState
{
	ServeModel	model;
	LlmSvcCall	call;
	LlmTextStream ts;
	bool		ts_ready;
	bool		done;
	LlmFinishReason finish;
	int			prompt_tokens;
	int			completion_tokens;
	CallTrace	trace;
} GenState;

/* milliseconds between two timestamps */
static double
Ms(TimestampTz from, TimestampTz to)
{
	return (double) (to - from) / 1000.0;
}

/*
 * Text in the server's encoding -> UTF-8 for the engine and providers;
 * NUL-terminated (palloc'ed unless no conversion was needed and data
 * already ends with a NUL)
 */
static char *
ToUtf8(const char *data, size_t len, size_t *out_len)
{
	char	   *utf8 = (char *) pg_server_to_any(data, (int) len, PG_UTF8);

	if (utf8 == data)
		utf8 = pnstrdup(data, len);
	*out_len = strlen(utf8);
	return utf8;
}

/* a text argument as a UTF-8 C string */
static char *
TextToUtf8(text *t)
{
	size_t		len;

	return ToUtf8(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), &len);
}

/*
 * UTF-8 from the engine or a provider -> a C string in the server's
 * encoding; a text value cannot hold NUL, which a byte-fallback token can
 * decode to
 */
static char *
FromUtf8(const char *utf8, size_t len)
{
	char	   *copy;
	char	   *server;

	if (memchr(utf8, '\0', len) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNTRANSLATABLE_CHARACTER),
				 errmsg("the generated text contains a NUL byte"),
				 errdetail("A text value cannot hold the byte 0x00 that a generated token decodes to.")));
	copy = pnstrdup(utf8, len);
	(void) pg_verify_mbstr(PG_UTF8, copy, (int) len, false);
	server = (char *) pg_any_to_server(copy, (int) len, PG_UTF8);
	return server;
}

/* append a call to the trace */
static void
TraceEnd(const CallTrace *t, const char *status, const char *error)
{
	LlmTraceEntry e;
	TimestampTz now = GetCurrentTimestamp();

	memset(&e, 0, sizeof(e));
	e.started = t->started;
	e.function = t->function;
	e.model = t->model != NULL && t->model->name != NULL ? t->model->name : t->ref;
	e.version = t->model != NULL ? t->model->version : 0;
	e.provider = t->model != NULL && t->model->provider != NULL ? t->model->provider : "";
	e.prompt = t->prompt;
	e.prompt_len = t->prompt_len;
	e.tokens_in = t->tokens_in;
	e.tokens_out = t->tokens_out;
	e.ttft_ms = t->first_token != 0 ? Ms(t->started, t->first_token) : -1;
	e.total_ms = Ms(t->started, now);
	e.status = status;
	e.error = error;
	LlmTraceCall(&e);
}

/*
 * In a PG_CATCH block: trace the error being raised ("cancelled" for a
 * query cancel); the caller re-throws it
 */
static void
TraceError(const CallTrace *t, MemoryContext mcxt)
{
	MemoryContext ecxt = MemoryContextSwitchTo(mcxt);
	ErrorData  *ed = CopyErrorData();

	MemoryContextSwitchTo(ecxt);
	TraceEnd(t, ed->sqlerrcode == ERRCODE_QUERY_CANCELED ? "cancelled" : "error", ed->message);
}

/* start a trace */
static void
TraceStart(CallTrace *t, const char *function, ServeModel *m, const char *prompt,
		   size_t prompt_len)
{
	memset(t, 0, sizeof(*t));
	t->started = GetCurrentTimestamp();
	t->function = function;
	t->model = m;
	t->prompt = prompt;
	t->prompt_len = prompt_len;
	t->tokens_in = -1;
	t->tokens_out = -1;
	t->ref = "";
}

/* raise an engine error */
static void
EngineError(const LlmError *err, const char *what)
{
	ereport(ERROR,
			(errcode(LlmSqlErrcode(err->code)),
			 errmsg("%s: %s", what, err->message)));
}

/* add one stop string (in the server's encoding; kept in UTF-8) */
static void
AddStop(GenParams *p, const char *s, size_t len)
{
	char	   *utf8;

	if (p->n_stop >= LLM_MAX_STOP)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("at most %d stop strings", LLM_MAX_STOP)));
	utf8 = len > 0 ? ToUtf8(s, len, &len) : NULL;
	if (len == 0 || len > LLM_MAX_STOP_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a stop string must have 1 to %d bytes", LLM_MAX_STOP_BYTES)));
	p->stop[p->n_stop++] = utf8;
}

/*
 * Read options: top_k, min_p, repetition_penalty, ignore_eos always; with
 * all_keys (chat) also max_tokens, temperature, top_p, seed and stop
 */
static void
ParseOptions(Jsonb *options, GenParams *p, bool all_keys)
{
	LlmOptionIter o;
	char	   *key;
	JsonbValue	val;

	LlmOptionsBegin(&o, options, "options");
	while (LlmOptionsNext(&o, &key, &val))
	{
		if (strcmp(key, "top_k") == 0)
			p->sampling.top_k = (int) LlmOptionInt(&val, key, 0, INT_MAX);
		else if (strcmp(key, "min_p") == 0)
			p->sampling.min_p = LlmOptionNumber(&val, key);
		else if (strcmp(key, "repetition_penalty") == 0)
			p->sampling.repetition_penalty = LlmOptionNumber(&val, key);
		else if (strcmp(key, "ignore_eos") == 0 && val.type == jbvBool)
			p->ignore_eos = val.val.boolean;
		else if (all_keys && strcmp(key, "max_tokens") == 0)
			p->max_tokens = (int) LlmOptionInt(&val, key, 0, MAX_NEW_TOKENS);
		else if (all_keys && strcmp(key, "temperature") == 0)
			p->sampling.temperature = LlmOptionNumber(&val, key);
		else if (all_keys && strcmp(key, "top_p") == 0)
			p->sampling.top_p = LlmOptionNumber(&val, key);
		else if (all_keys && strcmp(key, "seed") == 0)
		{
			p->sampling.seed = (uint64) LlmOptionInt(&val, key, PG_INT32_MIN, PG_INT32_MAX);
			p->has_seed = true;
		}
		else if (all_keys && strcmp(key, "stop") == 0 && val.type == jbvString)
			AddStop(p, val.val.string.val, val.val.string.len);
		else if (all_keys && strcmp(key, "stop") == 0 && val.type == jbvBinary &&
				 JsonContainerIsArray(val.val.binary.data))
		{
			JsonbIterator *it = JsonbIteratorInit(val.val.binary.data);
			JsonbIteratorToken tok;
			JsonbValue	elem;

			while ((tok = JsonbIteratorNext(&it, &elem, true)) != WJB_DONE)
			{
				if (tok != WJB_ELEM)
					continue;	/* the array's own begin and end */
				if (elem.type != jbvString)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("option \"stop\" must be a string or an array of strings")));
				AddStop(p, elem.val.string.val, elem.val.string.len);
			}
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown or malformed option \"%s\"", key),
					 errhint(all_keys ?
							 "Options are max_tokens, temperature, top_p, top_k, min_p, repetition_penalty, seed, stop and ignore_eos." :
							 "Options are top_k, min_p, repetition_penalty and ignore_eos; the rest are arguments.")));
	}
}

/* check sampling; a random seed when none was given */
static void
FinishParams(GenParams *p)
{
	LlmError	err = {0};

	if (p->max_tokens < 0 || p->max_tokens > MAX_NEW_TOKENS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_tokens must be from 0 to %d", MAX_NEW_TOKENS)));
	if (LlmSamplingValidate(&p->sampling, &err) != LLM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s", err.message)));
	if (!p->has_seed)
		p->sampling.seed = pg_prng_uint64(&pg_global_prng_state);
}

/* defaults: greedy, 256 tokens */
static void
InitParams(GenParams *p)
{
	memset(p, 0, sizeof(*p));
	LlmSamplingDefaults(&p->sampling);
	p->max_tokens = 256;
}

/* generate's arguments 2..7: max_tokens, temperature, top_p, seed, stop, options */
static void
GenerateArgs(FunctionCallInfo fcinfo, GenParams *p)
{
	InitParams(p);
	if (!PG_ARGISNULL(2))
		p->max_tokens = PG_GETARG_INT32(2);
	if (!PG_ARGISNULL(3))
		p->sampling.temperature = PG_GETARG_FLOAT8(3);
	if (!PG_ARGISNULL(4))
		p->sampling.top_p = PG_GETARG_FLOAT8(4);
	if (!PG_ARGISNULL(5))
	{
		p->sampling.seed = (uint64) (int64) PG_GETARG_INT32(5);
		p->has_seed = true;
	}
	if (!PG_ARGISNULL(6))
	{
		ArrayType  *a = PG_GETARG_ARRAYTYPE_P(6);
		Datum	   *elems;
		bool	   *nulls;
		int			n;

		deconstruct_array(a, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
		for (int i = 0; i < n; i++)
		{
			text	   *t;

			if (nulls[i])
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("stop strings must not be NULL")));
			t = DatumGetTextPP(elems[i]);
			AddStop(p, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
		}
	}
	if (!PG_ARGISNULL(7))
		ParseOptions(PG_GETARG_JSONB_P(7), p, false);
	FinishParams(p);
}

/* tokenize UTF-8 text with a local model's tokenizer; palloc'ed ids */
static int32 *
Tokenize(const ServeModel *m, const char *utf8, size_t len, bool add_special, int *n)
{
	const Tokenizer *tok = LlmSqlGetTokenizer(m->location);
	LlmError	err = {0};
	int32_t    *ids = NULL;
	int32	   *out;

	if (TokenizerEncode(tok, utf8, len, add_special, &ids, n, &err) != LLM_OK)
	{
		free(ids);
		if (err.code == LLM_ERR_CANCELLED)
			CHECK_FOR_INTERRUPTS();
		EngineError(&err, "could not tokenize the input");
	}
	out = palloc(sizeof(int32) * Max(*n, 1));
	memcpy(out, ids, sizeof(int32) * *n);
	free(ids);
	return out;
}

/*
 * Start a local generation of a prompt's ids (stream: each piece is shown
 * as it comes)
 */
static void
GenStart(GenState *st, const int32 *ids, int n, const GenParams *p, bool stream)
{
	LlmSvcRequest *req;
	LlmError	err = {0};

	st->prompt_tokens = n;
	st->trace.tokens_in = n;
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the prompt has no tokens")));
	/* the tokenizer stays valid while no other call asks the cache */
	if (LlmTextStreamInit(&st->ts, LlmSqlGetTokenizer(st->model.location), true,
						  p->stop, p->n_stop, &err) != LLM_OK)
		EngineError(&err, "could not start decoding");
	st->ts_ready = true;
	if (p->max_tokens == 0)
	{
		st->done = true;
		st->finish = LLM_FINISH_LENGTH;
		st->trace.tokens_out = 0;
		return;
	}
	/* a reader that falls behind pauses its request in the worker */
	LlmSvcPrepare(&st->call, LLMSVC_GENERATE, 1, n, 16384);
	req = st->call.req;
	ServeFillRequest(&st->model, req);
	req->sampling = p->sampling;
	req->max_tokens = p->max_tokens;
	/* stop strings are found here, so their tokens must not wait either */
	req->flush_each = stream || p->n_stop > 0;
	req->n_eos = p->ignore_eos ? 0 : -1;
	LlmSvcLens(req)[0] = n;
	memcpy(LlmSvcIds(req), ids, sizeof(int32) * n);
	LlmSvcSubmit(&st->call);
}

/* free the engine side of a generation (malloc'ed stream) */
static void
GenRelease(GenState *st)
{
	if (st->ts_ready)
		LlmTextStreamFree(&st->ts);
	st->ts_ready = false;
	LlmSvcEnd(&st->call);
}

/*
 * The next non-empty piece of text (UTF-8) into piece; false at the end
 * (tokens whose text is held back, or that have none, add nothing)
 */
static bool
GenNext(GenState *st, StringInfo piece)
{
	LlmError	err = {0};

	resetStringInfo(piece);
	while (!st->done)
	{
		const char *data;
		const char *text = NULL;
		size_t		len = 0;
		Size		dlen;
		LlmSvcMsg	msg;
		int			rc;

		msg = LlmSvcReceive(&st->call, &data, &dlen);
		if (st->trace.first_token == 0)
			st->trace.first_token = GetCurrentTimestamp();
		if (msg.tag == LLMSVC_MSG_TOKEN)
		{
			st->completion_tokens++;
			rc = LlmTextStreamPush(&st->ts, msg.a, &text, &len, &err);
			if (rc == LLM_OK && st->ts.stopped)
			{
				st->done = true;
				st->finish = LLM_FINISH_STOP;
				LlmSvcEnd(&st->call);
			}
		}
		else if (msg.tag == LLMSVC_MSG_DONE)
		{
			st->done = true;
			st->finish = (LlmFinishReason) msg.a;
			st->completion_tokens = msg.b;
			LlmSvcEnd(&st->call);
			rc = LlmTextStreamFinish(&st->ts, &text, &len, &err);
		}
		else
			elog(ERROR, "unexpected message '%c' from the inference worker", msg.tag);
		if (rc != LLM_OK)
			EngineError(&err, "could not decode the generated tokens");
		appendBinaryStringInfo(piece, text, len);
		if (piece->len > 0)
			break;
	}
	st->trace.tokens_out = st->completion_tokens;
	return piece->len > 0;
}

/* run a local generation to its end; the text in the server's encoding */
static char *
GenAll(GenState *st)
{
	StringInfoData all;
	StringInfoData piece;

	initStringInfo(&all);
	initStringInfo(&piece);
	while (GenNext(st, &piece))
		appendBinaryStringInfo(&all, piece.data, piece.len);
	return FromUtf8(all.data, all.len);
}

/*
 * A whole local generation from UTF-8 text (add_special: the tokenizer's
 * BOS and the like); the text in the server's encoding
 */
static char *
GenLocal(GenState *st, const char *utf8, size_t len, bool add_special, const GenParams *p)
{
	int			n;
	int32	   *ids = Tokenize(&st->model, utf8, len, add_special, &n);
	char	   *text;

	GenStart(st, ids, n, p, false);
	text = GenAll(st);
	GenRelease(st);
	return text;
}

/* in PG_CATCH of a generation: trace the error, free the text stream */
static void
GenFailed(GenState *st, MemoryContext mcxt)
{
	TraceError(&st->trace, mcxt);
	if (st->ts_ready)
		LlmTextStreamFree(&st->ts);
	st->ts_ready = false;
}

/* the parameters of a remote generation or chat */
static void
RemoteParams(const GenParams *p, LlmChatParams *cp)
{
	if (p->sampling.top_k != 0 || p->sampling.min_p != 0 ||
		p->sampling.repetition_penalty != 1.0 || p->ignore_eos)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("top_k, min_p, repetition_penalty and ignore_eos are not sent to remote providers")));
	LlmChatParamsInit(cp);
	cp->max_tokens = p->max_tokens;
	cp->temperature = p->sampling.temperature;
	cp->top_p = p->sampling.top_p;
	cp->has_seed = p->has_seed;
	cp->seed = (int64) p->sampling.seed;
	cp->stop = p->stop;
	cp->n_stop = p->n_stop;
}

/* a remote generation or chat: messages -> reply */
static void
RemoteChat(const ServeModel *m, const LlmChatMessage *msgs, int n, const GenParams *p,
		   LlmChatResult *res)
{
	LlmChatParams cp;

	RemoteParams(p, &cp);
	LlmRemoteChat(m->location, m->options, msgs, n, &cp, res);
}

/* resolve a generation model */
static void
ResolveGenerator(FunctionCallInfo fcinfo, ServeModel *m)
{
	ServeResolve(text_to_cstring(PG_GETARG_TEXT_PP(0)), m);
	if (m->embedding)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("model \"%s\" is an embedding model; it does not generate text", m->name),
				 errhint("Use mlops.embed.")));
}

/* check that a prompt is not empty */
static void
CheckPrompt(text *prompt)
{
	if (VARSIZE_ANY_EXHDR(prompt) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the prompt is empty")));
}

/*
 * SQL: mlops.generate(model, prompt, max_tokens, temperature, top_p,
 * seed, stop, options)
 */
PG_FUNCTION_INFO_V1(llm_generate);
Datum
llm_generate(PG_FUNCTION_ARGS)
{
	MemoryContext mcxt = CurrentMemoryContext;
	GenState	st;
	GenParams	p;
	text	   *prompt;
	char	   *result = NULL;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	prompt = PG_GETARG_TEXT_PP(1);
	memset(&st, 0, sizeof(st));
	TraceStart(&st.trace, "generate", &st.model, VARDATA_ANY(prompt), VARSIZE_ANY_EXHDR(prompt));
	st.trace.ref = text_to_cstring(PG_GETARG_TEXT_PP(0));
	PG_TRY();
	{
		ResolveGenerator(fcinfo, &st.model);
		GenerateArgs(fcinfo, &p);
		CheckPrompt(prompt);
		if (st.model.remote)
		{
			LlmChatMessage msg = {"user", TextToUtf8(prompt)};
			LlmChatResult res;

			RemoteChat(&st.model, &msg, 1, &p, &res);
			st.trace.tokens_in = res.prompt_tokens;
			st.trace.tokens_out = res.completion_tokens;
			result = FromUtf8(res.text, strlen(res.text));
		}
		else
		{
			size_t		len;
			char	   *utf8 = ToUtf8(VARDATA_ANY(prompt), VARSIZE_ANY_EXHDR(prompt), &len);

			result = GenLocal(&st, utf8, len, true, &p);
		}
	}
	PG_CATCH();
	{
		GenFailed(&st, mcxt);
		PG_RE_THROW();
	}
	PG_END_TRY();
	TraceEnd(&st.trace, "ok", NULL);
	PG_RETURN_TEXT_P(cstring_to_text(result));
}

/*
 * Per-query state of generate_stream, in the SRF's multi-call memory
 * context: the parameters too, since the text stream keeps pointers to
 * the stop strings
 */
typedef struct StreamState
{
	GenState	st;
	GenParams	p;
	StringInfoData piece;
	LlmRemoteStream *remote;	/* a remote model's reply */
	ExprContext *econtext;
	MemoryContextCallback free_cb;
} StreamState;

/*
 * The multi-call context goes away (end of the set, end of the query, or
 * an error): free the engine's text stream, close a remote transfer
 */
static void
StreamFree(void *arg)
{
	StreamState *ss = arg;

	if (ss->st.ts_ready)
		LlmTextStreamFree(&ss->st.ts);
	ss->st.ts_ready = false;
	if (ss->remote != NULL)
		LlmRemoteChatStreamClose(ss->remote);
}

/* a remote stream's next piece (UTF-8) into ss->piece; false at its end */
static bool
RemoteNext(StreamState *ss)
{
	if (!LlmRemoteChatStreamNext(ss->remote, &ss->piece))
	{
		LlmRemoteChatStreamUsage(ss->remote, &ss->st.trace.tokens_in, &ss->st.trace.tokens_out);
		LlmRemoteChatStreamClose(ss->remote);
		ss->st.done = true;
		return false;
	}
	if (ss->st.trace.first_token == 0)
		ss->st.trace.first_token = GetCurrentTimestamp();
	return true;
}

/*
 * The query ended before the stream did (LIMIT, a closed cursor): stop
 * the request.  Registered on the ExprContext before the SRF machinery's
 * own callback, so it runs before the multi-call context is deleted.
 */
static void
StreamShutdown(Datum arg)
{
	StreamState *ss = (StreamState *) DatumGetPointer(arg);

	if (!ss->st.done)
		TraceEnd(&ss->st.trace, "cancelled", "the query stopped reading the stream");
	ss->st.done = true;
	if (ss->remote != NULL)
		LlmRemoteChatStreamClose(ss->remote);
	LlmSvcEnd(&ss->st.call);
}

/*
 * The next piece of a stream as a text value (in the caller's memory
 * context), or NULL at its end
 */
static text *
StreamNext(StreamState *ss, MemoryContext multi_cxt, MemoryContext mcxt)
{
	text	   *volatile piece = NULL;

	PG_TRY();
	{
		MemoryContext old = MemoryContextSwitchTo(multi_cxt);
		bool		more;

		if (ss->remote != NULL)
			more = !ss->st.done && RemoteNext(ss);
		else
		{
			/* other calls since the last row may have replaced the tokenizer */
			if (!ss->st.done)
				ss->st.ts.tok = LlmSqlGetTokenizer(ss->st.model.location);
			more = GenNext(&ss->st, &ss->piece);
		}
		MemoryContextSwitchTo(old);
		if (more)
			piece = cstring_to_text(FromUtf8(ss->piece.data, ss->piece.len));
	}
	PG_CATCH();
	{
		TraceError(&ss->st.trace, mcxt);
		ss->st.done = true;		/* traced: the shutdown callback must not */
		PG_RE_THROW();
	}
	PG_END_TRY();
	return piece;
}

/*
 * SQL: mlops.generate_stream(...), one row per piece of text as the
 * tokens arrive (value-per-call)
 */
PG_FUNCTION_INFO_V1(llm_generate_stream);
Datum
llm_generate_stream(PG_FUNCTION_ARGS)
{
	FuncCallContext *funcctx;
	StreamState *ss;
	MemoryContext mcxt = CurrentMemoryContext;
	text	   *piece;

	if (SRF_IS_FIRSTCALL())
	{
		MemoryContext old;
		text	   *prompt;

		funcctx = SRF_FIRSTCALL_INIT();
		if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
			SRF_RETURN_DONE(funcctx);
		old = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
		ss = palloc0(sizeof(StreamState));
		ss->free_cb.func = StreamFree;
		ss->free_cb.arg = ss;
		MemoryContextRegisterResetCallback(funcctx->multi_call_memory_ctx, &ss->free_cb);
		initStringInfo(&ss->piece);
		prompt = PG_GETARG_TEXT_P_COPY(1);
		TraceStart(&ss->st.trace, "generate_stream", &ss->st.model, VARDATA_ANY(prompt),
				   VARSIZE_ANY_EXHDR(prompt));
		ss->st.trace.ref = text_to_cstring(PG_GETARG_TEXT_PP(0));
		PG_TRY();
		{
			int			n;
			int32	   *ids;
			size_t		len;
			char	   *utf8;

			ResolveGenerator(fcinfo, &ss->st.model);
			GenerateArgs(fcinfo, &ss->p);
			CheckPrompt(prompt);
			utf8 = ToUtf8(VARDATA_ANY(prompt), VARSIZE_ANY_EXHDR(prompt), &len);
			if (ss->st.model.remote)
			{
				LlmChatMessage msg = {"user", utf8};
				LlmChatParams cp;

				RemoteParams(&ss->p, &cp);
				ss->remote = LlmRemoteChatStreamOpen(ss->st.model.location, ss->st.model.options,
													 &msg, 1, &cp);
			}
			else
			{
				ids = Tokenize(&ss->st.model, utf8, len, true, &n);
				GenStart(&ss->st, ids, n, &ss->p, true);
			}
		}
		PG_CATCH();
		{
			TraceError(&ss->st.trace, mcxt);
			PG_RE_THROW();
		}
		PG_END_TRY();
		ss->econtext = ((ReturnSetInfo *) fcinfo->resultinfo)->econtext;
		RegisterExprContextCallback(ss->econtext, StreamShutdown, PointerGetDatum(ss));
		funcctx->user_fctx = ss;
		MemoryContextSwitchTo(old);
	}
	funcctx = SRF_PERCALL_SETUP();
	ss = funcctx->user_fctx;
	if (ss == NULL)
		SRF_RETURN_DONE(funcctx);
	piece = StreamNext(ss, funcctx->multi_call_memory_ctx, mcxt);
	if (piece != NULL)
		SRF_RETURN_NEXT(funcctx, PointerGetDatum(piece));
	TraceEnd(&ss->st.trace, "ok", NULL);
	/* the set ends here: the multi-call context (and ss) goes with it */
	UnregisterExprContextCallback(ss->econtext, StreamShutdown, PointerGetDatum(ss));
	LlmSvcEnd(&ss->st.call);
	SRF_RETURN_DONE(funcctx);
}

/* a string member of a jsonb object, palloc'ed, or NULL */
static char *
MemberString(JsonbContainer *obj, const char *key)
{
	JsonbValue	buf;
	JsonbValue *v = getKeyJsonValueFromContainer(obj, key, strlen(key), &buf);

	if (v == NULL || v->type != jbvString)
		return NULL;
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/* messages jsonb -> role/content pairs in UTF-8; errors for anything else */
static LlmChatMessage *
ParseMessages(Jsonb *messages, int *n)
{
	LlmChatMessage *msgs;
	int			count;
	size_t		len;

	if (!JB_ROOT_IS_ARRAY(messages) || JB_ROOT_IS_SCALAR(messages) ||
		(count = JB_ROOT_COUNT(messages)) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("messages must be a non-empty JSON array of {\"role\", \"content\"} objects")));
	msgs = palloc(sizeof(LlmChatMessage) * count);
	for (int i = 0; i < count; i++)
	{
		JsonbValue *elem = getIthJsonbValueFromContainer(&messages->root, i);
		char	   *role = NULL;
		char	   *content = NULL;

		if (elem != NULL && elem->type == jbvBinary &&
			JsonContainerIsObject(elem->val.binary.data))
		{
			role = MemberString(elem->val.binary.data, "role");
			content = MemberString(elem->val.binary.data, "content");
		}
		if (role == NULL || content == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("message %d must be an object with string members \"role\" and \"content\"", i + 1)));
		msgs[i].role = ToUtf8(role, strlen(role), &len);
		msgs[i].content = ToUtf8(content, strlen(content), &len);
	}
	*n = count;
	return msgs;
}

/* render a local model's chat template: the prompt text (palloc'ed) */
static char *
RenderChat(const ServeModel *m, const LlmChatMessage *msgs, int n, size_t *len)
{
	const Tokenizer *tok = LlmSqlGetTokenizer(m->location);
	const char *source = TokenizerChatTemplate(tok);
	LlmError	err = {0};
	char	   *out = NULL;
	char	   *result;

	if (source == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("model \"%s\" has no chat_template in its tokenizer_config.json", m->name),
				 errhint("Use mlops.generate with a prompt.")));
	if (ChatRenderMessages(source, msgs, n, TokenizerBosToken(tok), TokenizerEosToken(tok),
						   &out, len, &err) != LLM_OK)
	{
		free(out);
		EngineError(&err, "could not render the chat template");
	}
	result = pnstrdup(out, *len);
	free(out);
	return result;
}

/* the jsonb reply of mlops.chat */
static Datum
ChatReply(const ServeModel *m, const char *text, const char *finish, int64 prompt_tokens,
		  int64 completion_tokens, const CallTrace *t)
{
	StringInfoData s;
	TimestampTz now = GetCurrentTimestamp();

	initStringInfo(&s);
	appendStringInfoString(&s, "{\"model\": ");
	escape_json(&s, m->name);
	appendStringInfo(&s, ", \"version\": %d, \"message\": {\"role\": \"assistant\", \"content\": ", m->version);
	escape_json(&s, text);
	appendStringInfoString(&s, "}, \"finish_reason\": ");
	if (finish != NULL)
		escape_json(&s, finish);
	else
		appendStringInfoString(&s, "null");
	appendStringInfoString(&s, ", \"usage\": {\"prompt_tokens\": ");
	if (prompt_tokens >= 0)
		appendStringInfo(&s, INT64_FORMAT, prompt_tokens);
	else
		appendStringInfoString(&s, "null");
	appendStringInfoString(&s, ", \"completion_tokens\": ");
	if (completion_tokens >= 0)
		appendStringInfo(&s, INT64_FORMAT, completion_tokens);
	else
		appendStringInfoString(&s, "null");
	if (prompt_tokens >= 0 && completion_tokens >= 0)
		appendStringInfo(&s, ", \"total_tokens\": " INT64_FORMAT, prompt_tokens + completion_tokens);
	appendStringInfoString(&s, "}, \"ttft_ms\": ");
	if (t->first_token != 0)
		appendStringInfo(&s, "%.3f", Ms(t->started, t->first_token));
	else
		appendStringInfoString(&s, "null");
	appendStringInfo(&s, ", \"total_ms\": %.3f}", Ms(t->started, now));
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(s.data));
}

/* SQL: mlops.chat(model, messages, options) */
PG_FUNCTION_INFO_V1(llm_chat);
Datum
llm_chat(PG_FUNCTION_ARGS)
{
	MemoryContext mcxt = CurrentMemoryContext;
	Jsonb	   *messages = PG_GETARG_JSONB_P(1);
	char	   *messages_text = JsonbToCString(NULL, &messages->root, VARSIZE(messages));
	GenState	st;
	GenParams	p;
	Datum		reply = (Datum) 0;

	memset(&st, 0, sizeof(st));
	TraceStart(&st.trace, "chat", &st.model, messages_text, strlen(messages_text));
	st.trace.ref = text_to_cstring(PG_GETARG_TEXT_PP(0));
	PG_TRY();
	{
		int			n;
		LlmChatMessage *msgs;

		ResolveGenerator(fcinfo, &st.model);
		InitParams(&p);
		ParseOptions(PG_GETARG_JSONB_P(2), &p, true);
		FinishParams(&p);
		msgs = ParseMessages(messages, &n);
		if (st.model.remote)
		{
			LlmChatResult res;

			RemoteChat(&st.model, msgs, n, &p, &res);
			st.trace.tokens_in = res.prompt_tokens;
			st.trace.tokens_out = res.completion_tokens;
			reply = ChatReply(&st.model, FromUtf8(res.text, strlen(res.text)),
							  res.finish_reason ? FromUtf8(res.finish_reason, strlen(res.finish_reason)) : NULL,
							  res.prompt_tokens,
							  res.completion_tokens, &st.trace);
		}
		else
		{
			size_t		len;
			char	   *prompt = RenderChat(&st.model, msgs, n, &len);
			char	   *text = GenLocal(&st, prompt, len, false, &p);

			reply = ChatReply(&st.model, text, LlmFinishReasonName(st.finish), st.prompt_tokens,
							  st.completion_tokens, &st.trace);
		}
	}
	PG_CATCH();
	{
		GenFailed(&st, mcxt);
		PG_RE_THROW();
	}
	PG_END_TRY();
	TraceEnd(&st.trace, "ok", NULL);
	PG_RETURN_DATUM(reply);
}

/* embeddings of n texts from a local model: (n, dim) floats */
static float *
EmbedLocal(const ServeModel *m, text **inputs, int n, int *dim, CallTrace *t)
{
	LlmSvcCall	call;
	int32	  **ids = palloc(sizeof(int32 *) * n);
	int		   *lens = palloc(sizeof(int) * n);
	int64		total = 0;
	int32	   *dst;
	LlmSvcMsg	msg;
	const char *data;
	Size		len;
	float	   *out;

	for (int i = 0; i < n; i++)
	{
		size_t		len;
		char	   *utf8 = ToUtf8(VARDATA_ANY(inputs[i]), VARSIZE_ANY_EXHDR(inputs[i]), &len);

		ids[i] = Tokenize(m, utf8, len, true, &lens[i]);
		if (lens[i] == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("input %d has no tokens", i + 1)));
		total += lens[i];
	}
	t->tokens_in = total;
	LlmSvcPrepare(&call, LLMSVC_EMBED, n, total, 65536);
	ServeFillRequest(m, call.req);
	dst = LlmSvcIds(call.req);
	for (int i = 0; i < n; i++)
	{
		LlmSvcLens(call.req)[i] = lens[i];
		memcpy(dst, ids[i], sizeof(int32) * lens[i]);
		dst += lens[i];
	}
	LlmSvcSubmit(&call);
	msg = LlmSvcReceive(&call, &data, &len);
	if (msg.tag != LLMSVC_MSG_EMBED || msg.a != n || msg.b < 1 ||
		len != sizeof(float) * (Size) n * msg.b)
		elog(ERROR, "malformed embeddings from the inference worker");
	*dim = msg.b;
	out = palloc(len);
	memcpy(out, data, len);
	LlmSvcEnd(&call);
	return out;
}

/* embeddings of n texts, local or remote */
static float *
Embed(FunctionCallInfo fcinfo, ServeModel *m, text **inputs, int n, int *dim, CallTrace *t)
{
	ServeResolve(text_to_cstring(PG_GETARG_TEXT_PP(0)), m);
	if (!m->embedding)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("model \"%s\" is a text-generation model; it does not embed", m->name)));
	if (n > MAX_EMBED_INPUTS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("at most %d inputs per call, not %d", MAX_EMBED_INPUTS, n)));
	for (int i = 0; i < n; i++)
		if (VARSIZE_ANY_EXHDR(inputs[i]) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("input %d is empty", i + 1)));
	if (m->remote)
	{
		const char **texts = palloc(sizeof(char *) * n);
		LlmEmbedResult res;

		for (int i = 0; i < n; i++)
			texts[i] = TextToUtf8(inputs[i]);
		LlmRemoteEmbed(m->location, m->options, texts, n, &res);
		t->tokens_in = res.prompt_tokens;
		*dim = res.dim;
		return res.data;
	}
	return EmbedLocal(m, inputs, n, dim, t);
}

/* a vector of dim floats */
static Vector *
MakeVector(const float *x, int dim)
{
	Vector	   *v = VecInitVector(dim);

	for (int i = 0; i < dim; i++)
	{
		VecCheckElement(x[i]);
		v->x[i] = x[i];
	}
	return v;
}

/* SQL: mlops.embed(model, input) returns vector */
PG_FUNCTION_INFO_V1(llm_embed);
Datum
llm_embed(PG_FUNCTION_ARGS)
{
	MemoryContext mcxt = CurrentMemoryContext;
	text	   *input = PG_GETARG_TEXT_PP(1);
	ServeModel	m;
	CallTrace	t;
	Vector	   *v = NULL;

	memset(&m, 0, sizeof(m));
	TraceStart(&t, "embed", &m, VARDATA_ANY(input), VARSIZE_ANY_EXHDR(input));
	t.ref = text_to_cstring(PG_GETARG_TEXT_PP(0));
	PG_TRY();
	{
		int			dim;
		float	   *x = Embed(fcinfo, &m, &input, 1, &dim, &t);

		v = MakeVector(x, dim);
	}
	PG_CATCH();
	{
		TraceError(&t, mcxt);
		PG_RE_THROW();
	}
	PG_END_TRY();
	TraceEnd(&t, "ok", NULL);
	PG_RETURN_POINTER(v);
}

/* SQL: mlops.embed(model, inputs text[]) returns vector[], one request */
PG_FUNCTION_INFO_V1(llm_embed_array);
Datum
llm_embed_array(PG_FUNCTION_ARGS)
{
	MemoryContext mcxt = CurrentMemoryContext;
	ArrayType  *a = PG_GETARG_ARRAYTYPE_P(1);
	Oid			elemtype = get_element_type(get_fn_expr_rettype(fcinfo->flinfo));
	ServeModel	m;
	CallTrace	t;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	text	  **inputs;
	Datum	   *out;
	ArrayType  *result = NULL;
	StringInfoData all;

	deconstruct_array(a, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	inputs = palloc(sizeof(text *) * Max(n, 1));
	initStringInfo(&all);
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("input %d is NULL", i + 1)));
		inputs[i] = DatumGetTextPP(elems[i]);
		appendBinaryStringInfo(&all, VARDATA_ANY(inputs[i]), VARSIZE_ANY_EXHDR(inputs[i]));
		appendStringInfoChar(&all, '\n');
	}
	if (!OidIsValid(elemtype))
		elog(ERROR, "mlops.embed must return an array of vectors");
	if (n == 0)
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(elemtype));
	memset(&m, 0, sizeof(m));
	TraceStart(&t, "embed", &m, all.data, all.len);
	t.ref = text_to_cstring(PG_GETARG_TEXT_PP(0));
	PG_TRY();
	{
		int			dim;
		float	   *x = Embed(fcinfo, &m, inputs, n, &dim, &t);
		int16		typlen;
		bool		typbyval;
		char		typalign;

		out = palloc(sizeof(Datum) * n);
		for (int i = 0; i < n; i++)
			out[i] = PointerGetDatum(MakeVector(x + (Size) i * dim, dim));
		get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
		result = construct_array(out, n, elemtype, typlen, typbyval, typalign);
	}
	PG_CATCH();
	{
		TraceError(&t, mcxt);
		PG_RE_THROW();
	}
	PG_END_TRY();
	TraceEnd(&t, "ok", NULL);
	PG_RETURN_ARRAYTYPE_P(result);
}
