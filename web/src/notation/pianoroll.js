// A canvas piano roll: time runs right (grid steps), pitch runs up. A keyboard
// strip on the left names the pitches, a ruler on top numbers the bars (the
// song's bars, music.js: a v2 song's pickup, meter changes and bar lines;
// 4/4 for v1), bar lines cross the roll. It grows as notes
// stream in and follows them or the playhead; the notes sounding at the
// playhead light up on an overlay. The user's melody (recorded, uploaded,
// an example's; the top voice of a harmonized song) has a colour of its own,
// as the prime has. Dragging across it selects a range
// (onSelect), a click seeks (onSeek); arrow keys move the playhead by a bar.
// Colours come from CSS custom properties, so it follows the light/dark palette.

import { barLines, melodyIndices, pitchName, songEnd } from "./music.js";

const STEP_PX = 6; // a 16th note at 4 steps per beat
const MAX_WIDTH = 16000; // canvases wider than ~32k px fail in browsers
const MIN_PITCHES = 25; // show at least two octaves
const RULER_PX = 16; // the bar-number strip on top
const KEYS_PX = 34;
const DRAG_PX = 5; // a drag shorter than this is a click
const BLACK = new Set([1, 3, 6, 8, 10]);

export class PianoRoll {
  /**
   * Draws into a `.cz-roll` element (a scrolling box) inside a `.cz-rollwrap`;
   * adds its canvases, playhead and selection. onSeek(step), onSelect([from, to]).
   */
  constructor(box, { onSeek, onSelect } = {}) {
    this.box = box;
    const make = (tag, className, parent = box) => parent.querySelector(`.${className}`) ??
      parent.appendChild(Object.assign(document.createElement(tag), { className }));
    this.canvas = make("canvas", "cz-notes");
    this.lit = make("canvas", "cz-lit");
    this.head = make("div", "cz-playhead");
    this.band = make("div", "cz-selection");
    this.keys = box.parentElement?.classList.contains("cz-rollwrap")
      ? make("canvas", "cz-keys", box.parentElement) : null;
    if (this.keys) box.parentElement.prepend(this.keys);
    this.head.hidden = this.band.hidden = true;
    this.canvas.setAttribute("role", "img");
    this.canvas.setAttribute("aria-label", "Piano roll: no song yet");
    this.stepPx = STEP_PX;
    this.notes = [];
    this.selection = null;
    this.onSeek = onSeek;
    this.onSelect = onSelect;
    this.pointer(box);
    this.draw([], { stepsPerBeat: 4 });
    this.width = box.clientWidth;
    new ResizeObserver(() => { // the first layout, a turned phone, a resized window
      if (box.clientWidth === this.width || !box.isConnected) return;
      this.width = box.clientWidth;
      this.draw(this.notes, this.last);
    }).observe(box);
  }

  /**
   * Redraw with notes [{start, duration, pitch}]; the first `prime` are the
   * prime; `yours` (a Set of indices, or null) the user's melody; song holds
   * a v2 song's meta (its bars) when the codec gives one, or a meter ("3/4").
   * follow: scroll to the newest notes; rewind: scroll to the start.
   */
  draw(notes, { stepsPerBeat, prime = 0, yours = null, song = null, follow = false,
    rewind = false, label = "" }) {
    Object.assign(this, { notes, stepsPerBeat, prime });
    this.last = { stepsPerBeat, prime, yours, song, label };
    const end = songEnd(notes);
    const steps = barLines(song, stepsPerBeat, end + stepsPerBeat * 4).at(-1).end;
    this.stepPx = Math.min(STEP_PX, MAX_WIDTH / steps);
    const width = Math.max(this.box.clientWidth, Math.ceil(steps * this.stepPx));
    this.bars = barLines(song, stepsPerBeat, width / this.stepPx); // the ruler fills the box
    const height = this.box.clientHeight || 240;
    this.range = range(notes);
    this.row = (height - RULER_PX) / (this.range[1] - this.range[0] + 1);
    const ctx = sized(this.canvas, width, height);
    sized(this.lit, width, height);
    this.grid(ctx, width, height);
    const melody = melodyIndices(notes, prime);
    const color = this.colors();
    notes.forEach((n, i) => {
      ctx.fillStyle = yours?.has(i) ? color.yours : i < prime ? color.prime
        : melody.has(i) ? color.melody : color.note;
      this.fillNote(ctx, n);
    });
    this.drawKeys(height);
    if (label) this.canvas.setAttribute("aria-label", label);
    if (follow) this.box.scrollLeft = Math.max(0, end * this.stepPx - this.box.clientWidth * 0.8);
    if (rewind) this.box.scrollLeft = 0;
    this.showSelection();
  }

  colors() {
    const css = getComputedStyle(this.box);
    const get = (name) => css.getPropertyValue(name).trim();
    return { prime: get("--cz-prime"), melody: get("--cz-melody"), note: get("--cz-note"),
      yours: get("--cz-yours"),
      grid: get("--cz-grid"), bar: get("--cz-bar"), text: get("--cz-text"),
      lit: get("--cz-lit"), key: get("--cz-key"), blackKey: get("--cz-black-key") };
  }

  fillNote(ctx, n) {
    const [, hi] = this.range;
    ctx.fillRect(n.start * this.stepPx, RULER_PX + (hi - n.pitch) * this.row,
      Math.max(n.duration * this.stepPx - 1, 1), Math.max(this.row - 1, 1));
  }

