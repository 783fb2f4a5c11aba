"""Benchmark harmonizing a 32-note melody in headless Chromium on the wasm backend.

The issue's target: harmonizing a 32-note melody takes at most 1 s in the
browser on this machine, wasm backend. The melody is the top line (the
soprano) of a held-out chorale, the first of the shipped model's test songs
(its split.json) unless ``--melody-file`` names another .mid, cut to its first
``--notes`` notes; it goes to the page as web/src/files/midifile.js readSong would
give it, and the page (bench/harmonize_page.js, bundled here with esbuild)
loads the model with web/src/worker/model.js, takes the melody with
web/src/mirror/harmony.js's melodyLine and times ``--runs`` calls of harmonize
(seeds 0, 1, ...; temperature 1, top-p 0.95), each from the model's reset to
the ids.

Prints the model's load time, the first harmonization (the wasm kernels'
first use) and the median, min and max of all runs, the notes written and
tokens, and the target with ok / MISSED. Needs Chromium (scripts/headless.py
finds it) and Node's esbuild (npm ci).

Usage: ``python bench/harmonize.py [--model site/models/chorales] [--melody-file F.mid]
[--notes 32] [--runs 5]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import headless  # noqa: E402  (scripts/headless.py)

TARGET_MS = 1000
WASM = ROOT / "node_modules" / "@tensorflow" / "tfjs-backend-wasm" / "dist"


def held_out_chorale(model: Path) -> Path:
    """The first test song of the model's split, from the built-in corpus's export."""
    from trainer.config import DataConfig
    from trainer.music.corpus import builtin_folder

    split = json.loads((model / "split.json").read_text())
    data = DataConfig(corpus="chorales")
    folder, _ = builtin_folder("chorales", data.resolved_cache_dir(), 1, print)
    return folder / split["test"][0]


def song_of(path: Path) -> dict:
    """readSong's shape of a MIDI file: {notes [{start, end, pitch}] in beats, meters, key}."""
    from trainer.music.midi_io import read_song

    song = read_song(path)
    return {"notes": [{"start": float(s), "end": float(e), "pitch": float(p)}
                      for s, e, p in song.notes],
            "meters": [[float(b), int(n), int(d)] for b, n, d in song.meters],
            "key": None if song.key is None else [int(song.key[0]), str(song.key[1])]}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=ROOT / "site" / "models" / "chorales")
    p.add_argument("--melody-file", type=Path, help="a .mid whose top line is the melody "
                                                    "(default: the model's first test song)")
    p.add_argument("--notes", type=int, default=32)
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args(argv)
    from playwright.sync_api import sync_playwright

    melody_file = args.melody_file or held_out_chorale(args.model)
    page_dir = Path(tempfile.mkdtemp(prefix="cadenza-bench-harmonize-"))
    subprocess.run([str(ROOT / "node_modules/.bin/esbuild"), "bench/harmonize_page.js",
                    "--bundle", "--format=iife", f"--outfile={page_dir / 'bench.js'}",
                    "--log-level=error"], cwd=ROOT, check=True)
    root = Path(tempfile.mkdtemp(prefix="cadenza-bench-"))
    for name, folder in {"wasm": WASM, "model": args.model, "page": page_dir}.items():
        (root / name).symlink_to(folder.resolve())
    (root / "index.html").write_text('<!doctype html><link rel="icon" href="data:,">'
                                    '<script src="page/bench.js"></script>')
    server, base = headless.serve(root)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(headless.CHROMIUM),
                                     args=headless.FLAGS)
        page = browser.new_page()
        errors = []
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.goto(base)
        r = page.evaluate("([m, w, s, o]) => benchHarmonize(m, w, s, o)",
                          [f"{base}model/", f"{base}wasm/", song_of(melody_file),
                           {"notes": args.notes, "runs": args.runs}])
        browser.close()
    server.shutdown()
    print(report(r, melody_file, errors))


def report(r: dict, melody_file: Path, errors: list[str]) -> str:
    runs = r["results"]
    ms = [x["ms"] for x in runs]
    median = statistics.median(ms)
    verdict = "ok" if median <= TARGET_MS else "MISSED"
    lines = [
        f"melody: the first {r['melody']} notes of the top line of {melody_file.name} "
        f"(key {r['key']}, meter {r['meter']}); backend {r['backend']}",
        f"  model load              {r['loadMs']:8.0f} ms",
        f"  first harmonization     {ms[0]:8.0f} ms   (the kernels' first use)",
        f"  harmonize, {len(ms)} runs      median {median:6.0f} ms, min {min(ms):.0f}, "
        f"max {max(ms):.0f}   target <= {TARGET_MS} ms: {verdict}",
        "  per run (seed: ms, notes written beneath the melody, tokens, fallbacks): "
        + "; ".join(f"{x['seed']}: {x['ms']:.0f}, {x['notes'] - r['melody']}, {x['tokens']}, "
                    f"{x['fallbacks']}" for x in runs),
        f"  ms per token            {sum(ms) / sum(x['tokens'] for x in runs):8.2f}",
        f"  tensors left over       {r['leftover']:8d}",
    ]
    if errors:
        lines.append(f"  console errors: {errors}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
