"""Weight storage (converter/weights.py) and the ``--quantize auto`` rule
(converter/storage.py), without TensorFlow. tests/js/weights.test.mjs holds
web/src/mirror/weights.js to the same vectors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from converter import storage as S
from converter import weights as W
from converter.read import decode, manifest_weights
from trainer.compose.stepper import Stepper
from trainer.errors import CadenzaError
from trainer.nn import network as N

VECTORS = Path(__file__).resolve().parent / "vectors" / "weights.json"


def stored(manifest) -> dict[str, str]:
    """Each weight's storage as a manifest stores it (three entries: per column)."""
    out = {}
    for group in manifest:
        for e in group["weights"]:
            base, _, part = e["name"].rpartition("/")
            if part in W.COLUMN_PARTS:
                out[base] = "uint8-column"
            else:
                out[e["name"]] = W.storage_of(e)
    return out


def entry(name, shape, storage, q=None):
    return {"name": name, "shape": list(shape), "dtype": "float32",
            **({"quantization": q} if q else {})}


@pytest.mark.parametrize("case", json.loads(VECTORS.read_text())["cases"],
                         ids=lambda c: c["name"])
def test_the_shared_vectors_decode_to_their_values(case):
    data = bytes.fromhex(case["hex"])
    assert W.byte_size(case["shape"], case["storage"]) == len(data)
    decoded, at = {}, 0
    for e in case["entries"]:
        assert set(e) <= {"name", "shape", "dtype", "quantization"}  # TF.js's fields alone
        assert set(e.get("quantization", {})) <= {"dtype", "min", "scale", "original_dtype"}
        decoded[e["name"]], at = W.decode_entry(e, data, at)
    assert at == len(data)
    assert stored([{"weights": case["entries"]}]) == {case["weight"]: case["storage"]}
    values = W.assemble(decoded)[case["weight"]]
    want = np.asarray(case["values"], np.float32)
    assert values.reshape(-1).tobytes() == want.tobytes()  # bit for bit, -0.0 included


def test_a_column_reads_as_min_plus_q_scale_in_float64_rounded_once():
    scale = np.float32(0.1)
    w = W.assemble({"w/codes": np.array([[0, 9], [4, 3]], np.float32),
                    "w/column_min": np.array([-1, 0.5], np.float32),
                    "w/column_scale": np.array([0.25, scale], np.float32)})["w"]
    assert w.reshape(-1).tolist() == [-1.0, float(np.float32(9 * float(scale) + 0.5)),
                                      0.0, float(np.float32(3 * float(scale) + 0.5))]
    assert w[0, 1] != np.float32(9) * scale + np.float32(0.5)  # not float32 arithmetic
    with pytest.raises(W.WeightError, match=re.escape(
            "weight w is stored per column but the manifest lacks ['w/column_scale']")):
        W.assemble({"w/codes": np.zeros((2, 2)), "w/column_min": np.zeros(2)})
    with pytest.raises(W.WeightError, match="column_min and column_scale have shapes .3. and"):
        W.assemble({"w/codes": np.zeros((2, 2)), "w/column_min": np.zeros(3),
                    "w/column_scale": np.zeros(2)})


@pytest.mark.parametrize("storage", W.STORAGES)
def test_a_round_trip_is_off_by_at_most_half_a_step(storage):
    g = np.random.default_rng(1)
    x = (g.normal(0, 1, (40, 6)) * [1e-3, 0.1, 1, 3, 30, 0]).astype(np.float32)
    back = W.roundtrip(x, storage)
    assert back.dtype == np.float32 and back.shape == x.shape
    if storage == "float32":
        assert np.array_equal(back, x)
    elif storage == "float16":
        assert np.array_equal(back, x.astype(np.float16).astype(np.float32))
    else:
        axis = 0 if storage == "uint8-column" else None
        step = (x.max(axis) - x.min(axis)) / 255
        assert (np.abs(back - x) <= step / 2 * 1.001 + 1e-6 * np.abs(x)).all()
        if storage == "uint8-column":
            assert np.array_equal(back[:, 5], x[:, 5])  # a constant column stays exact
    assert len(W.encode("x", x, storage)[1]) == W.byte_size(x.shape, storage)


