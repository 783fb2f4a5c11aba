// One LSTM step per token with plain tfjs-core ops, as trainer/stepper.py does in numpy.
//
// tfjs-layers' predict() spends about as long on its own bookkeeping as on the
// arithmetic of a 2 x 512 LSTM step; calling the ops directly halves the time
// per token. The Stepper reads the weights of the exported model (Embedding,
// LSTM..., Dense; Keras gate order i, f, c, o) without copying them, and keeps
// the LSTM states (h, c) itself. tests/js/stepper.test.mjs holds it to the
// layers model's own predict().

import * as tf from "@tensorflow/tfjs-core";

/** Throw unless the layers model is Embedding -> plain LSTMs -> linear Dense. */
function checkLayers(layers) {
  const names = layers.map((l) => l.getClassName());
  const lstms = layers.slice(1, -1);
  const plain = lstms.every((l) => {
    const c = l.getConfig();
    return c.activation === "tanh" && c.recurrentActivation === "sigmoid" && c.useBias;
  });
  const dense = layers.at(-1).getConfig();
  if (names[0] !== "Embedding" || names.at(-1) !== "Dense" || !lstms.length ||
      lstms.some((l) => l.getClassName() !== "LSTM") || !plain ||
      dense.activation !== "linear" || !dense.useBias) {
    throw new Error(`unsupported network (${names.join(", ")}): expected Embedding, ` +
      "LSTM layers with tanh and sigmoid, and a linear Dense layer");
  }
}

export class Stepper {
  /** @param layersModel the loaded export: its weight tensors are used, not copied. */
  constructor(layersModel) {
    const layers = layersModel.layers.filter((l) => l.getClassName() !== "InputLayer");
    checkLayers(layers);
    [this.embedding] = layers[0].getWeights();
    this.lstms = layers.slice(1, -1).map((l) => {
      const [kernel, recurrent, bias] = l.getWeights();
      return { kernel, recurrent, bias, units: recurrent.shape[0] };
    });
    [this.kernel, this.bias] = layers.at(-1).getWeights();
    this.states = null;
    this.reset();
  }

  /** Zero the LSTM states: the next step starts a new song. */
  reset() {
    this.disposeStates();
    this.states = this.lstms.map(({ units }) =>
      ({ h: tf.zeros([1, units]), c: tf.zeros([1, units]) }));
  }

  /** Feed tokenId; returns the next-token logits. Frees every tensor it makes but the states. */
  step(tokenId) {
    const { logits, states } = tf.tidy(() => {
      let x = tf.gather(this.embedding, tf.tensor1d([tokenId], "int32"));
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
}
