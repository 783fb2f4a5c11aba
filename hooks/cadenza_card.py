"""The model card of each shipped model: data, settings, training, evaluation.

Built from the export's config.json and metrics.json only (see
:mod:`cadenza_models`): config.json says how the model was made and, for a
codec v2 model, which keys and meters its training songs had
(``conditioning``); metrics.json holds ``training``, ``evaluation`` and
optionally ``previous``, the evaluation of the model it replaces on the same
test songs (:mod:`cadenza_evaluation` renders both). An export made before
``python -m trainer evaluate`` ran says so instead of showing an evaluation.
A harmony.json beside them adds the harmonizing figures (:mod:`cadenza_harmony`).
"""

from __future__ import annotations

import cadenza_evaluation
import cadenza_harmony
from cadenza_models import number, table

LANGUAGES = {1: "v1: notes, durations and time shifts only",
             2: "v2: notes, durations and time shifts, plus the song's key and meter and a "
                "bar line at every bar (`KEY`, `METER`, `BAR`)"}


def vocab_version(config: dict) -> int:
    """The codec version of an export (settings written before v2 say nothing: v1)."""
    return (config["training"]["settings"].get("codec") or {}).get("vocab_version", 1)


def card(model: dict) -> str:
    """The Markdown section of one model."""
    c, metrics = model["config"], model["metrics"]
    t = metrics.get("training") or {}
    evaluation = metrics.get("evaluation")
    return "\n\n".join([
        f"## {model['name']}",
        table(["about the model", "value"], about(c, t, evaluation, metrics.get("previous"))),
        cadenza_evaluation.section(model["name"], evaluation, metrics.get("previous")),
        *filter(None, [cadenza_harmony.section(model["name"], model.get("harmony"))]),
        "To make this model again:\n\n```sh\n" + "\n".join(
            c["training"]["commands"][k] for k in ("train", "calibrate", "evaluate", "export")
            if k in c["training"]["commands"]) + "\n```",
    ])


def about(c: dict, t: dict, evaluation: dict | None, previous: dict | None) -> list[list]:
    """The rows of the card's first table."""
    settings = c["training"]["settings"]
    train, codec, version = settings["train"], c["codec"], vocab_version(c)
    language = LANGUAGES.get(version, f"v{version}")
    if version >= 2 and codec.get("bars") is False:
        language += " (here without `BAR`, an ablation)"
    rows = [
        *([["adapted in a browser", adapted(c["adaptation"])]] if c.get("adaptation") else []),
        ["data", data(c, t, evaluation)],
        ["music", "melody (top note of each onset)" if codec["mono"] else "polyphonic"],
        ["token language", language],
        ["tokens", f"{c['vocab_size']}: {codec['steps_per_beat']} steps per beat, notes up "
                   f"to {codec['max_duration']} steps, shifts up to {codec['max_shift']}"],
    ]
    if version >= 2 or previous:
        said = c["training"].get("changes")  # python -m converter --changes
        rows.append(["what changed", (f"{said} " if said else "") + changes(version, previous)])
    rows += seen(c, t, version)
    model = settings["model"]
    key_table = (f"; a key embedding (25 × {c['model']['embedding_size']}) added to every "
                 "token's" if version >= 2 else "")
    if version >= 2 and not model.get("no_degrees", True):
        key_table += ("; degree logits (each note also scored by its scale degree in the key, "
                      "one set of weights for all 24 keys)")
    if version >= 2 and model.get("bar_input"):
        key_table += "; the bar count as an input at every step"
    if version >= 2 and model.get("sounding_input"):
        key_table += "; the piano keys sounding now as an input at every step"
    if version >= 2 and model.get("lookback_input"):
        key_table += ("; what started 1, 2, 4 and 8 bars ago as an input at every step "
                      "(its pitches, the gap to the next onset, the named note's duration)")
    if version >= 2 and model.get("repeat_input"):
        key_table += ("; whether the song is repeating what it played that many bars ago, "
                      "note for note, as an input at every step")
    rows += [
        ["network", f"embedding {c['model']['embedding_size']}, {c['model']['num_layers']} "
                    f"LSTM layers × {c['model']['rnn_size']} units, "
                    f"dropout {settings['model']['dropout']}{key_table}"],
        ["parameters", t.get("parameters")],
        ["training", training(c, t)],
        ["settings", recipe(train)],
        *([["calibration", calibration(c["training"]["calibration"])]]
          if c["training"].get("calibration") else []),
        ["in the browser", browser(c)],
    ]
    return rows


def training(c: dict, t: dict) -> str:
    """Epochs, the best validation loss and time; a refit has no held-out loss to show."""
    took = f"{t.get('train_seconds', 0):,.0f} s on {t.get('backend')}"
    if c["training"].get("refit"):
        return (f"{t.get('epochs_trained')} epochs as a refit (the run it repeats chose them on "
                f"its validation songs, which this one trained on: no held-out loss), {took}")
    return (f"{t.get('epochs_trained')} epochs ({t.get('stopped')}), best validation loss "
            f"{number(t.get('best_val_loss'))} at epoch {t.get('best_epoch')}, {took}")


def data(c: dict, t: dict, evaluation: dict | None) -> str:
    """Where the songs came from and how they were split."""
    tr = c["training"]
    test = tr.get("test_songs", ((evaluation or {}).get("songs") or {}).get(
        "test", t.get("test_songs")))
    text = (f"`{tr['data']}`: {tr['train_songs']} training songs, "
            f"{tr['validation_songs']} validation")
    if tr.get("refit"):
        text += (" (a refit: the network trained on both, for the epochs and learning rates "
                 "that validation chose in the run it repeats)")
    if test:
        return text + f", {test} test (never trained on, never used for a choice)"
    return text + "; no test split (trained before it existed)"


