"""Interpolated modified Kneser-Ney n-gram model over token ids: the baseline.

The honest yardstick the LSTM must beat (Chen & Goodman 1998, "An empirical
study of smoothing techniques for language modeling", section 3). numpy only.

Contract:

* A training song is a 1-D int array of ids in ``[0, vocab_size)`` that starts
  with ``BOS``. Contexts never cross songs: position ``i`` is predicted from
  ``seq[max(0, i - order + 1):i]``, so the first positions of a song use the
  shorter history that begins at ``BOS``. Nothing is padded: ``BOS`` already
  marks the start, and padding would invent n-grams the data never holds.
* ``prob`` is a distribution over all ``vocab_size`` ids that sums to 1 and
  gives every id a nonzero probability. ``nll`` scores the same probabilities.

Estimation, for an n-gram ``g`` of length ``k`` with first token ``x``:

* Adjusted count ``a(g)``: the raw count if ``k == order`` or ``x`` is ``BOS``
  (nothing can precede ``BOS``, so its continuation count would be 0; SRILM
  and KenLM do the same); otherwise the continuation count, the number of
  distinct tokens seen right before ``g``.
* ``P_k(w | h) = (a(hw) - D_k(a(hw)) + gamma(h) P_{k-1}(w | h[1:])) / sum_v a(hv)``
  with ``gamma(h) = sum_v D_k(a(hv))``, i.e. ``D1 N1(h.) + D2 N2(h.) + D3+ N3+(h.)``.
  A context never seen at order ``k`` backs off entirely: ``P_k = P_{k-1}``.
  ``P_0`` is uniform over the vocabulary.
* Discounts per order from the count-of-counts ``n1..n4`` of adjusted counts:
  ``Y = n1 / (n1 + 2 n2)``, ``D1 = 1 - 2Y n2/n1``, ``D2 = 2 - 3Y n3/n2``,
  ``D3+ = 3 - 4Y n4/n3``. Where some ``n_j`` is 0 or some ``D`` is not
  positive (tiny corpora) that order uses ``FALLBACK_DISCOUNTS`` instead, as
  KenLM's ``--discount_fallback`` does.

Storage: the k-grams seen in training form a suffix trie. The k-gram
``x + g`` has the key ``id(g) * vocab_size + x`` and its id is its index in the
sorted array of keys of order ``k``, so lookups are ``np.searchsorted``.
"""

from __future__ import annotations

import numpy as np

from trainer import constants as C

BOS_ID = C.SPECIAL_TOKENS.index(C.BOS)
FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)  # KenLM's --discount_fallback defaults


def modified_kn_discounts(adjusted_counts: np.ndarray) -> tuple[float, float, float]:
    """``(D1, D2, D3+)`` from the adjusted counts of one order (zeros ignored).

    Chen & Goodman's estimate; ``FALLBACK_DISCOUNTS`` where it is undefined or
    gives a discount that is not positive.
    """
    counts = np.asarray(adjusted_counts)
    n1, n2, n3, n4 = (int(np.count_nonzero(counts == j)) for j in (1, 2, 3, 4))
    if min(n1, n2, n3, n4) == 0:
        return FALLBACK_DISCOUNTS
    y = n1 / (n1 + 2 * n2)
    d = (1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3)
    return d if min(d) > 0 else FALLBACK_DISCOUNTS


