// A canvas piano roll: time runs right (grid steps), pitch runs up. It grows
// wider as notes stream in, scrolls to follow them and the playhead, and takes
// its colours from CSS custom properties so it follows the light/dark palette.

const STEP_PX = 6; // a 16th note at 4 steps per beat
const MAX_WIDTH = 16000; // canvases wider than ~32k px fail in browsers
const MIN_PITCHES = 25; // show at least two octaves

export class PianoRoll {
  /** Draws into a `.cz-roll` element (a scrolling box); adds its canvas and playhead. */
  constructor(box) {
    this.box = box;
    this.canvas = box.querySelector("canvas") ?? box.appendChild(document.createElement("canvas"));
    this.head = box.querySelector(".cz-playhead") ??
      box.appendChild(Object.assign(document.createElement("div"), { className: "cz-playhead" }));
    this.head.hidden = true;
    this.stepPx = STEP_PX;
    this.draw([], { stepsPerBeat: 4 });
  }

  /**
   * Redraw with notes [{start, duration, pitch}]; the first `prime` are the
   * prime. follow: scroll to the newest notes; rewind: scroll to the start.
   */
  draw(notes, { stepsPerBeat, prime = 0, follow = false, rewind = false }) {
    const end = notes.reduce((m, n) => Math.max(m, n.start + n.duration), 0);
    const steps = end + stepsPerBeat * 4;
    const cssWidth = Math.max(this.box.clientWidth, 1);
    this.stepPx = Math.min(STEP_PX, MAX_WIDTH / steps);
    const width = Math.max(cssWidth, Math.ceil(steps * this.stepPx));
    const height = this.box.clientHeight || 240;
    const ratio = window.devicePixelRatio || 1;
    Object.assign(this.canvas.style, { width: `${width}px`, height: `${height}px` });
    this.canvas.width = Math.round(width * ratio);
    this.canvas.height = Math.round(height * ratio);
    const ctx = this.canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    const color = (name) => getComputedStyle(this.box).getPropertyValue(name).trim();
    this.grid(ctx, width, height, stepsPerBeat, color("--cz-grid"));
    const [lo, hi] = range(notes);
    const row = height / (hi - lo + 1);
    notes.forEach((n, i) => {
      ctx.fillStyle = i < prime ? color("--cz-prime") : color("--cz-note");
      ctx.fillRect(n.start * this.stepPx, (hi - n.pitch) * row,
        Math.max(n.duration * this.stepPx - 1, 1), Math.max(row - 1, 1));
    });
    if (follow) this.box.scrollLeft = Math.max(0, end * this.stepPx - this.box.clientWidth * 0.8);
    if (rewind) this.box.scrollLeft = 0;
  }

  grid(ctx, width, height, stepsPerBeat, color) {
    ctx.clearRect(0, 0, width, height);
    ctx.fillStyle = color;
    const beat = stepsPerBeat * this.stepPx;
    for (let i = 0; i * beat < width; i++) ctx.fillRect(i * beat, 0, i % 4 ? 0.5 : 1.5, height);
  }

  /** Show the playhead at `step` (grid steps), or hide it for null. */
  playhead(step) {
    this.head.hidden = step === null;
    if (step === null) return;
    const x = step * this.stepPx;
    this.head.style.transform = `translateX(${x}px)`;
    const { scrollLeft, clientWidth } = this.box;
    if (x < scrollLeft || x > scrollLeft + clientWidth * 0.9) {
      this.box.scrollLeft = x - clientWidth * 0.1;
    }
  }
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
