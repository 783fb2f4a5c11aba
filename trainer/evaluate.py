"""``python -m trainer evaluate``: how good is a run, honestly?

Scores the run's held-out (validation) songs per token -- NLL in nats,
perplexity and top-1 accuracy -- for the LSTM and for an interpolated
Kneser-Ney n-gram fit on the same training songs, and compares music the run
composes with the held-out human songs on figures that catch loops and copies.
Writes ``evaluation.json`` into the run folder and prints a table.
"""

from __future__ import annotations

import math
import time

import numpy as np

from trainer import backend
from trainer import music_metrics as mm
from trainer.config import EvalConfig
from trainer.corpus import prepare
from trainer.generate import compose
from trainer.ngram import KneserNey
from trainer.runs import RunDir
from trainer.stepper import Stepper
from trainer.train import split_tokens


def command(given: dict) -> int:
    cfg = EvalConfig(**given[EvalConfig])
    run = RunDir(cfg.run_dir)
    run.config()  # refuse a folder without a run before creating or locking anything
    with run.lock():
        backend.configure()
        evaluate(cfg)
    return 0


def evaluate(cfg: EvalConfig) -> dict:
    """Write and return ``evaluation.json`` of the run ``cfg.run_dir``."""
    from trainer.model import inference_weights, load_trained

    run = RunDir(cfg.run_dir)
    rc, codec = run.config(), run.codec()
    model = load_trained(run)
    corpus = prepare(rc.data, codec)
    train_tokens, val_tokens = split_tokens(corpus, codec, run.read_json("split.json"))
    t0 = time.perf_counter()
    lstm = score(*sequence_predictions(model, val_tokens))
    ngram, variant = best_ngram(codec, cfg.ngram_order, train_tokens, val_tokens,
                                rc.train.transpose)
    stepper = Stepper(inference_weights(model))
    generated = [compose(stepper, codec, [codec.bos_id], cfg.length, cfg.temperature, 0,
                         cfg.top_p, cfg.seed + i) for i in range(cfg.num_samples)]
    index = mm.NgramIndex(train_tokens)
    reference = [codec.decode(t) for t in train_tokens]
    spb, max_dur = codec.config.steps_per_beat, codec.config.max_duration
    generated = [(n, codec.encode(n)) for n in generated]
    human = [(codec.decode(t), t) for t in val_tokens]
    music = {"generated": mm.set_figures(generated, reference, index, spb, max_dur),
             "held_out": mm.set_figures(human, reference, index, spb, max_dur),
             "held_out_range": mm.figure_ranges(human, spb)}
    result = {
        "lstm_nll": lstm["nll"], "lstm_perplexity": lstm["perplexity"],
        "lstm_accuracy": lstm["accuracy"],
        "ngram_nll": ngram["nll"], "ngram_perplexity": ngram["perplexity"],
        "ngram_accuracy": ngram["accuracy"], "ngram_order": cfg.ngram_order,
        "ngram_variant": variant,
        "nll_reduction": 1 - lstm["nll"] / ngram["nll"],
        "checks": checks(music),
        "val_targets": int(sum(len(t) - 1 for t in val_tokens)),
        "music": music,
        "sampling": {"num_samples": cfg.num_samples, "length": cfg.length,
                     "temperature": cfg.temperature, "top_p": cfg.top_p, "seed": cfg.seed},
        "seconds": round(time.perf_counter() - t0, 1),
    }
    run.write_json("evaluation.json", result)
    print(report(result))
    return result


def sequence_predictions(model, songs: list[np.ndarray], batch: int = 16):
    """Per-target NLL (nats) and top-1 hits of the sequence model, whole songs at once."""
    order = np.argsort([len(s) for s in songs])
    nll, hits = [None] * len(songs), [None] * len(songs)
    for a in range(0, len(songs), batch):
        idx = order[a:a + batch]
        width = max(len(songs[i]) for i in idx) - 1
        x = np.zeros((len(idx), width), dtype=np.int32)
        for r, i in enumerate(idx):
            x[r, :len(songs[i]) - 1] = songs[i][:-1]
        logits = np.asarray(model.predict_on_batch(x), dtype=np.float64)
        logp = logits - logits.max(-1, keepdims=True)
        logp -= np.log(np.exp(logp).sum(-1, keepdims=True))
        for r, i in enumerate(idx):
            n, target = len(songs[i]) - 1, songs[i][1:]
            nll[i] = -logp[r, np.arange(n), target]
            hits[i] = logits[r, :n].argmax(-1) == target
    return np.concatenate(nll), np.concatenate(hits)


