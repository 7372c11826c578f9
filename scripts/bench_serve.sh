#!/usr/bin/env bash
# scripts/bench_serve.sh: the LLM serving benchmark (see docs/llm-serving-benchmark.md).
#
# Starts a PostgreSQL server of its own with pgmlops preloaded (the
# inference worker), registers a text-generation model and runs pgbench
# with a script calling mlops.generate (a fixed prompt, --max-tokens N,
# ignore_eos, so that every call makes exactly N tokens) at 1, 8, 32 and 64
# clients.  For each client count it reports the aggregate tokens/s
# (calls x N / duration), its ratio to one client, and the p50/p95 latency
# of a call (pgbench -l).  In the same run it measures the engine's own
# batch-1 decode tokens/s on the same model and device (bench/llmbench) and
# the serving overhead, 1 - serving decode tok/s / engine tok/s, where the
# serving decode rate of one client leaves prefill out:
#   trace:     per call (tokens_out - 1) / (total_ms - ttft_ms) from
#              mlops.llm_calls (the first token comes from prefill), median;
#   increment: (N - 1) / (p50 latency at N tokens - p50 at max_tokens 1).
# Before measuring, it checks the fixtures' reference outputs through the
# worker on the server's device (greedy tokens of llama, qwen2, mistral;
# bert embeddings; f32, and bf16 on CUDA): RESULT check_* lines.  On a GPU
# that is the worker's CUDA path end to end.
#
#   scripts/bench_serve.sh                       tiny CPU fixture (llama), 20 s per client count
#   scripts/bench_serve.sh --quick               smoke test (a few seconds per step)
#   scripts/bench_serve.sh --models llama,qwen2,mistral     every tiny fixture
#   scripts/bench_serve.sh --shape llama-110m    random-weight 110M Llama (f32 on the CPU)
#   scripts/bench_serve.sh --prepare-gpu         here: build and pack what a GPU machine needs
#   scripts/bench_serve.sh --bundle gpuserve --device cuda --shape llama-1b
#                                                there: the issue's case (bf16)
#
# Options: --clients LIST (default 1,8,32,64), --seconds S (per client
# count, default 20), --max-tokens N (default 64), --prompt TEXT (no
# colons: pgbench reads :name as a variable), --shape tiny|llama-110m|llama-1b
# (a random-weight model written by llmbench make-model with a synthetic
# byte-level tokenizer; without it the tiny fixtures of test/data/fixtures),
# --models LIST (fixtures: llama, qwen2, mistral; default llama), --dtype
# bf16|f32 (registration dtype, the engine's precision; default f32 on the
# CPU, bf16 on CUDA), --device cpu|cuda, --kv-mb MB (default: enough for
# every client), --dir DIR (work folder, default /tmp/pgmlops-bench-serve),
# --port P, --bindir DIR (a PostgreSQL bin folder with pgmlops installed;
# skips building), --bundle DIR (what --prepare-gpu packed: PostgreSQL,
# pgmlops and llmbench), --out FILE (also write the table there), --keep
# (leave the server running).  Without --bindir or --bundle the tree is
# built into a private copy of PostgreSQL under DIR.  The log, the RESULT
# lines and the table go to $OUT when set, else to DIR: serve.log,
# serve_results.txt, serve_table.md.  Run as root (or it re-runs itself
# with sudo).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/lib.sh"
require_root "$@"

clients=
seconds=
max_tokens=64
prompt="Summarize the main ideas of continuous batching in language model serving, in plain words."
shape=
models=llama
dtype=
device=cpu
kv_mb=
quick=0
W=/tmp/pgmlops-bench-serve
PORT=54351
bindir=
bundle=
prepare=
out=
keep=0

while [ $# -gt 0 ]; do
  case $1 in
    --clients) clients=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --max-tokens) max_tokens=$2; shift 2 ;;
    --prompt) prompt=$2; shift 2 ;;
    --shape) shape=$2; shift 2 ;;
    --models) models=$2; shift 2 ;;
    --dtype) dtype=$2; shift 2 ;;
    --device) device=$2; shift 2 ;;
    --kv-mb) kv_mb=$2; shift 2 ;;
    --quick) quick=1; shift ;;
    --bundle) bundle=$2; shift 2 ;;
    --prepare-gpu) prepare=$here/gpuserve; shift ;;
    *) bench_option "$@"; shift "$BENCH_SHIFT" ;;
  esac
