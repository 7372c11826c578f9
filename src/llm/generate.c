/*-------------------------------------------------------------------------
 *
 * generate.c
 *	  The single-sequence generation loop and the incremental
 *	  detokenizer with stop strings that streams its text.
 *
 * Detokenizing one token at a time does not work: SentencePiece decoders
 * strip the space of the first token decoded, and a character may be
 * split over several byte tokens.  The stream therefore decodes a small
 * window of recent tokens twice, with and without the tokens whose text
 * is not final yet, and takes the difference: the window's first tokens
 * give the context, and text is final once it does not end inside a
 * character (or in U+FFFD, which lossy decoders put there).
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <time.h>

#include "llm/generate.h"
#include "llm/utf8.h"

/* tokens whose text may stay pending before it is taken as it is */
#define MAX_PENDING_TOKENS		8

/* seconds on the monotonic clock */
static double
Now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

/* does s[0..n) end inside a character (a valid, incomplete prefix)? */
static bool
EndsIncomplete(const char *s, size_t n)
{
	size_t		back = n < 4 ? n : 4;

	for (size_t i = n - back; i < n; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if ((c & 0xC0) != 0x80 && LlmUtf8SeqLen(s + i, n - i) == -1)
			return true;
	}
	return false;
}

/* grow ts->text to hold extra more bytes and a NUL */
static int
TextReserve(LlmTextStream *ts, size_t extra, LlmError *err)
{
	size_t		need = ts->text_len + extra + 1;
	char	   *t;
	size_t		cap;

	if (need <= ts->text_cap)
		return LLM_OK;
	cap = ts->text_cap ? ts->text_cap : 256;
	while (cap < need)
		cap *= 2;
	t = realloc(ts->text, cap);
	if (t == NULL)
		return LlmSetError(err, LLM_ERR_NOMEM, "out of memory for generated text");
	ts->text = t;
	ts->text_cap = cap;
	return LLM_OK;
}

/*
 * Append s[0..n) to the text, each invalid byte replaced by U+FFFD (a
 * character cut off at the end by one)
 */
static int
TextAppend(LlmTextStream *ts, const char *s, size_t n, LlmError *err)
{
	int			rc;

	/* each byte grows to at most 3 */
	if (n > (SIZE_MAX - ts->text_len - 1) / 3)
		return LlmSetError(err, LLM_ERR_NOMEM, "generated text is too long");
	if ((rc = TextReserve(ts, n * 3, err)) != LLM_OK)
		return rc;
	ts->text_len += LlmUtf8Lossy(s, n, ts->text + ts->text_len, LLM_UTF8_REPLACE_BYTE);
	ts->text[ts->text_len] = '\0';
	return LLM_OK;
}

/* start a stream; stop strings must outlive it */
int
LlmTextStreamInit(LlmTextStream *ts, const Tokenizer *tok, bool skip_special,
				  const char *const *stop, int n_stop, LlmError *err)
{
	memset(ts, 0, sizeof(*ts));
	if (tok == NULL)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "text streaming needs a tokenizer");
	if (n_stop < 0 || n_stop > LLM_MAX_STOP || (n_stop > 0 && stop == NULL))
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "at most %d stop strings are allowed", LLM_MAX_STOP);
	for (int i = 0; i < n_stop; i++)
	{
		size_t		len = stop[i] ? strnlen(stop[i], LLM_MAX_STOP_BYTES + 1) : 0;

		if (len == 0)
			return LlmSetError(err, LLM_ERR_ARGUMENT, "stop string %d is empty", i + 1);
		if (len > LLM_MAX_STOP_BYTES)
			return LlmSetError(err, LLM_ERR_ARGUMENT,
							   "stop string %d is longer than %d bytes",
							   i + 1, LLM_MAX_STOP_BYTES);
		if (len > ts->max_stop_len)
			ts->max_stop_len = len;
	}
	ts->tok = tok;
	ts->skip_special = skip_special;
	ts->stop = stop;
	ts->n_stop = n_stop;
	return TextReserve(ts, 0, err);
}

/* free the stream's buffers */
void
LlmTextStreamFree(LlmTextStream *ts)
{
	free(ts->ids);
	free(ts->text);
	ts->ids = NULL;
	ts->text = NULL;
	ts->n_ids = ts->cap_ids = 0;
	ts->text_len = ts->text_cap = ts->emitted = 0;
}

