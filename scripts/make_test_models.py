"""Train a tiny model on synthetic songs and export it three ways, for the JS tests.

Writes ``OUT/run`` (the run folder) and ``OUT/none``, ``OUT/float16``,
``OUT/uint8`` (export folders). The JavaScript tests load these and check
them against their parity files. Usage: ``python scripts/make_test_models.py
[--out build/test-models]``.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np

from trainer import backend, midi_io
from trainer.config import CodecConfig, DataConfig, ModelConfig, RunConfig, TrainConfig


def write_songs(folder: Path, count: int = 12, seed: int = 0) -> None:
    """Random-walk melodies over block chords, with varied rhythm."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        notes, t, pitch = [], 0, 64
        for _ in range(60):
            dur = int(rng.choice([1, 2, 2, 4, 4, 8]))
            pitch = int(np.clip(pitch + rng.integers(-4, 5), 50, 84))
            notes.append((t, dur, pitch))
            if rng.random() < 0.3:
                notes += [(t, dur, pitch - 12), (t, dur, pitch - 5)]
            t += dur + int(rng.random() < 0.1) * 4
        midi_io.write_midi(np.array(notes), folder / f"song{i:02d}.mid", steps_per_beat=4)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("build/test-models"))
    args = p.parse_args(argv)
    if args.out.exists():
        shutil.rmtree(args.out)
    write_songs(args.out / "data")
    backend.configure()
    from converter.export import ExportConfig, export
    from trainer.train import train

    run = args.out / "run"
    train(RunConfig(data=DataConfig(data_dir=args.out / "data", cache_dir=args.out / "cache"),
                    codec=CodecConfig(),
                    model=ModelConfig(rnn_size=24, num_layers=2, embedding_size=12),
                    train=TrainConfig(run_dir=run, epochs=2, window_size=32, batch_size=4)))
    for quantize in ("none", "float16", "uint8"):
        export(ExportConfig(run_dir=run, out=args.out / quantize, quantize=quantize))


if __name__ == "__main__":
    main()
