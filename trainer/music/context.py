"""What the history already determines, read by the network at every step (issue 26).

A token names only the notes that start, so an LSTM fed tokens alone must
remember which notes still sound when it places the next one, and nothing lets
it look back one bar or one phrase (no song of ours repeated a bar; folk tunes
repeat a third of theirs). :class:`Context` follows the tokens as the decoder
does and says, after each one, which of its features are on (the network adds
one learnt row per feature on to the token's embedding):

- **sounding** (:data:`PITCHES` features): each piano key sounding now, held
  from before or placed at this time;
- **lookback** at each of ``lookback`` bars (Magenta's Lookback RNN, stretched
  to phrase length; bars of the meter read last, none before a ``METER`` or
  in ``other`` meter), three groups at the step that many bars ago:
  - the piano keys that started there (:data:`PITCHES`);
  - how many steps after it the next onset came (``max_shift`` features,
    none past that), which a ``SHIFT`` can copy;
  - the duration there of the pitch of a ``NOTE`` read and awaiting its
    ``DUR`` (``max_duration`` features), which that ``DUR`` can copy.

- **repeating** (one feature per lookback distance, where asked for): the
  song is repeating what it played that many bars ago, note for note (Lookback
  RNN's "repeating" flags): the last onset left behind started exactly the
  notes and durations that onset's time that many bars earlier did, no onset
  there was skipped since, and every note placed so far at this time started
  there too. A repeat needs every token of a bar copied; the flag tells the
  network it is inside one (Bach's chorales repeat their first phrases whole,
  and no chorale model of ours brought a bar back without it).

Features are numbered in that order: sounding first, then each lookback's
three groups, then the repeating flags. :func:`song_features` gives a song's at every position (the
training inputs), :class:`Context` step by step (the Stepper);
web/src/mirror/context.js is the browser's twin, held to this one by
tests/vectors/context.json.
"""

from __future__ import annotations

import bisect

import numpy as np

from trainer import constants as C
from trainer.music.codec import Codec

PITCHES = C.PIANO_HIGH - C.PIANO_LOW + 1
LOOKBACK = (1, 2, 4, 8)  # bars


def size(codec: Codec, sounding: bool, lookback, repeating: bool = False) -> int:
    """How many features a Context of these parts has."""
    lookback = tuple(lookback)
    return ((PITCHES if sounding else 0) + len(lookback) * lookback_width(codec)
            + (len(lookback) if repeating else 0))


def lookback_width(codec: Codec) -> int:
    """Features per lookback distance: started pitches, next-onset gap, duration."""
    return PITCHES + codec.config.max_shift + codec.config.max_duration


