"""The FR3 preset against Franka's published kinematics and limits, and robots read from a
robot_description (URDF text) instead of a preset."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from vap_ros.cli import main
from vap_ros.errors import ConfigError, JointLimitError
from vap_ros.robot import RobotModel, SkeletonSpec, franka_prefix, load_robot

# Franka's documented modified-DH table (identical for Panda and FR3), written out here
# independently of any URDF: a_{i-1}, d_i, alpha_{i-1} for joints 1..7.
DH_A = [0.0, 0.0, 0.0, 0.0825, -0.0825, 0.0, 0.088]
DH_D = [0.333, 0.0, 0.316, 0.0, 0.384, 0.0, 0.0]
DH_ALPHA = [0.0, -np.pi / 2, np.pi / 2, np.pi / 2, -np.pi / 2, np.pi / 2, np.pi / 2]
FLANGE_D = 0.107
TCP_D, TCP_YAW = 0.1034, -np.pi / 4
# FR3 limits from Franka's FR3 robot and interface specifications.
FR3_Q_MIN = [-2.7437, -1.7837, -2.9007, -3.0421, -2.8065, 0.5445, -3.0159]
FR3_Q_MAX = [2.7437, 1.7837, 2.9007, -0.1518, 2.8065, 4.5169, 3.0159]
FR3_DQ_MAX = [2.62, 2.62, 2.62, 2.62, 5.26, 4.18, 5.26]


def _rx(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0, 0], [0, c, -s, 0], [0, s, c, 0], [0, 0, 0, 1.0]])


def _rz(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0, 0], [s, c, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1.0]])


def _tx(x):
    T = np.eye(4)
    T[0, 3] = x
    return T


def _tz(z):
    T = np.eye(4)
    T[2, 3] = z
    return T


def dh_frames(q) -> list[np.ndarray]:
    """Modified DH (Craig): T_{i-1,i} = Rx(alpha) Tx(a) Rz(theta) Tz(d). Returns the poses of
    link1..link7, the flange (link8) and the hand TCP in the base frame."""
    T, out = np.eye(4), []
    for i in range(7):
        T = T @ _rx(DH_ALPHA[i]) @ _tx(DH_A[i]) @ _rz(q[i]) @ _tz(DH_D[i])
        out.append(T)
    flange = T @ _tz(FLANGE_D)
    return [*out, flange, flange @ _rz(TCP_YAW) @ _tz(TCP_D)]


@pytest.fixture(scope="module")
def fr3():
    return RobotModel.from_preset("fr3")


@pytest.fixture(scope="module")
def fr3_xml(fr3):
    return fr3.urdf_path.read_text()


def _random_q(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(FR3_Q_MIN, FR3_Q_MAX, (n, 7))


def test_fr3_preset_names_limits_and_frames(fr3):
    assert fr3.arm_joint_names == tuple(f"fr3_joint{i}" for i in range(1, 8))
    assert fr3.gripper.joints == ("fr3_finger_joint1", "fr3_finger_joint2")
    assert (fr3.base_frame, fr3.tcp_frame) == ("fr3_link0", "fr3_hand_tcp")
    np.testing.assert_array_equal(fr3.lower_limits, FR3_Q_MIN)
    np.testing.assert_array_equal(fr3.upper_limits, FR3_Q_MAX)
    vel = [fr3.model.velocityLimit[fr3.model.joints[fr3.model.getJointId(j)].idx_v]
           for j in fr3.arm_joint_names]
    np.testing.assert_array_equal(vel, FR3_DQ_MAX)
    panda = RobotModel.from_preset("panda")
    assert not np.array_equal(panda.lower_limits, fr3.lower_limits)  # the limits differ


def test_fr3_fk_matches_franka_dh_table(fr3):
    q = _random_q(6)
    names = [f"fr3_link{i}" for i in range(1, 9)] + ["fr3_hand_tcp"]
    poses = fr3.frame_poses(q, names, 0.04)
    for t in range(len(q)):
        for k, T_ref in enumerate(dh_frames(q[t])):
            np.testing.assert_allclose(poses[t, k], T_ref, atol=1e-12, err_msg=names[k])


def test_vap_ros_fk_robot_fr3_matches_dh(capsys):
    for q in _random_q(3, seed=1):
        argv = ["fk", "--robot", "fr3", "--joints", *map(repr, q.tolist())]
        assert main(argv) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["robot"] == "fr3" and out["frame"] == "fr3_hand_tcp"
        assert out["base_frame"] == "fr3_link0" and list(out["joints"]) == [
            f"fr3_joint{i}" for i in range(1, 8)]
        np.testing.assert_allclose(np.array(out["pose"]), dh_frames(q)[-1], atol=1e-12)


def test_fk_applies_the_fr3_limits_not_the_panda_ones(capsys):
    q = ["0", "0", "0", "-2", "0", "0.3", "0"]  # joint6 = 0.3: a Panda may, an FR3 may not
    assert main(["fk", "--robot", "panda", "--joints", *q]) == 0
    capsys.readouterr()
    assert main(["fk", "--robot", "fr3", "--joints", *q]) == 2
    err = capsys.readouterr().err
    assert "fr3_joint6=0.3 rad is outside its limits [0.5445, 4.5169]" in err


def test_fr3_skeleton_is_the_panda_one_on_fr3_frames():
    fr3, panda = SkeletonSpec.from_preset("fr3"), SkeletonSpec.from_preset("panda")
    assert fr3.names == panda.names
    assert fr3.frames == tuple(f.replace("panda_", "fr3_") for f in panda.frames)
    for a in ("offsets", "edges", "colors", "discs", "gripper"):
        np.testing.assert_array_equal(getattr(fr3, a), getattr(panda, a))


def test_robot_from_description_string_equals_the_preset(fr3, fr3_xml):
    setup = load_robot("fr3", robot_description=fr3_xml)
    robot = setup.robot
    assert robot.urdf_path is None and robot.source == "robot_description"
    assert robot.arm_joint_names == fr3.arm_joint_names and robot.gripper == fr3.gripper
    q = _random_q(3, seed=2)
    np.testing.assert_allclose(robot.tcp_poses(q, 0.03), fr3.tcp_poses(q, 0.03), atol=1e-15)
    assert setup.skeleton.frames == SkeletonSpec.from_preset("fr3").frames


def test_franka_arm_derived_from_any_prefix(fr3_xml):
    """A namespaced FR3 (multi-arm setups prefix every name) needs no preset."""
    xml = fr3_xml.replace('"fr3_', '"left_fr3_')
    assert franka_prefix([f"left_fr3_joint{i}" for i in range(1, 8)]) == "left_fr3_"
    robot, spec = load_robot("fr3", robot_description=xml)
    assert robot.arm_joint_names == tuple(f"left_fr3_joint{i}" for i in range(1, 8))
    assert (robot.base_frame, robot.tcp_frame) == ("left_fr3_link0", "left_fr3_hand_tcp")
    assert robot.gripper.joints == ("left_fr3_finger_joint1", "left_fr3_finger_joint2")
    assert robot.gripper.max_width_m == pytest.approx(0.08)  # from the finger joint limits
    assert spec.names == SkeletonSpec.from_preset("fr3").names
    q = _random_q(2, seed=3)
    np.testing.assert_allclose(robot.tcp_poses(q), [dh_frames(x)[-1] for x in q], atol=1e-12)


def test_franka_arm_without_a_hand(fr3_xml):
    cut = fr3_xml.index("  <link name=\"fr3_hand\">")
    xml = fr3_xml[:cut] + "</robot>\n"
    robot, spec = load_robot("fr3", robot_description=xml)  # preset TCP missing: derived
    assert robot.tcp_frame == "fr3_link8" and robot.gripper is None
    assert "hand_center" not in spec.names and "flange" in spec.names
    assert len(spec.gripper) == 1  # only the flange locates the (absent) gripper
    assert all(f.startswith("fr3_link") for f in spec.frames)


def test_panda_description_with_fr3_preset_falls_back_to_derivation():
    xml = RobotModel.from_preset("panda").urdf_path.read_text()
    robot, _ = load_robot("fr3", robot_description=xml)
    assert robot.arm_joint_names[0] == "panda_joint1" and robot.base_frame == "panda_link0"


TWO_LINK = """<robot name="two_link"><link name="base"/><link name="l1"/><link name="tip"/>
  <joint name="j1" type="revolute"><parent link="base"/><child link="l1"/><axis xyz="0 0 1"/>
    <limit lower="-3" upper="3" effort="1" velocity="1"/></joint>
  <joint name="j2" type="revolute"><parent link="l1"/><child link="tip"/><axis xyz="0 0 1"/>
    <origin xyz="0.3 0 0"/><limit lower="-3" upper="3" effort="1" velocity="1"/></joint>
