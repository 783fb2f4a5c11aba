// A tiny test model adapted and downloaded as a visitor would (not a test file: node
// --test runs only *.test.mjs): build/test-models/MODEL adapted to the usable files of
// tests/vectors/prepare.json (its unusable ones listed as skipped), written as an
// export folder, zipped, and read back from the zip.
// Run as `node tests/js/write_adapted.mjs OUT_DIR [MODEL]`, it writes the unzipped
// folder into OUT_DIR: tests/test_adapted_export.py reads it with the Python readers.
// Shared by tests/js/adapt_export.test.mjs.

import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import * as tf from "@tensorflow/tfjs";
import { unzipSync } from "fflate";
import { adapt } from "../../web/src/adapt/adapt.js";
import { exportAdapted } from "../../web/src/adapt/export.js";
import { zipExport } from "../../web/src/adapt/zip.js";
import { readSongs, splitSongs } from "../../web/src/adapt/songs.js";
import { readExport } from "./exports.mjs";
import { TEST_MODELS } from "./fixtures.mjs";

const PREPARE = new URL("../vectors/prepare.json", import.meta.url);
export const NAME = "Yours: prepare's vectors";
export const FOLDER = "yours-prepare"; // the folder inside the zip
// a step this large moves the output layers within one epoch on these four songs
const OPTIONS = { learningRate: 2e-2, maxEpochs: 3, batchSize: 64, patience: 3 };

/**
 * {base, baseFiles, result, songs, files, zip, unzipped} of build/test-models/`model`
 * adapted: the base as exports.mjs reads it, its files, adapt()'s result, the song
 * names, exportAdapted's files, the zip's bytes and the files read back from it.
 */
export async function adaptedExport(model) {
  await tf.setBackend("cpu");
  const folder = join(TEST_MODELS, model);
  const base = readExport(folder);
  const baseFiles = Object.fromEntries(readdirSync(folder).map((f) =>
    [f, new Uint8Array(readFileSync(join(folder, f)))]));
  const files = JSON.parse(readFileSync(PREPARE)).sets[0].cases.map((c) => ({ name: c.name,
    bytes: new Uint8Array(Buffer.from(c.base64, "base64")) }));
  const { songs, skipped } = readSongs(files, base.codec);
  const parts = splitSongs(songs);
  const result = await adapt(base, parts, OPTIONS);
  const names = { train: parts.train.map((s) => s.name),
    heldOut: parts.heldOut.map((s) => s.name), skipped };
  const written = await exportAdapted(baseFiles, result, NAME, names);
  const zip = zipExport(written, FOLDER);
  const unzipped = {};
  for (const [path, bytes] of Object.entries(unzipSync(zip))) {
    if (!path.endsWith("/")) unzipped[path.slice(FOLDER.length + 1)] = bytes;
  }
  return { base, baseFiles, result, songs: names, files: written, zip, unzipped };
}

/** Write `files` ({name: bytes}) into the folder `out`. */
export function writeFolder(out, files) {
  mkdirSync(out, { recursive: true });
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(out, name), bytes);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [out, model = "uint8-column"] = process.argv.slice(2);
  if (!out) throw new Error("usage: node tests/js/write_adapted.mjs OUT_DIR [MODEL]");
  const { unzipped, result } = await adaptedExport(model);
  writeFolder(out, unzipped);
  console.log(JSON.stringify({ nllBefore: result.nllBefore, nllAfter: result.nllAfter,
    bestEpoch: result.bestEpoch }));
}
