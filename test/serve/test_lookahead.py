"""The ROS-free core of a lookahead rollout: prompt timing, plan sampling, prompts identical to
the training renderer's (also when repeated poses are rendered once), offsets, model checks,
whole plans (``max_rollout_s``)."""

import numpy as np
import pytest

from vap_ros.errors import ModelError
from vap_ros.model.config import load_preset
from vap_ros.prompts import SkeletonRenderer
from vap_ros.robot import JointTrajectory
from vap_ros.serve import Lookahead, RolloutInputs, prompt_stamps
from vap_ros.testing import PANDA_HOME as HOME
from vap_ros.testing import default_cameras

ARM = tuple(f"panda_joint{i}" for i in range(1, 8))


def camera(name, size):
    return default_cameras(size, (name,))[0]


class Instant:
    def __init__(self, config, bad=False):
        self.config, self.bad = config, bad
        self.calls: list[tuple[str, int]] = []

    def predict(self, first, prompts, **kw):
        self.calls.append(("predict", prompts.shape[1]))
        if self.bad:
            return prompts[:, :-1]
        return np.repeat(first[:, None], prompts.shape[1], axis=1)

    def predict_long(self, first, prompts, **kw):
        self.calls.append(("predict_long", prompts.shape[1]))
        return np.repeat(first[:, None], prompts.shape[1], axis=1)


@pytest.fixture(scope="module")
def core():
    return Lookahead(SkeletonRenderer.from_preset("panda"), Instant(load_preset("small")))


def plan(start_ns=0):
    q = HOME + np.outer(np.linspace(0, 1, 4), np.full(7, 0.3))
    return JointTrajectory(ARM, q, start_ns + np.arange(4) * 200_000_000,
                           np.array([0.01, 0.02, 0.03, 0.04]))


def test_prompt_times_follow_the_newest_image():
    np.testing.assert_array_equal(prompt_stamps(10, 3, 8.0), [10, 125_000_010, 250_000_010])


@pytest.mark.parametrize("start_ns", [0, -400_000_000, 300_000_000])
def test_prompts_equal_the_renderer_at_the_sampled_poses(core, start_ns):
    cams = [camera("front", (48, 64)), camera("left", (48, 64))]
    images = [np.full((48, 64, 3), 90, np.uint8)] * 2
    inputs = RolloutInputs(cams, images, [0, -50_000_000], plan(start_ns))
    first, prompts, q, t_ref = core.prepare(inputs)
    assert t_ref == 0 and first.shape == (2, 64, 64, 3)
    s = plan(start_ns).sample(prompt_stamps(0, 9, 8.0))
    np.testing.assert_allclose(q, s.positions)
    scaled = [c.scaled(64, 64) for c in cams]
    np.testing.assert_array_equal(prompts, core.renderer.render(s.positions, scaled,
                                                                s.gripper_width_m))
    result = core.run(inputs)
    assert result.offsets_ns.shape == (2, 9)
    np.testing.assert_array_equal(result.offsets_ns[1] - result.offsets_ns[0],
                                  np.full(9, 50_000_000))  # the older image's offsets


def test_hold_still_and_errors(core):
    cams = [camera("front", (64, 64))]
    images = [np.zeros((64, 64, 3), np.uint8)]
    _first, prompts, q, _ = core.prepare(RolloutInputs(cams, images, [5], None, HOME, 0.04))
    assert (q == HOME).all() and all(np.array_equal(prompts[0, 0], p) for p in prompts[0])
    with pytest.raises(ModelError, match="no plan and no current joint state"):
        core.prepare(RolloutInputs(cams, images, [5]))
    bad = Lookahead(core.renderer, Instant(load_preset("tiny"), bad=True))
    with pytest.raises(ModelError, match="world model returned"):
        bad.run(RolloutInputs(cams, images, [5], None, HOME))


