"""Benchmark export: model size per ``--quantize`` and its drift from float32 Keras.

``--run-dir DIR`` exports one run every way (into a temporary folder) and
prints, for each, the weight bytes, the largest next-token KL divergence
from the Keras model over the model's own songs (``next_token_kl``, what
``auto`` decides on: converter/storage.py) and, over the parity prime, the
largest KL and absolute probability difference (the figures the converter
measures on the written weights read back).

``--export DIR`` (repeatable) needs no training run: it takes an export
folder's own weights as the reference (a float16 export stands in for the
Keras model it came from, a proxy) and prints what ``auto`` would choose for
them, with its bytes and KL, writing nothing.

Usage: ``python bench/export.py --run-dir DIR`` or ``--export site/models/chorales``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

RULES = ("none", "float16", "uint8", "uint8-column", "auto")


def from_run(run_dir: Path) -> None:
    from converter.export import ExportConfig, export

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for quantize in RULES:
            rows.append(export(ExportConfig(run_dir=run_dir, out=Path(tmp) / quantize,
                                            quantize=quantize)))
    model = rows[0]["model"]
    print(f"\nrun {run_dir}: {model['num_layers']}x LSTM({model['rnn_size']}), "
          f"embedding {model['embedding_size']}")
    print(f"{'--quantize':<14}{'weights':>12}{'vs float32':>12}{'song KL':>12}"
          f"{'parity KL':>12}{'max |dp|':>12}")
    full = rows[0]["weights_bytes"]
    for quantize, config in zip(RULES, rows):
        size, parity = config["weights_bytes"], config["parity"]
        print(f"{quantize:<14}{size:>12,}{size / full:>12.2f}"
              f"{config['next_token_kl']['max']:>12.2e}"
              f"{parity['max_kl']:>12.2e}{parity['max_abs_diff']:>12.2e}")


def from_export(folder: Path) -> None:
    """What ``auto`` makes of an export's own weights, against those weights."""
    from converter import storage as S
    from converter.read import read_export
    from trainer.compose.sampling import generate
    from trainer.compose.stepper import Stepper

    export = read_export(folder)
    weights = export.weights

    def make_stepper(arrays):
        return Stepper(arrays, export.network, export.codec)

    stepper = export.stepper()
    songs = S.kl_songs(stepper, export.codec, generate)
    reference = [S.softmax(stepper.run(s)) for s in songs]
    shapes = {n: w.shape for n, w in weights.items()}
    choice = S.choose("auto", shapes, S.measurer(weights, reference, songs, make_stepper))
    record = S.kl_record(choice.kl, songs, reference=f"its {export.config['quantization']} weights")
    print(f"{folder}: {export.config['weights_bytes']:,} bytes as shipped -> auto "
          f"{choice.bytes:,} bytes, max next-token KL {record['max']:.2e} "
          f"(mean {record['mean']:.1e}) over {record['steps']:,} steps vs {record['reference']}"
          f"{'' if choice.bytes <= S.TARGET_BYTES else '; above the 1 MB target'}")
    for name, kind in choice.storage.items():
        print(f"  {name:<36}{str(list(shapes[name])):<14}{kind}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--run-dir", type=Path)
    source.add_argument("--export", type=Path, action="append")
    args = p.parse_args(argv)
    if args.run_dir:
        from_run(args.run_dir)
    for folder in args.export or []:
        from_export(folder)


if __name__ == "__main__":
    main()
