"""Scripted tasks: valid, smooth plans; contacts move objects; bad plans are refused."""

from __future__ import annotations

import numpy as np
import pytest

from vap_ros.errors import ConfigError, TrajectoryError

pytestmark = pytest.mark.mujoco


def _rig(cfg, seed):
    from vap_ros.sim import SimRig

    return SimRig.from_config(cfg, np.random.default_rng(seed))


@pytest.mark.parametrize("task", ["reach", "push", "pick_place", "poke"])
def test_plans_are_valid_and_smooth(task, panda, small_cfg):
    from vap_ros.sim import plan_task, sample_layout

    rng = np.random.default_rng(3)
    layout = sample_layout(small_cfg.with_options(objects=(3, 3)), rng)
    plan = plan_task(task, layout, panda, rng).trajectory
    plan.validate(panda)
    assert plan.gripper_width_m is not None
    assert 1.5 < plan.duration_ns * 1e-9 < 15
    vel = np.abs(np.diff(plan.positions, axis=0)) / 0.02
    assert vel.max() < 1.5  # rad/s: well inside the Panda's 2.1-2.6 rad/s


def test_pick_and_place_moves_the_object(small_cfg):
    """The object ends near the place target, lifted by the gripper and put down."""
    from vap_ros.sim import plan_task

    cfg = small_cfg.with_options(objects=(2, 2))
    rig = _rig(cfg, 1)
    tp = plan_task("pick_place", rig.scene.layout, rig.robot, np.random.default_rng(2))
    rig.execute(tp.trajectory)
    name = tp.info["object"]
    start = rig.object_poses()[name][:3, 3]
    peak = 0.0
    steps = int(tp.trajectory.duration_ns * 1e-9 * cfg.physics_hz)
    for _ in range(steps // 50):
        rig.step(50)
        peak = max(peak, rig.object_poses()[name][2, 3] - start[2])
    end = rig.object_poses()[name][:3, 3]
    assert peak > 0.05, "the object was not lifted"
    assert np.linalg.norm(end[:2] - tp.info["place_xy_m"]) < 0.03
    assert abs(end[2] - start[2]) < 0.01  # resting on the table again
    # The arm tracked the plan.
    assert np.abs(rig.arm_q - tp.trajectory.positions[-1]).max() < 0.01


def test_push_moves_the_object(small_cfg):
    from vap_ros.sim import plan_task

    rig = _rig(small_cfg.with_options(objects=(1, 1)), 4)
    tp = plan_task("push", rig.scene.layout, rig.robot, np.random.default_rng(4))
    name = tp.info["object"]
    start = rig.object_poses()[name][:3, 3]
    rig.execute(tp.trajectory)
    rig.step(int(tp.trajectory.duration_ns * 1e-9 * 500))
    moved = rig.object_poses()[name][:2, 3] - start[:2]
    assert np.linalg.norm(moved) > 0.04
    assert np.dot(moved, tp.info["direction"]) > 0  # along the push


def _bad_plans(robot):
    from vap_ros.robot import JointTrajectory
    from vap_ros.sim import HOME_Q

    names = robot.arm_joint_names
    t = np.array([0, 100_000_000, 200_000_000])
    q = np.repeat(HOME_Q[None], 3, axis=0)
    wrong = JointTrajectory(("a",) + names[1:], q, t)
    out = q.copy()
    out[1, 3] = 0.5  # joint 4 above its upper limit -0.0698
    backwards = JointTrajectory(names, q, np.array([0, 200_000_000, 100_000_000]))
    fast = q.copy()
    fast[1, 0] += 1.0  # 1 rad in 0.1 s
    return {
        "joints": (wrong, "do not match"),
        "limits": (JointTrajectory(names, out, t), "outside its limits"),
        "times": (backwards, "increase strictly"),
        "velocity": (JointTrajectory(names, fast, t), "above its limit"),
        "nan": (JointTrajectory(names, np.where(out > 0, np.nan, q), t), "NaN"),
    }


@pytest.mark.parametrize("case", ["joints", "limits", "times", "velocity", "nan"])
def test_invalid_plans_are_rejected(case, small_cfg, panda):
    rig = _rig(small_cfg, 0)
    plan, msg = _bad_plans(panda)[case]
    before = rig.arm_q
    with pytest.raises(TrajectoryError, match=msg):
        rig.execute(plan)
    rig.step(20)
    np.testing.assert_allclose(rig.arm_q, before, atol=1e-3)  # nothing started


def test_unknown_task_and_bad_config():
    from vap_ros.sim import SceneConfig, plan_task

    with pytest.raises(ConfigError, match="unknown task"):
        plan_task("juggle", None, None, np.random.default_rng(0))
    with pytest.raises(ConfigError, match="divisor"):
        SceneConfig(camera_hz=7)
    with pytest.raises(ConfigError, match="widht=3: unknown key"):
        SceneConfig.from_dict({"widht": 3})
