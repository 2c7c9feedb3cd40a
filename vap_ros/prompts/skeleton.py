"""Skeleton visual action prompts: the robot's keypoints drawn through calibrated cameras.

``SkeletonRenderer.render`` is the one function that turns joint positions into prompt videos,
for training clips (data/) and for live inference (ros/) alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from vap_ros.camera import Camera
from vap_ros.errors import ConfigError
from vap_ros.prompts.batch_draw import SHIFT, draw_batched
from vap_ros.robot import RobotModel, SkeletonSpec

__all__ = ["SkeletonRenderer", "SkeletonStyle", "render_size"]

_SCALE = 1 << SHIFT  # sub-pixel bits for cv2 drawing


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


def render_size(cameras: Sequence[Camera], size: tuple[int, int] | None) -> tuple[int, int]:
    """(H, W) of a render: ``size``, else the cameras' common image size.

    Raises:
        ConfigError: no camera, or cameras of different sizes and no ``size``.
    """
    if not cameras:
        raise ConfigError("render needs at least one camera")
    if size is None:
        sizes = {(c.height, c.width) for c in cameras}
        if len(sizes) != 1:
            raise ConfigError(f"cameras have different sizes {sorted(sizes)}: pass size=")
        size = sizes.pop()
    return int(size[0]), int(size[1])


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
        # drawing items: the edges, then the discs (a disc's two ends are its keypoint)
        e, d = spec.edges, spec.discs
        self._n_edges = int(e.shape[0])
        self._item_ends = (np.concatenate([e[:, 0], d]), np.concatenate([e[:, 1], d]))
        self._base_colors = np.concatenate([spec.colors.astype(np.float64),
                                            np.full((d.size, 3), 255.0)], axis=0)  # (I, 3)

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
        """Prompt videos (V, T, H, W, 3) for precomputed base-frame keypoints: (T, K, 3) seen
        by every camera, or (V, T, K, 3), one set per camera (each view at its own stamps)."""
        size = render_size(cameras, size)
        uv, depth = self.project(keypoints_base, cameras, size)
        return self.draw_projected(uv, depth, size)

    def project(self, keypoints_base: np.ndarray, cameras: Sequence[Camera],
                size: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints seen by each camera at the canvas ``size`` (intrinsics scaled to it).

        Args:
            keypoints_base: (T, K, 3) for every camera, or (V, T, K, 3) one set per camera.

        Returns:
            uv (V, T, K, 2) float64 pixels (NaN behind the camera) and depth (V, T, K) metres.
        """
        kps = np.asarray(keypoints_base, np.float64)
        K = len(self.spec.names)
        if kps.ndim not in (3, 4) or kps.shape[-2:] != (K, 3) or (
                kps.ndim == 4 and kps.shape[0] != len(cameras)):
            raise ConfigError(f"keypoints must be (T, {K}, 3) or ({len(cameras)}, T, {K}, 3) "
                              f"for {len(cameras)} camera(s), got {kps.shape}")
        H, W = render_size(cameras, size)
        V, T = len(cameras), kps.shape[-3]
        uv = np.empty((V, T, K, 2))
        depth = np.empty((V, T, K))
        for v, cam in enumerate(cameras):
            c = cam if (cam.height, cam.width) == (H, W) else cam.scaled(W, H)
            proj = c.project(kps[v] if kps.ndim == 4 else kps)
            uv[v], depth[v] = proj.uv, proj.depth
        return uv, depth

    def draw_projected(self, uv: np.ndarray, depth: np.ndarray, size: tuple[int, int], *,
                       out: np.ndarray | None = None, skip: np.ndarray | None = None
                       ) -> np.ndarray:
        """Prompt videos (V, T, H, W, 3) uint8 from ``project``'s uv (V, T, K, 2) and depth.

        Args:
            out: a C-contiguous (V, T, H, W, 3) uint8 canvas to draw on (default: black).
            skip: (V, T) bool, frames left as they are in ``out``.
        """
        V, T = uv.shape[:2]
        H, W = int(size[0]), int(size[1])
        if out is None:
            out = np.zeros((V, T, H, W, 3), np.uint8)
        elif out.shape != (V, T, H, W, 3) or out.dtype != np.uint8 or not out.flags.c_contiguous:
            raise ConfigError(f"out must be a C-contiguous ({V}, {T}, {H}, {W}, 3) uint8 array")
        # all views and frames in one batch: fewer OpenCV calls than one per frame
        self._draw_video(out.reshape(V * T, H, W, 3), uv.reshape(V * T, -1, 2),
                         depth.reshape(V * T, -1),
                         None if skip is None else np.asarray(skip, bool).reshape(V * T))
        return out

    def draw(self, canvas: np.ndarray, uv: np.ndarray, depth: np.ndarray) -> np.ndarray:
        """Draw one frame: ``uv`` (K, 2) pixels, ``depth`` (K,) metres, into (H, W, 3)."""
        self._draw_video(canvas[None], uv[None], depth[None])
        return canvas

    def _draw_video(self, frames: np.ndarray, uv: np.ndarray, depth: np.ndarray,
                    skip: np.ndarray | None = None) -> None:
        """Draw N frames in place: ``uv`` (N, K, 2), ``depth`` (N, K); ``skip`` (N,) frames
        are left alone.

        Per frame, the items (edges, then discs) are drawn far to near so nearer links occlude
        farther ones, each blended onto what is already there. The pixels are those of one
        ``cv2.line`` / ``cv2.circle`` call per item and frame in that order; the calls are
        batched (``batch_draw``).
        """
        H, W = frames.shape[1:3]
        if not frames.flags.c_contiguous:  # the batch draws into a (N*H, W, 3) view
            tmp = np.ascontiguousarray(frames)
            self._draw_video(tmp, uv, depth, skip)
            frames[...] = tmp
            return
        lw, rad = self.style.pixels(H, W)
        front = np.isfinite(uv).all(axis=2) & (depth > 0)  # (N, K)
        lim = 4 * max(H, W)  # clamp far-off points: fixed-point coordinates must not overflow
        pts = np.round(np.clip(np.nan_to_num(uv), -lim, lim) * _SCALE).astype(np.int64)
        # Items = edges then discs; discs sit just in front of the links meeting at them.
        a, b = self._item_ends  # (I,) keypoint indices of each item's two ends
        item_depth = 0.5 * (depth[:, a] + depth[:, b])
        item_depth[:, self._n_edges:] -= 1e-4
        item_ok = front[:, a] & front[:, b]
        if skip is not None:
            item_ok[skip] = False
        order = np.argsort(-np.where(item_ok, item_depth, -np.inf), axis=1, kind="stable")
        n_ok = item_ok.sum(axis=1)
        if self.style.depth_shading:
            near, far = self.style.depth_range_m
            f = 1.0 - 0.65 * np.clip((item_depth - near) / max(far - near, 1e-6), 0.0, 1.0)
            colors = (self._base_colors[None] * f[..., None]).astype(np.int64)  # (N, I, 3)
        else:
            colors = self._base_colors.astype(np.int64)  # (I, 3), the same in every frame
        ends = np.stack([pts[:, a], pts[:, b]], axis=2)  # (N, I, 2, 2)
        draw_batched(frames, ends, order, n_ok, colors, self._n_edges, lw, rad,
                     self.style.antialias)
