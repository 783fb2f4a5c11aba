// The Stepper (plain tfjs ops, web/src/stepper.js) computes what the exported
// tfjs-layers model's own predict() computes, token by token, frees what it
// makes, and refuses networks it does not implement.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { Stepper } from "../../web/src/stepper.js";

const ROOT = new URL("../..", import.meta.url).pathname;

/** The export folder's layers model, read from disk (no server needed). */
async function loadFolder(name) {
  const folder = join(ROOT, "build/test-models", name);
  const json = JSON.parse(readFileSync(join(folder, "model.json"), "utf8"));
  const shards = json.weightsManifest.flatMap((g) => g.paths)
    .map((p) => readFileSync(join(folder, p)));
  const data = Buffer.concat(shards);
  return tf.loadLayersModel(tf.io.fromMemory({
    modelTopology: json.modelTopology, weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
    weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength),
  }));
}

function layersStep(model, token) {
  const out = tf.tidy(() => model.predict(tf.tensor2d([[token]], [1, 1], "int32")));
  const logits = out.dataSync();
  out.dispose();
  return logits;
}

for (const quantize of ["none", "float16", "uint8"]) {
  test(`matches predict() of the ${quantize} test model`, async () => {
    const model = await loadFolder(quantize);
    const { prime } = JSON.parse(readFileSync(
      join(ROOT, "build/test-models", quantize, "parity.json"), "utf8"));
    const stepper = new Stepper(model);
    const song = [...prime, ...prime.slice(1)]; // long enough for the states to matter
    model.resetStates();
    const diff = (a, b) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
    const maxDiff = Math.max(...song.map((t) => diff(layersStep(model, t), stepper.step(t))));
    assert.ok(maxDiff <= 1e-5, `max |logit diff| ${maxDiff}`);
    const carried = stepper.step(prime[0]); // the states carry over ...
    stepper.reset(); // ... until reset
    const fresh = stepper.step(prime[0]);
    model.resetStates();
    assert.ok(diff(fresh, layersStep(model, prime[0])) <= 1e-5);
    assert.ok(diff(carried, fresh) > 1e-3);
    stepper.disposeStates();
    model.dispose();
  });
}

test("steps leave no tensor behind", async () => {
  const model = await loadFolder("float16");
  const stepper = new Stepper(model);
  const settled = tf.memory().numTensors;
  for (let t = 3; t < 200; t++) stepper.step(t % 139);
  stepper.reset();
  assert.equal(tf.memory().numTensors, settled);
  stepper.disposeStates();
  assert.equal(tf.memory().numTensors, settled - 2 * model.layers.filter(
    (l) => l.getClassName() === "LSTM").length);
  model.dispose();
});

test("refuses a network it does not implement", () => {
  const gru = tf.sequential({ layers: [
    tf.layers.embedding({ inputDim: 10, outputDim: 4, batchInputShape: [1, 1] }),
    tf.layers.gru({ units: 3, returnSequences: true }),
    tf.layers.dense({ units: 10 }),
  ] });
  assert.throws(() => new Stepper(gru), /unsupported network \(Embedding, GRU, Dense\)/);
  const hard = tf.sequential({ layers: [
    tf.layers.embedding({ inputDim: 10, outputDim: 4, batchInputShape: [1, 1] }),
    tf.layers.lstm({ units: 3, returnSequences: true }), // tfjs default: hardSigmoid gates
    tf.layers.dense({ units: 10 }),
  ] });
  assert.throws(() => new Stepper(hard), /unsupported network/);
  gru.dispose();
  hard.dispose();
});
