// t/client/test.js: pgmlops through the unchanged npm client libraries
// `pg` (node-postgres) and `pgvector`, with text and binary parameters and
// results.  Connects with the usual PG* environment variables; prints TAP
// ("ok N - name" / "not ok N - name") and exits non-zero on any failure.
// Run by t/040_client_node.pl.
'use strict';

const assert = require('node:assert/strict');
const pg = require('pg');
const pgvector = require('pgvector');
const pgvectorPg = require('pgvector/pg');
const { SparseVector } = require('pgvector');

let count = 0;
let failed = 0;

// Run one named check and print its TAP line.
async function check(name, fn) {
  count++;
  try {
    await fn();
    console.log(`ok ${count} - ${name}`);
  } catch (e) {
    failed++;
    console.log(`not ok ${count} - ${name}`);
    for (const line of String(e && e.stack ? e.stack : e).split('\n')) console.log(`# ${line}`);
  }
}

// pgvector's binary layout: int16 dim, int16 unused (0), dim x float4, big-endian.
function vectorToBinary(arr) {
  const buf = Buffer.alloc(4 + 4 * arr.length);
  buf.writeUInt16BE(arr.length, 0);
  buf.writeUInt16BE(0, 2);
  arr.forEach((v, i) => buf.writeFloatBE(v, 4 + 4 * i));
  return buf;
}

// Decode a binary vector value.
function vectorFromBinary(buf) {
  const dim = buf.readUInt16BE(0);
  assert.equal(buf.readUInt16BE(2), 0, 'unused field must be 0');
  assert.equal(buf.length, 4 + 4 * dim, 'binary vector length');
  const out = [];
  for (let i = 0; i < dim; i++) out.push(buf.readFloatBE(4 + 4 * i));
  return out;
}

// IEEE half float bits to a JavaScript number.
function halfToNumber(h) {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * Math.pow(2, -14) * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * Math.pow(2, exp - 15) * (1 + frac / 1024);
}

// A JavaScript number (exactly representable) to IEEE half float bits.
function numberToHalf(v) {
  if (v === 0) return Object.is(v, -0) ? 0x8000 : 0;
  const sign = v < 0 ? 0x8000 : 0;
  let a = Math.abs(v);
  let exp = Math.floor(Math.log2(a));
  if (exp < -14) return sign | Math.round(a / Math.pow(2, -24));
  const frac = Math.round((a / Math.pow(2, exp) - 1) * 1024);
  return sign | ((exp + 15) << 10) | frac;
}

// halfvec binary: int16 dim, int16 unused, dim x uint16 half, big-endian.
function halfvecToBinary(arr) {
  const buf = Buffer.alloc(4 + 2 * arr.length);
  buf.writeUInt16BE(arr.length, 0);
  buf.writeUInt16BE(0, 2);
  arr.forEach((v, i) => buf.writeUInt16BE(numberToHalf(v), 4 + 2 * i));
  return buf;
}

// Decode a binary halfvec value.
function halfvecFromBinary(buf) {
  const dim = buf.readUInt16BE(0);
  assert.equal(buf.readUInt16BE(2), 0, 'unused field must be 0');
  assert.equal(buf.length, 4 + 2 * dim, 'binary halfvec length');
  const out = [];
  for (let i = 0; i < dim; i++) out.push(halfToNumber(buf.readUInt16BE(4 + 2 * i)));
  return out;
}

// sparsevec binary: int32 dim, int32 nnz, int32 unused, nnz x int32 index
// (0-based), nnz x float4, big-endian.
function sparsevecToBinary(sv) {
  const nnz = sv.indices.length;
  const buf = Buffer.alloc(12 + 8 * nnz);
  buf.writeInt32BE(sv.dimensions, 0);
  buf.writeInt32BE(nnz, 4);
  buf.writeInt32BE(0, 8);
  sv.indices.forEach((ix, i) => buf.writeInt32BE(ix, 12 + 4 * i));
  sv.values.forEach((v, i) => buf.writeFloatBE(v, 12 + 4 * nnz + 4 * i));
  return buf;
}

// Decode a binary sparsevec value to {dimensions, indices, values}.
function sparsevecFromBinary(buf) {
  const dimensions = buf.readInt32BE(0);
  const nnz = buf.readInt32BE(4);
  assert.equal(buf.readInt32BE(8), 0, 'unused field must be 0');
  assert.equal(buf.length, 12 + 8 * nnz, 'binary sparsevec length');
  const indices = [];
  const values = [];
  for (let i = 0; i < nnz; i++) indices.push(buf.readInt32BE(12 + 4 * i));
  for (let i = 0; i < nnz; i++) values.push(buf.readFloatBE(12 + 4 * nnz + 4 * i));
  return { dimensions, indices, values };
}

