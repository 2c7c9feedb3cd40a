"""Run folders: a run that stopped before its first checkpoint can be started again with the
same command, and ``--resume`` says so (issue 11, audit finding 2); bad settings are one line
before anything is created (findings 3 and 4)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from synthetic import SyntheticClips
from train_script import config

from vap_ros.cli import main
from vap_ros.errors import CheckpointError, ConfigError, OutputError
from vap_ros.train.run import prepare_run_dir
from vap_ros.train.trainer import Trainer, load_jsonl


class Crashing(SyntheticClips):
    """Serves the model-fit check (item 0), then fails inside the training loop."""

    def __getitem__(self, i):
        if i != 0:
            raise RuntimeError("disk unplugged")
        return super().__getitem__(i)


def _dead_run(out: Path):
    """A run whose loop died at step 1, before its first checkpoint (every 2 steps)."""
    cfg = config(2, 2, batch=2)
    with pytest.raises(RuntimeError, match="disk unplugged"):
        Trainer(cfg, Crashing(4), out).fit()
    assert (out / "config.yaml").is_file() and (out / "run.json").is_file()
    assert not (out / "checkpoints").exists() or not any((out / "checkpoints").iterdir())
    return cfg


def test_a_run_that_died_before_its_first_checkpoint_can_be_started_again(tmp_path):
    import torch

    torch.set_num_threads(1)
    out = tmp_path / "run"
    cfg = _dead_run(out)
    # --resume: nothing to resume, and the message says what to do
    with pytest.raises(CheckpointError, match=r"stopped before its first checkpoint.*without "
                                              "--resume"):
        prepare_run_dir(out, cfg, resume=True)
    # other settings: refused (the folder is that run's)
    with pytest.raises(ConfigError, match=r"cannot start again .* seed: 0 -> 1"):
        prepare_run_dir(out, cfg.replace(seed=1), resume=False)
    # the same command again: trains from step 0 in the same folder
    summary = Trainer(cfg, SyntheticClips(4), out).fit()
    assert summary["start_step"] == 0 and summary["step"] == 2
    assert (out / "checkpoints" / "000002" / "manifest.json").is_file()
    info = json.loads((out / "run.json").read_text())
    assert [s["start_step"] for s in info["starts"]] == [0, 0]  # the failed start is kept
    assert [e["step"] for e in load_jsonl(out)] == [1, 2]


def test_a_dead_run_folder_with_foreign_files_is_still_refused(tmp_path):
    out = tmp_path / "run"
    cfg = _dead_run(out)
    (out / "my_notes.txt").write_text("keep")
    with pytest.raises(ConfigError, match="exists and is not empty"):
        prepare_run_dir(out, cfg, resume=False)


def test_a_run_still_running_is_not_started_twice(tmp_path):
    out = tmp_path / "run"
    cfg = _dead_run(out)
    info = json.loads((out / "run.json").read_text())
    info["starts"][-1]["pid"] = os.getppid()  # alive, on this host, not us
    (out / "run.json").write_text(json.dumps(info))
    with pytest.raises(ConfigError, match="may still be running"):
        prepare_run_dir(out, cfg, resume=False)


def test_run_folder_that_is_a_file(tmp_path):
    a_file = tmp_path / "run"
    a_file.write_text("x")
    with pytest.raises(OutputError, match="is a file"):
        prepare_run_dir(a_file, config(2, 2), resume=False)


@pytest.mark.parametrize("setting, words", [
    ("steps=true", "steps=True: expected an integer"),
    ("steps=2.5", "steps=2.5: expected an integer"),
    ("batch_size=1.5", "batch_size=1.5: expected an integer"),
    ("optim.lr=.nan", "optim.lr=nan: expected a finite number"),
    ("log.every=yes", "log.every='yes': expected an integer"),
    ("mixed_precision=false", "mixed_precision=False: expected one of"),
    ("optim.lrr=1", "optim.lrr=1: unknown key"),
    ("optimm.lr=1", "unknown key 'optimm'"),
    ("model.overrides.lora_rank='4'", "model.overrides.lora_rank='4': expected an integer"),
    ("model.overrides.colour=1", "model.overrides.colour=1: unknown key"),
])
def test_bad_set_is_one_line_before_anything_is_created(tmp_path, capsys, setting, words):
    run = tmp_path / "run"
    rc = main(["train", "--config", "tiny", "--data", str(tmp_path / "no_cache"), "--out",
               str(run), "--set", setting])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and words in err, err
    assert not run.exists()


def test_set_reads_values_as_yaml_1_2():
    """Only true/false are bools (``mixed_precision=no`` is the string "no", as scripts pass
    it); numbers with an exponent and no dot are numbers."""
    from vap_ros.cli.train import parse_overrides

    assert parse_overrides(["mixed_precision=no", "a=true", "b=Off", "c=1e-4", "d=3"]) == {
        "mixed_precision": "no", "a": True, "b": "Off", "c": 1e-4, "d": 3}


def test_bad_training_files_are_one_line(tmp_path, capsys):
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    nested = tmp_path / "nested.yaml"
    nested.write_text("steps: 3\noptim: {lr: 0.001, betas: [0.9, true]}\n")
    for path, words in ((empty, "is empty"), (nested, "optim.betas[1]=True")):
        rc = main(["train", "--config", str(path), "--data", str(tmp_path), "--out",
                   str(tmp_path / "run")])
        err = capsys.readouterr().err
        assert rc == 2 and err.count("\n") == 1 and words in err and str(path) in err
