"""Render the piano samples the site's Tone.Sampler plays.

    python scripts/render_piano.py [--out site/assets/piano] [--kbps 96]

Plays the Acoustic Grand Piano of Debian's FluidR3_GM soundfont
(``apt-get install -y fluidsynth fluid-soundfont-gm``) dry, one note every 3
semitones from A0 to C8 (MIDI 21, 24, ..., 108), each held 1.5 s. Each sample
starts at its attack and ends when its release has died away (2 s at most).
FluidR3's key zones differ by up to 15 dB at one velocity, so every sample is
scaled to the same loudness over its first 100 ms, then all by one factor that
puts the loudest peak at -1 dBFS. Files are mono MP3 named ``A0.mp3``,
``C1.mp3``, ``Ds1.mp3`` ('s' for sharp keeps URLs plain); ``samples.json``
maps Tone.js note names ("D#1") to them, ready to pass as Tone.Sampler's
``urls``. ``toolchain.json`` records what rendered them (the fluidsynth and
libsndfile versions, the soundfont's SHA-256, the bitrate).

The samples are committed in ``site/assets/piano/`` (their license:
``site/assets/piano-LICENSE.md``), so building the site needs no fluidsynth;
rerun this only to change them. tests/test_render.py re-renders them and
compares: byte for byte under the recorded toolchain, as decoded audio under
another. A missing tool or soundfont exits 2 with one line naming the command
that installs it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from converter import render
from trainer.errors import CadenzaError
from trainer.music import midi_io

LOW, HIGH, STEP = 21, 108, 3  # A0..C8 every 3 semitones: 30 samples
VELOCITY = 100
HOLD_S = 1.5  # the key is held this long, then released
SAMPLE_S = 2.0  # longest sample: the hold plus the release
SPACING_S = 5.0  # note onsets in the rendering; every release is over by then
ATTACK_S = 0.1  # loudness is matched over this much of each sample's start
KBPS = 96
NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
TEMPO, STEPS_PER_BEAT = 60.0, 4  # MIDI grid: a step is 0.25 s


def note_name(pitch: int) -> str:
    """Scientific pitch name Tone.js uses: 21 -> 'A0', 60 -> 'C4', 63 -> 'D#4'."""
    return f"{NOTE_NAMES[pitch % 12]}{pitch // 12 - 1}"


def file_name(pitch: int) -> str:
    """URL-safe file name of a sample: 63 -> 'Ds4.mp3'."""
    return note_name(pitch).replace("#", "s") + ".mp3"


def pitches() -> list[int]:
    return list(range(LOW, HIGH + 1, STEP))


def cut(audio: np.ndarray, index: int, rate: int) -> np.ndarray:
    """The sample of the ``index``-th note: from its attack to its silence, at most SAMPLE_S."""
    start = int(index * SPACING_S * rate)
    window = audio[start: start + int((SAMPLE_S + 0.1) * rate)]
    from_attack = render.trim(window, rate, leading=True, fade_seconds=0.0)
    return render.trim(from_attack[: int(SAMPLE_S * rate)], rate)


def even_out(samples: list[np.ndarray], rate: int) -> list[np.ndarray]:
    """Same loudness over each sample's first ATTACK_S; the loudest peak at PEAK_DB."""
    levels = [np.sqrt(np.mean(np.square(s[: int(ATTACK_S * rate)]))) for s in samples]
    evened = [s / level for s, level in zip(samples, levels)]
    peak = max(float(np.abs(s).max()) for s in evened)
    return [s * np.float32(10 ** (render.PEAK_DB / 20) / peak) for s in evened]


def toolchain(soundfont: Path, kbps: int) -> dict[str, str | int]:
    """What the samples' bytes depend on besides this script."""
    version = subprocess.run([render.fluidsynth_path(), "--version"], capture_output=True,
                             text=True).stdout.split("runtime version")[-1].split()[0]
    with soundfont.open("rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()
    return {"fluidsynth": version, "libsndfile": render._version(render._sndfile()),
            "soundfont": soundfont.name, "soundfont_sha256": digest, "kbps": kbps}


def render_piano(out: Path, kbps: int = KBPS, soundfont: Path | None = None) -> dict[str, str]:
    """Write the samples, ``samples.json`` and ``toolchain.json`` into ``out``;
    returns the note -> file map."""
    soundfont = soundfont or render.soundfont_path()
    rate = render.SAMPLE_RATE
    notes = [(round(i * SPACING_S * TEMPO / 60 * STEPS_PER_BEAT),
              round(HOLD_S * TEMPO / 60 * STEPS_PER_BEAT), pitch)
             for i, pitch in enumerate(pitches())]
    with tempfile.TemporaryDirectory(prefix="cadenza-piano-") as tmp:
        midi = Path(tmp) / "piano.mid"
        midi_io.write_midi(np.array(notes), midi, STEPS_PER_BEAT, tempo=TEMPO,
                           instrument="Acoustic Grand Piano", velocity=VELOCITY)
        audio = render.synthesize(midi, soundfont, reverb=False, sample_rate=rate)
    samples = even_out([cut(audio, i, rate) for i in range(len(notes))], rate)
    out.mkdir(parents=True, exist_ok=True)
    mapping = {}
    for pitch, sample in zip(pitches(), samples):
        render.encode(sample, out / file_name(pitch), kbps=kbps, sample_rate=rate)
        mapping[note_name(pitch)] = file_name(pitch)
    (out / "samples.json").write_text(json.dumps(mapping, indent=1) + "\n")
    (out / "toolchain.json").write_text(json.dumps(toolchain(soundfont, kbps), indent=1) + "\n")
    return mapping


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("site/assets/piano"),
                        help="folder for the samples and samples.json (default: %(default)s)")
    parser.add_argument("--kbps", type=int, default=KBPS,
                        help="MP3 bitrate, 32..320 (default: %(default)s)")
    parser.add_argument("--soundfont", type=Path, default=None,
                        help=f"a .sf2 file (default: ${render.SOUNDFONT_ENV} or {render.SOUNDFONT})")
    args = parser.parse_args(argv)
    if not 32 <= args.kbps <= 320:
        parser.error("--kbps must be 32..320")
    try:
        soundfont = args.soundfont or render.soundfont_path()
        if not soundfont.is_file():
            raise CadenzaError(f"soundfont {soundfont} not found")
        mapping = render_piano(args.out, args.kbps, soundfont)
    except CadenzaError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    size = sum((args.out / name).stat().st_size for name in mapping.values())
    print(f"wrote {len(mapping)} samples ({size / 1024:.0f} KiB), samples.json and "
          f"toolchain.json to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
