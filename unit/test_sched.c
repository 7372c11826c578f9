// objects: src/llm/sched.o src/llm/generate.o src/llm/sampler.o src/llm/tokenizer.o src/llm/tokutil.o src/llm/utf8.o src/llm/toknorm.o src/llm/tokpretok.o src/llm/tokbpe.o src/llm/tokwordpiece.o src/llm/tokdecode.o src/llm/llmutil.o src/llm/llmjson.o src/llm/config.o src/llm/safetensors.o src/llm/weights.o src/llm/model.o src/llm/runtime.o src/llm/forward.o src/compute/compute_cpu.o src/compute/compute_cuda.o src/vector/vecdist.o
/*
 * test_sched.c
 *	  Continuous batching on the CPU backend: requests that share steps
 *	  give the reference greedy tokens of every fixture prompt, whether
 *	  they arrive together or one after another; seeded sampling gives
 *	  what LlmGenerate gives alone; a KV cache too small for two requests
 *	  runs them one after the other, or together with preemption, and still
 *	  gives the reference tokens; random arrivals and pauses over random
 *	  small caches give every request what it gives alone; cancelling frees
 *	  the cache; and bad requests are refused.
 */
#include <stdlib.h>

#include "compute/computeops.h"
#include "llm/llmjson.h"
#include "llm/sched.h"
#include "unit.h"
#include "unitfix.h"

#define MAX_CASES 8
#define MAX_NEW 64

typedef struct Case
{
	int32_t    *prompt;
	int			n_prompt;
	int32_t    *want;
	int			n_want;
	/* what the scheduler produced */
	int32_t		got[MAX_NEW];
	int			n_got;
	bool		done;
	LlmFinishReason finish;
	int			errors;
} Case;

static char fixtures[1024];
static Case cases[MAX_CASES];
static int n_cases;

/* apply a step's events to the cases they belong to */
static void
Apply(const LlmSchedEvent *ev, int n)
{
	for (int i = 0; i < n; i++)
	{
		Case	   *c = ev[i].tag;

		if (ev[i].kind == LLM_SCHED_ERROR)
		{
			printf("  error event: %s\n", ev[i].message);
			c->errors++;
			c->done = true;
			continue;
		}
		if (c->n_got < MAX_NEW)
			c->got[c->n_got++] = ev[i].token;
		if (ev[i].kind == LLM_SCHED_DONE)
		{
			c->done = true;
			c->finish = ev[i].finish;
		}
	}
}

/* step until nothing runs or waits; returns the steps taken */
static int
Drain(LlmSched *s, int max_steps)
{
	LlmSchedEvent *ev = malloc(sizeof(LlmSchedEvent) * LlmSchedMaxEvents(s));
	LlmError	err = {0};
	int			steps = 0;
	int			running,
				waiting;

	for (;;)
	{
		int			n = 0;

		LlmSchedCounts(s, &running, &waiting);
		if (running + waiting == 0 || steps >= max_steps)
			break;
		if (LlmSchedStep(s, ev, &n, &err) != LLM_OK)
			printf("  step failed: %s\n", err.message);
		Apply(ev, n);
		steps++;
	}
	free(ev);
	return steps;
}

/* greedy sampling, no penalty */
static LlmSamplingParams
Greedy(void)
{
	LlmSamplingParams p;

	LlmSamplingDefaults(&p);
	return p;
}

/* reset what the scheduler produced */
static void
ResetCases(void)
{
	for (int i = 0; i < n_cases; i++)
	{
		cases[i].n_got = 0;
		cases[i].done = false;
		cases[i].errors = 0;
	}
}

/* does case c hold exactly its reference tokens? */
static bool
MatchesReference(const Case *c)
{
	return c->done && c->errors == 0 && c->n_got == c->n_want &&
		memcmp(c->got, c->want, sizeof(int32_t) * c->n_want) == 0 &&
		c->finish == LLM_FINISH_LENGTH;
}

