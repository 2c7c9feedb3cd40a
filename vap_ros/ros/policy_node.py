"""Policy node: the joint video + action-image model as a planner that *publishes* its plan.

Subscribes each camera's images and CameraInfo, ``/tf_static`` (or reads a calibration file),
``/joint_states`` (like the lookahead node) and, per camera, a **goal image** on
``<goal_namespace>/<camera>/goal`` (sensor_msgs/Image, reliable + transient local: publish it
once, latched) — the model's task input (docs/policy.md). At ``rate_hz`` (0 = off), and on
every std_msgs/Empty on ``<goal_namespace>/plan_now``, it runs ``ActionImagePolicy`` for one
chunk from the newest image per camera (resized to the model's size, intrinsics scaled), the
newest joint state and the goal images, and publishes the decoded joint plan as
trajectory_msgs/JointTrajectory on ``plan_topic``: its first point is the current joint state
at ``time_from_start`` 0, then one point per decoded frame (finger joints included with
``include_gripper``).

``plan_topic`` defaults to ``/vap_ros/policy/planned_trajectory``: a topic no controller
listens to. Pointing it at a controller (e.g. ``/fr3_arm_controller/joint_trajectory``, or the
simulated rig's ``/planned_trajectory``) makes the robot move: that is the user's explicit
choice, and the node logs a warning at start-up when the topic looks like a controller's.

Bad input (no goal image yet, a camera without image or calibration, a goal image of another
size, a model that does not generate action images) is one clear log line (throttled) and the
node keeps running; ``/diagnostics`` reports plans published and the last error.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Empty
from trajectory_msgs.msg import JointTrajectory as JointTrajectoryMsg

from vap_ros.config import require
from vap_ros.data.clips import resize_frame
from vap_ros.data.messages import image_from_msg
from vap_ros.errors import ConfigError, ImageError, MissingInputError, VapError
from vap_ros.robot import JointStateMapper, JointTrajectory
from vap_ros.robot.loader import load_robot
from vap_ros.ros.convert import trajectory_msg
from vap_ros.ros.diagnostics import diagnostic_array, level_for
from vap_ros.ros.inputs import (
    CameraInputs,
    JointStateInput,
    calibration_for,
    guarded,
    topics_for,
)
from vap_ros.ros.node_utils import SENSOR_QOS, SENSOR_QOS_DEEP, ErrorLog, RateMeter, reliable_qos
from vap_ros.ros.params import NodeParams, declare, param
from vap_ros.ros.runtime import run_node
from vap_ros.ros.tf_cache import StaticTfListener

__all__ = ["DEFAULT_PLAN_TOPIC", "PolicyNode", "PolicyParams", "looks_like_controller", "main"]

DEFAULT_PLAN_TOPIC = "/vap_ros/policy/planned_trajectory"


def looks_like_controller(topic: str) -> bool:
    """Whether ``topic`` is where a trajectory controller or the sim rig takes commands."""
    t = topic.rstrip("/")
    return (t.endswith("/joint_trajectory") or "controller" in t
            or t == "/planned_trajectory")


@dataclass(frozen=True)
class PolicyParams(NodeParams):
    robot: str = param("panda", "robot preset (URDF, FK/IK): panda, fr3, or a preset YAML")
    joint_name_map: str = param(
        "", "rename incoming joints: 'fr3_*:=panda_*, left_*:=*' or 'a:=b' pairs; empty = none")
    cameras: tuple[str, ...] = param(
        ("front", "left", "right"), "camera names (>= 2: the action images are triangulated)")
    image_topic: str = param("/{camera}/image_raw",
                             "image topic pattern, {camera} is replaced by the camera name")
    camera_info_topic: str = param("/{camera}/camera_info", "CameraInfo topic pattern")
    calibration_file: str = param(
        "", "calibration YAML with extrinsics; empty = camera poses from /tf_static")
    base_frame: str = param("panda_link0", "robot base frame the extrinsics are relative to")
    joint_states_topic: str = param("/joint_states", "sensor_msgs/JointState of the robot")
    gripper_joint_states_topic: str = param(
        "", "a separate gripper driver's JointState; empty = the fingers come with "
            "joint_states_topic")
    goal_namespace: str = param(
        "/vap_ros/policy", "goal images on <ns>/<camera>/goal (latched), plan requests "
                           "(std_msgs/Empty) on <ns>/plan_now")
    plan_topic: str = param(
        DEFAULT_PLAN_TOPIC, "where the decoded plan is published (trajectory_msgs/"
        "JointTrajectory). NOT a controller by default: pointing it at one (e.g. "
        "/fr3_arm_controller/joint_trajectory) makes the robot move")
    include_gripper: bool = param(
        True, "add the finger joints (each width/2) to the published plan; false for an "
              "arm-only controller")
    rate_hz: float = param(0.5, "plans per second (0 = only on <goal_namespace>/plan_now)")
    model: str = param("", "joint-model checkpoint directory (generate_actions: "
                           "action_images or joint_states); empty = the shipped model, "
                           "which is not one")
    model_seed: int = param(0, "initialisation seed of a preset without weights")
    device: str = param("cpu", "torch device: cpu, cuda, cuda:0")
    dtype: str = param("float32", "model weights and activations: float32, bfloat16, float16")
    steps: int = param(0, "sampler steps (0 = the model's default)")
    seed: int = param(0, "sampler seed (plan k uses seed + k)")
    planner: str = param(
        "generate", "generate: the next frames' actions generated with the video; goal: move "
                    "the tool towards the position the model labels in the goal images "
                    "(docs/policy.md)")
    guidance_scale: float = param(
        1.0, "generate planner: classifier-free guidance towards the goal images (1 = none)")
    time_jump_threshold_s: float = param(1.0, "stamps going back more than this clear the "
                                              "caches (bag loop)")
    diagnostics_period_s: float = param(1.0, "period of /diagnostics messages (0 = off)")

    def check(self) -> None:
        require(len(self.cameras) >= 2 and all(self.cameras)
                and len(set(self.cameras)) == len(self.cameras), "cameras",
                list(self.cameras), "a list of >= 2 distinct camera names")
        require(self.rate_hz >= 0, "rate_hz", self.rate_hz, "a number >= 0")
        require(bool(self.plan_topic), "plan_topic", self.plan_topic, "a topic name")
        require(self.steps >= 0, "steps", self.steps, "an integer >= 0")
        require(self.planner in ("generate", "goal"), "planner", self.planner,
                "'generate' or 'goal'")
        require(self.guidance_scale >= 1.0, "guidance_scale", self.guidance_scale,
                "a number >= 1 (1 = no guidance)")
        for key in ("time_jump_threshold_s", "diagnostics_period_s"):
            require(getattr(self, key) >= 0, key, getattr(self, key), "a number >= 0")


def _default_policy_factory(p: PolicyParams, robot) -> tuple[Any, str]:
    """Load the model in this process and wrap it (ConfigError: not a joint model)."""
    from vap_ros.policy import ActionImagePolicy
    from vap_ros.serve import load_world_model

    model, model_id = load_world_model(p.model, device=p.device, seed=p.model_seed,
                                       dtype=p.dtype)
    return ActionImagePolicy(model, robot, steps=p.steps or None, seed=p.seed,
                             planner=p.planner, guidance_scale=p.guidance_scale), model_id


def velocity_limits(robot) -> np.ndarray:
    """The arm joints' velocity limits (rad/s) from the URDF (as the sim rig reads them)."""
    m = robot.model
    return np.array([m.velocityLimit[m.joints[m.getJointId(n)].idx_v]
                     for n in robot.arm_joint_names], np.float64)


