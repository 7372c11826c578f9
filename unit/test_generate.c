// objects: src/llm/generate.o src/llm/sampler.o src/llm/tokenizer.o src/llm/tokutil.o src/llm/utf8.o src/llm/toknorm.o src/llm/tokpretok.o src/llm/tokbpe.o src/llm/tokwordpiece.o src/llm/tokdecode.o src/llm/llmutil.o src/llm/llmjson.o src/llm/config.o src/llm/safetensors.o src/llm/weights.o src/llm/model.o src/llm/runtime.o src/llm/forward.o src/compute/compute_cpu.o src/compute/compute_cuda.o src/vector/vecdist.o
/*
 * test_generate.c
 *	  The generation loop on the CPU backend against the reference
 *	  fixtures (16 greedy tokens of every prompt), token limits, EOS ids,
 *	  stop strings, seeded sampling, cancellation and argument errors; and
 *	  the incremental detokenizer alone on multi-byte text.
 */
#include <stdlib.h>

#include "llm/generate.h"
#include "llm/llmjson.h"
#include "unit.h"
#include "unitfix.h"

static char fixtures[1024];
static int stop_cases = 0;		/* stop-string checks that ran */

/* pieces streamed by the callback */
typedef struct Collect
{
	char		text[8192];
	size_t		len;
	int			calls;
	int			cancel_after;	/* 0: never */
	bool		bad_utf8;
	const char *never;			/* a string no piece may hold */
	bool		saw_never;
} Collect;

/* is s[0..n) valid UTF-8 (no overlongs or surrogates)? */
static bool
ValidUtf8(const char *s, size_t n)
{
	size_t		i = 0;

	while (i < n)
	{
		unsigned char c = (unsigned char) s[i];
		int			len = c < 0x80 ? 1 : c < 0xC2 ? 0 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF5 ? 4 : 0;

		if (len == 0 || i + len > n)
			return false;
		for (int k = 1; k < len; k++)
			if (((unsigned char) s[i + k] & 0xC0) != 0x80)
				return false;
		if (len == 3 && c == 0xE0 && (unsigned char) s[i + 1] < 0xA0)
			return false;
		if (len == 3 && c == 0xED && (unsigned char) s[i + 1] > 0x9F)
			return false;
		if (len == 4 && c == 0xF0 && (unsigned char) s[i + 1] < 0x90)
			return false;
		if (len == 4 && c == 0xF4 && (unsigned char) s[i + 1] > 0x8F)
			return false;
		i += len;
	}
	return true;
}

/* does s[0..n) contain the NUL-terminated needle? */
static bool
Contains(const char *s, size_t n, const char *needle)
{
	size_t		k = strlen(needle);

	for (size_t i = 0; i + k <= n; i++)
		if (memcmp(s + i, needle, k) == 0)
			return true;
	return false;
}

/* token callback: collect pieces, check them, maybe cancel */
static int
OnToken(void *arg, int32_t token, const char *piece, size_t len)
{
	Collect    *c = arg;

	c->calls++;
	if (!ValidUtf8(piece, len))
		c->bad_utf8 = true;
	if (c->never != NULL && Contains(piece, len, c->never))
		c->saw_never = true;
	if (c->len + len < sizeof(c->text))
	{
		memcpy(c->text + c->len, piece, len);
		c->len += len;
		c->text[c->len] = '\0';
	}
	return c->cancel_after > 0 && c->calls >= c->cancel_after;
}

/* decode ids with special tokens skipped; malloc'ed */
static char *
Decode(const Tokenizer *tok, const int32_t *ids, int n, size_t *len)
{
	char	   *text = NULL;
	LlmError	err = {0};

	*len = 0;
	if (n == 0)
		return calloc(1, 1);
	if (TokenizerDecode(tok, ids, n, true, &text, len, &err) != LLM_OK)
	{
		printf("FAIL decode: %s\n", err.message);
		unit_failed++;
		return calloc(1, 1);
	}
	return text;
}

