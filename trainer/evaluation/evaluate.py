"""``python -m trainer evaluate``: how good is a model, honestly, on its test songs?

Everything reported comes from the split's *test* songs, which neither
training nor any choice (early stopping, the n-gram order and variant) has
seen; choices use the validation songs. Figures:

- NLL per token and per note (a song's summed NLL over its notes, so runs
  with different token languages compare on the same songs), perplexity and
  top-1 accuracy, for the LSTM and the best interpolated Kneser-Ney n-gram
  (order 3..8 and plain or transposed training songs, chosen on validation);
  and the LSTM's NLL as sampled: each step restricted to what the Grammar
  allows and renormalised, the probability with which sampling at T = 1
  composes the song (a token the codec determines, such as a BAR at its bar
  line, then costs nothing);
- the LSTM's NLL per token by position in the song (0-255, 256-511,
  512-1023, 1024 on), which shows whether long generation drifts;
- music composed with no length limit (when songs end, loops, repeated bars,
  copying against the training songs in every transposition training used,
  scale consistency) against the range of the human test songs, and the
  chords and form figures of :mod:`trainer.evaluation.harmony_form` beside the
  human test songs';
- for v2 models, songs requested in four keys and in each meter the model
  knows: how often the key estimate matches the request, scale consistency
  in the requested key, and how closely onsets follow the meter (checked for
  a meter with at least :data:`MIN_METER_TEST_SONGS` human test songs: a
  profile of fewer is one tune's habits, not the meter's; such a meter's
  figures are still reported, beside the training songs' own overlap).

Writes ``evaluation.json`` (into the run folder, or ``--out``) and prints a report.
"""

from __future__ import annotations

import math
import time
from collections import Counter

import numpy as np

from trainer.compose import form as F
from trainer.compose.composing import compose
from trainer.compose.stepper import Stepper
from trainer.config import EvalConfig
from trainer.evaluation import harmony_form as hf
from trainer.evaluation import music_metrics as mm
from trainer.evaluation.likelihood import by_position, predictions, score
from trainer.evaluation.ngram import KneserNey
from trainer.music import keys as K
from trainer.music.corpus import prepare, split_songs
from trainer.nn.loading import load, test_split
from trainer.nn.runs import RunDir, write_json

KEY_REQUESTS = 4  # keys requested per model, one of them minor
FREE_NOTES = 100_000  # "no limit": EOS ends them, MAX_FREE_TOKENS is the safety net
MAX_FREE_TOKENS = 20_000
MIN_METER_SONGS = 5  # training songs a meter needs to count as known
MIN_METER_TEST_SONGS = 5  # human test songs of a meter its overlap check needs
KEY_AGREEMENT = 0.85
SCALE_MARGIN = 0.03
METER_OVERLAP = 0.85
COPY_RATIO = 1.5


