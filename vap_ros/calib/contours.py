"""Rendered silhouette contours as 3D points, and the residual of projecting them into the
observed masks' signed distance fields (the quantity the refinement minimises)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np
from scipy.ndimage import map_coordinates
from scipy.spatial.transform import Rotation

from vap_ros.camera import Camera

__all__ = ["ContourObjective", "ContourSet", "EdgeObjective", "EdgeSet", "Projector",
           "apply_correction", "contour_points", "edge_targets", "project_points", "residuals"]


def _rows_of(frame: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Indices of the points whose ``frame`` is in ``frames``, frame by frame in that order
    (a repeated frame repeats its points)."""
    if not len(frames):
        return np.zeros(0, np.intp)
    return np.concatenate([np.flatnonzero(frame == f) for f in frames])


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
        idx = _rows_of(self.frame, frames)
        return replace(self, points_base=self.points_base[idx], frame=self.frame[idx],
                       offset=self.offset[idx])


def apply_correction(cam: Camera, x: np.ndarray) -> Camera:
    """The camera after a correction ``x``: rotation vector (rad) and translation (m) of a
    rigid motion in the camera's own optical frame (``T_cam_base <- D @ T_cam_base``), then
    optionally [log focal scale, dcx, dcy (px at the camera's size)] and [dk1] (the first
    radial distortion coefficient of any OpenCV model; a camera without distortion becomes
    plumb_bob)."""
    x = np.asarray(x, np.float64)
    D = np.eye(4)
    D[:3, :3] = Rotation.from_rotvec(x[:3]).as_matrix()
    D[:3, 3] = x[3:6]
    K, dist, model = _intrinsics(cam, x)
    return replace(cam, T_cam_base=D @ cam.T_cam_base, K=K, dist=dist, distortion_model=model)


