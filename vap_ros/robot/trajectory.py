"""The one joint-trajectory type used everywhere (plans, logged states, clips)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from vap_ros.errors import TrajectoryError

__all__ = ["JointTrajectory"]


@dataclass
class JointTrajectory:
    """Joint positions over time, in a named joint order.

    Attributes:
        joint_names: names of the columns of ``positions``.
        positions: (T, n) float64 radians (metres for prismatic joints).
        stamps_ns: (T,) int64 nanoseconds, strictly increasing (absolute or from start).
        gripper_width_m: optional (T,) float64 gripper opening in metres.
    """

    joint_names: tuple[str, ...]
    positions: np.ndarray
    stamps_ns: np.ndarray
    gripper_width_m: np.ndarray | None = field(default=None)

    def __post_init__(self) -> None:
        self.joint_names = tuple(self.joint_names)
        self.positions = np.atleast_2d(np.asarray(self.positions, dtype=np.float64))
        self.stamps_ns = np.asarray(self.stamps_ns, dtype=np.int64).reshape(-1)
        if self.gripper_width_m is not None:
            self.gripper_width_m = np.asarray(self.gripper_width_m, np.float64).reshape(-1)

    def __len__(self) -> int:
        return int(self.positions.shape[0])

    @property
    def duration_ns(self) -> int:
        return int(self.stamps_ns[-1] - self.stamps_ns[0]) if len(self) else 0

    def validate(self, robot=None) -> "JointTrajectory":
        """Check shapes, finiteness, strictly increasing times and (with a robot) names and
        joint limits. Returns ``self`` reordered into the robot's arm joint order.

        Raises:
            TrajectoryError: naming the first problem found.
        """
        T = len(self)
        if T == 0:
            raise TrajectoryError("trajectory has no points")
        if self.positions.shape != (T, len(self.joint_names)):
            raise TrajectoryError(
                f"positions shape {self.positions.shape} does not match {T} points x "
                f"{len(self.joint_names)} joints {list(self.joint_names)}")
        if self.stamps_ns.shape != (T,):
            raise TrajectoryError(f"{self.stamps_ns.shape[0]} stamps for {T} points")
        if self.gripper_width_m is not None and self.gripper_width_m.shape != (T,):
            raise TrajectoryError(f"{self.gripper_width_m.shape[0]} gripper widths for {T} points")
        if not np.all(np.isfinite(self.positions)):
            raise TrajectoryError("trajectory positions contain NaN or inf")
        if self.gripper_width_m is not None and not np.all(np.isfinite(self.gripper_width_m)):
            raise TrajectoryError("trajectory gripper widths contain NaN or inf")
        dt = np.diff(self.stamps_ns)
        if np.any(dt <= 0):
            i = int(np.flatnonzero(dt <= 0)[0])
            raise TrajectoryError(
                f"trajectory times must increase strictly: point {i + 1} at "
                f"{self.stamps_ns[i + 1] * 1e-9:.6f} s follows {self.stamps_ns[i] * 1e-9:.6f} s")
        if robot is None:
            return self
        names = tuple(robot.arm_joint_names)
        missing = [n for n in names if n not in self.joint_names]
        unknown = [n for n in self.joint_names if n not in names]
        if missing or unknown:
            raise TrajectoryError(
                f"trajectory joints {list(self.joint_names)} do not match the robot's "
                f"{list(names)} (missing {missing}, unknown {unknown})")
        order = [self.joint_names.index(n) for n in names]
        pos = self.positions[:, order]
        ok = robot.within_limits(pos)
        if not ok.all():
            t, j = map(int, np.argwhere(~ok)[0])
            raise TrajectoryError(
                f"point {t}: {names[j]} = {pos[t, j]:.4f} rad outside its limits "
                f"[{robot.lower_limits[j]:.4f}, {robot.upper_limits[j]:.4f}]")
        if self.gripper_width_m is not None and robot.gripper is not None:
            w = self.gripper_width_m
            if np.any(w < -1e-6) or np.any(w > robot.gripper.max_width_m + 1e-6):
                raise TrajectoryError(
                    f"gripper width outside [0, {robot.gripper.max_width_m}] m "
                    f"(min {w.min():.4f}, max {w.max():.4f})")
        return JointTrajectory(names, pos, self.stamps_ns.copy(),
                               None if self.gripper_width_m is None
                               else self.gripper_width_m.copy())

    def sample(self, stamps_ns: Sequence[int] | np.ndarray) -> "JointTrajectory":
        """Linear interpolation at the given stamps (held constant outside the time range)."""
        s = np.asarray(stamps_ns, dtype=np.int64).reshape(-1)
        t0 = self.stamps_ns[0]
        x = (self.stamps_ns - t0).astype(np.float64)
        xq = (s - t0).astype(np.float64)
        if len(self) == 1:
            pos = np.repeat(self.positions, len(s), axis=0)
            grip = None if self.gripper_width_m is None else np.repeat(
                self.gripper_width_m, len(s))
        else:
            pos = np.stack([np.interp(xq, x, self.positions[:, j])
                            for j in range(self.positions.shape[1])], axis=1)
            grip = None if self.gripper_width_m is None else np.interp(
                xq, x, self.gripper_width_m)
        return JointTrajectory(self.joint_names, pos, s, grip)
