"""The Keras 3 LSTM, backend-agnostic: Embedding -> L x LSTM -> Dense logits.

``build_model`` makes the sequence model used for training and scoring (any
batch, any length). Unless ``independent_pitches`` is set, the embedding and
the output layer share parameters across pitch classes and octaves
(:mod:`trainer.nn.pitch_layers`). Either way :func:`inference_weights` gives the
weights of the plain network by name -- embedding table, (kernel, recurrent
kernel, bias) per LSTM, dense kernel and bias, then a v2 model's key table,
degree kernel and bias and bar table -- and :func:`inference_network` the
description (trainer/nn/network.py) that generation
(:mod:`trainer.compose.stepper`) and the exported model run.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from trainer import constants as C
from trainer.config import ModelConfig, TrainConfig
from trainer.errors import CadenzaError
from trainer.music.codec import Codec, degree_index
from trainer.nn import network as N
from trainer.nn.checkpoints import damage
from trainer.nn.network import BAR_ROWS, DEGREES, KEY_ROWS
from trainer.nn.pitch_layers import KeyDegrees, PitchEmbedding, PitchLogits


def build_model(codec: Codec, cfg: ModelConfig) -> keras.Model:
    """Token ids ``(batch, time)`` -> next-token logits ``(batch, time, vocab)``.

    A v2 model takes a second input, the song's key at every step (0..23 in
    the order of :data:`trainer.music.keys.KEYS`, 24 before the ``KEY`` token has
    been read; :func:`trainer.nn.dataset.key_inputs`), whose embedding is added
    to the token's, as Performance RNN feeds its controls at every step: a
    window cut from the middle of a song knows the key, and generation keeps
    it however long the song runs. Its output also scores each ``NOTE`` by its
    scale degree in that key (:class:`trainer.nn.pitch_layers.KeyDegrees`).
    """
    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    token_pitch = codec.pitch_of(np.arange(codec.size))
    if cfg.independent_pitches:
        embed = layers.Embedding(codec.size, cfg.embedding_size, name="embedding")
        to_logits = layers.Dense(codec.size, name="logits")
    else:
        embed = PitchEmbedding(token_pitch, cfg.embedding_size, name="embedding")
        to_logits = PitchLogits(token_pitch, name="logits")
    x = embed(tokens)
    inputs = tokens
    small = keras.initializers.RandomUniform(-0.05, 0.05)
    if codec.version >= 2:
        keys = keras.Input(shape=(None,), dtype="int32", name="keys")
        x = x + layers.Embedding(KEY_ROWS, cfg.embedding_size, name="key_embedding",
                                 embeddings_initializer=small)(keys)
        inputs = [tokens, keys]
    if bar_input(codec, cfg):
        bars = keras.Input(shape=(None,), dtype="int32", name="bars")
        x = x + layers.Embedding(BAR_ROWS, cfg.embedding_size, name="bar_embedding",
                                 embeddings_initializer=small)(bars)
        inputs = [tokens, keys, bars]
    context = context_of(codec, cfg)
    if context is not None:  # what the history determines: one row per feature that is on
        features = keras.Input(shape=(None, context.size), dtype="float32", name="features")
        x = x + layers.Dense(cfg.embedding_size, use_bias=False, name="context",
                             kernel_initializer=small)(features)
        inputs = [*inputs, features]
    for i in range(cfg.num_layers):
        x = layers.LSTM(cfg.rnn_size, return_sequences=True, name=f"lstm_{i}")(x)
        if cfg.dropout:
            x = layers.Dropout(cfg.dropout, name=f"dropout_{i}")(x)
    logits = to_logits(x)
    if codec.version >= 2 and not cfg.no_degrees:
        degrees = layers.Dense(24, name="degree_logits")(x)
        logits = KeyDegrees(degree_index(codec), name="key_degrees")([logits, degrees, keys])
    return keras.Model(inputs, logits, name="cadenza_lstm")


def inference_network(model: keras.Model, codec: Codec, cfg: ModelConfig) -> dict:
    """model.json's ``network`` (trainer/nn/network.py) of ``model``, a
    :func:`build_model` of ``codec`` and ``cfg``: its sizes, and which of the key,
    degree and bar tables it has."""
    names = {layer.name for layer in model.layers}
    context = context_of(codec, cfg) if "context" in names else None
    return N.describe(codec.size, cfg, KEY_ROWS if "key_embedding" in names else 0,
                      DEGREES if "degree_logits" in names else 0,
                      BAR_ROWS if "bar_embedding" in names else 0,
                      context and N.context_parts(codec, context.sounding, context.lookback,
                                                  context.repeating))


def _plain(layer) -> list[str]:
    """The names of ``layer``'s weights in the plain network: a pitch-sharing layer
    has the plain layer's (a table, or a kernel and bias) in place of its own."""
    if isinstance(layer, PitchEmbedding):
        return [f"{layer.name}/embeddings"]
    if isinstance(layer, PitchLogits):
        return [f"{layer.name}/kernel", f"{layer.name}/bias"]
    return [w.path for w in layer.weights]


