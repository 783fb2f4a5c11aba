// Harmonizing a melody: the top line of a song, and the Constraint that keeps it on top.
//
// A line-for-line mirror of trainer/compose/harmony.py (its docstrings state the
// rules); tests/vectors/harmonize.json, written by scripts/make_vectors.py,
// holds the two to the same melody and the same tokens for the same seed.
//
// Notes are {start, duration, pitch} in grid steps, as codec.js gives them; a
// melody is {notes, meta, folded}: its line from step 0, each note ending by
// the next onset, the meta of codec.js ({key, meter, bars}: bar lines up to
// the last onset) and how many of its notes were moved by octaves into A0..C8.

import { KIND, roundHalfEven } from "./codec.js";
import * as K from "./keys.js";
import { generate } from "./sampler.js";

/** Notes of the last onset's chord, the melody's included. */
export const FINAL_VOICES = 3;
// The chords an onset may sound, as intervals above the root (Python: CHORDS).
const CHORDS = { "major triad": [0, 4, 7], "minor triad": [0, 3, 7],
  "diminished triad": [0, 3, 6], "dominant seventh": [0, 4, 7, 10],
  "minor seventh": [0, 3, 7, 10], "half-diminished seventh": [0, 3, 6, 10],
  "major seventh": [0, 4, 7, 11], "diminished seventh": [0, 3, 6, 9] };
/** Each chord on each root as a pitch-class set (bit c for pitch class c). */
const sets = (chords) => chords.flatMap((chord) => Array.from({ length: 12 },
  (_, root) => chord.reduce((set, i) => set | (1 << ((root + i) % 12)), 0)));
export const CHORD_SETS = sets(Object.values(CHORDS));
// the last chord's
export const FINAL_TRIADS = sets([CHORDS["major triad"], CHORDS["minor triad"]]);
const PIANO_LOW = 21, PIANO_HIGH = 108; // A0..C8, the range NOTE tokens cover
const NOT_V2 = "harmonizing needs a codec v2 model with bar lines";

/**
 * The top line of normalised notes: at each onset its highest note, unless a
 * higher note of the line still sounds; each kept note is cut where the next
 * one starts (the skyline a listener hears as the tune). New objects.
 */
export function topLine(notes) {
  const line = [];
  let lastOnset = null;
  for (const { start, duration, pitch } of notes) { // normalised: by onset, high first
    if (start === lastOnset) continue;
    lastOnset = start;
    const prev = line.at(-1);
    if (prev && start < prev.start + prev.duration && pitch < prev.pitch) {
      continue; // under a melody note that still sounds
    }
    if (prev) prev.duration = Math.min(prev.duration, start - prev.start);
    line.push({ start, duration, pitch });
  }
  return line;
}

/**
 * Raw notes [{start, end, pitch}] (beats) with pitches outside A0..C8 moved by
 * octaves into it: {notes (new objects), folded (how many moved)}.
 */
export function foldPitches(rawNotes) {
  let folded = 0;
  const notes = rawNotes.map(({ start, end, pitch }) => {
    const p = roundHalfEven(pitch);
    if (p < PIANO_LOW) {
      folded++;
      return { start, end, pitch: p + 12 * Math.ceil((PIANO_LOW - p) / 12) };
    }
    if (p > PIANO_HIGH) {
      folded++;
      return { start, end, pitch: p - 12 * Math.ceil((p - PIANO_HIGH) / 12) };
    }
    return { start, end, pitch };
  });
  return { notes, folded };
}

/**
 * The melody of a file's song as midifile.js readSong gives it ({notes:
 * [{start, end, pitch}] in beats, meters: [[beat, n, d]], key: [tonic, mode]
 * | null}). The notes are quantised as any song is (Codec.quantiseSong), then
 * their top line is taken. key ([tonic, mode]) and meter ([n, d] or "other")
 * are the user's choice; null keeps the file's (its time signatures, 4/4
 * without; its key signature where the melody agrees, else the estimate from
 * the melody). A chosen meter holds from the melody's first bar line as the
 * file's would. Throws a RangeError for a melody with no notes.
 */
