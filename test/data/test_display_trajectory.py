"""moveit_msgs/DisplayTrajectory → JointTrajectory, on structures with DisplayTrajectory's fields
(moveit_msgs is not installable here). The inner messages are rosbags' own trajectory_msgs /
sensor_msgs classes, as the bag reader hands them out; the MoveIt wrappers are dataclasses
mirroring moveit_msgs' layout."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from vap_ros.data.messages import display_trajectory_to_trajectory
from vap_ros.errors import JointStateError, TrajectoryError
from vap_ros.robot import JointStateMapper

FR3 = [f"fr3_joint{i}" for i in range(1, 8)]
FINGERS = ["fr3_finger_joint1", "fr3_finger_joint2"]
HOME = np.array([0.0, -0.3, 0.0, -2.2, 0.0, 2.0, 0.8])


@pytest.fixture(scope="module")
def T():
    from rosbags.typesys import Stores, get_typestore

    return get_typestore(Stores.ROS2_HUMBLE).types


# --- moveit_msgs layouts (only the fields a DisplayTrajectory carries)
@dataclass
class MultiDOFJointTrajectory:
    header: object = None
    joint_names: list = field(default_factory=list)
    points: list = field(default_factory=list)


@dataclass
class RobotTrajectory:
    joint_trajectory: object
    multi_dof_joint_trajectory: MultiDOFJointTrajectory = field(
        default_factory=MultiDOFJointTrajectory)


@dataclass
class RobotState:
    joint_state: object
    multi_dof_joint_state: object = None
    attached_collision_objects: list = field(default_factory=list)
    is_diff: bool = False


@dataclass
class DisplayTrajectory:
    trajectory: list
    trajectory_start: RobotState
    model_id: str = "fr3"


def header(T, ns=0):
    return T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](
        sec=ns // 10**9, nanosec=ns % 10**9), frame_id="fr3_link0")


def joint_trajectory(T, names, positions, times_s, stamp_ns=0):
    pts = [T["trajectory_msgs/msg/JointTrajectoryPoint"](
        positions=np.asarray(p, np.float64), velocities=np.zeros(0),
        accelerations=np.zeros(0), effort=np.zeros(0),
        time_from_start=T["builtin_interfaces/msg/Duration"](
            sec=int(t), nanosec=round((t % 1) * 1e9)))
        for p, t in zip(positions, times_s, strict=True)]
    return T["trajectory_msgs/msg/JointTrajectory"](header=header(T, stamp_ns),
                                                     joint_names=list(names), points=pts)


def start_state(T, names, positions):
    return RobotState(T["sensor_msgs/msg/JointState"](
        header=header(T), name=list(names), position=np.asarray(positions, np.float64),
        velocity=np.zeros(0), effort=np.zeros(0)))


def plan_positions(n=5):
    return HOME + np.linspace(0, 0.3, n)[:, None] * np.arange(1, 8) / 7


@pytest.fixture()
def mapper():
    return JointStateMapper(FR3, FINGERS)


def test_moveit_plan_in_arm_order_with_the_gripper_held(T, mapper):
    q = plan_positions()
    order = [6, 0, 5, 1, 4, 2, 3]  # MoveIt's order need not be the robot's
    jt = joint_trajectory(T, [FR3[i] for i in order], q[:, order], [0, 0.5, 1, 1.5, 2.25])
    msg = DisplayTrajectory([RobotTrajectory(jt)],
                            start_state(T, FR3 + FINGERS, [*q[0], 0.03, 0.03]))
    traj, notes = display_trajectory_to_trajectory(msg, 0, mapper, start_ns=0)
    assert traj.joint_names == tuple(FR3)
    np.testing.assert_array_equal(traj.positions, q)
    np.testing.assert_array_equal(traj.stamps_ns, [0, 5e8, 1e9, 1.5e9, 2.25e9])
    np.testing.assert_allclose(traj.gripper_width_m, 0.06)
    assert notes == ["joints ['fr3_finger_joint1', 'fr3_finger_joint2'] are not in the plan: "
                     "held at their start-state values"]


def test_start_state_fills_a_missing_first_point_and_unplanned_joints(T, mapper):
    q = plan_positions(3)
    jt = joint_trajectory(T, FR3[:6], q[:, :6], [0.4, 0.8, 1.2], stamp_ns=7 * 10**9)
    start = np.r_[HOME, 0.08 / 2, 0.08 / 2]
    msg = DisplayTrajectory([RobotTrajectory(jt)], start_state(T, FR3 + FINGERS, start))
    traj, notes = display_trajectory_to_trajectory(msg, 123, mapper)  # header stamp wins
    assert len(traj) == 4
    np.testing.assert_array_equal(traj.positions[0], HOME)  # the added first point
    np.testing.assert_array_equal(traj.positions[1:, :6], q[:, :6])
    np.testing.assert_array_equal(traj.positions[:, 6], HOME[6])  # joint7 held
    np.testing.assert_array_equal(traj.stamps_ns, 7 * 10**9 + np.array([0, 4, 8, 12]) * 10**8)
    assert "the start state was added as the first point (t = 0)" in notes
    assert any("'fr3_joint7'" in n and "held" in n for n in notes)


def test_log_time_when_unstamped_and_a_plan_that_moves_the_gripper(T, mapper):
    q = plan_positions(2)
    pos = np.hstack([q, [[0.04, 0.04], [0.01, 0.01]]])
    jt = joint_trajectory(T, FR3 + FINGERS, pos, [0, 1])
    msg = DisplayTrajectory([RobotTrajectory(jt)], start_state(T, [], []))
    traj, notes = display_trajectory_to_trajectory(msg, 5_000, mapper)
    np.testing.assert_array_equal(traj.stamps_ns, [5_000, 5_000 + 10**9])
    np.testing.assert_allclose(traj.gripper_width_m, [0.08, 0.02])
    assert notes == []


def test_extra_trajectories_and_multi_dof_are_ignored_with_a_note(T, mapper):
    q = plan_positions(2)
    multi = MultiDOFJointTrajectory(header(T), ["virtual_joint"], [object(), object()])
    first = RobotTrajectory(joint_trajectory(T, FR3, q, [0, 1]), multi)
    second = RobotTrajectory(joint_trajectory(T, FR3, q[::-1], [0, 1]))
    msg = DisplayTrajectory([first, second], start_state(T, FR3, HOME))
    traj, notes = display_trajectory_to_trajectory(msg, 0, mapper, start_ns=0)
    np.testing.assert_array_equal(traj.positions, q)
    assert "DisplayTrajectory holds 2 trajectories: only the first is used" in notes
    assert ("multi-DOF trajectory of joints ['virtual_joint'] (2 points) ignored: only joint "
            "trajectories are predicted") in notes


def test_name_map_reads_an_fr3_plan_onto_a_panda_model(T):
    panda = JointStateMapper([f"panda_joint{i}" for i in range(1, 8)],
                             ["panda_finger_joint1", "panda_finger_joint2"],
                             name_map={"fr3_*": "panda_*"})
    q = plan_positions(2)
    msg = DisplayTrajectory([RobotTrajectory(joint_trajectory(T, FR3[:6], q[:, :6], [0, 1]))],
                            start_state(T, FR3 + FINGERS, np.r_[HOME, 0.02, 0.02]))
    traj, _ = display_trajectory_to_trajectory(msg, 0, panda, start_ns=0)
    assert traj.joint_names[0] == "panda_joint1"
    np.testing.assert_array_equal(traj.positions[:, 6], HOME[6])
    np.testing.assert_allclose(traj.gripper_width_m, 0.04)


@pytest.mark.parametrize("case,error,match", [
    ("no_trajectory", TrajectoryError, r"holds no trajectory \(trajectory\[\] is empty\); "
                                       r"expected at least one moveit_msgs/RobotTrajectory"),
    ("no_points", TrajectoryError, r"joint_trajectory has no points; expected points for "
                                   r"joints \['fr3_joint1'"),
    ("multi_dof_only", TrajectoryError, r"has no points \(it holds only a multi-DOF "
                                        r"trajectory\)"),
    ("bad_point", TrajectoryError, r"point 1 has 6 positions for 7 joints"),
    ("bad_start", JointStateError, r"trajectory_start.joint_state has 9 names but 7 positions"),
    ("other_joint", JointStateError, r"unknown joint names \['base_rotation'\]"),
    ("unfilled_joint", JointStateError, r"missing joints \['fr3_joint7'\]"),
    ("time_back", TrajectoryError, r"times must increase strictly: point 2"),
    ("nan", JointStateError, r"non-finite arm positions \(NaN/inf\)"),
])
def test_bad_display_trajectories_are_one_clear_error(T, mapper, case, error, match):
    q = plan_positions(3)
    names, times, start = list(FR3), [0, 1, 2], start_state(T, FR3 + FINGERS,
                                                            np.r_[HOME, 0.04, 0.04])
    trajs = None
    if case == "no_trajectory":
        trajs = []
    elif case in ("no_points", "multi_dof_only"):
        multi = MultiDOFJointTrajectory(header(T), ["virtual_joint"],
                                        [object()] if case == "multi_dof_only" else [])
        trajs = [RobotTrajectory(joint_trajectory(T, names, [], []), multi)]
    elif case == "bad_point":
        jt = joint_trajectory(T, names, q, times)
        jt.points[1].positions = q[1, :6]
        trajs = [RobotTrajectory(jt)]
    elif case == "bad_start":
        start.joint_state.position = HOME
    elif case == "other_joint":
        names, q = [*names, "base_rotation"], np.hstack([q, np.zeros((3, 1))])
    elif case == "unfilled_joint":
        names, q = names[:6], q[:, :6]
        start = start_state(T, FR3[:6], HOME[:6])
    elif case == "time_back":
        times = [0, 1, 0.5]
    elif case == "nan":
        q[1, 2] = np.nan
    if trajs is None:
        trajs = [RobotTrajectory(joint_trajectory(T, names, q, times))]
    with pytest.raises(error, match=match):
        display_trajectory_to_trajectory(DisplayTrajectory(trajs, start), 0, mapper)
