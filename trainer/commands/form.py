"""``python -m trainer form``: fit a run's form head (which bars come back).

See :mod:`trainer.evaluation.form_fit` for what it fits and where it writes.
"""

from trainer.config import FormConfig
from trainer.evaluation.form_fit import fit
from trainer.nn.runs import RunDir


def command(given: dict) -> int:
    cfg = FormConfig(**given[FormConfig])
    run = RunDir(cfg.run_dir)
    with run.lock():
        fit(run.path, cfg.songs)
    return 0
