"""The denoiser: diffusers' CogVideoX transformer run from its own parts, with the ControlNet
residual added after each of the first N main blocks and optional per-frame action modulation.

``Denoiser.forward`` repeats ``CogVideoXTransformer3DModel.forward`` step for step (time
embedding, patch embedding, blocks, final norms, projection, unpatchify), calling the library's
modules; with zero ControlNet projections and zero action modulation its output is
bit-identical to the plain ``transformer(...)`` call (test/model/test_controlnet.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from vap_ros.model.action_adapter import ActionAdapter
from vap_ros.model.action_head import ActionHead
from vap_ros.model.controlnet import ControlNet

if TYPE_CHECKING:
    from diffusers.models.transformers.cogvideox_transformer_3d import (
        CogVideoXTransformer3DModel,
    )

__all__ = ["Denoiser"]


class Denoiser(nn.Module):
    """Args:
        transformer: a diffusers ``CogVideoXTransformer3DModel`` (LoRA may be attached).
        text_embedding: (1, L, text_embed_dim) learned/precomputed text condition; L must equal
            the transformer's ``max_text_seq_length`` (sin-cos position embeddings).
        controlnet: the VAP ControlNet branch or None.
        action_adapter: the raw-action adaptive norms or None (hooks attached here).
        action_head: the joint-state action tokens' input/output head
            (``generate_actions: joint_states``) or None.
    """

    def __init__(self, transformer: CogVideoXTransformer3DModel, text_embedding: torch.Tensor,
                 controlnet: ControlNet | None = None,
                 action_adapter: ActionAdapter | None = None,
                 action_head: ActionHead | None = None):
        super().__init__()
        self.transformer = transformer
        self.text_embedding = nn.Parameter(text_embedding.clone())
        self.controlnet = controlnet
        self.action_adapter = action_adapter
        self.action_head = action_head
        if action_adapter is not None:
            action_adapter.attach(transformer)
        self.gradient_checkpointing = False
        self.control_scale = 1.0

    def _block(self, block, hidden, enc, temb, rotary):
        if self.gradient_checkpointing and torch.is_grad_enabled():
            return checkpoint(block, hidden, enc, temb, rotary, None, use_reentrant=False)
        return block(hidden_states=hidden, encoder_hidden_states=enc, temb=temb,
                     image_rotary_emb=rotary)

    def forward(self, latents: torch.Tensor, timestep: torch.Tensor,
                control: torch.Tensor | None = None, frame_emb: torch.Tensor | None = None,
                rotary: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """Predict the model output (v) for noisy latents.

        Args:
            latents: (B, F, C_in, h, w): noisy latents concatenated with the image condition.
            timestep: (B,) integer diffusion timesteps.
            control: (B, F * h' * w', D) ControlNet prompt tokens, or None (no ControlNet).
            frame_emb: (B, F, E) action embeddings for the action adapter, or None.
            rotary: rotary position embeddings (rotary transformers only).
        Returns:
            (B, F, C_out, h, w).
        """
        return self._run(latents, timestep, control, frame_emb, rotary, None)[0]

    def forward_actions(self, latents: torch.Tensor, timestep: torch.Tensor,
                        action_tokens: torch.Tensor,
                        rotary: tuple[torch.Tensor, torch.Tensor] | None = None
                        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The forward of a ``joint_states`` model: ``action_tokens`` (B, K, inner) join the
        text stream (after the text tokens), attend with the video tokens in every block and
        come back after the last one.

        Returns:
            (the video prediction (B, F, C_out, h, w), the action tokens (B, K, inner)), and
            the timestep embedding (B, time_embed_dim) the action head's output norm needs.
        """
        out, tokens, temb = self._run(latents, timestep, None, None, rotary, action_tokens)
        assert tokens is not None
        return out, tokens, temb

    def _run(self, latents: torch.Tensor, timestep: torch.Tensor,
             control: torch.Tensor | None, frame_emb: torch.Tensor | None,
             rotary: tuple[torch.Tensor, torch.Tensor] | None,
             action_tokens: torch.Tensor | None
             ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """The forward pass (see ``forward``), with the action tokens in the text stream when
        given: (video prediction, action tokens after the blocks or None, timestep embedding).
        """
        t = self.transformer
        b, frames, _, height, width = latents.shape
        temb = t.time_proj(timestep).to(dtype=latents.dtype)
        temb = t.time_embedding(temb, None)
        if t.ofs_embedding is not None:
            ofs = latents.new_full((1,), 2.0)
            # diffusers' __init__ sets ofs_proj to None first, which is all a type checker sees
            ofs_emb = t.ofs_proj(ofs)  # type: ignore[misc]
            temb = temb + t.ofs_embedding(ofs_emb.to(dtype=latents.dtype))
        text = self.text_embedding.to(latents.dtype).expand(b, -1, -1)
        hidden = t.embedding_dropout(t.patch_embed(text, latents))
        text_len = text.shape[1]
        enc, hidden = hidden[:, :text_len], hidden[:, text_len:]
        if action_tokens is not None:  # the action tokens travel in the text stream
            enc = torch.cat([enc, action_tokens.to(enc.dtype)], dim=1)

        if self.action_adapter is not None:
            self.action_adapter.frame_emb = frame_emb
        cn = self.controlnet if control is not None else None
        c_hidden, c_enc = hidden, enc
        if cn is not None and control is not None:
            c_hidden = hidden + control.to(hidden.dtype)
        for i, block in enumerate(t.transformer_blocks):
            hidden, enc = self._block(block, hidden, enc, temb, rotary)
            if cn is not None and i < cn.num_blocks:
                c_hidden, c_enc = self._block(cn.blocks[i], c_hidden, c_enc, temb, rotary)
                residual = cn.zero_projs[i](c_hidden)
                hidden = hidden + (residual if self.control_scale == 1.0
                                   else self.control_scale * residual)

        hidden = t.norm_final(hidden)
        hidden = t.norm_out(hidden, temb=temb)
        hidden = t.proj_out(hidden)
        tokens = enc[:, text_len:] if action_tokens is not None else None
        p: int = t.config["patch_size"]
        p_t: int | None = t.config["patch_size_t"]
        if p_t is None:
            out = hidden.reshape(b, frames, height // p, width // p, -1, p, p)
            return out.permute(0, 1, 4, 2, 5, 3, 6).flatten(5, 6).flatten(3, 4), tokens, temb
        out = hidden.reshape(b, (frames + p_t - 1) // p_t, height // p, width // p, -1, p_t, p, p)
        out = out.permute(0, 1, 5, 4, 2, 6, 3, 7).flatten(6, 7).flatten(4, 5).flatten(1, 2)
        return out, tokens, temb

    def reference(self, latents: torch.Tensor, timestep: torch.Tensor,
                  rotary: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """The plain diffusers forward of the main branch alone (no ControlNet, no actions)."""
        if self.action_adapter is not None:
            self.action_adapter.frame_emb = None
        text = self.text_embedding.to(latents.dtype).expand(latents.shape[0], -1, -1)
        ofs = None
        if self.transformer.ofs_embedding is not None:
            ofs = latents.new_full((1,), 2.0)
        return self.transformer(hidden_states=latents, encoder_hidden_states=text,
                                timestep=timestep, ofs=ofs, image_rotary_emb=rotary,
                                return_dict=False)[0]
