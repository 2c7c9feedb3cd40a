"""Bad inputs get one clear ModelError naming what was wrong and what was expected."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vap_ros.errors import ModelError
from vap_ros.model import WorldModel


@pytest.fixture(scope="module")
def wm():
    return WorldModel.from_preset("tiny", seed=0)


@pytest.fixture(scope="module")
def wm_action():
    return WorldModel.from_preset("tiny", seed=0, conditioning="raw_action")


def _ok():
    return np.zeros((2, 32, 32, 3), np.uint8), np.zeros((2, 5, 32, 32, 3), np.uint8)


@pytest.mark.parametrize("make, words", [
    (lambda f, p: (f.astype(np.float32), p), "first_frames dtype float32: expected uint8"),
    (lambda f, p: (f[..., :1], p), r"first_frames shape \(2, 32, 32, 1\)"),
    (lambda f, p: (np.zeros((2, 48, 32, 3), np.uint8), p), "48x32 .* expects 32x32"),
    (lambda f, p: (f.tolist(), p), "numpy uint8 array"),
    (lambda f, p: (f, p[:1]), "prompts have 1 views but first_frames have 2"),
    (lambda f, p: (f, p[:, :4]), "prompts have 4 frames; .* predicts 5 frames"),
    (lambda f, p: (f, np.zeros((2, 5, 16, 16, 3), np.uint8)), "prompt frames are 16x16"),
    (lambda f, p: (f, p[0]), r"prompts shape \(5, 32, 32, 3\): expected \(V, T, H, W, 3\)"),
    (lambda f, p: (f, None), "prompts must be a numpy uint8 array"),
])
def test_predict_rejects(wm, make, words):
    f, p = make(*_ok())
    with pytest.raises(ModelError, match=words):
        wm.predict(f, p, steps=1)


def test_predict_rejects_bad_steps(wm):
    with pytest.raises(ModelError, match="steps=5000"):
        wm.predict(*_ok(), steps=5000)


@pytest.mark.parametrize("actions, words", [
    (None, "needs actions"),
    (np.zeros((4, 8)), r"actions shape \(4, 8\): expected \(5, 8\)"),
    (np.full((5, 8), np.nan), "NaN"),
])
def test_raw_action_rejects(wm_action, actions, words):
    with pytest.raises(ModelError, match=words):
        wm_action.predict(_ok()[0], actions=actions, steps=1)


def test_guidance_needs_a_condition():
    wm = WorldModel.from_preset("tiny", seed=0, conditioning="none")
    with pytest.raises(ModelError, match="guidance_scale"):
        wm.predict(_ok()[0], steps=1, guidance_scale=3.0)


def _batch(**changes):
    b = {"video": torch.zeros(1, 2, 3, 5, 32, 32), "prompts": torch.zeros(1, 2, 3, 5, 32, 32),
         "actions": torch.zeros(1, 5, 8), "loss_weight": torch.ones(1, 2, 1, 5, 32, 32)}
    b.update(changes)
    return b


@pytest.mark.parametrize("changes, words", [
    ({"video": torch.zeros(1, 3, 5, 32, 32)}, r"batch\['video'\] shape .* \(B, V, 3, T, H, W\)"),
    ({"video": torch.zeros(1, 2, 3, 5, 16, 16)}, r"expected \(B, V, 3, 5, 32, 32\)"),
    ({"prompts": torch.zeros(1, 1, 3, 5, 32, 32)}, "does not match batch\\['video'\\]"),
    ({"prompts": None}, r"batch\['prompts'\] must be a float tensor"),
    ({"video": torch.zeros(1, 2, 3, 5, 32, 32, dtype=torch.uint8)}, "expected a float tensor"),
    ({"loss_weight": torch.ones(1, 2, 5, 32, 32)}, r"batch\['loss_weight'\]"),
])
def test_training_batch_rejects(wm, changes, words):
    with pytest.raises(ModelError, match=words):
        wm.training_loss(_batch(**changes))


def test_training_batch_actions_checked(wm_action):
    with pytest.raises(ModelError, match=r"batch\['actions'\] shape \(1, 5, 7\)"):
        wm_action.training_loss(_batch(actions=torch.zeros(1, 5, 7)))