done

case $device in cpu|cuda) ;; *) die "--device is cpu or cuda" ;; esac
case ${shape:-fixture} in fixture|tiny|llama-110m|llama-1b) ;; *) die "--shape is tiny, llama-110m or llama-1b" ;; esac
[ -n "$dtype" ] || { [ "$device" = cuda ] && dtype=bf16 || dtype=f32; }
case $dtype in bf16|f32) ;; *) die "--dtype is bf16 or f32" ;; esac
case $prompt in *:*) die "the prompt must not contain a colon (pgbench variables)" ;; esac
[ "$max_tokens" -ge 2 ] 2>/dev/null || die "--max-tokens must be at least 2"
if [ $quick = 1 ]; then
  clients=${clients:-1,8,32}
  seconds=${seconds:-3}
else
  clients=${clients:-1,8,32,64}
  seconds=${seconds:-20}
fi
case ",$clients," in *,1,*) ;; *) clients=1,$clients ;; esac
max_clients=$(tr ',' '\n' <<<"$clients" | sort -n | tail -1)

ensure_user

# --- --prepare-gpu: build and pack for a machine without PostgreSQL ----------
# gpuserve/ (ignored by git; carry it): pg15.tar.xz from ../shared/gpu/pg-bundle
# (PostgreSQL 15 and the shared libraries the server and pgmlops.so need),
# ext.tar.xz (pgmlops.so built with nvcc when present, .control and .sql) and
# llmbench.xz (bench/build/llmbench, self-contained)
if [ -n "$prepare" ]; then
  install_deps
  bundler=$(cd "$here/.." && pwd)/shared/gpu/pg-bundle
  [ -x "$bundler" ] || die "no $bundler"
  grep -qx '/gpuserve/' "$here/.git/info/exclude" 2>/dev/null || echo '/gpuserve/' >> "$here/.git/info/exclude"
  rm -rf "$prepare" "$W/gpubuild"
  mkdir -p "$prepare" "$W/gpubuild/ext"
  chown "$PGM_USER" "$W" "$W/gpubuild"
  log "building pgmlops"
  stage_tree "$here" "$W/gpubuild/src"
  build_and_install "$W/gpubuild/src" "$W/gpubuild/ext" || die "build failed"
  tar -C "$W/gpubuild/ext" -cJf "$prepare/ext.tar.xz" usr
  log "packing PostgreSQL"
  "$bundler" "$prepare" "$W/gpubuild/ext/usr/lib/postgresql/$PG_MAJOR/lib/pgmlops.so" >/dev/null
  log "building llmbench"
  env -u OUT bash "$here/scripts/bench_llm.sh" --build-only --dir "$W/llmbench" || die "llmbench build failed"
  xz -T0 -c "$here/bench/build/llmbench" > "$prepare/llmbench.xz"
  ls -la "$prepare"
  echo "carry gpuserve/, then on the GPU machine: scripts/bench_serve.sh --bundle gpuserve --device cuda --shape llama-1b"
  exit 0
fi

O=${OUT:-$W}
mkdir -p "$W" "$O"
chown "$PGM_USER" "$W"
LOG=$O/serve.log
RES=$O/serve_results.txt
TABLE=$O/serve_table.md
: >"$LOG"
: >"$RES"
say() { printf '%s\n' "$*" | tee -a "$LOG"; }

# --- PostgreSQL and llmbench -------------------------------------------------
if [ -n "$bundle" ]; then
  bundle=$(cd "$bundle" && pwd)
  P=$W/pgb
  log "unpacking $bundle into $P"
  rm -rf "$P"; mkdir -p "$P"
  tar -C "$P" -xJf "$bundle/pg15.tar.xz"
  tar -C "$P" -xJf "$bundle/ext.tar.xz"
  chmod -R a+rX "$P"
  export LD_LIBRARY_PATH="$P/syslib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  bindir=$P/usr/lib/postgresql/$PG_MAJOR/bin
  LB=$W/llmbench
  xz -dc "$bundle/llmbench.xz" > "$LB"
  chmod 755 "$LB"
else
  install_deps
  env -u OUT bash "$here/scripts/bench_llm.sh" --build-only --dir "$W/llmbench" >>"$LOG" 2>&1 ||
    die "building llmbench failed (see $LOG)"
  LB=$here/bench/build/llmbench
