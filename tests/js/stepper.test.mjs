// The Stepper (plain tfjs-core ops, web/src/mirror/stepper.js) computes what the numpy
// Stepper (trainer/stepper.py) computes, token by token, key row included:
// build/test-models/stepper.json (scripts/make_test_models.py) holds numpy's
// logits on the exports' weights as read back, for a v2 song (key table,
// degree logits and bar count) whose key changes midway, then has three BARs;
// the same song without the bar table, and with the key table alone (a
// format-2 export from before degree logits and the bar count); and a v1
// song. It frees what it makes and refuses weights it cannot run.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { Codec, degreeIndex } from "../../web/src/mirror/codec.js";
import { Stepper } from "../../web/src/mirror/stepper.js";
import { checkNetwork, stepperWeights } from "../../web/src/worker/verify.js";
import { decodeWeights } from "../../web/src/mirror/weights.js";

const ROOT = new URL("../..", import.meta.url).pathname;
const TEST_MODELS = join(ROOT, "build/test-models");
const CASES = JSON.parse(readFileSync(join(TEST_MODELS, "stepper.json"), "utf8")).cases;

/** The export folder's weights in Stepper order and its codec, read from disk. */
function readFolder(name) {
  const folder = join(TEST_MODELS, name);
  const json = (file) => JSON.parse(readFileSync(join(folder, file), "utf8"));
  const [config, model, codec] = [json("config.json"), json("model.json"),
    new Codec(json("vocab.json"))];
  const network = checkNetwork(model, config, Boolean(codec.ranges.KEY), codec.barId !== null);
  const weights = decodeWeights(model.weightsManifest.map((g) => ({ weights: g.weights,
    bytes: new Uint8Array(Buffer.concat(g.paths.map((p) => readFileSync(join(folder, p))))) })));
  return { weights: stepperWeights(network, weights), codec, network };
}

const maxDiff = (a, b) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

for (const { model, drop, degrees, bars, tokens, logits } of CASES) {
  test(`matches the numpy Stepper on the ${model} test model, ${drop} arrays dropped`, () => {
    const read = readFolder(model);
    const { codec, network } = read;
    const v2 = model !== "v1";
    assert.deepEqual([network.key_rows, network.degrees, network.bar_rows],
      v2 ? [25, 24, 64] : [0, 0, 0]);
    const weights = read.weights.slice(0, read.weights.length - drop);
    const stepper = Stepper.forCodec(weights, codec);
    assert.deepEqual([Boolean(stepper.degreeIndex), Boolean(stepper.barTable)], [degrees, bars]);
    const diffs = tokens.map((t, i) => maxDiff(stepper.step(t), logits[i]));
    assert.ok(Math.max(...diffs) <= 1e-5, `max |logit diff| ${Math.max(...diffs)}`);
    const carried = stepper.step(tokens[0]); // the states carry over ...
    stepper.reset(); // ... until reset
    const fresh = stepper.step(tokens[0]);
    assert.ok(maxDiff(fresh, logits[0]) <= 1e-5);
    assert.ok(maxDiff(carried, fresh) > 1e-3);
    stepper.dispose();
  });
}

test("the stepper.json cases cover degree logits, the bar count and networks without them", () => {
  assert.deepEqual(CASES.map((c) => [c.model, c.drop, c.degrees, c.bars]), [["none", 0, true, true],
    ["none", 1, true, false], ["none", 3, false, false], ["uint8-column", 0, true, true],
    ["v1", 0, false, false]]);
  const { tokens } = CASES[0];
  const { codec } = readFolder("none");
  assert.ok(tokens.filter((t) => t === codec.barId).length >= 3);
  assert.ok(tokens.filter((t) => codec.kind[t] === 3).length >= 2); // two KEYs
});

test("degree logits move only NOTE logits, and only once a KEY is read", () => {
  const { weights: all, codec } = readFolder("none");
  const { tokens } = CASES.find((c) => c.model === "none");
  const weights = all.slice(0, -1); // no bar table
  const withDegrees = Stepper.forCodec(weights, codec);
  const without = Stepper.forCodec(weights.slice(0, -2), codec);
  const diff = (song) => {
    withDegrees.reset();
    without.reset();
    const pairs = song.map((t) => [withDegrees.step(t), without.step(t)]);
    return pairs.map(([a, b]) => Array.from(a, (x, i) => x - b[i]));
  };
  const [atBos, ...afterKey] = diff(tokens.slice(0, 6));
  assert.ok(atBos.every((d) => d === 0)); // row 24: no key read yet
  const note = codec.ranges.NOTE;
  for (const row of afterKey) {
    assert.ok(row.every((d, i) => d === 0 || (i >= note.first && i < note.first + note.count)));
    assert.ok(row.some((d) => Math.abs(d) > 1e-6));
  }
  // notes a semitone apart in the song's key are different degrees; an octave apart, the same
  const last = afterKey.at(-1), c4 = codec.tokenId("NOTE", 60);
  assert.ok(Math.abs(last[c4] - last[codec.tokenId("NOTE", 72)]) < 1e-5);
  assert.ok(Math.abs(last[c4] - last[codec.tokenId("NOTE", 61)]) > 1e-6);
  withDegrees.dispose();
  without.dispose();
});

