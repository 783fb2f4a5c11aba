"""The token codec: exact ids, round trips, total decoding, vocab.json.

``V1`` pins the notes-only language (its tests are the v1 contract, which
v1 runs and their vocab.json files still rely on); ``V2`` is the default
language with KEY, METER and BAR. Tests about behaviour both share run on
both (``CODECS``).
"""

import json

import numpy as np
import pytest
from conftest import PHRASE, write_song
from hypothesis import given, settings
from hypothesis import strategies as st

from trainer.config import CodecConfig
from trainer.errors import CadenzaError
from trainer.music import midi_io
from trainer.music.codec import Codec, Meta, normalise

V1 = Codec(CodecConfig(vocab_version=1))
V2 = Codec()
CODECS = pytest.mark.parametrize("codec", [V1, V2], ids=["v1", "v2"])


def names(ids, codec=V1):
    return [codec.describe(int(i)) for i in ids]


def test_exact_ids_v1():
    assert V1.size == 3 + 88 + 32 + 16
    assert (V1.pad_id, V1.bos_id, V1.eos_id) == (0, 1, 2)
    assert V1.token_id("NOTE", 21) == 3
    assert V1.token_id("NOTE", 60) == 42
    assert V1.token_id("NOTE", 108) == 90
    assert V1.token_id("DUR", 1) == 91
    assert V1.token_id("SHIFT", 1) == 123
    assert V1.token_id("SHIFT", 16) == 138
    assert V1.describe(42) == "NOTE_60" and V1.describe(500) == "?500"
    with pytest.raises(ValueError, match="NOTE_109"):
        V1.token_id("NOTE", 109)
    with pytest.raises(ValueError, match="DUR_0"):
        V1.token_id("DUR", 0)


def test_encode_known_chord_and_rest():
    # C major triad for a beat, a beat of rest, then G for half a beat.
    notes = np.array([[0, 4, 72], [0, 4, 67], [0, 4, 64], [8, 2, 67]])
    ids = V1.encode(normalise(notes))
    assert names(ids) == ["BOS", "NOTE_72", "DUR_4", "NOTE_67", "DUR_4", "NOTE_64", "DUR_4",
                          "SHIFT_8", "NOTE_67", "DUR_2", "EOS"]
    assert list(ids[:3]) == [1, 54, 94]


def test_long_gap_uses_several_shifts():
    ids = V1.encode(np.array([[0, 1, 60], [40, 1, 60]]))
    assert names(ids)[3:6] == ["SHIFT_16", "SHIFT_16", "SHIFT_8"]


def test_quantise_grid_and_rests(phrase_file):
    notes = V1.quantise(midi_io.read_midi(phrase_file))
    assert len(notes) == len(PHRASE)
    # onsets in steps: 0, 4 (beat 1), 6 (beat 1.5), 8, 20 (after the rest), 24
    assert sorted(set(notes[:, 0].tolist())) == [0, 4, 6, 8, 20, 24]
    assert set(notes[:, 1].tolist()) == {2, 4, 8}  # more than one duration
    assert notes[0].tolist() == [0, 4, 72]  # highest note of the first chord first
    ids = V1.encode(notes)
    assert "SHIFT_12" in names(ids)  # 8 -> 20: the held chord plus the rest


@CODECS
def test_round_trip_fixture_file(phrase_file, codec):
    quantised = codec.quantise(midi_io.read_midi(phrase_file))
    assert np.array_equal(codec.decode(codec.encode(quantised)), quantised)


@CODECS
def test_tempo_map_gives_beats_not_seconds(tmp_path, codec):
    notes = [(0, 1, 60), (4, 5, 62), (8, 9, 64)]
    steady = write_song(tmp_path / "steady.mid", notes, tempo=120)
    changing = write_song(tmp_path / "changing.mid", notes, tempo=120,
                          tempo_changes=[(2, 60), (6, 200)])
    a = codec.quantise(midi_io.read_midi(steady))
    b = codec.quantise(midi_io.read_midi(changing))
    assert np.array_equal(a, b)
    assert b[:, 0].tolist() == [0, 16, 32]


def test_leading_silence_removed_in_whole_beats():
    notes = V1.quantise(np.array([[3.5, 4.0, 60], [4.0, 5.0, 62]]))
    assert notes[:, 0].tolist() == [2, 4]  # 3 whole beats dropped, the half beat kept


