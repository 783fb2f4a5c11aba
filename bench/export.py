"""Benchmark export: model size per quantisation and its drift from float32 Keras.

Exports one run three ways (into a temporary folder) and prints, for each,
the weight bytes and, over the parity prime, the largest per-step KL
divergence and absolute probability difference from the float32 Keras model
(the figures the converter measures on the written weights read back).

Usage: ``python bench/export.py --run-dir DIR``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run-dir", type=Path, required=True)
    args = p.parse_args(argv)
    from converter.export import ExportConfig, export

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for quantize in ("none", "float16", "uint8"):
            config = export(ExportConfig(run_dir=args.run_dir, out=Path(tmp) / quantize,
                                         quantize=quantize))
            rows.append((quantize, config["weights_bytes"], config["parity"]))
        model = json.loads((Path(tmp) / "none" / "config.json").read_text())["model"]
    print(f"\nrun {args.run_dir}: {model['num_layers']}x LSTM({model['rnn_size']}), "
          f"embedding {model['embedding_size']}")
    print(f"{'quantisation':<14}{'weights':>12}{'vs float32':>12}{'max KL':>12}{'max |dp|':>12}")
    full = rows[0][1]
    for quantize, size, parity in rows:
        print(f"{quantize:<14}{size / 1e6:>10.2f}MB{size / full:>12.2f}"
              f"{parity['max_kl']:>12.2e}{parity['max_abs_diff']:>12.2e}")


if __name__ == "__main__":
    main()
