"""``python -m trainer calibrate``: fit the softmax temperature on the validation songs.

A network trained until its validation loss stops falling is overconfident on
songs it has not seen: dividing its logits by a temperature ``T > 1`` lowers
their NLL (temperature scaling, Guo et al. 2017). ``calibrate`` finds the ``T``
that minimises the NLL per token of the run's *validation* songs, from BOS as
generation runs, and bakes ``1 / T`` into the output layers of
``best.weights.h5`` (the logits and the degree logits are linear in the last
LSTM's output, so this is exact): ``evaluate``, ``sample`` and the export then
all see the calibrated network, and the five forms of the network stay one.
The weights as trained are kept as ``best.raw.weights.h5`` and the fit is
recorded in ``calibration.json``; calibrating again starts from the raw weights.

A refit (``train --refit RUN``) has no song left to validate on: it takes the
temperature that calibrating ``RUN`` chose on ``RUN``'s validation songs.
"""

from __future__ import annotations

import os
import shutil

import numpy as np

from trainer.errors import CadenzaError, shown
from trainer.music.corpus import prepare, split_songs
from trainer.nn.runs import RunDir, write_json

RAW = "best.raw.weights.h5"
RECORD = "calibration.json"
# the output layers: every weight of theirs scales the logits
OUTPUT_LAYERS = ("logits", "degree_logits")


def nll_per_token(logits: np.ndarray, targets: np.ndarray, temperature: float) -> float:
    z = logits / temperature
    z = z - z.max(-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    return float(-logp[np.arange(len(targets)), targets].mean())


def fit_temperature(logits: np.ndarray, targets: np.ndarray, lowest: float = 0.5,
                    highest: float = 3.0) -> float:
    """The temperature in ``[lowest, highest]`` that minimises the mean NLL of ``targets``
    (the NLL is convex in 1 / T: a golden-section search on it, to 1e-4)."""
    a, b = 1 / highest, 1 / lowest  # search the inverse temperature
    g = (np.sqrt(5) - 1) / 2
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = nll_per_token(logits, targets, 1 / c), nll_per_token(logits, targets, 1 / d)
    while b - a > 1e-4:
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = nll_per_token(logits, targets, 1 / c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = nll_per_token(logits, targets, 1 / d)
    return float(2 / (a + b))


def scale_outputs(model, factor: float) -> None:
    """Multiply every weight of the model's output layers by ``factor``: its logits scale."""
    names = {layer.name for layer in model.layers}
    for name in OUTPUT_LAYERS:
        if name in names:
            layer = model.get_layer(name)
            layer.set_weights([w * np.float32(factor) for w in layer.get_weights()])


def calibrate(run: RunDir, lowest: float = 0.5, highest: float = 3.0) -> dict:
    """Fit (or, for a refit, take) the temperature, bake it into ``best.weights.h5`` and
    return the record written to ``calibration.json``."""
    from trainer.nn import backend

    backend.configure()
    from trainer.compose.stepper import Stepper
    from trainer.nn.model import inference_network, inference_weights, load_trained

    config, codec = run.config(), run.codec()
    if not run.best_weights.exists():
        raise CadenzaError(f"{shown(run.path)} has no best weights yet (train it first)")
    raw = run.path / RAW
    if not raw.exists() or not calibrated(run):  # new best weights since: they are the raw
        shutil.copyfile(run.best_weights, raw)
    split = run.read_json("split.json") or {}
    refit = config.train.refit
    model = load_trained(run, "best")
    model.load_weights(raw)
    record = {"weights": RAW}
    if refit:
        source = RunDir(refit).read_json(RECORD)
        if not source:
            raise CadenzaError(f"{shown(run.path)} is a refit of {shown(refit)}, which is not "
                               f"calibrated: run calibrate --run-dir {shown(refit)} first")
        record.update(temperature=float(source["temperature"]), source=str(refit),
                      chosen_on=f"the validation songs of {refit}")
    else:
        corpus = prepare(config.data, codec, log=lambda _: None)
        songs = split_songs(corpus, split, config.data.one_pass)["validation"]
        if not songs:
            raise CadenzaError(f"{shown(run.path)} has no validation songs to calibrate on")
        network = inference_network(model, codec, config.model)
        stepper = Stepper(inference_weights(model, network), network, codec)
        tokens = [codec.encode(s.notes, s.meta) for s in songs]
        logits = np.concatenate([stepper.run(t[:-1]) for t in tokens]).astype(np.float64)
        targets = np.concatenate([t[1:] for t in tokens])
        notes = sum(len(s.notes) for s in songs)
        t = fit_temperature(logits, targets, lowest, highest)
        per_note = len(targets) / notes
        record.update(temperature=t, chosen_on="validation songs", songs=len(songs),
                      targets=int(len(targets)),
                      validation_nll_per_note={
                          "before": nll_per_token(logits, targets, 1.0) * per_note,
                          "after": nll_per_token(logits, targets, t) * per_note})
    scale_outputs(model, 1 / record["temperature"])
    tmp = run.path / ".tmp.calibrated.weights.h5"
    model.save_weights(tmp)
    # the record names the calibrated weights before they take the name: a kill between
    # the two leaves the raw weights as best, which the record then does not match
    record["best_weights_sha256"] = sha256(tmp)
    write_json(run.path / RECORD, record)
    os.replace(tmp, run.best_weights)
    return record


def sha256(path) -> str:
    import hashlib

    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def calibrated(run: RunDir) -> dict | None:
    """The calibration record, if ``best.weights.h5`` is still the weights it wrote."""
    record = run.read_json(RECORD)
    if not record or not run.best_weights.exists() \
            or record.get("best_weights_sha256") != sha256(run.best_weights):
        return None
    return record


def report(record: dict) -> str:
    text = f"temperature {record['temperature']:.4f} (chosen on {record['chosen_on']})"
    nll = record.get("validation_nll_per_note")
    if nll:
        text += (f": validation NLL per note {nll['before']:.4f} -> {nll['after']:.4f} "
                 f"({record['songs']} songs)")
    return text + "; baked into best.weights.h5, the weights as trained kept in " + RAW
