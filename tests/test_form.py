"""Issue 26: the form head (trainer/compose/form.py) brings whole bars back; fitting it
(trainer/evaluation/form_fit.py) and the composer's NLL with it (form.log_prob).
web/src/mirror/form.js is held to it by tests/vectors/form.json."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest

from trainer.compose import form as F
from trainer.compose.harmony import VoicingGuard
from trainer.compose.sampling import Mulberry32, generate
from trainer.config import CodecConfig
from trainer.errors import CadenzaError
from trainer.evaluation import form_fit
from trainer.music.codec import Codec, Meta
from trainer.music.grammar import Grammar

CODEC = Codec(CodecConfig())
D = len(F.DISTANCES)
BAR_A = [[0, 4, 67], [4, 4, 64], [8, 8, 60]]
BAR_B = [[0, 8, 65], [8, 8, 62]]


def song(*bars, tail=()) -> list[int]:
    """Ids of a 4/4 song of these bars (each a list of (start in bar, dur, pitch))."""
    notes = [[16 * i + s, d, p] for i, bar in enumerate(bars) for s, d, p in bar]
    notes += [list(n) for n in tail]
    meta = Meta((0, "major"), (4, 4), tuple((16 * i, (4, 4)) for i in range(len(bars))))
    return CODEC.encode(np.array(notes), meta).tolist()


def bars_after(ids, upto_bar: int) -> F.Bars:
    """A Bars that has read ``ids`` up to and with the ``upto_bar``-th BAR."""
    bars, seen = F.Bars(CODEC), 0
    for t in ids:
        bars.advance(t)
        if t == CODEC.bar_id:
            seen += 1
            if seen == upto_bar:
                return bars
    raise AssertionError("not that many bars")


def head(shift: float, weights=None) -> F.FormHead:
    return F.FormHead(np.zeros((D, len(F.FEATURES))) if weights is None else weights, shift)


def test_bars_hold_each_bars_tokens_up_to_its_last_note_and_say_what_repeated():
    ids = song(BAR_A, BAR_B, BAR_A, BAR_B, BAR_A)
    bars = bars_after(ids, 5)  # reading bar 5 (the 5th BAR): bars 1-4 are complete
    assert bars.bar == 5 and bars.spans[0] == []
    assert bars.span(1) == bars.span(3) and bars.span(2) == bars.span(4) != bars.span(1)
    assert CODEC.describe(bars.span(1)[-1]).startswith("DUR")  # the SHIFT to the bar line cut
    assert bars.repeated(3, 2) and bars.repeated(4, 2) and not bars.repeated(4, 1)
    two = dict(zip(F.FEATURES, bars.features(2)))
    assert two["repeating"] == 1 and two["a whole period repeated"] == 1
    assert two["two periods repeated"] == 0  # bars 3-4 repeat 1-2; 1-2 repeat nothing
    assert two["a period's last bar"] == 0
    at_4 = dict(zip(F.FEATURES, bars_after(ids, 4).features(2)))  # bar 3 repeated bar 1
    assert at_4["repeating"] == 1 and at_4["a period's last bar"] == 1
    assert at_4["a whole period repeated"] == 0
    assert two["bar before alike"] == 1 and two["bar before ends alike"] == 1
    assert two["bar 1 of 4"] == 1 and two["bars so far (32 at most)"] == 5 / 32
    one = dict(zip(F.FEATURES, bars.features(1)))
    assert one["repeating"] == 0 and 0 < one["bar before alike"] < 1 or \
        one["bar before alike"] == 0
    assert bars.features(5) is None and bars.features(8) is None  # no bar that far back


def test_an_empty_bar_is_never_repeated():
    ids = song(BAR_A, [], BAR_A)
    bars = bars_after(ids, 3)
    assert bars.span(2) == [] and bars.features(1) is None and bars.features(2) is not None


def test_choose_draws_once_where_a_distance_is_open_and_never_otherwise():
    ids = song(BAR_A, BAR_B, BAR_A)
    rng = Mulberry32(5)
    assert head(50).choose(bars_after(ids, 1), rng) == [] and rng.state == 5  # nothing open
    bars = bars_after(ids, 3)
    again = head(50).choose(bars, rng)
    assert rng.state != 5 and again in (bars.span(1), bars.span(2))
    assert head(-50).choose(bars, Mulberry32(5)) == []


def test_generate_repeats_bars_and_a_refused_token_ends_the_repeat_not_the_song():
    g = np.random.default_rng(3)
    rows = g.normal(0, 2, (7, CODEC.size))
    rows[:, CODEC.eos_id] = -30
    step = lambda t: rows[t % len(rows)]  # noqa: E731
    plain = generate(step, CODEC, [CODEC.bos_id], 200, 1.0, 0, 1.0, seed=1)
    always = generate(step, CODEC, [CODEC.bos_id], 200, 1.0, 0, 1.0, seed=1, form=head(40))
    share = lambda ids: form_fit.repeat_share(*CODEC.decode_song(  # noqa: E731
        [CODEC.bos_id, *ids.tolist()]), CODEC.config.steps_per_beat)
    assert share(plain) < 0.2 < 0.6 < share(always)

    bar_1 = always.tolist().index(CODEC.bar_id)
    refused = next(t for t in always.tolist()[bar_1:] if CODEC.describe(t).startswith("NOTE"))

    class Refuse:  # bar 1's first note is refused from bar 3 on: its repeats get cut
        def __init__(self):
            self.bars = 0

        def advance(self, t):
            self.bars += t == CODEC.bar_id

        def mask(self, m):
            m = m.copy()
            if self.bars > 2:
                m[refused] = False
            return m

    guarded = generate(step, CODEC, [CODEC.bos_id], 200, 1.0, 0, 1.0, seed=1, form=head(40),
                       constraint=Refuse())
    after = guarded.tolist()
    third = [i for i, t in enumerate(after) if t == CODEC.bar_id][2]
    assert refused in always.tolist()[third:] and refused not in after[third:]
    assert len(after) > 100 and share(guarded) > 0.3  # it went on, and still repeats


def test_the_voicing_guard_cuts_a_repeat_short_where_it_must():
    g = np.random.default_rng(4)
    rows = g.normal(0, 2, (5, CODEC.size))
    rows[:, CODEC.eos_id] = -30
    ids = generate(lambda t: rows[t % 5], CODEC, [CODEC.bos_id], 150, 1.0, 0, 1.0, seed=2,
                   form=head(40), constraint=VoicingGuard(CODEC))
    guard, grammar = VoicingGuard(CODEC), Grammar(CODEC)
    guard.advance(CODEC.bos_id)
    grammar.advance(CODEC.bos_id)
    for t in ids.tolist():  # every token is one the grammar and the guard allowed
        assert guard.mask(grammar.mask())[t]
        guard.advance(t)
        grammar.advance(t)


def test_log_prob_sums_both_ways_a_repeated_bar_is_written():
    ids = song(BAR_A, BAR_B, BAR_A) + [CODEC.eos_id]
    nll = np.random.default_rng(0).uniform(0.1, 2.0, len(ids) - 1)
    network = -nll.sum()
    never = head(-700)
    assert F.log_prob(never, CODEC, ids, nll) == pytest.approx(network, abs=1e-9)
    h = head(0.0)  # every open choice equally likely
    bars = bars_after(ids, 3)
    choice, p = h.classes(bars)
    s = [i for i, t in enumerate(ids) if t == CODEC.bar_id][2]  # the third BAR
    copy = bars.span(1)
    assert ids[s + 1:s + 1 + len(copy)] == copy
    # the first two BARs: a new bar is the only way (bar 2 is not bar 1), each at p[0]
    lp_new = [math.log(h.classes(bars_after(ids, n))[1][0]) for n in (2,)]
    written = -nll[s:s + len(copy)].sum()
    expected = network - written + math.log(p[0] * math.exp(written) + p[choice.index(2)])
    assert F.log_prob(h, CODEC, ids, nll) == pytest.approx(expected + sum(lp_new), abs=1e-9)


def test_the_end_shifts_only_the_eos_logit_where_the_composer_samples():
    g = np.random.default_rng(5)
    rows = g.normal(0, 2, (7, CODEC.size))
    rows[:, CODEC.eos_id] = -4
    step = lambda t: rows[t % len(rows)]  # noqa: E731
    z = F.ended(rows[:2].astype(np.float32), CODEC.eos_id, 2.5)
    assert z.dtype == np.float64 and z[:, CODEC.eos_id].tolist() == [-1.5, -1.5]
    assert (np.delete(z, CODEC.eos_id, 1) == np.delete(rows[:2].astype(np.float32),
                                                       CODEC.eos_id, 1)).all()
    lengths = {end: [len(generate(step, CODEC, [CODEC.bos_id], 400, 1.0, 0, 1.0, seed=s,
                                  form=F.FormHead(np.zeros((D, len(F.FEATURES))), -2, end=end)))
                     for s in range(8)] for end in (-3.0, 0.0, 3.0)}
    assert np.median(lengths[3.0]) < np.median(lengths[0.0]) < np.median(lengths[-3.0])


def test_search_end_finds_the_end_that_keeps_the_median_length():
    calls = []

    def median(end):  # a network that writes 400 notes where the training songs have 250
        calls.append(end)
        return 400 * math.exp(-0.8 * end)

    end = form_fit.search_end(median, 250.0)
    assert abs(math.log(median(end) / 250)) <= math.log1p(form_fit.LENGTH_TOLERANCE)
    assert len(calls) - 1 <= form_fit.END_TRIES and calls[0] == 0.0
    calls.clear()
    assert form_fit.search_end(lambda e: (calls.append(e), 260)[1], 250.0) == 0.0
    assert calls == [0.0]  # already within the tolerance: no end
    assert form_fit.search_end(lambda e: 100 * math.exp(-e), 250.0) < -0.5  # too short


def test_form_json_round_trips_and_a_damaged_one_is_one_line(tmp_path):
    h = head(0.5, np.arange(D * len(F.FEATURES), dtype=float).reshape(D, -1) / 10)
    h.save(tmp_path / F.FILE)
    back = F.read(tmp_path)
    assert back.weights == h.weights and back.shift == 0.5 and back.distances == F.DISTANCES
    assert back.end == 0.0
    F.FormHead(h.weights, 0.5, end=-1.25).save(tmp_path / F.FILE)
    assert F.read(tmp_path).end == -1.25
    assert F.read(tmp_path / "elsewhere") is None
    for damage in ('{"format": "cadenza-form"', json.dumps({**h.to_json(), "features": ["x"]}),
                   json.dumps({**h.to_json(), "weights": [[1.0]]}),
                   json.dumps({**h.to_json(), "shift": float("nan")}).replace("NaN", "1e999"),
                   json.dumps({**h.to_json(), "end": float("nan")}).replace("NaN", "1e999"),
                   json.dumps({**h.to_json(), "end": "1"})):
        (tmp_path / F.FILE).write_text(damage)
        with pytest.raises(CadenzaError, match="damaged form head") as e:
            F.read(tmp_path)
        assert "\n" not in str(e.value)


def test_a_head_fitted_with_other_weights_is_left_out_with_a_line(tmp_path):
    weights = tmp_path / "best.weights.h5"
    weights.write_bytes(b"one")
    F.FormHead(np.zeros((D, len(F.FEATURES))), fit={"weights_sha256": F.sha256(weights)}) \
        .save(tmp_path / F.FILE)
    assert F.read(tmp_path, weights) is not None
    weights.write_bytes(b"two")
    lines = []
    assert F.read(tmp_path, weights, log=lines.append) is None
    assert len(lines) == 1 and "other weights" in lines[0] and "trainer form" in lines[0]


def test_rows_want_the_repeats_a_song_goes_on_with_else_a_new_bar():
    ids = song(BAR_A, BAR_B, BAR_A, BAR_A)
    x, opened, wanted = form_fit.rows(CODEC, [ids])
    # bar lines 2, 3, 4 have a bar back; 2: new (B), 3: A = 2 back, 4: A = 1 and 3 back
    assert len(x) == 3 and x.shape[1:] == (D, len(F.FEATURES))
    assert wanted[0].tolist() == [True] + [False] * D
    assert wanted[1].tolist() == [False, False, True] + [False] * (D - 2)
    assert wanted[2].tolist() == [False, True, False, True] + [False] * (D - 3)
    assert opened[2].tolist() == [True, True, True] + [False] * (D - 3)


def test_fitting_learns_that_a_repeat_goes_on():
    g = np.random.default_rng(7)
    songs = []
    for _ in range(30):  # AABB tunes: a bar's twin comes right after it
        a, b = ([[s, 4, int(p)] for s, p in zip((0, 4, 8, 12), g.integers(55, 80, 4))]
                for _ in range(2))
        songs.append(song(a, a, b, b, a, a, b, b))
    data = form_fit.rows(CODEC, songs)
    w = form_fit.fit_weights(data, 1e-3)
    before = form_fit.loss(np.zeros_like(w), data, 0)[0]
    assert form_fit.loss(w, data, 0)[0] < 0.6 * before
    bars = bars_after(songs[0], 6)  # bar 6 is bar 5 again (and bars 1 and 2)
    choice, p = F.FormHead(w).classes(bars)
    assert sum(q for c, q in zip(choice, p) if c in (1, 4, 5)) > 0.8


@pytest.mark.slow
def test_form_fits_a_run_and_sample_evaluate_and_the_export_use_it(trained, tmp_path):
    from conftest import cli

    run = tmp_path / "run"
    shutil.copytree(trained, run)
    out = cli("form", "--run-dir", run, "--songs", 3, timeout=600).stdout
    assert "form head: L2" in out and "written to" in out
    record = json.loads((run / F.FILE).read_text())
    assert record["fit"]["weights_sha256"] == F.sha256(run / "best.weights.h5")
    assert record["fit"]["free_songs"] == 3 and record["features"] == list(F.FEATURES)
    ev = cli("evaluate", "--run-dir", run, "--num-samples", 2, "--free-samples", 3,
             "--out", tmp_path / "ev.json", timeout=600).stdout
    assert "LSTM + form head" in ev and "form head)" in ev
    with_form = json.loads((tmp_path / "ev.json").read_text())
    assert with_form["sampling"]["form_head"] and \
        math.isfinite(with_form["lstm"]["with_form"]["nll_per_note"])
    plain = cli("evaluate", "--run-dir", run, "--num-samples", 2, "--free-samples", 3,
                "--no-form", "--out", tmp_path / "plain.json", timeout=600).stdout
    assert "LSTM + form head" not in plain
    export = tmp_path / "export"
    cli("--run-dir", run, "--out", export, module="converter", timeout=600)
    assert F.FILE in json.loads((export / "config.json").read_text())["files"]
    assert F.read(export).weights == F.read(run).weights
    songs = cli("sample", "--run-dir", export, "--out-dir", tmp_path / "songs", "--num-files",
                2, "--length", 64).stdout
    assert "composing 2 song(s)" in songs
    with open(run / "best.weights.h5", "ab") as f:  # other weights: the head is left out
        f.write(b"\0")
    lines = []
    assert F.read(run, run / "best.weights.h5", log=lines.append) is None and lines


@pytest.mark.parametrize("damage", ["missing", "other features"])
def test_sample_refuses_an_export_whose_form_json_is_damaged_in_one_line(tmp_path, damage):
    from conftest import ROOT, cli

    folder = tmp_path / "chorales"
    shutil.copytree(ROOT / "site" / "models" / "chorales", folder)
    assert F.read(folder, listed=True) is not None  # the shipped chorales have one
    if damage == "missing":
        (folder / F.FILE).unlink()
    else:
        (folder / F.FILE).write_text(json.dumps({**F.read(folder).to_json(), "features": ["x"]}))
    proc = cli("sample", "--run-dir", folder, "--out-dir", tmp_path / "out", check=False)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "form.json" in proc.stderr and not (tmp_path / "out").exists()
