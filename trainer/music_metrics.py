"""Figures that tell good generated music from looping or copied music.

Every function takes the representation of :mod:`trainer.codec`: notes are an
``int32`` array ``(n, 3)`` of ``START, DUR, PITCH`` in grid steps, tokens are
the id sequence ``Codec.encode`` makes (``BOS ... EOS``). Numpy only.

Per song (:func:`song_figures`) the figures catch degenerate output: a narrow
range, no tonality, silence, one token or one chord repeated, few distinct
4-grams. Per set (:func:`set_figures`) the pooled pitch-class and duration
histograms are compared with a reference set (mgeval's overlapped area) and
:class:`NgramIndex` measures how much of a song is copied from training data.
"""

from __future__ import annotations

import math

import numpy as np

from trainer.codec import DUR, PITCH, START

MAJOR = (0, 2, 4, 5, 7, 9, 11)
NATURAL_MINOR = (0, 2, 3, 5, 7, 8, 10)
SONG_FIGURES = ("pitch_range", "polyphony", "scale_consistency", "empty_beat_rate",
                "longest_token_run", "longest_onset_repeat", "distinct_4gram_ratio")
SET_FIGURES = ("songs", "mean_notes", *SONG_FIGURES,
               "pitch_class_overlap", "duration_overlap", "copy_rate")
COPY_NGRAM = 12  # default n of NgramIndex: 12 tokens are about six notes

# The 24 scales as (24, 12) masks: rows 0-11 major on C..B, rows 12-23 natural minor.
_SCALES = np.zeros((24, 12), dtype=bool)
for _root in range(12):
    _SCALES[_root, [(_root + d) % 12 for d in MAJOR]] = True
    _SCALES[12 + _root, [(_root + d) % 12 for d in NATURAL_MINOR]] = True
_HASH_BASE = np.uint64(0x9E3779B97F4A7C15)  # odd, so the n-gram hash mixes every token


def _as_notes(notes) -> np.ndarray:
    return np.asarray(notes, dtype=np.int64).reshape(-1, 3)


# --- histograms --------------------------------------------------------------
def pitch_class_histogram(notes) -> np.ndarray:
    """Share of notes on each pitch class C..B, shape ``(12,)``; all zeros if no notes."""
    pitches = _as_notes(notes)[:, PITCH]
    counts = np.bincount(pitches % 12, minlength=12).astype(np.float64)
    return counts / max(len(pitches), 1)


def duration_histogram(notes, max_duration: int) -> np.ndarray:
    """Share of notes per duration, shape ``(max_duration,)``: bin ``k`` is ``k + 1`` steps.

    Durations are clipped to ``1..max_duration`` (the codec never makes others).
    All zeros if there are no notes.
    """
    if max_duration < 1:
        raise ValueError(f"max_duration must be >= 1, got {max_duration}")
    durations = np.clip(_as_notes(notes)[:, DUR], 1, max_duration)
    counts = np.bincount(durations - 1, minlength=max_duration).astype(np.float64)
    return counts / max(len(durations), 1)


def overlapped_area(p, q) -> float:
    """``sum(min(p, q))`` of two normalised histograms: 1 identical, 0 disjoint (mgeval)."""
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    if p.shape != q.shape:
        raise ValueError(f"histograms differ in shape: {p.shape} vs {q.shape}")
    return float(np.minimum(p, q).sum())


