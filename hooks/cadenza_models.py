"""The shipped models, as the site shows them: read from their export folders.

An export folder (``python -m converter``) under ``site/models/<name>/``
holds config.json (type ``cadenza-lstm``), metrics.json and the weights, and
may hold harmony.json (``python -m trainer evaluate-harmony``).
Everything here is a function of those files: the ``models/index.json`` the
browser reads, the model table, the model card and the training curves
(from ``metrics.json``'s per-epoch ``history`` when the export has one).
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

from cadenza_svg import line_chart

TYPE = "cadenza-lstm"
log = logging.getLogger("mkdocs.hooks.content")


def discover(models_dir: Path) -> list[dict]:
    """[{name, config, metrics}] of every export folder in models_dir, by name.

    A folder whose config.json is missing, unreadable or of another type is
    skipped with a warning (which fails ``mkdocs build --strict``).
    """
    models = []
    for folder in sorted(p for p in models_dir.glob("*") if p.is_dir()):
        try:
            config = json.loads((folder / "config.json").read_text())
            metrics = json.loads((folder / "metrics.json").read_text())
        except (OSError, ValueError) as e:
            log.warning(f"{folder} is not a model export folder ({e}); skipped")
            continue
        if config.get("type") != TYPE:
            log.warning(f"{folder}/config.json is not a {TYPE} model; skipped")
            continue
        models.append({"name": folder.name, "config": config, "metrics": metrics,
                       "harmony": _optional(folder / "harmony.json")})
    return models


def _optional(path: Path) -> dict | None:
    """A JSON file the folder may hold (harmony.json); a broken one is warned about."""
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        log.warning(f"{path} is unreadable ({e}); the model card leaves it out")
        return None


def index(models: list[dict]) -> dict:
    """models/index.json: what the Compose page needs to list and load each model."""
    return {"models": [{
        "name": m["name"], "path": f"models/{m['name']}/",
        "mono": m["config"]["codec"]["mono"],
        "steps_per_beat": m["config"]["codec"]["steps_per_beat"],
        "num_layers": m["config"]["model"]["num_layers"],
        "rnn_size": m["config"]["model"]["rnn_size"],
        "vocab_size": m["config"]["vocab_size"],
        "weights_bytes": m["config"]["weights_bytes"],
    } for m in models]}


def number(value) -> str:
    """As trainer.evaluation.music_metrics.format_table: ints whole, floats with 3 decimals, '-' for none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.1f}" if abs(value) >= 100 else f"{value:.3f}"


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(c if isinstance(c, str) else number(c) for c in r) + " |"
              for r in rows]
    return "\n".join(lines)


def summary(models: list[dict]) -> str:
    """One table row per model: data, shape, size."""
    if not models:
        return "_No model is shipped with this build._"
    rows = [[f"[{m['name']}](model-card.md#{m['name']})",
             "melody" if m["config"]["codec"]["mono"] else "polyphonic",
             f"{m['config']['model']['num_layers']} × {m['config']['model']['rnn_size']}",
             m["metrics"]["training"].get("parameters"), m["config"]["vocab_size"],
             f"{m['config']['weights_bytes'] / 1e6:.2f} MB ({m['config']['quantization']})"]
            for m in models]
    return table(["model", "music", "LSTM layers × units", "parameters", "tokens", "weights"],
                 rows)


def history(metrics: dict) -> list[dict] | None:
    """Per-epoch rows ({epoch, loss, val_loss, ...}) of metrics.json, if it has them.

    Looked for as ``history`` at the top level or under ``training``, either
    a list of rows or a dict of equally long columns.
    """
    found = metrics.get("history") or (metrics.get("training") or {}).get("history")
    if isinstance(found, dict):
        found = [dict(zip(found, values)) for values in zip(*found.values())]
    return found or None


def curves(models: list[dict]) -> str:
    """A loss chart per model, or a sentence saying its export has no history."""
    if not models:
        return "_No model is shipped with this build, so there are no curves to show._"
    parts = []
    for m in models:
        rows = history(m["metrics"]) or []
        refit = (m["config"].get("training") or {}).get("refit")
        val = "validation loss (songs it trained on: a refit)" if refit else "validation loss"
        series = {label: [(r["epoch"], r[key]) for r in rows if r.get(key) is not None]
                  for key, label in (("loss", "training loss"), ("val_loss", val))}
        series = {k: v for k, v in series.items() if v}
        parts.append(f"### {m['name']}\n")
        if not series:
            parts.append(f"_No training curve: `models/{m['name']}/metrics.json` has no "
                         "per-epoch history._\n")
            continue
        parts.append(line_chart(series, "epoch", "loss (nats per token)",
                                f"{m['name']}: loss by epoch") + "\n")
    return "\n".join(parts)
