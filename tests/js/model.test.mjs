// Exported models load through HTTP exactly as in the browser, reproduce the
// Keras probabilities in their parity.json, refuse foreign folders, and free
// every tensor they make. Folders: build/test-models/{none,float16,uint8} (codec
// v2, key-conditioned; export format 3) and v1 (codec v1), written by
// scripts/make_test_models.py (run by `make test` first), and the shipped
// site/models/* (whichever export format they have: 1 had a tfjs Layers
// model.json).

import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, unlinkSync,
  writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { loadComposer } from "../../web/src/worker/model.js";
import { generate } from "../../web/src/mirror/sampler.js";
import { drift, needTestModels, parityOf, ROOT, serveFiles, TEST_MODELS } from "./fixtures.mjs";

const SITE_MODELS = join(ROOT, "site/models");
const scratch = mkdtempSync(join(tmpdir(), "cadenza-js-"));

before(() => needTestModels("none"));
/** ROOT and the scratch folder (as /scratch/) over HTTP. */
const http = serveFiles((path) => (path.startsWith("/scratch/")
  ? join(scratch, path.slice(9)) : join(ROOT, path)));

describe("exported test models reproduce their parity files", () => {
  for (const quantize of ["none", "float16", "uint8", "v1", "context"]) {
    test(quantize, async () => {
      const folder = join(TEST_MODELS, quantize);
      const parity = parityOf(folder);
      assert.equal(parity.quantization, { v1: "float16", context: "none" }[quantize] ?? quantize);
      assert.ok(parity.prime.length >= 16);
      const url = `${http.base}/build/test-models/${quantize}/`;
      const { maxAbs, maxKl } = await drift(url, parity);
      if (parity.quantization === "none") assert.ok(maxAbs <= 1e-4, `max abs diff ${maxAbs}`);
      else assert.ok(maxKl <= 0.01, `max KL ${maxKl}`);
    });
  }
});

test("a codec v2 model composes in the key and meter asked for; a v1 model still plays", async () => {
  const v2 = await loadComposer(`${http.base}/build/test-models/float16/`);
  const { codec } = v2;
  assert.equal(codec.version, 2);
  assert.equal(v2.network.key_rows, 25); // the key table is loaded and used,
  assert.equal(v2.network.degrees, 24); // the degree logits
  assert.equal(v2.network.bar_rows, 64); // and the bar count
  assert.ok(v2.stepper.degreeIndex && v2.stepper.barTable);
  v2.reset();
  const ids = generate((t) => v2.step(t), codec, [codec.bosId], { maxNotes: 30,
    temperature: 1, topP: 0.95, seed: 1, key: codec.keyId([2, "minor"]),
    meter: codec.meterId([6, 8]) });
  const meta = codec.decodeMeta([codec.bosId, ...ids]);
  assert.deepEqual([meta.key, meta.meter], [[2, "minor"], [6, 8]]);
  assert.ok(meta.bars.every(([, m]) => m.join("/") === "6/8"));
  v2.dispose();
  const v1 = await loadComposer(`${http.base}/build/test-models/v1/`);
  assert.equal(v1.codec.version, 1);
  assert.deepEqual([v1.network.key_rows, v1.network.degrees, v1.network.bar_rows], [0, 0, 0]);
  v1.reset();
  const noEos = (t) => { // a tiny test model may end at once; this test wants notes
    const logits = v1.step(t);
    logits[v1.codec.eosId] = -Infinity;
    return logits;
  };
  const old = generate(noEos, v1.codec, [v1.codec.bosId], { maxNotes: 30, temperature: 1,
    topP: 0.95, seed: 1 });
  assert.ok(v1.codec.decode([v1.codec.bosId, ...old]).length > 0);
  assert.equal(v1.codec.decodeMeta(old), null);
  v1.dispose();
});

describe("shipped models reproduce their parity files", () => {
  const shipped = existsSync(SITE_MODELS)
    ? readdirSync(SITE_MODELS).filter((n) => existsSync(join(SITE_MODELS, n, "model.json"))) : [];
  for (const name of shipped) {
    test(name, async () => {
      const folder = join(SITE_MODELS, name);
      const parity = parityOf(folder);
      const { maxAbs, maxKl } = await drift(`${http.base}/site/models/${name}/`, parity);
      if (parity.quantization === "none") assert.ok(maxAbs <= 1e-4, `max abs diff ${maxAbs}`);
      else assert.ok(maxKl <= 0.01, `max KL ${maxKl}`);
    });
  }
});

