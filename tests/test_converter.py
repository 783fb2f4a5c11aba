"""The converter: a trained run -> exactly the self-describing folder the site loads."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import cli

# pytest -n: on one process, which makes the module's exports once
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("converter")]


@pytest.fixture(scope="module")
def exports(trained, tmp_path_factory):
    """Export folders by ``--quantize`` rule; ``auto`` by default (no flag). Each
    folder's printed line is in ``stdout.txt`` beside it."""
    root = tmp_path_factory.mktemp("exports")
    for quantize in ("none", "float16", "uint8", "auto"):
        flag = [] if quantize == "auto" else ["--quantize", quantize]
        proc = cli("--run-dir", trained, "--out", root / quantize, *flag, module="converter")
        (root / f"{quantize}.stdout.txt").write_text(proc.stdout)
    return root


def test_folder_holds_exactly_the_export_files(exports, trained):
    from trainer.nn.network import shapes

    folder = exports / "float16"
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["config.json", "group1-shard1of1.bin", "metrics.json", "model.json",
                     "parity.json", "split.json", "vocab.json"]
    assert (folder / "vocab.json").read_bytes() == (trained / "vocab.json").read_bytes()
    assert (folder / "split.json").read_bytes() == (trained / "split.json").read_bytes()
    config = json.loads((folder / "config.json").read_text())
    assert config["type"] == "cadenza-lstm" and config["format_version"] == 3
    assert config["vocab_size"] == json.loads((trained / "vocab.json").read_text())["size"]
    assert config["model"] == {"num_layers": 2, "rnn_size": 32, "embedding_size": 16,
                               "batch": 1, "output": "logits", "stateful": True}
    assert config["training"]["commands"]["train"].startswith("python -m trainer train")
    assert "--rnn-size 32" in config["training"]["commands"]["train"]
    run_metrics = json.loads((trained / "metrics.json").read_text())
    assert config["conditioning"] == run_metrics["conditioning"]  # the Key and Meter menus
    assert sum(config["conditioning"]["keys"].values()) == config["training"]["train_songs"]
    metrics = json.loads((folder / "metrics.json").read_text())
    assert set(metrics) == {"training", "evaluation", "previous"}
    assert metrics["training"]["epochs_trained"] == 1 and metrics["previous"] is None
    model = json.loads((folder / "model.json").read_text())
    assert set(model) == {"format", "network", "weightsManifest"}  # no tfjs topology
    assert model["network"] == {"name": "cadenza_lstm_step", "cell": "lstm", "gates": "ifco",
                                "vocab_size": config["vocab_size"], "embedding_size": 16,
                                "num_layers": 2, "rnn_size": 32, "key_rows": 25, "degrees": 24,
                                "bar_rows": 0}  # the bar count is an input only on request
    stored = [w["name"] for g in model["weightsManifest"] for w in g["weights"]]
    assert stored == list(shapes(model["network"]))  # in Stepper order
    assert stored[-3:] == ["key_embedding/embeddings", "degree_logits/kernel",
                           "degree_logits/bias"]


def test_an_export_is_a_model_folder_evaluate_and_sample_take(exports, trained):
    from trainer.nn.loading import load

    loaded = load(exports / "auto")
    assert loaded.kind == "export" and loaded.split == json.loads(
        (trained / "split.json").read_text())
    assert loaded.split["test"]  # evaluate finds its test songs
    assert loaded.conditioning["meters"]
    # the key table, degree kernel and bias (no bar-count table by default)
    assert (loaded.network["key_rows"], loaded.network["degrees"],
            loaded.network["bar_rows"]) == (25, 24, 0)
    plain = ("embedding/", "lstm_", "logits/")
    assert {n: w.shape for n, w in loaded.weights.items() if not n.startswith(plain)} == {
        "key_embedding/embeddings": (25, 16), "degree_logits/kernel": (32, 24),
        "degree_logits/bias": (24,)}


