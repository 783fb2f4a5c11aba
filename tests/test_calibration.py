"""``python -m trainer calibrate``: the temperature fitted on the validation songs, baked
into the best weights exactly, kept apart from the weights as trained, and taken over by
a refit."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import TINY, cli

from trainer.evaluation.calibration import fit_temperature, nll_per_token


def test_the_fitted_temperature_undoes_a_known_overconfidence():
    rng = np.random.default_rng(0)
    true = rng.normal(0, 1.5, (20_000, 30))
    p = np.exp(true - true.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    targets = np.array([rng.choice(30, p=row) for row in p])
    for sharpness in (0.5, 1.0, 2.0):
        t = fit_temperature(true * sharpness, targets)
        assert t == pytest.approx(sharpness, rel=0.05)
        assert nll_per_token(true * sharpness, targets, t) <= \
            nll_per_token(true * sharpness, targets, 1.0) + 1e-9
    assert fit_temperature(true * 10, targets, 0.5, 3.0) == pytest.approx(3.0, abs=1e-3)


def logits_of(run):
    from trainer.compose.stepper import Stepper
    from trainer.nn.loading import load

    loaded = load(run)
    ids = [loaded.codec.bos_id, loaded.codec.key_id((7, "major")),
           loaded.codec.meter_id((4, 4)), loaded.codec.bar_id]
    return Stepper(loaded.weights, loaded.network, loaded.codec).run(ids)


@pytest.mark.slow
def test_calibrate_bakes_the_temperature_into_the_best_weights(trained, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    before = logits_of(run)
    out = cli("calibrate", "--run-dir", run).stdout
    record = json.loads((run / "calibration.json").read_text())
    t = record["temperature"]
    assert 0.5 <= t <= 3.0 and f"temperature {t:.4f}" in out
    nll = record["validation_nll_per_note"]
    assert nll["after"] <= nll["before"] + 1e-9
    assert (run / "best.raw.weights.h5").exists()
    np.testing.assert_allclose(logits_of(run), before / t, rtol=1e-4, atol=1e-4)
    cli("calibrate", "--run-dir", run)  # again: from the raw weights, not compounded
    assert json.loads((run / "calibration.json").read_text())["temperature"] == \
        pytest.approx(t, rel=1e-3)
    np.testing.assert_allclose(logits_of(run), before / t, rtol=1e-3, atol=1e-3)


@pytest.mark.slow
def test_a_refit_takes_the_temperature_of_the_run_it_repeats(chorales, cache, tmp_path):
    source, refit = tmp_path / "source", tmp_path / "refit"
    cli("train", "--data-dir", chorales, "--run-dir", source, "--epochs", 1, *TINY,
        "--val-fraction", 0.25)
    cli("train", "--data-dir", chorales, "--run-dir", refit, "--refit", source)
    bad = cli("calibrate", "--run-dir", refit, check=False)
    assert bad.returncode == 2 and "is not calibrated" in bad.stderr
    assert len(bad.stderr.splitlines()) == 1
    cli("calibrate", "--run-dir", source)
    before = logits_of(refit)
    cli("calibrate", "--run-dir", refit)
    t = json.loads((source / "calibration.json").read_text())["temperature"]
    record = json.loads((refit / "calibration.json").read_text())
    assert record["temperature"] == t and record["source"] == str(source)
    np.testing.assert_allclose(logits_of(refit), before / t, rtol=1e-4, atol=1e-4)


def test_a_refits_export_names_the_run_it_repeats_its_calibration_and_the_refit(tmp_path):
    from pathlib import Path

    from converter.record import train_commands
    from trainer.config import RunConfig, TrainConfig

    source = tmp_path / "source"
    source.mkdir()
    ref = RunConfig(train=TrainConfig(run_dir=source, epochs=12, ema=0.995,
                                      init_from=Path("runs/v5")))
    (source / "config.json").write_text(json.dumps(ref.to_dict(), default=str))
    (source / "metrics.json").write_text(json.dumps({"backend": "jax on CPU"}))
    refit = RunConfig(train=TrainConfig(run_dir=tmp_path / "refit", epochs=7, ema=0.995,
                                        init_from=Path("runs/v5"), refit=source))
    lines = train_commands(refit, "tensorflow on CPU").splitlines()
    assert lines[0].startswith("KERAS_BACKEND=jax python -m trainer train ")
    assert "--ema 0.995" in lines[0] and "--init-from runs/v5" in lines[0]
    assert "--refit" not in lines[0] and len(lines) == 2
    assert lines[1] == f"python -m trainer train --run-dir {tmp_path / 'refit'} --refit {source}"
    (source / "calibration.json").write_text(json.dumps({"temperature": 1.1}))
    lines = train_commands(refit, "tensorflow on CPU").splitlines()
    assert lines[1] == f"python -m trainer calibrate --run-dir {source}" and len(lines) == 3
