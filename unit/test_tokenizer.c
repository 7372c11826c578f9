// objects: src/llm/tokenizer.o src/llm/tokutil.o src/llm/utf8.o src/llm/toknorm.o src/llm/tokpretok.o src/llm/tokbpe.o src/llm/tokwordpiece.o src/llm/tokdecode.o src/llm/llmjson.o src/llm/llmutil.o src/vector/vecdist.o
/*
 * test_tokenizer.c
 *	  Unit tests for the tokenizers: every case of the reference goldens
 *	  (ids, token strings, decoded text), the tokenizers of the model
 *	  fixtures, tokenizer_config.json variants and the error cases.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "llm/llmjson.h"
#include "llm/tokenizer.h"
#include "llm/tokinternal.h"
#include "unit.h"

static const char *fixtures;

/*
 * Directory of one fixture
 */
static void
FixturePath(char *buf, size_t len, const char *name, const char *file)
{
	if (file)
		snprintf(buf, len, "%s/%s/%s", fixtures, name, file);
	else
		snprintf(buf, len, "%s/%s", fixtures, name);
}

/*
 * Do ids equal the JSON array want?
 */
static bool
SameIds(const int32_t *ids, int n, const json_t *want)
{
	if (!json_is_array(want) || (size_t) n != json_array_size(want))
		return false;
	for (int i = 0; i < n; i++)
		if (json_integer_value(json_array_get(want, i)) != ids[i])
			return false;
	return true;
}

/*
 * Print ids next to the expected ones (on failure)
 */
static void
ShowIds(const char *text, const int32_t *ids, int n, const json_t *want)
{
	printf("  text %s\n  got ", text);
	for (int i = 0; i < n; i++)
		printf("%d ", ids[i]);
	printf("\n  want ");
	for (size_t i = 0; i < json_array_size(want); i++)
		printf("%lld ", (long long) json_integer_value(json_array_get(want, i)));
	printf("\n");
}

/*
 * Load the tokenizer of fixture name and its golden file (one CHECK
 * each); false when the tokenizer does not load
 */
static bool
LoadGolden(const char *name, const char *file, size_t max_bytes, Tokenizer **tok,
		   json_t **gold)
{
	char		dir[1024],
				path[1024];
	LlmError	err = {0};

	FixturePath(dir, sizeof(dir), name, NULL);
	FixturePath(path, sizeof(path), name, file);
	CHECK(TokenizerLoad(dir, tok, &err) == LLM_OK);
	if (*tok == NULL)
	{
		printf("  %s: %s\n", name, err.message);
		return false;
	}
	*gold = LlmJsonLoadFile(path, max_bytes, &err);
	CHECK(*gold != NULL);
	return true;
}

/*
 * Check every case of dir/tokenizer_golden.json; returns cases passed
 */
static int
CheckTokGolden(const char *name, int *n_cases)
{
	Tokenizer  *tok = NULL;
	LlmError	err = {0};
	json_t	   *gold = NULL;
	json_t	   *c;
	size_t		i;
	int			passed = 0;

	*n_cases = 0;
	if (!LoadGolden(name, "tokenizer_golden.json", 1 << 24, &tok, &gold))
		return 0;
	json_array_foreach(json_object_get(gold, "cases"), i, c)
	{
		const char *text = json_string_value(json_object_get(c, "text"));
		const json_t *want = json_object_get(c, "ids");
		const json_t *tokens = json_object_get(c, "tokens");
		const char *decoded = json_string_value(json_object_get(c, "decoded"));
		int32_t    *ids = NULL;
		int			n = 0;
		char	   *out = NULL;
		size_t		out_len = 0;
		bool		ok = true;

		(*n_cases)++;
		CHECK(TokenizerEncode(tok, text, strlen(text), true, &ids, &n, &err) == LLM_OK);
		if (!SameIds(ids, n, want))
		{
			printf("FAIL %s ids\n", name);
			ShowIds(text, ids, n, want);
			ok = false;
		}
		for (int k = 0; ok && k < n; k++)
		{
			const char *t = TokenizerIdToToken(tok, ids[k]);

			if (t == NULL || strcmp(t, json_string_value(json_array_get(tokens, k))) != 0)
			{
				printf("FAIL %s token %d of \"%s\"\n", name, k, text);
				ok = false;
			}
		}
		if (TokenizerDecode(tok, ids, n, true, &out, &out_len, &err) != LLM_OK ||
			strcmp(out, decoded) != 0 || out_len != strlen(decoded))
		{
			printf("FAIL %s decode \"%s\": got \"%s\" want \"%s\"\n", name, text,
				   out ? out : err.message, decoded);
			ok = false;
		}
		CHECK(ok);
		passed += ok;
		free(ids);
		free(out);
	}
	json_decref(gold);
	TokenizerFree(tok);
	return passed;
}

