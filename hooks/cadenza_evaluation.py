"""The evaluation part of a model card: ``python -m trainer evaluate``'s figures as tables.

Reads the ``evaluation`` of an export's metrics.json (the run's
``evaluation.json``, see trainer/evaluation/evaluate.py) and, where metrics.json has
one, the ``previous`` evaluation: the model this one replaces, scored on the
same test songs, shown beside it. Evaluations written before the test split
(flat keys such as ``lstm_nll``, scored on the validation songs) are read
too: :func:`normalise` maps either shape onto one, leaving out what the old
one lacks.
"""

from __future__ import annotations

import statistics

from cadenza_models import number, table

from trainer.evaluation.evaluate import COPY_RATIO, MIN_METER_TEST_SONGS, meter_checked


def normalise(e: dict) -> dict:
    """An evaluation of either shape as ``{part, songs, targets, notes, lstm, ngram,
    music, lengths, requests, checks, sampling, vocab_version}``; what an old one
    lacks is None (or empty)."""
    if isinstance(e.get("lstm"), dict):
        music = e.get("music", {})
        return {**e, "part": "test", "targets": e.get("test_targets"),
                "notes": e.get("test_notes"), "reduction": e.get("nll_per_note_reduction"),
                "reduction_of": "per note",
                "music": {"generated": music.get("generated", {}),
                          "human": music.get("human_test", {}),
                          "range": music.get("human_range", {})}}
    music = e.get("music", {})
    sampling = e.get("sampling", {})
    side = {name: {"nll": e.get(f"{name}_nll"), "perplexity": e.get(f"{name}_perplexity"),
                   "accuracy": e.get(f"{name}_accuracy"), "nll_per_note": None}
            for name in ("lstm", "ngram")}
    side["ngram"].update(order=e.get("ngram_order"), variant=e.get("ngram_variant"))
    return {"part": "validation", "songs": {"validation": music.get("held_out", {}).get("songs")},
            "targets": e.get("val_targets"), "notes": None, "vocab_version": 1,
            "reduction": e.get("nll_reduction"), "reduction_of": "per token",
            "lstm": side["lstm"], "ngram": side["ngram"], "lengths": None, "requests": None,
            "checks": e.get("checks", {}),
            "music": {"generated": music.get("generated", {}), "human": music.get("held_out", {}),
                      "range": music.get("held_out_range", {})},
            "sampling": {"temperature": sampling.get("temperature"),
                         "top_p": sampling.get("top_p"), "seed": sampling.get("seed"),
                         "free_songs": sampling.get("num_samples"),
                         "length": sampling.get("length")}}


def version_label(e: dict) -> str:
    return f"v{e.get('vocab_version') or 1}"


def section(name: str, evaluation: dict | None, previous: dict | None = None) -> str:
    """The card's ``### Evaluation of <name>``, or a line saying there is none. (Each
    heading names its model: the theme's table of contents makes a landmark of every
    heading with subheadings, and landmarks must differ.)"""
    heading = f"### Evaluation of {name}"
    if not evaluation:
        return (f"{heading}\n\n_Not evaluated: this export was made before "
                "`python -m trainer evaluate` ran on its run folder._")
    e = normalise(evaluation)
    p = normalise(previous) if previous else None
    parts = [heading, headline(e, p), scores(e, p)]
    parts += [by_position(e, p), music(e, p), chords_and_form(evaluation, previous),
              lengths(e, p), requests(e), checks(e, p)]
    return "\n\n".join(x for x in parts if x)


def percent(share) -> str:
    return "-" if share is None else f"{100 * share:.1f}%"


