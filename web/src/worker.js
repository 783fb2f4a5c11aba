// The composer's Web Worker: loads each model once and generates off the page's thread.
//
// In:  {type: "load", model}   start loading a model (no reply; errors wait
//       for the next "generate" of that model, which loads it again)
//      {type: "generate", id, model (URL of an export folder), prime (raw notes
//       [{start, end, pitch}] in beats, or null), primeNotes, maxNotes,
//       temperature, topP, seed}
// Out: {type: "loaded", id, config, backend, ms}   the model is ready; backend
//           is "wasm SIMD" (every current browser) or "wasm, no SIMD"
//      {type: "progress", id, notes, tokens, primeNotes}
//           at the first note, then at most every PROGRESS_MS
//      {type: "done", id, notes, tokens, primeNotes, ms, numTensors, backend}
//      {type: "error", id, message}
// notes are decoded {start, duration, pitch} in grid steps, prime included;
// tokens are the ids from BOS on. A song is a pure function of (model,
// prime, maxNotes, temperature, topP, seed). Cancelling is terminate():
// generate() is synchronous, and the shared flag that could stop it needs
// cross-origin isolation, which GitHub Pages cannot switch on.

import * as tf from "@tensorflow/tfjs-core";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { loadComposer } from "./model.js";
import { generate } from "./sampler.js";

const PROGRESS_MS = 50;
const models = new Map(); // export folder URL -> Promise<Composer>
let backend = null; // Promise<string>, the wasm binary in use (as the page shows it)

/**
 * Start tfjs on the wasm backend, binaries from the site's assets/wasm/ (once);
 * resolves to the binary's name as the page shows it. Threads stay off even
 * where the page is cross-origin isolated, so that every browser with
 * WebAssembly SIMD runs the same binary and a seed names the same song
 * (bench/browser_determinism.py; site/compose.md says when a link holds).
 */
function startBackend() {
  backend ??= (async () => {
    tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
    setWasmPaths(new URL("../wasm/", self.location.href).href);
    if (!(await tf.setBackend("wasm"))) throw new Error("WebAssembly could not start");
    return (await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT")) ? "wasm SIMD" : "wasm, no SIMD";
  })();
  return backend;
}

/** The Composer of the export folder at url, loaded on first use. */
function composer(url) {
  if (!models.has(url)) {
    const loading = startBackend().then(() => loadComposer(url));
    loading.catch(() => models.delete(url)); // a failed load may be retried
    models.set(url, loading);
  }
  return models.get(url);
}

/** Token ids BOS + the first `count` notes of raw prime notes (none: just BOS). */
function primeIds(codec, raw, count) {
  const notes = raw ? codec.quantise(raw).slice(0, count) : [];
  if (raw && !notes.length) throw new Error("the MIDI file has no notes this model can play");
  return { ids: codec.encode(notes).slice(0, -1), notes: notes.length };
}

async function compose(msg) {
  const { id } = msg;
  const t0 = performance.now();
  const model = await composer(msg.model);
  self.postMessage({ type: "loaded", id, config: model.config, backend: await backend,
    ms: performance.now() - t0 });
  const { codec } = model;
  const prime = primeIds(codec, msg.prime, msg.primeNotes);
  const tokens = prime.ids.slice();
  let last = performance.now(), shown = false;
  model.reset();
  generate((t) => model.step(t), codec, prime.ids, {
    maxNotes: msg.maxNotes, temperature: msg.temperature, topP: msg.topP, seed: msg.seed,
    onToken(t) {
      tokens.push(t);
      const firstNote = !shown && codec.kind[t] === 1; // a DUR may complete the first note
      if (!firstNote && performance.now() - last < PROGRESS_MS) return;
      const notes = codec.decode(tokens);
      shown ||= notes.length > 0;
      last = performance.now();
      self.postMessage({ type: "progress", id, notes, tokens: tokens.length,
        primeNotes: prime.notes });
    },
  });
  model.reset();
  self.postMessage({ type: "done", id, notes: codec.decode(tokens), tokens,
    primeNotes: prime.notes, ms: performance.now() - t0, numTensors: tf.memory().numTensors,
    backend: await backend });
}

self.onmessage = async ({ data }) => {
  if (data?.type === "load") composer(data.model).catch(() => {});
  if (data?.type !== "generate") return;
  try {
    await compose(data);
  } catch (e) {
    self.postMessage({ type: "error", id: data.id, message: e?.message ?? String(e) });
  }
};
