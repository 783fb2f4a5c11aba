"""Keras callbacks that make a run resumable, logged and visible.

:class:`EpochEnd` is the only writer of a run's progress. At each epoch end,
in this order: learning-rate and early-stopping decisions, the new last
checkpoint (model + optimizer), the best weights if validation loss improved,
a row of ``log.csv``, then ``state.json`` -- the commit point that names the
checkpoint to resume from -- and only then the older checkpoint is deleted.
A run killed between any two of these steps resumes from a consistent state.
"""

from __future__ import annotations

import csv
import math
import os
import sys
import time

import keras
from tqdm import tqdm

from trainer.runs import RunDir

LOG_FIELDS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate",
              "tokens_per_second", "seconds")
LR_PATIENCE = 2  # halve the learning rate after this many epochs without improvement


def fresh_state() -> dict:
    return {"epoch": 0, "checkpoint": None, "best_val_loss": math.inf, "best_epoch": 0,
            "wait": 0, "stopped": None, "seconds": 0.0, "targets": 0}


class EpochEnd(keras.callbacks.Callback):
    """Checkpoints, logs, early stopping and plateau learning-rate halving."""

    def __init__(self, run: RunDir, state: dict, patience: int, epoch_targets):
        super().__init__()
        self.run, self.state, self.patience = run, state, patience
        self.epoch_targets = epoch_targets  # epoch -> target tokens trained on
        self._trim_log(state["epoch"])

    def on_epoch_begin(self, epoch, logs=None):
        self.t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        seconds = time.perf_counter() - self.t0
        s = self.state
        lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        improved = logs["val_loss"] < s["best_val_loss"]
        s["wait"] = 0 if improved else s["wait"] + 1
        if s["wait"] >= self.patience:
            s["stopped"] = "early"
            self.model.stop_training = True
        elif s["wait"] and s["wait"] % LR_PATIENCE == 0:
            self.model.optimizer.learning_rate.assign(lr / 2)
        old = s["checkpoint"]
        s["checkpoint"] = self._save_checkpoint(epoch + 1)
        if improved:
            tmp = self.run.path / ".tmp.best.weights.h5"
            self.model.save_weights(tmp)
            os.replace(tmp, self.run.best_weights)
            s["best_val_loss"], s["best_epoch"] = float(logs["val_loss"]), epoch + 1
        targets = self.epoch_targets(epoch)
        row = {**{k: logs.get(k) for k in LOG_FIELDS}, "epoch": epoch + 1, "learning_rate": lr,
               "tokens_per_second": round(targets / seconds), "seconds": round(seconds, 2)}
        self._append_log(row)
        s.update(epoch=epoch + 1, seconds=s["seconds"] + seconds, targets=s["targets"] + targets)
        self.run.write_json("state.json", s)
        if old and old != s["checkpoint"]:
            (self.run.path / old).unlink(missing_ok=True)
        mark = " *" if improved else ""
        print(f"epoch {epoch + 1}: loss {logs['loss']:.4f}  val_loss {logs['val_loss']:.4f}{mark}"
              f"  val_acc {logs.get('val_accuracy', float('nan')):.3f}  lr {lr:.2g}"
              f"  {row['tokens_per_second']:,} tok/s  {seconds:.1f} s", flush=True)

    def _save_checkpoint(self, epoch: int) -> str:
        self.run.checkpoints.mkdir(exist_ok=True)
        name = f"last-e{epoch:04d}.keras"
        tmp = self.run.checkpoints / f".tmp-{name}"
        self.model.save(tmp)
        os.replace(tmp, self.run.checkpoints / name)
        return f"checkpoints/{name}"

    def _append_log(self, row: dict) -> None:
        new = not self.run.log_csv.exists()
        with open(self.run.log_csv, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=LOG_FIELDS)
            if new:
                writer.writeheader()
            writer.writerow(row)

    def _trim_log(self, epoch: int) -> None:
        """Drop log rows of epochs after the resume point (a kill after logging)."""
        if not self.run.log_csv.exists():
            return
        with open(self.run.log_csv, newline="") as f:
            rows = [r for r in csv.DictReader(f) if int(r["epoch"]) <= epoch]
        with open(self.run.log_csv, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=LOG_FIELDS)
            writer.writeheader()
            writer.writerows(rows)


class Progress(keras.callbacks.Callback):
    """A tqdm bar per epoch (on a terminal) with loss and tokens per second."""

    def __init__(self, epochs: int, steps: int, epoch_targets):
        super().__init__()
        self.epochs, self.steps, self.epoch_targets = epochs, steps, epoch_targets

    def on_epoch_begin(self, epoch, logs=None):
        self.targets = self.epoch_targets(epoch)
        self.t0 = time.perf_counter()
        self.desc = f"epoch {epoch + 1}/{self.epochs}"
        self.bar = tqdm(total=self.steps, desc=self.desc, unit="batch", file=sys.stderr,
                        disable=None, leave=False)

    def on_train_batch_end(self, batch, logs=None):
        rate = self.targets * (batch + 1) / self.steps / max(time.perf_counter() - self.t0, 1e-9)
        self.bar.set_postfix(loss=f"{(logs or {}).get('loss', float('nan')):.4f}",
                             tok_s=f"{rate:,.0f}", refresh=False)
        self.bar.update()

    def on_test_begin(self, logs=None):
        if hasattr(self, "bar"):
            self.bar.set_description_str(f"{self.desc} (validating)")

    def on_epoch_end(self, epoch, logs=None):
        self.bar.close()
