"""The config tree: v2 defaults, checks, and config.json files written before v2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trainer import constants as C
from trainer.config import CodecConfig, RunConfig, TrainConfig
from trainer.errors import ConfigError


def test_defaults_are_codec_v2_with_bars_and_a_test_split():
    assert CodecConfig().vocab_version == C.VOCAB_VERSION == 2 and not CodecConfig().no_bars
    assert TrainConfig(run_dir=Path("r")).test_fraction == C.TEST_FRACTION > 0


def test_round_trip_through_json():
    cfg = RunConfig(codec=CodecConfig(vocab_version=2, no_bars=True, mono=True),
                    train=TrainConfig(run_dir=Path("r"), test_fraction=0.15))
    assert RunConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    v1 = RunConfig(codec=CodecConfig(vocab_version=1))
    assert RunConfig.from_dict(json.loads(json.dumps(v1.to_dict()))) == v1


def test_a_config_from_before_v2_is_read_as_v1_without_a_test_split():
    d = RunConfig(train=TrainConfig(run_dir=Path("old"))).to_dict()
    del d["codec"]["vocab_version"], d["codec"]["no_bars"], d["train"]["test_fraction"]
    old = RunConfig.from_dict(d)
    assert old.codec.vocab_version == 1 and not old.codec.no_bars
    assert old.train.test_fraction == 0.0


@pytest.mark.parametrize("kwargs, flag", [({"vocab_version": 3}, "--vocab-version"),
                                          ({"vocab_version": 1, "no_bars": True}, "--no-bars")])
def test_bad_codec_settings_name_their_flag(kwargs, flag):
    with pytest.raises(ConfigError, match=flag):
        CodecConfig(**kwargs)


@pytest.mark.parametrize("test_fraction", [-0.1, 0.9])
def test_the_test_fraction_leaves_room_for_validation_and_training(test_fraction):
    with pytest.raises(ConfigError, match="--test-fraction"):
        TrainConfig(run_dir=Path("r"), val_fraction=0.1, test_fraction=test_fraction)
