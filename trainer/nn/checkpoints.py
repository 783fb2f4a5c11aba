"""Checkpoint files that are written whole and checked before they count.

:func:`save_verified` writes through a temporary name, flushes it to disk,
checks that it reads back whole and only then gives it its name, so a named
checkpoint is never half written; on any failure (a full disk, a kill) the
temporary file is removed. :func:`damage` says why a file is not an intact
Keras checkpoint (``.keras``) or weights file (``.weights.h5``).
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Callable

from trainer.errors import CadenzaError

KERAS_MEMBERS = {"config.json", "metadata.json", "model.weights.h5"}


def save_verified(save: Callable[[Path], None], path: Path) -> Path:
    """``save(tmp)``, fsync, :func:`damage` check, then rename to ``path``."""
    tmp = path.with_name(f".tmp-{path.name}")  # keeps the suffix Keras insists on
    try:
        save(tmp)
        fsync(tmp)
        reason = damage(tmp)
        if reason:
            raise CadenzaError(f"{path} was written damaged ({reason}); the disk may be failing")
        os.replace(tmp, path)
        fsync(path.parent)
    except OSError as e:
        e.filename = e.filename or str(path)  # a failed write() names no file
        raise
    finally:
        tmp.unlink(missing_ok=True)
    return path


def weights_of(checkpoint: Path) -> bytes:
    """The ``.weights.h5`` bytes inside a ``.keras`` checkpoint (what ``save_weights``
    writes). Taking them from there keeps h5py from writing to disk: on a full
    disk h5py fails inside the HDF5 library and can crash the process."""
    with zipfile.ZipFile(checkpoint) as z:
        return z.read("model.weights.h5")


def fsync(path: Path) -> None:
    """Flush a file's (or a folder's entries') data to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def damage(path: Path) -> str | None:
    """Why ``path`` is not an intact checkpoint or weights file; ``None`` if it is."""
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            return "empty file"
        if path.name.endswith(".keras"):
            return _keras_damage(path)
        return _h5_damage(path)
    except FileNotFoundError:
        return "missing"
    except OSError as e:
        return f"cannot read it ({e.strerror or e})"


def _keras_damage(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as z:
            missing = KERAS_MEMBERS - set(z.namelist())
            if missing:
                return f"not a Keras checkpoint (no {', '.join(sorted(missing))})"
            bad = z.testzip()  # reads every member and checks its CRC
    except (zipfile.BadZipFile, EOFError, ValueError) as e:
        return f"truncated or not a zip file ({e})"
    return f"{bad} fails its checksum" if bad else None


def _h5_damage(path: Path) -> str | None:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            datasets = []
            f.visititems(lambda name, obj: datasets.append(obj)
                         if isinstance(obj, h5py.Dataset) else None)
            for d in datasets:
                d[()]  # every byte read back
    except (OSError, RuntimeError, ValueError, KeyError) as e:
        return f"truncated or not an HDF5 file ({str(e).splitlines()[0][:100]})"
    return None
