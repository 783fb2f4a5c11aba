"""Embedding and output layers that share parameters across pitch classes and octaves.

With transposition augmentation the model has to learn intervals between 88
independent NOTE embeddings, and at this data size it does not: it learns the
register and spreads its probability nearly evenly over pitch classes. These
layers add, for every NOTE token, a table shared by its pitch class and one
shared by its octave. Both are only a parametrisation: :meth:`collapsed`
returns a plain embedding table or dense kernel and bias with the same
values, so the exported model and the numpy stepper stay a plain
Embedding -> LSTM -> Dense network.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops


def _groups(token_pitch) -> tuple[np.ndarray, np.ndarray]:
    """Pitch-class index (12 for non-NOTE tokens) and octave index (0 for them)."""
    pitch = np.asarray(token_pitch, dtype=np.int64)
    note = pitch >= 0
    return np.where(note, pitch % 12, 12), np.where(note, pitch // 12 + 1, 0)


@keras.saving.register_keras_serializable("cadenza")
class PitchEmbedding(layers.Layer):
    """``table[id] + by_class[class(id)] + by_octave[octave(id)]``; ``token_pitch`` is
    the MIDI pitch of each token id, -1 for non-NOTE tokens."""

    def __init__(self, token_pitch, output_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.token_pitch = [int(p) for p in token_pitch]
        self.output_dim = output_dim
        self._class, self._octave = _groups(self.token_pitch)

    def build(self, input_shape):
        n, d = len(self.token_pitch), self.output_dim
        init = keras.initializers.RandomUniform(-0.05, 0.05)
        self.table = self.add_weight(shape=(n, d), initializer=init, name="table")
        self.by_class = self.add_weight(shape=(13, d), initializer=init, name="by_class")
        self.by_octave = self.add_weight(shape=(int(self._octave.max()) + 1, d),
                                         initializer=init, name="by_octave")

    def full_table(self):
        return (self.table + ops.take(self.by_class, self._class, axis=0)
                + ops.take(self.by_octave, self._octave, axis=0))

    def call(self, ids):
        return ops.take(self.full_table(), ops.cast(ids, "int32"), axis=0)

    def collapsed(self) -> np.ndarray:
        """The equivalent plain embedding table ``(vocab, dim)``."""
        return ops.convert_to_numpy(self.full_table())

    def get_config(self):
        return {**super().get_config(), "token_pitch": self.token_pitch,
                "output_dim": self.output_dim}


@keras.saving.register_keras_serializable("cadenza")
class PitchLogits(layers.Layer):
    """Dense logits plus per-pitch-class and per-octave terms for NOTE tokens:
    ``h @ (W + Wc[:, class] + Wo[:, octave]) + (b + bc[class] + bo[octave])``."""

    def __init__(self, token_pitch, **kwargs):
        super().__init__(**kwargs)
        self.token_pitch = [int(p) for p in token_pitch]
        self._class, self._octave = _groups(self.token_pitch)

    def build(self, input_shape):
        d, n = input_shape[-1], len(self.token_pitch)
        octaves = int(self._octave.max()) + 1
        self.kernel = self.add_weight(shape=(d, n), initializer="glorot_uniform", name="kernel")
        self.bias = self.add_weight(shape=(n,), initializer="zeros", name="bias")
        self.class_kernel = self.add_weight(shape=(d, 13), initializer="glorot_uniform",
                                            name="class_kernel")
        self.class_bias = self.add_weight(shape=(13,), initializer="zeros", name="class_bias")
        self.octave_kernel = self.add_weight(shape=(d, octaves), initializer="glorot_uniform",
                                             name="octave_kernel")
        self.octave_bias = self.add_weight(shape=(octaves,), initializer="zeros",
                                           name="octave_bias")

    def full(self):
        kernel = (self.kernel + ops.take(self.class_kernel, self._class, axis=1)
                  + ops.take(self.octave_kernel, self._octave, axis=1))
        bias = (self.bias + ops.take(self.class_bias, self._class, axis=0)
                + ops.take(self.octave_bias, self._octave, axis=0))
        return kernel, bias

    def call(self, h):
        kernel, bias = self.full()
        return ops.matmul(h, kernel) + bias

    def collapsed(self) -> tuple[np.ndarray, np.ndarray]:
        """The equivalent plain dense ``(kernel, bias)``."""
        kernel, bias = self.full()
        return ops.convert_to_numpy(kernel), ops.convert_to_numpy(bias)

    def get_config(self):
        return {**super().get_config(), "token_pitch": self.token_pitch}


@keras.saving.register_keras_serializable("cadenza")
class KeyDegrees(layers.Layer):
    """Adds to each ``NOTE`` token's logit the logit of its scale degree in the song's key.

    Inputs ``[logits (b, t, vocab), degrees (b, t, 24), keys (b, t)]``; the 24
    degree logits are 12 degrees of a major key then 12 of a minor one. The
    same degree weights serve every key, so what the network learns of "the
    fifth" or "the leading tone" in one key holds in all: the song's key stays
    where it was asked for however the notes before it wander. No weights.
    """

    def __init__(self, index, **kwargs):
        super().__init__(**kwargs)
        self.index = np.asarray(index, dtype=np.int32).tolist()

    def call(self, inputs):
        logits, degrees, keys = inputs
        table = ops.convert_to_tensor(np.asarray(self.index, dtype=np.int32))
        padded = ops.concatenate([degrees, ops.zeros_like(degrees[..., :1])], axis=-1)
        columns = ops.take(table, ops.cast(keys, "int32"), axis=0)  # (b, t, vocab)
        return logits + ops.take_along_axis(padded, columns, axis=-1)

    def get_config(self):
        return {**super().get_config(), "index": self.index}
