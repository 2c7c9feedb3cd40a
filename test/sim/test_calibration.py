"""Calibration from MuJoCo: projected FK keypoints land on the rendered markers (< 0.5 px)."""

from __future__ import annotations

import numpy as np
import pytest

from vap_ros.robot import SkeletonSpec

from .conftest import random_configurations

pytestmark = pytest.mark.mujoco


def _errors(rig, q_list, widths, cameras=None, min_radius_px=0.0):
    """Pixel distance between projected pinocchio FK keypoints and rendered marker centroids,
    for every marker whose disc lies wholly inside the image."""
    spec = SkeletonSpec.from_preset("panda")
    names = [n for n, _ in rig.scene.markers]
    idx = [spec.index(n) for n in names]
    r = rig.scene.config.marker_radius_m
    errs = []
    for q, w in zip(q_list, widths):
        rig.reset(q, w)
        kp = spec.keypoints(rig.robot, rig.arm_q[None], rig.gripper_width_m)[0, idx]
        for cam in rig.cameras():
            if cameras and cam.name not in cameras:
                continue
            proj = cam.project(kp)
            rendered = rig.marker_centroids(cam.name)
            for k, name in enumerate(names):
                rad = cam.K[0, 0] * r / proj.depth[k]  # marker radius in pixels
                u, v = proj.uv[k]
                inside = (u - 2 * rad > 0 and v - 2 * rad > 0 and u + 2 * rad < cam.width - 1
                          and v + 2 * rad < cam.height - 1)
                if not inside or rad < min_radius_px:
                    continue
                errs.append(float(np.linalg.norm(proj.uv[k] - rendered[name])))
    return np.array(errs)


@pytest.mark.parametrize("randomize", [False, True], ids=["fixed", "randomised"])
def test_keypoints_land_on_rendered_markers(randomize, panda):
    from vap_ros.sim import SceneConfig, SimRig

    cfg = SceneConfig(width=256, height=256, randomize_cameras=randomize, objects=(0, 0),
                      msaa_samples=0)
    with SimRig.from_config(cfg, np.random.default_rng(11 if randomize else 0)) as rig:
        qs = random_configurations(panda, 3, seed=1)
        errs = _errors(rig, qs, [0.08, 0.05, 0.02])
    print(f"{'randomised' if randomize else 'fixed'} cameras: {errs.size} markers, "
          f"max {errs.max():.3f} px, median {np.median(errs):.3f} px")
    assert errs.size >= 40
    assert errs.max() < 0.5


def test_wrist_camera_keypoints(panda):
    """The moving wrist camera: fingertips and TCP, with small markers (the big ones fill the
    view at 7 cm)."""
    from vap_ros.sim import CameraSpec, SceneConfig, SimRig

    cfg = SceneConfig(width=128, height=128, cameras=(CameraSpec("front", (1.6, 0, 0.9)),),
                      wrist_camera=True, objects=(0, 0), marker_radius_m=0.003,
                      msaa_samples=0)
    with SimRig.from_config(cfg, np.random.default_rng(0)) as rig:
        qs = random_configurations(panda, 2, seed=3)
        errs = _errors(rig, qs, [0.08, 0.03], cameras=("wrist",), min_radius_px=2.0)
    print(f"wrist camera: {errs.size} markers, max {errs.max():.3f} px")
    assert errs.size >= 4
    assert errs.max() < 0.5


def test_calibration_read_back_equals_layout():
    """MuJoCo's camera, read back, is the camera the layout asked for."""
    from vap_ros.sim import SceneConfig, SimRig

    cfg = SceneConfig(width=96, height=64, randomize_cameras=True, objects=(0, 0))
    with SimRig.from_config(cfg, np.random.default_rng(5)) as rig:
        for want, got in zip(rig.scene.layout.cameras, rig.cameras()):
            assert got.name == want.name and got.frame_id == f"{want.name}_optical_frame"
            assert got.base_frame == "panda_link0"
            np.testing.assert_allclose(got.K, want.K, atol=1e-6)
            np.testing.assert_allclose(got.T_cam_base, want.T_cam_base, atol=1e-6)


def test_unrenderable_camera_is_rejected():
    from dataclasses import replace

    from vap_ros.camera import look_at
    from vap_ros.errors import CalibrationError
    from vap_ros.sim import mujoco_camera_params

    cam = look_at("c", (1, 0, 1), (0, 0, 0), width=64, height=64)
    mujoco_camera_params(cam)
    with pytest.raises(CalibrationError, match="distortion"):
        mujoco_camera_params(replace(cam, dist=np.array([0.1, 0, 0, 0, 0])))
    K = cam.K.copy()
    K[0, 2] += 3
    with pytest.raises(CalibrationError, match="principal point"):
        mujoco_camera_params(replace(cam, K=K))
