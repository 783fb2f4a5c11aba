"""A folder of MIDI files (or a built-in corpus) -> quantised songs, cached.

``prepare`` reads every ``.mid``/``.midi`` file under a folder, in parallel,
and returns the usable ones as :class:`Song` objects. Every unusable file is
named with its reason, and a summary counts what was used. Parsed songs are
cached by file content hash + codec parameters, so a second run only hashes
and loads; a changed file is parsed again.
"""

from __future__ import annotations

import ast
import hashlib
import json
import multiprocessing
import os
import shutil
import sys
import time
import zipfile
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from trainer import constants as C
from trainer.config import CodecConfig, DataConfig
from trainer.errors import CadenzaError, kind, read_text, shown
from trainer.music import keys as K
from trainer.music import midi_io
from trainer.music.codec import Codec, Meta

CRASHED = "parser crashed"  # the reason's start when the parser failed, not the file


@dataclass(frozen=True)
class Song:
    """One usable file: its path relative to the corpus folder, its notes and (for a
    v2 codec) its key, meter and bars, with where the key came from."""

    name: str
    notes: np.ndarray
    meta: Meta | None = None
    key_source: str | None = None  # "file" or "estimate"


@dataclass
class Corpus:
    """The outcome of :func:`prepare`."""

    source: str
    songs: list[Song]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    ignored: int = 0
    parsed: int = 0
    cached: int = 0
    seconds: float = 0.0

    def tokens(self, codec: Codec) -> list[np.ndarray]:
        """Token ids of every song, in corpus order."""
        return [codec.encode(s.notes, s.meta) for s in self.songs]

    def summary(self, codec: Codec) -> str:
        notes = sum(len(s.notes) for s in self.songs)
        tokens = sum(len(t) for t in self.tokens(codec))
        line = (f"{self.source}: used {len(self.songs)} files, skipped {len(self.skipped)}, "
                f"ignored {self.ignored} non-MIDI; {notes:,} notes, {tokens:,} tokens "
                f"({self.parsed} parsed, {self.cached} from cache, {self.seconds:.1f} s)")
        if codec.version < 2:
            return line
        sources = Counter(s.key_source for s in self.songs)
        text = (f"{line}\nkeys: {sources['file']} from the file's key signature, "
                f"{sources['estimate']} estimated from the notes (the file had none, or one "
                f"the notes disagree with)\nmeters: {describe_counts(meter_counts(self.songs))}"
                f"\nkeys found: {describe_counts(key_counts(self.songs))}")
        short = [s.name for s in self.songs if short_bars(s, codec.config.steps_per_beat)]
        if short:
            text += (f"\nbars shorter than a beat (time signatures such as 1/16) in "
                     f"{len(short)} song{'' if len(short) == 1 else 's'}, e.g. {short[0]}: "
                     "kept as the file states them")
        return text


def short_bars(song: Song, steps_per_beat: int) -> int:
    """How many of a v2 song's bars (but its last) are shorter than a beat: the mark of
    a time signature such as 1/16 or 3/16, which some MIDI files use for a pickup."""
    if song.meta is None or len(song.meta.bars) < 2:
        return 0
    return int((np.diff([b for b, _ in song.meta.bars]) < steps_per_beat).sum())


def meter_counts(songs) -> dict[str, int]:
    """Songs per starting meter (``"6/8"``), most first; a song counts once per meter it uses."""
    counts = Counter()
    for s in songs:
        counts.update({K.meter_name(m) for m in [s.meta.meter, *(m for _, m in s.meta.bars)]})
    return dict(counts.most_common())


def key_counts(songs) -> dict[str, int]:
    """Songs per key (``"D:minor"``), most first."""
    return dict(Counter(K.key_name(s.meta.key) for s in songs).most_common())


def describe_counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in counts.items()) or "none"