</robot>"""


@pytest.mark.parametrize("xml,skeleton,match", [
    (TWO_LINK, "", r"robot_description \(robot 'two_link'\) has joints \['j1', 'j2'\]; "
                   r"expected the arm joints of robot preset 'fr3' .*fr3_joint1.* or a Franka "
                   r"arm's <prefix>joint1"),
    ("   ", "", "robot_description is empty: expected the robot's URDF"),
    ("<robot", "", "robot_description is not a valid URDF"),
    (None, "panda", r"skeleton 'panda' uses frames \['panda_hand', .*\] that robot 'fr3'"),
])
def test_bad_robot_descriptions_are_one_clear_error(fr3_xml, xml, skeleton, match):
    with pytest.raises(ConfigError, match=match):
        load_robot("fr3", robot_description=fr3_xml if xml is None else xml,
                   skeleton=skeleton)


def test_meshes_resolve_where_possible_and_fk_needs_none(fr3, fr3_xml):
    meshes = fr3.mesh_files()
    assert len(meshes) == 19 and all(p is not None and p.is_file() for p in meshes.values())
    xml = re.sub(r"package://example-robot-data/", "package://no_such_description/", fr3_xml)
    robot = RobotModel.from_urdf_string(xml, arm_joints=[f"fr3_joint{i}" for i in range(1, 8)])
    assert set(robot.mesh_files().values()) == {None}
    q = _random_q(1, seed=4)
    np.testing.assert_allclose(robot.frame_poses(q, ["fr3_link8"])[0, 0], dh_frames(q[0])[7],
                               atol=1e-12)


def test_fk_cli_reads_a_robot_description_file(tmp_path, capsys, fr3_xml):
    path = tmp_path / "robot_description.urdf"
    path.write_text(fr3_xml.replace('"fr3_', '"arm_'))
    q = _random_q(1, seed=5)[0]
    assert main(["fk", "--robot-description", str(path), "--joints",
                 *map(repr, q.tolist())]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["frame"] == "arm_hand_tcp" and out["base_frame"] == "arm_link0"
    np.testing.assert_allclose(np.array(out["pose"]), dh_frames(q)[-1], atol=1e-12)
    with pytest.raises(JointLimitError):
        from vap_ros.cli.fk import check_limits
        robot = load_robot("", robot_description=path.read_text()).robot
        check_limits(robot, np.r_[q[:5], 0.3, q[6]], None)
