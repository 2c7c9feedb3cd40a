"""The joint model as a closed-loop policy on the simulated rig, and its evaluation.

One step of the policy (``ActionImagePolicy.plan``): the current image of every view, the
current joint state as its action image (FK through the codec) and a goal image per view go
into ``WorldModel.predict_joint``; the generated action images of the next T - 1 frames are
decoded across the views (``label.decode.RobustDecoder``: triangulation) into end-effector poses +
gripper states, turned into joint positions by the sim's IK (pinocchio, damped least squares,
seeded by the previous solution) and timed at the model's frame rate (stretched where a joint
would exceed its velocity limit). The rig runs that chunk, new images are rendered, and the
policy plans again (``run_policy``), for ``chunks`` chunks. A ``generate_actions:
joint_states`` model (the action head) gets the current joint state as a vector too and
generates the joint sequence itself: averaged over the views and denormalised, it is the
chunk's joint plan (clipped to the limits; no decoding, no IK).

``planner="goal"`` does not generate the next frames: it uses the model's *labelling* mode on
the goal images (a still clip: each repeated for T frames; ``label_seeds`` draws, median of
the triangulated positions) to read where the goal images show the tool, and moves the tool
straight there, at most ``speed_m_s``, keeping the current tool orientation (the labeller's
rotation does not work at 64 px, docs/policy.md) with the gripper as labelled in the goal.
Every chunk re-plans from the robot's actual joint state. Positions only: it reaches where the
goal images show the tool; it does not grasp or push on the way.

Evaluation (``evaluate_policy``) on held-out scenes of a task: scene i of seed S is drawn as
``vap-ros sim record`` draws episode i (layout, start pose, the task's scripted plan). The
scripted plan is run first in the scene: its final camera images are the goal images (a
picture of the wanted end state, as plan ranking uses) and its result is the upper bound. The
error of a run is measured against the task's intent: reach, the tool's distance to the target
point; push, the object's distance (horizontal) to where the push aims it (start + direction x
distance); pick_place, the object's distance to the place point. Success: error < 3 cm. The
random-target baseline reaches a random point of the reach task's target box.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vap_ros.errors import ConfigError, TrajectoryError, VapError
from vap_ros.label.data import JointStateScale, action_codec, gripper_open
from vap_ros.prompts import ActionImageCodec

__all__ = ["ActionImagePolicy", "PolicyScene", "evaluate_policy", "make_scene", "run_policy",
           "task_error"]

SUCCESS_M = 0.03
EVAL_TASKS = ("reach", "push", "pick_place")
PLANNERS = ("generate", "goal")


@dataclass
class PolicyScene:
    """A held-out scene: config, layout, start pose, the task's scripted plan and aim."""

    task: str
    seed: int
    index: int
    config: Any
    layout: Any
    q0: np.ndarray
    plan: Any
    info: dict
    goal_images: np.ndarray | None = None  # (V, H, W, 3), from the scripted run
    object_start: dict = field(default_factory=dict)


def make_scene(task: str, seed: int, index: int, *, size: int = 64,
               randomize_cameras: bool = False, retries: int = 3) -> PolicyScene:
    """Scene ``index`` of ``seed`` for ``task``, drawn as ``record_episodes`` draws it.

    Raises:
        ConfigError: unknown task. PlanningError: the task cannot be planned in any draw.
    """
    from vap_ros.sim import SceneConfig, home_configuration, plan_task, sample_layout
    from vap_ros.sim.ik import PlanningError
    from vap_ros.sim.record import _robot

    if task not in EVAL_TASKS:
        raise ConfigError(f"policy task {task!r}: expected one of {list(EVAL_TASKS)}")
    cfg = SceneConfig(width=size, height=size, camera_hz=10,
                      randomize_cameras=randomize_cameras)
    rng = np.random.default_rng([seed, index])
    last: Exception | None = None
    for _ in range(retries + 1):
        layout = sample_layout(cfg, rng)
        q0 = home_configuration(rng)
        try:
            tp = plan_task(task, layout, _robot(cfg), rng, q0)
        except PlanningError as err:
            last = err
            continue
        return PolicyScene(task, seed, index, cfg, layout, q0, tp.trajectory, tp.info)
    raise PlanningError(f"scene {index} of seed {seed}: task {task!r} could not be planned: "
                        f"{last}")


