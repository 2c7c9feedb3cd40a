"""The action head of ``generate_actions: joint_states`` (CoVAR-style parallel action tokens).

A noisy joint-state sequence (N, T, D) (per video frame the joint positions + gripper width,
normalised to [-1, 1]) becomes T action tokens: a linear input projection plus a learned
per-frame position embedding. One more token carries the current joint state (a linear
projection of it, or a learned null token when it is not given) and leads them. The tokens
travel in the transformer's text stream (``encoder_hidden_states``): every CogVideoX block
attends jointly over [text | action tokens | video tokens] and modulates the text stream by the
timestep through its own adaptive norms, so the action tokens see the video and the video sees
them. After the last block the action tokens go through a timestep-conditioned output head
(diffusers' ``AdaLayerNorm``, as the transformer's own ``norm_out``, then a linear map to D),
which predicts the scheduler's target for the sequence (v, x0 or noise, as for the video).
"""

from __future__ import annotations

import torch
from diffusers.models.normalization import AdaLayerNorm
from torch import nn

__all__ = ["ActionHead"]


class ActionHead(nn.Module):
    """Args:
        action_dim: D, size of one joint-state vector.
        frames: T, action tokens per sample (one per video frame).
        inner_dim: the transformer's token width.
        time_embed_dim: the width of the transformer's timestep embedding.
    """

    def __init__(self, action_dim: int, frames: int, inner_dim: int, time_embed_dim: int):
        super().__init__()
        self.action_dim, self.frames = int(action_dim), int(frames)
        self.proj_in = nn.Linear(action_dim, inner_dim)
        self.state_in = nn.Linear(action_dim, inner_dim)
        self.null_state = nn.Parameter(torch.zeros(inner_dim))
        # learned per-token position (token 0: the current state, 1..T: the frames)
        self.pos = nn.Parameter(torch.randn(frames + 1, inner_dim) * 0.02)
        self.norm_out = AdaLayerNorm(embedding_dim=time_embed_dim, output_dim=2 * inner_dim,
                                     norm_elementwise_affine=True, norm_eps=1e-5, chunk_dim=1)
        self.proj_out = nn.Linear(inner_dim, action_dim)

    @property
    def num_tokens(self) -> int:
        """Tokens the head adds to the text stream: the state token + T action tokens."""
        return self.frames + 1

    def tokens(self, actions: torch.Tensor, state: torch.Tensor | None,
               keep_state: torch.Tensor | None = None) -> torch.Tensor:
        """Noisy actions (N, T, D) and the current state (N, D) or None -> tokens
        (N, T + 1, inner); ``keep_state`` (N,) bool: False replaces that sample's state token
        by the null token (the state not given)."""
        n = actions.shape[0]
        x = self.proj_in(actions)
        null = self.null_state.to(x.dtype).expand(n, 1, -1)
        if state is None:
            s = null
        else:
            s = self.state_in(state.to(x.dtype))[:, None]
            if keep_state is not None:
                s = torch.where(keep_state.view(n, 1, 1), s, null)
        return torch.cat([s, x], dim=1) + self.pos.to(x.dtype)

    def output(self, tokens: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        """The action tokens after the blocks (N, T + 1, inner) -> prediction (N, T, D)."""
        return self.proj_out(self.norm_out(tokens[:, 1:], temb=temb))