class Context:
    """``reset()``, then ``advance(token)`` for each token; ``active()`` gives the
    indices of the features on after the tokens read, ascending."""

    def __init__(self, codec: Codec, sounding: bool = True, lookback=LOOKBACK,
                 repeating: bool = False):
        self.codec = codec
        self.sounding = bool(sounding)
        self.lookback = tuple(int(b) for b in lookback)
        self.repeating = bool(repeating) and bool(self.lookback)
        self.size = size(codec, self.sounding, self.lookback, self.repeating)
        self._kinds = {kind: (first, first + count) for kind, (first, count, _)
                       in codec.ranges.items()}
        self.reset()

    def reset(self) -> None:
        self.time = 0
        self.pending: int | None = None  # pitch of a NOTE awaiting its DUR
        self.bar: int | None = None  # steps per bar of the meter read last
        self.held: list[tuple[int, int]] = []  # (end, pitch) of the notes sounding now
        self.onsets: list[int] = []  # distinct start times, ascending
        self.started: dict[int, dict[int, int]] = {}  # time -> {pitch: duration}
        self.repeats = [False] * len(self.lookback)  # the last onset repeated, per distance

    def _is(self, token: int, kind: str) -> bool:
        span = self._kinds.get(kind)
        return span is not None and span[0] <= token < span[1]

    def advance(self, token: int) -> None:
        token, codec = int(token), self.codec
        if self._is(token, "NOTE"):
            self.pending = token - self._kinds["NOTE"][0] + C.PIANO_LOW
        elif self._is(token, "DUR") and self.pending is not None:
            dur = token - self._kinds["DUR"][0] + 1
            self.held.append((self.time + dur, self.pending))
            if not self.onsets or self.onsets[-1] != self.time:
                self.onsets.append(self.time)
            self.started.setdefault(self.time, {})[self.pending] = dur
            self.pending = None
        elif self._is(token, "SHIFT"):
            before = self.time
            self.time += token - self._kinds["SHIFT"][0] + 1
            self.held = [(end, p) for end, p in self.held if end > self.time]
            self.pending = None
            if self.repeating:
                self._left(before)
        elif self._is(token, "METER"):
            self.bar = codec.bar_steps(codec.meter_of(token))
            self.repeats = [False] * len(self.lookback)

    def _left(self, before: int) -> None:
        """Time moved on from ``before``: whether the onset there repeated each distance's
        (where either time had one), and whether an onset that far back was skipped on the
        way."""
        for j, bars in enumerate(self.lookback):
            if not self.bar or before - bars * self.bar < 0:
                self.repeats[j] = False
                continue
            then, now = before - bars * self.bar, self.time - bars * self.bar
            if before in self.started or then in self.started:  # an onset at either
                self.repeats[j] = self.started.get(before) == self.started.get(then)
            i = bisect.bisect_right(self.onsets, then)
            if i < len(self.onsets) and self.onsets[i] < now:  # an onset there skipped here
                self.repeats[j] = False

    def active(self) -> np.ndarray:
        """Indices of the features on now, ascending."""
        out: list[int] = []
        at = 0
        if self.sounding:
            out += sorted({p - C.PIANO_LOW for _, p in self.held})
            at = PITCHES
        shift, duration = self.codec.config.max_shift, self.codec.config.max_duration
        for bars in self.lookback:
            then = self.time - bars * self.bar if self.bar else -1
            if then >= 0:
                started = self.started.get(then, {})
                out += sorted(at + p - C.PIANO_LOW for p in started)
                i = bisect.bisect_right(self.onsets, then)
                if i < len(self.onsets) and self.onsets[i] - then <= shift:
                    out.append(at + PITCHES + self.onsets[i] - then - 1)
                if self.pending is not None and self.pending in started:
                    out.append(at + PITCHES + shift + min(started[self.pending], duration) - 1)
            at += PITCHES + shift + duration
        if self.repeating:
            placed = self.started.get(self.time, {})
            for j, bars in enumerate(self.lookback):
                then = self.started.get(self.time - bars * self.bar, {}) if self.bar else {}
                if self.repeats[j] and all(then.get(p) == d for p, d in placed.items()):
                    out.append(at + j)
        return np.asarray(out, dtype=np.int32)


def song_features(context: Context, tokens) -> np.ndarray:
    """The features on at each position of ``tokens`` (after reading it), packed:
    ``(len(tokens), ceil(size / 8))`` uint8 of :func:`numpy.packbits` rows."""
    context.reset()
    rows = np.zeros((len(tokens), context.size), dtype=bool)
    for i, token in enumerate(tokens):
        context.advance(token)
        rows[i, context.active()] = True
    return np.packbits(rows, axis=1)


def unpack(packed: np.ndarray, features: int) -> np.ndarray:
    """float32 ``(..., features)`` of :func:`song_features` rows."""
    return np.unpackbits(packed, axis=-1, count=features).astype(np.float32)


def transpose(rows: np.ndarray, semitones: int, context: Context) -> np.ndarray:
    """``rows`` (float ``(..., size)``) of ``context``'s features for a song transposed by
    ``semitones``: every block of pitches moved, keys moved off the piano dropped; gaps
    and durations kept."""
    if not semitones:
        return rows
    out = rows.copy()
    first = PITCHES if context.sounding else 0
    starts = ([0] if context.sounding else []) + [
        first + j * lookback_width(context.codec) for j in range(len(context.lookback))]
    for s in starts:
        block = rows[..., s:s + PITCHES]
        moved = np.zeros_like(block)
        if semitones > 0:
            moved[..., semitones:] = block[..., :PITCHES - semitones]
        else:
            moved[..., :PITCHES + semitones] = block[..., -semitones:]
        out[..., s:s + PITCHES] = moved
    return out
