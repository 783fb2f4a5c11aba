"""The model card of each shipped model: data, settings, training, evaluation.

Built from the export's config.json and metrics.json only (see
:mod:`cadenza_models`); an export made before ``python -m trainer evaluate``
ran says so instead of showing an evaluation.
"""

from __future__ import annotations

from cadenza_models import number, table

MUSIC_COLUMNS = (("generated", "generated"), ("held_out", "held-out human"))


def card(model: dict) -> str:
    """The Markdown section of one model."""
    c, t = model["config"], model["metrics"]["training"] or {}
    train = c["training"]["settings"]["train"]
    codec = c["codec"]
    return "\n\n".join([
        f"## {model['name']}",
        table(["about the model", "value"], [
            ["data", f"`{c['training']['data']}`: {c['training']['train_songs']} training "
                     f"songs, {c['training']['validation_songs']} held out"],
            ["music", "melody (top note of each onset)" if codec["mono"] else "polyphonic"],
            ["tokens", f"{c['vocab_size']}: {codec['steps_per_beat']} steps per beat, notes up "
                       f"to {codec['max_duration']} steps, shifts up to {codec['max_shift']}"],
            ["network", f"embedding {c['model']['embedding_size']}, {c['model']['num_layers']} "
                        f"LSTM layers × {c['model']['rnn_size']} units, "
                        f"dropout {c['training']['settings']['model']['dropout']}"],
            ["parameters", t.get("parameters")],
            ["training", f"{t.get('epochs_trained')} epochs ({t.get('stopped')}), best validation "
                         f"loss {number(t.get('best_val_loss'))} at epoch {t.get('best_epoch')}, "
                         f"{t.get('train_seconds', 0):,.0f} s on {t.get('backend')}"],
            ["settings", f"windows of {train['window_size']} tokens, batch {train['batch_size']}, "
                         f"{train['optimizer']} at {train['learning_rate']}, transposition "
                         f"±{train['transpose']}, seed {train['seed']}"],
            ["in the browser", f"{c['weights_bytes'] / 1e6:.2f} MB of {c['quantization']} "
                               f"weights; max KL to the Keras model over "
                               f"{c['parity']['steps']} steps {c['parity']['max_kl']:.2g}"],
        ]),
        evaluation(model["metrics"].get("evaluation")),
        "To make this model again:\n\n```sh\n" + "\n".join(
            c["training"]["commands"][k] for k in ("train", "evaluate", "export")) + "\n```",
    ])


def evaluation(e: dict | None) -> str:
    """Held-out scores against the n-gram baseline, and the music figures."""
    if not e:
        return ("_Not evaluated: this export was made before `python -m trainer evaluate` "
                "ran on its run folder._")
    ngram = f"{e['ngram_order']}-gram Kneser-Ney ({e['ngram_variant']})"
    scores = table(["held-out songs, per token", "NLL (nats)", "perplexity", "top-1 accuracy"], [
        ["LSTM", e["lstm_nll"], e["lstm_perplexity"], e["lstm_accuracy"]],
        [ngram, e["ngram_nll"], e["ngram_perplexity"], e["ngram_accuracy"]],
    ])
    s = e["sampling"]
    music = e["music"]
    figures = list(dict.fromkeys(k for key, _ in MUSIC_COLUMNS for k in music.get(key, {})))
    rows = [[f, *(music.get(key, {}).get(f) for key, _ in MUSIC_COLUMNS)] for f in figures]
    return "\n\n".join([
        f"### Evaluation\n\nOn {e['val_targets']:,} held-out tokens the LSTM's NLL is "
        f"{100 * e['nll_reduction']:.1f}% lower than the n-gram's.",
        scores,
        f"Music: {s['num_samples']} songs generated (up to {s['length']} notes, T = "
        f"{s['temperature']}, top-p = {s['top_p']}, seeds from {s['seed']}) against the "
        "held-out human songs:",
        table(["figure", *(label for _, label in MUSIC_COLUMNS)], rows),
    ])