def inference_weights(model: keras.Model, network: dict) -> dict[str, np.ndarray]:
    """The plain network's weights by name (:func:`trainer.nn.network.shapes`), which
    generation and the export run: each layer's own, and a pitch-sharing layer's
    collapsed table (or kernel and bias) under the plain layer's names. ``network`` is
    :func:`inference_network` of ``model``."""
    found = {}
    for layer in model.layers:
        if isinstance(layer, PitchEmbedding):
            arrays = [layer.collapsed()]
        elif isinstance(layer, PitchLogits):
            arrays = list(layer.collapsed())
        else:
            arrays = layer.get_weights()
        found |= dict(zip(_plain(layer), arrays, strict=True))
    weights = {name: found[name] for name in N.shapes(network) if name in found}
    N.check_weights(network, weights)
    return weights


def set_inference_weights(model: keras.Model, weights: dict[str, np.ndarray]) -> None:
    """The inverse of :func:`inference_weights`: give ``model`` the plain network's weights
    by name. A pitch-sharing layer takes the collapsed table (or kernel and bias) as its
    own and zeros in its shared parts, which computes the same logits."""
    layers_ = [layer for layer in model.layers if layer.weights]
    wanted = [name for layer in layers_ for name in _plain(layer)]
    missing = [n for n in wanted if n not in weights]
    extra = [n for n in weights if n not in wanted]
    if missing or extra:
        raise CadenzaError("the weights do not fit this network: "
                           + "; ".join(f"{what} {names}" for what, names in
                                       (("missing", missing), ("not used", extra)) if names))
    for layer in layers_:
        values = [weights[n] for n in _plain(layer)]
        if isinstance(layer, PitchEmbedding):
            values += [np.zeros(layer.by_class.shape), np.zeros(layer.by_octave.shape)]
        elif isinstance(layer, PitchLogits):
            values += [np.zeros(layer.class_kernel.shape), np.zeros(layer.class_bias.shape),
                       np.zeros(layer.octave_kernel.shape), np.zeros(layer.octave_bias.shape)]
        shapes = [tuple(w.shape) for w in layer.weights]
        if shapes != [np.shape(v) for v in values]:
            raise CadenzaError(f"{layer.name}: weights shaped {[np.shape(v) for v in values]}, "
                               f"the network's {shapes}")
        layer.set_weights(values)


def bar_input(codec: Codec, cfg: ModelConfig) -> bool:
    """Whether the network takes the bar count (v2 with BAR tokens, when asked for)."""
    return codec.version >= 2 and codec.bar_id is not None and cfg.bar_input


def context_of(codec: Codec, cfg: ModelConfig):
    """The :class:`trainer.music.context.Context` the network reads, or None: v2 only,
    lookback only with BAR tokens (bar lines and meters)."""
    from trainer.music.context import LOOKBACK, Context

    lookback = LOOKBACK if cfg.lookback_input and codec.bar_id is not None else ()
    sounding = cfg.sounding_input
    if codec.version < 2 or not (sounding or lookback):
        return None
    return Context(codec, sounding, lookback, cfg.repeat_input)