/* all prompts at once, then staggered arrivals */
static void
TestBatching(const char *name, LlmRuntime *rt)
{
	LlmSamplingParams g = Greedy();
	LlmSched   *s = NULL;
	LlmError	err = {0};
	int			free0,
				free1,
				total;

	CHECK(LlmSchedCreate(rt, &s, &err) == LLM_OK);
	if (s == NULL)
		return;
	LlmRuntimeKvUsage(rt, &free0, &total);

	ResetCases();
	for (int i = 0; i < n_cases; i++)
		CHECK(LlmSchedAdd(s, &cases[i], cases[i].prompt, cases[i].n_prompt, &g,
						  cases[i].n_want, NULL, 0, &err) == LLM_OK);
	Drain(s, 1000);
	for (int i = 0; i < n_cases; i++)
	{
		CHECK(MatchesReference(&cases[i]));
		if (!MatchesReference(&cases[i]))
			printf("  %s case %d together: %d tokens\n", name, i, cases[i].n_got);
	}

	/* staggered: case i joins after 3 * i steps of the others */
	ResetCases();
	{
		LlmSchedEvent *ev = malloc(sizeof(LlmSchedEvent) * LlmSchedMaxEvents(s));
		int			added = 0;

		for (int step = 0; step < 1000; step++)
		{
			int			n = 0,
						running,
						waiting;

			if (added < n_cases && step == 3 * added)
			{
				CHECK(LlmSchedAdd(s, &cases[added], cases[added].prompt,
								  cases[added].n_prompt, &g, cases[added].n_want,
								  NULL, 0, &err) == LLM_OK);
				added++;
			}
			LlmSchedCounts(s, &running, &waiting);
			if (added == n_cases && running + waiting == 0)
				break;
			CHECK(LlmSchedStep(s, ev, &n, &err) == LLM_OK);
			Apply(ev, n);
		}
		free(ev);
	}
	for (int i = 0; i < n_cases; i++)
		CHECK(MatchesReference(&cases[i]));
	LlmRuntimeKvUsage(rt, &free1, &total);
	CHECK(free1 == free0);
	LlmSchedFree(s);
}

/* seeded sampling gives what LlmGenerate gives for the same request */
static void
TestSampling(LlmRuntime *rt)
{
	LlmSamplingParams sp;
	LlmGenerateParams gp;
	LlmGenerateResult res;
	LlmSched   *s = NULL;
	LlmError	err = {0};
	Case	   *c = &cases[0];
	Case		other = *c;

	LlmSamplingDefaults(&sp);
	sp.temperature = 0.8;
	sp.top_p = 0.9;
	sp.top_k = 40;
	sp.repetition_penalty = 1.1;
	sp.seed = 42;
	LlmGenerateDefaults(&gp);
	gp.sampling = sp;
	gp.max_tokens = 12;
	gp.eos_ids = c->want;		/* any non-NULL pointer */
	gp.n_eos = 0;
	CHECK(LlmGenerate(rt, NULL, c->prompt, c->n_prompt, &gp, NULL, NULL, &res, &err) == LLM_OK);

	CHECK(LlmSchedCreate(rt, &s, &err) == LLM_OK);
	ResetCases();
	other.n_got = 0;
	other.done = false;
	/* a greedy neighbour in the same steps must not disturb the draw */
	{
		LlmSamplingParams g = Greedy();

		CHECK(LlmSchedAdd(s, &other, other.prompt, other.n_prompt, &g, 5, NULL, 0, &err) == LLM_OK);
	}
	CHECK(LlmSchedAdd(s, c, c->prompt, c->n_prompt, &sp, 12, NULL, 0, &err) == LLM_OK);
	Drain(s, 100);
	CHECK(c->done && c->n_got == res.n_ids &&
		  memcmp(c->got, res.ids, sizeof(int32_t) * res.n_ids) == 0);
	CHECK(other.done && other.n_got == 5 && memcmp(other.got, c->want, sizeof(int32_t) * 5) == 0);
	LlmGenerateResultFree(&res);
	LlmSchedFree(s);
}

/* EOS ends a request with LLM_FINISH_EOS, and the EOS is its last event */
static void
TestEos(LlmRuntime *rt)
{
	LlmSamplingParams g = Greedy();
	LlmSched   *s = NULL;
	LlmError	err = {0};
	Case	   *c = &cases[0];
	int32_t		eos = c->want[3];	/* the 4th reference token */
	int			first = 0;

	while (c->want[first] != eos)
		first++;
	CHECK(LlmSchedCreate(rt, &s, &err) == LLM_OK);
	ResetCases();
	CHECK(LlmSchedAdd(s, c, c->prompt, c->n_prompt, &g, 16, &eos, 1, &err) == LLM_OK);
	Drain(s, 100);
	CHECK(c->done && c->finish == LLM_FINISH_EOS && c->n_got == first + 1 &&
		  c->got[first] == eos);
	LlmSchedFree(s);
}

