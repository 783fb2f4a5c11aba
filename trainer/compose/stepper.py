"""The trained network as a stateful one-token-at-a-time function, in numpy.

Generation needs one LSTM step per token carrying ``(h, c)``. A Keras call
costs about a millisecond of framework overhead per step on a CPU; the same
arithmetic in numpy costs about a tenth of that, and needs no backend at all.
:class:`Stepper` runs the network that model.json describes
(trainer/nn/network.py) with the weights of :func:`trainer.nn.model.build_model`
by their Keras names, and reproduces its logits (a test checks ``allclose``
against the Keras model); web/src/mirror/stepper.js is its twin.
"""

from __future__ import annotations

import numpy as np

from trainer.music.codec import degree_index
from trainer.music.context import Context, size
from trainer.nn.network import BAR_ROWS, DEGREES, KEY_ROWS, NetworkError, check_weights


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # = 1 / (1 + exp(-x)), without overflow


class Stepper:
    """``reset()``, then ``step(token) -> logits (vocab,)`` for each token in turn.

    ``network`` is model.json's description (:func:`trainer.nn.network.check`
    or :func:`trainer.nn.model.inference_network`) and ``weights`` its arrays
    by name (:func:`trainer.nn.network.shapes`): the token's embedding, then
    (kernel, recurrent kernel, bias) per LSTM layer with Keras gate order
    (input, forget, cell, output), then the dense kernel and bias. With
    ``key_rows`` the input at each step also gains the row of the song's key
    (row 24 until a ``KEY`` token has been read); with ``degrees`` each
    ``NOTE`` logit gains the logit of its scale degree in the key read
    (:func:`trainer.music.codec.degree_index`); with ``bar_rows`` the input
    gains the row of the number of ``BAR`` tokens read so far; with
    ``context_rows``, the rows of the Context's features on after the token
    (:class:`trainer.music.context.Context`). ``codec``
    gives the KEY ids, the BAR id and the degree index; a network that reads
    none of them runs without one. Raises NetworkError (a ValueError) unless
    the weights are exactly the network's and the codec has what it reads.
    """

    def __init__(self, weights: dict[str, np.ndarray], network: dict, codec=None):
        _check_parts(network, codec)
        w = {name: np.asarray(a, dtype=np.float32) for name, a in weights.items()}
        check_weights(network, w)
        self.embedding = w["embedding/embeddings"]
        self.layers = [tuple(w[f"lstm_{i}/lstm_cell/{k}"]
                             for k in ("kernel", "recurrent_kernel", "bias"))
                       for i in range(network["num_layers"])]
        self.dense_kernel, self.dense_bias = w["logits/kernel"], w["logits/bias"]
        self.key_table = w["key_embedding/embeddings"] if network["key_rows"] else None
        keys = codec.ranges["KEY"] if network["key_rows"] else (0, 0)
        self.key_first, self.key_count = keys[0], keys[1]
        self.degree_kernel = w["degree_logits/kernel"] if network.get("degrees") else None
        self.degree_bias = w["degree_logits/bias"] if network.get("degrees") else None
        self.degree_index = degree_index(codec) if network.get("degrees") else None
        self.bar_table = w["bar_embedding/embeddings"] if network.get("bar_rows") else None
        self.bar_id = codec.bar_id if network.get("bar_rows") else None
        self.context_table = w["context/kernel"] if network.get("context_rows") else None
        self.context = Context(codec, network.get("sounding", 0), network.get("lookback", []),
                               network.get("repeating", False)) \
            if network.get("context_rows") else None
        self.units = network["rnn_size"]
        self.vocab_size = network["vocab_size"]
        self.reset()

    def reset(self) -> None:
        """Forget everything: zero ``h`` and ``c`` in every layer, no key read yet."""
        self.key = None if self.key_table is None else self.key_table[-1]
        self.key_row = KEY_ROWS - 1
        self.bars = 0
        if self.context is not None:
            self.context.reset()
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
        if self.context is not None:
            self.context.advance(token)
            x = x + self.context_table[self.context.active()].sum(0)
        for i, (kernel, recurrent, bias) in enumerate(self.layers):
            z = x @ kernel + self.h[i] @ recurrent + bias
            n = recurrent.shape[0]
            # one sigmoid over all four gates and slices, not np.split: at these sizes a
            # step is call overhead, and the cell gate's sigmoid, unused, costs less
            s = _sigmoid(z)
            self.c[i] = s[n:2 * n] * self.c[i] + s[:n] * np.tanh(z[2 * n:3 * n])
            self.h[i] = x = s[3 * n:] * np.tanh(self.c[i])
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


def _check_parts(network: dict, codec) -> None:
    """Raise NetworkError unless ``codec`` has what ``network`` reads (web/src/mirror/
    stepper.js checkParts holds the browser's Stepper to the same)."""
    keys = codec.ranges.get("KEY") if codec is not None else None
    if codec is not None and codec.size != network["vocab_size"]:
        raise NetworkError(f"the codec has {codec.size} tokens, the network "
                           f"{network['vocab_size']}")
    degrees, bar_rows = network.get("degrees", 0), network.get("bar_rows", 0)
    if (degrees or bar_rows) and not network["key_rows"]:
        raise NetworkError("degree logits and a bar table need a key table; the network has none")
    if network["key_rows"] and network["key_rows"] != (keys[1] if keys else -1) + 1:
        raise NetworkError(f"the network has {network['key_rows']} key rows; the codec's KEY "
                           f"tokens need {(keys[1] if keys else 0) + 1}")
    if degrees not in (0, DEGREES) or bar_rows not in (0, BAR_ROWS):
        raise NetworkError(f"the network has {degrees} degree logits and {bar_rows} bar rows: "
                           f"each must be 0 or {DEGREES}, {BAR_ROWS}")
    if bar_rows and (codec is None or codec.bar_id is None):
        raise NetworkError("the network counts bars, but the codec has no BAR token")
    rows = network.get("context_rows", 0)
    sounding, lookback = network.get("sounding", 0), network.get("lookback", [])
    repeating = network.get("repeating", False)
    if rows and (not network["key_rows"] or codec is None or (lookback and
                                                              codec.bar_id is None)):
        raise NetworkError("a Context needs a codec v2 with keys, and lookback one with bars")
    if rows and rows != size(codec, sounding, lookback, repeating):
        raise NetworkError(f"the network reads {rows} context features; a Context of "
                           f"sounding {sounding}, lookback {lookback} and repeating "
                           f"{str(bool(repeating)).lower()} has "
                           f"{size(codec, sounding, lookback, repeating)}")
