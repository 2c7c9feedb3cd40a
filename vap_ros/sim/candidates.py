"""Candidate plans for one scene and their real outcomes: what plan ranking is measured on.

A *ranking scene* is episode ``index`` of a run with seed ``S``, drawn exactly as
``vap-ros sim record`` draws it (``default_rng([S, index])``: layout, start pose, then the
task's own targets), so the scene of ``vap-ros rank --sim-seed S`` is the first frame of
``vap-ros sim record --seed S``'s first episode.

Candidates (:func:`candidate_plans`): the task's scripted plan (the *nominal* plan, candidate 0)
and k - 1 variants of it. A variant replays the task planner with the very same random draws
(same object, same push direction, same place spot) while every Cartesian target goes through
a :class:`Perturbation`: rotated about a pivot (the task's object centre, or the reach target)
and shifted horizontally. Rotating about the object turns a push into a push in another
direction, a grasp into a grasp at another angle, a place spot into another spot; the shift
moves grasp and contact points off the object. Small perturbations still do the task, large
ones miss: the candidates have genuinely different outcomes. The joint plans come from the
same IK and minimum-jerk timing as every scripted plan (no joint noise).

Ground truth (:func:`execute_plans`): every candidate runs in the physics from the same initial
state (a fresh reset of one compiled scene), and the cameras are rendered when the rollout
ends; the outcome holds the final images, object poses and tool position.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from vap_ros.errors import ConfigError
from vap_ros.robot import JointTrajectory, RobotModel
from vap_ros.sim.config import SceneConfig
from vap_ros.sim.ik import PlanningError
from vap_ros.sim.layout import SceneLayout, sample_layout
from vap_ros.sim.tasks import TASKS, TaskPlan, home_configuration, plan_task

__all__ = ["Candidate", "Outcome", "Perturbation", "RankScene", "candidate_plans",
           "execute_plans", "rank_scene", "task_success"]

#: Largest horizontal shift (m) and rotation (rad) of a variant's targets.
MAX_SHIFT_M = 0.06
MAX_ROTATION_RAD = 0.5
#: A variant whose perturbation cannot be planned (IK) is redrawn this many times.
_REDRAWS = 20


@dataclass(frozen=True)
class Perturbation:
    """A map of Cartesian targets: rotate ``rotation_rad`` about the vertical axis through
    ``pivot_xy_m`` (the tool yaw turns with it), then shift by ``shift_xy_m``. Heights are
    unchanged, so contact and grasp heights stay those of the task."""

    shift_xy_m: tuple[float, float] = (0.0, 0.0)
    rotation_rad: float = 0.0
    pivot_xy_m: tuple[float, float] = (0.0, 0.0)

    @property
    def is_identity(self) -> bool:
        return self.rotation_rad == 0.0 and self.shift_xy_m == (0.0, 0.0)

    def __call__(self, T_base_tcp: np.ndarray) -> np.ndarray:
        c, s = math.cos(self.rotation_rad), math.sin(self.rotation_rad)
        Rz = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        pivot = np.array([*self.pivot_xy_m, 0.0])
        T = np.array(T_base_tcp, np.float64)
        T[:3, :3] = Rz @ T[:3, :3]
        T[:3, 3] = Rz @ (T[:3, 3] - pivot) + pivot + np.array([*self.shift_xy_m, 0.0])
        return T

    def to_dict(self) -> dict:
        return {"shift_xy_m": [round(float(v), 4) for v in self.shift_xy_m],
                "rotation_rad": round(float(self.rotation_rad), 4),
                "pivot_xy_m": [round(float(v), 4) for v in self.pivot_xy_m]}


@dataclass
class Candidate:
    """One candidate plan: ``id`` (0 = nominal), the plan (stamps from 0) and how it was made."""

    id: int
    trajectory: JointTrajectory
    perturbation: Perturbation
    info: dict = field(default_factory=dict)

    @property
    def nominal(self) -> bool:
        return self.perturbation.is_identity


@dataclass
class RankScene:
    """A scene to rank plans in: its layout, the robot's start pose and the nominal plan.

    ``seed``/``index``: the scene is ``default_rng([seed, index])``'s (as ``sim record``).
    ``plan_rng_state``: the RNG state the nominal plan was drawn from (variants replay it).
    """

    seed: int
    index: int
    task: str
    layout: SceneLayout
    q0: np.ndarray
    nominal: TaskPlan
    plan_rng_state: Mapping[str, Any]


@dataclass
class Outcome:
    """What a plan really did: camera images at the rollout's end (name -> (H, W, 3) uint8 at
    the scene's size), object poses ``T_base_object`` and the tool position (m)."""

    images: dict[str, np.ndarray]
    object_poses: dict[str, np.ndarray]
    tcp_m: np.ndarray
    arm_q: np.ndarray


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; expected one of {sorted(TASKS)}",
                          key="task", value=task)


def rank_scene(cfg: SceneConfig, robot: RobotModel, seed: int, task: str,
               index: int = 0) -> RankScene:
    """Episode ``index`` of seed ``seed`` with ``task``, drawn as ``sim record`` draws it.

    Raises:
        ConfigError: unknown task.
        PlanningError: the task cannot be planned in this layout (e.g. nothing to grasp).
    """
    _check_task(task)
    rng = np.random.default_rng([int(seed), int(index)])
    layout = sample_layout(cfg, rng)
    q0 = home_configuration(rng)
    state = rng.bit_generator.state
    nominal = plan_task(task, layout, robot, rng, q0)
    return RankScene(int(seed), int(index), task, layout, q0, nominal, state)


