"""The token representation: notes <-> token ids. The single source of truth.

Notes are an ``int32`` array of shape ``(n, 3)`` with columns ``START``,
``DUR`` and ``PITCH``: onset and duration in grid steps (``steps_per_beat``
steps per quarter-note beat) and the MIDI pitch. *Normalised* notes are sorted
by onset, then pitch from high to low, and hold no duplicate (onset, pitch) and
no two overlapping notes of one pitch.

A song is ``BOS``, then for each onset its notes from high to low as
``NOTE_p DUR_k``, then ``SHIFT_k`` tokens up to the next onset (gaps longer than
``max_shift`` use several), ..., then ``EOS``. For normalised notes
``decode(encode(notes)) == notes``, and ``decode`` accepts any id sequence.

The vocabulary and every parameter travel as ``vocab.json`` (:meth:`to_json`);
the browser's codec reads the same file.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from trainer import constants as C
from trainer.config import CodecConfig
from trainer.errors import CadenzaError

START, DUR, PITCH = 0, 1, 2
KINDS = ("NOTE", "DUR", "SHIFT")


def empty_notes() -> np.ndarray:
    return np.zeros((0, 3), dtype=np.int32)


class Codec:
    """Maps normalised notes to token ids and any token ids back to notes."""

    def __init__(self, config: CodecConfig = CodecConfig()):
        self.config = config
        self.pad_id, self.bos_id, self.eos_id = range(len(C.SPECIAL_TOKENS))
        counts = {"NOTE": C.PIANO_HIGH - C.PIANO_LOW + 1,
                  "DUR": config.max_duration, "SHIFT": config.max_shift}
        first_values = {"NOTE": C.PIANO_LOW, "DUR": 1, "SHIFT": 1}
        self.ranges: dict[str, tuple[int, int, int]] = {}  # kind -> (first id, count, first value)
        next_id = len(C.SPECIAL_TOKENS)
        for kind in KINDS:
            self.ranges[kind] = (next_id, counts[kind], first_values[kind])
            next_id += counts[kind]
        self.size = next_id
        self.tokens = list(C.SPECIAL_TOKENS) + [
            f"{kind}_{first_value + i}"
            for kind in KINDS
            for (_, count, first_value) in [self.ranges[kind]]
            for i in range(count)
        ]
        # Lookup tables: kind index (-1 special, 0 NOTE, 1 DUR, 2 SHIFT) and value per id.
        self._kind = np.full(self.size, -1, dtype=np.int8)
        self._value = np.zeros(self.size, dtype=np.int32)
        for k, kind in enumerate(KINDS):
            first, count, first_value = self.ranges[kind]
            self._kind[first:first + count] = k
            self._value[first:first + count] = np.arange(count) + first_value

    # --- single ids ---------------------------------------------------------
    def token_id(self, kind: str, value: int) -> int:
        """The id of ``NOTE_value``, ``DUR_value`` or ``SHIFT_value``."""
        first, count, first_value = self.ranges[kind]
        if not first_value <= value < first_value + count:
            raise ValueError(f"{kind}_{value} is outside the vocabulary "
                             f"({kind}_{first_value}..{kind}_{first_value + count - 1})")
        return first + value - first_value

    def describe(self, token_id: int) -> str:
        """The token's name, e.g. ``NOTE_60``; ``?<id>`` for ids outside the vocabulary."""
        return self.tokens[token_id] if 0 <= token_id < self.size else f"?{token_id}"

    # --- notes ----------------------------------------------------------------
    def quantise(self, raw: np.ndarray) -> np.ndarray:
        """Snap raw notes to the grid and normalise them.

        ``raw`` is a float array ``(n, 3)``: onset and end in beats, MIDI pitch.
        Onsets and ends round to the nearest step (halves up); a duration is the
        distance between them, at least 1 and at most ``max_duration`` steps.
        Pitches outside A0..C8 are dropped and leading silence is removed in
        whole beats, so the beat grid stays where it was.
        """
        raw = np.asarray(raw, dtype=np.float64).reshape(-1, 3)
        spb = self.config.steps_per_beat
        start = np.floor(raw[:, 0] * spb + 0.5)
        end = np.floor(raw[:, 1] * spb + 0.5)
        pitch = np.round(raw[:, 2])
        keep = (pitch >= C.PIANO_LOW) & (pitch <= C.PIANO_HIGH) & (start >= 0)
        start, end, pitch = start[keep], end[keep], pitch[keep]
        dur = np.clip(end - start, 1, self.config.max_duration)
        if len(start):
            start -= (start.min() // spb) * spb
        notes = np.stack([start, dur, pitch], axis=1).astype(np.int32)
        return normalise(notes, self.config.mono)

    def encode(self, notes: np.ndarray) -> np.ndarray:
        """Token ids (``int32``) of normalised notes, from ``BOS`` to ``EOS``.

        Raises ValueError for a note the vocabulary cannot express (negative
        onset, duration outside 1..max_duration, pitch off the piano).
        """
        notes = np.asarray(notes, dtype=np.int64).reshape(-1, 3)
        bad = ((notes[:, START] < 0) | (notes[:, DUR] < 1)
               | (notes[:, DUR] > self.config.max_duration)
               | (notes[:, PITCH] < C.PIANO_LOW) | (notes[:, PITCH] > C.PIANO_HIGH))
        if bad.any():
            raise ValueError(f"note {notes[bad][0].tolist()} (start, duration, pitch) is "
                             "outside the vocabulary; quantise it first")
        ids = [self.bos_id]
        time = 0
        note_first = self.ranges["NOTE"][0] - C.PIANO_LOW
        dur_first = self.ranges["DUR"][0] - 1
        for start, dur, pitch in notes:
            ids.extend(self.shifts(start - time))
            time = start
            ids.append(note_first + pitch)
            ids.append(dur_first + dur)
        ids.append(self.eos_id)
        return np.asarray(ids, dtype=np.int32)

    def shifts(self, gap: int) -> list[int]:
        """``SHIFT`` ids that advance time by ``gap`` steps (none for ``gap <= 0``)."""
        max_shift = self.config.max_shift
        full, rest = divmod(int(max(gap, 0)), max_shift)
        out = [self.token_id("SHIFT", max_shift)] * full
        return out + ([self.token_id("SHIFT", rest)] if rest else [])

    def decode(self, ids) -> np.ndarray:
        """Normalised notes of any id sequence; never raises on content.

        ``NOTE_p DUR_k`` makes a note at the current time; ``SHIFT_k`` advances
        time. A ``NOTE`` without its ``DUR`` and a ``DUR`` without its ``NOTE``
        are skipped, as are ``PAD``, ``BOS`` and ids outside the vocabulary.
        Decoding stops at ``EOS``.
        """
        notes = []
        time, pending = 0, None
        kinds, values = self._kind, self._value
        for token in np.asarray(ids, dtype=np.int64).reshape(-1):
            if not 0 <= token < self.size:
                continue
            if token == self.eos_id:
                break
            kind = kinds[token]
            if kind == 0:
                pending = values[token]
            elif kind == 1:
                if pending is not None:
                    notes.append((time, values[token], pending))
                pending = None
            elif kind == 2:
                time += values[token]
                pending = None
        if not notes:
            return empty_notes()
        return normalise(np.asarray(notes, dtype=np.int32), self.config.mono)

    # --- arrays of ids (training-time helpers) --------------------------------
    def pitch_of(self, ids: np.ndarray) -> np.ndarray:
        """Pitch of each ``NOTE`` id, -1 for every other id."""
        ids = np.asarray(ids)
        is_note = self._kind[np.clip(ids, 0, self.size - 1)] == 0
        return np.where(is_note & (ids >= 0) & (ids < self.size),
                        self._value[np.clip(ids, 0, self.size - 1)], -1)

    def transpose_range(self, ids: np.ndarray) -> tuple[int, int]:
        """The (lowest, highest) semitone shift that keeps every note on the piano."""
        pitches = self.pitch_of(ids)
        pitches = pitches[pitches >= 0]
        if len(pitches) == 0:
            return (C.PIANO_LOW - C.PIANO_HIGH, C.PIANO_HIGH - C.PIANO_LOW)
        return (C.PIANO_LOW - int(pitches.min()), C.PIANO_HIGH - int(pitches.max()))

    def transpose(self, ids: np.ndarray, semitones: int) -> np.ndarray:
        """``ids`` with every ``NOTE`` moved by ``semitones``; raises if one leaves the piano."""
        low, high = self.transpose_range(ids)
        if not low <= semitones <= high:
            raise ValueError(f"transposing by {semitones} leaves the piano range "
                             f"(allowed {low}..{high})")
        ids = np.array(ids, copy=True)
        ids[self.pitch_of(ids) >= 0] += semitones
        return ids

    # --- vocab.json ------------------------------------------------------------
    def to_json(self) -> dict:
        """Everything the browser (or a later run) needs to rebuild this codec."""
        return {
            "format": C.VOCAB_FORMAT,
            "version": C.VOCAB_VERSION,
            "size": self.size,
            "params": {
                "steps_per_beat": self.config.steps_per_beat,
                "max_duration": self.config.max_duration,
                "max_shift": self.config.max_shift,
                "mono": self.config.mono,
                "min_pitch": C.PIANO_LOW,
                "max_pitch": C.PIANO_HIGH,
            },
            "special": {"PAD": self.pad_id, "BOS": self.bos_id, "EOS": self.eos_id},
            "ranges": {kind: {"first_id": first, "count": count, "first_value": fv}
                       for kind, (first, count, fv) in self.ranges.items()},
            "tokens": self.tokens,
        }

    @classmethod
    def from_json(cls, d: dict) -> Codec:
        """Rebuild a codec from :meth:`to_json` output, refusing other formats."""
        d = d if isinstance(d, dict) else {}
        if d.get("format") != C.VOCAB_FORMAT or d.get("version") != C.VOCAB_VERSION:
            raise CadenzaError(f"not a {C.VOCAB_FORMAT} v{C.VOCAB_VERSION} vocabulary "
                               f"(format {d.get('format')!r}, version {d.get('version')!r})")
        p, names = d.get("params"), [f.name for f in dataclasses.fields(CodecConfig)]
        if not isinstance(p, dict) or any(k not in p for k in names):
            raise CadenzaError(f"the vocabulary's params lack {', '.join(names)}; "
                               "it was edited or written by another version")
        try:
            codec = cls(CodecConfig(**{k: p[k] for k in names}))
        except (CadenzaError, TypeError) as e:
            raise CadenzaError(f"the vocabulary's params are unusable ({e})") from None
        if codec.to_json() != d:
            raise CadenzaError("vocab.json does not match the vocabulary its parameters "
                               "define; it was edited or written by another version")
        return codec

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=1) + "\n")

    @classmethod
    def load(cls, path: Path) -> Codec:
        try:
            d = json.loads(Path(path).read_text())
        except (OSError, ValueError) as e:
            raise CadenzaError(f"cannot read vocabulary {path}: {e}") from None
        return cls.from_json(d)

    def __eq__(self, other) -> bool:
        return isinstance(other, Codec) and self.to_json() == other.to_json()

    def __hash__(self):
        return hash(self.config)


