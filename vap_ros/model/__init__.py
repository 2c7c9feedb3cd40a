"""The VAP world model: first image(s) + visual action prompt video -> predicted video.

Built on diffusers' CogVideoX transformer/VAE/schedulers and peft's LoRA; presets as YAML data.
"""

from vap_ros.model.config import WorldModelConfig, available_presets, load_preset
from vap_ros.model.world_model import WorldModel

__all__ = ["WorldModel", "WorldModelConfig", "available_presets", "load_preset"]
