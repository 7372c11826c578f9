/*-------------------------------------------------------------------------
 *
 * sched.c
 *	  Continuous batching of generation requests over one LlmRuntime
 *	  (see sched.h).
 *
 * Requests sit in one array in arrival order.  A step admits waiting
 * requests while a sequence slot and KV blocks for their prompt are free
 * (strictly in order, so a large request is not starved by small ones
 * behind it), then lays out one decode row per decoding request and
 * fills the remaining rows with prompt chunks, oldest request first.
 *
 * Admission counts what a request needs now, not its max_tokens: when a
 * step's rows need more KV blocks than are free, the youngest running
 * request (a paused one first) is preempted: its sequence is closed and
 * it waits again at its place in the queue, keeping its tokens.  When
 * readmitted it reads its prompt and the tokens it generated again as a
 * prefill, whose last logits give its next token, so its output goes on
 * where it stopped (up to the floating-point order of the products).  The
 * oldest request always fits alone (LlmSchedAdd refuses one that cannot),
 * so every request finishes.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>

#include "compute/computeops.h"
#include "llm/sched.h"

typedef struct SchedReq
{
	void	   *tag;
	int32_t    *hist;			/* prompt, then generated tokens */
	int			n_hist;
	int			cap_hist;
	int			n_prompt;
	int			fed;			/* tokens in the KV cache */
	int			n_new;			/* tokens generated */
	int			max_tokens;
	int32_t		eos[LLM_MAX_EOS];
	int			n_eos;
	bool		greedy;			/* temperature 0, no penalty: argmax */
	LlmSampler	sampler;		/* only when !greedy */
	int			seq;			/* -1 while waiting */
	bool		paused;			/* skipped by steps (LlmSchedSetPaused) */
} SchedReq;

struct LlmSched
{
	LlmRuntime *rt;
	int			vocab;
	int			max_position;
	int			max_seqs;
	int			max_rows;
	int			total_blocks;
	int			running;
	int64_t		preemptions;

	SchedReq  **reqs;			/* arrival order */
	int			n_reqs;
	int			cap_reqs;

	/* step scratch, max_seqs entries each */
	LlmStepSeq *entries;
	SchedReq  **entry_req;
	int32_t    *ids;
	float	   *logits;			/* (max_seqs, vocab) */
};

/* create a scheduler over rt; see sched.h */
int
LlmSchedCreate(LlmRuntime *rt, LlmSched **out, LlmError *err)
{
	const LlmConfig *cfg = &LlmRuntimeModel(rt)->cfg;
	LlmSched   *s;
	int			free_blocks;

	*out = NULL;
	if (cfg->arch == LLM_ARCH_BERT)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "an encoder model does not generate");
	s = LlmAllocZero(sizeof(*s), err);
	if (s == NULL)
		return LLM_ERR_NOMEM;
	s->rt = rt;
	s->vocab = cfg->vocab_size;
	s->max_position = cfg->max_position;
	s->max_seqs = LlmRuntimeMaxSeqs(rt);
	s->max_rows = LlmRuntimeMaxBatchRows(rt);
	LlmRuntimeKvUsage(rt, &free_blocks, &s->total_blocks);
	s->entries = LlmAlloc(sizeof(LlmStepSeq) * (size_t) s->max_seqs, err);
	s->entry_req = LlmAlloc(sizeof(SchedReq *) * (size_t) s->max_seqs, err);
	s->ids = LlmAlloc(sizeof(int32_t) * (size_t) s->max_seqs, err);
	s->logits = LlmAlloc(sizeof(float) * (size_t) s->max_seqs * (size_t) s->vocab, err);
	if (s->entries == NULL || s->entry_req == NULL || s->ids == NULL || s->logits == NULL)
	{
		LlmSchedFree(s);
		return LLM_ERR_NOMEM;
	}
	*out = s;
	return LLM_OK;
}

