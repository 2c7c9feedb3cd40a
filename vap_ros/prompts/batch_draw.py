"""Skeleton drawing in few OpenCV calls, pixel for pixel what one call per item draws.

The renderer's items are thick antialiased lines (links) and filled discs (joints), drawn per
frame far to near, each blended onto the canvas. One ``cv2.line`` / ``cv2.circle`` per item and
frame costs a Python round trip and a GIL release each (hundreds per rollout). Here:

- All N frames are rows of one tall canvas, the (N*H, W, 3) view of the (N, H, W, 3) output,
  so one ``cv2.polylines`` call draws items of many frames (frame ``f`` shifted down by
  ``f*H`` rows; a whole-pixel shift changes no rasterisation decision).
- ``cv2.polylines`` with 2-point open contours draws each exactly as ``cv2.line`` does (the same
  ``ThickLine`` with both round caps), in list order. A 1-point *closed* contour of thickness
  ``2r`` draws only the round cap at that point: exactly ``cv2.circle(r, filled)`` (both are
  ``EllipseEx`` filled with radius r). So one call draws any number of same-coloured items.
- Order: within a frame, items keep their far-to-near order: calls go round by round (round j
  draws the j-th item of every frame), one call per distinct colour and kind in the round.
  Frames never interact, so their items can share a call.
- An item whose pixels (with a margin for the antialiased fringe) would cross its frame's top
  or bottom row is drawn alone on its own frame (as before), where OpenCV clips it to the
  frame; on the tall canvas it would spill into the neighbouring frame. Clipping at the left
  and right borders is the same on both canvases (same width).
- Non-antialiased discs keep ``cv2.circle`` (its LINE_8 disc differs from a LINE_8 line cap).

test/prompts/test_batch_draw.py checks the pixels against the one-call-per-item loop.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["SHIFT", "draw_batched"]

SHIFT = 4  # sub-pixel bits of the fixed-point coordinates
_SCALE = 1 << SHIFT
_INT32_MAX = 2**31 - 1


def draw_batched(frames: np.ndarray, ends: np.ndarray, order: np.ndarray, n_ok: np.ndarray,
                 colors: np.ndarray, n_edges: int, line_width: int, radius: int,
                 antialias: bool = True) -> None:
    """Draw items into ``frames`` in place.

    Args:
        frames: (N, H, W, 3) uint8, C-contiguous.
        ends: (N, I, 2, 2) int64 fixed-point (``SHIFT`` bits) end points per item: an edge's
            two keypoints, a disc's centre twice. Items ``< n_edges`` are edges, the rest discs.
        order: (N, I) item indices in drawing order; the first ``n_ok[f]`` are drawn.
        colors: (I, 3) or (N, I, 3) int colours (the canvas's channel order).
        line_width, radius: pixels (``cv2.line`` thickness, ``cv2.circle`` radius).
    """
    N, H, W = frames.shape[:3]
    span = int(np.abs(ends).max(initial=0)) + (H + 8 * max(H, W)) * _SCALE
    chunk = max(1, min(N, (_INT32_MAX - span) // (H * _SCALE)))  # tall canvas fits int32
    for f0 in range(0, N, chunk):
        sl = slice(f0, f0 + chunk)
        _draw(frames[sl], ends[sl], order[sl], n_ok[sl],
              colors if colors.ndim == 2 else colors[sl], n_edges, line_width, radius,
              antialias)


def _draw(frames, ends, order, n_ok, colors, n_edges, lw, rad, antialias) -> None:
    N, H, W = frames.shape[:3]
    n_items = order.shape[1]
    M = int(n_ok.sum())
    if not M:
        return
    line_type = cv2.LINE_AA if antialias else cv2.LINE_8
    disc = np.arange(n_items) >= n_edges
    # label = colour and kind; the same label in the same round shares one call
    rgb = np.asarray(colors, np.int64)
    key = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2] | (disc.astype(np.int64) << 24)
    keys, label = np.unique(key, return_inverse=True)
    label = label.reshape(key.shape)
    if label.ndim == 1:
        label = label[order]  # (N, I) in drawing order
    else:
        label = np.take_along_axis(label, order, axis=1)
    # rows an item may touch: its half width, the antialiased fringe, LineAA's 3-row footprint;
    # an item that may cross its frame's top or bottom is drawn alone on its own frame
    margin = (np.where(disc, rad, lw // 2) + 3) * _SCALE
    y = ends[..., 1]  # (N, I, 2)
    inside = (y.min(axis=2) >= margin) & (y.max(axis=2) <= (H - 1) * _SCALE - margin)
    if not antialias:
        inside &= ~disc  # a LINE_8 disc is not a LINE_8 line cap
    alone = len(keys)
    j = np.arange(n_items)
    grid = j * (alone + 1) + np.where(np.take_along_axis(inside, order, axis=1), label, alone)
    grid[j >= n_ok[:, None]] = np.iinfo(np.int64).max  # not drawn: sorted last
    o = np.argsort(grid, axis=None, kind="stable")[:M]  # round by round, then by label
    g = grid.reshape(-1)[o]
    f_idx = o // n_items
    item = order.reshape(-1)[o]
    P = ends[f_idx, item]  # (M, 2, 2)
    tall = P.copy()
    tall[:, :, 1] += (f_idx * (H * _SCALE))[:, None]
    tall = tall.astype(np.int32)
    cols = (rgb[item] if rgb.ndim == 2 else rgb[f_idx, item]).tolist()
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]]).tolist()
    canvas = frames.reshape(N * H, W, 3)
    is_alone = (g % (alone + 1) == alone).tolist()
    is_disc = (item >= n_edges).tolist()
    for s, e in zip(starts, starts[1:] + [M]):
        c = cols[s]
        if is_alone[s]:  # each alone on its own frame, as one call per item draws it
            for k in range(s, e):
                img, p = frames[f_idx[k]], P[k].tolist()
                if is_disc[k]:
                    cv2.circle(img, p[0], rad * _SCALE, cols[k], -1, line_type, SHIFT)
                else:
                    cv2.line(img, p[0], p[1], cols[k], lw, line_type, SHIFT)
        elif is_disc[s]:
            cv2.polylines(canvas, tall[s:e, :1], True, c, 2 * rad, line_type, SHIFT)
        else:
            cv2.polylines(canvas, tall[s:e], False, c, lw, line_type, SHIFT)
