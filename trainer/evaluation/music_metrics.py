"""Figures that tell good generated music from looping or copied music.

Every function takes the representation of :mod:`trainer.music.codec`: notes are an
``int32`` array ``(n, 3)`` of ``START, DUR, PITCH`` in grid steps, tokens are
the id sequence ``Codec.encode`` makes (``BOS ... EOS``). A song's bars are
``bar_starts``, the sorted steps of its bar lines: bar ``i`` spans
``[bar_starts[i], bar_starts[i + 1])``, the last one up to the song's end (the
end of its last note); notes before the first bar line form a pickup bar.
Keys are those of :mod:`trainer.music.keys`. Numpy only.

Per song (:func:`song_figures`) the figures catch degenerate output in both
directions against the range of human songs: a narrow range, no tonality or
the wrong key, silence, one chord repeated, too much or too little repeated
material. Per set (:func:`set_figures`) the pooled pitch-class and duration
histograms are compared with a reference set (mgeval's overlapped area),
:class:`NgramIndex` measures how much of a song is copied from training data,
and :func:`meter_adherence` compares where in the bar onsets fall.
"""

from __future__ import annotations

import math

import numpy as np

from trainer.music import keys as K
from trainer.music.codec import DUR, PITCH, START

MAJOR = (0, 2, 4, 5, 7, 9, 11)
NATURAL_MINOR = (0, 2, 3, 5, 7, 8, 10)
SONG_FIGURES = ("pitch_range", "polyphony", "scale_consistency", "key_agreement",
                "empty_beat_rate", "longest_onset_repeat", "longest_repeat",
                "bar_repeat_share", "distinct_4gram_ratio")
SET_FIGURES = ("songs", "mean_notes", *SONG_FIGURES,
               "pitch_class_overlap", "duration_overlap", "copy_rate")
COPY_NGRAM = 12  # default n of NgramIndex: 12 tokens are about six notes
DEFAULT_BEATS_PER_BAR = 4  # bar_starts=None means 4/4 bars from step 0

# The 24 scales as (24, 12) masks: rows 0-11 major on C..B, rows 12-23 natural minor.
_SCALES = np.zeros((24, 12), dtype=bool)
for _root in range(12):
    _SCALES[_root, [(_root + d) % 12 for d in MAJOR]] = True
    _SCALES[12 + _root, [(_root + d) % 12 for d in NATURAL_MINOR]] = True
_HASH_BASE = np.uint64(0x9E3779B97F4A7C15)  # odd, so the n-gram hash mixes every token


def _as_notes(notes) -> np.ndarray:
    return np.asarray(notes, dtype=np.int64).reshape(-1, 3)


