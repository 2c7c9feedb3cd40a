"""The ROS-free core of a lookahead rollout: prompt timing, plan sampling, prompts identical to
the training renderer's (also when repeated poses are rendered once), offsets, model checks."""

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

    def predict(self, first, prompts, **kw):
        if self.bad:
            return prompts[:, :-1]
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
