"""Composing songs with a :class:`trainer.compose.stepper.Stepper`: library code for the commands.

Each song is one stateful pass: the prime (``BOS``, or the start of a real
MIDI file) is fed once, then one LSTM step per new token. A seed names a song.
A harmonization is such a pass too, held by :class:`trainer.compose.harmony.Constraint`
to a melody read from a file (:func:`melody_of_file`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from trainer.compose import harmony as H
from trainer.compose.sampling import generate
from trainer.compose.stepper import Stepper
from trainer.errors import CadenzaError
from trainer.music import keys as K
from trainer.music import midi_io
from trainer.music.codec import Codec, Meta


def compose(stepper: Stepper, codec: Codec, prime, length: int, temperature: float,
            top_k: int, top_p: float, seed: int, key: int | None = None,
            meter: int | None = None, max_tokens: int | None = None, guard: bool = True,
            form=None):
    """``(notes, meta, token ids)`` of one song: ``prime`` continued up to ``length``
    notes (or ``EOS``), in the requested ``key`` and ``meter`` ids (None: the model's
    choice), a polyphonic model's chords kept to chords
    (:func:`trainer.compose.harmony.voicing_guard`) unless ``guard`` is False (the
    network alone, as an ablation measures it), its bars brought back where ``form``
    (a :class:`trainer.compose.form.FormHead`, or None) chooses. ``meta`` is None for a
    v1 codec;
    ``ids`` run from ``BOS``, without ``EOS``."""
    stepper.reset()
    new = generate(stepper.step, codec, prime, length, temperature, top_k, top_p, seed,
                   max_tokens=max_tokens, key=key, meter=meter,
                   constraint=H.voicing_guard(codec) if guard else None, form=form)
    ids = np.concatenate([np.asarray(prime, dtype=np.int32), new])
    notes, meta = codec.decode_song(ids)
    return notes, meta, ids


def prime_tokens(codec: Codec, prime_file: Path | None, prime_notes: int) -> np.ndarray:
    """``[BOS]``, or ``BOS`` + the first ``prime_notes`` notes of ``prime_file`` (no ``EOS``).

    A v2 prime also carries the file's key (its key signature where the notes
    agree, else the estimate), meter and bar lines.
    """
    if prime_file is None:
        return np.array([codec.bos_id], dtype=np.int32)
    raw = _read(prime_file, "--prime-file")
    if codec.version < 2:
        notes, meta = codec.quantise(raw.notes), None
    else:
        notes, meta, _ = codec.quantise_song(raw.notes, raw.meters, raw.key)
    if len(notes) == 0:
        raise CadenzaError(f"--prime-file {prime_file}: no notes in the piano range")
    head = notes[:prime_notes]
    if meta is not None:
        last = int(head[:, 0].max())
        meta = Meta(meta.key, meta.meter, tuple(b for b in meta.bars if b[0] <= last))
    return codec.encode(head, meta)[:-1]


def check_harmonizer(codec: Codec, where: str) -> None:
    """Raise :class:`CadenzaError` unless the model of folder ``where`` can harmonize:
    a polyphonic codec v2 model with bar lines."""
    if codec.config.mono:
        raise CadenzaError(f"{where} writes one line (a melody model): it cannot harmonize, "
                           "only continue a melody (sample --prime-file)")
    if codec.version < 2 or codec.bar_id is None:
        kind = f"a version-{codec.version} model" if codec.version < 2 else "a model without bars"
        raise CadenzaError(f"{where} is {kind}: harmonizing needs a codec v2 model with bar "
                           "lines, such as site/models/chorales")


def read_melody(path: Path, track: int = 0) -> midi_io.RawSong:
    """The raw notes of a melody file's non-drum ``track`` (from 1; 0: every one).
    Raises :class:`CadenzaError` naming the file for one that cannot be read or
    holds no usable notes."""
    return _read(path, "--melody-file", track)


def _read(path: Path, flag: str, track: int = 0) -> midi_io.RawSong:
    """:func:`trainer.music.midi_io.read_song` of the file a flag names; one CadenzaError
    line naming the flag and the file where it cannot be used (a FIFO, a device or a huge
    file is refused before it is read)."""
    try:
        return midi_io.read_song(path, track=track)
    except midi_io.UnusableMidi as e:
        raise CadenzaError(f"{flag} {path}: {e}") from None
    except OSError as e:
        raise CadenzaError(f"{flag} {path}: cannot read it ({e.strerror})") from None


def melody_of_file(codec: Codec, raw: midi_io.RawSong, path: Path, key=None, meter=None,
                   length: int | None = None) -> H.Melody:
    """The :class:`trainer.compose.harmony.Melody` of a file read by :func:`read_melody`: the
    top line of its notes, in ``key`` and ``meter`` (values as :mod:`trainer.music.keys`
    parses them; None: the file's, see :func:`trainer.compose.harmony.melody_line`).
    Raises :class:`CadenzaError` naming ``path`` for a melody with no notes or
    with more than ``length``."""
    try:
        melody = H.melody_line(codec, raw.notes, raw.meters, raw.key, key, meter)
    except CadenzaError as e:
        raise CadenzaError(f"--melody-file {path}: {e}") from None
    if length is not None and len(melody.notes) > length:
        raise CadenzaError(f"--melody-file {path}: the melody has {len(melody.notes)} notes, "
                           f"more than --length {length}; raise --length or shorten it")
    return melody


def harmonize_melody(stepper: Stepper, codec: Codec, melody: H.Melody, temperature: float,
                     top_k: int, top_p: float, seed: int, progress=None):
    """``(notes, meta, constraint)`` of ``melody`` harmonized in one stateful pass:
    the melody is the top voice, note for note; ``constraint.fallbacks`` counts
    the steps where the model's grammar and the melody's mask shared no token.
    ``progress``: see :func:`trainer.compose.harmony.harmonize`."""
    stepper.reset()
    ids, constraint = H.harmonize(stepper.step, codec, melody, temperature, top_k, top_p, seed,
                                  progress=progress)
    notes, meta = codec.decode_song(ids)
    return notes, meta, constraint


def song_seconds(notes: np.ndarray, steps_per_beat: int, tempo: float) -> float:
    if not len(notes):
        return 0.0
    return float((notes[:, 0] + notes[:, 1]).max()) / steps_per_beat * 60 / tempo


def describe(meta: Meta) -> str:
    """A song's key and meter as the commands print them: ``G major, 3/4``."""
    return f"{K.key_name(meta.key).replace(':', ' ')}, {K.meter_name(meta.meter)}"
