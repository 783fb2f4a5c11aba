"""``python -m trainer form``: fit a run's form head (see :mod:`trainer.compose.form`).

1. **Weights**, on the training songs: at every ``BAR`` where a distance is open,
   the head should give the repeats that the song goes on with (Magenta's Lookback
   labels, for whole bars; where several do, their sum), else a new bar. The L2
   penalty on the weights other than the biases is the one of :data:`PENALTIES`
   whose head scores the validation songs' bars best.
2. **Shift**, on free songs: the network writes a repeat's first bars at its own
   probability, and a song of its own rarely lays out its phrases as a human one
   does, so the head trained on human songs repeats less in free songs than in
   theirs. A shift added to every repeat logit is set by bisection so that
   :data:`SONGS` free songs (seeds from :data:`SEED`, none of ``evaluate``'s)
   repeat the same mean share of their bars as the training songs do, to within
   :data:`TOLERANCE` (:func:`trainer.evaluation.harmony_form.repeat_share`).
3. **End**, on the same free songs: where their median length lies more than
   :data:`LENGTH_TOLERANCE` from the training songs' median, ``end`` (added to the
   ``EOS`` logit) is searched so that it lies within it: the free songs' length
   falls about as ``exp(-end)``, so the first try is ``log(median / target)``, each
   later one steps on past the furthest try until two tries bracket the target, then
   interpolates between the nearest two (at most :data:`END_TRIES`). Where the share
   then left its tolerance, the shift is searched again around its value at that end.

The test songs are not read. ``form.json`` in the run folder records the fit and the
SHA-256 of the weights it was fitted with; the converter exports it only with them.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from trainer import constants as C
from trainer.compose.form import DISTANCES, FEATURES, FILE, Bars, FormHead, sha256
from trainer.errors import CadenzaError, shown
from trainer.evaluation import harmony_form as hf
from trainer.evaluation.evaluate import FREE_NOTES, MAX_FREE_TOKENS  # free songs as evaluate's

PENALTIES = (1e-4, 1e-3, 1e-2)
SONGS = 40
SEED = 500_000  # evaluate's free songs use --seed (1234) on; its requests 10,000 past it
STEPS = 600  # Adam steps, full batch
BISECTIONS, TOLERANCE = 8, 0.01  # the shift's search stops within 0.01 of the target share
# the end's search stops with the free songs' median notes within 10% of the training
# songs' (whose quartiles lie some 20% either side of it in both corpora)
END_TRIES, LENGTH_TOLERANCE = 6, 0.10


def rows(codec, songs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(X, open, wanted)`` at each ``BAR`` of ``songs`` (token id lists) where a
    distance is open: features ``(N, D, F)``, open ``(N, D)`` and wanted ``(N, 1 + D)``
    (a new bar first): the repeats the song goes on with, else a new bar."""
    xs, opens, wanted = [], [], []
    for song in songs:
        song = [int(t) for t in song]
        bars = Bars(codec)
        for s, token in enumerate(song):
            bars.advance(token)
            if token != codec.bar_id:
                continue
            x = [bars.features(k) for k in DISTANCES]
            if all(v is None for v in x):
                continue
            want = [False] + [v is not None and song[s + 1:s + 1 + len(c)] == c
                              for v, c in ((v, bars.span(bars.bar - k) if v else [])
                                           for v, k in zip(x, DISTANCES))]
            want[0] = not any(want)
            xs.append([v or [0.0] * len(FEATURES) for v in x])
            opens.append([v is not None for v in x])
            wanted.append(want)
    if not xs:
        raise CadenzaError("no bar of these songs can repeat an earlier one: nothing to fit "
                           "a form head on")
    return np.array(xs), np.array(opens), np.array(wanted)


