#!/usr/bin/env python3
"""
Grow a fixture tokenizer to a realistic vocabulary size by BPE training on a
corpus, so that the tokenizer benchmark (scripts/bench_tok.sh --vocab N) can
measure 32k- and 128k-token vocabularies without downloading any.

  python3 scripts/bench/bpe_grow.py test/data/fixtures/tok-llama3 CORPUS 128000 OUTDIR
  python3 scripts/bench/bpe_grow.py test/data/fixtures/tok-spm CORPUS 32000 OUTDIR --prefix-meta

OUTDIR receives tokenizer.json and tokenizer_config.json.  The normalizer,
pre-tokenizer, post-processor, decoder and added tokens are copied unchanged;
the model keeps its vocabulary (same ids) and merges, and gains new tokens with
ids counting up from the old largest id until it holds about N tokens.  The
fixtures' added tokens already lie inside the model vocabulary (ids 0..2, or
0..258 with the byte tokens), as the trainer put them there, so their ids stay
valid and nothing has to move past the new vocabulary.

Byte-level and SentencePiece-style BPE: the fixture's merges are applied to
the corpus words in order, then training goes on: the most frequent adjacent
pair is merged and appended to the merges (standard BPE, ties broken by symbol
number), until the vocabulary reaches N or no pair is left.  A merge whose
result is already a token (the same string reached by another split) is kept
and reuses that token's id, as the Hugging Face trainer does.  Training is
incremental: pair counts live in a dict, a pair -> words index says which words
to revisit, and a lazy max-heap picks the next pair, so only the words a merge
touches are rescanned (128k merges on 4 MB: about a minute).

The corpus is pre-tokenized line by line, approximately; any valid merges list
is a valid tokenizer, and the benchmark compares its ids with Hugging Face's:
  - byte-level BPE: the Split regex of the tokenizer (or GPT-2's when the
    ByteLevel pre-tokenizer splits itself) with \\p{L} and \\p{N} rewritten
    for Python's re (letters are [^\\W\\d_], numbers \\d), then the GPT-2
    byte-to-unicode mapping;
  - SentencePiece-style BPE (no pre-tokenizer, metaspace normalizer): "▁" is
    prepended and replaces spaces; words end after each run of "▁", which is
    how the fixture's own merges look ("e▁", "the▁": it was trained on whole
    docstrings), so the new merges combine with the old ones.  Characters
    outside the vocabulary (byte fallback at encode time) split words.
    With --prefix-meta the fixture's merges and multi-character tokens are
    dropped (ids above the kept ones renumbered; the added and byte tokens
    keep theirs) and words begin at each run of "▁" instead ("▁the"), as in
    Llama-2's and Mistral's vocabularies, where "▁" only starts tokens;
  - WordPiece has no merges, so its vocabulary is grown the way Hugging
    Face's WordPieceTrainer builds one: BPE training on BERT-style words
    (lower-cased, accents stripped, split at spaces and punctuation) where
    every character but a word's first carries the "##" prefix; each merge
    yields a token ("ab", "##ab") that is added if new, after the corpus
    alphabet itself.  Greedy longest-match then finds these new whole words
    and "##" continuations.
"""
import heapq
import json
import os
import re
import sys
import time
import unicodedata
from collections import Counter


