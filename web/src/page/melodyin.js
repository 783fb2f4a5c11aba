// The Compose page's melody input: the on-screen piano, the computer keys and
// a MIDI keyboard play the piano; Record counts in and records a take onto
// the melody; a MIDI file or an example gives its top line; Harmonize and
// Continue hand the melody to compose.js's generate. The melody itself is
// melody.js's (it outlives the page and every error); whenever no song is on
// screen the roll shows it, in its own colour, while recording too.

import * as audio from "../sound/audio.js";
import { bindComputerKeys, HIGHEST_C, LOWEST_C, pianoKeys, shiftOctave,
  SPAN } from "../melody/keyboard.js";
import { meterName, OTHER, parseMeter } from "../mirror/keys.js";
import * as store from "../melody/melody.js";
import { listen, offered } from "../melody/midiin.js";
import { readSong } from "../files/midifile.js";
import { readOffThread } from "../files/reading.js";
import { describe, pitchName } from "../notation/music.js";
import { siteUrl } from "../common/paths.js";
import { reason } from "../common/reason.js";
import { Recorder } from "../melody/recorder.js";
import { ANY, readForm } from "./settings.js";

const NAMED = 16; // notes the status line names
let lowestC = 60; // the on-screen keyboard's lowest C, for the whole visit

/**
 * Wire the melody controls of view (data-cz names in site/compose.md).
 * page is compose.js's {song, live, models, examples, choices}; run({mode})
 * harmonizes or continues the melody ("harmonize", "continue"). Returns
 * {refresh() (the model or its menus changed), show() (the melody on the
 * roll), unmount()}.
 */
