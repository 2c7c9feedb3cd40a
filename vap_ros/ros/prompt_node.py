"""Prompt node: the live visual action prompt of the robot's current pose.

Subscribes ``/joint_states``, each camera's CameraInfo and ``/tf_static`` (or reads a
calibration file with extrinsics) and publishes, at ``rate_hz`` whenever a new joint state came:

- ``<output_namespace>/<camera>/image``: the prompt of type ``prompt_type`` (skeleton, depth,
  silhouette, skeleton+depth; sensor_msgs/Image rgb8, stamped with the joint state, in the
  camera's optical frame), rendered by the same ``PromptRenderer`` that renders training clips
  and lookahead prompts;
- ``<output_namespace>/skeleton``: the 3D skeleton as a visualization_msgs/MarkerArray;
- ``/diagnostics``.

A camera without CameraInfo or extrinsics yet waits for them quietly for ``startup_wait_s``
(its newest joint state is rendered as soon as they arrive); after that it is skipped with one log
line naming what is missing. The other cameras render meanwhile.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image, JointState
from visualization_msgs.msg import MarkerArray

from vap_ros.camera import load_calibration
from vap_ros.config import require
from vap_ros.errors import VapError
from vap_ros.prompts import PROMPT_TYPES, PromptRenderer
from vap_ros.robot import JointStateMapper
from vap_ros.robot.loader import load_robot
from vap_ros.ros.convert import image_msg
from vap_ros.ros.diagnostics import diagnostic_array, level_for
from vap_ros.ros.inputs import CameraInputs, JointStateInput, TimeJump, guarded, topics_for
from vap_ros.ros.markers import skeleton_markers
from vap_ros.ros.node_utils import (
    SENSOR_QOS,
    SENSOR_QOS_DEEP,
    ErrorLog,
    RateMeter,
    reliable_qos,
)
from vap_ros.ros.params import NodeParams, declare, on_set, param
from vap_ros.ros.runtime import run_node
from vap_ros.ros.tf_cache import StaticTfListener

__all__ = ["PromptNode", "PromptParams", "main"]


@dataclass(frozen=True)
class PromptParams(NodeParams):
    robot: str = param("panda", "robot preset (URDF + skeleton): panda, fr3, or a preset YAML")
    robot_description: str = param(
        "", "URDF text of the robot (as on /robot_description); empty = the robot preset")
    robot_description_topic: str = param(
        "", "read the URDF from this topic (std_msgs/String, transient local, e.g. "
            "/robot_description) when robot_description is empty; empty = off")
    joint_name_map: str = param(
        "", "rename incoming joints: 'fr3_*:=panda_*, left_*:=*' or 'a:=b' pairs; empty = none")
    cameras: tuple[str, ...] = param(("front",), "camera names; CameraInfo topics follow "
                                                 "camera_info_topic")
    camera_info_topic: str = param("/{camera}/camera_info", "CameraInfo topic pattern")
    calibration_file: str = param("", "calibration YAML with extrinsics; empty = camera poses "
                                      "from /tf_static")
    base_frame: str = param("panda_link0", "robot base frame the extrinsics are relative to")
    joint_states_topic: str = param("/joint_states", "sensor_msgs/JointState of the robot")
    gripper_joint_states_topic: str = param(
        "", "a separate gripper driver's JointState (e.g. /franka_gripper/joint_states); "
            "empty = the fingers come with joint_states_topic")
    output_namespace: str = param("/prompt", "prompt images on <ns>/<camera>/image, markers on "
                                             "<ns>/skeleton")
    rate_hz: float = param(15.0, "most prompt renders per second (only when a new joint state "
                                 "arrived)")
    image_height: int = param(0, "prompt image height (0 = the camera's)")
    image_width: int = param(0, "prompt image width (0 = the camera's)")
    markers: bool = param(True, "publish the 3D skeleton MarkerArray")
    time_jump_threshold_s: float = param(1.0, "stamps going back more than this clear the "
                                              "caches (bag loop)")
    startup_wait_s: float = param(5.0, "a camera without CameraInfo/extrinsics waits this long "
                                       "for them before it is reported missing", runtime=True)
    diagnostics_period_s: float = param(1.0, "period of /diagnostics messages (0 = off)")
    extra_joints: Literal["error", "ignore"] = param(
        "error", "joint names the robot does not know: error or ignore")
    prompt_type: str = param(
        "skeleton", "prompt to publish: skeleton, depth, silhouette or skeleton+depth")

    def check(self) -> None:
        require(bool(self.cameras) and all(self.cameras), "cameras", list(self.cameras),
                "a list of camera names")
        require(self.rate_hz > 0, "rate_hz", self.rate_hz, "a number > 0")
        require(self.prompt_type in PROMPT_TYPES, "prompt_type", self.prompt_type,
                "one of " + ", ".join(map(repr, PROMPT_TYPES)))
        require((self.image_height > 0) == (self.image_width > 0), "image_height",
                self.image_height, "image_height and image_width both > 0, or both 0")
        for key in ("startup_wait_s", "time_jump_threshold_s", "diagnostics_period_s"):
            require(getattr(self, key) >= 0, key, getattr(self, key), "a number >= 0")


class PromptNode(Node):
    def __init__(self, node_name: str = "prompt_node", **node_kwargs) -> None:
        super().__init__(node_name, **node_kwargs)
        p = self.params = declare(self, PromptParams)
        on_set(self, lambda: self.params, lambda new: setattr(self, "params", new))
        self.errors = ErrorLog(self.get_logger())
        self._set_robot(load_robot(p.robot, robot_description=p.robot_description))
        self.camera_names = tuple(p.cameras)
        calibration = (load_calibration(p.calibration_file, base_frame=p.base_frame)
                       if p.calibration_file else {})
        group = MutuallyExclusiveCallbackGroup()
        self.tf = None if calibration else StaticTfListener(self, callback_group=group).tree
        topics = topics_for(self.camera_names, "/{camera}/image_raw", p.camera_info_topic)
        self.inputs = CameraInputs(self.camera_names, topics, p.base_frame, self.tf,
                                   calibration)
        self.joints = JointStateInput(self.mapper, p.joint_states_topic,
                                      p.time_jump_threshold_s)
        for name in self.camera_names:
            self.create_subscription(CameraInfo, topics[name][1],
                                     lambda m, n=name: guarded(
                                         self.errors, topics[n][1], self.inputs.update_info, n,
                                         m), SENSOR_QOS, callback_group=group)
        for topic in filter(None, (p.joint_states_topic, p.gripper_joint_states_topic)):
            self.create_subscription(JointState, topic, self._on_joint_state, SENSOR_QOS_DEEP,
                                     callback_group=group)
        if p.robot_description_topic and not p.robot_description:
            from std_msgs.msg import String

            self.create_subscription(String, p.robot_description_topic,
                                     self._on_robot_description, reliable_qos(1, latched=True),
                                     callback_group=group)
        ns = p.output_namespace.rstrip("/")
        self._image_pubs = {n: self.create_publisher(Image, f"{ns}/{n}/image", 2)
                            for n in self.camera_names}
        self._marker_pub = self.create_publisher(MarkerArray, f"{ns}/skeleton", 2)
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._last_rendered: dict[str, int] = {}  # camera -> joint-state stamp rendered
        self._missing_since: dict[str, float] = {}  # camera -> monotonic time first missing
        self.rendered = RateMeter()
        self.joint_rate = RateMeter()
        self.time_jumps = 0
        self.create_timer(1.0 / p.rate_hz,
                          lambda: guarded(self.errors, "prompt", self._render))
        if p.diagnostics_period_s > 0:
            self.create_timer(p.diagnostics_period_s, self._publish_diagnostics)
        self.get_logger().info(f"prompt node ready: cameras {list(self.camera_names)}, "
                               f"{p.rate_hz:g} Hz, outputs under {ns}/")

    def _set_robot(self, setup) -> None:
        self.robot, self.spec = setup.robot, setup.skeleton
        self.renderer = PromptRenderer(setup.robot, setup.skeleton, self.params.prompt_type)
        self.mapper = JointStateMapper.for_robot(setup.robot, extra=self.params.extra_joints,
                                                 name_map=self.params.joint_name_map)
        if hasattr(self, "joints"):
            self.joints.mapper = self.mapper

    def _on_robot_description(self, msg) -> None:
        """The robot's own URDF: rebuild the kinematics, skeleton and joint mapping from it."""
        setup = guarded(self.errors, self.params.robot_description_topic, load_robot,
                        self.params.robot, prefix="robot_description ignored: ",
                        kwargs={"robot_description": msg.data})
        if setup is not None:
            self._set_robot(setup)
            self._last_rendered.clear()

    def _on_joint_state(self, msg: JointState) -> None:
        self.joint_rate.tick()
        guarded(self.errors, self.params.joint_states_topic, self.joints.update, msg,
                on_time_jump=self._on_time_jump)

    def _on_time_jump(self, jump: TimeJump) -> None:
        self.joints.clear()
        self._last_rendered.clear()
        self.time_jumps += 1
        self.errors.warn(jump.source, str(jump), kind="time_jump")

    def _render(self) -> None:
        js = self.joints.latest
        if js is None or not js.arm_q.size:
            return
        todo = [n for n in self.camera_names if self._last_rendered.get(n) != js.stamp_ns]
        if not todo:
            return
        try:
            kps = self.renderer.keypoints(js.arm_q[None], js.gripper_width_m)
        except VapError as err:
            self.errors.error("prompt", str(err))
            self._last_rendered.update(dict.fromkeys(todo, js.stamp_ns))
            return
        if self.params.markers and len(todo) == len(self.camera_names):  # a new pose
            self._marker_pub.publish(skeleton_markers(kps[0], self.spec,
                                                      self.params.base_frame, js.stamp_ns))
        size = None
        if self.params.image_height > 0:
            size = (self.params.image_height, self.params.image_width)
        rendered = False
        for name in todo:
            missing = self.inputs.missing([name], images=False)
            if missing:  # hold the newest pose until the calibration is there ...
                since = self._missing_since.setdefault(name, time.monotonic())
                if time.monotonic() - since >= self.params.startup_wait_s:
                    # ... then say once per throttle period what is missing
                    self.errors.error(f"prompt for camera {name!r}", "skipped: still missing "
                                      f"after {self.params.startup_wait_s:g} s "
                                      "(startup_wait_s): " + "; ".join(missing))
                continue
            self._missing_since.pop(name, None)
            try:
                cam = self.inputs.camera(name)
                video = self.renderer.render(js.arm_q[None], [cam], js.gripper_width_m, size)
            except VapError as err:
                self.errors.error(f"prompt for camera {name!r}", f"skipped: {err}")
            else:
                self._image_pubs[name].publish(image_msg(video[0, 0], js.stamp_ns,
                                                         cam.frame_id))
                rendered = True
            self._last_rendered[name] = js.stamp_ns
        if rendered:
            self.rendered.tick()

    def _publish_diagnostics(self) -> None:
        level, message = level_for(self.errors, ok_message=f"{self.rendered.total} prompts")
        values = {"prompt_rate_hz": self.rendered.rate(),
                  "joint_state_rate_hz": self.joint_rate.rate(),
                  "prompts": self.rendered.total, "time_jumps": self.time_jumps,
                  "input_errors": self.errors.counts["input"],
                  "last_error": self.errors.last_error}
        self._diag_pub.publish(diagnostic_array(f"{self.get_name()}: prompts",
                                                self.get_clock().now().nanoseconds, level,
                                                message, values))


def main(args=None) -> None:
    run_node(PromptNode, args)


if __name__ == "__main__":
    main()