def evaluate(cfg: EvalConfig) -> dict:
    """Write and return the evaluation of the model ``cfg.run_dir`` on its test songs."""
    t0 = time.perf_counter()
    loaded = load(cfg.run_dir)
    codec = loaded.codec
    split = test_split(loaded, cfg.split)
    corpus = prepare(loaded.config.data, codec)
    parts = split_songs(corpus, split, loaded.config.data.one_pass)  # as trained on
    tokens = {p: [codec.encode(s.notes, s.meta) for s in songs] for p, songs in parts.items()}
    stepper = Stepper(loaded.weights, loaded.network, codec)

    form = None if cfg.no_form else F.of(loaded)
    logits = [stepper.run(t[:-1]) for t in tokens["test"]]
    lstm_nll, lstm_hits = zip(*(predictions(z, t) for z, t in zip(logits, tokens["test"])))
    notes_test = sum(len(s.notes) for s in parts["test"])
    lstm = score(lstm_nll, lstm_hits, notes_test)
    if form is not None:  # the composer's NLL: both ways a repeated bar can be written,
        # and the network's logits as the composer samples them (its EOS shifted by form.end)
        composed = [predictions(F.ended(z, codec.eos_id, form.end), t)[0] if form.end else n
                    for z, t, n in zip(logits, tokens["test"], lstm_nll)]
        total = -sum(F.log_prob(form, codec, t, n) for t, n in zip(tokens["test"], composed))
        per_token = total / sum(len(t) - 1 for t in tokens["test"])
        lstm["with_form"] = {"nll": per_token, "perplexity": math.exp(per_token),
                             "nll_per_note": total / notes_test}
    lstm["by_position"] = by_position(lstm_nll)
    as_sampled = [predictions(z, t, codec)[0] for z, t in zip(logits, tokens["test"])]
    lstm["grammar"] = {k: v for k, v in score(as_sampled, lstm_hits, notes_test).items()
                       if k != "accuracy"}
    del logits
    transpose = loaded.config.train.transpose
    train_variants = transposed_variants(codec, tokens["train"], transpose)
    ngram = best_ngram(codec, train_variants, tokens["validation"], tokens["test"], notes_test,
                       range(3, cfg.max_ngram_order + 1))

    # what the network learnt from: a refit (train --refit) learnt the validation songs too
    refit = bool(split.get("refit"))
    learnt = parts["train"] + (parts["validation"] if refit else [])
    learnt_variants = transposed_variants(codec, tokens["train"] + tokens["validation"],
                                          transpose) if refit else train_variants
    index = mm.NgramIndex(learnt_variants[max(learnt_variants)])  # every transposition used
    spb, max_dur = codec.config.steps_per_beat, codec.config.max_duration
    reference = [s.notes for s in learnt]
    human = [_song(s.notes, t, s.meta) for s, t in zip(parts["test"], tokens["test"])]
    guard = not cfg.no_voicing_guard
    free = [compose(stepper, codec, [codec.bos_id], FREE_NOTES, cfg.temperature, 0, cfg.top_p,
                    cfg.seed + i, max_tokens=MAX_FREE_TOKENS, guard=guard, form=form)
            for i in range(cfg.free_samples)]
    free_songs = [_song(n, ids, meta) for n, meta, ids in free]
    music = {"generated": mm.set_figures(free_songs, reference, index, spb, max_dur),
             "human_test": mm.set_figures(human, reference, index, spb, max_dur),
             "human_range": mm.figure_ranges(human, spb),
             "human_quartiles": mm.figure_quartiles(human, spb),
             "harmony_form": {"generated": hf.figures(map(_bars, free_songs), spb),
                              "human_test": hf.figures(map(_bars, human), spb)}}
    lengths = {"generated": [len(n) for n, _, _ in free],
               "human_test": [len(s.notes) for s in parts["test"]],
               "hit_token_limit": sum(len(ids) >= MAX_FREE_TOKENS for _, _, ids in free)}
    result = {
        "model": str(cfg.run_dir), "kind": loaded.kind, "vocab_version": codec.version,
        "songs": {p: len(v) for p, v in parts.items()},
        **({"refit": True} if refit else {}),
        "test_targets": int(sum(len(t) - 1 for t in tokens["test"])), "test_notes": notes_test,
        "lstm": lstm, "ngram": ngram,
        "nll_per_note_reduction": 1 - lstm["nll_per_note"] / ngram["nll_per_note"],
        "music": music, "lengths": lengths,
        "sampling": {"temperature": cfg.temperature, "top_p": cfg.top_p, "seed": cfg.seed,
                     "voicing_guard": guard, "form_head": form is not None,
                     "free_songs": cfg.free_samples, "songs_per_request": cfg.num_samples,
                     "request_length": cfg.length},
    }
    if codec.version >= 2:
        result["requests"] = steering(cfg, stepper, codec, parts, human, spb, form)
    result["checks"] = checks(result)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    out = cfg.out or (None if loaded.kind == "export" else RunDir(cfg.run_dir).path /
                      "evaluation.json")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_json(out, result)
    print(report(result))
    return result


def _bars(song):
    """``(notes, bar_starts or None)`` of a :func:`_song`."""
    return song[0], (song[2] if len(song) == 4 else None)


def _song(notes, ids, meta):
    """A song as music_metrics takes it: notes, tokens, bar lines, key."""
    if meta is None:
        return notes, ids
    bars = meta.bar_starts()
    return notes, ids, (bars if len(bars) else None), meta.key


