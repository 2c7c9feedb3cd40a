import json

import numpy as np
import pytest

from vap_ros.errors import ConfigError, JointStateError
from vap_ros.robot import RobotModel


def _rot_err_deg(Ra, Rb):
    R = Ra.T @ Rb
    return np.degrees(np.arccos(np.clip((np.trace(R) - 1) / 2, -1, 1)))


def test_fk_matches_real_franka_O_T_EE(panda, real_data):
    """FK reproduces the robot-reported O_T_EE of 12 real poses (0.5 mm, 0.5 deg)."""
    files = sorted((real_data / "franka_fk_poses").glob("pose_*.json"))
    assert len(files) == 12
    q = np.array([json.loads(f.read_text())["joint_pose"] for f in files])
    T_ref = np.array([np.array(json.loads(f.read_text())["O_T_EE"]).reshape(4, 4)
                      for f in files])
    T = panda.tcp_poses(q)
    for i in range(12):
        assert np.linalg.norm(T[i, :3, 3] - T_ref[i, :3, 3]) < 0.5e-3
        assert _rot_err_deg(T[i, :3, :3], T_ref[i, :3, :3]) < 0.5


def test_batched_fk_equals_single(panda):
    rng = np.random.default_rng(1)
    q = rng.uniform(panda.lower_limits, panda.upper_limits, (5, 7))
    batched = panda.frame_poses(q, ["panda_link4", "panda_hand_tcp"])
    for t in range(5):
        single = panda.frame_poses(q[t:t + 1], ["panda_link4", "panda_hand_tcp"])[0]
        np.testing.assert_allclose(batched[t], single, atol=1e-12)


def test_gripper_width_moves_fingers(panda):
    q = np.zeros((2, 7))
    q[:, 3] = -1.5
    p = panda.frame_poses(q, ["panda_leftfinger", "panda_rightfinger"], [0.0, 0.08])
    gap = np.linalg.norm(p[:, 0, :3, 3] - p[:, 1, :3, 3], axis=1)
    np.testing.assert_allclose(gap, [0.0, 0.08], atol=1e-9)


def test_limits_and_names(panda):
    assert panda.arm_joint_names == tuple(f"panda_joint{i}" for i in range(1, 8))
    assert panda.lower_limits[3] == pytest.approx(-3.0718)
    assert panda.within_limits(np.zeros((1, 7)))[0, 3] is np.False_


def test_unknown_frame_and_bad_inputs(panda):
    with pytest.raises(ConfigError, match="frame 'nope'"):
        panda.frame_poses(np.zeros((1, 7)), ["nope"])
    with pytest.raises(JointStateError, match="expected 7"):
        panda.tcp_poses(np.zeros((1, 6)))
    with pytest.raises(JointStateError, match="NaN"):
        panda.tcp_poses(np.full((1, 7), np.nan))


def test_missing_urdf_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        RobotModel(tmp_path / "missing.urdf")
    with pytest.raises(ConfigError, match="cannot resolve"):
        RobotModel("package://no_such_package/robot.urdf")


def test_any_urdf_loads_without_a_preset(tmp_path):
    urdf = tmp_path / "two_link.urdf"
    urdf.write_text("""<robot name="two_link">
  <link name="base"/><link name="l1"/><link name="tip"/>
  <joint name="j1" type="revolute"><parent link="base"/><child link="l1"/>
    <origin xyz="0 0 0.5"/><axis xyz="0 0 1"/>
    <limit lower="-3" upper="3" effort="1" velocity="1"/></joint>
  <joint name="j2" type="revolute"><parent link="l1"/><child link="tip"/>
    <origin xyz="0.3 0 0"/><axis xyz="0 0 1"/>
    <limit lower="-3" upper="3" effort="1" velocity="1"/></joint>
</robot>""")
    robot = RobotModel(urdf)
    assert robot.arm_joint_names == ("j1", "j2")
    T = robot.tcp_poses(np.array([[np.pi / 2, 0.0]]))[0]
    np.testing.assert_allclose(T[:3, 3], [0.0, 0.3, 0.5], atol=1e-12)
