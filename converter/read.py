"""Read an export folder back into numpy, without TensorFlow, refusing damage.

:func:`read_export` checks what web/src/worker/model.js checks before the browser
samples, with the same reasons: config.json is a Cadenza export of a format
this reads; vocab.json agrees with config.json's codec and vocabulary size;
model.json describes a network this code runs, of config.json's sizes
(trainer/nn/network.py), and has a weights manifest whose shards are exactly
the ones config.json lists; each shard has the listed size and SHA-256; the
weights fill the shards exactly, are all finite, and are exactly the
network's, each of its shape; and, where config.json lists a parity.json, the
weights step its prime to the Keras probabilities it holds, within the
export's KL limit (two entries of one shape swapped pass every other check).

The weights manifest in ``model.json`` is TensorFlow.js's: each entry's
name, shape and storage (float32, float16, or uint8 with a ``min`` and
``scale``), decoded here by TF.js's rules as tfjs-core's ``tf.io.decodeWeights``
decodes them in the browser, and a weight stored per column joined from its
three entries (converter/weights.py describes the bytes and the rules); the
shards hold the entries back to back in manifest order.
:meth:`Export.stepper` runs them in :class:`trainer.compose.stepper.Stepper`,
so the numpy stepper runs exactly the weights the browser runs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from converter import storage as S
from converter.folder import READABLE, TYPE
from converter.weights import WeightError, assemble, decode_entry
from trainer.compose.stepper import Stepper
from trainer.errors import CadenzaError, read_text
from trainer.music.codec import Codec
from trainer.nn import network as N
from trainer.nn.network import NetworkError


@dataclass(frozen=True)
class Export:
    """A verified export folder: its config.json, codec, network (trainer/nn/network.py)
    and weights by name."""

    config: dict
    codec: Codec
    network: dict
    weights: dict[str, np.ndarray]

    def stepper(self) -> Stepper:
        """The numpy Stepper of these weights: what the browser runs."""
        return Stepper(self.weights, self.network, self.codec)


def _json(folder: Path, name: str):
    try:
        return json.loads(read_text((folder / name)))
    except (OSError, ValueError) as e:
        raise CadenzaError(f"{folder}: no readable {name} ({e})") from None


def check_config(folder: Path, config, codec: Codec) -> None:
    """Raise unless ``config`` describes a Cadenza export that ``codec`` agrees with."""
    if not isinstance(config, dict) or config.get("type") != TYPE:
        got = config.get("type") if isinstance(config, dict) else config
        raise CadenzaError(f"{folder}: not a Cadenza model (config.json type is {got!r}, "
                           f"expected {TYPE!r})")
    if config.get("format_version") not in READABLE:
        raise CadenzaError(f"{folder}: model format version {config.get('format_version')} "
                           f"is not supported (this reads versions "
                           f"{' and '.join(map(str, READABLE))})")
    if config.get("vocab_size") != codec.size:
        raise CadenzaError(f"{folder}: vocabulary mismatch: config.json says "
                           f"{config.get('vocab_size')} tokens, vocab.json has {codec.size}")
    params = codec.to_json()["params"]
    wrong = sorted(k for k in set(params) | set(config.get("codec") or {})
                   if (config.get("codec") or {}).get(k) != params.get(k))
    if wrong:
        said = config.get("codec") or {}
        raise CadenzaError(f"{folder}: codec mismatch: vocab.json and config.json disagree on "
                           + ", ".join(f"{k} ({params.get(k)!r} vs {said.get(k)!r})"
                                       for k in wrong))
    shards = config.get("shards")
    if not isinstance(shards, dict) or not shards:
        raise CadenzaError(f"{folder}: config.json lists no weight shards with their sizes "
                           "and SHA-256 (exported by an older converter: export it again)")


def read_shards(folder: Path, manifest, shards: dict) -> list[bytes]:
    """Each weight group's bytes; raises unless every shard is exactly the listed one."""
    if not isinstance(manifest, list) or not manifest:
        raise CadenzaError(f"{folder}: model.json has no weightsManifest (its weights "
                           "would be random)")
    paths = [p for group in manifest for p in group.get("paths", [])]
    if sorted(paths) != sorted(shards):
        raise CadenzaError(f"{folder}: model.json's shards {sorted(paths)} are not the ones "
                           f"config.json lists {sorted(shards)}")
    groups = []
    for group in manifest:
        data = []
        for name in group["paths"]:
            want = shards[name]
            try:
                raw = (folder / name).read_bytes()
            except OSError as e:
                raise CadenzaError(f"{folder}: weight shard {name} is unreadable ({e})") from None
            if len(raw) != want.get("bytes"):
                raise CadenzaError(f"{folder}: weight shard {name} has {len(raw)} bytes, "
                                   f"config.json says {want.get('bytes')}")
            if hashlib.sha256(raw).hexdigest() != want.get("sha256"):
                raise CadenzaError(f"{folder}: weight shard {name} is damaged: its SHA-256 "
                                   "differs from the one in config.json")
            data.append(raw)
        groups.append(b"".join(data))
    return groups


