"""Music metrics on small hand-built songs whose figures are known."""

import math
import time

import numpy as np
import pytest

from trainer import music_metrics as mm
from trainer.codec import Codec, normalise

SPB = 4  # steps per beat of the default codec
CODEC = Codec()
C_MAJOR = [60, 62, 64, 65, 67, 69, 71, 72]


def melody(pitches, dur=SPB, gap=0):
    """One note per onset, each ``dur`` steps long, ``gap`` silent steps between."""
    return normalise([(i * (dur + gap), dur, p) for i, p in enumerate(pitches)])


def chords(chord, times, dur=SPB, step=SPB):
    """``chord`` (pitches) struck ``times`` times, every ``step`` steps."""
    return normalise([(i * step, dur, p) for i in range(times) for p in chord])


def figures(notes):
    return mm.song_figures(notes, CODEC.encode(notes), SPB)


# --- histograms ---------------------------------------------------------------
def test_pitch_class_histogram_counts_octaves_together():
    h = mm.pitch_class_histogram(melody([60, 72, 64, 67]))
    assert h.shape == (12,)
    np.testing.assert_allclose(h[[0, 4, 7]], [0.5, 0.25, 0.25])
    assert h.sum() == pytest.approx(1.0)


def test_histograms_of_no_notes_are_zero():
    assert not mm.pitch_class_histogram(np.zeros((0, 3))).any()
    assert not mm.duration_histogram(np.zeros((0, 3)), 8).any()


def test_duration_histogram_bins_from_one_step_and_clips():
    notes = normalise([(0, 1, 60), (1, 2, 60), (3, 2, 60), (5, 40, 60)])
    h = mm.duration_histogram(notes, 8)
    assert h.shape == (8,)
    np.testing.assert_allclose(h, [0.25, 0.5, 0, 0, 0, 0, 0, 0.25])


def test_overlapped_area():
    p = mm.pitch_class_histogram(melody(C_MAJOR))
    assert mm.overlapped_area(p, p) == pytest.approx(1.0)
    assert mm.overlapped_area([0.5, 0.5, 0, 0], [0, 0, 0.25, 0.75]) == 0.0
    assert mm.overlapped_area([0.5, 0.5, 0], [0.25, 0.25, 0.5]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="shape"):
        mm.overlapped_area(np.ones(12) / 12, np.ones(8) / 8)


# --- per-song figures -----------------------------------------------------------
def test_song_figures_has_exactly_the_documented_keys():
    assert tuple(figures(melody(C_MAJOR))) == mm.SONG_FIGURES


def test_pitch_range_and_polyphony():
    notes = normalise([(0, 4, 60), (0, 4, 64), (0, 4, 67), (4, 4, 55)])
    f = figures(notes)
    assert f["pitch_range"] == 12
    assert f["polyphony"] == pytest.approx(2.0)  # 4 notes on 2 onsets


def test_scale_consistency_of_scales_and_a_cluster():
    assert figures(melody(C_MAJOR))["scale_consistency"] == pytest.approx(1.0)
    a_minor = [57, 59, 60, 62, 64, 65, 67, 69]
    assert figures(melody(a_minor))["scale_consistency"] == pytest.approx(1.0)
    cluster = normalise([(0, 4, p) for p in range(60, 72)])
    assert figures(cluster)["scale_consistency"] == pytest.approx(7 / 12)


def test_empty_beat_rate_counts_a_two_beat_gap():
    notes = normalise([(0, SPB, 60), (3 * SPB, SPB, 62)])  # beats 0 and 3 sound
    assert figures(notes)["empty_beat_rate"] == pytest.approx(0.5)


