"""A robot model loaded from a URDF with pinocchio: joint order, limits and batched FK."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from vap_ros.errors import ConfigError, JointStateError
from vap_ros.robot.description import package_share_dirs, resolve_package_uri

__all__ = ["GripperSpec", "RobotModel"]


@dataclass(frozen=True)
class GripperSpec:
    """Parallel gripper: each listed prismatic joint moves ``width_m / len(joints)``."""

    joints: tuple[str, ...]
    max_width_m: float
    default_width_m: float


class RobotModel:
    """Kinematics of one robot, loaded from a URDF (``package://`` paths resolved).

    The *arm* joints are what a trajectory commands (radians, in ``arm_joint_names`` order); the
    gripper, if any, is driven by one width in metres. Forward kinematics is batched over time.

    Args:
        urdf: path or ``package://`` URI of the URDF.
        arm_joints: names of the commanded joints; default all non-gripper actuated joints.
        gripper: optional parallel-gripper description.
        base_frame: frame all poses are expressed in (default: the URDF root link).
        tcp_frame: the tool frame (default: the last frame of the URDF).
        name: a label for messages and model cards.
    """

    def __init__(
        self,
        urdf: str | Path,
        *,
        arm_joints: Sequence[str] | None = None,
        gripper: GripperSpec | None = None,
        base_frame: str | None = None,
        tcp_frame: str | None = None,
        name: str | None = None,
    ) -> None:
        import pinocchio as pin

        self.urdf_path: Path | None = resolve_package_uri(str(urdf))
        self.urdf_xml: str | None = None
        try:
            model = pin.buildModelFromUrdf(str(self.urdf_path))
        except Exception as err:  # pinocchio raises ValueError/RuntimeError on bad URDFs
            raise ConfigError(f"cannot load URDF {self.urdf_path}: {err}") from err
        self._setup(model, self.urdf_path.name, arm_joints, gripper, base_frame, tcp_frame, name)

    @classmethod
    def from_urdf_string(
        cls,
        urdf_xml: str,
        *,
        arm_joints: Sequence[str] | None = None,
        gripper: GripperSpec | None = None,
        base_frame: str | None = None,
        tcp_frame: str | None = None,
        name: str | None = None,
        source: str = "robot_description",
    ) -> "RobotModel":
        """Build from URDF text, e.g. the ``/robot_description`` a robot publishes (xacro
        already expanded). Meshes are not needed for kinematics; ``mesh_files()`` resolves
        them where it can. ``source`` names the text in error messages.

        Raises:
            ConfigError: empty or invalid URDF, unsupported joints, unknown joint/frame names.
        """
        import pinocchio as pin

        if not isinstance(urdf_xml, str) or not urdf_xml.strip():
            raise ConfigError(f"{source} is empty: expected the robot's URDF (XML text)")
        self = cls.__new__(cls)
        self.urdf_path = None
        self.urdf_xml = urdf_xml
        try:
            model = pin.buildModelFromXML(urdf_xml)
        except Exception as err:  # pinocchio raises ValueError on text it cannot parse
            raise ConfigError(f"{source} is not a valid URDF: {err} (starts with "
                              f"{urdf_xml.strip()[:60]!r})") from err
        self._setup(model, source, arm_joints, gripper, base_frame, tcp_frame, name)
        return self

    def _setup(self, model, source: str, arm_joints, gripper, base_frame, tcp_frame,
               name) -> None:
        import pinocchio as pin

        self._pin = pin
        self.source = source
        self.model = model
        self.data = self.model.createData()
        self.name = name or self.model.name
        actuated = [
            self.model.names[j]
            for j in range(1, self.model.njoints)
            if self.model.joints[j].nq == 1
        ]
        unsupported = [
            self.model.names[j] for j in range(1, self.model.njoints)
            if self.model.joints[j].nq != 1
        ]
        if unsupported:
            raise ConfigError(
                f"URDF {source}: joints {unsupported} are not 1-DoF "
                "(revolute/prismatic); only serial 1-DoF chains are supported"
            )
        self.gripper = gripper
        gripper_joints = tuple(gripper.joints) if gripper else ()
        for j in gripper_joints:
            if j not in actuated:
                raise ConfigError(f"gripper joint {j!r} not in URDF {source} joints {actuated}")
        if arm_joints is None:
            arm_joints = [j for j in actuated if j not in gripper_joints]
        missing = [j for j in arm_joints if j not in actuated]
        if missing:
            raise ConfigError(f"arm joints {missing} not in URDF {source}; its movable joints: "
                              f"{actuated}")
        if not arm_joints:
            raise ConfigError(f"URDF {source} has no movable (revolute/prismatic) joint")
        self.arm_joint_names: tuple[str, ...] = tuple(arm_joints)
        self._arm_idx_q = np.array(
            [self.model.joints[self.model.getJointId(j)].idx_q for j in self.arm_joint_names],
            dtype=np.intp,
        )
        self._grip_idx_q = np.array(
            [self.model.joints[self.model.getJointId(j)].idx_q for j in gripper_joints],
            dtype=np.intp,
        )
        self.lower_limits = self.model.lowerPositionLimit[self._arm_idx_q].copy()
        self.upper_limits = self.model.upperPositionLimit[self._arm_idx_q].copy()
        frame_names = [f.name for f in self.model.frames]
        self.base_frame = base_frame or frame_names[1]
        self.tcp_frame = tcp_frame or frame_names[-1]
        for f in (self.base_frame, self.tcp_frame):
            self.frame_id(f)
        self._q_neutral = pin.neutral(self.model)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_preset(cls, preset: str | Path = "panda") -> "RobotModel":
        """Build from a robot preset YAML (a name in ``robot/presets`` or a file path)."""
        from vap_ros.robot.skeleton import load_robot_preset

        cfg = load_robot_preset(preset)
        grip = cfg.get("gripper")
        gripper = (
            GripperSpec(
                joints=tuple(grip["joints"]),
                max_width_m=float(grip.get("max_width_m", 0.08)),
                default_width_m=float(grip.get("default_width_m", grip.get("max_width_m", 0.08))),
            )
            if grip
            else None
        )
        return cls(
            cfg["urdf"],
            arm_joints=cfg.get("arm_joints"),
            gripper=gripper,
            base_frame=cfg.get("base_frame"),
            tcp_frame=cfg.get("tcp_frame"),
            name=cfg.get("name"),
        )

    # ------------------------------------------------------------------ queries
    @property
    def n_arm(self) -> int:
        return len(self.arm_joint_names)

    @property
    def frame_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.model.frames)

    def frame_id(self, name: str) -> int:
        if not self.model.existFrame(name):
            raise ConfigError(
                f"frame {name!r} not in {self.source}; known frames: "
                f"{', '.join(self.frame_names[1:])}"
            )
        return int(self.model.getFrameId(name))

    @property
    def package_dirs(self) -> tuple[Path, ...]:
        return package_share_dirs()

    def mesh_files(self) -> dict[str, Path | None]:
        """Every mesh the URDF names → its file (``package://`` resolved through the ament
        index, pip ``cmeel`` share folders and this checkout), or None where it cannot be
        found. Kinematics never needs them; renderers and simulators do."""
        from vap_ros.robot.description import mesh_files

        if self.urdf_xml is not None:
            xml = self.urdf_xml
        elif self.urdf_path is not None:
            xml = self.urdf_path.read_text()
        else:  # not reached: a model is built from a URDF file or from URDF text
            raise ConfigError(f"robot {self.name!r} has neither a URDF file nor URDF text")
        return mesh_files(xml, relative_to=self.urdf_path.parent if self.urdf_path else None)

    # ------------------------------------------------------------------ kinematics
    def configurations(self, arm_q: np.ndarray, gripper_width_m=None) -> np.ndarray:
        """Full pinocchio configurations (T, nq) from arm positions (T, n) and widths (T,)."""
        arm_q = np.atleast_2d(np.asarray(arm_q, dtype=np.float64))
        if arm_q.shape[1] != self.n_arm:
            raise JointStateError(
                f"expected {self.n_arm} arm joint positions {list(self.arm_joint_names)}, "
                f"got {arm_q.shape[1]}",
                expected=self.arm_joint_names,
            )
        if not np.all(np.isfinite(arm_q)):
            raise JointStateError("arm joint positions contain NaN or inf",
                                  expected=self.arm_joint_names)
        q = np.tile(self._q_neutral, (arm_q.shape[0], 1))
        q[:, self._arm_idx_q] = arm_q
        if self.gripper is not None:
            if gripper_width_m is None:
                width = np.full(arm_q.shape[0], self.gripper.default_width_m)
            else:
                width = np.broadcast_to(np.asarray(gripper_width_m, np.float64),
                                        (arm_q.shape[0],))
                if not np.all(np.isfinite(width)):
                    raise JointStateError("gripper width contains NaN or inf")
            width = np.clip(width, 0.0, self.gripper.max_width_m)
            q[:, self._grip_idx_q] = (width / len(self._grip_idx_q))[:, None]
        return q

    def frame_poses(self, arm_q, frames: Sequence[str], gripper_width_m=None) -> np.ndarray:
        """Poses ``T_base_frame`` of the named frames: (T, F, 4, 4) in the base frame."""
        ids = [self.frame_id(f) for f in frames]
        qs = self.configurations(arm_q, gripper_width_m)
        pin = self._pin
        out = np.empty((qs.shape[0], len(ids), 4, 4))
        base_id = self.frame_id(self.base_frame)
        for t, q in enumerate(qs):
            pin.framesForwardKinematics(self.model, self.data, q)
            T_world_base_inv = self.data.oMf[base_id].inverse()
            for k, fid in enumerate(ids):
                out[t, k] = (T_world_base_inv * self.data.oMf[fid]).homogeneous
        return out

    def points(self, arm_q, frames: Sequence[str], offsets: np.ndarray,
               gripper_width_m=None) -> np.ndarray:
        """Points ``offsets[k]`` fixed in ``frames[k]``, in the base frame: (T, K, 3).

        One FK pass per configuration for all points (the hot path of prompt rendering).
        """
        unique = list(dict.fromkeys(frames))
        poses = self.frame_poses(arm_q, unique, gripper_width_m)  # (T, U, 4, 4)
        index = np.array([unique.index(f) for f in frames])
        sel = poses[:, index]  # (T, K, 4, 4)
        R = sel[..., :3, :3]
        t = sel[..., :3, 3]
        return np.einsum("tkij,kj->tki", R, np.asarray(offsets, np.float64)) + t

    def tcp_poses(self, arm_q, gripper_width_m=None) -> np.ndarray:
        """``T_base_tcp`` for each configuration: (T, 4, 4)."""
        return self.frame_poses(arm_q, [self.tcp_frame], gripper_width_m)[:, 0]

    def within_limits(self, arm_q: np.ndarray, tol: float = 1e-6) -> np.ndarray:
        """Boolean (T, n): which positions lie inside the URDF limits."""
        q = np.atleast_2d(arm_q)
        return (q >= self.lower_limits - tol) & (q <= self.upper_limits + tol)
