// The Compose page's settings: read from and written to its form, and carried
// in a share link's hash (#model=folk&t=1&p=0.95&n=200&bpm=100&seed=42&w=33656f33
// &key=D%3Aminor&meter=6%2F8) so that opening the link regenerates the same
// song. w is the model's weights version (modelVersion): a link opened on
// another version composes another song. key and meter (keys.js names, as
// `sample --key D:minor --meter 6/8` takes them) are left out when "any".

import { keyName, meterName, parseKey, parseMeter } from "../mirror/keys.js";

// The form's ranges; its inputs take their min and max from here (compose.js). Tempo
// and seed are the CLI's (trainer/constants.py TEMPO_RANGE, MAX_SEED: a seed names the
// same song on both), held to them by tests/vectors/limits.json.
export const LIMITS = {
  temperature: { min: 0, max: 2, fallback: 1 },
  topP: { min: 0.05, max: 1, fallback: 0.95 },
  length: { min: 8, max: 2000, fallback: 200 },
  tempo: { min: 10, max: 400, fallback: 100 },
  seed: { min: 0, max: 2 ** 32 - 1, fallback: 0 },
};
const INTEGER = new Set(["length", "tempo", "seed"]);
const HASH_KEYS = { model: "model", temperature: "t", topP: "p", length: "n", tempo: "bpm",
  seed: "seed", prime: "prime", version: "w", key: "key", meter: "meter" };
export const ANY = "any"; // the Key and Meter menus' "the model chooses"

/** value as a number within LIMITS[name] (integers where they must be), else the fallback. */
export function clamp(name, value) {
  const { min, max, fallback } = LIMITS[name];
  let x = Number(value);
  if (value === "" || value === null || !Number.isFinite(x)) return fallback;
  if (INTEGER.has(name)) x = Math.round(x);
  return Math.min(max, Math.max(min, x));
}

/** The version of an export's weights: the start of each shard's SHA-256 in its config.json. */
export function modelVersion(config) {
  return Object.values(config.shards ?? {}).map((s) => s.sha256.slice(0, 8)).join("");
}

/** A random seed for the dice button. */
export function randomSeed() {
  return Math.floor(Math.random() * 1e6);
}

/**
 * Settings from the form's named controls, every number clamped; key and
 * meter are "any" where their menu is off (a v1 model, a prime).
 */
export function readForm(form) {
  const get = (name) => form.elements.namedItem(name).value;
  const settings = { model: get("model"), prime: get("prime") };
  for (const name of Object.keys(LIMITS)) settings[name] = clamp(name, get(name));
  for (const name of ["key", "meter"]) {
    const menu = form.elements.namedItem(name);
    settings[name] = !menu || menu.disabled || !menu.value ? ANY : menu.value;
  }
  return settings;
}

/** Put settings (any subset) into the form; a menu keeps its value for one it lacks. */
export function writeForm(form, settings) {
  for (const [name, value] of Object.entries(settings)) {
    const control = form.elements.namedItem(name);
    if (!control || value === undefined) continue;
    if (control.options && ![...control.options].some((o) => o.value === String(value))) continue;
    control.value = String(value);
  }
}

/** The menu value of text: name(parse(text)), "any" where that is null, null where it throws. */
const choice = (parse, name) => (text) => {
  try {
    const value = parse(text);
    return value ? name(value) : ANY;
  } catch {
    return null;
  }
};

/** "D:minor" for any spelling parseKey takes ("Dm", "d minor"), "any" for any; else null. */
export const keyChoice = choice(parseKey, keyName);

/** "6/8", "other" or "any" for a meter parseMeter takes; else null. */
export const meterChoice = choice(parseMeter, meterName);

/** The hash of a share link for settings; an uploaded prime cannot travel in it. */
export function toHash(settings) {
  const params = new URLSearchParams();
  for (const [name, key] of Object.entries(HASH_KEYS)) {
    const value = settings[name];
    if (value === undefined || value === "" || (name === "prime" && value === "upload")) continue;
    if ((name === "key" || name === "meter") && value === ANY) continue;
    params.set(key, String(value));
  }
  return `#${params}`;
}

/**
 * Settings of a share link's hash (clamped; a key or meter spelled as
 * keyChoice/meterChoice take it, "any" if neither can), or null if it holds no seed.
 */
export function fromHash(hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  if (!params.has("seed")) return null;
  const settings = {};
  for (const [name, key] of Object.entries(HASH_KEYS)) {
    if (!params.has(key)) continue;
    const raw = params.get(key);
    if (name === "key") settings.key = keyChoice(raw) ?? ANY;
    else if (name === "meter") settings.meter = meterChoice(raw) ?? ANY;
    else settings[name] = name in LIMITS ? clamp(name, raw) : raw;
  }
  return settings;
}

const SHOWN = { temperature: "temperature", topP: "top-p", length: "length", tempo: "tempo",
  seed: "seed" };
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i; // as a person writes a number
// Bidirectional controls (they would reverse the page's own sentence around a value)
// and other control characters.
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;
export const ECHO_CHARS = 40;

/**
 * A value from a link as the page may quote it: controls removed, at most
 * ECHO_CHARS characters (then an ellipsis), so a link cannot write its own text
 * into the page's sentences.
 */
export function echo(raw) {
  const chars = [...String(raw).replace(CONTROLS, "")];
  return chars.length > ECHO_CHARS ? `${chars.slice(0, ECHO_CHARS - 1).join("")}…` : chars.join("");
}

/** What fromHash changed in a link's values: ["top-p 5 is outside 0.05..1, so 1", ...]. */
export function linkChanges(hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  const changes = [];
  for (const [name, label] of Object.entries(SHOWN)) {
    const key = HASH_KEYS[name];
    if (!params.has(key)) continue;
    const raw = params.get(key);
    const used = clamp(name, raw);
    if (Number(raw) !== used || raw.trim() === "") {
      const { min, max } = LIMITS[name];
      changes.push(`${label} "${echo(raw)}" is not a${INTEGER.has(name) ? " whole" : ""} ` +
        `number from ${min} to ${max}, so ${used}`);
    } else if (!DECIMAL.test(raw.trim())) { // 0x10, 0b11, 1_0: JavaScript reads them anyway
      changes.push(`${label} "${echo(raw)}" is not written as a decimal number; it was read ` +
        `as ${used}`);
    }
  }
  if (params.has("key") && keyChoice(params.get("key")) === null) {
    changes.push(`key "${echo(params.get("key"))}" is not a key (such as D:minor or ` +
      "Bb:major), so any: the model chooses");
  }
  if (params.has("meter") && meterChoice(params.get("meter")) === null) {
    changes.push(`meter "${echo(params.get("meter"))}" is not one of the meters (such as ` +
      "6/8, or other), so any: the model chooses");
  }
  return changes;
}
