// The composer's Web Worker: loads each model once and generates off the page's thread.
//
// In:  {type: "load", model}   start loading a model (no reply; errors wait
//       for the next "generate" of that model, which loads it again)
//      {type: "generate", id, model (URL of an export folder), prime (a read
//       MIDI file {notes: [{start, end, pitch}] in beats, meters, key}, as
//       midifile.js readSong gives it, or null), primeNotes, maxNotes,
//       temperature, topP, seed, key ("D:minor") and meter ("6/8",
//       "other"): a codec v2 model's requests, null for its own choice}
// Out: {type: "loaded", id, config, backend, ms}   the model is ready; backend
//           is "wasm SIMD" (every current browser) or "wasm, no SIMD"
//      {type: "progress", id, notes, meta, tokens, primeNotes}
//           at the first note, then at most every PROGRESS_MS
//      {type: "done", id, notes, meta, tokens, primeNotes, ms, numTensors, backend}
//      {type: "error", id, message}
// notes are decoded {start, duration, pitch} in grid steps, prime included;
// meta is Codec.decodeMeta of the tokens (key, meter, bars; null for a v1
// model); tokens are the ids from BOS on. A song is a pure function of
// (model, prime, maxNotes, temperature, topP, seed, key, meter). A v2 prime
// states its own key and meter (its file's): requests apply to songs that
// start from nothing. Cancelling is terminate():
// generate() is synchronous, and the shared flag that could stop it needs
// cross-origin isolation, which GitHub Pages cannot switch on.

import * as tf from "@tensorflow/tfjs-core";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { KIND } from "./codec.js";
import { parseKey, parseMeter } from "./keys.js";
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

/**
 * Token ids BOS + the first `count` notes of a read MIDI file (none: just
 * BOS), as trainer/composing.py's prime_tokens: a v2 prime carries the
 * file's key (its signature where the notes agree), meter and bar lines.
 */
function primeIds(codec, song, count) {
  if (!song) return { ids: [codec.bosId], notes: 0 };
  const { notes, meta } = codec.version >= 2
    ? codec.quantiseSong(song.notes, song.meters, song.key)
    : { notes: codec.quantise(song.notes), meta: null };
  if (!notes.length) throw new Error("the MIDI file has no notes this model can play");
  const head = notes.slice(0, count);
  const last = head.reduce((m, n) => Math.max(m, n.start), 0);
  if (meta) meta.bars = meta.bars.filter(([step]) => step <= last);
  return { ids: codec.encode(head, meta).slice(0, -1), notes: head.length };
}

/**
 * The KEY and METER ids a request names (null for none, for "any", for a
 * v1 model or after a prime). Throws naming the spellings for a bad name.
 */
function requests(codec, { key, meter }, primed) {
  if (codec.version < 2 || primed) return { key: null, meter: null };
  const k = key ? parseKey(key) : null, m = meter ? parseMeter(meter) : null;
  return { key: k ? codec.keyId(k) : null, meter: m ? codec.meterId(m) : null };
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
    ...requests(codec, msg, prime.notes > 0),
    onToken(t) {
      tokens.push(t);
      const firstNote = !shown && codec.kind[t] === KIND.DUR; // a DUR may complete the first note
      if (!firstNote && performance.now() - last < PROGRESS_MS) return;
      const { notes, meta } = codec.decodeSong(tokens);
      shown ||= notes.length > 0;
      last = performance.now();
      self.postMessage({ type: "progress", id, notes, meta, tokens: tokens.length,
        primeNotes: prime.notes });
    },
  });
  model.reset();
  const { notes, meta } = codec.decodeSong(tokens);
  self.postMessage({ type: "done", id, notes, meta, tokens, primeNotes: prime.notes,
    ms: performance.now() - t0, numTensors: tf.memory().numTensors, backend: await backend });
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
