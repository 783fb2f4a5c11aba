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
export function contextSize(codec, sounding, lookback) {
  return (sounding ? PITCHES : 0) + lookback.length * lookbackWidth(codec);
}

export class Context {
  constructor(codec, sounding = true, lookback = LOOKBACK) {
    this.codec = codec;
    this.sounding = Boolean(sounding);
    this.lookback = [...lookback];
    this.size = contextSize(codec, this.sounding, this.lookback);
    this.reset();
  }

  reset() {
    this.time = 0;
    this.pending = null; // pitch of a NOTE awaiting its DUR
    this.bar = null; // steps per bar of the meter read last
    this.held = []; // [end, pitch] of the notes sounding now
    this.onsets = []; // distinct start times, ascending
    this.started = new Map(); // time -> Map(pitch -> duration)
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
      this.time += codec.value[id];
      this.held = this.held.filter(([end]) => end > this.time);
      this.pending = null;
    } else if (kind === KIND.METER) {
      this.bar = codec.barSteps(codec.meterOf(id));
    }
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
    return out;
  }
}
