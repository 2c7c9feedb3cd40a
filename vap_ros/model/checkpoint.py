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
  conditioning.safetensors   text embedding, action adapter, trainable transformer parts
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
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from vap_ros.errors import CheckpointError
from vap_ros.model import backbone
from vap_ros.model.config import WorldModelConfig

__all__ = ["load", "save"]

FORMAT = "vap_ros.world_model/1"
PEFT_PREFIX = "base_model.model."  # PeftModel's key prefix in adapter_model.safetensors
DIFFUSERS_LORA_FILE = "pytorch_lora_weights.safetensors"


def _cpu(state: dict) -> dict:
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in state.items()}


def _base_state(transformer) -> dict:
    """The transformer's own weights (LoRA layers stripped) under diffusers' names."""
    state = {}
    for key, value in transformer.state_dict().items():
        if "lora_" in key:
            continue
        state[key.replace(".base_layer.", ".")] = value
    return state


def save(wm, path: str | Path, include_base: bool | None = None, card: dict | None = None) -> Path:
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
    from vap_ros import __version__ as version

    model_card = {"format": FORMAT, "preset": cfg.preset, "conditioning": cfg.conditioning,
                  "space": cfg.space, "vap_ros_version": version, "base": wm.base_path,
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
    extra = {"text_embedding": d.text_embedding}
    if d.action_adapter is not None:
        extra.update({f"action_adapter.{k}": v for k, v in d.action_adapter.state_dict().items()})
    if not include_base and wm.train_patch_embed:
        extra.update({f"transformer.{k}": v for k, v in _base_state(transformer).items()
                      if k.startswith("patch_embed.proj")})
    save_file(_cpu(extra), path / "conditioning.safetensors")
    if cfg.lora_rank > 0:
        _save_lora(transformer, path / "lora")
    return path


def _save_lora(transformer, lora_dir: Path) -> None:
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


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise CheckpointError(f"cannot read {path}: {err}") from err


def _load_st(path: Path) -> dict:
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


def load(path: str | Path, base: str | Path | None = None):
    """Load a checkpoint written by ``save``.

    Args:
        base: the local base directory when the checkpoint only references its base
            (default: the path recorded in the model card).
    Raises:
        CheckpointError: missing files, unreadable/corrupt files or mismatched weights.
        ConfigError: a ``vap_config.json`` with unknown keys or wrong types (key and value
            named, ``source`` the file).
    """
    from diffusers import AutoencoderKLCogVideoX, CogVideoXTransformer3DModel
    from peft import LoraConfig
    from peft.utils import set_peft_model_state_dict

    from vap_ros.model.world_model import WorldModel

    path = Path(path).expanduser()
    for name in ("vap_config.json", "model_card.json"):
        if not (path / name).is_file():
            raise CheckpointError(f"{path} is not a world model checkpoint: missing {name}")
    cfg = WorldModelConfig.from_dict(_read_json(path / "vap_config.json"),
                                     source=str(path / "vap_config.json"))
    card = _read_json(path / "model_card.json")
    if not isinstance(card, dict):
        raise CheckpointError(f"{path / 'model_card.json'}: expected a JSON object, got "
                              f"{type(card).__name__}")
    _check(path, cfg, card)
    try:
        if card.get("base_included", True):
            transformer = backbone.materialise(CogVideoXTransformer3DModel.from_pretrained(
                path / "transformer", use_safetensors=True, local_files_only=True))
            vae = None
            if cfg.space == "latent":
                vae = backbone.materialise(AutoencoderKLCogVideoX.from_pretrained(
                    path / "vae", use_safetensors=True, local_files_only=True))
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
        transformer.load_state_dict(patch, strict=False)
    with torch.random.fork_rng(devices=[]):
        wm = WorldModel(cfg, transformer, vae, scheduler, base_path=base_path,
                        train_patch_embed=bool(card.get("train_patch_embed", False)))
    wm.card = {k: v for k, v in card.items() if k in ("training_data", "metrics")}
    d = wm.denoiser
    try:
        with torch.no_grad():
            d.text_embedding.copy_(extra["text_embedding"])
        if d.action_adapter is not None:
            d.action_adapter.load_state_dict(
                {k[len("action_adapter."):]: v for k, v in extra.items()
                 if k.startswith("action_adapter.")}, strict=True)
        if d.controlnet is not None:
            d.controlnet.load_state_dict(_load_st(path / "controlnet.safetensors"), strict=True)
        if cfg.lora_rank > 0:
            saved = LoraConfig.from_pretrained(path / "lora")
            if saved.r != cfg.lora_rank:
                raise CheckpointError(f"lora/adapter_config.json has rank {saved.r}, the config "
                                      f"says {cfg.lora_rank}")
            lora = _load_st(path / "lora" / "adapter_model.safetensors")
            lora = {k[len(PEFT_PREFIX):] if k.startswith(PEFT_PREFIX) else k: v
                    for k, v in lora.items()}  # peft's layout, or the older unprefixed one
            result = set_peft_model_state_dict(d.transformer, lora, adapter_name="default")
            if getattr(result, "unexpected_keys", None):
                raise CheckpointError(f"lora weights do not fit the model: unexpected keys "
                                      f"{result.unexpected_keys[:4]}")
            unset = [k for k in getattr(result, "missing_keys", ()) if "lora_" in k]
            if unset:  # a LoRA layer left at its initialisation would silently do nothing
                raise CheckpointError(f"lora/adapter_model.safetensors lacks {len(unset)} LoRA "
                                      f"weights of the model, e.g. {unset[:2]}")
    except (KeyError, RuntimeError) as err:
        raise CheckpointError(f"world model checkpoint {path} does not fit its config: "
                              f"{err}") from err
    return wm
