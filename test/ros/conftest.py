"""Fixtures for node tests: an rclpy context spun by a multi-threaded executor in a background
thread (shared-memory DDS, set up by test/conftest.py) and the real tiny world model, loaded once
per session. The stand-in robot is ``vap_ros.ros.probe.Probe``."""

from __future__ import annotations

import pytest

pytest.importorskip("rclpy")


@pytest.fixture(scope="module")
def ros():
    from vap_ros.ros.probe import RosHarness

    h = RosHarness()
    yield h
    h.close()


@pytest.fixture(scope="session")
def tiny_model():
    """The real tiny world model (random init, seed 0), loaded once for all node tests."""
    from vap_ros.ros.rollout import load_world_model

    return load_world_model("tiny", seed=0)
