"""The form head: which bars come back (issue 26).

A chorale or a folk tune brings whole bars back (AABB phrases, repeated
cadences), and a bar holds dozens of tokens: an LSTM that must copy each of
them in turn, at its own probability, almost never finishes one (no chorale
run of ours repeated a bar at T = 1, even reading the lookback inputs). So
the decision is taken once per bar, as Magenta's Lookback RNN takes it once
per step: at every ``BAR`` it reads, the composer draws from a small learnt
softmax over "a new bar" and "the bar ``k`` bars back", for each distance
``k`` of :data:`DISTANCES` whose bar holds a note. A repeat feeds that bar's
tokens again, up to its last note (:meth:`Bars.span`); the network reads them as
its own and goes on from there (it may add to the bar, or end the song). A
token the grammar or a constraint refuses ends the repeat there, and sampling
takes over: a repeat never dead-ends.

The head's inputs (:data:`FEATURES`, for each distance) are what the bars
read so far already say: whether the bars just before repeated that far back
(and whether this bar would complete a whole period of them: a tune's second
ending is where a repeated phrase turns new), where the bar stands in the
phrase, and how alike the bar before is to its own bar that far back. Its
weights are fitted on the training songs, its L2 penalty chosen on the
validation songs, and its ``shift`` (added to every repeat logit) set so that
free songs repeat bars as often as the training songs do
(:mod:`trainer.evaluation.form_fit`, ``python -m trainer form``).

A song that repeats its bars changes where the network ends it: folk networks
learnt from MIDI files that play their tune several times over, and end less
often after a bar that came back. So the head also carries ``end``, added to the
``EOS`` logit wherever the composer samples (:func:`ended`), set so that free
songs keep the training songs' median length.

The composer's probability of a song sums both ways a repeated bar can be
written (:func:`log_prob`), so its NLL is that of the songs it composes.
web/src/mirror/form.js is the browser's twin, held to this one by
tests/vectors/form.json.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np

from trainer.errors import CadenzaError, read_text
from trainer.music.codec import Codec

DISTANCES = (1, 2, 3, 4, 5, 6, 7, 8)  # bars back
FEATURES = ("bias", "repeating", "a period's last bar", "a whole period repeated",
            "two periods repeated",
            "bar 1 of 2", "bar 1 of 4", "bar 1 of 8", "bars so far (32 at most)",
            "bar before alike", "two bars before alike", "bar before ends alike")
FILE = "form.json"
FORMAT = "cadenza-form"


class Bars:
    """The bars read so far: ``reset()``, then ``advance(token)`` for each token.
    ``spans[i]`` holds the ``NOTE``, ``DUR`` and ``SHIFT`` ids of bar ``i`` (bar 0:
    before the first ``BAR``)."""

    def __init__(self, codec: Codec):
        self.codec = codec
        self._span = {k: (f, f + n) for k, (f, n, _) in codec.ranges.items()}
        self.reset()

    def reset(self) -> None:
        self.spans: list[list[int]] = [[]]
        self._notes: dict[int, tuple] = {}

    def _is(self, token: int, kind: str) -> bool:
        span = self._span.get(kind)
        return span is not None and span[0] <= token < span[1]

    def advance(self, token: int) -> None:
        token = int(token)
        if token == self.codec.bar_id:
            self.spans.append([])
        elif self._is(token, "NOTE") or self._is(token, "DUR") or self._is(token, "SHIFT"):
            self.spans[-1].append(token)
            self._notes.pop(len(self.spans) - 1, None)

    @property
    def bar(self) -> int:
        """The bar being read (0 before the first ``BAR``)."""
        return len(self.spans) - 1

    def span(self, i: int) -> list[int]:
        """Bar ``i``'s tokens up to its last ``DUR`` (empty: no note starts in it)."""
        seg = self.spans[i]
        for j in range(len(seg) - 1, -1, -1):
            if self._is(seg[j], "DUR"):
                return seg[:j + 1]
        return []

    def notes(self, i: int) -> tuple[set, int]:
        """Bar ``i``'s notes as ``(step in the bar, NOTE id, DUR id)``, and its last onset
        (-1: none)."""
        if i not in self._notes:
            out, t, pitch, last = set(), 0, None, -1
            first_shift = self._span["SHIFT"][0]
            for x in self.spans[i]:
                if self._is(x, "NOTE"):
                    pitch = x
                elif self._is(x, "DUR") and pitch is not None:
                    out.add((t, pitch, x))
                    last, pitch = t, None
                elif self._is(x, "SHIFT"):
                    t += x - first_shift + 1
            self._notes[i] = (out, last)
        return self._notes[i]

    def alike(self, a: int, b: int) -> float:
        """Shared notes over all notes of bars ``a`` and ``b`` (0 unless both are bars)."""
        if a < 1 or b < 1:
            return 0.0
        x, y = self.notes(a)[0], self.notes(b)[0]
        union = len(x | y)
        return len(x & y) / union if union else 0.0

    def ends_alike(self, a: int, b: int) -> float:
        """1.0 where bars ``a`` and ``b`` have their last onset at one step, with the same
        notes there."""
        if a < 1 or b < 1:
            return 0.0
        (x, lx), (y, ly) = self.notes(a), self.notes(b)
        if lx < 0 or lx != ly:
            return 0.0
        return float({n for n in x if n[0] == lx} == {n for n in y if n[0] == ly})

    def repeated(self, j: int, k: int) -> bool:
        """Whether bar ``j`` holds a note and is bar ``j - k`` again, up to its last note."""
        return j - k >= 1 and bool(self.span(j)) and self.span(j) == self.span(j - k)

    def features(self, k: int) -> list[float] | None:
        """:data:`FEATURES` of repeating, as the bar now being read, the bar ``k`` back;
        None where that bar is not one holding a note."""
        i = self.bar
        if i - k < 1 or not self.span(i - k):
            return None
        run = 0
        while run < 2 * k and self.repeated(i - 1 - run, k):
            run += 1
        return [1.0, float(run >= 1), float(k > 1 and run == k - 1), float(run >= k),
                float(run >= 2 * k),
                float((i - 1) % 2 == 0), float((i - 1) % 4 == 0), float((i - 1) % 8 == 0),
                min(i, 32) / 32, self.alike(i - 1, i - 1 - k), self.alike(i - 2, i - 2 - k),
                self.ends_alike(i - 1, i - 1 - k)]