def test_parity_file_is_a_fixed_prime_with_probabilities(exports):
    parity = json.loads((exports / "float16" / "parity.json").read_text())
    assert parity["prime"][0] == 1 and len(parity["prime"]) == 32
    assert len(parity["probabilities"]) == 32
    for row in parity["probabilities"]:
        assert abs(sum(row) - 1) < 1e-5
    again = json.loads((exports / "none" / "parity.json").read_text())
    assert again["prime"] == parity["prime"]  # fixed: the same for every export of a run


def test_quantisation_shrinks_weights_and_stays_close(exports):
    size = {q: json.loads((exports / q / "config.json").read_text())["weights_bytes"]
            for q in ("none", "float16", "uint8")}
    assert 0.45 < size["float16"] / size["none"] < 0.55
    assert 0.2 < size["uint8"] / size["none"] < 0.3
    parity = {q: json.loads((exports / q / "config.json").read_text())["parity"]
              for q in ("none", "float16", "uint8")}
    assert parity["none"]["max_abs_diff"] <= 1e-4
    assert parity["float16"]["max_kl"] <= 0.01 and parity["uint8"]["max_kl"] <= 0.01


def test_auto_is_the_default_and_says_what_it_stored(exports):
    from converter.read import read_export
    from converter.storage import MAX_KL, TARGET_BYTES, kl, softmax
    from test_weights import stored as storage_of_manifest
    folder = exports / "auto"
    config = json.loads((folder / "config.json").read_text())
    manifest = json.loads((folder / "model.json").read_text())["weightsManifest"]
    stored = storage_of_manifest(manifest)
    assert config["storage"] == {"rule": "auto", "target_bytes": TARGET_BYTES,
                                 "tensors": stored}
    assert set(stored.values()) <= {"float16", "uint8", "uint8-column"}
    assert "uint8" in config["quantization"]  # a tiny model loses nothing worth keeping
    record = config["next_token_kl"]
    assert record["reference"] == "keras" and record["limit"] == MAX_KL
    assert 0 < record["max"] < MAX_KL and record["mean"] <= record["max"]
    assert record["steps"] >= 500 and record["generated"]["songs"] == 32
    assert record["test"]["songs"] >= 1 and record["test"]["max"] < MAX_KL  # real songs too
    assert config["weights_bytes"] <= TARGET_BYTES
    assert config["training"]["commands"]["export"].endswith("--quantize auto")
    line = (exports / "auto.stdout.txt").read_text().strip().splitlines()[-1]
    assert f"{config['weights_bytes']:,} bytes of weights" in line
    assert f"max next-token KL {record['max']:.2e} vs Keras" in line
    # the numpy reader runs what was written, and it still matches Keras
    parity = json.loads((folder / "parity.json").read_text())
    p = softmax(read_export(folder).stepper().run(parity["prime"]))
    assert kl(np.asarray(parity["probabilities"]), p).max() <= MAX_KL
    assert read_export(folder).config == config


def test_the_line_says_when_the_target_is_missed():
    from converter.export import headline

    config = {"storage": {"tensors": {"a": "float16", "b": "uint8"}}, "weights_bytes": 1_200_000,
              "next_token_kl": {"max": 0.009, "steps": 900}, "parity": {"max_abs_diff": 0.01}}
    line = headline("auto", config)
    assert line.startswith("auto (float16 x1, uint8 x1), 1,200,000 bytes of weights, "
                           "max next-token KL 9.00e-03 vs Keras over 900 steps")
    assert "above the 1,000,000-byte target" in line
    config["weights_bytes"] = 999_999
    assert "target" not in headline("auto", config)


def test_reexport_replaces_an_export_folder(exports, trained, tmp_path):
    folder = tmp_path / "again"
    shutil.copytree(exports / "float16", folder)
    cli("--run-dir", trained, "--out", folder, "--quantize", "uint8", module="converter")
    assert json.loads((folder / "config.json").read_text())["quantization"] == "uint8"


