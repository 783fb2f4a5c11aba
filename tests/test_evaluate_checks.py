"""trainer.evaluation.evaluate.checks and report: which figures are checked, against what."""

import pytest

from trainer.evaluation import evaluate as E
from trainer.evaluation import harmony_form as hf

FIGURES = ("longest_repeat", "bar_repeat_share", "longest_onset_repeat", "distinct_4gram_ratio",
           "scale_consistency")


def result(meters) -> dict:
    """An evaluation as evaluate() builds it before its checks, with these requested meters."""
    music = {"generated": {f: 0.2 for f in FIGURES} | {"copy_rate": 0.3},
             "human_test": {f: 0.3 for f in FIGURES} | {"copy_rate": 0.3},
             "human_range": {f: [0.1, 0.5] for f in FIGURES}}
    return {"music": music, "lengths": {"generated": [100, 120], "human_test": [90, 110, 130]},
            "requests": {"keys": [], "key_agreement": 0.9, "scale_consistency": 0.95,
                         "human_scale_consistency": 0.96, "meters": meters}}


def meter(name, human_songs, overlap, training_overlap=0.9):
    return {"meter": name, "human_songs": human_songs, "overlap": overlap,
            "training_songs": 50, "training_overlap": training_overlap}


@pytest.mark.parametrize("overlap,ok", [(0.9, True), (E.METER_OVERLAP - 0.01, False)])
def test_a_meter_with_enough_human_test_songs_is_checked_both_ways(overlap, ok):
    out = E.checks(result([meter("6/8", E.MIN_METER_TEST_SONGS, overlap)]))
    assert out["meter 6/8"] == {"overlap": overlap, "at_least": E.METER_OVERLAP, "ok": ok}


def test_a_meter_with_too_few_human_test_songs_is_reported_not_checked():
    r = result([meter("6/8", 40, 0.95), meter("3/8", E.MIN_METER_TEST_SONGS - 1, 0.6, 0.55)])
    r["checks"] = E.checks(r)
    assert "meter 6/8" in r["checks"] and "meter 3/8" not in r["checks"]
    r.update(test_notes=10, test_targets=30, songs={"train": 5, "validation": 1, "test": 2},
             lstm={"nll": 1.0, "nll_per_note": 3.0, "perplexity": 2.7, "accuracy": 0.5,
                   "by_position": []},
             ngram={"nll": 1.2, "nll_per_note": 3.6, "perplexity": 3.3, "accuracy": 0.4,
                    "order": 5, "variant": "plain"},
             nll_per_note_reduction=1 / 6, sampling={"free_songs": 2, "temperature": 1.0,
                                                      "top_p": 0.95, "songs_per_request": 20})
    r["lengths"]["hit_token_limit"] = 0
    r["requests"].update(estimator_ceiling=0.9, ceiling_songs=2)
    r["music"]["generated"].update(songs=2)
    r["music"]["human_test"].update(songs=2)
    chorale = [[0, 4, 48], [0, 4, 55], [0, 4, 60], [4, 4, 50], [4, 4, 57], [4, 4, 62],
               [8, 4, 51], [8, 4, 52], [8, 4, 53]]  # a chord, parallel octaves, a cluster
    r["music"]["harmony_form"] = {"generated": hf.figures([(chorale, None)], 4),
                                  "human_test": hf.figures([([[0, 4, 60]], None)], 4)}
    text = E.report(r)
    lines = {line.split("  ")[1]: line.split()[-2:] for line in text.splitlines()
             if line.startswith("  ") and len(line.split("  ")) > 2}
    assert lines["chordal share (onsets that are triads or sevenths)"] == ["0.667", "-"]
    assert lines["onsets with adjacent voices a 2nd apart"] == ["0.333", "-"]
    assert lines["outer parallel 5ths/8ves per 100 onset pairs"] == ["50.00", "-"]
    assert "3/8 0.600 (4 human; training songs 0.550; not checked: fewer than 5 human" in text
    assert "6/8 0.950 (40 human; training songs 0.900)" in text
    assert "meter 6/8" in text and "meter 3/8" not in text.split("checks:")[1]


@pytest.mark.parametrize("value,ok", [(0.3, True), (0.6, False), (0.05, False)])
def test_every_music_figure_is_checked_against_the_human_range_whatever_the_corpus(value, ok):
    r = result([])
    r["music"]["generated"]["scale_consistency"] = value
    out = E.checks(r)
    assert out["scale_consistency"] == {"generated": value, "human_range": [0.1, 0.5], "ok": ok}
    assert all(out[f]["ok"] for f in FIGURES if f != "scale_consistency")
