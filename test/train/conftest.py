"""Fixtures of test/train: one straight tiny training run shared by the tests that read it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

STEPS, EVERY = 6, 3


@pytest.fixture(scope="session")
def straight_run(tmp_path_factory) -> Path:
    """A tiny run trained straight to 6 steps on 8 synthetic clips, checkpoints at 3 and 6."""
    import torch
    from synthetic import SyntheticClips
    from train_script import config

    from vap_ros.train.trainer import Trainer

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("straight") / "run"
    Trainer(config(STEPS, EVERY), SyntheticClips(8), out).fit()
    return out
