"""Keras callbacks that make a run resumable, logged and visible.

:class:`EpochEnd` is the only writer of a run's progress. At each epoch end,
in this order: learning-rate and early-stopping decisions, the new last
checkpoint (model + optimizer) and, if validation loss improved, the new best
weights as ``checkpoints/best-eNNNN.weights.h5`` -- each written whole and
read back before it gets its name -- a row of ``log.csv``, then
``state.json``, the commit point that names the checkpoint to resume from and
keeps the one before it as ``previous``. Only then does :func:`settle` move
the new best weights to ``best.weights.h5`` and delete older checkpoints. A
failure before the commit (a full disk) removes what the epoch wrote; a kill
at any point resumes from a consistent state, as :func:`settle` finishes or
discards what the last epoch began.
"""

from __future__ import annotations

import csv
import math
import os
import re
import sys
import time
from pathlib import Path

import keras
from tqdm import tqdm

from trainer import constants as C
from trainer.nn.checkpoints import save_verified, weights_of
from trainer.nn.model import swap_average
from trainer.nn.runs import RunDir

LOG_FIELDS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate",
              "tokens_per_second", "seconds")


def fresh_state() -> dict:
    return {"epoch": 0, "checkpoint": None, "best_val_loss": math.inf, "best_epoch": 0,
            "wait": 0, "stopped": None, "seconds": 0.0, "targets": 0, "previous": None}


def settle(run: RunDir, state: dict) -> None:
    """Finish what the commit of ``state`` began and drop what no commit names.

    The committed epoch's pending best weights become ``best.weights.h5``;
    checkpoints other than the last two, pending weights of uncommitted
    epochs and temporary files are deleted.
    """
    pending = _best_pending(run, state["epoch"])
    if state["best_epoch"] == state["epoch"] and pending.exists():
        os.replace(pending, run.best_weights)
    keep = {state.get("checkpoint"), (state.get("previous") or {}).get("checkpoint")}
    if run.checkpoints.is_dir():
        for p in run.checkpoints.iterdir():
            ours = re.fullmatch(r"(\.tmp-)?(last-e\d+\.keras|best-e\d+\.weights\.h5)", p.name)
            if ours and f"checkpoints/{p.name}" not in keep:
                p.unlink(missing_ok=True)
    for p in run.path.glob(".*.tmp"):  # a JSON write cut short by a kill
        p.unlink(missing_ok=True)
    (run.path / ".tmp.best.weights.h5").unlink(missing_ok=True)  # older versions' name


def _clock(seconds: float) -> str:
    """``12m05s`` / ``45s``."""
    m, s = divmod(round(seconds), 60)
    return f"{m}m{s:02d}s" if m else f"{s}s"


def _best_pending(run: RunDir, epoch: int) -> Path:
    return run.checkpoints / f"best-e{epoch:04d}.weights.h5"