def bytes_to_unicode():
    """GPT-2's byte -> printable character table"""
    bs = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
          + list(range(ord("®"), ord("ÿ") + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


GPT2_PAT = (r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+"
            r"|\s+(?!\S)|\s+")


def py_regex(pat):
    """A Hugging Face (Oniguruma) split regex, approximated for Python's re"""
    # [^X\p{L}\p{N}]: not X, not a letter, not a number
    s = re.sub(r"\[\^((?:\\.|[^\]\\])*?)\\p\{L\}\\p\{N\}\]",
               lambda m: "(?:[^" + m.group(1) + r"\w]|_)", pat)
    s = s.replace(r"\p{L}", r"[^\W\d_]").replace(r"\p{N}", r"\d")
    return re.compile(s)


def find_split_regex(pre):
    """The split pattern of a byte-level pre-tokenizer, or None"""
    if pre is None:
        return None
    if pre.get("type") == "Sequence":
        pat = None
        for p in pre["pretokenizers"]:
            if p.get("type") == "Split" and "Regex" in p.get("pattern", {}):
                pat = p["pattern"]["Regex"]
            elif p.get("type") == "ByteLevel" and p.get("use_regex", True):
                pat = GPT2_PAT
        return pat
    if pre.get("type") == "ByteLevel":
        return GPT2_PAT if pre.get("use_regex", True) else None
    if pre.get("type") == "Split":
        return pre["pattern"].get("Regex")
    return None


def is_bytelevel(pre):
    if pre is None:
        return False
    if pre.get("type") == "ByteLevel":
        return True
    return pre.get("type") == "Sequence" and any(
        p.get("type") == "ByteLevel" for p in pre["pretokenizers"])


def corpus_lines(path):
    """The lines of the corpus, each keeping its "\\n" (as the benchmark encodes them)"""
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line:
                yield line


def words_bytelevel(tj, corpus):
    pat = py_regex(find_split_regex(tj["pre_tokenizer"]) or GPT2_PAT)
    b2u = bytes_to_unicode()
    counts = Counter()
    for line in corpus_lines(corpus):
        counts.update(pat.findall(line))
    out = Counter()
    for w, c in counts.items():
        if w:
            out[tuple(b2u[b] for b in w.encode("utf-8"))] += c
    return out


def words_metaspace(tj, corpus, vocab, prefix):
    counts = Counter()
    split = re.compile(r"▁+[^▁]*|[^▁]+" if prefix else r"[^▁]*▁+|[^▁]+")
    for line in corpus_lines(corpus):
        counts.update(split.findall("▁" + line.replace(" ", "▁")))
    out = Counter()
    for w, c in counts.items():
        seg = []
        for ch in w + "\0":
            if ch in vocab:
                seg.append(ch)
            else:
                if seg:
                    out[tuple(seg)] += c
                seg = []
    return out


def words_wordpiece(tj, corpus, prefix, maxchars):
    split = re.compile(r"[^\W_]+|[^\w\s]|_")
    counts = Counter()
    for line in corpus_lines(corpus):
        s = unicodedata.normalize("NFD", line.lower())
        s = "".join(ch for ch in s if unicodedata.category(ch) != "Mn")
        counts.update(split.findall(s))
    out = Counter()
    for w, c in counts.items():
        if 0 < len(w) <= maxchars:
            out[tuple([w[0]] + [prefix + ch for ch in w[1:]])] += c
    return out


class Trainer:
    """Incremental BPE over a multiset of words (tuples of symbol strings)"""

    def __init__(self, words, join):
        self.join = join            # (left string, right string) -> merged string
        self.sym = {}               # string -> symbol number
        self.names = []             # symbol number -> string
        self.words = []             # lists of symbol numbers
        self.freq = []
        for w, c in words.items():
            self.words.append([self.symbol(s) for s in w])
            self.freq.append(c)
        self.count = Counter()      # pair key -> occurrences in the corpus
        self.where = {}             # pair key -> set of word indices (may be stale)
        for i, w in enumerate(self.words):
            f = self.freq[i]
            for a, b in zip(w, w[1:]):
                k = (a << 32) | b
                self.count[k] += f
                self.where.setdefault(k, set()).add(i)
        self.heap = [(-c, k) for k, c in self.count.items()]
        heapq.heapify(self.heap)

    def symbol(self, s):
        n = self.sym.get(s)
        if n is None:
            n = self.sym[s] = len(self.names)
            self.names.append(s)
        return n

    def merge(self, a, b):
        """Merge every occurrence of the pair (a, b); returns the new symbol"""
        k = (a << 32) | b
        c = self.symbol(self.join(self.names[a], self.names[b]))
        touched = set()
        count, where = self.count, self.where
        for i in where.pop(k, ()):
            w = self.words[i]
            n = len(w)
            j = 0
            nw = []
            changed = False
            while j < n:
                if j + 1 < n and w[j] == a and w[j + 1] == b:
                    nw.append(c)
                    j += 2
                    changed = True
                else:
                    nw.append(w[j])
                    j += 1
            if not changed:
                continue
            f = self.freq[i]
            for x, y in zip(w, w[1:]):
                count[(x << 32) | y] -= f
            for x, y in zip(nw, nw[1:]):
                kk = (x << 32) | y
                count[kk] += f
                if x == c or y == c:
                    touched.add(kk)
                    s = where.get(kk)
                    if s is None:
                        where[kk] = {i}
                    else:
                        s.add(i)
            self.words[i] = nw
        count.pop(k, None)
        for kk in touched:
            heapq.heappush(self.heap, (-count[kk], kk))
        return c

    def best(self):
        """The most frequent pair (a, b), or None"""
        heap, count = self.heap, self.count
        while heap:
            negc, k = heapq.heappop(heap)
            c = count.get(k, 0)
            if c <= 0:
                continue
            if c != -negc:
                heapq.heappush(heap, (-c, k))
                continue
            return k >> 32, k & 0xFFFFFFFF
        return None


def prefix_base(tj):
    """The vocabulary without multi-character tokens, ids renumbered in order."""
    vocab = tj["model"]["vocab"]
    added = {t["content"] for t in tj.get("added_tokens", [])}
    kept = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])
            if t in added or len(t) == 1 or re.fullmatch(r"<0x[0-9A-F]{2}>", t)]
    out = {t: i for i, t in enumerate(kept)}
    for t in tj.get("added_tokens", []):
        if out.get(t["content"]) != t["id"]:
            sys.exit("bpe_grow.py: --prefix-meta would move an added token")
    return out