class FormHead:
    """``weights[j]`` (one per :data:`FEATURES`) scores repeating the bar
    ``distances[j]`` back; "a new bar" scores 0. ``end`` is added to the ``EOS``
    logit wherever the composer samples (:func:`ended`)."""

    def __init__(self, weights, shift: float = 0.0, distances=DISTANCES, fit: dict | None = None,
                 end: float = 0.0):
        self.distances = tuple(int(k) for k in distances)
        self.weights = [[float(w) for w in row] for row in weights]
        self.shift = float(shift)
        self.end = float(end)
        self.fit = dict(fit or {})
        if len(self.weights) != len(self.distances) or any(
                len(row) != len(FEATURES) for row in self.weights):
            raise ValueError(f"form head: need {len(self.distances)} rows of "
                             f"{len(FEATURES)} weights")
        if not all(math.isfinite(w) for row in self.weights for w in row) \
                or not math.isfinite(self.shift) or not math.isfinite(self.end):
            raise ValueError("form head: weights must be finite")

    def classes(self, bars: Bars) -> tuple[list[int], list[float]]:
        """The choices open at the start of the bar being read, ``0`` (a new bar) first
        then each distance open, ascending, and their probabilities (``p`` by a
        left-to-right sum). Only ``[0], [1.0]`` where no distance is open."""
        choice, z = [0], [0.0]
        for k, row in zip(self.distances, self.weights):
            x = bars.features(k)
            if x is None:
                continue
            s = self.shift
            for w, v in zip(row, x):
                s += w * v
            choice.append(k)
            z.append(s)
        top = max(z)
        p = [math.exp(v - top) for v in z]
        total = 0.0
        for v in p:
            total += v
        return choice, [v / total for v in p]

    def choose(self, bars: Bars, rng) -> list[int]:
        """At a ``BAR`` just read: the tokens to feed again (empty: a new bar). One
        ``rng.random()`` draw where a distance is open, none otherwise."""
        choice, p = self.classes(bars)
        if len(choice) == 1:
            return []
        u, running = rng.random(), 0.0
        picked = choice[-1]
        for c, q in zip(choice, p):
            running += q
            if running > u:
                picked = c
                break
        return [] if picked == 0 else list(bars.span(bars.bar - picked))

    def to_json(self) -> dict:
        return {"format": FORMAT, "distances": list(self.distances), "features": list(FEATURES),
                "weights": self.weights, "shift": self.shift, "end": self.end, "fit": self.fit}

    @classmethod
    def from_json(cls, d) -> FormHead:
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise ValueError(f"not a form head (format {FORMAT!r})")
        if list(d.get("features", [])) != list(FEATURES):
            raise ValueError("its features are not this version's: " + ", ".join(FEATURES))
        for name in ("shift", "end"):  # a number, as the page's reader asks too
            value = d.get(name, 0.0)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"its {name} is not a number")
        return cls(d["weights"], d.get("shift", 0.0), d["distances"], d.get("fit"),
                   d.get("end", 0.0))

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=1) + "\n")


