"""The diffusers parts of the world model: transformer, autoencoder (or pixel space), scheduler.

Built at random from a config, or loaded from a local diffusers directory (``base``). Loading
only reads safetensors (``use_safetensors=True``) and never touches the network.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import torch
from torch import nn

from vap_ros.errors import CheckpointError
from vap_ros.model.config import WorldModelConfig

if TYPE_CHECKING:
    # Named from their own modules: to a type checker, diffusers' package __init__ exports the
    # placeholder classes it uses when torch is missing (utils/dummy_pt_objects.py).
    from diffusers.models.autoencoders.autoencoder_kl_cogvideox import AutoencoderKLCogVideoX
    from diffusers.models.transformers.cogvideox_transformer_3d import (
        CogVideoXTransformer3DModel,
    )

_M = TypeVar("_M", bound=nn.Module)

PROMPT_EMBEDS = "prompt_embeds.safetensors"

__all__ = [
    "PROMPT_EMBEDS",
    "Codec",
    "build_scheduler",
    "build_transformer",
    "check_base_dir",
    "load_base",
    "load_prompt_embeds",
    "materialise",
    "rotary_embedding",
    "widen_patch_embed",
    "widen_proj_out",
]


def materialise(module: _M) -> _M:
    """Give every parameter and buffer its own freshly allocated (64-byte aligned) storage.

    diffusers' ``from_pretrained`` leaves weights as views into the loaded safetensors buffer
    at arbitrary offsets; MKL's CPU matmuls round differently for differently aligned inputs,
    so a loaded model would differ from the saved one in the last bit. Measured: a 256-wide
    linear layer gave different results for 37 of 50 weight offsets.
    """
    with torch.no_grad():
        for p in module.parameters():
            p.data = p.data.clone()
        for m in module.modules():
            for name, b in m._buffers.items():
                if b is not None:
                    m._buffers[name] = b.clone()
    return module


def build_transformer(config: WorldModelConfig) -> CogVideoXTransformer3DModel:
    """A randomly initialised ``CogVideoXTransformer3DModel`` from ``config.transformer``; its
    ``in_channels`` is set to ``config.input_groups`` x ``out_channels`` (noisy latents, image
    condition and, with ``prompt_injection: concat``, the prompt)."""
    from diffusers.models.transformers.cogvideox_transformer_3d import (
        CogVideoXTransformer3DModel,
    )

    kw = dict(config.transformer)
    c = int(kw.get("out_channels", 16))  # the working space's channels (RGB 3, VAE 16)
    kw["in_channels"] = config.input_groups * c
    kw["out_channels"] = config.latent_groups * c  # joint action generation: RGB + actions
    return CogVideoXTransformer3DModel(**kw)


def build_vae(config: WorldModelConfig) -> AutoencoderKLCogVideoX:
    """A randomly initialised ``AutoencoderKLCogVideoX`` (benchmarks only: random VAEs are
    useless)."""
    from diffusers.models.autoencoders.autoencoder_kl_cogvideox import AutoencoderKLCogVideoX

    vae = dict(config.vae or {})
    blocks = len(vae.get("block_out_channels", (128, 256, 256, 512)))
    vae.setdefault("down_block_types", ("CogVideoXDownBlock3D",) * blocks)
    vae.setdefault("up_block_types", ("CogVideoXUpBlock3D",) * blocks)
    vae.setdefault("sample_height", config.height)
    vae.setdefault("sample_width", config.width)
    return AutoencoderKLCogVideoX(**vae)


def build_scheduler(config: WorldModelConfig, base: Path | None = None):
    """The CogVideoX DDIM or DPM scheduler; a base directory's scheduler config wins."""
    from diffusers import CogVideoXDDIMScheduler, CogVideoXDPMScheduler

    cls = CogVideoXDDIMScheduler if config.scheduler == "ddim" else CogVideoXDPMScheduler
    if base is not None and (base / "scheduler" / "scheduler_config.json").is_file():
        return cls.from_pretrained(base, subfolder="scheduler")
    return cls(**config.scheduler_config)


def _weights_present(folder: Path) -> bool:
    return any(folder.glob("*.safetensors")) or (folder / "diffusion_pytorch_model.safetensors"
                                                 ".index.json").is_file()


