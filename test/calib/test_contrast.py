"""The rendered outline with the observed robot's contrast (``observe.model_difference``),
and the experiment's error decomposition; synthetic images, no renderer."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from vap_ros.calib.experiment import error_in_camera
from vap_ros.calib.observe import difference_sdt, model_difference
from vap_ros.camera import Camera

FACTOR, CAP = 4, 6.0


def _edge_u(sdt: np.ndarray) -> float:
    """Sub-pixel column (native px) where the middle row's field crosses zero (outside
    > 0 on the left, robot on the right)."""
    row = sdt[sdt.shape[0] // 2]
    i = int(np.flatnonzero((row[:-1] > 0) & (row[1:] <= 0))[0])
    x = i + row[i] / (row[i] - row[i + 1])
    return (x + 0.5) / FACTOR - 0.5


def _step(edge: float, contrast_of_u, size=(16, 40)) -> tuple[np.ndarray, np.ndarray]:
    """Coverage of a vertical edge at column ``edge`` (robot to the right) and the
    difference image it makes with a robot whose contrast at column u is
    ``contrast_of_u(u)``."""
    H, W = size
    u = np.arange(W, dtype=np.float32)
    cov = np.clip(u + 0.5 - edge, 0.0, 1.0)
    cov = np.repeat(cov[None], H, axis=0)
    diff = cov * np.repeat(np.asarray([contrast_of_u(k) for k in u], np.float32)[None], H, 0)
    return cov, diff


@pytest.mark.parametrize("name,contrast,threshold", [
    ("near the threshold", lambda u: 12.0, 8.0),           # the edge sits at coverage 2/3
    ("darker rim", lambda u: 40.0 if u < 22 else 120.0, 8.0),  # shading at the outline
])
def test_contrast_model_puts_the_rendered_edge_where_the_observed_one_is(name, contrast,
                                                                          threshold):
    cov, diff = _step(20.3, contrast)
    observed = _edge_u(difference_sdt(diff, threshold, FACTOR, CAP))
    uniform = _edge_u(difference_sdt(100.0 * cov, 1.0, FACTOR, CAP))
    matched = _edge_u(difference_sdt(model_difference(cov, diff), threshold, FACTOR, CAP))
    assert abs(uniform - observed) > 0.1, (name, uniform, observed)  # the bias is there
    assert abs(matched - observed) < 0.25 * abs(uniform - observed), (name, matched, observed)


def test_contrast_model_without_covered_pixels_is_uniform():
    cov = np.full((8, 8), 0.4, np.float32)
    np.testing.assert_allclose(model_difference(cov, np.full((8, 8), 7.0, np.float32)),
                               100.0 * cov)


def test_error_in_camera_frame():
    R = Rotation.from_euler("xyz", [100, 10, -30], degrees=True).as_matrix()  # base <- cam
    c = np.array([1.2, -0.4, 0.9])
    K = np.array([[50.0, 0, 32], [0, 50.0, 32], [0, 0, 1]])

    def camera(R_base_cam, centre):
        T = np.eye(4)
        T[:3, :3], T[:3, 3] = R_base_cam, centre
        return Camera("c", 64, 64, K, np.zeros(5), np.linalg.inv(T))

    truth = camera(R, c)
    # 10 mm back along its optical axis and 3 mm down, turned 0.5 deg about its own x axis
    moved = camera(R @ Rotation.from_rotvec([np.radians(0.5), 0, 0]).as_matrix(),
                   c + R @ np.array([0.0, 0.003, -0.010]))
    d_mm, w_deg = error_in_camera(moved, truth)
    np.testing.assert_allclose(d_mm, [0.0, 3.0, -10.0], atol=2e-3)
    # the rotation taking the true camera's coordinates to the moved one's
    np.testing.assert_allclose(w_deg, [-0.5, 0.0, 0.0], atol=1e-3)
