"""The lookahead node's parameters (``ros2 param describe`` shows each help text).

Plain data, validated like every config of the package (``vap_ros.ros.params``); the node
declares them in ``LookaheadNode.__init__``. config/lookahead_node.yaml lists every one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from vap_ros.config import require
from vap_ros.ros.params import NodeParams, param

__all__ = ["LookaheadParams"]


@dataclass(frozen=True)
class LookaheadParams(NodeParams):
    robot: str = param("panda", "robot preset (URDF + skeleton): panda, fr3, or a preset YAML")
    robot_description: str = param(
        "", "URDF text of the robot (as on /robot_description); empty = the robot preset")
    robot_description_topic: str = param(
        "", "read the URDF from this topic (std_msgs/String, transient local, e.g. "
            "/robot_description) when robot_description is empty; empty = off")
    joint_name_map: str = param(
        "", "rename incoming joints: 'fr3_*:=panda_*, left_*:=*' or 'a:=b' pairs; empty = none")
    cameras: tuple[str, ...] = param(
        ("front",), "camera names; topics follow image_topic / camera_info_topic")
    image_topic: str = param("/{camera}/image_raw",
                             "image topic pattern, {camera} is replaced by the camera name")
    camera_info_topic: str = param("/{camera}/camera_info", "CameraInfo topic pattern")
    image_transport: Literal["raw", "compressed"] = param(
        "raw", "raw (sensor_msgs/Image) or compressed (CompressedImage on <topic>/compressed)")
    calibration_file: str = param(
        "", "calibration YAML with extrinsics; empty = camera poses from /tf_static")
    base_frame: str = param("panda_link0", "robot base frame the extrinsics are relative to")
    joint_states_topic: str = param("/joint_states", "sensor_msgs/JointState of the robot")
    gripper_joint_states_topic: str = param(
        "", "a separate gripper driver's JointState (e.g. /franka_gripper/joint_states); "
            "empty = the fingers come with joint_states_topic")
    plan_topic: str = param("/planned_trajectory",
                            "trajectory_msgs/JointTrajectory plans to predict")
    display_trajectory_topic: str = param(
        "", "MoveIt's moveit_msgs/DisplayTrajectory plans (e.g. /display_planned_path), used "
            "when moveit_msgs is installed; empty = off")
    output_namespace: str = param(
        "/lookahead", "rollout/predicted/prompt topics live under <ns>/<camera>/")
    model: str = param("", "world-model checkpoint directory; empty = the shipped model "
                           "(share/vap_ros/models/vap_small_sim); a preset name is a random-init "
                           "model (tests and benchmarks only; logs a warning)")
    model_seed: int = param(0, "initialisation seed of a preset without weights")
    model_base: str = param(
        "", "local diffusers directory for presets/checkpoints built on a pretrained base")
    model_process: bool = param(
        True, "run the model in a process of its own (no GIL sharing with callbacks)")
    model_threads: int = param(0, "torch CPU threads for the model (0 = every core)")
    device: str = param("cpu", "torch device: cpu, cuda, cuda:0")
    dtype: Literal["float32", "bfloat16", "float16"] = param(
        "float32", "model weights and activations: float32, bfloat16 or float16")
    steps: int = param(0, "denoising steps (0 = the model's default)", runtime=True)
    seed: int = param(0, "sampler seed for topic-triggered rollouts", runtime=True)
    horizon_rate_hz: float = param(
        0.0, "also predict at this rate (continue the plan / hold still); 0 = off",
        runtime=True)
    max_rollout_s: float = param(
        0.0, "> 0: predict a plan longer than one clip to its end (at most this many seconds "
             "from the conditioning image) as autoregressive chunks, published as one rollout "
             "per camera; 0 = one clip (live lookahead; whole plans are for evaluation)",
        runtime=True)
    max_input_age_s: float = param(
        1.0, "refuse images / joint states older than this (0 = no limit)", runtime=True)
    startup_wait_s: float = param(
        5.0, "a request that arrives before its inputs (calibration, first image, joint "
             "state) waits this long for them, then is refused", runtime=True)
    time_jump_threshold_s: float = param(
        1.0, "stamps going back more than this clear the caches (bag loop)")
    replay: bool = param(True, "replay the newest predicted and prompt frames at the model's "
                               "fps")
    diagnostics_period_s: float = param(1.0, "period of /diagnostics messages (0 = off)")
    extra_joints: Literal["error", "ignore"] = param(
        "error", "joint names the robot does not know: error or ignore")
    freeze_inputs: bool = param(
        False, "keep the cached images and joint state (ignore new ones, no age check): "
               "compare plans from the very same moment", runtime=True)

    def check(self) -> None:
        require(bool(self.cameras) and all(self.cameras), "cameras", list(self.cameras),
                "a list of camera names")
        for key in ("steps", "seed", "model_threads"):
            require(getattr(self, key) >= 0, key, getattr(self, key), "an integer >= 0")
        for key in ("horizon_rate_hz", "max_rollout_s", "max_input_age_s", "startup_wait_s",
                    "time_jump_threshold_s", "diagnostics_period_s"):
            require(getattr(self, key) >= 0, key, getattr(self, key), "a number >= 0")