def check_base_dir(base: str | Path, need_vae: bool = True) -> Path:
    """Check a local diffusers directory has what the world model loads.

    Raises:
        CheckpointError: naming every missing file/folder (and pickled-only weights).
    """
    base = Path(base).expanduser()
    if not base.is_dir():
        raise CheckpointError(
            f"base model directory {base} does not exist; expected a local diffusers directory "
            "with transformer/ and vae/ (e.g. a download of THUDM/CogVideoX-2b)")
    parts = ["transformer"] + (["vae"] if need_vae else [])
    missing = []
    for part in parts:
        folder = base / part
        if not (folder / "config.json").is_file():
            missing.append(f"{part}/config.json")
        if not _weights_present(folder):
            pickled = list(folder.glob("*.bin")) if folder.is_dir() else []
            hint = (" (only pickled .bin weights found; convert them to safetensors)"
                    if pickled else "")
            missing.append(f"{part}/*.safetensors{hint}")
    if missing:
        raise CheckpointError(f"base model directory {base} is incomplete: missing "
                              f"{', '.join(missing)}")
    return base


def load_base(base: str | Path, need_vae: bool
              ) -> tuple[CogVideoXTransformer3DModel, AutoencoderKLCogVideoX | None]:
    """Load (transformer, vae) from a checked local diffusers directory.

    Raises:
        CheckpointError: missing files or weights that do not load.
    """
    base = check_base_dir(base, need_vae)
    try:
        transformer = load_transformer(base, subfolder="transformer")
        vae = load_vae(base, subfolder="vae") if need_vae else None
    except (OSError, ValueError, RuntimeError) as err:
        raise CheckpointError(f"cannot load the base model from {base}: {err}") from err
    return transformer, vae


def load_transformer(folder: Path, subfolder: str | None = None) -> CogVideoXTransformer3DModel:
    """A diffusers transformer directory's model, safetensors only, in its own storage."""
    from diffusers.models.transformers.cogvideox_transformer_3d import (
        CogVideoXTransformer3DModel,
    )

    return materialise(CogVideoXTransformer3DModel.from_pretrained(
        folder, subfolder=subfolder, use_safetensors=True, local_files_only=True))


def load_vae(folder: Path, subfolder: str | None = None) -> AutoencoderKLCogVideoX:
    """A diffusers VAE directory's model, safetensors only, in its own storage."""
    from diffusers.models.autoencoders.autoencoder_kl_cogvideox import AutoencoderKLCogVideoX

    return materialise(AutoencoderKLCogVideoX.from_pretrained(
        folder, subfolder=subfolder, use_safetensors=True, local_files_only=True))


def load_prompt_embeds(path: Path) -> torch.Tensor:
    """The ``prompt_embeds`` tensor of a safetensors file (1, L, D) as float32.

    Raises:
        CheckpointError: unreadable file or no ``prompt_embeds`` key.
    """
    from safetensors.torch import load_file

    try:
        return load_file(path)["prompt_embeds"].float()
    except Exception as err:  # safetensors raises its own error type; KeyError
        raise CheckpointError(f"cannot read prompt_embeds from {path}: {err!r}") from err


def widen_patch_embed(transformer: CogVideoXTransformer3DModel, in_channels: int) -> bool:
    """Widen a T2V patch embedding to ``in_channels`` (I2V layout) with zero weights.

    The new input channels (the image condition) start at zero, so the output is unchanged.
    Returns True when the embedding was widened (it must then be trained).
    """
    proj = transformer.patch_embed.proj
    old = proj.in_channels
    if old == in_channels:
        return False
    if old > in_channels:
        raise CheckpointError(f"base transformer takes {old} input channels, expected at most "
                              f"{in_channels}")
    (kh, kw), (sh, sw) = proj.kernel_size, proj.stride  # a Conv2d's are pairs
    new = nn.Conv2d(in_channels, proj.out_channels, (kh, kw), (sh, sw),
                    bias=proj.bias is not None).to(proj.weight.device, proj.weight.dtype)
    with torch.no_grad():
        new.weight.zero_()
        new.weight[:, :old] = proj.weight
        if proj.bias is not None and new.bias is not None:
            new.bias.copy_(proj.bias)
    transformer.patch_embed.proj = new
    transformer.register_to_config(in_channels=in_channels)
    return True


