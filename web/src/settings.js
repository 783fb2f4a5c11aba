// The Compose page's settings: read from and written to its form, and carried
// in a share link's hash (#model=folk&t=1&p=0.95&n=200&bpm=100&seed=42&w=33656f33)
// so that opening the link regenerates the same song. w is the model's weights
// version (modelVersion): a link opened on another version composes another song.

export const LIMITS = {
  temperature: { min: 0, max: 2, fallback: 1 },
  topP: { min: 0.05, max: 1, fallback: 0.95 },
  length: { min: 8, max: 2000, fallback: 200 },
  tempo: { min: 30, max: 240, fallback: 100 },
  seed: { min: 0, max: 2 ** 31 - 1, fallback: 0 },
};
const INTEGER = new Set(["length", "tempo", "seed"]);
const HASH_KEYS = { model: "model", temperature: "t", topP: "p", length: "n", tempo: "bpm",
  seed: "seed", prime: "prime", version: "w" };

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

/** Settings from the form's named controls, every number clamped. */
export function readForm(form) {
  const get = (name) => form.elements.namedItem(name).value;
  const settings = { model: get("model"), prime: get("prime") };
  for (const name of Object.keys(LIMITS)) settings[name] = clamp(name, get(name));
  return settings;
}

/** Put settings (any subset) into the form. */
export function writeForm(form, settings) {
  for (const [name, value] of Object.entries(settings)) {
    const control = form.elements.namedItem(name);
    if (control && value !== undefined) control.value = String(value);
  }
}

/** The hash of a share link for settings; an uploaded prime cannot travel in it. */
export function toHash(settings) {
  const params = new URLSearchParams();
  for (const [name, key] of Object.entries(HASH_KEYS)) {
    const value = settings[name];
    if (value === undefined || value === "" || (name === "prime" && value === "upload")) continue;
    params.set(key, String(value));
  }
  return `#${params}`;
}

/** Settings of a share link's hash (clamped), or null if it holds no seed. */
export function fromHash(hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  if (!params.has("seed")) return null;
  const settings = {};
  for (const [name, key] of Object.entries(HASH_KEYS)) {
    if (!params.has(key)) continue;
    settings[name] = name in LIMITS ? clamp(name, params.get(key)) : params.get(key);
  }
  return settings;
}

const SHOWN = { temperature: "temperature", topP: "top-p", length: "length", tempo: "tempo",
  seed: "seed" };

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
      changes.push(`${label} "${raw}" is not a${INTEGER.has(name) ? " whole" : ""} number ` +
        `from ${min} to ${max}, so ${used}`);
    }
  }
  return changes;
}
