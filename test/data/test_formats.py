"""One reader for rosbag2 MCAP (folder or bare file), sqlite3 and ROS 1 bags."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from vap_ros.data import BagReader, ClipDataset, bag_paths, build_dataset
from vap_ros.testing.bags import write_synthetic_bag

from .conftest import native_config, small_rig


@pytest.fixture(scope="module")
def mcap_bag(tmp_path_factory):
    path = tmp_path_factory.mktemp("fmt") / "mcap"
    write_synthetic_bag(path, small_rig(duration_s=1.5))
    return path


def _videos(bag, out):
    build_dataset([bag], out, native_config(), progress=False)
    ds = ClipDataset(out, source="logged")
    assert len(ds) > 0
    return [ds.raw(i)["video"] for i in range(len(ds))], ds


def test_bare_mcap_sqlite3_and_ros1_give_the_same_clips(mcap_bag, tmp_path):
    from rosbags.convert import convert
    from rosbags.typesys import Stores, get_typestore

    ref, ds_ref = _videos(mcap_bag, tmp_path / "ref")
    bare = tmp_path / "bare.mcap"  # a lone .mcap without metadata.yaml
    shutil.copy(next(mcap_bag.glob("*.mcap")), bare)
    sq = tmp_path / "sq"
    write_synthetic_bag(sq, small_rig(duration_s=1.5), storage="sqlite3")
    ros1 = tmp_path / "ros1.bag"
    convert([mcap_bag], ros1, "sqlite3", 8, None, "file", None,
            get_typestore(Stores.ROS1_NOETIC), [], [], [], [])
    for bag in (bare, sq, ros1):
        videos, ds = _videos(bag, tmp_path / bag.name.replace(".", "_"))
        assert len(videos) == len(ref), bag
        for a, b in zip(videos, ref):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(ds.raw(0)["actions_commanded"],
                                   ds_ref.raw(0)["actions_commanded"], atol=1e-6)


def test_indexed_mcap_reads_equal_rosbags_reads(mcap_bag):
    with BagReader(mcap_bag) as r:
        assert r._index is not None  # uncompressed MCAP: selective reads
        topics = ["/joint_states", "/front/image_raw", "/tf_static"]
        fast = list(r.read(topics))
        plain = list(r.messages(topics))
        assert [(t, lg, bytes(x)) for t, _, lg, x in fast] == \
            [(t, lg, bytes(x)) for t, lg, x in plain]
        heads = list(r.read(topics, header_only=["/front/image_raw"],
                            only={"/front/image_raw": {2, 5}}))
        imgs = [(i, x) for t, i, _, x in heads if t == "/front/image_raw"]
        assert [i for i, _ in imgs] == [2, 5] and all(len(x) == 16 for _, x in imgs)
        full = {i: x for t, i, _, x in fast if t == "/front/image_raw"}
        assert all(bytes(full[i][:16]) == x for i, x in imgs)


def test_bag_paths_expands_folders_of_bags(mcap_bag, tmp_path):
    (tmp_path / "many").mkdir()
    shutil.copytree(mcap_bag, tmp_path / "many" / "a")
    shutil.copy(next(mcap_bag.glob("*.mcap")), tmp_path / "many" / "b.mcap")
    found = bag_paths([tmp_path / "many"])
    assert [p.name for p in found] == ["a", "b.mcap"]


def test_two_workers_build_two_bags(mcap_bag, tmp_path):
    shutil.copytree(mcap_bag, tmp_path / "b2")
    m = build_dataset([mcap_bag, tmp_path / "b2"], tmp_path / "out", native_config(),
                      workers=2, progress=False)
    t = m["report"]["totals"]
    assert t["bags"] == 2 and t["bags_failed"] == 0
    per_bag = [r["clips_written"] for r in m["report"]["bags"]]
    assert per_bag[0] == per_bag[1] > 0 and t["clips_written"] == sum(per_bag)
    assert len({c["shard"] for c in m["clips"]}) >= 2  # shards per bag, no clashes
    ds = ClipDataset(tmp_path / "out")
    np.testing.assert_array_equal(ds.raw(0)["video"], ds.raw(per_bag[0])["video"])