/*
 * Check input_ids of every case of a model fixture's golden.json
 */
static int
CheckModelGolden(const char *name, int *n_cases)
{
	Tokenizer  *tok = NULL;
	LlmError	err = {0};
	json_t	   *gold = NULL;
	json_t	   *c;
	size_t		i;
	int			passed = 0;

	*n_cases = 0;
	if (!LoadGolden(name, "golden.json", 1 << 28, &tok, &gold))
		return 0;
	json_array_foreach(json_object_get(gold, "cases"), i, c)
	{
		const json_t *t = json_object_get(c, "prompt");
		const char *text;
		int32_t    *ids = NULL;
		int			n = 0;
		bool		ok;

		if (t == NULL)
			t = json_object_get(c, "text");
		text = json_string_value(t);
		(*n_cases)++;
		ok = TokenizerEncode(tok, text, strlen(text), true, &ids, &n, &err) == LLM_OK &&
			SameIds(ids, n, json_object_get(c, "input_ids"));
		if (!ok)
			ShowIds(text, ids, n, json_object_get(c, "input_ids"));
		CHECK(ok);
		passed += ok;
		free(ids);
	}
	json_decref(gold);
	TokenizerFree(tok);
	return passed;
}

/*
 * Parse inline JSON, expecting a given status
 */
static int
ParseStatus(const char *json, LlmError *err)
{
	Tokenizer  *tok = NULL;
	int			rc = TokenizerParse(json, strlen(json), &tok, err);

	TokenizerFree(tok);
	return rc;
}

/* a small BPE tokenizer with merges in string form and specials */
static const char *SMALL_BPE =
"{\"added_tokens\":[{\"id\":0,\"content\":\"<s>\",\"special\":true,\"lstrip\":false,"
"\"rstrip\":false,\"single_word\":false,\"normalized\":false},"
"{\"id\":7,\"content\":\"<x>\",\"special\":false,\"lstrip\":true,"
"\"rstrip\":true,\"single_word\":false,\"normalized\":false}],"
"\"normalizer\":null,\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"use_regex\":true},"
"\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\",\"type_id\":0}},"
"{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],\"special_tokens\":{\"<s>\":{\"id\":\"<s>\",\"ids\":[0],\"tokens\":[\"<s>\"]}}},"
"\"decoder\":{\"type\":\"ByteLevel\"},"
"\"model\":{\"type\":\"BPE\",\"vocab\":{\"<s>\":0,\"a\":1,\"b\":2,\"\xc4\xa0\":3,\"ab\":4,\"\xc4\xa0" "ab\":5,\"<x>\":7,\"c\":6},"
"\"merges\":[\"a b\",\"\xc4\xa0 ab\"]}}";

/* an interrupt hook that reports a cancel after a few calls */
static int	interrupt_calls;
static bool
InterruptSoon(void)
{
	return ++interrupt_calls > 2;
}

/*
 * A SentencePiece-style BPE (Llama-2's normalizer, no pre-tokenizer) whose
 * tokens have "▁" only at their start; the %s are its unknown token and
 * room for one more token and merge
 */
#define META_BPE \
"{\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\",\"prepend\":\"\xe2\x96\x81\"}," \
"{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"\xe2\x96\x81\"}]}," \
"\"pre_tokenizer\":null,\"decoder\":null,\"post_processor\":null,\"added_tokens\":[]," \
"\"model\":{\"type\":\"BPE\",\"unk_token\":\"%s\",\"fuse_unk\":true,\"vocab\":{\"<unk>\":0," \
"\"\xe2\x96\x81\":1,\"a\":2,\"b\":3,\"c\":4,\"d\":5,\"e\":6,\"\xe2\x96\x81" "a\":7,\"ab\":8,\"bc\":9," \
"\"\xe2\x96\x81" "ab\":10,\"\xe2\x96\x81" "abc\":11,\"cd\":12,\"de\":13,\"\xe2\x96\x81\xe2\x96\x81\":14," \
"\"\xe2\x96\x81\xe2\x96\x81" "a\":15,\"cde\":16%s}," \
"\"merges\":[\"a b\",\"\xe2\x96\x81 a\",\"b c\",\"\xe2\x96\x81 ab\",\"\xe2\x96\x81" "ab c\",\"c d\"," \
"\"d e\",\"c de\",\"\xe2\x96\x81 \xe2\x96\x81\",\"\xe2\x96\x81\xe2\x96\x81 a\"%s]}}"

