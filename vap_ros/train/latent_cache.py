"""VAE-latent caching for latent-space models: each clip is encoded once, then reused.

``LatentCache.attach(model)`` puts a memo in front of ``model.codec.encode``: every sample of an
encode call is keyed by the sha256 of its bytes (shape and dtype included), looked up in memory,
then in an optional folder of safetensors files (shared by processes, written atomically), and
only the misses go through the VAE. Only the deterministic encode (the posterior's mode, what
``training_loss`` uses) is cached; a sampled encode always runs the VAE. Pixel-space models have
no VAE: nothing is attached.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch

__all__ = ["LatentCache"]


class LatentCache:
    def __init__(self, encode, folder: str | Path | None = None):
        self._encode = encode
        self.folder = Path(folder) if folder is not None else None
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
        self.memory: dict[str, torch.Tensor] = {}
        self.hits = 0
        self.misses = 0

    @classmethod
    def attach(cls, model, folder: str | Path | None = None) -> LatentCache | None:
        """Cache ``model.codec.encode``; None (nothing attached) for pixel-space models."""
        codec = model.codec
        if getattr(codec, "vae", None) is None:
            return None
        cache = cls(codec.encode, folder)
        codec.encode = cache.encode  # instance attribute: shadows the method for this model
        return cache

    @staticmethod
    def key(sample: torch.Tensor) -> str:
        x = sample.detach().to("cpu").contiguous()
        h = hashlib.sha256(f"{tuple(x.shape)}:{x.dtype}".encode())
        h.update(x.view(torch.uint8).numpy().tobytes() if x.numel() else b"")
        return h.hexdigest()

    def _load(self, key: str) -> torch.Tensor | None:
        if key in self.memory:
            return self.memory[key]
        if self.folder is not None:
            path = self.folder / f"{key}.safetensors"
            if path.is_file():
                from safetensors.torch import load_file

                try:
                    z = load_file(str(path))["latents"]
                except Exception:  # noqa: BLE001 - a damaged entry is recomputed
                    return None
                self.memory[key] = z
                return z
        return None

    def _store(self, key: str, z: torch.Tensor) -> None:
        z = z.detach().to("cpu").contiguous()
        self.memory[key] = z
        if self.folder is not None:
            from safetensors.torch import save_file

            tmp = self.folder / f".{key}.{os.getpid()}.tmp"
            save_file({"latents": z}, str(tmp))
            os.replace(tmp, self.folder / f"{key}.safetensors")

    def encode(self, video: torch.Tensor, generator: torch.Generator | None = None,
               sample: bool = False) -> torch.Tensor:
        """``Codec.encode`` with the memo: (N, 3, T, H, W) -> (N, F, C, h, w)."""
        if sample:
            return self._encode(video, generator, sample)
        keys = [self.key(v) for v in video]
        found: dict[int, torch.Tensor] = {}
        miss: list[int] = []
        for i, k in enumerate(keys):
            z = self._load(k)
            if z is None:
                miss.append(i)
            else:
                found[i] = z
        self.hits += len(keys) - len(miss)
        self.misses += len(miss)
        if miss:
            fresh = self._encode(video[miss], generator, False)
            for j, i in enumerate(miss):
                self._store(keys[i], fresh[j])
                found[i] = self.memory[keys[i]]
        return torch.stack([found[i] for i in range(len(keys))]).to(video.device)
