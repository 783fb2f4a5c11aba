// MIDI files in and out, with @tonejs/midi. Times inside Cadenza are beats
// (uploads) or grid steps (songs); MIDI ticks convert exactly through the
// file's ppq, so tempo changes in an upload do not bend its rhythm.

import * as tonejsMidi from "@tonejs/midi";
import { barSteps, OTHER, parseKey, sameMeter, spelledKey } from "../mirror/keys.js";
import { reason } from "../common/reason.js";

// esbuild sees the package's named export; Node (the JS tests) only its CommonJS default
const Midi = tonejsMidi.Midi ?? tonejsMidi.default.Midi;
export const VELOCITY = 80 / 127;
const MIN_VELOCITY = 1 / 127; // @tonejs/midi drops notes whose velocity rounds to 0
// The largest MIDI file read, as trainer/constants.py MAX_MIDI_BYTES (tests/vectors/limits.json).
export const MAX_MIDI_BYTES = 16 * 1024 * 1024;

/**
 * Raw notes [{start, end, pitch}] in beats of every non-drum track of a MIDI
 * file (an ArrayBuffer), in file order. Throws an Error saying the file is
 * not MIDI, or that it has no notes.
 */
export function readMidi(bytes) {
  return readSong(bytes).notes;
}

/**
 * readMidi's notes and what the file says beside them, as trainer/music/midi_io.py's
 * read_song: {notes, meters, key}; meters are its time signatures
 * [[beat, numerator, denominator], ...] in time order, key its first key
 * signature [tonic 0..11, "major" | "minor"] or null. Codec.quantiseSong
 * makes a v2 song of them.
 */
export function readSong(bytes) {
  const midi = parse(bytes);
  const notes = notesOf(midi);
  if (!notes.length) throw new Error("this MIDI file has no notes (drums aside)");
  return songOf(midi, notes);
}

// The limits trainer/constants.py sets on a file prepare learns from (tests/vectors/prepare.json).
export const MIN_TEMPO_BPM = 4;
export const MAX_TEMPO_BPM = 1000;
export const MAX_SONG_SECONDS = 2 * 60 * 60;
export const MAX_SONG_BEATS = 20_000;

/**
 * readSong for a file to learn from, refused as trainer/music/midi_io.py's parse_song
 * refuses it, with its reasons and in its order: checkFile's, then a tempo outside
 * MIN_TEMPO_BPM..MAX_TEMPO_BPM, "drums only" or "no notes", a length over
 * MAX_SONG_SECONDS or MAX_SONG_BEATS. A prime (readSong) takes what it can play; a
 * song that teaches a model must be music as the trainer reads it. Tempo events are
 * read from every track (pretty_midi reads the first), as @tonejs/midi times notes.
 */
export function readTrainingSong(bytes) {
  const midi = parse(bytes);
  const tempi = midi.header.tempos.map((t) => t.bpm);
  const [low, high] = [Math.min(...tempi), Math.max(...tempi)];
  if (tempi.length && !(MIN_TEMPO_BPM <= low && high <= MAX_TEMPO_BPM)) {
    throw new Error(`absurd tempo ${formatG(low < MIN_TEMPO_BPM ? low : high)} BPM`);
  }
  const notes = notesOf(midi);
  if (!notes.length) {
    throw new Error(midi.tracks.some((t) => t.notes.length) ? "drums only" : "no notes");
  }
  const ppq = midi.header.ppq;
  const end = notes.reduce((m, n) => Math.max(m, n.end), 0); // no spread: a file may hold 1M notes
  const seconds = midi.header.ticksToSeconds(end * ppq);
  if (seconds > MAX_SONG_SECONDS) {
    throw new Error(`absurd length (${(seconds / 3600).toFixed(1)} hours)`);
  }
  if (end > MAX_SONG_BEATS) throw new Error(`absurd length (${end.toFixed(0)} beats)`);
  return songOf(midi, notes);
}

/** Python's "%.6g" of a positive number (or Infinity, "inf"). */
function formatG(x) {
  if (!Number.isFinite(x)) return "inf";
  const exponent = Math.floor(Math.log10(x));
  if (exponent < -4 || exponent >= 6) {
    const [mantissa, power] = x.toExponential(5).split("e");
    const digits = mantissa.includes(".") ? mantissa.replace(/\.?0+$/, "") : mantissa;
    const sign = power.startsWith("-") ? "-" : "+";
    return `${digits}e${sign}${power.replace(/^[+-]/, "").padStart(2, "0")}`;
  }
  return String(Number(x.toPrecision(6)));
}

/** The Midi of a file's bytes, checked first (checkFile); throws the reason it is refused. */
function parse(bytes) {
  checkFile(new Uint8Array(bytes));
  try {
    return new Midi(bytes);
  } catch (e) {
    // the parser's own TypeErrors ("reading 'forEach' of undefined") say nothing to a reader
    const why = e instanceof TypeError || e instanceof RangeError ? "damaged or cut short"
      : reason(e);
    throw new Error(`this is not a MIDI file (${why})`);
  }
}

/** Raw notes [{start, end, pitch}] in beats of every non-drum track, in file order. */
function notesOf(midi) {
  const ppq = midi.header.ppq;
  return midi.tracks.filter((t) => !t.instrument.percussion).flatMap((t) => t.notes)
    .map((n) => ({ start: n.ticks / ppq, end: (n.ticks + n.durationTicks) / ppq, pitch: n.midi }));
}

/** readSong's {notes, meters, key} of a parsed file and its notes. */
function songOf(midi, notes) {
  const ppq = midi.header.ppq;
  const meters = midi.header.timeSignatures
    .filter(({ timeSignature: [n, d] }) => n >= 1 && d >= 1)
    .map(({ ticks, timeSignature: [n, d] }) => [ticks / ppq, n, d]);
  return { notes, meters, key: firstKey(midi.header.keySignatures) };
}

