#!/usr/bin/env node
/*
 * Hugging Face `tokenizers` throughput through its Node binding (npm
 * "tokenizers", the same Rust library as the Python package), for machines
 * without the Python package.  Measured as bench/tokbench.c does: FILE
 * encoded repeatedly for about SECONDS without special tokens, line by line
 * (one encodeBatch of all lines, so no per-call overhead is counted) and as
 * one whole text, on one thread (RAYON_NUM_THREADS=1 is set before the
 * library loads).  Prints MB/s:
 *
 *   node scripts/bench/tok_hf.js test/data/fixtures/tok-spm FILE [seconds] [lines|whole|both|ids]
 *
 * With "ids", prints the ids of each line, one output line per input line,
 * as "bench/tokbench DIR FILE 0 ids" does.  The module is looked up in
 * NODE_PATH: npm install --prefix DIR tokenizers@0.23.2, then
 * NODE_PATH=DIR/node_modules.
 */
'use strict';
process.env.RAYON_NUM_THREADS = '1';
process.env.RAYON_RS_NUM_CPUS = '1';
process.env.TOKENIZERS_PARALLELISM = 'false';

const fs = require('fs');
const path = require('path');
const { Tokenizer } = require('tokenizers');

/* Lines split at "\n" only, each keeping its "\n", empty ones dropped */
function splitLines(text) {
  const pieces = text.split('\n').map((p) => p + '\n');
  pieces[pieces.length - 1] = pieces[pieces.length - 1].slice(0, -1);
  return pieces.filter((p) => p.length > 0);
}

async function measure(tok, text, lines, seconds) {
  const pieces = lines ? splitLines(text) : [text];
  const nbytes = Buffer.byteLength(text, 'utf8');
  const opts = { addSpecialTokens: false };
  const start = process.hrtime.bigint();
  let rounds = 0;
  let tokens = 0;
  let elapsed;

  for (;;) {
    const encs = await tok.encodeBatch(pieces, opts);
    for (const e of encs) tokens += e.getIds().length;
    rounds++;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
    if (elapsed >= seconds) break;
  }
  const total = nbytes * rounds;
  console.log(`${(lines ? 'lines' : 'whole').padEnd(5)} ${(total / elapsed / 1e6).toFixed(2).padStart(8)} MB/s  ` +
    `${(tokens / elapsed / 1e6).toFixed(2).padStart(6)} Mtok/s  (${rounds} rounds, ${nbytes} bytes, ` +
    `${(tokens ? total / tokens : 0).toFixed(2)} bytes/token)`);
}

async function main() {
  const argv = process.argv.slice(2);
  if (argv.length < 2) {
    console.error('usage: tok_hf.js TOKENIZER_DIR FILE [seconds] [lines|whole|both|ids]');
    process.exit(2);
  }
  const tok = Tokenizer.fromFile(path.join(argv[0], 'tokenizer.json'));
  const text = fs.readFileSync(argv[1], 'utf8');
  const seconds = argv.length > 2 ? parseFloat(argv[2]) : 3.0;
  const mode = argv.length > 3 ? argv[3] : 'both';

  if (mode === 'ids') {
    const encs = await tok.encodeBatch(splitLines(text), { addSpecialTokens: false });
    process.stdout.write(encs.map((e) => e.getIds().join(' ')).join('\n') + '\n');
    return;
  }
  if (mode !== 'whole') await measure(tok, text, true, seconds);
  if (mode !== 'lines') await measure(tok, text, false, seconds);
}

main().catch((e) => { console.error(e.message); process.exit(1); });
