"""Small simulated recordings for the calibration tests (recorded once per session)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vap_ros.camera import Camera


@pytest.fixture(scope="session")
def rig_cfg():
    from vap_ros.sim import CameraSpec, SceneConfig

    # One camera close enough that the arm spans ~half of a 128 px image.
    side = CameraSpec("side", eye=(1.05, 0.75, 0.75), target=(0.3, 0.0, 0.3), fov_y_deg=55.0)
    return SceneConfig(width=128, height=128, cameras=(side,), objects=(2, 2))


@pytest.fixture(scope="session")
def sim_bag(tmp_path_factory, rig_cfg):
    """A pick-and-place episode (~11 s, ~110 images of camera ``side``)."""
    from vap_ros.sim import record_episodes

    out = tmp_path_factory.mktemp("calib_sim") / "run"
    record_episodes(rig_cfg, out, episodes=1, seed=5, tasks=("pick_place",))
    return out / "episode_0000"


@pytest.fixture(scope="session")
def wrist_bag(tmp_path_factory, rig_cfg):
    """A push episode with a wrist camera beside the fixed one."""
    from vap_ros.sim import record_episodes

    out = tmp_path_factory.mktemp("calib_wrist") / "run"
    record_episodes(rig_cfg.with_options(wrist_camera=True), out, episodes=1, seed=6,
                    tasks=("push",))
    return out / "episode_0000"


@pytest.fixture(scope="session")
def still_bag(tmp_path_factory, rig_cfg):
    """The arm holding still for 3 s (a plan that does not move)."""
    from vap_ros.robot import JointTrajectory
    from vap_ros.sim import HOME_Q, SimRig, record_episode

    out = tmp_path_factory.mktemp("calib_still")
    q = np.repeat(HOME_Q[None], 2, axis=0)
    plan = JointTrajectory(tuple(f"panda_joint{i}" for i in range(1, 8)), q,
                           np.array([0, 3_000_000_000], np.int64), np.full(2, 0.06))
    with SimRig.from_config(rig_cfg, np.random.default_rng(2)) as rig:
        rig.reset(HOME_Q, 0.06)
        record_episode(rig, plan, out / "still", metadata={"task": "hold still"})
    return out / "still"


def bag_camera(bag, name: str) -> Camera:
    """The true calibration of a simulated bag's camera (from its metadata)."""
    import yaml

    from vap_ros.camera import camera_from_dict

    meta = yaml.safe_load((bag / "metadata.yaml").read_text())
    ep = json.loads(meta["rosbag2_bagfile_information"]["custom_data"]["vap_ros.episode"])
    for c in ep["layout"]["cameras"]:
        if c["camera_name"] == name:
            return camera_from_dict(c)
    raise KeyError(name)


def refine_cli(bag, tmp_path, *flags: str, restarts: int = 0) -> tuple[int, str, Camera]:
    """`calibrate refine` of camera ``side`` from its true calibration 2 cm / 2 deg off
    (24 frames, ``restarts``, JSON to tmp_path/r.json, YAML to tmp_path/side.yaml):
    (exit code, printed text, the true camera)."""
    import contextlib
    import io

    from vap_ros.calib.experiment import perturb_camera
    from vap_ros.camera import save_calibration
    from vap_ros.cli import main

    truth = bag_camera(bag, "side")
    start = perturb_camera(truth, np.random.default_rng(8), cm=(2, 2), deg=(2, 2))
    init = save_calibration(start, tmp_path / "start.yaml")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["calibrate", "refine", str(bag), "--camera", "side", "--out",
                   str(tmp_path / "side.yaml"), "--initial", str(init), "--frames", "24",
                   "--no-progress", "--restarts", str(restarts), "--json",
                   str(tmp_path / "r.json"), *flags])
    return rc, buf.getvalue(), truth
