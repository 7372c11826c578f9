#!/usr/bin/env python3
"""The PyTorch + transformers baseline of the LLM benchmark (GPU machine).

Loads the model folders that `llmbench make-model` wrote and times the same
cases as llmbench, printing RESULT lines in the same format (impl=hf):

  decode   greedy generate() from random prompt ids, min_new_tokens =
           max_new_tokens = N; decode tok/s = B * (N - 1) / (t(N) - t(1)),
           so the prompt and the first token are not counted, as llmbench
           counts only decode steps
  prefill  one forward pass over T tokens of one sequence (logits of the
           last position only where transformers supports it)
  encode   AutoModel in fp16, B sequences of S random tokens, mean pooling
           over the attention mask and L2 normalisation, sequences/s

Decoders run in bf16 with attn_implementation="eager" (the issue's
baseline); the encoder runs with eager and with sdpa attention.  Every
timing is bracketed by torch.cuda.synchronize() after a warm-up.

  python3 hf_llm_baseline.py --llama /tmp/llmbench/llama-1b \
      --minilm /tmp/llmbench/minilm [--tokens 128] [--prompt 16] \
      [--batches 1,64] [--prefill 2048] [--enc-batch 256] [--enc-seq 128]
"""
import argparse
import statistics
import sys
import time

import torch
import transformers
from transformers import AutoModel, AutoModelForCausalLM


def dtype_kwargs(dtype):
    """transformers >= 4.56 calls the argument dtype, older ones torch_dtype."""
    major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
    if (major, minor) >= (4, 56):
        return {"dtype": dtype}
    return {"torch_dtype": dtype}


def timed(fn):
    """Seconds that fn() takes on the GPU, synchronized on both sides."""
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    fn()
    torch.cuda.synchronize()
    return time.perf_counter() - t0


def guarded(name, fn, *args):
    """Run one case; a failure is reported and the other cases still run."""
    try:
        fn(*args)
        return 0
    except Exception as e:  # noqa: BLE001 - report any failure and go on
        print(f"ERROR {name}: {type(e).__name__}: {e}", flush=True)
        return 1


def result(case, **kv):
    fields = " ".join(f"{k}={v}" for k, v in kv.items())
    print(f"RESULT {case} impl=hf device=cuda {fields}", flush=True)


def bench_decode(model, vocab, batch, tokens, prompt, gen):
    ids = torch.randint(0, vocab, (batch, prompt), generator=gen).cuda()
    mask = torch.ones_like(ids)
    pad = model.config.eos_token_id
    if isinstance(pad, list):
        pad = pad[0]

    def run(n):
        out = model.generate(input_ids=ids, attention_mask=mask, do_sample=False,
                             max_new_tokens=n, min_new_tokens=n,
                             pad_token_id=pad, use_cache=True)
        assert out.shape[1] == prompt + n, out.shape
        return out

    run(4)                                  # warm-up
    t1 = timed(lambda: run(1))
    tn = timed(lambda: run(tokens))
    tok_s = batch * (tokens - 1) / (tn - t1)
    result("decode", precision="bf16", attn="eager", batch=batch, tokens=tokens,
           prompt=prompt, tok_s=f"{tok_s:.1f}",
           ms_per_step=f"{1e3 * (tn - t1) / (tokens - 1):.3f}",
           generate_tok_s=f"{batch * tokens / tn:.1f}")


def bench_prefill(model, vocab, tokens, repeat, gen):
    ids = torch.randint(0, vocab, (1, tokens), generator=gen).cuda()

    def run():
        try:
            model(input_ids=ids, use_cache=True, logits_to_keep=1)
        except TypeError:
            model(input_ids=ids, use_cache=True)

    run()                                   # warm-up
    times = [timed(run) for _ in range(repeat)]
    best = min(times)
    result("prefill", precision="bf16", attn="eager", batch=1, tokens=tokens,
           tok_s=f"{tokens / best:.1f}",
           tok_s_median=f"{tokens / statistics.median(times):.1f}",
           ms=f"{1e3 * best:.3f}", repeat=repeat)


def bench_encode(path, batch, seq, repeat, gen, attn):
    model = AutoModel.from_pretrained(path, attn_implementation=attn,
                                      **dtype_kwargs(torch.float16)).cuda().eval()
    vocab = model.config.vocab_size
    ids = torch.randint(min(1000, vocab - 1), vocab, (batch, seq), generator=gen).cuda()
    mask = torch.ones_like(ids)
    out = {}

    def run():
        hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
        m = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
        out["emb"] = torch.nn.functional.normalize(pooled.float(), p=2, dim=1)

    with torch.inference_mode():
        run()                               # warm-up
        run()
        times = [timed(run) for _ in range(repeat)]
    best = min(times)
    norm0 = out["emb"][0].norm().item()
    result("encode", precision="fp16", attn=attn, batch=batch, seq=seq,
           seq_s=f"{batch / best:.1f}",
           seq_s_median=f"{batch / statistics.median(times):.1f}",
           tok_s=f"{batch * seq / best:.1f}", ms=f"{1e3 * best:.3f}",
           repeat=repeat, norm0=f"{norm0:.4f}")
    del model
    torch.cuda.empty_cache()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--llama", help="decoder model folder (llmbench make-model)")
    ap.add_argument("--minilm", help="encoder model folder (llmbench make-model)")
    ap.add_argument("--tokens", type=int, default=128, help="decode steps")
    ap.add_argument("--prompt", type=int, default=16, help="prompt tokens per sequence")
    ap.add_argument("--batches", default="1,64", help="decode batch sizes")
    ap.add_argument("--prefill", type=int, default=2048, help="prefill tokens (0: skip)")
    ap.add_argument("--enc-batch", type=int, default=256)
    ap.add_argument("--enc-seq", type=int, default=128)
    ap.add_argument("--enc-attn", default="eager,sdpa", help="encoder attention implementations")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()

    if not torch.cuda.is_available():
        print("hf_llm_baseline: no CUDA device", file=sys.stderr)
        return 1
    torch.backends.cuda.matmul.allow_tf32 = False
    gen = torch.Generator().manual_seed(args.seed)
    print(f"INFO torch {torch.__version__} transformers {transformers.__version__} "
          f"on {torch.cuda.get_device_name(0)}", flush=True)

    failures = 0
    if args.llama:
        t0 = time.perf_counter()
        model = AutoModelForCausalLM.from_pretrained(
            args.llama, attn_implementation="eager",
            **dtype_kwargs(torch.bfloat16)).cuda().eval()
        print(f"INFO {args.llama}: loaded in {time.perf_counter() - t0:.1f} s", flush=True)
        vocab = model.config.vocab_size
        with torch.inference_mode():
            for b in (int(x) for x in args.batches.split(",") if x):
                failures += guarded(f"decode batch {b}", bench_decode, model, vocab, b,
                                    args.tokens, args.prompt, gen)
            if args.prefill > 0:
                failures += guarded("prefill", bench_prefill, model, vocab, args.prefill,
                                    args.repeat, gen)
        del model
        torch.cuda.empty_cache()

    if args.minilm:
        for attn in (a for a in args.enc_attn.split(",") if a):
            failures += guarded(f"encode {attn}", bench_encode, args.minilm, args.enc_batch,
                                args.enc_seq, args.repeat, gen, attn)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
