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


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", type=Path, default=Path("site/models"))
    p.add_argument("--out", type=Path, default=Path("site/examples"))
    args = p.parse_args(argv)
    try:
        make_examples(args.models, args.out, ExampleSpec(tempi=TEMPI))
    except CadenzaError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
