// web/src/mirror/weights.js reads every storage exactly as converter/weights.py does:
// the cases of tests/vectors/weights.json (written by scripts/make_vectors.py)
// decode to the same float32 bits; the test models exported per column and by
// `--quantize auto` (build/test-models, scripts/make_test_models.py) load and
// reproduce their parity files.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import { join, normalize } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { loadComposer, softmax } from "../../web/src/worker/model.js";
import { byteSize, decodeWeights, dequantise, storageOf } from "../../web/src/mirror/weights.js";

const ROOT = new URL("../..", import.meta.url).pathname;
const VECTORS = JSON.parse(readFileSync(join(ROOT, "tests/vectors/weights.json"), "utf8"));
const TEST_MODELS = join(ROOT, "build/test-models");
const bytesOf = (hex) => Uint8Array.from(hex.match(/../g) ?? [], (b) => parseInt(b, 16));

describe("the shared weight vectors decode bit for bit", () => {
  for (const c of VECTORS.cases) {
    test(c.name, () => {
      const bytes = bytesOf(c.hex);
      assert.equal(storageOf(c.entry), c.storage);
      assert.equal(byteSize(c.entry.shape, c.storage), bytes.length);
      const { values, end } = dequantise(c.entry, bytes);
      assert.equal(end, bytes.length);
      assert.equal(values.length, c.values.length);
      values.forEach((v, i) => assert.ok(Object.is(v, c.values[i]),
        `value ${i}: ${v} vs Python's ${c.values[i]}`));
    });
  }

  test("every storage is covered", () => {
    assert.deepEqual(new Set(VECTORS.cases.map((c) => c.storage)),
      new Set(["float32", "float16", "uint8", "uint8-column"]));
  });
});

test("a code is min + q * scale in float64, rounded once to float32", () => {
  const entry = { name: "w", shape: [2, 2], dtype: "float32",
    quantization: { dtype: "uint8", per: "column", original_dtype: "float32" } };
  const bytes = new Uint8Array(8 * 2 + 4);
  const view = new DataView(bytes.buffer);
  [-1, 0.5].forEach((m, j) => view.setFloat32(4 * j, m, true)); // min per column
  [0.25, Math.fround(0.1)].forEach((s, j) => view.setFloat32(8 + 4 * j, s, true)); // scale
  bytes.set([0, 9, 4, 3], 16); // codes, C order: [[0, 9], [4, 3]]
  const { values } = dequantise(entry, bytes);
  const tenth = Math.fround(0.1);
  assert.deepEqual([...values], [-1, Math.fround(9 * tenth + 0.5), 0,
    Math.fround(3 * tenth + 0.5)]);
  assert.notEqual(values[1], Math.fround(Math.fround(9 * tenth) + 0.5)); // not float32 sums
});

test("unknown storages and short or long shards are refused, as converter/read.py does", () => {
  const f16 = { name: "w", shape: [3], dtype: "float32",
    quantization: { dtype: "float16", original_dtype: "float32" } };
  assert.throws(() => storageOf({ ...f16, quantization: { dtype: "uint16", min: 0, scale: 1 } }),
    /weight w has an unsupported storage/);
  assert.throws(() => storageOf({ ...f16, quantization: { dtype: "uint8", per: "row" } }),
    /unsupported storage/);
  assert.throws(() => storageOf({ ...f16, quantization: { dtype: "uint8" } }),
    /unsupported storage/); // per tensor needs min and scale
  assert.throws(() => decodeWeights([{ weights: [f16], bytes: new Uint8Array(5) }]),
    /weight shards hold 5 bytes, too few for w/);
  assert.throws(() => decodeWeights([{ weights: [f16], bytes: new Uint8Array(8) }]),
    /weight shards hold 8 bytes, the manifest describes 6/);
  const nan = new Uint8Array([0, 0x7e, 0, 0, 0, 0]);
  assert.throws(() => decodeWeights([{ weights: [f16], bytes: nan }]),
    /weight w holds NaN or infinite values/);
});

describe("test models stored per column and by auto load and match Keras", () => {
  let server;
  let base;
  before(async () => {
    assert.ok(existsSync(join(TEST_MODELS, "auto/model.json")),
      "build/test-models/auto is missing: run `python scripts/make_test_models.py` first");
    server = createServer((req, res) => {
      const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
      try {
        res.writeHead(200).end(readFileSync(join(TEST_MODELS, normalize(path))));
      } catch {
        res.writeHead(404).end();
      }
    });
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${server.address().port}`;
  });
  after(() => server?.close());

  for (const name of ["uint8-column", "auto"]) {
    test(name, async () => {
      const folder = join(TEST_MODELS, name);
      const config = JSON.parse(readFileSync(join(folder, "config.json"), "utf8"));
      const model = JSON.parse(readFileSync(join(folder, "model.json"), "utf8"));
      const stored = Object.fromEntries(model.weightsManifest.flatMap((g) => g.weights)
        .map((w) => [w.name, storageOf(w)]));
      assert.deepEqual(stored, config.storage.tensors); // config.json says what the shards hold
      if (name === "uint8-column") assert.ok(Object.values(stored).includes("uint8-column"));
      assert.ok(config.next_token_kl.max < 0.01 && config.weights_bytes <= 1_000_000);

      const tensors = tf.memory().numTensors;
      const parity = JSON.parse(readFileSync(join(folder, "parity.json"), "utf8"));
      const composer = await loadComposer(`${base}/${name}/`);
      composer.reset();
      let maxKl = 0;
      parity.prime.forEach((token, i) => {
        const q = softmax(composer.step(token));
        const p = parity.probabilities[i];
        let kl = 0;
        for (let j = 0; j < p.length; j++) {
          if (p[j] > 0) kl += p[j] * (Math.log(p[j]) - Math.log(Math.max(q[j], 1e-12)));
        }
        maxKl = Math.max(maxKl, kl);
      });
      composer.dispose();
      assert.ok(maxKl <= 0.01, `max KL ${maxKl}`);
      assert.equal(tf.memory().numTensors, tensors);
    });
  }
});