/*
 * Decode ids[from..to) into a malloc'ed string; ids the tokenizer does
 * not know (models often pad their vocabulary) decode to nothing
 */
static int
DecodeRange(LlmTextStream *ts, int from, int to, char **out, size_t *len,
			LlmError *err)
{
	int			vocab = TokenizerVocabSize(ts->tok);
	const int32_t *ids = ts->ids + from;
	int32_t    *copy = NULL;
	int			n = to - from;
	int			rc;

	*out = NULL;
	*len = 0;
	for (int i = from; i < to; i++)
	{
		if (ts->ids[i] >= 0 && ts->ids[i] < vocab)
			continue;
		copy = LlmAlloc(sizeof(int32_t) * (size_t) (to - from), err);
		if (copy == NULL)
			return LLM_ERR_NOMEM;
		n = 0;
		for (int j = from; j < to; j++)
			if (ts->ids[j] >= 0 && ts->ids[j] < vocab)
				copy[n++] = ts->ids[j];
		ids = copy;
		break;
	}
	if (n == 0)
	{
		free(copy);
		*out = calloc(1, 1);
		return *out ? LLM_OK : LlmSetError(err, LLM_ERR_NOMEM, "out of memory");
	}
	rc = TokenizerDecode(ts->tok, ids, n, ts->skip_special, out, len, err);
	free(copy);
	return rc;
}

/*
 * Move the window on if the text of the pending tokens is final (or
 * force): append it to ts->text
 */
static int
Advance(LlmTextStream *ts, bool force, LlmError *err)
{
	char	   *pre = NULL;
	char	   *full = NULL;
	size_t		pre_len = 0;
	size_t		full_len = 0;
	int			rc;

	if (ts->read_off >= ts->n_ids)
		return LLM_OK;
	rc = DecodeRange(ts, ts->prefix_off, ts->read_off, &pre, &pre_len, err);
	if (rc == LLM_OK)
		rc = DecodeRange(ts, ts->prefix_off, ts->n_ids, &full, &full_len, err);
	if (rc != LLM_OK)
		goto done;
	if (ts->n_ids - ts->read_off > MAX_PENDING_TOKENS)
		force = true;
	if (full_len > pre_len &&
		(force ||
		 (!EndsIncomplete(full, full_len) &&
		  !(full_len - pre_len >= 3 &&
			memcmp(full + full_len - 3, LLM_UTF8_REPLACEMENT, 3) == 0))))
	{
		rc = TextAppend(ts, full + pre_len, full_len - pre_len, err);
		if (rc != LLM_OK)
			goto done;
		ts->prefix_off = ts->read_off;
		ts->read_off = ts->n_ids;
	}
	else if (force)
	{
		/* nothing new (special tokens skipped): the window moves anyway */
		ts->prefix_off = ts->read_off;
		ts->read_off = ts->n_ids;
	}
done:
	free(pre);
	free(full);
	return rc;
}

/*
 * Look for stop strings in the text not yet handed out; cut the text at
 * the first one.  Otherwise hold back the longest tail that may still
 * grow into one.  Returns the end of the text that may be handed out.
 */
static size_t
CheckStops(LlmTextStream *ts, bool final)
{
	size_t		from = ts->emitted;
	size_t		best = SIZE_MAX;
	size_t		hold = 0;
	size_t		end;

	for (int i = 0; i < ts->n_stop; i++)
	{
		size_t		slen = strlen(ts->stop[i]);

		for (size_t pos = from; pos + slen <= ts->text_len && pos < best; pos++)
		{
			if (ts->text[pos] == ts->stop[i][0] &&
				memcmp(ts->text + pos, ts->stop[i], slen) == 0)
			{
				best = pos;
				break;
			}
		}
	}
	if (best != SIZE_MAX)
	{
		ts->text_len = best;
		ts->text[best] = '\0';
		ts->stopped = true;
		return best;
	}
	if (final)
		return ts->text_len;
	for (int i = 0; i < ts->n_stop; i++)
	{
		size_t		slen = strlen(ts->stop[i]);

		size_t		pos = ts->text_len - from < slen ? from : ts->text_len - (slen - 1);

		/* the first match is the longest tail that begins the stop string */
		for (; pos < ts->text_len - hold; pos++)
		{
			if (ts->text[pos] == ts->stop[i][0] &&
				memcmp(ts->text + pos, ts->stop[i], ts->text_len - pos) == 0)
			{
				hold = ts->text_len - pos;
				break;
			}
		}
	}
	end = ts->text_len - hold;
	while (end > from && ((unsigned char) ts->text[end] & 0xC0) == 0x80)
		end--;
	return end;
}

