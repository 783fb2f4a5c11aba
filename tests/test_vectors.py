"""The shared test vectors: committed files equal what Python makes of them now.

Each file holds codec v1 cases (the codecs pinned to ``vocab_version=1``) and
v2 cases (KEY, METER and BAR tokens); a few ids and results are pinned here.
"""

import importlib.util
import json
from pathlib import Path

import pytest

from trainer.music.codec import Codec

ROOT = Path(__file__).resolve().parents[1]
VECTORS = ROOT / "tests" / "vectors"


def load_script():
    script = ROOT / "scripts" / "make_vectors.py"
    spec = importlib.util.spec_from_file_location("make_vectors", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def built() -> dict[str, str]:
    """File name -> the text scripts/make_vectors.py writes now, built once on first use
    (not at import: collecting the tests, in every pytest -n process, stays quick)."""
    return load_script().build()


# pytest -n: on one process, which builds the vectors once
pytestmark = pytest.mark.xdist_group("vectors")

# the committed files; test_every_vector_file_is_built checks that they are all that is built
COMMITTED = sorted(p.name for p in VECTORS.glob("*.json"))


def same(a, b) -> bool:
    """Equal JSON, floats to 1e-12 relative: the last bit of a BLAS sum differs between
    machines (the JS tests hold their own tolerances); every id, draw and string exactly."""
    if isinstance(a, float) and isinstance(b, float):
        return a == pytest.approx(b, rel=1e-12, abs=1e-15)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def test_same_is_exact_but_for_the_last_bits_of_floats():
    assert same({"p": [0.1 + 0.2, 3], "s": "x"}, {"p": [0.3, 3], "s": "x"})
    assert not same({"p": [0.3001]}, {"p": [0.3]}) and not same([1, 2], [1, 2, 3])
    assert not same({"draws": [4]}, {"draws": [4.0]}) and not same({"a": 1}, {"b": 1})


@pytest.mark.parametrize("name", COMMITTED)
def test_committed_vectors_are_current(built, name):
    path = VECTORS / name
    assert name in built, f"{path} is no longer built; run scripts/make_vectors.py"
    assert same(json.loads(path.read_text()), json.loads(built[name])), \
        f"{name} is stale; run scripts/make_vectors.py"


def test_every_vector_file_is_built(built):
    missing = [str(VECTORS / name) for name in sorted(set(built) - set(COMMITTED))]
    assert not missing, f"missing {', '.join(missing)}; run scripts/make_vectors.py"
    assert {p.name for p in VECTORS.glob("*.json")} == set(built)


def test_pinned_ids_and_notes(built):
    decode = json.loads(built["codec_decode.json"])["codecs"][0]
    codec = Codec.from_json(decode["vocab"])
    assert codec.version == 1 and codec.size == 139
    assert decode["vocab"]["tokens"][42] == "NOTE_60" and codec.token_id("NOTE", 60) == 42
    chord = next(c for c in decode["cases"] if c["name"] == "chord")
    assert chord["ids"] == [1, 54, 94, 49, 94, 46, 94, 2]
    assert chord["notes"] == [[0, 4, 72], [0, 4, 67], [0, 4, 64]]
    bad = next(c for c in decode["cases"] if c["name"] == "NOTE NOTE DUR")
    assert bad["notes"] == [[0, 2, 64]]


def test_pinned_sampler_vectors(built):
    sampler = json.loads(built["sampler.json"])
    assert sampler["mulberry32"][0]["seed"] == 0
    assert sampler["mulberry32"][0]["floats"][0] * 2**32 == 1144304738  # from node
    cases = {c["name"]: c for c in sampler["cases"]}
    assert cases["ties, argmax"]["draws"] == [1] * 20
    assert set(cases["ties, top_k 2"]["draws"]) == {1, 2}
    generate = json.loads(built["generate.json"])
    assert {c["stop"] for c in generate["cases"]} == {"eos", "notes", "tokens"}


def test_pinned_v2_ids_and_meta(built):
    codecs = json.loads(built["codec_decode.json"])["codecs"]
    assert [c["vocab"]["version"] for c in codecs] == [1, 1, 2, 2, 2]
    v2 = Codec.from_json(codecs[2]["vocab"])
    assert v2.size == 175 and v2.key_id((0, "major")) == 139 and v2.key_id((2, "minor")) == 153
    assert v2.meter_id((4, 4)) == 165 and v2.meter_id("other") == 173 and v2.bar_id == 174
    assert not codecs[4]["vocab"]["params"]["bars"] and "BAR" not in codecs[4]["vocab"]["ranges"]
    cases = {c["name"]: c for c in codecs[2]["cases"]}
    assert cases["header and bars"]["meta"] == {"key": [2, "minor"], "meter": [3, 4],
                                                "bars": [[12, [3, 4]], [24, [3, 4]]]}
    assert cases["meter changes"]["meta"]["bars"] == [[0, [3, 4]], [12, [2, 4]], [20, [6, 8]],
                                                      [32, [6, 8]]]
    assert cases["other meter"]["meta"]["meter"] == "other"
    songs = {c["name"]: c for c in json.loads(built["codec_encode.json"])["songs"][0]["cases"]}
    waltz = songs["waltz with a pickup"]
    assert waltz["meta"]["bars"][0] == [4, [3, 4]] and waltz["source"] == "file"
    assert waltz["ids"][:4] == [1, v2.key_id((7, "major")), v2.meter_id((3, 4)), v2.token_id("NOTE", 62)]
    assert songs["5/4 is other"]["meta"]["meter"] == "other"
    assert songs["key signature that disagrees"]["source"] == "estimate"


def test_pinned_keep_and_request_vectors(built):
    cases = {c["name"]: c for c in json.loads(built["sampler.json"])["cases"]}
    assert cases["keep cut by top_k"]["candidates"][-1] == 2  # EOS, appended after the top 5
    assert len(cases["keep cut by top_k"]["candidates"]) == 6
    assert 2 not in cases["keep masked"]["candidates"]
    assert cases["keep, argmax"]["candidates"] == [cases["keep, argmax"]["draws"][0]]
    v2 = json.loads(built["generate.json"])["v2"]
    codec = Codec.from_json(v2["vocab"])
    for case in v2["cases"]:
        song = case["prime"] + case["ids"]
        meta = codec.decode_meta(song)
        if len(case["prime"]) > 1:  # a prime states its own key and meter: requests cannot
            stated = codec.decode_meta(case["prime"])
            assert (meta.key, meta.meter) == (stated.key, stated.meter)
            continue
        if case["key"] is not None:
            assert codec.key_id(meta.key) == case["key"]
        if case["meter"] is not None:
            assert codec.meter_id(meta.meter) == case["meter"]
            assert all(codec.meter_id(m) == case["meter"] for _, m in meta.bars)
    keys = json.loads(built["keys.json"])
    assert keys["flat"] == [0, "major"] and keys["keys"][14] == "D:minor"
    assert {c["source"] for c in keys["choices"]} == {"file", "estimate"}


def test_pinned_degree_index(built):
    codecs = json.loads(built["codec_decode.json"])["codecs"]
    assert ["degree_index" in c for c in codecs] == [False, False, True, True, True]
    v2 = Codec.from_json(codecs[2]["vocab"])
    table = codecs[2]["degree_index"]
    assert len(table) == 25 and {len(row) for row in table} == {v2.size}
    c4, b3 = v2.token_id("NOTE", 60), v2.token_id("NOTE", 59)
    assert table[0][c4] == 0 and table[0][b3] == 11  # C major: the tonic, the leading tone
    assert table[7][c4] == 5  # G major: C is the fourth
    assert table[12 + 9][c4] == 12 + 3 and table[12 + 9][b3] == 12 + 2  # A minor
    assert table[24] == [24] * v2.size  # no key read yet: nothing
    others = [i for i in range(v2.size) if v2.pitch_of(i) < 0]
    assert len(others) == v2.size - 88 and all(row[i] == 24 for row in table for i in others)
