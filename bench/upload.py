"""How long the Compose page's main thread is busy while a huge MIDI file is read.

Builds the site (``mkdocs build`` into a temporary folder), opens the Compose page in
headless Chromium, and uploads a MIDI file of --notes notes as the song's start and as
a melody. A PerformanceObserver records every long task (50 ms and more) on the page's
thread from the upload until the page says how many notes the file holds; prints the
longest, against the 200 ms target, and the wall time until then. The file is parsed
on the reader's worker (web/src/worker/reader.js), and only its first notes come back.

Usage: ``python bench/upload.py [--notes 100000]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests"))
import headless  # noqa: E402  (scripts/headless.py)

TARGET_MS = 200
COMPOSE = "[data-cadenza=compose]"
WATCH = """window.__long = []; new PerformanceObserver((list) => {
  for (const e of list.getEntries()) window.__long.push(e.duration); })
  .observe({ type: 'longtask', buffered: false });"""


def huge_file(path: Path, notes: int) -> Path:
    """A one-track piano file of ``notes`` notes, four a beat, written with mido (fast)."""
    import mido

    track = mido.MidiTrack()
    for i in range(notes):
        pitch = 48 + (i * 7) % 36
        track.append(mido.Message("note_on", note=pitch, velocity=80, time=0 if i else 0))
        track.append(mido.Message("note_off", note=pitch, velocity=0, time=120))
    midi = mido.MidiFile(ticks_per_beat=480)
    midi.tracks.append(track)
    midi.save(path)
    return path


def measure(page, what: str, selector: str, path: Path, done: str) -> str:
    """The line for ``what``: the longest main-thread task and the seconds from choosing
    ``path`` in ``selector`` until ``done`` (a JavaScript expression) holds."""
    page.evaluate("window.__long = []")
    t0 = time.perf_counter()
    page.set_input_files(selector, str(path))
    page.wait_for_function(done, timeout=120_000)
    seconds = time.perf_counter() - t0
    page.wait_for_timeout(200)  # let the observer deliver the last entries
    longest = max(page.evaluate("window.__long"), default=0.0)
    return (f"{what}: longest main-thread task {longest:.0f} ms (target <= {TARGET_MS} ms: "
            f"{'ok' if longest <= TARGET_MS else 'MISSED'}), read in {seconds:.1f} s")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--notes", type=int, default=100_000)
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="cadenza-bench-upload-"))
    path = huge_file(work / "huge.mid", args.notes)
    print(f"{path.name}: {args.notes:,} notes, {path.stat().st_size:,} bytes")
    site = work / "site"
    server, url = headless.serve(site)
    subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                   cwd=ROOT, check=True, capture_output=True,
                   env={**os.environ, "CADENZA_SITE_URL": url, "NO_MKDOCS_2_WARNING": "1"})
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(headless.CHROMIUM), args=headless.FLAGS)
        page = browser.new_page(bypass_csp=True)  # Playwright's polling needs eval
        page.add_init_script(WATCH)
        page.goto(f"{url}compose/")
        page.wait_for_function(f"document.querySelector('{COMPOSE}').dataset.state === 'idle'")
        page.select_option("[data-cz=prime]", "upload")
        status = "document.querySelector('[data-cz=status]').textContent"
        print(measure(page, "as the song's start", "[data-cz=file]", path,
                      f"{status}.includes('{args.notes:,} notes')"))
        melody = "document.querySelector('[data-cz=rec-status]').textContent"
        print(measure(page, "as a melody", "[data-cz=melody-file]", path,
                      f"/Your melody|no notes|could not/.test({melody})")
              + f": {page.evaluate(melody)[:80]}")
        browser.close()
    server.shutdown()


if __name__ == "__main__":
    main()