class KneserNey:
    """An interpolated modified Kneser-Ney model of ``order`` (1 = unigram)."""

    def __init__(self, order: int, vocab_size: int):
        for name, value in (("order", order), ("vocab_size", vocab_size)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        self.order, self.vocab_size = int(order), int(vocab_size)
        # After fit: discounts[k - 1] is (D1, D2, D3+) of order k.
        self.discounts: list[tuple[float, float, float]] | None = None
        self._keys: list[np.ndarray] = []  # [k]: sorted keys of the k-grams seen
        self._num: list[np.ndarray] = []  # [k]: a(g) - D(a(g)) per k-gram id
        self._total: list[np.ndarray] = []  # [k]: sum_v a(hv) per (k-1)-gram id h
        self._gamma: list[np.ndarray] = []  # [k]: sum_v D(a(hv)) per (k-1)-gram id h
        self._p1: np.ndarray | None = None  # P_1 over the whole vocabulary

    # --- public API -----------------------------------------------------------
    def fit(self, sequences) -> KneserNey:
        """Estimate the model from songs (each starts with ``BOS``); returns ``self``."""
        seqs = [self._check_ids(s, f"sequence {i}") for i, s in enumerate(sequences)]
        if not seqs:
            raise ValueError("fit needs at least one sequence")
        for i, s in enumerate(seqs):
            if len(s) == 0 or s[0] != BOS_ID:
                raise ValueError(f"sequence {i} must start with BOS (id {BOS_ID}); "
                                 "contexts are counted from the song start")
        tokens = np.concatenate(seqs)
        pos = np.concatenate([np.arange(len(s)) for s in seqs])
        raw, prefix = self._count(tokens, pos)
        self._estimate(raw, prefix)
        return self

    def nll(self, sequences) -> np.ndarray:
        """Per-target negative log-likelihood in nats, songs concatenated in order.

        Entry ``j`` of the result scores ``seq[i]`` from ``seq[:i]`` for every
        ``i >= 1`` of every sequence; the length is ``sum(len(s) - 1)``.
        A sequence's first id starts its history (``BOS`` for a whole song).
        """
        self._check_fitted()
        seqs = [self._check_ids(s, f"sequence {i}") for i, s in enumerate(sequences)]
        if any(len(s) == 0 for s in seqs):
            raise ValueError("nll needs non-empty sequences")
        if not seqs:
            return np.zeros(0)
        return -np.log(self._window_probs(self._windows(seqs)))

    def top1(self, sequences, chunk: int = 256) -> np.ndarray:
        """The most likely next token at every position :meth:`nll` scores."""
        self._check_fitted()
        seqs = [self._check_ids(s, f"sequence {i}") for i, s in enumerate(sequences)]
        if not seqs:
            return np.zeros(0, dtype=np.int64)
        win = self._windows(seqs)
        out = np.empty(len(win), dtype=np.int64)
        for a in range(0, len(win), chunk):
            rows = np.repeat(win[a:a + chunk], self.vocab_size, axis=0)
            rows[:, -1] = np.tile(np.arange(self.vocab_size), len(rows) // self.vocab_size)
            out[a:a + chunk] = self._window_probs(rows).reshape(-1, self.vocab_size).argmax(1)
        return out

    def _windows(self, seqs: list[np.ndarray]) -> np.ndarray:
        """One row per target: its history (``-1`` before the song) then the target."""
        tokens = np.concatenate(seqs)
        pos = np.concatenate([np.arange(len(s)) for s in seqs])
        target = np.flatnonzero(pos >= 1)
        back = np.arange(-(self.order - 1), 1)  # window columns, oldest first
        at = target[:, None] + back
        return np.where(back >= -pos[target][:, None], tokens[np.maximum(at, 0)], -1)

    def prob(self, history) -> np.ndarray:
        """The next-token distribution ``(vocab_size,)`` after ``history``.

        Only the last ``order - 1`` ids count; a shorter history is used as it
        is (``BOS`` first for a song start). Sums to 1, every entry > 0.
        """
        self._check_fitted()
        hist = self._check_ids(history, "history")
        hist = hist[max(0, len(hist) - (self.order - 1)):]
        win = np.empty((self.vocab_size, len(hist) + 1), dtype=np.int64)
        win[:, :-1] = hist
        win[:, -1] = np.arange(self.vocab_size)
        return self._window_probs(win)

    # --- estimation -----------------------------------------------------------
    def _count(self, tokens: np.ndarray, pos: np.ndarray):
        """Keys, raw event counts and context ids of the k-grams, k = 1..order."""
        v, n = self.vocab_size, self.order
        self._keys, raw, prefix = [np.zeros(1, np.int64)], [None], [None]
        ids = np.zeros(len(tokens), dtype=np.int64)  # id of the (k-1)-gram ending at i
        for k in range(1, n + 1):
            at = np.flatnonzero(pos >= k - 1)  # positions where a k-gram ends
            key = ids[at] * v + tokens[at - (k - 1)]
            keys, first, inv = np.unique(key, return_index=True, return_inverse=True)
            # An event predicts a target at position >= 1; a lone BOS is no event.
            raw.append(np.bincount(inv[pos[at] >= 1], minlength=len(keys)))
            # The context of a k-gram is the (k-1)-gram ending one position earlier.
            prefix.append(ids[at[first] - 1] if k > 1 else np.zeros(len(keys), np.int64))
            self._keys.append(keys)
            ids = np.full(len(tokens), -1, dtype=np.int64)
            ids[at] = inv
        return raw, prefix

    def _estimate(self, raw: list, prefix: list) -> None:
        """Adjusted counts, discounts and per-context sums, then ``P_1``."""
        v, n = self.vocab_size, self.order
        self.discounts, self._num, self._total, self._gamma = [], [None], [None], [None]
        for k in range(1, n + 1):
            keys = self._keys[k]
            if k == n:
                adj = raw[k]
            else:  # the suffix of the (k+1)-gram with key q is the k-gram with id q // v
                cont = np.bincount(self._keys[k + 1] // v, minlength=len(keys))
                adj = np.where(keys % v == BOS_ID, raw[k], cont)
            d = modified_kn_discounts(adj)
            disc = np.array((0.0, *d))[np.minimum(adj, 3)]
            contexts = len(self._keys[k - 1])
            self.discounts.append(d)
            self._num.append(adj - disc)
            self._total.append(np.bincount(prefix[k], weights=adj, minlength=contexts))
            self._gamma.append(np.bincount(prefix[k], weights=disc, minlength=contexts))
        total, gamma = self._total[1][0], self._gamma[1][0]
        self._p1 = np.full(v, 1.0 / v)
        if total > 0:  # unigram keys are the token ids themselves (empty suffix, id 0)
            self._p1 *= gamma / total
            self._p1[self._keys[1]] += self._num[1] / total

    # --- scoring --------------------------------------------------------------
    def _window_probs(self, win: np.ndarray) -> np.ndarray:
        """``P(win[r, -1] | win[r, :-1])`` per row; ``-1`` marks "before the song"."""
        rows, width = win.shape
        p = self._p1[win[:, -1]]
        gram = self._lookup(1, np.zeros(rows, np.int64), win[:, -1])  # ends at the target
        ctx = np.zeros(rows, dtype=np.int64)  # the (k-1)-gram before the target
        for k in range(2, width + 1):
            first = win[:, width - k]
            ctx = self._lookup(k - 1, ctx, first)
            gram = self._lookup(k, gram, first)
            safe_ctx = np.maximum(ctx, 0)
            total = np.where(ctx >= 0, self._total[k][safe_ctx], 0.0)
            seen = total > 0
            num = np.where(gram >= 0, self._num[k][np.maximum(gram, 0)], 0.0)
            mixed = (num + self._gamma[k][safe_ctx] * p) / np.where(seen, total, 1.0)
            p = np.where(seen, mixed, p)
        return p

    def _lookup(self, k: int, suffix: np.ndarray, first: np.ndarray) -> np.ndarray:
        """Ids of the k-grams ``first + suffix`` (suffix given by id); -1 if unseen."""
        keys = self._keys[k]
        if len(keys) == 0:
            return np.full(len(first), -1, dtype=np.int64)
        query = suffix * self.vocab_size + first
        at = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
        hit = (suffix >= 0) & (first >= 0) & (keys[at] == query)
        return np.where(hit, at, -1)

    # --- checks ---------------------------------------------------------------
    def _check_ids(self, seq, what: str) -> np.ndarray:
        arr = np.asarray(seq)
        if arr.size == 0:
            return np.zeros(0, dtype=np.int64)
        if arr.ndim != 1 or arr.dtype.kind not in "iu":
            raise ValueError(f"{what} must be a 1-D array of integer token ids, "
                             f"got shape {arr.shape} dtype {arr.dtype}")
        low, high = int(arr.min()), int(arr.max())
        if low < 0 or high >= self.vocab_size:
            bad = low if low < 0 else high
            raise ValueError(f"{what} holds token id {bad}, outside [0, {self.vocab_size})")
        return arr.astype(np.int64)

    def _check_fitted(self) -> None:
        if self._p1 is None:
            raise RuntimeError("KneserNey model is not fitted; call fit() first")
