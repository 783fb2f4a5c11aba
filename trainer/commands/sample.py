"""``python -m trainer sample``: compose songs with a trained model, write .mid files.

``--run-dir`` is a training run or an exported model folder. Song ``i`` uses
seed ``seed + i``, so a seed names a song (:func:`trainer.compose.songs.sample`).
"""

from trainer.compose.songs import sample
from trainer.config import SampleConfig, SamplingConfig


def command(given: dict) -> int:
    sample(SampleConfig(**given[SampleConfig]), SamplingConfig(**given[SamplingConfig]))
    return 0
