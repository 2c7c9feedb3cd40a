"""Scripted manipulation tasks: reach, push, pick-and-place, poke.

Each task turns a layout and a seeded RNG into a commanded plan (a
:class:`~vap_ros.robot.JointTrajectory` with gripper widths) by IK on straight-line tool
motions with minimum-jerk timing. The robot executes it through its actuators; contacts move
the objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from vap_ros.errors import ConfigError
from vap_ros.robot import JointTrajectory, RobotModel
from vap_ros.sim.ik import CartesianPlanner, IKSolver, PlanningError, top_down
from vap_ros.sim.layout import WORKSPACE, ObjectSpec, SceneLayout

__all__ = ["HOME_Q", "TASKS", "TaskPlan", "home_configuration", "plan_task"]

#: Franka's "ready" pose (radians): tool 0.49 m above the table, pointing down.
HOME_Q = np.array([0.0, -0.785, 0.0, -2.356, 0.0, 1.571, 0.785])
_OPEN, _CLOSED = 0.08, 0.0
_HOVER = 0.12  # metres above an object's top before descending
_MIN_TCP_Z = 0.016  # keeps the fingertips ~6 mm above the table


@dataclass
class TaskPlan:
    """A planned episode: the task name, the commanded plan and what it aims at."""

    task: str
    trajectory: JointTrajectory
    info: dict = field(default_factory=dict)


def home_configuration(rng: np.random.Generator | None = None, jitter: float = 0.08):
    """``HOME_Q`` plus a uniform jitter (radians) per joint, if an RNG is given."""
    if rng is None:
        return HOME_Q.copy()
    return HOME_Q + rng.uniform(-jitter, jitter, HOME_Q.shape)


def _extent(o: ObjectSpec) -> float:
    """Horizontal radius of an object (box: half-diagonal)."""
    return float(np.hypot(o.size[0], o.size[1])) if o.shape == "box" else float(o.size[0])


def _grasp_yaw(o: ObjectSpec, home_yaw: float) -> float:
    """Tool yaw that closes the fingers on the box's y faces, nearest the home yaw."""
    if o.shape != "box":
        return home_yaw
    k = np.round((home_yaw - o.yaw) / np.pi)
    return float(o.yaw + k * np.pi)


def _free_spot(rng, layout: SceneLayout, avoid: ObjectSpec, clearance: float = 0.12):
    for _ in range(100):
        xy = np.array([rng.uniform(*WORKSPACE["x"]), rng.uniform(*WORKSPACE["y"])])
        if np.linalg.norm(xy - avoid.pos[:2]) < 0.12:
            continue
        if all(np.linalg.norm(xy - np.asarray(o.pos[:2])) > clearance
               for o in layout.objects if o.name != avoid.name):
            return xy
    raise PlanningError("no free spot to place the object on")


def _reach(p: CartesianPlanner, layout: SceneLayout, rng, home_yaw: float) -> dict:
    target = np.array([rng.uniform(0.32, 0.62), rng.uniform(-0.28, 0.28),
                       rng.uniform(0.08, 0.35)])
    yaw = home_yaw + rng.uniform(-0.8, 0.8)
    width = float(rng.choice([_OPEN, 0.04, _CLOSED]))
    p.move_to(top_down(target, yaw), speed=0.2).grip(width, 0.5).wait(0.3)
    return {"target_m": target.round(4).tolist(), "yaw": round(yaw, 4)}


def _pick(layout: SceneLayout, rng, graspable: bool) -> ObjectSpec:
    objs = [o for o in layout.objects
            if not graspable or (o.shape != "sphere" and 2 * o.grasp_half_width < 0.07)]
    if not objs:
        raise PlanningError("no suitable object in the scene for this task")
    return objs[int(rng.integers(len(objs)))]


def _push(p: CartesianPlanner, layout: SceneLayout, rng, home_yaw: float) -> dict:
    o = _pick(layout, rng, graspable=False)
    c = np.asarray(o.pos, np.float64)
    # Push towards the workspace centre, +- 60 degrees, so the object stays on the table.
    to_centre = np.array([np.mean(WORKSPACE["x"]), 0.0]) - c[:2]
    ang = np.arctan2(to_centre[1], to_centre[0]) + rng.uniform(-1.0, 1.0)
    d = np.array([np.cos(ang), np.sin(ang), 0.0])
    z = max(o.half_height, _MIN_TCP_Z)
    start = c - d * (_extent(o) + 0.035)
    start[2] = z
    dist = float(rng.uniform(0.08, 0.14))
    yaw = home_yaw + rng.uniform(-0.5, 0.5)
    p.grip(_CLOSED, 0.4)
    p.move_to(top_down(start + [0, 0, _HOVER + o.half_height], yaw), speed=0.2)
    p.move_to(top_down(start, yaw), speed=0.12)
    p.move_to(top_down(start + d * (dist + 0.035), yaw), speed=0.08)
    p.move_to(top_down(p.pose[:3, 3] + [0, 0, 0.1], yaw), speed=0.15)
    return {"object": o.name, "direction": d[:2].round(4).tolist(), "distance_m": round(dist, 4)}


