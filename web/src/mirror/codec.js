// The token codec of trainer/music/codec.py, read from the vocab.json it writes.
//
// Notes are {start, duration, pitch} in grid steps (steps_per_beat per beat).
// A version-2 vocabulary adds KEY, METER and BAR tokens: a song's meta is
// {key: [tonic, mode], meter: [n, d] | "other", bars: [[step, meter], ...]},
// as Python's Meta.to_json() writes it (keys.js has the names). Every rule
// here mirrors the Python one; tests/vectors/*.json, written by
// scripts/make_vectors.py, hold both to the same ids, notes and meta.

import * as K from "./keys.js";

const FORMAT = "cadenza-vocab";
const VERSIONS = [1, 2];
const KINDS = ["NOTE", "DUR", "SHIFT"];
const V2_KINDS = ["KEY", "METER", "BAR"]; // after KINDS, so v1 ids keep their values
/** codec.kind[id]: -1 for the special tokens, else the index of its kind here. */
export const KIND = { NOTE: 0, DUR: 1, SHIFT: 2, KEY: 3, METER: 4, BAR: 5 };

/** The token names of a kind's range, in id order. */
function names(kind, count, firstValue) {
  if (kind === "KEY") return K.KEYS.map(([t, m]) => `KEY_${K.TONICS[t]}_${m}`);
  if (kind === "METER") return K.METER_VALUES.map((m) => `METER_${K.meterName(m).replace("/", "_")}`);
  if (kind === "BAR") return ["BAR"];
  return Array.from({ length: count }, (_, i) => `${kind}_${firstValue + i}`);
}

/** Maps normalised notes (and a v2 song's meta) to token ids and any token ids back. */
export class Codec {
  /** @param vocab the parsed vocab.json; throws if it is not cadenza-vocab v1 or v2. */
  constructor(vocab) {
    if (vocab?.format !== FORMAT || !VERSIONS.includes(vocab?.version)) {
      throw new Error(`not a ${FORMAT} v1 or v2 vocabulary ` +
        `(format ${JSON.stringify(vocab?.format)}, version ${JSON.stringify(vocab?.version)})`);
    }
    const { size, params, special, ranges, tokens } = vocab;
    this.version = vocab.version;
    this.size = size;
    this.params = { ...params };
    this.padId = special.PAD;
    this.bosId = special.BOS;
    this.eosId = special.EOS;
    this.ranges = {}; // kind -> {first, count, firstValue}
    this.kind = new Int8Array(size).fill(-1); // -1 special, else KIND[kind]
    this.value = new Int32Array(size);
    const kinds = this.version >= 2 ? [...KINDS, ...V2_KINDS] : KINDS;
    if (this.version >= 2 && (params.bars !== !!ranges.BAR ||
        JSON.stringify(vocab.keys) !== JSON.stringify(K.KEYS.map(K.keyName)) ||
        JSON.stringify(vocab.meters) !== JSON.stringify(K.METER_VALUES.map(K.meterName)))) {
      throw new Error("vocab.json's keys, meters or bars are not the ones this page knows; " +
        "it was edited or written by another version");
    }
    for (const kind of kinds) {
      if (!ranges[kind] && kind === "BAR") continue; // a v2 vocabulary without bars
      const { first_id: first, count, first_value: firstValue } = ranges[kind];
      const want = names(kind, count, firstValue);
      this.ranges[kind] = { first, count, firstValue };
      for (let i = 0; i < count; i++) {
        if (tokens[first + i] !== want[i]) {
          throw new Error(`vocab.json is inconsistent: id ${first + i} is ` +
            `${tokens[first + i]}, expected ${want[i]}`);
        }
        this.kind[first + i] = KIND[kind];
        this.value[first + i] = firstValue + i;
      }
    }
    this.tokens = tokens.slice();
    if (tokens.length !== size) throw new Error("vocab.json is inconsistent: size != tokens");
    this.barId = this.ranges.BAR ? this.ranges.BAR.first : null;
  }

  /**
   * The id of NOTE_value, DUR_value or SHIFT_value (or the value-th KEY or
   * METER, BAR with value 0); throws outside the vocabulary.
   */
  tokenId(kind, value) {
    if (!this.ranges[kind]) throw new RangeError(`this vocabulary has no ${kind} tokens`);
    const { first, count, firstValue } = this.ranges[kind];
    if (!(Number.isInteger(value) && value >= firstValue && value < firstValue + count)) {
      throw new RangeError(`${kind}_${value} is outside the vocabulary ` +
        `(${kind}_${firstValue}..${kind}_${firstValue + count - 1})`);
    }
    return first + value - firstValue;
  }

