// An adapted model as a standard export folder (format 3); zip.js makes the .zip of it.
//
// The folder is the base export's, with the adapted weights: what the browser's
// loader (web/src/worker/model.js), `python -m converter`'s reader
// (converter/read.py read_export) and `python -m trainer sample --run-dir` read.
// Each weight keeps the storage the base gave it (web/src/adapt/encode.js writes the
// converter's bytes); a weight adapting left as it was keeps the base's very bytes.
// parity.json holds the next-token probabilities of the float32 adapted weights,
// computed by the Stepper, over the base's parity prime: the reference the readers
// hold the stored weights to, as the converter holds an export to Keras. Where the
// base's storage of the adapted weights drifts from that reference by more than
// MAX_KL (a uint8 range stretched by training), those weights are stored as float32
// instead, and config.json's adaptation record says so.
// No DOM: this runs in a Web Worker and in node; a tfjs backend must be registered.

import { sha256 } from "../common/digest.js";
import { concat } from "../common/bytes.js";
import { Codec } from "../mirror/codec.js";
import { checkNetwork } from "../mirror/network.js";
import { Stepper } from "../mirror/stepper.js";
import { drift, MAX_KL, softmax } from "../mirror/storage.js";
import { BYTES, decodeWeights, storageOf } from "../mirror/weights.js";
import { encodeWeight, splitName, storages } from "./encode.js";

/** tfjs-converter's shard size, as converter/weights.py SHARD_BYTES. */
export const SHARD_BYTES = 4 * 1024 * 1024;
/** The files written here rather than copied from the base. */
const WRITTEN = new Set(["config.json", "model.json", "parity.json"]);

/**
 * The files of the adapted model's export folder, {name: Uint8Array}.
 * @param baseFiles the base export folder's files {name: Uint8Array}: every file
 *   its config.json lists, shards included
 * @param result adapt()'s result (web/src/adapt/adapt.js): weights by name,
 *   nllBefore, nllAfter, history, bestEpoch, stopped
 * @param name the adapted model's name (config.json's `name`)
 * @param songs the files it learnt from, {train: [names], heldOut: [names],
 *   skipped: [{name, reason}]}
 */
export async function exportAdapted(baseFiles, result, name, songs) {
  const json = (file) => JSON.parse(new TextDecoder().decode(baseFiles[file]));
  const config = json("config.json");
  for (const file of config.files ?? []) {
    if (!(file in baseFiles)) throw new Error(`the base model's ${file} is missing`);
  }
  if (!(config.files ?? []).includes("parity.json")) {
    throw new Error("the base model has no parity.json, whose prime the adapted one's is");
  }
  const [model, codec, { prime }] = [json("model.json"), new Codec(json("vocab.json")),
    json("parity.json")];
  const network = checkNetwork(model, config, Boolean(codec.ranges.KEY), codec.barId !== null);
  const reference = probabilities(result.weights, network, codec, prime);
  const stored = storeWeights(model.weightsManifest, baseFiles, result.weights,
    (written) => parity(written, network, codec, prime, reference));

  const out = {};
  for (const file of config.files) {
    if (!WRITTEN.has(file) && !(file in config.shards)) out[file] = baseFiles[file];
  }
  const { manifest, shards } = await shardFiles(stored.written, out);
  const encode = (value) => new TextEncoder().encode(JSON.stringify(value, null, 1));
  out["model.json"] = encode({ ...model, weightsManifest: manifest });
  out["parity.json"] = encode({ prime, quantization: config.quantization,
    probabilities: reference.map((p) => Array.from(p)) });
  const tensors = { ...config.storage?.tensors };
  for (const n of Object.keys(stored.float32)) tensors[n] = "float32";
  const adapted = { ...config, name,
    files: [...Object.keys(out), "config.json"].sort(),
    shards,
    weights_bytes: Object.values(shards).reduce((n, s) => n + s.bytes, 0),
    storage: { ...config.storage, tensors },
    parity: { steps: prime.length, ...stored.drift },
    adaptation: record(config, result, songs, stored.changed, stored.float32) };
  // the base's KL against Keras describes the base's weights, not these (parity does)
  delete adapted.next_token_kl;
  out["config.json"] = encode(adapted);
  return out;
}

/**
 * The weight groups to write, {written: [{entries, bytes}], changed, float32, drift}:
 * the weights that differ from the base's (`changed`) in the base's storage, or all
 * of them as float32 where that storage drifts beyond MAX_KL (`float32`: name ->
 * the storage given up); drift is measure(written), {max_abs_diff, max_kl}.
 */
