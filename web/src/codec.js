// The token codec of trainer/codec.py, read from the vocab.json it writes.
//
// Notes are {start, duration, pitch} in grid steps (steps_per_beat per beat).
// Every rule here mirrors the Python one; tests/vectors/*.json, written by
// scripts/make_vectors.py, hold both to the same ids and notes.

const FORMAT = "cadenza-vocab";
const VERSION = 1;
const KINDS = ["NOTE", "DUR", "SHIFT"];

/** Maps normalised notes to token ids and any token ids back to notes. */
export class Codec {
  /** @param vocab the parsed vocab.json; throws if it is not cadenza-vocab v1. */
  constructor(vocab) {
    if (vocab?.format !== FORMAT || vocab?.version !== VERSION) {
      throw new Error(`not a ${FORMAT} v${VERSION} vocabulary ` +
        `(format ${JSON.stringify(vocab?.format)}, version ${JSON.stringify(vocab?.version)})`);
    }
    const { size, params, special, ranges, tokens } = vocab;
    this.size = size;
    this.params = { ...params };
    this.padId = special.PAD;
    this.bosId = special.BOS;
    this.eosId = special.EOS;
    this.ranges = {}; // kind -> {first, count, firstValue}
    this.kind = new Int8Array(size).fill(-1); // -1 special, 0 NOTE, 1 DUR, 2 SHIFT
    this.value = new Int32Array(size);
    KINDS.forEach((kind, k) => {
      const { first_id: first, count, first_value: firstValue } = ranges[kind];
      this.ranges[kind] = { first, count, firstValue };
      for (let i = 0; i < count; i++) {
        if (tokens[first + i] !== `${kind}_${firstValue + i}`) {
          throw new Error(`vocab.json is inconsistent: id ${first + i} is ` +
            `${tokens[first + i]}, expected ${kind}_${firstValue + i}`);
        }
        this.kind[first + i] = k;
        this.value[first + i] = firstValue + i;
      }
    });
    this.tokens = tokens.slice();
    if (tokens.length !== size) throw new Error("vocab.json is inconsistent: size != tokens");
  }

  /** The id of NOTE_value, DUR_value or SHIFT_value; throws outside the vocabulary. */
  tokenId(kind, value) {
    const { first, count, firstValue } = this.ranges[kind];
    if (!(Number.isInteger(value) && value >= firstValue && value < firstValue + count)) {
      throw new RangeError(`${kind}_${value} is outside the vocabulary ` +
        `(${kind}_${firstValue}..${kind}_${firstValue + count - 1})`);
    }
    return first + value - firstValue;
  }

  /** The token's name, e.g. NOTE_60; ?<id> for ids outside the vocabulary. */
  describe(id) {
    return Number.isInteger(id) && id >= 0 && id < this.size ? this.tokens[id] : `?${id}`;
  }

  /**
   * Snap raw notes [{start, end, pitch}] (beats, MIDI pitch) to the grid and
   * normalise them: times round to the nearest step (halves up), pitches to the
   * nearest integer (halves to even, as numpy); a duration is 1..max_duration
   * steps; pitches off the piano and negative onsets are dropped; leading
   * silence is removed in whole beats.
   */
  quantise(raw) {
    const { steps_per_beat: spb, max_duration: maxDur, min_pitch: lo, max_pitch: hi } = this.params;
    const notes = [];
    for (const { start, end, pitch } of raw) {
      const s = Math.floor(start * spb + 0.5), e = Math.floor(end * spb + 0.5);
      const p = roundHalfEven(pitch);
      if (!(p >= lo && p <= hi && s >= 0)) continue;
      notes.push({ start: s, duration: Math.min(Math.max(e - s, 1), maxDur), pitch: p });
    }
    if (notes.length) {
      const first = notes.reduce((m, n) => Math.min(m, n.start), Infinity);
      const cut = Math.floor(first / spb) * spb;
      for (const n of notes) n.start -= cut;
    }
    return normalise(notes, this.params.mono);
  }

  /** Token ids of normalised notes, from BOS to EOS; throws for notes off the vocabulary. */
  encode(notes) {
    const ids = [this.bosId];
    let time = 0;
    for (const { start, duration, pitch } of notes) {
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
   * the vocabulary are skipped. Decoding stops at EOS.
   */
  decode(ids) {
    const notes = [];
    let time = 0, pending = null;
    for (const id of ids) {
      if (!(Number.isInteger(id) && id >= 0 && id < this.size)) continue;
      if (id === this.eosId) break;
      const kind = this.kind[id], value = this.value[id];
      if (kind === 0) {
        pending = value;
      } else if (kind === 1) {
        if (pending !== null) notes.push({ start: time, duration: value, pitch: pending });
        pending = null;
      } else if (kind === 2) {
        time += value;
        pending = null;
      }
    }
    return normalise(notes, this.params.mono);
  }
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
function roundHalfEven(x) {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Which token may come next in a song being generated (trainer/sampling.py's
 * Grammar). mask(): PAD and BOS never; right after a NOTE only DUR; otherwise
 * no DUR, SHIFT and EOS always, NOTE_q only if q is below every pitch
 * completed since the last SHIFT (mono codec: no second note per onset).
 * advance(id) follows decode(): a NOTE replaces a pending one; a DUR with no
 * NOTE pending and the special tokens change nothing; a SHIFT drops a pending
 * NOTE. `notes` counts completed notes. Ids outside the vocabulary throw.
 */
export class Grammar {
  constructor(codec) {
    this.codec = codec;
    this.notes = 0;
    this.pending = null; // pitch of a NOTE awaiting its DUR
    this.low = null; // lowest pitch completed since the last SHIFT
  }

  advance(id) {
    const codec = this.codec;
    if (!(Number.isInteger(id) && id >= 0 && id < codec.size)) {
      throw new RangeError(`token id ${id} is outside the vocabulary (0..${codec.size - 1})`);
    }
    const kind = codec.kind[id];
    if (kind === 0) {
      this.pending = codec.value[id];
    } else if (kind === 1 && this.pending !== null) {
      [this.low, this.pending] = [this.pending, null];
      this.notes += 1;
    } else if (kind === 2) {
      this.pending = this.low = null;
    }
  }

  /** Uint8Array (vocabulary size): 1 where the next token may be that id. */
  mask() {
    const { size, ranges, eosId, params } = this.codec;
    const allowed = new Uint8Array(size);
    const allow = ({ first, count }) => allowed.fill(1, first, first + count);
    if (this.pending !== null) {
      allow(ranges.DUR);
      return allowed;
    }
    allowed[eosId] = 1;
    allow(ranges.SHIFT);
    const note = ranges.NOTE;
    if (this.low === null) allow(note);
    else if (!params.mono) allow({ first: note.first, count: this.low - note.firstValue });
    return allowed;
  }
}