def prepare(data: DataConfig, codec: Codec, log=None) -> Corpus:
    """Read, check, quantise and cache every MIDI file of ``data``.

    Unusable files -- and FIFOs, devices, dead links and unreadable folders
    met on the way -- are reported through ``log`` (default: stderr), one
    line each. Raises :class:`CadenzaError` if the folder is missing or empty,
    or if no file in it can be used.
    """
    log = log or _stderr
    t0 = time.perf_counter()
    cache = data.resolved_cache_dir()
    if data.data_dir is None:
        folder, skipped = builtin_folder(data.corpus, cache, data.resolved_jobs(), log)
        source = f"built-in corpus '{data.corpus}'"
    else:
        folder, skipped, source = Path(data.data_dir), [], shown(data.data_dir)
    found = survey(folder)
    stated = data.data_dir is None and data.corpus in midi_io.STATED_KEYS
    fingerprint = json.dumps({"codec": codec.to_json()["params"], "programs": list(data.programs),
                              "parser": C.PARSER_VERSION, "stated_keys": stated},
                             sort_keys=True).encode()
    keys = {f: _content_key(f, fingerprint) for f in found.files}
    results = {f: _load_cached(cache, keys[f]) if keys[f] else None for f in found.files}
    todo = [f for f, r in results.items() if r is None]
    for f, key, result in _parse_all(todo, codec.config, data.programs, fingerprint,
                                     data.resolved_jobs(), log, stated):
        if key and not (result[1] or "").startswith(CRASHED):  # a crash judges no file
            _store_cached(cache, key, result)
        results[f] = result
    songs = []
    for f in found.files:
        notes, reason, *extra = results[f]
        name = f.relative_to(folder).as_posix()
        if reason is None:
            songs.append(Song(name, notes, *extra))
        else:
            skipped.append((name, reason))
    skipped += found.skipped
    for name, reason in skipped:
        log(f"skipped {shown(name)}: {reason}")
    if not songs:
        folders = sum(name.endswith("/") for name, _ in found.skipped)  # unlistable
        midi = len(found.files) + len(found.skipped) - folders
        unread = f"; {folders} folder(s) in it could not be read" if folders else ""
        if not midi:
            raise CadenzaError(f"no .mid or .midi files under {folder}{unread} (each is "
                               "listed above)")
        raise CadenzaError(f"none of the {midi} MIDI files under {folder} could be used "
                           f"(each one's reason is listed above){unread}")
    return Corpus(source, songs, skipped, found.ignored, parsed=len(todo),
                  cached=len(found.files) - len(todo), seconds=time.perf_counter() - t0)


@dataclass
class Survey:
    """What :func:`survey` found under a folder."""

    files: list[Path]  # MIDI-named files to parse, sorted
    ignored: int  # entries not named as MIDI (never opened)
    skipped: list[tuple[str, str]]  # (name, reason): MIDI-named non-files, unreadable folders


def scan(folder: Path) -> tuple[list[Path], int]:
    """Sorted MIDI files under ``folder`` and the count of other files there."""
    found = survey(folder)
    return found.files, found.ignored


def survey(folder: Path) -> Survey:
    """Every entry under ``folder``, sorted into files to parse, others, and skipped.

    Regular files (or links to them) named ``.mid``/``.midi`` are parsed; a
    FIFO, socket or device of that name is skipped unopened, a dead link is
    parsed (and fails as unreadable), and a folder that cannot be listed is
    skipped as ``name/``, since what it holds is unknown. Links to folders
    are not followed. Raises if the folder is missing or holds nothing to parse.
    """
    if not folder.exists():
        raise CadenzaError(f"data folder {folder} does not exist")
    if not folder.is_dir():
        raise CadenzaError(f"data folder {folder} is not a folder")
    files, skipped, ignored = [], [], 0

    def unlistable(e: OSError) -> None:
        name = Path(e.filename).relative_to(folder).as_posix()
        if name == ".":
            raise CadenzaError(f"cannot read data folder {folder} ({e.strerror})")
        skipped.append((f"{name}/", f"cannot read this folder ({e.strerror}); "
                                    "the files in it are not counted"))

    for top, dirs, names in os.walk(folder, onerror=unlistable):
        top = Path(top)
        dirs[:] = [d for d in dirs if not (top / d).is_symlink()]
        for path in (top / n for n in names):
            if path.suffix.lower() not in C.MIDI_SUFFIXES:
                ignored += 1  # any kind of entry, never opened
            elif _is_file(path) or path.is_symlink() and not path.exists():
                files.append(path)
            elif path.exists():
                skipped.append((path.relative_to(folder).as_posix(),
                                f"not a regular file ({kind(path.stat().st_mode)})"))
    if not files and not skipped:
        raise CadenzaError(f"no .mid or .midi files under {folder}")
    return Survey(sorted(files), ignored, sorted(skipped))


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a name too long, a loop: not a file we can use
        return False


