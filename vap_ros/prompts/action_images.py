"""Action images: an end-effector pose + gripper state as multi-view Gaussian heatmaps.

Encoding ("Action Images", Zhen et al. 2026): three 3D points (the end-effector position, +0.1 m
along the tool x axis, +0.1 m along the tool -z axis) are projected into every view and drawn
as 2D Gaussians (sigma = 0.05 min(H, W)) in the R, G and B channels; an open gripper raises the
background of one channel to 0.25.

Decoding here is geometric rather than the paper's depth sweep: per view and channel, the
Gaussian's centre is found to sub-pixel accuracy by a least-squares fit of a paraboloid to the
log-intensity (robust to truncation at the image border), the centres are undistorted and
triangulated linearly over all views where the point is seen, and the rotation is the
orthonormal frame that best fits the two recovered axes (Kabsch). The gripper state is read from
the background level.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from vap_ros.camera import Camera
from vap_ros.errors import CalibrationError, ImageError, TrajectoryError

__all__ = ["ActionImageCodec", "DecodedActions"]


@dataclass(frozen=True)
class DecodedActions:
    """Decoded end-effector actions.

    Attributes:
        T_base_ee: (T, 4, 4) poses in the base frame (NaN where fewer than 2 views saw a point).
        gripper_open: (T,) bool.
        views_used: (T, 3) how many views each point was triangulated from.
    """

    T_base_ee: np.ndarray
    gripper_open: np.ndarray
    views_used: np.ndarray


@dataclass(frozen=True)
class ActionImageCodec:
    """Encoder/decoder of action images.

    Attributes:
        sigma_frac: Gaussian sigma as a fraction of min(H, W).
        axis_length_m: distance of the two axis points from the end effector.
        open_level: background level of ``gripper_channel`` when the gripper is open.
        gripper_channel: which channel carries the gripper state (0 R, 1 G, 2 B).
    """

    sigma_frac: float = 0.05
    axis_length_m: float = 0.1
    open_level: float = 0.25
    gripper_channel: int = 2

    def model_points(self) -> np.ndarray:
        """(3, 3) the three points in the end-effector frame."""
        a = self.axis_length_m
        return np.array([[0.0, 0.0, 0.0], [a, 0.0, 0.0], [0.0, 0.0, -a]])

    # ------------------------------------------------------------------ encode
    def encode(self, T_base_ee: np.ndarray, gripper_open, cameras: Sequence[Camera],
               size: tuple[int, int] | None = None) -> np.ndarray:
        """Encode poses (T, 4, 4) and gripper states (T,) → (V, T, H, W, 3) uint8 images."""
        T_base_ee = np.asarray(T_base_ee, np.float64).reshape(-1, 4, 4)
        if not np.all(np.isfinite(T_base_ee)):
            bad = np.flatnonzero(~np.isfinite(T_base_ee).all(axis=(1, 2))).tolist()
            raise TrajectoryError(f"end-effector poses {bad[:5]} (of {T_base_ee.shape[0]}) "
                                  "contain NaN or inf: expected finite poses")
        n = T_base_ee.shape[0]
        grip = np.broadcast_to(np.asarray(gripper_open, bool), (n,))
        pts = (np.einsum("tij,kj->tki", T_base_ee[:, :3, :3], self.model_points())
               + T_base_ee[:, None, :3, 3])  # (T, 3, 3)
        views = []
        for cam in cameras:
            c = cam if size is None or (cam.height, cam.width) == tuple(size) else cam.scaled(
                size[1], size[0])
            H, W = c.height, c.width
            sigma = self.sigma_frac * min(H, W)
            proj = c.project(pts)  # uv (T, 3, 2)
            uv = np.where(np.isfinite(proj.uv), proj.uv, 1e9)
            ys = np.arange(H, dtype=np.float64)
            xs = np.arange(W, dtype=np.float64)
            gx = np.exp(-((xs[None, None, :] - uv[..., 0:1]) ** 2) / (2 * sigma**2))
            gy = np.exp(-((ys[None, None, :] - uv[..., 1:2]) ** 2) / (2 * sigma**2))
            g = gy[..., :, None] * gx[..., None, :]  # (T, 3, H, W): separable Gaussian
            bg = np.zeros((n, 3, 1, 1))
            bg[grip, self.gripper_channel] = self.open_level
            img = bg + (1.0 - bg) * g
            views.append(np.clip(np.round(img * 255.0), 0, 255).astype(np.uint8)
                         .transpose(0, 2, 3, 1))
        return np.stack(views)

    # ------------------------------------------------------------------ decode
    def _centre(self, chan: np.ndarray, bg: float, sigma: float) -> np.ndarray | None:
        """Sub-pixel centre of one Gaussian blob in a (H, W) float image, or None."""
        g = (chan - bg) / max(1.0 - bg, 1e-6)
        peak = float(g.max())
        if peak < 0.3:
            return None
        ys, xs = np.nonzero(g > max(0.15, 0.2 * peak))
        if xs.size < 6:
            return None
        val = g[ys, xs]
        w = val  # weight bright (less quantised) pixels more
        A = np.stack([xs, ys, xs.astype(np.float64) ** 2 + ys.astype(np.float64) ** 2,
                      np.ones_like(xs, dtype=np.float64)], axis=1).astype(np.float64)
        coef, *_ = np.linalg.lstsq(A * w[:, None], np.log(val) * w, rcond=None)
        a, b, c, _ = coef
        if c >= 0:
            return None
        return np.array([-a / (2 * c), -b / (2 * c)])

    def decode(self, images: np.ndarray, cameras: Sequence[Camera], *, centre=None,
               triangulate=None) -> DecodedActions:
        """Decode (V, T, H, W, 3) uint8 action images from V ≥ 2 calibrated views.

        ``centre(channel (H, W) in [0, 1], background, sigma) -> uv or None`` and
        ``triangulate([(camera, uv), ...]) -> xyz`` replace the per-blob steps (default: one
        global Gaussian fit, linear least squares); ``vap_ros.label.decode`` passes robust ones
        for generated images."""
        centre = self._centre if centre is None else centre
        triangulate = _triangulate if triangulate is None else triangulate
        imgs = np.asarray(images)
        if imgs.ndim == 4:
            imgs = imgs[:, None]
        if imgs.ndim != 5 or imgs.shape[-1] != 3:
            raise ImageError(f"action images must be (V, T, H, W, 3), got {imgs.shape}")
        V, T, H, W, _ = imgs.shape
        if V != len(cameras):
            raise ImageError(f"{V} views of action images but {len(cameras)} cameras")
        if V < 2:
            raise CalibrationError("decoding action images needs at least 2 calibrated views")
        cams = [c if (c.height, c.width) == (H, W) else c.scaled(W, H) for c in cameras]
        sigma = self.sigma_frac * min(H, W)
        f = imgs.astype(np.float64) / 255.0
        poses = np.full((T, 4, 4), np.nan)
        opened = np.zeros(T, bool)
        used = np.zeros((T, 3), np.int64)
        model = self.model_points()
        for t in range(T):
            bg_g = np.median(f[:, t, :, :, self.gripper_channel])
            opened[t] = bg_g > 0.5 * self.open_level
            pts3 = np.full((3, 3), np.nan)
            for k in range(3):
                bg = self.open_level if (opened[t] and k == self.gripper_channel) else 0.0
                rays = []
                for v, cam in enumerate(cams):
                    uv = centre(f[v, t, :, :, k], bg, sigma)
                    if uv is not None:
                        rays.append((cam, uv))
                used[t, k] = len(rays)
                if len(rays) >= 2:
                    pts3[k] = triangulate(rays)
            if np.all(np.isfinite(pts3)):
                poses[t] = _fit_pose(model, pts3)
        return DecodedActions(poses, opened, used)


def _triangulate(rays: list[tuple[Camera, np.ndarray]]) -> np.ndarray:
    """Linear least-squares triangulation of one point from undistorted pixel observations."""
    rows, rhs = [], []
    for cam, uv in rays:
        pt = uv.reshape(1, 1, 2)
        if cam.distortion_model == "equidistant":
            xn = cv2.fisheye.undistortPoints(pt, cam.K, cam.dist).reshape(2)
        else:
            xn = cv2.undistortPoints(pt, cam.K, cam.dist).reshape(2)
        R, tv = cam.T_cam_base[:3, :3], cam.T_cam_base[:3, 3]
        for i in range(2):
            row = xn[i] * R[2] - R[i]
            rows.append(row)
            rhs.append(tv[i] - xn[i] * tv[2])
    X, *_ = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)
    return X


def _fit_pose(model: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Pose with origin at ``pts[0]`` whose rotation best maps the model axes onto the
    observed ones (Kabsch on the axis vectors)."""
    a = model[1:] - model[0]
    b = pts[1:] - pts[0]
    U, _, Vt = np.linalg.svd(b.T @ a)
    D = np.diag([1.0, 1.0, np.sign(np.linalg.det(U @ Vt))])
    T = np.eye(4)
    T[:3, :3] = U @ D @ Vt
    T[:3, 3] = pts[0]
    return T
