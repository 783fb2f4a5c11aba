"""Does a seed name the same song on every tfjs backend? (Issue 12, case 12.)

Composes --seeds songs per shipped model in headless Chromium, as the site's
worker does (web/src/worker/model.js + sampler.js), once per backend variant, each in
a fresh page:

* ``wasm``: the plain binary (no SIMD, one thread);
* ``wasm-simd``: the SIMD binary, one thread -- what the site runs: every
  current browser has WebAssembly SIMD, and GitHub Pages cannot send the
  cross-origin-isolation headers that threads need;
* ``wasm-simd-2t``, ``wasm-simd-4t``: the threaded SIMD binary with 2 and 4
  XNNPACK threads (this server sends COOP/COEP so threads can start);
* ``cpu``: tfjs's plain JavaScript backend;
* ``numpy``: the Python reader and Stepper (what ``make examples`` uses).

Prints, against ``wasm-simd``: the largest logit difference over the model's
32-step parity prime, how many songs have exactly the same tokens, and where
the others first differ; then how close the songs' sampling decisions came
to going another way (see :func:`margins`), which bounds how often a song
can differ between two backends. Usage: ``python bench/browser_determinism.py
[--models DIR] [--seeds 20] [--notes 200] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import headless  # noqa: E402  (scripts/headless.py)

REFERENCE = "wasm-simd"
VARIANTS = {  # name -> how the page starts tfjs
    "wasm": {"backend": "wasm", "simd": False, "threads": 0},
    "wasm-simd": {"backend": "wasm", "simd": True, "threads": 0},
    "wasm-simd-2t": {"backend": "wasm", "simd": True, "threads": 2},
    "wasm-simd-4t": {"backend": "wasm", "simd": True, "threads": 4},
    "cpu": {"backend": "cpu", "simd": False, "threads": 0},
}


class _Isolated(http.server.SimpleHTTPRequestHandler):
    """Static files with the headers that make a page cross-origin isolated."""

    def end_headers(self):
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        super().end_headers()

    def log_message(self, *args):
        pass


def serve(root: Path) -> str:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(_Isolated, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/"


def site_root(models: Path) -> Path:
    """A temporary root: the bundled page, the wasm binaries and the model folders."""
    root = Path(tempfile.mkdtemp(prefix="cadenza-determinism-"))
    (root / "page").mkdir()
    subprocess.run([str(ROOT / "node_modules/.bin/esbuild"), "bench/browser_determinism_page.js",
                    "--bundle", "--format=iife", f"--outfile={root / 'page' / 'bench.js'}",
                    "--log-level=error"], cwd=ROOT, check=True)
    (root / "wasm").symlink_to(ROOT / "node_modules/@tensorflow/tfjs-backend-wasm/dist")
    (root / "models").symlink_to(models.resolve())
    (root / "index.html").write_text('<!doctype html><script src="page/bench.js"></script>')
    return root


def numpy_songs(folder: Path, seeds, notes: int, temperature: float, top_p: float) -> dict:
    """The same songs and parity logits from the numpy reader and Stepper."""
    from converter.read import read_export
    from trainer.compose.sampling import generate

    export = read_export(folder)
    codec, stepper = export.codec, export.stepper()
    prime = json.loads((folder / "parity.json").read_text())["prime"]
    stepper.reset()
    logits = [stepper.step(t).tolist() for t in prime]
    tokens = []
    for seed in seeds:
        stepper.reset()
        tokens.append(generate(stepper.step, codec, [codec.bos_id], notes, temperature, 0, top_p,
                               seed).tolist())
    return {"tokens": tokens, "logits": logits}


def margins(folder: Path, seeds, notes: int, temperature: float, top_p: float) -> np.ndarray:
    """How far each sampling decision of the numpy songs was from going another way.

    Per decision, the smallest of: the draw's distance to a boundary of the
    running sum (as a fraction of the total), the top-p running sum's distance
    to ``top_p``, and the relative gap between neighbours in the probability
    order (kept ids and the first dropped one). A change of the logits by
    ``d`` moves each of these by about ``d / temperature``, so a decision can
    only differ between two backends when its margin is below that.
    """
    from converter.read import read_export
    from trainer.compose.sampling import Mulberry32, candidates, generate
    from trainer.music.grammar import Grammar

    export = read_export(folder)
    codec, stepper = export.codec, export.stepper()
    out = []
    for seed in seeds:
        stepper.reset()
        expected = generate(stepper.step, codec, [codec.bos_id], notes, temperature, 0, top_p,
                            seed).tolist()
        stepper.reset()
        rng, grammar, song = Mulberry32(seed), Grammar(codec), []
        grammar.advance(codec.bos_id)
        logits = stepper.step(codec.bos_id)
        while grammar.notes < notes and len(song) < 16 * notes:
            if song:
                logits = stepper.step(song[-1])
            mask = grammar.mask()
            order, p = candidates(logits, temperature, 0, top_p, mask)
            everyone, q = candidates(logits, temperature, 0, 1.0, mask)
            running = np.cumsum(p)
            target = rng.random() * running[-1]
            hit = np.flatnonzero(running > target)
            token = int(order[hit[0]] if len(hit) else order[-1])
            cum_q = np.cumsum(q / q.sum())
            neighbours = q[:len(p) + 1]
            gaps = (neighbours[:-1] - neighbours[1:]) / neighbours[:-1]
            out.append(min(np.abs(running - target).min() / running[-1],
                           np.abs(cum_q - top_p).min() if top_p < 1 else 1.0,
                           gaps.min() if len(gaps) else 1.0))
            if token == codec.eos_id:
                break
            song.append(token)
            grammar.advance(token)
        assert song == expected, "margins() must replay generate() exactly"
    return np.asarray(out)


def compare(ref: dict, got: dict) -> dict:
    """Logit drift on the parity prime; identical songs; first differing token of the others."""
    drift = float(np.abs(np.asarray(ref["logits"]) - np.asarray(got["logits"])).max())
    firsts = []
    for a, b in zip(ref["tokens"], got["tokens"]):
        if a != b:
            firsts.append(next((i for i, (x, y) in enumerate(zip(a, b)) if x != y),
                               min(len(a), len(b))))
    return {"max_logit_diff": drift, "same": len(ref["tokens"]) - len(firsts),
            "songs": len(ref["tokens"]), "first_difference": firsts,
            "tokens": sum(len(t) for t in ref["tokens"])}


def closeness(m: np.ndarray, drift: float, temperature: float) -> dict:
    """Figures of the decisions' margins ``m`` against the largest logit drift seen."""
    return {"decisions": len(m), "smallest_margin": float(m.min()),
            "below_1e-4": int((m < 1e-4).sum()), "below_1e-5": int((m < 1e-5).sum()),
            "largest_drift": drift, "within_drift": int((m < 2 * drift / temperature).sum())}


