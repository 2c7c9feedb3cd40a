"""Inverse kinematics of the tool frame (pinocchio, damped least squares with a posture term)
and straight-line Cartesian motions with minimum-jerk timing, sampled into a
:class:`~vap_ros.robot.JointTrajectory`."""

from __future__ import annotations

from typing import Callable

import numpy as np

from vap_ros.errors import VapError
from vap_ros.robot import JointTrajectory, RobotModel

__all__ = ["CartesianPlanner", "IKSolver", "PlanningError", "min_jerk", "top_down"]


class PlanningError(VapError):
    """A target cannot be reached (IK did not converge within tolerance).

    Attributes:
        target: the 4x4 pose ``T_base_tcp`` that failed; ``error`` the residual (m + rad).
    """

    def __init__(self, message: str, *, target=None, error: float = float("nan")):
        super().__init__(message)
        self.target = target
        self.error = error


def min_jerk(s: np.ndarray) -> np.ndarray:
    """Minimum-jerk time scaling 10 s^3 - 15 s^4 + 6 s^5 of s in [0, 1]."""
    s = np.clip(s, 0.0, 1.0)
    return s ** 3 * (10.0 + s * (-15.0 + 6.0 * s))


def top_down(position, yaw: float) -> np.ndarray:
    """``T_base_tcp`` with the tool z axis pointing down and rotated ``yaw`` about base z."""
    c, s = np.cos(yaw), np.sin(yaw)
    T = np.eye(4)
    T[:3, :3] = np.array([[c, s, 0.0], [s, -c, 0.0], [0.0, 0.0, -1.0]])
    T[:3, 3] = position
    return T


class IKSolver:
    """Damped least-squares IK on the arm joints for one frame (default: the robot's TCP).

    The null space pulls towards ``q_rest`` so solutions stay near a familiar posture.
    """

    def __init__(self, robot: RobotModel, q_rest, frame: str | None = None,
                 damping: float = 1e-4):
        import pinocchio as pin

        self._pin = pin
        self.robot = robot
        self.model = robot.model
        self.data = self.model.createData()
        self.fid = robot.frame_id(frame or robot.tcp_frame)
        self.q_rest = np.asarray(q_rest, np.float64)
        ids = [self.model.getJointId(n) for n in robot.arm_joint_names]
        self.idx_q = np.array([self.model.joints[j].idx_q for j in ids], np.intp)
        self.idx_v = np.array([self.model.joints[j].idx_v for j in ids], np.intp)
        margin = 0.02
        self.lower = robot.lower_limits + margin
        self.upper = robot.upper_limits - margin
        self.damping = damping

    def fk(self, q_arm: np.ndarray) -> np.ndarray:
        """``T_base_tcp`` (4, 4) of one arm configuration (the URDF root is the base)."""
        q = self.robot.configurations(q_arm[None])[0]
        self._pin.framesForwardKinematics(self.model, self.data, q)
        return self.data.oMf[self.fid].homogeneous.copy()

    def solve(self, T_target: np.ndarray, q_seed: np.ndarray, *, tol: float = 1e-4,
              max_iter: int = 200) -> np.ndarray:
        """Arm positions (n,) reaching ``T_target`` (base frame), starting at ``q_seed``.

        Raises:
            PlanningError: no solution within ``tol`` (metres / radians) after ``max_iter``.
        """
        pin = self._pin
        target = pin.SE3(T_target[:3, :3], T_target[:3, 3])
        q_full = self.robot.configurations(np.asarray(q_seed, np.float64)[None])[0]
        qa = q_full[self.idx_q].copy()
        err_norm = np.inf
        for _ in range(max_iter):
            q_full[self.idx_q] = qa
            pin.framesForwardKinematics(self.model, self.data, q_full)
            current = self.data.oMf[self.fid]
            err = pin.log6(current.actInv(target)).vector  # in the local frame
            err_norm = float(np.linalg.norm(err))
            if err_norm < tol:
                return qa
            J = pin.computeFrameJacobian(self.model, self.data, q_full, self.fid,
                                         pin.ReferenceFrame.LOCAL)[:, self.idx_v]
            JJt = J @ J.T + self.damping * np.eye(6)
            J_pinv = J.T @ np.linalg.solve(JJt, np.eye(6))
            null = np.eye(len(qa)) - np.linalg.pinv(J, rcond=1e-6) @ J  # exact projector
            dq = J_pinv @ err + null @ (0.1 * (self.q_rest - qa))
            step = np.max(np.abs(dq))
            if step > 0.3:
                dq *= 0.3 / step
            qa = np.clip(qa + dq, self.lower, self.upper)
        raise PlanningError(
            f"IK did not reach the target at {np.round(T_target[:3, 3], 3).tolist()} "
            f"(residual {err_norm:.2e} after {max_iter} iterations)",
            target=T_target, error=err_norm)


