"""What an export says about itself: config.json, metrics.json and the printed line.

config.json: type, format version, sizes, codec, weight storage and its
next-token KL, the files written with each shard's size and SHA-256
(converter/folder.py), how the model was trained and how to make it again,
and for a codec v2 model ``conditioning``: the training songs per key and
per meter, which the Compose page's Key and Meter menus show. metrics.json:
the run's training record, its ``evaluate`` record (trainer/evaluation/evaluate.py's
evaluation.json, when there is one) and ``previous``, the evaluation of the
model this export replaces (``--previous``), for the model card.
"""

from __future__ import annotations

import json
from pathlib import Path

from converter import storage as S
from converter.folder import FORMAT_VERSION, TYPE, file_list, shard_records
from converter.weights import summary
from trainer.cli import command_line
from trainer.errors import CadenzaError, read_text
from trainer.nn.runs import RunDir


def describe(run: RunDir, rc, codec, cfg, folder: Path, drift: dict, record: dict,
             conditioning: dict | None, parity_steps: int) -> dict:
    """The export's ``config.json``: what it is, how it was made, how to remake it;
    ``record`` is :func:`weights_record`'s, ``cfg`` the ExportConfig."""
    split = run.read_json("split.json") or {}
    trained_on = (run.read_json("metrics.json") or {}).get("backend", "unknown")
    shards = shard_records(folder)
    from trainer.evaluation.calibration import calibrated

    calibration = calibrated(run) if cfg.checkpoint == "best" else None
    return {
        "type": TYPE,
        "format_version": FORMAT_VERSION,
        "name": Path(cfg.out).name,
        "vocab_size": codec.size,
        "model": {"num_layers": rc.model.num_layers, "rnn_size": rc.model.rnn_size,
                  "embedding_size": rc.model.embedding_size, "batch": 1, "output": "logits",
                  "stateful": True},
        "codec": codec.to_json()["params"],
        **({"conditioning": conditioning} if conditioning else {}),
        "quantization": record["quantization"],
        "weights_bytes": sum(s["bytes"] for s in shards.values()),
        "files": file_list(folder),
        "shards": shards,
        "parity": {"steps": parity_steps, **drift},
        "storage": record["storage"],
        "next_token_kl": record["next_token_kl"],
        "training": {
            "data": split.get("source"),
            "train_songs": len(split.get("train", [])),
            "validation_songs": len(split.get("validation", [])),
            **({"refit": True} if split.get("refit") else {}),
            **({"calibration": {k: v for k, v in calibration.items()
                                if k not in ("weights", "best_weights_sha256")}}
               if calibration else {}),
            "test_songs": len(split.get("test", [])),
            "checkpoint": cfg.checkpoint,
            **({"changes": cfg.changes.strip()} if cfg.changes.strip() else {}),
            "settings": rc.to_dict(),
            "backend": trained_on,
            "commands": {
                "train": train_commands(rc, trained_on),
                **({"calibrate": f"python -m trainer calibrate --run-dir {rc.train.run_dir}"}
                   if calibration else {}),
                "evaluate": f"python -m trainer evaluate --run-dir {rc.train.run_dir}",
                "export": f"python -m converter --run-dir {rc.train.run_dir} --out {cfg.out} "
                          f"--quantize {cfg.quantize}",
            },
        },
    }


def train_commands(rc, trained_on: str) -> str:
    """The command that trains the run; for a refit, the run it repeats and its
    calibration first (a line each)."""
    jax = "KERAS_BACKEND=jax " if trained_on.startswith("jax") else ""
    if not rc.train.refit:
        return jax + command_line("train", [rc.data, rc.codec, rc.model, rc.train])
    source = RunDir(rc.train.refit)
    ref = source.config()
    ref_backend = (source.read_json("metrics.json") or {}).get("backend", "unknown")
    lines = [train_commands(ref, ref_backend)]
    if source.read_json("calibration.json"):
        lines.append(f"python -m trainer calibrate --run-dir {rc.train.refit}")
    lines.append(f"{jax}python -m trainer train --run-dir {rc.train.run_dir} "
                 f"--refit {rc.train.refit}")
    return "\n".join(lines)


