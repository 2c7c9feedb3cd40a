"""A calibrated pinhole camera (OpenCV distortion models) and base-frame point projection."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping

import cv2
import numpy as np

from vap_ros.errors import CalibrationError

__all__ = ["SUPPORTED_DISTORTION_MODELS", "Camera", "Projection", "look_at"]

#: ROS CameraInfo distortion models and how OpenCV projects them.
SUPPORTED_DISTORTION_MODELS = ("plumb_bob", "rational_polynomial", "equidistant", "none")


@dataclass(frozen=True)
class Projection:
    """Projected points.

    Attributes:
        uv: (..., 2) float pixel coordinates (OpenCV: pixel centres at integers).
        depth: (...,) z in the camera optical frame, metres.
        visible: (...,) bool: in front of the camera and inside the image.
    """

    uv: np.ndarray
    depth: np.ndarray
    visible: np.ndarray


def _as_matrix(value, shape, what) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.size != int(np.prod(shape)):
        raise CalibrationError(f"{what} must have {int(np.prod(shape))} numbers, got {arr.size}")
    arr = arr.reshape(shape)
    if not np.all(np.isfinite(arr)):
        raise CalibrationError(f"{what} contains NaN or inf")
    return arr


@dataclass(frozen=True)
class Camera:
    """A pinhole camera with OpenCV distortion, image size and extrinsics.

    Attributes:
        name: camera name (topic namespace, e.g. ``front``).
        width, height: image size in pixels.
        K: (3, 3) intrinsic matrix.
        dist: distortion coefficients in OpenCV order (plumb_bob: k1 k2 p1 p2 k3;
            rational_polynomial: 8; equidistant: k1..k4).
        T_cam_base: (4, 4) maps base-frame points into the OpenCV optical frame
            (x right, y down, z forward).
        distortion_model: a ROS CameraInfo distortion model name.
        frame_id: the optical frame's TF name; ``base_frame`` the robot base frame's name.
    """

    name: str
    width: int
    height: int
    K: np.ndarray
    dist: np.ndarray = field(default_factory=lambda: np.zeros(5))
    T_cam_base: np.ndarray = field(default_factory=lambda: np.eye(4))
    distortion_model: str = "plumb_bob"
    frame_id: str = ""
    base_frame: str = ""

    def __post_init__(self) -> None:
        if int(self.width) <= 0 or int(self.height) <= 0:
            raise CalibrationError(
                f"camera {self.name!r}: image size must be positive, got "
                f"{self.width}x{self.height}")
        object.__setattr__(self, "width", int(self.width))
        object.__setattr__(self, "height", int(self.height))
        K = _as_matrix(self.K, (3, 3), f"camera {self.name!r} K")
        if K[0, 0] <= 0 or K[1, 1] <= 0:
            raise CalibrationError(f"camera {self.name!r}: focal lengths must be positive "
                                   f"(fx={K[0, 0]}, fy={K[1, 1]}); is the CameraInfo empty?")
        object.__setattr__(self, "K", K)
        model = self.distortion_model or "plumb_bob"
        if model not in SUPPORTED_DISTORTION_MODELS:
            raise CalibrationError(
                f"camera {self.name!r}: distortion model {model!r} is not supported; "
                f"expected one of {SUPPORTED_DISTORTION_MODELS}")
        object.__setattr__(self, "distortion_model", model)
        d = np.asarray(self.dist, dtype=np.float64).reshape(-1)
        if not np.all(np.isfinite(d)):
            raise CalibrationError(f"camera {self.name!r}: distortion contains NaN or inf")
        if model == "equidistant":
            d = np.concatenate([d, np.zeros(4)])[:4] if d.size <= 4 else d
            if d.size != 4:
                raise CalibrationError(f"camera {self.name!r}: equidistant needs 4 coefficients")
        elif model == "none":
            d = np.zeros(5)
        elif d.size not in (0, 4, 5, 8, 12, 14):
            raise CalibrationError(
                f"camera {self.name!r}: {d.size} distortion coefficients; OpenCV takes "
                "4, 5, 8, 12 or 14")
        object.__setattr__(self, "dist", d if d.size else np.zeros(5))
        T = _as_matrix(self.T_cam_base, (4, 4), f"camera {self.name!r} T_cam_base")
        R = T[:3, :3]
        if not np.allclose(R @ R.T, np.eye(3), atol=1e-5) or not np.allclose(
                T[3], [0, 0, 0, 1]) or np.linalg.det(R) < 0:
            raise CalibrationError(f"camera {self.name!r}: T_cam_base is not a rigid transform")
        object.__setattr__(self, "T_cam_base", T)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_camera_info(cls, info: Any, T_cam_base, *, name: str | None = None,
                         base_frame: str = "") -> "Camera":
        """From a sensor_msgs/CameraInfo (message object or dict with the same fields).

        ``T_cam_base`` comes from TF / a calibration file (CameraInfo carries no extrinsics).
        """
        get = (info.get if isinstance(info, Mapping)
               else lambda k, default=None: getattr(info, k, default))
        header = get("header")
        frame_id = ""
        if header is not None:
            frame_id = (header.get("frame_id", "") if isinstance(header, Mapping)
                        else getattr(header, "frame_id", ""))
        K = get("k", None)
        if K is None:
            K = get("K", None)
        if K is None:
            raise CalibrationError("CameraInfo has no 'k' (intrinsic matrix)")
        d = get("d", None)
        if d is None:
            d = get("D", [])
        model = get("distortion_model", "") or "plumb_bob"
        width, height = int(get("width", 0)), int(get("height", 0))
        label = name or frame_id or "camera"
        if np.allclose(np.asarray(K, float), 0):
            raise CalibrationError(f"camera {label!r}: CameraInfo is uncalibrated (K is zero)")
        return cls(name=label, width=width, height=height, K=np.asarray(K, float),
                   dist=np.asarray(d, float), T_cam_base=np.asarray(T_cam_base, float),
                   distortion_model=model, frame_id=frame_id, base_frame=base_frame)

    def camera_info_dict(self) -> dict[str, Any]:
        """The CameraInfo fields (k, d, r, p, width, height, distortion_model, frame_id)."""
        P = np.zeros((3, 4))
        P[:, :3] = self.K
        return {
            "width": self.width, "height": self.height,
            "distortion_model": self.distortion_model,
            "d": self.dist.tolist(), "k": self.K.reshape(-1).tolist(),
            "r": np.eye(3).reshape(-1).tolist(), "p": P.reshape(-1).tolist(),
            "frame_id": self.frame_id,
        }

    # ------------------------------------------------------------------ geometry
    @property
    def T_base_cam(self) -> np.ndarray:
        R = self.T_cam_base[:3, :3]
        out = np.eye(4)
        out[:3, :3] = R.T
        out[:3, 3] = -R.T @ self.T_cam_base[:3, 3]
        return out

    def scaled(self, width: int, height: int) -> "Camera":
        """The same camera rendered at another resolution (intrinsics scaled per axis).

        Pixel centres stay consistent: ``c' = (c + 0.5) * s - 0.5``.
        """
        sx, sy = width / self.width, height / self.height
        K = self.K.copy()
        K[0, 0] *= sx
        K[0, 1] *= sx
        K[1, 1] *= sy
        K[0, 2] = (K[0, 2] + 0.5) * sx - 0.5
        K[1, 2] = (K[1, 2] + 0.5) * sy - 0.5
        return replace(self, width=int(width), height=int(height), K=K)

    def to_camera_frame(self, points_base: np.ndarray) -> np.ndarray:
        """(..., 3) base-frame points → (..., 3) optical-frame points."""
        p = np.asarray(points_base, dtype=np.float64)
        return p @ self.T_cam_base[:3, :3].T + self.T_cam_base[:3, 3]

    def project(self, points_base: np.ndarray, *, near: float = 1e-3) -> Projection:
        """Project base-frame points (..., 3) with distortion.

        Points behind the camera (z ≤ ``near``) get ``visible=False`` and a uv of NaN;
        points outside the image get ``visible=False`` with their (outside) uv.
        """
        p = np.asarray(points_base, dtype=np.float64)
        shape = p.shape[:-1]
        pc = self.to_camera_frame(p.reshape(-1, 3))
        z = pc[:, 2]
        front = z > near
        uv = np.full((pc.shape[0], 2), np.nan)
        if front.any():
            pts = pc[front].reshape(-1, 1, 3)
            zero = np.zeros(3)
            if self.distortion_model == "equidistant":
                img, _ = cv2.fisheye.projectPoints(pts, zero, zero, self.K, self.dist)
            else:
                img, _ = cv2.projectPoints(pts, zero, zero, self.K, self.dist)
            uv[front] = img.reshape(-1, 2)
        inside = (
            front
            & (uv[:, 0] >= -0.5) & (uv[:, 0] <= self.width - 0.5)
            & (uv[:, 1] >= -0.5) & (uv[:, 1] <= self.height - 0.5)
        )
        return Projection(uv.reshape(*shape, 2), z.reshape(shape), inside.reshape(shape))


def look_at(name: str, eye, target, *, width: int = 256, height: int = 256,
            fov_y_deg: float = 50.0, up=(0.0, 0.0, 1.0), dist=None,
            base_frame: str = "") -> Camera:
    """A distortion-free camera at ``eye`` looking at ``target`` (base-frame metres).

    Image x points along ``target-eye`` x ``up`` (right), y down; square pixels with the
    vertical field of view ``fov_y_deg`` and the principal point at the image centre.
    """
    eye = np.asarray(eye, np.float64)
    z = np.asarray(target, np.float64) - eye
    n = np.linalg.norm(z)
    if n < 1e-9:
        raise CalibrationError(f"camera {name!r}: eye and target coincide")
    z /= n
    x = np.cross(z, np.asarray(up, np.float64))
    if np.linalg.norm(x) < 1e-9:
        raise CalibrationError(f"camera {name!r}: viewing direction is parallel to 'up'")
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    T_base_cam = np.eye(4)
    T_base_cam[:3, :3] = np.stack([x, y, z], axis=1)
    T_base_cam[:3, 3] = eye
    f = (height / 2.0) / np.tan(np.radians(fov_y_deg) / 2.0)
    K = np.array([[f, 0.0, (width - 1) / 2.0], [0.0, f, (height - 1) / 2.0], [0.0, 0.0, 1.0]])
    T_cam_base = np.eye(4)
    T_cam_base[:3, :3] = T_base_cam[:3, :3].T
    T_cam_base[:3, 3] = -T_base_cam[:3, :3].T @ eye
    return Camera(name, width, height, K, dist=np.zeros(5) if dist is None else dist,
                  T_cam_base=T_cam_base, frame_id=f"{name}_optical_frame", base_frame=base_frame)
