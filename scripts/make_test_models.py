"""Train tiny models on synthetic songs and export them, for the JS and browser tests.

The songs are random walks in a key's scale over its tonic triad, in several
keys and meters (4/4, 3/4, 6/8, 5/4 as METER_other), some with a pickup,
written with their key and time signatures. Writes:

- ``OUT/run`` (a codec v2 run: key table, degree logits, bar count) and one export
  folder of it per ``--quantize`` rule: ``OUT/none``, ``OUT/float16``,
  ``OUT/uint8``, ``OUT/uint8-column`` and ``OUT/auto``;
- ``OUT/run-v1`` (the same songs, codec v1: notes only) and its export
  ``OUT/v1`` (float16), which proves a version-1 model still loads and plays;
- ``OUT/run-context`` (codec v2, reading the Context's features too: what
  sounds, what started 1, 2, 4 and 8 bars ago, and whether the song repeats
  each) and its export
  ``OUT/context`` (float32);
- ``OUT/decoded.json``: each export's weights as converter/read.py decodes them, by
  SHA-256 of their float32 bytes, which tfjs-core's decoding must match;
- ``OUT/stepper.json``: the numpy Stepper's logits (trainer/compose/stepper.py, on
  the weights as converter/read.py reads them back) after each token of a
  song per export ``none``, ``uint8-column``, ``v1`` and ``context``; in the v2 songs the
  key changes midway (a second KEY token), which the Keras parity files,
  fed the key of the song's first KEY token, never do, and three BAR tokens
  follow; ``none`` also without its bar table (``"drop": 1``) and with its
  key table alone (``"drop": 3``: a format-2 export from before degree
  logits and the bar count).

The JavaScript tests load these folders and check them against their parity
files and stepper.json; the Compose browser tests serve ``float16`` and
``v1``. Usage: ``python scripts/make_test_models.py [--out build/test-models]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np

from trainer.config import CodecConfig, DataConfig, ModelConfig, RunConfig, TrainConfig
from trainer.music import keys, midi_io
from trainer.music.codec import Codec, Meta
from trainer.nn import backend

STEPS_PER_BEAT = 4
# (key, meter, pickup in steps): 12 songs; the counts the Compose tests expect
SONGS = [((7, "major"), (4, 4), 0), ((7, "major"), (4, 4), 4), ((7, "major"), (3, 4), 4),
         ((7, "major"), (4, 4), 0), ((2, "minor"), (3, 4), 0), ((2, "minor"), (6, 8), 6),
         ((2, "minor"), (4, 4), 8), ((9, "minor"), (4, 4), 0), ((9, "minor"), (6, 8), 0),
         ((0, "major"), (3, 4), 0), ((0, "major"), (5, 4), 0), ((5, "major"), (4, 4), 0)]
QUANTIZE = ("none", "float16", "uint8", "uint8-column", "auto")


def write_songs(folder: Path, seed: int = 0) -> None:
    """Random walks in each song's key over its tonic triad, with varied rhythm, written
    with the song's key signature and time signature (a pickup padded to a bar)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i, (key, meter, pickup) in enumerate(SONGS):
        scale = np.flatnonzero(keys.scale_of(key))
        pitches = [p for p in range(48, 86) if p % 12 in scale]
        notes, t, at = [], 0, pitches.index(min(pitches, key=lambda p: abs(p - 64)))
        for _ in range(60):
            dur = int(rng.choice([1, 2, 2, 4, 4, 8]))
            at = int(np.clip(at + rng.integers(-2, 3), 0, len(pitches) - 1))
            pitch = pitches[at]
            notes.append((t, dur, pitch))
            if rng.random() < 0.3:  # the tonic triad below: the key is clear
                root = 48 + key[0]
                notes += [(t, dur, root - 12), (t, dur, root - 12 + (4 if key[1] == "major"
                                                                     else 3)), (t, dur, root - 5)]
            t += dur + int(rng.random() < 0.1) * 4
        bar = keys.bar_steps(meter, STEPS_PER_BEAT)
        bars = tuple((b, meter) for b in range(pickup, t, bar))  # 5/4 itself, not "other"
        midi_io.write_midi(np.array(notes), folder / f"song{i:02d}.mid",
                           steps_per_beat=STEPS_PER_BEAT, meta=Meta(key, meter, bars))