def conditioning(run: RunDir, rc, codec) -> dict | None:
    """config.json's ``conditioning`` of a codec v2 run (None for v1): the run's
    metrics.json's, else counted from its split.json's training songs in the corpus."""
    if codec.version < 2:
        return None
    found = (run.read_json("metrics.json") or {}).get("conditioning")
    if found:
        return found
    from trainer.music.corpus import key_counts, meter_counts, prepare, split_songs

    try:
        songs = split_songs(prepare(rc.data, codec), run.read_json("split.json"))["train"]
    except CadenzaError as e:
        raise CadenzaError(f"{run.path}: its metrics.json has no conditioning (training songs "
                           f"per key and meter) and counting them failed: {e}") from None
    return {"keys": key_counts(songs), "meters": meter_counts(songs)}


def read_previous(path: Path | None) -> dict | None:
    """The evaluation.json given as ``--previous`` (None without one); raises unless
    it is one (a JSON object with the LSTM's figures)."""
    if path is None:
        return None
    try:
        previous = json.loads(read_text(path, "--previous"))
    except (OSError, ValueError) as e:
        raise CadenzaError(f"--previous {path}: cannot read it ({e})") from None
    if not (isinstance(previous, dict) and isinstance(previous.get("lstm"), dict)):
        raise CadenzaError(f"--previous {path}: not an evaluation.json of "
                           "`python -m trainer evaluate` (it has no lstm figures)")
    return previous


def metrics_file(training: dict | None, evaluation: dict | None,
                 previous: dict | None = None) -> dict:
    """The exported metrics.json: the run's training record, its evaluation
    (trainer/evaluation/evaluate.py: ``lstm``, ``ngram``, ``music``, ``lengths``, ``requests``,
    ``checks``, ...) and the previous model's, each None when there is none."""
    return {"training": training, "evaluation": evaluation, "previous": previous}


def weights_record(rule: str, storage: dict[str, str], weights: dict, kls, songs,
                   test: int = 0) -> dict:
    """config.json's ``quantization`` (a summary), ``storage`` and ``next_token_kl``
    (the last ``test`` of ``songs`` are test songs)."""
    shapes = {n: w.shape for n, w in weights.items()}
    return {
        "quantization": rule if rule != "auto" else summary(storage, shapes),
        "storage": {"rule": rule, "target_bytes": S.TARGET_BYTES, "tensors": storage},
        "next_token_kl": S.kl_record(kls, songs, test=test),
    }


def headline(rule: str, config: dict) -> str:
    """The export's one line: storage, bytes and KL (and a missed 1 MB target)."""
    tensors, kl = config["storage"]["tensors"], config["next_token_kl"]
    kinds = [f"{k} x{list(tensors.values()).count(k)}" for k in dict.fromkeys(tensors.values())]
    line = (f"{rule} ({', '.join(kinds)}), {config['weights_bytes']:,} bytes of weights, "
            f"max next-token KL {kl['max']:.2e} vs Keras over {kl['steps']:,} steps"
            + (f" (its own songs {kl['generated']['max']:.2e}, {kl['test']['songs']} test "
               f"songs {kl['test']['max']:.2e})" if kl.get("test", {}).get("songs") else "")
            + f" (parity max |dp| {config['parity']['max_abs_diff']:.2g})")
    if config["weights_bytes"] > S.TARGET_BYTES:
        line += (f"; above the {S.TARGET_BYTES:,}-byte target: uint8 for more weights would "
                 f"take the KL to {S.MAX_KL} or more" if rule == "auto" else
                 f"; above the {S.TARGET_BYTES:,}-byte target")
    return line
