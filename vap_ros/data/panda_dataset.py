"""Reader for the ``panda_dataset`` episode format (one static calibrated camera, PNG frames,
``info.json`` with joint angles per UNIX timestamp), as in ``shared/data/real``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vap_ros.camera import Camera
from vap_ros.errors import CalibrationError, ConfigError, ImageError

__all__ = ["PandaEpisode", "load_panda_episode"]

PANDA_ARM_JOINTS = tuple(f"panda_joint{i}" for i in range(1, 8))


@dataclass
class PandaEpisode:
    """A recorded episode: per step a stamp, arm joint angles and an image file."""

    root: Path
    stamps_ns: np.ndarray  # (T,) int64
    joint_positions: np.ndarray  # (T, 7) radians, panda_joint1..7
    image_files: list[str]
    camera: Camera

    def __len__(self) -> int:
        return len(self.image_files)

    def image(self, i: int) -> np.ndarray:
        """Frame i as (H, W, 3) uint8 RGB."""
        path = self.root / self.image_files[i]
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ImageError(f"cannot read image {path}")
        if bgr.shape[:2] != (self.camera.height, self.camera.width):
            raise ImageError(f"{path}: size {bgr.shape[1]}x{bgr.shape[0]} differs from the "
                             f"camera's {self.camera.width}x{self.camera.height}")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def load_panda_episode(root: str | Path, camera_name: str = "camera") -> PandaEpisode:
    """Read ``info.json`` and the calibration of one episode folder."""
    root = Path(root)
    info_path = root / "info.json"
    if not info_path.is_file():
        raise ConfigError(f"{root} is not a panda_dataset episode: no info.json")
    info = json.loads(info_path.read_text())
    try:
        calib = info["calibration_info"]
        K = np.asarray(calib["intrinsic"], np.float64).reshape(3, 3)
        rx, ry, rz, tx, ty, tz = np.asarray(calib["extrinsic"][0], np.float64)
    except (KeyError, ValueError, TypeError, IndexError) as err:
        raise CalibrationError(f"{info_path}: calibration_info is malformed ({err!r})") from err
    steps = info.get("steps") or {}
    if not steps:
        raise ConfigError(f"{info_path}: no steps")
    keys = sorted(steps, key=float)
    stamps = np.array([round(float(k) * 1e9) for k in keys], np.int64)
    q = np.array([steps[k]["joint_angles"] for k in keys], np.float64)
    files = [steps[k]["img_file"] for k in keys]
    first = cv2.imread(str(root / files[0]), cv2.IMREAD_UNCHANGED)
    if first is None:
        raise ImageError(f"cannot read {root / files[0]}")
    T = np.eye(4)
    T[:3, :3] = cv2.Rodrigues(np.array([rx, ry, rz]))[0]
    T[:3, 3] = [tx, ty, tz]
    cam = Camera(name=camera_name, width=first.shape[1], height=first.shape[0], K=K,
                 dist=np.zeros(5), T_cam_base=T, frame_id=f"{camera_name}_optical_frame",
                 base_frame="panda_link0")
    return PandaEpisode(root, stamps, q, files, cam)