fi
command -v python3 >/dev/null || die "python3 is needed (tokenizer and sizes)"

# --- models ------------------------------------------------------------------
M=$W/models
mkdir -p "$M"

# a byte-level BPE tokenizer covering the whole vocabulary of the model in
# DIR: 255 byte tokens (every byte but NUL, which no text value can hold),
# the config's BOS and EOS as special tokens, and distinct filler tokens
# " t<id>" up to vocab_size; no merges, so a prompt is one token per byte
write_tokenizer() {
  python3 - "$1" <<'PY'
import json, sys
d = sys.argv[1]
cfg = json.load(open(d + "/config.json"))
V = cfg["vocab_size"]
bos, eos = cfg.get("bos_token_id"), cfg.get("eos_token_id")
# GPT-2's byte to character table
bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
cs = bs[:]
n = 0
for b in range(256):
    if b not in bs:
        bs.append(b); cs.append(256 + n); n += 1
byte_chars = [chr(c) for _, c in sorted(zip(bs, cs))]
vocab, added, nb = {}, [], 0
for i in range(V):
    if i == bos or i == eos:
        s = "<|begin_of_text|>" if i == bos else "<|end_of_text|>"
        added.append({"id": i, "content": s, "single_word": False, "lstrip": False,
                      "rstrip": False, "normalized": False, "special": True})
    elif nb < 255:
        nb += 1
        s = byte_chars[nb]
    else:
        s = "\u0120t%d" % i
    vocab[s] = i
assert nb == 255 and len(vocab) == V
tok = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
       "normalizer": None,
       "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
       "post_processor": None,
       "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
       "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                 "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                 "ignore_merges": False, "vocab": vocab, "merges": []}}
json.dump(tok, open(d + "/tokenizer.json", "w"), ensure_ascii=False)
tc = {"tokenizer_class": "PreTrainedTokenizerFast"}
if bos is not None:
    tc["bos_token"] = "<|begin_of_text|>"
if eos is not None:
    tc["eos_token"] = "<|end_of_text|>"
json.dump(tc, open(d + "/tokenizer_config.json", "w"), indent=1)
PY
}

# KV cache MB for max_clients sequences of the prompt plus max_tokens, with
# room to spare (f32 keys and values, 16-token pages)
kv_need_mb() {
  python3 - "$1" "$2" "$3" <<'PY'
import json, math, sys
cfg = json.load(open(sys.argv[1] + "/config.json"))
seqs, tokens = int(sys.argv[2]), int(sys.argv[3])
heads = cfg["num_attention_heads"]
hd = cfg.get("head_dim") or cfg["hidden_size"] // heads
per_token = cfg["num_hidden_layers"] * 2 * cfg.get("num_key_value_heads", heads) * hd * 4
pages = math.ceil((tokens + 16) / 16)
print(max(64, math.ceil(2 * seqs * pages * 16 * per_token / 2**20)))
PY
}