/* a vocabulary with "▁a" but not "▁" */
static const char *META_NO_SPACE =
"{\"normalizer\":{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"\xe2\x96\x81\"}," \
"\"pre_tokenizer\":null,\"decoder\":null,\"post_processor\":null,\"added_tokens\":[]," \
"\"model\":{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"fuse_unk\":true,\"vocab\":{\"<unk>\":0," \
"\"a\":1,\"b\":2,\"ab\":3,\"\xe2\x96\x81" "a\":4},\"merges\":[\"a b\"]}}";

/* encode text with and without cutting words before "▁"; equal ids? */
static bool
SameSplitOrNot(Tokenizer *tok, const char *text)
{
	int32_t    *a = NULL,
			   *b = NULL;
	int			na = 0,
				nb = 0;
	LlmError	err = {0};
	bool		same;

	tok->split_meta = true;
	CHECK(TokenizerEncode(tok, text, strlen(text), false, &a, &na, &err) == LLM_OK);
	tok->split_meta = false;
	CHECK(TokenizerEncode(tok, text, strlen(text), false, &b, &nb, &err) == LLM_OK);
	tok->split_meta = true;
	same = na == nb && memcmp(a, b, sizeof(int32_t) * na) == 0;
	free(a);
	free(b);
	return same;
}

/*
 * How many of n random texts give the same ids cut or whole; every tenth
 * is long enough for the merge heap, every hundredth for the word cache
 */
static int
RandomSplitTexts(Tokenizer *tok, int n)
{
	static const char alphabet[] = "abcde xa\xe2\x96\x81";
	static char text[4096];
	uint32_t	seed = 7;
	int			same = 0;

	for (int t = 0; t < n; t++)
	{
		int			len = t % 100 == 99 ? 4000 : t % 10 == 9 ? 300 : 1 + t % 60;

		for (int i = 0; i < len; i++)
		{
			seed = seed * 1103515245u + 12345u;
			text[i] = alphabet[(seed >> 8) % 8];
			/* now and then a literal "▁" typed in the text */
			if (i + 3 <= len && (seed >> 20) % 23 == 0)
			{
				memcpy(text + i, alphabet + 8, 3);
				i += 2;
			}
		}
		text[len] = '\0';
		same += SameSplitOrNot(tok, text);
	}
	return same;
}

/*
 * Cutting SentencePiece-style words before "▁": only for a vocabulary
 * whose tokens begin with "▁", where it gives the same ids as the whole
 * word on random texts (runs of spaces, unknown characters)
 */
