// web/src/mirror/codec.js against the Python codec: tests/vectors/codec_*.json and
// the grammar traces in generate.json (all written by scripts/make_vectors.py),
// for codec v1 and v2 vocabularies, and the degree index of v2 ones.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Codec, degreeIndex, Grammar, normalise } from "../../web/src/mirror/codec.js";

const load = (name) => JSON.parse(readFileSync(new URL(`../vectors/${name}`, import.meta.url)));
const triples = (notes) => notes.map(({ start, duration, pitch }) => [start, duration, pitch]);
const objects = (rows) => rows.map(([start, duration, pitch]) => ({ start, duration, pitch }));
const DECODE = load("codec_decode.json").codecs;
const ENCODE = load("codec_encode.json").codecs;
const CODEC = new Codec(DECODE[0].vocab);
const id = (codec, name) => codec.tokens.indexOf(name);

test("decode and decodeMeta match Python on every vector", () => {
  assert.ok(DECODE.some(({ vocab }) => vocab.params.mono));
  assert.deepEqual(DECODE.map(({ vocab }) => vocab.version), [1, 1, 2, 2, 2]);
  for (const { vocab, cases } of DECODE) {
    const codec = new Codec(vocab);
    assert.equal(codec.version, vocab.version);
    for (const c of cases) {
      assert.deepEqual(triples(codec.decode(c.ids)), c.notes, c.name);
      assert.deepEqual(codec.decodeMeta(c.ids), c.meta ?? null, c.name);
      assert.deepEqual(codec.decodeSong(c.ids).meta, c.meta ?? null, c.name);
    }
  }
});

test("degreeIndex is trainer/music/codec.py's degree_index (v2)", () => {
  const tables = DECODE.filter((c) => c.degree_index);
  assert.equal(tables.length, 3);
  for (const { vocab, degree_index: table } of tables) {
    const index = degreeIndex(new Codec(vocab));
    const rows = Array.from({ length: table.length },
      (_, k) => Array.from(index.subarray(k * vocab.size, (k + 1) * vocab.size)));
    assert.equal(index.length, 25 * vocab.size);
    assert.deepEqual(rows, table);
  }
});

