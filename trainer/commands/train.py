"""``python -m trainer train``: corpus -> split -> windows -> LSTM, resumable.

The run folder is locked before its settings are resolved (a fresh run's flags,
a resumed run's config.json, or a refit's source run), and the backend is set
up for the devices asked for; :func:`trainer.nn.train.train` does the rest.
"""

from trainer.config import TrainConfig
from trainer.nn import backend
from trainer.nn.runs import RunDir, resolve_train_config
from trainer.nn.train import train


def command(given: dict) -> int:
    with RunDir(given[TrainConfig]["run_dir"]).lock():
        cfg = resolve_train_config(given)
        backend.configure(cfg.train.devices)
        train(cfg)
    return 0