# names[i] registered name, dirs[i] folder under $M
names=()
dirs=()
if [ -z "$shape" ]; then
  for m in ${models//,/ }; do
    src=$here/test/data/fixtures/$m-tiny-f32
    [ -d "$src" ] || src=$(cd "$here/.." && pwd)/shared/fixtures/$m-tiny-f32
    [ -f "$src/config.json" ] || die "no fixture $m-tiny-f32"
    rm -rf "${M:?}/$m-tiny-f32"
    cp -r "$src" "$M/$m-tiny-f32"
    names+=("$m"); dirs+=("$m-tiny-f32")
  done
else
  d=$M/$shape-$dtype
  if [ "$(cat "$d/.bench_serve" 2>/dev/null)" != "$shape $dtype" ]; then
    log "writing a random-weight $shape model ($dtype)"
    rm -rf "$d"
    "$LB" make-model "$d" --shape "$shape" --dtype "$dtype" >>"$LOG" 2>&1 || die "make-model failed (see $LOG)"
    write_tokenizer "$d" || die "writing the tokenizer failed"
    echo "$shape $dtype" >"$d/.bench_serve"
  fi
  names+=("$shape"); dirs+=("$shape-$dtype")
fi
chmod -R a+rX "$M"
chown -R "$PGM_USER" "$M"

# --- server --------------------------------------------------------------------
bench_server "$W" "$PORT" "$bindir" "$keep" "-c shared_buffers=256MB -c max_connections=$((max_clients + 20)) -c mlops.device=$device -c mlops.model_dir=$M -c mlops.queue_limit=1000 -c jit=off"
PGB=$BIN/pgbench
sql() { "$BIN/psql" -h "$SOCK" -p "$PORT" -U "$PGM_USER" -X -v ON_ERROR_STOP=1 -qAt -d "$@"; }
sql postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS bench_serve" -c "CREATE DATABASE bench_serve"
sql bench_serve -c "CREATE EXTENSION pgmlops CASCADE"
has_trace=$(sql bench_serve -c "SELECT to_regclass('mlops.llm_calls') IS NOT NULL")

# --- correctness through the worker ---------------------------------------------
# The fixtures' greedy tokens and embeddings through mlops.generate and
# mlops.embed on this server's device (on a GPU, the worker's CUDA path end
# to end): RESULT check_<fixture>_<dtype> same=N of=M per model.  f32 must
# match every case; bf16 is reported (the engine's bf16 tolerance is 2e-2).
check_fixtures() {
  local fx=$here/test/data/fixtures f d dt
  local dts=(f32)
  [ "$device" = cuda ] && dts=(f32 bf16)
  for f in llama qwen2 mistral bert; do
    d=$f-tiny-f32; [ "$f" = bert ] && d=bert-tiny-mean
    [ -d "$fx/$d" ] || continue
    rm -rf "${M:?}/check-$d"; cp -r "$fx/$d" "$M/check-$d"; chmod -R a+rX "$M/check-$d"; chown -R "$PGM_USER" "$M/check-$d"
    for dt in "${dts[@]}"; do
      python3 - "$fx/$d/golden.json" "check-$d" "$f" "$dt" >"$W/check_${f}_${dt}.sql" <<'PY'
import json, sys
g = json.load(open(sys.argv[1]))
d, f, dt = sys.argv[2], sys.argv[3], sys.argv[4]
lit = lambda s: "'" + s.replace("'", "''") + "'"
name = "chk_%s_%s" % (f, dt)
task = "embedding" if f == "bert" else "text-generation"
print("SELECT mlops.register_model(%s, %s, task => %s, options => %s) \\g /dev/null"
      % (lit(name), lit(d), lit(task), lit(json.dumps({"dtype": dt}))))
rows = []
for c in g["cases"]:
    if f == "bert":
        rows.append("(1 - (mlops.embed(%s, %s) <=> %s::real[]::vector) >= 0.99999)::int"
                    % (lit(name), lit(c["text"]), lit("{" + ",".join(map(repr, c["embedding"])) + "}")))
    else:
        rows.append("(mlops.generate(%s, %s, max_tokens => %d, options => '{\"ignore_eos\": true}') = "
                    "mlops.detokenize(%s, %s, true))::int"
                    % (lit(name), lit(c["prompt"]), len(c["greedy_new_ids"]), lit(d),
                       lit("{" + ",".join(map(str, c["greedy_new_ids"])) + "}")))
print("SELECT 'RESULT check_%s_%s same=' || (%s) || ' of=%d';" % (f, dt, " + ".join(rows), len(rows)))
PY
      sql bench_serve -f "$W/check_${f}_${dt}.sql" 2>>"$LOG" | tee -a "$RES" >>"$LOG" ||
        say "    check $f $dt failed (see $LOG)"
    done
  done
  say "    fixtures through the worker on $device: $(grep '^RESULT check_' "$RES" | cut -d' ' -f2- | tr '\n' ';')"
}

# --- measurements --------------------------------------------------------------
# field LABEL KEY: KEY's value on the RESULT line labelled LABEL
field() {
  awk -v l="$1" -v k="$2" '$1 == "RESULT" && $2 == l {
      for (i = 3; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) { print kv[2]; exit } } }' "$RES"
}
result() { say "RESULT $*"; }
nz() { echo "${1:-0}"; }
fmt() { awk -v x="$1" -v d="${2:-0}" 'BEGIN { if (x == "") print "-"; else printf "%.*f\n", d, x }'; }

