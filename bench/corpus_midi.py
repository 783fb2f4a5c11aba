"""Write MIDI files of a music21 corpus that no shipped model learnt from, for bench/adapt_node.mjs.

``python bench/corpus_midi.py --composer ryansMammoth --count 20 --out DIR`` writes
``count`` works of music21's bundled corpus of that composer (or collection), spread
evenly over its sorted file list, as ``DIR/<name>.mid`` with the key and time
signatures music21 reads: what a visitor would bring. Works music21 cannot parse or
write are passed over, and the next one is taken. Prints one line per file written.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

SUFFIXES = (".abc", ".krn", ".mxl", ".xml", ".musicxml")  # scores, not analyses (.rntxt)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--composer", required=True,
                        help="a music21 corpus composer or collection: ryansMammoth, "
                             "palestrina, monteverdi, ...")
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    from music21 import corpus  # slow to import: after the flags are checked

    paths = sorted(p for p in corpus.getComposer(args.composer) if p.suffix in SUFFIXES)
    if not paths:
        raise SystemExit(f"error: music21's corpus has no scores of {args.composer!r}")
    step = max(len(paths) // args.count, 1)
    order = paths[::step] + [p for i, p in enumerate(paths) if i % step]  # spread, then the rest
    args.out.mkdir(parents=True, exist_ok=True)
    written = 0
    for path in order:
        if written == args.count:
            break
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                score = corpus.parse(path)
                target = args.out / f"{path.stem}.mid"
                score.write("midi", fp=str(target))
        except Exception as e:  # music21 raises many kinds on the odd score: take the next
            print(f"passed over {path.name} ({type(e).__name__})")
            continue
        written += 1
        print(f"wrote {target}")
    if written < args.count:
        raise SystemExit(f"error: only {written} of {args.count} works could be written")


if __name__ == "__main__":
    main()