def _pick_place(p: CartesianPlanner, layout: SceneLayout, rng, home_yaw: float) -> dict:
    o = _pick(layout, rng, graspable=True)
    c = np.asarray(o.pos, np.float64)
    yaw = _grasp_yaw(o, home_yaw)
    z = max(o.half_height, _MIN_TCP_Z + 0.004)
    above = c + [0, 0, o.half_height + _HOVER]
    grasp = np.array([c[0], c[1], z])
    xy = _free_spot(rng, layout, o)
    place_yaw = yaw + rng.uniform(-0.5, 0.5)
    p.grip(_OPEN, 0.3)
    p.move_to(top_down(above, yaw), speed=0.2)
    p.move_to(top_down(grasp, yaw), speed=0.1)
    p.grip(_CLOSED, 0.6).wait(0.3)
    p.move_to(top_down(above, yaw), speed=0.1)
    p.move_to(top_down([xy[0], xy[1], above[2]], place_yaw), speed=0.2)
    p.move_to(top_down([xy[0], xy[1], z + 0.004], place_yaw), speed=0.1)
    p.grip(_OPEN, 0.5)
    p.move_to(top_down([xy[0], xy[1], above[2]], place_yaw), speed=0.15)
    return {"object": o.name, "place_xy_m": xy.round(4).tolist()}


def _poke(p: CartesianPlanner, layout: SceneLayout, rng, home_yaw: float) -> dict:
    o = _pick(layout, rng, graspable=False)
    c = np.asarray(o.pos, np.float64)
    ang = rng.uniform(-np.pi, np.pi)
    d = np.array([np.cos(ang), np.sin(ang), 0.0])
    # Approach from the robot's side of the object when the far side is out of reach.
    if np.dot(d[:2], c[:2]) < 0:
        d = -d
    z = max(o.half_height, _MIN_TCP_Z)
    back = c - d * (_extent(o) + 0.07)
    back[2] = z
    yaw = home_yaw + rng.uniform(-0.5, 0.5)
    p.grip(_CLOSED, 0.4)
    p.move_to(top_down(back + [0, 0, _HOVER + o.half_height], yaw), speed=0.2)
    p.move_to(top_down(back, yaw), speed=0.12)
    jab = back + d * 0.085  # ~1.5 cm past first contact
    p.move_to(top_down(jab, yaw), speed=0.3, min_duration_s=0.3)
    p.move_to(top_down(back, yaw), speed=0.2, min_duration_s=0.35)
    p.move_to(top_down(back + [0, 0, 0.1], yaw), speed=0.15)
    return {"object": o.name, "direction": d[:2].round(4).tolist()}


#: name -> planner(planner, layout, rng, home_yaw) -> info
TASKS: dict[str, Callable] = {"reach": _reach, "push": _push, "pick_place": _pick_place,
                              "poke": _poke}


def plan_task(task: str, layout: SceneLayout, robot: RobotModel, rng: np.random.Generator,
              q0: np.ndarray | None = None, width0_m: float = _OPEN,
              dt_s: float = 0.02,
              target_map: Callable[[np.ndarray], np.ndarray] | None = None) -> TaskPlan:
    """Plan one task from the start configuration ``q0`` (default ``HOME_Q``).

    The plan holds still for 0.3 s, runs the task, then holds 0.3 s. ``target_map`` maps
    every Cartesian target of the task (``CartesianPlanner``): variants of the same plan.

    Raises:
        ConfigError: unknown task name.
        PlanningError: no suitable object, or a target IK cannot reach.
    """
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; available: {sorted(TASKS)}")
    q0 = HOME_Q.copy() if q0 is None else np.asarray(q0, np.float64)
    ik = IKSolver(robot, HOME_Q)
    p = CartesianPlanner(ik, q0, width0_m, dt_s, target_map)
    R = p.pose[:3, :3]
    home_yaw = float(np.arctan2(R[1, 0], R[0, 0]))
    p.wait(0.3)
    info = TASKS[task](p, layout, rng, home_yaw)
    p.wait(0.3)
    return TaskPlan(task, p.trajectory(), info)