/* greedy, no EOS, n tokens */
static void
GreedyParams(LlmGenerateParams *p, int n)
{
	static const int32_t no_eos[1] = {-1};

	LlmGenerateDefaults(p);
	p->max_tokens = n;
	p->eos_ids = no_eos;
	p->n_eos = 0;
}

/* run the generation checks of one prompt */
static void
CheckCase(const char *name, LlmRuntime *rt, const Tokenizer *tok,
		  const int32_t *prompt, int n_prompt, const int32_t *want, int n_want)
{
	LlmGenerateParams p;
	LlmGenerateResult res;
	LlmError	err = {0};
	Collect		c;
	char	   *full;
	size_t		full_len;
	int			rc;

	/* greedy on the device argmax path, streamed */
	GreedyParams(&p, n_want);
	memset(&c, 0, sizeof(c));
	rc = LlmGenerate(rt, tok, prompt, n_prompt, &p, OnToken, &c, &res, &err);
	CHECK(rc == LLM_OK);
	if (rc != LLM_OK)
	{
		printf("FAIL %s: %s\n", name, err.message);
		return;
	}
	CHECK(res.n_ids == n_want);
	CHECK(res.n_ids == n_want && memcmp(res.ids, want, sizeof(int32_t) * n_want) == 0);
	if (res.n_ids != n_want || memcmp(res.ids, want, sizeof(int32_t) * n_want) != 0)
	{
		printf("  %s greedy:", name);
		for (int i = 0; i < res.n_ids; i++)
			printf(" %d", res.ids[i]);
		printf("\n");
	}
	CHECK(res.finish == LLM_FINISH_LENGTH);
	CHECK(res.prompt_tokens == n_prompt && res.completion_tokens == n_want);
	CHECK(res.ttft_s >= 0 && res.total_s >= res.ttft_s);
	CHECK(c.calls == n_want);
	CHECK(!c.bad_utf8);
	full = Decode(tok, want, n_want, &full_len);
	CHECK(res.text_len == full_len && memcmp(res.text, full, full_len) == 0);
	CHECK(c.len == full_len && memcmp(c.text, full, full_len) == 0);
	CHECK(ValidUtf8(res.text, res.text_len));
	LlmGenerateResultFree(&res);

	/* the sampler's path: top-k 1 is greedy; chunked prefill */
	GreedyParams(&p, n_want);
	p.sampling.temperature = 0.7;
	p.sampling.top_k = 1;
	p.prefill_chunk = 5;
	rc = LlmGenerate(rt, tok, prompt, n_prompt, &p, NULL, NULL, &res, &err);
	CHECK(rc == LLM_OK && res.n_ids == n_want &&
		  memcmp(res.ids, want, sizeof(int32_t) * n_want) == 0);
	LlmGenerateResultFree(&res);

	/* max_tokens */
	GreedyParams(&p, 5);
	rc = LlmGenerate(rt, tok, prompt, n_prompt, &p, NULL, NULL, &res, &err);
	CHECK(rc == LLM_OK && res.n_ids == 5 && memcmp(res.ids, want, sizeof(int32_t) * 5) == 0);
	CHECK(res.finish == LLM_FINISH_LENGTH);
	LlmGenerateResultFree(&res);
	GreedyParams(&p, 0);
	rc = LlmGenerate(rt, tok, prompt, n_prompt, &p, NULL, NULL, &res, &err);
	CHECK(rc == LLM_OK && res.n_ids == 0 && res.text_len == 0);
	LlmGenerateResultFree(&res);

	/* EOS: the third greedy token ends it (at its first occurrence) */
	{
		int32_t		eos = want[2];
		int			stop_at = 0;
		char	   *t;
		size_t		tlen;

		while (want[stop_at] != eos)
			stop_at++;
		GreedyParams(&p, n_want);
		p.eos_ids = &eos;
		p.n_eos = 1;
		memset(&c, 0, sizeof(c));
		rc = LlmGenerate(rt, tok, prompt, n_prompt, &p, OnToken, &c, &res, &err);
		CHECK(rc == LLM_OK && res.n_ids == stop_at + 1 && res.finish == LLM_FINISH_EOS);
		CHECK(rc == LLM_OK && memcmp(res.ids, want, sizeof(int32_t) * res.n_ids) == 0);
		t = Decode(tok, want, stop_at, &tlen);
		CHECK(rc == LLM_OK && res.text_len == tlen && memcmp(res.text, t, tlen) == 0);
		CHECK(c.len == tlen && memcmp(c.text, t, tlen) == 0);
		free(t);
		LlmGenerateResultFree(&res);
	}

	/* a stop string from the middle of the greedy text */
	if (full_len >= 6)
	{
		size_t		a = full_len / 2;
		size_t		b;
		char		stop[8];
		const char *stops[2];
		const char *first;

		while (a > 0 && ((unsigned char) full[a] & 0xC0) == 0x80)
			a--;
		b = a + 1;
		while (b < full_len && b - a < 3)
			b++;
		while (b < full_len && ((unsigned char) full[b] & 0xC0) == 0x80)
			b++;
		if (b - a < sizeof(stop))
		{
			memcpy(stop, full + a, b - a);
			stop[b - a] = '\0';
			stop_cases++;
			first = strstr(full, stop);
			stops[0] = "\x01never";
			stops[1] = stop;
			GreedyParams(&p, n_want);
			p.stop = stops;
			p.n_stop = 2;
			memset(&c, 0, sizeof(c));
			c.never = stop;
			rc = LlmGenerate(rt, tok, prompt, n_prompt, &p, OnToken, &c, &res, &err);
			CHECK(rc == LLM_OK && res.finish == LLM_FINISH_STOP);
			CHECK(rc == LLM_OK && first != NULL && res.text_len == (size_t) (first - full) &&
				  memcmp(res.text, full, res.text_len) == 0);
			CHECK(rc == LLM_OK && res.n_ids <= n_want &&
				  memcmp(res.ids, want, sizeof(int32_t) * res.n_ids) == 0);
			CHECK(c.len == res.text_len && memcmp(c.text, res.text, c.len) == 0);
			CHECK(!c.saw_never && !c.bad_utf8);
			LlmGenerateResultFree(&res);
		}
	}
	free(full);

	/* seeded sampling */
	{
		LlmGenerateResult r2;
		LlmGenerateResult r3;

		GreedyParams(&p, n_want);
		p.sampling.temperature = 1.0;
		p.sampling.top_p = 0.95;
		p.sampling.repetition_penalty = 1.1;
		p.sampling.seed = 1234;
		rc = LlmGenerate(rt, tok, prompt, n_prompt, &p, NULL, NULL, &res, &err);
		CHECK(rc == LLM_OK);
		rc = LlmGenerate(rt, tok, prompt, n_prompt, &p, NULL, NULL, &r2, &err);
		CHECK(rc == LLM_OK && r2.n_ids == res.n_ids &&
			  memcmp(r2.ids, res.ids, sizeof(int32_t) * res.n_ids) == 0);
		p.sampling.seed = 4321;
		rc = LlmGenerate(rt, tok, prompt, n_prompt, &p, NULL, NULL, &r3, &err);
		CHECK(rc == LLM_OK && (r3.n_ids != res.n_ids ||
							   memcmp(r3.ids, res.ids, sizeof(int32_t) * res.n_ids) != 0));
		LlmGenerateResultFree(&res);
		LlmGenerateResultFree(&r2);
		LlmGenerateResultFree(&r3);
	}

	/* cancellation after 3 tokens */
	GreedyParams(&p, n_want);
	memset(&c, 0, sizeof(c));
	c.cancel_after = 3;
	rc = LlmGenerate(rt, tok, prompt, n_prompt, &p, OnToken, &c, &res, &err);
	CHECK(rc == LLM_OK && res.n_ids == 3 && res.finish == LLM_FINISH_CANCELLED);
	CHECK(rc == LLM_OK && res.text_len == c.len && memcmp(res.text, c.text, c.len) == 0);
	LlmGenerateResultFree(&res);

	/* without a tokenizer: ids only */
	GreedyParams(&p, 4);
	rc = LlmGenerate(rt, NULL, prompt, n_prompt, &p, NULL, NULL, &res, &err);
	CHECK(rc == LLM_OK && res.n_ids == 4 && res.text == NULL &&
		  memcmp(res.ids, want, sizeof(int32_t) * 4) == 0);
	LlmGenerateResultFree(&res);
}