def _rig(scene: PolicyScene):
    from vap_ros.sim import SimRig, build_scene
    from vap_ros.sim.record import _robot

    return SimRig(build_scene(scene.config, scene.layout, _robot(scene.config)), q0=scene.q0)


def _run_to_end(rig, settle_s: float = 0.5) -> None:
    while rig.busy:
        rig.step(50)
    rig.step(int(settle_s * 1e9 / rig.timestep_ns))


def task_error(scene: PolicyScene, rig) -> float:
    """The run's error (m) against the task's intent (see the module docstring)."""
    info = scene.info
    if scene.task == "reach":
        tool = rig.robot.tcp_poses(rig.arm_q[None], np.array([rig.gripper_width_m]))[0]
        return float(np.linalg.norm(tool[:3, 3] - np.asarray(info["target_m"])))
    obj = rig.object_poses()[info["object"]][:3, 3]
    if scene.task == "push":
        start = scene.object_start[info["object"]][:3, 3]
        aim = start[:2] + np.asarray(info["direction"]) * info["distance_m"]
    else:
        aim = np.asarray(info["place_xy_m"])
    return float(np.linalg.norm(obj[:2] - aim))


def run_scripted(scene: PolicyScene) -> float:
    """Run the scripted plan; keeps the final images as the scene's goal; returns its error."""
    with _rig(scene) as rig:
        scene.object_start = rig.object_poses()
        rig.execute(scene.plan)
        _run_to_end(rig)
        images = rig.render()
        scene.goal_images = np.stack([images[n] for n in scene.config.camera_names])
        return task_error(scene, rig)


def run_random_target(scene: PolicyScene, rng: np.random.Generator) -> float:
    """The random-target baseline: reach a random point of the reach task's target box."""
    from vap_ros.sim.ik import CartesianPlanner, IKSolver, PlanningError, top_down
    from vap_ros.sim.tasks import HOME_Q

    with _rig(scene) as rig:
        scene.object_start = scene.object_start or rig.object_poses()
        ik = IKSolver(rig.robot, HOME_Q)
        for _ in range(10):
            target = np.array([rng.uniform(0.32, 0.62), rng.uniform(-0.28, 0.28),
                               rng.uniform(0.08, 0.35)])
            try:
                p = CartesianPlanner(ik, scene.q0, 0.08)
                R = p.pose[:3, :3]
                p.move_to(top_down(target, float(np.arctan2(R[1, 0], R[0, 0]))), speed=0.2)
                rig.execute(p.trajectory())
                break
            except (PlanningError, VapError):
                continue
        _run_to_end(rig)
        return task_error(scene, rig)


