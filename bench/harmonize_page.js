// In-page half of bench/harmonize.py (bundled by it with esbuild; not part of the site).
//
// window.benchHarmonize(modelUrl, wasmUrl, song, options): on the wasm backend,
//   load the export (timed), take the melody of song (readSong-shaped: {notes
//   [{start, end, pitch}] in beats, meters, key}) with web/src/mirror/harmony.js's
//   melodyLine, keep its first options.notes notes, and harmonize it
//   options.runs times (seeds 0, 1, ...), timing each call from reset() to the
//   ids; plus the tensors left over.

import * as tf from "@tensorflow/tfjs-core";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { harmonize, melodyLine, melodyOf } from "../web/src/mirror/harmony.js";
import { loadComposer } from "../web/src/worker/model.js";

window.benchHarmonize = async (modelUrl, wasmUrl, song, { notes = 32, runs = 5,
  temperature = 1, topP = 0.95 } = {}) => {
  setWasmPaths(wasmUrl);
  await tf.setBackend("wasm");
  const before = tf.memory().numTensors;
  const t0 = performance.now();
  const composer = await loadComposer(modelUrl);
  const loadMs = performance.now() - t0;
  const codec = composer.codec;
  const line = melodyLine(codec, song);
  const melody = melodyOf(line.notes.slice(0, notes), line.meta, line.meta.key);
  const results = [];
  for (let seed = 0; seed < runs; seed++) {
    const t = performance.now();
    composer.reset();
    const { ids, fallbacks } = harmonize((id) => composer.step(id), codec, melody,
      { temperature, topP, seed });
    const ms = performance.now() - t;
    results.push({ seed, ms, tokens: ids.length, notes: codec.decode(ids).length, fallbacks });
  }
  composer.dispose();
  return { backend: tf.getBackend(), loadMs, melody: melody.notes.length,
    key: melody.meta.key, meter: melody.meta.meter, results,
    leftover: tf.memory().numTensors - before };
};
