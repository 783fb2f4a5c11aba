"""Benchmark what ``tensorflowjs`` adds to a converter start.

Times three imports, each in a fresh Python process, taking turns so that the
three share whatever else the machine is doing:

- ``tensorflow``: what every converter start pays anyway (its Keras backend);
- ``tensorflow`` then the converter's writer (``converter.weights._write_weights``:
  ``tensorflowjs.write_weights`` without the package's ``__init__``);
- ``tensorflow`` then ``import tensorflowjs`` as a whole (its ``__init__`` imports
  the converters: TF decision forests, tensorflow_hub, pandas), what the
  converter did before.

Prints each one's median and range of wall seconds over ``--runs`` turns, and the
writer's cost over TensorFlow alone. Usage: ``python bench/converter_start.py
[--runs 5]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = {
    "tensorflow alone": "import tensorflow",
    "tensorflow + the converter's writer":
        "import tensorflow\nfrom converter.weights import _write_weights\n_write_weights()",
    "tensorflow + import tensorflowjs (whole package)":
        "import tensorflow\nimport tensorflowjs.write_weights",
}


def timed(code: str) -> float:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TFDF_DISABLE_WELCOME_MESSAGE": "1",
           "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=ROOT,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="turns per import (default 5)")
    args = parser.parse_args()
    times = {name: [] for name in CASES}
    timed(CASES["tensorflow alone"])  # warm the file cache for every case alike
    for _ in range(args.runs):
        for name, code in CASES.items():
            times[name].append(timed(code))
    base = statistics.median(times["tensorflow alone"])
    for name, values in times.items():
        median = statistics.median(values)
        extra = "" if values is times["tensorflow alone"] else f"  ({median - base:+.2f} s)"
        print(f"{name:<50} median {median:5.2f} s, {min(values):.2f}..{max(values):.2f}"
              f"{extra}")


if __name__ == "__main__":
    main()
