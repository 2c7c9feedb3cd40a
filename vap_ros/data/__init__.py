"""Rosbags → training clips: read, synchronise, calibrate, render prompts, cache.

``build_dataset`` turns bags into a shard cache; ``ClipDataset``/``collate_clips`` (torch)
read it; ``render_bag_prompts`` writes prompt/overlay PNGs to check a calibration by eye.
Importing this package does not import torch (``ClipDataset`` loads it on first use).
"""

from vap_ros.data.bag import BagReader, bag_paths
from vap_ros.data.build import build_dataset, format_report, process_bag
from vap_ros.data.cache import read_manifest
from vap_ros.data.config import RigConfig, available_rig_presets, load_rig_config

__all__ = [
    "BagReader",
    "ClipDataset",
    "RigConfig",
    "available_rig_presets",
    "bag_paths",
    "build_dataset",
    "collate_clips",
    "format_report",
    "load_rig_config",
    "process_bag",
    "read_manifest",
    "render_bag_prompts",
]


def __getattr__(name):
    if name in ("ClipDataset", "collate_clips"):
        from vap_ros.data import dataset

        return getattr(dataset, name)
    if name == "render_bag_prompts":
        from vap_ros.data.render import render_bag_prompts

        return render_bag_prompts
    raise AttributeError(f"module 'vap_ros.data' has no attribute {name!r}")
