"""Regenerate every example song of the shipped models (deterministic).

    python scripts/make_examples.py [--models site/models] [--out site/examples]

Writes ``site/examples/<model>/*.mid|.mp3|.png`` and ``site/examples/index.json``
(see converter/examples.py). Needs fluidsynth and the FluidR3 GM soundfont
(``scripts/system-deps.sh`` installs them).
"""

import argparse
import sys
from pathlib import Path

from converter.examples import ExampleSpec, make_examples
from trainer.errors import CadenzaError

TEMPI = (("chorales", 84.0), ("folk", 112.0))  # BPM the examples are written at
# What each example asks for: chorales in G major and A minor; folk jigs in 6/8
# and reels in 4/4, each in D and G major.
REQUESTS = (("chorales", "G:major", "4/4"), ("chorales", "A:minor", "4/4"),
            ("chorales", "G:major", "3/4"),
            ("folk", "D:major", "6/8"), ("folk", "G:major", "6/8"),
            ("folk", "D:major", "4/4"), ("folk", "G:major", "4/4"))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", type=Path, default=Path("site/models"))
    p.add_argument("--out", type=Path, default=Path("site/examples"))
    args = p.parse_args(argv)
    try:
        make_examples(args.models, args.out, ExampleSpec(requests=REQUESTS, tempi=TEMPI))
    except CadenzaError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
