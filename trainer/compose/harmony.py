"""Harmonizing a melody: the top line of a song, and the Constraint that keeps it on top.

A polyphonic v2 model writes the notes of one time step high to low, so a
melody fits its token language as the first note of each of its onsets. The
:class:`Constraint` masks the model's choices at every step, on top of the
:class:`trainer.music.grammar.Grammar`:

- the header is the melody's ``KEY`` and ``METER``; ``BAR`` comes exactly at the
  melody's bar lines (and, past its last onset, every bar of its last meter),
  with the melody's ``METER`` after a ``BAR`` where its meter changes;
- at each melody onset the melody's ``NOTE`` and ``DUR`` come first;
- a generated note starts only while a melody note sounds, below it, and its
  ``DUR`` keeps it below every melody note it overlaps and within the
  melody's end (no generated note sounds above the sounding melody note, and
  none starts in a melody rest);
- what sounds at each time stays within one triad or seventh chord
  (:data:`CHORDS`), and the lowest and highest voices never move the same way
  at the same perfect fifth or octave, wherever a pitch below is left that
  keeps both (else one that keeps the chord; else the model's choice stands):
  the model alone made chords of 52% of its onsets and 1.2 parallels per 100
  onset pairs, Bach 85% and 0.1 (issue 26, ``evaluate-harmony``);
- no ``SHIFT`` goes past the next melody onset, and none past the last one:
  the song ends on the chord struck there, which no earlier note sounds into
  (else a melody held a sixteenth past a bar line ended on a one-sixteenth
  chord struck under it);
- ``EOS`` only once the melody's last note is in, and the last onset holds a
  chord of at least ``final_voices`` notes (fewer only where no pitch is left
  below the melody); while it is short, a pitch is offered only where enough
  pitches are left below it for the notes still to come. Its pitch classes
  stay within one major or minor triad (:data:`FINAL_TRIADS`; while it is
  short, wherever a pitch below is left that keeps them so), and its notes
  last as long as the melody's last note.

Where the Grammar and the Constraint together would allow nothing (their
rules are written to make that impossible, and the shared vectors check it),
the Constraint's own mask is used alone, and ``fallbacks`` counts it; where
that is empty too, ``EOS``. Generation therefore never dead-ends.

Everything here is mirrored by ``web/src/mirror/harmony.js``; the shared vectors in
``tests/vectors/harmonize.json`` (``scripts/make_vectors.py``) hold the two to the
same tokens for the same seed.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from trainer import constants as C
from trainer.errors import CadenzaError
from trainer.music import keys as K
from trainer.music.codec import DUR, START, Codec, Meta

FINAL_VOICES = 3  # notes of the last onset's chord, the melody's included
# The chords an onset may sound, as intervals above the root: the triads and
# sevenths of trainer/evaluation/harmony_form.py's chordal share.
CHORDS = {"major triad": (0, 4, 7), "minor triad": (0, 3, 7), "diminished triad": (0, 3, 6),
          "dominant seventh": (0, 4, 7, 10), "minor seventh": (0, 3, 7, 10),
          "half-diminished seventh": (0, 3, 6, 10), "major seventh": (0, 4, 7, 11),
          "diminished seventh": (0, 3, 6, 9)}


def _sets(chords) -> tuple[int, ...]:
    """Each chord on each root as a pitch-class set (bit c for pitch class c)."""
    return tuple(sum(1 << ((root + i) % 12) for i in chord)
                 for chord in chords for root in range(12))


CHORD_SETS = _sets(CHORDS.values())
FINAL_TRIADS = _sets((CHORDS["major triad"], CHORDS["minor triad"]))  # the last chord's


@dataclasses.dataclass(frozen=True)
class Melody:
    """One line of notes ``(start, duration, pitch)`` in grid steps, the first at
    step 0, each ending by the next onset, and the song's :class:`Meta` (key,
    meter, bar lines up to the last onset). ``folded``: notes moved by octaves
    into A0..C8."""

    notes: np.ndarray
    meta: Meta
    folded: int = 0

    @property
    def end(self) -> int:
        return int((self.notes[:, START] + self.notes[:, DUR]).max())


def top_line(notes: np.ndarray) -> np.ndarray:
    """The top line of normalised notes: at each onset its highest note, unless a
    higher note of the line still sounds; each kept note is cut where the next
    one starts (the skyline a listener hears as the tune)."""
    notes = np.asarray(notes, dtype=np.int64).reshape(-1, 3)
    line: list[list[int]] = []
    last_onset = None
    for start, dur, pitch in notes:  # normalised: by onset, high first
        if start == last_onset:
            continue
        last_onset = start
        if line and start < line[-1][0] + line[-1][1] and pitch < line[-1][2]:
            continue  # under a melody note that still sounds
        if line:
            line[-1][1] = min(line[-1][1], start - line[-1][0])
        line.append([int(start), int(dur), int(pitch)])
    return np.asarray(line, dtype=np.int32).reshape(-1, 3)


def fold_pitches(raw: np.ndarray) -> tuple[np.ndarray, int]:
    """Raw notes with pitches outside A0..C8 moved by octaves into it, and how many moved."""
    raw = np.array(raw, dtype=np.float64).reshape(-1, 3)
    pitch = np.round(raw[:, 2])
    low, high = pitch < C.PIANO_LOW, pitch > C.PIANO_HIGH
    raw[low, 2] = pitch[low] + 12 * np.ceil((C.PIANO_LOW - pitch[low]) / 12)
    raw[high, 2] = pitch[high] - 12 * np.ceil((pitch[high] - C.PIANO_HIGH) / 12)
    return raw, int(low.sum() + high.sum())


def melody_line(codec: Codec, raw: np.ndarray, meters=(), file_key=None,
                key: tuple[int, str] | None = None, meter=None) -> Melody:
    """The :class:`Melody` of a file's raw notes (beats, as ``midi_io`` reads them).

    The notes are quantised as any song is (``Codec.quantise_song``), then their
    top line is taken. ``key`` and ``meter`` are the user's choice; None keeps
    the file's (its time signatures, 4/4 without; its key signature where the
    melody agrees, else the estimate from the melody). A chosen meter holds
    from the melody's first bar line as the file's would. Raises
    CadenzaError for a melody with no notes.
    """
    if codec.version < 2 or codec.bar_id is None:
        raise CadenzaError("harmonizing needs a codec v2 model with bar lines")
    raw, folded = fold_pitches(raw)
    if meter is not None:
        meters = ((0.0, *meter),) if meter != K.OTHER else ((0.0, 5, 4),)
    notes, meta, _ = codec.quantise_song(raw, meters, file_key)
    melody = melody_of(notes, meta, key, file_key)
    if meter == K.OTHER:
        meta = melody.meta
        melody = Melody(melody.notes, Meta(meta.key, K.OTHER,
                                           tuple((b, K.OTHER) for b, _ in meta.bars)))
    return dataclasses.replace(melody, folded=folded)


def melody_of(notes: np.ndarray, meta: Meta, key: tuple[int, str] | None = None,
              file_key=None) -> Melody:
    """The :class:`Melody` of a quantised song ``(notes, meta)``: its top line from
    step 0, its bar lines up to the line's last onset, and ``key`` (None: the
    file's key where the line agrees, else the estimate from the line).
    Raises CadenzaError for a song with no notes."""
    line = top_line(notes)
    if not len(line):
        raise CadenzaError("the melody has no notes")
    if line[0, START] > 0:  # the top line starts after the song does
        shift = int(line[0, START])
        line[:, START] -= shift
        header = meta.meter
        for step, m in meta.bars:
            if step <= shift:
                header = m
        meta = Meta(meta.key, header, tuple((b - shift, m) for b, m in meta.bars if b >= shift))
    last = int(line[-1, START])
    bars = tuple(b for b in meta.bars if b[0] <= last)
    if key is None:
        key = K.choose_key(file_key, line)[0]
    return Melody(line, Meta(key, meta.meter, bars))


class Voicing:
    """What sounds now, and the outer voices of the last start time, followed token by
    token; :meth:`narrow` keeps offered pitches within one chord and out of parallel
    fifths and octaves. The :class:`Constraint` harmonizes with it, and
    :class:`VoicingGuard` composes a polyphonic model's songs with it. JS: ``Voicing``."""

    def __init__(self, codec: Codec):
        self._kind = {kind: range(first, first + count)
                      for kind, (first, count, _) in codec.ranges.items()}
        self._low_pitch = codec.ranges["NOTE"][2]
        self.time = 0
        self.step_notes = 0  # notes placed at this time step
        self._pending: int | None = None  # pitch of a NOTE awaiting its DUR
        self.sounding: list[tuple[int, int]] = []  # (end, pitch) of every note sounding now
        self.outer: tuple[int, int] | None = None  # lowest and highest pitch of the last
        # start time, where 2 or more notes sounded

    def advance(self, token_id: int) -> None:
        token_id = int(token_id)
        if token_id in self._kind["NOTE"]:
            self._pending = token_id - self._kind["NOTE"].start + self._low_pitch
        elif token_id in self._kind["DUR"] and self._pending is not None:
            self.sounding.append((self.time + token_id - self._kind["DUR"].start + 1,
                                  self._pending))
            self._pending = None
            self.step_notes += 1
        elif token_id in self._kind["SHIFT"]:
            if self.step_notes:  # a start time: its outer voices, for the next one's motion
                pitches = [p for _, p in self.sounding]
                self.outer = (min(pitches), max(pitches)) if len(pitches) > 1 else None
            self.time += token_id - self._kind["SHIFT"].start + 1
            self._pending, self.step_notes = None, 0
            self.sounding = [(end, p) for end, p in self.sounding if end > self.time]

    def narrow(self, notes: np.ndarray, low_pitch: int, chords=CHORD_SETS, after: int = 0,
               strict: bool = False) -> None:
        """Narrow the offered pitches (``notes``, a view of a mask's NOTE block from
        ``low_pitch``) to those that keep what sounds now within one of ``chords``
        (pitch-class sets), with ``after`` pitches of that chord left below for notes
        still to come, and make no parallel fifths or octaves between the outer
        voices; failing both, to those that keep the chord; failing that too, the
        model's choice stands, unless ``strict`` (then nothing is offered)."""
        pitches = [p for _, p in self.sounding]
        classes = 0
        for p in pitches:
            classes |= 1 << (p % 12)
        fits = [c for c in chords if classes & ~c == 0]  # the chords what sounds is part of
        chord_ok = np.zeros_like(notes)
        smooth = np.zeros_like(notes)
        for i in np.flatnonzero(notes):
            p = low_pitch + i
            chord_ok[i] = any(c >> (p % 12) & 1 and (not after or sum(
                c >> ((low_pitch + q) % 12) & 1 for q in range(i)) >= after) for c in fits)
            smooth[i] = not self.parallel(min(pitches + [p]), max(pitches + [p]))
        for keep in (chord_ok & smooth, chord_ok):
            if keep.any():
                notes &= keep
                return
        if strict:
            notes[:] = False

    def parallel(self, low: int, high: int) -> bool:
        """Whether outer voices ``low`` and ``high`` here move from the last start
        time's the same way, keeping a perfect fifth or an octave (mod 12)."""
        if self.outer is None:
            return False
        low0, high0 = self.outer
        interval = (high0 - low0) % 12
        return ((low - low0) * (high - high0) > 0 and interval in (0, 7)
                and (high - low) % 12 == interval)


