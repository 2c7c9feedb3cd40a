"""The two-stage recipe: a video prior without actions, then ControlNet + LoRA on it, frozen;
and the interaction-region weighting reaching the loss."""

from __future__ import annotations

import pytest
import torch
from synthetic import SyntheticClips
from train_script import config

from vap_ros.errors import ConfigError


def test_prior_then_control(tmp_path):
    from vap_ros.model import WorldModel
    from vap_ros.train.trainer import Trainer

    torch.set_num_threads(1)
    prior_run = tmp_path / "prior"
    t1 = Trainer(config(2, 2, **{"model.stage": "prior"}), SyntheticClips(4), prior_run)
    assert t1.model.config.conditioning == "none" and t1.model.config.lora_rank == 0
    t1.fit()
    prior_dir = prior_run / "checkpoints" / "000002" / "model"
    prior = WorldModel.from_pretrained(prior_dir)

    cfg = config(2, 2, **{"model.stage": "control", "model.pretrained": str(prior_dir),
                          "model.overrides": {"lora_rank": 2}})
    t2 = Trainer(cfg, SyntheticClips(4), tmp_path / "control")
    wm = t2.model
    assert wm.config.conditioning == "skeleton" and not wm.config.train_base
    groups = {g["name"] for g in wm.parameter_groups()}
    assert groups == {"controlnet", "lora"}
    frozen_before = {n: p.detach().clone() for n, p in wm.named_parameters()
                     if not p.requires_grad}
    # the frozen base is the prior's transformer, unchanged
    prior_sd = prior.transformer.state_dict()
    for n, p in wm.transformer.state_dict().items():
        if "lora_" not in n and "base_layer" not in n and n in prior_sd:
            assert torch.equal(p, prior_sd[n]), n
    t2.fit()
    for n, p in wm.named_parameters():
        if not p.requires_grad:
            assert torch.equal(p, frozen_before[n]), f"frozen {n} changed"
    trained = [n for n, p in wm.named_parameters() if p.requires_grad]
    assert any(n.startswith("denoiser.controlnet") for n in trained)
    assert any("lora_" in n for n in trained)
    # the stage-2 checkpoint loads back as a complete skeleton-conditioned model
    wm2 = WorldModel.from_pretrained(tmp_path / "control" / "checkpoints" / "000002" / "model")
    assert wm2.config.conditioning == "skeleton"


def test_control_stage_rejects_a_prior_with_actions(tmp_path, straight_run):
    from vap_ros.train.trainer import Trainer

    cfg = config(2, 2, **{"model.stage": "control",
                          "model.pretrained": str(straight_run / "checkpoints" / "000006" /
                                                  "model")})
    with pytest.raises(ConfigError, match="stage-1 prior without actions"):
        Trainer(cfg, SyntheticClips(2), tmp_path / "c")


def test_interaction_weight_reaches_the_batch(tmp_path):
    from vap_ros.train.trainer import Trainer

    t = Trainer(config(1, 1, **{"loss.interaction_factor": 4.0,
                                "loss.interaction_shape": "disc"}), SyntheticClips(2),
                tmp_path / "w")
    from vap_ros.data import collate_clips

    batch = collate_clips([t.dataset[0], t.dataset[1]])
    w = t._loss_weight(batch)
    assert w.shape == (2, 1, 1, 5, 32, 32)
    assert w.max() == 4.0 and w.min() == 1.0
    # the weight sits on the gripper: at the gripper keypoint of every frame it is the maximum
    kp = batch["keypoints_uv"][0, 0, :, 7]  # (T, 2) u, v
    for f in range(5):
        u, v = (int(round(float(x))) for x in kp[f])
        assert w[0, 0, 0, f, v, u] == 4.0
    t_off = Trainer(config(1, 1, **{"loss.interaction_factor": 1.0}), SyntheticClips(2),
                    tmp_path / "off")
    assert t_off._loss_weight(batch) is None


def test_motion_weight_covers_the_old_and_the_new_place(tmp_path):
    """loss.motion_factor weights the pixels that differ from the first frame: where the
    moving square was (it left) and where it is now; static background keeps weight 1."""
    from vap_ros.data import collate_clips
    from vap_ros.train.interaction import motion_region
    from vap_ros.train.trainer import Trainer

    t = Trainer(config(1, 1, **{"loss.interaction_factor": 1.0, "loss.motion_factor": 5.0}),
                SyntheticClips(2), tmp_path / "m")
    batch = collate_clips([t.dataset[0], t.dataset[1]])
    w = t._loss_weight(batch)
    assert w.shape == (2, 1, 1, 5, 32, 32) and set(w.unique().tolist()) == {1.0, 5.0}
    region = motion_region(batch["video"], threshold=0.1, dilate=0)[:, :, 0]  # (B, V, T, H, W)
    assert not region[:, :, 0].any()  # frame 0 never differs from itself
    first = batch["video"][0, 0, :, 0]  # (3, H, W) the square at its start
    last = batch["video"][0, 0, :, -1]
    changed = (last - first).abs().amax(0) > 0.2
    assert changed.any() and bool(region[0, 0, -1][changed].all())
    assert (w[0, 0, 0, -1][changed] == 5.0).all()
    assert (w[0, 0, 0, -1][~region[0, 0, -1].bool() & ~changed] >= 1.0).all()
    assert w[0, 0, 0, 0].max() == 1.0
