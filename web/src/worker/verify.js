// Checks an export folder's files before any of them is used, as converter/read.py does.
//
// config.json must be a Cadenza export of a format this reads whose codec and
// vocabulary size agree with vocab.json, and must list each weight shard with
// its size and SHA-256 (converter/folder.py writes them). model.json must
// describe a network this code runs, of config.json's sizes
// (web/src/mirror/network.js checkNetwork), and have a weights manifest naming
// exactly those shards; each shard fetched must have its listed size and hash;
// then web/src/mirror/weights.js decodes the weights, which must fill the
// shards exactly and all be finite (and the Stepper takes only exactly the
// network's: network.js checkWeights). Each failure throws an Error naming the
// file and the reason, which the Compose page shows.
//
// Format 3 (this converter): model.json is {format, network, weightsManifest},
// the manifest and shards TensorFlow.js's own. Format 2 had weights of a format of
// its own, which nothing reads any more.
// Format 1: model.json was a tfjs Layers model; its network is config.json's
// model, with no key input.

import { concat } from "../common/bytes.js";
import { sha256 } from "../common/digest.js";
import { decodeWeights } from "../mirror/weights.js";

export const MODEL_TYPE = "cadenza-lstm";
export const FORMAT_VERSION = 3; // what the converter writes (converter/folder.py)
export const READABLE = [1, 3];

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
 * An export folder served over HTTP at `baseUrl` (absolute or relative to the
 * page): {where(name), read(name) -> Promise<Uint8Array>}, read throwing
 * "URL: HTTP 404" and the like.
 */
export function httpFolder(baseUrl) {
  const base = new URL(baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`,
    globalThis.location?.href).href; // every file resolves against it
  const where = (name) => new URL(name, base).href;
  return { where, async read(name) {
    const response = await fetch(where(name));
    if (!response.ok) throw new Error(`${where(name)}: HTTP ${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  } };
}

/**
 * An export folder held in memory, {name: Uint8Array} (an adapted model from the
 * browser's storage), read as httpFolder reads one; `label` names it in errors.
 */
export function memoryFolder(files, label) {
  const where = (name) => `${label}/${name}`;
  return { where, async read(name) {
    if (!Object.hasOwn(files, name)) throw new Error(`${where(name)} is missing`);
    return files[name];
  } };
}

/** A JSON file of `folder` (httpFolder, memoryFolder), parsed. */
export async function readJson(folder, name) {
  const bytes = await folder.read(name);
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new Error(`${folder.where(name)}: not valid JSON (${e.message})`);
  }
}

/**
 * The weights of `modelJson` (model.json as parsed, in `folder`), read and
 * checked against `shards` (config.json's), then decoded (web/src/mirror/weights.js):
 * {name: {shape, values: Float32Array}}.
 */
export async function fetchWeights(folder, modelJson, shards) {
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
    async (path) => [path, await readShard(folder, path, shards[path])])));
  return decodeWeights(manifest.map((group) => ({
    weights: group.weights ?? [],
    bytes: concat((group.paths ?? []).map((path) => fetched.get(path))) })));
}

async function readShard(folder, path, want) {
  const bytes = await folder.read(path);
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