@CODECS
def test_quantise_clamps_and_filters(codec):
    raw = np.array([[0, 0, 60],       # zero length -> 1 step
                    [0, 100, 64],     # very long -> max_duration
                    [0, 1, 10],       # below the piano -> dropped
                    [0, 1, 120]])     # above -> dropped
    notes = codec.quantise(raw)
    assert notes.tolist() == [[0, 32, 64], [0, 1, 60]]


def test_normalise_dedupes_and_cuts_same_pitch_overlaps():
    notes = normalise(np.array([[0, 4, 60], [0, 8, 60], [4, 4, 60], [0, 2, 64]]))
    assert notes.tolist() == [[0, 2, 64], [0, 4, 60], [4, 4, 60]]


@pytest.mark.parametrize("version", [1, 2])
def test_mono_keeps_top_note_and_ends_it_by_next_onset(version):
    mono = Codec(CodecConfig(mono=True, vocab_version=version))
    notes = mono.quantise(np.array([[0, 2, 60], [0, 2, 67], [1, 2, 62]]))
    assert notes.tolist() == [[0, 4, 67], [4, 4, 62]]
    assert np.array_equal(mono.decode(mono.encode(notes)), notes)


@CODECS
def test_decode_is_total_and_skips_ill_formed_pairs(codec):
    n60, n64, d4, s4 = (codec.token_id("NOTE", 60), codec.token_id("NOTE", 64),
                        codec.token_id("DUR", 4), codec.token_id("SHIFT", 4))
    ids = [0, 1, n60, n64, d4,   # NOTE NOTE DUR: only the second NOTE sounds
           d4,                   # DUR without NOTE: skipped
           s4, -5, 9999, n60,    # junk ids skipped; NOTE pending ...
           s4,                   # ... and dropped by the SHIFT
           n60, d4, 2, n64, d4]  # EOS ends the song
    assert codec.decode(ids).tolist() == [[0, 4, 64], [8, 4, 60]]
    assert codec.decode([]).shape == (0, 3)


raw_notes = st.lists(
    st.tuples(st.floats(0, 64, allow_nan=False), st.floats(0, 40, allow_nan=False),
              st.integers(0, 127)),
    max_size=60)


@settings(max_examples=300, deadline=None)
@given(raw_notes, st.booleans(), st.sampled_from([2, 4, 12]), st.sampled_from([1, 2]))
def test_property_round_trip(raw, mono, steps_per_beat, version):
    codec = Codec(CodecConfig(steps_per_beat=steps_per_beat, mono=mono, vocab_version=version))
    arr = np.array([(s, s + d, p) for s, d, p in raw], dtype=np.float64).reshape(-1, 3)
    quantised = codec.quantise(arr)
    assert np.array_equal(codec.decode(codec.encode(quantised)), quantised)
    assert np.array_equal(normalise(quantised, mono), quantised)  # idempotent


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(-3, 180), max_size=200), st.sampled_from([1, 2]))
def test_property_decode_any_ids(ids, version):
    codec = V1 if version == 1 else V2
    notes = codec.decode(ids)
    assert np.array_equal(normalise(notes), notes)
    assert ((notes[:, 1] >= 1) & (notes[:, 1] <= 32)).all()
    assert ((notes[:, 2] >= 21) & (notes[:, 2] <= 108)).all()
    # decoding is stable: what it decoded re-encodes to the same notes
    assert np.array_equal(codec.decode(codec.encode(notes)), notes)
    meta = codec.decode_meta(ids)  # total as well; a v1 codec states none
    assert (meta is None) == (version == 1)


@CODECS
def test_transpose_within_piano_range(codec):
    ids = codec.encode(np.array([[0, 4, 100], [0, 4, 30]]))
    low, high = codec.transpose_range(ids)
    assert (low, high) == (21 - 30, 108 - 100)
    up = codec.transpose(ids, 8)
    assert codec.decode(up)[:, 2].tolist() == [108, 38]
    assert np.array_equal(codec.decode(up)[:, :2], codec.decode(ids)[:, :2])
    with pytest.raises(ValueError, match="piano range"):
        codec.transpose(ids, 9)


