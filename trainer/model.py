"""The Keras 3 LSTM, backend-agnostic: Embedding -> L x LSTM -> Dense logits.

``build_model`` makes the sequence model used for training and scoring (any
batch, any length); generation runs the same weights one token at a time
through :mod:`trainer.stepper`.
"""

from __future__ import annotations

import keras
from keras import layers

from trainer.config import ModelConfig, TrainConfig


def build_model(vocab_size: int, cfg: ModelConfig) -> keras.Model:
    """Token ids ``(batch, time)`` -> next-token logits ``(batch, time, vocab)``."""
    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    x = layers.Embedding(vocab_size, cfg.embedding_size, name="embedding")(tokens)
    for i in range(cfg.num_layers):
        x = layers.LSTM(cfg.rnn_size, return_sequences=True, name=f"lstm_{i}")(x)
        if cfg.dropout:
            x = layers.Dropout(cfg.dropout, name=f"dropout_{i}")(x)
    logits = layers.Dense(vocab_size, name="logits")(x)
    return keras.Model(tokens, logits, name="cadenza_lstm")


def make_optimizer(cfg: TrainConfig) -> keras.optimizers.Optimizer:
    kinds = {"adam": keras.optimizers.Adam, "adamw": keras.optimizers.AdamW,
             "rmsprop": keras.optimizers.RMSprop, "sgd": keras.optimizers.SGD}
    clip = {"global_clipnorm": cfg.grad_clip} if cfg.grad_clip else {}
    return kinds[cfg.optimizer](learning_rate=cfg.learning_rate, **clip)


def compile_model(model: keras.Model, cfg: TrainConfig) -> keras.Model:
    """Cross-entropy from logits, averaged over real (weight 1) targets only."""
    model.compile(
        optimizer=make_optimizer(cfg),
        loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction="mean_with_sample_weight"),
        weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    return model


def load_trained(run, which: str = "best") -> keras.Model:
    """The sequence model of a run folder (:class:`trainer.runs.RunDir`) with trained weights."""
    model = build_model(run.codec().size, run.config().model)
    model.load_weights(run.weights_path(which))
    return model