class VoicingGuard:
    """The mask a polyphonic model's songs are composed with (:func:`voicing_guard`): the
    Grammar's, with the offered pitches narrowed by :meth:`Voicing.narrow`. The model
    alone made a triad or seventh of 68% of its onsets and 3 outer parallels per 100
    onset pairs (issue 26). JS: ``VoicingGuard``."""

    def __init__(self, codec: Codec):
        self.voicing = Voicing(codec)
        first, count, self._low_pitch = codec.ranges["NOTE"]
        self._notes = slice(first, first + count)

    def advance(self, token_id: int) -> None:
        self.voicing.advance(token_id)

    def mask(self, grammar_mask: np.ndarray) -> np.ndarray:
        allowed = np.array(grammar_mask, dtype=bool)
        self.voicing.narrow(allowed[self._notes], self._low_pitch)
        return allowed


def voicing_guard(codec: Codec) -> VoicingGuard | None:
    """The guard a song of ``codec`` is composed with: none for a one-line model (mono),
    whose onsets never sound two notes. JS: ``voicingGuard``."""
    return None if codec.config.mono else VoicingGuard(codec)


class Constraint:
    """The harmonizing mask over a :class:`trainer.music.grammar.Grammar`. JS: ``Constraint``.

    Fed every token with :meth:`advance` (as the Grammar is); :meth:`mask`
    takes the Grammar's mask and returns the allowed ids.
    """

    def __init__(self, codec: Codec, melody: Melody, final_voices: int = FINAL_VOICES):
        if codec.version < 2 or codec.bar_id is None:
            raise CadenzaError("harmonizing needs a codec v2 model with bar lines")
        if codec.config.mono:
            raise CadenzaError("this model writes one line: it can continue a melody "
                               "(sample --prime-file), not harmonize it")
        self.codec = codec
        self.final_voices = final_voices
        self.fallbacks = 0  # steps where the Grammar and this mask left nothing in common
        notes = np.asarray(melody.notes, dtype=np.int64).reshape(-1, 3)
        self.melody = [tuple(int(x) for x in n) for n in notes]
        self.end = melody.end
        self.key_id = codec.key_id(melody.meta.key)
        self.meter_id = codec.meter_id(melody.meta.meter)
        self.bars = self._bar_lines(melody.meta)  # [(step, METER id to force after it, or None)]
        self._kind = {kind: range(first, first + count)
                      for kind, (first, count, _) in codec.ranges.items()}
        self._header = 2
        self.time = 0
        self.next_note = 0  # index of the melody note still to come
        self.next_bar = 0  # index of the bar line still to come
        self._pending: int | None = None  # pitch of a NOTE awaiting its DUR
        self._forcing = False  # that NOTE is the melody's
        self._meter_due: int | None = None  # METER id that must follow the BAR just given
        self._low: int | None = None  # lowest pitch of this time step
        self._step_notes = 0
        self.last_onset = self.melody[-1][0] if self.melody else 0
        self._voicing = Voicing(codec)  # what sounds, for the chord and voice-leading rule

    def _bar_lines(self, meta: Meta) -> list[tuple[int, int | None]]:
        out, meter = [], meta.meter
        for step, m in meta.bars:
            out.append((int(step), self.codec.meter_id(m) if m != meter else None))
            meter = m
        bar = self.codec.bar_steps(meter)
        if bar is not None:  # past the last onset the grid goes on to the end
            # A melody wholly in a pickup states no bar line: the first comes where
            # the Grammar needs it at the latest, one bar in.
            t = out[-1][0] + bar if out else bar
            while t < self.end:
                out.append((t, None))
                t += bar
        return out

    def sounding(self, t: int) -> int | None:
        """Pitch of the melody note sounding at step ``t`` (None in a rest or past the end)."""
        for start, dur, pitch in self.melody:
            if start <= t < start + dur:
                return pitch
            if start > t:
                break
        return None

    def _fits(self, pitch: int, dur: int) -> bool:
        """A generated note of ``pitch`` from now for ``dur`` steps stays below the melody."""
        t0, t1 = self.time, self.time + dur
        if t1 > self.end or t0 < self.last_onset < t1:  # the last chord is struck together
            return False
        for start, d, p in self.melody:
            if start >= t1:
                break
            if start + d > t0 and pitch >= p:
                return False
        return True

    def advance(self, token_id: int) -> None:
        codec, token_id = self.codec, int(token_id)
        note_first, _, low_pitch = codec.ranges["NOTE"]
        self._meter_due = None
        self._voicing.advance(token_id)
        if token_id in self._kind["NOTE"]:
            self._pending = token_id - note_first + low_pitch
            m = self._onset_due()
            self._forcing = m is not None and self._pending == m[2]
        elif token_id in self._kind["DUR"] and self._pending is not None:
            if self._forcing:
                self.next_note += 1
            self._low, self._pending, self._forcing = self._pending, None, False
            self._step_notes += 1
        elif token_id in self._kind["SHIFT"]:
            self.time += token_id - self._kind["SHIFT"].start + 1
            self._pending, self._forcing, self._low, self._step_notes = None, False, None, 0
        elif token_id in self._kind["KEY"] or token_id in self._kind["METER"]:
            self._header = max(0, self._header - 1)
        elif token_id == codec.bar_id:
            if self.next_bar < len(self.bars) and self.bars[self.next_bar][0] == self.time:
                self._meter_due = self.bars[self.next_bar][1]
                self.next_bar += 1

    def _onset_due(self):
        """The melody note that starts now and is not in yet, or None."""
        if self.next_note < len(self.melody) and self.melody[self.next_note][0] == self.time:
            return self.melody[self.next_note]
        return None

    def own_mask(self) -> np.ndarray:
        """The Constraint's allowed ids, before the Grammar's."""
        allowed = np.zeros(self.codec.size, dtype=bool)
        kind = self._kind
        if self._header == 2:
            allowed[self.key_id] = True
            return allowed
        if self._header == 1:
            allowed[self.meter_id] = True
            return allowed
        if self._pending is not None:
            if self._forcing:
                allowed[kind["DUR"].start + self.melody[self.next_note][1] - 1] = True
            elif self.next_note >= len(self.melody):  # the last chord: held to the end
                allowed[kind["DUR"].start + min(self.end - self.time, len(kind["DUR"])) - 1] = True
            else:
                for d in range(1, len(kind["DUR"]) + 1):
                    allowed[kind["DUR"].start + d - 1] = self._fits(self._pending, d)
            return allowed
        if self._meter_due is not None:
            allowed[self._meter_due] = True
            return allowed
        if self.next_bar < len(self.bars) and self.bars[self.next_bar][0] == self.time:
            allowed[self.codec.bar_id] = True
            return allowed
        due = self._onset_due()
        if due is not None:
            allowed[kind["NOTE"].start + due[2] - self.codec.ranges["NOTE"][2]] = True
            return allowed
        cap = self.sounding(self.time)
        low_pitch = self.codec.ranges["NOTE"][2]
        done = self.next_note >= len(self.melody)
        if cap is not None:
            top = cap if self._low is None else min(cap, self._low)
            allowed[kind["NOTE"].start:kind["NOTE"].start + max(0, top - low_pitch)] = True
            full = self._step_notes >= self.final_voices
            self._voicing.narrow(allowed[kind["NOTE"].start:kind["NOTE"].stop], low_pitch,
                                 FINAL_TRIADS if done else CHORD_SETS,
                                 after=max(0, self.final_voices - self._step_notes - 1)
                                 if done else 0, strict=done and full)
        chord_open = (done and self.time == self.melody[-1][0]
                      and self._step_notes < self.final_voices
                      and allowed[kind["NOTE"].start:kind["NOTE"].stop].any())
        if chord_open:  # the final chord is not full yet: leave room below for the rest
            need = self.final_voices - self._step_notes  # notes still to come, this one's too
            if top - low_pitch >= need:
                allowed[kind["NOTE"].start:kind["NOTE"].start + need - 1] = False
            return allowed
        if done:
            allowed[self.codec.eos_id] = True
            return allowed
        limit = self.melody[self.next_note][0]
        if self.next_bar < len(self.bars):
            limit = min(limit, self.bars[self.next_bar][0])
        room = min(len(kind["SHIFT"]), limit - self.time)
        allowed[kind["SHIFT"].start:kind["SHIFT"].start + max(0, room)] = True
        return allowed

    def mask(self, grammar_mask: np.ndarray) -> np.ndarray:
        """The ids allowed next: the Grammar's and the Constraint's together; where
        they share none, the Constraint's alone (counted in ``fallbacks``); where
        that is empty too, ``EOS``."""
        own = self.own_mask()
        both = own & np.asarray(grammar_mask, dtype=bool)
        if both.any():
            return both
        self.fallbacks += 1
        if own.any():
            return own
        own[self.codec.eos_id] = True
        return own


