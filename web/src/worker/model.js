// Load an exported Cadenza model folder and step through it one token at a time.
//
// The folder is what `python -m converter` writes: config.json, vocab.json (the
// codec), model.json (the network's sizes and its weights manifest:
// web/src/mirror/network.js) and the weight shards. web/src/worker/verify.js
// checks every file, shard sizes and hashes included, and decodes the weights
// (web/src/mirror/weights.js: float32, float16, uint8 per tensor or per
// column), which must be exactly the network's (the Stepper checks them);
// damage is refused, never run, and no weight is ever left at a random value.
//
// Steps run through web/src/mirror/stepper.js on tfjs-core ops alone, to keep
// the browser bundle small: the caller registers a backend (the site: wasm;
// Node: cpu). The Stepper is built from the weights by name and model.json's
// network, whose key_rows, degrees and bar_rows say whether it reads the
// song's key, scores each note by its scale degree in that key and reads how
// many bars the song has had, as trainer/compose/stepper.py does.

import { Codec } from "../mirror/codec.js";
import { checkNetwork } from "../mirror/network.js";
import { Stepper } from "../mirror/stepper.js";
import { checkConfig, fetchWeights } from "./verify.js";

export { checkConfig, FORMAT_VERSION, MODEL_TYPE } from "./verify.js";

async function getJson(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  try {
    return await response.json();
  } catch (e) {
    throw new Error(`${url}: not valid JSON (${e.message})`);
  }
}

/**
 * A loaded model: reset() then step(tokenId) -> Float32Array of next-token
 * logits. Every tensor a step makes is freed before step returns; the weights
 * and the LSTM states live in the Stepper until dispose(). `network` is
 * model.json's description (web/src/mirror/network.js; `degrees` and `bar_rows` 0
 * where it has none).
 */
export class Composer {
  constructor(stepper, config, vocab, codec, network) {
    this.stepper = stepper;
    this.config = config;
    this.vocab = vocab;
    this.codec = codec;
    this.network = network;
  }

  reset() {
    this.stepper.reset();
  }

  step(tokenId) {
    if (!(Number.isInteger(tokenId) && tokenId >= 0 && tokenId < this.config.vocab_size)) {
      throw new RangeError(`token id ${tokenId} is outside the vocabulary`);
    }
    return this.stepper.step(tokenId);
  }

  dispose() {
    this.stepper.dispose();
  }
}

/** Load the export folder at `baseUrl` (absolute or relative to the page). */
export async function loadComposer(baseUrl) {
  const base = new URL(baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`,
    globalThis.location?.href).href; // shard URLs resolve against it
  const [config, vocab, modelJson] = await Promise.all([getJson(`${base}config.json`),
    getJson(`${base}vocab.json`), getJson(`${base}model.json`)]);
  checkConfig(config, vocab);
  const codec = new Codec(vocab);
  const network = checkNetwork(modelJson, config, Boolean(codec.ranges.KEY),
    codec.barId !== null);
  const weights = await fetchWeights(base, modelJson, config.shards);
  return new Composer(new Stepper(weights, network, codec), config, vocab, codec, network);
}

/** Softmax of logits in float64, as Python's parity file computes it. */
export function softmax(logits) {
  let max = -Infinity;
  for (const x of logits) max = Math.max(max, x);
  const p = Float64Array.from(logits, (x) => Math.exp(x - max));
  let sum = 0;
  for (const x of p) sum += x;
  return p.map((x) => x / sum);
}