def loss(w: np.ndarray, data, penalty: float) -> tuple[float, np.ndarray]:
    """Mean -log(sum of the wanted choices' p) and its gradient in ``w`` ``(D, F)``."""
    x, opened, wanted = data
    z = np.concatenate([np.zeros((len(x), 1)),
                        np.where(opened, np.einsum("ndf,df->nd", x, w), -np.inf)], 1)
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    hit = (p * wanted).sum(1)
    value = -np.log(np.maximum(hit, 1e-300)).mean()
    grad_z = p - p * wanted / np.maximum(hit, 1e-300)[:, None]
    grad = np.einsum("nd,ndf->df", grad_z[:, 1:] * opened, x) / len(x)
    tail = w.copy()
    tail[:, 0] = 0  # the biases are not penalised
    return float(value + penalty * (tail ** 2).sum()), grad + 2 * penalty * tail


def fit_weights(data, penalty: float, steps: int = STEPS) -> np.ndarray:
    """Adam (lr 0.05) from zeros, full batch: deterministic."""
    w = np.zeros((len(DISTANCES), len(FEATURES)))
    m, v = np.zeros_like(w), np.zeros_like(w)
    for t in range(1, steps + 1):
        _, g = loss(w, data, penalty)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        w -= 0.05 * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
    return w


def repeat_share(notes, meta, steps_per_beat: int) -> float:
    """A song's bar-repeat share, at its bar lines as ``evaluate`` cuts it."""
    return hf.repeat_share(notes, None if meta is None else meta.bar_starts(), steps_per_beat)


def free_songs(head: FormHead, stepper, codec, songs: int = SONGS) -> tuple[float, float]:
    """Mean bar-repeat share and median notes of ``songs`` free songs composed with
    ``head`` (T and top-p of the defaults, the voicing guard on)."""
    from trainer.compose.composing import compose

    shares, notes_per_song = [], []
    for i in range(songs):
        notes, meta, _ = compose(stepper, codec, [codec.bos_id], FREE_NOTES, C.TEMPERATURE, 0,
                                 C.TOP_P, SEED + i, max_tokens=MAX_FREE_TOKENS, form=head)
        shares.append(repeat_share(notes, meta, codec.config.steps_per_beat))
        notes_per_song.append(len(notes))
    return float(np.mean(shares)), float(np.median(notes_per_song))


def search_shift(share, target: float, low: float, high: float, bisections: int) -> float:
    """The shift in ``[low, high]`` whose ``share(shift)`` (rising with it) is nearest
    ``target`` of those tried by bisection, stopping within :data:`TOLERANCE`; the
    smaller in size on ties."""
    tried = {}
    for _ in range(bisections):
        mid = (low + high) / 2
        tried[mid] = share(mid)
        if abs(tried[mid] - target) <= TOLERANCE:
            break
        low, high = (mid, high) if tried[mid] < target else (low, mid)
    return min(tried, key=lambda x: (abs(tried[x] - target), abs(x)))


def search_end(median, target: float, tries: int = END_TRIES) -> float:
    """The end whose ``median(end)`` (falling with it) lies nearest ``target`` in log
    of those tried, 0 first, stopping within :data:`LENGTH_TOLERANCE`."""
    miss = {0.0: math.log(median(0.0) / target)}  # > 0: too long
    while len(miss) < tries and min(abs(v) for v in miss.values()) > math.log1p(
            LENGTH_TOLERANCE):
        above = [e for e in miss if miss[e] > 0]  # ends too small
        below = [e for e in miss if miss[e] < 0]
        if above and below:  # bracketed: interpolate between the nearest tries
            a, b = max(above), min(below)
            e = a + (b - a) * miss[a] / (miss[a] - miss[b])
        else:  # the length falls about as exp(-end): step past the furthest try by the
            # least miss (a median of free songs is noisy: one try may undo another)
            step = min(abs(v) for v in miss.values())
            e = max(miss) + max(0.25, min(3.0, step)) if above else \
                min(miss) - max(0.25, min(3.0, step))
        e = round(e, 3)
        if e in miss:
            break
        miss[e] = math.log(median(e) / target)
    return min(miss, key=lambda e: (abs(miss[e]), abs(e)))


