"""Requantize shipped float16 export folders to uint8 where it costs next to nothing.

    .venv/bin/python scripts/requantize_uint8.py [--models site/models] [--songs 40]
        [--tokens 512] [--max-kl 0.01] [--dry-run]

For each export folder under --models whose weights are float16 (the training
runs are not in the repository, so the float16 weights are the float model):

1. quantize every weight to uint8 the way TensorFlow.js does (affine: min and
   scale per tensor, the range nudged so that 0 is exact; value = min + q * scale),
   but those matching --keep (default: output layer, embedding, biases), which
   stay float16 (a tfjs manifest quantizes each weight on its own);
2. measure the next-token KL divergence KL(float16 model || uint8 model) at
   every step of --songs real songs of the model's training corpus (the last
   songs of the built-in corpus, up to --tokens tokens each), with the numpy
   stepper of trainer/stepper.py;
3. if the largest KL stays below --max-kl, rewrite the folder: the shard,
   model.json's manifest, and config.json (quantization, weights_bytes, shards
   with their size and SHA-256, parity against the Keras probabilities of
   parity.json, and a "requantized" record of this measurement); parity.json's
   quantization label follows. Otherwise the folder stays float16.

Prints one line per model with both sizes and the KL figures. The examples
depend on the weights: run ``make examples`` afterwards.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from fnmatch import fnmatch
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from converter.folder import shard_records  # noqa: E402
from converter.read import read_export, stepper_weights  # noqa: E402
from trainer.config import DataConfig  # noqa: E402
from trainer.corpus import prepare  # noqa: E402
from trainer.stepper import Stepper  # noqa: E402

LEVELS = 255
# Weights that stay float16 by default: the small ones that touch the logits
# most directly (the output layer, the embedding, every bias): 6% of the
# parameters, and most of uint8's largest KL steps.
KEEP = ("logits/*", "embedding/*", "*/bias")


def quantize(values: np.ndarray) -> tuple[np.ndarray, float, float]:
    """(uint8 codes, min, scale) of a float tensor, as tfjs-converter's affine uint8."""
    lo, hi = float(min(values.min(), 0.0)), float(max(values.max(), 0.0))
    scale = (hi - lo) / LEVELS if hi > lo else 1.0
    zero = round(-lo / scale)  # nudge the range so that 0 is a code
    lo = -zero * scale
    codes = np.clip(np.round((values - lo) / scale), 0, LEVELS).astype(np.uint8)
    return codes, lo, scale


def softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max(-1, keepdims=True))
    return z / z.sum(-1, keepdims=True)


