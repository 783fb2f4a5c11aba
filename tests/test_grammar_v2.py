"""The v2 Grammar: the header, bar lines, pickups, meter changes, requests, and
generation that never dead-ends and whose songs re-encode to grammatical tokens."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from songs import codecs, raw_songs

from trainer.compose.sampling import generate
from trainer.config import CodecConfig
from trainer.music import keys as K
from trainer.music.codec import Codec, Meta, normalise
from trainer.music.grammar import Grammar

V2 = Codec()
MONO = Codec(CodecConfig(mono=True))


def tid(name: str, codec: Codec = V2) -> int:
    return codec.tokens.index(name)


def fed(codec: Codec, names: str, **requests) -> Grammar:
    g = Grammar(codec, **requests)
    for name in names.split():
        g.advance(tid(name, codec))
    return g


def allowed(g: Grammar) -> set[str]:
    return {g.codec.describe(i) for i in np.flatnonzero(g.mask())}


def shifts(g: Grammar) -> list[int]:
    return sorted(int(n[6:]) for n in allowed(g) if n.startswith("SHIFT_"))


def accepts(codec: Codec, ids, **requests) -> Grammar:
    """Feed ``ids`` (BOS .. EOS) to a Grammar, asserting each token was allowed."""
    g = Grammar(codec, **requests)
    g.advance(ids[0])
    for i, token in enumerate(ids[1:], 1):
        assert g.mask()[token], (i, codec.describe(int(token)), [codec.describe(int(t))
                                                                 for t in ids[max(0, i - 8):i]])
        g.advance(token)
    return g


# --- the header ---------------------------------------------------------------------

def test_header_is_key_then_meter_then_music():
    g = fed(V2, "BOS")
    assert allowed(g) == {V2.describe(V2.key_id(k)) for k in K.KEYS}
    g.advance(tid("KEY_D_minor"))
    assert allowed(g) == {V2.describe(V2.meter_id(m)) for m in (*K.METERS, K.OTHER)}
    g.advance(tid("METER_3_4"))
    now = allowed(g)
    assert {"BAR", "NOTE_108", "NOTE_21"} <= now
    assert "EOS" not in now  # a song has at least one note
    assert not any(n.startswith(("KEY", "METER", "SHIFT", "DUR")) for n in now)  # notes first
    g.advance(tid("NOTE_60"))
    g.advance(tid("DUR_4"))
    assert "EOS" in allowed(g)
    assert "PAD" not in now and "BOS" not in now


def test_key_and_meter_requests_force_the_header():
    key, meter = V2.key_id((7, "major")), V2.meter_id((6, 8))
    g = fed(V2, "BOS", key=key, meter=meter)
    assert np.flatnonzero(g.mask()).tolist() == [key]
    g.advance(key)
    assert np.flatnonzero(g.mask()).tolist() == [meter]
    only_key = fed(V2, "BOS KEY_G_major", key=key)
    assert len(allowed(only_key)) == 11  # any meter
    only_meter = fed(V2, "BOS", meter=meter)
    assert len(allowed(only_meter)) == 24  # any key
    only_meter.advance(tid("KEY_C_major"))
    assert allowed(only_meter) == {"METER_6_8"}


# --- bar lines and pickups -----------------------------------------------------------

def test_bar_is_forced_exactly_at_each_bar_line_and_no_shift_crosses_it():
    g = fed(V2, "BOS KEY_C_major METER_3_4 BAR NOTE_60 DUR_4")  # 3/4: 12 steps a bar
    assert shifts(g) == list(range(1, 13)) and "BAR" not in allowed(g)
    g.advance(tid("SHIFT_8"))
    assert shifts(g) == [1, 2, 3, 4] and "BAR" not in allowed(g)  # mid-bar: no bar line
    g.advance(tid("SHIFT_4"))
    assert allowed(g) == {"BAR", "EOS"}  # at the bar line: BAR first, or the end
    g.advance(V2.bar_id)
    assert shifts(g) == list(range(1, 13)) and "NOTE_60" in allowed(g)
    assert "BAR" not in allowed(g)  # one bar line at a time
    for name in ("SHIFT_12",):  # a silent bar: still a BAR at its end
        g.advance(tid(name))
    assert allowed(g) == {"BAR", "EOS"}


def test_a_pickup_is_any_length_up_to_a_bar():
    g = fed(V2, "BOS KEY_C_major METER_4_4 NOTE_67 DUR_4")
    assert "BAR" not in allowed(g)  # a bar line comes before the notes of its time step
    assert shifts(g) == list(range(1, 17))
    g.advance(tid("SHIFT_4"))
    assert "BAR" in allowed(g) and shifts(g) == list(range(1, 13))  # a 4-step pickup ends here
    g.advance(tid("SHIFT_12"))
    assert allowed(g) == {"BAR", "EOS"}  # no pickup of more than a bar
    pickup = fed(V2, "BOS KEY_C_major METER_4_4 NOTE_67 DUR_4 SHIFT_4 BAR NOTE_72 DUR_4")
    assert shifts(pickup) == list(range(1, 17))  # then whole bars from the first bar line


def test_meter_change_only_right_after_bar_and_only_without_a_request():
    g = fed(V2, "BOS KEY_C_major METER_4_4 BAR NOTE_60 DUR_16 SHIFT_16 BAR")
    changes = {n for n in allowed(g) if n.startswith("METER")}
    assert changes == {V2.describe(V2.meter_id(m)) for m in (*K.METERS, K.OTHER)} - {"METER_4_4"}
    g.advance(tid("METER_3_4"))
    assert not any(n.startswith("METER") for n in allowed(g)) and "BAR" not in allowed(g)
    assert shifts(g) == list(range(1, 13))  # the new meter's bar
    g.advance(tid("NOTE_62"))
    g.advance(tid("DUR_4"))
    assert not any(n.startswith("METER") for n in allowed(g))  # not mid-bar
    requested = fed(V2, "BOS KEY_C_major METER_4_4 BAR NOTE_60 DUR_16 SHIFT_16 BAR",
                    meter=V2.meter_id((4, 4)))
    assert not any(n.startswith("METER") for n in allowed(requested))


def test_meter_other_frees_bar_and_shift():
    g = fed(V2, "BOS KEY_C_major METER_other NOTE_60 DUR_4")
    assert shifts(g) == list(range(1, 17)) and "BAR" not in allowed(g)
    for _ in range(5):
        g.advance(tid("SHIFT_16"))  # 80 steps: never forced to a bar line
        assert "BAR" in allowed(g) and shifts(g) == list(range(1, 17)) and "EOS" in allowed(g)
    g.advance(V2.bar_id)
    assert "BAR" not in allowed(g)  # two bar lines need time between them
    g.advance(tid("SHIFT_3"))
    assert "BAR" in allowed(g)


def test_no_bars_codec_has_no_bar_lines_to_keep():
    nb = Codec(CodecConfig(no_bars=True))
    g = fed(nb, "BOS KEY_C_major METER_3_4 NOTE_60 DUR_4 SHIFT_16 SHIFT_16")
    assert shifts(g) == list(range(1, 17)) and not any(n.startswith("METER") for n in allowed(g))


def test_v2_notes_keep_the_v1_rules():
    g = fed(V2, "BOS KEY_C_major METER_4_4 BAR NOTE_60")
    assert allowed(g) == {f"DUR_{k}" for k in range(1, 33)}  # a NOTE wants its DUR
    g.advance(tid("DUR_4"))
    assert "NOTE_59" in allowed(g) and "NOTE_60" not in allowed(g) and g.notes == 1
    mono = fed(MONO, "BOS KEY_C_major METER_4_4 NOTE_60 DUR_4")
    assert not any(n.startswith("NOTE") for n in allowed(mono))


# --- every encoded song is grammatical ---------------------------------------------

def bar_lines_by_the_tokens(codec: Codec, ids) -> None:
    """Check, at each prefix, that the mask stops every SHIFT at the next bar line and
    allows only BAR (or EOS) there, under a meter with whole-step bars; the bar lines
    come from the tokens themselves (whole bars after the first BAR, a pickup of at
    most one bar before it)."""
    g = Grammar(codec)
    time, meter, last_bar, pending = 0, None, 0, False
    for token in map(int, ids):
        length = codec.bar_steps(meter) if meter is not None else None
        if length and codec.bar_id is not None and not pending:
            allowed_ids = set(np.flatnonzero(g.mask()).tolist())
            steps = [codec.describe(i) for i in allowed_ids]
            assert all(time + int(n[6:]) <= last_bar + length
                       for n in steps if n.startswith("SHIFT_"))
            if time == last_bar + length:
                assert allowed_ids == {codec.bar_id, codec.eos_id}
        g.advance(token)
        name = codec.describe(token)
        pending = name.startswith("NOTE_")
        if codec.meter_of(token) is not None:
            meter = codec.meter_of(token)
        elif token == codec.bar_id:
            last_bar = time
        elif name.startswith("SHIFT_"):
            time += int(name[6:])


@settings(max_examples=200, deadline=None)
@given(raw_songs(), codecs())
def test_every_encoded_song_is_accepted_token_by_token(song, codec):
    raw, meters, file_key = song
    notes, meta, _ = codec.quantise_song(raw, meters, file_key)
    ids = codec.encode(notes, meta)
    g = accepts(codec, ids[:-1])
    assert g.mask()[codec.eos_id] == (len(notes) > 0) and g.notes == len(notes)
    bar_lines_by_the_tokens(codec, ids[:-1])
    key = codec.key_id(meta.key)
    assert accepts(codec, ids[:-1], key=key).notes == len(notes)
    if all(m == meta.meter for _, m in meta.bars):  # no meter change: a request fits too
        assert accepts(codec, ids[:-1], key=key, meter=codec.meter_id(meta.meter)).notes \
            == len(notes)


def test_the_bar_tokens_fall_on_the_songs_bar_lines():
    raw = np.array([[3, 4, 67], [4, 5, 72], [7, 8, 74], [10, 11, 76], [12, 14, 79]], float)
    notes, meta, _ = V2.quantise_song(raw, [(0, 4, 4), (4, 3, 4)])
    ids = V2.encode(notes, meta)
    times, t = [], 0
    for token in ids:
        name = V2.describe(int(token))
        t += int(name[6:]) if name.startswith("SHIFT_") else 0
        times += [t] if token == V2.bar_id else []
    assert times == [b for b, _ in meta.bars] == [4, 16, 28]
    bar_lines_by_the_tokens(V2, ids[:-1])


# --- generation ---------------------------------------------------------------------------

def random_model(codec: Codec, seed: int, scale: float = 2.0, eos: float = -3.0):
    rng = np.random.default_rng(seed)

    def step(token):
        logits = rng.normal(0, scale, codec.size)
        logits[codec.eos_id] = eos  # long enough songs to meet bar lines and changes
        return logits
    return step


@settings(max_examples=60, deadline=None)
@given(codecs(), st.integers(0, 2**31), st.sampled_from([0.5, 1.0, 2.0]),
       st.sampled_from([0, 5]), st.booleans())
def test_generation_never_dead_ends_and_its_songs_re_encode_grammatically(
        codec, seed, temperature, top_k, request):
    key = codec.key_id(K.KEYS[seed % 24]) if request else None
    meter = codec.meter_id((*K.METERS, K.OTHER)[seed % 11]) if request else None
    g = Grammar(codec, key, meter)
    g.advance(codec.bos_id)
    out = generate(random_model(codec, seed), codec, [codec.bos_id], 40, temperature, top_k,
                   1.0, seed, key=key, meter=meter)  # a mask with no allowed token raises
    for token in out:
        assert g.mask().any() and g.mask()[token]
        g.advance(token)
    assert g.mask().any()
    notes, meta = codec.decode_song(out)
    assert np.array_equal(normalise(notes, codec.config.mono), notes)
    if request:
        assert codec.key_id(meta.key) == key and codec.meter_id(meta.meter) == meter
        assert all(codec.meter_id(m) == meter for _, m in meta.bars)
    again = codec.encode(notes, meta)
    accepts(codec, again[:-1], key=key, meter=meter)
    bar_lines_by_the_tokens(codec, again[:-1])
    assert np.array_equal(codec.decode(again), notes)


def test_random_walks_through_the_mask_never_dead_end():
    rng = np.random.default_rng(0)
    for codec in (V2, MONO, Codec(CodecConfig(no_bars=True, steps_per_beat=3, max_shift=5))):
        for _ in range(20):
            g = Grammar(codec)
            g.advance(codec.bos_id)
            for _ in range(300):
                choices = np.flatnonzero(g.mask())
                assert len(choices), "dead end"
                choices = choices[choices != codec.eos_id]
                if not len(choices):  # only EOS left would end the song: never, for v2
                    raise AssertionError("only EOS allowed")
                g.advance(int(rng.choice(choices)))


def scripted(codec: Codec, script: list[str]):
    """A step whose logits single out ``script[i]`` after the i-th token fed, then EOS."""
    fed = []

    def step(token):
        fed.append(token)
        logits = np.zeros(codec.size)
        logits[tid(script[len(fed)]) if len(fed) < len(script) else codec.eos_id] = 50.0
        return logits
    return step


def test_generate_v2_follows_the_model_through_header_bars_and_a_meter_change():
    script = ("BOS KEY_D_minor METER_3_4 BAR NOTE_62 DUR_12 SHIFT_12 BAR METER_2_4 NOTE_65 "
              "DUR_8 SHIFT_8 BAR NOTE_69 DUR_4").split()
    out = generate(scripted(V2, script), V2, [V2.bos_id], 100, 1.0, 0, 1.0, seed=0)
    assert [V2.describe(i) for i in out] == script[1:]
    notes, meta = V2.decode_song(out)
    assert notes.tolist() == [[0, 12, 62], [12, 8, 65], [20, 4, 69]]
    assert meta == Meta((2, "minor"), (3, 4), ((0, (3, 4)), (12, (2, 4)), (20, (2, 4))))
    forced = generate(scripted(V2, script), V2, [V2.bos_id], 100, 1.0, 0, 1.0, seed=0,
                      key=V2.key_id((5, "major")), meter=V2.meter_id((6, 8)))
    names = [V2.describe(i) for i in forced]
    assert names[:6] == ["KEY_F_major", "METER_6_8", "BAR", "NOTE_62", "DUR_12", "SHIFT_12"]
    assert names[6] == "BAR" and not names[7].startswith("METER")  # 6/8 stays
