"""The trained network as a stateful one-token-at-a-time function, in numpy.

Generation needs one LSTM step per token carrying ``(h, c)``. A Keras call
costs about a millisecond of framework overhead per step on a CPU; the same
arithmetic in numpy costs about a tenth of that, and needs no backend at all.
:class:`Stepper` reads the weights of :func:`trainer.nn.model.build_model` and
reproduces its logits (a test checks ``allclose`` against the Keras model).
"""

from __future__ import annotations

import numpy as np

from trainer.nn.network import BAR_ROWS, KEY_ROWS


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # = 1 / (1 + exp(-x)), without overflow


class Stepper:
    """``reset()``, then ``step(token) -> logits (vocab,)`` for each token in turn.

    ``weights`` is :func:`trainer.nn.model.inference_weights` of a trained network:
    embedding, then (kernel, recurrent kernel, bias) per LSTM layer with Keras
    gate order (input, forget, cell, output), then the dense kernel and bias;
    a v2 network then has its key table ``(25, embedding)``: the input at
    each step is the token's embedding plus the row of the song's key (row
    24 until a ``KEY`` token has been read). ``key_tokens`` (the first
    ``KEY`` id and the count, :meth:`for_codec` passes them) says which ids
    set it. With ``degree_index`` (:func:`trainer.music.codec.degree_index`)
    the weights end with the degree kernel and bias: each ``NOTE`` logit
    gains the logit of its scale degree in the key read. With ``bar_id`` they
    end with the bar-count table ``(64, embedding)`` after those: the input
    also gains the row of the number of ``BAR`` tokens read so far.
    """

    def __init__(self, weights: list[np.ndarray], key_tokens: tuple[int, int] | None = None,
                 degree_index: np.ndarray | None = None, bar_id: int | None = None):
        w = [np.asarray(a, dtype=np.float32) for a in weights]
        self.bar_id = bar_id
        self.bar_table = w.pop() if bar_id is not None else None
        self.degree_bias = w.pop() if degree_index is not None else None
        self.degree_kernel = w.pop() if degree_index is not None else None
        self.degree_index = None if degree_index is None else np.asarray(degree_index)
        if len(w) < 6 or (len(w) - 3) % 3 not in (0, 1):
            raise ValueError(f"expected embedding, 3 arrays per LSTM and dense (and a key "
                             f"table, and degree weights); got {len(weights)}")
        self.key_table = w.pop() if (len(w) - 3) % 3 == 1 else None
        if self.key_table is not None and key_tokens is None:
            raise ValueError("these weights condition on the key: give key_tokens "
                             "(Stepper.for_codec does)")
        if self.key_table is not None and self.key_table.shape != (KEY_ROWS, w[0].shape[1]):
            raise ValueError(f"the key table is shaped {self.key_table.shape}, not "
                             f"{(KEY_ROWS, w[0].shape[1])}: weights and parts disagree")
        self.key_first, self.key_count = key_tokens if self.key_table is not None else (0, 0)
        self.embedding = w[0]
        self.layers = [tuple(w[i:i + 3]) for i in range(1, len(w) - 2, 3)]
        self.dense_kernel, self.dense_bias = w[-2], w[-1]
        self.units = self.layers[0][1].shape[0]
        self.vocab_size = self.dense_bias.shape[0]
        self.reset()

    @classmethod
    def for_codec(cls, weights: list[np.ndarray], codec) -> Stepper:
        """A stepper of ``weights`` that reads the key from ``codec``'s KEY tokens.

        For a v2 codec the weights end with the key table, then optionally the
        degree kernel and bias (a 24-long last vector) and the bar table (64
        rows of the embedding's width), told apart by their shapes.
        """
        keys = codec.ranges.get("KEY")
        if not keys:
            return cls(weights)
        from trainer.music.codec import degree_index

        width = np.shape(weights[0])[1]
        rest = list(weights)
        bars = np.ndim(rest[-1]) == 2 and np.shape(rest[-1]) == (BAR_ROWS, width)
        if bars:
            rest.pop()
        degrees = np.ndim(rest[-1]) == 1 and np.shape(rest[-1]) == (24,)
        return cls(weights, keys[:2], degree_index(codec) if degrees else None,
                   codec.bar_id if bars else None)

    def reset(self) -> None:
        """Forget everything: zero ``h`` and ``c`` in every layer, no key read yet."""
        self.key = None if self.key_table is None else self.key_table[-1]
        self.key_row = KEY_ROWS - 1
        self.bars = 0
        self.h = [np.zeros(k[1].shape[0], np.float32) for k in self.layers]
        self.c = [np.zeros(k[1].shape[0], np.float32) for k in self.layers]

    def step(self, token: int) -> np.ndarray:
        """Feed one token id; return the logits of the next token."""
        token = int(token)
        x = self.embedding[token]
        if self.key_table is not None:
            if 0 <= token - self.key_first < self.key_count:
                self.key_row = token - self.key_first
                self.key = self.key_table[self.key_row]
            x = x + self.key
        if self.bar_table is not None:
            if token == self.bar_id:
                self.bars = min(self.bars + 1, BAR_ROWS - 1)
            x = x + self.bar_table[self.bars]
        for i, (kernel, recurrent, bias) in enumerate(self.layers):
            z = x @ kernel + self.h[i] @ recurrent + bias
            gi, gf, gc, go = np.split(z, 4)
            self.c[i] = _sigmoid(gf) * self.c[i] + _sigmoid(gi) * np.tanh(gc)
            self.h[i] = x = _sigmoid(go) * np.tanh(self.c[i])
        logits = x @ self.dense_kernel + self.dense_bias
        if self.degree_index is not None:
            degrees = np.append(x @ self.degree_kernel + self.degree_bias, np.float32(0))
            logits = logits + degrees[self.degree_index[self.key_row]]
        return logits

    def run(self, tokens) -> np.ndarray:
        """Logits after each of ``tokens``, from a fresh state: ``(len, vocab)``."""
        self.reset()
        return np.stack([self.step(t) for t in tokens]) if len(tokens) else \
            np.zeros((0, self.vocab_size), np.float32)
