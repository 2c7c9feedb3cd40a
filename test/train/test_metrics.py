"""Metric functions on cases with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vap_ros.errors import ConfigError, ImageError, ModelError
from vap_ros.train import metrics
from vap_ros.train.interaction import loss_weight, region_mask


def _video(seed=0, T=6, S=32):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(T, S, S, 3), dtype=np.uint8)


def test_identical_videos():
    v = _video()
    assert metrics.psnr(v, v) == math.inf
    assert metrics.ssim(v, v) == pytest.approx(1.0, abs=1e-12)
    assert metrics.st_iou(v, v) == 1.0
    mask = np.ones(v.shape[:3], bool)
    assert metrics.region_psnr(v, v, mask) == math.inf


def test_psnr_of_gaussian_noise_at_known_sigma():
    rng = np.random.default_rng(1)
    real = np.full((9, 64, 64, 3), 0.5)
    for sigma, expected in ((0.01, 40.0), (0.1, 20.0)):
        noisy = real + rng.normal(0, sigma, real.shape)  # no clipping: stays inside [0, 1]
        assert metrics.psnr(real, noisy, data_range=1.0) == pytest.approx(expected, abs=0.05)
    # uint8: constant error of 5 grey levels -> 20 log10(255 / 5)
    a = np.full((3, 8, 8, 3), 100, np.uint8)
    assert metrics.psnr(a, a + 5) == pytest.approx(20 * math.log10(255 / 5), abs=1e-9)


def test_psnr_skips_the_conditioning_frame():
    a = np.zeros((3, 8, 8, 3), np.uint8)
    b = a.copy()
    b[0] = 255  # only frame 0 differs
    assert metrics.psnr(a, b) == math.inf
    assert metrics.psnr(a, b, skip_first=0) < 10


def test_ssim_known_cases():
    rng = np.random.default_rng(2)
    real = rng.uniform(0.2, 0.8, (4, 32, 32, 1))
    # A constant offset changes only the luminance term: SSIM = mean of
    # (2 mu_x mu_y + c1) / (mu_x^2 + mu_y^2 + c1) < 1, close to 1 for a small offset.
    assert 0.95 < metrics.ssim(real, real + 0.02, data_range=1.0) < 1.0
    # Independent noise images are nearly uncorrelated -> SSIM near 0.
    other = rng.uniform(0.2, 0.8, real.shape)
    assert abs(metrics.ssim(real, other, data_range=1.0)) < 0.1
    # Inverted contrast -> negative structure term.
    assert metrics.ssim(real, 1.0 - real, data_range=1.0) < -0.5
    # Symmetric.
    assert metrics.ssim(real, other, data_range=1.0) == pytest.approx(
        metrics.ssim(other, real, data_range=1.0))


def test_st_iou_of_a_shifted_square():
    """A w x w square appears at frame 1 and stays; the prediction puts it s px to the right.
    Motion masks are the two squares at t = 1 only: IoU = (w - s) / (w + s)."""
    T, S, w = 5, 32, 8
    real = np.zeros((T, S, S, 3), np.uint8)
    real[1:, 10:10 + w, 10:10 + w] = 200
    for s in (0, 2, 4, 8):
        pred = np.zeros_like(real)
        pred[1:, 10:10 + w, 10 + s:10 + s + w] = 200
        assert metrics.st_iou(real, pred) == pytest.approx((w - s) / (w + s))
    # A static prediction (copy-first-frame) of a moving scene scores 0.
    assert metrics.st_iou(real, np.repeat(real[:1], T, axis=0)) == 0.0
    # Neither moves -> 1.
    still = np.repeat(real[:1], T, axis=0)
    assert metrics.st_iou(still, still) == 1.0


def test_st_iou_threshold_ignores_small_changes():
    rng = np.random.default_rng(3)
    real = np.full((4, 16, 16, 3), 128, np.uint8)
    pred = (real.astype(int) + rng.integers(-10, 11, real.shape)).astype(np.uint8)
    assert metrics.st_iou(real, pred) == 1.0  # |diff| <= 20 < 0.1 * 255


def test_region_psnr_only_counts_the_region():
    real = np.zeros((3, 16, 16, 3), np.uint8)
    pred = real.copy()
    pred[:, :, 8:] = 10  # error on the right half only
    left = np.zeros((3, 16, 16), bool)
    left[:, :, :8] = True
    assert metrics.region_psnr(real, pred, left) == math.inf
    assert metrics.region_psnr(real, pred, ~left) == pytest.approx(20 * math.log10(25.5))
    assert math.isnan(metrics.region_psnr(real, pred, np.zeros_like(left)))


def test_shape_and_dtype_errors():
    v = _video()
    with pytest.raises(ImageError, match="differ in shape"):
        metrics.psnr(v, v[:, :16])
    with pytest.raises(ImageError, match="uint8"):
        metrics.psnr(v, v.astype(np.float32) / 255)
    with pytest.raises(ImageError, match="at least 2 frames"):
        metrics.st_iou(v[:1], v[:1])


def test_bad_inputs_raise_vap_errors_naming_them():
    from vap_ros.train.data import StepBatches
    from vap_ros.train.interaction import motion_region
    from vap_ros.train.video import side_by_side

    with pytest.raises(ConfigError, match="shape='square'"):
        region_mask(torch.zeros(1, 2, 2), 8, 8, radius_px=2.0, shape="square")
    with pytest.raises(ModelError, match=r"keypoints_uv shape \(1, 2, 2\)"):
        loss_weight(torch.zeros(1, 2, 2), 8, 8, factor=2.0, radius=0.1)
    with pytest.raises(ModelError, match="video shape"):
        motion_region(torch.zeros(1, 3, 2, 8, 8))
    with pytest.raises(ImageError, match="video 1 has 2 frames: expected 3"):
        side_by_side(np.zeros((3, 4, 4, 3), np.uint8), np.zeros((2, 4, 4, 3), np.uint8))
    with pytest.raises(ConfigError, match="0 clips"):
        StepBatches(0, seed=0, batch_size=1, grad_accum=1, world_size=1, rank=0,
                    start_step=0, steps=1)


def test_score_is_the_capped_metrics_in_the_asked_order():
    v = _video()
    region = np.zeros(v.shape[:3], bool)
    region[:, :8, :8] = True
    got = metrics.score(v, v, region, names=("ssim", "gripper_psnr", "psnr"))
    assert list(got) == ["ssim", "gripper_psnr", "psnr"]
    assert got["psnr"] == got["gripper_psnr"] == metrics.UINT8_PSNR_CEILING_DB  # inf, capped
    assert got["ssim"] == pytest.approx(1.0)
    assert list(metrics.score(v, v, region)) == list(metrics.METRICS)
    with pytest.raises(ConfigError, match="metrics="):
        metrics.score(v, v, region, names=("lpips",))
    assert metrics.finite_mean([1.0, None, math.nan, math.inf, 3.0]) == 2.0
    assert math.isnan(metrics.finite_mean([math.nan, None]))


def test_region_mask_and_loss_weight():
    kp = torch.tensor([[[8.0, 4.0], [float("nan"), float("nan")]]])  # (T=1, K=2, 2)
    disc = region_mask(kp, 16, 16, radius_px=2.0, shape="disc")
    assert disc.shape == (1, 16, 16)
    assert disc[0, 4, 8] == 1 and disc[0, 4, 10] == 1 and disc[0, 4, 11] == 0
    assert disc.sum() == 13  # lattice points within radius 2
    g = region_mask(kp, 16, 16, radius_px=2.0, shape="gaussian")
    assert g[0, 4, 8] == pytest.approx(1.0) and g[0, 4, 10] == pytest.approx(math.exp(-0.5))
    w = loss_weight(kp[None, None], 16, 16, factor=3.0, radius=0.125, shape="disc",
                    keypoint_indices=[0])
    assert w.shape == (1, 1, 1, 1, 16, 16)
    assert w.max() == 3.0 and w.min() == 1.0
