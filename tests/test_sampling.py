"""Sampling: the PRNG, sample_token's steps, the grammar, generate().

The grammar and generation tests here pin the v1 language (``vocab_version=1``:
no header, SHIFT anywhere); tests/test_grammar_v2.py holds the v2 grammar.
"""

import numpy as np
import pytest

from trainer.compose.sampling import Mulberry32, candidates, generate, sample_token
from trainer.config import CodecConfig
from trainer.music.codec import Codec
from trainer.music.grammar import Grammar

CODEC = Codec(CodecConfig(vocab_version=1))
MONO = Codec(CodecConfig(mono=True, vocab_version=1))
V2 = Codec()
LOGITS = np.array([0.5, 2.0, -1.0, 2.0, 1.9])


def tid(name: str, codec: Codec = CODEC) -> int:
    return codec.tokens.index(name)


class CountingRng:
    """An rng that counts its draws."""

    def __init__(self, u: float = 0.999):
        self.u, self.calls = u, 0

    def random(self) -> float:
        self.calls += 1
        return self.u


@pytest.mark.parametrize("seed, first", [
    (0, [1144304738, 1416247, 958946056, 627933444, 2007157716]),
    (42, [2581720956, 1925393290, 3661312704, 2876485805, 750819978]),
    (-1, [3850105811, 813802916, 3073704848, 4054706436, 3630262831]),
    (2**32 - 1, [3850105811, 813802916, 3073704848, 4054706436, 3630262831]),
    (2**31, [3524353788, 1924613307, 3365584844, 2199219949, 3602660773]),
])
def test_mulberry32_matches_node(seed, first):
    # Pinned from node: mulberry32(seed)() * 2**32, five times.
    rng = Mulberry32(seed)
    assert [rng.random() * 2**32 for _ in first] == first


def test_greedy_and_cut_offs_pick_the_argmax():
    rng = CountingRng()
    assert sample_token(LOGITS, 0, 0, 1.0, rng) == 1  # first of the two maxima
    assert rng.calls == 0
    assert sample_token(LOGITS, 1.0, 1, 1.0, rng) == 1
    assert sample_token(LOGITS, 1.0, 0, 1e-9, rng) == 1
    assert rng.calls == 2
    assert sample_token(LOGITS, 0, 0, 1.0, rng, mask=[1, 0, 1, 1, 1]) == 3


def chi_square(draws, probs) -> float:
    counts = np.bincount(draws, minlength=len(probs))
    expected = len(draws) * np.asarray(probs)
    return float(((counts - expected) ** 2 / expected).sum())


def softmax(x):
    e = np.exp(x - np.max(x))
    return e / e.sum()


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_draws_follow_the_tempered_softmax(temperature):
    rng = Mulberry32(123)
    draws = [sample_token(LOGITS, temperature, 0, 1.0, rng) for _ in range(20_000)]
    # 4 degrees of freedom: P(chi2 > 18.47) = 0.001; a wrong temperature gives hundreds.
    assert chi_square(draws, softmax(LOGITS / temperature)) < 18.47


def test_top_k_and_top_p_renormalise_the_kept_tokens():
    rng = Mulberry32(5)
    draws = [sample_token(LOGITS, 1.0, 2, 1.0, rng) for _ in range(10_000)]
    assert set(draws) == {1, 3}
    assert abs(np.mean(np.array(draws) == 1) - 0.5) < 0.02
    p = softmax(LOGITS)  # sorted: 1, 3, 4, 0, 2; 1 and 3 hold < 0.7, adding 4 passes it
    assert p[1] + p[3] < 0.7 < p[1] + p[3] + p[4]
    ids, kept = candidates(LOGITS, 1.0, 0, 0.7)
    assert ids.tolist() == [1, 3, 4]
    np.testing.assert_allclose(kept / kept.sum(), p[[1, 3, 4]] / p[[1, 3, 4]].sum())


def test_temperature_divides_logits():
    ids, p = candidates(LOGITS, 2.0, 0, 1.0)
    np.testing.assert_allclose(p, softmax(LOGITS / 2.0)[ids], rtol=1e-12)
    assert not np.allclose(p, softmax(LOGITS)[ids])


def test_mask_is_respected():
    rng = Mulberry32(1)
    mask = np.array([True, False, True, False, False])
    assert {sample_token(LOGITS, 1.5, 0, 1.0, rng, mask) for _ in range(500)} == {0, 2}
    with pytest.raises(ValueError, match="no allowed token"):
        sample_token(LOGITS, 1.0, 0, 1.0, rng, np.zeros(5, bool))
    with pytest.raises(ValueError, match="4 entries for 5 logits"):
        sample_token(LOGITS, 1.0, 0, 1.0, rng, mask[:4])
    with pytest.raises(ValueError, match="temperature"):
        sample_token(LOGITS, -1.0, 0, 1.0, rng)


