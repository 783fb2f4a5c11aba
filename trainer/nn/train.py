"""``python -m trainer train``: corpus -> split -> windows -> LSTM, resumable.

Writes everything into the run folder (see :mod:`trainer.nn.runs`), holding its
lock. A fresh run refuses a folder that holds anything but the start of this
same run; ``--resume`` continues from the last intact checkpoint with its
optimizer state and the settings of ``config.json``.
"""

from __future__ import annotations

import time

from trainer.config import RunConfig
from trainer.errors import CadenzaError, read_text, shown
from trainer.music.codec import Codec
from trainer.music.corpus import Corpus, key_counts, meter_counts, prepare, split_names, split_songs
from trainer.nn import backend
from trainer.nn.checkpoints import damage
from trainer.nn.runs import RunDir, refit_rates


def read_test_songs(path) -> list[str]:
    """The song names of a ``--test-songs`` file: a JSON list, or a split.json's validation."""
    import json

    try:
        d = json.loads(read_text(path))
    except (OSError, ValueError) as e:
        raise CadenzaError(f"--test-songs {shown(path)}: cannot read it ({e})") from None
    names = d.get("validation") if isinstance(d, dict) else d
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names) or not names:
        raise CadenzaError(f"--test-songs {shown(path)}: expected a list of song names or a "
                           "split.json with a 'validation' list")
    return names


def split_tokens(corpus: Corpus, codec: Codec, split: dict, one_pass: bool = False):
    """Token arrays of the split's train and validation songs, by name."""
    songs = split_songs(corpus, split, one_pass)
    return ([codec.encode(s.notes, s.meta) for s in songs["train"]],
            [codec.encode(s.notes, s.meta) for s in songs["validation"]])


