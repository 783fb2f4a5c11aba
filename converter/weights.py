"""How each weight is stored in an export's shards, and how it is read back.

model.json's ``weightsManifest`` (trainer/nn/network.py describes the file)
lists every weight (``name``, ``shape``, ``"dtype": "float32"``) in shard
order; its ``quantization``, when present, says how the weight's bytes hold
it. Bytes are little-endian, values in C order, and C = ``shape[-1]`` is the
number of columns (a kernel's output units)::

    storage       quantization                                  bytes
    float32       (none)                                        4 per value
    float16       {"dtype": "float16"}                          2 per value (IEEE half)
    uint8         {"dtype": "uint8", "min": m, "scale": s}      1 code per value
    uint8-column  {"dtype": "uint8", "per": "column"}           min: float32 x C, then
                                                                scale: float32 x C, then
                                                                1 code per value

(each ``quantization`` also says ``"original_dtype": "float32"``). A code
``q`` reads as ``float32(q * scale + min)``, the product and sum taken in
float64 -- TensorFlow.js's own rule for ``uint8``, whose manifest entries
these are. ``uint8-column`` is this project's: ``min`` and ``scale`` of
column ``j`` are the j-th entries of the two float32 arrays.
web/src/mirror/weights.js reads all four exactly as :func:`dequantise` does, bit for
bit (tests/vectors/weights.json holds both to it).

:func:`encode` writes uint8 affinely over each tensor's (or column's) own
range: ``min`` is its smallest value and ``scale`` its range / 255, both
rounded to float32 before the codes are chosen, so a value is off by at most
half a step.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from trainer.nn.network import MODEL_FORMAT

STORAGES = ("float32", "float16", "uint8", "uint8-column")
LEVELS = 255
SHARD_BYTES = 4 * 1024 * 1024  # tfjs-converter's default shard size
_QUANTIZATION = {"float16": {"dtype": "float16"}, "uint8": {"dtype": "uint8"},
                 "uint8-column": {"dtype": "uint8", "per": "column"}}


class WeightError(ValueError):
    """A manifest entry or its bytes that no loader may read."""


def _count(shape) -> int:
    return int(np.prod(shape, dtype=np.int64))


def _columns(shape) -> int:
    return int(shape[-1]) if len(shape) else 1


def storage_of(entry: dict) -> str:
    """The storage (one of ``STORAGES``) a manifest entry describes; raises WeightError."""
    q = entry.get("quantization")
    if entry.get("dtype") == "float32":
        if q is None:
            return "float32"
        if isinstance(q, dict):
            per, dtype = q.get("per"), q.get("dtype")
            if dtype == "float16" and per is None:
                return "float16"
            if dtype == "uint8" and per is None and all(
                    isinstance(q.get(k), (int, float)) and not isinstance(q.get(k), bool)
                    for k in ("min", "scale")):
                return "uint8"
            if dtype == "uint8" and per == "column":
                return "uint8-column"
    said = {k: entry.get(k) for k in ("dtype", "quantization") if k in entry}
    raise WeightError(f"weight {entry.get('name')} has an unsupported storage "
                      f"{json.dumps(said, sort_keys=True)}")


def byte_size(shape, storage: str) -> int:
    """Bytes a weight of ``shape`` takes in the shards when stored as ``storage``."""
    count = _count(shape)
    if storage == "uint8-column":
        return 8 * _columns(shape) + count
    return count * {"float32": 4, "float16": 2, "uint8": 1}[storage]


def _affine(values: np.ndarray, axis) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(codes, min, scale) of ``values`` over ``axis`` (None: the whole tensor)."""
    lo = values.min(axis=axis).astype(np.float64)
    span = values.max(axis=axis).astype(np.float64) - lo
    lo = lo.astype(np.float32)
    scale = np.where(span > 0, span / LEVELS, 1.0).astype(np.float32)
    codes = np.rint((values.astype(np.float64) - lo.astype(np.float64))
                    / scale.astype(np.float64))
    return np.clip(codes, 0, LEVELS).astype(np.uint8), lo, scale


def encode(values: np.ndarray, storage: str) -> tuple[dict | None, bytes]:
    """The manifest ``quantization`` (None for float32) and the bytes of ``values``."""
    values = np.ascontiguousarray(values, dtype=np.float32)
    if storage == "float32":
        return None, values.astype("<f4").tobytes()
    q = {**_QUANTIZATION[storage], "original_dtype": "float32"}
    if storage == "float16":
        return q, values.astype("<f2").tobytes()
    if storage == "uint8":
        codes, lo, scale = _affine(values, None)
        return {**q, "min": float(lo), "scale": float(scale)}, codes.tobytes()
    table = values.reshape(-1, _columns(values.shape))
    codes, lo, scale = _affine(table, 0)
    return q, lo.astype("<f4").tobytes() + scale.astype("<f4").tobytes() + codes.tobytes()


