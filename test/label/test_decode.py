"""Decoding generated action images: ``vap_ros.label.decode``."""

from __future__ import annotations

import numpy as np
import pytest

from vap_ros.camera import look_at
from vap_ros.prompts import ActionImageCodec


@pytest.fixture()
def scene():
    target = (0.45, 0.0, 0.35)
    cams = [look_at("a", (1.6, 0.0, 0.8), target, width=64, height=64),
            look_at("b", (0.6, 1.4, 0.7), target, width=64, height=64),
            look_at("c", (0.6, -1.4, 0.9), target, width=64, height=64)]
    T = np.tile(np.eye(4), (6, 1, 1))
    T[:, :3, :3] = np.diag([1.0, -1.0, -1.0])  # tool pointing down
    T[:, :3, 3] = np.linspace([0.35, -0.15, 0.15], [0.55, 0.15, 0.4], 6)
    grip = np.array([True, True, False, False, True, False])
    return cams, T, grip


def test_robust_decoder_matches_the_codec_on_clean_images(scene):
    from vap_ros.label.decode import RobustDecoder

    cams, T, grip = scene
    imgs = ActionImageCodec().encode(T, grip, cams)
    dec = RobustDecoder().decode(imgs, cams)
    err = np.linalg.norm(dec.T_base_ee[:, :3, 3] - T[:, :3, 3], axis=1)
    assert err.max() < 5e-4
    np.testing.assert_array_equal(dec.gripper_open, grip)


def test_robust_decoder_ignores_a_stray_blotch(scene):
    """An 8x8 block of colour away from the blob (what a patch-8 model leaves): the codec's
    global fit is dragged off; the robust decoder keeps the blob."""
    from vap_ros.label.decode import RobustDecoder

    cams, T, grip = scene
    codec = ActionImageCodec()
    imgs = codec.encode(T, grip, cams)
    imgs[0, :, 48:56, 0:8, :] = 170  # view a, every frame, every channel
    plain = codec.decode(imgs, cams).T_base_ee[:, :3, 3]
    robust = RobustDecoder().decode(imgs, cams).T_base_ee[:, :3, 3]
    e_plain = np.linalg.norm(plain - T[:, :3, 3], axis=1)
    e_robust = np.linalg.norm(robust - T[:, :3, 3], axis=1)
    assert np.nanmax(e_robust) < 2e-3
    assert np.all(~np.isfinite(e_plain) | (e_plain > 0.02))


def test_outlier_view_is_dropped(scene):
    from vap_ros.label.decode import RobustDecoder

    cams, T, _ = scene
    X = T[0, :3, 3]
    rays = [(c, c.project(X[None]).uv[0]) for c in cams]
    rays[2] = (rays[2][0], rays[2][1] + [9.0, -7.0])  # one view's blob far off
    np.testing.assert_allclose(RobustDecoder().triangulate(rays), X, atol=1e-6)


def test_smooth_removes_a_single_outlier():
    from vap_ros.label.decode import smooth

    T = np.tile(np.eye(4), (7, 1, 1))
    T[:, 0, 3] = [0.0, 0.1, 0.2, 5.0, 0.4, 0.5, 0.6]
    grip = np.array([1, 1, 0, 1, 1, 0, 0], bool)
    out, g = smooth(T, grip, 3)
    np.testing.assert_allclose(out[:, 0, 3], [0.05, 0.1, 0.2, 0.4, 0.5, 0.5, 0.55])
    assert g.tolist() == [True, True, True, True, True, False, False]
    same, _ = smooth(T, grip, 1)
    assert same is T
