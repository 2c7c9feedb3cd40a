"""Plan ranking (``vap_ros.serve.ranking``, ``vap_ros.train.ranking``, ``vap-ros rank``,
``vap-ros experiment ranking``) on tiny sim scenes: an oracle predictor (the real rollout)
ranks as the truth does, a copy-first-frame predictor cannot separate the plans, the CLIs write
their JSON and pictures, bad input is one clear error."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from vap_ros.cli import main
from vap_ros.data.clips import resize_frame
from vap_ros.errors import ConfigError, ModelError
from vap_ros.robot import RobotModel
from vap_ros.serve.ranking import goal_region, rank_order, rank_plans, score_final
from vap_ros.sim import SceneConfig
from vap_ros.sim.candidates import candidate_plans, execute_plans, rank_scene, task_success
from vap_ros.train.ranking import RankingSettings, scene_stats

CONFIG = SimpleNamespace(height=32, width=32, num_frames=5, fps=8.0, steps=1)


class Oracle:
    """Returns, for the i-th plan it is asked about, a video ending in that plan's real final
    frames (the plans are predicted in their order)."""

    config = CONFIG

    def __init__(self, finals):
        self.finals, self.calls = finals, 0

    def predict_long(self, first, prompts, **kw):
        video = np.repeat(self.finals[self.calls][:, None], prompts.shape[1], axis=1)
        video[:, 0] = first
        self.calls += 1
        return video


class Copy:
    """Copy-first-frame: every plan's video is its first frame held."""

    config = CONFIG

    def predict_long(self, first, prompts, **kw):
        return np.repeat(first[:, None], prompts.shape[1], axis=1)


@pytest.fixture(scope="module")
def world():
    """A push scene (32 px), 5 candidates and their real outcomes."""
    robot = RobotModel.from_preset("panda")
    cfg = SceneConfig(width=32, height=32, msaa_samples=0, objects=(2, 3))
    scene = rank_scene(cfg, robot, 3, "push")
    cands = candidate_plans("push", scene.layout, robot, np.random.default_rng(0), 5,
                            q0=scene.q0, plan_rng_state=scene.plan_rng_state)
    plans = [c.trajectory for c in cands]
    first, cams, outs = execute_plans(cfg, scene, plans, end_s=7.0, robot=robot)
    names = [c.name for c in cams]
    finals = [np.stack([resize_frame(o.images[n], (32, 32)) for n in names]) for o in outs]
    success = [task_success("push", scene.nominal.info, o, outs[0])[0] for o in outs]
    return SimpleNamespace(first=[first[n] for n in names], cams=cams, plans=plans,
                           goal=finals[0], finals=finals, success=success)


def _true_scores(world):
    region = goal_region(np.stack(world.first), world.goal)
    return [score_final(f, world.goal, region)["region"] for f in world.finals]


def test_oracle_predictor_ranks_as_the_truth(world):
    res = rank_plans(Oracle(world.finals), world.first, world.cams, world.plans, world.goal,
                     frames=9)
    true = _true_scores(world)
    np.testing.assert_allclose(res.scores["region"], true)
    assert res.ranking == rank_order(true) and res.ranking[0] == 0  # the goal's own plan
    assert len(set(np.round(true, 6))) == len(true)  # the candidates' outcomes differ
    stats = scene_stats(res.scores["region"], true, world.success)
    assert stats["spearman"] == pytest.approx(1.0)
    assert stats["top1_success"] == stats["oracle_success"] == 1.0
    assert stats["random_success"] < 1.0  # some candidates miss


def test_copy_first_frame_cannot_separate_plans(world):
    res = rank_plans(Copy(), world.first, world.cams, world.plans, world.goal, frames=9,
                     keep_videos=True)
    K, V = len(world.plans), len(world.cams)
    assert res.videos.shape == res.prompts.shape == (K, V, 9, 32, 32, 3)
    assert not np.array_equal(res.prompts[0], res.prompts[1])  # each plan's own prompts
    np.testing.assert_array_equal(res.videos[:, :, -1], res.final_frames)
    for m in ("region", "psnr"):
        assert np.ptp(res.scores[m]) == 0.0  # all tied
    stats = scene_stats(res.scores["region"], _true_scores(world), world.success)
    assert stats["spearman"] is None and stats["predicted_ties_at_top"] == len(world.plans)
    assert stats["top1_success"] == pytest.approx(stats["random_success"])


def test_rank_plans_bad_input(world):
    with pytest.raises(ModelError, match="no plans"):
        rank_plans(Copy(), world.first, world.cams, [], world.goal)
    with pytest.raises(ModelError, match="metric 'ssim'"):
        rank_plans(Copy(), world.first, world.cams, world.plans, world.goal, metric="ssim")
    from vap_ros.errors import ImageError

    with pytest.raises(ImageError, match="goal: 2 images for 3 cameras"):
        rank_plans(Copy(), world.first, world.cams, world.plans, world.goal[:2])


def test_settings_refuse_k_below_two():
    with pytest.raises(ConfigError, match="candidates=1: expected an integer >= 2"):
        RankingSettings(candidates=1).check()


def test_rank_cli_writes_json(tmp_path, capsys):
    out = tmp_path / "rank"
    args = ["rank", "--sim-seed", "3", "--task", "reach", "--candidates", "2", "--model", "tiny",
            "--steps", "1", "--out", str(out), "--no-progress"]
    assert main(args + ["--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    saved = json.loads((out / "ranking.json").read_text())
    assert printed["ranking"] == saved["ranking"] and sorted(saved["ranking"]) == [0, 1]
    assert [p["id"] for p in saved["plans"]] == [0, 1]
    for p in saved["plans"]:
        assert {"predicted_score", "true_score", "success", "perturbation"} <= set(p)
    assert saved["plans"][0]["nominal"] and saved["plans"][0]["success"]
    assert (out / "candidates.png").stat().st_size > 0
    assert main(args) == 2  # no silent overwrite
    assert "already holds ranking.json" in capsys.readouterr().err


@pytest.mark.parametrize("bad, message", [
    (["--candidates", "1", "--task", "reach"], "candidates=1: expected an integer >= 2"),
    (["--candidates", "3", "--task", "fly"], "invalid choice: 'fly'"),
])
def test_rank_cli_bad_input_is_one_clear_error(tmp_path, capsys, bad, message):
    args = ["rank", "--sim-seed", "3", "--model", "tiny", "--out", str(tmp_path / "o")] + bad
    try:
        code = main(args)
    except SystemExit as err:  # argparse: a choice that does not exist
        code = err.code
    assert code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "o" / "ranking.json").exists()


def test_experiment_cli_writes_summary_and_pictures(tmp_path, capsys):
    out = tmp_path / "exp"
    assert main(["experiment", "ranking", "--scenes", "2", "--candidates", "2", "--task",
                 "reach", "--model", "tiny", "--steps", "1", "--sim-seed", "3", "--out",
                 str(out), "--json", "--no-progress"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["scenes"] == 2 and summary["candidates"] == 2
    assert {"spearman_mean", "top1_success", "random_success", "oracle_success"} <= set(summary)
    assert summary["oracle_success"] == 1.0
    report = json.loads((out / "ranking.json").read_text())
    assert len(report["scenes"]) == 2 and report["summary"] == summary
    assert (out / "scatter.png").stat().st_size > 0
    assert (out / "candidates.png").stat().st_size > 0
