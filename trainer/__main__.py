"""``python -m trainer COMMAND ...``: parse the flags and dispatch, nothing more."""

import importlib
import sys

from trainer import cli
from trainer.errors import CadenzaError, disk_full, from_os_error, shown

HANDLERS = {  # command -> module whose ``command(given)`` runs it (imported lazily)
    name: f"trainer.commands.{name.replace('-', '_')}"
    for name in ("prepare", "train", "sample", "calibrate", "form", "evaluate", "harmonize",
                 "evaluate-harmony")
}


def main(argv=None) -> int:
    try:
        command, given = cli.parse(argv)
        return importlib.import_module(HANDLERS[command]).command(given) or 0
    except CadenzaError as e:
        return _fail(e)
    except OSError as e:  # a full disk, a read-only folder: one line, never a traceback
        return _fail(from_os_error(e))
    except Exception as e:  # TensorFlow and h5py wrap a full disk in their own errors
        if disk_full(e):
            return _fail(from_os_error(e))
        raise
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _fail(e: CadenzaError) -> int:
    print(f"error: {shown(str(e))}", file=sys.stderr)  # names in it may hold escapes
    return 2


if __name__ == "__main__":
    sys.exit(main())
