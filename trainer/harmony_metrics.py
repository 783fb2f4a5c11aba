"""How a harmonization sounds against its melody: voices and outer-voice parallels.

Used by ``python -m trainer evaluate-harmony`` on our harmonizations and on
Bach's own of the same soprano lines.
"""

from __future__ import annotations

import numpy as np

from trainer.codec import DUR, PITCH, START


def voices_per_onset(notes: np.ndarray, melody: np.ndarray) -> float:
    """Mean number of notes sounding at each melody onset (the melody's own included)."""
    notes = np.asarray(notes, dtype=np.int64).reshape(-1, 3)
    starts, ends = notes[:, START], notes[:, START] + notes[:, DUR]
    counts = [int(((starts <= t) & (ends > t)).sum()) for t in np.asarray(melody)[:, START]]
    return float(np.mean(counts)) if counts else 0.0


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