def decode(folder: Path, manifest, groups: list[bytes]) -> dict[str, np.ndarray]:
    """``{name: float32 array}`` of every weight, in manifest order (a weight stored
    per column joined from its three entries); raises unless every entry is one TF.js
    reads, the entries fill the shards exactly and every weight is finite."""
    decoded = {}
    for group, data in zip(manifest, groups):
        at = 0
        for w in group["weights"]:
            try:
                decoded[w["name"]], at = decode_entry(w, data, at)
            except WeightError as e:
                raise CadenzaError(f"{folder}: {e}") from None
        if at != len(data):
            raise CadenzaError(f"{folder}: weight shards hold {len(data)} bytes, "
                               f"the manifest describes {at}")
    try:
        out = assemble(decoded)
    except WeightError as e:
        raise CadenzaError(f"{folder}: {e}") from None
    for name, values in out.items():
        if not np.isfinite(values).all():
            raise CadenzaError(f"{folder}: weight {name} decodes to NaN or infinite "
                               "values: the shard does not hold what model.json describes "
                               "(damaged, or its entries swapped)")
    return out


def manifest_weights(folder: Path) -> dict[str, np.ndarray]:
    """The weights of ``folder``'s model.json from its shards as they are, by name in
    shard order, checked as :func:`decode` checks them but against no config.json
    (the converter reads back what it has just written)."""
    folder = Path(folder)
    manifest = _json(folder, "model.json").get("weightsManifest")
    try:
        groups = [b"".join((folder / p).read_bytes() for p in group["paths"])
                  for group in manifest]
        return decode(folder, manifest, groups)
    except (KeyError, TypeError, OSError) as e:
        raise CadenzaError(f"{folder}: model.json's weights cannot be read ({e!r})") from None


def read_export(folder: Path) -> Export:
    """The export folder ``folder``, verified (see the module docstring)."""
    folder = Path(folder)
    config = _json(folder, "config.json")
    vocab = folder / "vocab.json"
    try:
        codec = Codec.from_json(_json(folder, "vocab.json"))
    except (KeyError, TypeError, AttributeError) as e:
        raise CadenzaError(f"{vocab} is not a complete Cadenza vocabulary "
                           f"({type(e).__name__}: {e})") from None
    except CadenzaError as e:
        raise CadenzaError(f"{vocab}: {e}") from None
    check_config(folder, config, codec)
    model = _json(folder, "model.json")
    model = model if isinstance(model, dict) else {}
    try:
        network = N.check(model.get("network") if config["format_version"] >= 2
                          else N.legacy(config), config, "KEY" in codec.ranges,
                          codec.bar_id is not None)
    except NetworkError as e:
        raise CadenzaError(f"{folder}: {e}") from None
    manifest = model.get("weightsManifest")
    try:
        groups = read_shards(folder, manifest, config["shards"])
        weights = decode(folder, manifest, groups)
    except (KeyError, TypeError) as e:
        raise CadenzaError(f"{folder}: model.json's weightsManifest is malformed ({e!r})") from None
    try:
        N.check_weights(network, weights)
    except NetworkError as e:
        raise CadenzaError(f"{folder}: {e}") from None
    export = Export(config, codec, network, weights)
    if "parity.json" in (config.get("files") or ()):
        check_parity(folder, export, _json(folder, "parity.json"))
    return export


def check_parity(folder: Path, export: Export, parity) -> None:
    """Raise unless the export's Stepper, fed parity.json's prime, gives its Keras
    probabilities within ``MAX_KL`` at every step. JS: web/src/worker/model.js."""
    try:
        prime = [int(t) for t in parity["prime"]]
        expected = np.asarray(parity["probabilities"], dtype=np.float64)
        if expected.shape != (len(prime), export.codec.size) or not all(
                0 <= t < export.codec.size for t in prime):
            raise ValueError("its prime and probabilities do not fit the vocabulary")
    except (KeyError, TypeError, ValueError) as e:
        raise CadenzaError(f"{folder / 'parity.json'} is malformed ({e})") from None
    stepper = export.stepper()
    for i, token in enumerate(prime):
        got = S.softmax(np.asarray(stepper.step(token), dtype=np.float64))
        kl = float(S.kl(expected[i], got))
        if not kl <= S.MAX_KL:
            raise CadenzaError(f"{folder}: the weights do not give the probabilities in "
                               f"parity.json (KL {kl:.3g} at step {i}, the limit is {S.MAX_KL}): "
                               "a weight is damaged, or two entries are swapped")


def weight_digests(folder: Path) -> dict[str, str]:
    """The SHA-256 of each weight of the export ``folder`` as this reader decodes it
    (float32, little-endian, C order), by name: the JS reader must decode the same
    (tests/vectors/shipped_weights.json, build/test-models/decoded.json)."""
    return {name: hashlib.sha256(np.asarray(w, "<f4").tobytes()).hexdigest()
            for name, w in read_export(folder).weights.items()}
