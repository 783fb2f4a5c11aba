"""Shared fixtures: small MIDI files the tests write themselves, the tiny trained runs, and
the built site in headless Chromium (one site and one browser per test process)."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pretty_midi
import pytest

try:
    from playwright.sync_api import Browser
except ImportError:  # no browser tests without it
    Browser = None


def _bypassing_csp(method):
    """The site's Content-Security-Policy (hooks/csp.py) forbids the eval behind
    Playwright's polling (wait_for_function): browser tests see the page without it,
    unless they ask for it (bypass_csp=False), as tests/test_page_trust.py does."""
    def call(self, *args, **kwargs):
        kwargs.setdefault("bypass_csp", True)
        return method(self, *args, **kwargs)
    return call


if Browser is not None:
    Browser.new_context = _bypassing_csp(Browser.new_context)
    Browser.new_page = _bypassing_csp(Browser.new_page)


def write_song(path: Path, notes, tempo: float = 120.0, program: int = 0,
               drums: bool = False, tempo_changes=()) -> Path:
    """Write ``notes`` = [(start_beat, end_beat, pitch), ...] as a MIDI file.

    ``tempo_changes`` = [(beat, bpm), ...] after the initial ``tempo``; note
    times are given in beats and converted with that tempo map.
    """
    pm = pretty_midi.PrettyMIDI(initial_tempo=tempo, resolution=480)
    changes = [(0.0, tempo), *tempo_changes]
    if len(changes) > 1:
        # pretty_midi has no public tempo-change API; write ticks ourselves.
        scales = [(int(round(beat * pm.resolution)), 60.0 / (bpm * pm.resolution))
                  for beat, bpm in changes]
        pm._tick_scales = scales
        pm._update_tick_to_time(int(max(e for _, e, _ in notes) * pm.resolution) + 1)
    inst = pretty_midi.Instrument(program=program, is_drum=drums)
    for start, end, pitch in notes:
        inst.notes.append(pretty_midi.Note(80, int(pitch),
                                           pm.tick_to_time(int(round(start * pm.resolution))),
                                           pm.tick_to_time(int(round(end * pm.resolution)))))
    pm.instruments.append(inst)
    path.parent.mkdir(parents=True, exist_ok=True)
    pm.write(str(path))
    return path


# A four-voice phrase: chords, a rest, a held note, an eighth-note passage.
PHRASE = [
    (0, 1, 72), (0, 1, 67), (0, 1, 64), (0, 2, 48),
    (1, 1.5, 74), (1.5, 2, 76), (1, 2, 65), (1, 2, 62),
    (2, 4, 72), (2, 4, 64), (2, 4, 55),
    # beat 4-5 is a rest
    (5, 6, 71), (5, 6, 62), (5, 6, 43),
    (6, 8, 72), (6, 8, 64), (6, 8, 48),
]


@pytest.fixture
def phrase_file(tmp_path) -> Path:
    return write_song(tmp_path / "phrase.mid", PHRASE)


# --- tiny real runs (shared by the training and converter tests) -------------

# The fixtures that train a tiny model (here and in test_faults.py): a test that uses one
# trains, or needs what was trained, so it is marked slow (make check leaves it out).
TRAINING_FIXTURES = {"tiny_runs", "trained", "two_epochs"}


@pytest.hookimpl(tryfirst=True)  # before -m selects by marker
def pytest_collection_modifyitems(config, items):
    for item in items:
        if TRAINING_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
        if item.get_closest_marker("browser"):  # pytest -n: one site build and one browser
            item.add_marker(pytest.mark.xdist_group("browser"))


def shared_folder(tmp_path_factory, name: str, make) -> Path:
    """The folder ``name`` under this test run's temporary root, which ``make(folder)``
    fills: once per test run, also under pytest -n, whose processes take turns (a file
    lock) and share what the first made. A ``make`` that failed is tried again."""
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # pytest-N/popen-gwK
    folder, done = root / name, root / f"{name}.done"
    with open(root / f"{name}.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            make(folder)
            done.touch()
    return folder


TINY = ["--rnn-size", "32", "--embedding-size", "16", "--window-size", "32",
        "--batch-size", "8", "--num-layers", "2"]
CHORALES = ["bach/bwv269", "bach/bwv347", "bach/bwv153.1", "bach/bwv86.6", "bach/bwv267",
            "bach/bwv354", "bach/bwv26.6", "bach/bwv4.8"]


def cli(*args, env=None, check=True, timeout=300, module="trainer"):
    """Run ``python -m trainer`` (or ``module``) and return the completed process."""
    proc = subprocess.run([sys.executable, "-m", module, *map(str, args)],
                          capture_output=True, text=True, env={**os.environ, **(env or {})},
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def cache(tmp_path_factory):
    path = tmp_path_factory.mktemp("cache")
    os.environ["CADENZA_CACHE"] = str(path)
    return path


@pytest.fixture(scope="session")
def chorales(tmp_path_factory):
    from trainer.music import midi_io

    folder = tmp_path_factory.mktemp("chorales")
    for name in CHORALES:
        assert midi_io.export_unit("chorales", name, folder)[0][1] is None
    return folder


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory, chorales, cache):
    """``tiny_runs(backend)`` -> (run folder, stdout + stderr of its ``train``): the tiny
    model trained for one epoch under ``KERAS_BACKEND=backend``, once per test run on first
    use (shared_folder). Tests copy the folder before they change it."""

    def train(folder: Path, backend: str) -> None:
        proc = cli("train", "--data-dir", chorales, "--run-dir", folder / "tiny", "--epochs", 1,
                   *TINY, env={"KERAS_BACKEND": backend})
        (folder / "output.txt").write_text(proc.stdout + proc.stderr)

    def tiny_run(backend: str) -> tuple[Path, str]:
        folder = shared_folder(tmp_path_factory, f"runs-{backend}",
                               lambda folder: train(folder, backend))
        return folder / "tiny", (folder / "output.txt").read_text()

    return tiny_run


@pytest.fixture(scope="session")
def trained(tiny_runs):
    return tiny_runs("tensorflow")[0]


# --- the built site in headless Chromium (tests/test_site.py and the other browser tests) ----

ROOT = Path(__file__).resolve().parents[1]


def mkdocs_build(out: Path, env=None, timeout: int = 600) -> subprocess.CompletedProcess:
    """``mkdocs build --strict`` into ``out``, one build at a time per checkout: the first
    build after a change to web/src bundles it into site/assets/bundle (hooks/build.py), and
    two test processes (pytest -n) must not write the bundle at once."""
    lock = ROOT / "build" / ".mkdocs.lock"
    lock.parent.mkdir(exist_ok=True)
    with open(lock, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                               str(out)], cwd=ROOT, capture_output=True, text=True,
                              timeout=timeout, env={**os.environ, **(env or {})})


def _headless():
    """scripts/headless.py: find_browser(), serve() and the browser FLAGS."""
    if str(ROOT / "scripts") not in sys.path:
        sys.path.insert(0, str(ROOT / "scripts"))
    import headless

    return headless


@pytest.fixture(scope="session")
def chromium() -> Path:
    """The browser to drive; the browser tests skip, saying what to install, without one."""
    headless = _headless()
    try:
        return headless.find_browser()
    except headless.BrowserNotFound as e:
        pytest.skip(f"browser tests: {e}")


@pytest.fixture(scope="session")
def served(tmp_path_factory, chromium):
    """(folder, URL) of a silent static server, before anything is in the folder."""
    folder = tmp_path_factory.mktemp("site")
    server, url = _headless().serve(folder)
    yield folder, url
    server.shutdown()


@pytest.fixture(scope="session")
def site(served) -> Path:
    """The site built into the served folder, with site_url set to the server's URL
    (Material's instant navigation only follows links under site_url)."""
    if shutil.which("node") is None:
        pytest.skip("building the site needs Node 20 (the JavaScript bundle)")
    if not any((ROOT / "site" / "models").glob("*/config.json")):
        pytest.skip("no model under site/models/ to compose with")
    folder, url = served
    proc = mkdocs_build(folder, env={"CADENZA_SITE_URL": url})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return folder


@pytest.fixture(scope="session")
def base(site, served) -> str:
    return served[1]


@pytest.fixture(scope="session")
def browser(site, chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=_headless().FLAGS)
        yield browser
        browser.close()