/* errors that must be refused, leaving the runtime usable */
static void
CheckErrors(LlmRuntime *rt, const Tokenizer *tok, const int32_t *prompt, int n_prompt)
{
	LlmGenerateParams p;
	LlmGenerateResult res;
	LlmError	err = {0};
	int32_t		bad[2] = {1, 1 << 30};
	const char *empty[1] = {""};
	int			free_before,
				free_after,
				total;
	int32_t    *longp;
	int			max_pos = LlmRuntimeModel(rt)->cfg.max_position;

	LlmRuntimeKvUsage(rt, &free_before, &total);
	GreedyParams(&p, 4);
	CHECK(LlmGenerate(rt, tok, bad, 2, &p, NULL, NULL, &res, &err) == LLM_ERR_ARGUMENT);
	CHECK(res.ids == NULL && res.text == NULL);
	CHECK(LlmGenerate(rt, tok, prompt, 0, &p, NULL, NULL, &res, &err) == LLM_ERR_ARGUMENT);
	p.sampling.top_p = 0;
	CHECK(LlmGenerate(rt, tok, prompt, n_prompt, &p, NULL, NULL, &res, &err) == LLM_ERR_ARGUMENT);
	CHECK(strstr(err.message, "top_p") != NULL);
	GreedyParams(&p, 4);
	p.max_tokens = -1;
	CHECK(LlmGenerate(rt, tok, prompt, n_prompt, &p, NULL, NULL, &res, &err) == LLM_ERR_ARGUMENT);
	GreedyParams(&p, 4);
	p.stop = empty;
	p.n_stop = 1;
	CHECK(LlmGenerate(rt, tok, prompt, n_prompt, &p, NULL, NULL, &res, &err) == LLM_ERR_ARGUMENT);
	CHECK(LlmGenerate(rt, NULL, prompt, n_prompt, &p, NULL, NULL, &res, &err) == LLM_ERR_ARGUMENT);

	/* a prompt longer than the context */
	longp = calloc(max_pos + 1, sizeof(int32_t));
	for (int i = 0; i <= max_pos; i++)
		longp[i] = prompt[i % n_prompt];
	GreedyParams(&p, 4);
	CHECK(LlmGenerate(rt, tok, longp, max_pos + 1, &p, NULL, NULL, &res, &err) == LLM_ERR_ARGUMENT);
	/* a prompt that fills the context but one: one token, then "length" */
	CHECK(LlmGenerate(rt, tok, longp, max_pos - 1, &p, NULL, NULL, &res, &err) == LLM_OK);
	CHECK(res.n_ids == 2 && res.finish == LLM_FINISH_LENGTH);
	LlmGenerateResultFree(&res);
	free(longp);

	LlmRuntimeKvUsage(rt, &free_after, &total);
	CHECK(free_after == free_before);
}

