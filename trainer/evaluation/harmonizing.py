"""Harmonizing the top lines of held-out songs, beside the songs' own harmony.

Library code of ``python -m trainer evaluate-harmony``. Each *test* song of
the model's split (never trained on, never used for a choice) gives its top
line (:func:`trainer.compose.harmony.melody_of`, in the song's own key and meter);
the model harmonizes it, and the song itself, aligned to the line's first
onset, is the reference (for the chorales: Bach's harmonization of that
soprano). Both are measured by :mod:`trainer.evaluation.harmony_metrics` at the same
melody onsets. Checks: at least :data:`MIN_VOICES` sounding voices per melody
onset; the melody on top at every onset and the harmonization's top line
equal to the melody in every song; no fallback step.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from trainer.cli import command_line
from trainer.compose import harmony as H
from trainer.compose.composing import check_harmonizer, harmonize_melody
from trainer.compose.stepper import Stepper
from trainer.config import HarmonyEvalConfig
from trainer.errors import read_text, shown
from trainer.evaluation import harmony_metrics as hm
from trainer.music.codec import START
from trainer.music.corpus import prepare, split_songs
from trainer.nn.loading import is_export, load, test_split
from trainer.nn.runs import write_json

FILE = "harmony.json"  # written into the model folder unless --out says otherwise
MIN_VOICES = 3.0
ROWS = (  # (figure of harmony_metrics.pooled, label, format)
    ("voices_per_onset", "sounding voices per melody onset", ".2f"),
    ("outer_parallels_per_100", "outer-voice parallel 5ths/8ves per 100 onsets", ".2f"),
    ("melody_on_top", "melody on top (share of onsets)", ".3f"),
    ("added_notes_per_onset", "added notes per melody onset", ".2f"),
    ("added_between_onsets", "share of added notes between melody onsets", ".3f"),
    ("added_scale_consistency", "scale consistency of added notes (song's key)", ".3f"),
    ("chordal_share", "chordal share (onsets that are triads or sevenths)", ".3f"),
    ("seconds", "onsets with adjacent voices a 2nd apart", ".3f"),
    ("onset_pair_parallels_per_100", "outer parallel 5ths/8ves per 100 onset pairs", ".2f"),
)


def reference(notes: np.ndarray) -> np.ndarray:
    """A song's notes from its top line's first onset, as :func:`melody_of` aligns the line."""
    notes = np.array(notes, dtype=np.int64).reshape(-1, 3)
    notes[:, START] -= int(H.top_line(notes)[0, START])
    return notes


def evaluate(stepper, codec, songs, temperature: float, top_p: float, seed: int) -> dict:
    """Harmonize each song's top line (song ``i`` with seed ``seed + i``) and measure it
    beside the song's own harmony: ``{"ours", "human", "checks", "per_song"}``."""
    per_song = []
    for i, song in enumerate(songs):
        melody = H.melody_of(song.notes, song.meta, key=song.meta.key)
        t0 = time.perf_counter()
        notes, _, constraint = harmonize_melody(stepper, codec, melody, temperature, 0, top_p,
                                                seed + i)
        seconds = time.perf_counter() - t0
        per_song.append({
            "name": song.name, "melody_notes": len(melody.notes), "seed": seed + i,
            "seconds": round(seconds, 3), "fallbacks": constraint.fallbacks,
            "top_line_is_melody": bool(np.array_equal(H.top_line(notes), melody.notes)),
            "ours": hm.figures(notes, melody.notes, song.meta.key),
            "human": hm.figures(reference(song.notes), melody.notes, song.meta.key)})
    ours = hm.pooled([s["ours"] for s in per_song])
    ours.update(fallbacks=sum(s["fallbacks"] for s in per_song),
                top_line_is_melody=sum(s["top_line_is_melody"] for s in per_song),
                seconds_per_song=float(np.mean([s["seconds"] for s in per_song])),
                max_seconds=max(s["seconds"] for s in per_song))
    return {"ours": ours, "human": hm.pooled([s["human"] for s in per_song]),
            "checks": checks(ours), "per_song": per_song}


