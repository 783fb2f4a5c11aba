"""Which storage each weight gets (``--quantize``), and the KL figure that decides it.

The figure, ``next_token_kl``, is measured on two sets of songs: the model
generates ``KL_SONGS`` songs of its own from BOS (the numpy Stepper on the
float32 weights, key table included; seeds 0, 1, ..., temperature 1, no
top-k or top-p, ``KL_TOKENS`` tokens each with BOS, fewer when a song ends at
EOS), and the first ``KL_SONGS`` of the run's test songs, real music it
never trained on, give their first ``KL_TOKENS`` tokens each (a model's own
songs stay where it is sure, and a quantised weight's error shows more on
real ones: the folk model's uint8 export once reached 0.022 on a test song,
within the limit on its own). After every token of every song,
the next-token distributions p (the reference: the Keras model) and q (the
export: the numpy Stepper on the weights exactly as the loaders dequantise
them), both softmax of the logits in float64, give
KL(p || q) = sum p (log p - log q), with p and q clipped at 1e-12 inside the
logs. The export records the largest KL over all those steps (and the mean).

``auto`` starts from float16 everywhere and tries uint8 on one weight at a
time, the largest first (per column for a matrix with more than 8 rows,
per tensor otherwise; only where it saves bytes), keeping each change that
leaves the largest KL below ``MAX_KL``; then it tries per-tensor uint8 for each
per-column matrix (8 bytes a column less), on the same condition. Largest
first spends the KL budget where bytes are: small weights (biases, the
embedding) stay float16 when that is what it takes. The result is
``within_target`` when its shards end at ``TARGET_BYTES`` or less.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from converter.weights import byte_size, roundtrip

KL_SONGS, KL_TOKENS, KL_TEMPERATURE = 32, 128, 1.0
MAX_KL = 0.01  # the largest next-token KL divergence an export may have from Keras
TARGET_BYTES = 1_000_000  # a model download (its weight shards) in the browser
RULES = {"auto": None, "none": "float32", "float16": "float16", "uint8": "uint8",
         "uint8-column": "uint8-column"}  # --quantize -> the storage of every weight


@dataclass(frozen=True)
class Choice:
    """Each weight's storage, the shards' total size, and the KL per measured step."""

    storage: dict[str, str]
    bytes: int
    kl: np.ndarray

    @property
    def max_kl(self) -> float:
        return float(self.kl.max()) if self.kl.size else 0.0


def kl_songs(stepper, codec, generate) -> list[np.ndarray]:
    """The fixed token sequences the KL is measured on (see the module docstring)."""
    songs = []
    for seed in range(KL_SONGS):
        stepper.reset()
        new = generate(stepper.step, codec, [codec.bos_id], 10**6, KL_TEMPERATURE, 0, 1.0,
                       seed=seed, max_tokens=KL_TOKENS - 1)
        songs.append(np.asarray([codec.bos_id, *new.tolist()], dtype=np.int32))
    return songs


def test_songs(codec, songs) -> list[np.ndarray]:
    """The token sequences of the test ``songs`` (corpus Songs) the KL is measured on."""
    return [np.asarray(codec.encode(s.notes, s.meta)[:KL_TOKENS], dtype=np.int32)
            for s in songs[:KL_SONGS]]


def softmax(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    z = np.exp(z - z.max(-1, keepdims=True))
    return z / z.sum(-1, keepdims=True)


def kl(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """KL(p || q) along the last axis, probabilities clipped at 1e-12 in the logs."""
    return (p * (np.log(np.maximum(p, 1e-12)) - np.log(np.maximum(q, 1e-12)))).sum(-1)


def next_token_kl(reference: list[np.ndarray], stepper, songs: list[np.ndarray]) -> np.ndarray:
    """KL(reference || ``stepper``) after every token of every song, concatenated.

    ``reference[i]`` holds the reference probabilities ``(len(songs[i]), vocab)``.
    """
    return np.concatenate([kl(p, softmax(stepper.run(s))) for p, s in zip(reference, songs)])


def kl_record(kls: np.ndarray, songs: list[np.ndarray], reference: str = "keras",
              test: int = 0) -> dict:
    """config.json's ``next_token_kl``: the figures and how they were measured. The
    last ``test`` of ``songs`` are test songs, the others generated."""
    steps = sum(len(s) for s in songs[len(songs) - test:]) if test else 0
    own, real = kls[:kls.size - steps], kls[kls.size - steps:]
    return {"max": float(kls.max()), "mean": float(kls.mean()), "limit": MAX_KL,
            "steps": int(kls.size), "reference": reference,
            "generated": {"max": float(own.max()), "songs": len(songs) - test,
                          "seeds": f"0-{len(songs) - test - 1}",
                          "temperature": KL_TEMPERATURE},
            "test": {"max": float(real.max()) if real.size else None, "songs": test},
            "tokens_per_song": KL_TOKENS,
            "measure": f"max over every step of KL({reference} || export) of the next-token "
                       "distribution, on songs the model generates from BOS and on the "
                       "run's test songs (converter/storage.py)"}


def _candidates(shape) -> tuple[str, ...]:
    if len(shape) >= 2 and np.prod(shape[:-1]) > 8:
        return ("uint8-column",)
    return ("uint8",)


def choose(rule: str, shapes: dict[str, tuple], measure: Callable[[dict[str, str]], np.ndarray]
           ) -> Choice:
    """The storage of each weight under ``rule`` (a key of ``RULES``).

    ``shapes`` names the weights (in shard order); ``measure(storage)`` returns
    the per-step KL of the export with that storage against the reference.
    """
    def size(storage):
        return sum(byte_size(shapes[n], s) for n, s in storage.items())

    if RULES[rule] is not None:  # uint8-column: per tensor for a vector (a bias)
        storage = {n: "uint8" if RULES[rule] == "uint8-column" and len(shapes[n]) < 2
                   else RULES[rule] for n in shapes}
        return Choice(storage, size(storage), measure(storage))
    storage = {n: "float16" for n in shapes}
    kls = measure(storage)
    order = sorted(shapes, key=lambda n: -int(np.prod(shapes[n])))  # stable: shard order on ties
    for name in order:
        for candidate in _candidates(shapes[name]):
            if byte_size(shapes[name], candidate) < byte_size(shapes[name], storage[name]):
                storage, kls = _try(storage, kls, name, candidate, measure)
    for name in order:
        if storage[name] == "uint8-column":
            storage, kls = _try(storage, kls, name, "uint8", measure)
    return Choice(storage, size(storage), kls)


def _try(storage, kls, name, candidate, measure):
    trial = {**storage, name: candidate}
    got = measure(trial)
    return (trial, got) if got.max() < MAX_KL else (storage, kls)


def measurer(weights: dict[str, np.ndarray], reference: list[np.ndarray],
             songs: list[np.ndarray], make_stepper) -> Callable[[dict[str, str]], np.ndarray]:
    """``measure(storage)`` for :func:`choose`: the per-step KL against ``reference``
    of ``make_stepper(weights)`` (a Stepper of the network) running ``weights`` (by
    name) as a loader reads them back from ``storage``. Each stored weight is made
    once."""
    made: dict[tuple[str, str], np.ndarray] = {}

    def stored(name, kind):
        if (name, kind) not in made:
            made[name, kind] = roundtrip(weights[name], kind)
        return made[name, kind]

    def measure(storage):
        stepper = make_stepper({n: stored(n, storage[n]) for n in weights})
        return next_token_kl(reference, stepper, songs)

    return measure