def report(figures: dict, close: dict) -> str:
    lines = []
    for variant, per_model in figures.items():
        for name, f in per_model.items():
            lines.append(f"  {variant:13s} {name:9s} max |logit diff| {f['max_logit_diff']:.1e}   "
                         f"same songs {f['same']:2d}/{f['songs']}   first differing token "
                         f"{sorted(f['first_difference']) or '-'}  (of {f['tokens']} tokens)")
    for name, c in close.items():
        lines.append(f"  margins {name:9s} {c['decisions']} decisions: smallest "
                     f"{c['smallest_margin']:.1e}, {c['below_1e-4']} below 1e-4, "
                     f"{c['below_1e-5']} below 1e-5; {c['within_drift']} within twice the "
                     f"largest drift ({c['largest_drift']:.1e})")
    return "\n".join(lines)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", type=Path, default=ROOT / "site" / "models")
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--notes", type=int, default=200, help="notes per song (the page's default)")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-p", type=float, default=0.95)
    p.add_argument("--variants", nargs="+", default=[*VARIANTS, "numpy"],
                   choices=[*VARIANTS, "numpy"])
    p.add_argument("--json", type=Path, help="also write every figure here")
    args = p.parse_args(argv)
    from playwright.sync_api import sync_playwright

    names = sorted(f.parent.name for f in args.models.glob("*/model.json"))
    base = serve(site_root(args.models))
    seeds = list(range(args.seeds))
    request = {"models": [f"{base}models/{n}/" for n in names], "seeds": seeds,
               "maxNotes": args.notes, "temperature": args.temperature, "topP": args.top_p,
               "wasmUrl": f"{base}wasm/"}
    runs, started = {}, {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(headless.CHROMIUM), args=headless.FLAGS)
        for variant in [v for v in args.variants if v in VARIANTS]:
            page = browser.new_page()
            page.set_default_timeout(600_000)
            page.goto(base)
            out = page.evaluate("(r) => songs(r)", {**request, **VARIANTS[variant]})
            page.close()
            started[variant] = {k: out[k] for k in ("backend", "simd", "threads",
                                                    "crossOriginIsolated")}
            runs[variant] = {n: out["models"][u] for n, u in zip(names, request["models"])}
            print(f"ran {variant}: {started[variant]}", flush=True)
        browser.close()
    if "numpy" in args.variants:
        runs["numpy"] = {n: numpy_songs(args.models / n, seeds, args.notes, args.temperature,
                                        args.top_p) for n in names}
    figures = {v: {n: compare(runs[REFERENCE][n], runs[v][n]) for n in names}
               for v in runs if v != REFERENCE}
    close = {n: closeness(margins(args.models / n, seeds, args.notes, args.temperature,
                                  args.top_p),
                          max(f[n]["max_logit_diff"] for f in figures.values()), args.temperature)
             for n in names}
    print(f"\n{args.seeds} seeds x {len(names)} models, {args.notes} notes, "
          f"T={args.temperature:g}, top-p {args.top_p:g}; against {REFERENCE} "
          f"({started.get(REFERENCE)})")
    print(report(figures, close))
    if args.json:
        args.json.write_text(json.dumps({"started": started, "figures": figures,
                                         "margins": close}, indent=1))
    return figures


if __name__ == "__main__":
    main()
