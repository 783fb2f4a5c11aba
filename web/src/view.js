// DOM side of the Compose page and the home player: elements are found by
// their data-cz name inside the mounted root, whose data-state tells tests
// (and CSS) where things stand: loading, idle, generating, done or error.

import * as audio from "./audio.js";

export class View {
  constructor(root) {
    this.root = root;
  }

  /** The element named data-cz="name" (null if this markup has none). */
  get(name) {
    return this.root.querySelector(`[data-cz="${name}"]`);
  }

  set(name, update) {
    const el = this.get(name);
    if (el) update(el);
  }

  state(value) {
    this.root.dataset.state = value;
  }

  status(text, state) {
    this.set("status", (el) => { el.textContent = text; });
    if (state) this.state(state);
  }

  /** Show message as the page's error (null hides it). */
  error(message) {
    this.set("error", (el) => {
      el.hidden = !message;
      el.textContent = message ? `Error: ${message}` : "";
    });
    if (message) this.state("error");
  }

  /** While busy: Generate becomes Cancel, settings are locked, the bar shows. */
  busy(on) {
    this.set("generate", (el) => { el.hidden = on; });
    this.set("cancel", (el) => { el.hidden = !on; });
    this.set("settings", (el) => { el.disabled = on; });
    this.set("progress", (el) => { el.hidden = !on; el.removeAttribute("value"); });
    if (on) this.status("Loading the model…", "generating");
  }

  progress(fraction) {
    this.set("progress", (el) => { el.value = Math.min(1, fraction); });
  }

  /** Fill the model menu and the examples of the prime menu. */
  menus(models, examples) {
    this.set("model", (select) => select.replaceChildren(...models.map((m) =>
      new Option(`${m.name} (${m.mono ? "melody" : "polyphonic"})`, m.name))));
    this.set("examples", (group) => {
      group.replaceChildren(...examples.map((e) => new Option(e.title, `example:${e.midi}`)));
      group.hidden = group.disabled = !examples.length;
    });
  }

  showUpload(on) {
    this.set("upload", (el) => { el.hidden = !on; });
  }

  /** A song is ready: enable what needs one, show its figures, share link and note. */
  done(song, link, note = "") {
    for (const name of ["play", "mid", "wav", "share", "copy"]) {
      this.set(name, (el) => { el.disabled = false; });
    }
    this.set("share", (el) => { el.value = link; });
    this.root.dataset.notes = String(song.notes.length);
    const generated = song.tokens.length;
    this.status(`${song.notes.length} notes (${generated} tokens) in ` +
      `${(song.ms / 1000).toFixed(2)} s on ${song.backend}.${note && ` ${note}`}`, "done");
  }
}

/** Wire the Play/Stop button and the playhead; returns {stop}. */
export function bindPlayer(view, roll, getSong) {
  const button = view.get("play");
  let frame = 0;
  const label = (playing) => { button.textContent = playing ? "Stop" : "Play"; };
  const stop = () => {
    audio.stop();
    cancelAnimationFrame(frame);
    roll.playhead(null);
    label(false);
  };
  const follow = (stepSeconds) => {
    const seconds = audio.position();
    roll.playhead(seconds === null ? null : seconds / stepSeconds);
    if (seconds !== null) frame = requestAnimationFrame(() => follow(stepSeconds));
  };
  button.addEventListener("click", async () => {
    if (audio.position() !== null) return stop();
    const song = getSong();
    const timing = { bpm: song.settings.tempo, stepsPerBeat: song.stepsPerBeat };
    view.error(null);
    label(true);
    try {
      await audio.play(song.notes, timing, stop);
      follow(60 / timing.bpm / timing.stepsPerBeat);
    } catch (e) {
      stop();
      view.error(e.message);
    }
  });
  return { stop };
}

/** Offer bytes as a file download named name. */
export function download(bytes, name, type) {
  const url = URL.createObjectURL(new Blob([bytes], { type }));
  const link = Object.assign(document.createElement("a"), { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
