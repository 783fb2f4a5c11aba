// The composer's Web Worker: loads each model once and generates off the page's thread.
//
// In:  {type: "load", model, files}   start loading a model (no reply; errors wait
//       for the next "generate" of that model, which loads it again)
//      {type: "unload", model}   free a model (a deleted one of the visitor's)
// Out: {type: "unloaded", model, numTensors}   the tensors still live after
// In:  {type: "generate", id, model (URL of an export folder, or "saved:ID" for a
//       model the visitor adapted, whose export folder's files {name: Uint8Array}
//       come as files: page/saved.js; every request names them), prime (a read
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
// In:  {type: "harmonize", id, model, melody (a read MIDI file, as for
//       "generate"'s prime: its top line is the melody), key ("D:minor") and
//       meter ("6/8", "other"): the melody's, null to keep the file's (its
//       time signatures, 4/4 without) and estimate the key from the melody;
//       temperature, topP, seed}
// Out: "loaded", "progress" and "done" as for "generate", primeNotes 0,
//      each with melody: the melody's notes {start, duration, pitch} in the
//      song's steps (harmony.js melodyLine: every one is a note of the song,
//      its top voice); "done" adds folded (melody notes moved by octaves into
//      the piano's range) and fallbacks (steps where the Constraint set the
//      Grammar aside); "error" as for "generate" (a mono or v1 model, a
//      melody with no notes).
// notes are decoded {start, duration, pitch} in grid steps, prime included;
// meta is Codec.decodeMeta of the tokens (key, meter, bars; null for a v1
// model); tokens are the ids from BOS on. A song is a pure function of
// (model, prime, maxNotes, temperature, topP, seed, key, meter), a
// harmonized one of (model, melody, key, meter, temperature, topP, seed). A v2 prime
// states its own key and meter (its file's): requests apply to songs that
// start from nothing. Cancelling is terminate():
// generate() is synchronous, and the shared flag that could stop it needs
// cross-origin isolation, which GitHub Pages cannot switch on.

import * as tf from "@tensorflow/tfjs-core";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { KIND } from "../mirror/codec.js";
import { harmonize, melodyLine, voicingGuard } from "../mirror/harmony.js";
import { parseKey, parseMeter } from "../mirror/keys.js";
import { loadComposer } from "./model.js";
import { memoryFolder } from "./verify.js";
import { generate } from "../mirror/sampler.js";
import { pastFirstOnset } from "../notation/music.js";

const PROGRESS_MS = 50;
const models = new Map(); // export folder URL or "saved:ID" -> Promise<Composer>
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

/**
 * The Composer of the export folder at url (or of files, a folder in memory, which
 * url names), loaded on first use.
 */
function composer(url, files = null) {
  if (!models.has(url)) {
    const loading = startBackend().then(() => loadComposer(files
      ? memoryFolder(files, url) : url));
    loading.catch(() => models.delete(url)); // a failed load may be retried
    models.set(url, loading);
  }
  return models.get(url);
}

async function unload({ model }) {
  const loading = models.get(model);
  models.delete(model);
  await loading?.then((m) => m.dispose(), () => {});
  self.postMessage({ type: "unloaded", model, numTensors: tf.memory().numTensors });
}

/**
 * Token ids BOS + the first `count` notes of a read MIDI file (none: just
 * BOS), as trainer/compose/composing.py's prime_tokens: a v2 prime carries the
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

/** The model of msg, loaded; posts "loaded". */
async function load(msg, t0) {
  const model = await composer(msg.model, msg.files);
  self.postMessage({ type: "loaded", id: msg.id, config: model.config, backend: await backend,
    ms: performance.now() - t0 });
  return model;
}

/**
 * onToken for a song growing from `tokens` (mutated): posts "progress" with
 * extra at each note until the first onset is whole (the page starts playing
 * then), then at most every PROGRESS_MS.
 */
function progress(codec, id, tokens, extra) {
  let last = performance.now(), whole = false;
  return (t) => {
    tokens.push(t);
    const early = !whole && codec.kind[t] === KIND.DUR; // a DUR completes a note
    if (!early && performance.now() - last < PROGRESS_MS) return;
    const { notes, meta } = codec.decodeSong(tokens);
    whole ||= pastFirstOnset(notes);
    last = performance.now();
    self.postMessage({ type: "progress", id, notes, meta, tokens: tokens.length, ...extra });
  };
}

/** Posts "done" for the song of tokens, with extra. */
async function done(codec, id, tokens, t0, extra) {
  const { notes, meta } = codec.decodeSong(tokens);
  self.postMessage({ type: "done", id, notes, meta, tokens, ms: performance.now() - t0,
    numTensors: tf.memory().numTensors, backend: await backend, ...extra });
}

async function compose(msg) {
  const t0 = performance.now();
  const model = await load(msg, t0);
  const { codec } = model;
  const prime = primeIds(codec, msg.prime, msg.primeNotes);
  const tokens = prime.ids.slice();
  model.reset();
  generate((t) => model.step(t), codec, prime.ids, {
    maxNotes: msg.maxNotes, temperature: msg.temperature, topP: msg.topP, seed: msg.seed,
    ...requests(codec, msg, prime.notes > 0),
    constraint: voicingGuard(codec), // chords that are chords (harmony.js VoicingGuard)
    form: model.form, // bars that come back (form.js FormHead), where the model has one
    onToken: progress(codec, msg.id, tokens, { primeNotes: prime.notes }),
  });
  model.reset();
  await done(codec, msg.id, tokens, t0, { primeNotes: prime.notes });
}

async function harmonizeMelody(msg) {
  const t0 = performance.now();
  const model = await load(msg, t0);
  const { codec } = model;
  const line = melodyLine(codec, msg.melody, { key: msg.key ? parseKey(msg.key) : null,
    meter: msg.meter ? parseMeter(msg.meter) : null });
  const tokens = [codec.bosId];
  const extra = { primeNotes: 0, melody: line.notes };
  model.reset();
  let result;
  try {
    result = harmonize((t) => model.step(t), codec, line, { temperature: msg.temperature,
      topP: msg.topP, seed: msg.seed, onToken: progress(codec, msg.id, tokens, extra) });
  } finally {
    model.reset();
  }
  await done(codec, msg.id, Array.from(result.ids), t0,
    { ...extra, folded: line.folded, fallbacks: result.fallbacks });
}

const JOBS = { generate: compose, harmonize: harmonizeMelody };

self.onmessage = async ({ data }) => {
  if (data?.type === "load") composer(data.model, data.files).catch(() => {});
  if (data?.type === "unload") unload(data);
  const job = JOBS[data?.type];
  if (!job) return;
  try {
    await job(data);
  } catch (e) {
    self.postMessage({ type: "error", id: data.id, message: e?.message ?? String(e) });
  }
};