test("the bar count is the BARs read, the one read included, at most 63", () => {
  const { weights, codec } = readFolder("none");
  const stepper = Stepper.forCodec(weights, codec);
  const without = Stepper.forCodec(weights.slice(0, -1), codec);
  stepper.step(codec.bosId);
  assert.equal(stepper.bars, 0);
  stepper.step(codec.barId);
  assert.equal(stepper.bars, 1);
  for (let i = 0; i < 70; i++) stepper.step(codec.barId);
  assert.equal(stepper.bars, 63);
  stepper.reset();
  assert.equal(stepper.bars, 0);
  without.reset();
  assert.ok(maxDiff(stepper.step(codec.bosId), without.step(codec.bosId)) > 1e-6); // row 0 too
  stepper.dispose();
  without.dispose();
});

test("the key row is the song's: reading another KEY token changes what follows", () => {
  const { weights, codec } = readFolder("none");
  const { tokens } = CASES.find((c) => c.model === "none");
  assert.equal(codec.kind[tokens[1]], 3); // KEY
  const stepper = Stepper.forCodec(weights, codec);
  const run = (song) => {
    stepper.reset();
    return song.map((t) => stepper.step(t)).at(-1);
  };
  const other = codec.keyId([codec.keyOf(tokens[1])[0] + 1, "major"]);
  const next = tokens.slice(2, 6);
  assert.ok(maxDiff(run([tokens[0], tokens[1], ...next]), run([tokens[0], other, ...next])) > 1e-4);
  const noKey = new Stepper(weights.slice(0, -4)); // without key table, degrees and bar table
  noKey.reset();
  const plain = noKey.step(tokens[0]);
  stepper.reset();
  assert.ok(maxDiff(plain, stepper.step(tokens[0])) > 1e-6); // row 24 is added at BOS too
  noKey.dispose();
  stepper.dispose();
});

test("steps leave no tensor behind, and dispose frees the weights", () => {
  const { weights, codec } = readFolder("uint8-column");
  const before = tf.memory().numTensors;
  const stepper = Stepper.forCodec(weights, codec);
  const settled = tf.memory().numTensors;
  for (let t = 3; t < 200; t++) stepper.step(t % codec.size);
  stepper.reset();
  assert.equal(tf.memory().numTensors, settled);
  stepper.dispose();
  assert.equal(tf.memory().numTensors, before);
});

test("refuses weights it cannot run", () => {
  const { weights, codec } = readFolder("none");
  const keys = [codec.ranges.KEY.first, codec.ranges.KEY.count];
  const [index, bar] = [degreeIndex(codec), codec.barId];
  assert.throws(() => new Stepper(weights.slice(0, 5)), /expected embedding, 3 arrays per LSTM/);
  assert.throws(() => new Stepper(weights.slice(0, -5)), /got 8/);
  assert.throws(() => new Stepper(weights.slice(0, -3)), /condition on the key: give keyTokens/);
  // 13 arrays read as 3 LSTMs and a key table: their shapes do not chain
  assert.throws(() => new Stepper(weights, keys), /are not an embedding, LSTMs and dense in order/);
  assert.throws(() => new Stepper(weights, keys, index), /got 13/); // 11 left: no network
  assert.throws(() => new Stepper(weights, keys, null, bar), /need a key table; got none/);
  new Stepper(weights, keys, index, bar).dispose(); // what forCodec makes
  const plain = weights.slice(0, -4);
  assert.throws(() => new Stepper([...plain, ...weights.slice(-3)], null, index, bar),
    /degree logits and a bar table need a key table/);
  assert.throws(() => new Stepper(weights, keys, index.subarray(codec.size), bar),
    /degree index has 4200 entries, not 25 key rows x 175 tokens/);
  const zeros = (shape) => ({ shape, values: new Float32Array(shape.reduce((a, b) => a * b)) });
  const [rnn, width] = [weights[2].shape[0], weights[0].shape[1]];
  assert.throws(() => new Stepper([...weights.slice(0, -3), zeros([rnn, 12]), zeros([12]),
    weights.at(-1)], keys, index, bar), /are not an embedding, LSTMs and dense/); // 12 degrees
  assert.throws(() => new Stepper([...weights.slice(0, -1), zeros([32, width])], keys, index,
    bar), /are not an embedding, LSTMs and dense/); // 32 bar rows
});
