// In-page half of bench/browser.py (bundled by it with esbuild; not part of the site).
//
// window.benchSteps(modelUrl, wasmUrl): ms per token of the export's Stepper
//   (web/src/mirror/stepper.js: one step per token, carrying the LSTM states) vs a
//   windowed pass with the same weights that re-reads a 100-token window per
//   token (the tutorial way), on the wasm backend; plus their logit
//   difference on the same 100 tokens and the tensors left over.
// window.benchSongs(workerUrl, modelUrl, requests): the site's real worker,
//   fresh: for each request, ms to the first note shown and to the song.

import * as tf from "@tensorflow/tfjs-core";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { loadComposer } from "../web/src/worker/model.js";

const WINDOW = 100;

/**
 * The next-token logits after `tokens` from a fresh state, computed over the
 * whole window at once with plain tfjs-core ops, independently of the
 * Stepper's step(): each layer's input projection for all positions in one
 * matMul, then the recurrence over time; only the last position's logits.
 * The weights are the Stepper's own tensors (trainer/compose/stepper.py's
 * arithmetic: Keras gate order i, f, c, o, sigmoid gates, tanh); a key table
 * adds, at each position, the row of the last KEY token read so far (the
 * last row before any), a bar-count table the row of the BARs read so far,
 * and degree logits each NOTE's scale-degree score in the last key read.
 */
function windowedLogits(stepper, tokens) {
  return tf.tidy(() => {
    let x = tf.gather(stepper.embedding, tf.tensor1d(tokens, "int32"));
    if (stepper.keyTable) {
      let key = stepper.keyRows - 1;
      const rows = tokens.map((t) => {
        if (t - stepper.keyFirst >= 0 && t - stepper.keyFirst < stepper.keyCount) {
          key = t - stepper.keyFirst;
        }
        return key;
      });
      x = tf.add(x, tf.gather(stepper.keyTable, tf.tensor1d(rows, "int32")));
    }
    if (stepper.barTable) { // the bar count: BAR tokens read so far, this one included
      let bars = 0;
      const counts = tokens.map((t) => (bars = Math.min(bars + (t === stepper.barId), 63)));
      x = tf.add(x, tf.gather(stepper.barTable, tf.tensor1d(counts, "int32")));
    }
    for (const { kernel, recurrent, bias, units } of stepper.lstms) {
      const inputs = tf.unstack(tf.add(tf.matMul(x, kernel), bias)); // [4 * units] per position
      let h = tf.zeros([1, units]), c = tf.zeros([1, units]);
      const hs = inputs.map((input) => {
        const [i, f, g, o] = tf.split(tf.add(tf.matMul(h, recurrent), input), 4, 1);
        c = tf.add(tf.mul(tf.sigmoid(f), c), tf.mul(tf.sigmoid(i), tf.tanh(g)));
        h = tf.mul(tf.sigmoid(o), tf.tanh(c));
        return h;
      });
      x = tf.concat(hs, 0); // [positions, units]
    }
    const last = tf.slice(x, [tokens.length - 1, 0], [1, -1]);
    let logits = tf.add(tf.matMul(last, stepper.kernel), stepper.bias);
    if (stepper.degreeIndex) { // each NOTE's scale degree in the last key read
      let key = stepper.keyRows - 1;
      for (const t of tokens) {
        if (t - stepper.keyFirst >= 0 && t - stepper.keyFirst < stepper.keyCount) key = t - stepper.keyFirst;
      }
      const scores = tf.concat([tf.add(tf.matMul(last, stepper.degreeKernel), stepper.degreeBias),
        tf.zeros([1, 1])], 1);
      const columns = tf.reshape(tf.gather(stepper.degreeIndex, tf.tensor1d([key], "int32")), [-1]);
      logits = tf.add(logits, tf.gather(scores, columns, 1));
    }
    return logits;
  });
}

/** ms per call of fn(i): the best of three rounds of count calls (a busy machine adds noise). */
function timeIt(count, fn) {
  const round = () => {
    const t0 = performance.now();
    for (let i = 0; i < count; i++) fn(i);
    return (performance.now() - t0) / count;
  };
  return Math.min(round(), round(), round());
}

window.benchSteps = async (modelUrl, wasmUrl, steps = 300, windows = 8) => {
  setWasmPaths(wasmUrl);
  await tf.setBackend("wasm");
  const before = tf.memory().numTensors;
  const composer = await loadComposer(modelUrl);
  const vocab = composer.config.vocab_size;
  const tokens = Array.from({ length: steps + WINDOW }, (_, i) => 3 + ((i * 7919) % (vocab - 3)));
  composer.reset();
  let logits = null;
  tokens.slice(0, WINDOW).forEach((t) => { logits = composer.step(t); }); // also warms up
  const statefulMs = timeIt(steps, (i) => {
    if (i === 0) composer.reset(); // each round is a song from its start
    return composer.step(tokens[i]);
  });
  const prime = tokens.slice(0, WINDOW);
  const predict = () => {
    const out = windowedLogits(composer.stepper, prime);
    const values = out.dataSync();
    out.dispose();
    return values;
  };
  const windowLogits = predict(); // warm-up, and the parity check
  const windowedMs = timeIt(windows, predict);
  let maxDiff = 0;
  windowLogits.forEach((v, i) => { maxDiff = Math.max(maxDiff, Math.abs(v - logits[i])); });
  composer.dispose();
  return { backend: tf.getBackend(), statefulMs, windowedMs, maxDiff,
    leftover: tf.memory().numTensors - before };
};

window.benchSongs = (workerUrl, modelUrl, requests) => new Promise((resolve, reject) => {
  const worker = new Worker(workerUrl);
  const results = [];
  let t0 = 0, first = null;
  const next = () => {
    const request = requests[results.length];
    if (!request) {
      worker.terminate();
      return resolve(results);
    }
    t0 = performance.now();
    first = null;
    worker.postMessage({ type: "generate", id: results.length, model: modelUrl, prime: null,
      primeNotes: 0, temperature: 1, topP: 0.95, ...request });
  };
  worker.onmessage = ({ data }) => {
    if (data.type === "error") reject(new Error(data.message));
    if (data.type === "progress" && first === null && data.notes.length) {
      first = performance.now() - t0;
    }
    if (data.type !== "done") return;
    results.push({ firstNoteMs: first ?? performance.now() - t0, totalMs: performance.now() - t0,
      notes: data.notes.length, tokens: data.tokens.length, numTensors: data.numTensors });
    next();
  };
  worker.onerror = (e) => reject(new Error(e.message));
  next();
});
