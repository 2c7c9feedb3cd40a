"""Refining the lens too (``refine_camera(distortion=True)``, ``calibrate refine
--distortion``: the first radial coefficient k1): the projection's derivatives, the
correction, and recovery on simulated images seen through a lens."""

from __future__ import annotations

import json
from dataclasses import replace

import cv2
import numpy as np
import pytest

from vap_ros.calib import camera_change, load_frames, refine_camera
from vap_ros.calib.contours import Projector, apply_correction
from vap_ros.calib.experiment import perturb_camera
from vap_ros.calib.report import mesh_renderer
from vap_ros.camera import Camera

from .conftest import bag_camera, refine_cli


def _camera(model: str, dist) -> Camera:
    T = np.eye(4)
    T[:3, 3] = [0.05, -0.1, 1.2]
    K = np.array([[300.0, 0, 160], [0, 300.0, 120], [0, 0, 1]])
    return Camera("cam", 320, 240, K, np.asarray(dist, float), distortion_model=model,
                  T_cam_base=T)


@pytest.mark.parametrize("model,dist", [("plumb_bob", [-0.2, 0.05, 0.001, -0.002, 0.0]),
                                        ("none", [0, 0, 0, 0, 0]),
                                        ("equidistant", [0.1, -0.02, 0.0, 0.0])])
@pytest.mark.parametrize("n", [6, 9, 10])
def test_projector_derivatives_match_finite_differences(model, dist, n):
    rng = np.random.default_rng(0)
    cam = _camera(model, dist)
    pts = rng.uniform([-0.4, -0.3, -0.2], [0.4, 0.3, 0.2], (50, 3))
    x = np.r_[0.01, -0.02, 0.015, 0.01, -0.005, 0.02, 0.01, 1.5, -2.0, 0.03][:n]
    proj = Projector(cam, pts, n)
    uv, jac, front = proj(x)
    assert front.all() and jac.shape == (50, 2, n)
    for k in range(n):
        h = np.zeros(n)
        h[k] = 1e-6 if k not in (7, 8) else 1e-4
        num = (Projector(cam, pts, n)(x + h)[0] - Projector(cam, pts, n)(x - h)[0]) / (2 * h[k])
        np.testing.assert_allclose(jac[..., k], num, rtol=2e-4, atol=2e-4 * np.abs(num).max())
    # the correction the solver applies projects the points where the projector says
    np.testing.assert_allclose(apply_correction(cam, x).project(pts).uv, uv, atol=1e-6)


def test_a_distortion_correction_makes_a_camera_without_one_plumb_bob():
    cam = _camera("none", np.zeros(5))
    out = apply_correction(cam, np.r_[np.zeros(9), -0.1])
    assert out.distortion_model == "plumb_bob"
    np.testing.assert_allclose(out.dist, [-0.1, 0, 0, 0, 0])
    # 9 parameters leave the lens alone
    assert apply_correction(cam, np.zeros(9)).distortion_model == "none"


def _through_lens(images: np.ndarray, cam: Camera, dist: np.ndarray) -> np.ndarray:
    """The pinhole images as a camera with the same K and radial distortion ``dist`` sees
    them (each distorted pixel samples the pinhole image where its ray lands)."""
    H, W = images.shape[1:3]
    u, v = np.meshgrid(np.arange(W, dtype=np.float64), np.arange(H, dtype=np.float64))
    und = cv2.undistortPoints(np.stack([u, v], -1).reshape(-1, 1, 2), cam.K, dist, P=cam.K)
    mx, my = (und.reshape(H, W, 2)[..., i].astype(np.float32) for i in (0, 1))
    return np.stack([cv2.remap(im, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                     for im in images])


@pytest.mark.mujoco
def test_refinement_recovers_a_lens_it_was_not_told_about(sim_bag):
    """The simulated side camera's images seen through a barrel lens (k1 -0.25, k2 0.05), and
    a calibration that says pinhole and is 2 cm / 2 deg off: refining k1 with the pose
    recovers the lens and puts the camera several times closer to the truth than refining
    the pose alone, which must bend the camera to fit a lens it does not model."""
    renderer = mesh_renderer("panda", "collision")
    frames = load_frames(sim_bag, "side", frames=30, robot=renderer.robot)
    truth_pinhole = bag_camera(sim_bag, "side")
    lens = np.array([-0.25, 0.05, 0.0, 0.0, 0.0])
    truth = replace(truth_pinhole, dist=lens, distortion_model="plumb_bob")
    seen = replace(frames, images=_through_lens(frames.images, truth_pinhole, lens))
    start = perturb_camera(truth_pinhole, np.random.default_rng(4), cm=(2, 2), deg=(2, 2))
    quick = dict(progress=False, restarts=0, bootstrap=0, phases=0)
    pose_only = refine_camera(replace(seen, camera=start), renderer, **quick)
    with_lens = refine_camera(replace(seen, camera=start), renderer, distortion=True, **quick)
    assert with_lens.distortion and not with_lens.intrinsics and not pose_only.distortion
    assert with_lens.summary()["distortion"] is True
    np.testing.assert_allclose(with_lens.camera.K, truth.K)  # the focal length, centre kept
    k1 = with_lens.camera.dist[0]
    assert abs(k1 - lens[0]) < 0.05, with_lens.camera.dist  # k2 is not estimated
    np.testing.assert_allclose(with_lens.camera.dist[1:], 0.0)
    mm_lens, deg_lens = camera_change(with_lens.camera, truth)
    mm_pose, _ = camera_change(pose_only.camera, truth)
    assert mm_lens < 6.0 and deg_lens < 0.2, (mm_lens, deg_lens)
    assert mm_lens < 0.4 * mm_pose, (mm_lens, mm_pose)
    assert with_lens.score_after.error_px < pose_only.score_after.error_px


@pytest.mark.mujoco
def test_cli_refine_distortion_prints_and_writes_the_lens(sim_bag, tmp_path):
    """`calibrate refine --distortion` on a camera without a lens: the written calibration
    is plumb_bob with a k1 near 0, the printout shows the lens change, and the answer is
    LOW because the confidence limits were set on pose-only fits."""
    from vap_ros.camera import load_calibration

    rc, text, truth = refine_cli(sim_bag, tmp_path, "--distortion")
    out = tmp_path / "side.yaml"
    assert rc == 0, text
    assert "distortion (plumb_bob): k1 0.0000 -> " in text and "intrinsics:" not in text
    cam = load_calibration(out)["side"]
    assert cam.distortion_model == "plumb_bob" and abs(cam.dist[0]) < 0.05, cam.dist
    np.testing.assert_allclose(cam.K, truth.K)
    mm, deg = camera_change(cam, truth)
    assert mm < 10.0 and deg < 0.5, (mm, deg)
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["distortion"] is True and r["intrinsics"] is False
    assert r["confidence"] == "low" and "with the lens refined too" in r["confidence_reason"]
