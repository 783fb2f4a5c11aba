// web/src/codec.js against the Python codec: tests/vectors/codec_*.json and
// the grammar traces in generate.json (all written by scripts/make_vectors.py).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Codec, Grammar, normalise } from "../../web/src/codec.js";

const load = (name) => JSON.parse(readFileSync(new URL(`../vectors/${name}`, import.meta.url)));
const triples = (notes) => notes.map(({ start, duration, pitch }) => [start, duration, pitch]);
const objects = (rows) => rows.map(([start, duration, pitch]) => ({ start, duration, pitch }));
const DECODE = load("codec_decode.json").codecs;
const ENCODE = load("codec_encode.json").codecs;
const CODEC = new Codec(DECODE[0].vocab);
const id = (codec, name) => codec.tokens.indexOf(name);

test("decode matches Python on every vector", () => {
  assert.ok(DECODE.some(({ vocab }) => vocab.params.mono));
  for (const { vocab, cases } of DECODE) {
    const codec = new Codec(vocab);
    for (const c of cases) assert.deepEqual(triples(codec.decode(c.ids)), c.notes, c.name);
  }
});

test("quantise and encode match Python, and decode inverts encode", () => {
  for (const { vocab, cases } of ENCODE) {
    const codec = new Codec(vocab);
    for (const c of cases) {
      const raw = c.raw.map(([start, end, pitch]) => ({ start, end, pitch }));
      const notes = codec.quantise(raw);
      assert.deepEqual(triples(notes), c.notes, c.name);
      assert.deepEqual(codec.encode(notes), c.ids, c.name);
      assert.deepEqual(triples(codec.decode(c.ids)), c.notes, c.name);
    }
  }
});

test("pinned ids and names", () => {
  assert.equal(CODEC.size, 139);
  assert.deepEqual([CODEC.padId, CODEC.bosId, CODEC.eosId], [0, 1, 2]);
  assert.equal(CODEC.tokenId("NOTE", 60), 42);
  assert.equal(CODEC.tokenId("DUR", 1), 91);
  assert.equal(CODEC.tokenId("SHIFT", 16), 138);
  assert.equal(CODEC.describe(42), "NOTE_60");
  assert.equal(CODEC.describe(500), "?500");
  assert.throws(() => CODEC.tokenId("NOTE", 109), /NOTE_109/);
  assert.deepEqual(triples(CODEC.decode([1, 54, 94, 42, 92, 2])), [[0, 4, 72], [0, 2, 60]]);
  assert.deepEqual(CODEC.shifts(40), [138, 138, 130]);
});

test("refuses other formats and inconsistent vocabularies", () => {
  const vocab = DECODE[0].vocab;
  assert.throws(() => new Codec({ ...vocab, format: "other" }), /not a cadenza-vocab v1/);
  assert.throws(() => new Codec({ ...vocab, version: 2 }), /version 2/);
  assert.throws(() => new Codec(undefined), /not a cadenza-vocab/);
  const tokens = vocab.tokens.slice();
  [tokens[42], tokens[43]] = [tokens[43], tokens[42]];
  assert.throws(() => new Codec({ ...vocab, tokens }), /id 42 is NOTE_61/);
  assert.throws(() => CODEC.encode([{ start: 0, duration: 40, pitch: 60 }]), /DUR_40/);
});

test("normalise is idempotent and leaves its input alone", () => {
  const input = [{ start: 4, duration: 9, pitch: 60 }, { start: 0, duration: 8, pitch: 60 },
    { start: 0, duration: 2, pitch: 64 }, { start: 0, duration: 3, pitch: 64 }];
  const copy = structuredClone(input);
  const once = normalise(input);
  assert.deepEqual(triples(once), [[0, 3, 64], [0, 4, 60], [4, 9, 60]]);
  assert.deepEqual(normalise(once), once);
  assert.deepEqual(input, copy);
  assert.deepEqual(triples(normalise(input, true)), [[0, 3, 64], [4, 9, 60]]);
});

test("grammar traces match Python", () => {
  for (const { vocab, steps } of load("generate.json").grammar) {
    const codec = new Codec(vocab), grammar = new Grammar(codec);
    for (const [i, { token, allowed, notes }] of steps.entries()) {
      grammar.advance(token);
      const mask = grammar.mask();
      const want = new Uint8Array(codec.size);
      for (const [a, b] of allowed) want.fill(1, a, b);
      assert.deepEqual(mask, want, `step ${i} (${codec.describe(token)})`);
      assert.equal(grammar.notes, notes);
    }
  }
});

test("grammar rules", () => {
  const g = new Grammar(CODEC);
  const allowed = (name) => g.mask()[id(CODEC, name)] === 1;
  g.advance(CODEC.bosId);
  assert.ok(!allowed("PAD") && !allowed("BOS") && !allowed("DUR_4"));
  assert.ok(allowed("NOTE_108") && allowed("SHIFT_1") && allowed("EOS"));
  g.advance(id(CODEC, "NOTE_60"));
  assert.ok(allowed("DUR_1") && allowed("DUR_32"));
  assert.ok(!allowed("NOTE_50") && !allowed("SHIFT_1") && !allowed("EOS"));
  g.advance(id(CODEC, "DUR_4"));
  assert.equal(g.notes, 1);
  assert.ok(allowed("NOTE_59") && !allowed("NOTE_60") && !allowed("NOTE_61") && !allowed("DUR_4"));
  g.advance(id(CODEC, "SHIFT_2"));
  assert.ok(allowed("NOTE_108"));
  assert.throws(() => g.advance(CODEC.size), /outside the vocabulary/);
  const mono = new Grammar(new Codec(DECODE[1].vocab));
  mono.advance(id(mono.codec, "NOTE_60"));
  mono.advance(id(mono.codec, "DUR_2"));
  assert.ok(!mono.mask()[id(mono.codec, "NOTE_40")] && mono.mask()[id(mono.codec, "SHIFT_1")]);
});
