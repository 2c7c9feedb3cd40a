"""A real learning test: a tiny model overfits a few synthetic moving-arm clips until its
sampled predictions beat copying the first frame clearly, and it moves the arm (the error on
the pixels the arm sweeps falls well below the copy baseline's)."""

from __future__ import annotations

import numpy as np
import torch

from vap_ros.model import WorldModel
from vap_ros.model.synthetic import synthetic_clips

from .conftest import to_batch


def test_tiny_overfits_and_beats_copy_first_frame():
    wm = WorldModel.from_preset("tiny", seed=0, cond_dropout=0.0)
    d = synthetic_clips(2, 32, 32, 5, views=1, seed=1)
    batch = {"video": to_batch(d["video"]), "prompts": to_batch(d["prompts"])}
    opt = torch.optim.AdamW(wm.parameter_groups(3e-3), weight_decay=0.0)
    g = torch.Generator().manual_seed(0)
    for _ in range(80):
        loss = wm.training_loss(batch, g)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    wm.eval()
    model_se, copy_se, moving = [], [], []
    for i in range(2):
        truth = d["video"][i].astype(np.float64)  # (V, T, H, W, 3)
        pred = wm.predict(d["video"][i, :, 0], d["prompts"][i], steps=4, seed=0)
        model_se.append((pred[:, 1:] - truth[:, 1:]) ** 2)
        copy_se.append((truth[:, :1] - truth[:, 1:]) ** 2)
        moving.append((truth[:, 1:] != truth[:, :1]).any(-1))
    model_se, copy_se, moving = map(np.concatenate, (model_se, copy_se, moving))
    ratio = model_se.mean() / copy_se.mean()
    arm_ratio = model_se[moving].mean() / copy_se[moving].mean()
    print(f"model/copy MSE {ratio:.3f}, on moving pixels {arm_ratio:.3f}")
    assert ratio < 0.5
    assert arm_ratio < 0.4
