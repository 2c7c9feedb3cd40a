"""Build the world model a training config asks for: one stage or the two-stage recipe.

* ``full``: ``WorldModel.from_preset(preset, seed=, **overrides)`` (or ``from_pretrained``), the
  parameters the model marks trainable are trained.
* ``prior`` (stage 1): the same without actions (conditioning "none") and without LoRA: a video
  prior whose base weights are all trained.
* ``control`` (stage 2): the stage-1 model is loaded, frozen, and gets a fresh ControlNet branch
  (a copy of its first blocks, zero-initialised output projections) plus LoRA on its attention;
  only those are trained (``train_base=False``).

Building is deterministic for a given config and seed, so a resumed run rebuilds exactly the
same frozen parts and only the trainable ones are restored from the checkpoint.
"""

from __future__ import annotations

from typing import Any

import torch

from vap_ros.errors import ConfigError
from vap_ros.train.config import ModelConfig

__all__ = ["add_control_branch", "build_model"]


def build_model(mc: ModelConfig, seed: int):
    """The ``WorldModel`` for ``mc`` (see module docstring).

    Raises:
        ConfigError: inconsistent settings. CheckpointError: a pretrained folder is missing or
            incomplete.
    """
    from vap_ros.model import WorldModel

    if mc.stage == "control":
        prior = WorldModel.from_pretrained(mc.pretrained)
        return add_control_branch(prior, seed=seed, **mc.overrides)
    if mc.pretrained is not None:
        if mc.overrides:
            raise ConfigError("model.overrides cannot change a pretrained model's architecture; "
                              "drop them or start from a preset")
        wm = WorldModel.from_pretrained(mc.pretrained)
        if mc.stage == "prior" and wm.config.conditioning != "none":
            raise ConfigError(f"model.stage='prior' but {mc.pretrained} has conditioning "
                              f"{wm.config.conditioning!r}")
        return wm
    overrides: dict[str, Any] = dict(mc.overrides)
    if mc.stage == "prior":
        overrides["conditioning"] = "none"
        overrides.setdefault("lora_rank", 0)
        overrides["train_base"] = True
    return WorldModel.from_preset(mc.preset, seed=seed, **overrides)


def add_control_branch(prior, *, seed: int, **overrides: Any):
    """A stage-2 model: ``prior``'s frozen transformer (and VAE, scheduler, text embedding) with
    a new ControlNet branch and LoRA. ``overrides`` are WorldModel config fields (e.g.
    ``lora_rank``, ``controlnet_blocks``); conditioning defaults to "skeleton".

    Raises:
        ConfigError: the prior already carries LoRA layers or action conditioning.
    """
    from vap_ros.model import WorldModel

    pc = prior.config
    if pc.conditioning != "none":
        raise ConfigError(f"stage 2 expects a stage-1 prior without actions (conditioning "
                          f"'none'); this one has {pc.conditioning!r}")
    if pc.lora_rank > 0:
        raise ConfigError("stage 2 expects a prior trained without LoRA (lora_rank 0), so that "
                          "its transformer can be copied into the ControlNet before LoRA is added")
    fields = {"conditioning": "skeleton", "train_base": False}
    if pc.lora_rank == 0:
        fields["lora_rank"] = 4
    fields.update(overrides)
    if fields.get("prompt_injection", pc.prompt_injection) != "controlnet":
        raise ConfigError("stage 2 adds a ControlNet to a frozen prior; prompt_injection "
                          "'concat' changes the prior's input layout: train it in one stage "
                          "(model.stage: full)")
    if fields.get("train_base"):
        raise ConfigError("stage 2 freezes the prior: model.overrides.train_base must be false")
    config = pc.replace(**fields)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        wm = WorldModel(config, prior.transformer, prior.codec.vae, prior.scheduler,
                        base_path=prior.base_path)
    with torch.no_grad():
        wm.denoiser.text_embedding.copy_(prior.denoiser.text_embedding)
    wm.denoiser.text_embedding.requires_grad_(False)
    return wm
