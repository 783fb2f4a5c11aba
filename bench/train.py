"""Benchmark training: network speed, and wall-clock to a validation NLL.

One run, one backend (``KERAS_BACKEND``, default tensorflow), three parts:

1. **speed**: training tokens per second, counting every timestep of every
   window of a batch, of our model (``trainer.nn.model.build_model``) and of a
   plain Keras Embedding -> LSTM -> Dense network of the same size, at the
   batch and window of each recipe. Both are compiled by
   ``trainer.nn.model.compile_model`` (same loss, optimizer and clipping) and
   fed the same windows, so the figures differ by the network alone.
2. **time to target**: the *old* recipe (the shipped chorales model's
   settings, read from ``site/models/chorales/config.json``) and the *new*
   one (the defaults of ``trainer/constants.py``, read at run time) each run
   ``python -m trainer train`` into a temporary folder. After every epoch
   that improves, the trainer is paused (SIGSTOP) while this process scores
   its ``best.weights.h5`` on whole held-out songs, as ``evaluate`` does; it
   is stopped once that NLL is at most ``--target``. The wall-clock runs from
   the trainer's start (imports and corpus included), paused time excluded.
   Both recipes hold out the same songs, and whole songs make the yardstick
   independent of the window length.
3. **classic** (``--classic``): training *targets* per second against the
   classic tutorial pipeline (Classical-Piano-Composer: every window of 100
   tokens materialised as floats, one target per window). This measures the
   data pipeline -- each of our windows trains every position, each of its
   one -- not a faster network: part 1 is the network comparison.

Usage: ``KERAS_BACKEND=jax python bench/train.py [--target 1.60] [--batches 12] [--classic]``.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from trainer.nn import backend

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "site" / "models" / "chorales" / "config.json"
EPOCH_LINE = re.compile(r"^epoch (\d+): .*val_loss ([0-9.]+)( \*)?")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--target", type=float, default=1.60,
                   help="held-out NLL per token (nats, whole songs) both recipes race to")
    p.add_argument("--max-minutes", type=float, default=20,
                   help="give up on a recipe after this much training wall-clock")
    p.add_argument("--new-flags", default="",
                   help="extra `trainer train` flags for the new recipe (e.g. make run's)")
    p.add_argument("--batches", type=int, default=12, help="batches per timed speed epoch")
    p.add_argument("--epochs", type=int, default=3, help="speed epochs per model (first untimed)")
    p.add_argument("--skip", nargs="*", default=[], choices=("speed", "target"))
    p.add_argument("--classic", action="store_true", help="also run part 3")
    return p.parse_args(argv)


def recipes(new_flags: str = "") -> dict:
    """``{"old": RunConfig, "new": RunConfig}`` (run folders still to be set)."""
    import json

    from trainer.config import RunConfig

    old = RunConfig.from_dict(json.loads(SHIPPED.read_text())["training"]["settings"])
    new = RunConfig()
    if new_flags:
        from trainer import cli
        from trainer.config import ModelConfig, TrainConfig

        _, given = cli.parse(["train", "--run-dir", "x", *shlex.split(new_flags)])
        new = replace(new, model=replace(new.model, **given[ModelConfig]),
                      train=replace(new.train, **{k: v for k, v in given[TrainConfig].items()
                                                  if k != "run_dir"}))
    return {"old": old, "new": new}


def describe(rc) -> str:
    t, m = rc.train, rc.model
    return (f"batch {t.batch_size}, window {t.window_size}, lr {t.learning_rate:g} "
            f"{getattr(t, 'schedule', 'plateau')}, dropout {m.dropout:g}, transpose "
            f"{t.transpose}, epochs {t.epochs}, patience {t.patience}")


def _quiet(line: str) -> None:
    """The corpus's skipped-file lines: the trainer prints them once, this bench does not."""


# --- 1. speed ------------------------------------------------------------------

def timed_fit(model, data, epochs: int, **fit_args) -> float:
    """Median seconds per epoch after the first (tracing and compiling)."""
    import keras

    seconds = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append(time.perf_counter() - self.t0)

    model.fit(data, epochs=epochs, callbacks=[Timer()], verbose=0, **fit_args)
    return float(np.median(seconds[1:]))


