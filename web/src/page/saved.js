// The visitor's adapted models ("Make it yours"), kept in this browser's IndexedDB.
//
// Each is one record: {id, name, base (the shipped model it was adapted from),
// created (ISO time), files ({name: Uint8Array}: a whole standard export folder,
// web/src/adapt/export.js), report (what adapting measured: held-out NLL per note
// before and after, the training curve, the files learnt from and skipped)}.
// A model is written in one transaction once adapting has finished, so closing
// the tab mid-training leaves every earlier model as it was; the shipped models
// live on the site and are never written. The model menus list each as
// PREFIX + name, unique among them.

const DB = "cadenza";
const STORE = "adapted";
export const PREFIX = "Yours: ";
/** What a visitor is told when the browser keeps nothing (private windows, storage off). */
const REFUSED = "this browser does not let the page keep models (a private window, " +
  "or site storage is off)";
const FULL = "the browser's storage for this site is full";

/** Why an IndexedDB request or transaction failed, as one line a visitor reads. */
function failure(error) {
  if (error?.name === "QuotaExceededError") return new Error(FULL);
  if (error?.name === "InvalidStateError" || error?.name === "SecurityError" ||
      error?.name === "UnknownError") {
    return new Error(REFUSED);
  }
  return new Error(`the browser's storage failed (${error?.message || error?.name ||
    "no reason given"})`);
}

let opening = null;
function open() {
  opening ??= new Promise((resolve, reject) => {
    if (!globalThis.indexedDB) return reject(new Error(REFUSED));
    let request;
    try {
      request = indexedDB.open(DB, 1);
    } catch (e) {
      return reject(failure(e));
    }
    request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: "id" });
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error?.name === "QuotaExceededError"
      ? failure(request.error) : new Error(REFUSED));
    request.onblocked = () => reject(new Error("another tab of this site holds its storage " +
      "open in an older version: close it and try again"));
  });
  opening.catch(() => { opening = null; }); // a later call may try again
  return opening;
}

/** Run fn(store) in one transaction; resolves with fn's request's result once committed. */
async function transact(mode, fn) {
  const db = await open();
  return new Promise((resolve, reject) => {
    let tx, request;
    try {
      tx = db.transaction(STORE, mode);
      request = fn(tx.objectStore(STORE));
    } catch (e) {
      return reject(failure(e));
    }
    tx.oncomplete = () => resolve(request?.result);
    tx.onerror = (event) => {
      event.preventDefault(); // handled here: no uncaught error on the page
      reject(failure(tx.error ?? request?.error));
    };
    tx.onabort = () => reject(failure(tx.error ?? request?.error));
  });
}

/** Every saved model, oldest first. Rejects with REFUSED where the browser keeps nothing. */
export async function listSaved() {
  const all = await transact("readonly", (store) => store.getAll());
  return (all ?? []).sort((a, b) => (a.created < b.created ? -1 : a.created > b.created ? 1 : 0));
}

/** The name, trimmed and made unique among `taken` ("Reels", "Reels 2", ...). */
export function uniqueName(name, taken) {
  const base = String(name ?? "").replace(/\s+/g, " ").trim().slice(0, 60) || "my model";
  const used = new Set(taken);
  if (!used.has(base)) return base;
  let n = 2;
  while (used.has(`${base} ${n}`)) n++;
  return `${base} ${n}`;
}

/**
 * Save a new model {name, base, files, report}: resolves with the saved record
 * (its id, created time and name, made unique). Rejects with FULL or REFUSED;
 * nothing else is written then.
 */
export async function saveModel({ name, base, files, report }) {
  const taken = (await listSaved()).map((m) => m.name);
  const record = { id: `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`,
    name: uniqueName(name, taken), base, created: new Date().toISOString(), files, report };
  await transact("readwrite", (store) => store.add(record));
  return record;
}

/** Rename model `id`: resolves with its new name (unique among the others). */
export async function renameModel(id, name) {
  const all = await listSaved();
  const record = all.find((m) => m.id === id);
  if (!record) throw new Error("that model is no longer in this browser");
  record.name = uniqueName(name, all.filter((m) => m.id !== id).map((m) => m.name));
  await transact("readwrite", (store) => store.put(record));
  return record.name;
}

/** Delete model `id` (nothing happens if it is gone already). */
export async function deleteModel(id) {
  await transact("readwrite", (store) => store.delete(id));
}

/** A JSON file of a saved model's export folder. */
export function savedJson(record, name) {
  return JSON.parse(new TextDecoder().decode(record.files[name]));
}

/**
 * The model menus' entry for a saved model, as models/index.json lists a shipped one
 * (hooks/cadenza_models.py index), with `saved` (its record) instead of a path, and
 * its config and vocab (config.json and vocab.json, parsed), which a shipped one's
 * readers fetch.
 */
export function savedEntry(record) {
  const config = savedJson(record, "config.json");
  return { name: `${PREFIX}${record.name}`, path: null, saved: record, config,
    vocab: savedJson(record, "vocab.json"),
    mono: config.codec.mono, steps_per_beat: config.codec.steps_per_beat,
    num_layers: config.model.num_layers, rnn_size: config.model.rnn_size,
    vocab_size: config.vocab_size, weights_bytes: config.weights_bytes };
}
