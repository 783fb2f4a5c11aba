"""Hostile input: ``prepare`` and ``python -m trainer prepare`` on damaged and odd files.

A seeded generator writes ~30 good songs and a few hundred broken or strange
files. Whatever the folder holds, preparation must not crash; each unusable
``.mid``/``.midi`` file is reported exactly once, by relative name, with a
reason; each usable one is used with exactly its notes; the summary counts
agree. Decisions these tests pin (and their reasons):

* Notes whose note-off shares the note-on's tick are real notes: they get one
  grid step (``Codec.quantise`` makes every duration at least 1). pretty_midi
  drops them, so ``midi_io`` ends them one tick later before handing over.
* Notes never switched off are dropped (pretty_midi's rule); a file of only
  those is reported as "no notes".
* Tempo is a 24-bit count of microseconds per beat, so the slowest tempo a
  file can state is ~3.58 BPM (0.001 BPM cannot be written); that and 1e7 BPM
  are both "absurd tempo". A tempo of 0 is "unreadable".
* SMPTE-timed files (the header's division counts frames per second and
  ticks per frame) are read: a tick is a fixed fraction of a second, and the
  file's own tempo events (120 BPM if none) turn seconds into beats.
* A valid MIDI file named ``.txt`` (or ``.kar``, or just ``.mid``, which has
  no suffix) is counted as non-MIDI and never parsed. A folder named
  ``x.mid`` is searched like any folder. A ``.mid`` symlink that leads nowhere
  (a loop, a dangling link) is reported as unreadable; links to folders are
  neither used, reported nor counted. A FIFO or a device named ``.mid`` is
  reported as "not a regular file" and never opened. A folder that cannot be
  listed is reported as ``name/``; what it holds is unknown, so not counted.
* Names are printed escaped (``shown``): bytes that are not UTF-8 as
  ``\\xNN``, control characters (terminal escape sequences) as ``\\x1b``.
* A worker pool that breaks costs nothing: its files are parsed again
  serially, and no "parser crashed" verdict is ever cached. The cache key is
  the hash of exactly the bytes that were parsed.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import re
import stat
import struct
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from conftest import write_song

from trainer.config import CodecConfig, DataConfig
from trainer.errors import CadenzaError
from trainer.music import corpus as corpus_mod
from trainer.music.codec import Codec

REPO = Path(__file__).resolve().parents[1]
CODEC = Codec()
SPB = CODEC.config.steps_per_beat
UNREADABLE = "unreadable MIDI ("
DAMAGED = "truncated or damaged: "  # a chunk claims more bytes than follow, or is missing
NOT_MIDI = "not a MIDI file (no MThd header)"
SUMMARY = re.compile(r"used (\d+) files, skipped (\d+), ignored (\d+) non-MIDI; ([\d,]+) notes, "
                     r"[\d,]+ tokens \((\d+) parsed, (\d+) from cache")


# --- raw Standard MIDI File bytes ---------------------------------------------

def vlq(n: int) -> bytes:
    out = [n & 0x7F]
    while n := n >> 7:
        out.append((n & 0x7F) | 0x80)
    return bytes(reversed(out))


def track(events, end=True) -> bytes:
    """An MTrk chunk of ``[(delta ticks, event bytes), ...]``."""
    body = b"".join(vlq(dt) + ev for dt, ev in events) + (b"\x00\xff\x2f\x00" if end else b"")
    return b"MTrk" + struct.pack(">L", len(body)) + body


def smf(*tracks: bytes, fmt=1, tpq=480, ntracks=None) -> bytes:
    n = len(tracks) if ntracks is None else ntracks
    return b"MThd" + struct.pack(">Lhhh", 6, fmt, n, tpq) + b"".join(tracks)


def on(pitch, ch=0, vel=80):
    return bytes([0x90 | ch, pitch, vel])


def off(pitch, ch=0):
    return bytes([0x80 | ch, pitch, 0])


def tempo(us_per_beat: int) -> bytes:
    return b"\xff\x51\x03" + us_per_beat.to_bytes(3, "big")


def one_note(pitch=60, ticks=480, ch=0):
    return [(0, on(pitch, ch)), (ticks, off(pitch, ch))]


# --- the generated folder -------------------------------------------------------

@dataclass
class Expected:
    """What ``prepare`` must make of a generated folder."""

    good: dict[str, np.ndarray] = field(default_factory=dict)  # name -> exact notes
    bad: dict[str, str] = field(default_factory=dict)  # name -> reason prefix
    either: set[str] = field(default_factory=set)  # fuzzed: used or reported, once
    ignored: int = 0
    invisible: set[str] = field(default_factory=set)  # symlinks that are no file
    locked: dict[str, set[str]] = field(default_factory=dict)  # unlistable folder -> its files


def random_grid_notes(rng: random.Random) -> np.ndarray:
    """Normalised grid notes (start, dur, pitch) starting at step 0."""
    cells = {(0, rng.randint(21, 108))}
    while len(cells) < rng.randint(5, 40):
        cells.add((rng.randrange(0, 32 * SPB), rng.randint(21, 108)))
    notes = sorted(cells, key=lambda c: (c[0], -c[1]))
    next_onset = {}
    out = []
    for start, pitch in reversed(notes):  # no note overlaps the next of its pitch
        room = next_onset.get(pitch, 10**9) - start
        out.append((start, min(rng.randint(1, CODEC.config.max_duration), room), pitch))
        next_onset[pitch] = start
    return np.array(out[::-1], dtype=np.int32)


def write_grid(path: Path, notes: np.ndarray, **kw) -> bytes:
    write_song(path, [(s / SPB, (s + d) / SPB, p) for s, d, p in notes], **kw)
    return path.read_bytes()


def put(root: Path, name: str, data: bytes) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def build_folder(root: Path, seed: int = 7, good: int = 30) -> Expected:
    rng = random.Random(seed)
    exp = Expected()
    songs = add_good(root, rng, exp, good)
    add_odd_but_usable(root, exp)
    add_damaged(root, rng, exp, songs)
    add_unusable(root, exp)
    add_not_midi(root, exp)
    add_special(root, rng, exp)
    return exp


def add_good(root: Path, rng: random.Random, exp: Expected, count: int) -> list[bytes]:
    suffixes = [".mid", ".mid", ".midi", ".MID", ".MIDI"]
    folders = ["", "", "nested/", "nested/deeper/still/", "x.mid/"]  # x.mid is a folder
    songs = []
    for i in range(count):
        name = f"{folders[i % len(folders)]}good {i:02d} – Präludium{suffixes[i % len(suffixes)]}"
        notes = random_grid_notes(rng)
        songs.append(write_grid(root / name, notes, tempo=rng.choice([60.0, 96.0, 120.0, 180.0])))
        exp.good[name] = notes
    return songs


def add_odd_but_usable(root: Path, exp: Expected) -> None:
    n = lambda *rows: np.array(rows, dtype=np.int32).reshape(-1, 3)  # noqa: E731
    cases = {
        # zero-length notes become one grid step (see the module docstring)
        "odd/zero_length.mid": (smf(track([(0, on(60)), (0, off(60)), (480, on(64)),
                                           (0, on(64, vel=0)), (480, on(67)), (0, off(67))])),
                                n((0, 1, 60), (4, 1, 64), (8, 1, 67))),
        # an empty track chunk (no end-of-track event) beside a good one
        "odd/empty_track_chunk.mid": (smf(track([], end=False), track(one_note(62))),
                                      n((0, 4, 62))),
        # a gap of 10,000 beats: long, but inside the length limits
        "odd/huge_delta_ok.mid": (smf(track([*one_note(60, 96), (10_000 * 96, on(62)),
                                             (96, off(62))]), tpq=96),
                                  n((0, 4, 60), (40_004, 4, 62))),
        # drums are left out, the piano stays
        "odd/drums_and_piano.mid": (smf(track([*one_note(36, ch=9), *one_note(60)])),
                                    n((0, 4, 60))),  # leading silence goes
        # pitches outside A0..C8 are dropped, the rest stays
        "odd/partly_off_piano.mid": (smf(track([*one_note(10), *one_note(120), *one_note(21),
                                                *one_note(108)])),
                                     n((0, 4, 21), (4, 4, 108))),
        "odd/format0_two_channels.mid": (smf(track([(0, on(60)), (0, on(48, ch=3)),
                                                    (480, off(60)), (240, off(48, ch=3))]),
                                             fmt=0),
                                         n((0, 4, 60), (0, 6, 48))),
        "odd/format2.mid": (smf(track(one_note(60)), track(one_note(64)), fmt=2),
                            n((0, 4, 64), (0, 4, 60))),
    }
    smpte = lambda fps, per_frame: -(fps << 8) + per_frame  # noqa: E731
    cases.update({
        # 25 frames/s x 40 ticks: 1000 ticks/s; 500 ticks = 1 beat at the default 120 BPM
        "odd/smpte_division.mid": (smf(track(one_note(60, 500)), tpq=smpte(25, 40)),
                                   n((0, 4, 60))),
        # 29.97 drop-frame x 100 ticks: 2997 ticks/s; its tempo event (60 BPM) sets the beat
        "odd/smpte_29.97_tempo_60.mid": (smf(track([(0, tempo(1_000_000)), *one_note(60, 2997),
                                                    *one_note(64, 2997)]), tpq=smpte(29, 100)),
                                         n((0, 4, 60), (4, 4, 64))),
        # a tempo change does not change a tick's length, only what a beat is
        "odd/smpte_24fps_tempo_change.mid": (
            smf(track([*one_note(60, 960), (0, tempo(250_000)), *one_note(62, 960)]),
                tpq=smpte(24, 80)),
            n((0, 4, 60), (4, 8, 62))),
    })
    for name, (data, notes) in cases.items():
        put(root, name, data)
        exp.good[name] = notes
    name = "odd/tempo change.MIDI"
    exp.good[name] = n((0, 4, 60), (8, 2, 62), (16, 1, 64))
    write_grid(root / name, exp.good[name], tempo_changes=[(2.0, 40.0), (3.0, 300.0)])
    name = os.fsdecode(b"odd/caf\xe9 latin-1 name.mid")  # not UTF-8: a surrogate in Python
    exp.good[name] = n((0, 4, 60))
    write_grid(root / name, exp.good[name])


def add_damaged(root: Path, rng: random.Random, exp: Expected, songs: list[bytes]) -> None:
    for i in range(130):  # cut anywhere: every cut loses part of a declared chunk
        data = rng.choice(songs)
        cut = rng.randrange(1, len(data))
        name = f"truncated/cut{i:03d}_at{cut}{rng.choice(['.mid', '.MID', '.midi'])}"
        put(root, name, data[:cut])
        exp.bad[name] = NOT_MIDI if cut < 4 else DAMAGED
    for i in range(30):
        name = f"random/noise{i:02d}.mid"
        put(root, name, rng.randbytes(rng.randint(1, 4000)))
        exp.bad[name] = NOT_MIDI
    for i in range(20):  # a real header, then noise as the track
        body = rng.randbytes(rng.randint(8, 2000))
        name = f"random/header_then_noise{i:02d}.mid"
        put(root, name, smf(ntracks=1) + b"MTrk" + struct.pack(">L", len(body)) + body)
        exp.bad[name] = UNREADABLE
    for i in range(30):  # a few bytes changed: may still parse, must be accounted for
        data = bytearray(rng.choice(songs))
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        name = f"fuzzed/flip{i:02d}.mid"
        put(root, name, bytes(data))
        exp.either.add(name)


def add_unusable(root: Path, exp: Expected) -> None:
    big = 0x0FFFFFFF  # the largest variable-length delta time
    cases = {
        "empty.mid": (b"", "empty file"),
        "text.mid": (b"This is a text file, not a MIDI file.\n", NOT_MIDI),
        "rmid_riff_wrapper.mid": (b"RIFF\x20\x00\x00\x00RMIDdata" + smf(track(one_note())),
                                  NOT_MIDI),
        "header_only.mid": (smf(ntracks=0), "no tracks"),
        "empty_track.mid": (smf(track([], end=False)), "no tracks"),
        "header_promises_two_tracks.mid": (smf(track(one_note()), ntracks=2), DAMAGED),
        "end_of_track_only.mid": (smf(track([])), "no notes"),
        "drums_only.mid": (smf(track(one_note(36, ch=9) + one_note(38, ch=9))), "drums only"),
        "never_switched_off.mid": (smf(track([(0, on(60)), (480, on(62))])), "no notes"),
        "only_off_piano.MID": (smf(track(one_note(5) + one_note(20) + one_note(109)
                                         + one_note(127))), "no notes in the piano range"),
        "huge_delta.mid": (smf(track([*one_note(60), (big, on(62)), (480, off(62))])),
                           UNREADABLE + "ValueError: MIDI file has a largest tick"),
        "long_delta.mid": (smf(track([*one_note(60), (9_000_000, on(62)), (480, off(62))])),
                           "absurd length"),
        "tempo_1e7_bpm.mid": (smf(track([(0, tempo(6)), *one_note()])), "absurd tempo 1e+07"),
        "tempo_3.58_bpm.mid": (smf(track([(0, tempo(0xFFFFFF)), *one_note()])),
                               "absurd tempo 3.57"),
        "tempo_late_1e7_bpm.mid": (smf(track([*one_note(), (0, tempo(6))])), "absurd tempo"),
        "tempo_zero.mid": (smf(track([(0, tempo(0)), *one_note()])), UNREADABLE),
        "zero_ticks_per_beat.mid": (smf(track(one_note()), tpq=0), UNREADABLE),
        "smpte_no_ticks_per_frame.mid": (smf(track(one_note()), tpq=-(24 << 8)),
                                         "bad SMPTE division"),
        "smpte_23_fps.mid": (smf(track(one_note()), tpq=-(23 << 8) + 40), "bad SMPTE division"),
        "data_byte_over_127.mid": (smf(track([(0, bytes([0x90, 200, 80]))])), UNREADABLE),
        "running_status_first.mid": (smf(track([(0, bytes([60, 80]))])), UNREADABLE),
        "sysex_claims_256MB.mid": (smf(track([(0, b"\xf0" + vlq(big))])), UNREADABLE),
        "track_length_lies.mid": (smf(ntracks=1) + b"MTrk\xff\xff\xff\xff" + track(one_note())[8:],
                                  DAMAGED + "track 1 claims 4,294,967,295 bytes"),
        "deep/a/b/c/d/e/f/g/h/drums.midi": (smf(track(one_note(42, ch=9))), "drums only"),
        os.fsdecode(b"latin-1 \xe9t\xe9.mid"): (b"MThd", DAMAGED),  # name is not UTF-8
    }
    for name, (data, reason) in cases.items():
        put(root, name, data)
        exp.bad[name] = reason


def add_not_midi(root: Path, exp: Expected) -> None:
    valid = smf(track(one_note()))
    for name in ["valid_midi_but.txt", "karaoke.kar", ".mid", "song.mid.bak", "README.md",
                 "nested/cover.jpg"]:
        put(root, name, valid)
        exp.ignored += 1
    for name, target in [("loop.mid", "loop.mid"), ("dangling.mid", "nowhere.mid")]:
        (root / name).symlink_to(target)
        exp.bad[name] = "cannot read it"
    for name, target in [("nested/up", ".."), ("nested/self", ".")]:
        (root / name).symlink_to(target)
        exp.invisible.add(name)


def add_special(root: Path, rng: random.Random, exp: Expected) -> None:
    """Entries that are no regular file, a folder that cannot be listed, a terminal escape."""
    os.mkfifo(root / "special/pipe.mid") if (root / "special").mkdir() is None else None
    exp.bad["special/pipe.mid"] = "not a regular file (a FIFO)"
    try:
        os.mknod(root / "special/device.MID", 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    except OSError:  # no CAP_MKNOD: a link to a device is the same kind of entry
        (root / "special/device.MID").symlink_to("/dev/null")
    exp.bad["special/device.MID"] = "not a regular file (a character device)"
    (root / "special/null.mid").symlink_to("/dev/null")
    exp.bad["special/null.mid"] = "not a regular file (a character device)"
    (root / "special/gone.midi").symlink_to("../nowhere/gone.midi")
    exp.bad["special/gone.midi"] = "cannot read it"
    exp.ignored += 1
    os.mkfifo(root / "special/pipe.txt")  # not named as MIDI: ignored, never opened
    exp.bad["special/\x1b[31mred\x1b[0m.mid"] = NOT_MIDI
    put(root, "special/\x1b[31mred\x1b[0m.mid", b"\x1b]0;pwned\x07")
    locked = root / "locked"
    exp.locked["locked/"] = set()
    for i in range(3):
        name = f"locked/song{i}.mid"
        exp.good[name] = random_grid_notes(rng)
        write_grid(root / name, exp.good[name])
        exp.locked["locked/"].add(name)
    locked.chmod(0)


def unlistable(path) -> bool:
    """Whether this process cannot list ``path`` (as root: whether it has no read bit)."""
    return not os.stat(path).st_mode & 0o444 if os.geteuid() == 0 \
        else not os.access(path, os.R_OK)


@pytest.fixture
def as_permissions_say(monkeypatch):
    """Folders without read permission cannot be listed, even by root."""
    real = os.scandir

    def scandir(path="."):
        if unlistable(path):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)


# --- checks ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> tuple[Path, Expected]:
    root = tmp_path_factory.mktemp("hostile")
    exp = build_folder(root)
    assert len(exp.bad) + len(exp.either) >= 200 and len(exp.good) >= 30
    yield root, exp
    (root / "locked").chmod(0o755)


def seen(exp: Expected, listable: bool) -> Expected:
    """``exp`` as a process sees it that can (or cannot) list the locked folders."""
    if listable:
        return exp
    hidden = set().union(*exp.locked.values())
    reason = "cannot read this folder (Permission denied); the files in it are not counted"
    return Expected({k: v for k, v in exp.good.items() if k not in hidden},
                    {**exp.bad, **{folder: reason for folder in exp.locked}},
                    exp.either, exp.ignored, exp.invisible)


def check_accounting(exp: Expected, used: dict[str, np.ndarray], skipped: list) -> None:
    reported = [name for name, _ in skipped]
    assert len(reported) == len(set(reported)), "a file was reported twice"
    assert not set(used) & set(reported), "a file was both used and reported"
    assert set(used) | set(reported) == set(exp.good) | set(exp.bad) | exp.either
    assert not (set(used) | set(reported)) & exp.invisible
    for name, reason in skipped:
        assert name in exp.bad or name in exp.either, f"{name} ({reason}) should be usable"
        assert reason.strip() and "\n" not in reason
        if name in exp.bad:
            assert reason.startswith(exp.bad[name]), (name, reason)
    for name, notes in exp.good.items():
        np.testing.assert_array_equal(used[name], notes, err_msg=name)


def summary_counts(line: str) -> list[int]:
    """used, skipped, ignored, notes, parsed, cached from a summary line."""
    return [int(g.replace(",", "")) for g in SUMMARY.search(line).groups()]


# entries reported without being parsed: MIDI-named non-files and unlistable folders
UNPARSED = ("not a regular file", "cannot read this folder")


def test_prepare_accounts_for_every_file(hostile, tmp_path, as_permissions_say):
    root, full = hostile
    exp = seen(full, listable=False)
    lines = []
    corpus = corpus_mod.prepare(DataConfig(data_dir=root, cache_dir=tmp_path, jobs=2), CODEC,
                                log=lines.append)
    check_accounting(exp, {s.name: s.notes for s in corpus.songs}, corpus.skipped)
    assert lines == [f"skipped {shown(name)}: {reason}" for name, reason in corpus.skipped]
    assert not any("\x1b" in line for line in lines)
    found = len(exp.good) + len(exp.bad) + len(exp.either)  # everything the scan met
    unparsed = sum(reason.startswith(UNPARSED) for _, reason in corpus.skipped)
    assert unparsed == 4  # pipe, device, link to a device, locked/
    assert (corpus.parsed, corpus.cached, corpus.ignored) == (found - unparsed, 0, exp.ignored)
    assert [s.name for s in corpus.songs] == sorted(s.name for s in corpus.songs)
    used, skipped, ignored, notes, parsed, cached = summary_counts(corpus.summary(CODEC))
    assert used + skipped == found
    assert (used, skipped, ignored, parsed, cached) == (
        len(corpus.songs), len(corpus.skipped), exp.ignored, found - unparsed, 0)
    assert notes == sum(len(s.notes) for s in corpus.songs)


def test_a_broken_pool_costs_nothing_and_caches_no_crash(hostile, tmp_path, monkeypatch):
    """Workers that die at start (BrokenProcessPool): every file is parsed serially instead."""
    root, exp = hostile
    exp = seen(exp, listable=os.access(root / "locked", os.R_OK))
    real_pool = corpus_mod._pool
    monkeypatch.setattr(corpus_mod, "_pool", lambda jobs: ProcessPoolExecutor(
        jobs, mp_context=multiprocessing.get_context("spawn"), initializer=os._exit,
        initargs=(3,)))
    lines = []
    broken = corpus_mod.prepare(DataConfig(data_dir=root, cache_dir=tmp_path, jobs=2), CODEC,
                                log=lines.append)
    check_accounting(exp, {s.name: s.notes for s in broken.songs}, broken.skipped)
    assert any(line.startswith("a parsing process died") for line in lines)
    assert not any("parser crashed" in reason for _, reason in broken.skipped)
    verdicts = []
    for entry in (tmp_path / "parsed").rglob("*.npz"):
        with np.load(entry) as z:
            verdicts.append(str(z["reason"]))
    assert verdicts and not any(v.startswith("parser crashed") for v in verdicts)
    monkeypatch.setattr(corpus_mod, "_pool", real_pool)
    again = corpus_mod.prepare(DataConfig(data_dir=root, cache_dir=tmp_path, jobs=1), CODEC,
                               log=lambda line: None)
    unreadable = sum(reason.startswith("cannot read it") for _, reason in broken.skipped)
    assert again.parsed == unreadable  # only files without bytes to hash are parsed again
    assert again.skipped == broken.skipped


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:backslashreplace"}
    return subprocess.run([sys.executable, "-m", "trainer", "prepare", *map(str, args)],
                          cwd=REPO, env=env, capture_output=True, text=True,
                          encoding="utf-8", errors="strict", timeout=120)


def shown(name: str) -> str:
    """How a file name is printed: bytes that are not UTF-8 and control characters escaped."""
    text = os.fsencode(name).decode("utf-8", "backslashreplace")
    return re.sub(r"[\x00-\x1f\x7f]", lambda m: f"\\x{ord(m[0]):02x}", text)


@pytest.mark.parametrize("version", [1, 2])
def test_cli_reports_every_file_once(hostile, tmp_path, version):
    root, exp = hostile
    exp = seen(exp, listable=os.access(root / "locked", os.R_OK))
    done = run_cli("--data-dir", root, "--cache-dir", tmp_path, "--jobs", "1",
                   "--vocab-version", str(version))
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert all(line.startswith("skipped ") for line in lines), lines
    reported = [line[len("skipped "):].split(": ", 1)[0] for line in lines]
    assert len(reported) == len(set(reported))
    expected_bad = {shown(n) for n in exp.bad}
    assert expected_bad <= set(reported) <= expected_bad | {shown(n) for n in exp.either}
    bad = {shown(n): r for n, r in exp.bad.items()}
    for line, name in zip(lines, reported):
        if name in bad:
            assert line.startswith(f"skipped {name}: {bad[name]}"), line
    assert "\x1b" not in done.stderr and "skipped special/\\x1b[31mred\\x1b[0m.mid: " in done.stderr
    summary, *v2_lines = done.stdout.splitlines()
    used, skipped, ignored, _, parsed, cached = summary_counts(summary)
    if version == 1:
        assert v2_lines == []
    else:  # where the keys came from, the meters and keys found
        assert [line.split(":")[0] for line in v2_lines] == ["keys", "meters", "keys found"]
        counts = re.match(r"keys: (\d+) from the file's key signature, (\d+) estimated",
                          v2_lines[0])
        assert counts and int(counts[1]) + int(counts[2]) == used
    found = len(exp.good) + len(exp.bad) + len(exp.either)
    unparsed = sum(line.split(": ", 1)[1].startswith(UNPARSED) for line in lines)
    assert used + skipped == found == parsed + unparsed
    assert (skipped, ignored, cached) == (len(lines), exp.ignored, 0)


def test_unreadable_file_is_reported_not_fatal(tmp_path, monkeypatch):
    data = tmp_path / "data"
    write_grid(data / "fine.mid", np.array([[0, 4, 60]]))
    write_grid(data / "locked.mid", np.array([[0, 4, 62]]))
    from trainer.music import midi_io

    real = midi_io.read_bytes  # what the corpus reads a file with (root reads a chmod 000 one)

    def read_bytes(path):
        if path.name == "locked.mid":
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(midi_io, "read_bytes", read_bytes)
    corpus = corpus_mod.prepare(DataConfig(data_dir=data, cache_dir=tmp_path / "c", jobs=1),
                                CODEC, log=lambda line: None)
    assert [s.name for s in corpus.songs] == ["fine.mid"]
    assert corpus.skipped == [("locked.mid", "cannot read it (Permission denied)")]


# --- the cache ------------------------------------------------------------------

def prepare_small(data: Path, cache: Path, codec: Codec = CODEC):
    return corpus_mod.prepare(DataConfig(data_dir=data, cache_dir=cache, jobs=1), codec,
                              log=lambda line: None)


@pytest.mark.parametrize("version", [1, 2])
def test_cache_reparses_only_what_changed(tmp_path, version):
    codec = Codec(CodecConfig(vocab_version=version))
    data, cache = tmp_path / "data", tmp_path / "cache"
    rng = random.Random(3)
    for i in range(8):
        write_grid(data / f"song{i}.mid", random_grid_notes(rng))
    put(data, "bad/truncated.mid", (data / "song0.mid").read_bytes()[:40])
    put(data, "bad/drums.mid", smf(track(one_note(36, ch=9))))
    first = prepare_small(data, cache, codec)
    assert (first.parsed, first.cached, len(first.songs), len(first.skipped)) == (10, 0, 8, 2)

    again = prepare_small(data, cache, codec)
    assert (again.parsed, again.cached) == (0, 10)
    assert again.skipped == first.skipped  # reasons come back from the cache too
    for a, b in zip(first.songs, again.songs):
        assert a.name == b.name and np.array_equal(a.notes, b.notes)
        assert (a.meta, a.key_source) == (b.meta, b.key_source)  # None for v1
        assert (a.meta is None) == (version == 1)

    changed = np.array([[0, 2, 70], [2, 2, 72]], dtype=np.int32)
    write_grid(data / "song3.mid", changed)
    after_edit = prepare_small(data, cache, codec)
    assert (after_edit.parsed, after_edit.cached) == (1, 9)
    np.testing.assert_array_equal(
        next(s.notes for s in after_edit.songs if s.name == "song3.mid"), changed)

    finer = prepare_small(data, cache,
                          Codec(CodecConfig(steps_per_beat=8, vocab_version=version)))
    assert (finer.parsed, finer.cached) == (10, 0)
    np.testing.assert_array_equal(
        next(s.notes for s in finer.songs if s.name == "song3.mid"), changed * [2, 2, 1])


def test_damaged_cache_entry_is_parsed_again(tmp_path):
    data, cache = tmp_path / "data", tmp_path / "cache"
    write_grid(data / "a.mid", np.array([[0, 4, 60]]))
    write_grid(data / "b.mid", np.array([[0, 4, 64]]))
    prepare_small(data, cache)
    entries = sorted((cache / "parsed").rglob("*.npz"))
    assert len(entries) == 2
    entries[0].write_bytes(entries[0].read_bytes()[:30])
    entries[1].write_bytes(b"")
    corpus = prepare_small(data, cache)
    assert (corpus.parsed, corpus.cached, len(corpus.songs)) == (2, 0, 2)


# --- folders that cannot be used: exit 2, one error line ------------------------

def only_bad(folder: Path) -> list[str]:
    put(folder, "empty.mid", b"")
    put(folder, "sub/text.MIDI", b"hello")
    put(folder, "drums.mid", smf(track(one_note(36, ch=9))))
    return ["skipped drums.mid: drums only", "skipped empty.mid: empty file",
            f"skipped sub/text.MIDI: {NOT_MIDI}"]


@pytest.mark.parametrize("kind", ["missing", "empty", "only_non_midi", "a_file", "only_bad"])
def test_unusable_folder_exits_2_with_one_error_line(tmp_path, kind):
    folder = tmp_path / "data"
    skipped = []
    if kind == "empty":
        folder.mkdir()
    elif kind == "only_non_midi":
        put(folder, "notes.txt", smf(track(one_note())))
    elif kind == "a_file":
        put(tmp_path, "data", smf(track(one_note())))
    elif kind == "only_bad":
        skipped = only_bad(folder)
    done = run_cli("--data-dir", folder, "--cache-dir", tmp_path / "cache")
    assert done.returncode == 2
    assert done.stdout == ""
    *reports, error = done.stderr.splitlines()
    assert sorted(reports) == skipped
    assert error.startswith("error: ") and str(folder) in error
    with pytest.raises(CadenzaError):
        prepare_small(folder, tmp_path / "cache")
