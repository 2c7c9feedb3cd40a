"""Message conversion: images of any common encoding, fast JointState parsing, configs."""

from __future__ import annotations

from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from vap_ros.data.config import camera_name_from_topic, load_rig_config
from vap_ros.data.messages import JointStateParser, image_to_rgb, raw_header_stamp_ns
from vap_ros.errors import ConfigError, ImageError

RGB = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)


def _img(data: np.ndarray, enc: str, step_pad: int = 0, bigendian: int = 0):
    h, w = data.shape[:2]
    rows = data.reshape(h, -1).view(np.uint8).reshape(h, -1)
    padded = np.zeros((h, rows.shape[1] + step_pad), np.uint8)
    padded[:, : rows.shape[1]] = rows
    return SimpleNamespace(height=h, width=w, encoding=enc, is_bigendian=bigendian,
                           step=padded.shape[1], data=padded.reshape(-1))


@pytest.mark.parametrize("enc,make", [
    ("rgb8", lambda x: x),
    ("bgr8", lambda x: x[..., ::-1].copy()),
    ("rgba8", lambda x: np.dstack([x, np.full(x.shape[:2], 255, np.uint8)])),
    ("bgra8", lambda x: np.dstack([x[..., ::-1], np.full(x.shape[:2], 9, np.uint8)])),
])
def test_raw_colour_encodings_with_row_padding(enc, make):
    for pad in (0, 3):
        out = image_to_rgb(_img(make(RGB), enc, pad), "sensor_msgs/msg/Image")
        np.testing.assert_array_equal(out, RGB)


def test_mono_16bit_and_compressed():
    mono = RGB[..., 0]
    out = image_to_rgb(_img(mono, "mono8"), "sensor_msgs/msg/Image")
    np.testing.assert_array_equal(out, np.dstack([mono] * 3))
    m16 = mono.astype(np.uint16) * 257
    out = image_to_rgb(_img(m16, "16UC1"), "sensor_msgs/msg/Image")
    np.testing.assert_array_equal(out[..., 0], mono)
    out = image_to_rgb(_img(m16.byteswap(), "mono16", bigendian=1), "sensor_msgs/msg/Image")
    np.testing.assert_array_equal(out[..., 0], mono)
    _, png = cv2.imencode(".png", cv2.cvtColor(RGB, cv2.COLOR_RGB2BGR))
    msg = SimpleNamespace(format="png", data=png.reshape(-1))
    np.testing.assert_array_equal(image_to_rgb(msg, "sensor_msgs/msg/CompressedImage"), RGB)
    _ok, jpg = cv2.imencode(".jpg", cv2.cvtColor(RGB, cv2.COLOR_RGB2BGR))
    out = image_to_rgb(SimpleNamespace(format="jpeg", data=jpg.reshape(-1)),
                       "sensor_msgs/msg/CompressedImage")
    assert out.shape == RGB.shape and out.dtype == np.uint8


def test_bad_images_raise_image_error():
    with pytest.raises(ImageError, match="unsupported image encoding 'weird'"):
        image_to_rgb(_img(RGB, "weird"), "sensor_msgs/msg/Image")
    short = _img(RGB, "rgb8")
    short.data = short.data[:-5]
    with pytest.raises(ImageError, match="needs"):
        image_to_rgb(short, "sensor_msgs/msg/Image")
    with pytest.raises(ImageError, match="cannot decode"):
        image_to_rgb(SimpleNamespace(format="jpeg", data=np.arange(50, dtype=np.uint8)),
                     "sensor_msgs/msg/CompressedImage")


@pytest.mark.parametrize("names,frame", [
    (["panda_joint1", "a", "panda_finger_joint1"], "base"),
    ([f"j{i}" for i in range(9)], ""),
    ([], "x" * 7),
])
def test_joint_state_parser_matches_rosbags(names, frame):
    from rosbags.typesys import Stores, get_typestore

    ts = get_typestore(Stores.ROS2_HUMBLE)
    T = ts.types
    pos = np.linspace(-1, 1, len(names))
    msg = T["sensor_msgs/msg/JointState"](
        header=T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](
            sec=12, nanosec=345), frame_id=frame), name=names, position=pos,
        velocity=np.zeros(len(names)), effort=np.zeros(0))
    raw = ts.serialize_cdr(msg, "sensor_msgs/msg/JointState")
    stamp, got_names, got_pos = JointStateParser().parse(bytes(raw))
    assert stamp == 12_000_000_345 == raw_header_stamp_ns(bytes(raw))
    assert list(got_names) == names
    np.testing.assert_array_equal(got_pos, pos)
    assert JointStateParser().parse(bytes(raw[:20])) is None


def test_config_presets_and_errors(tmp_path):
    sim = load_rig_config("sim")
    assert sim.cameras is None and sim.plan_topic == ("/planned_trajectory",)
    lab = load_rig_config("franka_lab")
    assert lab.cameras[0].image_topic[0] == "/camera/color/image_raw"
    assert load_rig_config(lab.to_dict()) == lab
    with pytest.raises(ConfigError, match="unknown rig preset 'nope'"):
        load_rig_config("nope")
    with pytest.raises(ConfigError, match="cameraz=\\[\\]: unknown key"):
        load_rig_config({"cameraz": []})
    with pytest.raises(ConfigError, match="prompt_source"):
        load_rig_config({"prompt_source": "dreamed"})
    with pytest.raises(ConfigError, match=r"plan_topic\[0\]='plan': expected a topic name "
                                          "starting with '/'"):
        load_rig_config({"plan_topic": "plan"})
    p = tmp_path / "rig.yaml"
    p.write_text("name: mine\ncalibration: calib.yaml\nclip: {frames: 4}\n")
    cfg = load_rig_config(p)
    assert cfg.clip.frames == 4 and cfg.calibration == str(tmp_path / "calib.yaml")
    assert camera_name_from_topic("/front/image_raw") == "front"
    assert camera_name_from_topic("/front/image_raw/compressed") == "front"
    assert camera_name_from_topic("/camera/color/image_raw") == "camera_color"
