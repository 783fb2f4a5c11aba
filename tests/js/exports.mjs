// An export folder read from disk as adapting needs it (not a test file: node --test
// runs only *.test.mjs): its weights by name, network and codec, decoded as the
// browser decodes them (web/src/mirror/weights.js), without the browser's fetch.
// Shared by tests/js/adapt.test.mjs, tests/js/stepper.test.mjs and bench/adapt_node.mjs.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Codec } from "../../web/src/mirror/codec.js";
import { checkNetwork } from "../../web/src/mirror/network.js";
import { decodeWeights } from "../../web/src/mirror/weights.js";

/** {weights, network, codec, config} of the export folder at `folder` (a path). */
export function readExport(folder) {
  const json = (file) => JSON.parse(readFileSync(join(folder, file), "utf8"));
  const [config, model, codec] = [json("config.json"), json("model.json"),
    new Codec(json("vocab.json"))];
  const network = checkNetwork(model, config, Boolean(codec.ranges.KEY), codec.barId !== null);
  const weights = decodeWeights(model.weightsManifest.map((g) => ({ weights: g.weights,
    bytes: new Uint8Array(Buffer.concat(g.paths.map((p) => readFileSync(join(folder, p))))) })));
  return { weights, network, codec, config };
}
