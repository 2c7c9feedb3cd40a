"""Presets as data and config validation."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

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


SHIPPED = Path(__file__).resolve().parents[2] / "models" / "vap_small_sim"


def test_shipped_checkpoint_config_loads():
    cfg = WorldModelConfig.from_dict(json.loads((SHIPPED / "vap_config.json").read_text()))
    assert cfg.preset == "small" and cfg.fps == 5.0 and type(cfg.fps) is float
    assert WorldModelConfig.from_dict(cfg.to_dict()) == cfg


def test_prompt_type_round_trips_and_defaults_to_skeleton():
    saved = json.loads((SHIPPED / "vap_config.json").read_text())
    assert "prompt_type" not in saved  # saved before prompt types: skeleton prompts
    assert WorldModelConfig.from_dict(saved).prompt_type == "skeleton"
    cfg = load_preset("tiny", prompt_type="skeleton+depth")
    assert WorldModelConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert cfg.replace(lora_rank=2).prompt_type == "skeleton+depth"


@pytest.mark.parametrize("change, words", [
    ({"height": "abc"}, "height='abc': expected an integer"),
    ({"lora_rank": "4"}, "lora_rank='4': expected an integer"),
    ({"transformer": None}, "transformer=None: expected a mapping"),
    ({"fps": float("nan")}, "fps=nan: expected a finite number"),
    ({"residual": 1}, "residual=1: expected true or false"),
    ({"transformer": {"patch_size": "8"}}, "transformer.patch_size='8'"),
    ({"colour": 1}, "colour=1: unknown key"),
])
def test_bad_vap_config_json_is_one_clear_line(tmp_path, capsys, change, words):
    data = {**json.loads((SHIPPED / "vap_config.json").read_text()), **change}
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "vap_config.json").write_text(json.dumps(data))
    (ckpt / "model_card.json").write_text("{}")
    with pytest.raises(ConfigError, match=re.escape(words)) as info:
        WorldModel.from_pretrained(ckpt)
    assert info.value.source == str(ckpt / "vap_config.json")
    from vap_ros.cli import main

    rc = main(["eval", "--checkpoint", str(ckpt), "--data", str(tmp_path / "none"), "--out",
               str(tmp_path / "eval")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1


def test_replace_and_dataclasses_replace_validate():
    cfg = load_preset("tiny")
    with pytest.raises(ConfigError, match="lora_rank=True"):
        cfg.replace(lora_rank=True)
    with pytest.raises(ConfigError, match="lora_rank=-1"):
        dataclasses.replace(cfg, lora_rank=-1)
    assert cfg.replace(transformer={"num_layers": 2}).transformer["num_layers"] == 2
    assert cfg.replace(transformer={"num_layers": 2}).patch_size == cfg.patch_size  # merged
