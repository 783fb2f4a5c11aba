"""mkdocs hook: build the site's generated assets before mkdocs reads the docs.

* ``site/assets/bundle/`` and ``site/assets/wasm/``: ``node scripts/bundle.mjs``,
  run when an output is missing or older than ``web/src/``, the bundler or
  ``package-lock.json``. (Rebuilding only when stale also keeps ``mkdocs
  serve`` from rebuilding forever on its own output.)
* ``site/assets/piano/``: committed (rendered once by ``scripts/render_piano.py``),
  so the build needs no fluidsynth; a missing ``samples.json`` stops the build
  saying how to get it back.

``mkdocs serve`` also watches ``web/src/``, so editing the JavaScript
rebundles and reloads. A failing step stops the build with its message.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

from mkdocs.exceptions import PluginError

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [ROOT / "web" / "src", ROOT / "scripts" / "bundle.mjs", ROOT / "package-lock.json"]
BUNDLE = ROOT / "site" / "assets" / "bundle"
OUTPUTS = [BUNDLE / "cadenza.js", BUNDLE / "worker.js", BUNDLE / "reader.js",
           ROOT / "site" / "assets" / "wasm" / "tfjs-backend-wasm-simd.wasm"]
PIANO = ROOT / "site" / "assets" / "piano"
log = logging.getLogger("mkdocs.hooks.build")


def newest(paths: list[Path]) -> float:
    """Latest modification time of the files (searched recursively) in paths."""
    files = [f for p in paths for f in ([p] if p.is_file() else p.rglob("*")) if f.is_file()]
    return max((f.stat().st_mtime for f in files), default=0.0)


def bundle_is_stale() -> bool:
    if not all(p.exists() for p in OUTPUTS):
        return True
    return newest(SOURCES) > min(p.stat().st_mtime for p in OUTPUTS)


def run(command: list[str], what: str) -> None:
    """Run command in the repository root; a failure stops the build with its output."""
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise PluginError(f"{what} failed ({' '.join(command)}):\n{proc.stdout}{proc.stderr}")
    log.info(proc.stdout.strip())


def on_pre_build(config) -> None:
    if bundle_is_stale():
        node = shutil.which("node")
        if node is None:
            raise PluginError("node is not installed; the site's JavaScript needs Node 20 "
                              "(then `npm ci`)")
        run([node, "scripts/bundle.mjs"], "bundling the JavaScript")
    if not (PIANO / "samples.json").exists():
        raise PluginError(f"{PIANO / 'samples.json'} is missing: the piano samples are "
                          "committed (git checkout -- site/assets/piano), or re-render them "
                          "with scripts/render_piano.py (needs fluidsynth and the FluidR3 GM "
                          "soundfont)")


def on_serve(server, config, builder):
    server.watch(str(ROOT / "web" / "src"))
    return server
