"""Tests for the Kneser-Ney baseline: normalisation, hand values, parity, errors."""

from collections import Counter, defaultdict

import numpy as np
import pytest

from trainer.evaluation.ngram import BOS_ID, FALLBACK_DISCOUNTS, KneserNey, modified_kn_discounts

EOS_ID = 2


def random_songs(rng, count, vocab, low=3, length=(1, 40)):
    """Songs BOS, random ids in [low, vocab), EOS."""
    return [np.concatenate([[BOS_ID], rng.integers(low, vocab, rng.integers(*length)), [EOS_ID]])
            for _ in range(count)]


def markov2_songs(rng, table, count, length=60):
    """Songs from a 2nd-order Markov chain: ``table[a, b]`` is P(next | a, b)."""
    symbols = table.shape[-1]
    songs = []
    for _ in range(count):
        seq = list(rng.integers(0, symbols, 2))
        for _ in range(length - 2):
            seq.append(rng.choice(symbols, p=table[seq[-2], seq[-1]]))
        songs.append(np.array([BOS_ID, *(np.array(seq) + 3), EOS_ID]))
    return songs


def reference_prob(songs, order, vocab, history):
    """The same model written plainly with dicts of tuples (slow, tiny data only)."""
    raw = [Counter() for _ in range(order + 1)]  # raw[k][k-gram] = event count
    for s in songs:
        for i in range(1, len(s)):
            for k in range(1, min(order, i + 1) + 1):
                raw[k][tuple(s[i - k + 1:i + 1])] += 1
    adj = [None] + [Counter() for _ in range(order)]
    for k in range(1, order + 1):
        for g, c in raw[k].items():
            if k == order or g[0] == BOS_ID:
                adj[k][g] = c
        if k < order:
            for g in raw[k + 1]:
                if g[1] != BOS_ID:
                    adj[k][g[1:]] += 1
    disc = [None] + [(0.0, *modified_kn_discounts(list(adj[k].values())))
                     for k in range(1, order + 1)]
    total, gamma = defaultdict(float), defaultdict(float)
    for k in range(1, order + 1):
        for g, a in adj[k].items():
            total[g[:-1]] += a
            gamma[g[:-1]] += disc[k][min(a, 3)]

    def p(h, w):
        if h is None:
            return 1.0 / vocab
        lower = p(h[1:] if h else None, w)
        if total[h] == 0:
            return lower
        a = adj[len(h) + 1][h + (w,)]
        return (a - disc[len(h) + 1][min(a, 3)] + gamma[h] * lower) / total[h]

    h = tuple(history[max(0, len(history) - order + 1):])
    return np.array([p(h, w) for w in range(vocab)])


# --- normalisation ------------------------------------------------------------
@pytest.mark.parametrize("order", [1, 2, 3, 4, 5])
def test_distributions_sum_to_one_and_are_positive(order):
    rng = np.random.default_rng(order)
    songs = random_songs(rng, 30, 12)
    model = KneserNey(order, 12).fit(songs)
    seen = [s[:rng.integers(0, len(s) + 1)] for s in songs[:20]]  # includes [] and [BOS]
    unseen = [rng.integers(0, 12, rng.integers(0, 8)) for _ in range(40)]
    for history in seen + unseen + [[], [BOS_ID], [EOS_ID]]:
        p = model.prob(history)
        assert p.shape == (12,)
        assert abs(p.sum() - 1.0) < 1e-12, history
        assert p.min() > 0, history


# --- hand-computed values -----------------------------------------------------
def test_discount_formula_by_hand():
    # n1=4, n2=2, n3=1, n4=1 -> Y = 4/(4+2*2) = 0.5;
    # D1 = 1 - 2*0.5*2/4 = 0.5, D2 = 2 - 3*0.5*1/2 = 1.25, D3+ = 3 - 4*0.5*1/1 = 1.0.
    assert modified_kn_discounts([1, 1, 1, 1, 2, 2, 3, 4, 0]) == pytest.approx((0.5, 1.25, 1.0))
    assert modified_kn_discounts([1, 1, 2, 3]) == FALLBACK_DISCOUNTS  # n4 = 0
    # n1=n2=n4=1, n3=10 -> Y = 1/3, D2 = 2 - 3*(1/3)*10/1 = -8 < 0.
    assert modified_kn_discounts([1, 2] + [3] * 10 + [4]) == FALLBACK_DISCOUNTS


