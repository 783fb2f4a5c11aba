"""trainer/compose/harmony.py: the shared vectors (tests/vectors/harmonize.json), the properties
every harmonization must have, and the Constraint's rules one by one."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from songs import raw_songs

from trainer.compose.harmony import (FINAL_TRIADS, FINAL_VOICES, Constraint, Melody, harmonize,
                                     melody_line, melody_of, top_line)
from trainer.config import CodecConfig
from trainer.errors import CadenzaError
from trainer.music.codec import Codec, Meta, normalise
from trainer.music.grammar import Grammar

VECTORS = json.loads((Path(__file__).parent / "vectors" / "harmonize.json").read_text())
V2 = Codec.from_json(VECTORS["vocab"])
CASES = VECTORS["cases"]


def tid(name: str, codec: Codec = V2) -> int:
    return codec.tokens.index(name)


def song_melody(case: dict, codec: Codec = V2) -> Melody:
    song = case["song"]
    meter = case["meter"] if case["meter"] in (None, "other") else tuple(case["meter"])
    return melody_line(codec, np.asarray(song["notes"], dtype=np.float64).reshape(-1, 3),
                       [tuple(m) for m in song["meters"]],
                       song["key"] and tuple(song["key"]), case["key"] and tuple(case["key"]),
                       meter)


def table_model(rows):
    return lambda token: rows[token % len(rows)]


def check_harmonization(codec: Codec, melody: Melody, ids) -> None:
    """The top voice is the melody; no other note starts in a rest or sounds above the
    melody; the last onset holds a full chord; generation stopped at EOS, never falling
    back (the Grammar and the Constraint replayed over ``ids``)."""
    line = np.asarray(melody.notes).tolist()
    notes = codec.decode(ids)
    assert top_line(notes).tolist() == line
    sounding = np.full(melody.end, -1)
    for start, dur, pitch in line:
        sounding[start:start + dur] = pitch
    for start, dur, pitch in notes.tolist():
        if [start, dur, pitch] in line:
            continue
        assert sounding[start] > 0, "a note starts in a melody rest"
        over = sounding[start:start + dur]
        assert start + dur <= melody.end and (pitch < over[over > 0]).all(), "above the melody"
    last = line[-1]
    chord = notes[notes[:, 0] == last[0]]
    assert len(chord) >= min(FINAL_VOICES, 1 + last[2] - 21)
    # the song ends on that chord, held with the melody's last note, and nothing
    # starts after it or sounds into it from before
    assert (notes[:, 0] <= last[0]).all()
    assert (chord[:, 1] == min(last[1], codec.ranges["DUR"][1])).all()
    earlier = notes[notes[:, 0] < last[0]]
    assert (earlier[:, 0] + earlier[:, 1] <= last[0]).all()
    if last[2] >= 21 + 12:  # room below for a triad
        classes = sum({1 << int(p % 12) for p in chord[:, 2]})
        assert any(classes & ~t == 0 for t in FINAL_TRIADS)
    grammar, constraint = Grammar(codec), Constraint(codec, melody)
    for token in ids:
        grammar.advance(token)
        constraint.advance(token)
    assert constraint.next_note == len(line)
    assert constraint.mask(grammar.mask())[codec.eos_id]  # EOS could be (and was) drawn
    assert constraint.fallbacks == 0
    max_notes = 88 * melody.end + 1
    assert grammar.notes < max_notes
    assert len(ids) - 1 < 2 * max_notes + melody.end + 2 * len(constraint.bars) + 3


def test_the_vectors_cover_what_the_issue_names():
    assert len(CASES) >= 50 and VECTORS["final_voices"] == FINAL_VOICES
    melodies = [c["melody"] for c in CASES]
    assert any(len(m["notes"]) == 1 for m in melodies)
    assert any(m["folded"] for m in melodies)
    assert any(any(s + d < n[0] for (s, d, _), n in zip(m["notes"], m["notes"][1:]))
               for m in melodies), "rests"
    assert any(any(s < b < s + d for s, d, _ in m["notes"] for b, _ in m["meta"]["bars"])
               for m in melodies), "notes tied over bar lines"
    assert {str(m["meta"]["meter"]) for m in melodies} >= {"[4, 4]", "[3, 4]", "[6, 8]"}
    assert any(m["meta"]["bars"] and m["meta"]["bars"][0][0] > 0 for m in melodies)
    assert any(len({str(b[1]) for b in m["meta"]["bars"]}) > 1 for m in melodies)
    assert any(p > 90 or p < 30 for m in melodies for _, _, p in m["notes"])


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_vector_melody_and_harmonization(case):
    melody = song_melody(case)
    assert melody.notes.tolist() == case["melody"]["notes"]
    assert melody.meta.to_json() == case["melody"]["meta"]
    assert melody.folded == case["melody"]["folded"]
    ids, constraint = harmonize(table_model(np.asarray(VECTORS["tables"][case["table"]])), V2,
                                melody, case["temperature"], case["top_k"], case["top_p"],
                                case["seed"])
    assert ids.tolist() == case["ids"] and constraint.fallbacks == case["fallbacks"] == 0
    check_harmonization(V2, melody, ids)


@pytest.mark.parametrize("case", VECTORS["errors"], ids=[c["name"] for c in VECTORS["errors"]])
def test_refusals(case):
    codec = Codec.from_json(case["vocab"])
    with pytest.raises(CadenzaError, match=re.escape(case["error"])):
        Constraint(codec, song_melody({**case, "key": None, "meter": None}, codec))


def test_mono_and_v1_codecs_are_refused():
    melody = melody_of(np.array([[0, 4, 60]]), Meta())
    with pytest.raises(CadenzaError, match="writes one line"):
        Constraint(Codec(CodecConfig(mono=True)), melody)
    with pytest.raises(CadenzaError, match="codec v2 model with bar lines"):
        Constraint(Codec(CodecConfig(vocab_version=1)), melody)
    with pytest.raises(CadenzaError, match="the melody has no notes"):
        melody_of(np.zeros((0, 3), dtype=np.int32), Meta())
    with pytest.raises(CadenzaError, match="the melody has no notes"):
        melody_line(V2, np.array([[-2.0, -1.0, 60.0]]))


def fed(melody: Melody, names: str, final_voices: int = FINAL_VOICES) -> Constraint:
    c = Constraint(V2, melody, final_voices)
    for name in names.split():
        c.advance(tid(name))
    return c


def own(c: Constraint) -> set[str]:
    return {V2.describe(i) for i in np.flatnonzero(c.own_mask())}


TWO = melody_of(np.array([[0, 4, 72], [4, 8, 65]]), Meta((0, "major"), (4, 4), ((0, (4, 4)),)),
                (0, "major"))
HEAD = "BOS KEY_C_major METER_4_4 BAR NOTE_72 DUR_4"


def test_the_melody_is_forced_at_its_onsets():
    assert own(fed(TWO, "BOS")) == {"KEY_C_major"}
    assert own(fed(TWO, "BOS KEY_C_major")) == {"METER_4_4"}
    assert own(fed(TWO, "BOS KEY_C_major METER_4_4")) == {"BAR"}
    assert own(fed(TWO, "BOS KEY_C_major METER_4_4 BAR")) == {"NOTE_72"}
    assert own(fed(TWO, "BOS KEY_C_major METER_4_4 BAR NOTE_72")) == {"DUR_4"}
    assert own(fed(TWO, HEAD + " SHIFT_4")) == {"NOTE_65"}


def test_a_shift_past_the_next_onset_is_masked_and_eos_waits_for_the_melody():
    allowed = own(fed(TWO, HEAD))
    assert {f"SHIFT_{k}" for k in range(1, 5)} <= allowed
    assert not {f"SHIFT_{k}" for k in range(5, 17)} & allowed
    assert "EOS" not in allowed and "NOTE_71" in allowed and "NOTE_72" not in allowed
    assert "EOS" not in own(fed(TWO, HEAD + " SHIFT_3"))
    assert "EOS" not in own(fed(TWO, HEAD + " SHIFT_4 NOTE_65"))


def test_a_dur_that_would_rise_above_a_later_melody_note_is_masked():
    durs = lambda c: sorted(int(n[4:]) for n in own(c) if n.startswith("DUR_"))  # noqa: E731
    assert durs(fed(TWO, HEAD + " NOTE_67")) == [1, 2, 3, 4]  # 65 from step 4
    # below both, up to the last onset: the final chord is struck together
    assert durs(fed(TWO, HEAD + " NOTE_64")) == [1, 2, 3, 4]
    three = melody_of(np.array([[0, 4, 72], [4, 4, 65], [8, 4, 76]]),
                      Meta((0, "major"), (4, 4), ((0, (4, 4)),)), (0, "major"))
    assert durs(fed(three, HEAD + " NOTE_64")) == list(range(1, 9))  # to the last onset
    assert durs(fed(TWO, HEAD + " NOTE_65")) == [1, 2, 3, 4]  # no unison with it either


def test_no_note_starts_in_a_rest_and_shifts_stop_before_the_end():
    rest = melody_of(np.array([[0, 2, 72], [4, 2, 74]]), Meta((0, "major"), (4, 4),
                                                               ((0, (4, 4)),)), (0, "major"))
    allowed = own(fed(rest, "BOS KEY_C_major METER_4_4 BAR NOTE_72 DUR_2 SHIFT_2"))
    assert not any(n.startswith("NOTE_") for n in allowed)
    assert allowed == {"SHIFT_1", "SHIFT_2"}
    end = fed(rest, "BOS KEY_C_major METER_4_4 BAR NOTE_72 DUR_2 SHIFT_4 NOTE_74 DUR_2 "
                    "NOTE_67 DUR_2 NOTE_59 DUR_2")
    assert {n for n in own(end) if n.startswith("SHIFT_")} == set()  # the song ends here
    assert "EOS" in own(end)


def test_a_melody_held_a_sixteenth_past_the_bar_line_ends_on_its_last_chord():
    """Issue 29: such a melody ended on a one-sixteenth chord struck under the held
    note at the bar line, dissonant. Now the last chord is struck with the last
    melody note, held as long, within one triad; nothing follows it."""
    held = melody_line(V2, np.array([[0, 1, 72], [1, 2, 71], [2, 3, 69], [3, 4.25, 67]]),
                       [(0, 4, 4)], (0, "major"))
    assert held.notes.tolist()[-1] == [12, 5, 67] and held.end == 17  # the bar line at 16
    head = "BOS KEY_C_major METER_4_4 BAR NOTE_72 DUR_4 SHIFT_4 NOTE_71 DUR_4 SHIFT_4 " \
           "NOTE_69 DUR_4 SHIFT_4 NOTE_67 DUR_5"
    assert {n for n in own(fed(held, head)) if not n.startswith("NOTE_")} == set()  # a chord
    assert own(fed(held, head + " NOTE_64")) == {"DUR_5"}
    assert "NOTE_62" not in own(fed(held, head + " NOTE_64 DUR_5"))  # E, G and D: no triad
    assert own(fed(held, head + " NOTE_64 DUR_5 NOTE_60 DUR_5")) >= {"EOS", "NOTE_48"}
    assert not {"SHIFT_1", "NOTE_50"} & own(fed(held, head + " NOTE_64 DUR_5 NOTE_60 DUR_5"))
    for seed in range(20):
        rows = np.random.default_rng(seed).normal(0, 2, (5, V2.size))
        ids, constraint = harmonize(table_model(rows), V2, held, 1.0, 0, 1.0, seed)
        check_harmonization(V2, held, ids)


def test_the_final_chord_is_filled_and_leaves_room_below():
    c = fed(TWO, HEAD + " SHIFT_4 NOTE_65 DUR_8")
    assert "EOS" not in own(c) and not any(n.startswith("SHIFT") for n in own(c))
    bar = Meta((0, "major"), (4, 4), ((0, (4, 4)),))
    low = melody_of(np.array([[0, 4, 23]]), bar, (0, "major"))
    head = "BOS KEY_C_major METER_4_4 BAR NOTE_23 DUR_4"
    assert own(fed(low, head)) == {"NOTE_22"}  # NOTE_21 would leave no pitch for a third
    assert own(fed(low, head + " NOTE_22 DUR_1")) == {"NOTE_21"}
    assert "EOS" in own(fed(low, head + " NOTE_22 DUR_1 NOTE_21 DUR_1"))
    lower = melody_of(np.array([[0, 4, 22]]), bar, (0, "major"))
    assert own(fed(lower, "BOS KEY_C_major METER_4_4 BAR NOTE_22 DUR_4")) == {"NOTE_21"}
    assert "EOS" in own(fed(lower, "BOS KEY_C_major METER_4_4 BAR NOTE_22 DUR_4 NOTE_21 "
                                   "DUR_1"))  # no pitch left below: a chord of two


@pytest.mark.parametrize("case", CASES[::5], ids=[c["name"] for c in CASES[::5]])
def test_the_melody_alone_is_a_path_the_constraint_and_grammar_allow(case):
    melody = song_melody(case)
    ids = V2.encode(melody.notes, melody.meta).tolist()
    grammar, constraint = Grammar(V2), Constraint(V2, melody, final_voices=1)
    for token in ids:
        if token != V2.bos_id:
            assert constraint.mask(grammar.mask())[token], V2.describe(token)
        grammar.advance(token)
        constraint.advance(token)
    assert constraint.fallbacks == 0 and constraint.next_note == len(melody.notes)
    if len(melody.notes) and melody.notes[-1, 2] > 21:  # a chord of one is not full
        strict = Constraint(V2, melody)
        for token in ids[:-1]:
            strict.advance(token)
        assert not strict.own_mask()[V2.eos_id]


def test_top_line_takes_the_skyline():
    notes = np.array([[0, 8, 72], [0, 8, 60], [2, 2, 67], [4, 2, 76], [8, 4, 71], [8, 4, 74]])
    assert top_line(normalise(notes)).tolist() == [[0, 4, 72], [4, 2, 76], [8, 4, 74]]


@settings(max_examples=40, deadline=None)
@given(raw_songs(max_notes=16), st.sampled_from([1, 2, 4, 12]), st.sampled_from([4, 16]),
       st.integers(0, 2**16), st.sampled_from([0.0, 1.0]))
def test_random_songs_never_dead_end(song, spb, max_shift, seed, temperature):
    raw, meters, file_key = song
    codec = Codec(CodecConfig(steps_per_beat=spb, max_shift=max_shift))
    try:
        melody = melody_line(codec, raw, meters, file_key)
    except CadenzaError:
        return  # every note before the start
    rows = np.random.default_rng(seed).normal(0, 2, (5, codec.size))
    ids, constraint = harmonize(table_model(rows), codec, melody, temperature, 0, 1.0, seed)
    assert constraint.fallbacks == 0
    check_harmonization(codec, melody, ids)


def test_a_melody_wholly_in_a_pickup_gets_a_bar_line_one_bar_in():
    """Its meta states no bar line; the harmony may still go on past the Grammar's
    latest first bar line (16 steps in 4/4) to the melody's end."""
    pickup = melody_of(np.array([[0, 32, 72]]), Meta((0, "major"), (4, 4), ()), (0, "major"))
    c = fed(pickup, "BOS KEY_C_major METER_4_4 NOTE_72 DUR_32 NOTE_64 DUR_16 NOTE_60 DUR_16 "
                    "SHIFT_16")
    assert c.bars == [(16, None)]
    assert own(c) == {"BAR"}
    rows = np.random.default_rng(3).normal(size=(V2.size, V2.size))
    ids, constraint = harmonize(table_model(rows), V2, pickup, 1.0, 0, 1.0, 5)
    check_harmonization(V2, pickup, ids)