def fit(run_dir: Path, songs: int = SONGS, log=print) -> FormHead:
    """Fit the form head of the run ``run_dir`` and write its ``form.json``."""
    from trainer.compose.stepper import Stepper
    from trainer.music.corpus import prepare, split_songs
    from trainer.nn.loading import load, test_split

    loaded = load(run_dir)  # an earlier head, even a damaged one, is replaced: not read
    if loaded.kind != "run":
        raise CadenzaError(f"{shown(run_dir)} is an export: fit the form head on the run it "
                           "was exported from, then export it again")
    codec = loaded.codec
    if codec.bar_id is None:
        raise CadenzaError(f"{shown(run_dir)} has no bar lines (a v1 or --no-bars codec): "
                           "a form head chooses at bar lines")
    parts = split_songs(prepare(loaded.config.data, codec, log=lambda _: None),
                        test_split(loaded), loaded.config.data.one_pass)
    tokens = {p: [codec.encode(s.notes, s.meta) for s in parts[p]]
              for p in ("train", "validation")}
    train, val = rows(codec, tokens["train"]), rows(codec, tokens["validation"])
    log(f"bar lines where a bar can come back: {len(train[0])} training, "
        f"{len(val[0])} validation")
    best = None
    for penalty in PENALTIES:
        w = fit_weights(train, penalty)
        score = loss(w, val, 0.0)[0]
        log(f"  L2 {penalty:g}: validation NLL per bar line {score:.4f}")
        if best is None or score < best[0]:
            best = (score, penalty, w)
    score, penalty, w = best
    spb = codec.config.steps_per_beat
    target = float(np.mean([repeat_share(s.notes, s.meta, spb) for s in parts["train"]]))
    lengths = np.percentile([len(s.notes) for s in parts["train"]], [25, 50, 75])
    stepper = Stepper(loaded.weights, loaded.network, codec)
    tries = {}  # (shift, end) -> (mean share, median notes) of the free songs

    def measure(shift: float, end: float) -> tuple[float, float]:
        if (shift, end) not in tries:
            tries[shift, end] = free_songs(FormHead(w, shift, end=end), stepper, codec, songs)
            log(f"  shift {shift:+.3f}, end {end:+.3f}: free songs repeat "
                f"{tries[shift, end][0]:.3f} of their bars (training songs {target:.3f}), "
                f"median {tries[shift, end][1]:.0f} notes (training songs {lengths[1]:.0f}, "
                f"IQR {lengths[0]:.0f}..{lengths[2]:.0f})")
        return tries[shift, end]

    shift = search_shift(lambda x: measure(x, 0.0)[0], target, -4.0, 4.0, BISECTIONS)
    end = search_end(lambda e: measure(shift, e)[1], float(lengths[1]))
    if end and abs(measure(shift, end)[0] - target) > TOLERANCE:
        shift = search_shift(lambda x: measure(x, end)[0], target, shift - 1, shift + 1,
                             BISECTIONS // 2)
    share, median = measure(shift, end)
    weights_file = Path(loaded.source)
    head = FormHead(w, shift, end=end, fit={
        "penalty": penalty, "validation_nll_per_bar_line": score,
        "training_bar_lines": int(len(train[0])), "validation_bar_lines": int(len(val[0])),
        "training_repeat_share": target, "free_songs": songs, "free_repeat_share": share,
        "free_median_notes": median, "training_median_notes": float(lengths[1]),
        "tries": len(tries),
        "weights_sha256": sha256(weights_file),
        "command": f"python -m trainer form --run-dir {run_dir}"})
    head.save(Path(run_dir) / FILE)
    log(f"form head: L2 {penalty:g}, shift {shift:+.3f}, end {end:+.3f} (free songs repeat "
        f"{share:.3f} of their bars, training songs {target:.3f}; median {median:.0f} "
        f"notes, training songs {lengths[1]:.0f}); written to {shown(Path(run_dir) / FILE)}")
    return head