  /** The token's name, e.g. NOTE_60; ?<id> for ids outside the vocabulary. */
  describe(id) {
    return this.has(id) ? this.tokens[id] : `?${id}`;
  }

  has(id) {
    return Number.isInteger(id) && id >= 0 && id < this.size;
  }

  is(id, kind) {
    return this.has(id) && this.kind[id] === KIND[kind];
  }

  /** The KEY id of key [tonic, mode] (v2). */
  keyId([tonic, mode]) {
    const index = K.KEYS.findIndex(([t, m]) => t === ((tonic % 12) + 12) % 12 && m === mode);
    if (index < 0) throw new RangeError(`no key ${JSON.stringify([tonic, mode])}`);
    return this.tokenId("KEY", index);
  }

  /** The METER id of meter [n, d] (its token, or METER_other) or "other" (v2). */
  meterId(meter) {
    const value = K.meterTokenValue(meter);
    return this.tokenId("METER", K.METER_VALUES.findIndex((m) => K.sameMeter(m, value)));
  }

  /** The key a KEY id stands for; null for other ids. */
  keyOf(id) {
    return this.is(id, "KEY") ? [...K.KEYS[this.value[id]]] : null;
  }

  /** The meter a METER id stands for; null for other ids. */
  meterOf(id) {
    if (!this.is(id, "METER")) return null;
    const m = K.METER_VALUES[this.value[id]];
    return m === K.OTHER ? m : [...m];
  }

  /** Steps per bar of a token meter; null for "other". */
  barSteps(meter) {
    return K.barSteps(meter, this.params.steps_per_beat);
  }

  /**
   * Snap raw notes [{start, end, pitch}] (beats, MIDI pitch) to the grid and
   * normalise them: times round to the nearest step (halves up), pitches to the
   * nearest integer (halves to even, as numpy); a duration is 1..max_duration
   * steps; pitches off the piano and negative onsets are dropped. Leading
   * silence is removed in whole beats (v1), or entirely (v2: the first note
   * is at step 0).
   */
  quantise(raw) {
    const { steps_per_beat: spb, max_duration: maxDur } = this.params;
    const notes = [];
    for (const { start, end, pitch } of raw) {
      const s = Math.floor(start * spb + 0.5), e = Math.floor(end * spb + 0.5);
      const p = roundHalfEven(pitch);
      if (!(this.onPiano(p) && s >= 0)) continue;
      notes.push({ start: s, duration: Math.min(Math.max(e - s, 1), maxDur), pitch: p });
    }
    if (notes.length) {
      const first = notes.reduce((m, n) => Math.min(m, n.start), Infinity);
      const cut = this.version === 1 ? Math.floor(first / spb) * spb : first;
      for (const n of notes) n.start -= cut;
    }
    return normalise(notes, this.params.mono);
  }

  onPiano(pitch) {
    return pitch >= this.params.min_pitch && pitch <= this.params.max_pitch;
  }

  /**
   * {notes, meta, source} of a file's raw notes, time signatures `meters`
   * ([[beat, n, d], ...]; none: 4/4 from the file's start) and key signature
   * fileKey ([tonic, mode] or null), as Python's quantise_song: a time
   * signature takes effect at the first bar line at or after it (of several
   * at one time, the last in meters, as in a MIDI file); the notes
   * start at step 0 and a pickup is what comes before the first bar line;
   * the file's key is used where it agrees with the estimate (keys.chooseKey).
   */
  quantiseSong(raw, meters = [], fileKey = null) {
    const spb = this.params.steps_per_beat;
    let first = Infinity;
    for (const { start, pitch } of raw) {
      const s = Math.floor(start * spb + 0.5);
      if (this.onPiano(roundHalfEven(pitch)) && s >= 0) first = Math.min(first, s);
    }
    if (first === Infinity) first = 0;
    const notes = this.quantise(raw);
    // sorted by time alone: a stable sort keeps the file's order at one time
    const events = meters.slice().sort((a, b) => a[0] - b[0])
      .map(([beat, n, d]) => [Math.floor(beat * spb + 0.5), [n, d]]);
    const last = notes.reduce((m, n) => Math.max(m, n.start), 0);
    let header = K.DEFAULT_METER;
    const bars = [];
    for (const [step, meter] of barLines(events, first + last, spb)) {
      if (step <= first) header = meter;
      if (step >= first) bars.push([step - first, K.meterTokenValue(meter)]);
    }
    const { key, source } = K.chooseKey(fileKey, notes);
    return { notes, meta: { key, meter: K.meterTokenValue(header), bars }, source };
  }

