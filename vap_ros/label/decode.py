"""Decoding *generated* action images: robust to the blotches a model leaves beside the blob.

``ActionImageCodec.decode`` is exact on rendered action images (0.03 mm at 64 px) but fits one
paraboloid to every pixel above a threshold, so a stray patch elsewhere in the image (generated
action images have them: 8x8 token blocks of colour away from the gripper) drags the centre
off. ``RobustDecoder`` changes two steps and keeps the codec's encoding and conventions:

* **centre**: the channel is matched-filtered (Gaussian of the codec's sigma), the strongest
  response picks the blob, and the paraboloid is fitted only within 2 sigma of it;
* **triangulation**: with 3 or more views, a view whose reprojection error exceeds
  ``outlier_px`` is left out when leaving it out lowers the worst reprojection error (the
  best subset of >= 2 views is kept).

``smooth`` (optional) median-filters the decoded positions over time and takes the majority
gripper state in the same window.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Sequence

import cv2
import numpy as np

from vap_ros.camera import Camera
from vap_ros.errors import ImageError
from vap_ros.prompts import ActionImageCodec
from vap_ros.prompts.action_images import DecodedActions, _triangulate

__all__ = ["RobustDecoder", "smooth"]


@dataclass(frozen=True)
class RobustDecoder:
    """Decoder of generated action images (see the module docstring).

    Attributes:
        codec: the encoder's settings (sigma, axis length, gripper channel and level).
        outlier_px: reprojection error (pixels at the image size) beyond which a view may be
            dropped from a 3+-view triangulation.
    """

    codec: ActionImageCodec = field(default_factory=ActionImageCodec)
    outlier_px: float = 3.0

    def centre(self, chan: np.ndarray, bg: float, sigma: float) -> np.ndarray | None:
        """Sub-pixel centre of the strongest blob of one (H, W) channel in [0, 1], or None."""
        g = (chan - bg) / max(1.0 - bg, 1e-6)
        response = cv2.GaussianBlur(g.astype(np.float32), (0, 0), sigma)
        y0, x0 = np.unravel_index(int(np.argmax(response)), response.shape)
        r = int(np.ceil(2.0 * sigma))
        H, W = g.shape
        ys, xs = np.mgrid[max(0, y0 - r):min(H, y0 + r + 1), max(0, x0 - r):min(W, x0 + r + 1)]
        win = g[ys, xs]
        peak = float(win.max())
        if peak < 0.3:
            return None
        keep = win > max(0.15, 0.2 * peak)
        if keep.sum() < 6:
            return None
        xs, ys, val = xs[keep].astype(np.float64), ys[keep].astype(np.float64), win[keep]
        A = np.stack([xs, ys, xs ** 2 + ys ** 2, np.ones_like(xs)], axis=1)
        coef, *_ = np.linalg.lstsq(A * val[:, None], np.log(val) * val, rcond=None)
        a, b, c, _ = coef
        if c < 0:
            uv = np.array([-a / (2 * c), -b / (2 * c)])
            if abs(uv[0] - x0) <= r and abs(uv[1] - y0) <= r:
                return uv
        return np.array([(xs * val).sum(), (ys * val).sum()]) / val.sum()  # weighted centroid

    def triangulate(self, rays: list[tuple[Camera, np.ndarray]]) -> np.ndarray:
        """One point from >= 2 (camera, uv) observations, dropping outlier views."""
        best, best_err = None, np.inf
        n = len(rays)
        for k in range(n, 1, -1):  # all views first, then leave-one-out subsets, ...
            for subset in itertools.combinations(range(n), k):
                X = _triangulate([rays[i] for i in subset])
                err = max(float(np.linalg.norm(rays[i][0].project(X[None]).uv[0]
                                               - rays[i][1])) for i in subset)
                if err < best_err:
                    best, best_err = X, err
            if best_err <= self.outlier_px:
                break
        assert best is not None
        return best

    def decode(self, images: np.ndarray, cameras: Sequence[Camera]) -> DecodedActions:
        """Decode (V, T, H, W, 3) uint8 action images from V >= 2 calibrated views.

        Raises:
            ImageError: not (V, T, H, W, 3) or a view count that differs from the cameras.
            CalibrationError: fewer than 2 views.
        """
        imgs = np.asarray(images)
        if imgs.ndim != 5 or imgs.shape[-1] != 3:
            raise ImageError(f"action images must be (V, T, H, W, 3), got {imgs.shape}")
        return self.codec.decode(imgs, cameras, centre=self.centre,
                                 triangulate=self.triangulate)


def smooth(T_base_ee: np.ndarray, gripper_open: np.ndarray, frames: int
           ) -> tuple[np.ndarray, np.ndarray]:
    """Median-filter positions and take the majority gripper state over ``frames`` (odd)
    consecutive frames (shrinking at the ends); rotations are kept."""
    if frames <= 1:
        return T_base_ee, gripper_open
    h = frames // 2
    n = T_base_ee.shape[0]
    out = T_base_ee.copy()
    grip = gripper_open.copy()
    for i in range(n):
        a, b = max(0, i - h), min(n, i + h + 1)
        out[i, :3, 3] = np.median(T_base_ee[a:b, :3, 3], axis=0)
        grip[i] = gripper_open[a:b].mean() > 0.5 if (b - a) % 2 else gripper_open[i]
    return out, grip
