// The Compose page's Key and Meter menus: what a model can be asked for.
//
// A model's export folder says it: vocab.json's version (codec v2 has KEY
// and METER tokens; v1 has none, so its menus are off) and config.json's
// "conditioning" ({"keys": {"G:major": 45, ...}, "meters": {"4/4": 313,
// ...}}: the training songs per key and meter). The menus list "any" (the
// model chooses), then what the model saw in training with its song counts,
// then every other key or meter, "unseen": allowed, though never learnt.

import { KEYS, METER_VALUES, keyLabel, keyName, meterName } from "../mirror/keys.js";
import { siteUrl } from "../common/paths.js";
import { ANY } from "./settings.js";

const ALL = { key: KEYS.map(keyName), meter: METER_VALUES.map(meterName) };
const cache = new Map(); // model path -> Promise<{version, conditioning}>

async function getJson(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

/**
 * {version, conditioning} of a listed model ({path, ...}, or one the visitor
 * adapted, saved.js savedEntry, which carries its config and vocab): its codec
 * version and config.json's conditioning, or null where the export has none. The
 * worker reads the same files later, from the HTTP cache.
 */
export function modelChoices(model) {
  if (model.vocab) {
    return Promise.resolve({ version: model.vocab.version ?? 1,
      conditioning: counts(model.config?.conditioning) });
  }
  if (!cache.has(model.path)) {
    const base = siteUrl(model.path.endsWith("/") ? model.path : `${model.path}/`);
    const loading = Promise.all([getJson(`${base}vocab.json`), getJson(`${base}config.json`)])
      .then(([vocab, config]) => ({ version: vocab?.version ?? 1,
        conditioning: counts(config?.conditioning) }));
    loading.catch(() => cache.delete(model.path)); // a later choice may retry
    cache.set(model.path, loading);
  }
  return cache.get(model.path);
}

/** {keys, meters} of name -> count, or null when config.json has no usable conditioning. */
function counts(conditioning) {
  const table = (d) => (d && typeof d === "object" ? Object.fromEntries(Object.entries(d)
    .filter(([, n]) => Number.isInteger(n) && n > 0)) : {});
  if (!conditioning || typeof conditioning !== "object") return null;
  return { key: table(conditioning.keys), meter: table(conditioning.meters) };
}

/** How a menu shows a key ("D:minor" -> "D minor") or a meter ("6/8", "other"). */
export function choiceLabel(kind, name) {
  return kind === "key" ? keyLabel(name) : name;
}

/**
 * The options of the kind ("key" or "meter") menu: [{label, options:
 * [{value, text}]}] groups. With counts (config.json's conditioning) the
 * seen ones come most first as "G major (45 songs)", then the unseen ones
 * in token order as "C♯ major (unseen)"; without, every one plainly.
 */
export function menuGroups(kind, conditioning) {
  const any = { label: "", options: [{ value: ANY, text: "any (the model chooses)" }] };
  const names = ALL[kind];
  if (!conditioning) {
    return [any, { label: "", options: names.map((value) =>
      ({ value, text: choiceLabel(kind, value) })) }];
  }
  const seen = conditioning[kind];
  const order = names.filter((n) => seen[n]).sort((a, b) => seen[b] - seen[a] ||
    names.indexOf(a) - names.indexOf(b));
  const songs = (n) => `${n} song${n === 1 ? "" : "s"}`;
  return [any,
    { label: "seen in training", options: order.map((value) =>
      ({ value, text: `${choiceLabel(kind, value)} (${songs(seen[value])})` })) },
    { label: "unseen in training", options: names.filter((n) => !seen[n]).map((value) =>
      ({ value, text: `${choiceLabel(kind, value)} (unseen)` })) }]
    .filter((g) => g.options.length);
}

/** The sentence beside the menus for a model (name) with `choices`, and a prime or not. */
export function menuNote(name, choices, primed) {
  if (!choices) return "Key and meter: the model's own choice.";
  if (choices.version < 2) {
    return `The ${name} model predates keys and meters (codec v1): it cannot be asked for ` +
      "one, and its songs are shown in 4/4.";
  }
  if (primed) {
    return "A song that starts from an example or your file keeps that start's key and " +
      "meter, so Key and Meter are off.";
  }
  return choices.conditioning
    ? "Key and meter: the ones the model saw in training, with their song counts; unseen " +
      "ones are allowed, though the model never learnt them."
    : `The ${name} export does not say which keys and meters its model saw in training.`;
}