class EpochEnd(keras.callbacks.Callback):
    """Checkpoints, logs, early stopping and plateau learning-rate halving."""

    def __init__(self, run: RunDir, state: dict, patience: int, epoch_targets,
                 halve_on_plateau: bool = True, keep_last: bool = False):
        super().__init__()
        self.run, self.state, self.patience = run, state, patience
        self.halve_on_plateau = halve_on_plateau  # else the optimizer's schedule sets the LR
        self.keep_last = keep_last  # a refit: every epoch's weights are the best, no stopping
        self.epoch_targets = epoch_targets  # epoch -> target tokens trained on
        self._trim_log(state["epoch"])

    def on_train_begin(self, logs=None):
        self.run_seconds, self.run_epochs = 0.0, 0  # this process's epochs, for the ETA

    def on_epoch_begin(self, epoch, logs=None):
        self.t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        seconds = time.perf_counter() - self.t0
        s = dict(self.state)  # the state to commit; self.state stays the committed one
        lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        improved = self.keep_last or logs["val_loss"] < s["best_val_loss"]
        s["wait"] = 0 if improved else s["wait"] + 1
        if s["wait"] >= self.patience:
            s["stopped"] = "early"
        elif self.halve_on_plateau and s["wait"] and s["wait"] % C.LR_PATIENCE == 0:
            self.model.optimizer.learning_rate.assign(lr / 2)
        if improved:
            s["best_val_loss"], s["best_epoch"] = float(logs["val_loss"]), epoch + 1
        targets = self.epoch_targets(epoch)
        row = {**{k: logs.get(k) for k in LOG_FIELDS}, "epoch": epoch + 1, "learning_rate": lr,
               "tokens_per_second": round(targets / seconds), "seconds": round(seconds, 2)}
        s.update(epoch=epoch + 1, seconds=s["seconds"] + seconds, targets=s["targets"] + targets)
        swapped = swap_average(self.model)  # checkpoints hold the average, if one is kept
        try:
            self._commit(s, improved, row)
        finally:
            if swapped:
                swap_average(self.model)
        if s["stopped"]:
            self.model.stop_training = True
        mark = " *" if improved else ""
        self.run_seconds, self.run_epochs = self.run_seconds + seconds, self.run_epochs + 1
        left = 0 if s["stopped"] else self.params["epochs"] - (epoch + 1)
        eta = f"  eta {_clock(left * self.run_seconds / self.run_epochs)}" if left else ""
        print(f"epoch {epoch + 1}: loss {logs['loss']:.4f}  val_loss {logs['val_loss']:.4f}{mark}"
              f"  val_acc {logs.get('val_accuracy', float('nan')):.3f}  lr {lr:.2g}"
              f"  {row['tokens_per_second']:,} tok/s  {seconds:.1f} s{eta}", flush=True)

    def _commit(self, s: dict, improved: bool, row: dict) -> None:
        """Write the epoch's files, then ``state.json`` = ``s``; on failure remove them."""
        old, written = self.state, []
        try:
            self.run.checkpoints.mkdir(exist_ok=True)
            name = f"last-e{s['epoch']:04d}.keras"
            checkpoint = save_verified(self.model.save, self.run.checkpoints / name)
            written.append(checkpoint)
            if improved:
                weights = weights_of(checkpoint)
                written.append(save_verified(lambda tmp: tmp.write_bytes(weights),
                                             _best_pending(self.run, s["epoch"])))
            self._append_log(row)
            s["previous"] = {k: v for k, v in old.items() if k != "previous"} \
                if old["checkpoint"] else None
            s["checkpoint"] = f"checkpoints/{name}"
            self.run.write_json("state.json", s)
        except BaseException:
            for path in written:
                path.unlink(missing_ok=True)
            raise
        old.clear()
        old.update(s)
        settle(self.run, old)

    def _append_log(self, row: dict) -> None:
        new = not self.run.log_csv.exists()
        with open(self.run.log_csv, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=LOG_FIELDS)
            if new:
                writer.writeheader()
            writer.writerow(row)

    def _trim_log(self, epoch: int) -> None:
        """Drop log rows of epochs after the resume point (a kill or a full disk after
        logging), and any row cut short; rewrites the file atomically."""
        if not self.run.log_csv.exists():
            return
        with open(self.run.log_csv, newline="") as f:
            rows = [r for r in csv.DictReader(f)
                    if (r.get("epoch") or "").isdigit() and int(r["epoch"]) <= epoch
                    and None not in r.values()]
        tmp = self.run.log_csv.with_name(".log.csv.tmp")
        try:
            with open(tmp, "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=LOG_FIELDS)
                writer.writeheader()
                writer.writerows(rows)
            os.replace(tmp, self.run.log_csv)
        finally:
            tmp.unlink(missing_ok=True)


class ReplayRates(keras.callbacks.Callback):
    """Sets each epoch's learning rate from a list (a refit replays its source run's)."""

    def __init__(self, rates: list[float]):
        super().__init__()
        self.rates = rates

    def on_epoch_begin(self, epoch, logs=None):
        self.model.optimizer.learning_rate.assign(self.rates[min(epoch, len(self.rates) - 1)])


class Progress(keras.callbacks.Callback):
    """One tqdm bar for the whole run (on a terminal): epoch, loss, tokens/s and its ETA."""

    def __init__(self, epochs: int, steps: int, epoch_targets):
        super().__init__()
        self.epochs, self.steps, self.epoch_targets = epochs, steps, epoch_targets
        self.bar = None

    def on_epoch_begin(self, epoch, logs=None):
        self.targets = self.epoch_targets(epoch)
        self.t0 = time.perf_counter()
        self.desc = f"epoch {epoch + 1}/{self.epochs}"
        if self.bar is None:  # the run's remaining batches, so tqdm's ETA is the run's
            self.bar = tqdm(total=(self.epochs - epoch) * self.steps, unit="batch",
                            file=sys.stderr, disable=None, leave=False, dynamic_ncols=True)
        self.bar.set_description_str(self.desc)

    def on_train_batch_end(self, batch, logs=None):
        rate = self.targets * (batch + 1) / self.steps / max(time.perf_counter() - self.t0, 1e-9)
        self.bar.set_postfix(loss=f"{(logs or {}).get('loss', float('nan')):.4f}",
                             tok_s=f"{rate:,.0f}", refresh=False)
        self.bar.update()

    def on_test_begin(self, logs=None):
        if self.bar is not None:
            self.bar.set_description_str(f"{self.desc} (validating)")

    def on_train_end(self, logs=None):
        if self.bar is not None:
            self.bar.close()
