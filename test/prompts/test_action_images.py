import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from vap_ros.camera import look_at
from vap_ros.errors import CalibrationError, ImageError, TrajectoryError
from vap_ros.prompts import ActionImageCodec


def _random_poses(n, seed):
    rng = np.random.default_rng(seed)
    T = np.tile(np.eye(4), (n, 1, 1))
    T[:, :3, :3] = Rotation.random(n, random_state=seed).as_matrix()
    T[:, :3, 3] = rng.uniform([0.3, -0.3, 0.05], [0.7, 0.3, 0.6], (n, 3))
    return T, rng.random(n) < 0.5


@pytest.mark.parametrize("n_views", [2, 3])
def test_round_trip(n_views):
    target = (0.45, 0.0, 0.35)
    cams = [look_at("a", (1.6, 0.0, 0.8), target), look_at("b", (0.6, 1.4, 0.7), target),
            look_at("c", (0.6, -1.4, 0.9), target)][:n_views]
    codec = ActionImageCodec()
    T, grip = _random_poses(40, n_views)
    imgs = codec.encode(T, grip, cams)
    assert imgs.shape == (n_views, 40, 256, 256, 3) and imgs.dtype == np.uint8
    dec = codec.decode(imgs, cams)
    pos_err = np.linalg.norm(dec.T_base_ee[:, :3, 3] - T[:, :3, 3], axis=1)
    R = np.einsum("tji,tjk->tik", dec.T_base_ee[:, :3, :3], T[:, :3, :3])
    ang = np.degrees(np.arccos(np.clip((np.trace(R, axis1=1, axis2=2) - 1) / 2, -1, 1)))
    assert pos_err.max() < 2e-3
    assert ang.max() < 2.0
    np.testing.assert_array_equal(dec.gripper_open, grip)


def test_encoding_layout():
    cam = look_at("a", (1.6, 0.0, 0.8), (0.45, 0.0, 0.35))
    codec = ActionImageCodec()
    T = np.eye(4)
    T[:3, 3] = [0.45, 0.0, 0.35]
    closed = codec.encode(T, False, [cam])[0, 0]
    opened = codec.encode(T, True, [cam])[0, 0]
    uv = cam.project(T[:3, 3]).uv
    x, y = np.round(uv).astype(int)
    assert closed[y, x, 0] == 255                      # R peak at the end effector
    assert closed[0, 0].tolist() == [0, 0, 0]          # black background when closed
    assert opened[0, 0].tolist() == [0, 0, 64]         # 0.25 background in B when open


def test_encode_refuses_non_finite_poses():
    cam = look_at("a", (1.6, 0.0, 0.8), (0.45, 0.0, 0.35))
    T = np.stack([np.eye(4)] * 3)
    T[1, 0, 3] = np.nan
    with pytest.raises(TrajectoryError, match=r"poses \[1\] \(of 3\) contain NaN"):
        ActionImageCodec().encode(T, False, [cam])


def test_decode_errors():
    cam = look_at("a", (1.6, 0.0, 0.8), (0.45, 0.0, 0.35))
    codec = ActionImageCodec()
    with pytest.raises(CalibrationError, match="at least 2"):
        codec.decode(np.zeros((1, 1, 16, 16, 3), np.uint8), [cam])
    with pytest.raises(ImageError, match=r"2 views .* 1 cameras"):
        codec.decode(np.zeros((2, 1, 16, 16, 3), np.uint8), [cam])
    blank = codec.decode(np.zeros((2, 1, 32, 32, 3), np.uint8), [cam, cam])
    assert np.isnan(blank.T_base_ee).all() and blank.views_used.max() == 0
