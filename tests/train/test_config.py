"""Typed dataclass configs: YAML files, dotted overrides, errors that name the key."""
from __future__ import annotations

import pytest

from zeroskel.config import ConfigError, load_config, save_config, to_dict
from zeroskel.train.run_config import RunConfig


def test_defaults_yaml_overrides_round_trip(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("protocol: msr-f2\nencoder:\n  epochs: 3\nhead:\n  options: {logit_scale: 1.0}\n")
    cfg = load_config(RunConfig, f, ["encoder.lr=0.05", "seeds=[0,1,2]", "head.variant=paper",
                                     "encoder.milestones=[0.5]"])
    assert cfg.protocol == "msr-f2" and cfg.encoder.epochs == 3 and cfg.encoder.lr == 0.05
    assert cfg.seeds == [0, 1, 2] and cfg.head.variant == "paper"
    assert cfg.head.options == {"logit_scale": 1.0} and cfg.encoder.milestones == (0.5,)
    save_config(cfg, tmp_path / "saved.yaml")
    again = load_config(RunConfig, tmp_path / "saved.yaml")
    assert to_dict(again) == to_dict(cfg)


def test_unknown_key_and_bad_type_are_named(tmp_path):
    with pytest.raises(ConfigError, match="encoder.epoch"):
        load_config(RunConfig, None, ["encoder.epoch=3"])
    with pytest.raises(ConfigError, match="encoder.epochs"):
        load_config(RunConfig, None, ["encoder.epochs=many"])
    f = tmp_path / "bad.yaml"
    f.write_text("data:\n  rooot: x\n")
    with pytest.raises(ConfigError, match=r"bad.yaml.*data.rooot"):
        load_config(RunConfig, f)
    with pytest.raises(ConfigError, match="key=value"):
        load_config(RunConfig, None, ["encoder.epochs"])


def test_full_encoder_recipe_config():
    from pathlib import Path

    from zeroskel.data.transforms import Preprocessing
    from zeroskel.train.run_config import preprocessing

    path = Path(__file__).resolve().parents[2] / "configs" / "encoder_full.yaml"
    cfg = load_config(RunConfig, path)
    assert cfg.encoder.base_channels == 64 and cfg.encoder.epochs == 140 and cfg.encoder.optimizer == "sgd"
    assert cfg.encoder.schedule == "step" and len(cfg.encoder.milestones) == 3
    pre = preprocessing(cfg.data)
    assert isinstance(pre, Preprocessing) and pre.streams == ("joint", "motion") and pre.channels == 6
    # a bad preprocessing value is named when the run starts
    bad = load_config(RunConfig, None, ["data.origin=hips"])
    with pytest.raises(ValueError, match="origin"):
        preprocessing(bad.data)


def test_saved_run_config_keeps_its_meaning(tmp_path):
    from helpers import strip_config_keys
    from zeroskel.config import merge
    from zeroskel.train.run_config import BEFORE_KEY, load_run_config

    defaults = to_dict(RunConfig())
    for dotted, value in BEFORE_KEY.items():
        node = defaults
        for part in dotted.split("."):
            assert isinstance(node, dict) and part in node, f"BEFORE_KEY names no config key: {dotted}"
            node = node[part]
        assert node != value, f"{dotted}: today's default already does what it did before; no entry needed"

    # a file with every key of today reads back exactly, whatever BEFORE_KEY says
    cfg = merge(RunConfig(), {"encoder": {"epochs": 7}})
    save_config(cfg, tmp_path / "config.yaml")
    assert to_dict(load_run_config(tmp_path / "config.yaml")) == to_dict(cfg)

    # a file written before those keys existed: their former values, not today's defaults
    strip_config_keys(tmp_path / "config.yaml", BEFORE_KEY)
    old = load_run_config(tmp_path / "config.yaml")
    assert old.encoder.select == "holdout" and old.encoder.epochs == 7
    assert (old.data.origin, old.data.scale, old.data.streams) == ("first_center", "none", ["joint"])
    assert old.head.neuron_options == {} and old.eval.min_fraction == 0.0
    # a user's config file is not a saved run: missing keys are today's defaults there
    assert load_config(RunConfig, tmp_path / "config.yaml").encoder.select == "last"
