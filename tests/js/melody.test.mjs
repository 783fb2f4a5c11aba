// The melody input's pure parts: the computer-key map (keyboard.js), the
// recorder's count-in, metronome and quantising (recorder.js), the melody
// store and its readSong shape (melody.js), Web MIDI messages (midiin.js).

import { test } from "node:test";
import assert from "node:assert/strict";
import { Codec } from "../../web/src/mirror/codec.js";
import { melodyLine } from "../../web/src/mirror/harmony.js";
import { HIGHEST_C, keyAction, KEY_MAP, LOWEST_C, shiftOctave }
  from "../../web/src/melody/keyboard.js";
import * as store from "../../web/src/melody/melody.js";
import { noteEvent } from "../../web/src/melody/midiin.js";
import { Recorder } from "../../web/src/melody/recorder.js";
import { readFileSync } from "node:fs";

const input = (type) => ({ tagName: "INPUT", type });
const press = (code, extra = {}) => ({ code, target: { tagName: "BODY" }, ...extra });

test("the two-row key map plays C to F from the keyboard's C; Z and X shift the octave", () => {
  const row = ["KeyA", "KeyW", "KeyS", "KeyE", "KeyD", "KeyF", "KeyT", "KeyG", "KeyY", "KeyH",
    "KeyU", "KeyJ", "KeyK", "KeyO", "KeyL", "KeyP", "Semicolon", "Quote"];
  assert.deepEqual(row.map((code) => keyAction(press(code), 60).pitch),
    Array.from({ length: 18 }, (_, i) => 60 + i));
  assert.equal(Object.keys(KEY_MAP).length, 18);
  assert.deepEqual(keyAction(press("KeyZ"), 60), { octave: -1 });
  assert.deepEqual(keyAction(press("KeyX"), 60), { octave: 1 });
  assert.equal(keyAction(press("KeyQ"), 60), null);
  assert.equal(shiftOctave(LOWEST_C, -1), LOWEST_C);
  assert.equal(shiftOctave(HIGHEST_C, 1), HIGHEST_C);
  assert.equal(shiftOctave(60, 1), 72);
});

test("keys typed into a text or number field, a menu, or with a modifier are not taken", () => {
  for (const target of [input("text"), input("number"), input(""), { tagName: "TEXTAREA" },
    { tagName: "SELECT" }, { tagName: "DIV", isContentEditable: true }]) {
    assert.equal(keyAction(press("KeyA", { target }), 60), null, JSON.stringify(target));
  }
  for (const target of [input("checkbox"), input("range"), { tagName: "BUTTON" }]) {
    assert.equal(keyAction(press("KeyA", { target }), 60).pitch, 60, JSON.stringify(target));
  }
  for (const modifier of ["ctrlKey", "altKey", "metaKey"]) {
    assert.equal(keyAction(press("KeyS", { [modifier]: true }), 60), null, modifier);
  }
});

/** A recorder at 60 BPM, 4 steps a beat (250 ms a step), on a clock the test moves. */
function recorder(options = {}) {
  const clock = { t: 1000 };
  const clicks = [];
  const rec = new Recorder({ bpm: 60, meter: [3, 4], stepsPerBeat: 4, maxDuration: 32,
    click: (accent, at) => clicks.push([accent, at]), now: () => clock.t, ...options });
  return { rec, clock, clicks };
}

test("the count-in is one bar of clicks, accented on the bar; recording starts after it", () => {
  const { rec, clock, clicks } = recorder();
  rec.start();
  clearInterval(rec.timer); // the test ticks the clock itself
  assert.equal(rec.state, "counting");
  assert.equal(rec.beat(), 3);
  for (clock.t = 1000; clock.t <= 5000; clock.t += 25) rec.tick();
  assert.equal(rec.state, "recording");
  const first = clicks.filter(([, at]) => at <= 4000);
  assert.deepEqual(first, [[true, 1000], [false, 2000], [false, 3000], [true, 4000]]);
  rec.stop();
  assert.equal(rec.state, "stopped");
});

test("a 6/8 metronome clicks eighths, six a bar", () => {
  const { rec, clock, clicks } = recorder({ meter: [6, 8] });
  rec.start();
  clearInterval(rec.timer);
  for (clock.t = 1000; clock.t < 7000; clock.t += 25) rec.tick();
  rec.stop();
  const bar = clicks.filter(([, at]) => at < 7000); // the count-in and the first bar
  assert.deepEqual(bar.map(([accent]) => accent), [true, false, false, false, false, false,
    true, false, false, false, false, false]);
  assert.equal(bar[1][1] - bar[0][1], 500);
});