def test_per_column_beats_per_tensor_on_columns_of_different_scales():
    g = np.random.default_rng(2)
    x = (g.normal(0, 1, (64, 8)) * np.geomspace(1e-3, 1, 8)).astype(np.float32)
    err = {s: np.abs(W.roundtrip(x, s) - x)[:, 0].max() for s in ("uint8", "uint8-column")}
    assert err["uint8-column"] < err["uint8"] / 100


def test_unknown_storages_are_refused_with_the_weight_named():
    for q in ({"dtype": "uint16", "min": 0, "scale": 1}, {"dtype": "uint8", "per": "row"},
              {"dtype": "uint8"}, {"dtype": "float16", "per": "column"}):
        with pytest.raises(W.WeightError, match="weight w has an unsupported storage"):
            W.storage_of(entry("w", (3,), "?", q))
    with pytest.raises(W.WeightError, match="unsupported storage"):
        W.storage_of({"name": "w", "shape": [3], "dtype": "int32"})


def test_the_reader_refuses_short_long_and_non_finite_shards(tmp_path):
    q = {"dtype": "float16", "original_dtype": "float32"}
    manifest = [{"paths": ["s.bin"], "weights": [entry("w", (3,), "float16", q)]}]
    with pytest.raises(CadenzaError, match="weight shards hold 5 bytes, too few for w"):
        decode(tmp_path, manifest, [bytes(5)])
    with pytest.raises(CadenzaError, match="weight shards hold 8 bytes, the manifest describes 6"):
        decode(tmp_path, manifest, [bytes(8)])
    with pytest.raises(CadenzaError, match="weight w decodes to NaN or infinite values: the shard does not hold"):
        decode(tmp_path, manifest, [np.array([0, np.nan, 1], "<f2").tobytes()])


def test_write_uses_tensorflowjs_splits_shards_and_reads_back_what_it_wrote(tmp_path,
                                                                           monkeypatch):
    monkeypatch.setattr(W, "SHARD_BYTES", 100)
    g = np.random.default_rng(3)
    weights = {"a": g.normal(0, 1, (20, 5)).astype(np.float32),
               "b": g.normal(0, 1, (7,)).astype(np.float32),
               "c": g.normal(0, 1, (3, 2)).astype(np.float32)}
    storage = {"a": "uint8-column", "b": "float16", "c": "uint8"}
    W.write(tmp_path, weights, storage, {"name": "some network"})
    shards = sorted(p.name for p in tmp_path.glob("*.bin"))
    assert shards == ["group1-shard1of2.bin", "group1-shard2of2.bin"]  # 140 + 14 + 6 bytes
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(shards + ["model.json"])
    model = json.loads((tmp_path / "model.json").read_text())
    assert model["format"] == "cadenza-weights" and model["network"] == {"name": "some network"}
    assert [g["paths"] for g in model["weightsManifest"]] == [shards]
    # tensorflowjs's writer wrote exactly what encode() says it writes
    manifest, raw = zip(*(W.encode(n, w, storage[n]) for n, w in weights.items()))
    assert model["weightsManifest"][0]["weights"] == [e for m in manifest for e in m]
    assert b"".join((tmp_path / p).read_bytes() for p in shards) == b"".join(raw)
    assert stored(model["weightsManifest"]) == storage
    back = manifest_weights(tmp_path)
    assert list(back) == ["a", "b", "c"]
    for name, kind in storage.items():
        assert np.array_equal(back[name], W.roundtrip(weights[name], kind))


# --- the network model.json describes -----------------------------------------

def network(key_rows=25, degrees=24, bar_rows=64):
    return {"name": "cadenza_lstm_step", "cell": "lstm", "gates": "ifco", "vocab_size": 11,
            "embedding_size": 4, "num_layers": 2, "rnn_size": 6, "key_rows": key_rows,
            "degrees": degrees, "bar_rows": bar_rows}


