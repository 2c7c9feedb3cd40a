"""Training configs: presets load, every bad value fails up front with its key named."""

from __future__ import annotations

import pytest

from vap_ros.errors import ConfigError
from vap_ros.train.config import TrainConfig, available_train_presets, load_train_config


def test_presets_load_and_round_trip():
    assert {"tiny", "small", "small_prior", "small_control"} <= set(available_train_presets())
    for name in available_train_presets():
        cfg = load_train_config(name)
        assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    assert load_train_config("small_prior").model.stage == "prior"


@pytest.mark.parametrize("data, match", [
    ({"stepz": 3}, r"stepz=3: unknown key"),
    ({"optim": {"learning_rate": 1}}, r"optim.learning_rate=1: unknown key"),
    ({"steps": 0}, "steps=0"),
    ({"mixed_precision": "fp8"}, "mixed_precision='fp8'"),
    ({"optim": {"lr": -1}}, r"optim.lr=-1"),
    ({"optim": {"scheduler": "warmup"}}, "optim.scheduler='warmup'"),
    ({"loss": {"interaction_factor": 0.5}}, "loss.interaction_factor=0.5"),
    ({"loss": {"interaction_keypoints": "hand"}}, "loss.interaction_keypoints='hand'"),
    ({"loss": {"motion_factor": 0.5}}, "loss.motion_factor=0.5"),
    ({"loss": {"motion_threshold": 1.5}}, "motion_threshold=1.5"),
    ({"model": {"stage": "control"}}, "set model.pretrained"),
    ({"model": {"stage": "prior", "overrides": {"conditioning": "skeleton"}}},
     "contradicts"),
    ({"checkpoint": {"every": 0}}, "checkpoint.every=0"),
    ({"model": "tiny"}, "model='tiny': expected a mapping"),
    ({"augment": {"cond_noise": -0.1}}, r"augment.cond_noise=-0.1"),
    ({"augment": {"cond_blur": 9}}, r"augment.cond_blur=9"),
    ({"augment": {"cond_prob": 0}}, r"augment.cond_prob=0"),
    ({"augment": {"cond_noise": 0.1, "cond_noise_infer": 0.2}},
     r"augment.cond_noise_infer=0.2.*\[0, cond_noise=0.1\]"),
    ({"augment": {"cond_noise_infer": 0.05}}, r"augment.cond_noise_infer=0.05"),
    ({"augment": {"noise": 0.1}}, r"augment.noise=0.1: unknown key"),
])
def test_bad_values_fail_up_front(data, match):
    with pytest.raises(ConfigError, match=match):
        TrainConfig.from_dict(data)


def test_load_errors(tmp_path):
    with pytest.raises(ConfigError, match="unknown training preset 'huge'"):
        load_train_config("huge")
    with pytest.raises(ConfigError, match="does not exist"):
        load_train_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps: [1, 2\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_train_config(bad)
    good = tmp_path / "good.yaml"
    good.write_text("steps: 7\noptim: {lr: 0.001}\n")
    cfg = load_train_config(good, **{"optim.lr": 0.01})
    assert cfg.steps == 7 and cfg.optim.lr == 0.01 and cfg.model.preset == "tiny"


def test_resume_differences():
    a = load_train_config("tiny")
    b = a.replace(steps=999, **{"checkpoint.every": 7, "log.every": 3, "optim.lr": 1e-2,
                                "seed": 5})
    assert b.resume_differences(a) == ["optim.lr: 0.0003 -> 0.01", "seed: 0 -> 5"]


def test_augment_section():
    off = load_train_config("tiny").augment
    assert not off.active and off.inference_noise == 0.0
    on = load_train_config("tiny", **{"augment.cond_noise": 0.2}).augment
    assert on.active and on.inference_noise == 0.1
    assert on.replace(cond_noise_infer=0.05).inference_noise == 0.05
    blur = load_train_config("tiny", **{"augment.cond_blur": 1.0}).augment
    assert blur.active and blur.inference_noise == 0.0