test("quantiseSong, encode with meta and decodeMeta match Python (v2)", () => {
  const { songs } = load("codec_encode.json");
  assert.equal(songs.length, 2);
  for (const { vocab, cases, default_meta: defaults } of songs) {
    const codec = new Codec(vocab);
    for (const c of cases) {
      const raw = c.raw.map(([start, end, pitch]) => ({ start, end, pitch }));
      const { notes, meta, source } = codec.quantiseSong(raw, c.meters, c.file_key);
      assert.deepEqual(triples(notes), c.notes, c.name);
      assert.deepEqual(meta, c.meta, c.name);
      assert.equal(source, c.source, c.name);
      assert.deepEqual(codec.encode(notes, meta), c.ids, c.name);
      assert.deepEqual(codec.decodeMeta(c.ids), c.decoded_meta, c.name);
      assert.deepEqual(triples(codec.decode(c.ids)), c.notes, c.name);
    }
    for (const c of defaults) {
      const notes = objects(c.notes);
      assert.deepEqual(codec.defaultMeta(notes), c.meta, c.name);
      assert.deepEqual(codec.encode(notes), c.ids, c.name);
    }
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

test("pinned v2 ids, names and meta", () => {
  const v2 = new Codec(DECODE[2].vocab);
  assert.equal(v2.size, 175);
  assert.deepEqual([v2.keyId([0, "major"]), v2.keyId([2, "minor"]), v2.keyId([14, "minor"])],
    [139, 153, 153]);
  assert.deepEqual([v2.meterId([4, 4]), v2.meterId([5, 4]), v2.meterId("other"), v2.barId],
    [165, 173, 173, 174]);
  assert.deepEqual([v2.keyOf(153), v2.meterOf(168), v2.meterOf(173), v2.keyOf(42)],
    [[2, "minor"], [6, 8], "other", null]);
  assert.equal(v2.describe(153), "KEY_D_minor");
  assert.equal(v2.tokenId("NOTE", 60), 42); // v1 ids keep their values
  const noBars = new Codec(DECODE[4].vocab);
  assert.equal(noBars.barId, null);
  assert.throws(() => noBars.tokenId("BAR", 0), /no BAR tokens/);
  assert.throws(() => CODEC.keyId([0, "major"]), /no KEY tokens/);
  assert.equal(CODEC.decodeMeta([1, 42, 94]), null); // v1 songs state no meta
  const notes = [{ start: 0, duration: 4, pitch: 62 }, { start: 12, duration: 4, pitch: 65 }];
  const meta = { key: [2, "minor"], meter: [3, 4], bars: [[0, [3, 4]], [12, [2, 4]]] };
  assert.deepEqual(v2.encode(notes, meta).map((id) => v2.describe(id)),
    ["BOS", "KEY_D_minor", "METER_3_4", "BAR", "NOTE_62", "DUR_4", "SHIFT_12", "BAR",
      "METER_2_4", "NOTE_65", "DUR_4", "EOS"]);
  assert.deepEqual(v2.decodeMeta(v2.encode(notes, meta)), meta);
  assert.throws(() => v2.encode([{ start: -1, duration: 1, pitch: 60 }]), /quantise it first/);
});

test("refuses other formats and inconsistent vocabularies", () => {
  const vocab = DECODE[0].vocab;
  assert.throws(() => new Codec({ ...vocab, format: "other" }), /not a cadenza-vocab v1 or v2/);
  assert.throws(() => new Codec({ ...vocab, version: 3 }), /version 3/);
  const v2 = DECODE[2].vocab;
  assert.throws(() => new Codec({ ...v2, keys: v2.keys.slice().reverse() }), /another version/);
  assert.throws(() => new Codec({ ...v2, params: { ...v2.params, bars: false } }),
    /another version/);
  const swapped = v2.tokens.slice();
  [swapped[153], swapped[154]] = [swapped[154], swapped[153]];
  assert.throws(() => new Codec({ ...v2, tokens: swapped }), /id 153 is KEY_Eb_minor/);
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

test("grammar traces match Python (v1, and v2 with and without requests)", () => {
  const traces = load("generate.json").grammar;
  assert.ok(traces.some((t) => t.vocab.version === 2 && t.key !== null && t.meter !== null));
  for (const { vocab, key, meter, steps } of traces) {
    const codec = new Codec(vocab), grammar = new Grammar(codec, { key, meter });
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

test("grammar v2 rules: header, pickup, bar lines, meter changes, other", () => {
  const v2 = new Codec(DECODE[2].vocab);
  const named = (name) => v2.tokens.indexOf(name);
  const run = (grammar, names) => names.split(" ").forEach((n) => grammar.advance(named(n)));
  const allowed = (grammar, name) => grammar.mask()[named(name)] === 1;
  const g = new Grammar(v2, { key: named("KEY_D_minor") });
  g.advance(v2.bosId);
  assert.deepEqual([...g.mask().keys()].filter((i) => g.mask()[i]), [named("KEY_D_minor")]);
  run(g, "KEY_D_minor");
  assert.ok(allowed(g, "METER_6_8") && allowed(g, "METER_other") && !allowed(g, "EOS"));
  run(g, "METER_3_4");
  assert.ok(!allowed(g, "SHIFT_1") && allowed(g, "NOTE_60") && allowed(g, "BAR"));
  run(g, "NOTE_62 DUR_4 SHIFT_4"); // a pickup of one beat
  assert.ok(allowed(g, "BAR") && allowed(g, "SHIFT_8") && !allowed(g, "SHIFT_9")); // bar at 12
  run(g, "BAR");
  assert.ok(allowed(g, "METER_2_4") && !allowed(g, "METER_3_4") && !allowed(g, "BAR"));
  run(g, "NOTE_65 DUR_4 SHIFT_12");
  assert.deepEqual([...g.mask().keys()].filter((i) => g.mask()[i]), [v2.eosId, v2.barId]);
  const other = new Grammar(v2, { meter: named("METER_other") });
  run(other, "BOS KEY_C_major");
  assert.deepEqual([...other.mask().keys()].filter((i) => other.mask()[i]),
    [named("METER_other")]);
  run(other, "METER_other NOTE_60 DUR_4 SHIFT_16 SHIFT_16 SHIFT_3");
  assert.ok(allowed(other, "SHIFT_16") && allowed(other, "BAR"));
  run(other, "BAR");
  assert.ok(!allowed(other, "METER_4_4") && !allowed(other, "BAR")); // meter was requested
});
