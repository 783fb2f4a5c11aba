// Adapt a model to a visitor's songs: train its output layers on the LSTM's hidden states.
//
// The network stays as it is up to its last LSTM layer: the Stepper
// (web/src/mirror/stepper.js) reads each song from BOS, as generation runs, and
// keeps after every token the last layer's output h, the key row in force (for
// degree logits) and the token that follows. What maps h to the next token is then
// trained on those: the `logits` kernel and bias and, where the network has them,
// the `degree_logits` kernel and bias, whose scores each NOTE logit gains by its
// scale degree in the key read (codec.js degreeIndex), as the Stepper adds them.
// With the LSTM fixed this is a convex fit of a few ten thousand numbers on stored
// features: seconds per epoch, and nothing of the LSTM is written a second time.
//
// Training minimises the NLL of the next token (TF.js's Adam, minibatches in a
// seeded order), starting from the base weights; after every epoch the NLL per
// note of the held-out songs decides: the best epoch's weights are kept, and
// training stops once `patience` epochs in a row have not beaten it. NLL per note
// is trainer/evaluation/likelihood.py's: the NLL of every target from the one
// after BOS to EOS, summed, over the notes.
//
// No DOM: this runs in a Web Worker and in node. The caller registers a tfjs
// backend and the gradients (node: importing @tensorflow/tfjs does both; a
// bundle: @tensorflow/tfjs-core/dist/register_all_gradients). Every tensor made
// here is freed before adapt() returns or throws; the base weights are only read.

import * as tf from "@tensorflow/tfjs-core";
import { degreeIndex } from "../mirror/codec.js";
import { mulberry32 } from "../mirror/sampler.js";
import { Stepper } from "../mirror/stepper.js";
import { shuffled } from "./songs.js";

/** The weights adapting trains; the network's others are returned as they came. */
export const OUTPUT_WEIGHTS = ["logits/kernel", "logits/bias", "degree_logits/kernel",
  "degree_logits/bias"];
export const DEFAULTS = Object.freeze({
  learningRate: 5e-3, // Adam's; from the base weights: the best epoch comes within a few
  batchSize: 256, // targets a step
  maxEpochs: 30,
  patience: 2, // epochs without a better held-out NLL before stopping
  seed: 0, // the order of the minibatches
});
const EVAL_ROWS = 2048; // targets per tensor when measuring
const YIELD_MS = 40; // the longest stretch of work between two turns of the event loop

/**
 * Adapt `base`'s output layers to `parts`' songs. Resolves {weights, nllBefore,
 * nllAfter, history, bestEpoch, stopped, seconds}: weights by name, every one of
 * the network's (the OUTPUT_WEIGHTS new Float32Arrays of the same shapes, the others
 * the base's own objects, to be read only); the held-out NLL per note with the base
 * weights and with the returned ones; history [{epoch, trainLoss, heldOutLoss}] (NLL
 * per note; epoch 0 the base; trainLoss of an epoch as its minibatches met the
 * training songs, the weights moving); bestEpoch (0: the base was never beaten, and its
 * weights come back); stopped "no gain" or "epoch limit"; seconds {states, training}.
 * Rejects with an AbortError once `signal` aborts, having freed what it made.
 * @param base {weights: {name: {shape, values}}, network, codec}: an export's
 *   weights by name (web/src/mirror/weights.js), model.json's network
 *   (web/src/mirror/network.js checkNetwork) and its Codec
 * @param parts {train: songs, heldOut: songs}, each song {tokens, notes}
 *   (web/src/adapt/songs.js)
 * @param options DEFAULTS' fields, and onProgress(report) called with
 *   {phase: "states", done, total, etaSeconds} after each song read and
 *   {phase: "train", epoch, maxEpochs, trainLoss, heldOutLoss, bestEpoch,
 *   etaSeconds, history (as the result's, so far)} after each epoch (etaSeconds:
 *   at most this long to the epoch limit; stopping early ends sooner), and signal,
 *   an AbortSignal that cancels
 */
