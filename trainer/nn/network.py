"""The network an export runs, as its model.json describes it, and the weights it needs.

model.json of an export (config.json ``format_version`` 2) is this project's
own file, read by converter/read.py and web/src/worker/verify.js alike::

    {"format": "cadenza-weights",
     "network": {"name": "cadenza_lstm_step", "cell": "lstm", "gates": "ifco",
                 "vocab_size": 175, "embedding_size": 64, "num_layers": 2,
                 "rnn_size": 256, "key_rows": 25, "degrees": 24, "bar_rows": 64},
     "weightsManifest": [{"paths": ["group1-shard1of1.bin"], "weights": [...]}]}

``weightsManifest`` has the shape of TensorFlow.js's (converter/weights.py
says how each entry's bytes hold it). The network is one step of
trainer/compose/stepper.py: the token's embedding plus, where ``key_rows`` is 25, the
row of the song's key (row 24 until a KEY token is read); ``num_layers`` LSTMs
with Keras's gate order (input, forget, cell, output), sigmoid gates and
tanh; then logits = h @ kernel + bias. ``key_rows`` 0: no key input (a codec
v1 network). Where ``degrees`` is 24 (a key-conditioned network of codec v2
since degree logits, :class:`trainer.nn.pitch_layers.KeyDegrees`), each NOTE
logit then gains one of ``h @ degree_kernel + degree_bias``: the one of its
scale degree in the key read, column ``12 * mode + (pitch - tonic) % 12``
(:func:`trainer.music.codec.degree_index`); other tokens, and every token
before a KEY is read, gain nothing. Where ``bar_rows`` is 64, the input at
each step also gains the row of the number of BAR tokens read so far,
counting the token read (row 0 until the first BAR; 63 and more share row
63). ``degrees`` and ``bar_rows`` 0, or absent (format-2 exports written
before them), add nothing; both need key rows, and bar rows a vocabulary
with BAR tokens. Where ``context_rows`` is more than 0, the input at each step
also gains the sum of the rows of ``context/kernel`` whose features are on
after the token read (trainer/music/context.py: ``sounding`` 88 or 0, then
each of the ``lookback`` bars), as many rows as that Context has features.
Its weights carry their Keras names (:func:`shapes`, in Stepper order); a
reader refuses a manifest that lacks one, shapes one otherwise, or holds one
more.

An export of ``format_version`` 1 has a tfjs Layers model.json instead (a
stateful tf_keras copy); its network is config.json's ``model``, with no key
(:func:`legacy`).
"""

from __future__ import annotations

import json

from trainer.music import context as X
from trainer.music.context import LOOKBACK, PITCHES

MODEL_FORMAT = "cadenza-weights"
NETWORK = "cadenza_lstm_step"
CELL, GATES = "lstm", "ifco"
SIZES = ("vocab_size", "embedding_size", "num_layers", "rnn_size")
KEY_ROWS = 25  # the key table: 24 keys, then "no key read yet"
BAR_ROWS = 64  # the bar-count table: 0..63 bars so far (more count as 63)
DEGREES = 24  # degree logits: 12 scale degrees of a major key, then 12 of a minor one


class NetworkError(ValueError):
    """A network description or weights that no loader may run."""


def describe(vocab_size: int, model, key_rows: int, degrees: int = 0,
             bar_rows: int = 0, context: dict | None = None) -> dict:
    """model.json's ``network`` of a :class:`trainer.config.ModelConfig` ``model``;
    ``context`` (:func:`context_parts`) where it reads the Context's features."""
    return {"name": NETWORK, "cell": CELL, "gates": GATES, "vocab_size": int(vocab_size),
            "embedding_size": model.embedding_size, "num_layers": model.num_layers,
            "rnn_size": model.rnn_size, "key_rows": int(key_rows), "degrees": int(degrees),
            "bar_rows": int(bar_rows), **(context or {})}


def context_parts(codec, sounding: bool, lookback, repeating: bool = False) -> dict:
    """The network fields of a Context (trainer/music/context.py) of these parts:
    ``sounding`` (0 or :data:`PITCHES`), ``lookback`` (bars), ``repeating`` (present
    only where true: older exports have no such field) and ``context_rows``, its
    feature count; empty where it has no part."""
    lookback = [int(b) for b in lookback]
    if not sounding and not lookback:
        return {}
    repeating = bool(repeating and lookback)
    return {"sounding": X.PITCHES if sounding else 0, "lookback": lookback,
            **({"repeating": True} if repeating else {}),
            "context_rows": X.size(codec, sounding, lookback, repeating)}


def legacy(config: dict) -> dict:
    """The network of a format-1 export: config.json's ``model``, no key input."""
    model = config.get("model") if isinstance(config.get("model"), dict) else {}
    return {"name": NETWORK, "cell": CELL, "gates": GATES, "vocab_size": config.get("vocab_size"),
            **{k: model.get(k) for k in SIZES[1:]}, "key_rows": 0, "degrees": 0,
            "bar_rows": 0}