def dequantise(entry: dict, data: bytes, at: int = 0) -> tuple[np.ndarray, int]:
    """The float32 values of manifest ``entry`` read from ``data`` at byte ``at``,
    and the offset after them; raises WeightError when ``data`` is too short."""
    storage, shape = storage_of(entry), [int(n) for n in entry["shape"]]
    count, columns = _count(shape), _columns(shape)
    end = at + byte_size(shape, storage)
    if end > len(data):
        raise WeightError(f"weight shards hold {len(data)} bytes, too few for {entry['name']}")
    if storage == "float32":
        values = np.frombuffer(data, "<f4", count, at).astype(np.float32)
    elif storage == "float16":
        values = np.frombuffer(data, "<f2", count, at).astype(np.float32)
    elif storage == "uint8":
        q = entry["quantization"]
        codes = np.frombuffer(data, np.uint8, count, at).astype(np.float64)
        values = (codes * float(q["scale"]) + float(q["min"])).astype(np.float32)
    else:
        lo = np.frombuffer(data, "<f4", columns, at).astype(np.float64)
        scale = np.frombuffer(data, "<f4", columns, at + 4 * columns).astype(np.float64)
        codes = np.frombuffer(data, np.uint8, count, at + 8 * columns).astype(np.float64)
        values = (codes.reshape(-1, columns) * scale + lo).astype(np.float32)
    return values.reshape(shape), end


def roundtrip(values: np.ndarray, storage: str) -> np.ndarray:
    """``values`` as a loader reads them back after :func:`encode` as ``storage``."""
    q, data = encode(values, storage)
    entry = {"name": "w", "shape": list(np.shape(values)), "dtype": "float32",
             **({"quantization": q} if q else {})}
    return dequantise(entry, data)[0]


def summary(storage: dict[str, str], shapes: dict[str, tuple]) -> str:
    """``"uint8 + float16"``: the kinds of storage used, most bytes first."""
    used: dict[str, int] = {}
    for name, kind in storage.items():
        kind_name = "uint8" if kind.startswith("uint8") else kind
        used[kind_name] = used.get(kind_name, 0) + byte_size(shapes[name], kind)
    return " + ".join(sorted(used, key=lambda k: -used[k]))


def write(folder: Path, weights: dict[str, np.ndarray], storage: dict[str, str],
          network: dict) -> None:
    """Write ``folder``'s model.json (trainer/nn/network.py: ``network`` and the
    manifest) and its shards: ``weights`` (by name, in shard order) stored as
    ``storage`` says, in one group of shards of at most ``SHARD_BYTES``."""
    folder = Path(folder)
    entries, data = [], []
    for name, values in weights.items():
        q, raw = encode(values, storage[name])
        entries.append({"name": name, "shape": list(np.shape(values)), "dtype": "float32",
                        **({"quantization": q} if q else {})})
        data.append(raw)
    blob = b"".join(data)
    parts = [blob[i:i + SHARD_BYTES] for i in range(0, len(blob), SHARD_BYTES)] or [b""]
    paths = [f"group1-shard{i}of{len(parts)}.bin" for i in range(1, len(parts) + 1)]
    for path, part in zip(paths, parts):
        (folder / path).write_bytes(part)
    model = {"format": MODEL_FORMAT, "network": network,
             "weightsManifest": [{"paths": paths, "weights": entries}]}
    (folder / "model.json").write_text(json.dumps(model))


def vectors() -> dict:
    """Cases for tests/vectors/weights.json: manifest entries, their bytes (hex) and
    the float32 values a loader must read, for every storage."""
    g = np.random.default_rng(5)
    arrays = {
        "ramp": np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4),
        "wide columns": (g.normal(0, 1, (5, 3)) * [1e-3, 1.0, 40.0]).astype(np.float32),
        "constant column": np.array([[0.5, -2.0], [0.5, 3.0], [0.5, 1e-7]], np.float32),
        "bias": g.normal(1, 0.3, 7).astype(np.float32),
        "halves": np.array([65504, -65504, 6.1035156e-05, 5.9604645e-08, -0.0, 0.1, 1 / 3,
                            1e-9, 2.5e4], np.float32),
        "scalar": np.array(-0.75, np.float32),
    }
    cases = []
    for name, values in arrays.items():
        for storage in STORAGES:
            if storage == "uint8-column" and values.ndim < 2:
                continue
            q, raw = encode(values, storage)
            entry = {"name": name, "shape": list(values.shape), "dtype": "float32",
                     **({"quantization": q} if q else {})}
            read, _ = dequantise(entry, raw)
            cases.append({"name": f"{name}, {storage}", "storage": storage, "entry": entry,
                          "hex": raw.hex(), "values": [float(v) for v in read.reshape(-1)]})
    return {"rule": "value = float32(code * scale + min) in float64; see converter/weights.py",
            "cases": cases}
