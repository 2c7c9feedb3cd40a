import numpy as np
import pytest

from vap_ros.camera import look_at
from vap_ros.errors import ConfigError
from vap_ros.prompts import SkeletonRenderer, SkeletonStyle

HOME = np.array([0.0, -0.3, 0.0, -2.2, 0.0, 2.0, 0.8])


def test_render_shapes_and_nonempty(renderer, rig_cameras):
    q = np.tile(HOME, (4, 1))
    v = renderer.render(q, rig_cameras, 0.04)
    assert v.shape == (3, 4, 256, 256, 3) and v.dtype == np.uint8
    assert (v.reshape(3, 4, -1).max(axis=2) > 0).all()


def test_pixels_follow_projected_keypoints(renderer, rig_cameras):
    q = HOME[None]
    kps = renderer.keypoints(q, 0.08)
    v = renderer.render(q, rig_cameras, 0.08)
    for i, cam in enumerate(rig_cameras):
        uv = cam.project(kps[0]).uv
        for k in renderer.spec.discs:
            x, y = np.round(uv[k]).astype(int)
            assert v[i, 0, y, x].max() > 0, (cam.name, renderer.spec.names[k])


def test_resolution_independent_of_camera(renderer, rig_cameras):
    q = HOME[None]
    big = renderer.render(q, rig_cameras[:1], size=(256, 256))[0, 0]
    small = renderer.render(q, rig_cameras[:1], size=(64, 96))[0, 0]
    assert small.shape == (64, 96, 3)
    ys, xs = np.nonzero(big.max(-1))
    ys2, xs2 = np.nonzero(small.max(-1))
    # Same drawing, scaled: centroids agree after scaling.
    np.testing.assert_allclose([xs2.mean() / 96, ys2.mean() / 64],
                               [xs.mean() / 256, ys.mean() / 256], atol=0.03)


@pytest.mark.parametrize("near_first", [True, False])
def test_near_links_occlude_far_links(panda, near_first):
    """Far-to-near order: where two links cross, the nearer link's colour wins, whatever
    the order of the edges in the spec."""
    from vap_ros.robot import SkeletonSpec

    edges = [["n0", "n1", [255, 0, 0]], ["f0", "f1", [0, 255, 0]]]
    spec = SkeletonSpec.from_dict({
        "keypoints": [{"name": n, "frame": "panda_link0"} for n in ("n0", "n1", "f0", "f1")],
        "edges": edges if near_first else edges[::-1], "discs": []})
    r = SkeletonRenderer(panda, spec)
    cam = look_at("c", (0.0, 0.0, 0.0), (1.0, 0.0, 0.0), width=257, height=257)
    # Near edge horizontal at x = 1 m, far edge vertical at x = 2 m, crossing on the axis.
    kps = np.array([[[1.0, 0.2, 0.0], [1.0, -0.2, 0.0], [2.0, 0.0, 0.4], [2.0, 0.0, -0.4]]])
    img = r.render_keypoints(kps, [cam])[0, 0]
    assert img[128, 128].tolist() == [255, 0, 0]
    assert img[90, 128].tolist() == [0, 255, 0]  # the far edge is drawn where it is not covered


def test_depth_shading_darkens_far(rig_cameras):
    r = SkeletonRenderer.from_preset("panda", SkeletonStyle(depth_shading=True))
    plain = SkeletonRenderer.from_preset("panda")
    q = HOME[None]
    a = r.render(q, rig_cameras[:1])[0, 0].astype(int).sum()
    b = plain.render(q, rig_cameras[:1])[0, 0].astype(int).sum()
    assert a < b


def test_gripper_opening_is_visible(renderer, rig_cameras):
    q = np.tile(HOME, (2, 1))
    v = renderer.render(q, rig_cameras[:1], [0.0, 0.08])
    assert np.abs(v[0, 0].astype(int) - v[0, 1].astype(int)).sum() > 0


def test_points_behind_camera_are_skipped(renderer):
    cam = look_at("inside", (0.2, 0.0, 0.6), (1.5, 0.0, 0.6))
    v = renderer.render(HOME[None], [cam])  # must not raise or draw garbage wraps
    assert v.shape == (1, 1, 256, 256, 3)


def test_bad_inputs(renderer, rig_cameras):
    with pytest.raises(ConfigError, match="keypoints must be"):
        renderer.render_keypoints(np.zeros((2, 3, 3)), rig_cameras)
    with pytest.raises(ConfigError, match="at least one camera"):
        renderer.render(HOME[None], [])
    mixed = [rig_cameras[0], rig_cameras[1].scaled(128, 128)]
    with pytest.raises(ConfigError, match="different sizes"):
        renderer.render(HOME[None], mixed)
