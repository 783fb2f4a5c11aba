"""Sampling: logits -> next token, and the generation loop. Pure numpy.

Everything here is mirrored line for line by ``web/src/sampler.js`` and the
``Grammar`` of ``web/src/codec.js``; the shared vectors in ``tests/vectors/``
(written by ``scripts/make_vectors.py``) hold the two to the same tokens for the
same seed. Change the semantics here and there together, then regenerate them.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from trainer.codec import Codec

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


class Grammar:
    """Which token may come next in a song being generated. JS: ``Grammar``.

    Fed every token with :meth:`advance`; :meth:`mask` is True for allowed ids.
    For every codec:

    - ``PAD`` and ``BOS`` never;
    - right after a ``NOTE``: only ``DUR`` tokens;
    - otherwise: no ``DUR``; ``EOS`` (in v2 only once a note is complete); ``NOTE_q`` only if ``q`` is below
      every pitch completed since the last time step (notes of an onset come
      high to low); with a ``mono`` codec, no second note per onset.

    Version 1: ``SHIFT`` always. Version 2 (the order of
    :meth:`trainer.codec.Codec.encode`):

    - after ``BOS`` only a ``KEY`` (``key``, if given), then only a ``METER``
      (``meter``, if given); neither anywhere else, except that a ``METER``
      other than the current one may follow a ``BAR`` when no ``meter`` was
      requested (a meter change);
    - no ``SHIFT`` or ``EOS`` before the first note (a song starts with a note,
      and has one);
    - under a meter with a token of its own and ``bar`` steps per bar: the
      first ``BAR`` may come at any time up to ``bar`` steps (a pickup before
      it), each later one exactly ``bar`` steps after the one before; no
      ``SHIFT`` goes past the next bar line; once there, only ``BAR`` or
      ``EOS``. Under ``METER_other``, ``BAR`` at any later time and ``SHIFT``
      of any length;
    - ``BAR`` only before the notes of its time step.

    ``advance`` accepts any id in the vocabulary and follows ``Codec.decode``:
    a ``NOTE`` replaces a pending one, a ``DUR`` with none pending and the
    special tokens change nothing, a ``SHIFT`` drops a pending ``NOTE``;
    ``KEY``, ``METER`` and ``BAR`` change no note. ``notes`` counts completed
    notes (``DUR`` after ``NOTE``).
    """

    def __init__(self, codec: Codec, key: int | None = None, meter: int | None = None):
        self.codec = codec
        self.notes = 0
        self.key, self.meter = key, meter  # requested KEY / METER ids, or None
        self._pending: int | None = None  # pitch of a NOTE awaiting its DUR
        self._low: int | None = None  # lowest pitch completed since the last SHIFT
        self._kind = {kind: range(first, first + count)
                      for kind, (first, count, _) in codec.ranges.items()}
        self._header = 2 if codec.version >= 2 else 0  # KEY and METER still to come
        self._bar: int | None = None  # steps per bar of the current meter; None: free
        self._since = 0  # steps since the last bar line (since the start before the first)
        self._barred = False  # a BAR has come
        self._after_bar = False  # the last token was a BAR
        self._current_meter: int | None = None

    def advance(self, token_id: int) -> None:
        """Move past ``token_id``; ValueError for ids outside the vocabulary."""
        token_id = int(token_id)
        if not 0 <= token_id < self.codec.size:
            raise ValueError(f"token id {token_id} is outside the vocabulary "
                             f"(0..{self.codec.size - 1})")
        note_first, _, low_pitch = self.codec.ranges["NOTE"]
        self._after_bar = False
        if token_id in self._kind["NOTE"]:
            self._pending = token_id - note_first + low_pitch
        elif token_id in self._kind["DUR"] and self._pending is not None:
            self._low, self._pending = self._pending, None
            self.notes += 1
        elif token_id in self._kind["SHIFT"]:
            self._pending = self._low = None
            self._since += token_id - self._kind["SHIFT"].start + 1
        elif token_id in self._kind.get("KEY", ()):
            self._header = min(self._header, 1)
        elif token_id in self._kind.get("METER", ()):
            self._header = 0
            self._current_meter = token_id
            self._bar = self.codec.bar_steps(self.codec.meter_of(token_id))
        elif token_id == self.codec.bar_id:
            self._since, self._barred, self._after_bar = 0, True, True

    def mask(self) -> np.ndarray:
        """Bool array (vocabulary size): True where the next token may be that id."""
        allowed = np.zeros(self.codec.size, dtype=bool)
        if self._pending is not None:
            allowed[self._kind["DUR"].start:self._kind["DUR"].stop] = True
            return allowed
        if self._header == 2:
            self._allow(allowed, "KEY", self.key)
            return allowed
        if self._header == 1:
            self._allow(allowed, "METER", self.meter)
            return allowed
        allowed[self.codec.eos_id] = self.notes > 0 or self.codec.version < 2
        bar_id, bar = self.codec.bar_id, self._bar if self.codec.bar_id is not None else None
        if bar is not None and self._since >= bar:  # at the bar line: it must come first
            allowed[bar_id] = True
            return allowed
        if bar_id is not None and self._low is None and not self._after_bar \
                and (not self._barred or (bar is None and self._since > 0)):
            allowed[bar_id] = True  # the first bar line (after a pickup), or any under "other"
        if self._after_bar and self.meter is None and "METER" in self._kind:
            self._allow(allowed, "METER", None)
            allowed[self._current_meter] = False
        if self.notes > 0 or self.codec.version < 2:
            shifts = self._kind["SHIFT"]
            room = len(shifts) if bar is None else min(len(shifts), bar - self._since)
            allowed[shifts.start:shifts.start + room] = True
        note_first, _, low_pitch = self.codec.ranges["NOTE"]
        if self._low is None:
            allowed[self._kind["NOTE"].start:self._kind["NOTE"].stop] = True
        elif not self.codec.config.mono:
            allowed[note_first:note_first + self._low - low_pitch] = True
        return allowed

    def _allow(self, allowed: np.ndarray, kind: str, only: int | None) -> None:
        ids = self._kind[kind]
        if only is None:
            allowed[ids.start:ids.stop] = True
        else:
            allowed[only] = True


def generate(step: Callable[[int], np.ndarray], codec: Codec, prime, max_notes: int,
             temperature: float, top_k: int, top_p: float, seed: int,
             max_tokens: int | None = None, key: int | None = None,
             meter: int | None = None, constraint=None) -> np.ndarray:
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

    ``constraint`` (a :class:`trainer.harmony.Constraint`, or None) is fed
    every token the grammar is, and its ``mask(grammar mask)`` replaces the
    grammar's mask.
    """
    prime = [int(t) for t in prime]
    if not prime or prime[0] != codec.bos_id or codec.eos_id in prime:
        raise ValueError("prime must start with BOS and must not contain EOS")
    max_tokens = TOKENS_PER_NOTE * max_notes if max_tokens is None else max_tokens
    rng, grammar, out = Mulberry32(seed), Grammar(codec, key, meter), []
    for token in prime:
        grammar.advance(token)
        if constraint is not None:
            constraint.advance(token)
        logits = step(token)
    while grammar.notes < max_notes and len(out) < max_tokens:
        if out:  # not fed after the last token: nothing would read its logits
            logits = step(out[-1])
        mask = grammar.mask() if constraint is None else constraint.mask(grammar.mask())
        token = sample_token(logits, temperature, top_k, top_p, rng, mask, keep=codec.eos_id)
        if token == codec.eos_id:
            break
        out.append(token)
        grammar.advance(token)
        if constraint is not None:
            constraint.advance(token)
    return np.asarray(out, dtype=np.int32)
