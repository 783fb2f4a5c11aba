// In-page half of bench/browser.py (bundled by it with esbuild; not part of the site).
//
// window.benchSteps(modelUrl, wasmUrl): ms per token of the exported stateful
//   model (one step per token) vs a windowed copy with the same weights that
//   re-reads a 100-token window per token, on the wasm backend; plus their
//   logit difference on the same 100 tokens and the tensors left over.
// window.benchSongs(workerUrl, modelUrl, requests): the site's real worker,
//   fresh: for each request, ms to the first note shown and to the song.

import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { loadComposer } from "../web/src/model.js";

const WINDOW = 100;

/** The export's network as a plain (non-stateful) model reading [1, WINDOW] tokens. */
function windowedCopy(composer) {
  const { num_layers: layers, rnn_size: units, embedding_size: width } = composer.config.model;
  const vocab = composer.config.vocab_size;
  const model = tfl.sequential();
  model.add(tfl.layers.embedding({ inputDim: vocab, outputDim: width,
    batchInputShape: [1, WINDOW] }));
  for (let i = 0; i < layers; i++) {
    // Keras's LSTM gates use the sigmoid (tfjs-layers defaults to hardSigmoid);
    // zero initialisers: setWeights replaces them, and Orthogonal needs ops
    // this tfjs-core-only bundle does not register.
    model.add(tfl.layers.lstm({ units, recurrentActivation: "sigmoid",
      returnSequences: i < layers - 1, kernelInitializer: "zeros",
      recurrentInitializer: "zeros" }));
  }
  model.add(tfl.layers.dense({ units: vocab }));
  model.setWeights(composer.model.getWeights());
  return model;
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
  const windowed = windowedCopy(composer);
  const x = tf.tensor2d([tokens.slice(0, WINDOW)], [1, WINDOW], "int32");
  const predict = () => {
    const out = windowed.predict(x);
    const logits = out.dataSync();
    out.dispose();
    return logits;
  };
  const windowLogits = predict(); // warm-up, and the parity check
  const windowedMs = timeIt(windows, predict);
  let maxDiff = 0;
  windowLogits.forEach((v, i) => { maxDiff = Math.max(maxDiff, Math.abs(v - logits[i])); });
  x.dispose();
  windowed.dispose();
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
