// "Make it yours" (issue 28), the download: an adapted model becomes a standard
// export folder (web/src/adapt/export.js) zipped with fflate. The weights are
// encoded byte for byte as the converter writes them (tests/vectors/weights.json);
// unzipped, the folder holds only TF.js's manifest fields, shards of the hashes
// config.json lists, the adapted weights to quantization precision (the others the
// base's very bytes), and loads in the browser's loader, which refuses it once a
// byte is damaged. tests/test_adapted_export.py reads the same folder in Python.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { unzipSync } from "fflate";
import { encodeWeight, quantizeUint8 } from "../../web/src/adapt/encode.js";
import { exportAdapted } from "../../web/src/adapt/export.js";
import { BYTES, COLUMN_PARTS, decodeWeights, storageOf } from "../../web/src/mirror/weights.js";
import { sha256 } from "../../web/src/common/digest.js";
import { loadComposer } from "../../web/src/worker/model.js";
import { needTestModels, serveFiles } from "./fixtures.mjs";
import { adaptedExport, FOLDER, NAME, writeFolder } from "./write_adapted.mjs";

const VECTORS = JSON.parse(readFileSync(new URL("../vectors/weights.json", import.meta.url)));
const TFJS_FIELDS = ["dtype", "name", "quantization", "shape"];
const scratch = mkdtempSync(join(tmpdir(), "cadenza-adapted-"));
const http = serveFiles((path) => join(scratch, path));
const json = (bytes) => JSON.parse(new TextDecoder().decode(bytes));

before(async () => {
  needTestModels("uint8-column", "float16", "none", "v1");
  await tf.setBackend("cpu");
});
after(() => rmSync(scratch, { recursive: true, force: true }));

test("each storage is encoded as the converter writes it (tests/vectors/weights.json)", () => {
  // the float32 case of each array is the array itself: the input of its other cases
  const inputs = Object.fromEntries(VECTORS.cases.filter((c) => c.storage === "float32")
    .map((c) => [c.weight, Float32Array.from(c.values)]));
  assert.deepEqual(new Set(VECTORS.cases.map((c) => c.storage)),
    new Set(["float32", "float16", "uint8", "uint8-column"]));
  for (const c of VECTORS.cases) {
    const { entries, bytes } = encodeWeight(c.weight, { shape: c.shape,
      values: inputs[c.weight] }, c.storage);
    assert.deepEqual(entries, c.entries, c.name);
    assert.equal(Buffer.from(bytes).toString("hex"), c.hex, c.name);
  }
});

test("a uint8 code halfway between two goes to the even one, as numpy's round", () => {
  // range 0..255: scale 1, and x - min lands on halves (the vectors hold no tie)
  const { codes, min, scale } = quantizeUint8(Float32Array.of(0, 2.5, 3.5, 254.5, 255));
  assert.ok(min === 0 && scale === 1, `min ${min}, scale ${scale}`); // min -0, as numpy's nudge
  assert.deepEqual(Array.from(codes), [0, 2, 4, 254, 255]);
});

/** How far a stored value may be from the float32 one: a uint8 step (half, or a nudge's clip). */
function tolerance(entries, columnScales, weight, i, x) {
  const entry = entries.find((e) => e.name === weight);
  if (!entry) { // per column: its column's scale
    const scale = columnScales.find((e) => e.name === `${weight}/column_scale`).values;
    return scale[i % scale.length];
  }
  const kind = storageOf(entry);
  if (kind === "uint8") return entry.quantization.scale;
  return kind === "float16" ? Math.abs(x) * 2 ** -11 + 2 ** -24 : 0;
}

