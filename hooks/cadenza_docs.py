"""Reference text computed from the code itself, so the site cannot drift from it.

* :func:`flags`: the ``--help`` of ``python -m trainer COMMAND`` and
  ``python -m converter``, run at build time.
* :func:`token_example`: a short phrase (with its key, meter, a pickup and
  a meter change) encoded by ``trainer.music.codec.Codec`` with the default
  settings, shown token by token.
* :func:`vocabulary`: the default vocabulary's token kinds and their ids.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

from mkdocs.exceptions import PluginError

from trainer.cli import COMMANDS as TRAINER_COMMANDS

ROOT = Path(__file__).resolve().parents[1]
# every python -m trainer command (trainer/cli.py names them), and the converter
COMMANDS = {**{name: ["trainer", name] for name in TRAINER_COMMANDS}, "converter": ["converter"]}
NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
# (start, duration, pitch) in 16th-note steps, in C major: a one-beat pickup (G4),
# then a 3/4 bar (a C major chord over a held bass, then D5), a 3/4 bar (D5 over G3,
# then two beats of rest) and, from a change to 4/4, B4 off the beat and a C chord.
PHRASE = [(0, 4, 67),
          (4, 8, 72), (4, 8, 67), (4, 8, 64), (4, 12, 48), (12, 4, 74),
          (16, 4, 74), (16, 4, 55),
          (30, 2, 71), (32, 16, 72), (32, 16, 64), (32, 16, 48)]
PHRASE_KEY = (0, "major")
PHRASE_METERS = ((3, 4), (4, 4))  # the meter from the start, and from the third bar line
PHRASE_BARS = ((4, (3, 4)), (16, (3, 4)), (28, (4, 4)))  # (step, meter from there on)
KIND_MEANINGS = {
    "PAD": "padding (never generated)", "BOS": "start of a song", "EOS": "end of the song",
    "NOTE": "a note of this pitch starts at the current time",
    "DUR": "the duration of the note just named",
    "SHIFT": "time moves on this many steps",
    "KEY": "the song's key (tonic, major or minor)",
    "METER": "the song's meter; after a BAR, a meter change",
    "BAR": "a bar line at the current time",
}


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


def phrase():
    """The example's normalised notes and :class:`trainer.music.codec.Meta`."""
    import numpy as np

    from trainer.music.codec import Meta, normalise

    notes = normalise(np.array(PHRASE, dtype=np.int32))
    return notes, Meta(PHRASE_KEY, PHRASE_METERS[0], PHRASE_BARS)


def token_example() -> str:
    """The phrase as a notes table and as its tokens, one row per token."""
    from trainer.music import keys as K
    from trainer.music.codec import Codec

    codec = Codec()
    notes, meta = phrase()
    ids = [int(i) for i in codec.encode(notes, meta)]
    spb = codec.config.steps_per_beat
    note_rows = "\n".join(f"| {s / spb:g} | {d / spb:g} | {pitch_name(p)} ({p}) |"
                          for s, d, p in notes.tolist())
    token_rows = "\n".join(
        f"| `{codec.describe(i)}` | {i} | "
        f"{meaning(codec, i, ids[n - 1] if n else None, ids[:n + 1].count(codec.bar_id))} |"
        for n, i in enumerate(ids))
    *bars, last = [f"{b / spb:g}" for b, _ in meta.bars]
    return (f"In {K.key_name(meta.key).replace(':', ' ')} and "
            f"{K.meter_name(PHRASE_METERS[0])} time with a one-beat pickup, bar lines at "
            f"beats {', '.join(bars)} and {last}, the last one changing to "
            f"{K.meter_name(PHRASE_METERS[1])}:\n\n"
            f"| onset (beats) | length (beats) | pitch |\n|---|---|---|\n{note_rows}\n\n"
            f"becomes {len(ids)} tokens:\n\n| token | id | meaning |\n|---|---|---|\n{token_rows}")


def vocabulary() -> str:
    """The default codec's token kinds: names, ids, count and meaning, as a table."""
    from trainer.music.codec import Codec

    codec = Codec()
    rows = [f"| `{name}` | {codec.to_json()['special'][name]} | 1 | {KIND_MEANINGS[name]} |"
            for name in ("PAD", "BOS", "EOS")]
    for kind, (first, count, _) in codec.ranges.items():
        names = (f"`{codec.describe(first)}`" if count == 1 else
                 f"`{codec.describe(first)}` … `{codec.describe(first + count - 1)}`")
        ids = str(first) if count == 1 else f"{first}–{first + count - 1}"
        rows.append(f"| {names} | {ids} | {count} | {KIND_MEANINGS[kind]} |")
    return ("| tokens | ids | count | meaning |\n|---|---|---|---|\n" + "\n".join(rows)
            + f"\n\n{codec.size} tokens in all (codec version {codec.version}).")


def beats(n: float) -> str:
    return f"{n:g} beat" if n == 1 else f"{n:g} beats"


def meaning(codec, token_id: int, previous: int | None = None, bar: int | None = None) -> str:
    """What one token says, in words. ``previous`` (the token before it) tells a
    meter change (``METER`` after ``BAR``) from the song's first meter; ``bar``
    numbers a ``BAR`` (1 for the first, which ends a pickup if notes came before)."""
    from trainer.music import keys as K

    name = codec.describe(token_id)
    kind, _, value = name.partition("_")
    spb = codec.config.steps_per_beat
    if kind in ("BOS", "EOS", "PAD"):
        return KIND_MEANINGS[kind]
    if kind == "NOTE":
        return f"a note {pitch_name(int(value))} starts now"
    if kind == "DUR":
        return f"…lasting {value} steps ({beats(int(value) / spb)})"
    if kind == "SHIFT":
        return f"time moves on {value} steps ({beats(int(value) / spb)})"
    if kind == "KEY":
        tonic, mode = codec.key_of(token_id)
        return f"the song is in {K.TONICS[tonic]} {mode}"
    if kind == "METER":
        meter = codec.meter_of(token_id)
        said = ("a meter without a token of its own" if meter == K.OTHER
                else f"{K.meter_name(meter)} time")
        if previous is not None and previous == codec.bar_id:
            return f"from this bar on: {said}"
        return f"the song starts in {said}"
    if kind == "BAR":
        if bar is None:
            return "a bar line: a new bar starts now"
        pickup = bar == 1 and previous is not None and codec.meter_of(previous) is None
        return f"a bar line: bar {bar} starts" + (" (the notes before it are a pickup)"
                                                  if pickup else "")
    return f"token {name}"
