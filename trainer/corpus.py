"""A folder of MIDI files (or a built-in corpus) -> quantised songs, cached.

``prepare`` reads every ``.mid``/``.midi`` file under a folder, in parallel,
and returns the usable ones as :class:`Song` objects. Every unusable file is
named with its reason, and a summary counts what was used. Parsed songs are
cached by file content hash + codec parameters, so a second run only hashes
and loads; a changed file is parsed again.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import sys
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from trainer import constants as C
from trainer import midi_io
from trainer.codec import Codec
from trainer.config import CodecConfig, DataConfig
from trainer.errors import CadenzaError


@dataclass(frozen=True)
class Song:
    """One usable file: its path relative to the corpus folder and its notes."""

    name: str
    notes: np.ndarray


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
        return [codec.encode(s.notes) for s in self.songs]

    def summary(self, codec: Codec) -> str:
        notes = sum(len(s.notes) for s in self.songs)
        tokens = sum(len(t) for t in self.tokens(codec))
        return (f"{self.source}: used {len(self.songs)} files, skipped {len(self.skipped)}, "
                f"ignored {self.ignored} non-MIDI; {notes:,} notes, {tokens:,} tokens "
                f"({self.parsed} parsed, {self.cached} from cache, {self.seconds:.1f} s)")


def prepare(data: DataConfig, codec: Codec, log=None) -> Corpus:
    """Read, check, quantise and cache every MIDI file of ``data``.

    Unusable files are reported through ``log`` (default: stderr), one line
    each. Raises :class:`CadenzaError` if the folder is missing or empty, or
    if no file in it can be used.
    """
    log = log or _stderr
    t0 = time.perf_counter()
    cache = data.resolved_cache_dir()
    if data.data_dir is None:
        folder, skipped = builtin_folder(data.corpus, cache, data.resolved_jobs(), log)
        source = f"built-in corpus '{data.corpus}'"
    else:
        folder, skipped, source = Path(data.data_dir), [], str(data.data_dir)
    files, ignored = scan(folder)
    fingerprint = json.dumps({"codec": codec.to_json()["params"], "programs": list(data.programs),
                              "parser": C.PARSER_VERSION}, sort_keys=True).encode()
    keys = {f: _content_key(f, fingerprint) for f in files}
    results = {f: _load_cached(cache, keys[f]) if keys[f] else None for f in files}
    todo = [f for f, r in results.items() if r is None]
    for f, result in _parse_all(todo, codec.config, data.programs, data.resolved_jobs()):
        if keys[f]:
            _store_cached(cache, keys[f], result)
        results[f] = result
    songs = []
    for f in files:
        notes, reason = results[f]
        name = f.relative_to(folder).as_posix()
        if reason is None:
            songs.append(Song(name, notes))
        else:
            skipped.append((name, reason))
    for name, reason in skipped:
        log(f"skipped {name!r}: {reason}" if "\n" in name else f"skipped {name}: {reason}")
    if not songs:
        raise CadenzaError(f"none of the {len(files)} MIDI files under {folder} could be used "
                           "(each one's reason is listed above)")
    return Corpus(source, songs, skipped, ignored, parsed=len(todo),
                  cached=len(files) - len(todo), seconds=time.perf_counter() - t0)


def scan(folder: Path) -> tuple[list[Path], int]:
    """Sorted MIDI files under ``folder`` and the count of other files there."""
    if not folder.exists():
        raise CadenzaError(f"data folder {folder} does not exist")
    if not folder.is_dir():
        raise CadenzaError(f"data folder {folder} is not a folder")
    files, ignored = [], 0
    for path in sorted(folder.rglob("*")):
        midi = path.suffix.lower() in C.MIDI_SUFFIXES
        broken_link = path.is_symlink() and not path.exists()  # reported, not lost
        if path.is_file() or (midi and broken_link):
            if midi:
                files.append(path)
            else:
                ignored += 1
    if not files:
        raise CadenzaError(f"no .mid or .midi files under {folder}")
    return files, ignored


def parse_file(path: Path, codec_config: CodecConfig, programs: tuple[int, ...]):
    """``(notes, None)`` for a usable file, ``(None, reason)`` otherwise."""
    try:
        raw = midi_io.read_midi(path, programs)
    except midi_io.UnusableMidi as e:
        return None, str(e)
    except OSError as e:
        return None, f"cannot read it ({e.strerror or e})"
    except Exception as e:  # a parser bug must cost one file, never the whole corpus
        return None, f"parser crashed ({type(e).__name__}: {str(e)[:100]})"
    notes = Codec(codec_config).quantise(raw)
    if len(notes) == 0:
        return None, "no notes in the piano range"
    return notes, None


def _parse_all(files, codec_config, programs, jobs):
    """Yield ``(file, (notes, reason))`` for every file, in parallel when worth it."""
    bar = tqdm(total=len(files), desc="parsing MIDI", unit="file", disable=None,
               file=sys.stderr, leave=False)
    with bar:
        if len(files) < C.SERIAL_BELOW or jobs == 1:
            for f in files:
                yield f, parse_file(f, codec_config, programs)
                bar.update()
            return
        with _pool(jobs) as pool:
            futures = {pool.submit(parse_file, f, codec_config, programs): f for f in files}
            for future in as_completed(futures):
                try:
                    result = future.result()
                except Exception as e:  # the worker process died: report the file, keep going
                    result = None, f"parser crashed ({type(e).__name__})"
                yield futures[future], result
                bar.update()


def _pool(jobs: int) -> ProcessPoolExecutor:
    # spawn, not fork: the caller may already hold TensorFlow or JAX threads.
    return ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"))


def _content_key(path: Path, fingerprint: bytes) -> str | None:
    """Cache key of a file's bytes; ``None`` if it cannot be read (parse_file says why)."""
    try:
        return hashlib.sha256(path.read_bytes() + fingerprint).hexdigest()
    except OSError:
        return None


