"""``python -m converter --run-dir DIR --out DIR [--quantize ...]``: parse and dispatch."""

import sys

from converter.export import ExportConfig, export
from trainer import backend
from trainer.cli import parse_flags
from trainer.errors import CadenzaError


def main(argv=None) -> int:
    try:
        given = parse_flags(argv, "python -m converter",
                            "Export a trained run to a self-describing TensorFlow.js folder.",
                            [ExportConfig])
        cfg = ExportConfig(**given[ExportConfig])
        backend.tensorflow()  # tf_keras and tensorflowjs import it, under either backend
        export(cfg)
        return 0
    except CadenzaError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
