"""The VAP world model: first image(s) + visual action prompt video -> predicted video.

Built on diffusers' CogVideoX transformer/VAE/schedulers and peft's LoRA; presets as YAML data.
Importing ``vap_ros.model`` (or its config) does not import torch: ``WorldModel`` is loaded on
first use, so config checks and a node whose model runs in another process stay light.
"""

from vap_ros.model.config import WorldModelConfig, available_presets, load_preset

__all__ = ["WorldModel", "WorldModelConfig", "available_presets", "load_preset"]


def __getattr__(name: str):
    if name == "WorldModel":
        from vap_ros.model.world_model import WorldModel

        return WorldModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
