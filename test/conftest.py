"""Shared fixtures. DDS is restricted to shared memory before anything imports rclpy."""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("FASTDDS_BUILTIN_TRANSPORTS", "SHM?max_msg_size=4MB&sockets_size=16MB")
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("ROS_LOG_DIR", tempfile.mkdtemp(prefix="vap_ros_test_log_"))
os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# tests load random-init presets on purpose
os.environ.setdefault("VAP_ROS_QUIET_RANDOM_INIT", "1")

REPO = Path(__file__).resolve().parents[1]

# --- DDS isolation: every test (and every module's shared rclpy context) gets a DDS domain that
# no other process on this machine holds, so concurrent test runs (CI jobs, the stress harness,
# several checkouts) and consecutive tests never see each other's nodes. A domain is held by an
# exclusive lock on /tmp/vap_ros_dds_domains/<id>.lock, released when the test ends (or its
# process dies). Fast DDS accepts ids 0..232.
_DOMAIN_DIR = Path(tempfile.gettempdir()) / "vap_ros_dds_domains"
_DOMAINS = list(range(1, 233))


def _allocate_domain():
    import fcntl

    _DOMAIN_DIR.mkdir(exist_ok=True)
    start = random.randrange(len(_DOMAINS))
    for k in range(len(_DOMAINS)):
        domain = _DOMAINS[(start + k) % len(_DOMAINS)]
        f = open(_DOMAIN_DIR / f"{domain}.lock", "w")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            continue
        return domain, f
    raise RuntimeError(f"every DDS domain in {_DOMAINS[0]}..{_DOMAINS[-1]} is held by another "
                       f"process (locks in {_DOMAIN_DIR})")


@pytest.fixture(scope="session")
def dds_domain_factory():
    """``dds_domain_factory()`` → a DDS domain id held until the session ends."""
    held = []

    def make() -> int:
        domain, f = _allocate_domain()
        held.append(f)
        return domain

    yield make
    for f in held:
        f.close()


@pytest.fixture(autouse=True)
def dds_domain(monkeypatch):
    """Each test runs in its own DDS domain (``ROS_DOMAIN_ID``; subprocesses inherit it)."""
    domain, f = _allocate_domain()
    monkeypatch.setenv("ROS_DOMAIN_ID", str(domain))
    yield domain
    f.close()
# The suite writes clip caches, bags, checkpoints and videos under the temp folder: 0.2 GB at its
# peak, as a passed test's tmp_path is deleted when it ends (setup.cfg; 0.75 GB when all were
# kept). A full disk would otherwise surface as hundreds of unrelated errors (CI's run of
# 2026-11-29), so say it once.
MIN_FREE_TMP_GB = 2.0


def pytest_sessionstart(session):
    import shutil

    tmp = Path(tempfile.gettempdir())
    free_gb = shutil.disk_usage(tmp).free / 1e9
    if free_gb < MIN_FREE_TMP_GB:
        pytest.exit(f"only {free_gb:.1f} GB free in {tmp}; the test suite needs at least "
                    f"{MIN_FREE_TMP_GB:.0f} GB there (set TMPDIR to a folder with room)",
                    returncode=2)


SHARED_REAL = REPO.parent / "shared" / "data" / "real"


@pytest.fixture(scope="session")
def real_data() -> Path:
    if not SHARED_REAL.is_dir():  # the data ships beside every checkout and CI clone
        raise FileNotFoundError(f"real recordings not found at {SHARED_REAL}")
    return SHARED_REAL


@pytest.fixture(scope="session")
def panda():
    from vap_ros.robot import RobotModel

    return RobotModel.from_preset("panda")


@pytest.fixture(scope="session")
def renderer():
    from vap_ros.prompts import SkeletonRenderer

    return SkeletonRenderer.from_preset("panda")


def look_at_camera(name, eye, target=(0.45, 0.0, 0.35), size=(256, 256), fov_deg=50.0,
                   dist=None):
    from vap_ros.camera import look_at

    return look_at(name, eye, target, width=size[1], height=size[0], fov_y_deg=fov_deg,
                   dist=dist, base_frame="panda_link0")


@pytest.fixture(scope="session")
def cam():
    """``cam(name, eye, target=..., size=..., dist=...)``: a look-at camera factory."""
    return look_at_camera


@pytest.fixture()
def rig_cameras():
    return [
        look_at_camera("front", (1.7, 0.0, 0.8)),
        look_at_camera("left", (0.6, 1.4, 0.7)),
        look_at_camera("right", (0.6, -1.4, 0.9)),
    ]