def normalise(notes: np.ndarray, mono: bool = False) -> np.ndarray:
    """Sort by onset then pitch (high first) and make the notes well-formed.

    Of notes sharing an onset and a pitch the longest stays; a note overlapping
    the next note of its pitch is cut to end where that one starts; with
    ``mono`` only the highest note of each onset stays and each note ends by
    the next onset. Idempotent.
    """
    notes = np.asarray(notes, dtype=np.int32).reshape(-1, 3)
    if len(notes) == 0:
        return empty_notes()
    order = np.lexsort((-notes[:, DUR], -notes[:, PITCH], notes[:, START]))
    notes = notes[order]
    new_onset = np.r_[True, notes[1:, START] != notes[:-1, START]]
    if mono:
        notes = notes[new_onset]
        room = np.r_[notes[1:, START] - notes[:-1, START], np.iinfo(np.int32).max]
        notes[:, DUR] = np.minimum(notes[:, DUR], room)
    else:
        notes = notes[new_onset | np.r_[True, notes[1:, PITCH] != notes[:-1, PITCH]]]
    by_pitch = np.lexsort((notes[:, START], notes[:, PITCH]))
    p = notes[by_pitch]
    same_pitch = p[1:, PITCH] == p[:-1, PITCH]
    room = np.where(same_pitch, p[1:, START] - p[:-1, START], np.iinfo(np.int32).max)
    p[:-1, DUR] = np.minimum(p[:-1, DUR], room)
    notes[by_pitch] = p
    return np.ascontiguousarray(notes)
