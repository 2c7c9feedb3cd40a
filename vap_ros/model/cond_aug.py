"""Conditioning-frame corruption in training ("noise augmentation"), for long rollouts.

Chunk k >= 1 of a long rollout (``long_rollout``) is conditioned on the previous chunk's last
*predicted* frame, which is blurrier and noisier than any real frame the model was trained on,
so its errors are copied forward and pile up. Training on corrupted conditioning frames makes
the model (a) rely less on the fine detail of the frame it is given and (b) produce the real
video from a degraded start. Two corruptions, each with a random level per sample:

* ``noise``: Gaussian noise of std ``level`` added to the image condition in the working space
  (the first frame's pixels in [-1, 1], or its scaled VAE latent: CogVideoX/SVD-style noise
  augmentation). Only the denoiser's input sees it: the residual base (``residual: true``) and
  the copied frame 0 stay the given frame. At inference ``WorldModel.predict(cond_noise=)``
  adds the same kind of noise, and ``predict_long`` uses the config's fixed ``cond_noise`` for
  the chunks conditioned on a predicted frame.
* ``blur``: a Gaussian blur of the conditioning frame in pixel space (std ``sigma`` pixels)
  before it is encoded. This replaces the given frame itself (the residual base too), while the
  target stays the real video: the model learns to repair a blurred start, as it must when a
  chunk starts from a blurred prediction. Nothing is blurred at inference.

A sample is corrupted with probability ``prob`` (the others stay clean, as chunk 0's real frame
is), its noise std drawn uniformly in [0, ``noise``] and its blur sigma in [0, ``blur``]. Every
draw comes from the training step's generator (a pure function of seed, step and micro-batch),
after the diffusion draws, so the timesteps and diffusion noise are those of a run without it.
The level is not fed to the model (as CogVideoX I2V): it sees it in its input.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from vap_ros.errors import ModelError

__all__ = ["CondAugment", "check_level", "cond_noise_seed", "gaussian_blur"]


@dataclass(frozen=True)
class CondAugment:
    """Attributes:
        noise: largest std of the image-condition noise (working-space units); 0: none.
        blur: largest blur sigma in pixels; 0: none.
        prob: probability that a sample is corrupted (0 < prob <= 1).
    """

    noise: float = 0.0
    blur: float = 0.0
    prob: float = 0.5

    @property
    def active(self) -> bool:
        return self.noise > 0 or self.blur > 0

    def draw(self, n: int, generator: torch.Generator | None, device) -> tuple[torch.Tensor,
                                                                               torch.Tensor]:
        """Per-sample (noise std, blur sigma), each (n,) float32 on ``device``: 3n uniforms
        from ``generator`` whatever the levels (the draw count never depends on the data)."""
        u = torch.rand(3, n, generator=generator, device=device)
        on = (u[0] < self.prob).float()
        return u[1] * self.noise * on, u[2] * self.blur * on


def check_level(value: Any, name: str = "cond_noise") -> float:
    """``value`` as a float std >= 0; ModelError naming ``name`` otherwise."""
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not 0 <= float(value) < math.inf):
        raise ModelError(f"{name}={value!r}: expected a finite noise std >= 0")
    return float(value)


def cond_noise_seed(seed: int) -> int:
    """Seed of ``predict``'s image-condition noise, derived from its sampling seed (a stream
    apart from the initial latents, which use ``seed`` itself)."""
    entropy = [int(seed) % 2**64, 0x636F6E64]  # "cond"
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def gaussian_blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Blur each sample of ``x`` (N, C, ..., H, W) with its own Gaussian std ``sigma`` (N,) in
    pixels (separable, edges replicated). A sample with sigma 0 comes back unchanged."""
    sigma = sigma.to(torch.float32)
    top = float(sigma.max()) if sigma.numel() else 0.0
    if top <= 0:
        return x
    r = max(1, math.ceil(3.0 * top))
    pos = torch.arange(-r, r + 1, dtype=torch.float32, device=x.device)
    s = sigma.to(x.device).clamp_min(1e-6)[:, None]
    k = torch.exp(-0.5 * (pos[None] / s) ** 2)
    k = k / k.sum(dim=1, keepdim=True)  # (N, 2r + 1)
    shape = x.shape
    n, h, w = shape[0], shape[-2], shape[-1]
    c = int(np.prod(shape[1:-2], dtype=np.int64))
    k = k.repeat_interleave(c, dim=0).to(x.dtype)  # (N * c, 2r + 1)
    with torch.autocast(x.device.type, enabled=False):  # in x's own precision
        y = x.reshape(1, n * c, h, w)
        y = F.conv2d(F.pad(y, (r, r, 0, 0), mode="replicate"), k[:, None, None, :],
                     groups=n * c)
        y = F.conv2d(F.pad(y, (0, 0, r, r), mode="replicate"), k[:, None, :, None],
                     groups=n * c)
    y = y.reshape(shape)
    keep = (sigma <= 0).to(x.device).view(n, *([1] * (x.dim() - 1)))
    return torch.where(keep, x, y)
