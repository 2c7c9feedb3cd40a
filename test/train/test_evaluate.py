"""Evaluation: checkpoint vs copy-first-frame vs another model on the same clips."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from synthetic import SyntheticClips

from vap_ros.errors import ConfigError
from vap_ros.train.evaluate import (
    COPY_FIRST_FRAME,
    EvalSettings,
    clip_uint8,
    evaluate,
    format_table,
    load_models,
)


def test_evaluate_checkpoint_against_baselines(straight_run, tmp_path):
    ds = SyntheticClips(3)
    models = load_models(straight_run, [straight_run / "checkpoints" / "000003"])
    labels = list(models)
    assert labels[1] == COPY_FIRST_FRAME and len(labels) == 3
    out = tmp_path / "eval"
    report = evaluate(models, ds, out, EvalSettings(steps=2, videos=1), progress=False)

    saved = json.loads((out / "metrics.json").read_text())
    assert set(saved["models"]) == set(labels)
    for label in labels:
        agg = saved["models"][label]["aggregate"]
        assert agg["clips"] == 3 and len(saved["models"][label]["clips"]) == 3
        for k in ("psnr", "ssim", "st_iou", "gripper_psnr"):
            assert isinstance(agg[k], float), (label, k)
    # copy-first-frame: the scene moves, the copy does not -> ST-IoU exactly 0.
    cff = report["models"][COPY_FIRST_FRAME]["aggregate"]
    assert cff["st_iou"] == 0.0 and 0 < cff["ssim"] < 1
    assert any("LPIPS and FVD are not computed" in n and "neither ships nor downloads" in n
               for n in saved["notes"])
    table = (out / "table.txt").read_text()
    assert table == format_table(report) + "\n"
    for label in labels:
        assert label in table
    videos = sorted(p.relative_to(out).as_posix() for p in (out / "videos").rglob("*.*"))
    assert len(videos) == 4  # 2 trained models x 1 clip x (mp4 + gif); none for the copy
    assert all(v.endswith(("clip0000_view0.mp4", "clip0000_view0.gif")) for v in videos)
    import imageio.v3 as iio

    frames = iio.imread(out / videos[0])
    assert frames.shape[0] == 5  # real | predicted | prompt, every frame


def test_copy_first_frame_of_a_still_clip_is_perfect():
    ds = SyntheticClips(1)
    clip = clip_uint8(ds, 0)
    still = {**clip, "video": np.repeat(clip["video"][:, :1], 5, axis=1)}

    from vap_ros.train.evaluate import _score, predict_clip

    pred = predict_clip(COPY_FIRST_FRAME, still)
    region = np.ones(pred.shape[:4], bool)
    s = _score(still["video"], pred, region, EvalSettings())
    # identical clips score the uint8 ceiling (a per-clip inf would make any mean infinite)
    from vap_ros.train.metrics import UINT8_PSNR_CEILING_DB

    assert s["psnr"] == pytest.approx(UINT8_PSNR_CEILING_DB) and s["psnr"] < math.inf
    assert s["ssim"] == pytest.approx(1.0) and s["st_iou"] == 1.0


def test_model_that_does_not_fit_the_clips(straight_run):
    models = load_models(straight_run)
    with pytest.raises(ConfigError, match="takes 5 frames of 32x32; the clips have 5 frames "
                                          "of 16x16"):
        evaluate(models, SyntheticClips(2, size=16), None, progress=False)


def test_eval_loads_models_in_the_requested_dtype(straight_run):
    import torch

    from vap_ros.cli.eval import DTYPES
    from vap_ros.serve import DTYPES as SERVE_DTYPES

    assert DTYPES == SERVE_DTYPES  # the CLI's choices are the loader's
    models = load_models(straight_run, dtype="bfloat16")
    wm = next(m for m in models.values() if not isinstance(m, str))
    assert wm.dtype == torch.bfloat16 and not wm.training
    report = evaluate(models, SyntheticClips(1), None, EvalSettings(steps=1), progress=False)
    assert all(isinstance(e["aggregate"]["psnr"], float) for e in report["models"].values())


def test_latent_models_decode_in_tiles_wherever_they_run():
    from types import SimpleNamespace

    from diffusers import AutoencoderKLCogVideoX

    from vap_ros.serve import enable_vae_tiling

    def vae(size):
        return AutoencoderKLCogVideoX(
            down_block_types=("CogVideoXDownBlock3D",) * 4,
            up_block_types=("CogVideoXUpBlock3D",) * 4, block_out_channels=(8, 8, 8, 8),
            latent_channels=4, layers_per_block=1, norm_num_groups=4, sample_height=size[0],
            sample_width=size[1])

    big = vae((480, 720))  # CogVideoX's sample size: 240x360 px tiles, 30x45 latent
    assert not big.use_tiling and not big.use_slicing
    assert enable_vae_tiling(SimpleNamespace(codec=SimpleNamespace(vae=big)))
    assert big.use_tiling and big.use_slicing
    small = vae((32, 32))  # 16 px tiles, 2 px latent: too small to tile, sliced only
    assert not enable_vae_tiling(SimpleNamespace(codec=SimpleNamespace(vae=small)))
    assert small.use_slicing and not small.use_tiling
    assert not enable_vae_tiling(SimpleNamespace(codec=SimpleNamespace(vae=None)))
