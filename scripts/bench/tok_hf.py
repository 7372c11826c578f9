#!/usr/bin/env python3
"""Hugging Face `tokenizers` throughput, measured as bench/tokbench.c does.

Encodes FILE repeatedly for about SECONDS on one thread (RAYON_NUM_THREADS=1,
TOKENIZERS_PARALLELISM=false), line by line (one encode_batch of all lines,
so no per-call overhead is counted, as scripts/bench/tok_hf.js does) and as
one whole text, without special tokens, and prints MB/s:

  python3 scripts/bench/tok_hf.py test/data/fixtures/tok-llama3 FILE [seconds] [lines|whole|both|ids]

With "ids", prints the ids of each line instead, one output line per input
line, as "bench/tokbench DIR FILE 0 ids" does. scripts/bench_tok.sh runs it
next to bench/tokbench on the same machine and text.
"""
import os
import sys
import time

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["RAYON_RS_NUM_CPUS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

from tokenizers import Tokenizer  # noqa: E402


def split_lines(text):
    """Lines split at "\n" only, as tokbench does (not str.splitlines)."""
    pieces = [p + "\n" for p in text.split("\n")]
    pieces[-1] = pieces[-1][:-1]
    return [p for p in pieces if p]


def measure(tok, text, lines, seconds):
    """Encode text (by lines or whole) for about seconds; print MB/s."""
    pieces = split_lines(text) if lines else [text]
    nbytes = len(text.encode("utf-8"))
    start = time.perf_counter()
    rounds = tokens = 0
    while True:
        for e in tok.encode_batch(pieces, add_special_tokens=False):
            tokens += len(e.ids)
        rounds += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            break
    total = nbytes * rounds
    print("%-5s %8.2f MB/s  %6.2f Mtok/s  (%d rounds, %d bytes, %.2f bytes/token)"
          % ("lines" if lines else "whole", total / elapsed / 1e6, tokens / elapsed / 1e6,
             rounds, nbytes, total / tokens if tokens else 0.0))


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: tok_hf.py TOKENIZER_DIR FILE [seconds] [lines|whole|both|ids]")
    tok = Tokenizer.from_file(os.path.join(sys.argv[1], "tokenizer.json"))
    with open(sys.argv[2], encoding="utf-8", newline="") as f:
        text = f.read()
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 3.0
    mode = sys.argv[4] if len(sys.argv) > 4 else "both"
    if mode == "ids":
        for e in tok.encode_batch(split_lines(text), add_special_tokens=False):
            print(" ".join(map(str, e.ids)))
        return
    if mode != "whole":
        measure(tok, text, True, seconds)
    if mode != "lines":
        measure(tok, text, False, seconds)


if __name__ == "__main__":
    main()