/* one causal fixture */
static void
TestFixture(const char *name)
{
	char		dir[1100];
	LlmModel   *model;
	LlmRuntime *rt;
	Tokenizer  *tok = NULL;
	LlmRuntimeOptions opt;
	LlmError	err = {0};
	json_t	   *golden;
	json_t	   *cases;

	LlmRuntimeDefaults(&opt);
	opt.kv_bytes = 16 * 1024 * 1024;
	opt.max_seqs = 4;
	if (!UnitLoadFixture(fixtures, name, &opt, &model, &rt, &golden))
		return;
	snprintf(dir, sizeof(dir), "%s/%s", fixtures, name);
	if (TokenizerLoad(dir, &tok, &err) != LLM_OK)
	{
		printf("FAIL tokenizer %s: %s\n", name, err.message);
		unit_failed++;
		json_decref(golden);
		goto out;
	}
	cases = json_object_get(golden, "cases");
	for (size_t i = 0; i < json_array_size(cases); i++)
	{
		json_t	   *c = json_array_get(cases, i);
		int			n_prompt,
					n_want;
		int32_t    *prompt = UnitIntArray(json_object_get(c, "input_ids"), &n_prompt);
		int32_t    *want = UnitIntArray(json_object_get(c, "greedy_new_ids"), &n_want);
		char		label[1300];

		snprintf(label, sizeof(label), "%s case %zu", name, i);
		CheckCase(label, rt, tok, prompt, n_prompt, want, n_want);
		if (i == 0)
			CheckErrors(rt, tok, prompt, n_prompt);
		free(prompt);
		free(want);
	}
	json_decref(golden);
out:
	TokenizerFree(tok);
	LlmRuntimeFree(rt);
	LlmModelFree(model);
}