def test_empty_beat_rate_counts_held_notes_and_partial_beats_as_sounding():
    held = normalise([(0, 3 * SPB, 60), (3 * SPB, 1, 62)])
    assert figures(held)["empty_beat_rate"] == 0.0
    late = normalise([(SPB - 1, 1, 60), (2 * SPB + 1, 1, 62)])  # beat 1 silent
    assert figures(late)["empty_beat_rate"] == pytest.approx(1 / 3)
    leading = normalise([(2 * SPB, SPB, 60)])  # time starts at 0: two silent beats first
    assert figures(leading)["empty_beat_rate"] == pytest.approx(2 / 3)


def test_longest_token_run():
    f = mm.song_figures(melody([60]), np.array([1, 5, 5, 5, 7, 7, 2]), SPB)
    assert f["longest_token_run"] == 3
    gap = CODEC.token_id("SHIFT", CODEC.config.max_shift)
    long_gap = normalise([(0, 1, 60), (3 * CODEC.config.max_shift, 1, 60)])
    assert (CODEC.encode(long_gap) == gap).sum() == 3
    assert figures(long_gap)["longest_token_run"] == 3
    assert figures(melody(C_MAJOR))["longest_token_run"] == 1


def test_longest_onset_repeat_counts_repeats_of_one_chord():
    assert figures(chords([60, 64, 67], 10))["longest_onset_repeat"] == 9
    assert figures(chords([60, 64, 67], 1))["longest_onset_repeat"] == 0
    assert figures(melody(C_MAJOR))["longest_onset_repeat"] == 0


def test_longest_onset_repeat_ignores_timing_but_not_durations_or_pitches():
    uneven = normalise([(t, 2, p) for t in (0, 2, 10, 12, 30) for p in (60, 64)])
    assert figures(uneven)["longest_onset_repeat"] == 4
    alternating = normalise([(4 * i, 4 - 2 * (i % 2), p) for i in range(6) for p in (60, 64)])
    assert figures(alternating)["longest_onset_repeat"] == 0  # same pitches, durations differ
    shuffled = np.array([(0, 4, 60), (0, 4, 64), (4, 4, 64), (4, 4, 60)], np.int32)
    assert mm.longest_onset_repeat(shuffled) == 1  # order within an onset does not matter
    mixed = np.concatenate([chords([60, 64], 3),
                            normalise([(12, 2, 60), (12, 2, 64)]),   # new duration
                            normalise([(16, 2, 60), (16, 2, 65)]),   # new pitch
                            chords([60, 65], 5, dur=2) + [20, 0, 0]])
    # runs: 3 chords -> 2 repeats; then (16) and the 5 at 20.. are one chord: 5 repeats
    assert figures(normalise(mixed))["longest_onset_repeat"] == 5


def test_distinct_4gram_ratio():
    f = figures(melody(C_MAJOR))
    assert f["distinct_4gram_ratio"] == 1.0
    looping = mm.song_figures(melody([60]), np.full(10, 7), SPB)
    assert looping["distinct_4gram_ratio"] == pytest.approx(1 / 7)
    short = mm.song_figures(melody([60]), np.array([1, 2, 3]), SPB)
    assert short["distinct_4gram_ratio"] == 1.0
    assert figures(chords([60, 64], 20))["distinct_4gram_ratio"] < 0.3


def test_figures_of_a_song_without_notes():
    f = mm.song_figures(np.zeros((0, 3), np.int32), CODEC.encode(np.zeros((0, 3))), SPB)
    assert f == {"pitch_range": 0, "polyphony": 0.0, "scale_consistency": 0.0,
                 "empty_beat_rate": 0.0, "longest_token_run": 1,
                 "longest_onset_repeat": 0, "distinct_4gram_ratio": 1.0}


# --- copying ---------------------------------------------------------------------
def test_copy_rate_of_a_training_song_and_a_disjoint_one():
    train = [CODEC.encode(melody(C_MAJOR * 3)), CODEC.encode(chords([48, 52], 8))]
    index = mm.NgramIndex(train)
    assert index.copy_rate(train[0]) == 1.0
    assert index.copy_rate(train[1]) == 1.0
    assert index.copy_rate(CODEC.encode(melody([61, 63, 66, 68, 70] * 3))) == 0.0
    assert index.copy_rate(train[0][:11]) == 0.0  # fewer than n tokens