function storeWeights(manifest, baseFiles, weights, measure) {
  const groups = manifest.map((g) => ({ weights: g.weights,
    bytes: concat(g.paths.map((p) => baseFiles[p])) }));
  const base = decodeWeights(groups);
  const names = (w) => JSON.stringify(Object.keys(w).sort());
  if (names(base) !== names(weights)) {
    throw new Error(`the adapted weights ${names(weights)} are not the base's ${names(base)}`);
  }
  const changed = Object.keys(base).filter((n) => !sameWeight(base[n], weights[n]));
  const storage = storages(manifest);
  let written = encodeGroups(groups, weights, changed, storage);
  let drift = measure(written);
  const float32 = {};
  if (!(drift.max_kl <= MAX_KL)) {
    for (const n of changed) if (storage[n] !== "float32") float32[n] = storage[n];
    written = encodeGroups(groups, weights, changed, { ...storage,
      ...Object.fromEntries(Object.keys(float32).map((n) => [n, "float32"])) });
    drift = measure(written);
  }
  return { written, changed, float32, drift };
}

/**
 * Each group's bytes cut into shards of SHARD_BYTES, named as tfjs-converter names
 * them, added to `out`; resolves {manifest, shards}: model.json's weightsManifest and
 * config.json's shards (each shard's bytes and SHA-256).
 */
async function shardFiles(written, out) {
  const manifest = [], shards = {};
  for (const [g, { entries, bytes }] of written.entries()) {
    const count = Math.max(1, Math.ceil(bytes.length / SHARD_BYTES)), paths = [];
    for (let i = 0; i < count; i++) {
      const path = `group${g + 1}-shard${i + 1}of${count}.bin`;
      out[path] = bytes.subarray(i * SHARD_BYTES, (i + 1) * SHARD_BYTES);
      shards[path] = { bytes: out[path].length, sha256: await sha256(out[path]) };
      paths.push(path);
    }
    manifest.push({ paths, weights: entries });
  }
  return { manifest, shards };
}

/** config.json's `adaptation`: what the model started from and what it learnt. */
function record(config, result, songs, changed, float32) {
  return {
    base: { name: config.name, shards: config.shards }, // the shards' SHA-256: its weights
    songs: { train: songs.train, held_out: songs.heldOut, skipped: songs.skipped ?? [] },
    held_out_nll_per_note: { before: result.nllBefore, after: result.nllAfter },
    history: result.history.map((h) => ({ epoch: h.epoch, train_loss: h.trainLoss,
      held_out_loss: h.heldOutLoss })),
    best_epoch: result.bestEpoch,
    stopped: result.stopped,
    trained: changed,
    stored_float32: Object.fromEntries(Object.entries(float32).map(([n, was]) =>
      [n, `the base's ${was} drifted beyond KL ${MAX_KL} from the float32 weights`])),
    by: "web/src/adapt (the output layers trained on the Stepper's hidden states)",
  };
}

/** Bitwise equal values of one shape. */
function sameWeight(a, b) {
  if (a.shape.join() !== b.shape.join() || a.values.length !== b.values.length) return false;
  const x = new Uint32Array(Float32Array.from(a.values).buffer);
  const y = new Uint32Array(Float32Array.from(b.values).buffer);
  return x.every((v, i) => v === y[i]);
}

/**
 * Each base group's entries and bytes with `weights`: the `changed` ones encoded
 * as `storage` says, in the place of their base entries; the others' entries and
 * bytes as the base has them.
 */
function encodeGroups(groups, weights, changed, storage) {
  return groups.map(({ weights: entries, bytes }) => {
    const outEntries = [], parts = [], done = new Set();
    let at = 0;
    for (const entry of entries) {
      const size = entry.shape.reduce((n, d) => n * d, 1) * BYTES[storageOf(entry)];
      const [weight] = splitName(entry.name);
      if (!changed.includes(weight)) {
        const { name, shape, dtype, quantization } = entry; // TF.js's fields alone
        outEntries.push({ name, shape, dtype, ...(quantization ? { quantization } : {}) });
        parts.push(bytes.subarray(at, at + size));
      } else if (!done.has(weight)) {
        const made = encodeWeight(weight, weights[weight], storage[weight]);
        outEntries.push(...made.entries);
        parts.push(made.bytes);
        done.add(weight);
      }
      at += size;
    }
    return { entries: outEntries, bytes: concat(parts) };
  });
}

/** The next-token probabilities (Float64Arrays) of `weights` after each token of prime. */
function probabilities(weights, network, codec, prime) {
  const stepper = new Stepper(weights, network, codec);
  try {
    return prime.map((token) => softmax(stepper.step(token)));
  } finally {
    stepper.dispose();
  }
}

/** {max_abs_diff, max_kl} of the written weights, decoded as a reader does, from reference. */
function parity(written, network, codec, prime, reference) {
  const weights = decodeWeights(written.map(({ entries, bytes }) => ({ weights: entries, bytes })));
  const { maxAbs, maxKl } = drift(reference, probabilities(weights, network, codec, prime));
  return { max_abs_diff: maxAbs, max_kl: maxKl };
}
