"""Keys and meters: spellings, names, the Krumhansl-Schmuckler estimate, choose_key."""

from __future__ import annotations

import numpy as np
import pytest

from trainer.errors import CadenzaError
from trainer.music import keys as K


@pytest.mark.parametrize("text, key", [
    ("D:minor", (2, "minor")), ("D minor", (2, "minor")), ("Dm", (2, "minor")),
    ("f#:major", (6, "major")), ("Ador", (9, "minor")), ("Bb", (10, "major")),
    ("bb:maj", (10, "major")), ("Ebm", (3, "minor")), ("C#_min", (1, "minor")),
    ("Gmaj", (7, "major")), ("e mixolydian", (4, "major")), ("F lydian", (5, "major")),
    ("E phrygian", (4, "minor")), ("B locrian", (11, "minor")), ("a aeolian", (9, "minor")),
    ("Cb", (11, "major")), ("B#:minor", (0, "minor")), ("  G  ", (7, "major")),
    ("bm", (11, "minor")), ("Db:Major", (1, "major")),
])
def test_parse_key_accepts_the_documented_spellings(text, key):
    assert K.parse_key(text) == key


@pytest.mark.parametrize("text", ["any", "ANY", " Any "])
def test_parse_key_any_is_no_request(text):
    assert K.parse_key(text) is None


@pytest.mark.parametrize("text", ["H major", "D:blues", "", "Dmm", "D minor major", "C##", "7"])
def test_parse_key_refuses_others_naming_the_valid_spellings(text):
    with pytest.raises(CadenzaError) as e:
        K.parse_key(text)
    message = str(e.value)
    assert repr(text.strip()) in message
    assert "any" in message and "C#, Db" in message and "major or minor" in message
    assert "D:minor" in message


def test_every_key_name_parses_back():
    assert [K.parse_key(K.key_name(k)) for k in K.KEYS] == list(K.KEYS)
    assert K.key_name((3, "major")) == "Eb:major" and K.key_name((6, "minor")) == "F#:minor"


@pytest.mark.parametrize("text, meter", [("6/8", (6, 8)), (" 3/4 ", (3, 4)), ("12/8", (12, 8)),
                                         ("other", "other"), ("OTHER", "other"),
                                         ("any", None), ("Any", None)])
def test_parse_meter_accepts_the_documented_spellings(text, meter):
    assert K.parse_meter(text) == meter


@pytest.mark.parametrize("text", ["5/4", "7/8", "6-8", "6/8/2", "0/4", "abc", "", "4"])
def test_parse_meter_refuses_others_naming_the_valid_choices(text):
    with pytest.raises(CadenzaError) as e:
        K.parse_meter(text)
    message = str(e.value)
    assert repr(text) in message
    assert "any, other" in message
    assert all(K.meter_name(m) in message for m in K.METERS)


def test_meter_names_values_and_bar_lengths():
    assert [K.parse_meter(K.meter_name(m)) for m in (*K.METERS, K.OTHER)] == \
        [*K.METERS, K.OTHER]
    assert K.meter_token_value((6, 8)) == (6, 8) and K.meter_token_value((5, 4)) == "other"
    assert K.meter_token_value([3, 4]) == (3, 4)
    assert K.bar_steps((4, 4), 4) == 16 and K.bar_steps((6, 8), 4) == 12
    assert K.bar_steps((3, 8), 2) == 3 and K.bar_steps((3, 8), 1) is None  # 1.5 steps
    assert K.bar_steps((1, 32), 4) is None  # half a step


def scale_and_triad(key):
    """The key's scale (minor: harmonic) up an octave, then its tonic triad held."""
    tonic, mode = key
    steps = (0, 2, 4, 5, 7, 9, 11) if mode == "major" else (0, 2, 3, 5, 7, 8, 11)
    notes = [(4 * i, 4, 60 + tonic + s) for i, s in enumerate((*steps, 12))]
    third = 4 if mode == "major" else 3
    notes += [(32 + 8 * i, 8, 48 + tonic + s) for i, s in enumerate((0, third, 7, 0))]
    return np.array(notes)


def cadence(key):
    """I - IV - V - I in the key (minor: iv and a major V)."""
    tonic, mode = key
    third, sixth = (4, 9) if mode == "major" else (3, 8)
    chords = [(0, third, 7), (5, sixth, 12), (7, 11, 14), (0, third, 7)]
    return np.array([(8 * i, 8, 60 + tonic + s) for i, chord in enumerate(chords) for s in chord])


@pytest.mark.parametrize("key", K.KEYS, ids=K.key_name)
def test_estimate_key_of_scales_and_cadences(key):
    assert K.estimate_key(scale_and_triad(key)) == key
    assert K.estimate_key(cadence(key)) == key
    assert K.estimate_key(scale_and_triad(key) + [0, 0, 12]) == key  # octaves don't matter


def test_estimate_key_weights_by_duration_and_has_a_default():
    assert K.estimate_key(np.zeros((0, 3))) == (0, "major")
    assert K.estimate_key(np.array([[0, 4, 60]] * 3)) == K.estimate_key([[0, 1, 60]])
    assert np.all(K.key_correlations([[0, 4, 60], [0, 4, 72]]) != 0)
    flat = np.array([[i, 1, 60 + i] for i in range(12)])
    assert np.all(K.key_correlations(flat) == 0)  # all twelve alike: no evidence
    # A long A minor triad after a C major scale pulls the estimate to A minor.
    c_scale = [(i, 1, 60 + s) for i, s in enumerate((0, 2, 4, 5, 7, 9, 11))]
    assert K.estimate_key(np.array(c_scale)) == (0, "major")
    assert K.estimate_key(np.array(c_scale + [(8, 30, 57), (8, 30, 60), (8, 30, 64)])) == (9, "minor")


def test_same_signature_and_scale_of():
    assert K.same_signature((0, "major"), (9, "minor")) and K.same_signature((2, "minor"),
                                                                              (5, "major"))
    assert K.same_signature((7, "major"), (7, "major"))
    assert not K.same_signature((0, "major"), (0, "minor"))
    assert not K.same_signature((0, "major"), (7, "major"))
    assert np.flatnonzero(K.scale_of((9, "minor"))).tolist() == [0, 2, 4, 5, 7, 9, 11]
    assert np.flatnonzero(K.scale_of((2, "major"))).tolist() == [1, 2, 4, 6, 7, 9, 11]


def test_choose_key_takes_the_file_key_only_on_the_same_signature():
    d_major = cadence((2, "major"))
    assert K.estimate_key(d_major) == (2, "major")
    assert K.choose_key((2, "major"), d_major) == ((2, "major"), "file")
    assert K.choose_key((11, "minor"), d_major) == ((11, "minor"), "file")  # its relative
    assert K.choose_key((2, "minor"), d_major) == ((2, "major"), "estimate")  # other signature
    assert K.choose_key((7, "major"), d_major) == ((2, "major"), "estimate")  # one sharp off
    assert K.choose_key(None, d_major) == ((2, "major"), "estimate")
    assert K.choose_key([11, "minor"], d_major) == ((11, "minor"), "file")  # from JSON