test("presses snap to the grid; a new key ends the held note; the later of one step stays", () => {
  const { rec, clock } = recorder({ offset: 24 });
  rec.start();
  clearInterval(rec.timer);
  const t0 = 1000 + 12 * 250; // after the count-in (a bar of 3/4: 12 steps)
  const at = (step, jitter = 0) => { clock.t = t0 + step * 250 + jitter; rec.tick(); };
  at(-3);
  rec.noteOn(59); // in the count-in: heard, not recorded
  rec.noteOff(59);
  at(0, -90);
  rec.noteOn(60); // 90 ms early: step 0
  at(2, 40);
  rec.noteOff(60);
  at(4, 30);
  rec.noteOn(62);
  at(6, -20);
  rec.noteOn(64); // legato: ends 62 at step 6
  at(6, 60);
  rec.noteOn(65); // the same step: replaces 64
  at(8);
  assert.deepEqual(rec.sofar().at(-1), { start: 30, duration: 2, pitch: 65 });
  at(100);
  const notes = rec.stop();
  assert.deepEqual(notes, [{ start: 24, duration: 2, pitch: 60 },
    { start: 28, duration: 2, pitch: 62 }, { start: 30, duration: 32, pitch: 65 }]);
});

test("the melody goes to the worker in readSong's shape, in its meter or another", () => {
  store.clear();
  store.replace({ notes: [{ start: 12, duration: 4, pitch: 67 }, { start: 16, duration: 8,
    pitch: 72 }], stepsPerBeat: 4, meter: [4, 4] });
  assert.deepEqual(store.toSong(), { notes: [{ start: 3, end: 4, pitch: 67 },
    { start: 4, end: 6, pitch: 72 }], meters: [[0, 4, 4]], key: null });
  assert.deepEqual(store.toSong(store.current(), "other").meters, []);
  assert.equal(store.nextBar(), 32);
  assert.deepEqual(store.undo(), { start: 16, duration: 8, pitch: 72 });
  assert.equal(store.current().notes.length, 1);
  store.clear();
  assert.equal(store.nextBar(), 0);
});

test("a recorded melody is its own top line: melodyLine keeps every note, a pickup as a pickup", () => {
  const vocab = JSON.parse(readFileSync(new URL("../../site/models/chorales/vocab.json",
    import.meta.url)));
  const codec = new Codec(vocab);
  const notes = [{ start: 12, duration: 4, pitch: 67 }, { start: 16, duration: 6, pitch: 72 },
    { start: 24, duration: 2, pitch: 71 }, { start: 28, duration: 4, pitch: 69 }];
  store.replace({ notes, stepsPerBeat: 4, meter: [4, 4], key: null });
  const line = melodyLine(codec, store.toSong());
  assert.deepEqual(line.notes.map((n) => [n.start, n.duration, n.pitch]),
    notes.map((n) => [n.start - 12, n.duration, n.pitch]));
  assert.deepEqual(line.meta.bars[0], [4, [4, 4]]); // the first bar line after a beat of pickup
  store.clear();
});

test("a melody's meter changes go to the worker, into the harmony's bar lines", () => {
  const vocab = JSON.parse(readFileSync(new URL("../../site/models/chorales/vocab.json",
    import.meta.url)));
  const codec = new Codec(vocab);
  // A file's bar lines: 3/4 from 0, 4/4 from 24, a bar of "other", then 4/4 again.
  const bars = [[0, [3, 4]], [12, [3, 4]], [24, [4, 4]], [40, "other"], [47, [4, 4]]];
  assert.deepEqual(store.meterChanges([3, 4], bars, 0), [[24, [4, 4]]]);
  assert.deepEqual(store.meterChanges([3, 4], bars, 4), [[28, [4, 4]]]);
  assert.deepEqual(store.meterChanges("other", bars), []);
  const notes = [0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44].map((start, i) =>
    ({ start, duration: 4, pitch: 60 + (i % 5) }));
  store.replace({ notes, stepsPerBeat: 4, meter: [3, 4], changes: [[24, [4, 4]]], key: null });
  assert.deepEqual(store.lastMeter(), [4, 4]);
  assert.equal(store.nextBar(), 56); // 4/4 bars from step 24: 24, 40, 56
  assert.deepEqual(store.barsOf(), [[0, [3, 4]], [12, [3, 4]], [24, [4, 4]], [40, [4, 4]]]);
  const song = store.toSong();
  assert.deepEqual(song.meters, [[0, 3, 4], [6, 4, 4]]);
  assert.deepEqual(store.toSong(store.current(), [2, 4]).meters, [[0, 2, 4]]);
  const line = melodyLine(codec, song);
  assert.deepEqual(line.meta.bars.map(([b, m]) => [b, m.join("/")]),
    [[0, "3/4"], [12, "3/4"], [24, "4/4"], [40, "4/4"]]);
  store.replace({ meter: [6, 8], notes: [] }); // a new meter: no changes
  assert.deepEqual(store.current().changes, []);
  store.clear();
});

test("Web MIDI note on, note off and note on at velocity 0; other messages are not notes", () => {
  assert.deepEqual(noteEvent([0x90, 60, 100]), { on: true, pitch: 60 });
  assert.deepEqual(noteEvent([0x93, 61, 0]), { on: false, pitch: 61 });
  assert.deepEqual(noteEvent([0x80, 62, 64]), { on: false, pitch: 62 });
  assert.equal(noteEvent([0xb0, 64, 127]), null);
});
