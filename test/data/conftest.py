"""Tiny rig bags written into tmp dirs (no binaries in the repo)."""

from __future__ import annotations

import pytest

from vap_ros.testing.bags import SyntheticRig, default_cameras, write_synthetic_bag

SIZE = (96, 128)  # H, W of the synthetic cameras


def small_rig(**kw) -> SyntheticRig:
    kw.setdefault("duration_s", 2.5)
    kw.setdefault("camera_hz", 20.0)
    kw.setdefault("camera_offsets_ms", (0.0, 4.0))
    return SyntheticRig(default_cameras(SIZE, ("front", "left")), **kw)


def native_config(**kw) -> dict:
    """The sim preset at the cameras' own size: clip frames equal recorded frames."""
    from vap_ros.data import load_rig_config

    d = load_rig_config("sim").to_dict()
    d["clip"] = {"frames": 8, "fps": 10, "stride": 4, "size": None}
    d["shard_clips"] = 3
    d.update(kw)
    return d


@pytest.fixture(scope="session")
def good_bag(tmp_path_factory):
    """(bag path, ground truth): 2 cameras (left recorded as png CompressedImage), plans."""
    path = tmp_path_factory.mktemp("bags") / "good"
    rig = write_synthetic_bag(path, small_rig(), compressed=("left",), keep_images=True)
    return path, rig