/* hand out text up to end */
static void
Emit(LlmTextStream *ts, size_t end, const char **piece, size_t *len)
{
	*piece = ts->text + ts->emitted;
	*len = end > ts->emitted ? end - ts->emitted : 0;
	if (end > ts->emitted)
		ts->emitted = end;
}

/* add a generated token; see generate.h */
int
LlmTextStreamPush(LlmTextStream *ts, int32_t token, const char **piece,
				  size_t *len, LlmError *err)
{
	int			rc;

	*piece = ts->text + ts->emitted;
	*len = 0;
	if (ts->stopped)
		return LLM_OK;
	if (ts->n_ids == ts->cap_ids)
	{
		int			cap = ts->cap_ids ? ts->cap_ids * 2 : 64;
		int32_t    *ids;

		if (ts->cap_ids > (1 << 28))
			return LlmSetError(err, LLM_ERR_ARGUMENT, "too many generated tokens");
		ids = realloc(ts->ids, sizeof(int32_t) * (size_t) cap);
		if (ids == NULL)
			return LlmSetError(err, LLM_ERR_NOMEM, "out of memory for generated tokens");
		ts->ids = ids;
		ts->cap_ids = cap;
	}
	ts->ids[ts->n_ids++] = token;
	if ((rc = Advance(ts, false, err)) != LLM_OK)
		return rc;
	Emit(ts, CheckStops(ts, false), piece, len);
	return LLM_OK;
}

/* end of the stream: the pending and held-back text */
int
LlmTextStreamFinish(LlmTextStream *ts, const char **piece, size_t *len,
					LlmError *err)
{
	int			rc;

	*piece = ts->text + ts->emitted;
	*len = 0;
	if (ts->stopped)
		return LLM_OK;
	if ((rc = Advance(ts, true, err)) != LLM_OK)
		return rc;
	Emit(ts, CheckStops(ts, true), piece, len);
	return LLM_OK;
}

/* greedy, 256 tokens, the model's EOS ids, special tokens left out */
void
LlmGenerateDefaults(LlmGenerateParams *p)
{
	memset(p, 0, sizeof(*p));
	LlmSamplingDefaults(&p->sampling);
	p->max_tokens = 256;
	p->stop = NULL;
	p->n_stop = 0;
	p->eos_ids = NULL;
	p->n_eos = 0;
	p->skip_special = true;
	p->prefill_chunk = 0;
}

/* name of a finish reason, as OpenAI-style APIs spell it */
const char *
LlmFinishReasonName(LlmFinishReason r)
{
	switch (r)
	{
		case LLM_FINISH_LENGTH:
			return "length";
		case LLM_FINISH_EOS:
			return "eos";
		case LLM_FINISH_STOP:
			return "stop";
		case LLM_FINISH_CANCELLED:
			return "cancelled";
	}
	return "unknown";
}

/* free what a result holds */
void
LlmGenerateResultFree(LlmGenerateResult *res)
{
	if (res == NULL)
		return;
	free(res->ids);
	free(res->text);
	memset(res, 0, sizeof(*res));
}

/* state of one LlmGenerate call */
typedef struct GenerateState
{
	LlmRuntime *rt;
	int			seq;
	bool		seq_open;
	bool		greedy_on_device;	/* LlmStepArgmax, no logits download */
	LlmSampler	sampler;
	float	   *logits;			/* (vocab) */
	int32_t    *hist;			/* prompt + generated, for the penalty */
	int			n_hist;
	int			cap_hist;
	LlmTextStream ts;
	bool		have_ts;
} GenerateState;

/* append a token to the history */
static int
HistoryAppend(GenerateState *st, int32_t token, LlmError *err)
{
	if (st->n_hist == st->cap_hist)
	{
		int			cap = st->cap_hist * 2;
		int32_t    *h;

		if (st->cap_hist > (1 << 28))
			return LlmSetError(err, LLM_ERR_ARGUMENT, "too many tokens");
		h = realloc(st->hist, sizeof(int32_t) * (size_t) cap);
		if (h == NULL)
			return LlmSetError(err, LLM_ERR_NOMEM, "out of memory for token history");
		st->hist = h;
		st->cap_hist = cap;
	}
	st->hist[st->n_hist++] = token;
	return LLM_OK;
}

