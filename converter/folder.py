"""The export folder's own record of itself, and the rules for replacing one.

``config.json`` of an export lists every file the export wrote (``files``,
config.json included) and, for each weight shard, its size and SHA-256
(``shards``)::

    "files": ["config.json", "group1-shard1of1.bin", "metrics.json", ...],
    "shards": {"group1-shard1of1.bin": {"bytes": 1797270, "sha256": "9f2c..."}}

Readers (converter/read.py, web/src/worker/model.js) refuse a shard whose size or
hash differs. ``--out`` replaces a folder only when every entry in it is a
file that the previous export listed: a user's own file is never deleted.
An export written before the list existed counts as listing the files it
always wrote, but only when its model.json is the converter's own network
(``cadenza_lstm_step``), never merely because config.json says cadenza-lstm.

``format_version`` 3 exports have this project's model.json
(trainer/nn/network.py) with TensorFlow.js's own weights manifest and shards
(converter/weights.py); version 2 had the same network but weights of a
format of its own, which nothing reads any more (export again); version 1
had a tfjs Layers model.json. Readers read 1 and 3 (``READABLE``).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from trainer import constants as C
from trainer.errors import CadenzaError, read_text
from trainer.nn.network import NETWORK

TYPE, FORMAT_VERSION = C.EXPORT_TYPE, 3
READABLE = (1, 3)
SHARD = re.compile(r"group\d+-shard\d+of\d+\.bin")
LEGACY_FILES = ("config.json", "metrics.json", "model.json", "parity.json", "vocab.json")


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def shard_records(folder: Path) -> dict[str, dict]:
    """``{name: {"bytes", "sha256"}}`` of the weight shards in ``folder``, by name."""
    shards = sorted(p for p in Path(folder).iterdir() if SHARD.fullmatch(p.name))
    return {p.name: {"bytes": p.stat().st_size, "sha256": sha256(p)} for p in shards}


def file_list(folder: Path) -> list[str]:
    """The names ``config.json`` lists as the export's files: what is in ``folder`` now,
    and config.json itself (written last)."""
    return sorted({p.name for p in Path(folder).iterdir()} | {"config.json"})


def read_config(folder: Path) -> dict | None:
    """The folder's config.json as a dict, or None when it is missing or not a JSON object."""
    try:
        config = json.loads(read_text(Path(folder) / "config.json"))
    except (OSError, ValueError):
        return None
    return config if isinstance(config, dict) else None


def listed_files(folder: Path) -> set[str] | None:
    """The files a Cadenza export wrote into ``folder``, by its config.json (or, for
    an export from before the list, by its model.json); None when it is no export."""
    config = read_config(folder)
    if not config or config.get("type") != TYPE:
        return None
    files = config.get("files")
    if "files" not in config:
        return _legacy_files(Path(folder))
    if not (isinstance(files, list) and all(isinstance(f, str) for f in files)):
        return None
    return set(files)


def _legacy_files(folder: Path) -> set[str] | None:
    """What an export from before the file list wrote, if model.json is one's."""
    try:
        model = json.loads(read_text((folder / "model.json")))
        name = (model["network"]["name"] if "network" in model  # format 3 or 2, or 1: tfjs
                else model["modelTopology"]["model_config"]["config"]["name"])
        paths = {p for group in model["weightsManifest"] for p in group["paths"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if name != NETWORK or not all(SHARD.fullmatch(p) for p in paths):
        return None
    return set(LEGACY_FILES) | paths


def unlisted(folder: Path) -> list[str]:
    """Entries of ``folder`` that no previous export listed as its own (all of
    them when it is not an export folder); folders and links always count."""
    listed = listed_files(folder) or set()
    return sorted(p.name for p in Path(folder).iterdir()
                  if p.name not in listed or p.is_symlink() or not p.is_file())


def is_export_folder(path: Path) -> bool:
    """True for a folder an export wrote that holds nothing else (and may be replaced)."""
    path = Path(path)
    return path.is_dir() and listed_files(path) is not None and not unlisted(path)


def check_replaceable(out: Path) -> None:
    """Raise unless ``out`` is new, empty, or a folder holding only a previous export's files."""
    out = Path(out)
    if not out.exists() and not out.is_symlink():
        return
    if out.is_symlink():  # replacing would write through it, or replace the link alone
        target = "a missing path" if not out.exists() else "a folder" if out.is_dir() else "a file"
        raise CadenzaError(f"--out {out} is a symbolic link (to {target}); give the real "
                           "folder, or a new or empty one")
    if not out.is_dir():
        raise CadenzaError(f"--out {out} exists and is not a folder; choose a new or empty folder")
    if not any(out.iterdir()):
        return
    config = read_config(out)
    if config is None or config.get("type") != TYPE:
        raise CadenzaError(f"--out {out} is not a Cadenza export folder (it holds other files); "
                           "choose a new or empty folder")
    if listed_files(out) is None:
        raise CadenzaError(f"--out {out}: its config.json lists no exported files and its "
                           "model.json is not an export's, so nothing in it is replaced; "
                           "empty it yourself or choose a new folder")
    foreign = unlisted(out)
    if foreign:
        more = len(foreign) - 5
        shown = ", ".join(foreign[:5]) + (f" and {more} more" if more > 0 else "")
        raise CadenzaError(f"--out {out} holds {shown}, which the previous export did not "
                           "write; nothing was replaced (move them away or choose another --out)")
