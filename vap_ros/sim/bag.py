"""Write what a real Franka rig records into a rosbag2 MCAP file, with the ``rosbags`` library
(pure Python, no ROS install): messages are built and serialised with rosbags' typestore.

Topics:

===========================  ===============================  ===============================
topic                        type                             content
===========================  ===============================  ===============================
``/joint_states``            sensor_msgs/msg/JointState       arm + finger joints (rad, m)
``/<cam>/image_raw``         sensor_msgs/msg/Image            rgb8
``/<cam>/camera_info``       sensor_msgs/msg/CameraInfo       intrinsics, plumb_bob, d = 0
``/tf_static``               tf2_msgs/msg/TFMessage           ``<cam>_optical_frame`` poses
``/planned_trajectory``      trajectory_msgs/msg/JointTrajectory  the commanded plan
===========================  ===============================  ===============================

The gripper in a plan: the finger joints are listed with the arm joints, each at
``width / number_of_fingers`` metres (Panda: ``panda_finger_joint1`` = ``panda_finger_joint2`` =
``width / 2``), exactly as /joint_states reports them; a plan without gripper commands lists
the arm joints only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from vap_ros.camera import Camera
from vap_ros.data.bag_writer import BagWriter, plan_joint_positions, typestore
from vap_ros.errors import ConfigError
from vap_ros.robot import JointTrajectory

__all__ = [
    "TOPIC_JOINT_STATES",
    "TOPIC_PLAN",
    "TOPIC_TF_STATIC",
    "EpisodeBagWriter",
    "image_topic",
    "info_topic",
    "plan_joint_positions",
    "typestore",
]

TOPIC_JOINT_STATES = "/joint_states"
TOPIC_TF_STATIC = "/tf_static"
TOPIC_PLAN = "/planned_trajectory"


def image_topic(camera: str) -> str:
    return f"/{camera}/image_raw"


def info_topic(camera: str) -> str:
    return f"/{camera}/camera_info"


class EpisodeBagWriter(BagWriter):
    """One simulated episode's rosbag2 MCAP (a context manager; ``BagWriter`` underneath).

    Args:
        path: the bag directory to create (must not exist).
        cameras: camera names (one image and one camera_info topic each).
        metadata: JSON-able episode description, stored in the bag's ``custom_data``
            under ``vap_ros.episode``.
    """

    def __init__(self, path: str | Path, cameras: Sequence[str], metadata: dict | None = None):
        super().__init__(path, custom_data=(None if metadata is None
                                            else {"vap_ros.episode": metadata}))
        self.add_topic(TOPIC_JOINT_STATES, "sensor_msgs/msg/JointState")
        self.add_topic(TOPIC_TF_STATIC, "tf2_msgs/msg/TFMessage")
        self.add_topic(TOPIC_PLAN, "trajectory_msgs/msg/JointTrajectory")
        for c in cameras:
            self.add_topic(image_topic(c), "sensor_msgs/msg/Image")
        for c in cameras:
            self.add_topic(info_topic(c), "sensor_msgs/msg/CameraInfo")

    def write_joint_state(self, stamp_ns: int, names: Sequence[str], position, velocity,
                          effort) -> None:
        self.write(TOPIC_JOINT_STATES, stamp_ns,
                   self.joint_state(stamp_ns, names, position, velocity, effort))

    def write_image(self, stamp_ns: int, camera: Camera, rgb: np.ndarray) -> None:
        """An rgb8 image and the camera_info with the same stamp."""
        if rgb.dtype != np.uint8 or rgb.shape != (camera.height, camera.width, 3):
            raise ConfigError(f"image for {camera.name!r} must be uint8 "
                              f"({camera.height}, {camera.width}, 3), got {rgb.dtype} "
                              f"{rgb.shape}")
        self.write(image_topic(camera.name), stamp_ns,
                   self.image(stamp_ns, camera.frame_id, rgb))
        self.write(info_topic(camera.name), stamp_ns, self.camera_info(stamp_ns, camera))

    def write_tf_static(self, stamp_ns: int, transforms) -> None:
        """``transforms``: (parent_frame, child_frame, T_parent_child (4, 4)) triples."""
        self.write(TOPIC_TF_STATIC, stamp_ns, self.tf_message(stamp_ns, transforms))

    def write_plan(self, stamp_ns: int, plan: JointTrajectory,
                   finger_joints: Sequence[str]) -> None:
        """The commanded plan; ``plan.stamps_ns`` count from ``stamp_ns`` (the header)."""
        self.write(TOPIC_PLAN, stamp_ns, self.joint_trajectory(stamp_ns, plan, finger_joints))
