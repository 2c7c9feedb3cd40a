"""End to end on a real clip cache: rosbag -> ``vap-ros dataset``'s builder -> ``vap-ros train``
-> ``vap-ros train --resume`` -> ``vap-ros eval`` against a baseline."""

from __future__ import annotations

import json

import pytest

from vap_ros.cli import main


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    from vap_ros.data import build_dataset, load_rig_config
    from vap_ros.testing.bags import SyntheticRig, default_cameras, write_synthetic_bag

    root = tmp_path_factory.mktemp("cli")
    rig = SyntheticRig(default_cameras((48, 64), ("front",)), duration_s=2.0, camera_hz=10.0)
    write_synthetic_bag(root / "bag", rig)
    d = load_rig_config("sim").to_dict()
    d["clip"] = {"frames": 5, "fps": 10, "stride": 4, "size": [32, 32]}  # the tiny model's clips
    manifest = build_dataset([root / "bag"], root / "cache", d, progress=False)
    assert manifest["report"]["totals"]["clips_written"] >= 2
    return root / "cache"


def test_train_resume_eval_on_a_clip_cache(cache, tmp_path, capsys):
    import torch

    torch.set_num_threads(1)
    run = tmp_path / "run"
    common = ["--set", "log.progress=false", "--set", "log.sample_every=0",
              "--set", "log.sample_clips=1", "--set", "checkpoint.every=2"]
    assert main(["train", "--config", "tiny", "--data", str(cache), "--out", str(run),
                 "--set", "steps=2", *common]) == 0
    assert "trained 0 -> 2 steps" in capsys.readouterr().out
    # Same folder again without --resume: refused, nothing overwritten.
    assert main(["train", "--config", "tiny", "--data", str(cache), "--out", str(run)]) == 2
    assert "not empty" in capsys.readouterr().err
    # Resume with the saved config, training further.
    assert main(["train", "--resume", "--data", str(cache), "--out", str(run),
                 "--set", "steps=4"]) == 0
    assert "trained 2 -> 4 steps" in capsys.readouterr().out
    info = json.loads((run / "run.json").read_text())
    assert info["data"] == str(cache) and len(info["starts"]) == 2
    assert info["starts"][1]["resumed_from"].endswith("000002")
    assert info["dataset"]["type"] == "ClipDataset" and info["dataset"]["bags"] == 1
    assert info["dataset"]["clip"]["frames"] == 5

    # TensorBoard: scalars and the end-of-run rollout GIF; the resumed part replaced steps > 2
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    ev = EventAccumulator(str(run / "logs"), size_guidance={"images": 0, "scalars": 0})
    ev.Reload()
    tags = ev.Tags()
    assert {"train/loss", "train/lr", "throughput/clips_per_s"} <= set(tags["scalars"])
    assert "samples/clip0_view0" in tags["images"]
    assert [e.step for e in ev.Scalars("train/loss")] == [2, 4]  # log.every 10 + the last step
    assert sorted(p.name for p in (run / "samples").glob("*.mp4")) == [
        "step000002_clip0_view0.mp4", "step000004_clip0_view0.mp4"]

    out = tmp_path / "eval"
    assert main(["eval", "--checkpoint", str(run), "--data", str(cache), "--baseline",
                 str(run / "checkpoints" / "000002"), "--out", str(out), "--clips", "2",
                 "--steps", "2", "--videos", "1"]) == 0
    printed = capsys.readouterr().out
    assert "copy-first-frame" in printed and "ST-IoU" in printed
    report = json.loads((out / "metrics.json").read_text())
    assert len(report["models"]) == 3 and report["settings"]["clips"] == 2
    assert (out / "videos").is_dir() and len(list((out / "videos").rglob("*.gif"))) == 2


def test_cli_errors(cache, tmp_path, capsys):
    assert main(["train", "--data", str(cache), "--out", str(tmp_path / "r")]) == 2
    assert "--config is required" in capsys.readouterr().err
    assert main(["train", "--config", "tiny", "--data", str(cache), "--out",
                 str(tmp_path / "r"), "--set", "optim.lr"]) == 2
    assert "expected KEY=VALUE" in capsys.readouterr().err
    # small expects 64x64x9 clips: a clear message before any training
    assert main(["train", "--config", "small", "--data", str(cache), "--out",
                 str(tmp_path / "s")]) == 2
    assert "build the clip cache with the model's size" in capsys.readouterr().err
    assert main(["eval", "--checkpoint", str(tmp_path / "nope"), "--data", str(cache),
                 "--out", str(tmp_path / "e")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_bench_train_runs(capsys):
    import torch

    torch.set_num_threads(1)
    assert main(["bench", "train", "--presets", "tiny", "--batch", "1", "--steps", "1",
                 "--warmup", "1"]) == 0
    assert "tiny.clips_per_s" in capsys.readouterr().out


def test_set_parses_exponents_without_a_dot_as_numbers():
    from vap_ros.cli.train import parse_overrides

    got = parse_overrides(["optim.lr=1e-3", "optim.eps=2.5E-8", "steps=10", "x=1e5abc",
                           "model.preset=tiny"])
    assert got == {"optim.lr": 1e-3, "optim.eps": 2.5e-8, "steps": 10, "x": "1e5abc",
                   "model.preset": "tiny"}
