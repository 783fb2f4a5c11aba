// "Make it yours" (issue 28), its core: web/src/adapt/songs.js reads a visitor's MIDI
// files as `python -m trainer prepare` does (tests/vectors/prepare.json: the tokens
// of each usable file and the reason for each other, for three codecs), splits them
// one in ten held out; web/src/adapt/adapt.js trains a model's output layers on the
// Stepper's hidden states. On the tiny test models (build/test-models) and songs of
// a style they never heard (falling chromatic lines in even eighths: their songs are
// random walks over a triad), adapting lowers the held-out NLL per note, which the
// Stepper run on the returned weights confirms; the base weights are untouched,
// every tensor is freed, and a cancel stops it.

import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { Codec } from "../../web/src/mirror/codec.js";
import { shapes } from "../../web/src/mirror/network.js";
import { mulberry32 } from "../../web/src/mirror/sampler.js";
import { Stepper } from "../../web/src/mirror/stepper.js";
import { MAX_SONG_BEATS, MAX_SONG_SECONDS, MAX_TEMPO_BPM, MIN_TEMPO_BPM,
  writeMidi } from "../../web/src/files/midifile.js";
import { HELD_OUT_SHARE, readSongs, splitSongs } from "../../web/src/adapt/songs.js";
import { adapt, OUTPUT_WEIGHTS } from "../../web/src/adapt/adapt.js";
import { softmax } from "../../web/src/mirror/storage.js";
import { readExport } from "./exports.mjs";
import { needTestModels, TEST_MODELS } from "./fixtures.mjs";

const PREPARE = JSON.parse(readFileSync(new URL("../vectors/prepare.json", import.meta.url)));
const QUICK = { learningRate: 2e-2, maxEpochs: 2, batchSize: 128 }; // a few seconds in all

before(async () => {
  needTestModels("none", "v1");
  await tf.setBackend("cpu");
});

describe("a visitor's files become the songs prepare makes of them", () => {
  for (const set of PREPARE.sets) {
    const codec = new Codec(set.vocab);
    test(`codec v${codec.version}${codec.params.mono ? ", mono" : ""}`, () => {
      const files = set.cases.map((c) => ({ name: c.name,
        bytes: new Uint8Array(Buffer.from(c.base64, "base64")) }));
      const seen = [];
      const { songs, skipped } = readSongs(files, codec, (done, total, name) =>
        seen.push([done, total, name]));
      const usable = set.cases.filter((c) => !c.reason);
      const refused = set.cases.filter((c) => c.reason);
      assert.ok(usable.length >= 3 && refused.length >= 8, "the vectors hold both kinds");
      // the unusable files are listed with prepare's reason, the rest kept, in file order
      assert.deepEqual(skipped, refused.map((c) => ({ name: c.name, reason: c.reason })));
      assert.deepEqual(songs.map((s) => s.name), usable.map((c) => c.name));
      for (const c of usable) {
        const song = songs.find((s) => s.name === c.name);
        assert.deepEqual(song.tokens, c.tokens, c.name);
        assert.equal(song.notes, c.notes, c.name);
        assert.equal(song.source, c.source, c.name);
      }
      assert.deepEqual(seen.map(([done, total]) => [done, total]),
        files.map((_, i) => [i + 1, files.length]));
    });
  }

  test("the limits are the trainer's", () => {
    assert.deepEqual([MIN_TEMPO_BPM, MAX_TEMPO_BPM, MAX_SONG_SECONDS, MAX_SONG_BEATS],
      [PREPARE.limits.min_tempo_bpm, PREPARE.limits.max_tempo_bpm,
        PREPARE.limits.max_song_seconds, PREPARE.limits.max_song_beats]);
  });
});

describe("one file in ten is held out, at least one", () => {
  const named = (n) => Array.from({ length: n },
    (_, i) => ({ name: `song ${String(i).padStart(2, "0")}` }));
  const names = (songs) => songs.map((s) => s.name);

  test("the share, and every song in exactly one part", () => {
    assert.equal(HELD_OUT_SHARE, 0.1);
    for (const [n, held] of [[2, 1], [5, 1], [14, 1], [15, 2], [20, 2], [50, 5]]) {
      const { train, heldOut } = splitSongs(named(n));
      assert.equal(heldOut.length, held, `${n} songs`);
      assert.deepEqual(names([...train, ...heldOut]).sort(), names(named(n)));
    }
  });

  test("the same files give the same split in any order; another seed another", () => {
    const songs = named(20);
    const split = splitSongs(songs, 3);
    assert.deepEqual(splitSongs(songs.slice().reverse(), 3), split);
    const others = [0, 1, 2, 4, 5].map((seed) => names(splitSongs(songs, seed).heldOut).join());
    assert.ok(others.some((o) => o !== names(split.heldOut).join()));
  });

  test("fewer than two usable files are refused", () => {
    assert.throws(() => splitSongs(named(1)), /only one usable file: adapting needs at least two/);
    assert.throws(() => splitSongs([]), /no usable file/);
  });
});

/** MIDI files of a style the tiny models never heard: falling chromatic lines in eighths. */
function chromaticFiles(count) {
  return Array.from({ length: count }, (_, seed) => {
    const random = mulberry32(seed + 1), notes = [];
    let pitch = 70 + Math.floor(random() * 6);
    for (let i = 0; i < 48; i++) {
      notes.push({ start: 2 * i, duration: 2, pitch });
      pitch = pitch <= 58 ? 70 : pitch - 1;
    }
    const bars = Array.from({ length: 6 }, (_, b) => [16 * b, [4, 4]]);
    return { name: `chromatic ${seed}.mid`, bytes: writeMidi(notes, { bpm: 100,
      stepsPerBeat: 4, meta: { key: [0, "major"], meter: [4, 4], bars } }) };
  });
}