  /** Estimated key, 4/4 bars from step 0: the meta of notes that come without one. */
  defaultMeta(notes) {
    const last = notes.reduce((m, n) => Math.max(m, n.start), -1);
    const bar = K.barSteps(K.DEFAULT_METER, this.params.steps_per_beat);
    const bars = [];
    for (let b = 0; b <= last; b += bar) bars.push([b, [...K.DEFAULT_METER]]);
    return { key: K.estimateKey(notes), meter: [...K.DEFAULT_METER], bars };
  }

  /**
   * Token ids of normalised notes, from BOS to EOS. Version 2 writes meta
   * (default: defaultMeta(notes)) too; a v1 codec ignores it. Throws for
   * notes the vocabulary cannot express.
   */
  encode(notes, meta = null) {
    for (const n of notes) {
      if (!(n.start >= 0)) {
        throw new RangeError(`note ${JSON.stringify([n.start, n.duration, n.pitch])} ` +
          "(start, duration, pitch) is outside the vocabulary; quantise it first");
      }
    }
    const ids = [this.bosId];
    let time = 0, meter = null, bars = [];
    if (this.version >= 2) {
      meta ??= this.defaultMeta(notes);
      meter = meta.meter;
      ids.push(this.keyId(meta.key), this.meterId(meter));
      bars = this.barId === null ? [] : meta.bars;
    }
    let b = 0;
    for (const { start, duration, pitch } of notes) {
      for (; b < bars.length && bars[b][0] <= start; b++) {
        ids.push(...this.shifts(bars[b][0] - time));
        time = bars[b][0];
        ids.push(this.barId);
        if (!K.sameMeter(bars[b][1], meter)) {
          meter = bars[b][1];
          ids.push(this.meterId(meter));
        }
      }
      ids.push(...this.shifts(start - time));
      time = start;
      ids.push(this.tokenId("NOTE", pitch), this.tokenId("DUR", duration));
    }
    ids.push(this.eosId);
    return ids;
  }

  /** SHIFT ids that advance time by gap steps (none for gap <= 0). */
  shifts(gap) {
    const max = this.params.max_shift;
    const out = [];
    for (let left = Math.max(gap, 0); left > 0; left -= max) {
      out.push(this.tokenId("SHIFT", Math.min(left, max)));
    }
    return out;
  }

  /**
   * Normalised notes of any id sequence; never throws on content. NOTE_p DUR_k
   * makes a note at the current time, SHIFT_k advances time; a NOTE without
   * its DUR, a DUR without its NOTE, PAD, BOS and ids that are not integers in
   * the vocabulary are skipped (KEY, METER and BAR too: they change no note).
   * Decoding stops at EOS.
   */
  decode(ids) {
    const notes = [];
    let time = 0, pending = null;
    for (const id of ids) {
      if (!this.has(id)) continue;
      if (id === this.eosId) break;
      const kind = this.kind[id], value = this.value[id];
      if (kind === KIND.NOTE) {
        pending = value;
      } else if (kind === KIND.DUR) {
        if (pending !== null) notes.push({ start: time, duration: value, pitch: pending });
        pending = null;
      } else if (kind === KIND.SHIFT) {
        time += value;
        pending = null;
      }
    }
    return normalise(notes, this.params.mono);
  }

  /**
   * The meta a v2 id sequence states (null for a v1 codec), as Python's
   * decode_meta: the first KEY sets the key (C major if none), the first
   * METER the starting meter (4/4 if none); each BAR is a bar line at the
   * time the SHIFTs before it reach, in the meter of the last METER (a METER
   * right after a BAR applies to that bar). Stops at EOS; never throws on content.
   */
  decodeMeta(ids) {
    if (this.version < 2) return null;
    let key = null, meter = null, time = 0, last = null;
    const bars = [];
    for (const id of ids) {
      if (!this.has(id)) {
        last = null;
        continue;
      }
      if (id === this.eosId) break;
      if (this.kind[id] === KIND.SHIFT) {
        time += this.value[id];
      } else if (this.kind[id] === KIND.KEY && key === null) {
        key = this.keyOf(id);
      } else if (this.kind[id] === KIND.METER) {
        const m = this.meterOf(id);
        if (meter === null) meter = m;
        if (last === this.barId && bars.length) bars[bars.length - 1] = [bars.at(-1)[0], m];
        else if (!bars.length) meter = m;
      } else if (id === this.barId) {
        const current = bars.length ? bars.at(-1)[1] : (meter ?? [...K.DEFAULT_METER]);
        if (bars.length && bars.at(-1)[0] === time) bars.pop(); // the later one counts
        bars.push([time, current]);
      }
      last = id;
    }
    return { key: key ?? [0, "major"], meter: meter ?? [...K.DEFAULT_METER], bars };
  }