@pytest.mark.parametrize("version", [1, 2])
def test_vocab_json_round_trip_and_refusals(tmp_path, version):
    codec = Codec(CodecConfig(steps_per_beat=12, max_duration=48, max_shift=24, mono=True,
                              vocab_version=version))
    codec.save(tmp_path / "vocab.json")
    loaded = Codec.load(tmp_path / "vocab.json")
    assert loaded == codec and loaded.config == codec.config and loaded not in (V1, V2)
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


@CODECS
@pytest.mark.parametrize("note", [[0, 33, 60], [0, 0, 60], [0, 4, 109], [0, 4, 20], [-1, 4, 60]])
def test_encode_refuses_notes_outside_the_vocabulary(note, codec):
    with pytest.raises(ValueError, match="outside the vocabulary"):
        codec.encode(np.array([note]))


# --- version 2: KEY, METER, BAR ---------------------------------------------------

from songs import codecs, raw_songs  # noqa: E402

from trainer.music import keys as K  # noqa: E402

C_MAJOR_44 = Meta((0, "major"), (4, 4), ((0, (4, 4)),))


def test_exact_ids_v2():
    assert V2.size == 139 + 24 + 11 + 1
    assert V2.tokens[:139] == V1.tokens  # every v1 id keeps its token
    assert [V2.describe(i) for i in (139, 151, 160, 163, 165, 173, 174)] == [
        "KEY_C_major", "KEY_C_minor", "KEY_A_minor", "METER_2_4", "METER_4_4", "METER_other",
        "BAR"]
    assert V2.key_id((9, "minor")) == 160 and V2.key_id((21, "minor")) == 160  # tonic mod 12
    assert V2.meter_id((6, 8)) == 168 and V2.meter_id((5, 4)) == V2.meter_id("other") == 173
    assert V2.bar_id == 174 and V2.key_of(160) == (9, "minor") and V2.meter_of(168) == (6, 8)
    assert V2.key_of(174) is None and V2.meter_of(160) is None and V2.key_of(9999) is None
    assert V1.bar_id is None and V1.key_of(42) is None
    with pytest.raises(ValueError, match="no KEY tokens"):
        V1.token_id("KEY", 0)
    no_bars = Codec(CodecConfig(no_bars=True))
    assert no_bars.size == 174 and no_bars.bar_id is None and "BAR" not in no_bars.tokens


def test_encode_v2_known_chord_and_rest():
    notes = normalise(np.array([[0, 4, 72], [0, 4, 67], [0, 4, 64], [8, 2, 67]]))
    assert names(V2.encode(notes, C_MAJOR_44), V2) == [
        "BOS", "KEY_C_major", "METER_4_4", "BAR", "NOTE_72", "DUR_4", "NOTE_67", "DUR_4",
        "NOTE_64", "DUR_4", "SHIFT_8", "NOTE_67", "DUR_2", "EOS"]
    # without a meta: the estimated key, 4/4 bars from step 0
    assert names(V2.encode(notes), V2)[:4] == ["BOS", "KEY_C_major", "METER_4_4", "BAR"]
    assert V2.default_meta(notes) == C_MAJOR_44
    assert V1.encode(notes, C_MAJOR_44).tolist() == V1.encode(notes).tolist()  # v1 ignores it


def test_shifts_stop_at_every_bar_line():
    notes = np.array([[0, 1, 60], [40, 1, 60]])
    meta = Meta((0, "major"), (4, 4), ((0, (4, 4)), (16, (4, 4)), (32, (4, 4))))
    assert names(V2.encode(notes, meta), V2)[3:12] == [
        "BAR", "NOTE_60", "DUR_1", "SHIFT_16", "BAR", "SHIFT_16", "BAR", "SHIFT_8", "NOTE_60"]
    other = Meta((0, "major"), "other", ((0, "other"), (36, "other")))  # a 9/4 bar, say
    assert names(V2.encode(notes, other), V2)[2:13] == [
        "METER_other", "BAR", "NOTE_60", "DUR_1", "SHIFT_16", "SHIFT_16", "SHIFT_4", "BAR",
        "SHIFT_4", "NOTE_60", "DUR_1"]
    assert V2.decode_song(V2.encode(notes, other))[1] == other