def test_same_seed_same_tokens():
    def run(seed):
        rng = Mulberry32(seed)
        return [sample_token(LOGITS, 1.0, 0, 0.95, rng) for _ in range(50)]
    assert run(3) == run(3)
    assert run(3) != run(4)


def test_grammar_rules():
    g = Grammar(CODEC)
    allowed = lambda name: bool(g.mask()[tid(name)])  # noqa: E731
    g.advance(CODEC.bos_id)
    assert not allowed("PAD") and not allowed("BOS") and not allowed("DUR_4")
    assert allowed("NOTE_108") and allowed("SHIFT_1") and allowed("EOS")
    g.advance(tid("NOTE_60"))  # a NOTE wants its DUR, and only that
    assert g.mask().sum() == CODEC.config.max_duration and allowed("DUR_32")
    assert not allowed("EOS") and not allowed("SHIFT_1") and not allowed("NOTE_50")
    g.advance(tid("DUR_4"))
    assert g.notes == 1
    assert allowed("NOTE_59") and not allowed("NOTE_60") and not allowed("NOTE_61")
    assert not allowed("DUR_4") and not allowed("PAD")
    g.advance(tid("SHIFT_2"))  # a new onset: any pitch again
    assert allowed("NOTE_108") and g.notes == 1
    g.advance(tid("NOTE_40"))
    g.advance(tid("SHIFT_1"))  # a NOTE cut off by a SHIFT is dropped, as in decode
    assert allowed("NOTE_108") and g.notes == 1
    with pytest.raises(ValueError, match="outside the vocabulary"):
        g.advance(CODEC.size)


def test_mono_grammar_allows_one_note_per_onset():
    g = Grammar(MONO)
    for name in ("BOS", "NOTE_60", "DUR_2"):
        g.advance(tid(name, MONO))
    assert not g.mask()[tid("NOTE_40", MONO)] and g.mask()[tid("SHIFT_1", MONO)]


def chain(codec: Codec, pairs: dict[str, str], calls: list):
    """A step whose logits single out the token that ``pairs`` says follows the one fed."""
    nxt = {tid(a, codec): tid(b, codec) for a, b in pairs.items()}

    def step(token):
        calls.append(token)
        logits = np.zeros(codec.size)
        logits[nxt.get(token, codec.eos_id)] = 50.0
        return logits
    return step


def test_generate_stops_at_eos_and_leaves_it_out():
    calls = []
    step = chain(CODEC, {"BOS": "NOTE_60", "NOTE_60": "DUR_4", "DUR_4": "SHIFT_4",
                         "SHIFT_4": "EOS"}, calls)
    out = generate(step, CODEC, [CODEC.bos_id], 100, 1.0, 0, 1.0, seed=0)
    assert [CODEC.describe(i) for i in out] == ["NOTE_60", "DUR_4", "SHIFT_4"]
    assert out.dtype == np.int32 and calls == [CODEC.bos_id, *out.tolist()]


def test_generate_stops_after_max_notes_counting_the_prime():
    calls = []
    step = chain(CODEC, {"BOS": "NOTE_60", "NOTE_60": "DUR_4", "DUR_4": "SHIFT_4",
                         "SHIFT_4": "NOTE_60"}, calls)
    prime = [CODEC.bos_id, tid("NOTE_60"), tid("DUR_4")]
    out = generate(step, CODEC, prime, 3, 1.0, 0, 1.0, seed=0)
    assert [CODEC.describe(i) for i in out] == ["SHIFT_4", "NOTE_60", "DUR_4", "SHIFT_4",
                                                "NOTE_60", "DUR_4"]
    assert calls == prime + out.tolist()[:-1]  # the last token is never fed


@pytest.mark.parametrize("codec", [CODEC, V2], ids=["v1", "v2"])
def test_generate_masks_what_the_model_wants_but_cannot_be(codec):
    # The model wants NOTE_60 forever and never EOS; the grammar makes that a song.
    logits = np.zeros(codec.size)
    logits[tid("NOTE_60", codec)], logits[codec.eos_id] = 9.0, -50.0
    out = generate(lambda token: logits, codec, [codec.bos_id], 20, 1.0, 0, 1.0, seed=7)
    names = [codec.describe(i) for i in out]
    assert len(codec.decode(out)) == 20 and 1 < names.count("NOTE_60") < 20
    assert all(a.startswith("NOTE") == b.startswith("DUR") for a, b in zip(names, names[1:]))
    for onset in " ".join(names).split("SHIFT"):  # high to low inside an onset
        pitches = [int(n[5:]) for n in onset.split() if n.startswith("NOTE")]
        assert pitches == sorted(pitches, reverse=True) and len(set(pitches)) == len(pitches)


def test_generate_gives_up_at_the_token_cap():
    step = chain(CODEC, {"BOS": "SHIFT_1", "SHIFT_1": "SHIFT_1"}, [])
    assert len(generate(step, CODEC, [CODEC.bos_id], 2, 1.0, 0, 1.0, seed=0)) == 32
    assert len(generate(step, CODEC, [CODEC.bos_id], 2, 1.0, 0, 1.0, 0, max_tokens=5)) == 5


