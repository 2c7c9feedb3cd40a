"""Bags → clip cache → Dataset, checked against the synthetic rig's exact ground truth."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from vap_ros.data import ClipDataset, build_dataset, collate_clips, read_manifest
from vap_ros.errors import ConfigError
from vap_ros.robot import RobotModel

from .conftest import SIZE, native_config


@pytest.fixture(scope="module")
def cache(good_bag, tmp_path_factory):
    bag, rig = good_bag
    out = tmp_path_factory.mktemp("cache")
    manifest = build_dataset([bag], out, native_config(), progress=False)
    return out, manifest, rig


def test_round_trip_frames_bit_exact_and_keypoints_match_ground_truth(cache):
    out, manifest, rig = cache
    assert manifest["report"]["totals"]["clips_written"] >= 3
    ds = ClipDataset(out, source="logged")
    cams = {c.name: c for c in rig.cameras}
    for i in range(len(ds)):
        raw = ds.raw(i)
        names = raw["meta"]["cameras"]
        assert names == ["front", "left"]
        for v, name in enumerate(names):
            for t, idx in enumerate(raw["image_index"][v]):
                # raw rgb8 and png CompressedImage frames both come back bit for bit
                np.testing.assert_array_equal(raw["video"][v, t], rig.images[name][idx])
                assert raw["stamps_ns"][v, t] == rig.image_stamps_ns[name][idx]
            q, w = rig.logged(raw["stamps_ns"][v])
            from vap_ros.prompts import SkeletonRenderer

            kps = SkeletonRenderer.from_preset("panda").keypoints(q, w)
            uv_true = cams[name].project(kps).uv
            err = np.abs(raw["keypoints_uv_logged"][v] - uv_true).max()
            assert err < 0.5, f"{name}: keypoints off by {err:.3f} px"
            np.testing.assert_allclose(raw["camera_K"][v], cams[name].K, atol=1e-4)
            np.testing.assert_allclose(raw["camera_T_cam_base"][v], cams[name].T_cam_base,
                                       atol=1e-5)


def test_commanded_and_logged_variants_differ_and_match_their_sources(cache):
    out, _, rig = cache
    robot = RobotModel.from_preset("panda")
    ds_l = ClipDataset(out, source="logged")
    ds_c = ClipDataset(out, source="commanded")
    assert len(ds_c) == len(ds_l) > 0  # the plan covers the whole synthetic bag
    raw = ds_l.raw(1)
    stamps = raw["stamps_ns"][0]
    q_l, w_l = rig.logged(stamps)
    q_c, _ = rig.commanded(stamps)
    np.testing.assert_allclose(raw["actions_logged"][:, :7], q_l, atol=1e-4)
    np.testing.assert_allclose(raw["actions_logged"][:, 7], w_l, atol=1e-5)
    np.testing.assert_allclose(raw["actions_commanded"][:, :7], q_c, atol=2e-3)  # 10 Hz plan
    assert np.abs(q_l - q_c).max() > 5e-3  # the 30 ms tracking lag is visible
    assert not np.array_equal(raw["prompts_logged"], raw["prompts_commanded"])
    np.testing.assert_allclose(raw["ee_poses_logged"], robot.tcp_poses(q_l, w_l), atol=1e-5)


def test_dataset_items_and_collate_follow_the_contract(cache):
    out, manifest, _ = cache
    ds = ClipDataset(out)  # default source from the config: commanded
    assert ds.source == "commanded"
    item = ds[0]
    V, F, (H, W) = 2, 8, SIZE
    assert item["video"].shape == (V, 3, F, H, W) and item["video"].dtype == torch.float32
    assert item["prompts"].shape == (V, 3, F, H, W)
    assert -1.0 <= float(item["video"].min()) and float(item["video"].max()) <= 1.0
    assert item["actions"].shape == (F, 8)
    assert item["keypoints_uv"].shape == (V, F, 16, 2)
    assert item["ee_poses"].shape == (F, 4, 4)
    assert item["camera_K"].shape == (V, 3, 3) and item["camera_T_cam_base"].shape == (V, 4, 4)
    assert item["meta"]["cameras"] == ["front", "left"]
    # video tensor is the uint8 frame mapped to [-1, 1], channels first
    raw = ds.raw(0)
    back = ((item["video"].permute(0, 2, 3, 4, 1) + 1) * 127.5).round().byte().numpy()
    np.testing.assert_array_equal(back, raw["video"])
    batch = collate_clips([ds[0], ds[1]])
    assert batch["video"].shape == (2, V, 3, F, H, W)
    assert batch["actions"].shape == (2, F, 8) and len(batch["meta"]) == 2
    loader = torch.utils.data.DataLoader(ds, batch_size=2, collate_fn=collate_clips)
    assert next(iter(loader))["prompts"].shape == (2, V, 3, F, H, W)
    assert manifest["skeleton"]["gripper_keypoints"]  # for the gripper-region loss mask


def test_report_accounts_for_every_reference_image(cache):
    _, manifest, _ = cache
    (bag,) = manifest["report"]["bags"]
    f = bag["frames"]
    assert f["used"] + f["subsampled_to_fps"] + sum(f["skipped"].values()) == f["total"]
    cams = bag["cameras"]
    assert cams["left"]["type"] == "CompressedImage"
    assert cams["left"]["camera_gap_ms"]["max"] == pytest.approx(4.0, abs=0.01)
    assert cams["front"]["joint_gap_ms"]["max"] <= 10.0
    assert bag["plans"]["count"] >= 2
    json.dumps(manifest)  # plain JSON


def test_resized_clips_and_shards(good_bag, tmp_path):
    bag, _ = good_bag
    cfg = native_config(prompt_source="logged", store_both_prompts=False)
    cfg["clip"] = {"frames": 4, "fps": 5, "stride": 4, "size": [64, 80]}
    m = build_dataset([bag], tmp_path, cfg, progress=False)
    ds = ClipDataset(tmp_path)
    assert len(ds) == m["report"]["totals"]["clips_written"] > 0
    item = ds[0]
    assert item["video"].shape == (2, 3, 4, 64, 80)
    uv = item["keypoints_uv"]
    assert float(uv[..., 0].max()) < 80 and float(uv[..., 1].max()) < 64
    shards = read_manifest(tmp_path)["clips"]
    assert {c["shard"] for c in shards}  # npy files load without pickle
    arr = np.load(tmp_path / "shards" / shards[0]["shard"] / "video.npy", mmap_mode="r",
                  allow_pickle=False)
    assert arr.shape[1:] == (2, 4, 64, 80, 3)
    with pytest.raises(ConfigError, match="already holds a clip cache"):
        build_dataset([bag], tmp_path, cfg, progress=False)


@pytest.mark.parametrize("topic", ["/franka_gripper/joint_states", "/joint_states"])
def test_gripper_width_from_separate_gripper_states(tmp_path, topic):
    from vap_ros.testing.bags import write_synthetic_bag

    from .conftest import small_rig

    bag = tmp_path / "split"
    rig = write_synthetic_bag(bag, small_rig(duration_s=1.5), gripper_topic=topic)
    cfg = native_config(prompt_source="logged")
    cfg["joint_states"]["gripper_topic"] = ["/franka_gripper/joint_states"]
    m = build_dataset([bag], tmp_path / "out", cfg, progress=False)
    rep = m["report"]["bags"][0]
    assert rep["ok"] and not rep["warnings"] and not rep["messages_skipped"], rep
    raw = ClipDataset(tmp_path / "out").raw(0)
    _, w = rig.logged(raw["stamps_ns"][0])
    np.testing.assert_allclose(raw["actions_logged"][:, 7], w, atol=1e-4)


def test_franka_lab_preset_on_realsense_topic_names(tmp_path):
    """/camera/color/image_raw/compressed + /camera/color/camera_info, arm-only /joint_states
    and /franka_gripper/joint_states: what the franka_lab preset expects."""
    from vap_ros.data import load_rig_config
    from vap_ros.testing.bags import SyntheticRig, default_cameras, write_synthetic_bag

    (cam,) = default_cameras((96, 128), ("front",))
    from dataclasses import replace

    cam = replace(cam, name="camera/color", frame_id="camera_color_optical_frame")
    bag = tmp_path / "lab"
    write_synthetic_bag(bag, SyntheticRig([cam], duration_s=2.0, camera_hz=30.0),
                        compressed=("camera/color",), plan=False,
                        gripper_topic="/franka_gripper/joint_states")
    cfg = load_rig_config("franka_lab").to_dict()
    cfg["clip"].update(frames=4, stride=4)
    m = build_dataset([bag], tmp_path / "out", cfg, progress=False)
    rep = m["report"]["bags"][0]
    assert rep["ok"], rep["error"]
    assert rep["cameras"]["camera"]["topic"] == "/camera/color/image_raw/compressed"
    assert rep["plans"]["count"] == 0 and rep["clips_written"] >= 3
    item = ClipDataset(tmp_path / "out")[0]  # franka_lab serves logged prompts
    assert item["video"].shape == (1, 3, 4, 240, 320) and item["meta"]["cameras"] == ["camera"]
