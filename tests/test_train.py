"""End to end on a few real chorales: train, resume (also after SIGKILL), sample,
evaluate; stateful generation equals the sequence model; JAX and data parallel."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
from conftest import CHORALES, TINY, cli

from trainer.music import midi_io

pytestmark = pytest.mark.slow


def test_run_folder_describes_itself(trained):
    for name in ["config.json", "vocab.json", "split.json", "state.json", "best.weights.h5",
                 "log.csv", "metrics.json"]:
        assert (trained / name).is_file(), name
    assert list((trained / "checkpoints").glob("last-e0001.keras"))
    assert any((trained / "tensorboard").rglob("events.out.tfevents*"))
    config = json.loads((trained / "config.json").read_text())
    assert config["model"]["rnn_size"] == 32 and config["train"]["window_size"] == 32
    assert config["codec"]["vocab_version"] == 2  # the default token language
    assert json.loads((trained / "vocab.json").read_text())["version"] == 2
    split = json.loads((trained / "split.json").read_text())
    parts = [split["train"], split["validation"], split["test"]]
    assert sum(map(len, parts)) == len(CHORALES) and all(parts)  # the default holds out a test
    assert len({name for part in parts for name in part}) == len(CHORALES)
    metrics = json.loads((trained / "metrics.json").read_text())
    assert metrics["epochs_trained"] == 1 and np.isfinite(metrics["best_val_loss"])


def test_resume_continues_from_the_last_checkpoint(trained, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    out = cli("train", "--run-dir", run, "--resume", "--epochs", 2).stdout
    assert "resuming" in out and "after epoch 1" in out
    rows = list(csv.DictReader(open(run / "log.csv")))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    # the checkpoint before the last is kept, for a resume after damage to the last one
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        "last-e0001.keras", "last-e0002.keras"]
    assert json.loads((run / "state.json").read_text())["epoch"] == 2


def test_resume_after_sigkill_mid_epoch(chorales, cache, tmp_path):
    run = tmp_path / "killed"
    args = [sys.executable, "-m", "trainer", "train", "--data-dir", chorales, "--run-dir", run,
            "--epochs", 30, "--rnn-size", 96, "--window-size", 16, "--batch-size", 4]
    proc = subprocess.Popen(list(map(str, args)), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 240
        while time.time() < deadline:
            state = run / "state.json"
            if state.exists() and json.loads(state.read_text())["epoch"] >= 1:
                break
            time.sleep(0.1)
        time.sleep(0.7)  # well inside the next epoch
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    done = json.loads((run / "state.json").read_text())["epoch"]
    assert 1 <= done < 30
    cli("train", "--run-dir", run, "--resume", "--epochs", done + 1)
    rows = [int(r["epoch"]) for r in csv.DictReader(open(run / "log.csv"))]
    assert rows == list(range(1, done + 2))
    assert json.loads((run / "config.json").read_text())["model"]["rnn_size"] == 96


def test_sample_writes_midi_with_rhythm_and_is_deterministic(trained, tmp_path):
    cli("sample", "--run-dir", trained, "--out-dir", tmp_path / "a", "--num-files", 2,
        "--length", 60, "--seed", 5)
    cli("sample", "--run-dir", trained, "--out-dir", tmp_path / "b", "--num-files", 1,
        "--length", 60, "--seed", 5, "--tempo", 90, "--instrument", "Violin")
    first = tmp_path / "a" / "cadenza-0005.mid"
    pm = pretty_midi.PrettyMIDI(str(first))
    notes = pm.instruments[0].notes
    assert 1 < len(notes) <= 60
    assert len({round(n.end - n.start, 3) for n in notes}) > 1  # not every note the same length
    same, other = tmp_path / "b" / "cadenza-0005.mid", tmp_path / "a" / "cadenza-0006.mid"
    violin = pretty_midi.PrettyMIDI(str(same))
    assert violin.instruments[0].program == 40
    assert [(n.pitch) for n in violin.instruments[0].notes] == [n.pitch for n in notes]
    assert [n.pitch for n in pretty_midi.PrettyMIDI(str(other)).instruments[0].notes] != \
        [n.pitch for n in notes]


def test_sample_continues_a_prime_file(trained, tmp_path, chorales):
    prime = sorted(chorales.glob("*.mid"))[0]
    cli("sample", "--run-dir", trained, "--out-dir", tmp_path, "--prime-file", prime,
        "--prime-notes", 12, "--length", 40)
    out = sorted(n.pitch for n in pretty_midi.PrettyMIDI(str(tmp_path / "cadenza-0000.mid"))
                 .instruments[0].notes[:1])
    head = midi_io.read_midi(prime)
    assert out[0] in head[:, 2].astype(int).tolist()


def test_evaluate_writes_both_nlls_and_the_music_table(trained, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    out = cli("evaluate", "--run-dir", run, "--num-samples", 2, "--free-samples", 3,
              "--length", 40, "--max-ngram-order", 4).stdout
    result = json.loads((run / "evaluation.json").read_text())
    assert result["lstm"]["nll"] > 0 and result["ngram"]["nll"] > 0
    assert result["lstm"]["nll_per_note"] > result["lstm"]["nll"]  # over 1 token per note
    assert 0 < result["lstm"]["grammar"]["nll_per_note"] < result["lstm"]["nll_per_note"]
    assert result["ngram"]["order"] in (3, 4)
    assert [b["from"] for b in result["lstm"]["by_position"]] == [0, 256, 512, 1024]
    assert result["music"]["generated"]["songs"] == 3
    assert len(result["requests"]["keys"]) == 4  # one of them minor
    assert any(k["key"].endswith("minor") for k in result["requests"]["keys"])
    assert "copy rate" in out and "LSTM" in out and "human test" in out and "checks:" in out


def test_stateful_steps_equal_the_sequence_model(trained):
    from trainer.nn import backend

    backend.configure()
    from trainer.compose.stepper import Stepper
    from trainer.nn.model import inference_network, inference_weights, load_trained
    from trainer.nn.runs import RunDir

    model = load_trained(RunDir(trained))
    codec = RunDir(trained).codec()
    prefix = np.array([1, codec.key_id((7, "major")), codec.meter_id((4, 4)), codec.bar_id,
                       54, 94, 47, 94, 42, 94, 130, 56, 92, 45, 92], dtype=np.int32)
    from trainer.nn.model import model_inputs

    full = np.asarray(model.predict_on_batch(
        model_inputs(codec, RunDir(trained).config().model, [prefix])))[0]
    network = inference_network(model, codec, RunDir(trained).config().model)
    stepped = Stepper(inference_weights(model, network), network, codec).run(prefix)
    np.testing.assert_allclose(stepped, full, rtol=1e-4, atol=1e-4)
    probs = [np.exp(z - z.max()) / np.exp(z - z.max()).sum() for z in (stepped, full)]
    np.testing.assert_allclose(*probs, atol=1e-5)


@pytest.mark.xdist_group("quiet")  # pytest -n: beside tests/test_quiet.py, whose JAX run it shares
def test_jax_backend_trains_and_its_weights_load_under_tensorflow(tiny_runs, tmp_path):
    pytest.importorskip("jax")
    # train --data-dir CHORALES --run-dir RUN --epochs 1 TINY under KERAS_BACKEND=jax,
    # shared with tests/test_quiet.py (conftest's tiny_runs checks that it exits 0)
    run, _ = tiny_runs("jax")
    prefix = "[1, 140, 165, 174, 54, 94, 47, 94, 130, 56, 92]"  # BOS KEY METER BAR notes
    probe = ("import sys, numpy as np; from trainer.nn import backend; backend.configure();"
             "from trainer.nn.model import load_trained, model_inputs; from trainer.nn.runs import "
             "RunDir; r = RunDir(sys.argv[1]); m = load_trained(r);"
             f"x = model_inputs(r.codec(), r.config().model, [np.array({prefix}, np.int32)]);"
             "np.save(sys.argv[2], np.asarray(m.predict_on_batch(x)))")
    for backend_name in ("jax", "tensorflow"):
        subprocess.run([sys.executable, "-c", probe, str(run), str(tmp_path / backend_name)],
                       check=True, env={**os.environ, "KERAS_BACKEND": backend_name},
                       capture_output=True)
    np.testing.assert_allclose(np.load(tmp_path / "jax.npy"), np.load(tmp_path / "tensorflow.npy"),
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("backend_name", ["tensorflow", "jax"])
def test_data_parallel_over_two_logical_cpu_devices(backend_name, chorales, cache, tmp_path):
    if backend_name == "jax":
        pytest.importorskip("jax")
    run = tmp_path / "dp"
    cli("train", "--data-dir", chorales, "--run-dir", run, "--epochs", 1, "--devices", 2,
        *TINY, env={"KERAS_BACKEND": backend_name})
    assert np.isfinite(json.loads((run / "metrics.json").read_text())["best_val_loss"])


def tree_hash(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()


@pytest.mark.parametrize("flags, message", [
    (["--rnn-size", "-4"], "--rnn-size"),
    (["--window-size", "1"], "--window-size"),
    (["--optimizer", "adagradx"], "adagradx"),
    (["--dropout", "1.5"], "--dropout"),
    (["--epochs", "0"], "--epochs"),
    (["--batch-size", "many"], "--batch-size"),
])
def test_bad_settings_fail_in_one_line(flags, message, tmp_path):
    proc = cli("train", "--run-dir", tmp_path / "new", *flags, check=False)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error:")
    assert message in proc.stderr
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("flags, message", [
    (["--steps-per-beat", "12"], "different vocabulary"),
    ([], "already holds a run"),
    (["--resume", "--rnn-size", "64"], "--rnn-size differ"),
    (["--resume", "--max-shift", "8"], "different vocabulary"),
])
def test_an_existing_run_is_never_overwritten(trained, flags, message, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    before = tree_hash(run)
    proc = cli("train", "--run-dir", run, *flags, check=False)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert proc.stderr.count("\n") == 1
    assert tree_hash(run) == before


def test_sample_and_evaluate_refuse_a_folder_without_a_run(tmp_path):
    (tmp_path / "empty").mkdir()
    for args in (["sample", "--run-dir", tmp_path / "empty", "--out-dir", tmp_path / "o"],
                 ["evaluate", "--run-dir", tmp_path / "empty"]):
        proc = cli(*args, check=False)
        assert proc.returncode == 2 and proc.stderr.startswith("error:"), proc.stderr
        assert proc.stderr.count("\n") == 1
    proc = cli("sample", "--run-dir", tmp_path, "--out-dir", tmp_path / "o",
               "--instrument", "Kazoo", check=False)
    assert proc.returncode == 2 and "Kazoo" in proc.stderr


def test_ema_checkpoints_hold_the_average_and_resume_trains_on_the_raw_weights(chorales, cache,
                                                                               tmp_path):
    import keras

    from trainer.nn.model import swap_average

    run = tmp_path / "ema"
    cli("train", "--data-dir", chorales, "--run-dir", run, "--epochs", 1, "--ema", 0.9, *TINY)
    last = keras.models.load_model(run / "checkpoints" / "last-e0001.keras")
    average = [keras.ops.convert_to_numpy(v) for v in last.trainable_weights]
    raw = [keras.ops.convert_to_numpy(v) for v in last.optimizer._model_variables_moving_average]
    assert any(not np.allclose(a, r) for a, r in zip(average, raw))  # the two differ
    best = keras.models.load_model(run / "checkpoints" / "last-e0001.keras")
    best.load_weights(run / "best.weights.h5")
    assert all(np.array_equal(a, keras.ops.convert_to_numpy(b)) for a, b in zip(average, best.trainable_weights))
    assert swap_average(last)  # what a resume does: the raw weights back in the model
    assert all(np.array_equal(r, keras.ops.convert_to_numpy(v)) for r, v in zip(raw, last.trainable_weights))
    out = cli("train", "--run-dir", run, "--resume", "--epochs", 2).stdout
    assert "after epoch 1" in out
    rows = list(csv.DictReader(open(run / "log.csv")))
    assert [r["epoch"] for r in rows] == ["1", "2"] and float(rows[1]["val_loss"]) < float(
        rows[0]["val_loss"])
    config = json.loads((run / "config.json").read_text())
    assert config["train"]["ema"] == 0.9
    plain = keras.models.load_model(run / "checkpoints" / "last-e0002.keras")
    assert plain.optimizer.use_ema


def test_without_ema_nothing_is_swapped(trained):
    import keras

    from trainer.nn.model import swap_average

    model = keras.models.load_model(trained / "checkpoints" / "last-e0001.keras")
    before = [keras.ops.convert_to_numpy(v) for v in model.trainable_weights]
    assert not swap_average(model)
    assert all(np.array_equal(b, keras.ops.convert_to_numpy(v)) for b, v in zip(before, model.trainable_weights))


def test_init_from_starts_where_the_given_model_ends(trained, chorales, cache, tmp_path):
    """--init-from: a fresh run starts from another model's weights (its first validation
    loss is the source's best, not a random network's) and refuses a different network."""
    source = json.loads((trained / "metrics.json").read_text())
    run = tmp_path / "warm"
    out = cli("train", "--data-dir", chorales, "--run-dir", run, "--epochs", 1, *TINY,
              "--init-from", trained, "--learning-rate", 1e-6).stdout
    assert "starting from the weights of" in out
    assert json.loads((run / "config.json").read_text())["train"]["init_from"] == str(trained)
    warm = json.loads((run / "metrics.json").read_text())["best_val_loss"]
    assert abs(warm - source["best_val_loss"]) < 0.02, (warm, source["best_val_loss"])
    bad = cli("train", "--data-dir", chorales, "--run-dir", tmp_path / "bad", "--epochs", 1,
              *TINY, "--rnn-size", 20, "--init-from", trained, check=False)
    assert bad.returncode == 2 and bad.stderr.startswith("error: --init-from")
    assert len(bad.stderr.splitlines()) == 1


def test_refit_repeats_a_run_on_its_training_and_validation_songs(chorales, cache, tmp_path):
    """--refit RUN: RUN's settings, split and learning rates for its best epoch count, on
    its training and validation songs; the last epoch's weights are the ones kept."""
    source = tmp_path / "source"
    cli("train", "--data-dir", chorales, "--run-dir", source, "--epochs", 2, *TINY,
        "--schedule", "plateau", "--learning-rate", 0.003, "--val-fraction", 0.25)
    state = json.loads((source / "state.json").read_text())
    refit = tmp_path / "refit"
    out = cli("train", "--data-dir", chorales, "--run-dir", refit, "--refit", source).stdout
    split = json.loads((refit / "split.json").read_text())
    assert split["refit"] is True
    assert {k: split[k] for k in ("train", "validation", "test")} == \
        {k: v for k, v in json.loads((source / "split.json").read_text()).items()
         if k in ("train", "validation", "test")}
    config = json.loads((refit / "config.json").read_text())
    assert config["train"]["refit"] == str(source) and config["train"]["epochs"] == \
        state["best_epoch"]
    assert config["model"] == json.loads((source / "config.json").read_text())["model"]
    metrics = json.loads((refit / "metrics.json").read_text())
    assert metrics["refit"] and metrics["train_songs"] == len(split["train"]) + \
        len(split["validation"])
    assert f"the {len(split['validation'])} validation songs among them" in out

    def rates(run):
        with open(run / "log.csv", newline="") as f:
            return [float(r["learning_rate"]) for r in csv.DictReader(f)]
    assert rates(refit) == rates(source)[:state["best_epoch"]]
    refit_state = json.loads((refit / "state.json").read_text())
    assert refit_state["best_epoch"] == refit_state["epoch"] == state["best_epoch"]
    bad = cli("train", "--data-dir", chorales, "--run-dir", tmp_path / "bad", "--refit", source,
              "--epochs", 5, check=False)
    assert bad.returncode == 2 and "drop --epochs" in bad.stderr
    again = cli("train", "--run-dir", tmp_path / "again", "--refit", refit, check=False)
    assert again.returncode == 2 and "itself a refit" in again.stderr