# pgbench NAME MODEL CLIENTS SECONDS MAX_TOKENS: one run; RESULT line "pgb_NAME"
# with calls, tps, p50/p95/mean latency (ms) and the failed count
run_pgbench() {
  local name=$1 model=$2 c=$3 s=$4 n=$5 dir=$W/log/$1 j script
  rm -rf "$dir"; mkdir -p "$dir"
  script=$dir/generate.sql
  printf "SELECT length(mlops.generate('%s', '%s', max_tokens => %d, options => jsonb_build_object('ignore_eos', true)));\n" \
    "$model" "${prompt//\'/\'\'}" "$n" >"$script"
  j=$(( c < $(nproc) ? c : $(nproc) ))
  (cd "$dir" && "$PGB" -h "$SOCK" -p "$PORT" -U "$PGM_USER" -n -M prepared -c "$c" -j "$j" -T "$s" \
     -f "$script" -l --log-prefix="$dir/tx" bench_serve >"$dir/summary.txt" 2>&1) ||
    say "    pgbench $name exited with an error: $(grep -m3 -iE 'error|abort' "$dir/summary.txt" | tr '\n' ' ')"
  cat "$dir/summary.txt" >>"$LOG"
  local tps failed
  tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$dir/summary.txt" | head -1)
  failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$dir/summary.txt" | head -1)
  # log lines: client_id transaction_no time(us) script_no time_epoch time_us
  { cat "$dir"/tx.* 2>/dev/null || true; } | awk '$3 ~ /^[0-9]+$/ {print $3}' | sort -n | awk -v name="$name" -v tps="${tps:-0}" \
      -v failed="${failed:-0}" -v aborted="$(grep -c 'aborted' "$dir/summary.txt")" '
    { v[NR] = $1; s += $1 }
    END {
      if (NR == 0) { printf "RESULT pgb_%s calls=0 tps=0 failed=%d aborted=%d\n", name, failed, aborted; exit }
      printf "RESULT pgb_%s calls=%d tps=%s p50_ms=%.3f p95_ms=%.3f mean_ms=%.3f failed=%d aborted=%d\n", name, NR, tps,
             v[int((NR - 1) * 0.50) + 1] / 1000, v[int((NR - 1) * 0.95) + 1] / 1000, s / NR / 1000, failed, aborted
    }' | tee -a "$RES" >>"$LOG"
}

# the traced calls since the last reset: RESULT line "trace_NAME" with the
# median per-call decode tok/s ((tokens_out - 1) / (total_ms - ttft_ms)),
# the median TTFT and the tokens out per call (min and max)
trace_stats() {
  local name=$1
  [ "$has_trace" = t ] || return 0
  sql bench_serve -c "SELECT mlops.flush_llm_calls(timeout_ms => 30000)" >/dev/null
  sql bench_serve -F ' ' -c "
    SELECT 'RESULT', 'trace_$name',
           'traced=' || count(*),
           'decode_tok_s=' || coalesce(round(percentile_cont(0.5) WITHIN GROUP (ORDER BY
               (tokens_out - 1) / nullif(total_ms - ttft_ms, 0) * 1000)::numeric, 1)::text, ''),
           'ttft_p50_ms=' || coalesce(round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ttft_ms)::numeric, 3)::text, ''),
           'tokens_in=' || coalesce(min(tokens_in)::text, ''),
           'tokens_out_min=' || coalesce(min(tokens_out)::text, ''),
           'tokens_out_max=' || coalesce(max(tokens_out)::text, ''),
           'errors=' || count(*) FILTER (WHERE status <> 'ok')
      FROM mlops.llm_calls WHERE function = 'generate'" | tee -a "$RES" >>"$LOG"
}
trace_reset() {
  [ "$has_trace" = t ] || return 0
  sql bench_serve -c "SELECT mlops.flush_llm_calls(timeout_ms => 30000)" -c "DELETE FROM mlops.llm_calls" >/dev/null
}

