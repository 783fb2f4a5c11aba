// web/src/mirror/harmony.js against trainer/compose/harmony.py: tests/vectors/harmonize.json
// (written by scripts/make_vectors.py). Every harmonization must also keep the
// melody on top, exactly, and end with EOS and a final chord, never falling back.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Codec, Grammar } from "../../web/src/mirror/codec.js";
import { generate } from "../../web/src/mirror/sampler.js";
import { CHORD_SETS, Constraint, FINAL_TRIADS, VoicingGuard, voicingGuard, FINAL_VOICES,
  harmonize, melodyEnd, melodyLine, melodyOf, topLine }
  from "../../web/src/mirror/harmony.js";

const VECTORS = JSON.parse(readFileSync(new URL("../vectors/harmonize.json", import.meta.url)));
const CODEC = new Codec(VECTORS.vocab);
const note = ([start, duration, pitch]) => ({ start, duration, pitch });
const song = (s) => ({ notes: s.notes.map(([start, end, pitch]) => ({ start, end, pitch })),
  meters: s.meters, key: s.key });
const model = (c) => {
  const rows = VECTORS.tables[c.table];
  return (id) => rows[id % rows.length];
};
const options = (c) => ({ temperature: c.temperature, topK: c.top_k, topP: c.top_p,
  seed: c.seed });

/** The melody pitch sounding at step t, or null. */
function sounding(melody, t) {
  const n = melody.find(({ start, duration }) => start <= t && t < start + duration);
  return n ? n.pitch : null;
}

test("the vectors hold at least 50 melodies with every kind of input the issue names", () => {
  assert.equal(VECTORS.final_voices, FINAL_VOICES);
  assert.deepEqual(VECTORS.final_triads, FINAL_TRIADS);
  assert.deepEqual(VECTORS.chord_sets, CHORD_SETS);
  const cases = VECTORS.cases;
  assert.ok(cases.length >= 50);
  assert.ok(cases.some((c) => c.melody.notes.length === 1), "a one-note melody");
  assert.ok(cases.some((c) => c.melody.folded > 0), "notes folded into A0..C8");
  assert.ok(cases.some((c) => c.melody.notes.some(([s, d], i, ns) => ns[i + 1] &&
    s + d < ns[i + 1][0])), "rests");
  assert.ok(cases.some((c) => c.melody.notes.some(([s, d]) => c.melody.meta.bars.some(([b]) =>
    s < b && b < s + d))), "notes tied over bar lines");
  for (const meter of [[4, 4], [3, 4], [6, 8]]) {
    assert.ok(cases.some((c) => JSON.stringify(c.melody.meta.meter) === JSON.stringify(meter)));
  }
  assert.ok(cases.some((c) => c.melody.meta.bars.length && c.melody.meta.bars[0][0] > 0),
    "a pickup");
  assert.ok(cases.some((c) => new Set(c.melody.meta.bars.map(([, m]) => String(m))).size > 1),
    "a meter change");
});

test("melodyLine matches Python on every song", () => {
  for (const c of VECTORS.cases) {
    const got = melodyLine(CODEC, song(c.song), { key: c.key, meter: c.meter });
    assert.deepEqual(got, { notes: c.melody.notes.map(note), meta: c.melody.meta,
      folded: c.melody.folded }, c.name);
  }
});

test("harmonize matches Python's ids on every melody, streaming each token", () => {
  for (const c of VECTORS.cases) {
    const melody = melodyLine(CODEC, song(c.song), { key: c.key, meter: c.meter });
    const streamed = [];
    const got = harmonize(model(c), CODEC, melody, { ...options(c),
      onToken: (id) => streamed.push(id) });
    assert.deepEqual(got.ids, c.ids, c.name);
    assert.deepEqual(streamed, got.ids.slice(1), c.name);
    assert.equal(got.fallbacks, 0, c.name);
  }
});

