"""Bags recorded as franka_ros2 + realsense2_camera record them (an FR3: fr3_* joint names,
base fr3_link0, the gripper on its own topic, /camera/camera/color/...) build clips with the
``franka_ros2`` rig preset; the same bag read onto the Panda model through a joint-name map
gives the same clips (the kinematics are equal)."""

from __future__ import annotations

import numpy as np
import pytest

from vap_ros.data import ClipDataset, build_dataset, load_rig_config
from vap_ros.errors import ConfigError
from vap_ros.prompts import SkeletonRenderer
from vap_ros.testing.bags import SyntheticRig, default_cameras, write_synthetic_bag

SIZE = (72, 96)


def _clip_overrides():
    return {"clip": {"frames": 6, "fps": 10, "stride": 6, "size": None}, "shard_clips": 4}


@pytest.fixture(scope="module", params=["merged", "separate_gripper"])
def fr3_bag(request, tmp_path_factory):
    """merged: /joint_states with arm + fingers (joint_state_publisher), the newer realsense
    layout; separate_gripper: the arm alone on /franka/joint_states, the fingers on
    /franka_gripper/joint_states, the older realsense layout."""
    path = tmp_path_factory.mktemp("franka_ros2") / request.param
    rig = SyntheticRig(default_cameras(SIZE, ("camera",), base_frame="fr3_link0"),
                       duration_s=2.0, camera_hz=15.0, joint_hz=100.0)
    if request.param == "merged":
        kw = dict(image_topic="/{camera}/camera/color/image_raw",
                  info_topic="/{camera}/camera/color/camera_info")
    else:
        kw = dict(joint_topic="/franka/joint_states", gripper_topic="/franka_gripper/joint_states",
                  image_topic="/{camera}/color/image_raw",
                  info_topic="/{camera}/color/camera_info")
    write_synthetic_bag(path, rig, robot="fr3", plan=False, **kw)
    return request.param, path, rig


def test_franka_ros2_bag_builds_fr3_clips(fr3_bag, tmp_path):
    kind, bag, rig = fr3_bag
    cfg = load_rig_config("franka_ros2", **_clip_overrides())
    manifest = build_dataset([bag], tmp_path / "clips", cfg, progress=False)
    report = manifest["report"]["bags"][0]
    assert report["ok"], report["error"]
    assert manifest["robot"]["preset"] == "fr3"
    assert manifest["robot"]["arm_joints"][0] == "fr3_joint1"
    assert manifest["robot"]["base_frame"] == "fr3_link0"
    expected = {"merged": ("/joint_states", "/camera/camera/color/image_raw"),
                "separate_gripper": ("/franka/joint_states", "/camera/color/image_raw")}[kind]
    assert (report["joint_states"]["topic"], report["cameras"]["camera"]["topic"]) == expected
    assert manifest["report"]["totals"]["clips_written"] >= 2
    ds = ClipDataset(tmp_path / "clips", source="logged")
    renderer = SkeletonRenderer.from_preset("fr3")
    cam = rig.cameras[0]
    for i in range(len(ds)):
        raw = ds.raw(i)
        stamps = raw["stamps_ns"][0]
        q, w = rig.logged(stamps)
        np.testing.assert_allclose(raw["actions_logged"][:, :7], q, atol=1e-4)
        # the width comes from the fingers: on /joint_states, or from the gripper topic
        np.testing.assert_allclose(raw["actions_logged"][:, 7], w, atol=2e-4)
        uv = cam.project(renderer.keypoints(q, w)).uv
        assert np.abs(raw["keypoints_uv_logged"][0] - uv).max() < 0.5


def test_fr3_bag_onto_the_panda_model_through_a_name_map(fr3_bag, tmp_path):
    _, bag, _ = fr3_bag
    fr3 = load_rig_config("franka_ros2", **_clip_overrides())
    panda = fr3.replace(robot="panda", base_frame="fr3_link0",  # the TF still says fr3_link0
                        **{"joint_states.name_map": {"fr3_*": "panda_*"}})
    a = build_dataset([bag], tmp_path / "fr3", fr3, progress=False)
    b = build_dataset([bag], tmp_path / "panda", panda, progress=False)
    assert b["report"]["bags"][0]["ok"], b["report"]["bags"][0]["error"]
    assert b["robot"]["arm_joints"][0] == "panda_joint1"
    assert a["report"]["totals"]["clips_written"] == b["report"]["totals"]["clips_written"]
    ra = ClipDataset(tmp_path / "fr3", source="logged").raw(0)
    rb = ClipDataset(tmp_path / "panda", source="logged").raw(0)
    np.testing.assert_array_equal(ra["actions_logged"], rb["actions_logged"])
    np.testing.assert_allclose(ra["keypoints_uv_logged"], rb["keypoints_uv_logged"], atol=1e-6)
    np.testing.assert_array_equal(ra["prompts_logged"], rb["prompts_logged"])


def test_without_the_name_map_the_bag_fails_with_the_remedy(fr3_bag, tmp_path):
    _, bag, _ = fr3_bag
    panda = load_rig_config("franka_ros2", robot="panda", **_clip_overrides())
    panda = panda.replace(**{"joint_states.extra_joints": "error"})
    m = build_dataset([bag], tmp_path / "x", panda, progress=False)
    err = m["report"]["bags"][0]["error"]
    assert "JointStateError" in err and "unknown joint names ['fr3_joint1'" in err
    assert "'fr3*:=panda*'" in err


def test_bad_name_map_in_a_rig_config_fails_before_any_bag():
    with pytest.raises(ConfigError, match=r"joint_states.name_map='fr3_\*:=panda': expected"):
        load_rig_config("franka_ros2", **{"joint_states": {"name_map": {"fr3_*": "panda"}}})