def test_quantise_song_grid_bars_and_rests(phrase_file):
    raw = midi_io.read_song(phrase_file)
    notes, meta, source = V2.quantise_song(raw.notes, raw.meters, raw.key)
    assert np.array_equal(notes, V2.quantise(raw.notes))
    assert meta.meter == (4, 4) and meta.bars == ((0, (4, 4)), (16, (4, 4)))  # onsets 0..24
    assert source == "estimate" and meta.key == K.estimate_key(notes)
    text = " ".join(names(V2.encode(notes, meta), V2))
    assert "SHIFT_8 BAR SHIFT_4 NOTE_71" in text  # 8 -> 20 split at the bar line at 16


def test_v2_drops_all_leading_silence_and_keeps_the_bar_grid_as_a_pickup():
    raw = np.array([[3.5, 4.0, 60], [4.0, 5.0, 62], [8.0, 9.0, 64]])
    assert V2.quantise(raw)[:, 0].tolist() == [0, 2, 18]
    notes, meta, _ = V2.quantise_song(raw)  # 4/4 from the file's start: bar lines at 16, 32
    assert meta.meter == (4, 4) and meta.bars == ((2, (4, 4)), (18, (4, 4)))
    assert names(V2.encode(notes, meta), V2)[3:9] == [
        "NOTE_60", "DUR_2", "SHIFT_2", "BAR", "NOTE_62", "DUR_4"]


def test_quantise_song_meter_changes_take_effect_at_the_next_bar_line():
    raw = np.array([[b, b + 1, 60 + b] for b in range(12)], dtype=np.float64)
    _, meta, _ = V2.quantise_song(raw, [(0, 3, 4), (6, 2, 4)])  # beat 6 is a 3/4 bar line
    assert meta.meter == (3, 4)
    assert meta.bars == ((0, (3, 4)), (12, (3, 4)), (24, (2, 4)), (32, (2, 4)), (40, (2, 4)))
    _, meta, _ = V2.quantise_song(raw, [(0, 3, 4), (7, 5, 4)])  # mid-bar: from beat 9 on
    assert meta.bars == ((0, (3, 4)), (12, (3, 4)), (24, (3, 4)), (36, "other"))
    _, meta, _ = V2.quantise_song(raw, [(0, 3, 4), (5, 6, 8), (5, 2, 2)])  # the last at a time
    assert meta.bars[2:] == ((24, (2, 2)), (40, (2, 2)))
    ids = V2.encode(V2.quantise(raw), meta)
    assert " BAR METER_2_2 " in " ".join(names(ids, V2))
    assert names(ids, V2).count("METER_2_2") == 1  # stated once, where it begins


def test_quantise_song_pickup_before_a_meter_change():
    # 4/4 at first; 3/4 from beat 4. The tune starts on beat 3: a one-beat pickup.
    raw = np.array([[3, 4, 67], [4, 5, 72], [7, 8, 74], [10, 11, 76]], dtype=np.float64)
    notes, meta, _ = V2.quantise_song(raw, [(0, 4, 4), (4, 3, 4)])
    assert notes[:, 0].tolist() == [0, 4, 16, 28]
    assert meta.meter == (4, 4) and meta.bars == ((4, (3, 4)), (16, (3, 4)), (28, (3, 4)))
    assert names(V2.encode(notes, meta), V2)[:9] == [
        "BOS", "KEY_C_major", "METER_4_4", "NOTE_67", "DUR_4", "SHIFT_4", "BAR", "METER_3_4",
        "NOTE_72"]
    assert V2.decode_song(V2.encode(notes, meta))[1] == meta


def test_quantise_song_shifts_the_bars_by_the_notes_own_offset():
    # An onset just below 0 rounds to step 0 and is kept by quantise; the bars must
    # start from that same first step, not from the first non-negative onset.
    raw = np.array([[-0.1, 1.0, 60], [3.0, 4.0, 62], [4.0, 5.0, 64]])
    notes, meta, _ = V2.quantise_song(raw)
    assert notes[:, 0].tolist() == [0, 12, 16]
    assert meta.bars == ((0, (4, 4)), (16, (4, 4)))


def check_meta(codec, notes, meta):
    """What quantise_song promises of its meta."""
    steps = [b for b, _ in meta.bars]
    assert steps == sorted(set(steps)) and all(isinstance(b, int) for b in steps)
    assert all(m == K.OTHER or m in K.METERS for m in [meta.meter, *(m for _, m in meta.bars)])
    if not len(notes):
        return  # quantise_song keeps a bar at 0 here, which encode (no notes) never writes
    assert not steps or (0 <= steps[0] and steps[-1] <= notes[:, 0].max())
    length = codec.bar_steps(meta.meter)
    if steps and length:
        assert steps[0] < length  # a pickup is shorter than a bar
    for (a, m), (b, _) in zip(meta.bars, meta.bars[1:]):
        if codec.bar_steps(m):
            assert b - a == codec.bar_steps(m)  # a bar of a token meter is whole


