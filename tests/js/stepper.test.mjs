// The Stepper (plain tfjs-core ops, web/src/mirror/stepper.js) computes what the numpy
// Stepper (trainer/compose/stepper.py) computes, token by token, key row included:
// build/test-models/stepper.json (scripts/make_test_models.py) holds numpy's
// logits on the exports' weights as read back, for a v2 song (key table,
// degree logits and bar count) whose key changes midway, then has three BARs;
// the same song without the bar table, and with the key table alone (a
// format-2 export from before degree logits and the bar count); and a v1
// song. The Stepper is built from the weights by name and the network
// description: a network without degree logits or bar table says degrees 0,
// bar_rows 0 and has no weights of those names. It frees what it makes and
// refuses weights and networks it cannot run.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { shapes } from "../../web/src/mirror/network.js";
import { Stepper } from "../../web/src/mirror/stepper.js";
import { readExport } from "./exports.mjs";

const ROOT = new URL("../..", import.meta.url).pathname;
const TEST_MODELS = join(ROOT, "build/test-models");
const CASES = JSON.parse(readFileSync(join(TEST_MODELS, "stepper.json"), "utf8")).cases;

/** The test model export `name`'s weights by name, its network and its codec. */
function readFolder(name) {
  return readExport(join(TEST_MODELS, name));
}

/**
 * The network of `read` with only the parts asked for (the key table, degree
 * logits, bar table; each only where `read`'s has it) and the weights it names.
 */
function part({ weights, network }, { keys = true, degrees = true, bars = true }) {
  const net = { ...network, key_rows: keys ? network.key_rows : 0,
    degrees: degrees ? network.degrees : 0, bar_rows: bars ? network.bar_rows : 0 };
  const names = Object.keys(shapes(net));
  return { network: net, weights: Object.fromEntries(names.map((n) => [n, weights[n]])) };
}

/** A Stepper of `read`'s codec on the parts of its network asked for (all by default). */
function stepperOf(read, parts = {}) {
  const { weights, network } = part(read, parts);
  return new Stepper(weights, network, read.codec);
}

/** Weights of zeros, of `shape`. */
const zeros = (shape) => ({ shape, values: new Float32Array(shape.reduce((a, b) => a * b)) });
const maxDiff = (a, b) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

for (const { model, drop, degrees, bars, tokens, logits } of CASES) {
  test(`matches the numpy Stepper on the ${model} test model, degrees ${degrees}, bars ${bars}`,
    () => {
      const read = readFolder(model);
      const v2 = model !== "v1";
      // the context test model reads the Context's features (its repeat flags too) in
      // place of the bar count: 88 + 4 x (88 + 16 + 32) + 4
      const context = model === "context";
      assert.deepEqual([read.network.key_rows, read.network.degrees, read.network.bar_rows,
        read.network.context_rows, read.network.repeating], v2 ? [25, 24, context ? 0 : 64,
        context ? 636 : 0, context] : [0, 0, 0, 0, false]);
      const { network } = part(read, { degrees, bars });
      // numpy dropped the last `drop` arrays: the bar table (1), then the degree kernel and bias
      assert.equal(Object.keys(shapes(read.network)).length - Object.keys(shapes(network)).length,
        drop);
      const stepper = stepperOf(read, { degrees, bars });
      assert.deepEqual([Boolean(stepper.degreeIndex), Boolean(stepper.barTable),
        Boolean(stepper.context)], [degrees, bars, context]);
      const diffs = tokens.map((t, i) => maxDiff(stepper.step(t), logits[i]));
      assert.ok(Math.max(...diffs) <= 1e-5, `max |logit diff| ${Math.max(...diffs)}`);
      const carried = stepper.step(tokens[0]); // the states carry over ...
      stepper.reset(); // ... until reset
      const fresh = stepper.step(tokens[0]);
      assert.ok(maxDiff(fresh, logits[0]) <= 1e-5);
      assert.ok(maxDiff(carried, fresh) > 1e-3);
      stepper.dispose();
    });
}

test("the stepper.json cases cover degree logits, the bar count and networks without them", () => {
  assert.deepEqual(CASES.map((c) => [c.model, c.drop, c.degrees, c.bars]), [["none", 0, true, true],
    ["none", 1, true, false], ["none", 3, false, false], ["uint8-column", 0, true, true],
    ["v1", 0, false, false], ["context", 0, true, false]]);
  const { tokens } = CASES[0];
  const { codec } = readFolder("none");
  assert.ok(tokens.filter((t) => t === codec.barId).length >= 3);
  assert.ok(tokens.filter((t) => codec.kind[t] === 3).length >= 2); // two KEYs
});

test("degree logits move only NOTE logits, and only once a KEY is read", () => {
  const read = readFolder("none");
  const { codec } = read;
  const { tokens } = CASES.find((c) => c.model === "none");
  const withDegrees = stepperOf(read, { bars: false });
  const without = stepperOf(read, { degrees: false, bars: false });
  const diff = (song) => {
    withDegrees.reset();
    without.reset();
    const pairs = song.map((t) => [withDegrees.step(t), without.step(t)]);
    return pairs.map(([a, b]) => Array.from(a, (x, i) => x - b[i]));
  };
  const [atBos, ...afterKey] = diff(tokens.slice(0, 6));
  assert.ok(atBos.every((d) => d === 0)); // row 24: no key read yet
  const note = codec.ranges.NOTE;
  for (const row of afterKey) {
    assert.ok(row.every((d, i) => d === 0 || (i >= note.first && i < note.first + note.count)));
    assert.ok(row.some((d) => Math.abs(d) > 1e-6));
  }
  // notes a semitone apart in the song's key are different degrees; an octave apart, the same
  const last = afterKey.at(-1), c4 = codec.tokenId("NOTE", 60);
  assert.ok(Math.abs(last[c4] - last[codec.tokenId("NOTE", 72)]) < 1e-5);
  assert.ok(Math.abs(last[c4] - last[codec.tokenId("NOTE", 61)]) > 1e-6);
  withDegrees.dispose();
  without.dispose();
});

