// What a song means to a reader: its meter and key, bars, pitch names and a
// text alternative of the piano roll. Notes are {start, duration, pitch} in
// grid steps of stepsPerBeat per quarter note.

const NAMES = ["C", "C♯", "D", "D♯", "E", "F", "F♯", "G", "G♯", "A", "A♯", "B"];
const DEFAULT_METER = { beats: 4, unit: 4 };

/**
 * The song's meter and key. Codec v1 songs carry neither, so the meter is
 * 4/4 (assumed) and the key unknown; a song object with `meter` ({beats,
 * unit} or "3/4") or `key` (e.g. "G major"), as a later codec's KEY and
 * METER tokens would give, is used as it is. The one place that decides.
 */
export function songFrame(song) {
  let meter = song?.meter;
  if (typeof meter === "string") {
    const [beats, unit] = meter.split("/").map(Number);
    meter = { beats, unit };
  }
  const given = meter?.beats > 0 && meter?.unit > 0;
  return { meter: given ? { beats: meter.beats, unit: meter.unit } : DEFAULT_METER,
    meterAssumed: !given, key: song?.key ?? null };
}

/** Grid steps in one bar of meter at stepsPerBeat steps per quarter note. */
export function barSteps(meter, stepsPerBeat) {
  return Math.max(1, Math.round(meter.beats * stepsPerBeat * 4 / meter.unit));
}

/** Scientific pitch name: 60 -> "C4", 61 -> "C♯4". */
export function pitchName(pitch) {
  return `${NAMES[pitch % 12]}${Math.floor(pitch / 12) - 1}`;
}

/** End of the last note, in steps. */
export function songEnd(notes) {
  return notes.reduce((m, n) => Math.max(m, n.start + n.duration), 0);
}

/** "4/4 assumed" or "3/4"; "unknown" or the key: as the text alternative says them. */
export function frameText(song) {
  const { meter, meterAssumed, key } = songFrame(song);
  return `key: ${key ?? "unknown"} / meter: ${meter.beats}/${meter.unit}` +
    `${meterAssumed ? " assumed" : ""}`;
}

/**
 * The text alternative of a song: a summary line and one line per bar
 * listing its notes (pitch, beat in the bar, length in beats), prime first.
 */
export function describe(song) {
  const { notes, stepsPerBeat, primeNotes = 0 } = song;
  const { meter } = songFrame(song);
  const bar = barSteps(meter, stepsPerBeat);
  const bars = Math.ceil(songEnd(notes) / bar);
  const beats = (steps) => +(steps / stepsPerBeat).toFixed(2);
  const summary = `${notes.length} notes in ${bars} bars (${primeNotes} from the prime); ` +
    `${frameText(song)}.` + (notes.length ? ` Range ${pitchName(Math.min(...notes.map((n) =>
      n.pitch)))} to ${pitchName(Math.max(...notes.map((n) => n.pitch)))}.` : "");
  const lines = [];
  notes.forEach((n, i) => {
    const b = Math.floor(n.start / bar);
    (lines[b] ??= []).push(`${pitchName(n.pitch)}${i < primeNotes ? " (prime)" : ""} at beat ` +
      `${beats(n.start - b * bar) + 1} for ${beats(n.duration)}`);
  });
  return { summary, bars: Array.from({ length: bars }, (_, b) =>
    `Bar ${b + 1}: ${lines[b]?.join(", ") ?? "no new note"}.`) };
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