class ActionImagePolicy:
    """Plans chunks from images with a joint model (see the module docstring).

    Args:
        model: a ``WorldModel`` with ``generate_actions: action_images`` or ``joint_states``.
        robot: the ``RobotModel`` (FK, IK, gripper width).
        steps, seed: sampler settings.
        planner: ``"generate"`` (the next frames' actions generated with the video) or
            ``"goal"`` (the tool moved to where the model labels it in the goal images).
        speed_m_s: the goal planner's largest tool speed.
        label_seeds: the goal planner's draws of the goal's label (median).
        guidance_scale: the generating planner's classifier-free guidance towards the goal
            images (1.0: none; the model's ``predict_joint``).
    """

    def __init__(self, model, robot, *, steps: int | None = None, seed: int = 0,
                 codec: ActionImageCodec | None = None, planner: str = "generate",
                 speed_m_s: float = 0.15, label_seeds: int = 5, guidance_scale: float = 1.0):
        from vap_ros.sim.ik import IKSolver
        from vap_ros.sim.tasks import HOME_Q

        if not model.config.joint_actions:
            raise ConfigError("the policy needs a model that generates actions "
                              "(generate_actions 'action_images' or 'joint_states'); this one "
                              f"has {model.config.generate_actions!r}")
        if planner not in PLANNERS:
            raise ConfigError(f"policy planner {planner!r}: expected one of {list(PLANNERS)}")
        if not (np.isfinite(speed_m_s) and speed_m_s > 0):
            raise ConfigError(f"policy speed_m_s must be a positive number, got {speed_m_s}")
        self.model, self.robot = model, robot
        self.steps, self.seed = steps, seed
        if label_seeds < 1:
            raise ConfigError(f"policy label_seeds must be >= 1, got {label_seeds}")
        if not (np.isfinite(guidance_scale) and guidance_scale >= 1.0):
            raise ConfigError(f"policy guidance_scale must be a number >= 1 (1: no guidance), "
                              f"got {guidance_scale}")
        self.guidance_scale = float(guidance_scale)
        self.planner, self.speed_m_s = planner, float(speed_m_s)
        self.label_seeds = int(label_seeds)
        self._goal_key: bytes | None = None
        self._goal_label: tuple[np.ndarray, bool] | None = None
        self.codec = codec or action_codec(model.config)
        self.ik = IKSolver(robot, HOME_Q)
        self.max_width = robot.gripper.max_width_m if robot.gripper else 0.0
        self.scale = JointStateScale(robot) if model.config.joint_states else None

    def plan(self, images: np.ndarray, cameras, q: np.ndarray, width: float,
             goal: np.ndarray | None, vlim: np.ndarray, chunk: int = 0):
        """One chunk: (JointTrajectory, generated video, action images, decoded poses)."""
        from vap_ros.label.decode import RobustDecoder
        from vap_ros.label.labeller import fill_gaps

        T_now = self.robot.tcp_poses(q[None], np.array([width]))[0]
        lo, hi = self.robot.lower_limits + 1e-3, self.robot.upper_limits - 1e-3
        if self.planner == "goal":
            return self._plan_to_goal(images, cameras, q, width, T_now, goal, vlim)
        state = self.codec.encode(T_now[None], gripper_open([width]), cameras)[:, 0]
        if self.scale is not None:  # the action head: the joint sequence is the plan
            video, joints = self.model.predict_joint(
                images, state, goal, steps=self.steps, seed=self.seed + chunk,
                joint_state=self.scale.normalise(q, width), **self._guidance())
            q_all, w_all = self.scale.denormalise(joints.mean(axis=0))
            q_all[0], w_all[0] = q, width
            poses = self.robot.tcp_poses(q_all, w_all)
            grip = gripper_open(w_all)
            acts = self.codec.encode(poses, grip, cameras)
            traj = self._timed(q, np.clip(q_all[1:], lo, hi), grip, vlim)
            return traj, video, acts, poses, np.ones(len(poses) - 1, bool)
        video, acts = self.model.predict_joint(images, state, goal, steps=self.steps,
                                               seed=self.seed + chunk, **self._guidance())
        dec = RobustDecoder(self.codec).decode(acts[:, 1:], cameras)
        valid = np.isfinite(dec.T_base_ee).all(axis=(1, 2))
        poses = np.concatenate([T_now[None], dec.T_base_ee])
        grip = np.concatenate([gripper_open([width]), dec.gripper_open])
        poses, grip = fill_gaps(poses, grip, np.concatenate([[True], valid]))
        return self._timed(q, self._ik(q, poses[1:]), grip, vlim), video, acts, poses, valid

    def _guidance(self) -> dict[str, float]:
        """``predict_joint``'s guidance argument (none when there is no guidance)."""
        return {"guidance_scale": self.guidance_scale} if self.guidance_scale != 1.0 else {}

    def _ik(self, q: np.ndarray, poses: np.ndarray) -> np.ndarray:
        """Joint positions of the poses, each IK seeded by the previous solution, clipped to
        the limits; an unreachable pose holds the last reachable configuration."""
        from vap_ros.sim.ik import PlanningError

        lo, hi = self.robot.lower_limits + 1e-3, self.robot.upper_limits - 1e-3
        qs, prev = [], q
        for T in poses:
            try:
                prev = np.clip(self.ik.solve(T, prev), lo, hi)
            except PlanningError:
                pass
            qs.append(prev)
        return np.asarray(qs)

    def label_still(self, images: np.ndarray, cameras) -> tuple[np.ndarray, bool] | None:
        """The tool position (3,) and gripper state the model labels in still images (V, H,
        W, 3): each view repeated for the model's T frames, labelled with ``label_seeds``
        seeds; the median of the positions of every frame where the tool was triangulated
        (the majority gripper state); None where it was in none."""
        from vap_ros.label.decode import RobustDecoder

        clip = np.repeat(images[:, None], self.model.config.num_frames, axis=1)
        xyz, grip = [], []
        for k in range(self.label_seeds):
            out = self.model.label(clip, steps=1, seed=self.seed + 1000 * k)
            if self.scale is not None:  # the action head: joints -> FK
                q_all, w_all = self.scale.denormalise(out.mean(axis=0))
                xyz.append(self.robot.tcp_poses(q_all, w_all)[:, :3, 3])
                grip.append(gripper_open(w_all))
            else:
                dec = RobustDecoder(self.codec).decode(out, cameras)
                xyz.append(dec.T_base_ee[:, :3, 3])
                grip.append(dec.gripper_open)
        p, g = np.concatenate(xyz), np.concatenate(grip)
        ok = np.isfinite(p).all(axis=1)
        if not ok.any():
            return None
        return np.median(p[ok], axis=0), bool(g[ok].mean() >= 0.5)

    def _plan_to_goal(self, images, cameras, q, width, T_now, goal, vlim):
        """One chunk of the goal planner (see the module docstring)."""
        if goal is None:
            raise ConfigError("the goal planner needs goal images")
        key = np.ascontiguousarray(goal).tobytes() + b"".join(
            np.ascontiguousarray(c.K).tobytes() + np.ascontiguousarray(c.T_cam_base).tobytes()
            for c in cameras)
        if key != self._goal_key:  # a new goal, or a new calibration: label it again
            self._goal_key, self._goal_label = key, self.label_still(goal, cameras)
        n = self.model.config.num_frames - 1
        poses = np.repeat(T_now[None], n + 1, axis=0)
        grip = np.full(n + 1, bool(gripper_open([width])[0]))
        valid = np.zeros(n, bool)
        if self._goal_label is not None:  # else: hold, and the chunk counts as undecoded
            step = self._goal_label[0] - T_now[:3, 3]
            dist = float(np.linalg.norm(step))
            reach = min(dist, self.speed_m_s * n / self.model.config.fps)
            if dist > 1e-6:
                poses[:, :3, 3] += np.arange(n + 1)[:, None] / n * step / dist * reach
            grip[1:] = self._goal_label[1]
            valid[:] = True
        acts = self.codec.encode(poses, grip, cameras)
        video = np.repeat(images[:, None], n + 1, axis=1)  # nothing generated: the still
        return (self._timed(q, self._ik(q, poses[1:]), grip, vlim), video, acts, poses,
                valid)

    def _timed(self, q: np.ndarray, q_plan: np.ndarray, grip: np.ndarray, vlim: np.ndarray):
        """The plan (T - 1, n) from ``q`` at the model's frame rate, stretched where a joint
        would exceed 90 % of its velocity limit; the gripper binary (open: full width)."""
        from vap_ros.robot import JointTrajectory

        dt = 1.0 / self.model.config.fps
        steps_q = np.diff(np.vstack([q[None], q_plan]), axis=0)
        seg = np.maximum(dt, (np.abs(steps_q) / (0.9 * vlim)).max(axis=1))
        stamps = np.round(np.cumsum(seg) * 1e9).astype(np.int64)
        widths = np.where(grip[1:], self.max_width, 0.0)
        return JointTrajectory(self.robot.arm_joint_names, q_plan, stamps, widths)


