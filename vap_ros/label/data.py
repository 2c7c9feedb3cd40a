"""Training data of the joint video + action-image model: clip-cache clips with their action
images (the end-effector pose from pinocchio FK of the logged joints, through the codec) and a
goal image per view.

``ActionImageClips`` is a ``vap_ros.data.ClipDataset`` over the *logged* variant (the pose the
arm really had at each image stamp) whose items also hold

    action_images  float32 (V, 3, F, H, W) in [-1, 1]: ``ActionImageCodec.encode`` of the clip's
                   ``ee_poses`` (T_base_tcp, FK of the logged joint states at the reference
                   stamps) and gripper state, drawn through each view's clip-size calibration
    goal           float32 (V, 3, 1, H, W) in [-1, 1]: each view's image at the end of the
                   episode (the last frame of the bag's last clip in the cache)

and no ``prompts`` (a joint model is given no action). ``JointStateClips`` (for
``generate_actions: joint_states`` models) adds

    joint_states   float32 (F, D) in [-1, 1]: the logged joint positions + gripper width at the
                   image stamps, normalised by the URDF limits (``JointStateScale``)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from vap_ros.camera import Camera
from vap_ros.data import ClipDataset
from vap_ros.errors import CalibrationError, ConfigError
from vap_ros.prompts import ActionImageCodec

__all__ = ["OPEN_WIDTH_M", "ActionImageClips", "JointStateClips", "JointStateScale",
           "clip_cameras", "gripper_open", "wants_action_images", "wants_joint_states"]

#: The gripper counts as open when its fingers are (almost) fully apart: a Panda hand closed
#: on a 4-6 cm object is not open, whatever its width.
OPEN_WIDTH_M = 0.07


def gripper_open(width_m) -> np.ndarray:
    """Binary gripper state of finger widths (m): open iff width >= ``OPEN_WIDTH_M``."""
    return np.asarray(width_m, np.float64) >= OPEN_WIDTH_M


class JointStateScale:
    """Joint positions + gripper width <-> the [-1, 1] vectors of ``joint_states`` models: each
    arm joint scaled by its URDF limits, the width by [0, the gripper's maximum width].

    Args:
        robot: a ``RobotModel`` (its arm limits and gripper).
    """

    def __init__(self, robot):
        self.lower = np.asarray(robot.lower_limits, np.float64)
        self.upper = np.asarray(robot.upper_limits, np.float64)
        self.max_width = float(robot.gripper.max_width_m) if robot.gripper else 0.0
        if self.max_width <= 0:
            raise ConfigError("the robot has no gripper: joint-state models generate the arm "
                              "joints + the gripper width (a gripper with max_width_m > 0)")
        self.dim = self.lower.size + 1

    def normalise(self, q: np.ndarray, width: np.ndarray | float) -> np.ndarray:
        """(..., n) joint positions and (...) widths (m) -> (..., n + 1) in [-1, 1]."""
        q = np.asarray(q, np.float64)
        a = 2.0 * (q - self.lower) / (self.upper - self.lower) - 1.0
        w = 2.0 * np.asarray(width, np.float64) / self.max_width - 1.0
        return np.concatenate([a, w[..., None]], axis=-1).astype(np.float32)

    def denormalise(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(..., n + 1) model vectors -> (joint positions clipped to the limits, widths (m)
        clipped to [0, max width])."""
        x = np.clip(np.asarray(x, np.float64), -1.0, 1.0)
        q = self.lower + (x[..., :-1] + 1.0) * 0.5 * (self.upper - self.lower)
        return q, (x[..., -1] + 1.0) * 0.5 * self.max_width


def clip_cameras(K: np.ndarray, T_cam_base: np.ndarray, size: tuple[int, int],
                 names: Sequence[str] | None = None) -> list[Camera]:
    """Cameras of a clip from its stored calibration: ``K`` (V, 3, 3) at the clip size,
    ``T_cam_base`` (V, 4, 4); no distortion (the cache keeps none; the sim has none).

    Raises:
        CalibrationError: a calibration that is not a camera (naming the view).
    """
    H, W = size
    K = np.asarray(K, np.float64)
    T = np.asarray(T_cam_base, np.float64)
    cams = []
    for v in range(K.shape[0]):
        R = T[v, :3, :3]
        U, _, Vt = np.linalg.svd(R)  # float32 storage: re-orthonormalise
        Tv = T[v].copy()
        Tv[:3, :3] = U @ Vt
        name = names[v] if names is not None else f"view{v}"
        try:
            cams.append(Camera(name, W, H, K[v], T_cam_base=Tv))
        except CalibrationError as err:
            raise CalibrationError(f"clip camera {name!r}: {err}") from err
    return cams


class ActionImageClips(ClipDataset):
    """A clip cache's clips with action images and goal images (see the module docstring).

    Args:
        root: the clip cache folder.
        per_view: one view per item (the action images of that view only).
        codec: the action-image codec (default ``ActionImageCodec()``).
    Raises:
        ConfigError / CacheError: as ``ClipDataset``.
    """

    def __init__(self, root: str | Path, per_view: bool = False,
                 codec: ActionImageCodec | None = None):
        super().__init__(root, source="logged", per_view=per_view)
        self.codec = codec or ActionImageCodec()
        last: dict[str, int] = {}
        for i, c in enumerate(self.clips):
            j = last.get(c["bag"])
            if j is None or c["t1_ns"] > self.clips[j]["t1_ns"]:
                last[c["bag"]] = i
        self._goal_clip = last

    def goal_frames(self, clip: int) -> np.ndarray:
        """uint8 (V, H, W, 3): every view's last image of clip ``clip``'s episode."""
        j = self._goal_clip[self.clips[clip]["bag"]]
        c = self.clips[j]
        return np.array(self._array(c["shard"], "video")[c["row"]][:, -1])

    def __getitem__(self, i: int) -> dict[str, Any]:
        item = super().__getitem__(i)
        item.pop("prompts", None)
        clip, view = (divmod(int(i), self.num_views) if self.per_view else (int(i), None))
        H, W = item["video"].shape[-2:]
        cams = clip_cameras(item["camera_K"].numpy(), item["camera_T_cam_base"].numpy(),
                            (H, W), item["meta"]["cameras"])
        poses = item["ee_poses"].numpy().astype(np.float64)
        grip = gripper_open(item["actions"][:, -1].numpy())
        acts = self.codec.encode(poses, grip, cams)  # (V, F, H, W, 3) uint8
        goal = self.goal_frames(clip)
        if view is not None:
            goal = goal[view:view + 1]
        item["action_images"] = _to_float(acts)
        item["goal"] = _to_float(goal[:, None])
        return item


class JointStateClips(ActionImageClips):
    """``ActionImageClips`` with the normalised logged joint states (``joint_states`` (F, D)),
    the training data of ``generate_actions: joint_states`` models (the action images stay:
    the current one is a condition, as for the action-image model).

    Args:
        root, per_view, codec: as ``ActionImageClips``.
        robot: the ``RobotModel`` (default: the cache's robot preset).
    """

    def __init__(self, root: str | Path, per_view: bool = False,
                 codec: ActionImageCodec | None = None, robot=None):
        super().__init__(root, per_view=per_view, codec=codec)
        if robot is None:
            from vap_ros.robot import RobotModel

            robot = RobotModel.from_preset(self.manifest.get("robot", {}).get("preset", "panda"))
        self.scale = JointStateScale(robot)

    def __getitem__(self, i: int) -> dict[str, Any]:
        item = super().__getitem__(i)
        a = item["actions"].numpy()
        item["joint_states"] = torch.from_numpy(self.scale.normalise(a[:, :-1], a[:, -1]))
        return item


def _to_float(u8: np.ndarray) -> torch.Tensor:
    """uint8 (V, F, H, W, 3) -> float32 (V, 3, F, H, W) in [-1, 1]."""
    return torch.from_numpy(u8).permute(0, 4, 1, 2, 3).float().div_(127.5).sub_(1.0)


def model_value(train_config, name: str) -> Any:
    """A field of a training config's model config: the override, else the pretrained
    model's saved config, else the preset's."""
    mc = train_config.model
    if name in mc.overrides:
        return mc.overrides[name]
    from vap_ros.model.config import WorldModelConfig, load_preset

    if mc.pretrained is not None:
        import json

        p = Path(mc.pretrained) / "vap_config.json"
        saved = json.loads(p.read_text()) if p.is_file() else {}
        return saved.get(name, getattr(WorldModelConfig, name))
    return getattr(load_preset(mc.preset), name)


def generated_actions(train_config) -> str:
    """A training config's model's ``generate_actions`` ("none", "action_images",
    "joint_states")."""
    return str(model_value(train_config, "generate_actions"))


def action_dataset(train_config, root: str | Path) -> ActionImageClips:
    """The training data of a model that generates actions: ``JointStateClips`` or
    ``ActionImageClips`` of the clip cache ``root``, drawn with the model's codec
    (``action_axis_length_m``)."""
    codec = ActionImageCodec(
        axis_length_m=float(model_value(train_config, "action_axis_length_m")))
    cls = JointStateClips if wants_joint_states(train_config) else ActionImageClips
    return cls(root, per_view=train_config.per_view, codec=codec)


def action_codec(model_config) -> ActionImageCodec:
    """The action-image codec of a model (its ``action_axis_length_m``): what it is trained on
    and what its action images are decoded with."""
    return ActionImageCodec(axis_length_m=float(model_config.action_axis_length_m))


def wants_action_images(train_config) -> bool:
    """Whether a training config's model generates actions (action images or joint states:
    then it trains on ``ActionImageClips`` / ``JointStateClips``)."""
    return generated_actions(train_config) != "none"


def wants_joint_states(train_config) -> bool:
    """Whether a training config's model generates joint states (``JointStateClips``)."""
    return generated_actions(train_config) == "joint_states"