def _replay(state: Mapping[str, Any]) -> np.random.Generator:
    rng = np.random.default_rng()
    rng.bit_generator.state = state
    return rng


def _pivot(task: str, layout: SceneLayout, info: dict) -> tuple[float, float]:
    """The task's object centre, or the reach target."""
    if "object" in info:
        o = next(o for o in layout.objects if o.name == info["object"])
        return float(o.pos[0]), float(o.pos[1])
    if "target_m" in info:
        return float(info["target_m"][0]), float(info["target_m"][1])
    raise ConfigError(f"task {task!r} reports neither an object nor a target: {info}")


def candidate_plans(task: str, layout: SceneLayout, robot: RobotModel, rng: np.random.Generator,
                    k: int, *, q0: np.ndarray | None = None,
                    plan_rng_state: Mapping[str, Any] | None = None) -> list[Candidate]:
    """The task's scripted plan (candidate 0) and ``k - 1`` perturbed variants of it.

    The nominal plan is drawn from ``rng`` (or replayed from ``plan_rng_state``, the state a
    ``RankScene``'s nominal plan was drawn from); variant i replays the same draws with every
    Cartesian target perturbed (module docstring): shift ``r`` in 0.01 .. ``MAX_SHIFT_M`` m at
    a random angle and rotation in ±``MAX_ROTATION_RAD``, drawn from ``rng`` after the
    nominal plan. A perturbation the IK cannot reach is redrawn (up to 20 times).

    Raises:
        ConfigError: ``k`` < 2 or an unknown task.
        PlanningError: the nominal plan, or a variant after every redraw, cannot be planned.
    """
    _check_task(task)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
        raise ConfigError(f"candidates k={k!r}: expected an integer >= 2 (the nominal plan "
                          "and at least one variant)", key="candidates", value=k)
    if plan_rng_state is None:  # rng itself moves past the nominal plan's draws
        state = rng.bit_generator.state
        nominal = plan_task(task, layout, robot, rng, q0)
    else:
        state = plan_rng_state
        nominal = plan_task(task, layout, robot, _replay(state), q0)
    pivot = _pivot(task, layout, nominal.info)
    out = [Candidate(0, nominal.trajectory, Perturbation(pivot_xy_m=pivot), nominal.info)]
    for i in range(1, int(k)):
        last: PlanningError | None = None
        for _ in range(_REDRAWS):
            r = float(rng.uniform(0.01, MAX_SHIFT_M))
            a = float(rng.uniform(-np.pi, np.pi))
            pert = Perturbation((r * math.cos(a), r * math.sin(a)),
                                float(rng.uniform(-MAX_ROTATION_RAD, MAX_ROTATION_RAD)), pivot)
            try:
                tp = plan_task(task, layout, robot, _replay(state), q0, target_map=pert)
            except PlanningError as err:
                last = err
                continue
            out.append(Candidate(i, tp.trajectory, pert, tp.info))
            break
        else:
            raise PlanningError(f"variant {i} of the {task!r} plan could not be planned in "
                                f"{_REDRAWS} draws: {last}")
    return out


def execute_plans(cfg: SceneConfig, scene: RankScene, plans: list[JointTrajectory], *,
                  end_s: float, robot: RobotModel | None = None
                  ) -> tuple[dict[str, np.ndarray], list, list[Outcome]]:
    """Run every plan in the physics from the scene's initial state; render at ``end_s``.

    One scene is compiled; before each plan the rig is reset (objects at the layout, robot at
    ``q0`` at rest, time 0), so every plan starts from the same state and the result does not
    depend on the order.

    Returns:
        (first images (name -> (H, W, 3) uint8 at time 0), calibrated cameras, one
        ``Outcome`` per plan at ``end_s`` seconds after the plan's start).
    Raises:
        TrajectoryError: a plan is invalid (names, limits, velocities).
    """
    from vap_ros.sim.rig import SimRig
    from vap_ros.sim.scene import build_scene

    sc = build_scene(cfg, scene.layout, robot)
    steps = int(round(end_s * cfg.physics_hz))
    outcomes = []
    with SimRig(sc, q0=scene.q0) as rig:
        first = rig.render()
        cameras = rig.cameras()
        for plan in plans:
            rig.reset(scene.q0)
            rig.execute(plan, start_ns=0)
            rig.step(steps)
            images = rig.render()
            q = rig.arm_q
            tcp = sc.robot.tcp_poses(q[None])[0][:3, 3]
            outcomes.append(Outcome(images, rig.object_poses(), tcp, q))
    return first, cameras, outcomes


def task_success(task: str, info: dict, outcome: Outcome, goal: Outcome, *,
                 tolerance_m: float = 0.03) -> tuple[bool, float]:
    """(success, distance m): the task's object (reach: the tool) ends within ``tolerance_m``
    of where it is in the goal outcome, measured horizontally (objects) or in 3-D (tool)."""
    if task == "reach" or "object" not in info:
        d = float(np.linalg.norm(outcome.tcp_m - goal.tcp_m))
    else:
        name = info["object"]
        d = float(np.linalg.norm(outcome.object_poses[name][:2, 3]
                                 - goal.object_poses[name][:2, 3]))
    return d <= tolerance_m, d
