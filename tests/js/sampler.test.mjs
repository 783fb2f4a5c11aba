// web/src/mirror/sampler.js against trainer/compose/sampling.py: tests/vectors/sampler.json
// and generate.json (written by scripts/make_vectors.py).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Codec } from "../../web/src/mirror/codec.js";
import { candidates, generate, mulberry32, sampleToken } from "../../web/src/mirror/sampler.js";

const load = (name) => JSON.parse(readFileSync(new URL(`../vectors/${name}`, import.meta.url)));
const SAMPLER = load("sampler.json");
const GENERATE = load("generate.json");
const options = (c) => ({ temperature: c.temperature, topK: c.top_k, topP: c.top_p });

// The one-liner mulberry32 is usually quoted as; ours must equal it.
function reference(a){return function(){a|=0;a=a+0x6D2B79F5|0;let t=Math.imul(a^a>>>15,1|a);t=t+Math.imul(t^t>>>7,61|t)^t;return((t^t>>>14)>>>0)/4294967296;}}

test("mulberry32 matches Python's streams and the reference one-liner", () => {
  for (const { seed, floats } of SAMPLER.mulberry32) {
    const rng = mulberry32(seed);
    assert.deepEqual(floats.map(() => rng()), floats, `seed ${seed}`);
  }
  for (const seed of [0, 7, -123, 2 ** 31 + 5]) {
    const [ours, theirs] = [mulberry32(seed), reference(seed)];
    for (let i = 0; i < 1000; i++) assert.equal(ours(), theirs());
  }
});

test("candidates and draws match Python on every case", (t) => {
  let exact = 0, total = 0;
  for (const c of SAMPLER.cases) {
    const got = candidates(c.logits, options(c), c.mask, c.keep ?? null);
    assert.deepEqual(got.ids, c.candidates, c.name);
    got.p.forEach((p, i) => assert.ok(Math.abs(p - c.p[i]) <= 1e-12 * c.p[i], c.name));
    exact += got.p.filter((p, i) => p === c.p[i]).length;
    total += got.p.length;
    const rng = mulberry32(c.seed);
    const draws = c.draws.map(() => sampleToken(c.logits, options(c), rng, c.mask,
      c.keep ?? null));
    assert.deepEqual(draws, c.draws, c.name);
  }
  t.diagnostic(`${exact} of ${total} kept probabilities equal Python's bit for bit`);
});

test("generate matches Python on every case (v1, and v2 with key and meter requests)", () => {
  assert.ok(SAMPLER.cases.some((c) => c.keep !== undefined));
  for (const set of [GENERATE, GENERATE.v2]) {
    const codec = new Codec(set.vocab);
    for (const c of set.cases) {
      const rows = set.tables[c.table];
      const streamed = [];
      const ids = generate((id) => rows[id % rows.length], codec, c.prime, {
        ...options(c), maxNotes: c.max_notes, seed: c.seed, key: c.key ?? null,
        meter: c.meter ?? null, onToken: (id) => streamed.push(id),
      });
      assert.deepEqual(ids, c.ids, `v${codec.version} seed ${c.seed}`);
      assert.deepEqual(streamed, ids);
    }
  }
});

test("a requested key and meter are the song's", () => {
  const codec = new Codec(GENERATE.v2.vocab);
  const rows = GENERATE.v2.tables.long;
  const key = codec.keyId([2, "minor"]), meter = codec.meterId([6, 8]);
  for (const seed of [1, 2, 3]) {
    const ids = generate((id) => rows[id % rows.length], codec, [codec.bosId],
      { maxNotes: 30, temperature: 1, seed, key, meter });
    const meta = codec.decodeMeta([codec.bosId, ...ids]);
    assert.deepEqual(meta.key, [2, "minor"]);
    assert.deepEqual(meta.meter, [6, 8]);
    assert.ok(meta.bars.length > 1 && meta.bars.every(([, m]) => m.join("/") === "6/8"));
    const steps = meta.bars.map(([b]) => b);
    const bar = codec.barSteps([6, 8]); // 6 steps at 2 steps a beat
    assert.ok(steps.slice(1).every((b, i) => b - steps[i] === bar), `seed ${seed}: ${steps}`);
  }
});

test("EOS is never cut: keep appends it after top-k and top-p", () => {
  const logits = [3, 2.9, -1, 2.8, 0];
  assert.deepEqual(candidates(logits, { temperature: 1, topK: 2 }, null, 2).ids, [0, 1, 2]);
  assert.deepEqual(candidates(logits, { temperature: 1, topK: 2 }, null, 1).ids, [0, 1]);
  assert.deepEqual(candidates(logits, { temperature: 1, topK: 2 }, [1, 1, 0, 1, 1], 2).ids,
    [0, 1]);
  assert.deepEqual(candidates(logits, { temperature: 0, topK: 2 }, null, 2).ids, [0]);
  assert.equal(sampleToken(logits, { temperature: 1, topK: 1 }, () => 0.9999, null, 2), 2);
});

test("a seed fixes the song; another seed changes it", () => {
  const codec = new Codec(GENERATE.vocab);
  const rows = GENERATE.tables.long;
  const song = (seed) => generate((id) => rows[id % rows.length], codec, [codec.bosId],
    { maxNotes: 30, temperature: 1, topK: 0, topP: 1, seed });
  assert.deepEqual(song(5), song(5));
  assert.notDeepEqual(song(5), song(6));
});

test("greedy and cut-off sampling pick the argmax", () => {
  const logits = [0.5, 3, -1, 3, 2.9];
  let calls = 0;
  const rng = () => (calls++, 0.999);
  assert.equal(sampleToken(logits, { temperature: 0 }, rng), 1);
  assert.equal(calls, 0);
  assert.equal(sampleToken(logits, { temperature: 1, topK: 1 }, rng), 1);
  assert.equal(sampleToken(logits, { temperature: 1, topP: 1e-9 }, rng), 1);
  assert.equal(calls, 2);
  assert.equal(sampleToken(logits, { temperature: 0 }, rng, [1, 0, 1, 1, 1]), 3);
});

test("temperature divides the logits", () => {
  const { ids, p } = candidates([1, 0, 2], { temperature: 2 });
  const e = [Math.exp(-0.5), Math.exp(-1), 1];
  const sum = e[0] + e[1] + e[2];
  assert.deepEqual(ids, [2, 0, 1]);
  const want = [e[2], e[0], e[1]].map((x) => x / sum);
  p.forEach((x, i) => assert.ok(Math.abs(x - want[i]) < 1e-15, `p[${i}]`));
});

test("refuses impossible requests", () => {
  const rng = mulberry32(0);
  assert.throws(() => sampleToken([1, 2], { temperature: 1 }, rng, [0, 0]), /no allowed token/);
  assert.throws(() => sampleToken([NaN, 2], { temperature: 1 }, rng), /no allowed token/);
  assert.throws(() => sampleToken([1, 2], { temperature: 1 }, rng, [1]), /1 entries for 2/);
  assert.throws(() => sampleToken([1, 2], { temperature: -1 }, rng), /temperature/);
  assert.throws(() => sampleToken([1, 2], { temperature: 1, topP: 0 }, rng), /topP/);
  const codec = new Codec(GENERATE.vocab);
  assert.throws(() => generate(() => [], codec, [3], { maxNotes: 1 }), /BOS/);
  assert.throws(() => generate(() => [], codec, [1, 2], { maxNotes: 1 }), /EOS/);
});