def _song_end(notes: np.ndarray) -> int:
    """The step at which the last note ends (0 without notes)."""
    return int((notes[:, START] + np.maximum(notes[:, DUR], 1)).max()) if len(notes) else 0


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
def song_figures(notes, tokens, steps_per_beat: int, bar_starts=None, key=None) -> dict:
    """The figures of one song, keyed by :data:`SONG_FIGURES`.

    ``notes`` are normalised notes and ``tokens`` the song's ids (normally
    ``Codec.encode(notes)``, or the generated ids that decoded to ``notes``).
    ``bar_starts`` are the song's bar lines; None means 4/4 bars from step 0
    (:func:`four_four_bars`). ``key`` is the key the song is meant to be in, or None.

    - ``pitch_range``: highest minus lowest pitch; 0 without notes.
    - ``polyphony``: notes per distinct onset, averaged; 0.0 without notes.
    - ``scale_consistency``: with ``key``, the share of notes whose pitch class
      lies in the key's scale (:func:`trainer.music.keys.scale_of`); without, the
      largest such share over the 24 major / natural-minor scales; 0.0 without notes.
    - ``key_agreement``: 1.0 if :func:`trainer.music.keys.estimate_key` gives ``key``,
      else 0.0 (also without notes); NaN when ``key`` is None.
    - ``empty_beat_rate``: of the beats ``[b * spb, (b + 1) * spb)`` from step 0
      up to the beat holding the end of the last note, the share in which no
      note sounds at any step; 0.0 without notes (no beats to count).
    - ``longest_onset_repeat``: the most consecutive onsets each carrying
      exactly the same set of (pitch, duration) as the onset before it, the
      time between onsets ignored. One chord struck 10 times in a row gives 9;
      0 if no onset repeats the previous one.
    - ``longest_repeat``: :func:`longest_repeat`, 0.0 to 0.5.
    - ``bar_repeat_share``: :func:`bar_repeat_share`, 0.0 to 1.0.
    - ``distinct_4gram_ratio``: distinct token 4-grams / all token 4-grams
      (overlapping windows over ``tokens`` as given, BOS/EOS included); 1.0
      with fewer than 4 tokens, since nothing can repeat.
    """
    notes = _as_notes(notes)
    tokens = np.asarray(tokens, dtype=np.int64).reshape(-1)
    key = _as_key(key)
    has_notes = len(notes) > 0
    onsets = np.unique(notes[:, START])
    grams = _ngram_hashes(tokens, 4)
    if bar_starts is None:
        bar_starts = four_four_bars(notes, steps_per_beat)
    return {
        "pitch_range": int(np.ptp(notes[:, PITCH])) if has_notes else 0,
        "polyphony": len(notes) / len(onsets) if has_notes else 0.0,
        "scale_consistency": scale_consistency(notes, key),
        "key_agreement": (math.nan if key is None
                          else float(has_notes and K.estimate_key(notes) == key)),
        "empty_beat_rate": empty_beat_rate(notes, steps_per_beat),
        "longest_onset_repeat": longest_onset_repeat(notes),
        "longest_repeat": longest_repeat(notes),
        "bar_repeat_share": bar_repeat_share(notes, bar_starts),
        "distinct_4gram_ratio": len(np.unique(grams)) / len(grams) if len(grams) else 1.0,
    }


def _as_key(key) -> tuple[int, str] | None:
    if key is None:
        return None
    tonic, mode = int(key[0]), str(key[1])
    if not 0 <= tonic < 12 or mode not in K.MODES:
        raise ValueError(f"a key is (tonic 0..11, 'major' or 'minor'), got {key!r}")
    return tonic, mode


def scale_consistency(notes, key=None) -> float:
    """Share of notes in ``key``'s scale, or in the best of 24; see :func:`song_figures`."""
    notes = _as_notes(notes)
    if len(notes) == 0:
        return 0.0
    pcs = pitch_class_histogram(notes)
    key = _as_key(key)
    if key is None:
        return float((_SCALES @ pcs).max())
    return float(pcs[K.scale_of(key)].sum())


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


def _onset_chords(notes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct onset times, sorted, and an id per onset for its set of (pitch, duration)."""
    notes = notes[np.lexsort((notes[:, DUR], -notes[:, PITCH], notes[:, START]))]
    first = np.flatnonzero(np.r_[True, notes[1:, START] != notes[:-1, START]])
    bounds = np.r_[first, len(notes)]
    ids: dict[bytes, int] = {}
    chords = [ids.setdefault(notes[a:b, [PITCH, DUR]].tobytes(), len(ids))
              for a, b in zip(bounds[:-1], bounds[1:])]
    return notes[first, START], np.array(chords, dtype=np.int64)


def longest_onset_repeat(notes) -> int:
    """Most consecutive onsets repeating the previous onset's notes; see :func:`song_figures`."""
    notes = _as_notes(notes)
    if len(notes) == 0:
        return 0
    _, chords = _onset_chords(notes)
    return _longest_true_run(chords[1:] == chords[:-1])


def _longest_true_run(flags: np.ndarray) -> int:
    """Length of the longest run of ``True`` in a boolean array (0 if none)."""
    if not flags.any():
        return 0
    edges = np.diff(np.r_[0, flags.astype(np.int8), 0])
    return int((np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)).max())


