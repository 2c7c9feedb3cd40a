"""Message conversions (rclpy message classes; no node is spun)."""

import cv2
import numpy as np
import pytest

pytestmark = pytest.mark.ros

from sensor_msgs.msg import CompressedImage, Image

from vap_ros.camera import look_at
from vap_ros.data import messages
from vap_ros.data.messages import plan_to_trajectory, tf_transforms
from vap_ros.errors import ImageError, JointStateError, TrajectoryError
from vap_ros.robot import JointStateMapper, JointTrajectory
from vap_ros.ros import convert

ARM = tuple(f"panda_joint{i}" for i in range(1, 8))
GRIP = ("panda_finger_joint1", "panda_finger_joint2")
RNG = np.random.default_rng(0)


def test_image_round_trip_and_encodings():
    img = RNG.integers(0, 255, (6, 8, 3), np.uint8)
    msg = convert.image_msg(img, 1_500_000_000, "cam")
    assert msg.encoding == "rgb8" and msg.step == 24 and msg.header.stamp.sec == 1
    np.testing.assert_array_equal(messages.image_from_msg(msg), img)
    bgr = Image(height=6, width=8, encoding="bgr8", step=24,
                data=img[..., ::-1].tobytes())
    np.testing.assert_array_equal(messages.image_from_msg(bgr), img)
    padded = Image(height=6, width=8, encoding="rgb8", step=32,
                   data=np.pad(img, ((0, 0), (0, 8 // 3 + 1), (0, 0)))[:, :, :]
                   .reshape(6, -1)[:, :32].tobytes())
    np.testing.assert_array_equal(messages.image_from_msg(padded), img)
    mono = Image(height=6, width=8, encoding="mono8", step=8, data=img[..., 0].tobytes())
    assert messages.image_from_msg(mono).shape == (6, 8, 3)


def test_compressed_png():
    img = RNG.integers(0, 255, (6, 8, 3), np.uint8)
    _ok, buf = cv2.imencode(".png", img[..., ::-1])
    msg = CompressedImage(format="png", data=buf.tobytes())
    np.testing.assert_array_equal(messages.image_from_msg(msg), img)


def test_bad_images():
    with pytest.raises(ImageError, match="unsupported image encoding 'yuv_weird'"):
        messages.image_from_msg(Image(height=2, width=2, encoding="yuv_weird", step=4,
                                     data=bytes(8)))
    with pytest.raises(ImageError, match="needs 12 bytes, has 5"):
        messages.image_from_msg(Image(height=2, width=2, encoding="rgb8", step=6, data=bytes(5)))
    with pytest.raises(ImageError, match="cannot decode"):
        messages.image_from_msg(CompressedImage(format="jpeg", data=b"nope"))


def test_camera_info_round_trip():
    cam = look_at("front", (1.5, 0.0, 0.8), (0.4, 0.0, 0.3), width=64, height=48)
    info = convert.camera_info_msg(cam, 5)
    back = messages.camera_from_info(info, cam.T_cam_base, "front")
    np.testing.assert_allclose(back.K, cam.K)
    assert back.frame_id == "front_optical_frame" and (back.width, back.height) == (64, 48)


def test_transform_round_trip():
    cam = look_at("front", (1.5, 0.2, 0.8), (0.4, 0.0, 0.3))
    msg = convert.transform_msg(cam.T_base_cam, "panda_link0", "front_optical_frame")
    from tf2_msgs.msg import TFMessage

    (parent, child, T), = tf_transforms(TFMessage(transforms=[msg]))  # the package's one reader
    assert (parent, child) == ("panda_link0", "front_optical_frame")
    np.testing.assert_allclose(T, cam.T_base_cam, atol=1e-12)


def test_trajectory_round_trip_and_errors():
    tr = JointTrajectory(ARM, RNG.normal(size=(4, 7)), [100, 200, 300, 450],
                         gripper_width_m=[0.0, 0.02, 0.04, 0.08])
    msg = convert.trajectory_msg(tr, 100, GRIP)
    assert msg.joint_names[-2:] == list(GRIP)
    # read back by the package's one plan reader (data/messages.py), as nodes and bags do
    mapper = JointStateMapper(ARM, GRIP)
    back = plan_to_trajectory(msg, 0, mapper)
    np.testing.assert_allclose(back.positions, tr.positions)
    np.testing.assert_array_equal(back.stamps_ns, tr.stamps_ns)
    np.testing.assert_allclose(back.gripper_width_m, tr.gripper_width_m)
    msg.joint_names[0] = "joint_a"
    with pytest.raises(JointStateError, match="unknown joint names \\['joint_a'\\]"):
        plan_to_trajectory(msg, 0, mapper)
    msg.joint_names[0] = "panda_joint1"
    msg.points[1].positions = [0.0]
    with pytest.raises(TrajectoryError, match="point 1 has 1 positions"):
        plan_to_trajectory(msg, 0, mapper)
