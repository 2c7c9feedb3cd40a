"""A stand-in robot for node tests, the node benchmark and the soak run: streams joint states
and camera images with current stamps, publishes CameraInfo and /tf_static, sends plans, and
collects any topic (and /rosout, to check log lines)."""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import rclpy
from rcl_interfaces.msg import Log
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, JointState
from tf2_msgs.msg import TFMessage
from trajectory_msgs.msg import JointTrajectory as JointTrajectoryMsg

from vap_ros.camera import look_at
from vap_ros.robot import JointTrajectory
from vap_ros.ros import convert
from vap_ros.ros.node_utils import SENSOR_QOS, STATIC_QOS, reliable_qos
from vap_ros.ros.runtime import NodeRunner, wait_until
from vap_ros.testing import PANDA_HOME

__all__ = ["ARM", "GRIP", "HANG_S", "HOME", "Probe", "camera", "predict", "wait_for"]

ARM = tuple(f"panda_joint{i}" for i in range(1, 8))
GRIP = ("panda_finger_joint1", "panda_finger_joint2")
HOME = PANDA_HOME  # the synthetic rig's pose (vap_ros.testing)


# The one bound of every condition wait in the tests and harnesses: a hang detector, not a
# deadline. A wait ends as soon as its condition holds, so a loaded machine only makes a test
# slower; a bound tight enough to be hit by a slow machine would make it flaky instead.
HANG_S = 120.0


def wait_for(pred, timeout=HANG_S, what="condition", period=0.01):
    """``vap_ros.ros.runtime.wait_until`` with the hang-detector bound."""
    return wait_until(pred, timeout, what, period)


def predict(client, goal, *, cancel_at_step: int | None = None):
    """Send a PredictRollout goal with an ``rclpy.action.ActionClient`` and wait for it:
    → (result, status, feedback messages). ``cancel_at_step``: cancel the goal once feedback
    reports that many denoising steps done."""
    feedback: list = []
    sent = client.send_goal_async(goal, feedback_callback=lambda m: feedback.append(m.feedback))
    handle = wait_for(sent.done, what="the goal to be accepted") and sent.result()
    assert handle.accepted, "goal rejected"
    if cancel_at_step is not None:
        wait_for(lambda: any(f.step >= cancel_at_step for f in feedback),
                 what=f"feedback of step {cancel_at_step}")
        handle.cancel_goal_async()
    done = handle.get_result_async()
    wait_for(done.done, what="the PredictRollout result")
    return done.result().result, done.result().status, feedback


def camera(name="front", size=(48, 64), base_frame="panda_link0"):
    return look_at(name, (1.6, 0.2 if name == "front" else -1.2, 0.8), (0.45, 0.0, 0.35),
                   width=size[1], height=size[0], fov_y_deg=50.0, base_frame=base_frame)


