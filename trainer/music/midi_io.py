"""MIDI in and out; the only module that imports mido, pretty_midi or music21.

``read_midi`` turns a file into raw notes (onset and end in quarter-note beats
read from the file's tempo map, MIDI pitch) or raises :class:`UnusableMidi`
with a short reason. ``write_midi`` writes grid notes as a one-instrument file.
The built-in corpora (music21's bundled Bach chorales and folk tunes) are
exported to MIDI here, one *unit* (a chorale, or a file of tunes) per call.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import mido
import numpy as np
import pretty_midi

from trainer import constants as C
from trainer.errors import CadenzaError, Unreadable, read_checked


class UnusableMidi(Exception):
    """A file cannot be used; ``str(e)`` is a one-line reason for the user."""


@dataclass(frozen=True)
class RawSong:
    """A file's raw notes (as :func:`read_midi` returns them) and what it says beside them.

    ``meters``: its time signatures as ``(beat, numerator, denominator)``;
    ``key``: its first key signature as ``(tonic 0..11, "major" | "minor")``, or None.
    """

    notes: np.ndarray
    meters: tuple[tuple[float, int, int], ...] = ()
    key: tuple[int, str] | None = None


def read_midi(path: Path, programs: tuple[int, ...] = ()) -> np.ndarray:
    """Raw notes of every non-drum instrument (or of ``programs``) in ``path``.

    Returns a float array ``(n, 3)``: onset and end in quarter-note beats, MIDI
    pitch. Raises :class:`UnusableMidi` for an empty, non-MIDI, corrupt,
    drums-only or note-less file, or one with an absurd tempo or length.
    """
    return parse_midi(read_bytes(path), programs)


def read_bytes(path: Path) -> bytes:
    """The bytes of the MIDI file ``path``, checked before they are read: raises
    :class:`UnusableMidi` for something that is not a regular file (a FIFO or a
    device would block, or never end) or holds more than
    :data:`trainer.constants.MAX_MIDI_BYTES`; OSError where it cannot be read."""
    try:
        return read_checked(path, C.MAX_MIDI_BYTES)
    except Unreadable as e:
        if e.size is None:
            raise UnusableMidi(str(e)) from None
        raise UnusableMidi(f"{e.size:,} bytes, more than the {C.MAX_MIDI_BYTES:,} a MIDI "
                           "file may hold here") from None


def parse_midi(data: bytes, programs: tuple[int, ...] = ()) -> np.ndarray:
    """:func:`read_midi` of a file's bytes."""
    return parse_song(data, programs).notes


def read_song(path: Path, programs: tuple[int, ...] = (), track: int = 0) -> RawSong:
    """:func:`read_midi` with the file's time and key signatures; ``track`` (from 1)
    keeps only that non-drum track (0: every one, see :func:`parse_song`)."""
    return parse_song(read_bytes(path), programs, track)


def _check_chunks(data: bytes) -> None:
    """Raise :class:`UnusableMidi` where the header or one of the tracks it counts claims
    more bytes than the file has after it (a truncated file, or a damaged length such as
    2 GB), or a counted track is missing, naming the figures; the parser's own words for
    it ("EOFError") say nothing to a user. Bytes after the counted tracks are not read,
    by mido either. web/src/files/midifile.js checkFile is its twin."""
    if len(data) < 14:  # MThd, its length, then format, track count and division
        raise UnusableMidi("truncated or damaged: the header is cut short")
    tracks = int.from_bytes(data[10:12], "big")
    at = 0
    for number in range(tracks + 1):
        if at + 8 > len(data):
            raise UnusableMidi(f"truncated or damaged: the header counts {tracks:,} tracks, "
                               f"and only {number - 1:,} follow")
        size = int.from_bytes(data[at + 4:at + 8], "big")
        left = len(data) - at - 8
        if size > left:
            what = "the header" if number == 0 else f"track {number}"
            raise UnusableMidi(f"truncated or damaged: {what} claims {size:,} bytes, and "
                               f"only {left:,} follow")
        at += 8 + size