def parse_bytes(data: bytes, codec_config: CodecConfig, programs: tuple[int, ...],
                stated_keys: bool = False):
    """``(notes, None, meta, key source)`` for the bytes of a usable MIDI file (meta and
    source None for a v1 codec), ``(None, reason, None, None)`` otherwise.
    ``stated_keys``: the file's key signature is the song's real key (the export of a
    corpus in :data:`midi_io.STATED_KEYS`), not checked against the notes."""
    try:
        raw = midi_io.parse_song(data, programs)
    except midi_io.UnusableMidi as e:
        return None, str(e), None, None
    except Exception as e:  # a parser bug must cost one file, never the whole corpus
        return None, f"{CRASHED} ({type(e).__name__}: {str(e)[:100]})", None, None
    codec = Codec(codec_config)
    if codec.version < 2:
        notes, meta, source = codec.quantise(raw.notes), None, None
    else:
        notes, meta, source = codec.quantise_song(raw.notes, raw.meters, raw.key,
                                                  stated_keys)
    if len(notes) == 0:
        return None, "no notes in the piano range", None, None
    return notes, None, meta, source


def parse_task(path: Path, codec_config: CodecConfig, programs: tuple[int, ...],
               fingerprint: bytes, stated_keys: bool = False):
    """``(cache key, (notes, reason))``: the key is of exactly the bytes parsed."""
    try:
        data = midi_io.read_bytes(path)
    except midi_io.UnusableMidi as e:
        return None, (None, str(e), None, None)
    except OSError as e:
        return None, (None, f"cannot read it ({e.strerror or e})", None, None)
    return _key(data, fingerprint), parse_bytes(data, codec_config, programs, stated_keys)


def _parse_all(files, codec_config, programs, fingerprint, jobs, log, stated_keys=False):
    """Yield ``(file, cache key, (notes, reason))`` for every file, in parallel when
    worth it and safe; the files of a pool that broke are parsed again, serially."""
    bar = tqdm(total=len(files), desc="parsing MIDI", unit="file", disable=None,
               file=sys.stderr, leave=False)
    args = (codec_config, programs, fingerprint, stated_keys)
    with bar:
        serial = files
        if len(files) >= C.SERIAL_BELOW and jobs > 1 and _spawn_is_safe(log):
            serial = []
            with _pool(jobs) as pool:
                futures = {}
                for f in files:
                    try:
                        futures[pool.submit(parse_task, f, *args)] = f
                    except BrokenProcessPool:  # a worker died while files were handed out
                        serial.append(f)
                for future in as_completed(futures):
                    try:
                        key, result = future.result()
                    except Exception:  # a worker died (BrokenProcessPool): retry below
                        serial.append(futures[future])
                        continue
                    yield futures[future], key, result
                    bar.update()
            if serial:
                log(f"a parsing process died; parsing its {len(serial)} files again serially")
        for f in sorted(serial):
            yield f, *parse_task(f, *args)
            bar.update()


def _spawn_is_safe(log) -> bool:
    """Whether spawned workers can start without re-running the caller's own code.

    A spawned worker imports the main module again: a script (or ``python -m
    module``) without an ``if __name__ == "__main__":`` guard would then run
    its top level in every worker, and code read from stdin or ``-c`` has
    no file to import. Those callers get serial parsing (and one note why).
    """
    main = sys.modules.get("__main__")
    spec_name = getattr(getattr(main, "__spec__", None), "name", None)
    path = getattr(main, "__file__", None)
    if spec_name is not None and (spec_name == "__main__" or spec_name.endswith(".__main__")):
        return True  # multiprocessing never re-imports a package's __main__
    if spec_name is None and path is None:
        return True  # an interactive session: nothing is re-imported
    if path and _has_main_guard(Path(path)):
        return True
    log("parsing on one process: the calling script has no "
        "'if __name__ == \"__main__\":' guard, which worker processes need")
    return False


def _has_main_guard(path: Path) -> bool:
    try:
        tree = ast.parse(path.read_bytes())
    except (OSError, SyntaxError, ValueError):
        return False
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Compare) \
                and "__name__" in ast.unparse(node.test) and "__main__" in ast.unparse(node.test):
            return True
    return False


def _pool(jobs: int) -> ProcessPoolExecutor:
    # spawn, not fork: the caller may already hold TensorFlow or JAX threads.
    return ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"))


def _content_key(path: Path, fingerprint: bytes) -> str | None:
    """Cache key of a file's bytes; ``None`` if it cannot be read (parse_task says why)."""
    try:
        return _key(midi_io.read_bytes(path), fingerprint)
    except (OSError, midi_io.UnusableMidi):
        return None


def _key(data: bytes, fingerprint: bytes) -> str:
    return hashlib.sha256(data + fingerprint).hexdigest()


def _cache_path(cache: Path, key: str) -> Path:
    return cache / "parsed" / key[:2] / f"{key}.npz"