export async function adapt(base, parts, options = {}) {
  const o = { ...DEFAULTS, ...options };
  const { weights, network, codec } = base;
  if (!parts.train.length || !parts.heldOut.length) {
    throw new Error("adapting needs songs to learn from and held-out songs to measure it");
  }
  const names = OUTPUT_WEIGHTS.filter((n) => n in weights);
  const started = performance.now();
  const all = [...parts.train, ...parts.heldOut];
  const states = await hiddenStates(new Stepper(weights, network, codec), all, o.signal,
    (done, seconds) => o.onProgress?.({ phase: "states", done, total: all.length,
      etaSeconds: (seconds / done) * (all.length - done) }));
  const split = parts.train.length;
  const train = slice(states, 0, split), heldOut = slice(states, split, all.length);
  const statesSeconds = (performance.now() - started) / 1000;
  const layer = new OutputLayer(weights, network, codec);
  const optimizer = tf.train.adam(o.learningRate);
  try {
    const nllBefore = layer.nllPerNote(heldOut);
    const history = [{ epoch: 0, trainLoss: layer.nllPerNote(train), heldOutLoss: nllBefore }];
    let best = { epoch: 0, loss: nllBefore, values: layer.values() };
    const random = mulberry32(o.seed);
    const t0 = performance.now();
    let stopped = "epoch limit";
    for (let epoch = 1; epoch <= o.maxEpochs; epoch++) {
      const trainLoss = await layer.epoch(optimizer, train, o.batchSize, random, o.signal);
      const heldOutLoss = layer.nllPerNote(heldOut);
      history.push({ epoch, trainLoss, heldOutLoss });
      if (heldOutLoss < best.loss) best = { epoch, loss: heldOutLoss, values: layer.values() };
      const perEpoch = (performance.now() - t0) / 1000 / epoch;
      o.onProgress?.({ phase: "train", epoch, maxEpochs: o.maxEpochs, trainLoss, heldOutLoss,
        bestEpoch: best.epoch, etaSeconds: perEpoch * (o.maxEpochs - epoch),
        history: history.map((h) => ({ ...h })) });
      if (epoch - best.epoch >= o.patience) {
        stopped = "no gain";
        break;
      }
    }
    const adapted = { ...weights };
    for (const name of names) {
      adapted[name] = { shape: weights[name].shape.slice(), values: best.values[name] };
    }
    return { weights: adapted, nllBefore, nllAfter: best.loss, history, bestEpoch: best.epoch,
      stopped, seconds: { states: statesSeconds, training: (performance.now() - t0) / 1000 } };
  } finally {
    optimizer.dispose();
    layer.dispose();
  }
}

/**
 * What the Stepper computes before each target of `songs`, from BOS, as generation
 * runs: {h: Float32Array (rows x units), keys: Int32Array (the key row in force),
 * targets: Int32Array, units, rows, notes, ends: each song's last row + 1}. The
 * stepper is disposed when done. onSong(done, seconds) after each song.
 */
export async function hiddenStates(stepper, songs, signal = null, onSong = null) {
  try {
    const rows = songs.reduce((n, s) => n + s.tokens.length - 1, 0);
    const units = stepper.lstms.at(-1).units;
    const out = { h: new Float32Array(rows * units), keys: new Int32Array(rows),
      targets: new Int32Array(rows), units, rows, notes: songs.reduce((n, s) => n + s.notes, 0),
      ends: [], songNotes: songs.map((s) => s.notes) };
    const t0 = performance.now();
    let row = 0, yielded = performance.now();
    for (const [i, { tokens }] of songs.entries()) {
      stepper.reset();
      for (let t = 0; t + 1 < tokens.length; t++, row++) {
        stepper.step(tokens[t]);
        out.h.set(stepper.hidden(), row * units);
        out.keys[row] = Math.max(stepper.key, 0); // -1: no key table (no degree logits either)
        out.targets[row] = tokens[t + 1];
        if (performance.now() - yielded > YIELD_MS) yielded = await turn(signal);
      }
      out.ends.push(row);
      onSong?.(i + 1, (performance.now() - t0) / 1000);
      yielded = await turn(signal); // a cancel is seen song by song, however short
    }
    return out;
  } finally {
    stepper.dispose();
  }
}

/** The rows of songs first..last - 1 of hiddenStates' result (views, not copies). */
function slice(states, first, last) {
  const from = first ? states.ends[first - 1] : 0, to = states.ends[last - 1];
  const { units } = states;
  return { h: states.h.subarray(from * units, to * units), keys: states.keys.subarray(from, to),
    targets: states.targets.subarray(from, to), units, rows: to - from,
    notes: states.songNotes.slice(first, last).reduce((n, x) => n + x, 0) };
}

/** The output layers as tfjs variables: logits = h W + b (+ the degree logits' share). */
class OutputLayer {
  constructor(weights, network, codec) {
    this.size = codec.size;
    this.degrees = network.degrees;
    const variable = (name) => tf.tidy(() => tf.variable(tf.tensor(weights[name].values,
      weights[name].shape, "float32"))); // unnamed: two adaptations may run side by side
    this.vars = { "logits/kernel": variable("logits/kernel"),
      "logits/bias": variable("logits/bias") };
    if (this.degrees) {
      this.vars["degree_logits/kernel"] = variable("degree_logits/kernel");
      this.vars["degree_logits/bias"] = variable("degree_logits/bias");
      this.keyRows = network.key_rows;
      [this.roll, this.notes] = degreeTables(codec, network.key_rows, this.degrees);
    }
  }