/* free a request and its sequence */
static void
ReqFree(LlmSched *s, SchedReq *r)
{
	if (r->seq >= 0)
	{
		LlmSeqClose(s->rt, r->seq);
		s->running--;
	}
	if (!r->greedy)
		LlmSamplerFree(&r->sampler);
	free(r->hist);
	free(r);
}

/* free the scheduler and every request still in it */
void
LlmSchedFree(LlmSched *s)
{
	if (s == NULL)
		return;
	for (int i = 0; i < s->n_reqs; i++)
		ReqFree(s, s->reqs[i]);
	free(s->reqs);
	free(s->entries);
	free(s->entry_req);
	free(s->ids);
	free(s->logits);
	free(s);
}

/* KV blocks that hold n tokens (what the runtime gives a sequence) */
static int
Blocks(int64_t n)
{
	return (int) ((n + COMPUTE_KV_BLOCK - 1) / COMPUTE_KV_BLOCK);
}

/* KV blocks that a request of this many tokens may need at most */
static int
BlocksFor(const LlmSched *s, int n_prompt, int max_tokens)
{
	int64_t		len = (int64_t) n_prompt + max_tokens;

	return Blocks(len < s->max_position ? len : s->max_position);
}

/*
 * KV blocks a request needs to read its history (the prompt, and the
 * tokens generated before a preemption) and take its next token; a
 * sequence never holds more than the context, so a request that fits
 * alone (LlmSchedAdd) always fits this
 */
static int
PromptBlocks(const LlmSched *s, const SchedReq *r)
{
	return Blocks(r->n_hist + 1 < s->max_position ? r->n_hist + 1 : s->max_position);
}

/* queue a request; see sched.h */
int
LlmSchedAdd(LlmSched *s, void *tag, const int32_t *prompt, int n_prompt,
			const LlmSamplingParams *sampling, int max_tokens,
			const int32_t *eos_ids, int n_eos, LlmError *err)
{
	const LlmConfig *cfg = &LlmRuntimeModel(s->rt)->cfg;
	SchedReq   *r;
	int			rc;

	if (n_prompt < 1)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "the prompt has no tokens");
	if (n_prompt > s->max_position)
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "the prompt has %d tokens, more than the model's context of %d",
						   n_prompt, s->max_position);
	if (max_tokens < 1)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "max_tokens must be at least 1");
	for (int i = 0; i < n_prompt; i++)
		if (prompt[i] < 0 || prompt[i] >= s->vocab)
			return LlmSetError(err, LLM_ERR_ARGUMENT,
							   "token id %d is outside the vocabulary of %d",
							   prompt[i], s->vocab);
	if ((rc = LlmSamplingValidate(sampling, err)) != LLM_OK)
		return rc;
	if (n_eos > LLM_MAX_EOS)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "at most %d EOS ids", LLM_MAX_EOS);
	if (BlocksFor(s, n_prompt, max_tokens) > s->total_blocks)
		return LlmSetError(err, LLM_ERR_FULL,
						   "the request needs %d tokens of KV cache; the cache holds %d",
						   n_prompt + max_tokens, s->total_blocks * COMPUTE_KV_BLOCK);

	if (s->n_reqs == s->cap_reqs)
	{
		int			cap = s->cap_reqs ? s->cap_reqs * 2 : 64;
		SchedReq  **reqs = realloc(s->reqs, sizeof(SchedReq *) * (size_t) cap);

		if (reqs == NULL)
			return LlmSetError(err, LLM_ERR_NOMEM, "out of memory for requests");
		s->reqs = reqs;
		s->cap_reqs = cap;
	}
	r = LlmAllocZero(sizeof(*r), err);
	if (r == NULL)
		return LLM_ERR_NOMEM;
	r->tag = tag;
	r->seq = -1;
	r->n_prompt = n_prompt;
	r->max_tokens = max_tokens;
	r->cap_hist = n_prompt + (max_tokens < 4096 ? max_tokens : 4096) + 1;
	r->hist = LlmAlloc(sizeof(int32_t) * (size_t) r->cap_hist, err);
	if (r->hist == NULL)
	{
		free(r);
		return LLM_ERR_NOMEM;
	}
	memcpy(r->hist, prompt, sizeof(int32_t) * (size_t) n_prompt);
	r->n_hist = n_prompt;
	if (n_eos < 0)
	{
		r->n_eos = cfg->n_eos;
		memcpy(r->eos, cfg->eos_ids, sizeof(int32_t) * (size_t) cfg->n_eos);
	}
	else
	{
		r->n_eos = n_eos;
		memcpy(r->eos, eos_ids, sizeof(int32_t) * (size_t) n_eos);
	}
	r->greedy = sampling->temperature == 0.0 && sampling->repetition_penalty == 1.0;
	if (!r->greedy &&
		(rc = LlmSamplerInit(&r->sampler, sampling, s->vocab, err)) != LLM_OK)
	{
		free(r->hist);
		free(r);
		return rc;
	}
	s->reqs[s->n_reqs++] = r;
	return LLM_OK;
}