  /** {notes: decode(ids), meta: decodeMeta(ids)}. */
  decodeSong(ids) {
    return { notes: this.decode(ids), meta: this.decodeMeta(ids) };
  }
}

/**
 * Bar lines [step, meter] from events ([step, meter] sorted) up to end, as
 * Python's _bar_lines: 4/4 holds before the first event; an event takes
 * effect at the first bar line at or after its step; of several events at one
 * step the last counts; a bar that is not a whole number of steps is rounded
 * (halves to even, at least one step).
 */
function barLines(events, end, spb) {
  const merged = [];
  for (const [step, meter] of events) {
    if (merged.length && merged.at(-1)[0] === step) merged[merged.length - 1] = [step, meter];
    else if (!merged.length || !K.sameMeter(merged.at(-1)[1], meter)) merged.push([step, meter]);
  }
  if (!merged.length || merged[0][0] > 0) merged.unshift([0, K.DEFAULT_METER]);
  const bars = [];
  let [t, meter] = merged[0], i = 0;
  while (t <= end) {
    while (i + 1 < merged.length && merged[i + 1][0] <= t) meter = merged[++i][1];
    bars.push([t, meter]);
    const [n, d] = meter;
    t += K.barSteps(meter, spb) ?? Math.max(1, roundHalfEven(n * 4 * spb / d));
  }
  return bars;
}

/**
 * trainer/music/codec.py's degree_index: the (25, codec.size) table, row-major
 * in an Int32Array, of the degree logit each token's logit gains. For key row
 * k (0..23, in keys.js KEYS order) and a NOTE token of pitch p it is the scale
 * degree column 12 * mode + (p - tonic) % 12 (mode 0 major, 1 minor); 24 (the
 * column of zeros) for every other token and in row 24 (no key read yet).
 */
export function degreeIndex(codec) {
  const none = K.KEYS.length, size = codec.size;
  const out = new Int32Array((none + 1) * size).fill(none);
  K.KEYS.forEach(([tonic, mode], row) => {
    for (let id = 0; id < size; id++) {
      if (codec.kind[id] !== KIND.NOTE) continue;
      const degree = (((codec.value[id] - tonic) % 12) + 12) % 12;
      out[row * size + id] = 12 * K.MODES.indexOf(mode) + degree;
    }
  });
  return out;
}

/**
 * Sort by onset then pitch (high first) and make the notes well-formed (a new
 * array; the input is not changed). Of notes sharing onset and pitch the
 * longest stays; a note overlapping the next of its pitch is cut to end where
 * that one starts; with mono only the highest note of each onset stays and
 * each note ends by the next onset. Idempotent.
 */
export function normalise(notes, mono = false) {
  const sorted = notes.map(({ start, duration, pitch }) => ({ start, duration, pitch }))
    .sort((a, b) => a.start - b.start || b.pitch - a.pitch || b.duration - a.duration);
  const out = sorted.filter((n, i) => i === 0 || n.start !== sorted[i - 1].start ||
    (!mono && n.pitch !== sorted[i - 1].pitch));
  if (mono) {
    for (let i = 0; i + 1 < out.length; i++) {
      out[i].duration = Math.min(out[i].duration, out[i + 1].start - out[i].start);
    }
  }
  const byPitch = out.slice().sort((a, b) => a.pitch - b.pitch || a.start - b.start);
  for (let i = 0; i + 1 < byPitch.length; i++) {
    const [a, b] = [byPitch[i], byPitch[i + 1]];
    if (a.pitch === b.pitch) a.duration = Math.min(a.duration, b.start - a.start);
  }
  return out;
}