static void
TestMetaSplit(void)
{
	char		json[4096];
	Tokenizer  *tok = NULL;
	LlmError	err = {0};
	int			same;

	snprintf(json, sizeof(json), META_BPE, "<unk>", "", "");
	CHECK(TokenizerParse(json, strlen(json), &tok, &err) == LLM_OK);
	if (tok == NULL)
	{
		printf("  meta split: %s\n", err.message);
		return;
	}
	CHECK(tok->split_meta);
	same = RandomSplitTexts(tok, 2000);
	CHECK(same == 2000);
	TokenizerFree(tok);

	/*
	 * a token with "▁" inside ("a▁"): words stay whole, and cutting them
	 * would change the ids of some texts
	 */
	snprintf(json, sizeof(json), META_BPE, "<unk>", ",\"a\xe2\x96\x81\":17", ",\"a \xe2\x96\x81\"");
	tok = NULL;
	CHECK(TokenizerParse(json, strlen(json), &tok, &err) == LLM_OK);
	CHECK(tok != NULL && !tok->split_meta);
	if (tok != NULL)
	{
		same = RandomSplitTexts(tok, 2000);
		printf("  meta split: a vocabulary with \"a\xe2\x96\x81\" would change %d of 2000 texts\n",
			   2000 - same);
		CHECK(same < 2000);
		TokenizerFree(tok);
	}

	/*
	 * "▁" as the unknown token: an unknown character before a cut becomes
	 * "▁", which the merge "▁ ▁" joins to the next one; words stay whole
	 */
	snprintf(json, sizeof(json), META_BPE, "\xe2\x96\x81", "", "");
	tok = NULL;
	CHECK(TokenizerParse(json, strlen(json), &tok, &err) == LLM_OK);
	CHECK(tok != NULL && !tok->split_meta);
	if (tok != NULL)
	{
		CHECK(RandomSplitTexts(tok, 500) < 500);
		TokenizerFree(tok);
	}

	/* no "▁" token: words stay whole */
	tok = NULL;
	CHECK(TokenizerParse(META_NO_SPACE, strlen(META_NO_SPACE), &tok, &err) == LLM_OK);
	CHECK(tok != NULL && !tok->split_meta);
	if (tok != NULL)
		TokenizerFree(tok);

	/* a cut word honours a cancel: 8 MB of "ab ab ..." */
	snprintf(json, sizeof(json), META_BPE, "<unk>", "", "");
	tok = NULL;
	CHECK(TokenizerParse(json, strlen(json), &tok, &err) == LLM_OK);
	if (tok != NULL)
	{
		size_t		len = 8 * 1024 * 1024;
		char	   *big = malloc(len);
		int32_t    *ids = NULL;
		int			n = 0;

		for (size_t i = 0; i < len; i++)
			big[i] = "ab "[i % 3];
		LlmInterruptHook = InterruptSoon;
		interrupt_calls = 0;
		CHECK(TokenizerEncode(tok, big, len, false, &ids, &n, &err) == LLM_ERR_CANCELLED);
		LlmInterruptHook = NULL;
		CHECK(TokenizerEncode(tok, big, len, false, &ids, &n, &err) == LLM_OK && n > 1000000);
		free(ids);
		free(big);
		TokenizerFree(tok);
	}
}

/*
 * Behaviour beyond the goldens: a hand-made BPE, specials, lstrip/rstrip
 */
static void
TestSmallBpe(void)
{
	Tokenizer  *tok = NULL;
	LlmError	err = {0};
	int32_t    *ids = NULL;
	int			n = 0;
	char	   *out = NULL;
	size_t		len;

	CHECK(TokenizerParse(SMALL_BPE, strlen(SMALL_BPE), &tok, &err) == LLM_OK);
	if (tok == NULL)
	{
		printf("  small BPE: %s\n", err.message);
		return;
	}
	CHECK(TokenizerVocabSize(tok) == 8);
	CHECK(TokenizerTokenToId(tok, "ab") == 4);
	CHECK(TokenizerTokenToId(tok, "zz") == -1);
	CHECK(TokenizerIdToToken(tok, 8) == NULL);
	CHECK(TokenizerIdToToken(tok, -1) == NULL);
	CHECK(TokenizerChatTemplate(tok) == NULL);

	/* add_prefix_space: "ab" -> " ab" -> one token; "<x>" eats spaces */
	CHECK(TokenizerEncode(tok, "ab  <x>  ab", 11, true, &ids, &n, &err) == LLM_OK);
	CHECK(n == 4 && ids[0] == 0 && ids[1] == 5 && ids[2] == 7 && ids[3] == 5);
	CHECK(TokenizerDecode(tok, ids, n, true, &out, &len, &err) == LLM_OK);
	CHECK(out != NULL && strcmp(out, " ab<x> ab") == 0);
	free(out);
	CHECK(TokenizerDecode(tok, ids, n, false, &out, &len, &err) == LLM_OK);
	CHECK(out != NULL && strcmp(out, "<s> ab<x> ab") == 0);
	free(out);
	free(ids);

	/* without add_special, and the empty text */
	CHECK(TokenizerEncode(tok, "<s>", 3, false, &ids, &n, &err) == LLM_OK);
	CHECK(n == 1 && ids[0] == 0);
	free(ids);
	CHECK(TokenizerEncode(tok, "", 0, false, &ids, &n, &err) == LLM_OK);
	CHECK(n == 0 && ids != NULL);
	free(ids);

	/* a character outside the vocabulary is dropped (no unk token) */
	CHECK(TokenizerEncode(tok, "d", 1, false, &ids, &n, &err) == LLM_OK);
	CHECK(n == 1 && ids[0] == 3);
	free(ids);

	/* errors */
	CHECK(TokenizerEncode(tok, "a\xff" "b", 3, false, &ids, &n, &err) == LLM_ERR_ARGUMENT);
	CHECK(TokenizerEncode(tok, "\xed\xa0\x80", 3, false, &ids, &n, &err) == LLM_ERR_ARGUMENT);
	CHECK(TokenizerEncode(tok, "\xc0\xaf", 2, false, &ids, &n, &err) == LLM_ERR_ARGUMENT);
	{
		int32_t		bad[] = {1, 8};
		int32_t		neg[] = {-1};

		CHECK(TokenizerDecode(tok, bad, 2, false, &out, &len, &err) == LLM_ERR_ARGUMENT);
		CHECK(TokenizerDecode(tok, neg, 1, false, &out, &len, &err) == LLM_ERR_ARGUMENT);
		CHECK(TokenizerDecode(tok, bad, 0, false, &out, &len, &err) == LLM_OK &&
			  out != NULL && len == 0);
		free(out);
	}
	TokenizerFree(tok);
}

