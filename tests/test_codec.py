"""The token codec: exact ids, round trips, total decoding, vocab.json."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import PHRASE, write_song
from trainer import midi_io
from trainer.codec import Codec, normalise
from trainer.config import CodecConfig
from trainer.errors import CadenzaError

CODEC = Codec()


def names(ids):
    return [CODEC.describe(int(i)) for i in ids]


def test_exact_ids():
    assert CODEC.size == 3 + 88 + 32 + 16
    assert (CODEC.pad_id, CODEC.bos_id, CODEC.eos_id) == (0, 1, 2)
    assert CODEC.token_id("NOTE", 21) == 3
    assert CODEC.token_id("NOTE", 60) == 42
    assert CODEC.token_id("NOTE", 108) == 90
    assert CODEC.token_id("DUR", 1) == 91
    assert CODEC.token_id("SHIFT", 1) == 123
    assert CODEC.token_id("SHIFT", 16) == 138
    assert CODEC.describe(42) == "NOTE_60" and CODEC.describe(500) == "?500"
    with pytest.raises(ValueError, match="NOTE_109"):
        CODEC.token_id("NOTE", 109)
    with pytest.raises(ValueError, match="DUR_0"):
        CODEC.token_id("DUR", 0)


def test_encode_known_chord_and_rest():
    # C major triad for a beat, a beat of rest, then G for half a beat.
    notes = np.array([[0, 4, 72], [0, 4, 67], [0, 4, 64], [8, 2, 67]])
    ids = CODEC.encode(normalise(notes))
    assert names(ids) == ["BOS", "NOTE_72", "DUR_4", "NOTE_67", "DUR_4", "NOTE_64", "DUR_4",
                          "SHIFT_8", "NOTE_67", "DUR_2", "EOS"]
    assert list(ids[:3]) == [1, 54, 94]


def test_long_gap_uses_several_shifts():
    ids = CODEC.encode(np.array([[0, 1, 60], [40, 1, 60]]))
    assert names(ids)[3:6] == ["SHIFT_16", "SHIFT_16", "SHIFT_8"]


def test_quantise_grid_and_rests(phrase_file):
    notes = CODEC.quantise(midi_io.read_midi(phrase_file))
    assert len(notes) == len(PHRASE)
    # onsets in steps: 0, 4 (beat 1), 6 (beat 1.5), 8, 20 (after the rest), 24
    assert sorted(set(notes[:, 0].tolist())) == [0, 4, 6, 8, 20, 24]
    assert set(notes[:, 1].tolist()) == {2, 4, 8}  # more than one duration
    assert notes[0].tolist() == [0, 4, 72]  # highest note of the first chord first
    ids = CODEC.encode(notes)
    assert "SHIFT_12" in names(ids)  # 8 -> 20: the held chord plus the rest


def test_round_trip_fixture_file(phrase_file):
    quantised = CODEC.quantise(midi_io.read_midi(phrase_file))
    assert np.array_equal(CODEC.decode(CODEC.encode(quantised)), quantised)


def test_tempo_map_gives_beats_not_seconds(tmp_path):
    notes = [(0, 1, 60), (4, 5, 62), (8, 9, 64)]
    steady = write_song(tmp_path / "steady.mid", notes, tempo=120)
    changing = write_song(tmp_path / "changing.mid", notes, tempo=120,
                          tempo_changes=[(2, 60), (6, 200)])
    a = CODEC.quantise(midi_io.read_midi(steady))
    b = CODEC.quantise(midi_io.read_midi(changing))
    assert np.array_equal(a, b)
    assert b[:, 0].tolist() == [0, 16, 32]


def test_leading_silence_removed_in_whole_beats():
    notes = CODEC.quantise(np.array([[3.5, 4.0, 60], [4.0, 5.0, 62]]))
    assert notes[:, 0].tolist() == [2, 4]  # 3 whole beats dropped, the half beat kept


def test_quantise_clamps_and_filters():
    raw = np.array([[0, 0, 60],       # zero length -> 1 step
                    [0, 100, 64],     # very long -> max_duration
                    [0, 1, 10],       # below the piano -> dropped
                    [0, 1, 120]])     # above -> dropped
    notes = CODEC.quantise(raw)
    assert notes.tolist() == [[0, 32, 64], [0, 1, 60]]


def test_normalise_dedupes_and_cuts_same_pitch_overlaps():
    notes = normalise(np.array([[0, 4, 60], [0, 8, 60], [4, 4, 60], [0, 2, 64]]))
    assert notes.tolist() == [[0, 2, 64], [0, 4, 60], [4, 4, 60]]


def test_mono_keeps_top_note_and_ends_it_by_next_onset():
    mono = Codec(CodecConfig(mono=True))
    notes = mono.quantise(np.array([[0, 2, 60], [0, 2, 67], [1, 2, 62]]))
    assert notes.tolist() == [[0, 4, 67], [4, 4, 62]]
    assert np.array_equal(mono.decode(mono.encode(notes)), notes)


def test_decode_is_total_and_skips_ill_formed_pairs():
    n60, n64, d4, s4 = (CODEC.token_id("NOTE", 60), CODEC.token_id("NOTE", 64),
                        CODEC.token_id("DUR", 4), CODEC.token_id("SHIFT", 4))
    ids = [0, 1, n60, n64, d4,   # NOTE NOTE DUR: only the second NOTE sounds
           d4,                   # DUR without NOTE: skipped
           s4, -5, 9999, n60,    # junk ids skipped; NOTE pending ...
           s4,                   # ... and dropped by the SHIFT
           n60, d4, 2, n64, d4]  # EOS ends the song
    assert CODEC.decode(ids).tolist() == [[0, 4, 64], [8, 4, 60]]
    assert CODEC.decode([]).shape == (0, 3)


raw_notes = st.lists(
    st.tuples(st.floats(0, 64, allow_nan=False), st.floats(0, 40, allow_nan=False),
              st.integers(0, 127)),
    max_size=60)


@settings(max_examples=300, deadline=None)
@given(raw_notes, st.booleans(), st.sampled_from([2, 4, 12]))
def test_property_round_trip(raw, mono, steps_per_beat):
    codec = Codec(CodecConfig(steps_per_beat=steps_per_beat, mono=mono))
    arr = np.array([(s, s + d, p) for s, d, p in raw], dtype=np.float64).reshape(-1, 3)
    quantised = codec.quantise(arr)
    assert np.array_equal(codec.decode(codec.encode(quantised)), quantised)
    assert np.array_equal(normalise(quantised, mono), quantised)  # idempotent


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(-3, 150), max_size=200))
def test_property_decode_any_ids(ids):
    notes = CODEC.decode(ids)
    assert np.array_equal(normalise(notes), notes)
    assert ((notes[:, 1] >= 1) & (notes[:, 1] <= 32)).all()
    assert ((notes[:, 2] >= 21) & (notes[:, 2] <= 108)).all()
    # decoding is stable: what it decoded re-encodes to the same notes
    assert np.array_equal(CODEC.decode(CODEC.encode(notes)), notes)


def test_transpose_within_piano_range():
    ids = CODEC.encode(np.array([[0, 4, 100], [0, 4, 30]]))
    low, high = CODEC.transpose_range(ids)
    assert (low, high) == (21 - 30, 108 - 100)
    up = CODEC.transpose(ids, 8)
    assert CODEC.decode(up)[:, 2].tolist() == [108, 38]
    assert np.array_equal(CODEC.decode(up)[:, :2], CODEC.decode(ids)[:, :2])
    with pytest.raises(ValueError, match="piano range"):
        CODEC.transpose(ids, 9)


def test_vocab_json_round_trip_and_refusals(tmp_path):
    codec = Codec(CodecConfig(steps_per_beat=12, max_duration=48, max_shift=24, mono=True))
    codec.save(tmp_path / "vocab.json")
    loaded = Codec.load(tmp_path / "vocab.json")
    assert loaded == codec and loaded.config == codec.config and loaded != CODEC
    d = json.loads((tmp_path / "vocab.json").read_text())
    assert d["tokens"][d["ranges"]["DUR"]["first_id"]] == "DUR_1"
    d["tokens"][5] = "NOTE_99"
    with pytest.raises(CadenzaError, match="does not match"):
        Codec.from_json(d)
    with pytest.raises(CadenzaError, match="not a cadenza-vocab"):
        Codec.from_json({"format": "other", "version": 1})
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(CadenzaError, match="cannot read"):
        Codec.load(tmp_path / "bad.json")


@pytest.mark.parametrize("note", [[0, 33, 60], [0, 0, 60], [0, 4, 109], [0, 4, 20], [-1, 4, 60]])
def test_encode_refuses_notes_outside_the_vocabulary(note):
    with pytest.raises(ValueError, match="outside the vocabulary"):
        CODEC.encode(np.array([note]))
