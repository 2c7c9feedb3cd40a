"""A tiny in-memory clip dataset with the exact item layout of vap_ros.data's dataset.

A bright square (the "gripper") moves over a textured background; the prompt video draws the
same square's outline; ``keypoints_uv`` puts the 16 panda skeleton keypoints on a line ending
at the square (gripper keypoints 7, 13, 14, 15 at its centre). Deterministic per index.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch

K = 16
GRIPPER = (7, 13, 14, 15)


class SyntheticClips(torch.utils.data.Dataset):
    """Items: video/prompts (V, 3, T, H, W) in [-1, 1], actions (T, D), keypoints_uv
    (V, T, K, 2), ee_poses (T, 4, 4), camera_K (V, 3, 3), camera_T_cam_base (V, 4, 4), meta."""

    gripper_keypoints: ClassVar[list[int]] = list(GRIPPER)

    def __init__(self, n: int = 8, views: int = 1, frames: int = 5, size: int = 32,
                 action_dim: int = 8, seed: int = 0):
        self.n, self.views, self.frames, self.size = n, views, frames, size
        self.action_dim, self.seed = action_dim, seed

    def __len__(self) -> int:
        return self.n

    def clip_uint8(self, i: int):
        """(V, T, H, W, 3) uint8 video and prompts, and (V, T, K, 2) keypoints."""
        rng = np.random.default_rng([self.seed, i])
        V, T, S = self.views, self.frames, self.size
        video = np.zeros((V, T, S, S, 3), np.uint8)
        prompts = np.zeros((V, T, S, S, 3), np.uint8)
        kp = np.zeros((V, T, K, 2), np.float32)
        half = max(2, S // 10)
        for v in range(V):
            bg = rng.integers(40, 90, size=(S, S, 3), dtype=np.uint8)
            angle, speed = rng.uniform(0, 2 * np.pi), rng.uniform(1.5, 2.5)  # px per frame
            vel = speed * np.array([np.cos(angle), np.sin(angle)])
            reach = np.abs(vel) * (T - 1)
            lo = half + 1 + np.where(vel < 0, reach, 0)
            hi = S - half - 2 - np.where(vel > 0, reach, 0)
            start = rng.uniform(np.minimum(lo, hi), np.maximum(lo, hi))
            for t in range(T):
                c = np.clip(start + vel * t, half, S - half - 1)
                u, w = int(round(c[0])), int(round(c[1]))
                frame = bg.copy()
                frame[w - half:w + half + 1, u - half:u + half + 1] = (230, 200, 60)
                video[v, t] = frame
                p = prompts[v, t]
                p[w - half, u - half:u + half + 1] = 255
                p[w + half, u - half:u + half + 1] = 255
                p[w - half:w + half + 1, u - half] = 255
                p[w - half:w + half + 1, u + half] = 255
                base = np.array([2.0, S - 3.0])
                for k in range(K):
                    kp[v, t, k] = base + (c - base) * min(1.0, (k + 1) / 8)
                for k in GRIPPER:
                    kp[v, t, k] = c
        return video, prompts, kp

    def __getitem__(self, i: int) -> dict:
        video, prompts, kp = self.clip_uint8(i)

        def to_model(x):
            return torch.from_numpy(x).permute(0, 4, 1, 2, 3).float() / 127.5 - 1.0

        T = self.frames
        rng = np.random.default_rng([self.seed, i, 1])
        return {
            "video": to_model(video),
            "prompts": to_model(prompts),
            "actions": torch.from_numpy(rng.normal(size=(T, self.action_dim)).astype(np.float32)),
            "keypoints_uv": torch.from_numpy(kp),
            "ee_poses": torch.eye(4).repeat(T, 1, 1),
            "camera_K": torch.eye(3).repeat(self.views, 1, 1),
            "camera_T_cam_base": torch.eye(4).repeat(self.views, 1, 1),
            "meta": {"bag": f"synthetic-{i:04d}", "cameras": [f"cam{v}" for v in
                                                              range(self.views)], "index": i},
        }
