"""Benchmark generation: milliseconds per token, stateful vs re-running the window.

In one process, with one run's weights (or, without ``--run-dir``, a freshly
initialised model of the default size -- timing does not depend on weights):

* **stateful** (ours): one LSTM step per token carrying (h, c), through
  :class:`trainer.compose.stepper.Stepper`, inside the real sampling loop;
* **window, Keras**: the classic tutorial loop -- for every new token, run the
  Keras model over the last ``--window`` tokens (``predict_on_batch``; a
  key-conditioned v2 model also reads the key input training gives that window);
* **window, numpy**: the same re-run through the stepper's own arithmetic, so
  the ratio to stateful is not a framework difference.

Usage: ``python bench/sample.py [--run-dir DIR] [--tokens 500] [--window 100]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from trainer.nn import backend


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run-dir", type=Path, default=None)
    p.add_argument("--tokens", type=int, default=500, help="tokens generated statefully")
    p.add_argument("--window", type=int, default=100, help="classic window length")
    p.add_argument("--window-tokens", type=int, default=40, help="tokens timed per window method")
    return p.parse_args(argv)


def per_token_ms(fn, count: int) -> float:
    fn()  # warm-up (tracing, caches)
    t0 = time.perf_counter()
    for _ in range(count):
        fn()
    return (time.perf_counter() - t0) / count * 1000


def main(argv=None):
    args = parse_args(argv)
    backend.configure()
    from trainer.compose.sampling import generate
    from trainer.compose.stepper import Stepper
    from trainer.config import ModelConfig
    from trainer.music.codec import Codec
    from trainer.nn.model import (build_model, inference_network, inference_weights, load_trained,
                                  model_inputs)
    from trainer.nn.runs import RunDir

    if args.run_dir:
        run = RunDir(args.run_dir)
        codec, model, cfg = run.codec(), load_trained(run), run.config().model
    else:
        codec, cfg = Codec(), ModelConfig()
        model = build_model(codec, cfg)
    network = inference_network(model, codec, cfg)
    stepper = Stepper(inference_weights(model, network), network, codec)
    print(f"model {cfg.num_layers}x LSTM({cfg.rnn_size}), vocab {codec.size}; "
          f"{'trained run ' + str(args.run_dir) if args.run_dir else 'random weights'}")

    t0 = time.perf_counter()
    stepper.reset()
    song = generate(stepper.step, codec, [codec.bos_id], max_notes=10**6, temperature=1.0,
                    top_k=0, top_p=0.95, seed=0, max_tokens=args.tokens)
    stateful = (time.perf_counter() - t0) / len(song) * 1000

    history = np.random.default_rng(0).integers(3, codec.size, args.window).astype(np.int32)
    inputs = model_inputs(codec, cfg, [history])  # tokens, and for v2 the key (and bar count)
    window_keras = per_token_ms(lambda: model.predict_on_batch(inputs), args.window_tokens)
    window_numpy = per_token_ms(lambda: stepper.run(history), args.window_tokens // 4)

    print(f"{'method':<34}{'ms/token':>10}{'vs stateful':>13}")
    print(f"{'stateful step (sampling included)':<34}{stateful:>10.3f}{1:>12.1f}x")
    for name, ms in [(f"re-run {args.window}-token window, Keras", window_keras),
                     (f"re-run {args.window}-token window, numpy", window_numpy)]:
        print(f"{name:<34}{ms:>10.3f}{ms / stateful:>12.1f}x")
    print(f"a {len(song)}-token song: {stateful * len(song) / 1000:.2f} s stateful, "
          f"{window_keras * len(song) / 1000:.1f} s with the classic window loop "
          f"(target: stateful >= 50x faster)")


if __name__ == "__main__":
    main()