test("the bar count is the BARs read, the one read included, at most 63", () => {
  const read = readFolder("none");
  const { codec } = read;
  const stepper = stepperOf(read);
  const without = stepperOf(read, { bars: false });
  stepper.step(codec.bosId);
  assert.equal(stepper.bars, 0);
  stepper.step(codec.barId);
  assert.equal(stepper.bars, 1);
  for (let i = 0; i < 70; i++) stepper.step(codec.barId);
  assert.equal(stepper.bars, 63);
  stepper.reset();
  assert.equal(stepper.bars, 0);
  without.reset();
  assert.ok(maxDiff(stepper.step(codec.bosId), without.step(codec.bosId)) > 1e-6); // row 0 too
  stepper.dispose();
  without.dispose();
});

test("the key row is the song's: reading another KEY token changes what follows", () => {
  const read = readFolder("none");
  const { codec } = read;
  const { tokens } = CASES.find((c) => c.model === "none");
  assert.equal(codec.kind[tokens[1]], 3); // KEY
  const stepper = stepperOf(read);
  const run = (song) => {
    stepper.reset();
    return song.map((t) => stepper.step(t)).at(-1);
  };
  const other = codec.keyId([codec.keyOf(tokens[1])[0] + 1, "major"]);
  const next = tokens.slice(2, 6);
  assert.ok(maxDiff(run([tokens[0], tokens[1], ...next]), run([tokens[0], other, ...next])) > 1e-4);
  const noKey = stepperOf(read, { keys: false, degrees: false, bars: false });
  noKey.reset();
  const plain = noKey.step(tokens[0]);
  stepper.reset();
  assert.ok(maxDiff(plain, stepper.step(tokens[0])) > 1e-6); // row 24 is added at BOS too
  noKey.dispose();
  stepper.dispose();
});

test("steps leave no tensor behind, and dispose frees the weights", () => {
  const read = readFolder("uint8-column");
  const before = tf.memory().numTensors;
  const stepper = stepperOf(read);
  const settled = tf.memory().numTensors;
  for (let t = 3; t < 200; t++) stepper.step(t % read.codec.size);
  stepper.reset();
  assert.equal(tf.memory().numTensors, settled);
  stepper.dispose();
  assert.equal(tf.memory().numTensors, before);
});

test("refuses weights that are not exactly the network's", () => {
  const read = readFolder("none");
  const { weights, network, codec } = read;
  const make = (w, n = network) => () => new Stepper(w, n, codec);
  const noBias = { ...weights };
  delete noBias["logits/bias"];
  assert.throws(make(noBias), /model.json lacks weights \['logits\/bias'\]/);
  const noBars = part(read, { bars: false }).network;
  assert.throws(make(weights, noBars),
    /weights the network does not use: \['bar_embedding\/embeddings'\]/);
  const [units, width] = [network.rnn_size, network.embedding_size];
  assert.throws(make({ ...weights, "degree_logits/kernel": zeros([units, 12]) }),
    /weight degree_logits\/kernel has shape \[24, 12\], the network needs \[24, 24\]/);
  assert.throws(make({ ...weights, "bar_embedding/embeddings": zeros([32, width]) }),
    /weight bar_embedding\/embeddings has shape \[32, 12\], the network needs \[64, 12\]/);
  const before = tf.memory().numTensors;
  assert.throws(make(weights, { ...network, num_layers: network.num_layers + 1 }),
    /lacks weights \['lstm_2\/lstm_cell\/kernel'/);
  assert.equal(tf.memory().numTensors, before); // refused before any tensor is made
  new Stepper(weights, network, codec).dispose(); // what the loader makes
});

test("refuses a network it cannot run with its codec", () => {
  const read = readFolder("none");
  const { weights, network, codec } = read;
  const v1 = readFolder("v1").codec;
  assert.throws(() => new Stepper(weights, network, v1),
    /the codec has \d+ tokens, the network 175/);
  for (const unkeyed of [{ keys: false, bars: false }, { keys: false, degrees: false }]) {
    const { weights: w, network: n } = part(read, unkeyed); // degree logits or bar table alone
    assert.ok(n.degrees || n.bar_rows);
    assert.throws(() => new Stepper(w, n, codec),
      /degree logits and a bar table need a key table; the network has none/);
  }
  const width = network.embedding_size, units = network.rnn_size;
  assert.throws(() => new Stepper({ ...weights, "key_embedding/embeddings": zeros([24, width]) },
    { ...network, key_rows: 24 }, codec), /24 key rows; the codec's KEY tokens need 25/);
  assert.throws(() => new Stepper({ ...weights, "degree_logits/kernel": zeros([units, 12]),
    "degree_logits/bias": zeros([12]) }, { ...network, degrees: 12 }, codec),
  /12 degree logits and 64 bar rows: each must be 0 or 24, 64/);
  const noBar = Object.assign(Object.create(codec), { barId: null });
  assert.throws(() => new Stepper(weights, network, noBar),
    /the network counts bars, but the codec has no BAR token/);
});
