// Keys and meters (trainer/music/keys.py): their names, how users spell them, and
// the Krumhansl-Schmuckler key estimate from notes.
//
// A key is [tonic, mode]: the tonic's pitch class 0..11 (C = 0) and "major"
// or "minor". A meter is [numerator, denominator], or "other" for the meters
// without a METER token of their own. These are the values of codec v2's
// KEY_<tonic>_<mode> and METER_<n>_<d> tokens; tests/vectors/keys.json holds
// this file to the Python one.

export const TONICS = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"];
export const MODES = ["major", "minor"];
/** Token order: 12 major, then 12 minor. */
export const KEYS = MODES.flatMap((mode) => TONICS.map((_, tonic) => [tonic, mode]));
export const METERS = [[2, 4], [3, 4], [4, 4], [2, 2], [3, 8], [6, 8], [9, 8], [12, 8], [6, 4],
  [3, 2]];
export const OTHER = "other";
export const DEFAULT_METER = [4, 4];
/** METER_<i> stands for METER_VALUES[i]. */
export const METER_VALUES = [...METERS, OTHER];

// Krumhansl & Kessler (1982) probe-tone profiles, tonic first.
const KK_MAJOR = [6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88];
const KK_MINOR = [6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17];
const roll = (profile, t) => profile.map((_, i) => profile[(i - t + 12) % 12]);
const centred = (v) => {
  const mean = v.reduce((s, x) => s + x, 0) / v.length;
  return v.map((x) => x - mean);
};
const norm = (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
const PROFILES = [...TONICS.map((_, t) => roll(KK_MAJOR, t)),
  ...TONICS.map((_, t) => roll(KK_MINOR, t))].map((p) => {
  const c = centred(p), n = norm(c);
  return c.map((x) => x / n);
});

const SPELLINGS = { c: 0, "b#": 0, "c#": 1, db: 1, d: 2, "d#": 3, eb: 3, e: 4, fb: 4, f: 5,
  "e#": 5, "f#": 6, gb: 6, g: 7, "g#": 8, ab: 8, a: 9, "a#": 10, bb: 10, b: 11, cb: 11 };
// Church modes map to the major or minor key with the same tonic and third.
const MODE_OF = { major: "major", maj: "major", ionian: "major", mixolydian: "major",
  mix: "major", lydian: "major", lyd: "major", minor: "minor", min: "minor", m: "minor",
  aeolian: "minor", aeo: "minor", dorian: "minor", dor: "minor", phrygian: "minor",
  phr: "minor", locrian: "minor", loc: "minor" };
const has = (table, word) => Object.hasOwn(table, word);

/** [2, "minor"] -> "D:minor": the spelling share links and --key take. */
export function keyName([tonic, mode]) {
  return `${TONICS[tonic]}:${mode}`;
}

/** [6, 8] -> "6/8"; "other" stays. */
export function meterName(meter) {
  return meter === OTHER ? OTHER : `${meter[0]}/${meter[1]}`;
}

/** Whether two meters (pairs or "other") are the same. */
export function sameMeter(a, b) {
  if (a === OTHER || b === OTHER) return a === b;
  return a[0] === b[0] && a[1] === b[1];
}

/**
 * "D:minor", "D minor", "Dm", "f#:major", "Ador" -> a key; "any" -> null.
 * Throws an Error naming the valid spellings for anything else.
 */
export function parseKey(text) {
  const raw = String(text).trim();
  if (raw.toLowerCase() === "any") return null;
  let parts = raw.replaceAll(":", " ").replaceAll("_", " ").trim().split(/\s+/)
    .filter(Boolean);
  if (parts.length === 1) { // "Dm", "Gmaj", "Ador", "F#"
    const word = parts[0];
    const tonicLength = word.length > 1 && "#b".includes(word[1]) &&
      has(SPELLINGS, word.slice(0, 2).toLowerCase()) ? 2 : 1;
    parts = [word.slice(0, tonicLength), word.slice(tonicLength) || "major"];
  }
  if (parts.length === 2 && has(SPELLINGS, parts[0].toLowerCase()) &&
      has(MODE_OF, parts[1].toLowerCase())) {
    return [SPELLINGS[parts[0].toLowerCase()], MODE_OF[parts[1].toLowerCase()]];
  }
  throw new Error(`unknown key ${JSON.stringify(raw)}: use any, or a tonic (C, C#, Db, ..., ` +
    "B) and major or minor, as in D:minor or Bb:major");
}

/** "6/8" -> [6, 8]; "other" stays; "any" -> null. Throws for others. */
export function parseMeter(text) {
  const raw = String(text).trim().toLowerCase();
  if (raw === "any") return null;
  if (raw === OTHER) return OTHER;
  const parts = raw.split("/");
  const ints = parts.length === 2 && parts.every((p) => /^\s*[+-]?\d+\s*$/.test(p))
    ? parts.map(Number) : null;
  const found = ints && METERS.find(([n, d]) => n === ints[0] && d === ints[1]);
  if (found) return [...found];
  throw new Error(`unknown meter ${JSON.stringify(String(text))}: use any, other, or one of ` +
    METERS.map(meterName).join(", "));
}

/** The meter a METER token stands for: itself if it has a token, else "other". */
export function meterTokenValue(meter) {
  const found = METERS.find((m) => sameMeter(m, meter));
  return found ? [...found] : OTHER;
}

/**
 * Grid steps in one bar of meter (quarter-note beats of stepsPerBeat); null
 * if the bar is not a whole number of steps (or the meter is "other").
 */
export function barSteps(meter, stepsPerBeat) {
  if (meter === OTHER) return null;
  const [n, d] = meter;
  const steps = n * 4 * stepsPerBeat / d;
  return Number.isInteger(steps) && steps >= 1 ? steps : null;
}

/** Duration-weighted pitch-class histogram (12) of notes {duration, pitch}. */
export function pitchClassWeights(notes) {
  const w = new Array(12).fill(0);
  for (const { duration, pitch } of notes) w[pitch % 12] += Math.max(duration, 1);
  return w;
}

/** Correlation of the song's profile with each of KEYS (24); zeros if flat. */
export function keyCorrelations(notes) {
  const w = centred(pitchClassWeights(notes));
  const n = norm(w);
  return PROFILES.map((p) => (n > 0 ? p.reduce((s, x, i) => s + x * w[i], 0) / n : 0));
}

/** The Krumhansl-Schmuckler key of notes: [tonic, mode]; C major with no notes. */
export function estimateKey(notes) {
  const r = keyCorrelations(notes);
  let best = 0; // the first of equal maxima, as numpy's argmax
  for (let i = 1; i < r.length; i++) if (r[i] > r[best]) best = i;
  return [...KEYS[best]];
}

/** Whether two keys share a key signature (equal, or relative major and minor). */
export function sameSignature(a, b) {
  const major = (k) => (k[0] + (k[1] === "minor" ? 3 : 0)) % 12;
  return major(a) === major(b);
}

/**
 * {key, source}: the file's key signature where it agrees with the estimate
 * from the notes (the same signature), source "file"; else the estimate,
 * source "estimate". On the same signature the file's mode wins.
 */
export function chooseKey(fileKey, notes) {
  const estimate = estimateKey(notes);
  if (fileKey && sameSignature(fileKey, estimate)) {
    return { key: [fileKey[0], fileKey[1]], source: "file" };
  }
  return { key: estimate, source: "estimate" };
}

/** "D:minor" -> "D minor", "Eb:major" -> "E♭ major": a key as the page shows it. */
export function keyLabel(key) {
  const [tonic, mode] = typeof key === "string" ? key.split(":") : [TONICS[key[0]], key[1]];
  return `${tonic.replace("#", "♯").replace(/^([A-G])b$/, "$1♭")} ${mode}`;
}

// The conventional spelling of each key for notation: tonic letter, its
// accidental (-1 flat, 1 sharp) and the signature's sharps (+) or flats (-).
const SPELLED = {
  major: [["C", 0, 0], ["D", -1, -5], ["D", 0, 2], ["E", -1, -3], ["E", 0, 4], ["F", 0, -1],
    ["F", 1, 6], ["G", 0, 1], ["A", -1, -4], ["A", 0, 3], ["B", -1, -2], ["B", 0, 5]],
  minor: [["C", 0, -3], ["C", 1, 4], ["D", 0, -1], ["E", -1, -6], ["E", 0, 1], ["F", 0, -4],
    ["F", 1, 3], ["G", 0, -2], ["G", 1, 5], ["A", 0, 0], ["B", -1, -5], ["B", 0, 2]],
};

/**
 * How notation spells key [tonic, mode]: {letter, accidental, fifths}: the
 * tonic's letter and accidental (-1, 0, 1) and the key signature (fifths > 0
 * sharps, < 0 flats), choosing the enharmonic with fewer accidentals
 * (D♭ major, G♯ minor).
 */
export function spelledKey([tonic, mode]) {
  const [letter, accidental, fifths] = SPELLED[mode][tonic];
  return { letter, accidental, fifths };
}