def parse_song(data: bytes, programs: tuple[int, ...] = (), track: int = 0) -> RawSong:
    """:func:`read_song` of a file's bytes.

    The non-drum tracks are counted from 1 in the order the file holds them;
    a track that mixes several channels or programs counts once for each
    (pretty_midi's instruments), and one without notes does not count. A
    ``track`` beyond them raises :class:`UnusableMidi` naming how many there are.
    """
    if not data:
        raise UnusableMidi("empty file")
    if not data.startswith(b"MThd"):
        raise UnusableMidi("not a MIDI file (no MThd header)")
    _check_chunks(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            midi = mido.MidiFile(file=io.BytesIO(data))
            # pretty_midi fails on an empty track chunk; the other tracks are fine.
            midi.tracks = [t for t in midi.tracks if len(t)]
            if not midi.tracks:
                raise UnusableMidi("no tracks")
            smpte_tempi = _smpte_to_metrical(midi) if midi.ticks_per_beat < 0 else None
            _lengthen_zero_length_notes(midi)
            pm = pretty_midi.PrettyMIDI(mido_object=midi)
    except UnusableMidi:
        raise
    except Exception as e:  # mido and pretty_midi raise many types on bad bytes
        raise UnusableMidi(f"unreadable MIDI ({_first_line(e)})") from None
    tempo_times, tempi = pm.get_tempo_changes() if smpte_tempi is None else smpte_tempi
    if len(tempi) and not (C.MIN_TEMPO_BPM <= tempi.min() and tempi.max() <= C.MAX_TEMPO_BPM):
        bad = tempi.min() if tempi.min() < C.MIN_TEMPO_BPM else tempi.max()
        raise UnusableMidi(f"absurd tempo {bad:.6g} BPM")
    pitched = [i for i in pm.instruments if not i.is_drum]
    chosen = [i for i in pitched if not programs or i.program in programs]
    tracks = [i for i in chosen if i.notes]
    if track and tracks:  # without any notes the file is refused below, for that
        if track > len(tracks):
            raise UnusableMidi(f"there is no track {track}: the file has {len(tracks)} "
                               f"non-drum track{'s' if len(tracks) != 1 else ''} with notes"
                               + (f", numbered 1 to {len(tracks)}" if len(tracks) > 1 else ""))
        chosen = [tracks[track - 1]]
    if not chosen:
        if pm.instruments and not pitched:
            raise UnusableMidi("drums only")
        if pitched:
            raise UnusableMidi(f"no instrument with program {'/'.join(map(str, programs))}")
        raise UnusableMidi("no notes")
    seconds = np.array([(n.start, n.end, n.pitch) for i in chosen for n in i.notes],
                       dtype=np.float64).reshape(-1, 3)
    if len(seconds) == 0:
        raise UnusableMidi("no notes")
    if seconds[:, 1].max() > C.MAX_SONG_SECONDS:
        raise UnusableMidi(f"absurd length ({seconds[:, 1].max() / 3600:.1f} hours)")
    beats = seconds.copy()
    beats[:, :2] = _seconds_to_beats(seconds[:, :2], tempo_times, tempi)
    if beats[:, 1].max() > C.MAX_SONG_BEATS:
        raise UnusableMidi(f"absurd length ({beats[:, 1].max():.0f} beats)")
    signatures = [ts for ts in pm.time_signature_changes
                  if ts.numerator >= 1 and ts.denominator >= 1]
    at = _seconds_to_beats(np.array([ts.time for ts in signatures], dtype=np.float64),
                           tempo_times, tempi) if signatures else []
    meters = tuple((float(b), int(ts.numerator), int(ts.denominator))
                   for b, ts in zip(at, signatures))
    keys = [k.key_number for k in pm.key_signature_changes if 0 <= k.key_number < 24]
    key = (keys[0] % 12, "minor" if keys[0] >= 12 else "major") if keys else None
    return RawSong(beats, meters, key)


def _smpte_to_metrical(midi: mido.MidiFile) -> tuple[np.ndarray, np.ndarray]:
    """Make an SMPTE-timed file (ticks are fractions of a second) metrical, in place.

    The header's division holds minus the frames per second (24, 25, 29 for
    29.97 drop-frame, 30) and the ticks per frame; tempo events do not change
    the length of a tick. The file gets the resolution and one constant tempo
    that give its ticks their length in seconds. Returns the tempo map its
    own tempo events state, ``(times in seconds, BPM)``, which sets the beats.
    """
    fps, per_frame = -(midi.ticks_per_beat >> 8), midi.ticks_per_beat & 0xFF
    if fps not in (24, 25, 29, 30) or per_frame == 0:
        raise UnusableMidi(f"bad SMPTE division ({fps} frames/s, {per_frame} ticks/frame)")
    exact_fps = 30000 / 1001 if fps == 29 else fps
    per_second = exact_fps * per_frame
    midi.ticks_per_beat = fps * per_frame
    constant = round(1e6 * fps / exact_fps)  # microseconds per "beat" of fps * per_frame ticks
    times, tempi = [], []
    for track in midi.tracks:
        tick = 0
        for i, msg in enumerate(track):
            tick += msg.time
            if msg.type == "set_tempo":
                times.append(tick / per_second)
                tempi.append(6e7 / msg.tempo if msg.tempo else np.inf)
                track[i] = msg.copy(tempo=constant)
    midi.tracks[0].insert(0, mido.MetaMessage("set_tempo", tempo=constant, time=0))
    order = np.argsort(times, kind="stable")
    times, tempi = np.asarray(times, dtype=np.float64)[order], np.asarray(tempi)[order]
    if not len(times) or times[0] > 0:  # before the first tempo event: 120 BPM, as for pretty_midi
        times, tempi = np.r_[0.0, times], np.r_[120.0, tempi]
    return times, tempi


def _lengthen_zero_length_notes(midi: mido.MidiFile) -> None:
    """End one tick later each note whose note-off shares its note-on's tick.

    pretty_midi drops such notes, yet they are real (percussive and
    tracker-style exports write them); the codec gives each one grid step.
    A note-off is moved only when pretty_midi would close no note with it:
    when every open note of its channel and pitch began on this very tick.
    """
    for track in midi.tracks:
        tick, timed, open_since, moved = 0, [], {}, False
        for msg in track:
            tick += msg.time
            at = tick
            if msg.type == "note_on" and msg.velocity > 0:
                open_since.setdefault((msg.channel, msg.note), []).append(tick)
            elif msg.type in ("note_on", "note_off"):
                starts = open_since.pop((msg.channel, msg.note), [])
                if starts and all(s == tick for s in starts):
                    at, moved = tick + 1, True
                elif tick in starts:  # pretty_midi keeps notes struck on this tick open
                    open_since[(msg.channel, msg.note)] = [s for s in starts if s == tick]
            timed.append((at, msg))
        if moved:
            timed.sort(key=lambda e: e[0])  # stable: same-tick order is kept
            previous = 0
            for at, msg in timed:
                msg.time, previous = at - previous, at
            track[:] = [msg for _, msg in timed]


def _seconds_to_beats(t: np.ndarray, tempo_times: np.ndarray, tempi: np.ndarray) -> np.ndarray:
    """Quarter-note beats at times ``t`` under a piecewise-constant tempo map."""
    if len(tempi) == 0:
        tempo_times, tempi = np.zeros(1), np.full(1, 120.0)
    beats_at = np.r_[0.0, np.cumsum(np.diff(tempo_times) * tempi[:-1] / 60.0)]
    i = np.clip(np.searchsorted(tempo_times, t, side="right") - 1, 0, len(tempi) - 1)
    return beats_at[i] + (t - tempo_times[i]) * tempi[i] / 60.0


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:120]}" if text else type(e).__name__


