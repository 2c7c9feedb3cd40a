"""Fixtures for the simulated rig: small scenes and one shared short recording."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def small_cfg():
    from vap_ros.sim import SceneConfig

    # 64 px, no anti-aliasing: fast; the calibration tests build their own 256 px scenes.
    return SceneConfig(width=64, height=48, msaa_samples=0, objects=(2, 3))


@pytest.fixture(scope="session")
def recorded(tmp_path_factory, small_cfg):
    """Two reach episodes with seed 7 (randomised cameras), recorded once per session."""
    from vap_ros.sim import record_episodes

    out = tmp_path_factory.mktemp("sim_rec") / "run"
    cfg = small_cfg.with_options(randomize_cameras=True)
    summary = record_episodes(cfg, out, episodes=2, seed=7, tasks=("reach", "poke"))
    return out, summary, cfg


def random_configurations(robot, n: int, seed: int) -> np.ndarray:
    """Arm configurations near the workspace (random, inside the limits)."""
    from vap_ros.sim import HOME_Q

    rng = np.random.default_rng(seed)
    q = HOME_Q + rng.uniform(-0.5, 0.5, (n, HOME_Q.size))
    return np.clip(q, robot.lower_limits + 0.05, robot.upper_limits - 0.05)