def _load_cached(cache: Path, key: str):
    path = _cache_path(cache, key)
    try:
        with np.load(path) as z:
            reason = str(z["reason"]) or None
            text = str(z["meta"]) if "meta" in z else ""  # "": a v1 song, or no song
            extra = json.loads(text) if text else None
            meta = Meta.from_json(extra["meta"]) if extra else None
            return ((None if reason else z["notes"].astype(np.int32)), reason, meta,
                    extra["key_source"] if extra else None)
    except (OSError, KeyError, ValueError, TypeError, IndexError, EOFError,
            zipfile.BadZipFile):  # damaged: parse again
        return None


def _store_cached(cache: Path, key: str, result) -> None:
    notes, reason, meta, source = result
    path = _cache_path(cache, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    extra = json.dumps({"meta": meta.to_json(), "key_source": source}) if meta else ""
    try:
        np.savez(tmp, notes=notes if notes is not None else np.zeros((0, 3), np.int32),
                 reason=np.array(reason or ""), meta=np.array(extra))
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)  # a full disk leaves no half entry


def builtin_folder(corpus: str, cache: Path, jobs: int, log) -> tuple[Path, list]:
    """Export a built-in corpus to MIDI once; return its folder and export failures."""
    folder = cache / "corpora" / f"{corpus}-{midi_io.builtin_version()}"
    manifest = folder.with_name(folder.name + ".json")  # beside, so scan() never sees it
    if not manifest.exists():
        units = midi_io.builtin_units(corpus)
        log(f"exporting the built-in corpus '{corpus}' from music21 to {folder} (once)")
        staging = folder.with_name(folder.name + ".staging")
        for old in (staging, folder):  # an interrupted export's
            shutil.rmtree(old, ignore_errors=True)
        dirs = [staging / f"{i:05d}" for i in range(len(units))]
        results = {}
        bar = tqdm(total=len(units), desc=f"exporting {corpus}", unit="unit", disable=None,
                   file=sys.stderr, leave=False)
        with bar:
            for i, result in _export_all(corpus, units, dirs, jobs, log):
                results[i] = result
                bar.update()
        failed = settle_export([results[i] for i in range(len(units))], dirs, folder)
        shutil.rmtree(staging, ignore_errors=True)
        manifest.write_text(json.dumps({"units": len(units), "failed": failed}, indent=1))
    failed = json.loads(read_text(manifest))["failed"]
    return folder, sorted(failed.items())


def settle_export(results: list[list[tuple[str, str | None]]], unit_dirs: list[Path],
                  folder: Path) -> dict[str, str]:
    """Move each song's file from its unit's folder into ``folder``; return the failures.

    ``results[i]`` is unit ``i``'s :func:`midi_io.export_unit` result, its files
    in ``unit_dirs[i]``. Where several units hold a song of the same name (the
    O'Neill collection has 171 tune numbers in two ABC files), the first unit
    in sorted order that exported it wins, whatever order the workers finished
    in; a song fails only where no unit exported it.
    """
    folder.mkdir(parents=True, exist_ok=True)
    done, failed = set(), {}
    for result, unit_dir in zip(results, unit_dirs):
        for name, err in result:
            if name in done:
                continue
            if err:
                failed.setdefault(name, err)
                continue
            (unit_dir / f"{name}.mid").replace(folder / f"{name}.mid")
            done.add(name)
            failed.pop(name, None)
    return failed


def _export_all(corpus: str, units: list[str], dirs: list[Path], jobs: int, log):
    """Yield ``(i, midi_io.export_unit's result)`` for each unit ``i``, exported into its
    own folder ``dirs[i]``, in parallel when safe."""
    for d in dirs:
        d.mkdir(parents=True)
    if not _spawn_is_safe(log):
        for i, u in enumerate(units):
            yield i, midi_io.export_unit(corpus, u, dirs[i])
        return
    with _pool(jobs) as pool:
        futures = {pool.submit(midi_io.export_unit, corpus, u, dirs[i]): i
                   for i, u in enumerate(units)}
        for future in as_completed(futures):
            try:
                yield futures[future], future.result()
            except BrokenProcessPool as e:  # no manifest: the next run exports again
                raise CadenzaError(f"exporting the built-in corpus '{corpus}' failed: a "
                                   f"music21 process died ({e}); run the command again")


def _stderr(line: str) -> None:
    tqdm.write(line, file=sys.stderr)


