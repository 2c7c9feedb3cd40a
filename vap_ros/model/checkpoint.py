"""World-model checkpoints: diffusers layout for the base, safetensors for the ControlNet and the
conditioning parts, a peft adapter for LoRA, JSON for the config and the model card.

```
<dir>/
  vap_config.json            WorldModelConfig (architecture + sampling defaults)
  model_card.json            preset, base, training data, metrics, package version
  transformer/               diffusers CogVideoXTransformer3DModel (config.json + safetensors,
                             LoRA removed), omitted when the frozen base is only referenced
  vae/                       diffusers AutoencoderKLCogVideoX (latent space; same rule)
  scheduler/                 diffusers scheduler config
  controlnet.safetensors     ControlNet branch (skeleton conditioning)
  conditioning.safetensors   text embedding, action adapter, action head (joint_states),
                             trainable transformer parts
  lora/                      LoRA in both standard layouts (the same tensors twice):
    adapter_config.json + adapter_model.safetensors   peft (PeftModel.save_pretrained layout:
                             keys "base_model.model.<module>.lora_A.weight")
    pytorch_lora_weights.safetensors                  diffusers (CogVideoX pipelines'
                             save_lora_weights layout: keys "transformer.<module>.lora_A.weight",
                             the LoraConfig in the safetensors metadata)
```
Either library restores the adapter onto ``transformer/`` by itself:
``PeftModel.from_pretrained(transformer, "<dir>/lora")``, or
``transformer.load_lora_adapter("<dir>/lora", weight_name="pytorch_lora_weights.safetensors")``
(``pipe.load_lora_weights("<dir>/lora")`` on a CogVideoX pipeline). Checkpoints written before
this layout hold unprefixed keys in adapter_model.safetensors and no diffusers file; they load
here as before (diffusers: ``load_lora_adapter(..., weight_name="adapter_model.safetensors",
prefix=None)``).
Loading reads JSON and safetensors only; nothing is ever unpickled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import torch
from safetensors.torch import load_file, save_file

from vap_ros import __version__
from vap_ros.errors import CheckpointError
from vap_ros.model import backbone
from vap_ros.model.config import WorldModelConfig
from vap_ros.model.denoiser import Denoiser

if TYPE_CHECKING:
    from diffusers.models.autoencoders.autoencoder_kl_cogvideox import AutoencoderKLCogVideoX
    from diffusers.models.transformers.cogvideox_transformer_3d import (
        CogVideoXTransformer3DModel,
    )

__all__ = ["CheckpointParts", "SavedModel", "load", "restore", "save"]

FORMAT = "vap_ros.world_model/1"
PEFT_PREFIX = "base_model.model."  # PeftModel's key prefix in adapter_model.safetensors
DIFFUSERS_LORA_FILE = "pytorch_lora_weights.safetensors"


class SavedModel(Protocol):
    """What ``save`` reads of a model (``WorldModel`` has it)."""

    config: WorldModelConfig
    base_path: str | None
    train_patch_embed: bool
    card: dict[str, Any]
    codec: backbone.Codec
    denoiser: Denoiser
    scheduler: Any

    @property
    def transformer(self) -> CogVideoXTransformer3DModel: ...

    def num_parameters(self) -> dict[str, int]: ...


@dataclass
class CheckpointParts:
    """What ``load`` reads: the parts a ``WorldModel`` is built from and its trained state.

    Attributes:
        path: the checkpoint directory.
        config: the architecture (``vap_config.json``).
        transformer, vae, scheduler: the diffusers parts (the base, widened and with the
            checkpoint's patch embedding where it holds one; no LoRA yet).
        base_path: the base directory recorded in the model card (or passed to ``load``).
        train_patch_embed: the model trains its patch embedding.
        card: the model card's ``training_data`` and ``metrics``.
        text_embedding: (1, L, text_embed_dim).
        action_adapter, action_head, controlnet, lora: state dicts (empty when the model has
            no such part; ``lora`` under the transformer's module names).
    """

    path: Path
    config: WorldModelConfig
    transformer: CogVideoXTransformer3DModel
    vae: AutoencoderKLCogVideoX | None
    scheduler: Any
    base_path: str | None
    train_patch_embed: bool
    card: dict[str, Any]
    text_embedding: torch.Tensor
    action_adapter: dict[str, torch.Tensor]
    action_head: dict[str, torch.Tensor]
    controlnet: dict[str, torch.Tensor]
    lora: dict[str, torch.Tensor]


def _cpu(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in state.items()}


def _base_state(transformer: CogVideoXTransformer3DModel) -> dict[str, torch.Tensor]:
    """The transformer's own weights (LoRA layers stripped) under diffusers' names."""
    state = {}
    for key, value in transformer.state_dict().items():
        if "lora_" in key:
            continue
        state[key.replace(".base_layer.", ".")] = value
    return state


def save(wm: SavedModel, path: str | Path, include_base: bool | None = None,
         card: dict | None = None) -> Path:
    """Write ``wm`` to ``path`` (created; existing files are overwritten).

    Args:
        include_base: write transformer/ and vae/; None = unless the base is a frozen,
            unwidened copy of a local base directory (then only its path is recorded).
        card: extra model-card entries (e.g. ``training_data``, ``metrics``), merged with
            ``wm.card``.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    cfg = wm.config
    transformer = wm.transformer
    if include_base is None:
        include_base = cfg.train_base or wm.base_path is None
    if not include_base and wm.base_path is None:
        raise CheckpointError("include_base=False needs a model loaded from a base directory")
    (path / "vap_config.json").write_text(json.dumps(cfg.to_dict(), indent=2))
    model_card = {"format": FORMAT, "preset": cfg.preset, "conditioning": cfg.conditioning,
                  "space": cfg.space, "vap_ros_version": __version__, "base": wm.base_path,
                  "base_included": bool(include_base),
                  "train_patch_embed": wm.train_patch_embed,
                  "parameters": wm.num_parameters(), "training_data": None, "metrics": {}}
    model_card.update(wm.card)
    model_card.update(card or {})
    (path / "model_card.json").write_text(json.dumps(model_card, indent=2, default=str))
    if include_base:
        tdir = path / "transformer"
        tdir.mkdir(exist_ok=True)
        transformer.save_config(tdir)
        save_file(_cpu(_base_state(transformer)), tdir / "diffusion_pytorch_model.safetensors")
        if wm.codec.vae is not None:
            wm.codec.vae.save_pretrained(path / "vae", safe_serialization=True)
    wm.scheduler.save_pretrained(path / "scheduler")
    d = wm.denoiser
    if d.controlnet is not None:
        save_file(_cpu(d.controlnet.state_dict()), path / "controlnet.safetensors")
    extra: dict[str, torch.Tensor] = {"text_embedding": d.text_embedding}
    if d.action_adapter is not None:
        extra.update({f"action_adapter.{k}": v for k, v in d.action_adapter.state_dict().items()})
    if d.action_head is not None:
        extra.update({f"action_head.{k}": v for k, v in d.action_head.state_dict().items()})
    if not include_base and wm.train_patch_embed:
        extra.update({f"transformer.{k}": v for k, v in _base_state(transformer).items()
                      if k.startswith("patch_embed.proj")
                      or (cfg.action_images and k.startswith("proj_out."))})
    save_file(_cpu(extra), path / "conditioning.safetensors")
    if cfg.lora_rank > 0:
        _save_lora(transformer, path / "lora")
    return path


def _save_lora(transformer: CogVideoXTransformer3DModel, lora_dir: Path) -> None:
    """The adapter in peft's and in diffusers' standard layouts (see the module docstring)."""
    from diffusers import CogVideoXImageToVideoPipeline
    from peft.utils import get_peft_model_state_dict

    lora_dir.mkdir(exist_ok=True)
    peft_config = transformer.peft_config["default"]
    state = _cpu(get_peft_model_state_dict(transformer, adapter_name="default"))
    peft_config.save_pretrained(lora_dir)
    save_file({PEFT_PREFIX + k: v for k, v in state.items()},
              lora_dir / "adapter_model.safetensors", metadata={"format": "pt"})
    CogVideoXImageToVideoPipeline.save_lora_weights(
        lora_dir, transformer_lora_layers=state, weight_name=DIFFUSERS_LORA_FILE,
        transformer_lora_adapter_metadata=peft_config.to_dict())


def _load_st(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(path)
    except Exception as err:  # safetensors raises its own SafetensorError
        raise CheckpointError(f"cannot read {path}: {err}") from err


def _check(path: Path, cfg: WorldModelConfig, card: dict) -> None:
    need = ["scheduler/scheduler_config.json", "conditioning.safetensors"]
    if card.get("base_included", True):
        need += ["transformer/config.json", "transformer/diffusion_pytorch_model.safetensors"]
        if cfg.space == "latent":
            need += ["vae/config.json"]
    if cfg.uses_controlnet:
        need.append("controlnet.safetensors")
    if cfg.lora_rank > 0:
        need += ["lora/adapter_config.json", "lora/adapter_model.safetensors"]
    missing = [n for n in need if not (path / n).is_file()]
    if missing:
        raise CheckpointError(f"world model checkpoint {path} is incomplete: missing "
                              f"{', '.join(missing)}")


def load(path: str | Path, base: str | Path | None = None) -> CheckpointParts:
    """Read a checkpoint written by ``save``: the parts ``WorldModel.from_pretrained``
    assembles (and fills with ``restore``).

    Args:
        base: the local base directory when the checkpoint only references its base
            (default: the path recorded in the model card).
    Raises:
        CheckpointError: missing files, unreadable/corrupt files or mismatched weights.
        ConfigError: a ``vap_config.json`` with unknown keys or wrong types (key and value
            named, ``source`` the file).
    """
    path = Path(path).expanduser()
    for name in ("vap_config.json", "model_card.json"):
        if not (path / name).is_file():
            raise CheckpointError(f"{path} is not a world model checkpoint: missing {name}")
    cfg = WorldModelConfig.from_dict(backbone.read_json(path / "vap_config.json"),
                                     source=str(path / "vap_config.json"))
    card = backbone.read_json(path / "model_card.json")
    if not isinstance(card, dict):
        raise CheckpointError(f"{path / 'model_card.json'}: expected a JSON object, got "
                              f"{type(card).__name__}")
    _check(path, cfg, card)
    vae: AutoencoderKLCogVideoX | None = None
    try:
        if card.get("base_included", True):
            transformer = backbone.load_transformer(path / "transformer")
            if cfg.space == "latent":
                vae = backbone.load_vae(path / "vae")
            base_path = card.get("base")
        else:
            base_path = str(base or card.get("base") or "")
            if not base_path:
                raise CheckpointError(f"{path} references its base model but none is recorded; "
                                      "pass base=/path/to/the/diffusers/directory")
            transformer, vae = backbone.load_base(base_path, cfg.space == "latent")
        scheduler = backbone.build_scheduler(cfg, path)
    except (OSError, ValueError, RuntimeError) as err:
        raise CheckpointError(f"cannot load the world model in {path}: {err}") from err
    extra = _load_st(path / "conditioning.safetensors")
    patch = {k[len("transformer."):]: v for k, v in extra.items() if k.startswith("transformer.")}
    if patch:
        backbone.widen_patch_embed(transformer, patch["patch_embed.proj.weight"].shape[1])
        if "proj_out.weight" in patch:  # joint action generation widened the output
            per = transformer.proj_out.out_features // int(transformer.config["out_channels"])
            backbone.widen_proj_out(transformer, patch["proj_out.weight"].shape[0] // per)
        transformer.load_state_dict(patch, strict=False)
    if "text_embedding" not in extra:
        raise CheckpointError(f"world model checkpoint {path} does not fit its config: "
                              "conditioning.safetensors has no 'text_embedding'")
    return CheckpointParts(
        path=path, config=cfg, transformer=transformer, vae=vae, scheduler=scheduler,
        base_path=base_path, train_patch_embed=bool(card.get("train_patch_embed", False)),
        card={k: v for k, v in card.items() if k in ("training_data", "metrics")},
        text_embedding=extra["text_embedding"],
        action_adapter={k[len("action_adapter."):]: v for k, v in extra.items()
                        if k.startswith("action_adapter.")},
        action_head={k[len("action_head."):]: v for k, v in extra.items()
                     if k.startswith("action_head.")},
        controlnet=(_load_st(path / "controlnet.safetensors") if cfg.uses_controlnet else {}),
        lora=_read_lora(path, cfg) if cfg.lora_rank > 0 else {})


def _read_lora(path: Path, cfg: WorldModelConfig) -> dict[str, torch.Tensor]:
    """lora/: the adapter's weights under the transformer's module names (rank checked)."""
    from peft import LoraConfig

    try:
        saved = LoraConfig.from_pretrained(str(path / "lora"))
    except (KeyError, RuntimeError) as err:
        raise CheckpointError(f"world model checkpoint {path} does not fit its config: "
                              f"{err}") from err
    if saved.r != cfg.lora_rank:
        raise CheckpointError(f"lora/adapter_config.json has rank {saved.r}, the config "
                              f"says {cfg.lora_rank}")
    lora = _load_st(path / "lora" / "adapter_model.safetensors")
    return {k[len(PEFT_PREFIX):] if k.startswith(PEFT_PREFIX) else k: v
            for k, v in lora.items()}  # peft's layout, or the older unprefixed one


def restore(denoiser: Denoiser, parts: CheckpointParts) -> None:
    """Fill a denoiser built from ``parts`` with the checkpoint's trained state.

    Raises:
        CheckpointError: weights that do not fit the model (names and shapes).
    """
    from peft.utils import set_peft_model_state_dict

    d = denoiser
    try:
        with torch.no_grad():
            d.text_embedding.copy_(parts.text_embedding)
        if d.action_adapter is not None:
            d.action_adapter.load_state_dict(parts.action_adapter, strict=True)
        if d.action_head is not None:
            d.action_head.load_state_dict(parts.action_head, strict=True)
        if d.controlnet is not None:
            d.controlnet.load_state_dict(parts.controlnet, strict=True)
        if parts.config.lora_rank > 0:
            result = set_peft_model_state_dict(d.transformer, parts.lora, adapter_name="default")
            unexpected = list(getattr(result, "unexpected_keys", None) or [])
            if unexpected:
                raise CheckpointError(f"lora weights do not fit the model: unexpected keys "
                                      f"{unexpected[:4]}")
            unset = [k for k in getattr(result, "missing_keys", ()) if "lora_" in k]
            if unset:  # a LoRA layer left at its initialisation would silently do nothing
                raise CheckpointError(f"lora/adapter_model.safetensors lacks {len(unset)} LoRA "
                                      f"weights of the model, e.g. {unset[:2]}")
    except (KeyError, RuntimeError) as err:
        raise CheckpointError(f"world model checkpoint {parts.path} does not fit its config: "
                              f"{err}") from err
