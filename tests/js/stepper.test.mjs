// The Stepper (plain tfjs-core ops, web/src/stepper.js) computes what the numpy
// Stepper (trainer/stepper.py) computes, token by token, key row included:
// build/test-models/stepper.json (scripts/make_test_models.py) holds numpy's
// logits on the exports' weights as read back, for a v2 (key-conditioned)
// song whose key changes midway and for a v1 song. It frees what it makes and
// refuses weights it cannot run.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { Codec } from "../../web/src/codec.js";
import { Stepper } from "../../web/src/stepper.js";
import { checkNetwork, stepperWeights } from "../../web/src/verify.js";
import { decodeWeights } from "../../web/src/weights.js";

const ROOT = new URL("../..", import.meta.url).pathname;
const TEST_MODELS = join(ROOT, "build/test-models");
const CASES = JSON.parse(readFileSync(join(TEST_MODELS, "stepper.json"), "utf8")).cases;

/** The export folder's weights in Stepper order and its codec, read from disk. */
function readFolder(name) {
  const folder = join(TEST_MODELS, name);
  const json = (file) => JSON.parse(readFileSync(join(folder, file), "utf8"));
  const [config, model, codec] = [json("config.json"), json("model.json"),
    new Codec(json("vocab.json"))];
  const network = checkNetwork(model, config, Boolean(codec.ranges.KEY));
  const weights = decodeWeights(model.weightsManifest.map((g) => ({ weights: g.weights,
    bytes: new Uint8Array(Buffer.concat(g.paths.map((p) => readFileSync(join(folder, p))))) })));
  return { weights: stepperWeights(network, weights), codec, network };
}

const maxDiff = (a, b) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

for (const { model, tokens, logits } of CASES) {
  test(`matches the numpy Stepper on the ${model} test model`, () => {
    const { weights, codec, network } = readFolder(model);
    assert.equal(network.key_rows, model === "v1" ? 0 : 25);
    const stepper = Stepper.forCodec(weights, codec);
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
  const noKey = new Stepper(weights.slice(0, -1)); // the same network without its key table
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
  const { weights } = readFolder("none");
  assert.throws(() => new Stepper(weights.slice(0, 5)), /expected embedding, 3 arrays per LSTM/);
  assert.throws(() => new Stepper(weights.slice(0, -2)), /got 8/);
  assert.throws(() => new Stepper(weights), /condition on the key: give keyTokens/);
});