def changes(version: int, previous: dict | None) -> str:
    """What is new against the v1 token language and model (and the model replaced)."""
    old = (previous or {}).get("vocab_version") or 1
    parts = []
    if version >= 2 and old < 2:
        parts.append(f"token language v{version} (was v{old}, notes only): the song's key, "
                     "meter and bar lines are tokens, so songs can be asked for in a key or "
                     "meter")
        parts.append("the key is an input at every step (an embedding of the song's key "
                     "added to each token's), not only a token at the start, and each note is "
                     "also scored by its scale degree in that key")
        parts.append("training windows that start mid-song first read some tokens without loss "
                     "(burn-in), so their predictions start from a warm state as generation's "
                     "do")
    elif version == old:
        parts.append(f"the same token language (v{version}) as the model it replaces")
    if previous:
        parts.append(f"the v{old} model it replaces is evaluated beside it, on the same test "
                     "songs")
    return "; ".join(parts) or "-"


def seen(c: dict, t: dict, version: int) -> list[list]:
    """Rows naming the keys and meters of the training songs, with their counts."""
    if version < 2:
        return [["keys and meters", "none: a v1 model has no key or meter tokens and no key "
                                    "input, so it cannot be asked for a key or meter"]]
    counts = c.get("conditioning") or t.get("conditioning") or {}
    rows = []
    for kind, label in (("keys", "training songs per key"),
                        ("meters", "training songs per meter")):
        found = counts.get(kind) or {}
        ranked = sorted(found.items(), key=lambda kv: -kv[1])
        rows.append([label, ", ".join(f"{name.replace(':', ' ')} ({n})" for name, n in ranked)
                     or "not recorded in this export"])
    if counts.get("meters"):
        rows[1][1] += " (a song counts once for each meter it uses)"
    return rows


def recipe(train: dict) -> str:
    text = (f"windows of {train['window_size']} tokens, batch {train['batch_size']}, "
            f"{train['optimizer']} at {train['learning_rate']}")
    if train.get("schedule"):
        text += f" ({train['schedule']} schedule)"
    if train.get("burn_in"):
        text += f", burn-in {train['burn_in']} tokens"
    if train.get("ema"):
        text += (f", a moving average of the weights (momentum {train['ema']} per step) "
                 "validated, kept and exported")
    if train.get("init_from"):
        text += f", started from the weights of `{train['init_from']}`"
    if train.get("refit"):
        text += f", a refit of `{train['refit']}` on its training and validation songs"
    return text + f", transposition ±{train['transpose']}, seed {train['seed']}"


def calibration(record: dict) -> str:
    """The softmax temperature baked into the weights, and where it was chosen."""
    text = (f"softmax temperature {record['temperature']:.3f}, chosen on "
            f"{record.get('chosen_on', 'the validation songs')}")
    nll = record.get("validation_nll_per_note")
    if nll:
        text += f" (their NLL per note {nll['before']:.3f} → {nll['after']:.3f})"
    return text + ", baked into the output weights: the logits as trained, divided by it"


def adapted(record: dict) -> str:
    """What Make it yours (web/src/adapt/export.js) did to the base model; the other rows
    of the card describe the base."""
    songs, nll = record["songs"], record["held_out_nll_per_note"]
    skipped = len(songs.get("skipped") or [])
    return (f"from {record['base']['name']} to {len(songs['train'])} of a visitor's MIDI "
            f"files, {len(songs['held_out'])} held out"
            + (f" ({skipped} unusable left out)" if skipped else "")
            + f": held-out NLL per note {nll['before']:.3f} before, {nll['after']:.3f} after; "
            f"{', '.join(f'`{n}`' for n in record['trained']) or 'no weight'} trained for "
            f"{len(record['history']) - 1} epochs (best {record['best_epoch']}). The rows below "
            f"describe {record['base']['name']}, as trained in Python, and the evaluation is its.")


def browser(c: dict) -> str:
    """Size and storage of the weights, and how closely they follow the Keras model."""
    text = f"{c['weights_bytes'] / 1e6:.2f} MB of {c['quantization']} weights"
    if c.get("storage", {}).get("rule") == "auto":
        text += " (`--quantize auto`)"
    kl = c.get("next_token_kl")
    if kl and "generated" in kl:
        test = kl["test"]
        return text + (f"; next-token KL to the Keras model at most "
                       f"{kl['generated']['max']:.2g} over {kl['generated']['songs']} songs it "
                       "generated" + (f" and {test['max']:.2g} over {test['songs']} of its "
                                      "test songs" if test["songs"] else "")
                       + f" ({kl['steps']:,} steps, mean {kl['mean']:.2g})")
    if kl:
        return text + (f"; next-token KL to the Keras model at most {kl['max']:.2g} (mean "
                       f"{kl['mean']:.2g}) over {kl['steps']:,} steps of {kl['songs']} songs "
                       "it generated")
    if c.get("adaptation"):  # parity.json holds the adapted float32 weights' probabilities
        return text + (f"; max KL to the adapted float32 weights over {c['parity']['steps']} "
                       f"steps {c['parity']['max_kl']:.2g}")
    return text + (f"; max KL to the Keras model over {c['parity']['steps']} steps "
                   f"{c['parity']['max_kl']:.2g}")
