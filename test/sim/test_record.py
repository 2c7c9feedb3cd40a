"""Recorded bags: valid rosbag2 MCAP read by a second reader (mcap + mcap-ros2-support), the
topics a real rig records, deterministic from the seed, bad plans refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vap_ros.errors import ConfigError, TrajectoryError

pytestmark = pytest.mark.mujoco

FRANKA_JOINTS = [f"panda_joint{i}" for i in range(1, 8)] + ["panda_finger_joint1",
                                                             "panda_finger_joint2"]


def _mcap(bag_dir: Path) -> Path:
    files = list(Path(bag_dir).glob("*.mcap"))
    assert len(files) == 1, files
    return files[0]


def _read_all(bag_dir: Path):
    """(topic, log_time, decoded message) for every message, via mcap-ros2-support."""
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory

    with open(_mcap(bag_dir), "rb") as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        return [(c.topic, m.log_time, msg)
                for _s, c, m, msg in reader.iter_decoded_messages(log_time_order=True)]


def _raw(bag_dir: Path):
    """(topic, log_time, raw CDR bytes) for every message, via the plain mcap reader."""
    from mcap.reader import make_reader

    with open(_mcap(bag_dir), "rb") as f:
        return [(c.topic, m.log_time, bytes(m.data))
                for _s, c, m in make_reader(f).iter_messages(log_time_order=True)]


def test_bag_holds_what_a_franka_rig_records(recorded):
    out, summary, cfg = recorded
    assert summary["episodes_written"] == 2 and summary["episodes_skipped"] == 0
    msgs = _read_all(out / "episode_0000")
    by_topic: dict[str, list] = {}
    for topic, t, m in msgs:
        by_topic.setdefault(topic, []).append((t, m))
    cams = ["front", "left", "right"]
    expected = {"/joint_states", "/tf_static", "/planned_trajectory"}
    expected |= {f"/{c}/image_raw" for c in cams} | {f"/{c}/camera_info" for c in cams}
    assert set(by_topic) == expected

    js = by_topic["/joint_states"]
    assert list(js[0][1].name) == FRANKA_JOINTS
    stamps = np.array([m.header.stamp.sec * 10**9 + m.header.stamp.nanosec for _, m in js])
    assert np.all(np.diff(stamps) == 10_000_000)  # 100 Hz
    assert all(t == s for (t, _), s in zip(js, stamps))  # log time = header stamp
    pos = np.array([m.position for _, m in js])
    assert np.abs(pos[-1, :7] - pos[0, :7]).max() > 0.05  # the arm moved

    for c in cams:
        imgs = by_topic[f"/{c}/image_raw"]
        infos = by_topic[f"/{c}/camera_info"]
        assert len(imgs) == len(infos) >= 20
        m = imgs[0][1]
        assert (m.encoding, m.width, m.height, m.step) == ("rgb8", 64, 48, 192)
        assert m.header.frame_id == f"{c}_optical_frame"
        assert len(m.data) == 64 * 48 * 3
        info = infos[0][1]
        assert info.header.frame_id == f"{c}_optical_frame"
        assert info.distortion_model == "plumb_bob"
        assert info.k[2] == pytest.approx(31.5) and info.k[5] == pytest.approx(23.5)
        img_rate = 1e9 / np.median(np.diff([t for t, _ in imgs]))
        assert img_rate == pytest.approx(cfg.camera_hz)

    (_t_tf, tf), = by_topic["/tf_static"]
    frames = {(x.header.frame_id, x.child_frame_id) for x in tf.transforms}
    assert frames == {("panda_link0", f"{c}_optical_frame") for c in cams}

    (_, plan), = by_topic["/planned_trajectory"]
    assert list(plan.joint_names) == FRANKA_JOINTS
    p = np.array([pt.positions for pt in plan.points])
    np.testing.assert_allclose(p[:, 7], p[:, 8])  # each finger = width / 2
    assert 0.0 <= p[:, 7].min() and p[:, 7].max() <= 0.04 + 1e-9


def test_tf_static_matches_the_calibration_in_the_metadata(recorded):
    """/tf_static and camera_info describe the cameras the episode's layout placed."""
    import yaml
    from rosbags.rosbag2 import Reader

    from vap_ros.camera import camera_from_dict, transform_from_pose
    from vap_ros.sim.bag import typestore

    out, _, _ = recorded
    meta_line = (out / "episodes.jsonl").read_text().splitlines()[0]
    assert json.loads(meta_line)["task"] == "reach"
    info = yaml.safe_load((out / "episode_0000" / "metadata.yaml").read_text())
    meta = json.loads(info["rosbag2_bagfile_information"]["custom_data"]["vap_ros.episode"])
    assert meta["seed"] == [7, 0] and meta["task"] == "reach"
    with Reader(out / "episode_0000") as r:
        conn = next(c for c in r.connections if c.topic == "/tf_static")
        _, _, raw = next(r.messages(connections=[conn]))
    tf = typestore().deserialize_cdr(raw, "tf2_msgs/msg/TFMessage")
    cams = {c["camera_name"]: camera_from_dict(c) for c in meta["layout"]["cameras"]}
    for x in tf.transforms:
        cam = cams[x.child_frame_id.replace("_optical_frame", "")]
        tr, q = x.transform.translation, x.transform.rotation
        T = transform_from_pose([tr.x, tr.y, tr.z], [q.x, q.y, q.z, q.w])
        np.testing.assert_allclose(T, cam.T_base_cam, atol=1e-9)