def widen_proj_out(transformer: CogVideoXTransformer3DModel, out_channels: int) -> bool:
    """Widen the output projection to ``out_channels`` (joint action generation: RGB + action
    latents) with zero weights for the new channels; the old channels' outputs are unchanged.

    diffusers unpatchifies ``proj_out``'s features as (C, [p_t,] p, p) with C outermost, so
    the new channels are rows appended at the end. Returns True when it was widened.
    """
    cfg = transformer.config
    old = int(cfg["out_channels"])
    if old == out_channels:
        return False
    if old > out_channels:
        raise CheckpointError(f"base transformer predicts {old} channels, expected at most "
                              f"{out_channels}")
    proj = transformer.proj_out
    per_channel = proj.out_features // old
    new = nn.Linear(proj.in_features, per_channel * out_channels, bias=proj.bias is not None
                    ).to(proj.weight.device, proj.weight.dtype)
    with torch.no_grad():
        new.weight.zero_()
        new.weight[:proj.out_features] = proj.weight
        if proj.bias is not None and new.bias is not None:
            new.bias.zero_()
            new.bias[:proj.out_features] = proj.bias
    transformer.proj_out = new
    transformer.register_to_config(out_channels=out_channels)
    return True


def rotary_embedding(transformer: CogVideoXTransformer3DModel, latent_frames: int,
                     latent_h: int, latent_w: int,
                     device) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Rotary position embeddings for rotary (5b-style) transformers, else None.

    Uses diffusers' own helpers exactly as ``CogVideoXImageToVideoPipeline`` does.
    """
    cfg = transformer.config
    if not cfg["use_rotary_positional_embeddings"]:
        return None
    from diffusers.models.embeddings import get_3d_rotary_pos_embed
    from diffusers.pipelines.cogvideo.pipeline_cogvideox import get_resize_crop_region_for_grid

    p: int = cfg["patch_size"]
    p_t: int | None = cfg["patch_size_t"]
    gh, gw = latent_h // p, latent_w // p
    width, height = cfg["sample_width"] // p, cfg["sample_height"] // p
    if p_t is None:
        crops = get_resize_crop_region_for_grid((gh, gw), width, height)
        emb = get_3d_rotary_pos_embed(embed_dim=cfg["attention_head_dim"], crops_coords=crops,
                                      grid_size=(gh, gw), temporal_size=latent_frames,
                                      device=device)
    else:
        emb = get_3d_rotary_pos_embed(embed_dim=cfg["attention_head_dim"], crops_coords=None,
                                      grid_size=(gh, gw),
                                      temporal_size=(latent_frames + p_t - 1) // p_t,
                                      grid_type="slice", max_size=(height, width), device=device)
    # (cos, sin): diffusers' annotation also allows the tensor of use_real=False (not used here)
    return cast("tuple[torch.Tensor, torch.Tensor]", emb)


class Codec(nn.Module):
    """Video <-> the space the transformer denoises, in the transformer's (B, F, C, h, w) layout.

    Pixel space: identity (F = T frames, C = 3, h, w = H, W). Latent space: the CogVideoX VAE
    (F = (T - 1) / 4 + 1, C = 16, h, w = H / 8, W / 8), latents times ``scaling_factor``.
    """

    def __init__(self, vae: AutoencoderKLCogVideoX | None):
        super().__init__()
        self.vae = vae

    @property
    def channels(self) -> int:
        return 3 if self.vae is None else int(self.vae.config["latent_channels"])

    def encode(self, video: torch.Tensor, generator: torch.Generator | None = None,
               sample: bool = False) -> torch.Tensor:
        """(B, 3, T, H, W) in [-1, 1] -> (B, F, C, h, w)."""
        if self.vae is None:
            return video.permute(0, 2, 1, 3, 4)
        dist = self.vae.encode(video.to(self.vae.dtype)).latent_dist
        z = dist.sample(generator) if sample else dist.mode()
        return (z * self.vae.config["scaling_factor"]).permute(0, 2, 1, 3, 4)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """(B, F, C, h, w) -> (B, 3, T, H, W), clamped to [-1, 1]."""
        if self.vae is None:
            return latents.permute(0, 2, 1, 3, 4).clamp(-1, 1)
        z = latents.permute(0, 2, 1, 3, 4) / self.vae.config["scaling_factor"]
        return self.vae.decode(z.to(self.vae.dtype)).sample.clamp(-1, 1)


def read_json(path: Path) -> Any:
    """A JSON file's value; CheckpointError naming the file when it cannot be read."""
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise CheckpointError(f"cannot read {path}: {err}") from err
