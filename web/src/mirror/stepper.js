// One LSTM step per token with plain tfjs-core ops, as trainer/compose/stepper.py does in numpy.
//
// The network is model.json's description (web/src/mirror/network.js) and
// its weights are the export's float32 arrays by their Keras names
// (network.js shapes): the token's embedding, then (kernel, recurrent kernel,
// bias) per LSTM layer with Keras's gate order (input, forget, cell, output),
// sigmoid gates and tanh, then the dense kernel and bias. A key-conditioned
// (codec v2, key_rows 25) network adds the row of the song's key to the input
// at each step: row 24 until a KEY token is read, that KEY's row from the step
// that reads it on. With degree logits (degrees 24) each NOTE logit gains the
// degree logit of its scale degree in the key read (codec.js degreeIndex;
// nothing before a KEY is read, nothing for other tokens). A network that
// counts bars (bar_rows 64) adds to the input the row of the number of BAR
// tokens read so far, the one being read included (63 and more share row 63).
// A network with context_rows adds the sum of the context table's rows of the
// features on after the token read (web/src/mirror/context.js).
// The Stepper makes its own tensors of the weights and keeps the LSTM states
// (h, c); tests/js/stepper.test.mjs holds it to the numpy Stepper's logits.

import * as tf from "@tensorflow/tfjs-core";
import { degreeIndex } from "./codec.js";
import { Context, contextSize } from "./context.js";
import { BAR_ROWS, checkWeights, DEGREES } from "./network.js";

export class Stepper {
  /**
   * Throws unless the weights are exactly the network's and the codec has the
   * tokens it reads (KEY tokens for a key table, BAR for a bar table).
   * @param weights {name: {shape, values: Float32Array}} by Keras name (network.js shapes)
   * @param network {vocab_size, embedding_size, num_layers, rnn_size, key_rows,
   *   degrees, bar_rows}: model.json's, as network.js checkNetwork returns it
   * @param codec the network's Codec: its KEY ids, BAR id and degreeIndex
   */
  constructor(weights, network, codec) {
    checkParts(network, codec);
    checkWeights(network, weights);
    const tensor = (name) => tf.tensor(weights[name].values, weights[name].shape, "float32");
    this.embedding = tensor("embedding/embeddings");
    this.lstms = Array.from({ length: network.num_layers }, (_, i) => ({
      kernel: tensor(`lstm_${i}/lstm_cell/kernel`),
      recurrent: tensor(`lstm_${i}/lstm_cell/recurrent_kernel`),
      bias: tensor(`lstm_${i}/lstm_cell/bias`), units: network.rnn_size }));
    this.kernel = tensor("logits/kernel");
    this.bias = tensor("logits/bias");
    this.keyRows = network.key_rows;
    this.keyTable = this.keyRows ? tensor("key_embedding/embeddings") : null;
    const keys = this.keyRows ? codec.ranges.KEY : { first: 0, count: 0 };
    [this.keyFirst, this.keyCount] = [keys.first, keys.count];
    this.degreeKernel = network.degrees ? tensor("degree_logits/kernel") : null;
    this.degreeBias = network.degrees ? tensor("degree_logits/bias") : null;
    this.degreeIndex = network.degrees
      ? tf.tensor2d(degreeIndex(codec), [this.keyRows, codec.size], "int32") : null;
    this.barTable = network.bar_rows ? tensor("bar_embedding/embeddings") : null;
    this.barId = network.bar_rows ? codec.barId : null;
    this.contextTable = network.context_rows ? tensor("context/kernel") : null;
    this.context = network.context_rows
      ? new Context(codec, network.sounding, network.lookback, network.repeating) : null;
    this.states = null;
    this.reset();
  }

  /** Zero the LSTM states and forget the key: the next step starts a new song. */
  reset() {
    this.disposeStates();
    this.key = this.keyRows - 1; // "no key read yet" (-1: no key table)
    this.bars = 0; // BAR tokens read
    this.context?.reset();
    this.states = this.lstms.map(({ units }) =>
      ({ h: tf.zeros([1, units]), c: tf.zeros([1, units]) }));
  }