@settings(max_examples=300, deadline=None)
@given(raw_songs(), codecs())
def test_property_v2_round_trip_with_meters_pickups_and_changes(song, codec):
    raw, meters, file_key = song
    notes, meta, source = codec.quantise_song(raw, meters, file_key)
    assert np.array_equal(notes, codec.quantise(raw)) and source in ("file", "estimate")
    assert (source == "file") == (file_key is not None and meta.key == tuple(file_key))
    check_meta(codec, notes, meta)
    ids = codec.encode(notes, meta)
    got_notes, got_meta = codec.decode_song(ids)
    assert np.array_equal(got_notes, notes)
    kept = meta if codec.bar_id is not None and len(notes) else Meta(meta.key, meta.meter, ())
    assert got_meta == kept
    assert Meta.from_json(json.loads(json.dumps(meta.to_json()))) == meta


def test_decode_meta_is_total_and_follows_its_contract():
    t = V2.tokens.index
    ids = [t("BOS"), t("NOTE_60"), t("BAR"), t("METER_3_4"), t("KEY_D_minor"),  # first KEY
           t("KEY_E_major"), t("SHIFT_12"), -3, 9999, t("BAR"), t("BAR"),  # one line at 12
           t("METER_6_8"), t("SHIFT_4"), t("METER_2_4"), t("EOS"), t("BAR")]
    assert V2.decode_meta(ids) == Meta((2, "minor"), (3, 4), ((0, (3, 4)), (12, (6, 8))))
    assert V2.decode_meta([]) == Meta()
    assert V1.decode_meta(ids) is None and V1.decode_song(ids)[1] is None


@pytest.mark.parametrize("key", [(0, "major"), (2, "minor"), (11, "major"), (9, "minor")])
@pytest.mark.parametrize("semitones", [-7, -1, 1, 5, 12])
def test_transpose_moves_the_key_with_the_notes(key, semitones):
    notes = normalise(np.array([[0, 4, 60], [4, 4, 64], [8, 4, 67], [12, 12, 72]]))
    meta = Meta(key, (3, 4), ((0, (3, 4)), (12, (3, 4))))
    moved = V2.transpose(V2.encode(notes, meta), semitones)
    got_notes, got_meta = V2.decode_song(moved)
    assert got_notes[:, 2].tolist() == (notes[:, 2] + semitones).tolist()
    assert got_meta == Meta(((key[0] + semitones) % 12, key[1]), meta.meter, meta.bars)
    assert np.array_equal(V2.transpose(moved, -semitones), V2.encode(notes, meta))


def v1_vocab_json() -> dict:
    """vocab.json as codec version 1 wrote it (before KEY, METER and BAR existed)."""
    tokens = (["PAD", "BOS", "EOS"] + [f"NOTE_{p}" for p in range(21, 109)]
              + [f"DUR_{k}" for k in range(1, 33)] + [f"SHIFT_{k}" for k in range(1, 17)])
    return {"format": "cadenza-vocab", "version": 1, "size": 139,
            "params": {"steps_per_beat": 4, "max_duration": 32, "max_shift": 16, "mono": False,
                       "min_pitch": 21, "max_pitch": 108},
            "special": {"PAD": 0, "BOS": 1, "EOS": 2},
            "ranges": {"NOTE": {"first_id": 3, "count": 88, "first_value": 21},
                       "DUR": {"first_id": 91, "count": 32, "first_value": 1},
                       "SHIFT": {"first_id": 123, "count": 16, "first_value": 1}},
            "tokens": tokens}


def test_a_v1_vocab_json_still_loads_as_v1(tmp_path):
    (tmp_path / "vocab.json").write_text(json.dumps(v1_vocab_json()))
    codec = Codec.load(tmp_path / "vocab.json")
    assert codec == V1 and codec.version == 1 and codec.config == V1.config
    assert codec.to_json() == v1_vocab_json()
    assert "bars" not in codec.to_json()["params"]