def write_stepper_cases(out: Path) -> None:
    """``out/stepper.json`` (see the module docstring)."""
    from converter.read import read_export
    from trainer.compose.stepper import Stepper
    from trainer.nn.network import shapes

    cases = []
    for name in ("none", "uint8-column", "v1", "context"):
        codec = Codec.load(out / name / "vocab.json")
        prime = json.loads((out / name / "parity.json").read_text())["prime"]
        tokens = prime + prime[1:]
        if "KEY" in codec.ranges:
            other = next(codec.key_id(k) for k in ((9, "minor"), (0, "major"))
                         if codec.key_id(k) != prime[1])
            tokens = prime + [other] + prime[3:] + [codec.bar_id] * 3 + prime[3:9]
        export = read_export(out / name)
        # the whole network; a v2 "none" also without its bar table, and with its key
        # table alone (a format-2 export from before degree logits and the bar count)
        for degrees, bars in ((1, 1), (1, 0), (0, 0)) if name == "none" else ((1, 1),):
            network = {**export.network, "degrees": export.network["degrees"] * degrees,
                       "bar_rows": export.network["bar_rows"] * bars}
            weights = {n: export.weights[n] for n in shapes(network)}
            stepper = Stepper(weights, network, codec)
            drop = len(export.weights) - len(weights)  # the arrays left out
            case = {"model": name, "drop": drop, "degrees": stepper.degree_index is not None,
                    "bars": stepper.bar_table is not None, "tokens": tokens,
                    "logits": stepper.run(tokens).tolist()}
            if name == "none" and (case["degrees"], case["bars"]) != (drop < 3, drop == 0):
                raise SystemExit(f"{out / name}: the v2 test model lacks degree logits or the "
                                 "bar count")
            cases.append(case)
    (out / "stepper.json").write_text(json.dumps({"cases": cases}) + "\n")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("build/test-models"))
    args = p.parse_args(argv)
    if args.out.exists():
        shutil.rmtree(args.out)
    write_songs(args.out / "data")
    backend.configure()
    from converter.export import ExportConfig, export
    from trainer.nn.train import train

    for name, version, context in (("run", 2, False), ("run-v1", 1, False),
                                   ("run-context", 2, True)):
        train(RunConfig(
            data=DataConfig(data_dir=args.out / "data", cache_dir=args.out / "cache"),
            codec=CodecConfig(steps_per_beat=STEPS_PER_BEAT, vocab_version=version),
            # the v2 test model takes every input a v2 network can (the bar count
            # too, which the shipped models leave out), so the loaders meet them all
            model=ModelConfig(rnn_size=24, num_layers=2, embedding_size=12,
                              bar_input=version >= 2 and not context,
                              sounding_input=context, lookback_input=context,
                              repeat_input=context),
            train=TrainConfig(run_dir=args.out / name, epochs=2, window_size=32,
                              batch_size=4)))
    for quantize in QUANTIZE:
        export(ExportConfig(run_dir=args.out / "run", out=args.out / quantize,
                            quantize=quantize))
    export(ExportConfig(run_dir=args.out / "run-v1", out=args.out / "v1", quantize="float16"))
    export(ExportConfig(run_dir=args.out / "run-context", out=args.out / "context",
                        quantize="none"))
    write_stepper_cases(args.out)
    from converter.read import weight_digests

    (args.out / "decoded.json").write_text(json.dumps(
        {name: weight_digests(args.out / name) for name in (*QUANTIZE, "v1", "context")}) + "\n")


if __name__ == "__main__":
    main()