# --- repeated material -------------------------------------------------------------
def longest_repeat(notes) -> float:
    """The longest stretch of onsets that recurs later in the song, as a share of its onsets.

    A stretch is ``L`` consecutive distinct onsets; it recurs when ``L`` later
    onsets, starting at or after the stretch's end (no overlap), carry the same
    set of (pitch, duration) at each onset and the same time between each
    onset and the next. Returns ``L / onsets``: at most 0.5, near 0.5 for a
    song looping one phrase, 0.0 if no onset's notes recur (or < 2 onsets).

    Exact (no hashing): substrings of the interleaved sequence chord, gap,
    chord, ... are ranked by prefix doubling, and ``L`` is binary-searched,
    since a repeat of ``L`` onsets holds one of ``L - 1``. About
    ``O(n log^2 n)``; 2,000 onsets take milliseconds.
    """
    notes = _as_notes(notes)
    if len(notes) == 0:
        return 0.0
    onsets, chords = _onset_chords(notes)
    n = len(onsets)
    if n < 2:
        return 0.0
    seq = np.empty(2 * n - 1, dtype=np.int64)
    seq[0::2] = chords
    seq[1::2] = -np.diff(onsets) - 1  # gaps are >= 1, so never equal to a chord id
    ranks = _doubling_ranks(seq)
    lo, hi = 0, n // 2  # a repeat of lo onsets exists; none longer than hi can
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _repeats(ranks, n, mid):
            lo = mid
        else:
            hi = mid - 1
    return lo / n


def _doubling_ranks(seq: np.ndarray) -> list[np.ndarray]:
    """``ranks[k][p]``: a rank of ``seq[p:p + 2**k]``, equal iff those substrings are equal."""
    ranks = [np.unique(seq, return_inverse=True)[1].reshape(-1)]
    h = 1
    while 2 * h <= len(seq):
        r = ranks[-1]
        pair = r[:len(r) - h] * (int(r.max()) + 1) + r[h:]
        ranks.append(np.unique(pair, return_inverse=True)[1].reshape(-1))
        h *= 2
    return ranks


def _repeats(ranks: list[np.ndarray], n: int, length: int) -> bool:
    """Whether some stretch of ``length`` onsets recurs without overlap (see longest_repeat)."""
    span = 2 * length - 1  # symbols of the interleaved sequence in `length` onsets
    k = span.bit_length() - 1
    r = ranks[k]
    starts = 2 * np.arange(n - length + 1)
    key = r[starts] * (int(r.max()) + 1) + r[starts + span - (1 << k)]
    order = np.argsort(key, kind="stable")  # within one key, onsets stay in order
    key = key[order]
    first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    last = np.r_[first[1:], len(key)] - 1
    return bool((order[last] - order[first] >= length).any())


def four_four_bars(notes, steps_per_beat: int) -> np.ndarray:
    """Bar lines every 4 beats from step 0 up to the end of the last note (at least ``[0]``)."""
    if steps_per_beat < 1:
        raise ValueError(f"steps_per_beat must be >= 1, got {steps_per_beat}")
    bar = DEFAULT_BEATS_PER_BAR * steps_per_beat
    return np.arange(0, max(_song_end(_as_notes(notes)), 1), bar, dtype=np.int64)


def _bar_lines(bar_starts) -> np.ndarray:
    """``bar_starts`` as sorted distinct int64 steps; raises ``ValueError`` if none."""
    lines = np.unique(np.asarray(bar_starts, dtype=np.int64).reshape(-1))
    if len(lines) == 0:
        raise ValueError("bar_starts must hold at least one bar line")
    return lines


def _bar_of(onsets: np.ndarray, lines: np.ndarray) -> np.ndarray:
    """The bar index of each onset; -1 for the pickup before the first bar line."""
    return np.searchsorted(lines, onsets, side="right") - 1