@pytest.mark.parametrize("config", [CodecConfig(), CodecConfig(no_bars=True),
                                    CodecConfig(steps_per_beat=12, max_shift=24, mono=True)])
def test_v2_vocab_json_round_trip(tmp_path, config):
    codec = Codec(config)
    codec.save(tmp_path / "vocab.json")
    d = json.loads((tmp_path / "vocab.json").read_text())
    assert d["version"] == 2 and d["params"]["bars"] == (not config.no_bars)
    assert d["keys"][:2] == ["C:major", "C#:major"] and d["keys"][21] == "A:minor"
    assert d["meters"] == ["2/4", "3/4", "4/4", "2/2", "3/8", "6/8", "9/8", "12/8", "6/4",
                           "3/2", "other"]
    loaded = Codec.load(tmp_path / "vocab.json")
    assert loaded == codec and loaded.config == config and loaded.size == codec.size
    assert loaded != V1
    del d["params"]["bars"]
    with pytest.raises(CadenzaError, match="lack"):
        Codec.from_json(d)
    with pytest.raises(CadenzaError, match="version 1 or 2"):
        Codec.from_json({**codec.to_json(), "version": 3})


def write_signed(path, notes, signatures=(), key_number=None, tempo=120.0):
    """A file with time signatures ``(n, d, beat)`` and a key signature, via pretty_midi."""
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    inst = pretty_midi.Instrument(program=0)
    spb = 60.0 / tempo
    inst.notes = [pretty_midi.Note(80, int(p), s * spb, e * spb) for s, e, p in notes]
    pm.instruments.append(inst)
    pm.time_signature_changes = [pretty_midi.TimeSignature(n, d, b * spb)
                                 for n, d, b in signatures]
    if key_number is not None:
        pm.key_signature_changes = [pretty_midi.KeySignature(key_number, 0.0)]
    pm.write(str(path))
    return path


def test_read_song_returns_time_and_key_signatures(tmp_path):
    notes = [(b, b + 1, 62 + (b % 5)) for b in range(14)]
    path = write_signed(tmp_path / "signed.mid", notes, [(3, 4, 0), (6, 8, 6)],
                        key_number=12 + 2, tempo=90)  # D minor
    song = midi_io.read_song(path)
    assert song.meters == ((0.0, 3, 4), (6.0, 6, 8)) and song.key == (2, "minor")
    np.testing.assert_allclose(song.notes, np.array(notes, dtype=np.float64), atol=1e-6)
    assert np.array_equal(song.notes, midi_io.read_midi(path))
    plain = midi_io.read_song(write_signed(tmp_path / "plain.mid", notes))
    assert plain.meters == ((0.0, 4, 4),) and plain.key is None  # pretty_midi writes a 4/4
    bare = midi_io.read_song(write_mido(tmp_path / "bare.mid", []))
    assert bare.meters == () and bare.key is None
    major = midi_io.read_song(write_signed(tmp_path / "major.mid", notes, key_number=10))
    assert major.key == (10, "major")


def write_mido(path, signatures):
    """One note per beat for 16 beats, after ``signatures`` ``(n, d)`` all at tick 0."""
    import mido

    track = mido.MidiTrack([mido.MetaMessage("time_signature", numerator=n, denominator=d)
                            for n, d in signatures])
    for b in range(16):
        track += [mido.Message("note_on", note=60 + b % 7, velocity=80, time=0),
                  mido.Message("note_off", note=60 + b % 7, velocity=0, time=480)]
    mido.MidiFile(tracks=[track], ticks_per_beat=480).save(str(path))
    return path


@pytest.mark.parametrize("signatures, meter", [([(4, 4), (3, 4)], (3, 4)),
                                               ([(3, 4), (4, 4)], (4, 4)),
                                               ([(6, 8), (2, 4), (12, 8)], (12, 8))])
def test_of_several_time_signatures_at_one_tick_the_last_counts(tmp_path, signatures, meter):
    # Some sequencers write a default 4/4 and then the real signature at the same tick.
    song = midi_io.read_song(write_mido(tmp_path / "twice.mid", signatures))
    assert [m[1:] for m in song.meters] == signatures
    _, meta, _ = V2.quantise_song(song.notes, song.meters, song.key)
    assert meta.meter == meter and {m for _, m in meta.bars} == {meter}


