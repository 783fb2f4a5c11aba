"""Rewrite a format-2 export folder as format 3, its weights bit for bit unchanged.

Usage: ``python scripts/migrate_format2.py FOLDER [FOLDER ...]`` (each rewritten in place)

Format 2 (converter/folder.py) stored each weight as one manifest entry. Its
float32, float16 and per-tensor uint8 entries are already TensorFlow.js's own
(``quantization`` with ``dtype``, ``min``, ``scale``, ``original_dtype``), so
they are kept as they are, bytes and all. Its per-column uint8 entries
(``"per": "column"``: a float32 min per column, then a float32 scale per
column, then the codes) become format 3's three standard entries
(converter/weights.py): ``W/codes`` (uint8, min 0, scale 1), ``W/column_min``
and ``W/column_scale`` (float32), from the same bytes. Every weight decodes to
the same float32 values as before (checked here), so the model is the one that
was measured and shipped; config.json gets format version 3 and the new shard
records, and the folder is then read back by converter/read.py, parity check
included. For an export whose run folder is gone; with the run, export again.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from converter.folder import FORMAT_VERSION, file_list, shard_records
from converter.read import read_export

SHARD = "group1-shard1of1.bin"


def _count(shape) -> int:
    return int(np.prod(shape, dtype=np.int64))


def format2_values(entry: dict, data: bytes, at: int) -> tuple[np.ndarray, int]:
    """A format-2 entry's float32 values by format 2's rules, and the offset after it."""
    shape, q = entry["shape"], entry.get("quantization") or {}
    n, c = _count(shape), int(shape[-1]) if shape else 1
    if q.get("per") == "column":
        lo = np.frombuffer(data, "<f4", c, at).astype(np.float64)
        scale = np.frombuffer(data, "<f4", c, at + 4 * c).astype(np.float64)
        codes = np.frombuffer(data, np.uint8, n, at + 8 * c).astype(np.float64)
        values = (codes.reshape(-1, c) * scale + lo).astype(np.float32)
        return values.reshape(shape), at + 8 * c + n
    if q.get("dtype") == "uint8":
        codes = np.frombuffer(data, np.uint8, n, at).astype(np.float64)
        return (codes * float(q["scale"]) + float(q["min"])).astype(np.float32).reshape(
            shape), at + n
    if q.get("dtype") == "float16":
        return np.frombuffer(data, "<f2", n, at).astype(np.float32).reshape(shape), at + 2 * n
    return np.frombuffer(data, "<f4", n, at).astype(np.float32).reshape(shape), at + 4 * n


def migrate(folder: Path) -> None:
    config = json.loads((folder / "config.json").read_text())
    if config.get("format_version") != 2:
        raise SystemExit(f"{folder}: format {config.get('format_version')}, not 2")
    model = json.loads((folder / "model.json").read_text())
    [group] = model["weightsManifest"]
    data = b"".join((folder / p).read_bytes() for p in group["paths"])
    before, entries, parts, at = {}, [], [], 0
    for e in group["weights"]:
        before[e["name"]], end = format2_values(e, data, at)
        q = e.get("quantization") or {}
        if q.get("per") == "column":
            c = int(e["shape"][-1]) if e["shape"] else 1
            entries += [{"name": f"{e['name']}/codes", "shape": e["shape"], "dtype": "float32",
                         "quantization": {"dtype": "uint8", "min": 0.0, "scale": 1.0,
                                          "original_dtype": "float32"}},
                        {"name": f"{e['name']}/column_min", "shape": [c], "dtype": "float32"},
                        {"name": f"{e['name']}/column_scale", "shape": [c], "dtype": "float32"}]
            parts += [data[at + 8 * c:end], data[at:at + 4 * c], data[at + 4 * c:at + 8 * c]]
        else:
            entries.append(e)
            parts.append(data[at:end])
        at = end
    assert at == len(data), f"{folder}: the manifest describes {at} of {len(data)} bytes"
    for p in group["paths"]:
        (folder / p).unlink()
    (folder / SHARD).write_bytes(b"".join(parts))
    model["weightsManifest"] = [{"paths": [SHARD], "weights": entries}]
    (folder / "model.json").write_text(json.dumps(model))
    shards = shard_records(folder)
    config.update(format_version=FORMAT_VERSION, shards=shards, files=file_list(folder),
                  weights_bytes=sum(s["bytes"] for s in shards.values()))
    (folder / "config.json").write_text(json.dumps(config, indent=1) + "\n")
    after = read_export(folder).weights  # every check the site makes, parity included
    same = all(np.array_equal(after[n], v) for n, v in before.items()) and after.keys() == \
        before.keys()
    if not same:
        raise SystemExit(f"{folder}: the weights changed in the rewrite")
    print(f"{folder}: format 3, {len(before)} weights bit for bit as before, "
          f"{config['weights_bytes']:,} bytes of weights")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__.strip().splitlines()[2])
    for arg in sys.argv[1:]:
        migrate(Path(arg))