def bar_repeat_share(notes, bar_starts) -> float:
    """Of the bars holding an onset, the share equal to an earlier bar, maybe transposed.

    A bar's content is the ``(onset - bar start, duration, pitch)`` of each note
    with its onset in the bar (notes held over from an earlier bar do not
    count); two bars are equal when their contents are equal after subtracting
    each bar's lowest pitch, so an exact repeat and a repeat transposed by one
    interval both count. The pickup bar (notes before the first bar line) is
    a bar too, its start taken one first-bar length before the first bar line.
    0.0 with fewer than two bars holding onsets.
    """
    notes = _as_notes(notes)
    if len(notes) == 0:
        return 0.0
    lines = _bar_lines(bar_starts)
    first_len = (lines[1] if len(lines) > 1 else max(_song_end(notes), lines[0] + 1)) - lines[0]
    bar = _bar_of(notes[:, START], lines)
    origin = np.r_[lines[0] - first_len, lines][bar + 1]
    rows = np.column_stack([bar, notes[:, START] - origin, notes[:, DUR], notes[:, PITCH]])
    rows = rows[np.lexsort((rows[:, 2], rows[:, 3], rows[:, 1], rows[:, 0]))]
    bounds = np.r_[np.flatnonzero(np.r_[True, rows[1:, 0] != rows[:-1, 0]]), len(rows)]
    seen: set[bytes] = set()
    repeats = 0
    for a, b in zip(bounds[:-1], bounds[1:]):
        content = rows[a:b, 1:] - [0, 0, rows[a:b, 3].min()]
        signature = content.tobytes()
        repeats += signature in seen
        seen.add(signature)
    bars = len(bounds) - 1
    return repeats / bars if bars > 1 else 0.0


# --- meter -------------------------------------------------------------------------
def onset_profile(notes, bar_starts, bar_len: int) -> np.ndarray:
    """Where in the bar the song's distinct onset times fall: shape ``(bar_len,)``, sum 1.

    Counts the onsets of the bars ``bar_len`` steps long, at ``onset - bar
    start``. The last bar, whose end is unknown, counts when the song ends
    within ``bar_len`` of its line. A pickup counts, measured back from the first
    bar line (``bar_len - (bar_starts[0] - onset)`` where that is >= 0), when the
    first bar is ``bar_len`` long. All zeros if no onset counts.
    """
    if bar_len < 1:
        raise ValueError(f"bar_len must be >= 1, got {bar_len}")
    notes = _as_notes(notes)
    profile = np.zeros(bar_len, dtype=np.float64)
    if len(notes) == 0:
        return profile
    lines = _bar_lines(bar_starts)
    onsets = np.unique(notes[:, START])
    lengths = np.r_[np.diff(lines), _song_end(notes) - lines[-1]]
    fits = np.r_[lengths[:-1] == bar_len, lengths[-1] <= bar_len]
    bar = _bar_of(onsets, lines)
    inside = np.maximum(bar, 0)
    pos = np.where(bar >= 0, onsets - lines[inside], bar_len - (lines[0] - onsets))
    counted = fits[inside] & (pos >= 0) & (pos < bar_len)
    np.add.at(profile, pos[counted], 1.0)
    total = profile.sum()
    return profile / total if total else profile


def meter_adherence(generated_profiles, human_profiles) -> float:
    """:func:`overlapped_area` of the mean generated and the mean human :func:`onset_profile`.

    Profiles that are all zeros (no onset counted) are left out of the means;
    a side with none left gives 0.0. Raises ``ValueError`` for an empty list
    or profiles of different lengths.
    """
    pooled = []
    for profiles in (generated_profiles, human_profiles):
        stack = np.asarray(list(profiles), dtype=np.float64)
        if stack.ndim != 2 or len(stack) == 0:
            raise ValueError("meter_adherence needs a non-empty list of equal-length profiles")
        stack = stack[stack.sum(axis=1) > 0]
        pooled.append(stack.mean(axis=0) if len(stack) else np.zeros(stack.shape[1]))
    return overlapped_area(*pooled)


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
def _unpack(song) -> tuple:
    """``(notes, tokens)`` or ``(notes, tokens, bar_starts, key)`` -> the four of them."""
    if len(song) == 2:
        return song[0], song[1], None, None
    if len(song) == 4:
        return tuple(song)
    raise ValueError(f"a song is (notes, tokens) or (notes, tokens, bar_starts, key), "
                     f"got {len(song)} items")


