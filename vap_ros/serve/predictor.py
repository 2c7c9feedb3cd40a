"""Loading a world model for serving: in this process, or in a model process of its own."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from vap_ros.errors import ConfigError

__all__ = ["DTYPES", "SHIPPED_MODEL", "enable_vae_tiling", "load_predictor", "load_world_model",
           "shipped_model_dir"]

DTYPES = ("float32", "bfloat16", "float16")
SHIPPED_MODEL = "vap_small_sim"  # models/<this> in the checkout, share/vap_ros/models/ installed
MIN_LATENT_TILE = 8  # px; CogVideoX's VAE (480x720 samples) has 30x45 latent tiles
_log = logging.getLogger(__name__)


def shipped_model_dir() -> Path:
    """The shipped default model: ``share/vap_ros/models/vap_small_sim`` of the installed package
    (found through the ament index, as under colcon), else ``models/vap_small_sim`` of the
    checkout this module runs from.

    Raises:
        ConfigError: naming the places looked in.
    """
    looked = []
    try:
        from ament_index_python.packages import (
            PackageNotFoundError,
            get_package_share_directory,
        )
    except ImportError:  # no ROS environment: only the checkout can hold it
        pass
    else:
        try:
            share = Path(get_package_share_directory("vap_ros")) / "models" / SHIPPED_MODEL
        except PackageNotFoundError:
            looked.append("the ament index (package vap_ros not installed)")
        except OSError:  # ament_index_python: AMENT_PREFIX_PATH unset (not a sourced workspace)
            looked.append("the ament index (AMENT_PREFIX_PATH not set)")
        else:
            if (share / "model_card.json").is_file():
                return share
            looked.append(str(share))
    here = Path(__file__).resolve().parents[2] / "models" / SHIPPED_MODEL
    if (here / "model_card.json").is_file():
        return here
    looked.append(str(here))
    raise ConfigError(f"the shipped model {SHIPPED_MODEL!r} was not found (looked in "
                      f"{'; '.join(looked)}); pass a checkout directory, or train it: "
                      "scripts/train_default_model.sh")


def load_world_model(model: str, *, device: str = "cpu", seed: int = 0, base: str = "",
                     dtype: str = "float32") -> tuple[Any, str]:
    """A world model from a checkpoint directory, ``""`` (the shipped model,
    ``shipped_model_dir``), or a preset name (``tiny``/``small``: random init from ``seed``;
    ``cogvideox-*``: pretrained weights from the local diffusers directory ``base``)
    → (model in eval mode on ``device`` in ``dtype``, model_id).

    A random-init preset predicts noise: it is for tests and benchmarks, and loading one logs a
    warning (unless ``VAP_ROS_QUIET_RANDOM_INIT`` is set, as the test suite does).

    Raises:
        CheckpointError / ConfigError: missing or bad checkpoint, unknown preset or dtype.
    """
    import torch

    from vap_ros.model import WorldModel

    if dtype not in DTYPES:
        raise ConfigError(f"dtype {dtype!r}: expected one of {list(DTYPES)}")
    path = shipped_model_dir() if model == "" else Path(model).expanduser()
    base_arg = base or None
    if path.is_dir():
        wm = WorldModel.from_pretrained(str(path), base=base_arg)
        model_id = f"{getattr(wm.config, 'preset', 'custom')}:{path.name}"
    else:
        wm = WorldModel.from_preset(model, base=base_arg, seed=seed)
        if base:
            model_id = f"{model}:{Path(base).name}"
        else:
            model_id = f"{model}:random-init-seed{seed}"
            if not os.environ.get("VAP_ROS_QUIET_RANDOM_INIT"):
                _log.warning("world model %r is a random-init preset: its predictions are "
                             "noise (tests and benchmarks only); pass a checkpoint directory",
                             model)
    if device != "cpu" or dtype != "float32":
        wm = wm.to(device=device, dtype=getattr(torch, dtype))
    enable_vae_tiling(wm)
    return wm.eval(), model_id


def enable_vae_tiling(wm) -> bool:
    """Latent-space models: encode/decode one video at a time (diffusers' ``enable_slicing``)
    and in spatial tiles (``enable_tiling``), so 49x480x720 videos fit in memory. Every place
    the model runs (nodes, eval, demo, training) calls this, so the VAE sees frames the same
    way everywhere; frames smaller than a tile are unaffected. Tiling is left off for VAEs whose
    latent tiles would be under ``MIN_LATENT_TILE`` px (test-sized VAEs configured for tiny
    samples: their convolutions cannot run on such tiles). Returns whether tiling is on."""
    vae = getattr(getattr(wm, "codec", None), "vae", None)
    if vae is None:
        return False
    vae.enable_slicing()
    tile = min(getattr(vae, "tile_latent_min_height", 0),
               getattr(vae, "tile_latent_min_width", 0))
    if tile < MIN_LATENT_TILE:
        return False
    vae.enable_tiling()
    return True


def load_predictor(model: str, *, device: str = "cpu", seed: int = 0, base: str = "",
                   dtype: str = "float32", process: bool = True,
                   threads: int = 0) -> tuple[Any, str]:
    """The world model a node serves: in a model process of its own (``process``; see
    ``vap_ros.serve.model_process`` for why) or in this process → (predictor, model_id)."""
    if process:
        from vap_ros.serve.model_process import ModelProcess

        mp = ModelProcess(model, device=device, seed=seed, base=base, dtype=dtype,
                          threads=threads)
        return mp, mp.model_id
    if threads > 0:
        import torch

        torch.set_num_threads(threads)
    return load_world_model(model, device=device, seed=seed, base=base, dtype=dtype)