def test_unigram_values_by_hand():
    # Order 1 uses raw target counts (BOS at position 0 is no target): ids 3, 4, 5
    # and EOS once, 7 and 8 twice, 9 three times, 10 four times -> the discounts
    # above. Total T = 15; gamma = 4*0.5 + 2*1.25 + 2*1.0 = 6.5, spread uniformly
    # over V = 11: 6.5 / (15 * 11) each.
    song = np.array([1, 3, 4, 5, 7, 7, 8, 8, 9, 9, 9, 10, 10, 10, 10, 2])
    model = KneserNey(1, 11).fit([song])
    assert model.discounts[0] == pytest.approx((0.5, 1.25, 1.0))
    uniform = 6.5 / (15 * 11)
    p = model.prob([4, 4])  # order 1 ignores the history
    assert p[10] == pytest.approx((4 - 1.0) / 15 + uniform)
    assert p[7] == pytest.approx((2 - 1.25) / 15 + uniform)
    assert p[3] == pytest.approx((1 - 0.5) / 15 + uniform)
    assert p[0] == pytest.approx(uniform) and p[BOS_ID] == pytest.approx(uniform)


def test_bigram_values_by_hand():
    # V = 6; songs [BOS 3 4 EOS] and [BOS 3 3 EOS].
    # Bigram counts: (1,3):2 (3,4):1 (4,2):1 (3,3):1 (3,2):1 -> n3 = 0, and the
    # unigram continuation counts 3:{1,3}=2 4:{3}=1 2:{4,3}=2 have n3 = 0: both
    # orders fall back to D = (0.5, 1.0, 1.5).
    # Unigram: T = 5, gamma = 0.5*1 + 1.0*2 = 2.5, uniform share 2.5/5/6 = 1/12:
    #   P1(3) = P1(EOS) = (2-1)/5 + 1/12 = 0.28333, P1(4) = 0.5/5 + 1/12 = 0.18333,
    #   P1(0) = P1(BOS) = P1(5) = 1/12.
    # Context 3: followers 4, 3, EOS once each -> total 3, gamma 1.5:
    #   P(4|3) = (0.5 + 1.5*0.18333)/3 = 0.25833, P(5|3) = 1.5/12/3 = 0.041667.
    # Context BOS: 3 twice -> total 2, gamma 1.0: P(3|BOS) = (1 + 0.28333)/2 = 0.64167.
    # Context 4: EOS once -> total 1, gamma 0.5: P(EOS|4) = 0.5 + 0.5*0.28333 = 0.64167.
    model = KneserNey(2, 6).fit([np.array([1, 3, 4, 2]), np.array([1, 3, 3, 2])])
    p1 = np.array([1 / 12, 1 / 12, 0.2 + 1 / 12, 0.2 + 1 / 12, 0.1 + 1 / 12, 1 / 12])
    np.testing.assert_allclose(model.prob([]), p1)
    np.testing.assert_allclose(model.prob([5]), p1)  # unseen context backs off fully
    p3 = model.prob([3])
    assert p3[4] == pytest.approx(0.775 / 3) and p3[5] == pytest.approx(0.125 / 3)
    assert model.prob([1])[3] == pytest.approx(0.641666667)
    assert model.prob([4])[2] == pytest.approx(0.641666667)
    nll = model.nll([np.array([1, 3, 4, 2])])
    np.testing.assert_allclose(nll, -np.log([0.641666667, 0.775 / 3, 0.641666667]))


def test_contexts_do_not_cross_songs():
    # (EOS, BOS) never occurs inside a song, so EOS is no context and BOS gets no
    # continuation count: only its uniform share.
    model = KneserNey(2, 6).fit([np.array([1, 3, 2]), np.array([1, 4, 2])])
    np.testing.assert_allclose(model.prob([EOS_ID]), model.prob([]))
    assert model.prob([])[BOS_ID] == pytest.approx(model.prob([])[0])


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_matches_plain_dict_reference(order):
    rng = np.random.default_rng(10 + order)
    songs = [np.concatenate([[BOS_ID], rng.integers(3, 7, rng.integers(0, 30)), [EOS_ID]])
             for _ in range(25)]
    model = KneserNey(order, 8).fit(songs)
    histories = [s[:i] for s in songs[:5] for i in range(len(s))] + [[5, 5, 5], [0, 7]]
    for history in histories:
        np.testing.assert_allclose(model.prob(history),
                                   reference_prob(songs, order, 8, list(history)), rtol=1e-10)