  /**
   * Summed NLL (a scalar tensor) of `count` rows of data from `from` (of `order`'s
   * rows, if given). The degree logits' share (see degreeTables) goes scores ->
   * the row's pitch-class scores -> the NOTE logits through two small matrix
   * products: the same sums as the Stepper's gather of each token's column, whose
   * gradient (a segment sum over every row's columns) is far slower on the cpu backend.
   */
  nllSum(data, from, count, order = null) {
    const { units } = data, size = this.size;
    const h = new Float32Array(count * units), targets = new Int32Array(count);
    const keys = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      const r = order ? order[from + i] : from + i;
      h.set(data.h.subarray(r * units, (r + 1) * units), i * units);
      targets[i] = data.targets[r];
      keys[i] = data.keys[r];
    }
    const v = this.vars;
    const x = tf.tensor2d(h, [count, units]);
    let logits = tf.add(tf.matMul(x, v["logits/kernel"]), v["logits/bias"]);
    if (this.degrees) {
      const scores = tf.add(tf.matMul(x, v["degree_logits/kernel"]), v["degree_logits/bias"]);
      const everyKey = tf.reshape(tf.matMul(scores, this.roll), [count, this.keyRows, 12]);
      const mine = tf.reshape(tf.oneHot(tf.tensor1d(keys, "int32"), this.keyRows),
        [count, this.keyRows, 1]);
      const classes = tf.sum(tf.mul(everyKey, mine), 1); // (count, 12)
      logits = tf.add(logits, tf.matMul(classes, this.notes));
    }
    const picked = tf.mul(tf.logSoftmax(logits), tf.oneHot(tf.tensor1d(targets, "int32"), size));
    return tf.neg(tf.sum(picked));
  }

  /** NLL per note of data with the current weights. */
  nllPerNote(data) {
    let total = 0;
    for (let from = 0; from < data.rows; from += EVAL_ROWS) {
      const sum = tf.tidy(() => this.nllSum(data, from, Math.min(EVAL_ROWS, data.rows - from)));
      total += sum.dataSync()[0];
      sum.dispose();
    }
    return total / Math.max(data.notes, 1);
  }

  /** One pass over data in minibatches of a fresh random order; resolves its NLL per note. */
  async epoch(optimizer, data, batchSize, random, signal) {
    const order = shuffled(data.rows, random);
    let total = 0, yielded = performance.now();
    const varList = Object.values(this.vars);
    for (let from = 0; from < data.rows; from += batchSize) {
      const count = Math.min(batchSize, data.rows - from);
      const cost = optimizer.minimize(() => tf.div(this.nllSum(data, from, count, order), count),
        true, varList);
      total += cost.dataSync()[0] * count;
      cost.dispose();
      if (performance.now() - yielded > YIELD_MS) yielded = await turn(signal);
    }
    await turn(signal);
    return total / Math.max(data.notes, 1);
  }

  /** {name: Float32Array} copies of the current weights. */
  values() {
    return Object.fromEntries(Object.entries(this.vars).map(([n, t]) => [n, t.dataSync().slice()]));
  }

  dispose() {
    tf.dispose([...Object.values(this.vars), this.roll, this.notes].filter(Boolean));
  }
}

/**
 * codec.js degreeIndex factored through pitch classes, as two tensors of 0 and 1:
 * roll (degrees x keyRows * 12), column 12k + c marking the degree logit pitch class
 * c reads in key row k (none in the no-key row), and notes (12 x vocabulary), the
 * pitch class of each NOTE token. The logit of token t under key row k then gains
 * (scores x roll)[12k + class] x notes[class][t], which is degreeIndex's column
 * for (k, t): a degree depends on a NOTE's pitch class alone, checked here.
 */
function degreeTables(codec, keyRows, degrees) {
  const index = degreeIndex(codec), size = codec.size, none = degrees;
  const width = keyRows * 12;
  const roll = new Float32Array(degrees * width), notes = new Float32Array(12 * size);
  const degreeOf = new Int32Array(width).fill(-1); // key row k, class c -> its degree
  for (let k = 0; k < keyRows; k++) {
    for (let t = 0; t < size; t++) {
      const degree = index[k * size + t];
      if (degree === none) continue;
      const column = k * 12 + (codec.value[t] % 12);
      if (degreeOf[column] >= 0 && degreeOf[column] !== degree) {
        throw new Error(`the degree logits of key row ${k} differ between NOTEs of one ` +
          "pitch class");
      }
      degreeOf[column] = degree;
      roll[degree * width + column] = 1;
      notes[(codec.value[t] % 12) * size + t] = 1;
    }
  }
  return [tf.tensor2d(roll, [degrees, keyRows * 12]), tf.tensor2d(notes, [12, size])];
}

/** Let the event loop turn (a cancel, a message can come in), then throw if cancelled. */
async function turn(signal) {
  await new Promise((resolve) => setTimeout(resolve, 0));
  if (signal?.aborted) throw new DOMException("adapting was cancelled", "AbortError");
  return performance.now();
}

