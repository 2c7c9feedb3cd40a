"""Training and evaluation of the world model from recorded clips.

``load_train_config``/``TrainConfig`` (validated YAML configs), ``Trainer``/``train`` (the
accelerate loop with exact resume), ``vap_ros.train.evaluate`` (metrics against baselines,
side-by-side videos) and ``vap_ros.train.metrics`` (PSNR, SSIM, ST-IoU, gripper-region PSNR).
Importing this package does not import torch; ``Trainer``/``train`` load on first use.
"""

from vap_ros.train.config import TrainConfig, available_train_presets, load_train_config

__all__ = [
    "TrainConfig",
    "Trainer",
    "available_train_presets",
    "load_train_config",
    "train",
]


def __getattr__(name):
    if name in ("Trainer", "train"):
        from vap_ros.train import trainer

        return getattr(trainer, name)
    raise AttributeError(f"module 'vap_ros.train' has no attribute {name!r}")
