"""Sampling: logits -> next token, and the generation loop. Pure numpy.

Everything here is mirrored line for line by ``web/src/mirror/sampler.js`` and the
``Grammar`` of ``web/src/mirror/codec.js``; the shared vectors in ``tests/vectors/``
(written by ``scripts/make_vectors.py``) hold the two to the same tokens for the
same seed. Change the semantics here and there together, then regenerate them.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from trainer.compose.form import Bars, ended
from trainer.music.codec import Codec
from trainer.music.grammar import Grammar

_U32 = 0xFFFFFFFF
TOKENS_PER_NOTE = 16  # generate() gives up after max_notes * this many new tokens


class Mulberry32:
    """The mulberry32 PRNG, bit-exact with the JavaScript one-liner.

    ``seed`` is any int, reduced mod 2**32 (so -1 and 2**32 - 1 agree, as in JS).
    """

    def __init__(self, seed: int):
        self.state = int(seed) & _U32

    def random(self) -> float:
        """The next float in [0, 1): a multiple of 2**-32."""
        self.state = a = (self.state + 0x6D2B79F5) & _U32
        t = ((a ^ (a >> 15)) * (1 | a)) & _U32
        t = ((t + (((t ^ (t >> 7)) * (61 | t)) & _U32)) & _U32) ^ t
        return (t ^ (t >> 14)) / 4294967296


def candidates(logits, temperature: float, top_k: int, top_p: float,
               mask=None, keep: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Steps 1-7 of :func:`sample_token`: the kept token ids and their unnormalised p."""
    if temperature < 0 or top_k < 0 or not 0 < top_p <= 1:
        raise ValueError(f"need temperature >= 0, top_k >= 0, 0 < top_p <= 1; got "
                         f"{temperature}, {top_k}, {top_p}")
    z = np.array(logits, dtype=np.float64).reshape(-1)
    if mask is not None:
        mask = np.asarray(mask, dtype=bool).reshape(-1)
        if mask.shape != z.shape:
            raise ValueError(f"mask has {mask.size} entries for {z.size} logits")
        z[~mask] = -np.inf
    if np.isnan(z).any() or (z == np.inf).any() or not (z > -np.inf).any():
        raise ValueError("no allowed token has a finite logit")
    if temperature == 0:
        best = int(np.argmax(z))  # first of equal maxima
        return np.array([best]), np.array([1.0])
    z = z / temperature
    p = np.exp(z - z.max())
    p = p / np.cumsum(p)[-1]  # a left-to-right sum, as in JS
    order = np.argsort(-p, kind="stable")
    order = order[p[order] > 0]
    if top_k > 0:
        order = order[:top_k]
    if top_p < 1:
        kept = p[order]
        reached = np.flatnonzero(np.cumsum(kept / np.cumsum(kept)[-1]) >= top_p)
        if len(reached):
            order = order[:reached[0] + 1]
    if keep is not None and 0 <= keep < len(p) and p[keep] > 0 and keep not in order:
        order = np.r_[order, keep]
    return order, p[order]


def sample_token(logits, temperature: float, top_k: int, top_p: float,
                 rng: Mulberry32, mask=None, keep: int | None = None) -> int:
    """Draw the next token id from ``logits`` (V,). JS: ``sampleToken``.

    1. Logits become float64; where ``mask`` (bool, True = allowed) is False they
       become -inf. No allowed finite logit (or a NaN/+inf one): ValueError.
    2. ``temperature == 0``: the index of the largest allowed logit (lowest
       index on ties); no rng draw.
    3. ``z = logits / temperature``; ``p = exp(z - max(z))``; ``p /= sum(p)``,
       sums taken left to right.
    4. ``order``: ids by ``p`` descending, ties by lower id (stable); ids with
       ``p == 0`` (masked, or underflowed) are dropped.
    5. ``top_k > 0``: keep the first ``top_k`` of ``order``.
    6. ``top_p < 1``: ``q`` = kept ``p`` / their sum; keep the shortest prefix
       whose running sum of ``q`` is ``>= top_p`` (at least one id).
    7. ``keep`` (generation passes ``EOS``) is appended to the kept ids if
       steps 5-6 cut it and its ``p > 0``: where a song ends is the model's
       choice at its own probability, never a tail that truncation removes.
    8. ``u = rng.random()``, ``total`` = sum of kept ``p``; walk the kept ids
       adding their ``p`` and return the first whose running sum ``> u * total``
       (the last kept id if rounding leaves none). Exactly one draw.
    """
    order, p = candidates(logits, temperature, top_k, top_p, mask, keep)
    if temperature == 0:
        return int(order[0])
    running = np.cumsum(p)
    hit = np.flatnonzero(running > rng.random() * running[-1])
    return int(order[hit[0]] if len(hit) else order[-1])