@pytest.mark.parametrize("codec", [CODEC, V2], ids=["v1", "v2"])
def test_generate_checks_the_prime(codec):
    with pytest.raises(ValueError, match="BOS"):
        generate(lambda t: np.zeros(codec.size), codec, [tid("NOTE_60", codec)], 5, 1.0, 0, 1.0,
                 0)
    with pytest.raises(ValueError, match="EOS"):
        generate(lambda t: np.zeros(codec.size), codec, codec.encode([]), 5, 1.0, 0, 1.0, 0)


def test_keep_survives_top_k_and_top_p_at_its_own_probability():
    p = softmax(LOGITS)  # order 1, 3, 4, 0, 2
    ids, kept = candidates(LOGITS, 1.0, 2, 1.0, keep=2)
    assert ids.tolist() == [1, 3, 2]
    np.testing.assert_allclose(kept, p[[1, 3, 2]])  # not renormalised up to the others
    ids, _ = candidates(LOGITS, 1.0, 0, 0.7, keep=0)
    assert ids.tolist() == [1, 3, 4, 0]
    assert candidates(LOGITS, 1.0, 3, 1.0, keep=3)[0].tolist() == [1, 3, 4]  # kept anyway: once
    masked = np.array([True, True, False, True, True])
    assert candidates(LOGITS, 1.0, 1, 1.0, masked, keep=2)[0].tolist() == [1]  # masked: never
    assert candidates(LOGITS, 1.0, 1, 1.0, keep=9)[0].tolist() == [1]  # no such id
    assert candidates(LOGITS, 0, 1, 1.0, keep=2)[0].tolist() == [1]  # greedy ignores it
    rng = Mulberry32(11)
    draws = np.array([sample_token(LOGITS, 1.0, 2, 1.0, rng, keep=2) for _ in range(20_000)])
    share = p[2] / (p[1] + p[3] + p[2])
    assert set(draws.tolist()) == {1, 2, 3} and abs(np.mean(draws == 2) - share) < 0.01


def test_generate_keeps_eos_within_reach_under_top_k():
    # Top-1 is always NOTE_60, DUR_4 or SHIFT_4, never EOS; generation passes keep=EOS,
    # so songs still end where the model puts EOS at its own (small) probability.
    logits = np.zeros(CODEC.size)
    logits[[tid("NOTE_60"), tid("DUR_4"), tid("SHIFT_4"), CODEC.eos_id]] = 9.0, 9.0, 8.5, 4.0
    songs = [generate(lambda t: logits, CODEC, [CODEC.bos_id], 500, 1.0, 1, 1.0, seed=s)
             for s in range(20)]
    notes = [len(CODEC.decode(out)) for out in songs]
    assert max(notes) < 500 and len(set(notes)) > 5
    assert all(CODEC.describe(i) in ("NOTE_60", "DUR_4", "SHIFT_4") for i in songs[0])


@pytest.mark.parametrize("meter", [(3, 4), (6, 8), None], ids=["3/4", "6/8", "v1"])
def test_a_prime_is_answered_with_at_least_a_bar(meter):
    """A model that would end at once: after a prime with notes, EOS waits until the rest
    of the prime's bar and one whole bar more have passed (Grammar.hold_bar)."""
    from trainer.music.codec import Meta

    codec = Codec() if meter else Codec(CodecConfig(vocab_version=1))
    notes = np.array([[0, 4, 67], [4, 4, 69], [8, 2, 71]])  # ends 10 steps in: mid-bar
    meta = Meta((7, "major"), meter, ((0, meter),)) if meter else None
    prime = codec.encode(notes, meta)[:-1]
    logits = np.zeros(codec.size, np.float32)
    logits[codec.eos_id] = 50.0  # EOS whenever it is allowed
    out = generate(lambda t: logits, codec, prime, 10_000, 1.0, 0, 1.0, seed=3)
    end = int(codec.decode_song(np.concatenate([prime, out]))[0][:, :2].sum(1).max()) \
        if meter else None
    bar = codec.bar_steps(meter) if meter else 4 * codec.config.steps_per_beat
    time = sum(int(codec.tokens[t].split("_")[1]) for t in out
               if codec.tokens[t].startswith("SHIFT"))
    rest = (bar - 10 % bar) % bar if meter else 0
    assert time >= rest + bar  # the rest of the bar, then a whole one
    assert time < rest + bar + codec.ranges["SHIFT"][1]  # and then it ends
    assert end is None or end >= 10
    bare = generate(lambda t: logits, codec, [codec.bos_id], 10_000, 1.0, 0, 1.0, seed=3)
    assert len(bare) <= 6 + (2 if meter else 0)  # no prime: it may end after one note