# llmbench decode, batch 1, three times; RESULT line "engine_NAME" with the median
engine() {
  local name=$1 dir=$2 p=$3 t i out rates=()
  t=()
  [ "$device" = cpu ] && t=(--threads 1)
  for i in 1 2 3; do
    out=$("$LB" decode "$dir" --device "$device" --precision "$dtype" --batch 1 --tokens "$max_tokens" \
            --prompt "$p" "${t[@]}" 2>&1) || { say "    llmbench decode failed: $(tail -2 <<<"$out" | tr '\n' ' ')"; return 0; }
    printf '%s\n' "$out" >>"$LOG"
    rates+=("$(sed -n 's/^RESULT decode .* tok_s=\([0-9.]*\).*/\1/p' <<<"$out")")
  done
  printf '%s\n' "${rates[@]}" | sort -g | awk -v name="$name" '{ v[NR] = $1 }
      END { printf "RESULT engine_%s tok_s=%s runs=%s\n", name, v[int((NR + 1) / 2)], NR }' | tee -a "$RES" >>"$LOG"
}

# llmbench decode at batch B (once): the engine's ceiling for B clients;
# RESULT line "engine_NAME_bB"
engine_batch() {
  local name=$1 dir=$2 p=$3 b=$4 t=() out
  [ "$device" = cpu ] && t=(--threads 1)
  out=$("$LB" decode "$dir" --device "$device" --precision "$dtype" --batch "$b" --tokens "$max_tokens" \
          --prompt "$p" "${t[@]}" 2>&1) || { say "    llmbench decode --batch $b failed: $(tail -2 <<<"$out" | tr '\n' ' ')"; return 0; }
  printf '%s\n' "$out" >>"$LOG"
  sed -n "s/^RESULT decode .* tok_s=\([0-9.]*\).*/RESULT engine_${name}_b$b tok_s=\1/p" <<<"$out" | tee -a "$RES" >>"$LOG"
}

header() {
  echo "## pgmlops LLM serving benchmark ($device)"
  echo
  echo "- commit $(cd "$here" && git rev-parse --short HEAD 2>/dev/null || echo '?')$(cd "$here" && git diff --quiet HEAD -- src sql 2>/dev/null || echo ' (src or sql modified)')${bindir:+ (the checkout; the server is the build in $bindir)}, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- CPU: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(nproc) processors, $(awk '/^MemTotal/ {printf "%d", $2 / 1048576}' /proc/meminfo) GiB memory; load average before the run: $load0"
  if [ "$device" = cuda ] && command -v nvidia-smi >/dev/null; then
    echo "- GPU: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -1)"
  fi
  echo "- PostgreSQL $(sql postgres -c 'SHOW server_version'); pgbench -M prepared, $seconds s per client count; mlops.generate(max_tokens => $max_tokens, ignore_eos), greedy"
}

load0=$(cut -d' ' -f1-3 /proc/loadavg)
{
  header
} >"$TABLE.head"
cat "$TABLE.head" >>"$LOG"

log "the fixtures' reference outputs through the worker"
check_fixtures

