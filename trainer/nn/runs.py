"""Run folders: their layout, who may write them, and which settings a (resumed) run uses.

A run folder describes itself::

    config.json         every setting (RunConfig)       vocab.json   the codec
    split.json          train / validation song names   state.json   resume point
    best.weights.h5     best weights by validation loss log.csv      one row per epoch
    checkpoints/        the last two checkpoints (model + optimizer state)
    tensorboard/        TensorBoard logs                metrics.json training figures
    evaluation.json     written by ``evaluate``         .lock        held while a command writes

JSON files are written atomically (temporary file, then rename), so a run
killed at any moment leaves a folder that ``--resume`` can continue. A command
that writes into the folder holds :meth:`RunDir.lock` for as long as it runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import json
import os
from pathlib import Path

from trainer import constants as C
from trainer.config import CodecConfig, DataConfig, ModelConfig, RunConfig, TrainConfig
from trainer.errors import CadenzaError, read_text, shown
from trainer.music.codec import Codec
from trainer.nn.checkpoints import fsync

# Settings a resumed run may change; every other one must match config.json.
RESUMABLE = {"epochs", "patience", "batch_size", "resume", "jobs", "cache_dir", "run_dir",
             "devices"}
LOCK = ".lock"


class RunDir:
    """Paths and JSON files of one run folder."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.config_path = self.path / "config.json"
        self.vocab_path = self.path / "vocab.json"
        self.best_weights = self.path / "best.weights.h5"
        self.checkpoints = self.path / "checkpoints"
        self.log_csv = self.path / "log.csv"
        self.tensorboard = self.path / "tensorboard"
        self.lock_path = self.path / LOCK

    def check_folder(self, flag: str = "--run-dir") -> None:
        """Refuse a path that exists but is not a folder."""
        if self.path.exists() and not self.path.is_dir():
            raise CadenzaError(f"{flag} {self.path} is a file, not a folder")

    @contextlib.contextmanager
    def lock(self):
        """Hold the folder (created if missing) for writing; refuse if another process does.

        The lock is an ``flock`` on ``.lock``, which holds the holder's PID. The
        kernel drops it when its process dies, so a lock left by ``kill -9``
        is taken over. On exit the lock file goes, and so do the folders this
        call created if they are still empty.
        """
        self.check_folder()
        created = [p for p in (self.path, *self.path.parents) if not p.exists()]
        self.path.mkdir(parents=True, exist_ok=True)
        fd = _acquire(self.lock_path)
        try:
            yield self
        finally:
            self.lock_path.unlink(missing_ok=True)
            os.close(fd)
            for folder in created:
                with contextlib.suppress(OSError):
                    folder.rmdir()  # only if empty

    def entries(self) -> list[Path]:
        """What the folder holds, the lock file aside."""
        if not self.path.is_dir():
            return []
        return [p for p in self.path.iterdir() if p.name != LOCK]

    def has_run(self) -> bool:
        return self.config_path.exists() or self.vocab_path.exists()

    def read_json(self, name: str) -> dict | None:
        """The parsed file, or ``None`` if it does not exist."""
        path = self.path / name
        if not path.exists():
            return None
        try:
            return json.loads(read_text(path))
        except ValueError as e:
            raise CadenzaError(f"{path} is not valid JSON ({e})") from None

    def write_json(self, name: str, obj) -> None:
        """Write ``name`` whole or not at all (a full disk leaves no temporary file)."""
        write_json(self.path / name, obj)

    def config(self) -> RunConfig:
        self.check_folder()
        d = self.read_json("config.json")
        if d is None:
            raise CadenzaError(f"{self.path} is not a Cadenza run folder (no config.json)")
        if not isinstance(d, dict):
            raise CadenzaError(f"{self.config_path} does not hold a run's settings")
        if d.get("type") == C.EXPORT_TYPE:
            raise CadenzaError(f"{self.path} is an export folder, not a training run; "
                               "give the run folder that `python -m trainer train` wrote")
        missing = [k for k in C.RUN_SECTIONS if k not in d]
        if missing:  # {} would otherwise read as defaults and fail on a flag nobody gave
            raise CadenzaError(f"{self.config_path} is not a training run's (it lacks the "
                               f"{', '.join(missing)} settings)")
        try:
            return RunConfig.from_dict(d)
        except (CadenzaError, TypeError, ValueError) as e:
            raise CadenzaError(f"{self.config_path}: {e}") from None

    def codec(self) -> Codec:
        """The run's codec; refuses a vocab.json that disagrees with config.json."""
        if not self.vocab_path.exists():
            raise CadenzaError(f"{self.path} has no vocab.json")
        try:
            codec = Codec.load(self.vocab_path)
        except CadenzaError as e:
            raise CadenzaError(f"{self.vocab_path}: {e}") from None
        if self.config_path.exists() and Codec(self.config().codec) != codec:
            raise CadenzaError(f"{self.vocab_path} disagrees with the codec settings of "
                               f"{self.config_path}; one of them was edited")
        return codec

    def weights_path(self, which: str = "best") -> Path:
        """The best weights, or the last checkpoint; raises if the run has none."""
        if which == "best" and self.best_weights.exists():
            return self.best_weights
        state = self.read_json("state.json") or {}
        last = state.get("checkpoint")
        if which in ("best", "last") and last and (self.path / last).exists():
            return self.path / last
        raise CadenzaError(f"{self.path} has no trained checkpoint yet (train it first)")


