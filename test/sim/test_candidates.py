"""Candidate plans for plan ranking (``vap_ros.sim.candidates``): the nominal plan and
perturbed variants are valid, different plans with different outcomes, and running them in
the physics is deterministic and independent of the order."""

from __future__ import annotations

import numpy as np
import pytest

from vap_ros.errors import ConfigError
from vap_ros.robot import RobotModel
from vap_ros.sim import SimRig, build_scene, plan_task
from vap_ros.sim.candidates import (
    Perturbation,
    candidate_plans,
    execute_plans,
    rank_scene,
    task_success,
)


@pytest.fixture(scope="module")
def robot():
    return RobotModel.from_preset("panda")


@pytest.fixture(scope="module")
def cfg(small_cfg):
    return small_cfg.with_options(width=32, height=32)


@pytest.fixture(scope="module")
def push(cfg, robot):
    """A push scene and 4 candidates."""
    scene = rank_scene(cfg, robot, 3, "push")
    cands = candidate_plans("push", scene.layout, robot, np.random.default_rng(0), 4,
                            q0=scene.q0, plan_rng_state=scene.plan_rng_state)
    return scene, cands


def test_nominal_is_the_scripted_plan_and_variants_differ(cfg, robot, push):
    scene, cands = push
    assert len(cands) == 4 and [c.id for c in cands] == [0, 1, 2, 3]
    assert cands[0].nominal and not any(c.nominal for c in cands[1:])
    np.testing.assert_array_equal(cands[0].trajectory.positions,
                                  scene.nominal.trajectory.positions)
    # the variants replay the same task draws (same object, direction) ...
    assert all(c.info["object"] == scene.nominal.info["object"] for c in cands)
    # ... with perturbed targets: the tool passes elsewhere
    tcp = [robot.tcp_poses(c.trajectory.positions)[:, :3, 3] for c in cands]
    for i in range(1, 4):
        n = min(len(tcp[0]), len(tcp[i]))
        assert np.abs(tcp[i][:n] - tcp[0][:n]).max() > 0.01
    with SimRig(build_scene(cfg, scene.layout, robot), q0=scene.q0) as rig:
        for c in cands:  # names, limits, NaN, times, gripper range, joint velocity limits
            rig.validate(c.trajectory)
            assert robot.within_limits(c.trajectory.positions).all()


def test_candidates_follow_rng_and_scene(cfg, robot):
    a = rank_scene(cfg, robot, 3, "reach")
    b = rank_scene(cfg, robot, 3, "reach")
    ca = candidate_plans("reach", a.layout, robot, np.random.default_rng(1), 3, q0=a.q0,
                         plan_rng_state=a.plan_rng_state)
    cb = candidate_plans("reach", b.layout, robot, np.random.default_rng(1), 3, q0=b.q0,
                         plan_rng_state=b.plan_rng_state)
    for x, y in zip(ca, cb):
        np.testing.assert_array_equal(x.trajectory.positions, y.trajectory.positions)
    # without a saved state the nominal plan is drawn from rng itself, as plan_task does
    rng = np.random.default_rng(5)
    c = candidate_plans("reach", a.layout, robot, rng, 2, q0=a.q0)
    ref = plan_task("reach", a.layout, robot, np.random.default_rng(5), a.q0)
    np.testing.assert_array_equal(c[0].trajectory.positions, ref.trajectory.positions)


def test_perturbation_rotates_about_the_pivot_then_shifts():
    p = Perturbation((0.01, -0.02), np.pi / 2, (0.5, 0.0))
    T = np.eye(4)
    T[:3, 3] = [0.6, 0.0, 0.1]
    out = p(T)
    np.testing.assert_allclose(out[:3, 3], [0.5 + 0.01, 0.1 - 0.02, 0.1], atol=1e-12)
    np.testing.assert_allclose(out[:3, :3] @ [1, 0, 0], [0, 1, 0], atol=1e-12)
    assert Perturbation(pivot_xy_m=(0.3, 0.1)).is_identity


def test_execution_is_deterministic_and_order_free(cfg, robot, push):
    scene, cands = push
    plans = [c.trajectory for c in cands[:3]]
    end = max(int(p.stamps_ns[-1]) for p in plans) * 1e-9 + 0.2
    first, cams, out1 = execute_plans(cfg, scene, plans, end_s=end, robot=robot)
    _, _, out2 = execute_plans(cfg, scene, plans[::-1], end_s=end, robot=robot)
    assert [c.name for c in cams] == list(first) and first["front"].shape == (32, 32, 3)
    for a, b in zip(out1, out2[::-1]):
        for name in a.images:
            np.testing.assert_array_equal(a.images[name], b.images[name])
        for name in a.object_poses:
            np.testing.assert_array_equal(a.object_poses[name], b.object_poses[name])
    # the nominal push moved its object; success is measured against the goal outcome
    obj = scene.nominal.info["object"]
    start = next(o.pos for o in scene.layout.objects if o.name == obj)
    assert np.linalg.norm(out1[0].object_poses[obj][:2, 3] - start[:2]) > 0.03
    assert task_success("push", scene.nominal.info, out1[0], out1[0]) == (True, 0.0)
    dists = [task_success("push", scene.nominal.info, o, out1[0])[1] for o in out1]
    assert max(dists) > 0.03  # some variant ends the object elsewhere


@pytest.mark.parametrize("k", [1, 0, -3, 2.5])
def test_k_below_two_is_one_clear_error(cfg, robot, k):
    scene = rank_scene(cfg, robot, 3, "reach")
    with pytest.raises(ConfigError, match=r"candidates k=.*expected an integer >= 2"):
        candidate_plans("reach", scene.layout, robot, np.random.default_rng(0), k)


def test_unknown_task_is_one_clear_error(cfg, robot):
    with pytest.raises(ConfigError, match=r"unknown task 'fly'; expected one of"):
        rank_scene(cfg, robot, 3, "fly")
    scene = rank_scene(cfg, robot, 3, "reach")
    with pytest.raises(ConfigError, match=r"unknown task 'fly'"):
        candidate_plans("fly", scene.layout, robot, np.random.default_rng(0), 3)