def _intrinsics(cam: Camera, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """(K, dist, distortion model) after the intrinsic part of a correction ``x``."""
    K, dist, model = cam.K, cam.dist, cam.distortion_model
    if x.size > 6:
        K = K.copy()
        s = float(np.exp(x[6]))
        K[0, 0] *= s
        K[1, 1] *= s
        K[0, 2] += x[7]
        K[1, 2] += x[8]
    if x.size > 9:
        dist = dist.astype(np.float64).copy()
        if model == "none":
            model, dist = "plumb_bob", np.zeros(5)
        dist[0] += x[9]
    return K, dist, model


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


class Projector:
    """Pixels of fixed surface points under a camera correction ``x`` (see
    ``apply_correction``: 6 pose parameters, 9 with [log focal scale, dcx, dcy], 10 with
    [dk1] too) and their derivatives, from OpenCV's ``projectPoints`` (distortion
    included)."""

    def __init__(self, cam: Camera, points_base: np.ndarray, n_params: int = 6):
        self.cam, self.n = cam, int(n_params)
        T = cam.T_cam_base
        self.points_cam = (points_base @ T[:3, :3].T + T[:3, 3]).reshape(-1, 1, 3)
        self._key: bytes | None = None  # the x of the cached projection
        self._cached: tuple[np.ndarray, np.ndarray, np.ndarray] = (
            np.zeros((0, 2)), np.zeros((0, 2, self.n)), np.zeros(0, bool))

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(uv (N, 2), d uv / d x (N, 2, n), in front of the camera (N,))."""
        x = np.asarray(x, np.float64)[: self.n]
        key = x.tobytes()
        if key == self._key:
            return self._cached
        c = self.cam
        K, dist, model = _intrinsics(c, x)
        rvec, tvec = x[:3].reshape(3, 1), x[3:6].reshape(3, 1)
        if not self.points_cam.shape[0]:
            out = (np.zeros((0, 2)), np.zeros((0, 2, self.n)), np.zeros(0, bool))
            self._key, self._cached = key, out
            return out
        if model == "equidistant":
            uv, jac = cv2.fisheye.projectPoints(self.points_cam, rvec, tvec, K, dist)
            jac = jac.reshape(-1, 2, jac.shape[-1])
            # fisheye columns: f(2) c(2) k(4) r(3) t(3) alpha
            jr, jt, jf, jc = jac[..., 8:11], jac[..., 11:14], jac[..., 0:2], jac[..., 2:4]
            jk = jac[..., 4:5]
        else:
            uv, jac = cv2.projectPoints(self.points_cam, rvec, tvec, K, dist)
            jac = jac.reshape(-1, 2, jac.shape[-1])
            jr, jt, jf, jc = jac[..., 0:3], jac[..., 3:6], jac[..., 6:8], jac[..., 8:10]
            jk = jac[..., 10:11]
        cols = [jr, jt]
        if self.n > 6:
            cols += [(jf * np.array([K[0, 0], K[1, 1]])).sum(axis=-1, keepdims=True), jc]
        if self.n > 9:
            cols.append(jk)
        R = cv2.Rodrigues(rvec)[0]
        z = self.points_cam.reshape(-1, 3) @ R[2] + tvec[2, 0]
        self._key = key
        self._cached = (uv.reshape(-1, 2), np.concatenate(cols, axis=-1), z > 1e-3)
        return self._cached


class ContourObjective:
    """Residuals and their analytic Jacobian for ``scipy.optimize.least_squares``.

    ``x`` = correction (``apply_correction``) of ``cam`` (the camera at ``cs.size``). The
    residual of a contour point is the observed mask's signed distance at its projection
    plus its offset (see ``ContourSet``), clipped to +-``cap``; points leaving the field
    score ``cap``. The Jacobian chains OpenCV's projection derivatives with the field's
    gradient.
    """

    def __init__(self, cam: Camera, cs: ContourSet, cap: float, n_params: int = 6):
        H, W = cs.size
        self.cam = cam if (cam.height, cam.width) == (H, W) else cam.scaled(W, H)
        self.cs, self.cap, self.n = cs, float(cap), int(n_params)
        self._project = Projector(self.cam, cs.points_base, n_params)

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
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
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
        points (N, 3) in the base frame, frame index (N,), offset (N,) (see ``ContourSet``),
        outward unit normal (N, 2) of the silhouette in the image.
    """
    T, H, W = depth.shape
    cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    pts, idx, offs, nrm = [], [], [], []
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
        n_out = np.zeros((u.size, 2))
        n_out[ok] = -np.stack([gx[ok], gy[ok]], -1) / norm[ok, None]
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
        nrm.append(n_out)
    if not pts:
        return np.zeros((0, 3)), np.zeros(0, np.intp), np.zeros(0), np.zeros((0, 2))
    return np.concatenate(pts), np.concatenate(idx), np.concatenate(offs), np.concatenate(nrm)


@dataclass
class EdgeSet:
    """Contour points matched to the image edge found along their normal (RAPID-style).

    Attributes:
        points_base: (M, 3) surface points; offset (M,) as in ``ContourSet``.
        normal: (M, 2) outward silhouette normal at the point (image, at ``size``).
        target: (M, 2) pixel of the strongest colour edge along the normal.
        size: (H, W) image size the pixels refer to; frame: (M,) frame of each point.
    """

    points_base: np.ndarray
    offset: np.ndarray
    normal: np.ndarray
    target: np.ndarray
    size: tuple[int, int]
    frame: np.ndarray

    def subset(self, frames: np.ndarray) -> "EdgeSet":
        """The points of the given frames (repeats allowed: a bootstrap sample)."""
        idx = _rows_of(self.frame, frames)
        return replace(self, points_base=self.points_base[idx], offset=self.offset[idx],
                       normal=self.normal[idx], target=self.target[idx], frame=self.frame[idx])


def edge_targets(images: np.ndarray, frame: np.ndarray, uv: np.ndarray, normal: np.ndarray,
                 search: float, min_step: float = 6.0) -> tuple[np.ndarray, np.ndarray]:
    """For each point (pixel ``uv`` of frame ``frame``), the sub-pixel position of the
    strongest colour change along its ``normal`` within +-``search`` px (images blurred
    with sigma 1 px first, so a blurred or anti-aliased step peaks at its centre).

    Returns:
        target (N, 2), ok (N,): a change of at least ``min_step`` (0..255 per px) inside the
        window, not at its ends.
    """
    images = np.stack([cv2.GaussianBlur(im, (0, 0), 1.0) for im in images])
    s = np.arange(-search, search + 1e-9, 0.25)
    pos = uv[:, None, :] + s[None, :, None] * normal[:, None, :]  # (N, S, 2)
    N, S = pos.shape[:2]
    coords = np.stack([np.repeat(frame, S).astype(np.float64), pos[..., 1].reshape(-1),
                       pos[..., 0].reshape(-1)])
    prof = np.stack([map_coordinates(images[..., c].astype(np.float32), coords, order=1,
                                     mode="nearest").reshape(N, S) for c in range(3)], -1)
    grad = np.linalg.norm(np.diff(prof, axis=1), axis=-1) / 0.25  # (N, S - 1)
    k = np.argmax(grad, axis=1)
    ok = (k > 0) & (k < S - 2) & (grad[np.arange(N), k] >= min_step)
    kk = np.clip(k, 1, S - 3)
    g0, g1, g2 = (grad[np.arange(N), kk - 1], grad[np.arange(N), kk],
                  grad[np.arange(N), kk + 1])
    den = g0 - 2 * g1 + g2
    safe = np.where(np.abs(den) > 1e-9, den, 1.0)
    frac = np.where(np.abs(den) > 1e-9, 0.5 * (g0 - g2) / safe, 0.0)
    s_star = s[kk] + 0.125 + np.clip(frac, -0.5, 0.5) * 0.25  # midpoint of the diff step
    return uv + s_star[:, None] * normal, ok


class EdgeObjective:
    """Point-to-edge residuals ``n . (project(p) - target) + offset`` (px) with the same
    correction ``x`` as ``ContourObjective``; clipped to +-``cap``."""

    def __init__(self, cam: Camera, es: EdgeSet, cap: float, n_params: int = 6):
        H, W = es.size
        cam = cam if (cam.height, cam.width) == (H, W) else cam.scaled(W, H)
        self._project = Projector(cam, es.points_base, n_params)
        self.es, self.cap = es, float(cap)

    def residuals(self, x: np.ndarray) -> np.ndarray:
        uv, _, front = self._project(x)
        r = np.einsum("ij,ij->i", uv - self.es.target, self.es.normal) + self.es.offset
        r[~front] = self.cap
        return np.clip(r, -self.cap, self.cap)

    def jacobian(self, x: np.ndarray) -> np.ndarray:
        _, J_uv, front = self._project(x)
        J = np.einsum("ij,ijk->ik", self.es.normal, J_uv)
        r = self.residuals(x)
        J[~front | (np.abs(r) >= self.cap)] = 0.0
        return J