#define BLOCKS(n) (((n) + COMPUTE_KV_BLOCK - 1) / COMPUTE_KV_BLOCK)

/* a runtime with a KV cache of n_blocks blocks, or NULL */
static LlmRuntime *
SmallRuntime(LlmModel *model, const LlmRuntimeOptions *base, int n_blocks)
{
	LlmRuntimeOptions opt = *base;
	LlmRuntime *rt = NULL;
	LlmError	err = {0};
	const LlmConfig *cfg = &model->cfg;

	opt.kv_bytes = 2 * (size_t) cfg->n_layers * COMPUTE_KV_BLOCK * cfg->n_kv_heads *
		cfg->head_dim * sizeof(float) * (size_t) n_blocks;
	if (LlmRuntimeCreate(model, &ComputeCpuOps, &opt, &rt, &err) != LLM_OK)
	{
		printf("FAIL small runtime: %s\n", err.message);
		unit_failed++;
		return NULL;
	}
	return rt;
}

/* a cache for one request at a time: the second waits, then runs */
static void
TestSmallCache(LlmModel *model, const LlmRuntimeOptions *base)
{
	LlmSamplingParams g = Greedy();
	LlmRuntime *rt;
	LlmSched   *s = NULL;
	LlmError	err = {0};
	int			need = BLOCKS(cases[0].n_prompt + cases[0].n_want);
	int			running,
				waiting,
				n = 0;
	LlmSchedEvent *ev;

	if ((rt = SmallRuntime(model, base, need)) == NULL)
		return;
	CHECK(LlmSchedCreate(rt, &s, &err) == LLM_OK);
	ev = malloc(sizeof(LlmSchedEvent) * LlmSchedMaxEvents(s));
	ResetCases();
	CHECK(LlmSchedAdd(s, &cases[0], cases[0].prompt, cases[0].n_prompt, &g,
					  cases[0].n_want, NULL, 0, &err) == LLM_OK);
	CHECK(LlmSchedAdd(s, &cases[1], cases[1].prompt, cases[1].n_prompt, &g,
					  cases[1].n_want, NULL, 0, &err) == LLM_OK);
	CHECK(LlmSchedStep(s, ev, &n, &err) == LLM_OK);
	Apply(ev, n);
	LlmSchedCounts(s, &running, &waiting);
	CHECK(running == 1 && waiting == 1);
	free(ev);
	Drain(s, 1000);
	CHECK(MatchesReference(&cases[0]) && MatchesReference(&cases[1]));

	/* more than the whole cache: refused, not queued forever */
	err.code = 0;
	CHECK(LlmSchedAdd(s, &cases[2], cases[2].prompt, cases[2].n_prompt, &g,
					  need * COMPUTE_KV_BLOCK, NULL, 0, &err) == LLM_ERR_FULL);
	LlmSchedFree(s);
	LlmRuntimeFree(rt);
}

/* step s until nothing runs or waits; the most requests that ran at once */
static int
DrainCounting(LlmSched *s, LlmSchedEvent *ev)
{
	LlmError	err = {0};
	int			most = 0;

	for (int step = 0; step < 2000; step++)
	{
		int			running,
					waiting,
					n = 0;

		LlmSchedCounts(s, &running, &waiting);
		most = running > most ? running : most;
		if (running + waiting == 0)
			break;
		CHECK(LlmSchedStep(s, ev, &n, &err) == LLM_OK);
		Apply(ev, n);
	}
	return most;
}

/* add cases first .. last, each for MAX_NEW tokens */
static void
AddLong(LlmSched *s, int first, int last)
{
	LlmSamplingParams g = Greedy();
	LlmError	err = {0};

	for (int i = first; i <= last; i++)
		CHECK(LlmSchedAdd(s, &cases[i], cases[i].prompt, cases[i].n_prompt, &g,
						  MAX_NEW, NULL, 0, &err) == LLM_OK);
}

