"""A trained model from a run folder or an exported model folder, ready to compose.

``sample``, ``evaluate`` and ``harmonize``-style commands take either: the
folder ``python -m trainer train`` wrote, or one ``python -m converter`` wrote
(such as ``site/models/chorales``), so someone who has only cloned the
repository can compose with the shipped models. Both give the settings the
model was trained with, its codec, its network (trainer/nn/network.py) and
weights by name, which :class:`trainer.compose.stepper.Stepper` runs, its split (if it has one), the
keys and meters of its training songs (its form head: :func:`trainer.compose.form.of`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainer import constants as C
from trainer.config import RunConfig
from trainer.errors import CadenzaError, read_text, shown
from trainer.music import keys as K
from trainer.music.codec import Codec
from trainer.nn.runs import RunDir


@dataclass
class Loaded:
    """A model to compose with."""

    path: Path
    kind: str  # "run" or "export"
    config: RunConfig
    codec: Codec
    network: dict  # model.json's description (trainer/nn/network.py)
    weights: dict[str, np.ndarray]  # by name (trainer.nn.network.shapes)
    source: str  # the weights file, for messages
    split: dict | None  # train / validation / test song names, if known
    conditioning: dict  # {"keys": {"G:major": 45, ...}, "meters": {"4/4": 313, ...}}


def is_export(path: Path) -> bool:
    try:
        d = json.loads(read_text(Path(path) / "config.json"))
    except (OSError, ValueError):
        return False
    return isinstance(d, dict) and d.get("type") == C.EXPORT_TYPE


def load(path: Path, checkpoint: str = "best") -> Loaded:
    """The model of a run folder (its ``checkpoint``) or of an export folder."""
    path = Path(path)
    RunDir(path).check_folder()
    if is_export(path):
        return _load_export(path)
    run = RunDir(path)
    config, codec = run.config(), run.codec()
    weights_path = run.weights_path(checkpoint)
    from trainer.nn import backend

    backend.configure()
    from trainer.nn.model import inference_network, inference_weights, load_trained

    model = load_trained(run, checkpoint)
    network = inference_network(model, codec, config.model)
    metrics = run.read_json("metrics.json") or {}
    return Loaded(path, "run", config, codec, network, inference_weights(model, network),
                  str(weights_path), run.read_json("split.json"), metrics.get("conditioning") or {})


def _load_export(path: Path) -> Loaded:
    from converter.read import read_export

    export = read_export(path)
    settings = (export.config.get("training") or {}).get("settings")
    if not isinstance(settings, dict):
        raise CadenzaError(f"{shown(path)}: config.json does not say how the model was trained")
    try:
        config = RunConfig.from_dict(settings)
    except (CadenzaError, TypeError, ValueError) as e:
        raise CadenzaError(f"{shown(path)}/config.json: {e}") from None
    split = None
    if (path / "split.json").exists():
        try:
            split = json.loads(read_text((path / "split.json")))
        except (OSError, ValueError) as e:
            raise CadenzaError(f"{shown(path)}/split.json: cannot read it ({e})") from None
    return Loaded(path, "export", config, export.codec, export.network, export.weights,
                  str(path / "model.json"), split, export.config.get("conditioning") or {})


def requests(loaded: Loaded, key: str, meter: str, log=print) -> tuple[int | None, int | None]:
    """The KEY and METER ids that ``--key`` and ``--meter`` ask for (None for ``any``).

    Raises :class:`CadenzaError` naming the valid choices for an unknown
    spelling, or for a request to a v1 model. A key or meter the model never
    saw in training is allowed, with a note saying so.
    """
    key_value, meter_value = K.parse_key(key), K.parse_meter(meter)
    codec = loaded.codec
    if codec.version < 2 and (key_value or meter_value):
        raise CadenzaError(f"{shown(loaded.path)} is a version-1 model: it has no key or "
                           "meter tokens; use --key any --meter any")
    seen_keys = loaded.conditioning.get("keys", {})
    seen_meters = loaded.conditioning.get("meters", {})
    if key_value and seen_keys and K.key_name(key_value) not in seen_keys:
        log(f"note: {K.key_name(key_value)} is unseen: no training song of this model is "
            "in that key")
    if meter_value and seen_meters and K.meter_name(meter_value) not in seen_meters:
        log(f"note: {K.meter_name(meter_value)} is unseen: no training song of this model is "
            "in that meter")
    return (codec.key_id(key_value) if key_value else None,
            codec.meter_id(meter_value) if meter_value else None)


def test_split(loaded: Loaded, split_file: Path | None = None) -> dict:
    """The split whose test songs a model is scored on: ``split_file`` (``--split``),
    else the model's own ``split.json``. CadenzaError if it cannot be read or names
    no test songs."""
    split = loaded.split
    if split_file is not None:
        try:
            split = json.loads(read_text(split_file, "--split"))
        except (OSError, ValueError) as e:
            raise CadenzaError(f"--split {shown(split_file)}: cannot read it ({e})") from None
    if not isinstance(split, dict) or not split.get("test"):
        raise CadenzaError(f"{shown(loaded.path)} has no test split (it was trained before "
                           "the train/validation/test split); give --split with a split.json "
                           "that names test songs it never trained on")
    return split
