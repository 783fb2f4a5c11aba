// The page's side of worker.js: one worker per page load, one song at a time
// (composed or harmonized).
//
// The worker lives at module level, so its loaded models survive instant
// navigation between pages. cancel() terminates it (see worker.js for why);
// the next compose() starts a fresh one, which reloads the model from the
// HTTP cache.

import { SITE_ROOT } from "../common/paths.js";

const WORKER_URL = new URL("assets/bundle/worker.js", SITE_ROOT);

export class Cancelled extends Error {
  constructor() {
    super("cancelled");
    this.name = "Cancelled";
  }
}

let worker = null;
let job = null; // {id, resolve, reject, onMessage}
let nextId = 1;

function finish(error, value) {
  const current = job;
  job = null;
  if (error) current?.reject(error);
  else current?.resolve(value);
}

function getWorker() {
  if (worker) return worker;
  worker = new Worker(WORKER_URL);
  worker.onmessage = ({ data }) => {
    if (!job || data.id !== job.id) return;
    if (data.type === "error") finish(new Error(data.message));
    else if (data.type === "done") finish(null, data);
    else job.onMessage?.(data);
  };
  worker.onerror = (event) => {
    event.preventDefault();
    stopWorker();
    finish(new Error(`the composer could not start (${event.message || "worker failed"})`));
  };
  return worker;
}

function stopWorker() {
  worker?.terminate();
  worker = null;
}

function run(type, request, onMessage) {
  if (job) cancel();
  return new Promise((resolve, reject) => {
    job = { id: nextId++, resolve, reject, onMessage };
    getWorker().postMessage({ type, id: job.id, ...request });
  });
}

/**
 * Generate one song; resolves with the worker's "done" message. request is
 * the worker's "generate" message without type and id; onMessage sees the
 * "loaded" and "progress" messages. A second call (of this or harmonize)
 * cancels the first.
 */
export function compose(request, onMessage) {
  return run("generate", request, onMessage);
}

/** Harmonize a melody, as compose() does a song: request is the "harmonize" message's. */
export function harmonize(request, onMessage) {
  return run("harmonize", request, onMessage);
}

/** Start loading a model (catalog.js modelSource: {model, files?}) before it is needed. */
export function preload(source) {
  getWorker().postMessage({ type: "load", ...source });
}

/**
 * Free a model the worker may hold (a deleted "Yours" model: "saved:ID"); resolves
 * with the worker's live tensors after, or null when no worker runs.
 */
export function unload(model) {
  if (!worker) return Promise.resolve(null);
  return new Promise((resolve) => {
    const listen = ({ data }) => {
      if (data?.type !== "unloaded" || data.model !== model) return;
      worker?.removeEventListener("message", listen);
      resolve(data.numTensors);
    };
    worker.addEventListener("message", listen);
    worker.postMessage({ type: "unload", model });
  });
}

/** Stop the song being generated (its promise rejects with Cancelled). */
export function cancel() {
  if (!job) return;
  stopWorker();
  finish(new Cancelled());
}