/* run one step of tokens and choose the next token */
static int
StepAndChoose(GenerateState *st, const int32_t *tokens, int n, bool want,
			  int32_t *next, LlmError *err)
{
	LlmStepSeq	s;
	int			rc;

	s.seq = st->seq;
	s.tokens = tokens;
	s.n_tokens = n;
	s.want_logits = want;
	if (!want)
		return LlmStep(st->rt, &s, 1, NULL, err);
	if (st->greedy_on_device)
		return LlmStepArgmax(st->rt, &s, 1, next, err);
	rc = LlmStep(st->rt, &s, 1, st->logits, err);
	if (rc == LLM_OK)
		*next = LlmSample(&st->sampler, st->logits, st->hist, st->n_hist);
	return rc;
}

/* check LlmGenerate's arguments */
static int
CheckArguments(LlmRuntime *rt, const Tokenizer *tok, const int32_t *prompt,
			   int n_prompt, const LlmGenerateParams *p, LlmError *err)
{
	const LlmConfig *cfg;
	int			rc;

	if (rt == NULL || p == NULL || prompt == NULL || n_prompt < 1)
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "generation needs a runtime, parameters and a prompt of at least one token");
	if ((rc = LlmSamplingValidate(&p->sampling, err)) != LLM_OK)
		return rc;
	if (p->max_tokens < 0)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "max_tokens must be >= 0, got %d",
						   p->max_tokens);
	if (p->n_stop > 0 && tok == NULL)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "stop strings need a tokenizer");
	if (p->n_eos < 0 || (p->n_eos > 0 && p->eos_ids == NULL))
		return LlmSetError(err, LLM_ERR_ARGUMENT, "bad EOS id list");
	if (p->prefill_chunk < 0)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "prefill_chunk must be >= 0");
	cfg = &LlmRuntimeModel(rt)->cfg;
	for (int i = 0; i < n_prompt; i++)
		if (prompt[i] < 0 || prompt[i] >= cfg->vocab_size)
			return LlmSetError(err, LLM_ERR_ARGUMENT,
							   "prompt token %d (id %d) is outside the vocabulary of %d",
							   i, prompt[i], cfg->vocab_size);
	if (n_prompt > cfg->max_position)
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "the prompt has %d tokens, more than the model's context of %d",
						   n_prompt, cfg->max_position);
	return LLM_OK;
}

/* is token one of the EOS ids? */
static bool
IsEos(const int32_t *eos, int n_eos, int32_t token)
{
	for (int i = 0; i < n_eos; i++)
		if (eos[i] == token)
			return true;
	return false;
}

