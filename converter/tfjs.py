"""tf_keras and tensorflowjs: the only module of the converter that imports them.

``stateful_copy`` rebuilds a trained network as a tf_keras model taking one
token per call with batch 1 and LSTM states kept between calls -- the form
the browser steps through. ``save_tfjs`` writes it as a tfjs Layers model
(float32 unless told otherwise; the converter then rewrites the weights
with converter/weights.py). ``stepwise`` feeds a prime one token at a time
through such a model and returns the probabilities after each.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import tf_keras

from converter.folder import NETWORK
from converter.storage import softmax
from trainer.config import ModelConfig

# tensorflowjs imports tensorflow_decision_forests, whose welcome message needs
# IPython whenever stdout is not a terminal (a pipe, a CI log): switch it off.
os.environ.setdefault("TFDF_DISABLE_WELCOME_MESSAGE", "1")
with warnings.catch_warnings():  # tensorflow_hub, imported by tensorflowjs, still uses it
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
    import tensorflowjs as tfjs  # noqa: E402


def stateful_copy(weights: list[np.ndarray], vocab_size: int, cfg: ModelConfig):
    """A tf_keras ``(1, 1)`` token -> ``(1, 1, vocab)`` logits model with ``weights``."""
    layers = [tf_keras.layers.Embedding(vocab_size, cfg.embedding_size, batch_input_shape=(1, 1),
                                        name="embedding")]
    layers += [tf_keras.layers.LSTM(cfg.rnn_size, return_sequences=True, stateful=True,
                                    name=f"lstm_{i}") for i in range(cfg.num_layers)]
    layers.append(tf_keras.layers.Dense(vocab_size, name="logits"))
    model = tf_keras.Sequential(layers, name=NETWORK)
    model.set_weights(weights)
    return model


def save_tfjs(model, folder: Path, quantization_dtype_map=None) -> None:
    with warnings.catch_warnings():  # tf_keras calls its own HDF5 format "legacy"
        warnings.simplefilter("ignore", UserWarning)
        tfjs.converters.save_keras_model(model, str(folder),
                                         quantization_dtype_map=quantization_dtype_map)


def stepwise(model, prime) -> np.ndarray:
    """Probabilities ``(len(prime), vocab)`` after each prime token of the stateful
    tf_keras ``model``, one call per token."""
    model.reset_states()
    logits = np.stack([model(np.array([[t]], dtype=np.int32), training=False).numpy()[0, 0]
                       for t in prime])
    model.reset_states()
    return softmax(logits)


def probabilities(model, prime) -> np.ndarray:
    """The Keras sequence model's next-token probabilities after each prime token."""
    return softmax(np.asarray(model.predict_on_batch(np.asarray(prime, np.int32)[None]))[0])