/* remove request i from the array, keeping the order */
static void
RemoveAt(LlmSched *s, int i)
{
	ReqFree(s, s->reqs[i]);
	memmove(s->reqs + i, s->reqs + i + 1, sizeof(SchedReq *) * (size_t) (s->n_reqs - i - 1));
	s->n_reqs--;
}

/* drop a request; see sched.h */
void
LlmSchedCancel(LlmSched *s, void *tag)
{
	for (int i = 0; i < s->n_reqs; i++)
		if (s->reqs[i]->tag == tag)
		{
			RemoveAt(s, i);
			return;
		}
}

/* pause or resume a request */
void
LlmSchedSetPaused(LlmSched *s, void *tag, bool paused)
{
	for (int i = 0; i < s->n_reqs; i++)
		if (s->reqs[i]->tag == tag)
			s->reqs[i]->paused = paused;
}

/*
 * KV blocks free for admitting more requests: the free blocks, less what
 * admitted requests still need to read their prompts and one block per
 * running request for its next tokens.  With without_paused, as if the
 * paused requests had been preempted.
 */
static int
AdmissionRoom(const LlmSched *s, bool without_paused)
{
	int			free_blocks;
	int			total;
	int			room;

	LlmRuntimeKvUsage(s->rt, &free_blocks, &total);
	room = free_blocks;
	for (int i = 0; i < s->n_reqs; i++)
	{
		const SchedReq *r = s->reqs[i];

		if (r->seq < 0)
			continue;
		if (without_paused && r->paused)
			room += Blocks(r->fed);
		else
			room -= 1 + (r->n_hist - r->fed > 1 ? PromptBlocks(s, r) - Blocks(r->fed) : 0);
	}
	return room;
}

/* may waiting request r be admitted beside running requests, with room blocks? */
static bool
Admissible(const LlmSched *s, const SchedReq *r, int running, int room)
{
	return running < s->max_seqs && PromptBlocks(s, r) <= room;
}

/* admitted requests that are paused */
static int
PausedRunning(const LlmSched *s)
{
	int			n = 0;

	for (int i = 0; i < s->n_reqs; i++)
		n += s->reqs[i]->seq >= 0 && s->reqs[i]->paused;
	return n;
}

/*
 * Requests a step would run: admitted ones not paused, plus the first
 * waiting one if it can be admitted now, paused ones giving way (the others
 * wait behind it; paused waiting ones are passed over)
 */
int
LlmSchedRunnable(const LlmSched *s)
{
	int			n = 0;
	const SchedReq *first_waiting = NULL;

	for (int i = 0; i < s->n_reqs; i++)
	{
		const SchedReq *r = s->reqs[i];

		if (r->seq >= 0)
			n += !r->paused;
		else if (first_waiting == NULL && !r->paused)
			first_waiting = r;
	}
	/* n running requests are not paused; the paused ones would give way */
	if (first_waiting != NULL)
		n += Admissible(s, first_waiting, n, AdmissionRoom(s, true));
	return n;
}

