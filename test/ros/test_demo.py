"""``vap-ros demo`` end to end with the tiny model: rig process + lookahead + driver."""

import json

import cv2
import numpy as np
import pytest

pytestmark = [pytest.mark.ros, pytest.mark.mujoco, pytest.mark.slow]


def test_demo_writes_videos_and_metrics(tmp_path):
    from vap_ros.ros.demo import DemoSettings, run_demo

    out = tmp_path / "demo"
    s = DemoSettings(out=out, model="tiny", task="reach", seed=3, cameras=("front", "left"),
                     steps=2)
    report = run_demo(s, progress=lambda *_: None)
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["task"] == "reach" and set(saved["cameras"]) == {"front", "left"}
    for cam in ("front", "left"):
        assert (out / f"{cam}_side_by_side.mp4").stat().st_size > 0
        assert (out / f"{cam}_side_by_side.gif").stat().st_size > 0
        png = cv2.imread(str(out / f"{cam}_side_by_side_last.png"))
        # title bar + 3 tiles of 32 px scaled x4 with 2 px gaps
        assert png.shape == (18 + 128, 3 * 128 + 4, 3)
        per = report["per_camera"][cam]
        assert per["rollouts"] >= 1
        for label in ("model", "copy_first_frame"):
            for k in ("psnr", "ssim", "gripper_psnr"):
                assert np.isfinite(per[label][k]) or per[label][k] == float("inf")
        rows = per["per_rollout"]
        # the first rollout starts while the plan runs; the split is counted per camera
        assert rows[0]["during_plan"] and per["rollouts_during_plan"] == sum(
            r["during_plan"] for r in rows)
    d = saved["during_plan"]
    assert np.isfinite(d["mean"]["model"]["psnr"])
    assert d["gain_psnr_db"] == d["mean"]["model"]["psnr"] - d["mean"]["copy_first_frame"]["psnr"]
    assert report["latency"]["inference_s_mean"] > 0
    assert report["plan_duration_s"] > 1.0
