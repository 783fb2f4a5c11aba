"""``python -m trainer COMMAND ...``: parse the flags and dispatch, nothing more."""

import importlib
import sys

from trainer import cli
from trainer.errors import CadenzaError

HANDLERS = {  # command -> module whose ``command(given)`` runs it (imported lazily)
    "prepare": "trainer.corpus_cli",
    "train": "trainer.train",
    "sample": "trainer.generate",
    "evaluate": "trainer.evaluate",
}


def main(argv=None) -> int:
    try:
        command, given = cli.parse(argv)
        return importlib.import_module(HANDLERS[command]).command(given) or 0
    except CadenzaError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