def transposed_variants(codec, train_tokens, transpose: int) -> dict[int, list[np.ndarray]]:
    """``{0: the training songs, k: them in every transposition up to +-k}`` for the k
    training used (only 0 when it used none)."""
    variants = {0: list(train_tokens)}
    if transpose:
        variants[transpose] = [
            codec.transpose(t, k) for t in train_tokens for k in range(-transpose, transpose + 1)
            if codec.transpose_range(t)[0] <= k <= codec.transpose_range(t)[1]]
    return variants


def best_ngram(codec, variants, val_tokens, test_tokens, test_notes: int, orders) -> dict:
    """The n-gram baseline chosen on validation (order 3..8, plain or transposed training
    songs), scored on test."""
    sweep, best = [], None
    for k, songs in variants.items():
        for order in orders:
            model = KneserNey(order, codec.size).fit(songs)
            val = float(model.nll(val_tokens).mean())
            sweep.append({"order": order, "transpose": k, "val_nll": val})
            if best is None or val < best[0]:
                best = (val, order, k, model)
    _, order, k, model = best
    nll = model.nll(test_tokens)
    hits = model.top1(test_tokens) == np.concatenate([t[1:] for t in test_tokens])
    out = score([nll], [hits], test_notes)
    out.update(order=order, variant="plain" if k == 0 else f"transposed +-{k}", sweep=sweep)
    return out


# --- steering ----------------------------------------------------------------------
def requested_keys(train_songs) -> list[tuple[int, str]]:
    """The :data:`KEY_REQUESTS` most common training keys, the last one minor if none is."""
    counts = Counter(s.meta.key for s in train_songs)
    ranked = [k for k, _ in counts.most_common()] or [(0, "major")]
    chosen = ranked[:KEY_REQUESTS]
    if not any(m == "minor" for _, m in chosen):
        minor = next((k for k in ranked if k[1] == "minor"), (9, "minor"))
        chosen = chosen[:KEY_REQUESTS - 1] + [minor]
    for extra in [(7, "major"), (2, "major"), (9, "minor"), (0, "major")]:
        if len(chosen) >= KEY_REQUESTS:
            break
        if extra not in chosen:
            chosen.append(extra)
    return chosen


def known_meters(train_songs, test_songs) -> list:
    """Meters of at least :data:`MIN_METER_SONGS` training songs and some test song."""
    train = Counter(s.meta.meter for s in train_songs)
    test = {s.meta.meter for s in test_songs}
    return [m for m, n in train.most_common()
            if n >= MIN_METER_SONGS and m in test and m != K.OTHER]


def steering(cfg, stepper, codec, parts, human, spb, form=None) -> dict:
    """Songs requested by key and by meter, against the human test songs."""
    keys_out, seed = [], cfg.seed + 10_000
    for key in requested_keys(parts["train"]):
        songs = [compose(stepper, codec, [codec.bos_id], cfg.length, cfg.temperature, 0,
                         cfg.top_p, seed + i, key=codec.key_id(key),
                         guard=not cfg.no_voicing_guard, form=form)
                 for i in range(cfg.num_samples)]
        seed += cfg.num_samples
        keys_out.append({
            "key": K.key_name(key),
            "agreement": float(np.mean([K.estimate_key(n) == key for n, _, _ in songs])),
            "scale_consistency": float(np.mean([mm.scale_consistency(n, key)
                                                for n, _, _ in songs])),
            "mean_notes": float(np.mean([len(n) for n, _, _ in songs]))})
    test = parts["test"]
    from_file = [s for s in test if s.key_source == "file"]
    ceiling = float(np.mean([K.estimate_key(s.notes) == s.meta.key for s in from_file])) \
        if from_file else math.nan
    human_scale = [mm.scale_consistency(s.notes, s.meta.key) for s in test]
    meters_out = []
    for meter in known_meters(parts["train"], test):
        bar = codec.bar_steps(meter)
        songs = [compose(stepper, codec, [codec.bos_id], cfg.length, cfg.temperature, 0,
                         cfg.top_p, seed + i, meter=codec.meter_id(meter),
                         guard=not cfg.no_voicing_guard, form=form)
                 for i in range(cfg.num_samples)]
        seed += cfg.num_samples
        generated = [mm.onset_profile(n, meta.bar_starts(), bar)
                     for n, meta, _ in songs if len(meta.bars)]
        humans = [mm.onset_profile(s.notes, s.meta.bar_starts(), bar)
                  for s in test if s.meta.meter == meter and len(s.meta.bars)]
        taught = [mm.onset_profile(s.notes, s.meta.bar_starts(), bar)
                  for s in parts["train"] if s.meta.meter == meter and len(s.meta.bars)]
        meters_out.append({"meter": K.meter_name(meter), "human_songs": len(humans),
                           "overlap": mm.meter_adherence(generated, humans) if generated
                           and humans else 0.0,
                           # the training songs of the meter against the same test songs:
                           # what a model that renders its training songs' profile reaches
                           "training_songs": len(taught),
                           "training_overlap": mm.meter_adherence(taught, humans)
                           if taught and humans else 0.0})
    return {"keys": keys_out,
            "key_agreement": float(np.mean([k["agreement"] for k in keys_out])),
            "scale_consistency": float(np.mean([k["scale_consistency"] for k in keys_out])),
            "human_scale_consistency": float(np.mean(human_scale)),
            "estimator_ceiling": ceiling, "ceiling_songs": len(from_file),
            "meters": meters_out}


