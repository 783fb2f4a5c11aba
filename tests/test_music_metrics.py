"""Music metrics on small hand-built songs whose figures are known."""

import math
import time

import numpy as np
import pytest

from trainer.evaluation import music_metrics as mm
from trainer.music.codec import Codec, normalise

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
    assert math.isnan(f.pop("key_agreement"))
    assert f == {"pitch_range": 0, "polyphony": 0.0, "scale_consistency": 0.0,
                 "empty_beat_rate": 0.0, "longest_onset_repeat": 0, "longest_repeat": 0.0,
                 "bar_repeat_share": 0.0, "distinct_4gram_ratio": 1.0}
    g = mm.song_figures(np.zeros((0, 3), np.int32), [], SPB, bar_starts=[0], key=(0, "major"))
    assert g["key_agreement"] == 0.0 and g["scale_consistency"] == 0.0


def test_scale_consistency_with_a_key_counts_that_scale_only():
    c = melody(C_MAJOR)
    on = lambda key: mm.song_figures(c, CODEC.encode(c), SPB, key=key)["scale_consistency"]
    assert on((2, "major")) == pytest.approx(5 / 8)  # C, F and the top C are outside D major
    assert on((9, "minor")) == pytest.approx(1.0)  # A minor has C major's notes
    assert on(None) == pytest.approx(1.0)


def test_key_agreement_of_a_c_major_scale():
    c = melody(C_MAJOR)
    agree = lambda key: mm.song_figures(c, CODEC.encode(c), SPB, key=key)["key_agreement"]
    assert agree((0, "major")) == 1.0
    assert agree([np.int64(0), "major"]) == 1.0  # any (tonic, mode) pair, as from JSON
    assert agree((9, "minor")) == 0.0  # same notes, but the estimate is C major
    assert math.isnan(agree(None))
    with pytest.raises(ValueError, match="tonic"):
        agree((12, "major"))
    with pytest.raises(ValueError, match="tonic"):
        agree((0, "dorian"))


# --- repeated material -------------------------------------------------------------
PHRASE = [60, 64, 62, 67]  # one 4/4 bar of quarter notes


