"""How each weight is stored in an export's shards, and how it is read back.

The shards and model.json's ``weightsManifest`` are TensorFlow.js's own
weights format, written by the ``tensorflowjs`` package
(``tensorflowjs.write_weights.write_weights``) and read in the browser by
tfjs-core's ``tf.io.decodeWeights``. Every manifest entry holds only TF.js's
fields: ``name``, ``shape``, ``"dtype": "float32"`` and, when quantised,
``quantization`` with ``dtype``, ``min``, ``scale`` and ``original_dtype``.
Bytes are little-endian, values in C order. A weight is stored as one of::

    storage       manifest entries                                bytes
    float32       W (no quantization)                             4 per value
    float16       W {"dtype": "float16"}                          2 per value (IEEE half)
    uint8         W {"dtype": "uint8", "min": m, "scale": s}      1 code per value
    uint8-column  W/codes {"dtype": "uint8", "min": 0,            1 code per value,
                  "scale": 1}, W/column_min and W/column_scale    then 4 + 4 per column
                  (float32, one value per column)

A uint8 code ``q`` reads as ``float32(q * scale + min)``, the product and sum
taken in float64: TF.js's rule, which ``tensorflowjs`` quantises for (its
range nudged so that 0 is exact). ``uint8-column`` keeps a min and scale per
column (C = ``shape[-1]``, a kernel's output units), in three standard
entries: the codes, written by ``tensorflowjs`` as uint8 over 0..255 (so
``min`` 0 and ``scale`` 1 and every code exact), and the two float32 vectors.
A reader decodes the three by TF.js's rules and then joins them
(:func:`assemble`): ``W[..., j] = float32(codes[..., j] * column_scale[j] +
column_min[j])`` in float64. web/src/mirror/weights.js joins them the same
way after ``tf.io.decodeWeights``, bit for bit (tests/vectors/weights.json
holds both to it).

Per-column codes are chosen here (:func:`_affine`): ``min`` is the column's
smallest value and ``scale`` its range / 255, both rounded to float32 before
the codes are chosen, so a value is off by at most half a step.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
import types
import warnings
from pathlib import Path

import numpy as np

from trainer.errors import CadenzaError
from trainer.nn.network import MODEL_FORMAT

STORAGES = ("float32", "float16", "uint8", "uint8-column")
LEVELS = 255
SHARD_BYTES = 4 * 1024 * 1024  # tfjs-converter's default shard size
COLUMN_PARTS = ("codes", "column_min", "column_scale")  # W/codes, W/column_min, W/column_scale
_TFJS_FIELDS = {"entry": {"name", "shape", "dtype", "quantization"},
                "quantization": {"dtype", "min", "scale", "original_dtype"}}
_BYTES = {"float32": 4, "float16": 2, "uint8": 1}


class WeightError(ValueError):
    """A manifest entry or its bytes that no loader may read."""


def _count(shape) -> int:
    return int(np.prod(shape, dtype=np.int64))


def _columns(shape) -> int:
    return int(shape[-1]) if len(shape) else 1


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def storage_of(entry: dict) -> str:
    """The TF.js storage of one manifest entry: ``float32``, ``float16`` or ``uint8``;
    raises WeightError for anything else, or for fields TF.js does not define."""
    q = entry.get("quantization")
    fields_ok = set(entry) <= _TFJS_FIELDS["entry"] and (
        q is None or (isinstance(q, dict) and set(q) <= _TFJS_FIELDS["quantization"]))
    if fields_ok and entry.get("dtype") == "float32":
        if q is None:
            return "float32"
        if q.get("dtype") == "float16" and "min" not in q and "scale" not in q:
            return "float16"
        if q.get("dtype") == "uint8" and _number(q.get("min")) and _number(q.get("scale")):
            return "uint8"
    said = {k: v for k, v in entry.items() if k not in ("name", "shape")}
    raise WeightError(f"weight {entry.get('name')} has an unsupported storage "
                      f"{json.dumps(said, sort_keys=True)}")


def byte_size(shape, storage: str) -> int:
    """Bytes a weight of ``shape`` takes in the shards when stored as ``storage``
    (for ``uint8-column``, its three entries together)."""
    if storage == "uint8-column":
        return _count(shape) + 8 * _columns(shape)
    return _count(shape) * _BYTES[storage]


def _affine(values: np.ndarray, axis) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(codes, min, scale) of ``values`` over ``axis`` (None: the whole tensor)."""
    lo = values.min(axis=axis).astype(np.float64)
    span = values.max(axis=axis).astype(np.float64) - lo
    lo = lo.astype(np.float32)
    scale = np.where(span > 0, span / LEVELS, 1.0).astype(np.float32)
    codes = np.rint((values.astype(np.float64) - lo.astype(np.float64))
                    / scale.astype(np.float64))
    return np.clip(codes, 0, LEVELS).astype(np.uint8), lo, scale