def _cache_path(cache: Path, key: str) -> Path:
    return cache / "parsed" / key[:2] / f"{key}.npz"


def _load_cached(cache: Path, key: str):
    path = _cache_path(cache, key)
    try:
        with np.load(path) as z:
            reason = str(z["reason"]) or None
            return (None if reason else z["notes"].astype(np.int32)), reason
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):  # damaged: parse again
        return None


def _store_cached(cache: Path, key: str, result) -> None:
    notes, reason = result
    path = _cache_path(cache, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, notes=notes if notes is not None else np.zeros((0, 3), np.int32),
             reason=np.array(reason or ""))
    tmp.replace(path)


def builtin_folder(corpus: str, cache: Path, jobs: int, log) -> tuple[Path, list]:
    """Export a built-in corpus to MIDI once; return its folder and export failures."""
    folder = cache / "corpora" / f"{corpus}-{midi_io.builtin_version()}"
    manifest = folder.with_name(folder.name + ".json")  # beside, so scan() never sees it
    if not manifest.exists():
        folder.mkdir(parents=True, exist_ok=True)
        units = midi_io.builtin_units(corpus)
        log(f"exporting the built-in corpus '{corpus}' from music21 to {folder} (once)")
        failed = {}
        bar = tqdm(total=len(units), desc=f"exporting {corpus}", unit="unit", disable=None,
                   file=sys.stderr, leave=False)
        with bar, _pool(jobs) as pool:
            futures = [pool.submit(midi_io.export_unit, corpus, u, folder) for u in units]
            for future in as_completed(futures):
                try:
                    failed.update({name: err for name, err in future.result() if err})
                except BrokenProcessPool as e:  # no manifest: the next run exports again
                    raise CadenzaError(f"exporting the built-in corpus '{corpus}' failed: a "
                                       f"music21 process died ({e}); run the command again")
                bar.update()
        manifest.write_text(json.dumps({"units": len(units), "failed": failed}, indent=1))
    failed = json.loads(manifest.read_text())["failed"]
    return folder, sorted(failed.items())


def _stderr(line: str) -> None:
    tqdm.write(line, file=sys.stderr)


def split_names(names: list[str], val_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Split song names into (train, validation) by song, reproducibly from ``seed``.

    At least one song lands on each side; raises if there are fewer than two.
    """
    if len(names) < 2:
        raise CadenzaError(f"need at least 2 usable songs to hold some out for validation, "
                           f"found {len(names)}")
    order = np.random.default_rng(seed).permutation(len(names))
    n_val = min(max(1, round(val_fraction * len(names))), len(names) - 1)
    val = sorted(names[i] for i in order[:n_val])
    train = sorted(names[i] for i in order[n_val:])
    return train, val