/* did case c give what it gave without preemption, its reference first? */
static bool
SameAsAlone(const Case *c, const int32_t *alone, int n_alone)
{
	return c->done && c->errors == 0 && c->n_got == n_alone &&
		memcmp(c->got, alone, sizeof(int32_t) * n_alone) == 0 &&
		c->n_got >= c->n_want && memcmp(c->got, c->want, sizeof(int32_t) * c->n_want) == 0;
}

/*
 * Three requests of MAX_NEW tokens in a cache that holds the longest alone
 * and two prompts, not two whole requests: admission counts prompts, so
 * two run at once; when their tokens outgrow the cache the youngest is
 * preempted and later reads its tokens again.  Each request gives what it
 * gives in a large cache.  Then a paused request gives its blocks up to a
 * waiting one, and resumes.
 */
static void
TestPreempt(LlmModel *model, const LlmRuntimeOptions *base, LlmRuntime *big)
{
	int32_t		alone[3][MAX_NEW];
	int			n_alone[3];
	LlmRuntime *rt;
	LlmSched   *s = NULL;
	LlmError	err = {0};
	LlmSchedEvent *ev;
	int			need = 0;
	int			both;
	int			most;
	int			n = 0;

	/* what each gives with room for all */
	CHECK(LlmSchedCreate(big, &s, &err) == LLM_OK);
	ev = malloc(sizeof(LlmSchedEvent) * LlmSchedMaxEvents(s));
	ResetCases();
	AddLong(s, 0, 2);
	DrainCounting(s, ev);
	CHECK(LlmSchedPreemptions(s) == 0);
	for (int i = 0; i < 3; i++)
	{
		memcpy(alone[i], cases[i].got, sizeof(int32_t) * cases[i].n_got);
		n_alone[i] = cases[i].n_got;
		need = BLOCKS(cases[i].n_prompt + MAX_NEW) > need ? BLOCKS(cases[i].n_prompt + MAX_NEW) : need;
	}
	LlmSchedFree(s);
	free(ev);

	/* room to admit two prompts, not to finish two requests */
	both = BLOCKS(cases[0].n_prompt + 1) + BLOCKS(cases[1].n_prompt + 1) + 2;
	need = both > need ? both : need;
	CHECK(BLOCKS(cases[0].n_prompt + n_alone[0]) + BLOCKS(cases[1].n_prompt + n_alone[1]) > need);
	if ((rt = SmallRuntime(model, base, need)) == NULL)
		return;
	CHECK(LlmSchedCreate(rt, &s, &err) == LLM_OK);
	ev = malloc(sizeof(LlmSchedEvent) * LlmSchedMaxEvents(s));
	ResetCases();
	AddLong(s, 0, 2);
	most = DrainCounting(s, ev);
	printf("  preempt: %d blocks, %d requests at most at once, %lld preemptions\n",
		   need, most, (long long) LlmSchedPreemptions(s));
	CHECK(most >= 2);
	CHECK(LlmSchedPreemptions(s) >= 1);
	for (int i = 0; i < 3; i++)
		CHECK(SameAsAlone(&cases[i], alone[i], n_alone[i]));

	/*
	 * a paused request gives its blocks up to a waiting one, then resumes:
	 * a runs until a prompt like b's no longer fits beside it, pauses, and
	 * b arrives
	 */
	{
		int64_t		before;

		ResetCases();
		AddLong(s, 0, 0);
		for (int step = 0; step < 200 && !cases[0].done &&
			 need - BLOCKS(cases[0].n_prompt + cases[0].n_got - 1) - 1 >= BLOCKS(cases[1].n_prompt + 1); step++)
		{
			CHECK(LlmSchedStep(s, ev, &n, &err) == LLM_OK);
			Apply(ev, n);
		}
		CHECK(!cases[0].done && LlmSchedIsRunning(s, &cases[0]));
		LlmSchedSetPaused(s, &cases[0], true);
		CHECK(LlmSchedRunnable(s) == 0);
		AddLong(s, 1, 1);
		before = LlmSchedPreemptions(s);
		CHECK(LlmSchedRunnable(s) == 1);
		CHECK(LlmSchedStep(s, ev, &n, &err) == LLM_OK);
		Apply(ev, n);
		CHECK(LlmSchedPreemptions(s) == before + 1);
		CHECK(!LlmSchedIsRunning(s, &cases[0]) && LlmSchedIsRunning(s, &cases[1]));
		LlmSchedSetPaused(s, &cases[0], false);
		DrainCounting(s, ev);
		CHECK(SameAsAlone(&cases[0], alone[0], n_alone[0]));
		CHECK(SameAsAlone(&cases[1], alone[1], n_alone[1]));
	}
	LlmSchedFree(s);
	LlmRuntimeFree(rt);
	free(ev);
}