class CartesianPlanner:
    """Builds a joint trajectory from straight-line tool motions, gripper moves and waits.

    Each motion is a straight line (slerp for the rotation) with minimum-jerk timing, solved
    by IK every ``dt_s`` and seeded with the previous solution, so the joint path is smooth.

    Args:
        ik: the solver; ``q0`` the start configuration; ``width0_m`` the start gripper width.
        dt_s: sample period of the plan.
        target_map: maps every ``move_to`` target (4x4 ``T_base_tcp``) to the pose actually
            planned (e.g. shifted or rotated: plan variants, ``vap_ros.sim.candidates``); None:
            the identity. ``pose`` stays in the unmapped frame the task planned in.
    """

    def __init__(self, ik: IKSolver, q0, width0_m: float, dt_s: float = 0.02,
                 target_map: Callable[[np.ndarray], np.ndarray] | None = None):
        self.ik = ik
        self.dt_s = dt_s
        self.target_map = target_map
        self._q = [np.asarray(q0, np.float64).copy()]
        self._w = [float(width0_m)]
        self._T = ik.fk(self._q[0])  # the pose planned (mapped)
        self._T_task = self._T.copy()  # the last target as the task asked for it

    @property
    def pose(self) -> np.ndarray:
        """The current commanded ``T_base_tcp``, as the task asked for it (before
        ``target_map``)."""
        return self._T_task.copy()

    @property
    def duration_s(self) -> float:
        return (len(self._q) - 1) * self.dt_s

    def _samples(self, duration_s: float) -> np.ndarray:
        n = max(1, int(np.ceil(duration_s / self.dt_s)))
        return min_jerk(np.arange(1, n + 1) / n)

    def move_to(self, T_target: np.ndarray, *, speed: float = 0.25,
                min_duration_s: float = 0.5) -> "CartesianPlanner":
        """A straight line to ``T_target`` at about ``speed`` m/s average (rotation at most
        ~1 rad/s). ``T_target`` goes through ``target_map`` first."""
        T_task = np.asarray(T_target, np.float64).copy()
        if self.target_map is not None:
            T_target = np.asarray(self.target_map(T_task), np.float64)
        T0 = self._T
        dist = float(np.linalg.norm(T_target[:3, 3] - T0[:3, 3]))
        dR = T0[:3, :3].T @ T_target[:3, :3]
        pin = self.ik._pin
        w = pin.log3(dR)
        duration = max(min_duration_s, dist / speed, float(np.linalg.norm(w)) / 1.0)
        q = self._q[-1]
        for s in self._samples(duration):
            T = np.eye(4)
            T[:3, 3] = (1 - s) * T0[:3, 3] + s * T_target[:3, 3]
            T[:3, :3] = T0[:3, :3] @ pin.exp3(s * w)
            q = self.ik.solve(T, q)
            self._q.append(q)
            self._w.append(self._w[-1])
        self._T = np.asarray(T_target, np.float64).copy()
        self._T_task = T_task
        return self

    def grip(self, width_m: float, duration_s: float = 0.6) -> "CartesianPlanner":
        """Open/close the gripper to ``width_m`` while holding the pose."""
        w0 = self._w[-1]
        for s in self._samples(duration_s):
            self._q.append(self._q[-1])
            self._w.append(w0 + s * (width_m - w0))
        return self

    def wait(self, duration_s: float) -> "CartesianPlanner":
        for _ in range(max(1, int(round(duration_s / self.dt_s)))):
            self._q.append(self._q[-1])
            self._w.append(self._w[-1])
        return self

    def trajectory(self) -> JointTrajectory:
        """The plan: arm positions, gripper widths, stamps from 0 ns."""
        dt_ns = int(round(self.dt_s * 1e9))
        n = len(self._q)
        return JointTrajectory(self.ik.robot.arm_joint_names, np.stack(self._q),
                               np.arange(n, dtype=np.int64) * dt_ns, np.asarray(self._w))
