"""Where two models' NLL per note differs, on the same test songs.

    python scripts/nll_gap.py --run-dir A --against B [--split S] [--top N]

``A`` and ``B`` are run or export folders of any codec version (B may be a
v1 model: ``git archive e899eca^ site/models/folk | tar -x -C /tmp/v1`` gives
the v1 folk model). The test songs are A's (or ``--split``'s), quantised by
A's corpus preparation, and each model scores them in its own token language
(a v1 model reads the notes only), from BOS as generation runs; with
``--grammar`` each step is restricted to what that model's Grammar allows. Prints each
model's NLL per note by token kind, then the ``N`` songs that cost A the most
nats against B, with their key (and whether it came from the file or the
estimate), meters and the gap by kind. Both models need the same grid.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from trainer.compose.stepper import Stepper
from trainer.errors import CadenzaError
from trainer.evaluation.likelihood import song_predictions
from trainer.music import keys as K
from trainer.music.corpus import prepare, split_songs
from trainer.nn.loading import load, test_split


def song_kinds(loaded, song, grammar: bool = False) -> dict[str, float]:
    """NLL (nats) of each token kind of one song as ``loaded`` encodes it (``grammar``:
    each step restricted to what the model's Grammar allows, as sampling is)."""
    codec = loaded.codec
    ids = codec.encode(song.notes, song.meta) if codec.version >= 2 else codec.encode(song.notes)
    nll, _ = song_predictions(Stepper(loaded.weights, loaded.network, codec), ids,
                              codec if grammar else None)
    out: dict[str, float] = {}
    for token, n in zip(ids[1:], nll):
        kind = codec.tokens[token].split("_")[0]
        out[kind] = out.get(kind, 0.0) + float(n)
    return out


def gaps(a, b, songs, grammar: bool = False) -> list[tuple[object, dict, dict]]:
    """``(song, A's NLL by kind, B's)`` for every song."""
    return [(s, song_kinds(a, s, grammar), song_kinds(b, s, grammar)) for s in songs]


def report(rows, top: int) -> str:
    notes = sum(len(s.notes) for s, _, _ in rows)
    kinds = sorted({k for _, x, y in rows for k in (*x, *y)})
    total = {side: {k: sum(r[side].get(k, 0.0) for r in rows) for k in kinds} for side in (1, 2)}
    lines = [f"{len(rows)} test songs, {notes:,} notes; NLL per note (nats)",
             f"  {'kind':<8}{'A':>9}{'B':>9}{'A - B':>9}"]
    for k in kinds:
        a, b = total[1][k] / notes, total[2][k] / notes
        lines.append(f"  {k:<8}{a:>9.4f}{b:>9.4f}{a - b:>9.4f}")
    a, b = sum(total[1].values()) / notes, sum(total[2].values()) / notes
    lines += [f"  {'all':<8}{a:>9.4f}{b:>9.4f}{a - b:>9.4f}", "",
              f"the {top} songs that cost A the most nats against B "
              f"(of {sum(sum(x.values()) - sum(y.values()) for _, x, y in rows):,.0f} in all):"]
    worst = sorted(rows, key=lambda r: sum(r[2].values()) - sum(r[1].values()))[:top]
    for s, x, y in worst:
        meters = sorted({K.meter_name(m) for _, m in s.meta.bars} | {K.meter_name(s.meta.meter)})
        by_kind = ", ".join(f"{k} {x.get(k, 0.0) - y.get(k, 0.0):+.0f}" for k in kinds
                            if abs(x.get(k, 0.0) - y.get(k, 0.0)) >= 1)
        lines.append(f"  {s.name}: {sum(x.values()) - sum(y.values()):+.0f} nats over "
                     f"{len(s.notes)} notes; key {K.key_name(s.meta.key)} (from the "
                     f"{s.key_source}), meters {' '.join(meters)}; {by_kind}")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run-dir", type=Path, required=True, help="model A (run or export)")
    p.add_argument("--against", type=Path, required=True, help="model B (run or export)")
    p.add_argument("--split", type=Path, default=None, help="split.json (default: A's)")
    p.add_argument("--top", type=int, default=10, help="songs to list (default 10)")
    p.add_argument("--grammar", action="store_true",
                   help="score each step under the model's Grammar, as sampling draws")
    args = p.parse_args(argv)
    try:
        a, b = load(args.run_dir), load(args.against)
        grid = ("steps_per_beat", "mono")
        if any(getattr(a.codec.config, g) != getattr(b.codec.config, g) for g in grid):
            raise CadenzaError(f"{args.run_dir} and {args.against} quantise on different "
                               "grids (steps per beat or mono): their notes differ")
        corpus = prepare(a.config.data, a.codec, log=lambda _: None)
        songs = split_songs(corpus, test_split(a, args.split))["test"]
        print(report(gaps(a, b, songs, args.grammar), max(args.top, 0)))
    except CadenzaError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
