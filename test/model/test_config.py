"""Presets as data and config validation."""

from __future__ import annotations

import pytest

from vap_ros.errors import CheckpointError, ConfigError
from vap_ros.model import WorldModel, WorldModelConfig, available_presets, load_preset


def test_presets_listed_and_valid():
    assert {"tiny", "small", "cogvideox-2b", "cogvideox-5b-i2v"} <= set(available_presets())
    for name in available_presets():
        cfg = load_preset(name)
        assert cfg.preset == name
        assert WorldModelConfig.from_dict(cfg.to_dict()) == cfg


def test_latent_geometry_of_cogvideox_presets():
    cfg = load_preset("cogvideox-2b")
    assert (cfg.spatial_ratio, cfg.temporal_ratio, cfg.latent_frames) == (8, 4, 13)
    assert load_preset("tiny").latent_frames == load_preset("tiny").num_frames


@pytest.mark.parametrize("overrides, words", [
    ({"conditioning": "text"}, "conditioning"),
    ({"height": 30}, "multiples of 4"),
    ({"num_frames": 0}, "num_frames"),
    ({"controlnet_blocks": 3}, "controlnet_blocks"),
    ({"cond_dropout": 1.0}, "cond_dropout"),
    ({"colour": 1}, "unknown"),
])
def test_bad_config_is_named(overrides, words):
    with pytest.raises(ConfigError, match=words):
        load_preset("tiny", **overrides)


def test_latent_frames_must_fit_temporal_ratio():
    with pytest.raises(ConfigError, match="1 \\+ a multiple of 4"):
        load_preset("cogvideox-2b", num_frames=48)


def test_latent_frames_must_be_odd():
    with pytest.raises(ConfigError, match="1 \\+ 8k"):
        load_preset("cogvideox-2b", num_frames=45)


def test_unknown_preset():
    with pytest.raises(ConfigError, match="available"):
        WorldModel.from_preset("huge")


def test_base_preset_without_base_refuses():
    with pytest.raises(CheckpointError, match="base=/path"):
        WorldModel.from_preset("cogvideox-2b")
