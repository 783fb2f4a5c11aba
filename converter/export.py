"""Export a trained run as the self-describing folder the browser loads.

The folder holds exactly::

    model.json + group1-shard*.bin   the network's sizes and its weights by name
                                     (trainer/nn/network.py, converter/weights.py)
    vocab.json                       the run's codec file, unchanged
    split.json                       the run's train / validation / test songs
                                     (``python -m trainer evaluate`` reads it)
    config.json                      type, format version, sizes, codec, training,
                                     a v2 model's conditioning, the files written
                                     and each shard's size and SHA-256
                                     (converter/record.py, converter/folder.py)
    metrics.json                     training, evaluation (when the run has been
                                     evaluated) and ``--previous``
    parity.json                      a fixed prime and the Keras next-token
                                     probabilities after each of its steps

``--quantize`` chooses each weight's storage (converter/storage.py):
``auto``, the default, stores a weight as uint8 wherever the export's
next-token KL divergence from the Keras model stays below 0.01, else as
float16; ``float16``, ``uint8`` (one min and scale per tensor),
``uint8-column`` (per column) and ``none`` (float32) store every weight
alike. config.json records each weight's storage (``storage``) and the KL
over the model's own songs and its test songs (``next_token_kl``); the
command prints both figures, bytes and KL. The weights are written by the
``tensorflowjs`` package's writer, as TensorFlow.js's standard weights
manifest and shards (converter/weights.py).

The network is not a tfjs Layers model: the browser runs the same step as
:class:`trainer.compose.stepper.Stepper` on tfjs-core (web/src/mirror/stepper.js), so before
anything is written the numpy Stepper on the Keras model's weights (a v2
model's key table, degree logits and bar-count table included) is checked
against the Keras model (every input of a v2 model: tokens, key and bar
count), and the written (possibly quantised) weights are read back (by
converter/read.py, as the browser reads them) and checked again. An existing ``--out`` is replaced
only when it holds nothing but the files its own export listed, and only once
the new folder is complete. Files measured on the weights that a later command
added to the previous export (``harmony.json``, by ``evaluate-harmony``) are
carried into the new one when its weights are byte for byte the same, and
otherwise dropped with a line saying how to measure them again.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from converter import storage as S
from converter.folder import check_replaceable, listed_files, read_config
from converter.read import manifest_weights
from converter.record import (conditioning, describe, headline, metrics_file,  # noqa: F401
                              read_previous, weights_record)
from converter.weights import write
from trainer.compose import form
from trainer.config import _opt
from trainer.errors import CadenzaError
from trainer.nn import backend
from trainer.nn.runs import RunDir

PARITY_STEPS = 32
# Files other commands add to an export, valid only for the weights they measured,
# with the command that measures them again.
CARRIED = {"harmony.json": "python -m trainer evaluate-harmony --run-dir {out}"}
MAX_ABS_DIFF, MAX_KL = 1e-4, S.MAX_KL  # float32 must match; quantised may drift this much


@dataclass(frozen=True)
class ExportConfig:
    """What to export and where."""

    run_dir: Path = _opt(None, "trained run folder", required=True)
    out: Path = _opt(None, "export folder to write (a previous export there is replaced; "
                          "a folder holding anything else is refused)", required=True)
    quantize: str = _opt("auto", "weight storage: auto = uint8 wherever the next-token KL "
                                 "from Keras stays below 0.01, else float16; or one storage "
                                 "for all (none = float32)", choices=tuple(S.RULES))
    checkpoint: str = _opt("best", "which checkpoint to export", choices=("best", "last"))
    previous: Path | None = _opt(None, "evaluation.json of the model this export replaces, "
                                       "kept in metrics.json for the model card")
    changes: str = _opt("", "what changed against the model this export replaces, in a "
                            "sentence or two, for the model card (config.json keeps it)")


def export(cfg: ExportConfig) -> dict:
    """Write the export folder ``cfg.out``; return its ``config.json`` content."""
    run = RunDir(cfg.run_dir)
    rc, codec = run.config(), run.codec()
    weights_path = run.weights_path(cfg.checkpoint)
    out = Path(cfg.out)
    check_replaceable(out)
    previous = read_previous(cfg.previous)
    backend.configure()
    from trainer.compose.sampling import generate
    from trainer.compose.stepper import Stepper
    from trainer.nn.model import inference_network, inference_weights, load_trained

    def stepper(weights):
        return Stepper(weights, network, codec)

    model = load_trained(run, cfg.checkpoint)
    network = inference_network(model, codec, rc.model)
    weights = inference_weights(model, network)
    numpy_step = stepper(weights)
    prime = parity_prime(numpy_step, codec, generate)
    test = test_songs(run, rc, codec)
    songs = S.kl_songs(numpy_step, codec, generate) + test
    expected = probabilities(model, codec, rc.model, prime)
    reference = [probabilities(model, codec, rc.model, song) for song in songs]
    check(expected, S.softmax(numpy_step.run(prime)), "none", "the numpy stepper")
    counts = conditioning(run, rc, codec)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as tmp:
            tmp = Path(tmp)
            choice = S.choose(cfg.quantize, {n: w.shape for n, w in weights.items()},
                              S.measurer(weights, reference, songs, stepper))
            write(tmp, weights, choice.storage, network)
            back = manifest_weights(tmp)  # as the loaders read them
            written = stepper(back)
            drift = check(expected, S.softmax(written.run(prime)), cfg.quantize,
                          "the written weights")
            kls = S.next_token_kl(reference, written, songs)
            shutil.copyfile(run.vocab_path, tmp / "vocab.json")
            if (run.path / "split.json").exists():
                shutil.copyfile(run.path / "split.json", tmp / "split.json")
            if form.read(run.path, weights_path) is not None:  # fitted with these weights
                shutil.copyfile(run.path / form.FILE, tmp / form.FILE)
            _write(tmp / "metrics.json", metrics_file(run.read_json("metrics.json"),
                                                      run.read_json("evaluation.json"),
                                                      previous))
            _write(tmp / "parity.json", {"prime": prime.tolist(), "quantization": cfg.quantize,
                                         "probabilities": expected.round(8).tolist()})
            record = weights_record(cfg.quantize, choice.storage, back, kls, songs, len(test))
            config = describe(run, rc, codec, cfg, tmp, drift, record, counts,
                              PARITY_STEPS)  # lists the files above
            dropped = carry(out, tmp, config)
            _write(tmp / "config.json", config)
            tmp.chmod(0o755)  # mkdtemp makes it private; the site serves it
            replace(out, tmp)
    except OSError as e:  # a full disk, a read-only parent: the temporary folder is gone
        raise CadenzaError(f"--out {out}: cannot write the export ({e.strerror or e}); "
                           "a previous export there is unchanged") from None
    print(f"exported {weights_path} to {out}: {headline(cfg.quantize, config)}")
    for name in dropped:
        print(f"note: the previous export's {name} was not carried over (other weights); "
              f"measure it again: {CARRIED[name].format(out=out)}")
    return config


def test_songs(run: RunDir, rc, codec) -> list[np.ndarray]:
    """The run's test songs for the KL gate (converter/storage.py); none, with a line
    saying why, where the run has no test split or its corpus cannot be read."""
    from trainer.music.corpus import prepare, split_songs

    split = run.read_json("split.json")  # None without one
    if not (isinstance(split, dict) and split.get("test")):
        print("note: the run has no test songs; the KL is measured on its own songs alone")
        return []
    try:
        parts = split_songs(prepare(rc.data, codec, log=lambda line: None), split)  # as trained
    except CadenzaError as e:
        print(f"note: the run's test songs cannot be read ({e}); the KL is measured on its "
              "own songs alone")
        return []
    return S.test_songs(codec, parts["test"])


def carry(out: Path, new: Path, config: dict) -> list[str]:
    """Copy the :data:`CARRIED` files of the export at ``out`` into the new folder
    ``new`` and list them in its ``config`` where both exports hold the same weights
    (the same shards, byte for byte); return the names of those left behind."""
    listed = listed_files(out) or set()
    old = read_config(out) or {}
    same = bool(old.get("shards")) and old.get("shards") == config.get("shards")
    dropped = []
    for name in sorted(set(CARRIED) & listed):
        if not (out / name).is_file():
            continue
        if same:
            shutil.copyfile(out / name, new / name)
            config["files"] = sorted(set(config["files"]) | {name})
        else:
            dropped.append(name)
    return dropped


def probabilities(model, codec, cfg, tokens) -> np.ndarray:
    """The Keras sequence model's next-token probabilities after each of ``tokens``
    (from BOS); a v2 model also reads the key input training gives such a song, and
    the bar count where it takes one (``cfg``: the run's ModelConfig)."""
    from trainer.nn.model import model_inputs

    inputs = model_inputs(codec, cfg, [np.asarray(tokens, np.int32)])
    return S.softmax(np.asarray(model.predict_on_batch(inputs))[0])


def parity_prime(stepper, codec, generate) -> np.ndarray:
    """``PARITY_STEPS`` tokens: BOS and the model's own song from the first seed
    that does not end sooner (padded with rests if none of 20 seeds gets there)."""
    best = []
    for seed in range(20):
        stepper.reset()
        new = generate(stepper.step, codec, [codec.bos_id], 10**6, 1.0, 0, 1.0, seed=seed,
                       max_tokens=PARITY_STEPS - 1).tolist()
        best = max(best, new, key=len)
        if len(best) == PARITY_STEPS - 1:
            break
    rest = [codec.token_id("SHIFT", codec.config.max_shift)] * (PARITY_STEPS - 1 - len(best))
    return np.asarray([codec.bos_id, *best, *rest], dtype=np.int32)


def check(expected: np.ndarray, got: np.ndarray, quantize: str, what: str) -> dict:
    """Compare step probabilities; raise if ``what`` drifts beyond the format's bound."""
    drift = {"max_abs_diff": float(np.abs(expected - got).max()),
             "max_kl": float(S.kl(expected, got).max())}
    bad = drift["max_abs_diff"] > MAX_ABS_DIFF if quantize == "none" else drift["max_kl"] > MAX_KL
    if bad:
        raise CadenzaError(f"{what} does not reproduce the Keras model "
                           f"(max |dp| {drift['max_abs_diff']:.3g}, max KL {drift['max_kl']:.3g})")
    return drift


def replace(out: Path, new: Path) -> None:
    """Put the finished folder ``new`` at ``out``. A previous export there is moved
    aside first and deleted only once ``new`` is in place; ``new`` is left empty
    (its TemporaryDirectory removes it)."""
    check_replaceable(out)  # again: a file may have arrived while the export ran
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old."))
        os.replace(out, old / "export")
    try:
        os.replace(new, out)
    except OSError as e:
        if old is not None:
            os.replace(old / "export", out)
        raise CadenzaError(f"--out {out}: the new export could not be put in place ({e}); "
                           "the folder is as it was") from None
    new.mkdir()
    if old is not None:
        shutil.rmtree(old)


def _write(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=1) + "\n")
