"""Residual parametrisation: the model diffuses the change from the first frame."""

import numpy as np
import torch

from vap_ros.model import WorldModel


def _zero_output(wm):
    for p in wm.transformer.proj_out.parameters():
        torch.nn.init.zeros_(p)


def test_residual_zero_change_reproduces_first_frame_exactly():
    rng = np.random.default_rng(0)
    wm = WorldModel.from_preset("tiny", seed=0, residual=True, conditioning="none")
    _zero_output(wm)  # the denoiser now predicts "no change" (x0 prediction = 0)
    first = rng.integers(0, 255, (2, 32, 32, 3), np.uint8)
    video = wm.predict(first, steps=4, seed=1)
    assert video.shape == (2, 5, 32, 32, 3)
    np.testing.assert_array_equal(video, np.repeat(first[:, None], 5, axis=1))

    plain = WorldModel.from_preset("tiny", seed=0, residual=False, conditioning="none")
    _zero_output(plain)
    assert not np.array_equal(plain.predict(first, steps=4, seed=1)[:, 1:],
                              np.repeat(first[:, None], 4, axis=1))


def test_residual_training_target_is_the_change():
    wm = WorldModel.from_preset("tiny", seed=0, residual=True, conditioning="none")
    video = torch.zeros(1, 1, 3, 5, 32, 32)
    video[..., 1:, :8, :8] = 1.0  # a square appears after frame 0
    out = wm.training_loss({"video": video}, torch.Generator().manual_seed(0))
    assert torch.isfinite(out["loss"]) and out["loss"] > 0
