"""``python -m trainer evaluate``: how good is a model, honestly, on its test songs?

See :mod:`trainer.evaluation.evaluate` for every figure and check. A run
folder is locked while its evaluation.json is written; an export is read only.
"""

from trainer.config import EvalConfig
from trainer.evaluation.evaluate import evaluate
from trainer.nn.loading import is_export
from trainer.nn.runs import RunDir, run_locked


def command(given: dict) -> int:
    cfg = EvalConfig(**given[EvalConfig])
    RunDir(cfg.run_dir).check_folder()
    run_locked(cfg.run_dir, lambda: evaluate(cfg), lock=not is_export(cfg.run_dir))
    return 0