/* generate from a prompt; see generate.h */
int
LlmGenerate(LlmRuntime *rt, const Tokenizer *tok, const int32_t *prompt,
			int n_prompt, const LlmGenerateParams *p, LlmTokenCallback cb,
			void *arg, LlmGenerateResult *res, LlmError *err)
{
	GenerateState st;
	const LlmConfig *cfg;
	const int32_t *eos;
	int			n_eos;
	int			chunk;
	int			cap_ids = 0;
	int32_t		next = 0;
	int32_t		cur;
	double		t0 = Now();
	int			rc;

	memset(res, 0, sizeof(*res));
	memset(&st, 0, sizeof(st));
	if ((rc = CheckArguments(rt, tok, prompt, n_prompt, p, err)) != LLM_OK)
		return rc;
	cfg = &LlmRuntimeModel(rt)->cfg;
	eos = p->eos_ids ? p->eos_ids : cfg->eos_ids;
	n_eos = p->eos_ids ? p->n_eos : cfg->n_eos;
	chunk = LlmRuntimeMaxBatchRows(rt);
	if (p->prefill_chunk > 0 && p->prefill_chunk < chunk)
		chunk = p->prefill_chunk;
	res->prompt_tokens = n_prompt;
	res->finish = LLM_FINISH_LENGTH;

	st.rt = rt;
	st.greedy_on_device = (p->sampling.temperature == 0.0 &&
						   p->sampling.repetition_penalty == 1.0);
	if ((rc = LlmSamplerInit(&st.sampler, &p->sampling, cfg->vocab_size, err)) != LLM_OK)
		return rc;
	st.cap_hist = n_prompt + 64;
	st.hist = LlmAlloc(sizeof(int32_t) * (size_t) st.cap_hist, err);
	st.logits = LlmAlloc(sizeof(float) * (size_t) cfg->vocab_size, err);
	if (st.hist == NULL || st.logits == NULL)
	{
		rc = LLM_ERR_NOMEM;
		goto done;
	}
	memcpy(st.hist, prompt, sizeof(int32_t) * (size_t) n_prompt);
	st.n_hist = n_prompt;
	if (tok != NULL)
	{
		rc = LlmTextStreamInit(&st.ts, tok, p->skip_special, p->stop, p->n_stop, err);
		if (rc != LLM_OK)
			goto done;
		st.have_ts = true;
	}
	if (p->max_tokens == 0)
		goto finish;

	if ((rc = LlmSeqOpen(rt, &st.seq, err)) != LLM_OK)
		goto done;
	st.seq_open = true;

	/* prefill in chunks; the last one gives the first token */
	for (int off = 0; off < n_prompt; off += chunk)
	{
		int			n = n_prompt - off < chunk ? n_prompt - off : chunk;

		rc = StepAndChoose(&st, prompt + off, n, off + n == n_prompt, &next, err);
		if (rc != LLM_OK)
			goto done;
	}
	res->ttft_s = Now() - t0;

	for (;;)
	{
		const char *piece = NULL;
		size_t		before = 0;
		size_t		len = 0;
		bool		finished = false;

		if (res->n_ids == cap_ids)
		{
			int			cap = cap_ids ? cap_ids * 2 : 64;
			int32_t    *ids;

			if (cap > p->max_tokens)
				cap = p->max_tokens;
			ids = realloc(res->ids, sizeof(int32_t) * (size_t) cap);
			if (ids == NULL)
			{
				rc = LlmSetError(err, LLM_ERR_NOMEM, "out of memory for generated tokens");
				goto done;
			}
			res->ids = ids;
			cap_ids = cap;
		}
		res->ids[res->n_ids++] = next;
		if ((rc = HistoryAppend(&st, next, err)) != LLM_OK)
			goto done;

		if (st.have_ts)
			before = st.ts.emitted;
		if (IsEos(eos, n_eos, next))
		{
			res->finish = LLM_FINISH_EOS;
			finished = true;
		}
		else if (st.have_ts)
		{
			rc = LlmTextStreamPush(&st.ts, next, &piece, &len, err);
			if (rc != LLM_OK)
				goto done;
			if (st.ts.stopped)
			{
				res->finish = LLM_FINISH_STOP;
				finished = true;
			}
		}
		if (!finished &&
			(res->n_ids >= p->max_tokens || n_prompt + res->n_ids > cfg->max_position))
		{
			res->finish = LLM_FINISH_LENGTH;
			finished = true;
		}
		if (finished && st.have_ts)
		{
			rc = LlmTextStreamFinish(&st.ts, &piece, &len, err);
			if (rc != LLM_OK)
				goto done;
			if (st.ts.stopped)
				res->finish = LLM_FINISH_STOP;
		}
		if (cb != NULL)
		{
			piece = st.have_ts ? st.ts.text + before : "";
			len = st.have_ts ? st.ts.emitted - before : 0;
			if (cb(arg, next, piece, len) != 0 && !finished)
			{
				res->finish = LLM_FINISH_CANCELLED;
				finished = true;
			}
		}
		if (finished)
			break;
		cur = next;
		rc = StepAndChoose(&st, &cur, 1, true, &next, err);
		if (rc != LLM_OK)
			goto done;
	}

finish:
	res->completion_tokens = res->n_ids;
	if (st.have_ts)
	{
		/* a cancelled stream keeps what was handed out */
		if (res->finish == LLM_FINISH_CANCELLED)
		{
			st.ts.text_len = st.ts.emitted;
			st.ts.text[st.ts.text_len] = '\0';
		}
		res->text = st.ts.text;
		res->text_len = st.ts.text_len;
		st.ts.text = NULL;
	}
	res->total_s = Now() - t0;
	rc = LLM_OK;

done:
	if (st.seq_open)
		LlmSeqClose(rt, st.seq);
	if (st.have_ts)
		LlmTextStreamFree(&st.ts);
	LlmSamplerFree(&st.sampler);
	free(st.hist);
	free(st.logits);
	if (rc != LLM_OK)
		LlmGenerateResultFree(res);
	return rc;
}
