"""Map joint states that arrive by name (ROS JointState) to the model's joint order."""

from __future__ import annotations

from typing import Literal, Sequence

import numpy as np

from vap_ros.errors import JointStateError

__all__ = ["JointStateMapper"]


class JointStateMapper:
    """Reorders named joint positions into ``arm_joint_names`` order and extracts the gripper.

    Args:
        arm_joint_names: the model's commanded joints, in model order.
        gripper_joint_names: finger joints whose positions add up to the gripper width.
        extra: what to do with names the model does not know: ``"error"`` (default, a typo in
            a joint name is caught) or ``"ignore"`` (e.g. a JointState that also lists another
            robot's joints).
    """

    def __init__(
        self,
        arm_joint_names: Sequence[str],
        gripper_joint_names: Sequence[str] = (),
        *,
        extra: Literal["error", "ignore"] = "error",
    ) -> None:
        if extra not in ("error", "ignore"):
            raise ValueError(f"extra must be 'error' or 'ignore', got {extra!r}")
        self.arm_joint_names = tuple(arm_joint_names)
        self.gripper_joint_names = tuple(gripper_joint_names)
        self.extra = extra
        self._known = set(self.arm_joint_names) | set(self.gripper_joint_names)
        self._cache: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray | None]] = {}

    @classmethod
    def for_robot(cls, robot, *, extra: Literal["error", "ignore"] = "error"):
        grip = robot.gripper.joints if robot.gripper is not None else ()
        return cls(robot.arm_joint_names, grip, extra=extra)

    def _indices(self, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray | None]:
        cached = self._cache.get(names)
        if cached is not None:
            return cached
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise JointStateError(f"duplicate joint names {dup}", names=names,
                                  expected=self.arm_joint_names)
        unknown = [n for n in names if n not in self._known]
        if unknown and self.extra == "error":
            raise JointStateError(
                f"unknown joint names {unknown}; expected {list(self.arm_joint_names)}"
                + (f" (+ gripper {list(self.gripper_joint_names)})"
                   if self.gripper_joint_names else ""),
                names=names, expected=self.arm_joint_names,
            )
        missing = [n for n in self.arm_joint_names if n not in names]
        if missing:
            raise JointStateError(
                f"missing joints {missing}: got {len(names)} names {list(names)}, expected "
                f"all of {list(self.arm_joint_names)}",
                names=names, expected=self.arm_joint_names,
            )
        arm_idx = np.array([names.index(n) for n in self.arm_joint_names], dtype=np.intp)
        grip = [names.index(n) for n in self.gripper_joint_names if n in names]
        grip_idx = np.array(grip, dtype=np.intp) if len(grip) == len(
            self.gripper_joint_names) and grip else None
        if len(self._cache) < 64:
            self._cache[names] = (arm_idx, grip_idx)
        return arm_idx, grip_idx

    def map(self, names: Sequence[str], positions) -> tuple[np.ndarray, float | None]:
        """One joint state → (arm positions (n,) in model order, gripper width in m or None).

        Raises:
            JointStateError: count of names ≠ count of positions, unknown / missing /
                duplicate names, NaN or inf in a used position.
        """
        names = tuple(names)
        pos = np.asarray(positions, dtype=np.float64).reshape(-1)
        if len(names) != pos.shape[0]:
            raise JointStateError(
                f"joint state has {len(names)} names but {pos.shape[0]} positions",
                names=names, expected=self.arm_joint_names,
            )
        arm_idx, grip_idx = self._indices(names)
        arm = pos[arm_idx]
        if not np.all(np.isfinite(arm)):
            bad = [self.arm_joint_names[i] for i in np.flatnonzero(~np.isfinite(arm))]
            raise JointStateError(f"non-finite positions (NaN/inf) for joints {bad}",
                                  names=names, expected=self.arm_joint_names)
        width = None
        if grip_idx is not None:
            g = pos[grip_idx]
            if not np.all(np.isfinite(g)):
                raise JointStateError(
                    f"non-finite gripper positions for {list(self.gripper_joint_names)}",
                    names=names, expected=self.gripper_joint_names)
            width = float(g.sum())
        return arm, width

    def map_many(self, names: Sequence[str], positions) -> tuple[np.ndarray, np.ndarray | None]:
        """Many states with the same name order: positions (T, len(names)) → (T, n), (T,)."""
        names = tuple(names)
        pos = np.atleast_2d(np.asarray(positions, dtype=np.float64))
        if pos.shape[1] != len(names):
            raise JointStateError(
                f"positions have {pos.shape[1]} columns but there are {len(names)} names",
                names=names, expected=self.arm_joint_names)
        arm_idx, grip_idx = self._indices(names)
        arm = pos[:, arm_idx]
        if not np.all(np.isfinite(arm)):
            raise JointStateError("non-finite arm positions (NaN/inf)", names=names,
                                  expected=self.arm_joint_names)
        width = None if grip_idx is None else pos[:, grip_idx].sum(axis=1)
        return arm, width
