"""``python -m trainer calibrate``: fit the softmax temperature on the validation songs.

See :mod:`trainer.evaluation.calibration` for what it fits and where it writes.
"""

from trainer.config import CalibrateConfig
from trainer.evaluation.calibration import calibrate, report
from trainer.nn.runs import RunDir


def command(given: dict) -> int:
    cfg = CalibrateConfig(**given[CalibrateConfig])
    run = RunDir(cfg.run_dir)
    with run.lock():
        record = calibrate(run, cfg.lowest, cfg.highest)
    print(report(record))
    return 0
