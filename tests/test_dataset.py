"""Training windows: coverage, boundaries, padding, augmentation, determinism."""

import numpy as np
import pytest

from trainer.config import CodecConfig
from trainer.errors import CadenzaError
from trainer.music.codec import Codec
from trainer.music.corpus import split_names
from trainer.nn.dataset import Windows

# Windows only cut token ids. SONGS are v1 tokens: the one-batch bound of the reshuffle
# test is a property of these songs and seed, not a guarantee (v2 tokens of the same notes
# leave out 20 targets there; the guaranteed bound is tested on both). The tests that hold
# for any tokens also run on v2 songs (KEY, METER, BAR).
CODEC = Codec(CodecConfig(vocab_version=1))
V2 = Codec()


def song(n_notes, seed, low=40, high=80, codec=CODEC):
    rng = np.random.default_rng(seed)
    notes = np.stack([np.arange(n_notes) * 2, np.full(n_notes, 2),
                      rng.integers(low, high, n_notes)], axis=1)
    return codec.encode(notes)


SONGS = [song(n, i) for i, n in enumerate([5, 40, 13, 70, 1, 26])]
V2_SONGS = [song(n, i, codec=V2) for i, n in enumerate([5, 40, 13, 70, 1, 26])]
BOTH = pytest.mark.parametrize("codec, songs", [(CODEC, SONGS), (V2, V2_SONGS)],
                               ids=["v1", "v2"])


def gather(ds):
    """All (song index, target position) pairs the dataset's epoch trains on."""
    seen = []
    for b in range(len(ds)):
        x, y, w = ds[b]
        if isinstance(x, tuple):  # v2: (tokens, keys) -- the key input covers the same steps
            x, keys = x[0], x[1]
            assert keys.shape == x.shape and ((keys >= 0) & (keys <= 24)).all()
            assert (keys[:, 0][x[:, 0] == ds.codec.bos_id] == 24).all()  # no key before KEY
        assert x.shape == y.shape == w.shape == (ds.batch_size, ds.window)
        for r in range(ds.batch_size):
            n = int(w[r].sum())
            assert (w[r, :n] == 1).all() and (w[r, n:] == 0).all()  # padding only at the end
            assert (x[r, n:] == ds.codec.pad_id).all()
            seen.append((x[r, :n].copy(), y[r, :n].copy()))
    return seen


@BOTH
def test_eval_mode_covers_every_target_once_without_crossing_songs(codec, songs):
    ds = Windows(songs, codec, window=8, batch_size=4, shuffle=False)
    pairs = gather(ds)
    assert sum(len(y) for _, y in pairs) == ds.targets() == sum(len(s) - 1 for s in songs)
    for x, y in pairs:
        # each window is a contiguous slice of one song, targets shifted by one
        hits = [s for s in songs
                if any(np.array_equal(s[a:a + len(x)], x) and np.array_equal(s[a + 1:a + 1 + len(y)], y)
                       for a in range(len(s) - len(x)))]
        assert hits


def test_training_epoch_trains_nearly_every_target_and_reshuffles():
    ds = Windows(SONGS, CODEC, window=8, batch_size=2, shuffle=True, seed=7)
    first = gather(ds)
    total = sum(len(y) for _, y in first)
    assert total == ds.epoch_targets(0)
    assert total >= ds.targets() - 2 * 8  # at most one batch-remainder of windows left out
    ds.on_epoch_end()
    second = gather(ds)
    assert [len(y) for _, y in first] != [len(y) for _, y in second]  # new offsets / order


@BOTH
@pytest.mark.parametrize("seed", range(5))
def test_an_epoch_leaves_out_only_windows_beyond_whole_batches(codec, songs, seed):
    # The batch count is fixed from the fewest windows a tiling can give; a random
    # offset adds at most one window per song, so what an epoch leaves out is bounded
    # by (songs + batch_size - 1) windows.
    ds = Windows(songs, codec, window=8, batch_size=2, shuffle=True, seed=seed)
    for epoch in range(3):
        total = ds.epoch_targets(epoch)
        assert total <= ds.targets()
        assert total >= ds.targets() - (len(ds.songs) + ds.batch_size - 1) * ds.window


def test_same_seed_and_epoch_gives_same_batches():
    a = Windows(SONGS, CODEC, window=8, batch_size=2, transpose=5, seed=3, epoch=4)
    b = Windows(SONGS, CODEC, window=8, batch_size=2, transpose=5, seed=3, epoch=4)
    for i in range(len(a)):
        assert all(np.array_equal(u, v) for u, v in zip(a[i], b[i]))


@BOTH
def test_transposition_moves_whole_windows_and_stays_on_the_piano(codec, songs):
    top = codec.encode(np.array([[2 * i, 2, 108] for i in range(80)]))  # room to go down only
    ds = Windows([top], codec, window=16, batch_size=2, transpose=6, seed=1)
    shifts = set()
    for i in range(len(ds)):
        x, y, w = ds[i]
        x = x[0] if isinstance(x, tuple) else x  # v2: (tokens, keys)
        for r in range(len(x)):
            p = codec.pitch_of(x[r, :int(w[r].sum())])
            p = p[p >= 0]
            assert len(set(p.tolist())) <= 1  # one shift for the whole window
            shifts.update((p - 108).tolist())
    assert shifts <= set(range(-6, 1)) and len(shifts) > 2


def test_needs_a_song_with_two_tokens():
    with pytest.raises(ValueError):
        Windows([np.array([1])], CODEC, window=8, batch_size=2)


def test_split_is_by_song_and_reproducible():
    names = [f"s{i}" for i in range(20)]
    train, val, test = split_names(names, 0.2, seed=1)
    assert len(val) == 4 and not set(train) & set(val) and sorted(train + val) == sorted(names)
    assert test == []  # no test fraction: no test set
    assert split_names(names, 0.2, seed=1) == (train, val, [])
    assert split_names(names, 0.2, seed=2) != (train, val, [])
    train, val, _ = split_names(["a", "b"], 0.01, 0)
    assert len(train) == len(val) == 1
    with pytest.raises(CadenzaError, match="at least 2"):
        split_names(["a"], 0.5, 0)


def test_v2_windows_carry_the_songs_key_transposed_with_it_and_the_bar_count():
    from trainer.nn.dataset import bar_inputs

    songs = [np.asarray(s) for s in V2_SONGS if len(s) > 12]
    ds = Windows(songs, V2, window=8, batch_size=2, shuffle=True, seed=3, transpose=2,
                 burn_in=3, bar_input=True)
    first = V2.ranges["KEY"][0]
    starts = 0
    for b in range(len(ds)):
        (x, keys, bars), y, w = ds[b]
        for r in range(len(x)):
            n = int((x[r] != V2.pad_id).sum())
            row = x[r, :n]
            assert (np.diff(bars[r, :n]) >= 0).all() and (bars[r, :n] <= 63).all()
            at = np.flatnonzero(row == V2.bar_id)
            assert all(bars[r, i] == bars[r, i - 1] + 1 for i in at if i > 0)
            if n > 1 and row[0] == V2.bos_id:  # a song's first window: the key is its KEY token's
                starts += 1
                assert keys[r, 0] == 24 and (keys[r, 1:n] == row[1] - first).all()
                assert (bars[r, :n] == bar_inputs(V2, row, 0, n)).all()
    assert starts
