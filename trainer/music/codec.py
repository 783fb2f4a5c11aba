"""The token representation: notes <-> token ids. The single source of truth.

Notes are an ``int32`` array of shape ``(n, 3)`` with columns ``START``,
``DUR`` and ``PITCH``: onset and duration in grid steps (``steps_per_beat``
steps per quarter-note beat) and the MIDI pitch. *Normalised* notes are sorted
by onset, then pitch from high to low, and hold no duplicate (onset, pitch) and
no two overlapping notes of one pitch.

A version-1 song is ``BOS``, then for each onset its notes from high to low
as ``NOTE_p DUR_k``, then ``SHIFT_k`` tokens up to the next onset (gaps longer
than ``max_shift`` use several), ..., then ``EOS``. For normalised notes
``decode(encode(notes)) == notes``, and ``decode`` accepts any id sequence.

Version 2 (the default) adds the song's key, meter and bars, held by a
:class:`Meta`: ``BOS KEY_<tonic>_<mode> METER_<n>_<d>``, then the notes, with
a ``BAR`` at every bar line up to the last onset (before that onset's notes)
and ``SHIFT`` tokens that never cross a bar line. The first note is at time
0; a pickup is the stretch before the first ``BAR`` and is shorter than a
bar. A meter change is ``BAR METER_<n>_<d>`` at the bar line where it takes
effect. Meters without a token of their own are ``METER_other``. With
``no_bars`` the ``BAR`` token does not exist (an ablation).
``decode_song(encode(notes, meta))`` gives back the notes and the meta.

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
from trainer.errors import CadenzaError, read_text
from trainer.music import keys as K

START, DUR, PITCH = 0, 1, 2
KINDS = ("NOTE", "DUR", "SHIFT")
V2_KINDS = ("KEY", "METER", "BAR")  # appended after KINDS, so v1 ids keep their values
METER_VALUES = (*K.METERS, K.OTHER)  # METER_<i> stands for METER_VALUES[i]


@dataclasses.dataclass(frozen=True)
class Meta:
    """What a v2 song says beside its notes.

    ``key`` is ``(tonic, mode)``; ``meter`` the meter of the song's start, a
    ``(n, d)`` of :data:`trainer.music.keys.METERS` or ``"other"``; ``bars`` the bar
    lines up to the last onset as ``(step, meter from there on)``, ascending,
    the first at most one bar after the start (a pickup before it).
    """

    key: tuple[int, str] = (0, "major")
    meter: tuple[int, int] | str = K.DEFAULT_METER
    bars: tuple[tuple[int, tuple[int, int] | str], ...] = ()

    def bar_starts(self) -> np.ndarray:
        return np.asarray([b for b, _ in self.bars], dtype=np.int64)

    def to_json(self) -> dict:
        return {"key": list(self.key), "meter": _meter_json(self.meter),
                "bars": [[b, _meter_json(m)] for b, m in self.bars]}

    @classmethod
    def from_json(cls, d: dict) -> Meta:
        return cls((int(d["key"][0]), str(d["key"][1])), _meter_value(d["meter"]),
                   tuple((int(b), _meter_value(m)) for b, m in d["bars"]))


def _meter_json(meter):
    return meter if meter == K.OTHER else list(meter)


def _meter_value(meter):
    return K.OTHER if meter == K.OTHER else K.meter_token_value(tuple(int(x) for x in meter))


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
        self.tokens = list(C.SPECIAL_TOKENS) + [
            f"{kind}_{first_value + i}"
            for kind in KINDS
            for (_, count, first_value) in [self.ranges[kind]]
            for i in range(count)
        ]
        self.version = config.vocab_version
        if self.version >= 2:
            extra = {"KEY": len(K.KEYS), "METER": len(METER_VALUES), "BAR": 0 if config.no_bars else 1}
            for kind in V2_KINDS:
                if extra[kind]:
                    self.ranges[kind] = (next_id, extra[kind], 0)
                    next_id += extra[kind]
            self.tokens += [f"KEY_{K.TONICS[t]}_{m}" for t, m in K.KEYS]
            self.tokens += ["METER_" + K.meter_name(m).replace("/", "_") for m in METER_VALUES]
            self.tokens += ["BAR"] * extra["BAR"]
        self.size = next_id
        self.kinds = tuple(self.ranges)
        # Lookup tables: kind index (-1 special, then the order of self.kinds) and value per id.
        self._kind = np.full(self.size, -1, dtype=np.int8)
        self._value = np.zeros(self.size, dtype=np.int32)
        for k, kind in enumerate(self.kinds):
            first, count, first_value = self.ranges[kind]
            self._kind[first:first + count] = k
            self._value[first:first + count] = np.arange(count) + first_value
        self.bar_id = self.ranges["BAR"][0] if "BAR" in self.ranges else None

    # --- single ids ---------------------------------------------------------
    def token_id(self, kind: str, value: int) -> int:
        """The id of ``NOTE_value``, ``DUR_value``, ``SHIFT_value`` (or the value-th
        ``KEY``/``METER``, ``BAR`` with value 0)."""
        if kind not in self.ranges:
            raise ValueError(f"this vocabulary has no {kind} tokens")
        first, count, first_value = self.ranges[kind]
        if not first_value <= value < first_value + count:
            raise ValueError(f"{kind}_{value} is outside the vocabulary "
                             f"({kind}_{first_value}..{kind}_{first_value + count - 1})")
        return first + value - first_value

    def describe(self, token_id: int) -> str:
        """The token's name, e.g. ``NOTE_60``; ``?<id>`` for ids outside the vocabulary."""
        return self.tokens[token_id] if 0 <= token_id < self.size else f"?{token_id}"

    def key_id(self, key: tuple[int, str]) -> int:
        return self.token_id("KEY", K.KEYS.index((int(key[0]) % 12, key[1])))

    def meter_id(self, meter) -> int:
        return self.token_id("METER", METER_VALUES.index(
            meter if meter == K.OTHER else K.meter_token_value(meter)))

    def key_of(self, token_id: int) -> tuple[int, str] | None:
        """The key a ``KEY`` id stands for; None for other ids."""
        return K.KEYS[self._value[token_id]] if self._is(token_id, "KEY") else None

    def meter_of(self, token_id: int):
        """The meter a ``METER`` id stands for; None for other ids."""
        return METER_VALUES[self._value[token_id]] if self._is(token_id, "METER") else None

    def _is(self, token_id: int, kind: str) -> bool:
        return kind in self.ranges and 0 <= token_id < self.size \
            and self._kind[token_id] == self.kinds.index(kind)

    def bar_steps(self, meter) -> int | None:
        """Steps per bar of a token meter; None for ``other``."""
        return None if meter == K.OTHER else K.bar_steps(meter, self.config.steps_per_beat)

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
            start -= (start.min() // spb) * spb if self.version == 1 else start.min()
        notes = np.stack([start, dur, pitch], axis=1).astype(np.int32)
        return normalise(notes, self.config.mono)

    def quantise_song(self, raw: np.ndarray, meters=(), file_key=None, stated_key=False):
        """``(notes, meta, key source)`` of a file's raw notes and time signatures.

        ``meters`` are the file's time signatures as ``(beat, n, d)``; with
        none the song is in 4/4 from the file's start. A time signature takes
        effect at the first bar line at or after it (of several at one time, the
        last in ``meters``, as in a MIDI file). The notes start at step 0
        (leading silence dropped); bars before the first note are dropped, so a
        pickup is what comes before the first bar line. ``file_key`` is the
        file's key signature ``(tonic, mode)`` or None; it is used only where
        it agrees with the estimate from the notes (:func:`trainer.music.keys.choose_key`),
        or wherever it is given with ``stated_key`` (a source that names the key).
        """
        raw = np.asarray(raw, dtype=np.float64).reshape(-1, 3)
        spb = self.config.steps_per_beat
        start = np.floor(raw[:, 0] * spb + 0.5)  # the notes quantise keeps, as it rounds them
        keep = (np.round(raw[:, 2]) >= C.PIANO_LOW) & (np.round(raw[:, 2]) <= C.PIANO_HIGH) \
            & (start >= 0)
        first = start[keep].min() if keep.any() else 0.0
        notes = self.quantise(raw)  # v2: starts at step 0, i.e. shifted by -first
        # Sorted by time alone: a stable sort keeps the file's order at one time.
        events = [(int(np.floor(float(b) * spb + 0.5)), (int(n), int(d)))
                  for b, n, d in sorted(meters, key=lambda m: float(m[0]))]
        bars = _bar_lines(events, int(first) + (int(notes[:, START].max()) if len(notes) else 0),
                          spb)
        header = K.DEFAULT_METER
        kept = []
        for step, meter in bars:
            if step <= first:
                header = meter
            if step >= first:
                kept.append((int(step - first), K.meter_token_value(meter)))
        key, source = K.choose_key(file_key, notes, stated_key)
        return notes, Meta(key, K.meter_token_value(header), tuple(kept)), source

    def default_meta(self, notes) -> Meta:
        """Estimated key, 4/4 bars from step 0: the meta of notes that come without one."""
        notes = np.asarray(notes, dtype=np.int64).reshape(-1, 3)
        last = int(notes[:, START].max()) if len(notes) else -1
        bar = K.bar_steps(K.DEFAULT_METER, self.config.steps_per_beat)
        return Meta(K.estimate_key(notes), K.DEFAULT_METER,
                    tuple((b, K.DEFAULT_METER) for b in range(0, last + 1, bar)))

    def encode(self, notes: np.ndarray, meta: Meta | None = None) -> np.ndarray:
        """Token ids (``int32``) of normalised notes, from ``BOS`` to ``EOS``.

        Version 2 writes ``meta`` (default :meth:`default_meta`) too; a v1
        codec ignores it. Raises ValueError for a note the vocabulary cannot
        express (negative onset, duration outside 1..max_duration, pitch off
        the piano).
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
        bars: list = []
        if self.version >= 2:
            meta = meta if meta is not None else self.default_meta(notes)
            meter = meta.meter
            ids += [self.key_id(meta.key), self.meter_id(meter)]
            bars = [] if self.bar_id is None else list(meta.bars)
        b = 0
        for start, dur, pitch in notes:
            while b < len(bars) and bars[b][0] <= start:
                ids.extend(self.shifts(bars[b][0] - time))
                time = bars[b][0]
                ids.append(self.bar_id)
                if bars[b][1] != meter:
                    meter = bars[b][1]
                    ids.append(self.meter_id(meter))
                b += 1
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

    def decode_meta(self, ids) -> Meta | None:
        """The :class:`Meta` a v2 id sequence states (None for a v1 codec).

        The first ``KEY`` sets the key (C major if none), the first ``METER``
        the starting meter (4/4 if none); each ``BAR`` is a bar line at the
        time the ``SHIFT`` tokens before it reach, in the meter of the last
        ``METER`` (a ``METER`` right after a ``BAR`` applies to that bar).
        Like :meth:`decode`, it stops at ``EOS`` and never raises on content.
        """
        if self.version < 2:
            return None
        key, meter, bars, time, last = None, None, [], 0, None
        for token in np.asarray(ids, dtype=np.int64).reshape(-1):
            if not 0 <= token < self.size:
                last = None
                continue
            if token == self.eos_id:
                break
            if self._is(token, "SHIFT"):
                time += int(self._value[token])
            elif self._is(token, "KEY") and key is None:
                key = self.key_of(token)
            elif self._is(token, "METER"):
                m = self.meter_of(token)
                if meter is None:
                    meter = m
                if last == self.bar_id and bars:
                    bars[-1] = (bars[-1][0], m)
                elif not bars:
                    meter = m
            elif token == self.bar_id:
                current = bars[-1][1] if bars else (meter or K.DEFAULT_METER)
                if bars and bars[-1][0] == time:
                    bars.pop()  # two bar lines at one time: the later one counts
                bars.append((time, current))
            last = token
        return Meta(key or (0, "major"), meter or K.DEFAULT_METER, tuple(bars))

    def decode_song(self, ids) -> tuple[np.ndarray, Meta | None]:
        """``(decode(ids), decode_meta(ids))``."""
        return self.decode(ids), self.decode_meta(ids)

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
        """``ids`` with every ``NOTE`` and ``KEY`` moved by ``semitones``; raises if a
        note leaves the piano."""
        low, high = self.transpose_range(ids)
        if not low <= semitones <= high:
            raise ValueError(f"transposing by {semitones} leaves the piano range "
                             f"(allowed {low}..{high})")
        ids = np.array(ids, copy=True)
        ids[self.pitch_of(ids) >= 0] += semitones
        if "KEY" in self.ranges:
            first, count, _ = self.ranges["KEY"]
            at = (ids >= first) & (ids < first + count)
            value = ids[at] - first
            ids[at] = first + (value // 12) * 12 + (value % 12 + semitones) % 12
        return ids

    # --- vocab.json ------------------------------------------------------------
    def to_json(self) -> dict:
        """Everything the browser (or a later run) needs to rebuild this codec."""
        params = {
            "steps_per_beat": self.config.steps_per_beat,
            "max_duration": self.config.max_duration,
            "max_shift": self.config.max_shift,
            "mono": self.config.mono,
            "min_pitch": C.PIANO_LOW,
            "max_pitch": C.PIANO_HIGH,
        }
        out = {
            "format": C.VOCAB_FORMAT,
            "version": self.version,
            "size": self.size,
            "params": params,
            "special": {"PAD": self.pad_id, "BOS": self.bos_id, "EOS": self.eos_id},
            "ranges": {kind: {"first_id": first, "count": count, "first_value": fv}
                       for kind, (first, count, fv) in self.ranges.items()},
            "tokens": self.tokens,
        }
        if self.version >= 2:
            params["bars"] = not self.config.no_bars
            out["keys"] = [K.key_name(k) for k in K.KEYS]
            out["meters"] = [K.meter_name(m) for m in METER_VALUES]
        return out

    @classmethod
    def from_json(cls, d: dict) -> Codec:
        """Rebuild a codec from :meth:`to_json` output, refusing other formats."""
        d = d if isinstance(d, dict) else {}
        if d.get("format") != C.VOCAB_FORMAT or d.get("version") not in C.VOCAB_VERSIONS:
            raise CadenzaError(f"not a {C.VOCAB_FORMAT} vocabulary of version "
                               f"{' or '.join(map(str, C.VOCAB_VERSIONS))} "
                               f"(format {d.get('format')!r}, version {d.get('version')!r})")
        p = d.get("params")
        names = ["steps_per_beat", "max_duration", "max_shift", "mono"]
        names += ["bars"] if d["version"] >= 2 else []
        if not isinstance(p, dict) or any(k not in p for k in names):
            raise CadenzaError(f"the vocabulary's params lack {', '.join(names)}; "
                               "it was edited or written by another version")
        try:
            fields = {k: p[k] for k in names if k != "bars"}
            codec = cls(CodecConfig(**fields, vocab_version=d["version"],
                                    no_bars=d["version"] >= 2 and not p["bars"]))
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
            d = json.loads(read_text(path))
        except (OSError, ValueError) as e:
            raise CadenzaError(f"cannot read vocabulary {path}: {e}") from None
        return cls.from_json(d)

    def __eq__(self, other) -> bool:
        return isinstance(other, Codec) and self.to_json() == other.to_json()

    def __hash__(self):
        return hash(self.config)


def _bar_lines(events, end: int, spb: int) -> list[tuple[int, tuple[int, int]]]:
    """Bar lines ``(step, meter)`` from ``events`` (``(step, meter)`` sorted) up to ``end``.

    4/4 holds before the first event; an event takes effect at the first bar
    line at or after its step; a bar that is not a whole number of steps is
    rounded (at least one step).
    """
    merged = []
    for step, meter in events:
        if merged and merged[-1][0] == step:
            merged[-1] = (step, meter)  # the last of several at one time counts
        elif not merged or merged[-1][1] != meter:
            merged.append((step, meter))
    if not merged or merged[0][0] > 0:
        merged.insert(0, (0, K.DEFAULT_METER))
    bars, t, i, meter = [], merged[0][0], 0, merged[0][1]
    while t <= end:
        while i + 1 < len(merged) and merged[i + 1][0] <= t:
            i += 1
            meter = merged[i][1]
        bars.append((t, meter))
        n, d = meter
        t += K.bar_steps(meter, spb) or max(1, round(n * 4 * spb / d))
    return bars


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


def degree_index(codec: Codec) -> np.ndarray:
    """``(25, vocab)``: for key row ``k`` (0..23, in the order of :data:`trainer.music.keys.KEYS`)
    and a ``NOTE`` token of pitch ``p``, the scale degree column ``12 * mode + (p - tonic) %
    12`` of the degree logits; 24 (a column of zeros) for other tokens and for row 24 (no
    key read yet). Used by :class:`trainer.nn.pitch_layers.KeyDegrees` and the Steppers (JS:
    ``degreeIndex``); here, apart from Keras, so composing loads no TensorFlow."""
    pitch = codec.pitch_of(np.arange(codec.size))
    out = np.full((len(K.KEYS) + 1, codec.size), len(K.KEYS), dtype=np.int32)
    for row, (tonic, mode) in enumerate(K.KEYS):
        note = pitch >= 0
        out[row, note] = 12 * K.MODES.index(mode) + (pitch[note] - tonic) % 12
    return out
