// The "Make it yours" Web Worker: adapts a shipped model to the visitor's MIDI files,
// off the page's thread, and hands back the adapted model as a standard export folder.
//
// In:  {type: "adapt", id, base (URL of the shipped model's export folder), files
//       ([{name, bytes}], the visitor's MIDI files), name (the new model's), backend
//       ("wasm", "cpu" or "webgl"; null: wasm, else cpu, whichever starts)}
// Out: {type: "started", id, backend}   the backend that trains
//      {type: "read", id, train, heldOut (the files' names), skipped ([{name,
//           reason}]: every file that cannot be used, as `prepare` says it),
//           trainNotes, heldOutNotes}
//      {type: "progress", id, ...report}   adapt.js onProgress's report: phase
//           "states" (the LSTM reads the songs) or "train" (after each epoch, with
//           the curve so far)
//      {type: "done", id, files (the adapted export folder, {name: Uint8Array}),
//           report {base, nllBefore, nllAfter, history, bestEpoch, stopped, seconds,
//           train, heldOut, skipped, trainNotes, heldOutNotes, backend}, numTensors}
//      {type: "error", id, message}
// The base model is only read (fetched from the site, checked as the composer checks
// it); nothing here writes storage: the page saves what "done" brings. Every tensor
// made is freed before "done" or "error" (numTensors says how many live). Cancelling
// is terminate(), as for the composer's worker: the page then starts a fresh one.

import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-core/dist/register_all_gradients";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-webgl";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { adapt } from "../adapt/adapt.js";
import { exportAdapted } from "../adapt/export.js";
import { readSongs, splitSongs } from "../adapt/songs.js";
import { reason } from "../common/reason.js";
import { readFolder } from "./model.js";
import { httpFolder, memoryFolder, readJson } from "./verify.js";

/**
 * Start tfjs on `wanted`, or on wasm then cpu for null; resolves the backend's name.
 * wasm trains the output layers fastest (bench/adapt_node.mjs, bench/finetune.py),
 * and the same binaries as the composer's are used (site assets/wasm/).
 */
async function startBackend(wanted) {
  setWasmPaths(new URL("../wasm/", self.location.href).href);
  tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
  for (const name of wanted ? [wanted] : ["wasm", "cpu"]) {
    try {
      if (await tf.setBackend(name)) return name;
    } catch { /* the next one */ }
  }
  throw new Error(wanted ? `the ${wanted} backend could not start in this browser`
    : "neither WebAssembly nor plain JavaScript training could start");
}

/** Every file of the export folder at url, fetched once each: {name: Uint8Array}. */
async function folderFiles(url) {
  const folder = httpFolder(url);
  const files = { "config.json": await folder.read("config.json") };
  const config = await readJson(memoryFolder(files, url), "config.json");
  const names = [...new Set([...(config.files ?? []), ...Object.keys(config.shards ?? {})])]
    .filter((n) => !(n in files));
  await Promise.all(names.map(async (n) => { files[n] = await folder.read(n); }));
  return files;
}

async function run(msg) {
  const backend = await startBackend(msg.backend);
  self.postMessage({ type: "started", id: msg.id, backend });
  const baseFiles = await folderFiles(msg.base);
  const base = await readFolder(memoryFolder(baseFiles, msg.base));
  const { songs, skipped } = readSongs(msg.files, base.codec);
  const notes = (list) => list.reduce((n, s) => n + s.notes, 0);
  const parts = splitSongs(songs); // throws for fewer than two usable files
  const read = { train: parts.train.map((s) => s.name), heldOut: parts.heldOut.map((s) => s.name),
    skipped, trainNotes: notes(parts.train), heldOutNotes: notes(parts.heldOut) };
  self.postMessage({ type: "read", id: msg.id, ...read });
  const result = await adapt(base, parts, {
    onProgress: (p) => self.postMessage({ type: "progress", id: msg.id, ...p }) });
  const files = await exportAdapted(baseFiles, result, msg.name, { train: read.train,
    heldOut: read.heldOut, skipped });
  const report = { base: base.config.name ?? null, nllBefore: result.nllBefore,
    nllAfter: result.nllAfter, history: result.history, bestEpoch: result.bestEpoch,
    stopped: result.stopped, seconds: result.seconds, backend, ...read };
  self.postMessage({ type: "done", id: msg.id, files, report,
    numTensors: tf.memory().numTensors });
}

self.onmessage = async ({ data }) => {
  if (data?.type !== "adapt") return;
  try {
    await run(data);
  } catch (e) {
    self.postMessage({ type: "error", id: data.id, message: reason(e),
      numTensors: tf.memory().numTensors });
  }
};
