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


def test_blurred_conditioning_frames_bypass_the_cache():
    """Conditioning-frame corruption: a blurred first frame is new every step and is encoded
    past the cache (it would only grow it); noise is added after the (cached) encode."""
    from vap_ros.model import WorldModel
    from vap_ros.model.cond_aug import CondAugment
    from vap_ros.train.latent_cache import LatentCache

    torch.set_num_threads(1)
    wm = WorldModel.from_preset("tiny", seed=0, **LATENT_TINY)
    cache = LatentCache.attach(wm)
    g = torch.Generator().manual_seed(0)
    batch = {"video": torch.rand(2, 1, 3, 9, 32, 32, generator=g) * 2 - 1,
             "prompts": torch.rand(2, 1, 3, 9, 32, 32, generator=g) * 2 - 1}
    for seed in range(3):
        out = wm.training_loss(batch, torch.Generator().manual_seed(seed),
                               cond_aug=CondAugment(noise=0.5, blur=1.0, prob=1.0))
        assert torch.isfinite(out["loss"])
    assert len(cache.memory) == 2  # the two videos only
    wm.training_loss(batch, torch.Generator().manual_seed(0), cond_aug=CondAugment(noise=0.5))
    assert len(cache.memory) == 4  # + the two real first frames
