// web/src/mirror/form.js against trainer/compose/form.py: tests/vectors/form.json
// (written by scripts/make_vectors.py) holds the features and choices at every bar
// line of songs whose motifs come back, and generate() with a form head over small
// logit tables (bars repeated, under the voicing guard).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Codec } from "../../web/src/mirror/codec.js";
import { Bars, FEATURES, FormHead } from "../../web/src/mirror/form.js";
import { voicingGuard } from "../../web/src/mirror/harmony.js";
import { generate } from "../../web/src/mirror/sampler.js";

const VECTORS = JSON.parse(readFileSync(new URL("../vectors/form.json", import.meta.url)));

test("the features are Python's, by name and in order", () => {
  assert.deepEqual(FEATURES, VECTORS.features);
  assert.deepEqual(VECTORS.head.features, FEATURES);
});

test("the features and choices at every bar line are Python's", () => {
  const codec = new Codec(VECTORS.vocab);
  const head = new FormHead(VECTORS.head);
  let open = 0;
  for (const [i, c] of VECTORS.cases.entries()) {
    const bars = new Bars(codec);
    let at = 0;
    for (const token of c.tokens) {
      bars.advance(token);
      if (token !== codec.barId) continue;
      const want = c.bar_lines[at++];
      assert.equal(bars.bar, want.bar);
      assert.deepEqual(VECTORS.distances.map((k) => bars.features(k)), want.features,
        `case ${i}, bar ${want.bar}`);
      const { choice, p } = head.classes(bars);
      assert.deepEqual(choice, want.choice);
      p.forEach((q, j) => assert.ok(Math.abs(q - want.p[j]) < 1e-12, `case ${i} p ${j}`));
      open += choice.length > 1;
    }
    assert.equal(at, c.bar_lines.length);
  }
  assert.ok(open > 30, "bars can come back");
});

test("generate with a form head gives Python's tokens", () => {
  const set = VECTORS.generate;
  const codec = new Codec(set.vocab);
  const rows = set.tables;
  for (const run of set.runs) {
    const streamed = [];
    const ids = generate((id) => rows[id % rows.length], codec, run.prime, {
      maxNotes: run.max_notes, temperature: 1, seed: run.seed, key: run.key ?? null,
      meter: run.meter ?? null, constraint: voicingGuard(codec),
      form: new FormHead({ ...VECTORS.head, shift: run.shift, end: run.end }),
      onToken: (id) => streamed.push(id),
    });
    assert.deepEqual(ids, run.ids, `seed ${run.seed}`);
    assert.deepEqual(streamed, ids);
  }
});

test("a damaged form.json is refused", () => {
  const good = VECTORS.head;
  for (const bad of [null, { ...good, format: "x" }, { ...good, features: good.features.slice(1) },
    { ...good, weights: good.weights.slice(1) }, { ...good, shift: "1" }, { ...good, end: "1" },
    { ...good, end: Infinity },
    { ...good, weights: good.weights.map((r, i) => (i ? r : [...r.slice(1), NaN])) },
    { ...good, distances: good.distances.map((k) => k - 1) }]) {
    assert.throws(() => new FormHead(bad), /form.json is damaged/);
  }
});
