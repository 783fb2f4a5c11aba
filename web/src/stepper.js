// One LSTM step per token with plain tfjs-core ops, as trainer/stepper.py does in numpy.
//
// The weights are the export's float32 arrays in trainer/stepper.py's order
// (web/src/verify.js stepperWeights): embedding, then (kernel, recurrent
// kernel, bias) per LSTM layer with Keras's gate order (input, forget, cell,
// output), sigmoid gates and tanh, then the dense kernel and bias; a
// key-conditioned (codec v2) network then has its key table (25 rows): the
// input at each step is the token's embedding plus the row of the song's key,
// row 24 until a KEY token is read, that KEY's row from the step that reads it
// on. The Stepper makes its own tensors of them and keeps the LSTM states
// (h, c); tests/js/stepper.test.mjs holds it to the numpy Stepper's logits.

import * as tf from "@tensorflow/tfjs-core";

export class Stepper {
  /**
   * @param weights [{shape, values: Float32Array}] in the order above
   * @param keyTokens [first KEY id, count] for a key table (Stepper.forCodec gives them)
   */
  constructor(weights, keyTokens = null) {
    const n = weights.length;
    if (n < 6 || ![0, 1].includes((n - 3) % 3)) {
      throw new Error(`expected embedding, 3 arrays per LSTM and dense (and a key table); ` +
        `got ${n}`);
    }
    const list = [...weights];
    const keyTable = (n - 3) % 3 === 1 ? list.pop() : null;
    if (keyTable && !keyTokens) {
      throw new Error("these weights condition on the key: give keyTokens (Stepper.forCodec does)");
    }
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
    this.states = null;
    this.reset();
  }

  /** A Stepper of `weights` that reads the key from `codec`'s KEY tokens. */
  static forCodec(weights, codec) {
    const keys = codec.ranges.KEY;
    return new Stepper(weights, keys ? [keys.first, keys.count] : null);
  }

  /** Zero the LSTM states and forget the key: the next step starts a new song. */
  reset() {
    this.disposeStates();
    this.key = this.keyRows - 1; // "no key read yet" (-1: no key table)
    this.states = this.lstms.map(({ units }) =>
      ({ h: tf.zeros([1, units]), c: tf.zeros([1, units]) }));
  }

  /** Feed tokenId; returns the next-token logits. Frees every tensor it makes but the states. */
  step(tokenId) {
    if (this.keyTable && tokenId - this.keyFirst >= 0 && tokenId - this.keyFirst < this.keyCount) {
      this.key = tokenId - this.keyFirst;
    }
    const { logits, states } = tf.tidy(() => {
      let x = tf.gather(this.embedding, tf.tensor1d([tokenId], "int32"));
      if (this.keyTable) x = tf.add(x, tf.gather(this.keyTable, tf.tensor1d([this.key], "int32")));
      const next = this.lstms.map((w, layer) => {
        const { h, c } = this.states[layer];
        const input = tf.fused.matMul({ a: x, b: w.kernel, bias: w.bias });
        const z = tf.add(tf.matMul(h, w.recurrent), input); // wasm: fused bias must be rank 1
        const [i, f, g, o] = tf.split(z, 4, 1);
        const cNext = tf.add(tf.mul(tf.sigmoid(f), c), tf.mul(tf.sigmoid(i), tf.tanh(g)));
        x = tf.mul(tf.sigmoid(o), tf.tanh(cNext));
        return { h: x, c: cNext };
      });
      return { logits: tf.fused.matMul({ a: x, b: this.kernel, bias: this.bias }), states: next };
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
    tf.dispose([this.embedding, this.keyTable, this.kernel, this.bias,
      ...this.lstms.flatMap(({ kernel, recurrent, bias }) => [kernel, recurrent, bias])]
      .filter(Boolean));
  }
}
