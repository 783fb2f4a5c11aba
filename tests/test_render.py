"""MIDI -> mp3/ogg rendering (converter.render) and the site's piano samples.

Tests that run fluidsynth skip when it or the soundfont is not installed
(``apt-get install -y fluidsynth fluid-soundfont-gm``); the rest need neither.
The piano samples are committed in site/assets/piano/; one test re-renders them
and compares (byte for byte under the toolchain they record, else as audio).
"""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from converter import render
from trainer.errors import CadenzaError
from trainer.music import midi_io

ROOT = Path(__file__).resolve().parents[1]
PIANO = ROOT / "site" / "assets" / "piano"
RATE = render.SAMPLE_RATE
MAGIC = {".mp3": (b"ID3", b"\xff\xfb"), ".ogg": (b"OggS",)}  # MPEG-1 Layer III frame sync


@pytest.fixture
def fluidsynth():
    """Skip unless fluidsynth and the soundfont are installed."""
    try:
        render.fluidsynth_path()
        render.soundfont_path()
    except CadenzaError as e:
        pytest.skip(str(e))


@pytest.fixture
def tiny_midi(tmp_path) -> Path:
    """A C major chord for 1 s, then C5 for 0.5 s, on the default piano (1.5 s at 60 BPM)."""
    path = tmp_path / "tiny.mid"
    notes = np.array([(0, 4, 60), (0, 4, 64), (0, 4, 67), (4, 2, 72)])  # steps of 0.25 s
    midi_io.write_midi(notes, path, steps_per_beat=4, tempo=60.0)
    return path


