// Bundle the site's JavaScript with esbuild and copy tfjs's WebAssembly files.
//
//   node scripts/bundle.mjs [--dev]
//
// Writes (both folders are git-ignored build output):
//   site/assets/bundle/cadenza.js  the page script (ES module; mkdocs loads it
//                                  through extra_javascript) and its lazily
//                                  imported chunks (compose page, home player)
//   site/assets/bundle/worker.js   the Web Worker that loads models and
//                                  generates (classic script: tfjs + wasm)
//   site/assets/bundle/reader.js   the Web Worker that reads uploaded MIDI files
//   site/assets/bundle/adapter.js  the Web Worker that adapts a model to the visitor's
//                                  files ("Make it yours": tfjs with its gradients,
//                                  on wasm, cpu or webgl)
//   site/assets/wasm/*.wasm        tfjs-backend-wasm binaries (setWasmPaths)
// --dev skips minification and writes source maps.

import { build } from "esbuild";
import { copyFileSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";

const ROOT = new URL("..", import.meta.url).pathname;
const OUT = join(ROOT, "site/assets/bundle");
const WASM_OUT = join(ROOT, "site/assets/wasm");
const WASM_DIST = join(ROOT, "node_modules/@tensorflow/tfjs-backend-wasm/dist");
const dev = process.argv.includes("--dev");

// web/src/mirror/tfjs-io.js hands on tf.io.decodeWeights; the bundle takes the tfjs-core
// module that defines it instead, without the rest of tf.io (see that file)
const tfjsIo = { name: "tfjs-io", setup(b) {
  b.onResolve({ filter: /\/tfjs-io\.js$/ }, () => ({
    path: join(ROOT, "node_modules/@tensorflow/tfjs-core/dist/io/io_utils.js") }));
} };

const common = {
  bundle: true, minify: !dev, sourcemap: dev, target: "es2020", logLevel: "warning",
  legalComments: "linked", // licence texts go to *.LEGAL.txt beside each file
  plugins: [tfjsIo],
};

rmSync(OUT, { recursive: true, force: true });
await build({ ...common, entryPoints: [join(ROOT, "web/src/page/cadenza.js")], outdir: OUT,
  format: "esm", splitting: true, chunkNames: "[name]-[hash]" });
await build({ ...common, entryPoints: [join(ROOT, "web/src/worker/worker.js")],
  outfile: join(OUT, "worker.js"), format: "iife" });
await build({ ...common, entryPoints: [join(ROOT, "web/src/worker/adapter.js")],
  outfile: join(OUT, "adapter.js"), format: "iife" });
await build({ ...common, entryPoints: [join(ROOT, "web/src/worker/reader.js")],
  outfile: join(OUT, "reader.js"), format: "iife" });

mkdirSync(WASM_OUT, { recursive: true });
for (const name of readdirSync(WASM_DIST).filter((n) => n.endsWith(".wasm"))) {
  copyFileSync(join(WASM_DIST, name), join(WASM_OUT, name));
}

const kib = (dir) => readdirSync(dir).map((n) => `${n} ${(statSync(join(dir, n)).size / 1024)
  .toFixed(0)} KiB`).join(", ");
console.log(`bundled ${OUT}: ${kib(OUT)}`);
console.log(`copied ${WASM_OUT}: ${kib(WASM_OUT)}`);