export function melodyLine(codec, song, { key = null, meter = null } = {}) {
  if (codec.version < 2 || codec.barId === null) throw new RangeError(NOT_V2);
  const { notes: raw, folded } = foldPitches(song.notes);
  let meters = song.meters ?? [];
  if (meter !== null) meters = meter !== K.OTHER ? [[0, ...meter]] : [[0, 5, 4]];
  const fileKey = song.key ?? null;
  const { notes, meta } = codec.quantiseSong(raw, meters, fileKey);
  let melody = melodyOf(notes, meta, key, fileKey);
  if (meter === K.OTHER) {
    const m = melody.meta;
    melody = { notes: melody.notes, meta: { key: m.key, meter: K.OTHER,
      bars: m.bars.map(([b]) => [b, K.OTHER]) } };
  }
  return { ...melody, folded };
}

/**
 * The melody of a quantised song (notes, meta): its top line from step 0,
 * its bar lines up to the line's last onset, and key (null: the file's key
 * where the line agrees, else the estimate from the line). folded is 0.
 * Throws a RangeError for a song with no notes.
 */
export function melodyOf(notes, meta, key = null, fileKey = null) {
  const line = topLine(notes);
  if (!line.length) throw new RangeError("the melody has no notes");
  if (line[0].start > 0) { // the top line starts after the song does
    const shift = line[0].start;
    for (const n of line) n.start -= shift;
    let header = meta.meter;
    for (const [step, m] of meta.bars) if (step <= shift) header = m;
    meta = { key: meta.key, meter: header,
      bars: meta.bars.filter(([b]) => b >= shift).map(([b, m]) => [b - shift, m]) };
  }
  const last = line.at(-1).start;
  const bars = meta.bars.filter(([b]) => b <= last).map(([b, m]) => [b, m]);
  if (key === null) key = K.chooseKey(fileKey, line).key;
  return { notes: line, meta: { key, meter: meta.meter, bars }, folded: 0 };
}

/** Where the melody's last note ends, in steps. */
export function melodyEnd(melody) {
  return melody.notes.reduce((m, n) => Math.max(m, n.start + n.duration), 0);
}

/**
 * What sounds now, and the outer voices of the last start time, followed token
 * by token; narrow keeps offered pitches within one chord and out of parallel
 * fifths and octaves (Python: Voicing). The Constraint harmonizes with it, and
 * VoicingGuard composes a polyphonic model's songs with it.
 */
export class Voicing {
  constructor(codec) {
    this.codec = codec;
    this.time = 0;
    this.stepNotes = 0; // notes placed at this time step
    this.pending = null; // pitch of a NOTE awaiting its DUR
    this.sounding = []; // [end, pitch] of every note sounding now
    // lowest and highest pitch of the last start time, where 2 or more notes sounded
    this.outer = null;
  }

  advance(id) {
    const codec = this.codec, kind = codec.has(id) ? codec.kind[id] : -1;
    if (kind === KIND.NOTE) {
      this.pending = codec.value[id];
    } else if (kind === KIND.DUR && this.pending !== null) {
      this.sounding.push([this.time + codec.value[id], this.pending]);
      this.pending = null;
      this.stepNotes += 1;
    } else if (kind === KIND.SHIFT) {
      if (this.stepNotes) { // a start time: its outer voices, for the next one's motion
        const pitches = this.sounding.map(([, p]) => p);
        this.outer = pitches.length > 1 ? [Math.min(...pitches), Math.max(...pitches)] : null;
      }
      this.time += codec.value[id];
      [this.pending, this.stepNotes] = [null, 0];
      this.sounding = this.sounding.filter(([end]) => end > this.time);
    }
  }

