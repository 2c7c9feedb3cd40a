"""Synthetic moving-arm clips for tests, benchmarks and demos (no simulator needed).

The prompt is the real skeleton prompt (``vap_ros.prompts.SkeletonRenderer``) of a random smooth
Panda motion; the "video" is the same arm drawn thicker, in a body colour, over a static smooth
background, so a model must move the arm where the prompt says and keep the background.
"""

from __future__ import annotations

import numpy as np

__all__ = ["synthetic_clips"]

from vap_ros.testing.rig import PANDA_HOME as _HOME
from vap_ros.testing.rig import camera_ring as _ring


def _cameras(views: int, height: int, width: int):
    return _ring(views, height, width)


def synthetic_clips(n: int, height: int, width: int, frames: int, views: int = 1,
                    seed: int = 0, amplitude: float = 0.6,
                    shared_background: bool = False) -> dict[str, np.ndarray]:
    """n clips of a Panda moving smoothly, seen by ``views`` cameras.

    Every motion starts at the same home pose, so with ``shared_background`` all clips share
    their first frame and differ only in the motion (a model must read the action condition).

    Returns:
        dict with ``video`` uint8 (n, V, T, H, W, 3) (frame 0 = the first frame),
        ``prompts`` uint8 (n, V, T, H, W, 3) skeleton prompts and ``actions`` float32
        (n, T, 8): 7 joint positions (rad) + gripper width (m) per frame.
    """
    from vap_ros.prompts import SkeletonRenderer, SkeletonStyle

    thin = SkeletonRenderer.from_preset("panda")
    thick = SkeletonRenderer(thin.robot, thin.spec,
                             SkeletonStyle(line_width=0.09, disc_radius=0.09, antialias=False))
    cams = _cameras(views, height, width)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    video = np.zeros((n, views, frames, height, width, 3), np.uint8)
    prompts = np.zeros_like(video)
    actions = np.zeros((n, frames, 8), np.float32)
    t = np.linspace(0.0, 1.0, frames)[:, None]
    for i in range(n):
        freq = rng.uniform(0.3, 0.8, 7)
        phase = rng.uniform(0, 2 * np.pi, 7)
        q = _HOME + amplitude * (np.sin(2 * np.pi * freq * t + phase) - np.sin(phase))
        grip = 0.04 + 0.035 * np.sin(2 * np.pi * rng.uniform(0.3, 1.0) * t[:, 0])
        actions[i, :, :7], actions[i, :, 7] = q, grip
        prompts[i] = thin.render(q, cams, grip)
        body = thick.render(q, cams, grip).astype(np.float32) / 255.0  # (V, T, H, W, 3)
        bg_rng = np.random.default_rng(seed) if shared_background else rng
        c0, c1 = bg_rng.uniform(40, 200, 3), bg_rng.uniform(40, 200, 3)
        g = bg_rng.uniform(-1, 1, 2)
        mix = np.clip(0.5 + 0.5 * (g[0] * (xx - 0.5) + g[1] * (yy - 0.5)) * 2, 0, 1)[..., None]
        background = c0 * (1 - mix) + c1 * mix  # (H, W, 3)
        colour = np.array([240.0, 120.0, 30.0])
        mask = body.max(-1, keepdims=True)
        video[i] = np.clip(background * (1 - mask) + colour * mask, 0, 255).round()
    return {"video": video, "prompts": prompts, "actions": actions}