/* has the request been admitted? */
bool
LlmSchedIsRunning(const LlmSched *s, void *tag)
{
	for (int i = 0; i < s->n_reqs; i++)
		if (s->reqs[i]->tag == tag)
			return s->reqs[i]->seq >= 0;
	return false;
}

/* requests running and waiting */
void
LlmSchedCounts(const LlmSched *s, int *running, int *waiting)
{
	*running = s->running;
	*waiting = s->n_reqs - s->running;
}

/* requests preempted so far */
int64_t
LlmSchedPreemptions(const LlmSched *s)
{
	return s->preemptions;
}

/* room for the events of one step */
int
LlmSchedMaxEvents(const LlmSched *s)
{
	return s->max_seqs;
}

/*
 * Preempt the youngest running request, a paused one first (only a paused
 * one with paused_only): close its sequence (its blocks go back to the
 * cache) and make it read all its tokens again when readmitted.  False
 * when there is none.
 */
static bool
Preempt(LlmSched *s, bool paused_only)
{
	SchedReq   *victim = NULL;

	for (int i = s->n_reqs - 1; i >= 0; i--)
	{
		SchedReq   *r = s->reqs[i];

		if (r->seq < 0)
			continue;
		if (r->paused)
		{
			victim = r;
			break;
		}
		if (victim == NULL)
			victim = r;
	}
	if (victim == NULL || (paused_only && !victim->paused))
		return false;
	LlmSeqClose(s->rt, victim->seq);
	victim->seq = -1;
	victim->fed = 0;			/* its whole history is read again */
	s->running--;
	s->preemptions++;
	return true;
}

/*
 * Open sequences for waiting requests, in order, while they fit; paused
 * requests (slow readers) give their blocks up for a waiting one
 */
static int
Admit(LlmSched *s, LlmError *err)
{
	int			room = AdmissionRoom(s, false);

	for (int i = 0; i < s->n_reqs; i++)
	{
		SchedReq   *r = s->reqs[i];
		int			rc;

		if (r->seq >= 0 || r->paused)
			continue;
		/* paused requests give way only when that admits r */
		if (!Admissible(s, r, s->running, room) &&
			Admissible(s, r, s->running - PausedRunning(s), AdmissionRoom(s, true)))
			while (!Admissible(s, r, s->running, room) && Preempt(s, true))
				room = AdmissionRoom(s, false);
		if (!Admissible(s, r, s->running, room))
			break;
		if ((rc = LlmSeqOpen(s->rt, &r->seq, err)) != LLM_OK)
		{
			r->seq = -1;
			return rc == LLM_ERR_FULL ? LLM_OK : rc;
		}
		s->running++;
		/* the room counts its prompt and its next tokens from now on */
		room -= PromptBlocks(s, r) + 1;
	}
	return LLM_OK;
}

/* lay out a step: decode rows first, then prompt chunks; returns entries */
static int
Layout(LlmSched *s, bool *all_greedy)
{
	int			n = 0;
	int			rows = 0;

	*all_greedy = true;
	for (int pass = 0; pass < 2; pass++)
	{
		for (int i = 0; i < s->n_reqs && n < s->max_seqs && rows < s->max_rows; i++)
		{
			SchedReq   *r = s->reqs[i];
			/* n_hist - fed tokens to feed: 1 when decoding */
			bool		decoding = r->n_hist - r->fed == 1;
			LlmStepSeq *e = &s->entries[n];
			int			take;

			if (r->seq < 0 || r->paused || decoding != (pass == 0))
				continue;
			take = r->n_hist - r->fed;
			if (take > s->max_rows - rows)
				take = s->max_rows - rows;
			e->seq = r->seq;
			e->tokens = r->hist + r->fed;
			e->n_tokens = take;
			e->want_logits = r->fed + take == r->n_hist;
			if (e->want_logits && !r->greedy)
				*all_greedy = false;
			s->entry_req[n++] = r;
			rows += take;
		}
	}
	return n;
}

