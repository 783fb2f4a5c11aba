"""The Grammar: which token may come next in a song, by the codec's rules. Pure numpy.

Generation (:func:`trainer.compose.sampling.generate`), the harmonizer's
Constraint and the NLL as sampled (:mod:`trainer.evaluation.likelihood`) all
restrict the network's choice to what this allows. It is mirrored by the
``Grammar`` of ``web/src/mirror/codec.js``; the shared vectors in ``tests/vectors/``
hold the two to the same masks.
"""

from __future__ import annotations

import numpy as np

from trainer.music.codec import Codec


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
    :meth:`trainer.music.codec.Codec.encode`):

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
    - ``BAR`` only before the notes of its time step;
    - after :meth:`hold_bar`, no ``EOS`` until a bar more has passed.

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
        self._hold = 0  # steps still to pass before EOS may come (hold_bar)

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
            steps = token_id - self._kind["SHIFT"].start + 1
            self._since += steps
            self._hold = max(0, self._hold - steps)
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
        allowed[self.codec.eos_id] = (self.notes > 0 or self.codec.version < 2) \
            and self._hold == 0
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

    def hold_bar(self) -> None:
        """From here on no ``EOS`` until the rest of this bar and one whole bar more have
        passed (four beats where the meter gives no bar length): a song that continues
        a prime answers it with at least a phrase. JS: ``holdBar``."""
        bar = self._bar if self.codec.bar_id is not None else None
        rest = 0 if bar is None else max(0, bar - self._since)
        self._hold = rest + (bar or 4 * self.codec.config.steps_per_beat)

    def _allow(self, allowed: np.ndarray, kind: str, only: int | None) -> None:
        ids = self._kind[kind]
        if only is None:
            allowed[ids.start:ids.stop] = True
        else:
            allowed[only] = True
