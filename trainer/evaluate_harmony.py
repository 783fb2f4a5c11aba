"""``python -m trainer evaluate-harmony``: harmonize each test song's top line, beside the song.

``--run-dir`` is a polyphonic v2 training run or export folder with a test
split (or ``--split``). Writes ``harmony.json`` (``--out``; by default into
the model folder: a run's, or an export's, which then lists it among its
files so the model card shows it) and prints the table. See
:mod:`trainer.harmony_eval` for what is measured.
"""

from __future__ import annotations

import time

from trainer import harmony_eval as he
from trainer.cli import command_line
from trainer.composing import check_harmonizer
from trainer.config import HarmonyEvalConfig
from trainer.corpus import prepare, split_songs
from trainer.display import shown
from trainer.loading import is_export, load, test_split
from trainer.runs import RunDir, run_locked
from trainer.stepper import Stepper

FILE = "harmony.json"


def command(given: dict) -> int:
    cfg = HarmonyEvalConfig(**given[HarmonyEvalConfig])
    RunDir(cfg.run_dir).check_folder()
    run_locked(cfg.run_dir, lambda: evaluate(cfg),
               lock=cfg.out is None and not is_export(cfg.run_dir))
    return 0


def evaluate(cfg: HarmonyEvalConfig) -> dict:
    t0 = time.perf_counter()
    loaded = load(cfg.run_dir)
    codec = loaded.codec
    check_harmonizer(codec, shown(loaded.path))
    split = test_split(loaded, cfg.split)
    songs = split_songs(prepare(loaded.config.data, codec, log=lambda _: None), split)["test"]
    songs = songs[:cfg.num_songs] if cfg.num_songs else songs
    stepper = Stepper.for_codec(loaded.weights, codec)
    result = {"model": str(cfg.run_dir), "kind": loaded.kind,
              "command": command_line("evaluate-harmony", [cfg]),
              "split": str(cfg.split) if cfg.split else "the model's own",
              "sampling": {"temperature": cfg.temperature, "top_p": cfg.top_p, "seed": cfg.seed},
              **he.evaluate(stepper, codec, songs, cfg.temperature, cfg.top_p, cfg.seed)}
    result["seconds"] = round(time.perf_counter() - t0, 1)
    out = cfg.out or loaded.path / FILE
    he.write(out, result)
    print(he.report(result))
    listed = is_export(out.parent) and he.list_in_export(out.parent, out.name)
    print(f"wrote {shown(out)}" + (f" (added to {shown(out.parent / 'config.json')}'s files)"
                                   if listed else ""))
    return result
