"""Asking for a key and a meter: bad requests get one line naming the choices, and
requests reach the songs (on the tiny test models of scripts/make_test_models.py)."""

from pathlib import Path

import pretty_midi
import pytest

from conftest import cli
from test_faults import one_error

# make test runs these after scripts/make_test_models.py, beside the browser tests
pytestmark = pytest.mark.test_models
MODELS = Path(__file__).resolve().parents[1] / "build" / "test-models"
V2_EXPORT, V1_EXPORT = MODELS / "none", MODELS / "v1"
needs_models = pytest.mark.skipif(not (V2_EXPORT / "config.json").exists(),
                                  reason="scripts/make_test_models.py has not run")


@pytest.mark.parametrize("flag, value, needles", [
    ("--key", "H:major", ["--key", "unknown key 'H:major'", "D:minor"]),
    ("--key", "D:lydianish", ["--key", "major or minor"]),
    ("--meter", "5/4", ["--meter", "unknown meter '5/4'", "6/8", "other"]),
    ("--meter", "six-eight", ["--meter", "3/4"]),
])
def test_an_unknown_key_or_meter_is_one_line_naming_the_choices(tmp_path, flag, value, needles):
    proc = cli("sample", "--run-dir", tmp_path / "none", "--out-dir", tmp_path / "out", flag,
               value, check=False)
    one_error(proc, *needles)
    assert not (tmp_path / "out").exists()


@needs_models
def test_a_v1_model_refuses_a_key_request_and_still_composes(tmp_path):
    one_error(cli("sample", "--run-dir", V1_EXPORT, "--out-dir", tmp_path, "--key", "G:major",
                  check=False), "version-1 model", "--key any")
    cli("sample", "--run-dir", V1_EXPORT, "--out-dir", tmp_path, "--length", 20)
    assert (tmp_path / "cadenza-0000.mid").exists()


@needs_models
def test_an_exported_model_composes_in_the_key_and_meter_asked_for(tmp_path):
    out = cli("sample", "--run-dir", V2_EXPORT, "--out-dir", tmp_path, "--key", "Bb:major",
              "--meter", "6/8", "--length", 30, "--num-files", 2).stdout
    assert out.count("in Bb major, 6/8") == 2, out
    pm = pretty_midi.PrettyMIDI(str(tmp_path / "cadenza-0001.mid"))
    assert [(t.numerator, t.denominator) for t in pm.time_signature_changes][:1] == [(6, 8)]
    assert [k.key_number for k in pm.key_signature_changes] == [10]  # Bb major


@needs_models
def test_a_key_the_model_never_saw_is_allowed_and_labelled_unseen(tmp_path):
    proc = cli("sample", "--run-dir", V2_EXPORT, "--out-dir", tmp_path, "--key", "F#:minor",
               "--length", 20)
    seen = __import__("json").loads((V2_EXPORT / "config.json").read_text())["conditioning"]
    if "F#:minor" not in seen["keys"]:
        assert "F#:minor is unseen" in proc.stdout
    assert "in F# minor" in proc.stdout
