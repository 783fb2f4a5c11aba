"""``python -m trainer evaluate-harmony``: harmonize each test song's top line, beside the song.

``--run-dir`` is a polyphonic v2 training run or export folder with a test
split (or ``--split``). Writes ``harmony.json`` (``--out``; by default into
the model folder: a run's, or an export's, which then lists it among its
files so the model card shows it) and prints the table. See
:mod:`trainer.evaluation.harmonizing` for what is measured.
"""

from trainer.config import HarmonyEvalConfig
from trainer.evaluation.harmonizing import evaluate_harmony
from trainer.nn.loading import is_export
from trainer.nn.runs import RunDir, run_locked


def command(given: dict) -> int:
    cfg = HarmonyEvalConfig(**given[HarmonyEvalConfig])
    RunDir(cfg.run_dir).check_folder()
    run_locked(cfg.run_dir, lambda: evaluate_harmony(cfg),
               lock=cfg.out is None and not is_export(cfg.run_dir))
    return 0
