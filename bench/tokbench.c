/*
 * tokbench.c
 *	  Tokenizer throughput: encode a text file repeatedly with
 *	  TokenizerEncode (single thread) and print MB/s, line by line and as
 *	  one whole text.  scripts/bench/tok_hf.py measures Hugging Face
 *	  tokenizers the same way.
 *
 * Build (from the repository root): make bench/tokbench
 * Run:
 *	  bench/tokbench test/data/fixtures/tok-llama3 FILE [seconds] [lines|whole|both|ids|decode]
 * With mode "ids", prints the ids of each line of FILE (one line of ids per
 * line of text) instead, to compare with another implementation; with
 * "decode", the hex of each line's ids decoded with and without the
 * special tokens.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "llm/tokenizer.h"

/*
 * Seconds on the monotonic clock
 */
static double
Now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/*
 * Print hex bytes
 */
static void
PrintHex(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		printf("%02x", (unsigned char) s[i]);
}

/*
 * Print the ids of each line, one output line per input line (or, with
 * decode, the hex of the decoded text without and with special tokens)
 */
static int
PrintIds(const Tokenizer *tok, const char *text, size_t len, bool decode)
{
	size_t		pos = 0;
	LlmError	err;

	while (pos < len)
	{
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t		end = nl ? (size_t) (nl - text) + 1 : len;
		int32_t    *ids;
		int			n;

		if (TokenizerEncode(tok, text + pos, end - pos, false, &ids, &n, &err) != LLM_OK)
		{
			fprintf(stderr, "encode: %s\n", err.message);
			return 1;
		}
		if (decode)
		{
			for (int skip = 1; skip >= 0; skip--)
			{
				char	   *out;
				size_t		out_len;

				if (TokenizerDecode(tok, ids, n, skip, &out, &out_len, &err) != LLM_OK)
				{
					fprintf(stderr, "decode: %s\n", err.message);
					return 1;
				}
				PrintHex(out, out_len);
				printf(skip ? " " : "\n");
				free(out);
			}
		}
		else
		{
			for (int i = 0; i < n; i++)
				printf(i ? " %d" : "%d", ids[i]);
			printf("\n");
		}
		free(ids);
		pos = end;
	}
	return 0;
}

/*
 * Encode the text (by lines or whole) for about seconds; prints MB/s
 */
static int
Measure(const Tokenizer *tok, const char *text, size_t len, bool lines,
		double seconds)
{
	double		start = Now(),
				elapsed;
	size_t		bytes = 0,
				tokens = 0;
	int			rounds = 0;
	LlmError	err;

	do
	{
		size_t		pos = 0;

		while (pos < len)
		{
			size_t		end = len;
			int32_t    *ids;
			int			n;

			if (lines)
			{
				const char *nl = memchr(text + pos, '\n', len - pos);

				end = nl ? (size_t) (nl - text) + 1 : len;
			}
			if (TokenizerEncode(tok, text + pos, end - pos, false, &ids, &n, &err) != LLM_OK)
			{
				fprintf(stderr, "encode: %s\n", err.message);
				return 1;
			}
			free(ids);
			tokens += n;
			bytes += end - pos;
			pos = end;
		}
		rounds++;
		elapsed = Now() - start;
	} while (elapsed < seconds);
	printf("%-5s %8.2f MB/s  %6.2f Mtok/s  (%d rounds, %zu bytes, %.2f bytes/token)\n",
		   lines ? "lines" : "whole", bytes / elapsed / 1e6, tokens / elapsed / 1e6,
		   rounds, len, tokens ? (double) bytes / tokens : 0.0);
	return 0;
}

int
main(int argc, char **argv)
{
	Tokenizer  *tok;
	LlmError	err;
	char	   *text;
	size_t		len;
	double		seconds = argc > 3 ? atof(argv[3]) : 3.0;
	const char *mode = argc > 4 ? argv[4] : "both";
	int			rc = 0;

	if (argc < 3)
	{
		fprintf(stderr, "usage: %s TOKENIZER_DIR FILE [seconds] [lines|whole|both|ids|decode]\n", argv[0]);
		return 2;
	}
	if (TokenizerLoad(argv[1], &tok, &err) != LLM_OK)
	{
		fprintf(stderr, "load: %s\n", err.message);
		return 1;
	}
	if (LlmReadFile(argv[2], (size_t) 1 << 30, &text, &len, &err) != LLM_OK)
	{
		fprintf(stderr, "read: %s\n", err.message);
		return 1;
	}
	if (strcmp(mode, "ids") == 0 || strcmp(mode, "decode") == 0)
		rc = PrintIds(tok, text, len, strcmp(mode, "decode") == 0);
	else
	{
		if (strcmp(mode, "whole") != 0)
			rc |= Measure(tok, text, len, true, seconds);
		if (strcmp(mode, "lines") != 0)
			rc |= Measure(tok, text, len, false, seconds);
	}
	free(text);
	TokenizerFree(tok);
	return rc;
}