/**
 * The reason a file of `size` bytes is refused (one too large to read; a page skips it
 * unread), or null.
 */
export function sizeReason(size) {
  return size > MAX_MIDI_BYTES ? `${size.toLocaleString("en-US")} bytes, more than the ` +
    `${MAX_MIDI_BYTES.toLocaleString("en-US")} a MIDI file may hold here` : null;
}

/**
 * Throw the reason trainer/music/midi_io.py gives (its _check_chunks; tests/vectors/
 * midi.json holds them alike) for a file that is empty, huge or not MIDI, whose header
 * or a track it counts claims more bytes than follow (a truncated file, a damaged
 * length), or that lacks a counted track: @tonejs/midi reads a cut file silently, and
 * calls one 2 GB track empty.
 */
function checkFile(data) {
  if (!data.length) throw new Error("empty file");
  const tooLarge = sizeReason(data.length);
  if (tooLarge) throw new Error(tooLarge);
  if (String.fromCharCode(...data.subarray(0, 4)) !== "MThd") {
    throw new Error("not a MIDI file (no MThd header)");
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  // MThd, its length, then format, track count and division
  if (data.length < 14) throw new Error("truncated or damaged: the header is cut short");
  const tracks = view.getUint16(10);
  for (let at = 0, number = 0; number <= tracks; number++) {
    if (at + 8 > data.length) {
      throw new Error(`truncated or damaged: the header counts ${tracks.toLocaleString("en-US")} ` +
        `tracks, and only ${(number - 1).toLocaleString("en-US")} follow`);
    }
    const size = view.getUint32(at + 4), left = data.length - at - 8;
    if (size > left) {
      const what = number === 0 ? "the header" : `track ${number}`;
      throw new Error(`truncated or damaged: ${what} claims ${size.toLocaleString("en-US")} ` +
        `bytes, and only ${left.toLocaleString("en-US")} follow`);
    }
    at += 8 + size;
  }
}

/** The first `limit` of notes ({start, ...}) by onset (file order where they tie). */
export function firstNotes(notes, limit) {
  if (notes.length <= limit) return notes;
  return notes.map((n, i) => [n, i]).sort((a, b) => a[0].start - b[0].start || a[1] - b[1])
    .slice(0, limit).map(([n]) => n);
}

/** [tonic, mode] of the earliest key signature ({key, scale, ticks}), or null. */
function firstKey(signatures) {
  // @tonejs/midi names the major key of the signature's sharps or flats, minor ones too
  const known = signatures.filter((k) => typeof k.key === "string")
    .sort((a, b) => a.ticks - b.ticks); // stable: file order at one time, as pretty_midi
  if (!known.length) return null;
  const { key, scale } = known[0];
  const major = parseKey(`${key}:major`)[0];
  return scale === "minor" ? [(major + 9) % 12, "minor"] : [major, "major"];
}

/**
 * A one-track piano MIDI file (Uint8Array) of notes in grid steps at bpm,
 * with the key and time signatures of meta (a codec v2 song's) if given, as
 * trainer/music/midi_io.py's write_midi: a pickup is padded with rest to a whole
 * bar, so the file's bar lines fall where the song's do.
 */
export function writeMidi(notes, { bpm, stepsPerBeat, velocity = VELOCITY, name = "Cadenza",
  meta = null }) {
  const midi = new Midi();
  midi.header.setTempo(bpm);
  midi.header.name = name;
  const ticks = midi.header.ppq / stepsPerBeat; // 480 / 4: whole ticks
  const pad = meta ? writeMeta(midi.header, meta, stepsPerBeat, ticks) : 0;
  const track = midi.addTrack();
  track.name = name;
  track.instrument.number = 0; // Acoustic Grand Piano
  const v = Math.max(velocity, MIN_VELOCITY);
  for (const { start, duration, pitch } of notes) {
    track.addNote({ midi: pitch, ticks: Math.round((start + pad) * ticks),
      durationTicks: Math.round(duration * ticks), velocity: v });
  }
  const bytes = midi.toArray();
  if (meta) setKeySignature(bytes, spelledKey(meta.key).fifths);
  return bytes;
}

/**
 * Set the sharps (+) or flats (-) of the file's key signature (FF 59 02 sf
 * mi, in the first track, at tick 0): @tonejs/midi 2.0.28 writes sf as its
 * name's index + 7, which no reader takes back.
 */
function setKeySignature(bytes, fifths) {
  for (let i = 14; i + 4 < bytes.length; i++) {
    if (bytes[i] === 0xff && bytes[i + 1] === 0x59 && bytes[i + 2] === 0x02) {
      bytes[i + 3] = fifths & 0xff;
      return;
    }
  }
  throw new Error("the MIDI writer left out the key signature");
}

/** Add meta's key and time signatures to header; returns the steps that pad a pickup. */
function writeMeta(header, meta, stepsPerBeat, ticks) {
  header.keySignatures.push({ ticks: 0, key: "C", scale: meta.key[1] }); // sf: setKeySignature
  const bar = meta.meter === OTHER ? null : barSteps(meta.meter, stepsPerBeat);
  const first = meta.bars.length ? meta.bars[0][0] : 0;
  const pad = bar && first ? (((bar - first) % bar) + bar) % bar : 0;
  let current = null;
  for (const [step, meter] of [[-pad, meta.meter], ...meta.bars]) {
    if (meter !== OTHER && (current === null || !sameMeter(meter, current))) {
      header.timeSignatures.push({ ticks: Math.round((step + pad) * ticks),
        timeSignature: [meter[0], meter[1]] });
    }
    current = meter;
  }
  header.update();
  return pad;
}
