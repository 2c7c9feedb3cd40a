"""Conditioning-frame corruption (``vap_ros.model.cond_aug``): training sees a corrupted
conditioning frame only when it is on, with the diffusion draws of a run without it; inference
adds the fixed noise only to chunks that start from a predicted frame; the level round-trips
through the checkpoint."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from vap_ros.errors import ConfigError, ModelError
from vap_ros.model import WorldModel, WorldModelConfig
from vap_ros.model.cond_aug import CondAugment, gaussian_blur
from vap_ros.model.long_rollout import chunk_seed

T = 5


def _batch(n=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"video": torch.rand(n, 1, 3, T, 32, 32, generator=g) * 2 - 1,
            "prompts": torch.rand(n, 1, 3, T, 32, 32, generator=g) * 2 - 1}


def _run(wm, batch, aug, seed=3):
    """One ``training_loss`` call, with what the denoiser was given (``x``, ``t``), the
    diffusion target's ``x0`` and ``noise``, and the generator's next draw (``after``)."""
    seen: dict = {}
    forward, target = wm.denoiser.forward, wm._target

    def fwd(x, t, *a, **k):
        seen.update(x=x.detach().clone(), t=t.clone())
        return forward(x, t, *a, **k)

    def tgt(x0, noise, t):
        seen.update(x0=x0.detach().clone(), noise=noise.clone())
        return target(x0, noise, t)

    wm.denoiser.forward, wm._target = fwd, tgt
    try:
        gen = torch.Generator().manual_seed(seed)
        seen["loss"] = wm.training_loss(batch, gen, cond_aug=aug)["loss"].item()
        seen["after"] = torch.rand(1, generator=gen).item()
    finally:
        del wm.denoiser.forward, wm._target
    return seen


@pytest.fixture(scope="module")
def wm():
    return WorldModel.from_preset("tiny", seed=0, residual=True)


def test_off_changes_nothing_and_draws_nothing(wm):
    batch = _batch()
    plain = _run(wm, batch, None)
    for off in (CondAugment(), CondAugment(noise=0.0, blur=0.0, prob=1.0)):
        got = _run(wm, batch, off)
        assert got["loss"] == plain["loss"] and got["after"] == plain["after"]
        assert torch.equal(got["x"], plain["x"])
    # the image condition (channels 3:6, repeated over frames) is the clean first frame
    first = batch["video"][:, 0, :, :1].permute(0, 2, 1, 3, 4)
    assert torch.equal(plain["x"][:, :, 3:6], first.expand(-1, T, -1, -1, -1))


def test_noise_corrupts_only_the_image_condition(wm):
    batch = _batch()
    plain = _run(wm, batch, None)
    aug = CondAugment(noise=0.5, prob=1.0)
    got = _run(wm, batch, aug)
    # same timesteps, diffusion noise and noisy latents: the corruption is drawn after them
    assert torch.equal(got["t"], plain["t"]) and torch.equal(got["noise"], plain["noise"])
    assert torch.equal(got["x"][:, :, :3], plain["x"][:, :, :3])
    assert torch.equal(got["x0"], plain["x0"])  # residual target: against the given frame
    assert got["after"] != plain["after"]
    diff = got["x"][:, :, 3:6] - plain["x"][:, :, 3:6]
    assert torch.equal(diff[:, 1:], diff[:, :1].expand(-1, T - 1, -1, -1, -1))  # one per frame
    std = diff[:, 0].flatten(1).std(dim=1)
    assert (std > 0.01).all() and (std < 0.55).all()
    assert std.max() - std.min() > 0.02  # a level per sample
    # each sample's level is the one CondAugment.draw gives after the diffusion draws
    gen = torch.Generator().manual_seed(3)
    torch.randint(0, 1000, (4,), generator=gen)
    torch.randn(plain["noise"].shape, generator=gen)
    torch.rand(4, generator=gen)
    levels, _ = aug.draw(4, gen, "cpu")
    np.testing.assert_allclose(std.numpy(), levels.numpy(), rtol=0.1)
    again = _run(wm, batch, aug)  # a pure function of the generator's seed
    assert torch.equal(again["x"], got["x"]) and again["loss"] == got["loss"]
    assert not torch.equal(_run(wm, batch, aug, seed=4)["x"][:, :, 3:6], got["x"][:, :, 3:6])


def test_prob_leaves_some_samples_clean(wm):
    batch = _batch(n=16)
    plain, got = _run(wm, batch, None), _run(wm, batch, CondAugment(noise=0.5, prob=0.5))
    changed = (got["x"][:, 0, 3:6] != plain["x"][:, 0, 3:6]).flatten(1).any(dim=1)
    assert 0 < int(changed.sum()) < 16


def test_blur_degrades_the_given_frame_and_the_residual_base(wm):
    batch = _batch()
    plain = _run(wm, batch, None)
    aug = CondAugment(blur=1.5, prob=1.0)
    got = _run(wm, batch, aug)
    gen = torch.Generator().manual_seed(3)
    torch.randint(0, 1000, (4,), generator=gen)
    torch.randn(plain["noise"].shape, generator=gen)
    torch.rand(4, generator=gen)
    _, sigma = aug.draw(4, gen, "cpu")
    first = batch["video"][:, 0, :, :1]
    blurred = gaussian_blur(first, sigma).permute(0, 2, 1, 3, 4)  # (B, 1, 3, H, W)
    torch.testing.assert_close(got["x"][:, :, 3:6], blurred.expand(-1, T, -1, -1, -1))
    video = batch["video"][:, 0].permute(0, 2, 1, 3, 4)
    torch.testing.assert_close(got["x0"], 0.5 * (video - blurred))  # the target: the real video
    assert not torch.allclose(got["x0"], plain["x0"])


def test_gaussian_blur():
    x = torch.rand(3, 3, 1, 16, 16)
    y = gaussian_blur(x, torch.tensor([0.0, 1.0, 2.0]))
    assert torch.equal(y[0], x[0])
    assert (y[1] - x[1]).abs().mean() > 0.05 and (y[2] - x[2]).abs().mean() > \
        (y[1] - x[1]).abs().mean()
    flat = torch.full((1, 3, 8, 8), 0.3)
    torch.testing.assert_close(gaussian_blur(flat, torch.tensor([1.0])), flat)
    assert gaussian_blur(x, torch.zeros(3)) is x


def _frames(length, views=1, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 255, (views, 32, 32, 3), np.uint8),
            rng.integers(0, 255, (views, length, 32, 32, 3), np.uint8))


def test_predict_cond_noise(wm):
    first, prompts = _frames(T)
    plain = wm.predict(first, prompts, steps=2, seed=1)
    assert np.array_equal(wm.predict(first, prompts, steps=2, seed=1, cond_noise=0.0), plain)
    noisy = wm.predict(first, prompts, steps=2, seed=1, cond_noise=0.3)
    assert np.array_equal(noisy[:, 0], first) and not np.array_equal(noisy, plain)
    assert np.array_equal(wm.predict(first, prompts, steps=2, seed=1, cond_noise=0.3), noisy)
    for bad in (-0.1, float("nan"), True, "0.1"):
        with pytest.raises(ModelError, match="cond_noise"):
            wm.predict(first, prompts, steps=2, cond_noise=bad)


def test_predict_long_noises_only_chunks_on_a_predicted_frame():
    wm = WorldModel.from_preset("tiny", seed=0, cond_noise=0.2)
    first, prompts = _frames(11)
    out = wm.predict_long(first, prompts, steps=2, seed=4)
    starts = [0, 4, 8]
    for k, s in enumerate(starts):
        index = np.minimum(np.arange(s, s + T), 10)
        noise = 0.0 if k == 0 else 0.2
        clip = wm.predict(out[:, s], prompts[:, index], steps=2, seed=chunk_seed(4, k),
                          cond_noise=noise)
        n = min(4, 10 - s)
        np.testing.assert_array_equal(out[:, s + 1:s + 1 + n], clip[:, 1:1 + n])
    off = wm.predict_long(first, prompts, steps=2, seed=4, cond_noise=0.0)
    assert np.array_equal(off[:, :5], out[:, :5]) and not np.array_equal(off[:, 5:], out[:, 5:])
    # re-anchored chunks start from real frames: no noise, whatever the config says
    real = np.random.default_rng(1).integers(0, 255, (1, 11, 32, 32, 3), np.uint8)
    real[:, 0] = first
    np.testing.assert_array_equal(
        wm.predict_long(first, prompts, steps=2, seed=4, anchors=real),
        wm.predict_long(first, prompts, steps=2, seed=4, anchors=real, cond_noise=0.0))
    with pytest.raises(ModelError, match="cond_noise"):
        wm.predict_long(first, prompts, steps=2, cond_noise=-1.0)


def test_cond_noise_config_and_checkpoint_round_trip(tmp_path):
    with pytest.raises(ConfigError, match="cond_noise"):
        WorldModelConfig(cond_noise=-0.1)
    wm = WorldModel.from_preset("tiny", seed=0, cond_noise=0.05)
    wm.save_pretrained(tmp_path / "ckpt")
    saved = json.loads((tmp_path / "ckpt" / "vap_config.json").read_text())
    assert saved["cond_noise"] == 0.05
    assert WorldModel.from_pretrained(tmp_path / "ckpt").config.cond_noise == 0.05
    del saved["cond_noise"]  # a checkpoint written before the field: no noise
    assert WorldModelConfig.from_dict(saved).cond_noise == 0.0
