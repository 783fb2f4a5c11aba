"""The adapted model's download (issue 28): the folder the browser zips
(web/src/adapt/export.js), unzipped, is a standard export that ``python -m
converter``'s reader and ``python -m trainer sample`` accept. node adapts a tiny test
model and writes the folder (tests/js/write_adapted.mjs, the zip read back)."""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pretty_midi
import pytest

from conftest import cli
from converter.read import read_export
from trainer.errors import CadenzaError

# make test runs these after scripts/make_test_models.py, beside the browser tests
pytestmark = pytest.mark.test_models
ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "build" / "test-models"


@pytest.fixture(scope="module", params=["uint8-column", "v1"])
def adapted(request, tmp_path_factory):
    """(base model folder, the adapted model's folder as node wrote it from the zip)."""
    base = MODELS / request.param
    if shutil.which("node") is None:
        pytest.skip("adapting runs in node: Node 20 is not installed")
    if not (base / "config.json").exists():
        pytest.skip("scripts/make_test_models.py has not run")
    out = tmp_path_factory.mktemp("adapted")
    subprocess.run(["node", str(ROOT / "tests/js/write_adapted.mjs"), str(out), request.param],
                   cwd=ROOT, check=True, capture_output=True, timeout=120)
    return base, out


def test_the_reader_accepts_it_with_the_adapted_weights(adapted):
    base_folder, folder = adapted
    export, base = read_export(folder), read_export(base_folder)  # parity.json checked too
    record = export.config["adaptation"]
    assert record["base"]["name"] == base.config["name"]
    assert record["base"]["shards"] == base.config["shards"]
    before, after = (record["held_out_nll_per_note"][k] for k in ("before", "after"))
    assert after < before
    assert set(export.weights) == set(base.weights)
    for name, values in export.weights.items():
        same = np.array_equal(values, base.weights[name])
        assert same != (name in record["trained"]), name


def test_a_damaged_byte_is_refused(adapted, tmp_path):
    folder = shutil.copytree(adapted[1], tmp_path / "damaged")
    shard = folder / "group1-shard1of1.bin"
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0x40
    shard.write_bytes(bytes(data))
    with pytest.raises(CadenzaError, match="group1-shard1of1.bin is damaged"):
        read_export(folder)


def test_trainer_sample_composes_from_it(adapted, tmp_path):
    _, folder = adapted
    out = tmp_path / "songs"
    cli("sample", "--run-dir", folder, "--out-dir", out, "--num-files", 1, "--length", 64)
    [song] = out.glob("*.mid")
    assert pretty_midi.PrettyMIDI(str(song)).instruments[0].notes