def train(cfg: RunConfig) -> dict:
    """Train (or continue) the run ``cfg.train.run_dir``; return its metrics.

    Everything that can refuse the run (data, split, windows, devices, the
    checkpoint to resume from) is checked before the first file is written.
    """
    import keras

    from trainer.nn.callbacks import EpochEnd, Progress, ReplayRates, fresh_state, settle
    from trainer.nn.dataset import Windows
    from trainer.nn.model import bar_input, build_model, compile_model, context_of

    run, codec, t = RunDir(cfg.train.run_dir), Codec(cfg.codec), cfg.train
    corpus = prepare(cfg.data, codec)
    print(corpus.summary(codec), flush=True)
    split = run.read_json("split.json")
    if split is None and t.refit:
        split = {**RunDir(t.refit).read_json("split.json"), "refit": True}
    if split is None:
        train_names, val_names, test_names = split_names(
            [s.name for s in corpus.songs], t.val_fraction, t.seed, t.test_fraction,
            read_test_songs(t.test_songs) if t.test_songs else None)
        split = {"source": corpus.source, "train": train_names, "validation": val_names,
                 "test": test_names}
    train_tokens, val_tokens = split_tokens(corpus, codec, split, cfg.data.one_pass)
    rates = None
    if split.get("refit"):  # the validation songs are trained on too; their loss is reported
        train_tokens = train_tokens + val_tokens
        rates = refit_rates(RunDir(t.refit), t.epochs)
    state = run.read_json("state.json") or fresh_state()
    if state["stopped"] == "early" or state["epoch"] >= t.epochs:
        print(f"{shown(run.path)}: already finished at epoch {state['epoch']} "
              f"({state['stopped'] or 'epoch limit'}); nothing to do")
        return run.read_json("metrics.json") or {}
    try:
        train_data = Windows(train_tokens, codec, t.window_size, t.batch_size, shuffle=True,
                             transpose=t.transpose, seed=t.seed, epoch=state["epoch"],
                             burn_in=min(t.burn_in, t.window_size // 4),
                             bar_input=bar_input(codec, cfg.model),
                             context=context_of(codec, cfg.model))
        val_data = Windows(val_tokens, codec, t.window_size, t.batch_size, shuffle=False,
                           bar_input=bar_input(codec, cfg.model),
                           context=context_of(codec, cfg.model))
    except ValueError as e:
        raise CadenzaError(f"{corpus.source}: cannot cut training windows ({e})") from None

    backend.seed(t.seed + state["epoch"])
    with backend.distribution_scope(t.devices, t.batch_size):
        if state["checkpoint"]:
            model, state = _resume_model(run, state)
            train_data.epoch = state["epoch"]
            backend.seed(t.seed + state["epoch"])
        else:
            model = compile_model(build_model(codec, cfg.model), t, len(train_data))
            if t.init_from is not None:
                initialise(model, cfg, t.init_from)
        run.path.mkdir(parents=True, exist_ok=True)  # library callers hold no lock that made it
        run.write_json("config.json", cfg.to_dict())  # the first write of a fresh run
        run.write_json("vocab.json", codec.to_json())
        run.write_json("split.json", split)
        settle(run, state)
        callbacks = [*([keras.callbacks.SwapEMAWeights()] if t.ema else []),  # validate it
                     *([ReplayRates(rates)] if rates and t.schedule == "plateau" else []),
                     Progress(t.epochs, len(train_data), train_data.epoch_targets),
                     EpochEnd(run, state, t.patience, train_data.epoch_targets,
                              halve_on_plateau=t.schedule == "plateau" and not rates,
                              keep_last=bool(rates)),
                     *_tensorboard(run)]
        songs = len(split["train"]) + (len(split["validation"]) if rates else 0)
        print(f"training {model.count_params():,} parameters with {backend.describe()}: "
              f"{songs} songs ({train_data.targets():,} targets), "
              + (f"the {len(split['validation'])} validation songs among them (a refit of "
                 f"{shown(t.refit)} for its {t.epochs} epochs), " if rates else
                 f"{len(split['validation'])} for validation, ")
              + f"{len(split.get('test', []))} kept for the test", flush=True)
        t0 = time.perf_counter()
        model.fit(train_data, validation_data=val_data, epochs=t.epochs,
                  initial_epoch=state["epoch"], callbacks=callbacks, verbose=0)
    metrics = _metrics(cfg, state, model, train_data, val_data, split)
    if codec.version >= 2:
        parts = split_songs(corpus, split, cfg.data.one_pass)
        songs = parts["train"] + (parts["validation"] if split.get("refit") else [])
        metrics["conditioning"] = {"keys": key_counts(songs), "meters": meter_counts(songs)}
    run.write_json("metrics.json", metrics)
    print(f"done in {time.perf_counter() - t0:.0f} s: best val_loss {state['best_val_loss']:.4f} "
          f"at epoch {state['best_epoch']}; run folder {shown(run.path)}")
    return metrics


def initialise(model, cfg: RunConfig, source) -> None:
    """Set ``model``'s weights to those of the trained model in ``source`` (``--init-from``).

    Its codec and network must be this run's. The weights come in the plain
    (Stepper) form, so the pitch-sharing tables take the collapsed table and
    their shared parts start at zero: the same function, to the last bit.
    """
    from trainer.nn.loading import load
    from trainer.nn.model import set_inference_weights

    loaded = load(source)
    if loaded.codec.to_json() != Codec(cfg.codec).to_json():
        raise CadenzaError(f"--init-from {shown(source)}: its vocabulary differs from this run's")
    if loaded.config.model != cfg.model:
        raise CadenzaError(f"--init-from {shown(source)}: its network ({loaded.config.model}) "
                           f"differs from this run's ({cfg.model})")
    set_inference_weights(model, loaded.weights)
    print(f"starting from the weights of {shown(loaded.source)}", flush=True)


def _resume_model(run: RunDir, state: dict):
    """The model of the newest intact checkpoint and the state it belongs to.

    ``state`` names the last checkpoint and keeps the one before as
    ``previous``; a damaged last checkpoint falls back to that one.
    """
    import keras

    from trainer.nn.model import swap_average

    tried = []
    for candidate in (state, state.get("previous")):
        if not candidate or not candidate.get("checkpoint"):
            continue
        path = run.path / candidate["checkpoint"]
        reason = damage(path)
        if reason is None:
            try:
                model = keras.models.load_model(path)
            except Exception as e:  # Keras raises many types on a bad file
                reason = f"Keras cannot load it: {type(e).__name__}"
        if reason is None:
            break
        tried.append(f"{shown(path)} is damaged ({reason})")
    else:
        raise CadenzaError("; ".join(tried or [f"{run.path} names no checkpoint"])
                           + "; no intact checkpoint is left to resume from")
    if candidate is not state:
        print(f"{tried[0]}; resuming from the one before it", flush=True)
        damaged = run.path / state["checkpoint"]
        if damaged.exists():  # kept for a look, out of the way of the checkpoints in use
            damaged.rename(damaged.with_name(f"damaged-{damaged.name}"))
        candidate = {**candidate, "previous": None}
        if state["best_epoch"] > candidate["best_epoch"] and damage(run.best_weights) is None:
            # best.weights.h5 already holds the newer best: keep its record with it
            candidate.update(best_val_loss=state["best_val_loss"], best_epoch=state["best_epoch"])
    swap_average(model)  # saved with the average in the model: train on from the raw weights
    print(f"resuming {shown(run.path)} after epoch {candidate['epoch']}", flush=True)
    return model, candidate


def _tensorboard(run: RunDir) -> list:
    import keras

    if backend.tensorflow() is None:  # the callback writes through tf.summary
        print("TensorBoard logs skipped: TensorFlow is not installed")
        return []
    return [keras.callbacks.TensorBoard(log_dir=str(run.tensorboard), write_graph=False)]


def _metrics(cfg, state, model, train_data, val_data, split) -> dict:
    return {
        "best_val_loss": state["best_val_loss"],
        "best_epoch": state["best_epoch"],
        "epochs_trained": state["epoch"],
        "stopped": state["stopped"] or "epoch limit",
        "train_seconds": round(state["seconds"], 1),
        "tokens_per_second": round(state["targets"] / max(state["seconds"], 1e-9)),
        "parameters": model.count_params(),
        "train_songs": len(split["train"]) + (len(split["validation"]) if split.get("refit")
                                              else 0),
        "val_songs": len(split["validation"]),
        **({"refit": True} if split.get("refit") else {}),
        "test_songs": len(split.get("test", [])),
        "train_targets": train_data.targets(),
        "val_targets": val_data.targets(),
        "data": split["source"],
        "backend": backend.describe(),
        "history": _history(RunDir(cfg.train.run_dir)),
    }


def _history(run: RunDir) -> dict:
    """Per-epoch columns of ``log.csv`` (for training-curve plots)."""
    import csv

    with open(run.log_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    keys = ("epoch", "loss", "val_loss", "accuracy", "val_accuracy", "learning_rate")
    return {k: [float(r[k]) if r[k] else None for r in rows] for k in keys}
