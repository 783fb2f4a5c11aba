"""``harmonize`` and ``evaluate-harmony`` from the command line: a melody file's top line
comes back note for note as the top voice; bad models, files and flags get one error
line and leave nothing written (on the shipped exports and the tiny trained run)."""

import json
import shutil
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
from conftest import cli, write_song
from test_faults import one_error

from trainer.compose import harmony as H
from trainer.evaluation import harmony_metrics as hm
from trainer.music import midi_io
from trainer.music.codec import Codec

ROOT = Path(__file__).resolve().parents[1]
CHORALES, FOLK = ROOT / "site" / "models" / "chorales", ROOT / "site" / "models" / "folk"
V1 = ROOT / "tests" / "fixtures" / "export-format-1"
# A G major line with a rest (beat 5) and a note held over the bar line (beats 7-9).
MELODY = [(0, 1, 67), (1, 1.5, 69), (1.5, 2, 71), (2, 4, 72), (4, 5, 71), (6, 7, 74),
          (7, 9, 72), (9, 10, 71), (10, 12, 67)]
LOW = [(0, 2, 60), (2, 4, 62), (4, 6, 64), (6, 8, 62), (8, 12, 60)]  # under MELODY throughout


def top_line_of(path: Path, track: int = 0) -> np.ndarray:
    """The quantised top line of a file, as harmonize reads a melody file."""
    raw = midi_io.read_song(path, track=track)
    codec = Codec.load(CHORALES / "vocab.json")
    return H.melody_line(codec, raw.notes, raw.meters, raw.key).notes


