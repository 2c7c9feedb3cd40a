"""Skeleton visual action prompts: the robot's keypoints drawn through calibrated cameras.

``SkeletonRenderer.render`` is the one function that turns joint positions into prompt videos,
for training clips (data/) and for live inference (ros/) alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from vap_ros.camera import Camera
from vap_ros.errors import ConfigError
from vap_ros.robot import RobotModel, SkeletonSpec

__all__ = ["SkeletonRenderer", "SkeletonStyle"]

_SHIFT = 4  # sub-pixel bits for cv2 drawing
_SCALE = 1 << _SHIFT


@dataclass(frozen=True)
class SkeletonStyle:
    """How prompts look. Sizes are relative to the canvas so any resolution looks alike.

    Attributes:
        line_width: line thickness as a fraction of min(H, W) (at least 1 px).
        disc_radius: joint-disc radius as a fraction of min(H, W) (at least 1 px).
        depth_shading: darken links with distance (``depth_range_m`` maps to 1.0 .. 0.35).
        depth_range_m: depths for full and dimmest brightness.
        antialias: antialiased lines (cv2.LINE_AA) or 8-connected.
    """

    line_width: float = 1.0 / 64
    disc_radius: float = 1.0 / 64
    depth_shading: bool = False
    depth_range_m: tuple[float, float] = (0.5, 2.5)
    antialias: bool = True

    def pixels(self, height: int, width: int) -> tuple[int, int]:
        s = min(height, width)
        return max(1, int(round(self.line_width * s))), max(1, int(round(self.disc_radius * s)))


class SkeletonRenderer:
    """Renders skeleton prompt videos for one robot and skeleton spec.

    Args:
        robot: the kinematic model.
        spec: keypoints and edges (default: the robot preset's, for the Panda ``panda``).
        style: drawing style.
    """

    def __init__(self, robot: RobotModel, spec: SkeletonSpec, style: SkeletonStyle | None = None):
        spec.check_frames(robot)
        self.robot = robot
        self.spec = spec
        self.style = style or SkeletonStyle()
        self._white = np.array([255, 255, 255], np.float64)

    @classmethod
    def from_preset(cls, preset: str = "panda", style: SkeletonStyle | None = None):
        return cls(RobotModel.from_preset(preset), SkeletonSpec.from_preset(preset), style)

    # ------------------------------------------------------------------ api
    def keypoints(self, arm_q: np.ndarray, gripper_width_m=None) -> np.ndarray:
        """(T, K, 3) keypoints in the base frame for arm positions (T, n)."""
        return self.spec.keypoints(self.robot, arm_q, gripper_width_m)

    def render(self, arm_q: np.ndarray, cameras: Sequence[Camera], gripper_width_m=None,
               size: tuple[int, int] | None = None) -> np.ndarray:
        """Prompt videos for a joint trajectory.

        Args:
            arm_q: (T, n) arm positions in ``robot.arm_joint_names`` order (radians).
            cameras: V calibrated cameras.
            gripper_width_m: (T,) or scalar gripper opening; None = the preset default.
            size: output (height, width); None = each camera's own size (then all cameras
                must share one size). Intrinsics are scaled to it.

        Returns:
            (V, T, H, W, 3) uint8 RGB prompts on black.
        """
        kps = self.keypoints(arm_q, gripper_width_m)
        return self.render_keypoints(kps, cameras, size)

    def render_keypoints(self, keypoints_base: np.ndarray, cameras: Sequence[Camera],
                         size: tuple[int, int] | None = None) -> np.ndarray:
        """Prompt videos (V, T, H, W, 3) for precomputed base-frame keypoints (T, K, 3)."""
        kps = np.asarray(keypoints_base, np.float64)
        if kps.ndim != 3 or kps.shape[1:] != (len(self.spec.names), 3):
            raise ConfigError(f"keypoints must be (T, {len(self.spec.names)}, 3), "
                              f"got {kps.shape}")
        if not cameras:
            raise ConfigError("render needs at least one camera")
        if size is None:
            sizes = {(c.height, c.width) for c in cameras}
            if len(sizes) != 1:
                raise ConfigError(f"cameras have different sizes {sorted(sizes)}: pass size=")
            size = sizes.pop()
        H, W = int(size[0]), int(size[1])
        out = np.zeros((len(cameras), kps.shape[0], H, W, 3), np.uint8)
        for v, cam in enumerate(cameras):
            c = cam if (cam.height, cam.width) == (H, W) else cam.scaled(W, H)
            proj = c.project(kps)
            self._draw_video(out[v], proj.uv, proj.depth)
        return out

    def draw(self, canvas: np.ndarray, uv: np.ndarray, depth: np.ndarray) -> np.ndarray:
        """Draw one frame: ``uv`` (K, 2) pixels, ``depth`` (K,) metres, into (H, W, 3)."""
        self._draw_video(canvas[None], uv[None], depth[None])
        return canvas

    def _draw_video(self, frames: np.ndarray, uv: np.ndarray, depth: np.ndarray) -> None:
        """Draw T frames in place: ``uv`` (T, K, 2), ``depth`` (T, K); far items first so
        nearer links occlude farther ones. All per-item numbers are prepared vectorised;
        the loop only calls OpenCV."""
        T, H, W = frames.shape[:3]
        lw, rad = self.style.pixels(H, W)
        radius = rad * _SCALE
        line_type = cv2.LINE_AA if self.style.antialias else cv2.LINE_8
        spec = self.spec
        e, discs = spec.edges, spec.discs
        n_e = e.shape[0]
        front = np.isfinite(uv).all(axis=2) & (depth > 0)  # (T, K)
        lim = 4 * max(H, W)  # clamp far-off points: fixed-point coordinates must not overflow
        pts = np.round(np.clip(np.nan_to_num(uv), -lim, lim) * _SCALE).astype(np.int64)
        # Items = edges then discs; discs sit just in front of the links meeting at them.
        item_depth = np.concatenate(
            [0.5 * (depth[:, e[:, 0]] + depth[:, e[:, 1]]), depth[:, discs] - 1e-4], axis=1)
        item_ok = np.concatenate([front[:, e[:, 0]] & front[:, e[:, 1]], front[:, discs]],
                                 axis=1)
        order = np.argsort(-np.where(item_ok, item_depth, -np.inf), axis=1, kind="stable")
        n_ok = item_ok.sum(axis=1)
        base = np.concatenate([spec.colors.astype(np.float64),
                               np.full((discs.size, 3), 255.0)], axis=0)  # (I, 3)
        if self.style.depth_shading:
            near, far = self.style.depth_range_m
            f = 1.0 - 0.65 * np.clip((item_depth - near) / max(far - near, 1e-6), 0.0, 1.0)
            colors = (base[None] * f[..., None]).astype(np.int64).tolist()  # (T, I, 3)
        else:
            shared = base.astype(np.int64).tolist()
            colors = None
        a_idx, b_idx = e[:, 0].tolist(), e[:, 1].tolist()
        d_idx = discs.tolist()
        pts_l = pts.tolist()
        order_l = order.tolist()
        for t in range(T):
            canvas = frames[t]
            p = pts_l[t]
            col_t = colors[t] if colors is not None else shared
            for i in order_l[t][: int(n_ok[t])]:
                if i < n_e:
                    cv2.line(canvas, p[a_idx[i]], p[b_idx[i]], col_t[i], lw, line_type, _SHIFT)
                else:
                    cv2.circle(canvas, p[d_idx[i - n_e]], radius, col_t[i], -1, line_type,
                               _SHIFT)
