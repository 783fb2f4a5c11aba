// web/src/mirror/context.js against trainer/music/context.py: tests/vectors/context.json
// (written by scripts/make_vectors.py) holds the features on after every token of
// songs in several meters, a meter change and token soup, for a Context of every
// part and of each part alone.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Codec } from "../../web/src/mirror/codec.js";
import { Context, LOOKBACK } from "../../web/src/mirror/context.js";

const VECTORS = JSON.parse(readFileSync(new URL("../vectors/context.json", import.meta.url)));
const CODEC = new Codec(VECTORS.vocab);

test("the lookback bars are Python's", () => {
  assert.deepEqual(LOOKBACK, VECTORS.lookback);
});

test("the features after every token are Python's", () => {
  let lookedBack = 0;
  for (const [i, c] of VECTORS.cases.entries()) {
    const context = new Context(CODEC, c.sounding, c.lookback, c.repeating);
    assert.equal(context.size, c.size);
    c.tokens.forEach((token, at) => {
      context.advance(token);
      assert.deepEqual(context.active(), c.active[at], `case ${i}, token ${at}`);
    });
    lookedBack += c.active.flat().filter((f) => f >= (c.sounding ? 88 : 0)).length;
  }
  assert.ok(lookedBack > 100, "the songs look back");
  const repeats = VECTORS.cases.filter((c) => c.repeating)
    .flatMap((c) => c.active.flat().filter((f) => f >= c.size - c.lookback.length));
  assert.ok(repeats.length > 50, "the songs repeat, and the flags say so");
});
