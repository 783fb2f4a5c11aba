// music.js (meter, key, bars, text alternative) and abc.js (ABC for the sheet music).

import { test } from "node:test";
import assert from "node:assert/strict";
import abcjs from "abcjs";
import { lengths, toAbc } from "../../web/src/notation/abc.js";
import { barLines, barSteps, describe, frameText, melodyIndices, pitchName,
  songFrame } from "../../web/src/notation/music.js";

const NOTES = [{ start: 0, duration: 4, pitch: 60 }, { start: 0, duration: 8, pitch: 64 },
  { start: 4, duration: 5, pitch: 61 }, { start: 9, duration: 10, pitch: 48 },
  { start: 12, duration: 2, pitch: 60 }];

test("a codec v1 song is 4/4 assumed in an unknown key; a given meter or key is used", () => {
  assert.deepEqual(songFrame({ notes: [] }), { meter: { beats: 4, unit: 4 }, meterAssumed: true,
    key: null });
  assert.deepEqual(songFrame({ meter: "3/4", key: "G major" }),
    { meter: { beats: 3, unit: 4 }, meterAssumed: false, key: "G major" });
  assert.equal(barSteps({ beats: 3, unit: 4 }, 4), 12);
  assert.equal(barSteps({ beats: 6, unit: 8 }, 4), 12);
});

test("the text alternative names the notes, bars, key and meter", () => {
  const { summary, bars } = describe({ notes: NOTES, stepsPerBeat: 4, primeNotes: 1 });
  assert.match(summary,
    /^5 notes in 2 bars \(1 from the prime\); key: unknown \/ meter: 4\/4 assumed/);
  assert.equal(bars.length, 2);
  assert.equal(bars[0], "Bar 1: C4 (prime) at beat 1 for 1, E4 at beat 1 for 2, C♯4 at beat 2 " +
    "for 1.25, C3 at beat 3.25 for 2.5, C4 at beat 4 for 0.5.");
  assert.equal(bars[1], "Bar 2: no new note.");
  const three = describe({ notes: NOTES, stepsPerBeat: 4, meter: "3/4" });
  assert.equal(three.bars.length, 2);
  assert.match(three.summary, /meter: 3\/4\./);
  assert.equal(pitchName(61), "C♯4");
  assert.deepEqual([...melodyIndices(NOTES, 1)].sort(), [1, 2, 3, 4]);
  assert.deepEqual([...melodyIndices(NOTES)].sort(), [1, 2, 3, 4]); // E4 tops C4 at 0
});

test("note lengths are plain or dotted", () => {
  assert.deepEqual(lengths(5), [4, 1]);
  assert.deepEqual(lengths(7), [6, 1]);
  assert.deepEqual(lengths(12), [12]);
  assert.deepEqual(lengths(16), [16]);
});

