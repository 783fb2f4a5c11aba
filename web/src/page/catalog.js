// What the built site ships: models/index.json (written by hooks/content.py
// from every export folder under site/models/) and examples/index.json
// (committed with the examples; optional), each fetched once per page load; and
// the models the visitor adapted in this browser (saved.js), read at each call.

import { siteUrl } from "../common/paths.js";
import { listSaved, savedEntry } from "./saved.js";

let models = null;
let examples = null;

async function getJson(path) {
  const response = await fetch(siteUrl(path));
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

/** [{name, path, mono, ...}] of the shipped models; rejects if there are none. */
export function loadShipped() {
  models ??= getJson("models/index.json").then(({ models: list }) => {
    if (!list?.length) throw new Error("this site ships no model");
    return list;
  });
  models.catch(() => { models = null; }); // let a later mount retry
  return models;
}

/**
 * The shipped models, then the visitor's own ("Yours: NAME", saved.js savedEntry;
 * none where the browser keeps nothing). Rejects if the site ships no model.
 */
export async function loadModels() {
  const [shipped, saved] = await Promise.all([loadShipped(), listSaved().catch(() => [])]);
  return [...shipped, ...saved.map(savedEntry)];
}

/**
 * What a worker request names the model by: {model: its export folder's URL}, or
 * for one of the visitor's, {model: "saved:ID", files: its export folder's files}.
 */
export function modelSource(model) {
  return model.saved ? { model: `saved:${model.saved.id}`, files: model.saved.files }
    : { model: siteUrl(model.path) };
}

/** [{title, model, midi, ...}] of the shipped examples; [] when there are none. */
export function loadExamples() {
  examples ??= getJson("examples/index.json").then((d) => d.examples ?? [], () => []);
  return examples;
}
