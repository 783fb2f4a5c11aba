"""MIDI -> small compressed audio, through fluidsynth and libsndfile.

``synthesize`` plays a MIDI file through a General MIDI soundfont with the
``fluidsynth`` command and returns mono float samples; ``encode`` writes
samples as ``.mp3`` or ``.ogg``; ``read_audio`` decodes such a file back.
``render_audio`` chains them for example songs. The encoder and decoder are
libsndfile (1.1 or newer writes MP3), reached through ``ctypes``: Debian's
fluidsynth already depends on it, so the only packages needed are
``fluidsynth`` and ``fluid-soundfont-gm``. A missing tool or soundfont raises
:class:`CadenzaError` naming the command that installs it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from trainer.errors import CadenzaError

APT_HINT = "apt-get install -y fluidsynth fluid-soundfont-gm"
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")  # Debian's fluid-soundfont-gm
SOUNDFONT_ENV = "CADENZA_SOUNDFONT"  # overrides SOUNDFONT
SAMPLE_RATE = 44_100
FLUID_GAIN = 1.0  # fluidsynth -g; float output never clips, levels are set afterwards
SONG_KBPS = 64  # mono MP3 bitrate of a rendered song
PEAK_DB = -1.0  # rendered audio is scaled so its loudest sample sits here (dBFS)
SILENCE_DB = -60.0  # below the peak by this much counts as silence when trimming
AUDIBLE_DB = -80.0  # a rendering whose peak is below this (dBFS) is silent: no notes
FADE_SECONDS = 0.05  # fade applied where a trim cuts a tail
SUFFIXES = (".mp3", ".ogg")
RENDER_TIMEOUT_S = 600

# libsndfile's sndfile.h: file modes, formats and sf_command() codes.
_SFM_READ, _SFM_WRITE = 0x10, 0x20
_FORMATS = {".mp3": 0x230000 | 0x0082,  # SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III
            ".ogg": 0x200000 | 0x0060}  # SF_FORMAT_OGG | SF_FORMAT_VORBIS
_SFC_GET_LIB_VERSION = 0x1000
_SFC_SET_COMPRESSION_LEVEL = 0x1301
_SFC_SET_BITRATE_MODE = 0x1305
_SF_BITRATE_MODE_AVERAGE = 1


def soundfont_path() -> Path:
    """The soundfont to render with: ``$CADENZA_SOUNDFONT``, else Debian's FluidR3_GM.

    Raises :class:`CadenzaError` when that file does not exist.
    """
    path = Path(os.environ.get(SOUNDFONT_ENV) or SOUNDFONT)
    if not path.is_file():
        raise CadenzaError(f"soundfont {path} not found; install it with: {APT_HINT} "
                           f"(or point ${SOUNDFONT_ENV} at a .sf2 file)")
    return path


def fluidsynth_path() -> str:
    """The ``fluidsynth`` executable; raises :class:`CadenzaError` when it is not on PATH."""
    exe = shutil.which("fluidsynth")
    if exe is None:
        raise CadenzaError(f"fluidsynth is not installed; install it with: {APT_HINT}")
    return exe


def synthesize(midi_path: Path, soundfont: Path | None = None, reverb: bool = True,
               sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Mono ``float32`` samples of ``midi_path`` played through ``soundfont``.

    Chorus is always off; ``reverb`` toggles fluidsynth's reverb. The result
    runs until fluidsynth's last voice has died away. It is rendered as float
    at gain 1, so nothing clips, and is not normalised (see ``normalise``).
    """
    exe, soundfont = fluidsynth_path(), soundfont or soundfont_path()
    with tempfile.TemporaryDirectory(prefix="cadenza-render-") as tmp:
        raw = Path(tmp) / "out.raw"  # headerless native-endian float32, stereo
        command = [exe, "-n", "-i", "-q", "-g", str(FLUID_GAIN), "-r", str(sample_rate),
                   "-R", "1" if reverb else "0", "-C", "0", "-T", "raw", "-O", "float",
                   "-F", str(raw), str(soundfont), str(midi_path)]
        try:
            done = subprocess.run(command, capture_output=True, text=True,
                                  timeout=RENDER_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise CadenzaError(f"fluidsynth took over {RENDER_TIMEOUT_S} s on {midi_path}") from None
        if done.returncode != 0 or not raw.is_file():
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise CadenzaError(f"fluidsynth failed on {midi_path}: {last}")
        stereo = np.fromfile(raw, dtype=np.float32)
    return stereo[: len(stereo) // 2 * 2].reshape(-1, 2).mean(axis=1)


def trim(samples: np.ndarray, sample_rate: int = SAMPLE_RATE, leading: bool = False,
         silence_db: float = SILENCE_DB, fade_seconds: float = FADE_SECONDS) -> np.ndarray:
    """``samples`` without the trailing (and, if ``leading``, leading) silence.

    Silence is anything ``silence_db`` below the peak. The kept end fades out
    over ``fade_seconds`` so the cut cannot click. All-silent input gives an
    empty array.
    """
    level = np.abs(samples)
    loud = np.flatnonzero(level > level.max(initial=0.0) * 10 ** (silence_db / 20))
    if len(loud) == 0:
        return samples[:0].copy()
    out = samples[(loud[0] if leading else 0): loud[-1] + 1].astype(np.float32)
    fade = min(len(out), int(fade_seconds * sample_rate))
    out[len(out) - fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    return out


def normalise(samples: np.ndarray, peak_db: float = PEAK_DB) -> np.ndarray:
    """``samples`` scaled so the loudest one is at ``peak_db`` dBFS; silence stays silent."""
    top = float(np.abs(samples).max(initial=0.0))
    return samples * np.float32(10 ** (peak_db / 20) / top) if top > 0 else samples


def encode(samples: np.ndarray, out_path: Path, kbps: int = SONG_KBPS,
           sample_rate: int = SAMPLE_RATE) -> None:
    """Write mono float ``samples`` (within -1..1) to ``out_path``, ``.mp3`` or ``.ogg``.

    MP3 is average-bitrate at ``kbps``. Ogg Vorbis is variable-bitrate at the
    quality libsndfile derives from the same compression level; it comes out
    somewhat smaller (64 kbps MP3 gives Vorbis of about 42 kbps).
    """
    out_path = Path(out_path)
    fmt = _format_of(out_path)
    lib = _sndfile()
    info = _SfInfo(samplerate=sample_rate, channels=1, format=fmt)
    if not lib.sf_format_check(ctypes.byref(info)):
        raise CadenzaError(f"libsndfile {_version(lib)} cannot write {out_path.suffix} "
                           "(MP3 needs libsndfile 1.1 or newer); write .ogg instead")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    handle = lib.sf_open(os.fsencode(out_path), _SFM_WRITE, ctypes.byref(info))
    if not handle:
        raise CadenzaError(f"cannot write {out_path}: {lib.sf_strerror(None).decode()}")
    try:
        # MPEG-1 Layer III: compression 0..1 maps linearly to 320..32 kbps.
        level = ctypes.c_double(min(1.0, max(0.0, (320 - kbps) / 288)))
        lib.sf_command(handle, _SFC_SET_COMPRESSION_LEVEL, ctypes.byref(level),
                       ctypes.sizeof(level))
        if out_path.suffix == ".mp3":  # after the level: the mode re-reads it
            mode = ctypes.c_int(_SF_BITRATE_MODE_AVERAGE)
            lib.sf_command(handle, _SFC_SET_BITRATE_MODE, ctypes.byref(mode), ctypes.sizeof(mode))
        data = np.ascontiguousarray(np.clip(samples, -1.0, 1.0), dtype=np.float32)
        written = lib.sf_writef_float(handle, data.ctypes.data, len(data))
        if written != len(data):
            raise CadenzaError(f"cannot write {out_path}: {lib.sf_strerror(handle).decode()}")
    finally:
        lib.sf_close(handle)


def read_audio(path: Path) -> tuple[np.ndarray, int]:
    """Decode an audio file libsndfile reads (mp3, ogg, wav, flac...).

    Returns ``float32`` samples of shape ``(frames, channels)`` and the sample rate.
    """
    lib = _sndfile()
    info = _SfInfo()
    handle = lib.sf_open(os.fsencode(path), _SFM_READ, ctypes.byref(info))
    if not handle:
        raise CadenzaError(f"cannot read {path}: {lib.sf_strerror(None).decode()}")
    try:
        chunks, block = [], np.empty((SAMPLE_RATE, info.channels), dtype=np.float32)
        while (got := lib.sf_readf_float(handle, block.ctypes.data, len(block))) > 0:
            chunks.append(block[:got].copy())
    finally:
        lib.sf_close(handle)
    frames = np.concatenate(chunks) if chunks else block[:0]
    return frames, info.samplerate


def render_audio(midi_path: Path, out_path: Path, soundfont: Path | None = None,
                 peak_db: float = PEAK_DB, kbps: int = SONG_KBPS, reverb: bool = True) -> Path:
    """Render ``midi_path`` to a mono ``.mp3`` or ``.ogg`` at ``out_path``; returns ``out_path``.

    The trailing silence is trimmed and the level normalised so the loudest
    sample is at ``peak_db``, so every song comes out equally loud whatever
    its density. Raises :class:`CadenzaError` when a tool or the soundfont is
    missing, or the MIDI file plays nothing.
    """
    _format_of(Path(out_path))  # refuse a bad suffix before the slow part
    samples = synthesize(midi_path, soundfont, reverb=reverb)
    if np.abs(samples).max(initial=0.0) < 10 ** (AUDIBLE_DB / 20):  # e.g. reverb's noise floor
        raise CadenzaError(f"{midi_path} renders to silence (no notes?)")
    encode(normalise(trim(samples), peak_db), out_path, kbps=kbps)
    return Path(out_path)


# --- libsndfile through ctypes -------------------------------------------------

class _SfInfo(ctypes.Structure):
    _fields_ = [("frames", ctypes.c_int64), ("samplerate", ctypes.c_int),
                ("channels", ctypes.c_int), ("format", ctypes.c_int),
                ("sections", ctypes.c_int), ("seekable", ctypes.c_int)]


def _format_of(path: Path) -> int:
    if path.suffix not in _FORMATS:
        raise CadenzaError(f"{path}: audio must end in {' or '.join(SUFFIXES)}")
    return _FORMATS[path.suffix]


@functools.cache
def _sndfile() -> ctypes.CDLL:
    name = ctypes.util.find_library("sndfile") or "libsndfile.so.1"
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        raise CadenzaError(f"libsndfile not found (fluidsynth brings it); install it with: "
                           f"{APT_HINT}") from None
    handle, info_p = ctypes.c_void_p, ctypes.POINTER(_SfInfo)
    for fn, restype, argtypes in [
        ("sf_open", handle, [ctypes.c_char_p, ctypes.c_int, info_p]),
        ("sf_close", ctypes.c_int, [handle]),
        ("sf_format_check", ctypes.c_int, [info_p]),
        ("sf_command", ctypes.c_int, [handle, ctypes.c_int, ctypes.c_void_p, ctypes.c_int]),
        ("sf_writef_float", ctypes.c_int64, [handle, ctypes.c_void_p, ctypes.c_int64]),
        ("sf_readf_float", ctypes.c_int64, [handle, ctypes.c_void_p, ctypes.c_int64]),
        ("sf_strerror", ctypes.c_char_p, [handle]),
    ]:
        getattr(lib, fn).restype, getattr(lib, fn).argtypes = restype, argtypes
    return lib


def _version(lib: ctypes.CDLL) -> str:
    buf = ctypes.create_string_buffer(64)
    lib.sf_command(None, _SFC_GET_LIB_VERSION, buf, len(buf))
    return buf.value.decode()