/*
 * A cache of exactly the context: a prompt of the whole context is
 * admitted and finishes (the next token's block is within the context)
 */
static void
TestFullContext(LlmModel *model, const LlmRuntimeOptions *base)
{
	LlmSamplingParams g = Greedy();
	int			ctx = model->cfg.max_position;
	int32_t    *prompt = malloc(sizeof(int32_t) * ctx);
	LlmRuntime *rt;
	LlmSched   *s = NULL;
	LlmError	err = {0};

	if ((rt = SmallRuntime(model, base, BLOCKS(ctx))) == NULL)
	{
		free(prompt);
		return;
	}
	for (int i = 0; i < ctx; i++)
		prompt[i] = cases[0].prompt[i % cases[0].n_prompt];
	CHECK(LlmSchedCreate(rt, &s, &err) == LLM_OK);
	ResetCases();
	CHECK(LlmSchedAdd(s, &cases[0], prompt, ctx, &g, 1, NULL, 0, &err) == LLM_OK);
	CHECK(LlmSchedRunnable(s) == 1);
	Drain(s, 1000);
	CHECK(cases[0].done && cases[0].errors == 0 && cases[0].n_got == 1 &&
		  cases[0].finish == LLM_FINISH_LENGTH);
	LlmSchedFree(s);
	LlmRuntimeFree(rt);
	free(prompt);
}

#define RANDOM_REQS 6
#define RANDOM_MAX_NEW 40

/* a request of the randomized test: its inputs and what it gave */
typedef struct RandomReq
{
	int32_t		prompt[48];
	int			n_prompt;
	int			max_tokens;
	LlmSamplingParams sampling;
	int32_t		alone[RANDOM_MAX_NEW];
	int			n_alone;
	int32_t		got[RANDOM_MAX_NEW + 1];	/* one more: a token too many shows */
	int			n_got;
	bool		added;
	bool		done;
	bool		paused;
} RandomReq;

static uint32_t random_state = 12345;

/* the test's own deterministic generator */
static uint32_t
NextRandom(uint32_t bound)
{
	random_state = random_state * 1103515245u + 12345u;
	return (random_state >> 8) % bound;
}

/* step s once and record its tokens in the RandomReqs they belong to */
static void
RandomStep(LlmSched *s, LlmSchedEvent *ev)
{
	LlmError	err = {0};
	int			n = 0;

	CHECK(LlmSchedStep(s, ev, &n, &err) == LLM_OK);
	for (int i = 0; i < n; i++)
	{
		RandomReq  *r = ev[i].tag;

		CHECK(ev[i].kind != LLM_SCHED_ERROR);
		CHECK(r->n_got < r->max_tokens);
		if (r->n_got <= RANDOM_MAX_NEW)
			r->got[r->n_got++] = ev[i].token;
		if (ev[i].kind == LLM_SCHED_DONE)
			r->done = true;
	}
}

/*
 * Random arrivals, pauses and resumptions over random small caches, row
 * and sequence limits, greedy and seeded sampling: every request finishes
 * (the scheduler never sleeps with work it could do), gives what it gives
 * alone, and the cache has all its blocks back at the end
 */
