"""Fixtures for the world-model tests: tiny random models and synthetic moving-arm clips."""

from __future__ import annotations

import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def clips():
    from vap_ros.testing.clips import synthetic_clips

    return synthetic_clips(3, 32, 32, 5, views=2, seed=1)


def to_batch(video: np.ndarray) -> torch.Tensor:
    """uint8 (B, V, T, H, W, 3) -> float (B, V, 3, T, H, W) in [-1, 1]."""
    return torch.from_numpy(video).permute(0, 1, 5, 2, 3, 4).float() / 127.5 - 1.0


@pytest.fixture()
def batch(clips):
    return {"video": to_batch(clips["video"][:2]), "prompts": to_batch(clips["prompts"][:2]),
            "actions": torch.from_numpy(clips["actions"][:2])}
