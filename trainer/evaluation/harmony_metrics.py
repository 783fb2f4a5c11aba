"""How a harmonization sounds against its melody: voices, outer-voice parallels, chords.

Used by ``python -m trainer evaluate-harmony`` on our harmonizations and on
Bach's own of the same soprano lines. :func:`figures` gives one song's counts,
:func:`pooled` the figures of a set of songs: counts pooled over every melody
onset (so a long song weighs more than a short one), shares of added notes
over every added note, scale consistency averaged over songs.
"""

from __future__ import annotations

import numpy as np

from trainer.compose.harmony import voices_per_onset
from trainer.evaluation import harmony_form as hf
from trainer.evaluation import music_metrics as mm
from trainer.music.codec import DUR, PITCH, START


def outer_parallels(notes: np.ndarray, melody: np.ndarray) -> int:
    """Parallel fifths and octaves (unisons too) between the melody and the bass.

    At each melody onset the bass is the lowest note sounding. Between two
    consecutive onsets where both voices move in the same direction, an
    interval of a perfect fifth (7 semitones mod 12) or an octave (0 mod 12)
    kept from one to the next counts once.
    """
    notes = np.asarray(notes, dtype=np.int64).reshape(-1, 3)
    starts, ends = notes[:, START], notes[:, START] + notes[:, DUR]
    pairs = []
    for start, _, pitch in np.asarray(melody, dtype=np.int64).reshape(-1, 3):
        under = notes[(starts <= start) & (ends > start), PITCH]
        pairs.append((int(pitch), int(under.min()) if len(under) else int(pitch)))
    count = 0
    for (s0, b0), (s1, b1) in zip(pairs, pairs[1:]):
        if s0 == b0 or s1 == b1:
            continue  # no second voice
        same_way = (s1 - s0) * (b1 - b0) > 0
        if same_way and (s0 - b0) % 12 == (s1 - b1) % 12 and (s1 - b1) % 12 in (0, 7):
            count += 1
    return count


def melody_on_top(notes: np.ndarray, melody: np.ndarray) -> int:
    """Melody onsets at which the melody note sounds and no note sounds above it."""
    notes = np.asarray(notes, dtype=np.int64).reshape(-1, 3)
    starts, ends = notes[:, START], notes[:, START] + notes[:, DUR]
    count = 0
    for start, _, pitch in np.asarray(melody, dtype=np.int64).reshape(-1, 3):
        sounding = notes[(starts <= start) & (ends > start), PITCH]
        struck = notes[(starts == start) & (notes[:, PITCH] == pitch)]
        count += int(len(struck) > 0 and int(sounding.max()) == int(pitch))
    return count


def added_notes(notes: np.ndarray, melody: np.ndarray) -> np.ndarray:
    """The notes that are not the melody's: each melody note takes away one note of its
    onset and pitch (a reference's melody notes may last longer than the line's,
    which is cut at the next onset)."""
    notes = np.asarray(notes, dtype=np.int64).reshape(-1, 3)
    keep = np.ones(len(notes), dtype=bool)
    for start, _, pitch in np.asarray(melody, dtype=np.int64).reshape(-1, 3):
        hit = np.flatnonzero(keep & (notes[:, START] == start) & (notes[:, PITCH] == pitch))
        if len(hit):
            keep[hit[0]] = False
    return notes[keep]


def figures(notes: np.ndarray, melody: np.ndarray, key) -> dict:
    """One harmonization of ``melody`` (both grid notes from the melody's first onset)
    in ``key``: counts that :func:`pooled` adds up, and its scale consistency."""
    melody = np.asarray(melody, dtype=np.int64).reshape(-1, 3)
    added = added_notes(notes, melody)
    onsets = set(melody[:, START].tolist())
    return {"onsets": len(melody),
            "voices": int(round(voices_per_onset(notes, melody) * len(melody))),
            "parallels": outer_parallels(notes, melody),
            "on_top": melody_on_top(notes, melody),
            "added_notes": len(added),
            "between_onsets": int(sum(int(s) not in onsets for s in added[:, START])),
            "added_scale_consistency": mm.scale_consistency(added, key) if len(added)
            else None,
            "chords": hf.counts(notes)}


def pooled(songs: list[dict]) -> dict:
    """The figures of a set of :func:`figures`: voices per melody onset, outer-voice
    parallel fifths and octaves per 100 onsets, the share of onsets with the melody
    on top, added notes per onset and the share of them between melody onsets, and
    the mean scale consistency of the added notes in the song's key; and over every
    onset of the whole texture, :mod:`trainer.evaluation.harmony_form`'s chordal share,
    seconds and outer parallels per 100 onset pairs (``onset_pair_parallels_per_100``)."""
    chords = hf.pooled([s["chords"] for s in songs])
    onsets = sum(s["onsets"] for s in songs)
    added = sum(s["added_notes"] for s in songs)
    scale = [s["added_scale_consistency"] for s in songs
             if s["added_scale_consistency"] is not None]
    return {"songs": len(songs), "onsets": onsets,
            "voices_per_onset": sum(s["voices"] for s in songs) / max(onsets, 1),
            "outer_parallels_per_100": 100 * sum(s["parallels"] for s in songs) / max(onsets, 1),
            "outer_parallels": sum(s["parallels"] for s in songs),
            "melody_on_top": sum(s["on_top"] for s in songs) / max(onsets, 1),
            "added_notes_per_onset": added / max(onsets, 1),
            "added_between_onsets": sum(s["between_onsets"] for s in songs) / max(added, 1),
            "added_scale_consistency": float(np.mean(scale)) if scale else None,
            "chordal_share": chords["chordal_share"], "seconds": chords["seconds"],
            "onset_pair_parallels_per_100": chords["outer_parallels_per_100"]}