def headline(e: dict, p: dict | None) -> str:
    """Which songs were scored and the LSTM's gain over the n-gram, in words."""
    if e["part"] == "test":
        songs = e["songs"]
        text = (f"On the {songs.get('test')} test songs ({number(e['notes'])} notes, "
                f"{number(e['targets'])} tokens), which training and every choice "
                f"(checkpoint, n-gram order) left aside, the LSTM's NLL per note is "
                f"{percent(e['reduction'])} lower than the n-gram's.")
    else:
        text = (f"On {number(e['targets'])} tokens of the held-out validation songs (which "
                "also chose the checkpoint: this evaluation predates the test split), the "
                f"LSTM's NLL per token is {percent(e['reduction'])} lower than the n-gram's.")
    form = e["lstm"].get("with_form")
    if form:
        text += (f" With its form head (bars that come back), the composer's NLL per note is "
                 f"{form['nll_per_note']:.3f}.")
    if p is None:
        return text
    old, new = p["lstm"].get("nll_per_note"), e["lstm"].get("nll_per_note")
    text += (f" Beside it: the {version_label(p)} model it replaces, evaluated on the same "
             f"test songs (its NLL per {p['reduction_of'].split()[-1]} "
             f"{percent(p['reduction'])} lower than its n-gram's).")
    if old and new:
        change = "lower" if new < old else "higher"
        text += (f" This model's NLL per note is {percent(abs(1 - new / old))} {change} than "
                 f"the {version_label(p)} model's.")
    old, new = ((ev["lstm"].get("grammar") or {}).get("nll_per_note") for ev in (p, e))
    if old and new:
        text += (f" As sampled (each under its own grammar) it is {new:.3f} nats per note "
                 f"against {old:.3f}.")
    return text


def ngram_name(ngram: dict) -> str:
    variant = str(ngram.get("variant")).replace("+-", "±")
    return f"{ngram.get('order')}-gram Kneser-Ney ({variant})"


def scores(e: dict, p: dict | None) -> str:
    """NLL per token and per note, perplexity and accuracy of the LSTM and the n-gram."""
    rows = []
    for label, ev in ((None, e), (version_label(p) if p else None, p)):
        if ev is None:
            continue
        prefix = f"{label} model: " if label else ""
        sampled, form = ev["lstm"].get("grammar"), ev["lstm"].get("with_form")
        for name, s in ((f"{prefix}LSTM", ev["lstm"]),
                        *([(f"{prefix}LSTM + form head", form)] if form else []),
                        *([(f"{prefix}LSTM as sampled (grammar)", sampled)] if sampled else []),
                        (prefix + ngram_name(ev["ngram"]), ev["ngram"])):
            rows.append([name, s.get("nll"), s.get("nll_per_note"), s.get("perplexity"),
                         s.get("accuracy")])
    header = [f"{e['part']} songs", "NLL per token (nats)", "NLL per note (nats)",
              "perplexity (per token)", "top-1 accuracy"]
    if all(r[2] is None for r in rows):  # evaluated before NLL per note existed
        header, rows = [h for i, h in enumerate(header) if i != 2], [r[:2] + r[3:] for r in rows]
    text = table(header, rows)
    if any((ev or {}).get("lstm", {}).get("grammar") for ev in (e, p)):
        text += ("\n\n\"As sampled\" restricts each step to the tokens the grammar allows "
                 "there and renormalises: the probability with which sampling at T = 1 "
                 "composes the song, so a token the codec determines (a BAR at its bar line, "
                 "the DUR after a NOTE) costs nothing.")
    if any((ev or {}).get("lstm", {}).get("with_form") for ev in (e, p)):
        text += ("\n\n\"+ form head\" is the composer's NLL with its form head, which at "
                 "each bar line may bring back a bar 1 to 8 bars before: a bar it could bring "
                 "back is scored both ways it can be written, brought back or written by the "
                 "network, and every other bar line pays for the head's choice of a new bar.")
    if p is not None and p.get("vocab_version") != e.get("vocab_version"):
        text += ("\n\nThe token languages differ (v2 spends tokens on KEY, METER and BAR), so "
                 "per-token figures do not compare across them; per-note figures do.")
    return text


def bucket(b: dict) -> str:
    return f"{b['from']:,} on" if b.get("to") is None else f"{b['from']:,}–{b['to'] - 1:,}"


