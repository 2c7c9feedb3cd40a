"""Joint video + action-image generation (``generate_actions: action_images``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vap_ros.errors import ConfigError, ModelError
from vap_ros.model import WorldModel
from vap_ros.model.backbone import build_transformer, widen_proj_out
from vap_ros.model.config import load_preset

from .conftest import to_batch

JOINT = {"conditioning": "none", "generate_actions": "action_images"}


@pytest.fixture(scope="module")
def wm():
    return WorldModel.from_preset("tiny", seed=0, **JOINT)


def _u8(shape, seed):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def test_layout_and_default_unchanged(wm):
    # noisy RGB + actions (6), first frame, current action image, goal, video (3 each)
    assert wm.transformer.config.in_channels == 18
    assert wm.transformer.config.out_channels == 6
    plain = WorldModel.from_preset("tiny", seed=0)
    assert plain.config.generate_actions == "none"
    assert (plain.transformer.config.in_channels, plain.transformer.config.out_channels) == (6, 3)


def test_config_is_validated():
    with pytest.raises(ConfigError, match="conditioning"):
        load_preset("tiny", generate_actions="action_images")  # skeleton prompt + actions
    with pytest.raises(ConfigError, match="generate_actions"):
        load_preset("tiny", conditioning="none", generate_actions="joint_torques")
    with pytest.raises(ConfigError, match="action_label_fraction"):
        load_preset("tiny", action_label_fraction=1.5, **JOINT)
    with pytest.raises(ConfigError, match="action_loss_weight"):
        load_preset("tiny", action_loss_weight=0.0, **JOINT)


def test_predict_joint_shapes_determinism_and_given_frames(wm):
    first, state, goal = _u8((2, 32, 32, 3), 0), _u8((2, 32, 32, 3), 1), _u8((2, 32, 32, 3), 2)
    v, a = wm.predict_joint(first, state, goal, steps=2, seed=3)
    assert v.shape == a.shape == (2, 5, 32, 32, 3) and v.dtype == a.dtype == np.uint8
    np.testing.assert_array_equal(v[:, 0], first)
    np.testing.assert_array_equal(a[:, 0], state)
    v2, a2 = wm.predict_joint(first, state, goal, steps=2, seed=3)
    np.testing.assert_array_equal(v, v2)
    np.testing.assert_array_equal(a, a2)
    _, a3 = wm.predict_joint(first, state, goal, steps=2, seed=4)
    assert not np.array_equal(a, a3)
    _, a4 = wm.predict_joint(first, state, None, steps=2, seed=3)  # the goal reaches the output
    assert not np.array_equal(a, a4)
    _, a5 = wm.predict_joint(first, state, goal, steps=2, seed=3, guidance_scale=2.0)
    assert a5.shape == a.shape and not np.array_equal(a, a5)


def test_label_depends_on_the_video(wm):
    video = _u8((2, 5, 32, 32, 3), 5)
    a = wm.label(video, steps=2, seed=0)
    assert a.shape == (2, 5, 32, 32, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, wm.label(video, steps=2, seed=0))
    other = video.copy()
    other[:, 3] = 255 - other[:, 3]
    assert not np.array_equal(a, wm.label(other, steps=2, seed=0))


def test_bad_inputs_get_one_clear_error(wm):
    first = _u8((2, 32, 32, 3), 0)
    with pytest.raises(ModelError, match="predict_joint"):
        wm.predict(first)
    with pytest.raises(ModelError, match=r"action_state.*16x16.*32x32"):
        wm.predict_joint(first, _u8((2, 16, 16, 3), 0))
    with pytest.raises(ModelError, match="goal have 1 views but first_frames have 2"):
        wm.predict_joint(first, goal=_u8((1, 32, 32, 3), 0))
    with pytest.raises(ModelError, match="guidance"):
        wm.predict_joint(first, guidance_scale=2.0)
    with pytest.raises(ModelError, match=r"4 frames.*takes 5"):
        wm.label(_u8((2, 4, 32, 32, 3), 0))
    with pytest.raises(ModelError, match="does not generate action images"):
        WorldModel.from_preset("tiny", seed=0).predict_joint(first)
    with pytest.raises(ModelError, match="joint_state is an input of"):
        wm.predict_joint(first, joint_state=np.zeros(8, np.float32))
    video = torch.zeros(1, 2, 3, 5, 32, 32)
    with pytest.raises(ModelError, match="action_images"):
        wm.training_loss({"video": video})
    with pytest.raises(ModelError, match=r"goal.*\(1, 2, 3, 1, 32, 32\)"):
        wm.training_loss({"video": video, "action_images": video,
                          "goal": torch.zeros(1, 2, 3, 32, 32)})


def test_labelling_samples_have_no_rgb_loss():
    """action_label_fraction 1: only the action channels are scored, so the RGB target (the
    video's own future frames) does not change the loss once the video condition is fixed."""
    wm = WorldModel.from_preset("tiny", seed=0, action_label_fraction=1.0, **JOINT)
    video = torch.rand(2, 1, 3, 5, 32, 32) * 2 - 1
    acts = torch.rand(2, 1, 3, 5, 32, 32) * 2 - 1
    with torch.no_grad():
        a = wm.training_loss({"video": video, "action_images": acts},
                             torch.Generator().manual_seed(0))
        b = wm.training_loss({"video": video, "action_images": -acts},
                             torch.Generator().manual_seed(0))
    assert not torch.isclose(a["loss"], b["loss"])
    assert torch.isclose(a["loss"], a["mse_actions"], rtol=1e-5)  # loss == action MSE


def test_widen_proj_out_keeps_the_old_channels():
    cfg = load_preset("tiny", conditioning="none")
    t = build_transformer(cfg)
    x = torch.randn(1, 5, 6, 32, 32)
    text = torch.zeros(1, 1, 16)
    ts = torch.tensor([500])
    with torch.no_grad():
        before = t(hidden_states=x, encoder_hidden_states=text, timestep=ts, return_dict=False)[0]
        assert widen_proj_out(t, 6) and not widen_proj_out(t, 6)
        after = t(hidden_states=x, encoder_hidden_states=text, timestep=ts, return_dict=False)[0]
    assert after.shape[2] == 6
    torch.testing.assert_close(after[:, :, :3], before)
    assert torch.count_nonzero(after[:, :, 3:]) == 0  # new channels start at zero


def test_save_load_round_trip(wm, tmp_path):
    wm.save_pretrained(tmp_path / "m")
    back = WorldModel.from_pretrained(tmp_path / "m")
    assert back.config.generate_actions == "action_images"
    first = _u8((1, 32, 32, 3), 0)
    for x, y in zip(wm.predict_joint(first, steps=2), back.predict_joint(first, steps=2)):
        np.testing.assert_array_equal(x, y)


def test_tiny_overfits_the_action_channels():
    """Labelling mode learns a fixed target: two clips with the same first frame and different
    motions, their action images from FK through the codec. After training, each clip's
    labelled action images are far closer to its own than to the other clip's (or to their
    mean, what a model that ignores the video would aim for), and they decode to end-effector
    positions near the true ones. Measured (one loaded thread, ~35 s): MSE own 160, mean 490,
    other 1814; decoded position errors 7-35 mm where the two clips are 340-525 mm apart."""
    from vap_ros.prompts import ActionImageCodec
    from vap_ros.robot import RobotModel
    from vap_ros.testing.clips import _cameras, synthetic_clips

    frames = 3
    d = synthetic_clips(2, 32, 32, frames, views=2, seed=1, shared_background=True)
    robot = RobotModel.from_preset("panda")
    cams = _cameras(2, 32, 32)
    codec = ActionImageCodec(sigma_frac=0.1)
    poses = [robot.tcp_poses(a[:, :7], a[:, 7]) for a in d["actions"]]
    acts = np.stack([codec.encode(p, a[:, 7] > 0.02, cams) for p, a in zip(poses, d["actions"])])
    wm = WorldModel.from_preset("tiny", seed=0, action_label_fraction=1.0, cond_dropout=0.0,
                                num_frames=frames, transformer={"sample_frames": frames}, **JOINT)
    batch = {"video": to_batch(d["video"]), "action_images": to_batch(acts)}
    opt = torch.optim.AdamW(wm.parameter_groups(2e-3), weight_decay=0.0)
    g = torch.Generator().manual_seed(0)
    for _ in range(600):
        loss = wm.training_loss(batch, g)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    wm.eval()
    pred = np.stack([wm.label(d["video"][i], steps=4, seed=0) for i in range(2)])
    truth = acts.astype(float)
    own = ((pred - truth) ** 2).mean()
    other = ((pred - truth[::-1]) ** 2).mean()
    mean = ((truth.mean(0, keepdims=True) - truth) ** 2).mean()
    print(f"MSE own {own:.1f} mean {mean:.1f} other {other:.1f}")
    assert own < 0.5 * mean and own < 0.2 * other
    for i in range(2):
        got = codec.decode(pred[i], cams).T_base_ee[1:, :3, 3]
        err = np.linalg.norm(got - poses[i][1:, :3, 3], axis=1)
        apart = np.linalg.norm(poses[1 - i][1:, :3, 3] - poses[i][1:, :3, 3], axis=1)
        print("position error mm", np.round(err * 1e3, 1), "clips apart", np.round(apart * 1e3))
        assert np.all(err < 0.08) and np.all(apart > 0.3)
