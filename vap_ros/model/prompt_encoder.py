"""Prompt-video encoder: a skeleton (or depth/mesh) prompt video -> ControlNet input tokens.

Cheap by design (shared/notes/world-model.md: a full-resolution 3D-conv encoder dominated small
models): frames are first folded in time (the VAE's temporal ratio) and pixel-unshuffled in
space straight to the transformer's token grid, then a few 3D convolutions mix neighbours.
Prompt features do not depend on the diffusion timestep, so they are computed once per sample.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["PromptEncoder", "fold_time"]


def fold_time(video: torch.Tensor, ratio: int) -> torch.Tensor:
    """(B, C, T, H, W) with T = 1 + ratio * k -> (B, C * ratio, 1 + k, H, W).

    The first frame is repeated ``ratio - 1`` times in front, like the causal CogVideoX VAE that
    encodes frame 0 alone and then groups of ``ratio`` frames.
    """
    if ratio == 1:
        return video
    b, c, _, h, w = video.shape
    pad = video[:, :, :1].expand(b, c, ratio - 1, h, w)
    x = torch.cat([pad, video], dim=2)
    frames = x.shape[2] // ratio
    x = x.reshape(b, c, frames, ratio, h, w).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b, c * ratio, frames, h, w)


class PromptEncoder(nn.Module):
    """Prompt video (B, 3, T, H, W) in [-1, 1] -> tokens (B, F * h * w, inner_dim).

    Token order matches ``CogVideoXPatchEmbed`` (frame-major, then rows, then columns), with
    F latent frames and (h, w) = (H, W) / (spatial_ratio * patch_size).
    """

    def __init__(self, inner_dim: int, channels: int, spatial_factor: int, temporal_ratio: int,
                 in_channels: int = 3):
        super().__init__()
        self.spatial_factor = spatial_factor
        self.temporal_ratio = temporal_ratio
        unshuffled = in_channels * temporal_ratio * spatial_factor ** 2
        self.net = nn.Sequential(
            nn.Conv3d(unshuffled, channels, 1),
            nn.SiLU(),
            nn.Conv3d(channels, channels, 3, padding=1),
            nn.SiLU(),
            nn.Conv3d(channels, channels, 3, padding=1),
            nn.SiLU(),
            nn.Conv3d(channels, inner_dim, 1),
        )

    def forward(self, prompts: torch.Tensor) -> torch.Tensor:
        x = fold_time(prompts, self.temporal_ratio)
        b, c, f, h, w = x.shape
        x = x.permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w)
        x = F.pixel_unshuffle(x, self.spatial_factor)
        x = x.reshape(b, f, *x.shape[1:]).permute(0, 2, 1, 3, 4)
        x = self.net(x)  # (B, D, F, h, w)
        return x.flatten(3).permute(0, 2, 3, 1).flatten(1, 2)
