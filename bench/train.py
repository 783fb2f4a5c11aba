"""Benchmark training throughput: this trainer vs the classic tutorial pipeline.

Both train the same LSTM stack (``--num-layers`` x ``--rnn-size``) on the same
training songs of a corpus (default: the built-in chorales), in one process:

* **ours**: token ids through an Embedding, windows of ``--window-size`` cut
  on the fly, every position predicts its next token;
* **classic** (Classical-Piano-Composer): every window of 100 tokens
  materialised as a float array ``(n, 100, 1)`` of ids / vocabulary size,
  one-hot targets, only the last position predicts.

Each side trains ``--epochs`` epochs over ``--batches`` batches of
``--batch-size``; the first epoch (graph tracing) is not timed. The figure is
training targets (next tokens predicted) per second, and the ratio.

Usage: ``python bench/train.py [--rnn-size 256] [--num-layers 2] [--batches 20]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from trainer import backend
from trainer import constants as C


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rnn-size", type=int, default=256)
    p.add_argument("--num-layers", type=int, default=2)
    p.add_argument("--window-size", type=int, default=C.WINDOW_SIZE, help="our window")
    p.add_argument("--batch-size", type=int, default=C.BATCH_SIZE)
    p.add_argument("--batches", type=int, default=20, help="batches per timed epoch")
    p.add_argument("--epochs", type=int, default=3, help="epochs per side (first untimed)")
    return p.parse_args(argv)


class EpochTimer:
    """Wall time of each epoch, as a Keras callback."""

    def __init__(self):
        import keras

        class _Timer(keras.callbacks.Callback):
            def on_epoch_begin(cb, epoch, logs=None):
                cb.t0 = time.perf_counter()

            def on_epoch_end(cb, epoch, logs=None):
                self.seconds.append(time.perf_counter() - cb.t0)

        self.seconds, self.callback = [], _Timer()


def timed_fit(model, data, epochs, **fit_args) -> float:
    """Median seconds per epoch after the first."""
    timer = EpochTimer()
    model.fit(data, epochs=epochs, callbacks=[timer.callback], verbose=0, **fit_args)
    return float(np.median(timer.seconds[1:]))


def ours(songs, codec, args) -> tuple[float, int]:
    from trainer.config import ModelConfig, TrainConfig
    from trainer.dataset import Windows
    from trainer.model import build_model, compile_model

    windows = np.cumsum([-(-(len(s) - 1) // args.window_size) for s in songs])
    enough = int(np.searchsorted(windows, args.batches * args.batch_size)) + 1
    data = Windows(songs[:enough], codec, args.window_size, args.batch_size, shuffle=True, seed=0)
    model = compile_model(build_model(codec, ModelConfig(rnn_size=args.rnn_size,
                                                         num_layers=args.num_layers)),
                          TrainConfig(run_dir="unused"))
    seconds = timed_fit(model, data, args.epochs)
    return seconds, data.epoch_targets(0)


def classic(songs, codec, args, window=100) -> tuple[float, int, int]:
    import keras
    from keras import layers

    tokens = np.concatenate(songs)
    n = args.batches * args.batch_size
    starts = np.arange(n) % (len(tokens) - window)
    x = (tokens[starts[:, None] + np.arange(window)] / codec.size).astype(np.float32)[..., None]
    y = keras.utils.to_categorical(tokens[starts + window], codec.size)
    model = keras.Sequential([keras.Input((window, 1))])
    for i in range(args.num_layers):
        model.add(layers.LSTM(args.rnn_size, return_sequences=i < args.num_layers - 1))
        model.add(layers.Dropout(0.3))
    model.add(layers.Dense(codec.size, activation="softmax"))
    model.compile(loss="categorical_crossentropy", optimizer="rmsprop")
    seconds = timed_fit(model, x, args.epochs, y=y, batch_size=args.batch_size, shuffle=True)
    full_bytes = (len(tokens) - window) * window * 4  # every window of the corpus, float32
    return seconds, n, full_bytes


def main(argv=None):
    args = parse_args(argv)
    backend.configure()
    from trainer.codec import Codec
    from trainer.config import DataConfig
    from trainer.corpus import prepare

    codec = Codec()
    corpus = prepare(DataConfig(), codec)
    songs = corpus.tokens(codec)
    print(f"data: {corpus.source}, {len(songs)} songs, {sum(map(len, songs)):,} tokens; "
          f"model {args.num_layers}x LSTM({args.rnn_size}); {backend.describe()}")
    s_ours, t_ours = ours(songs, codec, args)
    s_classic, t_classic, full_bytes = classic(songs, codec, args)
    rate_ours, rate_classic = t_ours / s_ours, t_classic / s_classic
    print(f"{'':<10}{'targets/epoch':>14}{'s/epoch':>9}{'targets/s':>11}")
    print(f"{'ours':<10}{t_ours:>14,}{s_ours:>9.2f}{rate_ours:>11,.0f}")
    print(f"{'classic':<10}{t_classic:>14,}{s_classic:>9.2f}{rate_classic:>11,.0f}")
    print(f"ratio: {rate_ours / rate_classic:.1f}x targets/s (target >= 10x)")
    print(f"memory for the corpus: ours {sum(map(len, songs)) * 4 / 1e6:.1f} MB of int32 tokens; "
          f"classic {full_bytes / 1e6:.1f} MB of float32 windows")


if __name__ == "__main__":
    main()