def entries(name: str, values: np.ndarray, storage: str) -> list[tuple[str, np.ndarray, str | None]]:
    """The manifest entries that store weight ``name`` as ``storage``: each
    ``(entry name, float32 array, TF.js quantization dtype or None)``."""
    values = np.asarray(values, dtype=np.float32, order="C")  # a scalar stays shape []
    if storage == "uint8-column":
        table = values.reshape(-1, _columns(values.shape))
        codes, lo, scale = _affine(table, 0)
        return [(f"{name}/codes", codes.astype(np.float32).reshape(values.shape), "uint8"),
                (f"{name}/column_min", lo, None), (f"{name}/column_scale", scale, None)]
    if storage not in STORAGES:
        raise WeightError(f"weight {name}: unknown storage {storage!r}")
    return [(name, values, None if storage == "float32" else storage)]


def _tfjs(module: str):
    """``tensorflowjs.<module>``, without the package's ``__init__``: that imports its
    converters and with them TF decision forests, tensorflow_hub and pandas (1 to 3 s
    at every converter start, and a welcome banner), none of which the weights writer
    and its quantization use. A bare package module stands in for ``tensorflowjs``, so
    that the module and the siblings it imports (quantization, read_weights) load from
    the installed package's own files."""
    if "tensorflowjs" not in sys.modules:
        spec = importlib.util.find_spec("tensorflowjs")  # finds the package, runs nothing
        if spec is None or not spec.submodule_search_locations:
            raise CadenzaError("the converter needs the tensorflowjs package: run `make setup`")
        package = types.ModuleType("tensorflowjs")
        package.__path__ = list(spec.submodule_search_locations)
        sys.modules["tensorflowjs"] = package
    return importlib.import_module(f"tensorflowjs.{module}")


def _tfjs_quantization():
    """``tensorflowjs.quantization``, the rule its writer quantises by (numpy alone)."""
    return _tfjs("quantization")