# --- checks --------------------------------------------------------------------------
def meter_checked(m: dict) -> bool:
    """Whether a requested meter's overlap (an entry of ``requests.meters``) is checked:
    it has at least :data:`MIN_METER_TEST_SONGS` human test songs."""
    return m.get("human_songs", 0) >= MIN_METER_TEST_SONGS


def checks(r: dict) -> dict:
    """Pass/fail of each acceptance figure (see the module docstring): the same for every
    model, each music figure against its own human test songs' range."""
    music, out = r["music"], {}
    for figure in ("longest_repeat", "bar_repeat_share", "longest_onset_repeat",
                   "distinct_4gram_ratio", "scale_consistency"):
        low, high = music["human_range"][figure]
        value = music["generated"][figure]
        out[figure] = {"generated": value, "human_range": [low, high],
                       "ok": bool(low <= value <= high)}
    ratio = music["generated"]["copy_rate"] / max(music["human_test"]["copy_rate"], 1e-9)
    out["copy_rate_ratio"] = {"generated_vs_human": ratio, "ok": bool(ratio <= COPY_RATIO)}
    q = np.percentile(r["lengths"]["human_test"], [25, 75])
    median = float(np.median(r["lengths"]["generated"]))
    out["length"] = {"generated_median": median, "human_iqr": [float(q[0]), float(q[1])],
                     "ok": bool(q[0] <= median <= q[1])}
    if "requests" in r:
        req = r["requests"]
        out["key_agreement"] = {"generated": req["key_agreement"], "at_least": KEY_AGREEMENT,
                                "ok": bool(req["key_agreement"] >= KEY_AGREEMENT)}
        floor = req["human_scale_consistency"] - SCALE_MARGIN
        out["requested_scale"] = {"generated": req["scale_consistency"], "at_least": floor,
                                  "ok": bool(req["scale_consistency"] >= floor)}
        for m in req["meters"]:
            if not meter_checked(m):
                continue  # reported, not checked (see the module docstring)
            out[f"meter {m['meter']}"] = {"overlap": m["overlap"], "at_least": METER_OVERLAP,
                                          "ok": bool(m["overlap"] >= METER_OVERLAP)}
    return out