def by_position(e: dict, p: dict | None) -> str:
    """The LSTM's NLL per token by where the token falls in its song."""
    ours = e["lstm"].get("by_position")
    if not ours:
        return ""
    theirs = {bucket(b): b for b in ((p or {}).get("lstm", {}).get("by_position") or [])}
    header = ["tokens into the song", "targets", "LSTM NLL per token"]
    if theirs:
        header += [f"{version_label(p)} targets", f"{version_label(p)} LSTM NLL per token"]
    rows = []
    for b in ours:
        row = [bucket(b), b.get("targets"), b.get("nll")]
        if theirs:
            old = theirs.get(bucket(b), {})
            row += [old.get("targets"), old.get("nll")]
        rows.append(row)
    return "#### NLL by position\n\n" + table(header, rows)


def span(pair) -> str:
    return "-" if not pair else f"{number(pair[0])}..{number(pair[1])}"


def music(e: dict, p: dict | None) -> str:
    """Figures of generated songs beside the human ones (and the previous model's)."""
    m, s = e["music"], e.get("sampling") or {}
    names = list(dict.fromkeys([*m["generated"], *m["human"]]))
    if not names:
        return ""
    header = ["figure", "generated", f"human {e['part']}", f"human {e['part']} range"]
    old = (p or {}).get("music", {}).get("generated") or {}
    if old:
        header.append(f"generated by {version_label(p)}")
    rows = []
    for name in names:
        row = [name, m["generated"].get(name), m["human"].get(name), span(m["range"].get(name))]
        rows.append(row + ([old.get(name)] if old else []))
    limit = ("no length limit" if e["part"] == "test"
             else f"up to {s.get('length')} notes")
    intro = (f"#### Music\n\n{s.get('free_songs')} songs generated from `BOS` with {limit} "
             f"(T = {s.get('temperature')}, top-p = {s.get('top_p')}, seeds from "
             f"{s.get('seed')}) against the human {e['part']} songs. Per-song figures are "
             "means over the songs; the range runs from the lowest to the highest single "
             "human song:")
    return intro + "\n\n" + table(header, rows)


FORM_ROWS = (  # (figure of trainer/evaluation/harmony_form.py, what it is)
    ("chordal_share", "onsets (2 or more notes sounding) that are a triad or a seventh chord"),
    ("seconds", "onsets with adjacent voices a 2nd apart"),
    ("outer_parallels_per_100", "parallel fifths and octaves of the outer voices, per 100 "
                                "onset pairs"),
    ("bar_repeats", "bars repeating an earlier bar of the song: median (middle half), mean"),
)


def _form_cell(figures: dict | None, key: str) -> str:
    if not figures:
        return "-"
    if key == "bar_repeats":
        b = figures["bar_repeats"]
        return "-" if b["median"] is None else \
            f"{b['median']:.2f} ({b['q25']:.2f}..{b['q75']:.2f}), {b['mean']:.2f}"
    value = figures.get(key)
    return "-" if value is None else number(value)


def chords_and_form(evaluation: dict, previous: dict | None) -> str:
    """Issue 26's figures of generated songs beside the human test songs' (and the
    previous model's), where the evaluation has them."""
    form = (evaluation.get("music") or {}).get("harmony_form")
    if not form:
        return ""
    old = ((previous or {}).get("music") or {}).get("harmony_form")
    header = ["figure", "generated", "human test"] + (
        [f"generated by {version_label(normalise(previous))}"] if old else [])
    rows = [[label, _form_cell(form["generated"], key), _form_cell(form["human_test"], key)]
            + ([_form_cell(old["generated"], key)] if old else []) for key, label in FORM_ROWS]
    return ("#### Chords and form\n\nWhether the songs sound like their kind: chords that "
            "are chords, voices that move well, and bars that come back (pooled over every "
            "onset of the songs; a melody model has no onsets of two notes):\n\n"
            + table(header, rows))


def length_row(label: str, counts: list[int]) -> list:
    if not counts:
        return [label, 0, "-", "-", "-"]
    q1, median, q3 = statistics.quantiles(counts, n=4, method="inclusive") \
        if len(counts) > 1 else (counts[0],) * 3
    return [label, len(counts), f"{median:g}", f"{q1:g}..{q3:g}", max(counts)]


