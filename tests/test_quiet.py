"""Every command is quiet: no C++, absl or CUDA start-up lines, under either backend.

Each backend runs the whole chain once, as a user would (prepare, train,
sample, evaluate, export, sample and harmonize from the export, and a bad
flag), on a tiny model; every command's stdout and stderr together must hold
no line of start-up noise, and our own ``error:`` line must still get through.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

import pytest
from conftest import cli

NOISE = re.compile("|".join([
    r"^[EWIF]\d{4} ",  # absl / glog: E0000 00:00:... file.cc:123]
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [EWIF] ",  # TensorFlow's own C++ log format
    r"absl::InitializeLog", r"Unable to register", r"computation placer", r"cuInit",
    r"(?i:cuda)", r"oneDNN", r"TF-TRT", r"TensorRT", r"external/local_xla", r"tensorflow/core/",
    r"^WARNING:tensorflow", r"GRPC", r"rebuild TensorFlow",
]), re.MULTILINE)
# pytest -n: this module (its chain, run once) on one process, with test_train.py's JAX test,
# which shares its JAX run (conftest's tiny_runs)
pytestmark = pytest.mark.xdist_group("quiet")
BACKENDS = ["tensorflow", "jax"]
COMMANDS = ["prepare", "train", "sample", "evaluate", "converter", "sample export",
            "harmonize export", "bad flag"]


def noise(text: str) -> list[str]:
    return [line for line in text.splitlines() if NOISE.search(line)]


@pytest.fixture(scope="module")
def outputs(chorales, cache, tiny_runs, tmp_path_factory):
    """``{(backend, command): stdout + stderr}`` of the chain, run once per backend.

    The train step is conftest's ``tiny_runs`` (the same command, ``train --data-dir
    CHORALES --run-dir RUN --epochs 1`` with the TINY flags under the backend, which the
    other tests share); the rest of the chain runs on a copy of its run folder."""
    found = {}
    for backend_name in BACKENDS:
        if backend_name == "jax" and not _has("jax"):
            continue
        env = {"KERAS_BACKEND": backend_name}
        work = tmp_path_factory.mktemp(f"quiet-{backend_name}")
        run = work / "run"
        steps = {
            "prepare": ("prepare", "--data-dir", chorales),
            "train": None,  # tiny_runs(backend_name), copied to run
            "sample": ("sample", "--run-dir", run, "--out-dir", work / "songs",
                       "--num-files", 1, "--length", 10),
            "evaluate": ("evaluate", "--run-dir", run, "--num-samples", 1, "--free-samples", 1,
                         "--length", 10, "--max-ngram-order", 3),
            "converter": ("--run-dir", run, "--out", work / "export"),
            # composing from an export folder loads no Keras at all
            "sample export": ("sample", "--run-dir", work / "export", "--out-dir",
                              work / "songs-export", "--num-files", 1, "--length", 10),
            "harmonize export": ("harmonize", "--run-dir", work / "export", "--melody-file",
                                 sorted(Path(chorales).glob("*.mid"))[0], "--out-dir",
                                 work / "harmony"),
            "bad flag": ("train", "--run-dir", run, "--rnn-size", -4),
        }
        for command, args in steps.items():
            if command == "train":
                trained, found[backend_name, command] = tiny_runs(backend_name)
                shutil.copytree(trained, run)
                continue
            proc = cli(*args, env=env, check=command != "bad flag",
                       module="converter" if command == "converter" else "trainer")
            found[backend_name, command] = proc.stdout + proc.stderr
    return found


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


@pytest.mark.slow
@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("backend_name", BACKENDS)
def test_command_prints_no_start_up_noise(outputs, backend_name, command):
    if (backend_name, command) not in outputs:
        pytest.skip(f"{backend_name} is not installed")
    text = outputs[backend_name, command]
    assert noise(text) == [], text
    if command == "bad flag":
        assert re.search(r"^error: .*--rnn-size", text, re.MULTILINE), text
    else:
        assert text.strip(), "the command printed nothing at all"


def test_noise_pattern_knows_the_lines_it_must_catch():
    seen = [  # lines the JAX train printed before the fix, and TensorFlow's own format
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
        "E0000 00:00:1796154023.444110     523 cuda_dnn.cc:8579] Unable to register cuDNN factory",
        "W0000 00:00:1796154023.470151     523 computation_placer.cc:177] computation placer",
        "2026-12-01 19:43:15.237452: E external/local_xla/xla/stream_executor/cuda/"
        "cuda_platform.cc:51] failed call to cuInit",
        "WARNING:tensorflow:Compiled the loaded model, but the compiled metrics have yet to be built.",
    ]
    assert all(noise(line) for line in seen)
    ours = ["epoch 1: loss 4.8684  val_loss 4.7238 *  val_acc 0.114  lr 0.002  291 tok/s  5.9 s",
            "training 22,579 parameters with jax on CPU: 3 songs (1,925 targets), 1 held out",
            "error: data folder /tmp/x does not exist"]
    assert not any(noise(line) for line in ours)


@pytest.mark.parametrize("raises", [False, True])
def test_quiet_stderr_drops_only_benign_lines_and_keeps_all_on_failure(capfd, raises):
    from trainer.nn.backend import quiet_stderr

    try:
        with quiet_stderr():
            os.write(2, b"W0000 00:00:1.0 1 computation_placer.cc:177] computation placer "
                        b"already registered.\nsomething real went wrong\n")
            print("python's own stderr", file=sys.stderr)
            if raises:
                raise ImportError("broken library")
    except ImportError:
        pass
    err = capfd.readouterr().err
    assert "something real went wrong" in err and "python's own stderr" in err
    assert ("computation placer" in err) == raises