static void
TestRandom(LlmModel *model, const LlmRuntimeOptions *base, LlmRuntime *big)
{
	RandomReq	reqs[RANDOM_REQS];
	LlmSchedEvent *ev;
	LlmSched   *s = NULL;
	LlmError	err = {0};
	int			need = 0;
	int			finished = 0;
	int64_t		preemptions = 0;

	/* the requests, and what each gives alone */
	CHECK(LlmSchedCreate(big, &s, &err) == LLM_OK);
	ev = malloc(sizeof(LlmSchedEvent) * LlmSchedMaxEvents(s));
	for (int i = 0; i < RANDOM_REQS; i++)
	{
		RandomReq  *r = &reqs[i];

		memset(r, 0, sizeof(*r));
		r->n_prompt = 1 + NextRandom(48);
		for (int k = 0; k < r->n_prompt; k++)
			r->prompt[k] = cases[0].prompt[NextRandom(cases[0].n_prompt)];
		r->max_tokens = 1 + NextRandom(RANDOM_MAX_NEW);
		LlmSamplingDefaults(&r->sampling);
		if (i % 2 == 1)
		{
			r->sampling.temperature = 0.9;
			r->sampling.top_p = 0.95;
			r->sampling.repetition_penalty = 1.2;
			r->sampling.seed = 1000 + i;
		}
		need = BLOCKS(r->n_prompt + r->max_tokens) > need ? BLOCKS(r->n_prompt + r->max_tokens) : need;
		CHECK(LlmSchedAdd(s, r, r->prompt, r->n_prompt, &r->sampling, r->max_tokens, NULL, 0, &err) == LLM_OK);
		for (int step = 0; step < 200 && !r->done; step++)
			RandomStep(s, ev);
		memcpy(r->alone, r->got, sizeof(int32_t) * r->n_got);
		r->n_alone = r->n_got;
		CHECK(r->done);
	}
	LlmSchedFree(s);
	free(ev);

	for (int round = 0; round < 12; round++)
	{
		LlmRuntimeOptions opt = *base;
		LlmRuntime *rt;
		int			free_blocks,
					total;

		opt.max_seqs = 1 + NextRandom(4);
		opt.max_batch_rows = 4 + NextRandom(21);
		if ((rt = SmallRuntime(model, &opt, need + NextRandom(8))) == NULL)
			return;
		CHECK(LlmSchedCreate(rt, &s, &err) == LLM_OK);
		ev = malloc(sizeof(LlmSchedEvent) * LlmSchedMaxEvents(s));
		for (int i = 0; i < RANDOM_REQS; i++)
		{
			reqs[i].n_got = 0;
			reqs[i].added = reqs[i].done = reqs[i].paused = false;
		}
		for (int step = 0; step < 3000; step++)
		{
			int			running,
						waiting,
						pick = NextRandom(RANDOM_REQS);
			RandomReq  *r = &reqs[pick];
			bool		all_done = true;

			for (int i = 0; i < RANDOM_REQS; i++)
				all_done &= reqs[i].done;
			if (all_done)
				break;
			/* an arrival, a pause or a resumption now and then */
			if (!r->added && NextRandom(3) == 0)
			{
				CHECK(LlmSchedAdd(s, r, r->prompt, r->n_prompt, &r->sampling, r->max_tokens,
								  NULL, 0, &err) == LLM_OK);
				r->added = true;
			}
			else if (r->added && !r->done && NextRandom(4) == 0)
			{
				r->paused = !r->paused;
				LlmSchedSetPaused(s, r, r->paused);
			}
			LlmSchedCounts(s, &running, &waiting);
			if (LlmSchedRunnable(s) > 0)
				RandomStep(s, ev);
			else if (running + waiting > 0)
			{
				/* nothing runnable: only pauses may hold the others back */
				bool		any_paused = false;

				for (int i = 0; i < RANDOM_REQS; i++)
					any_paused |= reqs[i].added && !reqs[i].done && reqs[i].paused;
				CHECK(any_paused);
				for (int i = 0; i < RANDOM_REQS; i++)
				{
					reqs[i].paused = false;
					LlmSchedSetPaused(s, &reqs[i], false);
				}
			}
		}
		for (int i = 0; i < RANDOM_REQS; i++)
		{
			RandomReq  *r = &reqs[i];
			bool		same = r->done && r->n_got == r->n_alone &&
				memcmp(r->got, r->alone, sizeof(int32_t) * r->n_got) == 0;

			if (!same)
				printf("  random round %d: request %d gave %d tokens, %d alone\n",
					   round, i, r->n_got, r->n_alone);
			CHECK(same);
			finished += same;
		}
		LlmRuntimeKvUsage(rt, &free_blocks, &total);
		CHECK(free_blocks == total);
		preemptions += LlmSchedPreemptions(s);
		LlmSchedFree(s);
		LlmRuntimeFree(rt);
		free(ev);
	}
	printf("  random: %d requests finished as alone, %lld preemptions\n",
		   finished, (long long) preemptions);
	CHECK(preemptions > 0);
}