def run_policy(policy: ActionImagePolicy, scene: PolicyScene, *, chunks: int = 6,
               record: bool = False) -> dict[str, Any]:
    """Closed loop: plan a chunk from the current images, run it, repeat ``chunks`` times.

    Returns:
        error_m, success, chunks, triangulated (fraction of decoded frames), seconds; with
        ``record`` also ``frames`` (V, N, H, W, 3) real images after each chunk start and
        ``predicted`` / ``action_images`` of each chunk.
    """
    t0 = time.perf_counter()
    out: dict[str, Any] = {"frames": [], "predicted": [], "action_images": []}
    tri = []
    rejected = 0
    with _rig(scene) as rig:
        scene.object_start = scene.object_start or rig.object_poses()
        cams = rig.cameras()
        names = scene.config.camera_names
        for k in range(chunks):
            imgs = rig.render()
            images = np.stack([imgs[n] for n in names])
            traj, video, acts, _, valid = policy.plan(
                images, cams, rig.arm_q, rig.gripper_width_m, scene.goal_images,
                rig.velocity_limits, chunk=k)
            tri.append(valid.mean())
            if record:
                out["frames"].append(images)
                out["predicted"].append(video)
                out["action_images"].append(acts)
            try:
                rig.execute(traj)
            except TrajectoryError:  # an invalid chunk: the robot holds, counted
                rejected += 1
            while rig.busy:
                rig.step(50)
        rig.step(int(0.5e9 / rig.timestep_ns))
        err = task_error(scene, rig)
    res = {"error_m": err, "success": err < SUCCESS_M, "chunks": chunks,
           "rejected_chunks": rejected, "triangulated": float(np.mean(tri)),
           "seconds": time.perf_counter() - t0}
    if record:
        res.update(out)
    return res