class Probe(Node):
    """Plays the robot: streams images (+ CameraInfo) at ``rate_hz`` and joint states at
    ``joint_rate_hz`` (default: with the images; else from a paced thread) with current stamps,
    publishes /tf_static, sends plans, collects any topic and /rosout.

    The default is a Panda rig (``panda_*`` joints, fingers on /joint_states, base
    ``panda_link0``, ``/<camera>/image_raw``). ``arm``, ``grip``, ``base_frame``,
    ``image_topic``/``info_topic`` (patterns with ``{camera}``) and ``gripper_topic`` (the
    fingers on a topic of their own) play other rigs, e.g. franka_ros2 on an FR3."""

    def __init__(self, context, cameras=("front",), rate_hz=30.0, compressed=(),
                 info=True, name="probe", size=(48, 64), joint_rate_hz: float | None = None,
                 *, arm=ARM, grip=GRIP, base_frame="panda_link0",
                 image_topic="/{camera}/image_raw", info_topic="/{camera}/camera_info",
                 gripper_topic: str | None = None):
        super().__init__(name, context=context)
        self.cams = {n: camera(n, size, base_frame) for n in cameras}
        self.q = HOME.copy()
        self.arm, self.grip, self.base_frame = tuple(arm), tuple(grip), base_frame
        self.stamp_offset_ns = 0
        self.stream = True
        self.pub_js = self.create_publisher(JointState, "/joint_states", reliable_qos(10))
        self.pub_grip = (self.create_publisher(JointState, gripper_topic, reliable_qos(10))
                         if gripper_topic else None)
        self.pub_img = {}
        for n in cameras:
            topic = image_topic.format(camera=n)
            if n in compressed:
                self.pub_img[n] = self.create_publisher(CompressedImage, f"{topic}/compressed",
                                                        SENSOR_QOS)
            else:
                self.pub_img[n] = self.create_publisher(Image, topic, SENSOR_QOS)
        self.pub_info = {n: self.create_publisher(CameraInfo, info_topic.format(camera=n),
                                                  reliable_qos(1)) for n in cameras}
        self.info = info
        self.pub_tf = self.create_publisher(TFMessage, "/tf_static", STATIC_QOS)
        self.pub_plan = self.create_publisher(JointTrajectoryMsg, "/planned_trajectory",
                                              reliable_qos(5))
        self.compressed = set(compressed)
        self.rosout: list[str] = []
        self.create_subscription(Log, "/rosout", lambda m: self.rosout.append(m.msg),
                                 reliable_qos(100))
        self.received: dict[str, list] = {}
        self.image = np.random.default_rng(0).integers(0, 255, (*size, 3), np.uint8)
        self.image[:, : size[1] // 2] = (40, 120, 200)
        if info:
            self.publish_static()
        self.create_timer(1.0 / rate_hz, self._tick)
        self.joint_rate_hz = joint_rate_hz
        self.joint_states_sent = 0
        self.images_sent = 0
        self._running = True
        self._js_thread = None
        if joint_rate_hz:
            self._js_thread = threading.Thread(target=self._stream_joints, daemon=True)
            self._js_thread.start()

    def _publish_joints(self) -> None:
        stamp = self.now_ns() + self.stamp_offset_ns
        if self.pub_grip is None:
            self.pub_js.publish(convert.joint_state_msg(
                self.arm + self.grip, list(self.q) + [0.02] * len(self.grip), stamp))
        else:
            self.pub_js.publish(convert.joint_state_msg(self.arm, list(self.q), stamp))
            self.pub_grip.publish(convert.joint_state_msg(self.grip, [0.02] * len(self.grip),
                                                          stamp))
        self.joint_states_sent += 1

    def _stream_joints(self) -> None:
        assert self.joint_rate_hz
        period = 1.0 / self.joint_rate_hz
        t_next = time.monotonic()
        while self._running and rclpy.ok(context=self.context):
            if self.stream:
                self._publish_joints()
            t_next += period
            delay = t_next - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -0.1:  # fell behind: do not burst to catch up
                t_next = time.monotonic()

    def destroy_node(self):
        self._running = False
        if self._js_thread is not None:
            self._js_thread.join(timeout=2)
        super().destroy_node()

    def now_ns(self) -> int:
        return self.get_clock().now().nanoseconds

    def publish_static(self):
        tfs = [convert.transform_msg(c.T_base_cam, self.base_frame, c.frame_id)
               for c in self.cams.values()]
        self.pub_tf.publish(TFMessage(transforms=tfs))
        for n, c in self.cams.items():
            self.pub_info[n].publish(convert.camera_info_msg(c))

    def _tick(self):
        if not self.stream:
            return
        stamp = self.now_ns() + self.stamp_offset_ns
        if not self.joint_rate_hz:
            self._publish_joints()
        for n, pub in self.pub_img.items():
            if self.info:
                self.pub_info[n].publish(convert.camera_info_msg(self.cams[n], stamp))
            if n in self.compressed:
                _ok, buf = cv2.imencode(".png", self.image[..., ::-1])
                msg = CompressedImage(format="png", data=buf.tobytes())
                msg.header.stamp = convert.stamp_msg(stamp)
                msg.header.frame_id = self.cams[n].frame_id
            else:
                msg = convert.image_msg(self.image, stamp, self.cams[n].frame_id)
            pub.publish(msg)
            self.images_sent += 1

    def collect(self, msg_type, topic, qos=None):
        self.received[topic] = []
        return self.create_subscription(msg_type, topic, self.received[topic].append,
                                        qos or reliable_qos(10))

    def plan(self, duration_s=1.0, points=6, delta=0.3, stamp_ns=0) -> JointTrajectoryMsg:
        t = np.linspace(0.0, duration_s, points)
        q = self.q + np.outer(t / duration_s, np.full(7, delta))
        traj = JointTrajectory(self.arm, q, (t * 1e9).astype(np.int64))
        return convert.trajectory_msg(traj, stamp_ns)

    def logged(self, text: str) -> bool:
        return any(text in m for m in list(self.rosout))




def main(argv=None) -> None:
    """Run a streaming stand-in robot as its own process (benchmarks, soak)."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m vap_ros.ros.probe", description=main.__doc__)
    p.add_argument("--cameras", default="front")
    p.add_argument("--size", default="480x640", help="HxW")
    p.add_argument("--rate", type=float, default=30.0, help="images per second per camera")
    p.add_argument("--joint-rate", type=float, default=0.0, help="joint states per second")
    p.add_argument("--duration", type=float, default=0.0, help="seconds (0 = until killed)")
    a = p.parse_args(argv)
    h, w = (int(x) for x in a.size.lower().split("x"))
    runner = NodeRunner(num_threads=2)
    node = runner.add(Probe(runner.context, tuple(a.cameras.split(",")), a.rate,
                            name="probe_stream", size=(h, w), joint_rate_hz=a.joint_rate or None))
    t_start = time.monotonic()
    try:
        runner.spin(duration_s=a.duration)
    finally:
        elapsed = time.monotonic() - t_start
        js, im = node.joint_states_sent, node.images_sent
        print(f"probe: sent {js} joint states ({js / elapsed:.0f}/s) and {im} images "
              f"({im / elapsed:.1f}/s) in {elapsed:.0f} s", flush=True)
        runner.close()


if __name__ == "__main__":
    main()