/*
 * Malformed and unsupported tokenizer.json files
 */
static void
TestErrors(void)
{
	LlmError	err = {0};
	Tokenizer  *tok = NULL;
	char		buf[4096];

	CHECK(ParseStatus("{", &err) == LLM_ERR_FORMAT);
	CHECK(ParseStatus("[]", &err) == LLM_ERR_FORMAT);
	CHECK(ParseStatus("{\"model\":{\"type\":\"BPE\"}}", &err) == LLM_ERR_FORMAT);
	CHECK(ParseStatus("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":\"x\"},\"merges\":[]}}", &err) == LLM_ERR_FORMAT);
	CHECK(ParseStatus("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":-3},\"merges\":[]}}", &err) == LLM_ERR_FORMAT);
	CHECK(ParseStatus("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":99999999},\"merges\":[]}}", &err) == LLM_ERR_FORMAT);
	CHECK(ParseStatus("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a b\"]}}", &err) == LLM_ERR_FORMAT);
	CHECK(ParseStatus("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a\"]}}", &err) == LLM_ERR_FORMAT);
	CHECK(ParseStatus("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[[\"a\",1]]}}", &err) == LLM_ERR_FORMAT);
	CHECK(ParseStatus("{\"model\":{\"type\":\"Unigram\",\"vocab\":{\"a\":0}}}", &err) == LLM_ERR_UNSUPPORTED);
	CHECK(strstr(err.message, "Unigram") != NULL);
	CHECK(ParseStatus("{\"normalizer\":{\"type\":\"Precompiled\"},"
					  "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}}", &err) == LLM_ERR_UNSUPPORTED);
	CHECK(strstr(err.message, "Precompiled") != NULL);
	CHECK(ParseStatus("{\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"\\\\w+\"},"
					  "\"behavior\":\"Isolated\",\"invert\":false},"
					  "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}}", &err) == LLM_ERR_UNSUPPORTED);
	CHECK(ParseStatus("{\"decoder\":{\"type\":\"CTC\"},"
					  "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}}", &err) == LLM_ERR_UNSUPPORTED);
	CHECK(ParseStatus("{\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\"}},"
					  "{\"Sequence\":{\"id\":\"A\"}}],\"special_tokens\":{}},"
					  "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}}", &err) == LLM_ERR_FORMAT);
	CHECK(ParseStatus("{\"added_tokens\":[{\"id\":1}],"
					  "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}}", &err) == LLM_ERR_FORMAT);
	/* merges in [a, b] form; WordPiece without unk errors on unknown words */
	CHECK(ParseStatus("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"aa\":1},\"merges\":[[\"a\",\"a\"]]}}", &err) == LLM_OK);
	snprintf(buf, sizeof(buf), "{\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"a\":0,\"##b\":1},"
			 "\"max_input_chars_per_word\":100}}");
	CHECK(TokenizerParse(buf, strlen(buf), &tok, &err) == LLM_OK);
	if (tok)
	{
		int32_t    *ids = NULL;
		int			n = 0;

		CHECK(TokenizerEncode(tok, "ab", 2, true, &ids, &n, &err) == LLM_OK && n == 2 && ids[1] == 1);
		free(ids);
		CHECK(TokenizerEncode(tok, "ac", 2, true, &ids, &n, &err) == LLM_ERR_ARGUMENT);
		TokenizerFree(tok);
	}
	tok = NULL;
	CHECK(TokenizerLoad("/nonexistent/dir", &tok, &err) == LLM_ERR_IO && tok == NULL);
}

