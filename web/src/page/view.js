// DOM side of the Compose page and the home player: elements are found by
// their data-cz name inside the mounted root, whose data-state tells tests
// (and CSS) where things stand: loading, idle, generating, done or error.
// transport.js wires Play, Pause, Stop, loop, tempo and volume.

export class View {
  constructor(root) {
    this.root = root;
  }

  /**
   * Call handler on a click of the button `name` (Generate, Cancel and their kin),
   * but not on the second and later clicks of a double or rapid click (event.detail
   * counts clicks in a row; the keyboard and .click() give 0). Cancel takes
   * Generate's place under the pointer at once, so without this a double-click
   * would compose and cancel, and one song would come of no double-click.
   */
  onPress(name, handler) {
    this.get(name)?.addEventListener("click", (event) => {
      if (event.detail <= 1) handler(event);
    });
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
    if (message) {
      this.status("Stopped: see the error below.");
      this.state("error");
    }
  }

  /**
   * While busy: Generate becomes Cancel (keeping the focus where it was), the
   * settings and the melody's controls are locked (its keyboard still plays)
   * and the bar shows; after, the bar stays where the song ended.
   */
  busy(on) {
    const focused = ["generate", "play-generate", "cancel"]
      .some((name) => this.get(name) && this.get(name) === document.activeElement);
    for (const name of ["generate", "play-generate"]) this.set(name, (el) => { el.hidden = on; });
    this.set("cancel", (el) => { el.hidden = !on; });
    this.set("settings", (el) => { el.disabled = on; });
    this.set("melody-controls", (el) => { el.disabled = on; }); // Record, Harmonize, ...: later
    if (on) {
      this.set("progress", (el) => { el.hidden = false; el.removeAttribute("value"); });
      this.status("Loading the model…", "generating");
    }
    if (focused) this.get(on ? "cancel" : "generate")?.focus();
  }

  progress(fraction) {
    this.set("progress", (el) => { el.value = Math.min(1, fraction); });
  }

  /** Show text as a notice beside the status (null hides it). */
  notice(text) {
    this.set("notice", (el) => {
      el.hidden = !text;
      el.textContent = text ?? "";
    });
  }

  /** A song plays while it is composed: Play (now Pause) and Stop act on it. */
  streaming() {
    for (const name of ["play", "stop"]) this.set(name, (el) => { el.disabled = false; });
  }

  /** A song is being replaced: what acts on a song is off until the next one is on screen. */
  clearSong() {
    for (const name of ["play", "stop", "mid", "wav", "abc", "share", "copy"]) {
      this.set(name, (el) => { el.disabled = true; });
    }
    this.set("share", (el) => { el.value = ""; });
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

  /**
   * Fill the Key and Meter menus with groups {key, meter} of choices.js
   * menuGroups, keeping each menu's value where it is still listed; off
   * disables both (a v1 model, a prime); note says why, beside them.
   */
  choiceMenus(groups, { off = false, note = "" } = {}) {
    for (const kind of ["key", "meter"]) {
      this.set(kind, (select) => {
        const value = select.value;
        select.replaceChildren(...groups[kind].flatMap(({ label, options }) => {
          const items = options.map((o) => new Option(o.text, o.value));
          if (!label) return items;
          const group = Object.assign(document.createElement("optgroup"), { label });
          group.append(...items);
          return [group];
        }));
        const kept = [...select.options].some((o) => o.value === value);
        select.value = kept ? value : select.options[0].value;
        select.disabled = off;
      });
    }
    this.set("choice-note", (el) => { el.textContent = note; });
  }

  showUpload(on) {
    this.set("upload", (el) => { el.hidden = !on; });
  }

  /** A song is ready: enable what needs one, show its figures, share link and note. */
  done(song, link, note = "") {
    this.set("progress", (el) => { el.value = 1; });
    for (const name of ["play", "stop", "mid", "wav", "abc", "share", "copy"]) {
      this.set(name, (el) => { el.disabled = false; });
    }
    this.set("share", (el) => { el.value = link; });
    this.root.dataset.notes = String(song.notes.length);
    const generated = song.tokens.length;
    this.status(`${song.notes.length} notes (${generated} tokens) in ` +
      `${(song.ms / 1000).toFixed(2)} s on ${song.backend}.${note && ` ${note}`}`, "done");
  }
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
