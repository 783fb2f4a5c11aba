// web/src/files/midifile.js's readSong against trainer/music/midi_io.py's parse_song on the
// MIDI files of tests/vectors/midi.json (written by pretty_midi): the same
// notes, time signatures and key, and so the same quantised v2 song.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Codec } from "../../web/src/mirror/codec.js";
import { MAX_MIDI_BYTES, readMidi, readSong, writeMidi } from "../../web/src/files/midifile.js";

const MIDI = JSON.parse(readFileSync(new URL("../vectors/midi.json", import.meta.url)));
const bytes = (c) => new Uint8Array(Buffer.from(c.base64, "base64"));
const close = (a, b, what) => a.forEach((x, i) => assert.ok(Math.abs(x - b[i]) < 1e-9, what));
const triples = (notes) => notes.map(({ start, duration, pitch }) => [start, duration, pitch]);

test("readSong reads Python's notes, time signatures and key", () => {
  for (const c of MIDI.cases) {
    const song = readSong(bytes(c));
    const order = (rows) => rows.sort((a, b) => a[0] - b[0] || a[2] - b[2] || a[1] - b[1]);
    const got = order(song.notes.map(({ start, end, pitch }) => [start, end, pitch]));
    const want = order(c.notes.map((n) => n.slice()));  // the order of notes does not matter
    assert.equal(got.length, want.length, c.name);
    got.forEach((n, i) => close(n, want[i], c.name));
    assert.equal(song.meters.length, c.meters.length, c.name);
    song.meters.forEach((m, i) => close(m, c.meters[i], c.name));
    assert.deepEqual(song.key, c.key, c.name);
    assert.deepEqual(readMidi(bytes(c)), song.notes);
  }
});

test("a damaged, empty or huge file is refused with Python's reason", () => {
  assert.ok(MIDI.refused.length >= 5);
  for (const c of MIDI.refused) {
    assert.throws(() => readSong(bytes(c)), (e) => e.message === c.reason, c.name);
  }
  const limits = JSON.parse(readFileSync(new URL("../vectors/limits.json", import.meta.url)));
  assert.equal(MAX_MIDI_BYTES, limits.midi_bytes);
  const huge = new Uint8Array(MAX_MIDI_BYTES + 1);
  huge.set([77, 84, 104, 100]); // MThd
  assert.throws(() => readSong(huge), { message: "16,777,217 bytes, more than the " +
    "16,777,216 a MIDI file may hold here" });
});

test("an uploaded file becomes the v2 song Python makes of it", () => {
  const codec = new Codec(MIDI.vocab);
  for (const c of MIDI.cases) {
    const { notes, meters, key } = readSong(bytes(c));
    const song = codec.quantiseSong(notes, meters, key);
    assert.deepEqual(triples(song.notes), c.song.notes, c.name);
    assert.deepEqual(song.meta, c.song.meta, c.name);
    assert.equal(song.source, c.song.source, c.name);
  }
});

test("a written song reads back with its notes", () => {
  const notes = [{ start: 0, duration: 4, pitch: 62 }, { start: 4, duration: 8, pitch: 65 }];
  const song = readSong(writeMidi(notes, { bpm: 90, stepsPerBeat: 4 }));
  assert.deepEqual(song.notes, [{ start: 0, end: 1, pitch: 62 }, { start: 1, end: 3, pitch: 65 }]);
  assert.equal(song.key, null);
});

test("a v2 song's MIDI file carries its key and meters; a pickup is padded to a bar", () => {
  const codec = new Codec(MIDI.vocab);
  const notes = [{ start: 0, duration: 4, pitch: 57 }, { start: 4, duration: 4, pitch: 62 },
    { start: 8, duration: 4, pitch: 65 }, { start: 12, duration: 4, pitch: 69 },
    { start: 16, duration: 8, pitch: 62 }, { start: 24, duration: 4, pitch: 61 },
    { start: 28, duration: 8, pitch: 62 }];
  const meta = { key: [2, "minor"], meter: [3, 4], bars: [[4, [3, 4]], [16, [2, 4]],
    [24, [2, 4]]] };
  const read = readSong(writeMidi(notes, { bpm: 100, stepsPerBeat: 4, meta }));
  assert.deepEqual(read.key, [2, "minor"]);
  assert.deepEqual(read.meters, [[0, 3, 4], [6, 2, 4]]); // a bar of rest first: bar 1 at beat 3
  assert.equal(read.notes[0].start, 2);
  const song = codec.quantiseSong(read.notes, read.meters, read.key);
  assert.deepEqual(song.meta, meta);
  assert.deepEqual(triples(song.notes), triples(notes));
  assert.equal(song.source, "file");
});
