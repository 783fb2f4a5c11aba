"""The Keras model: both parametrisations collapse to the plain network the
stepper (and the browser) runs, and survive a save/load round trip."""

import numpy as np
import pytest

from trainer import backend

backend.configure()

import keras  # noqa: E402

from trainer.codec import Codec  # noqa: E402
from trainer.config import ModelConfig  # noqa: E402
from trainer.model import build_model, inference_weights  # noqa: E402
from trainer.pitch_layers import PitchEmbedding  # noqa: E402
from trainer.stepper import Stepper  # noqa: E402

CODEC = Codec()
PREFIX = np.array([1, 54, 94, 47, 94, 42, 94, 130, 56, 92, 45, 92, 2], dtype=np.int32)


@pytest.mark.parametrize("independent", [False, True])
def test_inference_weights_reproduce_the_keras_model(independent, tmp_path):
    cfg = ModelConfig(rnn_size=24, embedding_size=8, independent_pitches=independent)
    model = build_model(CODEC, cfg)
    for w in model.weights:  # move every parameter off its initial value
        w.assign(np.random.default_rng(0).normal(0, 0.1, w.shape).astype("float32"))
    full = np.asarray(model.predict_on_batch(PREFIX[None]))[0]
    stepped = Stepper(inference_weights(model)).run(PREFIX)
    np.testing.assert_allclose(stepped, full, rtol=1e-4, atol=1e-5)
    assert isinstance(model.get_layer("embedding"), PitchEmbedding) != independent
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(again.predict_on_batch(PREFIX[None]))[0], full,
                               rtol=1e-6, atol=1e-6)


def test_pitch_sharing_ties_octaves_together():
    model = build_model(CODEC, ModelConfig(rnn_size=8, embedding_size=4))
    embed = model.get_layer("embedding")
    embed.table.assign(np.zeros(embed.table.shape, "float32"))
    embed.by_octave.assign(np.zeros(embed.by_octave.shape, "float32"))
    table = embed.collapsed()
    c4, c5, d4 = (CODEC.token_id("NOTE", p) for p in (60, 72, 62))
    np.testing.assert_array_equal(table[c4], table[c5])  # same pitch class
    assert not np.array_equal(table[c4], table[d4])