def lengths(e: dict, p: dict | None) -> str:
    """Notes per song, generated with no length limit vs human."""
    got = e.get("lengths")
    if not got:
        return ""
    rows = [length_row("generated", got.get("generated", [])),
            length_row(f"human {e['part']}", got.get("human_test", []))]
    if p and p.get("lengths"):
        rows.append(length_row(f"generated by {version_label(p)}",
                               p["lengths"].get("generated", [])))
    text = "#### Lengths\n\n" + table(["notes per song", "songs", "median", "middle half",
                                       "longest"], rows)
    hit = got.get("hit_token_limit")
    if hit:
        text += (f"\n\n{hit} generated songs ran into the safety limit on tokens instead of "
                 "ending with `EOS`.")
    return text


def requests(e: dict) -> str:
    """Songs asked for a key or a meter (v2 models): do they keep to it?"""
    r = e.get("requests")
    if not r:
        return ""
    keys = table(["requested key", "key estimate = request", "scale consistency in the key",
                  "mean notes"],
                 [[k["key"].replace(":", " "), k.get("agreement"), k.get("scale_consistency"),
                   k.get("mean_notes")] for k in r.get("keys", [])]
                 + [["all requested keys", r.get("key_agreement"), r.get("scale_consistency"),
                     None]])
    n = (e.get("sampling") or {}).get("songs_per_request")
    text = (f"#### Requested keys and meters\n\n{n} songs per request, asked for with "
            "`--key` or `--meter` (the Grammar puts the `KEY` or `METER` token in place):\n\n"
            f"{keys}\n\nFor comparison, the human test songs' scale consistency in their own "
            f"key is {number(r.get('human_scale_consistency'))}, and the key estimate agrees "
            f"with {number(r.get('estimator_ceiling'))} of the {r.get('ceiling_songs')} test "
            "songs whose file states a key (a ceiling for the agreement above).")
    meters = r.get("meters") or []
    if meters:
        text += "\n\n" + table(
            ["requested meter", "onset overlap with human songs", "human test songs",
             "training songs' overlap with them"],
            [[m["meter"], m.get("overlap"), m.get("human_songs"), m.get("training_overlap")]
             for m in meters])
        few = [m["meter"] for m in meters if not meter_checked(m)]
        if few:
            text += (f"\n\n{', '.join(few)}: fewer than {MIN_METER_TEST_SONGS} human test "
                     "songs, too few for a profile of the meter (the training songs' overlap "
                     "beside it shows how far one tune's habits are from the meter's), so "
                     "reported but not checked.")
    return text


def check_cells(c: dict) -> tuple[str, str]:
    """The value and the target of one check, as text."""
    if "human_range" in c:
        return number(c.get("generated")), f"within the human range {span(c['human_range'])}"
    if "human_iqr" in c:
        return (f"median {number(c.get('generated_median'))} notes",
                f"within the human middle half {span(c['human_iqr'])}")
    if "generated_vs_human" in c:
        return (f"{c['generated_vs_human']:.2f}× the human copy rate",
                f"at most {COPY_RATIO:g}×")
    if "at_least" in c:
        return number(c.get("generated", c.get("overlap"))), f"at least {number(c['at_least'])}"
    return "-", "-"


def verdict(c: dict | None) -> str:
    return "-" if c is None else ("pass" if c.get("ok") else "**fail**")


def checks(e: dict, p: dict | None) -> str:
    """Each acceptance check with pass or fail (and the previous model's result)."""
    ours = e.get("checks") or {}
    if not ours:
        return ""
    theirs = (p or {}).get("checks") or {}
    header = ["check", "value", "target", "result"]
    if theirs:
        header.append(f"{version_label(p)} model")
    rows = []
    for name, c in ours.items():
        row = [name, *check_cells(c), verdict(c)]
        if theirs:
            old = theirs.get(name)
            row.append("-" if old is None else f"{check_cells(old)[0]} ({verdict(old)})")
        rows.append(row)
    failed = sum(not c.get("ok") for c in ours.values())
    return (f"#### Checks\n\n{len(ours) - failed} of {len(ours)} checks pass:\n\n"
            + table(header, rows))