async function main(client) {
  await client.connect();
  await client.query('SET client_min_messages = warning');
  await client.query('CREATE EXTENSION IF NOT EXISTS pgmlops');
  await client.query('DROP TABLE IF EXISTS items, half_items, sparse_items, docs');

  await check('registerTypes finds the vector types', async () => {
    await pgvectorPg.registerTypes(client);
  });

  const rows = [[1, 1, 1], [2, 2, 2], [1, 1, 2], [-0.5, 0.25, 1e-7]];

  // vector
  await check('text parameters: insert vectors with pgvector.toSql', async () => {
    await client.query('CREATE TABLE items (id serial PRIMARY KEY, embedding vector(3))');
    for (const r of rows) {
      await client.query('INSERT INTO items (embedding) VALUES ($1)', [pgvector.toSql(r)]);
    }
    const res = await client.query('SELECT count(*)::int AS n FROM items');
    assert.equal(res.rows[0].n, rows.length);
  });

  await check('text results: vectors read back through registerTypes', async () => {
    const res = await client.query('SELECT embedding FROM items ORDER BY id');
    assert.deepEqual(res.rows.map((r) => r.embedding), rows);
  });

  await check('text results: pgvector.fromSql parses the text form', async () => {
    const res = await client.query("SELECT '[1.5,2.25,3]'::vector::text AS t");
    assert.equal(res.rows[0].t, '[1.5,2.25,3]');
    assert.deepEqual(pgvector.fromSql(res.rows[0].t), [1.5, 2.25, 3]);
  });

  await check('text parameters: nearest neighbours with <->, <#>, <=> and <+>', async () => {
    const q = pgvector.toSql([1, 1, 1]);
    let res = await client.query('SELECT id FROM items ORDER BY embedding <-> $1 LIMIT 3', [q]);
    assert.deepEqual(res.rows.map((r) => r.id), [1, 3, 2]);
    res = await client.query('SELECT embedding <-> $1 AS l2, embedding <#> $1 AS ip, ' +
      'embedding <=> $1 AS cos, embedding <+> $1 AS l1 FROM items WHERE id = 2', [q]);
    assert.ok(Math.abs(res.rows[0].l2 - Math.sqrt(3)) < 1e-9);
    assert.equal(res.rows[0].ip, -6);
    assert.ok(Math.abs(res.rows[0].cos) < 1e-9);
    assert.equal(res.rows[0].l1, 3);
  });

  await check('binary parameters: a Buffer in pgvector layout is sent in binary', async () => {
    const res = await client.query(
      'INSERT INTO items (embedding) VALUES ($1) RETURNING id, embedding',
      [vectorToBinary([4, 5.5, -6])]);
    assert.deepEqual(res.rows[0].embedding, [4, 5.5, -6]);
    const nn = await client.query('SELECT id FROM items ORDER BY embedding <-> $1 LIMIT 1',
      [vectorToBinary([4, 5, -6])]);
    assert.equal(nn.rows[0].id, res.rows[0].id);
  });

  await check('binary parameters: bad input gives the pgvector errors', async () => {
    await assert.rejects(
      client.query('INSERT INTO items (embedding) VALUES ($1)', [vectorToBinary([1, 2])]),
      (e) => e.code === '22000' && e.message === 'expected 3 dimensions, not 2');
    await assert.rejects(
      client.query('SELECT $1::vector AS v', [vectorToBinary([1, NaN])]),
      (e) => e.code === '22000' && e.message === 'NaN not allowed in vector');
  });

  // node-postgres decodes every DataRow field as UTF-8 text, so its
  // `binary: true` result mode mangles bytes >= 0x80; the binary output of
  // the types is read through their send functions (bytea) instead, and
  // t/040_client_node.pl also checks COPY ... (FORMAT binary).
  await check('binary results: vector_send layout, byte for byte', async () => {
    const res = await client.query("SELECT vector_send('[1,2]'::vector) AS b");
    assert.equal(res.rows[0].b.toString('hex'), '000200003f80000040000000');
  });

  await check('binary results: stored vectors decoded from the binary form', async () => {
    const res = await client.query('SELECT vector_send(embedding) AS b FROM items WHERE id = $1', [4]);
    assert.deepEqual(vectorFromBinary(res.rows[0].b), [-0.5, 0.25, Math.fround(1e-7)]);
  });

  await check('binary parameters and binary results together', async () => {
    const res = await client.query('SELECT vector_send($1::vector + $1::vector) AS b',
      [vectorToBinary([0.5, -1, 3])]);
    assert.deepEqual(vectorFromBinary(res.rows[0].b), [1, -2, 6]);
  });

  // halfvec
  await check('halfvec: text parameters and results', async () => {
    await client.query('CREATE TABLE half_items (id serial PRIMARY KEY, embedding halfvec(3))');
    for (const r of rows) {
      await client.query('INSERT INTO half_items (embedding) VALUES ($1)', [pgvector.toSql(r)]);
    }
    const res = await client.query('SELECT embedding FROM half_items ORDER BY id');
    assert.deepEqual(res.rows[1].embedding, [2, 2, 2]);
    assert.deepEqual(res.rows[3].embedding.slice(0, 2), [-0.5, 0.25]);
    const nn = await client.query('SELECT id FROM half_items ORDER BY embedding <-> $1 LIMIT 1',
      [pgvector.toSql([2, 2, 2])]);
    assert.equal(nn.rows[0].id, 2);
  });

  await check('halfvec: binary parameters and results', async () => {
    const ins = await client.query('INSERT INTO half_items (embedding) VALUES ($1) RETURNING embedding',
      [halfvecToBinary([4, 5.5, -6])]);
    assert.deepEqual(ins.rows[0].embedding, [4, 5.5, -6]);
    const res = await client.query('SELECT halfvec_send(embedding) AS b FROM half_items WHERE id = $1', [4]);
    assert.deepEqual(halfvecFromBinary(res.rows[0].b).slice(0, 2), [-0.5, 0.25]);
    const raw = await client.query("SELECT halfvec_send('[1,-2]'::halfvec) AS b");
    assert.equal(raw.rows[0].b.toString('hex'), '000200003c00c000');
  });

  // sparsevec
  await check('sparsevec: SparseVector parameters and results', async () => {
    await client.query('CREATE TABLE sparse_items (id serial PRIMARY KEY, embedding sparsevec(5))');
    for (const r of rows) {
      await client.query('INSERT INTO sparse_items (embedding) VALUES ($1)',
        [new SparseVector([r[0], 0, r[1], 0, r[2]])]);
    }
    const res = await client.query('SELECT embedding FROM sparse_items ORDER BY id');
    const sv = res.rows[2].embedding;
    assert.ok(sv instanceof SparseVector);
    assert.equal(sv.dimensions, 5);
    assert.deepEqual(sv.indices, [0, 2, 4]);
    assert.deepEqual(sv.values, [1, 1, 2]);
    assert.deepEqual(sv.toArray(), [1, 0, 1, 0, 2]);
    const t = await client.query('SELECT $1::sparsevec::text AS t',
      [new SparseVector({ 0: 1.5, 3: 2 }, 5)]);
    assert.equal(t.rows[0].t, '{1:1.5,4:2}/5');
    const nn = await client.query('SELECT id FROM sparse_items ORDER BY embedding <-> $1 LIMIT 1',
      [new SparseVector([2, 0, 2, 0, 2])]);
    assert.equal(nn.rows[0].id, 2);
  });

  await check('sparsevec: binary parameters and results', async () => {
    const sv = new SparseVector({ 1: 2.5, 4: -1 }, 5);
    const res = await client.query('SELECT $1::sparsevec::text AS t', [sparsevecToBinary(sv)]);
    assert.equal(res.rows[0].t, '{2:2.5,5:-1}/5');
    const bin = await client.query('SELECT sparsevec_send(embedding) AS b FROM sparse_items WHERE id = $1', [4]);
    assert.deepEqual(sparsevecFromBinary(bin.rows[0].b),
      { dimensions: 5, indices: [0, 2, 4], values: [-0.5, 0.25, Math.fround(1e-7)] });
  });

  // hnsw index
  await check('hnsw index: nearest neighbours through the index with pgvector params', async () => {
    await client.query('CREATE TABLE docs (id int PRIMARY KEY, embedding vector(8))');
    await client.query(`INSERT INTO docs
        SELECT g, (SELECT array_agg(sin(g * 7 + j)::real) FROM generate_series(1, 8) j)::vector(8)
        FROM generate_series(1, 500) g`);
    await client.query('CREATE INDEX ON docs USING hnsw (embedding vector_l2_ops) WITH (m = 16, ef_construction = 64)');
    await client.query('SET enable_seqscan = off');
    try {
      const target = await client.query('SELECT embedding::text AS t FROM docs WHERE id = 123');
      const vec = pgvector.fromSql(target.rows[0].t);
      const plan = await client.query('EXPLAIN SELECT id FROM docs ORDER BY embedding <-> $1 LIMIT 5',
        [pgvector.toSql(vec)]);
      assert.match(plan.rows.map((r) => r['QUERY PLAN']).join('\n'), /Index Scan using docs_embedding_idx/);
      let res = await client.query('SELECT id FROM docs ORDER BY embedding <-> $1 LIMIT 5',
        [pgvector.toSql(vec)]);
      assert.equal(res.rows[0].id, 123);
      res = await client.query('SELECT id FROM docs ORDER BY embedding <-> $1 LIMIT 5',
        [vectorToBinary(vec)]);
      assert.equal(res.rows[0].id, 123);
    } finally {
      await client.query('RESET enable_seqscan');
    }
  });

  await client.query('DROP TABLE IF EXISTS items, half_items, sparse_items, docs');
}

const client = new pg.Client();
main(client)
  .catch((e) => {
    failed++;
    console.log(`not ok ${++count} - client session`);
    for (const line of String(e && e.stack ? e.stack : e).split('\n')) console.log(`# ${line}`);
  })
  .finally(async () => {
    await client.end().catch(() => {});
    console.log(`1..${count}`);
    process.exitCode = failed ? 1 : 0;
  });
