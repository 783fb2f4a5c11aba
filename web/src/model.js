// Load an exported Cadenza model folder and step through it one token at a time.
//
// The folder is what `python -m converter` writes: config.json (checked here
// before anything else is loaded), vocab.json (the codec), model.json + weight
// shards (a stateful tf_keras LSTM, batch 1, one token in, logits out).
//
// Steps run through web/src/stepper.js (plain tfjs-core ops). Only tfjs-core
// and tfjs-layers are imported, to keep the browser bundle small: the caller
// registers a backend (the site: wasm; Node: cpu).

import { loadLayersModel } from "@tensorflow/tfjs-layers";
import { Codec } from "./codec.js";
import { Stepper } from "./stepper.js";

export const MODEL_TYPE = "cadenza-lstm";
export const FORMAT_VERSION = 1;

async function getJson(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  try {
    return await response.json();
  } catch (e) {
    throw new Error(`${url}: not valid JSON (${e.message})`);
  }
}

/** Throw a clear Error unless `config` describes a model this code can run with `vocab`. */
export function checkConfig(config, vocab) {
  if (config.type !== MODEL_TYPE) {
    throw new Error(`not a Cadenza model: type is ${JSON.stringify(config.type)}, ` +
      `expected "${MODEL_TYPE}"`);
  }
  if (config.format_version !== FORMAT_VERSION) {
    throw new Error(`model format version ${config.format_version} is not supported ` +
      `(this page reads version ${FORMAT_VERSION})`);
  }
  if (config.vocab_size !== vocab.size || vocab.tokens?.length !== vocab.size) {
    throw new Error(`vocabulary mismatch: config says ${config.vocab_size} tokens, ` +
      `vocab.json has ${vocab.size}`);
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
  const base = baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`;
  const [config, vocab] = await Promise.all([getJson(`${base}config.json`),
    getJson(`${base}vocab.json`)]);
  checkConfig(config, vocab);
  const model = await loadLayersModel(`${base}model.json`); // strict: all weights must load
  const outputs = model.outputs[0].shape.at(-1);
  if (outputs !== config.vocab_size) {
    model.dispose();
    throw new Error(`model.json outputs ${outputs} logits for ${config.vocab_size} tokens`);
  }
  try {
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