def naive_longest_repeat(notes):
    """longest_repeat by trying every pair of stretches."""
    notes = normalise(notes)
    times = sorted(set(notes[:, 0].tolist()))
    chord = [sorted(map(tuple, notes[notes[:, 0] == t][:, 1:].tolist())) for t in times]
    n = len(times)

    def same(i, j, length):
        return all(chord[i + k] == chord[j + k] for k in range(length)) and all(
            times[i + k + 1] - times[i + k] == times[j + k + 1] - times[j + k]
            for k in range(length - 1))

    for length in range(n // 2, 0, -1):
        if any(same(i, j, length) for i in range(n) for j in range(i + length, n - length + 1)):
            return length / n
    return 0.0


def test_longest_repeat_of_looping_and_distinct_songs():
    assert figures(melody(PHRASE * 4))["longest_repeat"] == 0.5  # two loops, twice
    assert figures(melody(PHRASE * 10))["longest_repeat"] == 0.5
    assert figures(melody(PHRASE * 3))["longest_repeat"] == pytest.approx(1 / 3)
    assert figures(melody(C_MAJOR))["longest_repeat"] == 0.0  # no onset's notes recur
    assert figures(melody([60]))["longest_repeat"] == 0.0
    assert figures(np.zeros((0, 3), np.int32))["longest_repeat"] == 0.0


def test_longest_repeat_needs_no_overlap_and_a_later_copy():
    assert mm.longest_repeat(melody([60] * 5)) == pytest.approx(2 / 5)  # not 4 of 5 shifted by 1
    assert mm.longest_repeat(melody([60, 62, 64, 66, 67, 60, 62])) == pytest.approx(2 / 7)


def test_longest_repeat_compares_gaps_durations_and_whole_chords():
    shifted = normalise([(0, 4, 60), (4, 4, 62), (8, 4, 64),
                         (16, 4, 60), (22, 4, 62), (26, 4, 64)])  # second gap 6, not 4
    assert mm.longest_repeat(shifted) == pytest.approx(2 / 6)  # only 62, 64 recurs
    far = normalise([(0, 4, 60), (4, 4, 62), (100, 4, 60), (104, 4, 62)])
    assert mm.longest_repeat(far) == 0.5  # the time between the copies does not matter
    longer = normalise([(0, 4, 60), (4, 4, 62), (8, 4, 60), (12, 8, 62)])
    assert mm.longest_repeat(longer) == 0.25  # the second 62 is held twice as long
    chord = normalise([(0, 4, 60), (0, 4, 64), (4, 4, 60), (8, 4, 60), (8, 4, 67)])
    assert mm.longest_repeat(chord) == 0.0  # 60 alone differs from 60 with a third or fifth


def test_longest_repeat_matches_trying_every_pair():
    rng = np.random.default_rng(3)
    for _ in range(60):
        n = int(rng.integers(2, 30))
        song = normalise(np.column_stack([np.cumsum(rng.integers(1, 3, n)),
                                          rng.integers(1, 3, n), rng.integers(60, 62, n)]))
        assert mm.longest_repeat(song) == pytest.approx(naive_longest_repeat(song))


def test_longest_repeat_of_two_thousand_onsets_is_fast():
    rng = np.random.default_rng(4)
    phrase = np.column_stack([np.arange(0, 400, 2), rng.integers(1, 3, 200),
                              rng.integers(48, 84, 200)])
    song = normalise(np.concatenate([phrase + [400 * k, 0, 0] for k in range(10)]))
    assert len(np.unique(song[:, 0])) == 2000
    t0 = time.perf_counter()
    assert mm.longest_repeat(song) == 0.5
    assert time.perf_counter() - t0 < 1.0  # measured 6 ms


def test_bar_repeat_share_of_looping_and_distinct_songs():
    assert figures(melody(PHRASE * 4))["bar_repeat_share"] == pytest.approx(3 / 4)
    assert figures(melody(PHRASE + [65, 72, 71, 69]))["bar_repeat_share"] == 0.0
    assert figures(melody(PHRASE))["bar_repeat_share"] == 0.0  # one bar: nothing earlier


def test_bar_repeat_share_counts_a_transposed_bar_but_not_a_new_rhythm():
    transposed = melody(PHRASE + [p + 2 for p in PHRASE])
    assert figures(transposed)["bar_repeat_share"] == 0.5
    rhythm = np.concatenate([melody(PHRASE),
                             normalise([(16, 8, 60), (24, 2, 64), (26, 2, 62), (28, 4, 67)])])
    assert figures(normalise(rhythm))["bar_repeat_share"] == 0.0
    bent = melody(PHRASE + [60, 64, 63, 67])  # one interval differs
    assert figures(bent)["bar_repeat_share"] == 0.0


def test_bar_repeat_share_skips_bars_without_onsets_and_held_notes():
    # bar 1 holds only the end of bar 0's long note; bar 2 repeats bar 0
    song = normalise([(0, 4, 60), (4, 28, 64), (32, 4, 60), (36, 28, 64)])
    assert mm.bar_repeat_share(song, [0, 16, 32, 48]) == 0.5


def test_bar_repeat_share_places_a_pickup_bar_before_the_first_bar_line():
    song = normalise([(0, 4, 67),                                        # pickup, 12 into its bar
                      (4, 4, 60), (8, 4, 64), (12, 4, 62), (16, 2, 65),  # bar 1
                      (32, 4, 69)])                                       # bar 2, 12 into it
    assert mm.bar_repeat_share(song, [4, 20, 36]) == pytest.approx(1 / 3)  # bar 2 = pickup + 2
    assert mm.song_figures(song, CODEC.encode(song), SPB, [4, 20, 36])["bar_repeat_share"] \
        == pytest.approx(1 / 3)
    assert figures(song)["bar_repeat_share"] == 0.0  # as 4/4 from step 0 no bar repeats
    assert mm.bar_repeat_share(song, [36]) == 0.0  # a long pickup and one bar
    assert mm.bar_repeat_share(song, [20, 4, 4, 36]) == pytest.approx(1 / 3)  # sorted first
    with pytest.raises(ValueError, match="bar line"):
        mm.bar_repeat_share(song, [])


def test_four_four_bars_reach_the_end_of_the_last_note():
    np.testing.assert_array_equal(mm.four_four_bars(melody([60] * 5), SPB), [0, 16])
    np.testing.assert_array_equal(mm.four_four_bars(melody([60] * 4), SPB), [0])
    np.testing.assert_array_equal(mm.four_four_bars(np.zeros((0, 3)), SPB), [0])


# --- meter -------------------------------------------------------------------------
BAR = 4 * SPB


def test_onset_profile_of_onsets_on_beats_only():
    profile = mm.onset_profile(chords([60, 64, 67], 8), [0, BAR], BAR)  # chords count once
    assert profile.shape == (BAR,)
    expected = np.zeros(BAR)
    expected[[0, 4, 8, 12]] = 0.25
    np.testing.assert_allclose(profile, expected)
    offbeats = mm.onset_profile(melody([60] * 8) + [2, 0, 0], [0, BAR, 2 * BAR], BAR)
    assert offbeats[[2, 6, 10, 14]].sum() == pytest.approx(1.0)


def test_onset_profile_counts_only_bars_of_the_length_asked():
    song = normalise([(0, 4, 60), (18, 4, 62), (28, 4, 64)])
    # bar [16, 28) is 12 steps; the last bar [28, 32) ends within a bar of its line
    np.testing.assert_allclose(mm.onset_profile(song, [0, 16, 28], BAR)[[0, 2]], [1.0, 0.0])
    assert not mm.onset_profile(melody([60] * 8), [0], BAR).any()  # one 32-step bar
    assert not mm.onset_profile(np.zeros((0, 3)), [0], BAR).any()
    with pytest.raises(ValueError, match="bar_len"):
        mm.onset_profile(song, [0], 0)


def test_onset_profile_measures_a_pickup_back_from_the_first_bar_line():
    song = normalise([(2, 2, 60), (4, 4, 62), (12, 4, 64)])
    profile = mm.onset_profile(song, [4, 20], BAR)
    np.testing.assert_allclose(profile[[0, 8, 14]], [1 / 3, 1 / 3, 1 / 3])
    early = mm.onset_profile(song, [20, 36], BAR)  # the pickup is longer than a bar
    np.testing.assert_allclose(early[[0, 8]], [0.5, 0.5])  # the onset at 2 is dropped
    assert not mm.onset_profile(song, [4, 16], BAR).any()  # first bar 12 steps: no pickup


def test_meter_adherence_of_like_and_unlike_profiles():
    beats = mm.onset_profile(melody([60] * 4), [0], BAR)
    offbeats = mm.onset_profile(melody([60] * 4) + [2, 0, 0], [0, BAR], BAR)
    assert offbeats[[2, 6, 10, 14]].sum() == pytest.approx(1.0)
    assert mm.meter_adherence([beats, beats], [beats]) == pytest.approx(1.0)
    assert mm.meter_adherence([beats], [offbeats]) == 0.0
    assert mm.meter_adherence([beats], [beats, offbeats]) == pytest.approx(0.5)
    assert mm.meter_adherence([beats, np.zeros(BAR)], [beats]) == pytest.approx(1.0)
    assert mm.meter_adherence([np.zeros(BAR)], [beats]) == 0.0
    with pytest.raises(ValueError, match="non-empty"):
        mm.meter_adherence([], [beats])
    with pytest.raises(ValueError, match="shape"):
        mm.meter_adherence([beats], [np.ones(12) / 12])


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


def test_set_figures_take_bars_and_keys_and_skip_undefined_key_agreement():
    a = melody(C_MAJOR)
    tokens = CODEC.encode(a)
    f = mm.set_figures([(a, tokens, None, (0, "major")), (a, tokens)], [a], None, SPB, 32)
    assert f["key_agreement"] == 1.0  # the song without a key is left out, not counted 0
    f = mm.set_figures([(a, tokens, None, (0, "major")), (a, tokens, [0], (9, "minor"))],
                       [a], None, SPB, 32)
    assert f["key_agreement"] == pytest.approx(0.5)
    loop = melody(PHRASE * 2)
    f = mm.set_figures([(loop, CODEC.encode(loop), [0, 32], None)], [a], None, SPB, 32)
    assert f["bar_repeat_share"] == 0.0  # one 8-beat bar, though two 4/4 bars would repeat
    assert math.isnan(f["key_agreement"])
    with pytest.raises(ValueError, match="notes, tokens"):
        mm.set_figures([(a, tokens, None)], [a], None, SPB, 32)


def test_figure_ranges_and_quartiles_leave_out_nan():
    songs = [(s, CODEC.encode(s)) for s in
             (melody(C_MAJOR), melody(PHRASE * 3), melody(PHRASE * 4), melody(PHRASE * 10))]
    ranges = mm.figure_ranges(songs, SPB)
    assert tuple(ranges) == mm.SONG_FIGURES
    assert ranges["longest_repeat"] == pytest.approx((0.0, 0.5))
    assert all(math.isnan(v) for v in ranges["key_agreement"])
    quartiles = mm.figure_quartiles(songs, SPB)
    assert tuple(quartiles) == mm.SONG_FIGURES
    assert quartiles["longest_repeat"] == pytest.approx((0.25, 5 / 12, 0.5))  # of 0, 1/3, .5, .5
    assert all(math.isnan(v) for v in quartiles["key_agreement"])
    keyed = [(*songs[0], None, (0, "major")), songs[1], (*songs[2], None, (2, "major"))]
    assert mm.figure_ranges(keyed, SPB)["key_agreement"] == (0.0, 1.0)
    assert mm.figure_quartiles(keyed, SPB)["key_agreement"] == pytest.approx((0.25, 0.5, 0.75))