CONFIG = {"vocab_size": 11, "model": {"num_layers": 2, "rnn_size": 6, "embedding_size": 4}}


PLAIN = ["embedding/embeddings", "lstm_0/lstm_cell/kernel", "lstm_0/lstm_cell/recurrent_kernel",
         "lstm_0/lstm_cell/bias", "lstm_1/lstm_cell/kernel", "lstm_1/lstm_cell/recurrent_kernel",
         "lstm_1/lstm_cell/bias", "logits/kernel", "logits/bias"]
KEY, DEGREES, BARS = (["key_embedding/embeddings"], ["degree_logits/kernel", "degree_logits/bias"],
                      ["bar_embedding/embeddings"])


def test_the_network_names_and_shapes_its_weights_in_stepper_order():
    shapes = N.shapes(network())
    assert list(shapes) == PLAIN + KEY + DEGREES + BARS
    assert shapes["key_embedding/embeddings"] == (25, 4)
    assert shapes["degree_logits/kernel"] == (6, 24) and shapes["degree_logits/bias"] == (24,)
    assert shapes["bar_embedding/embeddings"] == (64, 4)
    assert shapes["lstm_0/lstm_cell/kernel"] == (4, 24)
    assert shapes["lstm_1/lstm_cell/kernel"] == (6, 24) and shapes["logits/kernel"] == (6, 11)
    assert list(N.shapes(network(0, 0, 0))) == PLAIN
    assert list(N.shapes(network(25, 0, 0))) == PLAIN + KEY
    assert list(N.shapes(network(25, 24, 0))) == PLAIN + KEY + DEGREES
    assert list(N.shapes(network(25, 0, 64))) == PLAIN + KEY + BARS
    assert N.check(network(), CONFIG, key_tokens=True, bar_tokens=True) == network()
    assert N.legacy(CONFIG) == network(0, 0, 0)
    with pytest.raises(N.NetworkError, match="reads no key"):
        N.check(network(0, 24, 0), CONFIG, key_tokens=False)


def test_a_format_2_network_from_before_degrees_and_bars_has_none():
    older = {k: v for k, v in network(25).items() if k not in ("degrees", "bar_rows")}
    assert N.check(older, CONFIG, key_tokens=True) == network(25, 0, 0)
    assert list(N.shapes(N.check(older, CONFIG, key_tokens=True)))[-1] == \
        "key_embedding/embeddings"


@pytest.mark.parametrize("change, reason", [
    ({"cell": "gru"}, "describes an unsupported network"),
    ({"key_rows": 24}, "describes an unsupported network"),
    ({"degrees": 12}, "key_rows 0 or 25, degrees 0 or 24, bar_rows 0 or 64, sounding 0 or 88"),
    ({"degrees": True}, "describes an unsupported network"),
    ({"bar_rows": 63}, "describes an unsupported network"),
    ({"sounding": 12}, "describes an unsupported network"),
    ({"lookback": [3]}, "lookback bars of [1, 2, 4, 8]"),
    ({"repeating": 1}, "and repeating true or false"),
    ({"context_rows": -1}, "describes an unsupported network"),
    ({"rnn_size": 0}, "describes an unsupported network"),
    ({"key_rows": 0}, "scores scale degrees or counts bars but reads no key"),
    ({"key_rows": 0, "degrees": 0}, "(degrees or bar_rows without key_rows)"),
    ({"rnn_size": 8}, "disagrees with config.json on rnn_size (8 vs 6)"),
    ({"vocab_size": 12, "num_layers": 3}, "on vocab_size (12 vs 11), num_layers (3 vs 2)"),
])
def test_a_network_this_code_does_not_run_is_refused(change, reason):
    with pytest.raises(N.NetworkError, match=re.escape(reason)):
        N.check({**network(), **change}, CONFIG, key_tokens=True, bar_tokens=True)
    with pytest.raises(N.NetworkError, match="unsupported network null"):
        N.check(None, CONFIG, key_tokens=True)
    with pytest.raises(N.NetworkError, match="reads the key, but vocab.json has no KEY"):
        N.check(network(), CONFIG, key_tokens=False, bar_tokens=True)
    with pytest.raises(N.NetworkError, match="counts bars, but vocab.json has no BAR token"):
        N.check(network(), CONFIG, key_tokens=True, bar_tokens=False)