/* cancelling a running request frees its blocks; bad requests are refused */
static void
TestCancelAndErrors(LlmRuntime *rt)
{
	LlmSamplingParams g = Greedy();
	LlmSamplingParams bad = Greedy();
	LlmSched   *s = NULL;
	LlmError	err = {0};
	Case	   *c = &cases[0];
	int32_t		oov = 1 << 30;
	int			free0,
				free1,
				total,
				running,
				waiting,
				n = 0;
	LlmSchedEvent *ev;

	LlmRuntimeKvUsage(rt, &free0, &total);
	CHECK(LlmSchedCreate(rt, &s, &err) == LLM_OK);
	ev = malloc(sizeof(LlmSchedEvent) * LlmSchedMaxEvents(s));
	ResetCases();
	CHECK(LlmSchedAdd(s, c, c->prompt, c->n_prompt, &g, 16, NULL, 0, &err) == LLM_OK);
	CHECK(LlmSchedStep(s, ev, &n, &err) == LLM_OK);
	LlmRuntimeKvUsage(rt, &free1, &total);
	CHECK(free1 < free0);
	LlmSchedCancel(s, c);
	LlmRuntimeKvUsage(rt, &free1, &total);
	CHECK(free1 == free0);
	LlmSchedCounts(s, &running, &waiting);
	CHECK(running == 0 && waiting == 0);

	CHECK(LlmSchedAdd(s, c, c->prompt, 0, &g, 4, NULL, 0, &err) == LLM_ERR_ARGUMENT);
	CHECK(LlmSchedAdd(s, c, c->prompt, c->n_prompt, &g, 0, NULL, 0, &err) == LLM_ERR_ARGUMENT);
	CHECK(LlmSchedAdd(s, c, &oov, 1, &g, 4, NULL, 0, &err) == LLM_ERR_ARGUMENT);
	bad.top_p = 2.0;
	CHECK(LlmSchedAdd(s, c, c->prompt, c->n_prompt, &bad, 4, NULL, 0, &err) == LLM_ERR_ARGUMENT);
	{
		int			too_long = LlmRuntimeModel(rt)->cfg.max_position + 1;
		int32_t    *p = calloc(too_long, sizeof(int32_t));

		CHECK(LlmSchedAdd(s, c, p, too_long, &g, 1, NULL, 0, &err) == LLM_ERR_ARGUMENT);
		free(p);
	}
	LlmSchedCounts(s, &running, &waiting);
	CHECK(running == 0 && waiting == 0);
	free(ev);
	LlmSchedFree(s);
}

/*
 * A long prompt is read a chunk per step while another request decodes:
 * the decoding request gets a token at every step
 */
static void
TestLongPrompt(LlmRuntime *rt)
{
	LlmSamplingParams g = Greedy();
	LlmSched   *s = NULL;
	LlmError	err = {0};
	Case	   *a = &cases[0];
	Case		b;
	int			n_long = LlmRuntimeModel(rt)->cfg.max_position - 8;
	int32_t    *prompt = malloc(sizeof(int32_t) * n_long);
	LlmSchedEvent *ev;
	int			steps = 0,
				a_tokens = 0,
				n = 0;

	for (int i = 0; i < n_long; i++)
		prompt[i] = a->prompt[i % a->n_prompt];
	memset(&b, 0, sizeof(b));
	CHECK(LlmSchedCreate(rt, &s, &err) == LLM_OK);
	ev = malloc(sizeof(LlmSchedEvent) * LlmSchedMaxEvents(s));
	ResetCases();
	CHECK(LlmSchedAdd(s, a, a->prompt, a->n_prompt, &g, a->n_want, NULL, 0, &err) == LLM_OK);
	/* a's prompt fits in one step: it decodes from the second step on */
	CHECK(LlmSchedStep(s, ev, &n, &err) == LLM_OK);
	Apply(ev, n);
	CHECK(LlmSchedAdd(s, &b, prompt, n_long, &g, 4, NULL, 0, &err) == LLM_OK);
	while (!a->done && steps < 100)
	{
		bool		a_got = false;

		CHECK(LlmSchedStep(s, ev, &n, &err) == LLM_OK);
		for (int i = 0; i < n; i++)
			a_got |= ev[i].tag == a;
		Apply(ev, n);
		a_tokens += a_got;
		steps++;
	}
	/* b's prompt needs several steps, and a never waited for it */
	CHECK(n_long > LlmRuntimeMaxBatchRows(rt) * 2);
	CHECK(a_tokens == steps);
	CHECK(MatchesReference(a));
	Drain(s, 1000);
	CHECK(b.done && b.n_got == 4);
	free(ev);
	free(prompt);
	LlmSchedFree(s);
}

