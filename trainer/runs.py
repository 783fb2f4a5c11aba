"""Run folders: their layout, and which settings a (resumed) run uses.

A run folder describes itself::

    config.json         every setting (RunConfig)       vocab.json   the codec
    split.json          train / validation song names   state.json   resume point
    best.weights.h5     best weights by validation loss log.csv      one row per epoch
    checkpoints/        last checkpoint (model + optimizer state)
    tensorboard/        TensorBoard logs                metrics.json training figures
    evaluation.json     written by ``evaluate``

JSON files are written atomically (temporary file, then rename), so a run
killed at any moment leaves a folder that ``--resume`` can continue.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from trainer.codec import Codec
from trainer.config import (CodecConfig, DataConfig, ModelConfig, RunConfig, TrainConfig)
from trainer.errors import CadenzaError

# Settings a resumed run may change; every other one must match config.json.
RESUMABLE = {"epochs", "patience", "batch_size", "resume", "jobs", "cache_dir", "run_dir",
             "devices"}


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

    def has_run(self) -> bool:
        return self.config_path.exists() or self.vocab_path.exists()

    def read_json(self, name: str) -> dict | None:
        """The parsed file, or ``None`` if it does not exist."""
        path = self.path / name
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text())
        except ValueError as e:
            raise CadenzaError(f"{path} is not valid JSON ({e})") from None

    def write_json(self, name: str, obj) -> None:
        path = self.path / name
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(obj, indent=1) + "\n")
        os.replace(tmp, path)

    def config(self) -> RunConfig:
        d = self.read_json("config.json")
        if d is None:
            raise CadenzaError(f"{self.path} is not a Cadenza run folder (no config.json)")
        return RunConfig.from_dict(d)

    def codec(self) -> Codec:
        if not self.vocab_path.exists():
            raise CadenzaError(f"{self.path} has no vocab.json")
        return Codec.load(self.vocab_path)

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
    cfg = RunConfig(**{name: cls(**given[cls]) for name, cls in sections.items()})
    _check_vocab(run, Codec(cfg.codec))
    if run.has_run():
        raise CadenzaError(f"{run.path} already holds a run; pass --resume to continue it "
                           "or choose another --run-dir")
    if run.path.exists() and any(run.path.iterdir()):
        raise CadenzaError(f"{run.path} is not empty and is not a Cadenza run; "
                           "choose an empty or new --run-dir")
    return cfg


def _check_vocab(run: RunDir, codec: Codec) -> None:
    if run.vocab_path.exists() and run.codec() != codec:
        raise CadenzaError(f"{run.path} belongs to a different vocabulary "
                           f"({run.vocab_path} differs from these codec settings)")
