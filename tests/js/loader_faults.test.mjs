// Issue 12, case 11: the browser loader refuses what converter/read.py refuses,
// with the same reasons (tests/test_faults_export.py has the Python side).
// Each case damages a copy of build/test-models/float16 (a codec v2 export:
// key table, degree logits and bar-count table after the dense layer) and
// loads it over HTTP; no weight is ever left at a random value.

import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { appendFileSync, cpSync, mkdtempSync, readFileSync, statSync, truncateSync,
  unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { sha256 } from "../../web/src/common/digest.js";
import { MAX_KL } from "../../web/src/mirror/storage.js";
import { loadComposer } from "../../web/src/worker/model.js";
import { FORMAT_VERSION, READABLE } from "../../web/src/worker/verify.js";
import { needTestModels, serveFiles, TEST_MODELS } from "./fixtures.mjs";

const SOURCE = join(TEST_MODELS, "float16");
const SHARD = "group1-shard1of1.bin";
const scratch = mkdtempSync(join(tmpdir(), "cadenza-faults-"));

before(() => needTestModels("float16"));
const http = serveFiles((path) => join(scratch, path));

/** model.json's entry of the weight `name`. */
const entry = (m, name) => m.weightsManifest[0].weights.find((w) => w.name === name);

const editJson = (path, change) => {
  const obj = JSON.parse(readFileSync(path, "utf8"));
  change(obj);
  writeFileSync(path, JSON.stringify(obj));
};

/** Make config.json describe the shard as it is now (a consistent, wrong export). */
function rehash(folder) {
  const data = readFileSync(join(folder, SHARD));
  editJson(join(folder, "config.json"), (c) => {
    const sha256 = createHash("sha256").update(data).digest("hex");
    c.shards[SHARD] = { bytes: data.length, sha256 };
  });
}

function rewriteShard(folder, change) {
  const data = readFileSync(join(folder, SHARD));
  change(data);
  writeFileSync(join(folder, SHARD), data);
}

/** Swap the bytes of the first two float16 entries of one shape (layer 2's kernels). */
function swapSameShape(folder) {
  const seen = new Map();
  let at = 0;
  for (const w of JSON.parse(readFileSync(join(folder, "model.json"))).weightsManifest[0]
    .weights) {
    assert.equal(w.quantization?.dtype, "float16");
    const size = 2 * w.shape.reduce((a, b) => a * b, 1);
    const key = JSON.stringify(w.shape);
    if (seen.has(key)) {
      const other = seen.get(key);
      rewriteShard(folder, (d) => {
        const a = Buffer.from(d.subarray(other, other + size));
        d.copy(d, other, at, at + size);
        a.copy(d, at);
      });
      return rehash(folder);
    }
    seen.set(key, at);
    at += size;
  }
  throw new Error("no two entries of one shape");
}

// damage -> the reason the loader must give (as tests/test_faults_export.py's DAMAGE)
const size = statSync(join(SOURCE, SHARD)).size;
const DAMAGE = {
  "no weightsManifest": [(f) => editJson(join(f, "model.json"), (m) => delete m.weightsManifest),
    /model.json has no weightsManifest/],
  "shard padded by 4 KB": [(f) => appendFileSync(join(f, SHARD), Buffer.alloc(4096)),
    new RegExp(`${SHARD} has ${size + 4096} bytes, config.json says ${size}`)],
  "shard truncated by 100 bytes": [(f) => truncateSync(join(f, SHARD), size - 100),
    new RegExp(`${SHARD} has ${size - 100} bytes, config.json says ${size}`)],
  "shard truncated, hashes updated": [(f) => {
    truncateSync(join(f, SHARD), size - 100);
    rehash(f);
  }, new RegExp(`weight shards hold ${size - 100} bytes, too few for `)],
  "bit-flipped shard": [(f) => rewriteShard(f, (d) => { d[d.length >> 1] ^= 0x10; }),
    new RegExp(`${SHARD} is damaged: its SHA-256 differs`)],
  "NaN weight, hashes updated": [(f) => {
    rewriteShard(f, (d) => d.writeUInt16LE(0x7e00, 0)); // float16 NaN: the first embedding weight
    rehash(f);
  }, /weight embedding\/embeddings decodes to NaN/],
  "two entries of one shape swapped, hashes updated": [swapSameShape,
    /the weights do not give the probabilities in parity.json/],
  "shard padded, hashes updated": [(f) => {
    appendFileSync(join(f, SHARD), Buffer.alloc(4096));
    rehash(f);
  }, new RegExp(`weight shards hold ${size + 4096} bytes, the manifest describes ${size}`)],
  "unknown storage": [(f) => editJson(join(f, "model.json"), (m) => {
    m.weightsManifest[0].weights[0].quantization = { dtype: "uint16", min: 0, scale: 1 };
  }), /has an unsupported storage/],
  "steps_per_beat disagrees": [(f) => editJson(join(f, "vocab.json"),
    (v) => { v.params.steps_per_beat = 8; }), /disagree on steps_per_beat \(8 vs 4\)/],
  "shard hashes missing": [(f) => editJson(join(f, "config.json"), (c) => delete c.shards),
    /lists no weight shards/],
  "shard missing": [(f) => unlinkSync(join(f, SHARD)), new RegExp(`${SHARD}: HTTP 404`)],
  "another shard listed": [(f) => editJson(join(f, "config.json"), (c) => {
    c.shards["group2-shard1of1.bin"] = c.shards[SHARD];
  }), /are not the ones config.json lists/],
  "a GRU network": [(f) => editJson(join(f, "model.json"), (m) => { m.network.cell = "gru"; }),
    /model.json describes an unsupported network \{"bar_rows": 64, "cell": "gru", /],
  "no network": [(f) => editJson(join(f, "model.json"), (m) => delete m.network),
    /describes an unsupported network null/],
  "network of other sizes": [(f) => editJson(join(f, "model.json"), (m) => {
    m.network.rnn_size = 32;
  }), /network disagrees with config.json on rnn_size \(32 vs 24\)/],
  "key table renamed": [(f) => editJson(join(f, "model.json"), (m) => {
    entry(m, "key_embedding/embeddings").name = "keys";
  }), /model.json lacks weights \['key_embedding\/embeddings'\]/],
  "a weight reshaped": [(f) => editJson(join(f, "model.json"), (m) => {
    entry(m, "logits/bias").shape = [25, 7]; // as many values
  }), /weight logits\/bias has shape \[25, 7\], the network needs \[175\]/],
  "degree weights renamed": [(f) => editJson(join(f, "model.json"), (m) => {
    entry(m, "degree_logits/kernel").name = "degrees";
  }), /model.json lacks weights \['degree_logits\/kernel'\]/],
  "bar table reshaped": [(f) => editJson(join(f, "model.json"), (m) => {
    entry(m, "bar_embedding/embeddings").shape = [12, 64];
  }), /weight bar_embedding\/embeddings has shape \[12, 64\], the network needs \[64, 12\]/],
  "degrees of another width": [(f) => editJson(join(f, "model.json"), (m) => {
    m.network.degrees = 12;
  }), /describes an unsupported network .* bar_rows 0 or 64, sounding 0 or 88/],
  "repeating neither true nor false": [(f) => editJson(join(f, "model.json"), (m) => {
    m.network.repeating = 1;
  }), /describes an unsupported network .* and repeating true or false/],
  "degrees without key rows": [(f) => editJson(join(f, "model.json"), (m) => {
    m.network.key_rows = 0;
  }), /scores scale degrees or counts bars but reads no key/],
  "degree weights, no degrees": [(f) => editJson(join(f, "model.json"), (m) => {
    m.network.degrees = 0;
  }), /has weights the network does not use: \['degree_logits\/kernel', 'degree_logits\/bias'\]/],
  "form.json of other features": [(f) => {
    writeFileSync(join(f, "form.json"), JSON.stringify({ format: "cadenza-form",
      distances: [1], features: ["bias"], weights: [[0.5]], shift: 0 }));
    editJson(join(f, "config.json"), (c) => { c.files = [...c.files, "form.json"]; });
  }, /form.json is damaged/],
  "form.json listed, missing": [(f) => editJson(join(f, "config.json"), (c) => {
    c.files = [...c.files, "form.json"];
  }), /form.json: HTTP 404/],
  "bars, no BAR token": [(f) => {
    editJson(join(f, "vocab.json"), (v) => {
      v.params.bars = false; // as a v2 vocabulary without bars: no BAR id
      delete v.ranges.BAR;
      v.tokens[v.size - 1] = "?";
    });
    editJson(join(f, "config.json"), (c) => { c.codec.bars = false; });
  }, /counts bars, but vocab.json has no BAR token/],
};

describe("a damaged export folder is refused with its reason, leaving no tensor", () => {
  for (const [name, [damage, reason]] of Object.entries(DAMAGE)) {
    test(name, async () => {
      const slug = name.replace(/\W+/g, "-");
      cpSync(SOURCE, join(scratch, slug), { recursive: true });
      damage(join(scratch, slug));
      const tensors = tf.memory().numTensors;
      await assert.rejects(loadComposer(`${http.base}/${slug}/`), reason);
      assert.equal(tf.memory().numTensors, tensors);
    });
  }
});

test("a model loads within Python's KL of its parity file (tests/vectors/limits.json)", () => {
  const limits = JSON.parse(readFileSync(new URL("../vectors/limits.json", import.meta.url)));
  assert.equal(MAX_KL, limits.max_kl);
  assert.equal(FORMAT_VERSION, limits.format_version);
  assert.deepEqual(READABLE, limits.readable);
});

test("an intact copy loads, and its hash is the one config.json lists", async () => {
  cpSync(SOURCE, join(scratch, "intact"), { recursive: true });
  const composer = await loadComposer(`${http.base}/intact/`);
  const bytes = readFileSync(join(SOURCE, SHARD));
  assert.equal(await sha256(bytes), composer.config.shards[SHARD].sha256);
  assert.equal(await sha256(new Uint8Array()),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  composer.dispose();
});
