"""The action-following check: same first frame, two plans; the predicted motion must match its
own plan's real motion better than the other's. Checked with an oracle, a prompt-blind model,
copy-first-frame, and a tiny world model trained to read its prompts vs one trained without."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vap_ros.errors import ConfigError
from vap_ros.model import WorldModel
from vap_ros.testing.clips import synthetic_clips
from vap_ros.train.evaluate import COPY_FIRST_FRAME
from vap_ros.train.following import (
    FollowSettings,
    evaluate_following,
    find_pairs,
    follow_pair,
    format_following,
)


class Branching(torch.utils.data.Dataset):
    """Synthetic clips sharing their first frame (same background and home pose), each its own
    'bag'; ``raw(i)`` in ClipDataset's layout."""

    source = "commanded"

    def __init__(self, d):
        self.d = d

    def __len__(self):
        return len(self.d["video"])

    def raw(self, i):
        kp = np.zeros(self.d["video"].shape[1:3] + (16, 2), np.float32)
        return {"video": self.d["video"][i], "prompts_commanded": self.d["prompts"][i],
                "actions_commanded": self.d["actions"][i], "keypoints_uv_commanded": kp,
                "meta": {"bag": f"bag{i}"}}


class _Config:
    conditioning = "skeleton"


class Oracle:
    """Returns the real clip whose prompts it is given (a perfect prompt follower)."""

    config = _Config()

    def __init__(self, d):
        self.d = d

    def predict(self, first, prompts=None, **kw):
        i = next(k for k in range(len(self.d["prompts"]))
                 if np.array_equal(self.d["prompts"][k], prompts))
        return self.d["video"][i]


class Blind(Oracle):
    """Ignores the prompt: always predicts clip 0's motion."""

    def predict(self, first, prompts=None, **kw):
        return self.d["video"][0]


@pytest.fixture(scope="module")
def data():
    return synthetic_clips(4, 32, 32, 5, views=1, seed=3, shared_background=True, amplitude=0.8)


def test_oracle_passes_blind_and_copy_do_not(data):
    ds = Branching(data)
    s = FollowSettings(max_real_iou=0.9)
    pairs, info = find_pairs(ds, s)
    assert pairs and info["groups"] == 1  # one shared first frame
    rep = evaluate_following({"oracle": Oracle(data), "blind": Blind(data),
                              COPY_FIRST_FRAME: COPY_FIRST_FRAME}, ds, s, progress=False)
    agg = {k: v["aggregate"] for k, v in rep["models"].items()}
    assert agg["oracle"]["pass_rate"] == 1.0 and agg["oracle"]["own_iou"] == 1.0
    assert agg["blind"]["pass_rate"] == 0.0 and agg["blind"]["follow_rate"] <= 0.5
    assert agg[COPY_FIRST_FRAME]["pass_rate"] == 0.0
    assert "pairs passed" in format_following(rep)


def test_pairs_must_share_the_first_frame(data):
    other = synthetic_clips(1, 32, 32, 5, views=1, seed=8)
    a = {"video": data["video"][0], "prompts": data["prompts"][0], "name": "a"}
    b = {"video": other["video"][0], "prompts": other["prompts"][0], "name": "b"}
    with pytest.raises(ConfigError, match="first frame"):
        follow_pair(Oracle(data), a, b)
    lone = Branching({k: np.concatenate([data[k][:1], other[k]]) for k in data})
    with pytest.raises(ConfigError, match="no branching pair"):
        evaluate_following({"oracle": Oracle(data)}, lone, progress=False)


def _train_tiny(data, conditioning: str, steps: int = 150):
    wm = WorldModel.from_preset("tiny", seed=0, cond_dropout=0.0, conditioning=conditioning,
                                prompt_injection="concat", lora_rank=0, residual=True)
    to = lambda v: torch.from_numpy(v).permute(0, 1, 5, 2, 3, 4).float() / 127.5 - 1.0
    batch = {"video": to(data["video"]), "prompts": to(data["prompts"])}
    opt = torch.optim.AdamW(wm.parameter_groups(3e-3), weight_decay=0.0)
    g = torch.Generator().manual_seed(0)
    for _ in range(steps):
        loss = wm.training_loss(batch, g)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    return wm.eval()


def test_trained_model_follows_its_plans_and_an_image_only_one_cannot(data):
    torch.set_num_threads(1)
    ds = Branching(data)
    s = FollowSettings(steps=4, max_real_iou=0.9)
    models = {"skeleton": _train_tiny(data, "skeleton"), "none": _train_tiny(data, "none")}
    rep = evaluate_following(models, ds, s, progress=False)
    agg = {k: v["aggregate"] for k, v in rep["models"].items()}
    print(format_following(rep))
    assert agg["skeleton"]["pass_rate"] >= 0.8
    assert agg["skeleton"]["own_iou"] > agg["skeleton"]["cross_iou"] + 0.1
    assert agg["none"]["pass_rate"] == 0.0  # one prediction for both plans