for i in "${!names[@]}"; do
  name=${names[$i]}
  dir=$M/${dirs[$i]}
  log "model $name (${dirs[$i]}, $dtype on $device)"
  p=$(sql bench_serve -c "SELECT cardinality(mlops.tokenize('${dirs[$i]}', '${prompt//\'/\'\'}', true))")
  kv=${kv_mb:-$(kv_need_mb "$dir" "$max_clients" $((p + max_tokens)))}
  sql bench_serve -c "SELECT mlops.register_model('$name', '${dirs[$i]}', task => 'text-generation',
                        options => jsonb_build_object('dtype', '$dtype', 'kv_cache_mb', $kv))" >/dev/null
  sql bench_serve -c "SELECT mlops.load_model('$name')" >/dev/null
  say "    prompt: $p tokens; KV cache $kv MB"

  log "warming up"
  for k in 1 2 3; do
    sql bench_serve -c "SELECT length(mlops.generate('$name', 'warm up', max_tokens => $max_tokens, options => '{\"ignore_eos\": true}'))" >/dev/null
  done
  run_pgbench "warm_$name" "$name" "$max_clients" $(( quick ? 1 : 3 )) "$max_tokens"

  log "engine: llmbench decode, batch 1"
  engine "$name" "$dir" "$p"
  for c in ${clients//,/ }; do
    [ "$c" -gt 1 ] && engine_batch "$name" "$dir" "$p" "$c"
  done

  log "fixed cost: 1 client, max_tokens 1"
  run_pgbench "${name}_short" "$name" 1 $(( seconds < 5 ? seconds : 5 )) 1

  for c in ${clients//,/ }; do
    log "$name: $c clients, $seconds s"
    trace_reset
    run_pgbench "${name}_c$c" "$name" "$c" "$seconds" "$max_tokens"
    trace_stats "${name}_c$c"
  done
  sql bench_serve -c "SELECT mlops.unload_model('$name')" >/dev/null || true
done

# --- report ----------------------------------------------------------------------
{
  cat "$TABLE.head"
  for i in "${!names[@]}"; do
    name=${names[$i]}
    tps1=$(field "pgb_${name}_c1" tps)
    echo
    echo "### $name (${dirs[$i]}, $dtype)"
    echo
    echo "| clients | calls | aggregate tok/s | vs 1 client | p50 ms | p95 ms | per-call decode tok/s | TTFT p50 ms | failed | engine batch-B decode tok/s |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    for c in ${clients//,/ }; do
      l=pgb_${name}_c$c
      tps=$(field "$l" tps)
      agg=$(awk -v t="$tps" -v n="$max_tokens" 'BEGIN { if (t != "") printf "%.1f", t * n }')
      ratio=$(awk -v a="$tps" -v b="$tps1" 'BEGIN { if (a != "" && b + 0 > 0) printf "%.2fx", a / b; else print "-" }')
      result "serve_${name}_c$c clients=$c calls=$(field "$l" calls) tok_s=${agg:-0} ratio=${ratio%x} p50_ms=$(field "$l" p50_ms) p95_ms=$(field "$l" p95_ms) decode_tok_s=$(field "trace_${name}_c$c" decode_tok_s)" >/dev/null
      echo "| $c | $(field "$l" calls) | $(fmt "$agg") | $ratio | $(fmt "$(field "$l" p50_ms)" 2) | $(fmt "$(field "$l" p95_ms)" 2) | $(fmt "$(field "trace_${name}_c$c" decode_tok_s)") | $(fmt "$(field "trace_${name}_c$c" ttft_p50_ms)" 2) | $(( $(nz "$(field "$l" failed)") + $(nz "$(field "$l" aborted)") )) | $(fmt "$( [ "$c" = 1 ] && field "engine_$name" tok_s || field "engine_${name}_b$c" tok_s)") |"
    done
    eng=$(field "engine_$name" tok_s)
    tr=$(field "trace_${name}_c1" decode_tok_s)
    inc=$(awk -v a="$(field "pgb_${name}_c1" p50_ms)" -v b="$(field "pgb_${name}_short" p50_ms)" -v n="$max_tokens" \
            'BEGIN { if (a != "" && b != "" && a - b > 0) printf "%.1f", (n - 1) / (a - b) * 1000 }')
    oh() { awk -v s="$1" -v e="$eng" 'BEGIN { if (s != "" && e + 0 > 0) printf "%.1f%%", (1 - s / e) * 100; else print "-" }'; }
    r32=$(awk -v a="$(field "pgb_${name}_c32" tps)" -v b="$tps1" 'BEGIN { if (a != "" && b + 0 > 0) printf "%.2f", a / b }')
    result "overhead_$name engine_tok_s=$eng trace_tok_s=$tr increment_tok_s=$inc overhead_trace=$(oh "$tr") overhead_increment=$(oh "$inc") ratio32=$r32" >/dev/null
    echo
    echo "- engine batch-1 decode (llmbench, same model, device and precision, prompt $(field "trace_${name}_c1" tokens_in) tokens): $(fmt "$eng") tok/s"
    echo "- one client, serving decode rate: trace $(fmt "$tr") tok/s (overhead $(oh "$tr")); increment $(fmt "$inc") tok/s (overhead $(oh "$inc")); call at max_tokens 1: p50 $(fmt "$(field "pgb_${name}_short" p50_ms)" 2) ms"
    echo "- tokens out per call: $(field "trace_${name}_c1" tokens_out_min) to $(field "trace_${name}_c1" tokens_out_max) (1 client)"
    echo "- targets: 32 clients >= 10x one client: $( [ -n "$r32" ] && echo "${r32}x" || echo "not run"); serving overhead <= 10%: $(oh "$tr") (trace)"
  done
} >"$TABLE"
rm -f "$TABLE.head"
cat "$TABLE" >>"$LOG"
grep -E '^RESULT (serve|overhead)_' "$LOG" >>"$RES" || true
echo
cat "$TABLE"
[ -n "$out" ] && cp "$TABLE" "$out"
echo
echo "(log, RESULT lines and table in $O)"
