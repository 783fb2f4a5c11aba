"""How likely a model finds a song: NLL per token and per note, top-1 hits, by position.

From a song's logits (the Stepper's, after each prefix, from BOS as generation
runs). With a codec, each step is first restricted to what the Grammar allows
there and renormalised: the NLL "as sampled".
"""

from __future__ import annotations

import math

import numpy as np

from trainer.compose.stepper import Stepper
from trainer.music.codec import Codec
from trainer.music.grammar import Grammar

BUCKETS = ((0, 256), (256, 512), (512, 1024), (1024, None))  # song positions of by_position


def song_predictions(stepper: Stepper, song: np.ndarray,
                     codec: Codec | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-target NLL (nats) and top-1 hits of one whole song, from BOS, as generation runs.

    With ``codec``, each step's distribution is first restricted to the tokens
    the :class:`trainer.music.grammar.Grammar` allows there (free key and meter) and
    renormalised: the probability with which sampling at T = 1 composes exactly
    this song. A token the codec determines (a ``BAR`` at its bar line, the
    ``DUR`` after a ``NOTE``) then costs nothing, in any token language.
    """
    return predictions(stepper.run(song[:-1]), song, codec)


def predictions(logits: np.ndarray, song: np.ndarray,
                codec: Codec | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`song_predictions` from the logits after each of ``song[:-1]``."""
    logits = np.asarray(logits, dtype=np.float64)
    target = song[1:]
    if codec is not None:
        logits = np.where(grammar_masks(codec, song), logits, -np.inf)
    logp = logits - logits.max(-1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(-1, keepdims=True))
    nll = -logp[np.arange(len(target)), target]
    if not np.isfinite(nll).all():
        at = int(np.flatnonzero(~np.isfinite(nll))[0])
        raise ValueError(f"token {at + 1} ({codec.tokens[int(target[at])]}) breaks the grammar")
    return nll, logits.argmax(-1) == target


def grammar_masks(codec: Codec, song: np.ndarray) -> np.ndarray:
    """``(len(song) - 1, vocab)`` bool: what the Grammar allows after each prefix of ``song``."""
    grammar, rows = Grammar(codec), []
    for token in song[:-1]:
        grammar.advance(int(token))
        rows.append(grammar.mask())
    return np.array(rows).reshape(len(rows), codec.size)


def score(nll, hits, notes: int) -> dict:
    total = float(sum(n.sum() for n in nll))
    count = sum(len(n) for n in nll)
    mean = total / count
    return {"nll": mean, "perplexity": math.exp(mean),
            "accuracy": float(sum(h.sum() for h in hits) / count),
            "nll_per_note": total / max(notes, 1)}


def by_position(nll) -> list[dict]:
    """Mean NLL per token of targets at song positions in each of :data:`BUCKETS`."""
    out = []
    for low, high in BUCKETS:
        parts = [n[low:high] for n in nll]
        count = sum(len(p) for p in parts)
        out.append({"from": low, "to": high, "targets": count,
                    "nll": float(sum(p.sum() for p in parts) / count) if count else None})
    return out