def main():
    args = [a for a in sys.argv[1:] if a != "--prefix-meta"]
    prefix_meta = len(args) != len(sys.argv) - 1
    if len(args) != 4:
        print("usage: bpe_grow.py TOKENIZER_DIR CORPUS N OUTDIR [--prefix-meta]", file=sys.stderr)
        sys.exit(2)
    src, corpus, target, outdir = args[0], args[1], int(args[2]), args[3]
    with open(os.path.join(src, "tokenizer.json"), encoding="utf-8") as f:
        tj = json.load(f)
    model = tj["model"]
    vocab = model["vocab"]
    next_id = max(vocab.values()) + 1
    t0 = time.time()

    def add(tok):
        nonlocal next_id
        if tok not in vocab:
            vocab[tok] = next_id
            next_id += 1

    if prefix_meta and (model["type"] != "BPE" or tj["pre_tokenizer"] is not None):
        sys.exit("bpe_grow.py: --prefix-meta is for SentencePiece-style BPE")
    if model["type"] == "BPE":
        if is_bytelevel(tj["pre_tokenizer"]):
            words = words_bytelevel(tj, corpus)
            kind = "byte-level BPE"
        elif tj["pre_tokenizer"] is None:
            if prefix_meta:
                vocab = model["vocab"] = prefix_base(tj)
                model["merges"] = []
                next_id = max(vocab.values()) + 1
            words = words_metaspace(tj, corpus, vocab, prefix_meta)
            kind = "SentencePiece-style BPE" + (", words from each run of \u2581" if prefix_meta else "")
        else:
            sys.exit("bpe_grow.py: unsupported pre-tokenizer for BPE")
        if model.get("continuing_subword_prefix") or model.get("end_of_word_suffix"):
            sys.exit("bpe_grow.py: BPE with a subword prefix or suffix is not supported")
        merges = model["merges"]
        as_strings = bool(merges) and isinstance(merges[0], str)
        old = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in merges]
        tr = Trainer(words, lambda x, y: x + y)
        # replay the fixture's merges, then train on
        for x, y in old:
            if x in tr.sym and y in tr.sym:
                tr.merge(tr.sym[x], tr.sym[y])
        nold = len(old)
        new = []
        while len(vocab) < target:
            p = tr.best()
            if p is None:
                break
            x, y = tr.names[p[0]], tr.names[p[1]]
            if as_strings and (" " in x or " " in y):
                tr.count.pop((p[0] << 32) | p[1], None)   # not writable as "a b"
                continue
            tr.merge(*p)
            new.append((x, y))
            add(x + y)
        model["merges"] = merges + [f"{x} {y}" if as_strings else [x, y] for x, y in new]
        what = f"{nold} + {len(new)} merges"
    elif model["type"] == "WordPiece":
        prefix = model.get("continuing_subword_prefix") or "##"
        words = words_wordpiece(tj, corpus, prefix, model.get("max_input_chars_per_word", 100))
        kind = "WordPiece"
        for w in words:             # the alphabet first, as the trainer does
            for s in w:
                add(s)
        tr = Trainer(words, lambda x, y: x + (y[len(prefix):] if y.startswith(prefix) else y))
        n = 0
        while len(vocab) < target:
            p = tr.best()
            if p is None:
                break
            add(tr.names[tr.merge(*p)])
            n += 1
        what = f"{n} merges"
    else:
        sys.exit(f"bpe_grow.py: unsupported model {model['type']}")

    model["vocab"] = dict(sorted(vocab.items(), key=lambda kv: kv[1]))
    os.makedirs(outdir, exist_ok=True)
    tmp = os.path.join(outdir, "tokenizer.json.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(tj, f, ensure_ascii=False, indent=1)
    with open(os.path.join(src, "tokenizer_config.json"), encoding="utf-8") as f:
        cfg = f.read()
    with open(os.path.join(outdir, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        f.write(cfg)
    os.replace(tmp, os.path.join(outdir, "tokenizer.json"))
    print(f"bpe_grow: {src} -> {outdir}: {kind}, {len(vocab)} tokens ({what}), "
          f"{len(words)} distinct words, {time.time() - t0:.0f} s", file=sys.stderr)
    if len(vocab) < target:
        print(f"bpe_grow: no pair left below {target} tokens", file=sys.stderr)


if __name__ == "__main__":
    main()