def two_tracks(path: Path) -> Path:
    """MELODY on a first track, LOW on a second (written as two instruments)."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    for program, line in ((73, MELODY), (42, LOW)):
        inst = pretty_midi.Instrument(program=program)
        inst.notes = [pretty_midi.Note(80, p, s / 2, e / 2) for s, e, p in line]
        pm.instruments.append(inst)
    pm.write(str(path))
    return path


def harmonize(*args, check=True):
    return cli("harmonize", *args, check=check)


def test_the_written_top_line_is_the_melody_with_its_key_and_meter(tmp_path):
    melody = write_song(tmp_path / "melody.mid", MELODY)
    out = tmp_path / "out"
    proc = harmonize("--run-dir", CHORALES, "--melody-file", melody, "--out-dir", out,
                     "--num-files", 2, "--seed", 7, "--meter", "3/4", "--key", "G:major")
    written = sorted(p.name for p in out.iterdir())
    assert written == ["harmony-0007.mid", "harmony-0008.mid"]
    wanted = top_line_of(melody)
    assert len(wanted) == len(MELODY)
    for name in written:
        assert np.array_equal(top_line_of(out / name), wanted), name
        raw = midi_io.read_song(out / name)
        assert raw.meters[0][1:] == (3, 4) and raw.key == (7, "major")
        assert len(raw.notes) > 2 * len(MELODY)  # parts were written beneath it
    lines = proc.stdout.splitlines()
    assert "9 notes in G major, 3/4" in lines[0]
    assert sum("voices per melody onset" in line for line in lines) == 2


def test_track_picks_the_melody_and_a_missing_track_names_how_many(tmp_path):
    song = two_tracks(tmp_path / "two.mid")
    assert np.array_equal(top_line_of(song), top_line_of(song, track=1))  # MELODY is on top
    harmonize("--run-dir", CHORALES, "--melody-file", song, "--out-dir", tmp_path / "a",
              "--track", 2)
    low = top_line_of(song, track=2)
    assert np.array_equal(low[:, 2], [p for _, _, p in LOW])
    assert np.array_equal(top_line_of(tmp_path / "a" / "harmony-0000.mid"), low)
    proc = harmonize("--run-dir", CHORALES, "--melody-file", song, "--out-dir", tmp_path / "b",
                     "--track", 3, check=False)
    one_error(proc, "no track 3", "2 non-drum tracks", "1 to 2")
    assert not (tmp_path / "b").exists()


def test_a_note_above_the_piano_is_folded_into_it_and_said_so(tmp_path):
    high = [(s, e, p + 48 if i == 3 else p) for i, (s, e, p) in enumerate(MELODY)]  # C9
    melody = write_song(tmp_path / "high.mid", high)
    proc = harmonize("--run-dir", CHORALES, "--melody-file", melody, "--out-dir", tmp_path)
    assert "note: 1 melody note(s) outside A0..C8 moved by octaves" in proc.stdout
    line = top_line_of(tmp_path / "harmony-0000.mid")
    assert line[3, 2] == 108 and np.array_equal(line, top_line_of(melody))  # C8


def test_a_melody_model_only_continues_and_a_v1_model_cannot_harmonize(tmp_path):
    melody = write_song(tmp_path / "melody.mid", MELODY)
    one_error(harmonize("--run-dir", FOLK, "--melody-file", melody, "--out-dir", tmp_path / "o",
                        check=False), "one line", "sample --prime-file")
    one_error(harmonize("--run-dir", V1, "--melody-file", melody, "--out-dir", tmp_path / "o",
                        check=False), "version-1", "codec v2")
    assert not (tmp_path / "o").exists()


def _drums(path):
    return write_song(path, [(0, 1, 36), (1, 2, 38)], drums=True)


def _empty(path):
    pm = pretty_midi.PrettyMIDI()
    pm.instruments.append(pretty_midi.Instrument(program=0))
    pm.write(str(path))
    return path


def _text(path):
    path.write_text("not music")
    return path


def _cut(path):
    data = write_song(path, MELODY).read_bytes()
    path.write_bytes(data[:40])
    return path


@pytest.mark.parametrize("make, needle", [(_drums, "drums only"), (_empty, "no notes"),
                                          (_text, "not a MIDI file"),
                                          (_cut, "truncated or damaged: track 1 claims")])
def test_a_file_without_a_melody_is_one_error_line(tmp_path, make, needle):
    path = make(tmp_path / "bad.mid")
    proc = harmonize("--run-dir", CHORALES, "--melody-file", path, "--out-dir", tmp_path / "o",
                     check=False)
    one_error(proc, "--melody-file", needle)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("flags, needles", [
    (["--length", 8], ["9 notes", "--length 8"]),
    (["--key", "H:major"], ["--key", "unknown key 'H:major'", "D:minor"]),
    (["--meter", "5/4"], ["--meter", "unknown meter '5/4'", "6/8"]),
    (["--track", -1], ["--track", ">= 0"]),
])
def test_bad_flags_and_a_too_long_melody_write_nothing(tmp_path, flags, needles):
    melody = write_song(tmp_path / "melody.mid", MELODY)
    proc = harmonize("--run-dir", CHORALES, "--melody-file", melody, "--out-dir", tmp_path / "o",
                     *flags, check=False)
    one_error(proc, *needles)
    assert not (tmp_path / "o").exists()


def test_an_existing_file_is_not_overwritten(tmp_path):
    melody = write_song(tmp_path / "melody.mid", MELODY)
    (tmp_path / "harmony-0000.mid").write_bytes(b"mine")
    one_error(harmonize("--run-dir", CHORALES, "--melody-file", melody, "--out-dir", tmp_path,
                        check=False), "harmony-0000.mid exists")
    assert (tmp_path / "harmony-0000.mid").read_bytes() == b"mine"


def test_harmony_figures_of_a_hand_made_harmonization():
    melody = np.array([[0, 4, 72], [4, 4, 74]])
    # bass C3 -> D3 under C5 -> D5: parallel octaves; an alto between, a passing note
    notes = np.array([[0, 4, 72], [0, 4, 64], [0, 4, 48], [4, 4, 74], [4, 4, 50], [6, 2, 65]])
    f = hm.figures(notes, melody, (0, "major"))
    assert (f["onsets"], f["voices"], f["parallels"], f["on_top"]) == (2, 5, 1, 2)
    assert (f["added_notes"], f["between_onsets"]) == (4, 1)
    above = np.vstack([notes, [[4, 2, 76]]])  # E5 over the D5
    assert hm.figures(above, melody, (0, "major"))["on_top"] == 1
    pooled = hm.pooled([f, f])
    assert pooled["voices_per_onset"] == 2.5 and pooled["outer_parallels_per_100"] == 50


def test_evaluate_harmony_writes_its_figures_into_the_run(trained, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    proc = cli("evaluate-harmony", "--run-dir", run, "--seed", 3)
    result = json.loads((run / "harmony.json").read_text())
    test = json.loads((run / "split.json").read_text())["test"]
    assert result["ours"]["songs"] == result["human"]["songs"] == len(test) >= 1
    assert [s["name"] for s in result["per_song"]] == test
    assert set(result["checks"]) == {"voices_per_onset", "melody_on_top", "top_line_is_melody",
                                     "fallbacks"}
    assert result["checks"]["voices_per_onset"]["at_least"] == 3.0
    for figure in ("voices_per_onset", "outer_parallels_per_100", "added_scale_consistency",
                   "chordal_share", "seconds", "onset_pair_parallels_per_100"):
        assert figure in result["ours"] and figure in result["human"]
    assert result["ours"]["melody_on_top"] == 1.0 and result["checks"]["top_line_is_melody"]["ok"]
    assert result["human"]["voices_per_onset"] >= 3.5  # the chorales' own four voices
    assert result["sampling"]["seed"] == 3 and result["per_song"][0]["seed"] == 3
    assert "sounding voices per melody onset" in proc.stdout and "checks:" in proc.stdout


def test_evaluate_harmony_refuses_a_melody_model(tmp_path):
    one_error(cli("evaluate-harmony", "--run-dir", FOLK, "--out", tmp_path / "h.json",
                  check=False), "sample --prime-file")
    assert not (tmp_path / "h.json").exists()


def test_an_export_lists_its_harmony_json_and_stays_an_export(tmp_path):
    from converter.folder import is_export_folder
    from trainer.evaluation.harmonizing import list_in_export

    folder = tmp_path / "chorales"
    shutil.copytree(CHORALES, folder)
    config = json.loads((folder / "config.json").read_text())
    config["files"] = [f for f in config["files"] if f != "harmony.json"]
    (folder / "config.json").write_text(json.dumps(config, indent=1) + "\n")
    (folder / "harmony.json").write_text("{}")
    assert not is_export_folder(folder)  # a file the export did not write
    assert list_in_export(folder, "harmony.json")
    assert is_export_folder(folder)
    listed = json.loads((folder / "config.json").read_text())
    assert listed["files"] == sorted([*config["files"], "harmony.json"])
    assert {k: v for k, v in listed.items() if k != "files"} == \
        {k: v for k, v in config.items() if k != "files"}
    assert not list_in_export(folder, "harmony.json")  # listed once


def test_the_model_card_shows_the_shipped_harmony_json():
    import sys

    sys.path.insert(0, str(ROOT / "hooks"))
    import cadenza_card
    import cadenza_models

    models = {m["name"]: m for m in cadenza_models.discover(ROOT / "site" / "models")}
    harmony = json.loads((CHORALES / "harmony.json").read_text())
    card = cadenza_card.card(models["chorales"])
    section = card[card.index("### Harmonizing with chorales"):card.index("To make this model")]
    ours, human = harmony["ours"], harmony["human"]
    assert (f"| {ours['voices_per_onset']:.3f} | {human['voices_per_onset']:.3f} |"
            in section)
    assert f"| {ours['outer_parallels_per_100']:.3f} |" in section
    assert harmony["command"] in section and "**fail**" not in section
    assert "Harmonizing" not in cadenza_card.card(models["folk"])