def test_weights_must_be_exactly_the_networks():
    weights = {n: np.zeros(s, np.float32) for n, s in N.shapes(network()).items()}
    assert [w.shape for w in N.check_weights(network(), weights)] == list(
        N.shapes(network()).values())
    with pytest.raises(N.NetworkError, match=r"lacks weights \['key_embedding/embeddings'\]"):
        N.check_weights(network(), {n: w for n, w in weights.items() if not n.startswith("key")})
    with pytest.raises(N.NetworkError, match=r"lacks weights \['degree_logits/bias'\]"):
        N.check_weights(network(), {n: w for n, w in weights.items() if n != "degree_logits/bias"})
    with pytest.raises(N.NetworkError, match="weights the network does not use: .'extra'"):
        N.check_weights(network(), {**weights, "extra": np.zeros(1)})
    with pytest.raises(N.NetworkError, match=re.escape(
            "does not use: ['bar_embedding/embeddings']")):
        N.check_weights(network(bar_rows=0), weights)
    with pytest.raises(N.NetworkError, match=re.escape(
            "weight logits/bias has shape [12], the network needs [11]")):
        N.check_weights(network(), {**weights, "logits/bias": np.zeros(12)})
    with pytest.raises(N.NetworkError, match=re.escape(
            "weight degree_logits/kernel has shape [6, 12], the network needs [6, 24]")):
        N.check_weights(network(), {**weights, "degree_logits/kernel": np.zeros((6, 12))})


# --- the auto rule -----------------------------------------------------------

SHAPES = {"emb": (40, 8), "big": (32, 128), "mid": (16, 128), "bias": (128,)}


def fake_measure(cost):
    """A KL that adds ``cost[(name, storage)]`` for each weight stored that way."""
    def measure(storage):
        return np.array([sum(cost.get(item, 0.0) for item in storage.items()), 0.0])
    return measure


def test_auto_stores_uint8_where_the_kl_allows_and_float16_elsewhere():
    choice = S.choose("auto", SHAPES, fake_measure({("mid", "uint8-column"): 0.02,
                                                    ("mid", "uint8"): 0.02}))
    assert choice.storage == {"emb": "uint8", "big": "uint8", "mid": "float16", "bias": "uint8"}
    assert choice.bytes == sum(W.byte_size(SHAPES[n], s) for n, s in choice.storage.items())
    assert choice.max_kl < S.MAX_KL


def test_auto_spends_the_kl_budget_on_the_largest_weights_first():
    cost = {(n, s): 0.004 for n in SHAPES for s in ("uint8", "uint8-column")}
    choice = S.choose("auto", SHAPES, fake_measure(cost))  # room for two uint8 weights
    assert choice.storage == {"emb": "float16", "big": "uint8", "mid": "uint8",
                              "bias": "float16"}


def test_auto_keeps_per_column_where_per_tensor_costs_too_much():
    cost = {("big", "uint8"): 0.02, ("big", "uint8-column"): 0.001}
    choice = S.choose("auto", SHAPES, fake_measure(cost))
    assert choice.storage["big"] == "uint8-column" and choice.storage["mid"] == "uint8"


def test_fixed_rules_store_every_weight_alike():
    measure = fake_measure({})
    assert set(S.choose("float16", SHAPES, measure).storage.values()) == {"float16"}
    assert set(S.choose("none", SHAPES, measure).storage.values()) == {"float32"}
    column = S.choose("uint8-column", SHAPES, measure).storage
    assert column == {"emb": "uint8-column", "big": "uint8-column", "mid": "uint8-column",
                      "bias": "uint8"}  # a vector has one value per column: per tensor