/*
 * The detokenizer alone: byte-level and byte-fallback tokenizers split
 * characters over tokens; streamed pieces must be whole characters that
 * add up to the decoded text, and stop strings cut it
 */
static void
TestStream(const char *name)
{
	static const char *text =
		"h\xc3\xa9llo w\xc3\xb6rld \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x99\x82 end";
	char		dir[1100];
	Tokenizer  *tok = NULL;
	LlmError	err = {0};
	int32_t    *ids = NULL;
	int			n = 0;
	char	   *want;
	size_t		want_len;

	snprintf(dir, sizeof(dir), "%s/%s", fixtures, name);
	if (TokenizerLoad(dir, &tok, &err) != LLM_OK ||
		TokenizerEncode(tok, text, strlen(text), false, &ids, &n, &err) != LLM_OK)
	{
		printf("FAIL tokenizer %s: %s\n", name, err.message);
		unit_failed++;
		TokenizerFree(tok);
		return;
	}
	want = Decode(tok, ids, n, &want_len);

	for (int with_stop = 0; with_stop < 2; with_stop++)
	{
		LlmTextStream ts;
		const char *stops[1] = {"w\xc3\xb6r"};
		char		got[512];
		size_t		got_len = 0;
		const char *piece;
		size_t		len;
		bool		ok = true;

		CHECK(LlmTextStreamInit(&ts, tok, true, stops, with_stop, &err) == LLM_OK);
		for (int i = 0; i < n && !ts.stopped; i++)
		{
			CHECK(LlmTextStreamPush(&ts, ids[i], &piece, &len, &err) == LLM_OK);
			ok &= ValidUtf8(piece, len);
			if (got_len + len < sizeof(got))
			{
				memcpy(got + got_len, piece, len);
				got_len += len;
			}
		}
		CHECK(LlmTextStreamFinish(&ts, &piece, &len, &err) == LLM_OK);
		ok &= ValidUtf8(piece, len);
		if (got_len + len < sizeof(got))
		{
			memcpy(got + got_len, piece, len);
			got_len += len;
		}
		CHECK(ok);
		if (!with_stop)
		{
			CHECK(got_len == want_len && memcmp(got, want, want_len) == 0);
			CHECK(ts.text_len == want_len && !ts.stopped);
		}
		else
		{
			const char *at = strstr(want, stops[0]);

			CHECK(ts.stopped);
			CHECK(at != NULL && got_len == (size_t) (at - want) &&
				  memcmp(got, want, got_len) == 0);
		}
		LlmTextStreamFree(&ts);
	}
	free(want);
	free(ids);
	TokenizerFree(tok);
}

int
main(void)
{
	const char *env = getenv("PGMLOPS_FIXTURES");
	static const char *models[] = {"llama-tiny-f32", "llama-tiny-bf16", "llama3-tiny-f32",
	"qwen2-tiny-f32", "mistral-tiny-f32"};

	snprintf(fixtures, sizeof(fixtures), "%s", env && *env ? env : "test/data/fixtures");
	for (int i = 0; i < (int) (sizeof(models) / sizeof(models[0])); i++)
		TestFixture(models[i]);
	TestStream("tok-llama3");
	TestStream("tok-spm");
	TestStream("tok-gpt2");
	TestStream("tok-qwen2");
	CHECK(stop_cases >= 10);
	UNIT_DONE("generate");
}
