// music.js (meter, key, bars, text alternative) and abc.js (ABC for the sheet music).

import { test } from "node:test";
import assert from "node:assert/strict";
import abcjs from "abcjs";
import { lengths, toAbc } from "../../web/src/abc.js";
import { barSteps, describe, melodyIndices, pitchName, songFrame } from "../../web/src/music.js";

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
