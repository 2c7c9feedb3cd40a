"""Skeleton specs as data: keypoints (frame + offset), coloured edges, discs.

A robot preset YAML (``robot/presets/<name>.yaml``) holds the URDF location, the joint split and
a ``skeleton:`` block; any URDF gets a skeleton by writing such a file, without code changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vap_ros.config import Presets
from vap_ros.errors import ConfigError

__all__ = ["SkeletonSpec", "available_presets", "load_robot_preset"]

PRESETS = Presets("vap_ros.robot", "robot")


def available_presets() -> list[str]:
    return PRESETS.names()


def load_robot_preset(preset: str | Path) -> dict[str, Any]:
    """Read a robot preset by name (``panda``, ``fr3``) or YAML path; a clear error if unknown.

    A relative ``urdf`` path is resolved against the preset's folder (``package://`` URIs and
    absolute paths are kept).
    """
    from importlib import resources

    doc = PRESETS.load(preset)
    if "urdf" not in doc.data:
        raise ConfigError("a robot preset needs a 'urdf' key", source=doc.source)
    urdf = str(doc.data["urdf"])
    if not urdf.startswith("package://") and not Path(urdf).expanduser().is_absolute():
        folder = doc.path.parent if doc.path else Path(str(resources.files("vap_ros.robot")
                                                           / "presets"))
        doc.data["urdf"] = str((folder / urdf).resolve())
    return doc.data


@dataclass(frozen=True)
class SkeletonSpec:
    """What to draw: keypoints fixed in robot frames, and coloured edges between them.

    Attributes:
        names: keypoint names (K,).
        frames: the frame each keypoint is attached to (K,).
        offsets: (K, 3) offsets in those frames, metres.
        edges: (E, 2) keypoint indices.
        colors: (E, 3) uint8 RGB, one colour per edge (link).
        discs: indices of keypoints drawn as joint discs.
        gripper: indices of keypoints that locate the gripper.
    """

    names: tuple[str, ...]
    frames: tuple[str, ...]
    offsets: np.ndarray
    edges: np.ndarray
    colors: np.ndarray
    discs: np.ndarray
    gripper: np.ndarray

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SkeletonSpec":
        try:
            kps = d["keypoints"]
            names = tuple(str(k["name"]) for k in kps)
            frames = tuple(str(k["frame"]) for k in kps)
            offsets = np.array([k.get("offset", [0.0, 0.0, 0.0]) for k in kps], np.float64)
            index = {n: i for i, n in enumerate(names)}
            if len(index) != len(names):
                raise ConfigError(f"skeleton keypoint names are not unique: {names}")
            edges, colors = [], []
            for e in d["edges"]:
                a, b = e[0], e[1]
                color = e[2] if len(e) > 2 else [255, 255, 255]
                for n in (a, b):
                    if n not in index:
                        raise ConfigError(f"skeleton edge uses unknown keypoint {n!r}")
                edges.append((index[a], index[b]))
                colors.append(color)
            discs = [index[n] for n in d.get("discs", names)]
            gripper = [index[n] for n in d.get("gripper_keypoints", [])]
        except ConfigError:
            raise
        except (KeyError, TypeError, IndexError, ValueError) as err:
            raise ConfigError(f"malformed skeleton spec: {err!r}") from err
        if offsets.shape != (len(names), 3):
            raise ConfigError("every skeleton keypoint offset must have 3 numbers")
        colors_arr = np.array(colors, dtype=np.int64)
        if colors_arr.size and (colors_arr.min() < 0 or colors_arr.max() > 255):
            raise ConfigError("skeleton colours must be RGB values in 0..255")
        return cls(names, frames, offsets, np.array(edges, np.intp).reshape(-1, 2),
                   colors_arr.astype(np.uint8).reshape(-1, 3), np.array(discs, np.intp),
                   np.array(gripper, np.intp))

    @classmethod
    def from_preset(cls, preset: str | Path = "panda") -> "SkeletonSpec":
        cfg = load_robot_preset(preset)
        if "skeleton" not in cfg:
            raise ConfigError(f"robot preset {str(preset)!r} has no 'skeleton' block")
        return cls.from_dict(cfg["skeleton"])

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise ConfigError(f"no keypoint {name!r}; keypoints: {list(self.names)}") from None

    def check_frames(self, robot) -> None:
        """Every keypoint frame must exist in the robot model."""
        for f in set(self.frames):
            robot.frame_id(f)

    def keypoints(self, robot, arm_q, gripper_width_m=None) -> np.ndarray:
        """Keypoints in the robot base frame for each configuration: (T, K, 3) metres."""
        return robot.points(arm_q, self.frames, self.offsets, gripper_width_m)
