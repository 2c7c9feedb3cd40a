"""Prompt types and how each is written into a uint8 RGB frame.

Every prompt type is a 3-channel uint8 RGB video on black, so the world model's conditioning
path is the same for all of them; ``prompt_type`` (rig config, clip cache manifest, the model's
``vap_config.json``) says which one a video holds:

- ``skeleton``: the skeleton drawing (``SkeletonRenderer``): coloured links, white joint discs.
- ``silhouette``: the robot's silhouette, white (255) on black.
- ``depth``: the robot's depth along the camera's optical axis as a grey ramp fixed in metres
  (the same grey means the same distance in every camera): ``DEPTH_GREY[0]`` (255) at
  ``DEPTH_RANGE_M[0]`` (0.2 m) or nearer, falling linearly to ``DEPTH_GREY[1]`` (48) at
  ``DEPTH_RANGE_M[1]`` (3.0 m) or farther; 0 (black) is background only. One grey step is
  2.8 m / 207 = 13.5 mm.
- ``skeleton+depth``: the skeleton drawn over the depth image.

Silhouette and depth frames are rendered at ``SUPERSAMPLE`` times the size and each pixel is
the rounded mean of the exact grey levels of its ``SUPERSAMPLE`` x ``SUPERSAMPLE`` samples
(background 0): edges are antialiased, as the skeleton's lines are, and a pixel wholly on the
robot is the grey of its samples' mean depth. This module holds no renderer
(``PromptRenderer`` does), so configs can import the list of types without OpenCV or MuJoCo.
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np

__all__ = ["DEPTH_GREY", "DEPTH_RANGE_M", "PROMPT_TYPES", "SUPERSAMPLE", "PromptType",
           "block_mean", "decode_depth", "depth_grey", "encode_depth"]

PromptType = Literal["skeleton", "depth", "silhouette", "skeleton+depth"]
PROMPT_TYPES: tuple[str, ...] = get_args(PromptType)
DEPTH_RANGE_M = (0.2, 3.0)  # near, far: metres along the optical axis
DEPTH_GREY = (255, 48)  # grey level at near and at far; 0 is background
SUPERSAMPLE = 2  # mesh samples per pixel along each axis


def depth_grey(depth_m: np.ndarray) -> np.ndarray:
    """The exact (unrounded, float32) grey level of depths in metres; 0 where ``depth_m <= 0``
    (background, as ``MeshRender.depth`` marks it)."""
    d = np.asarray(depth_m, np.float32)
    near, far = DEPTH_RANGE_M
    hi, lo = DEPTH_GREY
    g = np.clip((d - np.float32(near)) * np.float32(1.0 / (far - near)), 0.0, 1.0)
    g *= np.float32(lo - hi)
    g += np.float32(hi)
    g[d <= 0] = 0.0
    return g


def encode_depth(depth_m: np.ndarray) -> np.ndarray:
    """uint8 grey levels (same shape) of depths in metres: ``depth_grey`` rounded."""
    return np.rint(depth_grey(depth_m)).astype(np.uint8)


def decode_depth(grey: np.ndarray) -> np.ndarray:
    """Depths in metres of ``encode_depth`` grey levels (NaN for background 0); exact to half
    a grey step within ``DEPTH_RANGE_M``, clamped to it outside."""
    g = np.asarray(grey, np.float64)
    near, far = DEPTH_RANGE_M
    hi, lo = DEPTH_GREY
    d = near + (hi - g) / (hi - lo) * (far - near)
    return np.where(g > 0, d, np.nan)


def block_mean(grey: np.ndarray, factor: int) -> np.ndarray:
    """(..., H, W) uint8: the rounded mean of each ``factor`` x ``factor`` block of the grey
    levels ``grey`` (..., H * factor, W * factor) (one rounding: exact levels in, e.g. from
    ``depth_grey``, give pixels within half a level of their blocks' exact mean)."""
    g = np.asarray(grey, np.float32)
    h, w = g.shape[-2:]
    if h % factor or w % factor:
        raise ValueError(f"block_mean: {h}x{w} is not a multiple of {factor}")
    rows = g[..., 0::factor, :].copy()
    for i in range(1, factor):
        rows += g[..., i::factor, :]
    total = rows[..., 0::factor].copy()
    for j in range(1, factor):
        total += rows[..., j::factor]
    total *= np.float32(1.0 / (factor * factor))
    return np.rint(total, out=total).astype(np.uint8)
