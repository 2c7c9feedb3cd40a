"""The horizon curve (``vap_ros.train.horizon``, ``vap-ros experiment horizon``) on tiny
synthetic rig bags (one plan each) and the tiny random model: the plan video is the dataset
builder's, the bins cover the plan, the three ways are scored on the same frames, short and
broken episodes are skipped and counted, the CLI writes its files."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from vap_ros.cli import main
from vap_ros.data.plan_video import read_plan_video
from vap_ros.errors import ConfigError, PlanTooShort
from vap_ros.model import WorldModel
from vap_ros.testing.bags import SyntheticRig, default_cameras, write_synthetic_bag
from vap_ros.train import metrics
from vap_ros.train.horizon import WAYS, HorizonSettings, horizon, rollouts

PLAN_S = 2.5  # the long plans; the tiny model: 32x32, 5 frames (stride 4) at 8 fps


def _bag(path, plan_s, seed=0, **kw):
    rig = SyntheticRig(default_cameras((48, 64), ("front", "left")), duration_s=plan_s + 0.2,
                       camera_hz=16.0, plan_period_s=plan_s, seed=seed)
    write_synthetic_bag(path, rig, **kw)
    return path


@pytest.fixture(scope="module")
def episodes(tmp_path_factory):
    """A folder of bags: two 2.5 s plans, one 1 s plan, one bag without camera_info."""
    root = tmp_path_factory.mktemp("episodes")
    _bag(root / "a_long", PLAN_S, seed=1)
    _bag(root / "b_short", 1.0, seed=2)
    _bag(root / "c_broken", PLAN_S, seed=3, camera_info=False)
    _bag(root / "d_long", PLAN_S, seed=4)
    return root


@pytest.fixture(scope="module")
def wm():
    torch.set_num_threads(1)
    return WorldModel.from_preset("tiny", seed=0).eval()


def test_plan_video_is_the_dataset_builders_clip(episodes, tmp_path):
    """Frames and prompts of the plan's first clip equal those ``vap-ros dataset build``
    writes for the clip starting at the plan's start (same fps, size, commanded prompts)."""
    from vap_ros.data import ClipDataset, build_dataset, load_rig_config

    pv = read_plan_video(episodes / "a_long", "sim", fps=8.0, size=(32, 32))
    L = pv.video.shape[1]
    assert pv.cameras == ["front", "left"] and pv.prompts.shape == pv.video.shape
    assert pv.plan_s == pytest.approx(PLAN_S)
    np.testing.assert_allclose(pv.t_s, np.arange(L) / 8.0, atol=0.02)
    assert L == int(PLAN_S * 8) + 1  # every frame from the plan's start to its end
    cfg = load_rig_config("sim").to_dict()
    cfg["clip"] = {"frames": 5, "fps": 8.0, "stride": 4, "size": [32, 32]}
    build_dataset([episodes / "a_long"], tmp_path / "cache", cfg, progress=False,
                  alignment=False)
    clip = ClipDataset(tmp_path / "cache", source="commanded").raw(0)
    np.testing.assert_array_equal(clip["video"], pv.video[:, :5])
    np.testing.assert_array_equal(clip["prompts_commanded"], pv.prompts[:, :5])
    with pytest.raises(PlanTooShort, match=r"lasts 1\.00 s"):
        read_plan_video(episodes / "b_short", "sim", fps=8.0, size=(32, 32), min_plan_s=2.0)


def test_reanchored_differs_from_autoregressive_after_chunk_one(episodes, wm):
    pv = read_plan_video(episodes / "a_long", "sim", fps=8.0, size=(32, 32))
    preds = rollouts(wm, pv, steps=2, seed=0)
    ar, ra, copy = (preds[w] for w in WAYS)
    assert ar.shape == ra.shape == copy.shape == pv.video.shape
    np.testing.assert_array_equal(ar[:, :5], ra[:, :5])  # chunk 0: the same call
    for k in range(5, pv.video.shape[1]):  # every later frame differs
        assert not np.array_equal(ar[:, k], ra[:, k]), k
    np.testing.assert_array_equal(copy, np.repeat(pv.video[:, :1], pv.video.shape[1], 1))


