// What the loader tests share (not a test file: node --test runs only
// *.test.mjs): export folders served over HTTP as a browser fetches them, and
// how far a loaded model's probabilities drift from its parity.json.

import { after, before } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import { extname, join, normalize } from "node:path";
import { drift as probabilityDrift, softmax } from "../../web/src/mirror/storage.js";
import { loadComposer } from "../../web/src/worker/model.js";

export const ROOT = new URL("../..", import.meta.url).pathname;
export const TEST_MODELS = join(ROOT, "build/test-models");

/** Fail at once, saying how to make them, where the test models are missing. */
export function needTestModels(...names) {
  for (const name of names) {
    assert.ok(existsSync(join(TEST_MODELS, name, "model.json")), `build/test-models/${name} ` +
      "is missing: run `python scripts/make_test_models.py --out build/test-models` first");
  }
}

/**
 * Serve files over HTTP on a free port of 127.0.0.1 from the suite's `before`
 * until its `after` (node:test hooks of the suite this is called in): `file`
 * maps a URL's path to a file's (404 where that cannot be read). Returns
 * {base}, the server's URL once `before` has run.
 */
export function serveFiles(file) {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname));
    let body;
    try {
      body = readFileSync(file(path));
    } catch {
      return res.writeHead(404).end();
    }
    const type = extname(path) === ".json" ? "application/json" : "application/octet-stream";
    res.writeHead(200, { "content-type": type }).end(body);
  });
  const served = { base: null };
  before(async () => {
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    served.base = `http://127.0.0.1:${server.address().port}`;
  });
  after(() => server.close());
  return served;
}

/** The parity.json of the export folder `folder` (a path on disk). */
export function parityOf(folder) {
  return JSON.parse(readFileSync(join(folder, "parity.json"), "utf8"));
}

/**
 * Load the export at `url`, step it through parity.prime and return the
 * largest of each step's max |p - q| and KL(p || q), p the Keras
 * probabilities, q the loaded model's; the model is disposed after.
 */
export async function drift(url, parity) {
  const composer = await loadComposer(url);
  composer.reset();
  const got = parity.prime.map((token) => softmax(composer.step(token)));
  composer.dispose();
  return probabilityDrift(parity.probabilities, got);
}