  /**
   * Narrow the offered pitches (notes: a mask's NOTE block from lowPitch) to
   * those that keep what sounds now within one of chords (pitch-class sets),
   * with `after` pitches of that chord left below for notes still to come, and
   * make no parallel fifths or octaves between the outer voices; failing both,
   * to those that keep the chord; failing that too, the model's choice stands,
   * unless strict (then nothing is offered).
   */
  narrow(notes, lowPitch, { chords = CHORD_SETS, after = 0, strict = false } = {}) {
    // called at every step a note may come: one pass, no allocation per pitch
    let classes = 0, low = Infinity, high = -Infinity;
    for (const [, p] of this.sounding) {
      classes |= 1 << (p % 12);
      low = Math.min(low, p);
      high = Math.max(high, p);
    }
    const fits = chords.filter((c) => (classes & ~c) === 0);
    const anyFit = fits.reduce((set, c) => set | c, 0); // the classes some fitting chord has
    const below = (c, i) => {
      let n = 0;
      for (let q = 0; q < i; q++) n += (c >> ((lowPitch + q) % 12)) & 1;
      return n;
    };
    const chordOk = new Uint8Array(notes.length), smooth = new Uint8Array(notes.length);
    for (let i = 0; i < notes.length; i++) {
      if (!notes[i]) continue;
      const p = lowPitch + i, pc = p % 12;
      chordOk[i] = !after ? (anyFit >> pc) & 1 : fits.some((c) => ((c >> pc) & 1) === 1 &&
        below(c, i) >= after) ? 1 : 0;
      smooth[i] = this.parallel(Math.min(low, p), Math.max(high, p)) ? 0 : 1;
    }
    for (const keep of [chordOk.map((x, i) => x & smooth[i]), chordOk]) {
      if (keep.some((x) => x)) {
        notes.set(notes.map((x, i) => x & keep[i]));
        return;
      }
    }
    if (strict) notes.fill(0);
  }

  /**
   * Whether outer voices low and high here move from the last start time's the
   * same way, keeping a perfect fifth or an octave (mod 12).
   */
  parallel(low, high) {
    if (this.outer === null) return false;
    const [low0, high0] = this.outer;
    const interval = (((high0 - low0) % 12) + 12) % 12;
    return (low - low0) * (high - high0) > 0 && (interval === 0 || interval === 7) &&
      (((high - low) % 12) + 12) % 12 === interval;
  }
}

/**
 * The mask a polyphonic model's songs are composed with (voicingGuard): the
 * Grammar's, with the offered pitches narrowed by Voicing.narrow (Python:
 * VoicingGuard).
 */
export class VoicingGuard {
  constructor(codec) {
    this.voicing = new Voicing(codec);
    this.notes = codec.ranges.NOTE;
  }

  advance(id) {
    this.voicing.advance(id);
  }

  mask(grammarMask) {
    const allowed = Uint8Array.from(grammarMask);
    const { first, count, firstValue } = this.notes;
    this.voicing.narrow(allowed.subarray(first, first + count), firstValue);
    return allowed;
  }
}

/** The guard a song of codec is composed with: null for a one-line (mono) model. */
export function voicingGuard(codec) {
  return codec.params.mono ? null : new VoicingGuard(codec);
}

/**
 * The harmonizing mask over a codec.js Grammar (Python: Constraint; its
 * docstring has the rules). Fed every token with advance(id), as the Grammar
 * is; mask(grammarMask) takes the Grammar's mask (Uint8Array) and returns the
 * allowed ids (Uint8Array); fallbacks counts the steps where the two shared
 * none. Throws a RangeError for a v1 codec, one without bars, or a mono one.
 */
