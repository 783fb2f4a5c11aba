// Checks an export folder's files before any of them is used, as converter/read.py does.
//
// config.json must be a Cadenza export of a format this reads whose codec and
// vocabulary size agree with vocab.json, and must list each weight shard with
// its size and SHA-256 (converter/folder.py writes them). model.json must
// describe a network this code runs, of config.json's sizes
// (converter/network.py), and have a weights manifest naming exactly those
// shards; each shard fetched must have its listed size and hash; then
// web/src/mirror/weights.js decodes the weights, which must fill the shards exactly,
// all be finite, and be exactly the network's, each of its shape. Each
// failure throws an Error naming the file and the reason, which the Compose
// page shows.
//
// Format 2 (this converter): model.json is {format, network, weightsManifest}.
// Format 1: model.json was a tfjs Layers model; its network is config.json's
// model, with no key input.

import { decodeWeights, sortedJson } from "../mirror/weights.js";

export const MODEL_TYPE = "cadenza-lstm";
export const FORMAT_VERSION = 2; // what the converter writes
export const READABLE = [1, 2];
export const KEY_ROWS = 25; // the key table: 24 keys, then "no key read yet"
export const DEGREES = 24; // degree logits: 12 scale degrees of a major key, 12 of a minor one
export const BAR_ROWS = 64; // the bar-count table: 0..63 bars so far (more count as 63)
const NETWORK = "cadenza_lstm_step", CELL = "lstm", GATES = "ifco";
const SIZES = ["vocab_size", "embedding_size", "num_layers", "rnn_size"];

/** Throw a clear Error unless `config` describes a model this code can run with `vocab`. */
export function checkConfig(config, vocab) {
  if (config?.type !== MODEL_TYPE) {
    throw new Error(`not a Cadenza model: type is ${JSON.stringify(config?.type)}, ` +
      `expected "${MODEL_TYPE}"`);
  }
  if (!READABLE.includes(config.format_version)) {
    throw new Error(`model format version ${config.format_version} is not supported ` +
      `(this page reads versions ${READABLE.join(" and ")})`);
  }
  if (config.vocab_size !== vocab?.size || vocab.tokens?.length !== vocab.size) {
    throw new Error(`vocabulary mismatch: config says ${config.vocab_size} tokens, ` +
      `vocab.json has ${vocab?.size}`);
  }
  const said = config.codec ?? {}, params = vocab.params ?? {};
  const wrong = [...new Set([...Object.keys(params), ...Object.keys(said)])].sort()
    .filter((k) => params[k] !== said[k]);
  if (wrong.length) {
    throw new Error("codec mismatch: vocab.json and config.json disagree on " +
      wrong.map((k) => `${k} (${params[k]} vs ${said[k]})`).join(", "));
  }
  const shards = config.shards;
  if (!shards || typeof shards !== "object" || !Object.keys(shards).length) {
    throw new Error("config.json lists no weight shards with their sizes and SHA-256 " +
      "(exported by an older converter: export it again)");
  }
}

/**
 * The network `modelJson` (model.json as parsed) describes, or a format-1
 * export's (config.json's model, no key), if this code runs it and it agrees
 * with `config`; `keyTokens`, `barTokens`: the vocabulary has KEY tokens, a BAR
 * token. Throws otherwise. Its `degrees` and `bar_rows` are 0 where model.json
 * has none (format-2 exports written before them); both need key rows.
 */
export function checkNetwork(modelJson, config, keyTokens, barTokens = false) {
  const network = config.format_version >= 2 ? modelJson?.network : {
    name: NETWORK, cell: CELL, gates: GATES, vocab_size: config.vocab_size,
    embedding_size: config.model?.embedding_size, num_layers: config.model?.num_layers,
    rnn_size: config.model?.rnn_size, key_rows: 0, degrees: 0, bar_rows: 0 };
  const count = (x) => Number.isInteger(x) && x > 0;
  const degrees = (n) => ("degrees" in n ? n.degrees : 0);
  const barRows = (n) => ("bar_rows" in n ? n.bar_rows : 0);
  if (!network || typeof network !== "object" || network.name !== NETWORK ||
      network.cell !== CELL || network.gates !== GATES || !SIZES.every((k) => count(network[k])) ||
      ![0, KEY_ROWS].includes(network.key_rows) || ![0, DEGREES].includes(degrees(network)) ||
      ![0, BAR_ROWS].includes(barRows(network))) {
    throw new Error(`model.json describes an unsupported network ${sortedJson(network ?? null)}: ` +
      `expected ${NETWORK}, ${CELL} cells with gates ${GATES}, sizes ${SIZES.join(", ")}, ` +
      `key_rows 0 or ${KEY_ROWS}, degrees 0 or ${DEGREES} and bar_rows 0 or ${BAR_ROWS}`);
  }
  if ((degrees(network) || barRows(network)) && !network.key_rows) {
    throw new Error("model.json's network scores scale degrees or counts bars but reads no " +
      "key (degrees or bar_rows without key_rows)");
  }
  const said = { vocab_size: config.vocab_size, ...(config.model ?? {}) };
  const wrong = SIZES.filter((k) => said[k] !== network[k]);
  if (wrong.length) {
    throw new Error("model.json's network disagrees with config.json on " +
      wrong.map((k) => `${k} (${network[k]} vs ${said[k]})`).join(", "));
  }
  if (network.key_rows && !keyTokens) {
    throw new Error("model.json's network reads the key, but vocab.json has no KEY tokens");
  }
  if (barRows(network) && !barTokens) {
    throw new Error("model.json's network counts bars, but vocab.json has no BAR token");
  }
  return { ...network, degrees: degrees(network), bar_rows: barRows(network) };
}