def test_horizon_bins_cover_the_plan_and_skips_are_counted(episodes, wm, tmp_path):
    s = HorizonSettings(min_plan_s=2.0, steps=2, videos=1)
    rep = horizon(wm, [episodes], tmp_path / "out", s, progress=False)
    assert rep["counts"] == {"found": 4, "scored": 2, "too_short": 1, "failed": 1,
                             "not_read": 0}
    why = {x["bag"].rsplit("/", 1)[-1]: x for x in rep["skipped"]}
    assert why["b_short"]["reason"] == "too short" and why["b_short"]["plan_s"] == 1.0
    assert why["c_broken"]["reason"] == "failed" and "CalibrationError" in \
        why["c_broken"]["error"]
    assert rep["stride"] == 4 and rep["bin_s"] == 0.5
    for e in rep["episodes"]:
        L = e["frames"]
        n_bins = math.ceil((L - 1) / 4)
        for way in WAYS:  # the three ways on the same frames and bins
            w = e["ways"][way]
            assert [len(v) for v in w["frame_psnr"]] == [L - 1] * 2
            assert len(w["bins"]) == n_bins
            assert all(len(b[m]) == 2 for b in w["bins"] for m in metrics.METRICS)
    # bins cover the plan: the last ends at or after its last frame
    assert rep["bins"][-1]["t1_s"] >= PLAN_S and rep["bins"][-1]["t0_s"] < PLAN_S
    assert [b["views"] for b in rep["bins"]] == [4] * len(rep["bins"])
    assert len(rep["frames"]) == int(PLAN_S * 8)
    # copy-first-frame scores exactly the copy
    pv = read_plan_video(episodes / "a_long", "sim", fps=8.0, size=(32, 32))
    a = next(e for e in rep["episodes"] if e["bag"].endswith("a_long"))
    for v in range(2):
        want = [metrics.capped(metrics.psnr(pv.video[v, k:k + 1], pv.video[v, :1],
                                            skip_first=0)) for k in range(1, L)]
        assert a["ways"]["copy-first-frame"]["frame_psnr"][v] == pytest.approx(want)
        assert a["ways"]["copy-first-frame"]["bins"][1]["st_iou"][v] == \
            metrics.st_iou(pv.video[v, 4:9], np.repeat(pv.video[v, :1], 5, 0))
    # bin 0 is one call for both model ways; later bins differ
    ar, ra = (a["ways"][w]["bins"] for w in WAYS[:2])
    assert ar[0] == ra[0] and ar[1:] != ra[1:]
    # what was written
    out = tmp_path / "out"
    saved = json.loads((out / "horizon.json").read_text())
    assert saved["counts"] == rep["counts"] and len(saved["bins"]) == len(rep["bins"])
    assert (out / "horizon.png").stat().st_size > 1000
    videos = sorted(p.name for p in (out / "videos").iterdir())
    assert videos == [f"000_a_long_{c}{x}" for c in ("front", "left")
                      for x in (".gif", ".mp4", "_frames.png")]


def test_horizon_max_episodes_and_nothing_to_score(episodes, wm):
    rep = horizon(wm, [episodes], None, HorizonSettings(min_plan_s=2.0, steps=1,
                                                        max_episodes=1), progress=False)
    assert rep["counts"]["scored"] == 1 and rep["counts"]["not_read"] == 3  # b, c, d
    with pytest.raises(ConfigError, match="no episode scored: 4 found, 3 with a plan shorter "
                                          "than 9 s, 1 failed"):
        horizon(wm, [episodes], None, HorizonSettings(min_plan_s=9.0), progress=False)