def test_reexport_carries_harmony_json_only_for_the_same_weights(exports, trained, tmp_path):
    from trainer.evaluation.harmonizing import list_in_export

    folder = tmp_path / "again"
    shutil.copytree(exports / "float16", folder)
    (folder / "harmony.json").write_text('{"measured": "these weights"}')
    assert list_in_export(folder, "harmony.json")
    proc = cli("--run-dir", trained, "--out", folder, "--quantize", "float16", module="converter")
    assert "not carried" not in proc.stdout
    assert json.loads((folder / "harmony.json").read_text()) == {"measured": "these weights"}
    assert "harmony.json" in json.loads((folder / "config.json").read_text())["files"]
    proc = cli("--run-dir", trained, "--out", folder, "--quantize", "uint8", module="converter")
    assert ("note: the previous export's harmony.json was not carried over (other weights); "
            f"measure it again: python -m trainer evaluate-harmony --run-dir {folder}") \
        in proc.stdout
    assert not (folder / "harmony.json").exists()
    assert "harmony.json" not in json.loads((folder / "config.json").read_text())["files"]


def test_bad_input_is_one_line_and_deletes_nothing(trained, tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    proc = cli("--run-dir", trained, "--out", precious, module="converter", check=False)
    assert proc.returncode == 2 and "not a Cadenza export folder" in proc.stderr
    assert proc.stderr.count("\n") == 1
    assert (precious / "notes.txt").read_text() == "keep me"

    empty_run = tmp_path / "run"
    shutil.copytree(trained, empty_run)
    (empty_run / "best.weights.h5").unlink()
    shutil.rmtree(empty_run / "checkpoints")
    proc = cli("--run-dir", empty_run, "--out", tmp_path / "x", module="converter", check=False)
    assert proc.returncode == 2 and "no trained checkpoint" in proc.stderr
    assert not (tmp_path / "x").exists()

    proc = cli("--run-dir", tmp_path / "nowhere", "--out", tmp_path / "y", module="converter",
               check=False)
    assert proc.returncode == 2 and proc.stderr.startswith("error:")
    proc = cli("--run-dir", trained, "--out", tmp_path / "z", "--quantize", "int4",
               module="converter", check=False)
    assert proc.returncode == 2 and "int4" in proc.stderr and proc.stderr.count("\n") == 1
    assert "auto" in proc.stderr and "uint8-column" in proc.stderr  # the choices


def test_metrics_json_keeps_training_evaluation_and_previous(exports, trained, tmp_path):
    from converter.export import metrics_file

    evaluation = {"lstm": {"nll": 1.2, "nll_per_note": 3.1}, "ngram": {"nll": 1.5},
                  "checks": {"length": {"ok": True}}}
    assert metrics_file({"epochs_trained": 4}, evaluation, {"lstm": {"nll": 1.4}}) == {
        "training": {"epochs_trained": 4}, "evaluation": evaluation,
        "previous": {"lstm": {"nll": 1.4}}}
    assert metrics_file({"epochs_trained": 4}, None) == {
        "training": {"epochs_trained": 4}, "evaluation": None, "previous": None}

    run = tmp_path / "run"
    shutil.copytree(trained, run)
    (run / "evaluation.json").write_text(json.dumps(evaluation))
    previous = tmp_path / "old-evaluation.json"
    previous.write_text(json.dumps({"lstm": {"nll": 1.4}, "model": "site/models/chorales"}))
    cli("--run-dir", run, "--out", tmp_path / "out", "--quantize", "float16", "--previous",
        previous, module="converter")
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["evaluation"] == evaluation
    assert metrics["previous"] == {"lstm": {"nll": 1.4}, "model": "site/models/chorales"}

    previous.write_text('{"epochs_trained": 4}')
    proc = cli("--run-dir", run, "--out", tmp_path / "bad", "--previous", previous,
               module="converter", check=False)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "not an evaluation.json" in proc.stderr and not (tmp_path / "bad").exists()


def test_conditioning_is_counted_from_the_corpus_when_metrics_json_lacks_it(exports, trained,
                                                                            tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    metrics = json.loads((run / "metrics.json").read_text())
    counts = metrics.pop("conditioning")
    (run / "metrics.json").write_text(json.dumps(metrics))
    cli("--run-dir", run, "--out", tmp_path / "out", "--quantize", "float16", module="converter")
    assert json.loads((tmp_path / "out" / "config.json").read_text())["conditioning"] == counts