test("every harmonization keeps the melody on top and ends with a final chord", () => {
  for (const c of VECTORS.cases) {
    const melody = c.melody.notes.map(note);
    const notes = CODEC.decode(c.ids);
    assert.deepEqual(topLine(notes), melody, `${c.name}: the top voice is the melody`);
    const isMelody = (n) => melody.some((m) => m.start === n.start && m.pitch === n.pitch &&
      m.duration === n.duration);
    for (const n of notes.filter((x) => !isMelody(x))) {
      assert.notEqual(sounding(melody, n.start), null, `${c.name}: a note starts in a rest`);
      for (let t = n.start; t < n.start + n.duration; t++) {
        const top = sounding(melody, t);
        assert.ok(top === null || n.pitch < top, `${c.name}: a note above the melody`);
      }
    }
    const last = melody.at(-1);
    const chord = notes.filter((n) => n.start === last.start);
    assert.ok(chord.length >= Math.min(FINAL_VOICES, 1 + last.pitch - 21),
      `${c.name}: final chord`);
    // the song ends on that chord: nothing starts later or sounds into it from before
    assert.ok(notes.every((n) => n.start === last.start || (n.start < last.start &&
      n.start + n.duration <= last.start)), `${c.name}: the final chord is struck together`);
    const classes = chord.reduce((set, n) => set | (1 << (n.pitch % 12)), 0);
    if (last.pitch >= 21 + 12) {
      assert.ok(FINAL_TRIADS.some((t) => (classes & ~t) === 0), `${c.name}: a triad at the end`);
    }
  }
});

test("every harmonization ended by drawing EOS after the melody, below the caps", () => {
  for (const c of VECTORS.cases) {
    const melody = { notes: c.melody.notes.map(note), meta: c.melody.meta };
    const grammar = new Grammar(CODEC), constraint = new Constraint(CODEC, melody);
    for (const id of c.ids) {
      grammar.advance(id);
      constraint.advance(id);
    }
    assert.equal(constraint.nextNote, melody.notes.length, c.name);
    assert.equal(constraint.mask(grammar.mask())[CODEC.eosId], 1, c.name);
    assert.equal(constraint.fallbacks, 0, c.name);
    const maxNotes = 88 * melodyEnd(melody) + 1;
    assert.ok(grammar.notes < maxNotes && c.ids.length - 1 <
      2 * maxNotes + melodyEnd(melody) + constraint.bars.length + 3, c.name);
  }
});

test("melodies that cannot be harmonized are refused with Python's messages", () => {
  for (const c of VECTORS.errors) {
    const codec = new Codec(c.vocab);
    assert.throws(() => new Constraint(codec, melodyLine(codec, song(c.song))),
      { name: "RangeError", message: c.error }, c.name);
  }
  assert.throws(() => melodyOf([], { key: [0, "major"], meter: [4, 4], bars: [] }),
    { name: "RangeError", message: "the melody has no notes" });
});

test("the Constraint masks a SHIFT past the next onset and EOS before the melody's end", () => {
  const melody = melodyOf([note([0, 4, 72]), note([4, 8, 74])],
    { key: [0, "major"], meter: [4, 4], bars: [[0, [4, 4]]] }, [0, "major"]);
  const constraint = new Constraint(CODEC, melody);
  for (const name of ["BOS", "KEY_C_major", "METER_4_4", "BAR", "NOTE_72", "DUR_4"]) {
    constraint.advance(CODEC.tokens.indexOf(name));
  }
  const own = constraint.ownMask();
  const allowed = (name) => own[CODEC.tokens.indexOf(name)];
  assert.deepEqual([1, 2, 3, 4, 5].map((k) => allowed(`SHIFT_${k}`)), [1, 1, 1, 1, 0]);
  assert.equal(allowed("EOS"), 0);
  assert.equal(allowed("NOTE_71"), 1);
  assert.equal(allowed("NOTE_72"), 0);
  constraint.advance(CODEC.tokens.indexOf("NOTE_73"));
  const dur = constraint.ownMask();
  assert.deepEqual([1, 4, 5].map((k) => dur[CODEC.tokens.indexOf(`DUR_${k}`)]), [0, 0, 0],
    "NOTE_73 sounds above the melody's 72");
});

test("free songs under the VoicingGuard match Python's ids", () => {
  assert.ok(VECTORS.voicing.filter((c) => c.unguarded_differs).length >= 8);
  for (const c of VECTORS.voicing) {
    const ids = generate(model(c), CODEC, [CODEC.bosId], { maxNotes: c.max_notes,
      temperature: c.temperature, topP: c.top_p, seed: c.seed,
      constraint: new VoicingGuard(CODEC) });
    assert.deepEqual(ids, c.ids, `seed ${c.seed}`);
  }
  assert.equal(voicingGuard(new Codec({ ...VECTORS.vocab,
    params: { ...VECTORS.vocab.params, mono: true } })), null);
});