class PolicyNode(Node):
    """See the module docstring. ``policy_factory(params, robot) -> (policy, model_id)``
    replaces the model loader (tests); other keyword arguments go to ``rclpy.node.Node``."""

    def __init__(self, node_name: str = "policy_node", *,
                 policy_factory: Callable[[PolicyParams, Any], tuple[Any, str]] | None = None,
                 **node_kwargs) -> None:
        super().__init__(node_name, **node_kwargs)
        p = self.params = declare(self, PolicyParams)
        self.errors = ErrorLog(self.get_logger())
        setup = load_robot(p.robot)
        self.robot = setup.robot
        self.vlim = velocity_limits(self.robot)
        self.camera_names = tuple(p.cameras)
        topics = topics_for(self.camera_names, p.image_topic, p.camera_info_topic)
        calibration = calibration_for(p.calibration_file, self.camera_names, p.base_frame)
        self.mapper = JointStateMapper.for_robot(self.robot, name_map=p.joint_name_map)
        self.joints = JointStateInput(self.mapper, p.joint_states_topic, p.time_jump_threshold_s)
        # the model: a model that is not a joint model is one error line, the node keeps
        # running (and says so on every plan request and in /diagnostics)
        self.policy: Any = None
        self.model_id = p.model or "(shipped model)"
        self.model_error = ""
        try:
            self.policy, self.model_id = (policy_factory or _default_policy_factory)(p,
                                                                                   self.robot)
        except VapError as err:
            self.model_error = f"model {self.model_id!r} cannot plan: {err}"
            self.errors.error("policy", self.model_error, kind="model")

        inputs_group = MutuallyExclusiveCallbackGroup()
        plan_group = MutuallyExclusiveCallbackGroup()
        self.tf = None if calibration else StaticTfListener(
            self, callback_group=inputs_group).tree
        self.inputs = CameraInputs(self.camera_names, topics, p.base_frame, self.tf,
                                   calibration, time_jump_threshold_s=p.time_jump_threshold_s)
        for name in self.camera_names:
            img_topic, info_topic = topics[name]
            self.create_subscription(
                Image, img_topic, lambda m, n=name: guarded(
                    self.errors, topics[n][0], self.inputs.update_image, n, m),
                SENSOR_QOS, callback_group=inputs_group)
            self.create_subscription(
                CameraInfo, info_topic, lambda m, n=name: guarded(
                    self.errors, topics[n][1], self.inputs.update_info, n, m),
                SENSOR_QOS, callback_group=inputs_group)
        for topic in filter(None, (p.joint_states_topic, p.gripper_joint_states_topic)):
            self.create_subscription(JointState, topic, self._on_joint_state, SENSOR_QOS_DEEP,
                                     callback_group=inputs_group)
        ns = p.goal_namespace.rstrip("/")
        self.goal_topics = {n: f"{ns}/{n}/goal" for n in self.camera_names}
        self._goals: dict[str, Image] = {}
        self._goal_lock = threading.Lock()
        for name, topic in self.goal_topics.items():
            self.create_subscription(Image, topic, lambda m, n=name: self._on_goal(n, m),
                                     reliable_qos(1, latched=True),
                                     callback_group=inputs_group)
        self.create_subscription(Empty, f"{ns}/plan_now", lambda _m: self._plan_guarded(),
                                 reliable_qos(5), callback_group=plan_group)
        self._plan_pub = self.create_publisher(JointTrajectoryMsg, p.plan_topic,
                                               reliable_qos(5))
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.plans = RateMeter()
        self.last_plan: JointTrajectoryMsg | None = None
        self.last_poses: np.ndarray | None = None  # decoded end-effector poses of the last plan
        self._plan_lock = threading.Lock()
        if p.rate_hz > 0:
            self.create_timer(1.0 / p.rate_hz, self._on_timer, callback_group=plan_group)
        if p.diagnostics_period_s > 0:
            self.create_timer(p.diagnostics_period_s, self._publish_diagnostics,
                              callback_group=inputs_group)
        if looks_like_controller(p.plan_topic):
            self.get_logger().warning(
                f"plan_topic {p.plan_topic!r} looks like a controller's command topic: every "
                "plan this node publishes will MOVE THE ROBOT")
        self.get_logger().info(
            f"policy node ready: model {self.model_id}, cameras {list(self.camera_names)}, "
            f"goals on {ns}/<camera>/goal, plans ({p.rate_hz:g} Hz and on {ns}/plan_now) on "
            f"{p.plan_topic}")

    # ------------------------------------------------------------ inputs
    def _on_joint_state(self, msg: JointState) -> None:
        guarded(self.errors, self.params.joint_states_topic, self.joints.update, msg)

    def _on_goal(self, name: str, msg: Image) -> None:
        with self._goal_lock:
            self._goals[name] = msg

    def goal_images(self, size: tuple[int, int]) -> np.ndarray:
        """(V, H, W, 3) goal images at the model's ``size`` (H, W).

        A goal image must have its camera's size (CameraInfo; resized like the camera images)
        or the model's.

        Raises:
            MissingInputError: a camera has no goal image yet. ImageError: a wrong size.
        """
        with self._goal_lock:
            goals = dict(self._goals)
        missing = [self.goal_topics[n] for n in self.camera_names if n not in goals]
        if missing:
            raise MissingInputError(f"no goal image yet on {', '.join(missing)} (expected one "
                                    "sensor_msgs/Image per camera, latched)")
        out = []
        for name in self.camera_names:
            rgb = image_from_msg(goals[name])
            cam = self.inputs.camera(name)
            ok = {(cam.height, cam.width), tuple(size)}
            if rgb.shape[:2] not in ok:
                raise ImageError(
                    f"goal image on {self.goal_topics[name]} is {rgb.shape[1]}x{rgb.shape[0]}: "
                    f"expected the camera's {cam.width}x{cam.height} or the model's "
                    f"{size[1]}x{size[0]}")
            out.append(resize_frame(rgb, size))
        return np.stack(out)

    # ------------------------------------------------------------ planning
    def _plan_guarded(self) -> None:
        guarded(self.errors, "policy", self.plan_once)

    def _on_timer(self) -> None:
        if self.policy is not None:  # else: said once at start-up, and in /diagnostics
            self._plan_guarded()

    def plan_once(self) -> JointTrajectoryMsg:
        """Plan one chunk from the newest inputs and publish it (returned).

        Raises:
            VapError: no model that can plan, or missing / bad inputs (one clear message).
        """
        if self.policy is None:
            raise ConfigError(self.model_error)
        with self._plan_lock:
            cfg = self.policy.model.config
            size = (int(cfg.height), int(cfg.width))
            missing = self.inputs.missing()
            if missing:
                raise MissingInputError("; ".join(missing))
            js = self.joints.latest
            if js is None or not js.arm_q.size:
                raise MissingInputError(f"no joint state yet on {self.params.joint_states_topic}")
            goal = self.goal_images(size)
            images, cams = [], []
            for name in self.camera_names:
                rgb, _stamp, _frame = self.inputs.image(name)
                images.append(resize_frame(rgb, size))
                cams.append(self.inputs.camera(name).scaled(size[1], size[0]))
            width = js.gripper_width_m if js.gripper_width_m is not None else 0.0
            t0 = time.perf_counter()
            traj, _video, _acts, poses, valid = self.policy.plan(
                np.stack(images), cams, js.arm_q, width, goal, self.vlim,
                chunk=self.plans.total)
            if not valid.any():
                self.errors.warn("policy", "no decoded frame was seen in >= 2 views: the plan "
                                           "holds the current pose", kind="decode")
            grip = (self.robot.gripper.joints
                    if self.params.include_gripper and self.robot.gripper else ())
            widths = (np.concatenate([[width], traj.gripper_width_m])
                      if grip and traj.gripper_width_m is not None else None)
            # the current state at time_from_start 0, then the decoded chunk
            full = JointTrajectory(traj.joint_names, np.vstack([js.arm_q[None], traj.positions]),
                                   np.concatenate([[0], traj.stamps_ns]).astype(np.int64),
                                   widths)
            msg = trajectory_msg(full, self.get_clock().now().nanoseconds,
                                 grip if widths is not None else ())
            self._plan_pub.publish(msg)
            self.last_plan, self.last_poses = msg, poses
            self.plans.tick()
            self.get_logger().debug(f"plan {self.plans.total} published in "
                                    f"{time.perf_counter() - t0:.2f} s")
            return msg

    def _publish_diagnostics(self) -> None:
        level, message = level_for(self.errors, ok_message=f"{self.plans.total} plans")
        if self.model_error:
            level, message = DiagnosticStatus.ERROR, self.model_error[:200]
        values = {"plans": self.plans.total, "plan_rate_hz": self.plans.rate(),
                  "plan_topic": self.params.plan_topic, "model": self.model_id,
                  "input_errors": self.errors.counts["input"],
                  "last_error": self.errors.last_error}
        self._diag_pub.publish(diagnostic_array(f"{self.get_name()}: policy",
                                                self.get_clock().now().nanoseconds, level,
                                                message, values))


def main(args=None) -> None:
    run_node(PolicyNode, args)


if __name__ == "__main__":
    main()
