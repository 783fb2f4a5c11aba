// What the history already determines, read by the network at every step:
// trainer/music/context.py's Context, line for line (its docstring states
// the features and their order). tests/vectors/context.json, written by
// scripts/make_vectors.py, holds the two to the same features after every
// token of the same songs.

import { KIND } from "./codec.js";

export const PITCHES = 88; // A0..C8, one feature per piano key
export const LOOKBACK = [1, 2, 4, 8]; // bars
const PIANO_LOW = 21;

/** Features per lookback distance: started pitches, next-onset gap, duration. */
export function lookbackWidth(codec) {
  return PITCHES + codec.params.max_shift + codec.params.max_duration;
}

/** How many features a Context of these parts has. */
export function contextSize(codec, sounding, lookback, repeating = false) {
  return (sounding ? PITCHES : 0) + lookback.length * lookbackWidth(codec) +
    (repeating ? lookback.length : 0);
}

export class Context {
  constructor(codec, sounding = true, lookback = LOOKBACK, repeating = false) {
    this.codec = codec;
    this.sounding = Boolean(sounding);
    this.lookback = [...lookback];
    this.repeating = Boolean(repeating) && this.lookback.length > 0;
    this.size = contextSize(codec, this.sounding, this.lookback, this.repeating);
    this.reset();
  }

  reset() {
    this.time = 0;
    this.pending = null; // pitch of a NOTE awaiting its DUR
    this.bar = null; // steps per bar of the meter read last
    this.held = []; // [end, pitch] of the notes sounding now
    this.onsets = []; // distinct start times, ascending
    this.started = new Map(); // time -> Map(pitch -> duration)
    this.repeats = this.lookback.map(() => false); // the last onset repeated, per distance
  }

  advance(id) {
    const codec = this.codec, kind = codec.has(id) ? codec.kind[id] : -1;
    if (kind === KIND.NOTE) {
      this.pending = codec.value[id];
    } else if (kind === KIND.DUR && this.pending !== null) {
      const dur = codec.value[id];
      this.held.push([this.time + dur, this.pending]);
      if (this.onsets.at(-1) !== this.time) this.onsets.push(this.time);
      if (!this.started.has(this.time)) this.started.set(this.time, new Map());
      this.started.get(this.time).set(this.pending, dur);
      this.pending = null;
    } else if (kind === KIND.SHIFT) {
      const before = this.time;
      this.time += codec.value[id];
      this.held = this.held.filter(([end]) => end > this.time);
      this.pending = null;
      if (this.repeating) this.left(before);
    } else if (kind === KIND.METER) {
      this.bar = codec.barSteps(codec.meterOf(id));
      this.repeats = this.lookback.map(() => false);
    }
  }

  /**
   * Time moved on from `before`: whether the onset there repeated each distance's
   * (where either time had one), and whether an onset that far back was skipped on
   * the way.
   */
  left(before) {
    this.lookback.forEach((bars, j) => {
      if (!this.bar || before - bars * this.bar < 0) {
        this.repeats[j] = false;
        return;
      }
      const then = before - bars * this.bar, now = this.time - bars * this.bar;
      if (this.started.has(before) || this.started.has(then)) { // an onset at either
        this.repeats[j] = sameNotes(this.started.get(before), this.started.get(then));
      }
      const next = this.onsets.find((t) => t > then); // an onset there skipped here
      if (next !== undefined && next < now) this.repeats[j] = false;
    });
  }

  /** Indices of the features on now, ascending. */
  active() {
    const out = [];
    let at = 0;
    if (this.sounding) {
      out.push(...[...new Set(this.held.map(([, p]) => p - PIANO_LOW))].sort((a, b) => a - b));
      at = PITCHES;
    }
    const { max_shift: shift, max_duration: duration } = this.codec.params;
    for (const bars of this.lookback) {
      const then = this.bar ? this.time - bars * this.bar : -1;
      if (then >= 0) {
        const started = this.started.get(then) ?? new Map();
        out.push(...[...started.keys()].map((p) => at + p - PIANO_LOW).sort((a, b) => a - b));
        const next = this.onsets.find((t) => t > then); // the first onset after `then`
        if (next !== undefined && next - then <= shift) out.push(at + PITCHES + next - then - 1);
        if (this.pending !== null && started.has(this.pending)) {
          out.push(at + PITCHES + shift + Math.min(started.get(this.pending), duration) - 1);
        }
      }
      at += PITCHES + shift + duration;
    }
    if (this.repeating) {
      const placed = this.started.get(this.time) ?? new Map();
      this.lookback.forEach((bars, j) => {
        const then = (this.bar && this.started.get(this.time - bars * this.bar)) || new Map();
        if (this.repeats[j] && [...placed].every(([p, d]) => then.get(p) === d)) out.push(at + j);
      });
    }
    return out;
  }
}

/** Whether two onsets (Maps, or undefined for none) started the same notes and durations. */
function sameNotes(a, b) {
  return a !== undefined && b !== undefined && a.size === b.size &&
    [...a].every(([p, d]) => b.get(p) === d);
}
