#!/usr/bin/env python3
"""
make_seeds.py
    Regenerate the fuzz seed corpora in fuzz/corpus/<target>/ from the
    committed fixtures (test/data/fixtures) plus a few hand-made inputs.

Run from the repository root: python3 fuzz/corpus/make_seeds.py
Each target's directory is emptied and rewritten, so inputs libFuzzer added
to it are dropped.  Seeds stay small (at most 64 KiB each) so that a short
smoke run gets through all of them.
"""
import json
import os
import shutil
import struct

FIX = os.environ.get("PGMLOPS_FIXTURES", "test/data/fixtures")
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)))
MAX_SEED = 64 * 1024


def target_dir(name):
    d = os.path.join(OUT, name)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    return d


def write(d, name, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    assert len(data) <= MAX_SEED, (name, len(data))
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def compact(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def load(path):
    with open(os.path.join(FIX, path), encoding="utf-8") as f:
        return json.load(f)


# ---- tokenizer: tokenizer.json files ----

def tokenizers():
    d = target_dir("tokenizer")
    for t in ["tok-gpt2", "tok-llama3", "tok-qwen2", "tok-spm", "tok-wordpiece"]:
        write(d, t + ".json", compact(load(t + "/tokenizer.json")))

    # a WordPiece vocabulary cut to its first 120 entries (specials first)
    wp = load("tok-wordpiece/tokenizer.json")
    wp["model"]["vocab"] = {k: v for k, v in wp["model"]["vocab"].items() if v < 120}
    write(d, "wordpiece-small.json", compact(wp))

    # the SentencePiece-style BPE cut to 300 ids, merges that stay inside
    spm = load("tok-spm/tokenizer.json")
    vocab = {k: v for k, v in spm["model"]["vocab"].items() if v < 300}
    merges = []
    for m in spm["model"]["merges"]:
        a, b = m if isinstance(m, list) else m.split(" ", 1)
        if a in vocab and b in vocab and a + b in vocab:
            merges.append(m)
    spm["model"]["vocab"] = vocab
    spm["model"]["merges"] = merges
    write(d, "spm-small.json", compact(spm))

    # malformed: truncated JSON, and a merge naming an unknown token
    write(d, "bad-truncated.json", compact(load("tok-gpt2/tokenizer.json"))[:700])
    bad = load("tok-gpt2/tokenizer.json")
    bad["model"]["merges"] = bad["model"]["merges"][:20] + [["\u0120zz", "unknown"]]
    write(d, "bad-merge.json", compact(bad))


# ---- chat_template: template source text ----

HAND_TEMPLATES = {
    # filters, tests, methods and global functions in one place
    "features.jinja":
        "{%- set ns = namespace(n=0, seen=[]) -%}\n"
        "{%- for m in messages if m.role != 'tool' -%}\n"
        "{%- set ns.n = ns.n + 1 -%}\n"
        "{{ loop.index }}/{{ loop.length }} {{ m.role | upper }}: "
        "{{ (m.content if m.content is string else m.content | map(attribute='type') | join(',')) | trim }} "
        "{{ m.content | string | replace('\\n', ' ') | lower | title }}\n"
        "{%- if m.tool_calls is defined %}{% for c in m.tool_calls %}"
        "{{ c.function.name }}({{ c.function.arguments | tojson }}){% endfor %}{% endif %}\n"
        "{%- endfor -%}\n"
        "{{ ns.n }} {{ range(3) | list }} {{ [3, 1, 2] | sort | reverse | list }} "
        "{{ {'b': 1, 'a': 2} | dictsort }} {{ 'a,b,,c'.split(',') }} "
        "{{ '  x  '.strip() }} {{ 'abc'.startswith(('a', 'z')) }} "
        "{{ '%s-%d' | format('v', 7) }} {{ '{}:{}'.format(1, 2) }} "
        "{{ tools | selectattr('type', 'equalto', 'function') | map(attribute='function.name') | list }} "
        "{{ strftime_now('%Y') | length }} {{ enable_thinking | default(true) }}\n"
        "{%- if add_generation_prompt %}<assistant>{% endif -%}",
    # macros, set blocks, filter blocks, slicing and loop helpers
    "macros.jinja":
        "{% macro render(m, sep='\\n') -%}\n"
        "[{{ m['role'] }}]{{ sep }}{{ m['content'] if m['content'] is string else '' }}\n"
        "{%- endmacro %}\n"
        "{%- set sys %}{{ bos_token }}{% for t in tools %}{{ t | tojson(indent=2) }}{% endfor %}{% endset -%}\n"
        "{{ sys | indent(2, true) }}\n"
        "{% for m in messages[1:] %}{{ render(m) }}{{ loop.cycle(',', ';') }}"
        "{% if loop.last %}{{ eos_token }}{% endif %}{% endfor %}\n"
        "{% filter upper %}{{ messages[-1].role }}{% endfilter %}"
        "{{ messages | length }} {{ (messages | last).content is none }}"
        "{{ 'x' * 3 }}{{ 7 // 2 }}{{ 2 ** 10 }}{{ 7 % 3 }}{{ -1 | abs }}{{ 3.7 | round(1) }}",
    # errors a template may raise on purpose
    "raise.jinja":
        "{% if messages | length > 100 %}{{ raise_exception('too many messages') }}{% endif %}"
        "{% for m in messages %}{% if (m.role == 'user') != (loop.index0 % 2 == 0) %}"
        "{{ raise_exception('roles must alternate') }}{% endif %}{% endfor %}ok",
}


def chat_templates():
    d = target_dir("chat_template")
    golden = load("chat_templates_golden.json")
    for name, entry in golden.items():
        write(d, name + ".jinja", entry["chat_template"])
    for name, text in HAND_TEMPLATES.items():
        write(d, name, text)
    write(d, "bad-unclosed.jinja", "{% for m in messages %}{{ m.content ")
    write(d, "bad-endif.jinja", "{% if true %}a{% endfor %}")


# ---- config: config.json files ----

def configs():
    d = target_dir("config")
    for m in ["llama-tiny-f32", "llama-tiny-bf16", "llama3-tiny-f32", "mistral-tiny-f32",
              "qwen2-tiny-f32", "bert-tiny-cls"]:
        write(d, m + ".json", compact(load(m + "/config.json")))
    for m in ["llama3-tiny-f32", "qwen2-tiny-f32"]:
        write(d, m + "-legacy.json", compact(load(m + "/config_legacy.json")))

    # hand-made: sliding window, several eos ids, linear rope scaling
    c = load("mistral-tiny-f32/config.json")
    c["sliding_window"] = 64
    c["eos_token_id"] = [2, 3, 7]
    c["rope_parameters"] = {"rope_type": "linear", "factor": 2.0, "rope_theta": 10000.0}
    write(d, "mistral-window.json", compact(c))

    # malformed: heads not a multiple of kv heads, a missing field, not an object
    c = load("llama-tiny-f32/config.json")
    c["num_key_value_heads"] = 3
    write(d, "bad-kv-heads.json", compact(c))
    c = load("llama-tiny-f32/config.json")
    del c["hidden_size"]
    write(d, "bad-missing.json", compact(c))
    write(d, "bad-array.json", "[1, 2, 3]")


# ---- safetensors: whole files ----

def f32(values):
    return struct.pack("<%df" % len(values), *values)


def bf16(values):
    # the top half of each float32
    return b"".join(struct.pack("<f", v)[2:] for v in values)


def f16(values):
    return struct.pack("<%de" % len(values), *values)


def safetensors(tensors, metadata=None, pad=True):
    """tensors: list of (name, dtype, shape, bytes), laid out in order"""
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    data = b""
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = compact(header).encode()
    if pad:
        h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def safetensors_seeds():
    d = target_dir("safetensors")
    write(d, "f32.safetensors", safetensors([
        ("a", "F32", [2, 3], f32([0.5, -1.0, 2.0, 3.25, -0.125, 1e-3])),
        ("b", "F32", [4], f32([1.0, 2.0, 3.0, 4.0])),
    ], {"format": "pt"}))
    write(d, "mixed.safetensors", safetensors([
        ("model.norm.weight", "F32", [4], f32([1.0, 1.0, 0.5, 2.0])),
        ("model.embed_tokens.weight", "BF16", [3, 4], bf16([0.1 * i for i in range(12)])),
        ("lm_head.weight", "F16", [2, 2], f16([1.0, -2.0, 0.25, 65504.0])),
    ], {"format": "pt"}))
    write(d, "scalar-empty.safetensors", safetensors([
        ("scale", "F32", [], f32([3.0])),
        ("empty", "BF16", [0, 4], b""),
        ("x", "F32", [1, 1, 1, 2], f32([1.0, 2.0])),
    ]))
    write(d, "metadata-only.safetensors", safetensors([], {"format": "pt", "note": "none"}))
    # malformed: data past the end, a shape that disagrees, a misaligned
    # tensor, a header length larger than the file
    ok = safetensors([("a", "F32", [2], f32([1.0, 2.0]))])
    write(d, "bad-short.safetensors", ok[:-3])
    write(d, "bad-shape.safetensors", safetensors([("a", "F32", [3], f32([1.0, 2.0]))]))
    write(d, "bad-align.safetensors",
          safetensors([("b", "BF16", [1], bf16([1.0])), ("a", "F32", [1], f32([1.0]))]))
    write(d, "bad-hlen.safetensors", struct.pack("<Q", 1 << 20) + b"{}")


if __name__ == "__main__":
    tokenizers()
    chat_templates()
    configs()
    safetensors_seeds()