def program_of(instrument: str) -> int:
    """General MIDI program number of an instrument name such as 'Acoustic Grand Piano'."""
    try:
        return pretty_midi.instrument_name_to_program(instrument)
    except ValueError:
        raise CadenzaError(f"unknown General MIDI instrument {instrument!r} "
                           "(e.g. 'Acoustic Grand Piano', 'Violin', 'Flute')") from None


def write_midi(notes: np.ndarray, path: Path, steps_per_beat: int,
               tempo: float = C.TEMPO_BPM, instrument: str = C.INSTRUMENT,
               velocity: int = C.DEFAULT_VELOCITY, meta=None) -> None:
    """Write grid notes ``(start, dur, pitch)`` as a one-track MIDI file at ``tempo``,
    with the key and time signatures of ``meta`` (a :class:`trainer.music.codec.Meta`) if given."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    pad = _write_meta(pm, meta, steps_per_beat, 60.0 / tempo / steps_per_beat) \
        if meta is not None else 0
    track = pretty_midi.Instrument(program=program_of(instrument), name=instrument)
    seconds_per_step = 60.0 / tempo / steps_per_beat
    for start, dur, pitch in np.asarray(notes).reshape(-1, 3):
        start = start + pad
        track.notes.append(pretty_midi.Note(velocity=velocity, pitch=int(pitch),
                                            start=start * seconds_per_step,
                                            end=(start + dur) * seconds_per_step))
    pm.instruments.append(track)
    tmp = Path(path).with_name(f".{Path(path).name}.tmp")
    try:
        pm.write(str(tmp))  # whole or not at all: a full disk leaves no half song
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def pickup_pad(meta, steps_per_beat: int) -> int:
    """Steps of rest :func:`write_midi` puts before a song with a pickup (0 without one)."""
    from trainer.music.keys import bar_steps

    bar = bar_steps(meta.meter, steps_per_beat) if meta.meter != "other" else None
    first = meta.bars[0][0] if meta.bars else 0
    return (bar - first) % bar if bar and first else 0


def _write_meta(pm, meta, steps_per_beat: int, seconds_per_step: float) -> int:
    """Add the key signature and the time signatures; return the steps of rest that
    pad a pickup to a whole bar, so the file's bar lines fall where the song's do."""
    tonic, mode = meta.key
    pm.key_signature_changes.append(
        pretty_midi.KeySignature(int(tonic) + (12 if mode == "minor" else 0), 0.0))
    pad = pickup_pad(meta, steps_per_beat)
    current = None
    for step, meter in [(-pad, meta.meter), *meta.bars]:
        if meter != current and meter != "other":
            pm.time_signature_changes.append(pretty_midi.TimeSignature(
                int(meter[0]), int(meter[1]), (step + pad) * seconds_per_step))
        current = meter
    return pad


# --- built-in corpora (music21) ----------------------------------------------

FOLK_COLLECTION = "oneills1850"
# Built-in corpora whose sources name each song's tonic and mode (an ABC tune's
# K: line), so the exported key signature is the song's key as it stands. The
# chorales' MusicXML states a signature with a mode label, which is read off
# the signature: a G minor chorale notated with one flat (dorian) reads as D
# minor (24 chorales whose estimate is a fourth above their stated minor key
# end on the estimate's tonic 18 times, on the stated one 3 times), so theirs
# is checked against the notes, as a MIDI file's is.
STATED_KEYS = ("folk",)


def builtin_units(corpus: str) -> list[str]:
    """The export units of a built-in corpus: chorale names, or ABC file paths."""
    from music21 import corpus as m21corpus

    if corpus == "chorales":
        names = m21corpus.chorales.Iterator(returnType="filename")
        return sorted(set(names))
    if corpus == "folk":
        return sorted(str(p) for p in m21corpus.getPaths(fileExtensions=("abc",))
                      if f"/{FOLK_COLLECTION}/" in str(p).replace("\\", "/"))
    raise CadenzaError(f"unknown built-in corpus {corpus!r}")


def builtin_version() -> str:
    """Identifies the music21 release and export code the built-in corpora come from."""
    import music21

    return f"music21-{music21.__version__}-v{C.EXPORT_VERSION}"


def export_unit(corpus: str, unit: str, out_dir: Path) -> list[tuple[str, str | None]]:
    """Export one unit to ``out_dir``; returns ``(song name, error or None)`` per song."""
    from music21 import converter
    from music21 import corpus as m21corpus

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if corpus == "chorales":
            name = unit.replace("/", "_")
            try:
                _write_notes(m21corpus.parse(unit), out_dir / f"{name}.mid")
                return [(name, None)]
            except Exception as e:  # music21 raises many types on odd scores
                return [(name, f"music21 could not export it ({_first_line(e)})")]
        stem = f"{FOLK_COLLECTION}_{Path(unit).stem}"
        try:
            parsed = converter.parse(unit)  # an Opus of tunes, or one Score
            scores = list(parsed.scores) if hasattr(parsed, "scores") else [parsed]
        except Exception as e:
            return [(stem, f"music21 could not parse it ({_first_line(e)})")]
        out = []
        for k, score in enumerate(scores):
            number = score.metadata.number if score.metadata and score.metadata.number else k
            name = f"{FOLK_COLLECTION}_{_safe(str(number))}"
            try:
                _write_notes(score, out_dir / f"{name}.mid")
                out.append((name, None))
            except Exception as e:
                out.append((name, f"music21 could not export it ({_first_line(e)})"))
        return out


def _write_notes(score, path: Path) -> None:
    """Write a score's sounding notes as played (repeats expanded where music21
    can; ties merged; no grace notes or chord symbols) at 120 BPM, with its
    time signatures and first key. A pickup is padded with rest to a whole
    bar, so the file's bar lines fall where the score's do (music21's own
    writer starts the pickup at time 0). music21's MIDI writer also fails on
    about one ABC tune in five (a time signature "already found in this
    Stream")."""
    from music21 import harmony, key

    try:
        score = score.expandRepeats()
    except Exception:  # badly formed repeats: keep the tune as written
        pass
    flat = score.stripTies().flatten()
    pad = _pickup_padding(score)
    beats = []
    for n in flat.notes:
        if isinstance(n, harmony.Harmony) or n.duration.isGrace:
            continue
        start = float(n.offset) + pad
        beats += [(start, start + float(n.quarterLength), p.midi) for p in n.pitches]
    if not beats:
        raise ValueError("no notes")
    pm = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    track = pretty_midi.Instrument(program=0)
    track.notes = [pretty_midi.Note(C.DEFAULT_VELOCITY, int(p), a / 2, b / 2)
                   for a, b, p in beats]  # 120 BPM: a beat is half a second
    pm.instruments.append(track)
    seen = set()
    for offset, ts in _time_signatures(score):
        at = 0.0 if offset == 0 else offset + pad
        n, d = int(ts.numerator), int(ts.denominator)
        if n < 1 or d < 1 or d & (d - 1):  # MIDI stores the denominator as a power of 2
            continue  # such a meter (an ABC tune's 1/12) is not written; the last one holds
        if at not in seen:  # one per time: parts repeat them
            seen.add(at)
            pm.time_signature_changes.append(
                pretty_midi.TimeSignature(n, d, at / 2))
    keys = list(flat.getElementsByClass(key.KeySignature))
    if keys and isinstance(keys[0], key.Key):  # a bare signature states no mode: not written
        k = keys[0]
        minor = k.mode in ("minor", "aeolian", "dorian", "phrygian", "locrian")
        pm.key_signature_changes.append(
            pretty_midi.KeySignature(k.tonic.pitchClass + 12 * minor, 0.0))
    tmp = path.with_suffix(".tmp")
    pm.write(str(tmp))
    tmp.replace(path)


def _time_signatures(score) -> list[tuple[float, object]]:
    """``(offset, TimeSignature)`` at the start of each measure of the score's first part
    that has one, in time order.

    Not ``score.flatten()``'s: music21's ABC reader puts one TimeSignature
    object in several measures (the tune's own meter, again after a short
    bar), and a flat stream holds an object once, at its last offset, so the
    tune's opening meter went missing there (O'Neill's 165: 6/8 from beat 0
    read as 4/4 until beat 19).
    """
    part = score.parts[0] if hasattr(score, "parts") and len(score.parts) else score
    measures = list(part.getElementsByClass("Measure"))
    if not measures:  # a stream without measures: its own time signatures
        return [(float(ts.offset), ts) for ts in part.flatten().getElementsByClass("TimeSignature")]
    return [(float(m.offset), m.timeSignature) for m in measures if m.timeSignature is not None]


def _pickup_padding(score) -> float:
    """Quarter notes of rest that make a short first bar (a pickup) whole."""
    try:
        part = score.parts[0] if hasattr(score, "parts") and len(score.parts) else score
        first = part.getElementsByClass("Measure")[0]
        bar = float(first.barDuration.quarterLength)
        held = float(first.highestTime)
    except Exception:  # no measures, or no time signature: nothing to pad
        return 0.0
    return bar - held if 0 < held < bar else 0.0


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "x"