def test_copy_rate_counts_partial_copies_and_never_spans_songs():
    index = mm.NgramIndex([np.arange(1, 21), np.arange(100, 120)], n=4)
    assert len(index) == 2 * 17
    assert index.copy_rate([1, 2, 3, 4, 5, 99, 98, 97]) == pytest.approx(2 / 5)
    assert index.copy_rate([18, 19, 20, 100]) == 0.0  # end of one song + start of next
    assert mm.NgramIndex([], n=4).copy_rate([1, 2, 3, 4]) == 0.0


def test_ngram_index_counts_distinct_ngrams_exactly():
    rng = np.random.default_rng(0)
    seqs = [rng.integers(0, 4, size=int(rng.integers(5, 60))) for _ in range(200)]
    exact = {tuple(s[i:i + 6]) for s in seqs for i in range(len(s) - 5)}
    assert len(mm.NgramIndex(seqs, n=6)) == len(exact)


def test_ngram_index_handles_three_million_tokens_quickly():
    rng = np.random.default_rng(1)
    seqs = list(rng.integers(3, 140, size=(3000, 1000)))
    t0 = time.perf_counter()
    index = mm.NgramIndex(seqs)
    assert index.copy_rate(seqs[1234][100:400]) == 1.0
    assert time.perf_counter() - t0 < 10.0
    assert len(index) == 3000 * (1000 - 11)  # random 12-grams are all distinct


# --- sets and the table ------------------------------------------------------------
def test_set_figures_means_overlaps_and_copy_rate():
    a, b = melody(C_MAJOR), chords([60, 64, 67], 10)
    songs = [(a, CODEC.encode(a)), (b, CODEC.encode(b))]
    index = mm.NgramIndex([CODEC.encode(a)])
    f = mm.set_figures(songs, [a, b], index, SPB, CODEC.config.max_duration)
    assert tuple(f) == mm.SET_FIGURES
    assert f["songs"] == 2 and f["mean_notes"] == pytest.approx(19.0)
    assert f["longest_onset_repeat"] == pytest.approx(4.5)
    assert f["pitch_range"] == pytest.approx((12 + 7) / 2)
    assert f["pitch_class_overlap"] == pytest.approx(1.0)
    assert f["duration_overlap"] == pytest.approx(1.0)
    assert f["copy_rate"] == pytest.approx(0.5)


def test_set_figures_against_a_disjoint_reference_and_without_index():
    a = melody([60, 62], dur=2)
    other = melody([61, 63], dur=8)
    f = mm.set_figures([(a, CODEC.encode(a))], [other], None, SPB, 32)
    assert f["pitch_class_overlap"] == 0.0 and f["duration_overlap"] == 0.0
    assert math.isnan(f["copy_rate"])
    with pytest.raises(ValueError, match="at least one song"):
        mm.set_figures([], [other], None, SPB, 32)


def test_format_table_lists_every_figure_and_set():
    a = melody(C_MAJOR)
    f = mm.set_figures([(a, CODEC.encode(a))], [a], None, SPB, 32)
    table = mm.format_table({"generated": f, "held-out human": {"songs": 12, "polyphony": 1.5}})
    lines = table.splitlines()
    assert "generated" in lines[0] and "held-out human" in lines[0]
    for name in mm.SET_FIGURES:
        assert any(line.split()[0] == name for line in lines[2:]), name
    assert lines[2 + mm.SET_FIGURES.index("songs")].split()[1:] == ["1", "12"]
    assert lines[2 + mm.SET_FIGURES.index("polyphony")].split()[1:] == ["1.000", "1.500"]
    assert lines[2 + mm.SET_FIGURES.index("copy_rate")].split()[1:] == ["-", "-"]
    assert len(lines) == 2 + len(mm.SET_FIGURES)
