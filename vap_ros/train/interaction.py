"""The interaction region: where the gripper is, from the prompt keypoints.

VAP amplifies the diffusion loss around the hand/gripper and its contact area. Here the region
is built from the gripper keypoints' pixel positions (``keypoints_uv`` from the dataset, indices
from ``SkeletonSpec.gripper``): a Gaussian or a disc around each keypoint, the maximum over
keypoints. The same disc mask scores the gripper-region PSNR in evaluation.

A second region covers *where the scene changes*: the pixels whose colour differs from the
first frame (``motion_region``), i.e. the arm's old and new places and what it moves. With
``residual: true`` these are the only pixels with a non-zero target, and the ones ST-IoU scores.
"""

from __future__ import annotations

import torch

from vap_ros.errors import ConfigError, ModelError

__all__ = ["loss_weight", "motion_region", "region_mask"]


def region_mask(keypoints_uv: torch.Tensor, height: int, width: int, *, radius_px: float,
                shape: str = "disc") -> torch.Tensor:
    """Soft (``gaussian``) or hard (``disc``) region around keypoints.

    Args:
        keypoints_uv: (..., T, K, 2) pixel coordinates (u right, v down; pixel centres at
            integers). Non-finite keypoints (behind the camera, missing) are ignored.
        height, width: frame size in pixels.
        radius_px: disc radius, or Gaussian sigma, in pixels.
        shape: "disc" (1 inside, 0 outside) or "gaussian" (exp(-d^2 / 2 sigma^2)).

    Returns:
        (..., T, H, W) float32 mask in [0, 1].
    """
    if shape not in ("disc", "gaussian"):
        raise ConfigError(key="shape", value=shape, expected="'disc' or 'gaussian'")
    kp = torch.as_tensor(keypoints_uv, dtype=torch.float32)
    valid = torch.isfinite(kp).all(dim=-1)  # (..., T, K)
    kp = torch.where(valid[..., None], kp, torch.zeros_like(kp))
    v = torch.arange(height, dtype=torch.float32).view(height, 1)
    u = torch.arange(width, dtype=torch.float32).view(1, width)
    du = u - kp[..., 0, None, None]  # (..., T, K, H, W)
    dv = v - kp[..., 1, None, None]
    d2 = du * du + dv * dv
    if shape == "disc":
        m = (d2 <= radius_px * radius_px).to(torch.float32)
    else:
        m = torch.exp(-d2 / (2.0 * radius_px * radius_px))
    m = m * valid[..., None, None].to(torch.float32)
    if m.shape[-3] == 0:  # no keypoints
        return torch.zeros(m.shape[:-3] + (height, width))
    return m.amax(dim=-3)


def loss_weight(keypoints_uv: torch.Tensor, height: int, width: int, *, factor: float,
                radius: float, shape: str = "gaussian",
                keypoint_indices=None) -> torch.Tensor:
    """Pixel-space loss weight ``1 + (factor - 1) * region`` for a batch.

    Args:
        keypoints_uv: (B, V, T, K, 2) pixel coordinates.
        factor: weight at the centre of the region (1 = no emphasis).
        radius: region radius/sigma as a fraction of min(height, width).
        keypoint_indices: which of the K keypoints make the region (None: all).

    Returns:
        (B, V, 1, T, H, W) float32, the ``loss_weight`` entry of a training batch.
    """
    kp = torch.as_tensor(keypoints_uv, dtype=torch.float32)
    if kp.ndim != 5 or kp.shape[-1] != 2:
        raise ModelError(f"keypoints_uv shape {tuple(kp.shape)}: expected (B, V, T, K, 2)")
    if keypoint_indices is not None:
        kp = kp[..., list(keypoint_indices), :]
    region = region_mask(kp, height, width, radius_px=radius * min(height, width), shape=shape)
    return (1.0 + (factor - 1.0) * region).unsqueeze(2)


def motion_region(video: torch.Tensor, *, threshold: float = 0.1, dilate: int = 1
                  ) -> torch.Tensor:
    """Where each frame differs from the first frame: the arm's current and future places.

    Args:
        video: (B, V, 3, T, H, W) in [-1, 1] (a training batch's ``video``).
        threshold: a pixel changes when any channel moves by more than this fraction of the
            range (0.1 = 25 of 255 grey levels, the ST-IoU motion threshold).
        dilate: grow the region by this many pixels (max pooling), so that the edges of a
            moving part are covered too.
    Returns:
        (B, V, 1, T, H, W) float32 in {0, 1}; frame 0 is empty.
    """
    v = torch.as_tensor(video, dtype=torch.float32)
    if v.ndim != 6:
        raise ModelError(f"video shape {tuple(v.shape)}: expected (B, V, 3, T, H, W)")
    diff = (v - v[:, :, :, :1]).abs().amax(dim=2) > 2.0 * threshold  # (B, V, T, H, W)
    m = diff.to(torch.float32)
    if dilate > 0:
        b, nv, t, h, w = m.shape
        k = 2 * dilate + 1
        m = torch.nn.functional.max_pool2d(m.reshape(b * nv * t, 1, h, w), k, 1, dilate)
        m = m.reshape(b, nv, t, h, w)
    return m.unsqueeze(2)
