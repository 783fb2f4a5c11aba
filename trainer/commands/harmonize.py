"""``python -m trainer harmonize``: a melody stays the top voice; the model writes beneath it.

``--run-dir`` is a polyphonic v2 training run or exported model folder. The
melody is the top line of ``--melody-file`` (or of its ``--track``).
Harmonization ``i`` uses seed ``seed + i`` and is written to
``harmony-<seed>.mid`` (:func:`trainer.compose.songs.harmonize`). To continue a
melody instead: ``sample --prime-file``.
"""

from trainer.compose.songs import harmonize
from trainer.config import HarmonizeConfig, SamplingConfig


def command(given: dict) -> int:
    harmonize(HarmonizeConfig(**given[HarmonizeConfig]), SamplingConfig(**given[SamplingConfig]))
    return 0
