"""The shared test vectors: committed files equal what Python makes of them now."""

import importlib.util
import json
from pathlib import Path

import pytest

from trainer.codec import Codec

ROOT = Path(__file__).resolve().parents[1]
VECTORS = ROOT / "tests" / "vectors"


def load_script():
    script = ROOT / "scripts" / "make_vectors.py"
    spec = importlib.util.spec_from_file_location("make_vectors", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BUILT = load_script().build()


@pytest.mark.parametrize("name", sorted(BUILT))
def test_committed_vectors_are_current(name):
    path = VECTORS / name
    assert path.exists(), f"missing {path}; run scripts/make_vectors.py"
    assert path.read_text() == BUILT[name], f"{name} is stale; run scripts/make_vectors.py"


def test_every_vector_file_is_built():
    assert {p.name for p in VECTORS.glob("*.json")} == set(BUILT)


def test_pinned_ids_and_notes():
    decode = json.loads(BUILT["codec_decode.json"])["codecs"][0]
    codec = Codec.from_json(decode["vocab"])
    assert decode["vocab"]["tokens"][42] == "NOTE_60" and codec.token_id("NOTE", 60) == 42
    chord = next(c for c in decode["cases"] if c["name"] == "chord")
    assert chord["ids"] == [1, 54, 94, 49, 94, 46, 94, 2]
    assert chord["notes"] == [[0, 4, 72], [0, 4, 67], [0, 4, 64]]
    bad = next(c for c in decode["cases"] if c["name"] == "NOTE NOTE DUR")
    assert bad["notes"] == [[0, 2, 64]]


def test_pinned_sampler_vectors():
    sampler = json.loads(BUILT["sampler.json"])
    assert sampler["mulberry32"][0]["seed"] == 0
    assert sampler["mulberry32"][0]["floats"][0] * 2**32 == 1144304738  # from node
    cases = {c["name"]: c for c in sampler["cases"]}
    assert cases["ties, argmax"]["draws"] == [1] * 20
    assert set(cases["ties, top_k 2"]["draws"]) == {1, 2}
    generate = json.loads(BUILT["generate.json"])
    assert {c["stop"] for c in generate["cases"]} == {"eos", "notes", "tokens"}