def plain_network(vocab: int, cfg):
    """Embedding -> L x LSTM (+ dropout) -> Dense logits, in stock Keras layers."""
    import keras
    from keras import layers

    model = keras.Sequential([keras.Input((None,), dtype="int32"),
                              layers.Embedding(vocab, cfg.embedding_size)])
    for _ in range(cfg.num_layers):
        model.add(layers.LSTM(cfg.rnn_size, return_sequences=True))
        if cfg.dropout:
            model.add(layers.Dropout(cfg.dropout))
    model.add(layers.Dense(vocab))
    return model


def windows(songs, codec, t, batches: int):
    """Training windows of ``t``'s shape over the first songs that fill ``batches`` batches."""
    from trainer.nn.dataset import Windows

    counts = np.cumsum([-(-(len(s) - 1) // t.window_size) for s in songs])
    enough = int(np.searchsorted(counts, batches * t.batch_size)) + 1
    return Windows(songs[:enough], codec, t.window_size, t.batch_size, shuffle=True, seed=0)


def speed(songs, codec, rc, args) -> list[tuple[str, int, float]]:
    """``[(network, parameters, tokens/s)]`` for ours and the plain network at ``rc``'s shape."""
    from trainer.nn.model import build_model, compile_model

    t = rc.train
    data = windows(songs, codec, t, args.batches)
    tokens = len(data) * t.batch_size * t.window_size  # every timestep, padding included
    rows = []
    for name, model in (("ours", build_model(codec, rc.model)),
                        ("plain Keras", plain_network(codec.size, rc.model))):
        compile_model(model, t)
        rows.append((name, model.count_params(), tokens / timed_fit(model, data, args.epochs)))
    return rows


# --- 2. time to target -----------------------------------------------------------

class Scorer:
    """Whole-song held-out NLL per token of a run's ``best.weights.h5``, as ``evaluate``
    scores it: the numpy Stepper from BOS, every song whole."""

    def __init__(self, rc, val_songs):
        from trainer.music.codec import Codec
        from trainer.nn.model import build_model, inference_network

        self.codec = Codec(rc.codec)
        self.model = build_model(self.codec, rc.model)  # built once: compiled once
        self.network = inference_network(self.model, self.codec, rc.model)
        self.val_songs = val_songs

    def __call__(self, weights: Path) -> float:
        from trainer.compose.stepper import Stepper
        from trainer.evaluation.likelihood import score, song_predictions
        from trainer.nn.model import inference_weights

        self.model.load_weights(weights)
        stepper = Stepper(inference_weights(self.model, self.network), self.network, self.codec)
        nll, hits = zip(*(song_predictions(stepper, song) for song in self.val_songs))
        return score(nll, hits, notes=0)["nll"]


def race(name: str, rc, val_songs, target: float, max_seconds: float, work: Path) -> dict:
    """Train ``rc`` with the real CLI until the held-out NLL <= ``target``."""
    from trainer import cli

    run = work / name
    rc = replace(rc, train=replace(rc.train, run_dir=run))
    words = shlex.split(cli.command_line("train", [rc.data, rc.codec, rc.model, rc.train]))[4:]
    print(f"{name}: python -m trainer train {shlex.join(words)}", flush=True)
    scorer, log = Scorer(rc, val_songs), open(work / f"{name}.stderr", "w+")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    t0, paused, result = time.perf_counter(), 0.0, {"reached": None, "epochs": 0}
    proc = subprocess.Popen([sys.executable, "-m", "trainer", "train", *words], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        for line in proc.stdout:
            found = EPOCH_LINE.match(line)
            wall = time.perf_counter() - t0 - paused
            if not found:
                continue
            result["epochs"] = epoch = int(found[1])
            if found[3]:  # improved: best.weights.h5 is this epoch's
                stop = time.perf_counter()
                proc.send_signal(signal.SIGSTOP)
                nll = scorer(run / "best.weights.h5")
                proc.send_signal(signal.SIGCONT)
                paused += time.perf_counter() - stop
                result.update(best=nll, best_epoch=epoch)
                print(f"  {name} epoch {epoch}: held-out NLL {nll:.4f} (trainer's val_loss "
                      f"{float(found[2]):.4f}) at {wall:.0f} s", flush=True)
                if nll <= target:
                    result["reached"] = wall
                    break
            if wall > max_seconds:
                break
    finally:
        proc.kill()
        proc.wait()
    if result["reached"] is None and proc.returncode not in (0, -signal.SIGKILL):
        log.seek(0)
        print(log.read(), file=sys.stderr)
    return result


def time_to_target(args) -> dict:
    from trainer.music.codec import Codec
    from trainer.music.corpus import prepare, split_names
    from trainer.nn.train import split_tokens

    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-train-") as work:
        for name, rc in recipes(args.new_flags).items():
            codec = Codec(rc.codec)
            corpus = prepare(rc.data, codec, log=_quiet)
            train, val = split_names([s.name for s in corpus.songs], rc.train.val_fraction,
                                     rc.train.seed)
            _, val_songs = split_tokens(corpus, codec, {"train": train, "validation": val})
            print(f"{name} recipe: {describe(rc)}; {len(val)} held-out songs", flush=True)
            results[name] = race(name, rc, val_songs, args.target, args.max_minutes * 60,
                                 Path(work))
    return results


# --- 3. classic --------------------------------------------------------------------

def classic(songs, codec, rc, args, window=100) -> tuple[float, float]:
    """Training targets/s of ours at ``rc``'s shape and of the classic pipeline."""
    import keras
    from keras import layers

    from trainer.nn.model import build_model, compile_model

    t = rc.train
    data = windows(songs, codec, t, args.batches)
    model = compile_model(build_model(codec, rc.model), t)
    ours = data.epoch_targets(0) / timed_fit(model, data, args.epochs)
    tokens = np.concatenate(songs)
    n = args.batches * t.batch_size
    starts = np.arange(n) % (len(tokens) - window)
    x = (tokens[starts[:, None] + np.arange(window)] / codec.size).astype(np.float32)[..., None]
    y = keras.utils.to_categorical(tokens[starts + window], codec.size)
    net = keras.Sequential([keras.Input((window, 1))])
    for i in range(rc.model.num_layers):
        net.add(layers.LSTM(rc.model.rnn_size, return_sequences=i < rc.model.num_layers - 1))
        net.add(layers.Dropout(0.3))
    net.add(layers.Dense(codec.size, activation="softmax"))
    net.compile(loss="categorical_crossentropy", optimizer="rmsprop")
    theirs = n / timed_fit(net, x, args.epochs, y=y, batch_size=t.batch_size, shuffle=True)
    return ours, theirs


# --- report ---------------------------------------------------------------------------

def main(argv=None):
    args = parse_args(argv)
    backend.configure()
    from trainer.music.codec import Codec
    from trainer.music.corpus import prepare

    load = os.getloadavg()[0]
    print(f"{backend.describe()}; {os.cpu_count()} CPUs, load average {load:.1f} at the start")
    both = recipes(args.new_flags)
    if "speed" not in args.skip or args.classic:
        codec = Codec(both["new"].codec)
        corpus = prepare(both["new"].data, codec, log=_quiet)
        songs = corpus.tokens(codec)
        print(f"data: {corpus.source}, {len(songs)} songs, {sum(map(len, songs)):,} tokens")
    if "speed" not in args.skip:
        print("\n1. training tokens/s (every timestep), same windows, same compile:")
        print(f"  {'recipe':<7}{'batch x window':>15}{'network':>13}{'params':>10}{'tokens/s':>10}")
        for name, rc in both.items():
            shape = f"{rc.train.batch_size} x {rc.train.window_size}"
            rows = speed(songs, codec, rc, args)
            for net, params, rate in rows:
                print(f"  {name:<7}{shape:>15}{net:>13}{params:>10,}{rate:>10,.0f}", flush=True)
            print(f"  {'':<7}{'':>15}{'ours/plain':>13}{'':>10}{rows[0][2] / rows[1][2]:>10.2f}")
    if "target" not in args.skip:
        print(f"\n2. wall-clock to a held-out NLL <= {args.target} (whole songs):", flush=True)
        results = time_to_target(args)
        for name, r in results.items():
            got = (f"{r['reached']:.0f} s ({r['reached'] / 60:.1f} min), {r['epochs']} epochs"
                   if r["reached"] is not None else
                   f"not reached: best {r.get('best', float('nan')):.4f} after {r['epochs']} epochs")
            print(f"  {name:<4} {describe(both[name])}: {got}")
        old, new = results["old"]["reached"], results["new"]["reached"]
        if old and new:
            print(f"  new recipe {old / new:.2f}x faster to {args.target}")
    if args.classic:
        ours, theirs = classic(songs, codec, both["old"], args)
        print("\n3. training targets/s (next tokens predicted), not network speed:")
        print(f"  ours (old recipe's shape) {ours:,.0f} vs the classic window-100 pipeline "
              f"{theirs:,.0f}: {ours / theirs:.1f}x; each of our windows trains every position")
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end (other jobs share the CPUs)")


if __name__ == "__main__":
    main()
