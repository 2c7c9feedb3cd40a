"""Calibration files: ROS camera_calibration intrinsics YAML + an ``extrinsics`` block.

Format (one camera per file; the first part is what ``camera_calibration`` writes)::

    image_width: 640
    image_height: 480
    camera_name: front
    camera_matrix: {rows: 3, cols: 3, data: [fx, 0, cx, 0, fy, cy, 0, 0, 1]}
    distortion_model: plumb_bob
    distortion_coefficients: {rows: 1, cols: 5, data: [k1, k2, p1, p2, k3]}
    rectification_matrix: {rows: 3, cols: 3, data: [...]}
    projection_matrix: {rows: 3, cols: 4, data: [...]}
    extrinsics:                  # the TF transform parent_frame -> child_frame (as /tf_static)
      parent_frame: panda_link0  # robot base
      child_frame: front_optical_frame
      translation: [x, y, z]     # metres: camera origin in the base frame
      rotation: [qx, qy, qz, qw] # camera orientation in the base frame

A file may also hold several cameras under ``cameras: {name: {...}, ...}``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np
import yaml
from scipy.spatial.transform import Rotation

from vap_ros.camera.camera import Camera
from vap_ros.errors import CalibrationError

__all__ = [
    "camera_from_dict",
    "camera_to_dict",
    "load_calibration",
    "pose_from_transform",
    "save_calibration",
    "transform_from_pose",
]


def transform_from_pose(translation, quaternion_xyzw) -> np.ndarray:
    """4x4 from a translation and an (x, y, z, w) quaternion (ROS order)."""
    q = np.asarray(quaternion_xyzw, dtype=np.float64).reshape(-1)
    t = np.asarray(translation, dtype=np.float64).reshape(-1)
    if q.size != 4 or t.size != 3:
        raise CalibrationError(f"extrinsics need translation[3] and rotation[4] (x, y, z, w), "
                               f"got {t.size} and {q.size} numbers")
    n = np.linalg.norm(q)
    if not np.isfinite(n) or n < 1e-9 or not np.all(np.isfinite(t)):
        raise CalibrationError(f"extrinsics rotation {q.tolist()} is not a valid quaternion")
    T = np.eye(4)
    T[:3, :3] = Rotation.from_quat(q / n).as_matrix()
    T[:3, 3] = t
    return T


def pose_from_transform(T: np.ndarray) -> tuple[list[float], list[float]]:
    """(translation, quaternion xyzw) of a 4x4 transform."""
    T = np.asarray(T, dtype=np.float64)
    return T[:3, 3].tolist(), Rotation.from_matrix(T[:3, :3]).as_quat().tolist()


def _matrix(block: Any, rows: int, cols: int, what: str) -> np.ndarray:
    if isinstance(block, Mapping):
        data = block.get("data")
    else:
        data = block
    if data is None:
        raise CalibrationError(f"calibration is missing {what}")
    arr = np.asarray(data, dtype=np.float64).reshape(-1)
    if rows * cols and arr.size != rows * cols:
        raise CalibrationError(f"{what} must have {rows}x{cols} numbers, got {arr.size}")
    return arr


def camera_from_dict(d: Mapping[str, Any], *, name: str | None = None,
                     base_frame: str | None = None) -> Camera:
    """A ``Camera`` from one camera's calibration mapping (format in the module docstring)."""
    try:
        width, height = int(d["image_width"]), int(d["image_height"])
    except KeyError as err:
        raise CalibrationError(f"calibration is missing {err.args[0]!r}") from err
    cam_name = name or str(d.get("camera_name") or "camera")
    K = _matrix(d.get("camera_matrix"), 3, 3, "camera_matrix").reshape(3, 3)
    dist_block = d.get("distortion_coefficients", {"data": []})
    dist = _matrix(dist_block, 0, 0, "distortion_coefficients")
    ext = d.get("extrinsics")
    if ext is None:
        raise CalibrationError(
            f"calibration of camera {cam_name!r} has no 'extrinsics' block (parent_frame, "
            "child_frame, translation, rotation): the camera pose relative to the robot base "
            "is needed")
    try:
        T_base_cam = transform_from_pose(ext["translation"], ext["rotation"])
    except KeyError as err:
        raise CalibrationError(f"extrinsics of {cam_name!r} miss {err.args[0]!r}") from err
    T_cam_base = np.linalg.inv(T_base_cam)
    parent = str(ext.get("parent_frame", ""))
    if base_frame and parent and parent != base_frame:
        raise CalibrationError(
            f"extrinsics of {cam_name!r} are relative to {parent!r}, but the robot base frame "
            f"is {base_frame!r}")
    return Camera(name=cam_name, width=width, height=height, K=K, dist=dist,
                  T_cam_base=T_cam_base,
                  distortion_model=str(d.get("distortion_model") or "plumb_bob"),
                  frame_id=str(ext.get("child_frame", f"{cam_name}_optical_frame")),
                  base_frame=parent)


def camera_to_dict(cam: Camera) -> dict[str, Any]:
    """The calibration mapping of one camera (inverse of ``camera_from_dict``)."""
    P = np.zeros((3, 4))
    P[:, :3] = cam.K
    t, q = pose_from_transform(cam.T_base_cam)
    return {
        "image_width": cam.width,
        "image_height": cam.height,
        "camera_name": cam.name,
        "camera_matrix": {"rows": 3, "cols": 3, "data": cam.K.reshape(-1).tolist()},
        "distortion_model": cam.distortion_model,
        "distortion_coefficients": {"rows": 1, "cols": int(cam.dist.size),
                                    "data": cam.dist.tolist()},
        "rectification_matrix": {"rows": 3, "cols": 3, "data": np.eye(3).reshape(-1).tolist()},
        "projection_matrix": {"rows": 3, "cols": 4, "data": P.reshape(-1).tolist()},
        "extrinsics": {
            "parent_frame": cam.base_frame,
            "child_frame": cam.frame_id or f"{cam.name}_optical_frame",
            "translation": t,
            "rotation": q,
        },
    }


def load_calibration(path: str | Path, *, base_frame: str | None = None) -> dict[str, Camera]:
    """Read a calibration YAML (one camera, or several under ``cameras:``) → {name: Camera}."""
    p = Path(path)
    if not p.is_file():
        raise CalibrationError(f"calibration file not found: {str(path)!r}")
    try:
        doc = yaml.safe_load(p.read_text())
    except yaml.YAMLError as err:
        raise CalibrationError(f"calibration file {p} is not valid YAML: {err}") from err
    if not isinstance(doc, Mapping):
        raise CalibrationError(f"calibration file {p} must hold a mapping")
    if "cameras" in doc:
        cams = doc["cameras"]
        if not isinstance(cams, Mapping) or not cams:
            raise CalibrationError(f"{p}: 'cameras' must map names to calibrations")
        return {str(n): camera_from_dict(c, name=str(n), base_frame=base_frame)
                for n, c in cams.items()}
    cam = camera_from_dict(doc, base_frame=base_frame)
    return {cam.name: cam}


def save_calibration(cameras: Camera | Mapping[str, Camera] | list[Camera],
                     path: str | Path) -> Path:
    """Write one camera (flat format) or several (under ``cameras:``)."""
    if isinstance(cameras, Camera):
        doc: dict[str, Any] = camera_to_dict(cameras)
    else:
        items = cameras.values() if isinstance(cameras, Mapping) else cameras
        doc = {"cameras": {c.name: camera_to_dict(c) for c in items}}
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(yaml.safe_dump(doc, sort_keys=False))
    return p
