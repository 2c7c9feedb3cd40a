"""Prompt node over DDS: live skeleton prompt per camera + MarkerArray, extrinsics from
/tf_static or a calibration file, bad inputs logged while the node keeps running."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.ros

from rclpy.parameter import Parameter
from sensor_msgs.msg import Image, JointState
from visualization_msgs.msg import Marker, MarkerArray

from vap_ros.camera import save_calibration
from vap_ros.data import messages
from vap_ros.prompts import SkeletonRenderer
from vap_ros.ros import convert
from vap_ros.ros.probe import ARM, GRIP, Probe, wait_for
from vap_ros.ros.prompt_node import PromptNode


@pytest.fixture(scope="module")
def rig(ros, tmp_path_factory):
    probe = ros.add(Probe(ros.context, cameras=("front", "side"), rate_hz=30.0,
                          name="prompt_probe"))
    calib = save_calibration([probe.cams["front"]],
                             tmp_path_factory.mktemp("calib") / "rig.yaml")
    tf_node = ros.add(PromptNode(context=ros.context, parameter_overrides=[
        Parameter("cameras", value=["front", "side", "back"]),
        Parameter("rate_hz", value=20.0), Parameter("startup_wait_s", value=0.5)]))
    cal_node = ros.add(PromptNode("prompt_node_cal", context=ros.context, parameter_overrides=[
        Parameter("cameras", value=["front"]), Parameter("calibration_file", value=str(calib)),
        Parameter("output_namespace", value="/prompt_cal"),
        Parameter("image_height", value=24), Parameter("image_width", value=32)]))
    for topic in ("/prompt/front/image", "/prompt/side/image", "/prompt_cal/front/image"):
        probe.collect(Image, topic)
    probe.collect(MarkerArray, "/prompt/skeleton")
    wait_for(lambda: all(probe.received[t] for t in probe.received), what="prompt outputs")
    return probe, tf_node, cal_node


def test_prompt_images_and_markers(rig):
    probe, _node, _ = rig
    msg = probe.received["/prompt/front/image"][-1]
    img = messages.image_from_msg(msg)
    assert img.shape == (48, 64, 3) and img.max() > 0
    assert msg.header.frame_id == "front_optical_frame"
    # the same pixels as the library's renderer for the pose that was published
    renderer = SkeletonRenderer.from_preset("panda")
    expected = renderer.render(probe.q[None], [probe.cams["front"]], 0.04)[0, 0]
    np.testing.assert_array_equal(img, expected)
    markers = probe.received["/prompt/skeleton"][-1].markers
    assert [m.type for m in markers] == [Marker.LINE_LIST, Marker.SPHERE_LIST]
    assert markers[0].header.frame_id == "panda_link0"
    assert len(markers[0].points) == 2 * len(renderer.spec.edges)
    kps = renderer.keypoints(probe.q[None], 0.04)[0]
    a = renderer.spec.edges[0, 0]
    p = markers[0].points[0]
    np.testing.assert_allclose([p.x, p.y, p.z], kps[a], atol=1e-9)


def test_calibration_file_extrinsics_and_size(rig):
    probe, _, _ = rig
    img = messages.image_from_msg(probe.received["/prompt_cal/front/image"][-1])
    renderer = SkeletonRenderer.from_preset("panda")
    expected = renderer.render(probe.q[None], [probe.cams["front"]], 0.04, size=(24, 32))[0, 0]
    np.testing.assert_array_equal(img, expected)


def test_missing_camera_info_and_bad_joints(rig):
    probe, node, _ = rig
    text = ("prompt for camera 'back': skipped: still missing after 0.5 s (startup_wait_s): "
            "camera 'back': no CameraInfo received on /back/camera_info")
    wait_for(lambda: node.errors.seen(text) and probe.logged(text),
             what="the missing CameraInfo log line")
    msg = JointState(name=list(ARM + GRIP), position=[float("nan")] * 9)
    msg.header.stamp = convert.stamp_msg(probe.now_ns())
    probe.pub_js.publish(msg)
    wait_for(lambda: probe.logged("non-finite positions (NaN/inf)"), what="the NaN log line")
    n = len(probe.received["/prompt/front/image"])
    wait_for(lambda: len(probe.received["/prompt/front/image"]) > n + 2,
             what="prompts still coming")


def test_late_camera_info_renders_the_held_pose_without_errors(ros):
    """A camera whose CameraInfo comes after the joint states: no error while it waits, and
    the newest pose is rendered for it as soon as the CameraInfo arrives (joint states keep
    streaming from the module's other probe)."""
    robot = ros.add(Probe(ros.context, cameras=("late",), info=False, name="prompt_late_probe"))
    robot.publish_static()  # extrinsics are there; CameraInfo is not
    node = ros.add(PromptNode("prompt_node_late", context=ros.context, parameter_overrides=[
        Parameter("cameras", value=["late"]), Parameter("output_namespace", value="/late"),
        Parameter("startup_wait_s", value=120.0)]))
    try:
        robot.collect(Image, "/late/late/image")
        wait_for(lambda: node.joints.latest is not None and node.tf.frames(),
                 what="joint states and /tf_static reaching the node")
        wait_for(lambda: node._missing_since.get("late") is not None, what="the held camera")
        assert not robot.received["/late/late/image"] and not node.errors.recent
        held = node.joints.latest.stamp_ns
        info_pub = robot.pub_info["late"]
        wait_for(lambda: info_pub.get_subscription_count() > 0, what="camera_info match")
        info_pub.publish(convert.camera_info_msg(robot.cams["late"]))
        msgs = wait_for(lambda: robot.received["/late/late/image"], what="the held prompt")
        assert messages.stamp_ns(msgs[0].header.stamp) >= held  # the newest pose, not a stale one
        assert not node.errors.recent  # waiting was not an error
    finally:
        ros.remove(node)
        ros.remove(robot)
