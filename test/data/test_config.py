"""Rig configs are strict: the silently accepted values of issue 11's audit (finding 3) are
refused with one line naming the key, the value and what was expected."""

from __future__ import annotations

import dataclasses

import pytest

from vap_ros.cli import main
from vap_ros.data import load_rig_config
from vap_ros.data.config import ClipConfig, RigConfig
from vap_ros.errors import ConfigError

BAD_RIG_FILES = [
    ("clip: {frames: true}\n", "clip.frames=True: expected an integer"),
    ("clip: {fps: .nan}\n", "clip.fps=nan: expected a finite number"),
    ("clip: {frmaes: 16}\n", "clip.frmaes=16: unknown key"),
    ("clip: {size: [64, 64.5]}\n", "clip.size[1]=64.5: expected an integer"),
    ("sync: {max_joint_gap_ms: .inf}\n", "sync.max_joint_gap_ms=inf"),
    ("store_both_prompts: 1\n", "store_both_prompts=1: expected true or false"),
    ("joint_states: {extra_joints: warn}\n", "joint_states.extra_joints='warn'"),
    ("cameras: [{image_topic: /a/image_raw, frame: x}]\n", "cameras[0].frame='x': unknown key"),
    ("shard_clips: 0\n", "shard_clips=0: expected an integer >= 1"),
    ("# all defaults?\n", "is empty"),
]


@pytest.mark.parametrize("text, words", BAD_RIG_FILES)
def test_bad_rig_files_are_refused_naming_key_value_and_expectation(tmp_path, text, words):
    path = tmp_path / "rig.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="^" + str(path)) as info:
        load_rig_config(path)
    assert words in str(info.value)


@pytest.mark.parametrize("text, words", BAD_RIG_FILES[:3])
def test_dataset_build_with_a_bad_rig_file_is_one_line(tmp_path, capsys, good_bag, text,
                                                       words):
    path = tmp_path / "rig.yaml"
    path.write_text(text)
    out = tmp_path / "cache"
    rc = main(["dataset", "build", str(good_bag[0]), "--out", str(out), "--config", str(path),
               "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and words in err
    assert not out.exists()


def test_no_path_skips_validation():
    """Overrides, dataclasses.replace and the constructor check like a file does."""
    with pytest.raises(ConfigError, match="shard_clips=True"):
        load_rig_config("sim", shard_clips=True)
    with pytest.raises(ConfigError, match="prompt_source='dreamed'"):
        load_rig_config("sim", prompt_source="dreamed")
    with pytest.raises(ConfigError, match="shard_clip=1: unknown key"):
        load_rig_config("sim", shard_clip=1)
    sim = load_rig_config("sim")
    with pytest.raises(ConfigError, match="frames=True"):
        dataclasses.replace(sim, clip=dataclasses.replace(sim.clip, frames=True))
    with pytest.raises(ConfigError, match="fps=nan"):
        ClipConfig(fps=float("nan"))
    with pytest.raises(ConfigError, match=r"clip\.fps=0\.0"):
        sim.replace(**{"clip.fps": 0})
    assert load_rig_config("sim", prompt_source="logged").prompt_source == "logged"


def test_presets_round_trip_and_single_topics_are_lists():
    for name in ("sim", "franka_lab"):
        cfg = load_rig_config(name)
        assert RigConfig.from_dict(cfg.to_dict()) == cfg
    cfg = load_rig_config({"plan_topic": "/plan", "cameras": "auto",
                           "joint_states": {"gripper_topic": None, "name_map": None}})
    assert cfg.plan_topic == ("/plan",) and cfg.cameras is None
    assert cfg.joint_states.gripper_topic == () and cfg.joint_states.name_map == {}
    assert cfg.to_dict()["cameras"] == "auto"