/*
 * tokenizer_config.json variants: object tokens, template lists
 */
static void
TestConfig(void)
{
	char		dir[] = "/tmp/test_tokenizer_XXXXXX";
	char		src[1024],
				path[1100];
	FILE	   *f;
	char	   *data = NULL;
	size_t		len;
	LlmError	err = {0};
	Tokenizer  *tok = NULL;

	if (mkdtemp(dir) == NULL)
	{
		CHECK(!"mkdtemp");
		return;
	}
	FixturePath(src, sizeof(src), "tok-llama3", "tokenizer.json");
	CHECK(LlmReadFile(src, 1 << 26, &data, &len, &err) == LLM_OK);
	snprintf(path, sizeof(path), "%s/tokenizer.json", dir);
	f = fopen(path, "w");
	if (f && data)
		fwrite(data, 1, len, f);
	if (f)
		fclose(f);
	free(data);
	snprintf(path, sizeof(path), "%s/tokenizer_config.json", dir);
	f = fopen(path, "w");
	if (f)
	{
		fputs("{\"bos_token\":{\"content\":\"<|begin_of_text|>\",\"lstrip\":false},"
			  "\"eos_token\":\"<|eot_id|>\",\"chat_template\":[{\"name\":\"tool_use\",\"template\":\"T\"},"
			  "{\"name\":\"default\",\"template\":\"D\"}]}", f);
		fclose(f);
	}
	CHECK(TokenizerLoad(dir, &tok, &err) == LLM_OK);
	if (tok)
	{
		CHECK(TokenizerBosToken(tok) && strcmp(TokenizerBosToken(tok), "<|begin_of_text|>") == 0);
		CHECK(TokenizerEosToken(tok) && strcmp(TokenizerEosToken(tok), "<|eot_id|>") == 0);
		CHECK(TokenizerChatTemplate(tok) && strcmp(TokenizerChatTemplate(tok), "D") == 0);
		TokenizerFree(tok);
	}
	f = fopen(path, "w");
	if (f)
	{
		fputs("{\"chat_template\":\"{{ x }}\"}", f);
		fclose(f);
	}
	tok = NULL;
	CHECK(TokenizerLoad(dir, &tok, &err) == LLM_OK);
	if (tok)
	{
		CHECK(TokenizerChatTemplate(tok) && strcmp(TokenizerChatTemplate(tok), "{{ x }}") == 0);
		CHECK(TokenizerBosToken(tok) == NULL);
		TokenizerFree(tok);
	}
	f = fopen(path, "w");
	if (f)
	{
		fputs("{\"chat_template\":", f);
		fclose(f);
	}
	tok = NULL;
	CHECK(TokenizerLoad(dir, &tok, &err) == LLM_ERR_FORMAT && tok == NULL);
	unlink(path);
	snprintf(path, sizeof(path), "%s/tokenizer.json", dir);
	unlink(path);
	rmdir(dir);
}

/*
 * Encode then decode text through a fixture tokenizer
 */
static void
RoundTrip(const char *name, const char *text)
{
	char		dir[1024];
	Tokenizer  *tok = NULL;
	LlmError	err = {0};
	int32_t    *ids = NULL;
	int			n = 0;
	char	   *out = NULL;
	size_t		len = 0;

	FixturePath(dir, sizeof(dir), name, NULL);
	if (TokenizerLoad(dir, &tok, &err) != LLM_OK)
	{
		CHECK(!"load");
		return;
	}
	CHECK(TokenizerEncode(tok, text, strlen(text), false, &ids, &n, &err) == LLM_OK);
	CHECK(TokenizerDecode(tok, ids, n, false, &out, &len, &err) == LLM_OK);
	if (out == NULL || strcmp(out, text) != 0)
		printf("FAIL round trip %s: \"%s\" -> \"%s\"\n", name, text, out ? out : err.message);
	CHECK(out != NULL && strcmp(out, text) == 0);
	free(ids);
	free(out);
	TokenizerFree(tok);
}

/*
 * Long encodes and decodes poll the interrupt hook and stop with
 * LLM_ERR_CANCELLED, freeing what they built
 */
