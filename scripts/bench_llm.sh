#!/usr/bin/env bash
# scripts/bench_llm.sh: the inference-engine benchmark (see docs/llm-benchmark.md).
#
# GPU mode (default; the GPU machine: nvcc, PyTorch and transformers there,
# no network, no PostgreSQL needed): builds llmbench with CUDA, writes a
# Llama-3.2-1B-shaped model (bf16), a MiniLM-shaped BERT (f32) and a
# 110M Llama (f32) with random weights under the work folder, and runs
#   - ours, CUDA bf16: batch-1 decode, batch-64 decode, prefill of 2048
#     tokens, MiniLM encode 256 x 128;  CUDA f32: batch-1 decode;
#   - a sanity check: greedy tokens of the 110M model, CUDA f32 against CPU f32;
#   - the PyTorch + transformers baseline (scripts/bench/hf_llm_baseline.py);
# then prints a markdown table side by side with ratios.
#
# CPU mode (--cpu): the 110M Llama in bf16 and f32, batch-1 decode on the
# CPU, and membw; reports decode tok/s as a fraction of the memory-bandwidth
# floor (bandwidth / bytes of weights read per token).
#
#   scripts/bench_llm.sh                  GPU mode
#   scripts/bench_llm.sh --cpu            CPU mode
#   scripts/bench_llm.sh --cpu --quick    smoke test of the script (tiny model)
#   scripts/bench_llm.sh --build-only     build bench/build/llmbench and stop
#
# Options: --tokens N (decode steps, default 128; CPU 32), --prompt P
# (default 16), --batch B (the large decode batch, default 64), --prefill T
# (default 2048), --enc-batch B --enc-seq S (default 256 x 128), --threads N
# (CPU threads, default all), --repeat R (default 5), --dir DIR (models and
# logs, default /tmp/pgmlops-llmbench), --no-hf (skip the baseline),
# --rebuild (ignore a carried build), --deadline S (seconds from the start
# after which remaining cases are skipped and the table is printed with what
# was measured; default 540; each case also has its own time limit).
#
# Build: llmbench is linked in bench/build/ (ignored by git) from the engine
# sources (every src/llm/*.c and src/compute/*.c that includes no PostgreSQL
# header), kernels/*.cu when nvcc is found, and bench/llmbench.c.
# Each stage is skipped when bench/build/ holds a build of the same sources
# (a content hash), so bench/build/ made on the development machine can be carried
# to a GPU machine that lacks the -dev packages.  Where static archives of
# jansson, OpenBLAS and ICU exist they are linked statically, so the binary
# needs only libc, libstdc++, cuBLAS and the CUDA runtime.  PGMLOPS_LIBDIR
# names a folder of shared libraries (libjansson.so.4, libopenblas.so.0, ...)
# to link against and to add to LD_LIBRARY_PATH; PGMLOPS_INCDIR a folder of
# headers.  NVCC_ARCH overrides the CUDA targets (default sm_90 and sm_80).
#
# Everything (log, RESULT lines, table) is written to $OUT when set, else to
# the work folder.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/blasenv.sh"

mode=gpu
quick=0
build_only=0
rebuild=0
hf=1
tokens=
prompt=16
batch=64
prefill=2048
enc_batch=256
enc_seq=128
threads=$(nproc)
repeat=5
deadline=540
W=/tmp/pgmlops-llmbench

usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-0}"; }

while [ $# -gt 0 ]; do
  case $1 in
    --cpu) mode=cpu; shift ;;
    --quick) quick=1; shift ;;
    --build-only) build_only=1; shift ;;
    --rebuild) rebuild=1; shift ;;
    --no-hf) hf=0; shift ;;
    --tokens) tokens=$2; shift 2 ;;
    --prompt) prompt=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --prefill) prefill=$2; shift 2 ;;
    --enc-batch) enc_batch=$2; shift 2 ;;
    --enc-seq) enc_seq=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --dir) W=$2; shift 2 ;;
    --deadline) deadline=$2; shift 2 ;;
    -h|--help) usage ;;
    *) echo "unknown option $1" >&2; usage 1 ;;
  esac
done

B=$here/bench/build
O=${OUT:-$W}
mkdir -p "$B/obj" "$W" "$O"
LOG=$O/llmbench.log
RES=$O/results.txt
TABLE=$O/table.md
: >"$LOG"
: >"$RES"

say() { printf '%s\n' "$*" | tee -a "$LOG"; }
die() { say "error: $*"; exit 1; }