  grid(ctx, width, height) {
    const color = this.colors();
    ctx.clearRect(0, 0, width, height);
    const [lo, hi] = this.range;
    ctx.fillStyle = color.grid;
    for (let p = lo; p <= hi; p++) { // shade the black-key rows lightly
      if (BLACK.has(p % 12)) ctx.fillRect(0, RULER_PX + (hi - p) * this.row, width, this.row);
    }
    const beat = this.stepsPerBeat * this.stepPx;
    for (let i = 0; i * beat < width; i++) ctx.fillRect(i * beat, RULER_PX, 0.5, height);
    ctx.font = "10px system-ui, sans-serif";
    ctx.textBaseline = "top";
    for (const { start, number } of this.bars) {
      const x = start * this.stepPx;
      ctx.fillStyle = color.bar;
      ctx.fillRect(x, 0, 1.5, height);
      if (!number) continue; // a pickup has no number
      ctx.fillStyle = color.text;
      ctx.fillText(String(number), x + 3, 3);
    }
  }

  drawKeys(height) {
    if (!this.keys) return;
    const ctx = sized(this.keys, KEYS_PX, height);
    const color = this.colors();
    const [lo, hi] = this.range;
    ctx.clearRect(0, 0, KEYS_PX, height);
    ctx.font = "9px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    for (let p = lo; p <= hi; p++) {
      const y = RULER_PX + (hi - p) * this.row;
      ctx.fillStyle = BLACK.has(p % 12) ? color.blackKey : color.key;
      ctx.fillRect(0, y, BLACK.has(p % 12) ? KEYS_PX * 0.6 : KEYS_PX, Math.max(this.row - 0.5, 1));
      if (p % 12 === 0 || this.row >= 11) {
        ctx.fillStyle = color.text;
        ctx.fillText(pitchName(p).replace("♯", "#"), KEYS_PX * 0.62, y + this.row / 2);
      }
    }
  }

  /** Show the playhead at `step` (grid steps), lighting the notes sounding; null hides it. */
  playhead(step) {
    const ctx = this.lit.getContext("2d");
    ctx.clearRect(0, 0, this.lit.width, this.lit.height);
    this.head.hidden = step === null;
    this.headStep = step;
    this.sounding = [];
    if (step === null) return;
    ctx.fillStyle = this.colors().lit;
    this.notes.forEach((n, i) => {
      if (n.start <= step && step < n.start + n.duration) {
        this.fillNote(ctx, n);
        this.sounding.push(i);
      }
    });
    const x = step * this.stepPx;
    this.head.style.transform = `translateX(${x}px)`;
    const { scrollLeft, clientWidth } = this.box;
    if (x < scrollLeft || x > scrollLeft + clientWidth * 0.9) {
      this.box.scrollLeft = x - clientWidth * 0.1;
    }
  }

  /** Select steps [from, to] (null clears), as a shaded band. */
  select(range) {
    this.selection = range;
    this.showSelection();
  }

  showSelection() {
    this.band.hidden = !this.selection;
    if (!this.selection) return;
    const [from, to] = this.selection;
    Object.assign(this.band.style, { left: `${from * this.stepPx}px`,
      width: `${(to - from) * this.stepPx}px` });
  }

  /** The step under clientX, snapped to a beat when snap. */
  stepAt(clientX, snap) {
    const x = clientX - this.box.getBoundingClientRect().left + this.box.scrollLeft;
    const step = Math.max(0, x / this.stepPx);
    return snap ? Math.round(step / this.stepsPerBeat) * this.stepsPerBeat : step;
  }

  pointer(box) {
    let down = null;
    box.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return;
      down = { x: e.clientX, step: this.stepAt(e.clientX, true), dragging: false };
    });
    box.addEventListener("pointermove", (e) => {
      if (!down) return;
      if (Math.abs(e.clientX - down.x) >= DRAG_PX) down.dragging = true;
      if (down.dragging) {
        const at = this.stepAt(e.clientX, true);
        this.select([Math.min(down.step, at), Math.max(down.step, at)]);
      }
    });
    box.addEventListener("pointerup", (e) => {
      if (!down) return;
      const { dragging } = down;
      down = null;
      if (dragging && this.selection && this.selection[1] > this.selection[0]) {
        this.onSelect?.(this.selection);
      } else {
        this.onSeek?.(this.stepAt(e.clientX, false));
      }
    });
    box.addEventListener("pointercancel", () => { down = null; });
    box.addEventListener("keydown", (e) => {
      if (e.key !== "ArrowLeft" && e.key !== "ArrowRight") return;
      e.preventDefault();
      const at = this.head.hidden ? 0 : this.headStep ?? 0;
      const starts = this.bars.map((b) => b.start);
      const next = e.key === "ArrowLeft" ? starts.filter((s) => s < at).at(-1) ?? 0
        : starts.find((s) => s > at) ?? at + (this.bars.at(-1).end - this.bars.at(-1).start);
      this.onSeek?.(next);
    });
  }
}

/** The canvas sized to width x height CSS pixels at the screen's pixel ratio; its 2d context. */
function sized(canvas, width, height) {
  const ratio = window.devicePixelRatio || 1;
  Object.assign(canvas.style, { width: `${width}px`, height: `${height}px` });
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  return ctx;
}

/** The pitch range [lo, hi] to show: the notes' range, at least MIN_PITCHES wide. */
function range(notes) {
  let lo = 60, hi = 60;
  if (notes.length) {
    lo = Math.min(...notes.map((n) => n.pitch));
    hi = Math.max(...notes.map((n) => n.pitch));
  }
  const pad = Math.max(0, MIN_PITCHES - (hi - lo + 1));
  return [lo - Math.floor(pad / 2) - 1, hi + Math.ceil(pad / 2) + 1];
}
