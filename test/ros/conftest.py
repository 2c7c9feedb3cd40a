"""Fixtures for node tests: an rclpy context in its own DDS domain, spun by a multi-threaded
executor in a background thread (``vap_ros.ros.runtime.NodeRunner``; shared-memory DDS, set up
by test/conftest.py), and the real tiny world model, loaded once per session. The stand-in robot
is ``vap_ros.ros.probe.Probe``."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def ros(dds_domain_factory):
    from vap_ros.ros.runtime import NodeRunner

    runner = NodeRunner(domain_id=dds_domain_factory()).start()
    yield runner
    runner.close()


@pytest.fixture(scope="session")
def tiny_model():
    """The real tiny world model (random init, seed 0), loaded once for all node tests."""
    from vap_ros.serve import load_world_model

    return load_world_model("tiny", seed=0)