NVCC=${NVCC-$(command -v nvcc 2>/dev/null || { [ -x /usr/local/cuda/bin/nvcc ] && echo /usr/local/cuda/bin/nvcc; })}
# the CUDA backend needs both the compiler and compute_cuda.c
[ -e "$here/src/compute/compute_cuda.c" ] || NVCC=
# this machine's CUDA libraries first (a carried binary's rpath names the
# build machine's), then PGMLOPS_LIBDIR
if [ -n "$NVCC" ]; then
  cuda_lib=$(dirname "$(dirname "$NVCC")")/lib64
  export LD_LIBRARY_PATH="$cuda_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
if [ -n "${PGMLOPS_LIBDIR:-}" ]; then
  export LD_LIBRARY_PATH="$PGMLOPS_LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
CC=${CC:-cc}
NVCC_ARCH=${NVCC_ARCH:--gencode arch=compute_90,code=sm_90 -gencode arch=compute_80,code=sm_80}
jobs=$(nproc)

# --- build -------------------------------------------------------------------

# engine sources that include no PostgreSQL header
engine_sources() {
  local f
  for f in "$here"/src/llm/*.c "$here"/src/compute/*.c "$here"/src/vector/vecdist.c; do
    [ -e "$f" ] || continue
    grep -q '^#include "postgres.h"' "$f" || echo "$f"
  done
}

# a hash of the given files' contents and of the build settings (no paths,
# so that a build carried to another machine or checkout still matches)
content_hash() {
  { cat "$@" 2>/dev/null; echo "${NVCC:+cuda} $NVCC_ARCH $CC"; } | sha1sum | cut -c1-16
}

# the flag(s) that link library NAME: a file in PGMLOPS_LIBDIR, a static
# archive, or -lNAME
lib_flag() {
  local name=$1 f a
  if [ -n "${PGMLOPS_LIBDIR:-}" ]; then
    f=$(find "$PGMLOPS_LIBDIR" -maxdepth 1 -name "lib$name.so*" | sort | head -1)
    [ -n "$f" ] && { echo "$f"; return; }
  fi
  a=$($CC -print-file-name=lib"$name".a)
  if [ "$a" != "lib$name.a" ] && [ -e "$a" ]; then echo "$a"; return; fi
  echo "-l$name"
}

# compile CMD...: run a compiler in the background, at most $jobs at once
pids=()
failed=0
compile() {
  if [ ${#pids[@]} -ge "$jobs" ]; then
    wait "${pids[0]}" || failed=1
    pids=("${pids[@]:1}")
  fi
  "$@" >>"$LOG" 2>&1 &
  pids+=($!)
}

# wait for the compilers started by compile; false if any failed
compile_wait() {
  local p
  for p in "${pids[@]}"; do wait "$p" || failed=1; done
  pids=()
  [ $failed = 0 ]
}

build() {
  local srcs hdrs cflags cuda_def="" hc hk hl f objs=() libs
  # PGMLOPS_PREBUILT=1: a carried build is used as it is (scripts/gpu_check.sh)
  if [ "${PGMLOPS_PREBUILT:-0}" = 1 ] && [ -x "$B/llmbench" ]; then
    say "using the carried bench/build/llmbench as it is"
    return 0
  fi
  srcs=$(engine_sources)
  [ -n "$srcs" ] || die "no engine sources under src/llm, src/compute"
  hdrs=$(ls "$here"/src/llm/*.h "$here"/src/compute/*.h "$here"/kernels/*.h 2>/dev/null)
  [ -n "$NVCC" ] && cuda_def=-DUSE_CUDA
  cflags="-O2 -g -fno-strict-aliasing -fwrapv -Wall -Wextra -Wno-unused-parameter
          -Wno-sign-compare -Wno-missing-field-initializers -Wno-format-truncation
          -I$here/src -I$here/kernels ${PGMLOPS_INCDIR:+-I$PGMLOPS_INCDIR} $cuda_def"

  # host objects
  # shellcheck disable=SC2086
  hc=$(echo "$cflags" | sed "s|$here||g" | content_hash $srcs $hdrs "$here/bench/llmbench.c" -)
  if [ $rebuild = 1 ] || [ "$(cat "$B/obj/stamp-c" 2>/dev/null)" != "$hc" ]; then
    say "building engine objects (${cuda_def:-CPU only})"
    rm -f "$B"/obj/*.o "$B/obj/stamp-c"
    for f in $srcs "$here/bench/llmbench.c"; do
      # shellcheck disable=SC2086
      compile $CC $cflags -c "$f" -o "$B/obj/$(basename "$f" .c).o"
    done
    compile_wait || die "compiling the engine failed (see $LOG)"
    echo "$hc" >"$B/obj/stamp-c"
  fi

  # CUDA kernels
  if [ -n "$NVCC" ]; then
    hk=$(content_hash "$here"/kernels/*.cu "$here"/kernels/*.h "$here"/kernels/*.cuh)
    if [ $rebuild = 1 ] || [ "$(cat "$B/obj/cu/stamp" 2>/dev/null)" != "$hk" ]; then
      say "building CUDA kernels with $NVCC"
      rm -rf "$B/obj/cu"; mkdir -p "$B/obj/cu"
      for f in "$here"/kernels/*.cu; do
        [ -e "$f" ] || continue
        # shellcheck disable=SC2086
        compile "$NVCC" -O3 -std=c++17 $NVCC_ARCH -I"$here/kernels" -c "$f" -o "$B/obj/cu/$(basename "$f" .cu).o"
      done
      compile_wait || die "compiling the CUDA kernels failed (see $LOG)"
      echo "$hk" >"$B/obj/cu/stamp"
    fi
  fi

  # link: the engine as an archive, so only what llmbench uses is pulled in
  hl=$(cat "$B/obj/stamp-c" "$B/obj/cu/stamp" 2>/dev/null | sha1sum | cut -c1-16)
  if [ $rebuild = 1 ] || [ ! -x "$B/llmbench" ] || [ "$(cat "$B/stamp-link" 2>/dev/null)" != "$hl" ]; then
    say "linking bench/build/llmbench"
    rm -f "$B/obj/libengine.a" "$B/llmbench" "$B/stamp-link"
    for f in $srcs; do objs+=("$B/obj/$(basename "$f" .c).o"); done
    [ -n "$NVCC" ] && objs+=("$B"/obj/cu/*.o)
    ar rcs "$B/obj/libengine.a" "${objs[@]}" || die "ar failed"
    libs="$(lib_flag jansson) $(lib_flag openblas) $(lib_flag icuuc) $(lib_flag icudata)"
    local cudalibs=""
    if [ -n "$NVCC" ]; then
      local cuda_home=${CUDA_HOME:-$(dirname "$(dirname "$NVCC")")}
      cudalibs="-L$cuda_home/lib64 -Wl,-rpath,$cuda_home/lib64 -lcublas -lcudart"
    fi
    # shellcheck disable=SC2086
    $CC -o "$B/llmbench" "$B/obj/llmbench.o" "$B/obj/libengine.a" $cudalibs $libs \
      ${PGMLOPS_LIBDIR:+-Wl,-rpath,$PGMLOPS_LIBDIR} -lstdc++ -lgfortran -lpthread -ldl -lm >>"$LOG" 2>&1 ||
    $CC -o "$B/llmbench" "$B/obj/llmbench.o" "$B/obj/libengine.a" $cudalibs $libs \
      ${PGMLOPS_LIBDIR:+-Wl,-rpath,$PGMLOPS_LIBDIR} -lstdc++ -lpthread -ldl -lm >>"$LOG" 2>&1 ||
      die "linking llmbench failed (see $LOG)"
    echo "$hl" >"$B/stamp-link"
  fi
  "$B/llmbench" cuda-available 2>/dev/null
  case $? in
    0) say "bench/build/llmbench: built with CUDA" ;;
    1) say "bench/build/llmbench: CPU only" ;;
    *) die "bench/build/llmbench does not run here (missing shared libraries? set PGMLOPS_LIBDIR): $(ldd "$B/llmbench" 2>&1 | grep 'not found' | tr '\n' ' ')" ;;
  esac
}

build
[ $build_only = 1 ] && exit 0

LB=$B/llmbench
$CC -O3 -march=native -o "$W/membw" "$here/bench/membw.c" -lpthread >>"$LOG" 2>&1 ||
  $CC -O3 -o "$W/membw" "$here/bench/membw.c" -lpthread >>"$LOG" 2>&1 ||
  die "compiling membw failed"

# --- cases -------------------------------------------------------------------

# seconds left before the deadline (--deadline), at most $1
time_left() {
  local left=$((deadline - SECONDS))
  [ "$left" -gt "$1" ] && left=$1
  echo "$left"
}

# run LABEL TIMEOUT CMD...: log the output, keep RESULT/TOKENS lines as "LABEL line"
run() {
  local label=$1 limit out rc
  limit=$(time_left "$2")
  shift 2
  if [ "$limit" -lt 10 ]; then
    say "--- $label: skipped, the deadline has passed"
    return 0
  fi
  say "--- $label: $*"
  out=$(timeout "$limit" "$@" 2>&1)
  rc=$?
  printf '%s\n' "$out" >>"$LOG"
  printf '%s\n' "$out" | grep -E '^(RESULT|TOKENS)' | sed "s|^|$label |" >>"$RES"
  printf '%s\n' "$out" | grep -E '^RESULT' | tee /dev/stderr >/dev/null
  [ $rc = 0 ] || say "    $label failed (exit $rc): $(printf '%s\n' "$out" | tail -n 3 | tr '\n' ' ')"
  return 0
}

# field LABEL KEY: KEY's value on LABEL's RESULT line
field() {
  awk -v l="$1" -v k="$2" '$1 == l && $2 == "RESULT" {
      for (i = 3; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) { print kv[2]; exit } } }' "$RES"
}

# a number for the table, rounded, thousands separated by commas; or "-"
num() {
  awk -v x="$1" 'BEGIN { if (x == "") { print "-"; exit }
      s = sprintf("%.0f", x); while (s ~ /[0-9][0-9][0-9][0-9]/) sub(/[0-9][0-9][0-9]($|,)/, ",&", s);
      print s }'
}

# ratio A B, or "-"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b != "" && b + 0 > 0) printf "%.2fx", a / b; else print "-" }'; }

# make-model DIR SHAPE DTYPE, unless DIR already holds that model
model() {
  local dir=$1 shape=$2 dtype=$3
  if [ "$(cat "$dir/.llmbench" 2>/dev/null)" != "$shape $dtype" ]; then
    rm -rf "$dir"
    "$LB" make-model "$dir" --shape "$shape" --dtype "$dtype" >>"$LOG" 2>&1 ||
      die "make-model $shape failed (see $LOG)"
    echo "$shape $dtype" >"$dir/.llmbench"
  fi
}

header() {
  say "## pgmlops LLM benchmark ($mode)"
  say ""
  say "- commit $(cd "$here" && git rev-parse --short HEAD 2>/dev/null || echo '?')$(cd "$here" && git diff --quiet HEAD 2>/dev/null || echo ' (modified)'), $(date -u '+%Y-%m-%d %H:%M UTC')"
  say "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) threads"
  if [ "$mode" = gpu ] && command -v nvidia-smi >/dev/null; then
    say "- GPU: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -1)"
  fi
}

# membw_gbs T: the bandwidth membw measured with T threads
membw_gbs() {
  awk -v t="threads=$1" '$1 == "membw" && $2 == "RESULT" && $4 == t {
      for (i = 5; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "gb_s") print kv[2] } }' "$RES"
}

cpu_mode() {
  local shape=llama-110m n=${tokens:-32} bw1 bwn bw mbw=2048
  [ $quick = 1 ] && { shape=tiny; n=${tokens:-8}; mbw=256; }
  model "$W/$shape-bf16" "$shape" bf16
  model "$W/$shape-f32" "$shape" f32
  run membw 300 "$W/membw" --mb "$mbw" --threads "$threads" --repeat 5
  bw1=$(membw_gbs 1)
  bwn=$(membw_gbs "$threads")
  # the floor uses the better of the two
  bw=$(awk -v a="$bw1" -v b="$bwn" 'BEGIN { print (b + 0 > a + 0) ? b : a }')
  [ -n "$bwn" ] || bwn=$bw1
  for p in bf16 f32; do
    run "cpu_$p" 600 "$LB" decode "$W/$shape-$p" --device cpu --precision "$p" \
      --batch 1 --tokens "$n" --prompt "$prompt" --threads "$threads" --bw-gbs "${bw:-0}"
  done

  {
    echo
    header
    echo "- model: $shape shape, random weights; batch 1, prompt $prompt, $n decode steps, $threads threads"
    echo "- memory read bandwidth (membw, $mbw MB array, best of 5): $bw1 GB/s one thread, $bwn GB/s $threads threads; the floor uses $bw GB/s"
    echo
    echo "| precision | decode tok/s | ms/token | weights read per token | floor tok/s (bandwidth / bytes) | fraction of floor |"
    echo "|---|---|---|---|---|---|"
    for p in bf16 f32; do
      echo "| $p | $(field "cpu_$p" tok_s) | $(field "cpu_$p" ms_per_step) | $(field "cpu_$p" weight_mb) MB | $(field "cpu_$p" floor_tok_s) | $(field "cpu_$p" floor_frac) |"
    done
  } | tee "$TABLE" | tee -a "$LOG"
}

gpu_mode() {
  local n=${tokens:-128} m1=$W/llama-1b m110=$W/llama-110m-f32 mini=$W/minilm nsan=16
  local t0=$SECONDS
  if [ $quick = 1 ]; then
    m1=$W/tiny-bf16; m110=$W/tiny-f32; mini=$W/minilm
    model "$m1" tiny bf16; model "$m110" tiny f32
    n=${tokens:-16}; prefill=256; enc_batch=16; enc_seq=32; repeat=2
  else
    model "$m1" llama-1b bf16
    model "$m110" llama-110m f32
  fi
  model "$mini" minilm f32
  say "models ready in $((SECONDS - t0)) s"

  run dec1 120 "$LB" decode "$m1" --device cuda --precision bf16 --batch 1 --tokens "$n" --prompt "$prompt"
  run decB 180 "$LB" decode "$m1" --device cuda --precision bf16 --batch "$batch" --tokens "$n" --prompt "$prompt"
  run prefill 120 "$LB" prefill "$m1" --device cuda --precision bf16 --tokens "$prefill" --repeat "$repeat"
  run encode 120 "$LB" encode "$mini" --device cuda --precision bf16 --batch "$enc_batch" --seq "$enc_seq" --repeat "$repeat"

  if [ $hf = 1 ] && [ "$(time_left 300)" -lt 30 ]; then
    say "--- hf: skipped, the deadline has passed"
  elif [ $hf = 1 ]; then
    local py=${PYTHON:-python3} out rc
    say "--- hf: transformers baseline"
    out=$(cd "$W" && PYTHONUNBUFFERED=1 timeout "$(time_left 300)" "$py" "$here/scripts/bench/hf_llm_baseline.py" \
      --llama "$m1" --minilm "$mini" --tokens "$n" --prompt "$prompt" --batches "1,$batch" \
      --prefill "$prefill" --enc-batch "$enc_batch" --enc-seq "$enc_seq" --repeat "$repeat" 2>&1)
    rc=$?
    printf '%s\n' "$out" >>"$LOG"
    printf '%s\n' "$out" | grep -E '^RESULT' | tee /dev/stderr >/dev/null
    # label the baseline's lines: hf_decode_<batch>, hf_prefill, hf_encode_<attn>
    printf '%s\n' "$out" | awk '$1 == "RESULT" {
        c = $2; b = ""; a = "";
        for (i = 3; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "batch") b = kv[2]; if (kv[1] == "attn") a = kv[2] }
        l = (c == "decode") ? "hf_decode_" b : (c == "encode") ? "hf_encode_" a : "hf_" c;
        print l, $0 }' >>"$RES"
    printf '%s\n' "$out" | grep -E '^ERROR' >&2
    [ $rc = 0 ] || say "    hf baseline failed (exit $rc): $(printf '%s\n' "$out" | tail -n 3 | tr '\n' ' ')"
  fi

  # extras after the baseline, so that a deadline cuts these first: the
  # effect of each CUDA optimization (turned off by its debug switch)
  run dec1_nograph 120 env PGMLOPS_CUDA_NO_GRAPHS=1 "$LB" decode "$m1" --device cuda --precision bf16 --batch 1 --tokens "$n" --prompt "$prompt"
  run dec1_nofusion 120 env PGMLOPS_CUDA_NO_FUSION=1 "$LB" decode "$m1" --device cuda --precision bf16 --batch 1 --tokens "$n" --prompt "$prompt"
  run dec1_nogemv 120 env PGMLOPS_CUDA_NO_GEMV=1 "$LB" decode "$m1" --device cuda --precision bf16 --batch 1 --tokens "$n" --prompt "$prompt"
  run prefill_simple 120 env PGMLOPS_CUDA_SIMPLE_ATTENTION=1 "$LB" prefill "$m1" --device cuda --precision bf16 --tokens "$prefill" --repeat 2
  run dec1_f32 120 "$LB" decode "$m1" --device cuda --precision f32 --batch 1 --tokens 32 --prompt "$prompt"
  run san_cuda 120 "$LB" decode "$m110" --device cuda --precision f32 --batch 1 --tokens "$nsan" --prompt "$prompt"
  run san_cpu 120 "$LB" decode "$m110" --device cpu --precision f32 --batch 1 --tokens "$nsan" --prompt "$prompt" --threads "$threads"

  local sc sg match
  sc=$(awk '$1 == "san_cuda" && $2 == "TOKENS" { $1 = $2 = $3 = $4 = ""; print }' "$RES")
  sg=$(awk '$1 == "san_cpu" && $2 == "TOKENS" { $1 = $2 = $3 = $4 = ""; print }' "$RES")
  match=$(awk -v a="$sc" -v b="$sg" 'BEGIN { n = split(a, x); m = split(b, y); k = 0;
      if (n == 0 || m == 0) { print "not run (a side failed)"; exit }
      while (k < n && k < m && x[k + 1] == y[k + 1]) k++; printf "first %d of %d agree", k, (n > m ? n : m) }')

  {
    echo
    header
    echo "- decoder: $(basename "$m1") shape, random bf16 weights; decode: prompt $prompt tokens, $n greedy steps timed after one untimed step"
    echo "- ours: llmbench (CUDA, bf16 weights and GEMM operands, f32 activations and KV cache); baseline: $(grep -m1 '^INFO torch' "$LOG" | sed 's/^INFO //'), bf16, eager attention (encoder fp16)"
    echo "- sanity: greedy tokens of $(basename "$m110") (f32 weights, f32 compute), CUDA against CPU: $match"
    echo
    echo "| case | pgmlops | transformers | ratio | target |"
    echo "|---|---|---|---|---|"
    echo "| batch-1 decode, tok/s | $(num "$(field dec1 tok_s)") | $(num "$(field hf_decode_1 tok_s)") | $(ratio "$(field dec1 tok_s)" "$(field hf_decode_1 tok_s)") | >= 1,200 |"
    echo "| batch-$batch decode, aggregate tok/s | $(num "$(field decB tok_s)") | $(num "$(field "hf_decode_$batch" tok_s)") | $(ratio "$(field decB tok_s)" "$(field "hf_decode_$batch" tok_s)") | >= 15,000 |"
    echo "| prefill $prefill tokens, tok/s | $(num "$(field prefill tok_s)") | $(num "$(field hf_prefill tok_s)") | $(ratio "$(field prefill tok_s)" "$(field hf_prefill tok_s)") | >= 100,000 |"
    echo "| MiniLM encode $enc_batch x $enc_seq, seq/s (ours bf16, HF fp16 eager) | $(num "$(field encode seq_s)") | $(num "$(field hf_encode_eager seq_s)") | $(ratio "$(field encode seq_s)" "$(field hf_encode_eager seq_s)") | >= 70,000 |"
    echo "| MiniLM encode, HF fp16 sdpa | | $(num "$(field hf_encode_sdpa seq_s)") | $(ratio "$(field encode seq_s)" "$(field hf_encode_sdpa seq_s)") | |"
    echo "| batch-1 decode, CUDA f32, tok/s | $(num "$(field dec1_f32 tok_s)") | | | |"
    echo "| batch-1 decode without CUDA graphs | $(num "$(field dec1_nograph tok_s)") | | $(ratio "$(field dec1 tok_s)" "$(field dec1_nograph tok_s)") with | |"
    echo "| batch-1 decode without fused products | $(num "$(field dec1_nofusion tok_s)") | | $(ratio "$(field dec1 tok_s)" "$(field dec1_nofusion tok_s)") with | |"
    echo "| batch-1 decode without the GEMV kernel | $(num "$(field dec1_nogemv tok_s)") | | $(ratio "$(field dec1 tok_s)" "$(field dec1_nogemv tok_s)") with | |"
    echo "| prefill with the per-row attention kernel | $(num "$(field prefill_simple tok_s)") | | $(ratio "$(field prefill tok_s)" "$(field prefill_simple tok_s)") with | |"
    echo
    echo "Per-step latency: batch 1 $(field dec1 ms_per_step) ms (p50 $(field dec1 ms_per_step_p50)), batch $batch $(field decB ms_per_step) ms; weights read per decode step $(field dec1 weight_mb) MB."
    echo "Total wall time $((SECONDS - t0)) s."
  } | tee "$TABLE" | tee -a "$LOG"
}

if [ "$mode" = cpu ]; then cpu_mode; else gpu_mode; fi
