"""Issue 26's figures (trainer/evaluation/harmony_form.py), on songs small enough to count
by hand: each figure is shown to take both sides of its definition."""

from __future__ import annotations

import numpy as np
import pytest

from trainer.evaluation import harmony_form as hf


def song(*chords, dur: int = 4) -> np.ndarray:
    """Block chords of ``dur`` steps, one after another: notes (start, duration, pitch)."""
    return np.array([(i * dur, dur, p) for i, chord in enumerate(chords) for p in chord])


@pytest.mark.parametrize("pitches, chord", [
    ((60, 64, 67), True), ((57, 60, 64, 67), True),  # C major; A minor seventh
    ((59, 62, 65, 68), True), ((60, 66), True),  # B diminished seventh; C-F# in C dim
    ((60, 71), True),  # a major seventh's outer notes
    ((60, 62, 64), False), ((60, 64, 68), False),  # C D E; the augmented triad
    ((60, 61, 62), False), ((60, 63, 64), False)])
def test_a_chord_is_a_subset_of_a_triad_or_seventh_on_any_root(pitches, chord):
    assert hf.is_chord(np.array(pitches)) is chord


def test_seconds_are_adjacent_sounding_pitches_one_or_two_semitones_apart():
    assert hf.has_second(np.array([60, 62, 67]))
    assert hf.has_second(np.array([48, 67, 68]))
    assert not hf.has_second(np.array([60, 64, 67, 72]))
    assert not hf.has_second(np.array([60, 60, 64]))  # a unison is no second
    assert not hf.has_second(np.array([60, 74]))  # a ninth is no second


def test_an_onset_counts_notes_held_from_before():
    held = np.array([(0, 8, 48), (4, 4, 61), (4, 4, 62)])  # bass held; C# and D start at 4
    assert hf.counts(held) == {"onsets": 1, "chordal": 0, "seconds": 1, "pairs": 0,
                               "parallels": 0}  # at 0 one note sounds: no onset
    assert hf.counts(np.array([(0, 4, 60), (4, 4, 64)]))["onsets"] == 0  # a line has none


def test_outer_parallels_move_the_same_way_at_the_same_fifth_or_octave():
    assert hf.counts(song((48, 55, 60), (50, 57, 62)))["parallels"] == 1  # octaves, up a step
    assert hf.counts(song((48, 55), (50, 57)))["parallels"] == 1  # fifths
    assert hf.counts(song((48, 55), (47, 54)))["parallels"] == 1  # fifths, down
    assert hf.counts(song((48, 55), (50, 62)))["parallels"] == 0  # a fifth to an octave
    assert hf.counts(song((48, 60), (43, 67)))["parallels"] == 0  # contrary motion
    assert hf.counts(song((48, 60), (48, 60)))["parallels"] == 0  # no motion
    assert hf.counts(song((48, 60), (50, 64)))["parallels"] == 0  # octave to third
    broken = song((48, 55), (60,), (50, 57))  # one note between: no pair across it
    assert hf.counts(broken)["pairs"] == 0 and hf.counts(broken)["parallels"] == 0


def test_pooled_figures_weigh_every_onset_and_say_none_without_any():
    good, bad = song((48, 64, 67), (53, 65, 69)), song((60, 62, 64), (50, 57), (52, 59))
    figures = hf.pooled([hf.counts(good), hf.counts(bad)])
    assert figures["onsets"] == 5 and figures["onset_pairs"] == 3
    assert figures["chordal_share"] == pytest.approx(4 / 5)
    assert figures["seconds"] == pytest.approx(1 / 5)
    assert figures["outer_parallels_per_100"] == pytest.approx(100 / 3)
    line = hf.pooled([hf.counts(np.array([(0, 4, 60), (4, 4, 62)]))])
    assert line["chordal_share"] is None and line["outer_parallels_per_100"] is None


def test_bar_repeats_are_a_median_and_quartiles_over_songs():
    bar = [(0, 4, 60), (4, 4, 64), (8, 8, 67)]  # one 4/4 bar at 4 steps a beat
    again = np.array(bar + [(s + 16, d, p + 2) for s, d, p in bar])  # repeated a tone up
    other = np.array(bar + [(16, 16, 65)])
    figures = hf.figures([(again, None), (other, [0, 16]), (other, None)], steps_per_beat=4)
    assert figures["bar_repeats"] == {"median": 0.0, "q25": 0.0, "q75": 0.25, "mean": 1 / 6,
                                      "songs": 3}
    assert hf.figures([], 4)["bar_repeats"]["median"] is None