export class Constraint {
  constructor(codec, melody, finalVoices = FINAL_VOICES) {
    if (codec.version < 2 || codec.barId === null) throw new RangeError(NOT_V2);
    if (codec.params.mono) {
      throw new RangeError("this model writes one line: it can continue a melody " +
        "(sample --prime-file), not harmonize it");
    }
    this.codec = codec;
    this.finalVoices = finalVoices;
    this.fallbacks = 0; // steps where the Grammar and this mask left nothing in common
    this.melody = melody.notes.map(({ start, duration, pitch }) => [start, duration, pitch]);
    this.end = melodyEnd(melody);
    this.keyId = codec.keyId(melody.meta.key);
    this.meterId = codec.meterId(melody.meta.meter);
    this.bars = this.barLines(melody.meta); // [[step, METER id to force after it, or null]]
    this.header = 2;
    this.time = 0;
    this.nextNote = 0; // index of the melody note still to come
    this.nextBar = 0; // index of the bar line still to come
    this.pending = null; // pitch of a NOTE awaiting its DUR
    this.forcing = false; // that NOTE is the melody's
    this.meterDue = null; // METER id that must follow the BAR just given
    this.low = null; // lowest pitch of this time step
    this.stepNotes = 0;
    this.lastOnset = this.melody.length ? this.melody.at(-1)[0] : 0;
    this.voicing = new Voicing(codec); // what sounds, for the chord and voice-leading rule
  }

  barLines(meta) {
    const out = [];
    let meter = meta.meter;
    for (const [step, m] of meta.bars) {
      out.push([step, K.sameMeter(m, meter) ? null : this.codec.meterId(m)]);
      meter = m;
    }
    const bar = this.codec.barSteps(meter);
    if (bar !== null) { // past the last onset the grid goes on to the end
      // A melody wholly in a pickup states no bar line: the first comes where
      // the Grammar needs it at the latest, one bar in.
      for (let t = out.length ? out.at(-1)[0] + bar : bar; t < this.end; t += bar) {
        out.push([t, null]);
      }
    }
    return out;
  }

  /** Pitch of the melody note sounding at step t (null in a rest or past the end). */
  sounding(t) {
    for (const [start, dur, pitch] of this.melody) {
      if (start <= t && t < start + dur) return pitch;
      if (start > t) break;
    }
    return null;
  }

  /** A generated note of pitch from now for dur steps stays below the melody. */
  fits(pitch, dur) {
    const t0 = this.time, t1 = this.time + dur;
    // the last chord is struck together
    if (t1 > this.end || (t0 < this.lastOnset && this.lastOnset < t1)) return false;
    for (const [start, d, p] of this.melody) {
      if (start >= t1) break;
      if (start + d > t0 && pitch >= p) return false;
    }
    return true;
  }

  advance(id) {
    const codec = this.codec, kind = codec.has(id) ? codec.kind[id] : -1;
    this.meterDue = null;
    this.voicing.advance(id);
    if (kind === KIND.NOTE) {
      this.pending = codec.value[id];
      const m = this.onsetDue();
      this.forcing = m !== null && this.pending === m[2];
    } else if (kind === KIND.DUR && this.pending !== null) {
      if (this.forcing) this.nextNote += 1;
      [this.low, this.pending, this.forcing] = [this.pending, null, false];
      this.stepNotes += 1;
    } else if (kind === KIND.SHIFT) {
      this.time += codec.value[id];
      [this.pending, this.forcing, this.low, this.stepNotes] = [null, false, null, 0];
    } else if (kind === KIND.KEY || kind === KIND.METER) {
      this.header = Math.max(0, this.header - 1);
    } else if (id === codec.barId) {
      if (this.nextBar < this.bars.length && this.bars[this.nextBar][0] === this.time) {
        this.meterDue = this.bars[this.nextBar][1];
        this.nextBar += 1;
      }
    }
  }

  /** The melody note [start, duration, pitch] that starts now and is not in yet, or null. */
  onsetDue() {
    const m = this.melody[this.nextNote];
    return m !== undefined && m[0] === this.time ? m : null;
  }