for (const model of ["uint8-column", "float16", "none", "v1"]) {
  describe(`the ${model} test model, adapted and zipped`, () => {
    let got;
    before(async () => { got = await adaptedExport(model); });

    test("the zip holds the folder config.json lists, and nothing else", () => {
      const { unzipped, files } = got;
      const config = json(unzipped["config.json"]);
      assert.deepEqual(Object.keys(unzipSync(got.zip)).filter((p) => !p.endsWith("/")).sort(),
        config.files.map((f) => `${FOLDER}/${f}`));
      for (const [name, bytes] of Object.entries(files)) {
        assert.deepEqual(unzipped[name], new Uint8Array(bytes), name);
      }
      assert.equal(config.name, NAME);
      assert.equal(config.type, "cadenza-lstm");
      assert.equal(config.format_version, 3);
      // what it learnt from, and the held-out figures adapting measured
      const base = json(got.baseFiles["config.json"]);
      assert.deepEqual(config.adaptation.base, { name: base.name, shards: base.shards });
      assert.deepEqual(config.adaptation.held_out_nll_per_note,
        { before: got.result.nllBefore, after: got.result.nllAfter });
      assert.deepEqual(config.adaptation.songs.held_out, got.songs.heldOut);
      assert.equal(config.adaptation.songs.skipped.length, 9);
      assert.equal(config.next_token_kl, undefined, "the base's KL is not this model's");
      // the files adapting does not touch are the base's
      for (const file of ["vocab.json", "metrics.json"]) {
        assert.deepEqual(unzipped[file], got.baseFiles[file], file);
      }
    });

    test("model.json's manifest holds TF.js's fields alone, the base's storage", () => {
      const manifest = json(got.unzipped["model.json"]).weightsManifest;
      const baseManifest = json(got.baseFiles["model.json"]).weightsManifest;
      const entries = manifest.flatMap((g) => g.weights);
      for (const entry of entries) {
        assert.ok(Object.keys(entry).every((k) => TFJS_FIELDS.includes(k)), entry.name);
        storageOf(entry); // throws for anything TF.js does not read
      }
      const float32 = json(got.unzipped["config.json"]).adaptation.stored_float32;
      assert.deepEqual(float32, {}, "these weights keep the base's storage");
      const described = (list) => list.map((e) => [e.name, e.shape, storageOf(e)]);
      assert.deepEqual(described(entries), described(baseManifest.flatMap((g) => g.weights)));
    });

    test("the shards have the listed sizes and hashes and decode to the adapted weights",
      async () => {
        const { unzipped } = got;
        const config = json(unzipped["config.json"]);
        const manifest = json(unzipped["model.json"]).weightsManifest;
        for (const [path, { bytes, sha256: hash }] of Object.entries(config.shards)) {
          assert.equal(unzipped[path].length, bytes, path);
          assert.equal(await sha256(unzipped[path]), hash, path);
        }
        const stored = decodeWeights(manifest.map((g) => ({ weights: g.weights,
          bytes: Buffer.concat(g.paths.map((p) => unzipped[p])) })));
        const entries = manifest.flatMap((g) => g.weights);
        const columnScales = perColumnScales(manifest, unzipped);
        const trained = config.adaptation.trained;
        assert.equal(trained.length, got.base.network.degrees ? 4 : 2);
        for (const [name, w] of Object.entries(got.result.weights)) {
          const values = stored[name].values;
          if (!trained.includes(name)) {
            assert.deepEqual(values, got.base.weights[name].values, `${name}: the base's`);
            continue;
          }
          assert.notDeepEqual(values, got.base.weights[name].values, `${name} was trained`);
          w.values.forEach((x, i) => {
            const limit = tolerance(entries, columnScales, name, i, x);
            assert.ok(Math.abs(values[i] - x) <= limit * (1 + 1e-6),
              `${name}[${i}]: ${values[i]} stored for ${x} (within ${limit})`);
          });
        }
      });

    test("the browser's loader reads the folder, and refuses a damaged byte", async () => {
      const slug = `${model}-intact`, damaged = `${model}-damaged`;
      writeFolder(join(scratch, slug), got.unzipped);
      const composer = await loadComposer(`${http.base}/${slug}/`); // parity.json included
      assert.equal(composer.config.name, NAME);
      composer.dispose();
      const shard = Object.keys(json(got.unzipped["config.json"]).shards)[0];
      const bytes = got.unzipped[shard].slice();
      bytes[bytes.length >> 1] ^= 0x40;
      writeFolder(join(scratch, damaged), { ...got.unzipped, [shard]: bytes });
      await assert.rejects(loadComposer(`${http.base}/${damaged}/`),
        new RegExp(`weight shard ${shard} is damaged`));
    });
  });
}

/** The column_scale entries of `manifest`, decoded: [{name, values}]. */
function perColumnScales(manifest, files) {
  const out = [];
  for (const g of manifest) {
    let at = 0;
    const bytes = Buffer.concat(g.paths.map((p) => files[p]));
    for (const e of g.weights) {
      const size = e.shape.reduce((n, d) => n * d, 1) * BYTES[storageOf(e)];
      if (e.name.endsWith(`/${COLUMN_PARTS[2]}`)) {
        out.push({ name: e.name, values: new Float32Array(bytes.buffer.slice(
          bytes.byteOffset + at, bytes.byteOffset + at + size)) });
      }
      at += size;
    }
  }
  return out;
}

test("a weight its base storage would spoil is stored as float32, and the record says so",
  async () => {
    const { baseFiles, result, songs } = await adaptedExport("uint8-column");
    // one outlier stretches the logits kernel's columns: uint8 steps of ~0.2 everywhere
    const kernel = result.weights["logits/kernel"];
    const values = kernel.values.slice();
    values.forEach((_, i) => { if (i < kernel.shape[1]) values[i] = 50 * (i % 2 ? 1 : -1); });
    const spoilt = { ...result, weights: { ...result.weights,
      "logits/kernel": { shape: kernel.shape, values } } };
    const files = await exportAdapted(baseFiles, spoilt, NAME, songs);
    const config = json(files["config.json"]);
    assert.deepEqual(Object.keys(config.adaptation.stored_float32).sort(),
      config.adaptation.trained.filter((n) => json(baseFiles["config.json"]).storage
        .tensors[n] !== "float32").sort());
    assert.equal(config.storage.tensors["logits/kernel"], "float32");
    const entries = json(files["model.json"]).weightsManifest.flatMap((g) => g.weights);
    assert.deepEqual(entries.find((e) => e.name === "logits/kernel"),
      { name: "logits/kernel", shape: kernel.shape, dtype: "float32" });
    assert.ok(config.parity.max_kl < 1e-9, `float32 is exact: KL ${config.parity.max_kl}`);
    writeFolder(join(scratch, "spoilt"), files);
    const composer = await loadComposer(`${http.base}/spoilt/`);
    composer.dispose();
  });