def model_inputs(codec: Codec, cfg: ModelConfig, songs) -> tuple | np.ndarray:
    """The network's inputs for whole songs from BOS (padded with PAD to one length):
    the token ids, then for v2 the key input, then the bar count if it takes one, then
    the Context's features if it reads them."""
    from trainer.music.context import song_features, unpack
    from trainer.nn.dataset import bar_inputs, key_inputs

    width = max(len(s) for s in songs)
    x = np.full((len(songs), width), codec.pad_id, dtype=np.int32)
    for r, s in enumerate(songs):
        x[r, :len(s)] = s
    if codec.version < 2:
        return x
    k = np.stack([np.pad(key_inputs(codec, s, 0, len(s)), (0, width - len(s)),
                         constant_values=KEY_ROWS - 1) for s in songs])
    out = [x, k]
    if bar_input(codec, cfg):
        out.append(np.stack([np.pad(bar_inputs(codec, s, 0, len(s)), (0, width - len(s)),
                                    mode="edge") for s in songs]))
    context = context_of(codec, cfg)
    if context is not None:
        out.append(np.stack([np.pad(unpack(song_features(context, s), context.size),
                                    ((0, width - len(s)), (0, 0))) for s in songs]))
    return tuple(out)


def learning_rate(cfg: TrainConfig, steps_per_epoch: int):
    """The optimizer's learning rate: a per-step cosine schedule, or a constant (plateau).

    The cosine schedule lives in the optimizer (and so in every checkpoint),
    so a resumed run continues it from the saved step count.
    """
    if cfg.schedule == "plateau":
        return cfg.learning_rate
    total = max(2, steps_per_epoch * cfg.epochs)
    warmup = max(1, round(C.WARMUP * total))
    return keras.optimizers.schedules.CosineDecay(
        cfg.learning_rate / 10, decay_steps=total - warmup, alpha=C.LR_FINAL,
        warmup_target=cfg.learning_rate, warmup_steps=warmup)


def make_optimizer(cfg: TrainConfig, steps_per_epoch: int = 1) -> keras.optimizers.Optimizer:
    kinds = {"adam": keras.optimizers.Adam, "adamw": keras.optimizers.AdamW,
             "rmsprop": keras.optimizers.RMSprop, "sgd": keras.optimizers.SGD}
    extra = {"global_clipnorm": cfg.grad_clip} if cfg.grad_clip else {}
    if cfg.ema:
        extra.update(use_ema=True, ema_momentum=cfg.ema)
    return kinds[cfg.optimizer](learning_rate=learning_rate(cfg, steps_per_epoch), **extra)


def swap_average(model: keras.Model) -> bool:
    """Exchange the model's weights with the optimizer's moving average of them (``--ema``);
    False (and nothing done) when the optimizer keeps none. Checkpoints are written with
    the average in the model, so the best weights are the average and a resumed run swaps
    once after loading to train on from the raw weights."""
    opt = model.optimizer
    if not getattr(opt, "use_ema", False) or not hasattr(opt, "_model_variables_moving_average"):
        return False
    for var, average in zip(opt._trainable_variables, opt._model_variables_moving_average):
        raw = keras.ops.convert_to_numpy(var)
        var.assign(average)
        average.assign(raw)
    return True


def compile_model(model: keras.Model, cfg: TrainConfig, steps_per_epoch: int = 1) -> keras.Model:
    """Cross-entropy from logits, averaged over real (weight 1) targets only."""
    model.compile(
        optimizer=make_optimizer(cfg, steps_per_epoch),
        loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction="mean_with_sample_weight"),
        weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    return model


def load_trained(run, which: str = "best") -> keras.Model:
    """The sequence model of a run folder (:class:`trainer.nn.runs.RunDir`) with trained weights.

    Raises :class:`CadenzaError` naming the file if the weights are damaged or
    do not fit the model that config.json describes.
    """
    model = build_model(run.codec(), run.config().model)
    path = run.weights_path(which)
    reason = damage(path)
    if reason is None:
        try:
            model.load_weights(path)
        except Exception as e:  # Keras raises many types on weights of another shape
            reason = f"they do not fit the model of config.json: {str(e).splitlines()[0][:120]}"
    if reason:
        other = "--checkpoint last" if which == "best" else "--checkpoint best"
        raise CadenzaError(f"{path} is damaged ({reason}); try {other}, or train again")
    return model
