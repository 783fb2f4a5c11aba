"""``python -m converter --run-dir DIR --out DIR [--quantize ...] [--previous FILE]``:
parse and dispatch."""

import sys

from converter.export import ExportConfig, export
from trainer.cli import parse_flags
from trainer.errors import CadenzaError


def main(argv=None) -> int:
    try:
        given = parse_flags(argv, "python -m converter",
                            "Export a trained run to the self-describing folder the site loads.",
                            [ExportConfig])
        cfg = ExportConfig(**given[ExportConfig])
        export(cfg)
        return 0
    except CadenzaError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
