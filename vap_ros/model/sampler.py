"""Few-step sampling with the CogVideoX DDIM/DPM schedulers, optional classifier-free guidance.

Seeded and deterministic: the initial noise comes from a CPU ``torch.Generator`` (identical on
every device), DDIM with ``eta=0`` adds no further noise, and DPM draws its noise from the same
generator; so the same seed gives the same output on the same device and dtype.
"""

from __future__ import annotations

import copy

import torch

from vap_ros.errors import ModelError
from vap_ros.model.denoiser import Denoiser

__all__ = ["sample_latents"]


@torch.no_grad()
def sample_latents(denoiser: Denoiser, scheduler, image_cond: torch.Tensor, *, channels: int,
                   steps: int, generator: torch.Generator, guidance_scale: float = 1.0,
                   control: torch.Tensor | None = None,
                   control_uncond: torch.Tensor | None = None,
                   frame_emb: torch.Tensor | None = None,
                   frame_emb_uncond: torch.Tensor | None = None,
                   image_cond_uncond: torch.Tensor | None = None,
                   rotary=None, eta: float = 0.0, callback=None) -> torch.Tensor:
    """Denoise from pure noise to clean latents.

    Args:
        image_cond: (B, F, C, h, w) the image condition (concatenated on channels every step).
        channels: C of the denoised latents.
        steps: number of denoising steps (>= 1).
        generator: CPU generator for the initial noise (and DPM's step noise).
        guidance_scale: classifier-free guidance; 1.0 runs the conditional branch only.
        control / control_uncond: ControlNet tokens with and without the action prompt.
        frame_emb / frame_emb_uncond: action embeddings with and without actions.
        image_cond_uncond: the input-channel condition without the action prompt (prompts
            concatenated on the input channels); None: ``image_cond`` serves both branches.
        callback: called as ``callback(step_index)`` after each step (benchmarks).
    Returns:
        (B, F, C, h, w) float32 latents.
    Raises:
        ModelError: steps < 1 or more than the scheduler's training timesteps.
    """
    sched = copy.deepcopy(scheduler)
    if not 1 <= steps <= sched.config.num_train_timesteps:
        raise ModelError(f"steps={steps}: expected 1..{sched.config.num_train_timesteps}")
    device = image_cond.device
    dtype = next(denoiser.parameters()).dtype
    sched.set_timesteps(steps, device=device)
    b, f, _, h, w = image_cond.shape
    latents = torch.randn((b, f, channels, h, w), generator=generator, dtype=torch.float32)
    latents = latents.to(device) * sched.init_noise_sigma
    use_cfg = guidance_scale != 1.0
    if use_cfg:
        uncond = image_cond if image_cond_uncond is None else image_cond_uncond
        image_cond = torch.cat([image_cond, uncond])
        if control is not None:
            if control_uncond is None:
                raise ModelError("guidance_scale != 1 with ControlNet tokens needs "
                                 "control_uncond")
            control = torch.cat([control, control_uncond])
        if frame_emb is not None:
            if frame_emb_uncond is None:
                raise ModelError("guidance_scale != 1 with action embeddings needs "
                                 "frame_emb_uncond")
            frame_emb = torch.cat([frame_emb, frame_emb_uncond])
    is_ddim = type(sched).__name__ == "CogVideoXDDIMScheduler"
    old_pred = None
    timesteps = sched.timesteps
    for i, t in enumerate(timesteps):
        x = torch.cat([latents, latents]) if use_cfg else latents
        x = torch.cat([x, image_cond.to(x.dtype)], dim=2).to(dtype)
        ts = t.expand(x.shape[0]).to(device)
        out = denoiser(x, ts, control, frame_emb, rotary).float()
        if use_cfg:
            cond, uncond = out.chunk(2)
            out = uncond + guidance_scale * (cond - uncond)
        if is_ddim:
            latents = sched.step(out, t, latents, eta=eta, generator=generator,
                                 return_dict=False)[0]
        else:
            back = timesteps[i - 1] if i > 0 else None
            latents, old_pred = sched.step(out, old_pred, t, back, latents, eta=eta,
                                           generator=generator, return_dict=False)
        if callback is not None:
            callback(i)
    return latents