/** Math.round with halves to the even neighbour, as numpy's np.round. */
export function roundHalfEven(x) {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Which token may come next in a song being generated (trainer/music/grammar.py's
 * Grammar; its docstring has the rules). new Grammar(codec, {key, meter}):
 * the requested KEY and METER ids, or null for the model's choice. mask():
 * PAD and BOS never; right after a NOTE only DUR; otherwise no DUR, EOS
 * always, NOTE_q only below every pitch completed since the last time step
 * (mono: one note per onset). v1: SHIFT always. v2: KEY then METER after
 * BOS, no SHIFT before the first note, BAR lines every bar of the current
 * meter (a pickup before the first, SHIFTs never cross one; any time under
 * METER_other), a meter change after a BAR unless a meter was requested.
 * advance(id) follows decode(); ids outside the vocabulary throw.
 */
export class Grammar {
  constructor(codec, { key = null, meter = null } = {}) {
    this.codec = codec;
    this.notes = 0;
    this.key = key; // requested KEY / METER ids, or null
    this.meter = meter;
    this.pending = null; // pitch of a NOTE awaiting its DUR
    this.low = null; // lowest pitch completed since the last SHIFT
    this.header = codec.version >= 2 ? 2 : 0; // KEY and METER still to come
    this.bar = null; // steps per bar of the current meter; null: free
    this.since = 0; // steps since the last bar line (since the start before the first)
    this.barred = false; // a BAR has come
    this.afterBar = false; // the last token was a BAR
    this.currentMeter = null; // the METER id in force
    this.hold = 0; // steps still to pass before EOS may come (holdBar)
  }

  /**
   * From here on no EOS until the rest of this bar and one whole bar more have
   * passed (four beats where the meter gives no bar length): a song that
   * continues a prime answers it with at least a phrase. Python: hold_bar.
   */
  holdBar() {
    const bar = this.codec.barId !== null ? this.bar : null;
    const rest = bar === null ? 0 : Math.max(0, bar - this.since);
    this.hold = rest + (bar ?? 4 * this.codec.params.steps_per_beat);
  }

  advance(id) {
    const codec = this.codec;
    if (!codec.has(id)) {
      throw new RangeError(`token id ${id} is outside the vocabulary (0..${codec.size - 1})`);
    }
    const kind = codec.kind[id];
    this.afterBar = false;
    if (kind === KIND.NOTE) {
      this.pending = codec.value[id];
    } else if (kind === KIND.DUR && this.pending !== null) {
      [this.low, this.pending] = [this.pending, null];
      this.notes += 1;
    } else if (kind === KIND.SHIFT) {
      this.pending = this.low = null;
      this.since += codec.value[id];
      this.hold = Math.max(0, this.hold - codec.value[id]);
    } else if (kind === KIND.KEY) {
      this.header = Math.min(this.header, 1);
    } else if (kind === KIND.METER) {
      this.header = 0;
      this.currentMeter = id;
      this.bar = codec.barSteps(codec.meterOf(id));
    } else if (id === codec.barId) {
      [this.since, this.barred, this.afterBar] = [0, true, true];
    }
  }

  /** Uint8Array (vocabulary size): 1 where the next token may be that id. */
  mask() {
    const { size, ranges, eosId, barId, params, version } = this.codec;
    const allowed = new Uint8Array(size);
    const allow = ({ first, count }) => allowed.fill(1, first, first + count);
    const only = (kind, id) => (id === null ? allow(ranges[kind]) : (allowed[id] = 1));
    if (this.pending !== null) {
      allow(ranges.DUR);
      return allowed;
    }
    if (this.header === 2) {
      only("KEY", this.key);
      return allowed;
    }
    if (this.header === 1) {
      only("METER", this.meter);
      return allowed;
    }
    allowed[eosId] = (this.notes > 0 || version < 2) && this.hold === 0 ? 1 : 0;
    const bar = barId !== null ? this.bar : null;
    if (bar !== null && this.since >= bar) { // at the bar line: it must come first
      allowed[barId] = 1;
      return allowed;
    }
    if (barId !== null && this.low === null && !this.afterBar &&
        (!this.barred || (bar === null && this.since > 0))) {
      allowed[barId] = 1; // the first bar line (after a pickup), or any under "other"
    }
    if (this.afterBar && this.meter === null && ranges.METER) {
      allow(ranges.METER);
      if (this.currentMeter !== null) allowed[this.currentMeter] = 0;
    }
    if (this.notes > 0 || version < 2) {
      const shifts = ranges.SHIFT;
      const room = bar === null ? shifts.count : Math.min(shifts.count, bar - this.since);
      allow({ first: shifts.first, count: room });
    }
    const note = ranges.NOTE;
    if (this.low === null) allow(note);
    else if (!params.mono) allow({ first: note.first, count: this.low - note.firstValue });
    return allowed;
  }
}
