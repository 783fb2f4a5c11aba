"""Training windows cut on the fly from whole songs.

Each epoch tiles every song into windows of at most ``window`` inputs, starting
from a random offset, so every target token is predicted once per epoch and no
window crosses a song boundary. With ``burn_in`` B, a window that starts
mid-song first reads the B tokens before it with weight 0: its first
predictions come from a state that has seen some of the song, as they do in
generation (B = 0: from the zero state). Windows are shuffled, optionally transposed
(one random shift per window, keeping every note on the piano) and padded with
``PAD`` at weight 0. Memory is the songs' tokens plus one batch.
"""

from __future__ import annotations

import math

import keras
import numpy as np

from trainer.music.codec import Codec
from trainer.music.context import song_features, unpack
from trainer.music.context import transpose as transpose_context


def key_inputs(codec: Codec, song: np.ndarray, start: int, length: int) -> np.ndarray:
    """The key input (:func:`trainer.nn.model.build_model`) at song positions
    ``start..start+length-1``: the song's ``KEY`` (its token 1) from position 1 on,
    24 ("no key yet") at position 0."""
    first = codec.ranges["KEY"][0]
    key = int(song[1]) - first if len(song) > 1 and 0 <= int(song[1]) - first < 24 else 24
    out = np.full(length, key, dtype=np.int32)
    if start == 0 and length:
        out[0] = 24
    return out


def bar_inputs(codec: Codec, song: np.ndarray, start: int, length: int) -> np.ndarray:
    """The bar-count input at song positions ``start..start+length-1``: how many ``BAR``
    tokens the song has had up to and including each position, at most 63."""
    count = np.cumsum(np.asarray(song) == codec.bar_id)
    return np.minimum(count[start:start + length], 63).astype(np.int32)


class Windows(keras.utils.PyDataset):
    """Batches ``(inputs, targets, weights)``, each ``(batch_size, window)``.

    Training mode (``shuffle=True``) draws new offsets, order and
    transpositions each epoch from ``(seed, epoch)``, so a resumed run sees
    the same data it would have seen. Every batch is full; the few windows an
    epoch has beyond a whole number of batches are left out of that epoch.
    Evaluation mode tiles from offset 0 in order and pads the last batch with
    weight-0 rows. Weights are 1 for real targets and 0 for padding. With a v2
    codec the inputs are ``(tokens, keys)``: the song's key at every step
    (:func:`key_inputs`), transposed with the window.
    """

    def __init__(self, songs: list[np.ndarray], codec: Codec, window: int, batch_size: int,
                 shuffle: bool = True, transpose: int = 0, seed: int = 0, epoch: int = 0,
                 burn_in: int = 0, bar_input: bool = False, context=None):
        super().__init__()
        self.songs = [np.asarray(s, dtype=np.int32) for s in songs if len(s) >= 2]
        if not self.songs:
            raise ValueError("no song has two or more tokens")
        self.codec, self.window, self.batch_size = codec, window, batch_size
        self.shuffle, self.transpose, self.seed, self.epoch = shuffle, transpose, seed, epoch
        if not 0 <= burn_in < window:
            raise ValueError(f"burn-in {burn_in} must be below the window size {window}")
        self.burn_in, self.bar_input, self.context = burn_in, bar_input, context
        # the Context's features at every position, once (packed bits: 80 bytes a token)
        self.features = None if context is None else [song_features(context, s)
                                                      for s in self.songs]
        later = window - burn_in  # targets of a window after a song's first
        fewest = sum(1 + math.ceil(max(len(s) - 1 - window, 0) / later) for s in self.songs)
        self._batches = max(1, fewest // batch_size) if shuffle else math.ceil(fewest / batch_size)
        self._cache = (None, None)  # (epoch, plan), swapped as one object

    def __len__(self) -> int:
        return self._batches

    def targets(self) -> int:
        """Target tokens in all songs (each predicted once per full pass)."""
        return sum(len(s) - 1 for s in self.songs)

    def on_epoch_end(self):
        self.epoch += 1

    def epoch_targets(self, epoch: int) -> int:
        """Real (weight 1) target tokens in the batches of ``epoch``."""
        return int(self._plan(epoch)[:self._batches * self.batch_size, 2].sum())

    def _plan(self, epoch: int) -> np.ndarray:
        """Rows of (song, start, length) for ``epoch``, in batch order."""
        cached_epoch, rows = self._cache
        if cached_epoch != epoch:
            rng = np.random.default_rng([self.seed, epoch])
            rows = []
            for i, song in enumerate(self.songs):
                last = len(song) - 1  # inputs are song[:-1]
                offset = int(rng.integers(self.window)) if self.shuffle else 0
                cuts = [0, *range(offset or self.window, last, self.window - self.burn_in), last]
                rows += [(i, a, b - a) for a, b in zip(cuts, cuts[1:]) if b > a]
            rows = np.asarray(rows, dtype=np.int64)
            if self.shuffle:
                rows = rows[rng.permutation(len(rows))]
            self._cache = (epoch, rows)
        return rows

    def __getitem__(self, index: int):
        rows = self._plan(self.epoch)[index * self.batch_size:(index + 1) * self.batch_size]
        shape = (self.batch_size, self.window)
        x = np.full(shape, self.codec.pad_id, dtype=np.int32)
        y = np.full(shape, self.codec.pad_id, dtype=np.int32)
        w = np.zeros(shape, dtype=np.float32)
        keyed = self.codec.version >= 2
        k = np.full(shape, 24, dtype=np.int32)
        b = np.zeros(shape, dtype=np.int32)
        c = None if self.context is None else np.zeros((*shape, self.context.size), np.float32)
        rng = np.random.default_rng([self.seed, self.epoch, index])
        for r, (song, start, length) in enumerate(rows):
            before = min(self.burn_in, start)
            chunk = self.songs[song][start - before:start + length + 1]
            n = before + length
            if keyed:
                k[r, :n] = key_inputs(self.codec, self.songs[song], start - before, n)
                if self.bar_input:
                    b[r, :n] = bar_inputs(self.codec, self.songs[song], start - before, n)
            if c is not None:
                c[r, :n] = unpack(self.features[song][start - before:start + length],
                                  self.context.size)
            if self.transpose:
                shift = self._shift(chunk, rng)
                if shift and c is not None:
                    c[r, :n] = transpose_context(c[r, :n], shift, self.context)
                if shift:
                    chunk = self.codec.transpose(chunk, shift)
                    known = k[r, :n] < 24
                    k[r, :n][known] = (k[r, :n][known] // 12) * 12 \
                        + (k[r, :n][known] % 12 + shift) % 12
            x[r, :n], y[r, :n] = chunk[:-1], chunk[1:]
            w[r, before:n] = 1.0
        if not keyed:
            return x, y, w
        inputs = (x, k, *([b] if self.bar_input else []), *([c] if c is not None else []))
        return inputs, y, w

    def _shift(self, chunk: np.ndarray, rng) -> int:
        """A random transposition within +-transpose that keeps the chunk on the piano."""
        low, high = self.codec.transpose_range(chunk)
        low, high = max(low, -self.transpose), min(high, self.transpose)
        return int(rng.integers(low, high + 1)) if low < high else 0
