"""The clip cache on disk: a rebuild never loses the old cache or foreign files, and a damaged
shard is refused up front with the file named (issue 11, audit findings 1 and 2)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from vap_ros.cli import main
from vap_ros.data import ClipDataset, build_dataset
from vap_ros.errors import CacheError, OutputError

from .conftest import native_config


@pytest.fixture(scope="module")
def built(good_bag, tmp_path_factory):
    bag, _ = good_bag
    out = tmp_path_factory.mktemp("cache") / "cache"
    manifest = build_dataset([bag], out, native_config(), progress=False)
    assert len({c["shard"] for c in manifest["clips"]}) >= 2
    return bag, out


def _copy(built, tmp_path) -> tuple[Path, Path]:
    bag, out = built
    return bag, Path(shutil.copytree(out, tmp_path / "cache"))


def _digests(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _no_leftovers(out: Path) -> None:
    assert sorted(p.name for p in out.parent.iterdir() if p.name.startswith(".")) == []


def test_overwrite_replaces_only_the_cache_files(built, tmp_path):
    bag, out = _copy(built, tmp_path)
    old_shards = {c["shard"] for c in json.loads((out / "manifest.json").read_text())["clips"]}
    (out / "notes.txt").write_text("mine")
    (out / "shards" / "README.md").write_text("mine too")
    (out / "shards" / "0000-0001" / "labels.csv").write_text("a,b")
    cfg = native_config(shard_clips=100, prompt_source="logged")
    m = build_dataset([bag], out, cfg, overwrite=True, progress=False)
    assert {c["shard"] for c in m["clips"]} == {"0000-0000"} != old_shards
    # foreign files survive, old shard files are gone, emptied shard folders too
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "shards" / "README.md").read_text() == "mine too"
    assert [p.name for p in (out / "shards" / "0000-0001").iterdir()] == ["labels.csv"]
    for shard in old_shards - {"0000-0000", "0000-0001"}:
        assert not (out / "shards" / shard).exists()
    ds = ClipDataset(out)
    assert ds.source == "logged" and len(ds) == m["report"]["totals"]["clips_written"]
    ds.raw(len(ds) - 1)
    _no_leftovers(out)


def test_a_build_where_every_bag_fails_keeps_the_old_cache(built, tmp_path, capsys):
    bag, out = _copy(built, tmp_path)
    (out / "shards" / "README.md").write_text("mine")
    before = _digests(out)
    bad = native_config()
    bad["cameras"] = [{"name": "front", "image_topic": "/no_such_camera/image_raw"}]
    m = build_dataset([bag], out, bad, overwrite=True, progress=False)
    totals = m["report"]["totals"]
    assert totals["bags_failed"] == totals["bags"] == 1 and totals["clips_written"] == 0
    assert _digests(out) == before
    rig = tmp_path / "bad_rig.yaml"
    import yaml

    rig.write_text(yaml.safe_dump(bad))
    rc = main(["dataset", "build", str(bag), "--out", str(out), "--config", str(rig),
               "--overwrite", "--no-progress"])
    printed = capsys.readouterr()
    assert rc == 1 and "FAILED: BagError" in printed.out
    assert "no clip was written" in printed.out and "left as it was" in printed.out
    assert _digests(out) == before
    _no_leftovers(out)


def test_an_interrupted_build_keeps_the_old_cache(built, tmp_path, monkeypatch):
    bag, out = _copy(built, tmp_path)
    before = _digests(out)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("vap_ros.data.build.process_bag", killed)
    with pytest.raises(KeyboardInterrupt):
        build_dataset([bag], out, native_config(), overwrite=True, progress=False)
    assert _digests(out) == before
    _no_leftovers(out)


def test_out_that_is_a_file_is_refused_before_any_bag_is_read(built, tmp_path, capsys,
                                                              monkeypatch):
    bag, _ = built
    a_file = tmp_path / "cache.txt"
    a_file.write_text("x")

    def never(*args, **kwargs):
        raise AssertionError("a bag was read")

    monkeypatch.setattr("vap_ros.data.build.process_bag", never)
    with pytest.raises(OutputError, match="is a file, not a folder"):
        build_dataset([bag], a_file, native_config(), progress=False)
    for out in (a_file, a_file / "sub"):
        assert main(["dataset", "build", str(bag), "--out", str(out), "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and str(a_file) in err
    assert a_file.read_text() == "x"


def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def test_half_truncated_video_is_refused_up_front(built, tmp_path, capsys):
    _, out = _copy(built, tmp_path)
    video = out / "shards" / "0000-0001" / "video.npy"
    _truncate(video)
    with pytest.raises(CacheError, match=r"video\.npy is truncated") as info:
        ClipDataset(out)
    assert info.value.path == video
    run = tmp_path / "run"
    rc = main(["train", "--config", "tiny", "--data", str(out), "--out", str(run)])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert "video.npy is truncated" in err and "--overwrite" in err
    assert not run.exists()  # nothing started, so nothing to recover


def test_truncated_logged_actions_refused_even_when_training_on_commanded(built, tmp_path):
    _, out = _copy(built, tmp_path)
    _truncate(out / "shards" / "0000-0000" / "actions_logged.npy", 0.9)
    with pytest.raises(CacheError, match=r"actions_logged\.npy is truncated"):
        ClipDataset(out, source="commanded")


@pytest.mark.parametrize("damage, match", [
    ("rows", "clips, the manifest uses"),
    ("frames", "frames per clip, the manifest says"),
    ("missing", "is missing"),
    ("garbage", "not a readable .npy"),
])
def test_shards_not_matching_the_manifest_are_refused(built, tmp_path, damage, match):
    _, out = _copy(built, tmp_path)
    manifest = json.loads((out / "manifest.json").read_text())
    shard = out / "shards" / manifest["clips"][0]["shard"]
    if damage == "rows":
        manifest["clips"].append({**manifest["clips"][0], "row": 50})
    elif damage == "frames":
        manifest["clip"]["frames"] = 9
    elif damage == "missing":
        (shard / "camera_K.npy").unlink()
    else:
        (shard / "image_index.npy").write_bytes(b"not numpy at all")
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CacheError, match=match):
        ClipDataset(out)


def test_a_manifest_json_cannot_hold_is_a_cache_error(tmp_path):
    from vap_ros.data.cache import write_manifest

    with pytest.raises(CacheError, match="not JSON serialisable: object"):
        write_manifest(tmp_path, {"n": np.int64(3), "bad": object()})
    assert not (tmp_path / "manifest.json").exists()


def test_intact_cache_passes_the_check(built):
    _, out = built
    ds = ClipDataset(out)
    assert np.asarray(ds.raw(0)["video"]).dtype == np.uint8
