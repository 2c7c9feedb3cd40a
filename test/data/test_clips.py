"""Pass 2 and the shard writer, fast paths against their plain counterparts: the same bytes.

- raw Image messages read in place (``parse_raw_image``) vs rosbags' deserialisation;
- resizing straight into the clip buffer (``resize_frame(out=)``) vs a new array;
- prompts rendered by a thread, overlapping clips sharing their frames' prompts, the shard
  writer thread and sparse prompt files vs the plain sequential build.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from vap_ros.data import clips as clips_mod
from vap_ros.data import load_rig_config, process_bag
from vap_ros.data.cache import NpyAppender, ShardWriter
from vap_ros.data.clips import resize_frame
from vap_ros.data.messages import image_to_rgb, parse_raw_image

from .conftest import native_config


@pytest.mark.parametrize("src,size", [((48, 64), (48, 64)), ((96, 128), (32, 32)),
                                      ((96, 128), (48, 64)), ((96, 128), (30, 50)),
                                      ((96, 128), (60, 100))])
def test_resize_into_a_buffer_gives_the_same_pixels(src, size):
    img = np.random.default_rng(0).integers(0, 256, (*src, 3), dtype=np.uint8)
    want = resize_frame(img, size)
    buf = np.full((2, *size, 3), 7, np.uint8)
    got = resize_frame(img, size, out=buf[1])
    assert np.shares_memory(got, buf)
    np.testing.assert_array_equal(buf[1], want)
    assert (buf[0] == 7).all()


@pytest.mark.parametrize("frame", ["", "c", "cam_optical", "x" * 9])
@pytest.mark.parametrize("enc,ch", [("rgb8", 3), ("bgr8", 3), ("mono8", 1), ("rgba8", 4)])
def test_raw_image_read_in_place_matches_rosbags(frame, enc, ch):
    from rosbags.typesys import Stores, get_typestore

    ts = get_typestore(Stores.ROS2_HUMBLE)
    T = ts.types
    data = np.random.default_rng(1).integers(0, 256, (5, 7 * ch + 3), dtype=np.uint8)
    msg = T["sensor_msgs/msg/Image"](
        header=T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](
            sec=3, nanosec=4), frame_id=frame), height=5, width=7, encoding=enc,
        is_bigendian=0, step=7 * ch + 3, data=data.reshape(-1))
    raw = bytes(ts.serialize_cdr(msg, "sensor_msgs/msg/Image"))
    fast = parse_raw_image(raw)
    slow = ts.deserialize_cdr(raw, "sensor_msgs/msg/Image")
    assert (fast.height, fast.width, fast.encoding, fast.step) == (5, 7, enc, 7 * ch + 3)
    np.testing.assert_array_equal(image_to_rgb(fast, "sensor_msgs/msg/Image"),
                                  image_to_rgb(slow, "sensor_msgs/msg/Image"))
    assert parse_raw_image(raw[:-1]) is None  # truncated: deserialise, which reports it
    assert parse_raw_image(b"\x01" + raw[1:]) is None  # big-endian CDR: not read in place


def _build(bag, out, cfg) -> dict:
    rep = process_bag(bag, load_rig_config(cfg), out, "0000")
    assert rep["ok"], rep["error"]
    return {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*.npy"))}


@pytest.mark.parametrize("stride", [4, 8])
def test_threads_and_shared_prompts_write_the_same_cache(good_bag, tmp_path, monkeypatch,
                                                         stride):
    bag, _ = good_bag
    cfg = native_config(clip={"frames": 8, "fps": 10, "stride": stride, "size": [40, 52]},
                        store_both_prompts=True)
    fast = _build(bag, tmp_path / "fast", cfg)
    # the plain way: no prompt thread, no writer thread, every frame rendered, dense files
    real_iter = clips_mod.iter_clips
    monkeypatch.setattr("vap_ros.data.build.iter_clips",
                        lambda *a, **k: real_iter(*a, **k, background=False))
    monkeypatch.setattr(clips_mod.PromptCache, "get", lambda self, *a: None)
    real_writer = ShardWriter.__init__
    monkeypatch.setattr(ShardWriter, "__init__",
                        lambda self, *a, **k: real_writer(self, *a, **{**k, "background": False}))
    monkeypatch.setattr(NpyAppender, "_write_sparse",
                        lambda self, start, data: setattr(self, "_end",
                                                          self._write_at(start, data)))
    plain = _build(bag, tmp_path / "plain", cfg)
    assert fast.keys() == plain.keys() and len(fast) >= 14
    for k in fast:
        assert fast[k] == plain[k], k


def test_sparse_rows_read_back_exactly(tmp_path):
    rows = np.zeros((3, 40, 64, 3), np.uint8)  # pages of zeros, a drawn band, a zero tail
    rows[0, 10:12] = 200
    rows[1, 0, 0] = 1
    f = NpyAppender(tmp_path / "p.npy", rows.shape[1:], np.uint8, sparse=True)
    for r in rows:
        f.append(r)
    f.close()
    back = np.load(tmp_path / "p.npy", mmap_mode="r", allow_pickle=False)
    np.testing.assert_array_equal(back, rows)
    assert os.path.getsize(tmp_path / "p.npy") == 256 + rows.nbytes


def test_a_background_write_error_is_raised_to_the_caller(tmp_path):
    (tmp_path / "shards").write_text("not a folder")
    clip = {k: np.zeros((1, 2, 4, 4, 3), np.uint8) for k in ("video", "prompts_logged")}
    clip.update({"actions_logged": np.zeros((2, 8), np.float32),
                 "keypoints_uv_logged": np.zeros((1, 2, 3, 2), np.float32),
                 "ee_poses_logged": np.zeros((2, 4, 4), np.float32),
                 "camera_K": np.zeros((1, 3, 3), np.float32),
                 "camera_T_cam_base": np.zeros((1, 4, 4), np.float32),
                 "stamps_ns": np.zeros((1, 2), np.int64), "image_index": np.zeros((1, 2)),
                 "has_commanded": False, "prompts_commanded": None})
    w = ShardWriter(Path(tmp_path), "0000", 2, background=True)
    w.add(clip)
    with pytest.raises(OSError):
        w.add(clip)
        w.close()
    w.close()  # a second close does not raise the same error again
