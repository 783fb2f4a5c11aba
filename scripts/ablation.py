"""Print issue 26's ablation table (Markdown) from evaluation.json files.

Usage: ``python scripts/ablation.py LABEL=EVALUATION_JSON [LABEL=EVALUATION_JSON ...]``

One row per evaluation, in the order given, then the human test songs' row
(from the first file): the validation loss where the run kept one
(``val_loss``, read from the run's metrics.json beside the evaluation when
there is one), the per-note test NLL, and issue 26's figures of the free
songs (trainer/evaluation/harmony_form.py): chordal share, seconds, outer
parallels per 100 onset pairs, bar repeats (median, IQR, mean), and whether
the songs were composed with the voicing guard.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _f(x, digits=3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def val_loss(path: Path, evaluation: dict) -> str:
    """The best validation loss of the run evaluated, where its metrics.json is found."""
    for folder in (Path(evaluation.get("model", "")), path.parent):
        metrics = folder / "metrics.json"
        if metrics.is_file():
            history = json.loads(metrics.read_text()).get("history") or json.loads(
                metrics.read_text()).get("training", {}).get("history", {})
            if history.get("val_loss"):
                return _f(min(history["val_loss"]), 4)
    return "-"


def row(label: str, figures: dict, nll: str, loss: str, guard: str) -> str:
    r = figures["bar_repeats"]
    return (f"| {label} | {loss} | {nll} | {_f(figures['chordal_share'])} | "
            f"{_f(figures['seconds'])} | {_f(figures['outer_parallels_per_100'], 2)} | "
            f"{_f(r['median'], 2)} ({_f(r['q25'], 2)}..{_f(r['q75'], 2)}), mean "
            f"{_f(r['mean'], 2)} | {guard} |")


def main(argv: list[str]) -> None:
    if not argv or any("=" not in a for a in argv):
        raise SystemExit(__doc__.strip().splitlines()[2])
    print("| model | val loss | test NLL/note | chordal share | seconds | outer parallels "
          "/100 | bar repeats: median (IQR), mean | voicing guard |")
    print("|---|---|---|---|---|---|---|---|")
    human = None
    for arg in argv:
        label, path = arg.split("=", 1)
        e = json.loads(Path(path).read_text())
        hf = e["music"]["harmony_form"]
        human = human or hf["human_test"]
        guard = ("-" if hf["generated"]["chordal_share"] is None  # one line: no chords
                 else "on" if e["sampling"].get("voicing_guard", True) else "off")
        print(row(label, hf["generated"], _f(e["lstm"]["nll_per_note"]), val_loss(Path(path), e),
                  guard))
    print(row("human test songs", human, "-", "-", "-"))


if __name__ == "__main__":
    main(sys.argv[1:])
