"""Keys and meters: their names, how users spell them, and a key estimate from notes.

A key is ``(tonic, mode)``: the tonic's pitch class 0..11 (C = 0) and
``"major"`` or ``"minor"``. A meter is ``(numerator, denominator)``. These
are the values the codec's ``KEY_<tonic>_<mode>`` and ``METER_<n>_<d>``
tokens stand for; :data:`METERS` are the meters with a token of their own,
every other meter shares ``METER_other``.

:func:`estimate_key` is the Krumhansl-Schmuckler estimate: the key whose
Krumhansl-Kessler profile correlates best with the song's duration-weighted
pitch-class histogram.
"""

from __future__ import annotations

import numpy as np

from trainer.errors import CadenzaError

TONICS = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MODES = ("major", "minor")
KEYS = tuple((t, m) for m in MODES for t in range(12))  # token order: 12 major, 12 minor
METERS = ((2, 4), (3, 4), (4, 4), (2, 2), (3, 8), (6, 8), (9, 8), (12, 8), (6, 4), (3, 2))
OTHER = "other"
DEFAULT_METER = (4, 4)

# Krumhansl & Kessler (1982) probe-tone profiles, tonic first.
KK_MAJOR = (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88)
KK_MINOR = (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17)
_PROFILES = np.array([np.roll(KK_MAJOR, t) for t in range(12)]
                     + [np.roll(KK_MINOR, t) for t in range(12)], dtype=np.float64)
_PROFILES = (_PROFILES - _PROFILES.mean(1, keepdims=True))
_PROFILES /= np.linalg.norm(_PROFILES, axis=1, keepdims=True)

_SPELLINGS = {"c": 0, "b#": 0, "c#": 1, "db": 1, "d": 2, "d#": 3, "eb": 3, "e": 4, "fb": 4,
              "f": 5, "e#": 5, "f#": 6, "gb": 6, "g": 7, "g#": 8, "ab": 8, "a": 9, "a#": 10,
              "bb": 10, "b": 11, "cb": 11}
# Church modes map to the major or minor key with the same tonic and third.
MODE_OF = {"major": "major", "maj": "major", "ionian": "major", "mixolydian": "major",
           "mix": "major", "lydian": "major", "lyd": "major",
           "minor": "minor", "min": "minor", "m": "minor", "aeolian": "minor", "aeo": "minor",
           "dorian": "minor", "dor": "minor", "phrygian": "minor", "phr": "minor",
           "locrian": "minor", "loc": "minor"}


def key_name(key: tuple[int, str]) -> str:
    """``(2, "minor")`` -> ``"D:minor"``: the spelling ``--key`` takes."""
    return f"{TONICS[key[0]]}:{key[1]}"


def meter_name(meter) -> str:
    """``(6, 8)`` -> ``"6/8"``; ``"other"`` stays."""
    return OTHER if meter == OTHER else f"{meter[0]}/{meter[1]}"


def parse_key(text: str) -> tuple[int, str] | None:
    """``"D:minor"``, ``"D minor"``, ``"Dm"``, ``"f#:major"``, ``"Ador"`` -> a key; ``"any"`` -> None.

    Raises :class:`CadenzaError` naming the valid spellings for anything else.
    """
    raw = str(text).strip()
    if raw.lower() == "any":
        return None
    s = raw.replace(":", " ").replace("_", " ").strip()
    parts = s.split()
    if len(parts) == 1:  # "Dm", "Gmaj", "Ador", "F#"
        word = parts[0]
        tonic_len = 2 if len(word) > 1 and word[1] in "#b" and word[:2].lower() in _SPELLINGS \
            else 1
        parts = [word[:tonic_len], word[tonic_len:] or "major"]
    if len(parts) == 2 and parts[0].lower() in _SPELLINGS and parts[1].lower() in MODE_OF:
        return _SPELLINGS[parts[0].lower()], MODE_OF[parts[1].lower()]
    raise CadenzaError(f"unknown key {raw!r}: use any, or a tonic (C, C#, Db, ..., B) and "
                       "major or minor, as in D:minor or Bb:major")