  /** Feed tokenId; returns the next-token logits. Frees every tensor it makes but the states. */
  step(tokenId) {
    if (this.keyTable && tokenId - this.keyFirst >= 0 && tokenId - this.keyFirst < this.keyCount) {
      this.key = tokenId - this.keyFirst;
    }
    if (this.barTable && tokenId === this.barId) this.bars = Math.min(this.bars + 1, BAR_ROWS - 1);
    this.context?.advance(tokenId);
    const on = this.context ? this.context.active() : [];
    const { logits, states } = tf.tidy(() => {
      let x = tf.gather(this.embedding, tf.tensor1d([tokenId], "int32"));
      if (this.keyTable) x = tf.add(x, tf.gather(this.keyTable, tf.tensor1d([this.key], "int32")));
      if (this.barTable) x = tf.add(x, tf.gather(this.barTable, tf.tensor1d([this.bars], "int32")));
      if (on.length) {
        x = tf.add(x, tf.sum(tf.gather(this.contextTable, tf.tensor1d(on, "int32")), 0, true));
      }
      const next = this.lstms.map((w, layer) => {
        const { h, c } = this.states[layer];
        const input = tf.fused.matMul({ a: x, b: w.kernel, bias: w.bias });
        const z = tf.add(tf.matMul(h, w.recurrent), input); // wasm: fused bias must be rank 1
        const [i, f, g, o] = tf.split(z, 4, 1);
        const cNext = tf.add(tf.mul(tf.sigmoid(f), c), tf.mul(tf.sigmoid(i), tf.tanh(g)));
        x = tf.mul(tf.sigmoid(o), tf.tanh(cNext));
        return { h: x, c: cNext };
      });
      let logits = tf.fused.matMul({ a: x, b: this.kernel, bias: this.bias });
      if (this.degreeIndex) {
        const scores = tf.add(tf.matMul(x, this.degreeKernel), this.degreeBias);
        const padded = tf.concat([scores, tf.zeros([1, 1])], 1); // column 24: nothing
        const row = tf.gather(this.degreeIndex, tf.tensor1d([this.key], "int32"));
        const columns = tf.reshape(row, [-1]); // no chained ops: the site's bundle has none
        logits = tf.add(logits, tf.gather(padded, columns, 1));
      }
      return { logits, states: next };
    });
    this.disposeStates();
    this.states = states;
    const values = logits.dataSync();
    logits.dispose();
    return values;
  }

  /**
   * The last LSTM layer's output after the last step, as a new Float32Array
   * (rnn_size): what the logits and degree logits of that step were computed
   * from. Adapting a model (web/src/adapt/adapt.js) trains those output
   * layers on it, the LSTM left as it is.
   */
  hidden() {
    return this.states.at(-1).h.dataSync().slice();
  }

  disposeStates() {
    for (const { h, c } of this.states ?? []) tf.dispose([h, c]);
    this.states = null;
  }

  /** Free the states and the weights: the Stepper cannot step again. */
  dispose() {
    this.disposeStates();
    tf.dispose([this.embedding, this.keyTable, this.kernel, this.bias, this.degreeKernel,
      this.degreeBias, this.degreeIndex, this.barTable, this.contextTable,
      ...this.lstms.flatMap(({ kernel, recurrent, bias }) => [kernel, recurrent, bias])]
      .filter(Boolean));
  }
}

/**
 * Throw unless the Stepper runs `network`'s parts with `codec`: a key table of
 * a row per KEY token and one more, 24 degree logits and 64 bar rows (or
 * none), the last two only with a key table.
 */
function checkParts(network, codec) {
  const keys = codec.ranges.KEY;
  if (codec.size !== network.vocab_size) {
    throw new Error(`the codec has ${codec.size} tokens, the network ${network.vocab_size}`);
  }
  if ((network.degrees || network.bar_rows) && !network.key_rows) {
    throw new Error("degree logits and a bar table need a key table; the network has none");
  }
  if (network.key_rows && network.key_rows !== (keys?.count ?? -1) + 1) {
    throw new Error(`the network has ${network.key_rows} key rows; the codec's KEY tokens ` +
      `need ${(keys?.count ?? 0) + 1}`);
  }
  if (![0, DEGREES].includes(network.degrees) || ![0, BAR_ROWS].includes(network.bar_rows)) {
    throw new Error(`the network has ${network.degrees} degree logits and ${network.bar_rows} ` +
      `bar rows: each must be 0 or ${DEGREES}, ${BAR_ROWS}`);
  }
  if (network.bar_rows && codec.barId === null) {
    throw new Error("the network counts bars, but the codec has no BAR token");
  }
  const rows = network.context_rows ?? 0;
  if (rows && (!network.key_rows || (network.lookback.length && codec.barId === null))) {
    throw new Error("a Context needs a codec v2 with keys, and lookback one with bars");
  }
  const want = contextSize(codec, network.sounding, network.lookback ?? [],
    network.repeating ?? false);
  if (rows && rows !== want) {
    throw new Error(`the network reads ${rows} context features; a Context of sounding ` +
      `${network.sounding}, lookback [${network.lookback.join(", ")}] and repeating ` +
      `${Boolean(network.repeating)} has ${want}`);
  }
}