def test_same_seed_same_bags_different_seed_differs(recorded, tmp_path):
    from vap_ros.sim import record_episodes

    out, _, cfg = recorded
    record_episodes(cfg, tmp_path / "again", episodes=1, seed=7, tasks=("reach", "poke"))
    record_episodes(cfg, tmp_path / "other", episodes=1, seed=8, tasks=("reach", "poke"))
    a = _raw(out / "episode_0000")
    b = _raw(tmp_path / "again" / "episode_0000")
    assert len(a) == len(b) > 100
    for (ta, ca, da), (tb, cb, db) in zip(a, b):
        assert (ta, ca) == (tb, cb)
        assert da == db, f"{ta} at {ca} differs"
    c = _raw(tmp_path / "other" / "episode_0000")
    first_image = next(d for t, _, d in a if t == "/front/image_raw")
    assert first_image != next(d for t, _, d in c if t == "/front/image_raw")
    assert [d for t, _, d in a if t == "/joint_states"] != [
        d for t, _, d in c if t == "/joint_states"]


def test_recorder_refuses_invalid_plans(tmp_path, small_cfg, panda):
    from vap_ros.robot import JointTrajectory
    from vap_ros.sim import HOME_Q
    from vap_ros.sim.record import record_plan

    q = np.repeat(HOME_Q[None], 2, axis=0)
    cases = [
        (JointTrajectory(("j1",) * 7, q, [0, 10**8]), "do not match"),
        (JointTrajectory(panda.arm_joint_names, q + [0, 0, 0, 3.5, 0, 0, 0], [0, 10**8]),
         "outside its limits"),
        (JointTrajectory(panda.arm_joint_names, q, [10**8, 10**8]), "increase strictly"),
    ]
    for plan, msg in cases:
        with pytest.raises(TrajectoryError, match=msg):
            record_plan(small_cfg, plan, tmp_path / "bad", seed=0)
        assert not (tmp_path / "bad").exists()  # nothing written


def test_record_plan_and_no_overwrite(tmp_path, small_cfg, panda):
    from vap_ros.robot import JointTrajectory
    from vap_ros.sim import HOME_Q
    from vap_ros.sim.record import record_plan

    goal = HOME_Q + [0.3, 0.1, 0, 0.1, 0, 0, 0]
    plan = JointTrajectory(panda.arm_joint_names, np.stack([HOME_Q, goal]),
                           [500_000_000, 1_500_000_000], [0.08, 0.02])
    s = record_plan(small_cfg, plan, tmp_path / "p", seed=1)
    msgs = _read_all(tmp_path / "p" / "episode_0000")
    js = [m for t, _, m in msgs if t == "/joint_states"]
    np.testing.assert_allclose(js[-1].position[:7], goal, atol=5e-3)
    assert sum(js[-1].position[7:]) == pytest.approx(0.02, abs=2e-3)
    (plan_msg,) = [m for t, _, m in msgs if t == "/planned_trajectory"]
    assert len(plan_msg.points) == 3  # the start (current state) was prepended at t = 0
    assert s["episodes_written"] == 1
    with pytest.raises(ConfigError, match="exists"):
        record_plan(small_cfg, plan, tmp_path / "p", seed=1)


def test_contact_sheet(recorded, tmp_path):
    import cv2

    from vap_ros.sim.contact_sheet import contact_sheet

    out, _, _ = recorded
    png = contact_sheet(out / "episode_0001", tmp_path / "sheet.png", columns=5)
    img = cv2.imread(str(png))
    assert img.shape == (3 * 48, 5 * 64, 3)
    assert img.std() > 10  # not blank
