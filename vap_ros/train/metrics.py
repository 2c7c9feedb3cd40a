"""Video metrics: PSNR, SSIM, ST-IoU (motion-mask IoU) and gripper-region PSNR.

Every function takes two videos of the same shape ``(T, H, W, C)`` — numpy or torch, either
uint8 in [0, 255] or float in [0, 1] (``data_range`` says which when it cannot be inferred) —
and returns a Python float. By default the conditioning frame 0 is *excluded* (``skip_first=1``):
every model receives it, so counting it would only flatter all of them equally.

Definitions (also in docs/train.md):

* **PSNR** = 10 log10(R^2 / MSE), MSE over all scored frames, pixels and channels of the clip
  (one number per clip, not an average of per-frame PSNRs). Identical videos give ``inf``.
* **SSIM**: Wang et al. (2004) with an 11x11 Gaussian window (sigma 1.5), K1 = 0.01,
  K2 = 0.03, computed on each channel of each frame over the *valid* window positions (no
  padding), then averaged over positions, channels and frames. Frames smaller than 11 px use the
  largest odd window that fits.
* **ST-IoU**: motion masks ``M_t(p) = max_c |x_t(p, c) - x_{t-1}(p, c)| > tau`` for
  t = 1 .. T-1 (frame-to-frame change, ``tau`` = 0.1 of the range by default) in the real and
  the predicted video; ST-IoU = |M_real ∩ M_pred| / |M_real ∪ M_pred| over the whole
  (t, y, x) volume. Both masks empty (nothing moves in either) gives 1.
* **Gripper-region PSNR**: PSNR restricted to the pixels of a region mask (typically discs of
  radius r around the gripper keypoints, see :func:`vap_ros.train.interaction.region_mask`);
  ``nan`` when the region is empty in every scored frame (gripper out of view).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from vap_ros.errors import ConfigError, ImageError

__all__ = ["METRICS", "capped", "finite_mean", "motion_masks", "psnr", "region_psnr", "score",
           "ssim", "st_iou"]

#: The scores of one predicted video, in report order (see ``score``).
METRICS = ("psnr", "ssim", "st_iou", "gripper_psnr")


def _as_float(video, data_range: float | None) -> tuple[torch.Tensor, float]:
    """(T, H, W, C) float64 tensor and its data range."""
    if isinstance(video, np.ndarray):
        is_uint8 = video.dtype == np.uint8
        t = torch.from_numpy(np.ascontiguousarray(video))
    else:
        t = video.detach().cpu()
        is_uint8 = t.dtype == torch.uint8
    if data_range is None:
        data_range = 255.0 if is_uint8 else 1.0
    t = t.to(torch.float64)
    if t.ndim == 3:  # (T, H, W) grey
        t = t[..., None]
    if t.ndim != 4:
        raise ImageError(f"video shape {tuple(t.shape)}: expected (T, H, W, C) or (T, H, W)")
    return t, float(data_range)


def _pair(real, pred, data_range, skip_first: int):
    if _is_uint8(real) != _is_uint8(pred):
        raise ImageError(f"real video is {_dtype(real)}, predicted {_dtype(pred)}: expected "
                         "both uint8 or both float")
    a, r = _as_float(real, data_range)
    b, _ = _as_float(pred, r)
    if a.shape != b.shape:
        raise ImageError(f"real {tuple(a.shape)} and predicted {tuple(b.shape)} videos differ "
                         "in shape: expected the same")
    if skip_first >= a.shape[0]:
        raise ImageError(f"skip_first={skip_first} leaves no frame of a {a.shape[0]}-frame "
                         f"video: expected more than {skip_first} frames")
    return a[skip_first:], b[skip_first:], r


def _dtype(v) -> str:
    return str(getattr(v, "dtype", type(v).__name__))


def _is_uint8(v) -> bool:
    return (isinstance(v, np.ndarray) and v.dtype == np.uint8) or \
        (isinstance(v, torch.Tensor) and v.dtype == torch.uint8)


#: PSNR of uint8 videos that differ only by rounding (uniform quantisation noise, MSE = 1/12
#: of a grey level): 10 log10(12 * 255^2) ≈ 58.9 dB. Aggregates cap per-clip PSNR here so that
#: one identical clip (PSNR = inf) cannot make a mean infinite.
UINT8_PSNR_CEILING_DB = 10.0 * math.log10(12.0 * 255.0 ** 2)


def capped(db: float, ceiling: float = UINT8_PSNR_CEILING_DB) -> float:
    """``min(db, ceiling)``; NaN stays NaN."""
    return db if math.isnan(db) else min(db, ceiling)


def psnr(real, pred, *, data_range: float | None = None, skip_first: int = 1) -> float:
    """Peak signal-to-noise ratio in dB over the whole clip; ``inf`` when identical."""
    a, b, r = _pair(real, pred, data_range, skip_first)
    mse = torch.mean((a - b) ** 2).item()
    return math.inf if mse == 0 else 10.0 * math.log10(r * r / mse)


def region_psnr(real, pred, mask, *, data_range: float | None = None,
                skip_first: int = 1) -> float:
    """PSNR over the pixels where ``mask`` (T, H, W) is true; ``nan`` if the mask is empty."""
    a, b, r = _pair(real, pred, data_range, skip_first)
    m = torch.as_tensor(np.asarray(mask) if not isinstance(mask, torch.Tensor) else mask)
    m = m.to(torch.bool)[skip_first:]
    if m.shape != a.shape[:3]:
        raise ImageError(f"region mask {tuple(m.shape)}: expected {tuple(a.shape[:3])} (the "
                         f"scored frames of video {tuple(a.shape)})")
    n = int(m.sum()) * a.shape[-1]
    if n == 0:
        return math.nan
    mse = (((a - b) ** 2) * m[..., None]).sum().item() / n
    return math.inf if mse == 0 else 10.0 * math.log10(r * r / mse)


def _gaussian_window(size: int, sigma: float) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(x ** 2) / (2 * sigma ** 2))
    return g / g.sum()


def ssim(real, pred, *, data_range: float | None = None, skip_first: int = 1,
         window: int = 11, sigma: float = 1.5, k1: float = 0.01, k2: float = 0.03) -> float:
    """Mean structural similarity (Wang et al. 2004) over frames, channels, valid positions."""
    a, b, r = _pair(real, pred, data_range, skip_first)
    T, H, W, C = a.shape
    win = min(window, H, W)
    if win % 2 == 0:
        win -= 1
    g = _gaussian_window(win, sigma)
    # (N, 1, H, W) with N = T * C; separable valid filtering.
    x = a.permute(0, 3, 1, 2).reshape(T * C, 1, H, W)
    y = b.permute(0, 3, 1, 2).reshape(T * C, 1, H, W)
    gh, gw = g.view(1, 1, win, 1), g.view(1, 1, 1, win)

    def filt(z):
        return F.conv2d(F.conv2d(z, gh), gw)

    mu_x, mu_y = filt(x), filt(y)
    sxx = filt(x * x) - mu_x ** 2
    syy = filt(y * y) - mu_y ** 2
    sxy = filt(x * y) - mu_x * mu_y
    c1, c2 = (k1 * r) ** 2, (k2 * r) ** 2
    num = (2 * mu_x * mu_y + c1) * (2 * sxy + c2)
    s = num / ((mu_x ** 2 + mu_y ** 2 + c1) * (sxx + syy + c2))
    return float(s.mean().item())


def motion_masks(video, *, threshold: float = 0.1, data_range: float | None = None) -> np.ndarray:
    """Boolean (T-1, H, W): where frame t differs from frame t-1 by more than ``threshold``
    (a fraction of the data range) in any channel."""
    v, r = _as_float(video, data_range)
    diff = (v[1:] - v[:-1]).abs().amax(dim=-1) / r
    return (diff > threshold).numpy()


def st_iou(real, pred, *, threshold: float = 0.1, data_range: float | None = None) -> float:
    """Spatio-temporal IoU of the motion masks of two videos (1 when neither moves).

    All frames are used: the motion between the conditioning frame 0 and frame 1 is part of the
    prediction.
    """
    a, b, r = _pair(real, pred, data_range, 0)
    if a.shape[0] < 2:
        raise ImageError(f"ST-IoU of {a.shape[0]}-frame videos: expected at least 2 frames")
    ma = motion_masks(a, threshold=threshold, data_range=r)
    mb = motion_masks(b, threshold=threshold, data_range=r)
    union = np.logical_or(ma, mb).sum()
    if union == 0:
        return 1.0
    return float(np.logical_and(ma, mb).sum() / union)


def score(real, pred, region, *, names: Sequence[str] = METRICS,
          motion_threshold: float = 0.1) -> dict[str, float]:
    """The scores of one predicted video against the real one, as evaluation reports them:
    ``psnr`` and ``gripper_psnr`` (PSNR inside ``region`` (T, H, W) bool) capped at
    ``UINT8_PSNR_CEILING_DB``, ``ssim``, and ``st_iou`` at ``motion_threshold``.

    Args:
        names: which of ``METRICS`` to compute, in the order of the returned dict.
    """
    scorers = {
        "psnr": lambda: capped(psnr(real, pred)),
        "ssim": lambda: ssim(real, pred),
        "st_iou": lambda: st_iou(real, pred, threshold=motion_threshold),
        "gripper_psnr": lambda: capped(region_psnr(real, pred, region)),
    }
    unknown = [n for n in names if n not in scorers]
    if unknown:
        raise ConfigError(key="metrics", value=list(names), expected=f"names from {METRICS}")
    return {n: scorers[n]() for n in names}


def finite_mean(values: Iterable[float | None]) -> float:
    """The mean of the finite values (None, NaN and inf left out); NaN when none is left.
    Aggregates over clips, views and cameras use it: a gripper out of view (NaN) does not
    count."""
    vals = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(vals)) if vals else math.nan