def evaluate_policy(model, task: str, episodes: int, seed: int, *, chunks: int = 6,
                    steps: int | None = None, randomize_cameras: bool = False,
                    progress: bool = True, planner: str = "generate",
                    guidance_scale: float = 1.0) -> dict[str, Any]:
    """Success rate and mean final error of the policy, the scripted plan (upper bound) and
    the random-target baseline on ``episodes`` held-out scenes (see the module docstring)."""
    from tqdm import tqdm

    from vap_ros.robot import RobotModel

    policy = ActionImagePolicy(model, RobotModel.from_preset("panda"), steps=steps, seed=seed,
                               planner=planner, guidance_scale=guidance_scale)
    size = model.config.height
    rows: dict[str, list] = {"policy": [], "scripted": [], "random_target": []}
    skipped = []
    rejected = 0
    rng = np.random.default_rng([seed, 99])
    for i in tqdm(range(episodes), desc=f"policy {task}", unit="episode", disable=not progress):
        try:
            scene = make_scene(task, seed, i, size=size, randomize_cameras=randomize_cameras)
        except VapError as err:
            skipped.append({"episode": i, "error": str(err)})
            continue
        rows["scripted"].append(run_scripted(scene))
        rows["random_target"].append(run_random_target(scene, rng))
        r = run_policy(policy, scene, chunks=chunks)
        rows["policy"].append(r["error_m"])
        rejected += r["rejected_chunks"]

    def summary(errs):
        e = np.asarray(errs, np.float64)
        return {"task": task, "episodes": int(e.size),
                "success_rate": round(float((e < SUCCESS_M).mean()), 4) if e.size else None,
                "mean_final_error_m": round(float(e.mean()), 4) if e.size else None}

    out = summary(rows["policy"])
    out["baselines"] = {"scripted": summary(rows["scripted"]),
                        "random_target": summary(rows["random_target"])}
    out["per_episode_error_m"] = {k: [round(float(x), 4) for x in v] for k, v in rows.items()}
    out["skipped"] = skipped
    out["rejected_chunks"] = rejected
    out["settings"] = {"seed": seed, "chunks": chunks, "planner": planner,
                       "guidance_scale": guidance_scale,
                       "steps": steps or model.config.steps,
                       "randomize_cameras": randomize_cameras, "success_m": SUCCESS_M}
    return out