static void
TestInterrupt(void)
{
	char		dir[1024];
	Tokenizer  *tok = NULL;
	LlmError	err = {0};
	size_t		len = 8 * 1024 * 1024;
	char	   *text = malloc(len);
	int32_t    *ids = NULL;
	int			n = 0;
	int32_t    *many;
	char	   *out = NULL;
	size_t		out_len;

	snprintf(dir, sizeof(dir), "%s/tok-llama3", fixtures);
	CHECK(TokenizerLoad(dir, &tok, &err) == LLM_OK);
	for (size_t i = 0; i < len; i++)
		text[i] = "hello world "[i % 12];
	/* without a hook nothing stops; with one, both directions stop */
	CHECK(TokenizerEncode(tok, text, len, false, &ids, &n, &err) == LLM_OK && n > 1000000);
	free(ids);
	ids = NULL;
	LlmInterruptHook = InterruptSoon;
	interrupt_calls = 0;
	CHECK(TokenizerEncode(tok, text, len, false, &ids, &n, &err) == LLM_ERR_CANCELLED);
	CHECK(strstr(err.message, "interrupted") != NULL);
	many = malloc(sizeof(int32_t) * 3000000);
	for (int i = 0; i < 3000000; i++)
		many[i] = 300;
	interrupt_calls = 0;
	CHECK(TokenizerDecode(tok, many, 3000000, false, &out, &out_len, &err) == LLM_ERR_CANCELLED);
	CHECK(out == NULL);
	LlmInterruptHook = NULL;

	/* a SentencePiece-style tokenizer does not split: one huge word is refused */
	TokenizerFree(tok);
	snprintf(dir, sizeof(dir), "%s/tok-spm", fixtures);
	CHECK(TokenizerLoad(dir, &tok, &err) == LLM_OK);
	memset(text, 'a', 5 * 1024 * 1024);
	CHECK(TokenizerEncode(tok, text, 5 * 1024 * 1024, false, &ids, &n, &err) == LLM_ERR_ARGUMENT);
	CHECK(strstr(err.message, "too long") != NULL);
	free(many);
	free(ids);
	free(text);
	TokenizerFree(tok);
}

int
main(void)
{
	static const char *const tok_fixtures[] = {
		"tok-gpt2", "tok-llama3", "tok-qwen2", "tok-spm", "tok-wordpiece"
	};
	static const char *const model_fixtures[] = {
		"llama-tiny-f32", "llama3-tiny-f32", "qwen2-tiny-f32", "mistral-tiny-f32",
		"bert-tiny-mean", "bert-tiny-cls"
	};
	static const char *const texts[] = {
		"Hello\n\n\n  world\t\t!!\r\n  x  ",
		"<|endoftext|>Special<|im_start|>user\n1234567 ÄÖü ǅ ٣٤ ½ 𝔘 \u3000\u00a0end",
		"it's IT'S we'LL 'x ſ'ſ",
		"<s>  a</s>",
	};
	int			total_pass = 0,
				total = 0;

	fixtures = getenv("PGMLOPS_FIXTURES");
	if (fixtures == NULL)
		fixtures = "test/data/fixtures";

	for (size_t i = 0; i < sizeof(tok_fixtures) / sizeof(tok_fixtures[0]); i++)
	{
		int			n;
		int			p = CheckTokGolden(tok_fixtures[i], &n);

		printf("%-18s %d/%d golden cases\n", tok_fixtures[i], p, n);
		total_pass += p;
		total += n;
	}
	for (size_t i = 0; i < sizeof(model_fixtures) / sizeof(model_fixtures[0]); i++)
	{
		int			n;
		int			p = CheckModelGolden(model_fixtures[i], &n);

		printf("%-18s %d/%d input_ids\n", model_fixtures[i], p, n);
		total_pass += p;
		total += n;
	}
	printf("fixtures: %d/%d cases pass\n", total_pass, total);

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
	{
		RoundTrip("tok-gpt2", texts[i]);
		RoundTrip("tok-llama3", texts[i]);
		RoundTrip("tok-qwen2", texts[i]);
	}
	RoundTrip("tok-spm", "no leading space\tbut a tab 😀");
	TestSmallBpe();
	TestMetaSplit();
	TestErrors();
	TestConfig();
	TestInterrupt();
	UNIT_DONE("tokenizer");
}
