// The melody of this visit: recorded, uploaded or taken from an example.
//
// It lives at module level, so it survives instant navigation and every
// error (nothing here clears it but Clear and Undo). Notes are {start,
// duration, pitch} in grid steps of stepsPerBeat, one voice, from the first
// bar line at step 0 (a pickup starts after 0); meter is [n, d] or "other";
// changes are a file's later meters, [[step, [n, d]]] at bar lines, in order
// (a change to a meter without a token of its own is not kept: the meter
// before it goes on); key is a file's ([tonic, mode], or null: estimated
// from the notes).
// toSong() gives it to the worker in readSong's shape, as a prime or for
// harmony.js melodyLine, which quantises it to the same notes.

import { barSteps, OTHER, sameMeter } from "../mirror/keys.js";
import { songEnd } from "../notation/music.js";
import { siteUrl } from "../common/paths.js";

const melody = { notes: [], stepsPerBeat: 4, meter: [4, 4], changes: [], key: null,
  source: "" };
const codecs = new Map(); // model path (a visitor's model: its name) -> Promise<Codec>

/** The melody now (its notes are a copy). */
export function current() {
  return { ...melody, notes: melody.notes.map((n) => ({ ...n })),
    changes: melody.changes.map(([step, m]) => [step, m]) };
}

/** Replace the melody: {notes, stepsPerBeat, meter, changes, key, source}, any
 * subset (a new meter without changes has none). */
export function replace(next) {
  Object.assign(melody, next);
  melody.notes = (next.notes ?? melody.notes).map((n) => ({ ...n }));
  melody.changes = (next.changes ?? (next.meter ? [] : melody.changes)).map(([t, m]) => [t, m]);
}

/** Drop the last note; returns it (undefined when there is none). */
export function undo() {
  return melody.notes.pop();
}

export function clear() {
  melody.notes = [];
  melody.changes = [];
  melody.key = null;
  melody.source = "";
}

/** Where the melody's last meter starts and what it is: [step, meter]. */
function lastChange(m) {
  return m.changes?.length ? m.changes.at(-1) : [0, m.meter];
}

/** The meter the melody ends in: its last change's, else its own. */
export function lastMeter(m = melody) {
  return lastChange(m)[1];
}

/**
 * The melody's bar lines up to its end, [[step, meter]] from step 0, its
 * changes in place: the bars of a codec v2 meta (music.js barLines).
 */
export function barsOf(m = melody) {
  const end = Math.max(songEnd(m.notes), 1);
  const out = [];
  const segments = [[0, m.meter], ...(m.changes ?? [])];
  segments.forEach(([from, meter], i) => {
    const to = segments[i + 1]?.[0] ?? end;
    const bar = meter === OTHER ? null : barSteps(meter, m.stepsPerBeat);
    for (let t = from; t < to || t === from; t += bar ?? Infinity) out.push([t, meter]);
  });
  return out;
}

/** The step a new take starts at: the first bar line at or after the melody's end. */
export function nextBar(m = melody) {
  const end = songEnd(m.notes);
  const [from, meter] = lastChange(m);
  const bar = meter === OTHER ? null : barSteps(meter, m.stepsPerBeat);
  return bar ? from + Math.max(0, Math.ceil((end - from) / bar)) * bar : end;
}

/**
 * The melody as midifile.js readSong reads a file ({notes: [{start, end,
 * pitch}] in beats, meters, key}), in meter ([n, d]; "other" states none;
 * null, the default: its own, with its changes).
 */
export function toSong(m = melody, meter = null) {
  const spb = m.stepsPerBeat;
  const own = meter === null;
  const first = own ? m.meter : meter;
  const changes = own ? m.changes ?? [] : [];
  return { notes: m.notes.map((n) => ({ start: n.start / spb, end: (n.start + n.duration) / spb,
    pitch: n.pitch })),
  meters: first === OTHER ? [] : [[0, first[0], first[1]],
    ...changes.map(([step, [n, d]]) => [step / spb, n, d])], key: m.key };
}

/**
 * The melody of a read MIDI file (readSong's shape): its top line (harmony.js
 * melodyLine with the model's codec), moved so its first bar line is on a
 * bar of its first meter, with the file's later meters as its changes.
 * Returns {melody, folded}: notes moved by octaves into the piano's range.
 * Throws RangeError "the melody has no notes".
 */
export async function fromFile(song, model, source) {
  const [{ melodyLine }, codec] = await Promise.all([import("../mirror/harmony.js"),
    codecOf(model)]);
  const line = melodyLine(codec, song);
  const spb = codec.params.steps_per_beat;
  const { meter, bars, key } = line.meta;
  const bar = meter === OTHER ? null : barSteps(meter, spb);
  const first = bars.length ? bars[0][0] : 0;
  const pad = bar && first ? (bar - (first % bar)) % bar : 0;
  return { melody: { notes: line.notes.map((n) => ({ start: n.start + pad, duration: n.duration,
    pitch: n.pitch })), stepsPerBeat: spb, meter, changes: meterChanges(meter, bars, pad), key,
  source }, folded: line.folded };
}

/**
 * The changes of a melody in meter whose bar lines are bars ([[step, meter]],
 * a codec meta's), moved by pad steps: [[step, [n, d]]] where the meter becomes
 * another with a token of its own (none under "other"; a change to "other"
 * is not kept, the meter before it goes on).
 */
export function meterChanges(meter, bars, pad = 0) {
  const changes = [];
  let now = meter;
  for (const [step, m] of bars) {
    if (m === OTHER || now === OTHER || sameMeter(m, now)) continue;
    changes.push([step + pad, m]);
    now = m;
  }
  return changes;
}

/**
 * The Codec of a listed model ({path}, from its vocab.json, once; or a model of the
 * visitor's, page/saved.js savedEntry, which carries its vocab).
 */
export function codecOf(model) {
  const id = model.path ?? model.name;
  if (!codecs.has(id)) {
    const base = model.path && siteUrl(model.path.endsWith("/") ? model.path : `${model.path}/`);
    const vocab = model.vocab ? Promise.resolve(model.vocab) : fetch(`${base}vocab.json`)
      .then((response) => {
        if (!response.ok) throw new Error(`${base}vocab.json: HTTP ${response.status}`);
        return response.json();
      });
    const loading = Promise.all([import("../mirror/codec.js"), vocab])
      .then(([{ Codec }, json]) => new Codec(json));
    loading.catch(() => codecs.delete(id));
    codecs.set(id, loading);
  }
  return codecs.get(id);
}