def generate(step: Callable[[int], np.ndarray], codec: Codec, prime, max_notes: int,
             temperature: float, top_k: int, top_p: float, seed: int,
             max_tokens: int | None = None, key: int | None = None,
             meter: int | None = None, constraint=None, form=None) -> np.ndarray:
    """New token ids (``int32``) continuing ``prime``. JS: ``generate``.

    ``step(token_id)`` feeds one token to a model (already reset by the caller)
    and returns the next-token logits (V,). Every ``prime`` token (it must start
    with ``BOS`` and hold no ``EOS``) goes through ``step`` and a
    :class:`Grammar` (``Grammar(codec, key, meter)``: the requested ``KEY`` and
    ``METER`` ids, or None). Then, with ``rng = Mulberry32(seed)``, repeat:
    sample with the grammar's mask and ``keep=EOS``; stop at ``EOS`` (not returned); else append the
    token and advance the grammar; stop once the grammar counts ``max_notes``
    notes (the prime's included) or ``max_tokens`` new tokens (default
    ``TOKENS_PER_NOTE * max_notes``); else feed the token to ``step`` and
    repeat. ``step`` is never called on the last returned token.

    A prime that holds notes is answered with at least a phrase: no ``EOS`` until the
    rest of its last bar and one bar more have passed (:meth:`Grammar.hold_bar`).

    ``constraint`` (a :class:`trainer.compose.harmony.Constraint` or
    :class:`trainer.compose.harmony.VoicingGuard`, or None) is fed
    every token the grammar is, and its ``mask(grammar mask)`` replaces the
    grammar's mask.

    ``form`` (a :class:`trainer.compose.form.FormHead`, or None) chooses at each new
    ``BAR`` whether the bar repeats one before (:meth:`FormHead.choose`, one draw of
    the same ``rng`` where a distance is open); a repeat's tokens are then taken in
    turn instead of sampled, with no draw, until one is masked (then that step samples
    and the repeat ends there). Where it samples, ``form.end`` is added to the ``EOS``
    logit first (:func:`trainer.compose.form.ended`).
    """
    prime = [int(t) for t in prime]
    if not prime or prime[0] != codec.bos_id or codec.eos_id in prime:
        raise ValueError("prime must start with BOS and must not contain EOS")
    max_tokens = TOKENS_PER_NOTE * max_notes if max_tokens is None else max_tokens
    rng, grammar, out = Mulberry32(seed), Grammar(codec, key, meter), []
    bars, again = (Bars(codec) if form is not None else None), []
    for token in prime:
        grammar.advance(token)
        if constraint is not None:
            constraint.advance(token)
        if bars is not None:
            bars.advance(token)
        logits = step(token)
    if grammar.notes:  # an answer to a prime: at least a bar more (Grammar.hold_bar)
        grammar.hold_bar()
    while grammar.notes < max_notes and len(out) < max_tokens:
        if out:  # not fed after the last token: nothing would read its logits
            logits = step(out[-1])
        mask = grammar.mask() if constraint is None else constraint.mask(grammar.mask())
        if again and mask[again[0]]:
            token = again.pop(0)
        else:
            again = []
            if form is not None and form.end:
                logits = ended(logits, codec.eos_id, form.end)
            token = sample_token(logits, temperature, top_k, top_p, rng, mask,
                                 keep=codec.eos_id)
            if token == codec.eos_id:
                break
        out.append(token)
        grammar.advance(token)
        if constraint is not None:
            constraint.advance(token)
        if bars is not None:
            bars.advance(token)
            if token == codec.bar_id:
                again = form.choose(bars, rng)
    return np.asarray(out, dtype=np.int32)
