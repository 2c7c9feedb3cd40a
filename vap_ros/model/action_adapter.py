"""Raw-action baseline (IRASim-like): per-frame adaptive layer norm from action vectors.

Actions (B, T, D) (joint positions + gripper width per video frame) are grouped per latent
frame, embedded by an MLP, and each main block's two ``CogVideoXLayerNormZero`` outputs get a
per-frame shift, scale and gate added (zero-initialised linear maps), through forward hooks on
those norm modules, so the diffusers transformer stays unmodified and saves in its own layout.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, cast

import torch
import torch.nn.functional as F
from torch import nn

from vap_ros.model.prompt_encoder import fold_time

if TYPE_CHECKING:
    from diffusers.models.transformers.cogvideox_transformer_3d import (
        CogVideoXBlock,
        CogVideoXTransformer3DModel,
    )

__all__ = ["ActionAdapter"]


class ActionAdapter(nn.Module):
    """Args:
        action_dim: D, size of one action vector.
        embed_dim: width E of the per-frame embedding.
        inner_dim: the transformer's token width.
        num_layers: number of transformer blocks (two adaptive norms each).
        temporal_ratio: video frames per latent frame (1 in pixel space).
    """

    def __init__(self, action_dim: int, embed_dim: int, inner_dim: int, num_layers: int,
                 temporal_ratio: int):
        super().__init__()
        self.temporal_ratio = temporal_ratio
        self.encoder = nn.Sequential(nn.Linear(action_dim * temporal_ratio, embed_dim), nn.SiLU(),
                                     nn.Linear(embed_dim, embed_dim))
        self.null = nn.Parameter(torch.zeros(embed_dim))
        mods = [nn.Linear(embed_dim, 3 * inner_dim) for _ in range(2 * num_layers)]
        for mod in mods:
            nn.init.zeros_(mod.weight)
            nn.init.zeros_(mod.bias)
        self.mods = nn.ModuleList(mods)
        self.frame_emb: torch.Tensor | None = None  # (B, F, E) set before each forward
        self._handles: list = []

    def embed(self, actions: torch.Tensor, drop: torch.Tensor | None = None) -> torch.Tensor:
        """Actions (B, T, D) -> per-latent-frame embedding (B, F, E).

        ``drop`` (B,) bool replaces a sample's embedding by the learned null embedding.
        """
        x = fold_time(actions.permute(0, 2, 1)[..., None, None], self.temporal_ratio)
        x = x[..., 0, 0].permute(0, 2, 1)  # (B, F, D * ratio)
        emb = self.encoder(x)
        if drop is not None:
            emb = torch.where(drop[:, None, None], self.null.to(emb.dtype).expand_as(emb), emb)
        return emb

    def null_embedding(self, batch: int, frames: int) -> torch.Tensor:
        return self.null.expand(batch, frames, -1)

    def attach(self, transformer: CogVideoXTransformer3DModel) -> None:
        """Register the per-frame modulation hooks on every block's norm1 and norm2."""
        self.detach()
        # an nn.ModuleList's items are typed Module: these are CogVideoXBlocks
        blocks = cast("Iterable[CogVideoXBlock]", transformer.transformer_blocks)
        for i, block in enumerate(blocks):
            for j, norm in enumerate((block.norm1, block.norm2)):
                self._handles.append(norm.register_forward_hook(self._hook(2 * i + j)))

    def detach(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _hook(self, index: int):
        def hook(module, args, output):
            if self.frame_emb is None:
                return None
            hidden = args[0]
            norm_h, norm_enc, gate, enc_gate = output
            emb = self.frame_emb.to(hidden.dtype)
            delta = self.mods[index](F.silu(emb))  # (B, F, 3D)
            delta = delta.repeat_interleave(hidden.shape[1] // emb.shape[1], dim=1)
            shift, scale, dgate = delta.chunk(3, dim=-1)
            norm_h = norm_h + module.norm(hidden) * scale + shift
            return norm_h, norm_enc, gate + dgate, enc_gate

        return hook

    def __getstate__(self):  # deep copies must not carry hook handles
        state = self.__dict__.copy()
        state["_handles"] = []
        return state