def report(r: dict) -> str:
    """The evaluation as a plain-text report."""
    lstm, ngram = r["lstm"], r["ngram"]
    name = f"{ngram['order']}-gram KN ({ngram['variant']})"
    lines = [
        f"test songs ({r['songs']['test']} songs, {r['test_notes']:,} notes, "
        f"{r['test_targets']:,} targets; {r['songs']['train']} train, "
        f"{r['songs']['validation']} validation"
        + (", the network trained on both: a refit" if r.get("refit") else "") + "):",
        f"  {'':<28}{'NLL/token':>10}{'NLL/note':>10}{'perplexity':>12}{'accuracy':>10}",
    ]
    for label, s in (("LSTM", lstm), (name, ngram)):
        lines.append(f"  {label:<28}{s['nll']:>10.4f}{s['nll_per_note']:>10.4f}"
                     f"{s['perplexity']:>12.3f}{s['accuracy']:>10.3f}")
    if "with_form" in lstm:
        f = lstm["with_form"]
        lines.append(f"  {'LSTM + form head':<28}{f['nll']:>10.4f}{f['nll_per_note']:>10.4f}"
                     f"{f['perplexity']:>12.3f}")
    if "grammar" in lstm:
        g = lstm["grammar"]
        lines.append(f"  {'LSTM as sampled (grammar)':<28}{g['nll']:>10.4f}"
                     f"{g['nll_per_note']:>10.4f}{g['perplexity']:>12.3f}")
    lines += [f"  LSTM NLL per note is {100 * r['nll_per_note_reduction']:.1f}% lower than the "
              "n-gram's (order and variant chosen on validation)",
              "  LSTM NLL per token by position: " + ", ".join(
                  f"{b['from']}-{'' if b['to'] is None else b['to'] - 1}: "
                  + ("-" if b["nll"] is None else f"{b['nll']:.3f}") + f" ({b['targets']:,})"
                  for b in lstm["by_position"]),
              "",
              f"music: {r['sampling']['free_songs']} songs with no length limit "
              f"(T={r['sampling']['temperature']}, top-p={r['sampling']['top_p']}"
              f"{'' if r['sampling'].get('voicing_guard', True) else ', no voicing guard'}"
              f"{', form head' if r['sampling'].get('form_head') else ''}) "
              "vs the human test songs:",
              mm.format_table({"generated": r["music"]["generated"],
                               "human test": r["music"]["human_test"]}),
              *(["chords and form:", *hf.report_lines(
                  {"generated": r["music"]["harmony_form"]["generated"],
                   "human test": r["music"]["harmony_form"]["human_test"]})]
                if "harmony_form" in r["music"] else []),
              f"notes per song: generated median {np.median(r['lengths']['generated']):.0f}, "
              f"human median {np.median(r['lengths']['human_test']):.0f}"
              f" ({r['lengths']['hit_token_limit']} generated songs hit the "
              f"{MAX_FREE_TOKENS:,}-token safety limit)"]
    if "requests" in r:
        req = r["requests"]
        lines += ["", f"requested keys ({r['sampling']['songs_per_request']} songs each): "
                  + ", ".join(f"{k['key']} {k['agreement']:.2f}" for k in req["keys"])
                  + f"; key estimate = request {req['key_agreement']:.2f} (the estimator "
                  f"agrees with {req['estimator_ceiling']:.2f} of the "
                  f"{req['ceiling_songs']} test songs whose key the file states)",
                  f"scale consistency in the requested key {req['scale_consistency']:.3f} "
                  f"(human test songs in their own key: {req['human_scale_consistency']:.3f})",
                  "requested meters, onset-position overlap with the human test songs: "
                  + (", ".join(f"{m['meter']} {m['overlap']:.3f} ({m['human_songs']} human; "
                               f"training songs {m.get('training_overlap', math.nan):.3f}"
                               + ("" if meter_checked(m) else
                                  "; not checked: fewer than "
                                  f"{MIN_METER_TEST_SONGS} human test songs") + ")"
                               for m in req["meters"]) or "none known")]
    lines += ["", "checks:"]
    for figure, c in r["checks"].items():
        ok = "ok" if c["ok"] else "FAILS"
        if "human_range" in c:
            low, high = c["human_range"]
            lines.append(f"  {figure:<24}{c['generated']:>9.3f}  human {low:.3f}..{high:.3f}  {ok}")
        elif "human_iqr" in c:
            low, high = c["human_iqr"]
            lines.append(f"  {'median notes':<24}{c['generated_median']:>9.0f}  human IQR "
                         f"{low:.0f}..{high:.0f}  {ok}")
        elif "generated_vs_human" in c:
            lines.append(f"  {'copy rate vs human':<24}{c['generated_vs_human']:>8.2f}x  "
                         f"(at most {COPY_RATIO}x)  {ok}")
        else:
            value = c.get("generated", c.get("overlap"))
            lines.append(f"  {figure:<24}{value:>9.3f}  at least {c['at_least']:.3f}  {ok}")
    return "\n".join(lines)