def score(nll: np.ndarray, hits: np.ndarray) -> dict:
    mean = float(nll.mean())
    return {"nll": mean, "perplexity": math.exp(mean), "accuracy": float(hits.mean())}


def best_ngram(codec, order: int, train_tokens, val_tokens, transpose: int):
    """The stronger of two baselines: n-gram on the training songs, or on them and
    every transposition the LSTM was trained with (``transpose > 0`` only)."""
    variants = {"plain": train_tokens}
    if transpose:
        variants[f"transposed +-{transpose}"] = [
            codec.transpose(t, k) for t in train_tokens for k in range(-transpose, transpose + 1)
            if codec.transpose_range(t)[0] <= k <= codec.transpose_range(t)[1]]
    best = None
    target = np.concatenate([t[1:] for t in val_tokens])
    for name, songs in variants.items():
        model = KneserNey(order, codec.size).fit(songs)
        result = score(model.nll(val_tokens), model.top1(val_tokens) == target)
        if best is None or result["nll"] < best[0]["nll"]:
            best = (result, name)
    return best


def checks(music: dict) -> dict:
    """Loop and copy checks: the generated songs' mean loop figures inside the
    held-out human songs' range, and their copy rate at most 1.5x the humans'."""
    out = {}
    for figure in ("longest_token_run", "longest_onset_repeat", "distinct_4gram_ratio"):
        low, high = music["held_out_range"][figure]
        value = music["generated"][figure]
        out[figure] = {"generated": value, "human_range": [low, high],
                       "ok": bool(low <= value <= high)}
    ratio = music["generated"]["copy_rate"] / max(music["held_out"]["copy_rate"], 1e-9)
    out["copy_rate_ratio"] = {"generated_vs_human": ratio, "ok": bool(ratio <= 1.5)}
    return out


def report(r: dict) -> str:
    """The evaluation as a plain-text report."""
    ngram = f"{r['ngram_order']}-gram KN ({r['ngram_variant']})"
    lines = [
        f"held-out songs, per token ({r['val_targets']:,} targets):",
        f"  {'':<24}{'NLL (nats)':>12}{'perplexity':>12}{'accuracy':>10}",
        f"  {'LSTM':<24}{r['lstm_nll']:>12.4f}{r['lstm_perplexity']:>12.3f}"
        f"{r['lstm_accuracy']:>10.3f}",
        f"  {ngram:<24}{r['ngram_nll']:>12.4f}"
        f"{r['ngram_perplexity']:>12.3f}{r['ngram_accuracy']:>10.3f}",
        f"  LSTM NLL is {100 * r['nll_reduction']:.1f}% lower than the n-gram's",
        "",
        f"music: {r['sampling']['num_samples']} generated songs (T={r['sampling']['temperature']},"
        f" top-p={r['sampling']['top_p']}) vs the held-out human songs:",
        mm.format_table({"generated": r["music"]["generated"],
                         "held-out human": r["music"]["held_out"]}),
        "",
        "checks (generated mean vs the range over held-out human songs):",
    ]
    for figure, c in r["checks"].items():
        if "human_range" in c:
            low, high = c["human_range"]
            lines.append(f"  {figure:<22}{c['generated']:>8.3f}  human {low:.3f}..{high:.3f}"
                         f"  {'ok' if c['ok'] else 'OUTSIDE'}")
        else:
            lines.append(f"  {'copy rate vs human':<22}{c['generated_vs_human']:>8.2f}x"
                         f"  (at most 1.5x)  {'ok' if c['ok'] else 'TOO HIGH'}")
    return "\n".join(lines)