@pytest.fixture(scope="module")
def piano_script():
    spec = importlib.util.spec_from_file_location("render_piano", ROOT / "scripts/render_piano.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("suffix", [".mp3", ".ogg"])
def test_render_audio_writes_a_small_decodable_file(fluidsynth, tiny_midi, tmp_path, suffix):
    out = render.render_audio(tiny_midi, tmp_path / f"song{suffix}")
    assert out.read_bytes().startswith(MAGIC[suffix])
    assert out.stat().st_size < 48_000  # mono 64 kbps: about 8 kB a second
    frames, rate = render.read_audio(out)
    assert rate == RATE and frames.shape[1] == 1
    seconds = len(frames) / rate
    assert 1.5 < seconds < 5.0, seconds  # the notes, their release and reverb; no long silence
    peak = np.abs(frames).max()
    assert 0.7 < peak <= 1.0, peak  # normalised to about -1 dBFS
    assert np.sqrt(np.mean(frames ** 2)) > 0.02  # not silent
    assert np.abs(frames[-100:]).max() < 0.01  # the end fades out


def test_key_and_time_signatures_add_no_sound_and_no_time(fluidsynth, tiny_midi, tmp_path):
    from trainer.music.codec import Meta

    signed = tmp_path / "signed.mid"  # as codec v2 songs are written: D minor, 3/4 bars
    notes = np.array([(0, 4, 60), (0, 4, 64), (0, 4, 67), (4, 2, 72)])
    midi_io.write_midi(notes, signed, steps_per_beat=4, tempo=60.0,
                       meta=Meta((2, "minor"), (3, 4), ((0, (3, 4)),)))
    read = midi_io.read_song(signed)
    assert read.key == (2, "minor") and [tuple(m[1:]) for m in read.meters] == [(3, 4)]
    plain, _ = render.read_audio(render.render_audio(tiny_midi, tmp_path / "plain.ogg"))
    ours, _ = render.read_audio(render.render_audio(signed, tmp_path / "signed.ogg"))
    assert abs(len(ours) - len(plain)) < 0.01 * RATE
    n = min(len(ours), len(plain))
    residual = np.mean((ours[:n] - plain[:n]) ** 2) / np.mean(plain[:n] ** 2)
    assert residual < 10 ** (-20 / 10), residual  # the same notes at the same times


def test_trim_cuts_silence_and_fades_out():
    tone = np.sin(np.arange(RATE // 2) * 2 * np.pi * 440 / RATE).astype(np.float32)
    silence = np.zeros(RATE, dtype=np.float32)
    padded = np.concatenate([silence, tone, silence])
    tail_cut = render.trim(padded)
    assert len(tail_cut) == pytest.approx(1.5 * RATE, abs=5)
    both_cut = render.trim(padded, leading=True)
    assert len(both_cut) == pytest.approx(0.5 * RATE, abs=5)
    assert abs(both_cut[-1]) < 1e-6 and np.abs(both_cut[: RATE // 4]).max() > 0.99
    assert len(render.trim(silence)) == 0


def test_normalise_puts_the_peak_at_peak_db():
    samples = np.array([0.0, 0.1, -0.25, 0.2], dtype=np.float32)
    assert np.abs(render.normalise(samples, -6.0)).max() == pytest.approx(10 ** (-6 / 20))
    assert not render.normalise(np.zeros(4, np.float32)).any()


def test_missing_fluidsynth_names_the_apt_command(monkeypatch, tiny_midi, tmp_path):
    monkeypatch.setattr(render.shutil, "which", lambda name: None)
    with pytest.raises(CadenzaError, match="apt-get install -y fluidsynth fluid-soundfont-gm"):
        render.render_audio(tiny_midi, tmp_path / "song.mp3")


def test_missing_soundfont_names_the_apt_command(monkeypatch, tmp_path):
    monkeypatch.setenv(render.SOUNDFONT_ENV, str(tmp_path / "absent.sf2"))
    with pytest.raises(CadenzaError, match="absent.sf2 not found.*fluid-soundfont-gm"):
        render.soundfont_path()


def test_a_midi_file_without_notes_is_refused(fluidsynth, tmp_path):
    empty = tmp_path / "empty.mid"
    midi_io.write_midi(np.zeros((0, 3), dtype=np.int32), empty, steps_per_beat=4)
    with pytest.raises(CadenzaError, match="renders to silence"):
        render.render_audio(empty, tmp_path / "song.mp3")  # not reverb noise blown up to -1 dBFS
    assert not (tmp_path / "song.mp3").exists()


def test_unknown_suffix_is_refused_before_rendering(tiny_midi, tmp_path):
    with pytest.raises(CadenzaError, match=r"must end in \.mp3 or \.ogg"):
        render.render_audio(tiny_midi, tmp_path / "song.wav")


def test_piano_sample_names(piano_script):
    pitches = piano_script.pitches()
    assert len(pitches) == 30 and pitches[0] == 21 and pitches[-1] == 108
    assert [piano_script.note_name(p) for p in (21, 24, 27, 30, 60, 108)] == \
        ["A0", "C1", "D#1", "F#1", "C4", "C8"]
    assert piano_script.file_name(27) == "Ds1.mp3"


def test_piano_script_exits_2_with_the_apt_command(piano_script, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(render.shutil, "which", lambda name: None)
    monkeypatch.setenv(render.SOUNDFONT_ENV, __file__)  # any existing file passes the first check
    assert piano_script.main(["--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "apt-get install -y fluidsynth fluid-soundfont-gm" in err


def test_committed_piano_samples_are_even_and_small(piano_script):
    mapping = json.loads((PIANO / "samples.json").read_text())
    assert mapping["D#1"] == "Ds1.mp3" and len(mapping) == 30
    assert mapping == {piano_script.note_name(p): piano_script.file_name(p)
                       for p in piano_script.pitches()}
    files = [PIANO / name for name in mapping.values()]
    assert 300_000 < sum(f.stat().st_size for f in files) < 900_000
    attack_db = []
    for f in files:
        frames, rate = render.read_audio(f)
        assert rate == RATE and 0.5 < len(frames) / rate <= piano_script.SAMPLE_S
        assert np.abs(frames).max() < 1.0
        attack = frames[: int(piano_script.ATTACK_S * rate)]
        attack_db.append(10 * np.log10(np.mean(attack ** 2)))
    assert max(attack_db) - min(attack_db) < 1.0  # equally loud onsets (raw zones differ 15 dB)


def test_rerendering_reproduces_the_committed_piano_samples(fluidsynth, piano_script, tmp_path):
    mapping = piano_script.render_piano(tmp_path)
    assert (tmp_path / "samples.json").read_bytes() == (PIANO / "samples.json").read_bytes()
    recorded = json.loads((PIANO / "toolchain.json").read_text())
    here = json.loads((tmp_path / "toolchain.json").read_text())
    assert here["soundfont_sha256"] == recorded["soundfont_sha256"], "another soundfont"
    for name in mapping.values():
        ours, theirs = (tmp_path / name).read_bytes(), (PIANO / name).read_bytes()
        if here == recorded:  # fluidsynth and libsndfile are deterministic: the same bytes
            assert ours == theirs, name
            continue
        # Another fluidsynth or encoder: the same notes, within MP3 noise. (96 vs 128 kbps
        # encodes of one rendering differ by -39 dB; a neighbouring note by about 0 dB.)
        a, b = (render.read_audio(tmp_path / name)[0][:, 0],
                render.read_audio(PIANO / name)[0][:, 0])
        assert abs(len(a) - len(b)) < 0.01 * RATE, name
        n = min(len(a), len(b))
        residual = np.mean((a[:n] - b[:n]) ** 2) / np.mean(b[:n] ** 2)
        assert residual < 10 ** (-20 / 10), (name, residual)  # at least 20 dB down
