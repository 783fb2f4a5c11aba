// Recording a melody: a count-in, a metronome, and key presses quantised to
// the model's grid.
//
// Times are milliseconds on one clock (performance.now() in the page; a test
// passes its own). The tempo counts quarter notes, as the player's does; the
// metronome clicks each beat of the meter (its denominator's note: eighths in
// 6/8), the first of each bar accented. A melody is one voice: a key pressed
// while another sounds ends that note there, and of two notes quantised to
// the same step the later one stays. A note lasts 1..maxDuration steps.

import { barSteps, DEFAULT_METER } from "../mirror/keys.js";

export const COUNT_IN_BARS = 1;
const TICK_MS = 25; // how often the scheduler runs
const AHEAD_MS = 120; // how far ahead it hands clicks to the audio clock

/** Notes {start, duration, pitch} sorted by onset, as one voice; see the file comment. */
export class Recorder {
  /**
   * bpm (quarter notes a minute), meter [n, d] (4/4 for "other" or none),
   * stepsPerBeat and maxDuration of the model's grid; offset: the step the
   * take starts at (a bar line after the melody so far); click(accent, atMs)
   * sounds the metronome (null: silent); onChange(recorder) after every
   * change of state, beat or note; now() the clock.
   */
  constructor({ bpm, meter = DEFAULT_METER, stepsPerBeat, maxDuration, offset = 0,
    countInBars = COUNT_IN_BARS, click = null, onChange = null,
    now = () => performance.now() }) {
    this.meter = Array.isArray(meter) ? meter : DEFAULT_METER;
    this.stepsPerBeat = stepsPerBeat;
    this.maxDuration = maxDuration;
    this.offset = offset;
    this.stepMs = 60_000 / bpm / stepsPerBeat;
    this.barSteps = barSteps(this.meter, stepsPerBeat) ?? 4 * stepsPerBeat;
    this.beatSteps = (4 / this.meter[1]) * stepsPerBeat; // a click: one note of the denominator
    this.countInMs = countInBars * this.barSteps * this.stepMs;
    Object.assign(this, { click, onChange, now });
    this.notes = [];
    this.open = null; // the note still held: {note, pitch}
    this.state = "stopped";
    this.timer = null;
  }

  /** Start the count-in now; recording starts after it, at step `offset`. */
  start() {
    this.t0 = this.now() + this.countInMs;
    this.nextClick = 0; // index of the next click, from the first of the count-in
    this.state = "counting";
    this.tick();
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  /** Clicks due soon, the move from count-in to recording, and a change per beat. */
  tick(at = this.now()) {
    if (this.state === "stopped") return;
    const clickMs = this.beatSteps * this.stepMs;
    const first = this.t0 - this.countInMs;
    for (; first + this.nextClick * clickMs <= at + AHEAD_MS; this.nextClick++) {
      const steps = this.nextClick * this.beatSteps;
      this.click?.(steps % this.barSteps === 0, first + this.nextClick * clickMs);
    }
    const state = at >= this.t0 - this.stepMs / 2 ? "recording" : "counting";
    const beat = this.beat(at);
    if (state !== this.state || beat !== this.lastBeat) {
      [this.state, this.lastBeat] = [state, beat];
      this.onChange?.(this);
    }
  }

  /** Beats (clicks) of the count-in still to come, or the bar being recorded (1 on). */
  beat(at = this.now()) {
    const clickMs = this.beatSteps * this.stepMs;
    if (at < this.t0 - this.stepMs / 2) return Math.ceil((this.t0 - at) / clickMs - 1e-9);
    return Math.floor(this.step(at) / this.barSteps) + 1;
  }

  /** The grid step of the take (from its first bar line) at time `at`. */
  step(at) {
    return Math.round((at - this.t0) / this.stepMs);
  }

  noteOn(pitch, at = this.now()) {
    if (this.state === "stopped") return;
    const start = this.step(at);
    if (start < 0) return; // in the count-in: heard, not recorded
    this.close(at, start);
    const last = this.notes.at(-1);
    if (last && last.start === start + this.offset) this.notes.pop(); // the later one stays
    const note = { start: start + this.offset, duration: 1, pitch };
    this.notes.push(note);
    this.open = { note, pitch };
    this.onChange?.(this);
  }

  noteOff(pitch, at = this.now()) {
    if (this.open?.pitch !== pitch) return;
    this.close(at);
    this.onChange?.(this);
  }

  /** End the held note at `at` (or at step `until`, the next onset, if sooner). */
  close(at, until = Infinity) {
    if (!this.open) return;
    const { note } = this.open;
    this.open = null;
    const end = Math.min(this.step(at), until) + this.offset;
    note.duration = Math.min(this.maxDuration, Math.max(1, end - note.start));
  }

  /** The notes so far, a held one lasting until `at`. */
  sofar(at = this.now()) {
    return this.notes.map((n) => (n === this.open?.note
      ? { ...n, duration: Math.min(this.maxDuration, Math.max(1,
        this.step(at) + this.offset - n.start)) } : { ...n }));
  }

  /** Stop: a held note ends now; returns the notes of the take. */
  stop(at = this.now()) {
    clearInterval(this.timer);
    this.timer = null;
    if (this.state === "stopped") return this.notes;
    this.close(at);
    this.state = "stopped";
    this.onChange?.(this);
    return this.notes;
  }
}
