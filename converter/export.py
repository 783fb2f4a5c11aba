"""Export a trained run as the self-describing folder the browser loads.

The folder holds exactly::

    model.json + group1-shard*.bin   a stateful single-step tf_keras copy of the
                                     model (batch 1, one token in, logits out)
    vocab.json                       the run's codec file, unchanged
    config.json                      type, format version, sizes, codec, training,
                                     the files written and each shard's size and
                                     SHA-256 (converter/folder.py)
    metrics.json                     training figures (+ evaluation when present)
    parity.json                      a fixed prime and the Keras next-token
                                     probabilities after each of its steps

``--quantize`` chooses each weight's storage (converter/storage.py):
``auto``, the default, stores a weight as uint8 wherever the export's
next-token KL divergence from the Keras model stays below 0.01, else as
float16; ``float16``, ``uint8`` (one min and scale per tensor),
``uint8-column`` (per column) and ``none`` (float32) store every weight
alike. converter/weights.py writes the shards and the manifest. config.json
records each weight's storage (``storage``) and the KL over the model's own
songs (``next_token_kl``); the command prints both figures, bytes and KL.

Keras 3 models converted by tensorflowjs 4.22 do not load in
``tf.loadLayersModel`` (tfjs issues #8328, #8489, #8494), so the weights are
copied into the same architecture built with tf_keras (Keras 2), which
converts and loads exactly. Before anything is written, the copy is checked
step by step against the Keras model, and the written (possibly quantised)
weights are read back (by converter/read.py, as the browser reads them) and
checked again. An existing ``--out`` is replaced only when it holds nothing
but the files its own export listed, and only once the new folder is complete.
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
from converter.folder import FORMAT_VERSION, TYPE, check_replaceable, file_list, shard_records
from converter.read import manifest_weights, stepper_names
from converter.weights import summary, write
from trainer import backend
from trainer.cli import command_line
from trainer.config import _opt
from trainer.errors import CadenzaError
from trainer.runs import RunDir

PARITY_STEPS = 32
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


def export(cfg: ExportConfig) -> dict:
    """Write the export folder ``cfg.out``; return its ``config.json`` content."""
    run = RunDir(cfg.run_dir)
    rc, codec = run.config(), run.codec()
    weights_path = run.weights_path(cfg.checkpoint)
    out = Path(cfg.out)
    check_replaceable(out)
    backend.configure()
    from converter.tfjs import probabilities, stateful_copy, stepwise
    from trainer.model import inference_weights, load_trained
    from trainer.sampling import generate
    from trainer.stepper import Stepper

    model = load_trained(run, cfg.checkpoint)
    stepper = Stepper(inference_weights(model))
    prime = parity_prime(stepper, codec, generate)
    songs = S.kl_songs(stepper, codec, generate)
    expected = probabilities(model, prime)
    reference = [probabilities(model, song) for song in songs]
    copy = stateful_copy(inference_weights(model), codec.size, rc.model)
    check(expected, stepwise(copy, prime), "none", "the tf_keras copy")
    order = stepper_names(rc.model.num_layers)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as tmp:
            tmp = Path(tmp)
            storage, back = store_weights(tmp, copy, cfg.quantize, order, reference, songs)
            copy.set_weights([back[n] for n in order])  # what the browser will run
            drift = check(expected, stepwise(copy, prime), cfg.quantize, "the written weights")
            kls = S.next_token_kl(reference, Stepper([back[n] for n in order]), songs)
            shutil.copyfile(run.vocab_path, tmp / "vocab.json")
            _write(tmp / "metrics.json", metrics_file(run.read_json("metrics.json"),
                                                      run.read_json("evaluation.json")))
            _write(tmp / "parity.json", {"prime": prime.tolist(), "quantization": cfg.quantize,
                                         "probabilities": expected.round(8).tolist()})
            record = weights_record(cfg.quantize, storage, back, kls, songs)
            config = describe(run, rc, codec, cfg, tmp, drift, record)  # lists the files above
            _write(tmp / "config.json", config)
            tmp.chmod(0o755)  # mkdtemp makes it private; the site serves it
            replace(out, tmp)
    except OSError as e:  # a full disk, a read-only parent: the temporary folder is gone
        raise CadenzaError(f"--out {out}: cannot write the export ({e.strerror or e}); "
                           "a previous export there is unchanged") from None
    print(f"exported {weights_path} to {out}: {headline(cfg.quantize, config)}")
    return config


def store_weights(folder: Path, copy, rule: str, order: list[str], reference, songs):
    """Write ``copy`` into ``folder`` as a tfjs Layers model whose weights are stored
    as ``rule`` chooses (converter/storage.py); return that storage by weight name
    and the weights as read back from the shards."""
    from converter.tfjs import save_tfjs
    from trainer.stepper import Stepper

    save_tfjs(copy, folder)  # float32: the topology, and the weights by name
    weights = manifest_weights(folder)
    choice = S.choose(rule, {n: w.shape for n, w in weights.items()},
                      S.measurer(weights, order, reference, songs, Stepper))
    write(folder, weights, choice.storage)
    return choice.storage, manifest_weights(folder)


def weights_record(rule: str, storage: dict[str, str], weights: dict, kls, songs) -> dict:
    """config.json's ``quantization`` (a summary), ``storage`` and ``next_token_kl``."""
    shapes = {n: w.shape for n, w in weights.items()}
    return {
        "quantization": rule if rule != "auto" else summary(storage, shapes),
        "storage": {"rule": rule, "target_bytes": S.TARGET_BYTES, "tensors": storage},
        "next_token_kl": S.kl_record(kls, songs),
    }


