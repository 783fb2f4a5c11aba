// What a song means to a reader: its meter and key, bars, pitch names and a
// text alternative of the piano roll. Notes are {start, duration, pitch} in
// grid steps of stepsPerBeat per quarter note.
//
// A codec v2 song carries `meta` (Codec.decodeMeta of its tokens: key,
// starting meter and bar lines, a pickup before the first), and its bars
// are those; a codec v1 song has none, so it is 4/4 (assumed) from step 0 in
// an unknown key. songFrame and barLines are the one place that decides.

import { keyLabel, meterName, OTHER } from "../mirror/keys.js";
import { pitchNamer } from "./spelling.js";

const NAMES = ["C", "C♯", "D", "D♯", "E", "F", "F♯", "G", "G♯", "A", "A♯", "B"];
const DEFAULT_METER = { beats: 4, unit: 4 };
const MAX_CHANGES = 3; // meter changes the summary names

/** {beats, unit} of a meter given as [n, d], "3/4" or {beats, unit}; null for "other". */
function meterValue(meter) {
  if (meter === OTHER) return null;
  if (Array.isArray(meter)) return { beats: meter[0], unit: meter[1] };
  if (typeof meter === "string") {
    const [beats, unit] = meter.split("/").map(Number);
    return { beats, unit };
  }
  return meter ?? null;
}

const valid = (meter) => meter?.beats > 0 && meter?.unit > 0;

/**
 * The song's meter and key: {meter ({beats, unit}, or null for a meter
 * without a token of its own), meterAssumed, key (e.g. "G major", or null)}.
 * A song with `meta` (codec v2) states both; a codec v1 song is 4/4 assumed
 * in an unknown key; a song object with `meter` ("3/4" or {beats, unit}) or
 * `key` ("G major") is used as it is.
 */
export function songFrame(song) {
  if (song?.meta) {
    return { meter: meterValue(song.meta.meter), meterAssumed: false,
      key: song.meta.key ? keyLabel(song.meta.key) : null };
  }
  const meter = meterValue(song?.meter);
  const given = valid(meter);
  return { meter: given ? { beats: meter.beats, unit: meter.unit } : DEFAULT_METER,
    meterAssumed: !given, key: song?.key ?? null };
}

/** Grid steps in one bar of meter at stepsPerBeat steps per quarter note. */
export function barSteps(meter, stepsPerBeat) {
  return Math.max(1, Math.round(meter.beats * stepsPerBeat * 4 / meter.unit));
}

/**
 * The song's bars from step 0 until they reach `end` (at least one):
 * [{start, end, meter, number}], meter {beats, unit} or null ("other"),
 * number 0 for a pickup, else 1, 2, ... A v2 song's bar lines are its meta's;
 * after the last, bars go on in its meter (under "other", as long as the
 * last bar). Other songs have bars of their frame's meter from step 0.
 */
export function barLines(song, stepsPerBeat, end) {
  const meta = song?.meta;
  const frame = songFrame(song);
  const lines = meta?.bars?.length
    ? meta.bars.map(([start, meter]) => ({ start, meter: meterValue(meter) }))
    : [{ start: 0, meter: frame.meter }];
  const bars = [];
  if (lines[0].start > 0) bars.push({ start: 0, meter: frame.meter, number: 0 });
  lines.forEach((line, i) => bars.push({ ...line, number: i + 1 }));
  const last = bars.at(-1);
  const step = last.meter ? barSteps(last.meter, stepsPerBeat)
    : lines.length > 1 ? lines.at(-1).start - lines.at(-2).start : 4 * stepsPerBeat;
  for (let t = last.start + step; t < end; t += step) {
    bars.push({ start: t, meter: last.meter, number: bars.at(-1).number + 1 });
  }
  bars.forEach((bar, i) => { bar.end = bars[i + 1]?.start ?? bar.start + step; });
  const cut = bars.findIndex((bar, i) => i > 0 && bar.start >= end);
  return cut < 0 ? bars : bars.slice(0, cut);
}

