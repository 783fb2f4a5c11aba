"""The Keras model: both parametrisations collapse to the plain network the
stepper (and the browser) runs, and survive a save/load round trip; a v2
model's key table, degree logits and bar count, each of which can be left
out, are run by the stepper as Keras runs them."""

import numpy as np
import pytest

from trainer.nn import backend

backend.configure()

import keras  # noqa: E402

from trainer.compose.stepper import Stepper  # noqa: E402
from trainer.config import CodecConfig, ModelConfig  # noqa: E402
from trainer.music.codec import Codec, Meta  # noqa: E402
from trainer.nn.model import (build_model, inference_network, inference_weights,  # noqa: E402
                              model_inputs)
from trainer.nn.pitch_layers import PitchEmbedding  # noqa: E402

V1 = Codec(CodecConfig(vocab_version=1))
V2 = Codec()
PREFIX = np.array([1, 54, 94, 47, 94, 42, 94, 130, 56, 92, 45, 92, 2], dtype=np.int32)  # v1 ids
# The same chord and note in v2: KEY, METER and BAR tokens too, all past the v1 ids.
V2_PREFIX = V2.encode(np.array([[0, 4, 72], [0, 4, 65], [0, 4, 60], [8, 2, 74], [16, 2, 63]]),
                      Meta((5, "major"), (3, 4), ((0, (3, 4)), (12, (6, 8)))))
CODECS = pytest.mark.parametrize("codec, prefix", [(V1, PREFIX), (V2, V2_PREFIX)],
                                 ids=["v1", "v2"])


def stepper_of(model, codec, cfg) -> Stepper:
    network = inference_network(model, codec, cfg)
    return Stepper(inference_weights(model, network), network, codec)


@CODECS
@pytest.mark.parametrize("independent", [False, True])
def test_inference_weights_reproduce_the_keras_model(independent, tmp_path, codec, prefix):
    assert codec.version == 1 or prefix.max() >= V1.size  # v2: KEY, METER, BAR ids too
    cfg = ModelConfig(rnn_size=24, embedding_size=8, independent_pitches=independent)
    model = build_model(codec, cfg)
    assert model.output_shape[-1] == codec.size
    for w in model.weights:  # move every parameter off its initial value
        w.assign(np.random.default_rng(0).normal(0, 0.1, w.shape).astype("float32"))
    inputs = model_inputs(codec, cfg, [prefix])
    full = np.asarray(model.predict_on_batch(inputs))[0]
    stepped = stepper_of(model, codec, cfg).run(prefix)
    np.testing.assert_allclose(stepped, full, rtol=1e-4, atol=1e-5)
    assert isinstance(model.get_layer("embedding"), PitchEmbedding) != independent
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(again.predict_on_batch(inputs))[0], full,
                               rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("no_degrees, no_bar_input", [(False, True), (True, False),
                                                      (True, True)])
def test_a_v2_model_without_degrees_or_bar_count_steps_as_keras_does(no_degrees, no_bar_input):
    cfg = ModelConfig(rnn_size=16, embedding_size=8, no_degrees=no_degrees,
                      bar_input=not no_bar_input)
    model = build_model(V2, cfg)
    for w in model.weights:
        w.assign(np.random.default_rng(1).normal(0, 0.1, w.shape).astype("float32"))
    network = inference_network(model, V2, cfg)
    assert (network["key_rows"], network["degrees"], network["bar_rows"]) == \
        (25, 0 if no_degrees else 24, 0 if no_bar_input else 64)
    weights = inference_weights(model, network)
    assert len(weights) == 3 * 2 + 4 + 2 * (not no_degrees) + (not no_bar_input)
    stepper = Stepper(weights, network, V2)
    assert V2.bar_id in V2_PREFIX  # the bar count moves
    assert (stepper.degree_index is None, stepper.bar_table is None) == (no_degrees, no_bar_input)
    full = np.asarray(model.predict_on_batch(model_inputs(V2, cfg, [V2_PREFIX])))[0]
    np.testing.assert_allclose(stepper.run(V2_PREFIX), full, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("codec", [V1, V2], ids=["v1", "v2"])
def test_pitch_sharing_ties_octaves_together(codec):
    model = build_model(codec, ModelConfig(rnn_size=8, embedding_size=4))
    embed = model.get_layer("embedding")
    embed.table.assign(np.zeros(embed.table.shape, "float32"))
    embed.by_octave.assign(np.zeros(embed.by_octave.shape, "float32"))
    table = embed.collapsed()
    c4, c5, d4 = (codec.token_id("NOTE", p) for p in (60, 72, 62))
    np.testing.assert_array_equal(table[c4], table[c5])  # same pitch class
    assert not np.array_equal(table[c4], table[d4])


@CODECS
@pytest.mark.parametrize("independent, no_degrees, bar", [(False, False, False),
                                                          (True, True, False),
                                                          (False, False, True)])
def test_set_inference_weights_gives_a_fresh_model_the_same_function(
        independent, no_degrees, bar, codec, prefix):
    from trainer.errors import CadenzaError
    from trainer.nn.model import set_inference_weights

    cfg = ModelConfig(rnn_size=16, embedding_size=8, independent_pitches=independent,
                      no_degrees=no_degrees, bar_input=bar)
    source, fresh = build_model(codec, cfg), build_model(codec, cfg)
    for w in source.weights:
        w.assign(np.random.default_rng(1).normal(0, 0.2, w.shape).astype("float32"))
    inputs = model_inputs(codec, cfg, [prefix])
    before = keras.ops.convert_to_numpy(fresh(inputs))
    network = inference_network(source, codec, cfg)
    set_inference_weights(fresh, inference_weights(source, network))
    want = keras.ops.convert_to_numpy(source(inputs))
    assert not np.allclose(before, want, atol=1e-3)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(fresh(inputs)), want, atol=1e-4)
    fewer = dict(inference_weights(source, network))
    fewer.pop("logits/bias")
    with pytest.raises(CadenzaError, match=r"missing \['logits/bias'\]"):
        set_inference_weights(fresh, fewer)
    with pytest.raises(CadenzaError, match=r"not used \['spare'\]"):
        set_inference_weights(fresh, {**inference_weights(source, network), "spare": 0})
    wider = build_model(codec, ModelConfig(rnn_size=20, embedding_size=8,
                                           independent_pitches=independent,
                                           no_degrees=no_degrees, bar_input=bar))
    with pytest.raises(CadenzaError, match="shaped"):
        set_inference_weights(wider, inference_weights(source, network))
