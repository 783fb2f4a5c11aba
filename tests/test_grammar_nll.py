"""NLL under the Grammar (evaluate's ``grammar`` figures): each step restricted to the
tokens the Grammar allows there and renormalised, as sampling at T = 1 draws."""

from __future__ import annotations

import numpy as np
import pytest

from trainer.config import CodecConfig
from trainer.evaluation.likelihood import grammar_masks, song_predictions
from trainer.music.codec import Codec

V2 = Codec()
V1 = Codec(CodecConfig(vocab_version=1))


class Fixed:
    """A stand-in Stepper whose logits are drawn once per step from a seeded rng."""

    def __init__(self, size: int, scale: float, seed: int = 0):
        self.size, self.scale, self.seed = size, scale, seed

    def run(self, tokens):
        rng = np.random.default_rng(self.seed)
        return (self.scale * rng.standard_normal((len(tokens), self.size))).astype(np.float32)


def song(codec: Codec):
    raw = np.array([[0, 1, 72], [1, 2, 74], [2, 4, 76], [4, 5, 79], [5, 6, 77], [6, 8, 76],
                    [8, 12, 74]], float)
    notes, meta, _ = codec.quantise_song(raw, [(0, 4, 4)]) if codec.version >= 2 else \
        (codec.quantise_song(raw)[0], None, None)
    return codec.encode(notes, meta) if meta else codec.encode(notes)


@pytest.mark.parametrize("codec", [V2, V1], ids=["v2", "v1"])
def test_uniform_logits_cost_the_log_of_the_allowed_count(codec):
    ids = song(codec)
    nll, _ = song_predictions(Fixed(codec.size, 0.0), ids, codec)
    allowed = grammar_masks(codec, ids).sum(1)
    assert np.allclose(nll, np.log(allowed))
    raw, _ = song_predictions(Fixed(codec.size, 0.0), ids)
    assert np.allclose(raw, np.log(codec.size))


def test_the_grammar_never_costs_more_and_a_bar_at_its_line_only_competes_with_eos():
    ids = song(V2)
    model = Fixed(V2.size, 3.0, seed=4)
    raw, _ = song_predictions(model, ids)
    masked, _ = song_predictions(model, ids, V2)
    assert (masked <= raw + 1e-9).all() and masked.sum() < raw.sum()
    logits = model.run(ids[:-1]).astype(np.float64)
    bars = [i for i, t in enumerate(ids[1:]) if t == V2.bar_id][1:]  # after the first
    assert bars
    for i in bars:
        pair = logits[i, [V2.bar_id, V2.eos_id]]
        assert masked[i] == pytest.approx(np.log(np.exp(pair).sum()) - pair[0])


def test_a_song_that_breaks_the_grammar_is_refused():
    ids = song(V2)
    broken = np.insert(ids, 6, ids[5])  # NOTE DUR DUR: a DUR with no NOTE before it
    with pytest.raises(ValueError, match="breaks the grammar"):
        song_predictions(Fixed(V2.size, 1.0), broken, V2)
