"""Data-parallel set-up refuses what it cannot split, before writing anything."""

from __future__ import annotations

import pytest

from conftest import TINY, cli


@pytest.mark.parametrize("backend_name", ["tensorflow", "jax"])
def test_a_batch_the_devices_cannot_share_is_one_error_line(backend_name, chorales, cache,
                                                            tmp_path):
    if backend_name == "jax":
        pytest.importorskip("jax")
    run = tmp_path / "dp"
    flags = list(TINY)
    flags[flags.index("--batch-size") + 1] = "8"
    proc = cli("train", "--data-dir", chorales, "--run-dir", run, "--epochs", 1, "--devices", 3,
               *flags, env={"KERAS_BACKEND": backend_name}, check=False)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: --batch-size 8 cannot be split evenly over 3 devices; use a multiple of 3")
    assert not (run / "config.json").exists()