/** {name: shape} of every weight of `network`, in trainer/stepper.py's order. */
export function networkShapes(network) {
  const { vocab_size: vocab, embedding_size: width, rnn_size: units } = network;
  const out = { "embedding/embeddings": [vocab, width] };
  for (let i = 0; i < network.num_layers; i++) {
    out[`lstm_${i}/lstm_cell/kernel`] = [i === 0 ? width : units, 4 * units];
    out[`lstm_${i}/lstm_cell/recurrent_kernel`] = [units, 4 * units];
    out[`lstm_${i}/lstm_cell/bias`] = [4 * units];
  }
  out["logits/kernel"] = [units, vocab];
  out["logits/bias"] = [vocab];
  if (network.key_rows) out["key_embedding/embeddings"] = [network.key_rows, width];
  if (network.degrees) {
    out["degree_logits/kernel"] = [units, network.degrees];
    out["degree_logits/bias"] = [network.degrees];
  }
  if (network.bar_rows) out["bar_embedding/embeddings"] = [network.bar_rows, width];
  return out;
}

/**
 * The decoded `weights` ({name: {shape, values}}) in Stepper order; throws
 * unless they are exactly the network's, each of its shape.
 */
export function stepperWeights(network, weights) {
  const want = networkShapes(network);
  const list = (names) => `[${names.map((n) => `'${n}'`).join(", ")}]`;
  const missing = Object.keys(want).filter((n) => !(n in weights));
  if (missing.length) throw new Error(`model.json lacks weights ${list(missing)}`);
  const extra = Object.keys(weights).filter((n) => !(n in want));
  if (extra.length) {
    throw new Error(`model.json has weights the network does not use: ${list(extra)}`);
  }
  return Object.entries(want).map(([name, shape]) => {
    const got = weights[name].shape;
    if (got.join() !== shape.join() || got.length !== shape.length) {
      throw new Error(`weight ${name} has shape [${got.join(", ")}], the network needs ` +
        `[${shape.join(", ")}]`);
    }
    return weights[name];
  });
}

/** Lower-case hex SHA-256 of bytes (Web Crypto: https pages, localhost and Node 20). */
export async function sha256(bytes) {
  if (!globalThis.crypto?.subtle) {
    throw new Error("this browser cannot check the model's weights: Web Crypto needs " +
      "a secure page (https or localhost)");
  }
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The weights of `modelJson` (model.json as parsed, at `base`), fetched and
 * checked against `shards` (config.json's), then decoded (web/src/mirror/weights.js):
 * {name: {shape, values: Float32Array}}.
 */
export async function fetchWeights(base, modelJson, shards) {
  const manifest = modelJson?.weightsManifest;
  if (!Array.isArray(manifest) || !manifest.length) {
    throw new Error("model.json has no weightsManifest (its weights would be random)");
  }
  const paths = manifest.flatMap((group) => group.paths ?? []);
  const listed = Object.keys(shards);
  if (JSON.stringify([...paths].sort()) !== JSON.stringify([...listed].sort())) {
    throw new Error(`model.json's shards ${JSON.stringify(paths)} are not the ones ` +
      `config.json lists ${JSON.stringify(listed)}`);
  }
  const fetched = new Map(await Promise.all(paths.map(
    async (path) => [path, new Uint8Array(await fetchShard(base, path, shards[path]))])));
  return decodeWeights(manifest.map((group) => ({
    weights: group.weights ?? [],
    bytes: concat((group.paths ?? []).map((path) => fetched.get(path))) })));
}

function concat(parts) {
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    bytes.set(part, at);
    at += part.length;
  }
  return bytes;
}

async function fetchShard(base, path, want) {
  const url = new URL(path, base).href;
  const response = await fetch(url);
  if (!response.ok) throw new Error(`weight shard ${path}: HTTP ${response.status}`);
  const bytes = await response.arrayBuffer();
  if (bytes.byteLength !== want.bytes) {
    throw new Error(`weight shard ${path} has ${bytes.byteLength} bytes, ` +
      `config.json says ${want.bytes}`);
  }
  if ((await sha256(bytes)) !== want.sha256) {
    throw new Error(`weight shard ${path} is damaged: its SHA-256 differs from the one in ` +
      "config.json");
  }
  return bytes;
}
