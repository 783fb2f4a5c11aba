// web/src/mirror/weights.js reads every storage exactly as converter/weights.py does:
// the cases of tests/vectors/weights.json (written by scripts/make_vectors.py with
// the tensorflowjs package's quantisation) decode with tfjs-core's
// tf.io.decodeWeights to the same float32 bits; the test models exported per column and by
// `--quantize auto` (build/test-models, scripts/make_test_models.py) load and
// reproduce their parity files.

import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { assemble, COLUMN_PARTS, decodeWeights, storageOf } from "../../web/src/mirror/weights.js";
import { drift, needTestModels, parityOf, ROOT, serveFiles, TEST_MODELS } from "./fixtures.mjs";

const VECTORS = JSON.parse(readFileSync(join(ROOT, "tests/vectors/weights.json"), "utf8"));
const bytesOf = (hex) => Uint8Array.from(hex.match(/../g) ?? [], (b) => parseInt(b, 16));

describe("tfjs-core's tf.io.decodeWeights decodes the shared weight vectors bit for bit", () => {
  for (const c of VECTORS.cases) {
    test(c.name, () => {
      const bytes = bytesOf(c.hex);
      for (const e of c.entries) { // TF.js's fields alone
        assert.ok(Object.keys(e).every((k) => ["name", "shape", "dtype", "quantization"]
          .includes(k)), JSON.stringify(e));
        assert.ok(Object.keys(e.quantization ?? {}).every((k) => ["dtype", "min", "scale",
          "original_dtype"].includes(k)), JSON.stringify(e));
      }
      assert.deepEqual(stored([{ weights: c.entries }]), { [c.weight]: c.storage });
      const { values, shape } = decodeWeights([{ weights: c.entries, bytes }])[c.weight];
      assert.deepEqual(shape, c.shape);
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

/** Each weight's storage as a manifest stores it (three entries: per column). */
function stored(manifest) {
  const out = {};
  for (const e of manifest.flatMap((g) => g.weights)) {
    const cut = e.name.lastIndexOf("/");
    if (COLUMN_PARTS.includes(e.name.slice(cut + 1))) out[e.name.slice(0, cut)] = "uint8-column";
    else out[e.name] = storageOf(e);
  }
  return out;
}

test("a column is min + q * scale in float64, rounded once to float32", () => {
  const tenth = Math.fround(0.1);
  const w = assemble([["w/codes", { shape: [2, 2], values: Float32Array.of(0, 9, 4, 3) }],
    ["w/column_min", { shape: [2], values: Float32Array.of(-1, 0.5) }],
    ["w/column_scale", { shape: [2], values: Float32Array.of(0.25, tenth) }]]).w;
  assert.deepEqual([...w.values], [-1, Math.fround(9 * tenth + 0.5), 0,
    Math.fround(3 * tenth + 0.5)]);
  assert.notEqual(w.values[1], Math.fround(Math.fround(9 * tenth) + 0.5)); // not float32 sums
  const zeros = (shape) => ({ shape, values: new Float32Array(shape.reduce((a, b) => a * b)) });
  assert.throws(() => assemble([["w/codes", zeros([2, 2])], ["w/column_min", zeros([2])]]),
    /weight w is stored per column but the manifest lacks \['w\/column_scale'\]/);
  assert.throws(() => assemble([["w/codes", zeros([2, 2])], ["w/column_min", zeros([3])],
    ["w/column_scale", zeros([2])]]), /column_min and column_scale have shapes \[3\] and/);
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
    /weight w decodes to NaN or infinite values: the shard does not hold what model.json/);
});

describe("test models stored per column and by auto load and match Keras", () => {
  before(() => needTestModels("auto", "uint8-column"));
  const http = serveFiles((path) => join(TEST_MODELS, path));

  for (const name of ["uint8-column", "auto"]) {
    test(name, async () => {
      const folder = join(TEST_MODELS, name);
      const config = JSON.parse(readFileSync(join(folder, "config.json"), "utf8"));
      const model = JSON.parse(readFileSync(join(folder, "model.json"), "utf8"));
      const storage = stored(model.weightsManifest);
      assert.deepEqual(storage, config.storage.tensors); // config.json says what the shards hold
      if (name === "uint8-column") assert.ok(Object.values(storage).includes("uint8-column"));
      assert.ok(config.next_token_kl.max < 0.01 && config.weights_bytes <= 1_000_000);

      const tensors = tf.memory().numTensors;
      const { maxKl } = await drift(`${http.base}/${name}/`, parityOf(folder));
      assert.ok(maxKl <= 0.01, `max KL ${maxKl}`);
      assert.equal(tf.memory().numTensors, tensors);
    });
  }
});

describe("tf.io.decodeWeights in node decodes every export to the Python reader's floats", () => {
  // converter/read.py weight_digests: SHA-256 of each weight's float32 bytes
  const digest = (values) => createHash("sha256")
    .update(Buffer.from(values.buffer, values.byteOffset, values.byteLength)).digest("hex");
  const decodeFolder = (folder) => {
    const model = JSON.parse(readFileSync(join(folder, "model.json"), "utf8"));
    for (const e of model.weightsManifest.flatMap((g) => g.weights)) { // TF.js's fields alone
      assert.ok(Object.keys(e).every((k) => ["name", "shape", "dtype", "quantization"]
        .includes(k)) && Object.keys(e.quantization ?? {}).every((k) => ["dtype", "min",
        "scale", "original_dtype"].includes(k)), JSON.stringify(e));
    }
    return decodeWeights(model.weightsManifest.map((g) => ({ weights: g.weights,
      bytes: new Uint8Array(Buffer.concat(g.paths.map((p) => readFileSync(join(folder, p))))) })));
  };
  const check = (folder, want) => {
    const got = decodeFolder(folder);
    assert.deepEqual(Object.keys(got), Object.keys(want));
    for (const [name, { values }] of Object.entries(got)) {
      assert.equal(digest(values), want[name], `${folder}: ${name}`);
    }
  };
  const shipped = JSON.parse(readFileSync(join(ROOT, "tests/vectors/shipped_weights.json"),
    "utf8")).models;
  for (const name of Object.keys(shipped)) {
    test(`shipped: ${name}`, () => check(join(ROOT, "site/models", name), shipped[name]));
  }
  test("every test model a fresh `python -m converter` wrote", () => {
    needTestModels("none", "v1", "context");
    const fresh = JSON.parse(readFileSync(join(TEST_MODELS, "decoded.json"), "utf8"));
    assert.ok(Object.keys(fresh).length >= 7);
    for (const [name, want] of Object.entries(fresh)) check(join(TEST_MODELS, name), want);
  });
});
