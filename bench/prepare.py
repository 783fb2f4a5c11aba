"""Benchmark corpus preparation against the classic tutorial loop.

Prints, for one folder of MIDI files (default: the built-in Bach chorales,
exported once into the default cache):

(a) our cold preparation (a fresh, temporary cache), in files/s;
(b) our second, cached run;
(c) the Classical-Piano-Composer ``get_notes`` loop (music21) on the first N
    files, and ours on the same N files with one process, for a fair
    per-file figure;
(d) the speed ratio, and how each accounts for its files: ours uses or
    reports every file; the classic loop returns nothing for some files and
    says nothing (or stops at the first exception).

Usage: ``python bench/prepare.py [--data-dir DIR] [--jobs N] [--classic-limit N]``.
This script imports music21 directly because the classic loop is what it measures.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

from trainer import constants as C
from trainer.config import DataConfig
from trainer.music.codec import Codec
from trainer.music.corpus import builtin_folder, prepare, scan


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", type=Path, default=None,
                   help="folder of .mid/.midi files (default: the exported built-in chorales)")
    p.add_argument("--jobs", type=int, default=0,
                   help="parallel parsing processes for our pipeline (0: one per CPU core)")
    p.add_argument("--classic-limit", type=int, default=40, metavar="N",
                   help="run the classic loop on the first N files (default: 40)")
    return p.parse_args(argv)


def default_folder(jobs: int) -> Path:
    """The built-in chorales exported to MIDI in the default cache (exported once)."""
    data = DataConfig(jobs=jobs)
    folder, failed = builtin_folder(C.DEFAULT_CORPUS, data.resolved_cache_dir(),
                                    data.resolved_jobs(), log=print)
    if failed:
        print(f"note: {len(failed)} chorales could not be exported by music21")
    return folder


def ours(folder: Path, cache: Path, jobs: int, codec: Codec):
    """``(corpus, seconds, reported lines)`` of one :func:`prepare` run."""
    lines = []
    t0 = time.perf_counter()
    corpus = prepare(DataConfig(data_dir=folder, cache_dir=cache, jobs=jobs), codec,
                     log=lines.append)
    return corpus, time.perf_counter() - t0, lines


def classic_get_notes(files: list[Path]) -> tuple[list[int], list[str], float]:
    """The tutorial's ``get_notes`` loop, timed: note count per file, errors, seconds.

    Faithful to the original except for two things: music21 10 removed
    ``Stream.flat``, so ``.flatten()`` stands in; and an exception is caught
    and recorded per file, where the original loop would stop there.
    """
    from music21 import chord, converter, instrument, note

    counts, errors = [], []
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for file in files:
            notes = []
            try:
                midi = converter.parse(file)
                try:  # file has instrument parts
                    notes_to_parse = instrument.partitionByInstrument(midi).parts[0].recurse()
                except Exception:  # file has notes in a flat structure
                    notes_to_parse = midi.flatten().notes
                for element in notes_to_parse:
                    if isinstance(element, note.Note):
                        notes.append(str(element.pitch))
                    elif isinstance(element, chord.Chord):
                        notes.append(".".join(str(n) for n in element.normalOrder))
            except Exception as e:
                errors.append(f"{file.name}: {type(e).__name__}")
            counts.append(len(notes))
    return counts, errors, time.perf_counter() - t0


def rate(files: int, seconds: float) -> str:
    return f"{seconds:8.2f} s  {files / max(seconds, 1e-9):9.1f} files/s"


def main(argv=None) -> int:
    args = parse_args(argv)
    jobs = DataConfig(jobs=args.jobs).resolved_jobs()
    folder = args.data_dir or default_folder(args.jobs)
    files, ignored = scan(folder)
    first = files[:args.classic_limit]
    codec = Codec()
    print(f"folder: {folder}")
    print(f"files:  {len(files)} MIDI, {ignored} other; jobs: {jobs}; "
          f"classic loop on the first {len(first)}")

    with tempfile.TemporaryDirectory() as tmp:
        cold, cold_s, reported = ours(folder, Path(tmp) / "cache", jobs, codec)
        warm, warm_s, _ = ours(folder, Path(tmp) / "cache", jobs, codec)
        subset = Path(tmp) / "subset"
        for f in first:  # the same first N files, for a per-file comparison
            link = subset / f.relative_to(folder)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(f)
        small, small_s, _ = ours(subset, Path(tmp) / "cache-subset", 1, codec)
    counts, errors, classic_s = classic_get_notes(first)

    accounted = len(cold.songs) + len(cold.skipped)
    empty = sum(1 for c in counts if c == 0)
    ours_rate = len(files) / cold_s
    classic_rate = len(first) / classic_s
    print()
    print(f"(a) ours, cold ({jobs} jobs, {len(files)} files):  {rate(len(files), cold_s)}")
    print(f"    used {len(cold.songs)}, reported {len(cold.skipped)}, "
          f"{sum(len(s.notes) for s in cold.songs):,} notes; parsed {cold.parsed}")
    print(f"(b) ours, cached run:                  {rate(len(files), warm_s)}"
          f"  (parsed {warm.parsed}, from cache {warm.cached})")
    print(f"(c) classic get_notes, first {len(first)} files: {rate(len(first), classic_s)}")
    print(f"    files with no notes: {empty}; exceptions: {len(errors)} "
          f"{errors[:3] if errors else ''}; {sum(counts):,} note/chord strings "
          f"(parts[0] only)")
    print(f"    ours on the same {len(first)} files, 1 job: {rate(len(first), small_s)}"
          f"  ({sum(len(s.notes) for s in small.songs):,} notes)")
    print(f"(d) ours cold vs classic: {ours_rate / classic_rate:.1f}x the files/s "
          f"({ours_rate:.1f} vs {classic_rate:.2f}); ours 1 job vs classic: "
          f"{(len(first) / small_s) / classic_rate:.1f}x")
    print(f"    ours accounted for {accounted} of {len(files)} files "
          f"({len(reported)} reported with a reason); classic returned nothing, silently, "
          f"for {empty} of {len(first)}")
    return 0 if accounted == len(files) else 1


if __name__ == "__main__":
    sys.exit(main())
