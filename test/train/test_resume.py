"""Checkpoints: a killed-and-resumed run ends bit-identical to a straight one; damaged
checkpoints are detected and the previous one takes over."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vap_ros.errors import CheckpointError, ConfigError
from vap_ros.train import checkpoint as ckpt_io

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from synthetic import SyntheticClips
from train_script import config

STEPS, EVERY = 6, 3


def _weights(ckpt: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(ckpt / "trainable.safetensors"))


def _assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def _train(out: Path, resume: bool = False, steps: int = STEPS):
    from vap_ros.train.trainer import Trainer

    torch.set_num_threads(1)
    t = Trainer(config(steps, EVERY), SyntheticClips(8), out, resume=resume)
    return t, t.fit()


@pytest.fixture()
def straight(straight_run) -> Path:
    return straight_run


def test_run_folder_describes_itself(straight):
    import json

    import yaml

    info = json.loads((straight / "run.json").read_text())
    assert info["versions"]["vap_ros"] and info["versions"]["torch"]
    assert "sha" in info["git"] and len(info["starts"]) == 1
    saved = yaml.safe_load((straight / "config.yaml").read_text())
    assert saved["steps"] == STEPS and saved["model"]["preset"] == "tiny"
    ckpts = straight / "checkpoints"
    assert sorted(p.name for p in ckpt_io.checkpoint_dirs(straight)) == ["000003", "000006"]
    assert os.readlink(ckpts / "last") == "000006"
    manifest = ckpt_io.verify(ckpts / "000006")
    assert {"trainable.safetensors", "training_state.pt", "rng/rank_0.pt",
            "trainer_state.json"} <= set(manifest["files"])
    assert any(f.startswith("model/") for f in manifest["files"])
    from vap_ros.train.trainer import load_jsonl

    assert [r["step"] for r in load_jsonl(straight)] == list(range(1, STEPS + 1))


def test_existing_run_folder_is_not_overwritten(straight):
    from vap_ros.train.trainer import Trainer

    with pytest.raises(ConfigError, match="not empty"):
        Trainer(config(STEPS, EVERY), SyntheticClips(8), straight)
    with pytest.raises(ConfigError, match=r"different settings.*optim\.lr"):
        Trainer(config(STEPS, EVERY, **{"optim.lr": 1e-2}), SyntheticClips(8), straight,
                resume=True)


def test_kill_after_half_then_resume_is_bit_identical(straight, tmp_path):
    out = tmp_path / "killed"
    cmd = [sys.executable, str(HERE / "train_script.py"), "--out", str(out), "--steps",
           str(STEPS), "--every", str(EVERY), "--kill-at", str(STEPS // 2)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9, proc.stderr[-3000:]  # SIGKILL right after checkpoint 3
    assert [p.name for p in ckpt_io.checkpoint_dirs(out)] == ["000003"]

    trainer, summary = _train(out, resume=True)
    assert summary["start_step"] == 3 and summary["step"] == STEPS
    _assert_same(_weights(straight / "checkpoints" / "000006"),
                 _weights(out / "checkpoints" / "000006"))
    # The whole model (frozen parts rebuilt from the config) matches too.
    from vap_ros.model import WorldModel

    a = WorldModel.from_pretrained(straight / "checkpoints" / "000006" / "model").state_dict()
    _assert_same(a, {k: v.detach() for k, v in trainer.model.state_dict().items()})
    from vap_ros.train.trainer import load_jsonl

    assert [r["train/loss"] for r in load_jsonl(out)] == \
        [r["train/loss"] for r in load_jsonl(straight)]


def test_corrupt_checkpoint_is_detected_and_the_previous_one_resumes(straight, tmp_path,
                                                                      caplog):
    run = tmp_path / "run"
    shutil.copytree(straight, run, symlinks=True)
    newest = run / "checkpoints" / "000006"
    weights = newest / "trainable.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])  # truncated
    with pytest.raises(CheckpointError, match=r"000006 is corrupt: trainable.safetensors has"):
        ckpt_io.verify(newest)
    with pytest.raises(CheckpointError, match="corrupt"):
        ckpt_io.resolve_model_dir(newest)

    with caplog.at_level(logging.INFO):
        _, summary = _train(run, resume=True)
    text = caplog.text
    assert "000006 is corrupt" in text and "falling back to the previous checkpoint" in text
    assert f"resuming from {run / 'checkpoints' / '000003'}" in text
    assert summary["start_step"] == 3
    # Redoing steps 4..6 from checkpoint 3 gives the straight run's weights again.
    ckpt_io.verify(newest)
    _assert_same(_weights(straight / "checkpoints" / "000006"), _weights(newest))


AUGMENT = {"augment.cond_noise": 0.4, "augment.cond_blur": 1.0, "augment.cond_prob": 0.75}


def test_conditioning_augmentation_trains_differently_and_resumes_bit_identical(straight,
                                                                               tmp_path):
    """With the conditioning-frame corruption on (its draws come from each micro-batch's
    generator), a run redone from its step-3 checkpoint ends bit-identical; the corruption
    changes training, and the trained model records its inference noise level."""
    import json

    from vap_ros.train.trainer import Trainer, load_jsonl

    torch.set_num_threads(1)
    run = tmp_path / "aug"
    Trainer(config(STEPS, EVERY, **AUGMENT), SyntheticClips(8), run).fit()
    plain_loss = [r["train/loss"] for r in load_jsonl(straight)]
    aug_loss = [r["train/loss"] for r in load_jsonl(run)]
    assert aug_loss[0] != plain_loss[0] and aug_loss[-1] != plain_loss[-1]
    a, b = _weights(straight / "checkpoints" / "000006"), _weights(run / "checkpoints" / "000006")
    assert a.keys() == b.keys() and not all(torch.equal(a[k], b[k]) for k in a)
    model = run / "checkpoints" / "000006" / "model"
    assert json.loads((model / "vap_config.json").read_text())["cond_noise"] == 0.2  # 0.4 / 2
    assert json.loads((straight / "checkpoints" / "000006" / "model" /
                       "vap_config.json").read_text())["cond_noise"] == 0.0

    again = tmp_path / "again"
    shutil.copytree(run, again, symlinks=True)
    shutil.rmtree(again / "checkpoints" / "000006")  # as if killed right after checkpoint 3
    trainer = Trainer(config(STEPS, EVERY, **AUGMENT), SyntheticClips(8), again, resume=True)
    summary = trainer.fit()
    assert summary["start_step"] == 3 and trainer.model.config.cond_noise == 0.2
    _assert_same(_weights(run / "checkpoints" / "000006"),
                 _weights(again / "checkpoints" / "000006"))
    assert [r["train/loss"] for r in load_jsonl(again)] == aug_loss
    with pytest.raises(ConfigError, match=r"augment\.cond_noise: 0\.4 -> 0\.1"):
        Trainer(config(STEPS, EVERY, **{**AUGMENT, "augment.cond_noise": 0.1}),
                SyntheticClips(8), again, resume=True)


def test_modified_and_incomplete_checkpoints(straight, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(straight, run, symlinks=True)
    c3, c6 = run / "checkpoints" / "000003", run / "checkpoints" / "000006"
    state = c6 / "trainer_state.json"
    state.write_text(state.read_text().replace('"step": 6', '"step": 7'))  # same size
    with pytest.raises(CheckpointError, match="does not match its sha256"):
        ckpt_io.verify(c6)
    (c3 / "manifest.json").unlink()
    with pytest.raises(CheckpointError, match="not completely written"):
        ckpt_io.verify(c3)
    assert ckpt_io.latest_valid(run) is None
    with pytest.raises(CheckpointError, match="no complete, uncorrupted checkpoint"):
        ckpt_io.resolve_model_dir(run)
    (run / "checkpoints" / ".tmp-000009").mkdir()  # a save interrupted by a kill
    ckpt_io.clean_stale(run / "checkpoints")
    assert not (run / "checkpoints" / ".tmp-000009").exists()


def test_resolve_model_dir(straight):
    ckpts = straight / "checkpoints"
    assert ckpt_io.resolve_model_dir(straight) == ckpts / "000006" / "model"
    assert ckpt_io.resolve_model_dir(ckpts / "000003") == ckpts / "000003" / "model"
    assert ckpt_io.resolve_model_dir(ckpts / "last") == ckpts / "last" / "model"
    with pytest.raises(CheckpointError, match="does not exist"):
        ckpt_io.resolve_model_dir(straight / "nope")
