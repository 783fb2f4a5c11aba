"""Read an export folder's weights back into numpy, without TensorFlow.

The weights manifest in ``model.json`` lists each array's name, shape and
storage (float32, or float16 / uint8 quantisation with ``min`` and
``scale``); the shards hold them back to back in that order. The arrays are
returned in the order :class:`trainer.stepper.Stepper` takes, so the numpy
stepper runs exactly the weights the browser runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from trainer.errors import CadenzaError

_BYTES = {"float32": np.float32, "float16": np.float16, "uint8": np.uint8, "int32": np.int32}


def read_weights(folder: Path) -> dict[str, np.ndarray]:
    """``{name: float32 array}`` of every weight in ``folder/model.json``."""
    folder = Path(folder)
    try:
        manifest = json.loads((folder / "model.json").read_text())["weightsManifest"]
    except (OSError, ValueError, KeyError) as e:
        raise CadenzaError(f"{folder}: no readable model.json ({e})") from None
    out = {}
    for group in manifest:
        data = b"".join((folder / p).read_bytes() for p in group["paths"])
        at = 0
        for w in group["weights"]:
            q = w.get("quantization", {})
            dtype = np.dtype(_BYTES[q.get("dtype", w["dtype"])])
            count = int(np.prod(w["shape"], dtype=np.int64))
            raw = np.frombuffer(data, dtype=dtype, count=count, offset=at)
            at += count * dtype.itemsize
            values = raw.astype(np.float32)
            if q.get("dtype") == "uint8":
                values = values * np.float32(q["scale"]) + np.float32(q["min"])
            out[w["name"]] = values.reshape(w["shape"])
        if at != len(data):
            raise CadenzaError(f"{folder}: weight shards hold {len(data)} bytes, "
                               f"the manifest describes {at}")
    return out


def stepper_weights(folder: Path, num_layers: int) -> list[np.ndarray]:
    """The export's weights in Stepper order: embedding, 3 per LSTM, dense."""
    w = read_weights(folder)
    names = ["embedding/embeddings"]
    for i in range(num_layers):
        names += [f"lstm_{i}/lstm_cell/{k}" for k in ("kernel", "recurrent_kernel", "bias")]
    names += ["logits/kernel", "logits/bias"]
    missing = [n for n in names if n not in w]
    if missing:
        raise CadenzaError(f"{folder}: model.json lacks weights {missing}")
    return [w[n] for n in names]
