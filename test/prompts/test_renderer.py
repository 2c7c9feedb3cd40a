"""Every prompt type through ``PromptRenderer``: skeleton pixels unchanged, silhouette = the mesh
mask, depth monotone in the true distance, skeleton+depth = skeleton over depth, bad types."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from vap_ros.data import load_rig_config
from vap_ros.errors import ConfigError
from vap_ros.model.config import load_preset
from vap_ros.prompts import PROMPT_TYPES, PromptRenderer, SkeletonRenderer
from vap_ros.prompts.encoding import (
    DEPTH_GREY,
    DEPTH_RANGE_M,
    SUPERSAMPLE,
    block_mean,
    decode_depth,
    encode_depth,
)
from vap_ros.robot import SkeletonSpec

pytestmark = pytest.mark.mujoco

SIZE = (40, 48)  # H, W
STEP_M = (DEPTH_RANGE_M[1] - DEPTH_RANGE_M[0]) / (DEPTH_GREY[0] - DEPTH_GREY[1])


@pytest.fixture(scope="module")
def renderers(panda):
    spec = SkeletonSpec.from_preset("panda")
    return {t: PromptRenderer(panda, spec, t) for t in PROMPT_TYPES}


@pytest.fixture(scope="module")
def motion():
    home = np.array([0.0, -0.3, 0.0, -2.2, 0.0, 2.0, 0.8])
    rng = np.random.default_rng(4)
    return home + 0.3 * rng.standard_normal((3, 7)), np.array([0.02, 0.05, 0.08])


@pytest.fixture(scope="module")
def cams(cam):
    return [cam("front", (1.6, 0.1, 0.8), size=SIZE),
            cam("left", (0.5, 1.3, 0.6), size=SIZE,
                dist=np.array([-0.15, 0.03, 0.001, -0.001, 0.0]))]


def test_every_type_renders_rgb_uint8_with_the_robot_on_black(renderers, motion, cams):
    q, grip = motion
    for t, r in renderers.items():
        out = r.render(q, cams, grip)
        assert out.shape == (2, 3, *SIZE, 3) and out.dtype == np.uint8, t
        robot = out.any(axis=-1)
        assert (robot.sum(axis=(2, 3)) > 40).all(), t  # every view and frame shows the arm
        assert robot.mean() < 0.6, t  # on black
        if t in ("depth", "silhouette"):  # grey: the three channels are equal
            assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()
        if t == "silhouette":
            assert set(np.unique(out)) <= {0, 64, 128, 191, 255}  # 2x2 coverage levels


def test_skeleton_type_is_the_skeleton_renderers_pixels(renderers, motion, cams):
    q, grip = motion
    skel = SkeletonRenderer(renderers["skeleton"].robot, renderers["skeleton"].spec)
    r = renderers["skeleton"]
    np.testing.assert_array_equal(r.render(q, cams, grip), skel.render(q, cams, grip))
    # each view at its own joints, some frames skipped: the clip builder's call
    q_views = np.stack([q, q[::-1]])
    w_views = np.stack([grip, grip[::-1]])
    skip = np.array([[False, True, False], [True, False, False]])
    canvas = np.zeros((2, 3, *SIZE, 3), np.uint8)
    canvas[skip] = 7  # frames drawn before (the clip builder's cached frames)
    out, uv, depth = r.render_views(q_views, cams, w_views, out=canvas, skip=skip)
    assert out is canvas
    kps = np.stack([skel.keypoints(q_views[v], w_views[v]) for v in range(2)])
    want = skel.render_keypoints(kps, cams)
    np.testing.assert_array_equal(out[~skip], want[~skip])
    assert (out[skip] == 7).all()
    want_uv, want_depth = skel.project(kps, cams)
    np.testing.assert_array_equal(uv[~skip], want_uv[~skip])
    np.testing.assert_array_equal(depth[~skip], want_depth[~skip])
    assert (uv[skip] == 0).all()


def test_render_views_equals_render_for_every_type(renderers, motion, cams):
    q, grip = motion
    for t, r in renderers.items():
        out, _, _ = r.render_views(np.stack([q, q]), cams, np.stack([grip, grip]))
        np.testing.assert_array_equal(out, r.render(q, cams, grip), err_msg=t)


def test_silhouette_is_the_mesh_renderers_mask(renderers, motion, cams):
    q, grip = motion
    r = renderers["silhouette"]
    H, W = SIZE
    s = SUPERSAMPLE
    fine = r.mesh.render(q, [c.scaled(W * s, H * s) for c in cams], grip, (H * s, W * s))
    want = block_mean(255.0 * fine.silhouette, s)
    np.testing.assert_array_equal(r.render(q, cams, grip)[..., 0], want)
    # and it lies on the mask rendered at the prompt's own size
    mask = r.mesh.render(q, cams, grip).silhouette
    got = r.render(q, cams, grip)[..., 0] > 127
    assert (got & mask).sum() / (got | mask).sum() > 0.85


def test_depth_is_monotone_in_the_true_distance(renderers, motion, cams):
    q, grip = motion
    r = renderers["depth"]
    H, W = SIZE
    s = SUPERSAMPLE
    grey = r.render(q, cams, grip)[..., 0]
    fine = r.mesh.render(q, [c.scaled(W * s, H * s) for c in cams], grip, (H * s, W * s))
    blocks = fine.depth.reshape(2, 3, H, s, W, s)
    full = (blocks > 0).all(axis=(3, 5))  # pixels wholly on the robot
    true = blocks.mean(axis=(3, 5))[full]
    g = grey[full].astype(int)
    assert full.sum() > 200
    order = np.argsort(true, kind="stable")
    assert (np.diff(g[order]) <= 0).all()  # farther is never brighter
    np.testing.assert_allclose(decode_depth(g), true, atol=0.51 * STEP_M + 1e-9)
    # moving the camera back along its optical axis by d adds d to every depth
    front = cams[0]
    nearest = []
    for d in (0.0, 0.3, 0.6, 1.2):
        T = front.T_cam_base.copy()
        T[2, 3] += d
        nearest.append(decode_depth(r.render(q[:1], [replace(front, T_cam_base=T)],
                                             grip[:1]).max()))
    assert np.all(np.diff(nearest) > 0)
    np.testing.assert_allclose(np.array(nearest) - nearest[0], [0.0, 0.3, 0.6, 1.2],
                               atol=2 * STEP_M)


def test_depth_encoding_is_a_fixed_ramp_in_metres():
    near, far = DEPTH_RANGE_M
    d = np.linspace(near, far, 1000)
    g = encode_depth(d).astype(int)
    assert g[0] == DEPTH_GREY[0] and g[-1] == DEPTH_GREY[1]
    assert (np.diff(g) <= 0).all() and len(np.unique(g)) == DEPTH_GREY[0] - DEPTH_GREY[1] + 1
    np.testing.assert_allclose(decode_depth(g), d, atol=0.5 * STEP_M + 1e-9)
    assert encode_depth(np.array([0.0, 0.05, 9.0])).tolist() == [0, DEPTH_GREY[0],
                                                                  DEPTH_GREY[1]]
    assert np.isnan(decode_depth(np.array([0]))).all()


def test_skeleton_plus_depth_is_the_skeleton_drawn_over_depth(renderers, motion, cams):
    q, grip = motion
    both = renderers["skeleton+depth"].render(q, cams, grip)
    depth = renderers["depth"].render(q, cams, grip)
    skel = renderers["skeleton"].render(q, cams, grip)
    untouched = ~skel.any(axis=-1)
    np.testing.assert_array_equal(both[untouched], depth[untouched])
    drawn = skel.any(axis=-1)
    assert drawn.sum() > 100
    assert (both != depth).any(axis=-1)[drawn].mean() > 0.9


def test_an_unknown_prompt_type_is_one_clear_error(panda):
    spec = SkeletonSpec.from_preset("panda")
    for make in (lambda: PromptRenderer(panda, spec, "normals"),
                 lambda: PromptRenderer.from_preset("panda", "normals"),
                 lambda: load_rig_config("sim", prompt_type="normals"),
                 lambda: load_preset("tiny", prompt_type="normals")):
        with pytest.raises(ConfigError) as err:
            make()
        msg = str(err.value)
        assert msg.startswith("prompt_type='normals': expected one of"), msg
        assert all(repr(t) in msg for t in PROMPT_TYPES), msg


def test_mesh_types_need_the_urdf_file(panda):
    from vap_ros.robot import RobotModel

    text_only = RobotModel.from_urdf_string(panda.urdf_path.read_text())
    spec = SkeletonSpec.from_preset("panda")
    with pytest.raises(ConfigError, match=r"prompt_type 'depth' renders the robot's collision "
                                          r"meshes: .*built from URDF text"):
        PromptRenderer(text_only, spec, "depth")
    PromptRenderer(text_only, spec, "skeleton")  # the skeleton needs no meshes
