#!/usr/bin/env bash
# scripts/bench_tok.sh: the tokenizers against Hugging Face `tokenizers`, on one
# CPU thread, side by side in one run (see docs/llm-benchmark.md).
#
# For each fixture tokenizer (Llama-3, Qwen2 and GPT-2 byte-level BPE, the
# SentencePiece-style BPE, WordPiece) it
#   - compares the ids of every line of a text corpus with Hugging Face's;
#   - measures the throughput of both, line by line and as one whole text
#     (bench/tokbench.c against scripts/bench/tok_hf.js or tok_hf.py);
# then prints a markdown table with the ratios and RESULT lines.
#
#   scripts/bench_tok.sh                  baseline through npm's "tokenizers"
#   scripts/bench_tok.sh --hf python      baseline through the Python package
#   scripts/bench_tok.sh --vocab 0,32000,128000
#                                         also at realistic vocabulary sizes
#
# Options: --seconds S (per measurement, default 3), --corpus FILE (default:
# the docstrings of Python's standard library, cut to 4 MB), --tokbench PATH
# (a tokbench built elsewhere; default: make bench/tokbench), --dir DIR (work folder, default
# /tmp/pgmlops-tokbench), --out FILE (also write the report there).
# --vocab N[,N...] (repeatable; default 0): the vocabulary sizes to measure,
# 0 being the fixtures as they are (512 tokens, 1000 for WordPiece). For N > 0
# each fixture is grown to about N tokens by scripts/bench/bpe_grow.py (BPE
# training that keeps its vocabulary, merges, pre-tokenizer and added tokens;
# WordPiece grown the way its trainer builds one) on a training text, --train
# FILE (default: the corpus followed by the .py sources of python3's standard
# library, about 35 MB), and cached in the work folder by inputs; training
# takes seconds per tokenizer and size, about two minutes for the
# SentencePiece-style one. Where the training text runs out of pairs the size
# stays below N (GPT-2's regex: about 123k; WordPiece: about 95k); the table
# gives the real size. At N > 0 the table also has tok-spm-prefix: tok-spm
# grown afresh with words that begin at each "▁" (bpe_grow.py --prefix-meta),
# the shape of Llama-2's and Mistral's vocabularies.
# The Node baseline is installed once with npm into the work folder
# (tokenizers@0.23.2, the version of the Python package measured on the GPU
# machine). The SentencePiece-style tokenizer splits nothing, so a whole text
# is one word above the engine's limit for one word: it is measured by lines.
# Exits with 1 when a side fails or any line's ids differ.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

hf=node
seconds=3
corpus=
tokbench=
W=/tmp/pgmlops-tokbench
out=
vocabs=
train=

usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-0}"; }

while [ $# -gt 0 ]; do
  case $1 in
    --hf) hf=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --corpus) corpus=$2; shift 2 ;;
    --tokbench) tokbench=$2; shift 2 ;;
    --dir) W=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --vocab) vocabs="$vocabs ${2//,/ }"; shift 2 ;;
    --train) train=$2; shift 2 ;;
    -h|--help) usage ;;
    *) echo "unknown option $1" >&2; usage 2 ;;
  esac
done
case $hf in node|python) ;; *) echo "--hf is node or python" >&2; exit 2 ;; esac
vocabs=${vocabs:-0}
for n in $vocabs; do
  case $n in *[!0-9]*) echo "--vocab takes numbers: $n" >&2; exit 2 ;; esac
done
mkdir -p "$W"
status=0
report=$W/report.txt
: > "$report"
say() { echo "$*" | tee -a "$report"; }

# 1. our side
if [ -z "$tokbench" ]; then
  make -s bench/tokbench >/dev/null || { echo "make bench/tokbench failed" >&2; exit 1; }
  tokbench=$here/bench/tokbench
fi

# 2. the corpus
if [ -z "$corpus" ]; then
  corpus=$W/corpus4m.txt
  if [ ! -s "$corpus" ]; then
    python3 - > "$W/corpus.txt" 2>/dev/null <<'PY'
import importlib, inspect, sys
for m in sorted(sys.stdlib_module_names):
    try:
        mod = importlib.import_module(m)
    except Exception:
        continue
    for name, obj in inspect.getmembers(mod):
        doc = inspect.getdoc(obj)
        if doc:
            print(doc)
PY
    head -c 4000000 "$W/corpus.txt" > "$corpus"
  fi
fi
[ -s "$corpus" ] || { echo "no corpus: $corpus" >&2; exit 1; }

# 2b. the training text for --vocab
if [ "$vocabs" != 0 ] && [ -z "$train" ]; then
  train=$W/train-$(sha256sum < "$corpus" | cut -c1-12).txt
  if [ ! -s "$train" ]; then
    stdlib=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])') || exit 1
    { cat "$corpus"
      find "$stdlib" -name '*.py' -not -path '*/site-packages/*' -print0 | LC_ALL=C sort -z |
        xargs -0 cat; } > "$train.tmp" && mv "$train.tmp" "$train"
  fi
fi

