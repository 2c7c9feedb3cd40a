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


def test_residual_scale_sets_the_target_and_the_inverse_at_prediction():
    """residual_scale s: the x0 target is s * (x - x_first); predict divides by s again, so a
    denoiser that outputs the target of a clip reproduces that clip for any s."""
    video = torch.zeros(1, 1, 3, 5, 32, 32)
    video[..., 1:, :8, :8] = 0.5  # a square appears after frame 0 (change 0.5 in [-1, 1])
    first = np.full((1, 32, 32, 3), 128, np.uint8)
    for s in (0.5, 4.0):
        wm = WorldModel.from_preset("tiny", seed=0, residual=True, residual_scale=s,
                                    conditioning="none", cond_dropout=0.0)

        def fake(x, t, *a, _s=s, **k):  # a denoiser that outputs the exact x0 target
            target = torch.zeros(x.shape[0], x.shape[1], 3, 32, 32)
            target[:, 1:, :, :8, :8] = _s * 0.5
            return target

        wm.denoiser.forward = fake
        out = wm.predict(first, steps=3, seed=0)
        # first frame 128 -> 0.0039 in [-1, 1]; + 0.5 -> 191.75 -> 192 in uint8
        assert out[0, 2, 0, 0, 0] == 192 and out[0, 2, 20, 20, 0] == 128
        seen = {}
        wm._target = lambda x0, noise, t, _seen=seen: _seen.setdefault("x0", x0)
        wm.training_loss({"video": video}, torch.Generator().manual_seed(0))
        assert torch.allclose(seen["x0"][0, 1:, :, :8, :8], torch.tensor(s * 0.5))
        assert seen["x0"][0, 0].abs().max() == 0 and seen["x0"][0, :, :, 8:, 8:].abs().max() == 0


def test_residual_deadband_keeps_small_changes_static_and_passes_large_ones():
    """residual_deadband d: a pixel whose predicted change is <= d of the range in every
    channel keeps the first frame's value; larger changes pass unchanged."""
    first = np.full((1, 32, 32, 3), 128, np.uint8)

    def run(deadband):
        wm = WorldModel.from_preset("tiny", seed=0, residual=True, residual_deadband=deadband,
                                    conditioning="none", cond_dropout=0.0)

        def fake(x, t, *a, **k):  # change (in [-1, 1]): grain 0.02 everywhere, a square 0.5
            target = torch.full((x.shape[0], x.shape[1], 3, 32, 32), 0.5 * 0.02)
            target[:, 1:, :, :8, :8] = 0.5 * 0.5
            target[:, 1:, 1, 20:, 20:] = 0.5 * 0.1  # only the green channel changes
            return target

        wm.denoiser.forward = fake
        return wm.predict(first, steps=2, seed=0)

    plain, snapped = run(0.0), run(0.03)  # 0.03 of the range = 0.06 in [-1, 1]
    assert plain[0, 2, 12, 12, 0] == 131 and snapped[0, 2, 12, 12, 0] == 128  # grain removed
    assert plain[0, 2, 0, 0, 0] == snapped[0, 2, 0, 0, 0] == 192  # the square passes
    # a pixel passes whole: its green change is large, so its red/blue grain stays too
    assert tuple(snapped[0, 2, 25, 25]) == (131, 141, 131) == tuple(plain[0, 2, 25, 25])


def test_residual_deadband_needs_a_pixel_residual_model():
    import pytest

    from vap_ros.errors import ConfigError

    with pytest.raises(ConfigError, match="residual_deadband"):
        WorldModel.from_preset("tiny", seed=0, residual=False, residual_deadband=0.02)
    with pytest.raises(ConfigError, match="residual_deadband"):
        WorldModel.from_preset("tiny", seed=0, residual=True, residual_deadband=0.7)


def test_residual_gate_keeps_change_only_where_the_prompted_arm_has_been():
    """residual_gate_px r: the predicted change survives only within r px of where the prompt
    has moved by that frame (cumulative); a hold-still prompt gives the first frame exactly."""
    first = np.full((1, 32, 32, 3), 128, np.uint8)

    def run(gate, prompts):
        wm = WorldModel.from_preset("tiny", seed=0, residual=True, residual_gate_px=gate,
                                    cond_dropout=0.0)

        def fake(x, t, *a, **k):  # the model "predicts" a change of 0.5 everywhere
            return torch.full((x.shape[0], x.shape[1], 3, 32, 32), 0.5 * 0.5)

        wm.denoiser.forward = fake
        return wm.predict(first, prompts, steps=2, seed=0)

    still = np.zeros((1, 5, 32, 32, 3), np.uint8)
    still[:, :, 4:6, 4:6] = 255  # the arm drawn where it is, in every frame
    held = np.broadcast_to(first[:, None], (1, 5, 32, 32, 3))
    np.testing.assert_array_equal(run(2, still), held)
    assert (run(0, still)[0, 1:] == 192).all()  # off: the change passes everywhere

    moving = still.copy()
    moving[:, 2:, 20:22, 20:22] = 255  # from frame 2 on, part of the arm is also at (20, 20)
    out = run(2, moving)
    assert (out[0, 1] == 128).all()  # frame 1: the prompt has not moved yet
    assert (out[0, 2:, 18:24, 18:24] == 192).all()  # within 2 px of the move, frames 2..4
    assert (out[0, 2:, 25:, :] == 128).all() and (out[0, 2:, :17, :] == 128).all()  # far away


def test_residual_gate_needs_a_pixel_residual_skeleton_model():
    import pytest

    from vap_ros.errors import ConfigError

    with pytest.raises(ConfigError, match="residual_gate_px"):
        WorldModel.from_preset("tiny", seed=0, residual=True, residual_gate_px=4,
                               conditioning="none")
    with pytest.raises(ConfigError, match="residual_gate_px"):
        WorldModel.from_preset("tiny", seed=0, residual=False, residual_gate_px=4)
    with pytest.raises(ConfigError, match="residual_gate_px"):
        WorldModel.from_preset("tiny", seed=0, residual=True, residual_gate_px=-1)
