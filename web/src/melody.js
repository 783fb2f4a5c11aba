// The melody of this visit: recorded, uploaded or taken from an example.
//
// It lives at module level, so it survives instant navigation and every
// error (nothing here clears it but Clear and Undo). Notes are {start,
// duration, pitch} in grid steps of stepsPerBeat, one voice, from the first
// bar line at step 0 (a pickup starts after 0); meter is [n, d] or "other";
// key is a file's ([tonic, mode], or null: estimated from the notes).
// toSong() gives it to the worker in readSong's shape, as a prime or for
// harmony.js melodyLine, which quantises it to the same notes.

import { barSteps, OTHER } from "./keys.js";
import { songEnd } from "./music.js";
import { siteUrl } from "./paths.js";

const melody = { notes: [], stepsPerBeat: 4, meter: [4, 4], key: null, source: "" };
const codecs = new Map(); // model path -> Promise<Codec>

/** The melody now (its notes are a copy). */
export function current() {
  return { ...melody, notes: melody.notes.map((n) => ({ ...n })) };
}

/** Replace the melody: {notes, stepsPerBeat, meter, key, source}, any subset. */
export function replace(next) {
  Object.assign(melody, next);
  melody.notes = (next.notes ?? melody.notes).map((n) => ({ ...n }));
}

/** Drop the last note; returns it (undefined when there is none). */
export function undo() {
  return melody.notes.pop();
}

export function clear() {
  melody.notes = [];
  melody.key = null;
  melody.source = "";
}

/** The step a new take starts at: the first bar line at or after the melody's end. */
export function nextBar(m = melody) {
  const end = songEnd(m.notes);
  const bar = m.meter === OTHER ? null : barSteps(m.meter, m.stepsPerBeat);
  return bar ? Math.ceil(end / bar) * bar : end;
}

/**
 * The melody as midifile.js readSong reads a file ({notes: [{start, end,
 * pitch}] in beats, meters, key}), in meter ([n, d]; default its own; "other"
 * states none).
 */
export function toSong(m = melody, meter = m.meter) {
  const spb = m.stepsPerBeat;
  return { notes: m.notes.map((n) => ({ start: n.start / spb, end: (n.start + n.duration) / spb,
    pitch: n.pitch })),
  meters: meter === OTHER ? [] : [[0, meter[0], meter[1]]], key: m.key };
}

/**
 * The melody of a read MIDI file (readSong's shape): its top line (harmony.js
 * melodyLine with the model's codec), moved so its first bar line is on a
 * bar of its first meter. Returns {melody, folded}: notes moved by octaves
 * into the piano's range. Throws RangeError "the melody has no notes".
 */
export async function fromFile(song, model, source) {
  const [{ melodyLine }, codec] = await Promise.all([import("./harmony.js"), codecOf(model)]);
  const line = melodyLine(codec, song);
  const spb = codec.params.steps_per_beat;
  const { meter, bars, key } = line.meta;
  const bar = meter === OTHER ? null : barSteps(meter, spb);
  const first = bars.length ? bars[0][0] : 0;
  const pad = bar && first ? (bar - (first % bar)) % bar : 0;
  return { melody: { notes: line.notes.map((n) => ({ start: n.start + pad, duration: n.duration,
    pitch: n.pitch })), stepsPerBeat: spb, meter, key, source }, folded: line.folded };
}

/** The Codec of a listed model ({path}), from its vocab.json (once). */
export function codecOf(model) {
  if (!codecs.has(model.path)) {
    const base = siteUrl(model.path.endsWith("/") ? model.path : `${model.path}/`);
    const loading = Promise.all([import("./codec.js"), fetch(`${base}vocab.json`)])
      .then(async ([{ Codec }, response]) => {
        if (!response.ok) throw new Error(`${base}vocab.json: HTTP ${response.status}`);
        return new Codec(await response.json());
      });
    loading.catch(() => codecs.delete(model.path));
    codecs.set(model.path, loading);
  }
  return codecs.get(model.path);
}