  /** The Constraint's allowed ids (Uint8Array), before the Grammar's. */
  ownMask() {
    const { size, ranges, barId, eosId } = this.codec;
    const allowed = new Uint8Array(size);
    const { NOTE: note, DUR: dur, SHIFT: shift } = ranges;
    if (this.header === 2) {
      allowed[this.keyId] = 1;
      return allowed;
    }
    if (this.header === 1) {
      allowed[this.meterId] = 1;
      return allowed;
    }
    if (this.pending !== null) {
      if (this.forcing) {
        allowed[dur.first + this.melody[this.nextNote][1] - 1] = 1;
      } else if (this.nextNote >= this.melody.length) { // the last chord: held to the end
        allowed[dur.first + Math.min(this.end - this.time, dur.count) - 1] = 1;
      } else {
        for (let d = 1; d <= dur.count; d++) {
          allowed[dur.first + d - 1] = this.fits(this.pending, d) ? 1 : 0;
        }
      }
      return allowed;
    }
    if (this.meterDue !== null) {
      allowed[this.meterDue] = 1;
      return allowed;
    }
    if (this.nextBar < this.bars.length && this.bars[this.nextBar][0] === this.time) {
      allowed[barId] = 1;
      return allowed;
    }
    const due = this.onsetDue();
    if (due !== null) {
      allowed[note.first + due[2] - note.firstValue] = 1;
      return allowed;
    }
    const cap = this.sounding(this.time);
    const done = this.nextNote >= this.melody.length;
    let notes = 0;
    if (cap !== null) {
      const top = this.low === null ? cap : Math.min(cap, this.low);
      notes = Math.max(0, top - note.firstValue);
      allowed.fill(1, note.first, note.first + notes);
      this.voicing.narrow(allowed.subarray(note.first, note.first + note.count), note.firstValue,
        { chords: done ? FINAL_TRIADS : CHORD_SETS,
          after: done ? Math.max(0, this.finalVoices - this.stepNotes - 1) : 0,
          strict: done && this.stepNotes >= this.finalVoices });
    }
    const chordOpen = done && this.time === this.melody.at(-1)[0] &&
      this.stepNotes < this.finalVoices && notes > 0;
    if (chordOpen) { // the final chord is not full yet: leave room below for the rest
      const need = this.finalVoices - this.stepNotes; // notes still to come, this one's too
      if (notes >= need) allowed.fill(0, note.first, note.first + need - 1);
      return allowed;
    }
    if (done) {
      allowed[eosId] = 1;
      return allowed;
    }
    let limit = this.melody[this.nextNote][0];
    if (this.nextBar < this.bars.length) limit = Math.min(limit, this.bars[this.nextBar][0]);
    const room = Math.min(shift.count, limit - this.time);
    allowed.fill(1, shift.first, shift.first + Math.max(0, room));
    return allowed;
  }

  /**
   * The ids allowed next: the Grammar's and the Constraint's together; where
   * they share none, the Constraint's alone (counted in fallbacks); where that
   * is empty too, EOS.
   */
  mask(grammarMask) {
    const own = this.ownMask();
    const both = own.map((x, i) => (x && grammarMask[i] ? 1 : 0));
    if (both.some((x) => x)) return both;
    this.fallbacks += 1;
    if (own.some((x) => x)) return own;
    own[this.codec.eosId] = 1;
    return own;
  }
}

/**
 * {ids, fallbacks}: the token ids (from BOS, no EOS) of melody harmonized by
 * the model behind step (reset by the caller; step(id) -> next-token logits,
 * as sampler.js generate takes it), and how often the Constraint fell back
 * (Python: harmonize). onToken(id) is called for each new token. The note and
 * token limits are bounds the Constraint cannot reach, so the song ends with
 * EOS, after the melody.
 */
export function harmonize(step, codec, melody, { temperature = 1, topK = 0, topP = 1, seed = 0,
  onToken = null, finalVoices = FINAL_VOICES } = {}) {
  const constraint = new Constraint(codec, melody, finalVoices);
  const maxNotes = (PIANO_HIGH - PIANO_LOW + 1) * constraint.end + 1;
  const maxTokens = 2 * maxNotes + constraint.end + 2 * constraint.bars.length + 3; // BAR, METER
  const ids = generate(step, codec, [codec.bosId], { maxNotes, maxTokens, temperature, topK,
    topP, seed, onToken, constraint });
  if (constraint.nextNote < constraint.melody.length) {
    throw new Error("harmonize stopped before the melody's end"); // a broken invariant
  }
  return { ids: [codec.bosId, ...ids], fallbacks: constraint.fallbacks };
}