def test_a_pitch_that_makes_no_chord_with_what_sounds_is_masked():
    """Issue 26: what sounds at an onset stays within one triad or seventh chord."""
    allowed = own(fed(TWO, HEAD + " NOTE_64 DUR_4"))  # C and E sound
    assert {"NOTE_55", "NOTE_57", "NOTE_59", "NOTE_58", "NOTE_53", "NOTE_48"} <= allowed
    assert not {"NOTE_61", "NOTE_62", "NOTE_63", "NOTE_56"} & allowed


def test_a_bass_in_parallel_octaves_or_fifths_with_the_melody_is_masked():
    """Issue 26: the outer voices never move the same way at the same fifth or octave."""
    rising = melody_of(np.array([[0, 4, 72], [4, 4, 74]]), Meta((0, "major"), (4, 4),
                                                               ((0, (4, 4)),)), (0, "major"))
    step = " SHIFT_4 NOTE_74 DUR_4"
    assert "NOTE_62" not in own(fed(rising, HEAD + " NOTE_60 DUR_4" + step))  # C-C to D-D
    assert "NOTE_67" not in own(fed(rising, HEAD + " NOTE_65 DUR_4" + step))  # F-C to G-D
    assert {"NOTE_62", "NOTE_67"} <= own(fed(rising, HEAD + " NOTE_64 DUR_4" + step))
    assert "NOTE_55" in own(fed(rising, HEAD + " NOTE_60 DUR_4" + step))  # contrary motion