# --- one song ------------------------------------------------------------------
def song_figures(notes, tokens, steps_per_beat: int) -> dict:
    """The figures of one song, keyed by :data:`SONG_FIGURES`.

    ``notes`` are normalised notes and ``tokens`` the song's ids (normally
    ``Codec.encode(notes)``, or the generated ids that decoded to ``notes``).

    - ``pitch_range``: highest minus lowest pitch; 0 without notes.
    - ``polyphony``: notes per distinct onset, averaged; 0.0 without notes.
    - ``scale_consistency``: the largest share of notes whose pitch class lies
      in one of the 24 major / natural-minor scales; 0.0 without notes.
    - ``empty_beat_rate``: of the beats ``[b * spb, (b + 1) * spb)`` from step 0
      up to the beat holding the end of the last note, the share in which no
      note sounds at any step; 0.0 without notes (no beats to count).
    - ``longest_token_run``: length of the longest run of one id repeated
      back to back (1 if no id repeats, 0 for no tokens).
    - ``longest_onset_repeat``: the most consecutive onsets each carrying
      exactly the same set of (pitch, duration) as the onset before it, the
      time between onsets ignored. One chord struck 10 times in a row gives 9;
      0 if no onset repeats the previous one.
    - ``distinct_4gram_ratio``: distinct token 4-grams / all token 4-grams
      (overlapping windows over ``tokens`` as given, BOS/EOS included); 1.0
      with fewer than 4 tokens, since nothing can repeat.
    """
    notes = _as_notes(notes)
    tokens = np.asarray(tokens, dtype=np.int64).reshape(-1)
    has_notes = len(notes) > 0
    onsets = np.unique(notes[:, START])
    pcs = pitch_class_histogram(notes)
    grams = _ngram_hashes(tokens, 4)
    return {
        "pitch_range": int(np.ptp(notes[:, PITCH])) if has_notes else 0,
        "polyphony": len(notes) / len(onsets) if has_notes else 0.0,
        "scale_consistency": float((_SCALES @ pcs).max()) if has_notes else 0.0,
        "empty_beat_rate": empty_beat_rate(notes, steps_per_beat),
        "longest_token_run": 1 + _longest_true_run(tokens[1:] == tokens[:-1])
                             if len(tokens) else 0,
        "longest_onset_repeat": longest_onset_repeat(notes),
        "distinct_4gram_ratio": len(np.unique(grams)) / len(grams) if len(grams) else 1.0,
    }


def empty_beat_rate(notes, steps_per_beat: int) -> float:
    """Share of beats with no note sounding; see :func:`song_figures`."""
    notes = _as_notes(notes)
    if len(notes) == 0:
        return 0.0
    if steps_per_beat < 1:
        raise ValueError(f"steps_per_beat must be >= 1, got {steps_per_beat}")
    ends = notes[:, START] + np.maximum(notes[:, DUR], 1)
    beats = -(-int(ends.max()) // steps_per_beat)
    change = np.zeros(beats * steps_per_beat + 1, dtype=np.int64)
    np.add.at(change, notes[:, START], 1)
    np.add.at(change, ends, -1)
    sounding = np.cumsum(change[:-1]) > 0
    return float(1.0 - sounding.reshape(beats, steps_per_beat).any(axis=1).mean())


def longest_onset_repeat(notes) -> int:
    """Most consecutive onsets repeating the previous onset's notes; see :func:`song_figures`."""
    notes = _as_notes(notes)
    if len(notes) == 0:
        return 0
    notes = notes[np.lexsort((notes[:, DUR], -notes[:, PITCH], notes[:, START]))]
    first = np.flatnonzero(np.r_[True, notes[1:, START] != notes[:-1, START]])
    bounds = np.r_[first, len(notes)]
    chords = [notes[a:b, [PITCH, DUR]].tobytes() for a, b in zip(bounds[:-1], bounds[1:])]
    same = np.array([a == b for a, b in zip(chords[:-1], chords[1:])], dtype=bool)
    return _longest_true_run(same)


def _longest_true_run(flags: np.ndarray) -> int:
    """Length of the longest run of ``True`` in a boolean array (0 if none)."""
    if not flags.any():
        return 0
    edges = np.diff(np.r_[0, flags.astype(np.int8), 0])
    return int((np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)).max())


# --- copying -------------------------------------------------------------------
def _ngram_hashes(tokens: np.ndarray, n: int) -> np.ndarray:
    """A 64-bit polynomial hash of every window of ``n`` tokens (``len - n + 1`` of them)."""
    t = np.asarray(tokens, dtype=np.int64).reshape(-1).astype(np.uint64)
    m = len(t) - n + 1
    h = np.zeros(max(m, 0), dtype=np.uint64)
    for k in range(n if m > 0 else 0):
        h = h * _HASH_BASE + t[k:k + m]  # wraps mod 2**64 on purpose
    return h