def checks(ours: dict) -> dict:
    """Pass/fail of the figures with a target (see the module docstring)."""
    return {
        "voices_per_onset": {"value": ours["voices_per_onset"], "at_least": MIN_VOICES,
                             "ok": ours["voices_per_onset"] >= MIN_VOICES},
        "melody_on_top": {"value": ours["melody_on_top"], "equals": 1.0,
                          "ok": ours["melody_on_top"] == 1.0},
        "top_line_is_melody": {"value": ours["top_line_is_melody"], "equals": ours["songs"],
                               "ok": ours["top_line_is_melody"] == ours["songs"]},
        "fallbacks": {"value": ours["fallbacks"], "equals": 0, "ok": ours["fallbacks"] == 0},
    }


def report(r: dict) -> str:
    """The evaluation as a plain-text table, ours beside the songs' own."""
    ours, ref, s = r["ours"], r["human"], r["sampling"]
    lines = [f"harmonized the top lines of {ours['songs']} test songs ({ours['onsets']:,} "
             f"melody onsets; T={s['temperature']}, top-p {s['top_p']}, seeds {s['seed']}.."
             f"{s['seed'] + ours['songs'] - 1}), beside the songs' own harmony:",
             f"  {'':<52}{'ours':>8}{'human':>8}"]
    for key, label, fmt in ROWS:
        lines.append(f"  {label:<52}" + "".join(
            f"{'-':>8}" if v[key] is None else f"{v[key]:>8{fmt}}" for v in (ours, ref)))
    lines += [f"  top line = melody in {ours['top_line_is_melody']} of {ours['songs']} songs; "
              f"{ours['fallbacks']} fallback steps; {ours['seconds_per_song']:.2f} s per song "
              f"(at most {ours['max_seconds']:.2f} s)", "checks:"]
    for name, c in r["checks"].items():
        target = f"at least {c['at_least']:g}" if "at_least" in c else f"= {c['equals']:g}"
        value = f"{c['value']:.3f}" if isinstance(c["value"], float) else str(c["value"])
        lines.append(f"  {name:<24}{value:>8}  {target:<14}{'ok' if c['ok'] else 'FAILS'}")
    return "\n".join(lines)


def write(path: Path, result: dict) -> None:
    """Write ``result`` as JSON, whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, result)


def list_in_export(folder: Path, name: str) -> bool:
    """Add ``name`` to the files an export folder's config.json lists (True if it
    was not listed), so the folder stays an export folder (``converter.folder``)
    and a later export may replace it, dropping the file."""
    from converter.folder import listed_files

    listed = listed_files(folder) or set()
    if name in listed:
        return False
    path = Path(folder) / "config.json"
    config = json.loads(read_text(path))
    config["files"] = sorted(listed | {name})
    write(path, config)
    return True


def evaluate_harmony(cfg: HarmonyEvalConfig) -> dict:
    """Harmonize the test songs' top lines of the model ``cfg.run_dir``; write and print the figures."""
    t0 = time.perf_counter()
    loaded = load(cfg.run_dir)
    codec = loaded.codec
    check_harmonizer(codec, shown(loaded.path))
    split = test_split(loaded, cfg.split)
    songs = split_songs(prepare(loaded.config.data, codec, log=lambda _: None), split)["test"]
    songs = songs[:cfg.num_songs] if cfg.num_songs else songs
    stepper = Stepper(loaded.weights, loaded.network, codec)
    result = {"model": str(cfg.run_dir), "kind": loaded.kind,
              "command": command_line("evaluate-harmony", [cfg]),
              "split": str(cfg.split) if cfg.split else "the model's own",
              "sampling": {"temperature": cfg.temperature, "top_p": cfg.top_p, "seed": cfg.seed},
              **evaluate(stepper, codec, songs, cfg.temperature, cfg.top_p, cfg.seed)}
    result["seconds"] = round(time.perf_counter() - t0, 1)
    out = cfg.out or loaded.path / FILE
    write(out, result)
    print(report(result))
    listed = is_export(out.parent) and list_in_export(out.parent, out.name)
    print(f"wrote {shown(out)}" + (f" (added to {shown(out.parent / 'config.json')}'s files)"
                                   if listed else ""))
    return result
