// Lighthouse (mobile, its default simulated slow 4G and 4x CPU slowdown) on
// the built site's Home and Compose pages: Performance and Accessibility.
//
//   .venv/bin/python -m mkdocs build --strict     # into build/site
//   node bench/lighthouse.mjs [--site build/site] [--runs 3] [--page compose/ ...]
//
// Serves the folder on 127.0.0.1 with gzip (as GitHub Pages serves it), drives
// the Chromium of scripts/headless.py with its flags, prints each page's
// median scores of --runs runs and the bytes the page moved, and exits 1 when
// a page misses Performance >= 95 or Accessibility 100. Needs `npm ci` (the
// lighthouse dev dependency) and the Python environment (.venv).

import { execFileSync } from "node:child_process";
import { createReadStream, existsSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { extname, join, normalize } from "node:path";
import { createGzip } from "node:zlib";
import * as chromeLauncher from "chrome-launcher";
import lighthouse from "lighthouse";

const ROOT = new URL("..", import.meta.url).pathname;
const TARGETS = { performance: 95, accessibility: 100 };
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css",
  ".json": "application/json", ".svg": "image/svg+xml", ".png": "image/png",
  ".mp3": "audio/mpeg", ".wasm": "application/wasm", ".bin": "application/octet-stream",
  ".mid": "audio/midi", ".txt": "text/plain" };
const COMPRESS = new Set([".html", ".js", ".css", ".json", ".svg", ".txt", ".wasm"]);

function args() {
  const argv = process.argv.slice(2);
  const get = (flag, fallback) => {
    const i = argv.indexOf(flag);
    return i < 0 ? fallback : argv[i + 1];
  };
  const pages = argv.flatMap((a, i) => (argv[i - 1] === "--page" ? [a] : []));
  return { site: join(ROOT, get("--site", "build/site")), runs: Number(get("--runs", 3)),
    pages: pages.length ? pages : ["", "compose/"] };
}

/** A static server of folder with gzip for text and wasm; resolves to its URL. */
function serve(folder) {
  const server = createServer((req, res) => {
    let path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname));
    if (path.endsWith("/")) path += "index.html";
    const file = join(folder, path);
    if (!file.startsWith(folder) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end("not found");
      return;
    }
    const type = TYPES[extname(file)] ?? "application/octet-stream";
    const gzip = COMPRESS.has(extname(file)) && /gzip/.test(req.headers["accept-encoding"] ?? "");
    res.writeHead(200, { "Content-Type": type, "Cache-Control": "max-age=600",
      ...(gzip ? { "Content-Encoding": "gzip" } : {}) });
    const stream = createReadStream(file);
    (gzip ? stream.pipe(createGzip()) : stream).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () =>
    resolve({ server, url: `http://127.0.0.1:${server.address().port}/` })));
}

/** The browser and flags of scripts/headless.py (one place for both). */
function headless() {
  const code = "import json, sys; sys.path.insert(0, 'scripts'); import headless; " +
    "print(json.dumps([str(headless.find_browser()), headless.FLAGS]))";
  const [chromePath, flags] = JSON.parse(execFileSync(join(ROOT, ".venv/bin/python"),
    ["-c", code], { cwd: ROOT, encoding: "utf8" }));
  return { chromePath, flags };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const { site, runs, pages } = args();
  if (!existsSync(join(site, "index.html"))) {
    console.error(`error: no built site in ${site} (run mkdocs build first)`);
    process.exit(2);
  }
  const { server, url } = await serve(site);
  const { chromePath, flags } = headless();
  const chrome = await chromeLauncher.launch({ chromePath, chromeFlags: flags });
  let missed = false;
  try {
    for (const page of pages) {
      const results = [];
      for (let i = 0; i < runs; i++) {
        const { lhr } = await lighthouse(`${url}${page}`, { port: chrome.port, output: "json",
          logLevel: "error", onlyCategories: ["performance", "accessibility"] });
        results.push(lhr);
      }
      const score = (name) => median(results.map((r) =>
        Math.round(r.categories[name].score * 100)));
      const perf = score("performance");
      const a11y = score("accessibility");
      const last = results.at(-1);
      const bytes = last.audits["total-byte-weight"].numericValue;
      const metrics = ["first-contentful-paint", "largest-contentful-paint", "total-blocking-time",
        "cumulative-layout-shift"].map((id) => `${id.replace(/-/g, " ")} ` +
        `${last.audits[id].displayValue}`).join(", ");
      const failing = Object.values(last.audits).filter((a) => a.score !== null && a.score < 1 &&
        last.categories.accessibility.auditRefs.some((r) => r.id === a.id && r.weight > 0));
      const lcp = last.audits["largest-contentful-paint-element"]?.details?.items?.[0]?.items?.[0]
        ?.node?.snippet ?? "?";
      const good = perf >= TARGETS.performance && a11y >= TARGETS.accessibility;
      missed ||= !good;
      console.log(`${page || "home"}: Performance ${perf}, Accessibility ${a11y} (median of ` +
        `${runs}; mobile) ${good ? "ok" : "MISSED"}; ${(bytes / 1024).toFixed(0)} KiB moved; ` +
        `${metrics} (LCP element ${lcp.slice(0, 80)})` +
        (failing.length ? `; failing: ${failing.map((a) => a.id).join(", ")}` : ""));
    }
  } finally {
    await chrome.kill();
    server.close();
  }
  process.exit(missed ? 1 : 0);
}

main();