class NgramIndex:
    """Every token n-gram of some sequences (the training songs), for copy checks.

    n-grams never span two sequences. They are stored as sorted 64-bit hashes,
    so membership is exact up to hash collisions (about ``len(self) / 2**64``
    per lookup). Three million tokens index in well under a few seconds.
    """

    def __init__(self, sequences, n: int = COPY_NGRAM):
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        self.n = n
        seqs = [np.asarray(s, dtype=np.int64).reshape(-1) for s in sequences]
        lengths = np.array([len(s) for s in seqs], dtype=np.int64)
        if lengths.sum() < n:
            self._hashes = np.zeros(0, dtype=np.uint64)
            return
        hashes = _ngram_hashes(np.concatenate(seqs), n)
        owner = np.repeat(np.arange(len(seqs)), lengths)
        inside = owner[:len(hashes)] == owner[n - 1:]  # window starts and ends in one sequence
        self._hashes = np.unique(hashes[inside])

    def __len__(self) -> int:
        """The number of distinct n-grams indexed."""
        return len(self._hashes)

    def copy_rate(self, tokens) -> float:
        """Share of the song's n-gram windows (repeats counted) found in the index.

        0.0 if the song has fewer than ``n`` tokens.
        """
        hashes = _ngram_hashes(tokens, self.n)
        if len(hashes) == 0:
            return 0.0
        at = np.minimum(np.searchsorted(self._hashes, hashes), max(len(self._hashes) - 1, 0))
        found = self._hashes[at] == hashes if len(self._hashes) else np.zeros(len(hashes), bool)
        return float(found.mean())


# --- a set of songs --------------------------------------------------------------
def set_figures(songs, reference_notes, index: NgramIndex | None,
                steps_per_beat: int, max_duration: int) -> dict:
    """The figures of a set of ``(notes, tokens)`` songs, keyed by :data:`SET_FIGURES`.

    ``songs`` and ``mean_notes`` count the set; each :data:`SONG_FIGURES` entry
    is the mean over songs; ``pitch_class_overlap`` and ``duration_overlap``
    are :func:`overlapped_area` of the histograms pooled over every note of the
    set vs pooled over every note of ``reference_notes``; ``copy_rate`` is the
    mean :meth:`NgramIndex.copy_rate` (NaN when ``index`` is None). Raises
    ``ValueError`` for an empty set.
    """
    songs = list(songs)
    if not songs:
        raise ValueError("set_figures needs at least one song")
    per_song = [song_figures(notes, tokens, steps_per_beat) for notes, tokens in songs]
    pooled = np.concatenate([_as_notes(notes) for notes, _ in songs])
    reference = np.concatenate([_as_notes(r) for r in reference_notes] or [_as_notes([])])
    out = {"songs": len(songs), "mean_notes": len(pooled) / len(songs)}
    out.update({k: float(np.mean([f[k] for f in per_song])) for k in SONG_FIGURES})
    out["pitch_class_overlap"] = overlapped_area(pitch_class_histogram(pooled),
                                                 pitch_class_histogram(reference))
    out["duration_overlap"] = overlapped_area(duration_histogram(pooled, max_duration),
                                              duration_histogram(reference, max_duration))
    out["copy_rate"] = (float(np.mean([index.copy_rate(t) for _, t in songs]))
                        if index is not None else math.nan)
    return out


def figure_ranges(songs, steps_per_beat: int) -> dict[str, tuple[float, float]]:
    """``(min, max)`` over songs of each :data:`SONG_FIGURES` entry."""
    per_song = [song_figures(notes, tokens, steps_per_beat) for notes, tokens in songs]
    return {k: (float(min(f[k] for f in per_song)), float(max(f[k] for f in per_song)))
            for k in SONG_FIGURES}


def format_table(columns: dict[str, dict]) -> str:
    """A plain-text table: one row per figure, one column per named set.

    Rows follow the order in which figures first appear; a figure missing from
    a set, or NaN, shows as ``-``. Integers print whole, other numbers with 3
    decimals (1 from 100 up).
    """
    rows = list(dict.fromkeys(k for figures in columns.values() for k in figures))
    cells = [["figure", *columns]] + [
        [row, *(_format_number(figures.get(row)) for figures in columns.values())]
        for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(cells[0]))]
    lines = ["  ".join([line[0].ljust(widths[0])] +
                       [c.rjust(w) for c, w in zip(line[1:], widths[1:])]).rstrip()
             for line in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


def _format_number(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    value = float(value)
    if math.isnan(value):
        return "-"
    return f"{value:.1f}" if abs(value) >= 100 else f"{value:.3f}"