def test_the_voicing_guard_keeps_free_songs_to_chords_without_outer_parallels():
    """Issue 26: a polyphonic model's free songs are composed under the VoicingGuard
    (trainer.compose.composing.compose); random logits then make only chords."""
    from trainer.compose.harmony import VoicingGuard, voicing_guard
    from trainer.compose.sampling import generate
    from trainer.evaluation import harmony_form as hf

    assert voicing_guard(Codec(CodecConfig(mono=True))) is None
    guard = VoicingGuard(V2)
    for name in "BOS KEY_C_major METER_4_4 BAR NOTE_72 DUR_4 NOTE_64 DUR_4".split():
        guard.advance(tid(name))
    allowed = {V2.describe(i) for i in np.flatnonzero(guard.mask(np.ones(V2.size, bool)))}
    assert {"NOTE_55", "SHIFT_4", "EOS"} <= allowed and "NOTE_62" not in allowed
    free, guarded = [], []
    for seed in range(8):
        rows = np.random.default_rng(seed).normal(0, 1.5, (5, V2.size))
        rows[:, V2.eos_id] = -5  # long songs
        for out, constraint in ((free, None), (guarded, VoicingGuard(V2))):
            ids = generate(table_model(rows), V2, [V2.bos_id], 80, 1.0, 0, 1.0, seed,
                           constraint=constraint)
            out.append(hf.counts(V2.decode(np.r_[V2.bos_id, ids])))
    free, guarded = hf.pooled(free), hf.pooled(guarded)
    assert free["chordal_share"] < 0.2 and guarded["chordal_share"] > 0.7  # falls back rarely
    assert guarded["outer_parallels_per_100"] <= free["outer_parallels_per_100"]


def test_compose_keeps_free_songs_to_chords_unless_the_guard_is_off():
    """compose() guards a polyphonic model's songs; guard=False (evaluate
    --no-voicing-guard, the ablation of the network alone) samples as generate() does."""
    from trainer.compose.composing import compose
    from trainer.compose.sampling import generate
    from trainer.evaluation import harmony_form as hf

    class Table:
        def __init__(self, rows):
            self.step = table_model(rows)

        def reset(self):
            pass

    songs = {True: [], False: []}
    for seed in range(8):
        rows = np.random.default_rng(seed).normal(0, 1.5, (5, V2.size))
        rows[:, V2.eos_id] = -5  # long songs
        for guard, out in songs.items():
            out.append(compose(Table(rows), V2, [V2.bos_id], 80, 1.0, 0, 1.0, seed, guard=guard))
        free = generate(table_model(rows), V2, [V2.bos_id], 80, 1.0, 0, 1.0, seed)
        assert np.array_equal(songs[False][-1][2][1:], free)
    on, off = (hf.pooled([hf.counts(notes) for notes, _, _ in songs[g]]) for g in (True, False))
    assert off["chordal_share"] < 0.2 and on["chordal_share"] > 0.7
