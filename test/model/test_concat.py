"""Prompt injection on the input channels (``prompt_injection: concat``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vap_ros.errors import ConfigError
from vap_ros.model import WorldModel

from .conftest import to_batch


def test_concat_layout_and_no_controlnet():
    wm = WorldModel.from_preset("tiny", seed=0, prompt_injection="concat", lora_rank=0)
    assert wm.denoiser.controlnet is None
    assert wm.transformer.config.in_channels == 9  # noisy + first frame + prompt (RGB each)
    assert wm.num_parameters()["controlnet"] == 0
    cn = WorldModel.from_preset("tiny", seed=0)
    assert cn.transformer.config.in_channels == 6 and cn.denoiser.controlnet is not None


def test_concat_prediction_depends_on_the_prompt(clips):
    wm = WorldModel.from_preset("tiny", seed=0, prompt_injection="concat", lora_rank=0)
    first = clips["video"][0, :, 0]
    a = wm.predict(first, clips["prompts"][0], steps=2, seed=0)
    b = wm.predict(first, clips["prompts"][1], steps=2, seed=0)
    assert not np.array_equal(a, b)  # the prompt reaches the output even untrained
    assert np.array_equal(a, wm.predict(first, clips["prompts"][0], steps=2, seed=0))
    g = wm.predict(first, clips["prompts"][0], steps=2, seed=0, guidance_scale=3.0)
    assert g.shape == a.shape and not np.array_equal(a, g)


def test_concat_dropout_blanks_the_prompt(batch):
    wm = WorldModel.from_preset("tiny", seed=0, prompt_injection="concat", cond_dropout=0.0)
    always = WorldModel.from_preset("tiny", seed=0, prompt_injection="concat", cond_dropout=0.99)
    blank = dict(batch, prompts=-torch.ones_like(batch["prompts"]))
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        dropped = always.training_loss(batch, torch.Generator().manual_seed(3))["mse"]
        seen_blank = wm.training_loss(blank, g)["mse"]
        seen = wm.training_loss(batch, torch.Generator().manual_seed(3))["mse"]
    # cond_dropout only changes the dropout draw: dropping every prompt == feeding blanks
    # (the same timesteps/noise come first from the generator).
    assert torch.allclose(dropped, seen_blank) and not torch.allclose(seen, seen_blank)


def test_bad_prompt_injection_is_refused():
    with pytest.raises(ConfigError, match="prompt_injection"):
        WorldModel.from_preset("tiny", prompt_injection="crossattn")


def test_stage_two_refuses_concat():
    from vap_ros.train.model_setup import add_control_branch

    prior = WorldModel.from_preset("tiny", seed=0, conditioning="none", lora_rank=0)
    with pytest.raises(ConfigError, match="concat"):
        add_control_branch(prior, seed=0, prompt_injection="concat")


def test_concat_batch_gradients_reach_the_patch_embedding(clips):
    wm = WorldModel.from_preset("tiny", seed=0, prompt_injection="concat", lora_rank=0,
                                cond_dropout=0.0)
    batch = {"video": to_batch(clips["video"][:2]), "prompts": to_batch(clips["prompts"][:2])}
    wm.training_loss(batch, torch.Generator().manual_seed(0))["loss"].backward()
    grad = wm.transformer.patch_embed.proj.weight.grad  # (D, 9, p, p)
    assert grad is not None and grad[:, 6:].abs().sum() > 0  # the prompt channels learn