def parse_meter(text: str):
    """``"6/8"`` -> ``(6, 8)``; ``"other"`` stays; ``"any"`` -> None. Raises for others."""
    raw = str(text).strip().lower()
    if raw == "any":
        return None
    if raw == OTHER:
        return OTHER
    try:
        n, d = (int(x) for x in raw.split("/"))
    except ValueError:
        n = d = None
    if (n, d) in METERS:
        return n, d
    raise CadenzaError(f"unknown meter {text!r}: use any, other, or one of "
                       f"{', '.join(meter_name(m) for m in METERS)}")


def meter_token_value(meter: tuple[int, int]):
    """The meter a METER token stands for: itself if it has a token, else ``"other"``."""
    return tuple(meter) if tuple(meter) in METERS else OTHER


def bar_steps(meter: tuple[int, int], steps_per_beat: int) -> int | None:
    """Grid steps in one bar of ``meter`` (quarter-note beats of ``steps_per_beat``); None
    if the bar is not a whole number of steps."""
    n, d = meter
    steps = n * 4 * steps_per_beat / d
    return int(steps) if steps == int(steps) and steps >= 1 else None


def pitch_class_weights(notes) -> np.ndarray:
    """Duration-weighted pitch-class histogram ``(12,)`` of notes ``(start, dur, pitch)``."""
    notes = np.asarray(notes, dtype=np.int64).reshape(-1, 3)
    return np.bincount(notes[:, 2] % 12, weights=np.maximum(notes[:, 1], 1),
                       minlength=12).astype(np.float64)


def key_correlations(notes) -> np.ndarray:
    """Correlation of the song's profile with each of :data:`KEYS` ``(24,)``; zeros if flat."""
    w = pitch_class_weights(notes)
    w = w - w.mean()
    norm = np.linalg.norm(w)
    return _PROFILES @ w / norm if norm > 0 else np.zeros(24)


def estimate_key(notes) -> tuple[int, str]:
    """The Krumhansl-Schmuckler key of ``notes``: ``(tonic, mode)``; C major with no notes."""
    return KEYS[int(np.argmax(key_correlations(notes)))]


def same_signature(a: tuple[int, str], b: tuple[int, str]) -> bool:
    """Whether two keys share a key signature (equal, or relative major and minor)."""
    major = [(k[0] + (3 if k[1] == "minor" else 0)) % 12 for k in (a, b)]
    return major[0] == major[1]


def scale_of(key: tuple[int, str]) -> np.ndarray:
    """Pitch classes of the key's scale (major, or natural minor) as a bool mask ``(12,)``."""
    steps = (0, 2, 4, 5, 7, 9, 11) if key[1] == "major" else (0, 2, 3, 5, 7, 8, 10)
    mask = np.zeros(12, dtype=bool)
    mask[[(key[0] + s) % 12 for s in steps]] = True
    return mask


def choose_key(file_key: tuple[int, str] | None, notes,
               stated: bool = False) -> tuple[tuple[int, str], str]:
    """``(key, "file" | "estimate")``: the file's key signature where it agrees with the
    estimate from the notes (the same signature: equal, or its relative), else the estimate.

    A key signature is a set of sharps or flats; the estimator tells relative
    major and minor apart less well than the file does, so on the same
    signature the file's mode wins. ``stated``: the file's key is the song's
    real key (it comes from a source that names tonic and mode, such as an ABC
    tune's ``K:``; :data:`trainer.music.midi_io.STATED_KEYS`), used wherever there is one.
    """
    if file_key is not None and stated:
        return (int(file_key[0]), str(file_key[1])), "file"
    estimate = estimate_key(notes)
    if file_key is not None and same_signature(tuple(file_key), estimate):
        return (int(file_key[0]), str(file_key[1])), "file"
    return estimate, "estimate"