def _write_weights():
    """``tensorflowjs.write_weights.write_weights``, imported quietly: it imports
    TensorFlow, which under the JAX backend nothing else has (a second XLA logs its
    start-up), so TensorFlow comes first, its start-up lines filtered."""
    from trainer.nn import backend

    backend.tensorflow()
    with backend.quiet_stderr(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return _tfjs("write_weights").write_weights
        except ImportError as e:
            raise CadenzaError(f"the converter needs the tensorflowjs package ({e}): "
                               "run `make setup`") from None


def _stored(values: np.ndarray, dtype: str | None) -> tuple[dict | None, bytes]:
    """What ``tensorflowjs`` writes for one entry: its quantization and bytes."""
    if dtype is None:
        return None, values.astype("<f4").tobytes()
    data, meta = _tfjs_quantization().quantize_weights(values, np.dtype(dtype).type)
    q = {"dtype": dtype, **{k: float(v) for k, v in meta.items()}, "original_dtype": "float32"}
    return q, data.astype(data.dtype.newbyteorder("<")).tobytes()


def decode_entry(entry: dict, data: bytes, at: int = 0) -> tuple[np.ndarray, int]:
    """The float32 values of manifest ``entry`` read from ``data`` at byte ``at`` by
    TF.js's rules, and the offset after them; raises WeightError when ``data`` is too
    short."""
    storage, shape = storage_of(entry), [int(n) for n in entry["shape"]]
    count = _count(shape)
    end = at + count * _BYTES[storage]
    if end > len(data):
        raise WeightError(f"weight shards hold {len(data)} bytes, too few for {entry['name']}")
    if storage == "float32":
        values = np.frombuffer(data, "<f4", count, at).astype(np.float32)
    elif storage == "float16":
        values = np.frombuffer(data, "<f2", count, at).astype(np.float32)
    else:
        q = entry["quantization"]
        codes = np.frombuffer(data, np.uint8, count, at).astype(np.float64)
        values = (codes * float(q["scale"]) + float(q["min"])).astype(np.float32)
    return values.reshape(shape), end


def assemble(decoded: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The weights by name from the decoded entries (in their order): each
    ``W/codes``, ``W/column_min``, ``W/column_scale`` joined into ``W``; raises
    WeightError where the three are incomplete or do not fit."""
    out: dict[str, np.ndarray] = {}
    parts: dict[str, dict[str, np.ndarray]] = {}
    for name, values in decoded.items():
        base, _, part = name.rpartition("/")
        if part in COLUMN_PARTS and base:
            parts.setdefault(base, {})[part] = values
            if len(parts[base]) == len(COLUMN_PARTS):
                out[base] = _join(base, parts.pop(base))
        else:
            out[name] = values
    for base, got in parts.items():
        raise WeightError(f"weight {base} is stored per column but the manifest lacks "
                          f"{sorted(f'{base}/{p}' for p in set(COLUMN_PARTS) - set(got))}")
    return out


def _join(name: str, p: dict[str, np.ndarray]) -> np.ndarray:
    codes, lo, scale = p["codes"], p["column_min"], p["column_scale"]
    columns = _columns(codes.shape)
    if lo.shape != (columns,) or scale.shape != (columns,):
        raise WeightError(f"weight {name}: its column_min and column_scale have shapes "
                          f"{list(lo.shape)} and {list(scale.shape)}, its codes {columns} "
                          "columns")
    table = codes.reshape(-1, columns).astype(np.float64)
    values = table * scale.astype(np.float64) + lo.astype(np.float64)
    return values.astype(np.float32).reshape(codes.shape)


def encode(name: str, values: np.ndarray, storage: str) -> tuple[list[dict], bytes]:
    """The manifest entries and the bytes that store weight ``name`` as ``storage``,
    as :func:`write` (``tensorflowjs``'s writer) writes them."""
    manifest, raw = [], b""
    for entry, data, dtype in entries(name, values, storage):
        q, part = _stored(data, dtype)
        manifest.append({"name": entry, "shape": list(np.shape(data)), "dtype": "float32",
                         **({"quantization": q} if q else {})})
        raw += part
    return manifest, raw


def roundtrip(values: np.ndarray, storage: str) -> np.ndarray:
    """``values`` as a loader reads them back after writing them as ``storage``."""
    manifest, raw = encode("w", values, storage)
    decoded, at = {}, 0
    for entry in manifest:
        decoded[entry["name"]], at = decode_entry(entry, raw, at)
    return assemble(decoded)["w"]


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
    manifest) and its shards with ``tensorflowjs``'s writer: ``weights`` (by name, in
    shard order) stored as ``storage`` says, in one group of shards of at most
    ``SHARD_BYTES``."""
    folder = Path(folder)
    group, quantize = [], {}
    for name, values in weights.items():
        for entry, data, dtype in entries(name, values, storage[name]):
            group.append({"name": entry, "data": data})
            if dtype:
                quantize.setdefault(dtype, []).append(entry)
    manifest = _write_weights()([group], str(folder), shard_size_bytes=SHARD_BYTES,
                                write_manifest=False, quantization_dtype_map=quantize)
    model = {"format": MODEL_FORMAT, "network": network, "weightsManifest": manifest}
    (folder / "model.json").write_text(json.dumps(model))


def vectors() -> dict:
    """Cases for tests/vectors/weights.json: the manifest entries of one weight, their
    bytes (hex) and the float32 values a loader must read, for every storage."""
    g = np.random.default_rng(5)
    arrays = {
        "ramp": np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4),
        "wide columns": (g.normal(0, 1, (5, 3)) * [1e-3, 1.0, 40.0]).astype(np.float32),
        "constant column": np.array([[0.5, -2.0], [0.5, 3.0], [0.5, 1e-7]], np.float32),
        "positive": np.array([[0.25, 3.5], [1.0, 7.0]], np.float32),  # 0 outside: no nudge
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
            manifest, raw = encode(name, values, storage)
            cases.append({"name": f"{name}, {storage}", "storage": storage, "weight": name,
                          "shape": list(values.shape), "entries": manifest, "hex": raw.hex(),
                          "values": [float(v) for v in
                                     roundtrip(values, storage).reshape(-1)]})
    return {"rule": "TF.js's: value = float32(code * scale + min) in float64; per column: "
                    "W = float32(codes * column_scale + column_min) in float64; see "
                    "converter/weights.py", "cases": cases}