def test_quantise_song_uses_the_files_key_only_where_the_notes_agree(tmp_path):
    d_major = [(b, b + 1, 62 + s) for b, s in enumerate([0, 2, 4, 5, 7, 9, 11, 12, 7, 4, 0])]
    for key_number, key, source in [(2, (2, "major"), "file"), (12 + 11, (11, "minor"), "file"),
                                    (7, (2, "major"), "estimate"), (None, (2, "major"),
                                                                    "estimate")]:
        song = midi_io.read_song(write_signed(tmp_path / "k.mid", d_major, [(2, 4, 0)],
                                              key_number))
        _, meta, got = V2.quantise_song(song.notes, song.meters, song.key)
        assert (meta.key, got, meta.meter) == (key, source, (2, 4))


@pytest.mark.parametrize("pickup", [True, False])
def test_music21_export_pads_a_pickup_so_bar_lines_fall_where_the_scores_do(tmp_path, pickup):
    from music21 import key, meter, note, stream

    first = stream.Measure(number=0 if pickup else 1)
    first.append(meter.TimeSignature("3/4"))
    first.append(key.Key("G"))
    for name in (["D4"] if pickup else ["D4", "E4", "F#4"]):
        first.append(note.Note(name, quarterLength=1))
    if pickup:
        first.paddingLeft = 2.0
    second = stream.Measure(number=first.number + 1)
    for name in ("G4", "B4", "D5"):
        second.append(note.Note(name, quarterLength=1))
    third = stream.Measure(number=first.number + 2)
    third.append(note.Note("G4", quarterLength=3))
    part = stream.Part()
    for m in (first, second, third):
        part.append(m)
    midi_io._write_notes(stream.Score([part]), tmp_path / "tune.mid")
    song = midi_io.read_song(tmp_path / "tune.mid")
    assert song.meters == ((0.0, 3, 4),) and song.key == (7, "major")
    pad = 2.0 if pickup else 0.0
    assert song.notes[0, 0] == pytest.approx(pad)  # the pickup's rest comes first
    notes, meta, source = V2.quantise_song(song.notes, song.meters, song.key)
    assert (meta.key, source, meta.meter) == ((7, "major"), "file", (3, 4))
    assert meta.bars == (((4, (3, 4)), (16, (3, 4))) if pickup
                         else ((0, (3, 4)), (12, (3, 4)), (24, (3, 4))))


def test_music21_export_keeps_an_abc_tunes_opening_meter_after_an_overfull_bar(tmp_path):
    # music21's ABC reader splits the 7/8 of bar 2 into 6/8 + 1/8 and puts the tune's
    # one 6/8 TimeSignature object in bar 0 and again after the 1/8; a flat stream
    # holds it once, at its last offset, so the file used to start in 4/4.
    from music21 import converter

    tune = converter.parse("X:1\nT:t\nM:6/8\nL:1/8\nK:D\nA|F2A d2f|a2f2 g2a|f3 d2|]\n",
                           format="abc")
    midi_io._write_notes(tune, tmp_path / "tune.mid")
    song = midi_io.read_song(tmp_path / "tune.mid")
    assert song.meters == ((0.0, 6, 8), (9.0, 1, 8), (9.5, 6, 8))  # the pickup padded to 3
    _, meta, _ = V2.quantise_song(song.notes, song.meters, song.key)
    assert meta.meter == (6, 8)
    # a one-eighth pickup, then bar 2's extra eighth is a bar of its own
    assert meta.bars == ((2, (6, 8)), (14, (6, 8)), (26, "other"), (28, (6, 8)))


@pytest.mark.parametrize("k, stated", [("K:Ador", (9, "minor")), ("K:Gmix", (7, "major")),
                                       ("K:Bm", (11, "minor")), ("K:HP", None)])
def test_music21_export_writes_the_key_a_tune_states_and_no_bare_signature(tmp_path, k, stated):
    # A stated key (tonic and mode; church modes by their third) is the song's key,
    # which prepare uses as it is for the built-in corpora; a signature with no mode
    # is not written, since a MIDI key signature would claim one (major).
    from music21 import converter

    tune = converter.parse(f"X:1\nT:t\nM:4/4\nL:1/4\n{k}\nA B c d|e d c B|A4|]\n",
                           format="abc")
    midi_io._write_notes(tune, tmp_path / "tune.mid")
    assert midi_io.read_song(tmp_path / "tune.mid").key == stated
