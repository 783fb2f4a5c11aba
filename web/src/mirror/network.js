// The network an export runs, as model.json's `network` describes it, and the
// weights it needs: trainer/nn/network.py's check, shapes and check_weights.
//
// {name, cell, gates, vocab_size, embedding_size, num_layers, rnn_size,
// key_rows, degrees, bar_rows}: one step of trainer/compose/stepper.py (web/src/mirror/
// stepper.js runs it). key_rows 25: a key table (codec v2); degrees 24: degree
// logits; bar_rows 64: a bar-count table; 0 (or absent, for degrees and
// bar_rows) where the network has none. Its weights carry their Keras names
// (shapes); tests/js/loader_faults.test.mjs holds the refusals here to
// converter/read.py's.

import { LOOKBACK, PITCHES } from "./context.js";
import { sortedJson } from "./weights.js";

export const KEY_ROWS = 25; // the key table: 24 keys, then "no key read yet"
export const DEGREES = 24; // degree logits: 12 scale degrees of a major key, 12 of a minor one
export const BAR_ROWS = 64; // the bar-count table: 0..63 bars so far (more count as 63)
const NETWORK = "cadenza_lstm_step", CELL = "lstm", GATES = "ifco";
const SIZES = ["vocab_size", "embedding_size", "num_layers", "rnn_size"];

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
  const sounding = (n) => ("sounding" in n ? n.sounding : 0);
  const lookback = (n) => ("lookback" in n ? n.lookback : []);
  const contextRows = (n) => ("context_rows" in n ? n.context_rows : 0);
  const repeating = (n) => ("repeating" in n ? n.repeating : false);
  if (!network || typeof network !== "object" || network.name !== NETWORK ||
      network.cell !== CELL || network.gates !== GATES || !SIZES.every((k) => count(network[k])) ||
      ![0, KEY_ROWS].includes(network.key_rows) || ![0, DEGREES].includes(degrees(network)) ||
      ![0, BAR_ROWS].includes(barRows(network)) || ![0, PITCHES].includes(sounding(network)) ||
      !(Array.isArray(lookback(network)) && lookback(network).every((b) => LOOKBACK.includes(b))) ||
      ![true, false].includes(repeating(network)) ||
      !(contextRows(network) === 0 || count(contextRows(network)))) {
    throw new Error(`model.json describes an unsupported network ${sortedJson(network ?? null)}: ` +
      `expected ${NETWORK}, ${CELL} cells with gates ${GATES}, sizes ${SIZES.join(", ")}, ` +
      `key_rows 0 or ${KEY_ROWS}, degrees 0 or ${DEGREES}, bar_rows 0 or ${BAR_ROWS}, ` +
      `sounding 0 or ${PITCHES}, lookback bars of [${LOOKBACK.join(", ")}] and repeating true ` +
      "or false");
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
  return { ...network, degrees: degrees(network), bar_rows: barRows(network),
    sounding: sounding(network), lookback: lookback(network), repeating: repeating(network),
    context_rows: contextRows(network) };
}

/** {name: shape} of every weight of `network`: its Keras names, in trainer/compose/stepper.py's order. */
export function shapes(network) {
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
  if (network.context_rows) out["context/kernel"] = [network.context_rows, width];
  return out;
}

/**
 * Throw unless `weights` ({name: {shape, values}}, as web/src/mirror/weights.js
 * decodes them) are exactly the network's (shapes), each of its shape.
 */
export function checkWeights(network, weights) {
  const want = shapes(network);
  const list = (names) => `[${names.map((n) => `'${n}'`).join(", ")}]`;
  const missing = Object.keys(want).filter((n) => !(n in weights));
  if (missing.length) throw new Error(`model.json lacks weights ${list(missing)}`);
  const extra = Object.keys(weights).filter((n) => !(n in want));
  if (extra.length) {
    throw new Error(`model.json has weights the network does not use: ${list(extra)}`);
  }
  for (const [name, shape] of Object.entries(want)) {
    const got = weights[name].shape;
    if (got.join() !== shape.join() || got.length !== shape.length) {
      throw new Error(`weight ${name} has shape [${got.join(", ")}], the network needs ` +
        `[${shape.join(", ")}]`);
    }
  }
}
