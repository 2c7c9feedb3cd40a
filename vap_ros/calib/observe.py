"""What the images say about where the robot is: masks of what moved against a static
background, and signed distance fields of those masks.

The arm moves and the scene mostly does not, so a pixel's temporal median over the episode is
the background wherever the robot covers it in fewer than half of the frames (or, given the
robot's rendered silhouettes, the median over the frames the robot leaves the pixel free).
A frame's difference to that background, above a noise-adaptive threshold, is the robot (plus
whatever else moved: an object, a hand, a shadow; the optimiser treats those as outliers).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["Observation", "difference", "difference_sdt", "half_max_mask", "model_difference",
           "observe", "signed_distance", "subpixel_sdt"]

#: Smallest difference (0..255, max over RGB) that counts as a change.
MIN_THRESHOLD = 8.0
#: Neighbourhood (native px) whose largest difference sets the half-maximum level.
HALF_MAX_WINDOW = 3


@dataclass
class Observation:
    """Change masks of T frames.

    Attributes:
        background: (H, W, 3) float32 background estimate.
        masks: (T, H, W) bool, True where the frame differs from the background.
        known: (H, W) bool, pixels whose background is known (the median saw the background).
        threshold: the difference threshold used (0..255).
        noise: robust noise level of the differences (0..255).
        diff: (T, H, W) float32 differences the masks were thresholded from.
        images: the frames observed (T, H, W, 3) uint8.
    """

    background: np.ndarray
    masks: np.ndarray
    known: np.ndarray
    threshold: float
    noise: float
    diff: np.ndarray
    images: np.ndarray | None = None


def _masked_median(stack: np.ndarray, use: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel median over frames where ``use`` (T, H, W) is True → (H, W, C), count."""
    T = stack.shape[0]
    x = np.where(use[..., None], stack, np.inf).astype(np.float32)
    x.sort(axis=0)
    n = use.sum(axis=0)
    lo = np.clip((n - 1) // 2, 0, T - 1)
    hi = np.clip(n // 2, 0, T - 1)
    a = np.take_along_axis(x, lo[None, ..., None].repeat(x.shape[-1], -1), 0)[0]
    b = np.take_along_axis(x, hi[None, ..., None].repeat(x.shape[-1], -1), 0)[0]
    med = np.where(n[..., None] > 0, 0.5 * (a + b), 0.0)
    return med.astype(np.float32), n


def difference(images: np.ndarray, background: np.ndarray,
               free: np.ndarray | None = None) -> np.ndarray:
    """(T, H, W) float32: max over RGB of |image - background|, with each frame's brightness
    matched to the background (auto exposure) by the median ratio of their grey levels over
    the pixels ``free`` (T, H, W) of the robot (default: all)."""
    bg = background.astype(np.float32)
    g_bg = bg.mean(axis=-1) + 1.0
    out = np.empty(images.shape[:3], np.float32)
    for t, img in enumerate(images):
        im = img.astype(np.float32)
        ratio = (im.mean(axis=-1) + 1.0) / g_bg
        sel = ratio[free[t]] if free is not None and free[t].sum() > 100 else ratio
        gain = float(np.median(sel))
        if abs(gain - 1.0) > 0.01 and np.isfinite(gain) and gain > 0:
            im = im / gain
        out[t] = np.abs(im - bg).max(axis=-1)
    return out


def half_max_mask(diff: np.ndarray, threshold: float, window: int = 5,
                  median: int = 3) -> np.ndarray:
    """Pixels whose difference exceeds ``threshold`` and half the largest difference within
    ``window`` px: the edge of a blurred or anti-aliased step sits at its half-maximum, so
    the mask's edge neither grows nor shrinks with the contrast. Pixels deeper than
    ``window // 2`` inside the thresholded region stay in (steps between differently
    contrasted parts of the robot are no edges). A 3x3 median removes isolated pixels."""
    k = np.ones((window, window), np.uint8)
    local = cv2.dilate(diff, k)
    above = (diff > threshold).astype(np.uint8)
    deep = cv2.erode(above, k) > 0  # inside: steps between parts of the robot are no edges
    m = ((above > 0) & ((diff >= 0.5 * local) | deep)).astype(np.uint8)
    return cv2.medianBlur(m, median) > 0


def observe(images: np.ndarray, *, silhouettes: np.ndarray | None = None,
            margin_px: int = 2, min_free: int = 3,
            threshold: float | None = None) -> Observation:
    """Change masks of a static camera's frames.

    Args:
        images: (T, H, W, 3) uint8 frames.
        silhouettes: optional (T, H, W) bool rendered robot silhouettes; the background of a
            pixel is then the median over the frames whose silhouette (dilated by
            ``margin_px``) leaves it free, and is known where at least ``min_free`` are.
            Without them: the plain temporal median, known everywhere.
        threshold: difference threshold (0..255); default adaptive to the noise.
    """
    imgs = np.asarray(images)
    T, H, W = imgs.shape[:3]
    free = None
    if silhouettes is None:
        bg = np.median(imgs, axis=0).astype(np.float32)
        known = np.ones((H, W), bool)
    else:
        k = np.ones((2 * margin_px + 1,) * 2, np.uint8)
        free = np.stack([cv2.dilate(s.astype(np.uint8), k) == 0 for s in silhouettes])
        bg, n = _masked_median(imgs, free)
        known = n >= min(min_free, T)
        free &= known
    diff = difference(imgs, bg, free)
    sample = diff[:, known] if known.any() else diff.reshape(T, -1)
    noise = 1.4826 * float(np.median(sample))
    thr = float(threshold) if threshold is not None else max(MIN_THRESHOLD, 5.0 * noise)
    masks = np.stack([half_max_mask(d, thr) for d in diff])
    return Observation(bg, masks, known, thr, noise, diff, imgs)


def signed_distance(mask: np.ndarray) -> np.ndarray:
    """(H, W) float32 signed distance to the mask's edge in pixels: > 0 outside, < 0 inside,
    zero half-way between the outermost inside and innermost outside pixel centres."""
    m = mask.astype(np.uint8)
    if not m.any():
        return np.full(m.shape, float(max(m.shape)), np.float32)
    if m.all():
        return np.full(m.shape, -float(max(m.shape)), np.float32)
    out = cv2.distanceTransform(1 - m, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    ins = cv2.distanceTransform(m, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return np.where(m > 0, 0.5 - ins, out - 0.5).astype(np.float32)


def subpixel_sdt(obs: Observation, t: int, factor: int, box: tuple[int, int, int, int],
                 cap: float) -> np.ndarray:
    """Signed distance field of frame ``t``'s mask at ``factor`` times the resolution, inside
    ``box`` = (x0, y0, x1, y1) native pixels, in native pixels, clipped to +-``cap``.

    The difference image is upsampled (bilinear) before the half-maximum threshold, so the
    edge is placed to 1/``factor`` px and the field's zero level does not lock onto the
    pixel grid the rendered silhouettes share. Unknown background counts as robot.
    Pixel (u, v) of the native image is at ``((u - x0 + 0.5) * factor - 0.5, ...)``.
    """
    x0, y0, x1, y1 = box
    return difference_sdt(obs.diff[t, y0:y1, x0:x1], obs.threshold, factor, cap,
                          unknown=~obs.known[y0:y1, x0:x1])


def difference_sdt(diff: np.ndarray, threshold: float, factor: int, cap: float,
                   unknown: np.ndarray | None = None) -> np.ndarray:
    """``subpixel_sdt`` of one difference image (H, W) → (H * factor, W * factor).

    The same function turns a rendered coverage image (fraction of each pixel the robot
    covers, times a contrast) into the field the rendered silhouette would produce, so the
    observed and the predicted outlines go through the same resampling and thresholding."""
    h, w = diff.shape[0] * factor, diff.shape[1] * factor
    d = cv2.resize(diff, (w, h), interpolation=cv2.INTER_LINEAR) if factor > 1 else diff
    m = half_max_mask(d, threshold, window=HALF_MAX_WINDOW * factor,
                      median=min(5, 2 * factor + 1))
    if unknown is not None and unknown.any():
        m |= cv2.resize(unknown.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
    return np.clip(signed_distance(m) / factor, -cap, cap).astype(np.float32)


def model_difference(coverage: np.ndarray, diff: np.ndarray, full: float = 0.99) -> np.ndarray:
    """(H, W) float32: the difference image a rendered ``coverage`` (fraction of each pixel
    the robot covers) would produce given the observed ``diff`` (same frame and size).

    A pixel the robot covers by c differs from the background by c times the robot's own
    contrast there, which is taken from the nearest fully covered pixel's observed
    difference. Passed through ``difference_sdt`` with the observation's threshold, the
    rendered outline then shrinks wherever the observed one must: where the robot's contrast
    varies within the half-maximum window (shading, parts of another colour) or comes near
    the threshold (a dark link on a dark table). A uniform contrast would not, and that
    difference pulled the fit to a camera slightly too far away (about 0.1-0.3 px at 256 px
    in the simulated rig). Without any fully covered pixel: a uniform contrast of 100."""
    cov = np.asarray(coverage, np.float32)
    inside = cov >= full
    if not inside.any():
        return 100.0 * cov
    _, labels = cv2.distanceTransformWithLabels((~inside).astype(np.uint8), cv2.DIST_L2,
                                                cv2.DIST_MASK_5,
                                                labelType=cv2.DIST_LABEL_PIXEL)
    value = np.zeros(int(labels.max()) + 1, np.float32)
    value[labels[inside]] = np.asarray(diff, np.float32)[inside]
    return cov * value[labels]