def check(network, config: dict, key_tokens: bool, bar_tokens: bool = False) -> dict:
    """``network`` (``degrees`` and ``bar_rows`` 0 where it has none) if this code runs
    it and it agrees with ``config`` (config.json); ``key_tokens``, ``bar_tokens``: the
    vocabulary has KEY tokens, a BAR token. Raises NetworkError."""
    if not isinstance(network, dict) or network.get("name") != NETWORK or \
            network.get("cell") != CELL or network.get("gates") != GATES or \
            not all(_count(network.get(k)) for k in SIZES) or \
            not _one_of(network.get("key_rows"), (0, KEY_ROWS)) or \
            not _one_of(network.get("degrees", 0), (0, DEGREES)) or \
            not _one_of(network.get("bar_rows", 0), (0, BAR_ROWS)) or \
            not _one_of(network.get("sounding", 0), (0, PITCHES)) or \
            not (isinstance(network.get("lookback", []), list) and all(
                _one_of(b, LOOKBACK) for b in network.get("lookback", []))) or \
            not isinstance(network.get("repeating", False), bool) or \
            not (network.get("context_rows", 0) == 0 or _count(network.get("context_rows"))):
        raise NetworkError(f"model.json describes an unsupported network "
                           f"{json.dumps(network, sort_keys=True)}: expected {NETWORK}, "
                           f"{CELL} cells with gates {GATES}, sizes {', '.join(SIZES)}, "
                           f"key_rows 0 or {KEY_ROWS}, degrees 0 or {DEGREES}, bar_rows 0 "
                           f"or {BAR_ROWS}, sounding 0 or {PITCHES}, lookback bars of "
                           f"{list(LOOKBACK)} and repeating true or false")
    network = {**network, **{k: network.get(k, 0) for k in ("degrees", "bar_rows")}}
    if (network["degrees"] or network["bar_rows"]) and not network["key_rows"]:
        raise NetworkError("model.json's network scores scale degrees or counts bars but "
                           "reads no key (degrees or bar_rows without key_rows)")
    said = {"vocab_size": config.get("vocab_size"), **(config.get("model") or {})}
    wrong = [k for k in SIZES if said.get(k) != network[k]]
    if wrong:
        raise NetworkError("model.json's network disagrees with config.json on " + ", ".join(
            f"{k} ({network[k]} vs {said.get(k)})" for k in wrong))
    if network["key_rows"] and not key_tokens:
        raise NetworkError("model.json's network reads the key, but vocab.json has no KEY tokens")
    if network["bar_rows"] and not bar_tokens:
        raise NetworkError("model.json's network counts bars, but vocab.json has no BAR token")
    return network


def _count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _one_of(value, allowed) -> bool:
    return not isinstance(value, bool) and value in allowed  # as JavaScript's includes


def shapes(network: dict) -> dict[str, tuple[int, ...]]:
    """``{name: shape}`` of every weight of ``network``, in Stepper order."""
    vocab, width, units = network["vocab_size"], network["embedding_size"], network["rnn_size"]
    out = {"embedding/embeddings": (vocab, width)}
    for i in range(network["num_layers"]):
        out |= {f"lstm_{i}/lstm_cell/kernel": (width if i == 0 else units, 4 * units),
                f"lstm_{i}/lstm_cell/recurrent_kernel": (units, 4 * units),
                f"lstm_{i}/lstm_cell/bias": (4 * units,)}
    out |= {"logits/kernel": (units, vocab), "logits/bias": (vocab,)}
    if network["key_rows"]:
        out["key_embedding/embeddings"] = (network["key_rows"], width)
    if network.get("degrees"):
        out |= {"degree_logits/kernel": (units, network["degrees"]),
                "degree_logits/bias": (network["degrees"],)}
    if network.get("bar_rows"):
        out["bar_embedding/embeddings"] = (network["bar_rows"], width)
    if network.get("context_rows"):
        out["context/kernel"] = (network["context_rows"], width)
    return out


def check_weights(network: dict, weights: dict) -> list:
    """The arrays of ``weights`` (by name) in Stepper order; raises NetworkError unless
    they are exactly the network's, each of its shape."""
    want = shapes(network)
    missing = [n for n in want if n not in weights]
    if missing:
        raise NetworkError(f"model.json lacks weights {missing}")
    extra = [n for n in weights if n not in want]
    if extra:
        raise NetworkError(f"model.json has weights the network does not use: {extra}")
    for name, shape in want.items():
        got = tuple(int(d) for d in weights[name].shape)
        if got != shape:
            raise NetworkError(f"weight {name} has shape {list(got)}, the network needs "
                               f"{list(shape)}")
    return [weights[n] for n in want]