def test_cli_writes_json_png_and_videos(episodes, tmp_path, capsys):
    out = tmp_path / "cli"
    argv = ["experiment", "horizon", "--episodes", str(episodes / "a_long"), "--episodes",
            str(episodes / "b_short"), "--model", "tiny", "--min-plan-s", "2", "--steps", "1",
            "--out", str(out), "--json", "--no-progress"]
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["counts"]["scored"] == 1 and printed["counts"]["too_short"] == 1
    assert set(printed["bins"][0]) >= {"t0_s", "t1_s", *WAYS}
    assert (out / "horizon.json").is_file() and (out / "horizon.png").is_file()
    assert (out / "table.txt").read_text().startswith("t (s)")
    assert len(list((out / "videos").glob("*.mp4"))) == 2
    assert main(argv) == 2  # no silent overwrite
    assert "--force" in capsys.readouterr().err
    assert main(argv[:-3] + [str(tmp_path / "none"), "--min-plan-s", "60"]) == 2
    assert "no episode scored" in capsys.readouterr().err


def test_cli_compares_models_side_by_side(episodes, tmp_path, capsys):
    """--compare: a second model on the same episodes; comparison.{json,txt,png} hold both
    autoregressive curves. The second is the same tiny model saved with an inference
    conditioning noise: chunk 0 (bin 0) is the same call, later chunks differ."""
    noisy = tmp_path / "noisy"
    WorldModel.from_preset("tiny", seed=0, cond_noise=0.3).save_pretrained(noisy)
    out = tmp_path / "cmp"
    argv = ["experiment", "horizon", "--episodes", str(episodes / "a_long"), "--model", "tiny",
            "--compare", str(noisy), "--min-plan-s", "2", "--steps", "1", "--videos", "0",
            "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "PSNR AR A  PSNR AR B" in printed and f"B = {noisy}" in printed
    comp = json.loads((out / "comparison.json").read_text())
    mine = json.loads((out / "horizon.json").read_text())
    other = json.loads((out / "compare_1" / "horizon.json").read_text())
    assert comp["models"] == ["tiny", str(noisy)] and comp["episodes"] == [
        e["bag"] for e in other["episodes"]]
    for b, row in enumerate(comp["bins"]):
        assert row["models"][0]["autoregressive"] == mine["bins"][b]["autoregressive"]
        assert row["models"][1]["re-anchored"] == other["bins"][b]["re-anchored"]
    ar = [[row["models"][i]["autoregressive"]["psnr"] for row in comp["bins"]] for i in (0, 1)]
    assert ar[0][0] == ar[1][0] and ar[0][1:] != ar[1][1:]
    re_anchored = [[row["models"][i]["re-anchored"]["psnr"] for row in comp["bins"]]
                   for i in (0, 1)]
    assert re_anchored[0] == re_anchored[1]  # real frames at every chunk start: no noise
    assert [r["pairs"] for r in comp["paired"][0]["bins"]] == [2] * len(comp["bins"])
    assert comp["summary"][1]["ar_psnr_later"] == pytest.approx(np.mean(ar[1][1:]))
    assert (out / "comparison.png").stat().st_size > 1000
    assert (out / "comparison.txt").read_text().startswith("t (s)")
    assert main(argv) == 2  # no silent overwrite
    capsys.readouterr()
    # a model of another clip length would bin differently: refused before any rollout
    other_geo = tmp_path / "other"
    WorldModel.from_preset("tiny", seed=0, num_frames=9).save_pretrained(other_geo)
    bad = ["experiment", "horizon", "--episodes", str(episodes / "a_long"), "--model", "tiny",
           "--compare", str(other_geo), "--min-plan-s", "2", "--out", str(tmp_path / "b")]
    assert main(bad) == 2
    assert "num_frames 9" in capsys.readouterr().err and not (tmp_path / "b" /
                                                              "horizon.json").exists()


def test_compare_reports_needs_the_same_episodes(episodes, wm):
    from vap_ros.train.horizon import compare_reports

    s = HorizonSettings(min_plan_s=2.0, steps=1, videos=0)
    a = horizon(wm, [episodes / "a_long"], None, s, progress=False)
    b = horizon(wm, [episodes / "d_long"], None, s, progress=False)
    with pytest.raises(ConfigError, match="other episodes"):
        compare_reports([a, b], ["a", "b"])
    with pytest.raises(ConfigError, match="at least two"):
        compare_reports([a])
    same = compare_reports([a, a], ["a", "a2"])
    assert all(r["higher"] == 0 and r["mean_diff_db"] == 0 for r in same["paired"][0]["bins"])
