"""The simulated rig: physics, a joint-trajectory controller, joint-state readout and rendering.

The arm and fingers are driven by position servos whose set-points come from the commanded
plan, interpolated at the physics rate (like a ros2_control joint-trajectory controller): the
recorded joint states are what the physics did, not the plan.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vap_ros.camera import Camera
from vap_ros.errors import ConfigError, TrajectoryError
from vap_ros.robot import JointTrajectory
from vap_ros.sim.cameras import camera_from_mujoco
from vap_ros.sim.config import SceneConfig
from vap_ros.sim.layout import sample_layout
from vap_ros.sim.scene import MARKER_GROUP, Scene, build_scene, mujoco
from vap_ros.sim.tasks import HOME_Q

__all__ = ["JointStateSample", "SimRig"]


@dataclass(frozen=True)
class JointStateSample:
    """One joint state: ``names`` (arm then fingers), positions (rad / m), velocities, efforts
    (N m / N), at ``stamp_ns`` of simulated time."""

    stamp_ns: int
    names: tuple[str, ...]
    position: np.ndarray
    velocity: np.ndarray
    effort: np.ndarray


class SimRig:
    """One scene, its physics state, a trajectory controller and a renderer.

    Args:
        scene: a compiled :class:`~vap_ros.sim.scene.Scene`.
        q0: initial arm positions (default ``HOME_Q``); ``width0_m`` initial gripper width.
    """

    def __init__(self, scene: Scene, q0=None, width0_m: float | None = None) -> None:
        self.scene = scene
        self.robot = scene.robot
        self.model = scene.model
        self.data = mujoco.MjData(self.model)
        self.timestep_ns = scene.config.timestep_ns
        cfg = scene.config
        self._renderer = None
        self._size = (cfg.height, cfg.width)
        ids = [self.robot.model.getJointId(n) for n in self.robot.arm_joint_names]
        self.velocity_limits = np.array(
            [self.robot.model.velocityLimit[self.robot.model.joints[j].idx_v] for j in ids])
        self.reset(q0, width0_m)

    @classmethod
    def from_config(cls, cfg: SceneConfig, rng: np.random.Generator, **kw) -> "SimRig":
        """Sample a layout from ``rng`` and build the rig."""
        return cls(build_scene(cfg, sample_layout(cfg, rng)), **kw)

    # ------------------------------------------------------------------ state
    def reset(self, q0=None, width0_m: float | None = None) -> None:
        """Objects back to the layout, robot at ``q0`` at rest, time 0, no plan."""
        mujoco.mj_resetData(self.model, self.data)
        q0 = HOME_Q if q0 is None else np.asarray(q0, np.float64)
        grip = self.robot.gripper
        w = (grip.default_width_m if grip else 0.0) if width0_m is None else float(width0_m)
        self.data.qpos[self.scene.arm_qpos] = q0
        n_f = len(self.scene.finger_qpos)
        if n_f:
            self.data.qpos[self.scene.finger_qpos] = w / n_f
        self.data.ctrl[self.scene.arm_act] = q0
        if n_f:
            self.data.ctrl[self.scene.finger_act] = w / n_f
        self._steps = 0
        self._plan: JointTrajectory | None = None
        self._plan_t0 = 0
        mujoco.mj_forward(self.model, self.data)

    @property
    def time_ns(self) -> int:
        """Simulated time since the last reset (exact: steps x timestep)."""
        return self._steps * self.timestep_ns

    @property
    def arm_q(self) -> np.ndarray:
        return self.data.qpos[self.scene.arm_qpos].copy()

    @property
    def gripper_width_m(self) -> float:
        return float(self.data.qpos[self.scene.finger_qpos].sum())

    @property
    def busy(self) -> bool:
        """A plan is running (its last point lies in the future)."""
        return self._plan is not None and self.time_ns < self._plan_t0 + int(
            self._plan.stamps_ns[-1])

    def joint_state(self) -> JointStateSample:
        s = self.scene
        qadr = np.concatenate([s.arm_qpos, s.finger_qpos])
        dadr = np.concatenate([s.arm_dof, s.finger_dof])
        act = np.concatenate([s.arm_act, s.finger_act])
        return JointStateSample(self.time_ns, s.joint_names, self.data.qpos[qadr].copy(),
                                self.data.qvel[dadr].copy(),
                                self.data.actuator_force[act].copy())

    def object_poses(self) -> dict[str, np.ndarray]:
        """``T_base_object`` (4, 4) of each object (the base is the world origin)."""
        out = {}
        for name, bid in self.scene.objects.items():
            T = np.eye(4)
            T[:3, :3] = self.data.xmat[bid].reshape(3, 3)
            T[:3, 3] = self.data.xpos[bid]
            out[name] = T
        return out

    # ------------------------------------------------------------------ control
    def validate(self, plan: JointTrajectory) -> JointTrajectory:
        """The plan in robot joint order, checked: names, limits, NaN, strictly increasing
        times, gripper range and joint velocity limits.

        Raises:
            TrajectoryError: naming the first problem.
        """
        plan = plan.validate(self.robot)
        if len(plan) > 1:
            dt = np.diff(plan.stamps_ns).astype(np.float64) * 1e-9
            vel = np.abs(np.diff(plan.positions, axis=0)) / dt[:, None]
            over = vel > self.velocity_limits * 1.001
            if over.any():
                t, j = map(int, np.argwhere(over)[0])
                raise TrajectoryError(
                    f"points {t}->{t + 1}: {plan.joint_names[j]} moves at {vel[t, j]:.3f} "
                    f"rad/s, above its limit {self.velocity_limits[j]:.3f} rad/s")
        if int(plan.stamps_ns[0]) < 0:
            raise TrajectoryError(f"first time_from_start is negative "
                                  f"({plan.stamps_ns[0] * 1e-9:.3f} s)")
        return plan

    def execute(self, plan: JointTrajectory, start_ns: int | None = None) -> JointTrajectory:
        """Validate ``plan`` and start it; its stamps count from ``start_ns`` (default: now).

        Like a joint-trajectory controller: when the first point lies after the start, the
        current set-point is prepended at the start, so the motion begins where the robot is.
        A running plan is replaced. Returns the validated plan that runs.

        Raises:
            TrajectoryError: the plan is invalid; the running plan (if any) continues.
        """
        plan = self.validate(plan)
        start = self.time_ns if start_ns is None else int(start_ns)
        if plan.stamps_ns[0] > 0:
            n_f = len(self.scene.finger_act)
            width_now = float(self.data.ctrl[self.scene.finger_act].sum()) if n_f else 0.0
            grip = (None if plan.gripper_width_m is None
                    else np.concatenate([[width_now], plan.gripper_width_m]))
            plan = JointTrajectory(
                plan.joint_names,
                np.vstack([self.data.ctrl[self.scene.arm_act][None], plan.positions]),
                np.concatenate([[0], plan.stamps_ns]), grip)
        self._plan, self._plan_t0 = plan, start
        return plan

    def _setpoint(self, t_ns: int) -> None:
        plan = self._plan
        if plan is None:
            return
        x = plan.stamps_ns
        t = t_ns - self._plan_t0
        i = int(np.searchsorted(x, t, side="right"))
        if i <= 0:
            return  # plan not started yet
        if i >= len(x):
            q, w = plan.positions[-1], (None if plan.gripper_width_m is None
                                        else plan.gripper_width_m[-1])
        else:
            a = (t - x[i - 1]) / float(x[i] - x[i - 1])
            q = (1 - a) * plan.positions[i - 1] + a * plan.positions[i]
            w = (None if plan.gripper_width_m is None else
                 (1 - a) * plan.gripper_width_m[i - 1] + a * plan.gripper_width_m[i])
        self.data.ctrl[self.scene.arm_act] = q
        n_f = len(self.scene.finger_act)
        if w is not None and n_f:
            self.data.ctrl[self.scene.finger_act] = w / n_f

    def step(self, n: int = 1) -> None:
        """Advance ``n`` physics steps (set-points from the plan before each step)."""
        for _ in range(n):
            self._setpoint(self.time_ns)
            mujoco.mj_step(self.model, self.data)
            self._steps += 1

    # ------------------------------------------------------------------ cameras
    def cameras(self) -> list[Camera]:
        """Calibrated cameras read back from MuJoCo (the wrist camera as currently posed)."""
        mujoco.mj_forward(self.model, self.data)
        h, w = self._size
        return [camera_from_mujoco(self.model, self.data, n, w, h)
                for n in self.scene.camera_names]

    def _get_renderer(self):
        if self._renderer is None:
            try:
                self._renderer = mujoco.Renderer(self.model, *self._size)
            except Exception as err:
                raise ConfigError(
                    f"cannot create a MuJoCo renderer ({err}); set MUJOCO_GL=egl (Mesa: apt "
                    "libegl1 libgl1-mesa-dri) or MUJOCO_GL=osmesa (libosmesa6)") from err
        return self._renderer

    def render(self, cameras=None) -> dict[str, np.ndarray]:
        """RGB images (H, W, 3) uint8 per camera name (default: all cameras).

        Runs ``mj_forward`` first: after ``mj_step`` the body poses lag ``qpos`` by a step.
        """
        mujoco.mj_forward(self.model, self.data)
        r = self._get_renderer()
        out = {}
        for name in cameras or self.scene.camera_names:
            r.update_scene(self.data, camera=name)
            out[name] = r.render().copy()
        return out

    def marker_centroids(self, camera: str) -> dict[str, np.ndarray]:
        """Rendered pixel centroid (u, v) of each calibration marker, OpenCV convention
        (pixel centres at integers), one marker rendered at a time so none hides another.
        Markers that are not visible get NaN."""
        if not self.scene.markers:
            raise ConfigError("the scene was built without markers (SceneConfig.markers)")
        mujoco.mj_forward(self.model, self.data)
        r = self._get_renderer()
        opt = mujoco.MjvOption()
        opt.geomgroup[:] = 0
        opt.geomgroup[MARKER_GROUP] = 1
        groups = self.model.geom_group
        ids = [g for _, g in self.scene.markers]
        saved = groups[ids].copy()
        out = {}
        r.enable_segmentation_rendering()
        try:
            for name, gid in self.scene.markers:
                groups[ids] = MARKER_GROUP - 1
                groups[gid] = MARKER_GROUP
                r.update_scene(self.data, camera=camera, scene_option=opt)
                seg = r.render()
                mask = (seg[..., 0] == gid) & (seg[..., 1] == int(mujoco.mjtObj.mjOBJ_GEOM))
                vs, us = np.nonzero(mask)
                out[name] = (np.array([us.mean(), vs.mean()]) if us.size
                             else np.array([np.nan, np.nan]))
        finally:
            groups[ids] = saved
            r.disable_segmentation_rendering()
        return out

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def __enter__(self) -> "SimRig":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
