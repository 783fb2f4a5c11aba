"""Whether songs sound like their kind: chords that are chords, and bars that come back.

The figures of issue 26, exactly as it defines them, so that anyone's figures
agree with ours. They are reported by ``python -m trainer evaluate`` (free
songs against the human test songs) and ``python -m trainer evaluate-harmony``
(harmonizations against Bach's):

- an **onset** is a distinct start time where at least 2 notes sound (notes
  starting there and notes still held from before);
- **chordal share**: the share of onsets whose sounding pitch classes are a
  subset of one of :data:`trainer.compose.harmony.CHORDS` on any root (the
  triads and sevenths that harmonizing keeps to);
- **seconds**: the share of onsets where two adjacent sounding pitches (sorted,
  distinct) are 1 or 2 semitones apart;
- **outer parallels**: between consecutive start times that are both onsets,
  the cases where the lowest and the highest pitch both move the same way and
  the interval between them is a perfect fifth at both or an octave (mod 12)
  at both; per 100 such pairs (a fifth moving to an octave is a hidden
  octave, not a parallel: counting it too gave Bach's test chorales 2.5 per
  100 instead of the issue's 0.15);
- **bar repeats**: :func:`trainer.evaluation.music_metrics.bar_repeat_share`
  of each song (a bar repeats when its set of (onset in the bar, duration,
  pitch minus the bar's lowest pitch) equals an earlier bar's), as a median,
  quartiles and mean over songs.

The first three are pooled over every onset of a set of songs, so a long song
weighs more than a short one; a set of one-line songs has no onsets and gets
None for them. Numpy only.
"""

from __future__ import annotations

import numpy as np

from trainer.compose.harmony import CHORD_SETS
from trainer.evaluation import music_metrics as mm
from trainer.music.codec import DUR, PITCH, START


def sounding(notes: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """``(start time, sorted sounding pitches)`` at each distinct start time of ``notes``."""
    notes = np.asarray(notes, dtype=np.int64).reshape(-1, 3)
    starts, ends = notes[:, START], notes[:, START] + notes[:, DUR]
    return [(int(t), np.sort(notes[(starts <= t) & (ends > t), PITCH]))
            for t in np.unique(starts)]


def is_chord(pitches: np.ndarray) -> bool:
    """Whether the pitch classes of ``pitches`` are a subset of a chord of ``CHORD_SETS``."""
    classes = 0
    for p in pitches:
        classes |= 1 << int(p % 12)
    return any(classes & ~chord == 0 for chord in CHORD_SETS)


def has_second(pitches: np.ndarray) -> bool:
    """Whether two adjacent distinct pitches of sorted ``pitches`` are 1 or 2 semitones apart."""
    steps = np.diff(np.unique(pitches))
    return bool(((steps == 1) | (steps == 2)).any())


def counts(notes: np.ndarray) -> dict:
    """One song's counts that :func:`pooled` adds up: ``onsets``, ``chordal``,
    ``seconds``, ``pairs`` (consecutive start times both onsets) and ``parallels``."""
    times = sounding(notes)
    out = {"onsets": 0, "chordal": 0, "seconds": 0, "pairs": 0, "parallels": 0}
    previous = None  # the sounding pitches of the last start time, if an onset
    for _, pitches in times:
        if len(pitches) < 2:
            previous = None
            continue
        out["onsets"] += 1
        out["chordal"] += is_chord(pitches)
        out["seconds"] += has_second(pitches)
        if previous is not None:
            out["pairs"] += 1
            low0, high0, low1, high1 = previous[0], previous[-1], pitches[0], pitches[-1]
            same_way = (low1 - low0) * (high1 - high0) > 0
            interval = (high0 - low0) % 12
            out["parallels"] += bool(same_way and interval in (0, 7)
                                     and (high1 - low1) % 12 == interval)
        previous = pitches
    return out


def pooled(song_counts: list[dict]) -> dict:
    """The chordal share, seconds and outer parallels per 100 onset pairs of a set of
    :func:`counts`, with the onsets and pairs they come from; None where there are none."""
    total = {k: sum(c[k] for c in song_counts) for k in
             ("onsets", "chordal", "seconds", "pairs", "parallels")}
    onsets, pairs = total["onsets"], total["pairs"]
    return {"chordal_share": total["chordal"] / onsets if onsets else None,
            "seconds": total["seconds"] / onsets if onsets else None,
            "outer_parallels_per_100": 100 * total["parallels"] / pairs if pairs else None,
            "onsets": onsets, "onset_pairs": pairs, "outer_parallels": total["parallels"]}


def bar_repeats(shares) -> dict:
    """Median, quartiles and mean of the songs' bar-repeat shares."""
    shares = np.asarray(list(shares), dtype=np.float64)
    if not len(shares):
        return {"median": None, "q25": None, "q75": None, "mean": None, "songs": 0}
    q25, median, q75 = np.percentile(shares, [25, 50, 75])
    return {"median": float(median), "q25": float(q25), "q75": float(q75),
            "mean": float(shares.mean()), "songs": len(shares)}


def repeat_share(notes, bars, steps_per_beat: int) -> float:
    """One song's bar-repeat share at its bar lines ``bars``; None (or none) means 4/4
    bars from step 0 (:func:`trainer.evaluation.music_metrics.four_four_bars`)."""
    return mm.bar_repeat_share(notes, mm.four_four_bars(notes, steps_per_beat)
                               if bars is None or not len(bars) else bars)


def figures(songs, steps_per_beat: int) -> dict:
    """Every figure of a set of songs, each ``(notes, bar_starts)``; bar_starts None
    means 4/4 bars from step 0 (:func:`trainer.evaluation.music_metrics.four_four_bars`)."""
    songs = list(songs)
    out = pooled([counts(notes) for notes, _ in songs])
    out["bar_repeats"] = bar_repeats(repeat_share(notes, bars, steps_per_beat)
                                     for notes, bars in songs)
    return out


def _share(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def report_lines(columns: dict[str, dict]) -> list[str]:
    """The figures of named sets (:func:`figures`) as report lines, one column each."""
    names = list(columns)
    rows = [("chordal share (onsets that are triads or sevenths)",
             [_share(c["chordal_share"]) for c in columns.values()]),
            ("onsets with adjacent voices a 2nd apart",
             [_share(c["seconds"]) for c in columns.values()]),
            ("outer parallel 5ths/8ves per 100 onset pairs",
             ["-" if c["outer_parallels_per_100"] is None else
              f"{c['outer_parallels_per_100']:.2f}" for c in columns.values()]),
            ("bars repeating an earlier bar: median",
             [_share(c["bar_repeats"]["median"]) for c in columns.values()]),
            ("  quartiles",
             ["-" if c["bar_repeats"]["median"] is None else
              f"{c['bar_repeats']['q25']:.2f}..{c['bar_repeats']['q75']:.2f}"
              for c in columns.values()]),
            ("  mean", [_share(c["bar_repeats"]["mean"]) for c in columns.values()])]
    width = max(12, *(len(n) + 2 for n in names))
    lines = [f"  {'':<52}" + "".join(f"{n:>{width}}" for n in names)]
    lines += [f"  {label:<52}" + "".join(f"{v:>{width}}" for v in values)
              for label, values in rows]
    return lines
