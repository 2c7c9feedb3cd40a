"""``--time-budget``: durations, a throughput probe that leaves the run untouched, step sizing."""

from __future__ import annotations

import json
import time

import pytest
import torch
from synthetic import SyntheticClips
from train_script import config

from vap_ros.errors import ConfigError
from vap_ros.train.budget import parse_duration, probe_step_time, size_steps
from vap_ros.train.trainer import Trainer


@pytest.mark.parametrize("text, seconds", [("8m", 480.0), ("90s", 90.0), ("1h30m", 5400.0),
                                           ("2.5m", 150.0), ("45", 45.0), (12, 12.0)])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "8 minutes", "-3m", "0", "m"])
def test_parse_duration_refuses_nonsense(bad):
    with pytest.raises(ConfigError, match="time budget"):
        parse_duration(bad)


def _weights(trainer):
    return {n: p.detach().clone() for n, p in trainer.model.named_parameters()}


def test_probe_leaves_the_run_exactly_as_without_it(tmp_path):
    torch.set_num_threads(1)
    plain = Trainer(config(4, 4), SyntheticClips(8), tmp_path / "plain")
    plain.fit()
    probed = Trainer(config(4, 4), SyntheticClips(8), tmp_path / "probed")
    before = _weights(probed)
    info = probe_step_time(probed, warmup=1, steps=2)
    assert info["step_s"] > 0 and info["clips_per_s"] > 0
    after = _weights(probed)
    assert all(torch.equal(before[n], after[n]) for n in before)  # restored
    assert not probed.optimizer.state_dict()["state"]  # AdamW moments back to empty
    probed.fit()
    for (n, a), (_, b) in zip(plain.model.named_parameters(), probed.model.named_parameters()):
        assert torch.equal(a, b), n


def test_size_steps_fits_the_budget_and_refuses_a_hopeless_one(tmp_path):
    torch.set_num_threads(1)
    trainer = Trainer(config(1000, 1000), SyntheticClips(8), tmp_path / "run")
    started = time.perf_counter()
    info = size_steps(trainer, 12.0, started=started, warmup=1, steps=2)
    assert 1 <= info["steps"] < 1000 and trainer.config.steps == info["steps"]
    assert info["expected_train_s"] + (time.perf_counter() - started) <= 12.0
    t0 = time.perf_counter()
    trainer.fit()
    # generous bound: the machine may be loaded, but the run must not be open-ended
    assert time.perf_counter() - t0 < 3 * info["expected_train_s"] + 10
    other = Trainer(config(1000, 1000), SyntheticClips(8), tmp_path / "other")
    with pytest.raises(ConfigError, match="not enough"):
        size_steps(other, 0.5, started=time.perf_counter() - 1.0, warmup=1, steps=1)


def test_cli_time_budget_writes_budget_json(tmp_path, capsys, monkeypatch):
    from vap_ros.cli import train as cli_train

    class Args:
        time_budget, resume, out, data = "25s", False, str(tmp_path / "run"), "synthetic"

    cfg = config(1000, 1000)
    summary = cli_train._train_in_budget(Args, cfg, SyntheticClips(8), time.perf_counter())
    info = json.loads((tmp_path / "run" / "budget.json").read_text())
    assert summary["step"] == info["steps"] and info["elapsed_s"] > 0
    assert "time budget 25 s" in capsys.readouterr().out
    Args.resume = True
    with pytest.raises(ConfigError, match="new run"):
        cli_train._train_in_budget(Args, cfg, SyntheticClips(8), time.perf_counter())
