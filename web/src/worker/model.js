// Load an exported Cadenza model folder and step through it one token at a time.
//
// The folder is what `python -m converter` writes: config.json, vocab.json (the
// codec), model.json (the network's sizes and its weights manifest:
// web/src/mirror/network.js) and the weight shards. web/src/worker/verify.js
// checks every file, shard sizes and hashes included, and decodes the weights
// with tfjs-core's tf.io.decodeWeights (web/src/mirror/weights.js: TF.js's
// float32, float16 and uint8 entries, and a weight stored per column joined
// from three), which must be exactly the network's (the Stepper checks them);
// damage is refused, never run, and no weight is ever left at a random value.
//
// Steps run through web/src/mirror/stepper.js on tfjs-core ops alone, to keep
// the browser bundle small: the caller registers a backend (the site: wasm;
// Node: cpu). The Stepper is built from the weights by name and model.json's
// network, whose key_rows, degrees and bar_rows say whether it reads the
// song's key, scores each note by its scale degree in that key and reads how
// many bars the song has had, as trainer/compose/stepper.py does. A folder that
// lists form.json has a form head (web/src/mirror/form.js: which bars come back),
// which the Composer carries for generate().

import { Codec } from "../mirror/codec.js";
import { FormHead } from "../mirror/form.js";
import { checkNetwork } from "../mirror/network.js";
import { Stepper } from "../mirror/stepper.js";
import { klDivergence, MAX_KL, softmax } from "../mirror/storage.js";
import { checkConfig, fetchWeights, httpFolder, readJson } from "./verify.js";

export { checkConfig, FORMAT_VERSION, MODEL_TYPE } from "./verify.js";

/**
 * A loaded model: reset() then step(tokenId) -> Float32Array of next-token
 * logits. Every tensor a step makes is freed before step returns; the weights
 * and the LSTM states live in the Stepper until dispose(). `network` is
 * model.json's description (web/src/mirror/network.js; `degrees` and `bar_rows` 0
 * where it has none); `form` its form head, or null.
 */
export class Composer {
  constructor(stepper, config, vocab, codec, network, form = null) {
    this.stepper = stepper;
    this.config = config;
    this.vocab = vocab;
    this.codec = codec;
    this.network = network;
    this.form = form;
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

/**
 * An export folder's files read and checked (verify.js): {config, vocab, codec,
 * network, weights (by name, decoded), parity (parity.json, null where the folder
 * lists none), form (form.json's FormHead, null where the folder lists none)}.
 * @param folder verify.js httpFolder(url) or memoryFolder(files, label)
 */
export async function readFolder(folder) {
  const [config, vocab, modelJson] = await Promise.all(["config.json", "vocab.json",
    "model.json"].map((name) => readJson(folder, name)));
  checkConfig(config, vocab);
  const codec = new Codec(vocab);
  const network = checkNetwork(modelJson, config, Boolean(codec.ranges.KEY),
    codec.barId !== null);
  // Two entries of one shape swapped pass every check above: parity.json's
  // Keras probabilities catch them (converter/read.py check_parity).
  const parity = (config.files ?? []).includes("parity.json")
    ? readJson(folder, "parity.json") : null;
  parity?.catch(() => {}); // awaited below, after the weights' own checks
  const formJson = (config.files ?? []).includes("form.json")
    ? readJson(folder, "form.json") : null;
  formJson?.catch(() => {});
  const weights = await fetchWeights(folder, modelJson, config.shards);
  const form = formJson ? new FormHead(await formJson) : null;
  return { config, vocab, codec, network, weights, parity: await parity, form };
}

/**
 * Load an export folder: a URL (absolute or relative to the page) or a folder of
 * verify.js (memoryFolder: an adapted model from the browser's storage).
 */
export async function loadComposer(source) {
  const folder = typeof source === "string" ? httpFolder(source) : source;
  const { config, vocab, codec, network, weights, parity, form } = await readFolder(folder);
  const composer = new Composer(new Stepper(weights, network, codec), config, vocab, codec,
    network, form);
  if (parity) {
    try {
      checkParity(composer, parity);
    } catch (e) {
      composer.dispose();
      throw e;
    }
  }
  return composer;
}

/**
 * Throw unless the composer, fed parity's prime, gives its Keras probabilities
 * within MAX_KL at every step; leaves it reset.
 */
function checkParity(composer, parity) {
  const { prime, probabilities } = parity ?? {};
  const size = composer.config.vocab_size;
  if (!Array.isArray(prime) || !Array.isArray(probabilities) ||
      probabilities.length !== prime.length ||
      !prime.every((t) => Number.isInteger(t) && t >= 0 && t < size) ||
      !probabilities.every((p) => Array.isArray(p) && p.length === size)) {
    throw new Error("parity.json is malformed (its prime and probabilities do not fit " +
      "the vocabulary)");
  }
  composer.reset();
  prime.forEach((token, i) => {
    const kl = klDivergence(probabilities[i], softmax(composer.step(token)));
    if (!(kl <= MAX_KL)) {
      throw new Error("the weights do not give the probabilities in parity.json " +
        `(KL ${kl.toPrecision(3)} at step ${i}, the limit is ${MAX_KL}): a weight is ` +
        "damaged, or two entries are swapped");
    }
  });
  composer.reset();
}