export function mountMelody(view, roll, { page, form, transport, run }) {
  const el = (name) => view.get(name);
  let recorder = null, base = null, frame = 0, stopMidi = null, audioFailed = false;
  let playingMelody = false;
  const say = (message) => {
    const box = el("melody-error");
    box.hidden = !message;
    box.textContent = message ? `Error: ${message}` : "";
  };
  const status = (text) => { el("rec-status").textContent = text; };
  const model = () => page.models.find((m) => m.name === form.elements.model.value);

  const play = (pitch) => {
    try { audio.unlock().catch(() => {}); } catch { /* noteOn says so */ }
    audio.noteOn(pitch).then(() => { audioFailed = false; }, (e) => {
      if (!audioFailed) say(`${reason(e)}; the notes are still recorded`);
      audioFailed = true;
    });
    keys.lit(pitch, true);
    recorder?.noteOn(pitch);
  };
  const release = (pitch) => {
    audio.noteOff(pitch);
    keys.lit(pitch, false);
    recorder?.noteOff(pitch);
  };
  const keys = pianoKeys(el("keyboard"), { noteOn: play, noteOff: release });

  const octave = (by) => {
    lowestC = shiftOctave(lowestC, by);
    keys.show(lowestC);
    el("octave").textContent = `${pitchName(lowestC)} to ${pitchName(lowestC + SPAN)}`;
    el("octave-down").disabled = lowestC <= LOWEST_C;
    el("octave-up").disabled = lowestC >= HIGHEST_C;
  };
  octave(0);

  /** The melody on the roll (a song on screen leaves it), its text and buttons. */
  const show = ({ follow = false, notes = null } = {}) => {
    const m = store.current();
    const shown = notes ?? m.notes;
    const root = view.root.dataset.state;
    if (root === "generating") return;
    if (!recorder) transport.stop();
    if (page.song) view.status("Ready: your melody is on the roll.", "idle");
    page.song = page.live = null;
    view.clearSong();
    const song = { notes: shown, stepsPerBeat: m.stepsPerBeat, meter: meterName(m.meter),
      ...(m.changes.length && { meta: { key: m.key, meter: m.meter, bars: store.barsOf(m) } }) };
    const text = describe(song);
    roll.draw(shown, { stepsPerBeat: m.stepsPerBeat, yours: new Set(shown.keys()), song,
      follow, rewind: !follow, label: `Piano roll: your melody, ${shown.length} notes` });
    view.set("summary", (box) => { box.textContent = `Your melody: ${text.summary}`; });
    view.set("bars", (list) => list.replaceChildren(...text.bars.map((line) =>
      Object.assign(document.createElement("li"), { textContent: line }))));
    for (const name of ["melody-play", "undo", "clear"]) el(name).disabled = !m.notes.length;
  };
  const describeMelody = (m, what = "") => {
    if (!m.notes.length) return "No melody yet: press Record, or bring one from a file or an example.";
    const names = m.notes.slice(0, NAMED).map((n) => pitchName(n.pitch)).join(" ");
    return `${what}Your melody: ${m.notes.length} note${m.notes.length === 1 ? "" : "s"} in ` +
      `${meterName(m.meter)}${m.changes.length ? `, then ${m.changes.map(([, c]) =>
        meterName(c)).join(", ")}` : ""}${m.source ? ` (${m.source})` : ""}: ${names}` +
      `${m.notes.length > NAMED ? " …" : "."}`;
  };

  // Recording: a take goes after the melody so far, from its next bar line.
  const take = (rec) => {
    if (rec.state === "stopped" || rec !== recorder) return;
    const notes = [...base.notes, ...rec.sofar()];
    show({ follow: true, notes });
    status(rec.state === "counting" ? `Counting in: ${rec.beat()}…`
      : `Recording bar ${rec.beat() + Math.floor(rec.offset / rec.barSteps)}: ` +
        `${notes.length} notes. ` +
        "Press Stop or Esc to end.");
  };
  const follow = () => {
    if (!recorder) return;
    if (recorder.state === "recording") roll.playhead(recorder.step(performance.now()) +
      recorder.offset);
    frame = requestAnimationFrame(follow);
  };
  const record = async () => {
    if (recorder) return stopRecording();
    say(null);
    const chosen = model();
    if (!chosen) return;
    let codec;
    try {
      codec = await store.codecOf(chosen);
    } catch (e) {
      return say(`the ${chosen.name} model's vocabulary could not be read (${reason(e)})`);
    }
    try { audio.unlock().catch(() => {}); } catch { /* the metronome stays silent */ }
    const settings = readForm(form);
    base = store.current();
    const asked = settings.meter === ANY ? null : parseMeter(settings.meter);
    const meter = base.notes.length ? store.lastMeter(base) : Array.isArray(asked) ? asked
      : [4, 4];
    if (!base.notes.length) {
      store.replace({ meter, stepsPerBeat: codec.params.steps_per_beat, key: null, source: "" });
      base = store.current();
    }
    transport.stop();
    recorder = new Recorder({ bpm: settings.tempo, meter: meter === OTHER ? [4, 4] : meter,
      stepsPerBeat: base.stepsPerBeat, maxDuration: codec.params.max_duration,
      offset: store.nextBar(base), click: el("metronome").checked ? audio.click : null,
      onChange: take });
    el("record").textContent = "Stop";
    recorder.start();
    frame = requestAnimationFrame(follow);
  };
  const stopRecording = () => {
    if (!recorder) return;
    const rec = recorder;
    recorder = null;
    cancelAnimationFrame(frame);
    const notes = rec.stop();
    roll.playhead(null);
    store.replace({ notes: [...base.notes, ...notes],
      source: base.source && base.source !== "recorded" ? `${base.source}, then recorded`
        : "recorded" });
    el("record").textContent = "Record";
    show();
    status(describeMelody(store.current(), `Stopped: ${notes.length} notes recorded. `));
  };

  // A melody from a MIDI file or an example: its top line replaces the melody. read()
  // gives readSong's song, or {song, cut}: the notes the file had beyond those read.
  let bringing = null; // the melody being read; Harmonize or Continue clicked meanwhile waits
  const bring = (read, source) => (bringing = bringFrom(read, source));
  const bringFrom = async (read, source) => {
    say(null);
    const chosen = model();
    if (!chosen) return;
    const before = store.current().notes.length;
    try { // the model's grid first: a model that cannot load is not the file's fault
      await store.codecOf(chosen);
    } catch (e) {
      return say(`the ${chosen.name} model's vocabulary could not be read (${reason(e)}), ` +
        `so ${source} could not be put on its grid; ${before
          ? `your melody of ${before} notes is kept` : "choose another model"}`);
    }
    try {
      const got = await read();
      const song = got.song ?? got;
      if (got.cut) source = `${source}, its first ${song.notes.length.toLocaleString("en-US")} ` +
        `of ${(song.notes.length + got.cut).toLocaleString("en-US")} notes`;
      const { melody, folded } = await store.fromFile(song, chosen, source);
      stopRecording();
      store.replace(melody);
      show();
      status(describeMelody(store.current(), folded
        ? `${folded} note${folded === 1 ? "" : "s"} moved by octaves onto the piano. ` : ""));
    } catch (e) {
      say(`${source}: ${reason(e)}; ${before ? `your melody of ${before} notes is kept` :
        "choose another"}`);
    }
  };
  const fromFile = () => {
    const input = el("melody-file");
    const file = input.files[0];
    if (!file) return;
    // a melody is at most Length notes: its top line, from four times as many
    const limit = 4 * readForm(form).length;
    bring(async () => {
      const { song, count } = await readOffThread(await file.arrayBuffer(), limit);
      return { song, cut: count - song.notes.length };
    }, file.name)
      .finally(() => { input.value = ""; });
  };
  const fromExample = () => {
    const menu = el("melody-example");
    const example = page.examples.find((e) => e.midi === menu.value);
    menu.value = "";
    if (!example) return;
    bring(async () => {
      const response = await fetch(siteUrl(`examples/${example.midi}`));
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      return readSong(await response.arrayBuffer());
    }, example.title);
  };

  /** Harmonize or continue the melody, after saying what is wrong with it, if anything. */
  const use = async (mode) => {
    stopRecording();
    await bringing;
    const { notes } = store.current();
    const { length } = readForm(form);
    if (!notes.length) {
      return say("there is no melody yet: record one (Record), or take one from a MIDI file " +
        `or an example, then press ${mode === "harmonize" ? "Harmonize" : "Continue"} again`);
    }
    if (mode === "harmonize" ? notes.length > length : notes.length >= length) {
      return say(`the melody has ${notes.length} notes, and Length allows ${length}` +
        `${mode === "continue" ? " in all, so there is no room left for an answer" : ""}: ` +
        "raise Length (up to 2000) or undo notes; your melody is kept");
    }
    say(null);
    run({ mode });
  };

  /** Harmonize only with a polyphonic model with bar lines, and say why not. */
  const refresh = () => {
    const chosen = model();
    if (chosen) store.codecOf(chosen).catch(() => {}); // Record needs its grid
    const why = !chosen ? "" : chosen.mono
      ? `The ${chosen.name} model writes one line, a melody, so it cannot harmonize yours: ` +
        "Continue lets it answer. Choose a polyphonic model (such as chorales) to harmonize."
      : page.choices && page.choices.version < 2
        ? `The ${chosen.name} model predates bar lines (codec v1), so it cannot harmonize: ` +
          "Continue lets it answer."
        : "";
    el("harmonize").disabled = !!why;
    el("harmonize-note").hidden = !why;
    el("harmonize-note").textContent = why;
    const menu = el("melody-example");
    if (menu.options.length === 1 && page.examples.length) {
      menu.append(...page.examples.map((e) => new Option(e.title, e.midi)));
    }
  };

  const playMelody = () => {
    if (transport.player.state !== "stopped") return transport.stop();
    stopRecording();
    const m = store.current();
    show();
    playingMelody = true;
    transport.start({ notes: m.notes, stepsPerBeat: m.stepsPerBeat,
      settings: { tempo: readForm(form).tempo } }, true);
  };
  const labels = new MutationObserver(() => {
    if (view.root.dataset.playing === "stopped") playingMelody = false;
    el("melody-play").textContent = playingMelody ? "Stop melody" : "Play melody";
  });
  labels.observe(view.root, { attributes: true, attributeFilter: ["data-playing"] });

  const midi = async () => {
    const note = (text) => { el("midi-note").textContent = text; };
    try {
      stopMidi?.();
      stopMidi = await listen({ noteOn: play, noteOff: release, onInputs: (names) => note(
        names.length ? `MIDI: listening to ${names.join(", ")}.`
          : "MIDI is allowed, but no MIDI keyboard is connected: plug one in and play.") });
    } catch (e) {
      note(`MIDI access was refused (${reason(e)}): play the keys above or the computer ` +
        "keyboard.");
    }
  };
  if (!offered()) {
    el("midi").disabled = true;
    el("midi-note").textContent = "This browser offers no Web MIDI, so a MIDI keyboard " +
      "cannot play here: play the keys above or the computer keyboard.";
  }

  const on = (name, event, handler) => el(name).addEventListener(event, handler);
  on("octave-down", "click", () => octave(-1));
  on("octave-up", "click", () => octave(1));
  on("midi", "click", midi);
  on("record", "click", record);
  on("melody-play", "click", playMelody);
  on("undo", "click", () => {
    stopRecording();
    const gone = store.undo();
    show();
    status(describeMelody(store.current(), gone ? `Removed ${pitchName(gone.pitch)}. ` : ""));
  });
  on("clear", "click", () => {
    stopRecording();
    store.clear();
    show();
    status("Cleared: no melody now.");
  });
  on("harmonize", "click", () => use("harmonize"));
  on("continue", "click", () => use("continue"));
  on("melody-file", "change", fromFile);
  on("melody-example", "change", fromExample);
  const unbind = bindComputerKeys(document, { getC: () => lowestC, noteOn: play,
    noteOff: release, octave });
  const escape = (event) => {
    if (event.key === "Escape" && recorder) stopRecording();
  };
  document.addEventListener("keydown", escape);
  status(describeMelody(store.current()));
  for (const name of ["melody-play", "undo", "clear"]) {
    el(name).disabled = !store.current().notes.length;
  }
  return {
    refresh,
    show,
    unmount() {
      stopRecording();
      unbind();
      document.removeEventListener("keydown", escape);
      labels.disconnect();
      stopMidi?.();
      keys.remove();
    },
  };
}
