"""Reference text computed from the code itself, so the site cannot drift from it.

* :func:`flags`: the ``--help`` of ``python -m trainer COMMAND`` and
  ``python -m converter``, run at build time.
* :func:`token_example`: a short phrase encoded by ``trainer.codec.Codec``
  with the default settings, shown token by token.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

from mkdocs.exceptions import PluginError

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {"prepare": ["trainer", "prepare"], "train": ["trainer", "train"],
            "sample": ["trainer", "sample"], "evaluate": ["trainer", "evaluate"],
            "converter": ["converter"]}
NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
# (start, duration, pitch) in 16th-note steps: a C major chord, two eighths
# over a held bass, a rest, and an E minor chord.
PHRASE = [(0, 4, 72), (0, 4, 67), (0, 4, 64), (0, 8, 48), (4, 2, 74), (6, 2, 76),
          (12, 4, 71), (12, 4, 67), (12, 4, 64)]


@functools.cache
def flags(command: str) -> str:
    """A fenced block with the --help text of command (a key of COMMANDS)."""
    if command not in COMMANDS:
        raise PluginError(f"cadenza:flags: unknown command {command!r} (one of {list(COMMANDS)})")
    argv = [sys.executable, "-m", *COMMANDS[command], "--help"]
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COLUMNS": "88"})
    if proc.returncode != 0:
        raise PluginError(f"{' '.join(argv)} failed:\n{proc.stderr}")
    return f"```text\n{proc.stdout.rstrip()}\n```"


def pitch_name(pitch: int) -> str:
    return f"{NAMES[pitch % 12]}{pitch // 12 - 1}"


def token_example() -> str:
    """The phrase as a notes table and as its tokens, one row per token."""
    import numpy as np

    from trainer.codec import Codec, normalise

    codec = Codec()
    notes = normalise(np.array(PHRASE, dtype=np.int32))
    ids = codec.encode(notes)
    spb = codec.config.steps_per_beat
    note_rows = "\n".join(f"| {s / spb:g} | {d / spb:g} | {pitch_name(p)} ({p}) |"
                          for s, d, p in notes.tolist())
    token_rows = "\n".join(f"| `{codec.describe(int(i))}` | {int(i)} | {meaning(codec, int(i))} |"
                           for i in ids)
    return (f"| onset (beats) | length (beats) | pitch |\n|---|---|---|\n{note_rows}\n\n"
            f"becomes {len(ids)} tokens:\n\n| token | id | meaning |\n|---|---|---|\n{token_rows}")


def beats(n: float) -> str:
    return f"{n:g} beat" if n == 1 else f"{n:g} beats"


def meaning(codec, token_id: int) -> str:
    kind, _, value = codec.describe(token_id).partition("_")
    spb = codec.config.steps_per_beat
    return {"BOS": "start of song", "EOS": "end of song", "PAD": "padding",
            "NOTE": f"a note {pitch_name(int(value or 0))} starts now",
            "DUR": f"…lasting {value} steps ({beats(int(value or 0) / spb)})",
            "SHIFT": f"time moves on {value} steps"}[kind]