/** Scientific pitch name: 60 -> "C4", 61 -> "C♯4". */
export function pitchName(pitch) {
  return `${NAMES[pitch % 12]}${Math.floor(pitch / 12) - 1}`;
}

/** pitchName as a v2 song's key spells it (70 in D minor: "B♭4"); sharps for v1. */
function namer(song) {
  return song.meta ? pitchNamer(song.meta.key) : pitchName;
}

/** End of the last note, in steps. */
export function songEnd(notes) {
  return notes.reduce((m, n) => Math.max(m, n.start + n.duration), 0);
}

/**
 * Whether notes (in the order composed) reach past the first onset's: only
 * then is that onset whole, and a song may start playing without losing one.
 */
export function pastFirstOnset(notes) {
  return notes.some((n) => n.start > notes[0].start);
}

const meterText = (meter) => (meter ? `${meter.beats}/${meter.unit}` : meterName(OTHER));

/**
 * "key: unknown / meter: 4/4 assumed" (v1), or "key: D minor / meter: 3/4,
 * with a pickup, then 2/4 from bar 5": as the text alternative says them.
 */
export function frameText(song) {
  const { meter, meterAssumed, key } = songFrame(song);
  const text = `key: ${key ?? "unknown"} / meter: ${meterText(meter)}` +
    `${meterAssumed ? " assumed" : ""}`;
  if (!song?.meta) return text;
  const pickup = song.meta.bars[0]?.[0] > 0 ? ", with a pickup" : "";
  const changes = [];
  let current = meterText(meter);
  song.meta.bars.forEach(([, m], i) => { // bar i + 1 (a pickup is bar 0)
    const name = meterText(meterValue(m));
    if (name !== current) changes.push(`${name} from bar ${i + 1}`);
    current = name;
  });
  const shown = changes.slice(0, MAX_CHANGES).join(", ") +
    (changes.length > MAX_CHANGES ? ` and ${changes.length - MAX_CHANGES} more changes` : "");
  return `${text}${pickup}${changes.length ? `, then ${shown}` : ""}`;
}

/**
 * The text alternative of a song: a summary line and one line per bar
 * listing its notes (pitch, beat in the bar, length in beats), prime first.
 */
export function describe(song) {
  const { notes, stepsPerBeat, primeNotes = 0 } = song;
  const end = songEnd(notes);
  const bars = end > 0 ? barLines(song, stepsPerBeat, end) : [];
  const counted = bars.filter((b) => b.number > 0).length;
  const beats = (steps) => +(steps / stepsPerBeat).toFixed(2);
  const name = namer(song);
  const summary = `${notes.length} notes in ${counted} bars (${primeNotes} from the prime); ` +
    `${frameText(song)}.` + (notes.length ? ` Range ${name(Math.min(...notes.map((n) =>
      n.pitch)))} to ${name(Math.max(...notes.map((n) => n.pitch)))}.` : "");
  const lines = bars.map(() => []);
  notes.forEach((n, i) => {
    let b = bars.length - 1;
    while (b > 0 && bars[b].start > n.start) b--;
    lines[b].push(`${name(n.pitch)}${i < primeNotes ? " (prime)" : ""} at beat ` +
      `${beats(n.start - bars[b].start) + 1} for ${beats(n.duration)}`);
  });
  return { summary, bars: bars.map((bar, b) =>
    `${bar.number ? `Bar ${bar.number}` : "Pickup"}: ${lines[b].join(", ") || "no new note"}.`) };
}

/** Index of the highest note of each onset among notes[from..]: the melody. */
export function melodyIndices(notes, from = 0) {
  const top = new Map(); // start -> index
  for (let i = from; i < notes.length; i++) {
    const j = top.get(notes[i].start);
    if (j === undefined || notes[i].pitch > notes[j].pitch) top.set(notes[i].start, i);
  }
  return new Set(top.values());
}