def read(folder: Path, weights: Path | None = None, log=print,
         listed: bool = False) -> FormHead | None:
    """The form head of a run or export folder, None where it has none. One CadenzaError
    line for one that cannot be used, or that is ``listed`` (by an export's config.json)
    and missing. With ``weights`` (a run's weights file), a head fitted with other
    weights is left out, with a line saying so."""
    path = Path(folder) / FILE
    if not path.exists():
        if listed:
            raise CadenzaError(f"{path} is missing (config.json lists it): export the model "
                               "again")
        return None
    try:
        head = FormHead.from_json(json.loads(read_text(path)))
    except (ValueError, KeyError, TypeError) as e:
        raise CadenzaError(f"{path}: damaged form head ({e}); fit it again with "
                           f"python -m trainer form --run-dir {folder}") from None
    if weights is not None and head.fit.get("weights_sha256") != sha256(weights):
        log(f"note: {path} was fitted with other weights than {weights}; composing "
            f"without it (fit it again: python -m trainer form --run-dir {folder})")
        return None
    return head


def of(loaded) -> FormHead | None:
    """The form head of a model loaded by :func:`trainer.nn.loading.load`: a run's, where
    it was fitted with the weights loaded; an export's, where its config.json lists one
    (and then it must be there and whole)."""
    if loaded.kind == "export":
        return of_export(loaded.path)
    return read(loaded.path, Path(loaded.source))


def of_export(folder: Path) -> FormHead | None:
    """The form head of an export folder, where its config.json lists one (and then it
    must be there and whole)."""
    files = json.loads(read_text(Path(folder) / "config.json")).get("files") or ()
    return read(folder, listed=True) if FILE in files else None


def ended(logits, eos_id: int, end: float) -> np.ndarray:
    """``logits`` (float64, a copy) with ``end`` added to the ``EOS`` logit: the
    network's next-token logits as the composer samples them under a head."""
    z = np.array(logits, dtype=np.float64)
    z[..., eos_id] += end
    return z


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def log_prob(head: FormHead, codec: Codec, song, nll) -> float:
    """The composer's log-probability of ``song`` (ids from ``BOS``): the network's
    (``nll[j - 1]`` is its NLL of ``song[j]``), where at each ``BAR`` the head's choice
    is summed over: a new bar, written by the network, or any repeat whose tokens
    ``song`` goes on with, the network writing only what follows them."""
    song, lp = [int(t) for t in song], -np.asarray(nll, dtype=np.float64)
    bars, total = Bars(codec), float(lp.sum())
    for s, token in enumerate(song):
        bars.advance(token)
        if token != codec.bar_id:
            continue
        choice, p = head.classes(bars)
        if len(choice) == 1:
            continue
        ways = []  # (log choice probability, tokens after the BAR it writes itself)
        for c, q in zip(choice, p):
            copy = [] if c == 0 else bars.span(bars.bar - c)
            if song[s + 1:s + 1 + len(copy)] == copy:
                ways.append((math.log(q) if q > 0 else -math.inf, len(copy)))
        m = max(n for _, n in ways)
        # lp[j - 1] is the network's log p of song[j]: the stretch s + 1 .. s + m
        stretch = lp[s:s + m]
        scores = [lq + float(stretch[n:].sum()) for lq, n in ways]
        top = max(scores)
        mixed = top + math.log(sum(math.exp(v - top) for v in scores)) if top > -math.inf \
            else -math.inf
        total += mixed - float(stretch.sum())
    return total
