// One LSTM step per token with plain tfjs-core ops, as trainer/stepper.py does in numpy.
//
// The weights are the export's float32 arrays in trainer/stepper.py's order
// (web/src/worker/verify.js stepperWeights): embedding, then (kernel, recurrent
// kernel, bias) per LSTM layer with Keras's gate order (input, forget, cell,
// output), sigmoid gates and tanh, then the dense kernel and bias; a
// key-conditioned (codec v2) network then has its key table (25 rows): the
// input at each step is the token's embedding plus the row of the song's key,
// row 24 until a KEY token is read, that KEY's row from the step that reads it
// on. A network with degree logits then has their kernel and bias: each NOTE
// logit gains the degree logit of its scale degree in the key read
// (codec.js degreeIndex; nothing before a KEY is read, nothing for other
// tokens). A network that counts bars then has its bar-count table (64 rows):
// the input also gains the row of the number of BAR tokens read so far, the
// one being read included (63 and more share row 63). The Stepper makes its
// own tensors of them and keeps the LSTM states (h, c);
// tests/js/stepper.test.mjs holds it to the numpy Stepper's logits.

import * as tf from "@tensorflow/tfjs-core";
import { degreeIndex } from "./codec.js";
import { BAR_ROWS, DEGREES } from "../worker/verify.js";

export class Stepper {
  /**
   * @param weights [{shape, values: Float32Array}] in the order above
   * @param keyTokens [first KEY id, count] for a key table (Stepper.forCodec gives them)
   * @param degrees the codec's degreeIndex where the weights have degree logits
   * @param barId the BAR token's id where they end with a bar-count table
   */
  constructor(weights, keyTokens = null, degrees = null, barId = null) {
    const list = [...weights];
    const barTable = barId !== null ? list.pop() : null;
    const degreeBias = degrees ? list.pop() : null, degreeKernel = degrees ? list.pop() : null;
    const n = list.length;
    if (n < 6 || ![0, 1].includes((n - 3) % 3)) {
      throw new Error("expected embedding, 3 arrays per LSTM and dense (and a key table, " +
        `degree weights, a bar table); got ${weights.length}`);
    }
    const keyTable = (n - 3) % 3 === 1 ? list.pop() : null;
    if (keyTable && !keyTokens) {
      throw new Error("these weights condition on the key: give keyTokens (Stepper.forCodec does)");
    }
    if ((degrees || barTable) && !keyTable) {
      throw new Error("degree logits and a bar table need a key table; got none");
    }
    checkShapes(list, keyTable, degreeKernel, degreeBias, barTable);
    [this.keyFirst, this.keyCount] = keyTable ? keyTokens : [0, 0];
    const tensor = ({ shape, values }) => tf.tensor(values, shape, "float32");
    this.embedding = tensor(list[0]);
    this.keyTable = keyTable && tensor(keyTable);
    this.keyRows = keyTable ? keyTable.shape[0] : 0;
    this.lstms = [];
    for (let i = 1; i < list.length - 2; i += 3) {
      const [kernel, recurrent, bias] = list.slice(i, i + 3).map(tensor);
      this.lstms.push({ kernel, recurrent, bias, units: recurrent.shape[0] });
    }
    [this.kernel, this.bias] = list.slice(-2).map(tensor);
    const vocab = this.bias.shape[0];
    if (degrees && degrees.length !== this.keyRows * vocab) {
      throw new Error(`the degree index has ${degrees.length} entries, not ` +
        `${this.keyRows} key rows x ${vocab} tokens`);
    }
    this.degreeKernel = degreeKernel && tensor(degreeKernel);
    this.degreeBias = degreeBias && tensor(degreeBias);
    this.degreeIndex = degrees && tf.tensor2d(degrees, [this.keyRows, vocab], "int32");
    this.barTable = barTable && tensor(barTable);
    this.barId = barTable ? barId : null;
    this.states = null;
    this.reset();
  }