test("a 500-step song leaves no tensor behind, and dispose frees the model", async () => {
  const before = tf.memory().numTensors;
  const composer = await loadComposer(`${http.base}/build/test-models/float16/`);
  composer.reset();
  composer.step(composer.codec.bosId); // states exist from the first step on
  const settled = tf.memory().numTensors;
  composer.reset();
  const noEos = (t) => { // a tiny test model may end early; this test wants 500 steps
    const logits = composer.step(t);
    logits[composer.codec.eosId] = -Infinity;
    return logits;
  };
  const ids = generate(noEos, composer.codec, [composer.codec.bosId],
    { maxNotes: 1000, maxTokens: 500, temperature: 1, topP: 0.95, seed: 3 });
  assert.equal(ids.length, 500);
  assert.equal(tf.memory().numTensors, settled);
  composer.reset();
  assert.equal(tf.memory().numTensors, settled);
  composer.dispose();
  assert.equal(tf.memory().numTensors, before);
});

test("a format-2 export from before degree logits and the bar count loads and runs", async () => {
  // build/test-models/none without its last 3 weights, as the converter wrote them before
  const folder = join(scratch, "key-table-only");
  cpSync(join(TEST_MODELS, "none"), folder, { recursive: true });
  const model = JSON.parse(readFileSync(join(folder, "model.json"), "utf8"));
  const [group] = model.weightsManifest;
  const dropped = group.weights.splice(-3);
  assert.deepEqual(dropped.map((w) => w.name), ["degree_logits/kernel", "degree_logits/bias",
    "bar_embedding/embeddings"]);
  delete model.network.degrees;
  delete model.network.bar_rows;
  writeFileSync(join(folder, "model.json"), JSON.stringify(model));
  const shard = join(folder, group.paths[0]);
  const cut = dropped.reduce((n, w) => n + 4 * w.shape.reduce((a, b) => a * b), 0); // float32
  const bytes = readFileSync(shard).subarray(0, -cut);
  writeFileSync(shard, bytes);
  const config = JSON.parse(readFileSync(join(folder, "config.json"), "utf8"));
  config.shards[group.paths[0]] = { bytes: bytes.length,
    sha256: createHash("sha256").update(bytes).digest("hex") };
  // other weights than the Keras model's of parity.json: compared with numpy's below instead
  config.files = config.files.filter((name) => name !== "parity.json");
  unlinkSync(join(folder, "parity.json"));
  writeFileSync(join(folder, "config.json"), JSON.stringify(config));
  const composer = await loadComposer(`${http.base}/scratch/key-table-only/`);
  assert.deepEqual([composer.network.key_rows, composer.network.degrees,
    composer.network.bar_rows], [25, 0, 0]);
  const { tokens, logits } = JSON.parse(readFileSync(join(TEST_MODELS, "stepper.json"), "utf8"))
    .cases.find((c) => c.model === "none" && c.drop === 3); // numpy on the same weights
  composer.reset();
  const diff = Math.max(...tokens.map((t, i) => Math.max(...Array.from(composer.step(t),
    (x, j) => Math.abs(x - logits[i][j])))));
  assert.ok(diff <= 1e-5, `max |logit diff| ${diff}`);
  composer.dispose();
});

test("the same seed gives the same song through the real model", async () => {
  const composer = await loadComposer(`${http.base}/build/test-models/none/`);
  const song = (seed) => {
    composer.reset();
    return generate((t) => composer.step(t), composer.codec, [composer.codec.bosId],
      { maxNotes: 40, temperature: 1, topP: 0.95, seed });
  };
  assert.deepEqual(song(7), song(7));
  assert.notDeepEqual(song(7), song(8));
  composer.dispose();
});

describe("foreign or damaged folders are refused with a clear message", () => {
  const variants = {
    "wrong type": (c) => ({ ...c, type: "some-other-model" }),
    "newer format": (c) => ({ ...c, format_version: 99 }),
    "vocab size": (c) => ({ ...c, vocab_size: c.vocab_size + 1 }),
  };
  const messages = {
    "wrong type": /not a Cadenza model/, "newer format": /format version 99/,
    "vocab size": /vocabulary mismatch/,
  };
  for (const [name, change] of Object.entries(variants)) {
    test(name, async () => {
      const folder = join(scratch, name.replace(" ", "-"));
      cpSync(join(TEST_MODELS, "float16"), folder, { recursive: true });
      const config = JSON.parse(readFileSync(join(folder, "config.json"), "utf8"));
      writeFileSync(join(folder, "config.json"), JSON.stringify(change(config)));
      await assert.rejects(loadComposer(`${http.base}/scratch/${name.replace(" ", "-")}/`),
        messages[name]);
    });
  }
  test("missing folder", async () => {
    await assert.rejects(loadComposer(`${http.base}/scratch/nothing-here/`), /HTTP 404/);
  });
});