/** Held-out NLL per note of `weights`, as the Stepper computes each step's logits. */
function stepperNll({ network, codec }, weights, songs) {
  const stepper = new Stepper(weights, network, codec);
  let total = 0;
  for (const { tokens } of songs) {
    stepper.reset();
    for (let t = 0; t + 1 < tokens.length; t++) {
      total -= Math.log(softmax(stepper.step(tokens[t]))[tokens[t + 1]]);
    }
  }
  stepper.dispose();
  return total / songs.reduce((n, s) => n + s.notes, 0);
}

const copy = (weights) => Object.fromEntries(Object.entries(weights).map(([n, w]) =>
  [n, { shape: w.shape.slice(), values: w.values.slice() }]));

for (const model of ["none", "v1"]) {
  test(`adapting the ${model} test model lowers the held-out NLL of a new style`, async () => {
    const base = readExport(join(TEST_MODELS, model));
    const before = copy(base.weights);
    const { songs, skipped } = readSongs(chromaticFiles(10), base.codec);
    assert.deepEqual(skipped, []);
    const parts = splitSongs(songs);
    const tensors = tf.memory().numTensors;
    const reports = [];
    const result = await adapt(base, parts, { ...QUICK, onProgress: (p) => reports.push(p) });
    assert.equal(tf.memory().numTensors, tensors, "every tensor is freed");
    assert.ok(result.nllAfter < 0.9 * result.nllBefore,
      `held-out NLL per note ${result.nllBefore} -> ${result.nllAfter}`);
    // measured as the Stepper composes: the factored degree logits are the Stepper's
    assert.ok(Math.abs(stepperNll(base, base.weights, parts.heldOut) - result.nllBefore) < 1e-3);
    assert.ok(Math.abs(stepperNll(base, result.weights, parts.heldOut) - result.nllAfter) < 1e-3);
    // the same names and shapes; only the output layers new; the base as it was
    assert.deepEqual(Object.keys(result.weights).sort(), Object.keys(shapes(base.network)).sort());
    const trained = OUTPUT_WEIGHTS.filter((n) => n in base.weights);
    assert.equal(trained.length, base.network.degrees ? 4 : 2);
    for (const [name, w] of Object.entries(result.weights)) {
      assert.deepEqual(w.shape, base.weights[name].shape, name);
      if (trained.includes(name)) assert.notDeepEqual(w.values, base.weights[name].values, name);
      else assert.equal(w, base.weights[name], name);
    }
    assert.deepEqual(base.weights, before, "the base weights are unchanged");
    // progress: the hidden states song by song, then each epoch with its losses
    const states = reports.filter((p) => p.phase === "states");
    assert.deepEqual(states.map((p) => p.done), songs.map((_, i) => i + 1));
    const epochs = reports.filter((p) => p.phase === "train");
    assert.deepEqual(epochs.map((p) => p.epoch), result.history.slice(1).map((h) => h.epoch));
    assert.ok(epochs.every((p) => p.etaSeconds >= 0 && p.trainLoss > 0 && p.heldOutLoss > 0));
    assert.equal(result.history[0].heldOutLoss, result.nllBefore);
    assert.equal(Math.min(...result.history.map((h) => h.heldOutLoss)), result.nllAfter);
  });
}

test("cancelling stops adapting, frees every tensor, and leaves the base as it was", async () => {
  const base = readExport(join(TEST_MODELS, "none"));
  const before = copy(base.weights);
  const parts = splitSongs(readSongs(chromaticFiles(4), base.codec).songs);
  const tensors = tf.memory().numTensors;
  const cancel = new AbortController();
  const epochs = [];
  await assert.rejects(adapt(base, parts, { ...QUICK, maxEpochs: 50, signal: cancel.signal,
    onProgress: (p) => {
      if (p.phase === "train") {
        epochs.push(p.epoch);
        cancel.abort();
      }
    } }), { name: "AbortError", message: "adapting was cancelled" });
  assert.deepEqual(epochs, [1], "no epoch after the cancel");
  assert.equal(tf.memory().numTensors, tensors);
  assert.deepEqual(base.weights, before);
  // cancelled while the Stepper reads the songs: its tensors are freed too
  const early = new AbortController();
  early.abort();
  await assert.rejects(adapt(base, parts, { ...QUICK, signal: early.signal }),
    { name: "AbortError" });
  assert.equal(tf.memory().numTensors, tensors);
});

test("early stopping keeps the best epoch and stops after `patience` without a gain", async () => {
  const base = readExport(join(TEST_MODELS, "none"));
  const parts = splitSongs(readSongs(chromaticFiles(4), base.codec).songs);
  // a step this large overshoots at once: the base stays the best, and comes back
  const result = await adapt(base, parts, { learningRate: 50, maxEpochs: 10, patience: 2 });
  assert.equal(result.stopped, "no gain");
  assert.equal(result.bestEpoch, 0);
  assert.equal(result.history.length, 3);
  assert.equal(result.nllAfter, result.nllBefore);
  for (const name of OUTPUT_WEIGHTS.filter((n) => n in base.weights)) {
    assert.deepEqual(result.weights[name].values, base.weights[name].values, name);
  }
});