  /**
   * A Stepper of `weights` that reads the key from `codec`'s KEY tokens. For a
   * v2 codec the weights end with the key table, then maybe the degree kernel
   * and bias (a last array of 24 values), then maybe the bar-count table (64
   * rows of the embedding's width), which it tells by their shapes as
   * Stepper.for_codec does.
   */
  static forCodec(weights, codec) {
    const keys = codec.ranges.KEY;
    if (!keys) return new Stepper(weights);
    const is = (w, shape) => w.shape.join() === shape.join() && w.shape.length === shape.length;
    const rest = [...weights];
    const bars = is(rest.at(-1), [BAR_ROWS, weights[0].shape[1]]);
    if (bars) rest.pop();
    const degrees = is(rest.at(-1), [DEGREES]) ? degreeIndex(codec) : null;
    return new Stepper(weights, [keys.first, keys.count], degrees, bars ? codec.barId : null);
  }

  /** Zero the LSTM states and forget the key: the next step starts a new song. */
  reset() {
    this.disposeStates();
    this.key = this.keyRows - 1; // "no key read yet" (-1: no key table)
    this.bars = 0; // BAR tokens read
    this.states = this.lstms.map(({ units }) =>
      ({ h: tf.zeros([1, units]), c: tf.zeros([1, units]) }));
  }

  /** Feed tokenId; returns the next-token logits. Frees every tensor it makes but the states. */
  step(tokenId) {
    if (this.keyTable && tokenId - this.keyFirst >= 0 && tokenId - this.keyFirst < this.keyCount) {
      this.key = tokenId - this.keyFirst;
    }
    if (this.barTable && tokenId === this.barId) this.bars = Math.min(this.bars + 1, BAR_ROWS - 1);
    const { logits, states } = tf.tidy(() => {
      let x = tf.gather(this.embedding, tf.tensor1d([tokenId], "int32"));
      if (this.keyTable) x = tf.add(x, tf.gather(this.keyTable, tf.tensor1d([this.key], "int32")));
      if (this.barTable) x = tf.add(x, tf.gather(this.barTable, tf.tensor1d([this.bars], "int32")));
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

  disposeStates() {
    for (const { h, c } of this.states ?? []) tf.dispose([h, c]);
    this.states = null;
  }

  /** Free the states and the weights: the Stepper cannot step again. */
  dispose() {
    this.disposeStates();
    tf.dispose([this.embedding, this.keyTable, this.kernel, this.bias, this.degreeKernel,
      this.degreeBias, this.degreeIndex, this.barTable,
      ...this.lstms.flatMap(({ kernel, recurrent, bias }) => [kernel, recurrent, bias])]
      .filter(Boolean));
  }
}

/**
 * Throw unless the arrays chain as embedding -> LSTMs -> dense (then the key
 * table, of the embedding's width, the 24 degree logits and the 64-row bar
 * table): weights of another network, or a key-conditioned one given without
 * its keyTokens, degree index and BAR id, are refused.
 */
function checkShapes(list, keyTable, degreeKernel, degreeBias, barTable) {
  const shape = (w) => w.shape.join("x");
  const [vocab, width] = list[0].shape;
  const units = list[2].shape[0];
  const want = [[vocab, width]];
  for (let i = 1; i < list.length - 2; i += 3) {
    want.push([i === 1 ? width : units, 4 * units], [units, 4 * units], [4 * units]);
  }
  want.push([units, vocab], [vocab]);
  const got = [...list, keyTable, degreeKernel, degreeBias, barTable].filter(Boolean);
  if (keyTable) want.push([keyTable.shape[0], width]);
  if (degreeKernel) want.push([units, DEGREES], [DEGREES]);
  if (barTable) want.push([BAR_ROWS, width]);
  if (got.some((w, i) => shape(w) !== want[i].join("x") || w.shape.length !== want[i].length)) {
    throw new Error(`weights of shapes ${got.map(shape).join(", ")} are not an embedding, ` +
      "LSTMs and dense in order (a key-conditioned network needs its keyTokens, degree " +
      "index and BAR id: Stepper.forCodec gives them)");
  }
}