# --- modelling power ----------------------------------------------------------
def test_repeated_song_scores_far_better_than_random():
    rng = np.random.default_rng(1)
    tune = random_songs(rng, 1, 40, length=(80, 81))[0]
    model = KneserNey(4, 40).fit([tune] * 10 + random_songs(rng, 50, 40))
    random_tune = random_songs(rng, 1, 40, length=(80, 81))[0]
    assert model.nll([tune]).mean() < 0.2 * model.nll([random_tune]).mean()


def test_order3_beats_order1_on_second_order_markov_data():
    rng = np.random.default_rng(2)
    table = rng.dirichlet(np.full(12, 0.1), size=(12, 12))
    train, held_out = markov2_songs(rng, table, 150), markov2_songs(rng, table, 20)
    nll1 = KneserNey(1, 15).fit(train).nll(held_out).mean()
    nll3 = KneserNey(3, 15).fit(train).nll(held_out).mean()
    assert nll3 < nll1 - 0.5, (nll1, nll3)


def test_unseen_tokens_get_small_nonzero_probability():
    rng = np.random.default_rng(3)
    songs = [np.concatenate([[BOS_ID], rng.integers(3, 8, 50), [EOS_ID]]) for _ in range(40)]
    model = KneserNey(3, 30).fit(songs)
    for history in ([], [BOS_ID], [4, 5], [20, 21]):
        p = model.prob(history)
        unseen = p[10:]  # ids 10..29 never occur
        assert unseen.min() > 0 and unseen.max() < p[3:8].min() / 10
    for seen_context in ([BOS_ID], [4, 5]):  # more evidence, less mass left over
        p = model.prob(seen_context)
        assert p[10:].max() < 0.002 and p[10:].max() < p[3:8].min() / 50
    assert np.isfinite(model.nll([np.array([BOS_ID, 25, 3, 26, EOS_ID])])).all()


# --- nll shape and alignment --------------------------------------------------
def test_nll_length_and_alignment():
    rng = np.random.default_rng(4)
    model = KneserNey(3, 10).fit(random_songs(rng, 20, 10))
    held_out = random_songs(rng, 4, 10) + [np.array([BOS_ID])]
    nll = model.nll(held_out)
    assert len(nll) == sum(len(s) - 1 for s in held_out)
    expected = [-np.log(model.prob(s[:i])[s[i]]) for s in held_out for i in range(1, len(s))]
    np.testing.assert_allclose(nll, expected, rtol=1e-12)
    np.testing.assert_allclose(nll, np.concatenate([model.nll([s]) for s in held_out]))


# --- errors -------------------------------------------------------------------
@pytest.mark.parametrize("order, vocab", [(0, 10), (-1, 10), (2, 0), (2.0, 10), (True, 10)])
def test_bad_constructor_arguments(order, vocab):
    with pytest.raises(ValueError, match="order|vocab_size"):
        KneserNey(order, vocab)


def test_bad_ids_and_unfitted_use():
    model = KneserNey(2, 5)
    with pytest.raises(RuntimeError, match="not fitted"):
        model.prob([1])
    with pytest.raises(RuntimeError, match="not fitted"):
        model.nll([np.array([1, 2])])
    with pytest.raises(ValueError, match="token id 5"):
        model.fit([np.array([1, 3, 5, 2])])
    with pytest.raises(ValueError, match="token id -1"):
        model.fit([np.array([1, -1, 2])])
    with pytest.raises(ValueError, match="start with BOS"):
        model.fit([np.array([3, 4, 2])])
    with pytest.raises(ValueError, match="integer"):
        model.fit([np.array([1.0, 3.0, 2.0])])
    with pytest.raises(ValueError, match="at least one"):
        model.fit([])
    model.fit([np.array([1, 3, 4, 2])])
    with pytest.raises(ValueError, match="token id 9"):
        model.nll([np.array([1, 9, 2])])
    with pytest.raises(ValueError, match="token id 7"):
        model.prob([1, 7])
    with pytest.raises(ValueError, match="non-empty"):
        model.nll([np.array([], dtype=int)])


def test_top1_is_the_argmax_of_prob():
    rng = np.random.default_rng(3)
    songs = [np.r_[1, rng.integers(3, 12, 40), 2] for _ in range(30)]
    model = KneserNey(3, 12).fit(songs[:25])
    held = songs[25:]
    top = model.top1(held)
    expected = [int(np.argmax(model.prob(s[:i]))) for s in held for i in range(1, len(s))]
    assert top.tolist() == expected
