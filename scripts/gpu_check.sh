#!/usr/bin/env bash
# scripts/gpu_check.sh: every check that needs the GPU machine, in one call.
#
#   scripts/gpu_check.sh --prepare   here (development machine, nvcc, no GPU):
#                                    build the CUDA unit tests, tokbench and
#                                    llmbench into gpucheck/ and bench/build/,
#                                    with the shared libraries they need
#   scripts/gpu_check.sh [--no-bench] [--no-tok] [--deadline S]
#                                    there (the GPU machine, from the repo root,
#                                    gpucheck/ and bench/build/ carried):
#     1. the CUDA unit tests: every compute op against the CPU backend in f32
#        and bf16 (test_compute), the forward pass on CUDA against the
#        fixtures' reference logits, greedy tokens and embeddings in f32
#        (1e-4) and bf16 (2e-2) (test_forward), the decode GEMV and CUDA
#        graph replay (test_cuda_decode);
#     2. tokenizers: ids of every line of a text corpus (the docstrings of
#        Python's standard library there) against Hugging Face tokenizers,
#        and single-thread throughput of both (bench/tokbench.c,
#        scripts/bench/tok_hf.py);
#     3. the inference benchmark against PyTorch + transformers
#        (scripts/bench_llm.sh); an optimization whose unit test failed in
#        step 1 is switched off for it (PGMLOPS_CUDA_* switches), and the
#        summary says so.
# Logs and tables go to $OUT (or /tmp/pgmlops-gpucheck).
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/blasenv.sh"
cd "$here"
G=$here/gpucheck

if [ "${1:-}" = --prepare ]; then
  set -e
  mkdir -p "$G"
  grep -qx '/gpucheck/' .git/info/exclude 2>/dev/null || echo '/gpucheck/' >> .git/info/exclude
  make -s
  rm -f unit/test_compute.bin unit/test_forward.bin unit/test_cuda_decode.bin
  make -s unit/test_compute.bin unit/test_forward.bin unit/test_cuda_decode.bin
  cp unit/test_compute.bin unit/test_forward.bin unit/test_cuda_decode.bin "$G/"
  make -s bench/tokbench
  cp bench/tokbench "$G/"
  d=$(mktemp -d)
  for f in openblas-pthread/libopenblas.so.0 libgfortran.so.5 libquadmath.so.0 \
           libjansson.so.4 libicuuc.so.72 libicudata.so.72; do
    cp -L /usr/lib/x86_64-linux-gnu/$f "$d/"
  done
  tar cJf "$G/libs.tar.xz" -C "$d" .
  rm -rf "$d"
  scripts/bench_llm.sh --build-only
  du -sh "$G" bench/build
  exit 0
fi

bench=1
do_tok=1
deadline=300
while [ $# -gt 0 ]; do
  case $1 in
    --no-bench) bench=0 ;;
    --no-tok) do_tok=0 ;;
    --deadline) deadline=$2; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
OUT=${OUT:-/tmp/pgmlops-gpucheck}
mkdir -p "$OUT"
say() { echo "== $*" | tee -a "$OUT/summary.txt"; }

L=/tmp/pgmlops-gpulibs
mkdir -p "$L" && tar xJf "$G/libs.tar.xz" -C "$L"
cublas=$(find /usr/local/cuda*/ /usr/lib /opt -name 'libcublas.so.13*' -printf '%h\n' 2>/dev/null | head -1)
export LD_LIBRARY_PATH=$L:/usr/local/cuda/lib64${cublas:+:$cublas}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee -a "$OUT/summary.txt"

# 1. unit tests on CUDA
for t in compute forward cuda_decode; do
  say "unit $t"
  ldd "$G/test_$t.bin" | grep 'not found' | tee -a "$OUT/summary.txt"
  PGMLOPS_VERBOSE=1 PGMLOPS_BENCH=1 timeout 180 "$G/test_$t.bin" > "$OUT/unit_$t.log" 2>&1
  echo "exit $?" >> "$OUT/unit_$t.log"
  grep -E '^FAIL|^unit |skipped|exit' "$OUT/unit_$t.log" | tail -25 | tee -a "$OUT/summary.txt"
done

# 2. tokenizers against Hugging Face on a real corpus
[ $do_tok = 1 ] && {
say "tokenizers"
scripts/bench_tok.sh --hf python --tokbench "$G/tokbench" --seconds 2 --out "$OUT/tok.txt" > "$OUT/tok.log" 2>&1 ||
  say "the tokenizer benchmark failed (see tok.log)"
grep -E '^RESULT|^\|' "$OUT/tok.log" | tee -a "$OUT/summary.txt"
}

# 3. the inference benchmark, without any optimization whose test failed
if [ $bench = 1 ]; then
  grep -q '^FAIL.*tiled' "$OUT/unit_compute.log" && export PGMLOPS_CUDA_SIMPLE_ATTENTION=1
  grep -qi '^FAIL.*graph' "$OUT/unit_cuda_decode.log" && export PGMLOPS_CUDA_NO_GRAPHS=1
  grep -qi '^FAIL.*\(matmul_add\|matmul_qkv\|matmul_swiglu\|fused\|fusion\)' "$OUT/unit_cuda_decode.log" &&
    export PGMLOPS_CUDA_NO_FUSION=1
  grep -qi '^FAIL.*matmul[ :]' "$OUT/unit_cuda_decode.log" && export PGMLOPS_CUDA_NO_GEMV=1
  say "bench_llm (switches: $(env | grep '^PGMLOPS_CUDA_' | tr '\n' ' '))"
  OUT=$OUT PGMLOPS_PREBUILT=1 scripts/bench_llm.sh --deadline "$deadline" > "$OUT/bench.out" 2>&1
  tail -40 "$OUT/bench.out"
fi
say "done"