def kl(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """KL(p || q) per row."""
    return (p * (np.log(np.maximum(p, 1e-12)) - np.log(np.maximum(q, 1e-12)))).sum(-1)


def kept(name: str, keep: list[str]) -> bool:
    return any(fnmatch(name, pattern) for pattern in keep)


def write_uint8(folder: Path, out: Path, keep: list[str]) -> None:
    """A copy of export folder `folder` in `out` with every weight as uint8 but those
    matching a `keep` pattern, which stay float16."""
    shutil.copytree(folder, out)
    model = json.loads((folder / "model.json").read_text())
    weights = read_export(folder).weights
    [group] = model["weightsManifest"]
    data = []
    for w in group["weights"]:
        if kept(w["name"], keep):
            w["quantization"] = {"dtype": "float16", "original_dtype": "float32"}
            data.append(weights[w["name"]].astype(np.float16).tobytes())
            continue
        codes, lo, scale = quantize(weights[w["name"]].astype(np.float32))
        w["quantization"] = {"dtype": "uint8", "min": lo, "scale": scale,
                             "original_dtype": "float32"}
        data.append(codes.tobytes())
    [shard] = group["paths"]
    (out / shard).write_bytes(b"".join(data))
    (out / "model.json").write_text(json.dumps(model))
    config = json.loads((folder / "config.json").read_text())
    config["shards"] = shard_records(out)
    config["weights_bytes"] = sum(s["bytes"] for s in config["shards"].values())
    (out / "config.json").write_text(json.dumps(config, indent=1) + "\n")


def real_songs(config: dict, codec, songs: int, tokens: int) -> list[np.ndarray]:
    """Token ids of the last `songs` songs of the model's built-in corpus."""
    corpus = config["training"]["settings"]["data"]["corpus"]
    found = prepare(DataConfig(corpus=corpus), codec, log=lambda line: None)
    return [t[:tokens] for t in found.tokens(codec)[-songs:]]


def next_token_kl(float_w, uint8_w, songs) -> np.ndarray:
    """KL(float || uint8) of the next-token distribution at every step of every song."""
    a, b = Stepper(float_w), Stepper(uint8_w)
    return np.concatenate([kl(softmax(a.run(s).astype(np.float64)),
                              softmax(b.run(s).astype(np.float64))) for s in songs])


def requantize(folder: Path, args) -> str:
    config = json.loads((folder / "config.json").read_text())
    if config.get("quantization") != "float16":
        return f"{folder.name}: {config.get('quantization')} weights, left as they are"
    export = read_export(folder)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / folder.name
        write_uint8(folder, out, args.keep)
        layers = config["model"]["num_layers"]
        float_w, uint8_w = stepper_weights(folder, layers), stepper_weights(out, layers)
        songs = real_songs(config, export.codec, args.songs, args.tokens)
        kls = next_token_kl(float_w, uint8_w, songs)
        parity = json.loads((folder / "parity.json").read_text())
        keras = np.asarray(parity["probabilities"])
        p = softmax(Stepper(uint8_w).run(parity["prime"]).astype(np.float64))
        new = json.loads((out / "config.json").read_text())
        figures = (f"{folder.name}: float16 {config['weights_bytes']:,} B -> uint8 "
                   f"{new['weights_bytes']:,} B; next-token KL(float16 || uint8) over "
                   f"{len(kls):,} steps of {len(songs)} "
                   f"{config['training']['settings']['data']['corpus']} "
                   f"songs: mean {kls.mean():.2e}, 99.9th percentile "
                   f"{np.quantile(kls, 0.999):.2e}, max {kls.max():.2e}")
        if kls.max() >= args.max_kl:
            return f"{figures}; max >= {args.max_kl}: kept float16"
        if args.dry_run:
            return f"{figures}; dry run, not written"
        new["quantization"] = (f"uint8 (float16: {', '.join(args.keep)})" if args.keep
                               else "uint8")
        new["parity"] = {"steps": len(parity["prime"]),
                         "max_abs_diff": float(np.abs(p - keras).max()),
                         "max_kl": float(kl(keras, p).max())}
        new["requantized"] = {"from": "float16", "by": "scripts/requantize_uint8.py",
                              "kept_float16": args.keep, "songs": len(songs),
                              "steps": int(len(kls)),
                              "mean_kl": float(kls.mean()), "max_kl": float(kls.max())}
        (out / "config.json").write_text(json.dumps(new, indent=1) + "\n")
        parity["quantization"] = "uint8"
        (out / "parity.json").write_text(json.dumps(parity))
        for name in ("config.json", "model.json", "parity.json", *new["shards"]):
            shutil.copyfile(out / name, folder / name)
        read_export(folder)  # the folder verifies as written
        return f"{figures}; written (parity max KL to Keras {new['parity']['max_kl']:.2e})"


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", type=Path, default=ROOT / "site" / "models")
    p.add_argument("--songs", type=int, default=40)
    p.add_argument("--tokens", type=int, default=512)
    p.add_argument("--max-kl", type=float, default=0.01)
    p.add_argument("--keep", nargs="*", default=list(KEEP),
                   help="weight-name patterns that stay float16 (default: %(default)s)")
    p.add_argument("--dry-run", action="store_true")
    args = p.parse_args(argv)
    for folder in sorted(f.parent for f in args.models.glob("*/config.json")):
        print(requantize(folder, args), flush=True)


if __name__ == "__main__":
    main()
