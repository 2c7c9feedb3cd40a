"""predict: shapes, frame 0, determinism, guidance, schedulers, views, baselines, loss weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vap_ros.model import WorldModel


@pytest.fixture(scope="module")
def wm():
    return WorldModel.from_preset("tiny", seed=0)


def test_predict_shape_frame0_and_determinism(wm, clips):
    first, prompts = clips["video"][0, :, 0], clips["prompts"][0]
    a = wm.predict(first, prompts, steps=3, seed=7)
    assert a.shape == (2, 5, 32, 32, 3) and a.dtype == np.uint8
    assert np.array_equal(a[:, 0], first)  # frame 0 is the conditioning frame
    assert np.array_equal(a, wm.predict(first, prompts, steps=3, seed=7))
    assert not np.array_equal(a, wm.predict(first, prompts, steps=3, seed=8))


def test_views_are_a_batch_with_shared_weights(wm, clips):
    first, prompts = clips["video"][0, :, 0], clips["prompts"][0]
    both = wm.predict(first, prompts, steps=2, seed=1)
    one = wm.predict(first[1:], prompts[1:], steps=2, seed=1)
    assert one.shape == (1, 5, 32, 32, 3)
    assert np.array_equal(both[1, 0], one[0, 0])
    single = wm.predict(first[0], prompts[:1], steps=2)  # one (H, W, 3) image is one view
    assert single.shape == (1, 5, 32, 32, 3)


def test_prompt_changes_prediction_once_trained(clips):
    wm = WorldModel.from_preset("tiny", seed=0)
    with torch.no_grad():  # open the zero projections so the branch reaches the output
        for proj in wm.denoiser.controlnet.zero_projs:
            proj.weight.normal_(0, 0.2)
    first, prompts = clips["video"][0, :, 0], clips["prompts"][0]
    a = wm.predict(first, prompts, steps=2)
    b = wm.predict(first, np.zeros_like(prompts), steps=2)
    assert not np.array_equal(a, b)
    c = wm.predict(first, prompts, steps=2, guidance_scale=3.0)
    assert not np.array_equal(a, c)


def test_dpm_scheduler_deterministic(clips):
    wm = WorldModel.from_preset("tiny", seed=0, scheduler="dpm")
    assert type(wm.scheduler).__name__ == "CogVideoXDPMScheduler"
    first, prompts = clips["video"][0, :, 0], clips["prompts"][0]
    a = wm.predict(first, prompts, steps=3, seed=2)
    assert np.array_equal(a, wm.predict(first, prompts, steps=3, seed=2))


def test_raw_action_and_none_baselines(clips):
    first = clips["video"][0, :, 0]
    wa = WorldModel.from_preset("tiny", seed=0, conditioning="raw_action")
    assert wa.denoiser.controlnet is None
    out = wa.predict(first, actions=clips["actions"][0], steps=2, guidance_scale=2.0)
    assert out.shape == (2, 5, 32, 32, 3)
    with torch.no_grad():
        for mod in wa.denoiser.action_adapter.mods:
            mod.weight.normal_(0, 0.2)
    other = wa.predict(first, actions=clips["actions"][1], steps=2, guidance_scale=2.0)
    assert not np.array_equal(wa.predict(first, actions=clips["actions"][0], steps=2,
                                         guidance_scale=2.0), other)
    wn = WorldModel.from_preset("tiny", seed=0, conditioning="none")
    assert wn.denoiser.controlnet is None and wn.denoiser.action_adapter is None
    assert wn.predict(first, prompts=None, steps=2).shape == (2, 5, 32, 32, 3)


def test_loss_weight(wm, batch):
    g = lambda: torch.Generator().manual_seed(3)
    plain = wm.training_loss(batch, g())
    ones = wm.training_loss({**batch, "loss_weight": torch.ones(2, 2, 1, 5, 32, 32)}, g())
    assert torch.allclose(plain["loss"], ones["loss"])
    w = torch.zeros(2, 2, 1, 5, 32, 32)
    w[..., :16, :] = 1.0  # only the top half counts
    top = wm.training_loss({**batch, "loss_weight": w}, g())
    assert not torch.allclose(top["loss"], plain["loss"])
    assert torch.allclose(top["mse"], plain["mse"])  # unweighted MSE is reported as well
    top["loss"].backward()


def test_training_loss_seeded(wm, batch):
    a = wm.training_loss(batch, torch.Generator().manual_seed(0))["loss"]
    b = wm.training_loss(batch, torch.Generator().manual_seed(0))["loss"]
    assert torch.equal(a, b)