def test_max_rollout_s_predicts_the_whole_plan():
    """With ``max_rollout_s`` > 0 a plan longer than one clip is rendered from the image's time
    to its end (at most max_rollout_s) and predicted with ``predict_long``; else one clip."""
    model = Instant(load_preset("small"))  # 9 frames at 8 fps: one clip is 1 s
    core = Lookahead(SkeletonRenderer.from_preset("panda"), model)
    cams, images = [camera("front", (64, 64))], [np.full((64, 64, 3), 90, np.uint8)]
    q = HOME + np.outer(np.linspace(0, 1, 11), np.full(7, 0.3))
    long_plan = JointTrajectory(ARM, q, np.arange(11) * 250_000_000)  # 2.5 s from t_ref = 0
    inputs = RolloutInputs(cams, images, [0], long_plan)
    one = core.run(inputs)
    assert one.frames.shape[1] == 9 and model.calls[-1] == ("predict", 9)
    whole = core.run(inputs, max_rollout_s=10.0)
    assert model.calls[-1] == ("predict_long", 21)  # 0 .. 2.5 s at 8 fps
    assert whole.frames.shape == whole.prompts.shape == (1, 21, 64, 64, 3)
    np.testing.assert_array_equal(whole.offsets_ns[0], prompt_stamps(0, 21, 8.0))
    s = long_plan.sample(prompt_stamps(0, 21, 8.0))
    np.testing.assert_allclose(whole.prompt_q, s.positions)
    np.testing.assert_array_equal(whole.prompts, core.renderer.render(s.positions, cams, None))
    np.testing.assert_array_equal(whole.prompts[:, :9], one.prompts)
    assert not np.array_equal(whole.prompts[:, 9], whole.prompts[:, 20])  # still moving
    assert core.run(inputs, max_rollout_s=1.6).frames.shape[1] == 13  # capped: 12 / 8 s
    # from a later image: 2 s left of the plan
    assert core.rollout_frames(500_000_000, 2_500_000_000, 10.0) == 17
    # a plan that ends within one clip, and holding still, stay one clip
    short = RolloutInputs(cams, images, [0], plan())
    assert core.run(short, max_rollout_s=10.0).frames.shape[1] == 9
    still = RolloutInputs(cams, images, [0], None, HOME)
    assert core.run(still, max_rollout_s=10.0).frames.shape[1] == 9
    assert model.calls[-2:] == [("predict", 9), ("predict", 9)]
    assert [core.model_calls(n) for n in (9, 10, 17, 21)] == [1, 2, 2, 3]


def test_prompts_of_the_models_prompt_type_or_one_clear_error():
    from vap_ros.errors import ConfigError
    from vap_ros.prompts import PromptRenderer

    depth_model = Instant(load_preset("tiny", prompt_type="depth"))
    skeleton = SkeletonRenderer.from_preset("panda")
    with pytest.raises(ConfigError, match="the lookahead's prompt renderer has 'skeleton' "
                                          "prompts but the model takes 'depth' prompts"):
        Lookahead(skeleton, depth_model)
    core = Lookahead(PromptRenderer(skeleton.robot, skeleton.spec, "depth"), depth_model)
    cams = [camera("front", (32, 32))]
    inputs = RolloutInputs(cams, [np.zeros((32, 32, 3), np.uint8)], [0], plan())
    _, prompts, q, _ = core.prepare(inputs)
    np.testing.assert_array_equal(prompts, core.renderer.render(q, cams, plan().sample(
        prompt_stamps(0, 5, 8.0)).gripper_width_m))
    assert (prompts[..., 0] == prompts[..., 1]).all() and prompts.any()  # grey depth
    core.renderer = skeleton  # a node swapping the renderer is checked before the next rollout
    with pytest.raises(ConfigError, match="prompt type mismatch"):
        core.prepare(inputs)
    # a model without prompts takes any renderer
    Lookahead(skeleton, Instant(load_preset("tiny", conditioning="raw_action",
                                            prompt_type="depth")))