def _per_song(songs, steps_per_beat: int) -> list[dict]:
    return [song_figures(notes, tokens, steps_per_beat, bars, key)
            for notes, tokens, bars, key in map(_unpack, songs)]


def _known(per_song: list[dict], figure: str) -> np.ndarray:
    """The figure's values over songs, NaN (not defined for a song) left out."""
    values = np.array([f[figure] for f in per_song], dtype=np.float64)
    return values[~np.isnan(values)]


def set_figures(songs, reference_notes, index: NgramIndex | None,
                steps_per_beat: int, max_duration: int) -> dict:
    """The figures of a set of songs, keyed by :data:`SET_FIGURES`.

    A song is ``(notes, tokens)`` or ``(notes, tokens, bar_starts, key)``, the
    last two passed to :func:`song_figures` (either may be None). ``songs`` and
    ``mean_notes`` count the set; each :data:`SONG_FIGURES` entry is the mean
    over the songs where it is defined (not NaN), NaN if none; ``pitch_class_overlap``
    and ``duration_overlap`` are :func:`overlapped_area` of the histograms
    pooled over every note of the set vs pooled over every note of
    ``reference_notes``; ``copy_rate`` is the mean :meth:`NgramIndex.copy_rate`
    (NaN when ``index`` is None). Raises ``ValueError`` for an empty set.
    """
    songs = [_unpack(s) for s in songs]
    if not songs:
        raise ValueError("set_figures needs at least one song")
    per_song = _per_song(songs, steps_per_beat)
    pooled = np.concatenate([_as_notes(s[0]) for s in songs])
    reference = np.concatenate([_as_notes(r) for r in reference_notes] or [_as_notes([])])
    out = {"songs": len(songs), "mean_notes": len(pooled) / len(songs)}
    for k in SONG_FIGURES:
        values = _known(per_song, k)
        out[k] = float(values.mean()) if len(values) else math.nan
    out["pitch_class_overlap"] = overlapped_area(pitch_class_histogram(pooled),
                                                 pitch_class_histogram(reference))
    out["duration_overlap"] = overlapped_area(duration_histogram(pooled, max_duration),
                                              duration_histogram(reference, max_duration))
    out["copy_rate"] = (float(np.mean([index.copy_rate(s[1]) for s in songs]))
                        if index is not None else math.nan)
    return out


def figure_ranges(songs, steps_per_beat: int) -> dict[str, tuple[float, float]]:
    """``(min, max)`` over songs of each :data:`SONG_FIGURES` entry, NaN values left out.

    Songs as in :func:`set_figures`; ``(nan, nan)`` for a figure no song defines.
    """
    per_song = _per_song(songs, steps_per_beat)
    out = {}
    for k in SONG_FIGURES:
        values = _known(per_song, k)
        out[k] = (float(values.min()), float(values.max())) if len(values) else (math.nan,) * 2
    return out


def figure_quartiles(songs, steps_per_beat: int) -> dict[str, tuple[float, float, float]]:
    """``(25th percentile, median, 75th percentile)`` over songs of each :data:`SONG_FIGURES`
    entry (linear interpolation), NaN values left out; all NaN for a figure no song defines.

    Songs as in :func:`set_figures`.
    """
    per_song = _per_song(songs, steps_per_beat)
    out = {}
    for k in SONG_FIGURES:
        values = _known(per_song, k)
        out[k] = (tuple(float(v) for v in np.percentile(values, [25, 50, 75]))
                  if len(values) else (math.nan,) * 3)
    return out


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