def resolve_train_config(given: dict) -> RunConfig:
    """The settings of a ``train`` call: flags over defaults, or over config.json on resume.

    Raises :class:`CadenzaError` if a fresh run would overwrite another run,
    if the folder holds a different vocabulary, or if a resumed run would
    change a setting that shapes its data, vocabulary or weights.
    """
    sections = {"data": DataConfig, "codec": CodecConfig, "model": ModelConfig,
                "train": TrainConfig}
    run = RunDir(given[TrainConfig]["run_dir"])
    resume = given[TrainConfig].get("resume", False)
    if resume:
        saved = run.config()
        merged = RunConfig(**{name: dataclasses.replace(getattr(saved, name), **given[cls])
                              for name, cls in sections.items()})
        changed = [f"--{k.replace('_', '-')}" for name, cls in sections.items()
                   for k, v in given[cls].items()
                   if k not in RESUMABLE and getattr(getattr(saved, name), k) != v]
        _check_vocab(run, Codec(merged.codec))
        if changed:
            raise CadenzaError(f"--resume: {', '.join(changed)} differ from {run.config_path}; "
                               "a resumed run keeps its data, vocabulary and model")
        return merged
    refit = given[TrainConfig].get("refit")
    cfg = refit_config(given, refit) if refit else \
        RunConfig(**{name: cls(**given[cls]) for name, cls in sections.items()})
    _check_vocab(run, Codec(cfg.codec))
    if run.has_run() and not _failed_start(run, cfg):
        raise CadenzaError(f"{run.path} already holds a run; pass --resume to continue it "
                           "or choose another --run-dir")
    if not run.has_run() and run.entries():
        raise CadenzaError(f"{run.path} is not empty and is not a Cadenza run; "
                           "choose an empty or new --run-dir")
    return cfg


REFIT_FLAGS = {"run_dir", "refit", "devices", "jobs", "cache_dir"}


def refit_config(given: dict, source: Path) -> RunConfig:
    """``--refit RUN``: RUN's settings, for RUN's best epoch count, into the new run folder."""
    ref = RunDir(source)
    saved = ref.config()
    sections = {DataConfig: saved.data, CodecConfig: saved.codec, ModelConfig: saved.model,
                TrainConfig: saved.train}
    extra = sorted(f"--{k.replace('_', '-')}" for cls, flags in given.items()
                   for k, v in flags.items()
                   if k not in REFIT_FLAGS and getattr(sections[cls], k, v) != v)
    if extra:
        raise CadenzaError(f"--refit takes every setting from {shown(source)}: drop "
                           f"{', '.join(extra)}")
    if saved.train.refit:
        raise CadenzaError(f"--refit {shown(source)}: that run is itself a refit; give the run "
                           "whose validation chose its settings")
    state = ref.read_json("state.json") or {}
    if not state.get("best_epoch") or not refit_rates(ref, state["best_epoch"]):
        raise CadenzaError(f"--refit {shown(source)}: it has no finished epoch with a "
                           "validation loss and learning rate logged")
    keep = {k: v for k, v in given[TrainConfig].items() if k in ("devices",)}
    train = dataclasses.replace(saved.train, run_dir=Path(given[TrainConfig]["run_dir"]),
                                refit=Path(source), epochs=int(state["best_epoch"]),
                                resume=False, **keep)
    data = dataclasses.replace(saved.data, **{k: v for k, v in given[DataConfig].items()
                                              if k in ("jobs", "cache_dir")})
    return dataclasses.replace(saved, data=data, train=train)


def refit_rates(ref: RunDir, epochs: int) -> list[float]:
    """The learning rate of each of the first ``epochs`` epochs of ``ref`` (its log.csv)."""
    import csv

    try:
        with open(ref.log_csv, newline="") as f:
            rows = {int(r["epoch"]): float(r["learning_rate"]) for r in csv.DictReader(f)
                    if (r.get("epoch") or "").isdigit() and r.get("learning_rate")}
    except (OSError, ValueError, KeyError):
        return []
    rates = [rows.get(e) for e in range(1, epochs + 1)]
    return rates if all(r is not None for r in rates) else []


def _failed_start(run: RunDir, cfg: RunConfig) -> bool:
    """Whether the folder holds only the start of this very run, no trained epoch."""
    return not (run.path / "state.json").exists() and run.config_path.exists() \
        and run.config() == cfg


def _acquire(path: Path) -> int:
    """A descriptor of ``path`` holding its exclusive ``flock``, with our PID written in."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            if e.errno not in (errno.EWOULDBLOCK, errno.EACCES):
                raise
            raise CadenzaError(f"{path.parent} is in use by another Cadenza process (PID "
                               f"{holder}); wait for it to finish or stop it") from None
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:  # the holder removed it as we locked: lock the new one
            same = False
        if same:
            break
        os.close(fd)
    stale = os.pread(fd, 32, 0).decode(errors="replace").strip()
    if stale:
        print(f"{path.parent}: taking over the lock of process {stale}, which has ended",
              flush=True)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _check_vocab(run: RunDir, codec: Codec) -> None:
    if run.vocab_path.exists() and run.codec() != codec:
        raise CadenzaError(f"{run.path} belongs to a different vocabulary "
                           f"({run.vocab_path} differs from these codec settings)")


def write_json(path: Path, obj) -> None:
    """Write ``obj`` as JSON to ``path`` whole or not at all: a temporary file, then a
    rename (a full disk leaves no temporary file). numpy scalars become numbers."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(json.dumps(obj, indent=1, default=_plain) + "\n")
        fsync(tmp)
        os.replace(tmp, path)
    except OSError as e:
        e.filename = e.filename or str(path)  # a failed write() names no file
        raise
    finally:
        tmp.unlink(missing_ok=True)


def _plain(value):
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON")


def run_locked(path: Path, work, lock: bool = True):
    """``work()`` holding the lock of the run folder ``path``; with ``lock`` False (an
    export folder, or output written elsewhere) none is taken. A folder without a run
    is refused before anything is locked."""
    if not lock:
        return work()
    run = RunDir(path)
    run.config()
    with run.lock():
        return work()
