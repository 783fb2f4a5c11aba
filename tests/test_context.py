"""Issue 26: the Context (trainer/music/context.py) gives the network what the history
already determines, the same in training windows, in the Keras model's inputs and in
the numpy Stepper (web/src/mirror/context.js: tests/vectors/context.json)."""

from __future__ import annotations

import numpy as np
import pytest

from trainer.config import CodecConfig, ModelConfig
from trainer.music.codec import Codec, Meta
from trainer.music.context import PITCHES, Context, song_features, transpose, unpack

CODEC = Codec(CodecConfig())
SHIFT, DURS = CODEC.config.max_shift, CODEC.config.max_duration
# two bars of 4/4 (16 steps), the second repeating the first; a held bass under both
NOTES = np.array([[0, 4, 60], [0, 32, 48], [4, 4, 64], [16, 4, 60], [20, 4, 64]])
SONG = CODEC.encode(NOTES, Meta((0, "major"), (4, 4), ((0, (4, 4)), (16, (4, 4)))))


def on_after(context: Context, tokens, names: str) -> list[int]:
    """The features on after ``tokens`` and then ``names`` (token names)."""
    context.reset()
    for t in [*tokens, *(CODEC.tokens.index(n) for n in names.split())]:
        context.advance(t)
    return context.active().tolist()


def test_what_sounds_is_held_notes_and_those_placed_now():
    context = Context(CODEC, sounding=True, lookback=())
    head = [CODEC.bos_id, CODEC.key_id((0, "major")), CODEC.meter_id((4, 4)), CODEC.bar_id]
    assert on_after(context, head, "NOTE_60") == []  # a NOTE awaiting its DUR is not in
    assert on_after(context, head, "NOTE_60 DUR_4 NOTE_48 DUR_32") == [48 - 21, 60 - 21]
    assert on_after(context, head, "NOTE_60 DUR_4 NOTE_48 DUR_32 SHIFT_4") == [48 - 21]


def test_lookback_gives_what_started_a_bar_ago_its_next_gap_and_the_pending_duration():
    context = Context(CODEC, sounding=False, lookback=(1,))
    at_bar_2 = list(SONG[:list(SONG).index(CODEC.token_id("SHIFT", 12)) + 2])  # SHIFT_12, BAR
    assert CODEC.describe(at_bar_2[-1]) == "BAR"
    started = [48 - 21, 60 - 21]
    gap = PITCHES + 4 - 1  # the next onset came 4 steps later
    assert on_after(context, at_bar_2, "") == started + [gap]
    duration = PITCHES + SHIFT + 4 - 1  # C4 lasted 4 steps there
    assert on_after(context, at_bar_2, "NOTE_60") == started + [gap, duration]
    assert on_after(context, at_bar_2, "NOTE_62") == started + [gap]  # D4 did not start there
    assert on_after(Context(CODEC, sounding=False, lookback=(2,)), at_bar_2, "") == []


def test_the_repeat_flag_is_on_while_the_song_repeats_a_bar_ago_note_for_note():
    context = Context(CODEC, sounding=False, lookback=(1,), repeating=True)
    flag = context.size - 1
    assert context.size == PITCHES + SHIFT + DURS + 1
    at_bar_2 = list(SONG[:list(SONG).index(CODEC.token_id("SHIFT", 12)) + 2])  # SHIFT_12, BAR
    assert flag not in on_after(context, at_bar_2, "NOTE_60 DUR_4")  # no onset left behind yet
    # bar 2's first onset (C4) repeated bar 1's but for the held bass: not the same notes
    assert flag not in on_after(context, at_bar_2, "NOTE_60 DUR_4 SHIFT_4")
    same = "NOTE_60 DUR_4 NOTE_48 DUR_32 SHIFT_4"  # bar 1's first onset whole
    assert flag in on_after(context, at_bar_2, same)
    assert flag in on_after(context, at_bar_2, same + " NOTE_64 DUR_4")  # E4 as a bar ago
    assert flag not in on_after(context, at_bar_2, same + " NOTE_65 DUR_4")  # F4: it was E4
    assert flag not in on_after(context, at_bar_2, same + " NOTE_64 DUR_8")  # longer
    assert flag not in on_after(context, at_bar_2, same + " SHIFT_8")  # E4's onset skipped
    assert flag not in on_after(Context(CODEC, sounding=False, lookback=(1,)), at_bar_2, same)


def test_no_lookback_without_a_bar_length():
    context = Context(CODEC, sounding=False, lookback=(1,))
    other = CODEC.encode(NOTES, Meta((0, "major"), "other", ((0, "other"), (16, "other"))))
    context.reset()
    for t in other:
        context.advance(t)
        assert context.active().size == 0


def test_transposed_features_are_those_of_the_transposed_song():
    context = Context(CODEC)
    rows = unpack(song_features(context, SONG), context.size)
    for shift in (-5, 3):
        moved = unpack(song_features(context, CODEC.transpose(SONG, shift)), context.size)
        assert np.array_equal(transpose(rows, shift, context), moved)


def test_windows_carry_the_features_of_their_positions():
    from trainer.nn.dataset import Windows

    context = Context(CODEC)
    windows = Windows([SONG] * 3, CODEC, window=8, batch_size=2, shuffle=False,
                      context=context)
    (x, keys, features), y, w = windows[0]
    assert features.shape == (2, 8, context.size)
    expected = unpack(song_features(context, SONG), context.size)
    assert np.array_equal(features[0], expected[:8])
    assert np.array_equal(features[1], expected[8:16])  # the next window of the same song


@pytest.mark.parametrize("sounding, lookback, repeating", [
    (True, True, False), (True, False, False), (False, True, False), (True, True, True)])
def test_the_numpy_stepper_reproduces_the_keras_model(sounding, lookback, repeating):
    from trainer.compose.stepper import Stepper
    from trainer.nn.model import (build_model, inference_network, inference_weights,
                                  model_inputs)

    cfg = ModelConfig(rnn_size=16, num_layers=2, embedding_size=8, sounding_input=sounding,
                      lookback_input=lookback, repeat_input=repeating)
    model = build_model(CODEC, cfg)
    rng = np.random.default_rng(0)
    for weight in model.weights:
        if weight.path.startswith("context/"):
            weight.assign(rng.normal(0, 0.5, weight.shape))  # features that matter
    network = inference_network(model, CODEC, cfg)
    assert network["context_rows"] == Context(CODEC, sounding, (1, 2, 4, 8) if lookback
                                              else (), repeating).size
    assert network.get("repeating", False) == repeating
    stepper = Stepper(inference_weights(model, network), network, CODEC)
    keras_logits = np.asarray(model.predict_on_batch(model_inputs(CODEC, cfg, [SONG])))[0]
    assert np.allclose(stepper.run(SONG), keras_logits, atol=1e-5)
