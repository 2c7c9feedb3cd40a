"""The batched skeleton drawing is pixel for pixel the one-call-per-item drawing.

The reference below is the drawing the renderer specifies (docs/prompts.md): per frame, every
visible edge and disc, far to near, one ``cv2.line`` / ``cv2.circle`` each. The renderer draws
the same with a few ``cv2.polylines`` calls per clip (``vap_ros.prompts.batch_draw``).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vap_ros.camera import look_at
from vap_ros.prompts import SkeletonRenderer, SkeletonStyle, batch_draw

HOME = np.array([0.0, -0.3, 0.0, -2.2, 0.0, 2.0, 0.8])


def reference_draw(renderer: SkeletonRenderer, uv: np.ndarray, depth: np.ndarray,
                   size: tuple[int, int]) -> np.ndarray:
    """(T, H, W, 3) prompts of one view: one OpenCV call per item and frame."""
    H, W = size
    style, spec = renderer.style, renderer.spec
    lw, rad = style.pixels(H, W)
    line_type = cv2.LINE_AA if style.antialias else cv2.LINE_8
    e, d = spec.edges, spec.discs
    out = np.zeros((uv.shape[0], H, W, 3), np.uint8)
    lim = 4 * max(H, W)
    for t in range(uv.shape[0]):
        front = np.isfinite(uv[t]).all(axis=1) & (depth[t] > 0)
        pts = np.round(np.clip(np.nan_to_num(uv[t]), -lim, lim) * 16).astype(np.int64)
        items = [(0.5 * (depth[t, a] + depth[t, b]), ("line", a, b, spec.colors[k]))
                 for k, (a, b) in enumerate(e) if front[a] and front[b]]
        items += [(depth[t, k] - 1e-4, ("disc", k, k, (255, 255, 255))) for k in d if front[k]]
        for z, (kind, a, b, color) in sorted(items, key=lambda x: -x[0]):  # stable: far first
            c = np.asarray(color, np.float64)
            if style.depth_shading:
                near, far = style.depth_range_m
                c = c * (1.0 - 0.65 * np.clip((z - near) / max(far - near, 1e-6), 0, 1))
            c = [int(x) for x in c]
            if kind == "line":
                cv2.line(out[t], pts[a].tolist(), pts[b].tolist(), c, lw, line_type, 4)
            else:
                cv2.circle(out[t], pts[a].tolist(), rad * 16, c, -1, line_type, 4)
    return out


def _case(rng, panda, size, n_views, frames, close=False, distorted=False):
    cams = []
    for v in range(n_views):
        d = rng.uniform(0.35, 0.7) if close else rng.uniform(1.2, 2.2)
        a = rng.uniform(-np.pi, np.pi)
        eye = (0.45 + d * np.cos(a), d * np.sin(a), rng.uniform(0.2, 1.2))
        dist = np.array([0.3, -0.1, 0.002, -0.001, 0.0]) if distorted else None
        cams.append(look_at(f"c{v}", eye, (0.45, 0.0, 0.35), width=size[1], height=size[0],
                            fov_y_deg=float(rng.uniform(40, 90)), dist=dist))
    t = np.linspace(0, 1, frames)[:, None]
    q = HOME + 0.6 * np.sin(2 * np.pi * t * rng.uniform(0.3, 2, 7) + rng.uniform(0, 6, 7))
    q = np.clip(q, panda.lower_limits, panda.upper_limits)
    return q, rng.uniform(0, 0.08, frames), cams


STYLES = [SkeletonStyle(), SkeletonStyle(depth_shading=True), SkeletonStyle(antialias=False),
          SkeletonStyle(line_width=1 / 200, disc_radius=1 / 300),
          SkeletonStyle(line_width=1 / 20, disc_radius=1 / 25)]


@pytest.mark.parametrize("style", STYLES, ids=["default", "shaded", "line8", "thin", "thick"])
@pytest.mark.parametrize("size", [(64, 64), (48, 80), (256, 256)])
def test_pixels_equal_one_call_per_item(panda, style, size):
    from vap_ros.robot import SkeletonSpec

    r = SkeletonRenderer(panda, SkeletonSpec.from_preset("panda"), style)
    rng = np.random.default_rng(hash((size, style.line_width, style.antialias)) % 2**32)
    for close, distorted in ((False, False), (True, False), (False, True), (True, True)):
        q, w, cams = _case(rng, panda, size, 2, 6, close=close, distorted=distorted)
        got = r.render(q, cams, w)
        kps = r.keypoints(q, w)
        for v, cam in enumerate(cams):
            p = cam.project(kps)
            np.testing.assert_array_equal(got[v], reference_draw(r, p.uv, p.depth, size))


def test_items_crossing_frame_borders_and_tiny_chunks(renderer, panda, monkeypatch):
    """Close cameras put links across the top/bottom rows (drawn alone on their frame);
    a tall canvas split into chunks (int32 coordinates) draws the same."""
    rng = np.random.default_rng(3)
    q, w, cams = _case(rng, panda, (40, 56), 3, 9, close=True)
    alone = []
    real_line = batch_draw.cv2.line
    monkeypatch.setattr(batch_draw.cv2, "line", lambda *a: alone.append(1) or real_line(*a))
    kps = renderer.keypoints(q, w)
    want = np.stack([reference_draw(renderer, p.uv, p.depth, (40, 56))
                     for p in (c.project(kps) for c in cams)])
    alone.clear()
    np.testing.assert_array_equal(renderer.render(q, cams, w), want)
    assert alone  # some links did cross a frame's top or bottom
    monkeypatch.setattr(batch_draw, "_INT32_MAX", 40 * 16 * 3 + (40 + 8 * 56) * 16 * 2)
    chunks = []
    real = batch_draw._draw
    monkeypatch.setattr(batch_draw, "_draw", lambda f, *a: chunks.append(len(f)) or real(f, *a))
    np.testing.assert_array_equal(renderer.render(q, cams, w), want)
    assert len(chunks) > 1 and sum(chunks) == 27


def test_per_view_keypoints_skip_and_out(renderer, rig_cameras):
    """(V, T, K, 3) keypoints: each view its own motion; skipped frames keep ``out``."""
    q = np.tile(HOME, (4, 1))
    q2 = q + 0.2
    per_view = np.stack([renderer.keypoints(q, 0.04), renderer.keypoints(q2, 0.04),
                         renderer.keypoints(q, 0.0)])
    got = renderer.render_keypoints(per_view, rig_cameras)
    for v, (qq, ww) in enumerate(((q, 0.04), (q2, 0.04), (q, 0.0))):
        np.testing.assert_array_equal(got[v], renderer.render(qq, [rig_cameras[v]], ww)[0])
    uv, depth = renderer.project(per_view, rig_cameras)
    canvas = np.full_like(got, 7)
    skip = np.zeros((3, 4), bool)
    skip[1, 2] = True
    canvas[~skip] = 0
    out = renderer.draw_projected(uv, depth, (256, 256), out=canvas, skip=skip)
    assert out is canvas
    assert (out[1, 2] == 7).all()
    np.testing.assert_array_equal(out[~skip], got[~skip])


def test_nothing_visible_draws_nothing(renderer):
    cam = look_at("away", (0.0, 0.0, 0.5), (-2.0, 0.0, 0.5))  # looks away from the robot
    assert not renderer.render(np.tile(HOME, (3, 1)), [cam]).any()