/* append a generated token to a request's history */
static int
HistPush(SchedReq *r, int32_t token, LlmError *err)
{
	if (r->n_hist == r->cap_hist)
	{
		int			cap = r->cap_hist * 2;
		int32_t    *h = realloc(r->hist, sizeof(int32_t) * (size_t) cap);

		if (h == NULL)
			return LlmSetError(err, LLM_ERR_NOMEM, "out of memory for token history");
		r->hist = h;
		r->cap_hist = cap;
	}
	r->hist[r->n_hist++] = token;
	return LLM_OK;
}

/* fill an event for a request */
static void
SetEvent(LlmSchedEvent *ev, LlmSchedEventKind kind, const SchedReq *r)
{
	memset(ev, 0, sizeof(*ev));
	ev->kind = kind;
	ev->tag = r->tag;
	ev->completion_tokens = r->n_new;
}

/* the next token of a wanted row j (of n_wanted) */
static int32_t
Choose(LlmSched *s, SchedReq *r, bool all_greedy, int j)
{
	float	   *row = s->logits + (size_t) j * s->vocab;

	if (all_greedy)
		return s->ids[j];
	if (r->greedy)
		return LlmArgmax(row, s->vocab);
	return LlmSample(&r->sampler, row, r->hist, r->n_hist);
}

/* one step; see sched.h */
int
LlmSchedStep(LlmSched *s, LlmSchedEvent *events, int *n_events, LlmError *err)
{
	bool		all_greedy;
	int			n;
	int			n_wanted = 0;
	int			rc;

	*n_events = 0;
	if ((rc = Admit(s, err)) != LLM_OK)
		return rc;
	/*
	 * A step whose new KV blocks do not fit fails with LLM_ERR_FULL and
	 * changes nothing (runtime.h): preempt and lay it out again
	 */
	for (;;)
	{
		if ((n = Layout(s, &all_greedy)) == 0)
			return LLM_OK;
		if (all_greedy)
			rc = LlmStepArgmax(s->rt, s->entries, n, s->ids, err);
		else
			rc = LlmStep(s->rt, s->entries, n, s->logits, err);
		if (rc != LLM_ERR_FULL || !Preempt(s, false))
			break;
	}
	if (rc != LLM_OK)
	{
		for (int i = 0; i < n; i++)
		{
			LlmSchedEvent *ev = &events[(*n_events)++];

			SetEvent(ev, LLM_SCHED_ERROR, s->entry_req[i]);
			ev->code = rc;
			snprintf(ev->message, sizeof(ev->message), "%s", err ? err->message : "step failed");
			LlmSchedCancel(s, s->entry_req[i]->tag);
		}
		return rc;
	}

	for (int i = 0; i < n; i++)
	{
		SchedReq   *r = s->entry_req[i];
		LlmSchedEvent *ev;
		int32_t		token;
		bool		eos = false;

		r->fed += s->entries[i].n_tokens;
		if (!s->entries[i].want_logits)
			continue;
		token = Choose(s, r, all_greedy, n_wanted++);
		ev = &events[(*n_events)++];
		if ((rc = HistPush(r, token, err)) != LLM_OK)
		{
			SetEvent(ev, LLM_SCHED_ERROR, r);
			ev->code = rc;
			snprintf(ev->message, sizeof(ev->message), "%s", err->message);
			continue;
		}
		r->n_new++;
		for (int k = 0; k < r->n_eos; k++)
			eos |= r->eos[k] == token;
		SetEvent(ev, LLM_SCHED_TOKEN, r);
		ev->token = token;
		if (eos)
		{
			ev->kind = LLM_SCHED_DONE;
			ev->finish = LLM_FINISH_EOS;
		}
		else if (r->n_new >= r->max_tokens || r->n_prompt + r->n_new > s->max_position)
		{
			/* the token is final; the caller sees it, then DONE */
			ev->finish = LLM_FINISH_LENGTH;
			ev->kind = LLM_SCHED_DONE;
		}
	}
	/* remove finished requests */
	for (int i = 0; i < *n_events; i++)
		if (events[i].kind != LLM_SCHED_TOKEN)
			LlmSchedCancel(s, events[i].tag);
	return LLM_OK;
}
