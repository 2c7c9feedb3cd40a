"""VAE-latent caching: each clip goes through the VAE once; training is unchanged."""

from __future__ import annotations

import pytest
import torch
from synthetic import SyntheticClips
from train_script import config

LATENT_TINY = {  # the tiny preset in latent space, 9 frames, a 4-channel toy VAE (4x4 latents)
    "space": "latent", "num_frames": 9,
    "vae": {"block_out_channels": [8, 8, 8, 8], "latent_channels": 4, "layers_per_block": 1,
            "norm_num_groups": 4, "temporal_compression_ratio": 4},
    "transformer": {"in_channels": 8, "out_channels": 4, "patch_size": 1, "sample_height": 4,
                    "sample_width": 4, "sample_frames": 9, "temporal_compression_ratio": 4},
}


def test_cached_latents_train_like_uncached(tmp_path):
    from vap_ros.train.trainer import Trainer, load_jsonl

    torch.set_num_threads(1)
    runs = {}
    for cache in (False, True):
        cfg = config(6, 6, **{"cache_latents": cache, "model.overrides": LATENT_TINY})
        t = Trainer(cfg, SyntheticClips(4, frames=9), tmp_path / str(cache))
        t.fit()
        runs[cache] = [r["train/loss"] for r in load_jsonl(tmp_path / str(cache))]
        if cache:
            c = t.latent_cache
            # 4 clips: 4 videos + 4 first frames encoded once; 12 clip draws in 6 steps
            assert c.misses == 8 and c.hits == 2 * 12 - 8
            assert len(list((tmp_path / "True" / "latent_cache").glob("*.safetensors"))) == 8
    assert runs[True] == pytest.approx(runs[False], rel=1e-5)


def test_pixel_space_has_nothing_to_cache(tmp_path, caplog):
    from vap_ros.train.trainer import Trainer

    with caplog.at_level("INFO"):
        t = Trainer(config(1, 1, cache_latents=True), SyntheticClips(2), tmp_path / "p")
    assert t.latent_cache is None and "pixel-space model has no VAE" in caplog.text