def split_names(names: list[str], val_fraction: float, seed: int, test_fraction: float = 0.0,
                test: list[str] | None = None):
    """Split song names into (train, validation, test) by song, reproducibly from ``seed``.

    One permutation of ``names`` from ``seed``: its first ``test_fraction``
    is the test set, the next ``val_fraction`` validation, the rest training.
    With ``test_fraction == 0`` (runs from before the test split) the first
    ``val_fraction`` is validation, so a v1 run's validation songs are exactly
    the test songs of a later run with the same seed and fractions swapped in.
    At least one song lands in training and validation; raises if fewer than
    2 (3 with a test set). ``test`` names the test songs instead (those the
    corpus holds); validation is then cut from the permutation of the rest.
    """
    if test is not None:
        chosen = set(test) & set(names)
        if not chosen:
            raise CadenzaError("--test-songs: none of its songs is in this corpus")
        rest = [n for n in names if n not in chosen]
        train, val, _ = split_names(rest, val_fraction * len(names) / max(len(rest), 1), seed)
        return train, val, sorted(chosen)
    need = 3 if test_fraction else 2
    if len(names) < need:
        raise CadenzaError(f"need at least {need} usable songs to hold some out for "
                           f"validation{' and test' if test_fraction else ''}, found {len(names)}")
    order = np.random.default_rng(seed).permutation(len(names))
    n_test = min(max(1, round(test_fraction * len(names))), len(names) - 2) if test_fraction else 0
    n_val = min(max(1, round(val_fraction * len(names))), len(names) - n_test - 1)
    test = sorted(names[i] for i in order[:n_test])
    val = sorted(names[i] for i in order[n_test:n_test + n_val])
    train = sorted(names[i] for i in order[n_test + n_val:])
    return train, val, test


PASS_MIN_BARS, PASS_SLACK = 4, 2  # a pass is 4 bars at least; 2 bars of it may differ


def _bar_contents(song: Song) -> list[tuple]:
    """Each bar's notes as sorted ``(onset in the bar, duration, pitch)``."""
    starts = song.meta.bar_starts()
    edges = np.r_[starts, np.iinfo(np.int64).max]
    which = np.searchsorted(edges, song.notes[:, 0], side="right") - 1
    bars = [[] for _ in starts]
    for (t, d, p), b in zip(song.notes.tolist(), which.tolist()):
        if b >= 0:
            bars[b].append((t - int(starts[b]), d, p))
    return [tuple(sorted(b)) for b in bars]


def pass_length(bars: list) -> int | None:
    """The bars of one pass where ``bars`` play their tune again from its first bar to
    the end (all but :data:`PASS_SLACK` of them alike, endings and last notes differing,
    and at least a whole pass again): the least such; None where they do not."""
    n = len(bars)
    for b in range(PASS_MIN_BARS, n // 2 + 1):
        rest = n - b
        if rest >= b - PASS_SLACK and sum(
                bars[b + i] == bars[i] for i in range(rest)) >= rest - PASS_SLACK:
            return b
    return None


def first_pass(song: Song) -> Song:
    """``song`` up to where its tune starts again: some MIDI files (O'Neill's) play
    their tune two or more times over, and a network trained on them learns that a
    tune goes on after its bars have come back (How it works: "Bars that come
    back"). A song that does not is returned as it is. Repeated until none is left
    (a pass can itself hold passes)."""
    while song.meta is not None and len(song.meta.bars) >= 2 * PASS_MIN_BARS:
        b = pass_length(_bar_contents(song))
        if b is None:
            break
        end = song.meta.bars[b][0]
        notes = song.notes[song.notes[:, 0] < end].copy()
        notes[:, 1] = np.minimum(notes[:, 1], end - notes[:, 0])  # nothing sounds past it
        song = Song(song.name, notes, Meta(song.meta.key, song.meta.meter,
                                           song.meta.bars[:b]), song.key_source)
    return song


def split_songs(corpus: Corpus, split: dict, one_pass: bool = False) -> dict[str, list[Song]]:
    """The corpus's songs of each part of ``split`` (train, validation, and test if any).
    With ``one_pass``, each training and validation song is cut to its :func:`first_pass`
    (``--one-pass``); the test songs stay whole, as the corpus has them."""
    if not (isinstance(split, dict) and isinstance(split.get("train"), list)
            and isinstance(split.get("validation"), list)
            and isinstance(split.get("test", []), list)):
        raise CadenzaError("split.json of this run is missing or damaged")
    by_name = {s.name: s for s in corpus.songs}
    parts = {p: split.get(p, []) for p in ("train", "validation", "test")}
    missing = [n for names in parts.values() for n in names if n not in by_name]
    if missing:
        raise CadenzaError(f"{len(missing)} songs of this run's split are no longer in the "
                           f"corpus (e.g. {missing[0]}); the data changed since the run began")
    cut = first_pass if one_pass else (lambda song: song)
    return {p: [by_name[n] if p == "test" else cut(by_name[n]) for n in names]
            for p, names in parts.items()}
