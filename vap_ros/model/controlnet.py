"""The VAP ControlNet branch: prompt encoder + trainable copies of the first N blocks + zero
projections whose outputs are added to the frozen main branch after each of its first N blocks.

The copies are deep copies of the main blocks taken *before* LoRA is attached (so they carry
plain weights). With the projections at zero the main branch output is bit-identical to the
base model's; training moves the projections first, then the copies.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from vap_ros.model.prompt_encoder import PromptEncoder

__all__ = ["ControlNet"]


class ControlNet(nn.Module):
    """Args:
        blocks: the main transformer's blocks; the first ``num_blocks`` are deep-copied.
        num_blocks: N, the number of blocks in the branch.
        inner_dim: the transformer's token width D.
        channels, spatial_factor, temporal_ratio: see ``PromptEncoder``.
    """

    def __init__(self, blocks: nn.ModuleList, num_blocks: int, inner_dim: int, channels: int,
                 spatial_factor: int, temporal_ratio: int):
        super().__init__()
        self.encoder = PromptEncoder(inner_dim, channels, spatial_factor, temporal_ratio)
        self.blocks = nn.ModuleList(copy.deepcopy(blocks[i]) for i in range(num_blocks))
        for block in self.blocks:
            block.requires_grad_(True)
        projs = [nn.Linear(inner_dim, inner_dim) for _ in range(num_blocks)]
        for proj in projs:
            nn.init.zeros_(proj.weight)
            nn.init.zeros_(proj.bias)
        self.zero_projs = nn.ModuleList(projs)

    @property
    def num_blocks(self) -> int:
        return len(self.blocks)

    def encode(self, prompts: torch.Tensor) -> torch.Tensor:
        """Prompt video (B, 3, T, H, W) in [-1, 1] -> control tokens (B, N_tokens, D)."""
        return self.encoder(prompts)