# the tokenizer directory for fixture $1 at vocabulary size $2 (0: the
# fixture); tok-spm-prefix is tok-spm grown with --prefix-meta
tokdir() {
  local src=test/data/fixtures/${1%-prefix} flag= key dst
  [ "$1" = tok-spm-prefix ] && flag=--prefix-meta
  [ "$2" = 0 ] && { echo "$src"; return 0; }
  key=$( { cat scripts/bench/bpe_grow.py "$src/tokenizer.json" "$src/tokenizer_config.json" \
        "$train"; echo "$flag"; } | sha256sum | cut -c1-12)
  dst=$W/grown/$1-$2-$key
  if [ ! -s "$dst/tokenizer.json" ]; then
    python3 scripts/bench/bpe_grow.py "$src" "$train" "$2" "$dst" $flag >&2 || return 1
  fi
  echo "$dst"
}

# 3. the baseline
if [ $hf = node ]; then
  export NODE_PATH=$W/npm/node_modules
  if [ ! -d "$NODE_PATH/tokenizers" ]; then
    npm install --silent --prefix "$W/npm" tokenizers@0.23.2 >/dev/null 2>&1 ||
      { echo "npm install tokenizers@0.23.2 failed" >&2; exit 1; }
  fi
  theirs() { node scripts/bench/tok_hf.js "$@"; }
  version=$(node -e 'console.log(require("tokenizers/package.json").version)')
else
  theirs() { python3 scripts/bench/tok_hf.py "$@"; }
  version=$(python3 -c 'import tokenizers; print(tokenizers.__version__)') ||
    { echo "the Python package tokenizers is not installed" >&2; exit 1; }
fi

# "lines  18.49 MB/s ..." -> 18.49
mbs() { awk -v m="$1" '$1 == m { print $2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.1f×", a / b; else print "-" }'; }
unit() { [ -n "$1" ] && echo "$1 MB/s" || echo "-"; }

say "# tokenizers: $(git log -1 --format=%h 2>/dev/null || echo '?'), $(date -u '+%Y-%m-%d %H:%M UTC')"
say "# cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), one thread"
say "# corpus: $corpus, $(wc -c < "$corpus") bytes, $(wc -l < "$corpus") lines"
say "# baseline: Hugging Face tokenizers $version ($hf; lines through one batch call)"
[ "$vocabs" != 0 ] && say "# grown vocabularies: trained on $train, $(wc -c < "$train") bytes"
table="| tokenizer | vocab | bytes/token | ids equal | ours, lines | HF, lines | ratio | ours, whole | HF, whole | ratio |
|---|---|---|---|---|---|---|---|---|---|"
for n in $vocabs; do
for tok in tok-llama3 tok-qwen2 tok-gpt2 tok-spm $([ "$n" != 0 ] && echo tok-spm-prefix) tok-wordpiece; do
  dir=$(tokdir $tok "$n") || { echo "bpe_grow.py failed for $tok at $n" >&2; exit 1; }
  size=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["model"]["vocab"]))' \
         "$dir/tokenizer.json")
  "$tokbench" "$dir" "$corpus" 0 ids > "$W/ours.ids" || { echo "tokbench failed on $tok" >&2; status=1; }
  theirs "$dir" "$corpus" 0 ids > "$W/hf.ids" || { echo "the baseline failed on $tok" >&2; status=1; }
  lines=$(wc -l < "$W/hf.ids")
  # lines that differ, and every line when one side has a different count
  if [ "$(wc -l < "$W/ours.ids")" != "$lines" ] || [ "$lines" -eq 0 ]; then
    diffs=$(( lines > 0 ? lines : 1 ))
  else
    diffs=$(diff "$W/ours.ids" "$W/hf.ids" | grep -c '^<')
  fi
  [ "$diffs" = 0 ] || status=1
  say "RESULT tok_ids tokenizer=$tok vocab=$size lines=$lines differ=$diffs"
  mode=both; case $tok in tok-spm*) mode=lines ;; esac
  o=$("$tokbench" "$dir" "$corpus" "$seconds" $mode 2>&1)
  t=$(theirs "$dir" "$corpus" "$seconds" $mode 2>&1)
  ol=$(echo "$o" | mbs lines); hl=$(echo "$t" | mbs lines)
  ow=$(echo "$o" | mbs whole); hw=$(echo "$t" | mbs whole)
  bpt=$(echo "$o" | awk '$1 == "lines" { for (i = 1; i < NF; i++) if ($(i + 1) == "bytes/token)") print $i }')
  say "RESULT tok_speed tokenizer=$tok vocab=$size ours_lines=$ol hf_lines=$hl ours_whole=${ow:--} hf_whole=${hw:--}"
  table="$table
| $tok | $size | ${bpt:--} | $([ "$diffs" = 0 ] && echo "all $lines lines" || echo "$diffs of $lines differ") | $(unit "$ol") | $(unit "$hl") | $(ratio "$ol" "$hl") | $(unit "$ow") | $(unit "$hw") | $(ratio "$ow" "$hw") |"
done
done
say ""
say "$table"
[ -n "$out" ] && cp "$report" "$out"
exit $status