/* a paused request takes no part in steps and resumes unchanged */
static void
TestPause(LlmRuntime *rt)
{
	LlmSamplingParams g = Greedy();
	LlmSched   *s = NULL;
	LlmError	err = {0};
	LlmSchedEvent *ev;
	int			n = 0;
	bool		a_got = false;

	CHECK(LlmSchedCreate(rt, &s, &err) == LLM_OK);
	ev = malloc(sizeof(LlmSchedEvent) * LlmSchedMaxEvents(s));
	ResetCases();
	CHECK(LlmSchedAdd(s, &cases[0], cases[0].prompt, cases[0].n_prompt, &g,
					  cases[0].n_want, NULL, 0, &err) == LLM_OK);
	CHECK(LlmSchedAdd(s, &cases[1], cases[1].prompt, cases[1].n_prompt, &g,
					  cases[1].n_want, NULL, 0, &err) == LLM_OK);
	CHECK(LlmSchedStep(s, ev, &n, &err) == LLM_OK);
	Apply(ev, n);
	LlmSchedSetPaused(s, &cases[0], true);
	CHECK(LlmSchedRunnable(s) == 1);
	for (int step = 0; step < 3; step++)
	{
		CHECK(LlmSchedStep(s, ev, &n, &err) == LLM_OK);
		for (int i = 0; i < n; i++)
			a_got |= ev[i].tag == &cases[0];
		Apply(ev, n);
	}
	CHECK(!a_got);
	LlmSchedSetPaused(s, &cases[0], false);
	CHECK(LlmSchedRunnable(s) == 2);
	free(ev);
	Drain(s, 1000);
	CHECK(MatchesReference(&cases[0]) && MatchesReference(&cases[1]));
	LlmSchedFree(s);
}

/* load a causal fixture's cases and run every test on it */
static void
TestFixture(const char *name)
{
	LlmModel   *model;
	LlmRuntime *rt;
	LlmRuntimeOptions opt;
	json_t	   *golden;
	json_t	   *jc;

	LlmRuntimeDefaults(&opt);
	opt.kv_bytes = 16 * 1024 * 1024;
	opt.max_seqs = 8;
	opt.max_batch_rows = 24;	/* prompts are read in several chunks */
	if (!UnitLoadFixture(fixtures, name, &opt, &model, &rt, &golden))
		return;
	jc = json_object_get(golden, "cases");
	n_cases = 0;
	for (size_t i = 0; i < json_array_size(jc) && n_cases < MAX_CASES; i++)
	{
		json_t	   *c = json_array_get(jc, i);
		Case	   *k = &cases[n_cases++];

		memset(k, 0, sizeof(*k));
		k->prompt = UnitIntArray(json_object_get(c, "input_ids"), &k->n_prompt);
		k->want = UnitIntArray(json_object_get(c, "greedy_new_ids"), &k->n_want);
	}
	CHECK(n_cases >= 3);
	if (n_cases >= 3)
	{
		TestBatching(name, rt);
		TestSampling(rt);
		TestEos(rt);
		TestLongPrompt(rt);
		TestPause(rt);
		TestSmallCache(model, &opt);
		TestPreempt(model, &opt, rt);
		TestFullContext(model, &opt);
		TestRandom(model, &opt, rt);
		TestCancelAndErrors(rt);
	}
	for (int i = 0; i < n_cases; i++)
	{
		free(cases[i].prompt);
		free(cases[i].want);
	}
	json_decref(golden);
	LlmRuntimeFree(rt);
	LlmModelFree(model);
}

int
main(void)
{
	static const char *models[] = {"llama-tiny-f32", "qwen2-tiny-f32", "mistral-tiny-f32"};
	const char *env = getenv("PGMLOPS_FIXTURES");

	snprintf(fixtures, sizeof(fixtures), "%s", env && *env ? env : "test/data/fixtures");
	for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++)
		TestFixture(models[i]);
	UNIT_DONE("sched");
}