def harmonize(step, codec: Codec, melody: Melody, temperature: float, top_k: int,
              top_p: float, seed: int, final_voices: int = FINAL_VOICES, progress=None):
    """``(ids, constraint)``: the token ids (from ``BOS``, no ``EOS``) of ``melody``
    harmonized by the model behind ``step`` (reset by the caller), and the
    :class:`Constraint` that held it (``fallbacks``). JS: ``harmonize``.

    The note and token limits are bounds the Constraint cannot reach (at most
    every pitch at every step), so the song ends with ``EOS``, after the melody.
    ``progress(time)``, where given, hears after each model step how far the
    harmony has come, in grid steps of ``melody.end`` (the CLI's progress bar).
    """
    from trainer.compose.sampling import generate

    constraint = Constraint(codec, melody, final_voices)
    if progress is not None:
        model_step = step

        def step(token):
            logits = model_step(token)
            progress(constraint.time)
            return logits

    max_notes = (C.PIANO_HIGH - C.PIANO_LOW + 1) * melody.end + 1
    max_tokens = 2 * max_notes + melody.end + 2 * len(constraint.bars) + 3  # BAR, METER
    new = generate(step, codec, [codec.bos_id], max_notes, temperature, top_k, top_p, seed,
                   max_tokens=max_tokens, constraint=constraint)
    if constraint.next_note < len(constraint.melody):
        raise RuntimeError("harmonize stopped before the melody's end")  # a broken invariant
    return np.concatenate([[codec.bos_id], new]).astype(np.int32), constraint


def voices_per_onset(notes: np.ndarray, melody: np.ndarray) -> float:
    """Mean number of notes sounding at each melody onset (the melody's own included)."""
    notes = np.asarray(notes, dtype=np.int64).reshape(-1, 3)
    starts, ends = notes[:, START], notes[:, START] + notes[:, DUR]
    counts = [int(((starts <= t) & (ends > t)).sum()) for t in np.asarray(melody)[:, START]]
    return float(np.mean(counts)) if counts else 0.0
