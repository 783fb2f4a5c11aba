// Load an exported Cadenza model folder and step through it one token at a time.
//
// The folder is what `python -m converter` writes: config.json, vocab.json (the
// codec), model.json + weight shards (a stateful tf_keras LSTM, batch 1, one
// token in, logits out). web/src/verify.js checks every file, shard sizes and
// hashes included, and decodes the weights (web/src/weights.js: float32,
// float16, uint8 per tensor or per column) before the model is built; damage
// is refused, never run.
//
// Steps run through web/src/stepper.js (plain tfjs-core ops). Only tfjs-core
// and tfjs-layers are imported, to keep the browser bundle small: the caller
// registers a backend (the site: wasm; Node: cpu).

import { io } from "@tensorflow/tfjs-core";
import { loadLayersModel } from "@tensorflow/tfjs-layers";
import { Codec } from "./codec.js";
import { Stepper } from "./stepper.js";
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
 * logits. Every tensor a step makes is freed before step returns; the LSTM
 * states live in the Stepper until reset() or dispose(). `model` is the
 * tfjs-layers model as loaded (its weights are the Stepper's).
 */
export class Composer {
  constructor(model, config, vocab) {
    this.model = model;
    this.config = config;
    this.vocab = vocab;
    this.codec = new Codec(vocab);
    this.stepper = new Stepper(model);
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
    this.stepper.disposeStates();
    disposeModel(this.model);
  }
}

function disposeModel(model) {
  // model.dispose() leaves stateful LSTM states behind: free them first.
  for (const layer of model.layers) {
    for (const state of layer.states ?? []) state?.dispose();
  }
  model.dispose();
}

/** Load the export folder at `baseUrl` (absolute or relative to the page). */
export async function loadComposer(baseUrl) {
  const base = new URL(baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`,
    globalThis.location?.href).href; // shard URLs resolve against it
  const [config, vocab, modelJson] = await Promise.all([getJson(`${base}config.json`),
    getJson(`${base}vocab.json`), getJson(`${base}model.json`)]);
  checkConfig(config, vocab);
  const { weightSpecs, weightData } = await fetchWeights(base, modelJson, config.shards);
  const model = await loadLayersModel(io.fromMemory({ // strict: all weights must load
    modelTopology: modelJson.modelTopology, weightSpecs, weightData })); // float32, finite
  try {
    const outputs = model.outputs[0].shape.at(-1);
    if (outputs !== config.vocab_size) {
      throw new Error(`model.json outputs ${outputs} logits for ${config.vocab_size} tokens`);
    }
    return new Composer(model, config, vocab);
  } catch (e) {
    disposeModel(model);
    throw e;
  }
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
