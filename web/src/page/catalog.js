// What the built site ships: models/index.json (written by hooks/content.py
// from every export folder under site/models/) and examples/index.json
// (committed with the examples; optional). Each is fetched once per page load.

import { siteUrl } from "../common/paths.js";

let models = null;
let examples = null;

async function getJson(path) {
  const response = await fetch(siteUrl(path));
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

/** [{name, path, mono, ...}] of the shipped models; rejects if there are none. */
export function loadModels() {
  models ??= getJson("models/index.json").then(({ models: list }) => {
    if (!list?.length) throw new Error("this site ships no model");
    return list;
  });
  models.catch(() => { models = null; }); // let a later mount retry
  return models;
}

/** [{title, model, midi, ...}] of the shipped examples; [] when there are none. */
export function loadExamples() {
  examples ??= getJson("examples/index.json").then((d) => d.examples ?? [], () => []);
  return examples;
}