for (const mono of [true, false]) {
  test(`ABC of a ${mono ? "melody" : "polyphonic song"} parses cleanly in abcjs`, () => {
    const abc = toAbc({ notes: NOTES, stepsPerBeat: 4 }, { mono, title: "t", bpm: 90 });
    assert.match(abc, /^X:1\nT:t\n/);
    assert.match(abc, /\nM:4\/4\nL:1\/16\nQ:1\/4=90\n/);
    const [tune] = abcjs.parseOnly(abc);
    assert.equal(tune.warnings, undefined);
    assert.equal(abc.includes("V:2"), !mono);
    // every bar holds exactly 16 sixteenths per staff
    const body = abc.split("\n").filter((l) => !/^[A-Z%]:|^%/.test(l) && l.trim());
    for (const line of body) {
      for (const bar of line.replace(/^\[V:\d\] /, "").split("|").filter((b) => b.trim())) {
        const total = [...bar.matchAll(/(?:\]|[A-Ga-gz][,']*)(\d+)/g)]
          .reduce((s, m) => s + Number(m[1]), 0);
        assert.equal(total, 16, `${bar}`);
      }
    }
  });
}

// A codec v2 song: D minor, 3/4 with a pickup of one beat, 2/4 from bar 2.
const META = { key: [2, "minor"], meter: [3, 4], bars: [[4, [3, 4]], [16, [2, 4]]] };
const V2 = { notes: [{ start: 0, duration: 4, pitch: 57 }, { start: 4, duration: 12, pitch: 62 },
  { start: 4, duration: 12, pitch: 46 }, { start: 16, duration: 8, pitch: 70 },
  { start: 24, duration: 4, pitch: 61 }, { start: 28, duration: 8, pitch: 64 }],
stepsPerBeat: 4, meta: META };

test("a codec v2 song's frame and bars are its meta's: pickup, changes, other", () => {
  assert.deepEqual(songFrame(V2), { meter: { beats: 3, unit: 4 }, meterAssumed: false,
    key: "D minor" });
  assert.deepEqual(barLines(V2, 4, 36).map((b) => [b.start, b.end, b.number, b.meter.beats]),
    [[0, 4, 0, 3], [4, 16, 1, 3], [16, 24, 2, 2], [24, 32, 3, 2], [32, 40, 4, 2]]);
  const other = { meta: { key: [9, "major"], meter: "other", bars: [[10, "other"], [15, "other"]] } };
  assert.deepEqual(barLines(other, 4, 30).map((b) => [b.start, b.end, b.meter]),
    [[0, 10, null], [10, 15, null], [15, 20, null], [20, 25, null], [25, 30, null]]);
  assert.equal(frameText(other), "key: A major / meter: other, with a pickup");
  assert.deepEqual(barLines({ meta: { ...META, bars: [] } }, 4, 20).map((b) => b.start),
    [0, 12]); // no bar line stated: bars of the starting meter from step 0
  // v1: 4/4 from step 0
  assert.deepEqual(barLines({ notes: [] }, 4, 33).map((b) => b.start), [0, 16, 32]);
});

test("the text alternative of a v2 song names its key, meter, pickup and changes", () => {
  const { summary, bars } = describe({ ...V2, primeNotes: 1 });
  assert.match(summary, /^6 notes in 4 bars \(1 from the prime\); key: D minor \/ meter: 3\/4, /);
  assert.match(summary, /with a pickup, then 2\/4 from bar 2\. Range B♭2 to B♭4\.$/);
  assert.deepEqual(bars, ["Pickup: A3 (prime) at beat 1 for 1.",
    "Bar 1: D4 at beat 1 for 3, B♭2 at beat 1 for 3.", "Bar 2: B♭4 at beat 1 for 2.",
    "Bar 3: C♯4 at beat 1 for 1, E4 at beat 2 for 2.", "Bar 4: no new note."]);
});

test("ABC of a v2 song: M:, K:, a short pickup bar, [M:] changes, notes spelled in the key", () => {
  for (const mono of [true, false]) {
    const abc = toAbc(V2, { mono, title: "t", bpm: 90 });
    assert.match(abc, /\nM:3\/4\nL:1\/16\nQ:1\/4=90\n/);
    assert.match(abc, /\nK:Dm\n/);
    assert.match(abc, /\[M:2\/4\]/);
    const [tune] = abcjs.parseOnly(abc);
    assert.equal(tune.warnings, undefined, abc);
    const body = abc.split("\n").filter((l) => !/^[A-Z%]:|^%/.test(l) && l.trim());
    const sizes = body.flatMap((line) => line.replace(/^\[V:\d\] /, "").split("|")
      .filter((b) => b.trim()).map((bar) => [...bar.replace(/\[M:[^\]]*\]/, "")
        .matchAll(/(?:\]|[A-Ga-gz][,']*)(\d+)/g)].reduce((s, m) => s + Number(m[1]), 0)));
    const want = [4, 12, 8, 8, 8];
    assert.deepEqual(sizes, mono ? want : [...want.slice(0, 4), ...want.slice(0, 4),
      want[4], want[4]]);
  }
  const melody = toAbc({ ...V2, notes: V2.notes.filter((n) => n.pitch !== 46) }, { mono: true });
  assert.match(melody, /\| \[M:2\/4\] B8 \| \^C4 E4- \|/); // B♭ by the signature; C♯, leading tone
  const flat = toAbc({ notes: [{ start: 0, duration: 4, pitch: 63 }, { start: 4, duration: 4,
    pitch: 66 }], stepsPerBeat: 4, meta: { key: [5, "major"], meter: [4, 4], bars: [[0, [4, 4]]] } });
  assert.match(flat, /\nK:F\n[^]*\[V:1\] _E4 _G4 z8 \|/); // flats in a flat key
  assert.match(toAbc({ notes: [], stepsPerBeat: 4, meta: { key: [0, "major"], meter: "other",
    bars: [] } }), /\nM:none\n/);
});

test("eighths and sixteenths are beamed by the beat, in compound meters by three eighths", () => {
  const scale = [67, 69, 71, 72, 74]; // G A B c d
  const eighths = (n) => Array.from({ length: n },
    (_, i) => ({ start: 2 * i, duration: 2, pitch: scale[i % 5] }));
  const frame = (meter) => ({ key: [7, "major"], meter, bars: [[0, meter]] });
  const jig = toAbc({ notes: eighths(12), stepsPerBeat: 4, meta: frame([6, 8]) }, { mono: true });
  assert.match(jig, /\nG2A2B2 c2d2G2 \| A2B2c2 d2G2A2 \|/);
  const reel = toAbc({ notes: eighths(8), stepsPerBeat: 4, meta: frame([4, 4]) }, { mono: true });
  assert.match(reel, /\nG2A2 B2c2 d2G2 A2B2 \|/);
  const [tune] = abcjs.parseOnly(jig);
  assert.equal(tune.warnings, undefined);
  const notes = tune.lines[0].staff[0].voices[0].filter((e) => e.el_type === "note");
  assert.equal(notes.filter((e) => e.startBeam).length, 4); // four beamed groups of three
  // a rest, a quarter or a pickup's downbeat breaks a beam
  const mixed = [{ start: 0, duration: 2, pitch: 67 }, { start: 4, duration: 2, pitch: 69 },
    { start: 6, duration: 4, pitch: 71 }, { start: 10, duration: 1, pitch: 72 },
    { start: 11, duration: 1, pitch: 74 }];
  assert.match(toAbc({ notes: mixed, stepsPerBeat: 4, meta: frame([3, 4]) }, { mono: true }),
    /\nG2 z2 A2 B4 c1d1 \|/);
});