TINY = {**network(0, 0, 0), "num_layers": 1}  # no key: a codec-v1 network, run without a codec


def tiny_weights(seed=0):
    g = np.random.default_rng(seed)
    return {n: g.normal(0, 1.5, s).astype(np.float32) for n, s in N.shapes(TINY).items()}


def test_next_token_kl_is_zero_for_the_same_weights_and_grows_with_coarser_ones():
    w = tiny_weights()
    songs = [np.array([1, 4, 2, 7, 3]), np.array([1, 9, 9])]
    reference = [S.softmax(Stepper(w, TINY).run(s)) for s in songs]
    same = S.next_token_kl(reference, Stepper(w, TINY), songs)
    assert same.shape == (8,) and np.allclose(same, 0, atol=1e-12)
    kls = dict.fromkeys(("float16", "uint8-column", "uint8"), 0.0)
    for seed in range(4):  # summed over four random models: one alone may tie or swap
        w = tiny_weights(seed)
        reference = [S.softmax(Stepper(w, TINY).run(s)) for s in songs]
        for k in kls:
            kls[k] += S.next_token_kl(reference, Stepper(
                {n: W.roundtrip(a, k) for n, a in w.items()}, TINY), songs).max()
    assert 0 < kls["float16"] < kls["uint8-column"] < kls["uint8"]


def test_the_kl_record_says_how_it_was_measured():
    record = S.kl_record(np.array([1e-4, 3e-3]), [np.zeros(1)] * 2)
    assert record["max"] == 3e-3 and record["steps"] == 2 and record["generated"]["songs"] == 2
    assert record["limit"] == S.MAX_KL and record["reference"] == "keras"
    assert record["test"] == {"max": None, "songs": 0}
    assert "KL(keras || export)" in record["measure"]
    # the last songs are test songs: their steps are measured apart
    record = S.kl_record(np.array([1e-4, 3e-3, 2e-4, 5e-4, 1e-3]),
                         [np.zeros(2), np.zeros(1), np.zeros(2)], test=1)
    assert record["generated"] == {"max": 3e-3, "songs": 2, "seeds": "0-1",
                                   "temperature": S.KL_TEMPERATURE}
    assert record["test"] == {"max": 1e-3, "songs": 1} and record["max"] == 3e-3


def test_the_stepper_refuses_weights_and_codecs_its_network_cannot_run():
    from trainer.config import CodecConfig
    from trainer.music.codec import Codec

    v2 = Codec()
    keyed = {**network(25, 24, 64), "vocab_size": v2.size}
    weights = {n: np.zeros(s, np.float32) for n, s in N.shapes(keyed).items()}
    assert Stepper(weights, keyed, v2).bar_id == v2.bar_id
    with pytest.raises(N.NetworkError, match="lacks weights \\['bar_embedding/embeddings'\\]"):
        Stepper({n: w for n, w in weights.items() if n != "bar_embedding/embeddings"}, keyed, v2)
    with pytest.raises(N.NetworkError, match="does not use: \\['spare'\\]"):
        Stepper({**weights, "spare": np.zeros(1)}, keyed, v2)
    with pytest.raises(N.NetworkError, match="the network needs \\[25, 4\\]"):
        Stepper({**weights, "key_embedding/embeddings": np.zeros((24, 4))}, keyed, v2)
    with pytest.raises(N.NetworkError, match=f"the codec has {v2.size} tokens, the network 11"):
        Stepper(weights, {**keyed, "vocab_size": 11}, v2)
    with pytest.raises(N.NetworkError, match="key rows; the codec's KEY tokens need 1"):
        Stepper(weights, keyed, None)
    with pytest.raises(N.NetworkError, match="need a key table"):
        Stepper(weights, {**keyed, "key_rows": 0}, v2)
    v1 = Codec(CodecConfig(vocab_version=1))
    with pytest.raises(N.NetworkError, match="key rows; the codec's KEY tokens need 1"):
        Stepper(weights, {**keyed, "vocab_size": v1.size}, v1)