def headline(rule: str, config: dict) -> str:
    """The export's one line: storage, bytes and KL (and a missed 1 MB target)."""
    tensors, kl = config["storage"]["tensors"], config["next_token_kl"]
    kinds = [f"{k} x{list(tensors.values()).count(k)}" for k in dict.fromkeys(tensors.values())]
    line = (f"{rule} ({', '.join(kinds)}), {config['weights_bytes']:,} bytes of weights, "
            f"max next-token KL {kl['max']:.2e} vs Keras over {kl['steps']:,} steps "
            f"(parity max |dp| {config['parity']['max_abs_diff']:.2g})")
    if config["weights_bytes"] > S.TARGET_BYTES:
        line += (f"; above the {S.TARGET_BYTES:,}-byte target: uint8 for more weights would "
                 f"take the KL to {S.MAX_KL} or more" if rule == "auto" else
                 f"; above the {S.TARGET_BYTES:,}-byte target")
    return line


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


def describe(run: RunDir, rc, codec, cfg: ExportConfig, folder: Path, drift: dict,
             record: dict) -> dict:
    """The export's ``config.json``: what it is, how it was made, how to remake it;
    ``record`` is :func:`weights_record`'s."""
    split = run.read_json("split.json") or {}
    trained_on = (run.read_json("metrics.json") or {}).get("backend", "unknown")
    shards = shard_records(folder)
    return {
        "type": TYPE,
        "format_version": FORMAT_VERSION,
        "name": Path(cfg.out).name,
        "vocab_size": codec.size,
        "model": {"num_layers": rc.model.num_layers, "rnn_size": rc.model.rnn_size,
                  "embedding_size": rc.model.embedding_size, "batch": 1, "output": "logits",
                  "stateful": True},
        "codec": codec.to_json()["params"],
        "quantization": record["quantization"],
        "weights_bytes": sum(s["bytes"] for s in shards.values()),
        "files": file_list(folder),
        "shards": shards,
        "parity": {"steps": PARITY_STEPS, **drift},
        "storage": record["storage"],
        "next_token_kl": record["next_token_kl"],
        "training": {
            "data": split.get("source"),
            "train_songs": len(split.get("train", [])),
            "validation_songs": len(split.get("validation", [])),
            "checkpoint": cfg.checkpoint,
            "settings": rc.to_dict(),
            "backend": trained_on,
            "commands": {
                "train": ("KERAS_BACKEND=jax " if trained_on.startswith("jax") else "")
                + command_line("train", [rc.data, rc.codec, rc.model, rc.train]),
                "evaluate": f"python -m trainer evaluate --run-dir {rc.train.run_dir}",
                "export": f"python -m converter --run-dir {rc.train.run_dir} --out {cfg.out} "
                          f"--quantize {cfg.quantize}",
            },
        },
    }


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


HEADLINE = ("lstm_nll", "ngram_nll", "nll_reduction", "lstm_perplexity", "ngram_perplexity")


def metrics_file(training: dict | None, evaluation: dict | None) -> dict:
    """The exported metrics.json: the headline figures of ``evaluate`` at the top
    (held-out NLL per token in nats of the LSTM and the n-gram, their perplexities,
    and the copy rates of generated and held-out human songs), then the full
    training and evaluation records. Without an evaluation only ``training``."""
    out = {}
    if evaluation:
        out = {k: evaluation[k] for k in HEADLINE if k in evaluation}
        music = evaluation.get("music", {})
        for side, key in (("generated", "copy_rate_generated"), ("held_out", "copy_rate_human")):
            if "copy_rate" in music.get(side, {}):
                out[key] = music[side]["copy_rate"]
    return {**out, "training": training, "evaluation": evaluation}
