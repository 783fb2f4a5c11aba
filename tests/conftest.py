"""Shared fixtures: small MIDI files the tests write themselves."""

from __future__ import annotations

import os
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
def trained(tmp_path_factory, chorales, cache):
    run = tmp_path_factory.mktemp("runs") / "tiny"
    cli("train", "--data-dir", chorales, "--run-dir", run, "--epochs", 1, *TINY)
    return run
