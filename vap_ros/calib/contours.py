"""Rendered silhouette contours as 3D points, and the residual of projecting them into the
observed masks' signed distance fields (the quantity the refinement minimises)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np
from scipy.ndimage import map_coordinates
from scipy.spatial.transform import Rotation

from vap_ros.camera import Camera

__all__ = ["ContourObjective", "ContourSet", "apply_correction", "contour_points",
           "project_points", "residuals"]


@dataclass
class ContourSet:
    """Silhouette contour points of T frames.

    Attributes:
        points_base: (N, 3) points on the robot's surface (base frame) whose projections
            formed the rendered silhouette's contour.
        frame: (N,) frame index of each point.
        offset: (N,) expected distance (px) from the point's pixel centre to the true
            silhouette edge: a 4-connected boundary pixel lies uniformly within
            ``max(|n_x|, |n_y|)`` of an edge with normal n, so on average half that inside.
        sdt: (T, h, w) float32 signed distance fields of the observed masks in pixels of
            ``size`` (> 0 outside the robot), sampled ``factor`` times finer inside ``box``.
        size: (H, W) the image size the fields refer to.
        factor: supersampling of ``sdt``; box: (x0, y0, x1, y1) the region it covers.
    """

    points_base: np.ndarray
    frame: np.ndarray
    offset: np.ndarray
    sdt: np.ndarray
    size: tuple[int, int]
    factor: int = 1
    box: tuple[int, int, int, int] | None = None

    def subset(self, frames: np.ndarray) -> "ContourSet":
        """The points of the given frames (repeats allowed: a bootstrap sample)."""
        idx = np.concatenate([np.flatnonzero(self.frame == f) for f in frames]) \
            if len(frames) else np.zeros(0, np.intp)
        return replace(self, points_base=self.points_base[idx], frame=self.frame[idx],
                       offset=self.offset[idx])


def apply_correction(cam: Camera, x: np.ndarray) -> Camera:
    """The camera after a correction ``x``: rotation vector (rad) and translation (m) of a
    rigid motion in the camera's own optical frame (``T_cam_base <- D @ T_cam_base``), then
    optionally [log focal scale, dcx, dcy (px at the camera's size)]."""
    x = np.asarray(x, np.float64)
    D = np.eye(4)
    D[:3, :3] = Rotation.from_rotvec(x[:3]).as_matrix()
    D[:3, 3] = x[3:6]
    K = cam.K
    if x.size > 6:
        K = K.copy()
        s = float(np.exp(x[6]))
        K[0, 0] *= s
        K[1, 1] *= s
        K[0, 2] += x[7]
        K[1, 2] += x[8]
    return replace(cam, T_cam_base=D @ cam.T_cam_base, K=K)


def project_points(cam: Camera, points_base: np.ndarray) -> np.ndarray:
    """(N, 2) pixels of base-frame points (distortion applied; points behind → far away)."""
    pc = points_base @ cam.T_cam_base[:3, :3].T + cam.T_cam_base[:3, 3]
    behind = pc[:, 2] <= 1e-3
    pc[behind, 2] = 1e-3
    zero = np.zeros(3)
    if cam.distortion_model == "equidistant":
        uv, _ = cv2.fisheye.projectPoints(pc.reshape(-1, 1, 3), zero, zero, cam.K, cam.dist)
    else:
        uv, _ = cv2.projectPoints(pc.reshape(-1, 1, 3), zero, zero, cam.K, cam.dist)
    uv = uv.reshape(-1, 2)
    uv[behind] = -1e6
    return uv


class ContourObjective:
    """Residuals and their analytic Jacobian for ``scipy.optimize.least_squares``.

    ``x`` = correction (``apply_correction``) of ``cam`` (the camera at ``cs.size``): 6
    pose parameters, or 9 with [log focal scale, dcx, dcy]. The residual of a contour point
    is the observed mask's signed distance at its projection plus its offset (see
    ``ContourSet``), clipped to +-``cap``; points leaving the field score ``cap``. The
    Jacobian chains OpenCV's projection derivatives with the field's gradient.
    """

    def __init__(self, cam: Camera, cs: ContourSet, cap: float, n_params: int = 6):
        H, W = cs.size
        self.cam = cam if (cam.height, cam.width) == (H, W) else cam.scaled(W, H)
        self.cs, self.cap, self.n = cs, float(cap), int(n_params)
        T = self.cam.T_cam_base
        self.points_cam = (cs.points_base @ T[:3, :3].T + T[:3, 3]).reshape(-1, 1, 3)
        self._key = None

    def _project(self, x: np.ndarray):
        key = x.tobytes()
        if key == self._key:
            return self._cached
        c = self.cam
        K = c.K.copy()
        if self.n > 6:
            s = float(np.exp(x[6]))
            K[0, 0] *= s
            K[1, 1] *= s
            K[0, 2] += x[7]
            K[1, 2] += x[8]
        rvec, tvec = x[:3].reshape(3, 1), x[3:6].reshape(3, 1)
        if c.distortion_model == "equidistant":
            uv, jac = cv2.fisheye.projectPoints(self.points_cam, rvec, tvec, K, c.dist)
            jac = jac.reshape(-1, 2, jac.shape[-1])
            # fisheye columns: f(2) c(2) k(4) r(3) t(3) alpha
            jr, jt, jf, jc = jac[..., 8:11], jac[..., 11:14], jac[..., 0:2], jac[..., 2:4]
        else:
            uv, jac = cv2.projectPoints(self.points_cam, rvec, tvec, K, c.dist)
            jac = jac.reshape(-1, 2, jac.shape[-1])
            jr, jt, jf, jc = jac[..., 0:3], jac[..., 3:6], jac[..., 6:8], jac[..., 8:10]
        cols = [jr, jt]
        if self.n > 6:
            cols += [(jf * np.array([K[0, 0], K[1, 1]])).sum(axis=-1, keepdims=True), jc]
        J_uv = np.concatenate(cols, axis=-1)  # (N, 2, n)
        uv = uv.reshape(-1, 2)
        # a point behind the camera or leaving the field scores the cap
        R = cv2.Rodrigues(rvec)[0]
        z = self.points_cam.reshape(-1, 3) @ R[2] + tvec[2, 0]
        self._key, self._cached = key, (uv, J_uv, z > 1e-3)
        return self._cached

    def _sample(self, uv: np.ndarray, du: float = 0.0, dv: float = 0.0) -> np.ndarray:
        cs = self.cs
        H, W = cs.size
        x0, y0, x1, y1 = cs.box or (0, 0, W, H)
        f = cs.factor
        coords = np.stack([cs.frame.astype(np.float64),
                           (np.clip(uv[:, 1], y0, y1 - 1) - y0 + 0.5) * f - 0.5 + dv,
                           (np.clip(uv[:, 0], x0, x1 - 1) - x0 + 0.5) * f - 0.5 + du])
        return map_coordinates(cs.sdt, coords, order=1, mode="nearest")

    def _inside(self, uv: np.ndarray, front: np.ndarray) -> np.ndarray:
        H, W = self.cs.size
        x0, y0, x1, y1 = self.cs.box or (0, 0, W, H)
        return front & (uv[:, 0] >= x0) & (uv[:, 0] <= x1 - 1) & (uv[:, 1] >= y0) & (
            uv[:, 1] <= y1 - 1)

    def residuals(self, x: np.ndarray) -> np.ndarray:
        uv, _, front = self._project(np.asarray(x, np.float64))
        r = self._sample(uv) + self.cs.offset
        r[~self._inside(uv, front)] = self.cap
        return np.clip(r, -self.cap, self.cap)

    def jacobian(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float64)
        uv, J_uv, front = self._project(x)
        f = self.cs.factor
        gu = (self._sample(uv, du=0.5) - self._sample(uv, du=-0.5)) * f
        gv = (self._sample(uv, dv=0.5) - self._sample(uv, dv=-0.5)) * f
        J = gu[:, None] * J_uv[:, 0] + gv[:, None] * J_uv[:, 1]
        r = self._sample(uv) + self.cs.offset
        dead = ~self._inside(uv, front) | (np.abs(r) >= self.cap)
        J[dead] = 0.0
        return J


def residuals(cam: Camera, cs: ContourSet, cap: float) -> np.ndarray:
    """Residuals of ``cam`` (no correction): see ``ContourObjective``."""
    return ContourObjective(cam, cs, cap).residuals(np.zeros(6))


def contour_points(cam: Camera, depth: np.ndarray, usable: np.ndarray, *,
                   coverage: np.ndarray | None = None, max_per_frame: int = 400
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """3D base-frame points of the rendered silhouettes' contour pixels.

    Args:
        cam: the camera the depth was rendered through (at the depth's size).
        depth: (T, H, W) rendered depth (0 = no robot).
        usable: (H, W) or (T, H, W) bool, where an observed edge can be trusted.
        coverage: optional (T, H, W) fraction of each pixel the robot covers (a supersampled
            render): places each contour pixel's edge to sub-pixel precision,
            ``offset = (coverage - 0.5) * (|n_x| + |n_y|)``; else the expected offset.
        max_per_frame: subsample long contours evenly.

    Returns:
        points (N, 3) in the base frame, frame index (N,), offset (N,) (see ``ContourSet``).
    """
    T, H, W = depth.shape
    cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    pts, idx, offs = [], [], []
    use = np.broadcast_to(usable, depth.shape)
    border = np.zeros((H, W), bool)
    border[2:-2, 2:-2] = True
    for t in range(T):
        sil = (depth[t] > 0).astype(np.uint8)
        edge = (sil > 0) & (cv2.erode(sil, cross) == 0) & use[t] & border
        v, u = np.nonzero(edge)
        if u.size > max_per_frame:
            keep = np.linspace(0, u.size - 1, max_per_frame).round().astype(int)
            u, v = u[keep], v[keep]
        if not u.size:
            continue
        soft = cv2.GaussianBlur(sil.astype(np.float32), (5, 5), 1.0)
        gx = cv2.Sobel(soft, cv2.CV_32F, 1, 0)[v, u]
        gy = cv2.Sobel(soft, cv2.CV_32F, 0, 1)[v, u]
        norm = np.hypot(gx, gy)
        ok = norm > 1e-6
        ax, ay = np.abs(gx[ok]) / norm[ok], np.abs(gy[ok]) / norm[ok]
        off = np.full(u.size, 0.5)
        if coverage is None:
            off[ok] = 0.5 * np.maximum(ax, ay)
        else:
            off[ok] = np.clip((coverage[t, v, u][ok] - 0.5) * (ax + ay), 0.0, 1.0)
        z = depth[t, v, u].astype(np.float64)
        uv = np.stack([u, v], -1).astype(np.float64).reshape(-1, 1, 2)
        if cam.distortion_model == "equidistant":
            n = cv2.fisheye.undistortPoints(uv, cam.K, cam.dist).reshape(-1, 2)
        else:
            n = cv2.undistortPoints(uv, cam.K, cam.dist).reshape(-1, 2)
        pc = np.column_stack([n * z[:, None], z])
        pts.append(pc @ cam.T_base_cam[:3, :3].T + cam.T_base_cam[:3, 3])
        idx.append(np.full(u.size, t, np.intp))
        offs.append(off)
    if not pts:
        return np.zeros((0, 3)), np.zeros(0, np.intp), np.zeros(0)
    return np.concatenate(pts), np.concatenate(idx), np.concatenate(offs)
