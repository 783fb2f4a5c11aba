// In-page half of bench/browser_determinism.py (bundled by it with esbuild).
//
// window.songs({backend, simd, threads, wasmUrl, models, seeds, maxNotes,
//   temperature, topP}): start tfjs on one backend variant (must be the page's
//   first tfjs call: flags are read when the backend starts), then for each
//   model URL compose one song per seed exactly as web/src/worker/worker.js does, and
//   run the model's parity prime. Returns what ran (backend, the wasm flags,
//   XNNPACK's thread count) and per model {tokens: [[ids] per seed], logits:
//   [Float32 logits per prime step]}.

import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { getThreadsCount, setThreadsCount, setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { loadComposer } from "../web/src/worker/model.js";
import { generate } from "../web/src/mirror/sampler.js";

async function start({ backend, simd, threads, wasmUrl }) {
  if (backend === "wasm") {
    tf.env().set("WASM_HAS_SIMD_SUPPORT", simd);
    tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", threads > 0);
    if (threads > 0) setThreadsCount(threads);
    setWasmPaths(wasmUrl);
  }
  if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} did not start`);
  return {
    backend: tf.getBackend(), crossOriginIsolated: self.crossOriginIsolated,
    simd: backend === "wasm" && (await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT")),
    threads: backend === "wasm" ? getThreadsCount() : 0,
  };
}

window.songs = async (run) => {
  const started = await start(run);
  const out = { ...started, models: {} };
  for (const url of run.models) {
    const composer = await loadComposer(url);
    const { codec } = composer;
    const parity = await (await fetch(`${url}parity.json`)).json();
    composer.reset();
    const logits = parity.prime.map((t) => Array.from(composer.step(t)));
    const tokens = run.seeds.map((seed) => {
      composer.reset();
      return generate((t) => composer.step(t), codec, [codec.bosId], { maxNotes: run.maxNotes,
        temperature: run.temperature, topP: run.topP, seed });
    });
    composer.dispose();
    out.models[url] = { tokens, logits };
  }
  return out;
};
