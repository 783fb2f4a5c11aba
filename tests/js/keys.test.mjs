// web/src/mirror/keys.js against trainer/music/keys.py: tests/vectors/keys.json (written by
// scripts/make_vectors.py): names, spellings, Krumhansl-Schmuckler estimates, choose_key.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as K from "../../web/src/mirror/keys.js";

const KEYS = JSON.parse(readFileSync(new URL("../vectors/keys.json", import.meta.url)));
const objects = (rows) => rows.map(([start, duration, pitch]) => ({ start, duration, pitch }));

test("key and meter names are Python's, in token order", () => {
  assert.deepEqual(K.KEYS.map(K.keyName), KEYS.keys);
  assert.deepEqual(K.METER_VALUES.map(K.meterName), KEYS.meters);
  assert.equal(K.keyLabel("Eb:major"), "E♭ major");
  assert.equal(K.keyLabel([6, "minor"]), "F♯ minor");
  assert.equal(K.keyLabel("Bb:minor"), "B♭ minor");
});

test("spellings parse as in Python, errors and all", () => {
  for (const [parse, cases] of [[K.parseKey, KEYS.parse_key], [K.parseMeter, KEYS.parse_meter]]) {
    for (const c of cases) {
      if ("error" in c) {
        assert.throws(() => parse(c.text), /^Error: unknown (key|meter)/, JSON.stringify(c.text));
      } else {
        assert.deepEqual(parse(c.text), c.value, JSON.stringify(c.text));
      }
    }
  }
});

test("key estimates match Python's on every vector", () => {
  assert.deepEqual(K.estimateKey([]), KEYS.flat);
  for (const [i, c] of KEYS.estimates.entries()) {
    const notes = objects(c.notes);
    assert.deepEqual(K.pitchClassWeights(notes), c.weights, `case ${i}`);
    K.keyCorrelations(notes).forEach((r, k) =>
      assert.ok(Math.abs(r - c.correlations[k]) < 1e-12, `case ${i} key ${k}`));
    assert.deepEqual(K.estimateKey(notes), c.key, `case ${i}`);
  }
});

test("chooseKey takes the file's key only where it shares the estimate's signature", () => {
  for (const [i, c] of KEYS.choices.entries()) {
    assert.deepEqual(K.chooseKey(c.file_key, objects(c.notes)), { key: c.key, source: c.source },
      `case ${i}`);
  }
  assert.ok(K.sameSignature([9, "minor"], [0, "major"]) && !K.sameSignature([9, "major"],
    [0, "major"]));
});

test("bar lengths and token meters", () => {
  assert.equal(K.barSteps([6, 8], 4), 12);
  assert.equal(K.barSteps([5, 16], 2), null);
  assert.equal(K.barSteps(K.OTHER, 4), null);
  assert.deepEqual(K.meterTokenValue([6, 8]), [6, 8]);
  assert.equal(K.meterTokenValue([5, 4]), K.OTHER);
});
